"""Network watcher, whole poll (issue 3): every metric, failover between mempool, Bitcoin Core and
the price exchanges, garbage and jump rejection, the retarget event and the history backfill.

Upstreams are local aiohttp servers serving the recorded payloads in tests/fixtures (see the
PROVENANCE.md beside them); the watcher uses a real aiohttp client session.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from watchers.base import PollContext, PollResult, SourceError
from watchers.bitcoind import BitcoindSourceConfig
from watchers.mempool import MempoolSourceConfig
from watchers.network import NetworkWatcher, NetworkWatcherConfig, backfill
from watchers.price import PriceSourceConfig

FIXTURES = Path(__file__).parent / "fixtures"
MEMPOOL = FIXTURES / "mempool"
PRICE = FIXTURES / "price"
BITCOIND = FIXTURES / "bitcoind"
NOW = datetime(2024, 3, 31, 3, 18, tzinfo=UTC)  # the mainnet_mempoolInfo.json capture

Route = tuple[int, bytes, str]
Serve = Callable[[dict[str, Route]], Awaitable[str]]

DA = "/api/v1/difficulty-adjustment"
HASHRATE = "/api/v1/mining/hashrate/3d"
TIP = "/api/blocks/tip/height"
REWARDS = "/api/v1/mining/reward-stats/144"
PRICES = "/api/v1/prices"
KRAKEN = "/0/public/Ticker"
COINBASE = "/v2/prices/BTC-USD/spot"


def f(folder: Path, name: str, status: int = 200) -> Route:
    ctype = (
        "text/html"
        if name.endswith(".html")
        else "text/plain"
        if name.endswith(".txt")
        else "application/json"
    )
    return status, (folder / name).read_bytes(), ctype


TOO_MANY = f(MEMPOOL, "error-429.mempool-space.html", 429)

# mempool as it answered on 2024-03-31 03:18 UTC: real difficulty-adjustment and prices; tip
# height, difficulty and fees are the real values of block 837050 and blocks 837043..837050 in
# the documented shapes (see fixtures/mempool/PROVENANCE.md, "assembled").
MEMPOOL_2024_03_31: dict[str, Route] = {
    DA: f(MEMPOOL, "difficulty-adjustment.mainnet-2024-03-31.json"),
    HASHRATE: f(MEMPOOL, "mining-hashrate-3d.assembled-mainnet-2024-03-31.json"),
    TIP: f(MEMPOOL, "blocks-tip-height.assembled-mainnet-2024-03-31.txt"),
    REWARDS: f(MEMPOOL, "mining-reward-stats.assembled-mainnet-2024-03-31-8-blocks.json"),
    PRICES: f(MEMPOOL, "prices.mainnet-2024-03-31.json"),
}
KRAKEN_OK = {KRAKEN: f(PRICE, "kraken-public-Ticker-XBTUSDT.2024-03.json")}
COINBASE_OK = {COINBASE: f(PRICE, "coinbase-v2-spot-BTC-USD.constructed.json")}

# Worked example tests/fixtures/hashprice/worked-example.2024-03-31.computed.json
D_2024 = 83126997340024.61
FEES_2024 = 108814114 / 8 / 1e8  # BTC per block over 837043..837050
HASHPRICE_2024 = 107.9927991364406


@pytest.fixture
async def serve(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Serve:
    async def start(routes: dict[str, Route]) -> str:
        async def handler(request: web.Request) -> web.Response:
            status, body, ctype = routes[request.path]
            return web.Response(status=status, body=body, content_type=ctype)

        app = web.Application()
        for path in routes:
            app.router.add_get(path, handler)
        return str((await aiohttp_server(app)).make_url("")).rstrip("/")

    return start


def watcher(
    url: str,
    *,
    sources: list[Any] | None = None,
    price_sources: list[Any] | None = None,
    bitcoind: BitcoindSourceConfig | None = None,
) -> NetworkWatcher:
    cfg = NetworkWatcherConfig(
        sources=sources or ["mempool"], price_sources=price_sources or ["mempool", "kraken", "coinbase"]
    )
    return NetworkWatcher(
        cfg,
        MempoolSourceConfig(base_url=url, timeout_s=5),
        bitcoind=bitcoind,
        price=PriceSourceConfig(kraken_url=url, coinbase_url=url, timeout_s=5),
    )


async def poll(w: NetworkWatcher, state: dict[str, Any] | None = None, now: datetime = NOW) -> PollResult:
    async with aiohttp.ClientSession() as session:
        return await w.poll(PollContext(session=session, now=now, state=state if state is not None else {}))


def values(result: PollResult) -> dict[str, float]:
    return {o.metric: o.value for o in result.observations}


def sources(result: PollResult) -> dict[str, str]:
    return {o.metric: o.source for o in result.observations}


# --- every metric from mempool --------------------------------------------------------------------


async def test_all_metrics_from_mempool_on_2024_03_31(serve: Serve) -> None:
    url = await serve(MEMPOOL_2024_03_31)
    result = await poll(watcher(url))
    got = values(result)
    assert got["difficulty"] == pytest.approx(83.12699734002461, rel=1e-12)  # T
    assert got["price"] == 69880
    assert got["height"] == 837050
    assert got["subsidy"] == 6.25  # next block 837051, before the 840 000 halving
    assert got["fees"] == pytest.approx(0.1360176425, rel=1e-12)  # 108 814 114 sat / 8 blocks, not / 144
    assert got["fee_share"] == pytest.approx(0.1360176425 / 6.3860176425 * 100, rel=1e-12)
    assert got["hashprice.btc"] == pytest.approx(0.0015454035365832942, rel=1e-12)
    assert got["hashprice"] == pytest.approx(HASHPRICE_2024, rel=1e-12)
    # After the projected +5.91 % retarget, same price and fees: hashprice / 1.0591...
    assert got["hashprice.next"] == pytest.approx(HASHPRICE_2024 / 1.05914788959658535, rel=1e-12)
    assert got["difficulty.next_change"] == pytest.approx(5.914788959658535, rel=1e-12)
    assert got["difficulty.retarget_eta"] == pytest.approx(1712766704.114, rel=1e-12)
    # currentHashrate 0 means mempool's node could not say: not emitted, reported.
    assert "hashrate" not in got
    assert result.errors == {"mempool": "hashrate: currentHashrate is 0 (unknown)"}
    assert set(sources(result).values()) == {"mempool"}
    assert {o.at for o in result.observations} == {NOW}
    assert result.events == []  # first poll: records the epoch only


async def test_real_docs_payloads_hashrate_and_partial_fee_window(serve: Serve) -> None:
    # Real docs examples (2022-05): currentHashrate as a long integer, reward-stats totals as
    # strings covering 100 blocks (736556..736655) although 144 were asked for.
    url = await serve(
        {
            HASHRATE: f(MEMPOOL, "mining-hashrate-3d.docs-example-mainnet-2022-05.json"),
            REWARDS: f(MEMPOOL, "mining-reward-stats-100.docs-example-mainnet-2022-05.json"),
            TIP: f(MEMPOOL, "blocks-tip-height.docs-example-mainnet.txt"),
            PRICES: f(MEMPOOL, "prices.docs-example-2023-12-22.json"),
        }
    )
    result = await poll(
        watcher(url, price_sources=["mempool"]), now=datetime(2023, 12, 22, 14, 0, tzinfo=UTC)
    )
    got = values(result)
    assert got["hashrate"] == pytest.approx(252.0332473552123, rel=1e-12)  # EH/s
    assert got["difficulty"] == pytest.approx(31.25110136571112, rel=1e-12)
    assert got["fees"] == pytest.approx(13.11748254 / 100, rel=1e-12)  # 1 311 748 254 sat / 100 blocks
    assert got["subsidy"] == 6.25  # tip 698 767
    assert got["price"] == 43753
    expected_btc = 1e15 * 86400 / (31251101365711.12 * 2**32) * (6.25 + 0.1311748254)
    assert got["hashprice.btc"] == pytest.approx(expected_btc, rel=1e-12)
    assert got["hashprice"] == pytest.approx(expected_btc * 43753, rel=1e-12)
    # No difficulty-adjustment route: the epoch metrics and hashprice.next are missing, reported.
    assert "difficulty.next_change" not in got and "hashprice.next" not in got
    assert result.errors["mempool"] == "epoch: HTTP 404: 404: Not Found"


@pytest.mark.parametrize(
    ("name", "now", "next_change"),
    [
        (
            "difficulty-adjustment.mainnet-2024-12.json",
            datetime(2024, 12, 20, 14, 2, tzinfo=UTC),
            0.7843046881601534,
        ),
        (
            "difficulty-adjustment.testnet3-2024-12.json",
            datetime(2024, 12, 20, 14, 2, tzinfo=UTC),
            -51.21445794134847,
        ),
        (
            "difficulty-adjustment.signet-2024-12.json",
            datetime(2024, 12, 20, 14, 2, tzinfo=UTC),
            -2.913529439274176,
        ),
        (
            "difficulty-adjustment.computed-vector-mainnet-2022-08-19-quarter-epoch.json",
            datetime(2022, 8, 19, 12, 0, tzinfo=UTC),
            1.0420538959004633,
        ),
        (
            "difficulty-adjustment.computed-vector-mainnet-2023-05-04-lockin.json",
            datetime(2023, 5, 4, 15, 0, tzinfo=UTC),
            -1.4512637555574193,
        ),
    ],
)
async def test_other_real_epochs_are_accepted(
    serve: Serve, name: str, now: datetime, next_change: float
) -> None:
    url = await serve({DA: f(MEMPOOL, name)})
    got = values(await poll(watcher(url, price_sources=["mempool"]), now=now))
    assert got["difficulty.next_change"] == pytest.approx(next_change, rel=1e-12)


def test_assembled_fixtures_match_the_recorded_blocks() -> None:
    # The assembled 2024-03-31 payloads carry the recorded values of blocks-v1 and the worked example.
    blocks = json.loads((MEMPOOL / "blocks-v1.mainnet-2024-03-31.trimmed.json").read_text())
    newest = blocks[0]
    assert (MEMPOOL / "blocks-tip-height.assembled-mainnet-2024-03-31.txt").read_text() == str(
        newest["height"]
    )
    hashrate = json.loads((MEMPOOL / "mining-hashrate-3d.assembled-mainnet-2024-03-31.json").read_text())
    assert hashrate["currentDifficulty"] == newest["difficulty"] == D_2024
    rewards = json.loads(
        (MEMPOOL / "mining-reward-stats.assembled-mainnet-2024-03-31-8-blocks.json").read_text()
    )
    assert int(rewards["totalReward"]) - int(rewards["totalFee"]) == 8 * 625_000_000
    da = json.loads((MEMPOOL / "difficulty-adjustment.mainnet-2024-03-31.json").read_text())
    assert da["nextRetargetHeight"] - da["remainingBlocks"] == newest["height"]


# --- price failover ---------------------------------------------------------------------------------


async def test_mempool_429_on_prices_fails_over_to_kraken(serve: Serve) -> None:
    url = await serve({**MEMPOOL_2024_03_31, PRICES: TOO_MANY, **KRAKEN_OK})
    result = await poll(watcher(url))
    got, src = values(result), sources(result)
    assert got["price"] == 73380.6  # Kraken c[0] "73380.60000", first (and only) result key XBTUSDT
    assert src["price"] == "kraken"
    assert got["hashprice"] == pytest.approx(0.0015454035365832942 * 73380.6, rel=1e-12)
    assert src["hashprice"] == "mempool+kraken"
    assert src["difficulty"] == "mempool"
    assert "price: HTTP 429 (HTML error page)" in result.errors["mempool"]


async def test_kraken_error_list_fails_over_to_coinbase(serve: Serve) -> None:
    url = await serve(
        {
            **MEMPOOL_2024_03_31,
            PRICES: f(MEMPOOL, "error-429.mempool-space.html", 200),  # HTML under a 200
            KRAKEN: f(PRICE, "kraken-error-rate-limit.constructed.json"),
            **COINBASE_OK,
        }
    )
    result = await poll(watcher(url))
    assert values(result)["price"] == 66363.03
    assert sources(result)["price"] == "coinbase"
    assert result.errors["kraken"] == "price: API error: EAPI:Rate limit exceeded"
    assert "price: answered an HTML page instead of JSON" in result.errors["mempool"]


async def test_stale_mempool_price_is_not_used(serve: Serve) -> None:
    # prices `time` 1711854906 is 03:15 UTC; three hours later it is older than price_max_age (2h).
    url = await serve({PRICES: f(MEMPOOL, "prices.mainnet-2024-03-31.json"), **KRAKEN_OK})
    result = await poll(watcher(url), now=NOW + timedelta(hours=3))
    assert sources(result)["price"] == "kraken"
    assert "price: USD price is stale: 183 min old" in result.errors["mempool"]


async def test_price_down_everywhere_still_emits_difficulty(serve: Serve) -> None:
    routes = dict(MEMPOOL_2024_03_31)
    del routes[PRICES]
    url = await serve({**routes, KRAKEN: (502, b"Bad Gateway", "text/plain")})
    result = await poll(watcher(url))
    got = values(result)
    assert "price" not in got and "hashprice" not in got and "hashprice.next" not in got
    assert got["hashprice.btc"] == pytest.approx(0.0015454035365832942, rel=1e-12)
    assert got["difficulty.progress"] == pytest.approx(20.33730158730159, rel=1e-12)
    assert result.errors["kraken"] == "price: HTTP 502: Bad Gateway"
    assert result.errors["coinbase"] == "price: HTTP 404: 404: Not Found"
    assert "price: HTTP 404" in result.errors["mempool"]


async def test_mempool_outage_is_not_hammered_and_retry_after_is_kept(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    hits: list[str] = []

    async def limited(request: web.Request) -> web.Response:
        hits.append(request.path)
        status, body, ctype = TOO_MANY
        return web.Response(status=status, body=body, content_type=ctype, headers={"Retry-After": "120"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", limited)
    url = str((await aiohttp_server(app)).make_url("")).rstrip("/")
    with pytest.raises(SourceError) as info:
        await poll(watcher(url, price_sources=["mempool"]))
    assert hits == [DA]  # one 429, then no other endpoint is asked this poll
    assert info.value.source == "network"
    assert info.value.retry_after_s == 120
    assert "mempool: epoch, difficulty, hashrate, tip height, fees, price: HTTP 429" in info.value.message


# --- sanity bounds ------------------------------------------------------------------------------------


async def test_price_jump_is_rejected_then_confirmed(serve: Serve) -> None:
    url = await serve({**MEMPOOL_2024_03_31, **KRAKEN_OK})
    w = watcher(url, price_sources=["mempool", "kraken"])
    state: dict[str, Any] = {"last": {"price": [35000.0, NOW.timestamp() - 60]}}
    first = await poll(w, state)
    assert "price" not in values(first) and "hashprice" not in values(first)
    assert "price: price 69880 moved +100% from 35000 in one poll: rejected" in first.errors["mempool"]
    assert "moved +110%" in first.errors["kraken"]
    second = await poll(w, state, now=NOW + timedelta(minutes=1))
    assert "price" not in values(second)
    # Three polls in a row agree on the new level: it is real, accepted.
    third = await poll(w, state, now=NOW + timedelta(minutes=2))
    assert values(third)["price"] == 69880
    assert state["last"]["price"][0] == 69880
    assert "price" not in state["pending"]


async def test_difficulty_jump_and_non_positive_difficulty_are_rejected(serve: Serve) -> None:
    url = await serve(MEMPOOL_2024_03_31)
    state: dict[str, Any] = {"last": {"difficulty": [40e12, NOW.timestamp() - 60]}}
    result = await poll(watcher(url), state)
    got = values(result)
    assert "difficulty" not in got and "hashprice" not in got and "hashprice.btc" not in got
    assert (
        "difficulty: difficulty 8.3127e+13 moved +108% from 4e+13 in one poll: rejected"
        in result.errors["mempool"]
    )
    assert got["price"] == 69880

    zero = json.dumps({"hashrates": [], "difficulty": [], "currentHashrate": 0, "currentDifficulty": 0})
    url = await serve({**MEMPOOL_2024_03_31, HASHRATE: (200, zero.encode(), "application/json")})
    result = await poll(watcher(url))
    assert "difficulty" not in values(result)
    assert "currentDifficulty is 0" in result.errors["mempool"]


async def test_small_moves_are_accepted_and_remembered(serve: Serve) -> None:
    url = await serve(MEMPOOL_2024_03_31)
    state: dict[str, Any] = {"last": {"price": [60000.0, 0.0], "difficulty": [81e12, 0.0]}}
    result = await poll(watcher(url), state)
    assert values(result)["price"] == 69880
    assert state["last"] == {"price": [69880, NOW.timestamp()], "difficulty": [D_2024, NOW.timestamp()]}


# --- retarget event -----------------------------------------------------------------------------------


async def test_retarget_event_when_the_epoch_changes(serve: Serve) -> None:
    url = await serve(MEMPOOL_2024_03_31)
    # State as the last poll of the previous epoch left it (lock-in, projected -1.2 %).
    state: dict[str, Any] = {"epoch": {"next_retarget_height": 836640, "projected_change_pct": -1.2}}
    result = await poll(watcher(url), state)
    [event] = result.events
    assert event.kind == "retarget"
    assert event.key == "retarget:836640"
    assert event.at == NOW and event.source == "mempool"
    assert dict(event.data) == {
        "height": 836640,
        "realised_change_pct": -0.9778871328980188,
        "projected_change_pct": -1.2,
        "difficulty": pytest.approx(83.12699734002461, rel=1e-12),
    }
    json.dumps(dict(event.data))  # JSON-serialisable
    assert state["epoch"] == {"next_retarget_height": 838656, "projected_change_pct": 5.914788959658535}
    # The next poll in the same epoch announces nothing.
    assert (await poll(watcher(url), state)).events == []


async def test_first_poll_records_only_and_skipped_epochs_have_no_projection(serve: Serve) -> None:
    url_feb = await serve({DA: f(MEMPOOL, "difficulty-adjustment.computed-vector-mainnet-2024-02-11.json")})
    state: dict[str, Any] = {}
    first = await poll(
        watcher(url_feb, price_sources=["mempool"]), state, now=datetime(2024, 2, 11, tzinfo=UTC)
    )
    assert first.events == []
    assert state["epoch"]["next_retarget_height"] == 830592
    # Next poll seven weeks later (the bot was down): four epochs on. The latest retarget is
    # announced, but the projection we remembered belongs to another epoch.
    url = await serve(MEMPOOL_2024_03_31)
    [event] = (await poll(watcher(url), state)).events
    assert event.key == "retarget:836640"
    assert event.data["projected_change_pct"] is None


async def test_lagging_source_going_back_an_epoch_is_ignored(serve: Serve) -> None:
    url = await serve(MEMPOOL_2024_03_31)
    state: dict[str, Any] = {"epoch": {"next_retarget_height": 840672, "projected_change_pct": 2.0}}
    assert (await poll(watcher(url), state)).events == []
    assert state["epoch"] == {"next_retarget_height": 840672, "projected_change_pct": 2.0}


# --- history backfill ---------------------------------------------------------------------------------


async def test_backfill_returns_history_at_its_own_timestamps(serve: Serve) -> None:
    # No recorded 1y payloads exist; the docs' 1m adjustments and 3d hashrate have the same shapes.
    url = await serve(
        {
            "/api/v1/mining/difficulty-adjustments/1y": f(
                MEMPOOL, "mining-difficulty-adjustments-1m.docs-example-mainnet-2023-12.json"
            ),
            "/api/v1/mining/hashrate/1y": f(MEMPOOL, "mining-hashrate-3d.docs-example-mainnet-2022-05.json"),
        }
    )
    async with aiohttp.ClientSession() as session:
        history = await backfill(
            session, MempoolSourceConfig(base_url=url), datetime(2023, 12, 24, tzinfo=UTC)
        )
    assert [(o.metric, o.at.timestamp(), o.value) for o in history] == [
        ("hashrate", 1652486400, pytest.approx(236.4997621087718, rel=1e-12)),
        ("hashrate", 1652572800, pytest.approx(217.4732767873313, rel=1e-12)),
        ("hashrate", 1652659200, pytest.approx(189.877203506913, rel=1e-12)),
        ("difficulty", 1700957763, pytest.approx(67.95779029889788, rel=1e-12)),
        ("difficulty", 1702180644, pytest.approx(67.30590690203139, rel=1e-12)),
        ("difficulty", 1703311464, pytest.approx(72.0061464785671, rel=1e-12)),
    ]
    assert {o.source for o in history} == {"mempool"}


async def test_backfill_rejects_rows_from_the_future(serve: Serve) -> None:
    url = await serve(
        {
            "/api/v1/mining/difficulty-adjustments/1y": f(
                MEMPOOL, "mining-difficulty-adjustments-1m.docs-example-mainnet-2023-12.json"
            )
        }
    )
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceError, match="out of range"):
            await backfill(session, MempoolSourceConfig(base_url=url), datetime(2023, 12, 1, tzinfo=UTC))


# --- Bitcoin Core JSON-RPC ----------------------------------------------------------------------------

TIP_HEIGHT = 837050  # epoch 836640..838655, 410 blocks mined (progress 20.34 % as mempool said)
EPOCH_START = 836640
PREV_DIFFICULTY = D_2024 / (1 - 0.009778871328980188)  # mempool: last retarget -0.978 %
INTERVAL_S = 570  # the stand-in chain finds a block every 570 s
REGTEST_STATS = [
    json.loads((BITCOIND / f"getblockstats.regtest-height-{h}.result.json").read_text())
    for h in (101, 102, 103)
]


class CoreStandIn:
    """A Bitcoin Core JSON-RPC stand-in. getblockstats answers are the recorded regtest results
    (heights 101..103: totalfee 0, 3 740, 56 860 sat) re-labelled with the asked height, cycling;
    the chain-level answers have the fields of src/rpc/{blockchain,mining}.cpp with mainnet
    values of 2024-03-31 (no recorded mainnet getmininginfo exists)."""

    def __init__(self, auth: tuple[str, str] = ("minerwatch", "hunter2")) -> None:
        self.auth = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        self.tip = TIP_HEIGHT
        self.interval_s = INTERVAL_S
        self.ibd = False
        self.calls: list[str] = []
        self.failing: dict[str, dict[str, Any]] = {}

    def _time(self, height: int) -> int:
        return 1711854927 - (self.tip - height) * self.interval_s

    def answer(self, method: str, params: list[Any]) -> Any:
        self.calls.append(method)
        if method == "getblockchaininfo":
            return {
                "chain": "main",
                "blocks": self.tip,
                "headers": self.tip,
                "initialblockdownload": self.ibd,
            }
        if method == "getmininginfo":
            return {"blocks": self.tip, "difficulty": D_2024, "networkhashps": 6.1e20, "chain": "main"}
        if method == "getnetworkhashps":
            assert params == [1008]
            return 6.02e20
        if method == "getblockhash":
            return f"{params[0]:064x}"
        if method == "getblockheader":
            height = int(params[0], 16)
            difficulty = D_2024 if height >= EPOCH_START else PREV_DIFFICULTY
            return {"hash": params[0], "height": height, "time": self._time(height), "difficulty": difficulty}
        if method == "getblockstats":
            height, wanted = params
            full = {**REGTEST_STATS[height % 3], "height": height, "blockhash": f"{height:064x}"}
            return {k: full[k] for k in wanted}
        raise AssertionError(f"unexpected method {method}")

    def envelope(self, req: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if req["method"] in self.failing:
            return 500, {"result": None, "error": self.failing[req["method"]], "id": req["id"]}
        return 200, {"result": self.answer(req["method"], req["params"]), "error": None, "id": req["id"]}

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != self.auth:
            return web.Response(status=401)
        body = json.loads(await request.text())
        if isinstance(body, list):
            return web.json_response([self.envelope(r)[1] for r in reversed(body)])  # any order
        status, env = self.envelope(body)
        return web.json_response(env, status=status)


@pytest.fixture
async def core(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> tuple[CoreStandIn, str]:
    stand_in = CoreStandIn()
    app = web.Application()
    app.router.add_post("/", stand_in.handle)
    return stand_in, str((await aiohttp_server(app)).make_url("/"))


def core_cfg(url: str, **kwargs: Any) -> BitcoindSourceConfig:
    return BitcoindSourceConfig(url=url, user="minerwatch", password="hunter2", timeout_s=5, **kwargs)


async def test_bitcoind_serves_everything_when_mempool_is_rate_limited(
    serve: Serve, core: tuple[CoreStandIn, str]
) -> None:
    stand_in, core_url = core
    url = await serve({DA: TOO_MANY, **KRAKEN_OK})
    w = watcher(url, sources=["mempool", "bitcoind"], bitcoind=core_cfg(core_url))
    result = await poll(w)
    got, src = values(result), sources(result)
    assert got["difficulty"] == pytest.approx(83.12699734002461, rel=1e-12)
    assert got["hashrate"] == pytest.approx(602.0, rel=1e-12)  # getnetworkhashps 1008, EH/s
    assert got["difficulty.progress"] == pytest.approx(410 / 2016 * 100, rel=1e-12)
    assert got["difficulty.blocks_left"] == 1606
    # mempool's algorithm on the stand-in's chain (410 blocks into the epoch, so the window reaches
    # 93 blocks into the previous epoch, scaled by its -0.978 % retarget; measured up to now):
    since_start = NOW.timestamp() - stand_in._time(EPOCH_START)
    span = since_start + 93 * INTERVAL_S * (1 - 0.009778871328980188)
    assert got["difficulty.next_change"] == pytest.approx((600 / (span / 504) - 1) * 100, rel=1e-9)
    eta = NOW.timestamp() + 1606 * (int(span / 503 * 1000) / 1000)
    assert got["difficulty.retarget_eta"] == pytest.approx(eta, abs=1e-3)
    assert got["difficulty.last_change"] == pytest.approx(-0.9778871328980188, rel=1e-9)
    # 144 blocks 836907..837050 cycle through the three regtest blocks: 48 × (0 + 3740 + 56860) sat.
    assert got["fees"] == pytest.approx(20200 / 1e8, rel=1e-12)
    assert got["subsidy"] == 6.25
    assert got["price"] == 73380.6
    expected_btc = 1e15 * 86400 / (D_2024 * 2**32) * (6.25 + 20200 / 1e8)
    assert got["hashprice.btc"] == pytest.approx(expected_btc, rel=1e-12)
    assert got["hashprice"] == pytest.approx(expected_btc * 73380.6, rel=1e-12)
    assert src["difficulty"] == src["fees"] == src["difficulty.next_change"] == "bitcoind"
    assert src["hashprice"] == "bitcoind+kraken"
    assert src["hashprice.next"] == "bitcoind+kraken"
    assert set(result.errors) == {"mempool"}
    assert result.errors["mempool"].endswith("HTTP 429 (HTML error page)")
    assert stand_in.calls[0] == "getblockchaininfo"  # IBD checked before anything is trusted
    assert stand_in.calls.count("getblockstats") == 144


async def test_bitcoind_fee_cache_only_fetches_new_blocks(
    serve: Serve, core: tuple[CoreStandIn, str]
) -> None:
    stand_in, core_url = core
    url = await serve({})
    w = watcher(url, sources=["bitcoind"], price_sources=["coinbase"], bitcoind=core_cfg(core_url))
    state: dict[str, Any] = {}
    await poll(w, state)
    assert stand_in.calls.count("getblockstats") == 144
    assert len(state["bitcoind_fees"]) == 144
    json.dumps(state)  # the runner persists it as JSON
    stand_in.calls.clear()
    await poll(w, state)
    assert stand_in.calls.count("getblockstats") == 6  # only the reorg-safety depth again
    stand_in.calls.clear()
    stand_in.tip += 2
    result = await poll(w, state)
    assert stand_in.calls.count("getblockstats") == 6  # 2 new + 4 recent, the rest cached
    assert sorted(int(h) for h in state["bitcoind_fees"]) == list(range(TIP_HEIGHT + 2 - 143, TIP_HEIGHT + 3))
    # Window 836909..837052 still holds 48 of each regtest block.
    assert values(result)["fees"] == pytest.approx(20200 / 1e8, rel=1e-12)


async def test_bitcoind_cookie_auth_and_failures(
    serve: Serve, core: tuple[CoreStandIn, str], tmp_path: Path
) -> None:
    stand_in, core_url = core
    url = await serve({})
    cookie = tmp_path / ".cookie"
    cookie.write_text("__cookie__:0f1e2d3c")
    stand_in.auth = "Basic " + base64.b64encode(b"__cookie__:0f1e2d3c").decode()
    cfg = BitcoindSourceConfig(url=core_url, cookie_file=cookie, timeout_s=5)
    result = await poll(watcher(url, sources=["bitcoind"], price_sources=["coinbase"], bitcoind=cfg))
    assert values(result)["difficulty"] == pytest.approx(83.12699734002461, rel=1e-12)

    # A pruned node cannot compute getblockstats: the fee metrics fail, the rest still serves.
    stand_in.failing["getblockstats"] = {"code": -1, "message": "Can't read undo data from disk"}
    result = await poll(watcher(url, sources=["bitcoind"], price_sources=["coinbase"], bitcoind=cfg))
    assert "fees" not in values(result) and "hashprice.btc" not in values(result)
    assert "fees: getblockstats: RPC error -1: Can't read undo data from disk" in result.errors["bitcoind"]
    assert values(result)["difficulty.blocks_left"] == 1606

    # The node restarted and rewrote its cookie: our old one is refused.
    cookie.write_text("__cookie__:stale")
    with pytest.raises(SourceError, match="HTTP 401: authentication failed"):
        await poll(watcher(url, sources=["bitcoind"], price_sources=["coinbase"], bitcoind=cfg))


async def test_bitcoind_in_initial_block_download_is_not_trusted(
    serve: Serve, core: tuple[CoreStandIn, str]
) -> None:
    stand_in, core_url = core
    stand_in.ibd = True
    url = await serve(MEMPOOL_2024_03_31)
    w = watcher(url, sources=["bitcoind", "mempool"], bitcoind=core_cfg(core_url))
    result = await poll(w)
    assert sources(result)["difficulty"] == "mempool"
    assert "node is in initial block download" in result.errors["bitcoind"]


def test_config_defaults_and_strictness() -> None:
    cfg = NetworkWatcherConfig.model_validate({"every": "5m"})
    assert cfg.every == 300 and cfg.sources == ["mempool"]
    assert cfg.price_sources == ["mempool", "kraken", "coinbase"]
    assert cfg.model_dump()["every"] == "5m"
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        NetworkWatcherConfig.model_validate({"sorces": ["mempool"]})
    with pytest.raises(ValueError, match="Input should be 'mempool' or 'bitcoind'"):
        NetworkWatcherConfig.model_validate({"sources": ["blockchain.info"]})
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        BitcoindSourceConfig(fee_blocks=0)
    with pytest.raises(ValueError, match="greater than 0"):
        MempoolSourceConfig(timeout_s=0)
    assert MempoolSourceConfig.model_validate({"price_max_age": "30m"}).price_max_age == 1800
    secret = BitcoindSourceConfig(user="u", password="hunter2")
    assert "hunter2" not in repr(secret)
    with pytest.raises(ValueError, match="no bitcoind config"):
        NetworkWatcher(NetworkWatcherConfig(sources=["bitcoind"]), MempoolSourceConfig())


async def test_bitcoind_projection_is_clamped_and_keeps_the_epoch(
    serve: Serve, core: tuple[CoreStandIn, str]
) -> None:
    stand_in, core_url = core
    stand_in.interval_s = 120  # x5 too fast (signet-like): the protocol caps the retarget at +300 %
    url = await serve({})
    result = await poll(
        watcher(url, sources=["bitcoind"], price_sources=["coinbase"], bitcoind=core_cfg(core_url))
    )
    got = values(result)
    assert got["difficulty.next_change"] == 300.0
    assert got["difficulty.blocks_left"] == 1606
    assert got["difficulty.progress"] == pytest.approx(410 / 2016 * 100, rel=1e-12)
    assert "difficulty.retarget_eta" in got and "hashprice.next" not in got  # no price: no hashprice
    assert "bitcoind" not in result.errors


async def test_a_hanging_mempool_costs_one_timeout_then_bitcoind_serves(
    aiohttp_server: Callable[..., Awaitable[TestServer]], core: tuple[CoreStandIn, str]
) -> None:
    hits: list[str] = []
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        hits.append(request.path)
        await release.wait()  # past the client's 0.2 s timeout: released when the test is done
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/{tail:.*}", hang)
    url = str((await aiohttp_server(app)).make_url("")).rstrip("/")
    _, core_url = core
    cfg = NetworkWatcherConfig(sources=["mempool", "bitcoind"], price_sources=["mempool"])
    w = NetworkWatcher(cfg, MempoolSourceConfig(base_url=url, timeout_s=0.2), bitcoind=core_cfg(core_url))
    try:
        result = await poll(w)
    finally:
        release.set()
    assert hits == [DA]  # the other five mempool endpoints are not tried after the timeout
    assert sources(result)["difficulty"] == "bitcoind"
    assert result.errors["mempool"] == (
        "epoch, difficulty, hashrate, tip height, fees, price: timed out after 0.2s"
    )
