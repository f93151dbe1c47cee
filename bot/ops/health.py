"""Source health as alerts for the operator (issue 8).

When a watcher has been failing for ``alerts.source_failing_after``, each admin in
``telegram.admins`` gets ONE message through the outbox ("Network data failing since 12:04 UTC:
HTTP 503"), and ONE more when it recovers. Never one per poll: the failing message's outbox key
is (watcher, failing_since, admin), so however many polls fail afterwards, and across restarts
(``failing_since`` is stored), the INSERT OR IGNORE of the outbox keeps it to one row. The
recovery's key is derived from the failing row's key, so it too is queued once, and only for an
episode that was announced: a blip shorter than ``source_failing_after`` says nothing at all.

:func:`decide` is pure; :func:`queue_failing` and :func:`queue_recovered` are the storage writes
(run on the database thread); :func:`on_poll` is the hook ``watch_job`` calls after each poll.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from html import escape
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from bot.delivery.messages import duration_text
from storage import chats, keys, outbox

if TYPE_CHECKING:
    from bot.engine.runner import PollOutcome
    from bot.ops.metrics import Metrics
    from bot.services import Services

logger = logging.getLogger(__name__)

REASON_FAILING = "source_failing"
REASON_RECOVERED = "source_recovered"
MAX_ERROR_CHARS = 300

WATCHER_LABELS = {
    "network": "Network data (difficulty, hashrate, fees, price)",
    "power": "ERCOT power prices",
    "filings": "SEC EDGAR filings",
}


class Notice(StrEnum):
    FAILING = "failing"
    RECOVERED = "recovered"


@dataclass(frozen=True, slots=True)
class HealthDecision:
    notice: Notice
    since: datetime | None  # the failing episode's start (FAILING); unknown at recovery (None)


def decide(
    *, ok: bool, failing_since: datetime | None, recovered: bool, now: datetime, failing_after_s: float
) -> HealthDecision | None:
    """What one poll outcome asks of the admins. FAILING is returned on every failed poll past the
    threshold (the outbox key makes it one message); RECOVERED on the first good poll after a
    failure (queued only if that failure was announced)."""
    if not ok:
        if failing_since is not None and now - failing_since >= timedelta(seconds=failing_after_s):
            return HealthDecision(Notice.FAILING, failing_since)
        return None
    if recovered:
        return HealthDecision(Notice.RECOVERED, None)
    return None


def watcher_label(watcher_id: str) -> str:
    return WATCHER_LABELS.get(watcher_id, watcher_id)


def _hhmm(dt: datetime, now: datetime, tz: tzinfo = UTC) -> str:
    """``12:04 UTC`` today, ``2024-03-30 12:04 UTC`` on another day: in the admin's zone."""
    dt, now = dt.astimezone(tz), now.astimezone(tz)
    return dt.strftime("%H:%M %Z" if dt.date() == now.date() else "%Y-%m-%d %H:%M %Z")


def failing_text(watcher_id: str, since: datetime, error: str | None, now: datetime, tz: tzinfo = UTC) -> str:
    err = (error or "unknown error").strip()
    if len(err) > MAX_ERROR_CHARS:
        err = err[: MAX_ERROR_CHARS - 1] + "…"
    down = duration_text((now - since).total_seconds())
    return (
        f"⚠️ <b>{escape(watcher_label(watcher_id))} failing</b> since {_hhmm(since, now, tz)}: {escape(err)}\n"
        f"Down for {down} so far. Alerts that depend on it are on hold; you will get one message when "
        f"it recovers."
    )


