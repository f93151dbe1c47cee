"""Issue 12 item 8: an edited message never runs its command a second time."""

from __future__ import annotations

from typing import Any

import pytest

from bot.handlers.commands import EDIT_NOTE
from storage import rules as rule_store
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot

CHAT = 6161


@pytest.fixture
async def bot(tmp_path, tg):
    async with running_bot(bot_settings(tmp_path, tg), FakeClock()) as (_app, svc):
        yield tg, svc


async def say(tg: FakeTelegram, text: str) -> tuple[str, dict[str, Any]]:
    before = len(tg.sent(chat_id=CHAT))
    update = tg.push_command(text, chat_id=CHAT, user_id=CHAT)
    await tg.wait_for(lambda: len(tg.sent(chat_id=CHAT)) > before)
    return tg.sent(chat_id=CHAT)[-1]["text"], update["message"]


async def edit(tg: FakeTelegram, message: dict[str, Any], text: str) -> str:
    """The user edits ``message`` to ``text``: Telegram sends an ``edited_message`` update."""
    before = len(tg.sent(chat_id=CHAT))
    command = text.split()[0]
    edited = {
        **message,
        "text": text,
        "edit_date": message["date"] + 5,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
    }
    tg.push_update({"edited_message": edited})
    await tg.wait_for(lambda: len(tg.sent(chat_id=CHAT)) > before)
    return tg.sent(chat_id=CHAT)[-1]["text"]


async def texts(svc) -> list[str]:
    return [r["text"] for r in await svc.db(rule_store.list_rules, CHAT)]


async def test_an_edited_delete_does_not_delete_a_second_alert(bot) -> None:
    tg, svc = bot
    for rule in ("price > 100k", "price > 200k", "price > 300k"):
        assert "Alert set" in (await say(tg, f"/alert {rule}"))[0]
    reply, message = await say(tg, "/delete 1")
    assert "Deleted" in reply
    assert await texts(svc) == ["price > 200k", "price > 300k"]
    assert await edit(tg, message, "/delete 1") == EDIT_NOTE
    assert await texts(svc) == ["price > 200k", "price > 300k"]  # nothing more deleted


async def test_an_edited_alert_does_not_add_a_second_rule(bot) -> None:
    tg, svc = bot
    reply, message = await say(tg, "/alert price > 100k")
    assert "Alert set" in reply
    assert await edit(tg, message, "/alert price > 110k") == EDIT_NOTE
    assert await texts(svc) == ["price > 100k"]
    # a new message still works as always
    assert "Alert set" in (await say(tg, "/alert price > 110k"))[0]
    assert await texts(svc) == ["price > 100k", "price > 110k"]
