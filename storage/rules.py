"""The rules chats have set. The text is canonical (rules.grammar.format_rule) and re-parsed on load."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from rules.chat_settings import ChatSettings
from rules.model import AlertState
from storage.clock import iso, parse_iso


class TooManyRules(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"this chat already has {limit} rules, the most allowed")
        self.limit = limit


def add_rule(
    db: Database, chat_id: int, text: str, metric: str, kind: str, now: datetime, *, max_rules: int
) -> int | None:
    """Store a rule; return its id, or None when the chat already has the very same rule."""
    with db.atomic():
        if db["rules"].count_where("chat_id = ? AND text = ?", [chat_id, text]):
            return None
        if db["rules"].count_where("chat_id = ?", [chat_id]) >= max_rules:
            raise TooManyRules(max_rules)
        table = db["rules"]
        table.insert(
            {"chat_id": chat_id, "text": text, "metric": metric, "kind": kind, "created_at": iso(now)}
        )
        return int(table.last_pk)


def list_rules(db: Database, chat_id: int) -> list[dict[str, Any]]:
    """The chat's rules in the order /alerts numbers them (oldest first)."""
    return list(db.query("SELECT * FROM rules WHERE chat_id = ? ORDER BY id", [chat_id]))


def delete_rule_at(db: Database, chat_id: int, position: int) -> dict[str, Any] | None:
    """Delete the rule numbered ``position`` (1-based, as /alerts shows) and its alert state."""
    rules = list_rules(db, chat_id)
    if not 1 <= position <= len(rules):
        return None
    rule = rules[position - 1]
    with db.atomic():
        db.execute("DELETE FROM alerts WHERE rule_id = ?", [rule["id"]])
        db.execute("DELETE FROM rules WHERE id = ?", [rule["id"]])
    return rule


def chat_rules_for_metric(db: Database, chat_id: int, metric: str) -> list[dict[str, Any]]:
    """The chat's rules on one metric (or event, ``event:<name>``), oldest first."""
    return list(
        db.query("SELECT * FROM rules WHERE chat_id = ? AND metric = ? ORDER BY id", [chat_id, metric])
    )


def delete_chat_rules_for_metric(db: Database, chat_id: int, metric: str) -> int:
    """Delete the chat's rules on one metric and their alert states; return how many went."""
    with db.atomic():
        ids = [r["id"] for r in chat_rules_for_metric(db, chat_id, metric)]
        for rule_id in ids:
            db.execute("DELETE FROM alerts WHERE rule_id = ?", [rule_id])
            db.execute("DELETE FROM rules WHERE id = ?", [rule_id])
    return len(ids)


