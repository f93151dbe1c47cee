"""ERCOT grid condition and PRC crossings (rules/grid_condition.py): once per change, debounced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rules.grid_condition import DEFAULT_PRC_THRESHOLDS, band, classify, step

T0 = datetime(2026, 1, 20, 6, 0, tzinfo=UTC)
NORMAL = classify("normal", "Normal Conditions", 0)


def run(readings, confirm=2):
    state: dict = {}
    out = []
    for i, (cond, prc) in enumerate(readings):
        r = step(state, T0 + timedelta(minutes=5 * i), cond, prc, DEFAULT_PRC_THRESHOLDS, confirm)
        state = r.state
        out.append(r.events)
    return out, state


def test_classify():
    assert classify("normal", "Normal Conditions", 0).key == "normal"
    assert classify("conservation", "Conservation Appeal", 0).key == "conservation"
    assert classify("watch", "Weather Watch", 0).key == "watch"
    assert classify("emergency", "Energy Emergency Alert", 2).key == "eea2"
    assert classify("eea", "EEA Level 3", 3).key == "eea3"
    # a word never seen is reported as itself, never as normal
    odd = classify("tight", "Tight Conditions", 0)
    assert odd.key == "other" and odd.title == "Tight Conditions"


def test_first_normal_reading_is_silent_and_a_first_emergency_is_not():
    events, _ = run([(NORMAL, 13_820.0)])
    assert events == [[]]
    events, _ = run([(classify("emergency", "EEA Level 1", 1), 2_300.0)])
    whats = sorted(e.data["what"] for e in events[0])
    assert whats == ["condition", "prc"]


def test_each_change_once_worse_and_better():
    cons = classify("conservation", "Conservation Appeal", 0)
    eea1 = classify("emergency", "EEA Level 1", 1)
    events, state = run(
        [(NORMAL, 9000.0), (cons, 4000.0), (cons, 3900.0), (eea1, 2400.0), (eea1, 2300.0), (NORMAL, 6000.0)]
    )
    conds = [e.data for batch in events for e in batch if e.data["what"] == "condition"]
    assert [(c["condition"], c["previous"], c["worse"]) for c in conds] == [
        ("conservation", "normal", True),
        ("eea1", "conservation", True),
        ("normal", "eea1", False),
    ]
    keys = [e.key for batch in events for e in batch]
    assert len(keys) == len(set(keys))
    assert state["condition"] == "normal"


def test_prc_crossing_needs_two_readings_and_clears_once():
    readings = [(NORMAL, p) for p in (5000, 2900, 5000, 2900, 2800, 2700, 2400, 2450, 3100, 3200, 3300)]
    events, state = run(readings)
    prc = [(i, e.data) for i, batch in enumerate(events) for e in batch]
    # 2900 once (then back): nothing. 2900, 2800: below 3000 confirmed at reading 4.
    assert [(i, d["band"], d["threshold_mw"], d["worse"]) for i, d in prc] == [
        (4, 1, 3000.0, True),
        (7, 2, 2500.0, True),
        (9, 0, 3000.0, False),
    ]
    assert state["prc_band"] == 0


def test_band():
    assert band(13_820, DEFAULT_PRC_THRESHOLDS) == 0
    assert band(2_999, DEFAULT_PRC_THRESHOLDS) == 1
    assert band(1_400, DEFAULT_PRC_THRESHOLDS) == 4
