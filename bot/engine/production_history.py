"""The miner book's history from EDGAR (issue 19): each watched miner's past production updates and
earnings releases, read from the same filing history the debt ledger walks, stored as history.

A sibling of the ledger bootstrap (:func:`bot.engine.ledger.bootstrap`), walked by the same
:func:`bot.engine.edgar_walk.walk` with its own cursor: the same submissions JSON and years window,
but the filings that carry releases (6-Ks; 8-Ks under Item 2.02/7.01/8.01,
:func:`watchers.ledger.bootstrap.release`), oldest first. Each filing's index, primary document
and EX-99.1/99.2 are fetched as the live filings watcher fetches them
(:func:`watchers.filings.client.fetch_filing_documents`, through the one 10 req/s EDGAR limiter),
classified and read off the event loop by the same code (``analyse_filing``, then
``extract_operations`` for production updates, earnings releases and HPC announcements), then
stored on the database thread by :func:`bot.engine.production.record` at the filing's own time,
with the ticker's cursor, together. Its ``production``/``treasury`` events are dropped and no rule
judges the observations: the past is history, not news. Resumable: a restart starts after the last
filing stored; SEC's "slow down" stops the walk until the next run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from sqlite_utils import Database

from bot.engine import edgar_walk, production
from bot.engine.dbworker import DbWorker
from bot.engine.ledger import Cursor, filing_time
from storage import observations, watcher_state
from watchers.base import SourceError
from watchers.filings.analyse import analyse_filing
from watchers.filings.client import fetch_filing_documents
from watchers.filings.config import EdgarSourceConfig
from watchers.filings.operations import OPERATING_KINDS, extract_operations
from watchers.filings.parse import FilingRef
from watchers.ledger.bootstrap import PlannedDocument, release

logger = logging.getLogger(__name__)

HISTORY_ID = "production-history"  # watcher_state id: cursors and progress of this walk


@dataclass
class HistoryRun:
    """What one walk did (for the log and the CLI)."""

    read: int = 0  # filings fetched and read
    stored: int = 0  # of those, releases whose figures were stored
    skipped: list[str] = field(default_factory=list)
    stopped: str | None = None  # why it stopped early (SEC asked to back off)
    retrying: list[str] = field(default_factory=list)  # filings to read again on the next run


def progress(db: Database) -> dict[str, Any]:
    """{"cursors": {ticker: cursor}, "done": [...], "total", "current", "finished_at"} ({} before)."""
    return dict(watcher_state.load_state(db, HISTORY_ID))


def update_progress(db: Database, now: datetime, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into the walk's progress (``done_ticker=`` appends one miner)."""
    state = watcher_state.load_state(db, HISTORY_ID)
    state.setdefault("done", [])
    done_ticker = changes.pop("done_ticker", None)
    state.update(changes)
    if done_ticker is not None and done_ticker not in state["done"]:
        state["done"].append(done_ticker)
    watcher_state.save_success(db, HISTORY_ID, state, now)
    return dict(state)


def apply_release(
    db: Database,
    ticker: str,
    accession: str,
    ops: dict[str, Any] | None,
    *,
    at: datetime,
    now: datetime,
    url: str | None,
    cursor: Cursor,
) -> int:
    """Store one past filing's figures as history at its filing time (no event, no rule), and the
    ticker's cursor (unless None: a retried older filing leaves it), in one transaction. Returns how
    many observations it stored."""
    stored = 0
    with db.atomic():
        if ops:
            obs, _events = production.record(db, ticker, accession, at, ops, now, url=url)
            stored = observations.insert_observations(db, obs) if obs else 0
        if cursor is not None:
            state = watcher_state.load_state(db, HISTORY_ID)
            state.setdefault("cursors", {})[ticker] = cursor
            watcher_state.save_success(db, HISTORY_ID, state, now)
    return stored


def read_release(
    primary: str, exhibits: list[str], form: str, items: tuple[str, ...]
) -> dict[str, Any] | None:
    """The operating figures of one filing, as the live watcher reads them (None: not a release, or
    a release without figures)."""
    info = analyse_filing(primary, form=form, items=items, exhibits=exhibits)
    if info.kind not in OPERATING_KINDS:
        return None
    ops = extract_operations(primary, exhibits=exhibits)
    return None if ops.empty else ops.to_json()


def _ref(doc: PlannedDocument, ticker: str) -> FilingRef:
    return FilingRef(
        doc.accession,
        doc.cik,
        ticker,
        doc.form,
        filing_time(doc.accepted),
        doc.items,
        doc.url.rsplit("/", 1)[-1],
    )


async def backfill(
    db: DbWorker,
    session: aiohttp.ClientSession,
    source: EdgarSourceConfig,
    tickers: Sequence[str],
    clock: Callable[[], datetime],
    *,
    years: int = 3,
    say: Callable[[str], None] | None = None,
) -> HistoryRun:
    """Each watched miner's past releases (see the module doc). Resumable; run it again to catch up."""
    run = HistoryRun()
    say = say or logger.info

    async def read(
        ticker: str, doc: PlannedDocument, index: int, total: int, *, cursor: Cursor, last_try: bool
    ) -> None:
        ops: dict[str, Any] | None = None
        try:
            docs = await fetch_filing_documents(session, source, _ref(doc, ticker))
        except SourceError as err:
            if err.retry_after_s is not None:
                raise
            if not last_try:
                raise edgar_walk.TryLater(err.message) from err
            run.skipped.append(f"{ticker} {doc.accession}: {err.message}")
            say(f"production history: {ticker} {doc.form} {doc.filed} skipped: {err.message}")
            url = doc.url
        else:
            ops = await asyncio.to_thread(read_release, docs.primary, docs.exhibits, doc.form, doc.items)
            url = docs.primary_url
            del docs
            run.read += 1
        stored = await db(
            apply_release,
            ticker,
            doc.accession,
            ops,
            at=filing_time(doc.accepted),
            now=clock(),
            url=url,
            cursor=cursor,
        )
        run.stored += int(bool(ops))
        logger.info(
            "production history: %s %d/%d %s %s: %s",
            ticker, index, total, doc.form, doc.filed,
            f"{stored} figures stored" if ops else "no figures",
        )  # fmt: skip

    walked = await edgar_walk.walk(
        db,
        session,
        source,
        tickers,
        clock,
        label="production history",
        years=years,
        keep=release,
        progress=update_progress,
        read=read,
        say=say,
        noun="filings",
    )
    run.skipped[:0] = walked.skipped
    run.stopped, run.retrying = walked.stopped, walked.retrying
    return run
