"""Settings commands in groups: a member who is not an administrator changes nothing; the group's
administrators and the bot's configured admins ([telegram] admins) may. One case per command, so
removing the admin check from any one of them turns its case red."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rules.chat_settings import ChatSettings
from storage import chats
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot

GROUP = -4002
GROUP_ADMIN, MEMBER, BOT_ADMIN = 11, 22, 33


def _changed_tz(settings: ChatSettings, row: dict[str, Any]) -> bool:
    return row["tz"] == "America/Chicago"


CASES: dict[str, tuple[str, Callable[[ChatSettings, dict[str, Any]], bool]]] = {
    "quiet": ("/quiet 23:00-07:00", lambda s, _row: s.quiet is not None),
    "snooze": ("/snooze 2h", lambda s, _row: s.snooze_until is not None),
    "mute": ("/mute", lambda s, _row: s.muted),
    "unmute": ("/unmute", lambda s, _row: not s.muted),  # the group starts muted for this one
    "tz": ("/tz America/Chicago", _changed_tz),
    "fleet": ("/fleet 18 0.045", lambda s, _row: s.fleet is not None),
}


@pytest.fixture
async def group_bot(tmp_path, tg: FakeTelegram):
    tg.admins[GROUP] = {GROUP_ADMIN}
    settings = bot_settings(tmp_path, tg, {"telegram": {"admins": [BOT_ADMIN]}})
    async with running_bot(settings, FakeClock()) as (_app, svc):
        yield tg, svc


async def say(tg: FakeTelegram, text: str, user_id: int) -> str:
    before = len(tg.sent(chat_id=GROUP))
    tg.push_command(text, chat_id=GROUP, user_id=user_id, chat_type="supergroup")
    await tg.wait_for(lambda: len(tg.sent(chat_id=GROUP)) > before)
    return tg.sent(chat_id=GROUP)[-1]["text"]


async def state(svc) -> tuple[ChatSettings, dict[str, Any]]:  # type: ignore[no-untyped-def]
    return await svc.db(chats.get_settings, GROUP), (await svc.db(chats.get_chat, GROUP)) or {}


async def prepare(svc, name: str) -> None:  # type: ignore[no-untyped-def]
    now = svc.clock()
    await svc.db(chats.ensure_chat, GROUP, "supergroup", "Miners", now)
    if name == "unmute":
        await svc.db(chats.update_settings, GROUP, now, muted=True)


@pytest.mark.parametrize("name", list(CASES))
async def test_a_member_who_is_not_an_admin_changes_nothing(group_bot, name: str) -> None:
    tg, svc = group_bot
    command, changed = CASES[name]
    await prepare(svc, name)
    reply = await say(tg, command, MEMBER)
    assert "Only this group's administrators" in reply
    assert not changed(*await state(svc))


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("who", [GROUP_ADMIN, BOT_ADMIN], ids=["group-admin", "bot-admin"])
async def test_group_admins_and_the_bots_admins_may(group_bot, name: str, who: int) -> None:
    tg, svc = group_bot
    command, changed = CASES[name]
    await prepare(svc, name)
    reply = await say(tg, command, who)
    assert "administrators" not in reply
    assert changed(*await state(svc))
    if who == BOT_ADMIN:  # allowed by the config, without asking Telegram
        assert not [c for c in tg.attempts("getChatMember") if int(c.params["user_id"]) == BOT_ADMIN]
