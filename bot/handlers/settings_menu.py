"""/settings: every per-chat setting in one message, each changeable with a tap or with the command
the line names.

The buttons carry callback data ``s:<what>:<value>`` (at most a dozen bytes, under Telegram's 64)
that states the TARGET state ("mute on", "snooze 8h"), never a toggle: a tap on an old copy of the
menu, or a second tap, does the same thing again instead of undoing the first. The data names no
chat: a tap changes the chat the menu is in, so a button cannot reach another chat. Data the bot
did not send (forged or garbled) changes nothing and the tap is answered saying so. In groups only
administrators' taps count (bot/handlers/permissions.is_chat_admin); others get a toast. After a
change the menu message is edited in place to show the new state.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.handlers.chat_commands import fleet_label
from bot.handlers.permissions import is_chat_admin
from bot.services import Services, services
from rules.chat_settings import ChatSettings
from rules.quiet import QuietHours, format_quiet
from rules.timefmt import local_datetime
from storage import chats
from storage import rules as rule_store

logger = logging.getLogger(__name__)

CALLBACK_PREFIX = "s:"
DIGEST_METRIC = "event:digest"
DIGEST_RULE = "digest 08:00"  # what the digest button adds: /alert digest HH:MM sets another time
QUIET_DEFAULT = (time(22, 0), time(7, 0))  # the quiet-hours button, in the chat's own zone
SNOOZES = {"1h": 3600, "8h": 8 * 3600, "1d": 86400}
NOT_MINE = "This button is not one I sent: nothing was changed. Send /settings for a fresh menu."
ADMINS_ONLY = "Only this group's administrators can change its settings."


def _snooze_line(settings: ChatSettings, now: datetime, tz: Any) -> str:
    if settings.snooze_until and settings.snooze_until > now:
        return f"until {escape(local_datetime(settings.snooze_until, tz))}"
    rules = sum(1 for until in settings.snooze_rules.values() if until > now)
    return f"{rules} alert{'' if rules == 1 else 's'} snoozed (/snooze lists them)" if rules else "off"


def settings_text(settings: ChatSettings, digest: list[str], default_resolved: bool, now: datetime) -> str:
    """The menu's text: one line per setting, each naming the command that changes it."""
    tz = settings.zone()
    fleet = (
        f"{escape(fleet_label(settings.fleet))}; hub {escape(settings.hub or 'none')}"
        if settings.fleet
        else "none"
    )
    resolved = settings.resolved_notices(default_resolved)
    whose = " (the bot's default)" if settings.send_resolved is None else ""
    digest_text = ", ".join(escape(d.removeprefix("digest ")) for d in digest) + f" {escape(tz.key)}"
    lines = [
        "⚙️ <b>Settings for this chat</b>",
        f"🕑 Time zone: {escape(tz.key)} (now {escape(local_datetime(now, tz))}) · /tz",
        f"🌙 Quiet hours: {escape(format_quiet(settings.quiet)) if settings.quiet else 'off'} · /quiet",
        f"⛏ Fleet: {fleet} · /fleet",
        f"✅ Resolved notices: {'on' if resolved else 'off'}{whose}",
        f"☀️ Daily digest: {digest_text if digest else 'off'} · <code>/alert digest 08:00</code>",
        f"🔔 Alerts: {'muted · /unmute' if settings.muted else 'on · /mute'}",
        f"😴 Snooze: {_snooze_line(settings, now, tz)} · /snooze",
    ]
    return "\n".join(lines)


def settings_keyboard(
    settings: ChatSettings, digest: list[str], default_resolved: bool, now: datetime
) -> InlineKeyboardMarkup:
    """Buttons that set the opposite of each on/off setting, and the common snoozes."""

    def button(text: str, data: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text, callback_data=CALLBACK_PREFIX + data)

    snoozed = bool(settings.snooze_until and settings.snooze_until > now) or any(
        until > now for until in settings.snooze_rules.values()
    )
    snooze_row = [button(f"😴 {label}", f"snz:{label}") for label in SNOOZES]
    if snoozed:
        snooze_row.append(button("⏰ Wake", "snz:off"))
    start, end = QUIET_DEFAULT
    rows = [
        [button("🔔 Unmute", "mute:0") if settings.muted else button("🔇 Mute", "mute:1")],
        snooze_row,
        [
            button("✅ Resolved notices: turn off", "res:0")
            if settings.resolved_notices(default_resolved)
            else button("✅ Resolved notices: turn on", "res:1")
        ],
        [button("☀️ Digest: turn off", "dg:0") if digest else button("☀️ Digest at 08:00: turn on", "dg:1")],
        [
            button("🌙 Quiet hours: turn off", "q:0")
            if settings.quiet
            else button(f"🌙 Quiet {start:%H:%M}–{end:%H:%M}: turn on", "q:1")
        ],
        [button("↻ Refresh", "r")],
    ]
    return InlineKeyboardMarkup(rows)


async def _digest_rules(svc: Services, chat_id: int) -> list[str]:
    return [r["text"] for r in await svc.db(rule_store.chat_rules_for_metric, chat_id, DIGEST_METRIC)]


