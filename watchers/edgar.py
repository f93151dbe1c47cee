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
  the EX-99.1/EX-99.2 press releases; :func:`watchers.filing_terms.analyse_filing` classifies it and
  reads its terms; one :class:`Event` ``filing:<accession>`` is emitted.

Identity and first run
----------------------
A filing is keyed on its accession number and announced once: seen accessions are kept in the
watcher state (bounded by age and count), and the runner also dedups Events by key. The first run
(empty state) records what exists and announces nothing. After downtime, filings newer than the
last successful poll (minus a grace period, at most :data:`MAX_CATCHUP_AGE` back) are announced;
older unseen ones are recorded silently.

SEC fair access
---------------
Every EDGAR request of the process goes through one :class:`aiolimiter.AsyncLimiter` per event
loop, spacing requests at least ``1/max_rps`` seconds apart (no bursts: a leaky bucket with a
capacity of ``max_rps`` would let 2 x max_rps through in the first second). A declared
User-Agent with a contact e-mail is required. HTTP 403/429/503 blocks every EDGAR request of the
process for Retry-After (or a default: 10 min after a 403, SEC's blocking period) and raises
:class:`SourceError` with ``retry_after_s``.

Times: the feed's ``<updated>`` carries an Eastern offset. The submissions JSON's
``acceptanceDateTime`` ends in ``Z`` but is Eastern wall-clock time (in the Alzamend recording a
Form 4 is "accepted" at 06:50Z and a 424B3 at 06:06Z: as UTC those would be 01:50/02:06 ET, hours
before EDGAR opens at 06:00 ET), so it is read as America/New_York.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import warnings
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiolimiter import AsyncLimiter
from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field

from rules.data import Event
from rules.durations import Duration
from watchers.base import PollContext, PollResult, SourceError, fetch_bytes
from watchers.filing_terms import EASTERN, FilingInfo, analyse_filing, summary_line

logger = logging.getLogger(__name__)

SOURCE = "edgar"

DEFAULT_TICKERS = [
    "MARA", "RIOT", "CLSK", "CORZ", "IREN", "BITF", "WULF",
    "HUT", "CIFR", "BTDR", "HIVE", "BTBT", "GLXY", "APLD",
]  # fmt: skip
DEFAULT_FORMS = ["8-K", "8-K/A", "6-K", "424B*", "FWP", "S-3", "F-3"]

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
FEED_OVERLAP = timedelta(minutes=10)  # re-read this much before the last poll (clock skew, late entries)
TICKERS_MAX_AGE = timedelta(days=1)
RECONCILE_EVERY = timedelta(hours=6)  # submissions catch-up even when the feed looks complete
CATCHUP_GRACE = timedelta(days=1)  # after downtime, announce filings back to last_ok minus this
MAX_CATCHUP_AGE = timedelta(days=7)  # ... but never older than this
SEEN_KEEP = timedelta(days=30)
SEEN_MAX = 5000
MAX_DOC_TRIES = 3  # polls a filing's documents are retried before it is announced without terms
DEFAULT_BACKOFF_S = {403: 600.0, 429: 60.0, 503: 30.0}


# --------------------------------------------------------------------------------------------------
# Config


class EdgarSourceConfig(BaseModel):
    """``[sources.edgar]``."""

    model_config = ConfigDict(extra="forbid")

    user_agent: str | None = None  # required when the filings watcher is on: "Company contact@example.com"
    data_url: str = "https://data.sec.gov"
    www_url: str = "https://www.sec.gov"
    max_rps: float = Field(default=10.0, gt=0, le=10)  # SEC fair access: 10 requests/second per process
    timeout_s: float = Field(default=20.0, gt=0, le=300)


class FilingsWatcherConfig(BaseModel):
    """``[watchers.filings]``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    every: Duration = 60
    tickers: list[str] = Field(default_factory=lambda: list(DEFAULT_TICKERS))
    forms: list[str] = Field(default_factory=lambda: list(DEFAULT_FORMS))


class EdgarConfigError(ValueError):
    """The EDGAR source is not usable as configured (no User-Agent)."""


_UA_EXAMPLE = '[sources.edgar]\nuser_agent = "MinerWatch alerts ops@example.com"'


def require_user_agent(source: EdgarSourceConfig) -> str:
    ua = (source.user_agent or "").strip()
    if not ua or "@" not in ua:
        what = "is not set" if not ua else f"({ua!r}) has no contact e-mail"
        raise EdgarConfigError(
            f"[sources.edgar] user_agent {what}: SEC EDGAR requires every client to declare a "
            "User-Agent with a company or app name and a contact e-mail, and blocks undeclared "
            f"traffic. Add to your config:\n{_UA_EXAMPLE}"
        )
    return ua


# --------------------------------------------------------------------------------------------------
# The process-wide limiter and backoff


@dataclass
class _Gate:
    limiter: AsyncLimiter
    rps: float
    blocked_until: float = 0.0  # loop time
    blocked_reason: str = ""


_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Gate] = weakref.WeakKeyDictionary()


def edgar_limiter(max_rps: float) -> AsyncLimiter:
    """The one limiter every EDGAR request of this process (event loop) goes through."""
    return _gate(max_rps).limiter


def _gate(max_rps: float) -> _Gate:
    loop = asyncio.get_running_loop()
    gate = _GATES.get(loop)
    if gate is None or gate.rps != max_rps:
        # capacity 1, one slot per 1/max_rps s (+2% for timer and network jitter): never a burst
        limiter = AsyncLimiter(1, 1.02 / max_rps)
        if gate is None:
            gate = _Gate(limiter, max_rps)
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
    ua = require_user_agent(source)
    gate = _gate(source.max_rps)
    loop = asyncio.get_running_loop()
    remaining = gate.blocked_until - loop.time()
    if remaining > 0:
        raise SourceError(
            SOURCE, f"backing off for {remaining:.0f}s after {gate.blocked_reason}", retry_after_s=remaining
        )
    async with gate.limiter:
        try:
            _, body = await fetch_bytes(
                session,
                url,
                source=SOURCE,
                params=params,
                headers={"User-Agent": ua, "Accept-Encoding": "gzip, deflate"},
                timeout_s=source.timeout_s,
            )
        except SourceError as err:
            m = _STATUS_RE.match(err.message)
            status = int(m.group(1)) if m else None
            if status == 503 and feed_page > 0:
                raise EndOfFeed from err
            if status in DEFAULT_BACKOFF_S:
                retry = err.retry_after_s if err.retry_after_s else DEFAULT_BACKOFF_S[status]
                gate.blocked_until = max(gate.blocked_until, loop.time() + retry)
                gate.blocked_reason = f"HTTP {status} from {urlsplit(url).path}"
                raise SourceError(
                    SOURCE,
                    f"{err.message} from {urlsplit(url).path}; backing off {retry:g}s",
                    retry_after_s=retry,
                ) from err
            raise SourceError(SOURCE, f"{err.message} ({urlsplit(url).path})") from err
    return body


def _decode(body: bytes) -> str:
    for encoding in ("utf-8", "cp1252"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    return body.decode("latin-1")


# --------------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class FilingRef:
    """One filing of one company, from the feed or the submissions JSON."""

    accession: str
    cik: int
    company: str
    form: str
    filed_at: datetime  # aware UTC
    items: tuple[str, ...] = ()
    primary_document: str | None = None

    @property
    def folder(self) -> str:
        return f"/Archives/edgar/data/{self.cik}/{self.accession.replace('-', '')}"

    def to_state(self) -> dict[str, Any]:
        return {
            "accession": self.accession,
            "cik": self.cik,
            "company": self.company,
            "form": self.form,
            "filed_at": _iso(self.filed_at),
            "items": list(self.items),
            "primary_document": self.primary_document,
        }

    @classmethod
    def from_state(cls, raw: Any) -> FilingRef | None:
        try:
            filed = _parse_iso(raw["filed_at"])
            if filed is None or not _ACCESSION_RE.fullmatch(raw["accession"]):
                return None
            return cls(
                raw["accession"],
                int(raw["cik"]),
                str(raw["company"]),
                str(raw["form"]),
                filed,
                tuple(str(i) for i in raw.get("items") or ()),
                raw.get("primary_document"),
            )
        except (KeyError, TypeError, ValueError):
            return None


_ACCESSION_RE = re.compile(r"\b(\d{10}-\d{2}-\d{6})\b")
_TITLE_RE = re.compile(
    r"^\s*(?P<form>.+?)\s+-\s+(?P<name>.*?)\s+\((?P<cik>\d{1,10})\)\s*(?:\((?P<role>[^)]*)\))?\s*$"
)
_ATOM = "{http://www.w3.org/2005/Atom}"


def parse_feed(body: bytes) -> list[FilingRef]:
    """Entries of a getcurrent Atom page (ISO-8859-1 as declared), in feed order (newest first).
    A page that is not an Atom feed is a SourceError."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=False, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as err:
        kind = "an HTML page" if body.lstrip()[:1] == b"<" else "something else"
        raise SourceError(SOURCE, f"the latest-filings feed answered {kind}, not Atom") from err
    if root.tag != f"{_ATOM}feed":
        raise SourceError(
            SOURCE, f"the latest-filings feed answered <{etree.QName(root).localname}>, not Atom"
        )
    out: list[FilingRef] = []
    for entry in root.iter(f"{_ATOM}entry"):
        title = entry.findtext(f"{_ATOM}title") or ""
        m = _TITLE_RE.match(title)
        if not m:
            continue
        category = entry.find(f"{_ATOM}category")
        form = (category.get("term") if category is not None else None) or m.group("form")
        summary = entry.findtext(f"{_ATOM}summary") or ""
        acc_m = _ACCESSION_RE.search(entry.findtext(f"{_ATOM}id") or "") or _ACCESSION_RE.search(summary)
        updated = entry.findtext(f"{_ATOM}updated") or ""
        try:
            filed = datetime.fromisoformat(updated.strip())
        except ValueError:
            continue
        if acc_m is None:
            continue
        if filed.tzinfo is None:
            filed = filed.replace(tzinfo=EASTERN)
        items = tuple(dict.fromkeys(re.findall(r"Item\s+(\d\.\d{2})\s*:", summary)))
        out.append(
            FilingRef(
                accession=acc_m.group(1),
                cik=int(m.group("cik")),
                company=m.group("name").strip(),
                form=form.strip(),
                filed_at=filed.astimezone(UTC),
                items=items,
            )
        )
    return out


def _accepted_at(raw: str, filing_date: str) -> datetime | None:
    """``acceptanceDateTime`` is Eastern wall-clock time despite its "Z" (see the module doc)."""
    raw = (raw or "").strip()
    if raw:
        try:
            naive = datetime.fromisoformat(raw.replace("Z", "").split(".")[0])
            return naive.replace(tzinfo=EASTERN).astimezone(UTC)
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(filing_date).replace(tzinfo=EASTERN).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def parse_submissions(payload: Any) -> list[FilingRef]:
    """Rows of ``filings.recent`` (column-oriented, newest first) of a submissions JSON.
    Anything that is not that shape is a SourceError."""
    if not isinstance(payload, Mapping):
        raise SourceError(SOURCE, "submissions JSON is not an object")
    try:
        cik = int(payload["cik"])
        name = str(payload.get("name") or "")
        recent = payload["filings"]["recent"]
        columns = {k: recent[k] for k in ("accessionNumber", "form", "filingDate")}
    except (KeyError, TypeError, ValueError) as err:
        raise SourceError(SOURCE, f"submissions JSON lacks {err}") from err
    n = len(columns["accessionNumber"])
    optional = {k: recent.get(k) for k in ("acceptanceDateTime", "items", "primaryDocument")}
    for key, column in [*columns.items(), *optional.items()]:
        if column is not None and (not isinstance(column, list) or len(column) != n):
            raise SourceError(SOURCE, f"submissions JSON column {key!r} is not a list of {n}")
    out: list[FilingRef] = []
    for i in range(n):
        acc = columns["accessionNumber"][i]
        if not isinstance(acc, str) or not _ACCESSION_RE.fullmatch(acc):
            continue
        accepted = (optional["acceptanceDateTime"] or [""] * n)[i]
        filed = _accepted_at(str(accepted or ""), str(columns["filingDate"][i]))
        if filed is None:
            continue
        items_raw = (optional["items"] or [""] * n)[i] or ""
        items = tuple(x.strip() for x in str(items_raw).split(",") if x.strip())
        primary = (optional["primaryDocument"] or [None] * n)[i] or None
        out.append(FilingRef(acc, cik, name, str(columns["form"][i]), filed, items, primary))
    return out


def parse_company_tickers(payload: Any) -> dict[str, tuple[int, str]]:
    """``{"0": {"cik_str": 320193, "ticker": "AAPL", "title": ...}, ...}`` -> {"AAPL": (320193, title)}."""
    if not isinstance(payload, Mapping) or not payload:
        raise SourceError(SOURCE, "company_tickers.json is not a non-empty object")
    out: dict[str, tuple[int, str]] = {}
    for row in payload.values():
        if not isinstance(row, Mapping):
            continue
        ticker, cik = row.get("ticker"), row.get("cik_str")
        if isinstance(ticker, str) and isinstance(cik, int | str) and str(cik).isdigit():
            out.setdefault(ticker.upper(), (int(cik), str(row.get("title") or ticker)))
    if not out:
        raise SourceError(SOURCE, "company_tickers.json holds no ticker rows")
    return out


@dataclass(frozen=True)
class FilingDocuments:
    primary_url: str
    primary: str
    exhibits: list[str] = field(default_factory=list)


def parse_index(html: str, folder_url: str) -> tuple[str | None, list[str]]:
    """(primary document URL, [EX-99.1, EX-99.2 URLs]) from a ``-index.htm`` page."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(html, "lxml")
    primary: str | None = None
    exhibits: list[tuple[str, str]] = []
    for table in soup.find_all("table", class_="tableFile"):
        for row in table.find_all("tr"):
            cells = row.find_all("td")
            if len(cells) < 4:
                continue
            link = cells[2].find("a")
            if link is None or not link.get("href"):
                continue
            href = str(link["href"])
            name = href.split("doc=")[-1].rsplit("/", 1)[-1]
            if not name or (name.endswith(".txt") and "submission" in cells[1].get_text().lower()):
                continue
            doc_type = cells[3].get_text(strip=True).upper()
            url = f"{folder_url}/{name}"
            if primary is None and cells[0].get_text(strip=True) == "1":
                primary = url
            is_press_release = re.fullmatch(r"EX-99\.[12]\b.*|EX-99\.0?[12]", doc_type) or doc_type in (
                "EX-99.1",
                "EX-99.2",
            )
            # a press release filed as PDF or an image cannot be read as text: skip it
            if is_press_release and name.lower().endswith((".htm", ".html", ".txt")):
                exhibits.append((doc_type, url))
        break  # the first table is "Document Format Files"
    exhibits.sort()
    return primary, [url for _, url in exhibits[:2]]


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


# --------------------------------------------------------------------------------------------------
# The watcher


def form_matches(form: str, patterns: Sequence[str]) -> bool:
    """ "424B*" matches any form starting with 424B; anything else matches exactly (case-insensitive)."""
    f = form.strip().upper()
    for p in patterns:
        p = p.strip().upper()
        if (p.endswith("*") and f.startswith(p[:-1])) or f == p:
            return True
    return False


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class FilingsWatcher:
    """Implements :class:`watchers.base.Watcher`: ``poll`` returns ``filing`` Events."""

    id = "filings"

    def __init__(self, cfg: FilingsWatcherConfig, source: EdgarSourceConfig) -> None:
        if cfg.enabled:
            require_user_agent(source)
        self.cfg = cfg
        self.source = source
        self.tickers = [t.strip().upper() for t in cfg.tickers if t.strip()]
        self.forms = list(cfg.forms)

    # -- tickers ------------------------------------------------------------------------------

    async def _resolve(self, ctx: PollContext, result: PollResult) -> dict[int, tuple[str, str]]:
        """{cik: (ticker, name)} for the watch list."""
        cache = ctx.state.get("tickers")
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
                ctx.state["tickers"] = {
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
        self, ctx: PollContext, ciks: Mapping[int, Any], since: datetime | None
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
                body = await edgar_get(ctx.session, self.source, url, params=params, feed_page=page)
            except EndOfFeed:
                covered = since is not None and since >= ctx.now - FEED_HORIZON
                break
            entries = parse_feed(body)
            found.extend(e for e in entries if e.cik in ciks and form_matches(e.form, self.forms))
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
            found.extend(r for r in rows if form_matches(r.form, self.forms))
        return found, complete

    # -- describing ---------------------------------------------------------------------------

    def _event(
        self,
        ref: FilingRef,
        info: FilingInfo,
        names: Mapping[int, tuple[str, str]],
        *,
        note: str | None = None,
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
        return Event(kind="filing", key=f"filing:{ref.accession}", at=ref.filed_at, source=SOURCE, data=data)

    # -- poll ---------------------------------------------------------------------------------

    async def poll(self, ctx: PollContext) -> PollResult:
        require_user_agent(self.source)
        result = PollResult()
        state = ctx.state
        first_run = not isinstance(state.get("seen"), dict)
        seen: dict[str, str] = state["seen"] if not first_run else {}
        state["seen"] = seen
        # filings whose documents could not be read yet: {accession: {"tries": n, "ref": {...}}}
        pending: dict[str, Any] = state.get("pending") if isinstance(state.get("pending"), dict) else {}
        state["pending"] = pending
        last_ok = _parse_iso(state.get("last_ok"))
        last_reconcile = _parse_iso(state.get("last_reconcile"))

        names = await self._resolve(ctx, result)
        if not names:
            raise SourceError(SOURCE, "no watched ticker could be resolved to a CIK")

        refs: dict[str, FilingRef] = {}
        feed_ok = False
        covered = False
        try:
            feed_refs, covered = await self._read_feed(ctx, names, None if first_run else last_ok)
            feed_ok = True
            for r in feed_refs:
                refs.setdefault(r.accession, r)
        except SourceError as err:
            if err.retry_after_s is not None:
                raise
            result.errors["edgar.feed"] = err.message

        reconcile_due = last_reconcile is None or ctx.now - last_reconcile >= RECONCILE_EVERY
        if first_run or not feed_ok or not covered or reconcile_due:
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
                state["last_reconcile"] = _iso(ctx.now)
            if not feed_ok and not complete and not sub_refs:
                raise SourceError(SOURCE, "neither the latest-filings feed nor any submissions JSON answered")

        for acc, entry in list(pending.items()):
            ref = FilingRef.from_state(entry.get("ref")) if isinstance(entry, dict) else None
            if ref is None:
                del pending[acc]
            else:
                refs.setdefault(acc, ref)  # retried even once the feed has moved past it

        if first_run:
            for r in refs.values():
                if ctx.now - r.filed_at <= SEEN_KEEP:
                    seen[r.accession] = _iso(r.filed_at)
            logger.info("filings: first run recorded %d existing filings without announcing", len(seen))
        else:
            floor = ctx.now - MAX_CATCHUP_AGE
            cutoff = max(last_ok - CATCHUP_GRACE, floor) if last_ok else floor
            for ref in sorted(refs.values(), key=lambda r: r.filed_at):
                if ref.accession in seen:
                    continue
                if ref.filed_at < cutoff:
                    seen[ref.accession] = _iso(ref.filed_at)  # too old to announce: record silently
                    continue
                try:
                    docs = await fetch_filing_documents(ctx.session, self.source, ref)
                except SourceError as err:
                    if err.retry_after_s is not None:
                        raise
                    entry = pending.get(ref.accession)
                    tries = (entry.get("tries", 0) if isinstance(entry, dict) else 0) + 1
                    if tries < MAX_DOC_TRIES:
                        pending[ref.accession] = {"tries": tries, "ref": ref.to_state()}
                        result.errors[f"edgar.filing.{ref.accession}"] = f"{err.message} (will retry)"
                        continue
                    info = analyse_filing("", form=ref.form, items=ref.items)
                    event = self._event(ref, info, names, note=f"documents unavailable: {err.message}")
                else:
                    info = analyse_filing(
                        docs.primary, form=ref.form, items=ref.items, exhibits=docs.exhibits
                    )
                    event = self._event(ref, info, names)
                pending.pop(ref.accession, None)
                seen[ref.accession] = _iso(ref.filed_at)
                result.events.append(event)

        self._prune(seen, ctx.now)
        for acc in [a for a in pending if a in seen]:
            pending.pop(acc, None)
        state["last_ok"] = _iso(ctx.now)
        return result

    @staticmethod
    def _prune(seen: dict[str, str], now: datetime) -> None:
        keep_after = now - SEEN_KEEP
        for acc, filed in list(seen.items()):
            dt = _parse_iso(filed)
            if dt is not None and dt < keep_after:
                del seen[acc]
        if len(seen) > SEEN_MAX:
            for acc, _ in sorted(seen.items(), key=lambda kv: kv[1])[: len(seen) - SEEN_MAX]:
                del seen[acc]
