"""First-start history: a year of difficulty and hashrate from mempool, and a year of daily closes
for each watched stock from Yahoo, each loaded once.

Three things make it reliable (issue 13 item 7):

- **Before the first poll.** The scheduler arms :class:`HistoryLoader` (bot/jobs.py) and runs its
  job first; the scheduled polls of a watcher whose history is being loaded skip their ticks until
  the load's first attempt is over (:meth:`HistoryLoader.holds`, bounded).
- **Not skipped by a race.** "Loaded" is a marker written after a load succeeds (``watcher_state``
  row ``history-backfill``), never "some observation of the metric exists": the first poll stores a
  live value within seconds, and a check on that would skip the year for good. Storing is an
  idempotent upsert on (metric, at, source), so a load that overlaps live values is harmless.
- **Retried with back-off.** A failed part is retried after 1, 2, 4 … minutes (capped at an hour),
  on the injected clock: the ``history:backfill`` job ticks often and :meth:`HistoryLoader.run_due`
  attempts only the parts that are due. After :data:`MAX_ATTEMPTS` the part gives up until the next
  start; the live watchers fill the series from then on.

Each attempt is logged: start, source, rows stored, duration.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rules.data import Observation
from storage import observations, watcher_state
from watchers.base import SourceError
from watchers.network import backfill as network_backfill
from watchers.quotes import history as quote_history

if TYPE_CHECKING:
    from bot.services import Services

logger = logging.getLogger(__name__)

STATE_ID = "history-backfill"  # watcher_state row: which parts are loaded, when, how many rows
HISTORY_KEY = "history_loader"  # bot_data key of the running bot's loader
BASE_DELAY_S = 60
MAX_DELAY_S = 3600
MAX_ATTEMPTS = 10  # 1+2+4+…+60 min: about six hours of trying, then wait for the next start
READY_WAIT_S = 120.0  # the longest polls wait for the first attempt (real seconds, a guard)
GATED_WATCHERS = {"network": "network", "quotes": "stocks"}  # watcher id -> the part it waits for


def retry_delay(attempts: int) -> timedelta:
    """Back-off after ``attempts`` failures: 1 min, 2, 4, … capped at an hour."""
    return timedelta(seconds=min(MAX_DELAY_S, BASE_DELAY_S * 2 ** max(0, attempts - 1)))


@dataclass
class _Part:
    name: str
    source: str
    attempts: int = 0
    next_at: datetime | None = None  # None: due now
    finished: bool = False  # loaded, nothing to load, or given up


Fetch = Callable[["Services", list[str]], Awaitable[list[Observation]]]


class HistoryLoader:
    """The first-start history load of one running bot: its parts, their retries and the gate the
    first polls wait on."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.parts = {"network": _Part("network", "mempool"), "stocks": _Part("stocks", "yahoo")}
        self._ready = {name: asyncio.Event() for name in self.parts}
        self._armed = time.monotonic()

    @property
    def finished(self) -> bool:
        return all(p.finished for p in self.parts.values())

    def holds(self, watcher_id: str) -> bool:
        """Whether a watcher's poll should wait for its history's first attempt: True until that
        attempt is over, at most :data:`READY_WAIT_S` after the loader was made (a guard on the
        monotonic clock, so a stuck load never stops the live data). The scheduled poll skips its
        tick instead of waiting, so nothing blocks a shutdown."""
        part = GATED_WATCHERS.get(watcher_id)
        if part is None or self._ready[part].is_set():
            return False
        if time.monotonic() - self._armed > READY_WAIT_S:
            logger.warning("history backfill: %s not done after %.0f s; polling anyway", part, READY_WAIT_S)
            self._ready[part].set()
            return False
        return True

    async def run_due(self) -> int:
        """Attempt every part that is due on the injected clock; returns the observations stored."""
        stored = 0
        for part in self.parts.values():
            if part.finished or (part.next_at is not None and self.svc.clock() < part.next_at):
                continue
            try:
                stored += await self._attempt(part)
            finally:
                self._ready[part.name].set()
        return stored

    async def _attempt(self, part: _Part) -> int:
        svc = self.svc
        todo = await _todo(svc, part.name)
        if todo is None or svc.session is None:
            part.finished = True
            return 0
        part.attempts += 1
        started = time.monotonic()
        logger.info(
            "history backfill: %s from %s started (attempt %d%s)",
            part.name,
            part.source,
            part.attempts,
            f", {','.join(todo)}" if todo else "",
        )
        try:
            history = await (_network if part.name == "network" else _stocks)(svc, todo)
            stored = await svc.db(observations.insert_observations, history)
            await svc.db(_mark_loaded, part.name, todo, stored, svc.clock())
        except Exception as err:  # any failure is retried: the year is worth a few more requests
            message = err.message if isinstance(err, SourceError) else f"{type(err).__name__}: {err}"
            if part.attempts >= MAX_ATTEMPTS:
                part.finished = True
                logger.error(
                    "history backfill: %s from %s failed %d times (%s); giving up until the next start",
                    part.name,
                    part.source,
                    part.attempts,
                    message,
                )
            else:
                delay = retry_delay(part.attempts)
                part.next_at = svc.clock() + delay
                logger.warning(
                    "history backfill: %s from %s failed after %.1f s (%s); retry in %d min",
                    part.name,
                    part.source,
                    time.monotonic() - started,
                    message,
                    delay.total_seconds() // 60,
                )
            return 0
        part.finished = True
        logger.info(
            "history backfill: %s from %s stored %d observations in %.1f s",
            part.name,
            part.source,
            stored,
            time.monotonic() - started,
        )
        return stored


