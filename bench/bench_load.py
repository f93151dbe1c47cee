"""Never busy: command replies while a poll evaluates many rules (issue 17).

The real application (PTB Application, handlers, pacer, outbox, DbWorker) against the fake Bot
API on 127.0.0.1. N rules on ``hashprice`` in N/10 chats; a poll of a stand-in watcher is run
through the real pipeline while a command (/alerts, from a different chat each time, so no
per-chat limit is involved) is sent every 100 ms; each reply's time is from the update being
queued at the fake to the bot's sendMessage arriving there. Per scenario it prints the poll's
time, the database thread held by its write, the states written, and the replies' p50/p95/max.

Scenarios: the value moves 0.01 % (the normal case: nothing changes), and a value that takes
20,000 alerts over their threshold (worst case). The first poll of a process loads the rules into
memory (in pages, commands interleave): it is reported on its own line. RSS is the process's
resident memory once the rules and chats are loaded.

    python -m bench.bench_load [--smoke] [--rules N ...] [--flips N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import platform
import random
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from bot.engine.runner import PollOutcome
from rules.data import Observation
from tests.fake_telegram import FakeTelegram
from tests.harness import bot_settings, running_bot
from watchers.base import PollContext, PollResult

BASE = 50.0  # hashprice, USD/PH/day
RULES_PER_CHAT = 10
COMMAND_EVERY_S = 0.1
COMMAND_CHATS = 10_000_000  # command chats start here (none of them has rules)


def machine() -> str:
    return f"{platform.platform()} · {os.cpu_count()} CPU · Python {platform.python_version()}"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rule_texts(n: int, flips: int, rng: random.Random) -> list[str]:
    """Canonical texts. ``flips`` rules fire when the value drops from 50 to 49.9 ('< 49.95');
    the rest sit far from 50 with realistic, rounded thresholds (a few hundred distinct texts)."""
    texts = ["hashprice < 49.95"] * flips
    for _ in range(n - flips):
        r = rng.random()
        if r < 0.45:
            texts.append(f"hashprice < {rng.randrange(300, 480) / 10:g}")
        elif r < 0.9:
            texts.append(f"hashprice > {rng.randrange(520, 700) / 10:g}")
        elif r < 0.97:
            texts.append(f"hashprice < {rng.randrange(30, 48)} for 30m")
        else:
            texts.append(f"hashprice drops {rng.randrange(5, 20)}% in 1d")
    rng.shuffle(texts)
    return texts


def seed_file(path: str, n: int, flips: int, now: datetime, resolved: bool) -> None:
    """In a child process, so the bot's RSS is the bot's and not the seeder's."""
    from storage.db import open_db

    db = open_db(path)
    seed(db, n, flips, now, resolved)
    db.close()


