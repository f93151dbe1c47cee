"""Operating figures of a bitcoin miner's release: BTC mined, BTC held, hash rate, fleet efficiency,
power, and the figures of an AI/HPC contract. Pure: no I/O, no clock.

What a production update, an earnings release or a shareholder letter states, read with the
release's own words kept beside each number:

* **BTC mined** in the release's period (a month ``YYYY-MM`` or a quarter ``YYYY-Qn``): "Bitcoin
  Produced 552", "CleanSpark mined 633 bitcoin", "production fell by 40% year-over-year to 590
  bitcoin". Not year-to-date totals ("CY2023 bitcoin mined"), not daily averages, not bitcoin
  *purchased*.
* **BTC held** with what the count includes when the release says so ("Including 17,357 BTC
  loaned, actively managed and pledged as collateral"), and its as-of date when stated.
* **Hash rate** in EH/s with its qualifier: operational, energized, installed and deployed hash
  rate are different numbers, so the words in front of the figure travel with it.
* **Fleet efficiency** in J/TH and fleet **power** in MW, only where the release states the fleet's.

Never read: a figure in a forward-looking phrase ("target of 50 EH/s", "expected efficiency of 23.5
J/Th", "will add 26 EH/s"), a comparison period ("from 36.9 EH/s in Q3 2024"), the network's hash
rate. A figure the text does not state is absent, never estimated.

A document that says nothing about mining (an earnings release of a retailer, an officer change, a
bitcoin *treasury* company buying coins) yields no production or treasury figure at all.

**AI/HPC contracts** carry many megawatt and dollar figures that mean different things (the new
lease, the campus, the portfolio; the base term against the value with every renewal). The subject
of the announcement, stated in its headline, decides: its megawatts are the contract's, and a dollar
figure counts as the contract's value only when it is not a cumulative/portfolio total, not NOI and
not the with-renewals value. When the headline names no contract (a groundbreaking, a site update),
``paired`` is false and the figures found are listed without being paired.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from watchers.filings.text import html_to_text

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_RE = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_NUM = r"\d[\d,]*(?:\.\d+)?"

# Plausible ranges: a value outside is a misread (a footnote digit, a year), never a figure.
BOUNDS = {
    "mined_btc": (0.01, 100_000.0),
    "held_btc": (0.01, 1_000_000.0),
    "hashrate_ehs": (0.001, 5_000.0),
    "efficiency_jth": (5.0, 200.0),
    "power_mw": (1.0, 100_000.0),
}
UNITS = {
    "mined_btc": "BTC",
    "held_btc": "BTC",
    "hashrate_ehs": "EH/s",
    "efficiency_jth": "J/TH",
    "power_mw": "MW",
}
FIGURE_NAMES = tuple(UNITS)
# The filing kinds whose documents carry operating figures (the watcher reads them only for these).
OPERATING_KINDS = ("production_update", "earnings", "hpc_contract")

_FORWARD_RE = re.compile(
    r"\b(?:expect\w*|target\w*|goal|plan\w*|anticipat\w*|project\w*|will|would|could|once|guidance|"
    r"aim\w*|forecast\w*|intend\w*|on\s+track)\b",
    re.I,
)
_MINING_RE = re.compile(
    r"\b(?:bitcoin\s+mining|bitcoin\s+production|mined|miners?|mining\s+(?:operations?|fleet|capacity|pool)|hash\s*rate|"
    r"exahash|EH/s)\b",
    re.I,
)
_HPC_RE = re.compile(
    r"\b(?:critical\s+IT|IT\s+(?:capacity|load|lease)|high[- ]performance\s+computing|HPC|"
    r"AI\s+data\s+cent(?:er|re)|colocation|hosting\s+contract)\b",
    re.I,
)
_SENTENCE_END_RE = re.compile(r"[.!?]\s+(?=[A-Z\"'(])")


@dataclass(frozen=True)
class Figure:
    """One operating figure: value in ``unit``, the period it covers, the release's own qualifier,
    the as-of date when stated and the words it was read from."""

    value: float
    unit: str
    period: str | None = None
    qualifier: str | None = None
    as_of: str | None = None
    evidence: str = ""


@dataclass(frozen=True)
class HpcContract:
    paired: bool
    subject_mw: float | None = None
    mw_kind: str | None = None
    value_usd: float | None = None
    value_basis: str | None = None
    value_with_extensions_usd: float | None = None
    term_years: int | None = None
    counterparty: str | None = None
    guarantor: str | None = None
    total_mw: float | None = None
    total_value_usd: float | None = None
    found_mw: tuple[float, ...] = ()
    found_usd: tuple[float, ...] = ()


@dataclass(frozen=True)
class Operations:
    period: str | None = None
    figures: dict[str, Figure] = field(default_factory=dict)
    hpc: HpcContract | None = None

    @property
    def empty(self) -> bool:
        return not self.figures and self.hpc is None

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "figures": {name: asdict(fig) for name, fig in self.figures.items()},
            "hpc": None if self.hpc is None else asdict(self.hpc),
        }


# --------------------------------------------------------------------------------------------------
# Entry point


def extract_operations(document: str, *, exhibits: tuple[str, ...] | list[str] = ()) -> Operations:
    """Operating figures of a miner's release (HTML or text); ``exhibits`` are its EX-99.x texts,
    read after the document. Empty for a document that is not about bitcoin mining."""
    text = " ".join(t for t in (html_to_text(d) for d in (document, *exhibits) if d) if t)
    if not text:
        return Operations()
    period = document_period(text)
    figures: dict[str, Figure] = {}
    if _MINING_RE.search(text):
        for name, finder in (
            ("mined_btc", _mined),
            ("held_btc", _held),
            ("hashrate_ehs", _hashrate),
            ("efficiency_jth", _efficiency),
            ("power_mw", _power),
        ):
            fig = finder(text, period)
            if fig is not None and BOUNDS[name][0] <= fig.value <= BOUNDS[name][1]:
                figures[name] = fig
    hpc = _hpc(text) if _HPC_RE.search(text) and _MW_RE.search(text) else None
    return Operations(period=period, figures=figures, hpc=hpc)


# --------------------------------------------------------------------------------------------------
# Period


def document_period(text: str) -> str | None:
    """The period a release reports: ``YYYY-MM`` for a monthly update, ``YYYY-Qn`` for a quarter,
    the month's name alone when the text gives no year."""
    month_patterns = (
        rf"\b(?:updates?|figures|results|report)\s+for\s+(?:the\s+month\s+(?:ending|ended)\s+)?"
        rf"({_MONTH_RE})(?:\s+\d{{1,2}},)?(?:\s+(20\d\d))?\b",
        rf"\b({_MONTH_RE})\s+(20\d\d)\s+(?:bitcoin\s+)?(?:production|mining|operations?)\b",
        rf"\b(?:production|mining|operations?)\s+update\s+for\s+({_MONTH_RE})(?:\s+(20\d\d))?\b",
    )
    for pattern in month_patterns:
        m = re.search(pattern, text[:4000], re.I)
        if m:
            month = MONTHS.index(m.group(1).lower()) + 1
            return f"{m.group(2)}-{month:02d}" if m.group(2) else m.group(1).capitalize()
    m = re.search(r"\b(?:in|for|during)?\s*Q([1-4])\s+(20\d\d)\b", text[:4000], re.I)
    if m:
        return f"{m.group(2)}-Q{m.group(1)}"
    m = re.search(
        r"\b(first|second|third|fourth)\s+quarter\s+(?:of\s+)?(?:fiscal\s+)?(20\d\d)\b", text[:4000], re.I
    )
    if m:
        q = ("first", "second", "third", "fourth").index(m.group(1).lower()) + 1
        return f"{m.group(2)}-Q{q}"
    return None


