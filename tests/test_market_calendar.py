"""The US equity market calendar: one test per NYSE holiday rule, early closes, DST, the
"once after the close" poll and session-time arithmetic.

The holiday rules were also compared day by day with python-holidays 0.109's NYSE calendar for
2000-2035 (342 weekday holidays, no difference) in a throwaway virtualenv; that library is not a
dependency (see rules/market_calendar.py for why)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rules import market_calendar as mc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("year", "sunday"),
    [(2000, date(2000, 4, 23)), (2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)),
     (2026, date(2026, 4, 5)), (2038, date(2038, 4, 25)), (2285, date(2285, 3, 22))],
)  # fmt: skip
def test_easter_computus(year, sunday):
    assert mc.easter(year) == sunday


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 1, 1), "New Year's Day"),
        (date(2023, 1, 2), "New Year's Day"),  # 1 Jan 2023 was a Sunday: observed Monday
        (date(2026, 1, 19), "Martin Luther King Jr. Day"),  # 3rd Monday of January
        (date(2026, 2, 16), "Washington's Birthday"),  # 3rd Monday of February
        (date(2026, 4, 3), "Good Friday"),  # Easter 2026-04-05
        (date(2025, 4, 18), "Good Friday"),
        (date(2026, 5, 25), "Memorial Day"),  # last Monday of May
        (date(2022, 6, 20), "Juneteenth National Independence Day"),  # 19 June 2022 was a Sunday
        (date(2027, 6, 18), "Juneteenth National Independence Day"),  # 19 June 2027 is a Saturday
        (date(2026, 7, 3), "Independence Day"),  # 4 July 2026 is a Saturday: Friday before
        (date(2021, 7, 5), "Independence Day"),  # 4 July 2021 was a Sunday: Monday after
        (date(2026, 9, 7), "Labor Day"),  # 1st Monday of September
        (date(2026, 11, 26), "Thanksgiving Day"),  # 4th Thursday of November
        (date(2021, 12, 24), "Christmas Day"),  # 25 Dec 2021 was a Saturday
        (date(2022, 12, 26), "Christmas Day"),  # 25 Dec 2022 was a Sunday
        (date(2025, 1, 9), "National Day of Mourning for President Carter"),
    ],
    ids=lambda v: v.isoformat() if isinstance(v, date) else "",
)
def test_each_holiday_rule(day, name):
    assert mc.holidays(day.year)[day] == name
    assert mc.session(day) is None
    assert not mc.is_trading_day(day)


def test_new_year_on_a_saturday_keeps_31_december_open():
    # 1 Jan 2022 was a Saturday; NYSE Rule 7.2: 31 Dec 2021 (a fiscal year end) traded in full.
    assert date(2021, 12, 31) not in mc.holidays(2021)
    assert "New Year's Day" not in mc.holidays(2022).values()
    s = mc.session(date(2021, 12, 31))
    assert s is not None and not s.early_close and s.close == utc(2021, 12, 31, 21, 0)


def test_juneteenth_only_from_2022():
    assert mc.is_trading_day(date(2021, 6, 18))  # the federal holiday was new; NYSE traded
    assert "Juneteenth National Independence Day" not in mc.holidays(2021).values()


@pytest.mark.parametrize(
    ("day", "close_utc"),
    [
        (date(2026, 11, 27), utc(2026, 11, 27, 18, 0)),  # day after Thanksgiving, EST
        (date(2025, 12, 24), utc(2025, 12, 24, 18, 0)),  # Christmas Eve, a Wednesday
        (date(2025, 7, 3), utc(2025, 7, 3, 17, 0)),  # 3 July, a Thursday, EDT
        (date(2023, 7, 3), utc(2023, 7, 3, 17, 0)),  # 3 July, a Monday
    ],
    ids=lambda v: v.isoformat() if isinstance(v, date) and not isinstance(v, datetime) else "",
)
def test_early_closes_at_1300_new_york(day, close_utc):
    s = mc.session(day)
    assert s is not None and s.early_close and s.close == close_utc
    assert mc.is_open(close_utc - timedelta(minutes=1))
    assert not mc.is_open(close_utc)
    assert not mc.is_open(close_utc + timedelta(hours=2))  # 15:00 ET: a normal day would be open


@pytest.mark.parametrize(
    "day",
    [date(2026, 7, 2), date(2022, 12, 23), date(2023, 12, 22), date(2020, 7, 2)],
    ids=lambda d: d.isoformat(),
)
def test_no_early_close_when_the_eve_is_a_weekend_or_itself_the_holiday(day):
    s = mc.session(day)
    assert s is not None and not s.early_close


def test_across_a_holiday():
    thanksgiving_10am = utc(2026, 11, 26, 15, 0)  # 10:00 EST on Thanksgiving
    assert not mc.is_open(thanksgiving_10am)
    assert mc.current_session(thanksgiving_10am) is None
    assert mc.next_open(thanksgiving_10am) == utc(2026, 11, 27, 14, 30)
    assert mc.next_close(thanksgiving_10am) == utc(2026, 11, 27, 18, 0)  # the early close
    assert mc.last_completed_session(thanksgiving_10am).day == date(2026, 11, 25)
    # Wednesday 15:50 ET to Friday 09:40 ET: 10 + 10 minutes of session time
    assert mc.open_seconds_between(utc(2026, 11, 25, 20, 50), utc(2026, 11, 27, 14, 40)) == 1200


def test_across_the_spring_dst_change():
    friday = mc.session(date(2026, 3, 6))  # EST, UTC-5
    monday = mc.session(date(2026, 3, 9))  # EDT, UTC-4 since Sunday 8 March
    assert friday is not None
    assert (friday.open, friday.close) == (utc(2026, 3, 6, 14, 30), utc(2026, 3, 6, 21))
    assert monday is not None
    assert (monday.open, monday.close) == (utc(2026, 3, 9, 13, 30), utc(2026, 3, 9, 20))
    assert mc.next_open(utc(2026, 3, 6, 21, 0)) == utc(2026, 3, 9, 13, 30)
    assert not mc.is_open(utc(2026, 3, 9, 13, 29)) and mc.is_open(utc(2026, 3, 9, 13, 30))
    # the weekend and the lost hour count nothing; a full EDT session is 6.5 h
    assert mc.open_seconds_between(utc(2026, 3, 6, 21), utc(2026, 3, 9, 13, 30)) == 0
    assert mc.open_seconds_between(utc(2026, 3, 9, 0), utc(2026, 3, 10, 0)) == 6.5 * 3600


def test_across_the_autumn_dst_change():
    # DST ends Sunday 1 Nov 2026: Friday opens 13:30 UTC, Monday 14:30 UTC.
    assert mc.session(date(2026, 10, 30)).open == utc(2026, 10, 30, 13, 30)
    assert mc.next_open(utc(2026, 10, 30, 20, 0)) == utc(2026, 11, 2, 14, 30)
    assert mc.is_open(utc(2026, 11, 2, 14, 30)) and not mc.is_open(utc(2026, 11, 2, 13, 30))


def test_session_hours_and_weekends():
    assert mc.is_open(utc(2026, 11, 30, 14, 30))  # Monday 09:30 EST
    assert not mc.is_open(utc(2026, 11, 30, 14, 29))
    assert not mc.is_open(utc(2026, 11, 30, 21, 0))  # 16:00: the close is exclusive
    assert not mc.is_open(utc(2026, 11, 28, 16, 0))  # Saturday
    assert mc.exchange_date(utc(2026, 12, 1, 3, 0)) == date(2026, 11, 30)  # 22:00 ET the day before


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        mc.is_open(datetime(2026, 11, 30, 15, 0))


def test_once_after_the_close():
    settle = timedelta(minutes=10)
    early_close = utc(2026, 11, 27, 18, 0)  # Friday after Thanksgiving, 13:00 ET
    assert mc.after_close_due(early_close - timedelta(minutes=30), None, settle) is None  # open
    assert mc.after_close_due(early_close + timedelta(minutes=5), None, settle) is None  # settling
    due = mc.after_close_due(early_close + timedelta(minutes=10), None, settle)
    assert due is not None and due.day == date(2026, 11, 27)
    # done once: not again that evening, nor all weekend
    assert mc.after_close_due(early_close + timedelta(hours=3), date(2026, 11, 27), settle) is None
    assert mc.after_close_due(utc(2026, 11, 29, 12, 0), date(2026, 11, 27), settle) is None
    # a bot started on Sunday has not done it yet: Friday's close is still the one to fetch
    assert mc.after_close_due(utc(2026, 11, 29, 12, 0), date(2026, 11, 25), settle).day == date(2026, 11, 27)
    # Monday before the open: still Friday's
    assert mc.after_close_due(utc(2026, 11, 30, 13, 0), date(2026, 11, 27), settle) is None


def test_open_seconds_between_counts_only_session_time():
    friday_1550 = utc(2026, 12, 4, 20, 50)
    monday_0940 = utc(2026, 12, 7, 14, 40)
    assert mc.open_seconds_between(friday_1550, monday_0940) == 20 * 60
    assert mc.open_seconds_between(monday_0940, friday_1550) == 0
    sunday = utc(2026, 12, 6, 12, 0)
    assert mc.open_seconds_between(friday_1550 + timedelta(minutes=10), sunday) == 0
