"""Issue 2, end to end: a user sets `/alert difficulty.next_change > 3%` in a private chat; the
network watcher polls a mempool stand-in serving the real recorded payload; the chat gets one
short HTML message; the next polls and a restart send nothing twice; the value falling back
sends one resolved line. Real PTB application, real HTTP, fake servers on 127.0.0.1 only."""

from __future__ import annotations

import copy
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from storage import outbox
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from tests.mempool_standin import MempoolStandIn, load

CHAT = 4242
DA_PATH = "/api/v1/difficulty-adjustment"
# Real recording, 2024-03-31: projection +5.9148%, 1,606 blocks left, ETA 1712766704114 ms.
ABOVE = load("difficulty-adjustment.mainnet-2024-03-31.json")
# The same epoch a few hours earlier, projection +2.5% (derived from the recording above by
# editing difficultyChange and the block counts; see tests/fixtures/mempool/PROVENANCE.md).
BELOW = {**copy.deepcopy(ABOVE), "difficultyChange": 2.5, "remainingBlocks": 1630, "progressPercent": 19.15}


@pytest.fixture
async def mempool(aiohttp_server):
    standin = MempoolStandIn()
    standin.serve_json(DA_PATH, BELOW)
    server = await aiohttp_server(standin.app())
    standin.base_url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return standin


def settings_for(tmp_path: Path, tg: FakeTelegram, mempool: MempoolStandIn):
    return bot_settings(
        tmp_path,
        tg,
        {
            "sources.mempool": {"base_url": mempool.base_url},  # type: ignore[attr-defined]
            "watchers.network": {"every": "1s", "price_sources": ["mempool"]},
        },
    )


async def command(tg: FakeTelegram, text: str, chat_id: int = CHAT) -> str:
    return await tg.command(text, chat_id=chat_id)


async def poll_and_drain(svc) -> int:
    watcher = svc.watchers[0].watcher
    outcome = await svc.pipeline.run_watcher(watcher, svc.session)
    assert outcome.ok, outcome.error
    return await svc.notifier.drain()


async def test_alert_fires_once_on_transition_and_survives_restart(tmp_path, tg, mempool, caplog):
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    settings = settings_for(tmp_path, tg, mempool)

    async with running_bot(settings, clock) as (_app, svc):
        reply = await command(tg, "/alert difficulty.next_change > 3%")
        assert "Alert set" in reply and "difficulty.next_change" in reply

        # Below the threshold: nothing is sent.
        assert await poll_and_drain(svc) == 0

        # The projection crosses +3%: exactly one message.
        mempool.serve_json(DA_PATH, ABOVE)
        clock.advance(60)
        assert await poll_and_drain(svc) == 1
        alerts = [m for m in tg.sent(chat_id=CHAT) if "5.91" in m["text"]]
        assert len(alerts) == 1
        text = alerts[0]["text"]
        assert alerts[0]["parse_mode"] == "HTML"
        assert "<b>" in text and "+5.91%" in text  # the number, bold line
        assert "+3%" in text or "3.00%" in text  # the threshold
        assert "1,606 blocks" in text  # blocks left
        assert "2024-04-10 16:31 UTC" in text  # ETA from estimatedRetargetDate (ms)
        # a link to the source that every reader can open: the public explorer ([links]
        # explorer_url), never the mempool instance polled (here on 127.0.0.1, often a LAN box)
        assert 'href="https://mempool.space/mining"' in text and mempool.base_url not in text

        # Still above on the next polls: no repeat.
        for _ in range(3):
            clock.advance(60)
            assert await poll_and_drain(svc) == 0

    sent_before_restart = len(tg.sent(chat_id=CHAT))

    # Restart on the same database: nothing is sent twice, nothing is lost.
    async with running_bot(settings, clock) as (_app, svc):
        clock.advance(60)
        assert await poll_and_drain(svc) == 0
        assert len(tg.sent(chat_id=CHAT)) == sent_before_restart

        # Back below (past the hysteresis margin): one short resolved line.
        mempool.serve_json(DA_PATH, BELOW)
        clock.advance(60)
        assert await poll_and_drain(svc) == 1
        resolved = tg.sent(chat_id=CHAT)[-1]["text"]
        assert "+2.50%" in resolved and "back" in resolved.lower()

    # The token never reaches the logs.
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text


