"""Per-chat fleet economics (issue 3). Hand-worked numbers, at the 2024-03-31 hashprice
($107.9927991364406/PH/day, tests/fixtures/hashprice/worked-example.2024-03-31.computed.json)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.fleet import (
    Fleet,
    breakeven_usd_per_mwh,
    curtail_margin_usd_per_mwh,
    fleet_metrics,
    margin_pct,
    profit_usd_per_ph_day,
)

HASHPRICE_2024_03_31 = 107.9927991364406  # USD/PH/day


def test_s19xp_at_five_cents() -> None:
    # 21.5 J/TH: 1 TH/s draws 21.5 W = 516 Wh/day; 1 PH/s uses 516 kWh/day = $25.80 at $0.05/kWh.
    fleet = Fleet(efficiency_j_per_th=21.5, power_usd_per_kwh=0.05)
    got = fleet_metrics(HASHPRICE_2024_03_31, fleet)
    assert set(got) == {"breakeven", "margin", "profit"}  # the chat metric names of rules/catalogue.py
    # $0.1079928/TH/day over 516 Wh/day = $209.29/MWh
    assert got["breakeven"] == pytest.approx(107.9927991364406 * 1000 / 516, rel=1e-12)
    assert got["breakeven"] == pytest.approx(209.288, abs=0.001)
    assert got["profit"] == pytest.approx(107.9927991364406 - 25.80, rel=1e-12)
    assert got["margin"] == pytest.approx(76.1095, abs=1e-4)


def test_hosting_fee_lowers_the_breakeven_power_price() -> None:
    # $0.02/kWh hosting = $20/MWh paid on top of power: the power price you can afford drops by it.
    fleet = Fleet(efficiency_j_per_th=21.5, power_usd_per_kwh=0.05, hosting_usd_per_kwh=0.02)
    got = fleet_metrics(HASHPRICE_2024_03_31, fleet)
    assert got["breakeven"] == pytest.approx(209.28837041945852 - 20, rel=1e-12)
    assert got["profit"] == pytest.approx(107.9927991364406 - 516 * 0.07, rel=1e-12)
    assert got["margin"] == pytest.approx(66.5533, abs=1e-4)


def test_curtail_margin_sign() -> None:
    # An ERCOT price spike of $1 000/MWh against a $209.29 breakeven: curtail, $790.71/MWh at stake.
    assert curtail_margin_usd_per_mwh(1000.0, 209.29) == pytest.approx(790.71)
    assert curtail_margin_usd_per_mwh(25.0, 209.29) == pytest.approx(-184.29)


def test_hosting_alone_can_exceed_revenue() -> None:
    fleet = Fleet(efficiency_j_per_th=38.0, power_usd_per_kwh=0.0, hosting_usd_per_kwh=0.15)
    assert breakeven_usd_per_mwh(HASHPRICE_2024_03_31, fleet) < 0
    assert margin_pct(HASHPRICE_2024_03_31, fleet) < 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"efficiency_j_per_th": 0.0, "power_usd_per_kwh": 0.05}, "must be positive"),
        ({"efficiency_j_per_th": 20.0, "power_usd_per_kwh": -0.01}, "must not be negative"),
        (
            {"efficiency_j_per_th": 20.0, "power_usd_per_kwh": 0.05, "hosting_usd_per_kwh": -1},
            "must not be negative",
        ),
    ],
)
def test_invalid_fleet(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fleet(**kwargs)


def test_margin_needs_positive_hashprice() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        margin_pct(0.0, Fleet(21.5, 0.05))


@given(
    hashprice=st.floats(min_value=1.0, max_value=1000.0),
    efficiency=st.floats(min_value=5.0, max_value=150.0),
    hosting=st.floats(min_value=0.0, max_value=0.1),
)
def test_paying_exactly_breakeven_leaves_zero_profit(
    hashprice: float, efficiency: float, hosting: float
) -> None:
    probe = Fleet(efficiency, 0.0, hosting)
    power_at_breakeven = breakeven_usd_per_mwh(hashprice, probe) / 1000  # USD/kWh
    if power_at_breakeven < 0:
        return  # hosting alone exceeds revenue: no non-negative power price breaks even
    fleet = Fleet(efficiency, power_at_breakeven, hosting)
    assert profit_usd_per_ph_day(hashprice, fleet) == pytest.approx(0.0, abs=1e-9 * hashprice)
    assert margin_pct(hashprice, fleet) == pytest.approx(0.0, abs=1e-7)
