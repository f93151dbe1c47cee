"""Rules, alert state and decisions: plain frozen dataclasses shared by the grammar, the evaluator
and storage. Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal


class Op(StrEnum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    def holds(self, value: float, threshold: float) -> bool:
        if self is Op.LT:
            return value < threshold
        if self is Op.LE:
            return value <= threshold
        if self is Op.GT:
            return value > threshold
        return value >= threshold

    @property
    def upward(self) -> bool:
        """True for ``>``/``>=`` (the rule fires when the value goes up past the threshold)."""
        return self in (Op.GT, Op.GE)


@dataclass(frozen=True)
class ThresholdRule:
    metric: str
    op: Op
    value: float
    for_s: int = 0  # the condition must hold this long before firing (0: fire at once)
    every_s: int | None = None  # repeat while firing, at most this often (None: never repeat)
    margin_pct: float | None = None  # hysteresis in % of |value| (None: DEFAULTS.margin_pct)
    severe: bool = False  # "!": passes quiet hours


@dataclass(frozen=True)
class ChangeRule:
    metric: str
    direction: Literal["rises", "drops"]
    pct: float  # > 0
    window_s: int
    every_s: int | None = None
    severe: bool = False


@dataclass(frozen=True)
class EventRule:
    event: Literal[
        "retarget",
        "filings",
        "curtail",
        "digest",
        "converts",
        "4cp",
        "ercot.grid",
        "curtail tomorrow",
        "production",
        "treasury",
        "quiet",
        "debt",
        "maturity",
    ]
    tickers: tuple[str, ...] = ()  # filings, converts, debt, maturity: upper-case tickers, empty = any
    kinds: tuple[str, ...] = ()  # filings: canonical kinds (rules.events.ALL_KINDS), empty = financing kinds
    min_usd: float | None = None  # filings: minimum amount
    at: str | None = None  # digest: "HH:MM" local time of the chat
    severe: bool = False
    within_s: int | None = None  # maturity: a maturity or put date this close (seconds)


Rule = ThresholdRule | ChangeRule | EventRule


class Status(StrEnum):
    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(raw: Any) -> datetime | None:
    if raw is None or raw == "":
        return None
    parsed = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AlertState:
    """The state of one (chat, rule) alert instance, as stored between evaluations."""

    status: Status = Status.OK
    since: datetime | None = None  # when the current status began
    last_notified: datetime | None = None
    last_value: float | None = None
    nodata_notified: bool = False
    nodata_since: datetime | None = None  # with nodata_notified: since when the source had no data

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: times as ISO 8601 strings with their offset."""
        out = {
            "status": self.status.value,
            "since": _iso(self.since),
            "last_notified": _iso(self.last_notified),
            "last_value": self.last_value,
            "nodata_notified": self.nodata_notified,
        }
        if self.nodata_since is not None:  # only then: states stored before it are unchanged
            out["nodata_since"] = _iso(self.nodata_since)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> AlertState:
        """The inverse of :meth:`to_dict`. ``None`` or ``{}`` is the initial state; unknown keys are
        ignored; naive times are read as UTC."""
        if not d:
            return cls()
        raw_value = d.get("last_value")
        return cls(
            status=Status(d.get("status") or Status.OK.value),
            since=_parse_time(d.get("since")),
            last_notified=_parse_time(d.get("last_notified")),
            last_value=float(raw_value) if raw_value is not None else None,
            nodata_notified=bool(d.get("nodata_notified", False)),
            nodata_since=_parse_time(d.get("nodata_since")),
        )


class Reason(StrEnum):
    """Why :func:`rules.evaluate.evaluate` decided what it did (log it, store it with the notice)."""

    NO_CHANGE = "no_change"  # nothing happened (ok and the condition is false, or no data yet)
    PENDING = "pending"  # the condition holds but not yet for ``for``
    PENDING_CLEARED = "pending_cleared"  # the condition stopped holding before ``for`` elapsed
    FIRING = "firing"  # first firing: notify
    STILL_FIRING = "still_firing"  # firing, nothing to send
    REPEAT = "repeat"  # firing and ``every`` has elapsed since the last notice: notify
    RESOLVED = "resolved"  # back to normal (past the hysteresis band): notify for threshold rules
    NO_DATA = "no_data"  # the source has been stale too long: notify once


@dataclass(frozen=True)
class Decision:
    reason: Reason
    state: AlertState  # the state to store (always, even when notify is False)
    notify: bool
