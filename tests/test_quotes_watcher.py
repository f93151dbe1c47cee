"""The quotes watcher against local stand-ins of Yahoo, Finnhub and Nasdaq: per-ticker failover,
sources marked down, garbage rejected (the metric goes stale and the error is reported), the
session calendar deciding when to poll, and the request budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from rules import market_calendar as mc
from tests.quotes_standin import FINNHUB_401, FINNHUB_429, NASDAQ_DENIED, YAHOO_429, QuoteStandIn, as_json
from watchers.base import PollContext, PollResult, SourceError
from watchers.quotes import (
    FinnhubSourceConfig,
    NasdaqSourceConfig,
    QuotesWatcher,
    QuotesWatcherConfig,
    YahooSourceConfig,
)

# Tuesday 1 Dec 2026, 10:30 EST: the market is open.
OPEN = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
TICKERS = ["MARA", "RIOT", "CLSK"]


class Sleeps:
    """The injected sleep: records the spacing the watcher asked for; never waits."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Harness:
    def __init__(self, stand: QuoteStandIn, url: str) -> None:
        self.stand = stand
        self.url = url
        self.state: dict[str, Any] = {}
        self.sleeps = Sleeps()

    def watcher(self, *, finnhub_key: str | None = None, tickers: list[str] = TICKERS, **cfg: Any) -> Any:
        self.w = QuotesWatcher(
            QuotesWatcherConfig(enabled=True, **cfg),
            tickers,
            YahooSourceConfig(base_url=self.url, min_interval_s=0),
            FinnhubSourceConfig(base_url=self.url, api_key=SecretStr(finnhub_key) if finnhub_key else None),
            NasdaqSourceConfig(base_url=self.url, min_interval_s=0),
            sleep=self.sleeps,
        )
        return self.w

    async def poll(self, now: datetime) -> PollResult:
        async with aiohttp.ClientSession() as session:
            return await self.w.poll(PollContext(session=session, now=now, state=self.state))


