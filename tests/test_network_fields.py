"""One bad field costs that field only (issue 12 item 11), and the network metrics are derived by a
pure step that needs no HTTP (issue 11: ``derive_metrics``).

Upstreams are local aiohttp servers serving the recorded payloads of tests/fixtures/mempool and
tests/fixtures/price (see the PROVENANCE.md beside them)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from rules import hashprice as hp
from tests.upstream import Route, route_file, serve_routes
from watchers import network
from watchers.base import PollContext, PollResult
from watchers.mempool import EpochInfo, FeeStats, MempoolSourceConfig
from watchers.network import NetworkWatcher, NetworkWatcherConfig
from watchers.network_metrics import NetworkInputs, Sourced, derive_metrics
from watchers.price import PriceSourceConfig

FIXTURES = Path(__file__).parent / "fixtures"
MEMPOOL = FIXTURES / "mempool"
NOW = datetime(2024, 3, 31, 3, 18, tzinfo=UTC)  # the capture time of the mempool payloads below

f = route_file
ROUTES: dict[str, Route] = {
    "/api/v1/difficulty-adjustment": f(MEMPOOL, "difficulty-adjustment.mainnet-2024-03-31.json"),
    "/api/v1/mining/hashrate/3d": f(MEMPOOL, "mining-hashrate-3d.assembled-mainnet-2024-03-31.json"),
    "/api/blocks/tip/height": f(MEMPOOL, "blocks-tip-height.assembled-mainnet-2024-03-31.txt"),
    "/api/v1/mining/reward-stats/144": f(
        MEMPOOL, "mining-reward-stats.assembled-mainnet-2024-03-31-8-blocks.json"
    ),
    "/api/v1/prices": f(MEMPOOL, "error-429.mempool-space.html", 429),
    "/0/public/Ticker": f(FIXTURES / "price", "kraken-public-Ticker-XBTUSDT.2024-03.json"),
}
D_2024 = 83126997340024.61  # currentDifficulty of the hashrate fixture


@pytest.fixture
async def serve(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> Callable[[dict[str, Route]], Awaitable[str]]:
    return lambda routes: serve_routes(aiohttp_server, routes)


async def poll(url: str) -> PollResult:
    w = NetworkWatcher(
        NetworkWatcherConfig(price_sources=["mempool", "kraken"]),
        MempoolSourceConfig(base_url=url, timeout_s=5),
        price=PriceSourceConfig(kraken_url=url, timeout_s=5),
    )
    async with aiohttp.ClientSession() as session:
        return await w.poll(PollContext(session=session, now=NOW, state={}))


def values(result: PollResult) -> dict[str, float]:
    return {o.metric: o.value for o in result.observations}


async def test_a_5000_digit_tip_height_costs_the_height_only(serve: Any) -> None:
    url = await serve({**ROUTES, "/api/blocks/tip/height": (200, b"9" * 5000, "text/plain")})
    result = await poll(url)
    got = values(result)
    assert "height" not in got and "subsidy" not in got and "hashprice" not in got  # they need the tip
    assert got["difficulty"] == pytest.approx(D_2024 / 1e12, rel=1e-12)
    assert got["difficulty.next_change"] == pytest.approx(5.914788959658535, rel=1e-12)
    assert got["price"] == 73380.6  # mempool's price failed (429): the failover was still tried
    assert {o.source for o in result.observations if o.metric == "price"} == {"kraken"}
    assert "tip height: tip height is a 5000-digit number, not a block height" in result.errors["mempool"]
    assert "price: HTTP 429" in result.errors["mempool"]


async def test_a_5000_digit_json_number_costs_that_field_only(serve: Any) -> None:
    hashrate = json.loads(ROUTES["/api/v1/mining/hashrate/3d"][1])
    body = json.dumps(hashrate).replace(
        f'"currentDifficulty": {hashrate["currentDifficulty"]}', '"currentDifficulty": ' + "7" * 5000
    )
    assert "7" * 5000 in body
    url = await serve({**ROUTES, "/api/v1/mining/hashrate/3d": (200, body.encode(), "application/json")})
    result = await poll(url)
    got = values(result)
    assert "difficulty" not in got and "hashprice" not in got
    assert got["height"] == 837050 and got["price"] == 73380.6 and "difficulty.next_change" in got
    assert "difficulty: field 'currentDifficulty' is not finite" in result.errors["mempool"]


async def test_an_unexpected_parser_error_costs_that_field_only(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> FeeStats:
        raise ValueError("unexpected shape")

    monkeypatch.setattr(network, "fetch_reward_stats", broken)
    url = await serve(ROUTES)
    result = await poll(url)
    got = values(result)
    assert "fees" not in got and "hashprice" not in got
    assert got["height"] == 837050 and got["price"] == 73380.6
    assert "fees: unreadable answer (ValueError: unexpected shape)" in result.errors["mempool"]


# --- derive_metrics: the arithmetic, no HTTP ----------------------------------------------------


EPOCH = EpochInfo(
    progress_pct=20.33730158730159,
    next_change_pct=5.914788959658535,
    blocks_left=1606,
    retarget_eta_s=1712766704.114,
    last_change_pct=-0.9778871328980188,
    next_retarget_height=838656,
)
FEES = FeeStats(avg_fees_sat=108814114 / 8, blocks=8, end_height=837050)


def test_derive_metrics_worked_example() -> None:
    """tests/fixtures/hashprice/worked-example.2024-03-31.computed.json: $107.99/PH/day."""
    inputs = NetworkInputs(
        epoch=Sourced(EPOCH, "mempool"),
        difficulty=Sourced(D_2024, "mempool"),
        hashrate=Sourced(6.02e20, "bitcoind"),
        tip=Sourced(837050, "mempool"),
        fees=Sourced(FEES, "bitcoind"),
        price=Sourced(69880.0, "kraken"),  # the example's price
    )
    obs = derive_metrics(inputs, NOW)
    got = {o.metric: o.value for o in obs}
    src = {o.metric: o.source for o in obs}
    assert {o.at for o in obs} == {NOW}
    avg_fees = 108814114 / 8 / 1e8
    assert got["hashprice.btc"] == pytest.approx(hp.hashprice_btc(D_2024, 6.25, avg_fees), rel=1e-15)
    assert got["hashprice.btc"] == pytest.approx(0.0015454035365832942, rel=1e-12)
    assert got["hashprice"] == pytest.approx(107.9927991364406, rel=1e-12)
    next_d = D_2024 * (1 + 5.914788959658535 / 100)
    assert got["hashprice.next"] == pytest.approx(
        hp.hashprice_usd(next_d, 6.25, avg_fees, 69880.0), rel=1e-15
    )
    assert got["difficulty"] == D_2024 / 1e12 and got["hashrate"] == 602.0
    assert got["subsidy"] == 6.25 and got["height"] == 837050 and got["fees"] == avg_fees
    assert got["fee_share"] == pytest.approx(avg_fees / (6.25 + avg_fees) * 100)
    assert got["difficulty.blocks_left"] == 1606 and got["difficulty.retarget_eta"] == 1712766704.114
    assert src["hashprice"] == "mempool+bitcoind+kraken"
    assert src["hashprice.next"] == "mempool+bitcoind+kraken"
    assert src["fee_share"] == "mempool+bitcoind"


def test_derive_metrics_with_missing_inputs_emits_what_it_can() -> None:
    assert derive_metrics(NetworkInputs(), NOW) == []
    only_tip = {o.metric: o.value for o in derive_metrics(NetworkInputs(tip=Sourced(839_999, "x")), NOW)}
    assert only_tip == {"height": 839_999, "subsidy": 3.125}  # the next block is the halving
    no_price = derive_metrics(
        NetworkInputs(difficulty=Sourced(D_2024, "m"), tip=Sourced(837050, "m"), fees=Sourced(FEES, "m")), NOW
    )
    metrics = {o.metric for o in no_price}
    assert "hashprice.btc" in metrics and "hashprice" not in metrics and "hashprice.next" not in metrics
