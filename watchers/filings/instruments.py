"""Which instrument a passage is about: the new one the filing offers, or one that already exists.

A filing that prices new notes often redeems, repurchases or describes old ones in the same text:
"the Company intends to use the net proceeds ... to redeem in full all $500.0 million outstanding
aggregate principal amount of the Company's 6.125% Senior Secured Notes due 2028 (the "Senior
Secured Notes")", "the 2025 Notes are convertible ... at the applicable conversion rate of 2.5126
shares". A coupon, maturity, security interest or conversion term read there belongs to the old
notes. :func:`mask_other_instruments` blanks those passages (same length, so offsets still hold):

* the name of an existing instrument ("outstanding 0.750% Convertible Senior Notes due 2025"),
  recognised by what stands before it in its clause (existing, outstanding, redeem, repurchase ...);
* every later mention of the short name the filing defines for it ("the 2025 Notes");
* whole sentences that mention an existing instrument and not the new one ("the notes", "the Notes",
  the subject's own name).

Pure: no I/O.
"""

from __future__ import annotations

import re

from watchers.filings.classify import _EXISTING_RE, _KIND_RE, _NOTES, _Hit
from watchers.filings.text import _sentences

_DEBT_NAME_RES = (
    _KIND_RE["convertible_notes"],
    _KIND_RE["secured_notes"],
    _KIND_RE["senior_notes"],
    re.compile(
        r"(?:\d+(?:\.\d+)?%\s+)?(?:convertible\s+|exchangeable\s+)?(?:senior\s+)?(?:secured\s+|unsecured\s+)?"
        rf"(?:convertible\s+|exchangeable\s+)?(?:subordinated\s+)?{_NOTES}\s+due\s+\d{{4}}\b",
        re.I,
    ),
)
# Words that put the instrument named next in the same clause among the old ones. Wider than the
# classifier's _EXISTING_RE (which looks 25 characters back): "redeem in full all $500.0 million
# outstanding aggregate principal amount of the Company's 6.125% Senior Secured Notes".
_OLD_WORDS = re.compile(
    r"\b(?:existing|outstanding|previously\s+issued|repurchas\w*|redeem\w*|redemption|retir\w*|"
    r"exchange\s+for|refinanc\w*)\b",
    re.I,
)
_CLAUSE_START = re.compile(r"[.;:]\s|,\s+and\s|\bwhile\b", re.I)
_COUPON_PREFIX = re.compile(r"(?:\d+(?:\.\d+)?%\s+)$")
_DUE_SUFFIX = re.compile(r"^\s+due\s+\d{4}\b", re.I)
_GENERIC = frozenset({"notes", "new notes", "loan", "loans", "term loan", "facility"})
_DEFINED_AS = re.compile(r'^\s*\(\s*(?:together,\s+)?(?:the\s+)?"([^"]{2,60})"', re.I)
# The new instrument as filings refer to it once named: "the notes", "the Notes", "the new notes".
_NEW_MENTION = re.compile(r"\b[Tt]he\s+(?:[Nn]ew\s+)?(?:[Nn]otes|[Ll]oans?|[Tt]erm\s+[Ll]oan|[Ff]acility)\b")


def _is_old(text: str, start: int) -> bool:
    if _EXISTING_RE.search(text[max(0, start - 60) : start]):
        return True
    window = text[max(0, start - 160) : start]
    cut = max((m.end() for m in _CLAUSE_START.finditer(window)), default=0)
    return bool(_OLD_WORDS.search(window[cut:]))


def _old_spans(text: str, subject: _Hit | None) -> tuple[list[tuple[int, int]], list[str]]:
    """(spans of existing-instrument names with their coupon and due year, the short names the
    filing defines for them)."""
    spans: list[tuple[int, int]] = []
    names: list[str] = []
    for pattern in _DEBT_NAME_RES:
        for m in pattern.finditer(text):
            start, end = m.start(), m.end()
            if subject is not None and start < subject.end and subject.start < end:
                continue  # the new instrument itself
            coupon = _COUPON_PREFIX.search(text[max(0, start - 12) : start])
            if coupon:
                start -= len(coupon.group(0))
            if not _is_old(text, start):
                continue
            due = _DUE_SUFFIX.match(text[end : end + 20])
            if due:
                end += due.end()
            spans.append((start, end))
            defined = _DEFINED_AS.match(text[end : end + 80])
            # a generic short name ("the Notes") would blank the new notes too: not collected
            if defined and defined.group(1) not in names and defined.group(1).lower() not in _GENERIC:
                names.append(defined.group(1))
    return spans, names


def mask_other_instruments(text: str, subject: _Hit | None) -> str:
    """``text`` with what is said about existing instruments blanked out (see the module doc)."""
    spans, names = _old_spans(text, subject)
    name_res = [re.compile(rf"\b{re.escape(n)}\b") for n in names]
    for name_re in name_res:
        spans.extend((m.start(), m.end()) for m in name_re.finditer(text))
    if not spans:
        return text
    chars = list(text)
    for start, sentence in _sentences(text):
        end = start + len(sentence)
        old_here = any(start <= s < end for s, _ in spans)
        if not old_here:
            continue
        new_here = _NEW_MENTION.search(sentence) or (subject is not None and start <= subject.start < end)
        if not new_here:
            chars[start:end] = " " * len(sentence)
    for s, e in spans:
        chars[s:e] = " " * (e - s)
    return "".join(chars)
