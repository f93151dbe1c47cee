"""mempool's WebSocket (issue 18): the message parser on mempool's own shapes, and the follower
against a local aiohttp WebSocket server replaying them: subscription, new blocks, repeats,
out-of-order and malformed messages, reconnects with back-off, a silent server and a socket left
behind REST's tip. Time is injected (FakeMonotonic, recorded sleeps): nothing waits on the clock
beyond loopback round trips."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from aiohttp import web

from tests.mempool_ws_standin import (
    MempoolSocketStandIn,
    block_message,
    built_block,
    capture,
    subscription,
)
from watchers.mempool import MempoolSourceConfig
from watchers.mempool_ws import (
    BACKOFF_MAX_S,
    PING,
    WANT,
    BlockNotice,
    Malformed,
    MempoolSocket,
    parse_message,
    socket_url,
    websocket_enabled,
)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def until(cond: Callable[[], bool], what: str = "condition") -> None:
    """Loopback round trips only: yield until ``cond`` holds (fails after ~10 s of no progress)."""
    for _ in range(2000):
        if cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


# -- the parser, on mempool's shapes -----------------------------------------------------------


def test_subscription_answer_is_the_latest_blocks_and_the_stats():
    msg = parse_message(json.dumps(subscription()))
    assert [h for h, _ in msg.blocks] == [837048, 837049]
    assert msg.tip_from_list is True
    assert msg.da is not None and msg.da["nextRetargetHeight"] == 838656
    assert msg.pong is False


def test_new_block_message_carries_the_block_and_its_difficulty_adjustment():
    msg = parse_message(json.dumps(block_message()))
    assert msg.blocks == [(837050, "00000000000000000000e7d533924ecd9e2096bdf261ae3daf3f04861150c5a8")]
    assert msg.tip_from_list is False
    assert msg.da == capture()["da"]


def test_stats_only_message_and_pong_announce_no_block():
    cap = capture()
    stats = parse_message(json.dumps({k: cap[k] for k in ("mempoolInfo", "vBytesPerSecond", "fees", "da")}))
    assert stats.blocks == [] and stats.da is not None
    assert parse_message('{"pong": true}').pong is True
    assert parse_message(json.dumps({"conversions": cap["conversions"]})).blocks == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not an object"),
        ('{"block": {"id": "ab"}}', "height"),
        ('{"block": {"height": "837050"}}', "height"),
        ('{"block": {"height": true}}', "height"),
        ('{"block": {"height": -1}}', "height"),
        ('{"block": {"height": 837050.5}}', "height"),
        ('{"block": {"height": 837050, "id": "short"}}', "hash"),
        ('{"block": [837050]}', "not an object"),
        ('{"blocks": "837050"}', "not a list"),
        ('{"da": 5}', "da"),
        ('{"block": {"height": 1' + "0" * 5000 + "}}", "height"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(text, why):
    with pytest.raises(Malformed, match=why):
        parse_message(text)


def test_socket_url_follows_the_rest_base_url():
    assert socket_url("https://mempool.space") == "wss://mempool.space/api/v1/ws"
    assert socket_url("https://mempool.space/") == "wss://mempool.space/api/v1/ws"
    assert socket_url("https://mempool.space/testnet4") == "wss://mempool.space/testnet4/api/v1/ws"
    assert socket_url("http://umbrel.local:3006") == "ws://umbrel.local:3006/api/v1/ws"


@pytest.mark.parametrize(
    ("websocket", "sources", "enabled", "expected"),
    [
        (None, ["mempool"], True, True),  # default: on for any mempool instance the watcher uses
        (None, ["mempool", "bitcoind"], True, True),
        (None, ["bitcoind"], True, False),  # mempool not used: no socket
        (None, ["mempool"], False, False),  # network watcher off
        (False, ["mempool"], True, False),  # explicitly off
        (True, ["bitcoind"], True, True),  # explicitly on as a trigger only
    ],
)
def test_websocket_default_rule(websocket, sources, enabled, expected):
    cfg = MempoolSourceConfig(base_url="http://umbrel.local:3006", websocket=websocket)
    assert websocket_enabled(cfg, sources, enabled) is expected


# -- the follower against a local server -------------------------------------------------------


class Harness:
    def __init__(self, standin: MempoolSocketStandIn, base_url: str) -> None:
        self.standin = standin
        self.clock = FakeMonotonic()
        self.notices: list[BlockNotice] = []
        self.sleeps: list[float] = []
        self.hold = asyncio.Event()  # released by the test: the back-off "sleep" ends
        self.hold.set()
        self.socket = MempoolSocket(
            MempoolSourceConfig(base_url=base_url),
            self.on_block,
            clock=self.clock,
            sleep=self.sleep,
            jitter=lambda: 0.0,
        )

    async def on_block(self, notice: BlockNotice) -> None:
        self.notices.append(notice)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await self.hold.wait()

    def heights(self) -> list[int | None]:
        return [n.height for n in self.notices]


@pytest.fixture
async def ws_server(aiohttp_server):
    standin = MempoolSocketStandIn()
    server = await aiohttp_server(standin.app())
    return standin, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def follower(ws_server):
    import aiohttp

    standin, base = ws_server
    h = Harness(standin, base)
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(h.socket.run(session))
        try:
            yield h
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def test_subscribes_to_blocks_and_stats_and_announces_each_new_block_once(follower):
    h = follower
    await until(lambda: h.standin.received == [WANT], "the want message")
    await until(lambda: h.socket.status.tip_height == 837049, "the subscription snapshot")
    assert h.notices == []  # the snapshot is where we start, not a new block
    assert h.socket.status.connected and h.standin.connections == 1

    await h.standin.push(block_message())  # block 837050 with its da, as handleNewBlock sends it
    await until(lambda: len(h.notices) == 1, "the block notice")
    notice = h.notices[0]
    assert (notice.source, notice.height) == ("mempool", 837050)
    assert notice.block_hash == "00000000000000000000e7d533924ecd9e2096bdf261ae3daf3f04861150c5a8"
    assert notice.da == capture()["da"]

    # The same block again, an older one (out of order), garbage of every kind, a stats update:
    # none is a new block. Then 837051: exactly one more notice, in order.
    cap = capture()
    await h.standin.push(block_message())
    await h.standin.push(block_message(cap["blocks"][0]))
    await h.standin.push("not json")
    await h.standin.push({"block": {"height": "837051"}})
    await h.standin.push([1, 2, 3])
    await h.standin.push({k: cap[k] for k in ("mempoolInfo", "fees", "da")})
    await h.standin.push(block_message(built_block(837051)))
    await until(lambda: len(h.notices) == 2, "the second block")
    assert h.heights() == [837050, 837051]
    assert h.socket.status.malformed == 3
    assert h.socket.status.connected and h.standin.connections == 1  # garbage does not cost the socket


async def test_a_competing_block_at_the_same_height_is_announced(follower):
    h = follower
    await until(lambda: h.socket.status.tip_height == 837049, "the snapshot")
    await h.standin.push(block_message(built_block(837050)))
    await h.standin.push(block_message())  # the real 837050: another hash at the tip's height
    await until(lambda: len(h.notices) == 2, "both tips")
    assert h.heights() == [837050, 837050]
    assert h.notices[0].block_hash != h.notices[1].block_hash


async def test_drop_reconnects_with_backoff_and_catches_up_on_missed_blocks(follower):
    h = follower
    await until(lambda: h.socket.status.tip_height == 837049, "the snapshot")
    h.hold.clear()  # the next back-off waits for the test
    # While we are away two blocks arrive: the next subscription snapshot reaches 837051.
    h.standin.snapshot = subscription([capture()["blocks"][2], built_block(837051)])
    await h.standin.drop()
    await until(lambda: h.sleeps == [2.0], "the back-off")
    assert not h.socket.status.connected
    assert h.standin.connections == 1  # nothing reconnects before the back-off ends
    h.hold.set()
    await until(lambda: h.standin.connections == 2, "the reconnect")
    await until(lambda: len(h.notices) == 1, "the catch-up notice")
    assert h.heights() == [837051]  # one poll for what was missed, not one per block
    assert h.standin.received.count(WANT) == 2  # subscribed again
    assert h.socket.status.connects == 2 and h.socket.status.drops == 1

    # The same snapshot after another drop: nothing new, nothing announced.
    await h.standin.drop()
    await until(lambda: h.standin.connections == 3, "the second reconnect")
    await until(lambda: h.standin.received.count(WANT) == 3, "the third want")
    await h.standin.push(block_message(built_block(837052)))
    await until(lambda: len(h.notices) == 2, "the next block")
    assert h.heights() == [837051, 837052]
    assert h.sleeps == [2.0, 2.0]  # a working connection in between resets the back-off


async def test_backoff_doubles_while_the_server_refuses_and_is_capped(aiohttp_server):
    import aiohttp

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=503, text="<html>down</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/api/v1/ws", refuse)
    server = await aiohttp_server(app)
    h = Harness(MempoolSocketStandIn(), str(server.make_url("")).rstrip("/"))
    h.hold = asyncio.Event()

    async def sleep(seconds: float) -> None:  # instant, until ten attempts were made
        h.sleeps.append(seconds)
        if len(h.sleeps) >= 10:
            await h.hold.wait()

    h.socket.sleep = sleep
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(h.socket.run(session))
        await until(lambda: len(h.sleeps) == 10, "ten attempts")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert h.sleeps[:8] == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]
    assert h.sleeps[8:] == [BACKOFF_MAX_S, BACKOFF_MAX_S]
    assert "503" in (h.socket.status.last_error or "")
    # with jitter, a delay is up to half again longer (bots do not all come back at once)
    h.socket.jitter = lambda: 1.0
    assert h.socket.backoff_s(1) == 3.0


async def test_a_handshake_that_never_comes_times_out_and_backs_off():
    """A server that accepts the TCP connection and never answers the upgrade is given up after
    the source's timeout_s, then retried with back-off (before, the follower waited for ever)."""
    import aiohttp

    held: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    h = Harness(MempoolSocketStandIn(), f"http://127.0.0.1:{port}")
    h.socket.timeout_s = 0.2  # the configured [sources.mempool] timeout_s, small for the test
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(h.socket.run(session))
        await until(lambda: len(h.sleeps) == 1, "a first back-off after the timeout")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    for writer in held:  # closed and waited for: a transport left to the GC warns in a later test
        writer.close()
        await writer.wait_closed()
    server.close()
    await server.wait_closed()
    assert h.sleeps == [2.0]
    assert "TimeoutError" in (h.socket.status.last_error or "")
    assert h.socket.status.connects == 0


