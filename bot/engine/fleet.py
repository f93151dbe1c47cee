"""Per-chat fleet economics (breakeven, margin, profit) and the curtail signal: derived for each
chat from hashprice, its /fleet and its power hub, then judged like any metric."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlite_utils import Database

from bot.engine.rule_eval import IngestOptions, evaluate_rule_row
from rules.catalogue import lookup
from rules.fleet import curtail_margin_usd_per_mwh, fleet_metrics
from storage import observations
from storage import rules as rule_store

CHAT_METRICS = ("breakeven", "margin", "profit")


def evaluate_chat_metrics(
    db: Database, snapshot: Mapping[str, float], source: str, now: datetime, opts: IngestOptions
) -> int:
    """Per-chat fleet economics (breakeven, margin, profit) follow hashprice."""
    if "hashprice" not in snapshot:
        return 0
    queued = 0
    for metric in CHAT_METRICS:
        for row in rule_store.rules_for_metric(db, metric):
            if row.settings.fleet is None:
                continue
            values = fleet_metrics(snapshot["hashprice"], row.settings.fleet)
            chat_snapshot = {**snapshot, **values}
            queued += evaluate_rule_row(db, row, values[metric], source, chat_snapshot, now, opts)
    return queued


def evaluate_curtail(
    db: Database, snapshot: Mapping[str, float], source: str, now: datetime, opts: IngestOptions
) -> int:
    """The curtail signal: per chat, the real-time price at its hub minus its fleet's breakeven
    (``curtail.margin``, USD/MWh). Fires when power costs more than mining earns; resolves ("mine
    again") when it is back below. Evaluated whenever power or hashprice moves."""
    queued = 0
    for row in rule_store.rules_for_metric(db, "curtail.margin"):
        fleet, hub = row.settings.fleet, row.settings.hub
        if fleet is None or not hub:
            continue
        power_metric = f"power.{hub.lower()}"
        info = lookup(power_metric)
        if info is not None and info.unit != "USD/MWh":
            continue  # a price in another currency (AESO's CAD) is never compared with a USD breakeven
        power = _current(db, snapshot, power_metric)
        hashprice = _current(db, snapshot, "hashprice")
        if power is None or hashprice is None:
            continue
        breakeven = fleet_metrics(hashprice, fleet)["breakeven"]
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
