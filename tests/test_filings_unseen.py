"""Real filings the extractor was not written on (issue 12, item 6): old notes' terms, a shelf's
at-the-market prospectus, periodic reports.

Documents and labels: tests/fixtures/filings/unseen (PROVENANCE.md there). Run with ``-s`` to see
the table. The full RIOT 10-K and 10-Q of ``shared/ledger`` are read too when that folder is found
(``../shared`` beside the project, as in CI, or ``$MINERWATCH_SHARED``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from rules.events import FINANCING_KINDS
from watchers.filings.analyse import analyse_filing
from watchers.filings.model import LABEL_TERMS, TERM_NAMES
from watchers.filings.summary import describe

UNSEEN = Path(__file__).parent / "fixtures" / "filings" / "unseen"
LABELS: list[dict[str, Any]] = json.loads((UNSEEN / "LABELS.json").read_text())
BY_FILE = {lab["file"]: lab for lab in LABELS}
MSTR_JUNE = "mstr-8k-2024-06-14-convertible-pricing-and-2025-notes-redemption.items-8.01-9.01.txt"
MSTR_SEPT = "mstr-8k-2024-09-18-convertible-pricing-and-secured-notes-redemption.items-8.01-9.01.txt"
MARA_SHELF = "mara-s3asr-2024-02-28-shelf-with-atm-prospectus.excerpt.txt"
RIOT_10Q = "riot-10q-2025-06-30.cover-and-note-12-debt.trimmed.html"

_root = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MINERWATCH_SHARED") or _root.parent / "shared")


def _doc(name: str) -> str:
    return (UNSEEN / name).read_text(encoding="utf-8")


def test_fixtures_are_the_labelled_bytes() -> None:
    for label in LABELS:
        data = (UNSEEN / label["file"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (label["bytes"], label["sha256"]), label[
            "file"
        ]


def test_accuracy_on_the_unseen_documents() -> None:
    """Every kind and every term as labelled, with the filing's metadata and from the text alone."""
    right = total = 0
    misses: list[str] = []
    for label in LABELS:
        doc = _doc(label["file"])
        for info in (
            analyse_filing(doc, form=label["form"], items=label["items"] or ()),
            analyse_filing(doc),
        ):
            expected = {"kind": label["kind"], **label["terms"], "secured": label["secured"]}
            got = {"kind": info.kind, **{t: info.terms[t] for t in (*LABEL_TERMS, "secured")}}
            for name, value in expected.items():
                total += 1
                if got[name] == value:
                    right += 1
                else:
                    misses.append(f"{label['file']}: {name} {got[name]!r}, labelled {value!r}")
    print(f"\nunseen real filings ({len(LABELS)} documents, with and without metadata): {right}/{total}")
    for miss in misses:
        print(f"  MISS {miss}")
    assert right == total, misses


@pytest.mark.parametrize("name", [MSTR_JUNE, MSTR_SEPT])
def test_old_notes_terms_are_not_given_to_the_new_notes(name: str) -> None:
    """Both 8-Ks price new convertible notes and redeem old notes in the same Item 8.01. The new notes'
    coupon is only in the EX-99.2 press release, so the 8-K states none; the 0.750% coupon and the
    2.5126 / $397.99 conversion terms (June) and the 6.125% coupon, "senior secured" and bitcoin
    collateral (September) are the old notes'."""
    info = analyse_filing(_doc(name), form="8-K", items=["8.01", "9.01"])
    assert info.kind == "convertible_notes"
    t = info.terms
    assert t["coupon_pct"] is None
    assert t["secured"] is None
    assert (t["conversion_rate_per_1000"], t["conversion_price_usd"]) == (None, None)
    assert t["maturity"] == BY_FILE[name]["terms"]["maturity"]  # "due 2032" / "due 2028" of the new notes
    line = describe(info)
    assert "6.125%" not in line and "0.75%" not in line and "397.99" not in line


