"""Who may change a chat's alerts: anyone in a private chat; in groups only administrators
(asked of Telegram, cached for five minutes); the bot's configured admins everywhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import ContextTypes

from bot.services import services

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


async def is_chat_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Private chats: always. Groups: the sender must be an administrator (asked of Telegram,
    cached for five minutes). Configured bot admins may always."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    if user is None:
        return False
    if user.id in services(context).settings.telegram.admins:
        return True
    cache = services(context).admin_cache
    cached = cache.get(chat.id, user.id)
    if cached is not None:
        return cached
    member = await context.bot.get_chat_member(chat.id, user.id)
    ok = member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
    cache.put(chat.id, user.id, ok)
    return ok


def admin_only(handler: Handler) -> Handler:
    async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await is_chat_admin(update, context):
            if update.effective_message is not None:
                await update.effective_message.reply_text(
                    "❌ Only this group's administrators can change its alerts and settings.", do_quote=False
                )
            return
        await handler(update, context)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded
