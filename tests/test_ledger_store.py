"""The ledger end to end: documents -> storage -> CLI, restarts, rebuilds, and documents that must be
skipped (malformed, enormous, not a filing) leaving the ledger unchanged.

Real documents: the MARA closing 8-K of 2024-11-21 (tests/fixtures/filings, labelled in LABELS.json
there) and the two RIOT filings of shared/ledger (tests skip when shared/ is not beside the checkout).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ledger_cli import build, ingest, main, rebuild, show
from storage import ledger as store
from storage.db import open_db
from tests.ledger_support import LABELS, labelled_document
from watchers.ledger import document as ledger_document

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
FILINGS = Path(__file__).parent / "fixtures" / "filings"
MARA_8K = FILINGS / "mara-8k-2024-11-21-convertible-closing.html"
AEON = (
    Path(__file__).parent
    / "fixtures"
    / "ledger"
    / ("ixbrl-10q-aeon-biopharma-2023-09-30.convertible-notes-DebtInstrumentAxis.excerpt.htm")
)


def _riot() -> list[Path]:
    paths = [labelled_document(lab) for lab in LABELS]
    if any(p is None for p in paths):
        pytest.skip("shared/ledger is not beside this checkout")
    return [p for p in paths if p is not None]  # 10-K 2024 then 10-Q 2025-06: filing order


def _mara_ledger(db):
    result = ingest(
        db,
        MARA_8K.read_bytes(),
        document=MARA_8K.name,
        now=NOW,
        ticker="MARA",
        form="8-K",
        accession="0001507605-24-000127",
        filed="2024-11-21",
    )
    assert result.status == "applied"
    return store.load_ledger(db, "MARA")


def test_issuance_8k_through_the_filings_extractor():
    """The closing 8-K's terms (labels in tests/fixtures/filings/LABELS.json) become one tranche."""
    label = next(x for x in json.loads((FILINGS / "LABELS.json").read_text()) if x["file"] == MARA_8K.name)
    ledger = _mara_ledger(open_db(None))
    [t] = ledger.tranches
    terms = label["terms"]
    assert t.kind == "convertible_notes"
    assert t.original_principal_usd == terms["principal_usd"] == t.outstanding_principal_usd
    assert (t.coupon_pct, t.maturity) == (terms["coupon_pct"], terms["maturity"])
    assert (t.conversion_rate_per_1000, t.conversion_price_usd) == (
        terms["conversion_rate_per_1000"],
        terms["conversion_price_usd"],
    )
    assert t.instrument == "0.00% Convertible Senior Notes due 2030"
    assert t.sources[0].accession == "0001507605-24-000127"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"<html xmlns:ix='http://www.xbrl.org/2013/inlineXBRL'><body><p>cut off", "not well-formed"),
        (b"\x00\x01\x02binary" * 100, "binary"),
        (b"   ", "empty"),
        (b"<html><body>Hello, nothing to see</body></html>", "neither inline XBRL"),
        (None, "no dei:DocumentType"),  # the real AEON excerpt: iXBRL without a cover page
        (b"<html>" + b" " * (ledger_document.MAX_BYTES + 1), "over the"),
    ],
    ids=["malformed-ixbrl", "binary", "empty", "not-a-filing", "no-cover-page", "enormous"],
)
def test_bad_documents_are_skipped_with_a_note_and_change_nothing(data, why):
    db = open_db(None)
    before = _mara_ledger(db)
    history = store.history(db, "MARA")
    data = AEON.read_bytes() if data is None else data
    result = ingest(db, data, document="bad.html", now=NOW, ticker="MARA")
    assert result.status == "skipped" and why in result.note
    assert store.load_ledger(db, "MARA") == before
    assert store.history(db, "MARA") == history
    [row] = [r for r in store.documents(db) if r["document"] == "bad.html"]
    assert row["status"] == "skipped" and why in row["note"]


def test_the_same_document_twice_is_applied_once():
    db = open_db(None)
    before = _mara_ledger(db)
    again = ingest(
        db,
        MARA_8K.read_bytes(),
        document=MARA_8K.name,
        now=NOW,
        ticker="MARA",
        accession="0001507605-24-000127",
    )
    assert again.status == "duplicate"
    assert store.load_ledger(db, "MARA") == before


