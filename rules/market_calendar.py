"""The US equity market calendar (NYSE and Nasdaq share it): regular sessions, holidays, early closes.

Pure: no clock, no I/O; every function takes the time it reasons about. Times in and out are aware
datetimes (any zone in, UTC out); dates are exchange dates in America/New_York.

* Regular session 09:30-16:00 New York time; an early close ends it at 13:00.
* Holidays from the NYSE's published rules (NYSE Rule 7.2 and its holiday list): New Year's Day,
  Martin Luther King Jr. Day (3rd Monday of January), Washington's Birthday (3rd Monday of
  February), Good Friday (two days before Western Easter), Memorial Day (last Monday of May),
  Juneteenth (19 June, from 2022), Independence Day, Labor Day (1st Monday of September),
  Thanksgiving (4th Thursday of November) and Christmas Day.
* Observed dates: a holiday on a Sunday is observed the Monday after; on a Saturday the Friday
  before, except New Year's Day: the Friday before is 31 December, the end of an accounting year,
  and the NYSE stays open (2022-01-01 was a Saturday; 2021-12-31 was a full session).
* Early closes (13:00): the day after Thanksgiving; 24 December when it is a weekday session;
  3 July when it is a weekday session (not when 4 July falls on a weekend and 3 July is itself
  the observed holiday or a weekend day).
* One-off closures the rules cannot know (national days of mourning, 9/11, Hurricane Sandy) are
  listed in :data:`SPECIAL_CLOSURES`; a future one needs a line there.

Why not a library: ``exchange_calendars`` and ``pandas_market_calendars`` pull pandas (and numpy,
pyluach, korean-lunar-calendar, toolz) into a bot that otherwise never uses pandas, for one
exchange. ``holidays`` (python-holidays) has an NYSE calendar but no early closes, is ~14 MB
installed and pins ``python-dateutil<3``, which downgraded this project's dateutil when tried. The
rules fit in this file, and the tests check each one; they were also compared day by day with
python-holidays' NYSE calendar for 2000-2035 (see tests/test_market_calendar.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
EARLY_CLOSE = time(13, 0)
FIRST_YEAR = 2000  # the rules below are checked from here on (MLK Day since 1998, Juneteenth 2022)

# Closures no rule predicts (NYSE notices). Dates are exchange dates.
SPECIAL_CLOSURES: dict[date, str] = {
    date(2001, 9, 11): "September 11 attacks",
    date(2001, 9, 12): "September 11 attacks",
    date(2001, 9, 13): "September 11 attacks",
    date(2001, 9, 14): "September 11 attacks",
    date(2004, 6, 11): "National Day of Mourning for President Reagan",
    date(2007, 1, 2): "National Day of Mourning for President Ford",
    date(2012, 10, 29): "Hurricane Sandy",
    date(2012, 10, 30): "Hurricane Sandy",
    date(2018, 12, 5): "National Day of Mourning for President George H. W. Bush",
    date(2025, 1, 9): "National Day of Mourning for President Carter",
}


@dataclass(frozen=True, slots=True)
class Session:
    """One regular trading session."""

    day: date  # the exchange date (New York)
    open: datetime  # aware UTC
    close: datetime  # aware UTC
    early_close: bool

    def contains(self, when: datetime) -> bool:
        return self.open <= when < self.close


def easter(year: int) -> date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian computus (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    x = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * x) // 451
    month, day = divmod(h + x - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (Monday = 0) of the month; n = -1 is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """Saturday -> Friday before, Sunday -> Monday after (NYSE Rule 7.2)."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


@cache
def holidays(year: int) -> dict[date, str]:
    """Full-day closures of ``year`` (observed dates), including :data:`SPECIAL_CLOSURES`."""
    out: dict[date, str] = {}
    new_year = date(year, 1, 1)
    if new_year.weekday() != 5:  # on a Saturday nothing is observed (31 Dec closes a fiscal year)
        out[_observed(new_year)] = "New Year's Day"
    if year >= 1998:
        out[_nth_weekday(year, 1, 0, 3)] = "Martin Luther King Jr. Day"
    out[_nth_weekday(year, 2, 0, 3)] = "Washington's Birthday"
    out[easter(year) - timedelta(days=2)] = "Good Friday"
    out[_nth_weekday(year, 5, 0, -1)] = "Memorial Day"
    if year >= 2022:
        out[_observed(date(year, 6, 19))] = "Juneteenth National Independence Day"
    out[_observed(date(year, 7, 4))] = "Independence Day"
    out[_nth_weekday(year, 9, 0, 1)] = "Labor Day"
    out[_nth_weekday(year, 11, 3, 4)] = "Thanksgiving Day"
    out[_observed(date(year, 12, 25))] = "Christmas Day"
    out.update({d: why for d, why in SPECIAL_CLOSURES.items() if d.year == year})
    return out


