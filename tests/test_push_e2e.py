"""Block-driven polls end to end (issue 18): the real bot, a mempool stand-in serving REST and the
WebSocket on one host, the fake Bot API. A retarget block pushed over the socket is announced at
once from the pushed difficulty adjustment (no REST request for it), and only once however many
times it is announced: again by the socket, by ZMQ (same hash), and by the next interval poll.
Also: the runner never runs two polls of a watcher at once, notices during a poll coalesce into
one more poll, and /status and /metrics say how each source is followed."""

from __future__ import annotations

import asyncio
import copy
import re
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot import push
from bot.jobs import run_watch
from bot.ops.follow import following, status_line
from bot.ops.http import HTTP_KEY
from bot.services import ScheduledWatcher
from tests.harness import FakeClock, bot_settings, running_bot
from tests.mempool_standin import MempoolStandIn, load
from tests.mempool_ws_standin import MempoolSocketStandIn, block_message, built_block
from watchers.base import PollContext, PollResult
from watchers.mempool_ws import WANT, BlockNotice

CHAT = 4242
DA = "/api/v1/difficulty-adjustment"
EPOCH = load("difficulty-adjustment.mainnet-2024-03-31.json")  # real: next retarget at 838656


def next_epoch(clock: FakeClock) -> dict[str, Any]:
    """BUILT from the real recording: the epoch after the retarget at 838656, as mempool would push
    it with that block (progress 0, 2016 blocks left, last change = the projection that held)."""
    da = copy.deepcopy(EPOCH)
    da.update(
        progressPercent=0.0,
        remainingBlocks=2016,
        nextRetargetHeight=838656 + 2016,
        previousRetarget=5.914788959658535,
        difficultyChange=0.4,
        estimatedRetargetDate=int((clock.now + timedelta(days=14)).timestamp() * 1000),
    )
    return da


async def until(cond, what: str) -> None:
    for _ in range(2000):
        if cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def mempool(aiohttp_server):
    rest, ws = MempoolStandIn(), MempoolSocketStandIn()
    rest.serve_json(DA, EPOCH)
    app = web.Application()
    app.router.add_get("/api/v1/ws", ws.handle)  # one host, as a mempool instance serves both
    app.router.add_get("/{tail:.*}", rest._handle)
    server = await aiohttp_server(app)
    return rest, ws, str(server.make_url("")).rstrip("/")


def retargets(tg) -> list[dict[str, Any]]:
    return [m for m in tg.sent(chat_id=CHAT) if "Difficulty retarget at block 838,656" in m["text"]]


async def test_retarget_pushed_over_the_socket_is_announced_once(tmp_path, tg, mempool):
    rest, ws, base = mempool
    clock = FakeClock()
    settings = bot_settings(
        tmp_path,
        tg,
        {
            "sources.mempool": {"base_url": base},
            "watchers.network": {"every": "60s", "price_sources": ["mempool"]},
            "http": {"port": 0},
        },
    )
    async with running_bot(settings, clock) as (app, svc):
        assert "Alert set" in await tg.command("/alert retarget", chat_id=CHAT)
        network = svc.watchers[0]
        await run_watch(svc, app.bot_data, network)  # an interval poll: the epoch is recorded

        follow = await push.start(app.bot_data, svc)
        assert follow is not None and follow.socket is not None and follow.zmq is None
        await until(lambda: follow.socket.status.tip_height == 837049, "the subscription")
        assert ws.received == [WANT] and ws.connections == 1

        da_hits = rest.hits.get(DA, 0)
        block = built_block(838656)
        clock.advance(30)
        await ws.push(block_message(block, next_epoch(clock)))
        await tg.wait_for(lambda: len(retargets(tg)) == 1)
        text = retargets(tg)[0]["text"]
        assert "+5.91%" in text  # the realised change, from the pushed da
        assert rest.hits.get(DA, 0) == da_hits  # the pushed da served the poll: no REST request
        await follow.wait_idle()
        assert follow.block_polls == 1

        # The same block again: over the socket (ignored by the follower), from the node's ZMQ
        # (same hash: a duplicate), and seen by the next interval poll over REST.
        await ws.push(block_message(block, next_epoch(clock)))
        await follow.on_block(BlockNotice("bitcoind", None, block["id"]))
        rest.serve_json(DA, next_epoch(clock))
        clock.advance(30)
        await run_watch(svc, app.bot_data, network)
        await follow.wait_idle()
        assert follow.block_polls == 1 and follow.duplicates == 1
        assert len(retargets(tg)) == 1  # one block, one alert

        # How the sources are followed: /status and /metrics.
        reply = await tg.command("/status", chat_id=CHAT)
        assert "mempool push (last 0s ago)" in reply
        server = app.bot_data[HTTP_KEY]
        async with (
            aiohttp.ClientSession() as s,
            s.get(f"http://127.0.0.1:{server.port}/metrics") as resp,
        ):
            page = await resp.text()
        assert 'minerwatch_source_follow{mode="push",source="mempool"} 1.0' in page
        assert 'minerwatch_source_follow{mode="fallback",source="mempool"} 0.0' in page
        assert 'minerwatch_push_blocks_total{outcome="new",source="mempool"} 1.0' in page
        assert 'minerwatch_push_blocks_total{outcome="duplicate",source="bitcoind"} 1.0' in page
        last = re.search(r'minerwatch_source_last_update_timestamp_seconds\{source="mempool"\} (\S+)', page)
        assert last is not None and float(last.group(1)) == clock.now.timestamp()  # the last poll

        # The socket drops: polling carries on, and the source says it is on its fallback.
        await ws.drop()
        await until(lambda: not follow.socket.status.connected, "the drop")
        rows = following(svc, follow, {})
        assert [(r.source, r.mode) for r in rows] == [("mempool", "fallback")]
        assert "mempool push down, polling every 60s" in status_line(rows, clock.now)


