"""The debt ledger's engine step (issue 14): filing documents -> stored ledger -> ``debt.<ticker>``
observations and ``debt``/``maturity`` events through the normal ingest path.

Live: the filings watcher records each new filing of a watched miner as an event (``filing`` for
8-K/6-K/424B, ``report`` for 10-Q/10-K/20-F/40-F). Right after its poll, :func:`follow_filings`
takes the events whose document the ledger has not recorded yet, fetches each document through the
EDGAR client (its one 10 req/s limiter), reads it off the event loop (:func:`asyncio.to_thread`),
then applies it on the database thread (:func:`apply_live`): the ledger is stored, the new total is
ingested as ``debt.<ticker>`` (rules judge it) and the change as one ``debt`` event keyed by ticker
and document (announced once to ``/alert debt`` rules). A crash between the two is caught on the
next poll: an event whose accession the ledger has not recorded is still pending.

Bootstrap (:func:`bootstrap`, the ``ledger:sync`` job and ``python -m bot ledger sync``): each
watched miner's last years of relevant filings from its submissions JSON, oldest first, one document
at a time (bounded memory), resumable: the cursor of each miner is stored with the document it
follows, in the ``ledger`` watcher state. Bootstrapped documents build history (observations at
their filing time) and are never announced: they are the past, not news. Live changes of a miner
are announced only once its bootstrap is done (before, "debt $0 -> $X" would be false).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlite_utils import Database

from bot.engine import edgar_walk
from bot.engine.dbworker import DbWorker
from bot.engine.ingest import ingest, refresh_equity
from bot.engine.rule_eval import IngestOptions, cached_rule
from bot.ledger_cli import IngestResult, Prepared, commit, prepare
from rules.data import Event, Observation
from rules.ledger import Ledger, LedgerChange, debt_observation, ledger_changes
from rules.maturity import maturity_events
from rules.model import EventRule
from storage import ledger as store
from storage import observations, watcher_state
from storage import rules as rule_store
from storage.clock import parse_iso
from watchers.base import PollResult, SourceError
from watchers.filings.config import EdgarSourceConfig
from watchers.filings.model import DEBT_KINDS
from watchers.filings.parse import form_matches
from watchers.ledger import fetch
from watchers.ledger.bootstrap import PlannedDocument, relevant
from watchers.ledger.config import LEDGER_FORMS

logger = logging.getLogger(__name__)

LEDGER_ID = "ledger"  # watcher_state id: bootstrap progress and cursors
LIVE_LOOKBACK = timedelta(days=30)  # filing events older than this are left to the bootstrap
SOURCE = "sec-filings"
EXHIBIT_FORMS = ("8-K", "6-K")  # forms whose EX-99 releases are read with the primary document
Cursor = dict[str, str] | None  # where a miner's walk resumes; None: leave it where it is


# ------------------------------------------------------------------------------------- on the db


def _state(db: Database) -> dict[str, Any]:
    return watcher_state.load_state(db, LEDGER_ID)


def bootstrap_progress(db: Database) -> dict[str, Any]:
    """{"total", "done": [...], "current", "finished_at"} of the bootstrap ({} before it starts)."""
    boot = _state(db).get("bootstrap")
    return dict(boot) if isinstance(boot, dict) else {}


def _announce_allowed(db: Database, ticker: str, bootstrap_on: bool) -> bool:
    if not bootstrap_on:
        return True
    done = bootstrap_progress(db).get("done") or []
    return ticker in done


def debt_event(result: IngestResult, prepared: Prepared, changes: Sequence[LedgerChange]) -> Event | None:
    """The one ``debt`` event of a document that changed a ledger (None when nothing a reader sees did)."""
    if not changes or result.after is None or prepared.doc is None:
        return None
    src = prepared.doc.source
    ticker = result.after.ticker
    at_text = src.filed or src.period
    return Event(
        kind="debt",
        key=f"debt:{ticker}:{prepared.doc_key}",
        at=filing_time(at_text),
        source=SOURCE,
        data={
            "ticker": ticker,
            "document": prepared.document,
            "form": src.form,
            "period": src.period,
            "filed": src.filed,
            "accession": src.accession,
            "as_of": result.after.latest_period,
            "total_before_usd": result.before.total_debt_principal_usd if result.before else None,
            "total_after_usd": result.after.total_debt_principal_usd,
            "changes": [_change_json(c, result.after) for c in changes],
        },
    )


def _change_json(c: LedgerChange, after: Ledger) -> dict[str, Any]:
    t = next((x for x in after.tranches if x.instrument == c.instrument), None)
    return {
        "kind": c.kind,
        "instrument": c.instrument,
        "tranche_kind": t.kind if t else None,
        "coupon_pct": t.coupon_pct if t else None,
        "maturity": t.maturity if t else None,
        "before_usd": c.before_usd,
        "after_usd": c.after_usd,
        "terms": list(c.terms),
    }


def filing_time(text: str | None) -> datetime:
    """A filing's time from its ISO text (a date alone is its midnight UTC)."""
    try:
        parsed = parse_iso(text)
    except ValueError:
        parsed = None
    return parsed or datetime(1970, 1, 1, tzinfo=UTC)


