"""Alert state machine: ok -> pending -> firing -> resolved, hysteresis, repeat, no data, change rules.

Each case is a sequence of (minutes after T0, value) fed through evaluate() with the state carried
over, and the reasons expected at each step. Every step also checks that notify is True exactly for
FIRING, REPEAT, NO_DATA and a threshold rule's RESOLVED."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from rules.evaluate import DEFAULTS, change_pct, effective_threshold_rule, evaluate, hysteresis_band
from rules.model import AlertState, ChangeRule, Decision, EventRule, Op, Reason, Status, ThresholdRule

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NOTIFYING = {Reason.FIRING, Reason.REPEAT, Reason.NO_DATA}

NC, PEND, CLR, FIRE, STILL, REP, RES, NODATA = (
    Reason.NO_CHANGE,
    Reason.PENDING,
    Reason.PENDING_CLEARED,
    Reason.FIRING,
    Reason.STILL_FIRING,
    Reason.REPEAT,
    Reason.RESOLVED,
    Reason.NO_DATA,
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(rule, steps, state=None, **kwargs) -> tuple[list[Reason], AlertState]:
    state = state or AlertState()
    reasons = []
    for minute, value in steps:
        decision = evaluate(rule, state, value, at(minute), **kwargs)
        assert isinstance(decision, Decision)
        expected_notify = decision.reason in NOTIFYING or (
            decision.reason is Reason.RESOLVED and not isinstance(rule, ChangeRule)
        )
        assert decision.notify is expected_notify, decision
        reasons.append(decision.reason)
        state = decision.state
    return reasons, state


above3 = ThresholdRule("difficulty.next_change", Op.GT, 3.0)
price_below = ThresholdRule("price", Op.LT, 50_000.0)  # band 500 USD
price_above_100 = ThresholdRule("hashprice", Op.GT, 100.0)  # band 1.0
ge_100 = ThresholdRule("hashprice", Op.GE, 100.0)
negative_power = ThresholdRule("power.lz_west", Op.LT, 0.0)  # threshold 0 -> 1 USD/MWh band

THRESHOLD_CASES = [
    ("ok-stays-ok", above3, [(0, 1.0), (5, 2.9)], [NC, NC]),
    ("fires-at-once-without-for", above3, [(0, 3.5)], [FIRE]),
    ("equal-is-not-above", above3, [(0, 3.0)], [NC]),
    ("ge-fires-on-equal", ge_100, [(0, 100.0)], [FIRE]),
    ("still-firing-never-repeats-by-default", above3, [(0, 4), (60, 5), (600, 5)], [FIRE, STILL, STILL]),
    ("resolves-past-band", price_above_100, [(0, 101), (1, 98.9)], [FIRE, RES]),
    (
        "wobble-inside-band-does-not-flap",
        price_above_100,
        [(0, 101), (1, 99.5), (2, 100.5), (3, 99.1), (4, 100.2), (5, 99.0)],
        [FIRE, STILL, STILL, STILL, STILL, RES],
    ),
    (
        "below-rule-resolves-above-band",
        price_below,
        [(0, 49_000), (1, 50_400), (2, 50_600)],
        [FIRE, STILL, RES],
    ),
    (
        "refires-after-resolve",
        price_below,
        [(0, 49_000), (1, 51_000), (2, 49_500)],
        [FIRE, RES, FIRE],
    ),
    (
        "margin-0-resolves-as-soon-as-false",
        ThresholdRule("hashprice", Op.GT, 100.0, margin_pct=0.0),
        [(0, 101), (1, 100.0)],
        [FIRE, RES],
    ),
    (
        "explicit-margin-5pct",
        ThresholdRule("hashprice", Op.GT, 100.0, margin_pct=5.0),
        [(0, 101), (1, 96), (2, 95.0)],
        [FIRE, STILL, RES],
    ),
    (
        "zero-threshold-uses-unit-band",
        negative_power,
        [(0, -5), (1, 0.5), (2, 0.99), (3, 1.0)],
        [FIRE, STILL, STILL, RES],
    ),
    (
        "pending-then-firing-after-for",
        ThresholdRule("hashprice", Op.LT, 45.0, for_s=600),
        [(0, 44), (5, 44), (9.9, 43), (10, 44)],
        [PEND, PEND, PEND, FIRE],
    ),
    (
        "pending-cleared-restarts-the-clock",
        ThresholdRule("hashprice", Op.LT, 45.0, for_s=600),
        [(0, 44), (5, 46), (10, 44), (19, 44), (20, 44)],
        [PEND, CLR, PEND, PEND, FIRE],
    ),
    (
        "pending-does-not-use-hysteresis",
        ThresholdRule("hashprice", Op.LT, 45.0, for_s=600),
        [(0, 44), (5, 45.1)],
        [PEND, CLR],
    ),
    (
        "repeat-every-hour-while-firing",
        ThresholdRule("difficulty.next_change", Op.GT, 3.0, every_s=3600),
        [(0, 4), (30, 4), (60, 4), (90, 4), (120, 4), (121, 1)],
        [FIRE, STILL, REP, STILL, REP, RES],
    ),
    (
        "repeat-counts-from-last-notice",
        ThresholdRule("difficulty.next_change", Op.GT, 3.0, every_s=3600),
        [(0, 4), (59, 4), (61, 4), (119, 4), (121, 4)],
        [FIRE, STILL, REP, STILL, REP],
    ),
    (
        "severe-changes-nothing-here",
        ThresholdRule("price", Op.LT, 50_000.0, severe=True),
        [(0, 40_000), (1, 60_000)],
        [FIRE, RES],
    ),
]


@pytest.mark.parametrize(
    ("rule", "steps", "expected"), [c[1:] for c in THRESHOLD_CASES], ids=[c[0] for c in THRESHOLD_CASES]
)
def test_threshold_transitions(rule, steps, expected):
    reasons, _ = run(rule, steps)
    assert reasons == expected


def test_state_fields_follow_transitions():
    rule = ThresholdRule("hashprice", Op.LT, 45.0, for_s=600)
    d1 = evaluate(rule, AlertState(), 44.0, at(0))
    assert d1.state == AlertState(Status.PENDING, since=at(0))
    d2 = evaluate(rule, d1.state, 43.0, at(10))
    assert d2.state == AlertState(Status.FIRING, since=at(10), last_notified=at(10))
    d3 = evaluate(rule, d2.state, 50.0, at(30))
    assert d3.state == AlertState(Status.OK, since=at(30), last_notified=at(30))


def test_a_moving_value_changes_no_state():
    # The value history lives in observations: a state is rewritten only on a real transition,
    # so 100,000 rules whose value moves write nothing.
    rule = ThresholdRule("hashprice", Op.LT, 45.0)
    ok = AlertState()
    assert evaluate(rule, ok, 50.0, at(0)).state is ok
    assert evaluate(rule, ok, 51.3, at(1)).state is ok
    firing = evaluate(rule, ok, 44.0, at(2)).state
    assert evaluate(rule, firing, 43.0, at(3)).state is firing
    change = ChangeRule("hashprice", "rises", 5.0, 3600)
    assert evaluate(change, ok, 50.0, at(4), reference=49.9).state is ok
    assert evaluate(change, ok, 50.0, at(4)).state is ok  # no history yet: held as it is


def test_a_stored_last_value_is_dropped_once():
    # States written by older versions carry last_value; the next evaluation drops it.
    rule = ThresholdRule("hashprice", Op.LT, 45.0)
    old = AlertState(Status.OK, since=at(0), last_value=50.0)
    assert evaluate(rule, old, 51.0, at(1)).state == AlertState(Status.OK, since=at(0))


@pytest.mark.parametrize(
    ("rule", "band"),
    [
        (ThresholdRule("price", Op.LT, 50_000.0), 500.0),
        (ThresholdRule("difficulty.next_change", Op.LT, -3.0), 0.03),
        (ThresholdRule("price", Op.LT, 50_000.0, margin_pct=2.0), 1000.0),
        (ThresholdRule("power.hb_west", Op.GT, 0.0), 1.0),
        (ThresholdRule("difficulty.next_change", Op.GT, 0.0), 0.1),
        (ThresholdRule("difficulty.next_change", Op.GT, 0.0, margin_pct=0.0), 0.0),
        (ThresholdRule("curtail.margin", Op.GT, 0.0, margin_pct=2.0), 2.0),
    ],
    ids=["1pct", "negative-threshold", "explicit-2pct", "zero-usd-mwh", "zero-percent", "off", "zero-scaled"],
)
def test_hysteresis_band(rule, band):
    assert hysteresis_band(rule) == pytest.approx(band)


# --- no data -------------------------------------------------------------------------------------


def test_no_value_without_staleness_changes_nothing():
    state = AlertState(Status.FIRING, since=at(0), last_notified=at(0), last_value=4.0)
    decision = evaluate(above3, state, None, at(10))
    assert decision == Decision(Reason.NO_CHANGE, state, False)


NODATA_CASES = [
    ("fresh-enough", above3, AlertState(), 10, NC),
    ("stale-past-default", above3, AlertState(), 30, NODATA),
    (
        "rule-for-longer-than-default",
        ThresholdRule("hashprice", Op.LT, 45.0, for_s=7200),
        AlertState(),
        60,
        NC,
    ),
    ("rule-for-elapsed", ThresholdRule("hashprice", Op.LT, 45.0, for_s=7200), AlertState(), 120, NODATA),
    ("already-notified", above3, AlertState(nodata_notified=True), 300, NC),
    (
        "firing-never-resolves",
        above3,
        AlertState(Status.FIRING, since=at(-60), last_notified=at(-60)),
        45,
        NODATA,
    ),
]


@pytest.mark.parametrize(
    ("rule", "state", "stale_minutes", "reason"),
    [c[1:] for c in NODATA_CASES],
    ids=[c[0] for c in NODATA_CASES],
)
def test_no_data(rule, state, stale_minutes, reason):
    now = at(500)
    decision = evaluate(rule, state, None, now, stale_since=now - timedelta(minutes=stale_minutes))
    assert decision.reason is reason
    assert decision.notify is (reason is NODATA)
    assert decision.state.status is state.status  # no data never resolves or fires
    if reason is NODATA:
        assert decision.state.nodata_notified


def test_no_data_sent_once_then_cleared_when_data_returns():
    state = AlertState(Status.FIRING, since=at(0), last_notified=at(0), last_value=4.0)
    stale = at(1)
    d1 = evaluate(above3, state, None, at(40), stale_since=stale)
    d2 = evaluate(above3, d1.state, None, at(80), stale_since=stale)
    d3 = evaluate(above3, d2.state, 4.5, at(90))
    assert [d1.reason, d2.reason, d3.reason] == [NODATA, NC, STILL]
    assert [d1.notify, d2.notify, d3.notify] == [True, False, False]
    assert d3.state.nodata_notified is False and d3.state.status is Status.FIRING
    # and a later outage is announced again
    d4 = evaluate(above3, d3.state, None, at(200), stale_since=at(100))
    assert d4.reason is NODATA


def test_custom_nodata_after():
    decision = evaluate(above3, AlertState(), None, at(10), stale_since=at(0), nodata_after_s=300)
    assert decision.reason is NODATA


def test_nan_counts_as_missing():
    decision = evaluate(above3, AlertState(), float("nan"), at(60), stale_since=at(0))
    assert decision.reason is NODATA


# --- change rules --------------------------------------------------------------------------------

rises5 = ChangeRule("price", "rises", 5.0, 3600)
drops10 = ChangeRule("hashprice", "drops", 10.0, 86_400)

# (id, rule, [(minute, value, reference)], expected reasons)
CHANGE_CASES = [
    ("rise-below-pct", rises5, [(0, 104.9, 100)], [NC]),
    ("rise-fires", rises5, [(0, 105, 100)], [FIRE]),
    (
        "rise-rearms-under-half",
        rises5,
        [(0, 106, 100), (5, 103, 100), (10, 102.4, 100), (15, 105, 100)],
        [FIRE, STILL, RES, FIRE],
    ),
    ("drop-fires", drops10, [(0, 89, 100)], [FIRE]),
    ("drop-ignores-rise", drops10, [(0, 120, 100)], [NC]),
    ("rise-ignores-drop", rises5, [(0, 80, 100)], [NC]),
    ("drop-resolves-silently", drops10, [(0, 85, 100), (60, 97, 100)], [FIRE, RES]),
    ("no-reference-yet", rises5, [(0, 200, None)], [NC]),
    ("zero-reference", rises5, [(0, 5, 0.0)], [NC]),
    ("negative-reference-rises", ChangeRule("power.hb_west", "rises", 50.0, 3600), [(0, -10, -20)], [FIRE]),
    ("negative-reference-drops", ChangeRule("power.hb_west", "drops", 50.0, 3600), [(0, -30, -20)], [FIRE]),
    (
        "change-repeat",
        ChangeRule("price", "rises", 5.0, 3600, every_s=1800),
        [(0, 110, 100), (20, 110, 100), (30, 110, 100)],
        [FIRE, STILL, REP],
    ),
]


@pytest.mark.parametrize(
    ("rule", "steps", "expected"), [c[1:] for c in CHANGE_CASES], ids=[c[0] for c in CHANGE_CASES]
)
def test_change_rules(rule, steps, expected):
    state = AlertState()
    reasons = []
    for minute, value, reference in steps:
        decision = evaluate(rule, state, value, at(minute), reference=reference)
        assert decision.notify is (decision.reason in NOTIFYING)  # change rules resolve silently
        reasons.append(decision.reason)
        state = decision.state
    assert reasons == expected


@pytest.mark.parametrize(
    ("value", "reference", "pct"),
    [(105, 100, 5.0), (90, 100, -10.0), (-10, -20, 50.0), (5, 0, None)],
    ids=["up", "down", "negative-reference", "zero-reference"],
)
def test_change_pct(value, reference, pct):
    assert change_pct(value, reference) == (pytest.approx(pct) if pct is not None else None)


def test_change_rule_defaults_are_documented_values():
    assert DEFAULTS.change_rearm_fraction == 0.5
    assert DEFAULTS.send_resolved_change is False
    assert DEFAULTS.margin_pct == 1.0


# --- curtail and misc ----------------------------------------------------------------------------


def test_curtail_is_curtail_margin_above_zero():
    assert effective_threshold_rule(EventRule("curtail", severe=True)) == ThresholdRule(
        "curtail.margin", Op.GT, 0.0, severe=True
    )
    assert effective_threshold_rule(EventRule("retarget")) is None


def test_curtail_rule_evaluates_as_its_threshold():
    # power above breakeven by 12 USD/MWh: stop mining; back 0.5 under: still curtailed; 2 under: mine again
    reasons, _ = run(EventRule("curtail"), [(0, 12.0), (15, -0.5), (30, -2.0)])
    assert reasons == [FIRE, STILL, RES]


def test_other_event_rules_are_not_evaluated():
    with pytest.raises(TypeError):
        evaluate(EventRule("retarget"), AlertState(), 1.0, T0)


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="aware"):
        evaluate(above3, AlertState(), 1.0, datetime(2026, 1, 1))


STATES = [
    AlertState(),
    AlertState(Status.PENDING, since=T0, last_value=-3.5),
    AlertState(Status.FIRING, since=T0, last_notified=at(5), last_value=1e20, nodata_notified=True),
]


@pytest.mark.parametrize("state", STATES, ids=["initial", "pending", "firing"])
def test_alert_state_json_round_trip(state):
    assert AlertState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


@pytest.mark.parametrize("raw", [None, {}], ids=["none", "empty"])
def test_alert_state_from_nothing_is_initial(raw):
    assert AlertState.from_dict(raw) == AlertState()


def test_alert_state_naive_time_read_as_utc():
    state = AlertState.from_dict({"status": "firing", "since": "2026-11-24T12:00:00", "extra": 1})
    assert state.since == T0 and state.status is Status.FIRING
