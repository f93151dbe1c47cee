"""Classify an SEC filing and pull out the financing terms a trader reads first. Pure: no I/O.

Input is the primary document of a filing (HTML or text), optionally its press-release exhibits
(EX-99.1, EX-99.2), its form type and its 8-K items. Output is a :class:`FilingInfo`: one kind from
:data:`KINDS` and the terms of ``shared/filings/LABELS.json`` (plus ``secured`` and
``use_of_proceeds``). A term the text does not state is ``None``: the extractor never guesses.

How it decides, in short:

* 8-K items first: a filing whose items are only officer changes, votes, earnings (2.02) and the
  like can never be a financing (an item-only 8-K with 5.02 stays "other" whatever dollar amounts
  the compensation tables hold). Financings come with 1.01, 2.03, 3.02, 7.01 or 8.01.
* Offering documents (424B*, FWP) are classified by the security on their cover page, shelf
  registrations (S-3/F-3) likewise, and a mixed shelf with no specific security is "other".
* Otherwise the *subject* of the document decides: the earliest instrument phrase in the body
  ("0.00% convertible senior notes due 2030", "term loan", "at-the-market", "Reports Second
  Quarter Results", "Bitcoin Production ... Update"), ignoring phrases about existing instruments
  ("repurchase ... its existing convertible notes due 2026", "the Company's existing 0.750%
  Convertible Notes due 2025") so a secured-notes 8-K that mentions old convertibles stays secured.
* Terms are read only for financing kinds, and only from patterns that state them: a coupon from
  "X% ... notes" or "bear interest at a rate of X%" ("will not bear regular interest" is 0%), a
  principal from "aggregate principal amount", the priced size preferred over the launch size
  (the launch size then becomes ``upsized_from_usd``), the greenshoe from the option sentence.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

from rules.events import ALL_KINDS, FINANCING_KINDS

# The kinds are the rule grammar's vocabulary (rules/events.py): one list for both.
KINDS = ALL_KINDS
DEBT_KINDS = ("convertible_notes", "senior_notes", "secured_notes", "credit_facility")

# The term names of shared/filings/LABELS.json, in its order, then the two extra ones we extract.
LABEL_TERMS = (
    "principal_usd",
    "offering_amount_usd",
    "upsized_from_usd",
    "upsize_usd",
    "greenshoe_usd",
    "coupon_pct",
    "rate_description",
    "maturity",
    "conversion_rate_per_1000",
    "conversion_price_usd",
    "conversion_premium_pct",
    "capped_call",
    "cap_price_usd",
)
TERM_NAMES = (*LABEL_TERMS, "secured", "use_of_proceeds")

EASTERN = ZoneInfo("America/New_York")

# 8-K items that can carry a financing. A filing whose known items include none of these is not one.
FINANCING_ITEMS = frozenset({"1.01", "2.03", "3.02", "7.01", "8.01"})


@dataclass(frozen=True)
class FilingInfo:
    kind: str
    terms: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(TERM_NAMES))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "terms": dict(self.terms)}

    @property
    def is_financing(self) -> bool:
        return self.kind in FINANCING_KINDS

    @property
    def amount_usd(self) -> float | None:
        """The headline size: debt principal, else the offering amount."""
        principal = self.terms.get("principal_usd")
        return principal if principal is not None else self.terms.get("offering_amount_usd")


# --------------------------------------------------------------------------------------------------
# Text


def html_to_text(document: str) -> str:
    """Visible text of an EDGAR HTML/iXBRL document on one line; plain text passes through.

    Drops scripts, styles and the hidden inline-XBRL header (``ix:header``: the run of CIKs and
    dates at the top of an iXBRL 8-K), and normalises quotes, dashes and spaces."""
    if "<" in document[:2000] and re.search(r"<\s*(html|body|div|p|table|font|document)\b", document, re.I):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            soup = BeautifulSoup(document, "lxml")
        for tag in soup(["script", "style", "head", "title"]):
            tag.decompose()
        for tag in soup.find_all(re.compile(r"^ix:header$", re.I)):
            tag.decompose()
        text = soup.get_text(" ")
    else:
        text = document
    return _normalise(text)


_TRANSLATE = str.maketrans(
    {
        "\u00a0": " ",
        "\u2007": " ",
        "\u202f": " ",
        "\u200b": "",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\ufeff": "",
    }
)


def _normalise(text: str) -> str:
    text = text.translate(_TRANSLATE)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\$\s+(?=\d)", "$", text)  # "$ 500" -> "$500"
    text = re.sub(r"(?<=\d)\s+%", "%", text)  # "0.00 %" -> "0.00%"
    return text.strip()


_ITEM_RE = re.compile(r"\bItem\s+(\d\.\d{2})\b", re.I)


def items_in_text(text: str) -> list[str]:
    """8-K item numbers named in the body, in order, once each."""
    body = _body(text)
    seen: list[str] = []
    for m in _ITEM_RE.finditer(body):
        if m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


def _body(text: str) -> str:
    """The part after an 8-K cover page: from the first "Item N.NN". Other documents: all of it."""
    m = _ITEM_RE.search(text)
    return text[m.start() :] if m else text


_FLS_RE = re.compile(
    r"(?:Cautionary\s+(?:Note|Statement)s?\s+Regarding\s+)?Forward[- ]Looking\s+Statements?\b.{0,4000}?"
    r"(?:required\s+by\s+(?:applicable\s+)?law\.|$)",
    re.I,
)


def _strip_forward_looking(text: str) -> str:
    return _FLS_RE.sub(" ", text)


# --------------------------------------------------------------------------------------------------
# Amounts, dates, numbers

_AMOUNT = r"(?:US)?\$(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:\s*(billion|million|thousand|bn|mm)\b)?"
_AMOUNT_RE = re.compile(_AMOUNT, re.I)
_SCALE = {"billion": 1e9, "bn": 1e9, "million": 1e6, "mm": 1e6, "thousand": 1e3}
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = rf"({_MONTHS})\s+(\d{{1,2}}),?\s+(\d{{4}})"
_MONTH_NUM = {name.lower(): i + 1 for i, name in enumerate(_MONTHS.split("|"))}


def _money(number: str, scale: str | None) -> float:
    value = float(number.replace(",", ""))
    return value * _SCALE.get((scale or "").lower(), 1.0)


def _date_iso(month: str, day: str, year: str) -> str | None:
    try:
        return datetime(int(year), _MONTH_NUM[month.lower()], int(day)).strftime("%Y-%m-%d")
    except (ValueError, KeyError):
        return None


def _sentences(text: str) -> list[tuple[int, str]]:
    """(start offset, sentence). Splits on ". " before a capital or "(", keeping "U.S." and "$1.5" whole."""
    out: list[tuple[int, str]] = []
    start = 0
    for m in re.finditer(r"(?<![A-Z])(?<!\b[a-z])\.\s+(?=[A-Z(\"])", text):
        out.append((start, text[start : m.end()]))
        start = m.end()
    out.append((start, text[start:]))
    return out


def _sentence_at(text: str, pos: int) -> str:
    left = text.rfind(". ", 0, pos)
    right = text.find(". ", pos)
    return text[left + 2 if left >= 0 else 0 : right + 1 if right >= 0 else len(text)]


# --------------------------------------------------------------------------------------------------
# Classification

_NOTES = r"(?:notes?|debentures?|bonds?)"
_KIND_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "convertible_notes",
        re.compile(
            r"\b(?:convertible|exchangeable)\s+(?:senior\s+)?(?:secured\s+|unsecured\s+)?(?:subordinated\s+)?"
            rf"(?:promissory\s+)?{_NOTES}\b",
            re.I,
        ),
    ),
    (
        "secured_notes",
        re.compile(
            r"\b(?:senior\s+secured|first[- ]lien(?:\s+senior)?(?:\s+secured)?|second[- ]lien|secured)"
            rf"\s+{_NOTES}\b",
            re.I,
        ),
    ),
    (
        "senior_notes",
        re.compile(rf"\bsenior\s+(?:unsecured\s+)?{_NOTES}\b|\b\d+(?:\.\d+)?%\s+{_NOTES}\s+due\b", re.I),
    ),
    (
        "credit_facility",
        re.compile(
            r"\b(?:term\s+loan|(?:revolving\s+)?credit\s+facilit(?:y|ies)|revolving\s+(?:credit|loan)\b|"
            r"credit\s+(?:and\s+security\s+)?agreement|loan\s+(?:and\s+security\s+)?agreement|"
            r"delayed[- ]draw|(?:bitcoin|BTC)[- ](?:backed|collateralized)\s+loan|equipment\s+financing|"
            r"loan\s+facility|bridge\s+(?:loan|facility)|project\s+financing|financing\s+facility)",
            re.I,
        ),
    ),
    (
        "equity_offering",
        re.compile(
            r"\bat[- ]the[- ]market\b|"
            r"\b(?:sales|equity\s+distribution|distribution|open\s+market\s+sale|controlled\s+equity\s+offering"
            r"(?:SM)?\s+sales|common\s+(?:stock|share)\s+purchase|equity\s+purchase|standby\s+equity\s+purchase)"
            r"\s+agreement\b|"
            r"\bregistered\s+direct\s+offering\b|\bPIPE\b|"
            r"\b(?:underwritten\s+)?public\s+offering\s+of\s+(?:\S+\s+){0,6}?(?:shares|common\s+stock|"
            r"ordinary\s+shares|american\s+depositary|preferred\s+stock)|"
            r"\boffer(?:ing)?\s+and\s+sell\s+(?:\S+\s+){0,6}?shares\b|"
            r"\bprivate\s+placement\s+of\s+(?:\S+\s+){0,6}?(?:shares|ordinary|common\s+stock|warrants)|"
            r"\b(?:offering|sale)\s+of\s+(?:\S+\s+){0,3}?(?:shares\s+of\s+)?(?:its\s+|our\s+)?"
            r"(?:class\s+a\s+)?(?:common\s+stock|ordinary\s+shares|american\s+depositary\s+shares)\b",
            re.I,
        ),
    ),
    (
        "hpc_contract",
        re.compile(
            r"\b(?:high[- ]performance\s+computing|HPC|AI\s+(?:cloud|compute|infrastructure|workloads?|"
            r"factory|data\s+cent(?:er|re)s?)|GPU|colocation|co-location)\b"
            r"[^.]{0,200}\b(?:agreement|lease|contract|customer|tenant|hosting)\b|"
            r"\b(?:lease|hosting|colocation|co-location|master\s+services)\s+agreement\b[^.]{0,200}"
            r"\b(?:high[- ]performance\s+computing|HPC|AI|GPU|critical\s+IT)\b",
            re.I,
        ),
    ),
    (
        "earnings",
        re.compile(
            r"\b(?:reports?|reported|announces?)\s+(?:\S+\s+){0,8}?(?:financial\s+results|results\s+for|"
            r"results\s+of\s+operations|net\s+income|earnings)\b|"
            r"\bresults\s+of\s+operations\s+and\s+financial\s+condition\b|"
            r"\b(?:first|second|third|fourth)\s+quarter\s+(?:(?:and\s+)?(?:full[- ]year\s+)?(?:fiscal\s+)?"
            r"(?:\d{4}\s+)?)(?:financial\s+)?results\b",
            re.I,
        ),
    ),
    (
        "production_update",
        re.compile(
            r"\b(?:bitcoin|BTC)\s+production\b|\bproduction\s+(?:and\s+(?:\S+\s+){0,2}?)?updates?\b|"
            r"\b(?:monthly|operational|operations|operating)\s+updates?\b|\bmined\s+[\d,.]+\s+(?:bitcoin|BTC)\b|"
            r"\bproduction\s+report\b|\b(?:bitcoin|BTC)\s+mining\s+(?:and\s+\S+\s+)?updates?\b",
            re.I,
        ),
    ),
)
_KIND_RE = dict(_KIND_PATTERNS)

_EXISTING_RE = re.compile(
    r"\b(?:existing|outstanding|previously\s+issued|repurchase[sd]?|repurchasing|exchange\s+for|"
    r"redeem(?:ed)?|retire|prior)\b[^.$]{0,25}$",
    re.I,
)


@dataclass(frozen=True)
class _Hit:
    kind: str
    start: int
    end: int
    text: str


def _hits(text: str, kinds: Sequence[str] = KINDS[:-1]) -> list[_Hit]:
    """Every kind phrase in ``text`` that is about a new instrument, earliest first; where two
    overlap the one that starts first wins ("convertible senior notes" over "senior notes")."""
    found: list[_Hit] = []
    for kind in kinds:
        for m in _KIND_RE[kind].finditer(text):
            if kind in FINANCING_KINDS and _EXISTING_RE.search(text[max(0, m.start() - 60) : m.start()]):
                continue
            found.append(_Hit(kind, m.start(), m.end(), m.group(0)))
    found.sort(key=lambda h: (h.start, -(h.end - h.start)))
    out: list[_Hit] = []
    for hit in found:
        if out and hit.start < out[-1].end:
            continue
        out.append(hit)
    return out


def _cover(text: str, size: int = 3000) -> str:
    """The cover page of a prospectus: from the start to the table of contents."""
    head = text[: size * 2]
    m = re.search(r"\bTABLE\s+OF\s+CONTENTS\b", head[400:], re.I)
    return head[: 400 + m.start()] if m else head[:size]


_SHELF_MIXED_RE = re.compile(
    r"\b(?:common\s+stock|ordinary\s+shares)\b.{0,120}\b(?:preferred\s+(?:stock|shares))\b.{0,120}"
    r"\b(?:debt\s+securities|warrants)\b",
    re.I,
)


def _classify_offering_cover(text: str, form: str) -> tuple[str, _Hit | None]:
    cover = _cover(text)
    hits = [h for h in _hits(cover, FINANCING_KINDS[:5]) if h.kind != "credit_facility"]
    at_the_market = re.search(r"\bat[- ]the[- ]market\b", cover, re.I)
    if form.startswith(("S-3", "F-3")) and not at_the_market and _SHELF_MIXED_RE.search(cover):
        return "other", None  # a universal shelf: no particular security offered yet
    if hits:
        first = hits[0]
        # "$1,200,000,000 Common Stock" beats a later "Mandatory Convertible Preferred Stock" anyway;
        # a cover naming shares before any note is an equity offering.
        equity = re.search(
            r"\b(?:common\s+stock|ordinary\s+shares|american\s+depositary\s+shares|ADSs|class\s+a\s+common)\b",
            cover,
            re.I,
        )
        if first.kind != "equity_offering" and equity and equity.start() < first.start:
            return "equity_offering", None
        return first.kind, first
    if re.search(r"\b(?:shares|common\s+stock|ordinary\s+shares|depositary)\b", cover, re.I):
        return "equity_offering", None
    return ("equity_offering" if form.startswith("424B") else "other"), None


def _classify(form: str, items: Sequence[str], body: str, exhibits: Sequence[str]) -> tuple[str, _Hit | None]:
    form_u = form.upper()
    if form_u.startswith(("424B", "FWP", "S-3", "F-3")):
        return _classify_offering_cover(body, form_u)

    known_items = set(items)
    financing_possible = not known_items or bool(known_items & FINANCING_ITEMS)
    main = _strip_forward_looking(body)
    texts = [main, *(_strip_forward_looking(e) for e in exhibits)]

    hits: list[_Hit] = []
    for text in texts:
        found = _hits(text)
        if found:
            hits = found
            break
    if not financing_possible:
        hits = [h for h in hits if h.kind not in FINANCING_KINDS]
        if "2.02" in known_items:
            return "earnings", None
    if not hits:
        if "2.02" in known_items:
            return "earnings", None
        return "other", None
    first = hits[0]
    if first.kind == "senior_notes" and _secured_status(main) is True:
        return "secured_notes", first
    return first.kind, first


# --------------------------------------------------------------------------------------------------
# Terms

_PRINCIPAL_PATTERNS = (
    re.compile(
        rf"aggregate\s+principal\s+amount\s+of\s+(?:the\s+)?(?:\S+\s+){{0,6}}?(?:was|is|of|totaled|totalling)\s+{_AMOUNT}",
        re.I,
    ),
    re.compile(rf"{_AMOUNT}\s+(?:in\s+)?(?:initial\s+)?aggregate\s+principal\s+amount\b", re.I),
    re.compile(
        rf"{_AMOUNT}\s+(?:of\s+)?(?:its\s+|our\s+|the\s+)?(?:\d+(?:\.\d+)?%\s+)?"
        rf"(?:convertible|exchangeable|senior|secured|first[- ]lien)\s+(?:\S+\s+){{0,3}}?{_NOTES}\b",
        re.I,
    ),
    re.compile(
        rf"{_AMOUNT}\s+(?:private\s+)?offering\s+of\s+(?:\d+(?:\.\d+)?%\s+)?"
        rf"(?:convertible|exchangeable|senior|secured|first[- ]lien)\s+(?:\S+\s+){{0,3}}?{_NOTES}\b",
        re.I,
    ),
    re.compile(
        rf"{_AMOUNT}\s+(?:senior\s+)?(?:secured\s+)?(?:delayed[- ]draw\s+)?"
        r"(?:term\s+loan|(?:revolving\s+)?credit\s+facility|loan\s+facility|loan|bridge\s+loan|"
        r"financing\s+facility|facility)\b",
        re.I,
    ),
    re.compile(
        rf"(?:term\s+loan|credit\s+facility|loan)\s+(?:in\s+)?(?:an\s+)?(?:aggregate\s+)?(?:principal\s+)?"
        rf"(?:amount\s+)?of\s+(?:up\s+to\s+)?{_AMOUNT}",
        re.I,
    ),
)
_GREENSHOE_CONTEXT = re.compile(
    r"\badditional\b[^.$]{0,40}$|\boption\b[^.$]{0,220}$|\bincludes?\b[^.$]{0,20}$", re.I
)
_GREENSHOE_AFTER = re.compile(
    r"^[^.$]{0,80}\b(?:pursuant\s+to\s+(?:an|the)\s+option|option\s+to\s+purchase)", re.I
)
_PRINCIPAL_EXCLUDE_BEFORE = re.compile(
    r"\b(?:repurchase|existing|less\s+than|more\s+than|at\s+least|exceed|in\s+excess\s+of|"
    r"up\s+to\s+an\s+additional)\b[^.$]{0,40}$",
    re.I,
)
_PRINCIPAL_EXCLUDE_AFTER = re.compile(r"^[^.$]{0,70}\bexisting\b", re.I)
_FINAL_CONTEXT = re.compile(
    r"\b(?:priced|pricing|sold\s+in\s+the\s+offering|completed|closed|closing|issued|upsized|"
    r"entered\s+into|consummated|borrowed|funded|was\s+\$)",
    re.I,
)
_LAUNCH_CONTEXT = re.compile(
    r"\b(?:intention\s+to\s+offer|intends\s+to\s+offer|proposed\s+(?:private\s+)?offering|plans\s+to\s+offer|"
    r"launch(?:ed)?|commenced)\b",
    re.I,
)


@dataclass(frozen=True)
class _Amount:
    value: float
    start: int
    end: int
    stage: str  # "final" | "launch" | "plain"


def _principal_candidates(text: str) -> list[_Amount]:
    out: dict[int, _Amount] = {}
    for pattern in _PRINCIPAL_PATTERNS:
        for m in pattern.finditer(text):
            amount_m = _AMOUNT_RE.search(m.group(0))
            if amount_m is None:
                continue
            a_start = m.start() + amount_m.start()
            a_end = m.start() + amount_m.end()
            value = _money(amount_m.group(1), amount_m.group(2))
            if value < 1e6:
                continue
            before = text[max(0, a_start - 220) : a_start]
            after = text[a_end : a_end + 120]
            if _PRINCIPAL_EXCLUDE_BEFORE.search(before[-60:]) or _PRINCIPAL_EXCLUDE_AFTER.search(after):
                continue
            if _GREENSHOE_CONTEXT.search(before[-60:]) or _GREENSHOE_AFTER.search(after):
                continue
            sentence = _sentence_at(text, a_start)
            if _LAUNCH_CONTEXT.search(sentence):
                stage = "launch"
            elif _FINAL_CONTEXT.search(sentence):
                stage = "final"
            else:
                stage = "plain"
            out.setdefault(a_start, _Amount(value, a_start, a_end, stage))
    return sorted(out.values(), key=lambda a: a.start)


_GREENSHOE_PATTERNS = (
    re.compile(rf"\boption\b[^.]{{0,220}}?\bup\s+to\s+(?:an\s+)?additional\s+{_AMOUNT}", re.I),
    re.compile(rf"\boption\b[^.]{{0,220}}?\bup\s+to\s+{_AMOUNT}\s+(?:of\s+)?(?:additional|more)\b", re.I),
    re.compile(
        rf"\bincludes?\s+{_AMOUNT}[^.]{{0,120}}?\b(?:pursuant\s+to\s+(?:an|the)\s+(?:\S+\s+){{0,3}}?option|"
        r"option\s+to\s+purchase)",
        re.I,
    ),
    re.compile(
        rf"\badditional\s+{_AMOUNT}[^.]{{0,120}}?\b(?:pursuant\s+to\s+(?:an|the)\s+(?:\S+\s+){{0,3}}?option|"
        r"over-allotment)",
        re.I,
    ),
)


def _greenshoe(text: str, anchor: int | None) -> float | None:
    found: list[tuple[int, float, str]] = []
    for pattern in _GREENSHOE_PATTERNS:
        for m in pattern.finditer(text):
            amount_m = _AMOUNT_RE.search(m.group(0), m.group(0).find("$") - 2 if "$" in m.group(0) else 0)
            if amount_m is None:
                continue
            value = _money(amount_m.group(1), amount_m.group(2))
            found.append((m.start() + amount_m.start(), value, m.group(0)))
    if not found:
        return None
    found.sort()
    # Not the option of a concurrent, separate offering.
    own = [f for f in found if not re.search(r"\bconcurrent", _sentence_at(text, f[0]), re.I)] or found
    if anchor is not None:
        after = [f for f in own if f[0] >= anchor]
        if after:
            return after[0][1]
    return own[0][1]


_COUPON_IN_NAME = re.compile(
    rf"(\d+(?:\.\d+)?)%\s+(?:convertible\s+|exchangeable\s+)?(?:senior\s+)?(?:secured\s+|unsecured\s+)?"
    rf"(?:convertible\s+|exchangeable\s+)?(?:subordinated\s+)?{_NOTES}\b",
    re.I,
)
_COUPON_RATE = re.compile(
    r"\b(?:bear|bears|accrue|accrues)\s+(?:cash\s+)?interest\b[^.%]{0,80}?\bat\s+(?:a|an|the)\s+(?:fixed\s+)?"
    r"(?:annual\s+)?rate\s+of\s+(\d+(?:\.\d+)?)%",
    re.I,
)
_ZERO_COUPON = re.compile(
    r"\b(?:will\s+not\s+bear\s+(?:regular\s+)?interest|do\s+not\s+bear\s+(?:regular\s+)?interest|"
    r"non-interest[- ]bearing|zero[- ]coupon)\b",
    re.I,
)
_FLOATING = re.compile(
    r"\b(?:floating|variable)\s+rate\b|\b(?:Term\s+)?SOFR\b|Secured\s+Overnight\s+Financing\s+Rate|\bLIBOR\b|"
    r"\bprime\s+rate\b",
    re.I,
)


def _coupon(text: str, subject: _Hit | None) -> tuple[float | None, str | None]:
    """(coupon %, floating-rate description)."""
    if subject is not None:
        m = _COUPON_IN_NAME.search(text[max(0, subject.start - 12) : subject.end + 5])
        if m:
            return float(m.group(1)), None
    for m in _COUPON_IN_NAME.finditer(text):
        if not _EXISTING_RE.search(text[max(0, m.start() - 60) : m.start()]):
            return float(m.group(1)), None
    m = _COUPON_RATE.search(text)
    if m:
        return float(m.group(1)), None
    if _ZERO_COUPON.search(text):
        return 0.0, None
    floating = _FLOATING.search(text)
    if floating:
        sentence = _sentence_at(text, floating.start())
        desc = re.search(r"\binterest\b.*", sentence, re.I)
        snippet = (desc.group(0) if desc else sentence).strip()
        snippet = re.sub(r"\s*\([^)]*\)", "", snippet)
        snippet = re.sub(r"Secured\s+Overnight\s+Financing\s+Rate", "SOFR", snippet, flags=re.I)
        snippet = re.sub(r"\s+as\s+published\s+by\b[^,;]*?(?=\s+plus\b|[,;]|$)", "", snippet, flags=re.I)
        snippet = re.sub(r"^interest\s+at\s+", "", snippet, flags=re.I)
        if len(snippet) > 160:
            snippet = snippet[:157].rsplit(" ", 1)[0] + "..."
        return None, snippet.rstrip(" .,;")
    return None, None


_MATURITY_RE = re.compile(
    rf"\b(?:notes?|loans?|facility|debentures?|bonds?|borrowings?)\s+(?:will\s+|shall\s+)?(?:mature|matures)\s+"
    rf"on\s+{_DATE}|\bmaturity\s+date\s+(?:of\s+(?:the\s+)?(?:notes?|loan|facility)\s+)?(?:is|will\s+be|of)\s+{_DATE}",
    re.I,
)
_MATURITY_LOOSE_RE = re.compile(rf"\b(?:will\s+|shall\s+)?(?:mature|matures)\s+on\s+{_DATE}", re.I)
_DUE_YEAR = re.compile(r"\bdue\s+(20\d\d|19\d\d)\b", re.I)


def _maturity(text: str, subject: _Hit | None) -> str | None:
    due_year: str | None = None
    if subject is not None:
        m = _DUE_YEAR.search(text[subject.end : subject.end + 20])
        if m:
            due_year = m.group(1)
    if due_year is None:
        for m in _DUE_YEAR.finditer(text):
            instrument = text[max(0, m.start() - 80) : m.start()]
            if re.search(rf"{_NOTES}\s*$", instrument, re.I) and not _EXISTING_RE.search(instrument[:-12]):
                due_year = m.group(1)
                break
    dates: list[str] = []
    for pattern in (_MATURITY_RE, _MATURITY_LOOSE_RE):
        for m in pattern.finditer(text):
            if _EXISTING_RE.search(text[max(0, m.start() - 60) : m.start()]):
                continue
            groups = [g for g in m.groups() if g is not None]
            iso = _date_iso(*groups[:3])
            if iso:
                dates.append(iso)
        if dates:
            break
    if dates:
        if due_year:
            for iso in dates:
                if iso.startswith(due_year):
                    return iso
            return due_year
        return dates[0]
    return due_year


_CONV_RATE = re.compile(
    r"\bconversion\s+rate\s+(?:(?:for|of)\s+the\s+notes\s+)?(?:of|is|will\s+(?:initially\s+)?be|equal\s+to|equals)\s+"
    r"(?:approximately\s+)?(\d+(?:\.\d+)?)\s+"
    r"(?:shares|ordinary\s+shares|American\s+Depositary\s+Shares|ADSs)\b[^.]{0,80}?\bper\s+\$1,000\b",
    re.I,
)
_CONV_PRICE = re.compile(
    r"\bconversion\s+price\s+(?:of|is|will\s+be|equal\s+to)\s+(?:approximately\s+)?\$(\d+(?:,\d{3})*(?:\.\d+)?)"
    r"\s+per\s+(?:share|ordinary\s+share|ADS|American\s+Depositary\s+Share)",
    re.I,
)
_PREMIUM = re.compile(
    r"\bpremium\s+of\s+(?:approximately\s+)?(\d+(?:\.\d+)?)%\s+(?:over|to|above)\b|"
    r"\b(\d+(?:\.\d+)?)%\s+(?:conversion\s+)?premium\s+(?:over|to|above)\b",
    re.I,
)
_CAP_PRICE = re.compile(
    r"\bcap\s+price\s+(?:of\s+the\s+capped\s+call\s+transactions\s+)?(?:will\s+)?(?:initially\s+)?"
    r"(?:be|is|of)\s+(?:approximately\s+)?\$(\d+(?:,\d{3})*(?:\.\d+)?)",
    re.I,
)

_EQUITY_AMOUNT_PATTERNS = (
    re.compile(rf"\baggregate\s+(?:gross\s+)?offering\s+price\s+of\s+up\s+to\s+{_AMOUNT}", re.I),
    re.compile(
        rf"\bup\s+to\s+{_AMOUNT}\s+(?:of\s+)?(?:shares\s+of\s+)?(?:our\s+|its\s+)?(?:class\s+a\s+)?"
        r"(?:common\s+stock|ordinary\s+shares|ADSs|American\s+Depositary\s+Shares|shares)\b",
        re.I,
    ),
    re.compile(
        rf"(?<!additional\s){_AMOUNT}\s+(?:of\s+)?(?:shares\s+of\s+)?(?:our\s+|its\s+)?(?:class\s+a\s+)?"
        r"(?:common\s+stock|ordinary\s+shares|American\s+Depositary\s+Shares)\b",
        re.I,
    ),
    re.compile(
        rf"\bgross\s+proceeds\s+(?:of|to\s+the\s+company\s+of)\s+(?:approximately\s+)?{_AMOUNT}", re.I
    ),
)


def _offering_amount(text: str) -> tuple[float | None, int | None]:
    best: tuple[int, float] | None = None
    for pattern in _EQUITY_AMOUNT_PATTERNS:
        for m in pattern.finditer(text):
            amount_m = _AMOUNT_RE.search(m.group(0))
            if amount_m is None:
                continue
            value = _money(amount_m.group(1), amount_m.group(2))
            pos = m.start() + amount_m.start()
            if value < 1e6 or _GREENSHOE_CONTEXT.search(text[max(0, pos - 60) : pos]):
                continue
            if best is None or pos < best[0]:
                best = (pos, value)
    return (best[1], best[0]) if best else (None, None)


def _secured_status(text: str) -> bool | None:
    if re.search(
        r"\b(?:notes|loan|obligations|facility)\s+(?:are|is|will\s+be)\s+(?:the\s+)?(?:general\s+)?"
        r"(?:senior,?\s+)?unsecured\b|\bsenior,?\s+unsecured\s+obligations\b",
        text,
        re.I,
    ):
        return False
    if re.search(
        r"\bsenior\s+secured\s+(?:obligations|basis|notes)\b|\b(?:notes|loan|facility|obligations)\s+"
        r"(?:are|is|will\s+be|was)\s+(?:\S+\s+){0,3}?(?:secured|collateralized)\b|"
        r"\b(?:loan|notes|facility)\s+(?:was|were|is|are)\s+collateralized\b|\bcollateralized\s+(?:at\s+closing\s+)?by\b",
        text,
        re.I,
    ):
        return True
    return None


_PROCEEDS_SENTENCE = re.compile(
    r"\b(?:use|apply|used|applied|invest)\b[^.]{0,100}\b(?:net\s+)?proceeds\b|\b(?:net\s+)?proceeds\b[^.]{0,80}"
    r"\b(?:will\s+be\s+used|to\s+be\s+used|for\s+general|to\s+fund|to\s+purchase|to\s+acquire|to\s+repay)",
    re.I,
)
_PROCEEDS_LABELS = (
    (r"\bcapped\s+call", "capped calls"),
    (r"\brepurchas\w*[^.]{0,80}\bnotes\b|\bnotes\b[^.]{0,40}\brepurchas", "repurchase existing notes"),
    (r"\b(?:repay|repayment|refinanc|redeem|redemption|pay\s+down|pay\s+off)\w*", "repay debt"),
    (
        r"\b(?:acquire|purchase|buy|invest)\w*\s+(?:\S+\s+){0,4}?(?:bitcoins?|BTC)\b|\bin\s+bitcoin\b",
        "buy bitcoin",
    ),
    (
        r"\b(?:HPC|high[- ]performance\s+computing|data\s+cent(?:er|re)s?|AI)\b",
        "data-center build-out",
    ),
    (r"\b(?:miners|mining\s+(?:rigs|machines|equipment)|ASICs?)\b", "mining equipment"),
    (r"\bgeneral\s+corporate\s+purposes\b", "general corporate purposes"),
    (r"\bworking\s+capital\b", "working capital"),
)


def _use_of_proceeds(text: str) -> str | None:
    for _, sentence in _sentences(text):
        if not _PROCEEDS_SENTENCE.search(sentence):
            continue
        if re.search(r"\bforward[- ]looking\b|\bstatements\s+relating\s+to\b", sentence, re.I):
            continue
        labels: list[tuple[int, str]] = []
        for pattern, label in _PROCEEDS_LABELS:
            m = re.search(pattern, sentence, re.I)
            if m and label not in (lab for _, lab in labels):
                labels.append((m.start(), label))
        if labels:
            labels.sort()
            return ", ".join(label for _, label in labels[:3])
    return None


def _conversion_premium(text: str) -> float | None:
    """The conversion premium, not the capped call's cap-price premium ("cap price ... represents a
    premium of 100% over ...")."""
    for m in _PREMIUM.finditer(text):
        if re.search(r"\bcap\s+price\b", _sentence_at(text, m.start()), re.I):
            continue
        return float(m.group(1) or m.group(2))
    return None


