"""Alert texts: short HTML. First line the fact with the number in bold, second the context
(threshold, blocks left, source), then a link. Everything from users or sources is escaped, and
nothing exceeds Telegram's 4,096 characters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from html import escape
from typing import Any

from rules.catalogue import format_value, lookup
from rules.fleet import breakeven_text, usd_per_mwh_to_cents_per_kwh
from rules.model import ChangeRule, Reason, ThresholdRule

TELEGRAM_MAX_CHARS = 4096
TRUNCATION_MARK = "\n… (truncated)"

SOURCE_NAMES = {
    "mempool": "mempool",  # mempool.space or a self-hosted instance: the software, not the host
    "bitcoind": "your Bitcoin Core node",
    "kraken": "Kraken",
    "coinbase": "Coinbase",
    "ercot": "ERCOT",
    "nyiso": "NYISO (via gridstatus)",
    "pjm": "PJM (via gridstatus)",
    "miso": "MISO (via gridstatus)",
    "spp": "SPP (via gridstatus)",
    "caiso": "CAISO (via gridstatus)",
    "isone": "ISO-NE (via gridstatus)",
    "aeso": "AESO (via gridstatus)",
    "edgar": "SEC EDGAR",
    "yahoo": "Yahoo Finance",
    "finnhub": "Finnhub",
    "nasdaq": "Nasdaq",
    "sec-filings": "SEC filings",  # debt.<ticker>: the miners' own filings (issue 14)
}

_OP_WORDS = {"<": "below", "<=": "at or below", ">": "above", ">=": "at or above"}


def truncate(text: str, limit: int = TELEGRAM_MAX_CHARS) -> str:
    """Cut to Telegram's limit with a visible marker (Alertmanager's TruncateInRunes)."""
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARK)] + TRUNCATION_MARK


def label(metric: str) -> str:
    info = lookup(metric)
    return info.label if info else metric


def source_line(source: str, links: Mapping[str, str]) -> str:
    if "+" in source:  # a derived value names each input's source: "yahoo+edgar"
        return " + ".join(source_line(part, links) for part in source.split("+"))
    name = escape(SOURCE_NAMES.get(source, source))
    url = links.get(source)
    return f'<a href="{escape(url, quote=True)}">{name}</a>' if url else name


def duration_text(seconds: float) -> str:
    """``47 min``, ``2 h 14 m``, ``3 d 4 h``: how long an alert fired or a source was down."""
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} m" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def clock_text(at: datetime, now: datetime, tz: tzinfo) -> str:
    """``09:45 CST`` today (in ``tz``), ``Mon 30 Nov 09:45 CST`` on another day."""
    local, today = at.astimezone(tz), now.astimezone(tz)
    fmt = "%H:%M %Z" if local.date() == today.date() else "%a %-d %b %H:%M %Z"
    return local.strftime(fmt)


def source_name(source: str) -> str:
    return " + ".join(SOURCE_NAMES.get(part, part) for part in source.split("+"))


def nodata_title(source: str, since: datetime, now: datetime, tz: tzinfo, down_s: float | None = None) -> str:
    """The first line of a chat's no-data notice for one source (all its rules on it); ``down_s``:
    how long it has been down when that is not wall time (a stock counts trading time)."""
    down = duration_text((now - since).total_seconds() if down_s is None else down_s)
    return (
        f"⚠️ <b>No data from {escape(source_name(source))} for {down}</b>"
        f" (last value {escape(clock_text(since, now, tz))}): these alerts wait until it answers again"
    )


def data_back_title(source: str, down_s: float | None) -> str:
    after = f" after {duration_text(down_s)}" if down_s is not None else ""
    return f"✅ <b>Data back from {escape(source_name(source))}{after}</b>: these alerts are judged again"


def data_back_message(rule_text: str, source: str, down_s: float | None, value_text: str) -> str:
    """One rule's source answered again after its no-data notice."""
    after = f" after {duration_text(down_s)}" if down_s is not None else ""
    return truncate(
        f"✅ <b>Data back from {escape(source_name(source))}{after}</b>\n"
        f"now {escape(value_text)} · this alert is judged again\n<code>{escape(rule_text)}</code>"
    )


