"""Managing alerts by tapping (issue 13, items 1 and 2).

``/alerts`` lists the chat's rules with their state and current value, ten to a page, under a
keyboard of their numbers (◀ ▶ page in place). A number opens that rule's card, edited into the
same message: snooze 1h / 1d, pause or resume, chart, delete (confirmed, then undoable for ten
minutes), back to the list. Select-then-act keeps the list readable on a phone: a row of five
small buttons per rule would be 50 unlabeled emoji for ten rules; numbers plus one card are at
most 13 buttons whatever the list holds. Alert messages (outbox rows of a rule) carry one row:
snooze 1h, snooze 1d, mute (= pause), chart.

Callback data and what the messages show: bot/handlers/rule_views.py.

Every tap is checked before anything changes: garbled data, a rule of another chat, a rule deleted
since, an expired undo, or (in groups) a tapper who is not an administrator gets a short toast and
changes nothing. Rules carry their id, never their position, so an old list acts on the rule it
showed or on nothing.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlite_utils import Database
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.handlers.permissions import is_chat_admin
from bot.handlers.rule_views import (
    BACK_TO_LIST,
    BULK_EXAMPLE,
    PREFIX,
    Tap,
    alert_keyboard,
    card,
    chartable,
    ids_tag,
    list_text,
    listing,
    load_snapshot,
    local_when,
    parse_tap,
    rule_data,
    tag_of,
    undo_keyboard,
)
from bot.services import Services, services
from rules.chat_settings import ChatSettings
from rules.units import parse_index
from storage import chats
from storage import rules as rule_store

logger = logging.getLogger(__name__)

UNDO_WINDOW = timedelta(minutes=10)
SNOOZES = {"s1": timedelta(hours=1), "sd": timedelta(days=1)}
UNDO_KEY = "rule_undo"  # bot_data key of the UndoStore
LISTED = 10  # deleted alerts named in the reply

GARBLED = "This button is not valid (damaged or from an older version). Nothing changed."
ADMINS_ONLY = "Only this group's administrators can use these buttons."
OTHER_CHAT = "That button is for an alert of another chat. Nothing changed."
GONE = "That alert no longer exists (it was deleted). Nothing changed."


# ---------------------------------------------------------------------------------------------
# changes (each one database call: read, change and write without anything in between)


def set_rule_silence(
    db: Database,
    chat_id: int,
    rule_id: int,
    now: datetime,
    *,
    snooze: timedelta | None = None,
    paused: bool | None = None,
) -> ChatSettings:
    settings = chats.get_settings(db, chat_id)
    changes: dict[str, Any] = {}
    if snooze is not None:
        changes["snooze_rules"] = {**settings.snooze_rules, rule_id: now + snooze}
    if paused is not None:
        changes["paused_rules"] = (
            settings.paused_rules | {rule_id} if paused else settings.paused_rules - {rule_id}
        )
    return chats.update_settings(db, chat_id, now, **changes)


@dataclass(slots=True)
class Deleted:
    """What an undo puts back: the rows, and which of them were paused or snoozed."""

    chat_id: int
    rows: list[dict[str, Any]]
    paused: frozenset[int]
    snoozed: dict[int, datetime]
    expires: datetime


def delete_and_forget(db: Database, chat_id: int, ids: list[int], now: datetime) -> Deleted:
    """Delete the rules and drop their pause and snooze (a later rule may get the same id)."""
    rows = rule_store.delete_rules(db, chat_id, ids)
    gone = {r["id"] for r in rows}
    settings = chats.get_settings(db, chat_id)
    paused = settings.paused_rules & gone
    snoozed = {k: v for k, v in settings.snooze_rules.items() if k in gone}
    if paused or snoozed:
        chats.update_settings(
            db,
            chat_id,
            now,
            paused_rules=settings.paused_rules - gone,
            snooze_rules={k: v for k, v in settings.snooze_rules.items() if k not in gone},
        )
    return Deleted(chat_id, rows, frozenset(paused), snoozed, now + UNDO_WINDOW)


def restore(
    db: Database, deleted: Deleted, now: datetime, max_rules: int
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    restored, skipped = rule_store.restore_rules(db, deleted.chat_id, deleted.rows, max_rules=max_rules)
    new_id = {r["restored_from"]: r["id"] for r in restored}
    paused = {new_id[i] for i in deleted.paused if i in new_id}
    snoozed = {new_id[i]: at for i, at in deleted.snoozed.items() if i in new_id and at > now}
    if paused or snoozed:
        settings = chats.get_settings(db, deleted.chat_id)
        chats.update_settings(
            db,
            deleted.chat_id,
            now,
            paused_rules=settings.paused_rules | paused,
            snooze_rules={**settings.snooze_rules, **snoozed},
        )
    return restored, skipped


@dataclass
class UndoStore:
    """Deletions that can still be undone, by random token (in memory: a restart ends the window
    early, which only costs the undo)."""

    entries: dict[str, Deleted] = field(default_factory=dict)

    def put(self, deleted: Deleted, now: datetime) -> str:
        for token in [t for t, d in self.entries.items() if d.expires <= now]:
            del self.entries[token]
        token = secrets.token_hex(4)
        self.entries[token] = deleted
        return token

    def take(self, token: str, chat_id: int, now: datetime) -> Deleted | str:
        """The deletion to undo, or why not (a toast)."""
        deleted = self.entries.get(token)
        if deleted is None or deleted.expires <= now:
            self.entries.pop(token, None)
            minutes = int(UNDO_WINDOW.total_seconds() // 60)
            return f"Too late to undo (it lasts {minutes} minutes): add the alert again with /alert."
        if deleted.chat_id != chat_id:
            return OTHER_CHAT
        del self.entries[token]
        return deleted


def undo_store(bot_data: dict[str, Any]) -> UndoStore:
    store = bot_data.get(UNDO_KEY)
    if not isinstance(store, UndoStore):
        store = bot_data[UNDO_KEY] = UndoStore()
    return store


def deleted_text(deleted: Deleted) -> str:
    rows = deleted.rows
    minutes = int(UNDO_WINDOW.total_seconds() // 60)
    if len(rows) == 1:
        head = f"🗑 Deleted: <code>{escape(rows[0]['text'])}</code>"
    else:  # at most ten named: /delete all of 50 long rules must fit one message
        named = [f"<code>{escape(list_text(r['text']))}</code>" for r in rows[:LISTED]]
        more = [f"… and {len(rows) - LISTED} more"] if len(rows) > LISTED else []
        head = "\n".join([f"🗑 Deleted {len(rows)} alerts:", *named, *more])
    return f"{head}\nUndo within {minutes} minutes."


# ---------------------------------------------------------------------------------------------
# /delete's argument: numbers, ranges, all


class PositionsError(ValueError):
    """The reply to a /delete argument that names no alerts."""


def parse_positions(arg: str, command: str = "/delete") -> list[tuple[int, int]] | None:
    """``"2 5 7"``, ``"3-9"``, ``"2, 4-6"`` -> the (first, last) spans named, 1-based; None for
    ``all``. Raises PositionsError naming the problem, with an example in ``command``'s form. Read
    before the database is asked anything: most bad input costs no query."""
    words = [w for w in re.split(r"[\s,]+", arg.strip()) if w]
    bulk = BULK_EXAMPLE if command == "/delete" else f"<code>{escape(command)} 2 5 7</code>"
    example = (
        f"for example <code>{escape(command)} 1</code>, {bulk}, <code>{escape(command)} 3-9</code> or "
        f"<code>{escape(command)} all</code>"
    )
    if not words:
        raise PositionsError(f"Give the alert's number from /alerts, {example}.")
    if len(words) == 1 and words[0].lower() == "all":
        return None
    spans: list[tuple[int, int]] = []
    for word in words:
        low, dash, high = word.partition("-")
        first = parse_index(low)
        last = parse_index(high) if dash else first
        if first is None or last is None:
            raise PositionsError(f"{escape(word)} is not an alert number or range, {example}.")
        if last < first:
            raise PositionsError(
                f"{escape(word)} runs backwards: write <code>{escape(command)} {last}-{first}</code>."
            )
        spans.append((first, last))
    return spans


def chosen_positions(spans: list[tuple[int, int]], count: int) -> list[int]:
    """The sorted positions of ``spans`` in a list of ``count`` (checked before a range is
    expanded, so ``/delete 1-999999999`` costs nothing)."""
    last = max(high for _, high in spans)
    if last > count:
        raise PositionsError(f"There is no alert number {last}: this chat has {count}. /alerts lists them.")
    return sorted({p for low, high in spans for p in range(low, high + 1)})


async def delete_command(update: Update, context: ContextTypes.DEFAULT_TYPE, arg: str) -> None:
    """/delete N, /delete 2 5 7, /delete 3-9 (at once, with an undo) and /delete all (asks first)."""
    svc, chat, message = services(context), update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    try:
        spans = parse_positions(arg)
        rows = await svc.db(rule_store.list_rules, chat.id)
        positions = chosen_positions(spans, len(rows)) if spans is not None else None
    except PositionsError as err:
        await message.reply_text(f"❌ {err}", parse_mode=ParseMode.HTML, do_quote=False)
        return
    if positions is None:
        if not rows:
            await message.reply_text("No alerts to delete.", do_quote=False)
            return
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        f"🗑 Delete all {len(rows)}",
                        callback_data=f"{PREFIX}xa:{ids_tag(r['id'] for r in rows)}",
                    ),
                    InlineKeyboardButton("Cancel", callback_data=f"{PREFIX}xn"),
                ]
            ]
        )
        await message.reply_text(
            f"Delete all {len(rows)} alerts of this chat?", reply_markup=keyboard, do_quote=False
        )
        return
    ids = [rows[p - 1]["id"] for p in positions]
    await delete_and_reply(svc, context, chat.id, ids, message)


async def delete_and_reply(
    svc: Services,
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    ids: list[int],
    message: Message,
) -> None:
    now = svc.clock()
    deleted = await svc.db(delete_and_forget, chat_id, ids, now)
    logger.info("rules deleted chat=%s rules=%s", chat_id, [r["id"] for r in deleted.rows])
    token = undo_store(context.bot_data).put(deleted, now)
    await message.reply_text(
        deleted_text(deleted), parse_mode=ParseMode.HTML, reply_markup=undo_keyboard(token), do_quote=False
    )


async def alerts_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc, chat, message = services(context), update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    snap = await svc.db(load_snapshot, chat.id)
    text, keyboard = listing(snap, 0, svc.clock())
    await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard, do_quote=False)


# ---------------------------------------------------------------------------------------------
# taps


async def _edit(query: Any, text: str, keyboard: InlineKeyboardMarkup | None) -> None:
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
    except BadRequest as err:  # the same text again ("not modified"), or a message too old to edit
        logger.info("rule button: edit refused: %s", err)


async def _edit_markup(query: Any, keyboard: InlineKeyboardMarkup | None) -> None:
    try:
        await query.edit_message_reply_markup(reply_markup=keyboard)
    except BadRequest as err:
        logger.info("rule button: keyboard edit refused: %s", err)


def _rule_problem(rule: Mapping[str, Any] | None, chat_id: int, tag: str) -> str | None:
    if rule is None:
        return GONE
    if rule["chat_id"] != chat_id:
        return OTHER_CHAT
    if tag_of(rule["text"]) != tag:
        return GONE  # the id now belongs to a newer rule
    return None


def _short(text: str, limit: int = 200) -> str:
    """Telegram shows at most 200 characters of a toast."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def on_rule_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    tap = parse_tap(query.data or "")
    chat = update.effective_chat
    if tap is None or chat is None:
        logger.info("rule button: refused data=%r", (query.data or "")[:64])
        await query.answer(GARBLED)
        return
    if not await is_chat_admin(update, context):
        await query.answer(ADMINS_ONLY)
        return
    svc = services(context)
    now = svc.clock()
    if tap.action == "pg":
        snap = await svc.db(load_snapshot, chat.id)
        await query.answer()
        await _edit(query, *listing(snap, tap.page, now))
    elif tap.action == "u":
        await _undo(query, svc, context, chat.id, tap.token, now)
    elif tap.action in ("xa", "xn"):
        await _delete_all(query, svc, context, chat.id, tap, now)
    else:
        rule = await svc.db(rule_store.get_rule, tap.rule_id)
        problem = _rule_problem(rule, chat.id, tap.tag)
        if problem is not None or rule is None:
            logger.info("rule button: refused chat=%s data=%s: %s", chat.id, query.data, problem)
            await query.answer(problem or GONE)
            return
        await _rule_action(query, svc, context, rule, tap, now)


