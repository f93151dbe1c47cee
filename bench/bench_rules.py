"""Rule engine benchmark: one batch of observations against 100,000 rules in 10,000 chats.

Compares evaluating a batch through :class:`rules.index.RuleIndex` (each observation touches only
the rules on its metric) with a naive scan over every rule, and prints the figures. No assertions.

    .venv/bin/python -m bench.bench_rules      (or: .venv/bin/python bench/bench_rules.py)
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a file (python bench/bench_rules.py): make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rules.catalogue import CATALOGUE, MetricInfo
from rules.evaluate import evaluate
from rules.grammar import format_rule, parse_rule
from rules.index import CURTAIL_METRIC, RuleIndex
from rules.model import AlertState, ChangeRule, Op, Rule, ThresholdRule

CHATS = 10_000
RULES_PER_CHAT = 10
REPEATS = 5
SEED = 6
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
INITIAL = AlertState()

# A typical value per unit, so thresholds and observations land near each other.
TYPICAL = {
    "%": 2.0,
    "T": 120.0,
    "EH/s": 800.0,
    "USD": 95_000.0,
    "USD/PH/day": 50.0,
    "BTC/PH/day": 0.0005,
    "BTC": 0.05,
    "USD/MWh": 40.0,
    "blocks": 1000.0,
}


def _metrics() -> list[MetricInfo]:
    return [info for info in CATALOGUE.values() if info.unit != "time"]


def make_rules(rng: random.Random) -> list[tuple[Hashable, Rule]]:
    """100,000 rules as users would write them: text, parsed by the grammar."""
    metrics = _metrics()
    texts: list[tuple[Hashable, str]] = []
    for chat in range(CHATS):
        for n in range(RULES_PER_CHAT):
            info = rng.choice(metrics)
            centre = TYPICAL.get(info.unit, 1.0)
            roll = rng.random()
            if roll < 0.80:
                op = rng.choice(list(Op))
                value = round(centre * rng.uniform(0.8, 1.2), 4)
                extra = rng.choice(["", " for 30m", " every 4h", " for 15m every 1h", " margin 2%"])
                text = f"{info.name} {op.value} {value}{extra}"
            elif roll < 0.95:
                direction = rng.choice(["rises", "drops"])
                text = f"{info.name} {direction} {rng.choice([3, 5, 10])}% in {rng.choice(['1h', '24h'])}"
            else:
                text = rng.choice(["retarget", "curtail", "filings MARA convertible >= 500M", "digest 08:00"])
            texts.append(((chat, n), ("!" if rng.random() < 0.05 else "") + text))
    return [(key, parse_rule(text)) for key, text in texts]


def make_batch(rng: random.Random) -> dict[str, tuple[float, float]]:
    """One value per metric, with the value a window ago (for change rules)."""
    batch = {}
    for info in _metrics():
        centre = TYPICAL.get(info.unit, 1.0)
        batch[info.name] = (centre * rng.uniform(0.9, 1.1), centre * rng.uniform(0.9, 1.1))
    return batch


def _metric_of(rule: Rule) -> str | None:
    if isinstance(rule, ThresholdRule | ChangeRule):
        return rule.metric
    return CURTAIL_METRIC if rule.event == "curtail" else None


def run_indexed(
    index: RuleIndex,
    batch: dict[str, tuple[float, float]],
    states: dict[Hashable, AlertState],
    evaluate_too: bool,
) -> int:
    touched = 0
    for metric, (value, reference) in batch.items():
        for key, rule in index.for_metric(metric):
            touched += 1
            if evaluate_too:
                states[key] = evaluate(rule, states.get(key, INITIAL), value, NOW, reference=reference).state
    return touched


def run_naive(
    rules: list[tuple[Hashable, Rule, str | None]],
    batch: dict[str, tuple[float, float]],
    states: dict[Hashable, AlertState],
    evaluate_too: bool,
) -> int:
    """Every observation scans every rule (each rule's metric worked out in advance, to be fair)."""
    touched = 0
    for metric, (value, reference) in batch.items():
        for key, rule, rule_metric in rules:
            if rule_metric != metric:
                continue
            touched += 1
            if evaluate_too:
                states[key] = evaluate(rule, states.get(key, INITIAL), value, NOW, reference=reference).state
    return touched


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    """Median wall time over REPEATS runs, and what the run returned."""
    times = []
    result = 0
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: Sequence[str] | None = None) -> None:
    global CHATS
    parser = argparse.ArgumentParser(description="rule evaluation: RuleIndex vs a naive scan")
    parser.add_argument("--smoke", action="store_true", help="1,000 chats instead of 10,000")
    if parser.parse_args(argv).smoke:
        CHATS = 1_000
    print("MinerWatch rule engine benchmark")
    print(f"machine: {platform.platform()} ({platform.machine()}), {os.cpu_count()} CPUs")
    print(f"python:  {sys.version.split()[0]} ({platform.python_implementation()})")
    rng = random.Random(SEED)

    start = time.perf_counter()
    rules = make_rules(rng)
    parse_s = time.perf_counter() - start
    power = sum(1 for _, r in rules if (_metric_of(r) or "").startswith("power."))
    events = sum(1 for _, r in rules if _metric_of(r) is None)
    print(
        f"rules:   {len(rules):,} in {CHATS:,} chats over {len(_metrics())} metrics "
        f"({power:,} on power.* points, {events:,} event rules); parsed in {parse_s:.2f} s "
        f"({parse_s / len(rules) * 1e6:.1f} µs/rule)"
    )
    start = time.perf_counter()
    for _key, rule in rules[:20_000]:
        parse_rule(format_rule(rule))
    roundtrip_s = time.perf_counter() - start
    print(f"format+parse round trip: {roundtrip_s / 20_000 * 1e6:.1f} µs/rule")

    start = time.perf_counter()
    index = RuleIndex()
    for key, rule in rules:
        index.add(key, rule)
    print(f"index:   built in {time.perf_counter() - start:.3f} s")

    scan = [(key, rule, _metric_of(rule)) for key, rule in rules]
    batch = make_batch(rng)
    print(f"batch:   {len(batch)} observations (one per metric); median of {REPEATS} runs each")
    print()
    print(f"{'':32}{'RuleIndex':>12}{'naive scan':>14}{'ratio':>9}")
    for label, evaluate_too in (("select rules only", False), ("select + evaluate", True)):
        states_i: dict[Hashable, AlertState] = {}
        states_n: dict[Hashable, AlertState] = {}
        t_index, n_index = timed(lambda e=evaluate_too, s=states_i: run_indexed(index, batch, s, e))
        t_naive, n_naive = timed(lambda e=evaluate_too, s=states_n: run_naive(scan, batch, s, e))
        assert_same = "same rules" if n_index == n_naive else f"MISMATCH {n_index} vs {n_naive}"
        print(
            f"{label + ' per batch':32}{t_index * 1e3:>9.1f} ms{t_naive * 1e3:>11.1f} ms"
            f"{t_naive / t_index:>8.1f}x   ({n_index:,} rules touched, {assert_same})"
        )
        if evaluate_too:
            print(f"{'evaluate() per rule':32}{t_index / n_index * 1e6:>9.2f} µs")
            firing = sum(1 for s in states_i.values() if s.status == "firing")
            print(f"{'alerts firing after the batch':32}{firing:>12,}")

    # What one poll of one source looks like: a single observation (BTC price).
    single = {"price": batch["price"]}
    states_i, states_n = {}, {}
    t_index, n_index = timed(lambda: run_indexed(index, single, states_i, True))
    t_naive, _ = timed(lambda: run_naive(scan, single, states_n, True))
    print(
        f"{'one observation (price)':32}{t_index * 1e3:>9.2f} ms{t_naive * 1e3:>11.1f} ms"
        f"{t_naive / t_index:>8.0f}x   ({n_index:,} rules touched)"
    )


if __name__ == "__main__":
    main()
