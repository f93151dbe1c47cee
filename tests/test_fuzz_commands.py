"""Issue 12 item 7: 10,000 generated commands through the real application and the fake Bot API.

Every command goes to its own private chat, seeded with an alert, so what each command did can
be read back alone. The commands mix valid arguments with what ``str.isdigit`` accepts and ``int``
refuses (superscripts, circled digits), digits of other scripts, ``nan``, HTML and the like. In
the end: no unhandled error, every command answered, and no chat changed by a command that
carried a non-ASCII digit (every such command is invalid wherever the digit stands).
"""

from __future__ import annotations

import os
import random
import re
import time
from typing import Any

import pytest

from storage import chats
from storage import rules as rule_store
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot

COMMANDS = int(os.environ.get("FUZZ_COMMANDS", 10_000))
BATCH = 1000
FIRST_CHAT = 1_000_000
ADMIN = 999
CHANNEL = -1001234567890
CONTROL = 4242  # seeded like the others, sent nothing
SEED_RULES = ("price > 100k",)  # one is enough to see a wrong /delete; each costs ~0.3 ms x 10,000

# Never a number to a user: what isdigit/isnumeric accept and int()/float() refuse or misread.
HOSTILE = ["²", "①", "٣", "３", "१२", "Ⅻ", "½", "⁹", "𝟙", "2²", "٠.٠٤٥", "-²", "1①"]
ODD = ["", "0", "-1", "+1", "1e3", "nan", "inf", "1_0", "9" * 40, "<b>1</b>", "&amp;", "1\u200b", "🙂", "%"]
VALID = ["1", "2", "3", "18", "0.045", "45/MWh", "4.5c", "2h", "30m", "23:00-07:00", "UTC", "HB_WEST"]
TEMPLATES = [
    "/delete {a}",
    "/delete@MinerWatchTestBot {a}",
    "/snooze {a}",
    "/snooze 2h {a}",
    "/snooze {a} {b}",
    "/channel @fuzzchan delete {a}",
    "/channel {a} delete 1",
    "/channel @fuzzchan alert price > {a}",
    "/fleet {a} {b}",
    "/fleet 18 {a}",
    "/fleet {a} 0.045 hosting {b}",
    "/fleet 18 0.045 hub {a}",
    "/alert price > {a}",
    "/alert hashprice drops {a}% in 24h",
    "/alert difficulty.next_change > {a}% for {b}",
    "/alert filings MARA >= {a}",
    "/quiet {a}:00-07:00",
    "/quiet 23:00-{a}:00 {b}",
    "/tz {a}",
    "/chart hashprice {a}",
    "/alerts {a}",
    "/status {a}",
    "/stock {a}",
    "/alert converts {a}",
]
# what a reply that changed something says
CHANGED_MARKS = ("✅", "🗑", "😴", "🌙", "🕑", "⚠️ Alert set", "lifted", "Quiet hours off", "Fleet removed")


def generate(rng: random.Random) -> tuple[str, bool]:
    """One command and whether it carries a hostile token."""
    template = rng.choice(TEMPLATES)
    pools = [HOSTILE, ODD, VALID]
    a = rng.choice(rng.choices(pools, weights=[4, 3, 3])[0])
    b = rng.choice(rng.choices(pools, weights=[2, 2, 6])[0])
    text = template.format(a=a, b=b)
    used = [a] if "{b}" not in template else [a, b]
    return text, any(token in HOSTILE for token in used)


