"""The pure ledger (rules/ledger.py): applying documents in filing order, newer wins, disagreements,
totals and the figures /debt shows. Tranches here are written by hand from the RIOT labels' figures
(tests/fixtures/ledger/LEDGER_LABELS.json) and one MARA 8-K's terms; they are inputs, not filings."""

from __future__ import annotations

from datetime import UTC, date, datetime

from rules.ledger import (
    Ledger,
    LedgerDocument,
    Source,
    Tranche,
    apply_document,
    build,
    debt_observation,
    latest_date,
    ledger_changes,
    same_tranche,
)

K24 = Source("10-K", "2024-12-31", "riot-10k-2024-12-31.html")
Q25 = Source("10-Q", "2025-06-30", "riot-10q-2025-06-30.html")
EIGHT_K = Source("8-K", None, "riot-8k.html", accession="0000000000-25-000001", filed="2025-08-01")

NOTES_10K = Tranche(
    "0.75% Convertible Senior Notes due 2030",
    "convertible_notes",
    594.4e6,
    594.4e6,
    0.75,
    "2030-01-15",
    67.2767,
    14.86,
    aliases=("2030 Notes",),
)
NOTES_10Q = Tranche(
    "0.75% Convertible Senior Notes due 2030", "convertible_notes", None, 594.4e6, 0.75, "2030"
)
FAC_10K = Tranche("$50 Million Credit Facility", "credit_facility", 50e6, None, secured=True)
FAC_10Q = Tranche(
    "$50 Million Credit Facility", "credit_facility", 50e6, 34.272e6, 5.6, "2026-07-15", secured=True
)
ESS = Tranche("Revolving Line of Credit", "credit_facility", 6e6, 0.0, maturity="2024-12", secured=True)
NOTE = Tranche("Note Payable", "other_debt", 5.7e6, 5.323e6, 8.81, "2035-12")


def _doc(source, *tranches):
    return LedgerDocument(source=source, ticker="RIOT", tranches=tuple(tranches))


def test_newer_report_updates_and_keeps_what_it_does_not_restate():
    ledger = build("RIOT", [_doc(K24, NOTES_10K, FAC_10K, ESS, NOTE), _doc(Q25, NOTES_10Q, FAC_10Q, NOTE)])
    notes = next(t for t in ledger.tranches if t.kind == "convertible_notes")
    # the 10-Q does not repeat the conversion terms or the exact date: the 10-K's stay, cited to the 10-K
    assert notes.conversion_rate_per_1000 == 67.2767 and notes.cited["conversion_rate_per_1000"] == K24
    assert notes.maturity == "2030-01-15"
    assert notes.cited["outstanding_principal_usd"] == Q25
    assert notes.sources == (K24, Q25)
    facility = next(t for t in ledger.tranches if t.instrument.startswith("$50"))
    assert (
        facility.outstanding_principal_usd == 34.272e6 and facility.cited["outstanding_principal_usd"] == Q25
    )
    assert ledger.disagreements == ()  # "2030" after "2030-01-15" is the same date, less precise
    # the matured ESS line is not in the newest report: kept for the record, not counted
    ess = next(t for t in ledger.tranches if t.instrument == "Revolving Line of Credit")
    assert not ess.in_latest_report
    assert ledger.total_debt_principal_usd == round(594.4e6 + 34.272e6 + 5.323e6, 2)
    assert ledger.latest_period == "2025-06-30"


def test_disagreement_is_logged_and_newer_wins_but_older_never_overrides():
    changed = Tranche("$50 Million Credit Facility", "credit_facility", 50e6, 30e6, secured=True)
    ledger = build("RIOT", [_doc(Q25, FAC_10Q), _doc(EIGHT_K, changed)])
    facility = ledger.tranches[0]
    assert facility.outstanding_principal_usd == 30e6
    [d] = ledger.disagreements
    assert (d.term, d.old, d.new, d.old_source, d.new_source) == (
        "outstanding_principal_usd",
        34.272e6,
        30e6,
        Q25,
        EIGHT_K,
    )
    # a late 10-K/A for an older period fills gaps but never replaces the newer value
    old = apply_document(
        ledger, _doc(K24, Tranche("$50 Million Credit Facility", "credit_facility", 50e6, 1e6, secured=True))
    )
    assert old.tranches[0].outstanding_principal_usd == 30e6