async def _rule_action(
    query: Any,
    svc: Services,
    context: ContextTypes.DEFAULT_TYPE,
    rule: dict[str, Any],
    tap: Tap,
    now: datetime,
) -> None:
    chat_id, rule_id, text = rule["chat_id"], rule["id"], rule["text"]
    if tap.action == "c":
        # imported here: chart imports commands, which imports this module
        from bot.handlers.chart import send_chart

        if not chartable(rule["metric"]):
            await query.answer("This alert watches events: there is no series to chart.")
            return
        await query.answer("📈 Drawing the chart…")
        message = query.message
        topic = isinstance(message, Message) and message.is_topic_message
        thread = message.message_thread_id if topic and isinstance(message, Message) else None
        await send_chart(svc, context.bot, chat_id, rule["metric"], None, thread)
        return
    if tap.action == "d":
        await query.answer()
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("🗑 Yes, delete", callback_data=rule_data("dy", rule_id, text)),
                    InlineKeyboardButton("Cancel", callback_data=rule_data("v", rule_id, text)),
                ]
            ]
        )
        await _edit(query, f"Delete <code>{escape(text)}</code>?", keyboard)
        return
    if tap.action == "dy":
        deleted = await svc.db(delete_and_forget, chat_id, [rule_id], now)
        token = undo_store(context.bot_data).put(deleted, now)
        logger.info("rule deleted by button chat=%s rule=%s", chat_id, rule_id)
        await query.answer("🗑 Deleted")
        await _edit(query, deleted_text(deleted), undo_keyboard(token))
        return
    toast = ""
    if tap.action in SNOOZES:
        settings = await svc.db(set_rule_silence, chat_id, rule_id, now, snooze=SNOOZES[tap.action])
        toast = f"😴 Snoozed until {local_when(now + SNOOZES[tap.action], settings.zone())}: {text}"
    elif tap.action in ("p", "r"):
        paused = tap.action == "p"
        await svc.db(set_rule_silence, chat_id, rule_id, now, paused=paused)
        if tap.alert:
            toast = f"🔇 Muted until you unmute it: {text}" if paused else f"🔔 Unmuted: {text}"
        else:
            toast = f"⏸ Paused: {text}" if paused else f"▶ Resumed: {text}"
    logger.info("rule button chat=%s rule=%s action=%s alert=%s", chat_id, rule_id, tap.action, tap.alert)
    await query.answer(_short(toast) if toast else None)
    if tap.alert:
        if tap.action in ("p", "r"):  # the Mute button becomes Unmute and back
            await _edit_markup(query, alert_keyboard(rule_id, text, rule["metric"], paused=tap.action == "p"))
        return
    snap = await svc.db(load_snapshot, chat_id)
    row = next((r for r in snap.rows if r["id"] == rule_id), None)
    if row is not None:
        await _edit(query, *card(snap, row, now))


