"""Issue 8: source health as alerts. A watcher failing for ``alerts.source_failing_after`` tells
each admin ONCE (keyed on watcher + failing_since, so never per poll, never again after a
restart), and ONCE more when it recovers; a blip shorter than the threshold says nothing.
The pure decision is tested as a table; the rest through the real app's watch_job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.jobs import watch_job
from bot.ops.health import Notice, decide, failing_text
from storage import outbox
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from tests.mempool_standin import MempoolStandIn, load

ADMIN, ADMIN2 = 5001, 5002
DA_PATH = "/api/v1/difficulty-adjustment"
DA = load("difficulty-adjustment.mainnet-2024-03-31.json")
MEMPOOL_PATHS = (
    DA_PATH,
    "/api/v1/mining/hashrate/3d",
    "/api/blocks/tip/height",
    "/api/v1/mining/reward-stats/144",
    "/api/v1/prices",
)
T0 = datetime(2024, 3, 31, 12, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ok", "since_ago", "recovered", "expected"),
    [
        (False, 599, False, None),  # failing, but not for 10 minutes yet
        (False, 600, False, Notice.FAILING),  # exactly the threshold
        (False, 3600, False, Notice.FAILING),  # still failing: the outbox key keeps it to one message
        (True, None, True, Notice.RECOVERED),  # first good poll after a failure
        (True, None, False, None),  # healthy and was healthy
        (False, None, False, None),  # no failing_since known: nothing to key on
    ],
    ids=["before-threshold", "at-threshold", "long-after", "recovered", "healthy", "no-since"],
)
def test_decide(ok, since_ago, recovered, expected):
    since = None if since_ago is None else T0 - timedelta(seconds=since_ago)
    decision = decide(ok=ok, failing_since=since, recovered=recovered, now=T0, failing_after_s=600)
    assert (decision.notice if decision else None) == expected
    if expected is Notice.FAILING:
        assert decision is not None and decision.since == since


def test_failing_text_is_short_escaped_html():
    text = failing_text("network", T0, "HTTP 503: <html>down</html>", T0 + timedelta(minutes=10))
    assert text.startswith("⚠️ <b>Network data")
    assert "failing</b> since 12:04 UTC: HTTP 503: &lt;html&gt;down&lt;/html&gt;" in text
    other_day = failing_text("power", T0, "x" * 1000, T0 + timedelta(days=1))
    assert "since 2024-03-31 12:04 UTC" in other_day and len(other_day) < 500


@pytest.fixture
async def mempool(aiohttp_server):
    standin = MempoolStandIn()
    standin.serve_json(DA_PATH, DA)
    server = await aiohttp_server(standin.app())
    standin.base_url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return standin


def settings_for(tmp_path: Path, tg: FakeTelegram, mempool: MempoolStandIn, admins: list[int]):
    return bot_settings(
        tmp_path,
        tg,
        {
            "telegram": {"admins": admins},
            "sources.mempool": {"base_url": mempool.base_url},  # type: ignore[attr-defined]
            "watchers.network": {"every": "60s", "price_sources": ["mempool"]},
            "alerts": {"source_failing_after": "10m"},
            "http": {"enabled": False},
        },
    )


def outage(mempool: MempoolStandIn) -> None:
    for path in MEMPOOL_PATHS:
        mempool.routes[path] = (503, "Service Temporarily Unavailable", "text/plain")


def back(mempool: MempoolStandIn) -> None:
    for path in MEMPOOL_PATHS:
        mempool.routes.pop(path, None)
    mempool.serve_json(DA_PATH, DA)


def health_messages(tg: FakeTelegram, chat: int) -> list[str]:
    return [p["text"] for p in tg.sent(chat_id=chat) if "failing" in p["text"] or "recovered" in p["text"]]


async def polls(ctx: SimpleNamespace, clock: FakeClock, n: int, every: int = 60) -> None:
    for _ in range(n):
        clock.advance(every)
        await watch_job(ctx)  # type: ignore[arg-type]


async def test_one_message_when_failing_long_enough_one_on_recovery(tmp_path, tg, mempool):
    clock = FakeClock(datetime(2024, 3, 31, 12, 3, tzinfo=UTC))
    settings = settings_for(tmp_path, tg, mempool, [ADMIN, ADMIN2])
    async with running_bot(settings, clock) as (app, svc):
        ctx = SimpleNamespace(bot_data=app.bot_data, job=SimpleNamespace(data=svc.watchers[0]))
        await watch_job(ctx)  # healthy at 12:03
        outage(mempool)
        await polls(ctx, clock, 10)  # failing since 12:04; at 12:13 it has failed for 9 minutes
        assert health_messages(tg, ADMIN) == []
        await polls(ctx, clock, 1)  # 12:14: ten minutes
        failing = health_messages(tg, ADMIN)
        assert len(failing) == 1 and health_messages(tg, ADMIN2) == failing
        assert "Network data" in failing[0] and "failing</b> since 12:04 UTC" in failing[0]
        assert "HTTP 503" in failing[0]
        await polls(ctx, clock, 30)  # half an hour more of failing polls: nothing more
        assert len(health_messages(tg, ADMIN)) == 1

    # A restart in the middle of the outage: failing_since is stored, so the key is the same.
    async with running_bot(settings, clock) as (app, svc):
        ctx = SimpleNamespace(bot_data=app.bot_data, job=SimpleNamespace(data=svc.watchers[0]))
        await polls(ctx, clock, 5)
        assert len(health_messages(tg, ADMIN)) == 1

        back(mempool)
        await polls(ctx, clock, 1)
        messages = health_messages(tg, ADMIN)
        assert len(messages) == 2 and "recovered</b>" in messages[1]
        assert len(health_messages(tg, ADMIN2)) == 2
        await polls(ctx, clock, 10)  # healthy polls: nothing more
        assert len(health_messages(tg, ADMIN)) == 2

        # A second, separate outage is a new episode: one more failing, one more recovered.
        outage(mempool)
        await polls(ctx, clock, 12)
        back(mempool)
        await polls(ctx, clock, 3)
        messages = health_messages(tg, ADMIN)
        assert [("failing</b>" in m, "recovered</b>" in m) for m in messages] == [
            (True, False),
            (False, True),
            (True, False),
            (False, True),
        ]
        rows = await svc.db(outbox.count_by_status)
        assert rows == {"sent": 8}  # 4 messages x 2 admins, no duplicates anywhere


async def test_a_blip_shorter_than_the_threshold_says_nothing(tmp_path, tg, mempool):
    clock = FakeClock()
    async with running_bot(settings_for(tmp_path, tg, mempool, [ADMIN]), clock) as (app, svc):
        ctx = SimpleNamespace(bot_data=app.bot_data, job=SimpleNamespace(data=svc.watchers[0]))
        await watch_job(ctx)
        outage(mempool)
        await polls(ctx, clock, 9)
        back(mempool)
        await polls(ctx, clock, 3)  # recovered, but the failure was never announced
        assert health_messages(tg, ADMIN) == []
        assert await svc.db(outbox.count_by_status) == {}


async def test_no_admins_configured_queues_nothing(tmp_path, tg, mempool):
    clock = FakeClock()
    async with running_bot(settings_for(tmp_path, tg, mempool, []), clock) as (app, svc):
        ctx = SimpleNamespace(bot_data=app.bot_data, job=SimpleNamespace(data=svc.watchers[0]))
        outage(mempool)
        await polls(ctx, clock, 15)
        back(mempool)
        await polls(ctx, clock, 1)
        assert await svc.db(outbox.count_by_status) == {}
        assert [c for c in tg.attempts() if "failing" in c.params.get("text", "")] == []
