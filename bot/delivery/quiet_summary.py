"""When a chat's quiet hours end, the alerts held meanwhile arrive as ONE summary (issue 7).

The pipeline queues alerts that fall in quiet hours as ``held`` outbox rows. Every minute the
``quiet:summary`` job looks at chats with held rows whose quiet hours are over (or were turned
off), takes the rows (:func:`storage.outbox.release_held` marks them ``summarised``) and queues a
summary, "While quiet: 3 alerts" and the first line of each, in the same transaction. Its outbox
key is derived from the first held row's key, which is summarised once and never held again, so
the summary is never queued twice, across restarts too. A long night is split into pages under
Telegram's 4,096 characters, at most :data:`MAX_PAGES` of them.

A chat muted meanwhile gets nothing (its held alerts are dropped); a chat snoozed meanwhile gets
its summary when the snooze ends.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database
from telegram.ext import ContextTypes

from bot.engine import routing
from bot.services import Services, services
from rules.chat_settings import ChatSettings
from rules.grammar import RuleError
from rules.quiet import in_quiet_hours, zone_or_utc
from storage import keys, outbox
from storage.clock import parse_iso

logger = logging.getLogger(__name__)

REASON = "quiet_summary"
TELEGRAM_MAX_CHARS = 4096
MAX_LINE_CHARS = 300  # per held alert
MAX_PAGES = 3  # a very long night is cut short rather than flooding a group (20 messages/min)
_TAG = re.compile(r"<[^>]+>")


def quiet_over(settings: ChatSettings, now: datetime) -> bool:
    """True when the chat is not in quiet hours now (or has none any more)."""
    if settings.quiet is None:
        return True
    try:
        return not in_quiet_hours(settings.quiet, now)
    except RuleError:  # a zone that no longer exists: release rather than hold forever
        logger.warning("unreadable quiet hours %r: releasing held alerts", settings.quiet)
        return True


def snoozed(settings: ChatSettings, now: datetime) -> bool:
    return settings.snooze_until is not None and now < settings.snooze_until


def first_line(text: str, max_chars: int = MAX_LINE_CHARS) -> str:
    """The alert's headline as safe HTML: tags dropped, cut to ``max_chars``, re-escaped."""
    line = html.unescape(_TAG.sub("", (text or "").strip().split("\n", 1)[0])).strip()
    if len(line) > max_chars:
        line = line[: max_chars - 1] + "…"
    return escape(line)


def summary_pages(
    rows: Sequence[Mapping[str, Any]],
    tz: ZoneInfo,
    now: datetime,
    limit: int = TELEGRAM_MAX_CHARS,
) -> list[str]:
    """ "While quiet: N alerts" and one line per held alert (local time + headline), split into
    pages under ``limit`` characters; past :data:`MAX_PAGES` the rest is counted, not listed."""
    n = len(rows)
    noun = "alert" if n == 1 else "alerts"
    items = []
    for row in rows:
        at = parse_iso(row.get("created_at"))
        when = f"{at.astimezone(tz):%H:%M} " if at else ""
        items.append(f"• {when}{first_line(row.get('text', ''))}")
    reserve = 80  # the header of each page and a possible "… and N more" line
    pages: list[list[str]] = [[]]
    size = 0
    for item in items:
        if pages[-1] and size + len(item) + 1 > limit - reserve:
            pages.append([])
            size = 0
        pages[-1].append(item)
        size += len(item) + 1
    shown = pages[:MAX_PAGES]
    left = n - sum(len(p) for p in shown)
    if left:
        shown[-1].append(f"… and {left} more")
    # the lines give clock times only: the header names their zone (CST, CEST…)
    zone_note = f" (times {now.astimezone(tz):%Z})" if items else ""
    out = []
    for i, page in enumerate(shown, start=1):
        header = f"🌙 <b>While quiet: {n} {noun}</b>{zone_note}"
        if len(shown) > 1:
            header += f" ({i}/{len(shown)})"
        out.append("\n".join([header, *page]))
    return out


def shown_zone(settings: ChatSettings) -> ZoneInfo:
    """Times in the summary: the chat's /tz when set, else its quiet hours' zone, else UTC."""
    chat_tz, quiet_tz = settings.tz, settings.quiet.tz if settings.quiet else None
    if (not chat_tz or chat_tz == "UTC") and quiet_tz:
        return zone_or_utc(quiet_tz)
    return zone_or_utc(chat_tz)


def queue_summaries(db: Database, now: datetime) -> int:
    """Summarise the held alerts of every chat whose quiet hours are over; return pages queued."""
    queued = 0
    for chat_id, chat_type, settings in outbox.chats_with_held(db):
        if not quiet_over(settings, now) or (snoozed(settings, now) and not settings.muted):
            continue
        with db.atomic():
            rows = outbox.release_held(db, chat_id, now)
            if not rows:
                continue
            if settings.muted:
                logger.info("quiet summary chat=%s dropped %d held alerts: muted", chat_id, len(rows))
                continue
            # a rule paused or snoozed since its alert was held says nothing now, as if sent live
            rows = [
                r
                for r in rows
                if not r["rule_id"] or routing.delivery_status(settings, r["rule_id"], True, now)
            ]
            if not rows:
                continue
            pages = summary_pages(rows, shown_zone(settings), now)
            for i, text in enumerate(pages):
                # created a microsecond apart, in page order, and all already due
                at = now - timedelta(microseconds=len(pages) - i)
                queued += outbox.enqueue(
                    db,
                    key=keys.quiet_summary_page(chat_id, rows[0]["key"], i),
                    chat_id=chat_id,
                    rule_id=None,
                    reason=REASON,
                    text=text,
                    now=at,
                    priority=outbox.priority_for(chat_type),
                )
            logger.info("quiet summary chat=%s alerts=%d pages=%d", chat_id, len(rows), len(pages))
    return queued


async def run_quiet_summaries(svc: Services) -> int:
    """The job's work: queue the summaries due now and send them at once."""
    queued = await svc.db(queue_summaries, svc.clock())
    if queued and svc.notifier is not None:
        await svc.notifier.drain()
    return queued


async def quiet_summary_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await run_quiet_summaries(services(context))
