"""One dispatcher for every send (issue 17): replies wait their turn under the same global and
per-chat limits as alerts (but go first), a 429 pauses everything and the reply is sent again,
the error handler never answers into a 429, and updates of different chats are handled side by
side while each chat's stay in order."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from telegram.error import RetryAfter

from bot.delivery.pacer import REPLY_PRIORITY, Limits, PaceState, Waiter, paced, pick
from bot.handlers.errors import error_handler
from bot.handlers.updates import PerChatUpdates
from tests.fake_telegram import FakeTelegram, RateLimits
from tests.harness import FakeClock, bot_settings, running_bot

L = Limits()
TELEGRAM = Path(__file__).parent / "fixtures" / "telegram"
RETRY_AFTER_1 = {**json.loads((TELEGRAM / "error-429-retry-after-short.2024-05-03.json").read_text())}
RETRY_AFTER_1["parameters"] = {"retry_after": 1}
RETRY_AFTER_1["description"] = "Too Many Requests: retry after 1"


def test_every_send_is_paced_and_reads_are_not():
    for endpoint in ("sendMessage", "sendPhoto", "editMessageText", "answerCallbackQuery", "pinChatMessage"):
        assert paced(endpoint), endpoint
    for endpoint in ("getUpdates", "getMe", "getChat", "getChatAdministrators", "deleteWebhook"):
        assert not paced(endpoint), endpoint


def test_a_reply_goes_before_queued_alerts_but_not_past_the_limits():
    alerts = [Waiter(priority=0, seq=i, chat=i + 1, paid=False) for i in range(3)]
    reply = Waiter(priority=REPLY_PRIORITY, seq=9, chat=500, paid=False)
    ordered = sorted([*alerts, reply], key=lambda w: (w.priority, w.seq))
    chosen, _ = pick(ordered, PaceState(), 10.0, L)
    assert chosen is reply
    # the global window is full: the reply waits like everything else
    full = PaceState()
    full.window.extend(9.5 + i * 0.01 for i in range(29))
    chosen, wait = pick(ordered, full, 10.0, L)
    assert chosen is None and wait > 0
    # its chat got a message 0.2 s ago: an alert to another chat goes, the reply waits its turn
    busy = PaceState()
    busy.last_chat_send[500] = 9.8
    chosen, _ = pick(ordered, busy, 10.0, L)
    assert chosen is alerts[0]


async def test_a_burst_of_commands_is_answered_without_a_single_429(tmp_path):
    """60 private chats command at once against a fake enforcing 30/s: every one is answered and
    Telegram never had to refuse anything (the old pacer let replies through unpaced)."""
    tg = FakeTelegram(limits=RateLimits())
    await tg.start()
    try:
        settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
        async with running_bot(settings, FakeClock(), telegram_limits=True):
            for chat in range(1, 61):
                tg.push_command("/help", chat_id=chat, user_id=chat)
            await tg.wait_for(lambda: len({int(m["chat_id"]) for m in tg.sent()}) == 60, timeout=60)
    finally:
        await tg.stop()
    assert tg.too_many == 0
    assert all(len(tg.sent(chat_id=c)) == 1 for c in range(1, 61))


async def test_a_429_on_a_reply_pauses_and_the_same_reply_is_sent_again(tmp_path):
    tg = FakeTelegram()
    await tg.start()
    try:
        settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
        async with running_bot(settings, FakeClock(), telegram_limits=True) as (app, _svc):
            tg.fail_next("sendMessage", 429, RETRY_AFTER_1, chat_id=77)
            tg.push_command("/help", chat_id=77, user_id=77)
            await tg.wait_for(lambda: len(tg.sent(chat_id=77)) == 1, timeout=30)
            pacer = app.bot.rate_limiter
            assert pacer is not None and pacer.retry_afters == 1  # type: ignore[attr-defined]
    finally:
        await tg.stop()
    attempts = tg.attempts(chat_id=77)
    assert [a.status for a in attempts] == [429, 200]
    assert attempts[0].params["text"] == attempts[1].params["text"]  # the same message
    assert not any("Something went wrong" in m["text"] for m in tg.sent())


async def test_the_error_handler_never_answers_into_a_429():
    replies: list[str] = []

    async def reply_text(text: str) -> None:
        replies.append(text)

    from telegram import Update

    update = Update.__new__(Update)  # not frozen without __init__
    # effective_message is cached by PTB's Update in _effective_message: seed it
    update._effective_message = SimpleNamespace(reply_text=reply_text)  # type: ignore[attr-defined]
    await error_handler(update, SimpleNamespace(error=RetryAfter(5)))  # type: ignore[arg-type]
    assert replies == []
    await error_handler(update, SimpleNamespace(error=ValueError("boom")))  # type: ignore[arg-type]
    assert len(replies) == 1 and "went wrong" in replies[0]


def chat_update(chat_id: int):
    from telegram import Chat, Update

    update = Update.__new__(Update)
    update._effective_chat = Chat(chat_id, "private")  # type: ignore[attr-defined]
    return update


async def test_chats_are_handled_side_by_side_and_each_in_order():
    processor = PerChatUpdates(8)
    order: list[str] = []
    gate = asyncio.Event()

    async def work(name: str, wait: bool = False) -> None:
        if wait:
            await gate.wait()
        order.append(name)

    a1 = asyncio.create_task(processor.process_update(chat_update(1), work("a1", wait=True)))
    a2 = asyncio.create_task(processor.process_update(chat_update(1), work("a2")))
    b1 = asyncio.create_task(processor.process_update(chat_update(2), work("b1")))
    await b1  # chat 2 is not held by chat 1's slow update
    assert order == ["b1"]
    gate.set()
    await asyncio.gather(a1, a2)
    assert order == ["b1", "a1", "a2"]  # chat 1's updates kept their order
    assert processor._locks == {}  # nothing kept for idle chats


def test_sends_in_flight_count_until_answered():
    # Telegram counts a request when it arrives, somewhere between its release and its answer:
    # a send in flight counts, so a late event loop cannot bunch 31 arrivals into one second.
    state = PaceState()
    state.window.extend(9.5 + i * 0.01 for i in range(28))
    w = [Waiter(priority=0, seq=0, chat=1, paid=False)]
    assert pick(w, state, 10.0, L)[0] is w[0]  # 28 answered in the last second: one more may go
    state.release(2, 10.0, gap=0.0)
    chosen, wait = pick(w, state, 10.1, L)  # past the even spacing after that release
    assert chosen is None and wait == pytest.approx(0.4)  # 28 + 1 in flight: wait for the oldest
    # a chat whose last send is not answered yet waits for the answer, then for its spacing
    state = PaceState()
    state.release(7, 10.0, gap=1 / 29)
    mine = [Waiter(priority=REPLY_PRIORITY, seq=1, chat=7, paid=False)]
    assert pick(mine, state, 11.0, L)[0] is None
    state.complete(7, 11.0, L)
    assert pick(mine, state, 11.5, L)[0] is None and pick(mine, state, 12.1, L)[0] is mine[0]
    assert state.inflight == 0 and state.inflight_chat == {}


async def test_an_update_stopped_before_its_turn_is_closed_not_left_unawaited():
    processor = PerChatUpdates(8)
    gate = asyncio.Event()

    async def slow() -> None:
        await gate.wait()

    async def never() -> None:
        raise AssertionError("must not run")

    first = asyncio.create_task(processor.process_update(chat_update(1), slow()))
    await asyncio.sleep(0)
    waiting = never()
    second = asyncio.create_task(processor.process_update(chat_update(1), waiting))
    await asyncio.sleep(0)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    assert waiting.cr_frame is None  # closed: no "coroutine was never awaited" at shutdown
    gate.set()
    await first
    assert processor._locks == {}