@pytest.fixture
async def h(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Harness:
    stand = QuoteStandIn()
    server = await aiohttp_server(stand.app())
    return Harness(stand, str(server.make_url("")).rstrip("/"))


def prices(result: PollResult) -> dict[str, tuple[float, str, datetime]]:
    return {o.metric: (o.value, o.source, o.at) for o in result.observations}


async def test_session_poll_one_request_per_ticker_each_named_and_timed(h):
    h.watcher()
    quote_time = OPEN - timedelta(seconds=40)
    for i, t in enumerate(TICKERS):
        h.stand.quote(t, 10.0 + i, quote_time)
    result = await h.poll(OPEN)
    assert prices(result) == {
        "stock.mara": (10.0, "yahoo", quote_time),
        "stock.riot": (11.0, "yahoo", quote_time),
        "stock.clsk": (12.0, "yahoo", quote_time),
    }
    assert result.errors == {} and result.notes == {}
    assert [h.stand.count("yahoo", t) for t in TICKERS] == [1, 1, 1]
    # cross-check budget: ceil(3 tickers × 5 min / 30 min) = 1 ticker asked of the second source
    assert h.stand.count("nasdaq") == 1 and h.stand.count("finnhub") == 0  # no key: Finnhub skipped
    state = h.state["quotes"]["MARA"]
    assert state["source"] == "yahoo" and state["delayed"] is False and state["session"] == "open"


async def test_cross_checks_rotate_so_every_ticker_is_checked_each_period(h):
    h.watcher()
    checked: list[str] = []
    for poll in range(6):
        now = OPEN + timedelta(minutes=5 * poll)
        for t in TICKERS:
            h.stand.quote(t, 20.0, now - timedelta(seconds=30))
        before = [h.stand.count("nasdaq", t) for t in TICKERS]
        await h.poll(now)
        checked += [t for t, b in zip(TICKERS, before, strict=True) if h.stand.count("nasdaq", t) > b]
    # one per poll, the most overdue first: each ticker once in the first 15 minutes, and none
    # again before its 30 minutes are up
    assert checked[:3] == ["MARA", "RIOT", "CLSK"] and len(checked) == 3
    assert h.stand.count("yahoo") == 6 * 3


async def test_spacing_between_requests_to_one_source(h):
    h.watcher()
    h.w.yahoo = YahooSourceConfig(base_url=h.url, min_interval_s=1.0)
    for t in TICKERS:
        h.stand.quote(t, 5.0, OPEN)
    await h.poll(OPEN)
    assert h.sleeps.calls == [1.0, 1.0]  # three Yahoo requests, two gaps; Nasdaq's one has none


async def test_yahoo_429_fails_every_ticker_over_and_backs_off(h):
    h.watcher(finnhub_key="key")
    h.stand.set("yahoo", "*", YAHOO_429)
    for t in TICKERS:
        h.stand.quote(t, 7.5, OPEN, sources=("finnhub", "nasdaq"))
    result = await h.poll(OPEN)
    assert {v[1] for v in prices(result).values()} == {"finnhub"} and len(result.observations) == 3
    assert h.stand.count("yahoo") == 1  # marked down at the first 429, not asked for RIOT or CLSK
    assert "HTTP 429" in result.errors["yahoo"] and "Edge: Too Many Requests" in result.errors["yahoo"]
    down = h.state["down"]["yahoo"]
    assert down["until"] == (OPEN + timedelta(minutes=15)).timestamp() and down["strikes"] == 1

    await h.poll(OPEN + timedelta(minutes=5))  # still down: not asked
    assert h.stand.count("yahoo") == 1
    second = await h.poll(OPEN + timedelta(minutes=15))  # backoff over: asked once, 429 again
    assert h.stand.count("yahoo") == 2 and "HTTP 429" in second.errors["yahoo"]
    assert h.state["down"]["yahoo"]["until"] == (OPEN + timedelta(minutes=45)).timestamp()  # doubled

    h.stand.quote("MARA", 7.5, OPEN + timedelta(minutes=45), sources=("yahoo",))
    h.stand.quote("RIOT", 7.5, OPEN + timedelta(minutes=45), sources=("yahoo",))
    h.stand.quote("CLSK", 7.5, OPEN + timedelta(minutes=45), sources=("yahoo",))
    back = await h.poll(OPEN + timedelta(minutes=45))
    assert prices(back)["stock.mara"][1] == "yahoo" and "yahoo" not in h.state["down"]  # strikes reset


async def test_finnhub_401_and_429_json(h):
    h.watcher(finnhub_key="bad", sources=["finnhub", "nasdaq"])
    h.stand.set("finnhub", "*", FINNHUB_401)
    for t in TICKERS:
        h.stand.quote(t, 3.0, OPEN, sources=("nasdaq",))
    result = await h.poll(OPEN)
    assert {v[1] for v in prices(result).values()} == {"nasdaq"}
    assert "Invalid API key." in result.errors["finnhub"] and "api_key" in result.errors["finnhub"]
    assert h.stand.count("finnhub") == 1
    assert h.state["down"]["finnhub"]["until"] == (OPEN + timedelta(hours=6)).timestamp()

    h.state.pop("down")
    h.w._down.clear()
    h.stand.set("finnhub", "*", FINNHUB_429)
    result = await h.poll(OPEN + timedelta(minutes=5))
    assert "Remaining Limit: 0" in result.errors["finnhub"]
    assert h.state["down"]["finnhub"]["until"] == (OPEN + timedelta(minutes=6)).timestamp()  # 60 s


async def test_nasdaq_errors_under_200_are_per_ticker_and_its_block_page_is_an_outage(h):
    h.watcher(sources=["nasdaq", "yahoo"])
    h.stand.set("nasdaq", "MARA", as_json({"data": None, "message": None, "status": {
        "rCode": 400, "bCodeMessage": [{"code": 1001, "errorMessage": "Symbol not exists."}]}}))  # fmt: skip
    h.stand.quote("RIOT", 9.0, OPEN, sources=("nasdaq",))
    h.stand.quote("CLSK", 9.0, OPEN, sources=("nasdaq",))
    h.stand.quote("MARA", 9.0, OPEN, sources=("yahoo",))
    result = await h.poll(OPEN)
    assert prices(result)["stock.mara"][1] == "yahoo" and prices(result)["stock.riot"][1] == "nasdaq"
    assert result.errors["nasdaq"] == "MARA: rCode 400: Symbol not exists. (code 1001)"
    assert "down" not in h.state or "nasdaq" not in h.state["down"]

    h.stand.set("nasdaq", "*", NASDAQ_DENIED)
    for t in ("RIOT", "CLSK"):
        h.stand.answers["nasdaq"].pop(t)
        h.stand.quote(t, 9.0, OPEN, sources=("yahoo",))
    h.stand.answers["nasdaq"].pop("MARA")
    result = await h.poll(OPEN + timedelta(minutes=5))
    assert "Access Denied" in result.errors["nasdaq"] and len(result.observations) == 3
    assert h.state["down"]["nasdaq"]["strikes"] == 1


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("zero", "price 0 is not positive"),
        ("negative", "price -4 is not positive"),
        ("html", "HTML page instead of JSON"),
        ("stale", "min of session time old: stale"),
        ("future", "is in the future"),
    ],
)
async def test_garbage_from_one_source_falls_over_to_the_next(h, answer, reason):
    h.watcher(tickers=["MARA"])
    good_time = OPEN - timedelta(minutes=1)
    h.stand.quote("MARA", 11.0, good_time, sources=("nasdaq",))
    if answer == "html":
        h.stand.set("yahoo", "MARA", (200, "<!DOCTYPE html><html>oops</html>", "text/html"))
    else:
        price = {"zero": 0.0, "negative": -4.0}.get(answer, 11.0)
        odd = {"stale": OPEN - timedelta(minutes=45), "future": OPEN + timedelta(hours=1)}
        at = odd.get(answer, good_time)
        h.stand.quote("MARA", price, at, sources=("yahoo",))
    result = await h.poll(OPEN)
    assert prices(result) == {"stock.mara": (11.0, "nasdaq", good_time)}
    assert reason in result.errors["yahoo"]


