"""The outbox: every notification is a row before it is sent, marked sent only after Telegram
confirms. The primary key is an idempotency key, so the same alert to the same chat is never
queued twice; a restart resumes with whatever is still pending (conventions §6)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from rules.chat_settings import ChatSettings
from storage.clock import iso, parse_iso

PENDING, SENT, FAILED, HELD = "pending", "sent", "failed", "held"
PRIORITY_PRIVATE, PRIORITY_GROUP, PRIORITY_CHANNEL = 0, 5, 10


def priority_for(chat_type: str | None) -> int:
    """Private alerts go before group posts, group posts before channel posts."""
    if chat_type == "channel":
        return PRIORITY_CHANNEL
    if chat_type in ("group", "supergroup"):
        return PRIORITY_GROUP
    return PRIORITY_PRIVATE


def outbox_key(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def enqueue(
    db: Database,
    *,
    key: str,
    chat_id: int,
    rule_id: int | None,
    reason: str,
    text: str,
    now: datetime,
    priority: int = PRIORITY_PRIVATE,
    status: str = PENDING,
) -> bool:
    """Queue a message; False if a row with this key already exists (never queued twice)."""
    cur = db.execute(
        "INSERT OR IGNORE INTO outbox (key, chat_id, rule_id, reason, text, priority, status, attempts, "
        "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        [key, chat_id, rule_id, reason, text, priority, status, iso(now), iso(now)],
    )
    return cur.rowcount == 1


def due(db: Database, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Pending rows whose time has come, private chats first, oldest first. A row waits while an
    older pending row of its chat is still backing off, so a chat's messages keep their order
    ("firing" never arrives after its "resolved", even after an outage)."""
    return list(
        db.query(
            "SELECT * FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= :now "
            "AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.chat_id = o.chat_id AND e.status = 'pending' "
            "AND e.next_attempt_at > :now AND (e.created_at, e.key) < (o.created_at, o.key)) "
            "ORDER BY o.priority, o.created_at, o.key LIMIT :limit",
            {"now": iso(now), "limit": limit},
        )
    )


def mark_sent(db: Database, key: str, message_id: int | None, now: datetime) -> None:
    db.execute(
        "UPDATE outbox SET status = 'sent', telegram_message_id = ?, sent_at = ?, attempts = attempts + 1 "
        "WHERE key = ?",
        [message_id, iso(now), key],
    )


def mark_retry(db: Database, key: str, next_attempt_at: datetime, error: str) -> None:
    db.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE key = ?",
        [iso(next_attempt_at), error, key],
    )


def mark_failed(db: Database, key: str, error: str) -> None:
    db.execute(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE key = ?",
        [error, key],
    )


def release_held(db: Database, chat_id: int, now: datetime) -> list[dict[str, Any]]:
    """Take a chat's held rows (quiet hours over): return them and mark them sent-as-summary."""
    rows = list(
        db.query("SELECT * FROM outbox WHERE chat_id = ? AND status = 'held' ORDER BY created_at", [chat_id])
    )
    if rows:
        db.execute(
            "UPDATE outbox SET status = 'summarised', sent_at = ? WHERE chat_id = ? AND status = 'held'",
            [iso(now), chat_id],
        )
    return rows


def depth(db: Database) -> int:
    return db["outbox"].count_where("status = 'pending'")


def count_by_status(db: Database) -> dict[str, int]:
    return {r["status"]: r["n"] for r in db.query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")}


def fail_chat(db: Database, chat_id: int, error: str) -> int:
    """The chat blocked or removed the bot: its queued rows will never be delivered."""
    cur = db.execute(
        "UPDATE outbox SET status = 'failed', last_error = ? "
        "WHERE chat_id = ? AND status IN ('pending', 'held')",
        [error, chat_id],
    )
    return cur.rowcount


KEEP_DELIVERED_DAYS = 30


def prune(db: Database, before: datetime) -> int:
    """Delete delivered, failed and summarised rows created before ``before``. Pending and held
    rows always stay. (Events are deduplicated by the events table, and an alert's key only
    guards the transaction that queues it, so old keys are not needed.)"""
    cur = db.execute(
        "DELETE FROM outbox WHERE status IN ('sent', 'failed', 'summarised') AND created_at < ?",
        [iso(before)],
    )
    return cur.rowcount


def chats_with_held(db: Database) -> list[tuple[int, str | None, ChatSettings]]:
    """Active chats with alerts held for their quiet-hours summary: (id, type, settings)."""
    rows = db.query(
        "SELECT DISTINCT chats.id, chats.type, chats.tz, chats.settings FROM outbox "
        "JOIN chats ON chats.id = outbox.chat_id WHERE outbox.status = 'held' AND chats.active = 1 "
        "ORDER BY chats.id"
    )
    return [(r["id"], r["type"], ChatSettings.from_json(r["settings"], r["tz"])) for r in rows]


def last_created(db: Database, chat_id: int, reason: str) -> datetime | None:
    """When the chat's newest row with this reason was queued (a digest's last day, say)."""
    rows = list(
        db.query(
            "SELECT MAX(created_at) AS at FROM outbox WHERE chat_id = ? AND reason = ?", [chat_id, reason]
        )
    )
    return parse_iso(rows[0]["at"]) if rows else None


def exists(db: Database, key: str) -> bool:
    return bool(db["outbox"].count_where("key = ?", [key]))


def count_by_reason(db: Database, chat_id: int, since: datetime, reasons: Sequence[str]) -> dict[str, int]:
    """Rows queued for the chat since ``since`` by reason, failed ones left out (held and
    summarised ones counted)."""
    placeholders = ", ".join("?" for _ in reasons)
    rows = db.query(
        "SELECT reason, COUNT(*) AS n FROM outbox WHERE chat_id = ? AND created_at >= ? "
        f"AND status != 'failed' AND reason IN ({placeholders}) GROUP BY reason",
        [chat_id, iso(since), *reasons],
    )
    return {r["reason"]: r["n"] for r in rows}


def sent_keys(db: Database, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` have been delivered."""
    if not keys:
        return set()
    placeholders = ", ".join("?" for _ in keys)
    rows = db.query(f"SELECT key FROM outbox WHERE status = 'sent' AND key IN ({placeholders})", list(keys))
    return {r["key"] for r in rows}


def latest_with_reason(db: Database, reason: str) -> list[dict[str, Any]]:
    """The rows (key, chat_id, created_at) queued most recently under ``reason``: one per
    recipient of the newest episode."""
    return list(
        db.query(
            "SELECT key, chat_id, created_at FROM outbox WHERE reason = ? AND created_at = "
            "(SELECT MAX(created_at) FROM outbox WHERE reason = ?)",
            [reason, reason],
        )
    )
