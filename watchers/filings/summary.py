"""One line for a human: "TeraWulf (WULF) · 8-K · $3.2B senior secured notes due 2030, 7.75% · filed ..."."""

from __future__ import annotations

from datetime import datetime

from watchers.filings.model import DEBT_KINDS, EASTERN, FilingInfo

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


def option_part(terms: dict[str, object]) -> str | None:
    """The greenshoe as the filing states it: "incl. $150M option" when the stated principal (or
    offering amount) already counts it, "+$150M option" when it comes on top (an option granted,
    "up to an additional $150 million"). None without an option."""
    amount = terms.get("greenshoe_usd")
    if not isinstance(amount, int | float) or not amount:
        return None
    size = format_usd_short(float(amount))
    return f"incl. {size} option" if terms.get("greenshoe_included") else f"+{size} option"


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
        option = option_part(t)  # next to the principal it qualifies
        if option:
            parts.append(option)
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
        return ", ".join(parts)
    if info.kind == "equity_offering":
        head = label
        if t.get("offering_amount_usd") is not None:
            head = f"{format_usd_short(t['offering_amount_usd'])} {label}"
        option = option_part(t)
        if option:
            head += f", {option}"
        return head
    return label


def who(company: str, ticker: str | None) -> str:
    return f"{company} ({ticker})" if ticker else company


def filed_text(filed_at: datetime) -> str:
    """ "filed 2025-10-28 16:05 ET" (EDGAR's own clock), or the naive time as given."""
    if filed_at.tzinfo:
        return f"filed {filed_at.astimezone(EASTERN):%Y-%m-%d %H:%M} ET"
    return f"filed {filed_at:%Y-%m-%d %H:%M}"


def headline(*, company: str, ticker: str | None, info: FilingInfo) -> str:
    """The alert's title, said once: "MARA Holdings, Inc. (MARA): $1B convertible notes due 2030,
    incl. $150M option, 0%, conv. $25.91". The form and filing time go on the line below it."""
    return f"{who(company, ticker)}: {describe(info)}"


def summary_line(*, company: str, ticker: str | None, form: str, info: FilingInfo, filed_at: datetime) -> str:
    """Plain text (the caller escapes HTML), e.g.
    "TeraWulf (WULF) · 8-K · $3.2B senior secured notes due 2030, 7.75% · filed 2025-10-28 16:05 ET"."""
    return f"{who(company, ticker)} · {form} · {describe(info)} · {filed_text(filed_at)}"
