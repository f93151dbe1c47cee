"""``/miner TICKER`` (one miner's card) and ``/miners [COLUMN] [PAGE]`` (the league table) of the
miner book (issue 19). Read-only: anyone in a chat may ask.

The card: latest production figures with their period, qualifier and change from the previous
period of the same kind; share of network hash rate; fleet efficiency; BTC held (what it includes
when the release says so) and its value at the latest price; AI/HPC contracts; when the miner last
reported production ("14 months ago"); the stock and leverage lines where those metrics exist.

The table sorts the watched miners by one column; a miner without that figure goes last, shown
as "–", never estimated. More than :data:`PAGE_ROWS` rows page with ``/miners COLUMN 2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from html import escape
from typing import Any

from sqlite_utils import Database
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.delivery.production_messages import change_word, hpc_line, period_label
from bot.handlers.commands import command_argument, reply
from bot.render.chart_data import chat_zone
from bot.services import services
from rules.catalogue import STOCK_TICKERS
from rules.production import period_kind
from storage import observations
from storage import production as store

EXAMPLE = "<code>/miner MARA</code>"
PAGE_ROWS = 15
DAYS_PER_MONTH = 30.44

# column word -> (header, key in a league row, descending?)
COLUMNS: dict[str, tuple[str, str, bool]] = {
    "hashrate": ("EH/s", "hashrate", True),
    "share": ("net %", "share", True),
    "efficiency": ("J/TH", "efficiency", False),
    "held": ("BTC held", "held", True),
    "held_change": ("held Δ%", "held_change", True),
    "hpc": ("HPC MW", "hpc_mw", True),
    "leverage": ("debt/mcap", "leverage", True),
    "quiet": ("mo. since", "months_since", True),
}
COLUMN_ALIASES = {
    "eh": "hashrate",
    "hash": "hashrate",
    "network": "share",
    "j/th": "efficiency",
    "jth": "efficiency",
    "btc": "held",
    "treasury": "held",
    "change": "held_change",
    "sold": "held_change",
    "mw": "hpc",
    "ai": "hpc",
    "debt": "leverage",
    "months": "quiet",
    "last": "quiet",
}


@dataclass(frozen=True)
class MinerCard:
    ticker: str
    figures: dict[str, dict[str, Any]]
    previous: dict[str, dict[str, Any]]
    share: float | None
    price_usd: float | None
    stock_usd: float | None
    leverage: float | None
    hpc: list[dict[str, Any]] = field(default_factory=list)
    last_report: datetime | None = None


def gather_card(db: Database, ticker: str) -> MinerCard:
    t = ticker.upper()
    figures = store.latest_figures(db, t)
    previous: dict[str, dict[str, Any]] = {}
    for name, fig in figures.items():
        prev = store.previous_figure(
            db, t, name, fig["filed_at"], period_kind(fig.get("period")), fig["accession"]
        )
        if prev is not None:
            previous[name] = prev
    times = store.report_times(db, t)

    def latest(metric: str) -> float | None:
        row = observations.latest(db, metric)
        return row[0] if row else None

    return MinerCard(
        ticker=t,
        figures=figures,
        previous=previous,
        share=latest(f"share.{t.lower()}"),
        price_usd=latest("price"),
        stock_usd=latest(f"stock.{t.lower()}"),
        leverage=latest(f"leverage.{t.lower()}"),
        hpc=store.hpc_contracts(db, t),
        last_report=times[-1] if times else None,
    )


def _ago(then: datetime, now: datetime) -> str:
    days = (now - then).total_seconds() / 86400.0
    if days < 45:
        return f"{days:.0f} days ago"
    return f"{days / DAYS_PER_MONTH:.0f} months ago"


def _change(now: float, prev: dict[str, Any] | None) -> str:
    if not prev or not prev.get("value"):
        return ""
    return f" ({(now / float(prev['value']) - 1) * 100:+.0f}% vs {period_label(prev.get('period'))})"


def render_card(card: MinerCard, now: datetime, tz: tzinfo) -> str:
    t = escape(card.ticker)
    if not card.figures and not card.hpc:
        return (
            f"<b>{t}</b>: no production figures yet. They arrive with its production updates and "
            "earnings releases (the filings watcher)."
        )
    lines = [f"⛏ <b>{t}</b>"]
    f = card.figures
    mined = f.get("mined_btc")
    if mined:
        word = change_word(mined.get("period"))
        change = _change(float(mined["value"]), card.previous.get("mined_btc")).replace(
            " vs ", f" {word} vs "
        )
        lines.append(
            f"Mined: <b>{mined['value']:,.0f} BTC</b> in {escape(period_label(mined.get('period')))}{change}"
        )
    rate = f.get("hashrate_ehs")
    if rate:
        qual = f" {escape(rate['qualifier'])}" if rate.get("qualifier") else ""
        share = f" · {card.share:.2f}% of network" if card.share is not None else ""
        when = escape(period_label(rate.get("period")))
        lines.append(f"Hash rate: <b>{rate['value']:,.2f} EH/s</b>{qual} ({when}){share}")
    eff = f.get("efficiency_jth")
    if eff:
        lines.append(f"Fleet efficiency: <b>{eff['value']:g} J/TH</b>")
    held = f.get("held_btc")
    if held:
        at = held.get("as_of") or period_label(held.get("period"))
        value = (
            f" ≈ ${held['value'] * card.price_usd / 1e9:,.2f}B at ${card.price_usd:,.0f}"
            if card.price_usd
            else ""
        )
        change = _change(float(held["value"]), card.previous.get("held_btc"))
        lines.append(f"BTC held: <b>{held['value']:,.0f}</b> at {escape(str(at))}{change}{value}")
        if held.get("qualifier"):
            lines.append(f"  <i>{escape(held['qualifier'])}</i>")
    for contract in card.hpc[:3]:
        lines.append("AI/HPC: " + escape(hpc_line(card.ticker, contract).split(" · ", 1)[-1]))
    if card.last_report is not None:
        day = f"{card.last_report.astimezone(tz):%Y-%m-%d}"
        lines.append(f"Last production figures: {_ago(card.last_report, now)} ({day})")
    if card.stock_usd is not None:
        lev = f" · debt/mcap {card.leverage:.1f}%" if card.leverage is not None else ""
        lines.append(f"Stock: ${card.stock_usd:,.2f}{lev} (/stock {t} for its notes)")
    return "\n".join(lines)


def league(db: Database, now: datetime) -> list[dict[str, Any]]:
    """One row per miner with any production figure: the table's columns, None where unknown."""
    rows = []
    for ticker in store.tickers(db):
        card = gather_card(db, ticker)
        if ticker.lower() not in STOCK_TICKERS:
            continue
        f = card.figures
        held = f.get("held_btc")
        prev = card.previous.get("held_btc")
        hpc_mw = sum(float(c["subject_mw"]) for c in card.hpc if c.get("paired") and c.get("subject_mw"))
        rows.append(
            {
                "ticker": ticker,
                "hashrate": f["hashrate_ehs"]["value"] if "hashrate_ehs" in f else None,
                "share": card.share,
                "efficiency": f["efficiency_jth"]["value"] if "efficiency_jth" in f else None,
                "held": held["value"] if held else None,
                "held_change": (held["value"] / prev["value"] - 1) * 100
                if held and prev and prev["value"]
                else None,
                "hpc_mw": hpc_mw or None,
                "leverage": card.leverage,
                "months_since": (now - card.last_report).total_seconds() / 86400 / DAYS_PER_MONTH
                if card.last_report
                else None,
            }
        )
    return rows


