"""Alert state per rule (ok / pending / firing ...), as rules.model.AlertState JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from storage.clock import iso


def get_state(db: Database, rule_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT state FROM alerts WHERE rule_id = ?", [rule_id]))
    return json.loads(rows[0]["state"]) if rows else None


def put_state(db: Database, rule_id: int, state: dict[str, Any], now: datetime) -> None:
    db["alerts"].upsert(
        {"rule_id": rule_id, "state": json.dumps(state, sort_keys=True), "updated_at": iso(now)},
        pk="rule_id",
    )


def state_json(state: dict[str, Any]) -> str:
    return json.dumps(state, sort_keys=True)


def put_states(db: Database, states: list[tuple[int, str]], now: datetime) -> int:
    """Write many (rule id, state JSON from :func:`state_json`) at once: one executemany, for
    the transitions of a poll."""
    at = iso(now)
    db.conn.executemany(
        "INSERT OR REPLACE INTO alerts (rule_id, state, updated_at) VALUES (?, ?, ?)",
        [(rule_id, state, at) for rule_id, state in states],
    )
    return len(states)
