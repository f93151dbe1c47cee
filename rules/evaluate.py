"""Alert evaluation: one rule, its stored state, one value, an injected ``now`` -> a :class:`Decision`.

Alertmanager-like and pure (no I/O, no clock):

* ``ok -> pending -> firing -> ok``. With ``for`` the condition must hold continuously for that long
  (every evaluation in between true) before the alert fires; without it, it fires at once.
* Notices go out on transitions only (FIRING, RESOLVED, NO_DATA) and on REPEAT, when the rule has
  ``every`` and that long has passed since the last notice. Without ``every`` a firing alert never
  repeats.
* Hysteresis: a firing threshold rule resolves only once the value is back past the threshold by a
  band: ``margin_pct`` % of |threshold| (default :data:`DEFAULTS` ``.margin_pct`` = 1 %). For a
  threshold of exactly 0 a percentage is nothing, so the band is an absolute amount per unit
  (``DEFAULTS.zero_bands``, e.g. 1 USD/MWh, 0.1 percentage point); ``margin 0%`` turns it off.
* Change rules (``rises/drops N% in W``) fire when (value − reference) / |reference| × 100 reaches
  +N / −N, and re-arm once the move over the window is back under N / 2 (so a move wobbling
  around N does not flap). Their resolution is silent (``notify=False``): "no longer up 5% in 1h"
  is noise.
* No data: a missing value never resolves anything. When the source has been stale for
  ``nodata_after_s`` (or the rule's ``for`` if longer), one NO_DATA notice goes out; when data
  returns the flag clears and evaluation goes on as normal. Gaps neither confirm nor break a
  pending ``for``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from rules.catalogue import lookup
from rules.model import (
    AlertState,
    ChangeRule,
    Decision,
    EventRule,
    Op,
    Reason,
    Status,
    ThresholdRule,
)


@dataclass(frozen=True)
class Defaults:
    """All evaluation defaults in one place (Alertmanager's DefaultRouteOpts)."""

    margin_pct: float = 1.0  # hysteresis band, % of |threshold|
    # Absolute hysteresis band per unit when the threshold is exactly 0.
    zero_bands: dict[str, float] = field(
        default_factory=lambda: {
            "%": 0.1,
            "USD/MWh": 1.0,
            "USD/PH/day": 0.1,
            "USD": 1.0,
            "BTC/PH/day": 1e-6,
            "BTC": 1e-4,
            "T": 0.1,
            "EH/s": 1.0,
            "TH/s": 1.0,
            "blocks": 1.0,
        }
    )
    zero_band_fallback: float = 0.01  # units not listed above
    change_rearm_fraction: float = 0.5  # a change rule re-arms when the move is under this × pct
    nodata_after_s: int = 1800
    send_resolved: bool = True  # threshold rules
    send_resolved_change: bool = False  # change rules


DEFAULTS = Defaults()


def effective_threshold_rule(rule: EventRule) -> ThresholdRule | None:
    """``curtail`` is the threshold ``curtail.margin > 0``: it fires when the real-time power price
    at the chat's hub rises above its breakeven and resolves ("mine again") once it is back under
    it by the hysteresis band (1 USD/MWh). Other event rules have no threshold: None."""
    if rule.event == "curtail":
        return ThresholdRule("curtail.margin", Op.GT, 0.0, severe=rule.severe)
    return None


def hysteresis_band(rule: ThresholdRule) -> float:
    """How far past the threshold the value must come back before a firing rule resolves."""
    pct = DEFAULTS.margin_pct if rule.margin_pct is None else rule.margin_pct
    if pct <= 0:
        return 0.0
    if rule.value != 0:
        return abs(rule.value) * pct / 100.0
    info = lookup(rule.metric)
    unit = info.unit if info is not None else ""
    return DEFAULTS.zero_bands.get(unit, DEFAULTS.zero_band_fallback) * pct / DEFAULTS.margin_pct


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}
_UPWARD = frozenset({Op.GT, Op.GE})


def _threshold_condition(rule: ThresholdRule, value: float, firing: bool) -> bool:
    threshold = rule.value
    if firing:  # stay firing until the value is back past the threshold by the band
        band = hysteresis_band(rule)
        threshold = threshold - band if rule.op in _UPWARD else threshold + band
    return _COMPARE[rule.op](value, threshold)


def change_pct(value: float, reference: float) -> float | None:
    """(value − reference) / |reference| × 100, or None when the reference is 0."""
    if reference == 0 or not math.isfinite(reference):
        return None
    return (value - reference) / abs(reference) * 100.0


def _change_condition(rule: ChangeRule, change: float, firing: bool) -> bool:
    need = rule.pct * (DEFAULTS.change_rearm_fraction if firing else 1.0)
    return change >= need if rule.direction == "rises" else change <= -need


