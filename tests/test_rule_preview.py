"""/alert previews the rule from stored history (issue 13 item 3) and refuses a second rule on a
condition the chat already watches (item 10), through the real application and the fake Bot API."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rules.data import Event, Observation
from rules.fleet import Fleet
from storage import chats, events, observations
from storage import rules as rule_store
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot

CHAT = 6262
NOW = FakeClock().now  # 2024-03-31 12:00 UTC: 07:00 CDT in Chicago


@pytest.fixture
async def bot(tmp_path):
    tg = FakeTelegram()
    await tg.start()
    settings = bot_settings(tmp_path, tg)
    clock = FakeClock()
    async with running_bot(settings, clock) as (_app, svc):
        await svc.db(chats.ensure_chat, CHAT, "private", None, clock())
        await svc.db(chats.set_tz, CHAT, "America/Chicago")
        yield tg, svc
    await tg.stop()


async def say(tg: FakeTelegram, text: str) -> str:
    before = len(tg.sent(chat_id=CHAT))
    tg.push_command(text, chat_id=CHAT, user_id=CHAT, chat_type="private")
    await tg.wait_for(lambda: len(tg.sent(chat_id=CHAT)) > before)
    return tg.sent(chat_id=CHAT)[-1]["text"]


def hashprice_history(
    start: datetime, end: datetime, dips: list[tuple[datetime, timedelta]], step_min: int = 10
):
    """Hashprice at 50 every ``step_min`` minutes, at 44 inside each (start, length) dip."""
    out, at = [], start
    while at <= end:
        low = any(begin <= at < begin + length for begin, length in dips)
        out.append(Observation("hashprice", 44.0 if low else 50.0, at, "test"))
        at += timedelta(minutes=step_min)
    return out


async def test_the_preview_counts_firings_over_30_days_in_the_chats_zone(bot):
    tg, svc = bot
    dips = [
        (NOW - timedelta(days=20), timedelta(hours=1)),
        (NOW - timedelta(days=9), timedelta(hours=2)),
        (datetime.fromisoformat("2024-03-28T19:05:00+00:00"), timedelta(minutes=30)),
    ]
    # 31 days stored: the whole 30-day period is covered
    history = hashprice_history(NOW - timedelta(days=31), NOW - timedelta(minutes=5), dips, step_min=5)
    await svc.db(observations.insert_observations, history)
    answer = await say(tg, "/alert hashprice < 45")
    assert "Alert set" in answer and "Now: " in answer
    # the last dip began at 19:05 UTC on Thursday 28 March: 14:05 in Chicago (CDT)
    assert (
        "Over the last 30 days this would have fired 3 times, last on Thu 28 Mar 14:05 CDT, longest 2 h."
        in (answer)
    )
    assert "alerting now" not in answer
    # "for 90m" suppresses the 1 h and 30 min dips: only the 2 h one fires, 90 min into it (08:30
    # CDT on 22 March), and resolves with the first value back up, 30 min later
    answer = await say(tg, "/alert hashprice < 44.5 for 90m")
    assert "would have fired once, last on Fri 22 Mar 08:30 CDT, longest 30 min." in answer


async def test_a_rule_already_past_its_threshold_says_alerting_now(bot):
    tg, svc = bot
    recent = [(NOW - timedelta(hours=2), timedelta(hours=3))]  # low since two hours, still low
    history = hashprice_history(NOW - timedelta(days=3), NOW - timedelta(minutes=1), recent)
    await svc.db(observations.insert_observations, history)
    answer = await say(tg, "/alert hashprice < 45")
    assert "Already below" in answer and "alerting now." in answer
    # three days stored, not thirty: the period says so
    assert "Over the 3 d stored this would have fired once" in answer and "(still firing)" in answer
    above = await say(tg, "/alert hashprice > 49")
    assert "Already" not in above and "would have fired once" in above


async def test_a_change_rule_without_enough_history_says_when_it_can_fire(bot):
    tg, svc = bot
    history = hashprice_history(NOW - timedelta(hours=3), NOW, [])
    await svc.db(observations.insert_observations, history)
    answer = await say(tg, "/alert hashprice drops 10% in 24h")
    assert "Alert set" in answer
    # 3 h stored since 09:00 UTC: 24 h after that is Monday 1 April 09:00 UTC, 04:00 CDT
    assert "Needs 24 h of history; 3 h stored: can fire from Mon 1 Apr 04:00 CDT." in answer
    assert "would have fired" not in answer  # no count the history cannot support


async def test_no_history_says_so_and_estimates_nothing(bot):
    tg, _svc = bot
    answer = await say(tg, "/alert difficulty > 120T")
    assert "Alert set" in answer and "No stored history yet" in answer
    assert "would have" not in answer


async def test_an_event_rule_says_what_triggers_it_and_counts_stored_events(bot):
    tg, svc = bot
    retarget = Event("retarget", "retarget:840000", NOW - timedelta(days=4), "test", {"height": 840000})
    old = Event("retarget", "retarget:837984", NOW - timedelta(days=40), "test", {"height": 837984})
    for event in (retarget, old):
        await svc.db(events.record_event, event, NOW)
    answer = await say(tg, "/alert retarget")
    assert "Fires at each difficulty adjustment" in answer
    assert "1 such event stored in the last 30 days, the last on Wed 27 Mar 07:00 CDT." in answer
    # filings are matched as the engine matches them: ticker and kind
    for n, (ticker, kind) in enumerate(
        [("MARA", "convertible_notes"), ("RIOT", "convertible_notes"), ("MARA", "earnings")]
    ):
        filing = Event(
            "filing", f"f{n}", NOW - timedelta(days=n + 1), "test", {"ticker": ticker, "kind": kind}
        )
        await svc.db(events.record_event, filing, NOW)
    answer = await say(tg, "/alert filings MARA convertible")
    assert "Fires on each matching SEC filing" in answer
    assert "1 such event stored in the last 30 days, the last on Sat 30 Mar 07:00 CDT." in answer


async def test_a_fleet_metric_is_previewed_from_stored_hashprice(bot):
    tg, svc = bot
    await svc.db(chats.update_settings, CHAT, NOW, fleet=Fleet(20.0, 0.05))
    dips = [(NOW - timedelta(days=5), timedelta(hours=4))]
    history = hashprice_history(NOW - timedelta(days=31), NOW - timedelta(minutes=1), dips)
    await svc.db(observations.insert_observations, history)
    # 20 J/TH at $0.05/kWh costs $24/PH/day: profit is 26 at hashprice 50 and 20 at 44
    answer = await say(tg, "/alert profit < 22")
    assert "would have fired once" in answer and "longest 4 h" in answer
    assert "your fleet as set now" in answer


async def test_a_second_rule_on_a_watched_condition_is_refused_with_the_first_named(bot):
    tg, svc = bot
    assert "Alert set" in await say(tg, "/alert difficulty > 130T")
    assert "Alert set" in await say(tg, "/alert price < 50k")
    for text in ("/alert !price < 50k", "/alert price below 50000 for 10m every 1h"):
        answer = await say(tg, text)
        assert "already watches this condition: number 2, <code>price &lt; 50k</code>" in answer
        assert "<code>/delete 2</code>" in answer and "Nothing was added" in answer
    assert "<code>/alert !price &lt; 50k</code>" in await say(tg, "/alert !price < 50k")
    # the very same text keeps its own answer, with its number
    assert "already has <code>price &lt; 50k</code> (number 2 in <code>/alerts</code>)" in await say(
        tg, "/alert price < 50k"
    )
    # another threshold is another condition
    assert "Alert set" in await say(tg, "/alert price < 49k")
    texts = [r["text"] for r in await svc.db(rule_store.list_rules, CHAT)]
    assert texts == ["difficulty > 130T", "price < 50k", "price < 49k"]


async def test_curtail_is_previewed_from_the_hubs_price_against_the_breakeven(bot):
    tg, svc = bot
    # 20 J/TH: at hashprice 50 the breakeven is 50 x 1000 / (24 x 20) = $104.17/MWh
    await svc.db(chats.update_settings, CHAT, NOW, fleet=Fleet(20.0, 0.05), hub="HB_WEST")
    hashprice = hashprice_history(NOW - timedelta(days=31), NOW - timedelta(minutes=1), [], step_min=15)
    spike = (NOW - timedelta(days=2), timedelta(hours=1))
    power = [
        Observation("power.hb_west", 300.0 if spike[0] <= o.at < spike[0] + spike[1] else 30.0, o.at, "test")
        for o in hashprice
    ]
    await svc.db(observations.insert_observations, hashprice + power)
    answer = await say(tg, "/alert curtail")
    assert "would have fired once, last on Fri 29 Mar 07:00 CDT, longest 1 h." in answer
    assert "alerting now" not in answer


def test_a_long_window_reads_two_periods_and_counts_what_the_whole_history_counts(tmp_path):
    """``drops 10% in 60d`` reads the 30 days and the 30 days 60 days before them, not the months
    between, and finds what a replay over the whole stored history finds."""
    import math

    from bot.handlers.rule_preview import preview
    from rules.backtest import replay
    from rules.chat_settings import ChatSettings
    from rules.grammar import parse_rule
    from storage.db import open_db

    db = open_db(tmp_path / "db.sqlite")
    start = NOW - timedelta(days=120)
    hours = [start + timedelta(hours=h) for h in range(120 * 24)]
    # a 13-day wave, out of phase with itself 60 days on: down more than 10% over 60 days at times
    obs = [
        Observation("hashprice", 50 + 6 * math.sin(h / 50) + 0.5 * math.sin(h), at, "test")
        for h, at in enumerate(hours)
    ]
    observations.insert_observations(db, obs)
    rule = parse_rule("hashprice drops 10% in 60d")
    shown = preview(db, rule, ChatSettings(), NOW, 1800)
    assert shown.rows_read <= 2 * 30 * 24 + 2  # two periods and one value before, not 90 days
    whole = replay(rule, observations.history(db, "hashprice", start), NOW - timedelta(days=30), NOW)  # type: ignore[arg-type]
    assert whole.fired > 0
    times = "once" if whole.fired == 1 else "twice" if whole.fired == 2 else f"{whole.fired} times"
    assert f"Over the last 30 days this would have fired {times}" in " ".join(shown.lines)


async def test_a_channels_duplicate_names_the_channel_commands_to_replace_it(tmp_path):
    from bot.settings import load_settings
    from tests.test_channels import ADMIN, CHANNEL_ID, channel_texts, config

    tg = FakeTelegram()
    tg.known_chats["@miner_alerts"] = {
        "id": CHANNEL_ID,
        "type": "channel",
        "title": "M",
        "username": "miner_alerts",
    }
    await tg.start()
    try:
        settings = load_settings(config(tmp_path, tg, ["retarget"]))
        async with running_bot(settings, FakeClock()) as (_app, svc):
            reply = await tg.command("/channel @miner_alerts alert !retarget", chat_id=ADMIN)
            assert "@miner_alerts already watches this condition: number 1, <code>retarget</code>" in reply
            assert "<code>/channel @miner_alerts delete 1</code>" in reply
            assert "<code>/channel @miner_alerts alert !retarget</code>" in reply
            assert await channel_texts(svc) == ["retarget"]
    finally:
        await tg.stop()


async def test_a_failing_preview_still_confirms_the_stored_rule(bot, monkeypatch):
    tg, svc = bot

    def broken(*_args: object) -> None:
        raise RuntimeError("corrupt history")

    monkeypatch.setattr("bot.handlers.commands.preview", broken)
    answer = await say(tg, "/alert hashprice < 45")
    assert answer.startswith("✅ Alert set: <code>hashprice &lt; 45</code>")
    assert [r["text"] for r in await svc.db(rule_store.list_rules, CHAT)] == ["hashprice < 45"]
