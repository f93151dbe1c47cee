"""Routing (Alertmanager's inhibit/silence step): a chat's mute, snooze and quiet hours decide
whether an alert is sent now, held for the quiet-hours summary, or dropped; then it is queued."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlite_utils import Database

from rules.chat_settings import ChatSettings
from rules.quiet import in_quiet_hours
from storage import outbox
from storage.rules import RuleRow

logger = logging.getLogger(__name__)


def delivery_status(settings: ChatSettings, rule_id: int, severe: bool, now: datetime) -> str | None:
    """How a chat wants this alert now: 'pending' (send), 'held' (quiet hours) or None (drop:
    muted, snoozed or the rule paused). Severe rules (written with a leading '!') pass quiet hours."""
    if settings.muted or settings.rule_paused(rule_id):
        return None
    if settings.snooze_until and now < settings.snooze_until:
        return None
    rule_until = settings.rule_snoozed_until(rule_id)
    if rule_until and now < rule_until:
        return None
    if settings.quiet and not severe and in_quiet_hours(settings.quiet, now):
        return outbox.HELD
    return outbox.PENDING


def queue_alert(
    db: Database, row: RuleRow, key: str, reason: str, text: str, severe: bool, now: datetime
) -> int:
    status = delivery_status(row.settings, row.id, severe, now)
    if status is None:
        logger.info("dropped chat=%s rule=%s reason=%s (muted, snoozed, paused)", row.chat_id, row.id, reason)
        return 0
    queued = outbox.enqueue(
        db,
        key=key,
        chat_id=row.chat_id,
        rule_id=row.id,
        reason=reason,
        text=text,
        now=now,
        priority=outbox.priority_for(row.chat_type),
        status=status,
    )
    if queued:
        logger.info("queued chat=%s rule=%s reason=%s status=%s", row.chat_id, row.id, reason, status)
    return int(queued)
