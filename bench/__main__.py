"""Run the benchmarks: ``python -m bench [--smoke] [NAME ...]``.

Finds every ``bench/bench_*.py`` whose ``main`` takes an ``argv`` list and calls
``main(["--smoke"])`` (with ``--smoke``: a quick run of each, seconds not minutes) or ``main([])``
(the full figures). NAME limits the run to ``bench_NAME``. A module whose ``main()`` takes no
arguments is listed and skipped (run it on its own). Exit status 1 if any bench raised.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH_DIR = Path(__file__).resolve().parent


def takes_argv(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0].kind in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )


def discover(names: Sequence[str]) -> list[str]:
    found = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    if names:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in names}
        unknown = wanted - set(found)
        if unknown:
            raise SystemExit(f"no such bench: {', '.join(sorted(unknown))} (have: {', '.join(found)})")
        found = [f for f in found if f in wanted]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="quick runs (what CI can afford)")
    parser.add_argument("names", nargs="*", help="only these benches (bench_NAME or NAME)")
    args = parser.parse_args(argv)
    results: list[tuple[str, str, float]] = []
    for name in discover(args.names):
        module = importlib.import_module(f"bench.{name}")
        fn = getattr(module, "main", None)
        if fn is None or not takes_argv(fn):
            results.append((name, "skipped: main() takes no argv", 0.0))
            continue
        print(f"\n===== {name} {'--smoke' if args.smoke else ''}".rstrip(), flush=True)
        t0 = time.perf_counter()
        try:
            fn(["--smoke"] if args.smoke else [])
            results.append((name, "ok", time.perf_counter() - t0))
        except Exception:
            traceback.print_exc()
            results.append((name, "FAILED", time.perf_counter() - t0))
        sys.stdout.flush()
    print("\n===== summary")
    for name, status, seconds in results:
        print(f"  {name:24} {status:32} {seconds:6.1f} s")
    return 1 if any(status == "FAILED" for _, status, _ in results) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
