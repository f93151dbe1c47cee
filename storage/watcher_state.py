"""Each watcher's persisted JSON state and health (last success, failing since)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from storage.clock import iso, parse_iso


def load_state(db: Database, watcher_id: str) -> dict[str, Any]:
    rows = list(db.query("SELECT state FROM watcher_state WHERE id = ?", [watcher_id]))
    return json.loads(rows[0]["state"] or "{}") if rows else {}


def health(db: Database, watcher_id: str) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM watcher_state WHERE id = ?", [watcher_id]))
    if not rows:
        return {"last_success": None, "last_error": None, "failing_since": None}
    r = rows[0]
    return {
        "last_success": parse_iso(r["last_success"]),
        "last_error": r["last_error"],
        "failing_since": parse_iso(r["failing_since"]),
    }


def save_success(db: Database, watcher_id: str, state: dict[str, Any], now: datetime) -> None:
    db["watcher_state"].upsert(
        {
            "id": watcher_id,
            "state": json.dumps(state, sort_keys=True, default=str),
            "last_success": iso(now),
            "last_error": None,
            "failing_since": None,
            "updated_at": iso(now),
        },
        pk="id",
    )


def save_failure(db: Database, watcher_id: str, error: str, now: datetime) -> datetime:
    """Record a failed poll; return since when the watcher has been failing."""
    h = health(db, watcher_id)
    since = h["failing_since"] or now
    db["watcher_state"].upsert(
        {
            "id": watcher_id,
            "last_error": error,
            "failing_since": iso(since),
            "updated_at": iso(now),
        },
        pk="id",
    )
    return since
