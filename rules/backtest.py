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
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.evaluate import evaluate
from rules.model import AlertState, ChangeRule, Reason, Status, ThresholdRule

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


def replay(
    rule: ThresholdRule | ChangeRule,
    series: Sequence[Point],
    start: datetime,
    end: datetime,
) -> Backtest:
    """Judge every value of ``series`` (sorted by time) from ``start`` to ``end`` as the engine
    would have, starting from the initial state. For a change rule ``series`` should also hold the
    ``window`` before ``start`` (its references); values before ``start`` are never judged."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("replay() needs aware times (UTC)")
    times = [t for t, _ in series]
    values = [v for _, v in series]
    window = timedelta(seconds=rule.window_s) if isinstance(rule, ChangeRule) else None
    state = AlertState()
    evaluated = fired = notices = 0
    last_fired: datetime | None = None
    longest = 0.0
    began: datetime | None = None
    first = bisect_right(times, start - timedelta(microseconds=1))
    for i in range(first, len(times)):
        at, value = times[i], values[i]
        if at > end:
            break
        reference = reference_at(times, values, at - window) if window is not None else None
        decision = evaluate(rule, state, value, at, reference=reference)
        state = decision.state
        evaluated += 1
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
