"""Telegram's limits, with priorities: one dispatcher for every send (a python-telegram-bot
``BaseRateLimiter``).

Why not ``AIORateLimiter`` as is: it puts every request behind one shared leaky bucket, so a
reply to ``/status`` waits behind thousands of queued alerts (python-telegram-bot #3689), and a
gather-style broadcast overshoots into 429s. Why not "replies go at once" either (this module's
first version): 300 users commanding in the same second then drew hundreds of 429s and most of
them got no answer (issue 17). Here every request that sends something (messages, photos, edits,
callback answers, pins; :func:`paced`) waits its turn at one dispatcher:

* released one by one, evenly spaced (``1 / bulk_per_s`` apart, so network jitter cannot bunch a
  burst into one of Telegram's 1-second windows) and at most ``bulk_per_s`` in any 1-second
  window, at most one per ``chat_spacing_s`` to the same chat, at most ``group_per_min`` per
  minute to a group or channel;
* lowest priority value first: replies (:data:`REPLY_PRIORITY`) before private alerts, those
  before group and channel posts; first come first served within a priority. A chat that must
  wait never holds the others, so a reply is out within one slot (~35 ms) even mid-broadcast;
* a ``RetryAfter`` pauses everything for the time Telegram asked; a reply is then sent again (up
  to ``retries`` times) and only then raised; an outbox send is raised at once, and its drain
  retries the same row, durably, when Telegram said (bot/delivery/drain.py).

The outbox's sends pass ``rate_limit_args={"bulk": True, "priority": p}``. The scheduling decision
is the pure function :func:`pick`; the limiter only keeps the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]
ChatKey = int | str


@dataclass(frozen=True, slots=True)
class Limits:
    bulk_per_s: float = 29.0  # Telegram: ~30 messages/s in total (a little margin for jitter)
    chat_spacing_s: float = 1.05  # Telegram: ~1 message/s per chat (a little margin for jitter)
    group_per_min: int = 20  # Telegram: 20 messages/minute to the same group or channel
    group_window_s: float = 61.0  # the minute, with a second of margin
    paid_per_s: float = 1000.0  # allow_paid_broadcast: up to 1,000 messages/s
    retries: int = 3  # a request Telegram answered with 429 is sent again this many times


MAX_WAIT_S = 1.0  # the pump looks again at least this often (completions wake it sooner)
REPLY_PRIORITY = -1  # replies, callback answers, charts: before every queued alert
_PACED_OTHER = frozenset(
    {"pinChatMessage", "unpinChatMessage", "deleteMessage", "stopPoll", "setMessageReaction"}
)


def paced(endpoint: str) -> bool:
    """Requests that put something in a chat (and count against Telegram's limits)."""
    return endpoint.startswith(("send", "edit", "copy", "forward", "answer")) or endpoint in _PACED_OTHER


def is_group(chat: ChatKey) -> bool:
    """Negative ids are groups, supergroups and channels; ``@name`` ids are channels."""
    return isinstance(chat, str) or chat < 0


@dataclass(slots=True)
class PaceState:
    """What the dispatcher remembers: sends in flight, and sends completed recently overall, per
    chat and per group.

    Sends are counted from their release until a second after their COMPLETION: Telegram counts a
    request when it arrives, which is somewhere between the two, so "in flight + completed in the
    last second" is never less than what Telegram counts, however late the event loop gets a
    released request onto the wire (a busy loop once bunched 31 arrivals into one second)."""

    window: deque[float] = field(default_factory=deque)  # completion times in the last second
    last_bulk: float = float("-inf")  # the slot of the last release (the even-spacing timeline)
    last_chat_send: dict[ChatKey, float] = field(default_factory=dict)  # last completion per chat
    group_sends: dict[ChatKey, deque[float]] = field(default_factory=dict)
    paused_until: float = 0.0
    inflight: int = 0
    inflight_chat: dict[ChatKey, int] = field(default_factory=dict)

    def purge(self, now: float) -> None:
        while self.window and now - self.window[0] >= 1.0:
            self.window.popleft()

    def release(self, chat: ChatKey | None, now: float, gap: float) -> None:
        """A send leaves the queue. Releases follow a fixed timeline (previous slot + gap), so the
        ~1 ms the event loop adds to each wake-up does not accumulate into a lower rate; after an
        idle spell the timeline restarts near ``now``."""
        self.last_bulk = max(self.last_bulk + gap, now - gap / 2)
        self.inflight += 1
        if chat is not None:
            self.inflight_chat[chat] = self.inflight_chat.get(chat, 0) + 1

    def complete(self, chat: ChatKey | None, now: float, limits: Limits) -> None:
        """A released send got its answer (or failed): from now it counts as completed."""
        self.inflight = max(0, self.inflight - 1)
        if chat is not None:
            left = self.inflight_chat.get(chat, 0) - 1
            if left > 0:
                self.inflight_chat[chat] = left
            else:
                self.inflight_chat.pop(chat, None)
        self.record(chat, now, limits)

    def record(self, chat: ChatKey | None, now: float, limits: Limits) -> None:
        """Count a completed send."""
        self.window.append(now)
        if chat is None:
            return
        self.last_chat_send[chat] = now
        if is_group(chat):
            sends = self.group_sends.setdefault(chat, deque())
            sends.append(now)
            while sends and now - sends[0] >= limits.group_window_s:
                sends.popleft()
        if len(self.last_chat_send) > 50_000:  # forget chats idle for a minute: bounded memory
            cutoff = now - 60.0
            self.last_chat_send = {c: t for c, t in self.last_chat_send.items() if t > cutoff}

    def chat_ready_at(self, chat: ChatKey, limits: Limits) -> float:
        if self.inflight_chat.get(chat):
            return float("inf")  # its previous send is not answered yet: woken on completion
        ready = self.last_chat_send.get(chat, float("-inf")) + limits.chat_spacing_s
        if is_group(chat):
            sends = self.group_sends.get(chat)
            if sends and len(sends) >= limits.group_per_min:
                ready = max(ready, sends[-limits.group_per_min] + limits.group_window_s)
        return ready


@dataclass(slots=True)
class Waiter:
    priority: int
    seq: int
    chat: ChatKey | None
    paid: bool
    future: asyncio.Future[None] | None = None


def pick(waiters: list[Waiter], state: PaceState, now: float, limits: Limits) -> tuple[Waiter | None, float]:
    """The waiter to release now, or None and how long to wait before asking again.
    ``waiters`` must be in (priority, arrival) order."""
    if now < state.paused_until:
        return None, state.paused_until - now
    state.purge(now)
    wait = float("inf")
    for w in waiters:
        cap = limits.paid_per_s if w.paid else limits.bulk_per_s
        gap = state.last_bulk + 1.0 / cap - now
        if gap > 0:
            wait = min(wait, gap)
            continue
        if len(state.window) + state.inflight >= cap:
            must_expire = len(state.window) + state.inflight - int(cap) + 1
            if 0 < must_expire <= len(state.window):
                wait = min(wait, state.window[must_expire - 1] + 1.0 - now)
            else:
                wait = min(wait, MAX_WAIT_S)  # only sends in flight: woken when one completes
            continue
        if w.chat is not None:
            ready = state.chat_ready_at(w.chat, limits)
            if ready > now:
                wait = min(wait, ready - now)
                continue
        return w, 0.0
    if wait == float("inf"):  # only sends in flight hold the rest: a completion wakes the pump
        wait = MAX_WAIT_S
    return None, max(wait, 0.001)


class Pacer(BaseRateLimiter[JSONDict]):
    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or Limits()
        self.clock = clock
        self.state = PaceState()
        self._waiters: dict[int, list[Waiter]] = {}  # priority -> waiters in arrival order
        self._seq = itertools.count()
        self._wake: asyncio.Event | None = None
        self._pump: asyncio.Task[None] | None = None
        self.retry_afters = 0  # 429s received (for tests, /metrics and benchmarks)

    async def initialize(self) -> None:
        # PTB initialises the bot twice (Application and Updater) and calls this before its own
        # guard: start one pump only.
        if self._pump is not None and not self._pump.done():
            return
        self._wake = asyncio.Event()
        self._pump = asyncio.create_task(self._run(), name="pacer")

    async def shutdown(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        self._wake = None  # from now on nothing is paced (and nothing waits for a dead pump)
        for queue in self._waiters.values():
            for w in queue:
                if w.future is not None and not w.future.done():
                    w.future.cancel()
        self._waiters.clear()

    def queued(self) -> int:
        return sum(len(q) for q in self._waiters.values())

    def _ordered(self) -> list[Waiter]:
        return [w for p in sorted(self._waiters) for w in self._waiters[p]]

    async def _run(self) -> None:
        while True:
            try:
                await self._pump_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # never leave every bulk send waiting on a dead pump
                logger.exception("pacer pump error; going on")
                await asyncio.sleep(0.1)

    async def _pump_once(self) -> None:
        """Release waiters until there are none left; the loop above calls it again."""
        assert self._wake is not None
        while True:
            if not self._waiters:
                self._wake.clear()
                await self._wake.wait()
                return
            now = self.clock()
            waiter, wait = pick(self._ordered(), self.state, now, self.limits)
            if waiter is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
                continue
            self._remove(waiter)
            cap = self.limits.paid_per_s if waiter.paid else self.limits.bulk_per_s
            self.state.release(waiter.chat, now, gap=1.0 / cap)
            if waiter.future is not None and not waiter.future.done():
                waiter.future.set_result(None)

    def _remove(self, waiter: Waiter) -> None:
        queue = self._waiters[waiter.priority]
        queue.remove(waiter)  # near the head: cheap
        if not queue:
            del self._waiters[waiter.priority]

    async def _acquire(self, chat: ChatKey | None, priority: int, paid: bool) -> bool:
        """Wait for this send's turn; False when nothing is paced (no pump: outside an app)."""
        if self._wake is None:
            return False
        waiter = Waiter(priority, next(self._seq), chat, paid, asyncio.get_running_loop().create_future())
        self._waiters.setdefault(priority, []).append(waiter)
        self._wake.set()
        try:
            assert waiter.future is not None
            await waiter.future
            return True
        except asyncio.CancelledError:
            if waiter.priority in self._waiters and waiter in self._waiters[waiter.priority]:
                self._remove(waiter)
            elif waiter.future is not None and waiter.future.done() and not waiter.future.cancelled():
                self.state.complete(chat, self.clock(), self.limits)  # released, never sent
            raise

    def _pause(self, exc: RetryAfter) -> float:
        ra = exc.retry_after
        seconds = ra.total_seconds() if isinstance(ra, timedelta) else float(ra)
        self.state.paused_until = max(self.state.paused_until, self.clock() + seconds + 0.1)
        self.retry_afters += 1
        logger.warning("telegram asked to slow down: every send paused for %.1fs", seconds)
        if self._wake is not None:
            self._wake.set()
        return seconds

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: JSONDict | None,
    ) -> bool | JSONDict | list[JSONDict]:
        if not paced(endpoint):  # getUpdates, getMe, getChat...: nothing is sent to a chat
            return await callback(*args, **kwargs)
        chat = _chat_key(data.get("chat_id"))
        bulk = bool(rate_limit_args and rate_limit_args.get("bulk"))
        priority = int(rate_limit_args.get("priority", 0)) if bulk and rate_limit_args else REPLY_PRIORITY
        paid = bool(data.get("allow_paid_broadcast"))
        attempt = 0
        while True:
            released = await self._acquire(chat, priority, paid)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self._pause(exc)  # everyone waits
                attempt += 1
                # An outbox row is retried by its drain, durably, when Telegram said; anything
                # else (a reply) goes again here, once the pause is over.
                if bulk or attempt > self.limits.retries or self._wake is None:
                    raise
            finally:
                if released:
                    self.state.complete(chat, self.clock(), self.limits)
                    if self._wake is not None:
                        self._wake.set()


def _chat_key(chat_id: object) -> ChatKey | None:
    if chat_id is None:
        return None
    try:
        return int(chat_id)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(chat_id)
