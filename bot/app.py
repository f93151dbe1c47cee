"""Everything is wired here, once (conventions §8): the PTB Application with AIORateLimiter, the
handlers, one error handler, the shared aiohttp session, and the JobQueue jobs (one per watcher
named ``watch:<id>``, plus ``outbox:drain`` and ``alerts:stale``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape

import aiohttp
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    Update,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot.delivery.digest import digest_job
from bot.delivery.drain import Notifier
from bot.delivery.pacer import Pacer
from bot.delivery.pinned_status import pinned_status_job
from bot.delivery.quiet_summary import quiet_summary_job
from bot.engine.dbworker import DbWorker
from bot.engine.pipeline import IngestOptions, Pipeline
from bot.handlers import channels, chat_commands, commands, membership
from bot.handlers.presets import register as register_presets
from bot.logs import install_secret_masking, quiet_secret_leaking_loggers
from bot.ops import health
from bot.ops import http as ops_http
from bot.ops.metrics import METRICS_KEY, Metrics
from bot.registry import build_watchers, source_links
from bot.render.charts import register as register_charts
from bot.services import SERVICES_KEY, ScheduledWatcher, Services, services, utc_now
from bot.settings import Settings
from storage import observations, outbox
from storage.db import open_db
from watchers.base import SourceError
from watchers.network import backfill

logger = logging.getLogger(__name__)

# The command menus, one per scope (set_my_commands): everything in private chats; in groups the
# read-only commands for members and the full list for the group's administrators.
_COMMANDS = {
    "alert": "add an alert, e.g. difficulty.next_change > 3%",
    "alerts": "list this chat's alerts",
    "delete": "delete an alert by number",
    "status": "the current numbers",
    "chart": "chart a metric, e.g. hashprice 30d",
    "fleet": "set your fleet: J/TH and USD/kWh",
    "snooze": "pause alerts for a while",
    "quiet": "set quiet hours",
    "mute": "stop all alerts in this chat",
    "unmute": "resume alerts in this chat",
    "tz": "time zone for times shown here",
    "filings": "latest financing filings",
    "help": "all commands with examples",
}
PRIVATE_MENU = [BotCommand(name, text) for name, text in _COMMANDS.items()]
GROUP_ADMIN_MENU = PRIVATE_MENU
GROUP_MENU = [BotCommand(n, _COMMANDS[n]) for n in ("alerts", "status", "chart", "filings", "help")]
MENUS = (
    (PRIVATE_MENU, BotCommandScopeAllPrivateChats()),
    (GROUP_MENU, BotCommandScopeAllGroupChats()),
    (GROUP_ADMIN_MENU, BotCommandScopeAllChatAdministrators()),
)


async def register_menus(bot: Bot) -> None:
    for commands_, scope in MENUS:
        await bot.set_my_commands(commands_, scope=scope)


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


async def backfill_history(svc: Services) -> int:
    """On first start, a year of difficulty and hashrate history from mempool, so charts and
    change-over-window rules have data from day one. Runs once: skipped when history exists."""
    if not any(sw.watcher.id == "network" for sw in svc.watchers) or svc.session is None:
        return 0
    if await svc.db(observations.latest, "difficulty") is not None:
        return 0
    try:
        history = await backfill(svc.session, svc.settings.sources.mempool, svc.clock())
    except SourceError as err:
        logger.warning("history backfill skipped: %s", err.message)
        return 0
    stored = await svc.db(observations.insert_observations, history)
    logger.info("history backfill: %d observations", stored)
    return stored


async def backfill_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await backfill_history(services(context))


async def watch_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    job = context.job
    assert job is not None and svc.session is not None
    scheduled: ScheduledWatcher = job.data  # type: ignore[assignment]
    outcome = await svc.pipeline.run_watcher(scheduled.watcher, svc.session)
    # Metrics, and the admins hear of a failing source once (and of its recovery once).
    notices = await health.after_poll(svc, ops_http.app_metrics(context.bot_data), outcome)
    if (outcome.queued or notices) and svc.notifier is not None:
        await svc.notifier.drain()  # do not wait for the next drain tick: alerts go out in seconds


async def drain_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    if svc.notifier is not None:
        await svc.notifier.drain()


async def stale_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await services(context).pipeline.check_stale()


async def thin_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Storage grows linearly with time; rows older than [storage] keep_observations go."""
    svc = services(context)
    cutoff = svc.clock() - timedelta(seconds=svc.settings.storage.keep_observations)
    removed = await svc.db(observations.thin, cutoff)
    if removed:
        logger.info("thinned %d observations older than %s", removed, cutoff.isoformat())
    delivered_cutoff = svc.clock() - timedelta(days=outbox.KEEP_DELIVERED_DAYS)
    pruned = await svc.db(outbox.prune, delivered_cutoff)
    if pruned:
        logger.info("pruned %d delivered outbox rows older than %s", pruned, delivered_cutoff.isoformat())


def schedule_jobs(app: Application, svc: Services) -> None:
    jq = app.job_queue
    assert jq is not None, "install python-telegram-bot[job-queue]"
    for sw in svc.watchers:
        jq.run_repeating(
            watch_job,
            interval=sw.every_s,
            first=1,
            name=f"watch:{sw.watcher.id}",
            data=sw,
            job_kwargs={
                # APScheduler's default grace of 1 s silently skips runs after a stall.
                "misfire_grace_time": max(1, sw.every_s),
                "coalesce": True,
                "max_instances": 1,  # a slow source never overlaps itself
                "jitter": min(5, sw.every_s // 10),  # stagger sources (thundering herd)
            },
        )
    jq.run_once(backfill_job, when=2, name="history:backfill", job_kwargs={"misfire_grace_time": 600})
    # (callback, name, interval s, first run after s, misfire grace s): the bot's own housekeeping.
    # coalesce + max_instances=1: a run that overran is never doubled up.
    housekeeping = [
        (drain_job, "outbox:drain", svc.settings.delivery.drain_every, 0, 5),
        (stale_job, "alerts:stale", 60, 60, 60),
        (digest_job, "digest", 60, 15, 60),
        (quiet_summary_job, "quiet:summary", 60, 20, 60),
        (thin_job, "observations:thin", 6 * 3600, 300, 3600),
        (pinned_status_job, "status:pinned", 300, 30, 300),
    ]
    for callback, name, interval, first, grace in housekeeping:
        jq.run_repeating(
            callback,
            interval=interval,
            first=first,
            name=name,
            job_kwargs={"misfire_grace_time": grace, "coalesce": True, "max_instances": 1},
        )


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one error path: log with the traceback; tell the user something went wrong."""
    logger.error("unhandled error: %s", context.error, exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(
                "⚠️ Something went wrong on our side; the operator has the details. Please try again."
            )
        except Exception as exc:  # the report itself failed: log, never loop
            logger.warning("could not tell the user about an error: %s", escape(str(exc)))


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
        )
        await ops_http.start(app.bot_data, svc)  # /healthz and /metrics when [http] enabled
        await channels.sync_broadcasts(app, svc)
        if with_jobs:
            schedule_jobs(app, svc)
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
    app.add_error_handler(error_handler)
    return app
