"""Following new blocks over mempool's WebSocket (``/api/v1/ws``), so the network poll runs the
moment mempool publishes a block instead of up to a poll interval later.

The protocol, as mempool's own code speaks it (mempool/mempool, read at the commits below):

* ``frontend/src/app/services/websocket.service.ts`` @ 319538dfe390a0794c03a68cd924ba3c1c203221:
  the URL is ``ws(s)://<host><network prefix>/api/v1/ws``; the client subscribes with
  ``{"action": "want", "data": [...]}``; when nothing arrived for 30 s it sends
  ``{"action": "ping"}`` and closes and reconnects if no answer comes within 5 s
  (OFFLINE_PING_CHECK_AFTER_MS, EXPECT_PING_RESPONSE_AFTER_MS); after a drop it reconnects after
  2-4 s (OFFLINE_RETRY_AFTER_MS plus a random share of it).
* ``backend/src/api/websocket-handler.ts`` @ 4e45b55c3a0ef9986936f7fcc688aae0ec9ce6a5: the
  wantable subscriptions are ``blocks``, ``mempool-blocks``, ``live-2h-chart``, ``stats`` and
  ``tomahawk``. A first ``want`` of ``blocks`` answers ``{"blocks": [...]}`` (the latest blocks,
  oldest first); of ``stats`` ``{"mempoolInfo", "vBytesPerSecond", "fees", "da"}``. On each new
  block (``handleNewBlock``) every client wanting blocks gets ``"block": <BlockExtended>`` and, if
  it wants stats, ``mempoolInfo``, ``vBytesPerSecond``, ``fees`` and ``da`` (the same object as
  ``/api/v1/difficulty-adjustment``, sent only when it has ``previousTime``) IN THE SAME message.
  Between blocks, mempool changes send the stats keys (every few seconds on a busy instance).
  ``{"action": "ping"}`` is answered ``{"pong": true}``. A message the server cannot parse makes
  it close the socket. A reorg sends ``{"blocks": [...], "da": ...}``.

What this module does with them: a ``block`` (or a ``blocks`` list reaching higher than anything
seen) newer than the highest block seen is a :class:`BlockNotice`, carrying that message's ``da``
when it has one (the poll validates it like the REST answer and uses it instead of asking). A
block at or below the highest seen (out of order, a repeat after a reconnect) is ignored unless it
replaces the tip with another hash. A message that is not JSON, not an object, or whose block has
no whole height is counted as malformed and ignored: it never triggers anything.

The socket is a trigger, never the only path: the interval poll carries on whatever the socket
does. A drop reconnects with back-off (2 s doubling to 5 min, plus up to half again at random so
a restarted mempool is not hit by every bot at once). A silent socket is a dropped one: nothing for
30 s gets a ping, no answer within 5 s closes it (mempool's own frontend rule); and a socket whose
newest block stays behind the tip the REST poll reads for longer than :data:`BEHIND_LIMIT_S` has
lost its subscription and is closed too (:meth:`MempoolSocket.rest_tip`).

Time is injected (``clock``, ``sleep``, ``jitter``) so tests drive silence and back-off without
waiting; :meth:`MempoolSocket.check` is the watchdog, called every second by :meth:`run`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from watchers.base import MAX_INT_DIGITS
from watchers.mempool import MAX_BYTES, MempoolSourceConfig

logger = logging.getLogger(__name__)

SOURCE = "mempool"
WANT = {"action": "want", "data": ["blocks", "stats"]}
PING = {"action": "ping"}
PING_AFTER_S = 30.0  # frontend OFFLINE_PING_CHECK_AFTER_MS
PONG_TIMEOUT_S = 5.0  # frontend EXPECT_PING_RESPONSE_AFTER_MS
BACKOFF_BASE_S = 2.0  # frontend OFFLINE_RETRY_AFTER_MS
BACKOFF_MAX_S = 300.0
BEHIND_LIMIT_S = 60.0  # REST's tip ahead of the socket's this long: the socket is dead
CONNECT_TIMEOUT_S = 20.0
MAX_HEIGHT = 100_000_000  # rules/catalogue.py's bound for `height`


def socket_url(base_url: str) -> str:
    """``https://mempool.space`` -> ``wss://mempool.space/api/v1/ws``; a path prefix is kept
    (``https://mempool.space/testnet`` -> ``wss://mempool.space/testnet/api/v1/ws``), as the
    frontend puts the network before ``/api/v1/ws``."""
    url = URL(base_url.rstrip("/"))
    scheme = {"https": "wss", "http": "ws"}.get(url.scheme, url.scheme)
    return str(url.with_scheme(scheme).with_path(url.path.rstrip("/") + "/api/v1/ws"))


def websocket_enabled(cfg: MempoolSourceConfig, network_sources: list[str], network_enabled: bool) -> bool:
    """The rule for ``[sources.mempool] websocket``: an explicit true/false wins; unset, the
    socket is followed whenever the network watcher is on and lists ``mempool`` among its
    sources (any mempool instance, public or self-hosted, serves it)."""
    if cfg.websocket is not None:
        return cfg.websocket and network_enabled
    return network_enabled and "mempool" in network_sources


@dataclass(frozen=True, slots=True)
class BlockNotice:
    """A new block announced by a push source. ``da`` is the raw difficulty-adjustment object
    pushed with it (validated by the poll, never trusted here)."""

    source: str  # "mempool" (the socket) or "bitcoind" (ZMQ)
    height: int | None
    block_hash: str | None
    da: Mapping[str, Any] | None = None

    @property
    def key(self) -> str:
        """What makes two notices the same block, whichever source sent them."""
        return self.block_hash.lower() if self.block_hash else f"height:{self.height}"


class Malformed(ValueError):
    """A socket message we cannot read: counted and ignored."""


def _block(raw: Any) -> tuple[int, str | None]:
    if not isinstance(raw, Mapping):
        raise Malformed(f"block is a {type(raw).__name__}, not an object")
    height = raw.get("height")
    if isinstance(height, bool) or not isinstance(height, int) or not 0 <= height <= MAX_HEIGHT:
        raise Malformed(f"block height {height!r} is not a block height")
    block_id = raw.get("id")
    if block_id is not None and not (isinstance(block_id, str) and len(block_id) == 64):
        raise Malformed("block id is not a 64-character hash")
    return height, block_id


@dataclass(slots=True)
class Message:
    """What one socket message says that we use."""

    blocks: list[tuple[int, str | None]] = field(default_factory=list)  # (height, hash), any order
    tip_from_list: bool = False  # the blocks came as the `blocks` list (subscription or reorg)
    da: Mapping[str, Any] | None = None
    pong: bool = False


def _bounded_int(digits: str) -> int | float:
    # int() of thousands of digits raises; such a number is no height, and says so below
    return int(digits) if len(digits) <= MAX_INT_DIGITS else float("inf")


def parse_message(text: str | bytes) -> Message:
    """One message (mempool sends each as one JSON object). Raises :class:`Malformed`."""
    try:
        payload = json.loads(text, parse_int=_bounded_int)
    except (ValueError, RecursionError) as err:
        raise Malformed("not JSON") from err
    if not isinstance(payload, Mapping):
        raise Malformed(f"a {type(payload).__name__}, not an object")
    msg = Message(pong=payload.get("pong") is True)
    if "block" in payload:
        msg.blocks.append(_block(payload["block"]))
    if "blocks" in payload:
        listed = payload["blocks"]
        if not isinstance(listed, list):
            raise Malformed("blocks is not a list")
        msg.blocks.extend(_block(b) for b in listed)
        msg.tip_from_list = "block" not in payload
    da = payload.get("da")
    if da is not None:
        if not isinstance(da, Mapping):
            raise Malformed("da is not an object")
        msg.da = da
    return msg


@dataclass(slots=True)
class FollowStatus:
    """How a push source is doing, for /status and /metrics. Times are the follower's clock."""

    connected: bool = False
    last_message_at: float | None = None
    last_block_at: float | None = None
    tip_height: int | None = None
    connects: int = 0
    drops: int = 0
    malformed: int = 0
    last_error: str | None = None


OnBlock = Callable[[BlockNotice], Awaitable[None]]


class MempoolSocket:
    """One socket per bot to one mempool instance; ``on_block`` is awaited for every new block."""

    def __init__(
        self,
        cfg: MempoolSourceConfig,
        on_block: OnBlock,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.url = socket_url(cfg.base_url)
        self.timeout_s = cfg.timeout_s
        self.on_block = on_block
        self.clock, self.sleep, self.jitter = clock, sleep, jitter
        self.status = FollowStatus()
        self._tip: tuple[int, str | None] | None = None  # the highest block seen, across connections
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ping_sent_at: float | None = None
        self._behind_since: float | None = None
        self._failures = 0
        self._close_reason: str | None = None  # why we closed the socket ourselves

    # -- the loop -----------------------------------------------------------------------------

    def backoff_s(self, failures: int) -> float:
        base = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, failures - 1))
        return base * (1 + 0.5 * self.jitter())

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Connect, read, reconnect with back-off: until cancelled."""
        watchdog = asyncio.create_task(self._watchdog())
        try:
            while True:
                self._close_reason = None
                try:
                    await self._session(session)
                    reason = self._close_reason or "closed by the server"
                except asyncio.CancelledError:
                    raise
                except (aiohttp.ClientError, TimeoutError, OSError) as err:
                    reason = f"{type(err).__name__}: {err}"[:200]
                self.status.connected = False
                self.status.last_error = reason
                self._failures += 1
                delay = self.backoff_s(self._failures)
                logger.info("mempool socket down (%s); polling carries on, reconnect in %.0fs", reason, delay)
                await self.sleep(delay)
        finally:
            watchdog.cancel()
            self.status.connected = False

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(1.0)  # real time only paces the checks; what they judge is self.clock
            await self.check()

    async def _session(self, session: aiohttp.ClientSession) -> None:
        # The handshake has the source's own timeout: a server that accepts the connection and
        # never upgrades it would otherwise hold the follower for the session's default (none).
        async with asyncio.timeout(self.timeout_s):
            ws = await session.ws_connect(
                self.url,
                max_msg_size=MAX_BYTES,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                heartbeat=None,  # mempool's own ping protocol below, not WebSocket pings
                autoping=True,
                headers={"User-Agent": "MinerWatch/0.1 (+https://github.com/minerwatch/minerwatch)"},
            )
        async with ws:
            self._ws = ws
            self._ping_sent_at = None
            self._behind_since = None
            self.status.connected = True
            self.status.connects += 1
            self.status.last_message_at = self.clock()
            try:
                await ws.send_json(WANT)
                async for raw in ws:
                    if raw.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        await self.feed(raw.data)
                    elif raw.type == aiohttp.WSMsgType.ERROR:
                        raise aiohttp.ClientError(f"socket error: {ws.exception()}")
            finally:
                self._ws = None
                self.status.connected = False
                self.status.drops += 1

    # -- messages -----------------------------------------------------------------------------

    async def feed(self, text: str | bytes) -> BlockNotice | None:
        """Read one message; call ``on_block`` if it announces a new block. Public so tests and the
        replay of recorded messages can drive it without a socket."""
        now = self.clock()
        self.status.last_message_at = now
        self._ping_sent_at = None  # any message proves the socket alive, as in mempool's frontend
        try:
            msg = parse_message(text)
        except Malformed as err:
            self.status.malformed += 1
            self.status.last_error = f"malformed message: {err}"
            logger.debug("mempool socket: malformed message ignored (%s)", err)
            return None
        self._failures = 0  # a readable message: the connection works, back-off starts over
        if not msg.blocks:
            return None
        height, block_hash = max(msg.blocks, key=lambda b: b[0])
        first = self._tip is None
        if self._tip is not None:
            top, top_hash = self._tip
            if height < top or (height == top and (block_hash is None or block_hash == top_hash)):
                return None  # out of order, or a block already seen
        self._tip = (height, block_hash)
        self.status.tip_height = height
        self.status.last_block_at = now
        self._behind_since = None
        if first and msg.tip_from_list:
            return None  # the subscription's snapshot: where we start, not a new block
        notice = BlockNotice(SOURCE, height, block_hash, msg.da)
        await self.on_block(notice)
        return notice

    # -- liveness -----------------------------------------------------------------------------

    async def check(self) -> None:
        """The watchdog: ping a socket silent for PING_AFTER_S; close one that did not answer the
        ping within PONG_TIMEOUT_S, or that stayed behind REST's tip for BEHIND_LIMIT_S."""
        ws = self._ws
        if ws is None or ws.closed:
            return
        now = self.clock()
        if self._ping_sent_at is not None and now - self._ping_sent_at >= PONG_TIMEOUT_S:
            await self._close(ws, f"silent: no answer to a ping in {PONG_TIMEOUT_S:g}s")
            return
        if self._behind_since is not None and now - self._behind_since >= BEHIND_LIMIT_S:
            await self._close(ws, f"behind: REST's tip was newer for {BEHIND_LIMIT_S:g}s")
            return
        last = self.status.last_message_at
        if self._ping_sent_at is None and last is not None and now - last >= PING_AFTER_S:
            self._ping_sent_at = now
            try:
                await ws.send_json(PING)
            except (aiohttp.ClientError, ConnectionError, RuntimeError) as err:
                await self._close(ws, f"ping failed: {type(err).__name__}")

    def rest_tip(self, height: int) -> None:
        """The tip height the last REST poll read. A connected socket whose newest block is lower
        than it is behind; behind for BEHIND_LIMIT_S it is treated as dropped (:meth:`check`)."""
        tip = self._tip[0] if self._tip else None
        if self._ws is None or tip is None or height <= tip:
            self._behind_since = None
        elif self._behind_since is None:
            self._behind_since = self.clock()

    async def _close(self, ws: aiohttp.ClientWebSocketResponse, reason: str) -> None:
        logger.warning("mempool socket %s: closing it, polling carries on", reason)
        self._close_reason = reason
        await ws.close()
