"""BTC/USD spot price from exchanges, used when mempool's ``/api/v1/prices`` fails.

Kraken: ``GET /0/public/Ticker?pair=XBTUSD`` -> ``{"error": [], "result": {"XXBTZUSD": {"c": ["<last>",
"<vol>"], ...}}}``. Numbers are strings, the result key is not the pair asked for (take the first
key) and errors such as ``EAPI:Rate limit exceeded`` come in ``error[]``, often under HTTP 200, so
``error`` is checked first. mempool's own Kraken feed reads ``c[0]``.

Coinbase (retail v2, no key): ``GET /v2/prices/BTC-USD/spot`` -> ``{"data": {"amount": "<string>",
"base": "BTC", "currency": "USD"}}``.

See ``/work/shared/reference/data-sources.md`` §3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from watchers.base import SourceError, fetch_json, require_number

# A ticker answer is well under 2 kB; anything near this is not one.
MAX_BYTES = 256 * 1024


class PriceSourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kraken_url: str = "https://api.kraken.com"
    coinbase_url: str = "https://api.coinbase.com"
    timeout_s: float = Field(default=20.0, gt=0)


def parse_kraken_ticker(payload: Any) -> float:
    """Last trade price (``c[0]``) of the first pair in a Kraken Ticker answer."""
    source = "kraken"
    if not isinstance(payload, Mapping):
        raise SourceError(source, f"answer is a {type(payload).__name__}, not an object")
    errors = payload.get("error")
    if errors:
        text = "; ".join(str(e) for e in errors) if isinstance(errors, list) else str(errors)
        raise SourceError(source, f"API error: {text}")
    result = payload.get("result")
    if not isinstance(result, Mapping) or not result:
        raise SourceError(source, "answer has no result")
    ticker = next(iter(result.values()))
    last = ticker.get("c") if isinstance(ticker, Mapping) else None
    if not isinstance(last, list) or not last:
        raise SourceError(source, "ticker has no last-trade field 'c'")
    price = require_number({"c[0]": last[0]}, "c[0]", source=source)
    if price <= 0:
        raise SourceError(source, f"last price {price:g} is not positive")
    return price


def parse_coinbase_spot(payload: Any) -> float:
    source = "coinbase"
    data = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(data, Mapping):
        errors = payload.get("errors") if isinstance(payload, Mapping) else None
        raise SourceError(source, f"API error: {errors}" if errors else "answer has no 'data' object")
    if data.get("base", "BTC") != "BTC" or data.get("currency", "USD") != "USD":
        raise SourceError(source, f"spot price is {data.get('base')}-{data.get('currency')}, not BTC-USD")
    price = require_number(data, "amount", source=source)
    if price <= 0:
        raise SourceError(source, f"spot price {price:g} is not positive")
    return price


async def fetch_kraken(session: aiohttp.ClientSession, cfg: PriceSourceConfig) -> float:
    payload = await fetch_json(
        session,
        cfg.kraken_url.rstrip("/") + "/0/public/Ticker",
        source="kraken",
        params={"pair": "XBTUSD"},
        timeout_s=cfg.timeout_s,
        max_bytes=MAX_BYTES,
    )
    return parse_kraken_ticker(payload)


async def fetch_coinbase(session: aiohttp.ClientSession, cfg: PriceSourceConfig) -> float:
    payload = await fetch_json(
        session,
        cfg.coinbase_url.rstrip("/") + "/v2/prices/BTC-USD/spot",
        source="coinbase",
        timeout_s=cfg.timeout_s,
        max_bytes=MAX_BYTES,
    )
    return parse_coinbase_spot(payload)
