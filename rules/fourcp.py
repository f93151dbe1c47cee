"""ERCOT 4CP watch (issue 16): pure logic, no I/O, no clock (``now`` is passed in).

4CP: a large Texas load's transmission charges for the next year follow its demand in four
15-minute intervals, the single highest ERCOT system-load interval of each of June, July, August
and September (grid-risk-sources.md §1). The peak is only known afterwards, so miners curtail on
*likely* peak days. This module turns ERCOT's load series into three warnings per day at most:

* ``forecast``: today's forecast peak is within ``margin_pct`` (default 2 %) of the month's peak
  so far (the highest complete 15-minute interval of the earlier days of the month);
* ``actual``: during the afternoon window (default 13:00-20:00 Central Prevailing Time) a
  completed 15-minute interval of actual load comes within that margin of the month's peak;
* ``result``: once the window is over, on a day that warned or set a new peak, whether today's
  highest interval set a new monthly peak.

Each is an :class:`rules.data.Event` keyed ``4cp:<CPT date>:<stage>``, so the storage's events
table (and the outbox key ``storage.keys.event_announcement``) announce it once per day per stage,
never a stream. The months are configuration: Texas may replace 4CP (grid-risk-sources.md §1).

Intervals: ERCOT's dashboard gives 5-minute load values, each stamped with its interval END. A
15-minute interval is the mean of its three 5-minute values and exists only when all three are
there. Central Prevailing Time is ``America/Chicago`` (CST/CDT), whose offsets are whole hours, so
quarter hours align in UTC and in CPT alike. An interval belongs to the CPT date of its start
(the one ending at 00:00 is the previous day's last).

The state (a JSON-serialisable dict the watcher persists) holds, for the current CPT month, each
observed day's highest interval, the stages already announced, and today's forecast peak.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from rules.data import Event

CPT = ZoneInfo("America/Chicago")  # ERCOT's Central Prevailing Time
FIVE_MIN = timedelta(minutes=5)
QUARTER = timedelta(minutes=15)
STATE_VERSION = 1
STAGES = ("forecast", "actual", "result")
SOURCE = "ercot"
EVENT_KIND = "4cp"
DEFAULT_MONTHS = (6, 7, 8, 9)


@dataclass(frozen=True, slots=True)
class LoadPoint:
    """One load value: ERCOT system demand in MW for the interval ending at ``end`` (aware UTC)."""

    end: datetime
    mw: float


@dataclass(frozen=True, slots=True)
class FourCpConfig:
    months: tuple[int, ...] = DEFAULT_MONTHS
    margin_pct: float = 2.0  # warn when within this % of the month's peak so far
    window_start: time = time(13, 0)  # afternoon window, CPT wall clock
    window_end: time = time(20, 0)

    def __post_init__(self) -> None:
        if not self.months or any(not 1 <= m <= 12 for m in self.months):
            raise ValueError(f"months {self.months!r} must be month numbers 1-12")
        if not 0 <= self.margin_pct < 50:
            raise ValueError(f"margin {self.margin_pct!r}% must be in 0..50")
        if self.window_start >= self.window_end:
            raise ValueError("the window must start before it ends (same CPT day)")


@dataclass(frozen=True, slots=True)
class Peak:
    day: date  # CPT date of the interval's start
    mw: float
    end: datetime  # aware UTC end of the 15-minute interval


@dataclass(frozen=True, slots=True)
class FourCpStep:
    state: dict[str, Any]
    events: list[Event]
    month_peak: Peak | None  # highest complete interval of the month so far, today included
    forecast: LoadPoint | None  # today's forecast peak (of the hours still ahead)
    in_season: bool


def cpt_day(end: datetime, length: timedelta = QUARTER) -> date:
    """The CPT date an interval ending at ``end`` belongs to (the date of its start)."""
    return (end - length).astimezone(CPT).date()


def quarters(points: Iterable[LoadPoint]) -> dict[datetime, float]:
    """Complete 15-minute intervals (end UTC -> mean MW) from 5-minute values: the values ending
    at :05, :10 and :15 make the quarter ending at :15. A quarter missing any of its three values
    is left out (never estimated). A repeated end keeps its last value."""
    by_end: dict[datetime, float] = {}
    for p in points:
        by_end[p.end.astimezone(UTC)] = p.mw
    groups: dict[datetime, list[float]] = {}
    for end, mw in by_end.items():
        seconds = end.timestamp()
        quarter_end = datetime.fromtimestamp(math.ceil(seconds / 900) * 900, UTC)
        groups.setdefault(quarter_end, []).append(mw)
    return {end: sum(v) / len(v) for end, v in groups.items() if len(v) == 3}


def hour_ending(end: datetime) -> int:
    """ERCOT's hour ending (1-24) of an interval ending at ``end``: the CPT hour it lies in + 1."""
    return (end - timedelta(seconds=1)).astimezone(CPT).hour + 1


