"""Local stand-ins of the three quote sources (Yahoo chart, Finnhub quote, Nasdaq info) on one
aiohttp app. Answers are built from the recorded shapes in tests/fixtures/quotes (see PROVENANCE.md
there) with the ticker, price and time of the test; error answers are the recorded bodies."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from rules.market_calendar import NEW_YORK

QUOTES = Path(__file__).parent / "fixtures" / "quotes"


def fixture_text(name: str) -> str:
    return (QUOTES / name).read_text(encoding="utf-8")


def fixture(name: str) -> Any:
    return json.loads(fixture_text(name))


def yahoo_chart(symbol: str, price: float, at: datetime) -> dict[str, Any]:
    """The recorded AAPL chart answer with another symbol, price and regularMarketTime."""
    payload = copy.deepcopy(fixture("yahoo-chart-AAPL.2026-07-24-intraday.json"))
    meta = payload["chart"]["result"][0]["meta"]
    meta.update(symbol=symbol, regularMarketPrice=price, regularMarketTime=int(at.timestamp()))
    return payload


def finnhub_quote(price: float, at: datetime) -> dict[str, Any]:
    payload = dict(fixture("finnhub-quote.docs-example-AAPL-2020.json"))
    payload.update(c=price, t=int(at.timestamp()))
    return payload


def nasdaq_stamp(at: datetime) -> str:
    local = at.astimezone(NEW_YORK)
    return f"DATA AS OF {local:%b} {local.day}, {local.year} {local.hour % 12 or 12}:{local:%M} " + (
        "PM ET" if local.hour >= 12 else "AM ET"
    )


def nasdaq_info(symbol: str, price: float, at: datetime, *, realtime: bool = True) -> dict[str, Any]:
    """The recorded regular-session AAPL answer with another symbol, price ("$1,234.50") and time."""
    payload = copy.deepcopy(fixture("nasdaq-info-AAPL.2019-11-19.regular.json"))
    payload["data"]["symbol"] = symbol
    primary = payload["data"]["primaryData"]
    primary.update(lastSalePrice=f"${price:,.2f}", lastTradeTimestamp=nasdaq_stamp(at), isRealTime=realtime)
    return payload


ALL = ("yahoo", "finnhub", "nasdaq")
# (status, body, content type)
Answer = tuple[int, str, str]


def as_json(payload: Any, status: int = 200) -> Answer:
    return status, json.dumps(payload), "application/json"


YAHOO_429: Answer = (429, fixture_text("yahoo-429.edge.txt").strip(), "text/plain")
FINNHUB_429: Answer = (429, fixture_text("finnhub-429.json"), "application/json")
FINNHUB_401: Answer = (401, fixture_text("finnhub-401.json"), "application/json")
NASDAQ_DENIED: Answer = (403, fixture_text("nasdaq-access-denied.html"), "text/html")


@dataclass
class QuoteStandIn:
    # source -> symbol -> answer; "*" answers every symbol of that source
    answers: dict[str, dict[str, Answer]] = field(
        default_factory=lambda: {"yahoo": {}, "finnhub": {}, "nasdaq": {}}
    )
    hits: list[tuple[str, str]] = field(default_factory=list)  # (source, symbol) in request order
    tokens: list[str | None] = field(default_factory=list)  # X-Finnhub-Token headers seen
    user_agents: dict[str, str] = field(default_factory=dict)

    def quote(
        self,
        symbol: str,
        price: float,
        at: datetime,
        *,
        sources: tuple[str, ...] = ("yahoo", "finnhub", "nasdaq"),
    ) -> None:
        """Every listed source answers ``symbol`` at ``price`` and ``at``."""
        for source in sources:
            if source == "yahoo":
                self.answers[source][symbol] = as_json(yahoo_chart(symbol, price, at))
            elif source == "finnhub":
                self.answers[source][symbol] = as_json(finnhub_quote(price, at))
            else:
                self.answers[source][symbol] = as_json(nasdaq_info(symbol, price, at))

    def set(self, source: str, symbol: str, answer: Answer) -> None:
        self.answers[source][symbol] = answer

    def count(self, source: str, symbol: str | None = None) -> int:
        return sum(1 for s, sym in self.hits if s == source and (symbol is None or sym == symbol))

    def _answer(self, source: str, symbol: str, request: web.Request) -> web.Response:
        self.hits.append((source, symbol))
        self.user_agents[source] = request.headers.get("User-Agent", "")
        table = self.answers[source]
        status, body, ctype = (
            table.get(symbol)
            or table.get("*")
            or as_json(
                {"chart": {"result": None, "error": {"code": "Not Found", "description": "No data found"}}},
                404,
            )
        )
        return web.Response(status=status, text=body, content_type=ctype)

    def app(self) -> web.Application:
        async def yahoo(request: web.Request) -> web.Response:
            assert request.query.get("interval") == "1d" and request.query.get("range") in ("5d", "1y")
            return self._answer("yahoo", request.match_info["symbol"], request)

        async def finnhub(request: web.Request) -> web.Response:
            self.tokens.append(request.headers.get("X-Finnhub-Token"))
            assert "token" not in request.query  # the key travels in a header, never in the URL
            return self._answer("finnhub", request.query.get("symbol", ""), request)

        async def nasdaq(request: web.Request) -> web.Response:
            assert request.query.get("assetclass") == "stocks"
            return self._answer("nasdaq", request.match_info["symbol"], request)

        app = web.Application()
        app.router.add_get("/v8/finance/chart/{symbol}", yahoo)
        app.router.add_get("/api/v1/quote", finnhub)
        app.router.add_get("/api/quote/{symbol}/info", nasdaq)
        return app
