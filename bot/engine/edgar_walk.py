"""One walk over each watched miner's EDGAR filing history, shared by the debt ledger's bootstrap
(:func:`bot.engine.ledger.bootstrap`) and the production-history backfill
(:func:`bot.engine.production_history.backfill`).

The walk owns what both have in common: each ticker's CIK, its planned documents after the stored
cursor (oldest first), progress (``current``, ``done``, ``total``, ``finished_at``) and the one rule
for SEC's "slow down": the whole walk stops and resumes on the next run. What a document means is
the caller's :class:`DocumentReader`: it fetches, reads and stores one document (with the cursor, in
one transaction), raises :class:`~watchers.base.SourceError` to stop the walk, and :class:`TryLater`
for a download that failed for a reason that may pass (a 5xx, a timeout, a reset). Such a document
goes on the ticker's retry list in the walk's progress and is read again first on the next runs, up
to :data:`MAX_TRIES` reads in all; on its last try the reader records it as skipped, with the
reason. A retried document never moves the cursor back (the reader gets ``cursor=None``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

import aiohttp

from bot.engine.dbworker import DbWorker
from storage import watcher_state
from storage.clock import iso
from watchers.base import SourceError
from watchers.filings.config import EdgarSourceConfig
from watchers.filings.parse import FilingRef
from watchers.filings.watcher import FALLBACK_CIKS
from watchers.ledger import fetch
from watchers.ledger.bootstrap import PlannedDocument, cursor_after, plan

logger = logging.getLogger(__name__)


MAX_TRIES = 3  # reads of one document across runs before it is recorded as skipped


class TryLater(Exception):
    """The document could not be fetched this time (raised by a reader before its last try)."""


@dataclass
class WalkRun:
    """What one walk did, for the log and the CLI (the readers count what they did themselves)."""

    skipped: list[str] = field(default_factory=list)
    stopped: str | None = None  # why it stopped early (SEC asked to back off)
    retrying: list[str] = field(default_factory=list)  # documents left for the next run


class DocumentReader(Protocol):
    async def __call__(
        self,
        ticker: str,
        doc: PlannedDocument,
        index: int,
        total: int,
        *,
        cursor: dict[str, str] | None,
        last_try: bool,
    ) -> None:
        """Fetch, read and store one document, and ``cursor`` with it unless None; raise
        SourceError to stop the walk, TryLater (unless ``last_try``) to read it on the next run."""


def _retry_entries(state: dict[str, Any], ticker: str) -> list[dict[str, Any]]:
    entries = (state.get("retry") or {}).get(ticker) or []
    return [dict(e) for e in entries if isinstance(e, dict) and isinstance(e.get("doc"), dict)]


def _listing(state: dict[str, Any], ticker: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Every ticker's retry list, with ``ticker``'s replaced by ``entries``."""
    listing = {t: e for t, e in (state.get("retry") or {}).items() if t != ticker}
    if entries:
        listing[ticker] = entries
    return listing


def _planned(raw: dict[str, Any]) -> PlannedDocument:
    return PlannedDocument(**{**raw, "items": tuple(raw.get("items") or ())})


def ciks_for(tickers: Sequence[str], filings_state: dict[str, Any]) -> dict[str, int]:
    """Each ticker's CIK: the filings watcher's cached company_tickers map, else its built-in table."""
    cache = filings_state.get("tickers") if isinstance(filings_state, dict) else None
    mapping = cache.get("map") if isinstance(cache, dict) else None
    out: dict[str, int] = {}
    for t in tickers:
        row = (mapping or {}).get(t) if isinstance(mapping, dict) else None
        if row is None and t in FALLBACK_CIKS:
            row = list(FALLBACK_CIKS[t])
        if row is not None:
            out[t] = int(row[0])
    return out


async def plan_history(
    session: aiohttp.ClientSession,
    source: EdgarSourceConfig,
    cik: int,
    now: datetime,
    years: int,
    cursor: dict[str, str] | None,
    keep: Callable[[FilingRef], bool],
) -> list[PlannedDocument]:
    """A miner's filings to read, oldest first, after ``cursor`` (``keep`` picks them)."""
    sub = await fetch.submissions(session, source, cik)
    archives = f"{source.www_url.rstrip('/')}/Archives/edgar/data"
    first = plan(sub, now=now, years=years, cursor=cursor, archives=archives, keep=keep)
    if not first.pages_needed:
        return first.documents
    pages = []
    for name in first.pages_needed:
        page = await fetch.submissions_page(session, source, name)
        pages.append({**page, "name": name})
    return plan(sub, now=now, years=years, cursor=cursor, pages=pages, archives=archives, keep=keep).documents


