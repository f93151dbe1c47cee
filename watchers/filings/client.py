"""EDGAR client: one process-wide limiter, back-off, the declared User-Agent.

SEC fair access
---------------
Every EDGAR request of the process goes through one :class:`aiolimiter.AsyncLimiter` per event
loop, spacing requests at least ``1/max_rps`` seconds apart (no bursts: a leaky bucket with a
capacity of ``max_rps`` would let 2 x max_rps through in the first second). A declared
User-Agent with a contact e-mail is required. HTTP 403/429/503 blocks every EDGAR request of the
process for Retry-After (or a default: 10 min after a 403, SEC's blocking period) and raises
:class:`SourceError` with ``retry_after_s``.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiolimiter import AsyncLimiter

from watchers.base import SourceError, _describe_body, _retry_after, request_bytes
from watchers.filings.config import SOURCE, EdgarSourceConfig, require_user_agent
from watchers.filings.parse import FilingRef, parse_index

DEFAULT_BACKOFF_S = {403: 600.0, 429: 60.0, 503: 30.0}


# --------------------------------------------------------------------------------------------------
# The process-wide limiter and backoff


@dataclass
class EdgarGate:
    """One event loop's EDGAR limiter and back-off. The back-off is measured on ``clock`` (the
    loop's monotonic time; tests put their own clock here instead of sleeping)."""

    limiter: AsyncLimiter
    rps: float
    clock: Callable[[], float]
    blocked_until: float = 0.0  # on ``clock``
    blocked_reason: str = ""


_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, EdgarGate] = weakref.WeakKeyDictionary()


def edgar_limiter(max_rps: float) -> AsyncLimiter:
    """The one limiter every EDGAR request of this process (event loop) goes through."""
    return edgar_gate(max_rps).limiter


def edgar_gate(max_rps: float) -> EdgarGate:
    """This event loop's gate: every EDGAR request of the process goes through it."""
    loop = asyncio.get_running_loop()
    gate = _GATES.get(loop)
    if gate is None or gate.rps != max_rps:
        # capacity 1, one slot per 1/max_rps s (+2% for timer and network jitter): never a burst
        limiter = AsyncLimiter(1, 1.02 / max_rps)
        if gate is None:
            gate = EdgarGate(limiter, max_rps, loop.time)
            _GATES[loop] = gate
        else:
            gate.limiter, gate.rps = limiter, max_rps
    return gate


class EndOfFeed(Exception):
    """getcurrent paged past its last entry (HTTP 503 on a page after the first)."""


_STATUS_RE = re.compile(r"^HTTP (\d{3})\b")


async def edgar_get(
    session: aiohttp.ClientSession,
    source: EdgarSourceConfig,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    feed_page: int = 0,
) -> bytes:
    """GET one EDGAR URL through the shared limiter, with the declared User-Agent.

    HTTP 403/429/503 blocks every EDGAR request of the process for Retry-After (or a default) and
    raises SourceError with ``retry_after_s``; while blocked, requests fail at once without touching
    the network. A 503 on a feed page after the first raises :class:`EndOfFeed`."""
    return (await _edgar_request(session, source, url, params=params, feed_page=feed_page)).body


@dataclass(frozen=True)
class Conditional:
    """An answer to a conditional GET: ``body`` None when EDGAR said 304 Not Modified; the
    validators to send next time (empty when EDGAR sent none: then nothing is sent)."""

    body: bytes | None
    validators: dict[str, str]


async def edgar_get_conditional(
    session: aiohttp.ClientSession,
    source: EdgarSourceConfig,
    url: str,
    validators: Mapping[str, str],
    *,
    params: Mapping[str, str] | None = None,
) -> Conditional:
    """:func:`edgar_get` with If-None-Match / If-Modified-Since from the last answer's ETag /
    Last-Modified, when it had them. No SEC page documents conditional requests to the
    latest-filings feed (a dynamic CGI); this costs nothing when EDGAR sends no validators and
    saves the body when it does, and a 304 still counts against the limiter like any request."""
    headers = {}
    if validators.get("etag"):
        headers["If-None-Match"] = validators["etag"]
    if validators.get("last_modified"):
        headers["If-Modified-Since"] = validators["last_modified"]
    answer = await _edgar_request(session, source, url, params=params, headers=headers, ok={200, 304})
    if answer.status == 304:
        return Conditional(None, dict(validators))
    fresh = {k: v for k, v in (("etag", answer.etag), ("last_modified", answer.last_modified)) if v}
    return Conditional(answer.body, fresh)


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None


