"""Issue 8: graceful shutdown of the real process. ``python -m bot run`` is started as a
subprocess against the fake Bot API server and the mempool stand-in, both running in this test's
event loop. Once it answers a command (so getUpdates is running), a message is queued straight
into its database and SIGTERM (or SIGINT) is sent: the process flushes that message, exits 0
within a few seconds, logs "stopped cleanly", and the database opens fine afterwards."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from storage import outbox
from storage.db import open_db
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.harness import write_config
from tests.mempool_standin import MempoolStandIn, load

ROOT = Path(__file__).resolve().parent.parent
DA_PATH = "/api/v1/difficulty-adjustment"
CHAT = 4242
ADMIN_CHAT = 9090


@pytest.fixture
async def mempool(aiohttp_server):
    standin = MempoolStandIn()
    standin.serve_json(DA_PATH, load("difficulty-adjustment.mainnet-2024-03-31.json"))
    server = await aiohttp_server(standin.app())
    standin.base_url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return standin


class LogWatch:
    """Collects the subprocess's stderr lines as they come; wakes waiters on each line."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self.task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            async with self._changed:
                self.lines.append(line.decode(errors="replace").rstrip())
                self._changed.notify_all()

    async def wait_for(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        rx = re.compile(pattern)

        def found() -> re.Match[str] | None:
            return next((m for line in self.lines if (m := rx.search(line))), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
        match = found()
        assert match is not None
        return match

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def config(tmp_path: Path, tg: FakeTelegram, mempool: MempoolStandIn) -> Path:
    return write_config(
        tmp_path / "config.toml",
        {
            "telegram": {"base_url": tg.base_url, "poll_timeout_s": 1},
            "storage": {"path": str(tmp_path / "minerwatch.db")},
            "sources.mempool": {"base_url": mempool.base_url},  # type: ignore[attr-defined]
            "watchers.network": {"every": "60s", "sources": ["mempool"], "price_sources": ["mempool"]},
            # Only the first drain runs on its own: the message queued later goes out in the
            # final flush at shutdown, or not at all.
            "delivery": {"drain_every": "1h"},
            "http": {"enabled": True, "host": "127.0.0.1", "port": 0},
        },
    )


async def start_bot(cfg: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINERWATCH_")}
    env.update({"TELEGRAM_BOT_TOKEN": TOKEN, "PTB_TIMEDELTA": "1", "PYTHONUNBUFFERED": "1"})
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--config",
        str(cfg),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_stops_cleanly_flushes_the_outbox_and_leaves_a_sound_db(tmp_path, tg, mempool, sig):
    proc = await start_bot(config(tmp_path, tg, mempool))
    assert proc.stderr is not None
    log = LogWatch(proc.stderr)
    try:
        # It is polling: it answers a command.
        tg.push_command("/help", chat_id=CHAT, user_id=CHAT)
        await tg.wait_for(lambda: len(tg.sent(chat_id=CHAT)) >= 1, timeout=20)

        # The operator endpoint of the real process answers.
        port = int((await log.wait_for(r"http: /healthz and /metrics on http://127\.0\.0\.1:(\d+)")).group(1))
        async with aiohttp.ClientSession() as s:
            async with s.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200
            async with s.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert "minerwatch_outbox_depth" in await resp.text()

        # A message waits in the outbox (written by another process, as sqlite allows).
        db = open_db(tmp_path / "minerwatch.db")
        outbox.enqueue(
            db,
            key="shutdown-flush",
            chat_id=ADMIN_CHAT,
            rule_id=None,
            reason="test",
            text="flushed at shutdown",
            now=datetime.now(UTC),
        )
        db.close()

        proc.send_signal(sig)
        code = await asyncio.wait_for(proc.wait(), timeout=10)
        await asyncio.wait_for(log.task, timeout=5)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0, log.text
    assert "stopped cleanly" in log.text
    assert "Traceback" not in log.text
    assert TOKEN not in log.text and TOKEN.split(":")[1] not in log.text
    assert [p["text"] for p in tg.sent(chat_id=ADMIN_CHAT)] == ["flushed at shutdown"]

    db = open_db(tmp_path / "minerwatch.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert outbox.count_by_status(db).get("pending", 0) == 0
        row = next(db.query("SELECT status FROM outbox WHERE key = 'shutdown-flush'"))
        assert row["status"] == "sent"
    finally:
        db.close()
