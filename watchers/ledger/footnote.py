"""Tranches from the debt footnote of a 10-Q/10-K: its text, its tables and the iXBRL facts inside it.

How it reads a note (RIOT's Note 12 is the model, shared/ledger/):

1. The note is the ``DebtDisclosureTextBlock`` (or a sibling text block) with its ``ix:continuation``
   chain; without one, the paragraphs from a "Debt"/"Notes Payable" heading to the next note.
2. It is cut into blocks (paragraphs and table rows, each once) and into sections at short headings
   ("2030 Notes", "$50 Million Credit Facility", "Note Payable"). A section about something that is not
   a borrowing of the company (letters of credit, notes receivable, loans it made, fair value,
   subsequent events, maturities tables) names no tranche.
3. A section that defines several instruments (``a $6.0 million revolving line of credit (the
   "Revolving Line of Credit") and a $4.0 million equipment guidance line (the "Equipment Guidance
   Line")``) is split into one tranche per defined instrument, each read from the sentences naming it.
4. Terms come from the facts tagged inside the section (scale and sign applied, so tables "in
   thousands" come out in dollars) and from sentences that state them; what neither states is None.
   Principal is read from "principal" wording, drawn-balance rows and principal-payment totals, never
   from a carrying amount ("net of unamortized issuance costs").
5. Every value passes :mod:`watchers.ledger.checks`; a failure is dropped and logged in ``notes``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rules.ledger import Tranche
from watchers.ledger import checks
from watchers.ledger.ixbrl import (
    IX,
    MONTHS,
    Fact,
    IxDocument,
    element_text,
    group_by_instrument,
    instrument_member,
    transform_date,
)

XHTML = "http://www.w3.org/1999/xhtml"
DEBT_BLOCKS = (
    "DebtDisclosureTextBlock",
    "LongTermDebtTextBlock",
    "DebtTextBlock",
    "ConvertibleDebtTextBlock",
    "LineOfCreditFacilitiesTextBlock",
    "ShortTermDebtTextBlock",
)
_BLOCK_TAGS = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}
_INSTRUMENT_WORDS = (
    r"(?:notes?|facility|facilities|loans?|line of credit|debenture|borrowings?|financing|credit)"
)
_NOT_DEBT_HEADINGS = re.compile(
    r"letters? of credit|receivable|loans? to |fair value|subsequent|maturit|future (minimum )?principal|"
    r"interest expense|covenant|capped call|debt issuance cost|summary|total debt|schedule|"
    r"the following|in thousands",
    re.I,
)
_MONEY = r"\$\s?(\d[\d,]*(?:\.\d+)?)\s*(million|billion|thousand)?"
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DATE = rf"(?:{_MONTH})\.?\s+\d{{1,2}}\s*,?\s*\d{{4}}"
_MONTH_YEAR = rf"(?:{_MONTH})\.?,?\s+\d{{4}}"


@dataclass
class Block:
    text: str
    element: Any
    row: bool = False
    cells: list[str] = field(default_factory=list)


@dataclass
class Section:
    heading: str
    parents: list[str]
    blocks: list[Block] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(b.text for b in self.blocks if not b.row)


@dataclass
class Reading:
    tranches: list[Tranche]
    notes: list[str]


# ------------------------------------------------------------------------------------------ the note


def note_elements(doc: IxDocument) -> list[Any]:
    """The elements of the debt footnote, continuations included, in document order."""
    for block_name in DEBT_BLOCKS:
        for fact in doc.facts:
            if fact.numeric or fact.local_name != block_name or fact.context.dims:
                continue
            parts = [fact.element]
            ids = {el.get("id"): el for el in doc.root.iter(f"{{{IX}}}continuation")}
            nxt = fact.element.get("continuedAt")
            while nxt and nxt in ids and len(parts) < 200:
                parts.append(ids[nxt])
                nxt = ids[nxt].get("continuedAt")
            return parts
    return _note_by_heading(doc)


def _note_by_heading(doc: IxDocument) -> list[Any]:
    """No tagged text block: the paragraphs from a 'Debt' note heading to the next note heading."""
    paras = [el for el in doc.root.iter(f"{{{XHTML}}}p", f"{{{XHTML}}}div") if len(el) == 0 or el.text]
    start = None
    out: list[Any] = []
    for el in paras:
        text = element_text(el)
        is_note = re.match(r"^(note\s+\d+\.?|\d+\.)\s*[-–—:]?\s*\S", text, re.I) and len(text) < 80
        if start is None:
            if is_note and re.search(r"\b(debt|notes payable|borrowings|convertible notes)\b", text, re.I):
                start = el
                out.append(el)
        elif is_note:
            break
        else:
            out.append(el)
    return out


def blocks(elements: Sequence[Any]) -> list[Block]:
    out: list[Block] = []
    for el in elements:
        out.extend(_walk(el))
    return out


def _local(tag: Any) -> str:
    return tag.split("}")[-1] if isinstance(tag, str) else ""


def _walk(el: Any) -> Iterator[Block]:
    tag = _local(el.tag)
    if tag == "tr":
        cells = [element_text(td) for td in el if _local(td.tag) in ("td", "th")]
        cells = [c for c in cells if c]
        if cells:
            yield Block(text=" ".join(cells), element=el, row=True, cells=cells)
        return
    has_block_child = any(_local(d.tag) in _BLOCK_TAGS for d in el.iterdescendants())
    if tag in _BLOCK_TAGS and not has_block_child:
        text = _norm(element_text(el))
        if text:
            yield Block(text=text, element=el)
        return
    for child in el:
        yield from _walk(child)


def _norm(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"').replace("\u00a0", " ")
    text = re.sub(r"\$\s+(?=\d)", "$", text)
    text = re.sub(r"(?<=\d)\s+%", "%", text)
    text = re.sub(r"\s+([,.;:)])", r"\1", text)
    return " ".join(text.split())


def _is_heading(b: Block) -> bool:
    t = b.text
    if b.row or len(t) > 90 or len(t) < 3 or t.endswith((".", ":", ";", ",")) or t.startswith("("):
        return False
    if re.match(r"^note\s+\d+", t, re.I):
        return False
    return (bool(re.search(r"[A-Za-z]{3}", t)) and t[0].isupper()) or t[0] in "$0123456789"


def sections(bs: Sequence[Block]) -> list[Section]:
    out: list[Section] = []
    parents: list[str] = []
    current = Section(heading="", parents=[])
    for b in bs:
        if _is_heading(b):
            if current.blocks or current.heading:
                out.append(current)
            if not current.blocks and current.heading:
                parents = [*parents[-1:], current.heading]
            current = Section(heading=b.text, parents=list(parents))
            continue
        current.blocks.append(b)
    out.append(current)
    return [s for s in out if s.blocks]


# ------------------------------------------------------------------------------------------ reading


def read_note(doc: IxDocument, period_end: str | None) -> Reading:
    """Every tranche the debt footnote describes, with the values dropped by the checks in ``notes``."""
    notes: list[str] = []
    elements = note_elements(doc)
    if not elements:
        return Reading([], ["no debt footnote found"])
    facts_at = _facts_by_element(doc)
    groups = group_by_instrument(doc)
    readings: list[tuple[Tranche, str | None]] = []
    for sec in sections(blocks(elements)):
        if not _is_debt_section(sec):
            continue
        split = _split(sec)
        for name, aliases, sub_blocks in split:
            tranche, dropped = _read_tranche(sec, name, aliases, sub_blocks, facts_at, period_end)
            notes.extend(f"{tranche.instrument if tranche else name}: {d}" for d in dropped)
            if tranche is not None:
                member = _member_of(sub_blocks, facts_at) if len(split) == 1 else None
                readings.append((tranche, member))
    # A member that stands for exactly one tranche lends that tranche the facts tagged on it elsewhere
    # in the filing (the hidden header, other notes) for the terms the footnote's text did not state.
    owners: dict[str, int] = {}
    for _, member in readings:
        if member:
            owners[member] = owners.get(member, 0) + 1
    tranches: list[Tranche] = []
    for tranche, member in readings:
        if member and owners[member] == 1:
            tranche, dropped = _fill_from_member(tranche, groups.get(member, []), period_end)
            notes.extend(f"{tranche.instrument}: {d}" for d in dropped)
        tranches.append(tranche)
    return Reading(tranches, notes)


def _member_of(bs: Sequence[Block], facts_at: dict[tuple[int, str, str], Fact]) -> str | None:
    counts: dict[str, int] = {}
    for f in _section_facts([b for b in bs if b.element is not None], facts_at):
        member = instrument_member(f)
        if member:
            counts[member] = counts.get(member, 0) + 1
    return max(counts, key=lambda m: counts[m]) if counts else None


_MEMBER_TERMS = {
    "DebtInstrumentInterestRateStatedPercentage": "coupon_pct",
    "DebtInstrumentMaturityDate": "maturity",
    "DebtInstrumentConvertibleConversionPrice1": "conversion_price_usd",
    "DebtInstrumentConvertibleConversionRatio1": "conversion_rate_per_1000",
    "DebtInstrumentFaceAmount": "original_principal_usd",
}


def _fill_from_member(t: Tranche, facts: Sequence[Fact], period_end: str | None) -> tuple[Tranche, list[str]]:
    changes: dict[str, Any] = {}
    dropped: list[str] = []
    for f in facts:
        term = _MEMBER_TERMS.get(f.local_name)
        if term is None or getattr(t, term) is not None or term in changes or f.value is None:
            continue
        if len(f.context.dims) > 1 or (period_end and (f.context.end or "") > period_end):
            continue  # a range, a second axis, or a date after the period: not this tranche's term
        value: Any = f.value
        if term == "coupon_pct":
            value = round(float(value) * 100, 6)
        why = checks.check(term, value, period_end=period_end)
        if why:
            dropped.append(f"{term} from {f.name} dropped: {why}")
            continue
        changes[term] = value
    if not changes:
        return t, dropped
    filled = replace(t, **changes)
    why = checks.check_conversion(filled.conversion_rate_per_1000, filled.conversion_price_usd)
    if why and "conversion_price_usd" in changes:
        dropped.append(f"conversion_price_usd dropped: {why}")
        filled = replace(filled, conversion_price_usd=None)
    return filled, dropped


def _facts_by_element(doc: IxDocument) -> dict[tuple[int, str, str], Fact]:
    return {_fact_key(f.element): f for f in doc.facts if f.element is not None}


def _fact_key(el: Any) -> tuple[int, str, str]:
    return (el.sourceline or 0, el.get("name") or "", el.get("contextRef") or "")


def _section_facts(bs: Sequence[Block], facts_at: dict[tuple[int, str, str], Fact]) -> list[Fact]:
    out = []
    for b in bs:
        for el in b.element.iter(f"{{{IX}}}nonFraction", f"{{{IX}}}nonNumeric"):
            f = facts_at.get(_fact_key(el))
            if f is not None and f.value is not None:
                out.append(f)
    return out


def _is_debt_section(sec: Section) -> bool:
    head = sec.heading
    if head and _NOT_DEBT_HEADINGS.search(head):
        return False
    blob = f"{head} {' '.join(sec.parents)} {sec.text[:400]}"
    if re.search(r"\bnotes? receivable|loans? receivable|\bloaned\b|\bloan to\b", blob, re.I):
        return False
    return bool(re.search(_INSTRUMENT_WORDS, blob, re.I))


_DEFINED = re.compile(r"\(\s*(?:the\s+|each,?\s+an?\s+)?\"(?P<alias>[^\"]{2,60})\"", re.I)


def _split(sec: Section) -> list[tuple[str, list[str], list[Block]]]:
    """One (name, aliases, blocks) per instrument the section defines; the section itself if one."""
    defined: list[str] = []
    for m in _DEFINED.finditer(sec.text):
        alias = m.group("alias").strip()
        if re.search(rf"{_INSTRUMENT_WORDS}|\bline\b", alias, re.I) and alias not in defined:
            defined.append(alias)
    if len(defined) < 2 or any(_same_name(sec.heading, a) for a in defined):
        return [(sec.heading, defined, sec.blocks)]
    patterns = {a: re.compile(re.escape(a.rstrip("s")), re.I) for a in defined}
    texts: dict[str, list[str]] = {a: [] for a in defined}
    for b in sec.blocks:
        if b.row:
            continue
        for sentence in _sentences(b.text):
            # cut the sentence at each mention: a clause belongs to the instrument it starts with, and
            # a definition ('... notes due 2031 (the "2031 Notes")') owns the description before it
            hits = sorted(
                (m.start(), m.end(), a) for a, pat in patterns.items() for m in pat.finditer(sentence)
            )
            if not hits:
                continue
            starts = []
            for k, (start, _, _) in enumerate(hits):
                is_definition = bool(
                    re.search(r"\(\s*(?:the\s+)?\"\s*$", sentence[max(0, start - 10) : start])
                )
                starts.append(0 if k == 0 else hits[k - 1][1] if is_definition else start)
            for k, (_, _, alias) in enumerate(hits):
                end = starts[k + 1] if k + 1 < len(hits) else len(sentence)
                if end > starts[k]:
                    texts[alias].append(sentence[starts[k] : end])
    out = []
    for alias in defined:
        intro = re.search(rf"({_MONEY}\s+[\w\s\-]*?)\(\s*the\s+\"{re.escape(alias)}\"", sec.text, re.I)
        parts = [f"a {intro.group(1).strip()} facility."] if intro else []
        parts.extend(t.strip() + ("" if t.strip().endswith(".") else ".") for t in texts[alias])
        out.append((alias, [], [Block(text=" ".join(parts), element=None)]))
    return out


def _same_name(a: str, b: str) -> bool:
    return a.strip().lower().rstrip("s") == b.strip().lower().rstrip("s")


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[a-z0-9%)\]])\.\s+(?=[A-Z(])", text) if s]


def _money(number: str, unit: str | None) -> float:
    value = float(number.replace(",", ""))
    return value * {"million": 1e6, "billion": 1e9, "thousand": 1e3}.get((unit or "").lower(), 1.0)


def _date_iso(text: str) -> str | None:
    return transform_date(text, "ixt:date-monthname-day-year-en")


def _month_year_iso(text: str) -> str | None:
    return transform_date(text, "ixt:date-monthname-year-en")


def _kind(name: str, context: str) -> str:

    n = name.lower()
    # A defined short name ("2030 Notes") is convertible when the section opens with convertible notes;
    # a later "the convertible note" (a drafting slip in RIOT's note-payable paragraph) does not count.
    if "convertible" in n or (
        re.search(r"\bnotes\b", n) and re.search(r"convertible[\w\s]{0,30}notes", context[:600], re.I)
    ):
        return "convertible_notes"
    if re.search(r"secured notes", n):
        return "secured_notes"
    if re.search(r"senior notes|notes due", n):
        return "senior_notes"
    if re.search(
        r"credit facility|line of credit|revolv|term loan|loan facility|guidance line|credit agreement", n
    ):
        return "credit_facility" if "term loan" not in n or "facility" in n else "other_debt"
    if re.search(r"credit facility|revolving|line of credit", context.lower()[:300]) and "note" not in n:
        return "credit_facility"
    return "other_debt"


def _read_tranche(
    sec: Section,
    heading: str,
    aliases: list[str],
    bs: list[Block],
    facts_at: dict[tuple[int, str, str], Fact],
    period_end: str | None,
) -> tuple[Tranche | None, list[str]]:
    text = " ".join(b.text for b in bs if not b.row)
    rows = [b for b in bs if b.row]
    facts = [
        f
        for f in _section_facts([b for b in bs if b.element is not None], facts_at)
        if not any(axis.endswith("RangeAxis") for axis in f.context.dims)
    ]
    terms: dict[str, Any] = {}

    # -- name: the coupon-bearing name of notes when the text gives it, else the heading
    name = heading
    m = re.search(
        r"(\d{1,2}(?:\.\d+)?%\s+(?:convertible\s+|senior\s+|secured\s+|exchangeable\s+|unsecured\s+){0,4}notes"
        r"(?:\s+due\s+(?:\w+\s+\d{1,2},\s+)?\d{4})?)",
        text,
        re.I,
    )
    if m:
        name = m.group(1)
    if not name:
        dm = re.search(rf"([\w$.,%\- ]{{0,60}}{_INSTRUMENT_WORDS})", text, re.I)
        name = dm.group(1).strip() if dm else "Debt"
    kind = _kind(name if name != heading else f"{heading} {' '.join(aliases)}", text)

    # -- coupon
    coupon = None
    cm = re.search(
        r"interest rate (?:at|as of) (?:the )?end of (?:the )?period\s*(\d+(?:\.\d+)?)%",
        " ".join(r.text for r in rows),
        re.I,
    )
    if cm is None:
        cm = re.search(
            rf"interest rate (?:as of|at) (?:{_DATE}|the end of the period),? (?:was|is|of)"
            r"\s+(\d+(?:\.\d+)?)%",
            text,
            re.I,
        )
    if cm is None:
        cm = re.search(r"fixed (?:interest )?rate of (\d+(?:\.\d+)?)%", text, re.I)
    if cm is None:
        cm = re.search(
            r"bears? interest at (?:a rate of |an annual rate of )?(\d+(?:\.\d+)?)%(?! plus)", text, re.I
        )
    if cm is not None:
        coupon = float(cm.group(1))
    if coupon is None:
        for f in facts:
            if f.local_name in (
                "DebtInstrumentInterestRateStatedPercentage",
                "LineOfCreditFacilityInterestRateAtPeriodEnd",
            ):
                coupon = round(float(f.value) * 100, 6)
                break
    if coupon is None and m:
        coupon = float(re.match(r"(\d+(?:\.\d+)?)", m.group(1)).group(1))
    if coupon is None and re.search(
        r"will not bear (?:regular )?interest|non-interest[- ]bearing", text, re.I
    ):
        coupon = 0.0
    terms["coupon_pct"] = coupon

    # -- original principal (face amount; for facilities the commitment)
    original = None
    for r in rows:
        rm = re.match(r"total (?:revolving )?(?:credit )?(?:facility|commitment)s?\b", r.cells[0], re.I)
        if rm:
            original = _row_value(r, facts_at)
            break
    if original is None:
        om = re.search(rf"total commitment of {_MONEY}", text, re.I) or re.search(
            rf"{_MONEY}\s+(?:in\s+)?aggregate principal(?: amount)?(?! outstanding)", text, re.I
        )
        if om is None:
            om = re.search(rf"aggregate principal amount of (?:up to )?{_MONEY}", text, re.I)
        if om is None and kind == "credit_facility":
            hm = re.search(rf"{_MONEY}", heading, re.I)
            om = hm or re.search(
                rf"{_MONEY}\s+(?:[\w\-]+\s+){{0,4}}(?:facility|line of credit|line)\b", text, re.I
            )
        if om is None and kind == "other_debt":
            om = re.search(
                rf"{_MONEY}\s+(?:[\w\-]+\s+){{0,3}}(?:note payable|notes? payable|loan|promissory note)",
                text,
                re.I,
            )
        if om is not None:
            original = _money(om.group(1), om.group(2))
    if original is None:
        for f in facts:
            if f.local_name == "DebtInstrumentFaceAmount" and f.unit == "USD":
                original = float(f.value)
                break
    terms["original_principal_usd"] = original

    # -- outstanding principal (never the carrying amount)
    outstanding = None
    status = None
    for r in rows:
        if re.match(
            r"(borrowings|amounts?|principal|loans?) outstanding|outstanding (principal|borrowings|balance)",
            r.cells[0],
            re.I,
        ):
            outstanding = _row_value(r, facts_at)
            if outstanding is not None:
                break
    if outstanding is None:
        pm = re.search(rf"\(\s*{_MONEY}\s+(?:of\s+)?(?:aggregate\s+)?principal\b", text, re.I) or re.search(
            rf"{_MONEY}\s+(?:of\s+)?(?:aggregate\s+)?principal (?:amount )?(?:outstanding|remain)", text, re.I
        )
        if pm is None:
            pm = re.search(
                rf"outstanding (?:aggregate )?principal (?:amount |balance )?(?:was |of |is )?{_MONEY}"
                r"(?![^.]{0,60}(?:paid|repaid|redeemed|converted))",
                text,
                re.I,
            )
        if pm is not None:
            outstanding = _money(pm.group(1), pm.group(2))
    if outstanding is None:
        outstanding = _principal_table_total(bs, facts_at)
    if outstanding is None and re.search(r"\bfully drawn\b|has drawn the full", text, re.I):
        outstanding = original
    paid = re.search(
        r"\b(?:paid|repaid) (?:in full|off)\b|\bwas (?:fully )?(?:repaid|extinguished)\b", text, re.I
    )
    if paid and (
        outstanding is None or re.search(r"principal of \$[\d.,]+\s*\w*\s+was paid in full", text, re.I)
    ):
        outstanding, status = 0.0, "repaid"
    if re.search(r"\bmatured\b", text, re.I) and re.search(
        r"not (?:been )?renewed|no borrowings|was \$0\b", text, re.I
    ):
        outstanding, status = 0.0, "matured"
    elif outstanding is None and re.search(
        r"no (?:borrowings|amounts?) (?:were )?outstanding|had not drawn|undrawn", text, re.I
    ):
        outstanding = 0.0
    terms["outstanding_principal_usd"] = outstanding

    # -- maturity
    maturity = None
    mm = re.search(
        rf"\bmatur(?:e|es|ed|ing|ity date)\b[^.]{{0,40}}?\b(?:on|of)\s+({_DATE})", text, re.I
    ) or re.search(rf"(?:term|maturity date)[^.]{{0,60}}?\bthrough\s+({_DATE})", text, re.I)
    if mm:
        maturity = _date_iso(mm.group(1))
    if maturity is None:
        mm = re.search(rf"\bmatur(?:e|es|ed|ing)\s+in\s+({_MONTH_YEAR})", text, re.I)
        if mm:
            maturity = _month_year_iso(mm.group(1))
    if maturity is None:
        for f in facts:
            if f.local_name == "DebtInstrumentMaturityDate" and isinstance(f.value, str):
                maturity = f.value
                break
    if maturity is None:
        dm = re.search(r"\bdue\s+(\d{4})\b", name, re.I) or (
            re.search(
                r"\b(20\d{2}) (?:convertible |senior |secured )*notes\b", " ".join([heading, *aliases]), re.I
            )
            if kind.endswith("notes")
            else None
        )
        if dm:
            maturity = dm.group(1)
    terms["maturity"] = maturity
    if maturity and len(maturity) >= 4 and "due" not in name.lower() and kind.endswith("notes") and m:
        name = f"{name} due {maturity[:4]}"

    # -- conversion terms
    rate = price = None
    rm2 = re.search(
        r"conversion rate (?:of|is|equal to)\s+(\d+(?:\.\d+)?)\s+shares[^.]{0,120}?per \$1,000", text, re.I
    )
    if rm2:
        rate = float(rm2.group(1))
    pm2 = re.search(r"conversion price of (?:approximately )?\$(\d[\d,]*(?:\.\d+)?)\s+per share", text, re.I)
    if pm2:
        price = float(pm2.group(1).replace(",", ""))
    for f in facts:
        if rate is None and re.search(
            r"ConversionRatio|SharesIssuablePerBasePrincipal|SharesPer\w*Principal", f.local_name
        ):
            rate = float(f.value)
        if price is None and f.local_name == "DebtInstrumentConvertibleConversionPrice1":
            price = float(f.value)
    terms["conversion_rate_per_1000"] = rate
    terms["conversion_price_usd"] = price

    # -- security, calls, puts, capped calls
    secured = None
    if re.search(r"\bunsecured\b", text, re.I):
        secured = False
    if re.search(
        r"\bsecured by\b|\bcollateral\b|\bpledged\b|secured (?:revolving|term|credit|loan|notes)",
        text,
        re.I,
    ) or (re.search(r"\bsecured\b", heading, re.I) and not re.search(r"unsecured", heading, re.I)):
        secured = True
    terms["secured"] = secured
    call = re.search(
        rf"(?:may|can) (?:not )?redeem[^.]{{0,120}}?(?:on or after|prior to|before|beginning on)\s+({_DATE})",
        text,
        re.I,
    )
    terms["call_date"] = _date_iso(call.group(1)) if call else None
    put = re.search(rf"require (?:us|the company) to repurchase[^.]{{0,160}}?\bon\s+({_DATE})", text, re.I)
    terms["put_date"] = _date_iso(put.group(1)) if put else None
    if re.search(r"capped call", text, re.I):
        terms["capped_call"] = True
        cap = re.search(r"cap price[^.$]{0,80}?\$(\d[\d,]*(?:\.\d+)?)", text, re.I)
        terms["cap_price_usd"] = float(cap.group(1).replace(",", "")) if cap else None

    # -- a tranche issued after the period end is not debt at the period end
    if period_end and _issued_after(text, period_end):
        terms["outstanding_principal_usd"] = None
        status = "subsequent"
    terms["status"] = status or ("outstanding" if terms["outstanding_principal_usd"] else None)

    dropped: list[str] = []
    for term, value in list(terms.items()):
        why = checks.check(term, value, period_end=period_end)
        if why:
            dropped.append(f"{term} dropped: {why}")
            terms[term] = None
    why = checks.check_conversion(terms["conversion_rate_per_1000"], terms["conversion_price_usd"])
    if why:
        dropped.append(f"conversion_price_usd dropped: {why}")
        terms["conversion_price_usd"] = None
    stated = [t for t, v in terms.items() if v is not None and t != "status"]
    if not stated:
        return None, dropped
    alias_list = tuple(dict.fromkeys(a for a in [heading, *aliases] if a and a != name))
    return Tranche(instrument=_norm(name), kind=kind, aliases=alias_list, **terms), dropped


def _row_value(row: Block, facts_at: dict[tuple[int, str, str], Fact]) -> float | None:
    """A table row's first amount: the tagged fact when there is one (its scale gives dollars), else
    the displayed number times the table's stated unit ("in thousands"); with no stated unit, None."""
    if row.element is not None:
        for el in row.element.iter(f"{{{IX}}}nonFraction"):
            f = facts_at.get(_fact_key(el))
            if f is not None and f.value is not None and f.unit == "USD":
                return float(f.value)
    unit = _table_unit(row)
    for cell in row.cells[1:]:
        nm = re.fullmatch(r"\$?\s*\(?([\d,]+(?:\.\d+)?)\)?", cell)
        if nm:
            return float(nm.group(1).replace(",", "")) * unit if unit else None
    return None


