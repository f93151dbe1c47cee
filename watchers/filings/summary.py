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
        if t.get("greenshoe_usd"):
            parts.append(f"{format_usd_short(t['greenshoe_usd'])} option")
        return ", ".join(parts)
    if info.kind == "equity_offering":
        head = label
        if t.get("offering_amount_usd") is not None:
            head = f"{format_usd_short(t['offering_amount_usd'])} {label}"
        if t.get("greenshoe_usd"):
            head += f", {format_usd_short(t['greenshoe_usd'])} option"
        return head
    return label


def summary_line(*, company: str, ticker: str | None, form: str, info: FilingInfo, filed_at: datetime) -> str:
    """Plain text (the caller escapes HTML), e.g.
    "TeraWulf (WULF) · 8-K · $3.2B senior secured notes due 2030, 7.75% · filed 2025-10-28 16:05 ET"."""
    who = f"{company} ({ticker})" if ticker else company
    when = filed_at.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M") if filed_at.tzinfo else None
    filed = f"filed {when} ET" if when else f"filed {filed_at:%Y-%m-%d %H:%M}"
    return f"{who} · {form} · {describe(info)} · {filed}"