def ercot_interval_title(interval_end: datetime) -> str:
    """A grouped message's first line: the ERCOT interval it is about, on ERCOT's clock (CT)."""
    from zoneinfo import ZoneInfo

    end = interval_end.astimezone(ZoneInfo("America/Chicago"))
    return f"⚡ <b>ERCOT interval ending {end:%H:%M} CT</b> ({end:%a %-d %b})"


def _context(metric: str, snapshot: Mapping[str, float], tz: tzinfo) -> list[str]:
    """The numbers a reader wants next to this metric, taken from the same snapshot."""
    parts: list[str] = []
    if metric.startswith("difficulty"):
        if "difficulty.blocks_left" in snapshot:
            parts.append(f"{format_value('difficulty.blocks_left', snapshot['difficulty.blocks_left'])} left")
        if "difficulty.retarget_eta" in snapshot:
            eta = format_value("difficulty.retarget_eta", snapshot["difficulty.retarget_eta"], tz)
            parts.append(f"retarget ≈ {eta}")
    elif metric.startswith("hashprice") or metric in ("margin", "profit", "breakeven"):
        if metric == "breakeven" and "breakeven" in snapshot:
            cents = usd_per_mwh_to_cents_per_kwh(float(snapshot["breakeven"]))
            parts.append(f"{cents:,.2f}¢/kWh")
        for other in ("price", "difficulty"):
            if other in snapshot:
                parts.append(f"{label(other).lower()} {format_value(other, snapshot[other])}")
    return parts


def alert_message(
    *,
    rule: ThresholdRule | ChangeRule,
    reason: Reason,
    value: float | None,
    snapshot: Mapping[str, float],
    source: str,
    links: Mapping[str, str],
    rule_text: str,
    tz: tzinfo = UTC,
    reference: float | None = None,
    stale_minutes: int | None = None,
    fired_for_s: float | None = None,
    stale_since: datetime | None = None,
    now: datetime | None = None,
) -> str:
    """``fired_for_s``: with RESOLVED, how long the alert fired; ``stale_since``/``now``: with
    NO_DATA, the source's last value (the notice says since when and for how long)."""
    name = escape(label(rule.metric))
    shown = format_value(rule.metric, value, tz) if value is not None else "n/a"
    if reason is Reason.NO_DATA:
        down = duration_text(stale_minutes * 60) if stale_minutes is not None else "a while"
        head = f"⚠️ <b>No data for {escape(rule.metric)} from {escape(source_name(source))} for {down}</b>"
        ctx = ["this alert waits until the source answers again"]
        if stale_since is not None and now is not None:
            ctx.insert(0, f"last value {escape(clock_text(stale_since, now, tz))}")
    elif isinstance(rule, ThresholdRule):
        threshold = format_value(rule.metric, rule.value, tz)
        word = _OP_WORDS[str(rule.op)]
        if reason is Reason.RESOLVED:
            head = f"✅ <b>{name} {escape(shown)}</b>"
            ctx = [f"back from {word} {escape(threshold)}"]
            if fired_for_s is not None:
                ctx.append(f"resolved after {duration_text(fired_for_s)}")
        else:
            icon = "🔁" if reason is Reason.REPEAT else ("🚨" if rule.severe else "🔔")
            head = f"{icon} <b>{name} {escape(shown)}</b>"
            ctx = [f"{word} your threshold {escape(threshold)}"]
    else:
        was = format_value(rule.metric, reference, tz) if reference is not None else "n/a"
        if reason is Reason.RESOLVED:
            head = f"✅ <b>{name} {escape(shown)}</b>"
            ctx = [f"no longer {rule.direction[:-1]}ing {rule.pct:g}% in the window"]
        else:
            icon = "🔁" if reason is Reason.REPEAT else ("🚨" if rule.severe else "🔔")
            head = f"{icon} <b>{name} {escape(shown)}</b>"
            ctx = [f"{rule.direction} from {escape(was)} (≥ {rule.pct:g}%)"]
    ctx += [escape(p) for p in _context(rule.metric, snapshot, tz)]
    lines = [head, " · ".join(ctx), f"{source_line(source, links)} · <code>{escape(rule_text)}</code>"]
    return truncate("\n".join(lines))


