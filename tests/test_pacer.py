"""The delivery pacer: the pure scheduling core (table-driven) and a live burst against the fake
Bot API server enforcing Telegram's limits, with a command answered in the middle of it."""

from __future__ import annotations

import asyncio

import pytest

from bot.delivery.pacer import Limits, PaceState, Waiter, pick
from storage import outbox
from tests.fake_telegram import FakeTelegram, RateLimits
from tests.harness import FakeClock, bot_settings, running_bot

L = Limits()


def waiters(*specs: tuple[int, int | str | None]) -> list[Waiter]:
    return [Waiter(priority=p, seq=i, chat=c, paid=False) for i, (p, c) in enumerate(specs)]


def state_with(
    window: list[float] = (),
    chats: dict | None = None,
    groups: dict | None = None,
    paused_until: float = 0.0,
    last_bulk: float = float("-inf"),
) -> PaceState:
    s = PaceState()
    s.window.extend(window)
    s.last_chat_send.update(chats or {})
    for g, times in (groups or {}).items():
        s.group_sends[g] = __import__("collections").deque(times)
    s.paused_until = paused_until
    s.last_bulk = last_bulk
    return s


@pytest.mark.parametrize(
    ("ws", "state", "now", "chosen_seq", "wait"),
    [
        # empty window: the first waiter goes at once
        (waiters((0, 1), (0, 2)), state_with(), 10.0, 0, 0.0),
        # the window already holds 29 sends in the last second: wait until the oldest ages out
        (waiters((0, 1)), state_with([9.5 + i * 0.01 for i in range(29)]), 10.0, None, 0.5),
        # sends older than one second no longer count
        (waiters((0, 1)), state_with([8.0 + i * 0.01 for i in range(29)]), 10.0, 0, 0.0),
        # chat 1 got a message 0.5 s ago: chat 2 goes first, chat 1 does not hold it
        (waiters((0, 1), (0, 2)), state_with(chats={1: 9.5}), 10.0, 1, 0.0),
        # only chat 1 waiting, sent 0.5 s ago: wait the rest of its 1.05 s spacing
        (waiters((0, 1)), state_with(chats={1: 9.5}), 10.0, None, 0.55),
        # a group that had 20 messages in the last minute waits for the oldest to age out
        (waiters((0, -100)), state_with(groups={-100: [float(i) for i in range(20)]}), 30.0, None, 31.0),
        # ...while a private chat queued behind it goes at once
        (waiters((0, -100), (0, 5)), state_with(groups={-100: [float(i) for i in range(20)]}), 30.0, 1, 0.0),
        # after a RetryAfter the pacer sends nothing until the pause ends
        (waiters((0, 1)), state_with(paused_until=12.0), 10.0, None, 2.0),
        # bulk sends are spaced 1/29 s apart: one released 10 ms ago makes the next wait ~24.5 ms
        (waiters((0, 1)), state_with(last_bulk=9.99), 10.0, None, 1 / 29 - 0.01),
    ],
    ids=[
        "idle",
        "window-full",
        "window-aged",
        "busy-chat-skipped",
        "chat-spacing",
        "group-20-per-min",
        "group-does-not-block-private",
        "retry-after-pause",
        "even-spacing",
    ],
)
def test_pick(ws, state, now, chosen_seq, wait):
    chosen, wait_s = pick(ws, state, now, L)
    assert (chosen.seq if chosen else None) == chosen_seq
    assert wait_s == pytest.approx(wait, abs=1e-6)


def test_priority_order_is_callers_order():
    # The limiter passes waiters sorted by (priority, arrival): private (0) before channel (10).
    ordered = sorted(waiters((10, -1001), (0, 7)), key=lambda w: (w.priority, w.seq))
    chosen, _ = pick(ordered, state_with(), 1.0, L)
    assert chosen is not None and chosen.chat == 7


async def test_burst_respects_limits_and_replies_do_not_wait(tmp_path):
    """90 alerts to 90 chats drain under Telegram's limits enforced by the fake server (no 429),
    and /help sent when 30 are out is answered while most of the broadcast is still queued: the
    reply does not wait behind it. (How fast, in seconds, is bench/bench_fanout.py's job.)"""
    tg = FakeTelegram(limits=RateLimits())
    await tg.start()
    try:
        clock = FakeClock()
        settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
        async with running_bot(settings, clock, telegram_limits=True) as (_app, svc):
            for chat in range(1, 91):
                await svc.db(
                    outbox.enqueue,
                    key=f"k{chat}",
                    chat_id=chat,
                    rule_id=None,
                    reason="test",
                    text=f"alert {chat}",
                    now=clock(),
                )
            drain = asyncio.create_task(svc.notifier.drain())
            await tg.wait_for(lambda: len(tg.sent()) >= 30)
            tg.push_command("/help", chat_id=5000, user_id=5000)
            await tg.wait_for(lambda: len(tg.sent(chat_id=5000)) == 1)
            bulk_out_at_reply = len([m for m in tg.sent() if int(m["chat_id"]) <= 90])
            assert await drain == 90
    finally:
        await tg.stop()
    assert tg.too_many == 0, "the pacer must never provoke a 429"
    assert len({int(m["chat_id"]) for m in tg.sent() if int(m["chat_id"]) <= 90}) == 90
    # The reply went out while at least a third of the broadcast was still waiting its turn.
    assert bulk_out_at_reply <= 60
