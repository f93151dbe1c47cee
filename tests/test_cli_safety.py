"""Issue 12 items 13 and 14: `check` hides URL passwords and refuses what `run` refuses; a damaged
database file stops `run` and `check` with a message naming the file, what is wrong and what to
do, never a traceback. Real subprocesses, as test_cli.py."""

from __future__ import annotations

import json
import os

import pytest

from bot.settings import mask_url
from storage.db import UnusableDatabase, open_db
from tests.harness import write_config
from tests.test_cli import LOOPBACK_SOURCES, clean_env, run_cli


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://rpcuser:S3CRET@127.0.0.1:8332/", "http://rpcuser:**********@127.0.0.1:8332/"),
        ("https://token@mempool.example/api", "https://**********@mempool.example/api"),
        ("https://mempool.space", "https://mempool.space"),
        ("MinerWatch ops@example.com", "MinerWatch ops@example.com"),  # not a URL: an e-mail stays
        ("http://[::1", "http://[::1"),  # unparseable stays as it is
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


async def test_check_masks_passwords_in_urls(tmp_path) -> None:
    sources = {
        **LOOPBACK_SOURCES,
        "sources.bitcoind": {"url": "http://rpcuser:S3CRETPASS@127.0.0.1:9/"},
        "sources.mempool": {"base_url": "http://ops:ALSOSECRET@127.0.0.1:9"},
    }
    cfg = write_config(tmp_path / "c.toml", {"storage": {"path": str(tmp_path / "m.db")}, **sources})
    code, out, err = await run_cli("check", "--config", str(cfg), cwd=tmp_path)
    assert code == 0, err
    assert "S3CRETPASS" not in out + err and "ALSOSECRET" not in out + err
    data = json.loads(out.split("\n", 1)[1])
    assert data["sources"]["bitcoind"]["url"] == "http://rpcuser:**********@127.0.0.1:9/"


async def test_check_refuses_what_run_refuses(tmp_path) -> None:
    cfg = write_config(tmp_path / "c.toml", {**LOOPBACK_SOURCES, "watchers.filings": {"enabled": True}})
    code, out, err = await run_cli("check", "--config", str(cfg), cwd=tmp_path)
    assert code == 2
    assert "config OK" not in out and "user_agent" in err
    env = {**clean_env(), "TELEGRAM_BOT_TOKEN": "123:abc"}
    run_code, _out, run_err = await run_cli("run", "--config", str(cfg), cwd=tmp_path, env=env)
    assert run_code == 2 and "user_agent" in run_err


@pytest.mark.parametrize("command", ["run", "check"])
async def test_a_damaged_database_is_named_and_explained(tmp_path, command: str) -> None:
    db = tmp_path / "data" / "minerwatch.db"
    db.parent.mkdir()
    db.write_bytes(os.urandom(8192))  # what a disk error or a wrong file leaves
    cfg = write_config(tmp_path / "c.toml", {**LOOPBACK_SOURCES, "storage": {"path": str(db)}})
    env = {**clean_env(), "TELEGRAM_BOT_TOKEN": "123:abc"}
    code, out, err = await run_cli(command, "--config", str(cfg), cwd=tmp_path, env=env)
    assert code == 2
    assert "Traceback" not in err and "config OK" not in out
    assert str(db) in err  # which file
    assert "not a usable SQLite database" in err  # what is wrong
    assert f"mv {db} {db}.broken" in err  # what to do


def test_open_db_on_a_directory_says_it_cannot_open(tmp_path) -> None:
    (tmp_path / "db").mkdir()
    with pytest.raises(UnusableDatabase, match="cannot open the database"):
        open_db(tmp_path / "db")
