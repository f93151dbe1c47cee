"""The three quote sources, one at a time: parsing the recorded answers (tests/fixtures/quotes) and
their error shapes over HTTP from local stand-ins (Yahoo's plain-text 429, Finnhub's JSON 429 and
401, Nasdaq's errors under HTTP 200 and its HTML block page)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from tests.quotes_standin import (
    FINNHUB_401,
    FINNHUB_429,
    NASDAQ_DENIED,
    YAHOO_429,
    QuoteStandIn,
    as_json,
    fixture,
    fixture_text,
)
from watchers.base import SourceError
from watchers.quotes import finnhub, nasdaq, yahoo
from watchers.quotes.common import SourceDown


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- parsing recorded answers -------------------------------------------------------------------


def test_yahoo_recorded_intraday_answer():
    q = yahoo.parse_chart(fixture("yahoo-chart-AAPL.2026-07-24-intraday.json"), "AAPL")
    assert (q.ticker, q.price, q.source) == ("AAPL", 328.879, "yahoo")
    assert q.at == utc(2026, 7, 24, 14, 32, 2)  # 10:32:02 EDT
    assert q.realtime is None  # the chart meta says nothing about delay


def test_yahoo_recorded_after_close_answer():
    q = yahoo.parse_chart(fixture("yahoo-chart-NFLX.2025-12-05-after-close.meta-only.json"), "NFLX")
    assert q.price == 100.24 and q.at == utc(2025, 12, 5, 21, 0)  # 16:00 EST: the close


def _chart(**meta: Any) -> dict[str, Any]:
    return {"chart": {"result": [{"meta": {"symbol": "MARA", "currency": "USD", **meta}}], "error": None}}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (fixture("yahoo-chart-unknown-symbol.json"), "Not Found: No data found, symbol may be delisted"),
        ({"chart": {"result": [], "error": None}}, "no chart result"),
        (_chart(symbol="RIOT"), "symbol 'RIOT'"),
        (_chart(currency="CAD"), "not USD"),
        (_chart(regularMarketPrice=0, regularMarketTime=1), "price 0"),
        (_chart(regularMarketPrice=-3.2, regularMarketTime=1), "price -3.2"),
        (_chart(regularMarketPrice=None, regularMarketTime=1), "null"),
        (_chart(regularMarketPrice=12.5, regularMarketTime=0), "not a time"),
        (["not", "an", "object"], "no 'chart' object"),
    ],
)
def test_yahoo_garbage_is_a_source_error(payload: Any, message: str):
    with pytest.raises(SourceError) as err:
        yahoo.parse_chart(payload, "MARA")
    assert err.value.source == "yahoo" and message in str(err.value)


def test_yahoo_delay_flag_when_present():
    payload = fixture("yahoo-chart-AAPL.2026-07-24-intraday.json")
    payload["chart"]["result"][0]["meta"]["exchangeDataDelayedBy"] = 15
    assert yahoo.parse_chart(payload, "AAPL").realtime is False


@pytest.mark.parametrize(
    ("name", "price", "at", "realtime"),
    [
        # pre-market and after hours: the regular close from secondaryData, not the extended trade
        ("pre-market", 267.10, utc(2019, 11, 18, 21, 0), None),
        ("regular", 266.782, utc(2019, 11, 19, 15, 33), True),
        ("after-hours", 266.29, utc(2019, 11, 19, 21, 0), None),
        # closed: a date only, stamped with that session's close
        ("closed", 266.29, utc(2019, 11, 19, 21, 0), False),
    ],
)
def test_nasdaq_recorded_answers(name, price, at, realtime):
    q = nasdaq.parse_info(fixture(f"nasdaq-info-AAPL.2019-11-19.{name}.json"), "AAPL")
    assert (q.price, q.at, q.realtime, q.source) == (price, at, realtime, "nasdaq")


def test_nasdaq_thousands_comma_and_newer_timestamp():
    q = nasdaq.parse_info(fixture("nasdaq-info-SNDK.2026-07-24-thousands-comma.json"), "SNDK")
    assert q.price == 1270.50 and q.at == utc(2026, 7, 24, 20, 0)  # "Jul 24, 2026 4:00 PM ET"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (fixture("nasdaq-info-symbol-not-exists.json"), "rCode 400: Symbol not exists. (code 1001)"),
        (fixture("nasdaq-info-vendor-error-3004.json"), "rCode 200: Error while calling vendor (code 3004)"),
    ],
)
def test_nasdaq_errors_under_http_200(payload, message):
    with pytest.raises(SourceError) as err:
        nasdaq.parse_info(payload, "MARA")
    assert not isinstance(err.value, SourceDown)  # about this symbol only
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [("$1,270.50", 1270.5), ("$0.4321", 0.4321), ("12", 12.0), ("$0.00", None), ("N/A", None),
     ("", None), (None, None), ("$-3.10", None), (True, None)],
)  # fmt: skip
def test_nasdaq_price_strings(raw, ok):
    if ok is None:
        with pytest.raises(SourceError):
            nasdaq.parse_price(raw, "MARA")
    else:
        assert nasdaq.parse_price(raw, "MARA") == ok


@pytest.mark.parametrize(
    ("stamp", "at"),
    [
        ("DATA AS OF Nov 19, 2019 10:33 AM ET", utc(2019, 11, 19, 15, 33)),
        ("CLOSED AT 4:00 PM ET ON Nov 18, 2019", utc(2019, 11, 18, 21, 0)),
        ("Jul 27, 2026 12:51 PM ET", utc(2026, 7, 27, 16, 51)),  # EDT
        ("DATA AS OF Nov 27, 2026", utc(2026, 11, 27, 18, 0)),  # date only on an early close: 13:00 ET
    ],
)
def test_nasdaq_timestamps(stamp, at):
    assert nasdaq.parse_timestamp(stamp, "MARA") == at


@pytest.mark.parametrize("stamp", ["", "DATA AS OF", "Nov 26, 2026", "Feb 30, 2026 10:00 AM ET", "13:99 PM"])
def test_nasdaq_bad_timestamps(stamp):
    with pytest.raises(SourceError):
        nasdaq.parse_timestamp(stamp, "MARA")  # Nov 26, 2026 is Thanksgiving: no session to stamp


def test_finnhub_documented_answer():
    q = finnhub.parse_quote(fixture("finnhub-quote.docs-example-AAPL-2020.json"), "AAPL")
    assert (q.price, q.at, q.source) == (261.74, utc(2020, 2, 25, 14, 30), "finnhub")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (fixture("finnhub-quote-unknown-symbol.json"), "all fields 0"),
        ({"c": -1.0, "t": 1700000000}, "price -1"),
        ({"c": 10.0, "t": 0}, "not a time"),
        ({"c": "abc", "t": 1700000000}, "not a number"),
        ({"error": "Invalid API key."}, "Invalid API key."),
    ],
)
def test_finnhub_garbage(payload, message):
    with pytest.raises(SourceError) as err:
        finnhub.parse_quote(payload, "MARA")
    assert message in str(err.value)


# -- over HTTP, from the stand-in -------------------------------------------------------------


@pytest.fixture
async def standin(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> tuple[QuoteStandIn, str]:
    stand = QuoteStandIn()
    server = await aiohttp_server(stand.app())
    return stand, str(server.make_url("")).rstrip("/")


async def test_yahoo_plain_text_429_marks_the_source_down(standin):
    stand, url = standin
    stand.set("yahoo", "MARA", YAHOO_429)
    cfg = yahoo.YahooSourceConfig(base_url=url, backoff="20m")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceDown) as err:
            await yahoo.fetch(session, cfg, "MARA")
    assert err.value.backoff_s == 1200 and "HTTP 429" in err.value.message
    assert "Edge: Too Many Requests" in err.value.message
    assert stand.user_agents["yahoo"].startswith("Mozilla/5.0 (compatible; MinerWatch")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((200, "<html><body>consent</body></html>", "text/html"), "HTML page instead of JSON"),
        ((200, "Too Many Requests", "text/plain"), "plain text"),
        ((502, "Bad Gateway", "text/plain"), "HTTP 502"),
    ],
)
async def test_yahoo_non_json_marks_the_source_down(standin, answer, message):
    stand, url = standin
    stand.set("yahoo", "MARA", answer)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceDown) as err:
            await yahoo.fetch(session, yahoo.YahooSourceConfig(base_url=url), "MARA")
    assert message in err.value.message


async def test_yahoo_unknown_symbol_404_is_about_the_symbol_only(standin):
    stand, url = standin
    stand.set("yahoo", "ZZZZ", as_json(fixture("yahoo-chart-unknown-symbol.json"), 404))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceError) as err:
            await yahoo.fetch(session, yahoo.YahooSourceConfig(base_url=url), "ZZZZ")
    assert not isinstance(err.value, SourceDown) and "Not Found" in err.value.message


async def test_finnhub_key_in_header_and_its_error_shapes(standin):
    stand, url = standin
    cfg = finnhub.FinnhubSourceConfig(base_url=url, api_key=SecretStr("k-123"))
    stand.set("finnhub", "MARA", as_json({"c": 15.25, "t": 1764968400}))
    stand.set("finnhub", "RIOT", FINNHUB_429)
    stand.set("finnhub", "CLSK", FINNHUB_401)
    stand.set("finnhub", "ZZZZ", (200, fixture_text("finnhub-quote-unknown-symbol.json"), "application/json"))
    async with aiohttp.ClientSession() as session:
        q = await finnhub.fetch(session, cfg, "MARA")
        with pytest.raises(SourceDown) as limited:
            await finnhub.fetch(session, cfg, "RIOT")
        with pytest.raises(SourceDown) as refused:
            await finnhub.fetch(session, cfg, "CLSK")
        with pytest.raises(SourceError) as unknown:
            await finnhub.fetch(session, cfg, "ZZZZ")
    assert q.price == 15.25 and q.at == utc(2025, 12, 5, 21, 0)
    assert stand.tokens == ["k-123"] * 4
    assert limited.value.backoff_s == 60 and "Remaining Limit: 0" in limited.value.message
    assert refused.value.backoff_s == 6 * 3600 and "Invalid API key." in refused.value.message
    assert "api_key" in refused.value.message
    assert not isinstance(unknown.value, SourceDown) and "all fields 0" in unknown.value.message


async def test_finnhub_without_a_key_asks_nothing(standin):
    stand, url = standin
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceDown, match="no api_key"):
            await finnhub.fetch(session, finnhub.FinnhubSourceConfig(base_url=url), "MARA")
    assert stand.hits == []


async def test_nasdaq_errors_under_200_and_the_block_page(standin):
    stand, url = standin
    cfg = nasdaq.NasdaqSourceConfig(base_url=url)
    stand.set("nasdaq", "ZZZZ", as_json(fixture("nasdaq-info-symbol-not-exists.json")))
    stand.set("nasdaq", "SNDK", as_json(fixture("nasdaq-info-vendor-error-3004.json")))
    stand.set("nasdaq", "MARA", NASDAQ_DENIED)
    stand.set("nasdaq", "AAPL", as_json(fixture("nasdaq-info-AAPL.2019-11-19.regular.json")))
    async with aiohttp.ClientSession() as session:
        assert (await nasdaq.fetch(session, cfg, "AAPL")).price == 266.782
        for symbol, text in (("ZZZZ", "Symbol not exists."), ("SNDK", "Error while calling vendor")):
            with pytest.raises(SourceError) as err:
                await nasdaq.fetch(session, cfg, symbol)
            assert not isinstance(err.value, SourceDown) and text in err.value.message
        with pytest.raises(SourceDown) as denied:
            await nasdaq.fetch(session, cfg, "MARA")
    assert "Access Denied" in denied.value.message and denied.value.backoff_s == 1800


async def test_a_dead_source_is_down_not_a_per_ticker_error():
    cfg = yahoo.YahooSourceConfig(base_url="http://127.0.0.1:9", timeout_s=5)  # discard port: refused
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceDown, match="connection failed"):
            await yahoo.fetch(session, cfg, "MARA")
