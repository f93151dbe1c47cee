"""Prometheus metrics of one running bot, in a registry the app owns (never the process-global
one, so a test can build several apps side by side).

Counters move as things happen (a poll, a send); gauges that describe stored state (outbox depth,
rules, each watcher's last success) are read from the database when ``/metrics`` is scraped, so
they are right after a restart too. All names carry the ``minerwatch_`` prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from storage.clock import parse_iso

METRICS_KEY = "metrics"  # the app's Metrics under this bot_data key
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Delivery latency from queueing to Telegram's confirmation: alerts go out in seconds; pacing and
# retries (429, outages) stretch the tail to minutes.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)
OUTBOX_STATUSES = ("pending", "held", "sent", "failed", "summarised")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.polls = Counter("minerwatch_polls", "Watcher polls run", ["watcher"], registry=r)
        self.poll_failures = Counter(
            "minerwatch_poll_failures", "Watcher polls that failed outright", ["watcher"], registry=r
        )
        self.source_errors = Counter(
            "minerwatch_source_errors",
            "Upstream sources that failed within a poll (served by a fallback or not)",
            ["watcher", "source"],
            registry=r,
        )
        self.last_success = Gauge(
            "minerwatch_last_success_timestamp_seconds",
            "Unix time of each watcher's last successful poll (from the database at scrape)",
            ["watcher"],
            registry=r,
        )
        self.failing = Gauge(
            "minerwatch_watcher_failing", "1 while the watcher's polls are failing", ["watcher"], registry=r
        )
        self.observations = Counter(
            "minerwatch_observations_stored", "Observations stored", ["watcher"], registry=r
        )
        self.alerts_queued = Counter(
            "minerwatch_alerts_queued",
            "Alert and event messages queued in the outbox",
            ["watcher"],
            registry=r,
        )
        self.health_notices = Counter(
            "minerwatch_source_health_notices",
            "Source failing/recovered messages queued for the admins",
            ["watcher", "kind"],
            registry=r,
        )
        self.sent = Counter("minerwatch_messages_sent", "Messages Telegram confirmed", ["reason"], registry=r)
        self.failed = Counter(
            "minerwatch_messages_failed",
            "Send attempts Telegram refused, by what the notifier did about it",
            ["action"],
            registry=r,
        )
        self.latency = Histogram(
            "minerwatch_delivery_latency_seconds",
            "Outbox row created -> Telegram confirmed the message",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.outbox_depth = Gauge(
            "minerwatch_outbox_depth", "Pending outbox rows (computed at scrape)", registry=r
        )
        self.outbox_rows = Gauge(
            "minerwatch_outbox_rows", "Outbox rows by status (computed at scrape)", ["status"], registry=r
        )
        self.rules = Gauge("minerwatch_rules", "Rules stored (computed at scrape)", registry=r)
        self.follow_mode = Gauge(
            "minerwatch_source_follow",
            "1 for how each source is followed now: push, fallback (push down, polling) or poll",
            ["source", "mode"],
            registry=r,
        )
        self.source_last_update = Gauge(
            "minerwatch_source_last_update_timestamp_seconds",
            "Unix time of each source's last update (pushed block or successful poll)",
            ["source"],
            registry=r,
        )
        self.push_blocks = Counter(
            "minerwatch_push_blocks",
            "Blocks announced by a push source: new (a block-driven poll) or duplicate (already announced)",
            ["source", "outcome"],
            registry=r,
        )
        self.poll_seconds = Gauge(
            "minerwatch_poll_seconds",
            "How long the watcher's last poll took (fetch, evaluate, write)",
            ["watcher"],
            registry=r,
        )
        self.poll_db_seconds = Gauge(
            "minerwatch_poll_db_seconds",
            "The database thread held by the last poll's write",
            ["watcher"],
            registry=r,
        )
        self.poll_overruns = Counter(
            "minerwatch_poll_overruns",
            "Polls that took longer than their interval (the scheduler skips the runs they overlap)",
            ["watcher"],
            registry=r,
        )

    # ---- hooks -----------------------------------------------------------------------------------

    def observe_poll(
        self, watcher: str, *, ok: bool, observations: int, queued: int, errors: Mapping[str, str]
    ) -> None:
        self.polls.labels(watcher).inc()
        failures = self.poll_failures.labels(watcher)  # exported as 0 from the first poll on
        if not ok:
            failures.inc()
        self.observations.labels(watcher).inc(observations)
        self.alerts_queued.labels(watcher).inc(queued)
        for source in errors:
            self.source_errors.labels(watcher, source).inc()

    def observe_duration(self, watcher: str, seconds: float, db_seconds: float, every_s: float) -> bool:
        """Record a poll's duration; True when it overran its interval (counted, never silent)."""
        self.poll_seconds.labels(watcher).set(seconds)
        self.poll_db_seconds.labels(watcher).set(db_seconds)
        overran = seconds > every_s
        if overran:
            self.poll_overruns.labels(watcher).inc()
        return overran

    def on_sent_hook(self, clock: Callable[[], datetime]) -> Callable[[dict[str, Any]], None]:
        """The notifier's ``on_sent``: count the message and its latency on the bot's clock."""

        def on_sent(row: dict[str, Any]) -> None:
            self.sent.labels(str(row.get("reason") or "unknown")).inc()
            created = parse_iso(row.get("created_at"))
            if created is not None:
                self.latency.observe(max(0.0, (clock() - created).total_seconds()))

        return on_sent

    def on_failed(self, row: dict[str, Any], action: str) -> None:
        """The notifier's ``on_failed``: one count per refused attempt, by action taken."""
        self.failed.labels(action).inc()

    # ---- scrape ----------------------------------------------------------------------------------

    def set_stored(
        self,
        *,
        by_status: Mapping[str, int],
        rules: int,
        health: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """Gauges read from the database just before a scrape."""
        self.outbox_depth.set(by_status.get("pending", 0))
        for status in sorted(set(OUTBOX_STATUSES) | set(by_status)):
            self.outbox_rows.labels(status).set(by_status.get(status, 0))
        self.rules.set(rules)
        for watcher, h in health.items():
            last = h.get("last_success")
            if isinstance(last, datetime):
                self.last_success.labels(watcher).set(last.timestamp())
            self.failing.labels(watcher).set(1 if h.get("failing_since") else 0)

    def set_following(self, rows: Iterable[Any]) -> None:
        """How each source is followed (bot/ops/follow.py rows: source, mode, last_update)."""
        for row in rows:
            for mode in ("push", "fallback", "poll"):
                self.follow_mode.labels(row.source, mode).set(1 if row.mode == mode else 0)
            if isinstance(row.last_update, datetime):
                self.source_last_update.labels(row.source).set(row.last_update.timestamp())

    def render(self) -> bytes:
        return generate_latest(self.registry)
