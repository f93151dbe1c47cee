"""Yahoo Finance chart JSON: the default quote source (no key).

``GET {base_url}/v8/finance/chart/{TICKER}?interval=1d&range=5d`` (what yfinance reads) ->
``{"chart": {"result": [{"meta": {"currency", "symbol", "exchangeName", "instrumentType",
"regularMarketPrice", "regularMarketTime", "chartPreviousClose", ...}, "timestamp": [...],
"indicators": {...}}], "error": null}}``. Only ``meta`` is read: ``regularMarketPrice`` is the last
regular-session trade (the close once the session is over; extended hours are not in it) and
``regularMarketTime`` its time in epoch seconds. An unknown symbol answers ``chart.result: null``
and ``chart.error: {"code": "Not Found", "description": ...}`` (seen with HTTP 200 and 404).

Yahoo publishes no limit. Bursts (about six requests in ten seconds) and clients without a
User-Agent get HTTP 429 with a plain-text body (``Too Many Requests`` or ``Edge: Too Many
Requests``), and a tripped limit stays tripped for minutes: requests are spaced by
``min_interval_s`` and a 429 or any non-JSON answer marks the source down for ``backoff``
(doubling on repeats). Fixtures and their provenance: tests/fixtures/quotes/PROVENANCE.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from rules import market_calendar
from rules.durations import Duration
from watchers.base import SourceError, request_bytes, require_number
from watchers.quotes.common import Quote, SourceDown, positive_price, same_symbol

SOURCE = "yahoo"
# Yahoo answers 429 to clients that send no or a tool-like User-Agent; a "compatible" browser
# token with the bot's name is accepted (reports in the PROVENANCE file) and stays honest.
DEFAULT_USER_AGENT = "Mozilla/5.0 (compatible; MinerWatch/0.1; +https://github.com/minerwatch/minerwatch)"


class YahooSourceConfig(BaseModel):
    """``[sources.yahoo]``."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://query1.finance.yahoo.com"  # query2.finance.yahoo.com serves the same
    user_agent: str = DEFAULT_USER_AGENT
    timeout_s: float = Field(default=20.0, gt=0, le=300)
    min_interval_s: float = Field(default=1.0, ge=0, le=60)  # spacing between two requests
    backoff: Duration = 15 * 60  # after a 429 or a non-JSON answer; doubles on repeats, up to 2 h


def parse_chart(payload: Any, ticker: str) -> Quote:
    """The regular-session price and its time from a chart answer for ``ticker``."""
    chart = payload.get("chart") if isinstance(payload, Mapping) else None
    if not isinstance(chart, Mapping):
        raise SourceError(SOURCE, f"{ticker}: answer has no 'chart' object")
    error = chart.get("error")
    if error:
        if isinstance(error, Mapping):
            text = ": ".join(str(error.get(k)) for k in ("code", "description") if error.get(k))
        else:
            text = str(error)
        raise SourceError(SOURCE, f"{ticker}: {text[:120] or 'error'}")
    results = chart.get("result")
    if not isinstance(results, list) or not results or not isinstance(results[0], Mapping):
        raise SourceError(SOURCE, f"{ticker}: answer has no chart result")
    meta = results[0].get("meta")
    if not isinstance(meta, Mapping):
        raise SourceError(SOURCE, f"{ticker}: chart result has no 'meta'")
    same_symbol(meta.get("symbol"), ticker, source=SOURCE)
    if meta.get("currency") != "USD":
        raise SourceError(SOURCE, f"{ticker}: price is in {meta.get('currency')!r}, not USD")
    price = positive_price(require_number(meta, "regularMarketPrice", source=SOURCE), ticker, source=SOURCE)
    epoch = require_number(meta, "regularMarketTime", source=SOURCE)
    if epoch <= 0:
        raise SourceError(SOURCE, f"{ticker}: regularMarketTime {epoch:g} is not a time")
    delay = meta.get("exchangeDataDelayedBy")  # minutes; present in some answers only
    realtime = None if isinstance(delay, bool) or not isinstance(delay, int | float) else delay == 0
    return Quote(ticker, price, datetime.fromtimestamp(epoch, UTC), SOURCE, realtime)


async def fetch(session: aiohttp.ClientSession, cfg: YahooSourceConfig, ticker: str) -> Quote:
    url = f"{cfg.base_url.rstrip('/')}/v8/finance/chart/{ticker}"
    try:
        resp, body = await request_bytes(
            session,
            "GET",
            url,
            source=SOURCE,
            params={"interval": "1d", "range": "5d"},
            headers={"User-Agent": cfg.user_agent, "Accept": "application/json"},
            timeout_s=cfg.timeout_s,
        )
    except SourceError as err:  # timeout, connection refused: every ticker would wait the same
        raise SourceDown(SOURCE, err.message, backoff_s=cfg.backoff) from err
    text = body[:80].decode("utf-8", "replace").strip()
    if resp.status == 429:
        raise SourceDown(SOURCE, f"HTTP 429 rate limited ({text or 'no body'})", backoff_s=cfg.backoff)
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        kind = "an HTML page" if body.lstrip()[:1] == b"<" else f"plain text ({text[:60]!r})"
        raise SourceDown(
            SOURCE, f"HTTP {resp.status}: {kind} instead of JSON", backoff_s=cfg.backoff
        ) from err
    if resp.status != 200 and not (resp.status == 404 and isinstance(payload, Mapping)):
        raise SourceError(SOURCE, f"{ticker}: HTTP {resp.status}")
    return parse_chart(payload, ticker)


def parse_daily_closes(payload: Any, ticker: str, now: datetime) -> list[tuple[datetime, float]]:
    """(session close time, close) per completed session of a daily chart (``interval=1d``), oldest
    first. Yahoo stamps a daily bar with its session's open; the value holds at the close, so it is
    stamped with that session's close from the calendar. The bar of a session still in progress at
    ``now`` is left out (its "close" is the last trade), so are null closes (no value stated). A bar
    on a day that was no session, a non-positive close or arrays of different lengths are garbage."""
    parse_chart(payload, ticker)  # the same envelope, symbol and currency checks as a quote
    result = payload["chart"]["result"][0]
    stamps = result.get("timestamp") or []
    quotes = (result.get("indicators") or {}).get("quote") or [{}]
    closes = quotes[0].get("close") if isinstance(quotes[0], Mapping) else None
    if not isinstance(stamps, list) or not isinstance(closes, list) or len(stamps) != len(closes):
        raise SourceError(SOURCE, f"{ticker}: daily chart has {len(stamps)} times but no matching closes")
    out: list[tuple[datetime, float]] = []
    for stamp, close in zip(stamps, closes, strict=True):
        if close is None:
            continue
        when = datetime.fromtimestamp(require_number({"t": stamp}, "t", source=SOURCE), UTC)
        session = market_calendar.session(market_calendar.exchange_date(when))
        if session is None:
            raise SourceError(SOURCE, f"{ticker}: daily bar on {when.date()}, which was no trading day")
        if session.close > now:
            continue
        value = require_number({"close": close}, "close", source=SOURCE)
        out.append((session.close, positive_price(value, ticker, source=SOURCE)))
    return out
