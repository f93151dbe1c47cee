"""First-start history: a year of difficulty and hashrate from mempool, and a year of daily closes
for each watched stock from Yahoo, each stored once."""

from __future__ import annotations

import logging

from bot.services import Services
from storage import observations
from watchers.base import SourceError
from watchers.network import backfill
from watchers.quotes import history as quote_history
from watchers.quotes.watcher import metric_for

logger = logging.getLogger(__name__)


async def backfill_history(svc: Services) -> int:
    """On first start, a year of history so charts and change-over-window rules have data from day
    one: difficulty and hashrate from mempool, daily closes of every watched stock from Yahoo. Each
    part runs once: skipped when its history exists. Returns the observations stored."""
    return await _network(svc) + await _stocks(svc)


async def _network(svc: Services) -> int:
    if not any(sw.watcher.id == "network" for sw in svc.watchers) or svc.session is None:
        return 0
    if await svc.db(observations.latest, "difficulty") is not None:
        return 0
    try:
        history = await backfill(svc.session, svc.settings.sources.mempool, svc.clock())
    except SourceError as err:
        logger.warning("history backfill skipped: %s", err.message)
        return 0
    stored = await svc.db(observations.insert_observations, history)
    logger.info("history backfill: %d observations", stored)
    return stored


async def _stocks(svc: Services) -> int:
    """Daily closes for the watched tickers that have no ``stock.<ticker>`` history yet (a ticker
    added to the list later gets its year on the next start). All or nothing per run: a failure is
    logged and the live watcher fills the series from then on."""
    quotes = next((sw.watcher for sw in svc.watchers if sw.watcher.id == "quotes"), None)
    if quotes is None or svc.session is None:
        return 0
    missing = [
        t for t in getattr(quotes, "tickers", []) if await svc.db(observations.latest, metric_for(t)) is None
    ]
    if not missing:
        return 0
    try:
        history = await quote_history.backfill(svc.session, svc.settings.sources.yahoo, missing, svc.clock())
    except SourceError as err:
        logger.warning("stock history backfill skipped: %s", err.message)
        return 0
    stored = await svc.db(observations.insert_observations, history)
    logger.info("stock history backfill: %d closes for %s", stored, ",".join(missing))
    return stored