def test_figures_for_debt_command():
    ledger = build("RIOT", [_doc(Q25, NOTES_10Q, FAC_10Q, NOTE)])
    assert ledger.convertible_principal_usd == 594.4e6
    total = 594.4e6 + 34.272e6 + 5.323e6
    expected_coupon = (594.4e6 * 0.75 + 34.272e6 * 5.6 + 5.323e6 * 8.81) / total
    assert abs(ledger.weighted_coupon_pct() - expected_coupon) < 1e-6
    assert ledger.maturity_wall() == {2026: 34.272e6, 2030: 594.4e6, 2035: 5.323e6}
    when, what, tranche = ledger.next_date(date(2025, 7, 1))
    assert (when, what, tranche.instrument) == ("2026-07-15", "maturity", "$50 Million Credit Facility")
    # a maturity stated as a year or a month counts at its last day: 2030-12-31, 2035-12-31
    years = [
        (date(2026, 7, 15) - date(2025, 6, 30)).days / 365.25,
        (date(2030, 12, 31) - date(2025, 6, 30)).days / 365.25,
        (date(2035, 12, 31) - date(2025, 6, 30)).days / 365.25,
    ]
    expected_wam = (34.272e6 * years[0] + 594.4e6 * years[1] + 5.323e6 * years[2]) / total
    assert abs(ledger.weighted_maturity_years(date(2025, 6, 30)) - expected_wam) < 1e-5
    obs = debt_observation(ledger, datetime(2025, 8, 1, tzinfo=UTC))
    assert obs.metric == "debt.riot" and obs.value == round(total, 2)


def test_nothing_stated_nothing_shown():
    ledger = build("RIOT", [_doc(K24, FAC_10K)])
    assert ledger.total_debt_principal_usd is None
    assert ledger.weighted_coupon_pct() is None and ledger.next_date(date(2025, 1, 1)) is None
    assert debt_observation(ledger, datetime(2025, 1, 1, tzinfo=UTC)) is None
    out = ledger.to_json()
    assert set(out["tranches"][0]) == {
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
    }
    assert out["tranches"][0]["coupon_pct"] is None


def test_issuance_after_the_period_counts_until_a_later_report():
    issued = Tranche(
        "0.00% Convertible Senior Notes due 2031", "convertible_notes", 850e6, 850e6, 0.0, "2031"
    )
    ledger = build("RIOT", [_doc(Q25, NOTES_10Q), _doc(EIGHT_K, issued)])
    assert ledger.total_debt_principal_usd == 594.4e6 + 850e6


def test_matching_and_round_trip():
    assert same_tranche(NOTES_10K, NOTES_10Q)
    assert not same_tranche(
        NOTES_10K, Tranche("0.75% Convertible Senior Notes due 2031", "convertible_notes", maturity="2031")
    )
    assert not same_tranche(FAC_10Q, Tranche("$20 Million Credit Facility", "credit_facility", 20e6))
    ledger = build("RIOT", [_doc(K24, NOTES_10K, FAC_10K, ESS), _doc(Q25, NOTES_10Q, FAC_10Q)])
    assert Ledger.from_state(ledger.to_state()) == ledger
    assert latest_date("2035-12") == date(2035, 12, 31) and latest_date("2030") == date(2030, 12, 31)


def test_changes_for_the_debt_alert():
    q = build("RIOT", [_doc(Q25, NOTES_10Q, FAC_10Q, NOTE)])
    issued = Tranche(
        "0.00% Convertible Senior Notes due 2031", "convertible_notes", 850e6, 850e6, 0.0, "2031"
    )
    after = apply_document(q, _doc(EIGHT_K, issued))
    [change] = ledger_changes(q, after)
    assert (change.kind, change.instrument, change.after_usd) == ("new_tranche", issued.instrument, 850e6)
    assert (change.total_before_usd, change.total_after_usd) == (
        q.total_debt_principal_usd,
        q.total_debt_principal_usd + 850e6,
    )
    assert change.source == EIGHT_K
    # the next report: the facility repaid, the note payable no longer listed
    later = Source("10-Q", "2025-09-30", "q3.html")
    repaid = Tranche(
        "$50 Million Credit Facility", "credit_facility", 50e6, 0.0, 5.6, "2026-07-15", secured=True
    )
    after_q3 = apply_document(after, _doc(later, NOTES_10Q, repaid, issued))
    kinds = {(c.kind, c.instrument) for c in ledger_changes(after, after_q3)}
    assert kinds == {
        ("outstanding_changed", "$50 Million Credit Facility"),
        ("dropped_from_report", "Note Payable"),
    }
    assert ledger_changes(after_q3, after_q3) == []
