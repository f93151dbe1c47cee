"""The metric catalogue: lookup, suggestions and value formatting."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from rules.catalogue import CATALOGUE, POWER_POINTS, STOCK_TICKERS, format_value, lookup, suggest

REQUIRED = {
    "difficulty": "T",
    "difficulty.next_change": "%",
    "difficulty.progress": "%",
    "difficulty.blocks_left": "blocks",
    "difficulty.retarget_eta": "time",
    "difficulty.last_change": "%",
    "hashrate": "EH/s",
    "price": "USD",
    "fees": "BTC",
    "fee_share": "%",
    "subsidy": "BTC",
    "hashprice": "USD/PH/day",
    "hashprice.btc": "BTC/PH/day",
    "hashprice.next": "USD/PH/day",
    "breakeven": "USD/MWh",
    "margin": "%",
    "profit": "USD/PH/day",
    "curtail.margin": "USD/MWh",
}


@pytest.mark.parametrize(("name", "unit"), sorted(REQUIRED.items()))
def test_required_metrics_and_units(name, unit):
    info = lookup(name)
    assert info is not None and info.unit == unit and info.name == name
    assert info.label and info.description
    assert info.scope == (
        "chat" if name in {"breakeven", "margin", "profit", "curtail.margin"} else "network"
    )


@pytest.mark.parametrize(
    "name",
    [
        "power.hb_west",
        "power.lz_west",
        "power.hb_north.avg1h",
        "power.lz_houston.avg24h",
        "power.hb_pan.max24h",
    ],
)
def test_power_patterns(name):
    info = lookup(name)
    assert info is not None and info.unit == "USD/MWh" and info.scope == "power"


@pytest.mark.parametrize(
    "name", ["power.hb_nowhere", "power.hb_west.avg7d", "power", "power.", "nonsense", ""], ids=repr
)
def test_unknown_names(name):
    assert lookup(name) is None


def test_lookup_is_case_insensitive():
    assert lookup(" Power.HB_West ") == CATALOGUE["power.hb_west"]


def test_every_point_has_four_series():
    from rules.isos import ISO_HUBS  # other grids' hubs: one real-time series each

    ercot = [m for m in CATALOGUE if m.startswith("power.") and m not in ISO_HUBS]
    assert len(ercot) == 4 * len(POWER_POINTS)
    assert all(m in CATALOGUE for m in ISO_HUBS)


@pytest.mark.parametrize(
    ("typo", "expected"),
    [
        ("dificulty", "difficulty"),
        ("hashprise", "hashprice"),
        ("power.hb_wset", "power.hb_west"),
        ("next_change", "difficulty.next_change"),
        ("hashrat", "hashrate"),
    ],
)
def test_suggest(typo, expected):
    suggestions = suggest(typo)
    assert expected in suggestions and len(suggestions) <= 3


def test_suggest_nothing_close():
    assert suggest("zzzzzzzz") == []
    assert suggest("price", limit=0) == []


FORMAT = [
    ("next-change-positive", "difficulty.next_change", 3.1234, "+3.12%"),
    ("next-change-negative", "difficulty.next_change", -2.5, "-2.50%"),
    ("progress-unsigned", "difficulty.progress", 45.25, "45.2%"),
    ("hashprice", "hashprice", 54.211, "$54.21/PH/day"),
    ("price", "price", 97_120.4, "$97,120"),
    ("retarget-eta", "difficulty.retarget_eta", 1_796_047_500, "2026-11-30 14:05 UTC"),
    ("blocks", "difficulty.blocks_left", 1234, "1,234 blocks"),
    ("one-block", "difficulty.blocks_left", 1, "1 block"),
    ("difficulty", "difficulty", 123.454, "123.45 T"),
    ("hashrate", "hashrate", 812.34, "812.3 EH/s"),
    ("power", "power.hb_west", 42.1, "$42.10/MWh"),
    ("negative-power", "power.lz_west", -12.5, "-$12.50/MWh"),
    ("curtail-margin-signed", "curtail.margin", 5.0, "+$5.00/MWh"),
    ("profit-negative", "profit", -3.0, "-$3.00/PH/day"),
    ("subsidy", "subsidy", 3.125, "3.125 BTC"),
    ("fees", "fees", 0.023456, "0.0235 BTC"),
    ("hashprice-btc", "hashprice.btc", 0.00052341, "0.00052341 BTC/PH/day"),
    ("unknown-metric", "whatever", 1.5, "1.5"),
    ("no-negative-zero-percent", "difficulty.next_change", -0.001, "0.00%"),
    ("no-signed-zero-usd", "curtail.margin", -0.001, "$0.00/MWh"),
]


@pytest.mark.parametrize(("metric", "value", "text"), [c[1:] for c in FORMAT], ids=[c[0] for c in FORMAT])
def test_format_value(metric, value, text):
    assert format_value(metric, value) == text


def test_format_time_in_chat_zone():
    assert (
        format_value("difficulty.retarget_eta", 1_796_047_500, ZoneInfo("Europe/Berlin"))
        == "2026-11-30 15:05 CET"
    )


@pytest.mark.parametrize("ticker", STOCK_TICKERS)
def test_stock_family_covers_the_watched_miners(ticker):
    info = lookup(f"Stock.{ticker.upper()}")
    assert info is not None and info.name == f"stock.{ticker}"
    assert info.unit == "USD" and info.scope == "stock" and ticker.upper() in info.label
    assert format_value(info.name, 12.3456) == "$12.35"


def test_unknown_stock_is_not_a_metric_and_is_named():
    from rules.grammar import RuleError, parse_rule

    assert lookup("stock.tsla") is None
    assert sum(1 for m in CATALOGUE if m.startswith("stock.")) == len(STOCK_TICKERS) == 14
    with pytest.raises(RuleError) as err:
        parse_rule("stock.marx > 20")
    assert "MARX" in err.value.problem and err.value.suggestions == ["stock.mara"]
