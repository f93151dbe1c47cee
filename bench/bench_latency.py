"""Alert latency: from the moment an upstream value changes to the sendMessage call arriving at
the (fake) Bot API server, through the whole real bot: the PTB Application with its JobQueue
running the network watcher every N seconds, the pipeline, the outbox, the notifier and pacer.

The value is flipped at a random point of the poll cycle (so the wait for the next poll is
uniform over the interval, as in life), alternately above and below the rule's threshold (each
flip sends one message: firing or resolved). Two figures per sample:

* total  = sendMessage arrives - value changed     (includes waiting for the next poll)
* bot    = sendMessage arrives - the poll that saw it reached the stand-in (the bot's own work)

Real clock, real HTTP on 127.0.0.1. No assertions.

    .venv/bin/python -m bench.bench_latency [--smoke] [--every S] [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

from bot.app import ALLOWED_UPDATES, build_application, create_services
from bot.settings import load_settings
from storage import chats
from storage import rules as rule_store
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.harness import write_config
from tests.mempool_standin import MempoolStandIn, load

DA_PATH = "/api/v1/difficulty-adjustment"
CHAT = 4242
RULE = "difficulty.next_change > 3%"
RECORDED_AT_S = 1711855108  # 2024-03-31: estimatedRetargetDate - remainingTime of the recording


def machine() -> str:
    return f"{platform.platform()} · {os.cpu_count()} CPU · Python {platform.python_version()}"


def payloads() -> tuple[dict[str, Any], dict[str, Any]]:
    """The real recording (+5.91 %) with its clock fields moved to now (the bot checks the
    retarget date against its clock), and the same with the projection at +2.5 %."""
    above = load("difficulty-adjustment.mainnet-2024-03-31.json")
    shift = int(time.time()) - RECORDED_AT_S
    above["estimatedRetargetDate"] += shift * 1000
    above["previousTime"] += shift
    below = {**copy.deepcopy(above), "difficultyChange": 2.5}
    return above, below


class TimedStandIn(MempoolStandIn):
    """The mempool stand-in, remembering when each difficulty-adjustment request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.da_hits: list[float] = []

    async def _handle(self, request: web.Request) -> web.Response:
        if request.path == DA_PATH:
            self.da_hits.append(time.monotonic())
        return await super()._handle(request)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(every_s: int, samples: int, workdir: Path) -> tuple[list[float], list[float]]:
    tg = FakeTelegram()
    await tg.start()
    standin = TimedStandIn()
    above, below = payloads()
    standin.serve_json(DA_PATH, below)
    runner = web.AppRunner(standin.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    cfg = write_config(
        workdir / f"latency-{every_s}.toml",
        {
            "telegram": {"token": TOKEN, "base_url": tg.base_url, "poll_timeout_s": 1},
            "storage": {"path": str(workdir / f"latency-{every_s}.db")},
            "sources.mempool": {"base_url": f"http://127.0.0.1:{port}"},
            "watchers.network": {"every": f"{every_s}s", "price_sources": ["mempool"]},
            "http": {"enabled": False},
        },
    )
    svc = create_services(load_settings(cfg))

    def seed(db: Any) -> None:
        now = datetime.now(UTC)
        chats.ensure_chat(db, CHAT, "private", None, now)
        rule_store.add_rule(db, CHAT, RULE, "difficulty.next_change", "threshold", now, max_rules=50)

    await svc.db(seed)
    app = build_application(svc)  # with the real JobQueue: watch:network every `every_s`
    await app.initialize()
    assert app.post_init is not None and app.updater is not None
    await app.post_init(app)
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
    await app.start()
    totals: list[float] = []
    bots: list[float] = []
    try:
        deadline = time.monotonic() + every_s + 10
        while not standin.da_hits:  # the first poll (the stand-in does not wake the fake's waiters)
            if time.monotonic() > deadline:
                raise TimeoutError("the network watcher never polled the stand-in")
            await asyncio.sleep(0.05)
        for i in range(samples):
            await asyncio.sleep(random.uniform(0.05, every_s))  # a random point of the poll cycle
            before = len(tg.sent(chat_id=CHAT))
            standin.serve_json(DA_PATH, above if i % 2 == 0 else below)
            changed = time.monotonic()
            await tg.wait_for(lambda b=before: len(tg.sent(chat_id=CHAT)) > b, timeout=every_s * 3 + 10)
            arrived = [c.at for c in tg.attempts(chat_id=CHAT) if c.status == 200][before]
            saw = next(t for t in standin.da_hits if t >= changed)
            totals.append(arrived - changed)
            bots.append(arrived - saw)
    finally:
        await app.updater.stop()
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        await runner.cleanup()
        await tg.stop()
    return totals, bots


def report(every_s: int, totals: list[float], bots: list[float]) -> None:
    def line(name: str, xs: list[float]) -> str:
        return (
            f"  {name:6} median {statistics.median(xs) * 1000:7.0f} ms   "
            f"p95 {pct(xs, 0.95) * 1000:7.0f} ms   max {max(xs) * 1000:7.0f} ms"
        )

    print(f"poll interval {every_s}s, {len(totals)} changes (value flipped at random points of the cycle):")
    print(line("total", totals))
    print(line("bot", bots))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_latency", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a quick run: 3 changes at a 1 s interval")
    parser.add_argument("--every", type=int, action="append", help="poll interval(s) in s (default 1 and 5)")
    parser.add_argument("--samples", type=int, default=20, help="value changes per interval (default 20)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    intervals = [1] if args.smoke else (args.every or [1, 5])
    samples = 3 if args.smoke else args.samples
    print(f"machine: {machine()}")
    print("latency: upstream value changed -> sendMessage at the Bot API (real app, JobQueue, 127.0.0.1)")
    with tempfile.TemporaryDirectory() as tmp:
        for every_s in intervals:
            totals, bots = asyncio.run(measure(every_s, samples, Path(tmp)))
            report(every_s, totals, bots)


if __name__ == "__main__":
    main(sys.argv[1:])
