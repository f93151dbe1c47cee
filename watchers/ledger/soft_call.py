"""The soft-call trigger of a convertible, where an issuance document states it: "the Company may
redeem ... if the last reported sale price of the Company's common stock has been at least 130% of
the conversion price then in effect for at least 20 trading days ..." (MARA's closing 8-K of
2024-11-21). Read from the document's text, pure, no I/O.

Only a document announcing exactly one convertible is read (the percentage then belongs to it
without doubt), and only a percentage inside a sentence about redeeming. A value outside
100-300 % is dropped with a note. Nothing is ever assumed: no sentence, no trigger.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace

from rules.ledger import CONVERTIBLE, Tranche

_TAG = re.compile(r"<[^>]+>")
_SENTENCE = re.compile(r"[^.;]*\bredee?m[^.;]*", re.I)
_TRIGGER = re.compile(r"(\d{2,3}(?:\.\d+)?)\s*%\s+of\s+the\s+(?:applicable\s+)?conversion\s+price", re.I)
LOW, HIGH = 100.0, 300.0


def soft_call_pct(text: str) -> tuple[float | None, list[str]]:
    """The one soft-call percentage the text states (None when none, or several different ones)."""
    plain = re.sub(r"\s+", " ", html.unescape(_TAG.sub(" ", text)))
    found: set[float] = set()
    notes: list[str] = []
    for sentence in _SENTENCE.findall(plain):
        for m in _TRIGGER.finditer(sentence):
            pct = float(m.group(1))
            if LOW < pct <= HIGH:
                found.add(pct)
            else:
                notes.append(f"soft-call trigger {pct:g}% of the conversion price is implausible, dropped")
    if len(found) > 1:
        notes.append(f"several soft-call triggers ({', '.join(f'{p:g}%' for p in sorted(found))}), none kept")
        return None, notes
    return (found.pop() if found else None), notes


def with_soft_call(tranches: list[Tranche], text: str) -> tuple[list[Tranche], list[str]]:
    """``tranches`` with the soft-call trigger set on the one convertible, when the text states it."""
    convertibles = [i for i, t in enumerate(tranches) if t.kind == CONVERTIBLE]
    if len(convertibles) != 1:
        return tranches, []
    pct, notes = soft_call_pct(text)
    if pct is None:
        return tranches, notes
    out = list(tranches)
    out[convertibles[0]] = replace(out[convertibles[0]], soft_call_pct=pct)
    return out, notes
