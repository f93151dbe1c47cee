"""Running the real bot in tests: settings written to a temp TOML, an injected clock, the real
PTB Application polling the fake Bot API server, and no scheduler (tests call the jobs' work
directly instead of sleeping)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.app import ALLOWED_UPDATES, build_application, create_services
from bot.delivery.pacer import Limits
from bot.services import Services
from bot.settings import Settings, load_settings
from tests.fake_telegram import TOKEN, FakeTelegram

UNPACED = Limits(bulk_per_s=5000.0, chat_spacing_s=0.0, group_per_min=1_000_000, paid_per_s=5000.0)


@dataclass
class FakeClock:
    now: datetime = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines: list[str] = []
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in keys.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def bot_settings(
    tmp_path: Path, tg: FakeTelegram, extra: dict[str, dict[str, Any]] | None = None
) -> Settings:
    sections: dict[str, dict[str, Any]] = {
        "telegram": {"token": TOKEN, "base_url": tg.base_url, "poll_timeout_s": 1},
        "storage": {"path": str(tmp_path / "minerwatch.db")},
        "http": {"port": 0},  # a free port: parallel runs never fight over 8080
    }
    for key, values in (extra or {}).items():
        sections.setdefault(key, {}).update(values)
    return load_settings(write_config(tmp_path / "config.toml", sections))


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings, clock: FakeClock, *, telegram_limits: bool = False
) -> AsyncIterator[tuple[Application, Services]]:
    """Start the bot as `run_polling` would (initialize, post_init, polling, start) and stop it
    the same way, post_shutdown included: it flushes the outbox and closes the database.

    The pacer keeps its logic (priorities, 429 pauses and retries) but, unless a test asks for
    ``telegram_limits``, not Telegram's spacing: a functional test that sends five commands in one
    chat should not wait five real seconds. Tests of the limits themselves ask for them."""
    svc = create_services(settings, clock=clock)
    app = build_application(svc, with_jobs=False)
    if not telegram_limits:
        app.bot.rate_limiter.limits = UNPACED  # type: ignore[union-attr]
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
    await app.start()
    try:
        yield app, svc
    finally:
        await app.updater.stop()
        await app.stop()
        assert app.post_stop is not None
        await app.post_stop(app)
        await app.shutdown()
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
