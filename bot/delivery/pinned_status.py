"""The opt-in pinned status of a channel (`[[broadcast]] pinned_status = true`): one message with
the /status numbers, pinned once and then edited in place, instead of a new post every time.

It is state, not an alert: a failed edit is simply tried again at the next run, and a message
that was deleted by the channel's admins is posted and pinned anew."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.handlers.chat_commands import status_text
from bot.services import services
from storage import chats, observations, outbox

logger = logging.getLogger(__name__)
PACED = {"bulk": True, "priority": outbox.PRIORITY_CHANNEL}  # edits count toward a channel's 20/min


async def refresh_pinned_status(context: ContextTypes.DEFAULT_TYPE) -> int:
    """Post or edit each opted-in chat's pinned status; return how many messages changed."""
    svc = services(context)
    bot = context.bot
    changed = 0
    snapshot = await svc.db(observations.latest_all)
    if not snapshot:
        return 0
    for chat_id, settings in await svc.db(chats.pinned_status_chats):
        # "as of 10:05 CST", never "3 min ago": the message is edited only when its text changes,
        # so a relative age would freeze and go on claiming freshness
        text = status_text(
            snapshot,
            settings,
            svc.clock(),
            ZoneInfo(settings.tz),
            stale_after_s=svc.settings.alerts.stale_after,
            as_of=True,
        )
        if text == settings.pinned_text:
            continue  # unchanged: editing would only earn "message is not modified"
        message_id = settings.pinned_message_id
        try:
            if message_id is not None:
                try:
                    await bot.edit_message_text(
                        text,
                        chat_id=chat_id,
                        message_id=message_id,
                        parse_mode=ParseMode.HTML,
                        rate_limit_args=PACED,
                    )
                except BadRequest as err:
                    if "not found" not in err.message.lower():
                        raise
                    message_id = None  # deleted by the channel's admins: post it again
            if message_id is None:
                message = await bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    disable_notification=True,
                    rate_limit_args=PACED,
                )
                message_id = message.message_id
                await bot.pin_chat_message(chat_id, message_id, disable_notification=True)
        except TelegramError as err:
            logger.warning("pinned status chat=%s not updated: %s", chat_id, err)
            continue
        await svc.db(
            chats.update_settings, chat_id, svc.clock(), pinned_message_id=message_id, pinned_text=text
        )
        changed += 1
    return changed


async def pinned_status_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await refresh_pinned_status(context)
