"""The one small interface every watcher implements, and the HTTP helpers they share.

A watcher only fetches and validates. It never schedules itself, never touches storage, rules or
Telegram: the runner in ``bot/engine/runner.py`` owns scheduling, health, logging and persistence
(Home Assistant's DataUpdateCoordinator split). Whatever a source answers that is not what we
expect (an HTML error page, nulls, strings where numbers belong, values outside sane bounds) is
raised as :class:`SourceError` so that it is reported and never alerted on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import aiohttp
from yarl import URL

from rules.catalogue import MAX_CLOCK_SKEW_S, implausible
from rules.data import Event, Observation

DEFAULT_TIMEOUT_S = 20.0
USER_AGENT = "MinerWatch/0.1 (+https://github.com/minerwatch/minerwatch)"
# Largest body read from any source that does not set its own limit (each of ours does). Bodies
# are read in READ_CHUNK pieces and abandoned past the limit.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
READ_CHUNK = 64 * 1024
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_INT_DIGITS = 40  # longer JSON integers are nothing a source of ours really sends


@dataclass(slots=True)
class PollResult:
    observations: list[Observation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # Partial failures: source name -> one-line message. A watcher that served everything from a
    # fallback still reports the primary's failure here.
    errors: dict[str, str] = field(default_factory=dict)
    # Qualifiers of a value that the Observation cannot carry: metric -> short text shown next to
    # it ("delayed: quote from 10:02 ET", "market closed: last price at 16:00 ET"). Optional.
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class PollContext:
    session: aiohttp.ClientSession  # the one shared session of the process
    now: datetime  # injected time (aware UTC); watchers never read the clock
    # The watcher's own JSON-serialisable state from its last successful poll (cursors, last
    # values for jump checks, seen ids). Mutate it; the runner persists it after a success.
    state: dict[str, Any] = field(default_factory=dict)


class SourceError(Exception):
    """A source failed or answered garbage. The message is one line a user or operator can read."""

    def __init__(self, source: str, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message
        self.retry_after_s = retry_after_s


class Watcher(Protocol):
    """What the runner needs from a watcher. ``id`` names the job (``watch:<id>``)."""

    id: str

    async def poll(self, ctx: PollContext) -> PollResult: ...


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    raw = resp.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP date: rare here, and the runner's backoff covers it


def _same_host(origin: URL, target: URL) -> bool:
    """A redirect we follow: the same scheme, host and port as the configured URL, or the https
    upgrade of the same host. Anything else could hand a credential or the declared contact
    User-Agent to a host nobody configured, and let that host answer in the source's name."""
    if target.host is None or (target.host or "").lower() != (origin.host or "").lower():
        return False
    if target.scheme == origin.scheme and target.port == origin.port:
        return True
    return origin.scheme == "http" and target.scheme == "https" and target.explicit_port is None


