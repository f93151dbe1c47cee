"""``/stock TICKER``: a listed miner's share price against its convertible notes (issue 15).

Price and its 1d change (the same reference as ``/alert stock.mara drops 10% in 1d``), whether the
quote is delayed or the market closed, with the quote's time in the chat's zone and the source that
served it; then each convertible tranche outstanding: conversion price, distance, the soft-call
trigger where the ledger holds one the filing states, shares on conversion; then market cap,
dilution and leverage, each with the dates of its inputs. Read-only: anyone in a chat may ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from html import escape
from typing import Any

from sqlite_utils import Database
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.delivery.messages import SOURCE_NAMES
from bot.delivery.stock_messages import shares_text
from bot.engine import equity as engine_equity
from bot.handlers.commands import command_argument, reply
from bot.render.chart_data import chat_zone
from bot.services import services
from rules import equity
from rules.catalogue import STOCK_TICKERS, format_value
from rules.evaluate import change_pct
from storage import observations, watcher_state

EXAMPLE = "<code>/stock MARA</code>"
READOUT = (
    ("mcap", "Market cap"),
    ("convert", "To weighted conversion price"),
    ("dilution", "Dilution if all convert"),
    ("leverage", "Leverage (debt / mcap)"),
)


@dataclass(frozen=True, slots=True)
class StockView:
    """Everything /stock shows for one ticker, read on the database thread."""

    inputs: engine_equity.Inputs
    quote: dict[str, Any]  # the quotes watcher's state for the ticker (delayed, session), or {}
    reference: float | None  # the price a day before the quote
    tz: tzinfo


def gather(db: Database, chat_id: int, ticker: str) -> StockView:
    inputs = engine_equity.gather(db, ticker)
    quote: dict[str, Any] = {}
    reference = None
    if inputs.price is not None:
        quote = dict((watcher_state.load_state(db, "quotes").get("quotes") or {}).get(inputs.ticker) or {})
        metric = equity.metric_name(equity.PRICE_FAMILY, inputs.ticker)
        reference = observations.value_at_or_before(db, metric, inputs.price.at - timedelta(days=1))
    return StockView(inputs, quote, reference, chat_zone(db, chat_id))


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _usd_short(value: float) -> str:
    """594,400,000 -> "$594.4M"; 1,000,000,000 -> "$1.00B" (principal as filings round it)."""
    if value >= 1e9:
        return f"${value / 1e9:,.2f}B"
    if value >= 1e6:
        return f"${value / 1e6:,.1f}M"
    return f"${value:,.0f}"


def _when(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _marker(view: StockView) -> str:
    """ "market closed" / "delayed" as the quotes watcher judged the quote, else nothing."""
    price = view.inputs.price
    assert price is not None
    if view.quote.get("at") and datetime.fromisoformat(view.quote["at"]) != price.at:
        return ""  # the state speaks of another quote (a backfilled close is newer): say nothing
    if view.quote.get("session") == "closed":
        return " · market closed"
    if view.quote.get("delayed"):
        return " · delayed"
    return ""


def render(view: StockView) -> str:
    """The /stock reply (HTML). Pure apart from the view it is given."""
    inputs, tz = view.inputs, view.tz
    t = inputs.ticker
    price = inputs.price
    if price is None:
        return (
            f"No quote for {escape(t)} yet: the quotes watcher stores one each time it polls in the US "
            "session (and once after the close). Try again later."
        )
    change = change_pct(price.value, view.reference) if view.reference is not None else None
    change_text = f" ({change:+.2f}% 1d)" if change is not None else ""
    source = escape(SOURCE_NAMES.get(price.source, price.source))
    lines = [
        f"<b>{escape(t)}</b> {_usd(price.value)}{change_text}",
        f"{escape(_when(price.at, tz))} · {source}{_marker(view)}",
    ]
    notes = equity.convertibles(inputs.ledger)
    if notes:
        lines.append("")
        lines.append("<b>Convertible notes</b>")
    for note in notes:
        lines.append(f"• {escape(note.instrument)}")
        level = equity.conversion_price(note)
        parts: list[str] = []
        if level is None:
            parts.append("conversion price not stated")
        else:
            distance = equity.distance_pct(price.value, level)
            money = "in the money" if distance > 0 else "out of the money"
            parts.append(f"conversion {_usd(level)} ({distance:+.1f}%, {money})")
        trigger = equity.soft_call_price(note)
        if trigger is not None:
            distance = equity.distance_pct(price.value, trigger)
            parts.append(
                f"soft-call trigger {_usd(trigger)} ({note.soft_call_pct:g}% of conversion, {distance:+.1f}%)"
            )
        issued = equity.shares_on_conversion(note)
        if issued is not None:
            parts.append(f"{shares_text(issued)} shares on conversion")
        if note.outstanding_principal_usd is not None:
            parts.append(f"{_usd_short(note.outstanding_principal_usd)} outstanding")
        lines.append("  " + " · ".join(parts))
        cited = note.cited.get("conversion_price_usd") or note.cited.get("conversion_rate_per_1000")
        if cited is not None:
            lines.append(
                f"  terms: {escape(cited.form)} {escape(cited.period or cited.filed or '')}".rstrip()
            )
    if inputs.ledger is not None and not notes and inputs.ledger.latest_period:
        lines += [
            "",
            f"No convertible notes outstanding in the filings as of {escape(inputs.ledger.latest_period)}.",
        ]
    derived = {d.metric.split(".")[0]: d for d in equity.derive(t, price, inputs.shares, inputs.ledger)}
    lines.append("")
    for family, name in READOUT:
        d = derived.get(family)
        metric = equity.metric_name(family, t)
        if d is None:
            lines.append(f"{name}: n/a ({_missing(family, inputs)})")
            continue
        lines.append(f"{name}: <b>{escape(format_value(metric, d.value))}</b>")
        lines.append(f"  <i>{escape(_inputs_line(d, tz))}</i>")
    return "\n".join(lines)


def _inputs_line(d: equity.Derived, tz: tzinfo) -> str:
    parts = [f"price {_when(d.price.at, tz)}"]
    if d.shares is not None:
        parts.append(f"{shares_text(d.shares.shares)} shares as of {d.shares.as_of} ({d.shares.source.form})")
    if d.debt_as_of is not None:
        parts.append(f"debt as of {d.debt_as_of}")
    return " · ".join(parts)


def _missing(family: str, inputs: engine_equity.Inputs) -> str:
    if family != "convert" and inputs.shares is None:
        return "no share count from a 10-Q/10-K cover yet"
    if inputs.ledger is None or inputs.ledger.latest_period is None:
        return "no debt ledger from the filings yet"
    if family == "convert":
        return "no convertible with a stated conversion price"
    if family == "dilution":
        return "a convertible states neither conversion rate nor price"
    return "no debt total in the filings"


def _watched(svc: Any) -> list[str]:
    quotes = next((sw.watcher for sw in svc.watchers if sw.watcher.id == "quotes"), None)
    return list(getattr(quotes, "tickers", []) or [])


async def cmd_stock(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    arg = command_argument(update).strip().lstrip("$").upper()
    watched = _watched(svc)
    example = f"<code>/stock {escape(watched[0])}</code>" if watched else EXAMPLE  # one it watches
    if not arg or " " in arg:
        known = ", ".join(watched or [t.upper() for t in STOCK_TICKERS])
        await reply(update, f"Name one ticker, for example {example}. Watched: {escape(known)}.")
        return
    if arg.lower() not in STOCK_TICKERS or (watched and arg not in watched):
        known = ", ".join(watched or [t.upper() for t in STOCK_TICKERS])
        await reply(
            update,
            f"❌ I don't watch {escape(arg)}. Watched miners: {escape(known)}. Example: {example}.",
        )
        return
    view = await svc.db(gather, chat.id, arg)
    await reply(update, render(view))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("stock", cmd_stock))
