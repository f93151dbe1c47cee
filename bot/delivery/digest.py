"""The daily digest for chats with a ``digest HH:MM`` rule (issue 7).

Every minute the ``digest`` job asks :func:`due_digests` which chats' digests are due in their own
time zone (``chats.tz``, wall clock, DST-safe through :func:`rules.quiet.digest_due`). Each due
digest (the /status text plus the last 24 hours' alerts: how many, and the newest ones' headlines)
is queued through the OUTBOX under
the idempotency key (chat, "digest", local date): once per local day, however often the job runs
and across restarts. A digest set today after its time first arrives tomorrow.

A digest is something the chat scheduled, so it comes through quiet hours; it respects /mute and
/snooze (all alerts, or the digest rule's own) and goes out later the same day once they end.

After the digest text is confirmed sent, the chat also gets the hashprice chart of the last 7 days
as a photo, sent directly (not through the outbox: a photo that fails is logged and not retried,
the text has already arrived).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database
from telegram import Bot
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.delivery.grid_messages import GRID_WATCHER_ID, grid_digest_lines
from bot.delivery.messages import truncate
from bot.delivery.quiet_summary import first_line
from bot.engine.routing import delivery_status
from bot.engine.rule_eval import cached_rule
from bot.handlers.chat_commands import status_text
from bot.render.chart_data import chat_thresholds
from bot.render.charts import ChartData, chart_png
from bot.services import Services, services
from rules.catalogue import POWER_POINTS, format_value
from rules.chat_settings import ChatSettings
from rules.fourcp import FourCpConfig
from rules.grammar import RuleError
from rules.model import EventRule
from rules.quiet import digest_due, zone_or_utc
from storage import chats, keys, observations, outbox, watcher_state
from storage import rules as rule_store
from storage.clock import parse_iso

logger = logging.getLogger(__name__)

REASON = "digest"
METRIC = "event:digest"
ALERTS_WINDOW = timedelta(hours=24)
CHART_DAYS = 7
# Outbox reasons that are alerts a chat received (not digests, summaries or operator notices),
# with how the digest counts them: (one, several).
ALERT_REASONS = {
    "firing": ("firing", "firing"),
    "repeat": ("repeat", "repeats"),
    "resolved": ("resolved", "resolved"),
    "no_data": ("no data", "no data"),
    "event": ("event", "events"),
}
MAX_LISTED = 10  # the newest alerts the digest lists; older ones are counted ("and 3 more")
LISTED_LINE_CHARS = 160  # each listed alert's headline, cut


@dataclass(frozen=True)
class AlertsSeen:
    """The alerts a chat was sent in the digest's window: counts by reason and the newest ones."""

    counts: Mapping[str, int]
    recent: Sequence[Mapping[str, Any]] = ()  # outbox rows (created_at, reason, text), oldest first


def plural(n: int, one: str, several: str | None = None) -> str:
    """ "1 alert", "2 alerts", "0 alerts"."""
    return f"{n} {one if n == 1 else (several or one + 's')}"


@dataclass(frozen=True)
class DueDigest:
    chat_id: int
    rule_id: int
    at: str  # "HH:MM" local
    tz: str  # IANA zone of the chat
    local_date: date
    key: str  # outbox idempotency key: (chat, "digest", local date)
    chat_type: str | None = None


def digest_key(chat_id: int, local_date: date) -> str:
    return keys.digest(chat_id, local_date)


def _zone_name(name: str | None) -> str:
    return zone_or_utc(name).key