def _num(raw: str) -> float:
    return float(raw.replace(",", ""))


_UPSIZED_FROM = re.compile(
    rf"\b(?:upsized|increased)\s+from\s+(?:the\s+)?(?:previously\s+announced\s+)?(?:\S+\s+){{0,4}}?{_AMOUNT}",
    re.I,
)


def _extract(kind: str, text: str, subject: _Hit | None, *, cover_size: int = 0) -> dict[str, Any]:
    """Terms of a financing. ``cover_size`` > 0: ``text`` is a prospectus whose first ``cover_size``
    characters are its cover page, whose amount wins over amounts "issued" in its risk factors."""
    terms: dict[str, Any] = dict.fromkeys(TERM_NAMES)
    if kind not in FINANCING_KINDS:
        return terms
    if kind in DEBT_KINDS:
        candidates = _principal_candidates(text)
        finals = [c for c in candidates if c.stage == "final"]
        launches = [c for c in candidates if c.stage == "launch"]
        on_cover = [c for c in candidates if c.start < cover_size]
        chosen = on_cover[0] if on_cover else finals[0] if finals else (candidates[0] if candidates else None)
        if chosen is not None:
            terms["principal_usd"] = chosen.value
            launch = next((c for c in launches if c.start < chosen.start), None)
            m = _UPSIZED_FROM.search(text)
            if m:
                terms["upsized_from_usd"] = _money(m.group(1), m.group(2))
            elif launch is not None and chosen.value > launch.value:
                terms["upsized_from_usd"] = launch.value
            if terms["upsized_from_usd"] is not None and terms["upsized_from_usd"] < chosen.value:
                terms["upsize_usd"] = chosen.value - terms["upsized_from_usd"]
            else:
                terms["upsized_from_usd"] = None
        if kind != "credit_facility":
            terms["greenshoe_usd"] = _greenshoe(text, chosen.start if chosen else None)
        coupon, rate_description = _coupon(text, subject)
        terms["coupon_pct"] = coupon
        terms["rate_description"] = rate_description if kind == "credit_facility" else None
        terms["maturity"] = _maturity(text, subject)
        terms["secured"] = True if kind == "secured_notes" else _secured_status(text)
        if (
            subject is not None
            and re.search(r"\bsecured\b", subject.text, re.I)
            and not re.search(r"\bunsecured\b", subject.text, re.I)
        ):
            terms["secured"] = True
        if kind == "convertible_notes":
            m = _CONV_RATE.search(text)
            terms["conversion_rate_per_1000"] = float(m.group(1)) if m else None
            m = _CONV_PRICE.search(text)
            terms["conversion_price_usd"] = _num(m.group(1)) if m else None
            terms["conversion_premium_pct"] = _conversion_premium(text)
            if re.search(r"\bcapped\s+call\b", text, re.I):
                terms["capped_call"] = not bool(
                    re.search(r"\b(?:not|no)\s+(?:\S+\s+){0,3}?capped\s+call", text, re.I)
                )
                m = _CAP_PRICE.search(text)
                terms["cap_price_usd"] = _num(m.group(1)) if m else None
    elif kind == "equity_offering":
        amount, pos = _offering_amount(text)
        terms["offering_amount_usd"] = amount
        terms["greenshoe_usd"] = _greenshoe(text, pos)
    terms["use_of_proceeds"] = _use_of_proceeds(text)
    return terms


