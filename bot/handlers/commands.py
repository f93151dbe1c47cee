"""The core chat commands: /start, /help, /alert, /alerts, /delete.

Every malformed command gets a reply that names the problem and shows a correct example;
nothing is stored from a bad command.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from html import escape
from typing import Any

from telegram import MessageEntity, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.handlers import rule_buttons
from bot.handlers.permissions import admin_only, is_chat_admin
from bot.handlers.reachable import not_polled, watched_topics, watcher_off
from bot.handlers.rule_preview import preview
from bot.services import Services, services
from bot.settings import Settings
from rules.catalogue import CATALOGUE, EQUITY_FAMILIES, POWER_POINTS, PRODUCTION_FAMILIES, format_value
from rules.conditions import same_condition
from rules.events import EVENT_KINDS
from rules.grammar import RuleError, format_rule, parse_rule
from rules.model import ChangeRule, EventRule, Rule, ThresholdRule
from rules.timefmt import local_datetime
from storage import chats, observations
from storage import rules as rule_store
from watchers.filings.model import KINDS as FILING_KINDS

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


@dataclass(frozen=True)
class HelpEntry:
    command: str  # without the slash
    text: str  # HTML: what follows "/command"
    admin: bool = False  # in groups only administrators may use it (bot/handlers/permissions.py)


# One line per command, in the order /help shows them. ``admin`` entries change a chat's alerts or
# settings: in a group, members who are not administrators see them named, not explained.
HELP_ENTRIES: tuple[HelpEntry, ...] = (
    HelpEntry(
        "alert",
        " <i>rule</i>: add an alert, e.g. <code>/alert difficulty.next_change &gt; 3%</code>, "
        "<code>/alert price below 80k for 10m</code>, "
        "<code>/alert filings MARA RIOT convertible</code>, <code>/alert converts MARA</code>",
        admin=True,
    ),
    HelpEntry(
        "alerts",
        ": this chat's alerts with their state and value; tap one to snooze, pause, chart or delete it",
    ),
    HelpEntry(
        "delete",
        " <i>n</i> …: delete alerts, e.g. <code>/delete 1</code>, <code>/delete 2 5 7</code>, "
        "<code>/delete 3-9</code>, <code>/delete all</code> (undo for 10 minutes)",
        admin=True,
    ),
    HelpEntry("status", ": the current numbers"),
    HelpEntry(
        "chart", " <i>metric</i> [window]: a chart of stored history, e.g. <code>/chart hashprice 30d</code>"
    ),
    HelpEntry(
        "fleet",
        " <i>J/TH|model</i> <i>price</i>: your fleet, e.g. <code>/fleet 18 0.045</code>, "
        "<code>/fleet S21XP 4.5c</code> (USD/kWh; <code>45/MWh</code> works too), with "
        "<code>hosting 0.01</code>, <code>hub HB_WEST</code>, <code>size 500PH</code> or "
        "<code>machines 2000</code>; one field alone changes only it; <code>/fleet</code> shows it",
        admin=True,
    ),
    HelpEntry(
        "snooze",
        " <i>duration</i> [n]: pause alerts up to 30 days, e.g. <code>/snooze 2h</code>; "
        "<code>/snooze</code> shows until when",
        admin=True,
    ),
    HelpEntry(
        "quiet",
        " <i>HH:MM-HH:MM</i> [tz]: quiet hours, in this chat's time zone unless named, e.g. "
        "<code>/quiet 23:00-07:00</code>",
        admin=True,
    ),
    HelpEntry("mute", ", /unmute: stop or resume all alerts in this chat", admin=True),
    HelpEntry(
        "tz",
        " <i>zone</i>: time zone for times shown here, e.g. <code>/tz America/Chicago</code>; "
        "<code>/tz</code> shows it",
        admin=True,
    ),
    HelpEntry("settings", ": all of this chat's settings, each changed with a tap"),
    HelpEntry("filings", ": the latest financing filings seen"),
    HelpEntry(
        "stock",
        " <i>TICKER</i>: a miner's share price against its notes' conversion prices, with "
        "market cap, dilution and leverage, e.g. <code>/stock MARA</code>",
    ),
    HelpEntry("4cp", ": ERCOT's load peaks this month, today's forecast peak and the 4CP state"),
    HelpEntry(
        "dam",
        " [point]: ERCOT day-ahead prices tomorrow and the hours to curtail, e.g. <code>/dam HB_WEST</code>",
    ),
    HelpEntry(
        "miner",
        " <i>TICKER</i>: a miner's production, BTC held, share and AI/HPC contracts, "
        "e.g. <code>/miner MARA</code>",
    ),
    HelpEntry(
        "miners",
        " [<i>column</i>]: the miners side by side, sorted by a column, e.g. <code>/miners held</code>",
    ),
    HelpEntry(
        "debt",
        " [<i>TICKER</i>]: miners' debt by tranche, from their filings, e.g. "
        "<code>/debt MARA</code>; alerts: <code>/alert debt MARA RIOT</code> (every change), "
        "<code>/alert maturity &lt; 180d</code>",
    ),
    HelpEntry(
        "channel",
        " @name alert|alerts|delete …: (the bot's admins) a channel's alerts, e.g. "
        "<code>/channel @mychannel alert retarget</code>",
        admin=True,
    ),
    HelpEntry("start", ": welcome and examples"),
    HelpEntry("help", ": this list"),
)

# Metric families written once with a placeholder instead of one name per hub or ticker.
_PER_TICKER = ("stock", *EQUITY_FAMILIES, "debt", *PRODUCTION_FAMILIES)
_PER_POINT = ("power", "dam")


def metric_names() -> str:
    """The metric names for /help, generated from the catalogue (rules/catalogue.py) so a new
    metric appears here without anyone copying it: the plain names, then the per-hub and
    per-ticker families once each with a placeholder."""
    prefixes = tuple(f"{f}." for f in (*_PER_POINT, *_PER_TICKER))
    plain = [name for name in CATALOGUE if not name.startswith(prefixes)]
    point = next(iter(POWER_POINTS))
    windows = sorted(
        name.removeprefix(f"power.{point}.") for name in CATALOGUE if name.startswith(f"power.{point}.")
    )
    ticker = "&lt;ticker&gt;"
    return (
        "<b>Metrics</b>: "
        + ", ".join(plain)
        + f"; per power point: power.&lt;point&gt; (also {', '.join('.' + w for w in windows)}), "
        + f"dam.&lt;point&gt;, e.g. power.{point}; per miner: "
        + ", ".join(f"{family}.{ticker}" for family in _PER_TICKER)
        + ", e.g. stock.mara"
    )


def event_names() -> str:
    """The event rules (rules/events.py), for /help."""
    return "<b>Events</b>: " + ", ".join(escape(name) for name in EVENT_KINDS)


def filing_kinds() -> str:
    """The filing kinds the classifier assigns (watchers/filings/model.py), for /help."""
    return (
        "<b>Filing kinds</b>: "
        + ", ".join(kind for kind in FILING_KINDS)
        + " (short words work too: convertible, notes, credit, equity, atm, hpc); "
        "<code>filings</code> alone means every financing filing"
    )


RULES_HELP = (
    "<b>Rules</b>: <code>METRIC OP VALUE [for DURATION] [every DURATION]</code> with OP one of "
    "&lt; &lt;= &gt; &gt;= above below, or <code>METRIC rises|drops N% in WINDOW</code>, e.g. "
    "<code>/alert price rises 5% in 1h</code>. A leading ! marks a rule severe (it passes quiet hours). "
    "<code>breakeven</code>, <code>margin</code>, <code>profit</code> and <code>curtail</code> use this "
    "chat's /fleet (with its <code>hosting</code> fee and <code>hub</code>)."
)


def _entry_line(entry: HelpEntry) -> str:
    return f"/{entry.command}{entry.text}"


def help_text(*, admin: bool = True) -> str:
    """/help: everything for whoever may change this chat's alerts (a private chat, a group's
    administrators); for a group's other members the commands they may use, the others named."""
    entries = [e for e in HELP_ENTRIES if admin or not e.admin]
    lines = ["<b>Commands</b>", *(_entry_line(e) for e in entries)]
    if not admin:
        names = ", ".join(
            f"/{e.command}" + (", /unmute" if e.command == "mute" else "") for e in HELP_ENTRIES if e.admin
        )
        lines.append(f"Only this group's administrators can use {names}.")
    lines += ["", metric_names(), "", event_names(), "", filing_kinds()]
    if admin:
        lines += ["", RULES_HELP]
    return "\n".join(lines)


