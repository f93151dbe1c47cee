"""Block-driven polls (issue 18): mempool's WebSocket and the node's ZMQ announce each new block,
and the network watcher polls at once instead of up to ``every`` later.

One :class:`PushFollow` per bot, started in ``post_init`` (:func:`start`) and stopped in
``post_shutdown`` (:func:`stop`): at most one mempool socket and one ZMQ subscription, whatever
the number of chats, so a public mempool sees one socket per bot and requests per hour do not grow
with users (a block costs one poll, as an interval tick does).

A notice is a trigger, never a second path for data: it runs :func:`bot.jobs.run_watch`, the very
function of the ``watch:network`` job, so the values go through the same validation, ingest,
outbox and dedup. No duplicates:

* the same block announced by the socket and by ZMQ is one poll (notices are keyed by block hash);
* notices arriving while a poll runs coalesce into one more poll after it;
* the runner's per-watcher lock keeps a block-driven poll and the interval poll from overlapping;
* a block also seen by an interval poll is still one alert: threshold rules fire on transitions
  only, and a retarget is one event keyed by its height (storage dedups events by key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.jobs import run_watch
from bot.ops import http as ops_http
from bot.ops.follow import PUSH_KEY
from bot.services import ScheduledWatcher, Services
from watchers.bitcoind_zmq import ZmqBlocks
from watchers.mempool_ws import BlockNotice, MempoolSocket, websocket_enabled
from watchers.network import NetworkWatcher

logger = logging.getLogger(__name__)

SEEN_BLOCKS = 64  # block keys remembered for dedup (hours of blocks)


@dataclass
class PushFollow:
    svc: Services
    bot_data: dict[Any, Any]
    network: ScheduledWatcher
    socket: MempoolSocket | None = None
    zmq: ZmqBlocks | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    last_push_at: dict[str, datetime] = field(default_factory=dict)  # source -> newest block pushed
    blocks: dict[str, int] = field(default_factory=dict)  # source -> new blocks it announced
    duplicates: int = 0  # notices of a block already announced (by the other source)
    block_polls: int = 0
    _seen: deque[str] = field(default_factory=lambda: deque(maxlen=SEEN_BLOCKS))
    _wanted: asyncio.Event = field(default_factory=asyncio.Event)
    _checked: object | None = None
    _busy: bool = False  # a block-driven poll (and its drain) is running

    async def on_block(self, notice: BlockNotice) -> None:
        """A push source saw a new block: poll now (once per block, whoever announced it)."""
        metrics = ops_http.app_metrics(self.bot_data)
        if notice.key in self._seen:
            self.duplicates += 1
            metrics.push_blocks.labels(notice.source, "duplicate").inc()
            return
        metrics.push_blocks.labels(notice.source, "new").inc()
        self._seen.append(notice.key)
        self.last_push_at[notice.source] = self.svc.clock()
        self.blocks[notice.source] = self.blocks.get(notice.source, 0) + 1
        watcher = self.network.watcher
        if isinstance(watcher, NetworkWatcher):
            watcher.offer_push(notice)
        self._wanted.set()

    async def _poll_loop(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()  # notices from now on ask for one more poll after this one
            self._busy = True
            try:
                await run_watch(self.svc, self.bot_data, self.network)
                self.block_polls += 1
            except Exception:  # a poll failure is health state already; the loop must live on
                logger.exception("block-driven poll failed")
            finally:
                self._busy = False

    async def _tip_check(self) -> None:
        """Tell the socket each new tip a poll read, so a socket left behind is closed."""
        while True:
            await asyncio.sleep(1.0)
            self.check_tip()

    def check_tip(self) -> None:
        result = self.svc.pipeline.last_result.get(self.network.watcher.id)
        if result is None or result is self._checked or self.socket is None:
            return
        self._checked = result
        watcher = self.network.watcher
        tip = watcher.tip_seen(result) if isinstance(watcher, NetworkWatcher) else None
        if tip is not None:
            self.socket.rest_tip(tip)

    async def wait_idle(self) -> None:
        """Until no block-driven poll is wanted or running (tests and the benchmark)."""
        while self._wanted.is_set() or self._busy or self.svc.pipeline.lock(self.network.watcher.id).locked():
            await asyncio.sleep(0.005)


def build(svc: Services, bot_data: dict[Any, Any]) -> PushFollow | None:
    """The push sources the settings ask for, or None (no network watcher, nothing configured).
    Raises ZmqUnavailable when ZMQ is configured without pyzmq."""
    network = next((sw for sw in svc.watchers if sw.watcher.id == "network"), None)
    if network is None:
        return None
    s = svc.settings
    follow = PushFollow(svc, bot_data, network)
    if websocket_enabled(s.sources.mempool, list(s.watchers.network.sources), s.watchers.network.enabled):
        follow.socket = MempoolSocket(s.sources.mempool, follow.on_block)
    if s.sources.bitcoind.zmq:
        follow.zmq = ZmqBlocks(s.sources.bitcoind.zmq, follow.on_block)
    if follow.socket is None and follow.zmq is None:
        return None
    return follow


async def start(bot_data: dict[Any, Any], svc: Services) -> PushFollow | None:
    """post_init: follow the configured push sources (needs the shared session)."""
    follow = build(svc, bot_data)
    if follow is None:
        return None
    assert svc.session is not None
    follow.tasks.append(asyncio.create_task(follow._poll_loop(), name="push:poll"))
    if follow.socket is not None:
        follow.tasks.append(asyncio.create_task(follow.socket.run(svc.session), name="push:mempool"))
        follow.tasks.append(asyncio.create_task(follow._tip_check(), name="push:tip"))
    if follow.zmq is not None:
        follow.tasks.append(asyncio.create_task(follow.zmq.run(), name="push:zmq"))
    bot_data[PUSH_KEY] = follow
    logger.info(
        "push: %s", ", ".join(n for n, on in (("mempool socket", follow.socket), ("zmq", follow.zmq)) if on)
    )
    return follow


async def stop(bot_data: dict[Any, Any]) -> None:
    """post_shutdown (before the session closes): end every push task."""
    follow = bot_data.pop(PUSH_KEY, None)
    if not isinstance(follow, PushFollow):
        return
    for task in follow.tasks:
        task.cancel()
    for task in follow.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
