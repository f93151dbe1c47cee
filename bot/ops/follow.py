"""How each source is followed (push, poll, or fallback while a push source is down) and when its
last update came: the read side of bot/push.py, for /status and /metrics. No imports of the
running machinery, so handlers can use it without import cycles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.push import PushFollow
    from bot.services import Services
    from watchers.mempool_ws import FollowStatus

PUSH_KEY = "push"  # the running bot.push.PushFollow under this bot_data key

# Which source each watcher polls (the network watcher lists its own sources).
POLLED_SOURCES = {"power": "ercot", "filings": "edgar", "quotes": "yahoo"}


def running(bot_data: Mapping[Any, Any]) -> PushFollow | None:
    return bot_data.get(PUSH_KEY)


@dataclass(frozen=True, slots=True)
class Following:
    source: str
    mode: str  # "push" | "fallback" (push configured but down: the interval poll carries) | "poll"
    last_update: datetime | None
    every_s: int


MODES = ("push", "fallback", "poll")


def _mode(status: FollowStatus | None) -> str:
    if status is None:
        return "poll"
    return "push" if status.connected else "fallback"


def _newest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return max(present) if present else None


def following(
    svc: Services, follow: PushFollow | None, health: Mapping[str, Mapping[str, Any]]
) -> list[Following]:
    """One row per source of each enabled watcher: how it is followed and its last update (the
    newest of its last pushed block and its watcher's last successful poll)."""
    rows: list[Following] = []
    for sw in svc.watchers:
        last_ok = (health.get(sw.watcher.id) or {}).get("last_success")
        last_ok = last_ok if isinstance(last_ok, datetime) else None
        if sw.watcher.id != "network":
            source = POLLED_SOURCES.get(sw.watcher.id, sw.watcher.id)
            rows.append(Following(source, "poll", last_ok, sw.every_s))
            continue
        for source in svc.settings.watchers.network.sources:
            status: FollowStatus | None = None
            if follow is not None:
                pusher = follow.socket if source == "mempool" else follow.zmq
                status = pusher.status if pusher is not None else None
            mode = _mode(status)
            pushed = follow.last_push_at.get(source) if follow is not None else None
            rows.append(Following(source, mode, _newest(pushed, last_ok), sw.every_s))
        if (
            follow is not None
            and follow.zmq is not None
            and "bitcoind" not in svc.settings.watchers.network.sources
        ):
            # ZMQ as a trigger only (the data from mempool): still a source being followed
            mode = "push" if follow.zmq.status.connected else "fallback"
            rows.append(Following("bitcoind", mode, follow.last_push_at.get("bitcoind"), sw.every_s))
    return rows


def _ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "no update yet"
    seconds = max(0, int((now - at).total_seconds()))
    return f"{seconds}s ago" if seconds < 120 else f"{seconds // 60} min ago"


def status_line(rows: list[Following], now: datetime) -> str:
    """``Sources: mempool push (last 12s ago) · edgar poll every 15s (3s ago)``."""
    parts = []
    for row in rows:
        how = {
            "push": "push",
            "fallback": f"push down, polling every {row.every_s}s",
            "poll": f"poll every {row.every_s}s",
        }[row.mode]
        parts.append(f"{row.source} {how} (last {_ago(row.last_update, now)})")
    return "Sources: " + " · ".join(parts) if parts else ""
