"""Push latency (issue 18): from a block announced by a push source to the alert arriving at the
(fake) Bot API, through the whole real bot (PTB Application with its JobQueue, the push follower
started in post_init, the engine's poll, ingest, outbox, notifier, pacer), on 127.0.0.1:

* mempool: a local mempool (REST and ``/api/v1/ws`` on one host) pushes a ``block`` message in
  the shape of mempool's websocket-handler (tests/fixtures/mempool-ws/PROVENANCE.md) with a
  difficulty adjustment whose projection alternates across 3%; two chats hold
  ``difficulty.next_change > 3%`` and ``< 3%`` (send_resolved off), so each block is one alert and
  each chat gets one every other block (Telegram's 1 message/s per chat is never the bottleneck);
* zmq: a ZMQ PUB socket on loopback publishes ``hashblock`` (Bitcoin Core's format); the poll
  reads the (flipped) projection over REST from the same local mempool;
* filings: a filing of a watched miner appears in a local EDGAR feed; the filings watcher polls it
  every ``--filing-every`` seconds (15 by default in the bot; shorter here so the run is short).
  ``total`` includes the wait for the next poll; ``bot`` starts when the poll read the feed.

The interval poll runs every hour here, so every alert of the first two parts is block-driven.
Figures: median and p95 in ms. Real clock. No assertions.

    .venv/bin/python -m bench.bench_push [--smoke] [--blocks N] [--only mempool|zmq|filings]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import os
import platform
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

from bot.app import ALLOWED_UPDATES, build_application, create_services
from bot.handlers.presets import apply_preset
from bot.ops.follow import running
from bot.settings import load_settings
from storage import chats
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.harness import write_config
from tests.mempool_standin import MempoolStandIn, load
from tests.mempool_ws_standin import MempoolSocketStandIn, block_message, built_block

CHAT_UP, CHAT_DOWN, CHAT_FILINGS = 4242, 4343, 4444
RECORDED_AT_S = 1711855108  # 2024-03-31: the recording's estimatedRetargetDate - remainingTime


def machine() -> str:
    return f"{platform.platform()} · {os.cpu_count()} CPU · Python {platform.python_version()}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(name: str, xs: list[float]) -> str:
    return (
        f"  {name:26} n={len(xs):3}  median {statistics.median(xs) * 1000:7.1f} ms   "
        f"p95 {pct(xs, 0.95) * 1000:7.1f} ms   max {max(xs) * 1000:7.1f} ms"
    )


def das() -> tuple[dict[str, Any], dict[str, Any]]:
    """The real recording (+5.91 %) with its clock fields moved to now, and the same at +2.5 %."""
    above = load("difficulty-adjustment.mainnet-2024-03-31.json")
    shift = int(time.time()) - RECORDED_AT_S
    above["estimatedRetargetDate"] += shift * 1000
    above["previousTime"] += shift
    return above, {**copy.deepcopy(above), "difficultyChange": 2.5}


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def start_bot(cfg: Path, seed: Any) -> Any:
    svc = create_services(load_settings(cfg))
    await svc.db(seed)
    app = build_application(svc)  # with the JobQueue and the push follower, as `python -m bot` runs
    await app.initialize()
    assert app.post_init is not None and app.updater is not None
    await app.post_init(app)
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
    await app.start()
    return app, svc


async def stop_bot(app: Any) -> None:
    await app.updater.stop()
    await app.stop()
    if app.post_stop is not None:
        await app.post_stop(app)
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


def seed_blocks(db: Any) -> None:
    now = datetime.now(UTC)
    for chat, rule in ((CHAT_UP, "difficulty.next_change > 3%"), (CHAT_DOWN, "difficulty.next_change < 3%")):
        chats.ensure_chat(db, chat, "private", None, now)
        apply_preset(db, chat, [rule], now, 50)


def alerts(tg: FakeTelegram) -> list[float]:
    """When each block alert arrived (either chat), in order."""
    calls = tg.attempts(chat_id=CHAT_UP) + tg.attempts(chat_id=CHAT_DOWN)
    return sorted(c.at for c in calls if c.status == 200)


async def measure_blocks(kind: str, blocks: int, workdir: Path) -> list[float]:
    """Block announced -> alert at the Bot API, ``blocks`` times, for "mempool" or "zmq"."""
    tg = FakeTelegram()
    await tg.start()
    rest, ws = MempoolStandIn(), MempoolSocketStandIn()
    above, below = das()
    rest.serve_json("/api/v1/difficulty-adjustment", below)
    rest.serve_file("/api/v1/mining/hashrate/3d", "mining-hashrate-3d.assembled-mainnet-2024-03-31.json")
    rest.serve_file(
        "/api/v1/mining/reward-stats/144", "mining-reward-stats.assembled-mainnet-2024-03-31-8-blocks.json"
    )
    rest.serve_json("/api/v1/prices", {**load("prices.mainnet-2024-03-31.json"), "time": int(time.time())})
    ws.snapshot = {"blocks": [built_block(837049)], "da": below}
    web_app = web.Application()
    web_app.router.add_get("/api/v1/ws", ws.handle)
    web_app.router.add_get("/{tail:.*}", rest._handle)
    runner, base = await serve(web_app)
    pub = ctx = None
    sections: dict[str, dict[str, Any]] = {
        "telegram": {"token": TOKEN, "base_url": tg.base_url, "poll_timeout_s": 1},
        "storage": {"path": str(workdir / f"push-{kind}.db")},
        "sources.mempool": {"base_url": base, "websocket": kind == "mempool"},
        "watchers.network": {"every": "3600s", "price_sources": ["mempool"]},
        "alerts": {"send_resolved": False},
        "http": {"enabled": False},
    }
    if kind == "zmq":
        import zmq
        import zmq.asyncio

        ctx = zmq.asyncio.Context()
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        sections["sources.bitcoind"] = {"zmq": f"tcp://127.0.0.1:{port}"}
    cfg = write_config(workdir / f"push-{kind}.toml", sections)
    app, _svc = await start_bot(cfg, seed_blocks)
    out: list[float] = []
    try:
        follow = running(app.bot_data)
        assert follow is not None
        deadline = time.monotonic() + 15
        while not rest.hits.get("/api/v1/difficulty-adjustment"):  # the first interval poll (at 1 s)
            if time.monotonic() > deadline:
                raise TimeoutError("the network watcher never polled")
            await asyncio.sleep(0.05)
        await follow.wait_idle()
        if kind == "zmq":
            # PUB/SUB's slow joiner: publish a warm-up block until the subscription is through.
            assert pub is not None and follow.zmq is not None
            seq = 0
            while follow.zmq.status.last_message_at is None:
                await pub.send_multipart([b"hashblock", bytes.fromhex("ff" * 32), struct.pack("<I", seq)])
                seq += 1
                await asyncio.sleep(0.02)
            await follow.wait_idle()
            await asyncio.sleep(1.2)
        else:
            while not (follow.socket and follow.socket.status.tip_height):
                await asyncio.sleep(0.02)
        for i in range(blocks):
            da = above if i % 2 == 0 else below
            before = len(alerts(tg))
            if kind == "mempool":
                text = json.dumps(block_message(built_block(837050 + i), da))
                sent = time.monotonic()
                await ws.push(text)
            else:
                assert pub is not None
                rest.serve_json("/api/v1/difficulty-adjustment", da)
                sent = time.monotonic()
                await pub.send_multipart(
                    [b"hashblock", bytes.fromhex(f"{i + 1:064x}"), struct.pack("<I", seq + i)]
                )
            await tg.wait_for(lambda b=before: len(alerts(tg)) > b, timeout=30)
            out.append(alerts(tg)[before] - sent)
            await asyncio.sleep(0.55)  # each chat hears every other block: over Telegram's 1/s per chat
    finally:
        await stop_bot(app)
        await runner.cleanup()
        await tg.stop()
        if pub is not None and ctx is not None:
            pub.close(linger=0)
            ctx.term()
    return out


async def measure_filings(samples: int, every_s: int, workdir: Path) -> tuple[list[float], list[float]]:
    """A watched miner's filing appears in the feed -> its alert at the Bot API."""
    from tests.test_filings_edgar import FakeEdgar, mara_atm

    tg = FakeTelegram()
    await tg.start()
    edgar = FakeEdgar()
    feed_hits: list[float] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/cgi-bin/browse-edgar":
            feed_hits.append(time.monotonic())
        return await edgar.handler(request)

    web_app = web.Application()
    web_app.router.add_get("/{tail:.*}", handler)
    runner, base = await serve(web_app)
    cfg = write_config(
        workdir / "push-filings.toml",
        {
            "telegram": {"token": TOKEN, "base_url": tg.base_url, "poll_timeout_s": 1},
            "storage": {"path": str(workdir / "push-filings.db")},
            "sources.edgar": {
                "user_agent": "MinerWatch bench ops@example.com",
                "www_url": base,
                "data_url": base,
            },
            "watchers.network": {"enabled": False},
            "watchers.filings": {"enabled": True, "every": f"{every_s}s", "tickers": ["MARA", "RIOT"]},
            "http": {"enabled": False},
        },
    )

    def seed(db: Any) -> None:
        chats.ensure_chat(db, CHAT_FILINGS, "private", None, datetime.now(UTC))
        apply_preset(db, CHAT_FILINGS, ["filings"], datetime.now(UTC), 50)

    app, _svc = await start_bot(cfg, seed)
    totals: list[float] = []
    bots: list[float] = []
    try:
        deadline = time.monotonic() + every_s + 15
        while len(feed_hits) < 2:  # the first run (records what exists) and one normal read
            if time.monotonic() > deadline:
                raise TimeoutError("the filings watcher never read the feed")
            await asyncio.sleep(0.05)
        for i in range(samples):
            await asyncio.sleep((i % 4 + 0.5) * every_s / 4)  # spread over the poll cycle
            before = len(tg.sent(chat_id=CHAT_FILINGS))
            edgar.add(mara_atm(datetime.now(UTC) - timedelta(seconds=1), f"0001493152-26-{i:06d}"))
            appeared = time.monotonic()
            await tg.wait_for(
                lambda b=before: len(tg.sent(chat_id=CHAT_FILINGS)) > b, timeout=every_s * 3 + 10
            )
            arrived = [c.at for c in tg.attempts(chat_id=CHAT_FILINGS) if c.status == 200][before]
            read = next(t for t in feed_hits if t >= appeared)
            totals.append(arrived - appeared)
            bots.append(arrived - read)
    finally:
        await stop_bot(app)
        await runner.cleanup()
        await tg.stop()
    return totals, bots


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_push", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a quick run: 4 blocks each, 2 filings")
    parser.add_argument("--blocks", type=int, default=50, help="blocks per push source (default 50)")
    parser.add_argument("--filings", type=int, default=8, help="filings (default 8)")
    parser.add_argument("--filing-every", type=int, default=2, help="filings poll interval, s (default 2)")
    parser.add_argument("--only", choices=["mempool", "zmq", "filings"], action="append")
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, os.environ.get("BENCH_LOG", "CRITICAL")))
    blocks = 4 if args.smoke else args.blocks
    filings = 2 if args.smoke else args.filings
    parts = args.only or ["mempool", "zmq", "filings"]
    print(f"machine: {machine()}")
    print("latency: push source announces -> sendMessage at the Bot API (real app, JobQueue, 127.0.0.1)")
    with tempfile.TemporaryDirectory() as tmp:
        if "mempool" in parts:
            print(
                line("mempool ws block -> alert", asyncio.run(measure_blocks("mempool", blocks, Path(tmp))))
            )
        if "zmq" in parts:
            try:
                import zmq  # noqa: F401
            except ImportError:
                print("  zmq: skipped (pyzmq not installed: pip install 'minerwatch[zmq]')")
            else:
                print(line("zmq hashblock -> alert", asyncio.run(measure_blocks("zmq", blocks, Path(tmp)))))
        if "filings" in parts:
            totals, bots = asyncio.run(measure_filings(filings, args.filing_every, Path(tmp)))
            print(line(f"filing in feed -> alert ({args.filing_every}s poll)", totals))
            print(line("feed read -> alert (bot)", bots))


if __name__ == "__main__":
    main(sys.argv[1:])