async def test_queued_alert_is_delivered_after_restart(tmp_path, tg, mempool):
    """A crash between queueing and sending loses nothing: the outbox row waits for the next run."""
    clock = FakeClock()
    settings = settings_for(tmp_path, tg, mempool)
    async with running_bot(settings, clock) as (_app, svc):
        await command(tg, "/alert difficulty.next_change > 3%")
        mempool.serve_json(DA_PATH, ABOVE)
        outcome = await svc.pipeline.run_watcher(svc.watchers[0].watcher, svc.session)
        assert outcome.queued == 1
        # Telegram is down for this send: the row stays pending.
        tg.fail_next(
            "sendMessage",
            502,
            {"ok": False, "error_code": 502, "description": "Bad Gateway"},
            chat_id=CHAT,
            times=50,
        )
        assert await svc.notifier.drain() == 0
        assert await svc.db(outbox.depth) == 1
        tg.faults.clear()
        # Stop without the final flush reaching Telegram: simulate by making it fail again.
        tg.fail_next(
            "sendMessage",
            502,
            {"ok": False, "error_code": 502, "description": "Bad Gateway"},
            chat_id=CHAT,
            times=50,
        )
    tg.faults.clear()
    async with running_bot(settings, clock) as (_app, svc):
        clock.advance(600)  # past the backoff
        assert await svc.notifier.drain() == 1
        assert await svc.db(outbox.depth) == 0
    assert len([m for m in tg.sent(chat_id=CHAT) if "5.91" in m["text"]]) == 1


@pytest.mark.parametrize(
    ("status", "body", "ctype"),
    [
        (200, "<html><body>Service Temporarily Unavailable</body></html>", "text/html"),
        (
            429,
            (Path(__file__).parent / "fixtures/mempool/error-429.mempool-space.html").read_text(),
            "text/html",
        ),
        (200, '{"progressPercent": 20.3, "difficultyChange": ', "application/json"),
        (503, "Service Temporarily Unavailable", "text/plain"),
    ],
    ids=["html-under-200", "429-html-page", "truncated-json", "503-plain"],
)
async def test_garbage_from_source_never_alerts(tmp_path, tg, mempool, status, body, ctype):
    clock = FakeClock()
    settings = settings_for(tmp_path, tg, mempool)
    async with running_bot(settings, clock) as (_app, svc):
        await command(tg, "/alert difficulty.next_change > 3%")
        mempool.routes[DA_PATH] = (status, body, ctype)
        outcome = await svc.pipeline.run_watcher(svc.watchers[0].watcher, svc.session)
        assert not outcome.ok and outcome.error
        assert outcome.queued == 0
        assert await svc.notifier.drain() == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"difficultyChange": None},
        {"difficultyChange": "five"},
        {"difficultyChange": 350.0},  # beyond the protocol's +300 %
        {"remainingBlocks": None},
    ],
    ids=["null", "text", "beyond-300pct", "null-blocks"],
)
async def test_garbage_fields_never_alert(tmp_path, tg, mempool, bad):
    clock = FakeClock()
    settings = settings_for(tmp_path, tg, mempool)
    async with running_bot(settings, clock) as (_app, svc):
        await command(tg, "/alert difficulty.next_change > 3%")
        sent = len(tg.sent(chat_id=CHAT))
        mempool.serve_json(DA_PATH, {**ABOVE, **bad})
        outcome = await svc.pipeline.run_watcher(svc.watchers[0].watcher, svc.session)
        assert not outcome.ok and outcome.error
        assert await svc.notifier.drain() == 0
        assert len(tg.sent(chat_id=CHAT)) == sent


