"""A year of daily closes per ticker from Yahoo's chart JSON, so ``/chart stock.mara 3mo`` and
change-over-window rules (``stock.mara drops 10% in 1d``) have data from day one.

``GET /v8/finance/chart/{TICKER}?interval=1d&range=1y``: one request per ticker, spaced like the
watcher's. Closes are split-adjusted by Yahoo (``close``; ``adjclose`` also removes dividends and
is not used). Each close is stamped with its session's closing time (rules/market_calendar.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime

import aiohttp

from rules.data import Observation
from watchers.base import SourceError, request_bytes
from watchers.quotes.yahoo import SOURCE, YahooSourceConfig, parse_daily_closes


async def backfill(
    session: aiohttp.ClientSession,
    cfg: YahooSourceConfig,
    tickers: list[str],
    now: datetime,
    *,
    range_: str = "1y",
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> list[Observation]:
    """``stock.<ticker>`` observations for every completed session in ``range_``, oldest first.
    Any failure (429, HTML, garbage) is raised as SourceError: a backfill is all or nothing per
    run, and the caller skips it (the live watcher fills the series from then on)."""
    out: list[Observation] = []
    for i, ticker in enumerate(tickers):
        if i and cfg.min_interval_s > 0:
            await sleep(cfg.min_interval_s)
        resp, body = await request_bytes(
            session,
            "GET",
            f"{cfg.base_url.rstrip('/')}/v8/finance/chart/{ticker}",
            source=SOURCE,
            params={"interval": "1d", "range": range_},
            headers={"User-Agent": cfg.user_agent, "Accept": "application/json"},
            timeout_s=cfg.timeout_s,
        )
        if resp.status != 200:
            raise SourceError(SOURCE, f"{ticker}: history HTTP {resp.status}")
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise SourceError(SOURCE, f"{ticker}: history answer is not JSON") from err
        metric = f"stock.{ticker.lower()}"
        closes = parse_daily_closes(payload, ticker, now)
        out += [Observation(metric, close, at, SOURCE) for at, close in closes]
    out.sort(key=lambda o: (o.at, o.metric))
    return out
