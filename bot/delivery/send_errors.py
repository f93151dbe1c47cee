"""What to do when Telegram refuses a message: one pure function (Alertmanager's
recoverable/permanent split; conventions §7). Order matters: BadRequest and ChatMigrated are
subclasses of NetworkError in python-telegram-bot, so they are checked first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 300.0


class Action(StrEnum):
    RETRY_AFTER = "retry_after"  # Telegram told us when: wait exactly that long
    BACKOFF = "backoff"  # transient: exponential backoff
    MIGRATE = "migrate"  # group became a supergroup: move the chat, resend at once
    DEACTIVATE = "deactivate"  # blocked / kicked: stop sending to this chat
    DROP = "drop"  # permanent (bad request): do not retry


@dataclass(frozen=True, slots=True)
class SendVerdict:
    action: Action
    delay_s: float = 0.0
    new_chat_id: int | None = None
    reason: str = ""


def backoff_s(attempts: int) -> float:
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts))


def classify(exc: BaseException, attempts: int) -> SendVerdict:
    if isinstance(exc, RetryAfter):
        ra = exc.retry_after
        delay = ra.total_seconds() if isinstance(ra, timedelta) else float(ra)
        return SendVerdict(Action.RETRY_AFTER, delay_s=delay, reason=f"429 retry after {delay:g}s")
    if isinstance(exc, ChatMigrated):
        return SendVerdict(Action.MIGRATE, new_chat_id=exc.new_chat_id, reason="chat migrated")
    if isinstance(exc, Forbidden):
        return SendVerdict(Action.DEACTIVATE, reason=f"403 {exc.message}")
    if isinstance(exc, BadRequest):
        if "chat not found" in exc.message.lower():
            return SendVerdict(Action.DEACTIVATE, reason=f"400 {exc.message}")
        return SendVerdict(Action.DROP, reason=f"400 {exc.message}")
    if isinstance(exc, TimedOut | NetworkError):
        return SendVerdict(Action.BACKOFF, delay_s=backoff_s(attempts), reason=f"network: {exc}")
    return SendVerdict(Action.BACKOFF, delay_s=backoff_s(attempts), reason=f"{type(exc).__name__}: {exc}")
