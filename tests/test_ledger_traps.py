"""The traps of issue 14 and shared/ledger/PROVENANCE.md, one constructed document each.

These documents are NOT filings: they are minimal inline-XBRL 10-Qs written here in the documented
shape (a cover page's dei facts, a ``DebtDisclosureTextBlock`` holding the note), with sentences
patterned on the real RIOT/MARA wording, to pin one rule each. Every figure in them is made up for
the test and appears nowhere else. Real documents are measured in test_ledger_accuracy.py.
"""

from __future__ import annotations

from watchers.ledger import read_document

HEAD = """<html xmlns="http://www.w3.org/1999/xhtml" xmlns:ix="http://www.xbrl.org/2013/inlineXBRL"
 xmlns:xbrli="http://www.xbrl.org/2003/instance" xmlns:xbrldi="http://xbrl.org/2006/xbrldi"
 xmlns:iso4217="http://www.xbrl.org/2003/iso4217" xmlns:us-gaap="http://fasb.org/us-gaap/2024"
 xmlns:dei="http://xbrl.sec.gov/dei/2024" xmlns:tst="http://example.com/tst"
 xmlns:ixt="http://www.xbrl.org/inlineXBRL/transformation/2020-02-12"><body>
<ix:header><ix:resources>
<xbrli:context id="d"><xbrli:entity><xbrli:identifier scheme="http://www.sec.gov/CIK">1</xbrli:identifier>
</xbrli:entity><xbrli:period><xbrli:startDate>2025-01-01</xbrli:startDate><xbrli:endDate>2025-06-30</xbrli:endDate>
</xbrli:period></xbrli:context>
<xbrli:context id="i"><xbrli:entity><xbrli:identifier scheme="http://www.sec.gov/CIK">1</xbrli:identifier>
</xbrli:entity><xbrli:period><xbrli:instant>2025-06-30</xbrli:instant></xbrli:period></xbrli:context>
<xbrli:context id="n31"><xbrli:entity><xbrli:identifier scheme="http://www.sec.gov/CIK">1</xbrli:identifier>
<xbrli:segment><xbrldi:explicitMember dimension="us-gaap:DebtInstrumentAxis">
tst:Notes2031Member</xbrldi:explicitMember>
</xbrli:segment></xbrli:entity><xbrli:period><xbrli:instant>2025-06-30</xbrli:instant></xbrli:period></xbrli:context>
<xbrli:unit id="usd"><xbrli:measure>iso4217:USD</xbrli:measure></xbrli:unit>
<xbrli:unit id="pure"><xbrli:measure>xbrli:pure</xbrli:measure></xbrli:unit>
</ix:resources></ix:header>
<p>FORM <ix:nonNumeric name="dei:DocumentType" contextRef="d">10-Q</ix:nonNumeric> for the period ended
<ix:nonNumeric name="dei:DocumentPeriodEndDate" contextRef="d"
 format="ixt:date-monthname-day-year-en">June 30,
2025</ix:nonNumeric>, <ix:nonNumeric name="dei:TradingSymbol" contextRef="d">TST</ix:nonNumeric></p>
"""


def _tenq(note: str) -> bytes:
    body = (
        '<ix:nonNumeric name="us-gaap:DebtDisclosureTextBlock" contextRef="d"><div>'
        f"<p>Note 7. Debt</p>{note}</div></ix:nonNumeric>"
    )
    return (HEAD + body + "</body></html>").encode()


def _read(note: str):
    return read_document(_tenq(note), document="constructed.html")


def test_capped_call_cap_price_is_not_the_conversion_price():
    doc = _read(
        "<p>2031 Notes</p><p>In March 2025, the Company issued $800.0 million aggregate principal amount of "
        "0.25% Convertible Senior Notes due 2031 (the “2031 Notes”). The 2031 Notes are convertible at an "
        "initial conversion rate of 25.0000 shares of common stock per $1,000 principal amount, "
        "equivalent to "
        "an initial conversion price of approximately $40.00 per share. In connection with the 2031 "
        "Notes, the "
        "Company entered into capped call transactions. The cap price of the capped call transactions is "
        "initially $70.00 per share.</p>"
    )
    [t] = doc.tranches
    assert (t.conversion_rate_per_1000, t.conversion_price_usd) == (25.0, 40.0)
    assert (t.capped_call, t.cap_price_usd) == (True, 70.0)
    assert (t.instrument, t.kind) == ("0.25% Convertible Senior Notes due 2031", "convertible_notes")
    assert t.maturity == "2031"


