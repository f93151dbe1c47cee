"""First-start history: a year of difficulty and hashrate from mempool, stored once."""

from __future__ import annotations

import logging

from bot.services import Services
from storage import observations
from watchers.base import SourceError
from watchers.network import backfill

logger = logging.getLogger(__name__)


async def backfill_history(svc: Services) -> int:
    """On first start, a year of difficulty and hashrate history from mempool, so charts and
    change-over-window rules have data from day one. Runs once: skipped when history exists."""
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
