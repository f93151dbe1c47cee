"""Nasdaq.com's quote API: the keyless last resort (undocumented; the website's own JSON).

``GET {base_url}/api/quote/{TICKER}/info?assetclass=stocks`` ->
``{"data": {"symbol", "companyName", "primaryData": {"lastSalePrice": "$266.782", "netChange",
"percentageChange", "deltaIndicator", "lastTradeTimestamp": "DATA AS OF Nov 19, 2019 10:33 AM ET",
"isRealTime": true}, "secondaryData": null | {...}, "keyStats", "marketStatus"}, "message": null,
"status": {"rCode": 200, "bCodeMessage": null, "developerMessage": null}}``.

* Prices are strings with ``$`` and thousands commas (``"$1,270.50"``).
* Pre-market and after hours, ``primaryData`` holds the extended-hours trade and
  ``secondaryData`` the regular close (``"CLOSED AT 4:00 PM ET ON Nov 19, 2019"``): the regular
  close is used, as from every other source. Closed: ``primaryData`` is the close with a date
  only (``"DATA AS OF Nov 19, 2019"``), stamped here with that session's closing time. Newer
  answers drop the ``DATA AS OF`` prefix (``"Jul 27, 2026 12:51 PM ET"``); both are read.
* Errors come with HTTP 200: ``data: null`` and ``status.rCode`` 400 with ``bCodeMessage``
  ``[{"code": 1001, "errorMessage": "Symbol not exists."}]``, or rCode 200 with code 3004 "Error
  while calling vendor". A blocked client gets an "Access Denied" HTML page or a hanging
  connection: the source is marked down for ``backoff``.

Nasdaq publishes no limit; requests are spaced by ``min_interval_s``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from rules import market_calendar
from rules.durations import Duration
from watchers.base import SourceError, request_bytes
from watchers.quotes.common import Quote, SourceDown, positive_price, same_symbol

SOURCE = "nasdaq"
DEFAULT_USER_AGENT = "Mozilla/5.0 (compatible; MinerWatch/0.1; +https://github.com/minerwatch/minerwatch)"

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DATE = re.compile(rf"\b({'|'.join(_MONTH_NAMES)})[a-z]*\.?\s+(\d{{1,2}}),\s*(\d{{4}})\b", re.I)
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})\s*([AP])\.?M\.?", re.I)
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}


class NasdaqSourceConfig(BaseModel):
    """``[sources.nasdaq]``."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://api.nasdaq.com"
    user_agent: str = DEFAULT_USER_AGENT  # bare clients are answered "Access Denied" or left hanging
    timeout_s: float = Field(default=20.0, gt=0, le=300)
    min_interval_s: float = Field(default=1.0, ge=0, le=60)
    backoff: Duration = 30 * 60  # after an HTML block page, a timeout or a 403


def parse_price(raw: Any, ticker: str) -> float:
    """``"$1,270.50"`` -> 1270.5; anything else that is not a positive number is garbage."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise SourceError(SOURCE, f"{ticker}: lastSalePrice is {raw!r}, not a price")
    text = str(raw).strip().replace("$", "").replace(",", "").strip()
    try:
        value = float(text)
    except ValueError as err:
        raise SourceError(SOURCE, f"{ticker}: lastSalePrice {raw!r} is not a price") from err
    if value != value or value in (float("inf"), float("-inf")):
        raise SourceError(SOURCE, f"{ticker}: lastSalePrice {raw!r} is not finite")
    return positive_price(value, ticker, source=SOURCE)


def parse_timestamp(raw: Any, ticker: str) -> datetime:
    """A ``lastTradeTimestamp`` in New York time -> aware UTC. Date only: that session's close."""
    if not isinstance(raw, str):
        raise SourceError(SOURCE, f"{ticker}: lastTradeTimestamp is {raw!r}")
    found = _DATE.search(raw)
    if found is None:
        raise SourceError(SOURCE, f"{ticker}: lastTradeTimestamp {raw!r} has no date")
    try:
        day = date(int(found.group(3)), _MONTHS[found.group(1)[:3].lower()], int(found.group(2)))
    except ValueError as err:
        raise SourceError(SOURCE, f"{ticker}: lastTradeTimestamp {raw!r} is not a date") from err
    clock = _TIME.search(raw)
    if clock is None:
        session = market_calendar.session(day)
        if session is None:
            raise SourceError(SOURCE, f"{ticker}: lastTradeTimestamp {raw!r} is not a trading day")
        return session.close
    hour, minute = int(clock.group(1)), int(clock.group(2))
    if not (1 <= hour <= 12 and minute < 60):
        raise SourceError(SOURCE, f"{ticker}: lastTradeTimestamp {raw!r} has no valid time")
    hour = hour % 12 + (12 if clock.group(3).upper() == "P" else 0)
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=market_calendar.NEW_YORK)
    return local.astimezone(UTC)