async def test_every_source_failing_raises_and_keeps_the_backoff(h):
    h.watcher()
    h.stand.set("yahoo", "*", YAHOO_429)
    h.stand.set("nasdaq", "*", NASDAQ_DENIED)
    with pytest.raises(SourceError) as err:
        await h.poll(OPEN)
    assert err.value.source == "quotes" and "yahoo" in err.value.message and "nasdaq" in err.value.message
    assert (h.stand.count("yahoo"), h.stand.count("nasdaq")) == (1, 1)
    # the runner does not persist a failed poll's state; the watcher remembers the backoff itself
    with pytest.raises(SourceError, match="down until"):
        await h.poll(OPEN + timedelta(minutes=5))
    assert (h.stand.count("yahoo"), h.stand.count("nasdaq")) == (1, 1)


async def test_a_jump_confirmed_by_a_second_source_is_accepted(h):
    h.watcher(tickers=["MARA"])
    h.state["last"] = {"MARA": [10.0, OPEN.timestamp() - 300]}
    h.stand.quote("MARA", 21.0, OPEN, sources=("yahoo",))
    h.stand.quote("MARA", 20.9, OPEN, sources=("nasdaq",))
    result = await h.poll(OPEN)
    assert prices(result)["stock.mara"][:2] == (21.0, "yahoo")
    assert h.state["quotes"]["MARA"]["confirmed_by"] == "nasdaq"


async def test_a_jump_the_second_source_contradicts_goes_stale_and_is_reported(h):
    h.watcher(tickers=["MARA"])
    h.state["last"] = {"MARA": [10.0, OPEN.timestamp() - 300]}
    h.stand.quote("MARA", 21.0, OPEN, sources=("yahoo",))
    h.stand.quote("MARA", 10.1, OPEN, sources=("nasdaq",))
    with pytest.raises(SourceError, match="differ by"):  # the only ticker: nothing could be quoted
        await h.poll(OPEN)