def analyse_filing(
    document: str,
    *,
    form: str | None = None,
    items: Sequence[str] = (),
    exhibits: Sequence[str] = (),
) -> FilingInfo:
    """Classify a filing and extract its terms. ``document`` is the primary document (HTML or
    text), ``exhibits`` the texts of its EX-99.x press releases, ``items`` its 8-K items (read
    from the document when not given)."""
    text = html_to_text(document)
    exhibit_texts = [html_to_text(e) for e in exhibits if e]
    form_u = (form or _form_in_text(text) or "").upper().strip()
    item_list = [_norm_item(i) for i in items if _norm_item(i)]
    if not item_list and form_u.startswith("8-K"):
        item_list = items_in_text(text)
    body = _body(text) if form_u.startswith(("8-K", "6-K")) else text
    kind, subject = _classify(form_u, item_list, body, exhibit_texts)
    if kind not in FINANCING_KINDS:
        return FilingInfo(kind, dict.fromkeys(TERM_NAMES))
    source = _strip_forward_looking(body)
    if subject is not None and subject.text and subject.text not in source:
        subject = None
    if subject is not None:
        # re-anchor the subject in the text the terms are read from
        pos = source.find(subject.text)
        subject = _Hit(subject.kind, pos, pos + len(subject.text), subject.text)
    combined = " ".join([source, *(_strip_forward_looking(e) for e in exhibit_texts)])
    cover_size = len(_cover(source)) if form_u.startswith(("424B", "FWP", "S-3", "F-3")) else 0
    return FilingInfo(kind, _extract(kind, combined, subject, cover_size=cover_size))


