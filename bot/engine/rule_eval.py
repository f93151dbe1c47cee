"""One stored rule against one value: the pure engine decides (rules/evaluate.py), this persists
the alert state and queues the message the decision calls for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from bot.delivery.messages import alert_message, curtail_message
from bot.engine.routing import queue_alert
from rules.evaluate import effective_threshold_rule, evaluate
from rules.grammar import parse_rule
from rules.model import ChangeRule, Decision, EventRule, Reason, Rule, ThresholdRule
from storage import alerts, keys, observations
from storage import rules as rule_store
from storage.rules import RuleRow


@lru_cache(maxsize=65536)
def cached_rule(text: str) -> Rule:
    """Stored rule texts are canonical, so parsing each distinct text once is enough."""
    return parse_rule(text)


@dataclass(frozen=True, slots=True)
class IngestOptions:
    links: Mapping[str, str]
    send_resolved: bool = True
    stale_after_s: int = 1800


def chat_tz(row: RuleRow) -> ZoneInfo:
    try:
        return ZoneInfo(row.tz or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def transition_key(rule_id: int, decision: Decision, stale_since: datetime | None, now: datetime) -> str:
    """The outbox key of a decision, the same on the database path and the in-memory one: a
    transition is keyed by the moment its state began (firing or resolved since, stale since), a
    repeat by now, so re-judging the same state never queues it again."""
    reason = decision.reason
    if reason is Reason.FIRING or reason is Reason.RESOLVED:
        began = decision.state.since
    elif reason is Reason.NO_DATA:
        began = stale_since
    else:
        began = now
    return keys.alert_transition(rule_id, reason, began or now)


def evaluate_rule_row(
    db: Database,
    row: RuleRow,
    value: float | None,
    source: str,
    snapshot: Mapping[str, float],
    now: datetime,
    opts: IngestOptions,
    *,
    stale_since: datetime | None = None,
) -> int:
    """Evaluate one stored rule against one value; persist its state; queue what it says."""
    rule = cached_rule(row.text)
    if isinstance(rule, EventRule):
        effective = effective_threshold_rule(rule)
        if effective is None:
            return 0
        rule = effective
    assert isinstance(rule, ThresholdRule | ChangeRule)
    state = row.state
    reference = None
    if isinstance(rule, ChangeRule) and value is not None:
        reference = observations.value_at_or_before(db, rule.metric, now - timedelta(seconds=rule.window_s))
    decision = evaluate(
        rule,
        state,
        value,
        now,
        reference=reference,
        stale_since=stale_since,
        nodata_after_s=opts.stale_after_s,
    )
    if decision.state != state:
        alerts.put_state(db, row.id, decision.state.to_dict(), now)
        # a state written outside the in-memory index (fleet, equity, production metrics, stale
        # checks of metrics it does not hold): the index re-reads this rule (bot/engine/rulecache.py)
        rule_store.note_rule_changed(db, row.id, row.chat_id)
    if not decision.notify:
        return 0
    if decision.reason is Reason.RESOLVED and not row.settings.resolved_notices(opts.send_resolved):
        return 0
    key = transition_key(row.id, decision, stale_since, now)
    stale_minutes = int((now - stale_since).total_seconds() // 60) if stale_since else None
    if rule.metric == "curtail.margin" and value is not None and decision.reason is not Reason.NO_DATA:
        text = curtail_message(decision.reason, snapshot, links=opts.links, tz=chat_tz(row))
        return queue_alert(db, row, key, str(decision.reason), text, rule.severe, now)
    text = alert_message(
        rule=rule,
        reason=decision.reason,
        value=value,
        snapshot=snapshot,
        source=source,
        links=opts.links,
        rule_text=row.text,
        tz=chat_tz(row),
        reference=reference,
        stale_minutes=stale_minutes,
    )
    return queue_alert(db, row, key, str(decision.reason), text, rule.severe, now)
