"""Quiet hours and the daily digest schedule, in the chat's own time zone.

Wall-clock based and DST-safe: "23:00-07:00 Europe/Berlin" means 23:00 to 07:00 on the clocks in
Berlin whatever the UTC offset that night. Pure apart from reading the tz database (zoneinfo).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from rules.grammar import RuleError

QUIET_EXAMPLE = "/quiet 23:00-07:00 Europe/Berlin"
_QUIET = re.compile(
    r"^\s*(\d{1,2})(?::(\d{2}))?\s*(?:-|–|to)\s*(\d{1,2})(?::(\d{2}))?(?:\s+(\S+))?\s*$", re.I | re.ASCII
)
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$", re.ASCII)


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    tz: str = "UTC"


@cache
def _all_zones() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (case-insensitive: "europe/berlin" works). RuleError if unknown."""
    zones = _all_zones()
    canonical = zones.get(name.strip().lower())
    if canonical is None and name.strip().upper() in ("UTC", "GMT", "Z"):
        canonical = "UTC"
    if canonical is not None:
        return ZoneInfo(canonical)
    try:
        return ZoneInfo(name)  # a zone the tz database has but does not list
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    close = [zones[c] for c in difflib.get_close_matches(name.lower(), list(zones), n=3, cutoff=0.6)]
    raise RuleError(
        f"I don't know the time zone {name!r}: use an IANA name like Europe/Berlin.", QUIET_EXAMPLE, close
    )


@cache
def zone_or_utc(name: str | None) -> ZoneInfo:
    """A stored zone name (a chat's /tz, an admin's) as a zone; UTC when unset or unknown. The one
    fallback every chat-facing time uses (cached: the engine asks once per rule it judges)."""
    try:
        return zone(name or "UTC")
    except RuleError:
        return ZoneInfo("UTC")


def _clock(hour: str, minute: str | None) -> time:
    h, m = int(hour), int(minute or 0)
    if h == 24 and m == 0:
        return time(0, 0)
    if h > 23 or m > 59:
        raise RuleError(f"{hour}:{minute or '00'} is not a time of day.", QUIET_EXAMPLE)
    return time(h, m)


def parse_quiet(text: str, default_tz: str = "UTC") -> QuietHours:
    """``"23:00-07:00 Europe/Berlin"`` (``"23-7"`` works too). Without a zone the hours are in
    ``default_tz``: the chat's own ``/tz``, so "22:00" means 22:00 on the chat's clocks."""
    m = _QUIET.match(text) if isinstance(text, str) else None
    if not m:
        raise RuleError(
            f"{text!r} is not a quiet-hours range: write START-END and a time zone.", QUIET_EXAMPLE
        )
    start = _clock(m.group(1), m.group(2))
    end = _clock(m.group(3), m.group(4))
    if start == end:
        raise RuleError("Quiet hours must start and end at different times.", QUIET_EXAMPLE)
    tz = zone(m.group(5) or default_tz).key
    return QuietHours(start, end, tz)


def format_quiet(q: QuietHours) -> str:
    """Canonical text: ``parse_quiet(format_quiet(q)) == q``."""
    return f"{q.start:%H:%M}-{q.end:%H:%M} {q.tz}"


def _local_time(q: QuietHours, now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("quiet hours need an aware 'now'")
    return now.astimezone(zone(q.tz))


def _within(start: time, end: time, t: time) -> bool:
    if start < end:
        return start <= t < end
    return t >= start or t < end  # across midnight


def in_quiet_hours(q: QuietHours, now: datetime) -> bool:
    """True when the chat's wall clock is in [start, end), the range possibly crossing midnight."""
    local = _local_time(q, now)
    return _within(q.start, q.end, local.time().replace(tzinfo=None))


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The first instant (aware UTC) at which the wall clock in ``tz`` shows ``clock`` on ``day``.

    Ambiguous times (clocks going back) give the first occurrence; a time skipped by a DST jump
    (02:30 on a spring-forward night) gives the instant of the jump, when the wall clock first
    passes it, which is exactly when :func:`in_quiet_hours` starts answering differently."""
    wall = datetime.combine(day, clock)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    lo = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)  # before the jump: wall clock < clock
    hi = first  # after the jump: wall clock > clock
    while (hi - lo).total_seconds() > 1:
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def quiet_ends_at(q: QuietHours, now: datetime) -> datetime:
    """When the current quiet period ends (aware UTC); ``now`` itself when not in quiet hours."""
    if not in_quiet_hours(q, now):
        return now
    tz = zone(q.tz)
    local = _local_time(q, now)
    now_utc = now.astimezone(UTC)
    for offset in (0, 1, 2, 3):
        candidate = _at(local.date() + timedelta(days=offset), q.end, tz)
        # a DST jump can skip the end and land straight in the next quiet period: not an end then
        if candidate > now_utc and not in_quiet_hours(q, candidate):
            return candidate
    raise AssertionError("unreachable: quiet hours end within a few days")  # pragma: no cover


def digest_due(at: str, tz: str, last_sent: datetime | None, now: datetime) -> bool:
    """True when today's digest (at ``at`` = "HH:MM" local time in ``tz``) is due and not yet sent.

    Once per local day: due from today's ``at`` on (a bot that was down at 08:00 catches up later the
    same day) unless ``last_sent`` is at or after today's ``at``."""
    m = _HHMM.match(at)
    if not m:
        raise RuleError(f"{at!r} is not a time of day: write HH:MM.", "/alert digest 08:00")
    clock = _clock(m.group(1), m.group(2))
    if now.tzinfo is None:
        raise ValueError("digest_due needs an aware 'now'")
    zone_info = zone(tz)
    local_today = now.astimezone(zone_info).date()
    scheduled = _at(local_today, clock, zone_info)
    if now.astimezone(UTC) < scheduled:
        return False
    return last_sent is None or last_sent.astimezone(UTC) < scheduled
