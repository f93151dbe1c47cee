"""Managing alerts by tapping (issue 13, items 1 and 2).

``/alerts`` lists the chat's rules with their state and current value, ten to a page, under a
keyboard of their numbers (◀ ▶ page in place). A number opens that rule's card, edited into the
same message: snooze 1h / 1d, pause or resume, chart, delete (confirmed, then undoable for ten
minutes), back to the list. Select-then-act keeps the list readable on a phone: a row of five
small buttons per rule would be 50 unlabeled emoji for ten rules; numbers plus one card are at
most 13 buttons whatever the list holds. Alert messages (outbox rows of a rule) carry one row:
snooze 1h, snooze 1d, mute (= pause), chart.

Callback data (Telegram allows 64 bytes; these stay under 32), prefix ``r:`` (presets use
``preset:``, settings ``s:``):

* ``r:<act>:<rule id>:<tag>`` on a card, ``…:m`` under an alert message. ``act``: ``v`` open
  the card, ``s1``/``sd`` snooze 1h/1d, ``p`` pause, ``r`` resume, ``c`` chart, ``d`` ask to
  delete, ``dy`` delete. ``tag`` is 4 hex digits of the rule text's CRC: SQLite hands a deleted
  rule's id to the next rule when it was the newest, so an old button whose tag no longer matches
  refers to a rule that is gone, and does nothing.
* ``r:pg:<page>`` a page of the list; ``r:u:<token>`` undo a deletion (random token, kept in
  memory for :data:`UNDO_WINDOW`); ``r:xa:<tag of the ids>`` / ``r:xn`` confirm or cancel
  ``/delete all``.

Every tap is checked before anything changes: garbled data, a rule of another chat, a rule deleted
since, an expired undo, or (in groups) a tapper who is not an administrator gets a short toast and
changes nothing. Rules carry their id, never their position, so an old list acts on the rule it
showed or on nothing.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.handlers.permissions import is_chat_admin
from bot.services import Services, services
from rules.catalogue import format_value
from rules.chat_settings import ChatSettings
from rules.model import AlertState, Status
from rules.units import parse_index
from storage import chats, observations
from storage import rules as rule_store

logger = logging.getLogger(__name__)

PREFIX = "r:"
PAGE_SIZE = 10  # rules per page of /alerts: ten two-line entries fit a phone screen
PER_ROW = 5  # number buttons per keyboard row
UNDO_WINDOW = timedelta(minutes=10)
SNOOZES = {"s1": timedelta(hours=1), "sd": timedelta(days=1)}
RULE_ACTIONS = frozenset({"v", "s1", "sd", "p", "r", "c", "d", "dy"})
ALERT_ACTIONS = frozenset({"s1", "sd", "p", "r", "c"})  # what an alert message's buttons do
JUDGED = frozenset({"threshold", "change"})
PER_CHAT = frozenset({"breakeven", "margin", "profit", "curtail.margin"})  # derived, never stored
STALE_AFTER = timedelta(minutes=30)  # an older value is shown with its time
UNDO_KEY = "rule_undo"  # bot_data key of the UndoStore
BULK_EXAMPLE = "<code>/delete 2 5 7</code>"

GARBLED = "This button is not valid (damaged or from an older version). Nothing changed."
ADMINS_ONLY = "Only this group's administrators can use these buttons."
OTHER_CHAT = "That button is for an alert of another chat. Nothing changed."
GONE = "That alert no longer exists (it was deleted). Nothing changed."

_RULE_DATA = re.compile(r"^r:([a-z0-9]{1,2}):([0-9]{1,12}):([0-9a-f]{4})(:m)?$")
_PAGE_DATA = re.compile(r"^r:pg:([0-9]{1,4})$")
_UNDO_DATA = re.compile(r"^r:u:([0-9a-f]{8})$")
_ALL_DATA = re.compile(r"^r:xa:([0-9a-f]{8})$")


# ---------------------------------------------------------------------------------------------
# callback data


def tag_of(text: str) -> str:
    """4 hex digits that tell this rule's text from another's under a reused id."""
    return f"{zlib.crc32(text.encode()) & 0xFFFF:04x}"


def ids_tag(ids: Iterable[int]) -> str:
    """8 hex digits naming a set of rules: ``/delete all`` deletes what it asked about or nothing."""
    return f"{zlib.crc32(','.join(str(i) for i in sorted(ids)).encode()):08x}"


def rule_data(action: str, rule_id: int, text: str, *, alert: bool = False) -> str:
    return f"{PREFIX}{action}:{rule_id}:{tag_of(text)}{':m' if alert else ''}"


@dataclass(frozen=True, slots=True)
class Tap:
    action: str  # a RULE_ACTIONS member, or "pg", "u", "xa", "xn"
    rule_id: int = 0
    tag: str = ""
    alert: bool = False  # tapped under an alert message (not a card)
    page: int = 0
    token: str = ""


def parse_tap(data: str) -> Tap | None:
    """The tap ``data`` names, or None for anything this module never wrote."""
    if m := _RULE_DATA.match(data):
        action, alert = m.group(1), bool(m.group(4))
        if action not in (ALERT_ACTIONS if alert else RULE_ACTIONS):
            return None
        return Tap(action, rule_id=int(m.group(2)), tag=m.group(3), alert=alert)
    if m := _PAGE_DATA.match(data):
        return Tap("pg", page=int(m.group(1)))
    if m := _UNDO_DATA.match(data):
        return Tap("u", token=m.group(1))
    if m := _ALL_DATA.match(data):
        return Tap("xa", token=m.group(1))
    if data == f"{PREFIX}xn":
        return Tap("xn")
    return None


# ---------------------------------------------------------------------------------------------
# what a chat's rules are doing (read on the database thread)


@dataclass(frozen=True, slots=True)
class Snapshot:
    rows: list[dict[str, Any]]  # rules, oldest first, with ``alert_state`` JSON
    settings: ChatSettings
    values: Mapping[str, tuple[float, datetime]]  # newest stored value per watched metric

    def position(self, rule_id: int) -> int | None:
        """1-based number of the rule in /alerts, or None."""
        return next((i for i, r in enumerate(self.rows, start=1) if r["id"] == rule_id), None)


def load_snapshot(db: Database, chat_id: int) -> Snapshot:
    rows = rule_store.list_rules_with_state(db, chat_id)
    values: dict[str, tuple[float, datetime]] = {}
    for metric in {r["metric"] for r in rows if r["kind"] in JUDGED and r["metric"] not in PER_CHAT}:
        last = observations.latest(db, metric)
        if last is not None:
            values[metric] = (last[0], last[1])
    return Snapshot(rows, chats.get_settings(db, chat_id), values)


def zone(settings: ChatSettings) -> tzinfo:
    try:
        return ZoneInfo(settings.tz)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return ZoneInfo("UTC")


def local_when(at: datetime, tz: tzinfo) -> str:
    """``Tue 7 Dec 09:52 CST``: the chat's zone, with the day so no one reads yesterday as today."""
    local = at.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"


