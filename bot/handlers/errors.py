"""The one error path of the handlers."""

from __future__ import annotations

import logging
from html import escape

from telegram import Update
from telegram.error import RetryAfter
from telegram.ext import ContextTypes

logger = logging.getLogger(__name__)


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one error path: log with the traceback; tell the user something went wrong."""
    if isinstance(context.error, RetryAfter):
        # Telegram's window is full (the pacer already paused and retried): a message saying so
        # would go into the same full window. Log only.
        logger.warning("reply dropped after repeated 429s: %s", context.error)
        return
    logger.error("unhandled error: %s", context.error, exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(
                "⚠️ Something went wrong on our side; the operator has the details. Please try again."
            )
        except Exception as exc:  # the report itself failed: log, never loop
            logger.warning("could not tell the user about an error: %s", escape(str(exc)))