async def _edgar_request(
    session: aiohttp.ClientSession,
    source: EdgarSourceConfig,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    feed_page: int = 0,
    ok: set[int] | None = None,
) -> _Answer:
    ua = require_user_agent(source)
    gate = edgar_gate(source.max_rps)
    remaining = gate.blocked_until - gate.clock()
    if remaining > 0:
        raise SourceError(
            SOURCE, f"backing off for {remaining:.0f}s after {gate.blocked_reason}", retry_after_s=remaining
        )
    async with gate.limiter:
        try:
            resp, body = await request_bytes(
                session,
                "GET",
                url,
                source=SOURCE,
                params=params,
                headers={"User-Agent": ua, "Accept-Encoding": "gzip, deflate", **(headers or {})},
                timeout_s=source.timeout_s,
            )
            if resp.status not in (ok or {200}):
                detail = _describe_body(resp, body)
                raise SourceError(SOURCE, f"HTTP {resp.status}{detail}", retry_after_s=_retry_after(resp))
        except SourceError as err:
            m = _STATUS_RE.match(err.message)
            status = int(m.group(1)) if m else None
            if status == 503 and feed_page > 0:
                raise EndOfFeed from err
            if status in DEFAULT_BACKOFF_S:
                retry = err.retry_after_s if err.retry_after_s else DEFAULT_BACKOFF_S[status]
                gate.blocked_until = max(gate.blocked_until, gate.clock() + retry)
                gate.blocked_reason = f"HTTP {status} from {urlsplit(url).path}"
                raise SourceError(
                    SOURCE,
                    f"{err.message} from {urlsplit(url).path}; backing off {retry:g}s",
                    retry_after_s=retry,
                ) from err
            raise SourceError(SOURCE, f"{err.message} ({urlsplit(url).path})") from err
    return _Answer(resp.status, body, resp.headers.get("ETag"), resp.headers.get("Last-Modified"))


def _decode(body: bytes) -> str:
    for encoding in ("utf-8", "cp1252"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    return body.decode("latin-1")


@dataclass(frozen=True)
class FilingDocuments:
    primary_url: str
    primary: str
    exhibits: list[str] = field(default_factory=list)


def index_url(source: EdgarSourceConfig, ref: FilingRef) -> str:
    return f"{source.www_url.rstrip('/')}{ref.folder}/{ref.accession}-index.htm"


async def fetch_filing_documents(
    session: aiohttp.ClientSession, source: EdgarSourceConfig, ref: FilingRef
) -> FilingDocuments:
    """The primary document and up to two EX-99 press releases of a filing."""
    folder_url = f"{source.www_url.rstrip('/')}{ref.folder}"
    primary_url: str | None = None
    exhibit_urls: list[str] = []
    try:
        index_html = _decode(await edgar_get(session, source, index_url(source, ref)))
        primary_url, exhibit_urls = parse_index(index_html, folder_url)
    except SourceError:
        if ref.primary_document is None:
            raise
    if primary_url is None:
        if ref.primary_document is None:
            raise SourceError(SOURCE, f"filing index of {ref.accession} lists no documents")
        primary_url = f"{folder_url}/{ref.primary_document.rsplit('/', 1)[-1]}"
    primary = _decode(await edgar_get(session, source, primary_url))
    exhibits = [_decode(await edgar_get(session, source, url)) for url in exhibit_urls if url != primary_url]
    return FilingDocuments(primary_url, primary, exhibits)


async def fetch_filing_document(
    session: aiohttp.ClientSession, source_cfg: EdgarSourceConfig, url: str
) -> str:
    """The text (HTML) of one EDGAR document, for ``python -m bot filing URL``. A filing index URL
    (``...-index.htm``) is resolved to its primary document. Uses the shared limiter and the
    declared User-Agent (EdgarConfigError without one)."""
    require_user_agent(source_cfg)
    body = _decode(await edgar_get(session, source_cfg, url))
    if re.search(r"-index\.html?$", urlsplit(url).path):
        folder = url.rsplit("/", 1)[0]
        primary, _ = parse_index(body, folder)
        if primary is None:
            raise SourceError(SOURCE, "the filing index lists no documents")
        return _decode(await edgar_get(session, source_cfg, primary))
    return body
