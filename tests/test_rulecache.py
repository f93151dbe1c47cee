"""The in-memory rule index of the engine (bot/engine/rulecache.py): it decides what the database
path decided, writes only real transitions, and stays in step with rule and chat changes made by
any code path, including while a poll is being evaluated, and across restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.engine.dbworker import DbWorker
from bot.engine.rule_eval import IngestOptions
from bot.engine.rulecache import state_of
from bot.engine.runner import Pipeline
from rules.data import Observation
from rules.model import AlertState, Status
from storage import alerts, chats
from storage import rules as rule_store
from storage.db import open_db
from watchers.base import PollContext, PollResult

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class ValueWatcher:
    """Serves whatever value the test sets for ``hashprice``."""

    id = "net"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.value = 50.0

    async def poll(self, ctx: PollContext) -> PollResult:
        return PollResult([Observation("hashprice", self.value, ctx.now, "test")])


def outbox_rows(db: DbWorker) -> list[dict]:
    return list(db.db["outbox"].rows)


def add(db: DbWorker, chat_id: int, text: str) -> int:
    chats.ensure_chat(db.db, chat_id, "private", None, T0)
    rule_id = rule_store.add_rule(db.db, chat_id, text, "hashprice", "threshold", T0, max_rules=100)
    assert rule_id is not None
    return rule_id


@pytest.fixture
def env(tmp_path):
    dbw = DbWorker(open_db(tmp_path / "db.sqlite"))
    clock = Clock()
    yield dbw, clock, ValueWatcher(clock)
    dbw.close()


async def poll(pipeline: Pipeline, watcher: ValueWatcher, clock: Clock, value: float):
    clock.now += timedelta(minutes=1)
    watcher.value = value
    outcome = await pipeline.run_watcher(watcher, session=None)  # type: ignore[arg-type]
    assert outcome.ok, outcome.error
    return outcome


async def test_values_that_move_write_no_state_and_a_crossing_writes_one(env):
    db, clock, watcher = env
    ids = [add(db, 100 + i, "hashprice < 45") for i in range(50)]
    pipeline = Pipeline(db, clock, IngestOptions(links={}))
    for value in (50.0, 50.3, 49.8, 51.0):
        outcome = await poll(pipeline, watcher, clock, value)
        assert outcome.evaluated == 50 and outcome.transitions == 0
    assert db.db["alerts"].count == 0
    outcome = await poll(pipeline, watcher, clock, 44.0)
    assert outcome.transitions == 50 and outcome.queued == 50
    assert {r["chat_id"] for r in outbox_rows(db)} == {100 + i for i in range(50)}
    # memory and database agree, and staying below writes nothing more
    for rule_id in ids:
        stored = AlertState.from_dict(alerts.get_state(db.db, rule_id))
        assert stored.status is Status.FIRING and state_of(pipeline.cache, rule_id) == stored
    outcome = await poll(pipeline, watcher, clock, 43.0)
    assert outcome.transitions == 0 and outcome.queued == 0


async def test_rules_added_deleted_and_muted_between_polls_are_followed(env):
    db, clock, watcher = env
    keep = add(db, 1, "hashprice < 45")
    gone = add(db, 2, "hashprice < 45")
    muted = add(db, 3, "hashprice < 45")
    pipeline = Pipeline(db, clock, IngestOptions(links={}))
    await poll(pipeline, watcher, clock, 50.0)  # loads the metric
    assert rule_store.delete_rule_at(db.db, 2, 1) is not None  # /delete 1 in chat 2
    chats.update_settings(db.db, 3, clock.now, muted=True)  # /mute in chat 3
    new = add(db, 4, "hashprice < 47")  # /alert in chat 4, after the load
    outcome = await poll(pipeline, watcher, clock, 44.0)
    assert {r["chat_id"] for r in outbox_rows(db)} == {1, 4}  # muted chat 3: state moves, no message
    assert state_of(pipeline.cache, gone) is None
    assert state_of(pipeline.cache, new).status is Status.FIRING
    assert state_of(pipeline.cache, keep).status is Status.FIRING
    assert state_of(pipeline.cache, muted).status is Status.FIRING
    assert outcome.transitions == 3


async def test_a_rule_deleted_while_a_poll_is_evaluated_writes_nothing(env):
    db, clock, watcher = env
    add(db, 1, "hashprice < 45")
    doomed = add(db, 2, "hashprice < 45")
    pipeline = Pipeline(db, clock, IngestOptions(links={}))
    assert pipeline.cache is not None
    pipeline.cache.slice_size = 1  # yield after every rule, as at a million rules
    await poll(pipeline, watcher, clock, 50.0)
    original = pipeline.cache.evaluate
    added: list[int] = []

    async def evaluate_then_change(*args, **kwargs):  # the chat acts while the poll is evaluated
        await original(*args, **kwargs)
        assert rule_store.delete_rule_at(db.db, 2, 1) is not None
        added.append(add(db, 5, "hashprice < 46"))

    pipeline.cache.evaluate = evaluate_then_change  # type: ignore[method-assign]
    outcome = await poll(pipeline, watcher, clock, 44.0)
    pipeline.cache.evaluate = original  # type: ignore[method-assign]
    assert [r["chat_id"] for r in outbox_rows(db)] == [1]  # nothing for the deleted rule
    assert alerts.get_state(db.db, doomed) is None  # and no orphan state
    assert outcome.transitions == 1
    # the rule added meanwhile is evaluated from the next poll on
    outcome = await poll(pipeline, watcher, clock, 44.5)
    assert state_of(pipeline.cache, added[0]).status is Status.FIRING
    assert {r["chat_id"] for r in outbox_rows(db)} == {1, 5}


async def test_a_restart_reads_the_states_back(env):
    db, clock, watcher = env
    rule_id = add(db, 1, "hashprice < 45")
    first = Pipeline(db, clock, IngestOptions(links={}))
    await poll(first, watcher, clock, 44.0)
    assert len(outbox_rows(db)) == 1
    second = Pipeline(db, clock, IngestOptions(links={}))  # a new process: empty memory
    outcome = await poll(second, watcher, clock, 43.0)
    assert outcome.queued == 0 and len(outbox_rows(db)) == 1  # still firing: no second message
    assert state_of(second.cache, rule_id).status is Status.FIRING
    outcome = await poll(second, watcher, clock, 50.0)
    assert outcome.queued == 1 and [r["reason"] for r in outbox_rows(db)] == ["firing", "resolved"]
    assert state_of(second.cache, rule_id).status is Status.OK


async def test_stale_data_says_no_data_once_through_the_index(env):
    db, clock, watcher = env
    rule_id = add(db, 1, "hashprice < 45")
    pipeline = Pipeline(db, clock, IngestOptions(links={}, stale_after_s=600))
    await poll(pipeline, watcher, clock, 50.0)
    clock.now += timedelta(minutes=11)
    assert await pipeline.check_stale() == 1
    assert await pipeline.check_stale() == 0
    assert state_of(pipeline.cache, rule_id).nodata_notified
    assert AlertState.from_dict(alerts.get_state(db.db, rule_id)).nodata_notified
    assert [r["reason"] for r in outbox_rows(db)] == ["no_data"]


async def test_the_index_decides_as_the_database_path(env, tmp_path):
    # The same rules and the same sequence of values, with and without the index: the same
    # messages and the same stored states.
    texts = ["hashprice < 45", "hashprice > 52", "hashprice < 48 for 2m", "hashprice > 49 every 5m"]
    values = [50.0, 44.0, 47.0, 47.5, 53.0, 53.0, 53.5, 53.2, 53.1, 53.3, 46.0, 50.0]
    results = []
    for use_cache in (True, False):
        dbw = DbWorker(open_db(tmp_path / f"{use_cache}.sqlite"))
        clock = Clock()
        ids = [add(dbw, 10 + i, t) for i, t in enumerate(texts)]
        pipeline = Pipeline(dbw, clock, IngestOptions(links={}), cache=use_cache)
        watcher = ValueWatcher(clock)
        for v in values:
            await poll(pipeline, watcher, clock, v)
        states = [AlertState.from_dict(alerts.get_state(dbw.db, i)) for i in ids]
        sent = sorted((r["chat_id"], r["reason"], r["created_at"]) for r in outbox_rows(dbw))
        results.append((states, sent))
        if use_cache:
            assert [state_of(pipeline.cache, i) for i in ids] == states
        dbw.close()
    assert results[0] == results[1]
    assert len(results[0][1]) >= 5


async def test_a_poll_longer_than_its_interval_is_logged_and_counted(tmp_path, caplog):
    from types import SimpleNamespace

    from bot.jobs import watch_job
    from bot.ops.http import app_metrics
    from bot.services import ScheduledWatcher
    from tests.fake_telegram import FakeTelegram
    from tests.harness import FakeClock, bot_settings, running_bot

    tg = FakeTelegram()
    await tg.start()
    try:
        settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
        clock = FakeClock()
        async with running_bot(settings, clock) as (app, _svc):
            # every_s=0: any poll at all outlasts it (no timing involved)
            ctx = SimpleNamespace(
                bot_data=app.bot_data,
                job=SimpleNamespace(data=ScheduledWatcher(ValueWatcher(Clock()), every_s=0)),
            )
            await watch_job(ctx)
            rendered = app_metrics(app.bot_data).render().decode()
    finally:
        await tg.stop()
    assert 'minerwatch_poll_overruns_total{watcher="net"} 1.0' in rendered
    assert 'minerwatch_poll_seconds{watcher="net"}' in rendered
    assert any("longer than its 0 s interval" in r.getMessage() for r in caplog.records)


def test_the_observations_keep_one_index_for_metric_and_time(tmp_path):
    db = open_db(tmp_path / "db.sqlite")
    columns = sorted(tuple(i.columns) for i in db["observations"].indexes)
    assert columns == [("metric", "at", "source")]  # the (metric, at) one is gone (m010)
    plan = " ".join(
        str(r)
        for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT value FROM observations WHERE metric = ? AND at <= ? "
            "ORDER BY at DESC LIMIT 1",
            ["hashprice", "2026"],
        ).fetchall()
    )
    assert "idx_observations_metric_at_source" in plan  # lookups by (metric, at) use its prefix


async def test_a_state_written_outside_the_index_is_read_back(env):
    # Fleet, equity and production metrics are judged the classic way; should one of their rules
    # also sit in the index, the index re-reads it rather than keep a stale state.
    from bot.engine.rule_eval import evaluate_rule_row

    db, clock, watcher = env
    rule_id = add(db, 1, "hashprice < 45")
    pipeline = Pipeline(db, clock, IngestOptions(links={}))
    await poll(pipeline, watcher, clock, 50.0)
    (row,) = rule_store.rules_for_metric(db.db, "hashprice")
    evaluate_rule_row(db.db, row, 44.0, "test", {}, clock.now, IngestOptions(links={}))  # fires there
    assert len(outbox_rows(db)) == 1
    outcome = await poll(pipeline, watcher, clock, 43.0)
    assert outcome.queued == 0  # the index knows it is firing: no second message
    assert state_of(pipeline.cache, rule_id).status is Status.FIRING


async def test_warm_loads_every_judged_metric_before_the_first_poll(env):
    """At start the rules are loaded before any poll (before, the first poll loaded them: 6.4 s at
    a million rules); the first poll then only evaluates."""
    db, clock, watcher = env
    for i in range(30):
        add(db, 300 + i, "hashprice < 45")
    chats.ensure_chat(db.db, 999, "private", None, T0)
    rule_store.add_rule(db.db, 999, "price < 50k", "price", "threshold", T0, max_rules=100)
    rule_store.add_rule(db.db, 999, "retarget", "event:retarget", "event", T0, max_rules=100)
    pipeline = Pipeline(db, clock, IngestOptions(links={}))
    assert pipeline.cache is not None and not pipeline.cache.loaded
    assert await pipeline.warm() == 2
    assert {"hashprice", "price"} <= pipeline.cache.loaded
    outcome = await poll(pipeline, watcher, clock, 44.0)
    assert outcome.evaluated == 30 and outcome.transitions == 30
    assert await Pipeline(db, clock, IngestOptions(links={}), cache=False).warm() == 0
