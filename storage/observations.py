"""The time series of every metric, with the source each value came from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from rules.data import Observation
from storage.clock import iso, parse_iso


def insert_observations(db: Database, observations: Iterable[Observation]) -> int:
    rows = [{"metric": o.metric, "value": o.value, "at": iso(o.at), "source": o.source} for o in observations]
    if rows:
        # the unique (metric, at, source) index: a repeat is a no-op, a correction replaces
        db["observations"].upsert_all(rows, pk=("metric", "at", "source"))
    return len(rows)


def latest(db: Database, metric: str) -> tuple[float, datetime, str] | None:
    rows = list(
        db.query(
            "SELECT value, at, source FROM observations WHERE metric = ? ORDER BY at DESC, id DESC LIMIT 1",
            [metric],
        )
    )
    if not rows:
        return None
    at = parse_iso(rows[0]["at"])
    assert at is not None
    return rows[0]["value"], at, rows[0]["source"]


# The distinct metrics by a loose index scan (one index seek per metric, not a scan of every row),
# then each metric's newest row by time, as latest() orders it: a corrected or back-filled older
# value has a higher id but is not the newest.
_LATEST_ALL = """
WITH RECURSIVE m(metric) AS (
    SELECT MIN(metric) FROM observations
    UNION ALL
    SELECT (SELECT MIN(metric) FROM observations WHERE metric > m.metric) FROM m WHERE m.metric IS NOT NULL
)
SELECT o.metric, o.value, o.at, o.source FROM m JOIN observations o ON o.id = (
    SELECT id FROM observations WHERE metric = m.metric ORDER BY at DESC, id DESC LIMIT 1
)
"""


def latest_all(db: Database) -> dict[str, dict[str, Any]]:
    """The newest value of every metric: {metric: {"value", "at", "source"}}."""
    rows = db.query(_LATEST_ALL)
    return {r["metric"]: {"value": r["value"], "at": r["at"], "source": r["source"]} for r in rows}


def value_at_or_before(db: Database, metric: str, when: datetime) -> float | None:
    """The metric's value as it stood at ``when`` (for change-over-window rules)."""
    rows = list(
        db.query(
            "SELECT value FROM observations WHERE metric = ? AND at <= ? ORDER BY at DESC, id DESC LIMIT 1",
            [metric, iso(when)],
        )
    )
    return rows[0]["value"] if rows else None


def history(db: Database, metric: str, since: datetime) -> list[tuple[datetime, float]]:
    out = []
    for r in db.query(
        "SELECT at, value FROM observations WHERE metric = ? AND at >= ? ORDER BY at", [metric, iso(since)]
    ):
        at = parse_iso(r["at"])
        assert at is not None
        out.append((at, r["value"]))
    return out


def thin(db: Database, before: datetime) -> int:
    """Delete observations older than ``before``; return how many went."""
    cur = db.execute("DELETE FROM observations WHERE at < ?", [iso(before)])
    return cur.rowcount


def series_since(
    db: Database, metric: str, since: datetime, until: datetime | None = None
) -> list[tuple[datetime, float]]:
    """What :func:`history` returns (up to ``until`` when given), read as plain tuples (no row
    dicts): the rule preview replays 30 days of 1-minute values on the database thread and reads
    them in a fraction of the time."""
    sql = "SELECT at, value FROM observations WHERE metric = ? AND at >= ?"
    params = [metric, iso(since)]
    if until is not None:
        sql += " AND at <= ?"
        params.append(iso(until))
    parse = datetime.fromisoformat
    out = []
    for at, value in db.execute(sql + " ORDER BY at", params):
        when = parse(at)
        out.append((when if when.tzinfo else when.replace(tzinfo=UTC), value))
    return out


def first_at(db: Database, metric: str) -> datetime | None:
    """When the metric was first stored (None: never): one seek on the (metric, at, source) index."""
    rows = list(db.query("SELECT at FROM observations WHERE metric = ? ORDER BY at LIMIT 1", [metric]))
    return parse_iso(rows[0]["at"]) if rows else None


def history_plan(db: Database) -> list[str]:
    """How SQLite answers :func:`history`'s query (EXPLAIN QUERY PLAN): benchmarks and tests check
    that an index serves ``metric = ? AND at >= ?``."""
    sql = "SELECT at, value FROM observations WHERE metric = ? AND at >= ? ORDER BY at"
    return [r["detail"] for r in db.query(f"EXPLAIN QUERY PLAN {sql}", ["hashprice", "2000-01-01"])]
