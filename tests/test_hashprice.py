"""Hashprice and subsidy arithmetic (issue 3), checked against worked examples whose inputs are
real recorded mempool values (tests/fixtures/hashprice/PROVENANCE.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.hashprice import (
    blocks_to_halving,
    expected_blocks_per_ph_day,
    fee_share_pct,
    hashprice_btc,
    hashprice_usd,
    next_halving_height,
    sats_per_th_day,
    subsidy_btc,
    subsidy_sat,
)

HASHPRICE = Path(__file__).parent / "fixtures" / "hashprice"


def test_worked_example_2024_03_31_pre_halving() -> None:
    example = json.loads((HASHPRICE / "worked-example.2024-03-31.computed.json").read_text())
    inp, out = example["inputs"], example["outputs"]
    fees_btc = inp["avg_total_fees_sat_per_block"] / 1e8
    assert expected_blocks_per_ph_day(inp["difficulty"]) == pytest.approx(
        out["expected_blocks_per_ph_day"], rel=1e-12
    )
    btc = hashprice_btc(inp["difficulty"], inp["block_subsidy_btc"], fees_btc)
    assert btc == pytest.approx(out["btc_per_ph_day"], rel=1e-12)
    assert sats_per_th_day(btc) == pytest.approx(out["sats_per_th_day"], rel=1e-12)
    usd = hashprice_usd(inp["difficulty"], inp["block_subsidy_btc"], fees_btc, inp["btc_usd"])
    assert usd == pytest.approx(out["usd_per_ph_day"], rel=1e-12)
    assert usd == pytest.approx(107.99, abs=0.005)  # data-sources.md §4: ≈ $107.99/PH/day


def test_worked_example_2025_04_01_post_halving() -> None:
    example = json.loads((HASHPRICE / "worked-example.2025-04-01.post-halving.computed.json").read_text())
    inp, out = example["inputs"], example["outputs"]
    btc = hashprice_btc(inp["difficulty"], inp["block_subsidy_btc"], inp["avg_total_fees_btc_per_block"])
    assert btc == pytest.approx(out["btc_per_ph_day"], rel=1e-12)
    assert sats_per_th_day(btc) == pytest.approx(56.0357, rel=1e-5)


def test_public_elektronics_example() -> None:
    # https://elektronics.dev/docs/hashprice: D = 1e14, $100 000, 3.125 BTC, no fees.
    assert expected_blocks_per_ph_day(1e14) == pytest.approx(864_000 / 2**32, rel=1e-12)  # 0.000201166
    assert hashprice_usd(1e14, 3.125, 0.0, 100_000) == pytest.approx(62.8643, abs=1e-4)


@pytest.mark.parametrize(
    ("height", "sat"),
    [
        (0, 5_000_000_000),
        (209_999, 5_000_000_000),
        (210_000, 2_500_000_000),
        (629_999, 1_250_000_000),
        (630_000, 625_000_000),
        (839_999, 625_000_000),
        (840_000, 312_500_000),  # the 2024-04-20 halving
        (890_447, 312_500_000),  # 2025-04-01 sample: reward - totalFees == 312 500 000
        (1_050_000, 156_250_000),
        (33 * 210_000, 0),  # 5e9 >> 33 == 0: the last sat-bearing era ends
        (64 * 210_000, 0),
    ],
)
def test_subsidy_schedule(height: int, sat: int) -> None:
    assert subsidy_sat(height) == sat
    assert subsidy_btc(height) == sat / 1e8


@pytest.mark.parametrize(
    ("tip", "halving", "left"),
    [(839_999, 840_000, 1), (840_000, 1_050_000, 210_000), (837_050, 840_000, 2_950), (0, 210_000, 210_000)],
)
def test_halving_countdown(tip: int, halving: int, left: int) -> None:
    assert next_halving_height(tip) == halving
    assert blocks_to_halving(tip) == left


def test_fee_share() -> None:
    # 2024-03-31 sample: 0.1360176425 BTC average fees on a 6.25 BTC subsidy.
    assert fee_share_pct(6.25, 0.1360176425) == pytest.approx(0.1360176425 / 6.3860176425 * 100, rel=1e-12)
    assert fee_share_pct(3.125, 0.0) == 0.0


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_non_positive_difficulty_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="not positive"):
        expected_blocks_per_ph_day(bad)


@given(
    difficulty=st.floats(min_value=1.0, max_value=1e16),
    fees=st.floats(min_value=0.0, max_value=10.0),
    factor=st.floats(min_value=0.25, max_value=4.0),
)
def test_hashprice_is_inversely_proportional_to_difficulty(
    difficulty: float, fees: float, factor: float
) -> None:
    base = hashprice_btc(difficulty, 3.125, fees)
    assert hashprice_btc(difficulty * factor, 3.125, fees) == pytest.approx(base / factor, rel=1e-9)
