"""Channels: `[[broadcast]]` entries of config.toml, and `/channel @name …` for the bot's admins.

A channel is one chat with its own rules, so it gets one message per event, never one per
subscriber. The config's rules are kept in step with the file at every start; rules added with
`/channel` stay until deleted.
"""

from __future__ import annotations

import logging
from html import escape

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.handlers.commands import add_rule_from_text, reply, rule_error_reply, rule_metric
from bot.handlers.reachable import never_fires
from bot.handlers.rule_buttons import PositionsError, chosen_positions, delete_and_forget, parse_positions
from bot.services import Services, services
from rules.grammar import RuleError, parse_rule
from rules.units import parse_chat_id
from storage import chats
from storage import rules as rule_store

logger = logging.getLogger(__name__)

CHANNEL_EXAMPLE = (
    "<code>/channel @mychannel alert retarget</code>, <code>/channel @mychannel alerts</code>, "
    "<code>/channel @mychannel delete 1</code>"
)


async def resolve_chat(app: Application, ref: str) -> tuple[int, str, str | None]:
    """(id, type, title) of ``@name`` or a numeric id, asked of Telegram."""
    number = parse_chat_id(ref)
    chat = await app.bot.get_chat(number if number is not None else ref)
    return chat.id, chat.type, chat.title or chat.username


async def sync_broadcasts(app: Application, svc: Services) -> None:
    """Bring every `[[broadcast]]` channel and its rules into the database."""
    for i, entry in enumerate(svc.settings.broadcast):
        try:
            chat_id, chat_type, title = await resolve_chat(app, entry.chat)
        except TelegramError as err:
            logger.warning(
                "broadcast[%d] %s: cannot reach the chat (%s); its rules wait for the next start. "
                "Add the bot to the channel as an administrator that may post.",
                i,
                entry.chat,
                err,
            )
            continue
        now = svc.clock()
        await svc.db(chats.ensure_chat, chat_id, chat_type, title, now)
        kinds = {text: rule_metric(parse_rule(text)) for text in entry.rules}
        for text in entry.rules:
            why_not = never_fires(parse_rule(text), svc.settings)
            if why_not is not None:
                logger.warning("broadcast[%d] %s: rule %r cannot fire: %s", i, entry.chat, text, why_not)
        added, removed = await svc.db(rule_store.sync_config_rules, chat_id, entry.rules, kinds, now)
        await svc.db(chats.update_settings, chat_id, now, pinned_status=entry.pinned_status)
        logger.info(
            "broadcast chat=%s rules=%d added=%d removed=%d", chat_id, len(entry.rules), added, removed
        )


async def cmd_channel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    if user.id not in svc.settings.telegram.admins:
        await reply(
            update,
            "❌ Only the bot's admins (<code>[telegram] admins</code> in config.toml) manage channels.",
        )
        return
    if chat.type != ChatType.PRIVATE:
        await reply(update, "❌ Manage channels from a private chat with the bot.")
        return
    text = update.effective_message.text if update.effective_message else ""
    parts = (text or "").split(maxsplit=3)
    if len(parts) < 3 or parts[2] not in ("alert", "alerts", "delete"):
        await reply(update, f"❌ Say which channel and what to do, for example: {CHANNEL_EXAMPLE}")
        return
    ref, action, rest = parts[1], parts[2], parts[3] if len(parts) > 3 else ""
    try:
        channel_id, channel_type, title = await resolve_chat(context.application, ref)
    except TelegramError as err:
        await reply(
            update,
            f"❌ I cannot reach {escape(ref)}: {escape(str(err), quote=False)}. "
            "Add the bot to it as an administrator first.",
        )
        return
    now = svc.clock()
    await svc.db(chats.ensure_chat, channel_id, channel_type, title, now)
    name = escape(ref)
    if action == "alerts":
        rows = await svc.db(rule_store.list_rules, channel_id)
        lines = [f"<b>Alerts in {name}</b> ({len(rows)})"]
        lines += [
            f"{i}. <code>{escape(r['text'])}</code>"
            + (" (config.toml)" if r.get("origin") == "config" else "")
            for i, r in enumerate(rows, start=1)
        ]
        await reply(update, "\n".join(lines) if rows else f"No alerts in {name} yet.")
        return
    if action == "delete":
        # the forms of /delete (numbers, ranges, all: the command itself is the confirmation for
        # a channel's admin); a rule's pause and snooze go with it, as in the chat itself
        try:
            spans = parse_positions(rest, f"/channel {name} delete")
            rows = await svc.db(rule_store.list_rules, channel_id)
            positions = chosen_positions(spans, len(rows)) if spans is not None else range(1, len(rows) + 1)
        except PositionsError as err:
            await reply(update, f"❌ {err}".replace("this chat has", f"{name} has"))
            return
        ids = [rows[p - 1]["id"] for p in positions]
        if not ids:
            await reply(update, f"No alerts in {name} to delete.")
            return
        deleted = await svc.db(delete_and_forget, channel_id, ids, svc.clock())
        texts = ", ".join(f"<code>{escape(r['text'])}</code>" for r in deleted.rows[:10])
        more = f" and {len(deleted.rows) - 10} more" if len(deleted.rows) > 10 else ""
        await reply(update, f"🗑 Deleted from {name}: {texts}{more}")
        return
    try:  # a refused rule's example in this command's own form: /channel @x alert …
        parse_rule(rest)
    except RuleError as err:
        await reply(update, rule_error_reply(err, f"/channel {ref} alert"))
        return
    await reply(update, await add_rule_from_text(svc, channel_id, rest, where=ref))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("channel", cmd_channel))
