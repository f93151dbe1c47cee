"""The debt ledger from the command line, through the same code the live bot uses (issue 14).

    python -m bot ledger [TICKER] [--json]            the stored ledger(s)
    python -m bot ledger build FILE... [--json]       a ledger from local filing documents, in filing order

:func:`ingest` is the one path from a document's bytes to the stored ledger: read it
(:func:`watchers.ledger.read_document`), apply it (:func:`rules.ledger.apply_document`), store it
(:mod:`storage.ledger`). ``ledger build`` runs every file through :func:`ingest` into a private
in-memory database and prints what was stored, so what it prints is what the bot would hold. A
document that cannot be read is skipped with its note; the ledger is unchanged by it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlite_utils import Database

from rules.ledger import Ledger, LedgerDocument, Tranche, apply_document
from storage import equity as equity_store
from storage import ledger as store
from storage.db import open_db
from watchers.base import SourceError
from watchers.ledger import read_document
from watchers.ledger.filings_api import format_usd_short


@dataclass(frozen=True, slots=True)
class IngestResult:
    status: str  # applied | skipped | duplicate
    ticker: str | None
    note: str  # why skipped, or the values the checks dropped
    changed: bool = False
    before: Ledger | None = None
    after: Ledger | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """A document read and checked, not yet applied: :func:`prepare` needs no database."""

    document: str
    doc_key: str
    sha256: str
    ticker: str | None
    doc: LedgerDocument | None  # None when it was skipped
    note: str


def prepare(
    data: bytes,
    *,
    document: str,
    form: str | None = None,
    filed: str | None = None,
    accession: str | None = None,
    ticker: str | None = None,
    items: tuple[str, ...] = (),
    exhibits: Sequence[str] = (),
) -> Prepared:
    """Read one document (CPU only, ~0.3 s for a 4 MB 10-K: run it off the event loop and the db thread)."""
    sha = hashlib.sha256(data).hexdigest()
    doc_key = accession or sha
    try:
        doc = read_document(
            data,
            document=document,
            form=form,
            filed=filed,
            accession=accession,
            ticker=ticker,
            items=items,
            exhibits=exhibits,
        )
    except SourceError as err:
        return Prepared(document, doc_key, sha, (ticker or "").upper() or None, None, err.message)
    if not doc.ticker:
        return Prepared(
            document, doc_key, sha, None, None, f"{document}: no ticker in the document or given, skipped"
        )
    return Prepared(document, doc_key, sha, doc.ticker, doc, "; ".join(doc.notes))


def commit(db: Database, prepared: Prepared, *, now: datetime) -> IngestResult:
    """Apply a prepared document to its company's stored ledger (on the database thread)."""
    p = prepared
    if p.doc is None:
        store.record_document(
            db,
            ticker=p.ticker or "",
            doc_key=p.doc_key,
            source=None,
            document=p.document,
            sha256=p.sha256,
            status="skipped",
            note=p.note,
            now=now,
        )
        return IngestResult("skipped", p.ticker, p.note)
    ticker = p.doc.ticker or ""
    if store.document_seen(db, ticker, p.doc_key):
        return IngestResult("duplicate", ticker, f"{p.document}: already applied")
    before = store.load_ledger(db, ticker) or Ledger(ticker=ticker)
    after = apply_document(before, p.doc)
    changed = store.save_ledger(db, after, document=p.document, now=now)
    if p.doc.shares is not None:  # the cover's share count, for mcap and dilution (issue 15)
        equity_store.save_shares(db, ticker, p.doc.shares, now)
    store.record_document(
        db,
        ticker=ticker,
        doc_key=p.doc_key,
        source=p.doc.source,
        document=p.document,
        sha256=p.sha256,
        status="applied",
        note=p.note,
        now=now,
    )
    return IngestResult("applied", ticker, p.note, changed, before, after)


def ingest(
    db: Database,
    data: bytes,
    *,
    document: str,
    now: datetime,
    form: str | None = None,
    filed: str | None = None,
    accession: str | None = None,
    ticker: str | None = None,
    items: tuple[str, ...] = (),
) -> IngestResult:
    """:func:`prepare` then :func:`commit`: one filing document into its company's stored ledger."""
    prepared = prepare(
        data, document=document, form=form, filed=filed, accession=accession, ticker=ticker, items=items
    )
    return commit(db, prepared, now=now)


def rebuild(
    db: Database, ticker: str, docs: Sequence[tuple[bytes, dict[str, str | None]]], now: datetime
) -> Ledger:
    """Forget a ticker's ledger and apply the same documents again, in order. Same documents, same ledger."""
    store.clear_ledger(db, ticker.upper())
    for data, meta in docs:
        ingest(db, data, now=now, **meta)  # type: ignore[arg-type]
    return store.load_ledger(db, ticker.upper()) or Ledger(ticker=ticker.upper())


# ------------------------------------------------------------------------------------------ output