def _ingest(
    db: Database, obs: list[Observation], events: list[Event], now: datetime, opts: IngestOptions
) -> int:
    if not obs and not events:
        return 0
    _, queued = ingest(db, LEDGER_ID, PollResult(observations=obs, events=events), _state(db), now, opts)
    return queued


def apply_live(
    db: Database,
    prepared: Prepared,
    *,
    at: datetime,
    now: datetime,
    opts: IngestOptions,
    bootstrap_on: bool = True,
) -> tuple[IngestResult, int]:
    """Apply one live document (on the database thread); ingest the new total and the change.
    Returns (what became of the document, messages queued)."""
    result = commit(db, prepared, now=now)
    if result.status != "applied" or not result.changed or result.after is None or result.before is None:
        return result, 0
    obs = debt_observation(result.after, at)
    changes = ledger_changes(result.before, result.after)
    event = debt_event(result, prepared, changes)
    events: list[Event] = []
    if event is not None:
        events.append(event if _announce_allowed(db, result.after.ticker, bootstrap_on) else _silent(event))
    queued = _ingest(db, [obs] if obs else [], events, now, opts)
    # mcap, convert, dilution, leverage of this miner read its ledger: recompute them now (issue 15)
    queued += refresh_equity(db, [result.after.ticker], now, opts, at=now)
    queued += check_maturities(db, now, opts)
    return result, queued


def _silent(event: Event) -> Event:
    return Event(event.kind, event.key, event.at, event.source, event.data, announce=False)


def apply_history(
    db: Database, prepared: Prepared, *, at: datetime, now: datetime, ticker: str, cursor: Cursor
) -> IngestResult:
    """Apply one bootstrap document (on the database thread): the ledger, its total as history at the
    document's filing time (no rule judges the past), and the ticker's cursor (unless None: a retried
    older document leaves it where it is), together."""
    result = commit(db, prepared, now=now)
    if result.status == "applied" and result.changed and result.after is not None:
        obs = debt_observation(result.after, at)
        if obs is not None:
            observations.insert_observations(db, [obs])
    if cursor is not None:
        state = _state(db)
        boot = state.setdefault("bootstrap", {})
        boot.setdefault("cursors", {})[ticker] = cursor
        watcher_state.save_success(db, LEDGER_ID, state, now)
    return result


