"""Issue 16, the chat side of the 4CP watch: `/alert 4cp`, the grid watcher's poll (against the
local supply-demand stand-in, synthetic payload: tests/fixtures/ercot_grid/PROVENANCE.md) through
the real pipeline, outbox and notifier to the fake Bot API server; `/4cp` reads the same state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from storage import watcher_state
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from watchers.ercot_grid import DAILY_PRC_PATH, SUPPLY_DEMAND_PATH, GridWatcher

CHAT = 4242
CT = ZoneInfo("America/Chicago")
FIXTURE = (
    Path(__file__).parent / "fixtures" / "ercot_grid" / "supply-demand.2026-07-14T1600-0500.synthetic.json"
)
PRIOR = {
    "version": 1,
    "month": "2026-07",
    "days": {"2026-07-07": [80_500.0, "2026-07-07T22:00:00+00:00"]},  # Tue Jul 7, HE 17 CPT
    "stages": {},
    "forecast": None,
}


async def command(tg: FakeTelegram, text: str) -> str:
    return await tg.command(text, chat_id=CHAT)


async def test_4cp_warnings_reach_the_chat_once_with_times_in_its_zone(tmp_path, tg, aiohttp_server):
    async def supply_demand(_request: web.Request) -> web.Response:
        return web.Response(body=FIXTURE.read_bytes(), content_type="application/json")

    app = web.Application()
    app.router.add_get(SUPPLY_DEMAND_PATH, supply_demand)
    server = await aiohttp_server(app)
    clock = FakeClock(datetime(2026, 7, 14, 16, 2, tzinfo=CT).astimezone(UTC))
    settings = bot_settings(
        tmp_path,
        tg,
        {
            "watchers.network": {"enabled": False},
            "watchers.grid": {"enabled": True},
            "sources.ercot": {"base_url": str(server.make_url("")).rstrip("/")},
        },
    )
    async with running_bot(settings, clock) as (_app, svc):
        assert "Alert set" in await command(tg, "/alert 4cp")
        await command(tg, "/tz Europe/Berlin")
        grid = next(w.watcher for w in svc.watchers if isinstance(w.watcher, GridWatcher))
        # the month's earlier peak, as an earlier poll would have stored it
        await svc.db(watcher_state.save_success, "grid", {"fourcp": PRIOR}, clock())
        async with aiohttp.ClientSession() as session:
            outcome = await svc.pipeline.run_watcher(grid, session)
            assert outcome.ok and outcome.new_events == 2
            assert await svc.notifier.drain() == 2
            texts = [m["text"] for m in tg.sent(chat_id=CHAT)[-2:]]
            forecast = next(t for t in texts if "forecast peak" in t)
            # HE 17 CPT = 17:00 CDT = 00:00 CEST; the prior peak's interval shown in both zones
            assert "hour ending 17 CPT (00:00 CEST)" in forecast
            assert "Tue Jul 7, 23:45–00:00 CEST (HE 17 CPT, 16:45–17:00)" in forecast
            assert "within the 2% margin" in forecast
            actual = next(t for t in texts if "4CP now" in t)
            assert "22:45–23:00 CEST (HE 16 CPT, 15:45–16:00)" in actual

            clock.advance(300)  # the next poll: the same day's stages are not sent again
            outcome = await svc.pipeline.run_watcher(grid, session)
            assert outcome.ok and outcome.new_events == 0 and await svc.notifier.drain() == 0

        reply = await command(tg, "/4cp")
        assert "Month's highest intervals so far" in reply
        assert "Tue Jul 7" in reply and "80,500 MW" in reply
        assert "Today's forecast peak" in reply and "hour ending 17 CPT" in reply
        assert "likely peak day" in reply or "near the month's peak" in reply
        assert "Load now" in reply and " MW" in reply

        clock.advance(timedelta(days=90).total_seconds())  # October: out of season
        assert "Out of season" in await command(tg, "/4cp")


async def test_grid_emergency_reaches_the_chat_once(tmp_path, tg, aiohttp_server):
    prc = json.loads((FIXTURE.parent / "daily-prc.2026-07-14T1600-0500.synthetic.json").read_text())

    async def supply_demand(_request: web.Request) -> web.Response:
        return web.Response(body=FIXTURE.read_bytes(), content_type="application/json")

    async def daily_prc(_request: web.Request) -> web.Response:
        return web.json_response(prc)

    app = web.Application()
    app.router.add_get(SUPPLY_DEMAND_PATH, supply_demand)
    app.router.add_get(DAILY_PRC_PATH, daily_prc)
    server = await aiohttp_server(app)
    clock = FakeClock(datetime(2026, 7, 14, 16, 2, tzinfo=CT).astimezone(UTC))
    settings = bot_settings(
        tmp_path,
        tg,
        {
            "watchers.network": {"enabled": False},
            "watchers.grid": {"enabled": True},
            "sources.ercot": {"base_url": str(server.make_url("")).rstrip("/")},
        },
    )
    async with running_bot(settings, clock) as (_app, svc):
        assert "Alert set: <code>ercot.grid</code>" in await command(tg, "/alert grid")
        grid = next(w.watcher for w in svc.watchers if isinstance(w.watcher, GridWatcher))
        async with aiohttp.ClientSession() as session:
            assert (await svc.pipeline.run_watcher(grid, session)).ok
            assert await svc.notifier.drain() == 0  # normal: nothing to say
            prc["current_condition"].update(state="conservation", title="Conservation Appeal")
            clock.advance(300)
            assert (await svc.pipeline.run_watcher(grid, session)).ok
            assert await svc.notifier.drain() == 1
            text = tg.sent(chat_id=CHAT)[-1]["text"]
            assert "ERCOT grid: conservation appeal" in text and "was normal conditions" in text
            assert "PRC 13,820 MW" in text
            clock.advance(300)
            assert (await svc.pipeline.run_watcher(grid, session)).ok
            assert await svc.notifier.drain() == 0  # still the same condition: no stream
            prc["current_condition"].update(state="normal", title="Normal Conditions")
            clock.advance(300)
            assert (await svc.pipeline.run_watcher(grid, session)).ok
            assert await svc.notifier.drain() == 1
            assert "ERCOT back to normal conditions" in tg.sent(chat_id=CHAT)[-1]["text"]


def test_digest_of_a_texas_chat_mentions_4cp_and_the_grid_condition():
    from bot.delivery.digest import queue_digests
    from rules.fourcp import FourCpConfig
    from rules.grammar import format_rule, parse_rule
    from storage import chats, outbox
    from storage import rules as rule_store
    from storage.db import open_db

    now = datetime(2026, 7, 14, 8, 1, tzinfo=CT).astimezone(UTC)
    created = now - timedelta(days=2)
    db = open_db(None)
    for chat, hub in ((1, "HB_WEST"), (2, None)):
        chats.ensure_chat(db, chat, "private", "x", created)
        chats.set_tz(db, chat, "America/Chicago")
        if hub:
            chats.update_settings(db, chat, created, hub=hub)
        rule_store.add_rule(
            db, chat, format_rule(parse_rule("digest 08:00")), "event:digest", "event", created, max_rules=50
        )
    fourcp_state = {
        **PRIOR,
        "forecast": {"day": "2026-07-14", "mw": 80_000.0, "end": "2026-07-14T22:00:00+00:00"},
    }
    grid_state = {
        "condition": "conservation",
        "title": "Conservation Appeal",
        "since": "2026-07-13T20:00:00+00:00",
    }
    watcher_state.save_success(db, "grid", {"fourcp": fourcp_state, "grid": grid_state}, now)
    assert len(queue_digests(db, now, FourCpConfig())) == 2
    texts = {r["chat_id"]: r["text"] for r in db.query("SELECT chat_id, text FROM outbox")}
    texas = texts[1]
    assert "4CP July: peak so far 80,500 MW on Tue Jul 7, 16:45–17:00 CDT (HE 17 CPT)" in texas
    assert (
        "today's forecast peak 80,000 MW at HE 17 CPT (17:00 CDT), 0.6% under it: within the 2% margin"
        in texas
    )
    assert "ERCOT grid: <b>conservation appeal</b> since Mon 15:00 CDT" in texas
    assert "4CP" not in texts[2] and "ERCOT grid" not in texts[2]  # no Texas hub: nothing of it
    assert outbox.exists(db, next(iter(db.query("SELECT key FROM outbox WHERE chat_id = 1")))["key"])
    # out of season (October): no 4CP line; a normal grid: no grid line
    db2 = open_db(None)
    chats.ensure_chat(db2, 1, "private", "x", created)
    chats.update_settings(db2, 1, created, hub="HB_WEST")
    rule_store.add_rule(
        db2, 1, "digest 08:00", "event:digest", "event", created - timedelta(days=90), max_rules=50
    )
    watcher_state.save_success(db2, "grid", {"fourcp": fourcp_state, "grid": {"condition": "normal"}}, now)
    october = datetime(2026, 10, 14, 8, 1, tzinfo=UTC)
    assert len(queue_digests(db2, october, FourCpConfig())) == 1
    (text,) = [r["text"] for r in db2.query("SELECT text FROM outbox")]
    assert "4CP" not in text and "ERCOT grid" not in text