@pytest.mark.timeout(180)
async def test_ten_thousand_generated_commands(tmp_path, tg: FakeTelegram) -> None:
    extra = {
        "telegram": {"admins": [ADMIN]},
        "watchers.power": {"enabled": True},
        "watchers.filings": {"enabled": True},
        "sources.edgar": {"user_agent": "MinerWatch tests ops@example.com"},
        "alerts": {"max_rules_per_chat": 50},
    }
    tg.known_chats["@fuzzchan"] = {"id": CHANNEL, "type": "channel", "title": "Fuzz"}
    tg.known_chats[CHANNEL] = tg.known_chats["@fuzzchan"]
    rng = random.Random(20261130)
    commands = [generate(rng) for _ in range(COMMANDS)]
    chat_ids = [FIRST_CHAT + i for i in range(COMMANDS)]
    async with running_bot(bot_settings(tmp_path, tg, extra), FakeClock()) as (app, svc):
        errors: list[BaseException] = []

        async def record(update: object, context: Any) -> None:
            errors.append(context.error)

        app.add_error_handler(record)
        # running_bot leaves Telegram's spacing out (tests/harness.py): this test is about what
        # commands do, not pace.
        now = svc.clock()

        def seed(db: Any) -> None:
            with db.atomic():  # one transaction: 20,000 rules in a second or two
                for chat_id in [*chat_ids, CHANNEL, CONTROL]:
                    chats.ensure_chat(db, chat_id, "channel" if chat_id < 0 else "private", "fuzz", now)
                    for text in SEED_RULES:
                        metric = text.split()[0]
                        rule_store.add_rule(db, chat_id, text, metric, "threshold", now, max_rules=50)

        seeding = time.monotonic()
        await svc.db(seed)
        print(f"\nseeded {COMMANDS + 2} chats in {time.monotonic() - seeding:.1f}s")
        replies: dict[int, list[str]] = {}
        scanned = 0

        def answered(target: int) -> bool:
            nonlocal scanned
            for call in tg.calls[scanned:]:
                if call.method in ("sendMessage", "sendPhoto") and call.status == 200:
                    replies.setdefault(int(call.params["chat_id"]), []).append(
                        str(call.params.get("text") or call.params.get("caption") or "")
                    )
            scanned = len(tg.calls)
            return len(replies) >= target  # one chat per command: each chat answered at least once

        started = time.monotonic()
        for start in range(0, COMMANDS, BATCH):
            end = min(start + BATCH, COMMANDS)
            for i in range(start, end):
                private = chat_ids[i]
                # /channel is for the bot's admins: the admin sends it, the reply goes to their chat,
                # which is this command's own chat id here
                user = ADMIN if commands[i][0].startswith("/channel") else private
                tg.push_command(commands[i][0], chat_id=private, user_id=user)
            await tg.wait_for(lambda end=end: answered(end), timeout=120)
        elapsed = time.monotonic() - started
        print(f"\n{COMMANDS} commands answered in {elapsed:.1f}s ({COMMANDS / elapsed:.0f}/s)")

        assert errors == []
        assert not [t for texts in replies.values() for t in texts if "Something went wrong" in t]
        assert all(chat_id in replies for chat_id in chat_ids)  # every one answered

        def state(db: Any) -> dict[int, tuple[list[str], Any]]:
            return {
                c: ([r["text"] for r in rule_store.list_rules(db, c)], chats.get_settings(db, c))
                for c in [*chat_ids, CHANNEL, CONTROL]
            }

        after = await svc.db(state)
        pristine = after[CONTROL][1]  # the settings of a chat nobody wrote to
        hostile = 0
        for (text, is_hostile), chat_id in zip(commands, chat_ids, strict=True):
            if not is_hostile:
                continue
            hostile += 1
            said = " | ".join(replies[chat_id])
            assert not any(mark in said for mark in CHANGED_MARKS), (text, said)
            assert after[chat_id] == (list(SEED_RULES), pristine), (text, said)
        # a /channel delete may take several rules (2 5 7, 3-9, all): its reply names each (<code>),
        # ten at most, then "and N more"
        deleted_from_channel = sum(
            t.count("<code>") + int(m.group(1) if (m := re.search(r" and (\d+) more", t)) else 0)
            for texts in replies.values()
            for t in texts
            if t.startswith("🗑 Deleted from")
        )
        added_to_channel = sum(
            1
            for (text, _), c in zip(commands, chat_ids, strict=True)
            if text.startswith("/channel @fuzzchan alert") and "✅" in " ".join(replies[c])
        )
        assert len(after[CHANNEL][0]) == len(SEED_RULES) - deleted_from_channel + added_to_channel
        assert hostile > COMMANDS * 0.3  # the generator did what it says
