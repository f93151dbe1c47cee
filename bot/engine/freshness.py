"""How old a stored value is, and whether it is stale: the rule the "no data" check applies
(bot/engine/ingest.stale_metrics), in one place that /status and the pinned status can ask too.

A stock (and what is derived from it) only moves while the US market is open, so its age counts in
trading time: a Friday close is not stale all weekend. A miner's production figures come monthly
or quarterly and a debt figure holds until the next filing: those are never stale."""

from __future__ import annotations

from datetime import datetime

from bot.engine import equity
from rules.catalogue import held_until_next_filing
from rules.market_calendar import open_seconds_between
from rules.production import is_production_metric


def age_s(metric: str, at: datetime, now: datetime) -> float:
    """Seconds since ``at`` that count for staleness (trading seconds for market metrics)."""
    if equity.is_market_metric(metric):
        return open_seconds_between(at, now)
    return (now - at).total_seconds()


def is_stale(metric: str, at: datetime, now: datetime, stale_after_s: float) -> bool:
    """True when ``metric``'s last value (observed ``at``) is as old as the "no data" limit."""
    if is_production_metric(metric) or held_until_next_filing(metric):
        return False
    return age_s(metric, at, now) >= stale_after_s
