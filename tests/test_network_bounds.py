"""Absolute plausibility bounds per metric, on a fresh database (issue 12 item 10).

The 50 % jump guard needs a stored value, so on a first poll a price of 1e308, $0.0001 or one stamped
in 2100 used to be taken as current. Now every source value is checked against its metric's bounds in
the catalogue (rules/catalogue.py) and source times may not lie in the future beyond a small skew; an
implausible value fails over to the next source like any other garbage.

Upstreams are local aiohttp servers serving the recorded payloads of tests/fixtures (PROVENANCE.md)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from rules.catalogue import CATALOGUE, MAX_CLOCK_SKEW_S, implausible, lookup
from tests.upstream import Route, serve_routes
from watchers.base import PollContext, PollResult
from watchers.ercot import ErcotSourceConfig, PowerWatcher, PowerWatcherConfig
from watchers.mempool import MempoolSourceConfig
from watchers.network import NetworkWatcher, NetworkWatcherConfig
from watchers.price import PriceSourceConfig

FIXTURES = Path(__file__).parent / "fixtures"
MEMPOOL = FIXTURES / "mempool"
NOW = datetime(2024, 3, 31, 3, 18, tzinfo=UTC)  # capture time of the mempool payloads
PRICES = json.loads((MEMPOOL / "prices.mainnet-2024-03-31.json").read_text())
HASHRATE = json.loads((MEMPOOL / "mining-hashrate-3d.assembled-mainnet-2024-03-31.json").read_text())

Routes = dict[str, Route]
Serve = Callable[[Routes], Awaitable[str]]


def js(payload: Any) -> tuple[int, bytes, str]:
    return 200, json.dumps(payload).encode(), "application/json"


BASE: Routes = {
    "/api/v1/difficulty-adjustment": (
        200,
        (MEMPOOL / "difficulty-adjustment.mainnet-2024-03-31.json").read_bytes(),
        "application/json",
    ),
    "/api/v1/mining/hashrate/3d": js(HASHRATE),
    "/api/blocks/tip/height": (200, b"837050", "text/plain"),
    "/api/v1/prices": js(PRICES),
    "/0/public/Ticker": (
        200,
        (FIXTURES / "price" / "kraken-public-Ticker-XBTUSDT.2024-03.json").read_bytes(),
        "application/json",
    ),
}
KRAKEN_PRICE = 73380.6


@pytest.fixture
async def serve(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Serve:
    return lambda routes: serve_routes(aiohttp_server, routes)


async def first_poll(url: str, price_sources: list[Any] | None = None) -> PollResult:
    w = NetworkWatcher(
        NetworkWatcherConfig(price_sources=price_sources or ["mempool", "kraken"]),
        MempoolSourceConfig(base_url=url, timeout_s=5),
        price=PriceSourceConfig(kraken_url=url, timeout_s=5),
    )
    async with aiohttp.ClientSession() as session:
        return await w.poll(PollContext(session=session, now=NOW, state={}))  # a fresh database


def got(result: PollResult) -> dict[str, tuple[float, str]]:
    return {o.metric: (o.value, o.source) for o in result.observations}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"USD": 1e308}, "price 1e+308 is outside the plausible 100..1e+08 USD"),
        ({"USD": 0.0001}, "price 0.0001 is outside the plausible 100..1e+08 USD"),
        ({"time": 4102444800 + 3600}, "price time 2100-01-01T01:00:00+00:00 is in the future"),
    ],
    ids=["1e308", "a-hundredth-of-a-cent", "stamped-2100"],
)
async def test_implausible_mempool_price_fails_over_on_a_fresh_database(
    serve: Serve, change: dict[str, float], message: str
) -> None:
    url = await serve({**BASE, "/api/v1/prices": js({**PRICES, **change})})
    result = await first_poll(url)
    assert got(result)["price"] == (KRAKEN_PRICE, "kraken")
    assert message in result.errors["mempool"]
    assert all(o.at == NOW for o in result.observations)


async def test_implausible_price_everywhere_means_no_price(serve: Serve) -> None:
    kraken = {"error": [], "result": {"XXBTZUSD": {"c": ["1e308", "1"]}}}
    routes = {**BASE, "/api/v1/prices": js({**PRICES, "USD": 1e308}), "/0/public/Ticker": js(kraken)}
    url = await serve(routes)
    result = await first_poll(url)
    assert "price" not in got(result) and "hashprice" not in got(result)
    assert "price 1e+308 is outside the plausible" in result.errors["kraken"]
    assert got(result)["difficulty"][0] == pytest.approx(83.12699734002461)


async def test_implausible_difficulty_on_a_fresh_database_is_rejected(serve: Serve) -> None:
    url = await serve({**BASE, "/api/v1/mining/hashrate/3d": js({**HASHRATE, "currentDifficulty": 1e300})})
    result = await first_poll(url)
    assert "difficulty" not in got(result)
    assert "difficulty 1e+288 is outside the plausible" in result.errors["mempool"]


async def test_implausible_tip_height_is_rejected(serve: Serve) -> None:
    url = await serve({**BASE, "/api/blocks/tip/height": (200, b"999999999", "text/plain")})
    result = await first_poll(url)
    assert "height" not in got(result) and "subsidy" not in got(result)
    assert "height 999999999 is outside the plausible 0..1e+08 blocks" in result.errors["mempool"]


def test_catalogue_bounds() -> None:
    assert lookup("price").bounds == (100.0, 1e8)
    assert lookup("difficulty.next_change").bounds == (-75.0, 300.0)
    assert lookup("power.hb_west.max24h").bounds == (-10_000.0, 50_000.0)
    assert implausible("price", 64_000.0) is None
    assert implausible("price", float("nan")) == "price nan is not a finite number"
    too_far = "difficulty.progress 100.5 is outside the plausible 0..100 %"
    assert implausible("difficulty.progress", 100.5) == too_far
    assert implausible("hashprice", 1e12) is None  # derived from bounded inputs: no bounds of its own
    assert implausible("no.such.metric", 1.0) is None
    assert MAX_CLOCK_SKEW_S == 300
    for name, info in CATALOGUE.items():  # every value a source states directly has bounds
        if info.scope == "power" or name in {"difficulty", "price", "hashrate", "height", "fees"}:
            assert info.bounds is not None, name


# --- ERCOT: an interval in the future --------------------------------------------------------


def _zip(csv: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("spp.csv", csv)
    return buf.getvalue()


from watchers.ercot_csv import HEADER as CSV_COLUMNS  # noqa: E402

HEADER = ",".join(CSV_COLUMNS)


async def test_ercot_interval_in_2100_is_not_taken_as_current(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    docs = {
        "1": ("2023-05-22T21:46:11-05:00", _zip(f"{HEADER}\n05/22/2023,22,3,HB_WEST,HU,21.43,N\n")),
        "2": ("2023-05-22T22:01:11-05:00", _zip(f"{HEADER}\n01/01/2100,1,1,HB_WEST,HU,9999.00,N\n")),
    }

    async def listing(request: web.Request) -> web.Response:
        entries = [
            {"Document": {"DocID": i, "FriendlyName": f"SPPHLZNP6905_{i}_csv", "ConstructedName": "",
                          "PublishDate": when}}
            for i, (when, _) in docs.items()
        ]  # fmt: skip
        return web.json_response({"ListDocsByRptTypeRes": {"DocumentList": entries}})

    async def download(request: web.Request) -> web.Response:
        return web.Response(body=docs[request.query["doclookupId"]][1], content_type="application/zip")

    app = web.Application()
    app.router.add_get("/misapp/servlets/IceDocListJsonWS", listing)
    app.router.add_get("/misdownload/servlets/mirDownload", download)
    url = str((await aiohttp_server(app)).make_url("")).rstrip("/")
    w = PowerWatcher(PowerWatcherConfig(enabled=True, points=["HB_WEST"]), ErcotSourceConfig(base_url=url))
    now = datetime(2023, 5, 23, 3, 5, tzinfo=UTC)
    async with aiohttp.ClientSession() as session:
        result = await w.poll(PollContext(session=session, now=now, state={}))
    assert [(o.metric, o.value, o.at) for o in result.observations] == [
        ("power.hb_west", 21.43, datetime(2023, 5, 23, 2, 45, tzinfo=UTC))
    ]
    assert "interval ending 2100-01-01T06:15:00+00:00 is in the future" in result.errors["ercot"]
    assert all(o.at <= now + timedelta(seconds=MAX_CLOCK_SKEW_S) for o in result.observations)