def due_digests(db: Database, now: datetime) -> list[DueDigest]:
    """The digests due now, at most one per chat, none already queued for the chat's local day.

    "Last sent" for :func:`digest_due` is the later of the chat's last digest and the rule's own
    creation, so a rule set after today's time waits for tomorrow."""
    out: list[DueDigest] = []
    seen: set[int] = set()
    for row in rule_store.rules_for_metric(db, METRIC):
        chat_id = row.chat_id
        if chat_id in seen:
            continue
        try:
            rule = cached_rule(row.text)
        except RuleError:
            logger.warning("unreadable digest rule=%s text=%r", row.id, row.text)
            continue
        if not isinstance(rule, EventRule) or rule.event != "digest" or rule.at is None:
            continue
        tz = _zone_name(row.tz)
        last = max(
            (t for t in (outbox.last_created(db, chat_id, REASON), row.created_at) if t is not None),
            default=None,
        )
        if not digest_due(rule.at, tz, last, now):
            continue
        local_date = now.astimezone(ZoneInfo(tz)).date()
        key = digest_key(chat_id, local_date)
        if outbox.exists(db, key):
            continue  # today's is queued already (another digest rule, or a changed time)
        seen.add(chat_id)
        out.append(DueDigest(chat_id, row.id, rule.at, tz, local_date, key, row.chat_type))
    return out


def alert_counts(db: Database, chat_id: int, since: datetime) -> dict[str, int]:
    """Alerts queued for the chat since ``since`` by reason (held and summarised ones included)."""
    return outbox.count_by_reason(db, chat_id, since, list(ALERT_REASONS))


def alerts_seen(db: Database, chat_id: int, since: datetime) -> AlertsSeen:
    reasons = list(ALERT_REASONS)
    return AlertsSeen(
        alert_counts(db, chat_id, since), outbox.recent_by_reason(db, chat_id, since, reasons, MAX_LISTED)
    )


def alerts_part(seen: AlertsSeen, tz: ZoneInfo) -> str:
    """ "In the last 24 h: 3 alerts (2 firing, 1 resolved)" and one line per alert (its local time
    and headline), the newest :data:`MAX_LISTED`, then "… and N more" for the rest."""
    total = sum(seen.counts.values())
    if not total:
        return "No alerts in the last 24 h."
    parts = ", ".join(
        plural(n, *ALERT_REASONS[r]) for r, n in sorted(seen.counts.items()) if n and r in ALERT_REASONS
    )
    lines = [f"In the last 24 h: <b>{plural(total, 'alert')}</b> ({parts})"]
    for row in seen.recent:
        at = parse_iso(row.get("created_at"))
        when = f"{at.astimezone(tz):%a %H:%M} " if at else ""
        lines.append(f"• {when}{first_line(str(row.get('text') or ''), LISTED_LINE_CHARS)}")
    more = total - len(seen.recent)
    if more > 0:
        lines.append(f"… and {more} more")
    return "\n".join(lines)


def digest_text(
    snapshot: Mapping[str, dict[str, Any]],
    settings: ChatSettings,
    seen: AlertsSeen | Mapping[str, int],
    now: datetime,
    tz: ZoneInfo,
    grid: Sequence[str] = (),
) -> str:
    """Header, the /status text, ERCOT grid lines (``grid``, for a chat with a Texas hub), the
    last 24 hours' alerts (``seen``; bare counts list none); within Telegram's 4,096."""
    local = now.astimezone(tz)
    lines = [f"☀️ <b>Daily digest</b> · {local:%a %d %b %Y}, {local:%H:%M} {escape(tz.key)}"]
    if snapshot:
        lines.append(status_text(dict(snapshot), settings, now, tz))
    else:
        lines.append("No data yet: the watchers have not reported.")
    if grid:
        lines.append("\n".join(grid))
    lines.append(alerts_part(seen if isinstance(seen, AlertsSeen) else AlertsSeen(seen), tz))
    return truncate("\n\n".join(lines))


def _grid_lines(
    db: Database, settings: ChatSettings, grid_cfg: FourCpConfig | None, now: datetime, tz: ZoneInfo
) -> list[str]:
    """4CP in season and a grid condition in force, for a chat whose hub is an ERCOT point."""
    if grid_cfg is None or not settings.hub or settings.hub.lower() not in POWER_POINTS:
        return []
    state = watcher_state.load_state(db, GRID_WATCHER_ID)
    return grid_digest_lines(state, grid_cfg, now, tz)


