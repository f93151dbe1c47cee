"""The core chat commands: /start, /help, /alert, /alerts, /delete.

Every malformed command gets a reply that names the problem and shows a correct example;
nothing is stored from a bad command.
"""

from __future__ import annotations

import logging
from html import escape

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.handlers import rule_buttons
from bot.handlers.permissions import admin_only
from bot.handlers.reachable import not_polled, watched_topics, watcher_off
from bot.services import Services, services
from bot.settings import Settings
from rules.catalogue import format_value
from rules.grammar import RuleError, format_rule, parse_rule
from rules.model import ChangeRule, EventRule, Rule, ThresholdRule
from storage import chats, observations
from storage import rules as rule_store

logger = logging.getLogger(__name__)

CHAT_SCOPED = ("breakeven", "margin", "profit", "curtail.margin")
TELEGRAM_MAX_CHARS = 4096


def welcome_text(settings: Settings) -> str:
    """The /start text: only what this bot's enabled watchers cover, and examples that can fire."""
    topics = watched_topics(settings)
    covered = (", ".join(topics[:-1]) + ", and " + topics[-1]) if len(topics) > 1 else "".join(topics)
    intro = (
        "⛏ <b>MinerWatch</b> watches Bitcoin mining economics and tells this chat when they cross "
        f"your thresholds: {covered or 'nothing yet (the operator has turned every watcher off)'}."
    )
    tries = []
    if settings.watchers.network.enabled:
        tries = [
            "<code>/alert difficulty.next_change &gt; 3%</code>: the projected retarget passes +3%",
            "<code>/alert hashprice &lt; 45</code>: hashprice falls below $45/PH/day",
            "<code>/alert retarget</code>: every difficulty adjustment",
        ]
    if settings.watchers.filings.enabled:
        tries.append("<code>/alert filings MARA convertible</code>: a convertible note filing by MARA")
    lines = [intro, "", "Try:", *tries] if tries else [intro, ""]
    lines.append(
        "<code>/alerts</code> lists your alerts, <code>/delete 1</code> removes one, "
        "<code>/help</code> shows all."
    )
    return "\n".join(lines)


HELP = (
    "<b>Commands</b>\n"
    "/alert <i>rule</i>: add an alert, e.g. <code>/alert difficulty.next_change &gt; 3%</code>, "
    "<code>/alert price below 80k for 10m</code>, <code>/alert hashprice drops 10% in 24h</code>, "
    "<code>/alert filings MARA RIOT convertible</code>, <code>/alert converts MARA</code>\n"
    "/alerts: this chat's alerts, numbered, with their state and value; tap one to snooze, pause, "
    "chart or delete it\n"
    "/delete <i>n</i> …: delete alerts by number, e.g. <code>/delete 1</code>, <code>/delete 2 5 7</code>, "
    "<code>/delete 3-9</code>, <code>/delete all</code> (undo for 10 minutes)\n"
    "/status: the current numbers\n"
    "/chart <i>metric</i> [window]: a chart of stored history, e.g. <code>/chart hashprice 30d</code>\n"
    "/fleet <i>J/TH</i> <i>price</i>: set your fleet, e.g. <code>/fleet 18 0.045</code> (USD/kWh; "
    "<code>45/MWh</code> and <code>4.5c</code> work too)\n"
    "/snooze <i>duration</i> [n]: pause alerts, e.g. <code>/snooze 2h</code>\n"
    "/quiet <i>HH:MM-HH:MM</i> [tz]: quiet hours, e.g. <code>/quiet 23:00-07:00 Europe/Berlin</code>\n"
    "/mute, /unmute: stop or resume all alerts in this chat\n"
    "/tz <i>zone</i>: time zone for times shown here, e.g. <code>/tz America/Chicago</code>\n"
    "/filings: the latest financing filings seen\n"
    "/stock <i>TICKER</i>: a miner's share price against the conversion prices of its notes, with "
    "market cap, dilution and leverage, e.g. <code>/stock MARA</code>\n"
    "/4cp: ERCOT's load peaks this month, today's forecast peak and the 4CP state\n"
    "/dam [point]: ERCOT day-ahead prices tomorrow and the hours to curtail, e.g. <code>/dam HB_WEST</code>\n"
    "/miner <i>TICKER</i>: a miner's production, BTC held, network share and AI/HPC contracts, "
    "e.g. <code>/miner MARA</code>\n"
    "/miners [<i>column</i>]: the miners side by side (hashrate, share, efficiency, held, "
    "held_change, hpc, leverage, quiet), e.g. <code>/miners held</code>\n"
    "/debt [<i>TICKER</i>]: listed miners' debt from their filings, tranche by tranche, e.g. "
    "<code>/debt MARA</code>; alerts: <code>/alert debt MARA RIOT</code> (every change), "
    "<code>/alert maturity &lt; 180d</code>, <code>/alert debt.mara &gt; 3B</code>\n"
    "/channel @name alert|alerts|delete …: (the bot's admins) a channel's alerts, e.g. "
    "<code>/channel @mychannel alert retarget</code>\n"
    "/start: welcome and examples\n"
    "/help: this list\n\n"
    "Rules: <code>METRIC OP VALUE [for DURATION] [every DURATION]</code> with OP one of "
    "&lt; &lt;= &gt; &gt;= above below. A leading ! marks a rule severe (it passes quiet hours)."
)


