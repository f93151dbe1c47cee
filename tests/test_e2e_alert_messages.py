"""Issue 13, items 10 and 11, end to end: observations go through the real pipeline (the in-memory
engine and the database one), the outbox and the notifier to the fake Bot API server.

* twin rules (same condition, another severity, ``for`` or ``every``) send one message per
  crossing, the severe one winning (it passes quiet hours);
* one ERCOT interval that moves several rules of a chat is one message naming the interval;
* a resolve says how long the alert fired; a retarget gives the new hashprice;
* no-data notices reach curtail, say how long the source has been down, and a data-back follows.

Rules are stored directly (as config.toml channels or chats from before /alert refused twins
would have them); observations are fed by a stand-in watcher, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from bot.handlers.commands import rule_metric
from bot.jobs import watch_job
from rules.data import Event, Observation
from rules.fleet import Fleet
from rules.grammar import format_rule, parse_rule
from rules.quiet import QuietHours
from storage import chats, observations, outbox
from storage import rules as rule_store
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from tests.mempool_standin import MempoolStandIn
from tests.test_ops_health import DA, DA_PATH, back, outage
from watchers.base import PollContext, PollResult

CT = ZoneInfo("America/Chicago")
CHAT, OTHER = 5150, 5151
ENGINES = ["memory", "database"]


class Feed:
    """A watcher that returns what the test sets: the pipeline runs it like any other."""

    id = "feed"

    def __init__(self) -> None:
        self.result = PollResult()

    async def poll(self, ctx: PollContext) -> PollResult:
        return self.result


def add_rules(db, chat_id: int, texts: list[str], now: datetime) -> list[int]:
    chats.ensure_chat(db, chat_id, "private", None, now)
    ids = []
    for text in texts:
        rule = parse_rule(text)
        metric, kind = rule_metric(rule)
        rule_id = rule_store.add_rule(db, chat_id, format_rule(rule), metric, kind, now, max_rules=50)
        assert rule_id is not None
        ids.append(rule_id)
    return ids


async def poll(svc, feed: Feed, clock: FakeClock, source: str = "mempool", **values: float) -> int:
    feed.result = PollResult(
        observations=[Observation(m.replace("__", "."), v, clock(), source) for m, v in values.items()]
    )
    outcome = await svc.pipeline.run_watcher(feed, svc.session)
    assert outcome.ok, outcome.error
    return await svc.notifier.drain()


def use_engine(svc, engine: str) -> None:
    if engine == "database":
        svc.pipeline.cache = None  # every poll reads rules and states from the database


def texts(tg: FakeTelegram, chat_id: int = CHAT) -> list[str]:
    return [m["text"] for m in tg.sent(chat_id=chat_id)]


@pytest.mark.parametrize("engine", ENGINES)
async def test_twin_rules_send_one_message_per_crossing_and_the_severe_one_wins(tmp_path, tg, engine):
    clock = FakeClock(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
    async with running_bot(settings, clock) as (_app, svc):
        use_engine(svc, engine)
        feed = Feed()
        texts_ = ["price < 50k", "!price < 50k", "price < 50k for 10m", "price < 50k every 1h"]
        await svc.db(add_rules, CHAT, texts_, clock())
        assert await poll(svc, feed, clock, price=60_000.0) == 0

        clock.advance(60)  # 12:01 the price crosses: four rules, one crossing, one message
        assert await poll(svc, feed, clock, price=49_000.0) == 1
        fired = texts(tg)[-1]
        assert fired.startswith("🚨") and "!price &lt; 50k" in fired  # the severe twin's words

        clock.advance(600)  # 12:11: the `for 10m` twin fires now, for the same crossing: nothing
        assert await poll(svc, feed, clock, price=48_500.0) == 0

        clock.advance(3000)  # 13:01: the `every 1h` twin repeats; it is the only one repeating
        assert await poll(svc, feed, clock, price=48_000.0) == 1
        assert texts(tg)[-1].startswith("🔁")

        clock.advance(240)  # 13:05: back above 50k + the 1% band: every firing twin resolves, once
        assert await poll(svc, feed, clock, price=51_000.0) == 1
        resolved = texts(tg)[-1]
        assert resolved.startswith("✅") and "resolved after 1 h 4 m" in resolved  # 12:01 -> 13:05

        clock.advance(60)  # the next crossing is heard again, once
        assert await poll(svc, feed, clock, price=49_500.0) == 1
        assert len(texts(tg)) == 4


@pytest.mark.parametrize("engine", ENGINES)
async def test_in_quiet_hours_the_severe_twin_is_sent_even_when_the_quiet_one_fired_first(
    tmp_path, tg, engine
):
    clock = FakeClock(datetime(2026, 11, 30, 3, 0, tzinfo=UTC))
    settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
    async with running_bot(settings, clock) as (_app, svc):
        use_engine(svc, engine)
        feed = Feed()
        await svc.db(add_rules, CHAT, ["price < 50k", "!price < 50k for 5m"], clock())
        quiet = QuietHours(time(22, 0), time(7, 0), "UTC")
        await svc.db(chats.update_settings, CHAT, clock(), quiet=quiet)
        assert await poll(svc, feed, clock, price=60_000.0) == 0

        clock.advance(60)  # 03:01: the quiet twin fires and is held for the morning summary
        assert await poll(svc, feed, clock, price=49_000.0) == 0
        assert await svc.db(outbox.count_by_status) == {"held": 1}

        clock.advance(300)  # 03:06: the severe twin fires for the same crossing: it goes now
        assert await poll(svc, feed, clock, price=49_000.0) == 1
        assert texts(tg)[-1].startswith("🚨")
        # the held row became the severe message: nothing is left to summarise in the morning
        assert await svc.db(outbox.count_by_status) == {"sent": 1}


@pytest.mark.parametrize("engine", ENGINES)
async def test_one_ercot_interval_moving_three_rules_is_one_message(tmp_path, tg, engine):
    interval_end = datetime(2026, 7, 14, 9, 45, tzinfo=CT)
    clock = FakeClock(interval_end.astimezone(UTC).replace(minute=47))
    settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
    feed = Feed()

    async def ercot_poll(svc, west: float, north: float) -> int:
        feed.result = PollResult(
            observations=[
                Observation("power.hb_west", west, interval_end, "ercot"),
                Observation("power.hb_north", north, interval_end, "ercot"),
            ]
        )
        outcome = await svc.pipeline.run_watcher(feed, svc.session)
        assert outcome.ok
        return outcome.queued

    async with running_bot(settings, clock) as (_app, svc):
        use_engine(svc, engine)
        rules = ["power.hb_west > 100", "power.hb_north > 100", "curtail"]
        await svc.db(add_rules, CHAT, rules, clock())
        await svc.db(chats.update_settings, CHAT, clock(), fleet=Fleet(18.0, 0.045), hub="HB_WEST")
        await svc.db(add_rules, OTHER, ["power.hb_west > 100"], clock())
        # hashprice $50/PH/day at 18 J/TH: breakeven 50 / (24 × 18) × 1000 = $115.74/MWh
        await svc.db(_store, Observation("hashprice", 50.0, clock(), "mempool"))
        assert await ercot_poll(svc, 180.0, 150.0) == 2  # one grouped row for CHAT, one for OTHER
        # queued, then the bot stops before its drain job: the shutdown flush sends it once

    async with running_bot(settings, clock) as (_app, svc):
        use_engine(svc, engine)
        assert await svc.notifier.drain() == 0  # nothing left, nothing twice after the restart
        clock.advance(120)  # the same interval polled again (ERCOT's retry file): nothing new
        assert await ercot_poll(svc, 180.0, 150.0) == 0
        rows = await svc.db(lambda db: list(db.query("SELECT * FROM outbox WHERE chat_id = ?", [CHAT])))

    mine = texts(tg)
    assert len(mine) == 1
    grouped = mine[0]
    assert grouped.startswith("⚡ <b>ERCOT interval ending 09:45 CT</b>")
    assert "HB_WEST real-time price $180.00/MWh" in grouped and "HB_NORTH" in grouped
    assert "Curtail: HB_WEST $180.00/MWh" in grouped and "$115.74" in grouped
    # the source all members name (ERCOT, its link) is said once, at the end; each keeps its rule
    last = grouped.split("\n")[-1]
    assert grouped.count("real_time_spp.html") == 1 and "ERCOT</a>" in last, grouped
    assert "<code>power.hb_west &gt; 100</code>" in grouped and "<code>curtail</code>" in grouped
    [sent] = [r for r in rows if r["status"] == "sent"]
    assert sent["rule_id"] is None and sent["reason"] == "grouped"  # no single rule's buttons
    assert sorted(r["status"] for r in rows) == ["grouped", "grouped", "grouped", "sent"]
    other = texts(tg, OTHER)
    assert len(other) == 1 and "ERCOT interval" not in other[0] and "$180.00" in other[0]


def _store(db, obs: Observation) -> None:
    observations.insert_observations(db, [obs])


async def test_retarget_message_gives_the_new_hashprice(tmp_path, tg):
    clock = FakeClock(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
    async with running_bot(settings, clock) as (_app, svc):
        feed = Feed()
        await svc.db(add_rules, CHAT, ["retarget"], clock())
        retarget = Event(
            kind="retarget",
            key="retarget:925344",
            at=clock(),
            source="mempool",
            data={
                "height": 925_344,
                "realised_change_pct": 2.5,
                "projected_change_pct": 2.1,
                "difficulty": 152_000.0,
            },
        )
        feed.result = PollResult(
            observations=[
                Observation("price", 91_500.0, clock(), "mempool"),
                Observation("fees", 0.025, clock(), "mempool"),
            ],
            events=[retarget],
        )
        assert (await svc.pipeline.run_watcher(feed, svc.session)).ok
        assert await svc.notifier.drain() == 1
        text = texts(tg)[-1]
        # From first principles: 1 PH/s for a day is 1e15 × 86,400 hashes; a block takes
        # difficulty × 2^32 hashes; the subsidy at height 925,344 (4th halving era, 840,000 to
        # 1,049,999) is 50 / 2^4 = 3.125 BTC.
        blocks = 1e15 * 86_400 / (152_000e12 * 2**32)
        expected = blocks * (3.125 + 0.025) * 91_500.0
        assert f"new hashprice <b>${expected:,.2f}/PH/day</b>" in text
        assert "price $91,500" in text and "fees 0.025 BTC/block" in text

        # a retarget without fees stored: no hashprice at all, never an estimate
        await svc.db(lambda db: db.execute("DELETE FROM observations WHERE metric = 'fees'"))
        feed.result = PollResult(
            events=[
                Event(
                    "retarget",
                    "retarget:927360",
                    clock(),
                    "mempool",
                    {"height": 927_360, "difficulty": 155_000.0},
                )
            ]
        )
        assert (await svc.pipeline.run_watcher(feed, svc.session)).ok
        assert await svc.notifier.drain() == 1
        assert "hashprice" not in texts(tg)[-1] and "927,360" in texts(tg)[-1]


@pytest.mark.parametrize("engine", ENGINES)
async def test_no_data_reaches_curtail_says_how_long_and_data_back_follows(tmp_path, tg, engine):
    clock = FakeClock(datetime(2026, 7, 14, 14, 0, tzinfo=UTC))
    settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
    async with running_bot(settings, clock) as (_app, svc):
        use_engine(svc, engine)
        feed = Feed()
        await svc.db(add_rules, CHAT, ["curtail", "power.hb_west > 500"], clock())
        await svc.db(chats.update_settings, CHAT, clock(), fleet=Fleet(18.0, 0.045), hub="HB_WEST")
        await svc.db(chats.set_tz, CHAT, "America/Chicago")
        assert await poll(svc, feed, clock, hashprice=50.0) == 0
        assert await poll(svc, feed, clock, source="ercot", power__hb_west=30.0) == 0  # 09:00 CDT
        for _ in range(30):  # ERCOT silent; hashprice keeps coming; the stale check every minute
            clock.advance(60)
            await poll(svc, feed, clock, hashprice=50.0)
            await svc.pipeline.check_stale()
        assert await svc.notifier.drain() == 1  # 09:30: one notice for both rules on ERCOT
        notice = texts(tg)[-1]
        assert "No data from ERCOT for 30 min" in notice and "last value 09:00 CDT" in notice
        assert "<code>curtail</code>" in notice and "<code>power.hb_west &gt; 500</code>" in notice
        for _ in range(10):
            clock.advance(60)
            await svc.pipeline.check_stale()
        assert await svc.notifier.drain() == 0  # said once

        clock.advance(300)  # 09:45: ERCOT answers again, below breakeven and threshold
        assert await poll(svc, feed, clock, source="ercot", power__hb_west=35.0) == 1
        back = texts(tg)[-1]
        assert "Data back from ERCOT after 45 min" in back
        assert "<code>curtail</code>" in back and "power.hb_west" in back
        assert len(texts(tg)) == 2


async def test_one_outage_is_one_notice_per_admin_in_the_admins_zone(tmp_path, tg, aiohttp_server):
    mempool = MempoolStandIn()
    mempool.serve_json(DA_PATH, DA)
    server = await aiohttp_server(mempool.app())
    admins = [5001, 5002]
    settings = bot_settings(
        tmp_path,
        tg,
        {
            "telegram": {"admins": admins},
            "sources.mempool": {"base_url": str(server.make_url("")).rstrip("/")},
            "watchers.network": {"every": "60s", "price_sources": ["mempool"]},
            "alerts": {"source_failing_after": "10m"},
            "http": {"enabled": False},
        },
    )
    clock = FakeClock(datetime(2024, 3, 31, 12, 3, tzinfo=UTC))
    async with running_bot(settings, clock) as (app, svc):
        for admin in admins:  # each admin watches several metrics of the failing source
            await svc.db(
                add_rules, admin, ["difficulty.next_change > 10%", "difficulty.blocks_left < 5"], clock()
            )
        await svc.db(chats.set_tz, 5001, "America/Chicago")  # 12:04 UTC is 07:04 CDT
        ctx = SimpleNamespace(bot_data=app.bot_data, job=SimpleNamespace(data=svc.watchers[0]))
        await watch_job(ctx)  # healthy at 12:03
        outage(mempool)
        for _ in range(40):  # forty minutes down; the stale check every minute
            clock.advance(60)
            await watch_job(ctx)
            await svc.pipeline.check_stale()
            await svc.notifier.drain()
        back(mempool)
        clock.advance(60)
        await watch_job(ctx)  # 12:44: back
        await svc.notifier.drain()

    chicago, utc = texts(tg, 5001), texts(tg, 5002)
    failing = [t for t in chicago if "failing</b>" in t]
    assert len(failing) == 1  # one outage: one notice, not one per metric or per poll
    assert "since 07:04 CDT" in failing[0] and "Down for 10 min so far" in failing[0]
    utc_failing = [t for t in utc if "failing</b>" in t]
    assert len(utc_failing) == 1 and "since 12:04 UTC" in utc_failing[0]
    recovered = [t for t in chicago if "recovered</b>" in t]
    assert len(recovered) == 1 and "at 07:44 CDT after 40 min down" in recovered[0]
    # as a chat with rules, the admin also hears once that both alerts wait, and once that they
    # are judged again: the same outage, never one message per metric
    nodata = [t for t in chicago if "No data from" in t]
    assert (
        len(nodata) == 1 and "difficulty.next_change" in nodata[0] and "difficulty.blocks_left" in nodata[0]
    )
    assert len([t for t in chicago if "Data back" in t]) == 1
    assert len(chicago) == len(utc) == 4