def queue_digests(db: Database, now: datetime, grid_cfg: FourCpConfig | None = None) -> list[DueDigest]:
    """Queue every due digest (one transaction); return those newly queued. ``grid_cfg``: the
    4CP settings when the ERCOT grid watcher runs (chats with a Texas hub then hear of it)."""
    queued: list[DueDigest] = []
    with db.atomic():
        due = due_digests(db, now)
        if not due:
            return queued
        snapshot = observations.latest_all(db)
        for d in due:
            settings = chats.get_settings(db, d.chat_id)
            if delivery_status(settings, d.rule_id, True, now) is None:
                logger.debug("digest chat=%s waits: muted or snoozed", d.chat_id)
                continue
            seen = alerts_seen(db, d.chat_id, now - ALERTS_WINDOW)
            grid = _grid_lines(db, settings, grid_cfg, now, ZoneInfo(d.tz))
            text = digest_text(snapshot, settings, seen, now, ZoneInfo(d.tz), grid)
            if outbox.enqueue(
                db,
                key=d.key,
                chat_id=d.chat_id,
                rule_id=d.rule_id,
                reason=REASON,
                text=text,
                now=now,
                priority=outbox.priority_for(d.chat_type),
            ):
                logger.info("digest queued chat=%s date=%s", d.chat_id, d.local_date)
                queued.append(d)
    return queued


def _chart_data(db: Database, chat_id: int, tz: str, since: datetime) -> ChartData:
    points = observations.history(db, "hashprice", since)
    return ChartData("hashprice", points, chat_thresholds(db, chat_id, "hashprice"), ZoneInfo(tz))


async def send_charts(svc: Services, bot: Bot, digests: list[DueDigest]) -> int:
    """The 7-day hashprice chart for each digest already delivered; one render per distinct
    (time zone, thresholds). Returns how many photos Telegram accepted."""
    delivered = await svc.db(outbox.sent_keys, [d.key for d in digests])
    since = svc.clock() - timedelta(days=CHART_DAYS)
    rendered: dict[tuple[str, tuple[Any, ...]], bytes] = {}
    photos = 0
    for d in digests:
        if d.key not in delivered:
            continue  # the text is still waiting (rate limit, retry): no photo ahead of it
        data = await svc.db(_chart_data, d.chat_id, d.tz, since)
        if len(data.points) < 2:
            continue
        cache_key = (d.tz, tuple(data.thresholds))
        if cache_key not in rendered:
            rendered[cache_key] = await chart_png(data, f"Hashprice (hashprice), last {CHART_DAYS}d")
        now_value = escape(format_value("hashprice", data.points[-1][1]))
        caption = f"Hashprice, last {CHART_DAYS} days: now <b>{now_value}</b>"
        try:
            await bot.send_photo(
                chat_id=d.chat_id,
                photo=rendered[cache_key],
                caption=caption,
                parse_mode=ParseMode.HTML,
                filename=f"hashprice-{CHART_DAYS}d.png",
            )
            photos += 1
        except Exception as exc:  # a photo is a bonus: log it, never retry, never break the job
            logger.warning("digest chart chat=%s not sent: %s", d.chat_id, exc)
    return photos


async def run_digests(svc: Services, bot: Bot) -> list[DueDigest]:
    """The job's work: queue due digests, drain them, then add the charts. Returns those queued."""
    grid = svc.settings.watchers.grid
    queued = await svc.db(queue_digests, svc.clock(), grid.fourcp() if grid.enabled else None)
    if queued and svc.notifier is not None:
        await svc.notifier.drain()
        await send_charts(svc, bot, queued)
    return queued


async def digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await run_digests(services(context), context.bot)
