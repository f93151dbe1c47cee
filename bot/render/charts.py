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
from zoneinfo import ZoneInfo

from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rules.catalogue import format_value, lookup

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


def _axis_unit(metric: str) -> str:
    info = lookup(metric)
    if info is None:
        return ""
    return {"T": "T (difficulty / 1e12)"}.get(info.unit, info.unit)


def render_chart(
    metric: str,
    points: Sequence[tuple[datetime, float]],
    thresholds: Sequence[Threshold],
    tz: tzinfo,
    title: str,
    references: Sequence[ReferenceLine] = (),
) -> bytes:
    """A PNG (about 1200×650 px) of ``points`` (aware times, values in the metric's unit) with each
    threshold as a labelled dashed line and each reference as a labelled dotted line, labelled at
    the right; times shown in ``tz``. Pure apart from matplotlib."""
    if not points:
        raise ValueError("nothing to draw: no points")
    pts = thin_points(sorted(points, key=lambda p: p[0]))
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    zone_name = getattr(tz, "key", None) or str(tz)
    with _render_lock:
        fig = Figure(figsize=(10, 5.4), dpi=120, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot(xs, ys, color="#f7931a", linewidth=1.6, marker="o" if len(xs) < 3 else None)
        if len(xs) > 1:
            ax.fill_between(xs, ys, min(ys), color="#f7931a", alpha=0.08)
        ax.annotate(
            format_value(metric, ys[-1], tz),
            (xs[-1], ys[-1]),
            xytext=(-6, 8),
            textcoords="offset points",
            ha="right",
            fontsize=10,
            fontweight="bold",
            color="#b35900",
            bbox=_LABEL_BOX,
        )
        for i, t in enumerate(thresholds):
            color = "#c0392b" if t.upward else "#2471a3"
            ax.axhline(t.value, color=color, linestyle="--", linewidth=1.2, alpha=0.9)
            ax.annotate(
                t.label,
                (0.005, t.value),
                xycoords=("axes fraction", "data"),
                xytext=(2, 3 if i % 2 == 0 else -12),
                textcoords="offset points",
                fontsize=9,
                color=color,
                bbox=_LABEL_BOX,
            )
        for i, r in enumerate(sorted(references, key=lambda r: r.value)):
            ax.axhline(r.value, color="#6c3483", linestyle=":", linewidth=1.4, alpha=0.9)
            ax.annotate(
                r.label,
                (0.995, r.value),
                xycoords=("axes fraction", "data"),
                xytext=(-2, 3 if i % 2 == 0 else -12),
                textcoords="offset points",
                ha="right",
                fontsize=9,
                color="#6c3483",
                bbox=_LABEL_BOX,
            )
        values = ys + [t.value for t in thresholds] + [r.value for r in references]
        lo, hi = min(values), max(values)
        pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
        ax.set_ylim(lo - pad, hi + pad)
        if len(xs) == 1:
            ax.set_xlim(xs[0] - timedelta(hours=12), xs[0] + timedelta(hours=12))
        locator = mdates.AutoDateLocator(tz=tz, minticks=4, maxticks=9)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=tz))
        ax.set_ylabel(_axis_unit(metric))
        ax.set_xlabel(f"time ({zone_name})")
        ax.set_title(title, fontsize=13, loc="left")
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        fig.text(0.995, 0.995, "MinerWatch", ha="right", va="top", fontsize=8, color="#888888")
        buf = BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


async def chart_png(data: ChartData, title: str) -> bytes:
    """Render off the event loop."""
    return await asyncio.to_thread(
        render_chart, data.metric, data.points, data.thresholds, data.tz, title, data.references
    )
