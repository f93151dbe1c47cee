"""Logging: one line per event; secrets never reach the log.

httpx logs every request URL and python-telegram-bot logs its API URL at DEBUG, and Telegram's
URLs carry the bot token. So the noisy loggers are quieted (PTB's own advice) and, whatever
handlers an operator or a test attaches, every log record is masked when it is created."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

MASK = "**********"
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler")

_secrets: set[str] = set()
_installed = False


def _mask(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, MASK)
    return text


def install_secret_masking(secrets: Iterable[str]) -> None:
    """Mask these strings in every log record from now on (a LogRecord factory, so it covers
    records before any handler or filter sees them)."""
    global _installed
    _secrets.update(s for s in secrets if s and len(s) >= 6)
    if _installed:
        return
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _secrets:
            try:
                message = record.getMessage()
            except Exception:  # a malformed record: leave it to logging's own error path
                return record
            masked = _mask(message)
            if masked != message:
                record.msg, record.args = masked, None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def quiet_secret_leaking_loggers() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    install_secret_masking(secrets)
    quiet_secret_leaking_loggers()
