"""``python -m bot ledger ...`` as a user runs it (issue 14): real subprocesses of this checkout's bot,
EDGAR a loopback stand-in serving the real RIOT filings (tests/test_e2e_debt.py's)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.harness import write_config
from tests.ledger_support import shared_dir
from tests.test_cli import LOOPBACK_SOURCES, run_cli
from tests.test_e2e_debt import UA, edgar, riot_10k, riot_10q  # noqa: F401  (edgar is a fixture)

SHARED = shared_dir()
pytestmark = pytest.mark.skipif(SHARED is None, reason="shared/ledger not beside the checkout")


async def test_ledger_build_prints_the_json_the_issue_names(tmp_path):
    assert SHARED is not None
    docs = [str(SHARED / "ledger" / n) for n in ("riot-10k-2024-12-31.html", "riot-10q-2025-06-30.html")]
    cfg = write_config(tmp_path / "c.toml", LOOPBACK_SOURCES)
    code, out, err = await run_cli("ledger", "build", *docs, "--json", "--config", str(cfg), cwd=tmp_path)
    assert code == 0, err
    riot = json.loads(out)["RIOT"]
    assert riot["total_debt_principal_usd"] == pytest.approx(853_995_000)
    notes = next(t for t in riot["tranches"] if t["instrument"] == "0.75% Convertible Senior Notes due 2030")
    assert set(notes) == {
        "instrument", "kind", "original_principal_usd", "outstanding_principal_usd", "coupon_pct", "maturity",
        "conversion_rate_per_1000", "conversion_price_usd", "secured", "sources",
    }  # fmt: skip
    assert (notes["conversion_rate_per_1000"], notes["maturity"], notes["secured"]) == (
        67.2767,
        "2030-01-15",
        None,
    )
    assert [s["form"] for s in notes["sources"]] == ["10-K", "10-Q"]


async def test_ledger_without_a_database_says_how_to_get_one(tmp_path):
    cfg = write_config(
        tmp_path / "c.toml", {**LOOPBACK_SOURCES, "storage": {"path": str(tmp_path / "no.db")}}
    )
    code, _out, err = await run_cli("ledger", "RIOT", "--config", str(cfg), cwd=tmp_path)
    assert code == 2 and "no database" in err and "ledger build" in err
    code, _out, err = await run_cli("ledger", "build", "--config", str(cfg), cwd=tmp_path)
    assert code == 2 and "at least one FILE" in err


async def test_ledger_sync_then_show(tmp_path, edgar):  # noqa: F811
    edgar.add(riot_10k(), in_feed=False)
    edgar.add(riot_10q(datetime(2025, 7, 31, 20, 0, tzinfo=UTC)), in_feed=False)
    base = edgar.base_url
    cfg = write_config(
        tmp_path / "c.toml",
        {
            **LOOPBACK_SOURCES,
            "sources.edgar": {"user_agent": UA, "data_url": base, "www_url": base},
            "watchers.filings": {"tickers": ["RIOT"]},
            "storage": {"path": str(tmp_path / "m.db")},
        },
    )
    code, out, err = await run_cli("ledger", "sync", "--config", str(cfg), cwd=tmp_path)
    assert code == 0, err
    assert "RIOT (1 of 1 miners): 2 documents to read" in out
    assert "ledger sync: 2 documents applied, 0 skipped" in out
    # then the production history walk: a 10-K and a 10-Q carry no release
    assert "production history: RIOT (1 of 1 miners): 0 filings to read" in out
    assert "production history: 0 of 0 filings read had figures" in out
    code, out, err = await run_cli("ledger", "RIOT", "--json", "--config", str(cfg), cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out)["RIOT"]["total_debt_principal_usd"] == pytest.approx(853_995_000)
    code, out, _ = await run_cli("ledger", "--config", str(cfg), cwd=tmp_path)
    assert "RIOT: debt principal outstanding $854M as of 2025-06-30" in out
    # without a User-Agent, sync refuses before touching EDGAR
    bare = write_config(
        tmp_path / "b.toml", {**LOOPBACK_SOURCES, "storage": {"path": str(tmp_path / "m.db")}}
    )
    code, _out, err = await run_cli("ledger", "sync", "--config", str(bare), cwd=tmp_path)
    assert code == 2 and "user_agent" in err