HELP = help_text()


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
    chat = update.effective_chat
    private = chat is None or chat.type == ChatType.PRIVATE
    await reply(update, HELP if private else help_text(admin=await is_chat_admin(update, context)))


def rule_error_reply(err: RuleError, command: str = "/alert") -> str:
    """A rule the grammar refused, as a chat reply: the problem, the suggestions and the example as
    tappable ``<code>`` (a tap copies it), written with the command that failed (``/channel @x
    alert …`` gets its own form back, not ``/alert …``)."""
    lines = [f"❌ {escape(err.problem, quote=False)}"]
    if err.suggestions:
        lines.append("Did you mean: " + ", ".join(f"<code>{escape(s)}</code>" for s in err.suggestions) + "?")
    if err.example:
        example = err.example
        if example.startswith("/alert ") and command != "/alert":
            example = command + example.removeprefix("/alert")
        lines.append(f"Example: <code>{escape(example)}</code>")
    return "\n".join(lines)


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
        return rule_error_reply(err)
    canonical = format_rule(rule)
    why_not = not_polled(rule, svc.settings)
    if why_not is not None:
        return f"❌ Not set: {escape(why_not, quote=False)}."
    metric, kind = rule_metric(rule)
    settings = await svc.db(chats.get_settings, chat_id)
    if metric in CHAT_SCOPED or metric == "event:curtail tomorrow":
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
    duplicate = duplicate_reply(rule, canonical, await svc.db(rule_store.list_rules, chat_id), where)
    if duplicate is not None:
        return duplicate
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
    try:
        shown = await svc.db(preview, rule, settings, svc.clock(), svc.settings.alerts.stale_after)
        preview_text = "".join(f"\n{line}" for line in shown.lines)
    except Exception:  # the rule is stored: a failed preview must not hide the confirmation
        logger.exception("preview failed chat=%s rule=%s", chat_id, rule_id)
        preview_text = ""
    off = watcher_off(rule, svc.settings)
    if off is not None:  # kept: it fires once the operator turns the watcher on
        return (
            f"⚠️ Alert set, but it cannot fire yet: {escape(off, quote=False)}. It will once the "
            f"operator turns that on: <code>{escape(canonical)}</code>{preview_text}"
        )
    now_line = ""
    if not isinstance(rule, EventRule):
        last = await svc.db(observations.latest, rule.metric)
        if last is not None:  # with its time in the chat's zone: a number is never shown without it
            value, at, _source = last
            tz = settings.zone()
            now_line = (
                f"\nNow: {escape(format_value(rule.metric, value, tz))} (as of {local_datetime(at, tz)})"
            )
    return f"✅ Alert set: <code>{escape(canonical)}</code>{now_line}{preview_text}"


