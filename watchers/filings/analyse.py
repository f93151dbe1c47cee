"""Classify an SEC filing and pull out the financing terms a trader reads first. Pure: no I/O.

Input is the primary document of a filing (HTML or text), optionally its press-release exhibits
(EX-99.1, EX-99.2), its form type and its 8-K items. Output is a :class:`FilingInfo`: one kind from
:data:`KINDS` and the terms of ``shared/filings/LABELS.json`` (plus ``secured`` and
``use_of_proceeds``). A term the text does not state is ``None``: the extractor never guesses.

How it decides, in short:

* A periodic report (10-Q, 10-K, 20-F, 40-F) is "other", whatever its debt notes say: it
  describes instruments that exist, never a new financing.
* 8-K items first: a filing whose items are only officer changes, votes, earnings (2.02) and the
  like can never be a financing (an item-only 8-K with 5.02 stays "other" whatever dollar amounts
  the compensation tables hold). Financings come with 1.01, 2.03, 3.02, 7.01 or 8.01.
* A shelf registration (S-3, S-3ASR, F-3) that carries an at-the-market prospectus is an equity
  offering of the amount its ATM wording states, wherever that stands in the document.
* Offering documents (424B*, FWP) are classified by the security on their cover page, other
  shelf registrations likewise, and a mixed shelf with no specific security is "other".
* Otherwise the *subject* of the document decides: the earliest instrument phrase in the body
  ("0.00% convertible senior notes due 2030", "term loan", "at-the-market", "Reports Second
  Quarter Results", "Bitcoin Production ... Update"), ignoring phrases about existing instruments
  ("repurchase ... its existing convertible notes due 2026", "the Company's existing 0.750%
  Convertible Notes due 2025") so a secured-notes 8-K that mentions old convertibles stays secured.
* Terms are read only for financing kinds, and only from patterns that state them: a coupon from
  "X% ... notes" or "bear interest at a rate of X%" ("will not bear regular interest" is 0%), a
  principal from "aggregate principal amount", the priced size preferred over the launch size
  (the launch size then becomes ``upsized_from_usd``), the greenshoe from the option sentence.
  Coupon, maturity, security and conversion terms are read only where the text is about the new
  instrument (:mod:`watchers.filings.instruments`): not from the notes it redeems or repurchases.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rules.events import FINANCING_KINDS
from watchers.filings.classify import _classify, _cover, _Hit
from watchers.filings.model import TERM_NAMES, FilingInfo
from watchers.filings.terms import _atm_program_amount, _extract
from watchers.filings.text import _body, _strip_forward_looking, html_to_text, items_in_text

PERIODIC_FORMS = ("10-Q", "10-K", "20-F", "40-F")
SHELF_FORMS = ("S-3", "F-3")  # with S-3ASR, F-3ASR and amendments


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
    if form_u.startswith(PERIODIC_FORMS):
        # A 10-Q/10-K/20-F/40-F reports the period: its debt notes describe instruments that
        # exist, never a new financing, and no term of theirs is announced as one.
        return FilingInfo("other", dict.fromkeys(TERM_NAMES))
    if form_u.startswith(SHELF_FORMS):
        # A shelf that carries an at-the-market prospectus is an equity offering of the program's
        # size, wherever in the document that prospectus stands (usually after the base prospectus).
        atm = _atm_program_amount(text)
        if atm is not None:
            terms = _extract("equity_offering", _strip_forward_looking(text), None)
            terms["offering_amount_usd"] = atm
            return FilingInfo("equity_offering", terms)
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
    if subject is not None and source[subject.start : subject.end] != subject.text:
        # re-anchor the subject in the text the terms are read from (it was found in an exhibit);
        # a subject found in the body is already in place: the first "senior notes" of the text
        # may be part of an older "convertible senior notes due 2026"
        pos = source.find(subject.text)
        subject = _Hit(subject.kind, pos, pos + len(subject.text), subject.text)
    combined = " ".join([source, *(_strip_forward_looking(e) for e in exhibit_texts)])
    cover_size = len(_cover(source)) if form_u.startswith(("424B", "FWP", "S-3", "F-3")) else 0
    return FilingInfo(kind, _extract(kind, combined, subject, cover_size=cover_size))


def _norm_item(item: str) -> str:
    m = re.search(r"(\d+\.\d{2})", str(item))
    return m.group(1) if m else ""


def _form_in_text(text: str) -> str | None:
    # A periodic report's cover names its form and then the report it is ("FORM 10-Q ☒ QUARTERLY
    # REPORT PURSUANT TO SECTION 13 OR 15(d)"); an 8-K or press release only cites "Form 10-K".
    m = re.search(
        r"\bFORM\s+(10-K|10-Q|20-F|40-F)(?:/A)?\b.{0,300}?\b(?:ANNUAL|QUARTERLY|TRANSITION)\s+REPORT\s+"
        r"PURSUANT\s+TO\s+SECTION\s+1[35]",
        text[:5000],
        re.I,
    )
    if m:
        return m.group(1)
    m = re.search(r"\bFORM\s+(8-K(?:/A)?|6-K|424B\d|S-3|F-3)\b", text[:3000], re.I)
    if m:
        return m.group(1)
    m = re.match(r"\s*(424B\d|8-K|6-K|FWP|S-3ASR|F-3ASR|S-3|F-3|10-K|10-Q|20-F|40-F)\b", text)
    if m:
        return m.group(1)
    m = re.search(r"\bPursuant\s+to\s+Rule\s+424\s*\(b\)\s*\((\d)\)", text[:3000], re.I)
    if m:
        return f"424B{m.group(1)}"
    if re.search(r"\bPursuant\s+to\s+Rule\s+433\b|\bFree\s+Writing\s+Prospectus\b", text[:3000], re.I):
        return "FWP"
    return None
