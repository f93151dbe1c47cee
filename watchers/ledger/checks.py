"""Type and range checks for every term of a tranche. A value that fails is dropped and logged, never shown.

The ranges are wide on purpose: they catch the traps seen on real miner filings
(shared/ledger/PROVENANCE.md), not unusual but real terms:

* an amount in thousands tagged as an interest rate (a 5,323 "%" coupon);
* a table "in thousands" read as dollars (a $5,323 note);
* a conversion rate tagged as a number of shares issued (millions "per $1,000");
* a conversion price that is really a capped call's cap price (rate x price far from $1,000);
* a maturity given only as a month and day (no year) or a year outside any plausible life.
"""

from __future__ import annotations

import re
from typing import Any

MIN_PRINCIPAL_USD = 10_000.0  # below this a "principal" is a thousands-table misread
MAX_PRINCIPAL_USD = 50e9  # the whole listed-miner industry owed ~$13B in 2025
MAX_COUPON_PCT = 30.0
CONVERSION_TOLERANCE = 0.02  # rate x price must be within 2% of $1,000


def check(term: str, value: Any, *, period_end: str | None = None) -> str | None:
    """Why ``value`` is not a plausible ``term``, or None when it is."""
    if value is None:
        return None
    if term in ("original_principal_usd", "outstanding_principal_usd"):
        if not _number(value):
            return "not a number"
        if value == 0 and term == "outstanding_principal_usd":
            return None  # repaid, matured, undrawn: a stated zero is a real value
        if not MIN_PRINCIPAL_USD <= value <= MAX_PRINCIPAL_USD:
            return f"{value:,.0f} USD is outside {MIN_PRINCIPAL_USD:,.0f}..{MAX_PRINCIPAL_USD:,.0f}"
        return None
    if term == "coupon_pct":
        if not _number(value) or not 0 <= value <= MAX_COUPON_PCT:
            return f"coupon {value!r}% is outside 0..{MAX_COUPON_PCT:g}%"
        return None
    if term == "conversion_rate_per_1000":
        if not _number(value) or not 0.1 <= value <= 5000:
            return f"{value!r} shares per $1,000 is outside 0.1..5000"
        return None
    if term in ("conversion_price_usd", "cap_price_usd"):
        if not _number(value) or not 0.05 <= value <= 20_000:
            return f"{value!r} USD per share is outside 0.05..20000"
        return None
    if term in ("maturity", "put_date", "call_date"):
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value):
            return f"{value!r} is not a date with a year"
        if not 1990 <= int(value[:4]) <= 2080:
            return f"year {value[:4]} is outside 1990..2080"
        return None
    if term in ("secured", "capped_call"):
        return None if isinstance(value, bool) else f"{value!r} is not true/false"
    return None


def check_conversion(rate: float | None, price: float | None) -> str | None:
    """A conversion rate per $1,000 and a conversion price describe one thing: rate x price = 1000."""
    if rate is None or price is None:
        return None
    if abs(rate * price / 1000.0 - 1.0) > CONVERSION_TOLERANCE:
        return f"rate {rate:g} x price {price:g} = {rate * price:,.0f}, not ~1,000 (a cap price?)"
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
