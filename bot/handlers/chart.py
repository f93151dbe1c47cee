"""``/chart METRIC [WINDOW]``: a PNG of a metric's stored history with the chat's thresholds.

Drawing lives in bot/render/charts.py (pure, off the event loop); what a chart shows is read
by bot/render/chart_data.py.

Fleet metrics (breakeven, margin, profit) are not stored: they are derived per chat from the
hashprice history and the chat's ``/fleet``.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
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
DEFAULT_WINDOW_DAYS = 30
MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 7, 365
EXAMPLE = "<code>/chart hashprice 30d</code> or <code>/chart power.hb_west 7d</code>"
USAGE = (
    "Chart a metric's history with your alert thresholds: <code>/chart METRIC [WINDOW]</code>, "
    f"WINDOW from 7d to 1y (default 30d). For example {EXAMPLE}."
)
_MONTHS = re.compile(r"^(\d+)\s*(?:mo|mon|month|months)$", re.I | re.ASCII)


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
    elif (number := parse_index(raw)) is not None:
        days = number
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
        metric = resolve_metric(metric_text)
        days = parse_window(window_text) if window_text else DEFAULT_WINDOW_DAYS
    except ChartError as err:
        await reply(update, str(err))
        return
    shown_window = window_text.lower() if window_text else f"{DEFAULT_WINDOW_DAYS}d"
    thread = message.message_thread_id if message.is_topic_message else None  # as reply_photo did
    await send_chart(svc, message.get_bot(), chat.id, metric, days, shown_window, thread)


async def send_chart(
    svc: Services,
    bot: Bot,
    chat_id: int,
    metric: str,
    days: int,
    shown_window: str,
    thread_id: int | None = None,
) -> None:
    """Draw ``metric`` (a name from :func:`resolve_metric`) over the last ``days`` for the chat
    and send it there, or say why there is nothing to draw. /chart and the chart buttons
    (bot/handlers/rule_buttons.py) both come through here."""
    try:
        now = svc.clock()
        data = await svc.db(gather, chat_id, metric, now - timedelta(days=days))
    except ChartError as err:
        await bot.send_message(chat_id, str(err), parse_mode=ParseMode.HTML, message_thread_id=thread_id)
        return
    if not data.points:
        await bot.send_message(
            chat_id,
            f"No {escape(metric)} history in the last {escape(shown_window)} yet: the watchers store a "
            "point each time they poll. /status shows what has arrived; try again later.",
            parse_mode=ParseMode.HTML,
            message_thread_id=thread_id,
        )
        return
    info = lookup(metric)
    title = f"{info.label if info else metric} ({metric}), last {shown_window}"
    png = await chart_png(data, title)
    logger.info(
        "chart chat=%s metric=%s days=%s points=%d bytes=%d",
        chat_id,
        metric,
        days,
        len(data.points),
        len(png),
    )
    await bot.send_photo(
        chat_id,
        photo=png,
        caption=caption(data, days, shown_window),
        parse_mode=ParseMode.HTML,
        filename=f"{metric}-{shown_window}.png",
        message_thread_id=thread_id,
    )


def register(app: Application) -> None:
    app.add_handler(CommandHandler("chart", cmd_chart))
