"""``/miner`` and ``/miners`` against the fake Bot API, on figures read from REAL releases
(tests/fixtures/production) through the same engine path the live bot uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.engine.ingest import ingest
from bot.engine.rule_eval import IngestOptions
from bot.handlers.miner import render_table
from rules.data import Event, Observation
from tests.harness import FakeClock, bot_settings, running_bot
from watchers.base import PollResult
from watchers.filings.operations import extract_operations

FIXTURES = Path(__file__).parent / "fixtures" / "production"
CHAT = 4242
NOW = datetime(2025, 11, 10, 15, 0, tzinfo=UTC)


def _filing(file: str, ticker: str, filed_at: datetime) -> Event:
    ops = extract_operations((FIXTURES / file).read_text(encoding="utf-8")).to_json()
    data = {
        "accession": file,
        "ticker": ticker,
        "kind": "production_update",
        "filed_at": filed_at.isoformat(),
        "operations": ops,
    }
    return Event("filing", f"filing:{file}", filed_at, "edgar", data)


async def _load(svc) -> None:
    opts = IngestOptions(links={})
    releases = [
        ("mara-2024-03-05-february-2024-production.txt", "MARA", datetime(2024, 3, 5, 22, tzinfo=UTC)),
        ("mara-2024-07-03-june-2024-production.txt", "MARA", datetime(2024, 7, 3, 12, tzinfo=UTC)),
        (
            "mara-ex99-1-2025-11-04-q3-2025-shareholder-letter.txt",
            "MARA",
            datetime(2025, 11, 4, 21, tzinfo=UTC),
        ),
        ("clsk-2023-11-02-october-2023-mining-update.txt", "CLSK", datetime(2023, 11, 2, 12, tzinfo=UTC)),
        (
            "riot-ex99-1-2023-12-06-november-2023-production.txt",
            "RIOT",
            datetime(2023, 12, 6, 13, tzinfo=UTC),
        ),
        ("hut-2025-12-17-river-bend-lease.txt", "HUT", datetime(2025, 10, 17, 12, tzinfo=UTC)),
    ]
    price = Observation("price", 100_000.0, NOW - timedelta(hours=1), "mempool")
    network = Observation("hashrate", 1_000.0, datetime(2025, 11, 1, tzinfo=UTC), "mempool")
    await svc.db(ingest, "network", PollResult([network, price]), {}, NOW, opts)
    for file, ticker, at in releases:
        await svc.db(ingest, "edgar", PollResult(events=[_filing(file, ticker, at)]), {}, NOW, opts)


async def test_miner_card_and_league_table(tmp_path, tg) -> None:
    settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
    async with running_bot(settings, FakeClock(NOW)) as (_app, svc):
        await _load(svc)
        card = await tg.command("/miner MARA", chat_id=CHAT)
        assert "Mined: <b>2,144 BTC</b> in Q3 2025" in card
        assert "Hash rate: <b>60.40 EH/s</b> energized (Q3 2025) · 6.04% of network" in card
        assert "BTC held: <b>52,850</b> at 2025-09-30" in card
        assert "≈ $5.29B at $100,000" in card
        assert "Including 17,357 BTC loaned, actively managed and pledged as collateral" in card
        assert "Last production figures: 6 days ago (2025-11-04)" in card
        hut = await tg.command("/miner HUT", chat_id=CHAT)
        assert "AI/HPC: 245 MW IT contract · base-term value $7.0B over 15 years" in hut
        assert "no production figures yet" in await tg.command("/miner WULF", chat_id=CHAT)
        assert "I don't watch AAPL: name one watched miner" in await tg.command("/miner AAPL", chat_id=CHAT)

        table = await tg.command("/miners held", chat_id=CHAT)
        body = table.split("<pre>")[1]
        order = [line.split()[0] for line in body.splitlines()[1:5]]
        assert order == ["MARA", "RIOT", "CLSK", "HUT"]  # 52,850 > 7,358 > 2,311 > none ("–" last)
        assert "Miners by BTC held" in table
        quiet = await tg.command("/miners quiet", chat_id=CHAT)
        assert quiet.split("<pre>")[1].splitlines()[1].startswith("CLSK")  # two years without figures
        assert "No column" in await tg.command("/miners colour", chat_id=CHAT)


def test_long_tables_page() -> None:
    rows = [{"ticker": f"T{i}", "hashrate": float(i), "share": None, "efficiency": None, "held": None,
             "held_change": None, "hpc_mw": None, "leverage": None, "months_since": None}
            for i in range(20)]  # fmt: skip
    first = render_table(rows, "hashrate", 1)
    assert "T19" in first and "T4 " not in first and "page 1/2: /miners hashrate 2" in first
    second = render_table(rows, "hashrate", 2)
    assert "T4 " in second and "T19" not in second and "page" not in second.split("</pre>")[1]
