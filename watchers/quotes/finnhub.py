"""Finnhub: an optional failover with a free API key (``[sources.finnhub] api_key``).

``GET {base_url}/api/v1/quote?symbol=MARA`` with the key in the ``X-Finnhub-Token`` header (the
documented alternative to ``token=`` in the URL, so the key never appears in a logged URL) ->
``{"c": current price, "d": change, "dp": change %, "h", "l", "o", "pc": previous close,
"t": epoch s}``, numbers. An unknown symbol is not an error: HTTP 200 with every field 0 (``d``
and ``dp`` null), so ``c == 0`` means "no quote". Errors are JSON ``{"error": "..."}``: HTTP 429
``API limit reached. Please try again later. Remaining Limit: 0``, HTTP 401 ``Invalid API
key.``; 401 "You don't have access to this resource." for markets outside the free plan (US).

Limits (free plan): 60 calls/minute and 30 calls/second. Requests are spaced by
``min_interval_s`` (1.1 s: at most 54 a minute whatever else happens); a 429 marks the source down
for Retry-After or ``backoff``, a refused key for six hours (it will not fix itself).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from rules.durations import Duration
from watchers.base import SourceError, request_bytes, require_number
from watchers.quotes.common import Quote, SourceDown, positive_price

SOURCE = "finnhub"
KEY_REFUSED_BACKOFF_S = 6 * 3600


class FinnhubSourceConfig(BaseModel):
    """``[sources.finnhub]``: used only when ``api_key`` is set (free at finnhub.io)."""

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr | None = None  # or MINERWATCH_SOURCES__FINNHUB__API_KEY
    base_url: str = "https://finnhub.io"
    timeout_s: float = Field(default=20.0, gt=0, le=300)
    min_interval_s: float = Field(default=1.1, ge=0, le=60)  # 60 calls/min on the free plan
    backoff: Duration = 60  # after a 429 without Retry-After (the limit is per minute)

    @property
    def usable(self) -> bool:
        return self.api_key is not None and bool(self.api_key.get_secret_value().strip())


def _error_text(payload: Any, body: bytes) -> str:
    if isinstance(payload, Mapping) and isinstance(payload.get("error"), str):
        return payload["error"][:120]
    return body[:80].decode("utf-8", "replace").strip() or "no body"


def parse_quote(payload: Any, ticker: str) -> Quote:
    if not isinstance(payload, Mapping):
        raise SourceError(SOURCE, f"{ticker}: answer is a {type(payload).__name__}, not an object")
    if "error" in payload:
        raise SourceError(SOURCE, f"{ticker}: {_error_text(payload, b'')}")
    price = require_number(payload, "c", source=SOURCE)
    epoch = require_number(payload, "t", source=SOURCE)
    if price == 0 and epoch == 0:
        raise SourceError(SOURCE, f"{ticker}: no quote (all fields 0: symbol unknown to Finnhub)")
    positive_price(price, ticker, source=SOURCE)
    if epoch <= 0:
        raise SourceError(SOURCE, f"{ticker}: quote time t={epoch:g} is not a time")
    return Quote(ticker, price, datetime.fromtimestamp(epoch, UTC), SOURCE, None)


async def fetch(session: aiohttp.ClientSession, cfg: FinnhubSourceConfig, ticker: str) -> Quote:
    if not cfg.usable:
        raise SourceDown(SOURCE, "no api_key configured", backoff_s=KEY_REFUSED_BACKOFF_S)
    assert cfg.api_key is not None
    try:
        resp, body = await request_bytes(
            session,
            "GET",
            f"{cfg.base_url.rstrip('/')}/api/v1/quote",
            source=SOURCE,
            params={"symbol": ticker},
            headers={"X-Finnhub-Token": cfg.api_key.get_secret_value().strip(), "Accept": "application/json"},
            timeout_s=cfg.timeout_s,
        )
    except SourceError as err:
        raise SourceDown(SOURCE, err.message, backoff_s=cfg.backoff) from err
    try:
        payload: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = None
    if resp.status == 429:
        retry = resp.headers.get("Retry-After", "")
        backoff = float(retry) if retry.isdigit() else float(cfg.backoff)
        raise SourceDown(SOURCE, f"HTTP 429: {_error_text(payload, body)}", backoff_s=backoff)
    if resp.status in (401, 403):
        raise SourceDown(
            SOURCE,
            f"HTTP {resp.status}: {_error_text(payload, body)} (check [sources.finnhub] api_key)",
            backoff_s=KEY_REFUSED_BACKOFF_S,
        )
    if payload is None:
        kind = "an HTML page" if body.lstrip()[:1] == b"<" else "not JSON"
        raise SourceDown(SOURCE, f"HTTP {resp.status}: answer is {kind}", backoff_s=cfg.backoff)
    if resp.status != 200:
        raise SourceError(SOURCE, f"{ticker}: HTTP {resp.status}: {_error_text(payload, body)}")
    return parse_quote(payload, ticker)