def test_the_terms_of_new_notes_still_stand_next_to_old_ones() -> None:
    """The same September 8-K with a press-release exhibit that states the new notes' terms. The
    EX-99.2 is not among the fixtures: these sentences are BUILT in the wording of the pricing
    releases (tests/test_filings_terms.py PRICING_RELEASE); 0.625% and $183.19 are the terms
    dat-tracker-next's notes give for these notes, 5.4589 is 1,000 / 183.19. The new notes' terms
    are read; the old notes' still are not."""
    exhibit = (
        "The notes will be unsecured, senior obligations of MicroStrategy and will bear interest at a rate "
        "of 0.625% per annum. The initial conversion rate is 5.4589 shares of class A common stock per "
        "$1,000 principal amount of notes, which is equivalent to an initial conversion price of "
        "approximately $183.19 per share."
    )
    info = analyse_filing(_doc(MSTR_SEPT), form="8-K", items=["8.01", "9.01"], exhibits=[exhibit])
    t = info.terms
    assert (t["coupon_pct"], t["conversion_rate_per_1000"], t["conversion_price_usd"]) == (
        0.625,
        5.4589,
        183.19,
    )
    assert t["secured"] is False and t["principal_usd"] == 875e6


@pytest.mark.parametrize("form", ["S-3ASR", "S-3", None])
def test_shelf_with_an_at_the_market_prospectus_is_an_equity_offering(form: str | None) -> None:
    """MARA's S-3ASR is a universal shelf whose second prospectus is a $1.5B ATM; the ATM's cover
    stands after the base prospectus and its table of contents."""
    text = _doc(MARA_SHELF)
    assert text.index("TABLE OF CONTENTS") < text.index("Up to $1,500,000,000")
    info = analyse_filing(text, form=form)
    assert info.kind == "equity_offering"
    assert info.terms["offering_amount_usd"] == 1.5e9
    assert all(v is None for k, v in info.terms.items() if k != "offering_amount_usd"), info.terms


def test_a_shelf_without_an_at_the_market_amount_stays_other() -> None:
    """The base prospectus of the same filing alone (cover to table of contents): common stock,
    preferred stock, debt securities, warrants... no particular security offered yet."""
    text = _doc(MARA_SHELF)
    base = text[text.index("PROSPECTUS\n") : text.index("[... excerpt")]
    info = analyse_filing(base, form="S-3ASR")
    assert info.kind == "other" and all(v is None for v in info.terms.values())


@pytest.mark.parametrize("form", ["10-Q", "10-Q/A", None])
def test_a_periodic_report_is_never_a_financing(form: str | None) -> None:
    """RIOT's 10-Q: its Note 12 describes the 0.75% 2030 Notes and a $200M Coinbase credit facility,
    and today's code read it as "$50M convertible notes, 0.75%, secured"."""
    doc = _doc(RIOT_10Q)
    info = analyse_filing(doc, form=form)
    assert info.kind == "other"
    assert info.to_json()["terms"] == dict.fromkeys(TERM_NAMES)
    assert (
        analyse_filing(doc, form=form, exhibits=[_doc(MSTR_JUNE)]).kind == "other"
    )  # whatever comes with it


@pytest.mark.parametrize(
    ("name", "form"),
    [("riot-10k-2024-12-31.html", "10-K"), ("riot-10q-2025-06-30.html", "10-Q")],
)
def test_the_full_shared_periodic_reports_are_never_a_financing(name: str, form: str) -> None:
    path = SHARED / "ledger" / name
    if not path.exists():
        pytest.skip(f"{path} not found (set MINERWATCH_SHARED to the shared folder)")
    doc = path.read_text(encoding="utf-8")
    for info in (analyse_filing(doc), analyse_filing(doc, form=form)):
        assert info.kind == "other" and info.kind not in FINANCING_KINDS
        assert all(v is None for v in info.terms.values())
