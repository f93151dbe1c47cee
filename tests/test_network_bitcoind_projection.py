"""The difficulty projection from the user's own Bitcoin Core node matches mempool's (issue 12 item 1).

``mempool_calc`` below is a straight Python port of ``calcDifficultyAdjustment`` in mempool's
``backend/src/api/difficulty-adjustment.ts`` (the quarter-epoch version), checked first against the
test vectors of mempool's own ``backend/src/__tests__/api/difficulty-adjustment.test.ts`` at commit
14d8f67878e90ea6b8f473219b3d570217f4bfa2. Then a synthetic chain is served as JSON-RPC on 127.0.0.1
and the watcher's projection, read from block headers, is compared with the port on the same chain at
blocks 0, 50, 100, 250, 400, 503, 1000 and 2015 of an epoch after a +10 % and a -9 % retarget.

The chains are built so that the truth is known: the hashrate that caused the retarget stays, so after
the retarget blocks come every 600 s and the next retarget will be about 0 %.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from watchers.base import PollContext
from watchers.bitcoind import BitcoindRpc, BitcoindSourceConfig, fetch_epoch
from watchers.mempool import EPOCH_BLOCKS, MempoolSourceConfig
from watchers.network import NetworkWatcher, NetworkWatcherConfig
from watchers.price import PriceSourceConfig

# --- the port ----------------------------------------------------------------------------------


def mempool_calc(
    da_time: int,
    quarter_epoch_time: int | None,
    now_seconds: int,
    block_height: int,
    previous_retarget: float,
    network: str,
    latest_block_timestamp: int,
) -> dict[str, Any]:
    """calcDifficultyAdjustment, line by line (JavaScript's x / 0 = Infinity kept)."""

    def div(a: float, b: float) -> float:
        if b == 0:
            return math.copysign(math.inf, a) if a else math.nan
        return a / b

    epoch_block_length = 2016
    block_seconds_target = 600
    testnet_max_block_seconds = 1200
    diff_seconds = max(0, now_seconds - da_time)
    blocks_in_epoch = block_height % epoch_block_length if block_height >= 0 else 0
    progress_percent = blocks_in_epoch / epoch_block_length * 100 if block_height >= 0 else 100
    remaining_blocks = epoch_block_length - blocks_in_epoch
    next_retarget_height = block_height + remaining_blocks if block_height >= 0 else 0
    expected_blocks = diff_seconds / block_seconds_target
    actual_timespan = (latest_block_timestamp if blocks_in_epoch == 2015 else now_seconds) - da_time

    time_avg_secs = diff_seconds / blocks_in_epoch if blocks_in_epoch else block_seconds_target
    adjusted_time_avg_secs = time_avg_secs
    if quarter_epoch_time and blocks_in_epoch < 503:
        time_last_epoch = da_time - quarter_epoch_time
        adjusted_time_last_epoch = time_last_epoch * (1 + previous_retarget / 100)
        adjusted_time_span = diff_seconds + adjusted_time_last_epoch
        adjusted_time_avg_secs = adjusted_time_span / 503
        difficulty_change = (div(block_seconds_target, adjusted_time_span / 504) - 1) * 100
    else:
        difficulty_change = (div(block_seconds_target, actual_timespan / (blocks_in_epoch + 1)) - 1) * 100
    difficulty_change = min(difficulty_change, 300)
    difficulty_change = max(difficulty_change, -75)

    time_offset = 0
    if network == "testnet":
        time_avg_secs = min(time_avg_secs, testnet_max_block_seconds)
        since_last = now_seconds - latest_block_timestamp
        if since_last + time_avg_secs > testnet_max_block_seconds:
            time_offset = -min(since_last, testnet_max_block_seconds) * 1000

    time_avg = math.floor(time_avg_secs * 1000)
    adjusted_time_avg = math.floor(adjusted_time_avg_secs * 1000)
    remaining_time = remaining_blocks * adjusted_time_avg
    return {
        "progressPercent": progress_percent,
        "difficultyChange": difficulty_change,
        "estimatedRetargetDate": remaining_time + now_seconds * 1000,
        "remainingBlocks": remaining_blocks,
        "remainingTime": remaining_time,
        "previousRetarget": previous_retarget,
        "previousTime": da_time,
        "nextRetargetHeight": next_retarget_height,
        "timeAvg": time_avg,
        "adjustedTimeAvg": adjusted_time_avg,
        "timeOffset": time_offset,
        "expectedBlocks": expected_blocks,
    }


def dt(text: str) -> int:
    return math.floor(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


# mempool's own vectors (difficulty-adjustment.test.ts at 14d8f678): inputs, then expected output.
MEMPOOL_VECTORS = [
    (
        (dt("2024-02-02T15:42:06Z"), dt("2024-02-08T14:43:05Z"), dt("2024-02-11T22:43:01Z"), 830027,
         7.333505241141637, "mainnet", 0),
        {"progressPercent": 71.97420634920636, "difficultyChange": 8.512745140778843,
         "estimatedRetargetDate": 1708004001715, "remainingBlocks": 565, "remainingTime": 312620715,
         "previousRetarget": 7.333505241141637, "previousTime": 1706888526, "nextRetargetHeight": 830592,
         "timeAvg": 553311, "adjustedTimeAvg": 553311, "timeOffset": 0, "expectedBlocks": 1338.0916666666667},
    ),
    (  # within the quarter-epoch overlap
        (dt("2022-08-18T11:07:00Z"), dt("2022-08-16T03:16:54Z"), dt("2022-08-19T14:03:53Z"), 750134,
         0.6280047707459726, "mainnet", 0),
        {"progressPercent": 9.027777777777777, "difficultyChange": 1.0420538959004633,
         "estimatedRetargetDate": 1662009048328, "remainingBlocks": 1834, "remainingTime": 1091215328,
         "previousRetarget": 0.6280047707459726, "previousTime": 1660820820, "nextRetargetHeight": 751968,
         "timeAvg": 533038, "adjustedTimeAvg": 594992, "timeOffset": 0, "expectedBlocks": 161.68833333333333},
    ),
    (  # testnet
        (dt("2022-08-18T11:07:00Z"), dt("2022-08-16T03:16:54Z"), dt("2022-08-19T14:03:53Z"), 750134,
         0.6280047707459726, "testnet", dt("2022-08-19T13:52:46Z")),
        {"progressPercent": 9.027777777777777, "difficultyChange": 1.0420538959004633,
         "estimatedRetargetDate": 1662009048328, "remainingBlocks": 1834, "remainingTime": 1091215328,
         "previousTime": 1660820820, "previousRetarget": 0.6280047707459726, "nextRetargetHeight": 751968,
         "timeAvg": 533038, "adjustedTimeAvg": 594992, "timeOffset": -667000,
         "expectedBlocks": 161.68833333333333},
    ),
    (  # mainnet lock-in (epoch ending 788255)
        (dt("2023-04-20T09:57:33Z"), dt("2022-08-16T03:16:54Z"), dt("2023-05-04T14:54:09Z"), 788255,
         1.7220298879531821, "mainnet", dt("2023-05-04T14:54:26Z")),
        {"progressPercent": 99.95039682539682, "difficultyChange": -1.4512637555574193,
         "estimatedRetargetDate": 1683212658129, "remainingBlocks": 1, "remainingTime": 609129,
         "previousRetarget": 1.7220298879531821, "previousTime": 1681984653, "nextRetargetHeight": 788256,
         "timeAvg": 609129, "adjustedTimeAvg": 609129, "timeOffset": 0, "expectedBlocks": 2045.66},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("inputs", "expected"), MEMPOOL_VECTORS)
def test_the_port_reproduces_mempools_own_vectors(inputs: tuple[Any, ...], expected: dict[str, Any]) -> None:
    got = mempool_calc(*inputs)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-9), key


# --- a synthetic chain served as JSON-RPC -----------------------------------------------------

RETARGET = 846_720  # a retarget height (420 × 2016)
D_BEFORE = 8.0e13  # raw difficulty of the epoch before the retarget
T_RETARGET = 1_726_000_000  # timestamp of the retarget block


@dataclass
class Chain:
    """Blocks before RETARGET every ``before_s``, from RETARGET on every ``after_s``; the retarget
    changed the difficulty by ``retarget_pct``."""

    retarget_pct: float
    before_s: float
    after_s: float
    tip: int = RETARGET

    @property
    def d_after(self) -> float:
        return D_BEFORE * (1 + self.retarget_pct / 100)

    def time(self, height: int) -> int:
        if height >= RETARGET:
            return T_RETARGET + round((height - RETARGET) * self.after_s)
        return T_RETARGET - round((RETARGET - height) * self.before_s)

    def difficulty(self, height: int) -> float:
        return self.d_after if height >= RETARGET else D_BEFORE

    def answer(self, method: str, params: list[Any]) -> Any:
        if method == "getblockhash":
            assert 0 <= params[0] <= self.tip
            return f"{params[0]:064x}"
        if method == "getblockheader":
            height = int(params[0], 16)
            return {
                "hash": params[0],
                "height": height,
                "time": self.time(height),
                "difficulty": self.difficulty(height),
            }
        if method == "getblockchaininfo":
            return {"chain": "main", "blocks": self.tip, "headers": self.tip, "initialblockdownload": False}
        if method == "getmininginfo":
            return {"blocks": self.tip, "difficulty": self.difficulty(self.tip), "chain": "main"}
        if method == "getnetworkhashps":
            return 6.0e20
        if method == "getblockstats":
            height, wanted = params
            full = {"height": height, "blockhash": f"{height:064x}", "totalfee": 2_000_000}
            return {k: full[k] for k in wanted}
        raise AssertionError(f"unexpected method {method}")

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        calls = body if isinstance(body, list) else [body]
        out = [{"result": self.answer(c["method"], c["params"]), "error": None, "id": c["id"]} for c in calls]
        return web.json_response(out if isinstance(body, list) else out[0])

    def expected(self, now: int) -> dict[str, Any]:
        """mempool's answer on this chain, with the inputs mempool's blocks.ts gives it: the time of
        the retarget block, of the block 503 below the tip, and the previous retarget in percent."""
        return mempool_calc(
            self.time(RETARGET),
            self.time(self.tip - 503),
            now,
            self.tip,
            (self.d_after / D_BEFORE - 1) * 100,
            "mainnet",
            self.time(self.tip),
        )


Served = Callable[[Chain], Awaitable[str]]


@pytest.fixture
async def served(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Served:
    async def start(chain: Chain) -> str:
        app = web.Application()
        app.router.add_post("/", chain.handle)
        return str((await aiohttp_server(app)).make_url("/"))

    return start


BLOCKS_INTO_EPOCH = [0, 50, 100, 250, 400, 503, 1000, 2015]
SCENARIOS = {
    # the hashrate that made the epoch +10 % too fast stays: 545 s blocks, then 600 s at the new difficulty
    "after +10%": Chain(retarget_pct=10.0, before_s=600 / 1.10, after_s=600),
    "after -9%": Chain(retarget_pct=-9.0, before_s=600 / 0.91, after_s=600),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("mined", BLOCKS_INTO_EPOCH)
async def test_node_projection_matches_mempool(served: Served, scenario: str, mined: int) -> None:
    chain = SCENARIOS[scenario]
    chain = Chain(chain.retarget_pct, chain.before_s, chain.after_s, tip=RETARGET + mined)
    url = await served(chain)
    now_s = chain.time(chain.tip) + 137  # 137 s since the tip: mempool measures up to now
    now = datetime.fromtimestamp(now_s + 0.4, UTC)  # and floors now to a second
    async with aiohttp.ClientSession() as session:
        rpc = BitcoindRpc(session, BitcoindSourceConfig(url=url, timeout_s=5))
        got = await fetch_epoch(rpc, chain.tip, now=now)
    want = chain.expected(now_s)

    assert got.next_change_pct == pytest.approx(want["difficultyChange"], abs=0.1)  # percentage points
    assert got.progress_pct == pytest.approx(want["progressPercent"], rel=1e-12)
    assert got.blocks_left == want["remainingBlocks"] == EPOCH_BLOCKS - mined
    assert got.next_retarget_height == want["nextRetargetHeight"] == RETARGET + EPOCH_BLOCKS
    assert got.retarget_eta_s == pytest.approx(want["estimatedRetargetDate"] / 1000, abs=1.0)
    assert got.last_change_pct == pytest.approx(chain.retarget_pct, rel=1e-9)
    # And mempool's algorithm is right here: the hashrate did not change after the retarget, so
    # the next retarget is about 0 %, not the +10 % / -9 % of the blocks before it.
    assert abs(got.next_change_pct) < 0.5
    assert got.retarget_eta_s == pytest.approx(now_s + (EPOCH_BLOCKS - mined) * 600, rel=0.002)


@pytest.mark.parametrize(
    ("after_s", "clamped"),
    [(60.0, 300.0), (6000.0, -75.0)],  # testnet/signet-like: x10 too fast, x10 too slow
)
async def test_projection_is_clamped_like_the_protocol_and_keeps_the_epoch(
    served: Served, after_s: float, clamped: float
) -> None:
    chain = Chain(retarget_pct=0.0, before_s=after_s, after_s=after_s, tip=RETARGET + 700)
    core_url = await served(chain)
    now = datetime.fromtimestamp(chain.time(chain.tip) + 30, UTC)
    w = NetworkWatcher(
        NetworkWatcherConfig(sources=["bitcoind"], price_sources=["coinbase"]),
        MempoolSourceConfig(base_url="http://127.0.0.1:9", timeout_s=5),
        bitcoind=BitcoindSourceConfig(url=core_url, timeout_s=5),
        price=PriceSourceConfig(coinbase_url="http://127.0.0.1:9", timeout_s=5),
    )
    async with aiohttp.ClientSession() as session:
        result = await w.poll(PollContext(session=session, now=now))
    got = {o.metric: o.value for o in result.observations}
    assert got["difficulty.next_change"] == clamped
    assert got["difficulty.next_change"] == chain.expected(math.floor(now.timestamp()))["difficultyChange"]
    assert got["difficulty.blocks_left"] == EPOCH_BLOCKS - 700
    assert got["difficulty.progress"] == pytest.approx(700 / 2016 * 100)
    assert got["difficulty.retarget_eta"] == pytest.approx(
        now.timestamp() + (EPOCH_BLOCKS - 700) * after_s, rel=1e-3
    )
    assert "bitcoind" not in result.errors
