"""The inline-XBRL reader (watchers/ledger/ixbrl.py) on a real excerpt and on the traps' shapes.

The AEON Biopharma 10-Q excerpt is real (provenance in tests/fixtures/ledger/PROVENANCE.md): 52
facts in 26 contexts, nested facts, ``scale="6"`` and ``scale="-2"``, DebtInstrumentAxis members.
The small documents built inline below are NOT filings: they are minimal iXBRL in the documented
shape, written here to pin one rule each (sign, nil, words, dates, malformed input).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from watchers.ledger import ixbrl
from watchers.ledger.ixbrl import group_by_instrument, instrument_member, transform_date, transform_number

AEON = (
    Path(__file__).parent
    / "fixtures"
    / "ledger"
    / "ixbrl-10q-aeon-biopharma-2023-09-30.convertible-notes-DebtInstrumentAxis.excerpt.htm"
)


@pytest.fixture(scope="module")
def aeon():
    return ixbrl.parse(AEON.read_bytes())


def test_aeon_facts_contexts_units(aeon):
    assert len(aeon.contexts) == 26
    assert len(aeon.facts) == 52
    assert set(aeon.units.values()) == {"USD", "pure"}
    assert aeon.notes == []


def test_scale_applies_to_millions_and_percentages(aeon):
    face = [f for f in aeon.facts if f.local_name == "DebtInstrumentFaceAmount" and f.raw == "1.7"]
    assert face and all(f.value == 1_700_000.0 and f.unit == "USD" for f in face)
    coupon = [
        f
        for f in aeon.facts
        if f.local_name == "DebtInstrumentInterestRateStatedPercentage" and f.raw == "15.79"
    ]
    assert coupon and all(f.value == pytest.approx(0.1579) for f in coupon)  # not 1579 %


def test_nested_facts_each_carry_their_own_context(aeon):
    # one displayed "1.0" carries the Jaywin, Malik, ... notes' face amounts, each in its own context
    nested = [f for f in aeon.facts if f.local_name == "DebtInstrumentFaceAmount" and f.value == 1_000_000.0]
    members = {m for f in nested for m in f.members}
    assert {
        "aeon:JaywinMember",
        "aeon:MalikMember",
        "aeon:WillisMember",
        "aeon:SimhambhatlaMember",
    } <= members


def test_facts_are_grouped_by_debt_instrument_member(aeon):
    groups = group_by_instrument(aeon)
    # AEON tags its notes on LongtermDebtTypeAxis (ConvertibleDebtMember) and DebtInstrumentAxis
    assert "us-gaap:ConvertibleDebtMember" in groups
    assert "aeon:ConvertibleNotes2019Member" in groups
    rates = [
        f.value
        for f in groups["aeon:ConvertibleNotes2019Member"]
        if f.local_name == "DebtInstrumentInterestRateStatedPercentage"
    ]
    assert rates == [0.0, pytest.approx(0.1579)]
    assert all(
        instrument_member(f) == "aeon:ConvertibleNotes2019Member"
        for f in groups["aeon:ConvertibleNotes2019Member"]
    )


def _doc(body: str) -> bytes:
    return f"""<html xmlns="http://www.w3.org/1999/xhtml" xmlns:ix="http://www.xbrl.org/2013/inlineXBRL"
 xmlns:xbrli="http://www.xbrl.org/2003/instance" xmlns:xbrldi="http://xbrl.org/2006/xbrldi"
 xmlns:iso4217="http://www.xbrl.org/2003/iso4217" xmlns:us-gaap="http://fasb.org/us-gaap/2024"
 xmlns:ixt="http://www.xbrl.org/inlineXBRL/transformation/2020-02-12"
 xmlns:ixt-sec="http://www.sec.gov/inlineXBRL/transformation/2015-08-31"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><body>
<ix:header><ix:resources>
<xbrli:context id="c"><xbrli:entity><xbrli:identifier scheme="http://www.sec.gov/CIK">1</xbrli:identifier>
</xbrli:entity><xbrli:period><xbrli:instant>2025-06-30</xbrli:instant></xbrli:period></xbrli:context>
<xbrli:unit id="usd"><xbrli:measure>iso4217:USD</xbrli:measure></xbrli:unit>
</ix:resources></ix:header>{body}</body></html>""".encode()


def test_sign_nil_words_and_unknown_format():
    doc = ixbrl.parse(
        _doc(
            '<p><ix:nonFraction name="us-gaap:A" contextRef="c" unitRef="usd" scale="3" sign="-" '
            'format="ixt:num-dot-decimal">1,234</ix:nonFraction>'
            '<ix:nonFraction name="us-gaap:B" contextRef="c" unitRef="usd" xsi:nil="true"/>'
            '<ix:nonFraction name="us-gaap:C" contextRef="c" unitRef="usd" scale="6" '
            'format="ixt-sec:numwordsen">no</ix:nonFraction>'
            '<ix:nonFraction name="us-gaap:D" contextRef="c" unitRef="usd" '
            'format="ixt:weird">12</ix:nonFraction>'
            '<ix:nonFraction name="us-gaap:E" contextRef="missing" unitRef="usd">1</ix:nonFraction></p>'
        )
    )
    values = {f.local_name: f.value for f in doc.facts}
    assert values == {"A": -1_234_000.0, "B": None, "C": 0.0, "D": None}
    assert any("us-gaap:D" in n for n in doc.notes) and any("us-gaap:E" in n for n in doc.notes)


def test_malformed_document_raises():
    with pytest.raises(ixbrl.IxbrlError):
        ixbrl.parse(b"<html><body><p>unclosed</body></html>")


@pytest.mark.parametrize(
    ("raw", "fmt", "expected"),
    [
        ("1,234.5", "ixt:num-dot-decimal", 1234.5),
        ("1.234,5", "ixt:num-comma-decimal", 1234.5),
        ("—", "ixt:fixed-zero", 0.0),
        ("four", "ixt-sec:numwordsen", 4.0),
        ("twenty one", "ixt-sec:numwordsen", 21.0),
        ("lots", "ixt-sec:numwordsen", None),
    ],
)
def test_number_transforms(raw, fmt, expected):
    assert transform_number(raw, fmt) == expected


@pytest.mark.parametrize(
    ("raw", "fmt", "expected"),
    [
        ("January 15, 2030", "ixt:date-monthname-day-year-en", "2030-01-15"),
        ("December 2035", "ixt:date-monthname-year-en", "2035-12"),
        ("03/01/2030", "ixt:date-month-day-year", "2030-03-01"),
        ("Jun-30", "ixt:date-monthname-day-en", None),  # a month and a day: no year, no date
        ("February 30, 2030", "ixt:date-monthname-day-year-en", None),
    ],
)
def test_date_transforms(raw, fmt, expected):
    assert transform_date(raw, fmt) == expected