def _status_message(payload: Mapping[str, Any]) -> str:
    status = payload.get("status")
    messages = status.get("bCodeMessage") if isinstance(status, Mapping) else None
    if isinstance(messages, list) and messages:
        parts = [
            f"{m.get('errorMessage')} (code {m.get('code')})" if isinstance(m, Mapping) else str(m)
            for m in messages
        ]
        return "; ".join(parts)[:120]
    return "no data"


def parse_info(payload: Any, ticker: str) -> Quote:
    if not isinstance(payload, Mapping):
        raise SourceError(SOURCE, f"{ticker}: answer is a {type(payload).__name__}, not an object")
    status = payload.get("status")
    rcode = status.get("rCode") if isinstance(status, Mapping) else None
    data = payload.get("data")
    if rcode != 200 or not isinstance(data, Mapping):
        raise SourceError(SOURCE, f"{ticker}: rCode {rcode}: {_status_message(payload)}")
    same_symbol(data.get("symbol"), ticker, source=SOURCE)
    secondary = data.get("secondaryData")
    if isinstance(secondary, Mapping) and secondary.get("lastSalePrice"):
        # extended hours: the primary block is the pre/after-hours trade; the regular close is here
        block, realtime = secondary, None
    else:
        block = data.get("primaryData")
        if not isinstance(block, Mapping):
            raise SourceError(SOURCE, f"{ticker}: answer has no primaryData")
        flag = block.get("isRealTime")
        realtime = flag if isinstance(flag, bool) else None
    price = parse_price(block.get("lastSalePrice"), ticker)
    at = parse_timestamp(block.get("lastTradeTimestamp"), ticker)
    return Quote(ticker, price, at, SOURCE, realtime)


async def fetch(session: aiohttp.ClientSession, cfg: NasdaqSourceConfig, ticker: str) -> Quote:
    try:
        resp, body = await request_bytes(
            session,
            "GET",
            f"{cfg.base_url.rstrip('/')}/api/quote/{ticker}/info",
            source=SOURCE,
            params={"assetclass": "stocks"},
            headers={"User-Agent": cfg.user_agent, "Accept": "application/json, text/plain, */*"},
            timeout_s=cfg.timeout_s,
        )
    except SourceError as err:
        raise SourceDown(SOURCE, err.message, backoff_s=cfg.backoff) from err
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        if body.lstrip()[:1] == b"<":
            title = re.search(rb"<title>([^<]{1,60})</title>", body, re.I)
            shown = title.group(1).decode("utf-8", "replace") if title else "HTML page"
            message = f"HTTP {resp.status}: {shown} (HTML instead of JSON)"
        else:
            message = f"HTTP {resp.status}: not JSON"
        raise SourceDown(SOURCE, message, backoff_s=cfg.backoff) from err
    if resp.status in (403, 429):
        raise SourceDown(SOURCE, f"HTTP {resp.status}", backoff_s=cfg.backoff)
    if resp.status != 200:
        raise SourceError(SOURCE, f"{ticker}: HTTP {resp.status}")
    return parse_info(payload, ticker)
