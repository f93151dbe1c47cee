"""The runner: scheduler tick -> watcher.poll -> observations -> storage -> rules -> outbox.

Watchers only fetch. This module owns what happens around a poll (Home Assistant's coordinator):
it catches every failure and turns it into health state, logs a source going down once and its
recovery once, and writes the observations, the watcher's state, the alert states and the outbox
rows of one poll in ONE transaction, so a crash either keeps all of it or none of it, and a
transition is queued exactly once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlite_utils import Database

from bot.delivery.messages import alert_message, curtail_message, event_message
from bot.engine.dbworker import DbWorker
from rules.data import Event
from rules.evaluate import effective_threshold_rule, evaluate
from rules.events import match_event
from rules.fleet import Fleet, curtail_margin_usd_per_mwh, fleet_metrics
from rules.grammar import parse_rule
from rules.model import AlertState, ChangeRule, EventRule, Reason, Rule, ThresholdRule
from rules.quiet import QuietHours, in_quiet_hours
from storage import alerts, events, observations, outbox, watcher_state
from storage import rules as rule_store
from storage.clock import parse_iso
from watchers.base import PollContext, PollResult, SourceError, Watcher

logger = logging.getLogger(__name__)

# Event kinds as watchers emit them -> the rule word users write.
EVENT_RULES = {"retarget": "retarget", "filing": "filings"}
CHAT_METRICS = ("breakeven", "margin", "profit")


@lru_cache(maxsize=65536)
def cached_rule(text: str) -> Rule:
    """Stored rule texts are canonical, so parsing each distinct text once is enough."""
    return parse_rule(text)


@dataclass(slots=True)
class PollOutcome:
    watcher_id: str
    ok: bool
    observations: int = 0
    new_events: int = 0
    queued: int = 0
    error: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    recovered: bool = False
    failing_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class IngestOptions:
    links: Mapping[str, str]
    send_resolved: bool = True
    stale_after_s: int = 1800


def delivery_status(settings: Mapping[str, Any], rule_id: int, severe: bool, now: datetime) -> str | None:
    """How a chat wants this alert now: 'pending' (send), 'held' (quiet hours) or None (drop:
    muted or snoozed). Severe rules (written with a leading '!') pass quiet hours."""
    if settings.get("muted"):
        return None
    until = parse_iso(settings.get("snooze_until"))
    if until and now < until:
        return None
    rule_until = parse_iso((settings.get("snooze_rules") or {}).get(str(rule_id)))
    if rule_until and now < rule_until:
        return None
    quiet = settings.get("quiet")
    if quiet and not severe:
        q = QuietHours(
            start=datetime.strptime(quiet["start"], "%H:%M").time(),
            end=datetime.strptime(quiet["end"], "%H:%M").time(),
            tz=quiet.get("tz", "UTC"),
        )
        if in_quiet_hours(q, now):
            return outbox.HELD
    return outbox.PENDING


def _chat_tz(row: Mapping[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(row.get("chat_tz") or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _queue(
    db: Database, row: Mapping[str, Any], key: str, reason: str, text: str, severe: bool, now: datetime
) -> int:
    settings = json.loads(row.get("chat_settings") or "{}")
    status = delivery_status(settings, row["id"], severe, now)
    if status is None:
        logger.info("dropped chat=%s rule=%s reason=%s (muted or snoozed)", row["chat_id"], row["id"], reason)
        return 0
    queued = outbox.enqueue(
        db,
        key=key,
        chat_id=row["chat_id"],
        rule_id=row["id"],
        reason=reason,
        text=text,
        now=now,
        priority=outbox.priority_for(row.get("chat_type")),
        status=status,
    )
    if queued:
        logger.info("queued chat=%s rule=%s reason=%s status=%s", row["chat_id"], row["id"], reason, status)
    return int(queued)


def evaluate_rule_row(
    db: Database,
    row: Mapping[str, Any],
    value: float | None,
    source: str,
    snapshot: Mapping[str, float],
    now: datetime,
    opts: IngestOptions,
    *,
    stale_since: datetime | None = None,
) -> int:
    """Evaluate one stored rule against one value; persist its state; queue what it says."""
    rule = cached_rule(row["text"])
    if isinstance(rule, EventRule):
        effective = effective_threshold_rule(rule)
        if effective is None:
            return 0
        rule = effective
    assert isinstance(rule, ThresholdRule | ChangeRule)
    stored = row.get("alert_state")
    state = AlertState.from_dict(json.loads(stored) if stored else None)
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
        alerts.put_state(db, row["id"], decision.state.to_dict(), now)
    if not decision.notify:
        return 0
    if decision.reason is Reason.RESOLVED and not opts.send_resolved:
        return 0
    occurrence = {
        Reason.FIRING: decision.state.since,
        Reason.RESOLVED: decision.state.since,
        Reason.NO_DATA: stale_since,
    }.get(decision.reason, now)
    key = outbox.outbox_key(row["id"], decision.reason, occurrence.isoformat() if occurrence else now)
    stale_minutes = int((now - stale_since).total_seconds() // 60) if stale_since else None
    if rule.metric == "curtail.margin" and value is not None and decision.reason is not Reason.NO_DATA:
        text = curtail_message(decision.reason, snapshot, links=opts.links, tz=_chat_tz(row))
        return _queue(db, row, key, str(decision.reason), text, rule.severe, now)
    text = alert_message(
        rule=rule,
        reason=decision.reason,
        value=value,
        snapshot=snapshot,
        source=source,
        links=opts.links,
        rule_text=row["text"],
        tz=_chat_tz(row),
        reference=reference,
        stale_minutes=stale_minutes,
    )
    return _queue(db, row, key, str(decision.reason), text, rule.severe, now)


def _evaluate_chat_metrics(
    db: Database, snapshot: Mapping[str, float], source: str, now: datetime, opts: IngestOptions
) -> int:
    """Per-chat fleet economics (breakeven, margin, profit) follow hashprice."""
    if "hashprice" not in snapshot:
        return 0
    queued = 0
    for metric in CHAT_METRICS:
        for row in rule_store.rules_for_metric(db, metric):
            fleet_cfg = json.loads(row.get("chat_settings") or "{}").get("fleet")
            if not fleet_cfg:
                continue
            values = fleet_metrics(snapshot["hashprice"], Fleet(**fleet_cfg))
            chat_snapshot = {**snapshot, **values}
            queued += evaluate_rule_row(db, row, values[metric], source, chat_snapshot, now, opts)
    return queued


def _evaluate_curtail(
    db: Database, snapshot: Mapping[str, float], source: str, now: datetime, opts: IngestOptions
) -> int:
    """The curtail signal: per chat, the real-time price at its hub minus its fleet's breakeven
    (``curtail.margin``, USD/MWh). Fires when power costs more than mining earns; resolves ("mine
    again") when it is back below. Evaluated whenever power or hashprice moves."""
    queued = 0
    for row in rule_store.rules_for_metric(db, "curtail.margin"):
        settings = json.loads(row.get("chat_settings") or "{}")
        fleet_cfg, hub = settings.get("fleet"), settings.get("hub")
        if not fleet_cfg or not hub:
            continue
        power_metric = f"power.{hub.lower()}"
        power = _current(db, snapshot, power_metric)
        hashprice = _current(db, snapshot, "hashprice")
        if power is None or hashprice is None:
            continue
        breakeven = fleet_metrics(hashprice, Fleet(**fleet_cfg))["breakeven"]
        values = {
            "curtail.margin": curtail_margin_usd_per_mwh(power, breakeven),
            "breakeven": breakeven,
            power_metric: power,
            "hashprice": hashprice,
        }
        queued += evaluate_rule_row(
            db, row, values["curtail.margin"], source, {**snapshot, **values, "hub": hub}, now, opts
        )
    return queued


def _current(db: Database, snapshot: Mapping[str, float], metric: str) -> float | None:
    if metric in snapshot:
        return snapshot[metric]
    last = observations.latest(db, metric)
    return last[0] if last else None


def _announce_event(db: Database, event: Event, now: datetime, opts: IngestOptions) -> int:
    word = EVENT_RULES.get(event.kind)
    if word is None:
        return 0
    queued = 0
    data = dict(event.data)
    for row in rule_store.rules_for_metric(db, f"event:{word}"):
        rule = cached_rule(row["text"])
        if not isinstance(rule, EventRule) or not match_event(rule, event.kind, data):
            continue
        text = event_message(event.kind, {**data, "source": event.source}, opts.links, _chat_tz(row))
        key = outbox.outbox_key(row["chat_id"], "event", event.key)
        queued += _queue(db, row, key, "event", text, rule.severe, now)
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
            queued += _evaluate_chat_metrics(db, snapshot, latest["hashprice"].source, now, opts)
        movers = [m for m in latest if m == "hashprice" or (m.startswith("power.") and m.count(".") == 1)]
        if movers:
            queued += _evaluate_curtail(db, snapshot, latest[movers[0]].source, now, opts)
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
        metrics = [
            r["metric"]
            for r in db.query("SELECT DISTINCT metric FROM rules WHERE kind IN ('threshold', 'change')")
        ]
        for metric in metrics:
            last = observations.latest(db, metric)
            if last is None:
                continue  # never observed: nothing went stale
            _, at, source = last
            if (now - at).total_seconds() < opts.stale_after_s:
                continue
            for row in rule_store.rules_for_metric(db, metric):
                queued += evaluate_rule_row(db, row, None, source, {}, now, opts, stale_since=at)
    return queued


class Pipeline:
    def __init__(self, db: DbWorker, clock: Callable[[], datetime], opts: IngestOptions) -> None:
        self.db = db
        self.clock = clock
        self.opts = opts

    async def run_watcher(self, watcher: Watcher, session: aiohttp.ClientSession) -> PollOutcome:
        now = self.clock()
        state = await self.db(watcher_state.load_state, watcher.id)
        was_failing = (await self.db(watcher_state.health, watcher.id))["failing_since"]
        try:
            result = await watcher.poll(PollContext(session=session, now=now, state=state))
        except Exception as exc:  # the runner is the one place that turns any failure into health
            message = exc.message if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
            since = await self.db(watcher_state.save_failure, watcher.id, message, now)
            if was_failing is None:
                logger.warning(
                    "watcher=%s failing: %s", watcher.id, message, exc_info=not isinstance(exc, SourceError)
                )
            else:
                logger.debug("watcher=%s still failing: %s", watcher.id, message)
            return PollOutcome(watcher.id, ok=False, error=message, failing_since=since)
        new_events, queued = await self.db(ingest, watcher.id, result, state, now, self.opts)
        if was_failing is not None:
            logger.info("watcher=%s recovered (failing since %s)", watcher.id, was_failing.isoformat())
        for src, msg in result.errors.items():
            logger.warning("watcher=%s source=%s degraded: %s", watcher.id, src, msg)
        return PollOutcome(
            watcher.id,
            ok=True,
            observations=len(result.observations),
            new_events=new_events,
            queued=queued,
            errors=dict(result.errors),
            recovered=was_failing is not None,
        )

    async def check_stale(self) -> int:
        return await self.db(check_stale, self.clock(), self.opts)
