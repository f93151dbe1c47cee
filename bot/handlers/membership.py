"""Chat lifecycle from Telegram's own updates: a user blocking the bot or a group removing it
marks the chat inactive (its rules stop costing anything); unblocking or re-adding reactivates
it; a group upgraded to a supergroup moves its rules to the new id. A group that adds the bot gets
a short welcome telling its administrators how to add alerts."""

from __future__ import annotations

import logging
from html import escape

from telegram import ChatMember, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import Application, ChatMemberHandler, ContextTypes, MessageHandler, filters

from bot.services import services
from storage import chats

logger = logging.getLogger(__name__)

GONE = {ChatMember.LEFT, ChatMember.BANNED}  # "left" and "kicked"
GROUPS = {ChatType.GROUP, ChatType.SUPERGROUP}  # channels get no welcome: every subscriber would see it


def group_welcome(bot_username: str) -> str:
    """Said once when a group adds the bot. In a group, commands carry the bot's name
    (``/alert@Name``) so they reach this bot and no other; the name is the bot's real one."""
    me = escape(bot_username)
    return (
        "👋 <b>MinerWatch</b> is here: it tells this group when Bitcoin mining numbers cross your "
        "thresholds.\n"
        f"Administrators add alerts, e.g. <code>/alert@{me} hashprice &lt; 45</code> or "
        f"<code>/alert@{me} retarget</code>; /start@{me} offers one-tap presets.\n"
        f"Everyone can use /status@{me} and /alerts@{me}; /help@{me} lists all."
    )


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
        # Only on joining (not on a promotion to administrator, which also arrives here).
        if chat.type in GROUPS and change.old_chat_member.status in GONE:
            await context.bot.send_message(
                chat.id, group_welcome(context.bot.username or ""), parse_mode=ParseMode.HTML
            )


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
