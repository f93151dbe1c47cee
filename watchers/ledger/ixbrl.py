"""A small inline-XBRL reader over lxml: the facts of one 10-Q/10-K with their contexts. Pure, no I/O.

Why in-house and not a library (shared/reference/miner-book-sources.md §1.4, checked 2026-11-30):

* **edgartools** (MIT, very active) parses full XBRL with dimensions, but brings pandas, pyarrow, httpx
  and rich (~100 MB) and is built around fetching from EDGAR itself; too heavy for one footnote.
* **Arelle** (Apache-2.0, active) is the reference processor but far too heavy inside the bot.
* **py-xbrl** is GPL-3.0 (a problem for this MIT project) and downloads taxonomies on first use.
* **ixbrlparse** (MIT, last release 2026-10) is light, but parses with BeautifulSoup (slow and
  ~10x the document in memory on a 3.7 MB 10-K) and was built for UK accounts.

What a debt ledger needs from iXBRL is small: contexts (period and explicit dimension members),
units, and ``ix:nonFraction``/``ix:nonNumeric`` with ``scale``, ``sign``, ``format`` and nesting.
lxml (already a dependency) parses a 3.7 MB 10-K in ~0.1 s, so this module reads exactly that and
keeps each fact's element so the footnote reader can tell which section of the text it sits in.

Values follow the Inline XBRL 1.1 rules: displayed number x 10^scale, negated when ``sign="-"``;
``xsi:nil`` facts have no value; a format this reader does not know gives ``value=None`` and a note,
never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lxml import etree

IX = "http://www.xbrl.org/2013/inlineXBRL"
XBRLI = "http://www.xbrl.org/2003/instance"
XBRLDI = "http://xbrl.org/2006/xbrldi"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"ix": IX, "xbrli": XBRLI, "xbrldi": XBRLDI}

MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}

_WORDS = {
    "no": 0,
    "none": 0,
    "zero": 0,
    "nil": 0,
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
}


class IxbrlError(ValueError):
    """The document is not well-formed inline XBRL (or not XML at all)."""


@dataclass(frozen=True, slots=True)
class Context:
    id: str
    start: str | None  # ISO dates; instant contexts have only ``end``
    end: str | None
    dims: dict[str, str]  # axis QName -> member QName, e.g. us-gaap:DebtInstrumentAxis -> riot:...Member

    @property
    def instant(self) -> bool:
        return self.start is None


@dataclass(slots=True)
class Fact:
    name: str  # QName as written: "us-gaap:DebtInstrumentFaceAmount"
    context: Context
    unit: str | None  # "USD", "shares", "pure", "USD/shares" (measure local names) or None
    value: Any  # float for numbers, str for text and dates (ISO), None when nil or unreadable
    raw: str  # the displayed text
    numeric: bool
    scale: int = 0
    decimals: str | None = None
    format: str | None = None
    element: Any = field(default=None, repr=False)  # the lxml element (position in the document)
    problem: str | None = None  # why ``value`` is None although text was shown

    @property
    def local_name(self) -> str:
        return self.name.split(":", 1)[-1]

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(self.context.dims.values())


@dataclass(slots=True)
class IxDocument:
    root: Any  # lxml root element
    contexts: dict[str, Context]
    units: dict[str, str]
    facts: list[Fact]
    notes: list[str]  # facts that could not be read, one line each

    def dei(self, local: str) -> str | None:
        """A cover-page (dei:) fact's value, e.g. ``DocumentType`` -> "10-Q"."""
        for f in self.facts:
            if f.name.endswith(":" + local) and f.name.startswith("dei") and not f.context.dims:
                return None if f.value is None else str(f.value).strip()
        return None

    def by_id(self, element_id: str) -> Any:
        for el in self.root.iter():
            if el.get("id") == element_id:
                return el
        return None


INSTRUMENT_AXES = (
    "DebtInstrumentAxis",
    "LongtermDebtTypeAxis",
    "CreditFacilityAxis",
    "LineOfCreditFacilityAxis",
    "ShortTermDebtTypeAxis",
)


def instrument_member(fact: Fact) -> str | None:
    """The debt instrument a fact is about: its member on an instrument axis (DebtInstrumentAxis...)."""
    for axis, member in fact.context.dims.items():
        if axis.split(":")[-1] in INSTRUMENT_AXES:
            return member
    return None


def group_by_instrument(doc: IxDocument) -> dict[str, list[Fact]]:
    """The document's facts grouped by debt instrument member, in document order."""
    groups: dict[str, list[Fact]] = {}
    for fact in doc.facts:
        member = instrument_member(fact)
        if member is not None:
            groups.setdefault(member, []).append(fact)
    return groups


def parse(data: bytes) -> IxDocument:
    """Parse an inline-XBRL XHTML document. Raises :class:`IxbrlError` when it is not well-formed XML."""
    parser = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True, recover=False)
    try:
        root = etree.fromstring(data.lstrip(), parser)
    except etree.XMLSyntaxError as err:
        raise IxbrlError(f"not well-formed XHTML: {err}") from err
    contexts = {c.id: c for c in (_context(el) for el in root.iter(f"{{{XBRLI}}}context"))}
    units = {el.get("id"): _unit(el) for el in root.iter(f"{{{XBRLI}}}unit")}
    facts: list[Fact] = []
    notes: list[str] = []
    for el in root.iter(f"{{{IX}}}nonFraction", f"{{{IX}}}nonNumeric"):
        ctx = contexts.get(el.get("contextRef") or "")
        if ctx is None:
            notes.append(f"{el.get('name')}: unknown context {el.get('contextRef')!r}, dropped")
            continue
        facts.append(_fact(el, ctx, units))
        if facts[-1].problem:
            notes.append(f"{facts[-1].name} {facts[-1].raw!r}: {facts[-1].problem}, dropped")
    return IxDocument(root=root, contexts=contexts, units=units, facts=facts, notes=notes)


