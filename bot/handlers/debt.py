"""``/debt`` and ``/debt TICKER``: the watched miners' debt, built from their filings (issue 14).

``/debt``: the miners side by side (principal outstanding, convertible share, weighted coupon and
maturity, the next maturity or holder put, "as of"), the industry total and its change over 12
months. ``/debt MARA``: each tranche with its terms and the filings they came from, then the
maturity wall by year. Every figure is one a filing states; "—" where none does. Replies are split
on line boundaries under Telegram's 4,096 characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

from sqlite_utils import Database
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.delivery.ledger_messages import usd
from bot.engine.ledger import bootstrap_progress
from bot.handlers.commands import command_argument, reply
from bot.services import services
from rules.ledger import Ledger, Source, Tranche, debt_metric
from storage import ledger as store
from storage import observations

EXAMPLE = "<code>/debt MARA</code>"


@dataclass(frozen=True, slots=True)
class DebtView:
    ledgers: dict[str, Ledger | None]
    year_ago: dict[str, float | None]  # debt.<ticker> 12 months ago, where stored
    progress: dict[str, Any]


def gather(db: Database, tickers: list[str], now: datetime) -> DebtView:
    """Everything /debt shows, read on the database thread."""
    ledgers = store.load_ledgers(db, tickers)
    ago = now - timedelta(days=365)
    year_ago = {t: observations.value_at_or_before(db, debt_metric(t), ago) for t in tickers}
    return DebtView(ledgers, year_ago, bootstrap_progress(db))


def _pct(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}%"


def building_line(progress: dict[str, Any]) -> str | None:
    """ "building: 6 of 14 miners" while the bootstrap has not finished."""
    done, total = len(progress.get("done") or []), progress.get("total") or 0
    if not progress or progress.get("finished_at") or done >= total:
        return None  # not started, or finished (a daily catch-up is not "building")
    current = f" (reading {progress['current']})" if progress.get("current") else ""
    return f"⏳ building: {done} of {total} miners{current}"


def overview(view: DebtView, today: date) -> str:
    lines = ["<b>Miners' debt</b>: principal outstanding, from their filings"]
    building = building_line(view.progress)
    if building:
        lines.append(escape(building))
    total = 0.0
    counted: list[str] = []
    then_total = now_same = 0.0
    for ticker, lg in view.ledgers.items():
        amount = lg.total_debt_principal_usd if lg else None
        if lg is None or amount is None:
            lines.append(f"<b>{escape(ticker)}</b> no ledger yet")
            continue
        total += amount
        counted.append(ticker)
        if view.year_ago.get(ticker) is not None:
            then_total += float(view.year_ago[ticker] or 0)
            now_same += amount
        conv = lg.convertible_principal_usd
        share = f"{conv / amount * 100:.0f}% conv" if conv is not None and amount else "conv —"
        wam = lg.weighted_maturity_years(today)
        nxt = lg.next_date(today)
        nxt_text = "next —" if nxt is None else f"next {'put' if nxt[1] == 'put' else 'due'} {nxt[0]}"
        lines.append(
            f"<b>{escape(ticker)}</b> {escape(usd(amount))} · {share} · coupon "
            f"{_pct(lg.weighted_coupon_pct())} · {'—' if wam is None else f'{wam:.1f}y'} · "
            f"{escape(nxt_text)} · as of {escape(lg.latest_period or '—')}"
        )
    if counted:
        miners = f"{len(counted)} miner{'s' if len(counted) != 1 else ''}"
        line = f"<b>Industry total {escape(usd(total))}</b> ({miners})"
        if then_total > 0:
            change = (now_same - then_total) / then_total * 100
            line += (
                f" · 12 months ago {escape(usd(then_total))} → {escape(usd(now_same))} now "
                f"({change:+.0f}%, the miners with a ledger then)"
            )
        else:
            line += " · 12 months ago: no ledger then"
        lines.append(line)
    lines.append(f"Coupon and maturity weighted by principal outstanding. Tranches: {EXAMPLE}")
    return "\n".join(lines)


def _source_link(s: Source) -> str:
    what = " ".join(x for x in (s.form, s.period or s.filed) if x)
    if s.document.startswith(("http://", "https://")):
        return f'<a href="{escape(s.document, quote=True)}">{escape(what)}</a>'
    return escape(f"{what} {s.document}")


def _yes(x: bool | None) -> str:
    return "—" if x is None else ("yes" if x else "no")


def tranche_lines(t: Tranche) -> list[str]:
    head = f"• <b>{escape(t.instrument)}</b>"
    if not t.in_latest_report:
        head += " <i>(not in the latest report: not counted)</i>"
    coupon = "—" if t.coupon_pct is None else f"{t.coupon_pct:g}%"
    amounts = f"{usd(t.outstanding_principal_usd)} outstanding of {usd(t.original_principal_usd)} issued"
    lines = [head, f"  {escape(amounts)} · coupon {coupon} · due {escape(t.maturity or '—')}"]
    if t.conversion_rate_per_1000 is not None or t.conversion_price_usd is not None:
        rate = "—" if t.conversion_rate_per_1000 is None else f"{t.conversion_rate_per_1000:g}"
        price = "—" if t.conversion_price_usd is None else f"${t.conversion_price_usd:,.2f}"
        capped = ""
        if t.capped_call is not None:
            cap = f" (cap ${t.cap_price_usd:,.2f})" if t.cap_price_usd else ""
            capped = f" · capped call {_yes(t.capped_call)}{cap}"
        lines.append(f"  converts {rate} shares per $1,000 ({price}/share){capped}")
    dates = []
    if t.put_date:
        dates.append(f"holder put {t.put_date}")
    if t.call_date:
        dates.append(f"issuer call from {t.call_date}")
    dates.append(f"secured {_yes(t.secured)}")
    lines.append("  " + escape(" · ".join(dates)))
    lines.append("  from " + ", ".join(_source_link(s) for s in t.sources))
    return lines


def detail(lg: Ledger, today: date) -> str:
    coupon, wam = lg.weighted_coupon_pct(), lg.weighted_maturity_years(today)
    nxt = lg.next_date(today)
    lines = [
        f"<b>{escape(lg.ticker)} debt {escape(usd(lg.total_debt_principal_usd))}</b> principal outstanding, "
        f"as of {escape(lg.latest_period or '—')} (convertible {escape(usd(lg.convertible_principal_usd))})",
        f"coupon {_pct(coupon)} · maturity {'—' if wam is None else f'{wam:.1f} years'} (weighted) · next "
        + ("—" if nxt is None else escape(f"{'put' if nxt[1] == 'put' else 'maturity'} {nxt[0]}")),
        "",
    ]
    for t in sorted(lg.tranches, key=lambda t: (not t.in_latest_report, -(t.outstanding_principal_usd or 0))):
        lines += tranche_lines(t)
    wall = lg.maturity_wall()
    if wall:
        lines += ["", "<b>Maturity wall</b>"]
        lines += [f"{year}: {escape(usd(amount))}" for year, amount in wall.items()]
    if lg.disagreements:
        lines.append(
            f"\n{len(lg.disagreements)} disagreement(s) between filings (the newer wins): see the log"
        )
    return "\n".join(lines)


async def cmd_debt(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    watched = [t.strip().upper() for t in svc.settings.watchers.filings.tickers if t.strip()]
    args = command_argument(update).split()
    now = svc.clock()
    example = f"<code>/debt {escape(watched[0])}</code>" if watched else EXAMPLE  # one it watches
    if len(args) > 1:
        await reply(update, f"❌ One ticker at a time, for example {example}.")
        return
    if args:
        ticker = args[0].lstrip("$").upper()
        if ticker not in watched:
            await reply(
                update,
                f"❌ {escape(ticker)} is not on the watch list, so it has no ledger. Watched: "
                f"{escape(', '.join(watched))}. For example {example}.",
            )
            return
        view = await svc.db(gather, [ticker], now)
        lg = view.ledgers.get(ticker)
        if lg is None:
            building = building_line(view.progress)
            await reply(
                update,
                f"No ledger for {escape(ticker)} yet: no filing of it has been read."
                + (f"\n{escape(building)}" if building else ""),
            )
            return
        await reply(update, detail(lg, now.date()))
        return
    view = await svc.db(gather, watched, now)
    await reply(update, overview(view, now.date()))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("debt", cmd_debt))
