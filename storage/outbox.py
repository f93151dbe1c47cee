"""The outbox: every notification is a row before it is sent, marked sent only after Telegram
confirms. The primary key is an idempotency key (storage/keys.py), so the same alert to the same
chat is never queued twice; a restart resumes with whatever is still pending (conventions §6).

Sending is exactly-once per row by construction, not by an in-process lock: a drain CLAIMS due
rows (pending -> sending, with a fresh claim token and its owner) in one UPDATE, and only the
holder of the token can mark a row sent, retried or failed. Two drains, two jobs or two processes
therefore never take the same row. A row claimed by a process that died (kill -9 mid-send) is
released back to pending by the next drain that sees its owner gone: the one message that was in
flight may repeat, nothing is lost.

Row states: pending -> sending -> sent | failed | pending (retry); held -> summarised | pending
(promoted: a severe rule of the same crossing came later); grouped (never sent itself)."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from rules.chat_settings import ChatSettings
from storage.clock import iso, parse_iso

PENDING, SENDING, SENT, FAILED, HELD = "pending", "sending", "sent", "failed", "held"
# A member of a grouped message (bot/engine/routing.py): its key and text are kept (idempotency,
# the digest's list) but only the group's own row is sent.
GROUPED = "grouped"
PRIORITY_PRIVATE, PRIORITY_GROUP, PRIORITY_CHANNEL = 0, 5, 10


def priority_for(chat_type: str | None) -> int:
    """Private alerts go before group posts, group posts before channel posts."""
    if chat_type == "channel":
        return PRIORITY_CHANNEL
    if chat_type in ("group", "supergroup"):
        return PRIORITY_GROUP
    return PRIORITY_PRIVATE


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


# (key, chat_id, rule_id, reason, text, priority, status)
OutboxRow = tuple[str, int, int | None, str, str, int, str]


def enqueue_many(db: Database, rows: Sequence[OutboxRow], now: datetime) -> int:
    """Queue many messages with one executemany (a poll's alerts); rows whose key exists are
    skipped as in :func:`enqueue`. Returns how many were queued."""
    at = iso(now)
    before = db.conn.total_changes
    db.conn.executemany(
        "INSERT OR IGNORE INTO outbox (key, chat_id, rule_id, reason, text, priority, status, attempts, "
        "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        [(*row, at, at) for row in rows],
    )
    return db.conn.total_changes - before


# A pending row waits while an older row of its chat is backing off or being sent, so a chat's
# messages keep their order ("firing" never arrives after its "resolved", even after an outage or
# with two drains side by side).
_DUE = (
    "SELECT o.key FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= :now "
    "AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.chat_id = o.chat_id AND ("
    "(e.status = 'pending' AND e.next_attempt_at > :now) OR e.status = 'sending') "
    "AND (e.created_at, e.key) < (o.created_at, o.key)) "
    "ORDER BY o.priority, o.created_at, o.key LIMIT :limit"
)


def due(db: Database, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Pending rows whose time has come, private chats first, oldest first (what a drain would
    claim now; claims nothing)."""
    keys = [r["key"] for r in db.query(_DUE, {"now": iso(now), "limit": limit})]
    return _rows_in_order(db, "key IN (SELECT value FROM json_each(:keys))", {"keys": json.dumps(keys)})


def claim_due(db: Database, now: datetime, limit: int, owner: str) -> tuple[str, list[dict[str, Any]]]:
    """Claim up to ``limit`` due rows for one drain: (claim token, the rows in send order). The
    claim is one UPDATE, atomic under SQLite's single writer: rows another drain holds are not
    'pending', so they are never taken twice."""
    token = uuid.uuid4().hex
    db.execute(
        f"UPDATE outbox SET status = 'sending', claim_token = :token, claimed_by = :owner, claimed_at = :now "
        f"WHERE key IN ({_DUE})",
        {"token": token, "owner": owner, "now": iso(now), "limit": limit},
    )
    return token, _rows_in_order(db, "claim_token = :token AND status = 'sending'", {"token": token})


def _rows_in_order(db: Database, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return list(db.query(f"SELECT * FROM outbox WHERE {where} ORDER BY priority, created_at, key", params))


def mark_sent(db: Database, key: str, token: str, message_id: int | None, now: datetime) -> bool:
    """The claimed row went out. False if this drain no longer holds it (nothing changes)."""
    cur = db.execute(
        "UPDATE outbox SET status = 'sent', telegram_message_id = ?, sent_at = ?, attempts = attempts + 1, "
        "claim_token = NULL WHERE key = ? AND claim_token = ? AND status = 'sending'",
        [message_id, iso(now), key, token],
    )
    return cur.rowcount == 1


def mark_retry(db: Database, key: str, token: str, next_attempt_at: datetime, error: str) -> None:
    db.execute(
        "UPDATE outbox SET status = 'pending', attempts = attempts + 1, next_attempt_at = ?, last_error = ?, "
        "claim_token = NULL WHERE key = ? AND claim_token = ? AND status = 'sending'",
        [iso(next_attempt_at), error, key, token],
    )


def mark_failed(db: Database, key: str, token: str, error: str) -> None:
    db.execute(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, claim_token = NULL "
        "WHERE key = ? AND claim_token = ? AND status = 'sending'",
        [error, key, token],
    )


def release_claim(db: Database, token: str) -> int:
    """Give back what a drain claimed but did not send (a chat told to wait, a migrated chat)."""
    return _release(db, "claim_token", token)


def process_owner() -> str:
    """This process's name on its claims: host, pid and the pid's start time, so a later process
    that happens to get the same pid is not taken for it."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_started(pid)}"


def owner_alive(owner: str) -> bool:
    """Whether the process that made a claim still runs. Another host's claim is assumed alive
    (SQLite is not shared across hosts; never release what we cannot check)."""
    try:
        host, pid, started = owner.rsplit(":", 2)
        pid_n = int(pid)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True
    now_started = _started(pid_n)
    return now_started is not None and str(now_started) == started


def _started(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux /proc), 0 where /proc is not
    there but the pid exists, None when no such process runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22, counted after "(comm)"
    except FileNotFoundError:
        if not Path("/proc/self/stat").exists():
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return None
            except PermissionError:
                return 0
            return 0
        return None
    except (OSError, ValueError, IndexError):
        return None


def claim_owners(db: Database) -> list[str]:
    """Owners of rows being sent now (one per live or crashed process)."""
    return [
        r["claimed_by"]
        for r in db.query("SELECT DISTINCT claimed_by FROM outbox WHERE status = 'sending'")
        if r["claimed_by"]
    ]


def release_owner(db: Database, owner: str) -> int:
    """Release every row a (dead) process had claimed."""
    return _release(db, "claimed_by", owner)


def _release(db: Database, column: str, value: str) -> int:
    cur = db.execute(
        f"UPDATE outbox SET status = 'pending', claim_token = NULL WHERE {column} = ? AND status = 'sending'",
        [value],
    )
    return cur.rowcount


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
        "WHERE chat_id = ? AND status IN ('pending', 'held', 'sending')",
        [error, chat_id],
    )
    return cur.rowcount


KEEP_DELIVERED_DAYS = 30


def prune(db: Database, before: datetime) -> int:
    """Delete delivered, failed and summarised rows created before ``before``. Pending and held
    rows always stay. (Events are deduplicated by the events table, and an alert's key only
    guards the transaction that queues it, so old keys are not needed.)"""
    cur = db.execute(
        "DELETE FROM outbox WHERE status IN ('sent', 'failed', 'summarised', 'grouped') AND created_at < ?",
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


def statuses(db: Database, keys: Sequence[str]) -> dict[str, str]:
    """The status of each of ``keys`` already in the outbox (absent keys are left out)."""
    if not keys:
        return {}
    rows = db.query(
        "SELECT key, status FROM outbox WHERE key IN (SELECT value FROM json_each(?))",
        [json.dumps(list(keys))],
    )
    return {r["key"]: r["status"] for r in rows}


def promote_held(db: Database, key: str, rule_id: int | None, text: str, now: datetime) -> bool:
    """A held row (quiet hours) becomes due now with another text: a severe rule of the same
    crossing came after its quieter twin. False if the row is no longer held."""
    cur = db.execute(
        "UPDATE outbox SET status = 'pending', rule_id = ?, text = ?, next_attempt_at = ? "
        "WHERE key = ? AND status = 'held'",
        [rule_id, text, iso(now), key],
    )
    return cur.rowcount == 1


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


def recent_by_reason(
    db: Database, chat_id: int, since: datetime, reasons: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """The chat's newest ``limit`` rows since ``since`` with one of ``reasons`` (created_at, reason,
    text), oldest first; failed ones left out, as in :func:`count_by_reason`."""
    placeholders = ", ".join("?" for _ in reasons)
    rows = db.query(
        "SELECT created_at, reason, text FROM outbox WHERE chat_id = ? AND created_at >= ? "
        f"AND status != 'failed' AND reason IN ({placeholders}) ORDER BY created_at DESC, key DESC LIMIT ?",
        [chat_id, iso(since), *reasons, limit],
    )
    return list(reversed(list(rows)))


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
