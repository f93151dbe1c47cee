"""The debt ledger of each listed miner (issue 14): the documents applied, the ledger, its tranches and
its history. All the SQL of the ledger is here; the ledger itself is built by rules/ledger.py."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from rules.ledger import Ledger, Source
from storage.clock import iso


def document_seen(db: Database, ticker: str, doc_key: str) -> bool:
    rows = db.execute(
        "SELECT 1 FROM ledger_documents WHERE ticker = ? AND doc_key = ? AND status = 'applied'",
        [ticker, doc_key],
    ).fetchall()
    return bool(rows)


def record_document(
    db: Database,
    *,
    ticker: str,
    doc_key: str,
    source: Source | None,
    document: str,
    sha256: str,
    status: str,
    note: str,
    now: datetime,
) -> None:
    """Remember one document and what became of it (applied, or skipped with the reason)."""
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM ledger_documents").fetchone()[0]
    with db.conn:
        db.execute(
            "INSERT OR REPLACE INTO ledger_documents (ticker, doc_key, seq, document, accession, form, "
            "period, filed, sha256, status, note, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ticker,
                doc_key,
                seq,
                document,
                source.accession if source else None,
                source.form if source else None,
                source.period if source else None,
                source.filed if source else None,
                sha256,
                status,
                note,
                iso(now),
            ],
        )


def documents(db: Database, ticker: str | None = None) -> list[dict[str, Any]]:
    """The documents recorded, in the order they were applied (all tickers when None)."""
    if ticker is None:
        return list(db.query("SELECT * FROM ledger_documents ORDER BY seq"))
    return list(db.query("SELECT * FROM ledger_documents WHERE ticker = ? ORDER BY seq", [ticker]))


def load_ledger(db: Database, ticker: str) -> Ledger | None:
    rows = list(db.query("SELECT state FROM ledgers WHERE ticker = ?", [ticker]))
    return Ledger.from_state(json.loads(rows[0]["state"])) if rows else None


def tickers(db: Database) -> list[str]:
    return [r["ticker"] for r in db.query("SELECT ticker FROM ledgers ORDER BY ticker")]


def save_ledger(db: Database, ledger: Ledger, *, document: str, now: datetime) -> bool:
    """Store the ledger (replacing its tranches); add a history row when it changed. True if changed."""
    state = json.dumps(ledger.to_state(), sort_keys=True, default=str)
    old = list(db.query("SELECT state FROM ledgers WHERE ticker = ?", [ledger.ticker]))
    changed = not old or _comparable(old[0]["state"]) != _comparable(state)
    with db.conn:
        db.execute(
            "INSERT OR REPLACE INTO ledgers (ticker, state, total_debt_principal_usd, as_of, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [ledger.ticker, state, ledger.total_debt_principal_usd, ledger.latest_period, iso(now)],
        )
        if not changed:
            return False  # the documents list grew; nothing a reader sees changed: no history row
        db.execute("DELETE FROM ledger_tranches WHERE ticker = ?", [ledger.ticker])
        for position, t in enumerate(ledger.tranches):
            db.execute(
                "INSERT OR REPLACE INTO ledger_tranches (ticker, key, position, instrument, kind, "
                "outstanding_principal_usd, maturity, in_latest_report, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    ledger.ticker,
                    f"{t.key}#{position}" if _dup_key(ledger, t) else t.key,
                    position,
                    t.instrument,
                    t.kind,
                    t.outstanding_principal_usd,
                    t.maturity,
                    int(t.in_latest_report),
                    json.dumps(t.to_full_json(), sort_keys=True, default=str),
                ],
            )
        db.execute(
            "INSERT INTO ledger_history (ticker, at, total_debt_principal_usd, as_of, document, state) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [ledger.ticker, iso(now), ledger.total_debt_principal_usd, ledger.latest_period, document, state],
        )
    return True


def history(db: Database, ticker: str) -> list[dict[str, Any]]:
    """Every change of a ticker's ledger: time, total, as-of period and the document that caused it."""
    return list(
        db.query(
            "SELECT at, total_debt_principal_usd, as_of, document FROM ledger_history "
            "WHERE ticker = ? ORDER BY at, id",
            [ticker],
        )
    )


def tranche_rows(db: Database, ticker: str) -> list[dict[str, Any]]:
    rows = db.query("SELECT * FROM ledger_tranches WHERE ticker = ? ORDER BY position", [ticker])
    return [{**r, "data": json.loads(r["data"])} for r in rows]


def clear_ledger(db: Database, ticker: str) -> None:
    """Forget a ticker's ledger and documents (before a rebuild from the same documents)."""
    with db.conn:
        for table in ("ledgers", "ledger_tranches", "ledger_documents"):
            db.execute(f"DELETE FROM {table} WHERE ticker = ?", [ticker])  # fixed table names, not input


def _dup_key(ledger: Ledger, t: Any) -> bool:
    return sum(1 for x in ledger.tranches if x.key == t.key) > 1


def _comparable(state: str) -> str:
    # A ledger "changed" when a figure, a term or a disagreement changed; a document that only adds
    # itself to the citations (an amendment repeating the terms) is recorded, not a change in history.
    data = json.loads(state)
    data.pop("documents", None)
    for t in data.get("tranches") or ():
        t.pop("sources", None)
        t.pop("cited", None)
    return json.dumps(data, sort_keys=True)


def unapplied_filings(db: Database, since: datetime) -> list[dict[str, Any]]:
    """Filing and report events recorded since ``since`` whose accession the ledger has not recorded
    (applied or skipped): the documents the live ledger still has to read, oldest first."""
    rows = db.query(
        "SELECT e.key, e.kind, e.at, e.data FROM events e WHERE e.kind IN ('filing', 'report') "
        "AND e.recorded_at >= ? AND NOT EXISTS (SELECT 1 FROM ledger_documents d "
        "WHERE d.doc_key = json_extract(e.data, '$.accession')) ORDER BY e.at, e.key",
        [iso(since)],
    )
    return [{**r, "data": json.loads(r["data"])} for r in rows]


def recorded_doc_keys(db: Database, ticker: str) -> set[str]:
    """Accessions (or hashes) of a ticker's documents already applied or skipped."""
    rows = db.execute("SELECT doc_key FROM ledger_documents WHERE ticker = ?", [ticker]).fetchall()
    return {r[0] for r in rows}


def load_ledgers(db: Database, tickers: list[str]) -> dict[str, Ledger | None]:
    """The stored ledger of each ticker (None where there is none yet)."""
    return {t: load_ledger(db, t) for t in tickers}
