"""Backtest: replay one rule over stored history with the engine's own evaluator, to tell a user
before the rule is saved how often it would have fired. Pure: the series and ``end`` are passed in.

The replay is the live engine's loop (bot/engine/rule_eval.py, bot/engine/rulecache.py) run over
old values: the rule starts in the initial state, each stored value is judged at its own time by
:func:`rules.evaluate.evaluate` (so ``for``, hysteresis, ``every`` and the change rules' re-arm are
exactly the engine's), and a change rule's reference is the value as it stood ``window`` before,
as ``storage.observations.value_at_or_before`` answers it for the engine. Gaps in the series are
skipped: the engine never resolves or confirms anything on missing data, it only says "no data",
which is not a firing.

Two things the replay cannot know, and so does not pretend to: snoozes, mutes and quiet hours of
the past (a firing is counted whether or not a message would have reached the chat), and a value
the engine saw between two stored values (it stores every value it judges, so there is none).
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import repeat

from rules.evaluate import DEFAULTS, change_pct, evaluate, hysteresis_band
from rules.model import AlertState, ChangeRule, Op, Reason, Status, ThresholdRule

Point = tuple[datetime, float]

# Series the ERCOT watcher derives from its last intervals: the rule cannot fire before that much
# of the underlying price has been seen (watchers/ercot.py).
DERIVED_WINDOWS: dict[str, int] = {"avg1h": 3600, "avg24h": 86400, "max24h": 86400}


@dataclass(frozen=True)
class Backtest:
    """What replaying a rule over ``[start, end]`` found."""

    start: datetime  # the period asked for
    end: datetime
    first_at: datetime | None  # the first value judged (None: nothing in the period)
    evaluated: int  # values judged
    fired: int  # transitions to firing (the messages that say "firing")
    notices: int  # firing + repeat messages (``every``)
    last_fired: datetime | None
    longest_s: float | None  # the longest time spent firing, from firing to resolved
    still_firing: bool  # firing at ``end`` (the longest may still be growing)
    state: AlertState  # the state after the last value


def reference_at(times: Sequence[datetime], values: Sequence[float], when: datetime) -> float | None:
    """The value as it stood at ``when``: the last one at or before it (None before the first)."""
    i = bisect_right(times, when)
    return values[i - 1] if i else None


_COMPARE: dict[Op, Callable[[float, float], bool]] = {
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


def _conditions(
    rule: ThresholdRule | ChangeRule, values: list[float], references: list[float | None] | None
) -> tuple[list[bool], list[bool]]:
    """The rule's condition at every value as rules/evaluate.py states it: (while ok or pending:
    past the threshold / moved by ``pct``; while firing: still past it by the hysteresis band /
    still moved by half of ``pct``). A change rule without a reference yet holds its state in
    evaluate (NO_CHANGE): here "false" while ok and "true" while firing, so it is skipped either
    way. Computed in bulk (C loops): this is what lets a year of values replay in a fraction of a
    second."""
    if isinstance(rule, ThresholdRule):
        compare = _COMPARE[rule.op]
        band = hysteresis_band(rule)
        held = rule.value - band if rule.op.upward else rule.value + band
        return (
            list(map(compare, values, repeat(rule.value))),
            list(map(compare, values, repeat(held))),
        )
    assert references is not None
    moves = [None if r is None else change_pct(v, r) for v, r in zip(values, references, strict=True)]
    full, rearm = rule.pct, rule.pct * DEFAULTS.change_rearm_fraction
    if rule.direction == "rises":
        return (
            [m is not None and m >= full for m in moves],
            [m is None or m >= rearm for m in moves],
        )
    return (
        [m is not None and m <= -full for m in moves],
        [m is None or m <= -rearm for m in moves],
    )


def _references(times: list[datetime], values: list[float], window: timedelta) -> list[float | None]:
    """For each value, the value as it stood ``window`` before (storage's value_at_or_before):
    one pass, the reference moving forward with the values."""
    out: list[float | None] = []
    j = 0
    for at in times:
        cutoff = at - window
        while j < len(times) and times[j] <= cutoff:
            j += 1
        out.append(values[j - 1] if j else None)
    return out


def _next(flags: list[bool], wanted: bool, start: int, stop: int) -> int:
    """The first index from ``start`` where ``flags`` is ``wanted`` (``stop`` when none is)."""
    try:
        return min(flags.index(wanted, start, stop), stop)
    except ValueError:
        return stop


def replay(
    rule: ThresholdRule | ChangeRule,
    series: Sequence[Point],
    start: datetime,
    end: datetime,
) -> Backtest:
    """Judge every value of ``series`` (sorted by time) from ``start`` to ``end`` as the engine
    would have, starting from the initial state. For a change rule ``series`` should also hold the
    ``window`` before ``start`` (its references); values before ``start`` are never judged.

    A year of 1-minute values must replay well within a second on the database thread, so the
    replay jumps over values that cannot change anything, where :func:`rules.evaluate.evaluate`
    decides "nothing" and keeps the state: while ok, values where the condition is false
    (NO_CHANGE); while pending, values where it holds until ``for`` has passed (PENDING); while
    firing, values where it still holds until ``every`` is due (STILL_FIRING). Every value it
    lands on (a crossing, ``for`` elapsed, a repeat due, a resolve) goes through ``evaluate``
    itself. The replay's states never carry a stale flag or an old ``last_value``, so "the state
    kept" is the very same state; tests/test_backtest.py checks the result against the live
    engine fed the same values."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("replay() needs aware times (UTC)")
    times = [t for t, _ in series]
    values = [v for _, v in series]
    window = timedelta(seconds=rule.window_s) if isinstance(rule, ChangeRule) else None
    references = _references(times, values, window) if window is not None else None
    steady, held = _conditions(rule, values, references)
    for_s = rule.for_s if isinstance(rule, ThresholdRule) else 0
    every = timedelta(seconds=rule.every_s) if rule.every_s is not None else None
    state = AlertState()
    fired = notices = 0
    last_fired: datetime | None = None
    longest = 0.0
    began: datetime | None = None
    first = bisect_left(times, start)
    stop = bisect_right(times, end)
    i = first
    while i < stop:
        status = state.status
        if status is Status.OK:
            i = _next(steady, True, i, stop)
        elif status is Status.PENDING and state.since is not None:
            due = bisect_left(times, state.since + timedelta(seconds=for_s), i, stop)
            i = min(_next(steady, False, i, stop), due)
        elif status is Status.FIRING:
            last = state.last_notified or state.since
            due = (
                bisect_left(times, last + every, i, stop) if every is not None and last is not None else stop
            )
            i = min(_next(held, False, i, stop), due)
        if i >= stop:
            break
        at = times[i]
        reference = references[i] if references is not None else None
        decision = evaluate(rule, state, values[i], at, reference=reference)
        state = decision.state
        reason = decision.reason
        if reason is Reason.FIRING:
            fired += 1
            notices += 1
            last_fired = began = at
        elif reason is Reason.REPEAT:
            notices += 1
        elif reason is Reason.RESOLVED and began is not None:
            longest = max(longest, (at - began).total_seconds())
            began = None
        i += 1
    evaluated = stop - first if stop > first else 0
    still = state.status is Status.FIRING
    if still and began is not None:
        longest = max(longest, (end - began).total_seconds())
    return Backtest(
        start=start,
        end=end,
        first_at=times[first] if evaluated else None,
        evaluated=evaluated,
        fired=fired,
        notices=notices,
        last_fired=last_fired,
        longest_s=longest if fired else None,
        still_firing=still,
        state=state,
    )


def derive(series: Sequence[Point], fn: Callable[[float], float | None]) -> list[Point]:
    """A per-chat series from a stored one (breakeven, margin, profit from hashprice): ``fn`` of
    every value, dropping the values ``fn`` has no answer for (None, or not finite)."""
    out: list[Point] = []
    for at, value in series:
        derived = fn(value)
        if derived is not None and math.isfinite(derived):
            out.append((at, derived))
    return out


def combine_latest(
    a: Sequence[Point], b: Sequence[Point], fn: Callable[[float, float], float | None]
) -> list[Point]:
    """Two stored series as the engine combines them (curtail: power at the hub and hashprice):
    at every value of either, once both have one, ``fn`` of the latest of each."""
    merged = sorted([(t, 0, v) for t, v in a] + [(t, 1, v) for t, v in b], key=lambda p: (p[0], p[1]))
    latest: list[float | None] = [None, None]
    out: list[Point] = []
    for at, side, value in merged:
        latest[side] = value
        x, y = latest
        if x is None or y is None:
            continue
        combined = fn(x, y)
        if combined is not None and math.isfinite(combined):
            if out and out[-1][0] == at:
                out[-1] = (at, combined)  # one judgement per moment, with both values in
            else:
                out.append((at, combined))
    return out


def history_needed_s(rule: ThresholdRule | ChangeRule) -> int:
    """How much history the rule needs before it can fire at all: a change rule's window, or the
    window an ERCOT average or maximum is taken over; 0 for a plain threshold."""
    if isinstance(rule, ChangeRule):
        return rule.window_s
    suffix = rule.metric.rsplit(".", 1)[-1] if rule.metric.startswith("power.") else ""
    return DERIVED_WINDOWS.get(suffix, 0)


def holds_now(rule: ThresholdRule, value: float) -> bool:
    """Whether ``value`` is past the rule's threshold (the condition a new rule starts from)."""
    return rule.op.holds(value, rule.value)
