"""The filings watcher (issue 5): new financing filings of listed miners at SEC EDGAR, with their terms.

Data path
---------
* Tickers -> CIKs through ``{www_url}/files/company_tickers.json`` (cached in the watcher state and
  refreshed daily; the CIK table of ``shared/reference/data-sources.md`` §6.2 is the fallback).
* New filings come from the latest-filings Atom feed (``getcurrent``, all forms, paged 100 at a
  time until it reaches back past the previous poll), filtered here to the watched CIKs and forms.
  Paging past the feed's end answers HTTP 503 with an HTML page: that is the end of the feed, not
  an outage (a 503 on the *first* page is an outage).
* The per-company submissions JSON (``{data_url}/submissions/CIK##########.json``) is the catch-up
  path: on the first run (to record what exists), when the last successful poll is older than the
  feed reached back, when the feed fails, and every few hours as a reconciliation.
* Each new filing of a watched company and form: its index page gives the primary document and
  the EX-99.1/EX-99.2 press releases; :func:`watchers.filings.analyse.analyse_filing` classifies it and
  reads its terms; one :class:`Event` ``filing:<accession>`` is emitted.

Identity and first run
----------------------
A filing is keyed on its accession number and announced once: seen accessions are kept in the
watcher state (bounded by age and count), and the runner also dedups Events by key. The first run
(empty state) records what exists and announces nothing. After downtime, filings newer than the
last successful poll (minus a grace period, at most :data:`MAX_CATCHUP_AGE` back) are announced;
older unseen ones are recorded silently.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from rules.data import Event
from watchers.base import PollContext, PollResult, SourceError
from watchers.filings.analyse import analyse_filing
from watchers.filings.client import (
    EndOfFeed,
    edgar_get,
    edgar_get_conditional,
    fetch_filing_documents,
    index_url,
)
from watchers.filings.config import SOURCE, EdgarSourceConfig, FilingsWatcherConfig, require_user_agent
from watchers.filings.model import FilingInfo
from watchers.filings.operations import OPERATING_KINDS, extract_operations
from watchers.filings.parse import (
    FilingRef,
    _iso,
    _parse_iso,
    form_matches,
    parse_company_tickers,
    parse_feed,
    parse_submissions,
)
from watchers.filings.state import FilingsState
from watchers.filings.summary import summary_line

logger = logging.getLogger(__name__)

# shared/reference/data-sources.md §6.2 (2024-05 company_tickers.json snapshot; GLXY from EDGAR).
FALLBACK_CIKS: dict[str, tuple[int, str]] = {
    "MARA": (1507605, "MARA Holdings, Inc."),
    "RIOT": (1167419, "Riot Platforms, Inc."),
    "CLSK": (827876, "CleanSpark, Inc."),
    "CORZ": (1839341, "Core Scientific, Inc."),
    "IREN": (1878848, "IREN Ltd"),
    "BITF": (1812477, "Bitfarms Ltd"),
    "WULF": (1083301, "TeraWulf Inc."),
    "HUT": (1964789, "Hut 8 Corp."),
    "CIFR": (1819989, "Cipher Mining Inc."),
    "BTDR": (1899123, "Bitdeer Technologies Group"),
    "HIVE": (1720424, "HIVE Digital Technologies Ltd."),
    "BTBT": (1710350, "Bit Digital, Inc"),
    "GLXY": (1859392, "Galaxy Digital Inc."),
    "APLD": (1144879, "Applied Digital Corp."),
    "MSTR": (1050446, "Strategy Inc"),
}

FEED_TYPE = ""  # getcurrent ``type``: all forms (filtered here), as in the recorded feed pages
FEED_PAGE_SIZE = 100
MAX_FEED_PAGES = 10  # per poll: 1,000 entries, far more than EDGAR disseminates in a minute
FEED_HORIZON = timedelta(hours=1)  # a feed read to its end surely reaches back this far
# The feed is read back to this much before the last poll (clock skew, an entry disseminated a
# little after its acceptance time). At the 15 s default one page of 100 entries reaches back past
# it unless EDGAR disseminates over 40 filings a minute, so a read is one request; a later entry
# older than this is still found by the submissions reconciliation (RECONCILE_EVERY).
FEED_OVERLAP = timedelta(minutes=2)
TICKERS_MAX_AGE = timedelta(days=1)


class FilingsWatcher:
    """Implements :class:`watchers.base.Watcher`: ``poll`` returns ``filing`` Events."""

    id = "filings"

    def __init__(
        self, cfg: FilingsWatcherConfig, source: EdgarSourceConfig, *, report_forms: Sequence[str] = ()
    ) -> None:
        if cfg.enabled:
            require_user_agent(source)
        self.cfg = cfg
        self.source = source
        self.tickers = [t.strip().upper() for t in cfg.tickers if t.strip()]
        self.forms = list(cfg.forms)
        # Periodic reports followed for the debt ledger (issue 14): reported as ``report`` events
        # (no document fetched here, nothing announced to ``filings`` rules); the engine reads them.
        self.report_forms = [f for f in report_forms if not form_matches(f, self.forms)]
        self.all_forms = [*self.forms, *self.report_forms]

    # -- tickers ------------------------------------------------------------------------------

    async def _resolve(
        self, ctx: PollContext, state: FilingsState, result: PollResult
    ) -> dict[int, tuple[str, str]]:
        """{cik: (ticker, name)} for the watch list."""
        cache = state.tickers
        fetched_at = _parse_iso(cache.get("fetched_at")) if isinstance(cache, dict) else None
        mapping: dict[str, Any] | None = cache.get("map") if isinstance(cache, dict) else None
        fresh = fetched_at is not None and ctx.now - fetched_at < TICKERS_MAX_AGE
        same_list = isinstance(cache, dict) and cache.get("for") == sorted(self.tickers)
        if not fresh or not isinstance(mapping, dict) or not same_list:
            url = f"{self.source.www_url.rstrip('/')}/files/company_tickers.json"
            try:
                body = await edgar_get(ctx.session, self.source, url)
                try:
                    payload = json.loads(body)
                except (json.JSONDecodeError, UnicodeDecodeError) as err:
                    raise SourceError(SOURCE, "company_tickers.json is not JSON") from err
                table = parse_company_tickers(payload)
                mapping = {t: list(table[t]) for t in self.tickers if t in table}
                state.tickers = {
                    "fetched_at": _iso(ctx.now),
                    "for": sorted(self.tickers),
                    "map": mapping,
                }
            except SourceError as err:
                if err.retry_after_s is not None:
                    raise
                result.errors["edgar.tickers"] = f"{err.message}; using the cached or built-in CIKs"
                if not isinstance(mapping, dict):
                    mapping = {}
        out: dict[int, tuple[str, str]] = {}
        unknown: list[str] = []
        for ticker in self.tickers:
            row = mapping.get(ticker) if mapping else None
            if row is None and ticker in FALLBACK_CIKS:
                row = list(FALLBACK_CIKS[ticker])
            if row is None:
                unknown.append(ticker)
                continue
            out.setdefault(int(row[0]), (ticker, str(row[1])))
        if unknown:
            result.errors["edgar.tickers.unknown"] = f"no CIK for {', '.join(unknown)}"
        return out

    # -- detection ----------------------------------------------------------------------------

    async def _read_feed(
        self, ctx: PollContext, ciks: Mapping[int, Any], since: datetime | None, state: FilingsState
    ) -> tuple[list[FilingRef], bool]:
        """(watched filings in the feed, whether the feed reached back to ``since``).

        One all-forms query (``type=``, as in the recorded feed pages), filtered here by CIK and
        form: EDGAR's ``type`` filter semantics for prefixes (424B*, 8-K vs 8-K/A) are not
        documented, and a single feed paged back to the last poll costs 1-2 requests a minute
        where one query per form would cost a dozen. Without ``since`` (first run) only the first
        page is read: the submissions JSON records the rest."""
        url = f"{self.source.www_url.rstrip('/')}/cgi-bin/browse-edgar"
        found: list[FilingRef] = []
        covered = False
        for page in range(MAX_FEED_PAGES if since is not None else 1):
            params = {
                "action": "getcurrent",
                "type": FEED_TYPE,
                "company": "",
                "dateb": "",
                "owner": "include",
                "start": str(page * FEED_PAGE_SIZE),
                "count": str(FEED_PAGE_SIZE),
                "output": "atom",
            }
            try:
                if page == 0 and since is not None:
                    answer = await edgar_get_conditional(
                        ctx.session, self.source, url, state.feed_validators, params=params
                    )
                    state.feed_validators = answer.validators
                    if answer.body is None:  # 304: nothing new since the last read, which was complete
                        return found, state.feed_covered
                    body = answer.body
                else:
                    body = await edgar_get(ctx.session, self.source, url, params=params, feed_page=page)
            except EndOfFeed:
                covered = since is not None and since >= ctx.now - FEED_HORIZON
                break
            entries = parse_feed(body)
            found.extend(e for e in entries if e.cik in ciks and form_matches(e.form, self.all_forms))
            if since is not None and any(e.filed_at <= since - FEED_OVERLAP for e in entries):
                covered = True
                break
            if len(entries) < FEED_PAGE_SIZE:
                covered = since is not None and since >= ctx.now - FEED_HORIZON
                break
        return found, covered

    async def _read_submissions(
        self, ctx: PollContext, ciks: Mapping[int, Any], result: PollResult
    ) -> tuple[list[FilingRef], bool]:
        """(watched filings of every company's submissions JSON, whether all companies answered)."""
        found: list[FilingRef] = []
        complete = True
        for cik in ciks:
            url = f"{self.source.data_url.rstrip('/')}/submissions/CIK{cik:010d}.json"
            try:
                body = await edgar_get(ctx.session, self.source, url)
                try:
                    payload = json.loads(body)
                except (json.JSONDecodeError, UnicodeDecodeError) as err:
                    raise SourceError(SOURCE, f"submissions of CIK {cik} are not JSON") from err
                rows = parse_submissions(payload)
            except SourceError as err:
                if err.retry_after_s is not None:
                    raise
                result.errors[f"edgar.submissions.{cik}"] = err.message
                complete = False
                continue
            found.extend(r for r in rows if form_matches(r.form, self.all_forms))
        return found, complete

    # -- describing ---------------------------------------------------------------------------

    def _event(
        self,
        ref: FilingRef,
        info: FilingInfo,
        names: Mapping[int, tuple[str, str]],
        *,
        note: str | None = None,
        operations: dict[str, Any] | None = None,
    ) -> Event:
        ticker, fallback_name = names.get(ref.cik, (None, str(ref.cik)))
        company = ref.company or fallback_name
        terms = dict(info.terms)
        data: dict[str, Any] = {
            "accession": ref.accession,
            "cik": ref.cik,
            "ticker": ticker,
            "company": company,
            "form": ref.form,
            "items": list(ref.items),
            "kind": info.kind,
            "terms": terms,
            "amount_usd": info.amount_usd,
            "url": index_url(self.source, ref),
            "filed_at": _iso(ref.filed_at),
            "summary": summary_line(
                company=company, ticker=ticker, form=ref.form, info=info, filed_at=ref.filed_at
            ),
        }
        if note:
            data["note"] = note
        if operations:
            data["operations"] = operations  # the miner book's figures (issue 19)
        return Event(kind="filing", key=f"filing:{ref.accession}", at=ref.filed_at, source=SOURCE, data=data)

    def _report_event(self, ref: FilingRef, names: Mapping[int, tuple[str, str]]) -> Event:
        """A new periodic report (10-Q/10-K/20-F/40-F) of a watched miner: what the ledger needs to
        fetch it. Its document is not fetched here (3-4 MB; the ledger fetches it once)."""
        ticker, fallback_name = names.get(ref.cik, (None, str(ref.cik)))
        data: dict[str, Any] = {
            "accession": ref.accession,
            "cik": ref.cik,
            "ticker": ticker,
            "company": ref.company or fallback_name,
            "form": ref.form,
            "items": list(ref.items),
            "primary_document": ref.primary_document,
            "url": index_url(self.source, ref),
            "filed_at": _iso(ref.filed_at),
        }
        return Event(kind="report", key=f"report:{ref.accession}", at=ref.filed_at, source=SOURCE, data=data)

    # -- poll ---------------------------------------------------------------------------------

    async def poll(self, ctx: PollContext) -> PollResult:
        require_user_agent(self.source)
        result = PollResult()
        state = FilingsState.load(ctx.state)

        names = await self._resolve(ctx, state, result)
        if not names:
            raise SourceError(SOURCE, "no watched ticker could be resolved to a CIK")
        refs = await self._find(ctx, state, names, result)

        if state.first_run:
            state.record_existing(refs, ctx.now)
            logger.info("filings: first run recorded %d existing filings without announcing", len(state.seen))
        else:
            cutoff = state.announce_after(ctx.now)
            for ref in sorted(refs, key=lambda r: r.filed_at):
                if state.is_seen(ref.accession):
                    continue
                if ref.filed_at < cutoff:
                    state.record(ref)  # too old to announce: record silently
                    continue
                if not form_matches(ref.form, self.forms):  # a periodic report, for the ledger
                    state.record(ref)
                    result.events.append(self._report_event(ref, names))
                    continue
                event = await self._describe(ctx, state, ref, names, result)
                if event is not None:
                    state.record(ref)
                    result.events.append(event)

        state.finish(ctx.now)
        state.save(ctx.state)
        return result

    async def _find(
        self, ctx: PollContext, state: FilingsState, names: Mapping[int, Any], result: PollResult
    ) -> list[FilingRef]:
        """Every candidate filing of this poll: the feed, the submissions JSON when the feed is not
        enough (see :meth:`FilingsState.needs_submissions`), and the filings still pending."""
        refs: dict[str, FilingRef] = {}
        feed_answered = False
        covered = False
        try:
            feed_refs, covered = await self._read_feed(ctx, names, state.feed_since(), state)
            state.feed_covered = covered
            feed_answered = True
            for r in feed_refs:
                refs.setdefault(r.accession, r)
        except SourceError as err:
            if err.retry_after_s is not None:
                raise
            result.errors["edgar.feed"] = err.message

        if state.needs_submissions(ctx.now, feed_answered=feed_answered, feed_covered=covered):
            sub_refs, complete = await self._read_submissions(ctx, names, result)
            for r in sub_refs:
                known = refs.get(r.accession)
                if known is None:
                    refs[r.accession] = r
                elif known.primary_document is None:
                    # the feed's name and time, the submissions' primary document and items
                    refs[r.accession] = FilingRef(
                        known.accession, known.cik, known.company, known.form, known.filed_at,
                        known.items or r.items, r.primary_document,
                    )  # fmt: skip
            if complete:
                state.last_reconcile = ctx.now
            if not feed_answered and not complete and not sub_refs:
                raise SourceError(SOURCE, "neither the latest-filings feed nor any submissions JSON answered")

        for ref in state.retries():
            refs.setdefault(ref.accession, ref)  # retried even once the feed has moved past it
        return list(refs.values())

    async def _describe(
        self,
        ctx: PollContext,
        state: FilingsState,
        ref: FilingRef,
        names: Mapping[int, tuple[str, str]],
        result: PollResult,
    ) -> Event | None:
        """The Event of a new filing, or None when its documents failed and it is retried later.
        After MAX_DOC_TRIES failed polls it is announced from its form and items alone."""
        try:
            docs = await fetch_filing_documents(ctx.session, self.source, ref)
        except SourceError as err:
            if err.retry_after_s is not None:
                raise
            if state.document_failed(ref):
                result.errors[f"edgar.filing.{ref.accession}"] = f"{err.message} (will retry)"
                return None
            info = analyse_filing("", form=ref.form, items=ref.items)
            return self._event(ref, info, names, note=f"documents unavailable: {err.message}")
        info = analyse_filing(docs.primary, form=ref.form, items=ref.items, exhibits=docs.exhibits)
        operations = None
        if info.kind in OPERATING_KINDS:
            ops = extract_operations(docs.primary, exhibits=docs.exhibits)
            operations = None if ops.empty else ops.to_json()
        return self._event(ref, info, names, operations=operations)