def duplicate_reply(rule: Rule, canonical: str, rows: list[dict[str, Any]], where: str) -> str | None:
    """The reply when the chat already watches this condition (issue 13 item 10): the same text, or
    the same condition with another severity, ``for``, ``every`` or ``margin``. Two such rules
    would send two messages for one crossing, so the second is not stored; the user is told which
    rule it is and how to replace it. None when the condition is new here."""
    listing = "/alerts" if where == "This chat" else f"/channel {where} alerts"
    for position, row in enumerate(rows, start=1):
        if row["text"] == canonical:
            return (
                f"{where} already has <code>{escape(canonical)}</code> "
                f"(number {position} in <code>{escape(listing)}</code>)."
            )
        try:
            existing = parse_rule(row["text"])
        except RuleError:  # a text an older grammar wrote: it watches nothing this one reads
            continue
        if not same_condition(existing, rule):
            continue
        if where == "This chat":
            delete, add = f"/delete {position}", f"/alert {canonical}"
        else:  # a channel managed from a private chat (bot/handlers/channels.py)
            delete, add = f"/channel {where} delete {position}", f"/channel {where} alert {canonical}"
        return (
            f"{where} already watches this condition: number {position}, "
            f"<code>{escape(row['text'])}</code>. Nothing was added (two alerts on one condition would "
            f"send two messages for one crossing). To replace it, send <code>{escape(delete)}</code>, "
            f"then <code>{escape(add)}</code>."
        )
    return None


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


