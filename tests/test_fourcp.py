"""The 4CP logic (rules/fourcp.py) over a whole synthetic summer month.

The load series is synthetic (no recorded ERCOT month is in ../shared/samples): every day has the
same smooth shape, lowest at 05:00 and highest at 17:00 Central Prevailing Time, scaled to the
day's peak from the table below; ERCOT's forecast for the rest of the day has the same shape,
scaled to the day's forecast peak. The month is polled every 15 minutes as the watcher would.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.fourcp import (
    CPT,
    FourCpConfig,
    LoadPoint,
    hour_ending,
    interval_label,
    quarters,
    status,
    step,
)

CFG = FourCpConfig()
JULY = [date(2026, 7, d) for d in range(1, 32)]
LOW_SHARE = 0.62  # night load as a share of the day's peak

# Daily peaks (MW): weekdays 76,000, weekends 73,000, except the days the test is about.
PEAKS: dict[date, float] = {d: 73_000.0 if d.weekday() >= 5 else 76_000.0 for d in JULY}
PEAKS[date(2026, 7, 7)] = 81_000.0  # Tue: first clear peak of the month
PEAKS[date(2026, 7, 14)] = 80_000.0  # Tue: close (1.2% under), forecast right, no new peak
PEAKS[date(2026, 7, 21)] = 82_500.0  # Tue: the forecast undershoots (below), a new peak anyway
PEAKS[date(2026, 7, 26)] = 84_000.0  # SUNDAY: the month's peak, on a weekend
FORECAST = dict(PEAKS)
FORECAST[date(2026, 7, 21)] = 79_000.0  # 2.5% under the 81,000 peak: outside the 2% margin
FORECAST[date(2026, 7, 26)] = 83_500.0


def shape(local: datetime) -> float:
    """0 at 05:00, 1 at 17:00 CPT, smooth."""
    hours = local.hour + local.minute / 60
    return (1 + math.cos(2 * math.pi * (hours - 17) / 24)) / 2


def load_at(end: datetime, peaks: dict[date, float]) -> float:
    local = (end - timedelta(minutes=5)).astimezone(CPT)  # the day of the interval's start
    peak = peaks[local.date()]
    return peak * (LOW_SHARE + (1 - LOW_SHARE) * shape(end.astimezone(CPT)))


def day_points(day: date, peaks: dict[date, float]) -> list[LoadPoint]:
    midnight = datetime(day.year, day.month, day.day, tzinfo=CPT).astimezone(UTC)
    ends = [midnight + timedelta(minutes=5 * i) for i in range(1, 24 * 12 + 1)]
    return [LoadPoint(e, load_at(e, peaks)) for e in ends]


def run_month() -> tuple[list, dict, list]:
    actual_days = {d: day_points(d, PEAKS) for d in JULY}
    forecast_days = {d: day_points(d, FORECAST) for d in JULY}
    start = datetime(2026, 7, 1, 0, 15, tzinfo=CPT).astimezone(UTC)
    end = datetime(2026, 8, 1, 1, 0, tzinfo=CPT).astimezone(UTC)
    state: dict = {}
    events = []
    steps = []
    now = start
    while now <= end:
        today = now.astimezone(CPT).date()
        actual = [p for p in actual_days.get(today, []) if p.end <= now]
        ahead = [p for p in forecast_days.get(today, []) if p.end > now]
        result = step(state, now, actual, ahead, CFG)
        state = result.state
        events += result.events
        steps.append((now, result))
        now += timedelta(minutes=15)
    return events, state, steps


@pytest.fixture(scope="module")
def month():
    return run_month()


def by_day(events) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for e in events:
        out.setdefault(e.data["day"], {})[e.data["stage"]] = dict(e.data)
    return out


def test_one_message_per_day_per_stage_never_a_stream(month):
    events, _, _ = month
    keys = Counter(e.key for e in events)
    assert keys and max(keys.values()) == 1
    per_day = Counter(e.data["day"] for e in events)
    assert max(per_day.values()) <= 3
    assert all(e.kind == "4cp" and e.key == f"4cp:{e.data['day']}:{e.data['stage']}" for e in events)


def test_sunday_peak_is_warned_and_recorded_as_the_new_monthly_peak(month):
    events, _state, _ = month
    sunday = by_day(events)["2026-07-26"]
    assert date(2026, 7, 26).weekday() == 6
    assert set(sunday) == {"forecast", "actual", "result"}
    # the forecast (83,500) is above the month's peak so far (Jul 21's 82,500 peak interval)
    assert sunday["forecast"]["prior_day"] == "2026-07-21"
    assert sunday["forecast"]["pct_below"] < 0
    assert sunday["result"]["new_peak"] is True
    # The peak interval is the one ending at 17:00 CDT (22:00 UTC): its 16:50/16:55/17:00 values
    # are the three highest of the symmetric curve.
    assert sunday["result"]["end"] == "2026-07-26T22:00:00+00:00"
    expected = sum(load_at(datetime(2026, 7, 26, 21, m, tzinfo=UTC), PEAKS) for m in (50, 55)) / 3
    expected += load_at(datetime(2026, 7, 26, 22, 0, tzinfo=UTC), PEAKS) / 3
    assert sunday["result"]["mw"] == pytest.approx(expected)
    july = next(r.state for t, r in reversed(month[2]) if t.astimezone(CPT).month == 7)
    peak = max(july["days"].items(), key=lambda kv: kv[1][0])
    assert peak[0] == "2026-07-26" and peak[1][0] == pytest.approx(expected)


def test_forecast_that_undershoots_is_caught_by_actual_load(month):
    events, _, _ = month
    day = by_day(events)["2026-07-21"]
    assert "forecast" not in day  # 79,000 is 2.5% under the 81,000-class peak: no forecast warning
    actual = day["actual"]
    local_end = datetime.fromisoformat(actual["end"]).astimezone(CPT)
    assert time(13) < local_end.time() <= time(20)
    assert 0 <= actual["pct_below"] <= 2.0 and actual["new_peak"] is False  # warned on the way up
    assert actual["prior_day"] == "2026-07-07"
    assert day["result"]["new_peak"] is True and day["result"]["warned"] is True


def test_close_day_warns_but_sets_no_new_peak(month):
    events, _, _ = month
    day = by_day(events)["2026-07-14"]
    assert set(day) == {"forecast", "actual", "result"}
    assert 0 < day["forecast"]["pct_below"] <= 2.0
    assert day["result"]["new_peak"] is False and day["result"]["prior_day"] == "2026-07-07"


def test_ordinary_days_after_a_clear_peak_are_silent(month):
    events, _, _ = month
    days = by_day(events)
    quiet = [d.isoformat() for d in JULY if d.day > 7 and d.day not in (14, 21, 26)]
    assert not [d for d in quiet if d in days]


def test_first_day_has_nothing_to_compare_and_early_days_warn(month):
    events, _, _ = month
    days = by_day(events)
    assert "2026-07-01" not in days  # no earlier peak this month: nothing to be "within" of
    assert "forecast" in days["2026-07-02"]  # 76,000 again: at the month's peak


def test_forecast_warning_comes_before_the_peak_and_results_after_the_window(month):
    _, _, steps = month
    for now, result in steps:
        for e in result.events:
            end = datetime.fromisoformat(e.data["end"])
            if e.data["stage"] == "forecast":
                assert now < end
            if e.data["stage"] == "result":
                assert now.astimezone(CPT).time() >= time(20) or now.astimezone(CPT).date() > end.date()


def test_month_rollover_starts_afresh():
    _, state, steps = run_month_tail()
    assert state["month"] == "2026-08" and all(d.startswith("2026-08") for d in state["days"])
    assert steps[-1][1].month_peak is None or steps[-1][1].month_peak.day.month == 8


def run_month_tail():
    # the last two days of July and the first hour of August, on their own
    state: dict = {}
    steps = []
    now = datetime(2026, 7, 30, 0, 15, tzinfo=CPT).astimezone(UTC)
    events = []
    while now <= datetime(2026, 8, 1, 0, 30, tzinfo=CPT).astimezone(UTC):
        today = now.astimezone(CPT).date()
        pts = day_points(today, {**PEAKS, date(2026, 8, 1): 76_000.0})
        r = step(state, now, [p for p in pts if p.end <= now], [p for p in pts if p.end > now], CFG)
        state, events, steps = r.state, events + r.events, [*steps, (now, r)]
        now += timedelta(minutes=15)
    return events, state, steps


def test_out_of_season_keeps_peaks_but_never_warns():
    state: dict = {}
    peaks = {date(2026, 5, d): 70_000.0 for d in range(1, 4)}
    events = []
    for d in peaks:
        for hour in range(1, 24):
            now = datetime(d.year, d.month, d.day, hour, tzinfo=CPT).astimezone(UTC)
            pts = day_points(d, peaks)
            r = step(state, now, [p for p in pts if p.end <= now], [p for p in pts if p.end > now], CFG)
            state, events = r.state, events + r.events
            assert r.in_season is False
    assert events == [] and len(state["days"]) == 3


def test_status_reads_the_state(month):
    _, _state, steps = month
    now = datetime(2026, 7, 31, 12, 0, tzinfo=CPT).astimezone(UTC)
    # the state of noon on Jul 31
    st_state = next(r.state for t, r in steps if t == now)
    s = status(st_state, now, CFG)
    assert s["in_season"] and s["peaks"][0].day == date(2026, 7, 26)
    assert [p.day.day for p in s["peaks"][:3]] == [26, 21, 7]
    assert s["forecast"] is not None and s["forecast_pct_below"] > 2  # an ordinary Friday
    assert s["observed_since"] == date(2026, 7, 1)


def test_quarters_need_all_three_values():
    base = datetime(2026, 7, 7, 21, 0, tzinfo=UTC)
    pts = [LoadPoint(base + timedelta(minutes=5 * i), 80_000 + i) for i in range(1, 6)]
    q = quarters(pts)
    assert q == {base + timedelta(minutes=15): pytest.approx(80_002.0)}  # :20 lacks its :30 value


def test_times_are_shown_in_the_chat_zone_and_labelled_in_cpt():
    end = datetime(2026, 7, 26, 22, 0, tzinfo=UTC)  # 17:00 CDT
    q = timedelta(minutes=15)
    assert interval_label(end, q, ZoneInfo("America/Chicago")) == "16:45–17:00 CDT (HE 17 CPT)"
    assert interval_label(end, q, ZoneInfo("Europe/Berlin")) == "23:45–00:00 CEST (HE 17 CPT, 16:45–17:00)"
    assert interval_label(end, q, UTC) == "21:45–22:00 UTC (HE 17 CPT, 16:45–17:00)"
    # winter: CST is UTC-6; the hour ending 24 ends at midnight
    assert hour_ending(datetime(2026, 1, 16, 6, 0, tzinfo=UTC)) == 24
    assert hour_ending(datetime(2026, 1, 15, 23, 0, tzinfo=UTC)) == 17


def test_config_is_checked():
    with pytest.raises(ValueError):
        FourCpConfig(months=(13,))
    with pytest.raises(ValueError):
        FourCpConfig(window_start=time(20), window_end=time(13))


def test_4cp_rule_and_load_metrics_in_the_grammar():
    from rules.events import match_event
    from rules.grammar import RuleError, format_rule, parse_rule
    from rules.model import EventRule, ThresholdRule

    rule = parse_rule("/alert !4cp")
    assert rule == EventRule("4cp", severe=True) and format_rule(rule) == "!4cp"
    assert parse_rule(format_rule(rule)) == rule
    assert match_event(rule, "4cp", {"stage": "forecast"}) and not match_event(rule, "retarget", {})
    with pytest.raises(RuleError):
        parse_rule("4cp tomorrow")
    load = parse_rule("ercot.load > 80k")
    assert (
        isinstance(load, ThresholdRule) and load.value == 80_000 and format_rule(load) == "ercot.load > 80000"
    )
    assert parse_rule("ercot.load.month_peak >= 85000 MW").value == 85_000
    with pytest.raises(RuleError, match="MW"):
        parse_rule("ercot.load > 3%")
