"""Ingest: one successful poll's observations -> storage -> rules -> outbox, in ONE transaction,
so a crash keeps all of it or none of it and a transition is queued exactly once. Also the
once-a-minute check that says "no data" for rules whose source went stale."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from bot.delivery.grid_messages import dam_plan_message
from bot.delivery.messages import ercot_interval_title, event_message
from bot.engine import equity, production
from bot.engine.fleet import CHAT_METRICS, evaluate_chat_metrics, evaluate_curtail
from bot.engine.freshness import is_stale
from bot.engine.routing import Group, collecting, queue_alert
from bot.engine.rule_eval import IngestOptions, cached_rule, chat_tz, evaluate_rule_row
from rules import hashprice as hp
from rules.data import Event, Observation
from rules.events import match_event
from rules.isos import ISO_HUBS
from rules.model import EventRule
from storage import events, keys, observations, watcher_state
from storage import rules as rule_store
from watchers.base import PollResult

if TYPE_CHECKING:
    from bot.engine.rulecache import Judged

# Event kinds as watchers (and the engine, for converts and the debt ledger) emit them -> the rule
# word users write.
EVENT_RULES = {
    "retarget": "retarget",
    "filing": "filings",
    "converts": "converts",
    "4cp": "4cp",
    "ercot.grid": "ercot.grid",
    "dam": "curtail tomorrow",
    "production": "production",
    "treasury": "treasury",
    "quiet": "quiet",
    "debt": "debt",
    "maturity": "maturity",
}


def _announce_event(db: Database, event: Event, now: datetime, opts: IngestOptions) -> int:
    word = EVENT_RULES.get(event.kind)
    if word is None:
        return 0
    queued = 0
    data = dict(event.data)
    if event.kind == "retarget":
        data.update(retarget_hashprice(db, data))
    for row in rule_store.rules_for_metric(db, f"event:{word}"):
        rule = cached_rule(row.text)
        if not isinstance(rule, EventRule) or not match_event(rule, event.kind, data):
            continue
        if event.kind == "dam":  # each chat's own plan: its hub's hours above its breakeven
            last = observations.latest(db, "hashprice")
            plan = dam_plan_message(data, row.settings, last[0] if last else None, opts.links, chat_tz(row))
            if plan is None:
                continue
            text = plan
        else:
            text = event_message(event.kind, {**data, "source": event.source}, opts.links, chat_tz(row))
        key = keys.event_announcement(row.chat_id, event.key)
        queued += queue_alert(db, row, key, "event", text, rule.severe, now)
    return queued


def retarget_hashprice(db: Database, data: dict[str, Any]) -> dict[str, float]:
    """What the new difficulty pays: hashprice (USD/PH/day) at the retarget's difficulty, the
    subsidy of its height and the latest stored price and fees (this poll's). An input missing:
    nothing (never an estimate); the inputs found are still returned for the message."""
    out: dict[str, float] = {}
    for metric in ("price", "fees"):
        last = observations.latest(db, metric)
        if last is not None:
            out[metric] = last[0]
    difficulty_t, height = data.get("difficulty"), data.get("height")
    if (
        isinstance(difficulty_t, int | float)
        and difficulty_t > 0
        and isinstance(height, int)
        and "price" in out
        and "fees" in out
    ):
        out["hashprice"] = hp.hashprice_usd(
            difficulty_t * 1e12, hp.subsidy_btc(height), out["fees"], out["price"]
        )
    return out


def ercot_interval(observations_: list[Observation]) -> Group | None:
    """The group of an ERCOT real-time poll's alerts: its newest interval (prices are stamped with
    the interval's end). One interval that moves several rules of a chat is one message."""
    ends = [o.at for o in observations_ if o.source == "ercot" and o.metric.startswith("power.")]
    if not ends:
        return None
    end = max(ends)
    return Group(f"ercot:{end.isoformat()}", ercot_interval_title(end))


def ingest(
    db: Database,
    watcher_id: str,
    result: PollResult,
    state: dict[str, Any],
    now: datetime,
    opts: IngestOptions,
    judged: Judged | None = None,
) -> tuple[int, int]:
    """Store one successful poll and queue what it triggers, atomically. Returns (new events, queued).
    ``judged``: the decisions of the rules on the poll's metrics, made in memory off the database
    thread; they are written here, in the same transaction as the observations they judge."""
    with db.atomic(), collecting(db, now, ercot_interval(result.observations)) as batch:
        observations.insert_observations(db, result.observations)
        watcher_state.save_success(db, watcher_id, state, now)
        latest: dict[str, Any] = {}
        for obs in result.observations:  # the newest value per metric is the one rules judge
            if obs.metric not in latest or obs.at >= latest[obs.metric].at:
                latest[obs.metric] = obs
        snapshot = {m: o.value for m, o in latest.items()}
        queued = 0
        if judged is not None:  # evaluated in memory beforehand (bot/engine/rulecache.py): write it
            queued += judged.write(db, now)
        for metric, obs in latest.items():
            if judged is not None and metric in judged.metrics:
                continue
            for row in rule_store.rules_for_metric(db, metric):
                queued += evaluate_rule_row(db, row, obs.value, obs.source, snapshot, now, opts)
        if "hashprice" in latest:
            queued += evaluate_chat_metrics(db, snapshot, latest["hashprice"].source, now, opts)
        movers = [
            m
            for m in latest
            if m == "hashprice" or (m.startswith("power.") and m.count(".") == 1) or m in ISO_HUBS
        ]
        if movers:
            queued += evaluate_curtail(db, snapshot, latest[movers[0]].source, now, opts)
        new_events = 0
        for event in result.events:
            if events.record_event(db, event, now):
                new_events += 1
                if event.announce:
                    queued += _announce_event(db, event, now, opts)
                if event.kind == "filing" and event.data.get("operations"):
                    queued += _production_figures(db, event, now, opts)
        stocks = equity.tickers_in(latest)
        if stocks:
            queued += refresh_equity(db, stocks, now, opts)
    # what the pass really queued: twins deduplicated, an interval's alerts grouped
    return new_events, batch.queued


def refresh_equity(
    db: Database, tickers: list[str], now: datetime, opts: IngestOptions, *, at: datetime | None = None
) -> int:
    """Recompute the derived metrics of ``tickers`` (mcap, convert, dilution, leverage) from their
    latest price, cover share count and ledger; store them, evaluate the rules on them, and announce
    conversion-price crossings (``converts``). Called by ingest when a quote arrives, and to be
    called when a ticker's ledger or share count changes, with ``at=now`` (the derived values then
    hold from that moment rather than from the quote's time). Returns how many messages it queued."""
    queued = 0
    with db.atomic(), collecting(db, now):
        for ticker in tickers:
            values = equity.derived(db, ticker)
            obs = [d.observation(at) for d in values]
            observations.insert_observations(db, obs)
            snapshot = {o.metric: o.value for o in obs}
            for o in obs:
                for row in rule_store.rules_for_metric(db, o.metric):
                    queued += evaluate_rule_row(db, row, o.value, o.source, snapshot, now, opts)
            for event in equity.crossings(db, ticker):
                if events.record_event(db, event, now):
                    queued += _announce_event(db, event, now, opts)
    return queued


def _production_figures(db: Database, event: Event, now: datetime, opts: IngestOptions) -> int:
    """A watched miner's filing with operating figures: store them, judge the rules on the
    production metrics and announce the production/treasury events (issue 19)."""
    obs, evs = production.from_filing(db, event, now)
    if not event.announce:  # a first run records history without announcing it
        evs = [replace(e, announce=False) for e in evs]
    return ingest_derived(db, obs, evs, now, opts)


def ingest_derived(
    db: Database, obs: list[Observation], evs: list[Event], now: datetime, opts: IngestOptions
) -> int:
    """Store observations the engine derived (not a watcher's poll), judge the rules on them and
    record/announce the events, in one transaction. Returns how many messages it queued."""
    queued = 0
    with db.atomic(), collecting(db, now):
        observations.insert_observations(db, obs)
        snapshot = {o.metric: o.value for o in obs}
        for o in obs:
            for row in rule_store.rules_for_metric(db, o.metric):
                queued += evaluate_rule_row(db, row, o.value, o.source, snapshot, now, opts)
        for event in evs:
            if events.record_event(db, event, now) and event.announce:
                queued += _announce_event(db, event, now, opts)
    return queued


def check_quiet(db: Database, now: datetime, opts: IngestOptions) -> int:
    """Announce, once, each miner that stopped publishing production figures at its cadence
    (``quiet`` rule). For a daily job."""
    return ingest_derived(db, [], production.quiet_events(db, now), now, opts)


def stale_metrics(db: Database, now: datetime, opts: IngestOptions) -> list[tuple[str, datetime, str]]:
    """(metric, last observed at, its source) of the judged metrics whose data went stale."""
    stale = []
    for metric in sorted(set(rule_store.judged_metrics(db)) | chat_rule_inputs(db)):
        last = observations.latest(db, metric)
        if last is None:
            continue  # never observed: nothing went stale
        _, at, source = last
        # one rule for "stale", shared with /status and the pinned status (bot/engine/freshness.py):
        # trading time for stocks; production and debt figures are never "no data"
        if is_stale(metric, at, now, opts.stale_after_s):
            stale.append((metric, at, source))
    return stale


def chat_rule_inputs(db: Database) -> set[str]:
    """The observed metrics that per-chat rules are derived from: hashprice for breakeven, margin,
    profit and curtail; each curtail chat's hub price. Their staleness is those rules' too."""
    inputs: set[str] = set()
    for metric in CHAT_METRICS:
        if any(row.settings.fleet is not None for row in rule_store.rules_for_metric(db, metric)):
            inputs.add("hashprice")
    for row in rule_store.rules_for_metric(db, "curtail.margin"):
        if row.settings.fleet is not None and row.settings.hub:
            inputs |= {"hashprice", f"power.{row.settings.hub.lower()}"}
    return inputs


def stale_chat_rules(
    db: Database, metric: str, at: datetime, source: str, now: datetime, opts: IngestOptions
) -> int:
    """The per-chat rules derived from a stale ``metric`` say "no data" like any rule on it:
    breakeven, margin and profit when hashprice is stale; curtail when hashprice or the chat's hub
    price is (curtail.margin is the hub's price minus the breakeven hashprice sets)."""
    queued = 0
    if metric == "hashprice":
        for chat_metric in CHAT_METRICS:
            for row in rule_store.rules_for_metric(db, chat_metric):
                if row.settings.fleet is not None:
                    queued += evaluate_rule_row(db, row, None, source, {}, now, opts, stale_since=at)
    if metric == "hashprice" or metric.startswith("power."):
        for row in rule_store.rules_for_metric(db, "curtail.margin"):
            hub = row.settings.hub
            if row.settings.fleet is None or not hub:
                continue
            if metric == "hashprice" or metric == f"power.{hub.lower()}":
                queued += evaluate_rule_row(db, row, None, source, {}, now, opts, stale_since=at)
    return queued


def check_stale(db: Database, now: datetime, opts: IngestOptions) -> int:
    """Rules whose metric has had no fresh value for ``stale_after`` say so once (no false
    resolve): one notice per chat and source, naming its rules (bot/engine/routing.py)."""
    with db.atomic(), collecting(db, now) as batch:
        for metric, at, source in stale_metrics(db, now, opts):
            for row in rule_store.rules_for_metric(db, metric):
                evaluate_rule_row(db, row, None, source, {}, now, opts, stale_since=at)
            stale_chat_rules(db, metric, at, source, now, opts)
    return batch.queued
