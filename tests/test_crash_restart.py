"""Issue 8: kill -9 in the middle of a burst, twice, and nothing is lost.

500 chats, each with ``difficulty.next_change > 3%``, are written into the database file through
the storage functions. ``python -m bot run`` then runs as a subprocess with its real scheduler
(the network watcher every 1 s against the mempool stand-in, which serves a +5.91 % projection),
so its first poll queues a burst of 500 alerts that the pacer releases at ~29/s to the fake Bot
API server (both servers run in this test's event loop). The process is killed with SIGKILL once
some but not all alerts have arrived, started again, killed again further on, and started a third
time. Every chat must get its alert; the notifier marks a row sent only after Telegram confirmed
it, so a crash may repeat at most the messages in flight at that instant (at most one per crash
is the bar). The repeat counts are printed."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage import chats, outbox
from storage import rules as rule_store
from storage.db import open_db
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.harness import write_config
from tests.mempool_standin import MempoolStandIn, load

ROOT = Path(__file__).resolve().parent.parent
DA_PATH = "/api/v1/difficulty-adjustment"
CHATS = [100_000 + i for i in range(500)]
RULE = "difficulty.next_change > 3%"
KILL_AT = (120, 300)  # delivered alerts at which the first and second kill -9 happen


def recorded_now() -> dict[str, object]:
    """The real 2024-03-31 recording (+5.91 %) with its two clock fields moved to now: the bot
    runs on the real clock here and rejects a retarget date outside the coming epoch."""
    payload = load("difficulty-adjustment.mainnet-2024-03-31.json")
    shift_s = int(time.time()) - 1711855108  # when recorded: 1712766704114 ms - remainingTime 911596114 ms
    payload["estimatedRetargetDate"] += shift_s * 1000
    payload["previousTime"] += shift_s
    return payload


@pytest.fixture
async def mempool(aiohttp_server):
    standin = MempoolStandIn()
    standin.serve_json(DA_PATH, recorded_now())  # +5.91 %
    server = await aiohttp_server(standin.app())
    standin.base_url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return standin


def seed(path: Path) -> None:
    db = open_db(path)
    now = datetime.now(UTC)
    with db.atomic():
        for cid in CHATS:
            chats.ensure_chat(db, cid, "private", None, now)
            rule_store.add_rule(db, cid, RULE, "difficulty.next_change", "threshold", now, max_rules=50)
    db.close()


async def start_bot(cfg: Path, log: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINERWATCH_")}
    env.update({"TELEGRAM_BOT_TOKEN": TOKEN, "PTB_TIMEDELTA": "1"})
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(cfg), cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=out,
        )  # fmt: skip


def alerts_sent(tg: FakeTelegram) -> list[int]:
    return [int(p["chat_id"]) for p in tg.sent() if "5.91" in p.get("text", "")]


async def test_kill_9_mid_burst_loses_nothing_and_repeats_at_most_one_per_crash(tmp_path, tg, mempool):
    db_path = tmp_path / "minerwatch.db"
    seed(db_path)
    cfg = write_config(
        tmp_path / "config.toml",
        {
            "telegram": {"base_url": tg.base_url, "poll_timeout_s": 1},
            "storage": {"path": str(db_path)},
            "sources.mempool": {"base_url": mempool.base_url},  # type: ignore[attr-defined]
            "watchers.network": {"every": "1s", "sources": ["mempool"], "price_sources": ["mempool"]},
            "http": {"enabled": False},
        },
    )
    log = tmp_path / "bot.log"
    delivered_at_kill: list[int] = []
    proc: asyncio.subprocess.Process | None = None
    try:
        for kill_at in KILL_AT:
            proc = await start_bot(cfg, log)
            await tg.wait_for(lambda n=kill_at: len(alerts_sent(tg)) >= n, timeout=60)
            proc.kill()  # SIGKILL: no shutdown hook, no final flush
            await asyncio.wait_for(proc.wait(), timeout=10)
            delivered_at_kill.append(len(alerts_sent(tg)))
            assert delivered_at_kill[-1] < len(CHATS), "the burst finished before the kill"

        proc = await start_bot(cfg, log)
        await tg.wait_for(lambda: len(set(alerts_sent(tg))) == len(CHATS), timeout=60)
        # A graceful stop: the running drain finishes and marks its rows (the final flush waits
        # for it), so the database must agree with what Telegram received.
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()

    sent = alerts_sent(tg)
    per_chat = Counter(sent)
    assert set(per_chat) == set(CHATS)  # every alert delivered
    repeated = sorted(c for c, n in per_chat.items() if n > 1)
    # Which crash each repeat belongs to: a chat first delivered before kill k and again after it.
    repeats_per_crash = []
    bounds = [*delivered_at_kill, len(sent)]
    for k, at in enumerate(delivered_at_kill):
        before, after = set(sent[:at]), sent[at : bounds[k + 1]]
        repeats_per_crash.append(sum(1 for c in after if c in before))
    print(
        f"\ncrash test: {len(CHATS)} alerts, kill -9 after {delivered_at_kill} deliveries; "
        f"{len(sent)} messages delivered; repeated per crash: {repeats_per_crash} (chats {repeated})"
    )
    assert all(n <= 1 for n in repeats_per_crash), repeats_per_crash
    assert len(sent) - len(CHATS) == sum(repeats_per_crash)
    assert all(n <= 2 for n in per_chat.values())

    db = open_db(db_path)
    try:
        assert outbox.count_by_status(db) == {"sent": len(CHATS)}
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
    assert "Traceback" not in log.read_text()
