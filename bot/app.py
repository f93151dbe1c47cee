"""The composition root: everything is wired here, once (conventions §8).

Read it as the table of contents of a running bot:
- services (:func:`create_services`): settings, the database thread, the engine's runner, the watchers;
- the PTB Application (:func:`build_application`) with the pacer as its rate limiter, the handlers,
  the one error handler;
- at start (``post_init``): the shared aiohttp session, the outbox drain, /healthz and /metrics,
  channels from config, the scheduler's jobs (bot/jobs.py) and the command menus;
- at stop: a last flush of the outbox, then the HTTP endpoint, the session and the database close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import aiohttp
from telegram.ext import Application, ApplicationBuilder

from bot import push
from bot.delivery.drain import Notifier
from bot.delivery.pacer import Pacer
from bot.engine.dbworker import DbWorker
from bot.engine.rule_eval import IngestOptions
from bot.engine.runner import Pipeline
from bot.handlers import channels, chat_commands, commands, grid, membership, miner, rule_views, stock
from bot.handlers.chart import register as register_charts
from bot.handlers.debt import register as register_debt
from bot.handlers.errors import error_handler
from bot.handlers.menus import register_menus
from bot.handlers.presets import register as register_presets
from bot.handlers.settings_menu import register as register_settings
from bot.handlers.updates import PerChatUpdates
from bot.jobs import schedule_jobs
from bot.logs import install_secret_masking, quiet_secret_leaking_loggers
from bot.ops import http as ops_http
from bot.ops.metrics import METRICS_KEY, Metrics
from bot.registry import build_watchers, source_links
from bot.services import SERVICES_KEY, ScheduledWatcher, Services, utc_now
from bot.settings import Settings
from storage.db import open_db

logger = logging.getLogger(__name__)

FINAL_FLUSH_S = 5.0  # at shutdown, how long the outbox may still drain
ALLOWED_UPDATES = ["message", "edited_message", "channel_post", "callback_query", "my_chat_member"]


class MissingTokenError(Exception):
    pass


def create_services(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    watchers: list[ScheduledWatcher] | None = None,
    db: DbWorker | None = None,
) -> Services:
    dbw = db or DbWorker(open_db(settings.storage.path))
    links = source_links(settings)
    opts = IngestOptions(
        links=links,
        send_resolved=settings.alerts.send_resolved,
        stale_after_s=settings.alerts.stale_after,
    )
    return Services(
        settings=settings,
        db=dbw,
        pipeline=Pipeline(dbw, clock, opts),
        watchers=build_watchers(settings) if watchers is None else watchers,
        clock=clock,
        links=links,
    )


def build_application(svc: Services, *, with_jobs: bool = True) -> Application:
    token = svc.settings.telegram.token
    if token is None or not token.get_secret_value().strip():
        raise MissingTokenError(
            "No Telegram bot token. Create a bot with @BotFather in Telegram (/newbot), then put its "
            "token in the environment: export TELEGRAM_BOT_TOKEN=123456:ABC... "
            "(or MINERWATCH_TELEGRAM__TOKEN)."
        )

    # Whoever configured logging, the token stays out of it.
    install_secret_masking([token.get_secret_value(), token.get_secret_value().split(":")[-1]])
    quiet_secret_leaking_loggers()

    async def post_init(app: Application) -> None:
        svc.session = aiohttp.ClientSession()
        svc.notifier = Notifier(
            app.bot,
            svc.db,
            svc.clock,
            batch=svc.settings.delivery.batch,
            max_attempts=svc.settings.delivery.max_attempts,
            allow_paid_broadcast=svc.settings.delivery.allow_paid_broadcast,
            on_sent=ops_http.app_metrics(app.bot_data).on_sent_hook(svc.clock),
            on_failed=ops_http.app_metrics(app.bot_data).on_failed,
            markups=rule_views.alert_markups,  # snooze / mute / chart under a rule's alerts
        )
        await ops_http.start(app.bot_data, svc)  # /healthz and /metrics when [http] enabled
        await channels.sync_broadcasts(app, svc)
        if with_jobs:
            schedule_jobs(app, svc)
            await push.start(app.bot_data, svc)  # block-driven polls: mempool socket, node ZMQ
            await register_menus(app.bot)
        logger.info("started: watchers=%s", ",".join(sw.watcher.id for sw in svc.watchers) or "none")

    async def post_stop(app: Application) -> None:
        # Polling and jobs have stopped; the bot can still send: flush what can go out now.
        # Whatever fails stays in the outbox for the next start.
        if svc.notifier is not None:
            try:
                await asyncio.wait_for(svc.notifier.drain(), timeout=FINAL_FLUSH_S)
            except Exception as exc:
                logger.warning("final flush incomplete (%s): the rest goes out on the next start", exc)

    async def post_shutdown(app: Application) -> None:
        await push.stop(app.bot_data)
        await ops_http.stop(app.bot_data)
        if svc.session is not None:
            await svc.session.close()
        svc.db.close()
        logger.info("stopped cleanly")

    app = (
        ApplicationBuilder()
        .token(token.get_secret_value())
        .base_url(svc.settings.telegram.base_url)
        .base_file_url(svc.settings.telegram.base_file_url)
        # Telegram's limits with priorities: replies never wait behind a broadcast (bot/pacer.py).
        .rate_limiter(Pacer())
        # Chats side by side, each in order: a reply waiting for its group's window holds no one else.
        .concurrent_updates(PerChatUpdates())
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .build()
    )
    app.bot_data[SERVICES_KEY] = svc
    app.bot_data[METRICS_KEY] = Metrics()  # the app's own registry, not prometheus_client's global one
    commands.register(app)
    chat_commands.register(app)
    membership.register(app)
    channels.register(app)
    register_presets(app)  # /start with the preset keyboard
    register_charts(app)  # /chart
    stock.register(app)  # /stock
    grid.register(app)  # /4cp
    miner.register(app)  # /miner, /miners (issue 19)
    register_debt(app)  # /debt
    register_settings(app)  # /settings and its buttons (s:…)
    app.add_error_handler(error_handler)
    return app
