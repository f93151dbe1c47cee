"""The runner: scheduler tick -> watcher.poll -> ingest. Watchers only fetch; this owns what
happens around a poll (Home Assistant's coordinator): it turns every failure into health state,
logs a source going down once and its recovery once, and hands a successful poll to ingest."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp

from bot.engine.dbworker import DbWorker
from bot.engine.ingest import check_stale, ingest
from bot.engine.rule_eval import IngestOptions
from storage import watcher_state
from watchers.base import PollContext, PollResult, SourceError, Watcher

logger = logging.getLogger(__name__)


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


class Pipeline:
    def __init__(self, db: DbWorker, clock: Callable[[], datetime], opts: IngestOptions) -> None:
        self.db = db
        self.clock = clock
        self.opts = opts
        # One poll of a watcher at a time, whoever asks: APScheduler's max_instances covers only
        # its own job, not a block-driven poll started by a push source (bot/push.py).
        self._locks: dict[str, asyncio.Lock] = {}
        self.last_result: dict[str, PollResult] = {}  # each watcher's last successful poll

    def lock(self, watcher_id: str) -> asyncio.Lock:
        return self._locks.setdefault(watcher_id, asyncio.Lock())

    async def run_watcher(self, watcher: Watcher, session: aiohttp.ClientSession) -> PollOutcome:
        async with self.lock(watcher.id):
            return await self._run(watcher, session)

    async def _run(self, watcher: Watcher, session: aiohttp.ClientSession) -> PollOutcome:
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
        self.last_result[watcher.id] = result
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
