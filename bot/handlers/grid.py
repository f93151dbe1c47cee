"""``/4cp``: the month's ERCOT load peaks so far, today's forecast peak and the 4CP state (issue 16).

Read from the grid watcher's stored state (rules/fourcp.py keeps the month's daily peaks there);
every time in the chat's zone, labelled with ERCOT's hour ending in Central Prevailing Time."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.delivery.grid_messages import dam_hours, dam_plan_lines
from bot.handlers.commands import command_argument, reply
from bot.services import services
from rules import fourcp
from rules.catalogue import format_value
from rules.chat_settings import ChatSettings
from rules.fleet import fleet_metrics
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


def dam_text(
    state: dict[str, Any],
    point: str,
    settings: ChatSettings,
    hashprice: float | None,
    now: datetime,
    tz: ZoneInfo,
) -> str:
    """The /dam read-out: tomorrow's day-ahead prices at ``point`` (today's until tomorrow's are
    published) against the chat's breakeven."""
    today = now.astimezone(fourcp.CPT).date()
    days = state.get("days") or {}
    word = "tomorrow"
    for day in (today + timedelta(days=1), today):
        prices = (days.get(day.isoformat()) or {}).get(point)
        if prices:
            word = "tomorrow" if day > today else "today"
            break
    else:
        held = sorted({p for d in days.values() for p in d})
        known = f" Points held: {', '.join(held)}." if held else ""
        return (
            f"No day-ahead prices for {escape(point)} yet: ERCOT posts tomorrow's early in the afternoon."
            f"{escape(known)}"
        )
    breakeven = None
    if settings.fleet is not None and hashprice is not None and hashprice > 0:
        breakeven = fleet_metrics(hashprice, settings.fleet)["breakeven"]
    lines, _ = dam_plan_lines(dam_hours(prices), breakeven, tz)
    head = f"<b>ERCOT day-ahead, {escape(point)}, {word} {escape(fourcp.day_label(day))}</b>"
    if breakeven is None:
        lines.append("Set a fleet to see the hours to curtail: <code>/fleet 18 0.045 hub HB_WEST</code>")
    elif word == "today":
        lines.append("<i>tomorrow's prices are not published yet</i>")
    return "\n".join([head, *lines])


async def cmd_dam(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    if not svc.settings.watchers.dam.enabled:
        await reply(update, "ERCOT day-ahead prices are off on this bot ([watchers.dam] enabled = false).")
        return
    settings = await svc.db(chats.get_settings, chat.id)
    arg = command_argument(update).strip().upper()
    point = arg or (settings.hub or "")
    if not point:
        await reply(
            update,
            "Name a settlement point, e.g. <code>/dam HB_WEST</code>, or set your hub: "
            "<code>/fleet 18 0.045 hub HB_WEST</code>.",
        )
        return
    state = await svc.db(watcher_state.load_state, "dam")
    row = await svc.db(chats.get_chat, chat.id)
    tz = ZoneInfo((row or {}).get("tz") or "UTC")
    last = await svc.db(observations.latest, "hashprice")
    await reply(update, dam_text(state, point, settings, last[0] if last else None, svc.clock(), tz))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("4cp", cmd_4cp))
    app.add_handler(CommandHandler("dam", cmd_dam))
