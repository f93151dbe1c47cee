"""`python -m bot` as a user runs it: real subprocesses, configs pointing every upstream at
loopback stand-ins (the in-process network guard does not reach child processes, so the
configs here must)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web

from tests.harness import write_config

FIX = Path(__file__).parent / "fixtures"
LOOPBACK_SOURCES = {
    "sources.price": {"kraken_url": "http://127.0.0.1:9", "coinbase_url": "http://127.0.0.1:9"},
    "sources.ercot": {"base_url": "http://127.0.0.1:9"},
    "sources.edgar": {"data_url": "http://127.0.0.1:9", "www_url": "http://127.0.0.1:9"},
    "sources.bitcoind": {"url": "http://127.0.0.1:9/"},
    "http": {"enabled": False},
}


def clean_env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("MINERWATCH_") and k != "TELEGRAM_BOT_TOKEN"
    }
    env["PTB_TIMEDELTA"] = "1"
    return env


async def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env or clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, out.decode(), err.decode()


async def test_check_prints_config_with_secrets_masked(tmp_path):
    cfg = write_config(tmp_path / "c.toml", {"telegram": {"token": "123:SUPERSECRET"}, **LOOPBACK_SOURCES})
    code, out, err = await run_cli("check", "--config", str(cfg), cwd=tmp_path)
    assert code == 0, err
    assert "SUPERSECRET" not in out + err
    data = json.loads(out.split("\n", 1)[1])
    assert data["telegram"]["token"] == "**********"
    assert data["watchers"]["network"]["every"] == "1m"


async def test_check_rejects_bad_config_naming_the_key(tmp_path):
    cfg = write_config(tmp_path / "c.toml", {"watchers.network": {"every": "often"}})
    code, _out, err = await run_cli("check", "--config", str(cfg), cwd=tmp_path)
    assert code == 2
    assert "watchers.network.every" in err


async def test_run_without_token_says_where_to_get_one(tmp_path):
    cfg = write_config(tmp_path / "c.toml", LOOPBACK_SOURCES)
    code, _out, err = await run_cli("run", "--config", str(cfg), cwd=tmp_path)
    assert code == 2  # it stops instead of starting to poll (run_cli's timeout would catch a hang)
    assert "@BotFather" in err and "TELEGRAM_BOT_TOKEN" in err


async def test_filings_watcher_without_user_agent_refuses_to_start(tmp_path):
    cfg = write_config(tmp_path / "c.toml", {**LOOPBACK_SOURCES, "watchers.filings": {"enabled": True}})
    env = {**clean_env(), "TELEGRAM_BOT_TOKEN": "123:abc"}
    code, _out, err = await run_cli("run", "--config", str(cfg), cwd=tmp_path, env=env)
    assert code == 2
    assert "user_agent" in err


@pytest.fixture
async def mempool_url(aiohttp_server):
    """mempool as it answered on 2024-03-31 (see tests/fixtures/mempool/PROVENANCE.md), moved to
    today: the CLI reads the real clock, so the price's `time` becomes now and the retarget ETA
    now + remainingTime (the watcher rightly rejects an ETA outside the epoch). The recorded
    hashrate is unknown (0), so it is set to the rate that difficulty implies at 600 s blocks:
    D × 2^32 / 600 H/s (595.0 EH/s)."""
    now_s = time.time()
    prices = json.loads((FIX / "mempool/prices.mainnet-2024-03-31.json").read_text())
    prices["time"] = int(now_s)
    epoch = json.loads((FIX / "mempool/difficulty-adjustment.mainnet-2024-03-31.json").read_text())
    epoch["estimatedRetargetDate"] = int(now_s * 1000) + epoch["remainingTime"]
    epoch["previousTime"] = int(now_s) - 4 * 86400
    hashrate = json.loads((FIX / "mempool/mining-hashrate-3d.assembled-mainnet-2024-03-31.json").read_text())
    hashrate["currentHashrate"] = hashrate["currentDifficulty"] * 2**32 / 600
    derived = {
        "/api/v1/prices": prices,
        "/api/v1/difficulty-adjustment": epoch,
        "/api/v1/mining/hashrate/3d": hashrate,
    }
    files = {
        "/api/blocks/tip/height": "blocks-tip-height.assembled-mainnet-2024-03-31.txt",
        "/api/v1/mining/reward-stats/144": "mining-reward-stats.assembled-mainnet-2024-03-31-8-blocks.json",
    }

    async def handler(request: web.Request) -> web.Response:
        if request.path in derived:
            return web.json_response(derived[request.path])
        name = files.get(request.path)
        if name is None:
            return web.json_response({"error": "not found"}, status=404)
        ctype = "text/plain" if name.endswith(".txt") else "application/json"
        return web.Response(body=(FIX / "mempool" / name).read_bytes(), content_type=ctype)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def test_once_json_prints_every_network_metric(tmp_path, mempool_url):
    cfg = write_config(
        tmp_path / "c.toml",
        {
            **LOOPBACK_SOURCES,
            "sources.mempool": {"base_url": mempool_url},
            "watchers.network": {"price_sources": ["mempool"]},
        },
    )
    code, out, err = await run_cli("once", "--json", "--config", str(cfg), cwd=tmp_path)
    snapshot = json.loads(out)
    assert code == 0, (snapshot["errors"], err)
    m = snapshot["metrics"]
    for name in (
        "difficulty",
        "difficulty.next_change",
        "difficulty.progress",
        "difficulty.blocks_left",
        "difficulty.retarget_eta",
        "difficulty.last_change",
        "hashrate",
        "price",
        "fees",
        "fee_share",
        "subsidy",
        "hashprice",
        "hashprice.btc",
        "hashprice.next",
    ):
        assert name in m, name
    assert m["difficulty.next_change"] == pytest.approx(5.914788959658535)
    assert m["price"] == 69880
    assert m["subsidy"] == 6.25  # before the April 2024 halving
    assert m["hashprice"] == pytest.approx(107.9927991364406, rel=1e-9)  # the worked example
    assert m["hashrate"] == pytest.approx(83126997340024.61 * 2**32 / 600 / 1e18)
    assert snapshot["sources"]["hashprice"] == "mempool"
    assert snapshot["errors"] == {}


async def test_once_exits_1_when_a_source_fails(tmp_path):
    cfg = write_config(
        tmp_path / "c.toml", {**LOOPBACK_SOURCES, "sources.mempool": {"base_url": "http://127.0.0.1:9"}}
    )
    code, out, _err = await run_cli("once", "--json", "--config", str(cfg), cwd=tmp_path)
    assert code == 1
    snapshot = json.loads(out)
    assert snapshot["errors"] and snapshot["metrics"] == {}


LABELS = json.loads((FIX / "filings/LABELS.json").read_text(encoding="utf-8"))
# and the real documents of issue 12 item 6 (a shelf with an ATM, old notes redeemed, a 10-Q)
UNSEEN = [
    {**lab, "file": f"unseen/{lab['file']}"}
    for lab in json.loads((FIX / "filings/unseen/LABELS.json").read_text(encoding="utf-8"))
]


@pytest.mark.parametrize("label", LABELS + UNSEEN, ids=[lab["file"] for lab in LABELS + UNSEEN])
async def test_filing_command_reads_each_labelled_document(tmp_path, label):
    """`python -m bot filing PATH --json` prints the kind and terms LABELS.json records; pointed at
    a 10-Q it prints "other" and no term, whatever the report's debt notes say."""
    cfg = write_config(tmp_path / "c.toml", LOOPBACK_SOURCES)
    doc = FIX / "filings" / label["file"]
    code, out, err = await run_cli("filing", str(doc), "--json", "--config", str(cfg), cwd=tmp_path)
    assert code == 0, err
    seen = json.loads(out)
    assert seen["kind"] == label["kind"]
    for term, expected in label["terms"].items():
        if term == "rate_description":  # free text: present or absent
            assert (seen["terms"].get(term) is None) == (expected is None)
        else:
            assert seen["terms"].get(term) == expected, term


