"""Issue 14 end to end: the debt ledger from the real RIOT filings, through the real bot.

A local stand-in for SEC EDGAR (tests/test_filings_edgar.py's, in EDGAR's layouts) serves the real
RIOT 10-K (2024) and 10-Q (2025-06-30) from shared/ledger behind RIOT's CIK; the bot runs against
the fake Bot API. The bootstrap reads the 10-K (history: nothing announced); the 10-Q then appears
in the latest-filings feed and the filings poll hands it to the ledger: /debt RIOT shows the new
facility, ``/alert debt RIOT`` fires once, ``/alert maturity < 365d`` announces the facility due in
2026 once, a restart keeps all of it. A malformed or enormous document is skipped with a note and
leaves the ledger as it was; a bootstrap interrupted mid-way resumes without re-reading.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot import jobs
from bot.engine import ledger as ledger_engine
from bot.engine.dbworker import DbWorker
from storage import ledger as store
from storage import observations
from storage.db import open_db
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from tests.ledger_support import shared_dir
from tests.test_filings_edgar import RIOT_CIK, UA, FakeEdgar, Filing
from watchers.filings.config import EdgarSourceConfig

SHARED = shared_dir()
pytestmark = pytest.mark.skipif(
    SHARED is None, reason="shared/ledger (the real RIOT filings) not beside the checkout"
)
CHAT = 4242
RIOT = "Riot Platforms, Inc."


def _doc(name: str) -> Path:
    assert SHARED is not None
    return SHARED / "ledger" / name


def riot_10k() -> Filing:
    # RIOT's 10-K for 2024 was accepted 2025-02-27 (the accession number is its real one's shape,
    # not its real value: only the document is real).
    return Filing(
        RIOT_CIK, RIOT, "0001167419-25-000010", "10-K", datetime(2025, 2, 27, 21, 5, tzinfo=UTC), (),
        "riot-20241231.htm", {"riot-20241231.htm": ("10-K", str(_doc("riot-10k-2024-12-31.html")))},
    )  # fmt: skip


def riot_10q(filed: datetime, accession: str = "0001167419-25-000050", fixture: str | None = None) -> Filing:
    path = fixture or str(_doc("riot-10q-2025-06-30.html"))
    docs = {"riot-20250630.htm": ("10-Q", path)}
    return Filing(RIOT_CIK, RIOT, accession, "10-Q", filed, (), "riot-20250630.htm", docs)


class LedgerEdgar(FakeEdgar):
    """The filings stand-in, plus: documents served from absolute paths or as given bytes, and paths
    that hang until released (an interrupted bootstrap)."""

    def __init__(self) -> None:
        super().__init__()
        self.companies = {RIOT_CIK: RIOT}
        self.bodies: dict[str, bytes] = {}  # path -> body served instead
        self.hold: dict[str, asyncio.Event] = {}
        self.held: list[str] = []  # paths asked for while held
        self.failures: dict[str, int] = {}  # path -> how many more times it answers 500

    async def handler(self, request: web.Request) -> web.StreamResponse:
        if self.failures.get(request.path, 0) > 0:
            self.failures[request.path] -= 1
            return web.Response(status=500, text="Internal Server Error")
        gate = self.hold.get(request.path)
        if gate is not None:
            self.held.append(request.path)
            await gate.wait()
        if request.path in self.bodies:
            self.requests.append(
                (request.path, dict(request.query), request.headers.get("User-Agent", ""), 0.0)
            )
            return web.Response(body=self.bodies[request.path], content_type="text/html")
        return await super().handler(request)


@pytest.fixture
async def edgar(aiohttp_server: Any) -> LedgerEdgar:
    standin = LedgerEdgar()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/{tail:.*}", standin.handler)
    server = await aiohttp_server(app)
    standin.base_url = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return standin


def settings_for(tmp_path: Path, tg: FakeTelegram, edgar: LedgerEdgar) -> Any:
    base = edgar.base_url  # type: ignore[attr-defined]
    return bot_settings(
        tmp_path,
        tg,
        {
            "sources.edgar": {"user_agent": UA, "data_url": base, "www_url": base, "timeout_s": 10},
            "watchers.filings": {"enabled": True, "tickers": ["RIOT"]},
        },
    )


async def filings_poll(svc: Any) -> int:
    """What the ``watch:filings`` job does: the poll, then the ledger, then the outbox."""
    watcher = next(sw.watcher for sw in svc.watchers if sw.watcher.id == "filings")
    outcome = await svc.pipeline.run_watcher(watcher, svc.session)
    assert outcome.ok, outcome.error
    await jobs.follow_filings(svc)
    return await svc.notifier.drain()


async def sync(svc: Any) -> ledger_engine.LedgerRun:
    return await ledger_engine.bootstrap(
        svc.db, svc.session, svc.settings.sources.edgar, ["RIOT"], svc.clock, years=3
    )


async def test_new_10q_updates_the_ledger_and_fires_once(tmp_path, tg, edgar):
    clock = FakeClock(datetime(2025, 7, 31, 20, 0, tzinfo=UTC))
    settings = settings_for(tmp_path, tg, edgar)
    edgar.add(riot_10k(), in_feed=False)
    async with running_bot(settings, clock) as (_app, svc):
        assert "Alert set" in await tg.command("/alert debt RIOT")
        assert "Alert set" in await tg.command("/alert maturity < 365d")
        assert "Alert set" in await tg.command("/alert debt.riot > 800M")
        assert "RIOT</b> no ledger yet" in await tg.command("/debt")  # nothing read yet

        run = await sync(svc)  # the bootstrap: RIOT's 10-K, history only
        assert (run.applied, run.skipped, run.stopped) == (1, [], None)
        lg = await svc.db(store.load_ledger, "RIOT")
        assert lg is not None and lg.total_debt_principal_usd == pytest.approx(599_723_000)
        sent_before = len(tg.sent(chat_id=CHAT))
        assert await filings_poll(svc) == 0  # first run of the filings watcher: records, says nothing
        assert len(tg.sent(chat_id=CHAT)) == sent_before
        page = await tg.command("/debt")
        assert "RIOT" in page and "$600M" in page and "as of 2024-12-31" in page and "building" not in page

        # The 10-Q appears in the latest-filings feed.
        clock.advance(60)
        tenq = riot_10q(clock.now - timedelta(seconds=30))
        edgar.add(tenq)
        # the debt change, the total past $800M, and the facility due 2026-07-15
        assert await filings_poll(svc) == 3
        # the 10-Q's 3 MB document is fetched once, by the ledger (the filings watcher reports it unread)
        assert edgar.paths(f"{tenq.folder}/riot-20250630.htm") == [f"{tenq.folder}/riot-20250630.htm"]
        texts = [m["text"] for m in tg.sent(chat_id=CHAT)[sent_before:]]
        debt = [t for t in texts if "debt $600M → $854M" in t]
        assert len(debt) == 1, texts
        assert "RIOT adds $200 Million Credit Facility ($200M outstanding): debt $600M → $854M" in debt[0]
        assert "10-Q 2025-06-30" in debt[0] and "riot-20250630.htm" in debt[0]
        maturity = [t for t in texts if "maturity &lt; 365d" in t or "maturity < 365d" in t]
        assert len(maturity) == 1 and "$50 Million Credit Facility: matures 2026-07-15" in maturity[0]
        assert (await svc.db(observations.latest, "debt.riot"))[0] == pytest.approx(853_995_000)
        threshold = [t for t in texts if "RIOT debt $853,995,000" in t]
        assert len(threshold) == 1 and "above your threshold $800,000,000" in threshold[0]
        # a debt total holds until the next filing: hours later it is not "no data"
        clock.advance(3 * 3600)
        assert await svc.pipeline.check_stale() == 0

        detail = await tg.command("/debt RIOT")
        assert "<b>RIOT debt $854M</b>" in detail and "as of 2025-06-30" in detail
        assert (
            "$200 Million Credit Facility" in detail and "0.75% Convertible Senior Notes due 2030" in detail
        )
        assert "converts 67.2767 shares per $1,000 ($14.86/share)" in detail
        assert "Maturity wall" in detail and "2030: $594M" in detail
        assert 'href="' in detail and "riot-20250630.htm" in detail  # every tranche cites its filings
        assert len(detail) < 4096

        # /chart debt.riot 1y: the bootstrap's point (10-K, February) and the live one (10-Q)
        photos = len(tg.sent("sendPhoto", chat_id=CHAT))
        tg.push_command("/chart debt.riot 1y", chat_id=CHAT, user_id=CHAT)
        await tg.wait_for(lambda: len(tg.sent("sendPhoto", chat_id=CHAT)) > photos)
        chart = tg.sent("sendPhoto", chat_id=CHAT)[-1]
        assert chart["photo"]["filename"] == "debt.riot-1y.png"
        assert "now <b>$853,995,000</b>" in chart["caption"] and "low $599,723,000" in chart["caption"]
        assert "<code>debt.riot &gt; 800M</code>" in chart["caption"]

        # Polled again: nothing new is said.
        n = len(tg.sent(chat_id=CHAT))
        clock.advance(60)
        assert await filings_poll(svc) == 0
        assert await svc.db(ledger_engine.check_maturities, clock(), svc.pipeline.opts) == 0
        assert len(tg.sent(chat_id=CHAT)) == n

    # Restart on the same database: the ledger is there, nothing is said twice.
    async with running_bot(settings, clock) as (_app, svc):
        clock.advance(60)
        assert await filings_poll(svc) == 0
        assert len(tg.sent(chat_id=CHAT)) == n
        detail = await tg.command("/debt RIOT")
        assert "<b>RIOT debt $854M</b>" in detail
        run = await sync(svc)  # a later sync finds both documents recorded: nothing re-read
        assert run.applied == 0
        assert edgar.paths(riot_10k().folder + "/riot-20241231.htm") == [
            riot_10k().folder + "/riot-20241231.htm"
        ]
        unknown = await tg.command("/debt XYZ")
        # the example names a ticker this bot watches, so it works when tapped
        assert "XYZ is not on the watch list" in unknown and "<code>/debt RIOT</code>" in unknown


@pytest.mark.parametrize("kind", ["enormous", "malformed"])
async def test_bad_document_is_skipped_with_a_note(tmp_path, tg, edgar, kind):
    clock = FakeClock(datetime(2025, 7, 31, 20, 0, tzinfo=UTC))
    settings = settings_for(tmp_path, tg, edgar)
    edgar.add(riot_10k(), in_feed=False)
    async with running_bot(settings, clock) as (_app, svc):
        assert "Alert set" in await tg.command("/alert debt")
        await sync(svc)
        await filings_poll(svc)
        before = await svc.db(store.load_ledger, "RIOT")
        sent = len(tg.sent(chat_id=CHAT))

        clock.advance(60)
        bad = riot_10q(clock.now - timedelta(seconds=30), accession="0001167419-25-000066")
        edgar.add(bad)
        path = f"{bad.folder}/riot-20250630.htm"
        edgar.bodies[path] = (
            b"<html>" + b"x" * (17 * 1024 * 1024) if kind == "enormous" else b"\x00\x01\x02 PK\x03\x04"
        )
        assert await filings_poll(svc) == 0
        after = await svc.db(store.load_ledger, "RIOT")
        assert after == before  # the ledger is unchanged
        rows = [r for r in await svc.db(store.documents, "RIOT") if r["doc_key"] == bad.accession]
        assert len(rows) == 1 and rows[0]["status"] == "skipped"
        assert ("limit" in rows[0]["note"]) if kind == "enormous" else ("binary" in rows[0]["note"])
        assert len(tg.sent(chat_id=CHAT)) == sent  # nothing announced
        assert "$600M" in await tg.command("/debt RIOT")


async def test_bootstrap_resumes_after_an_interruption(tmp_path, edgar):
    """The process dies while the 10-Q is being fetched; the next run starts after the 10-K."""
    base = edgar.base_url  # type: ignore[attr-defined]
    source = EdgarSourceConfig(user_agent=UA, data_url=base, www_url=base, timeout_s=10)
    tenq = riot_10q(datetime(2025, 7, 31, 20, 0, tzinfo=UTC))
    edgar.add(riot_10k(), in_feed=False)
    edgar.add(tenq, in_feed=False)
    gate = asyncio.Event()
    edgar.hold[f"{tenq.folder}/riot-20250630.htm"] = gate
    clock = FakeClock(datetime(2025, 8, 15, tzinfo=UTC))
    path = tmp_path / "m.db"
    lines: list[str] = []
    import aiohttp

    async with aiohttp.ClientSession() as session:
        db = DbWorker(open_db(path))
        task = asyncio.create_task(
            ledger_engine.bootstrap(db, session, source, ["RIOT"], clock, say=lines.append)
        )
        for _ in range(1000):  # until it asks for the 10-Q (bounded: the test cannot hang)
            if edgar.held:
                break
            await asyncio.sleep(0.01)
        assert edgar.held, lines
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        db.close()
        progress = ledger_engine.bootstrap_progress(open_db(path))
        assert progress["done"] == [] and progress["current"] == "RIOT" and progress["total"] == 1
        assert progress["cursors"]["RIOT"]["accession"] == riot_10k().accession
        assert any("RIOT (1 of 1 miners): 2 documents to read" in line for line in lines)

        gate.set()
        db = DbWorker(open_db(path))
        run = await ledger_engine.bootstrap(db, session, source, ["RIOT"], clock, say=lines.append)
        db.close()
    assert run.applied == 1  # the 10-Q only: the 10-K is not read again
    assert len(edgar.paths(f"{riot_10k().folder}/riot-20241231.htm")) == 1
    db2 = open_db(path)
    lg = store.load_ledger(db2, "RIOT")
    assert lg is not None and lg.total_debt_principal_usd == pytest.approx(853_995_000)
    progress = ledger_engine.bootstrap_progress(db2)
    assert progress["done"] == ["RIOT"] and progress["finished_at"]
    # history: one debt.riot point per document, at its filing time
    points = observations.history(db2, "debt.riot", datetime(2024, 1, 1, tzinfo=UTC))
    assert [round(v) for _, v in points] == [599_723_000, 853_995_000]
    assert json.dumps([r["status"] for r in store.documents(db2, "RIOT")]) == '["applied", "applied"]'


async def test_a_failed_download_is_read_again_on_the_next_run_then_skipped_after_three(tmp_path, edgar):
    """A document EDGAR fails to serve (a 500) is not given up: the next run reads it first, without
    moving the cursor back; only a third failure records it as skipped, with the reason."""
    import aiohttp

    base = edgar.base_url  # type: ignore[attr-defined]
    source = EdgarSourceConfig(user_agent=UA, data_url=base, www_url=base, timeout_s=10)
    tenk, tenq = riot_10k(), riot_10q(datetime(2025, 7, 31, 20, 0, tzinfo=UTC))
    edgar.add(tenk, in_feed=False)
    edgar.add(tenq, in_feed=False)
    tenk_path = f"{tenk.folder}/riot-20241231.htm"
    edgar.failures[tenk_path] = 1  # the older document fails once; the newer one is read
    clock = FakeClock(datetime(2025, 8, 15, tzinfo=UTC))
    lines: list[str] = []
    async with aiohttp.ClientSession() as session:
        db = DbWorker(open_db(tmp_path / "m.db"))
        first = await ledger_engine.bootstrap(db, session, source, ["RIOT"], clock, say=lines.append)
        assert first.applied == 1 and first.skipped == []
        assert len(first.retrying) == 1 and tenk.accession in first.retrying[0]
        assert "500" in first.retrying[0]
        progress = ledger_engine.bootstrap_progress(db.db)
        assert [e["doc"]["accession"] for e in progress["retry"]["RIOT"]] == [tenk.accession]
        assert progress["cursors"]["RIOT"]["accession"] == tenq.accession
        assert [r["status"] for r in store.documents(db.db, "RIOT")] == ["applied"]

        second = await ledger_engine.bootstrap(db, session, source, ["RIOT"], clock, say=lines.append)
        assert second.applied == 1 and second.retrying == []
        progress = ledger_engine.bootstrap_progress(db.db)
        assert progress.get("retry") == {}
        assert progress["cursors"]["RIOT"]["accession"] == tenq.accession  # not moved back
        assert sorted(r["status"] for r in store.documents(db.db, "RIOT")) == ["applied", "applied"]
        lg = store.load_ledger(db.db, "RIOT")
        # the newer 10-Q's figures still stand: an older document never overrides a newer one
        assert lg is not None and lg.total_debt_principal_usd == pytest.approx(853_995_000)
        db.close()

        # another miner's history where a document fails three runs in a row: then skipped
        db = DbWorker(open_db(tmp_path / "n.db"))
        edgar.failures[tenk_path] = 3
        runs = [await ledger_engine.bootstrap(db, session, source, ["RIOT"], clock) for _ in range(3)]
        assert [len(r.retrying) for r in runs] == [1, 1, 0]
        assert any("500" in note for note in runs[2].skipped)
        statuses = {r["doc_key"]: r["status"] for r in store.documents(db.db, "RIOT")}
        assert statuses[tenk.accession] == "skipped" and statuses[tenq.accession] == "applied"
        assert ledger_engine.bootstrap_progress(db.db).get("retry") == {}
        db.close()
    assert any("not read" in line and "tried again" in line for line in lines)


# An 8-K cover in EDGAR's shape, BUILT for this test (no real filing): Item 8.01 points to the press
# release, and states no term itself.
BUILT_8K_COVER = """<html><body><p>UNITED STATES SECURITIES AND EXCHANGE COMMISSION</p><p>FORM 8-K</p>
<p>CURRENT REPORT Pursuant to Section 13 or 15(d) of the Securities Exchange Act of 1934</p>
<p>MARA Holdings, Inc.</p><p>Item 8.01 Other Events.</p><p>The Company issued the press release
attached hereto as Exhibit 99.1, which is incorporated herein by reference.</p>
<p>Item 9.01 Financial Statements and Exhibits.</p><p>99.1 Press release.</p></body></html>"""


async def test_an_8k_whose_terms_are_in_its_press_release_reaches_the_ledger(tmp_path, edgar):
    """The ledger reads an 8-K with its EX-99.1, as the filings watcher does: a cover that states no
    term gives the tranche its release states. The release here is the REAL MARA closing 8-K's text
    (tests/fixtures/filings, labelled) standing in for an EX-99.1, whose recording we do not have;
    the cover is built (above). Without the exhibit the same cover gives no tranche."""
    import aiohttp

    base = edgar.base_url  # type: ignore[attr-defined]
    source = EdgarSourceConfig(user_agent=UA, data_url=base, www_url=base, timeout_s=10)
    cover = tmp_path / "mara-8k-cover.htm"
    cover.write_text(BUILT_8K_COVER)
    release = Path(__file__).parent / "fixtures" / "filings" / "mara-8k-2024-11-21-convertible-closing.html"
    mara_cik, mara = 1507605, "MARA Holdings, Inc."
    edgar.companies[mara_cik] = mara

    def filing(accession: str, with_release: bool) -> Filing:
        docs = {"mara-8k.htm": ("8-K", str(cover))}
        if with_release:
            docs["mara-ex99_1.htm"] = ("EX-99.1", str(release))
        when = datetime(2024, 11, 21, 21, 0, tzinfo=UTC)
        return Filing(mara_cik, mara, accession, "8-K", when, ("8.01", "9.01"), "mara-8k.htm", docs)

    edgar.add(filing("0001493152-24-900001", with_release=True), in_feed=False)
    clock = FakeClock(datetime(2024, 12, 1, tzinfo=UTC))
    async with aiohttp.ClientSession() as session:
        db = DbWorker(open_db(tmp_path / "with.db"))
        run = await ledger_engine.bootstrap(db, session, source, ["MARA"], clock)
        lg = store.load_ledger(db.db, "MARA")
        db.close()
        assert run.applied == 1, run
        assert lg is not None and len(lg.tranches) == 1
        t = lg.tranches[0]
        assert t.kind == "convertible_notes" and t.original_principal_usd == 1_000_000_000
        assert (t.coupon_pct, t.maturity) == (0.0, "2030-03-01")
        assert t.conversion_rate_per_1000 == pytest.approx(38.5902)

        edgar.filings.clear()
        edgar.add(filing("0001493152-24-900002", with_release=False), in_feed=False)
        db = DbWorker(open_db(tmp_path / "without.db"))
        await ledger_engine.bootstrap(db, session, source, ["MARA"], clock)
        lg = store.load_ledger(db.db, "MARA")
        db.close()
        assert lg is None or not lg.tranches
