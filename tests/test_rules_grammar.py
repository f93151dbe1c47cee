"""The /alert rule language: what parses to what, the errors users see, and the round trip storage
relies on (parse_rule(format_rule(rule)) == rule)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.catalogue import CATALOGUE
from rules.events import ALL_KINDS
from rules.grammar import (
    MAX_DURATION_S,
    MIN_REPEAT_S,
    RuleError,
    example_for,
    format_number,
    format_rule,
    parse_rule,
)
from rules.model import ChangeRule, EventRule, Op, ThresholdRule

GT, GE, LT, LE = Op.GT, Op.GE, Op.LT, Op.LE

VALID = [
    ("percent", "difficulty.next_change > 3%", ThresholdRule("difficulty.next_change", GT, 3.0)),
    (
        "percent-sugar-optional",
        "difficulty.next_change > 3",
        ThresholdRule("difficulty.next_change", GT, 3.0),
    ),
    ("percent-word", "difficulty.next_change > 3 percent", ThresholdRule("difficulty.next_change", GT, 3.0)),
    ("no-spaces", "difficulty.next_change>3%", ThresholdRule("difficulty.next_change", GT, 3.0)),
    ("negative-percent", "difficulty.next_change < -3%", ThresholdRule("difficulty.next_change", LT, -3.0)),
    ("le", "difficulty.next_change <= -3", ThresholdRule("difficulty.next_change", LE, -3.0)),
    ("ge-unicode", "hashprice ≥ 50", ThresholdRule("hashprice", GE, 50.0)),
    ("difficulty-in-T", "difficulty > 120T", ThresholdRule("difficulty", GT, 120.0)),
    ("difficulty-plain", "difficulty > 120", ThresholdRule("difficulty", GT, 120.0)),
    ("hashrate-EH/s", "hashrate > 800EH/s", ThresholdRule("hashrate", GT, 800.0)),
    ("hashrate-unit-apart", "hashrate > 800 EH/s", ThresholdRule("hashrate", GT, 800.0)),
    ("price-dollar-k", "price > $100k", ThresholdRule("price", GT, 100_000.0)),
    ("price-k", "price > 100k", ThresholdRule("price", GT, 100_000.0)),
    ("price-commas", "price < 1,000,000", ThresholdRule("price", LT, 1_000_000.0)),
    ("price-M", "price > 1.5M", ThresholdRule("price", GT, 1_500_000.0)),
    ("word-above", "price above 90k", ThresholdRule("price", GT, 90_000.0)),
    ("word-below", "hashprice below 45", ThresholdRule("hashprice", LT, 45.0)),
    ("negative-power", "power.lz_west < 0", ThresholdRule("power.lz_west", LT, 0.0)),
    ("negative-power-dollar", "power.lz_west < -$20/MWh", ThresholdRule("power.lz_west", LT, -20.0)),
    ("power-avg24h", "power.hb_west.avg24h > 60", ThresholdRule("power.hb_west.avg24h", GT, 60.0)),
    ("power-upper-case", "POWER.HB_WEST.MAX24H > 1k", ThresholdRule("power.hb_west.max24h", GT, 1000.0)),
    ("hashprice-full-unit", "hashprice < 45 USD/PH/day", ThresholdRule("hashprice", LT, 45.0)),
    ("btc-unit", "fees > 0.1 BTC", ThresholdRule("fees", GT, 0.1)),
    ("blocks", "difficulty.blocks_left < 144 blocks", ThresholdRule("difficulty.blocks_left", LT, 144.0)),
    ("alias-diff", "diff > 150T", ThresholdRule("difficulty", GT, 150.0)),
    ("leading-if", "if price < 50k", ThresholdRule("price", LT, 50_000.0)),
    ("command-prefix", "/alert price < 50k", ThresholdRule("price", LT, 50_000.0)),
    (
        "command-with-bot",
        "/alert@minerwatch_bot !price < 50k",
        ThresholdRule("price", LT, 50_000.0, severe=True),
    ),
    ("for", "hashprice < 45 for 30m", ThresholdRule("hashprice", LT, 45.0, for_s=1800)),
    ("for-spaced", "hashprice < 45 for 30 min", ThresholdRule("hashprice", LT, 45.0, for_s=1800)),
    ("every", "price < 50k every 4h", ThresholdRule("price", LT, 50_000.0, every_s=14_400)),
    ("margin", "price < 50k margin 2%", ThresholdRule("price", LT, 50_000.0, margin_pct=2.0)),
    ("margin-zero", "price < 50k margin 0%", ThresholdRule("price", LT, 50_000.0, margin_pct=0.0)),
    (
        "all-clauses-any-order",
        "hashprice < 45 margin 2% every 4h for 1h",
        ThresholdRule("hashprice", LT, 45.0, for_s=3600, every_s=14_400, margin_pct=2.0),
    ),
    ("severe", "!price < 50k", ThresholdRule("price", LT, 50_000.0, severe=True)),
    ("severe-spaced", "! price < 50k", ThresholdRule("price", LT, 50_000.0, severe=True)),
    ("chat-metric", "curtail.margin > 0", ThresholdRule("curtail.margin", GT, 0.0)),
    ("drops", "hashprice drops 10% in 24h", ChangeRule("hashprice", "drops", 10.0, 86_400)),
    ("rises", "price rises 5% in 1h", ChangeRule("price", "rises", 5.0, 3600)),
    ("rises-by-within", "price rises by 5 % within 1h", ChangeRule("price", "rises", 5.0, 3600)),
    (
        "change-percent-word",
        "hashprice drops 10 percent in 1d",
        ChangeRule("hashprice", "drops", 10.0, 86_400),
    ),
    ("falls-alias", "hashrate falls 3% in 2h", ChangeRule("hashrate", "drops", 3.0, 7200)),
    ("change-every", "price rises 5% in 1h every 4h", ChangeRule("price", "rises", 5.0, 3600, 14_400)),
    ("change-severe", "!price drops 8% in 1h", ChangeRule("price", "drops", 8.0, 3600, severe=True)),
    ("retarget", "retarget", EventRule("retarget")),
    ("retarget-severe", "!retarget", EventRule("retarget", severe=True)),
    ("curtail", "curtail", EventRule("curtail")),
    ("digest", "digest 08:00", EventRule("digest", at="08:00")),
    ("digest-short-hour", "digest at 7", EventRule("digest", at="07:00")),
    ("filings-all-financing", "filings", EventRule("filings")),
    ("filings-tickers", "filings MARA riot", EventRule("filings", tickers=("MARA", "RIOT"))),
    (
        "filings-combination",
        "filings MARA RIOT convertible >= 500M",
        EventRule("filings", ("MARA", "RIOT"), ("convertible_notes",), 500_000_000.0),
    ),
    (
        "filings-aliases",
        "filings atm hpc",
        EventRule("filings", kinds=("equity_offering", "hpc_contract")),
    ),
    (
        "filings-notes-expands",
        "filings notes",
        EventRule("filings", kinds=("convertible_notes", "senior_notes", "secured_notes")),
    ),
    ("filings-amount-only", "filings >= $1.5B", EventRule("filings", min_usd=1_500_000_000.0)),
    ("filings-amount-lower-m", "filings over 250m", EventRule("filings", min_usd=250_000_000.0)),
    ("filings-cashtag-ticker", "filings $AI", EventRule("filings", tickers=("AI",))),
    ("filings-dedupe", "filings MARA mara equity atm", EventRule("filings", ("MARA",), ("equity_offering",))),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
def test_parse_valid(text, expected):
    assert parse_rule(text) == expected


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_rules_round_trip(text, expected):
    assert parse_rule(format_rule(parse_rule(text))) == expected


CANONICAL = [
    ("percent-keeps-sign", ThresholdRule("difficulty.next_change", LT, -3.0), "difficulty.next_change < -3%"),
    ("T-sugar", ThresholdRule("difficulty", GT, 120.5), "difficulty > 120.5T"),
    ("usd-short", ThresholdRule("price", LT, 50_000.0), "price < 50k"),
    ("usd-odd", ThresholdRule("price", LT, 50_123.0), "price < 50123"),
    (
        "clauses-fixed-order",
        ThresholdRule("hashprice", LT, 45.0, for_s=5400, every_s=86_400, margin_pct=2.5, severe=True),
        "!hashprice < 45 for 90m every 1d margin 2.5%",
    ),
    ("change", ChangeRule("hashprice", "drops", 10.0, 86_400), "hashprice drops 10% in 1d"),
    (
        "filings",
        EventRule("filings", ("MARA",), ("convertible_notes",), 5e8),
        "filings MARA convertible_notes >= 500M",
    ),
    ("filings-keyword-ticker", EventRule("filings", ("ATM", "MIN")), "filings $ATM $MIN"),
    ("digest", EventRule("digest", at="18:30"), "digest 18:30"),
]


@pytest.mark.parametrize(("rule", "text"), [c[1:] for c in CANONICAL], ids=[c[0] for c in CANONICAL])
def test_format_rule_canonical_text(rule, text):
    assert format_rule(rule) == text
    assert parse_rule(text) == rule


# (id, text, words the problem must contain, a suggestion that must be offered or None)
INVALID = [
    ("empty", "", "what to watch", None),
    ("bang-only", "!", "what to watch", None),
    ("unknown-metric", "dificulty > 3", "don't know the metric", "difficulty"),
    ("unknown-metric-part", "next_chang > 3%", "don't know the metric", "difficulty.next_change"),
    ("hashprice-typo", "hashprise < 45", "don't know the metric", "hashprice"),
    ("unknown-power-point", "power.hb_wset > 100", "settlement point", "power.hb_west"),
    ("event-typo", "retarggt", "don't know", "retarget"),
    ("starts-with-op", "> 3%", "Start with the metric", None),
    ("no-condition", "price", "Say when", None),
    ("unknown-op", "price ~ 5", "not an operator", None),
    ("equals", "price = 50k", "never exactly equal", None),
    ("missing-number", "price >", "needs a number", None),
    ("missing-number-before-clause", "price > for 5m", "needs a number", None),
    ("not-a-number", "price > lots", "not a number", None),
    ("unit-mismatch-percent", "price > 3%", "US dollars", None),
    ("unit-mismatch-dollar", "difficulty.next_change > $3", "percent", None),
    ("unit-mismatch-T", "hashrate > 800T", "EH/s", None),
    ("unit-apart-mismatch", "price > 3 %", "US dollars", None),
    ("two-signs", "price > -+5", "two signs", None),
    ("too-large", "price > 1e999", "too large", None),
    ("bad-duration", "price > 5 for 5x", "duration", None),
    ("zero-duration", "price > 5 for 0s", "duration", None),
    ("huge-duration", "price > 5 for 9999999999999999999999999999d", "too long", None),
    ("too-long", "price > 5 every 2y", "too long", None),
    ("repeat-too-often", "price > 5 every 1m", "at least 5m apart", None),
    ("change-repeat-too-often", "price rises 5% in 1h every 30s", "at least 5m apart", None),
    ("duplicate-clause", "price > 5 for 5m for 10m", "twice", None),
    ("junk-after", "price > 5 please", "don't understand", None),
    ("bad-margin", "price > 5 margin lots", "margin", None),
    ("margin-100", "price > 5 margin 150%", "under 100%", None),
    ("time-metric", "difficulty.retarget_eta < 5", "is a time", None),
    ("change-no-window", "price rises 5%", "what time", None),
    ("change-zero", "price rises 0% in 1h", "more than 0%", None),
    ("change-no-pct", "price rises", "how much", None),
    ("change-bad-pct", "price rises lots in 1h", "not a percentage", None),
    ("drop-of-100pct", "price drops 100% in 1h", "cannot drop by 100%", None),
    ("drop-of-123pct", "hashprice drops 123% in 24h", "a drop is less than 100%", None),
    ("change-junk", "price rises 5% in 1h now", "don't understand", None),
    ("change-time-metric", "difficulty.retarget_eta rises 5% in 1h", "is a time", None),
    ("retarget-args", "retarget now", "takes nothing", None),
    ("digest-no-time", "digest", "when to send", None),
    ("digest-bad-time", "digest 25:00", "not a time", None),
    ("digest-two-times", "digest 08:00 20:00", "one time", None),
    ("filings-kind-typo", "filings convertable", "don't understand", "convertible"),
    ("filings-below", "filings < 5M", "minimum amount only", None),
    ("filings-amount-missing", "filings >=", "needs an amount", None),
    ("filings-bad-amount", "filings >= lots", "not an amount", None),
    ("filings-negative", "filings >= -5M", "negative", None),
    ("filings-two-amounts", "filings >= 5M 10M", "once", None),
]


@pytest.mark.parametrize(
    ("text", "words", "suggestion"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_parse_errors_name_the_problem(text, words, suggestion):
    with pytest.raises(RuleError) as info:
        parse_rule(text)
    err = info.value
    assert words.lower() in err.problem.lower()
    if suggestion is not None:
        assert suggestion in err.suggestions
        assert suggestion in str(err)
    # the example in every error is itself a correct command
    assert err.example.startswith("/alert ")
    parse_rule(err.example)
    assert err.problem in str(err) and err.example in str(err)


def test_unknown_metric_example_applies_the_suggestion():
    with pytest.raises(RuleError) as info:
        parse_rule("hashprise < 45 for 30m")
    assert info.value.example == "/alert hashprice < 45 for 30m"


def test_rule_error_is_a_value_error():
    assert issubclass(RuleError, ValueError)


@pytest.mark.parametrize("metric", sorted(CATALOGUE))
def test_every_metric_example_parses(metric):
    rule = parse_rule(example_for(metric))
    if CATALOGUE[metric].unit != "time":
        assert rule.metric == metric


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (-0.5, "-0.5"), (0.1, "0.1"), (1e20, "1e+20"), (1e-05, "1e-05"), (-0.0, "0")],
    ids=["int", "negative", "tenth", "huge", "tiny", "negative-zero"],
)
def test_format_number_is_short_and_exact(value, text):
    assert format_number(value) == text
    assert float(text) == value


# --- property tests ----------------------------------------------------------------------------

VOCAB = [
    "price", "hashprice", "difficulty", "difficulty.next_change", "power.hb_west", "power.lz_west.avg1h",
    "retarget", "filings", "curtail", "digest", "!", ">", ">=", "<", "<=", "=", "above", "below", "rises",
    "drops", "in", "by", "for", "every", "margin", "3", "3%", "-3%", "$100k", "100k", "1.5M", "120T",
    "800EH/s", "1e999", "0", "5m", "24h", "1d", "0s", "08:00", "25:99", "MARA", "atm", "convertible",
    "notes", "$AI", "%", "$", "k", "EH/s", "x", "", "..", "1,000", "-", "+", "nan", "inf", "9" * 400,
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_random_text_raises_only_rule_error(text):
    try:
        rule = parse_rule(text)
    except RuleError:
        return
    assert parse_rule(format_rule(rule)) == rule


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8), st.sampled_from([" ", "", "  "]))
def test_rule_like_text_raises_only_rule_error_and_accepted_rules_round_trip(words, sep):
    text = sep.join(words)
    try:
        rule = parse_rule(text)
    except RuleError as err:
        assert err.problem
        return
    assert parse_rule(format_rule(rule)) == rule


_metrics = st.sampled_from(sorted(m for m, info in CATALOGUE.items() if info.unit != "time"))
_finite = st.floats(allow_nan=False, allow_infinity=False)
_durations = st.integers(min_value=1, max_value=MAX_DURATION_S)
_repeats = st.integers(min_value=MIN_REPEAT_S, max_value=MAX_DURATION_S)  # "every" has a floor
_tickers = st.from_regex(r"[A-Z][A-Z0-9]{0,5}(\.[A-Z])?", fullmatch=True)

threshold_rules = st.builds(
    ThresholdRule,
    metric=_metrics,
    op=st.sampled_from(list(Op)),
    value=_finite,
    for_s=st.one_of(st.just(0), _durations),
    every_s=st.none() | _repeats,
    margin_pct=st.none() | st.floats(min_value=0, max_value=100, exclude_max=True),
    severe=st.booleans(),
)
_change_fields = {
    "metric": _metrics,
    "window_s": _durations,
    "every_s": st.none() | _repeats,
    "severe": st.booleans(),
}
change_rules = st.one_of(
    st.builds(
        ChangeRule,
        direction=st.just("rises"),
        pct=st.floats(min_value=0, exclude_min=True, allow_infinity=False),
        **_change_fields,
    ),
    # a drop is less than 100%: "drops 123%" can never happen and is refused
    st.builds(
        ChangeRule,
        direction=st.just("drops"),
        pct=st.floats(min_value=0, max_value=100, exclude_min=True, exclude_max=True),
        **_change_fields,
    ),
)
event_rules = st.one_of(
    st.builds(EventRule, event=st.sampled_from(["retarget", "curtail"]), severe=st.booleans()),
    st.builds(
        EventRule,
        event=st.just("digest"),
        at=st.builds("{:02d}:{:02d}".format, st.integers(0, 23), st.integers(0, 59)),
        severe=st.booleans(),
    ),
    st.builds(
        EventRule,
        event=st.just("filings"),
        tickers=st.lists(_tickers, unique=True, max_size=4).map(tuple),
        kinds=st.lists(st.sampled_from(ALL_KINDS), unique=True, max_size=4).map(tuple),
        min_usd=st.none() | st.floats(min_value=0, allow_infinity=False),
        severe=st.booleans(),
    ),
)


@settings(max_examples=600, deadline=None)
@given(st.one_of(threshold_rules, change_rules, event_rules))
def test_generated_valid_rules_round_trip(rule):
    assert parse_rule(format_rule(rule)) == rule
