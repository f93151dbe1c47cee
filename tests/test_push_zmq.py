"""Bitcoin Core ZMQ (issue 18): ``hashblock`` notifications from a real ZMQ PUB socket on loopback,
in the message format of Bitcoin Core's doc/zmq.md (topic, 32-byte hash, 4-byte little-endian
sequence). Needs pyzmq (the optional ``zmq`` extra): skipped with the reason when absent."""

from __future__ import annotations

import asyncio
import struct

import pytest

pytest.importorskip("zmq", reason="pyzmq not installed (optional extra: pip install 'minerwatch[zmq]')")
import zmq
import zmq.asyncio

from watchers.bitcoind_zmq import MalformedZmq, ZmqBlocks, parse_hashblock
from watchers.mempool_ws import BlockNotice

# Block 837050's hash (tests/fixtures/mempool-ws: the same block mempool announces), as Core sends it.
HASH_837050 = "00000000000000000000e7d533924ecd9e2096bdf261ae3daf3f04861150c5a8"
HASH_837049 = "000000000000000000012a9794fcc2fd81bd0f54df00f7589ea96ff9f3f2ef49"


def message(block_hash: str, seq: int) -> list[bytes]:
    return [b"hashblock", bytes.fromhex(block_hash), struct.pack("<I", seq)]


def test_parse_hashblock_reads_core_format():
    assert parse_hashblock(message(HASH_837050, 7)) == (HASH_837050, 7)
    assert parse_hashblock(message(HASH_837050, 2**32 - 1))[1] == 2**32 - 1


@pytest.mark.parametrize(
    ("parts", "why"),
    [
        ([b"hashblock", bytes(32)], "2 parts"),
        ([b"hashtx", bytes(32), bytes(4)], "topic"),
        ([b"hashblock", bytes(31), bytes(4)], "31 bytes"),
        ([b"hashblock", bytes(32), bytes(8)], "sequence"),
    ],
)
def test_malformed_notifications_are_refused(parts, why):
    with pytest.raises(MalformedZmq, match=why):
        parse_hashblock(parts)


async def until(cond, what: str) -> None:
    for _ in range(2000):
        if cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


async def test_hashblock_from_a_real_publisher_triggers_once_per_block():
    ctx = zmq.asyncio.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    notices: list[BlockNotice] = []

    async def on_block(notice: BlockNotice) -> None:
        notices.append(notice)

    sub = ZmqBlocks(f"tcp://127.0.0.1:{port}", on_block)
    task = asyncio.create_task(sub.run())
    try:
        # PUB/SUB drops messages until the subscription has reached the publisher ("slow joiner"):
        # repeat the first notification until it lands. Repeats of one block are one notice.
        seq = 0
        for seq in range(400):
            await pub.send_multipart(message(HASH_837049, seq))
            await asyncio.sleep(0.005)
            if notices:
                break
        await until(lambda: notices, "the first notice")
        assert sub.status.connected
        assert [n.block_hash for n in notices] == [HASH_837049]
        assert (notices[0].source, notices[0].height) == ("bitcoind", None)

        await pub.send_multipart([b"hashblock", bytes(32)])  # malformed: ignored, counted
        await pub.send_multipart(message(HASH_837050, seq + 5))  # 4 notifications lost after the last sent
        await until(lambda: len(notices) == 2, "the second block")
        assert notices[1].block_hash == HASH_837050
        assert (
            notices[1].key == BlockNotice("mempool", 837050, HASH_837050.upper()).key
        )  # same block, any source
        assert sub.status.malformed == 1
        assert sub.missed >= 4  # the 4 skipped (plus any repeat the slow joiner missed)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        pub.close(linger=0)
        ctx.term()
    assert not sub.status.connected


async def test_connected_only_while_a_node_publishes_there():
    """A "push" in /status means a node answered: nobody at the endpoint is not connected, a node
    that starts is, and one that stops is down again (before, subscribing was taken as connected)."""
    probe = zmq.asyncio.Context()
    pub_sock = probe.socket(zmq.PUB)
    port = pub_sock.bind_to_random_port("tcp://127.0.0.1")
    pub_sock.close(linger=0)  # a free port with nobody behind it

    async def on_block(notice: BlockNotice) -> None:
        return None

    sub = ZmqBlocks(f"tcp://127.0.0.1:{port}", on_block)
    task = asyncio.create_task(sub.run())
    try:
        for _ in range(20):  # libzmq retries every 100 ms: a few retries find nobody
            await asyncio.sleep(0.01)
        assert not sub.status.connected
        assert sub.status.connects == 0

        pub = probe.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.bind(f"tcp://127.0.0.1:{port}")
        await until(lambda: sub.status.connected, "the handshake with the node")
        assert sub.status.connects == 1

        pub.close(linger=0)  # the node stops
        await until(lambda: not sub.status.connected, "the drop")
        assert sub.status.drops == 1
        assert "disconnected" in (sub.status.last_error or "")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        probe.term()