def test_a_conversion_price_inconsistent_with_the_rate_is_dropped_and_logged():
    doc = _read(
        "<p>2031 Notes</p><p>In March 2025, the Company issued $800.0 million aggregate principal amount of "
        "0.25% Convertible Senior Notes due 2031 (the “2031 Notes”) at a conversion rate of 25.0000 shares "
        "per $1,000 principal amount and a conversion price of $70.00 per share.</p>"
    )
    [t] = doc.tranches
    assert t.conversion_rate_per_1000 == 25.0 and t.conversion_price_usd is None
    assert any("conversion_price_usd dropped" in n for n in doc.notes)


def test_an_amount_in_thousands_tagged_as_a_rate_and_shares_tagged_as_a_ratio_are_dropped():
    doc = _read(
        "<p>2031 Notes</p><p>The Company's convertible senior notes due 2031 (the “2031 Notes”) had "
        "$800.0 million principal outstanding. <ix:nonFraction "
        'name="us-gaap:DebtInstrumentInterestRateStatedPercentage" '
        'contextRef="n31" unitRef="pure" scale="0">5,323</ix:nonFraction> '
        '<ix:nonFraction name="us-gaap:DebtInstrumentConvertibleConversionRatio1" contextRef="n31" '
        'unitRef="pure" '
        'scale="0">20,000,000</ix:nonFraction></p>'
    )
    [t] = doc.tranches
    assert t.coupon_pct is None and t.conversion_rate_per_1000 is None
    assert t.outstanding_principal_usd == 800e6
    assert any("coupon" in n and "dropped" in n for n in doc.notes)
    assert any("shares per $1,000" in n for n in doc.notes)


def test_untagged_tables_need_their_unit():
    row = "<tr><td>Borrowings outstanding at end of period</td><td>$</td><td>34,272</td></tr>"
    stated = _read(
        "<p>$50 Million Credit Facility</p><p>The Company has a $50.0 million revolving credit "
        "facility secured "
        f"by cash collateral.</p><p>(in thousands)</p><table>{row}</table>"
    )
    assert stated.tranches[0].outstanding_principal_usd == 34_272_000.0
    unstated = _read(
        "<p>$50 Million Credit Facility</p><p>The Company has a $50.0 million revolving credit "
        "facility secured "
        f"by cash collateral.</p><table>{row}</table>"
    )
    assert unstated.tranches[0].outstanding_principal_usd is None  # not $34,272, not a guess


def test_undrawn_facility_loans_made_letters_of_credit_and_subsequent_events():
    doc = _read(
        "<p>Revolving Credit Facility</p><p>The Company has a $100.0 million revolving credit "
        "facility. As of "
        "June 30, 2025, no amounts were outstanding under the facility.</p>"
        "<p>Note Receivable</p><p>In May 2025, the Company loaned $25.0 million to a hosting partner under a "
        "note bearing interest at 12%, due 2027.</p>"
        "<p>Letters of Credit</p><p>The Company had $8.0 million of letters of credit outstanding.</p>"
        "<p>2032 Notes</p><p>On July 15, 2025, the Company issued $500.0 million aggregate principal "
        "amount of "
        "1.00% Convertible Senior Notes due 2032 (the “2032 Notes”).</p>"
    )
    by_name = {t.instrument: t for t in doc.tranches}
    assert set(by_name) == {"Revolving Credit Facility", "1.00% Convertible Senior Notes due 2032"}
    facility = by_name["Revolving Credit Facility"]
    assert (facility.original_principal_usd, facility.outstanding_principal_usd) == (100e6, 0.0)
    later = by_name["1.00% Convertible Senior Notes due 2032"]
    assert later.status == "subsequent" and later.outstanding_principal_usd is None
    assert later.original_principal_usd == 500e6


def test_a_section_defining_several_notes_is_split():
    doc = _read(
        "<p>Convertible Notes</p><p>In November 2024, the Company issued $1.0 billion aggregate "
        "principal amount "
        "of 0.00% Convertible Senior Notes due 2030 (the “2030 Notes”) and $850.0 million aggregate "
        "principal "
        "amount of 0.00% Convertible Senior Notes due 2031 (the “2031 Notes”). The 2030 Notes mature on "
        "March 1, 2030. The 2031 Notes mature on June 1, 2031. The 2030 Notes are convertible at a "
        "conversion "
        "rate of 38.5902 shares per $1,000 principal amount.</p>"
    )
    got = sorted((t.maturity, t.conversion_rate_per_1000) for t in doc.tranches)
    assert got == [("2030-03-01", 38.5902), ("2031-06-01", None)]
    assert all(t.kind == "convertible_notes" and t.coupon_pct == 0.0 for t in doc.tranches)
