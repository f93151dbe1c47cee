"""Parsers of the network sources (issue 3), beyond what the watcher tests serve: odd shapes
of the price answers, and a property that no payload makes a parser fail other than with a
SourceError (which the runner reports) or succeed with out-of-bounds values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchers.base import SourceError
from watchers.mempool import parse_difficulty_adjustment
from watchers.price import parse_coinbase_spot, parse_kraken_ticker

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2024, 3, 31, 3, 18, tzinfo=UTC)


def test_kraken_real_ticker() -> None:
    payload = json.loads((FIXTURES / "price" / "kraken-public-Ticker-XBTUSDT.2024-03.json").read_text())
    assert parse_kraken_ticker(payload) == 73380.6


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"error": ["EGeneral:Invalid arguments"]}, "API error: EGeneral:Invalid arguments"),
        ({"error": [], "result": {}}, "answer has no result"),
        ({"error": [], "result": {"XXBTZUSD": {"a": ["1", "1", "1"]}}}, "no last-trade field 'c'"),
        ({"error": [], "result": {"XXBTZUSD": {"c": [None, "0.1"]}}}, "field 'c[0]' is null"),
        ({"error": [], "result": {"XXBTZUSD": {"c": ["0.00000", "0.1"]}}}, "last price 0 is not positive"),
        ([], "answer is a list"),
    ],
)
def test_kraken_garbage(payload: Any, message: str) -> None:
    with pytest.raises(SourceError) as info:
        parse_kraken_ticker(payload)
    assert info.value.source == "kraken"
    assert message in info.value.message


def test_coinbase_spot() -> None:
    payload = json.loads((FIXTURES / "price" / "coinbase-v2-spot-BTC-USD.constructed.json").read_text())
    assert parse_coinbase_spot(payload) == 66363.03


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"data": {"amount": "61000.1", "base": "BTC", "currency": "EUR"}}, "is BTC-EUR, not BTC-USD"),
        ({"errors": [{"id": "not_found", "message": "Invalid currency"}]}, "API error"),
        ({"data": {"amount": "", "base": "BTC", "currency": "USD"}}, "field 'amount' is '', not a number"),
        ({"data": {"amount": "-5", "base": "BTC", "currency": "USD"}}, "spot price -5 is not positive"),
    ],
)
def test_coinbase_garbage(payload: Any, message: str) -> None:
    with pytest.raises(SourceError) as info:
        parse_coinbase_spot(payload)
    assert info.value.source == "coinbase"
    assert message in info.value.message


_field = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=8),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
)
_KEYS = [
    "progressPercent",
    "difficultyChange",
    "estimatedRetargetDate",
    "remainingBlocks",
    "previousRetarget",
]


@given(
    overrides=st.dictionaries(st.sampled_from([*_KEYS, "nextRetargetHeight"]), _field, max_size=4),
    drop=st.lists(st.sampled_from(_KEYS), max_size=2),
)
def test_difficulty_adjustment_parser_only_raises_source_error(
    overrides: dict[str, Any], drop: list[str]
) -> None:
    payload = json.loads((FIXTURES / "mempool" / "difficulty-adjustment.mainnet-2024-03-31.json").read_text())
    payload.update(overrides)
    for key in drop:
        payload.pop(key, None)
    try:
        info = parse_difficulty_adjustment(payload, now=NOW)
    except SourceError as err:
        assert err.source == "mempool"
        return
    # Whatever got through is inside the bounds the alert rules rely on.
    assert 0 <= info.progress_pct <= 100
    assert abs(info.next_change_pct) <= 100
    assert 1 <= info.blocks_left <= 2016
    assert info.next_retarget_height % 2016 == 0
    assert NOW.timestamp() - 86400 <= info.retarget_eta_s <= NOW.timestamp() + 2016 * 2400 + 86400
