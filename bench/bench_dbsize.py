"""Database size of a year of 1-minute observations, with and without the (metric, at) index that
migration m010_load_drop_metric_at_index drops (issue 17): the unique (metric, at, source) index
answers every (metric, at) lookup by its prefix, so the plain one only cost space and a second
B-tree write per observation.

The database is built with this checkout's migrations (no (metric, at) index), measured, then the
old index is created again and measured, then dropped again by the migration's statement and
VACUUMed. Sizes are page_count x page_size; per-table and per-index sizes from dbstat.

    python -m bench.bench_dbsize [--smoke] [--metrics N] [--days N]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from storage.db import open_db

NOW = datetime(2026, 11, 30, tzinfo=UTC)
OLD_INDEX = "idx_observations_metric_at"


def machine() -> str:
    return f"{platform.platform()} · {os.cpu_count()} CPU · Python {platform.python_version()}"


def size(db: Database) -> int:
    page_count = db.execute("PRAGMA page_count").fetchone()[0]
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    return int(page_count * page_size)


def parts(db: Database) -> dict[str, int]:
    try:
        rows = db.execute(
            "SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE '%observations%' GROUP BY name"
        ).fetchall()
    except Exception:  # dbstat not compiled in: totals only
        return {}
    return {name: int(total) for name, total in rows}


def fill(db: Database, metrics: int, days: int) -> int:
    def rows() -> Iterator[tuple[str, float, str, str]]:
        start = NOW - timedelta(days=days)
        for minute in range(days * 1440):
            at = (start + timedelta(minutes=minute)).isoformat()
            for m in range(metrics):
                yield f"bench.m{m}", 100.0 + (minute % 97) * 0.01, at, "mempool"

    with db.atomic():  # the schema's own columns, in bulk
        db.conn.executemany(
            "INSERT INTO observations (metric, value, at, source) VALUES (?, ?, ?, ?)", rows()
        )
    return int(db.execute("SELECT COUNT(*) FROM observations").fetchone()[0])


def mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_dbsize", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="3 days of 2 metrics")
    parser.add_argument("--metrics", type=int, default=3, help="metrics observed every minute (default 3)")
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args(argv)
    metrics, days = (2, 3) if args.smoke else (args.metrics, args.days)
    print(f"machine: {machine()} · {datetime.now(UTC):%Y-%m-%d}")
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "size.db")
        t0 = time.perf_counter()
        n = fill(db, metrics, days)
        fill_s = time.perf_counter() - t0
        now_size, now_parts = size(db), parts(db)
        t1 = time.perf_counter()
        db.execute(f"CREATE INDEX {OLD_INDEX} ON observations (metric, at)")
        index_s = time.perf_counter() - t1
        old_size, old_parts = size(db), parts(db)
        db.execute(f"DROP INDEX IF EXISTS {OLD_INDEX}")  # what m010_load_drop_metric_at_index runs
        db.execute("VACUUM")
        vacuumed = size(db)
        db.close()
    per_row_old, per_row_now = old_size / n, now_size / n
    print(f"{n:,} observations ({metrics} metrics x {days} days x 1,440 a day), filled in {fill_s:.0f} s")
    print(f"  with the (metric, at) index (before):   {mb(old_size)}  ({per_row_old:.0f} bytes/row)")
    print(f"  without it (after m010):                {mb(now_size)}  ({per_row_now:.0f} bytes/row)")
    print(
        f"  the index alone:                        {mb(old_parts.get(OLD_INDEX, old_size - now_size))}"
        f"  ({(old_size - now_size) / old_size:.0%} of the database; {index_s:.0f} s to build)"
    )
    print(f"  after the migration's DROP + VACUUM:    {mb(vacuumed)}")
    for name, total in sorted(now_parts.items()):
        print(f"    {name:40} {mb(total)}")
    rows_15 = 15 * 365 * 1440
    print(
        f"  scaled to a year of 15 metrics ({rows_15:,} rows): {per_row_old * rows_15 / 1e9:.2f} GB before,"
        f" {per_row_now * rows_15 / 1e9:.2f} GB after"
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