def _year_of(period: str | None) -> str | None:
    return period[:4] if period and re.match(r"20\d\d", period) else None


# --------------------------------------------------------------------------------------------------
# Helpers


def _num(s: str) -> float:
    return float(s.replace(",", ""))


def _sentence_before(text: str, pos: int, width: int = 120) -> str:
    """The text of the same sentence before ``pos`` (at most ``width`` characters)."""
    window = text[max(0, pos - width) : pos]
    ends = list(_SENTENCE_END_RE.finditer(window))
    return window[ends[-1].end() :] if ends else window


def _sentence_after(text: str, pos: int, width: int = 250) -> str:
    window = text[pos : pos + width]
    m = _SENTENCE_END_RE.search(window)
    return window[: m.start() + 1] if m else window


def _forward(text: str, pos: int) -> bool:
    return bool(_FORWARD_RE.search(_sentence_before(text, pos, 90)))


def _evidence(text: str, start: int, end: int) -> str:
    return text[max(0, start - 60) : min(len(text), end + 40)].strip()


def _first(
    text: str, patterns: tuple[re.Pattern[str], ...], skip_before: re.Pattern[str] | None = None
) -> re.Match[str] | None:
    """The earliest match of any pattern that is not forward-looking (nor after ``skip_before``)."""
    found: list[re.Match[str]] = []
    for pattern in patterns:
        for m in pattern.finditer(text):
            if _forward(text, m.start()):
                continue
            if skip_before is not None and skip_before.search(text[max(0, m.start() - 25) : m.start()]):
                continue
            found.append(m)
            break
    return min(found, key=lambda m: m.start()) if found else None


