"""Issue 7, presets: /start shows the welcome with a keyboard; one tap stores the preset's rules in
canonical form, answers the callback and confirms in the chat. In groups only admins may tap.
End to end: real PTB application, fake Bot API on 127.0.0.1, callback queries as Telegram sends
them."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.handlers.commands import welcome_text
from bot.handlers.presets import PRESETS, hashprice_floor
from rules.data import Observation
from rules.grammar import format_rule, parse_rule
from storage import observations
from storage import rules as rule_store
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot

CHAT = 4242
GROUP = -4001
ADMIN, MEMBER = 111, 222
NOW = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)
# power and filings on: every preset can fire (the shipped config has both off)
ALL_ON = {
    "watchers.power": {"enabled": True},
    "watchers.filings": {"enabled": True},
    "sources.edgar": {"user_agent": "MinerWatch tests ops@example.com"},
}


async def tap(tg: FakeTelegram, data: str, *, chat_id: int = CHAT, user_id: int = CHAT, **kw) -> dict:
    """Tap a button; return the answerCallbackQuery the bot sent for it."""
    update = tg.push_callback(data, chat_id=chat_id, user_id=user_id, **kw)
    query_id = update["callback_query"]["id"]

    def answered() -> list[dict]:
        return [a for a in tg.sent("answerCallbackQuery") if a["callback_query_id"] == query_id]

    await tg.wait_for(lambda: bool(answered()))
    return answered()[0]


async def confirmation(tg: FakeTelegram, chat_id: int, before: int) -> str:
    await tg.wait_for(lambda: len(tg.sent(chat_id=chat_id)) > before)
    return tg.sent(chat_id=chat_id)[-1]["text"]


async def texts(svc, chat_id: int = CHAT) -> list[str]:
    return [r["text"] for r in await svc.db(rule_store.list_rules, chat_id)]


def test_hashprice_floor():
    assert hashprice_floor(51.3) == 46  # 10% under, whole dollars
    assert hashprice_floor(45.0) == 40  # 40.5 rounds to even
    assert hashprice_floor(None) == 45  # the fixed default while unknown
    assert hashprice_floor(0.5) == 1


def test_every_preset_is_valid_and_fits_telegram():
    for preset in PRESETS:
        assert 1 <= len(preset.callback_data.encode()) <= 64
        for text in preset.rules(50.0):
            assert format_rule(parse_rule(text))  # parses: a tap never meets a RuleError


async def test_start_shows_welcome_with_preset_keyboard(tmp_path, tg):
    settings = bot_settings(tmp_path, tg, ALL_ON)
    async with running_bot(settings, FakeClock(NOW)) as (_app, _svc):
        tg.push_command("/start", chat_id=CHAT, user_id=CHAT)
        await tg.wait_for(lambda: bool(tg.sent(chat_id=CHAT)))
        msg = tg.sent(chat_id=CHAT)[-1]
        assert msg["text"].startswith(welcome_text(settings).split("\n")[0])
        assert "ERCOT" in msg["text"] and "filings" in msg["text"]
        assert "/alert difficulty.next_change &gt; 3%" in msg["text"]
        rows = msg["reply_markup"]["inline_keyboard"]
        data = [b["callback_data"] for row in rows for b in row]
        assert data == [
            "preset:hashprice_low",
            "preset:difficulty_3pct",
            "preset:retarget",
            "preset:filings",
            "preset:ercot_spike",
            "preset:digest",
        ]
        assert all(len(row) <= 2 for row in rows)


async def test_each_tap_sets_canonical_rules_in_a_private_chat(tmp_path, tg):
    async with running_bot(bot_settings(tmp_path, tg, ALL_ON), FakeClock(NOW)) as (_app, svc):
        await svc.db(observations.insert_observations, [Observation("hashprice", 51.3, NOW, "mempool")])

        before = len(tg.sent(chat_id=CHAT))
        answer = await tap(tg, "preset:hashprice_low")
        assert answer["text"] == "Alert set: hashprice < 46"
        said = await confirmation(tg, CHAT, before)
        assert "✅ Alert set: <code>hashprice &lt; 46</code>" in said
        assert "10% under the current hashprice $51.30/PH/day" in said

        before = len(tg.sent(chat_id=CHAT))
        answer = await tap(tg, "preset:difficulty_3pct")
        said = await confirmation(tg, CHAT, before)
        assert "difficulty.next_change > 3%" in answer["text"] and "< -3%" in answer["text"]
        assert said.count("✅ Alert set") == 2

        for name in ("retarget", "filings", "ercot_spike", "digest"):
            before = len(tg.sent(chat_id=CHAT))
            await tap(tg, f"preset:{name}")
            await confirmation(tg, CHAT, before)
        assert "/tz America/Chicago" in tg.sent(chat_id=CHAT)[-1]["text"]  # the digest's time zone

        assert await texts(svc) == [
            "hashprice < 46",
            "difficulty.next_change > 3%",
            "difficulty.next_change < -3%",
            "retarget",
            "filings",
            "power.hb_west > 150",
            "digest 08:00",
        ]
        rows = await svc.db(rule_store.list_rules, CHAT)
        assert {r["text"]: r["metric"] for r in rows}["digest 08:00"] == "event:digest"
        assert {r["text"]: r["kind"] for r in rows}["power.hb_west > 150"] == "threshold"

        # The same tap again stores nothing twice.
        before = len(tg.sent(chat_id=CHAT))
        answer = await tap(tg, "preset:retarget")
        assert answer["text"] == "Already set in this chat."
        assert "already has <code>retarget</code>" in await confirmation(tg, CHAT, before)
        assert len(await texts(svc)) == 7

        # /alerts agrees with what the buttons set.
        tg.push_command("/alerts", chat_id=CHAT, user_id=CHAT)
        before = len(tg.sent(chat_id=CHAT))
        assert "7. <code>digest 08:00</code>" in await confirmation(tg, CHAT, before)


async def test_hashprice_preset_without_data_uses_the_default(tmp_path, tg):
    async with running_bot(bot_settings(tmp_path, tg), FakeClock(NOW)) as (_app, svc):
        before = len(tg.sent(chat_id=CHAT))
        await tap(tg, "preset:hashprice_low")
        said = await confirmation(tg, CHAT, before)
        assert "hashprice &lt; 45" in said and "No hashprice observed yet" in said
        assert await texts(svc) == ["hashprice < 45"]


async def test_group_admin_may_tap_member_may_not(tmp_path, tg):
    tg.admins[GROUP] = {ADMIN}
    async with running_bot(bot_settings(tmp_path, tg), FakeClock(NOW)) as (_app, svc):
        answer = await tap(tg, "preset:retarget", chat_id=GROUP, user_id=MEMBER, chat_type="group")
        assert answer["text"] == "Only this group's administrators can add alerts."
        assert str(answer["show_alert"]).lower() == "true"  # a pop-up, not a toast
        assert await texts(svc, GROUP) == []
        assert tg.sent(chat_id=GROUP) == []  # no confirmation in the group

        before = len(tg.sent(chat_id=GROUP))
        answer = await tap(tg, "preset:retarget", chat_id=GROUP, user_id=ADMIN, chat_type="group")
        assert answer["text"] == "Alert set: retarget"
        assert "✅ Alert set: <code>retarget</code>" in await confirmation(tg, GROUP, before)
        assert await texts(svc, GROUP) == ["retarget"]


async def test_stale_button_and_rule_limit(tmp_path, tg):
    settings = bot_settings(tmp_path, tg, {"alerts": {"max_rules_per_chat": 1}})
    async with running_bot(settings, FakeClock(NOW)) as (_app, svc):
        answer = await tap(tg, "preset:no_such_thing")
        assert "no longer offered" in answer["text"]

        before = len(tg.sent(chat_id=CHAT))
        answer = await tap(tg, "preset:difficulty_3pct")
        said = await confirmation(tg, CHAT, before)
        assert answer["text"] == "Alert set: difficulty.next_change > 3%"
        assert "❌ Not set: <code>difficulty.next_change &lt; -3%</code>" in said
        assert await texts(svc) == ["difficulty.next_change > 3%"]


async def test_presets_and_welcome_of_disabled_watchers_are_hidden(tmp_path, tg):
    """Issue 12 item 15: the shipped config has power and filings off; their presets, /start lines
    and old buttons would set alerts that can never fire."""
    async with running_bot(bot_settings(tmp_path, tg), FakeClock(NOW)) as (_app, svc):
        tg.push_command("/start", chat_id=CHAT, user_id=CHAT)
        await tg.wait_for(lambda: bool(tg.sent(chat_id=CHAT)))
        msg = tg.sent(chat_id=CHAT)[-1]
        assert "ERCOT" not in msg["text"] and "filings" not in msg["text"]
        assert "/alert difficulty.next_change &gt; 3%" in msg["text"]
        data = [b["callback_data"] for row in msg["reply_markup"]["inline_keyboard"] for b in row]
        assert data == ["preset:hashprice_low", "preset:difficulty_3pct", "preset:retarget", "preset:digest"]
        for name in ("filings", "ercot_spike"):  # a keyboard sent before the operator turned them off
            assert "no longer offered" in (await tap(tg, f"preset:{name}"))["text"]
        assert await texts(svc) == []
