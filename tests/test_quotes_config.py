"""The quotes watcher's configuration and wiring: `[watchers.quotes]` and `[sources.yahoo|finnhub|
nasdaq]` validated at start, the Finnhub key masked by `check`, the registry defaulting the tickers
to the filings watch list, and `python -m bot once --json` printing `stock.<ticker>` with its source
against local stand-ins."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.registry import build_watchers, source_links
from bot.settings import ConfigError, load_settings, masked_dump
from rules import market_calendar as mc
from tests.harness import write_config
from tests.quotes_standin import QuoteStandIn
from tests.test_cli import LOOPBACK_SOURCES, clean_env, run_cli
from watchers.quotes import QuotesWatcher


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("MINERWATCH_"):
            monkeypatch.delenv(key)


def test_defaults_off_and_tickers_from_the_filings_list(tmp_path):
    s = load_settings(write_config(tmp_path / "c.toml", {}))
    assert s.watchers.quotes.enabled is False and s.watchers.quotes.every == 300
    assert s.watchers.quotes.sources == ["yahoo", "finnhub", "nasdaq"]
    assert not any(isinstance(sw.watcher, QuotesWatcher) for sw in build_watchers(s))

    s = load_settings(
        write_config(
            tmp_path / "c.toml",
            {"watchers.quotes": {"enabled": True}, "watchers.filings": {"tickers": ["MARA", "CLSK"]}},
        )
    )
    (quotes,) = [sw for sw in build_watchers(s) if isinstance(sw.watcher, QuotesWatcher)]
    assert quotes.watcher.tickers == ["MARA", "CLSK"] and quotes.every_s == 300
    assert source_links(s)["yahoo"].startswith("https://finance.yahoo.com")


def test_explicit_tickers_are_normalised(tmp_path):
    s = load_settings(write_config(tmp_path / "c.toml", {"watchers.quotes": {"tickers": [" mara", "riot"]}}))
    assert s.watchers.quotes.tickers == ["MARA", "RIOT"]


@pytest.mark.parametrize(
    ("section", "value", "expected"),
    [
        ("watchers.quotes", {"tickers": ["BRK.B"]}, "watchers.quotes.tickers"),
        ("watchers.quotes", {"tickers": ["MARA", "mara"]}, "MARA is listed twice"),
        ("watchers.quotes", {"tickers": []}, "at least one ticker"),
        ("watchers.quotes", {"sources": ["stooq"]}, "watchers.quotes.sources"),
        ("watchers.quotes", {"sources": ["yahoo", "yahoo"]}, "listed twice"),
        ("watchers.quotes", {"every": "0s"}, "watchers.quotes.every"),
        ("sources.finnhub", {"apikey": "x"}, "sources.finnhub.apikey: unknown key"),
        ("sources.yahoo", {"min_interval_s": -1}, "sources.yahoo.min_interval_s"),
    ],
)
def test_bad_values_name_the_key(tmp_path, section, value, expected):
    with pytest.raises(ConfigError) as err:
        load_settings(write_config(tmp_path / "c.toml", {section: value}))
    assert expected in str(err.value)


def test_finnhub_key_from_the_environment_is_masked(tmp_path, monkeypatch):
    monkeypatch.setenv("MINERWATCH_SOURCES__FINNHUB__API_KEY", "fh-SECRET-123")
    s = load_settings(write_config(tmp_path / "c.toml", {}))
    assert s.sources.finnhub.usable and s.sources.finnhub.api_key.get_secret_value() == "fh-SECRET-123"
    dumped = masked_dump(s)
    assert dumped["sources"]["finnhub"]["api_key"] == "**********"
    assert "SECRET" not in json.dumps(dumped) and "SECRET" not in repr(s)


async def test_once_json_prints_stock_prices_with_their_source(tmp_path, aiohttp_server):
    """The CLI reads the real clock: during the session the stand-ins serve a fresh quote; outside
    it they serve the last session's close, and `notes` says the market is closed."""
    stand = QuoteStandIn()
    server = await aiohttp_server(stand.app())
    url = f"http://127.0.0.1:{server.port}"
    now = datetime.now(UTC)
    open_now = mc.is_open(now) and mc.next_close(now) - now > timedelta(minutes=2)
    at = now - timedelta(seconds=30) if open_now else mc.last_completed_session(now).close
    stand.quote("MARA", 12.34, at, sources=("yahoo",))
    stand.set("yahoo", "RIOT", (429, "Edge: Too Many Requests", "text/plain"))
    stand.quote("RIOT", 9.87, at, sources=("nasdaq",))
    stand.quote("MARA", 12.30, at, sources=("nasdaq",))
    cfg = write_config(
        tmp_path / "c.toml",
        {
            **LOOPBACK_SOURCES,
            "sources.yahoo": {"base_url": url, "min_interval_s": 0},
            "sources.nasdaq": {"base_url": url, "min_interval_s": 0},
            "watchers.network": {"enabled": False},
            "watchers.quotes": {"enabled": True, "tickers": ["MARA", "RIOT"]},
        },
    )
    code, out, err = await run_cli("once", "--json", "--config", str(cfg), cwd=tmp_path, env=clean_env())
    snapshot = json.loads(out)
    assert snapshot["metrics"] == {"stock.mara": 12.34, "stock.riot": 9.87}, err
    assert snapshot["sources"] == {"stock.mara": "yahoo", "stock.riot": "nasdaq"}
    assert "HTTP 429" in snapshot["errors"]["yahoo"] and code == 1  # a source failed: exit 1, as for any
    if open_now:
        assert snapshot["notes"] == {}
    else:
        stamp = at.astimezone(mc.NEW_YORK).strftime("%Y-%m-%d %H:%M ET")
        assert snapshot["notes"]["stock.mara"] == f"market closed: last price at {stamp}"
