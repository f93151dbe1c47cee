"""Issue 13, items 1 and 2: managing alerts by tapping. /alerts with each rule's state and value,
the rule card's buttons (snooze, pause/resume, chart, delete with confirmation and undo), bulk
/delete, pagination, buttons under alert messages, and taps that must change nothing (non-admins,
forged data, another chat's rule, a deleted rule). Every tap is a real callback_query update
through the real application and the fake Bot API on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.engine.routing import delivery_status
from bot.handlers.rule_buttons import (
    ADMINS_ONLY,
    GARBLED,
    GONE,
    OTHER_CHAT,
    PositionsError,
    chosen_positions,
    parse_positions,
)
from bot.handlers.rule_views import parse_tap, rule_data
from rules.catalogue import format_value
from rules.chat_settings import ChatSettings
from rules.data import Observation
from storage import chats, outbox
from storage import rules as rule_store
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from watchers.base import PollContext, PollResult

CHAT, OTHER = 4242, 5353
GROUP, ADMIN, MEMBER = -1001234, 111, 222
NOW = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)  # 07:00 CDT in Chicago


class Scripted:
    """A watcher serving whatever the test sets, through the real runner and pipeline."""

    id = "network"

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    async def poll(self, ctx: PollContext) -> PollResult:
        return PollResult([Observation(m, v, ctx.now, "mempool") for m, v in self.values.items()])


@pytest.fixture
async def bot(tmp_path, tg):
    clock = FakeClock(NOW)
    async with running_bot(bot_settings(tmp_path, tg), clock) as (_app, svc):
        yield tg, svc, clock


async def poll(svc, **values: float) -> int:  # type: ignore[no-untyped-def]
    """One poll of ``values`` through the pipeline (rule cache included), then one drain."""
    watcher = Scripted()
    watcher.values = values
    outcome = await svc.pipeline.run_watcher(watcher, svc.session)
    assert outcome.ok, outcome.error
    return await svc.notifier.drain()


async def say(
    tg: FakeTelegram, text: str, chat_id: int = CHAT, user_id: int | None = None, chat_type: str = "private"
) -> dict[str, Any]:
    """Send a command; return the bot's reply (text and reply_markup)."""
    before = len(tg.sent(chat_id=chat_id))
    tg.push_command(
        text, chat_id=chat_id, user_id=chat_id if user_id is None else user_id, chat_type=chat_type
    )
    await tg.wait_for(lambda: len(tg.sent(chat_id=chat_id)) > before)
    return tg.sent(chat_id=chat_id)[-1]


async def tap(
    tg: FakeTelegram,
    data: str,
    *,
    chat_id: int = CHAT,
    user_id: int | None = None,
    chat_type: str = "private",
    then: str | None = None,
) -> dict[str, Any]:
    """Tap a button; return the answerCallbackQuery. With ``then`` (a method name), also wait
    for the bot's following call of that method (an edit, a photo)."""
    before = len(tg.sent(then)) if then else 0
    update = tg.push_callback(
        data, chat_id=chat_id, user_id=chat_id if user_id is None else user_id, chat_type=chat_type
    )
    query_id = update["callback_query"]["id"]

    def answered() -> list[dict[str, Any]]:
        return [a for a in tg.sent("answerCallbackQuery") if a["callback_query_id"] == query_id]

    await tg.wait_for(lambda: bool(answered()))
    if then:
        await tg.wait_for(lambda: len(tg.sent(then)) > before)
    return answered()[0]


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """{label: callback_data} of a message's (or an edit's) inline keyboard."""
    markup = message.get("reply_markup") or {}
    return {b["text"]: b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row}


def last_edit(tg: FakeTelegram) -> dict[str, Any]:
    return tg.sent("editMessageText")[-1]


async def rules_of(svc, chat_id: int = CHAT) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return await svc.db(rule_store.list_rules, chat_id)


async def settings_of(svc, chat_id: int = CHAT) -> ChatSettings:  # type: ignore[no-untyped-def]
    return await svc.db(chats.get_settings, chat_id)


# ---- pure pieces -------------------------------------------------------------------------------


