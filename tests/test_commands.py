"""The chat commands as a user meets them, through the real application and the fake Bot API."""

from __future__ import annotations

from datetime import time

import pytest
from telegram.ext import CommandHandler

from bot.handlers.commands import HELP
from rules.quiet import QuietHours
from storage import chats
from storage import rules as rule_store
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot

CHAT = 5151
GROUP = -100777


@pytest.fixture
async def bot(tmp_path):
    tg = FakeTelegram()
    await tg.start()
    # the network watcher is on (as shipped) but never polls: the harness runs no jobs
    settings = bot_settings(tmp_path, tg, {"alerts": {"max_rules_per_chat": 3}})
    async with running_bot(settings, FakeClock()) as (app, svc):
        yield tg, app, svc
    await tg.stop()


async def say(
    tg: FakeTelegram, text: str, chat_id: int = CHAT, user_id: int = CHAT, chat_type: str = "private"
) -> str:
    before = len(tg.sent(chat_id=chat_id))
    tg.push_command(text, chat_id=chat_id, user_id=user_id, chat_type=chat_type)
    await tg.wait_for(lambda: len(tg.sent(chat_id=chat_id)) > before)
    return tg.sent(chat_id=chat_id)[-1]["text"]


async def stored(svc, chat_id: int = CHAT) -> list[str]:
    return [r["text"] for r in await svc.db(rule_store.list_rules, chat_id)]


async def test_start_and_help(bot):
    tg, _app, _svc = bot
    welcome = await say(tg, "/start")
    assert "MinerWatch" in welcome and "/alert difficulty.next_change" in welcome
    help_text = await say(tg, "/help")
    assert help_text == HELP  # the whole list, on one page
    assert "<code>/delete 1</code>" in help_text and "<code>/fleet 18 0.045</code>" in help_text


async def test_every_command_is_in_help(bot):
    _tg, app, _svc = bot
    commands = {
        c
        for group in app.handlers.values()
        for h in group
        if isinstance(h, CommandHandler)
        for c in h.commands
    }
    missing = [c for c in commands if f"/{c}" not in HELP]
    assert not missing, missing


async def test_alert_list_delete_cycle(bot):
    tg, _app, svc = bot
    assert "Alert set" in await say(tg, "/alert difficulty.next_change > 3%")
    assert "Alert set" in await say(tg, "/alert price below 80k for 10m")
    price_rule = (await stored(svc))[1]
    assert price_rule.startswith("price <")
    listing = await say(tg, "/alerts")
    assert "1. <code>difficulty.next_change &gt; 3%</code>" in listing
    assert "2. <code>price" in listing
    assert "already has" in await say(tg, "/alert difficulty.next_change > 3")  # the same rule
    assert "Deleted" in await say(tg, "/delete 1")
    assert await stored(svc) == [price_rule]  # the first went, the second stayed
    assert "no alert number 5" in await say(tg, "/delete 5")
    assert "/delete 1" in await say(tg, "/delete one")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/alert", "/alert difficulty.next_change &gt; 3%"),
        ("/alert difficulty.nxt_change > 3", "did you mean"),
        ("/alert price >> 5", "Example"),
        ("/alert price > lots", "Example"),
        ("/alert price > 3%", "Example"),
        ("/alert hashprice drops ten% in 24h", "Example"),
        ("/alert <b>bold</b> > 1", "Example"),  # never echoed as HTML (asserted below)
    ],
    ids=["empty", "unknown-metric", "bad-operator", "bad-number", "unit-mismatch", "bad-change", "html"],
)
async def test_malformed_rules_get_a_clear_answer_and_store_nothing(bot, command, expected):
    tg, _app, svc = bot
    reply = await say(tg, command)
    assert expected.lower() in reply.lower()
    assert "<b>bold" not in reply
    assert await stored(svc) == []


async def test_rule_limit_per_chat(bot):
    tg, _app, svc = bot
    for v in (1, 2, 3):
        assert "Alert set" in await say(tg, f"/alert price > {v}00k")
    assert "3 alerts, the most allowed" in await say(tg, "/alert price > 400k")
    assert len(await stored(svc)) == 3


async def test_group_rules_only_by_admins(bot):
    tg, _app, svc = bot
    tg.admins[GROUP] = {1}
    reply = await say(
        tg, "/alert@MinerWatchTestBot retarget", chat_id=GROUP, user_id=2, chat_type="supergroup"
    )
    assert "administrators" in reply
    assert await stored(svc, GROUP) == []
    reply = await say(
        tg, "/alert@MinerWatchTestBot retarget", chat_id=GROUP, user_id=1, chat_type="supergroup"
    )
    assert "Alert set" in reply
    # anyone may read
    assert "retarget" in await say(
        tg, "/alerts@MinerWatchTestBot", chat_id=GROUP, user_id=2, chat_type="supergroup"
    )
    reply = await say(tg, "/delete@MinerWatchTestBot 1", chat_id=GROUP, user_id=2, chat_type="supergroup")
    assert "administrators" in reply
    assert await stored(svc, GROUP) == ["retarget"]


async def test_settings_commands(bot):
    tg, _app, svc = bot
    assert "Quiet hours 23:00-07:00" in await say(tg, "/quiet 23:00-07:00 Europe/Berlin")
    assert "Quiet hours: 23:00-07:00 Europe/Berlin" in await say(tg, "/quiet")  # asking changes nothing
    assert "Example" in await say(tg, "/quiet 25:00-07:00")
    assert "snoozed for 2h" in await say(tg, "/snooze 2h")
    assert "Example" in await say(tg, "/snooze soon")
    assert "Muted" in await say(tg, "/mute")
    assert "Unmuted" in await say(tg, "/unmute")
    assert "America/Chicago" in await say(tg, "/tz america/chicago")
    assert "don't know the time zone" in await say(tg, "/tz Mars/Olympus")
    settings = await svc.db(chats.get_settings, CHAT)
    assert settings.quiet == QuietHours(time(23, 0), time(7, 0), "Europe/Berlin")
    assert settings.snooze_until is not None and not settings.muted
    assert (await svc.db(chats.get_chat, CHAT))["tz"] == "America/Chicago"


async def test_status_without_and_with_data(bot):
    tg, _app, svc = bot
    assert "No data yet" in await say(tg, "/status")
    from bot.engine.ingest import ingest
    from rules.data import Observation
    from watchers.base import PollResult

    now = svc.clock()
    obs = [
        Observation("hashprice", 54.2, now, "mempool"),
        Observation("difficulty.next_change", 2.1, now, "mempool"),
        Observation("height", 871000, now, "mempool"),
    ]
    await svc.db(ingest, "network", PollResult(observations=obs), {}, now, svc.pipeline.opts)
    text = await say(tg, "/status")
    assert "$54.20/PH/day" in text and "+2.10%" in text and "Halving in 179,000 blocks" in text
