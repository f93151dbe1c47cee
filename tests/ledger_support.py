"""Where the labelled ledger documents are, and how a built ledger is scored against the labels.

The two RIOT filings (3-4 MB each) are not copied into tests/fixtures: they are read from the
project's shared folder (``../shared/ledger`` beside the project clone in CI; ``$MINERWATCH_SHARED``
or ``/work/shared`` on a developer machine). Their bytes are checked against the sha256 in the labels.
The labels themselves are copied in tests/fixtures/ledger/LEDGER_LABELS.json (see PROVENANCE.md).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "ledger"
LABELS: list[dict[str, Any]] = json.loads((FIXTURES / "LEDGER_LABELS.json").read_text())
SCORED_TERMS = (
    "kind",
    "original_principal_usd",
    "outstanding_principal_usd",
    "coupon_pct",
    "maturity",
    "conversion_rate_per_1000",
    "conversion_price_usd",
    "secured",
)


def shared_dir() -> Path | None:
    """The shared folder holding ledger/ (None when this checkout has none)."""
    env = os.environ.get("MINERWATCH_SHARED")
    for candidate in (
        Path(env) if env else None,
        ROOT.parent / "shared",
        ROOT.parent.parent / "shared",
        Path("/work/shared"),
    ):
        if candidate is not None and (candidate / "ledger" / "LEDGER_LABELS.json").exists():
            return candidate
    return None


def labelled_document(label: dict[str, Any]) -> Path | None:
    shared = shared_dir()
    path = shared / "ledger" / label["file"] if shared else None
    return path if path is not None and path.exists() else None


def _tokens(name: str) -> set[str]:
    stop = {"the", "of", "and", "a", "in", "with", "million", "note", "notes", "due", "m", "part"}
    words = re.findall(r"[a-z]+|\d+", name.lower())
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words if w not in stop}


def match(labels: list[dict[str, Any]], found: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Pairs (label index, found index): greedy on the share of the found name's words in the label's."""
    scores = []
    for i, lab in enumerate(labels):
        lt = _tokens(lab["instrument"])
        for j, f in enumerate(found):
            ft = _tokens(f["instrument"])
            if ft:
                scores.append((len(lt & ft) / len(ft) + (0.01 if lab["kind"] == f["kind"] else 0), i, j))
    pairs: list[tuple[int, int]] = []
    used_l: set[int] = set()
    used_f: set[int] = set()
    for score, i, j in sorted(scores, reverse=True):
        if score >= 0.5 and i not in used_l and j not in used_f:
            pairs.append((i, j))
            used_l.add(i)
            used_f.add(j)
    return sorted(pairs)


def same(term: str, expected: Any, got: Any, label: dict[str, Any]) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    if isinstance(expected, int | float):
        tolerance = float(label.get("tolerance_usd", 0)) if term.endswith("_usd") else 0.0
        return abs(float(expected) - float(got)) <= max(tolerance, 1e-6 * abs(float(expected)), 1e-9)
    return expected == got


def score(label: dict[str, Any], ledger_json: dict[str, Any]) -> dict[str, Any]:
    """Tranches found/expected, each term right/total (unmatched labels count as wrong), total right."""
    found = ledger_json["tranches"] + ledger_json.get("not_in_latest_report", [])
    pairs = match(label["tranches"], found)
    by_label = dict(pairs)
    terms = {t: [0, 0] for t in SCORED_TERMS}
    misses: list[str] = []
    for i, lab in enumerate(label["tranches"]):
        got = found[by_label[i]] if i in by_label else None
        if got is None:
            misses.append(f"not found: {lab['instrument']}")
        for t in SCORED_TERMS:
            terms[t][1] += 1
            ok = got is not None and same(t, lab[t], got[t], lab)
            terms[t][0] += int(ok)
            if got is not None and not ok:
                misses.append(f"{lab['instrument']}: {t} {got[t]!r}, labelled {lab[t]!r}")
    total_ok = same(
        "total_debt_principal_usd",
        label["total_debt_principal_usd"],
        ledger_json["total_debt_principal_usd"],
        {"tolerance_usd": 50_000},
    )
    return {
        "found": len(pairs),
        "expected": len(label["tranches"]),
        "extra": len(found) - len(pairs),
        "terms": {t: tuple(v) for t, v in terms.items()},
        "total_ok": total_ok,
        "misses": misses,
    }
