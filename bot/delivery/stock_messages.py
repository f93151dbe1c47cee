"""The ``converts`` message: a stock crossing a conversion price of its notes, and crossing back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from html import escape
from typing import Any

from bot.delivery.messages import source_line, truncate


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def shares_text(shares: float) -> str:
    """47,884,416 -> "47.9M"."""
    if shares >= 1e9:
        return f"{shares / 1e9:.2f}B"
    if shares >= 1e6:
        return f"{shares / 1e6:.1f}M"
    return f"{shares:,.0f}"


def converts_message(data: Mapping[str, Any], links: Mapping[str, str], tz: tzinfo = UTC) -> str:
    ticker = escape(str(data.get("ticker", "?")))
    instrument = escape(str(data.get("instrument", "its convertible notes")))
    level = float(data.get("level_usd") or 0.0)
    price = float(data.get("price") or 0.0)
    up = data.get("direction") == "above"
    what = "soft-call trigger" if data.get("level") == "soft_call" else "conversion price"
    if up:
        head = f"📈 <b>{ticker} crossed above the {what} of its {instrument}: {_usd(level)}</b>"
    else:
        head = f"📉 <b>{ticker} fell back below the {what} of its {instrument}: {_usd(level)}</b>"
    when = ""
    if data.get("price_at"):
        when = " at " + datetime.fromisoformat(str(data["price_at"])).astimezone(tz).strftime(
            "%Y-%m-%d %H:%M %Z"
        )
    ctx = f"{ticker} {_usd(price)}{when} ({float(data.get('distance_pct') or 0.0):+.1f}% from the {what})"
    issued = data.get("shares_on_conversion")
    if isinstance(issued, int | float):
        ctx += f" · {shares_text(float(issued))} shares on conversion"
    as_of = f" · terms as of {escape(str(data['debt_as_of']))}" if data.get("debt_as_of") else ""
    source = source_line(str(data.get("source", "")), links)
    return truncate(f"{head}\n{escape(ctx)}\n{source}{as_of} · <code>converts</code>")
