"""What a new rule would have done: the lines /alert adds under "Alert set" (issue 13 item 3).

One call on the database thread (:func:`preview`) reads only the period it needs (30 days, plus a
change rule's window before it) through the (metric, at, source) index, replays the rule with the
engine's own evaluator (rules/backtest.py) and words the result in the chat's zone. It never
estimates: no stored history says so, and a rule that needs more history than is stored says when
it can first fire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from rules.backtest import Backtest, Point, combine_latest, derive, history_needed_s, reference_at, replay
from rules.catalogue import format_value, lookup
from rules.chat_settings import ChatSettings
from rules.evaluate import change_pct, effective_threshold_rule
from rules.events import EVENT_KINDS, match_event
from rules.fleet import (
    Fleet,
    breakeven_usd_per_mwh,
    curtail_margin_usd_per_mwh,
    margin_pct,
    profit_usd_per_ph_day,
)
from rules.model import ChangeRule, EventRule, Rule, ThresholdRule
from storage import events, observations

PERIOD = timedelta(days=30)
# The per-chat metrics bot/engine/fleet.py derives from hashprice (rules.fleet.fleet_metrics), one
# formula each: the preview applies only the one its rule is on, to every stored hashprice.
FLEET_FORMULAS: dict[str, Callable[[float, Fleet], float]] = {
    "breakeven": breakeven_usd_per_mwh,
    "margin": margin_pct,
    "profit": profit_usd_per_ph_day,
}

# What makes an event rule fire, in a user's words; events counted from storage/events when the
# stored events are the very ones the rule is told of (a day-ahead plan depends on the chat's own
# breakeven, a digest is a clock: not counted).
EVENT_TRIGGERS: dict[str, str] = {
    "retarget": "Fires at each difficulty adjustment (every 2,016 blocks, about two weeks).",
    "filings": "Fires on each matching SEC filing, once it reaches EDGAR's feed.",
    "converts": "Fires when a miner's share price crosses one of its notes' conversion prices.",
    "4cp": "Fires on ERCOT 4CP warnings (likely peak days, June to September) and their outcome.",
    "ercot.grid": "Fires when ERCOT's grid condition changes.",
    "curtail tomorrow": "Fires when ERCOT's prices for tomorrow arrive with hours above your breakeven.",
    "production": "Fires when a watched miner reports new production figures.",
    "treasury": "Fires when a watched miner reports new BTC holdings.",
    "quiet": "Fires when a watched miner stops publishing its figures at its usual cadence.",
    "debt": "Fires when a watched miner's debt changes (a new note, a conversion, a repayment).",
    "maturity": "Fires when a maturity or put date comes within the days you set.",
    "digest": "Sends a summary of the day's alerts every day at the time you set.",
}
UNCOUNTED = frozenset({"curtail tomorrow", "digest"})


@dataclass(frozen=True)
class Preview:
    lines: list[str]  # HTML, each escaped
    rows_read: int  # observations read (benchmarks report it)


def when(at: datetime, tz: ZoneInfo) -> str:
    """``Thu 12 Nov 14:05 CST``: day, date and time in the chat's zone."""
    local = at.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"


