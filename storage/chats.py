"""Chats the bot serves, with their per-chat settings (fleet, quiet hours, snooze, mute)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlite_utils import Database

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


def get_settings(db: Database, chat_id: int) -> dict[str, Any]:
    chat = get_chat(db, chat_id)
    return json.loads(chat["settings"] or "{}") if chat else {}


def update_settings(db: Database, chat_id: int, now: datetime, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into the chat's settings; a value of None removes the key."""
    settings = get_settings(db, chat_id)
    for key, value in changes.items():
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    db.execute(
        "UPDATE chats SET settings = ?, updated_at = ? WHERE id = ?",
        [json.dumps(settings, sort_keys=True), iso(now), chat_id],
    )
    return settings


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
            "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status IN ('pending', 'held')",
            [new_id, old_id],
        )
        db.execute("UPDATE chats SET active = 0, updated_at = ? WHERE id = ?", [iso(now), old_id])