async def test_first_start_backfills_history_once(tmp_path, tg, mempool):
    """Charts and change rules have data from day one: a year of difficulty and hashrate history
    is loaded on the first start (the docs' 1m/3d payloads have the 1y shapes), never again."""
    from types import SimpleNamespace

    from bot.jobs import backfill_job
    from storage import observations

    mempool.serve_file(
        "/api/v1/mining/difficulty-adjustments/1y",
        "mining-difficulty-adjustments-1m.docs-example-mainnet-2023-12.json",
    )
    mempool.serve_file("/api/v1/mining/hashrate/1y", "mining-hashrate-3d.docs-example-mainnet-2022-05.json")
    clock = FakeClock()
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (app, svc):
        await backfill_job(SimpleNamespace(bot_data=app.bot_data))
        assert len(await svc.db(observations.history, "difficulty", clock() - timedelta(days=365))) == 3
        assert len(await svc.db(observations.history, "hashrate", clock() - timedelta(days=800))) == 3
        await backfill_job(SimpleNamespace(bot_data=app.bot_data))  # history exists: nothing fetched
        assert mempool.hits["/api/v1/mining/difficulty-adjustments/1y"] == 1


async def test_stale_source_says_no_data_once_and_never_resolves(tmp_path, tg, mempool):
    clock = FakeClock()
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (_app, svc):
        await command(tg, "/alert difficulty.next_change > 3%")
        mempool.serve_json(DA_PATH, ABOVE)
        assert await poll_and_drain(svc) == 1  # firing
        mempool.routes[DA_PATH] = (503, "Service Temporarily Unavailable", "text/plain")
        for _ in range(31):  # mempool down for 31 minutes; the stale check runs every minute
            clock.advance(60)
            outcome = await svc.pipeline.run_watcher(svc.watchers[0].watcher, svc.session)
            assert not outcome.ok
            await svc.pipeline.check_stale()
        assert await svc.notifier.drain() == 1
        notice = tg.sent(chat_id=CHAT)[-1]["text"]
        assert "No data for difficulty.next_change from mempool for 30 min" in notice
        assert "last value 12:00 UTC" in notice  # the last value came at 12:00, the notice at 12:30
        clock.advance(600)
        assert await svc.pipeline.check_stale() == 0  # said once
        mempool.serve_json(DA_PATH, ABOVE)  # data back, still above: no false resolve, no repeat,
        clock.advance(60)  # but the chat hears that the alert is judged again, and after how long
        assert await poll_and_drain(svc) == 1
        back = tg.sent(chat_id=CHAT)[-1]["text"]
        assert "Data back from mempool after 42 min" in back  # 12:00 last value, back 12:42
        assert "firing" not in back.lower() and "✅" in back
        clock.advance(60)
        assert await poll_and_drain(svc) == 0


@pytest.mark.parametrize("setting", ["/snooze 2h", "/mute"])
async def test_snooze_and_mute_drop_alerts(tmp_path, tg, mempool, setting):
    clock = FakeClock()
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (_app, svc):
        await command(tg, "/alert difficulty.next_change > 3%")
        await command(tg, setting)
        mempool.serve_json(DA_PATH, ABOVE)
        clock.advance(60)
        assert await poll_and_drain(svc) == 0  # the transition happened, the chat hears nothing
        clock.advance(3 * 3600)  # the snooze is over; mute stays until /unmute
        await command(tg, "/unmute")
        mempool.serve_json(DA_PATH, BELOW)
        assert await poll_and_drain(svc) == 1  # resolved: heard again
        mempool.serve_json(DA_PATH, ABOVE)
        clock.advance(60)
        assert await poll_and_drain(svc) == 1
        firing = [m for m in tg.sent(chat_id=CHAT) if "5.91" in m["text"]]
        assert len(firing) == 1  # after the snooze or mute ended, the next crossing is heard
