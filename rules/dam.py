"""Tomorrow's curtailment plan from ERCOT's day-ahead market (issue 16). Pure: no I/O, no clock.

ERCOT's DAM settlement point prices (NP4-190-CD) are hourly, labelled by hour ending in Central
Prevailing Time. A fleet loses money in every hour whose price is above its breakeven (rules/
fleet.py), so the plan is the runs of consecutive such hours: "curtail 14:00–19:00 CT, 5 h, avg
$212/MWh". Hours are aware UTC starts; they are shown in the reader's zone and labelled with
ERCOT's hour endings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from rules.fourcp import CPT, hour_ending

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Run:
    start: datetime  # aware UTC start of the first hour
    end: datetime  # aware UTC end of the last hour
    prices: tuple[float, ...]

    @property
    def hours(self) -> int:
        return len(self.prices)

    @property
    def avg(self) -> float:
        return sum(self.prices) / len(self.prices)


def curtail_runs(hours: Sequence[tuple[datetime, float]], breakeven: float) -> list[Run]:
    """The runs of consecutive hours (by real time, so DST days work) priced above ``breakeven``."""
    runs: list[Run] = []
    current: list[tuple[datetime, float]] = []
    for start, price in sorted(hours):
        if price > breakeven and (not current or current[-1][0] + HOUR == start):
            current.append((start, price))
            continue
        if current:
            runs.append(Run(current[0][0], current[-1][0] + HOUR, tuple(p for _, p in current)))
            current = []
        if price > breakeven:
            current = [(start, price)]
    if current:
        runs.append(Run(current[0][0], current[-1][0] + HOUR, tuple(p for _, p in current)))
    return runs


def run_label(run: Run, tz: tzinfo) -> str:
    """``"14:00–19:00 CDT (HE 15–19 CPT)"`` for a chat on Central time, ``"21:00–02:00 CEST
    (HE 15–19 CPT, 14:00–19:00)"`` elsewhere."""
    first, last = hour_ending(run.start + HOUR), hour_ending(run.end)
    he = f"HE {first} CPT" if first == last else f"HE {first}–{last} CPT"
    ls, le = run.start.astimezone(tz), run.end.astimezone(tz)
    local = f"{ls:%H:%M}–{le:%H:%M} {le:%Z}"
    gs, ge = run.start.astimezone(CPT), run.end.astimezone(CPT)
    if ls.utcoffset() == gs.utcoffset() and le.utcoffset() == ge.utcoffset():
        return f"{local} ({he})"
    return f"{local} ({he}, {gs:%H:%M}–{ge:%H:%M})"


def plan_line(run: Run, tz: tzinfo) -> str:
    return f"curtail {run_label(run, tz)}, {run.hours} h, avg ${run.avg:,.0f}/MWh"