def seed(db: Database, n: int, flips: int, now: datetime, resolved: bool = False) -> None:
    rng = random.Random(17)
    at = now.isoformat()
    chats = max(1, n // RULES_PER_CHAT)
    with db.atomic():
        db["chats"].insert_all(
            (
                {
                    "id": c,
                    "type": "private",
                    "title": None,
                    "active": 1,
                    "tz": "UTC",
                    "settings": "{}",
                    "created_at": at,
                    "updated_at": at,
                }
                for c in range(1, chats + 1)
            ),
            batch_size=5000,
        )
        db["rules"].insert_all(
            (
                {
                    "chat_id": 1 + i // RULES_PER_CHAT,
                    "text": t,
                    "metric": "hashprice",
                    "kind": "change" if " in " in t else "threshold",
                    "created_at": at,
                    "origin": "chat",
                }
                for i, t in enumerate(rule_texts(n, flips, rng))
            ),
            batch_size=5000,
        )
        if resolved:  # every rule fired and resolved before: its own state, evaluated on its own
            state = json.dumps({"status": "ok", "since": (now - timedelta(days=1)).isoformat()})
            db["alerts"].insert_all(
                ({"rule_id": i, "state": state, "updated_at": at} for i in range(1, n + 1)), batch_size=5000
            )
        # a day of history, so the change rules have their reference
        db["observations"].insert_all(
            {
                "metric": "hashprice",
                "value": BASE,
                "at": (now - timedelta(hours=h)).isoformat(),
                "source": "bench",
            }
            for h in range(1, 26)
        )


class Stand:
    id = "bench"

    def __init__(self) -> None:
        self.value = BASE

    async def poll(self, ctx: PollContext) -> PollResult:
        return PollResult([Observation("hashprice", self.value, ctx.now, "bench")])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def commands_during(tg: FakeTelegram, poll: asyncio.Task[PollOutcome], first: int) -> list[float]:
    """A command every 100 ms while ``poll`` runs (at least 1 s); each reply's latency."""
    sent_to: dict[int, float] = {}
    latencies: list[float] = []
    replied: set[int] = set()
    chat = first
    started = time.monotonic()

    def collect() -> None:
        for call in tg.calls[collect.seen :]:  # type: ignore[attr-defined]
            cid = call.params.get("chat_id")
            if call.method == "sendMessage" and call.status == 200 and cid is not None:
                cid = int(cid)
                if cid in sent_to and cid not in replied:
                    replied.add(cid)
                    latencies.append(call.at - sent_to[cid])
        collect.seen = len(tg.calls)  # type: ignore[attr-defined]

    collect.seen = len(tg.calls)  # type: ignore[attr-defined]
    while not poll.done() or time.monotonic() - started < 1.0:
        sent_to[chat] = time.monotonic()
        tg.push_command("/alerts", chat_id=chat, user_id=chat)
        chat += 1
        await asyncio.sleep(COMMAND_EVERY_S)
        collect()
    deadline = time.monotonic() + 60
    while len(replied) < len(sent_to) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        collect()
    missing = len(sent_to) - len(replied)
    if missing:
        latencies.extend([float("inf")] * missing)
    return latencies


async def scenario(
    n: int, flips: int, workdir: Path, resolved: bool = False
) -> list[tuple[str, PollOutcome, list[float]]]:
    tg = FakeTelegram()
    await tg.start()
    lines: list[tuple[str, PollOutcome, list[float]]] = []
    try:
        settings = bot_settings(
            workdir, tg, {"watchers.network": {"enabled": False}, "http": {"enabled": False}}
        )
        clock_now = [datetime.now(UTC).replace(microsecond=0)]
        child = multiprocessing.get_context("spawn").Process(
            target=seed_file, args=(settings.storage.path, n, flips, clock_now[0], resolved)
        )
        child.start()
        await asyncio.get_running_loop().run_in_executor(None, child.join)
        async with running_bot(settings, lambda: clock_now[0], telegram_limits=True) as (_app, svc):  # type: ignore[arg-type]
            stand = Stand()
            pipeline = svc.pipeline
            command_chat = COMMAND_CHATS
            plan = [("first poll (loads the rules)", BASE), ("value moves 0.01 %", BASE * 1.0001)]
            if flips:
                plan.append((f"{flips:,} alerts fire", 49.9))
            for label, value in plan:
                clock_now[0] += timedelta(minutes=1)
                stand.value = value
                task = asyncio.create_task(pipeline.run_watcher(stand, None))  # type: ignore[arg-type]
                lat = await commands_during(tg, task, command_chat)
                command_chat += len(lat) + 1
                outcome = await task
                assert outcome.ok, outcome.error
                lines.append((label, outcome, lat))
            lines.append(("rss", PollOutcome("rss", ok=True, seconds=rss_mb()), []))
            assert svc.notifier is not None
            await svc.db(lambda db: db["outbox"].delete_where())  # no flush of the alerts at stop
    finally:
        await tg.stop()
    return lines


def report(n: int, lines: list[tuple[str, PollOutcome, list[float]]], note: str) -> None:
    print(f"{n:,} rules in {max(1, n // RULES_PER_CHAT):,} chats" + (f" ({note})" if note else ""))
    for label, o, lat in lines:
        if label == "rss":
            print(f"  RSS after the polls: {o.seconds:.0f} MB")
            continue
        print(
            f"  {label:30} poll {o.seconds:6.2f} s  db held {o.db_seconds:5.2f} s  "
            f"evaluated {o.evaluated:>9,}  states written {o.transitions:>6,}  queued {o.queued:>6,}  "
            f"| {len(lat):3} commands: p50 {pct(lat, 0.5):5.2f} s  p95 {pct(lat, 0.95):5.2f} s  "
            f"max {max(lat, default=float('nan')):5.2f} s"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_load", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="5,000 rules, 1,000 flips")
    parser.add_argument("--rules", type=int, action="append", help="rules (default 100,000 and 1,000,000)")
    parser.add_argument("--flips", type=int, default=20_000, help="alerts that fire in the worst case")
    parser.add_argument(
        "--resolved", action="store_true", help="only the run where every rule has its own stored state"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    sizes = args.rules or [100_000, 1_000_000]
    # (rules, flips, every rule with its own state): the last run is the evaluator's worst case,
    # no two rules can share a decision
    runs = [(n, args.flips if n <= 100_000 else 0, False) for n in sizes] + [(max(sizes), 0, True)]
    if args.resolved:
        runs = runs[-1:]
    if args.smoke:
        runs = [(5_000, 1_000, False), (5_000, 0, True)]
    print(f"machine: {machine()} · {datetime.now(UTC):%Y-%m-%d}")
    for n, flips, resolved in runs:
        with tempfile.TemporaryDirectory() as tmp:
            lines = asyncio.run(scenario(n, min(flips, n), Path(tmp), resolved))
            report(n, lines, "every rule with its own stored state" if resolved else "")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
