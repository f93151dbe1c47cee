"""How updates are processed: chats side by side, each chat in order.

python-telegram-bot handles one update at a time by default, so a reply that must wait for its
group's 20-a-minute window (bot/delivery/pacer.py) would hold every other chat's command for up
to a minute, and 300 users commanding at once would be answered one round trip after another.
Fully concurrent processing would answer a chat's ``/alert`` and ``/alerts`` in any order. So:
updates of different chats run concurrently (up to ``max_concurrent``), those of one chat (or
without a chat) one after the other, in arrival order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


def chat_key(update: object) -> int | None:
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None


class PerChatUpdates(BaseUpdateProcessor):
    def __init__(self, max_concurrent: int = 256) -> None:
        super().__init__(max_concurrent)
        self._locks: dict[int | None, tuple[asyncio.Lock, int]] = {}  # chat -> (lock, users)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            try:
                await lock.acquire()  # asyncio.Lock is fair: the chat's updates keep their order
            except asyncio.CancelledError:
                if isinstance(coroutine, Coroutine):
                    coroutine.close()  # stopped before its turn: never started, nothing to await
                raise
            try:
                await coroutine
            finally:
                lock.release()
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]  # bounded: only chats with an update in flight
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