async def test_a_silent_server_is_pinged_then_dropped(follower):
    h = follower
    await until(lambda: h.socket.status.tip_height == 837049, "the snapshot")
    h.hold.clear()
    h.standin.silent = True  # from now on it answers nothing, not even pings

    h.clock.advance(29)
    await h.socket.check()
    assert PING not in h.standin.received  # 29 s of silence is nothing yet

    h.clock.advance(1)  # 30 s: mempool's frontend pings now
    await h.socket.check()
    await until(lambda: PING in h.standin.received, "the ping")
    h.clock.advance(4.9)
    await h.socket.check()
    assert h.socket.status.connected  # still within the 5 s mempool allows for the answer

    h.clock.advance(0.1)
    await h.socket.check()
    await until(lambda: h.sleeps == [2.0], "the drop")
    assert "silent" in (h.socket.status.last_error or "")
    h.standin.silent = False
    h.hold.set()
    await until(lambda: h.standin.connections == 2 and h.socket.status.connected, "the reconnect")


async def test_a_server_that_answers_the_ping_stays_connected(follower):
    h = follower
    await until(lambda: h.socket.status.tip_height == 837049, "the snapshot")
    h.clock.advance(30)
    await h.socket.check()
    await until(lambda: h.socket._ping_sent_at is None, "the pong")  # the answer clears the ping
    h.clock.advance(10)
    await h.socket.check()
    assert h.socket.status.connected and h.standin.connections == 1 and h.sleeps == []


