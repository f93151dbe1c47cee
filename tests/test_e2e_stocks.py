"""Issue 15 end to end: the real quotes watcher polling local stand-ins of Yahoo and Nasdaq, the real
pipeline, outbox and notifier, the real PTB application against the fake Bot API.

Ledgers come from real documents through the same ingest the bot uses: MARA's closing 8-K of
2024-11-21 ($1B 0.00% Convertible Senior Notes due 2030, 38.5902 shares per $1,000 = $25.9133), and
RIOT's 10-K 2024 and 10-Q 2025-06-30 from shared/ledger ($594.4M 0.75% notes due 2030 at $14.86,
369,623,180 shares on the 10-Q cover as of 2025-07-29). Numbers are worked out by hand below."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.engine.ingest import check_stale
from bot.ledger_cli import ingest as ledger_ingest
from rules.data import Observation
from storage import observations
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from tests.ledger_support import LABELS, labelled_document
from tests.quotes_standin import QuoteStandIn, as_json, fixture

CHAT = 4242
MARA_8K = Path(__file__).parent / "fixtures" / "filings" / "mara-8k-2024-11-21-convertible-closing.html"
MONDAY = datetime(2025, 8, 4, 14, 0, tzinfo=UTC)  # 10:00 New York, a regular session


async def command(tg: FakeTelegram, text: str) -> str:
    return await tg.command(text, chat_id=CHAT)


@pytest.fixture
async def quotes(aiohttp_server):
    stand = QuoteStandIn()
    server = await aiohttp_server(stand.app())
    return stand, str(server.make_url("")).rstrip("/")


def settings_for(tmp_path, tg, url: str, tickers: list[str]):
    return bot_settings(
        tmp_path,
        tg,
        {
            "watchers.network": {"enabled": False},
            "watchers.quotes": {"enabled": True, "tickers": tickers, "sources": ["yahoo", "nasdaq"]},
            "sources.yahoo": {"base_url": url, "min_interval_s": 0},
            "sources.nasdaq": {"base_url": url, "min_interval_s": 0},
        },
    )


def quotes_watcher(svc):
    return next(sw.watcher for sw in svc.watchers if sw.watcher.id == "quotes")


async def quote(svc, stand: QuoteStandIn, clock: FakeClock, symbol: str, price: float) -> int:
    """Both sources answer ``price`` now; one poll through the runner; what the notifier sent."""
    stand.quote(symbol, price, clock(), sources=("yahoo", "nasdaq"))
    outcome = await svc.pipeline.run_watcher(quotes_watcher(svc), svc.session)
    assert outcome.ok and outcome.observations >= 1, outcome
    return await svc.notifier.drain()


async def load_mara(svc, clock: FakeClock) -> None:
    result = await svc.db(
        ledger_ingest,
        MARA_8K.read_bytes(),
        document=MARA_8K.name,
        now=clock(),
        ticker="MARA",
        form="8-K",
        accession="0001507605-24-000127",
        filed="2024-11-21",
    )
    assert result.status == "applied"


async def test_converts_crossing_up_and_back_with_hysteresis(tmp_path, tg, quotes):
    stand, url = quotes
    clock = FakeClock(MONDAY)
    async with running_bot(settings_for(tmp_path, tg, url, ["MARA"]), clock) as (_app, svc):
        await load_mara(svc, clock)
        assert "Alert set: <code>converts MARA</code>" in await command(tg, "/alert converts MARA")
        assert "Alert set" in await command(tg, "/alert convert.mara > 0")

        assert await quote(svc, stand, clock, "MARA", 24.00) == 0  # below $25.9133: side recorded
        # convert.mara = 24 / 25.9133 − 1 = −7.38 %, stored with its inputs named
        value, _, source = await svc.db(observations.latest, "convert.mara")
        assert value == pytest.approx((24 / 25.9133 - 1) * 100) and source == "yahoo+edgar"

        clock.advance(300)
        assert await quote(svc, stand, clock, "MARA", 26.50) == 2  # crosses: converts + convert > 0
        texts = [m["text"] for m in tg.sent(chat_id=CHAT)[-2:]]
        crossing = next(t for t in texts if "crossed above" in t)
        assert (
            "MARA crossed above the conversion price of its 0.00% Convertible Senior Notes due 2030"
            in crossing
        )
        assert "$25.91" in crossing and "$26.50" in crossing and "+2.3%" in crossing  # 26.5/25.9133 − 1
        assert "38.6M shares on conversion" in crossing  # 1e9 / 1000 × 38.5902

        clock.advance(300)
        assert await quote(svc, stand, clock, "MARA", 27.10) == 0  # still above: said once
        clock.advance(300)
        # 25.80 is under the price but inside the 1 % band (25.9133 × 0.99 = 25.65): no crossing
        # back; convert.mara (−0.44 %) is past its own 0.1-point band: that rule resolves
        assert await quote(svc, stand, clock, "MARA", 25.80) == 1
        assert "fell back" not in tg.sent(chat_id=CHAT)[-1]["text"]
        clock.advance(300)
        assert await quote(svc, stand, clock, "MARA", 25.50) == 1
        back = tg.sent(chat_id=CHAT)[-1]["text"]
        assert "MARA fell back below the conversion price" in back and "$25.50" in back and "-1.6%" in back

        # up through both the conversion price and the stated soft-call trigger: one notice each,
        # and convert.mara > 0 fires again (it had resolved)
        clock.advance(300)
        assert await quote(svc, stand, clock, "MARA", 34.00) == 3
        texts = [m["text"] for m in tg.sent(chat_id=CHAT)[-3:]]
        assert any("crossed above the soft-call trigger" in t and "$33.69" in t for t in texts), texts
        clock.advance(300)
        assert await quote(svc, stand, clock, "MARA", 25.50) == 3  # and back down through both
        texts = [m["text"] for m in tg.sent(chat_id=CHAT)[-3:]]
        assert any("fell back below the soft-call trigger" in t for t in texts), texts

        # the same quote again (a repeated poll) announces nothing
        clock.advance(60)
        stand.quote("MARA", 25.50, clock() - timedelta(seconds=60), sources=("yahoo", "nasdaq"))
        await svc.pipeline.run_watcher(quotes_watcher(svc), svc.session)
        assert await svc.notifier.drain() == 0
        crossings = [m for m in tg.sent(chat_id=CHAT) if "conversion price of its" in m["text"]]
        assert len(crossings) == 4  # up, back, up, back

        reply = await command(tg, "/stock mara")
        assert "<b>MARA</b> $25.50" in reply
        assert "0.00% Convertible Senior Notes due 2030" in reply
        assert (
            "conversion $25.91 (-1.6%, out of the money)" in reply and "38.6M shares on conversion" in reply
        )
        assert "terms: 8-K 2024-11-21" in reply
        # the 8-K states "at least 130% of the conversion price": 25.9133 × 1.3 = 33.69
        assert "soft-call trigger $33.69 (130% of conversion, -24.3%)" in reply  # 25.50 / 33.69 − 1
        assert "$1.00B outstanding" in reply
        assert "Market cap: n/a (no share count from a 10-Q/10-K cover yet)" in reply
        assert "To weighted conversion price: <b>-1.6%</b>" in reply


async def test_stock_readout_with_real_riot_filings_and_rules(tmp_path, tg, quotes):
    paths = [labelled_document(lab) for lab in LABELS]
    if any(p is None for p in paths):
        pytest.skip("shared/ledger is not beside this checkout")
    stand, url = quotes
    clock = FakeClock(MONDAY)
    async with running_bot(settings_for(tmp_path, tg, url, ["MARA", "RIOT"]), clock) as (_app, svc):
        await command(tg, "/tz America/New_York")
        for path in paths:
            await svc.db(ledger_ingest, path.read_bytes(), document=path.name, now=clock())
        assert "Alert set" in await command(tg, "/alert dilution.riot > 10%")
        assert "Alert set" in await command(tg, "/alert dilution.riot > 15%")
        assert "Alert set" in await command(tg, "/alert stock.riot drops 10% in 1d")
        await svc.db(
            observations.insert_observations,
            [Observation("stock.riot", 12.00, clock() - timedelta(days=1), "yahoo")],
        )
        # 10.70 is 10.8 % under yesterday's 12.00; dilution 594,400 × 67.2767 / 369,623,180 = 10.82 %
        # is over 10 % and under 15 %: two notices
        assert await quote(svc, stand, clock, "RIOT", 10.70) == 2
        texts = " ".join(m["text"] for m in tg.sent(chat_id=CHAT)[-2:])
        assert "10.82%" in texts and "RIOT" in texts

        reply = await command(tg, "/stock RIOT")
        assert "<b>RIOT</b> $10.70 (-10.83% 1d)" in reply
        assert "2025-08-04 10:00 EDT · Yahoo Finance" in reply  # the quote's time in the chat's zone
        assert "0.75% Convertible Senior Notes due 2030" in reply
        assert "conversion $14.86 (-28.0%, out of the money)" in reply  # 10.70 / 14.86 − 1
        assert "40.0M shares on conversion" in reply  # 594,400 × 67.2767 = 39,989,270
        assert "$594.4M outstanding" in reply
        assert "terms: 10-K 2024-12-31" in reply
        # mcap 369,623,180 × 10.70 = 3,954,968,026; leverage 853,995,000 / that = 21.6 %
        assert "Market cap: <b>$3,954,968,026</b>" in reply
        assert "369.6M shares as of 2025-07-29 (10-Q)" in reply
        assert "Dilution if all convert: <b>10.82%</b>" in reply
        assert "Leverage (debt / mcap): <b>21.6%</b>" in reply
        assert "debt as of 2025-06-30" in reply and "price 2025-08-04 10:00 EDT" in reply

        # once the market has closed, the read-out says so
        clock.now = datetime(2025, 8, 4, 20, 30, tzinfo=UTC)  # 16:30 New York
        stand.quote("RIOT", 10.90, datetime(2025, 8, 4, 20, 0, tzinfo=UTC), sources=("yahoo", "nasdaq"))
        stand.quote("MARA", 15.0, datetime(2025, 8, 4, 20, 0, tzinfo=UTC), sources=("yahoo", "nasdaq"))
        assert (await svc.pipeline.run_watcher(quotes_watcher(svc), svc.session)).ok
        assert "market closed" in await command(tg, "/stock RIOT")


async def test_stock_answers_unknown_and_unwatched_tickers(tmp_path, tg, quotes):
    _stand, url = quotes
    async with running_bot(settings_for(tmp_path, tg, url, ["MARA"]), FakeClock(MONDAY)):
        reply = await command(tg, "/stock AAPL")
        assert "I don't watch AAPL" in reply and "MARA" in reply and "/stock MARA" in reply
        reply = await command(tg, "/stock RIOT")  # a miner, but not on this bot's list
        assert "I don't watch RIOT" in reply
        assert "for example" in await command(tg, "/stock")
        assert "No quote for MARA yet" in await command(tg, "/stock MARA")


async def test_chart_draws_conversion_prices(tmp_path, tg, quotes, monkeypatch):
    from bot.render import charts

    drawn: list[tuple[bytes, list]] = []
    real = charts.render_chart

    def spy(metric, points, thresholds, tz, title, references=()):
        png = real(metric, points, thresholds, tz, title, references)
        drawn.append((png, list(references)))
        return png

    monkeypatch.setattr(charts, "render_chart", spy)
    _stand, url = quotes
    clock = FakeClock(MONDAY)
    async with running_bot(settings_for(tmp_path, tg, url, ["MARA"]), clock) as (_app, svc):
        await load_mara(svc, clock)
        closes = [20.0 + (i % 9) * 0.8 for i in range(60)]
        rows = [
            Observation("stock.mara", v, MONDAY - timedelta(days=60 - i), "yahoo")
            for i, v in enumerate(closes)
        ]
        await svc.db(observations.insert_observations, rows)
        await command(tg, "/alert stock.mara > 30")
        tg.push_command("/chart stock.mara 3mo", chat_id=CHAT, user_id=CHAT, chat_type="private")
        await tg.wait_for(lambda: bool(tg.sent("sendPhoto", chat_id=CHAT)))
    png, refs = drawn[-1]
    assert [(r.value, r.label) for r in refs] == [
        (25.9133, "0.00% Convertible Senior Notes due 2030: conversion $25.91"),
        (pytest.approx(33.68729), "0.00% Convertible Senior Notes due 2030: soft-call trigger $33.69"),
    ]
    caption = tg.sent("sendPhoto", chat_id=CHAT)[-1]["caption"]
    assert "conversion $25.91" in caption and "stock.mara &gt; 30" in caption
    assert png.startswith(b"\x89PNG") and 10_000 < len(png) < 1_000_000


async def test_stale_stock_counts_trading_time(tmp_path, tg, quotes):
    """A Friday close is not "no data" over the weekend; 30 minutes of Monday's session without a
    quote are."""
    stand, url = quotes
    friday_close = datetime(2025, 8, 1, 20, 0, tzinfo=UTC)
    clock = FakeClock(friday_close + timedelta(minutes=20))
    async with running_bot(settings_for(tmp_path, tg, url, ["MARA"]), clock) as (_app, svc):
        await command(tg, "/alert stock.mara < 10")
        stand.quote("MARA", 15.0, friday_close, sources=("yahoo", "nasdaq"))
        assert (await svc.pipeline.run_watcher(quotes_watcher(svc), svc.session)).ok
        for when in (
            datetime(2025, 8, 2, 15, 0, tzinfo=UTC),  # Saturday
            datetime(2025, 8, 4, 13, 29, tzinfo=UTC),  # Monday 09:29, before the bell
            datetime(2025, 8, 4, 13, 59, tzinfo=UTC),  # 29 minutes of session
        ):
            clock.now = when
            assert await svc.db(check_stale, when, svc.pipeline.opts) == 0
        clock.now = datetime(2025, 8, 4, 14, 0, 30, tzinfo=UTC)  # 30.5 minutes of session
        assert await svc.db(check_stale, clock(), svc.pipeline.opts) == 1
        assert await svc.notifier.drain() == 1
        notice = tg.sent(chat_id=CHAT)[-1]["text"]
        assert "No data for stock.mara" in notice
        # how long counts as staleness does: 30 minutes of session, not 2 days 18 hours of weekend
        assert "for 30 min" in notice and " 2 d" not in notice, notice


async def test_first_start_backfills_stock_history_once(tmp_path, tg, quotes):
    from bot.jobs import backfill_job

    stand, url = quotes
    recorded = fixture("yahoo-chart-AAPL.2026-07-24-intraday.json")  # 5 daily bars, 20-24 July 2026
    recorded["chart"]["result"][0]["meta"]["symbol"] = "MARA"
    stand.set("yahoo", "MARA", as_json(recorded))
    clock = FakeClock(datetime(2026, 7, 25, 12, 0, tzinfo=UTC))  # the Saturday after
    async with running_bot(settings_for(tmp_path, tg, url, ["MARA"]), clock) as (app, svc):
        await backfill_job(SimpleNamespace(bot_data=app.bot_data))
        rows = await svc.db(observations.history, "stock.mara", clock() - timedelta(days=30))
        assert [at for at, _ in rows] == [datetime(2026, 7, d, 20, 0, tzinfo=UTC) for d in range(20, 25)]
        assert rows[-1][1] == pytest.approx(328.87921142578125)
        await backfill_job(SimpleNamespace(bot_data=app.bot_data))  # history exists: nothing fetched
        assert stand.count("yahoo", "MARA") == 1


async def test_once_json_prints_derived_metrics_where_inputs_exist(tmp_path, aiohttp_server):
    """`python -m bot once --json` with a bot database holding MARA's 8-K ledger (no cover: no share
    count) and RIOT's real 10-K and 10-Q: convert.mara only for MARA, all four for RIOT, each with
    its sources and its inputs' dates in `notes`."""
    from rules import market_calendar as mc
    from storage.db import open_db
    from tests.harness import write_config
    from tests.test_cli import LOOPBACK_SOURCES, clean_env, run_cli

    paths = [labelled_document(lab) for lab in LABELS]
    if any(p is None for p in paths):
        pytest.skip("shared/ledger is not beside this checkout")
    db_path = tmp_path / "bot.db"
    db = open_db(db_path)
    now = datetime.now(UTC)
    ledger_ingest(db, MARA_8K.read_bytes(), document=MARA_8K.name, now=now, ticker="MARA", form="8-K")
    for path in paths:
        ledger_ingest(db, path.read_bytes(), document=path.name, now=now)
    db.close()
    stand = QuoteStandIn()
    server = await aiohttp_server(stand.app())
    url = f"http://127.0.0.1:{server.port}"
    open_now = mc.is_open(now) and mc.next_close(now) - now > timedelta(minutes=2)
    at = now - timedelta(seconds=30) if open_now else mc.last_completed_session(now).close
    stand.quote("MARA", 20.00, at, sources=("yahoo", "nasdaq"))
    stand.quote("RIOT", 10.00, at, sources=("yahoo", "nasdaq"))
    cfg = write_config(
        tmp_path / "c.toml",
        {
            **LOOPBACK_SOURCES,
            "storage": {"path": str(db_path)},
            "sources.yahoo": {"base_url": url, "min_interval_s": 0},
            "sources.nasdaq": {"base_url": url, "min_interval_s": 0},
            "watchers.network": {"enabled": False},
            "watchers.quotes": {"enabled": True, "tickers": ["MARA", "RIOT"]},
        },
    )
    env = clean_env()
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)  # this checkout's code, not an install
    code, out, err = await run_cli("once", "--json", "--config", str(cfg), cwd=tmp_path, env=env)
    snapshot = json.loads(out)
    metrics = snapshot["metrics"]
    assert code == 0, err
    assert sorted(metrics) == [
        "convert.mara",
        "convert.riot",
        "dilution.riot",
        "leverage.riot",
        "mcap.riot",
        "stock.mara",
        "stock.riot",
    ]
    assert metrics["convert.mara"] == pytest.approx((20 / 25.9133 - 1) * 100)
    assert metrics["mcap.riot"] == pytest.approx(3_696_231_800)
    assert metrics["dilution.riot"] == pytest.approx(594_400 * 67.2767 / 369_623_180 * 100)
    assert metrics["leverage.riot"] == pytest.approx(853_995_000 / 3_696_231_800 * 100)
    assert snapshot["sources"]["mcap.riot"] == "yahoo+edgar"
    assert "shares 2025-07-29 (10-Q)" in snapshot["notes"]["mcap.riot"]
    assert "debt as of 2025-06-30" in snapshot["notes"]["leverage.riot"]


async def test_a_ledger_arriving_after_the_quote_is_taken_in_by_refresh_equity(tmp_path, tg, quotes):
    """What the live ledger wiring calls after a document changed a ticker's ledger or share count:
    the derived metrics are recomputed from the last price, stamped with the time of the change."""
    from bot.engine.ingest import refresh_equity

    stand, url = quotes
    clock = FakeClock(MONDAY)
    async with running_bot(settings_for(tmp_path, tg, url, ["MARA"]), clock) as (_app, svc):
        await quote(svc, stand, clock, "MARA", 20.0)
        assert await svc.db(observations.latest, "convert.mara") is None  # no ledger: no value
        clock.advance(120)
        await load_mara(svc, clock)
        await svc.db(refresh_equity, ["MARA"], clock(), svc.pipeline.opts, at=clock())
        value, at, source = await svc.db(observations.latest, "convert.mara")
        assert value == pytest.approx((20 / 25.9133 - 1) * 100) and at == clock() and source == "yahoo+edgar"
