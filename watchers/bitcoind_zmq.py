"""Following new blocks from the user's own Bitcoin Core over ZMQ (``-zmqpubhashblock``).

Bitcoin Core's ``doc/zmq.md`` (bitcoin/bitcoin): a ``hashblock`` notification is a three-part
message ``| "hashblock" | <32-byte block hash> | <4-byte little-endian sequence number> |``; the
sequence counts up per topic, so a gap means notifications were lost (the high-water mark, a
restart). The hash is sent in the order block explorers show it, so ``body.hex()`` is the block's
id. ZMQ reconnects by itself ("self-connecting and self-healing"); a ZMTP heartbeat is set so a
dead TCP connection is noticed and re-established rather than waiting forever.

pyzmq is an optional extra (``pip install minerwatch[zmq]``): without it, configuring
``[sources.bitcoind] zmq`` is a start-up error that says so. The notice carries only the hash; the
poll reads everything else over RPC (or mempool), as always.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from watchers.mempool_ws import BlockNotice, FollowStatus

logger = logging.getLogger(__name__)

SOURCE = "bitcoind"
TOPIC = b"hashblock"
HEARTBEAT_MS = 10_000  # ZMTP ping every 10 s ...
HEARTBEAT_TIMEOUT_MS = 30_000  # ... a peer silent for 30 s is reconnected
RECONNECT_MAX_MS = 60_000  # libzmq's reconnect back-off ceiling


class ZmqUnavailable(ValueError):
    """pyzmq is not installed: a config the install cannot serve (stops the bot at start)."""


def zmq_module() -> Any:
    try:
        import zmq
        import zmq.asyncio
    except ImportError as err:  # an optional extra
        raise ZmqUnavailable(
            "[sources.bitcoind] zmq is set but pyzmq is not installed: pip install 'minerwatch[zmq]'"
        ) from err
    return zmq


class MalformedZmq(ValueError):
    pass


def parse_hashblock(parts: Sequence[bytes]) -> tuple[str, int]:
    """(block hash hex, sequence) of one ``hashblock`` message; MalformedZmq otherwise."""
    if len(parts) != 3:
        raise MalformedZmq(f"{len(parts)} parts, not 3 (topic, hash, sequence)")
    topic, body, seq = parts
    if topic != TOPIC:
        raise MalformedZmq(f"topic {topic[:20]!r} is not hashblock")
    if len(body) != 32:
        raise MalformedZmq(f"hash of {len(body)} bytes, not 32")
    if len(seq) != 4:
        raise MalformedZmq(f"sequence of {len(seq)} bytes, not 4")
    return body.hex(), struct.unpack("<I", seq)[0]


class ZmqBlocks:
    """A SUB socket on the node's hashblock publisher; ``on_block`` is awaited per new block."""

    def __init__(
        self,
        endpoint: str,
        on_block: Callable[[BlockNotice], Awaitable[None]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.zmq = zmq_module()
        self.endpoint = endpoint
        self.on_block = on_block
        self.clock = clock
        self.status = FollowStatus()
        self._last_seq: int | None = None
        self._last_hash: str | None = None
        self.missed = 0  # notifications lost, by the sequence numbers

    async def feed(self, parts: Sequence[bytes]) -> BlockNotice | None:
        now = self.clock()
        self.status.last_message_at = now
        try:
            block_hash, seq = parse_hashblock(parts)
        except MalformedZmq as err:
            self.status.malformed += 1
            self.status.last_error = f"malformed notification: {err}"
            return None
        if self._last_seq is not None:
            gap = (seq - self._last_seq - 1) % 2**32
            if 0 < gap < 2**31:
                self.missed += gap
                logger.warning("bitcoind zmq: %d hashblock notification(s) lost (sequence %d)", gap, seq)
            elif gap >= 2**31:  # went back: the node restarted and counts from 0 again
                logger.info("bitcoind zmq: sequence restarted at %d (node restart)", seq)
        self._last_seq = seq
        if block_hash == self._last_hash:
            return None  # the same block again
        self._last_hash = block_hash
        self.status.last_block_at = now
        notice = BlockNotice(SOURCE, None, block_hash)
        await self.on_block(notice)
        return notice

    async def run(self) -> None:
        """Subscribe and read until cancelled. Whether the node is there is read from the socket's
        monitor, not assumed: a SUB socket "connects" to an endpoint with nobody behind it."""
        zmq = self.zmq
        ctx = zmq.asyncio.Context()
        sock = ctx.socket(zmq.SUB)
        monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        watching = asyncio.create_task(self._watch(monitor))
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_MS)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_MAX_MS)
            sock.setsockopt(zmq.SUBSCRIBE, TOPIC)
            sock.connect(self.endpoint)
            while True:
                parts = await sock.recv_multipart()
                await self.feed(parts)
        finally:
            watching.cancel()
            self.status.connected = False
            sock.disable_monitor()
            monitor.close(linger=0)
            sock.close(linger=0)
            ctx.term()

    async def _watch(self, monitor: Any) -> None:
        """Follow the socket's connection events: connected once the ZMTP handshake with the node
        succeeded (a peer that is not a ZMQ publisher never gets there), down when it drops (the
        node stopped, or the heartbeat found it silent)."""
        from zmq.utils.monitor import recv_monitor_message

        zmq = self.zmq
        while True:
            event = await recv_monitor_message(monitor)
            if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.status.connected = True
                self.status.connects += 1
                logger.info("bitcoind zmq: connected to %s", self.endpoint)
            elif event["event"] == zmq.EVENT_DISCONNECTED and self.status.connected:
                self.status.connected = False
                self.status.drops += 1
                self.status.last_error = "node disconnected; libzmq reconnects by itself"
                logger.info("bitcoind zmq: %s disconnected; polling carries on", self.endpoint)
