"""Times as a chat reads them: in the chat's own zone, with the zone named. Pure (the instant and the
zone are passed in; only the tz database is read).

One helper for every chat-facing module, so a snooze end, a pinned status and a quiet-hours reply
never disagree on format:

* :func:`local_datetime` -> ``"Tue 7 Dec 09:52 CST"`` (a moment that may be days away);
* :func:`local_clock` -> ``"10:05 CST"`` (a moment today, e.g. "as of 10:05 CST");
* :func:`zone_suggestions` -> ``["America/Chicago"]`` for ``"CST"``: abbreviations are not zones
  (CST does not know about daylight saving, and "IST" is three different places), so ``/tz CST``
  answers with the IANA names a user most likely means instead of storing the abbreviation.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

# Common abbreviations -> the IANA zones people using them most likely live in (most likely first).
# Summer and winter spellings both map: "/tz CDT" in July means the same place as "CST".
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "EST": ("America/New_York",),
    "EDT": ("America/New_York",),
    "ET": ("America/New_York",),
    "CST": ("America/Chicago",),
    "CDT": ("America/Chicago",),
    "CT": ("America/Chicago",),
    "MST": ("America/Denver", "America/Phoenix"),
    "MDT": ("America/Denver",),
    "MT": ("America/Denver", "America/Phoenix"),
    "PST": ("America/Los_Angeles",),
    "PDT": ("America/Los_Angeles",),
    "PT": ("America/Los_Angeles",),
    "AKST": ("America/Anchorage",),
    "AKDT": ("America/Anchorage",),
    "HST": ("Pacific/Honolulu",),
    "AST": ("America/Halifax",),
    "ADT": ("America/Halifax",),
    "NST": ("America/St_Johns",),
    "BST": ("Europe/London",),
    "WET": ("Europe/Lisbon",),
    "WEST": ("Europe/Lisbon",),
    "CET": ("Europe/Berlin", "Europe/Paris"),
    "CEST": ("Europe/Berlin", "Europe/Paris"),
    "MET": ("Europe/Berlin",),
    "EET": ("Europe/Helsinki", "Europe/Athens"),
    "EEST": ("Europe/Helsinki", "Europe/Athens"),
    "MSK": ("Europe/Moscow",),
    "IST": ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"),
    "PKT": ("Asia/Karachi",),
    "SGT": ("Asia/Singapore",),
    "HKT": ("Asia/Hong_Kong",),
    "JST": ("Asia/Tokyo",),
    "KST": ("Asia/Seoul",),
    "AEST": ("Australia/Sydney", "Australia/Brisbane"),
    "AEDT": ("Australia/Sydney",),
    "ACST": ("Australia/Adelaide",),
    "AWST": ("Australia/Perth",),
    "NZST": ("Pacific/Auckland",),
    "NZDT": ("Pacific/Auckland",),
}


def zone_suggestions(text: str) -> tuple[str, ...]:
    """The IANA zones an abbreviation like ``CST`` most likely means; empty when ``text`` is not
    one of the common abbreviations (case-insensitive)."""
    return ABBREVIATIONS.get(text.strip().upper(), ())


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a time shown to a chat must be aware (UTC or zoned)")
    return at


def local_datetime(at: datetime, tz: tzinfo) -> str:
    """``"Tue 7 Dec 09:52 CST"``: weekday, day, month, 24-hour clock and the zone's abbreviation
    at that moment (so a snooze across a DST change shows the right one). A different year from
    ``at``'s own is not shown: snoozes are capped at 30 days."""
    local = _aware(at).astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %H:%M %Z}"


def local_clock(at: datetime, tz: tzinfo) -> str:
    """``"10:05 CST"``: the clock time in the chat's zone, for "as of" lines."""
    local = _aware(at).astimezone(tz)
    return f"{local:%H:%M %Z}"


def age_text(seconds: float) -> str:
    """``"40 s"``, ``"26 min"``, ``"3 h"``, ``"2 d"``: how old a value is, rounded down."""
    s = max(0, int(seconds))
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s // 3600} h"
    return f"{s // 86400} d"
