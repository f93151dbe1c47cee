"""RuleIndex: one observation touches only the rules on its metric."""

from __future__ import annotations

from rules.grammar import parse_rule
from rules.index import RuleIndex


def build(*entries):
    index = RuleIndex()
    for key, text in entries:
        index.add(key, parse_rule(text))
    return index


def test_rules_are_found_by_metric_only():
    index = build(
        ((1, 1), "price < 50k"),
        ((1, 2), "price rises 5% in 1h"),
        ((2, 1), "hashprice < 45"),
        ((3, 1), "power.hb_west > 100"),
    )
    assert len(index) == 4
    assert [key for key, _ in index.for_metric("price")] == [(1, 1), (1, 2)]
    assert [key for key, _ in index.for_metric("hashprice")] == [(2, 1)]
    assert index.for_metric("power.hb_west.avg1h") == []
    assert index.for_metric("difficulty") == []
    assert index.metrics() == {"price", "hashprice", "power.hb_west"}


def test_events_and_curtail():
    index = build(
        ("a", "retarget"),
        ("b", "filings MARA"),
        ("c", "curtail"),
        ("d", "digest 08:00"),
        ("e", "curtail.margin > 5"),
    )
    assert [k for k, _ in index.events("retarget")] == ["a"]
    assert [k for k, _ in index.events("filing")] == ["b"]
    assert [k for k, _ in index.events("filings")] == ["b"]
    assert [k for k, _ in index.events("digest")] == ["d"]
    assert index.events("curtail") == []
    # curtail is evaluated on curtail.margin, next to explicit rules on it
    assert [k for k, _ in index.for_metric("curtail.margin")] == ["c", "e"]


def test_replace_and_remove():
    index = build(("k", "price < 50k"), ("j", "price > 100k"))
    index.add("k", parse_rule("hashprice < 45"))  # same key: replaces, moves metric
    assert [k for k, _ in index.for_metric("price")] == ["j"]
    assert [k for k, _ in index.for_metric("hashprice")] == ["k"]
    assert len(index) == 2
    index.remove("k")
    index.remove("k")  # absent: ignored
    index.remove("never-there")
    assert len(index) == 1 and "k" not in index and "j" in index
    assert index.metrics() == {"price"}
    assert index.get("j") == parse_rule("price > 100k")
    assert list(index) == [("j", parse_rule("price > 100k"))]
    index.remove("j")
    assert len(index) == 0 and index.metrics() == set()


def test_for_metric_returns_a_copy():
    index = build((1, "price < 50k"))
    rules = index.for_metric("price")
    rules.clear()
    assert len(index.for_metric("price")) == 1