# --------------------------------------------------------------------------------------------------
# BTC mined

_MINED_PATTERNS = (
    # a table or list label: "Bitcoin Produced 552", "Bitcoin mined in October: 633"
    re.compile(
        rf"\b(?:bitcoin|BTC)\s+(?:produced|mined)(?:\s+in\s+{_MONTH_RE})?\s*:?\s*(?:\d\s+(?=\d))?({_NUM})\b(?!%)",
        re.I,
    ),
    # prose: "Riot produced 521 BTC", "mining 119 Bitcoin", "Mined 2,144 BTC"
    re.compile(
        rf"\b(?:produced|produces|producing|mined|mines|mining)\s+(?:a\s+record\s+)?(?:approximately\s+)?"
        rf"({_NUM})\s+(?:new\s+|self-mined\s+)?(?:BTC|bitcoins?)\b(?!\s+per\s+day)",
        re.I,
    ),
    # "production fell by 40% year-over-year to 590 bitcoin"
    re.compile(
        rf"\bproduction\s+(?:fell|rose|grew|increased|decreased|declined)\s+(?:by\s+)?\d+(?:\.\d+)?%\s+"
        rf"(?:[\w-]+\s+){{0,2}}?to\s+({_NUM})\s+(?:BTC|bitcoins?)\b",
        re.I,
    ),
)
# year-to-date, cumulative and daily figures are not the period's production
_NOT_PERIOD_RE = re.compile(r"(?:CY\s?\d{4}|YTD|year[- ]to[- ]date|cumulative|average|daily)\s*$", re.I)


def _mined(text: str, period: str | None) -> Figure | None:
    m = _first(text, _MINED_PATTERNS, _NOT_PERIOD_RE)
    if m is None:
        return None
    return Figure(_num(m.group(1)), "BTC", period, None, None, _evidence(text, m.start(), m.end()))


# --------------------------------------------------------------------------------------------------
# BTC held

_HELD_PATTERNS = (
    re.compile(rf"\b(?:bitcoin|BTC)\s+held\s*:?\s*(?:\d\s+(?=\d))?({_NUM})\b(?!%)", re.I),
    re.compile(
        rf"\btotal\s+(?:BTC|bitcoin)\s+holdings(?:\s+as\s+of\s+{_MONTH_RE}\s+\d{{1,2}}(?:,\s*\d{{4}})?)?\s*:?\s*"
        rf"({_NUM})\b(?!%)",
        re.I,
    ),
    re.compile(
        rf"\b(?:BTC|bitcoin)\s+holdings\b(?:[^.\d$]|\d+(?:\.\d+)?%){{0,60}}?\bto\s+(?:approximately\s+)?({_NUM})\b(?![%\d])",
        re.I,
    ),
    re.compile(rf"\b(?:held|holds)\s+(?:approximately\s+)?({_NUM})\s+(?:BTC|bitcoins?)\b", re.I),
)
_INCLUDES_RE = re.compile(
    r"\b(?:including|includes|inclusive\s+of)\b[^.|;]{0,160}?\b(?:loaned|lent|pledged|collateral|actively\s+managed)\b"
    r"[^.|;]*",
    re.I,
)
_AS_OF_RE = re.compile(rf"\bas\s+of\s+({_MONTH_RE})\s+(\d{{1,2}})(?:,\s*(20\d\d))?", re.I)