class Slow:
    """A watcher whose poll waits for the test: to see what runs at once."""

    id = "network"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.active = 0
        self.max_active = 0
        self.polls = 0

    async def poll(self, ctx: PollContext) -> PollResult:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await self.release.wait()
        finally:
            self.active -= 1
        self.polls += 1
        return PollResult()


async def test_one_poll_per_watcher_at_a_time_and_notices_coalesce(tmp_path, tg):
    settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
    async with running_bot(settings, FakeClock()) as (app, svc):
        slow = Slow()
        sw = ScheduledWatcher(slow, 60)
        # The interval job and a block-driven poll at the same moment: one waits for the other.
        first = asyncio.create_task(run_watch(svc, app.bot_data, sw))
        second = asyncio.create_task(run_watch(svc, app.bot_data, sw))
        await until(lambda: slow.active == 1, "the first poll")
        await asyncio.sleep(0.01)
        assert slow.active == 1  # the second is held by the runner's lock
        slow.release.set()
        await asyncio.gather(first, second)
        assert slow.polls == 2 and slow.max_active == 1

        # Three blocks while a poll runs: one more poll after it, not three.
        slow.release.clear()
        follow = push.PushFollow(svc, app.bot_data, sw)
        loop = asyncio.create_task(follow._poll_loop())
        await follow.on_block(BlockNotice("mempool", 1, "a" * 64))
        await until(lambda: slow.active == 1, "the block-driven poll")
        for n in range(3):
            await follow.on_block(BlockNotice("mempool", 2 + n, f"{n:064x}"))
        slow.release.set()
        await follow.wait_idle()
        loop.cancel()
        assert slow.polls == 4  # 2 before + the running one + one coalesced
        assert follow.block_polls == 2 and slow.max_active == 1


def test_zmq_without_pyzmq_stops_the_bot_at_start_naming_the_key(monkeypatch):
    import sys

    from bot.registry import build_watchers
    from bot.settings import Settings

    monkeypatch.setitem(sys.modules, "zmq", None)  # as if pyzmq were not installed
    monkeypatch.setitem(sys.modules, "zmq.asyncio", None)
    settings = Settings(sources={"bitcoind": {"zmq": "tcp://127.0.0.1:28332"}})
    with pytest.raises(ValueError, match=r"\[sources.bitcoind\] zmq .* pip install 'minerwatch\[zmq\]'"):
        build_watchers(settings)
    with pytest.raises(ValueError, match="zmq"):
        Settings(sources={"bitcoind": {"zmq": "127.0.0.1:28332"}})  # no transport: refused
    assert len(build_watchers(Settings())) == 1  # without the key, pyzmq is never needed