async def _undo(
    query: Any, svc: Services, context: ContextTypes.DEFAULT_TYPE, chat_id: int, token: str, now: datetime
) -> None:
    found = undo_store(context.bot_data).take(token, chat_id, now)
    if isinstance(found, str):
        await query.answer(_short(found))
        if found != OTHER_CHAT:
            await _edit_markup(query, BACK_TO_LIST)  # the spent Undo goes
        return
    restored, skipped = await svc.db(restore, found, now, svc.settings.alerts.max_rules_per_chat)
    logger.info("rules restored chat=%s rules=%s", chat_id, [r["id"] for r in restored])
    lines = [f"↩ Restored: <code>{escape(r['text'])}</code>" for r in restored]
    for row, why in skipped:
        reason = "the chat has it again" if why == "already there" else "the chat has the most alerts allowed"
        lines.append(f"Not restored ({reason}): <code>{escape(row['text'])}</code>")
    await query.answer("↩ Restored" if restored else "Nothing restored")
    await _edit(query, "\n".join(lines), BACK_TO_LIST)


async def _delete_all(
    query: Any, svc: Services, context: ContextTypes.DEFAULT_TYPE, chat_id: int, tap: Tap, now: datetime
) -> None:
    if tap.action == "xn":
        await query.answer()
        await _edit(query, "Nothing deleted.", None)
        return
    rows = await svc.db(rule_store.list_rules, chat_id)
    ids = [r["id"] for r in rows]
    if not ids or ids_tag(ids) != tap.token:
        await query.answer("The alerts changed since: nothing deleted. Send /delete all again.")
        await _edit_markup(query, None)
        return
    deleted = await svc.db(delete_and_forget, chat_id, ids, now)
    token = undo_store(context.bot_data).put(deleted, now)
    logger.info("rules deleted (all) chat=%s count=%d", chat_id, len(deleted.rows))
    await query.answer(f"🗑 Deleted {len(deleted.rows)}")
    await _edit(query, deleted_text(deleted), undo_keyboard(token))


def register(app: Application) -> None:
    app.add_handler(CallbackQueryHandler(on_rule_button, pattern=f"^{PREFIX}"))