def state_of(row: Mapping[str, Any]) -> AlertState:
    try:
        return AlertState.from_dict(json.loads(row["alert_state"]) if row.get("alert_state") else None)
    except (ValueError, TypeError):
        return AlertState()


def status_line(row: Mapping[str, Any], snap: Snapshot, now: datetime) -> str:
    """``🔴 firing since Tue 7 Dec 09:52 CST · 😴 snoozed until … · now $44.10/PH/day``."""
    tz, settings = zone(snap.settings), snap.settings
    state = state_of(row)
    parts: list[str] = []
    if row["kind"] in JUDGED:
        since = f" since {local_when(state.since, tz)}" if state.since else ""
        if state.status is Status.FIRING:
            parts.append(f"🔴 firing{since}")
        elif state.status is Status.PENDING:
            parts.append(f"🟡 pending{since}")
        else:
            parts.append("🟢 ok")
    else:
        parts.append("📣 on each event")
    snoozed = settings.rule_snoozed_until(row["id"])
    if settings.rule_paused(row["id"]):
        parts.append("⏸ paused")
    elif snoozed and snoozed > now:
        parts.append(f"😴 snoozed until {local_when(snoozed, tz)}")
    if row["kind"] in JUDGED:
        metric = row["metric"]
        if metric in snap.values:
            value, at = snap.values[metric]
            old = f" (as of {local_when(at, tz)})" if now - at > STALE_AFTER else ""
            parts.append(f"now {format_value(metric, value, tz)}{old}")
        elif state.last_value is not None:
            parts.append(f"last {format_value(metric, state.last_value, tz)}")
    return " · ".join(escape(p, quote=False) for p in parts)


