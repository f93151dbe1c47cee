"""ERCOT grid risk (issue 16): system load and the 4CP watch.

Data path (keyless; grid-risk-sources.md §1, the endpoint gridstatus's ``Ercot.get_load("today")``
reads)::

    GET {base_url}/api/1/services/read/dashboards/supply-demand.json

``{"lastUpdated": ..., "data": [{"timestamp", "epoch" (ms), "demand" (MW), "forecast": 0|1, ...}],
"forecast": [...]}``. Rows with ``forecast == 0`` are today's actual system load, 5-minute values
stamped (``epoch``) with the END of their interval; rows with ``forecast == 1`` are ERCOT's forecast
for the rest of today. The ``forecast`` array (the 6-day hourly outlook) is not read: its date and
hour fields are undocumented wall-clock strings that gridstatus had to patch for DST (PR #696).
Only ``epoch`` is trusted for time: ERCOT's textual offsets are wrong in summer (§5 there).

One request per poll, whatever the number of chats. The dashboard changes every 5 minutes, hence
the 5-minute default. An HTTP 429 or 503 makes the watcher stand back (Retry-After, else 10 min,
doubling on repeats up to 2 h) without asking again until then.

Emitted metrics (MW), stamped with the end of the newest actual 5-minute interval:

* ``ercot.load``             actual system load of the newest interval
* ``ercot.load.forecast``    today's forecast peak of the hours still ahead (its hour in the notes)
* ``ercot.load.month_peak``  the month's highest complete 15-minute interval observed so far

and the ``4cp`` events of :mod:`rules.fourcp` (in season, one per CPT day and stage).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rules import fourcp, grid_condition
from rules.catalogue import MAX_CLOCK_SKEW_S
from rules.data import Observation
from rules.durations import Duration
from watchers.base import PollContext, PollResult, SourceError, fetch_json, plausible
from watchers.ercot import ErcotSourceConfig

logger = logging.getLogger(__name__)

SOURCE = "ercot"
SUPPLY_DEMAND_PATH = "/api/1/services/read/dashboards/supply-demand.json"
DAILY_PRC_PATH = "/api/1/services/read/dashboards/daily-prc.json"
MAX_BYTES = 4 * 1024 * 1024  # a day of 5-minute rows plus the outlook is ~100 kB
STALE_AFTER = timedelta(minutes=30)  # newest actual value older than this: the source is stale
BACKOFF_S = 600.0
MAX_BACKOFF_S = 7200.0
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class GridWatcherConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Off by default: for miners in Texas.
    enabled: bool = False
    # ERCOT's supply-demand dashboard changes every 5 minutes; polling faster only repeats it.
    every: Duration = 300
    # 4CP: the months whose single highest 15-minute load interval sets next year's transmission
    # charges (June-September today; Texas may change the scheme, so it is configuration).
    fourcp_months: list[int] = Field(default_factory=lambda: list(fourcp.DEFAULT_MONTHS))
    fourcp_margin_pct: float = Field(default=2.0, ge=0, lt=50)
    # Afternoon window (Central Prevailing Time) in which actual load is watched interval by interval.
    fourcp_window: str = "13:00-20:00"
    # Grid emergencies: PRC (physical responsive capability, MW) thresholds whose crossing is an
    # ercot.grid event. The defaults are the post-2021 levels as reported in the press (advisory
    # ~3,000, watch/EEA 1 ~2,500, EEA 2 ~2,000, EEA 3 ~1,500): UNVERIFIED against ERCOT's
    # Nodal Protocols §6.5.9.4, hence configuration.
    prc_thresholds_mw: list[float] = Field(
        default_factory=lambda: list(grid_condition.DEFAULT_PRC_THRESHOLDS)
    )
    # A crossing counts once PRC has stayed on the new side for this many polls (no page on one dip).
    prc_confirm_polls: int = Field(default=2, ge=1, le=12)

    @field_validator("fourcp_months")
    @classmethod
    def _check_months(cls, value: list[int]) -> list[int]:
        if not value or any(not 1 <= m <= 12 for m in value):
            raise ValueError("list month numbers 1-12, e.g. [6, 7, 8, 9]")
        return sorted(set(value))

    @field_validator("fourcp_window")
    @classmethod
    def _check_window(cls, value: str) -> str:
        m = _WINDOW.match(value.strip())
        if (
            not m
            or int(m.group(1)) > 23
            or int(m.group(3)) > 23
            or int(m.group(2)) > 59
            or int(m.group(4)) > 59
        ):
            raise ValueError('write the window as "HH:MM-HH:MM" in Central time, e.g. "13:00-20:00"')
        start, end = time(int(m.group(1)), int(m.group(2))), time(int(m.group(3)), int(m.group(4)))
        if start >= end:
            raise ValueError("the window must start before it ends, within one day")
        return f"{start:%H:%M}-{end:%H:%M}"

    @field_validator("prc_thresholds_mw")
    @classmethod
    def _check_thresholds(cls, value: list[float]) -> list[float]:
        if any(not 0 < v < 100_000 for v in value) or len(set(value)) != len(value):
            raise ValueError("list distinct PRC levels in MW, e.g. [3000, 2500, 2000, 1500]")
        return sorted(value, reverse=True)

    def fourcp(self) -> fourcp.FourCpConfig:
        start, end = (time.fromisoformat(t) for t in self.fourcp_window.split("-"))
        return fourcp.FourCpConfig(tuple(self.fourcp_months), self.fourcp_margin_pct, start, end)


def _epoch(raw: Any, row: int) -> datetime:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != raw:
        raise SourceError(SOURCE, f"supply-demand row {row}: epoch {raw!r} is not a number of milliseconds")
    try:
        return datetime.fromtimestamp(raw / 1000, UTC)
    except (OverflowError, OSError, ValueError) as err:
        raise SourceError(SOURCE, f"supply-demand row {row}: epoch {raw!r} is not a time") from err


def _demand(raw: Any, row: int) -> float:
    if isinstance(raw, bool) or raw is None:
        raise SourceError(SOURCE, f"supply-demand row {row}: demand {raw!r} is not a number")
    try:
        value = float(str(raw).replace(",", "")) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError) as err:
        raise SourceError(SOURCE, f"supply-demand row {row}: demand {raw!r} is not a number") from err
    return plausible("ercot.load", value, source=SOURCE)


def parse_supply_demand(payload: Any, now: datetime) -> tuple[list[fourcp.LoadPoint], list[fourcp.LoadPoint]]:
    """(actual, forecast) 5-minute load points of a supply-demand.json answer, oldest first.
    The whole answer is rejected (SourceError) if any row is malformed, implausible, or an
    actual value lies in the future: a file with one bad value is not trusted for the others."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("data"), list):
        raise SourceError(SOURCE, "supply-demand answer has no data list")
    actual: dict[datetime, float] = {}
    forecast: dict[datetime, float] = {}
    for i, row in enumerate(payload["data"]):
        if not isinstance(row, Mapping):
            raise SourceError(SOURCE, f"supply-demand row {i} is not an object")
        flag = row.get("forecast")
        if flag not in (0, 1) or isinstance(flag, bool):
            raise SourceError(SOURCE, f"supply-demand row {i}: forecast flag {flag!r} is neither 0 nor 1")
        end = _epoch(row.get("epoch"), i)
        mw = _demand(row.get("demand"), i)
        if flag == 0:
            if (end - now).total_seconds() > MAX_CLOCK_SKEW_S:
                raise SourceError(SOURCE, f"supply-demand actual load for {end.isoformat()} is in the future")
            actual[end] = mw
        else:
            forecast[end] = mw
    if not actual:
        raise SourceError(SOURCE, "supply-demand answer has no actual load rows")
    return (
        [fourcp.LoadPoint(e, actual[e]) for e in sorted(actual)],
        [fourcp.LoadPoint(e, forecast[e]) for e in sorted(forecast)],
    )


