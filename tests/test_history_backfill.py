"""Issue 13 item 7: the first-start history load runs before the first poll, is not skipped when a
live poll lands first, retries with back-off on the bot's (injected) clock and is logged.

Real PTB application and real HTTP against the mempool stand-in serving recorded payloads (the
docs' 1m/3d examples, which have the 1y endpoints' shapes; tests/fixtures/mempool/PROVENANCE.md)."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace

from bot.engine.backfill import MAX_ATTEMPTS, history_loader, loaded_state, retry_delay
from bot.jobs import backfill_job, watch_job
from storage import observations
from tests.harness import FakeClock, running_bot
from tests.test_e2e_difficulty import mempool, settings_for  # noqa: F401  (fixture)

DIFF_1Y = "/api/v1/mining/difficulty-adjustments/1y"
HASH_1Y = "/api/v1/mining/hashrate/1y"
DA_PATH = "/api/v1/difficulty-adjustment"


def serve_history(standin) -> None:
    standin.serve_file(DIFF_1Y, "mining-difficulty-adjustments-1m.docs-example-mainnet-2023-12.json")
    standin.serve_file(HASH_1Y, "mining-hashrate-3d.docs-example-mainnet-2022-05.json")


def job_context(app) -> SimpleNamespace:
    return SimpleNamespace(bot_data=app.bot_data, job=None)


async def difficulty_rows(svc, clock) -> list:
    return await svc.db(observations.history, "difficulty", clock() - timedelta(days=800))


async def test_first_poll_waits_for_the_history_load(tmp_path, tg, mempool):  # noqa: F811
    serve_history(mempool)
    mempool.serve_file("/api/v1/mining/hashrate/3d", "mining-hashrate-3d.assembled-mainnet-2024-03-31.json")
    clock = FakeClock()
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (app, svc):
        history_loader(app.bot_data, svc)  # armed as schedule_jobs arms it, before any watcher job
        network = next(sw for sw in svc.watchers if sw.watcher.id == "network")
        poll = SimpleNamespace(bot_data=app.bot_data, job=SimpleNamespace(data=network))
        # The scheduler fires the poll first: it skips its tick, nothing is fetched ...
        await watch_job(poll)
        assert mempool.log == []
        assert await difficulty_rows(svc, clock) == []
        # ... the history goes in, and the next tick polls.
        await backfill_job(job_context(app))
        await watch_job(poll)
        assert DA_PATH in mempool.log
        assert mempool.log.index(DIFF_1Y) < mempool.log.index(DA_PATH)
        assert mempool.log.index(HASH_1Y) < mempool.log.index(DA_PATH)
        assert len(await svc.db(observations.history, "hashrate", clock() - timedelta(days=800))) >= 3
        assert len(await difficulty_rows(svc, clock)) == 3 + 1  # the year, then the live value
        assert "network" in await svc.db(loaded_state)


async def test_history_is_not_skipped_when_the_first_poll_lands_first(tmp_path, tg, mempool):  # noqa: F811
    """The old guard, "a difficulty observation exists, skip", was defeated by the first poll."""
    serve_history(mempool)
    # the live poll's difficulty (recorded 2024-03-31, tests/fixtures/mempool/PROVENANCE.md)
    mempool.serve_file("/api/v1/mining/hashrate/3d", "mining-hashrate-3d.assembled-mainnet-2024-03-31.json")
    clock = FakeClock()
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (app, svc):
        network = next(sw for sw in svc.watchers if sw.watcher.id == "network")
        outcome = await svc.pipeline.run_watcher(network.watcher, svc.session)  # no gate: lands first
        assert outcome.ok, outcome.error
        live = await difficulty_rows(svc, clock)
        assert len(live) == 1 and live[0][0] == clock()  # the live value, stored now
        await backfill_job(job_context(app))
        rows = await difficulty_rows(svc, clock)
        assert len(rows) == 1 + 3  # the year went in beside the live value
        assert rows[-1] == live[0]  # and the live value is still the newest
        await backfill_job(job_context(app))  # loaded: never fetched again
        assert mempool.hits[DIFF_1Y] == 1


async def test_history_retries_with_back_off_on_the_bots_clock(tmp_path, tg, mempool, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, logger="bot.engine.backfill")
    mempool.routes[DIFF_1Y] = (503, "Service Temporarily Unavailable", "text/plain")
    clock = FakeClock()
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (app, svc):
        loader = history_loader(app.bot_data, svc)
        await backfill_job(job_context(app))
        assert mempool.hits[DIFF_1Y] == 1 and not loader.finished
        assert "retry in 1 min" in caplog.text and "HTTP 503" in caplog.text

        await backfill_job(job_context(app))  # not due yet on the bot's clock: nothing asked
        clock.advance(59)
        await backfill_job(job_context(app))
        assert mempool.hits[DIFF_1Y] == 1

        clock.advance(1)  # due: second attempt, still failing -> two minutes
        await backfill_job(job_context(app))
        assert mempool.hits[DIFF_1Y] == 2 and "retry in 2 min" in caplog.text

        serve_history(mempool)  # mempool is back
        clock.advance(119)
        await backfill_job(job_context(app))
        assert mempool.hits[DIFF_1Y] == 2
        clock.advance(1)
        await backfill_job(job_context(app))
        assert mempool.hits[DIFF_1Y] == 3 and loader.finished
        assert len(await difficulty_rows(svc, clock)) == 3
        assert "history backfill: network from mempool started (attempt 3)" in caplog.text
        assert "history backfill: network from mempool stored 6 observations in" in caplog.text
        state = await svc.db(loaded_state)
        assert state["network"]["rows"] == 6


def test_retry_delay_doubles_and_caps():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay(MAX_ATTEMPTS).total_seconds() == 3600