def test_callback_data_is_compact_and_parses_back():
    longest = rule_data("dy", 999_999_999_999, "x" * 200)
    assert len(longest.encode()) <= 64
    tap_ = parse_tap(rule_data("s1", 17, "hashprice < 45", alert=True))
    assert tap_ is not None and (tap_.action, tap_.rule_id, tap_.alert) == ("s1", 17, True)
    for forged in [
        "r:",
        "r:zz:1:abcd",
        "r:p:x:abcd",
        "r:p:1",
        "r:p:1:ABCD",
        "r:dy:1:abcd:m",
        "r:pg:99999",
        "r:u:1",
    ]:
        assert parse_tap(forged) is None, forged


def test_positions_of_bulk_delete():
    def positions(arg: str, count: int = 9) -> list[int] | None:
        spans = parse_positions(arg)
        return None if spans is None else chosen_positions(spans, count)

    assert positions("2 5 7") == [2, 5, 7]
    assert positions("3-5, 4 9") == [3, 4, 5, 9]
    assert positions("ALL") is None
    for bad, says in [
        ("", "/delete 2 5 7"),
        ("2 x", "x is not"),
        ("5-3", "/delete 3-5"),
        ("2 10", "no alert number 10"),
        ("1-99999", "no alert number 99999"),
    ]:
        with pytest.raises(PositionsError, match=says):
            positions(bad)


def test_paused_rules_round_trip_and_drop_alerts():
    settings = ChatSettings().changed(paused_rules={3, 1})
    assert settings.to_json() == '{"paused_rules": [1, 3]}'
    assert ChatSettings.from_json(settings.to_json()).paused_rules == {1, 3}
    assert ChatSettings.from_json('{"paused_rules": [true, "2", 4]}').paused_rules == {4}  # garbage ignored
    assert ChatSettings().to_json() == "{}"  # no key while empty
    assert delivery_status(settings, 3, severe=True, now=NOW) is None
    assert delivery_status(settings, 2, severe=False, now=NOW) == outbox.PENDING


# ---- /alerts ------------------------------------------------------------------------------------


async def test_alerts_lists_state_and_value_in_the_chats_zone(bot):
    tg, svc, clock = bot
    await say(tg, "/tz America/Chicago")
    for rule in ("hashprice < 45", "hashprice < 50 for 1h", "price > 100k", "retarget"):
        assert "Alert set" in (await say(tg, f"/alert {rule}"))["text"]
    await poll(svc, hashprice=44.0, price=60_000)
    clock.advance(600)
    await poll(svc, hashprice=44.0, price=60_000)
    paused_id = (await rules_of(svc))[2]["id"]
    await svc.db(chats.update_settings, CHAT, NOW, paused_rules={paused_id})

    listing = await say(tg, "/alerts")
    text = listing["text"]
    hp = format_value("hashprice", 44.0)
    assert "<b>Alerts in this chat</b> (4)" in text
    assert f"1. <code>hashprice &lt; 45</code>\n      🔴 firing since Sun 31 Mar 07:00 CDT · now {hp}" in text
    assert (
        f"2. <code>hashprice &lt; 50 for 1h</code>\n      🟡 pending since Sun 31 Mar 07:00 CDT · now {hp}"
        in text
    )
    assert "3. <code>price &gt; 100k</code>\n      🟢 ok · ⏸ paused · now $60,000" in text
    assert "4. <code>retarget</code>\n      📣 on each event" in text
    assert "<code>/delete 2 5 7</code>" in text
    assert list(buttons(listing)) == ["1", "2", "3", "4"]  # one page: numbers, no ◀ ▶

    # an old value says when it is from
    clock.advance(3600)
    text = (await say(tg, "/alerts"))["text"]
    assert f"now {hp} (as of Sun 31 Mar 07:10 CDT)" in text
    # the chat-wide silence is said once, above the list
    await say(tg, "/mute")
    text = (await say(tg, "/alerts"))["text"]
    assert text.split("\n")[1] == "🔇 All alerts are muted: /unmute to hear them again."