async def test_filing_command_missing_file(tmp_path):
    code, _out, err = await run_cli("filing", str(tmp_path / "nope.htm"), cwd=tmp_path)
    assert code == 1 and "no such file" in err


async def test_once_json_prints_power_for_every_configured_point(tmp_path, aiohttp_server):
    """Issue 4: `once --json` with the power watcher on, against an ERCOT stand-in publishing the
    last four 15-minute intervals in the documented format (the CLI reads the real clock)."""
    from datetime import UTC, datetime, timedelta

    from tests.test_power_watcher import DEFAULT_POINTS, FakeErcot, all_points

    ercot = FakeErcot()
    server = await aiohttp_server(ercot.app())
    now = datetime.now(UTC)
    last_start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0) - timedelta(
        minutes=15
    )
    for i, price in enumerate((31.0, 29.5, 42.0, 38.25)):
        start = last_start - timedelta(minutes=15 * (3 - i))
        ercot.publish_interval(start, all_points(price), published=min(now, start + timedelta(minutes=16)))
    cfg = write_config(
        tmp_path / "c.toml",
        {
            **LOOPBACK_SOURCES,
            "sources.ercot": {"base_url": f"http://127.0.0.1:{server.port}"},
            "watchers.network": {"enabled": False},
            "watchers.power": {"enabled": True},
        },
    )
    code, out, err = await run_cli("once", "--json", "--config", str(cfg), cwd=tmp_path)
    snapshot = json.loads(out)
    assert code == 0, (snapshot["errors"], err)
    for point in DEFAULT_POINTS:
        assert snapshot["metrics"][f"power.{point.lower()}"] == 38.25
        assert snapshot["metrics"][f"power.{point.lower()}.avg1h"] == pytest.approx(
            (31.0 + 29.5 + 42.0 + 38.25) / 4
        )
        assert snapshot["sources"][f"power.{point.lower()}"] == "ercot"