def _cell(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    if key in ("held", "hpc_mw"):
        return f"{value:,.0f}"
    if key in ("held_change",):
        return f"{value:+.0f}"
    if key == "months_since":
        return f"{value:.1f}"
    return f"{value:,.2f}" if key in ("hashrate", "share") else f"{value:,.1f}"


def render_table(rows: list[dict[str, Any]], column: str, page: int = 1) -> str:
    header, key, descending = COLUMNS[column]
    known = sorted((r for r in rows if r[key] is not None), key=lambda r: r[key], reverse=descending)
    ordered = known + [r for r in rows if r[key] is None]
    pages = max(1, -(-len(ordered) // PAGE_ROWS))
    page = min(max(1, page), pages)
    chunk = ordered[(page - 1) * PAGE_ROWS : page * PAGE_ROWS]
    keys = ["hashrate", "share", "efficiency", "held", "held_change", "hpc_mw", "leverage", "months_since"]
    heads = ["EH/s", "net%", "J/TH", "BTC", "held%", "HPC MW", "lev%", "mo"]
    lines = ["tick  " + " ".join(f"{h:>7}" for h in heads)]
    for r in chunk:
        lines.append(f"{r['ticker']:<5} " + " ".join(f"{_cell(k, r[k]):>7}" for k in keys))
    more = f"\npage {page}/{pages}: /miners {column} {page + 1}" if page < pages else ""
    return (
        f"<b>Miners by {escape(header)}</b> ({'high' if descending else 'low'} first; – = not stated)\n"
        f"<pre>{escape(chr(10).join(lines))}</pre>{more}"
    )


async def cmd_miner(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    arg = command_argument(update).strip().lstrip("$").upper()
    if not arg or " " in arg or arg.lower() not in STOCK_TICKERS:
        known = ", ".join(t.upper() for t in STOCK_TICKERS)
        problem = (
            "Name one watched miner"
            if not arg or " " in arg
            else f"❌ I don't watch {escape(arg)}: name one watched miner"
        )
        await reply(update, f"{problem}, for example {EXAMPLE}. Watched: {escape(known)}.")
        return
    card = await svc.db(gather_card, arg)
    tz = await svc.db(chat_zone, chat.id)
    await reply(update, render_card(card, svc.clock(), tz))


async def cmd_miners(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    words = command_argument(update).strip().lower().split()
    column = COLUMN_ALIASES.get(words[0], words[0]) if words else "hashrate"
    page = int(words[1]) if len(words) > 1 and words[1].isdigit() else 1
    if column not in COLUMNS:
        await reply(
            update,
            f"❌ No column {escape(words[0])}. Columns: {', '.join(COLUMNS)}. "
            "Example: <code>/miners held</code>",
        )
        return
    rows = await svc.db(league, svc.clock())
    if not rows:
        await reply(update, "No production figures yet: they arrive with the miners' releases.")
        return
    await reply(update, render_table(rows, column, page))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("miner", cmd_miner))
    app.add_handler(CommandHandler("miners", cmd_miners))
