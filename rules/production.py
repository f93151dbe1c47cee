"""The miner book's production metrics: names, units, the observations a release yields, network
share and the "gone quiet" test. Pure: no I/O, no clock (time is passed in).

Metrics per watched miner (lower-case ticker ``t``):

| metric | unit | from |
|---|---|---|
| ``hashrate.<t>`` | EH/s | the release's hash rate (its qualifier kept beside it in storage) |
| ``held.<t>`` | BTC | BTC held as the release states it (pledged/loaned coins included when it says so) |
| ``mined.<t>`` | BTC | BTC mined in the release's period (a month or a quarter) |
| ``efficiency.<t>`` | J/TH | fleet efficiency |
| ``share.<t>`` | % | ``hashrate.<t>`` ÷ the network's ``hashrate`` (EH/s) at the filing's time × 100 |
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.data import Observation

# family -> figure name in watchers.filings.operations (share is derived)
FAMILY_FIGURE: dict[str, str] = {
    "hashrate": "hashrate_ehs",
    "held": "held_btc",
    "mined": "mined_btc",
    "efficiency": "efficiency_jth",
}
PRODUCTION_FAMILIES: tuple[str, ...] = ("hashrate", "held", "mined", "efficiency", "share")
PRODUCTION_NAME = re.compile(r"^(hashrate|held|mined|efficiency|share)\.([a-z][a-z0-9]*)$")
SOURCE = "edgar"

# A miner reporting at a cadence is "quiet" after this many usual intervals without a report.
QUIET_FACTOR = 1.5
MIN_REPORTS_FOR_CADENCE = 3


def is_production_metric(metric: str) -> bool:
    return PRODUCTION_NAME.match(metric) is not None


def period_kind(period: str | None) -> str:
    """ "month" for YYYY-MM, "quarter" for YYYY-Qn, else "other": changes compare like with like."""
    if period and re.fullmatch(r"20\d\d-\d\d", period):
        return "month"
    if period and re.fullmatch(r"20\d\d-Q[1-4]", period):
        return "quarter"
    return "other"


def share_pct(miner_ehs: float, network_ehs: float | None) -> float | None:
    """The miner's share of network hash rate in %, or None without a network figure."""
    if network_ehs is None or network_ehs <= 0:
        return None
    return miner_ehs / network_ehs * 100.0


def observations(
    ticker: str, figures: Mapping[str, Mapping[str, Any]], at: datetime, network_ehs: float | None
) -> list[Observation]:
    """The metric values one release yields, held at ``at`` (its filing time)."""
    t = ticker.lower()
    out: list[Observation] = []
    for family, name in FAMILY_FIGURE.items():
        fig = figures.get(name)
        if fig and isinstance(fig.get("value"), int | float):
            out.append(Observation(f"{family}.{t}", float(fig["value"]), at, SOURCE))
    rate = figures.get("hashrate_ehs")
    if rate and isinstance(rate.get("value"), int | float):
        share = share_pct(float(rate["value"]), network_ehs)
        if share is not None:
            out.append(Observation(f"share.{t}", share, at, SOURCE))
    return out


@dataclass(frozen=True)
class Quiet:
    usual_days: float
    days_since: float
    last_at: datetime


def usual_interval_days(report_times: Sequence[datetime]) -> float | None:
    """The median gap between a miner's last reports (up to seven), in days; None below three
    reports (no cadence to miss)."""
    times = sorted(set(report_times))[-7:]
    if len(times) < MIN_REPORTS_FOR_CADENCE:
        return None
    gaps = [(b - a).total_seconds() / 86400.0 for a, b in itertools.pairwise(times)]
    gaps = [g for g in gaps if g > 0.5]  # two documents of one release are one report
    return statistics.median(gaps) if gaps else None


def gone_quiet(report_times: Sequence[datetime], now: datetime) -> Quiet | None:
    """A miner that used to report every ~N days and has not for QUIET_FACTOR × N days."""
    usual = usual_interval_days(report_times)
    if usual is None:
        return None
    last = max(report_times)
    since = (now - last).total_seconds() / 86400.0
    if since <= QUIET_FACTOR * usual:
        return None
    return Quiet(usual_days=usual, days_since=since, last_at=last)


def previous_period(period: str | None) -> str | None:
    """The period just before ``period`` of the same kind: 2024-01 -> 2023-12, 2025-Q1 -> 2024-Q4."""
    if period and re.fullmatch(r"20\d\d-\d\d", period):
        year, month = int(period[:4]), int(period[5:])
        return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"
    if period and re.fullmatch(r"20\d\d-Q[1-4]", period):
        year, q = int(period[:4]), int(period[-1])
        return f"{year - 1}-Q4" if q == 1 else f"{year}-Q{q - 1}"
    return None
