"""Memory: the bot's resident set size with 10,000 chats, 100,000 rules and a year of
observations at 1-minute resolution for 15 metrics (7.9 million rows) in its database.

The database is built first (in this process), then a fresh interpreter opens it the way the bot
does and reports VmRSS / VmHWM from /proc/self/status (no psutil) at each stage: imports,
services and Application built, after the rules are loaded into memory (as the bot does at start),
and after one full poll (15 observations judged in memory against every rule on those metrics,
alert states and outbox rows written in one transaction). No assertions.

    .venv/bin/python -m bench.bench_memory [--smoke] [--keep PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
# The network watcher's 15 metrics, a typical value each, and one rule text per metric that can
# be compared (difficulty.retarget_eta is a time: no threshold rules on it).
METRICS: dict[str, tuple[float, str | None]] = {
    "difficulty.next_change": (2.0, "difficulty.next_change > 3%"),
    "difficulty.progress": (40.0, "difficulty.progress > 50%"),
    "difficulty.blocks_left": (1200.0, "difficulty.blocks_left < 100"),
    "difficulty.retarget_eta": (NOW.timestamp() + 7 * 86400, None),
    "difficulty.last_change": (1.5, "difficulty.last_change > 5%"),
    "difficulty": (120.0, "difficulty > 130T"),
    "hashrate": (800.0, "hashrate > 900EH/s"),
    "price": (95_000.0, "price < 60k"),
    "height": (925_000.0, "height > 1000000"),
    "subsidy": (3.125, "subsidy < 3"),
    "fees": (0.05, "fees > 0.1"),
    "fee_share": (1.5, "fee_share > 10%"),
    "hashprice.btc": (0.0005, "hashprice.btc < 0.0004"),
    "hashprice": (48.0, "hashprice < 45"),
    "hashprice.next": (47.0, "hashprice.next < 45"),
}
RULE_METRICS = [m for m, (_, text) in METRICS.items() if text]


def machine() -> str:
    return f"{platform.platform()} · {os.cpu_count()} CPU · Python {platform.python_version()}"


def status_kb() -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) in kB from /proc/self/status."""
    out: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0])
    return out


def build(path: Path, n_chats: int, rules_per_chat: int, days: int) -> dict[str, float]:
    from storage import chats
    from storage import rules as rule_store
    from storage.db import open_db

    t0 = time.perf_counter()
    db = open_db(path)
    with db.atomic():
        for i in range(n_chats):
            cid = 10_000_000 + i
            chats.ensure_chat(db, cid, "private", None, NOW)
            for n in range(rules_per_chat):
                metric = RULE_METRICS[(i + n) % len(RULE_METRICS)]
                text = METRICS[metric][1]
                assert text is not None
                if n >= len(RULE_METRICS):  # more rules than metrics: vary the threshold
                    text = f"{text} for {n}m"
                rule_store.add_rule(db, cid, text, metric, "threshold", NOW, max_rules=1000)
    t_rules = time.perf_counter() - t0

    def rows() -> Iterator[tuple[str, float, str, str]]:
        start = NOW - timedelta(days=days)
        for minute in range(days * 1440):
            at = (start + timedelta(minutes=minute)).isoformat(timespec="microseconds")
            for metric, (value, _) in METRICS.items():
                yield metric, value, at, "mempool"

    t1 = time.perf_counter()
    with db.atomic():  # observations in bulk (the schema's own columns), for speed
        db.conn.executemany(
            "INSERT INTO observations (metric, value, at, source) VALUES (?, ?, ?, ?)", rows()
        )
    t_obs = time.perf_counter() - t1
    counts = {
        "chats": db["chats"].count,
        "rules": db["rules"].count,
        "observations": db["observations"].count,
    }
    db.close()
    return {**counts, "build_rules_s": t_rules, "build_observations_s": t_obs}


def measure(path: Path) -> None:
    """Run in a fresh interpreter: print one JSON line of stages -> {VmRSS, VmHWM} kB."""
    stages: dict[str, dict[str, int]] = {"python started": status_kb()}
    import asyncio

    from bot.app import build_application, create_services
    from bot.engine.ingest import ingest
    from bot.engine.runner import newest_by_metric
    from bot.settings import Settings
    from rules.data import Observation
    from watchers.base import PollResult

    stages["bot imported (PTB, aiohttp, sqlite-utils, prometheus)"] = status_kb()
    settings = Settings.model_validate(
        {
            "telegram": {"token": "123456:bench"},
            "storage": {"path": str(path)},
            "watchers": {"network": {"price_sources": ["mempool"]}},
            "http": {"enabled": False},
        }
    )
    svc = create_services(settings, clock=lambda: NOW)
    build_application(svc)
    stages["services + Application built, database open"] = status_kb()
    result = PollResult(
        observations=[Observation(m, v * 1.2, NOW, "mempool") for m, (v, _) in METRICS.items()]
    )

    async def warm_then_poll() -> tuple[float, float, int]:
        # the bot's own path: rules loaded into memory at start (bot.jobs.warm_rules_job), then a
        # poll judged in memory and its transitions written in one transaction (Pipeline._run)
        t0 = time.perf_counter()
        await svc.pipeline.warm()
        warmed = time.perf_counter()
        stages["rules loaded into memory (warm, at start)"] = status_kb()
        judged = await svc.pipeline.judge(newest_by_metric(result), NOW)
        _, queued = await svc.db(ingest, "network", result, {}, NOW, svc.pipeline.opts, judged)
        if judged is not None:
            judged.apply()
        return warmed - t0, time.perf_counter() - warmed, queued

    warm_s, poll_s, queued = asyncio.run(warm_then_poll())
    stages["after one poll judged against every rule"] = status_kb()
    svc.db.close()
    print(json.dumps({"stages": stages, "queued": queued, "warm_s": warm_s, "ingest_s": poll_s}))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_memory", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a quick run: 500 chats, 5,000 rules, 7 days")
    parser.add_argument("--keep", help="build (or reuse) the database at this path instead of a temp file")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: the fresh interpreter
    args = parser.parse_args(argv)
    if args.measure:
        measure(Path(args.measure))
        return
    n_chats, per_chat, days = (500, 10, 7) if args.smoke else (10_000, 10, 365)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "memory.db"
        if path.exists():
            print(f"reusing {path}")
            built: dict[str, float] = {}
        else:
            built = build(path, n_chats, per_chat, days)
            print(
                f"built: {built['chats']:,.0f} chats, {built['rules']:,.0f} rules "
                f"({built['build_rules_s']:.1f} s), {built['observations']:,.0f} observations = "
                f"{days} days x 1440 min x {len(METRICS)} metrics ({built['build_observations_s']:.1f} s)"
            )
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        print(f"database on disk: {size / 1e6:,.0f} MB (with WAL)")
        out = subprocess.run(
            [sys.executable, "-m", "bench.bench_memory", "--measure", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    print("resident memory of a fresh bot process (from /proc/self/status):")
    for stage, kb in doc["stages"].items():
        print(f"  {stage:58} RSS {kb['VmRSS'] / 1024:7.1f} MB   peak {kb['VmHWM'] / 1024:7.1f} MB")
    print(f"  rules loaded into memory at start: {doc['warm_s']:.2f} s")
    print(
        f"  one poll: {doc['ingest_s']:.2f} s to judge {len(METRICS)} values against their rules and "
        f"store them; {doc['queued']:,} alerts queued"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
