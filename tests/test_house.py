"""The house (issue 11), checked by reading every module's source:

* imports run one way along the pipeline: ``rules`` imports nothing of ours; ``watchers`` and
  ``storage`` import only ``rules``; ``bot`` imports everything; nothing else;
* ``bot/engine`` has no Telegram imports (it decides; delivery and handlers talk to Telegram);
* every SQL statement lives in ``storage/``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "rules": set(),
    "watchers": {"rules"},
    "storage": {"rules"},
    "bot": {"rules", "watchers", "storage"},
}
# A statement, not a word: "drop" or "update" alone is English (and Telegram's "update").
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|ALTER\s+TABLE)\s", re.I)


def modules(package: str, root: Path = ROOT) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def imported_packages(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, top-level module) of every import in the file, in functions too; relative imports
    resolve to the file's own package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own = path.relative_to(root).parts[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.lineno, own if node.level else (node.module or "").split(".")[0]))
    return out


def type_checking_lines(path: Path) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks (annotations only, never run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def import_problems(package: str, root: Path = ROOT) -> list[str]:
    problems = []
    for path in modules(package, root):
        for line, top in imported_packages(path, root):
            if top in ALLOWED and top != package and top not in ALLOWED[package]:
                problems.append(f"{path.relative_to(root)}:{line} imports {top}")
    return problems


def sql_outside_storage(package: str, root: Path = ROOT) -> list[str]:
    found = []
    for path in modules(package, root):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            # f-strings too: their literal parts are Constants of their own
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_follow_the_pipeline(package):
    assert import_problems(package) == []


@pytest.mark.parametrize("package", ["bot", "watchers", "rules"])
def test_sql_lives_in_storage(package):
    assert sql_outside_storage(package) == []


def test_the_engine_has_no_telegram_imports():
    found = []
    for path in modules("bot/engine"):
        skip = type_checking_lines(path)
        found += [
            f"{path.relative_to(ROOT)}:{line}"
            for line, top in imported_packages(path)
            if top == "telegram" and line not in skip
        ]
    assert found == []


def test_the_checks_catch_what_they_should(tmp_path):
    fake = tmp_path / "storage"
    fake.mkdir()
    (fake / "bad.py").write_text(
        "from watchers.base import Observation\nimport bot.app\nfrom rules.data import Event\n"
    )
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "sql.py").write_text(
        'def f(db, t):\n    db.execute("SELECT * FROM rules")\n    db.query(f"DELETE FROM {t} WHERE 1")\n'
    )
    assert import_problems("storage", tmp_path) == [
        "storage/bad.py:1 imports watchers",
        "storage/bad.py:2 imports bot",
    ]
    assert sql_outside_storage("rules", tmp_path) == ["rules/sql.py:2", "rules/sql.py:3"]
