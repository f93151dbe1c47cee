"""``/chart METRIC [WINDOW]``: a PNG of a metric's stored history with the chat's thresholds.

Drawing is pure (:func:`render_chart`: points in, PNG bytes out) and runs in a worker thread so a
chart never blocks the bot. Matplotlib is used through its object API on the Agg canvas (no
pyplot, no display); one lock serialises renders because matplotlib is not thread-safe.

Fleet metrics (breakeven, margin, profit) are not stored: they are derived per chat from the
hashprice history and the chat's ``/fleet``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from html import escape
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.handlers.commands import command_argument, reply
from bot.services import services
from rules.catalogue import format_value, lookup, suggest
from rules.durations import DurationError, parse_duration
from rules.fleet import Fleet, fleet_metrics
from rules.grammar import EVENT_NAMES, METRIC_ALIASES, RuleError, parse_rule
from rules.model import ThresholdRule
from storage import chats, observations
from storage import rules as rule_store

logger = logging.getLogger(__name__)

CAPTION_MAX = 1024  # Telegram's caption limit
DEFAULT_WINDOW_DAYS = 30
MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 7, 365
MAX_POINTS = 1500  # drawn per chart; longer series are thinned keeping each bucket's low and high
FLEET_METRICS = ("breakeven", "margin", "profit")
EXAMPLE = "<code>/chart hashprice 30d</code> or <code>/chart power.hb_west 7d</code>"
USAGE = (
    "Chart a metric's history with your alert thresholds: <code>/chart METRIC [WINDOW]</code>, "
    f"WINDOW from 7d to 1y (default 30d). For example {EXAMPLE}."
)

_render_lock = threading.Lock()
_LABEL_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
_MONTHS = re.compile(r"^(\d+)\s*(?:mo|mon|month|months)$", re.I)


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str  # the rule's canonical text, e.g. "hashprice < 41"
    upward: bool  # fires when the value goes above


class ChartError(ValueError):
    """A /chart request that cannot be served; ``str(err)`` is the HTML reply."""


# ---------------------------------------------------------------------------------------------
# parsing


def parse_window(text: str) -> int:
    """``"30d"`` -> 30 (days). Accepts days, weeks, ``1y``, months as ``3mo``, or a bare number of
    days; 7 days to 1 year. Raises ChartError with an example."""
    raw = text.strip().lower()
    problem = f"{escape(text)!s} is not a chart window: use 7d to 1y, e.g. {EXAMPLE}."
    months = _MONTHS.match(raw)
    if months:
        days = int(months.group(1)) * 30
    elif raw.isdigit():
        days = int(raw)
    else:
        try:
            seconds = parse_duration(raw)
        except DurationError as err:
            raise ChartError(f"❌ {problem}") from err
        if seconds % 86400:
            raise ChartError(
                f"❌ {escape(text)} is not a whole number of days: use 7d to 1y, e.g. {EXAMPLE}."
            )
        days = seconds // 86400
    if not MIN_WINDOW_DAYS <= days <= MAX_WINDOW_DAYS:
        raise ChartError(f"❌ A chart covers 7d to 1y, not {escape(text)}. Example: {EXAMPLE}.")
    return days


def resolve_metric(name: str) -> str:
    """The catalogue name a user means (aliases such as ``diff`` work). ChartError if it cannot be
    charted, with "did you mean" suggestions."""
    key = name.strip().lower()
    key = METRIC_ALIASES.get(key, key)
    info = lookup(key)
    if info is None:
        if key in EVENT_NAMES or key in ("filing", "retargets"):
            raise ChartError(
                f"❌ {escape(name)} is an event, not a series to chart. "
                "Try <code>/chart difficulty 90d</code>."
            )
        close = suggest(key)
        hint = f"\nDid you mean: {', '.join(f'<code>{escape(c)}</code>' for c in close)}?" if close else ""
        raise ChartError(f"❌ I don't know the metric {escape(name)}.{hint}\nExample: {EXAMPLE}.")
    if info.unit == "time":
        raise ChartError(
            f"❌ {escape(info.name)} is a point in time, not a series to chart. "
            "Try <code>/chart difficulty.blocks_left 7d</code>."
        )
    if info.name == "curtail.margin":
        raise ChartError(
            "❌ curtail.margin is not stored as a series. Chart the hub price, e.g. "
            "<code>/chart power.hb_west 7d</code>, or your <code>/chart breakeven 30d</code>."
        )
    return info.name


# ---------------------------------------------------------------------------------------------
# drawing (pure)


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
) -> bytes:
    """A PNG (about 1200×650 px) of ``points`` (aware times, values in the metric's unit) with each
    threshold as a labelled dashed line; times shown in ``tz``. Pure apart from matplotlib."""
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
        values = ys + [t.value for t in thresholds]
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


# ---------------------------------------------------------------------------------------------
# gathering (sync, on the database thread)


@dataclass(frozen=True)
class ChartData:
    metric: str
    points: list[tuple[datetime, float]]
    thresholds: list[Threshold]
    tz: ZoneInfo


def chat_zone(db: Any, chat_id: int) -> ZoneInfo:
    row = chats.get_chat(db, chat_id)
    try:
        return ZoneInfo((row or {}).get("tz") or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def chat_thresholds(db: Any, chat_id: int, metric: str) -> list[Threshold]:
    out: list[Threshold] = []
    for row in rule_store.list_rules(db, chat_id):
        if row["metric"] != metric or row["kind"] != "threshold":
            continue
        try:
            rule = parse_rule(row["text"])
        except RuleError:
            continue
        if isinstance(rule, ThresholdRule):
            out.append(Threshold(rule.value, row["text"], rule.op.upward))
    return out


def gather(db: Any, chat_id: int, metric: str, since: datetime) -> ChartData:
    """History, thresholds and time zone for one chart. Fleet metrics come from hashprice and the
    chat's fleet (ChartError when the chat has none)."""
    if metric in FLEET_METRICS:
        fleet_cfg = chats.get_settings(db, chat_id).get("fleet")
        if not fleet_cfg:
            raise ChartError(
                f"❌ {metric} depends on your fleet: set it first, e.g. <code>/fleet 18 0.045</code>."
            )
        fleet = Fleet(**fleet_cfg)
        points = [
            (at, fleet_metrics(v, fleet)[metric]) for at, v in observations.history(db, "hashprice", since)
        ]
    else:
        points = observations.history(db, metric, since)
    return ChartData(metric, points, chat_thresholds(db, chat_id, metric), chat_zone(db, chat_id))


def caption(data: ChartData, days: int, window_text: str) -> str:
    """HTML caption within Telegram's 1,024 characters: now / low / high and the thresholds."""
    info = lookup(data.metric)
    name = info.label if info else data.metric
    values = [v for _, v in data.points]

    def fmt(v: float) -> str:
        return escape(format_value(data.metric, v, data.tz))

    zone_name = data.tz.key
    lines = [
        f"<b>{escape(name)}</b> · last {escape(window_text)} ({escape(zone_name)})",
        f"now <b>{fmt(values[-1])}</b> · low {fmt(min(values))} · high {fmt(max(values))}",
    ]
    first = data.points[0][0]
    if data.points[-1][0] - first < timedelta(days=days) * 0.9:
        lines.append(f"history starts {first.astimezone(data.tz):%Y-%m-%d %H:%M}")
    if data.thresholds:
        lines.append("Your alerts:")
        for i, t in enumerate(data.thresholds):
            line = f"<code>{escape(t.label)}</code>"
            if len("\n".join([*lines, line])) + 40 > CAPTION_MAX:  # room for the "more" line
                lines.append(f"… and {len(data.thresholds) - i} more (/alerts)")
                break
            lines.append(line)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# the command


def _split_args(text: str) -> tuple[str, str | None]:
    args = text.split()
    if not args:
        raise ChartError(USAGE)
    if len(args) > 2:
        raise ChartError(f"❌ Give a metric and at most a window. Example: {EXAMPLE}.")
    metric, window = args[0], (args[1] if len(args) == 2 else None)
    if window is not None and lookup(METRIC_ALIASES.get(window.lower(), window)) and not lookup(metric):
        metric, window = window, metric  # "/chart 7d hashprice"
    return metric, window


async def chart_png(data: ChartData, title: str) -> bytes:
    """Render off the event loop."""
    return await asyncio.to_thread(render_chart, data.metric, data.points, data.thresholds, data.tz, title)


async def cmd_chart(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    try:
        metric_text, window_text = _split_args(command_argument(update))
        metric = resolve_metric(metric_text)
        days = parse_window(window_text) if window_text else DEFAULT_WINDOW_DAYS
        now = svc.clock()
        data = await svc.db(gather, chat.id, metric, now - timedelta(days=days))
    except ChartError as err:
        await reply(update, str(err))
        return
    shown_window = window_text.lower() if window_text else f"{DEFAULT_WINDOW_DAYS}d"
    if not data.points:
        await reply(
            update,
            f"No {escape(metric)} history in the last {escape(shown_window)} yet: the watchers store a "
            "point each time they poll. /status shows what has arrived; try again later.",
        )
        return
    info = lookup(metric)
    title = f"{info.label if info else metric} ({metric}), last {shown_window}"
    png = await chart_png(data, title)
    logger.info(
        "chart chat=%s metric=%s days=%s points=%d bytes=%d",
        chat.id,
        metric,
        days,
        len(data.points),
        len(png),
    )
    await message.reply_photo(
        photo=png,
        caption=caption(data, days, shown_window),
        parse_mode=ParseMode.HTML,
        filename=f"{metric}-{shown_window}.png",
        do_quote=False,
    )


def register(app: Application) -> None:
    app.add_handler(CommandHandler("chart", cmd_chart))
