"""The runner: scheduler tick -> watcher.poll -> ingest. Watchers only fetch; this owns what
happens around a poll (Home Assistant's coordinator): it turns every failure into health state,
logs a source going down once and its recovery once, and hands a successful poll to ingest."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlite_utils import Database

from bot.engine.dbworker import DbWorker
from bot.engine.ingest import check_stale, ingest, stale_chat_rules, stale_metrics
from bot.engine.routing import collecting
from bot.engine.rule_eval import IngestOptions, evaluate_rule_row
from bot.engine.rulecache import Judged, RuleCache
from rules.data import Observation
from storage import observations, watcher_state
from storage import rules as rule_store
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
    evaluated: int = 0  # rules evaluated in memory
    transitions: int = 0  # alert states written
    seconds: float = 0.0  # the whole run: fetch, evaluation, write
    db_seconds: float = 0.0  # the database thread held by the poll's write


def newest_by_metric(result: PollResult) -> dict[str, Observation]:
    """The newest value per metric: the one rules judge."""
    latest: dict[str, Observation] = {}
    for obs in result.observations:
        if obs.metric not in latest or obs.at >= latest[obs.metric].at:
            latest[obs.metric] = obs
    return latest


def _references(db: Database, metric: str, windows: set[int], now: datetime) -> dict[int, float | None]:
    """For change rules: the metric's value each window ago, looked up once per window."""
    return {w: observations.value_at_or_before(db, metric, now - timedelta(seconds=w)) for w in windows}


def _stale_on_db(
    db: Database, metrics: list[tuple[str, datetime, str]], now: datetime, opts: IngestOptions, judged: Judged
) -> int:
    """One transaction: the in-memory decisions on stale metrics, and the rest the classic way."""
    with db.atomic(), collecting(db, now) as batch:  # one pass: a chat's notices are grouped
        judged.write(db, now)
        for metric, at, source in metrics:
            stale_chat_rules(db, metric, at, source, now, opts)  # curtail and fleet rules on it
            if metric in judged.metrics:
                continue
            for row in rule_store.rules_for_metric(db, metric):
                evaluate_rule_row(db, row, None, source, {}, now, opts, stale_since=at)
    return batch.queued


class Pipeline:
    def __init__(
        self, db: DbWorker, clock: Callable[[], datetime], opts: IngestOptions, *, cache: bool = True
    ) -> None:
        self.db = db
        self.clock = clock
        self.opts = opts
        # Rules and states of observed metrics in memory (None: every poll reads them from the db).
        self.cache: RuleCache | None = RuleCache() if cache else None
        # One evaluation at a time: polls of different watchers and the stale check share the cache.
        self._engine_lock = asyncio.Lock()
        # One poll of a watcher at a time, whoever asks: APScheduler's max_instances covers only
        # its own job, not a block-driven poll started by a push source (bot/push.py).
        self._locks: dict[str, asyncio.Lock] = {}
        self.last_result: dict[str, PollResult] = {}  # each watcher's last successful poll

    def lock(self, watcher_id: str) -> asyncio.Lock:
        return self._locks.setdefault(watcher_id, asyncio.Lock())

    async def _load(self, metrics: list[str]) -> int:
        """Bring the cache up to date and load the metrics it does not hold yet, a page per
        database call (so commands interleave). Returns the change log position."""
        assert self.cache is not None
        seq = await self.db(self.cache.sync)
        for metric in metrics:
            if not self.cache.owns(metric) or metric in self.cache.loaded:
                continue
            await self.cache.load(self.db, metric)
        return seq

    async def warm(self) -> int:
        """Load the rules of every metric a threshold or change rule watches, at start, so the
        first poll evaluates instead of loading (6.4 s at a million rules). Returns how many
        metrics were loaded. A poll that comes first waits on the engine lock, then finds them."""
        if self.cache is None:
            return 0
        metrics = await self.db(rule_store.judged_metrics)
        async with self._engine_lock:
            await self._load(metrics)
        return sum(1 for m in metrics if m in self.cache.loaded)

    async def judge(self, latest: dict[str, Observation], now: datetime) -> Judged | None:
        """Evaluate the rules on ``latest`` in memory, off the database thread."""
        if self.cache is None:
            return None
        seq = await self._load(list(latest))
        judged = Judged(seq)
        snapshot = {m: o.value for m, o in latest.items()}
        for metric, obs in latest.items():
            if not self.cache.owns(metric):
                continue
            windows = self.cache.change_windows(metric)
            refs = await self.db(_references, metric, windows, now) if windows else {}
            await self.cache.evaluate(judged, metric, obs.value, obs.source, snapshot, now, self.opts, refs)
        return judged

    async def run_watcher(self, watcher: Watcher, session: aiohttp.ClientSession) -> PollOutcome:
        started = time.perf_counter()
        async with self.lock(watcher.id):
            outcome = await self._run(watcher, session)
        outcome.seconds = time.perf_counter() - started
        return outcome

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
        async with self._engine_lock:
            judged = await self.judge(newest_by_metric(result), now)
            t_db = time.perf_counter()
            new_events, queued = await self.db(ingest, watcher.id, result, state, now, self.opts, judged)
            db_seconds = time.perf_counter() - t_db
            if judged is not None:
                judged.apply()  # committed: memory follows
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
            failing_since=was_failing,  # with recovered: since when it had failed
            evaluated=judged.evaluated if judged else 0,
            transitions=judged.written if judged else 0,
            db_seconds=db_seconds,
        )

    async def check_stale(self) -> int:
        """Rules whose metric has had no fresh value for ``stale_after`` say so once."""
        now = self.clock()
        if self.cache is None:
            return await self.db(check_stale, now, self.opts)
        async with self._engine_lock:
            stale = await self.db(stale_metrics, now, self.opts)
            if not stale:
                return 0
            judged = Judged(await self._load([m for m, _, _ in stale]))
            for metric, at, source in stale:
                if self.cache.owns(metric):
                    await self.cache.evaluate(
                        judged, metric, None, source, {}, now, self.opts, {}, stale_since=at
                    )
            queued = await self.db(_stale_on_db, stale, now, self.opts, judged)
            judged.apply()
            return queued

    def cache_stats(self) -> dict[str, Any]:
        return {} if self.cache is None else {"rules": len(self.cache), "metrics": len(self.cache.loaded)}
