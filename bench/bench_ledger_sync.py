"""Ledger bootstrap for N miners: wall time, documents and peak RSS of the bot's own bootstrap
(:func:`bot.engine.ledger.bootstrap`, what ``python -m bot ledger sync`` and the ``ledger:sync`` job
run) against a local EDGAR stand-in on 127.0.0.1.

The stand-in serves, for each of N watched tickers (the 14 of the default watch list), a submissions
JSON listing two filings whose documents are the **same real RIOT documents** from shared/ledger (the
2024 10-K, 3.7 MB, and the 2025-06-30 10-Q, 3.1 MB): the same documents stand in for every ticker,
so the figures are for 2 x N real-size documents, not for each miner's own history. Requests go
through the EDGAR client's process-wide limiter at the configured 10 req/s. The bootstrap runs in a
fresh interpreter; its peak RSS (VmHWM) covers the interpreter, the imports, the stand-in and the
bootstrap together. No assertions; the issue's bound is 200 MB for 14 miners.

    .venv/bin/python -m bench.bench_ledger_sync [--smoke] [--tickers N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import asyncio, json, sys, tempfile, time
from datetime import UTC, datetime
from pathlib import Path
import aiohttp
from aiohttp import web

def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0

from bot.engine.dbworker import DbWorker
from bot.engine.ledger import bootstrap
from storage import ledger as store
from storage.db import open_db
from watchers.filings.config import DEFAULT_TICKERS, EdgarSourceConfig
from watchers.filings.watcher import FALLBACK_CIKS

shared, n = Path(sys.argv[1]), int(sys.argv[2])
tickers = DEFAULT_TICKERS[:n]
docs = [("10-K", "2025-02-27", "2025-02-27T16:05:00.000Z", shared / "riot-10k-2024-12-31.html"),
        ("10-Q", "2025-07-31", "2025-07-31T16:05:00.000Z", shared / "riot-10q-2025-06-30.html")]
requests = 0

def submissions(cik):
    cols = {k: [] for k in ("accessionNumber", "filingDate", "acceptanceDateTime", "form", "items",
                            "primaryDocument")}
    for i, (form, filed, accepted, _) in reversed(list(enumerate(docs))):
        cols["accessionNumber"].append(f"{cik:010d}-25-{i:06d}")
        cols["filingDate"].append(filed); cols["acceptanceDateTime"].append(accepted)
        cols["form"].append(form); cols["items"].append(""); cols["primaryDocument"].append(f"doc{i}.htm")
    return {"cik": str(cik), "name": str(cik), "filings": {"recent": cols, "files": []}}

async def handler(request):
    global requests
    requests += 1
    path = request.path
    if path.startswith("/submissions/CIK"):
        return web.json_response(submissions(int(path[len("/submissions/CIK"):-5])))
    if path.endswith(".htm"):
        i = int(path.rsplit("doc", 1)[1][:-4])
        return web.FileResponse(docs[i][3])
    return web.Response(status=404)

async def main():
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    source = EdgarSourceConfig(user_agent="MinerWatch bench bench@example.com", data_url=base, www_url=base)
    path = Path(tempfile.mkdtemp()) / "bench.db"
    db = DbWorker(open_db(path))
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        run = await bootstrap(db, session, source, tickers, lambda: datetime(2025, 8, 15, tzinfo=UTC),
                              say=lambda line: None)
    elapsed = time.perf_counter() - t0
    totals = await db(lambda d: [store.load_ledger(d, t).total_debt_principal_usd for t in tickers])
    db.close()
    await runner.cleanup()
    print(json.dumps({"tickers": len(tickers), "applied": run.applied, "skipped": len(run.skipped),
                      "requests": requests, "seconds": elapsed, "peak_rss_kb": hwm(),
                      "totals": sorted(set(totals))}))

asyncio.run(main())
"""


def shared_ledger() -> Path | None:
    env = os.environ.get("MINERWATCH_SHARED")
    for shared in (Path(env) if env else None, ROOT.parent / "shared", ROOT.parent.parent / "shared",
                   Path("/work/shared")):  # fmt: skip
        if shared is not None and (shared / "ledger" / "riot-10q-2025-06-30.html").exists():
            return shared / "ledger"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ledger_sync", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="3 tickers instead of 14")
    parser.add_argument("--tickers", type=int, default=14, help="how many watched miners (at most 14)")
    args = parser.parse_args(argv)
    n = 3 if args.smoke else max(1, min(14, args.tickers))
    shared = shared_ledger()
    if shared is None:
        print("bench_ledger_sync: shared/ledger (the real RIOT filings) not found: skipped")
        return 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(shared), str(n)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"ledger bootstrap, {r['tickers']} miners x 2 real RIOT documents (10-K 3.7 MB, 10-Q 3.1 MB; the "
        "same documents stand in for every ticker), EDGAR stand-in on 127.0.0.1, limiter 10 req/s"
    )
    print(
        f"  documents applied {r['applied']}, skipped {r['skipped']}, requests {r['requests']}, "
        f"wall {r['seconds']:.1f} s, peak RSS {r['peak_rss_kb'] / 1024:.1f} MB, "
        f"totals {', '.join(f'${t / 1e6:,.1f}M' for t in r['totals'])}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
