"""Chats the bot serves, with their per-chat settings (fleet, quiet hours, snooze, mute)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlite_utils import Database

from rules.chat_settings import ChatSettings
from storage.clock import iso


def ensure_chat(db: Database, chat_id: int, chat_type: str, title: str | None, now: datetime) -> None:
    """Create the chat on first contact; refresh type/title and reactivate it afterwards."""
    if db["chats"].count_where("id = ?", [chat_id]):
        db.execute(
            "UPDATE chats SET type = ?, title = ?, active = 1, updated_at = ? WHERE id = ?",
            [chat_type, title, iso(now), chat_id],
        )
    else:
        db["chats"].insert(
            {
                "id": chat_id,
                "type": chat_type,
                "title": title,
                "active": 1,
                "tz": "UTC",
                "settings": "{}",
                "created_at": iso(now),
                "updated_at": iso(now),
            }
        )


def get_chat(db: Database, chat_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM chats WHERE id = ?", [chat_id]))
    return rows[0] if rows else None


def set_active(db: Database, chat_id: int, active: bool, now: datetime) -> None:
    db.execute("UPDATE chats SET active = ?, updated_at = ? WHERE id = ?", [int(active), iso(now), chat_id])


def get_settings(db: Database, chat_id: int) -> ChatSettings:
    chat = get_chat(db, chat_id)
    return ChatSettings.from_json(chat["settings"], chat["tz"]) if chat else ChatSettings()


def update_settings(db: Database, chat_id: int, now: datetime, **changes: Any) -> ChatSettings:
    """Apply ``changes`` (ChatSettings field names; None clears) to the chat's settings."""
    with db.atomic():
        settings = get_settings(db, chat_id).changed(**changes)
        db.execute(
            "UPDATE chats SET settings = ?, tz = ?, updated_at = ? WHERE id = ?",
            [settings.to_json(), settings.tz, iso(now), chat_id],
        )
    return settings


def set_tz(db: Database, chat_id: int, tz: str) -> None:
    db.execute("UPDATE chats SET tz = ? WHERE id = ?", [tz, chat_id])


def pinned_status_chats(db: Database) -> list[tuple[int, ChatSettings]]:
    """Active chats that keep a pinned status message, with their settings."""
    rows = db.query("SELECT id, tz, settings FROM chats WHERE active = 1 AND settings LIKE '%pinned_status%'")
    out = []
    for r in rows:
        settings = ChatSettings.from_json(r["settings"], r["tz"])
        if settings.pinned_status:
            out.append((r["id"], settings))
    return out


def migrate_chat(db: Database, old_id: int, new_id: int, now: datetime) -> None:
    """A group became a supergroup: move the chat, its rules and its queued messages to the new id."""
    with db.atomic():
        old = get_chat(db, old_id)
        if old is None:
            return
        if not db["chats"].count_where("id = ?", [new_id]):
            db["chats"].insert({**old, "id": new_id, "type": "supergroup", "updated_at": iso(now)})
        db.execute("UPDATE rules SET chat_id = ? WHERE chat_id = ?", [new_id, old_id])
        db.execute(
            "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status IN ('pending', 'held', 'sending')",
            [new_id, old_id],
        )
        db.execute("UPDATE chats SET active = 0, updated_at = ? WHERE id = ?", [iso(now), old_id])
