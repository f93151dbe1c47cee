"""rules/ is pure (conventions §1, §4): no network, Telegram, storage or bot imports and no clock
reads. Our equivalent of Alertmanager's depguard, by reading the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parent.parent / "rules"
FORBIDDEN_MODULES = {
    "aiohttp", "telegram", "httpx", "requests", "socket", "sqlite3", "sqlite_utils", "urllib",
    "storage", "bot", "watchers", "asyncio",
}  # fmt: skip
CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
               ("time", "time"), ("time", "monotonic"), ("time", "perf_counter")}  # fmt: skip


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        found += [f"imports {n}" for n in names if n.split(".")[0] in FORBIDDEN_MODULES]
        is_attr = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if is_attr and (node.value.id, node.attr) in CLOCK_READS:
            found.append(f"reads the clock: {node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", sorted(RULES.glob("*.py")), ids=lambda p: p.name)
def test_rules_module_is_pure(path):
    assert _problems(path) == []


def test_the_guard_catches_what_it_should(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import aiohttp\nfrom telegram import Bot\nfrom datetime import datetime\nx = datetime.now()\n"
    )
    assert _problems(bad) == ["imports aiohttp", "imports telegram", "reads the clock: datetime.now"]