def _norm_item(item: str) -> str:
    m = re.search(r"(\d+\.\d{2})", str(item))
    return m.group(1) if m else ""


def _form_in_text(text: str) -> str | None:
    m = re.search(r"\bFORM\s+(8-K(?:/A)?|6-K|424B\d|S-3|F-3)\b", text[:3000], re.I)
    if m:
        return m.group(1)
    m = re.match(r"\s*(424B\d|8-K|6-K|FWP|S-3|F-3)\b", text)
    if m:
        return m.group(1)
    m = re.search(r"\bPursuant\s+to\s+Rule\s+424\s*\(b\)\s*\((\d)\)", text[:3000], re.I)
    if m:
        return f"424B{m.group(1)}"
    if re.search(r"\bPursuant\s+to\s+Rule\s+433\b|\bFree\s+Writing\s+Prospectus\b", text[:3000], re.I):
        return "FWP"
    return None


# --------------------------------------------------------------------------------------------------
# One line for a human


def format_usd_short(x: float) -> str:
    """3.2e9 -> "$3.2B", 525e6 -> "$525M", 1e9 -> "$1B", 1.25e9 -> "$1.25B", 750e3 -> "$750K"."""
    sign = "-" if x < 0 else ""
    x = abs(x)
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if x >= size * 0.9995:
            v = x / size
            if v >= 100:
                text = f"{v:.0f}"
            elif v >= 10:
                text = f"{v:.1f}"
            else:
                text = f"{v:.2f}"
            text = text.rstrip("0").rstrip(".") if "." in text else text
            if text == "1000" and suffix != "T":
                continue
            return f"{sign}${text}{suffix}"
    return f"{sign}${x:,.0f}"


