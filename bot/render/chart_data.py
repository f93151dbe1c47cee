"""What a chart shows, read on the database thread: a metric's history (fleet metrics derived
from hashprice and the chat's /fleet), the chat's thresholds on it and its time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.render.charts import ChartData, ReferenceLine, Threshold
from rules import equity
from rules.catalogue import held_until_next_filing
from rules.fleet import fleet_metrics
from rules.grammar import RuleError, parse_rule
from rules.model import ThresholdRule
from storage import chats, observations
from storage import ledger as ledger_store
from storage import rules as rule_store

FLEET_METRICS = ("breakeven", "margin", "profit")


class ChartError(ValueError):
    """A /chart request that cannot be served; ``str(err)`` is the HTML reply."""


def chat_zone(db: Any, chat_id: int) -> ZoneInfo:
    """The chat's display zone (ChatSettings.tz, set with /tz); UTC if unset or unreadable."""
    return chats.get_settings(db, chat_id).zone()


def chat_thresholds(db: Any, chat_id: int, metric: str) -> list[Threshold]:
    out: list[Threshold] = []
    for row in rule_store.list_rules(db, chat_id):
        if row["metric"] != metric or row["kind"] != "threshold":
            continue
        try:
            rule = parse_rule(row["text"])
        except RuleError:
            continue
        if isinstance(rule, ThresholdRule):
            out.append(Threshold(rule.value, row["text"], rule.op.upward))
    return out


def gather(db: Any, chat_id: int, metric: str, since: datetime, now: datetime | None = None) -> ChartData:
    """History, thresholds and time zone for one chart. Fleet metrics come from hashprice and the
    chat's fleet (ChartError when the chat has none). A value held until the next filing
    (``debt.<ticker>``) is drawn from the window's start to ``now``: it is still in force."""
    if metric in FLEET_METRICS:
        fleet = chats.get_settings(db, chat_id).fleet
        if fleet is None:
            raise ChartError(
                f"❌ {metric} depends on your fleet: set it first, e.g. <code>/fleet 18 0.045</code>."
            )
        points = [
            (at, fleet_metrics(v, fleet)[metric]) for at, v in observations.history(db, "hashprice", since)
        ]
    else:
        points = observations.history(db, metric, since)
        if held_until_next_filing(metric):
            # debt.<ticker> holds until the next filing: the value in force when the window opens
            start = observations.value_at_or_before(db, metric, since)
            if start is not None and (not points or points[0][0] > since):
                points = [(since, start), *points]
            if now is not None and points and points[-1][0] < now:
                points = [*points, (now, points[-1][1])]
    return ChartData(
        metric,
        points,
        chat_thresholds(db, chat_id, metric),
        chat_zone(db, chat_id),
        conversion_lines(db, metric),
    )


def conversion_lines(db: Any, metric: str) -> list[ReferenceLine]:
    """On ``stock.<ticker>``: the conversion price of each convertible outstanding and its soft-call
    trigger where the filing states one (issue 15)."""
    parts = equity.split_metric(metric)
    if parts is None or parts[0] != equity.PRICE_FAMILY:
        return []
    ledger = ledger_store.load_ledger(db, parts[1].upper())
    what = {"conversion": "conversion", "soft_call": "soft-call trigger"}
    return [
        ReferenceLine(level.price_usd, f"{level.instrument}: {what[level.kind]} ${level.price_usd:,.2f}")
        for level in equity.levels(ledger)
    ]
