"""The miner book's production figures through the engine (issue 19): a filing event carrying the
figures of a REAL release is stored per miner and metric, the production metrics reach the rules
through ingest, and the production / treasury / quiet events are announced once.

The filing events are built here the way the filings watcher builds them (its ``operations`` field
is ``extract_operations(document).to_json()`` of the real saved text); the accessions are the
fixtures' file names, not EDGAR's, because the saved texts do not state them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.engine.ingest import check_quiet, check_stale, ingest
from bot.engine.rule_eval import IngestOptions
from rules.data import Event, Observation
from rules.grammar import parse_rule
from rules.production import gone_quiet, usual_interval_days
from storage import chats, outbox, production
from storage import rules as rule_store
from storage.db import open_db
from watchers.base import PollResult
from watchers.filings.operations import extract_operations

FIXTURES = Path(__file__).parent / "fixtures" / "production"
OPTS = IngestOptions(links={})
CHAT = 42


def _filing(file: str, ticker: str, filed_at: datetime, kind: str = "production_update") -> Event:
    ops = extract_operations((FIXTURES / file).read_text(encoding="utf-8"))
    data = {
        "accession": file,
        "ticker": ticker,
        "kind": kind,
        "filed_at": filed_at.isoformat(),
        "url": f"https://example.invalid/{file}",
        "summary": f"{ticker} {kind}",
        "operations": ops.to_json(),
    }
    return Event("filing", f"filing:{file}", filed_at, "edgar", data)


def _db():
    db = open_db(None)
    chats.ensure_chat(db, CHAT, "private", None, datetime(2023, 1, 1, tzinfo=UTC))
    return db


def _rule(db, text: str, now: datetime) -> None:
    rule = parse_rule(text)
    from bot.handlers.commands import rule_metric

    metric, kind = rule_metric(rule)
    rule_store.add_rule(db, CHAT, text, metric, kind, now, max_rules=50)


def _texts(db, now: datetime) -> list[str]:
    """The messages queued since the last call (they are marked sent, as the notifier would)."""
    token, rows = outbox.claim_due(db, now + timedelta(days=1), 100, "test")
    for r in rows:
        outbox.mark_sent(db, r["key"], token, 1, now)
    return [r["text"] for r in rows]


def test_real_riot_releases_become_metrics_rules_and_one_production_line() -> None:
    db = _db()
    oct_at = datetime(2023, 11, 7, 13, 0, tzinfo=UTC)
    nov_at = datetime(2023, 12, 6, 13, 0, tzinfo=UTC)
    # the network watcher's hash rate a little before the filing: share = 12.4 / 496 = 2.5%
    ingest(
        db,
        "network",
        PollResult([Observation("hashrate", 496.0, nov_at - timedelta(hours=1), "mempool")]),
        {},
        nov_at,
        OPTS,
    )
    _rule(db, "production RIOT", oct_at)
    _rule(db, "hashrate.riot < 40", oct_at)
    earlier = _filing("riot-2022-12-05-november-2022-production.txt", "RIOT", oct_at)
    ingest(db, "edgar", PollResult(events=[earlier]), {}, oct_at, OPTS)
    _texts(db, oct_at)
    nov = _filing("riot-ex99-1-2023-12-06-november-2023-production.txt", "RIOT", nov_at)
    new, queued = ingest(db, "edgar", PollResult(events=[nov]), {}, nov_at, OPTS)
    assert new == 1 and queued == 1  # the production line (hashrate.riot < 40 was firing already)
    texts = _texts(db, nov_at)
    assert len(texts) == 1
    line = texts[0]
    # the previous month on file is November 2022: the change says so rather than "MoM"
    expected = (
        "RIOT · November 2023: 552 BTC mined (+6% vs November 2022), 7,358 BTC held (+7% vs November 2022)"
    )
    assert expected + ", 12.4 EH/s deployed" in line
    assert "filed 6 Dec 08:00 ET" in line
    latest = production.latest_figures(db, "RIOT")
    assert latest["hashrate_ehs"]["qualifier"] == "deployed"
    assert latest["held_btc"]["value"] == 7358
    from storage import observations

    assert observations.latest(db, "share.riot")[0] == 12.4 / 496.0 * 100
    assert observations.latest(db, "mined.riot")[0] == 552
    # the same filing again (a re-poll): nothing stored twice, nothing announced twice
    assert ingest(db, "edgar", PollResult(events=[nov]), {}, nov_at, OPTS) == (0, 0)
    assert len(production.figure_history(db, "RIOT", "mined_btc")) == 2
    # production metrics never go "no data": a month without a figure is normal
    assert check_stale(db, nov_at + timedelta(days=20), OPTS) == 0


def test_a_treasury_drop_is_announced_with_its_wording_and_a_held_change_rule_fires() -> None:
    """MARA's Q3 2025 letter says 52,850 BTC held including pledged/loaned coins. A later quarter
    with fewer coins is CONSTRUCTED here (issue 19 cites MARA's 35,303 BTC at 2026-03-31, whose
    release is not in the fixtures): it must come as a treasury event and fire the change rule."""
    db = _db()
    q3_at = datetime(2025, 11, 4, 21, 0, tzinfo=UTC)
    _rule(db, "treasury MARA", q3_at)
    _rule(db, "held.mara drops 10% in 180d", q3_at)
    ingest(
        db,
        "edgar",
        PollResult(
            events=[
                _filing("mara-ex99-1-2025-11-04-q3-2025-shareholder-letter.txt", "MARA", q3_at, "earnings")
            ]
        ),
        {},
        q3_at,
        OPTS,
    )
    assert _texts(db, q3_at) == []  # no earlier quarter: nothing moved
    q1_at = datetime(2026, 5, 6, 21, 0, tzinfo=UTC)  # 183 days on: Q3's figure is 180d ago
    constructed = Event(
        "filing",
        "filing:constructed-mara-q1-2026",
        q1_at,
        "edgar",
        {
            "accession": "constructed-mara-q1-2026",
            "ticker": "MARA",
            "kind": "earnings",
            "filed_at": q1_at.isoformat(),
            "operations": {
                "period": "2026-Q1",
                "figures": {
                    "held_btc": {"value": 35303.0, "unit": "BTC", "period": "2026-Q1", "as_of": "2026-03-31"}
                },
                "hpc": None,
            },
        },
    )
    ingest(db, "edgar", PollResult(events=[constructed]), {}, q1_at, OPTS)
    texts = _texts(db, q1_at)
    assert any("MARA · BTC held 35,303 at 2026-03-31 (−33% since 2025-Q3)" in t for t in texts), texts
    assert any("held.mara" in t.lower() or "MARA BTC held" in t for t in texts if "treasury" not in t), texts


def test_hpc_contract_line_from_the_real_hut_release() -> None:
    db = _db()
    at = datetime(2025, 12, 17, 12, 0, tzinfo=UTC)
    _rule(db, "production HUT", at)
    ingest(
        db,
        "edgar",
        PollResult(events=[_filing("hut-2025-12-17-river-bend-lease.txt", "HUT", at, "hpc_contract")]),
        {},
        at,
        OPTS,
    )
    (text,) = _texts(db, at)
    assert "245 MW IT contract · base-term value $7.0B over 15 years · with renewals $17.7B" in text
    assert "counterparty Fluidstack (backstop Google)" in text
    assert production.hpc_contracts(db, "HUT")[0]["subject_mw"] == 245


def test_non_miner_and_unwatched_filings_store_nothing() -> None:
    db = _db()
    at = datetime(2025, 2, 10, 12, 0, tzinfo=UTC)
    _rule(db, "production", at)
    event = _filing("strategy-2025-02-10-bitcoin-purchase-news.txt", "MSTR", at, "other")
    ingest(db, "edgar", PollResult(events=[event]), {}, at, OPTS)
    assert production.tickers(db) == []
    assert _texts(db, at) == []


def test_gone_quiet_once_after_one_and_a_half_usual_intervals() -> None:
    """Report times are CONSTRUCTED (a miner filing monthly, then stopping): the cadence logic
    needs dates, not texts."""
    months = [datetime(2024, m, 5, 12, tzinfo=UTC) for m in range(1, 7)]
    assert 29 <= usual_interval_days(months) <= 31
    assert gone_quiet(months, datetime(2024, 7, 20, tzinfo=UTC)) is None  # 45 days: not yet
    quiet = gone_quiet(months, datetime(2024, 7, 25, tzinfo=UTC))
    assert quiet is not None and quiet.days_since > 1.5 * quiet.usual_days
    assert gone_quiet(months[:2], datetime(2025, 1, 1, tzinfo=UTC)) is None  # no cadence yet

    db = _db()
    _rule(db, "quiet MARA", months[0])
    for i, at in enumerate(months):
        production.save_figures(
            db,
            "MARA",
            f"constructed-{i}",
            at,
            {"mined_btc": {"value": 700.0 + i, "period": f"2024-{i + 1:02d}"}},
            at,
        )
    now = datetime(2025, 9, 1, tzinfo=UTC)
    assert check_quiet(db, now, OPTS) == 1
    assert check_quiet(db, now + timedelta(days=1), OPTS) == 0  # announced once
    (text,) = _texts(db, now)
    assert "MARA has gone quiet: no production figures since 2024-06-05" in text
    assert "every ~" in text


def test_cli_builds_a_history_from_local_real_documents(capsys) -> None:
    from bot.cli import main

    files = [
        str(FIXTURES / "mara-2024-03-05-february-2024-production.txt"),
        str(FIXTURES / "mara-2024-07-03-june-2024-production.txt"),
    ]
    assert main(["production", "build", "MARA", *files]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("MARA · February 2024: 833 BTC mined, 16,930 BTC held, 28.7 EH/s energized")
    assert "590 BTC mined (−29% vs February 2024), 18,536 BTC held (+9% vs February 2024)" in out[1]
    assert main(["production", "build", "MARA", str(FIXTURES / "LABELS.json")]) == 2  # no date: refused
    assert "FILE@YYYY-MM-DD" in capsys.readouterr().err


def test_filing_json_prints_operating_figures_with_qualifiers(capsys) -> None:
    import json

    from bot.cli import main

    assert (
        main(["filing", str(FIXTURES / "mara-ex99-1-2025-11-04-q3-2025-shareholder-letter.txt"), "--json"])
        == 0
    )
    ops = json.loads(capsys.readouterr().out)["operations"]
    assert ops["period"] == "2025-Q3"
    assert ops["figures"]["hashrate_ehs"]["qualifier"] == "energized"
    assert ops["figures"]["held_btc"]["qualifier"].startswith("Including 17,357 BTC loaned")


def test_month_over_month_only_against_the_month_before() -> None:
    """CONSTRUCTED September figures (a formatting test): October is the real CLSK release."""
    from bot.delivery.production_messages import production_line

    data = {
        "ticker": "CLSK",
        "period": "2023-10",
        "figures": {"mined_btc": {"value": 633.0}, "held_btc": {"value": 2311.0}},
        "previous": {
            "mined_btc": {"value": 653.0, "period": "2023-09"},
            "held_btc": {"value": 2222.0, "period": "2023-09"},
        },
        "filed_at": "2023-11-02T12:00:00+00:00",
    }
    assert (
        production_line(data)
        == "CLSK · October 2023: 633 BTC mined (−3% MoM), 2,311 BTC held (+4%) · filed 2 Nov 08:00 ET"
    )
