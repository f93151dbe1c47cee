"""Channels: [[broadcast]] entries from config.toml and /channel from the bot's admins; a
channel gets one message per event however many of its rules match."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine.ingest import ingest
from bot.settings import ConfigError, load_settings
from rules.data import Event
from storage import rules as rule_store
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.harness import FakeClock, running_bot
from watchers.base import PollResult

CHANNEL_ID = -1001234567890
ADMIN = 99


def config(tmp_path: Path, tg: FakeTelegram, rules: list[str]) -> Path:
    path = tmp_path / "config.toml"
    quoted = ", ".join(f'"{r}"' for r in rules)
    path.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\nbase_url = "{tg.base_url}"\nadmins = [{ADMIN}]\n'
        f'[storage]\npath = "{tmp_path / "db.sqlite"}"\n[watchers.network]\nenabled = false\n'
        f"[http]\nenabled = false\n"
        f'[[broadcast]]\nchat = "@miner_alerts"\nrules = [{quoted}]\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def tg():
    fake = FakeTelegram()
    fake.known_chats["@miner_alerts"] = {
        "id": CHANNEL_ID,
        "type": "channel",
        "title": "Miner alerts",
        "username": "miner_alerts",
    }
    await fake.start()
    yield fake
    await fake.stop()


def filing_event(key: str = "filing:0001493152-24-000001") -> Event:
    from datetime import UTC, datetime

    return Event(
        "filing",
        key,
        datetime(2024, 11, 21, 21, 5, tzinfo=UTC),
        "edgar",
        {
            "ticker": "MARA",
            "company": "MARA Holdings",
            "form": "8-K",
            "kind": "convertible_notes",
            "amount_usd": 1e9,
            "summary": "MARA Holdings (MARA) · 8-K · $1B convertible notes due 2030, 0%",
            "url": "https://www.sec.gov/Archives/edgar/data/1507605/x-index.htm",
        },
    )


async def channel_texts(svc) -> list[str]:
    return [r["text"] for r in await svc.db(rule_store.list_rules, CHANNEL_ID)]


async def test_broadcast_rules_synced_and_one_message_per_event(tmp_path, tg):
    clock = FakeClock()
    settings = load_settings(config(tmp_path, tg, ["filings", "filings MARA", "retarget"]))
    async with running_bot(settings, clock) as (_app, svc):
        assert await channel_texts(svc) == ["filings", "filings MARA", "retarget"]
        now = clock()
        await svc.db(ingest, "filings", PollResult(events=[filing_event()]), {}, now, svc.pipeline.opts)
        # the same filing seen again (restart, catch-up): never announced twice
        await svc.db(ingest, "filings", PollResult(events=[filing_event()]), {}, now, svc.pipeline.opts)
        assert await svc.notifier.drain() == 1
        sent = tg.sent(chat_id=CHANNEL_ID)
        assert len(sent) == 1 and "$1B convertible notes" in sent[0]["text"]

    # Config changed: its rules follow the file; rules added with /channel stay.
    settings = load_settings(config(tmp_path, tg, ["retarget", "difficulty.next_change > 5%"]))
    async with running_bot(settings, clock) as (_app, svc):
        tg.push_command("/channel @miner_alerts alert hashprice < 40", chat_id=ADMIN, user_id=ADMIN)
        await tg.wait_for(lambda: len(tg.sent(chat_id=ADMIN)) == 1)
        assert "hashprice &lt; 40" in tg.sent(chat_id=ADMIN)[-1]["text"]
    async with running_bot(settings, clock) as (_app, svc):
        assert sorted(await channel_texts(svc)) == sorted(
            ["retarget", "difficulty.next_change > 5%", "hashprice < 40"]
        )


async def test_channel_command_is_for_bot_admins_only(tmp_path, tg):
    settings = load_settings(config(tmp_path, tg, ["retarget"]))
    async with running_bot(settings, FakeClock()) as (_app, svc):
        tg.push_command("/channel @miner_alerts alert price > 100k", chat_id=5, user_id=5)
        await tg.wait_for(lambda: len(tg.sent(chat_id=5)) == 1)
        assert "Only the bot's admins" in tg.sent(chat_id=5)[-1]["text"]
        tg.push_command("/channel @nosuch alert retarget", chat_id=ADMIN, user_id=ADMIN)
        await tg.wait_for(lambda: len(tg.sent(chat_id=ADMIN)) == 1)
        assert "cannot reach @nosuch" in tg.sent(chat_id=ADMIN)[-1]["text"]
        tg.push_command("/channel @miner_alerts alert price >> 1", chat_id=ADMIN, user_id=ADMIN)
        await tg.wait_for(lambda: len(tg.sent(chat_id=ADMIN)) == 2)
        assert "Example" in tg.sent(chat_id=ADMIN)[-1]["text"]
        # the same checks as /alert: a channel has no fleet, so a fleet metric is refused
        reply = await tg.command("/channel @miner_alerts alert margin < 15%", chat_id=ADMIN)
        assert "depends on a fleet" in reply and "@miner_alerts has none" in reply
        assert await channel_texts(svc) == ["retarget"]


def test_bad_broadcast_entry_fails_at_start_naming_it(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[[broadcast]]\nchat = "@x"\nrules = ["retarget", "hashprize < 3"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broadcast\.0\.rules.*rule 2"):
        load_settings(path)
    path.write_text('[[broadcast]]\nchat = "mychannel"\nrules = ["retarget"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broadcast\.0\.chat"):
        load_settings(path)


async def test_pinned_status_is_posted_once_then_edited_in_place(tmp_path, tg):
    from types import SimpleNamespace

    from bot.delivery.pinned_status import refresh_pinned_status
    from rules.data import Observation

    path = config(tmp_path, tg, ["retarget"])
    path.write_text(path.read_text(encoding="utf-8") + "pinned_status = true\n", encoding="utf-8")
    clock = FakeClock()
    async with running_bot(load_settings(path), clock) as (app, svc):
        ctx = SimpleNamespace(bot_data=app.bot_data, bot=app.bot)

        async def observe(value: float) -> None:
            obs = [Observation("hashprice", value, clock(), "mempool")]
            await svc.db(ingest, "network", PollResult(observations=obs), {}, clock(), svc.pipeline.opts)

        await observe(54.2)
        assert await refresh_pinned_status(ctx) == 1
        assert "$54.20/PH/day" in tg.sent(chat_id=CHANNEL_ID)[-1]["text"]
        assert len(tg.sent("pinChatMessage", chat_id=CHANNEL_ID)) == 1

        assert await refresh_pinned_status(ctx) == 0  # nothing changed: no edit, no post

        clock.advance(300)
        await observe(51.0)
        assert await refresh_pinned_status(ctx) == 1
        edits = tg.sent("editMessageText", chat_id=CHANNEL_ID)
        assert len(edits) == 1 and "$51.00/PH/day" in edits[0]["text"]
        assert len(tg.sent(chat_id=CHANNEL_ID)) == 1  # still one post in the channel

        # The channel's admins deleted it: posted and pinned again.
        tg.fail_next(
            "editMessageText",
            400,
            {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"},
        )
        clock.advance(300)
        await observe(49.0)
        assert await refresh_pinned_status(ctx) == 1
        assert len(tg.sent(chat_id=CHANNEL_ID)) == 2
        assert len(tg.sent("pinChatMessage", chat_id=CHANNEL_ID)) == 2


async def test_channel_delete_takes_the_forms_of_delete_and_clears_a_pause(tmp_path, tg):
    """``/channel @x delete`` takes numbers, ranges and ``all`` like /delete, names the problem in
    its own form, and a deleted rule's pause goes with it (a later rule may get its id)."""
    from storage import chats

    clock = FakeClock()
    settings = load_settings(config(tmp_path, tg, ["retarget"]))
    async with running_bot(settings, clock) as (_app, svc):
        for rule in ("filings", "filings MARA", "price < 50k"):
            assert "Alert set" in await tg.command(f"/channel @miner_alerts alert {rule}", user_id=ADMIN)
        ids = {r["text"]: r["id"] for r in await svc.db(rule_store.list_rules, CHANNEL_ID)}
        await svc.db(chats.update_settings, CHANNEL_ID, clock(), paused_rules=frozenset({ids["filings"]}))

        bad = await tg.command("/channel @miner_alerts delete 3-2", user_id=ADMIN)
        assert "runs backwards" in bad and "<code>/channel @miner_alerts delete 2-3</code>" in bad
        over = await tg.command("/channel @miner_alerts delete 9", user_id=ADMIN)
        assert "no alert number 9" in over and "@miner_alerts has 4" in over

        done = await tg.command("/channel @miner_alerts delete 2-3", user_id=ADMIN)
        assert "🗑 Deleted from @miner_alerts" in done and "<code>filings MARA</code>" in done
        assert await channel_texts(svc) == ["retarget", "price < 50k"]
        assert not (await svc.db(chats.get_settings, CHANNEL_ID)).paused_rules

        assert "🗑" in await tg.command("/channel @miner_alerts delete all", user_id=ADMIN)
        assert await channel_texts(svc) == []