async def test_pagination_edits_the_list_in_place(bot):
    tg, _svc, _clock = bot
    for n in range(1, 24):
        await say(tg, f"/alert price > {n}k")
    first = await say(tg, "/alerts")
    assert (
        "(23) · page 1/3" in first["text"] and "10. <code>" in first["text"] and "11. " not in first["text"]
    )
    keys = buttons(first)
    assert list(keys) == [str(n) for n in range(1, 11)] + ["Next ▶"]
    assert len(first["reply_markup"]["inline_keyboard"]) == 3  # 5 numbers a row, then ▶
    await tap(tg, keys["Next ▶"], then="editMessageText")
    second = last_edit(tg)
    assert "page 2/3" in second["text"] and "11. <code>price &gt; 11k</code>" in second["text"]
    assert list(buttons(second)) == [str(n) for n in range(11, 21)] + ["◀ Previous", "Next ▶"]
    await tap(tg, buttons(second)["Next ▶"], then="editMessageText")
    third = last_edit(tg)
    assert list(buttons(third)) == ["21", "22", "23", "◀ Previous"]
    assert "23. <code>price &gt; 23k</code>" in third["text"]
    # deleting them all names ten and counts the rest
    ask = await say(tg, "/delete all")
    await tap(tg, buttons(ask)["🗑 Delete all 23"], then="editMessageText")
    done = last_edit(tg)["text"].split("\n")
    assert done[0] == "🗑 Deleted 23 alerts:" and done[-2:] == ["… and 13 more", "Undo within 10 minutes."]


# ---- the rule card ------------------------------------------------------------------------------


async def test_card_snooze_pause_resume(bot):
    tg, svc, _clock = bot
    await say(tg, "/tz America/Chicago")
    await say(tg, "/alert hashprice < 45")
    rule_id = (await rules_of(svc))[0]["id"]
    listing = await say(tg, "/alerts")
    await tap(tg, buttons(listing)["1"], then="editMessageText")
    card = last_edit(tg)
    assert card["text"].startswith("<b>Alert 1</b> of 1\n<code>hashprice &lt; 45</code>")
    keys = buttons(card)
    assert list(keys) == ["😴 1h", "😴 1d", "⏸ Pause", "📈 Chart", "🗑 Delete", "« Alerts"]

    answer = await tap(tg, keys["😴 1h"], then="editMessageText")
    assert answer["text"] == "😴 Snoozed until Sun 31 Mar 08:00 CDT: hashprice < 45"
    assert (await settings_of(svc)).snooze_rules == {rule_id: NOW + timedelta(hours=1)}
    assert "😴 snoozed until Sun 31 Mar 08:00 CDT" in last_edit(tg)["text"]
    await tap(tg, keys["😴 1d"], then="editMessageText")
    assert (await settings_of(svc)).snooze_rules == {rule_id: NOW + timedelta(days=1)}

    answer = await tap(tg, keys["⏸ Pause"], then="editMessageText")
    assert answer["text"].startswith("⏸ Paused")
    assert (await settings_of(svc)).paused_rules == {rule_id}
    card = last_edit(tg)
    assert "⏸ paused" in card["text"] and "▶ Resume" in buttons(card)
    await tap(tg, buttons(card)["▶ Resume"], then="editMessageText")
    assert (await settings_of(svc)).paused_rules == set()
    assert "⏸ Pause" in buttons(last_edit(tg))

    await tap(tg, keys["« Alerts"], then="editMessageText")
    assert last_edit(tg)["text"].startswith("<b>Alerts in this chat</b> (1)")


async def test_card_delete_confirm_and_undo(bot):
    tg, svc, clock = bot
    await say(tg, "/alert hashprice < 45")
    await say(tg, "/alert price > 100k")
    first, second = await rules_of(svc)
    await tap(tg, rule_data("p", first["id"], first["text"]), then="editMessageText")  # paused, then deleted
    await tap(tg, rule_data("d", first["id"], first["text"]), then="editMessageText")
    ask = last_edit(tg)
    assert ask["text"] == "Delete <code>hashprice &lt; 45</code>?"
    assert list(buttons(ask)) == ["🗑 Yes, delete", "Cancel"]
    assert len(await rules_of(svc)) == 2  # asking deletes nothing

    await tap(tg, buttons(ask)["🗑 Yes, delete"], then="editMessageText")
    done = last_edit(tg)
    assert done["text"] == "🗑 Deleted: <code>hashprice &lt; 45</code>\nUndo within 10 minutes."
    assert [r["id"] for r in await rules_of(svc)] == [second["id"]]
    assert (await settings_of(svc)).paused_rules == set()  # no stale pause for a reused id

    clock.advance(9 * 60)
    answer = await tap(tg, buttons(done)["↩ Undo"], then="editMessageText")
    assert answer["text"] == "↩ Restored"
    assert "↩ Restored: <code>hashprice &lt; 45</code>" in last_edit(tg)["text"]
    restored = await rules_of(svc)
    assert [(r["id"], r["text"]) for r in restored] == [
        (first["id"], first["text"]),
        (second["id"], second["text"]),
    ]
    assert (await settings_of(svc)).paused_rules == {first["id"]}  # as it was
    # an undo is spent once
    answer = await tap(tg, buttons(done)["↩ Undo"], then="editMessageReplyMarkup")
    assert "Too late to undo" in answer["text"]
    assert len(await rules_of(svc)) == 2

    # after ten minutes the undo has gone
    await tap(tg, rule_data("dy", second["id"], second["text"]), then="editMessageText")
    late = last_edit(tg)
    clock.advance(10 * 60 + 1)
    answer = await tap(tg, buttons(late)["↩ Undo"], then="editMessageReplyMarkup")
    assert "Too late to undo" in answer["text"]
    assert [r["text"] for r in await rules_of(svc)] == ["hashprice < 45"]


