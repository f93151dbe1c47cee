"""Routing (Alertmanager's inhibit/silence step): a chat's mute, snooze and quiet hours decide
whether an alert is sent now, held for the quiet-hours summary, or dropped; then it is queued."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from rules.quiet import QuietHours, in_quiet_hours
from storage import outbox
from storage.clock import parse_iso

logger = logging.getLogger(__name__)


def delivery_status(settings: Mapping[str, Any], rule_id: int, severe: bool, now: datetime) -> str | None:
    """How a chat wants this alert now: 'pending' (send), 'held' (quiet hours) or None (drop:
    muted or snoozed). Severe rules (written with a leading '!') pass quiet hours."""
    if settings.get("muted"):
        return None
    until = parse_iso(settings.get("snooze_until"))
    if until and now < until:
        return None
    rule_until = parse_iso((settings.get("snooze_rules") or {}).get(str(rule_id)))
    if rule_until and now < rule_until:
        return None
    quiet = settings.get("quiet")
    if quiet and not severe:
        q = QuietHours(
            start=datetime.strptime(quiet["start"], "%H:%M").time(),
            end=datetime.strptime(quiet["end"], "%H:%M").time(),
            tz=quiet.get("tz", "UTC"),
        )
        if in_quiet_hours(q, now):
            return outbox.HELD
    return outbox.PENDING


def queue_alert(
    db: Database, row: Mapping[str, Any], key: str, reason: str, text: str, severe: bool, now: datetime
) -> int:
    settings = json.loads(row.get("chat_settings") or "{}")
    status = delivery_status(settings, row["id"], severe, now)
    if status is None:
        logger.info("dropped chat=%s rule=%s reason=%s (muted or snoozed)", row["chat_id"], row["id"], reason)
        return 0
    queued = outbox.enqueue(
        db,
        key=key,
        chat_id=row["chat_id"],
        rule_id=row["id"],
        reason=reason,
        text=text,
        now=now,
        priority=outbox.priority_for(row.get("chat_type")),
        status=status,
    )
    if queued:
        logger.info("queued chat=%s rule=%s reason=%s status=%s", row["chat_id"], row["id"], reason, status)
    return int(queued)
