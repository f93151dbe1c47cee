"""Issue 13 item 4, /settings: every per-chat setting in one message, each changed with a tap.
Every button is driven as a real callback_query through the fake Bot API; in groups only
administrators' taps count; forged or garbled data changes nothing and says so. And the per-chat
"resolved notices" choice is honoured on both engine paths (database and in-memory index)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.engine.dbworker import DbWorker
from bot.engine.ingest import ingest
from bot.engine.rule_eval import IngestOptions
from bot.engine.runner import Pipeline
from bot.handlers.settings_menu import ACTIONS, CALLBACK_PREFIX
from rules.data import Observation
from storage import chats
from storage import rules as rule_store
from storage.db import open_db
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from watchers.base import PollContext, PollResult

CHAT = 5151
GROUP = -5252
ADMIN, MEMBER = 61, 62
NOW = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # a Monday; 08:00 in Chicago (CST, UTC-6)


async def tap(
    tg: FakeTelegram, data: str, *, chat_id: int = CHAT, user_id: int | None = None, edit: bool = True, **kw
) -> dict:
    """Tap a button; return the answerCallbackQuery the bot sent for it (after the menu's edit,
    when ``edit``: a change is answered, then the menu is edited in place)."""
    edits = len(tg.attempts("editMessageText", chat_id))
    update = tg.push_callback(data, chat_id=chat_id, user_id=chat_id if user_id is None else user_id, **kw)
    query_id = update["callback_query"]["id"]

    def answered() -> list[dict]:
        return [a for a in tg.sent("answerCallbackQuery") if a["callback_query_id"] == query_id]

    await tg.wait_for(lambda: bool(answered()))
    if edit:
        await tg.wait_for(lambda: len(tg.attempts("editMessageText", chat_id)) > edits)
    return answered()[0]


def buttons(markup: dict) -> dict[str, str]:
    """callback data -> label."""
    return {b["callback_data"]: b["text"] for row in markup["inline_keyboard"] for b in row}


@pytest.fixture
async def bot(tmp_path, tg):
    tg.admins[GROUP] = {ADMIN}
    async with running_bot(bot_settings(tmp_path, tg), FakeClock(NOW)) as (_app, svc):
        yield tg, svc


async def open_menu(
    tg: FakeTelegram, chat_id: int = CHAT, user_id: int | None = None, chat_type: str = "private"
):
    before = len(tg.sent(chat_id=chat_id))
    tg.push_command("/settings", chat_id=chat_id, user_id=user_id or chat_id, chat_type=chat_type)
    await tg.wait_for(lambda: len(tg.sent(chat_id=chat_id)) > before)
    return tg.sent(chat_id=chat_id)[-1]


async def test_settings_shows_every_setting_with_its_command(bot) -> None:
    tg, _svc = bot
    await tg.command("/tz America/Chicago", chat_id=CHAT)
    await tg.command("/fleet 18 0.045 hosting 0.01 hub HB_WEST", chat_id=CHAT)
    await tg.command("/quiet 22:00-06:00", chat_id=CHAT)
    menu = await open_menu(tg)
    text = menu["text"]
    assert "Time zone: America/Chicago (now Mon 7 Dec 08:00 CST) · /tz" in text
    assert "Quiet hours: 22:00-06:00 America/Chicago · /quiet" in text
    assert "Fleet: 18 J/TH, $0.045/kWh power + $0.01/kWh hosting; hub HB_WEST · /fleet" in text
    assert "Resolved notices: on (the bot's default)" in text
    assert "Daily digest: off" in text and "Alerts: on · /mute" in text and "Snooze: off · /snooze" in text
    data = buttons(menu["reply_markup"])
    assert set(data) == {
        "s:mute:1", "s:snz:1h", "s:snz:8h", "s:snz:1d", "s:res:0", "s:dg:1", "s:q:0", "s:r",
    }  # fmt: skip
    assert all(len(d.encode()) <= 64 for d in data)


@pytest.mark.parametrize(
    ("data", "toast", "check", "line"),
    [
        ("s:mute:1", "Muted", lambda s, _r: s.muted, "Alerts: muted · /unmute"),
        ("s:snz:8h", "until Mon 7 Dec 16:00 CST", lambda s, _r: s.snooze_until is not None, "Snooze: until"),
        ("s:res:0", "Resolved notices off", lambda s, _r: s.send_resolved is False, "Resolved notices: off"),
        (
            "s:dg:1",
            "Daily digest on",
            lambda _s, r: r == ["digest 08:00"],
            "Daily digest: 08:00 America/Chicago",
        ),
        (
            "s:q:1",
            "Quiet hours 22:00-07:00 America/Chicago",
            lambda s, _r: s.quiet is not None,
            "Quiet hours: 22",
        ),
    ],
)
async def test_each_button_changes_its_setting_and_the_menu_in_place(bot, data, toast, check, line) -> None:
    tg, svc = bot
    await tg.command("/tz America/Chicago", chat_id=CHAT)
    answer = await tap(tg, data, message_id=4711)
    assert toast in answer["text"]
    settings = await svc.db(chats.get_settings, CHAT)
    digests = [r["text"] for r in await svc.db(rule_store.chat_rules_for_metric, CHAT, "event:digest")]
    assert check(settings, digests)
    edit = tg.sent("editMessageText", chat_id=CHAT)[-1]
    assert int(edit["message_id"]) == 4711  # the menu itself, edited in place
    assert line in edit["text"]


async def test_each_button_has_its_way_back(bot) -> None:
    """The opposite buttons undo, the edited keyboard offers them, and a repeated tap (an old menu)
    does the same thing again instead of toggling back."""
    tg, svc = bot
    for on, off in (
        ("s:mute:1", "s:mute:0"),
        ("s:res:0", "s:res:1"),
        ("s:dg:1", "s:dg:0"),
        ("s:q:1", "s:q:0"),
    ):
        await tap(tg, on)
        assert off in buttons(tg.sent("editMessageText", chat_id=CHAT)[-1]["reply_markup"])
        await tap(tg, on)  # the same tap on an old copy of the menu: still on, nothing doubled
        await tap(tg, off)
        assert on in buttons(tg.sent("editMessageText", chat_id=CHAT)[-1]["reply_markup"])
    settings = await svc.db(chats.get_settings, CHAT)
    assert not settings.muted and settings.send_resolved is True and settings.quiet is None
    assert await svc.db(rule_store.chat_rules_for_metric, CHAT, "event:digest") == []
    await tap(tg, "s:snz:1h")
    assert "s:snz:off" in buttons(tg.sent("editMessageText", chat_id=CHAT)[-1]["reply_markup"])
    assert "Snooze lifted" in (await tap(tg, "s:snz:off"))["text"]
    assert (await svc.db(chats.get_settings, CHAT)).snooze_until is None
    assert "Up to date" in (await tap(tg, "s:r"))["text"]


async def test_the_digest_button_adds_a_rule_the_digest_job_serves(bot) -> None:
    from bot.delivery.digest import due_digests

    tg, svc = bot
    await tap(tg, "s:dg:1")  # 08:00 UTC: set after today's, so first due tomorrow
    assert [d.chat_id for d in await svc.db(due_digests, NOW + timedelta(days=1))] == [CHAT]


@pytest.mark.parametrize("data", ["s:mute:1", "s:snz:1d", "s:res:0", "s:dg:1", "s:q:1"])
async def test_in_groups_only_admins_taps_count(bot, data) -> None:
    tg, svc = bot
    await open_menu(tg, GROUP, MEMBER, "supergroup")  # anyone may look
    answer = await tap(tg, data, chat_id=GROUP, user_id=MEMBER, chat_type="supergroup", edit=False)
    assert "Only this group's administrators" in answer["text"] and answer.get("show_alert") in (True, "true")
    settings = await svc.db(chats.get_settings, GROUP)
    assert not settings.muted and settings.snooze_until is None and settings.send_resolved is None
    assert (
        settings.quiet is None and await svc.db(rule_store.chat_rules_for_metric, GROUP, "event:digest") == []
    )
    assert tg.sent("editMessageText", chat_id=GROUP) == []
    answer = await tap(tg, data, chat_id=GROUP, user_id=ADMIN, chat_type="supergroup")
    assert "administrators" not in answer["text"]
    assert len(tg.sent("editMessageText", chat_id=GROUP)) == 1


@pytest.mark.parametrize(
    "data",
    [
        "s:mute:2",
        "s:snz:999d",
        "s:snz:-1h",
        "s:res",
        "s:",
        "s:dg:1:1",
        "s:mute:1\x00",
        "s:q:1 ",
        "s:" + "x" * 62,
    ],
)
async def test_forged_or_garbled_data_changes_nothing_and_says_so(bot, data) -> None:
    tg, svc = bot
    before = (await svc.db(chats.get_chat, CHAT) or {}).get("settings")
    answer = await tap(tg, data, edit=False)
    assert "not one I sent" in answer["text"] and "nothing was changed" in answer["text"]
    assert (await svc.db(chats.get_chat, CHAT) or {}).get("settings") == before
    assert tg.sent("editMessageText", chat_id=CHAT) == []


def test_every_action_is_a_target_state_under_64_bytes() -> None:
    for data in ACTIONS:
        assert len((CALLBACK_PREFIX + data).encode()) <= 64
        assert "toggle" not in data


# ---- the chat's choice is honoured where resolves are queued ---------------------------------------

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class ValueWatcher:
    id = "net"

    def __init__(self) -> None:
        self.value = 50.0

    async def poll(self, ctx: PollContext) -> PollResult:
        return PollResult([Observation("hashprice", self.value, ctx.now, "test")])


def _reasons(db: DbWorker) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for row in db.db["outbox"].rows:
        out.setdefault(row["chat_id"], []).append(row["reason"])
    return out


def _chats(db: DbWorker) -> None:
    for chat_id, choice in ((1, None), (2, False), (3, True)):
        chats.ensure_chat(db.db, chat_id, "private", None, T0)
        chats.update_settings(db.db, chat_id, T0, send_resolved=choice)
        rule_store.add_rule(db.db, chat_id, "hashprice < 45", "hashprice", "threshold", T0, max_rules=10)


@pytest.mark.parametrize("bot_default", [True, False])
async def test_resolved_notices_follow_the_chats_choice_on_the_database_path(tmp_path, bot_default) -> None:
    db = DbWorker(open_db(tmp_path / "db.sqlite"))
    try:
        _chats(db)
        opts = IngestOptions(links={}, send_resolved=bot_default)
        for minute, value in ((1, 44.0), (2, 50.0)):
            at = T0 + timedelta(minutes=minute)
            result = PollResult([Observation("hashprice", value, at, "test")])
            await db(ingest, "net", result, {}, at, opts)
        got = _reasons(db)
        assert got[1] == (["firing", "resolved"] if bot_default else ["firing"])  # follows the bot
        assert got[2] == ["firing"]  # the chat said off
        assert got[3] == ["firing", "resolved"]  # the chat said on
    finally:
        db.close()


@pytest.mark.parametrize("bot_default", [True, False])
async def test_resolved_notices_follow_the_chats_choice_on_the_index_path(tmp_path, bot_default) -> None:
    db = DbWorker(open_db(tmp_path / "db.sqlite"))
    clock = FakeClock(T0)
    try:
        _chats(db)
        pipeline = Pipeline(db, clock, IngestOptions(links={}, send_resolved=bot_default))
        watcher = ValueWatcher()
        for value in (50.0, 44.0, 50.0):
            clock.advance(60)
            watcher.value = value
            outcome = await pipeline.run_watcher(watcher, session=None)  # type: ignore[arg-type]
            assert outcome.ok, outcome.error
        got = _reasons(db)
        assert got[1] == (["firing", "resolved"] if bot_default else ["firing"])
        assert got[2] == ["firing"]
        assert got[3] == ["firing", "resolved"]
    finally:
        db.close()
