"""``/chart METRIC [WINDOW]``: a PNG of a metric's stored history with the chat's thresholds.

Drawing lives in bot/render/charts.py (pure, off the event loop); what a chart shows is read
by bot/render/chart_data.py.

Fleet metrics (breakeven, margin, profit) are not stored: they are derived per chat from the
hashprice history and the chat's ``/fleet``.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, tzinfo
from html import escape

from telegram import Bot, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.handlers.commands import command_argument, reply
from bot.render.chart_data import ChartError, gather
from bot.render.charts import ChartData, chart_png
from bot.services import Services, services
from rules.catalogue import format_value, lookup, suggest
from rules.durations import DurationError, parse_duration
from rules.grammar import EVENT_NAMES, METRIC_ALIASES
from rules.units import parse_index

logger = logging.getLogger(__name__)

CAPTION_MAX = 1024  # Telegram's caption limit
DEFAULT_WINDOW = "30d"
MIN_WINDOW, MAX_WINDOW = timedelta(hours=1), timedelta(days=365)
EXAMPLE = "<code>/chart hashprice 30d</code> or <code>/chart power.hb_west 6h</code>"
USAGE = (
    "Chart a metric's history with your alert thresholds: <code>/chart METRIC [WINDOW]</code>, "
    f"WINDOW from 1h to 1y (default {DEFAULT_WINDOW}). For example {EXAMPLE}."
)
_MONTHS = re.compile(r"^(\d+)\s*(?:mo|mon|month|months)$", re.I | re.ASCII)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FULL_SPAN = 0.9  # history covering less of the window than this: the chart says what it shows


# ---------------------------------------------------------------------------------------------
# parsing


def parse_window(text: str) -> timedelta:
    """``"30d"`` -> 30 days, ``"6h"`` -> 6 hours. Accepts hours, days, weeks, ``1y``, months as
    ``3mo``, or a bare number of days; 1 hour to 1 year. Raises ChartError with an example."""
    raw = text.strip().lower()
    problem = f"{escape(text)!s} is not a chart window: use 1h to 1y, e.g. {EXAMPLE}."
    months = _MONTHS.match(raw)
    if months:
        window = timedelta(days=int(months.group(1)) * 30)
    elif (number := parse_index(raw)) is not None:
        window = timedelta(days=number)
    else:
        try:
            window = timedelta(seconds=parse_duration(raw))
        except DurationError as err:
            raise ChartError(f"❌ {problem}") from err
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        raise ChartError(f"❌ A chart covers 1h to 1y, not {escape(text)}. Example: {EXAMPLE}.")
    return window


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


def span_text(span: timedelta) -> str:
    """``"3 days"``, ``"5 hours"``, ``"40 min"``: how much history a chart really shows."""
    hours = span.total_seconds() / 3600
    if hours >= 48:
        return f"{round(hours / 24)} days"
    if hours >= 2:
        return f"{round(hours)} hours"
    return f"{max(1, round(hours * 60))} min"


def when_text(at: datetime, tz: tzinfo, now: datetime | None = None) -> str:
    """``"27 Nov 10:00 CST"`` in the chat's zone (the year added when it is not this year's)."""
    local = at.astimezone(tz)
    year = "" if now is None or now.astimezone(tz).year == local.year else f" {local.year}"
    return f"{local.day} {_MONTH_NAMES[local.month - 1]}{year} {local:%H:%M} {local.tzname()}"


def shown_span(data: ChartData, window: timedelta) -> timedelta | None:
    """The span the stored history really covers when it is less than the window asked, else None."""
    span = data.points[-1][0] - data.points[0][0]
    return span if span < window * FULL_SPAN else None


def chart_title(data: ChartData, window: timedelta, window_text: str) -> str:
    info = lookup(data.metric)
    name = f"{info.label if info else data.metric} ({data.metric})"
    short = shown_span(data, window)
    if short is None:
        return f"{name}, last {window_text}"
    return f"{name}, {span_text(short)} shown ({window_text} asked)"


def caption(data: ChartData, window: timedelta, window_text: str, now: datetime | None = None) -> str:
    """HTML caption within Telegram's 1,024 characters: the span really shown, now / low / high and
    the thresholds."""
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
    short = shown_span(data, window)
    if short is not None:
        lines.append(
            f"showing {span_text(short)}: history starts {escape(when_text(data.points[0][0], data.tz, now))}"
        )
    for r in data.references:
        lines.append(escape(r.label))
    if data.thresholds:
        lines.append("Your alerts:")
        for i, t in enumerate(data.thresholds):
            line = f"<code>{escape(t.label)}</code>"
            if len("\n".join([*lines, line])) + 40 > CAPTION_MAX:  # room for the "more" line
                lines.append(f"… and {len(data.thresholds) - i} more (/alerts)")
                break
            lines.append(line)
    return "\n".join(lines)


async def chart_for(svc: Services, chat_id: int, metric: str, window: str | None = None) -> tuple[bytes, str]:
    """One chart for one chat, for /chart and for a "chart" button: ``metric`` as a user or a rule
    names it (aliases work), ``window`` as text ("6h", "30d", "1y"; default 30d). Returns (PNG
    bytes, HTML caption, file name); raises ChartError (its text is the reply) for an unknown
    metric, a bad window, a fleet metric without /fleet or no history in the window."""
    name = resolve_metric(metric)
    window_text = (window or DEFAULT_WINDOW).strip().lower()
    span = parse_window(window_text)
    now = svc.clock()
    data = await svc.db(gather, chat_id, name, now - span, now)
    if not data.points:
        raise ChartError(
            f"No {escape(name)} history in the last {escape(window_text)} yet: the watchers store a "
            "point each time they poll. /status shows what has arrived; try again later."
        )
    png = await chart_png(data, chart_title(data, span, window_text))
    logger.info(
        "chart chat=%s metric=%s window=%s points=%d bytes=%d",
        *(chat_id, name, window_text, len(data.points), len(png)),
    )
    return png, caption(data, span, window_text, now)


def chart_filename(metric: str, window: str | None = None) -> str:
    """``"hashprice-30d.png"``: the name a chart is uploaded under."""
    return f"{resolve_metric(metric)}-{(window or DEFAULT_WINDOW).strip().lower()}.png"


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


async def cmd_chart(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    try:
        metric_text, window_text = _split_args(command_argument(update))
        png, text = await chart_for(svc, chat.id, metric_text, window_text)
    except ChartError as err:
        await reply(update, str(err))
        return
    await message.reply_photo(
        photo=png,
        caption=text,
        parse_mode=ParseMode.HTML,
        filename=chart_filename(metric_text, window_text),
        do_quote=False,
    )


async def send_chart(
    svc: Services,
    bot: Bot,
    chat_id: int,
    metric: str,
    window: str | None = None,
    thread_id: int | None = None,
) -> None:
    """Draw ``metric`` for the chat and send it there, or say why there is nothing to draw: what
    the chart buttons (bot/handlers/rule_buttons.py) send, through the same :func:`chart_for`."""
    try:
        png, text = await chart_for(svc, chat_id, metric, window)
    except ChartError as err:
        await bot.send_message(chat_id, str(err), parse_mode=ParseMode.HTML, message_thread_id=thread_id)
        return
    await bot.send_photo(
        chat_id,
        photo=png,
        caption=text,
        parse_mode=ParseMode.HTML,
        filename=chart_filename(metric, window),
        message_thread_id=thread_id,
    )


def register(app: Application) -> None:
    app.add_handler(CommandHandler("chart", cmd_chart))