def evaluate(
    rule: ThresholdRule | ChangeRule | EventRule,
    state: AlertState,
    value: float | None,
    now: datetime,
    *,
    reference: float | None = None,
    stale_since: datetime | None = None,
    nodata_after_s: int = DEFAULTS.nodata_after_s,
) -> Decision:
    """Decide what one new value (or its absence) means for one alert instance.

    ``rule`` may also be the ``curtail`` event rule (evaluated as its effective threshold).
    ``reference`` is, for a change rule, the metric's value ``window_s`` ago (the caller looks it
    up); without it (not enough history yet) nothing changes. ``stale_since``, with ``value`` None,
    is since when the source has had no fresh data. ``decision.state`` is always what to store."""
    if now.tzinfo is None:
        raise ValueError("evaluate() needs an aware 'now' (UTC)")
    if isinstance(rule, EventRule):
        effective = effective_threshold_rule(rule)
        if effective is None:
            raise TypeError(f"event rule {rule.event!r} is matched by rules.events, not evaluated")
        rule = effective

    if value is None or not math.isfinite(value):
        return _no_data(rule, state, now, stale_since, nodata_after_s)

    # Data is here: from now on every new state has nodata_notified=False (the flag clears).
    firing = state.status is Status.FIRING

    if isinstance(rule, ChangeRule):
        change = None if reference is None else change_pct(value, reference)
        if change is None:  # no history to compare with yet: hold the state as it is
            return Decision(Reason.NO_CHANGE, _held(state), False)
        holds = _change_condition(rule, change, firing)
        for_s = 0
        send_resolved = DEFAULTS.send_resolved_change
    else:
        holds = _threshold_condition(rule, value, firing)
        for_s = rule.for_s
        send_resolved = DEFAULTS.send_resolved

    return _transition(state, holds, value, now, for_s, rule.every_s, send_resolved)


def _no_data(
    rule: ThresholdRule | ChangeRule,
    state: AlertState,
    now: datetime,
    stale_since: datetime | None,
    nodata_after_s: int,
) -> Decision:
    if stale_since is None or state.nodata_notified:
        return Decision(Reason.NO_CHANGE, state, False)
    limit = max(nodata_after_s, rule.for_s if isinstance(rule, ThresholdRule) else 0)
    if (now - stale_since).total_seconds() >= limit:
        notified = replace(state, nodata_notified=True, last_notified=now, nodata_since=stale_since)
        return Decision(Reason.NO_DATA, notified, True)
    return Decision(Reason.NO_CHANGE, state, False)


def _held(state: AlertState) -> AlertState:
    """``state`` as it is, minus a ``last_value`` an older version stored (values live in
    observations; a state changes only when something a later evaluation or a user needs does)."""
    if state.last_value is None:
        return state
    return AlertState(
        state.status, state.since, state.last_notified, None, state.nodata_notified, state.nodata_since
    )


def _kept(state: AlertState) -> AlertState:
    """The same state with data present: the no-data flag clears; the very object when nothing
    changes, so callers compare cheaply and write nothing."""
    if not state.nodata_notified and state.last_value is None:
        return state
    return AlertState(state.status, state.since, state.last_notified)


def _transition(
    state: AlertState,
    holds: bool,
    value: float,
    now: datetime,
    for_s: int,
    every_s: int | None,
    send_resolved: bool,
) -> Decision:
    # AlertState(...) rather than dataclasses.replace: this is the hot path (bench/bench_rules.py).
    status, since, last_notified = state.status, state.since, state.last_notified

    if status is Status.FIRING:
        if not holds:
            notified = now if send_resolved else last_notified
            return Decision(Reason.RESOLVED, AlertState(Status.OK, now, notified), send_resolved)
        last = last_notified or since
        if every_s is not None and (last is None or (now - last).total_seconds() >= every_s):
            return Decision(Reason.REPEAT, AlertState(status, since, now), True)
        return Decision(Reason.STILL_FIRING, _kept(state), False)

    if not holds:
        if status is Status.PENDING:
            return Decision(Reason.PENDING_CLEARED, AlertState(Status.OK, now, last_notified), False)
        return Decision(Reason.NO_CHANGE, _kept(state), False)

    if status is Status.PENDING:
        started = since or now
        if (now - started).total_seconds() >= for_s:
            return Decision(Reason.FIRING, AlertState(Status.FIRING, now, now), True)
        return Decision(Reason.PENDING, _kept(state), False)

    if for_s > 0:  # ok -> pending
        return Decision(Reason.PENDING, AlertState(Status.PENDING, now, last_notified), False)
    return Decision(Reason.FIRING, AlertState(Status.FIRING, now, now), True)
