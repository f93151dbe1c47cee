"""The bootstrap's plan (issue 14): which of a miner's filings to fetch to build its ledger. Pure, no I/O.

Given EDGAR's submissions JSON (``data.sec.gov/submissions/CIK##########.json``, newest first, plus any
``filings.files`` pages already fetched), :func:`plan` lists the documents that can change a debt
ledger, from the last ``years`` years, **oldest first** (the order the ledger applies them), after a
stored cursor, so a restart resumes where it stopped. The caller fetches each primary document
through the SEC limiter, calls :func:`bot.ledger_cli.ingest`, then stores :func:`cursor_after`.

Which forms: every 10-K/10-Q (and amendments, 20-F/40-F for foreign filers); 8-Ks whose items can carry
a financing or a change in one (1.01 agreement, 2.03 obligation, 2.04 acceleration, 3.02 shares on
conversion, 8.01 other events), or whose items are not known; 6-Ks (foreign filers' releases); 424B2/
424B5 prospectus supplements (registered notes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from watchers.ledger.filings_api import FilingRef, parse_submissions  # the filings watcher's own parser

PERIODIC = {"10-K", "10-Q", "10-K/A", "10-Q/A", "20-F", "20-F/A", "40-F", "40-F/A", "10-KT", "10-QT"}
DEBT_ITEMS = {"1.01", "2.03", "2.04", "3.02", "8.01"}
PROSPECTUS = {"424B2", "424B5"}
RELEASE_ITEMS = {"2.02", "7.01", "8.01"}  # results, Reg FD and other events: where releases are filed
ARCHIVES = "https://www.sec.gov/Archives/edgar/data"


@dataclass(frozen=True, slots=True)
class PlannedDocument:
    accession: str
    cik: int
    form: str
    filed: str  # ISO date
    accepted: str  # ISO UTC time EDGAR accepted it: the order filings are applied in
    items: tuple[str, ...]
    url: str  # the primary document

    def cursor(self) -> dict[str, str]:
        return {"accepted": self.accepted, "accession": self.accession}


@dataclass(frozen=True, slots=True)
class Plan:
    documents: list[PlannedDocument]  # oldest first, after the cursor
    pages_needed: list[str]  # ``filings.files`` pages (names) reaching back into the window, not given


def relevant(ref: FilingRef) -> bool:
    form = ref.form.upper()
    if form in PERIODIC or form == "6-K" or form in PROSPECTUS:
        return True
    if form in ("8-K", "8-K/A"):
        return not ref.items or bool(DEBT_ITEMS & set(ref.items))
    return False


def release(ref: FilingRef) -> bool:
    """A filing that can carry a production update or an earnings release (issue 19's history walk):
    a 6-K, or an 8-K under Item 2.02/7.01/8.01 (or whose items are not known)."""
    form = ref.form.upper()
    if form == "6-K":
        return True
    if form in ("8-K", "8-K/A"):
        return not ref.items or bool(RELEASE_ITEMS & set(ref.items))
    return False


def plan(
    submissions: Mapping[str, Any],
    *,
    now: datetime,
    years: int = 3,
    cursor: Mapping[str, str] | None = None,
    pages: Sequence[Mapping[str, Any]] = (),
    archives: str = ARCHIVES,
    keep: Callable[[FilingRef], bool] = relevant,
) -> Plan:
    """The documents to fetch, oldest first. ``pages`` are fetched ``filings.files`` pages (flat columns);
    ``archives`` is where the documents are (``{[sources.edgar] www_url}/Archives/edgar/data``);
    ``keep`` picks the filings (the ledger's :func:`relevant`, the production history's :func:`release`)."""
    cutoff = (now - timedelta(days=365 * years + years // 4)).date().isoformat()
    refs = list(parse_submissions(submissions))
    for page in pages:
        refs.extend(parse_submissions({"cik": submissions.get("cik"), "filings": {"recent": page}}))
    seen: set[str] = set()
    docs: list[PlannedDocument] = []
    for ref in refs:
        filed = ref.filed_at.date().isoformat()
        if ref.accession in seen or filed < cutoff or not ref.primary_document or not keep(ref):
            continue
        seen.add(ref.accession)
        url = f"{archives.rstrip('/')}/{ref.cik}/{ref.accession.replace('-', '')}/{ref.primary_document}"
        accepted = ref.filed_at.isoformat()
        docs.append(PlannedDocument(ref.accession, ref.cik, ref.form, filed, accepted, ref.items, url))
    docs.sort(key=lambda d: (d.accepted, d.accession))
    if cursor:
        mark = (cursor.get("accepted", ""), cursor.get("accession", ""))
        docs = [d for d in docs if (d.accepted, d.accession) > mark]
    given = {str(p.get("name")) for p in pages if isinstance(p, Mapping) and p.get("name")}
    needed = [
        str(f["name"])
        for f in (submissions.get("filings", {}).get("files") or [])
        if isinstance(f, Mapping) and str(f.get("filingTo", "")) >= cutoff and str(f.get("name")) not in given
    ]
    return Plan(documents=docs, pages_needed=needed)


def cursor_after(doc: PlannedDocument) -> dict[str, str]:
    """What to store once ``doc`` is applied (or skipped with a note): the next plan starts after it."""
    return doc.cursor()
