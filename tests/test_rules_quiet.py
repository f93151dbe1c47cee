"""Quiet hours across midnight in several time zones, on DST change days, and the daily digest."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.grammar import RuleError
from rules.quiet import QuietHours, digest_due, format_quiet, in_quiet_hours, parse_quiet, quiet_ends_at


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


BERLIN = QuietHours(time(23, 0), time(7, 0), "Europe/Berlin")
NEW_YORK = QuietHours(time(22, 0), time(6, 0), "America/New_York")
TOKYO = QuietHours(time(22, 0), time(7, 0), "Asia/Tokyo")
KOLKATA = QuietHours(time(0, 30), time(6, 0), "Asia/Kolkata")  # +05:30, does not cross midnight
SYDNEY = QuietHours(time(22, 0), time(7, 0), "Australia/Sydney")
UTC_DAY = QuietHours(time(9, 0), time(17, 0), "UTC")

PARSE = [
    ("berlin", "23:00-07:00 Europe/Berlin", BERLIN),
    ("tz-case-insensitive", "23:00-07:00 europe/berlin", BERLIN),
    ("hours-only-default-utc", "23-7", QuietHours(time(23), time(7), "UTC")),
    (
        "spaces-and-to",
        "22:30 to 06:15 America/New_York",
        QuietHours(time(22, 30), time(6, 15), "America/New_York"),
    ),
    ("dash-spaced", "9:00 - 17:00 UTC", UTC_DAY),
    ("midnight-as-24", "20:00-24:00 Asia/Tokyo", QuietHours(time(20), time(0), "Asia/Tokyo")),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in PARSE], ids=[c[0] for c in PARSE])
def test_parse_quiet(text, expected):
    q = parse_quiet(text)
    assert q == expected
    assert parse_quiet(format_quiet(q)) == q


BAD = [
    ("empty", "", "not a quiet-hours range", None),
    ("one-time", "23:00", "not a quiet-hours range", None),
    ("bad-hour", "25:00-07:00", "not a time of day", None),
    ("bad-minute", "23:61-07:00", "not a time of day", None),
    ("same-start-end", "07:00-07:00", "different times", None),
    ("unknown-zone", "23:00-07:00 Mars/Olympus", "time zone", None),
    ("zone-typo", "23:00-07:00 Europe/Berlinn", "time zone", "Europe/Berlin"),
]


@pytest.mark.parametrize(("text", "words", "suggestion"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_parse_quiet_errors(text, words, suggestion):
    with pytest.raises(RuleError) as info:
        parse_quiet(text)
    assert words in info.value.problem
    assert info.value.example == "/quiet 23:00-07:00 Europe/Berlin"
    if suggestion:
        assert suggestion in info.value.suggestions


IN_QUIET = [
    ("berlin-winter-before", BERLIN, utc(2026, 1, 15, 21, 59), False),
    ("berlin-winter-start", BERLIN, utc(2026, 1, 15, 22, 0), True),
    ("berlin-winter-after-midnight", BERLIN, utc(2026, 1, 16, 5, 59), True),
    ("berlin-winter-end-exclusive", BERLIN, utc(2026, 1, 16, 6, 0), False),
    ("berlin-summer-start", BERLIN, utc(2026, 7, 15, 21, 0), True),
    ("berlin-summer-before", BERLIN, utc(2026, 7, 15, 20, 59), False),
    ("berlin-summer-end", BERLIN, utc(2026, 7, 16, 5, 0), False),
    # 2026-03-29: clocks jump 02:00 CET -> 03:00 CEST at 01:00 UTC, so 07:00 local is 05:00 UTC
    ("berlin-spring-forward-still-quiet", BERLIN, utc(2026, 3, 29, 4, 59), True),
    ("berlin-spring-forward-ends-0500utc", BERLIN, utc(2026, 3, 29, 5, 0), False),
    ("berlin-spring-forward-in-jump", BERLIN, utc(2026, 3, 29, 1, 0), True),
    # 2026-10-25: clocks go back 03:00 CEST -> 02:00 CET at 01:00 UTC, so 07:00 local is 06:00 UTC
    ("berlin-fall-back-still-quiet", BERLIN, utc(2026, 10, 25, 5, 59), True),
    ("berlin-fall-back-ends-0600utc", BERLIN, utc(2026, 10, 25, 6, 0), False),
    # 2026-03-08: New York jumps to EDT at 07:00 UTC; 06:00 EDT is 10:00 UTC
    ("new-york-dst-day-quiet", NEW_YORK, utc(2026, 3, 8, 9, 59), True),
    ("new-york-dst-day-over", NEW_YORK, utc(2026, 3, 8, 10, 0), False),
    ("new-york-evening-before", NEW_YORK, utc(2026, 3, 8, 3, 0), True),
    ("tokyo-start", TOKYO, utc(2026, 1, 15, 13, 0), True),
    ("tokyo-before", TOKYO, utc(2026, 1, 15, 12, 59), False),
    ("tokyo-morning", TOKYO, utc(2026, 1, 15, 21, 59), True),
    ("tokyo-end", TOKYO, utc(2026, 1, 15, 22, 0), False),
    ("kolkata-start", KOLKATA, utc(2026, 1, 15, 19, 0), True),
    ("kolkata-before", KOLKATA, utc(2026, 1, 15, 18, 59), False),
    ("kolkata-last-minute", KOLKATA, utc(2026, 1, 16, 0, 29), True),
    ("kolkata-end", KOLKATA, utc(2026, 1, 16, 0, 30), False),
    # 2026-04-05: Sydney leaves DST (AEDT +11 -> AEST +10); 07:00 AEST is 21:00 UTC the day before
    ("sydney-dst-end-quiet", SYDNEY, utc(2026, 4, 4, 20, 59), True),
    ("sydney-dst-end-over", SYDNEY, utc(2026, 4, 4, 21, 0), False),
    ("sydney-evening-aedt", SYDNEY, utc(2026, 4, 4, 11, 0), True),
    ("sydney-before-aedt", SYDNEY, utc(2026, 4, 4, 10, 59), False),
    ("utc-daytime-in", UTC_DAY, utc(2026, 1, 15, 12, 0), True),
    ("utc-daytime-end", UTC_DAY, utc(2026, 1, 15, 17, 0), False),
    ("utc-daytime-night", UTC_DAY, utc(2026, 1, 15, 2, 0), False),
]


@pytest.mark.parametrize(("q", "now", "expected"), [c[1:] for c in IN_QUIET], ids=[c[0] for c in IN_QUIET])
def test_in_quiet_hours(q, now, expected):
    assert in_quiet_hours(q, now) is expected


def test_in_quiet_hours_accepts_any_aware_now():
    berlin_now = datetime(2026, 1, 16, 1, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 2026-01-15 16:00 UTC
    assert in_quiet_hours(BERLIN, berlin_now) is False


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="aware"):
        in_quiet_hours(BERLIN, datetime(2026, 1, 1))


ENDS = [
    ("before-midnight", BERLIN, utc(2026, 1, 15, 22, 30), utc(2026, 1, 16, 6, 0)),
    ("after-midnight", BERLIN, utc(2026, 1, 15, 23, 30), utc(2026, 1, 16, 6, 0)),
    ("spring-forward", BERLIN, utc(2026, 3, 28, 23, 30), utc(2026, 3, 29, 5, 0)),
    ("fall-back", BERLIN, utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 6, 0)),
    ("new-york-dst", NEW_YORK, utc(2026, 3, 8, 4, 0), utc(2026, 3, 8, 10, 0)),
    (
        "end-skipped-by-dst-jump",
        QuietHours(time(23, 0), time(2, 30), "Europe/Berlin"),
        utc(2026, 3, 28, 23, 30),
        utc(2026, 3, 29, 1, 0),  # the wall clock jumps from 02:00 to 03:00 then
    ),
    (
        "end-repeated-by-fall-back-first-one",
        QuietHours(time(23, 0), time(2, 30), "Europe/Berlin"),
        utc(2026, 10, 24, 22, 0),
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST
    ),
    (
        "end-skipped-and-start-follows-the-jump",  # found by the property test below
        QuietHours(time(3, 0), time(2, 30), "America/New_York"),
        utc(2025, 3, 9, 2, 41),
        utc(2025, 3, 10, 6, 30),  # 02:30 is skipped on the 9th and 03:00 starts quiet again at once
    ),
    ("kolkata", KOLKATA, utc(2026, 1, 15, 20, 0), utc(2026, 1, 16, 0, 30)),
    ("not-quiet-is-now", BERLIN, utc(2026, 1, 15, 12, 0), utc(2026, 1, 15, 12, 0)),
]


@pytest.mark.parametrize(("q", "now", "expected"), [c[1:] for c in ENDS], ids=[c[0] for c in ENDS])
def test_quiet_ends_at(q, now, expected):
    assert quiet_ends_at(q, now) == expected


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC", "America/Sao_Paulo"]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.integers(0, 23),
    st.sampled_from([0, 15, 30, 45]),
    st.integers(0, 23),
    st.sampled_from([0, 30]),
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)),
)
def test_quiet_ends_exactly_when_quiet_stops(tz, h1, m1, h2, m2, now):
    if (h1, m1) == (h2, m2):
        return
    q = QuietHours(time(h1, m1), time(h2, m2), tz)
    end = quiet_ends_at(q, now)
    if not in_quiet_hours(q, now):
        assert end == now
        return
    assert now < end <= now + timedelta(hours=49)
    assert not in_quiet_hours(q, end)
    assert in_quiet_hours(q, end - timedelta(seconds=1))


DIGEST = [
    ("before-time", "08:00", "Europe/Berlin", None, utc(2026, 1, 15, 6, 59), False),
    ("at-time", "08:00", "Europe/Berlin", None, utc(2026, 1, 15, 7, 0), True),
    ("sent-today", "08:00", "Europe/Berlin", utc(2026, 1, 15, 7, 0, 5), utc(2026, 1, 15, 9, 0), False),
    ("sent-yesterday", "08:00", "Europe/Berlin", utc(2026, 1, 14, 7, 0), utc(2026, 1, 15, 7, 0), True),
    (
        "catch-up-later-same-day",
        "08:00",
        "Europe/Berlin",
        utc(2026, 1, 14, 7, 0),
        utc(2026, 1, 15, 15, 0),
        True,
    ),
    ("next-day-not-yet", "08:00", "Europe/Berlin", utc(2026, 1, 15, 7, 0), utc(2026, 1, 16, 6, 30), False),
    ("sent-late-yesterday", "08:00", "Europe/Berlin", utc(2026, 1, 14, 22, 30), utc(2026, 1, 15, 7, 0), True),
    # New York: 08:00 is 13:00 UTC in EST and 12:00 UTC from 2026-03-08 (EDT)
    ("new-york-dst-day", "08:00", "America/New_York", None, utc(2026, 3, 8, 12, 30), True),
    ("new-york-day-before", "08:00", "America/New_York", None, utc(2026, 3, 7, 12, 30), False),
    # a time skipped by the spring-forward jump is due when the clocks jump
    ("skipped-time-before-jump", "02:30", "Europe/Berlin", None, utc(2026, 3, 29, 0, 59), False),
    ("skipped-time-at-jump", "02:30", "Europe/Berlin", None, utc(2026, 3, 29, 1, 0), True),
    ("tokyo-next-local-day", "08:00", "Asia/Tokyo", utc(2026, 1, 13, 23, 0), utc(2026, 1, 14, 23, 0), True),
    ("tokyo-same-local-day", "08:00", "Asia/Tokyo", utc(2026, 1, 14, 23, 0), utc(2026, 1, 15, 10, 0), False),
]


@pytest.mark.parametrize(
    ("at", "tz", "last_sent", "now", "expected"), [c[1:] for c in DIGEST], ids=[c[0] for c in DIGEST]
)
def test_digest_due(at, tz, last_sent, now, expected):
    assert digest_due(at, tz, last_sent, now) is expected


def test_digest_once_per_local_day_over_a_week():
    """Polled every 10 minutes for a week across the Berlin spring-forward: exactly one per day."""
    sent: list[datetime] = []
    now = utc(2026, 3, 25, 0, 0)
    while now < utc(2026, 4, 1, 0, 0):
        if digest_due("08:00", "Europe/Berlin", sent[-1] if sent else None, now):
            sent.append(now)
        now += timedelta(minutes=10)
    local = [s.astimezone(ZoneInfo("Europe/Berlin")) for s in sent]
    assert [d.day for d in local] == list(range(25, 32))
    assert all((d.hour, d.minute) == (8, 0) for d in local)


def test_digest_bad_time():
    with pytest.raises(RuleError):
        digest_due("8h", "UTC", None, utc(2026, 1, 1))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.builds("{}-{} {}".format, st.integers(0, 30), st.integers(0, 30), st.text(max_size=30)),
    )
)
def test_parse_quiet_raises_only_rule_error(text):
    try:
        q = parse_quiet(text)
    except RuleError:
        return
    assert parse_quiet(format_quiet(q)) == q
