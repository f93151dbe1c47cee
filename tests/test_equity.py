"""Issue 15, pure and storage parts: shares outstanding from the real RIOT covers, the derived metrics'
arithmetic (checked by hand below), crossings with hysteresis, the catalogue and grammar entries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.ledger_cli import ingest
from rules import equity
from rules.catalogue import format_value, lookup
from rules.grammar import RuleError, format_rule, parse_rule
from rules.ledger import Ledger, SharesOutstanding, Source, Tranche
from rules.model import ChangeRule, EventRule, Op, ThresholdRule
from storage import equity as equity_store
from storage import ledger as ledger_store
from storage.db import open_db
from tests.ledger_support import LABELS, labelled_document
from watchers.ledger import read_document

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
Q = Source(form="10-Q", period="2025-06-30", document="q.htm")


def _riot_paths():
    paths = [labelled_document(lab) for lab in LABELS]
    if any(p is None for p in paths):
        pytest.skip("shared/ledger is not beside this checkout")
    return paths


# --- shares outstanding from the cover -----------------------------------------------------------


def test_cover_shares_of_the_real_riot_10k_and_10q():
    k10, q10 = _riot_paths()
    k = read_document(k10.read_bytes(), document=k10.name)
    q = read_document(q10.read_bytes(), document=q10.name)
    # Read on the covers: "350,207,536 shares ... as of February 20, 2025" and
    # "369,623,180 ... as of July 29, 2025" (dei:EntityCommonStockSharesOutstanding).
    assert k.shares is not None and (k.shares.shares, k.shares.as_of) == (350_207_536, "2025-02-20")
    assert q.shares is not None and (q.shares.shares, q.shares.as_of) == (369_623_180, "2025-07-29")
    assert q.shares.source.form == "10-Q" and q.shares.source.period == "2025-06-30"


def test_shares_stored_per_ticker_newest_count_wins():
    db = open_db(None)
    k10, q10 = _riot_paths()
    for path in (q10, k10):  # out of order on purpose: the newer as_of still wins
        assert ingest(db, path.read_bytes(), document=path.name, now=NOW).status == "applied"
    latest = equity_store.latest_shares(db, "RIOT")
    assert latest is not None and latest.shares == 369_623_180 and latest.as_of == "2025-07-29"
    assert latest.source.document == q10.name and latest.source.form == "10-Q"
    count = SharesOutstanding(1.0, "2025-07-29", Source("10-Q", "2025-06-30", q10.name))
    assert not equity_store.save_shares(db, "RIOT", count, NOW)  # same report again: nothing new
    assert equity_store.latest_shares(db, "MARA") is None


def test_cover_without_a_share_count_gives_none():
    from tests.test_ledger_store import AEON  # a real 10-Q excerpt with no cover page
    from watchers.ledger.cover import shares_outstanding
    from watchers.ledger.ixbrl import parse

    assert shares_outstanding(parse(AEON.read_bytes()), Q) == (None, [])


# --- arithmetic ------------------------------------------------------------------------------------


def _conv(name: str, principal: float, price: float | None, rate: float | None, year: str) -> Tranche:
    return Tranche(
        name,
        "convertible_notes",
        outstanding_principal_usd=principal,
        coupon_pct=0.0,
        maturity=year,
        conversion_price_usd=price,
        conversion_rate_per_1000=rate,
    )


LEDGER = Ledger(
    "XYZ",
    tranches=(
        _conv("0% Convertible Senior Notes due 2030", 1_000_000_000, 25.0, 40.0, "2030"),
        _conv("2.125% Convertible Senior Notes due 2031", 500_000_000, 20.0, None, "2031"),
        Tranche("Term loan", "other_debt", outstanding_principal_usd=300_000_000),
    ),
    latest_period="2025-06-30",
)
SHARES = SharesOutstanding(400_000_000, "2025-07-29", Q)
PRICE = equity.Price(22.0, datetime(2025, 8, 4, 14, 0, tzinfo=UTC), "yahoo")


def test_derived_metrics_by_hand():
    got = {d.metric: d for d in equity.derive("xyz", PRICE, SHARES, LEDGER)}
    # weighted conversion price (1e9 × 25 + 5e8 × 20) / 1.5e9 = 23.3333; 22 / 23.3333 − 1 = −5.714 %
    assert got["convert.xyz"].value == pytest.approx(-5.7142857, rel=1e-6)
    # mcap 4e8 × 22 = 8.8e9
    assert got["mcap.xyz"].value == pytest.approx(8.8e9)
    # new shares 1e6 × 40 + 5e5 × (1000 / 20 = 50) = 65e6; ÷ 4e8 = 16.25 %
    assert got["dilution.xyz"].value == pytest.approx(16.25)
    # debt 1.8e9 ÷ 8.8e9 = 20.4545 %
    assert got["leverage.xyz"].value == pytest.approx(20.454545, rel=1e-6)
    assert {d.source for d in got.values()} == {"yahoo+edgar"}
    assert got["mcap.xyz"].debt_as_of is None and got["leverage.xyz"].debt_as_of == "2025-06-30"
    obs = got["mcap.xyz"].observation()
    assert (obs.metric, obs.at, obs.source) == ("mcap.xyz", PRICE.at, "yahoo+edgar")


def test_missing_inputs_stay_empty():
    assert equity.derive("xyz", None, SHARES, LEDGER) == []
    no_shares = {d.metric for d in equity.derive("xyz", PRICE, None, LEDGER)}
    assert no_shares == {"convert.xyz"}  # the only one that needs no share count
    no_ledger = {d.metric for d in equity.derive("xyz", PRICE, SHARES, None)}
    assert no_ledger == {"mcap.xyz"}
    # a convertible stating neither rate nor price: no dilution figure, and no place in convert
    vague = Ledger(
        "XYZ",
        tranches=(*LEDGER.tranches, _conv("Notes due 2032", 1e8, None, None, "2032")),
        latest_period="x",
    )
    got = {d.metric: d.value for d in equity.derive("xyz", PRICE, SHARES, vague)}
    assert "dilution.xyz" not in got and got["convert.xyz"] == pytest.approx(-5.7142857, rel=1e-6)
    # an issuance alone (no periodic report yet): not the whole debt, so no dilution or leverage
    issuance_only = Ledger("XYZ", tranches=LEDGER.tranches[:1])
    got = {d.metric for d in equity.derive("xyz", PRICE, SHARES, issuance_only)}
    assert got == {"convert.xyz", "mcap.xyz"}
    # no convertibles in the latest report: nothing dilutes (0 %), there is no conversion price
    plain = Ledger("XYZ", tranches=LEDGER.tranches[2:], latest_period="2025-06-30")
    got = {d.metric: d.value for d in equity.derive("xyz", PRICE, SHARES, plain)}
    assert got["dilution.xyz"] == 0.0 and "convert.xyz" not in got


def test_real_riot_ledger_dilution():
    db = open_db(None)
    for path in _riot_paths():
        ingest(db, path.read_bytes(), document=path.name, now=NOW)
    ledger = ledger_store.load_ledger(db, "RIOT")
    shares = equity_store.latest_shares(db, "RIOT")
    (note,) = equity.convertibles(ledger)
    # The 10-K states 67.2767 shares per $1,000 ($14.86); the 10-Q repeats the principal only.
    assert note.conversion_rate_per_1000 == pytest.approx(67.2767)
    assert equity.shares_on_conversion(note) == pytest.approx(594_400 * 67.2767)  # 39,989,270
    got = {d.metric: d.value for d in equity.derive("riot", equity.Price(10.0, NOW, "yahoo"), shares, ledger)}
    assert got["dilution.riot"] == pytest.approx(594_400 * 67.2767 / 369_623_180 * 100)  # 10.82 %
    assert got["convert.riot"] == pytest.approx((10.0 / 14.86 - 1) * 100)  # −32.7 %
    assert got["mcap.riot"] == pytest.approx(3_696_231_800)
    assert got["leverage.riot"] == pytest.approx(ledger.total_debt_principal_usd / 3_696_231_800 * 100)


def test_side_after_has_hysteresis_like_a_threshold():
    level = 25.0
    assert equity.side_after(None, 24.0, level, 1.0) == "below"
    assert equity.side_after(None, 25.5, level, 1.0) == "above"
    assert equity.side_after("below", 25.0, level, 1.0) == "below"  # at the level is not above
    assert equity.side_after("below", 25.01, level, 1.0) == "above"
    assert equity.side_after("above", 24.8, level, 1.0) == "above"  # inside the 1 % band (24.75)
    assert equity.side_after("above", 24.74, level, 1.0) == "below"
    assert equity.side_after("above", 24.9, level, 0.0) == "below"  # no band


def test_levels_are_conversion_prices_of_outstanding_convertibles_only():
    got = equity.levels(LEDGER)
    assert [(lv.kind, lv.price_usd) for lv in got] == [("conversion", 25.0), ("conversion", 20.0)]
    assert got[0].key == "convertible_notes:0:2030:conversion"
    repaid = Ledger("XYZ", tranches=(_conv("Old notes due 2026", 0, 10.0, 100.0, "2026"),))
    assert equity.levels(repaid) == []


# --- catalogue and grammar -------------------------------------------------------------------------


def test_catalogue_families():
    for family, unit in (("mcap", "USD"), ("convert", "%"), ("dilution", "%"), ("leverage", "%")):
        info = lookup(f"{family}.mara")
        assert info is not None and info.unit == unit and info.scope == "stock"
    assert format_value("convert.mara", 3.14) == "+3.1%"
    assert format_value("mcap.riot", 3_696_231_800) == "$3,696,231,800"
    assert lookup("mcap.xyz") is None


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("stock.mara drops 10% in 1d", ChangeRule("stock.mara", "drops", 10.0, 86400)),
        ("convert.mara > 0", ThresholdRule("convert.mara", Op.GT, 0.0)),
        ("dilution.riot > 15%", ThresholdRule("dilution.riot", Op.GT, 15.0)),
        ("leverage.riot above 50%", ThresholdRule("leverage.riot", Op.GT, 50.0)),
        ("converts MARA", EventRule("converts", ("MARA",))),
        ("converts $mara riot", EventRule("converts", ("MARA", "RIOT"))),
        ("converts", EventRule("converts")),
    ],
)
def test_rules_parse_and_round_trip(text, rule):
    assert parse_rule(text) == rule
    assert parse_rule(format_rule(rule)) == rule


def test_rule_errors_name_the_problem():
    with pytest.raises(RuleError, match="converts takes tickers") as err:
        parse_rule("converts MARX")
    assert "converts MARA" in str(err.value)
    with pytest.raises(RuleError, match="don't quote the stock") as err:
        parse_rule("dilution.marx > 15%")
    assert "dilution.mara" in str(err.value)


# --- soft-call trigger ---------------------------------------------------------------------------


def test_soft_call_trigger_read_from_real_8ks():
    from pathlib import Path

    filings = Path(__file__).parent / "fixtures" / "filings"
    mara = filings / "mara-8k-2024-11-21-convertible-closing.html"
    doc = read_document(mara.read_bytes(), document=mara.name, form="8-K", ticker="MARA")
    # "... at least 130% of the conversion price then in effect for at least 20 trading days ..."
    assert [t.soft_call_pct for t in doc.tranches] == [130.0]
    mstr = filings / "mstr-8k-2020-12-09-convertible-pricing.html"  # a pricing 8-K stating none
    doc = read_document(mstr.read_bytes(), document=mstr.name, form="8-K", ticker="MSTR")
    assert [t.kind for t in doc.tranches] == ["convertible_notes"] and doc.tranches[0].soft_call_pct is None


def test_soft_call_sentences():
    from watchers.ledger.soft_call import soft_call_pct, with_soft_call

    said = "The Company may redeem the notes if the stock has been at least 130% of the conversion price."
    assert soft_call_pct(said) == (130.0, [])
    assert soft_call_pct("Holders may convert at 130% of the conversion price.") == (None, [])  # no redeem
    assert soft_call_pct(said + " We may redeem the notes at 150% of the conversion price.")[0] is None
    pct, notes = soft_call_pct("We may redeem them at 10% of the conversion price.")
    assert pct is None and "implausible" in notes[0]
    two = [_conv("A due 2030", 1e8, 10.0, None, "2030"), _conv("B due 2031", 1e8, 12.0, None, "2031")]
    assert with_soft_call(two, said) == (two, [])  # whose trigger? neither is assumed


def test_soft_call_level_only_where_stated():
    stated = Ledger("XYZ", tranches=(replace(LEDGER.tranches[0], soft_call_pct=130.0),), latest_period="x")
    assert [(lv.kind, lv.price_usd) for lv in equity.levels(stated)] == [
        ("conversion", 25.0),
        ("soft_call", pytest.approx(32.5)),
    ]
    assert equity.soft_call_price(LEDGER.tranches[0]) is None