def _held(text: str, period: str | None) -> Figure | None:
    m = _first(text, _HELD_PATTERNS)
    if m is None:
        return None
    after = _sentence_after(text, m.end())
    qualifier = None
    q = _INCLUDES_RE.search(after)
    if q:
        qualifier = re.sub(r"\s+as\s+of\s+.*$", "", q.group(0).strip(), flags=re.I).strip(" ,")
    as_of = None
    d = _AS_OF_RE.search(m.group(0)) or _AS_OF_RE.search(after)
    if d:
        as_of = _date(d, period)
    if as_of is None:
        marker = re.match(r"(?i).*?\bheld\s*:?\s*(\d)\s+\d", m.group(0))
        as_of = _footnote_as_of(text, marker.group(1) if marker else None, period)
    if as_of is None:
        as_of = _as_of_elsewhere(text, _num(m.group(1)), period)
    return Figure(_num(m.group(1)), "BTC", period, qualifier, as_of, _evidence(text, m.start(), m.end()))


def _footnote_as_of(text: str, marker: str | None, period: str | None) -> str | None:
    """A table row's footnote that dates it: "Bitcoin Held 1 7,345 ... 1. As of month end." gives
    the last day of the release's month."""
    if not marker or not period or not re.fullmatch(r"20\d\d-\d\d", period):
        return None
    footnote = (
        rf"(?<![\d,.$]){marker}\.\s+As\s+of\s+(?:month[- ]end|(?:the\s+)?end\s+of\s+(?:the\s+)?month)\b"
    )
    if not re.search(footnote, text, re.I):
        return None
    year, month = int(period[:4]), int(period[5:])
    return f"{year}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"


def _as_of_elsewhere(text: str, value: float, period: str | None) -> str | None:
    """The as-of date another statement of the same count gives ("Total BTC holdings as of
    October 31 : 2,311" after "increased its bitcoin holdings to 2,311")."""
    for pattern in _HELD_PATTERNS:
        for m in pattern.finditer(text):
            if _num(m.group(1)) != value:
                continue
            d = _AS_OF_RE.search(m.group(0)) or _AS_OF_RE.search(_sentence_after(text, m.end()))
            if d:
                return _date(d, period)
    return None


def _date(d: re.Match[str], period: str | None) -> str | None:
    year = d.group(3) or _year_of(period)
    return f"{year}-{MONTHS.index(d.group(1).lower()) + 1:02d}-{int(d.group(2)):02d}" if year else None


# --------------------------------------------------------------------------------------------------
# Hash rate

_HASH_RE = re.compile(
    rf"({_NUM})\s*(EH/s|exahash(?:es)?(?:\s+per\s+second)?|PH/s|petahash(?:es)?\s+per\s+second)", re.I
)
# no \b at the end: a footnote digit may follow ("Deployed Hash Rate1 12.4 EH/s")
_HASH_KEYWORD_RE = re.compile(r"\b(?:hash\s*rate|hashrate|capacity)(?![a-z])", re.I)
HASH_QUALIFIERS = (
    "average",
    "operational",
    "operating",
    "energized",
    "installed",
    "deployed",
    "realized",
    "current",
    "capacity",
)
_NETWORK_RE = re.compile(r"\b(?:network|global|total\s+bitcoin)\b", re.I)


def _hash_qualifier(context: str) -> str | None:
    """The release's words for this hash rate: the qualifier words around the nearest "hash rate"
    (or "capacity") before the figure, with only percentages or a footnote digit in between."""
    for kw in _HASH_KEYWORD_RE.finditer(context):
        tail = context[kw.end() :]
        between = re.sub(r"^\s*\d\b", "", re.sub(r"\d+(?:\.\d+)?%", "", tail))
        if re.search(r"\d", between):
            continue
        pre = " ".join(context[: kw.start()].split()[-3:])
        words = re.findall(r"[A-Za-z]+", f"{pre} {kw.group(0)} {tail}".lower())
        found = [w for w in HASH_QUALIFIERS if w in words]
        return " ".join(found) if found else None
    return None


def _hashrate(text: str, period: str | None) -> Figure | None:
    best: tuple[int, int, Figure] | None = None
    for m in _HASH_RE.finditer(text):
        before = _sentence_before(text, m.start(), 90)
        if (
            _FORWARD_RE.search(before)
            or re.search(r"\bfrom\s*$", before, re.I)
            or _NETWORK_RE.search(before[-40:])
        ):
            continue
        value = _num(m.group(1))
        if m.group(2).lower().startswith(("ph", "peta")):
            value /= 1000.0
        qualifier = _hash_qualifier(before[-70:])
        rank = 0 if qualifier else 1
        d = _AS_OF_RE.search(_sentence_after(text, m.end(), 120))
        marker = re.search(r"(?i)(?:hash\s*rate|hashrate)\s*(\d)\s*$", before)
        as_of = _date(d, period) if d else _footnote_as_of(text, marker.group(1) if marker else None, period)
        fig = Figure(value, "EH/s", period, qualifier, as_of, _evidence(text, m.start(), m.end()))
        if best is None or (rank, m.start()) < (best[0], best[1]):
            best = (rank, m.start(), fig)
    return best[2] if best else None


