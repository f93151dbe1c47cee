"""``/start``: the welcome with a keyboard of preset alerts; one tap sets the alert.

Each button carries ``preset:<name>`` (well under Telegram's 64-byte callback_data limit). A tap
stores the preset's rules exactly as ``/alert`` would (canonical text, same rule limit, duplicates
ignored), answers the callback and confirms in the chat. In groups only administrators may tap.
Presets the chat already has are marked ✓ (from its stored rules), and the keyboard is redrawn
after a tap so the mark appears at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from html import escape

from sqlite_utils import Database
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.handlers.commands import rule_metric, welcome_text
from bot.handlers.permissions import is_chat_admin
from bot.handlers.reachable import never_fires
from bot.services import services
from bot.settings import Settings
from rules.catalogue import format_value
from rules.grammar import format_rule, parse_rule
from storage import chats, observations
from storage import rules as rule_store

logger = logging.getLogger(__name__)

CALLBACK_PREFIX = "preset:"
DEFAULT_HASHPRICE_FLOOR = 45.0  # USD/PH/day, used until a hashprice has been observed
HASHPRICE_DROP = 0.10  # the preset sits 10% under the current hashprice
ADDED_MARK = "✓ "
# A phone shows two buttons a row legibly when each label is this short (about half of a
# 360-point-wide screen); a longer label gets a row of its own.
PAIR_MAX_CHARS = 18


@dataclass(frozen=True)
class Preset:
    name: str  # callback_data is "preset:<name>"
    button: str
    rules: Callable[[float | None], list[str]]  # current hashprice (or None) -> rule texts
    note: str = ""  # said after the confirmation
    # a stored rule starting with this counts as the preset (its threshold follows the hashprice
    # of the day it was set, so the exact text is not known later); None: the exact texts
    same_prefix: str | None = None

    @property
    def callback_data(self) -> str:
        return CALLBACK_PREFIX + self.name


def hashprice_floor(current: float | None) -> int:
    """10% under the current hashprice, rounded to whole dollars (never below $1); a fixed
    default while no hashprice is known."""
    if current is None or current <= 0:
        return int(DEFAULT_HASHPRICE_FLOOR)
    return max(1, round(current * (1 - HASHPRICE_DROP)))


PRESETS: tuple[Preset, ...] = (
    Preset(
        "hashprice_low",
        "📉 Hashprice −10%",
        lambda hp: [f"hashprice < {hashprice_floor(hp)}"],
        same_prefix="hashprice < ",
    ),
    Preset(
        "difficulty_3pct",
        "⛏ Difficulty ±3%",
        lambda _hp: ["difficulty.next_change > 3%", "difficulty.next_change < -3%"],
    ),
    Preset("retarget", "🔁 Each retarget", lambda _hp: ["retarget"]),
    Preset("filings", "📄 New financings", lambda _hp: ["filings"]),
    Preset("ercot_spike", "⚡ HB_WEST > $150", lambda _hp: ["power.hb_west > 150"]),
    Preset(
        "digest",
        "☀️ Digest 08:00",
        lambda _hp: ["digest 08:00"],
        note="08:00 in this chat's time zone: <code>/tz America/Chicago</code> changes it.",
    ),
)
BY_NAME = {p.name: p for p in PRESETS}


def offered(settings: Settings) -> list[Preset]:
    """The presets whose every rule can fire on this bot: none for a watcher that is off."""
    return [
        p for p in PRESETS if all(never_fires(parse_rule(text), settings) is None for text in p.rules(None))
    ]


def is_added(preset: Preset, stored: Collection[str]) -> bool:
    """Whether the chat's stored rules (canonical texts) already hold every rule of the preset."""
    if preset.same_prefix is not None:
        return any(text.startswith(preset.same_prefix) for text in stored)
    return all(format_rule(parse_rule(text)) in stored for text in preset.rules(None))


def label(preset: Preset, stored: Collection[str]) -> str:
    return (ADDED_MARK if is_added(preset, stored) else "") + preset.button


def rows(labels: list[str]) -> list[list[int]]:
    """Indexes of the buttons a row, in order: two a row while both labels are short enough for a
    phone, one a row otherwise."""
    out: list[list[int]] = []
    i = 0
    while i < len(labels):
        if i + 1 < len(labels) and max(len(labels[i]), len(labels[i + 1])) <= PAIR_MAX_CHARS:
            out.append([i, i + 1])
            i += 2
        else:
            out.append([i])
            i += 1
    return out


def keyboard(settings: Settings, stored: Collection[str] = ()) -> InlineKeyboardMarkup:
    """The offered presets, those the chat has marked ✓, laid out to fit a phone."""
    presets = offered(settings)
    labels = [label(p, stored) for p in presets]
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(labels[i], callback_data=presets[i].callback_data) for i in row]
            for row in rows(labels)
        ]
    )


