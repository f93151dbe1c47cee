"""The README stays true: it opens with the two commands, shows the shipped config.toml
verbatim, and documents every chat command and every catalogue metric family."""

from __future__ import annotations

import re
from pathlib import Path

from telegram.ext import CommandHandler

from bot.app import build_application, create_services
from bot.settings import load_settings
from rules.catalogue import CATALOGUE, EQUITY_FAMILIES, PRODUCTION_FAMILIES
from tests.harness import write_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands():
    head = README[:600]
    assert "make run" in head and "make test" in head


def test_readme_config_block_is_the_shipped_config():
    block = re.search(r"<!-- config.toml -->\n```toml\n(.*?)\n```\n<!-- /config.toml -->", README, re.S)
    assert block, "README lost its config.toml block"
    shipped = (ROOT / "config.toml").read_text(encoding="utf-8").rstrip("\n")
    assert block.group(1) == shipped, "README's config block differs from config.toml: paste it again"


def test_every_command_is_in_the_readme(tmp_path):
    settings = load_settings(
        write_config(
            tmp_path / "c.toml", {"telegram": {"token": "1:x"}, "storage": {"path": str(tmp_path / "d.db")}}
        )
    )
    svc = create_services(settings, watchers=[])
    app = build_application(svc, with_jobs=False)
    commands = {
        c
        for group in app.handlers.values()
        for h in group
        if isinstance(h, CommandHandler)
        for c in h.commands
    }
    svc.db.close()
    missing = [c for c in sorted(commands) if f"`/{c}" not in README]
    assert not missing, missing


def test_every_metric_is_in_the_readme():
    per_ticker = ("stock", "debt", *EQUITY_FAMILIES, *PRODUCTION_FAMILIES)
    prefixes = tuple(f"{f}." for f in ("power", "dam", *per_ticker))
    families = {name.split(".")[0] if name.startswith(prefixes) else name for name in CATALOGUE}
    families_with_points = ("power", "dam", *per_ticker)
    missing = [m for m in sorted(families) if m not in families_with_points and f"`{m}`" not in README]
    assert "`power.<point>`" in README and "`dam.<point>`" in README
    assert all(f"`{f}.<ticker>`" in README for f in per_ticker)
    assert not missing, missing
