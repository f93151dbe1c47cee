"""The records that flow through the pipeline: what a watcher observed and what happened once.

They live in ``rules/`` (the dependency-free core) so that watchers, storage and the bot all share
them without storage importing watchers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Observation:
    """One value of one metric, as a source reported it."""

    metric: str  # dotted, lower case: "difficulty.next_change"
    value: float  # in the metric's catalogue unit (rules/catalogue.py)
    at: datetime  # aware UTC time the value holds for
    source: str  # which upstream served it: "mempool", "bitcoind", "kraken", "ercot", ...


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened once (a retarget, a filing). ``key`` is its stable identity:
    the same real-world event always gets the same key, so it is announced once, ever."""

    kind: str  # "retarget", "filing", ...
    key: str  # "retarget:840672", "filing:0001104659-24-127656"
    at: datetime
    source: str
    data: Mapping[str, Any] = field(default_factory=dict)  # JSON-serialisable details
    announce: bool = True  # False for what a first run records without announcing
