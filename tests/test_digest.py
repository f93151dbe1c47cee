"""Issue 7, the daily digest: due in the chat's own time zone (DST included), queued through the
outbox once per local day across restarts, the /status text plus the last 24 h's alerts, and the
7-day hashprice chart as a photo once the text is out. The job's work is called directly."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from bot.app import build_application, create_services
from bot.delivery.digest import (
    MAX_LISTED,
    alert_counts,
    alerts_part,
    alerts_seen,
    digest_job,
    digest_key,
    due_digests,
    queue_digests,
    run_digests,
)
from bot.delivery.quiet_summary import quiet_summary_job
from bot.jobs import schedule_jobs
from rules.data import Observation
from rules.grammar import format_rule, parse_rule
from rules.quiet import QuietHours
from storage import chats, observations, outbox
from storage import rules as rule_store
from storage.db import open_db
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot

CHAT = 4242
CHICAGO = "America/Chicago"
# 2024-03-30 is CDT (UTC-5): 08:00 in Chicago is 13:00 UTC.
DAY1_0800 = datetime(2024, 3, 30, 13, 0, tzinfo=UTC)


def make_db(tz: str = CHICAGO, created: datetime = DAY1_0800 - timedelta(days=1), at: str = "08:00"):
    db = open_db(None)
    chats.ensure_chat(db, CHAT, "private", "Satoshi", created)
    db.execute("UPDATE chats SET tz = ? WHERE id = ?", [tz, CHAT])
    text = format_rule(parse_rule(f"digest {at}"))
    rule_store.add_rule(db, CHAT, text, "event:digest", "event", created, max_rules=50)
    return db


def test_due_in_the_chats_time_zone_once_per_local_day():
    db = make_db()
    assert due_digests(db, DAY1_0800 - timedelta(seconds=1)) == []
    (due,) = due_digests(db, DAY1_0800)
    assert (due.chat_id, due.at, due.tz, due.local_date) == (CHAT, "08:00", CHICAGO, date(2024, 3, 30))
    assert due.key == digest_key(CHAT, date(2024, 3, 30))

    assert [d.chat_id for d in queue_digests(db, DAY1_0800 + timedelta(minutes=1))] == [CHAT]
    for minutes in (2, 60, 600):  # the job runs every minute: nothing more that day
        assert due_digests(db, DAY1_0800 + timedelta(minutes=minutes)) == []
        assert queue_digests(db, DAY1_0800 + timedelta(minutes=minutes)) == []
    # 23:59 in Chicago is still the same local day (04:59 UTC the next day).
    assert due_digests(db, datetime(2024, 3, 31, 4, 59, tzinfo=UTC)) == []
    (next_day,) = due_digests(db, DAY1_0800 + timedelta(days=1))
    assert next_day.local_date == date(2024, 3, 31)


def test_wall_clock_across_dst_end():
    # Chicago leaves DST on 2024-11-03: 08:00 local is 13:00 UTC before and 14:00 UTC after.
    db = make_db(created=datetime(2024, 11, 1, tzinfo=UTC))
    assert len(queue_digests(db, datetime(2024, 11, 2, 13, 0, tzinfo=UTC))) == 1
    assert due_digests(db, datetime(2024, 11, 3, 13, 30, tzinfo=UTC)) == []  # 07:30 CST
    assert len(queue_digests(db, datetime(2024, 11, 3, 14, 0, tzinfo=UTC))) == 1


def test_a_rule_set_after_todays_time_waits_for_tomorrow():
    db = make_db(created=DAY1_0800 + timedelta(hours=2))
    assert due_digests(db, DAY1_0800 + timedelta(hours=3)) == []
    assert len(due_digests(db, DAY1_0800 + timedelta(days=1))) == 1


def test_a_missed_digest_catches_up_the_same_day():
    db = make_db()
    assert len(queue_digests(db, DAY1_0800 + timedelta(hours=5))) == 1  # the bot was down at 08:00


def test_two_digest_rules_make_one_digest_a_day():
    db = make_db()
    text = format_rule(parse_rule("digest 09:30"))
    rule_store.add_rule(db, CHAT, text, "event:digest", "event", DAY1_0800 - timedelta(days=1), max_rules=50)
    assert len(queue_digests(db, DAY1_0800 + timedelta(hours=3))) == 1
    assert queue_digests(db, DAY1_0800 + timedelta(hours=4)) == []


def test_muted_waits_quiet_hours_do_not_hold_inactive_gets_none():
    db = make_db()
    chats.update_settings(db, CHAT, DAY1_0800, muted=True)
    assert queue_digests(db, DAY1_0800) == []
    chats.update_settings(
        db, CHAT, DAY1_0800, muted=False, quiet=QuietHours(time(6, 0), time(10, 0), CHICAGO)
    )
    assert len(queue_digests(db, DAY1_0800 + timedelta(minutes=30))) == 1  # unmuted later that day
    row = next(iter(db.query("SELECT status, reason FROM outbox")))
    assert row == {"status": "pending", "reason": "digest"}  # scheduled by the chat: not held

    chats.set_active(db, CHAT, False, DAY1_0800)
    assert due_digests(db, DAY1_0800 + timedelta(days=1)) == []


def test_alert_counts_last_24h_by_reason():
    db = make_db()
    now = DAY1_0800
    rows = [
        ("a", "firing", now - timedelta(hours=1), "sent"),
        ("b", "firing", now - timedelta(hours=2), "summarised"),
        ("c", "resolved", now - timedelta(hours=3), "pending"),
        ("d", "event", now - timedelta(hours=23), "sent"),
        ("e", "firing", now - timedelta(hours=25), "sent"),  # too old
        ("f", "firing", now - timedelta(hours=1), "failed"),  # never arrived
        ("g", "digest", now - timedelta(hours=1), "sent"),  # not an alert
        ("h", "source_failing:network", now - timedelta(hours=1), "sent"),  # operator notice
    ]
    for key, reason, at, status in rows:
        outbox.enqueue(
            db, key=key, chat_id=CHAT, rule_id=None, reason=reason, text="x", now=at, status=status
        )
    assert alert_counts(db, CHAT, now - timedelta(hours=24)) == {"firing": 2, "resolved": 1, "event": 1}


def test_digest_lists_the_alerts_themselves_with_plurals_and_a_cap():
    db = make_db()
    now = DAY1_0800
    for i in range(12):  # 12 firing alerts, an hour apart, the newest one hour ago
        outbox.enqueue(
            db, key=f"f{i}", chat_id=CHAT, rule_id=None, reason="firing", now=now - timedelta(hours=12 - i),
            text=f"🔔 <b>Hashprice ${40 + i}.00/PH/day</b>\nbelow your threshold $45", status="sent",
        )  # fmt: skip
    outbox.enqueue(
        db, key="r", chat_id=CHAT, rule_id=None, reason="resolved", now=now - timedelta(minutes=30),
        text="✅ <b>Resolved: hashprice &lt; 45</b>", status="sent",
    )  # fmt: skip
    outbox.enqueue(
        db, key="x", chat_id=CHAT, rule_id=None, reason="firing", now=now - timedelta(minutes=5),
        text="never arrived", status="failed",
    )  # fmt: skip
    text = alerts_part(alerts_seen(db, CHAT, now - timedelta(hours=24)), ZoneInfo(CHICAGO))
    lines = text.split("\n")
    assert lines[0] == "In the last 24 h: <b>13 alerts</b> (12 firing, 1 resolved)"
    bullets = [line for line in lines if line.startswith("• ")]
    assert len(bullets) == MAX_LISTED  # the newest ten, oldest first, each its headline only
    assert bullets[0] == "• Fri 23:00 🔔 Hashprice $43.00/PH/day"  # 04:00 UTC = 23:00 CDT the day before
    assert bullets[-1] == "• Sat 07:30 ✅ Resolved: hashprice &lt; 45"
    assert lines[-1] == "… and 3 more"
    assert "below your threshold" not in text and "never arrived" not in text

    one = make_db()
    outbox.enqueue(
        one, key="e", chat_id=CHAT, rule_id=None, reason="event", now=now - timedelta(hours=1),
        text="⛏ <b>Difficulty retarget at block 840,672: +1.99%</b>", status="sent",
    )  # fmt: skip
    text = alerts_part(alerts_seen(one, CHAT, now - timedelta(hours=24)), ZoneInfo(CHICAGO))
    assert text.split("\n")[0] == "In the last 24 h: <b>1 alert</b> (1 event)"
    assert "and" not in text.split("\n")[-1] and "Difficulty retarget at block 840,672" in text
    outbox.enqueue(
        one, key="e2", chat_id=CHAT, rule_id=None, reason="event", now=now - timedelta(minutes=1),
        text="📄 <b>MARA: $1B convertible notes</b>", status="sent",
    )  # fmt: skip
    text = alerts_part(alerts_seen(one, CHAT, now - timedelta(hours=24)), ZoneInfo(CHICAGO))
    assert text.split("\n")[0] == "In the last 24 h: <b>2 alerts</b> (2 events)"


# ---- end to end ---------------------------------------------------------------------------------


async def command(tg: FakeTelegram, text: str) -> str:
    return await tg.command(text, chat_id=CHAT)


def digests(tg: FakeTelegram) -> list[str]:
    return [m["text"] for m in tg.sent(chat_id=CHAT) if "Daily digest" in m["text"]]


async def test_digest_queued_once_per_local_day_across_restart(tmp_path, tg):
    clock = FakeClock(DAY1_0800 - timedelta(hours=2))  # 06:00 in Chicago
    settings = bot_settings(tmp_path, tg)
    async with running_bot(settings, clock) as (app, svc):
        assert "America/Chicago" in await command(tg, "/tz America/Chicago")
        assert "Alert set" in await command(tg, "/alert digest 08:00")
        week = [
            Observation("hashprice", 50 + i * 0.1, clock.now - timedelta(hours=6 * (28 - i)), "mempool")
            for i in range(29)
        ]
        week.append(Observation("difficulty.next_change", 2.4, clock.now, "mempool"))
        await svc.db(observations.insert_observations, week)
        await svc.db(
            outbox.enqueue,
            key="earlier-alert",
            chat_id=CHAT,
            rule_id=None,
            reason="firing",
            text="🔔 <b>Hashprice $49.00/PH/day</b>",
            now=clock.now - timedelta(hours=3),
            status=outbox.SENT,
        )

        assert await run_digests(svc, app.bot) == []  # 06:00: not yet
        clock.now = DAY1_0800 + timedelta(minutes=1)
        queued = await run_digests(svc, app.bot)
        assert [d.local_date for d in queued] == [date(2024, 3, 30)]
        (text,) = digests(tg)
        assert "Sat 30 Mar 2024, 08:01 America/Chicago" in text
        assert "<b>MinerWatch status</b>" in text  # the /status text
        assert "Hashprice <b>$52.80/PH/day</b>" in text
        assert "projection <b>+2.40%</b>" in text
        # the alert itself, at its local time, not only a count; "1 alert", not "1 alerts"
        assert "In the last 24 h: <b>1 alert</b> (1 firing)\n• Sat 03:00 🔔 Hashprice $49.00/PH/day" in text
        assert len(text) <= 4096

        # The week's hashprice chart follows the text, as a PNG upload.
        (photo,) = tg.sent("sendPhoto", chat_id=CHAT)
        assert photo["photo"]["filename"] == "hashprice-7d.png" and photo["photo"]["size"] > 10_000
        methods = [c.method for c in tg.calls if c.method in ("sendMessage", "sendPhoto")]
        assert methods[-2:] == ["sendMessage", "sendPhoto"]

        clock.advance(60)
        assert await run_digests(svc, app.bot) == []

    # Restart on the same database, later the same local day: nothing again.
    async with running_bot(settings, clock) as (app, svc):
        clock.now = DAY1_0800 + timedelta(hours=9)  # 17:00 in Chicago
        assert await run_digests(svc, app.bot) == []
        assert len(digests(tg)) == 1
        # The next local morning: the next one.
        clock.now = DAY1_0800 + timedelta(days=1, minutes=2)
        assert len(await run_digests(svc, app.bot)) == 1
        assert len(digests(tg)) == 2
        assert "Sun 31 Mar 2024" in digests(tg)[-1]
        assert "No alerts in the last 24 h." in digests(tg)[-1]
    db = open_db(tmp_path / "minerwatch.db")
    assert db["outbox"].count_where("reason = 'digest'") == 2  # one row per local day, ever
    db.close()


async def test_digest_without_data_says_so_and_sends_no_chart(tmp_path, tg):
    clock = FakeClock(DAY1_0800 - timedelta(hours=1))
    async with running_bot(bot_settings(tmp_path, tg), clock) as (app, svc):
        await command(tg, "/tz America/Chicago")
        await command(tg, "/alert digest 08:00")
        clock.now = DAY1_0800
        assert len(await run_digests(svc, app.bot)) == 1
        (text,) = digests(tg)
        assert "No data yet" in text
        assert tg.sent("sendPhoto") == []


async def test_jobs_are_scheduled_and_their_callbacks_work(tmp_path, tg):
    settings = bot_settings(tmp_path, tg)
    svc = create_services(settings, clock=FakeClock(DAY1_0800), watchers=[])
    app = build_application(svc, with_jobs=False)
    try:
        schedule_jobs(app, svc)  # not started: nothing runs, the jobs are only registered
        jobs = {job.name: job.job for job in app.job_queue.jobs()}
        for name in ("digest", "quiet:summary"):
            assert jobs[name].misfire_grace_time == 60
            assert jobs[name].coalesce is True and jobs[name].max_instances == 1
            assert jobs[name].trigger.interval == timedelta(seconds=60)
    finally:
        svc.db.close()

    # The callbacks as the JobQueue calls them, on a running bot.
    clock = FakeClock(DAY1_0800 - timedelta(hours=1))
    async with running_bot(settings, clock) as (app, svc):
        await command(tg, "/tz America/Chicago")
        await command(tg, "/alert digest 08:00")
        clock.now = DAY1_0800
        context = SimpleNamespace(bot_data=app.bot_data, bot=app.bot, job=None)
        await digest_job(context)
        await quiet_summary_job(context)
        assert len(digests(tg)) == 1