async def test_a_socket_behind_the_rest_tip_is_dropped(follower):
    h = follower
    await until(lambda: h.socket.status.tip_height == 837049, "the snapshot")
    h.hold.clear()
    h.socket.rest_tip(837049)  # REST agrees: fine
    h.clock.advance(120)
    h.standin.silent = False
    await h.standin.push('{"pong": true}')  # keep it from being silent
    await until(lambda: h.socket.status.last_message_at == h.clock.now, "a message")
    await h.socket.check()
    assert h.socket.status.connected

    h.socket.rest_tip(837051)  # REST saw two blocks the socket never announced
    h.clock.advance(59)
    await h.standin.push('{"pong": true}')
    await until(lambda: h.socket.status.last_message_at == h.clock.now, "a message")
    await h.socket.check()
    assert h.socket.status.connected  # a block can reach REST a moment before the socket

    h.clock.advance(1)
    await h.socket.check()
    await until(lambda: h.sleeps == [2.0], "the drop")
    assert "behind" in (h.socket.status.last_error or "")


# -- the poll a block triggers -----------------------------------------------------------------


@pytest.mark.parametrize("garbage", [None, {"difficultyChange": "lots"}, {"estimatedRetargetDate": 5}])
async def test_pushed_values_serve_the_poll_and_garbage_falls_back_to_rest(aiohttp_server, garbage):
    import aiohttp

    from tests.mempool_standin import MempoolStandIn
    from watchers.base import PollContext
    from watchers.network import NetworkWatcher, NetworkWatcherConfig

    rest = MempoolStandIn()
    rest.serve_file("/api/v1/difficulty-adjustment", "difficulty-adjustment.mainnet-2024-03-31.json")
    rest.serve_file("/api/blocks/tip/height", "blocks-tip-height.assembled-mainnet-2024-03-31.txt")
    server = await aiohttp_server(rest.app())
    cfg = MempoolSourceConfig(base_url=str(server.make_url("")).rstrip("/"))
    watcher = NetworkWatcher(NetworkWatcherConfig(price_sources=["mempool"]), cfg)
    now = datetime(2024, 3, 31, 3, 18, tzinfo=UTC)
    da = {**capture()["da"], **(garbage or {})}
    watcher.offer_push(BlockNotice("mempool", 837051, "ab" * 32, da))
    async with aiohttp.ClientSession() as session:
        result = await watcher.poll(PollContext(session=session, now=now, state={}))
        values = {o.metric: o.value for o in result.observations}
        assert values["height"] == 837051  # the pushed height, not REST's 837050
        assert rest.hits.get("/api/blocks/tip/height") is None
        assert values["difficulty.next_change"] == pytest.approx(5.914788959658535)
        assert rest.hits.get("/api/v1/difficulty-adjustment") == (None if garbage is None else 1)
        # taken by one poll only: the next (interval) poll reads REST again
        again = await watcher.poll(PollContext(session=session, now=now, state={}))
        assert {o.metric: o.value for o in again.observations}["height"] == 837050
        assert rest.hits.get("/api/blocks/tip/height") == 1