def span(seconds: float) -> str:
    """A length of time as a person says it: ``45 min``, ``2 h``, ``3 d``, ``3 d 4 h``."""
    minutes = max(0, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours = round(minutes / 60, 1) if minutes < 600 else round(minutes / 60)
    if hours < 48:
        return f"{hours:g} h"
    days, rest = divmod(round(minutes / 60), 24)
    return f"{days} d {rest} h" if rest else f"{days} d"


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def preview(db: Database, rule: Rule, settings: ChatSettings, now: datetime, stale_after_s: int) -> Preview:
    """The preview lines of ``rule`` for a chat with ``settings``, at ``now``. Runs on the
    database thread: reads at most the last 30 days (and a change rule's window before them)."""
    tz = settings.zone()
    if isinstance(rule, EventRule):
        effective = effective_threshold_rule(rule)
        if effective is None:
            return Preview(_event_lines(db, rule, now, tz), 0)
        return _curtail(db, effective, settings, now, stale_after_s, tz)
    if rule.metric in FLEET_FORMULAS:
        return _fleet(db, rule, settings.fleet, now, stale_after_s, tz)
    start = now - PERIOD
    if isinstance(rule, ChangeRule):
        series = read_window(db, rule.metric, now, rule.window_s)
        first = observations.first_at(db, rule.metric)
    else:
        series = observations.series_since(db, rule.metric, start)
        first = series[0][0] if series else None
        if first is None and history_needed_s(rule):
            # an ERCOT average or maximum not stored yet: how long its underlying price has been
            first = observations.first_at(db, rule.metric.rsplit(".", 1)[0])
    covered = observations.value_at_or_before(db, rule.metric, start) is not None
    lines = _judged_lines(rule, series, first, covered, now, stale_after_s, tz)
    return Preview(lines, len(series))


def read_window(db: Database, metric: str, now: datetime, window_s: int) -> list[Point]:
    """What a change rule's replay over the last 30 days reads: the values of the period and those
    ``window`` before each (its references). A window of up to 30 days is one read from
    ``start - window``; a longer one (``drops 10% in 180d``) two reads of 30 days each, and the
    value as it stood at ``start - window``, never the months between."""
    start = now - PERIOD
    window = timedelta(seconds=window_s)
    if window <= PERIOD:
        return observations.series_since(db, metric, start - window)
    earlier = observations.series_since(db, metric, start - window, now - window)
    before = observations.value_at_or_before(db, metric, start - window)
    head = [(start - window, before)] if before is not None else []
    return head + earlier + observations.series_since(db, metric, start)


def _judged_lines(
    rule: ThresholdRule | ChangeRule,
    series: list[Point],
    first: datetime | None,
    covered: bool,
    now: datetime,
    stale_after_s: int,
    tz: ZoneInfo,
) -> list[str]:
    needed = history_needed_s(rule)
    if first is None:
        if covered:  # values older than the period, none in it
            return ["No value stored in the last 30 days: nothing to preview."]
        return ["No stored history yet: nothing to preview."]
    if needed and (now - first).total_seconds() < needed:
        ready = first + timedelta(seconds=needed)
        return [
            f"Needs {span(needed)} of history; {span((now - first).total_seconds())} stored: "
            f"can fire from {escape(when(ready, tz))}."
        ]
    if not series:  # old values only, or only the underlying price of an average so far
        if covered:
            return ["No value stored in the last 30 days: nothing to preview."]
        return ["No stored history yet: nothing to preview."]
    start = now - PERIOD
    result = replay(rule, series, start, now)
    lines = []
    now_line = _alerting_now(rule, series, now, stale_after_s)
    if now_line:
        lines.append(now_line)
    lines.append(_history_line(result, covered, now, tz, rule.every_s))
    return lines


def _history_line(result: Backtest, covered: bool, now: datetime, tz: ZoneInfo, every_s: int | None) -> str:
    if covered or result.first_at is None:
        period = "Over the last 30 days"
    else:
        period = f"Over the {span((now - result.first_at).total_seconds())} stored"
    if not result.fired:
        return f"{period} this would not have fired."
    text = f"{period} this would have fired {_times(result.fired)}"
    if result.last_fired is not None:
        text += f", last on {escape(when(result.last_fired, tz))}"
    if result.longest_s is not None:
        text += f", longest {span(result.longest_s)}" + (" (still firing)" if result.still_firing else "")
    if every_s is not None and result.notices > result.fired:
        text += f"; {result.notices} messages with its repeats"
    return text + "."


def _alerting_now(
    rule: ThresholdRule | ChangeRule, series: list[Point], now: datetime, stale_after_s: int
) -> str | None:
    """ "Already below 45: alerting now" when the newest value (fresh, not a stale one) is past the
    threshold: the engine fires the new rule at its next value."""
    at, value = series[-1]
    if (now - at).total_seconds() > stale_after_s:
        return None
    if isinstance(rule, ThresholdRule):
        if not rule.op.holds(value, rule.value):
            return None
        side = "above" if rule.op.upward else "below"
        shown = escape(format_value(rule.metric, rule.value))
        if rule.for_s:
            return f"Already {side} {shown}: alerting in {span(rule.for_s)} if it stays there."
        return f"Already {side} {shown}: alerting now."
    times = [t for t, _ in series]
    values = [v for _, v in series]
    reference = reference_at(times, values, at - timedelta(seconds=rule.window_s))
    change = None if reference is None else change_pct(value, reference)
    if change is None:
        return None
    if (rule.direction == "rises" and change >= rule.pct) or (
        rule.direction == "drops" and change <= -rule.pct
    ):
        word = "up" if change > 0 else "down"
        window = span(rule.window_s)
        return f"Already {word} {abs(change):.1f}% in {window}: alerting now."
    return None


def _fleet(
    db: Database,
    rule: ThresholdRule | ChangeRule,
    fleet: Fleet | None,
    now: datetime,
    stale_after_s: int,
    tz: ZoneInfo,
) -> Preview:
    """breakeven, margin and profit follow hashprice with the chat's fleet (bot/engine/fleet.py):
    the stored hashprice history through the same formulas, with the fleet as set now."""
    if fleet is None:
        return Preview(["No preview: this chat has no fleet."], 0)
    start = now - PERIOD
    if isinstance(rule, ChangeRule):
        stored = read_window(db, "hashprice", now, rule.window_s)
    else:
        stored = observations.series_since(db, "hashprice", start)
    formula = FLEET_FORMULAS[rule.metric]

    def value(hashprice: float) -> float | None:
        try:
            return formula(hashprice, fleet)
        except ValueError:  # margin is undefined at a hashprice of 0
            return None

    series = derive(stored, value)
    covered = observations.value_at_or_before(db, "hashprice", start) is not None
    first = observations.first_at(db, "hashprice") if isinstance(rule, ChangeRule) else None
    first = first or (series[0][0] if series else None)
    lines = _judged_lines(rule, series, first, covered, now, stale_after_s, tz)
    return Preview([*lines, "(With your fleet as set now, from stored hashprice.)"], len(stored))


def _curtail(
    db: Database, rule: ThresholdRule, settings: ChatSettings, now: datetime, stale_after_s: int, tz: ZoneInfo
) -> Preview:
    """curtail (``curtail.margin > 0``): the hub's stored real-time price against the breakeven
    from stored hashprice, combined as the engine combines them (the latest of each)."""
    fleet, hub = settings.fleet, settings.hub
    if fleet is None or not hub:
        return Preview(["No preview: curtail needs your fleet and hub."], 0)
    power_metric = f"power.{hub.lower()}"
    info = lookup(power_metric)
    if info is not None and info.unit != "USD/MWh":
        return Preview([f"No preview: {escape(hub)} is not priced in USD/MWh."], 0)
    start = now - PERIOD
    power = observations.series_since(db, power_metric, start)
    hashprice = observations.series_since(db, "hashprice", start)
    series = combine_latest(
        power, hashprice, lambda p, h: curtail_margin_usd_per_mwh(p, breakeven_usd_per_mwh(h, fleet))
    )
    covered = all(
        observations.value_at_or_before(db, m, start) is not None for m in (power_metric, "hashprice")
    )
    first = series[0][0] if series else None
    lines = _judged_lines(rule, series, first, covered, now, stale_after_s, tz)
    if lines and lines[0].startswith("Already above"):
        lines[0] = f"Power at {escape(hub)} is already above your breakeven: alerting now."
    return Preview(lines, len(power) + len(hashprice))


def _event_lines(db: Database, rule: EventRule, now: datetime, tz: ZoneInfo) -> list[str]:
    line = EVENT_TRIGGERS.get(rule.event)
    if line is None:
        return []
    if rule.event in UNCOUNTED:
        return [line]
    kind = EVENT_KINDS[rule.event]
    matched = [e for e in events.events_since(db, kind, now - PERIOD) if match_event(rule, kind, e["data"])]
    if not matched:
        return [line, "No such event stored in the last 30 days."]
    last = datetime.fromisoformat(str(matched[-1]["at"]))
    count = "1 such event" if len(matched) == 1 else f"{len(matched)} such events"
    return [line, f"{count} stored in the last 30 days, the last on {escape(when(last, tz))}."]