def recovered_text(
    watcher_id: str,
    failed_at: str | None,
    now: datetime,
    tz: tzinfo = UTC,
    down_since: datetime | None = None,
) -> str:
    lasted = ""
    if down_since is not None:
        lasted = f" after {duration_text((now - down_since).total_seconds())} down"
        lasted += f" (failing since {_hhmm(down_since, now, tz)})"
    elif failed_at:
        start = datetime.fromisoformat(failed_at)
        minutes = max(0, int((now - start).total_seconds() // 60))
        lasted = f" (reported failing at {_hhmm(start, now, tz)}, {minutes} min earlier)"
    return f"✅ <b>{escape(watcher_label(watcher_id))} recovered</b> at {_hhmm(now, now, tz)}{lasted}."


def admin_zone(db: Database, admin: int) -> tzinfo:
    """An admin's zone: their private chat's /tz (UTC until they set one)."""
    return chats.get_settings(db, admin).zone()


def failing_key(watcher_id: str, since: datetime, admin: int) -> str:
    return keys.source_failing(watcher_id, since, admin)


def queue_failing(
    db: Database, watcher_id: str, since: datetime, error: str | None, admins: Sequence[int], now: datetime
) -> int:
    """One failing message per admin for this episode (not one per metric or per poll), with the
    times in the admin's zone; 0 when already queued."""
    queued = 0
    with db.atomic():
        for admin in admins:
            queued += outbox.enqueue(
                db,
                key=failing_key(watcher_id, since, admin),
                chat_id=admin,
                rule_id=None,
                reason=f"{REASON_FAILING}:{watcher_id}",
                text=failing_text(watcher_id, since, error, now, admin_zone(db, admin)),
                now=now,
                priority=outbox.PRIORITY_PRIVATE,
            )
    return queued


def _last_announced(db: Database, watcher_id: str) -> list[dict[str, Any]]:
    """The failing rows (one per admin) of the watcher's most recently announced episode."""
    reason = f"{REASON_FAILING}:{watcher_id}"
    return outbox.latest_with_reason(db, reason)


def queue_recovered(db: Database, watcher_id: str, now: datetime, down_since: datetime | None = None) -> int:
    """One recovered message per admin told of the last failing episode; 0 when that episode
    was never announced or its recovery is already queued. ``down_since``: the episode's start."""
    queued = 0
    with db.atomic():
        for row in _last_announced(db, watcher_id):
            queued += outbox.enqueue(
                db,
                key=keys.source_recovered(row["key"]),
                chat_id=row["chat_id"],
                rule_id=None,
                reason=f"{REASON_RECOVERED}:{watcher_id}",
                text=recovered_text(
                    watcher_id, row["created_at"], now, admin_zone(db, row["chat_id"]), down_since
                ),
                now=now,
                priority=outbox.PRIORITY_PRIVATE,
            )
    return queued


async def on_poll(svc: Services, outcome: PollOutcome) -> tuple[Notice | None, int]:
    """The watch_job hook: queue what the outcome asks for; return (notice, rows queued)."""
    now = svc.clock()
    decision = decide(
        ok=outcome.ok,
        failing_since=outcome.failing_since,
        recovered=outcome.recovered,
        now=now,
        failing_after_s=svc.settings.alerts.source_failing_after,
    )
    if decision is None:
        return None, 0
    admins = list(svc.settings.telegram.admins)
    if decision.notice is Notice.FAILING:
        assert decision.since is not None
        if not admins:
            return decision.notice, 0
        queued = await svc.db(queue_failing, outcome.watcher_id, decision.since, outcome.error, admins, now)
        if queued:
            logger.warning(
                "watcher=%s failing since %s: told %d admin(s)", outcome.watcher_id, decision.since, queued
            )
        return decision.notice, queued
    queued = await svc.db(queue_recovered, outcome.watcher_id, now, outcome.failing_since)
    if queued:
        logger.info("watcher=%s recovered: told %d admin(s)", outcome.watcher_id, queued)
    return decision.notice, queued


async def after_poll(svc: Services, metrics: Metrics, outcome: PollOutcome) -> int:
    """What ``watch_job`` calls after each poll: count it, then tell the admins if due.
    Returns how many health messages were queued (the caller drains at once if any)."""
    metrics.observe_poll(
        outcome.watcher_id,
        ok=outcome.ok,
        observations=outcome.observations,
        queued=outcome.queued,
        errors=outcome.errors,
    )
    notice, queued = await on_poll(svc, outcome)
    if notice is not None and queued:
        metrics.health_notices.labels(outcome.watcher_id, str(notice)).inc(queued)
    return queued