async def test_a_jump_with_no_second_source_needs_three_polls(h):
    h.watcher(tickers=["MARA", "RIOT"], sources=["yahoo"])
    h.state["last"] = {"MARA": [10.0, OPEN.timestamp() - 300]}
    h.stand.quote("RIOT", 5.0, OPEN, sources=("yahoo",))
    for poll in range(3):
        now = OPEN + timedelta(minutes=5 * poll)
        h.stand.quote("MARA", 1.0 + 0.01 * poll, now, sources=("yahoo",))  # a 1:10 reverse split? no: -90%
        result = await h.poll(now)
        if poll < 2:
            assert "stock.mara" not in prices(result)
            assert "moved -90% from $10.00 and no second source could confirm it" in result.errors["quotes"]
    assert prices(result)["stock.mara"][0] == 1.02  # three polls agreed: accepted


async def test_sources_that_disagree_leave_the_ticker_stale_until_they_agree(h):
    h.watcher()
    for t in TICKERS:
        h.stand.quote(t, 10.0, OPEN, sources=("yahoo",))
    h.stand.quote("MARA", 10.6, OPEN, sources=("nasdaq",))  # 6 % apart: one of them is wrong
    result = await h.poll(OPEN)
    assert "stock.mara" not in prices(result) and len(result.observations) == 2
    message = "MARA: yahoo $10.00 and nasdaq $10.60 differ by 6.0% (> 3%): not updated"
    assert message in result.errors["quotes"]
    assert h.state["disputed"] == ["MARA"]
    # the next poll checks MARA again although its 30 minutes are not up, and accepts it once they agree
    h.stand.quote("MARA", 10.05, OPEN + timedelta(minutes=5), sources=("nasdaq",))
    h.stand.quote("MARA", 10.0, OPEN + timedelta(minutes=5), sources=("yahoo",))
    result = await h.poll(OPEN + timedelta(minutes=5))
    assert prices(result)["stock.mara"][:2] == (10.0, "yahoo") and h.state["disputed"] == []
    assert h.stand.count("nasdaq", "MARA") == 2


async def test_delayed_quotes_are_marked(h):
    h.watcher(tickers=["MARA"], sources=["nasdaq"])
    h.stand.set("nasdaq", "MARA", as_json(_nasdaq(14.2, OPEN - timedelta(minutes=15), realtime=False)))
    result = await h.poll(OPEN)
    assert prices(result)["stock.mara"][0] == 14.2
    assert result.notes["stock.mara"] == "delayed: quote from 2026-12-01 10:15 ET"
    assert h.state["quotes"]["MARA"]["delayed"] is True


def _nasdaq(price: float, at: datetime, *, realtime: bool) -> dict[str, Any]:
    from tests.quotes_standin import nasdaq_info

    return nasdaq_info("MARA", price, at, realtime=realtime)


async def test_outside_the_session_once_after_the_close_then_silence(h):
    h.watcher()
    friday_close = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)  # Friday 16:00 EST
    for t in TICKERS:
        h.stand.quote(t, 8.0, friday_close)
    h.state["last"] = {t: [8.0, friday_close.timestamp() - 300] for t in TICKERS}  # polled in the session
    settling = await h.poll(friday_close + timedelta(minutes=5))
    assert settling.observations == [] and h.stand.hits == []
    result = await h.poll(friday_close + timedelta(minutes=12))
    assert {m: v[0] for m, v in prices(result).items()} == dict.fromkeys(
        ["stock.mara", "stock.riot", "stock.clsk"], 8.0
    )
    assert result.notes["stock.mara"] == "market closed: last price at 2026-12-04 16:00 ET"
    assert h.state["quotes"]["MARA"]["session"] == "closed" and h.state["quotes"]["MARA"]["delayed"] is False
    # the close is cross-checked for every ticker once (a day's reference price)
    assert h.stand.count("yahoo") == 3 and h.stand.count("nasdaq") == 3
    hits = len(h.stand.hits)
    for later in (timedelta(hours=1), timedelta(days=1), timedelta(days=2, hours=16)):  # Fri, Sat, Mon 08:00
        assert (await h.poll(friday_close + later)).observations == []
    assert len(h.stand.hits) == hits
    monday_open = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
    for t in TICKERS:
        h.stand.quote(t, 8.1, monday_open)
    assert len((await h.poll(monday_open)).observations) == 3