async def _todo(svc: Services, part: str) -> list[str] | None:
    """What a part still has to load: None when nothing (not watched, or loaded before); for
    stocks, the watched tickers not loaded yet (a ticker added later gets its year on the next
    start)."""
    state = await svc.db(watcher_state.load_state, STATE_ID)
    if part == "network":
        watched = any(sw.watcher.id == "network" for sw in svc.watchers)
        return [] if watched and "network" not in state else None
    quotes = next((sw.watcher for sw in svc.watchers if sw.watcher.id == "quotes"), None)
    loaded = state.get("stocks", {})
    missing = [t for t in getattr(quotes, "tickers", []) if t not in loaded]
    return missing or None


async def _network(svc: Services, _todo: list[str]) -> list[Observation]:
    assert svc.session is not None
    return await network_backfill(svc.session, svc.settings.sources.mempool, svc.clock())


async def _stocks(svc: Services, tickers: list[str]) -> list[Observation]:
    assert svc.session is not None
    return await quote_history.backfill(svc.session, svc.settings.sources.yahoo, tickers, svc.clock())


def _mark_loaded(db: Any, part: str, tickers: list[str], stored: int, now: datetime) -> None:
    state = dict(watcher_state.load_state(db, STATE_ID))
    entry = {"loaded_at": now.isoformat(), "rows": stored}
    if part == "network":
        state["network"] = entry
    else:
        state["stocks"] = {**state.get("stocks", {}), **{t: entry for t in tickers}}
    watcher_state.save_success(db, STATE_ID, state, now)


def history_loader(bot_data: dict[Any, Any], svc: Services) -> HistoryLoader:
    """The running bot's loader, made on first use (the scheduler makes it before any poll)."""
    loader = bot_data.get(HISTORY_KEY)
    if not isinstance(loader, HistoryLoader):
        loader = bot_data[HISTORY_KEY] = HistoryLoader(svc)
    return loader


async def backfill_history(svc: Services) -> int:
    """One attempt at every part not loaded yet (no retries): the CLI and older callers."""
    return await HistoryLoader(svc).run_due()


def loaded_state(db: Any) -> dict[str, Any]:
    """The ``history-backfill`` marker: which parts are loaded (for tests and /status)."""
    return dict(watcher_state.load_state(db, STATE_ID))
