"""rules/units.py: one number parser for every command, and /fleet's units (issue 12 items 4, 7)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rules.units import (
    FleetInput,
    FleetInputError,
    FleetQuestion,
    parse_chat_id,
    parse_fleet,
    parse_index,
    parse_number,
    parse_price,
)

# What str.isdigit() accepts and int() or a user does not mean: superscripts, circled, other scripts.
NOT_ASCII_DIGITS = ["²", "①", "٣", "３", "১", "⁹", "𝟙", "1²", "٣1"]


@pytest.mark.parametrize("text", [*NOT_ASCII_DIGITS, "", "0", "-1", "+1", "1.0", "1e3", "1_0", " ", "nan"])
def test_parse_index_refuses_what_is_not_a_plain_positive_number(text: str) -> None:
    assert parse_index(text) is None


@given(st.integers(min_value=1, max_value=1_000_000))
def test_parse_index_reads_every_plain_number(n: int) -> None:
    assert parse_index(str(n)) == n
    assert parse_index(f" {n} ") == n


@given(st.text(max_size=12))
@example("²")
@example("①")
@example("9" * 5000)
def test_parse_index_never_raises_and_only_returns_ascii_numbers(text: str) -> None:
    got = parse_index(text)
    if got is not None:
        assert text.strip().isascii() and int(text.strip()) == got and got >= 1


@given(st.text(max_size=20))
@example("٣")
@example("inf")
@example("1_000")
def test_parse_number_and_price_never_raise(text: str) -> None:
    n = parse_number(text)
    assert n is None or (text.strip().isascii() and n >= 0)
    p = parse_price(text)
    assert p is None or (p[0] >= 0 and all(c.isascii() or c == "¢" for c in text.strip()))


def test_parse_chat_id() -> None:
    assert parse_chat_id("-1001234567890") == -1001234567890
    assert parse_chat_id("4242") == 4242
    assert parse_chat_id("@channel") is None
    assert parse_chat_id("-²") is None and parse_chat_id("-①") is None


@pytest.mark.parametrize(
    ("text", "usd_per_kwh", "unit"),
    [
        ("0.045", 0.045, False),
        ("$0.045", 0.045, False),
        ("0.045/kWh", 0.045, True),
        ("$0.045/kWh", 0.045, True),
        ("45/MWh", 0.045, True),
        ("$45/MWh", 0.045, True),
        ("45$/MWh", 0.045, True),
        ("45USD/MWh", 0.045, True),
        ("4.5c", 0.045, True),
        ("4.5¢", 0.045, True),
        ("4.5c/kWh", 0.045, True),
        ("45", 45.0, False),
    ],
)
def test_parse_price_units(text: str, usd_per_kwh: float, unit: bool) -> None:
    got = parse_price(text)
    assert got is not None
    assert got[0] == pytest.approx(usd_per_kwh) and got[1] is unit


@pytest.mark.parametrize("text", ["45/GWh", "$4.5c", "$45$/MWh", "forty", "4,5", "-0.04", "nan", "٠.٠٤٥"])
def test_parse_price_refuses(text: str) -> None:
    assert parse_price(text) is None


@given(st.decimals(min_value="0.001", max_value="1", places=4))
def test_the_three_spellings_of_one_price_agree(price) -> None:  # type: ignore[no-untyped-def]
    usd = float(price)
    kwh = parse_fleet(["18", f"{price}"])
    mwh = parse_fleet(["18", f"{price * 1000}/MWh"])
    cents = parse_fleet(["18", f"{price * 100}c"])
    for got in (kwh, mwh, cents):
        assert got.power_usd_per_kwh == pytest.approx(usd, rel=1e-9)


def test_fleet_18_45_is_a_question_not_45_dollars_a_kwh() -> None:
    """A Texas miner types $/MWh: asked, never stored as $45/kWh (margin -18,979% and an instant alert)."""
    with pytest.raises(FleetQuestion) as err:
        parse_fleet(["18", "45"])
    assert "$45/MWh ($0.045/kWh)" in err.value.problem
    assert err.value.suggestions == ("18 45/MWh",)  # 45 cents/kWh is no one's power price
    with pytest.raises(FleetQuestion) as err:
        parse_fleet(["18", "4.5"])  # this one may be cents
    assert err.value.suggestions == ("18 4.5/MWh", "18 4.5c")
    assert parse_fleet(["18", "45/MWh"]) == FleetInput(18.0, 0.045)
    assert parse_fleet(["18", "$45/MWh"]) == FleetInput(18.0, 0.045)
    assert parse_fleet(["18", "4.5c"]).power_usd_per_kwh == pytest.approx(0.045)


@pytest.mark.parametrize(
    ("args", "says", "suggests"),
    [
        (["18", "450"], "$450/MWh", "18 450/MWh"),  # no cents reading of 450 c
        (["18", "2000/MWh"], "$2/kWh", None),  # a unit was written: check it, nothing to guess
        (["0.045", "18"], "swap", "18 0.045"),
        (["0.018", "0.045"], "J/GH", "18 0.045"),
        (["3250", "0.045"], "power draw", None),
        (["2", "0.045"], "outside", None),
        (["18", "0.045", "hosting", "10"], "hosting", "18 0.045 hosting 10/MWh"),
    ],
)
def test_implausible_fleets_are_questions(args: list[str], says: str, suggests: str | None) -> None:
    with pytest.raises(FleetQuestion) as err:
        parse_fleet(args)
    assert says in err.value.problem
    if suggests is not None:
        assert suggests in err.value.suggestions
    for suggestion in err.value.suggestions:  # every suggestion is itself accepted
        assert isinstance(parse_fleet(suggestion.split()), FleetInput)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["18"],
        ["eighteen", "0.045"],
        ["18", "cheap"],
        ["18", "0.045", "hub"],
        ["18", "0.045", "hub", "HB_MARS"],
    ],
)
def test_fleet_input_errors(args: list[str]) -> None:
    with pytest.raises(FleetInputError) as err:
        parse_fleet(args)
    assert not isinstance(err.value, FleetQuestion)


def test_fleet_with_hosting_and_hub() -> None:
    got = parse_fleet(["18", "0.045", "hosting", "1c", "hub", "hb_west"])
    assert got == FleetInput(18.0, 0.045, pytest.approx(0.01), "HB_WEST")  # type: ignore[arg-type]


@given(
    st.lists(
        st.one_of(
            st.text(max_size=8), st.sampled_from(["hosting", "hub", "18", "0.045", "45", "²", "HB_WEST"])
        ),
        max_size=6,
    )
)
def test_parse_fleet_only_raises_fleet_input_errors_and_accepts_only_plausible_fleets(
    args: list[str],
) -> None:
    try:
        got = parse_fleet(args)
    except FleetInputError:
        return
    assert 5 <= got.efficiency_j_per_th <= 150
    assert 0 <= got.power_usd_per_kwh <= 1 and 0 <= got.hosting_usd_per_kwh <= 1