_KIND_LABEL = {
    "convertible_notes": "convertible notes",
    "senior_notes": "senior notes",
    "secured_notes": "senior secured notes",
    "credit_facility": "credit facility",
    "equity_offering": "equity offering",
    "hpc_contract": "HPC/AI hosting contract",
    "earnings": "earnings release",
    "production_update": "production update",
    "other": "other filing",
}


def _pct(x: float) -> str:
    return f"{x:g}%"


def describe(info: FilingInfo) -> str:
    """The middle of the summary line: "$525M convertible notes due 2030, 0.75%, conv. $14.86"."""
    t = info.terms
    label = _KIND_LABEL.get(info.kind, info.kind)
    if info.kind in DEBT_KINDS:
        parts = []
        head = label
        if t.get("principal_usd") is not None:
            head = f"{format_usd_short(t['principal_usd'])} {label}"
        maturity = t.get("maturity")
        if maturity:
            head += f" due {maturity[:4]}"
        parts.append(head)
        if t.get("coupon_pct") is not None:
            parts.append(_pct(t["coupon_pct"]))
        elif t.get("rate_description"):
            parts.append("floating rate")
        if t.get("conversion_price_usd") is not None:
            parts.append(f"conv. ${t['conversion_price_usd']:,.2f}")
        if t.get("conversion_premium_pct") is not None:
            parts.append(f"{_pct(t['conversion_premium_pct'])} premium")
        if t.get("capped_call"):
            parts.append("capped call")
        if t.get("upsize_usd"):
            parts.append(f"upsized from {format_usd_short(t['upsized_from_usd'])}")
        if t.get("greenshoe_usd"):
            parts.append(f"{format_usd_short(t['greenshoe_usd'])} option")
        return ", ".join(parts)
    if info.kind == "equity_offering":
        head = label
        if t.get("offering_amount_usd") is not None:
            head = f"{format_usd_short(t['offering_amount_usd'])} {label}"
        if t.get("greenshoe_usd"):
            head += f", {format_usd_short(t['greenshoe_usd'])} option"
        return head
    return label


def summary_line(*, company: str, ticker: str | None, form: str, info: FilingInfo, filed_at: datetime) -> str:
    """Plain text (the caller escapes HTML), e.g.
    "TeraWulf (WULF) · 8-K · $3.2B senior secured notes due 2030, 7.75% · filed 2025-10-28 16:05 ET"."""
    who = f"{company} ({ticker})" if ticker else company
    when = filed_at.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M") if filed_at.tzinfo else None
    filed = f"filed {when} ET" if when else f"filed {filed_at:%Y-%m-%d %H:%M}"
    return f"{who} · {form} · {describe(info)} · {filed}"