async def _read_capped(resp: aiohttp.ClientResponse, *, source: str, max_bytes: int) -> bytes:
    """The body, read in chunks and abandoned as soon as it passes ``max_bytes``: a 50 MB answer
    costs at most ``max_bytes + READ_CHUNK`` of memory, never the whole body. The cap applies to the
    decoded body, so a gzip bomb is stopped too."""
    declared = resp.content_length
    if declared is not None and declared > max_bytes:
        resp.close()
        raise SourceError(source, f"answer of {declared:,} bytes is over the {max_bytes:,}-byte limit")
    parts: list[bytes] = []
    total = 0
    while chunk := await resp.content.read(READ_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            resp.close()  # drop the connection: the rest is never read
            raise SourceError(source, f"answer is over the {max_bytes:,}-byte limit")
        parts.append(chunk)
    return b"".join(parts)


async def request_bytes(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    source: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    data: str | bytes | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[aiohttp.ClientResponse, bytes]:
    """One HTTP request with the declared User-Agent; (response, body) whatever the status.

    A redirect is followed only on the configured host (:func:`_same_host`), at most
    MAX_REDIRECTS times; one to another host is a SourceError and that host is never contacted.
    A body over ``max_bytes`` is a SourceError (read in chunks, never whole). A timeout or a
    connection error is raised as :class:`SourceError` naming the source."""
    hdrs = {"User-Agent": USER_AGENT, **(headers or {})}
    origin = URL(url)
    target = origin
    try:
        for _ in range(MAX_REDIRECTS + 1):
            async with session.request(
                method,
                target,
                params=params if target is origin else None,
                headers=hdrs,
                data=data,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as resp:
                location = resp.headers.get("Location")
                if resp.status in _REDIRECTS and location:
                    target = resp.url.join(URL(location))
                    if not _same_host(origin, target):
                        raise SourceError(
                            source,
                            f"HTTP {resp.status} redirect to {target.host or repr(location)} refused "
                            f"(only {origin.host} is configured)",
                        )
                    if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                        method, data = "GET", None  # what browsers and aiohttp do
                    continue
                return resp, await _read_capped(resp, source=source, max_bytes=max_bytes)
        raise SourceError(source, f"more than {MAX_REDIRECTS} redirects")
    except TimeoutError as err:
        raise SourceError(source, f"timed out after {timeout_s:g}s") from err
    except asyncio.CancelledError:
        raise
    except aiohttp.ClientError as err:
        raise SourceError(source, f"connection failed: {type(err).__name__}") from err


async def fetch_bytes(
    session: aiohttp.ClientSession,
    url: str,
    *,
    source: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    ok_statuses: frozenset[int] = frozenset({200}),
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[int, bytes]:
    """GET ``url`` and return (status, body). Any status outside ``ok_statuses``, a timeout, a
    connection error, an off-host redirect or a body over ``max_bytes`` is raised as
    :class:`SourceError` naming the source."""
    resp, body = await request_bytes(
        session,
        "GET",
        url,
        source=source,
        params=params,
        headers=headers,
        timeout_s=timeout_s,
        max_bytes=max_bytes,
    )
    if resp.status not in ok_statuses:
        raise SourceError(
            source, f"HTTP {resp.status}{_describe_body(resp, body)}", retry_after_s=_retry_after(resp)
        )
    return resp.status, body


def _describe_body(resp: aiohttp.ClientResponse, body: bytes) -> str:
    ctype = resp.headers.get("Content-Type", "")
    if "html" in ctype or body.lstrip()[:1] == b"<":
        return " (HTML error page)"
    text = body[:120].decode("utf-8", "replace").strip()
    return f": {text}" if text else ""


async def fetch_json(
    session: aiohttp.ClientSession,
    url: str,
    *,
    source: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Any:
    """GET ``url`` and decode JSON. An HTML page or truncated JSON under a 200 is a SourceError."""
    _, body = await fetch_bytes(
        session, url, source=source, params=params, headers=headers, timeout_s=timeout_s, max_bytes=max_bytes
    )
    return loads_json(body, source=source)


def _bounded_int(text: str) -> float | int:
    # A JSON integer of thousands of digits would make int() raise ValueError (Python's 4,300-digit
    # limit) outside any SourceError, failing the whole poll; as an infinity it fails only the
    # field that holds it (require_number: "not finite").
    if len(text) > MAX_INT_DIGITS:
        return float("-inf") if text.startswith("-") else float("inf")
    return int(text)


def loads_json(body: bytes, *, source: str) -> Any:
    """Decode a JSON body. Invalid JSON, an HTML page or absurd nesting is a SourceError; an
    integer too long to be a number we use becomes an infinity that require_number refuses."""
    try:
        return json.loads(body, parse_int=_bounded_int)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:  # JSONDecodeError is a ValueError
        kind = "an HTML page" if body.lstrip()[:1] == b"<" else "invalid JSON"
        raise SourceError(source, f"answered {kind} instead of JSON") from err


async def fetch_text(
    session: aiohttp.ClientSession,
    url: str,
    *,
    source: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> str:
    _, body = await fetch_bytes(
        session, url, source=source, params=params, headers=headers, timeout_s=timeout_s, max_bytes=max_bytes
    )
    return body.decode("utf-8", "replace")


def require_number(payload: Mapping[str, Any], key: str, *, source: str) -> float:
    """A finite number at ``payload[key]``: strings holding numbers are accepted (mempool sends
    sat totals as strings); null, booleans, text and NaN are a SourceError."""
    if not isinstance(payload, Mapping):
        raise SourceError(source, f"expected an object, got {type(payload).__name__}")
    if key not in payload:
        raise SourceError(source, f"field {key!r} is missing")
    raw = payload[key]
    if isinstance(raw, bool) or raw is None:
        raise SourceError(source, f"field {key!r} is {json.dumps(raw)}, not a number")
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError) as err:  # an integer too large for a float, too
        shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:37] + "..."
        raise SourceError(source, f"field {key!r} is {shown}, not a number") from err
    if value != value or value in (float("inf"), float("-inf")):
        raise SourceError(source, f"field {key!r} is not finite")
    return value


def plausible(metric: str, value: float, *, source: str) -> float:
    """``value`` if it can be a real ``metric`` (its catalogue bounds, rules/catalogue.py), else a
    SourceError: on a fresh database there is no stored value for the jump guard to compare with."""
    reason = implausible(metric, value)
    if reason is not None:
        raise SourceError(source, reason)
    return value


def not_in_future(at: datetime, now: datetime, *, source: str, what: str) -> datetime:
    """``at`` unless it lies more than MAX_CLOCK_SKEW_S after ``now`` (a value stamped in 2100)."""
    if (at - now).total_seconds() > MAX_CLOCK_SKEW_S:
        raise SourceError(source, f"{what} {at.isoformat()} is in the future")
    return at
