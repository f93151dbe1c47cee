"""Which kind of filing a document is (see :mod:`watchers.filings.analyse` for the rules). Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rules.events import FINANCING_KINDS
from watchers.filings.model import FINANCING_ITEMS, KINDS
from watchers.filings.text import _strip_forward_looking

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

# Up to 25 characters between the word and the instrument, within one sentence: a decimal point in a
# coupon ("its outstanding 0.750% Convertible Senior Notes") does not end it.
_EXISTING_RE = re.compile(
    r"\b(?:existing|outstanding|previously\s+issued|repurchase[sd]?|repurchasing|exchange\s+for|"
    r"redeem(?:ed)?|retire|prior)\b(?:[^.$]|(?<=\d)\.(?=\d)){0,25}$",
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