async def test_chart_button_sends_the_chart(bot):
    tg, svc, clock = bot
    await say(tg, "/alert hashprice < 45")
    for value in (48.0, 46.5, 47.2):
        await poll(svc, hashprice=value)
        clock.advance(3600)
    rule = (await rules_of(svc))[0]
    answer = await tap(tg, rule_data("c", rule["id"], rule["text"]), then="sendPhoto")
    assert answer["text"].startswith("📈")
    photo = tg.sent("sendPhoto", chat_id=CHAT)[-1]
    assert photo["photo"]["size"] > 1000 and "Hashprice" in photo["caption"]
    assert "hashprice &lt; 45" in photo["caption"]  # the chart path with the chat's thresholds


# ---- /delete in bulk -----------------------------------------------------------------------------


async def test_bulk_delete_forms_and_bad_input(bot):
    tg, svc, _clock = bot
    for n in range(1, 10):
        await say(tg, f"/alert price > {n}k")
    for arg, says in [
        ("2 x", "x is not an alert number or range"),
        ("9-3", "9-3 runs backwards: write <code>/delete 3-9</code>"),
        ("2 12", "There is no alert number 12: this chat has 9"),
        ("", "Give the alert's number"),
    ]:
        reply = (await say(tg, f"/delete {arg}"))["text"]
        assert reply.startswith("❌") and says in reply, reply
        if "number or range" in says or not arg:
            assert "<code>/delete 2 5 7</code>" in reply
    assert len(await rules_of(svc)) == 9

    reply = await say(tg, "/delete 2 5 7")
    assert reply["text"].startswith("🗑 Deleted 3 alerts:\n<code>price &gt; 2k</code>")
    assert "↩ Undo" in buttons(reply)
    assert [r["text"] for r in await rules_of(svc)] == [f"price > {n}k" for n in (1, 3, 4, 6, 8, 9)]
    await say(tg, "/delete 3-5")  # 4k, 6k, 8k
    assert [r["text"] for r in await rules_of(svc)] == ["price > 1k", "price > 3k", "price > 9k"]
    await tap(tg, buttons(reply)["↩ Undo"], then="editMessageText")  # the first batch back
    assert len(await rules_of(svc)) == 6

    ask = await say(tg, "/delete all")
    assert ask["text"] == "Delete all 6 alerts of this chat?"
    assert list(buttons(ask)) == ["🗑 Delete all 6", "Cancel"]
    await tap(tg, buttons(ask)["Cancel"], then="editMessageText")
    assert len(await rules_of(svc)) == 6
    # the list changed after the question: its button deletes nothing
    await say(tg, "/alert retarget")
    answer = await tap(tg, buttons(ask)["🗑 Delete all 6"], then="editMessageReplyMarkup")
    assert "changed since" in answer["text"]
    assert len(await rules_of(svc)) == 7
    ask = await say(tg, "/delete all")
    await tap(tg, buttons(ask)["🗑 Delete all 7"], then="editMessageText")
    assert await rules_of(svc) == []
    assert last_edit(tg)["text"].startswith("🗑 Deleted 7 alerts:")
    assert last_edit(tg)["text"].count("<code>") == 7
    await tap(tg, buttons(last_edit(tg))["↩ Undo"], then="editMessageText")
    assert len(await rules_of(svc)) == 7
    assert (await say(tg, "/delete 1"))[
        "text"
    ] == "🗑 Deleted: <code>price &gt; 1k</code>\nUndo within 10 minutes."


