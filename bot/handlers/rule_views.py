"""What /alerts, a rule's card and an alert message's buttons show (issue 13, items 1 and 2),
and the callback data of their buttons. The taps themselves are bot/handlers/rule_buttons.py.

Callback data (Telegram allows 64 bytes; these stay under 32), prefix ``r:`` (presets use
``preset:``, settings ``s:``):

* ``r:<act>:<rule id>:<tag>`` on a card, ``…:m`` under an alert message. ``act``: ``v`` open
  the card, ``s1``/``sd`` snooze 1h/1d, ``p`` pause, ``r`` resume, ``c`` chart, ``d`` ask to
  delete, ``dy`` delete. ``tag`` is 4 hex digits of the rule text's CRC: SQLite hands a deleted
  rule's id to the next rule when it was the newest, so an old button whose tag no longer matches
  refers to a rule that is gone, and does nothing.
* ``r:pg:<page>`` a page of the list; ``r:u:<token>`` undo a deletion (random token, kept in
  memory for ten minutes); ``r:xa:<tag of the ids>`` / ``r:xn`` confirm or cancel
  ``/delete all``.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from html import escape
from typing import Any

from sqlite_utils import Database
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from rules.catalogue import format_value
from rules.chat_settings import ChatSettings
from rules.model import AlertState, Status
from storage import chats, observations
from storage import rules as rule_store

PREFIX = "r:"
PAGE_SIZE = 10  # rules per page of /alerts: ten two-line entries fit a phone screen
PER_ROW = 5  # number buttons per keyboard row
LIST_TEXT_MAX = 200  # characters of a rule's text in the list: 10 x (200 + state) < 4,096
RULE_ACTIONS = frozenset({"v", "s1", "sd", "p", "r", "c", "d", "dy"})
ALERT_ACTIONS = frozenset({"s1", "sd", "p", "r", "c"})  # what an alert message's buttons do
JUDGED = frozenset({"threshold", "change"})
PER_CHAT = frozenset({"breakeven", "margin", "profit", "curtail.margin"})  # derived, never stored
STALE_AFTER = timedelta(minutes=30)  # an older value is shown with its time
BULK_EXAMPLE = "<code>/delete 2 5 7</code>"

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
    tz, settings = snap.settings.zone(), snap.settings
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
        return f"😴 All alerts snoozed until {escape(local_when(settings.snooze_until, settings.zone()))}."
    return None


# ---------------------------------------------------------------------------------------------
# messages and keyboards


def pages(count: int) -> int:
    return max(1, -(-count // PAGE_SIZE))


def list_text(text: str) -> str:
    """A rule's text as a list line: a rule naming many tickers is cut, so that a page of
    :data:`PAGE_SIZE` stays within Telegram's 4,096 characters (its card shows it whole)."""
    return text if len(text) <= LIST_TEXT_MAX else text[: LIST_TEXT_MAX - 1] + "…"


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
        text = escape(list_text(row["text"]))
        lines.append(f"{number}. <code>{text}</code>\n      {status_line(row, snap, now)}")
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


@lru_cache(maxsize=1024)
def chartable(metric: str) -> bool:
    """Whether /chart draws ``metric`` (asked for every alert sent: cached, the answer never
    changes while the bot runs)."""
    # imported here: chart imports commands, which imports rule_buttons, which imports this module
    from bot.handlers.chart import ChartError, resolve_metric

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
