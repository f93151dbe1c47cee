"""Pure parsers of EDGAR payloads: the latest-filings Atom feed, submissions JSON, company_tickers.json
and filing index pages.

Times: the feed's ``<updated>`` carries an Eastern offset. The submissions JSON's
``acceptanceDateTime`` ends in ``Z`` but is Eastern wall-clock time (in the Alzamend recording a
Form 4 is "accepted" at 06:50Z and a 424B3 at 06:06Z: as UTC those would be 01:50/02:06 ET, hours
before EDGAR opens at 06:00 ET), so it is read as America/New_York.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning
from lxml import etree

from watchers.base import SourceError
from watchers.filings.config import SOURCE
from watchers.filings.model import EASTERN

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
