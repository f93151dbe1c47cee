"""Chart drawing, pure: points and thresholds in, PNG bytes out.

Matplotlib is used through its object API on the Agg canvas (no pyplot, no display); one lock
serialises renders because matplotlib is not thread-safe, and :func:`chart_png` renders in a worker
thread so a chart never blocks the bot."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from io import BytesIO
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.ticker import Formatter, Locator

from rules.catalogue import format_value, held_until_next_filing, lookup

MAX_POINTS = 1500  # drawn per chart; longer series are thinned keeping each bucket's low and high

_render_lock = threading.Lock()
_LABEL_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str  # the rule's canonical text, e.g. "hashprice < 41"
    upward: bool  # fires when the value goes above


@dataclass(frozen=True)
class ReferenceLine:
    """A level drawn for reference, not a rule: a convertible's conversion price on its stock."""

    value: float
    label: str  # "0.75% Convertible Senior Notes due 2030: conversion $14.86"


@dataclass(frozen=True)
class ChartData:
    metric: str
    points: list[tuple[datetime, float]]
    thresholds: list[Threshold]
    tz: ZoneInfo
    references: list[ReferenceLine] = field(default_factory=list)


def thin_points(
    points: Sequence[tuple[datetime, float]], max_points: int = MAX_POINTS
) -> list[tuple[datetime, float]]:
    """At most about ``max_points`` points: equal time buckets, each kept as its low and its high
    in time order, so a one-interval price spike still shows."""
    if len(points) <= max_points:
        return list(points)
    buckets = max(1, max_points // 2)
    start, end = points[0][0], points[-1][0]
    span = (end - start).total_seconds() or 1.0
    grouped: list[list[tuple[datetime, float]]] = [[] for _ in range(buckets)]
    for p in points:
        i = min(buckets - 1, int((p[0] - start).total_seconds() / span * buckets))
        grouped[i].append(p)
    out: list[tuple[datetime, float]] = []
    for group in grouped:
        if not group:
            continue
        lo = min(group, key=lambda p: p[1])
        hi = max(group, key=lambda p: p[1])
        out.extend(sorted({lo, hi}, key=lambda p: p[0]))
    return out


STEP_METRICS = ("difficulty",)  # a value that holds until it changes: drawn as steps, not slopes
_LINE = "#f7931a"
_UP, _DOWN, _REF = "#c0392b", "#2471a3", "#6c3483"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_AXIS_UNITS = {
    "T": "T (difficulty ÷ 10¹²)",
    "EH/s": "EH/s (exahash per second)",
    "%": "%",
}
_SCALES = ((1e9, "billions"), (1e6, "millions"))


def axis_unit(metric: str) -> str:
    """The y-axis unit from the catalogue: "USD/PH/day", "USD/MWh", "T (difficulty ÷ 10¹²)"."""
    info = lookup(metric)
    if info is None:
        return ""
    return _AXIS_UNITS.get(info.unit, info.unit)


def zone_label(tz: tzinfo, at: datetime) -> str:
    """``"America/Chicago, CST"``: the IANA name and the abbreviation in force at ``at``."""
    name = getattr(tz, "key", None) or str(tz)
    abbr = at.astimezone(tz).tzname() or ""
    return name if abbr in ("", name) else f"{name}, {abbr}"


def _day(d: datetime, with_year: bool) -> str:
    return f"{d.day} {_MONTHS[d.month - 1]}" + (f" {d.year}" if with_year else "")


def tick_labels(ticks: Sequence[datetime]) -> list[str]:
    """Labels that cannot be mistaken for one another, from the ticks themselves (in the chat's
    zone): all at midnight on the 1st, at least a month apart -> months ("Dec 2025", "Jan 2026",
    "Feb"); all at midnight -> days ("27 Nov", the year on the first and at a new year); otherwise
    times ("14:00") with the date under the first tick and under each tick on a new day. Never a
    bare number."""
    if not ticks:
        return []
    midnight = all(t.hour == 0 and t.minute == 0 for t in ticks)
    monthly = (
        midnight
        and all(t.day == 1 for t in ticks)
        and (len(ticks) < 2 or (ticks[1] - ticks[0]) >= timedelta(days=28))
    )
    out: list[str] = []
    for i, t in enumerate(ticks):
        prev = ticks[i - 1] if i else None
        new_year = prev is None or prev.year != t.year
        if monthly:
            out.append(_MONTHS[t.month - 1] + (f" {t.year}" if new_year else ""))
        elif midnight:
            out.append(_day(t, new_year))
        else:
            new_day = prev is None or prev.date() != t.date()
            out.append(f"{t:%H:%M}" + (f"\n{_day(t, False)}" if new_day else ""))
    return out


# Tick steps, finest first, with their rough length: the first giving at most MAX_TICKS ticks wins.
_STEPS: tuple[tuple[str, int], ...] = (
    *(("min", n) for n in (1, 2, 5, 10, 15, 30)),
    *(("hour", n) for n in (1, 2, 3, 4, 6, 12)),
    ("day", 1),
    ("day", 2),
    ("week", 1),
    ("halfmonth", 1),
    *(("month", n) for n in (1, 2, 3, 6)),
)
_STEP_S = {
    "min": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "halfmonth": 15 * 86400,
    "month": 2_629_746,
}
MAX_TICKS = 8


def local_ticks(start: datetime, end: datetime, tz: tzinfo, max_ticks: int = MAX_TICKS) -> list[datetime]:
    """Tick times between ``start`` and ``end`` on the wall clock of ``tz``: whole minutes or hours
    counted from local midnight, local midnights, Mondays, the 1st and 15th, or the 1st of a month.
    Wall-clock arithmetic, so a DST change never shifts a tick off the hour."""
    span = (end - start).total_seconds()
    unit, n = next(((u, k) for u, k in _STEPS if span / (_STEP_S[u] * k) <= max_ticks), _STEPS[-1])
    ticks: list[datetime] = []
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    while day <= last:
        midnight = datetime.combine(day, datetime.min.time())
        if unit in ("min", "hour"):
            step = n * _STEP_S[unit]
            ticks += [(midnight + timedelta(seconds=k)).replace(tzinfo=tz) for k in range(0, 86400, step)]
        elif (
            (unit == "day" and day.toordinal() % n == 0)
            or (unit == "week" and day.weekday() == 0)
            or (unit == "halfmonth" and day.day in (1, 15))
            or (unit == "month" and day.day == 1 and (day.month - 1) % n == 0)
        ):
            ticks.append(midnight.replace(tzinfo=tz))
        day += timedelta(days=1)
    return [t for t in ticks if start <= t <= end]


class LocalTimeLocator(Locator):
    """Matplotlib's side of :func:`local_ticks`."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz

    def __call__(self) -> list[float]:
        vmin, vmax = self.axis.get_view_interval() if self.axis is not None else (0.0, 1.0)
        return self.tick_values(vmin, vmax)

    def tick_values(self, vmin: float, vmax: float) -> list[float]:
        lo, hi = sorted((vmin, vmax))
        ticks = local_ticks(mdates.num2date(lo), mdates.num2date(hi), self.tz)
        return [float(mdates.date2num(t)) for t in ticks]


class TimeTickFormatter(Formatter):
    """Matplotlib's side of :func:`tick_labels`: sees all ticks at once, in ``tz``."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        return tick_labels([mdates.num2date(v, self.tz) for v in values])

    def __call__(self, x: float, pos: int | None = None) -> str:  # one tick alone (the cursor readout)
        d = mdates.num2date(x, self.tz)
        return f"{_day(d, True)} {d:%H:%M}"


class ValueTickFormatter(Formatter):
    """Y tick values with thousands separators and as many decimals as the tick step needs, divided
    by ``scale`` (the axis label says "billions" or "millions")."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        scaled = [v / self.scale for v in values]
        steps = [abs(b - a) for a, b in pairwise(scaled) if b != a]
        step = min(steps) if steps else 1.0
        # the fewest decimals that show every tick exactly (a step of 2.5 needs one: 62.5, not 62)
        tolerance = step * 1e-6
        decimals = next((d for d in range(5) if all(abs(round(v, d) - v) <= tolerance for v in scaled)), 4)
        return [f"{v:,.{decimals}f}" for v in scaled]

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x / self.scale:,.4g}"


def _value_axis(ax: Any, metric: str, lo: float, hi: float) -> str:
    """Installs the y tick formatter; returns the y label (the unit, and the scale if any)."""
    unit = axis_unit(metric)
    top = max(abs(lo), abs(hi))
    scale, word = next(((s, w) for s, w in _SCALES if top >= s), (1.0, ""))
    ax.yaxis.set_major_formatter(ValueTickFormatter(scale))
    return f"{unit}, {word}" if word else unit


TAG_GAP_PT = 12.0  # vertical room a value tag needs at the right edge


def _edge_tags(fig: Figure, ax: Any, tags: list[tuple[float, str, str, bool]]) -> None:
    """Value tags (y, text, colour, bold) just right of the plot, outside it so they never cover
    the data; tags closer than a line of text are pushed apart (after layout, in points)."""
    if not tags:
        return
    fig.draw_without_rendering()  # the axes' final height, to turn data units into points
    y0, y1 = ax.get_ylim()
    per_unit = ax.get_window_extent().height * 72 / fig.dpi / ((y1 - y0) or 1.0)
    placed: list[float] = []
    for y, text, color, bold in sorted(tags, key=lambda t: t[0]):
        want = (y - y0) * per_unit
        at = max(want, placed[-1] + TAG_GAP_PT) if placed else want
        placed.append(at)
        ax.annotate(
            text,
            (1.0, y),
            xycoords=("axes fraction", "data"),
            xytext=(4, at - want),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "#fff3e0", "edgecolor": color} if bold else None,
            color=color,
            annotation_clip=False,
        )


MAX_LEGEND_ALERTS = 6  # more thresholds are still drawn; the caption lists them all


def build_figure(
    metric: str,
    points: Sequence[tuple[datetime, float]],
    thresholds: Sequence[Threshold],
    tz: tzinfo,
    title: str,
    references: Sequence[ReferenceLine] = (),
) -> Figure:
    """The chart as a matplotlib Figure (Agg canvas), before it is saved: the series in its unit,
    each alert threshold a dashed line over a shaded band where it fires, each reference a dotted
    line, all named in the legend under the plot and tagged with their value at the right edge;
    the x axis from the first to the last point (never into the future), ticked in ``tz`` and
    naming it. Pure apart from matplotlib; callers hold the lock."""
    if not points:
        raise ValueError("nothing to draw: no points")
    pts = thin_points(sorted(points, key=lambda p: p[0]))
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    info = lookup(metric)
    fig = Figure(figsize=(10, 5.4), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    step = metric in STEP_METRICS or held_until_next_filing(metric)
    sparse = len(xs) <= 40  # monthly figures, a few filings: each value is a point worth seeing
    (series,) = ax.plot(
        xs,
        ys,
        color=_LINE,
        linewidth=1.8,
        drawstyle="steps-post" if step else "default",
        marker="o" if sparse and not step else None,
        markersize=4,
        label=f"{info.label if info else metric} ({metric})",
        zorder=3,
    )
    ax.plot([xs[-1]], [ys[-1]], "o", color=_LINE, markersize=5, zorder=4, clip_on=False)  # the newest
    handles: list[Any] = [series]
    tags: list[tuple[float, str, str, bool]] = []  # value tags at the right edge
    labels: list[str] = [series.get_label()]
    values = ys + [t.value for t in thresholds] + [r.value for r in references]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
    y0, y1 = lo - pad, hi + pad
    for i, t in enumerate(thresholds):
        color = _UP if t.upward else _DOWN
        line = ax.axhline(t.value, color=color, linestyle="--", linewidth=1.2, alpha=0.9, zorder=2)
        band = ax.axhspan(t.value, y1 if t.upward else y0, color=color, alpha=0.07, linewidth=0, zorder=1)
        ax.annotate(
            t.label,
            (0.005, t.value),
            xycoords=("axes fraction", "data"),
            xytext=(2, 3 if i % 2 == 0 else -12),
            textcoords="offset points",
            fontsize=9,
            color=color,
            bbox={**_LABEL_BOX, "alpha": 0.6},
            zorder=5,
        )
        tags.append((t.value, format_value(metric, t.value, tz), color, False))
        if i < MAX_LEGEND_ALERTS:
            handles.append((band, line))
            labels.append(f"alert {t.label}: fires in the shaded band")
    if len(thresholds) > MAX_LEGEND_ALERTS:
        handles.append(Line2D([], [], linestyle="none"))
        labels.append(f"… and {len(thresholds) - MAX_LEGEND_ALERTS} more alerts (in the caption)")
    for r in sorted(references, key=lambda r: r.value):
        line = ax.axhline(r.value, color=_REF, linestyle=":", linewidth=1.4, alpha=0.9, zorder=2)
        tags.append((r.value, format_value(metric, r.value, tz), _REF, False))
        handles.append(line)
        labels.append(r.label)
    tags.append((ys[-1], format_value(metric, ys[-1], tz), "#b35900", True))
    ax.set_ylim(y0, y1)
    # The data's own span: the right edge is the newest point, never a stretch of empty future.
    left = xs[0] if len(xs) > 1 else xs[0] - timedelta(hours=1)
    ax.set_xlim(left, xs[-1])
    ax.xaxis.set_major_locator(LocalTimeLocator(tz))
    ax.xaxis.set_major_formatter(TimeTickFormatter(tz))
    ax.set_ylabel(_value_axis(ax, metric, y0, y1))
    ax.set_xlabel(f"time ({zone_label(tz, xs[-1])})")
    ax.set_title(title, fontsize=13, loc="left")
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(2, len(handles)),
        fontsize=8.5,
        frameon=False,
        handler_map={tuple: HandlerTuple(ndivide=1)},
    )
    fig.text(0.995, 0.995, "MinerWatch", ha="right", va="top", fontsize=8, color="#888888")
    _edge_tags(fig, ax, tags)
    return fig


def render_chart(
    metric: str,
    points: Sequence[tuple[datetime, float]],
    thresholds: Sequence[Threshold],
    tz: tzinfo,
    title: str,
    references: Sequence[ReferenceLine] = (),
) -> bytes:
    """A PNG (about 1200×650 px) of :func:`build_figure`."""
    with _render_lock:
        fig = build_figure(metric, points, thresholds, tz, title, references)
        buf = BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


async def chart_png(data: ChartData, title: str) -> bytes:
    """Render off the event loop."""
    return await asyncio.to_thread(
        render_chart, data.metric, data.points, data.thresholds, data.tz, title, data.references
    )
