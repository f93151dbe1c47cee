"""Issue 8: Telegram faults through the real app. The real PTB Application (with the delivery
pacer) talks to the fake Bot API server, which answers Telegram's real error bodies
(tests/fixtures/telegram, see PROVENANCE.md); the network watcher polls the mempool stand-in;
the jobs' work is called directly on an injected clock.

* 429 with ``retry_after``: the row waits exactly that long (bot time), then goes out once.
* 403 blocked: the chat is marked inactive, its queued rows fail, nothing is retried, and its
  rules no longer produce outbox rows or sends.
* 400 migrate (group -> supergroup): rules and queued messages move to the new id, and the
  message is re-sent there.
* An outage of several minutes (502 on every send for 6 minutes of bot time): afterwards every
  queued message arrives, none twice, in order per chat.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.jobs import drain_job, watch_job
from storage import alerts, chats, outbox
from storage import rules as rule_store
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from tests.mempool_standin import MempoolStandIn, load

TELEGRAM = Path(__file__).parent / "fixtures" / "telegram"
RETRY_AFTER_2 = json.loads((TELEGRAM / "error-429-retry-after-short.2024-05-03.json").read_text())
BLOCKED = json.loads((TELEGRAM / "error-403-bot-blocked.2021-11-01.json").read_text())
MIGRATED = json.loads((TELEGRAM / "error-400-migrate-to-supergroup.2021-09-25.json").read_text())
BAD_GATEWAY = {"ok": False, "error_code": 502, "description": "Bad Gateway"}  # written here, see PROVENANCE

DA_PATH = "/api/v1/difficulty-adjustment"
ABOVE = load("difficulty-adjustment.mainnet-2024-03-31.json")  # real recording: +5.91 %
BELOW = {**copy.deepcopy(ABOVE), "difficultyChange": 2.5, "remainingBlocks": 1630, "progressPercent": 19.15}
RULE = "difficulty.next_change > 3%"


@pytest.fixture
async def mempool(aiohttp_server):
    standin = MempoolStandIn()
    standin.serve_json(DA_PATH, BELOW)
    server = await aiohttp_server(standin.app())
    standin.base_url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return standin


def settings_for(tmp_path: Path, tg: FakeTelegram, mempool: MempoolStandIn):
    return bot_settings(
        tmp_path,
        tg,
        {
            "sources.mempool": {"base_url": mempool.base_url},  # type: ignore[attr-defined]
            "watchers.network": {"every": "60s", "price_sources": ["mempool"]},
            "http": {"enabled": False},
        },
    )


def seed(db, chat_ids: list[int], now, chat_type: str = "private") -> list[int]:
    """Chats with the rule, written straight through the storage functions."""
    ids = []
    for cid in chat_ids:
        chats.ensure_chat(db, cid, chat_type, None if chat_type == "private" else "Miners", now)
        rid = rule_store.add_rule(db, cid, RULE, "difficulty.next_change", "threshold", now, max_rules=50)
        assert rid is not None
        ids.append(rid)
    return ids


def ctx_for(app, svc) -> SimpleNamespace:
    return SimpleNamespace(bot_data=app.bot_data, job=SimpleNamespace(data=svc.watchers[0]))


def alert_texts(tg: FakeTelegram, chat: int) -> list[str]:
    return [p["text"] for p in tg.sent(chat_id=chat) if "difficulty" in p["text"].lower()]


async def test_429_retry_after_is_honoured_and_the_row_delivered_once(tmp_path, tg, mempool):
    clock = FakeClock()
    chat = 4242
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (app, svc):
        await svc.db(seed, [chat], clock())
        ctx = ctx_for(app, svc)
        await watch_job(ctx)  # below: nothing
        tg.fail_next("sendMessage", 429, RETRY_AFTER_2, chat_id=chat)
        mempool.serve_json(DA_PATH, ABOVE)
        clock.advance(60)
        await watch_job(ctx)  # fires; the first send answers 429 retry_after 2
        assert len(tg.attempts(chat_id=chat)) == 1 and tg.sent(chat_id=chat) == []
        row = (await svc.db(outbox.due, clock() + timedelta(hours=1), 10))[0]
        assert row["attempts"] == 1 and row["last_error"] == "429 retry after 2s"
        assert row["next_attempt_at"] == (clock() + timedelta(seconds=2)).isoformat(timespec="microseconds")

        clock.advance(1.9)  # not yet: retry_after is 2 s
        await drain_job(ctx)
        assert len(tg.attempts(chat_id=chat)) == 1

        clock.advance(0.1)  # exactly when Telegram said (the pacer also held bulk sends ~2 s)
        await drain_job(ctx)
        assert len(tg.attempts(chat_id=chat)) == 2
        assert len(alert_texts(tg, chat)) == 1
        for _ in range(5):  # later drains send nothing more
            clock.advance(10)
            await drain_job(ctx)
        assert len(tg.attempts(chat_id=chat)) == 2
        assert await svc.db(outbox.count_by_status) == {"sent": 1}


async def test_403_blocked_deactivates_the_chat_and_its_rules_cost_nothing(tmp_path, tg, mempool):
    clock = FakeClock()
    blocked, other = 5151, 6161
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (app, svc):
        blocked_rule, _ = await svc.db(seed, [blocked, other], clock())
        ctx = ctx_for(app, svc)
        await watch_job(ctx)
        tg.fail_next("sendMessage", 403, BLOCKED, chat_id=blocked)
        mempool.serve_json(DA_PATH, ABOVE)
        clock.advance(60)
        await watch_job(ctx)
        assert len(tg.attempts(chat_id=blocked)) == 1 and tg.sent(chat_id=blocked) == []
        assert len(alert_texts(tg, other)) == 1
        chat = await svc.db(chats.get_chat, blocked)
        assert chat is not None and chat["active"] == 0
        failed = [r for r in await svc.db(lambda db: list(db["outbox"].rows)) if r["chat_id"] == blocked]
        assert [(r["status"], r["last_error"]) for r in failed] == [
            ("failed", "403 Forbidden: bot was blocked by the user")
        ]
        state_before = await svc.db(alerts.get_state, blocked_rule)

        # An hour of drains and a full resolve/fire cycle: nothing is retried or queued for it.
        for value in (BELOW, ABOVE, BELOW, ABOVE):
            mempool.serve_json(DA_PATH, value)
            for _ in range(3):
                clock.advance(60)
                await watch_job(ctx)
                await drain_job(ctx)
        assert len(tg.attempts(chat_id=blocked)) == 1
        assert len(alert_texts(tg, other)) == 5  # fired, resolved, fired, resolved, fired
        rows = await svc.db(lambda db: list(db["outbox"].rows_where("chat_id = ?", [blocked])))
        assert len(rows) == 1  # still only the one that failed
        assert await svc.db(alerts.get_state, blocked_rule) == state_before  # not even evaluated


async def test_400_migrate_moves_rules_and_queue_and_resends_there(tmp_path, tg, mempool):
    clock = FakeClock()
    old = -4726613835  # a basic group (the id of the real my_chat_member sample's group)
    new = MIGRATED["parameters"]["migrate_to_chat_id"]  # -1001557912345, from the real 400 body
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (app, svc):
        await svc.db(seed, [old], clock(), "group")
        ctx = ctx_for(app, svc)
        await watch_job(ctx)
        tg.fail_next("sendMessage", 400, MIGRATED, chat_id=old)
        mempool.serve_json(DA_PATH, ABOVE)
        clock.advance(60)
        # Queued for the group; the send answers "upgraded to a supergroup"; the drain's next
        # round re-sends the moved row to the supergroup.
        await watch_job(ctx)
        assert len(tg.attempts(chat_id=old)) == 1 and tg.sent(chat_id=old) == []
        assert len(alert_texts(tg, new)) == 1 and "+5.91%" in alert_texts(tg, new)[0]

        assert [r["chat_id"] for r in await svc.db(rule_store.list_rules, new)] == [new]
        assert await svc.db(rule_store.list_rules, old) == []
        rows = await svc.db(lambda db: list(db["outbox"].rows))
        assert [(r["chat_id"], r["status"]) for r in rows] == [(new, "sent")]
        moved, gone = await svc.db(chats.get_chat, new), await svc.db(chats.get_chat, old)
        assert moved is not None and moved["type"] == "supergroup" and moved["active"] == 1
        assert gone is not None and gone["active"] == 0

        await drain_job(ctx)  # nothing left for either id
        assert len(alert_texts(tg, new)) == 1 and len(tg.attempts(chat_id=old)) == 1

        # Later alerts of the same rule go to the new id only.
        mempool.serve_json(DA_PATH, BELOW)
        clock.advance(60)
        await watch_job(ctx)
        assert len(alert_texts(tg, new)) == 2 and len(tg.attempts(chat_id=old)) == 1
        assert await svc.db(outbox.count_by_status) == {"sent": 2}


async def test_outage_of_six_minutes_every_message_arrives_once(tmp_path, tg, mempool):
    clock = FakeClock()
    chat_ids = [7000 + i for i in range(20)]
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (app, svc):
        await svc.db(seed, chat_ids, clock())
        ctx = ctx_for(app, svc)
        await watch_job(ctx)

        outage_end = clock() + timedelta(minutes=6)
        tg.fail_next("sendMessage", 502, BAD_GATEWAY, times=100_000)  # every send during the outage
        mempool.serve_json(DA_PATH, ABOVE)
        clock.advance(60)
        await watch_job(ctx)  # 20 alerts queued; all refused
        assert await svc.db(outbox.depth) == 20

        ticks = 0
        while clock() < outage_end:  # the drain job every 5 s of bot time; a poll every minute
            clock.advance(5)
            ticks += 1
            if ticks == 24:  # two minutes in, the value falls back: 20 resolved lines queued too
                mempool.serve_json(DA_PATH, BELOW)
            if ticks % 12 == 0:
                await watch_job(ctx)
            await drain_job(ctx)
        assert all(tg.sent(chat_id=c) == [] for c in chat_ids)
        refused = len(tg.attempts())
        assert refused >= 20 * 5  # each row was retried with backoff through the outage
        assert await svc.db(outbox.depth) == 40
        assert await svc.db(outbox.count_by_status) == {"pending": 40}  # none given up

        tg.faults.clear()  # Telegram is back
        for _ in range(120):  # at most 10 minutes of bot time for the backoff to come round
            if await svc.db(outbox.depth) == 0:
                break
            clock.advance(5)
            await drain_job(ctx)
        assert await svc.db(outbox.depth) == 0
        for c in chat_ids:
            texts = alert_texts(tg, c)
            assert len(texts) == 2, (c, texts)  # each message once
            assert "+5.91%" in texts[0] and "+2.50%" in texts[1]  # in order: fired, then resolved
        delivered = [p["text"] for p in tg.sent()]
        assert len(delivered) == len({(p["chat_id"], p["text"]) for p in tg.sent()}) == 40
        assert await svc.db(outbox.count_by_status) == {"sent": 40}


# Found by this suite: a chat's older row still backing off let a newer row overtake it
# ("resolved" before "firing"); storage.outbox.due now holds the newer row back.
async def test_a_chats_messages_keep_their_order_across_an_outage(tmp_path, tg, mempool):
    clock = FakeClock()
    chat = 8080
    async with running_bot(settings_for(tmp_path, tg, mempool), clock) as (app, svc):
        await svc.db(seed, [chat], clock())
        ctx = ctx_for(app, svc)
        await watch_job(ctx)
        tg.fail_next("sendMessage", 502, BAD_GATEWAY, times=100_000)
        mempool.serve_json(DA_PATH, ABOVE)
        for _ in range(4):  # fired at once, then refused 4 times: its backoff grows to 32 s
            clock.advance(60)
            await watch_job(ctx)
            await drain_job(ctx)
        mempool.serve_json(DA_PATH, BELOW)
        clock.advance(60)
        await watch_job(ctx)  # resolved is queued, refused once: due again in 2 s
        tg.faults.clear()
        for _ in range(60):
            clock.advance(5)
            await drain_job(ctx)
        texts = alert_texts(tg, chat)
        assert len(texts) == 2
        assert "+5.91%" in texts[0] and "+2.50%" in texts[1]  # fired, then resolved
