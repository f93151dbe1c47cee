"""Issue 7, quiet hours: alerts that fire during a chat's quiet hours are held by the pipeline and,
once the quiet hours end, arrive as ONE summary ("While quiet: 3 alerts" and the first line of
each), queued through the outbox once, never twice, restarts included. End to end with the real
pipeline and PTB application; time injected; the job's work called directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.delivery.quiet_summary import (
    MAX_PAGES,
    first_line,
    queue_summaries,
    quiet_over,
    run_quiet_summaries,
    shown_zone,
    summary_pages,
)
from rules.chat_settings import ChatSettings
from rules.data import Observation
from storage import chats, outbox
from storage.db import open_db
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from watchers.base import PollContext, PollResult

CHAT = 4242
BERLIN = ZoneInfo("Europe/Berlin")
# 2024-04-10 00:00 in Berlin (CEST, UTC+2): inside quiet hours 23:00-07:00.
MIDNIGHT = datetime(2024, 4, 9, 22, 0, tzinfo=UTC)
QUIET_ENDS = datetime(2024, 4, 10, 5, 0, tzinfo=UTC)  # 07:00 in Berlin


def held(key: str, text: str, at: datetime) -> dict:
    return {"key": key, "text": text, "created_at": at.isoformat()}


def test_first_line_is_safe_html():
    text = '🔔 <b>Hashprice $41.00/PH/day</b>\nbelow your threshold $45\n<a href="x">mempool</a>'
    assert first_line(text) == "🔔 Hashprice $41.00/PH/day"
    assert first_line("📄 <b>Riot &amp; Co: $500M convertible</b>") == "📄 Riot &amp; Co: $500M convertible"
    assert first_line("x" * 1000).endswith("…") and len(first_line("x" * 1000)) == 300


def test_summary_pages_one_page_with_local_times():
    rows = [
        held("a", "🔔 <b>Hashprice $41.00/PH/day</b>\nctx", MIDNIGHT + timedelta(minutes=10)),
        held("b", "🔔 <b>Bitcoin price $71,000</b>\nctx", MIDNIGHT + timedelta(hours=2)),
        held("c", "✅ <b>Hashprice $50.00/PH/day</b>\nctx", MIDNIGHT + timedelta(hours=4)),
    ]
    (page,) = summary_pages(rows, BERLIN, QUIET_ENDS)
    assert page.split("\n") == [
        "🌙 <b>While quiet: 3 alerts</b> (times CEST)",
        "• 00:10 🔔 Hashprice $41.00/PH/day",
        "• 02:00 🔔 Bitcoin price $71,000",
        "• 04:00 ✅ Hashprice $50.00/PH/day",
    ]
    (one,) = summary_pages(rows[:1], BERLIN, QUIET_ENDS)
    assert one.startswith("🌙 <b>While quiet: 1 alert</b>")


def test_summary_pages_stay_under_the_limit_and_count_the_rest():
    rows = [held(f"k{i}", f"🔔 <b>{'power.hb_west spike ' * 12}#{i}</b>", MIDNIGHT) for i in range(300)]
    pages = summary_pages(rows, BERLIN, QUIET_ENDS)
    assert len(pages) == MAX_PAGES
    assert all(len(p) <= 4096 for p in pages)
    assert pages[0].startswith(f"🌙 <b>While quiet: 300 alerts</b> (times CEST) (1/{MAX_PAGES})")
    listed = sum(p.count("\n• ") for p in pages)
    assert pages[-1].endswith(f"… and {300 - listed} more")


BERLIN_NIGHTS = '{"quiet": {"start": "23:00", "end": "07:00", "tz": "Europe/Berlin"}}'


def test_quiet_over():
    quiet = ChatSettings.from_json(BERLIN_NIGHTS)
    assert not quiet_over(quiet, MIDNIGHT)
    assert not quiet_over(quiet, QUIET_ENDS - timedelta(seconds=1))
    assert quiet_over(quiet, QUIET_ENDS)
    assert quiet_over(ChatSettings(), MIDNIGHT)  # quiet hours turned off: release
    # quiet hours whose zone is unreadable are not held forever
    on_mars = ChatSettings.from_json(BERLIN_NIGHTS.replace("Europe/Berlin", "Mars/Olympus"))
    assert quiet_over(on_mars, MIDNIGHT)


def test_times_shown_in_the_chats_zone_else_the_quiet_hours_zone():
    assert shown_zone(ChatSettings.from_json(BERLIN_NIGHTS, "UTC")).key == "Europe/Berlin"
    assert shown_zone(ChatSettings.from_json(BERLIN_NIGHTS, "America/Chicago")).key == "America/Chicago"
    assert shown_zone(ChatSettings()).key == "UTC"


def test_muted_chat_drops_held_and_snoozed_waits():
    db = open_db(None)
    chats.ensure_chat(db, CHAT, "private", "Satoshi", MIDNIGHT)
    for key in ("a", "b"):
        outbox.enqueue(
            db,
            key=key,
            chat_id=CHAT,
            rule_id=1,
            reason="firing",
            text="🔔 <b>x</b>",
            now=MIDNIGHT,
            status="held",
        )
    chats.update_settings(db, CHAT, MIDNIGHT, snooze_until=QUIET_ENDS + timedelta(hours=1))
    assert queue_summaries(db, QUIET_ENDS) == 0  # snoozed: wait
    assert db["outbox"].count_where("status = 'held'") == 2
    chats.update_settings(db, CHAT, MIDNIGHT, muted=True)
    assert queue_summaries(db, QUIET_ENDS) == 0  # muted: dropped
    assert db["outbox"].count_where("status = 'held'") == 0
    assert db["outbox"].count_where("reason = 'quiet_summary'") == 0


# ---- end to end ---------------------------------------------------------------------------------


class Scripted:
    """A watcher that serves whatever the test sets, through the real runner and pipeline."""

    id = "network"

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    async def poll(self, ctx: PollContext) -> PollResult:
        return PollResult([Observation(m, v, ctx.now, "mempool") for m, v in self.values.items()])


async def command(tg: FakeTelegram, text: str) -> str:
    return await tg.command(text, chat_id=CHAT)


def summaries(tg: FakeTelegram) -> list[str]:
    return [m["text"] for m in tg.sent(chat_id=CHAT) if "While quiet" in m["text"]]


async def test_held_alerts_summarised_once_when_quiet_hours_end(tmp_path, tg):
    clock = FakeClock(MIDNIGHT - timedelta(hours=1))  # 23:00 in Berlin
    settings = bot_settings(tmp_path, tg)
    watcher = Scripted()

    async def poll(**values: float) -> None:
        watcher.values = values
        outcome = await svc.pipeline.run_watcher(watcher, svc.session)
        assert outcome.ok, outcome.error
        await svc.notifier.drain()

    async with running_bot(settings, clock) as (_app, svc):
        await command(tg, "/start")  # the chat exists before its settings are written
        assert "Quiet hours 23:00-07:00 Europe/Berlin" in await command(
            tg, "/quiet 23:00-07:00 Europe/Berlin"
        )
        await command(tg, "/alert hashprice < 45")
        await command(tg, "/alert price > 70k")
        await command(tg, "/alert !hashprice < 30")  # severe: passes quiet hours
        sent_before = len(tg.sent(chat_id=CHAT))

        clock.now = MIDNIGHT + timedelta(minutes=10)
        await poll(hashprice=44.0, price=69_000)  # hashprice fires: held
        clock.now = MIDNIGHT + timedelta(hours=2)
        await poll(hashprice=44.5, price=71_000)  # price fires: held
        clock.now = MIDNIGHT + timedelta(hours=4)
        await poll(hashprice=29.0, price=71_000)  # the severe rule fires: delivered at once
        clock.now = MIDNIGHT + timedelta(hours=5)
        await poll(hashprice=50.0, price=71_500)  # hashprice < 45 and < 30 resolve: held

        night = [m["text"] for m in tg.sent(chat_id=CHAT)[sent_before:]]
        assert len(night) == 2  # only the severe rule, firing and resolving
        assert "🚨 <b>Hashprice $29.00/PH/day</b>" in night[0] and "back from below $30" in night[1]
        assert await svc.db(lambda db: db["outbox"].count_where("status = 'held'")) == 3

        clock.now = QUIET_ENDS - timedelta(minutes=1)  # 06:59: still quiet
        assert await run_quiet_summaries(svc) == 0
        assert summaries(tg) == []

        clock.now = QUIET_ENDS + timedelta(minutes=1)  # 07:01: one summary
        assert await run_quiet_summaries(svc) == 1
        (summary,) = summaries(tg)
        assert summary.split("\n") == [
            "🌙 <b>While quiet: 3 alerts</b> (times CEST)",
            "• 00:10 🔔 Hashprice $44.00/PH/day",
            "• 02:00 🔔 Bitcoin price $71,000",
            "• 05:00 ✅ Hashprice $50.00/PH/day",
        ]
        assert await svc.db(lambda db: db["outbox"].count_where("status = 'summarised'")) == 3

        clock.advance(60)
        assert await run_quiet_summaries(svc) == 0

    async with running_bot(settings, clock) as (_app, svc):  # restart on the same database
        clock.advance(60)
        assert await run_quiet_summaries(svc) == 0
    assert len(summaries(tg)) == 1

    # The next night holds and summarises again, as a new summary.
    async with running_bot(settings, clock) as (_app, svc):
        clock.now = MIDNIGHT + timedelta(days=1, minutes=5)
        await poll(hashprice=44.0, price=71_500)
        clock.now = QUIET_ENDS + timedelta(days=1)
        assert await run_quiet_summaries(svc) == 1
        assert summaries(tg)[-1].split("\n")[:2] == [
            "🌙 <b>While quiet: 1 alert</b> (times CEST)",
            "• 00:05 🔔 Hashprice $44.00/PH/day",
        ]


async def test_a_rule_paused_during_quiet_hours_is_left_out_of_the_summary(tmp_path, tg):
    """Pausing a rule (its alert's 🔇 button) while its alert is held drops that alert, as if it had
    been sent live; the others are summarised."""
    from storage import chats
    from storage import rules as rule_store

    clock = FakeClock(MIDNIGHT - timedelta(hours=1))
    settings = bot_settings(tmp_path, tg)
    watcher = Scripted()
    async with running_bot(settings, clock) as (_app, svc):
        await command(tg, "/start")
        await command(tg, "/quiet 23:00-07:00 Europe/Berlin")
        await command(tg, "/alert hashprice < 45")
        await command(tg, "/alert price > 70k")
        clock.now = MIDNIGHT + timedelta(minutes=10)
        watcher.values = {"hashprice": 44.0, "price": 71_000}
        assert (await svc.pipeline.run_watcher(watcher, svc.session)).ok
        assert await svc.db(lambda db: db["outbox"].count_where("status = 'held'")) == 2
        rules = {r["text"]: r["id"] for r in await svc.db(rule_store.list_rules, CHAT)}
        await svc.db(chats.update_settings, CHAT, clock(), paused_rules=frozenset({rules["hashprice < 45"]}))

        clock.now = QUIET_ENDS + timedelta(minutes=1)
        assert await run_quiet_summaries(svc) == 1
        (summary,) = summaries(tg)
        assert summary.split("\n") == [
            "🌙 <b>While quiet: 1 alert</b> (times CEST)",
            "• 00:10 🔔 Bitcoin price $71,000",
        ]