async def test_after_close_retries_only_missing_tickers_at_most_six_times(h):
    h.watcher()
    close = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    h.stand.quote("MARA", 8.0, close)
    h.stand.quote("RIOT", 8.0, close)
    h.stand.set("nasdaq", "CLSK", as_json({"data": None, "message": None, "status": {"rCode": 200,
        "bCodeMessage": [{"code": 3004, "errorMessage": "Error while calling vendor"}]}}))  # fmt: skip
    first = await h.poll(close + timedelta(minutes=10))
    assert len(first.observations) == 2 and "CLSK" in first.errors["yahoo"]
    for i in range(1, 8):
        await h.poll(close + timedelta(minutes=10 + 5 * i))
    assert h.stand.count("yahoo", "MARA") == 1  # done: never asked again
    assert h.stand.count("yahoo", "CLSK") == 6  # tried at most six times that evening


async def test_holiday_and_early_close(h):
    h.watcher()
    h.state["after_close"] = {"day": "2026-11-25", "done": TICKERS, "tries": 1}
    thanksgiving_10am = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
    assert (await h.poll(thanksgiving_10am)).observations == [] and h.stand.hits == []
    early_close = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # Friday 13:00 EST
    for t in TICKERS:
        h.stand.quote(t, 9.0, early_close)
    in_session = await h.poll(early_close - timedelta(minutes=1))
    assert len(in_session.observations) == 3 and in_session.notes == {}
    closed = await h.poll(early_close + timedelta(minutes=10))
    assert closed.notes["stock.mara"] == "market closed: last price at 2026-11-27 13:00 ET"


async def test_request_budget_over_a_full_session_day(h):
    """14 tickers every 5 minutes from the open to the close and once after it: requests per hour
    per source stay within the README's arithmetic, whatever the number of chats."""
    tickers = ["MARA", "RIOT", "CLSK", "CORZ", "IREN", "BITF", "WULF", "HUT", "CIFR", "BTDR", "HIVE",
               "BTBT", "GLXY", "APLD"]  # fmt: skip
    h.watcher(tickers=tickers, finnhub_key="key")
    day = mc.session(datetime(2026, 12, 1).date())
    assert day is not None
    now = day.open
    per_hour: dict[tuple[str, int], int] = {}
    while now <= day.close + timedelta(minutes=30):
        for t in tickers:
            h.stand.quote(t, 10.0, now - timedelta(seconds=20))
        before = {s: h.stand.count(s) for s in ("yahoo", "finnhub", "nasdaq")}
        await h.poll(now)
        for s, n in before.items():
            key = (s, int((now - day.open).total_seconds() // 3600))
            per_hour[key] = per_hour.get(key, 0) + h.stand.count(s) - n
        now += timedelta(minutes=5)
    yahoo_hours = [n for (s, _), n in per_hour.items() if s == "yahoo"]
    finnhub_hours = [n for (s, _), n in per_hour.items() if s == "finnhub"]
    assert max(yahoo_hours) == 14 * 12  # 168 requests/hour, one per ticker per poll
    assert max(finnhub_hours) <= 36  # ceil(14 × 5 / 30) = 3 cross-checks per poll, 12 polls/hour
    assert h.stand.count("nasdaq") == 0  # the last resort is never needed while both answer
    assert h.stand.count("yahoo") == 14 * 79  # 78 polls in 6.5 h, plus the after-close one


async def test_a_first_run_just_after_the_bell_shows_the_last_price_and_polls_again_later(h):
    h.watcher(tickers=["MARA"])
    close = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    h.stand.quote("MARA", 8.0, close - timedelta(seconds=5))
    first = await h.poll(close + timedelta(minutes=3))  # `once`, or a fresh install, at 16:03
    assert prices(first)["stock.mara"][0] == 8.0 and first.notes["stock.mara"].startswith("market closed")
    assert "after_close" not in h.state  # not counted as the after-close poll
    h.stand.quote("MARA", 8.05, close)  # the official close arrives
    later = await h.poll(close + timedelta(minutes=10))
    assert prices(later)["stock.mara"][0] == 8.05 and h.state["after_close"]["done"] == ["MARA"]