# ---- buttons under alert messages ------------------------------------------------------------------


async def test_alert_message_buttons_snooze_and_mute(bot):
    tg, svc, clock = bot
    await say(tg, "/alert hashprice < 45")
    rule = (await rules_of(svc))[0]
    assert await poll(svc, hashprice=50.0) == 0
    clock.advance(60)
    assert await poll(svc, hashprice=44.0) == 1
    alert = tg.sent(chat_id=CHAT)[-1]
    assert "Hashprice" in alert["text"]
    keys = buttons(alert)
    assert list(keys) == ["😴 1h", "😴 1d", "🔇 Mute", "📈 Chart"]
    assert all(data.endswith(":m") for data in keys.values())

    answer = await tap(tg, keys["😴 1h"])
    assert answer["text"].startswith("😴 Snoozed until Sun 31 Mar 13:01 UTC")
    sent = len(tg.sent(chat_id=CHAT))
    clock.advance(60)
    await poll(svc, hashprice=50.0)  # resolves, snoozed: dropped
    clock.advance(60)
    assert await poll(svc, hashprice=44.0) == 0  # the next crossing: dropped
    assert len(tg.sent(chat_id=CHAT)) == sent

    clock.advance(3600)  # the snooze ends
    await poll(svc, hashprice=50.0)
    clock.advance(60)
    await poll(svc, hashprice=44.0)
    assert len(tg.sent(chat_id=CHAT)) == sent + 2  # resolved, then firing again
    alert = tg.sent(chat_id=CHAT)[-1]

    # mute = pause: nothing until unmuted, and the button says so
    answer = await tap(tg, buttons(alert)["🔇 Mute"], then="editMessageReplyMarkup")
    assert answer["text"].startswith("🔇 Muted")
    assert (await settings_of(svc)).paused_rules == {rule["id"]}
    edited = tg.sent("editMessageReplyMarkup")[-1]
    assert "🔔 Unmute" in buttons(edited)
    sent = len(tg.sent(chat_id=CHAT))
    clock.advance(60)
    await poll(svc, hashprice=50.0)
    clock.advance(60)
    assert await poll(svc, hashprice=44.0) == 0
    assert len(tg.sent(chat_id=CHAT)) == sent
    await tap(tg, buttons(edited)["🔔 Unmute"], then="editMessageReplyMarkup")
    assert "🔇 Mute" in buttons(tg.sent("editMessageReplyMarkup")[-1])
    clock.advance(60)
    await poll(svc, hashprice=50.0)
    clock.advance(60)
    assert await poll(svc, hashprice=44.0) == 1  # resumed: alerts again
    assert "🔇 Mute" in buttons(tg.sent(chat_id=CHAT)[-1])


async def test_messages_without_a_rule_get_no_buttons(bot):
    tg, svc, _clock = bot
    await say(tg, "/start")

    def queue(db):  # type: ignore[no-untyped-def]
        return outbox.enqueue(
            db, key="notice:1", chat_id=CHAT, rule_id=None, reason="notice", text="hello", now=NOW
        )

    await svc.db(queue)
    assert await svc.notifier.drain() == 1
    assert "reply_markup" not in tg.sent(chat_id=CHAT)[-1]


# ---- taps that change nothing ---------------------------------------------------------------------


async def test_group_members_who_are_not_admins_get_a_toast(bot):
    tg, svc, _clock = bot
    tg.admins[GROUP] = {ADMIN}
    await say(
        tg, "/alert@MinerWatchTestBot hashprice < 45", chat_id=GROUP, user_id=ADMIN, chat_type="supergroup"
    )
    rule = (await rules_of(svc, GROUP))[0]
    listing = await say(
        tg, "/alerts@MinerWatchTestBot", chat_id=GROUP, user_id=MEMBER, chat_type="supergroup"
    )
    edits = len(tg.sent("editMessageText"))
    for data in [
        buttons(listing)["1"],
        rule_data("p", rule["id"], rule["text"], alert=True),
        rule_data("dy", rule["id"], rule["text"]),
    ]:
        answer = await tap(tg, data, chat_id=GROUP, user_id=MEMBER, chat_type="supergroup")
        assert answer["text"] == ADMINS_ONLY
    assert len(tg.sent("editMessageText")) == edits
    assert len(await rules_of(svc, GROUP)) == 1
    assert (await settings_of(svc, GROUP)).paused_rules == set()
    # an administrator's tap counts
    await tap(
        tg,
        rule_data("p", rule["id"], rule["text"], alert=True),
        chat_id=GROUP,
        user_id=ADMIN,
        chat_type="supergroup",
        then="editMessageReplyMarkup",
    )
    assert (await settings_of(svc, GROUP)).paused_rules == {rule["id"]}


