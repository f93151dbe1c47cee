"""A tranche from an issuance document (8-K Items 1.01/2.03, pricing/closing release, 424B prospectus).

The terms are read by the filings watcher's own extractor (issue 5): this module only maps its
:class:`FilingInfo` onto a :class:`~rules.ledger.Tranche`, so there is one term extractor, not two.
The greenshoe is counted only when the document's principal already includes it (the extractor's
``principal_usd`` is the closing size; an option merely granted stays out).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rules.ledger import Tranche
from watchers.ledger import checks
from watchers.ledger.filings_api import DEBT_KINDS, analyse_filing  # the one filings term extractor


def read_issuance(
    text: str, *, form: str | None, items: tuple[str, ...] = (), exhibits: Sequence[str] = ()
) -> tuple[list[Tranche], list[str]]:
    """The tranche an issuance document announces (none for anything else), and dropped values;
    ``exhibits`` (its EX-99 releases) are read with it, as the filings watcher reads them."""
    info = analyse_filing(text, form=form, items=items, exhibits=exhibits)
    if info.kind not in DEBT_KINDS:
        return [], []
    t = info.terms
    coupon = t.get("coupon_pct")
    maturity = t.get("maturity")
    kind = info.kind
    name = _name(kind, coupon, maturity)
    terms = {
        "original_principal_usd": t.get("principal_usd"),
        # an issuance document speaks for the day it closes: everything issued is outstanding
        "outstanding_principal_usd": t.get("principal_usd"),
        "coupon_pct": coupon,
        "maturity": maturity,
        "conversion_rate_per_1000": t.get("conversion_rate_per_1000"),
        "conversion_price_usd": t.get("conversion_price_usd"),
        "secured": t.get("secured"),
        "capped_call": t.get("capped_call"),
        "cap_price_usd": t.get("cap_price_usd"),
    }
    dropped = []
    for term, value in list(terms.items()):
        why = checks.check(term, value)
        if why:
            dropped.append(f"{name}: {term} dropped: {why}")
            terms[term] = None
    why = checks.check_conversion(terms["conversion_rate_per_1000"], terms["conversion_price_usd"])
    if why:
        dropped.append(f"{name}: conversion_price_usd dropped: {why}")
        terms["conversion_price_usd"] = None
    if terms["original_principal_usd"] is None:
        return [], [*dropped, f"{name}: no principal stated, no tranche"]
    return [Tranche(instrument=name, kind=kind, status="outstanding", **terms)], dropped


def _name(kind: str, coupon: float | None, maturity: str | None) -> str:
    words = {
        "convertible_notes": "Convertible Senior Notes",
        "senior_notes": "Senior Notes",
        "secured_notes": "Senior Secured Notes",
        "credit_facility": "Credit Facility",
    }[kind]
    head = ""
    if coupon is not None:
        head = f"{coupon:.2f}% " if round(coupon, 2) == coupon else f"{coupon:g}% "
    tail = f" due {maturity[:4]}" if maturity and re.match(r"\d{4}", maturity) else ""
    return f"{head}{words}{tail}"