async def walk(
    db: DbWorker,
    session: aiohttp.ClientSession,
    source: EdgarSourceConfig,
    tickers: Sequence[str],
    clock: Callable[[], datetime],
    *,
    label: str,
    years: int,
    keep: Callable[[FilingRef], bool],
    progress: Callable[..., dict[str, Any]],
    read: DocumentReader,
    already_read: Callable[[str], Awaitable[set[str]]] | None = None,
    say: Callable[[str], None] | None = None,
    noun: str = "documents",
) -> WalkRun:
    """Walk each ticker's planned documents through ``read``. ``progress(db, now, **changes)``
    stores the walk's progress (``done_ticker=`` appends a miner) and returns it with ``cursors``;
    ``already_read(ticker)`` names accessions to pass over (besides the cursor). ``label`` starts
    every line said ("ledger bootstrap", "production history"), ``noun`` names what it reads."""
    run = WalkRun()
    say = say or logger.info
    tickers = [t.upper() for t in tickers]
    ciks = ciks_for(tickers, await db(watcher_state.load_state, "filings"))
    state = await db(progress, clock(), total=len(tickers), finished_at=None)
    cursors: dict[str, Any] = dict(state.get("cursors") or {})
    for n, ticker in enumerate(tickers, start=1):
        cik = ciks.get(ticker)
        if cik is None:
            run.skipped.append(f"{ticker}: no CIK known")
            say(f"{label}: {ticker} skipped: no CIK known")
            await db(progress, clock(), done_ticker=ticker)
            continue
        await db(progress, clock(), current=ticker)
        try:
            documents = await plan_history(session, source, cik, clock(), years, cursors.get(ticker), keep)
        except SourceError as err:
            if err.retry_after_s is not None:
                run.stopped = err.message
                say(f"{label}: stopped: {err.message}; it resumes on the next run")
                return run
            run.skipped.append(f"{ticker}: {err.message}")
            say(f"{label}: {ticker}: submissions unavailable: {err.message}")
            continue
        passed = await already_read(ticker) if already_read is not None else set()
        retries = _retry_entries(state, ticker)
        listed = {e["doc"].get("accession") for e in retries}
        todo = [d for d in documents if d.accession not in passed and d.accession not in listed]
        total = len(retries) + len(todo)
        say(f"{label}: {ticker} ({n} of {len(tickers)} miners): {total} {noun} to read")
        # the retry list first (the cursor stays where it is), then the new documents in order
        queue = [(_planned(e["doc"]), int(e.get("tries") or 1), None) for e in retries]
        queue += [(d, 0, cursor_after(d)) for d in todo]
        failed: list[dict[str, Any]] = []
        for i, (doc, tries, cursor) in enumerate(queue, start=1):
            try:
                await read(ticker, doc, i, total, cursor=cursor, last_try=tries + 1 >= MAX_TRIES)
            except TryLater as err:
                failed.append({"doc": asdict(doc), "tries": tries + 1, "error": str(err)[:200]})
                run.retrying.append(f"{ticker} {doc.accession}: {err}")
                say(f"{label}: {ticker} {doc.form} {doc.filed} not read ({err}); it is tried again next run")
            except SourceError as err:
                run.stopped = err.message
                say(f"{label}: stopped at {ticker} {doc.accession}: {err.message}; it resumes")
                # this one included: it was not read
                await db(progress, clock(), retry=_listing(state, ticker, failed + retries[i - 1 :]))
                return run
            if retries or failed:
                state = await db(progress, clock(), retry=_listing(state, ticker, failed + retries[i:]))
        await db(progress, clock(), done_ticker=ticker)
        say(f"{label}: {ticker} done ({n} of {len(tickers)} miners)")
    await db(progress, clock(), current=None, finished_at=iso(clock()))
    return run
