"""The shared objects of one running bot, kept under one ``bot_data`` key (conventions §8)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
from telegram.ext import ContextTypes

from bot.engine.dbworker import DbWorker
from bot.engine.runner import Pipeline
from bot.handlers.admin_cache import AdminCache
from bot.settings import Settings
from watchers.base import Watcher

if TYPE_CHECKING:
    from bot.delivery.drain import Notifier

SERVICES_KEY = "services"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ScheduledWatcher:
    watcher: Watcher
    every_s: int


@dataclass
class Services:
    settings: Settings
    db: DbWorker
    pipeline: Pipeline
    watchers: list[ScheduledWatcher]
    clock: Callable[[], datetime] = utc_now
    session: aiohttp.ClientSession | None = None  # the one shared session, opened in post_init
    notifier: Notifier | None = None
    links: dict[str, str] = field(default_factory=dict)
    admin_cache: AdminCache = field(init=False)  # group admin checks, cached briefly on our clock

    def __post_init__(self) -> None:
        self.admin_cache = AdminCache(self.clock)


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    svc = context.bot_data[SERVICES_KEY]
    assert isinstance(svc, Services)
    return svc