def chat_line(settings: ChatSettings, now: datetime) -> str | None:
    """The chat-wide silence, once above the list rather than on every rule."""
    if settings.muted:
        return "🔇 All alerts are muted: /unmute to hear them again."
    if settings.snooze_until and settings.snooze_until > now:
        return f"😴 All alerts snoozed until {escape(local_when(settings.snooze_until, zone(settings)))}."
    return None


# ---------------------------------------------------------------------------------------------
# messages and keyboards


def pages(count: int) -> int:
    return max(1, -(-count // PAGE_SIZE))


def listing(snap: Snapshot, page: int, now: datetime) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of /alerts and its keyboard (numbers, then ◀ ▶ when there is more than a page)."""
    rows = snap.rows
    if not rows:
        return "No alerts yet. Add one: <code>/alert difficulty.next_change &gt; 3%</code>", None
    total = pages(len(rows))
    page = min(max(page, 0), total - 1)
    first = page * PAGE_SIZE
    shown = rows[first : first + PAGE_SIZE]
    head = f"<b>Alerts in this chat</b> ({len(rows)})" + (f" · page {page + 1}/{total}" if total > 1 else "")
    lines = [head]
    if (line := chat_line(snap.settings, now)) is not None:
        lines.append(line)
    for number, row in enumerate(shown, start=first + 1):
        lines.append(f"{number}. <code>{escape(row['text'])}</code>\n      {status_line(row, snap, now)}")
    lines.append(
        "Tap a number to snooze, pause, chart or delete that alert; or delete by number, e.g. "
        f"{BULK_EXAMPLE}."
    )
    numbers = [
        InlineKeyboardButton(str(n), callback_data=rule_data("v", row["id"], row["text"]))
        for n, row in enumerate(shown, start=first + 1)
    ]
    keyboard = [numbers[i : i + PER_ROW] for i in range(0, len(numbers), PER_ROW)]
    if total > 1:
        nav = []
        if page > 0:
            nav.append(InlineKeyboardButton("◀ Previous", callback_data=f"{PREFIX}pg:{page - 1}"))
        if page < total - 1:
            nav.append(InlineKeyboardButton("Next ▶", callback_data=f"{PREFIX}pg:{page + 1}"))
        keyboard.append(nav)
    return "\n".join(lines), InlineKeyboardMarkup(keyboard)


def chartable(metric: str) -> bool:
    from bot.handlers.chart import ChartError, resolve_metric  # chart imports commands, which imports us

    try:
        resolve_metric(metric)
    except ChartError:
        return False
    return True


def card(snap: Snapshot, row: Mapping[str, Any], now: datetime) -> tuple[str, InlineKeyboardMarkup]:
    """One rule and what can be done to it."""
    number = snap.position(row["id"]) or 0
    text = (
        f"<b>Alert {number}</b> of {len(snap.rows)}\n<code>{escape(row['text'])}</code>\n"
        f"{status_line(row, snap, now)}"
    )
    rid, rtext = row["id"], row["text"]
    paused = snap.settings.rule_paused(rid)
    first = [
        InlineKeyboardButton("😴 1h", callback_data=rule_data("s1", rid, rtext)),
        InlineKeyboardButton("😴 1d", callback_data=rule_data("sd", rid, rtext)),
        InlineKeyboardButton(
            "▶ Resume" if paused else "⏸ Pause", callback_data=rule_data("r" if paused else "p", rid, rtext)
        ),
    ]
    second = [InlineKeyboardButton("🗑 Delete", callback_data=rule_data("d", rid, rtext))]
    if chartable(row["metric"]):
        second.insert(0, InlineKeyboardButton("📈 Chart", callback_data=rule_data("c", rid, rtext)))
    page = (number - 1) // PAGE_SIZE if number else 0
    second.append(InlineKeyboardButton("« Alerts", callback_data=f"{PREFIX}pg:{page}"))
    return text, InlineKeyboardMarkup([first, second])


def alert_keyboard(rule_id: int, text: str, metric: str, *, paused: bool = False) -> InlineKeyboardMarkup:
    """The row under an alert message of rule ``rule_id`` (built when the message is sent)."""
    row = [
        InlineKeyboardButton("😴 1h", callback_data=rule_data("s1", rule_id, text, alert=True)),
        InlineKeyboardButton("😴 1d", callback_data=rule_data("sd", rule_id, text, alert=True)),
        InlineKeyboardButton(
            "🔔 Unmute" if paused else "🔇 Mute",
            callback_data=rule_data("r" if paused else "p", rule_id, text, alert=True),
        ),
    ]
    if chartable(metric):
        row.append(InlineKeyboardButton("📈 Chart", callback_data=rule_data("c", rule_id, text, alert=True)))
    return InlineKeyboardMarkup([row])


def alert_markups(labels: Mapping[int, tuple[str, str]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """{outbox key: keyboard} for the rows of a rule that still exists (Notifier's hook):
    digests, notices and grouped messages have no rule and get none."""
    return {
        row["key"]: alert_keyboard(row["rule_id"], *labels[row["rule_id"]])
        for row in rows
        if row.get("rule_id") in labels
    }


def undo_keyboard(token: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("↩ Undo", callback_data=f"{PREFIX}u:{token}"),
                InlineKeyboardButton("« Alerts", callback_data=f"{PREFIX}pg:0"),
            ]
        ]
    )


BACK_TO_LIST = InlineKeyboardMarkup([[InlineKeyboardButton("« Alerts", callback_data=f"{PREFIX}pg:0")]])


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
    else:
        head = f"🗑 Deleted {len(rows)} alerts:\n" + "\n".join(
            f"<code>{escape(r['text'])}</code>" for r in rows
        )
    return f"{head}\nUndo within {minutes} minutes."


# ---------------------------------------------------------------------------------------------
# /delete's argument: numbers, ranges, all


class PositionsError(ValueError):
    """The reply to a /delete argument that names no alerts."""


def parse_positions(arg: str, count: int) -> list[int] | None:
    """``"2 5 7"``, ``"3-9"``, ``"2, 4-6"`` -> sorted 1-based positions; None for ``all``. Raises
    PositionsError naming the problem, with an example."""
    words = [w for w in re.split(r"[\s,]+", arg.strip()) if w]
    example = (
        f"for example <code>/delete 1</code>, {BULK_EXAMPLE}, <code>/delete 3-9</code> or "
        "<code>/delete all</code>"
    )
    if not words:
        raise PositionsError(f"Give the alert's number from /alerts, {example}.")
    if len(words) == 1 and words[0].lower() == "all":
        return None
    chosen: set[int] = set()
    for word in words:
        low, dash, high = word.partition("-")
        first = parse_index(low)
        last = parse_index(high) if dash else first
        if first is None or last is None:
            raise PositionsError(f"{escape(word)} is not an alert number or range, {example}.")
        if last < first:
            raise PositionsError(f"{escape(word)} runs backwards: write <code>/delete {last}-{first}</code>.")
        if last > count:
            raise PositionsError(
                f"There is no alert number {last}: this chat has {count}. /alerts lists them."
            )
        chosen.update(range(first, last + 1))
    return sorted(chosen)


async def delete_command(update: Update, context: ContextTypes.DEFAULT_TYPE, arg: str) -> None:
    """/delete N, /delete 2 5 7, /delete 3-9 (at once, with an undo) and /delete all (asks first)."""
    svc, chat, message = services(context), update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    rows = await svc.db(rule_store.list_rules, chat.id)
    try:
        positions = parse_positions(arg, len(rows))
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
        from bot.handlers.chart import DEFAULT_WINDOW_DAYS, send_chart  # see chartable()

        if not chartable(rule["metric"]):
            await query.answer("This alert watches events: there is no series to chart.")
            return
        await query.answer("📈 Drawing the chart…")
        message = query.message
        topic = isinstance(message, Message) and message.is_topic_message
        thread = message.message_thread_id if topic and isinstance(message, Message) else None
        await send_chart(
            svc, context.bot, chat_id, rule["metric"], DEFAULT_WINDOW_DAYS, f"{DEFAULT_WINDOW_DAYS}d", thread
        )
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
        toast = f"😴 Snoozed until {local_when(now + SNOOZES[tap.action], zone(settings))}: {text}"
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