def _usd(x: float | None) -> str:
    return "—" if x is None else format_usd_short(x)


def render(ledger: Ledger, today: date) -> str:
    """A ledger as text: headline figures, one line per tranche, the maturity wall, disagreements."""
    lines = [
        f"{ledger.ticker}: debt principal outstanding {_usd(ledger.total_debt_principal_usd)}"
        f" as of {ledger.latest_period or '—'} (convertible {_usd(ledger.convertible_principal_usd)})"
    ]
    coupon, wam = ledger.weighted_coupon_pct(), ledger.weighted_maturity_years(today)
    nxt = ledger.next_date(today)
    lines.append(
        f"  weighted coupon {'—' if coupon is None else f'{coupon:.2f}%'}, weighted maturity "
        f"{'—' if wam is None else f'{wam:.1f} y'}, next "
        f"{'—' if nxt is None else f'{nxt[1]} {nxt[0]} ({nxt[2].instrument})'}"
    )
    for t in ledger.tranches:
        lines.append(_tranche_line(t))
        cites = ", ".join(f"{s.form} {s.period or s.filed or ''} {s.document}" for s in t.sources)
        lines.append(f"      from {cites}")
    wall = ledger.maturity_wall()
    if wall:
        lines.append("  maturity wall: " + ", ".join(f"{y} {_usd(v)}" for y, v in wall.items()))
    for d in ledger.disagreements:
        lines.append(f"  ! filings disagree: {d.line()}")
    return "\n".join(lines)


def _tranche_line(t: Tranche) -> str:
    coupon = "—" if t.coupon_pct is None else f"{t.coupon_pct:g}%"
    secured = "—" if t.secured is None else ("yes" if t.secured else "no")
    conv = ""
    if t.conversion_rate_per_1000 is not None or t.conversion_price_usd is not None:
        conv = f", converts {t.conversion_rate_per_1000 or '—'}/$1,000 (${t.conversion_price_usd or '—'})"
    extra = "" if t.in_latest_report else "  [not in the latest report]"
    return (
        f"  - {t.instrument} [{t.kind}]: {_usd(t.outstanding_principal_usd)} outstanding of "
        f"{_usd(t.original_principal_usd)}, coupon {coupon}, due {t.maturity or '—'}{conv}, "
        f"secured {secured}{extra}"
    )


def show(db: Database, ticker: str | None, as_json: bool, *, today: date | None = None) -> str:
    """The stored ledger of one ticker (or all) as text or JSON."""
    today = today or datetime.now(UTC).date()
    names = [ticker.upper()] if ticker else store.tickers(db)
    ledgers = {n: store.load_ledger(db, n) for n in names}
    if as_json:
        return json.dumps(
            {n: (lg.to_json() if lg else None) for n, lg in ledgers.items()}, indent=2, sort_keys=False
        )
    if not ledgers:
        return "no ledger yet: no filing has been applied"
    return "\n\n".join(
        render(lg, today) if lg else f"{n}: no ledger (not watched, or no filing applied yet)"
        for n, lg in ledgers.items()
    )


def build(paths: Sequence[str | Path], as_json: bool, *, now: datetime | None = None) -> str:
    """A ledger from local documents given in filing order (form and period read from each document)."""
    now = now or datetime.now(UTC)
    db = open_db(None)
    skipped: list[str] = []
    for path in paths:
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as err:
            skipped.append(f"{p.name}: cannot read ({err.strerror or err}), skipped")
            continue
        result = ingest(db, data, document=p.name, now=now)
        if result.status == "skipped":
            skipped.append(result.note)
    out = show(db, None, as_json, today=now.date())
    if as_json:
        data = json.loads(out)
        if skipped:
            data["skipped"] = skipped
        return json.dumps(data, indent=2)
    return "\n".join([out, *(f"skipped: {s}" for s in skipped)])


def main(argv: Sequence[str], db_path: str | Path | None = None) -> int:
    """``python -m bot ledger ...``: argv after ``ledger``; ``db_path`` is the bot's database for showing."""
    args = list(argv)
    if args[:1] == ["build"]:
        parser = argparse.ArgumentParser(prog="python -m bot ledger build")
        parser.add_argument(
            "files", nargs="+", help="filing documents (10-Q/10-K iXBRL, 8-K, 424B), in filing order"
        )
        parser.add_argument("--json", action="store_true")
        ns = parser.parse_args(args[1:])
        print(build(ns.files, ns.json))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bot ledger")
    parser.add_argument("ticker", nargs="?", help="one ticker (default: every ledger stored)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--db", help="database path (default: the bot's)")
    ns = parser.parse_args(args)
    path = ns.db or db_path
    if path is None or not Path(path).exists():
        print(
            f"minerwatch: no database at {path} (run the bot first, or use `ledger build FILE...`)",
            file=sys.stderr,
        )
        return 2
    print(show(open_db(path), ns.ticker, ns.json))
    return 0
