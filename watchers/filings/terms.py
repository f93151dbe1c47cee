"""The terms of a financing filing, read only from patterns that state them. Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rules.events import FINANCING_KINDS
from watchers.filings.classify import _EXISTING_RE, _NOTES, _Hit, _secured_status
from watchers.filings.instruments import mask_other_instruments
from watchers.filings.model import DEBT_KINDS, TERM_NAMES
from watchers.filings.text import _AMOUNT, _AMOUNT_RE, _DATE, _date_iso, _money, _sentence_at, _sentences

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


# "which includes $150 million ... issued pursuant to an option", "including an additional $X ...":
# the option's notes are part of the stated principal. "up to an additional $X", "plus ...": not.
# Only the words right before the amount count: "beginning on, and including, the date on which the
# notes are first issued, up to an additional $X" is an option granted, not included.
_GREENSHOE_INCLUDED = re.compile(
    r"\binclud(?:es?|ed|ing)\s+(?:(?:an?|the)\s+)?(?:additional\s+)?(?:aggregate\s+principal\s+amount\s+of\s+)?$",
    re.I,
)


def _greenshoe(text: str, anchor: int | None) -> tuple[float | None, bool | None]:
    """(the option's amount, whether the stated principal already includes it), from the filing's
    own wording; (None, None) when it states no option."""
    found: list[tuple[int, float, str]] = []
    for pattern in _GREENSHOE_PATTERNS:
        for m in pattern.finditer(text):
            amount_m = _AMOUNT_RE.search(m.group(0), m.group(0).find("$") - 2 if "$" in m.group(0) else 0)
            if amount_m is None:
                continue
            value = _money(amount_m.group(1), amount_m.group(2))
            found.append((m.start() + amount_m.start(), value, m.group(0)))
    if not found:
        return None, None
    found.sort()
    # Not the option of a concurrent, separate offering.
    own = [f for f in found if not re.search(r"\bconcurrent", _sentence_at(text, f[0]), re.I)] or found
    pick = own[0]
    if anchor is not None:
        after = [f for f in own if f[0] >= anchor]
        if after:
            pick = after[0]
    included = bool(_GREENSHOE_INCLUDED.search(text[max(0, pick[0] - 60) : pick[0]]))
    return pick[1], included


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


# The program wording of an at-the-market prospectus. A base prospectus's plan of distribution
# names "at the market offerings" as a method too, but never with an amount: the amount decides.
_ATM_WORDING = re.compile(
    r"\bat[- ]the[- ]market\b|\bSales\s+Agreement\b|\b(?:equity\s+distribution|open\s+market\s+sale|"
    r"controlled\s+equity\s+offering(?:SM)?\s+sales|ATM)\s+agreement\b",
    re.I,
)


def _atm_program_amount(text: str) -> float | None:
    """The size of the at-the-market program a document carries: the first equity amount stated in
    a sentence with ATM wording, or None when no such sentence states one."""
    for _, sentence in _sentences(text):
        if _ATM_WORDING.search(sentence):
            amount, _pos = _offering_amount(sentence)
            if amount is not None:
                return amount
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
            terms["greenshoe_usd"], terms["greenshoe_included"] = _greenshoe(
                text, chosen.start if chosen else None
            )
        # coupon, maturity, security and conversion terms only from what is said about the new
        # instrument: not from the notes the filing redeems, repurchases or describes
        own = mask_other_instruments(text, subject)
        coupon, rate_description = _coupon(own, subject)
        terms["coupon_pct"] = coupon
        terms["rate_description"] = rate_description if kind == "credit_facility" else None
        terms["maturity"] = _maturity(own, subject)
        terms["secured"] = True if kind == "secured_notes" else _secured_status(own)
        if (
            subject is not None
            and re.search(r"\bsecured\b", subject.text, re.I)
            and not re.search(r"\bunsecured\b", subject.text, re.I)
        ):
            terms["secured"] = True
        if kind == "convertible_notes":
            m = _CONV_RATE.search(own)
            terms["conversion_rate_per_1000"] = float(m.group(1)) if m else None
            m = _CONV_PRICE.search(own)
            terms["conversion_price_usd"] = _num(m.group(1)) if m else None
            terms["conversion_premium_pct"] = _conversion_premium(own)
            if re.search(r"\bcapped\s+call\b", own, re.I):
                terms["capped_call"] = not bool(
                    re.search(r"\b(?:not|no)\s+(?:\S+\s+){0,3}?capped\s+call", own, re.I)
                )
                m = _CAP_PRICE.search(own)
                terms["cap_price_usd"] = _num(m.group(1)) if m else None
    elif kind == "equity_offering":
        amount, pos = _offering_amount(text)
        terms["offering_amount_usd"] = amount
        terms["greenshoe_usd"], terms["greenshoe_included"] = _greenshoe(text, pos)
    terms["use_of_proceeds"] = _use_of_proceeds(text)
    return terms
