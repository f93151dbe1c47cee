"""The miner book's operating figures and HPC contracts (issue 19): all their SQL."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from rules.production import period_kind
from storage.clock import iso, parse_iso

# figures that count as "a production report" for the gone-quiet cadence
REPORT_METRICS = ("mined_btc", "held_btc", "hashrate_ehs")


def save_figures(
    db: Database,
    ticker: str,
    accession: str,
    filed_at: datetime,
    figures: Mapping[str, Mapping[str, Any]],
    now: datetime,
    *,
    url: str | None = None,
) -> list[str]:
    """Store one release's figures; the names of those that are new (a release read twice stores
    nothing the second time)."""
    new: list[str] = []
    for metric, fig in figures.items():
        cur = db.execute(
            "INSERT OR IGNORE INTO production_figures (ticker, metric, accession, value, unit, period, "
            "period_kind, qualifier, as_of, filed_at, url, evidence, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ticker.upper(),
                metric,
                accession,
                float(fig["value"]),
                fig.get("unit"),
                fig.get("period"),
                period_kind(fig.get("period")),
                fig.get("qualifier"),
                fig.get("as_of"),
                iso(filed_at),
                url,
                fig.get("evidence"),
                iso(now),
            ],
        )
        if cur.rowcount == 1:
            new.append(metric)
    return new


def save_hpc(
    db: Database, ticker: str, accession: str, filed_at: datetime, hpc: Mapping[str, Any], now: datetime,
    *, url: str | None = None,
) -> bool:  # fmt: skip
    cur = db.execute(
        "INSERT OR IGNORE INTO hpc_contracts (ticker, accession, filed_at, url, data, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [ticker.upper(), accession, iso(filed_at), url, json.dumps(dict(hpc), sort_keys=True), iso(now)],
    )
    return cur.rowcount == 1


def _row(r: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(r)
    out["filed_at"] = parse_iso(r["filed_at"])
    return out


def previous_figure(
    db: Database, ticker: str, metric: str, before: datetime, kind: str, accession: str
) -> dict[str, Any] | None:
    """The figure of the same metric from the latest earlier release of the same period kind."""
    rows = list(
        db.query(
            "SELECT * FROM production_figures WHERE ticker = ? AND metric = ? AND period_kind = ? "
            "AND filed_at <= ? AND accession != ? ORDER BY filed_at DESC LIMIT 1",
            [ticker.upper(), metric, kind, iso(before), accession],
        )
    )
    return _row(rows[0]) if rows else None


def figure_history(db: Database, ticker: str, metric: str) -> list[dict[str, Any]]:
    rows = db.query(
        "SELECT * FROM production_figures WHERE ticker = ? AND metric = ? ORDER BY filed_at",
        [ticker.upper(), metric],
    )
    return [_row(r) for r in rows]


def latest_figures(db: Database, ticker: str) -> dict[str, dict[str, Any]]:
    """metric -> the newest figure of ``ticker``."""
    out: dict[str, dict[str, Any]] = {}
    rows = db.query(
        "SELECT * FROM production_figures WHERE ticker = ? ORDER BY filed_at DESC", [ticker.upper()]
    )
    for r in rows:
        out.setdefault(r["metric"], _row(r))
    return out


def report_times(db: Database, ticker: str) -> list[datetime]:
    """When ``ticker`` published production figures (one time per release), oldest first."""
    marks = ", ".join("?" for _ in REPORT_METRICS)
    rows = db.query(
        f"SELECT DISTINCT filed_at FROM production_figures WHERE ticker = ? AND metric IN ({marks}) "
        "ORDER BY filed_at",
        [ticker.upper(), *REPORT_METRICS],
    )
    return [parse_iso(r["filed_at"]) for r in rows]


def tickers(db: Database) -> list[str]:
    rows = db.query(
        "SELECT ticker FROM production_figures UNION SELECT ticker FROM hpc_contracts ORDER BY ticker"
    )
    return [r["ticker"] for r in rows]


def hpc_contracts(db: Database, ticker: str) -> list[dict[str, Any]]:
    rows = db.query("SELECT * FROM hpc_contracts WHERE ticker = ? ORDER BY filed_at DESC", [ticker.upper()])
    return [{**json.loads(r["data"]), "accession": r["accession"], "filed_at": r["filed_at"], "url": r["url"]}
            for r in rows]  # fmt: skip
