"""The operator's HTTP endpoint (issue 8): ``/healthz`` and ``/metrics`` on ``[http] host:port``.

An aiohttp ``AppRunner`` + ``TCPSite`` started in ``post_init`` (when ``http.enabled``) and
stopped in ``post_shutdown``, in the bot's own event loop.

``/healthz`` answers 200 while every enabled watcher is fresh and 503 naming the stale ones, with
a JSON body either way. A watcher is fresh while its last successful poll (or, before its first
one, the moment the bot started) is at most ``max(3 × every, alerts.source_failing_after)`` old:
three intervals tolerate two missed polls plus jitter, and the floor makes /healthz turn 503 at
the same moment the admins are told the source is failing, never earlier over a blip.

``/metrics`` is the Prometheus text format of the app's own registry (bot/metrics.py); the gauges
of stored state are read from the database at each scrape.

A port that cannot be bound is logged as an error and the bot runs on: alerts matter more than
the operator's endpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlite_utils import Database

from bot.ops import follow
from bot.ops.metrics import CONTENT_TYPE, METRICS_KEY, Metrics
from bot.services import Services
from storage import outbox, watcher_state
from storage import rules as rule_store
from storage.clock import iso

logger = logging.getLogger(__name__)

HTTP_KEY = "http_server"  # the running OpsServer under this bot_data key
STALE_FACTOR = 3


def max_age_s(every_s: int, failing_after_s: int) -> int:
    """How old a watcher's last success may be before /healthz calls it stale."""
    return max(STALE_FACTOR * every_s, failing_after_s)


def freshness(
    watchers: list[tuple[str, int]],
    health: dict[str, dict[str, Any]],
    now: datetime,
    started_at: datetime,
    failing_after_s: int,
) -> dict[str, dict[str, Any]]:
    """Pure: each watcher's freshness from its stored health. ``watchers`` is (id, every_s)."""
    out: dict[str, dict[str, Any]] = {}
    for watcher_id, every_s in watchers:
        h = health.get(watcher_id) or {}
        last = h.get("last_success")
        reference = last if isinstance(last, datetime) else started_at
        age = max(0.0, (now - reference).total_seconds())
        limit = max_age_s(every_s, failing_after_s)
        since = h.get("failing_since")
        out[watcher_id] = {
            "fresh": age <= limit,
            "last_success": iso(last) if isinstance(last, datetime) else None,
            "age_s": round(age, 1),
            "max_age_s": limit,
            "failing_since": iso(since) if isinstance(since, datetime) else None,
            "last_error": h.get("last_error"),
        }
    return out


def _stored(db: Database, watcher_ids: list[str]) -> dict[str, Any]:
    """Everything a scrape reads, in one trip to the database thread."""
    return {
        "health": {w: watcher_state.health(db, w) for w in watcher_ids},
        "by_status": outbox.count_by_status(db),
        "rules": rule_store.count_rules(db),
    }


@dataclass
class OpsServer:
    svc: Services
    metrics: Metrics
    started_at: datetime
    runner: web.AppRunner | None = None
    port: int | None = None
    bot_data: dict[Any, Any] | None = None  # where the push sources run (bot/push.py)

    def push(self) -> Any:
        return follow.running(self.bot_data) if self.bot_data is not None else None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_page)
        return app

    async def start(self, host: str, port: int) -> int:
        self.runner = web.AppRunner(self.app(), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        await site.start()
        sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1] if sockets else port
        logger.info("http: /healthz and /metrics on http://%s:%s", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def _read(self) -> dict[str, Any]:
        return await self.svc.db(_stored, [sw.watcher.id for sw in self.svc.watchers])

    async def healthz(self, request: web.Request) -> web.Response:
        stored = await self._read()
        fresh = freshness(
            [(sw.watcher.id, sw.every_s) for sw in self.svc.watchers],
            stored["health"],
            self.svc.clock(),
            self.started_at,
            self.svc.settings.alerts.source_failing_after,
        )
        stale = sorted(w for w, f in fresh.items() if not f["fresh"])
        body = {
            "status": "stale" if stale else "ok",
            "stale": stale,
            "watchers": fresh,
            "outbox_depth": stored["by_status"].get("pending", 0),
        }
        return web.json_response(body, status=503 if stale else 200)

    async def metrics_page(self, request: web.Request) -> web.Response:
        stored = await self._read()
        self.metrics.set_stored(by_status=stored["by_status"], rules=stored["rules"], health=stored["health"])
        self.metrics.set_following(follow.following(self.svc, self.push(), stored["health"]))
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def app_metrics(bot_data: dict[Any, Any]) -> Metrics:
    """The app's Metrics (created by build_application under METRICS_KEY)."""
    metrics = bot_data.get(METRICS_KEY)
    if not isinstance(metrics, Metrics):
        metrics = bot_data[METRICS_KEY] = Metrics()
    return metrics


async def start(bot_data: dict[Any, Any], svc: Services) -> OpsServer | None:
    """post_init: start the endpoint when ``[http] enabled``; keep it under HTTP_KEY."""
    cfg = svc.settings.http
    if not cfg.enabled:
        return None
    server = OpsServer(svc, app_metrics(bot_data), svc.clock(), bot_data=bot_data)
    try:
        await server.start(cfg.host, cfg.port)
    except OSError as err:
        logger.error(
            "http: cannot listen on %s:%s (%s); running without /healthz and /metrics",
            cfg.host,
            cfg.port,
            err,
        )
        await server.stop()
        return None
    bot_data[HTTP_KEY] = server
    return server


async def stop(bot_data: dict[Any, Any]) -> None:
    """post_shutdown: stop the endpoint if it runs."""
    server = bot_data.pop(HTTP_KEY, None)
    if isinstance(server, OpsServer):
        await server.stop()
