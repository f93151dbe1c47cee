"""The scheduler: every JobQueue job of a running bot, in one table (APScheduler underneath).

One job per watcher (``watch:<id>``) runs the engine's poll; the housekeeping jobs drain the
outbox, say "no data" for stale sources, send digests and quiet-hours summaries, thin old rows
and refresh pinned statuses. Each callback only fetches the services and calls one stage."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from telegram.ext import Application, ContextTypes

from bot.delivery.digest import digest_job
from bot.delivery.pinned_status import pinned_status_job
from bot.delivery.quiet_summary import quiet_summary_job
from bot.engine import ledger as ledger_engine
from bot.engine import production_history
from bot.engine.backfill import HISTORY_KEY, HistoryLoader, history_loader
from bot.engine.ingest import check_quiet
from bot.engine.runner import PollOutcome
from bot.ops import health
from bot.ops import http as ops_http
from bot.services import ScheduledWatcher, Services, services
from storage import observations, outbox

logger = logging.getLogger(__name__)

BACKFILL_TICK_S = 30  # how often the history job looks for a due retry (the back-off decides)


async def backfill_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The first-start history load: each tick attempts the parts that are due (retries back off
    on the bot's clock); once every part is loaded or given up, the job removes itself."""
    loader = history_loader(context.bot_data, services(context))
    await loader.run_due()
    job = getattr(context, "job", None)
    if loader.finished and job is not None:
        job.schedule_removal()


async def watch_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    job = context.job
    assert job is not None
    loader = context.bot_data.get(HISTORY_KEY)
    if isinstance(loader, HistoryLoader) and loader.holds(job.data.watcher.id):  # type: ignore[union-attr]
        return  # the year of history goes in before the first poll: this tick is skipped
    await run_watch(services(context), context.bot_data, job.data)  # type: ignore[arg-type]


async def run_watch(svc: Services, bot_data: dict[Any, Any], scheduled: ScheduledWatcher) -> PollOutcome:
    """One poll of a watcher and what follows it: the ``watch:<id>`` job, and the block-driven
    poll of a push source (bot/push.py) call this same function; the runner's per-watcher lock
    keeps the two from ever running at once."""
    assert svc.session is not None
    outcome = await svc.pipeline.run_watcher(scheduled.watcher, svc.session)
    if scheduled.watcher.id == "filings" and outcome.ok and ledger_on(svc):
        try:
            outcome.queued += await follow_filings(svc)  # the debt ledger, right after the filings poll
        except Exception:  # the ledger never stops the filings job; what is unread is retried next poll
            logger.exception("ledger: reading new filings failed")
    metrics = ops_http.app_metrics(bot_data)
    if metrics.observe_duration(outcome.watcher_id, outcome.seconds, outcome.db_seconds, scheduled.every_s):
        logger.warning(
            "watcher=%s poll took %.1f s, longer than its %d s interval: the runs it overlapped are "
            "skipped (%d rules evaluated, database held %.2f s)",
            outcome.watcher_id,
            outcome.seconds,
            scheduled.every_s,
            outcome.evaluated,
            outcome.db_seconds,
        )
    # Metrics, and the admins hear of a failing source once (and of its recovery once).
    notices = await health.after_poll(svc, metrics, outcome)
    if (outcome.queued or notices) and svc.notifier is not None:
        await svc.notifier.drain()  # do not wait for the next drain tick: alerts go out in seconds
    return outcome


def ledger_on(svc: Services) -> bool:
    return svc.settings.watchers.ledger.enabled and any(sw.watcher.id == "filings" for sw in svc.watchers)


def _watch_list(svc: Services) -> list[str]:
    return [t.strip().upper() for t in svc.settings.watchers.filings.tickers if t.strip()]


async def follow_filings(svc: Services) -> int:
    """New filings of watched miners -> the debt ledger -> debt.<ticker> and debt events."""
    assert svc.session is not None
    run = await ledger_engine.follow_filings(
        svc.db,
        svc.session,
        svc.settings.sources.edgar,
        _watch_list(svc),
        svc.clock,
        svc.pipeline.opts,
        bootstrap_on=svc.settings.watchers.ledger.bootstrap,
    )
    return run.queued


