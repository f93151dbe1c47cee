"""Texts of ERCOT grid-risk events (issue 16): the 4CP warnings. Every time is shown in the chat's
zone and labelled with ERCOT's own (hour ending, Central Prevailing Time)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo
from html import escape
from typing import Any

from bot.delivery.messages import source_line, truncate
from rules.chat_settings import ChatSettings
from rules.dam import HOUR, curtail_runs, plan_line
from rules.fleet import breakeven_text, fleet_metrics
from rules.fourcp import QUARTER, FourCpConfig, day_label, hour_ending, interval_label
from rules.fourcp import status as fourcp_status
from rules.grid_condition import condition_name


def _mw(value: Any) -> str:
    return f"{float(value):,.0f} MW"


def _when(iso: str, length: timedelta, tz: tzinfo) -> str:
    return interval_label(datetime.fromisoformat(iso), length, tz)


def _prior(data: Mapping[str, Any], tz: tzinfo) -> str:
    if data.get("prior_mw") is None:
        return "no earlier peak this month"
    day = day_label(date.fromisoformat(str(data["prior_day"])))
    return f"{_mw(data['prior_mw'])} on {day}, {_when(str(data['prior_end']), QUARTER, tz)}"


def fourcp_message(data: Mapping[str, Any], links: Mapping[str, str], tz: tzinfo) -> str:
    stage = str(data.get("stage"))
    day = date.fromisoformat(str(data["day"]))
    month = f"{day:%B}"
    margin = float(data.get("margin_pct") or 0)
    if stage == "forecast":
        end = datetime.fromisoformat(str(data["end"]))
        below = float(data["pct_below"])
        rel = f"{below:.1f}% under" if below > 0 else f"{-below:.1f}% above"
        head = f"⚡ <b>4CP watch {escape(day_label(day))}: forecast peak {_mw(data['mw'])}</b>"
        lines = [
            f"hour ending {hour_ending(end)} CPT ({end.astimezone(tz):%H:%M %Z}) · {rel} {month}'s peak "
            f"so far ({_prior(data, tz)}), within the {margin:g}% margin: a likely peak day",
        ]
    elif stage == "actual":
        below = float(data["pct_below"])
        state = "a new monthly peak so far" if data.get("new_peak") else f"{below:.1f}% under the peak"
        head = f"🔥 <b>4CP now: ERCOT load {_mw(data['mw'])}</b>"
        lines = [
            f"interval {_when(str(data['end']), QUARTER, tz)} · {state} ({_prior(data, tz)}); "
            "keep load off until it has clearly turned down",
        ]
    else:
        when = _when(str(data["end"]), QUARTER, tz)
        if data.get("new_peak"):
            head = f"📈 <b>4CP {escape(day_label(day))}: new {month} peak {_mw(data['mw'])}</b>"
            lines = [f"interval {when} · previous: {_prior(data, tz)}"]
        else:
            head = f"✅ <b>4CP {escape(day_label(day))}: no new {month} peak</b>"
            lines = [f"today's highest {_mw(data['mw'])} at {when} · the peak stands: {_prior(data, tz)}"]
        lines.append("operational values: ERCOT settles 4CP later on its own figures")
    body = "\n".join(
        [
            head,
            *(escape(line, quote=False) for line in lines),
            f"{source_line('ercot', links)} · <code>4cp</code>",
        ]
    )
    return truncate(body)


def grid_message(data: Mapping[str, Any], links: Mapping[str, str], tz: tzinfo) -> str:
    """An ``ercot.grid`` event: the grid condition changed, or PRC crossed a threshold."""
    prc = data.get("prc_mw")
    prc_text = f"PRC {_mw(prc)}" if isinstance(prc, int | float) else ""
    if data.get("what") == "condition":
        name = condition_name(str(data.get("condition")), str(data.get("title") or ""))
        title = str(data.get("title") or "")
        shown = f"{name} ({title})" if title and title.lower() != name.lower() else name
        if data.get("condition") == "normal":
            head = f"✅ <b>ERCOT back to {escape(shown)}</b>"
        else:
            icon = "🚨" if str(data.get("condition", "")).startswith("eea") else "⚠️"
            head = f"{icon} <b>ERCOT grid: {escape(shown)}</b>"
        before = data.get("previous")
        ctx = [f"was {condition_name(str(before))}" if before else "", prc_text]
    else:
        threshold = float(data["threshold_mw"])
        if data.get("worse"):
            head = f"⚠️ <b>ERCOT reserves low: PRC {_mw(prc)}</b>"
            ctx = [
                f"below {_mw(threshold)} (your levels: {', '.join(_mw(t) for t in data['thresholds_mw'])})"
            ]
        else:
            head = f"✅ <b>ERCOT reserves recovering: PRC {_mw(prc)}</b>"
            ctx = [f"back above {_mw(threshold)}"]
    line = " · ".join(escape(c, quote=False) for c in ctx if c)
    return truncate(
        "\n".join(p for p in (head, line, f"{source_line('ercot', links)} · <code>ercot.grid</code>") if p)
    )


def dam_hours(prices: Mapping[str, float]) -> list[tuple[datetime, float]]:
    return sorted((datetime.fromisoformat(k), float(v)) for k, v in prices.items())


def dam_plan_lines(
    hours: list[tuple[datetime, float]], breakeven: float | None, tz: tzinfo
) -> tuple[list[str], int]:
    """The plan for one point's day of hourly prices: lines (escaped) and how many hours to curtail."""
    lines: list[str] = []
    top = max(hours, key=lambda h: h[1])
    avg = sum(p for _, p in hours) / len(hours)
    summary = (
        f"day-ahead avg ${avg:,.2f}/MWh, max ${top[1]:,.2f} at HE {hour_ending(top[0] + HOUR)} CPT "
        f"({(top[0] + HOUR).astimezone(tz):%H:%M %Z})"
    )
    if breakeven is None:
        return [escape(summary, quote=False)], 0
    runs = curtail_runs(hours, breakeven)
    if runs:
        lines += [escape(plan_line(r, tz), quote=False) for r in runs]
    else:
        lines.append(
            escape(
                f"mine all day: every hour is below your breakeven {breakeven_text(breakeven)}", quote=False
            )
        )
    lines.append(escape(f"breakeven {breakeven_text(breakeven)} · {summary}", quote=False))
    return lines, sum(r.hours for r in runs)