async def test_once_json_from_a_bitcoin_core_stand_in(tmp_path, aiohttp_server):
    """Issue 3: every network metric from your own node (JSON-RPC with basic auth; the stand-in of
    tests/test_network_watcher.py, its block times moved to today) and the price from Kraken (the
    real recorded ticker)."""
    from tests.test_network_watcher import CoreStandIn

    class CoreToday(CoreStandIn):
        def _time(self, height: int) -> int:
            return int(time.time()) - (self.tip - height) * self.interval_s

    core = CoreToday()
    core_app = web.Application()
    core_app.router.add_post("/", core.handle)
    core_server = await aiohttp_server(core_app)
    kraken_body = (FIX / "price/kraken-public-Ticker-XBTUSDT.2024-03.json").read_bytes()

    async def kraken(request: web.Request) -> web.Response:
        return web.Response(body=kraken_body, content_type="application/json")

    kraken_app = web.Application()
    kraken_app.router.add_get("/0/public/Ticker", kraken)
    kraken_server = await aiohttp_server(kraken_app)
    cfg = write_config(
        tmp_path / "c.toml",
        {
            **LOOPBACK_SOURCES,
            "sources.bitcoind": {
                "url": f"http://127.0.0.1:{core_server.port}/",
                "user": "minerwatch",
                "password": "hunter2",
            },
            "sources.price": {
                "kraken_url": f"http://127.0.0.1:{kraken_server.port}",
                "coinbase_url": "http://127.0.0.1:9",
            },
            "watchers.network": {"sources": ["bitcoind"], "price_sources": ["kraken"]},
        },
    )
    code, out, err = await run_cli("once", "--json", "--config", str(cfg), cwd=tmp_path)
    snapshot = json.loads(out)
    assert code == 0, (snapshot["errors"], err)
    m, src = snapshot["metrics"], snapshot["sources"]
    for name in (
        "difficulty",
        "difficulty.next_change",
        "difficulty.progress",
        "difficulty.blocks_left",
        "difficulty.retarget_eta",
        "difficulty.last_change",
        "hashrate",
        "price",
        "fees",
        "fee_share",
        "subsidy",
        "hashprice",
        "hashprice.btc",
        "hashprice.next",
    ):
        assert name in m, name
    assert m["difficulty"] == pytest.approx(83.12699734002461, rel=1e-12)
    assert m["hashrate"] == pytest.approx(602.0, rel=1e-12)  # getnetworkhashps 1008 in EH/s
    assert m["price"] == 73380.6  # Kraken c[0]
    assert (
        src["difficulty"] == "bitcoind" and src["price"] == "kraken" and src["hashprice"] == "bitcoind+kraken"
    )
    assert "hunter2" not in out + err
