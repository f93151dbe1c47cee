"""Drains the outbox to Telegram. Each batch is claimed in the database first (storage/outbox.py:
one UPDATE moves due rows to 'sending' under this drain's token), so two drains, two jobs or two
processes never send the same row. A row is marked sent only after Telegram returns the Message;
a crash in between re-sends at most that one message after restart (the next drain releases a
dead process's claims)."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database
from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode

from bot.delivery.send_errors import Action, classify
from bot.engine.dbworker import DbWorker
from storage import chats, outbox
from storage import rules as rule_store

logger = logging.getLogger(__name__)

Markups = Callable[[Mapping[int, tuple[str, str]], list[dict[str, Any]]], Mapping[str, Any]]


class Notifier:
    def __init__(
        self,
        bot: Bot,
        db: DbWorker,
        clock: Callable[[], datetime],
        *,
        batch: int = 200,
        max_attempts: int = 20,
        on_sent: Callable[[dict[str, Any]], None] | None = None,
        on_failed: Callable[[dict[str, Any], str], None] | None = None,
        allow_paid_broadcast: bool = False,
        markups: Markups | None = None,
    ) -> None:
        self.bot = bot
        self.db = db
        self.clock = clock
        self.batch = batch
        self.max_attempts = max_attempts
        self.on_sent = on_sent  # hooks for metrics: (row) and (row, action)
        self.on_failed = on_failed
        self.allow_paid_broadcast = allow_paid_broadcast
        # Buttons under a rule's alerts, built at send time from the row's rule_id (the outbox
        # keeps text only): ({rule id: (text, metric)}, rows) -> {outbox key: reply markup}.
        self.markups = markups
        self.owner = outbox.process_owner()

    async def drain(self) -> int:
        """Send every due row, batch after batch, until none is due; return how many were
        confirmed sent. Each batch is claimed in priority order, so a private alert queued while
        a channel broadcast drains goes out with the next batch, not after the broadcast."""
        sent = 0
        await self.db(release_dead_claims, self.owner)
        while True:
            token, rows = await self.db(outbox.claim_due, self.clock(), self.batch, self.owner)
            if not rows:
                break
            # One task per chat keeps each chat's messages in order; chats go side by side so one
            # slow chat never holds the others. The pacer (bot/delivery/pacer.py) paces the whole.
            per_chat: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
            for row in rows:
                per_chat.setdefault(row["chat_id"], []).append(row)
            try:
                markups = await self._markups(rows)  # inside: a failure here still releases the claim
                results = await asyncio.gather(
                    *(self._send_chat(token, rs, markups) for rs in per_chat.values())
                )
            finally:
                # what a chat was told to leave for later goes back to pending
                await self.db(outbox.release_claim, token)
            sent += sum(results)
        return sent

    async def _markups(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The buttons of a batch: one query for the rules of all its rows."""
        ids = sorted({row["rule_id"] for row in rows if row.get("rule_id")})
        if self.markups is None or not ids:
            return {}
        return self.markups(await self.db(rule_store.rule_labels, ids), rows)

    async def _send_chat(
        self, token: str, rows: list[dict[str, Any]], markups: Mapping[str, Any] | None = None
    ) -> int:
        """Send one chat's claimed rows in order; return how many went out."""
        sent = 0
        for row in rows:
            verdict_stop = await self._send_one(token, row, (markups or {}).get(row["key"]))
            if verdict_stop is None:
                sent += 1
            elif verdict_stop:
                break  # this chat is blocked or waiting: leave its later rows for the next drain
        return sent

    async def _send_one(self, token: str, row: dict[str, Any], markup: Any = None) -> bool | None:
        """None when sent; True when the chat's remaining rows should wait; False to go on."""
        key, chat_id = row["key"], row["chat_id"]
        try:
            message = await self.bot.send_message(
                chat_id=chat_id,
                text=row["text"],
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                rate_limit_args={"bulk": True, "priority": row["priority"]},
                allow_paid_broadcast=self.allow_paid_broadcast or None,
                reply_markup=markup,
            )
        except Exception as exc:  # classified below; anything unknown backs off
            return await self._handle_failure(token, row, exc)
        if not await self.db(outbox.mark_sent, key, token, message.message_id, self.clock()):
            logger.error("sent outbox=%s but its claim was gone: it may have been sent twice", key)
        logger.info("sent outbox=%s chat=%s rule=%s reason=%s", key, chat_id, row["rule_id"], row["reason"])
        if self.on_sent:
            self.on_sent(row)
        return None

    async def _handle_failure(self, token: str, row: dict[str, Any], exc: BaseException) -> bool:
        key, chat_id, attempts = row["key"], row["chat_id"], row["attempts"]
        verdict = classify(exc, attempts)
        now = self.clock()
        if self.on_failed:
            self.on_failed(row, str(verdict.action))
        logger.warning(
            "send failed outbox=%s chat=%s attempt=%d action=%s reason=%s",
            key,
            chat_id,
            attempts + 1,
            verdict.action,
            verdict.reason,
        )
        if verdict.action is Action.MIGRATE and verdict.new_chat_id is not None:
            await self.db(chats.migrate_chat, chat_id, verdict.new_chat_id, now)
            return True  # the rows now carry the new id; the next drain re-sends them there
        if verdict.action is Action.DEACTIVATE:
            await self.db(chats.set_active, chat_id, False, now)
            await self.db(outbox.fail_chat, chat_id, verdict.reason)
            return True
        if verdict.action is Action.DROP or attempts + 1 >= self.max_attempts:
            await self.db(outbox.mark_failed, key, token, verdict.reason)
            return False
        await self.db(outbox.mark_retry, key, token, now + timedelta(seconds=verdict.delay_s), verdict.reason)
        return True


def release_dead_claims(db: Database, own: str) -> int:
    """Rows claimed by processes that no longer run go back to pending (kill -9 mid-send)."""
    released = 0
    for owner in outbox.claim_owners(db):
        if owner != own and not outbox.owner_alive(owner):
            n = outbox.release_owner(db, owner)
            logger.warning("released %d outbox rows claimed by %s, which no longer runs", n, owner)
            released += n
    return released