def update_progress(db: Database, now: datetime, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into the bootstrap progress (``done_ticker=`` appends one miner)."""
    state = _state(db)
    boot = state.setdefault("bootstrap", {})
    boot.setdefault("done", [])
    done_ticker = changes.pop("done_ticker", None)
    boot.update(changes)
    if done_ticker is not None and done_ticker not in boot["done"]:
        boot["done"].append(done_ticker)
    watcher_state.save_success(db, LEDGER_ID, state, now)
    return dict(boot)


def check_maturities(db: Database, now: datetime, opts: IngestOptions) -> int:
    """Announce, once per tranche, date and threshold, the maturities and puts that came within the
    days of a ``maturity < Nd`` rule."""
    thresholds = set()
    for row in rule_store.rules_for_metric(db, "event:maturity"):
        rule = cached_rule(row.text)
        if isinstance(rule, EventRule) and rule.within_s:
            thresholds.add(rule.within_s)
    if not thresholds:
        return 0
    ledgers = [lg for t in store.tickers(db) if (lg := store.load_ledger(db, t)) is not None]
    events = maturity_events(ledgers, now, thresholds)
    if not events:
        return 0
    _, queued = ingest(db, LEDGER_ID, PollResult(events=events), _state(db), now, opts)
    return queued


def skipped(document: str, doc_key: str, ticker: str, note: str) -> Prepared:
    """A document that could not be fetched: recorded as skipped with the reason; the ledger is unchanged."""
    return Prepared(document, doc_key, "", ticker, None, note)


# ------------------------------------------------------------------------------------------ live


@dataclass
class LedgerRun:
    """What one live step or bootstrap did (for the log and the CLI)."""

    applied: int = 0
    skipped: list[str] = field(default_factory=list)
    queued: int = 0
    stopped: str | None = None  # why it stopped early (SEC asked to back off)
    retrying: list[str] = field(default_factory=list)  # documents to read again on the next run


def wanted(data: dict[str, Any], tickers: Sequence[str]) -> bool:
    """Whether a filing/report event's document can change a watched miner's ledger: a report of a
    relevant form, or a filing the filings watcher classified as debt."""
    ticker = str(data.get("ticker") or "").upper()
    if not ticker or ticker not in tickers or not form_matches(str(data.get("form") or ""), LEDGER_FORMS):
        return False
    return "kind" not in data or data.get("kind") in DEBT_KINDS


async def fetch_document(
    session: aiohttp.ClientSession,
    source: EdgarSourceConfig,
    *,
    form: str,
    cik: int,
    accession: str,
    primary_document: str | None = None,
    url: str | None = None,
) -> tuple[str, bytes, list[str]]:
    """(URL, bytes, EX-99 texts) of what the ledger reads of a filing: an 8-K or 6-K with its
    press releases (their pricing terms are often stated only there), any other form alone."""
    if form.upper().removesuffix("/A") in EXHIBIT_FORMS:
        name = primary_document or (url.rsplit("/", 1)[-1] if url else None)
        return await fetch.issuance_documents(
            session, source, cik=cik, accession=accession, primary_document=name
        )
    if url is None:
        url = await fetch.primary_url(
            session, source, cik=cik, accession=accession, primary_document=primary_document
        )
    return url, await fetch.document_bytes(session, source, url), []


async def follow_filings(
    db: DbWorker,
    session: aiohttp.ClientSession,
    source: EdgarSourceConfig,
    tickers: Sequence[str],
    clock: Callable[[], datetime],
    opts: IngestOptions,
    *,
    bootstrap_on: bool = True,
) -> LedgerRun:
    """Read every new filing of a watched miner the ledger has not recorded yet (see the module doc)."""
    run = LedgerRun()
    pending = await db(store.unapplied_filings, clock() - LIVE_LOOKBACK)
    for row in pending:
        data = row["data"]
        if not wanted(data, tickers):
            continue
        accession, ticker = str(data["accession"]), str(data["ticker"]).upper()
        try:
            url, body, exhibits = await fetch_document(
                session,
                source,
                form=str(data.get("form") or ""),
                cik=int(data["cik"]),
                accession=accession,
                primary_document=data.get("primary_document"),
            )
        except SourceError as err:
            if err.retry_after_s is not None:
                run.stopped = err.message
                break  # SEC asked us to wait: the rest stays pending for the next poll
            prepared = skipped(
                str(data.get("url") or accession), accession, ticker, f"{accession}: {err.message}"
            )
        else:
            prepared = await asyncio.to_thread(
                prepare,
                body,
                document=url,
                form=str(data.get("form") or "") or None,
                filed=str(data.get("filed_at") or "")[:10] or None,
                accession=accession,
                ticker=ticker,
                items=tuple(data.get("items") or ()),
                exhibits=exhibits,
            )
            del body, exhibits
        at = filing_time(str(data.get("filed_at") or row["at"]))
        result, queued = await db(
            apply_live, prepared, at=at, now=clock(), opts=opts, bootstrap_on=bootstrap_on
        )
        run.queued += queued
        if result.status == "skipped":
            run.skipped.append(result.note)
            logger.warning("ledger: %s skipped: %s", ticker, result.note)
        else:
            run.applied += int(result.status == "applied")
            logger.info("ledger: %s %s %s (%s)", ticker, data.get("form"), result.status, accession)
    return run


# ------------------------------------------------------------------------------------- bootstrap


async def bootstrap(
    db: DbWorker,
    session: aiohttp.ClientSession,
    source: EdgarSourceConfig,
    tickers: Sequence[str],
    clock: Callable[[], datetime],
    *,
    years: int = 3,
    say: Callable[[str], None] | None = None,
) -> LedgerRun:
    """Each watched miner's filing history (see the module doc). Resumable; run it again to catch up."""
    run = LedgerRun()
    say = say or logger.info

    async def read(
        ticker: str, doc: PlannedDocument, index: int, total: int, *, cursor: Cursor, last_try: bool
    ) -> None:
        try:
            _url, body, exhibits = await fetch_document(
                session, source, form=doc.form, cik=doc.cik, accession=doc.accession, url=doc.url
            )
        except SourceError as err:
            if err.retry_after_s is not None:
                raise
            if not last_try:
                raise edgar_walk.TryLater(err.message) from err
            prepared = skipped(doc.url, doc.accession, ticker, f"{doc.accession}: {err.message}")
        else:
            prepared = await asyncio.to_thread(
                prepare,
                body,
                document=doc.url,
                form=doc.form,
                filed=doc.filed,
                accession=doc.accession,
                ticker=ticker,
                items=doc.items,
                exhibits=exhibits,
            )
            del body, exhibits
        result = await db(
            apply_history,
            prepared,
            at=filing_time(doc.accepted),
            now=clock(),
            ticker=ticker,
            cursor=cursor,
        )
        if result.status == "skipped":
            run.skipped.append(result.note)
            say(f"ledger bootstrap: {ticker} {doc.form} {doc.filed} skipped: {result.note}")
        else:
            run.applied += int(result.status == "applied")
            logger.debug("ledger bootstrap: %s %d/%d %s %s", ticker, index, total, doc.form, doc.filed)

    async def already_read(ticker: str) -> set[str]:
        return set(await db(store.recorded_doc_keys, ticker))

    walked = await edgar_walk.walk(
        db,
        session,
        source,
        tickers,
        clock,
        label="ledger bootstrap",
        years=years,
        keep=relevant,
        progress=update_progress,
        read=read,
        already_read=already_read,
        say=say,
    )
    run.skipped[:0] = walked.skipped  # the walk's own skips (no CIK, no submissions) come first
    run.stopped, run.retrying = walked.stopped, walked.retrying
    return run