def command_argument(update: Update) -> str:
    """The raw text after ``/command`` or ``/command@BotName``."""
    message = update.effective_message
    text = (message.text or message.caption or "") if message else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def rule_metric(rule: Rule) -> tuple[str, str]:
    """(metric key the rule is indexed under, kind) for storage."""
    if isinstance(rule, ThresholdRule):
        return rule.metric, "threshold"
    if isinstance(rule, ChangeRule):
        return rule.metric, "change"
    if rule.event == "curtail":
        return "curtail.margin", "event"
    return f"event:{rule.event}", "event"


async def reply(update: Update, text: str) -> None:
    message = update.effective_message
    if message is None:
        return
    for chunk in paginate(text):
        await message.reply_text(chunk, parse_mode=ParseMode.HTML, do_quote=False)


def paginate(text: str, limit: int = TELEGRAM_MAX_CHARS) -> list[str]:
    """Split on line boundaries so no message exceeds Telegram's limit."""
    if len(text) <= limit:
        return [text]
    pages: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single over-long line: hard cut
            if current:
                pages.append(current)
                current = ""
            pages.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pages.append(current)
            current = line
        else:
            current = candidate
    if current:
        pages.append(current)
    return pages


async def cmd_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await reply(update, HELP)


async def cmd_alert(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    text = command_argument(update)
    if not text:
        await reply(
            update,
            "Say what to watch after /alert, for example:\n"
            "<code>/alert difficulty.next_change &gt; 3%</code>",
        )
        return
    await reply(update, await add_rule_from_text(svc, chat.id, text))


async def add_rule_from_text(svc: Services, chat_id: int, text: str, where: str = "This chat") -> str:
    """Parse, check and store one rule for a chat; return the reply (a confirmation or the
    problem with an example). /alert and /channel … alert both come through here."""
    try:
        rule = parse_rule(text)
    except RuleError as err:
        return f"❌ {escape(str(err), quote=False)}"
    canonical = format_rule(rule)
    why_not = not_polled(rule, svc.settings)
    if why_not is not None:
        return f"❌ Not set: {escape(why_not, quote=False)}."
    metric, kind = rule_metric(rule)
    if metric in CHAT_SCOPED or metric == "event:curtail tomorrow":
        settings = await svc.db(chats.get_settings, chat_id)
        if metric in ("curtail.margin", "event:curtail tomorrow") and settings.fleet and not settings.hub:
            return (
                "❌ <code>curtail</code> compares your hub's power price with your breakeven: name the hub, "
                "for example <code>/fleet 18 0.045 hub HB_WEST</code>."
            )
        if settings.fleet is None:
            return (
                f"❌ <code>{escape(metric)}</code> depends on a fleet, and {where.lower()} has none: "
                "set it first, for example <code>/fleet 18 0.045</code> (J/TH and USD/kWh)."
            )
    try:
        rule_id = await svc.db(
            rule_store.add_rule,
            chat_id,
            canonical,
            metric,
            kind,
            svc.clock(),
            max_rules=svc.settings.alerts.max_rules_per_chat,
        )
    except rule_store.TooManyRules as err:
        return f"❌ {where} already has {err.limit} alerts, the most allowed. Delete one first."
    if rule_id is None:
        return f"{where} already has <code>{escape(canonical)}</code>."
    logger.info("rule added chat=%s rule=%s text=%r", chat_id, rule_id, canonical)
    off = watcher_off(rule, svc.settings)
    if off is not None:  # kept: it fires once the operator turns the watcher on
        return (
            f"⚠️ Alert set, but it cannot fire yet: {escape(off, quote=False)}. It will once the "
            f"operator turns that on: <code>{escape(canonical)}</code>"
        )
    now_line = ""
    if not isinstance(rule, EventRule):
        last = await svc.db(observations.latest, rule.metric)
        if last is not None:
            now_line = f"\nNow: {escape(format_value(rule.metric, last[0]))}"
    return f"✅ Alert set: <code>{escape(canonical)}</code>{now_line}"


async def cmd_alerts(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The chat's alerts with their state and value, a page at a time, with buttons to act on each
    (bot/handlers/rule_buttons.py)."""
    await rule_buttons.alerts_command(update, context)


async def cmd_delete(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/delete N, /delete 2 5 7, /delete 3-9, /delete all (asks first); each deletion can be undone
    for a few minutes."""
    await rule_buttons.delete_command(update, context, command_argument(update))


EDIT_NOTE = (
    "✏️ Edited commands are not run again, so nothing changed. Send the corrected command as a new "
    "message (and <code>/delete</code> the old alert if it should go)."
)


async def on_edited_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edit never runs a command a second time (an edited ``/delete 1`` would delete a second
    alert, an edited ``/alert`` add a second rule): a short note for an edited command, silence
    for other edits, and no other handler sees it."""
    message = update.edited_message
    text = (message.text or "") if message else ""
    if message is not None and text.startswith("/"):
        await message.reply_text(EDIT_NOTE, parse_mode=ParseMode.HTML, do_quote=False)
    raise ApplicationHandlerStop


def register(app: Application) -> None:
    # group -1 runs before the commands (group 0): edits stop there
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, on_edited_message), group=-1)
    app.add_handler(CommandHandler("help", cmd_help))
    app.add_handler(CommandHandler("alert", admin_only(cmd_alert)))
    app.add_handler(CommandHandler("alerts", cmd_alerts))
    app.add_handler(CommandHandler("delete", admin_only(cmd_delete)))
    rule_buttons.register(app)  # the buttons of /alerts, /delete and alert messages