def _context(el: Any) -> Context:
    period = el.find("xbrli:period", NS)
    start = end = None
    if period is not None:
        instant = period.find("xbrli:instant", NS)
        if instant is not None:
            end = (instant.text or "").strip()[:10]
        else:
            s, e = period.find("xbrli:startDate", NS), period.find("xbrli:endDate", NS)
            start = (s.text or "").strip()[:10] if s is not None else None
            end = (e.text or "").strip()[:10] if e is not None else None
    dims = {m.get("dimension", ""): (m.text or "").strip() for m in el.iter(f"{{{XBRLDI}}}explicitMember")}
    return Context(id=el.get("id", ""), start=start, end=end, dims=dims)


def _unit(el: Any) -> str:
    def local(measures: Iterator[Any]) -> str:
        return "*".join((m.text or "").strip().split(":")[-1] for m in measures)

    num, den = el.find(".//xbrli:unitNumerator", NS), el.find(".//xbrli:unitDenominator", NS)
    if num is not None and den is not None:
        return f"{local(num.iter(f'{{{XBRLI}}}measure'))}/{local(den.iter(f'{{{XBRLI}}}measure'))}"
    return local(el.iter(f"{{{XBRLI}}}measure"))


def element_text(el: Any) -> str:
    """Displayed text of an element, without ``ix:exclude`` parts, whitespace collapsed."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if node.tag == f"{{{IX}}}exclude":
            return
        if node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return " ".join("".join(parts).replace("\u200b", "").split())


def _fact(el: Any, ctx: Context, units: dict[str, str]) -> Fact:
    numeric = el.tag == f"{{{IX}}}nonFraction"
    raw = element_text(el)
    fmt = el.get("format")
    fact = Fact(
        name=el.get("name", ""),
        context=ctx,
        unit=units.get(el.get("unitRef") or ""),
        value=None,
        raw=raw,
        numeric=numeric,
        scale=int(el.get("scale") or 0) if re.fullmatch(r"-?\d+", el.get("scale") or "0") else 0,
        decimals=el.get("decimals"),
        format=fmt,
        element=el,
    )
    if el.get(f"{{{XSI}}}nil") == "true":
        return fact
    if numeric:
        number = transform_number(raw, fmt)
        if number is None:
            fact.problem = f"unreadable number (format {fmt})"
            return fact
        value = number * (10**fact.scale)
        if el.get("sign") == "-":
            value = -value
        fact.value = round(value, 10)
    elif fmt and _local(fmt).startswith("date"):
        fact.value = transform_date(raw, fmt)
        if fact.value is None:
            fact.problem = f"unreadable date (format {fmt})"
    elif fmt and _local(fmt).startswith("dur"):
        fact.value = raw  # "one-year": kept as written; no term of the ledger reads durations
    else:
        fact.value = raw
    return fact


def _local(fmt: str) -> str:
    return fmt.split(":")[-1].replace("-", "").lower()


def transform_number(raw: str, fmt: str | None) -> float | None:
    """The number a displayed text stands for under an ixt transform (registries 3-5 and ixt-sec)."""
    f = _local(fmt or "numdotdecimal")
    text = raw.strip()
    if f in {"fixedzero", "zerodash", "fixedempty"} or (text in {"-", "—", "–"} and f.startswith("num")):
        return 0.0
    if f in {"numwordsen", "numworden"}:
        return _words_to_number(text)
    if f in {"numdotdecimal", "numcommadot", "numdotcomma", "numunitdecimal", "numdotdecimalin"}:
        cleaned = re.sub(r"[,\s\u00a0$()]", "", text)
    elif f in {"numcommadecimal", "numspacecomma", "numdotcommadecimal"}:
        cleaned = re.sub(r"[.\s\u00a0$()]", "", text).replace(",", ".")
    else:
        return None
    try:
        return float(cleaned)
    except ValueError:
        return None


def _words_to_number(text: str) -> float | None:
    words = re.findall(r"[a-z]+", text.lower())
    if not words or any(w not in _WORDS and w != "and" for w in words):
        return None
    total = 0
    for w in words:
        if w == "and":
            continue
        total = total * 100 if w == "hundred" else total + _WORDS[w]
    return float(total)


def transform_date(raw: str, fmt: str) -> str | None:
    """ISO text for a date transform: "January 15, 2030" -> "2030-01-15"; "December 2035" -> "2035-12".

    Only a complete year is accepted: a month and day alone (a table header "Jun-30") is no date."""
    f = _local(fmt)
    text = raw.strip().lower().replace(",", " ").replace(".", " ")
    year_m = re.search(r"\b(\d{4})\b", text)
    if not year_m:
        return None
    year = int(year_m.group(1))
    month = next((num for name, num in MONTHS.items() if re.search(rf"\b{name}\b", text)), None)
    if month is None:
        m = re.search(r"\b(\d{1,2})\s*[/-]\s*(\d{1,2})\s*[/-]\s*\d{4}\b", text)
        if m and "daymonth" in f:
            month, day = int(m.group(2)), int(m.group(1))
            return _iso(year, month, day)
        if m:
            return _iso(year, int(m.group(1)), int(m.group(2)))
        m = re.search(r"\b\d{4}\s*[/-]\s*(\d{1,2})\s*[/-]\s*(\d{1,2})\b", text)
        return _iso(year, int(m.group(1)), int(m.group(2))) if m else None
    day_m = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", text.replace(year_m.group(1), " "))
    if day_m and "monthyear" not in f:
        return _iso(year, month, int(day_m.group(1)))
    return f"{year:04d}-{month:02d}"


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None
