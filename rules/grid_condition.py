"""ERCOT grid condition and physical responsive capability (PRC): when to say something (issue 16).
Pure: no I/O, no clock.

ERCOT's public ladder (grid-risk-sources.md §2): normal → weather watch / advisory → conservation
appeal → Energy Emergency Alert 1 (all supply incl. imports) → EEA 2 (contracted load resources
deployed) → EEA 3 (rotating outages). The dashboard's ``current_condition`` gives a ``state``
word, a ``title`` and an ``eea_level``; only ``"normal"`` is attested in the samples we have, so
other words are classified by what they contain and an unknown word is reported as itself
(never mistaken for normal).

Two kinds of ``ercot.grid`` events, keyed ``ercot.grid:<what>:<value>:<since>`` so each change is
announced once:

* ``condition``: the condition differs from the last one seen (worse or better);
* ``prc``: PRC has crossed one of the configured thresholds (MW) and stayed on the new side for
  ``confirm`` consecutive readings (a single dip does not page anyone); an all-clear when it is
  back above them all.

The thresholds are configuration: the values ERCOT uses changed after 2021 and the reference's
current ones are unverified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.data import Event

EVENT_KIND = "ercot.grid"
SOURCE = "ercot"
# Worse is higher. Unknown conditions rank between the advisories and an EEA: not normal.
RANKS = {
    "normal": 0,
    "advisory": 1,
    "watch": 2,
    "conservation": 3,
    "other": 3,
    "eea1": 4,
    "eea2": 5,
    "eea3": 6,
}
NAMES = {
    "normal": "normal conditions",
    "advisory": "advisory",
    "watch": "watch",
    "conservation": "conservation appeal",
    "eea1": "Energy Emergency Alert level 1",
    "eea2": "Energy Emergency Alert level 2",
    "eea3": "Energy Emergency Alert level 3 (rotating outages)",
}
# Defaults (MW), worst last: an advisory below ~3,000, a watch / EEA 1 below ~2,500, EEA 2 below
# ~2,000, EEA 3 below ~1,500 (grid-risk-sources.md §2, UNVERIFIED: check ERCOT Nodal Protocols
# §6.5.9.4; they are configuration for that reason).
DEFAULT_PRC_THRESHOLDS = (3000.0, 2500.0, 2000.0, 1500.0)


@dataclass(frozen=True, slots=True)
class Condition:
    key: str  # "normal", "watch", "conservation", "eea1".. "eea3", or "other"
    title: str  # ERCOT's own words ("Normal Conditions")
    eea_level: int


def classify(state: str, title: str, eea_level: int) -> Condition:
    """ERCOT's ``state``/``title``/``eea_level`` as one of :data:`RANKS`."""
    if eea_level >= 1:
        return Condition(f"eea{min(eea_level, 3)}", title, eea_level)
    words = f"{state} {title}".lower()
    for needle, key in (("eea", "other"), ("emergenc", "other"), ("conserv", "conservation")):
        if needle in words:
            return Condition(key, title, eea_level)
    for needle, key in (("watch", "watch"), ("advisory", "advisory")):
        if needle in words:
            return Condition(key, title, eea_level)
    if state.strip().lower() == "normal":
        return Condition("normal", title, eea_level)
    return Condition("other", title or state, eea_level)


def band(prc: float, thresholds: Sequence[float]) -> int:
    """How many thresholds PRC is below (0: above them all)."""
    return sum(1 for t in thresholds if prc < t)


def condition_name(key: str, title: str = "") -> str:
    return NAMES.get(key) or title or key


@dataclass(frozen=True, slots=True)
class GridStep:
    state: dict[str, Any]
    events: list[Event]


def step(
    raw: Mapping[str, Any] | None,
    now: datetime,
    condition: Condition,
    prc: float | None,
    thresholds: Sequence[float],
    confirm: int = 2,
) -> GridStep:
    """Fold one reading into the state; return the events it causes. On the very first reading a
    normal grid says nothing (there is no change to report) and anything else is announced."""
    thresholds = sorted(thresholds, reverse=True)
    state = dict(raw or {})
    events: list[Event] = []
    previous = state.get("condition")
    state["title"] = condition.title
    if previous != condition.key:
        first = previous is None
        state["condition"] = condition.key
        state["since"] = now.isoformat()
        if not (first and condition.key == "normal"):
            worse = first or RANKS.get(condition.key, 3) > RANKS.get(str(previous), 0)
            data = {
                "what": "condition",
                "condition": condition.key,
                "title": condition.title,
                "eea_level": condition.eea_level,
                "previous": previous,
                "worse": worse,
                "prc_mw": prc,
            }
            key = f"{EVENT_KIND}:condition:{condition.key}:{now.isoformat()}"
            events.append(Event(EVENT_KIND, key, now, SOURCE, data))
    if prc is not None:
        new_band = band(prc, thresholds)
        current = int(state.get("prc_band", 0))
        if new_band == current:
            state.pop("prc_pending", None)
        else:
            pending = state.get("prc_pending") or {"band": new_band, "count": 0}
            if pending["band"] != new_band:
                pending = {"band": new_band, "count": 0}
            pending["count"] += 1
            if pending["count"] >= max(1, confirm) or "prc_band" not in state:
                state["prc_band"] = new_band
                state.pop("prc_pending", None)
                first = "prc_band" not in (raw or {})
                if not (first and new_band == 0):
                    crossed = thresholds[new_band - 1] if new_band > current else thresholds[new_band]
                    data = {
                        "what": "prc",
                        "prc_mw": prc,
                        "band": new_band,
                        "previous_band": current,
                        "worse": new_band > current,
                        "threshold_mw": crossed,
                        "thresholds_mw": list(thresholds),
                    }
                    key = f"{EVENT_KIND}:prc:{new_band}:{now.isoformat()}"
                    events.append(Event(EVENT_KIND, key, now, SOURCE, data))
            else:
                state["prc_pending"] = pending
        state.setdefault("prc_band", current)
    return GridStep(state, events)
