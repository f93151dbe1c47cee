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

from rules.data import Event, Observation

DEFAULT_TIMEOUT_S = 20.0
USER_AGENT = "MinerWatch/0.1 (+https://github.com/minerwatch/minerwatch)"


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
) -> tuple[aiohttp.ClientResponse, bytes]:
    """One HTTP request with the declared User-Agent; (response, body) whatever the status.
    A timeout or a connection error is raised as :class:`SourceError` naming the source."""
    hdrs = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        async with session.request(
            method,
            url,
            params=params,
            headers=hdrs,
            data=data,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as resp:
            return resp, await resp.read()
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
) -> tuple[int, bytes]:
    """GET ``url`` and return (status, body). Any status outside ``ok_statuses``, a timeout or
    a connection error is raised as :class:`SourceError` naming the source."""
    resp, body = await request_bytes(
        session, "GET", url, source=source, params=params, headers=headers, timeout_s=timeout_s
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
) -> Any:
    """GET ``url`` and decode JSON. An HTML page or truncated JSON under a 200 is a SourceError."""
    _, body = await fetch_bytes(
        session, url, source=source, params=params, headers=headers, timeout_s=timeout_s
    )
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
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
) -> str:
    _, body = await fetch_bytes(
        session, url, source=source, params=params, headers=headers, timeout_s=timeout_s
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
