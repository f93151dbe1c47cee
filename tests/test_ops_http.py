"""Issue 8: /healthz and /metrics through the real app: real PTB Application polling the fake Bot
API, the network watcher polling the mempool stand-in, the jobs' work called directly on an
injected clock, and the operator endpoint scraped over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.jobs import drain_job, watch_job
from bot.ops import http as ops_http
from storage import outbox
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from tests.mempool_standin import MempoolStandIn, load

CHAT = 4242
DA_PATH = "/api/v1/difficulty-adjustment"
ABOVE = load("difficulty-adjustment.mainnet-2024-03-31.json")  # real recording: +5.9148 %
MEMPOOL_PATHS = (
    DA_PATH,
    "/api/v1/mining/hashrate/3d",
    "/api/blocks/tip/height",
    "/api/v1/mining/reward-stats/144",
    "/api/v1/prices",
)


@pytest.fixture
async def mempool(aiohttp_server):
    standin = MempoolStandIn()
    standin.serve_json(DA_PATH, ABOVE)
    server = await aiohttp_server(standin.app())
    standin.base_url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return standin


def settings_for(tmp_path: Path, tg: FakeTelegram, mempool: MempoolStandIn, **http: object):
    return bot_settings(
        tmp_path,
        tg,
        {
            "sources.mempool": {"base_url": mempool.base_url},  # type: ignore[attr-defined]
            "watchers.network": {"every": "60s", "price_sources": ["mempool"]},
            "alerts": {"source_failing_after": "10m"},
            "http": {"enabled": True, "host": "127.0.0.1", "port": 0, **http},
        },
    )


def job_context(app, svc) -> SimpleNamespace:
    """What the JobQueue hands watch_job/drain_job: the app's bot_data and the job's data."""
    return SimpleNamespace(bot_data=app.bot_data, job=SimpleNamespace(data=svc.watchers[0]))


def base(app) -> str:
    server = app.bot_data[ops_http.HTTP_KEY]
    return f"http://127.0.0.1:{server.port}"


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def serve_outage(mempool: MempoolStandIn) -> None:
    for path in MEMPOOL_PATHS:
        mempool.routes[path] = (503, "Service Temporarily Unavailable", "text/plain")


async def test_healthz_ok_while_fresh_then_503_naming_the_stale_watcher(tmp_path, tg, mempool):
    clock = FakeClock()
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (app, svc):
        ctx = job_context(app, svc)
        # Before the first poll the bot is within its start-up grace: healthy.
        status, ctype, body = await get(base(app) + "/healthz")
        assert status == 200 and ctype.startswith("application/json")

        await watch_job(ctx)
        status, _, body = await get(base(app) + "/healthz")
        assert status == 200
        doc = json.loads(body)
        assert doc["status"] == "ok" and doc["stale"] == []
        w = doc["watchers"]["network"]
        assert w["fresh"] and w["max_age_s"] == 600  # max(3 x 60 s, source_failing_after 10 m)
        assert w["last_success"].startswith("2024-03-31T12:00")

        # mempool goes down; 9 minutes later the last success is still within 10 minutes.
        serve_outage(mempool)
        for _ in range(9):
            clock.advance(60)
            await watch_job(ctx)
        assert (await get(base(app) + "/healthz"))[0] == 200

        clock.advance(120)  # 11 minutes since the last success
        await watch_job(ctx)
        status, _, body = await get(base(app) + "/healthz")
        doc = json.loads(body)
        assert status == 503
        assert doc["status"] == "stale" and doc["stale"] == ["network"]
        w = doc["watchers"]["network"]
        assert not w["fresh"] and w["age_s"] == 660.0
        assert w["failing_since"].startswith("2024-03-31T12:01") and "HTTP 503" in w["last_error"]

        # It recovers: healthy again at the next good poll.
        mempool.serve_json(DA_PATH, ABOVE)
        for path in MEMPOOL_PATHS[1:]:
            mempool.routes.pop(path)
        clock.advance(60)
        await watch_job(ctx)
        assert (await get(base(app) + "/healthz"))[0] == 200


async def test_metrics_count_polls_failures_alerts_sends_and_latency(tmp_path, tg, mempool):
    clock = FakeClock()
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (app, svc):
        ctx = job_context(app, svc)
        tg.push_command("/alert difficulty.next_change > 3%", chat_id=CHAT, user_id=CHAT)
        await tg.wait_for(lambda: len(tg.sent(chat_id=CHAT)) == 1)

        # Telegram refuses the first send (502), so the alert waits in the outbox 4 s of bot time.
        tg.fail_next("sendMessage", 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
        await watch_job(ctx)  # fires: queued and a drain attempt that fails
        status, ctype, text = await get(base(app) + "/metrics")
        assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
        m = samples(text)
        assert m[("minerwatch_polls_total", (("watcher", "network"),))] == 1
        assert m[("minerwatch_poll_failures_total", (("watcher", "network"),))] == 0
        assert m[("minerwatch_alerts_queued_total", (("watcher", "network"),))] == 1
        assert m[("minerwatch_observations_stored_total", (("watcher", "network"),))] >= 5
        assert m[("minerwatch_outbox_depth", ())] == 1  # computed at scrape
        assert m[("minerwatch_outbox_rows", (("status", "pending"),))] == 1
        assert m[("minerwatch_messages_failed_total", (("action", "backoff"),))] == 1
        assert m[("minerwatch_rules", ())] == 1
        # Only the epoch endpoint is served: the others 404, a partial failure counted per source.
        assert m[("minerwatch_source_errors_total", (("source", "mempool"), ("watcher", "network")))] == 1
        assert m[("minerwatch_last_success_timestamp_seconds", (("watcher", "network"),))] == (
            datetime(2024, 3, 31, 12, 0, tzinfo=UTC).timestamp()
        )

        clock.advance(4)  # past the first backoff (2 s)
        await drain_job(ctx)
        assert len([p for p in tg.sent(chat_id=CHAT) if "5.91" in p["text"]]) == 1
        m = samples((await get(base(app) + "/metrics"))[2])
        assert m[("minerwatch_outbox_depth", ())] == 0
        assert m[("minerwatch_messages_sent_total", (("reason", "firing"),))] == 1
        assert m[("minerwatch_delivery_latency_seconds_count", ())] == 1
        assert m[("minerwatch_delivery_latency_seconds_sum", ())] == 4.0
        assert m[("minerwatch_delivery_latency_seconds_bucket", (("le", "5.0"),))] == 1
        assert m[("minerwatch_delivery_latency_seconds_bucket", (("le", "2.0"),))] == 0

        serve_outage(mempool)
        clock.advance(60)
        await watch_job(ctx)
        m = samples((await get(base(app) + "/metrics"))[2])
        assert m[("minerwatch_polls_total", (("watcher", "network"),))] == 2
        assert m[("minerwatch_poll_failures_total", (("watcher", "network"),))] == 1
        assert m[("minerwatch_watcher_failing", (("watcher", "network"),))] == 1


async def test_each_app_has_its_own_registry(tmp_path, tg, mempool):
    clock = FakeClock()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        running_bot(settings_for(tmp_path / "a", tg, mempool), clock) as (app_a, svc_a),
        running_bot(settings_for(tmp_path / "b", tg, mempool), clock) as (app_b, _svc_b),
    ):
        await watch_job(job_context(app_a, svc_a))
        a = samples((await get(base(app_a) + "/metrics"))[2])
        b = samples((await get(base(app_b) + "/metrics"))[2])
        assert a[("minerwatch_polls_total", (("watcher", "network"),))] == 1
        assert ("minerwatch_polls_total", (("watcher", "network"),)) not in b
        assert ops_http.app_metrics(app_a.bot_data).registry is not REGISTRY
        assert base(app_a) != base(app_b)


async def test_port_in_use_is_logged_and_the_bot_runs_on(tmp_path, tg, mempool, caplog):
    caplog.set_level(logging.INFO)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        async with running_bot(settings_for(tmp_path, tg, mempool, port=port), FakeClock()) as (app, _svc):
            assert ops_http.HTTP_KEY not in app.bot_data
            tg.push_command("/help", chat_id=CHAT, user_id=CHAT)
            await tg.wait_for(lambda: len(tg.sent(chat_id=CHAT)) == 1)  # still answers users
        assert f"cannot listen on 127.0.0.1:{port}" in caplog.text
    finally:
        busy.close()


async def test_http_disabled_starts_no_server(tmp_path, tg, mempool):
    async with running_bot(settings_for(tmp_path, tg, mempool, enabled=False), FakeClock()) as (app, _svc):
        assert ops_http.HTTP_KEY not in app.bot_data


async def test_stopped_with_the_bot(tmp_path, tg, mempool):
    async with running_bot(settings_for(tmp_path, tg, mempool), FakeClock()) as (app, _svc):
        url = base(app) + "/healthz"
        assert (await get(url))[0] == 200
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(url)


T0 = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("every", "last_success_ago", "fresh", "limit"),
    [
        (60, 599, True, 600),  # 3 x 60 = 180 < failing_after 600: the floor decides
        (60, 601, False, 600),
        (300, 899, True, 900),  # 3 x 300 = 900 > 600: three intervals decide
        (300, 901, False, 900),
        (60, None, True, 600),  # never polled yet, started 100 s ago: grace
    ],
    ids=["floor-fresh", "floor-stale", "3x-fresh", "3x-stale", "startup-grace"],
)
def test_freshness_window(every, last_success_ago, fresh, limit):
    last = None if last_success_ago is None else T0 - timedelta(seconds=last_success_ago)
    health = {"w": {"last_success": last, "failing_since": None, "last_error": None}}
    out = ops_http.freshness([("w", every)], health, T0, T0 - timedelta(seconds=100), 600)
    assert out["w"]["fresh"] is fresh and out["w"]["max_age_s"] == limit


def test_never_polled_long_after_start_is_stale():
    out = ops_http.freshness([("w", 60)], {}, T0, T0 - timedelta(seconds=3600), 600)
    assert out["w"]["fresh"] is False and out["w"]["last_success"] is None


async def test_outbox_depth_gauge_reads_the_database(tmp_path, tg, mempool):
    clock = FakeClock()
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (app, svc):
        for i in range(3):
            await svc.db(
                outbox.enqueue, key=f"k{i}", chat_id=CHAT, rule_id=None, reason="test", text="x", now=clock()
            )
        m = samples((await get(base(app) + "/metrics"))[2])
        assert m[("minerwatch_outbox_depth", ())] == 3