def test_survives_restart_and_rebuild_gives_the_same_ledger(tmp_path):
    paths = _riot()
    db_path = tmp_path / "mw.db"
    db = open_db(db_path)
    for p in paths:
        assert ingest(db, p.read_bytes(), document=p.name, now=NOW).status == "applied"
    built = store.load_ledger(db, "RIOT")
    db.conn.close()

    db = open_db(db_path)  # a restart
    assert store.load_ledger(db, "RIOT") == built
    assert [h["document"] for h in store.history(db, "RIOT")] == [p.name for p in paths]
    assert [(d["form"], d["period"], d["status"]) for d in store.documents(db, "RIOT")] == [
        ("10-K", "2024-12-31", "applied"),
        ("10-Q", "2025-06-30", "applied"),
    ]
    rebuilt = rebuild(db, "RIOT", [(p.read_bytes(), {"document": p.name}) for p in paths], NOW)
    assert rebuilt.to_state() == built.to_state()
    rows = store.tranche_rows(db, "RIOT")
    assert [r["instrument"] for r in rows] == [t.instrument for t in built.tranches]


def test_cli_build_json_has_the_issue_shape():
    out = json.loads(build([MARA_8K], as_json=True, now=NOW))
    # the 8-K's tagged cover page names the ticker and the date of the report
    [t] = out["MARA"]["tranches"]
    assert t["sources"] == [
        {"form": "8-K", "period": None, "document": MARA_8K.name, "accession": None, "filed": "2024-11-20"}
    ]
    no_ticker = (FILINGS / "mstr-8k-2020-12-09-convertible-pricing.html").read_bytes()
    if b"dei:TradingSymbol" not in no_ticker:  # an older 8-K without a tagged cover: skipped, never guessed
        result = ingest(open_db(None), no_ticker, document="old.html", now=NOW)
        assert result.status == "skipped" and "no ticker" in result.note
    paths = _riot()
    out = json.loads(build(paths, as_json=True, now=NOW))
    riot = out["RIOT"]
    assert riot["total_debt_principal_usd"] == 853_995_000.0
    for t in riot["tranches"]:
        assert list(t) == [
            "instrument",
            "kind",
            "original_principal_usd",
            "outstanding_principal_usd",
            "coupon_pct",
            "maturity",
            "conversion_rate_per_1000",
            "conversion_price_usd",
            "secured",
            "sources",
        ]


def test_cli_main_build_and_show(tmp_path, capsys):
    assert main(["build", str(MARA_8K), str(tmp_path / "missing.html")]) == 0
    out = capsys.readouterr().out
    assert "skipped: missing.html: cannot read" in out
    db_path = tmp_path / "mw.db"
    db = open_db(db_path)
    _mara_ledger(db)
    db.conn.close()
    assert main(["MARA", "--db", str(db_path)]) == 0
    text = capsys.readouterr().out
    assert (
        "MARA: debt principal outstanding $1B" in text and "0.00% Convertible Senior Notes due 2030" in text
    )
    assert main(["RIOT"], db_path=db_path) == 0
    assert "RIOT: no ledger (not watched, or no filing applied yet)" in capsys.readouterr().out
    assert main(["MARA", "--db", str(tmp_path / "nope.db")]) == 2
    assert json.loads(show(open_db(db_path), "MARA", True))["MARA"]["total_debt_principal_usd"] == 1e9


def test_a_document_that_changes_nothing_adds_no_history():
    db = open_db(None)
    _mara_ledger(db)
    # the same text filed again under another accession (an 8-K/A repeating the terms)
    again = ingest(
        db, MARA_8K.read_bytes(), document="mara-8k-a.html", now=NOW, accession="0001507605-24-000999"
    )
    assert again.status == "applied" and not again.changed
    assert len(store.history(db, "MARA")) == 1
    assert [s.document for s in store.load_ledger(db, "MARA").documents] == [MARA_8K.name, "mara-8k-a.html"]


def test_a_reader_failure_skips_the_document(monkeypatch):
    """A shape the footnote reader did not foresee (simulated: it raises) skips the document, unchanged."""
    paths = _riot()
    db = open_db(None)
    ingest(db, paths[0].read_bytes(), document=paths[0].name, now=NOW)
    before = store.load_ledger(db, "RIOT")

    def boom(doc, period_end):
        raise ValueError("unexpected table")

    monkeypatch.setattr(ledger_document.footnote, "read_note", boom)
    result = ingest(db, paths[1].read_bytes(), document=paths[1].name, now=NOW)
    assert result.status == "skipped" and "unreadable (ValueError: unexpected table)" in result.note
    assert store.load_ledger(db, "RIOT") == before