def _prc_number(raw: Any) -> float:
    # ERCOT writes prc_value with a thousands comma ("13,820"); gridstatus strips it too.
    if isinstance(raw, bool) or raw is None:
        raise SourceError(SOURCE, f"daily-prc: prc_value {raw!r} is not a number")
    try:
        value = float(raw.replace(",", "")) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError) as err:
        raise SourceError(SOURCE, f"daily-prc: prc_value {raw!r} is not a number") from err
    return plausible("ercot.prc", value, source=SOURCE)


def parse_daily_prc(payload: Any, now: datetime) -> tuple[grid_condition.Condition, float, datetime]:
    """(condition, PRC in MW, the time ERCOT gives for them) of a daily-prc.json answer:
    ``current_condition{state, title, prc_value, eea_level, datetime (epoch s), ...}``."""
    cc = payload.get("current_condition") if isinstance(payload, Mapping) else None
    if not isinstance(cc, Mapping):
        raise SourceError(SOURCE, "daily-prc answer has no current_condition object")
    state, title, eea = cc.get("state"), cc.get("title") or "", cc.get("eea_level", 0)
    if not isinstance(state, str) or not state.strip() or not isinstance(title, str):
        raise SourceError(SOURCE, f"daily-prc: state {state!r} is not a word")
    if isinstance(eea, str) and eea.strip().isdigit():
        eea = int(eea)
    if isinstance(eea, bool) or not isinstance(eea, int) or not 0 <= eea <= 3:
        raise SourceError(SOURCE, f"daily-prc: eea_level {eea!r} is not 0-3")
    stamp = cc.get("datetime")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        raise SourceError(SOURCE, f"daily-prc: datetime {stamp!r} is not epoch seconds")
    try:
        at = datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, OSError, ValueError) as err:
        raise SourceError(SOURCE, f"daily-prc: datetime {stamp!r} is not a time") from err
    if (at - now).total_seconds() > MAX_CLOCK_SKEW_S:
        raise SourceError(SOURCE, f"daily-prc: condition time {at.isoformat()} is in the future")
    if at < now - STALE_AFTER:
        raise SourceError(SOURCE, f"daily-prc: condition is from {at.isoformat()}: stale")
    return grid_condition.classify(state, title, eea), _prc_number(cc.get("prc_value")), at


