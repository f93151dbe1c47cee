"""One stored rule against one value: the pure engine decides (rules/evaluate.py), this persists
the alert state and queues the message the decision calls for."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from html import escape
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from bot.delivery.messages import (
    alert_message,
    curtail_message,
    data_back_message,
    data_back_title,
    nodata_title,
)
from bot.engine import freshness
from bot.engine.routing import Candidate, Group, delivery_status, submit
from rules.catalogue import format_value
from rules.chat_settings import ChatSettings
from rules.evaluate import effective_threshold_rule, evaluate
from rules.grammar import parse_rule
from rules.model import AlertState, ChangeRule, Decision, EventRule, Reason, Rule, Status, ThresholdRule
from rules.quiet import zone_or_utc
from storage import alerts, keys, observations, outbox
from storage import rules as rule_store
from storage.rules import RuleRow

logger = logging.getLogger(__name__)


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
    return zone_or_utc(row.tz)


@lru_cache(maxsize=65536)
def condition_of(rule: ThresholdRule | ChangeRule) -> str:
    """What a rule watches, without what only changes when or how loudly it says so (``!``,
    ``for``, ``every``): two rules of one chat with the same condition see the same crossings."""
    if isinstance(rule, ThresholdRule):
        return repr(replace(rule, for_s=0, every_s=None, severe=False))
    return repr(replace(rule, every_s=None, severe=False))


def transition_key(
    chat_id: int,
    rule: ThresholdRule | ChangeRule,
    prior: AlertState,
    decision: Decision,
    stale_since: datetime | None,
    now: datetime,
) -> str:
    """The outbox key of a decision, the same on the database path and the in-memory one: a
    transition is keyed by the chat, the rule's condition and the moment its crossing began (a
    rule with ``for`` fires later, but its crossing began when it went pending; a resolve when it
    resolved; no data when the source went stale), a repeat by now. Re-judging the same state
    never queues it again, and twin rules of one chat share the key (storage/keys.py)."""
    reason = decision.reason
    if reason is Reason.FIRING:
        began = prior.since if prior.status is Status.PENDING and prior.since else now
    elif reason is Reason.RESOLVED:
        began = decision.state.since or now
    elif reason is Reason.NO_DATA:
        began = stale_since or now
    else:
        began = now
    return keys.alert_crossing(chat_id, condition_of(rule), str(reason), began)


def fired_for(prior: AlertState, decision: Decision, now: datetime) -> float | None:
    """With a resolve: how long the alert fired (None when that is not known)."""
    if decision.reason is Reason.RESOLVED and prior.status is Status.FIRING and prior.since is not None:
        return (now - prior.since).total_seconds()
    return None


def nodata_group(
    source: str, stale_since: datetime | None, now: datetime, tz: ZoneInfo, metric: str | None = None
) -> Group:
    """A chat's no-data notices of one pass for one source: one message naming each rule. How long
    it has been down counts as staleness does (trading time for a stock's ``metric``)."""
    since = stale_since or now
    title = nodata_title(source, since, now, tz, freshness.age_s(metric, since, now) if metric else None)
    return Group(f"nodata:{source}", title, joiner="\n")


def data_back(
    chat_id: int,
    chat_type: str | None,
    settings: ChatSettings,
    rule_id: int,
    rule: ThresholdRule | ChangeRule,
    rule_text: str,
    prior: AlertState,
    decision: Decision,
    value: float | None,
    source: str,
    now: datetime,
    tz: ZoneInfo,
    shown: str | None = None,
) -> Candidate | None:
    """The rule had said "no data" and its source answers again: say so, with how long it was
    down. ``shown``: the value as the message should show it (default: the rule's metric)."""
    if not prior.nodata_notified or value is None or decision.state.nodata_notified:
        return None
    status = delivery_status(settings, rule_id, rule.severe, now)
    if status is None:
        return None
    down = freshness.age_s(rule.metric, prior.nodata_since, now) if prior.nodata_since else None
    shown = shown or format_value(rule.metric, value, tz)
    return Candidate(
        keys.data_back(chat_id, condition_of(rule), prior.nodata_since, prior.last_notified),
        chat_id,
        rule_id,
        "data_back",
        data_back_message(rule_text, source, down, shown),
        outbox.priority_for(chat_type),
        status,
        rule.severe,
        Group(f"databack:{source}", data_back_title(source, down), joiner="\n"),
        f"• <code>{escape(rule_text)}</code> now {escape(shown)}",
    )


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
    tz = chat_tz(row)
    back = data_back(
        row.chat_id,
        row.chat_type,
        row.settings,
        row.id,
        rule,
        row.text,
        state,
        decision,
        value,
        source,
        now,
        tz,
    )
    queued = submit(db, [back], now) if back is not None else 0
    if decision.state != state:
        alerts.put_state(db, row.id, decision.state.to_dict(), now)
        # a state written outside the in-memory index (fleet, equity, production metrics, stale
        # checks of metrics it does not hold): the index re-reads this rule (bot/engine/rulecache.py)
        rule_store.note_rule_changed(db, row.id, row.chat_id)
    if not decision.notify:
        return queued
    if decision.reason is Reason.RESOLVED and not row.settings.resolved_notices(opts.send_resolved):
        return queued
    status = delivery_status(row.settings, row.id, rule.severe, now)
    if status is None:
        logger.info(
            "dropped chat=%s rule=%s reason=%s (muted or snoozed)", row.chat_id, row.id, decision.reason
        )
        return queued
    key = transition_key(row.chat_id, rule, state, decision, stale_since, now)
    text = alert_text(
        rule, row.text, state, decision, value, source, snapshot, now, opts, tz, reference, stale_since
    )
    group, brief = None, None
    if decision.reason is Reason.NO_DATA:
        group, brief = (
            nodata_group(source, stale_since, now, tz, rule.metric),
            f"• <code>{escape(row.text)}</code>",
        )
    cand = Candidate(
        key,
        row.chat_id,
        row.id,
        str(decision.reason),
        text,
        outbox.priority_for(row.chat_type),
        status,
        rule.severe,
        group,
        brief,
    )
    return queued + submit(db, [cand], now)


def alert_text(
    rule: ThresholdRule | ChangeRule,
    rule_text: str,
    prior: AlertState,
    decision: Decision,
    value: float | None,
    source: str,
    snapshot: Mapping[str, float],
    now: datetime,
    opts: IngestOptions,
    tz: ZoneInfo,
    reference: float | None,
    stale_since: datetime | None,
) -> str:
    """The message of one decision (both engine paths)."""
    lasted = fired_for(prior, decision, now)
    if rule.metric == "curtail.margin" and value is not None and decision.reason is not Reason.NO_DATA:
        return curtail_message(decision.reason, snapshot, links=opts.links, tz=tz, fired_for_s=lasted)
    return alert_message(
        rule=rule,
        reason=decision.reason,
        value=value,
        snapshot=snapshot,
        source=source,
        links=opts.links,
        rule_text=rule_text,
        tz=tz,
        reference=reference,
        stale_minutes=int(freshness.age_s(rule.metric, stale_since, now) // 60) if stale_since else None,
        fired_for_s=lasted,
        stale_since=stale_since,
        now=now,
    )
