"""rules/ is pure (conventions §1, §4): no network, Telegram, storage or bot imports and no clock
reads. Our equivalent of Alertmanager's depguard, by reading the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parent.parent / "rules"
FORBIDDEN_MODULES = {
    "aiohttp", "telegram", "httpx", "requests", "socket", "sqlite3", "sqlite_utils", "urllib",
    "storage", "bot", "watchers", "asyncio", "os", "pathlib", "io", "subprocess", "shutil", "threading",
}  # fmt: skip
# Fully qualified clock reads, whatever name they are imported under.
CLOCK_READS = {
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
    "time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.perf_counter",
    "time.perf_counter_ns", "time.localtime", "time.gmtime",
}  # fmt: skip
IO_BUILTINS = {"open", "input", "print"}


def _qualified(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """``a.b.c`` with ``a`` resolved through the module's imports (``import datetime as _dt``,
    ``from time import monotonic as tick``)."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _qualified(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            names = [node.module or ""]
        else:
            names = []
        found += [f"imports {n}" for n in names if n.split(".")[0] in FORBIDDEN_MODULES]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute | ast.Name) and not isinstance(
            getattr(node, "ctx", None), ast.Store
        ):
            name = _qualified(node, aliases)
            if name in CLOCK_READS:
                found.append(f"reads the clock: {name}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IO_BUILTINS:
            found.append(f"does I/O: {node.func.id}()")
    return found


@pytest.mark.parametrize("path", sorted(RULES.rglob("*.py")), ids=lambda p: p.name)
def test_rules_module_is_pure(path):
    assert _problems(path) == []


def test_the_guard_catches_what_it_should(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import aiohttp\nfrom telegram import Bot\nfrom datetime import datetime\nx = datetime.now()\n"
    )
    assert _problems(bad) == ["imports aiohttp", "imports telegram", "reads the clock: datetime.datetime.now"]


def test_the_guard_sees_through_aliases(tmp_path):
    bad = tmp_path / "aliased.py"
    bad.write_text(
        "import datetime as _dt\nimport time as _t\nfrom time import monotonic as tick\n"
        "from datetime import date as D\n"
        "a = _dt.datetime.now()\nb = _t.time()\nc = tick()\nd = D.today()\ne = open('x')\n"
        "clock = _dt.datetime.utcnow  # a reference is a read waiting to happen\n"
    )
    assert sorted(_problems(bad)) == sorted(
        [
            "reads the clock: datetime.datetime.now",
            "reads the clock: time.time",
            "reads the clock: time.monotonic",
            "reads the clock: datetime.date.today",
            "reads the clock: datetime.datetime.utcnow",
            "does I/O: open()",
        ]
    )