async def _menu(svc: Services, chat_id: int) -> tuple[str, InlineKeyboardMarkup]:
    settings = await svc.db(chats.get_settings, chat_id)
    digest = await _digest_rules(svc, chat_id)
    default = svc.settings.alerts.send_resolved
    now = svc.clock()
    return settings_text(settings, digest, default, now), settings_keyboard(settings, digest, default, now)


async def cmd_settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anyone may look; only administrators' taps change anything (checked on each tap)."""
    svc = services(context)
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    title = chat.title or chat.username or chat.full_name
    await svc.db(chats.ensure_chat, chat.id, chat.type, title, svc.clock())
    text, keyboard = await _menu(svc, chat.id)
    await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard, do_quote=False)


# ---------------------------------------------------------------------------------------- actions

Action = Callable[[Services, int, datetime], Awaitable[str]]


def _set(toast: str, **changes: Any) -> Action:
    async def act(svc: Services, chat_id: int, now: datetime) -> str:
        await svc.db(chats.update_settings, chat_id, now, **changes)
        return toast

    return act


def _snooze(label: str, seconds: int) -> Action:
    async def act(svc: Services, chat_id: int, now: datetime) -> str:
        until = now + timedelta(seconds=seconds)
        settings = await svc.db(chats.update_settings, chat_id, now, snooze_until=until)
        return f"All alerts snoozed for {label}, until {local_datetime(until, settings.zone())}."

    return act


async def _wake(svc: Services, chat_id: int, now: datetime) -> str:
    await svc.db(chats.update_settings, chat_id, now, snooze_until=None, snooze_rules=None)
    return "Snooze lifted."


async def _quiet_on(svc: Services, chat_id: int, now: datetime) -> str:
    settings = await svc.db(chats.get_settings, chat_id)
    start, end = QUIET_DEFAULT
    quiet = QuietHours(start, end, settings.zone().key)
    await svc.db(chats.update_settings, chat_id, now, quiet=quiet)
    return f"Quiet hours {format_quiet(quiet)}."


async def _digest_on(svc: Services, chat_id: int, now: datetime) -> str:
    if await _digest_rules(svc, chat_id):
        return "The daily digest is already on."
    try:
        await svc.db(
            rule_store.add_rule,
            chat_id,
            DIGEST_RULE,
            DIGEST_METRIC,
            "event",
            now,
            max_rules=svc.settings.alerts.max_rules_per_chat,
        )
    except rule_store.TooManyRules:
        return "This chat has the most alerts allowed: /delete one first."
    return "Daily digest on, at 08:00 in this chat's time zone."


async def _digest_off(svc: Services, chat_id: int, now: datetime) -> str:
    removed = await svc.db(rule_store.delete_chat_rules_for_metric, chat_id, DIGEST_METRIC)
    return "Daily digest off." if removed else "The daily digest is already off."


async def _refresh(svc: Services, chat_id: int, now: datetime) -> str:
    return "Up to date."


ACTIONS: dict[str, Action] = {
    "r": _refresh,
    "mute:1": _set("Muted: no alerts until you unmute.", muted=True),
    "mute:0": _set("Unmuted: alerts are back on.", muted=False),
    **{f"snz:{label}": _snooze(label, seconds) for label, seconds in SNOOZES.items()},
    "snz:off": _wake,
    "res:1": _set("Resolved notices on.", send_resolved=True),
    "res:0": _set("Resolved notices off.", send_resolved=False),
    "dg:1": _digest_on,
    "dg:0": _digest_off,
    "q:1": _quiet_on,
    "q:0": _set("Quiet hours off.", quiet=None),
}
READ_ONLY = {"r"}


async def on_settings_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    chat = update.effective_chat
    if query is None:
        return
    action = ACTIONS.get((query.data or "").removeprefix(CALLBACK_PREFIX))
    if chat is None or action is None:
        logger.info("settings: unknown callback data %r", (query.data or "")[:64])
        await query.answer(NOT_MINE, show_alert=True)
        return
    data = (query.data or "").removeprefix(CALLBACK_PREFIX)
    if data not in READ_ONLY and not await is_chat_admin(update, context):
        await query.answer(ADMINS_ONLY, show_alert=True)
        return
    svc = services(context)
    now = svc.clock()
    title = chat.title or chat.username or chat.full_name
    await svc.db(chats.ensure_chat, chat.id, chat.type, title, now)
    toast = await action(svc, chat.id, now)
    logger.info("settings chat=%s action=%s", chat.id, data)
    await query.answer(toast[:200])
    text, keyboard = await _menu(svc, chat.id)
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
    except BadRequest as err:
        if "not modified" not in err.message.lower():  # a second tap on the same state: nothing to show
            logger.info("settings menu chat=%s not edited: %s", chat.id, err.message)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("settings", cmd_settings))
    app.add_handler(CallbackQueryHandler(on_settings_button, pattern=f"^{CALLBACK_PREFIX}"))