def get_rule(db: Database, rule_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM rules WHERE id = ?", [rule_id]))
    return rows[0] if rows else None


def rule_labels(db: Database, ids: list[int]) -> dict[int, tuple[str, str]]:
    """{id: (canonical text, metric)} of the rules among ``ids`` that still exist (one query for a
    batch of outgoing alerts)."""
    if not ids:
        return {}
    return {
        r[0]: (r[1], r[2])
        for r in db.execute(
            "SELECT id, text, metric FROM rules WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(ids)],
        ).fetchall()
    }


def list_rules_with_state(db: Database, chat_id: int) -> list[dict[str, Any]]:
    """The chat's rules as /alerts numbers them, each with its alert state JSON (``alert_state``,
    None while the rule never left "ok")."""
    return list(
        db.query(
            "SELECT rules.*, alerts.state AS alert_state FROM rules "
            "LEFT JOIN alerts ON alerts.rule_id = rules.id WHERE rules.chat_id = ? ORDER BY rules.id",
            [chat_id],
        )
    )


def delete_rules(db: Database, chat_id: int, ids: list[int]) -> list[dict[str, Any]]:
    """Delete the chat's rules among ``ids`` with their alert states, in one transaction; return
    the deleted rows (oldest first), whole, so they can be put back (:func:`restore_rules`)."""
    with db.atomic():
        rows = [r for r in list_rules(db, chat_id) if r["id"] in set(ids)]
        gone = json.dumps([r["id"] for r in rows])
        db.execute("DELETE FROM alerts WHERE rule_id IN (SELECT value FROM json_each(?))", [gone])
        db.execute("DELETE FROM rules WHERE id IN (SELECT value FROM json_each(?))", [gone])
    return rows


def restore_rules(
    db: Database, chat_id: int, rows: list[dict[str, Any]], *, max_rules: int
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """Put deleted rules back (undo), under their old ids when still free (so buttons on earlier
    messages work again), as new rules otherwise. Returns (restored rows, each with its id and
    ``restored_from``: the id it had, [(row, why not)]): a rule
    the chat has again meanwhile is "already there", one over the limit "full". Alert state starts
    afresh ("ok")."""
    restored: list[dict[str, Any]] = []
    skipped: list[tuple[dict[str, Any], str]] = []
    with db.atomic():
        for row in rows:
            if db["rules"].count_where("chat_id = ? AND text = ?", [chat_id, row["text"]]):
                skipped.append((row, "already there"))
                continue
            if db["rules"].count_where("chat_id = ?", [chat_id]) >= max_rules:
                skipped.append((row, "full"))
                continue
            record = {k: v for k, v in row.items() if k != "alert_state"}
            record["chat_id"] = chat_id
            if db["rules"].count_where("id = ?", [row["id"]]):
                del record["id"]  # the id went to another rule meanwhile
            table = db["rules"]  # one Table object: it holds last_pk
            table.insert(record)
            restored.append({**record, "id": int(table.last_pk), "restored_from": row["id"]})
    return restored, skipped


@dataclass(frozen=True, slots=True)
class RuleRow:
    """A stored rule joined with what evaluating it needs: its chat's type and settings (zone
    included) and its alert state."""

    id: int
    chat_id: int
    text: str  # canonical rule text
    metric: str  # metric name, or "event:<name>"
    kind: str  # "threshold", "change" or "event"
    created_at: datetime | None
    chat_type: str | None
    settings: ChatSettings
    state: AlertState

    @property
    def tz(self) -> str:
        return self.settings.tz


def rules_for_metric(db: Database, metric: str) -> list[RuleRow]:
    """Rules on one metric (or event, as ``event:<name>``) in active chats, each with its chat's
    settings and its alert state: one indexed query per metric, not one per rule."""
    return [
        RuleRow(
            id=r["id"],
            chat_id=r["chat_id"],
            text=r["text"],
            metric=r["metric"],
            kind=r["kind"],
            created_at=parse_iso(r.get("created_at")),
            chat_type=r.get("chat_type"),
            settings=ChatSettings.from_json(r.get("chat_settings"), r.get("chat_tz")),
            state=AlertState.from_dict(json.loads(r["alert_state"]) if r.get("alert_state") else None),
        )
        for r in db.query(
            "SELECT rules.*, chats.type AS chat_type, chats.settings AS chat_settings, chats.tz AS chat_tz, "
            "alerts.state AS alert_state "
            "FROM rules JOIN chats ON chats.id = rules.chat_id LEFT JOIN alerts ON alerts.rule_id = rules.id "
            "WHERE rules.metric = ? AND chats.active = 1 ORDER BY rules.id",
            [metric],
        )
    ]


def judged_metrics(db: Database) -> list[str]:
    """The metrics that threshold and change rules watch (what can go stale)."""
    return [
        r["metric"]
        for r in db.query("SELECT DISTINCT metric FROM rules WHERE kind IN ('threshold', 'change')")
    ]


def count_rules(db: Database) -> int:
    return db["rules"].count


def sync_config_rules(
    db: Database, chat_id: int, texts: list[str], kinds: dict[str, tuple[str, str]], now: datetime
) -> tuple[int, int]:
    """Make the chat's config-origin rules exactly ``texts`` (canonical). ``kinds`` maps each text
    to (metric, kind). Rules set with /channel stay. Returns (added, removed)."""
    with db.atomic():
        current = {
            r["text"]: r["id"]
            for r in db.query("SELECT id, text FROM rules WHERE chat_id = ? AND origin = 'config'", [chat_id])
        }
        removed = 0
        for text, rule_id in current.items():
            if text not in texts:
                db.execute("DELETE FROM alerts WHERE rule_id = ?", [rule_id])
                db.execute("DELETE FROM rules WHERE id = ?", [rule_id])
                removed += 1
        added = 0
        for text in texts:
            if text in current or db["rules"].count_where("chat_id = ? AND text = ?", [chat_id, text]):
                continue
            metric, kind = kinds[text]
            db["rules"].insert(
                {
                    "chat_id": chat_id,
                    "text": text,
                    "metric": metric,
                    "kind": kind,
                    "created_at": iso(now),
                    "origin": "config",
                }
            )
            added += 1
    return added, removed


# --- The engine's in-memory rule index (bot/engine/rulecache.py) reads through these. ----------
# Rows are plain tuples: a million of them are loaded in pages, so no per-row objects here.
# (id, chat_id, text, metric, kind, alert state JSON or None)
JudgedRow = tuple[int, int, str, str, str, str | None]
# (id, type, settings JSON, tz, active)
ChatRow = tuple[int, str | None, str | None, str | None, int]

_JUDGED = (
    "SELECT rules.id, rules.chat_id, rules.text, rules.metric, rules.kind, alerts.state "
    "FROM rules LEFT JOIN alerts ON alerts.rule_id = rules.id "
)


def judged_rules_page(db: Database, metric: str, after_id: int, limit: int) -> list[JudgedRow]:
    """Threshold and change rules on ``metric`` with id > ``after_id``, oldest first, with their
    alert state, in whatever chat (the caller skips inactive chats)."""
    return list(
        db.execute(
            _JUDGED + "WHERE rules.metric = ? AND rules.kind IN ('threshold', 'change') AND rules.id > ? "
            "ORDER BY rules.id LIMIT ?",
            [metric, after_id, limit],
        ).fetchall()
    )


def judged_rules_by_ids(db: Database, ids: list[int]) -> list[JudgedRow]:
    """The rules among ``ids`` that still exist (any kind: the caller keeps the judged ones)."""
    if not ids:
        return []
    return list(
        db.execute(
            _JUDGED + "WHERE rules.id IN (SELECT value FROM json_each(?))", [json.dumps(ids)]
        ).fetchall()
    )


def chats_by_ids(db: Database, ids: list[int]) -> list[ChatRow]:
    if not ids:
        return []
    return list(
        db.execute(
            "SELECT id, type, settings, tz, active FROM chats WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(ids)],
        ).fetchall()
    )


def rule_change_seq(db: Database) -> int:
    """The newest entry of the rule change log (m011_load_rule_changes): where an index starts."""
    row = db.execute("SELECT COALESCE(MAX(seq), 0) FROM rule_changes").fetchone()
    return int(row[0])


def rule_changes_since(db: Database, seq: int) -> tuple[int, set[int], set[int]]:
    """(newest seq, rule ids, chat ids) changed after ``seq``."""
    rows = db.execute("SELECT seq, rule_id, chat_id FROM rule_changes WHERE seq > ?", [seq]).fetchall()
    newest = max((r[0] for r in rows), default=seq)
    return newest, {r[1] for r in rows if r[1] is not None}, {r[2] for r in rows if r[2] is not None}


def note_rule_changed(db: Database, rule_id: int, chat_id: int) -> None:
    """Log a change the triggers do not see (an alert state written outside the index)."""
    db.execute("INSERT INTO rule_changes (rule_id, chat_id) VALUES (?, ?)", [rule_id, chat_id])


def prune_rule_changes(db: Database, upto: int) -> None:
    """Forget log entries an index has applied (one process reads the log)."""
    db.execute("DELETE FROM rule_changes WHERE seq <= ?", [upto])
