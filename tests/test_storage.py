"""Storage: migrations on a fresh and a reopened file, WAL, the outbox's idempotency and order,
and observations thinned by the housekeeping job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from bot.app import build_application, create_services
from bot.jobs import schedule_jobs, thin_job
from rules.data import Observation
from storage import observations, outbox
from storage.db import open_db
from tests.harness import write_config

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_reopening_applies_nothing_twice_and_uses_wal(tmp_path):
    path = tmp_path / "m.db"
    db = open_db(path)
    assert db.journal_mode == "wal"
    tables = set(db.table_names())
    db.close()
    db = open_db(path)  # migrations already applied: a no-op
    assert set(db.table_names()) == tables
    assert "origin" in db["rules"].columns_dict
    db.close()


def test_outbox_never_queues_the_same_key_twice():
    db = open_db(None)
    kw = dict(key="k1", chat_id=1, rule_id=None, reason="firing", text="x", now=T0)
    assert outbox.enqueue(db, **kw) is True
    assert outbox.enqueue(db, **kw) is False
    assert outbox.depth(db) == 1


def test_due_keeps_a_chats_order_and_priorities():
    db = open_db(None)
    outbox.enqueue(
        db,
        key="chan",
        chat_id=-1001,
        rule_id=None,
        reason="event",
        text="c",
        now=T0,
        priority=outbox.priority_for("channel"),
    )
    outbox.enqueue(db, key="a1", chat_id=7, rule_id=None, reason="firing", text="a1", now=T0)
    outbox.enqueue(
        db, key="a2", chat_id=7, rule_id=None, reason="resolved", text="a2", now=T0 + timedelta(seconds=1)
    )
    assert [r["key"] for r in outbox.due(db, T0 + timedelta(seconds=2), 10)] == ["a1", "a2", "chan"]
    token, claimed = outbox.claim_due(db, T0 + timedelta(seconds=2), 1, "test:1:1")
    assert [r["key"] for r in claimed] == ["a1"]
    # while a1 is being sent, a2 waits behind it (a second drain never overtakes it)
    assert [r["key"] for r in outbox.due(db, T0 + timedelta(seconds=2), 10)] == ["chan"]
    outbox.mark_retry(db, "a1", token, T0 + timedelta(minutes=5), "network")  # a1 backs off...
    # ...so a2 waits behind it: a chat never gets "resolved" before its "firing"
    assert [r["key"] for r in outbox.due(db, T0 + timedelta(seconds=2), 10)] == ["chan"]
    assert [r["key"] for r in outbox.due(db, T0 + timedelta(minutes=6), 10)] == ["a1", "a2", "chan"]


async def test_thin_job_removes_only_old_observations(tmp_path):
    cfg = write_config(
        tmp_path / "c.toml",
        {
            "telegram": {"token": "1:x"},
            "storage": {"path": str(tmp_path / "d.db"), "keep_observations": "30d"},
        },
    )
    from bot.settings import load_settings

    now = T0 + timedelta(days=100)
    svc = create_services(load_settings(cfg), clock=lambda: now, watchers=[])
    app = build_application(svc, with_jobs=False)
    obs = [Observation("price", 1.0 + d, T0 + timedelta(days=d), "mempool") for d in range(100)]
    await svc.db(observations.insert_observations, obs)
    for key, age_days, status in (
        ("old-sent", 40, "sent"),
        ("new-sent", 5, "sent"),
        ("old-pending", 40, "pending"),
    ):
        await svc.db(
            outbox.enqueue,
            key=key,
            chat_id=1,
            rule_id=None,
            reason="firing",
            text="x",
            now=now - timedelta(days=age_days),
            status=status,
        )
    await thin_job(SimpleNamespace(bot_data=app.bot_data))
    kept = await svc.db(observations.history, "price", T0)
    assert len(kept) == 30 and kept[0][0] == now - timedelta(days=30)
    # delivered rows older than 30 days go; recent ones and anything not yet delivered stay
    assert {r["key"] for r in await svc.db(lambda db: list(db.query("SELECT key FROM outbox")))} == {
        "new-sent",
        "old-pending",
    }
    schedule_jobs(app, svc)
    names = {job.name for job in app.job_queue.jobs()}
    assert {"outbox:drain", "alerts:stale", "digest", "quiet:summary", "observations:thin"} <= names
    svc.db.close()


def test_a_repeated_interval_is_stored_once_and_a_correction_replaces_it():
    """ERCOT's latest interval is re-reported on every poll; a _retry_ file corrects it."""
    db = open_db(None)
    observations.insert_observations(db, [Observation("power.hb_west", 30.0, T0, "ercot")])
    observations.insert_observations(db, [Observation("power.hb_west", 30.0, T0, "ercot")])
    assert db["observations"].count == 1
    observations.insert_observations(db, [Observation("power.hb_west", 35.5, T0, "ercot")])
    assert observations.history(db, "power.hb_west", T0) == [(T0, 35.5)]
    # the same instant from another source is another observation
    observations.insert_observations(db, [Observation("power.hb_west", 36.0, T0, "gridstatus")])
    assert db["observations"].count == 2


def test_latest_is_by_time_not_by_insertion():
    """A correction of an older interval, or history back-filled after live values, is stored
    later (a higher id) but is not the current value."""
    db = open_db(None)
    observations.insert_observations(
        db, [Observation("power.hb_west", 40.0, T0 + timedelta(minutes=30), "ercot")]
    )
    observations.insert_observations(db, [Observation("power.hb_west", 22.0, T0, "ercot")])  # late correction
    observations.insert_observations(db, [Observation("difficulty", 102.3, T0, "mempool")])
    observations.insert_observations(
        db, [Observation("difficulty", 95.0, T0 - timedelta(days=30), "mempool")]
    )
    latest = observations.latest_all(db)
    assert latest["power.hb_west"]["value"] == 40.0 and latest["difficulty"]["value"] == 102.3
    assert set(latest) == {"power.hb_west", "difficulty"}
    assert observations.latest_all(open_db(None)) == {}