def dam_plan_message(
    data: Mapping[str, Any],
    settings: ChatSettings,
    hashprice: float | None,
    links: Mapping[str, str],
    tz: tzinfo,
) -> str | None:
    """A chat's plan for tomorrow from a ``dam`` event, or None when it lacks a fleet, a hub among
    the day-ahead points, or a hashprice to derive its breakeven from."""
    hub = (settings.hub or "").upper()
    prices = (data.get("prices") or {}).get(hub)
    if settings.fleet is None or not prices or hashprice is None or hashprice <= 0:
        return None
    breakeven = fleet_metrics(hashprice, settings.fleet)["breakeven"]
    day = date.fromisoformat(str(data["day"]))
    lines, hours = dam_plan_lines(dam_hours(prices), breakeven, tz)
    head = (
        f"🔌 <b>Tomorrow, {escape(day_label(day))}, {escape(hub)}: curtail {hours} h</b>"
        if hours
        else f"⛏ <b>Tomorrow, {escape(day_label(day))}, {escape(hub)}: no curtailment</b>"
    )
    return truncate(
        "\n".join([head, *lines, f"{source_line('ercot', links)} · <code>curtail tomorrow</code>"])
    )


GRID_WATCHER_ID = "grid"


def grid_digest_lines(state: Mapping[str, Any], cfg: FourCpConfig, now: datetime, tz: tzinfo) -> list[str]:
    """The digest's ERCOT lines (escaped): the 4CP state in season, a grid condition in force."""
    lines: list[str] = []
    s = fourcp_status(state.get("fourcp"), now, cfg)
    if s["in_season"]:
        prior = s["prior"]
        line = f"4CP {now.astimezone(tz):%B}: "
        if s["peaks"]:
            top = s["peaks"][0]
            line += (
                f"peak so far {_mw(top.mw)} on {day_label(top.day)}, {interval_label(top.end, QUARTER, tz)}"
            )
        else:
            line += "no peak observed yet this month"
        fc = s["forecast"]
        if fc is not None and prior is not None:
            pct = s["forecast_pct_below"]
            close = "within" if pct <= cfg.margin_pct else "outside"
            rel = f"{pct:.1f}% under it" if pct >= 0 else f"{-pct:.1f}% above it"
            line += (
                f"; today's forecast peak {_mw(fc.mw)} at HE {hour_ending(fc.end)} CPT "
                f"({fc.end.astimezone(tz):%H:%M %Z}), {rel}: "
                f"{close} the {cfg.margin_pct:g}% margin"
            )
        lines.append("⚡ " + escape(line, quote=False))
    grid = state.get("grid") or {}
    condition = grid.get("condition")
    if condition and condition != "normal":
        name = condition_name(str(condition), str(grid.get("title") or ""))
        since = grid.get("since")
        when = f" since {datetime.fromisoformat(since).astimezone(tz):%a %H:%M %Z}" if since else ""
        lines.append(f"🚨 ERCOT grid: <b>{escape(name)}</b>{escape(when)}")
    return lines