async def test_forged_foreign_and_stale_buttons_change_nothing(bot):
    tg, svc, _clock = bot
    await say(tg, "/alert price > 100k", chat_id=OTHER)
    await say(tg, "/alert hashprice < 45")  # the newest rule: its id is handed out again below
    mine = (await rules_of(svc))[0]
    theirs = (await rules_of(svc, OTHER))[0]

    for forged in ["r:zz:1:abcd", "r:p:1", "r:p:1:abcd:x", "r:pg:-1", "r:" + "9" * 70]:
        assert (await tap(tg, forged))["text"] == GARBLED
    # another chat's rule, even with its right tag
    for action in ("p", "dy", "s1", "c"):
        answer = await tap(tg, rule_data(action, theirs["id"], theirs["text"]))
        assert answer["text"] == OTHER_CHAT
    # a forged tag on our own rule
    assert (await tap(tg, f"r:p:{mine['id']}:0000"))["text"] == GONE
    # an undo token never issued
    assert "Too late" in (await tap(tg, "r:u:deadbeef", then="editMessageReplyMarkup"))["text"]
    assert len(await rules_of(svc, OTHER)) == 1 and len(await rules_of(svc)) == 1
    assert (await settings_of(svc, OTHER)) == ChatSettings.from_json("{}", "UTC")

    # a deleted rule, and its id handed to a newer rule: the old button does nothing to either
    old_pause = rule_data("p", mine["id"], mine["text"])
    await say(tg, "/delete 1")
    assert (await tap(tg, old_pause))["text"] == GONE
    await say(tg, "/alert price > 200k")
    newer = (await rules_of(svc))[0]
    assert newer["id"] == mine["id"]  # SQLite reuses the newest id
    assert (await tap(tg, old_pause))["text"] == GONE
    assert (await settings_of(svc)).paused_rules == set()
    assert len(tg.sent("sendPhoto")) == 0 and len(tg.sent("editMessageText")) == 0


def test_undo_restores_under_the_old_id_or_a_new_one(tmp_path):
    from bot.handlers.rule_buttons import delete_and_forget, restore
    from storage.db import open_db

    db = open_db(str(tmp_path / "undo.db"))
    chats.ensure_chat(db, CHAT, "private", None, NOW)
    a = rule_store.add_rule(db, CHAT, "price > 1k", "price", "threshold", NOW, max_rules=4)
    b = rule_store.add_rule(db, CHAT, "price > 2k", "price", "threshold", NOW, max_rules=4)
    x = rule_store.add_rule(db, CHAT, "price > 3k", "price", "threshold", NOW, max_rules=4)
    deleted = delete_and_forget(db, CHAT, [a, x], NOW)
    # x was the newest: SQLite hands its id to the next rule
    c = rule_store.add_rule(db, CHAT, "price > 4k", "price", "threshold", NOW, max_rules=4)
    assert c == x and b is not None
    restored, skipped = restore(db, deleted, NOW, max_rules=4)
    assert [(r["restored_from"], r["id"], r["text"]) for r in restored] == [
        (a, a, "price > 1k"),  # its id was free: the same number
        (x, c + 1, "price > 3k"),  # its id was taken: a new one
    ]
    assert skipped == []
    # a rule the chat has again, or one over the limit, is not put back twice
    again = delete_and_forget(db, CHAT, [a], NOW)
    rule_store.add_rule(db, CHAT, "price > 1k", "price", "threshold", NOW, max_rules=4)
    restored, skipped = restore(db, again, NOW, max_rules=4)
    assert restored == [] and [why for _, why in skipped] == ["already there"]