# --------------------------------------------------------------------------------------------------
# Fleet efficiency and power

_EFF_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:J/TH|joules?\s+per\s+terahash|W/TH)\b", re.I)


def _efficiency(text: str, period: str | None) -> Figure | None:
    for m in _EFF_RE.finditer(text):
        before = _sentence_before(text, m.start(), 90)
        if _FORWARD_RE.search(before) or re.search(
            r"\b(?:from|retir\w*|worse\s+than|below|above)\s*$", before, re.I
        ):
            continue
        qualifier = "fleet" if re.search(r"\bfleet", before[-60:], re.I) else None
        return Figure(_num(m.group(1)), "J/TH", period, qualifier, None, _evidence(text, m.start(), m.end()))
    return None


_POWER_RE = re.compile(
    rf"\b(?:total|fleet|portfolio)\s+(?:power\s+|energy\s+)?(?:capacity|portfolio)\s+(?:of|to)\s+(?:approximately\s+)?"
    rf"({_NUM})\s*(MW|megawatts?|GW|gigawatts?)\b",
    re.I,
)


def _power(text: str, period: str | None) -> Figure | None:
    m = _first(text, (_POWER_RE,))
    if m is None:
        return None
    value = _num(m.group(1)) * (1000.0 if m.group(2).lower().startswith("g") else 1.0)
    return Figure(value, "MW", period, None, None, _evidence(text, m.start(), m.end()))


# --------------------------------------------------------------------------------------------------
# AI/HPC contract

_MW_RE = re.compile(rf"({_NUM})[- ]?(?:incremental\s+)?(?:MW|megawatts?)\b(?!h)", re.I)
_USD_RE = re.compile(r"\$(\d+(?:\.\d+)?)\s*(billion|million|B|M)\b", re.I)
_DATELINE_RE = re.compile(
    r"\b20\d\d\s*(?:/PRNewswire/|\(GLOBE NEWSWIRE\)|--|-\s)|"
    r"\(BUSINESS WIRE\)|\(GLOBE NEWSWIRE\)|/PRNewswire/",
    re.I,
)
_CONTRACT_VERB_RE = re.compile(
    r"\b(?:signs?|signed|exercis\w+|enter(?:s|ed)?\s+into|execut\w+|award\w*|lease|contract|agreement)\b",
    re.I,
)
_TOTAL_MW_RE = re.compile(r"\b(?:total|totals|cumulative|portfolio|across|aggregate)\b", re.I)
_STOP_NAMES = {"Total", "Contract", "The", "A", "An", "Its", "Our", "Their", "Each", "This", "Approximately"}


def _usd(m: re.Match[str]) -> float:
    scale = 1e9 if m.group(2).lower().startswith("b") else 1e6
    return round(float(m.group(1)) * scale, 2)


def _headline(text: str) -> str:
    m = _DATELINE_RE.search(text[:3000])
    return text[: m.start()] if m else text[:300]


