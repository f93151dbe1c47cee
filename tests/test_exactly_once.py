"""Exactly-once delivery is the database's doing (issue 11): drains claim rows atomically, so two
drains over the same rows (two connections, as two processes would have) send each row once; a
dead process's claims are released and sent once; a live one's are left alone; and an old event
is never announced twice even after its outbox rows are pruned."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from bot.delivery.drain import Notifier
from bot.engine.dbworker import DbWorker
from bot.engine.ingest import ingest
from bot.engine.rule_eval import IngestOptions
from rules.data import Event
from storage import chats, outbox
from storage import rules as rule_store
from storage.db import open_db
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from watchers.base import PollResult

CHATS = 40
PER_CHAT = 5


def queue_rows(db, now) -> int:
    n = 0
    for c in range(CHATS):
        chat_id = 1000 + c
        chats.ensure_chat(db, chat_id, "private", None, now)
        for i in range(PER_CHAT):
            n += outbox.enqueue(
                db,
                key=f"k-{chat_id}-{i}",
                chat_id=chat_id,
                rule_id=None,
                reason="firing",
                text=f"alert {chat_id} #{i}",
                now=now + timedelta(microseconds=i),
            )
    return n


def sent_texts(tg: FakeTelegram) -> Counter[str]:
    return Counter(c.params["text"] for c in tg.calls if c.method == "sendMessage")


async def test_two_drains_on_two_connections_send_each_row_once(tg, tmp_path):
    clock = FakeClock()
    settings = bot_settings(tmp_path, tg)
    async with running_bot(settings, clock) as (app, svc):
        queued = await svc.db(queue_rows, clock())
        assert queued == CHATS * PER_CHAT
        clock.advance(1)  # all due
        # a second drain as another process would run it: its own connection, its own name
        other_db = DbWorker(open_db(settings.storage.path))
        # small batches, so the two drains really interleave their claims
        other = Notifier(app.bot, other_db, clock, batch=7)
        other.owner = "elsewhere:1:1"  # another process (on another host: never released by us)
        assert svc.notifier is not None and svc.notifier.owner != other.owner
        svc.notifier.batch = 7
        try:
            first, second = await asyncio.gather(svc.notifier.drain(), other.drain())
        finally:
            other_db.close()
        texts = sent_texts(tg)
        assert first + second == CHATS * PER_CHAT
        assert len(texts) == CHATS * PER_CHAT and set(texts.values()) == {1}  # every row once
        assert first > 0 and second > 0  # both really drained
        statuses = await svc.db(outbox.count_by_status)
        assert statuses == {"sent": CHATS * PER_CHAT}
        # each chat's messages arrived in the order they were queued
        for c in range(CHATS):
            order = [
                call.params["text"]
                for call in tg.calls
                if call.method == "sendMessage" and int(call.params["chat_id"]) == 1000 + c
            ]
            assert order == [f"alert {1000 + c} #{i}" for i in range(PER_CHAT)]


async def test_claims_of_a_dead_process_are_released_and_sent_once(tg, tmp_path):
    clock = FakeClock()
    async with running_bot(bot_settings(tmp_path, tg), clock) as (_app, svc):
        await svc.db(queue_rows, clock())
        clock.advance(1)
        host = outbox.process_owner().rsplit(":", 2)[0]
        dead = f"{host}:999999999:12345"  # no such pid: a process killed mid-send
        live = "elsewhere:1:1"  # another host's process: cannot be checked, so left alone
        assert not outbox.owner_alive(dead) and outbox.owner_alive(outbox.process_owner())
        _, dead_rows = await svc.db(outbox.claim_due, clock(), 3, dead)
        _, live_rows = await svc.db(outbox.claim_due, clock(), 2, live)
        assert len(dead_rows) == 3 and len(live_rows) == 2
        assert svc.notifier is not None
        sent = await svc.notifier.drain()
        texts = sent_texts(tg)
        live_texts = {r["text"] for r in live_rows}
        # the live drain's two chats keep their order: their later rows wait behind its claims
        assert sent == CHATS * PER_CHAT - 2 * PER_CHAT
        assert await svc.db(outbox.count_by_status) == {
            "sent": sent,
            "sending": 2,
            "pending": 2 * (PER_CHAT - 1),
        }
        assert all(texts[r["text"]] == 1 for r in dead_rows)  # released, then sent once
        assert not live_texts & set(texts)  # a live drain's rows are never taken
        assert set(texts.values()) == {1}


async def test_an_old_event_is_not_announced_again_after_the_outbox_is_pruned(tg, tmp_path):
    clock = FakeClock()
    async with running_bot(bot_settings(tmp_path, tg), clock) as (_app, svc):
        await svc.db(chats.ensure_chat, 77, "private", None, clock())
        await svc.db(rule_store.add_rule, 77, "retarget", "event:retarget", "event", clock(), max_rules=50)
        event = Event(
            kind="retarget", key="retarget:840672", at=clock(), source="mempool", data={"height": 840672}
        )
        opts = IngestOptions(links={})
        _, queued = await svc.db(ingest, "network", PollResult(events=[event]), {}, clock(), opts)
        assert queued == 1
        assert svc.notifier is not None
        assert await svc.notifier.drain() == 1
        # 40 days on the delivered row is pruned; the same event comes again (a re-poll, a restart)
        clock.advance(40 * 86400)
        assert await svc.db(outbox.prune, clock() - timedelta(days=outbox.KEEP_DELIVERED_DAYS)) == 1
        assert await svc.db(outbox.count_by_status) == {}
        new_events, queued_again = await svc.db(
            ingest, "network", PollResult(events=[event]), {}, clock(), opts
        )
        assert (new_events, queued_again) == (0, 0)
        assert await svc.notifier.drain() == 0
        assert len([c for c in tg.calls if c.method == "sendMessage"]) == 1