def _table_unit(row: Block) -> float | None:
    """1e3 for a table "(in thousands)", 1e6 "(in millions)", 1 "(in dollars)"; None when it does not say.
    Looks in the row's table and the paragraph just before it."""
    el = row.element
    table = None
    while el is not None:
        if _local(el.tag) == "table":
            table = el
            break
        el = el.getparent()
    if table is None:
        return None
    texts = [element_text(table)[:2000]]
    prev = table.getprevious()
    for _ in range(3):
        if prev is None:
            break
        texts.append(element_text(prev)[-300:])
        prev = prev.getprevious()
    blob = " ".join(texts).lower()
    for words, unit in (("in thousands", 1e3), ("in millions", 1e6), ("in dollars", 1.0)):
        if words in blob:
            return unit
    return None


def _principal_table_total(bs: Sequence[Block], facts_at: dict[tuple[int, str, str], Fact]) -> float | None:
    """The "Total" row of a table introduced as future principal payments."""
    in_table = False
    for b in bs:
        if not b.row:
            in_table = bool(
                re.search(
                    r"principal payments|payments of principal|maturities of (?:the )?(?:note|debt)",
                    b.text,
                    re.I,
                )
            )
            continue
        if in_table and re.match(r"total\b", b.cells[0], re.I):
            return _row_value(b, facts_at)
    return None


def _issued_after(text: str, period_end: str) -> bool:
    for sm in re.finditer(
        rf"\b(?:on|in)\s+({_DATE}|{_MONTH_YEAR}),?\s+the company\s+"
        r"(?:issued|sold|entered into|closed|priced)",
        text,
        re.I,
    ):
        when = _date_iso(sm.group(1)) or _month_year_iso(sm.group(1))
        if when and when[:7] > period_end[:7]:
            return True
    return False