@cache
def early_closes(year: int) -> dict[date, str]:
    """Days of ``year`` that close at 13:00 New York time."""
    closed = holidays(year)
    candidates = {
        _nth_weekday(year, 11, 3, 4) + timedelta(days=1): "day after Thanksgiving",
        date(year, 12, 24): "Christmas Eve",
        date(year, 7, 3): "day before Independence Day",
    }
    return {d: why for d, why in candidates.items() if d.weekday() < 5 and d not in closed}


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in holidays(day.year)


def session(day: date) -> Session | None:
    """The regular session on exchange date ``day``, or None on a weekend or holiday."""
    if not is_trading_day(day):
        return None
    early = day in early_closes(day.year)
    opens = datetime.combine(day, REGULAR_OPEN, NEW_YORK).astimezone(UTC)
    closes = datetime.combine(day, EARLY_CLOSE if early else REGULAR_CLOSE, NEW_YORK).astimezone(UTC)
    return Session(day, opens, closes, early)


def _check(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("market calendar times must be timezone-aware")
    return when.astimezone(UTC)


def exchange_date(when: datetime) -> date:
    """The New York date at ``when``."""
    return _check(when).astimezone(NEW_YORK).date()


def is_open(now: datetime) -> bool:
    """True during a regular session (pre-market and after-hours count as closed)."""
    now = _check(now)
    today = session(exchange_date(now))
    return today is not None and today.contains(now)


def sessions_from(day: date, *, backwards: bool = False, limit: int = 30) -> list[Session]:
    """Up to ``limit`` sessions starting at ``day`` (inclusive), forwards or backwards in time."""
    out: list[Session] = []
    step = timedelta(days=-1 if backwards else 1)
    # 30 sessions always fit in 60 calendar days; a runaway loop is impossible
    for _ in range(limit * 2 + 10):
        found = session(day)
        if found is not None:
            out.append(found)
            if len(out) == limit:
                break
        day += step
    return out


def next_open(now: datetime) -> datetime:
    """The start of the next session that opens after ``now`` (strictly later)."""
    now = _check(now)
    for s in sessions_from(exchange_date(now), limit=3):
        if s.open > now:
            return s.open
    raise AssertionError("no session within three trading days")  # pragma: no cover


def next_close(now: datetime) -> datetime:
    """The end of the session in progress, or of the next one if the market is closed."""
    now = _check(now)
    for s in sessions_from(exchange_date(now), limit=3):
        if s.close > now:
            return s.close
    raise AssertionError("no session within three trading days")  # pragma: no cover


def last_completed_session(now: datetime) -> Session:
    """The most recent session that has closed at or before ``now``."""
    now = _check(now)
    for s in sessions_from(exchange_date(now), backwards=True, limit=3):
        if s.close <= now:
            return s
    raise AssertionError("no session within three trading days")  # pragma: no cover


def current_session(now: datetime) -> Session | None:
    now = _check(now)
    today = session(exchange_date(now))
    return today if today is not None and today.contains(now) else None


def after_close_due(now: datetime, done_for: date | None, settle: timedelta) -> Session | None:
    """The "once after the close" poll: the session whose closing price should be fetched now, or
    None. Due when the market is closed, the last session closed at least ``settle`` ago (closing
    prints arrive a few minutes after the bell) and its after-close poll is not done yet
    (``done_for`` is the exchange date of the last one done)."""
    now = _check(now)
    if is_open(now):
        return None
    last = last_completed_session(now)
    if now < last.close + settle or done_for == last.day:
        return None
    return last


def open_seconds_between(start: datetime, end: datetime) -> float:
    """Seconds of regular session time between ``start`` and ``end`` (0 if end <= start).

    How old a quote is in trading time: a Friday close read on Sunday is 0 s old, a close read
    at 10:00 the next session is 30 min old."""
    start, end = _check(start), _check(end)
    if end <= start:
        return 0.0
    total = 0.0
    day = exchange_date(start)
    last = exchange_date(end)
    while day <= last:
        s = session(day)
        if s is not None:
            overlap = (min(end, s.close) - max(start, s.open)).total_seconds()
            total += max(0.0, overlap)
        day += timedelta(days=1)
    return total