def stored_texts(db: Database, chat_id: int) -> set[str]:
    """The chat's rules as canonical texts. Runs on the database thread."""
    return {str(r["text"]) for r in rule_store.list_rules(db, chat_id)}


async def cmd_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    title = chat.title or chat.username or chat.full_name
    await svc.db(chats.ensure_chat, chat.id, chat.type, title, svc.clock())
    stored = await svc.db(stored_texts, chat.id)
    await message.reply_text(
        welcome_text(svc.settings) + "\n\n<b>Or tap a preset</b> (✓: this chat has it):",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(svc.settings, stored),
        do_quote=False,
    )


def apply_preset(
    db: Database, chat_id: int, texts: list[str], now: datetime, max_rules: int
) -> list[tuple[str, str]]:
    """Store each rule text canonically; return (canonical text, outcome) with outcome one of
    "added", "exists", "full". Runs on the database thread."""
    results: list[tuple[str, str]] = []
    for text in texts:
        rule = parse_rule(text)  # the presets are fixed texts: a RuleError here is a bug, let it raise
        canonical = format_rule(rule)
        metric, kind = rule_metric(rule)
        try:
            rule_id = rule_store.add_rule(db, chat_id, canonical, metric, kind, now, max_rules=max_rules)
        except rule_store.TooManyRules:
            results.append((canonical, "full"))
            continue
        results.append((canonical, "added" if rule_id is not None else "exists"))
    return results


def confirmation(preset: Preset, results: list[tuple[str, str]], current: float | None, limit: int) -> str:
    lines = []
    for canonical, outcome in results:
        code = f"<code>{escape(canonical)}</code>"
        if outcome == "added":
            lines.append(f"✅ Alert set: {code}")
        elif outcome == "exists":
            lines.append(f"This chat already has {code}.")
        else:
            lines.append(f"❌ Not set: {code}. This chat already has {limit} alerts, the most allowed.")
    if preset.name == "hashprice_low":
        lines.append(
            f"10% under the current hashprice {escape(format_value('hashprice', current))}."
            if current is not None
            else "No hashprice observed yet, so a fixed $45/PH/day; /alerts and /delete change it."
        )
    if preset.note and any(outcome == "added" for _, outcome in results):
        lines.append(preset.note)
    lines.append("/alerts lists this chat's alerts.")
    return "\n".join(lines)


def toast(results: list[tuple[str, str]]) -> str:
    """The short callback answer (Telegram shows up to 200 characters)."""
    added = [c for c, outcome in results if outcome == "added"]
    if added:
        return ("Alert set: " + "; ".join(added))[:200]
    if all(outcome == "exists" for _, outcome in results):
        return "Already set in this chat."
    return "This chat has the most alerts allowed: /delete one first."


async def on_preset(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    chat = update.effective_chat
    if query is None:
        return
    svc = services(context)
    preset = BY_NAME.get((query.data or "").removeprefix(CALLBACK_PREFIX))
    if chat is None or preset is None or preset not in offered(svc.settings):
        await query.answer("This button is no longer offered: send /start for the current ones.")
        return
    if not await is_chat_admin(update, context):
        await query.answer("Only this group's administrators can add alerts.", show_alert=True)
        return
    now = svc.clock()
    title = chat.title or chat.username or chat.full_name
    await svc.db(chats.ensure_chat, chat.id, chat.type, title, now)
    last = await svc.db(observations.latest, "hashprice")
    current = last[0] if last is not None else None
    limit = svc.settings.alerts.max_rules_per_chat
    results = await svc.db(apply_preset, chat.id, preset.rules(current), now, limit)
    logger.info("preset chat=%s preset=%s results=%s", chat.id, preset.name, results)
    await query.answer(toast(results))
    if query.message is not None and any(outcome == "added" for _, outcome in results):
        stored = await svc.db(stored_texts, chat.id)
        try:  # the ✓ appears on the keyboard that was tapped
            await query.edit_message_reply_markup(reply_markup=keyboard(svc.settings, stored))
        except TelegramError as exc:  # an old or deleted message: the confirmation below still says it
            logger.info("preset keyboard chat=%s not redrawn: %s", chat.id, exc)
    await context.bot.send_message(
        chat_id=chat.id,
        text=confirmation(preset, results, current, limit),
        parse_mode=ParseMode.HTML,
        message_thread_id=getattr(query.message, "message_thread_id", None),  # forum topics
    )


def register(app: Application) -> None:
    app.add_handler(CommandHandler("start", cmd_start))
    app.add_handler(CallbackQueryHandler(on_preset, pattern=f"^{CALLBACK_PREFIX}"))
