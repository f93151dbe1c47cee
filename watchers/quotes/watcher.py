"""The quotes watcher (issue 15): ``stock.<ticker>`` for each watched miner, in USD, with failover.

Each ticker is asked of the configured sources in priority order (``sources``, default Yahoo,
Finnhub when it has a key, Nasdaq); the first sane answer serves it and names itself in
``Observation.source``. The observation is stamped with the quote's own time, not the poll's.

When it polls (the scheduler calls it every ``every``; the watcher decides from the injected time):

* during the regular session (09:30-16:00 New York, 13:00 on early closes; holidays known, see
  rules/market_calendar.py): every call, one request per ticker;
* once after the close: from 10 minutes after the bell (closing prints settle) until every ticker
  has its closing price, at most 6 tries per session; then nothing until the next open. A bot
  started on a weekend fetches Friday's close once.

One request per ticker per poll, whatever the number of chats or rules, plus at most
``ceil(tickers × every / cross_check_every)`` cross-check requests to a second source, plus one
per suspicious quote. The README works out requests per hour per source.

Rejected (the ticker gets no observation this poll, and the reason is reported in
``PollResult.errors``):

* per source, then the next source is tried: zero, negative or non-numeric prices, HTML or
  plain text instead of JSON, another symbol's or currency's quote, a time in the future, a quote
  older than ``max_age`` of session time while the market is open (stale);
* across sources: a move of more than 50 % from the last accepted price that no second source
  confirms (within ``max_spread_pct``); without any second source reachable, three polls in a row
  agreeing on the new level confirm it, so a real split cannot lock a ticker out for good;
  two sources differing by more than ``max_spread_pct`` (checked for each ticker every
  ``cross_check_every``, on every jump, and on every poll while they disagree).

A source answering 429, a refused key, an HTML/plain-text page or a timeout is marked down for its
``backoff`` (doubling on repeats, at most 2 h) and not asked again until then, by any ticker.

State (``ctx.state``, persisted by the runner after a successful poll): ``last`` (ticker ->
[price, unix s] of the last accepted quote), ``quotes`` (ticker -> the last accepted quote with
its source, time, ``delayed`` and ``session`` flags: what ``/stock`` and ``/status`` can show),
``down`` (source -> until, strikes, reason), ``checked`` (ticker -> unix s of the last
cross-check), ``disputed`` (tickers whose sources disagree), ``pending`` (unconfirmed jumps) and
``after_close`` (the session whose close was fetched and for which tickers).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rules import market_calendar as mc
from rules.data import Observation
from rules.durations import Duration
from watchers.base import PollContext, PollResult, SourceError
from watchers.quotes import finnhub, nasdaq, yahoo
from watchers.quotes.common import TICKER, Quote, SourceDown

logger = logging.getLogger(__name__)

SourceName = Literal["yahoo", "finnhub", "nasdaq"]
WATCHER = "quotes"
MAX_JUMP_PCT = 50.0
JUMP_CONFIRM_POLLS = 3  # without a second source, this many polls in a row confirm a jump ...
JUMP_CONFIRM_TOLERANCE = 0.05  # ... when they agree within 5 %
AFTER_CLOSE_SETTLE = timedelta(minutes=10)
AFTER_CLOSE_TRIES = 6
DELAYED_AFTER_S = 5 * 60  # a quote this much session time behind the poll is marked delayed
FUTURE_SKEW = timedelta(minutes=5)
MAX_BACKOFF_S = 2 * 3600


class QuotesWatcherConfig(BaseModel):
    """``[watchers.quotes]``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    every: Duration = 300
    # None: the filings watcher's list ([watchers.filings] tickers), the miners already watched.
    tickers: list[str] | None = None
    sources: list[SourceName] = Field(default_factory=lambda: ["yahoo", "finnhub", "nasdaq"])
    max_age: Duration = 20 * 60  # while open, an older quote (in session time) is stale
    max_spread_pct: float = Field(default=3.0, gt=0, le=50)
    cross_check_every: Duration = 30 * 60

    @field_validator("tickers")
    @classmethod
    def _check_tickers(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else normalise_tickers(value)

    @field_validator("sources")
    @classmethod
    def _check_sources(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('list at least one source, e.g. ["yahoo", "nasdaq"]')
        if len(set(value)) != len(value):
            raise ValueError("a source is listed twice")
        return value


def normalise_tickers(value: list[str]) -> list[str]:
    """Upper case, well formed, no repeats, at least one; ValueError naming the bad one."""
    out: list[str] = []
    for raw in value:
        ticker = raw.strip().upper()
        if not TICKER.match(ticker):
            raise ValueError(f"{raw!r} is not a US ticker like MARA (letters and digits)")
        if ticker in out:
            raise ValueError(f"{ticker} is listed twice")
        out.append(ticker)
    if not out:
        raise ValueError('list at least one ticker, e.g. ["MARA"]')
    return out


def metric_for(ticker: str) -> str:
    return f"stock.{ticker.lower()}"


def _et(when: datetime) -> str:
    return when.astimezone(mc.NEW_YORK).strftime("%Y-%m-%d %H:%M ET")


class _Errors:
    """One poll's failures per source, identical messages merged: ``"yahoo": "MARA, RIOT: ..."``."""

    def __init__(self) -> None:
        self.by_source: dict[str, dict[str, list[str]]] = {}

    def add(self, source: str, message: str, ticker: str | None = None) -> None:
        if ticker and message.startswith(f"{ticker}: "):
            message = message[len(ticker) + 2 :]
        tickers = self.by_source.setdefault(source, {}).setdefault(message, [])
        if ticker and ticker not in tickers:
            tickers.append(ticker)

    def as_dict(self) -> dict[str, str]:
        return {
            source: "; ".join(f"{', '.join(t)}: {m}" if t else m for m, t in messages.items())
            for source, messages in self.by_source.items()
        }


Fetch = Callable[[aiohttp.ClientSession, str], Awaitable[Quote]]


class QuotesWatcher:
    """Implements :class:`watchers.base.Watcher`; ``sleep`` spaces requests (injected in tests)."""

    id = WATCHER

    def __init__(
        self,
        cfg: QuotesWatcherConfig,
        tickers: list[str],
        yahoo_cfg: yahoo.YahooSourceConfig | None = None,
        finnhub_cfg: finnhub.FinnhubSourceConfig | None = None,
        nasdaq_cfg: nasdaq.NasdaqSourceConfig | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.cfg = cfg
        self.tickers = normalise_tickers(tickers)
        self.yahoo = yahoo_cfg or yahoo.YahooSourceConfig()
        self.finnhub = finnhub_cfg or finnhub.FinnhubSourceConfig()
        self.nasdaq = nasdaq_cfg or nasdaq.NasdaqSourceConfig()
        self._sleep = sleep
        # Down marks also live here: a poll that fails as a whole is not persisted by the runner,
        # and a rate-limited source must not be asked again at the next call all the same.
        self._down: dict[str, dict[str, Any]] = {}

    # -- sources -------------------------------------------------------------------------------

    def _fetchers(self) -> dict[str, tuple[Fetch, float]]:
        """Usable sources in priority order -> (fetch, spacing s). Finnhub needs its key."""
        table: dict[str, tuple[Fetch, float]] = {
            "yahoo": (lambda s, t: yahoo.fetch(s, self.yahoo, t), self.yahoo.min_interval_s),
            "finnhub": (lambda s, t: finnhub.fetch(s, self.finnhub, t), self.finnhub.min_interval_s),
            "nasdaq": (lambda s, t: nasdaq.fetch(s, self.nasdaq, t), self.nasdaq.min_interval_s),
        }
        return {name: table[name] for name in self.cfg.sources if name != "finnhub" or self.finnhub.usable}

    # -- polling -------------------------------------------------------------------------------

    async def poll(self, ctx: PollContext) -> PollResult:
        now = ctx.now.astimezone(UTC)
        state = ctx.state
        result = PollResult()
        is_open = mc.is_open(now)
        if is_open:
            due = list(self.tickers)
            closing: mc.Session | None = None
        else:
            due, closing = self._after_close_due(state, now)
        self._merge_down(state)
        if not due:
            state["down"] = self._down
            return result

        run = _Run(self, ctx.session, now, state, is_open)
        cross = self._cross_check_selection(state, due, now, closing is not None)
        for ticker in due:
            quote = await run.ticker(ticker, cross_check=ticker in cross)
            if quote is None:
                continue
            result.observations.append(Observation(metric_for(ticker), quote.price, quote.at, quote.source))
            note = run.note(quote)
            if note:
                result.notes[metric_for(ticker)] = note
            if closing is not None:
                state["after_close"]["done"].append(ticker)

        state["down"] = self._down
        result.errors = run.errors.as_dict()
        # Nothing quoted: the watcher is failing (the runner tells the admins), unless this is an
        # after-close retry for the few tickers still missing their close: then it is reported only,
        # and the state (tries) is kept so the retries stop after AFTER_CLOSE_TRIES.
        retry = closing is not None and state["after_close"]["tries"] > 1
        if not result.observations and not retry:
            summary = "; ".join(f"{s}: {m}" for s, m in result.errors.items()) or "no source usable"
            raise SourceError(WATCHER, f"no ticker could be quoted ({summary})")
        return result

    def _after_close_due(self, state: dict[str, Any], now: datetime) -> tuple[list[str], mc.Session | None]:
        """Tickers still missing the last session's closing price, or [] when nothing is due."""
        last = mc.last_completed_session(now)
        record = state.get("after_close")
        if now < last.close + AFTER_CLOSE_SETTLE:
            # closing prints are still settling; a first run ever (`once`, a fresh install) shows
            # the last price all the same, without counting as the after-close poll
            return (list(self.tickers), None) if not record and not state.get("last") else ([], None)
        if not isinstance(record, dict) or record.get("day") != last.day.isoformat():
            record = {"day": last.day.isoformat(), "done": [], "tries": 0}
        state["after_close"] = record
        todo = [t for t in self.tickers if t not in record["done"]]
        if not todo or record["tries"] >= AFTER_CLOSE_TRIES:
            return [], None
        record["tries"] += 1
        return todo, last

    def _merge_down(self, state: dict[str, Any]) -> None:
        stored = state.get("down")
        if isinstance(stored, dict):
            for name, mark in stored.items():
                mine = self._down.get(name)
                if isinstance(mark, dict) and (mine is None or mark.get("until", 0) > mine.get("until", 0)):
                    self._down[name] = dict(mark)

    def _cross_check_selection(
        self, state: dict[str, Any], due: list[str], now: datetime, after_close: bool
    ) -> set[str]:
        """Which tickers are also asked of a second source this poll: all of them after the close
        (once a day), else the most overdue ones, just enough that each is checked every
        ``cross_check_every``, plus every ticker whose sources disagreed last time."""
        disputed = {t for t in state.get("disputed", []) if t in due}
        if after_close:
            return set(due)
        checked = state.setdefault("checked", {})
        now_s = now.timestamp()
        overdue = [t for t in due if now_s - checked.get(t, 0) >= self.cfg.cross_check_every]
        overdue.sort(key=lambda t: (checked.get(t, 0), due.index(t)))
        per_poll = max(1, math.ceil(len(self.tickers) * self.cfg.every / self.cfg.cross_check_every))
        return set(overdue[:per_poll]) | disputed


class _Run:
    """One poll: asks sources with spacing, marks them down, checks quotes, records state."""

    def __init__(
        self,
        watcher: QuotesWatcher,
        session: aiohttp.ClientSession,
        now: datetime,
        state: dict[str, Any],
        is_open: bool,
    ) -> None:
        self.w = watcher
        self.session = session
        self.now = now
        self.state = state
        self.is_open = is_open
        self.fetchers = watcher._fetchers()
        self.errors = _Errors()
        self.asked: set[str] = set()  # sources asked at least once in this poll (for spacing)

    def _usable(self, name: str) -> bool:
        mark = self.w._down.get(name)
        # once the backoff is over it is asked again (its strikes stay until it answers)
        return mark is None or mark.get("until", 0) <= self.now.timestamp()

    def _mark_down(self, err: SourceDown) -> None:
        mark = self.w._down.get(err.source, {})
        strikes = int(mark.get("strikes", 0)) + 1
        # doubling on repeats up to 2 h; a longer stated backoff (a refused key: 6 h) stands
        backoff = max(err.backoff_s, min(MAX_BACKOFF_S, err.backoff_s * 2 ** (strikes - 1)))
        until = self.now.timestamp() + backoff
        self.w._down[err.source] = {"until": until, "strikes": strikes, "reason": err.message}
        logger.warning("quotes: %s down for %.0f s: %s", err.source, backoff, err.message)

    async def _ask(self, name: str, ticker: str) -> Quote:
        fetch, spacing = self.fetchers[name]
        if name in self.asked and spacing > 0:
            await self.w._sleep(spacing)  # bursts are what trips Yahoo's limit
        self.asked.add(name)
        quote = await fetch(self.session, ticker)
        self._check_time(quote)
        self.w._down.pop(name, None)  # it answered: strikes reset
        return quote

    def _check_time(self, quote: Quote) -> None:
        if quote.at > self.now + FUTURE_SKEW:
            raise SourceError(quote.source, f"{quote.ticker}: quote time {_et(quote.at)} is in the future")
        age = mc.open_seconds_between(quote.at, self.now)
        if age > self.w.cfg.max_age:
            raise SourceError(
                quote.source,
                f"{quote.ticker}: quote from {_et(quote.at)} is {age / 60:.0f} min of session time old: "
                "stale",
            )

    async def first_quote(self, ticker: str, tried: set[str]) -> Quote | None:
        """The first sane quote for ``ticker`` from the sources in order that are not in ``tried``
        (each source asked is added to it: a second opinion never comes from the same source)."""
        for name in self.fetchers:
            if name in tried:
                continue
            tried.add(name)
            if not self._usable(name):
                mark = self.w._down[name]
                until = datetime.fromtimestamp(mark["until"], UTC).strftime("%H:%M UTC")
                self.errors.add(name, f"down until {until}: {mark.get('reason', '')}")
                continue
            try:
                return await self._ask(name, ticker)
            except SourceDown as err:
                self._mark_down(err)
                self.errors.add(err.source, err.message)
            except SourceError as err:
                self.errors.add(err.source, err.message, ticker)
        return None

    async def ticker(self, ticker: str, *, cross_check: bool) -> Quote | None:
        tried: set[str] = set()
        quote = await self.first_quote(ticker, tried)
        if quote is None:
            return None
        last = self.state.setdefault("last", {}).get(ticker)
        jump = None
        if last and last[0] > 0:
            change = (quote.price / last[0] - 1) * 100
            jump = change if abs(change) > MAX_JUMP_PCT else None
        disputed = set(self.state.get("disputed", []))
        if jump is not None or cross_check:
            other = await self.first_quote(ticker, tried)
            if other is not None:
                spread = abs(quote.price - other.price) / min(quote.price, other.price) * 100
                if spread > self.w.cfg.max_spread_pct:
                    self.errors.add(
                        WATCHER,
                        f"{quote.source} ${quote.price:,.2f} and {other.source} ${other.price:,.2f} "
                        f"differ by {spread:.1f}% (> {self.w.cfg.max_spread_pct:g}%): not updated",
                        ticker,
                    )
                    self.state["disputed"] = sorted(disputed | {ticker})
                    return None
                self.state.setdefault("checked", {})[ticker] = self.now.timestamp()
                self.state["disputed"] = sorted(disputed - {ticker})
                self.state.get("pending", {}).pop(ticker, None)
                return self._accept(quote, confirmed_by=other.source)
            if jump is not None and not self._jump_confirmed_by_polls(ticker, quote.price):
                self.errors.add(
                    WATCHER,
                    f"{quote.source} ${quote.price:,.2f} moved {jump:+.0f}% from ${last[0]:,.2f} and no "
                    "second source could confirm it: rejected",
                    ticker,
                )
                return None
        return self._accept(quote, confirmed_by=None)

    def _jump_confirmed_by_polls(self, ticker: str, price: float) -> bool:
        pending = self.state.setdefault("pending", {})
        seen = pending.get(ticker)
        if seen is None or abs(price / seen[0] - 1) > JUMP_CONFIRM_TOLERANCE:
            seen = pending[ticker] = [price, 0]
        seen[1] += 1
        if seen[1] < JUMP_CONFIRM_POLLS:
            return False
        logger.warning("quotes: %s jump to %.4g confirmed by %d polls: accepted", ticker, price, seen[1])
        return True

    def _delayed(self, quote: Quote) -> bool:
        if not self.is_open:
            return False
        return quote.realtime is False or mc.open_seconds_between(quote.at, self.now) > DELAYED_AFTER_S

    def _accept(self, quote: Quote, *, confirmed_by: str | None) -> Quote:
        self.state.get("pending", {}).pop(quote.ticker, None)
        self.state["last"][quote.ticker] = [quote.price, quote.at.timestamp()]
        self.state.setdefault("quotes", {})[quote.ticker] = {
            "price": quote.price,
            "at": quote.at.isoformat(),
            "source": quote.source,
            "delayed": self._delayed(quote),
            "session": "open" if self.is_open else "closed",
            "confirmed_by": confirmed_by,
            "polled_at": self.now.isoformat(),
        }
        return quote

    def note(self, quote: Quote) -> str | None:
        if not self.is_open:
            return f"market closed: last price at {_et(quote.at)}"
        if self._delayed(quote):
            return f"delayed: quote from {_et(quote.at)}"
        return None
