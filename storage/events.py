"""Events (retargets, filings): recorded once by their stable key."""

from __future__ import annotations

import json
from datetime import datetime

from sqlite_utils import Database

from rules.data import Event
from storage.clock import iso


def record_event(db: Database, event: Event, now: datetime) -> bool:
    """Insert the event; True when it is new (never seen before under its key)."""
    cur = db.execute(
        "INSERT OR IGNORE INTO events (key, kind, at, source, data, announce, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            event.key,
            event.kind,
            iso(event.at),
            event.source,
            json.dumps(dict(event.data), sort_keys=True, default=str),
            int(event.announce),
            iso(now),
        ],
    )
    return cur.rowcount == 1


def recent_events(db: Database, kind: str, limit: int = 10) -> list[dict[str, object]]:
    rows = db.query("SELECT * FROM events WHERE kind = ? ORDER BY at DESC LIMIT ?", [kind, limit])
    return [{**r, "data": json.loads(r["data"])} for r in rows]


def events_since(db: Database, kind: str, since: datetime) -> list[dict[str, object]]:
    """The events of one kind recorded at or after ``since``, oldest first. The table holds a few
    hundred rows a year (retargets, filings, ledger changes): a scan is cheap, no index kept."""
    rows = db.query("SELECT * FROM events WHERE kind = ? AND at >= ? ORDER BY at", [kind, iso(since)])
    return [{**r, "data": json.loads(r["data"])} for r in rows]
