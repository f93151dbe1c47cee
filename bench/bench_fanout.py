"""Fan-out: one event to N chats against the fake Bot API server enforcing Telegram's limits
(30 messages/s overall, 1/s per chat). Prints the achieved rate as a fraction of 30/s, the 429s
received, the time to the last delivery, and how long a command sent in the middle waited for
its reply.

    python -m bench.bench_fanout                 # 1,000 chats: MinerWatch's outbox + pacer, then
                                                 # the textbook (AIORateLimiter + asyncio.gather)
    python -m bench.bench_fanout --chats 5000    # the README's larger comparison
    python -m bench.bench_fanout --no-baseline   # MinerWatch only

MinerWatch's path is the real one: chats with a `retarget` rule, one retarget event ingested by
the pipeline (5,000 outbox rows in one transaction), the notifier draining through the pacer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from telegram.ext import AIORateLimiter, ApplicationBuilder

from bot.engine.ingest import ingest
from bot.services import utc_now
from rules.data import Event
from storage import chats, outbox
from storage import rules as rule_store
from tests.fake_telegram import TOKEN, FakeTelegram, RateLimits
from tests.harness import bot_settings, running_bot
from watchers.base import PollResult

CAP_PER_S = 30.0


def machine() -> str:
    return f"{platform.platform()} · {os.cpu_count()} CPU · Python {platform.python_version()}"


def seed(db: object, n: int, now: datetime) -> None:
    from sqlite_utils import Database

    assert isinstance(db, Database)
    with db.atomic():
        for chat_id in range(1, n + 1):
            chats.ensure_chat(db, chat_id, "private", f"user {chat_id}", now)
            rule_store.add_rule(db, chat_id, "retarget", "event:retarget", "event", now, max_rules=50)


async def reply_latency(tg: FakeTelegram, chat_id: int) -> float:
    asked = time.monotonic()
    tg.push_command("/status", chat_id=chat_id, user_id=chat_id)
    await tg.wait_for(lambda: len(tg.sent(chat_id=chat_id)) >= 1, timeout=120)
    return time.monotonic() - asked


async def run_minerwatch(n: int) -> dict[str, float]:
    tg = FakeTelegram(limits=RateLimits())
    await tg.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = bot_settings(
                Path(tmp), tg, {"watchers.network": {"enabled": False}, "http": {"enabled": False}}
            )
            async with running_bot(settings, utc_now, telegram_limits=True) as (_app, svc):  # type: ignore[arg-type]
                now = utc_now()
                await svc.db(seed, n, now)
                event = Event(
                    "retarget",
                    "retarget:bench",
                    now,
                    "mempool",
                    {"height": 870912, "realised_change_pct": 3.1, "projected_change_pct": 2.9},
                )
                t0 = time.monotonic()
                _, queued = await svc.db(
                    ingest, "network", PollResult(events=[event]), {}, now, svc.pipeline.opts
                )
                queue_s = time.monotonic() - t0
                assert svc.notifier is not None
                drain = asyncio.create_task(svc.notifier.drain())
                await tg.wait_for(lambda: len(tg.sent()) >= n // 2, timeout=3600)
                reply_s = await reply_latency(tg, n + 10_000)
                sent = await drain
                total_s = time.monotonic() - t0
                pending = await svc.db(outbox.depth)
    finally:
        await tg.stop()
    first = min(c.at for c in tg.calls if c.method == "sendMessage")
    last = max(c.at for c in tg.calls if c.method == "sendMessage" and c.status == 200)
    return {
        "chats": n,
        "queued": queued,
        "delivered": sent,
        "pending_after": pending,
        "queue_s": queue_s,
        "time_to_last_s": total_s,
        "rate_per_s": (sent - 1) / (last - first),
        "http_429": tg.too_many,
        "reply_s": reply_s,
    }


async def run_baseline(n: int) -> dict[str, float]:
    """The python-telegram-bot textbook broadcast: AIORateLimiter and asyncio.gather."""
    tg = FakeTelegram(limits=RateLimits())
    await tg.start()
    try:
        app = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(tg.base_url)
            .rate_limiter(AIORateLimiter(max_retries=5))
            .build()
        )
        from telegram.ext import CommandHandler

        async def status(update: object, context: object) -> None:
            await update.effective_message.reply_text("status")  # type: ignore[attr-defined]

        app.add_handler(CommandHandler("status", status))
        async with app:
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            await app.start()
            t0 = time.monotonic()
            results = asyncio.gather(
                *(app.bot.send_message(chat_id=c, text="retarget +3.1%") for c in range(1, n + 1)),
                return_exceptions=True,
            )
            await tg.wait_for(lambda: len(tg.sent()) >= n // 2, timeout=3600)
            reply_s = await reply_latency(tg, n + 10_000)
            done = await results
            total_s = time.monotonic() - t0
            await app.updater.stop()
            await app.stop()
    finally:
        await tg.stop()
    ok = sum(1 for r in done if not isinstance(r, BaseException))
    first = min(c.at for c in tg.calls if c.method == "sendMessage")
    last = max(c.at for c in tg.calls if c.method == "sendMessage" and c.status == 200)
    return {
        "chats": n,
        "queued": n,
        "delivered": ok,
        "pending_after": n - ok,
        "queue_s": 0.0,
        "time_to_last_s": total_s,
        "rate_per_s": (ok - 1) / (last - first),
        "http_429": tg.too_many,
        "reply_s": reply_s,
    }


def report(name: str, r: dict[str, float]) -> None:
    print(f"{name}: {int(r['chats']):,} chats, one event")
    print(f"  delivered            {int(r['delivered']):,} (undelivered {int(r['pending_after']):,})")
    print(f"  achieved rate        {r['rate_per_s']:.2f} msg/s = {r['rate_per_s'] / CAP_PER_S:.3f} of 30/s")
    print(f"  429s received        {int(r['http_429'])}")
    print(f"  time to last         {r['time_to_last_s']:.1f} s (queueing {r['queue_s'] * 1000:.0f} ms)")
    print(f"  command reply        {r['reply_s'] * 1000:.0f} ms (sent when half were out)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the textbook broadcast (run by default, same run)"
    )
    parser.add_argument("--smoke", action="store_true", help="a quick run (120 chats)")
    args = parser.parse_args(argv)
    n = 120 if args.smoke else args.chats
    print(f"machine: {machine()} · {datetime.now(UTC):%Y-%m-%d}")
    report("MinerWatch outbox + pacer", asyncio.run(run_minerwatch(n)))
    if not args.no_baseline:
        report("textbook AIORateLimiter + gather", asyncio.run(run_baseline(n)))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
