"""Ingest: one successful poll's observations -> storage -> rules -> outbox, in ONE transaction,
so a crash keeps all of it or none of it and a transition is queued exactly once. Also the
once-a-minute check that says "no data" for rules whose source went stale."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.delivery.messages import event_message
from bot.engine.fleet import evaluate_chat_metrics, evaluate_curtail
from bot.engine.routing import queue_alert
from bot.engine.rule_eval import IngestOptions, cached_rule, chat_tz, evaluate_rule_row
from rules.catalogue import held_until_next_filing
from rules.data import Event
from rules.events import match_event
from rules.model import EventRule
from storage import events, observations, outbox, watcher_state
from storage import rules as rule_store
from watchers.base import PollResult

# Event kinds as watchers emit them -> the rule word users write.
EVENT_RULES = {"retarget": "retarget", "filing": "filings", "debt": "debt", "maturity": "maturity"}


def _announce_event(db: Database, event: Event, now: datetime, opts: IngestOptions) -> int:
    word = EVENT_RULES.get(event.kind)
    if word is None:
        return 0
    queued = 0
    data = dict(event.data)
    for row in rule_store.rules_for_metric(db, f"event:{word}"):
        rule = cached_rule(row.text)
        if not isinstance(rule, EventRule) or not match_event(rule, event.kind, data):
            continue
        text = event_message(event.kind, {**data, "source": event.source}, opts.links, chat_tz(row))
        key = outbox.outbox_key(row.chat_id, "event", event.key)
        queued += queue_alert(db, row, key, "event", text, rule.severe, now)
    return queued


def ingest(
    db: Database,
    watcher_id: str,
    result: PollResult,
    state: dict[str, Any],
    now: datetime,
    opts: IngestOptions,
) -> tuple[int, int]:
    """Store one successful poll and queue what it triggers, atomically. Returns (new events, queued)."""
    with db.atomic():
        observations.insert_observations(db, result.observations)
        watcher_state.save_success(db, watcher_id, state, now)
        latest: dict[str, Any] = {}
        for obs in result.observations:  # the newest value per metric is the one rules judge
            if obs.metric not in latest or obs.at >= latest[obs.metric].at:
                latest[obs.metric] = obs
        snapshot = {m: o.value for m, o in latest.items()}
        queued = 0
        for metric, obs in latest.items():
            for row in rule_store.rules_for_metric(db, metric):
                queued += evaluate_rule_row(db, row, obs.value, obs.source, snapshot, now, opts)
        if "hashprice" in latest:
            queued += evaluate_chat_metrics(db, snapshot, latest["hashprice"].source, now, opts)
        movers = [m for m in latest if m == "hashprice" or (m.startswith("power.") and m.count(".") == 1)]
        if movers:
            queued += evaluate_curtail(db, snapshot, latest[movers[0]].source, now, opts)
        new_events = 0
        for event in result.events:
            if events.record_event(db, event, now):
                new_events += 1
                if event.announce:
                    queued += _announce_event(db, event, now, opts)
    return new_events, queued


def check_stale(db: Database, now: datetime, opts: IngestOptions) -> int:
    """Rules whose metric has had no fresh value for ``stale_after`` say so once (no false resolve)."""
    queued = 0
    with db.atomic():
        for metric in rule_store.judged_metrics(db):
            last = observations.latest(db, metric)
            if last is None:
                continue  # never observed: nothing went stale
            _, at, source = last
            if held_until_next_filing(metric):
                continue  # debt.<ticker> holds until the next filing: never "no data"
            if (now - at).total_seconds() < opts.stale_after_s:
                continue
            for row in rule_store.rules_for_metric(db, metric):
                queued += evaluate_rule_row(db, row, None, source, {}, now, opts, stale_since=at)
    return queued
