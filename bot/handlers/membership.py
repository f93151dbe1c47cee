"""Chat lifecycle from Telegram's own updates: a user blocking the bot or a group removing it
marks the chat inactive (its rules stop costing anything); unblocking or re-adding reactivates
it; a group upgraded to a supergroup moves its rules to the new id."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.ext import Application, ChatMemberHandler, ContextTypes, MessageHandler, filters

from bot.services import services
from storage import chats

logger = logging.getLogger(__name__)

GONE = {ChatMember.LEFT, ChatMember.BANNED}  # "left" and "kicked"


async def on_my_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    change = update.my_chat_member
    if change is None:
        return
    svc = services(context)
    chat, now = change.chat, svc.clock()
    new_status = change.new_chat_member.status
    if new_status in GONE:
        await svc.db(chats.ensure_chat, chat.id, chat.type, chat.title or chat.full_name, now)
        await svc.db(chats.set_active, chat.id, False, now)
        logger.info("chat=%s inactive: bot %s", chat.id, new_status)
    else:
        await svc.db(chats.ensure_chat, chat.id, chat.type, chat.title or chat.full_name, now)
        logger.info("chat=%s active: bot is %s", chat.id, new_status)


async def remember_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every command first records its chat (and reactivates it: the user is talking to us
    again), so no command ever writes settings or rules for a chat the database lacks."""
    chat = update.effective_chat
    if chat is None:
        return
    svc = services(context)
    title = chat.title or chat.username or chat.full_name
    await svc.db(chats.ensure_chat, chat.id, chat.type, title, svc.clock())


async def on_migrate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or message.migrate_to_chat_id is None:
        return
    svc = services(context)
    await svc.db(chats.migrate_chat, message.chat.id, message.migrate_to_chat_id, svc.clock())
    logger.info("chat=%s migrated to %s", message.chat.id, message.migrate_to_chat_id)


def register(app: Application) -> None:
    # group -1 runs before the command handlers (group 0) for the same update
    app.add_handler(MessageHandler(filters.COMMAND, remember_chat), group=-1)
    app.add_handler(ChatMemberHandler(on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, on_migrate))
