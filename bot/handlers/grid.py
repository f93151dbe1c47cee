"""``/4cp``: the month's ERCOT load peaks so far, today's forecast peak and the 4CP state (issue 16).

Read from the grid watcher's stored state (rules/fourcp.py keeps the month's daily peaks there);
every time in the chat's zone, labelled with ERCOT's hour ending in Central Prevailing Time."""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.handlers.commands import reply
from bot.services import services
from rules import fourcp
from rules.catalogue import format_value
from storage import chats, observations, watcher_state

WATCHER_ID = "grid"


def _mw(value: float) -> str:
    return f"{value:,.0f} MW"


def fourcp_text(
    state: dict[str, Any] | None, cfg: fourcp.FourCpConfig, now: datetime, tz: ZoneInfo, load: float | None
) -> str:
    """The /4cp read-out. Also used by the digest (its first lines)."""
    s = fourcp.status(state, now, cfg)
    months = ", ".join(f"{date(2000, m, 1):%b}" for m in cfg.months)
    lines = [f"<b>ERCOT 4CP</b> · season {escape(months)} · margin {cfg.margin_pct:g}%"]
    if not s["in_season"]:
        lines.append("Out of season: no 4CP warnings this month.")
    if load is not None:
        lines.append(f"Load now {escape(format_value('ercot.load', load))}")
    if s["peaks"]:
        lines.append("Month's highest intervals so far:")
        for p in s["peaks"]:
            when = fourcp.interval_label(p.end, fourcp.QUARTER, tz)
            lines.append(f"• {escape(fourcp.day_label(p.day))}: <b>{_mw(p.mw)}</b> at {escape(when)}")
        if s["observed_since"] and s["observed_since"].day != 1:
            lines.append(
                f"<i>observed since {escape(fourcp.day_label(s['observed_since']))} "
                "(the watch started then)</i>"
            )
    else:
        lines.append("No load observed this month yet.")
    fc = s["forecast"]
    if fc is not None:
        he = fourcp.hour_ending(fc.end)
        rel = ""
        if s["forecast_pct_below"] is not None:
            pct = s["forecast_pct_below"]
            rel = f", {pct:.1f}% under the peak" if pct > 0 else f", {-pct:.1f}% ABOVE the peak"
        local = fc.end.astimezone(tz)
        lines.append(
            f"Today's forecast peak <b>{_mw(fc.mw)}</b>, hour ending {he} CPT ({local:%H:%M %Z}){rel}"
        )
    stages = s["stages"]
    if not s["in_season"]:
        pass
    elif "actual" in stages:
        lines.append("State: 🔥 load is near the month's peak today (warned).")
    elif "forecast" in stages:
        lines.append("State: ⚡ likely peak day: today's forecast is within the margin (warned).")
    elif s["prior"] is None:
        lines.append("State: no earlier peak this month to compare with yet.")
    else:
        lines.append("State: quiet: today's forecast is not within the margin of the month's peak.")
    lines.append("<i>ERCOT supply-demand dashboard; operational values, settled later by ERCOT</i>")
    return "\n".join(lines)


async def cmd_4cp(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    grid = svc.settings.watchers.grid
    if not grid.enabled:
        await reply(update, "The ERCOT grid watch is off on this bot ([watchers.grid] enabled = false).")
        return
    state = (await svc.db(watcher_state.load_state, WATCHER_ID)).get("fourcp")
    row = await svc.db(chats.get_chat, chat.id)
    tz = ZoneInfo((row or {}).get("tz") or "UTC")
    last = await svc.db(observations.latest, "ercot.load")
    await reply(update, fourcp_text(state, grid.fourcp(), svc.clock(), tz, last[0] if last else None))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("4cp", cmd_4cp))
