"""Ledger build: time and peak RSS of ``python -m bot ledger build FILE`` on each real document.

Each document is built in a fresh interpreter (so each peak RSS is that document's alone), through
:func:`bot.ledger_cli.build`, the code the bot uses. The interpreter's start and imports are timed
apart from the build. One more run builds all of them in one interpreter, in order.
Documents: shared/ledger's RIOT 10-K and 10-Q (3.7 and 3.1 MB inline XBRL) when
shared/ is beside the checkout, and the MARA closing 8-K from tests/fixtures/filings. No assertions.

    .venv/bin/python -m bench.bench_ledger [--smoke] [FILE ...]
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
import json, sys, time
from pathlib import Path
def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
t0 = time.perf_counter()
from bot.ledger_cli import build
t1 = time.perf_counter()
out = json.loads(build(sys.argv[1:], as_json=True))
t2 = time.perf_counter()
tranches = sum(len(v["tranches"]) for k, v in out.items() if k != "skipped")
print(json.dumps({"import_s": t1 - t0, "build_s": t2 - t1, "peak_rss_kb": hwm(), "tranches": tranches,
                  "skipped": out.get("skipped", [])}))
"""


def documents() -> list[Path]:
    found: list[Path] = []
    env = os.environ.get("MINERWATCH_SHARED")
    for shared in (Path(env) if env else None, ROOT.parent / "shared", ROOT.parent.parent / "shared",
                   Path("/work/shared")):  # fmt: skip
        if shared is not None and (shared / "ledger").is_dir():
            found = sorted((shared / "ledger").glob("*.html"))
            break
    found.append(ROOT / "tests" / "fixtures" / "filings" / "mara-8k-2024-11-21-convertible-closing.html")
    return found


def run_one(*paths: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ledger", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="the same runs (each takes about a second)")
    parser.add_argument("files", nargs="*", help="documents to build (default: the real ones found)")
    args = parser.parse_args(argv)
    paths = [Path(f) for f in args.files] or documents()
    print(f"{'document':52} {'MB':>5} {'import s':>9} {'build s':>8} {'peak RSS MB':>12} {'tranches':>9}")
    for path in paths:
        r = run_one(path)
        size = path.stat().st_size / 1e6
        print(
            f"{path.name:52} {size:5.2f} {r['import_s']:9.2f} {r['build_s']:8.2f} "
            f"{int(r['peak_rss_kb']) / 1024:12.1f} {r['tranches']:9}"  # type: ignore[call-overload]
        )
        for note in r["skipped"]:  # type: ignore[attr-defined]
            print(f"    skipped: {note}")
    if len(paths) > 1:  # all of them in one interpreter, in order: what a bootstrap does, one after another
        r = run_one(*paths)
        size = sum(p.stat().st_size for p in paths) / 1e6
        print(
            f"{'all of the above, in one process':52} {size:5.2f} {r['import_s']:9.2f} {r['build_s']:8.2f} "
            f"{int(r['peak_rss_kb']) / 1024:12.1f} {r['tranches']:9}"  # type: ignore[call-overload]
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
