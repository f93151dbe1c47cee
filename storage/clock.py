"""Time as stored: ISO-8601 UTC text, so rows sort and read well in any sqlite tool."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: pass aware UTC times")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