def _hpc(text: str) -> HpcContract:
    head = _headline(text)
    found_mw = tuple(dict.fromkeys(_num(m.group(1)) for m in _MW_RE.finditer(text)))
    found_usd = tuple(dict.fromkeys(_usd(m) for m in _USD_RE.finditer(text)))

    total_mw = None
    for m in _MW_RE.finditer(text):
        if _TOTAL_MW_RE.search(_sentence_before(text, m.start(), 70)) and not re.search(
            r"\badditional\s*$", text[max(0, m.start() - 20) : m.start()], re.I
        ):
            total_mw = _num(m.group(1))
            break

    values: dict[str, tuple[float, str | None] | None] = {"contract": None, "total": None, "extensions": None}
    for m in _USD_RE.finditer(text):
        before = _sentence_before(text, m.start(), 80)
        after = text[m.end() : m.end() + 70]
        if re.search(r"\bNOI\b|\bEBITDA\b|\bnet\s+operating\s+income\b", before[-45:] + after[:25], re.I):
            continue
        up_to_with_options = re.search(r"\bup\s+to\s*$", before, re.I) and re.search(
            r"\b(?:renewal|extension|options?)\b", after, re.I
        )
        # "up to $17.7 billion if all renewal options are exercised"; "two five-year extension
        # options that could bring the total contracted revenue to approximately $7 billion"
        longer = _sentence_before(text, m.start(), 160)
        if up_to_with_options or re.search(r"\b(?:renewal|extension)\s+options?\b[^$]{0,80}$", longer, re.I):
            kind = "extensions"
        elif re.search(
            r"\b(?:cumulative|portfolio|campus\s+total|total\s+campus|total\s+contracted)\b",
            before[-60:],
            re.I,
        ) or re.search(r"^\s*over\s+the\s+(?:\d+[- ]year\s+)?contracts\b", after, re.I):
            kind = "total"
        else:
            kind = "contract"
        previous = values[kind]
        if (
            previous is not None
            and kind == "contract"
            and previous[0] == _usd(m)
            and previous[1] != "base term"
            and re.search(r"\bbase\s+(?:lease\s+)?term\b", after[:60], re.I)
        ):
            values[kind] = (previous[0], "base term")  # the same figure, now with its basis
        if values[kind] is None:
            basis = None
            if kind == "contract":
                if re.search(r"\bbase\s+(?:lease\s+)?term\b", after[:60], re.I):
                    basis = "base term"
                else:
                    word = re.search(
                        r"\b(potential|projected|expected|total\s+contract\s+value)\b", before[-60:], re.I
                    )
                    basis = word.group(1).lower() if word else None
            values[kind] = (_usd(m), basis)

    subject = None
    if _CONTRACT_VERB_RE.search(head):
        for m in _MW_RE.finditer(head):
            if re.search(
                r"\b(?:total|cumulative|portfolio|additional\s+up\s+to|up\s+to)\b",
                head[max(0, m.start() - 40) : m.start()],
                re.I,
            ):
                continue
            subject = m
            break
    total_value = values["total"][0] if values["total"] else None
    if subject is None:
        return HpcContract(
            paired=False,
            total_mw=total_mw,
            total_value_usd=total_value,
            found_mw=found_mw,
            found_usd=found_usd,
        )

    subject_mw = _num(subject.group(1))
    mw_kind = None
    number = re.escape(subject.group(1))
    for m in re.finditer(rf"\b{number}[- ]?(?:incremental\s+)?(?:MW|megawatts?)\b(?:\s*\(MW\))?", text, re.I):
        tail = text[m.end() : m.end() + 30]
        if re.search(r"critical\s+IT", tail, re.I):
            mw_kind = "critical IT"
            break
        if mw_kind is None and re.search(r"^\s*(?:of\s+)?IT\b", tail):
            mw_kind = "IT"
    term = re.search(r"\b(\d{1,2})[- ]year\b", head, re.I) or re.search(
        r"\b(\d{1,2})[- ]year\s+(?:\w+\s+){0,3}?(?:contract|lease|term|agreement)", text, re.I
    )
    return HpcContract(
        paired=True,
        subject_mw=subject_mw,
        mw_kind=mw_kind,
        value_usd=values["contract"][0] if values["contract"] else None,
        value_basis=values["contract"][1] if values["contract"] else None,
        value_with_extensions_usd=values["extensions"][0] if values["extensions"] else None,
        term_years=int(term.group(1)) if term else None,
        counterparty=_counterparty(text),
        guarantor=_guarantor(text),
        total_mw=total_mw if total_mw != subject_mw else None,
        total_value_usd=total_value,
        found_mw=found_mw,
        found_usd=found_usd,
    )


_NAME = r"([A-Z][A-Za-z0-9&\-]+(?:\s+[A-Z][A-Za-z0-9&\-]+)?)"


def _counterparty(text: str) -> str | None:
    for pattern in (
        rf"\b(?:option|lease|agreement|contract)\b[^.]{{0,60}}?\b(?:by|with)\s+{_NAME}",
        rf"\bannounced\s+that\s+{_NAME},",
    ):
        for m in re.finditer(pattern, text):
            name = m.group(1)
            if name.split()[0] in _STOP_NAMES:
                continue
            return name
    return None


def _guarantor(text: str) -> str | None:
    m = re.search(
        rf"{_NAME}(?:,\s+a\s+subsidiary[^,]{{0,60}},)?\s+(?:is\s+)?providing\s+a\s+financial\s+backstop", text
    )
    return m.group(1) if m else None
