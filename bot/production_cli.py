"""A miner's production history from local documents, through the code the live bot uses (issue 19).

    python -m bot production build TICKER FILE[@YYYY-MM-DD]... [--json]

Each file (a production update, an earnings release, an HPC announcement: HTML or text) is read by
:func:`watchers.filings.operations.extract_operations`, stored by :func:`bot.engine.production.record`
and turned into metrics by :func:`bot.engine.ingest.ingest_derived`, into a private in-memory
database, exactly as a filing event would be; then the stored history and the line the bot would
send for each release are printed. A file's filing date is the ``@YYYY-MM-DD`` after it, else the
first ``YYYY-MM-DD`` in its name; a file with neither is refused (no date is guessed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.delivery.production_messages import hpc_line, production_line
from bot.engine import production
from bot.engine.ingest import ingest_derived
from bot.engine.rule_eval import IngestOptions
from rules.catalogue import STOCK_TICKERS
from storage import production as store
from storage.db import open_db
from watchers.filings.operations import FIGURE_NAMES, extract_operations


def _filed_at(spec: str) -> tuple[Path, datetime]:
    path_text, _, date_text = spec.partition("@")
    path = Path(path_text)
    m = (
        re.fullmatch(r"\d{4}-\d{2}-\d{2}", date_text)
        if date_text
        else re.search(r"\d{4}-\d{2}-\d{2}", path.name)
    )
    if not m:
        raise ValueError(f"{spec}: give the filing date as FILE@YYYY-MM-DD (none in the file name)")
    return path, datetime.fromisoformat(m.group(0)).replace(hour=12, tzinfo=UTC)


def build(ticker: str, specs: Sequence[str]) -> dict[str, Any]:
    db = open_db(None)
    t = ticker.upper()
    lines: list[str] = []
    dated = sorted((_filed_at(s) for s in specs), key=lambda p: p[1])
    for path, filed_at in dated:
        ops = extract_operations(path.read_text(encoding="utf-8", errors="replace"))
        obs, events = production.record(db, t, path.name, filed_at, ops.to_json(), filed_at)
        ingest_derived(
            db, obs, [replace(e, announce=False) for e in events], filed_at, IngestOptions(links={})
        )
        for event in events:
            if event.kind == "production":
                lines.append(production_line(event.data))
                if event.data.get("hpc"):
                    lines.append(hpc_line(t, event.data["hpc"]))
    history = {
        name: [
            {k: row[k] for k in ("period", "value", "unit", "qualifier", "as_of", "accession")}
            | {"filed_at": row["filed_at"].isoformat()}
            for row in store.figure_history(db, t, name)
        ]
        for name in FIGURE_NAMES
    }
    return {"ticker": t, "lines": lines, "history": {k: v for k, v in history.items() if v}}


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot production")
    sub = parser.add_subparsers(dest="verb", required=True)
    b = sub.add_parser("build", help="a miner's production history from local documents")
    b.add_argument("ticker", help="the miner's ticker, e.g. MARA")
    b.add_argument("files", nargs="+", help="documents as FILE or FILE@YYYY-MM-DD (the filing date)")
    b.add_argument("--json", action="store_true")
    ns = parser.parse_args(list(argv))
    if ns.ticker.lower() not in STOCK_TICKERS:
        print(f"minerwatch: {ns.ticker} is not a watched miner", file=sys.stderr)
        return 2
    try:
        result = build(ns.ticker, ns.files)
    except (ValueError, OSError) as err:
        print(f"minerwatch: {err}", file=sys.stderr)
        return 2
    if ns.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print("\n".join(result["lines"]) or "no production figures in these documents")
    return 0
