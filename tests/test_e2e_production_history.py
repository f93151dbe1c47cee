"""Issue 19 end to end: a miner's production history backfilled from its EDGAR filing history.

A local stand-in for SEC EDGAR (tests/test_filings_edgar.py's, in EDGAR's layouts: submissions JSON,
filing index pages) serves three RIOT 8-Ks whose EX-99.1 is a REAL release text from
tests/fixtures/production (their provenance is there): the November 2022, October 2023 and
November 2023 production updates. The submissions entries, accession numbers and index pages are
built in EDGAR's shape for the test (not RIOT's real ones), and each filing's only document is its
release (a real 8-K also has a cover page; none of RIOT's is saved): only the texts are real. A
fourth 8-K (Item 5.02) is not a release and is never fetched.

After the walk (the ``ledger:sync`` job) ``/miner RIOT`` shows the latest figures, ``/chart
hashrate.riot`` has the history, a rule on ``held.riot`` does not fire on the past and nothing is
announced; an interrupted walk resumes after the last filing stored without fetching it again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot import jobs
from bot.engine import production_history
from bot.engine.dbworker import DbWorker
from storage import observations
from storage import production as store
from storage.db import open_db
from tests.harness import FakeClock, bot_settings, running_bot
from tests.test_e2e_debt import LedgerEdgar
from tests.test_filings_edgar import RIOT_CIK, UA, Filing
from watchers.filings.config import EdgarSourceConfig

FIXTURES = Path(__file__).parent / "fixtures" / "production"
FILINGS = FIXTURES.parent / "filings"  # the labelled filings, read where they are kept
RIOT = "Riot Platforms, Inc."
CHAT = 4242
NOW = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)


def release(
    accession: str, filed: datetime, fixture: str, items: tuple[str, ...] = ("7.01", "9.01")
) -> Filing:
    name = f"riot-{filed:%Y%m%d}xex99d1.htm"
    docs = {name: ("EX-99.1", str(FIXTURES / fixture))}
    return Filing(RIOT_CIK, RIOT, accession, "8-K", filed, items, name, docs)


NOV_2022 = release(
    "0001167419-22-000101", datetime(2022, 12, 5, 13, 30, tzinfo=UTC),
    "riot-2022-12-05-november-2022-production.txt",
)  # fmt: skip
OCT_2023 = release(
    "0001167419-23-000201", datetime(2023, 11, 7, 13, 30, tzinfo=UTC),
    "riot-2023-11-07-october-2023-production.txt",
)  # fmt: skip
NOV_2023 = release(
    "0001167419-23-000202", datetime(2023, 12, 6, 13, 30, tzinfo=UTC),
    "riot-ex99-1-2023-12-06-november-2023-production.txt",
)  # fmt: skip
OFFICER = Filing(  # an Item 5.02 8-K: not a release, never fetched
    RIOT_CIK, RIOT, "0001167419-23-000150", "8-K", datetime(2023, 6, 1, 20, 0, tzinfo=UTC), ("5.02",),
    "officer.htm", {"officer.htm": ("8-K", str(FILINGS / "nordstrom-8k-2023-03-01-item-5.02.html"))},
)  # fmt: skip
RELEASES = (NOV_2022, OCT_2023, NOV_2023)


@pytest.fixture
async def edgar(aiohttp_server: Any) -> LedgerEdgar:
    standin = LedgerEdgar()
    for filing in (*RELEASES, OFFICER):
        standin.add(filing, in_feed=False)
    app = web.Application()
    app.router.add_get("/{tail:.*}", standin.handler)
    server = await aiohttp_server(app)
    standin.base_url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return standin


def _doc(f: Filing) -> str:
    return f"{f.folder}/{f.primary}"


async def test_walk_builds_history_and_announces_nothing(tmp_path, tg, edgar, caplog):
    base = edgar.base_url  # type: ignore[attr-defined]
    settings = bot_settings(
        tmp_path,
        tg,
        {
            "sources.edgar": {"user_agent": UA, "data_url": base, "www_url": base, "timeout_s": 10},
            "watchers.filings": {"enabled": True, "tickers": ["RIOT"]},
        },
    )
    clock = FakeClock(NOW)
    async with running_bot(settings, clock) as (app, svc):
        assert "Alert set" in await tg.command("/alert held.riot < 10000", chat_id=CHAT)
        assert "Alert set" in await tg.command("/alert production RIOT", chat_id=CHAT)
        assert "no production figures yet" in await tg.command("/miner RIOT", chat_id=CHAT)
        sent = len(tg.sent(chat_id=CHAT))

        with caplog.at_level(logging.INFO):
            # the ``ledger:sync`` job: the ledger's walk (none of these 8-Ks is a debt filing), then this
            await jobs.ledger_sync_job(SimpleNamespace(bot_data=app.bot_data))
        assert "production history: RIOT (1 of 1 miners): 3 filings to read" in caplog.text
        assert "production history: 3 of 3 filings read had figures" in caplog.text
        state = await svc.db(production_history.progress)
        assert state["done"] == ["RIOT"] and state["cursors"]["RIOT"]["accession"] == NOV_2023.accession
        assert edgar.paths(_doc(OFFICER)) == [] and edgar.paths(f"{OFFICER.folder}/") == []
        assert await svc.notifier.drain() == 0
        assert len(tg.sent(chat_id=CHAT)) == sent  # history only: no production, treasury or rule message

        # each figure at its own filing's time, as the release states it
        points = await svc.db(observations.history, "hashrate.riot", datetime(2022, 1, 1, tzinfo=UTC))
        assert [(at, v) for at, v in points] == [
            (NOV_2022.filed_at, 7.7), (OCT_2023.filed_at, 11.7), (NOV_2023.filed_at, 12.4),
        ]  # fmt: skip
        held = await svc.db(store.figure_history, "RIOT", "held_btc")
        assert [(r["value"], r["accession"]) for r in held] == [
            (6897.0, NOV_2022.accession), (7345.0, OCT_2023.accession), (7358.0, NOV_2023.accession),
        ]  # fmt: skip
        assert held[-1]["url"].endswith(_doc(NOV_2023))

        card = await tg.command("/miner RIOT", chat_id=CHAT)
        assert "552 BTC</b> in November 2023 (+21% MoM vs October 2023)" in card, card
        assert "12.40 EH/s</b> deployed" in card and "BTC held: <b>7,358</b>" in card

        photos = len(tg.sent("sendPhoto", chat_id=CHAT))
        tg.push_command("/chart hashrate.riot 1y", chat_id=CHAT, user_id=CHAT)
        await tg.wait_for(lambda: len(tg.sent("sendPhoto", chat_id=CHAT)) > photos)
        chart = tg.sent("sendPhoto", chat_id=CHAT)[-1]
        assert chart["photo"]["filename"] == "hashrate.riot-1y.png"
        assert "12.4" in chart["caption"] and "11.7" in chart["caption"], chart["caption"]  # the year's two

        # a second walk finds nothing after its cursor: nothing fetched again, nothing said
        fetched = len(edgar.requests)
        again = await production_history.backfill(
            svc.db, svc.session, svc.settings.sources.edgar, ["RIOT"], svc.clock, years=3
        )
        assert (again.read, again.stored) == (0, 0)
        assert [p for p, *_ in edgar.requests[fetched:]] == [f"/submissions/CIK{RIOT_CIK:010d}.json"]
        assert await svc.notifier.drain() == 0 and len(tg.sent(chat_id=CHAT)) == sent + 1  # the /miner reply


async def test_interrupted_walk_resumes_without_rereading(tmp_path, edgar):
    """The process dies while the third release is being fetched; the next run starts after the second."""
    base = edgar.base_url  # type: ignore[attr-defined]
    source = EdgarSourceConfig(user_agent=UA, data_url=base, www_url=base, timeout_s=10)
    gate = asyncio.Event()
    edgar.hold[_doc(NOV_2023)] = gate
    clock = FakeClock(NOW)
    path = tmp_path / "m.db"
    async with aiohttp.ClientSession() as session:
        db = DbWorker(open_db(path))
        task = asyncio.create_task(production_history.backfill(db, session, source, ["RIOT"], clock))
        for _ in range(1000):  # until it asks for the third release (bounded: the test cannot hang)
            if edgar.held:
                break
            await asyncio.sleep(0.01)
        assert edgar.held
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        db.close()
        state = production_history.progress(open_db(path))
        assert state["cursors"]["RIOT"]["accession"] == OCT_2023.accession
        assert state["done"] == [] and state["current"] == "RIOT"

        gate.set()
        db = DbWorker(open_db(path))
        run = await production_history.backfill(db, session, source, ["RIOT"], clock)
        db.close()
    assert (run.read, run.stored) == (1, 1)  # the third only
    for f in (NOV_2022, OCT_2023):
        assert len(edgar.paths(_doc(f))) == 1 and len(edgar.paths(f"{f.folder}/{f.accession}-index.htm")) == 1
    db2 = open_db(path)
    assert [r["value"] for r in store.figure_history(db2, "RIOT", "mined_btc")] == [521.0, 458.0, 552.0]
    state = production_history.progress(db2)
    assert state["done"] == ["RIOT"] and state["finished_at"] and state["current"] is None


async def test_a_release_that_fails_to_download_is_read_on_the_next_run(tmp_path, edgar):
    """EDGAR answers 500 for the October 2023 release: the walk stores the other two, keeps the
    failed one on its retry list, and the next run reads it (its figures land at its own time)
    without moving the cursor back or fetching the others again."""
    base = edgar.base_url  # type: ignore[attr-defined]
    source = EdgarSourceConfig(user_agent=UA, data_url=base, www_url=base, timeout_s=10)
    edgar.failures[_doc(OCT_2023)] = 1
    clock = FakeClock(NOW)
    async with aiohttp.ClientSession() as session:
        db = DbWorker(open_db(tmp_path / "m.db"))
        first = await production_history.backfill(db, session, source, ["RIOT"], clock)
        assert (first.read, first.stored) == (2, 2) and len(first.retrying) == 1
        state = production_history.progress(db.db)
        assert [e["doc"]["accession"] for e in state["retry"]["RIOT"]] == [OCT_2023.accession]
        assert state["cursors"]["RIOT"]["accession"] == NOV_2023.accession

        second = await production_history.backfill(db, session, source, ["RIOT"], clock)
        assert (second.read, second.stored) == (1, 1) and second.retrying == []
        state = production_history.progress(db.db)
        assert state["retry"] == {} and state["cursors"]["RIOT"]["accession"] == NOV_2023.accession
        assert [r["value"] for r in store.figure_history(db.db, "RIOT", "mined_btc")] == [521.0, 458.0, 552.0]
        db.close()
    for f in (NOV_2022, NOV_2023):
        assert len(edgar.paths(_doc(f))) == 1
