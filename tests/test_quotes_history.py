"""A year of daily closes from Yahoo's chart JSON (the backfill behind `/chart stock.mara 3mo`):
each close stamped with its session's closing time, the session in progress left out."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import aiohttp
import pytest

from tests.quotes_standin import YAHOO_429, QuoteStandIn, as_json, fixture
from watchers.base import SourceError
from watchers.quotes.history import backfill
from watchers.quotes.yahoo import YahooSourceConfig, parse_daily_closes

RECORDED = fixture("yahoo-chart-AAPL.2026-07-24-intraday.json")  # 5 daily bars, Mon 20 - Fri 24 July 2026
CAPTURED = datetime(2026, 7, 24, 14, 32, 2, tzinfo=UTC)  # 10:32 EDT on the Friday
CLOSES = [326.5899963378906, 327.739990234375, 325.8900146484375, 321.6600036621094, 328.87921142578125]


def test_completed_sessions_only_each_at_its_close():
    rows = parse_daily_closes(RECORDED, "AAPL", CAPTURED)
    assert [at for at, _ in rows] == [datetime(2026, 7, d, 20, 0, tzinfo=UTC) for d in (20, 21, 22, 23)]
    assert [v for _, v in rows] == CLOSES[:4]  # Friday's bar is still trading: left out
    after = parse_daily_closes(RECORDED, "AAPL", datetime(2026, 7, 24, 20, 0, tzinfo=UTC))
    assert len(after) == 5 and after[-1][1] == CLOSES[4]


def _with(**changes):
    payload = copy.deepcopy(RECORDED)
    result = payload["chart"]["result"][0]
    for key, value in changes.items():
        if key == "close":
            result["indicators"]["quote"][0]["close"] = value
        else:
            result[key] = value
    return payload


def test_null_closes_are_skipped_not_invented():
    rows = parse_daily_closes(_with(close=[None, *CLOSES[1:]]), "AAPL", CAPTURED)
    assert [v for _, v in rows] == CLOSES[1:4]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (_with(close=CLOSES[:3]), "no matching closes"),
        (_with(close=[0.0, *CLOSES[1:]]), "price 0"),
        (
            _with(timestamp=[1784554200 - 2 * 86400, *RECORDED["chart"]["result"][0]["timestamp"][1:]]),
            "no trading day",
        ),
    ],
)
def test_history_garbage(payload, message):
    with pytest.raises(SourceError, match=message):
        parse_daily_closes(payload, "AAPL", CAPTURED)


async def test_backfill_over_http_one_request_per_ticker(aiohttp_server):
    stand = QuoteStandIn()
    url = str((await aiohttp_server(stand.app())).make_url("")).rstrip("/")
    for symbol in ("MARA", "RIOT"):
        payload = copy.deepcopy(RECORDED)
        payload["chart"]["result"][0]["meta"]["symbol"] = symbol
        stand.set("yahoo", symbol, as_json(payload))
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    cfg = YahooSourceConfig(base_url=url)
    async with aiohttp.ClientSession() as session:
        rows = await backfill(session, cfg, ["MARA", "RIOT"], CAPTURED, sleep=sleep)
        stand.set("yahoo", "RIOT", YAHOO_429)
        with pytest.raises(SourceError, match="HTTP 429"):
            await backfill(session, cfg, ["MARA", "RIOT"], CAPTURED, sleep=sleep)
    assert len(rows) == 8 and {o.source for o in rows} == {"yahoo"}
    assert [o.metric for o in rows[:2]] == ["stock.mara", "stock.riot"]  # oldest first
    assert rows[0].at == datetime(2026, 7, 20, 20, 0, tzinfo=UTC) and rows[0].value == CLOSES[0]
    assert stand.count("yahoo") == 4 and sleeps == [1.0, 1.0]