def curtail_message(
    reason: Reason,
    snapshot: Mapping[str, Any],
    *,
    links: Mapping[str, str],
    tz: tzinfo = UTC,
    fired_for_s: float | None = None,
) -> str:
    """The curtail signal in words a site manager acts on: power price vs the fleet's breakeven."""
    hub = str(snapshot["hub"]).upper()
    power = format_value(f"power.{hub.lower()}", float(snapshot[f"power.{hub.lower()}"]), tz)
    breakeven = breakeven_text(float(snapshot["breakeven"]))
    if reason is Reason.RESOLVED:
        head = f"⛏ <b>Mine again: {escape(hub)} {escape(power)}</b>"
        ctx = f"below your breakeven {breakeven}: mining earns more than power costs"
        if fired_for_s is not None:
            ctx += f" · curtailed for {duration_text(fired_for_s)}"
    else:
        icon = "🔁" if reason is Reason.REPEAT else "🔌"
        head = f"{icon} <b>Curtail: {escape(hub)} {escape(power)}</b>"
        ctx = f"above your breakeven {breakeven}: mining now loses money"
    hashprice = snapshot.get("hashprice")
    if isinstance(hashprice, int | float):
        ctx += f" · hashprice {format_value('hashprice', float(hashprice))}"
    source = hub.split(".")[0].lower() if "." in hub else "ercot"  # NYISO.WEST: another grid
    return truncate(f"{head}\n{escape(ctx)}\n{source_line(source, links)} · <code>curtail</code>")


def event_message(kind: str, data: Mapping[str, Any], links: Mapping[str, str], tz: tzinfo = UTC) -> str:
    if kind == "retarget":
        realised = data.get("realised_change_pct")
        projected = data.get("projected_change_pct")
        change = f": {realised:+.2f}%" if isinstance(realised, int | float) else ""
        head = f"⛏ <b>Difficulty retarget at block {int(data.get('height') or 0):,}{change}</b>"
        ctx = (
            f"last projection {projected:+.2f}%" if isinstance(projected, int | float) else "new epoch began"
        )
        if isinstance(data.get("difficulty"), int | float):
            ctx += f" · difficulty {format_value('difficulty', float(data['difficulty']))}"
        lines = [head, escape(ctx)]
        hashprice = data.get("hashprice")
        if isinstance(hashprice, int | float):  # what the new difficulty pays, at today's price and fees
            inputs = []
            if isinstance(data.get("price"), int | float):
                inputs.append(f"price {format_value('price', float(data['price']))}")
            if isinstance(data.get("fees"), int | float):
                inputs.append(f"fees {format_value('fees', float(data['fees']))}/block")
            at = f" (at {', '.join(inputs)})" if inputs else ""
            lines.append(
                f"new hashprice <b>{escape(format_value('hashprice', float(hashprice)))}</b>{escape(at)}"
            )
        lines.append(source_line(str(data.get("source", "mempool")), links))
        return truncate("\n".join(lines))
    if kind == "filing":
        from bot.delivery.filing_messages import filing_message

        return filing_message(data)
    if kind == "converts":
        from bot.delivery.stock_messages import converts_message  # it imports this module

        return converts_message(data, links, tz)
    if kind == "4cp":
        from bot.delivery.grid_messages import fourcp_message  # it imports this module

        return fourcp_message(data, links, tz)
    if kind == "ercot.grid":
        from bot.delivery.grid_messages import grid_message

        return grid_message(data, links, tz)
    if kind in ("production", "treasury", "quiet"):
        from bot.delivery import production_messages as pm  # it imports this module

        return {
            "production": pm.production_message,
            "treasury": pm.treasury_message,
            "quiet": pm.quiet_message,
        }[kind](data)
    if kind in ("debt", "maturity"):
        from bot.delivery.ledger_messages import debt_message, maturity_message  # it imports this module

        return debt_message(data, links) if kind == "debt" else maturity_message(data, links)
    return truncate(f"<b>{escape(kind)}</b>\n{escape(str(dict(data)))}")