class GridWatcher:
    """Implements :class:`watchers.base.Watcher` for ERCOT's system load and the 4CP watch."""

    id = "grid"

    def __init__(self, cfg: GridWatcherConfig, source: ErcotSourceConfig) -> None:
        self.cfg = cfg
        self.source = source
        self.fourcp = cfg.fourcp()
        # Back-off after 429/503, kept in memory: the runner persists state only after a success.
        self._backoff_until: datetime | None = None
        self._strikes = 0

    async def _fetch(self, ctx: PollContext, path: str) -> Any:
        if self._backoff_until is not None and ctx.now < self._backoff_until:
            raise SourceError(
                SOURCE, f"standing back after HTTP 429/503 until {self._backoff_until:%H:%M} UTC"
            )
        try:
            payload = await fetch_json(
                ctx.session,
                self.source.base_url + path,
                source=SOURCE,
                timeout_s=self.source.timeout_s,
                max_bytes=MAX_BYTES,
            )
        except SourceError as err:
            if err.message.startswith(("HTTP 429", "HTTP 503")):
                self._strikes += 1
                wait = max(err.retry_after_s or 0.0, min(MAX_BACKOFF_S, BACKOFF_S * 2 ** (self._strikes - 1)))
                self._backoff_until = ctx.now + timedelta(seconds=wait)
                logger.warning("ercot grid: %s; no request for %.0f s", err.message, wait)
            raise
        self._strikes = 0
        self._backoff_until = None
        return payload

    async def poll(self, ctx: PollContext) -> PollResult:
        payload = await self._fetch(ctx, SUPPLY_DEMAND_PATH)
        actual, forecast = parse_supply_demand(payload, ctx.now)
        newest = actual[-1]
        if newest.end < ctx.now - STALE_AFTER:
            raise SourceError(SOURCE, f"newest actual load is for {newest.end.isoformat()}: stale")
        step = fourcp.step(ctx.state.get("fourcp"), ctx.now, actual, forecast, self.fourcp)
        at = newest.end
        observations = [Observation("ercot.load", newest.mw, at, SOURCE)]
        notes: dict[str, str] = {}
        if step.forecast is not None:
            observations.append(Observation("ercot.load.forecast", step.forecast.mw, at, SOURCE))
            notes["ercot.load.forecast"] = f"peak HE {fourcp.hour_ending(step.forecast.end)} CPT"
        if step.month_peak is not None:
            peak = step.month_peak
            observations.append(Observation("ercot.load.month_peak", peak.mw, at, SOURCE))
            notes["ercot.load.month_peak"] = (
                f"{fourcp.day_label(peak.day)}, HE {fourcp.hour_ending(peak.end)} CPT "
                f"(interval ending {peak.end.astimezone(fourcp.CPT):%H:%M})"
            )
        ctx.state["fourcp"] = step.state
        events = list(step.events)
        errors: dict[str, str] = {}
        try:
            condition, prc, prc_at = parse_daily_prc(await self._fetch(ctx, DAILY_PRC_PATH), ctx.now)
        except SourceError as err:
            # The load and 4CP part stands; the grid condition is reported as degraded.
            errors["ercot-prc"] = err.message
        else:
            observations.append(Observation("ercot.prc", prc, prc_at, SOURCE))
            notes["ercot.prc"] = condition.title or condition.key
            grid = grid_condition.step(
                ctx.state.get("grid"),
                ctx.now,
                condition,
                prc,
                self.cfg.prc_thresholds_mw,
                self.cfg.prc_confirm_polls,
            )
            ctx.state["grid"] = grid.state
            events += grid.events
        return PollResult(observations=observations, events=events, notes=notes, errors=errors)
