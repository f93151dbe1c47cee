"""Upstream load: requests per hour to each upstream, with 1 chat and with 10,000 chats.

The real pipeline (``Pipeline.run_watcher``: the network watcher's poll, storage, rule evaluation,
outbox) runs against the mempool.space stand-in serving the real 2024-03-31 recordings, on an
injected clock advanced by the poll interval, for a simulated period. The stand-in's hit counters
give requests per hour per endpoint. The bot polls each source on its own schedule, whoever is
subscribed, so the figure must not move with the number of chats or rules. No assertions.

    .venv/bin/python -m bench.bench_upstream [--smoke] [--hours H] [--chats N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web

from bot.app import create_services
from bot.settings import load_settings
from storage import chats
from storage import rules as rule_store
from tests.harness import write_config
from tests.mempool_standin import MEMPOOL, MempoolStandIn

EVERY_S = 60  # the network watcher's default poll interval
START = datetime(2024, 3, 31, 3, 18, tzinfo=UTC)  # when the recordings were made
ROUTES = {
    "/api/v1/difficulty-adjustment": "difficulty-adjustment.mainnet-2024-03-31.json",
    "/api/v1/mining/hashrate/3d": "mining-hashrate-3d.assembled-mainnet-2024-03-31.json",
    "/api/blocks/tip/height": "blocks-tip-height.assembled-mainnet-2024-03-31.txt",
    "/api/v1/mining/reward-stats/144": "mining-reward-stats.assembled-mainnet-2024-03-31-8-blocks.json",
    "/api/v1/prices": "prices.mainnet-2024-03-31.json",
}
RULES = ("difficulty.next_change > 3%", "hashprice < 45", "price < 60k")


def machine() -> str:
    return f"{platform.platform()} · {os.cpu_count()} CPU · Python {platform.python_version()}"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def seed(db: object, n_chats: int) -> int:
    """n_chats private chats with three rules each (written through the storage functions)."""
    now = START
    rules = 0
    with db.atomic():  # type: ignore[attr-defined]
        for i in range(n_chats):
            cid = 1_000_000 + i
            chats.ensure_chat(db, cid, "private", None, now)  # type: ignore[arg-type]
            for text in RULES:
                metric = text.split()[0]
                rule_store.add_rule(db, cid, text, metric, "threshold", now, max_rules=50)  # type: ignore[arg-type]
                rules += 1
    return rules


async def simulate(n_chats: int, hours: float, workdir: Path) -> dict[str, object]:
    standin = MempoolStandIn()
    for path, fixture in ROUTES.items():
        standin.serve_file(path, fixture)
    runner = web.AppRunner(standin.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    cfg = write_config(
        workdir / f"config-{n_chats}.toml",
        {
            "telegram": {"token": "123456:bench"},
            "storage": {"path": str(workdir / f"upstream-{n_chats}.db")},
            "sources.mempool": {"base_url": f"http://127.0.0.1:{port}"},
            "watchers.network": {"every": f"{EVERY_S}s", "price_sources": ["mempool"]},
            "http": {"enabled": False},
        },
    )
    clock = Clock(START)
    svc = create_services(load_settings(cfg), clock=clock)
    rules = await svc.db(seed, n_chats)
    polls = int(hours * 3600 / EVERY_S)
    failed = 0
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        for _ in range(polls):
            outcome = await svc.pipeline.run_watcher(svc.watchers[0].watcher, session)
            failed += not outcome.ok
            clock.now += timedelta(seconds=EVERY_S)
    wall = time.perf_counter() - t0
    svc.db.close()
    await runner.cleanup()
    return {
        "chats": n_chats,
        "rules": rules,
        "polls": polls,
        "failed": failed,
        "per_hour": {p: standin.hits.get(p, 0) / hours for p in ROUTES},
        "wall_per_poll_ms": 1000 * wall / max(1, polls),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_upstream", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a quick run: 10 simulated minutes, 100 chats")
    parser.add_argument("--hours", type=float, default=1.0, help="simulated period (default 1 h)")
    parser.add_argument("--chats", type=int, default=10_000, help="the many-chats case (default 10,000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the per-poll "degraded" warnings are not the figure
    hours, many = (10 / 60, 100) if args.smoke else (args.hours, args.chats)
    print(f"machine: {machine()}")
    print(
        f"upstream load: network watcher every {EVERY_S}s against the mempool.space stand-in, "
        f"{hours * 60:g} simulated minutes per case"
    )
    with tempfile.TemporaryDirectory() as tmp:
        results = [asyncio.run(simulate(n, hours, Path(tmp))) for n in (1, many)]
    print(f"{'endpoint':40} " + " ".join(f"{r['chats']:>8,} chats" for r in results) + "   (requests/hour)")
    for path in ROUTES:
        print(f"{path:40} " + " ".join(f"{r['per_hour'][path]:>14.1f}" for r in results))  # type: ignore[index]
    totals = [sum(r["per_hour"].values()) for r in results]  # type: ignore[attr-defined]
    print(f"{'total mempool.space':40} " + " ".join(f"{t:>14.1f}" for t in totals))
    for r in results:
        print(
            f"  {r['chats']:>6,} chats, {r['rules']:>6,} rules: {r['polls']} polls ({r['failed']} failed), "
            f"{r['wall_per_poll_ms']:.1f} ms per poll (fetch + store + evaluate)"
        )
    print(f"fixtures: {MEMPOOL}")


if __name__ == "__main__":
    main(sys.argv[1:])