# The fallback runs in a group after every real handler's (group 0 and whatever later ones exist):
# PTB runs one matching handler per group, so it also sees updates a real handler took, and checks.
FALLBACK_GROUP = 100
SIMILAR = 0.75  # difflib ratio for "did you mean": /alrts -> /alerts, not /start -> /status


def known_commands(app: Application) -> list[str]:
    return sorted(
        {
            c
            for group in app.handlers.values()
            for h in group
            if isinstance(h, CommandHandler)
            for c in h.commands
        }
    )


def handled_elsewhere(update: Update, app: Application) -> bool:
    """True when a real handler (any group from 0 on but the fallback's) takes this update."""
    for group, handlers in app.handlers.items():
        if group < 0 or group == FALLBACK_GROUP:
            continue
        for handler in handlers:
            result = handler.check_update(update)
            if result is not None and result is not False:
                return True
    return False


def addressed_command(text: str, entities: tuple[MessageEntity, ...]) -> tuple[str, str | None] | None:
    """(command, @mention or None) when the message starts with a command, else None."""
    first = entities[0] if entities else None
    if first is None or first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None
    word = text[1 : first.length]
    name, _, mention = word.partition("@")
    return name.lower(), (mention or None)


async def on_unmatched(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A one-line pointer to /help for an unknown command addressed to this bot (in a group: one
    naming this bot, or a near miss of one of ours: a bare ``/rank`` may be another bot's) and for
    plain text in a private chat. Never for bots, channel posts, edits or group chatter."""
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return
    if handled_elsewhere(update, context.application):
        return
    private = message.chat.type == ChatType.PRIVATE
    me = context.bot.username or ""
    help_cmd = "/help" if private else f"/help@{me}"
    command = addressed_command(message.text or "", tuple(message.entities))
    if command is None:
        if private:
            await reply(update, f"I only answer commands: {help_cmd} lists them.")
        return
    name, mention = command
    if mention is not None and mention.lower() != me.lower():
        return  # another bot's command
    guess = difflib.get_close_matches(name, known_commands(context.application), n=1, cutoff=SIMILAR)
    if not private and mention is None and not guess:
        return
    hint = f" Did you mean /{guess[0]}?" if guess else ""
    await reply(update, f"❓ Unknown command <code>/{escape(name)}</code>.{hint} {help_cmd} lists them all.")


def register(app: Application) -> None:
    # group -1 runs before the commands (group 0): edits stop there
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, on_edited_message), group=-1)
    app.add_handler(CommandHandler("help", cmd_help))
    app.add_handler(CommandHandler("alert", admin_only(cmd_alert)))
    app.add_handler(CommandHandler("alerts", cmd_alerts))
    app.add_handler(CommandHandler("delete", admin_only(cmd_delete)))
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, on_unmatched), group=FALLBACK_GROUP
    )
    rule_buttons.register(app)  # the buttons of /alerts, /delete and alert messages