async def ledger_sync_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The ledger bootstrap: on first start it reads each miner's filing history (resumable), then
    daily it catches up on anything the live path missed; then the same for production releases."""
    svc = services(context)
    if svc.session is None:
        return
    run = await ledger_engine.bootstrap(
        svc.db,
        svc.session,
        svc.settings.sources.edgar,
        _watch_list(svc),
        svc.clock,
        years=svc.settings.watchers.ledger.years,
    )
    logger.info("ledger sync: %d documents applied, %d skipped", run.applied, len(run.skipped))
    if run.stopped:
        return  # SEC asked to back off: the production history waits for the next sync
    history = await production_history.backfill(  # the miners' past releases, as history (issue 19)
        svc.db,
        svc.session,
        svc.settings.sources.edgar,
        _watch_list(svc),
        svc.clock,
        years=svc.settings.watchers.ledger.years,
    )
    logger.info("production history: %d of %d filings read had figures", history.stored, history.read)


async def maturity_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    queued = await svc.db(ledger_engine.check_maturities, svc.clock(), svc.pipeline.opts)
    if queued and svc.notifier is not None:
        await svc.notifier.drain()


async def drain_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    if svc.notifier is not None:
        await svc.notifier.drain()


async def stale_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await services(context).pipeline.check_stale()


async def miners_quiet_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """A miner that stopped publishing production figures at its cadence: the ``quiet`` rule."""
    svc = services(context)
    if await svc.db(check_quiet, svc.clock(), svc.pipeline.opts) and svc.notifier is not None:
        await svc.notifier.drain()


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


async def warm_rules_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    started = time.perf_counter()
    loaded = await svc.pipeline.warm()
    elapsed = time.perf_counter() - started
    logger.info("rules of %d metrics loaded in %.2fs, before the first poll", loaded, elapsed)


def schedule_jobs(app: Application, svc: Services) -> None:
    jq = app.job_queue
    assert jq is not None, "install python-telegram-bot[job-queue]"
    # at once: the first polls (after 1 s) find the rules in memory (or wait on the engine lock)
    jq.run_once(warm_rules_job, when=0, name="rules:warm", job_kwargs={"misfire_grace_time": 600})
    # Armed before any watcher job exists: the first polls of network and quotes wait for it.
    history_loader(app.bot_data, svc)
    jq.run_repeating(
        backfill_job,
        interval=BACKFILL_TICK_S,
        first=0.2,  # PTB: first=0 would mean "after one interval"; the watchers start at 1 s
        name="history:backfill",
        job_kwargs={"misfire_grace_time": 600, "coalesce": True, "max_instances": 1},
    )
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
    if ledger_on(svc) and svc.settings.watchers.ledger.bootstrap:
        # first start: each miner's filing history (resumes where a restart stopped it); then daily
        jq.run_repeating(
            ledger_sync_job,
            interval=86400,
            first=10,
            name="ledger:sync",
            job_kwargs={"misfire_grace_time": 3600, "coalesce": True, "max_instances": 1},
        )
    # (callback, name, interval s, first run after s, misfire grace s): the bot's own housekeeping.
    # coalesce + max_instances=1: a run that overran is never doubled up.
    housekeeping = [
        (drain_job, "outbox:drain", svc.settings.delivery.drain_every, 0.1, 5),  # 0 = after one interval
        (stale_job, "alerts:stale", 60, 60, 60),
        (digest_job, "digest", 60, 15, 60),
        (quiet_summary_job, "quiet:summary", 60, 20, 60),
        (thin_job, "observations:thin", 6 * 3600, 300, 3600),
        (miners_quiet_job, "miners:quiet", 6 * 3600, 600, 3600),
        (pinned_status_job, "status:pinned", 300, 30, 300),
        (maturity_job, "ledger:maturity", 3600, 120, 3600),
    ]
    for callback, name, interval, first, grace in housekeeping:
        jq.run_repeating(
            callback,
            interval=interval,
            first=first,
            name=name,
            job_kwargs={"misfire_grace_time": grace, "coalesce": True, "max_instances": 1},
        )