def interval_label(end: datetime, length: timedelta, tz: tzinfo) -> str:
    """An interval in the reader's zone, labelled with ERCOT's own time (hour ending, Central
    Prevailing Time): ``"23:45–00:00 CEST (HE 17 CPT, 16:45–17:00)"``; a chat on Central time
    gets ``"16:45–17:00 CDT (HE 17 CPT)"``."""
    start = end - length
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    local = f"{local_start:%H:%M}–{local_end:%H:%M} {local_end:%Z}"
    grid_start, grid_end = start.astimezone(CPT), end.astimezone(CPT)
    he = f"HE {hour_ending(end)} CPT"
    if local_start.utcoffset() == grid_start.utcoffset() and local_end.utcoffset() == grid_end.utcoffset():
        return f"{local} ({he})"
    return f"{local} ({he}, {grid_start:%H:%M}–{grid_end:%H:%M})"


def day_label(day: date) -> str:
    return f"{day:%a} {day:%b} {day.day}"


def _fresh(month: str) -> dict[str, Any]:
    return {"version": STATE_VERSION, "month": month, "days": {}, "stages": {}, "forecast": None}


def load_state(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """A validated private copy of the stored 4CP state; anything unreadable is an empty state
    (the month's peaks are then rebuilt from the days still observed)."""
    if not raw:
        return _fresh("")
    try:
        month = str(raw["month"])
        days = {
            str(date.fromisoformat(d)): [
                float(v[0]),
                datetime.fromisoformat(v[1]).astimezone(UTC).isoformat(),
            ]
            for d, v in dict(raw["days"]).items()
        }
        stages = {
            str(date.fromisoformat(d)): [s for s in v if s in STAGES] for d, v in dict(raw["stages"]).items()
        }
        fc = raw.get("forecast")
        forecast = None
        if fc:
            forecast = {
                "day": str(date.fromisoformat(fc["day"])),
                "mw": float(fc["mw"]),
                "end": datetime.fromisoformat(fc["end"]).astimezone(UTC).isoformat(),
            }
        if raw.get("version") != STATE_VERSION or any(not math.isfinite(v[0]) for v in days.values()):
            raise ValueError("bad version or value")
        return {
            "version": STATE_VERSION,
            "month": month,
            "days": days,
            "stages": stages,
            "forecast": forecast,
        }
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return _fresh("")


def _peak_of(days: Mapping[str, Sequence[Any]], before: date | None = None) -> Peak | None:
    best: Peak | None = None
    for d, (mw, end) in days.items():
        day = date.fromisoformat(d)
        if before is not None and day >= before:
            continue
        if best is None or mw > best.mw:
            best = Peak(day, float(mw), datetime.fromisoformat(end))
    return best


def month_peak(state: Mapping[str, Any], before: date | None = None) -> Peak | None:
    """The month's highest interval observed so far (only days before ``before`` if given)."""
    return _peak_of(state.get("days") or {}, before)


def _within(mw: float, peak: Peak, margin_pct: float) -> bool:
    return mw >= peak.mw * (1 - margin_pct / 100)


def _pct_below(mw: float, peak: Peak) -> float:
    return (peak.mw - mw) / peak.mw * 100


def _event(day: date, stage: str, now: datetime, data: dict[str, Any]) -> Event:
    return Event(EVENT_KIND, f"{EVENT_KIND}:{day.isoformat()}:{stage}", now, SOURCE, {"stage": stage, **data})


def _peak_data(peak: Peak | None, prefix: str) -> dict[str, Any]:
    if peak is None:
        return {f"{prefix}_mw": None, f"{prefix}_end": None, f"{prefix}_day": None}
    return {
        f"{prefix}_mw": peak.mw,
        f"{prefix}_end": peak.end.isoformat(),
        f"{prefix}_day": peak.day.isoformat(),
    }


def _result_events(state: dict[str, Any], now: datetime, cfg: FourCpConfig, today: date) -> list[Event]:
    """``result`` for each day of the state whose window is over and that warned or set a new
    monthly peak, once."""
    out: list[Event] = []
    for d in sorted(state["days"]):
        day = date.fromisoformat(d)
        if day.month not in cfg.months:
            continue
        window_over = day < today or now.astimezone(CPT).time() >= cfg.window_end
        stages = state["stages"].setdefault(d, [])
        if not window_over or "result" in stages:
            continue
        prior = month_peak(state, before=day)
        mw, end = state["days"][d]
        new_peak = prior is None or mw > prior.mw
        warned = "forecast" in stages or "actual" in stages
        if not warned and not (new_peak and prior is not None):
            continue  # an ordinary day (or the month's first observed day): nothing to say
        stages.append("result")
        data = {
            "day": d,
            "mw": float(mw),
            "end": end,
            "new_peak": new_peak,
            "warned": warned,
            "margin_pct": cfg.margin_pct,
            **_peak_data(prior, "prior"),
        }
        out.append(_event(day, "result", now, data))
    return out


def step(
    raw_state: Mapping[str, Any] | None,
    now: datetime,
    actuals: Sequence[LoadPoint],
    forecast: Sequence[LoadPoint],
    cfg: FourCpConfig,
) -> FourCpStep:
    """One poll's worth of 4CP: fold today's actual 5-minute load (``actuals``) and ERCOT's
    forecast for the rest of the day (``forecast``) into the state; return the new state and the
    events to announce. Call it on every poll, in or out of season (out of season it only keeps
    the month's peaks, which /4cp and ``ercot.load.month_peak`` show)."""
    state = load_state(raw_state)
    local_now = now.astimezone(CPT)
    today = local_now.date()
    month = f"{today:%Y-%m}"
    events: list[Event] = []
    if state["month"] != month:
        # Results still owed for the last days of the month that ended, then a fresh month.
        if state["month"]:
            events += _result_events(state, now, cfg, today)
        state = _fresh(month)

    for end, mw in quarters(actuals).items():
        day = cpt_day(end)
        if f"{day:%Y-%m}" != month or end > now:
            continue
        key = day.isoformat()
        old = state["days"].get(key)
        if old is None or mw > old[0]:
            state["days"][key] = [mw, end.isoformat()]

    ahead = [p for p in forecast if cpt_day(p.end, FIVE_MIN) == today and p.end > now]
    fc_peak = max(ahead, key=lambda p: p.mw) if ahead else None
    if fc_peak is not None:
        state["forecast"] = {"day": today.isoformat(), "mw": fc_peak.mw, "end": fc_peak.end.isoformat()}
    elif state["forecast"] and state["forecast"]["day"] != today.isoformat():
        state["forecast"] = None

    in_season = today.month in cfg.months
    if in_season:
        prior = month_peak(state, before=today)
        stages = state["stages"].setdefault(today.isoformat(), [])
        due = prior is not None and fc_peak is not None and "forecast" not in stages
        if due and prior is not None and fc_peak is not None and _within(fc_peak.mw, prior, cfg.margin_pct):
            stages.append("forecast")
            data = {
                "day": today.isoformat(),
                "mw": fc_peak.mw,
                "end": fc_peak.end.isoformat(),
                "pct_below": _pct_below(fc_peak.mw, prior),
                "margin_pct": cfg.margin_pct,
                **_peak_data(prior, "prior"),
            }
            events.append(_event(today, "forecast", now, data))
        # The newest complete interval inside the window, if it is recent (a bot that was down
        # does not warn hours late about an interval that has passed).
        if prior is not None and local_now.time() > cfg.window_start and "actual" not in stages:
            done = sorted(
                (e, mw)
                for e, mw in quarters(actuals).items()
                if cpt_day(e) == today
                and e <= now
                and cfg.window_start < e.astimezone(CPT).time() <= cfg.window_end
            )
            if done and now - done[-1][0] <= 2 * QUARTER and _within(done[-1][1], prior, cfg.margin_pct):
                end, mw = done[-1]
                stages.append("actual")
                data = {
                    "day": today.isoformat(),
                    "mw": mw,
                    "end": end.isoformat(),
                    "pct_below": _pct_below(mw, prior),
                    "new_peak": mw > prior.mw,
                    "margin_pct": cfg.margin_pct,
                    **_peak_data(prior, "prior"),
                }
                events.append(_event(today, "actual", now, data))
    events += _result_events(state, now, cfg, today)
    # Stages of days no longer in the state's month are gone with it; keep the map small.
    state["stages"] = {d: s for d, s in state["stages"].items() if s and d.startswith(month)}
    return FourCpStep(state, events, month_peak(state), fc_peak, in_season)


def status(state: Mapping[str, Any] | None, now: datetime, cfg: FourCpConfig, top: int = 5) -> dict[str, Any]:
    """What /4cp and the digest show: the month's highest days so far (best first), today's
    forecast peak, today's stages and whether the season is on. Pure read of the state."""
    st = load_state(state)
    today = now.astimezone(CPT).date()
    current = st["month"] == f"{today:%Y-%m}"
    days = st["days"] if current else {}
    peaks = sorted(
        (Peak(date.fromisoformat(d), float(v[0]), datetime.fromisoformat(v[1])) for d, v in days.items()),
        key=lambda p: p.mw,
        reverse=True,
    )
    fc = st["forecast"] if current and st["forecast"] and st["forecast"]["day"] == today.isoformat() else None
    forecast = LoadPoint(datetime.fromisoformat(fc["end"]), float(fc["mw"])) if fc else None
    prior = _peak_of(days, before=today)
    return {
        "in_season": today.month in cfg.months,
        "today": today,
        "peaks": peaks[:top],
        "observed_since": min((p.day for p in peaks), default=None),
        "prior": prior,
        "forecast": forecast,
        "forecast_pct_below": _pct_below(forecast.mw, prior) if forecast and prior else None,
        "stages": list(st["stages"].get(today.isoformat(), [])) if current else [],
        "margin_pct": cfg.margin_pct,
    }
