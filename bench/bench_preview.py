"""Rule preview benchmark (issue 13 item 3): how long /alert's preview holds the database thread
with a year of 1-minute observations of the rule's metric (525,600 rows).

The preview (bot/handlers/rule_preview.py ``preview``, the very function /alert runs on the
database thread) reads only the last 30 days (and a change rule's window before them) through
the unique (metric, at, source) index and replays the rule with the engine's evaluator. A year of
1-minute ``hashprice`` (a random walk around 45, so rules fire) and of ``price`` (interleaved in
the index, as in a real database) is built with this checkout's migrations; each rule is
previewed REPEATS times; p50/p95 and the rows read are printed, with the query plan.

    python -m bench.bench_preview [--smoke] [--days N] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlite_utils import Database

from bot.handlers.rule_preview import preview
from rules.chat_settings import ChatSettings
from rules.fleet import Fleet
from rules.grammar import parse_rule
from storage import observations
from storage.db import open_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BUDGET_S = 1.0
RULES = (
    "hashprice < 45",
    "hashprice < 45 for 30m every 4h",
    "hashprice drops 5% in 24h",
    "profit < 20",
)
FLEET = ChatSettings(tz="America/Chicago").changed(fleet=Fleet(20.0, 0.05))


def machine() -> str:
    return f"{platform.platform()} · {os.cpu_count()} CPU · Python {platform.python_version()}"


def fill(db: Database, days: int) -> int:
    rng = random.Random(13)

    def rows() -> Iterator[tuple[str, float, str, str]]:
        start = NOW - timedelta(days=days)
        hashprice = 45.0
        for minute in range(days * 1440):
            at = (start + timedelta(minutes=minute)).isoformat(timespec="microseconds")
            hashprice += rng.gauss(0, 0.15) + (45.0 - hashprice) * 0.002
            yield "hashprice", round(hashprice, 4), at, "mempool"
            yield "price", 95_000.0 + (minute % 977), at, "mempool"

    with db.atomic():  # the schema's own columns, in bulk (a benchmark, not the bot's path)
        db.conn.executemany(
            "INSERT INTO observations (metric, value, at, source) VALUES (?, ?, ?, ?)", rows()
        )
    return int(db.execute("SELECT COUNT(*) FROM observations WHERE metric = 'hashprice'").fetchone()[0])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_preview", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--smoke", action="store_true", help="3 days of observations, 3 repeats")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    days, repeats = (3, 3) if args.smoke else (args.days, args.repeats)
    print(f"machine: {machine()} · {datetime.now(UTC):%Y-%m-%d}")
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "preview.db")
        t0 = time.perf_counter()
        n = fill(db, days)
        print(
            f"{n:,} hashprice rows ({days} days x 1,440) and as many price rows, filled in "
            f"{time.perf_counter() - t0:.0f} s"
        )
        plan = observations.history_plan(db)
        print(f"query plan of metric = ? AND at >= ?: {' | '.join(plan)}")
        if not any("INDEX" in step for step in plan):
            raise SystemExit("the history query scans the table: no index serves it")
        worst = 0.0
        for text in RULES:
            rule = parse_rule(text)
            times, shown = [], None
            for _ in range(repeats):
                t = time.perf_counter()
                shown = preview(db, rule, FLEET, NOW, 1800)
                times.append(time.perf_counter() - t)
            assert shown is not None
            p50 = statistics.median(times)
            p95 = sorted(times)[max(0, round(0.95 * len(times)) - 1)]
            worst = max(worst, p95)
            print(f"  {text:34} p50 {p50 * 1000:5.0f} ms  p95 {p95 * 1000:5.0f} ms  rows {shown.rows_read:,}")
            print(f"    {' '.join(shown.lines)}")
        db.close()
    verdict = "within" if worst < BUDGET_S else "OVER"
    print(f"worst p95 {worst * 1000:.0f} ms: {verdict} the {BUDGET_S:.0f} s budget")


if __name__ == "__main__":
    main(sys.argv[1:])
