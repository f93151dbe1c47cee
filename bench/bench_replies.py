"""Replies under Telegram's cap (issue 17): many users commanding at once, through the real
application, against the fake Bot API enforcing 30 messages/s overall, 1/s per chat and 20/min
per group (answering 429 beyond).

* 300 private chats send /help in the same instant: every one must be answered, with no 429,
  the last within about 300/29 s.
* 40 members of one group send /help in the same instant: at most 20 messages a minute go to
  the group; the overflow is answered after the window, never dropped.

    python -m bench.bench_replies [--smoke] [--chats N] [--members N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.services import utc_now
from tests.fake_telegram import FakeTelegram, RateLimits
from tests.harness import bot_settings, running_bot

GROUP = -1001234


def machine() -> str:
    return f"{platform.platform()} · {os.cpu_count()} CPU · Python {platform.python_version()}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def max_in_window(times: list[float], span: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - span:
            j += 1
        best = max(best, i - j + 1)
    return best


async def run(chats: int, members: int) -> None:
    tg = FakeTelegram(limits=RateLimits())
    await tg.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = bot_settings(
                Path(tmp), tg, {"watchers.network": {"enabled": False}, "http": {"enabled": False}}
            )
            async with running_bot(settings, utc_now, telegram_limits=True):  # type: ignore[arg-type]
                asked = time.monotonic()
                for chat in range(1, chats + 1):
                    tg.push_command("/help", chat_id=chat, user_id=chat)
                await tg.wait_for(lambda: len({int(m["chat_id"]) for m in tg.sent()}) >= chats, timeout=600)
                replies = [c.at - asked for c in tg.attempts() if c.status == 200]
                print(f"{chats} private chats send /help at once:")
                print(f"  answered             {len({int(m['chat_id']) for m in tg.sent()})} of {chats}")
                print(f"  429s received        {tg.too_many}")
                print(
                    f"  reply times          p50 {statistics.median(replies):.1f} s"
                    f"   p95 {pct(replies, 0.95):.1f} s   last {max(replies):.1f} s"
                    f"   ({chats}/29 = {chats / 29:.1f} s)"
                )
                if members:
                    before_429 = tg.too_many
                    asked = time.monotonic()
                    for user in range(members):
                        tg.push_command("/help", chat_id=GROUP, user_id=5000 + user, chat_type="group")
                    await tg.wait_for(lambda: len(tg.sent(chat_id=GROUP)) >= members, timeout=600)
                    times = [c.at for c in tg.attempts(chat_id=GROUP) if c.status == 200]
                    print(f"{members} members of one group send /help at once:")
                    print(f"  answered             {len(times)} of {members}")
                    print(f"  429s received        {tg.too_many - before_429}")
                    print(f"  most in any 60 s     {max_in_window(times, 60.0)} (Telegram: 20 a minute)")
                    print(
                        f"  first 20 within      {sorted(times)[min(19, len(times) - 1)] - asked:.1f} s,"
                        f" the last at {max(times) - asked:.1f} s"
                    )
    finally:
        await tg.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_replies", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--smoke", action="store_true", help="60 chats, a group of 5")
    parser.add_argument("--chats", type=int, default=300)
    parser.add_argument("--members", type=int, default=40)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    print(f"machine: {machine()} · {datetime.now(UTC):%Y-%m-%d}")
    if args.smoke:
        asyncio.run(run(60, 5))
    else:
        asyncio.run(run(args.chats, args.members))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
