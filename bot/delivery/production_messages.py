"""Production, treasury, HPC-contract and gone-quiet messages of the miner book (issue 19).

Every function takes plain data (the stored event's payload) and returns Telegram HTML; no I/O.
A production figure is one line with its numbers, the period and the change from the previous
period of the same kind (month against month, quarter against quarter):

    CLSK · October 2023: 633 BTC mined (−3% MoM), 2,311 BTC held (+4%), 10.02 EH/s current,
    27.32 J/TH · filed 2 Nov 08:00 ET
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from bot.delivery.messages import truncate
from rules.production import previous_period
from watchers.filings.operations import MONTHS, Operations

EASTERN = ZoneInfo("America/New_York")


def period_label(period: str | None) -> str:
    """ "2023-10" -> "October 2023", "2025-Q3" -> "Q3 2025", "June" stays."""
    if not period:
        return "period not stated"
    m = re.fullmatch(r"(20\d\d)-(\d\d)", period)
    if m:
        return f"{MONTHS[int(m.group(2)) - 1].capitalize()} {m.group(1)}"
    m = re.fullmatch(r"(20\d\d)-Q([1-4])", period)
    if m:
        return f"Q{m.group(2)} {m.group(1)}"
    return period


def change_word(period: str | None) -> str:
    if period and re.fullmatch(r"20\d\d-\d\d", period):
        return "MoM"
    if period and re.fullmatch(r"20\d\d-Q[1-4]", period):
        return "QoQ"
    return "vs previous"


def ehs(value: float) -> str:
    """A hash rate as the release states it: 12.4, 10.02, 50.0 (not 12.40 or 50)."""
    text = f"{value:,.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _num(value: float, decimals: int = 0) -> str:
    text = f"{value:,.{decimals}f}"
    return text


def _btc(value: float) -> str:
    return _num(value, 0) if float(value).is_integer() else f"{value:,.2f}"


def _pct(now: float, before: float | None) -> str | None:
    if before is None or before == 0:
        return None
    change = (now / before - 1.0) * 100.0
    return f"{change:+.0f}%".replace("-", "−")


def _usd(value: float) -> str:
    if value >= 1e9:
        return f"${value / 1e9:,.1f}B"
    return f"${value / 1e6:,.0f}M"


def _filed(filed_at: str | None) -> str:
    if not filed_at:
        return ""
    at = datetime.fromisoformat(filed_at).astimezone(EASTERN)
    return f" · filed {at.day} {at.strftime('%b %H:%M')} ET"


def _since(change: str | None, period: str | None, before: str | None, *, word: bool = True) -> str:
    """ " (−3% MoM)" against the period just before; " (−29% vs February 2024)" against an older one."""
    if change is None:
        return ""
    if before is not None and before == previous_period(period):
        return f" ({change} {change_word(period)})" if word else f" ({change})"
    return f" ({change} vs {period_label(before)})"


def production_line(data: Mapping[str, Any]) -> str:
    """One plain-text line: ticker, period, the figures with their qualifiers and changes."""
    figures: Mapping[str, Mapping[str, Any]] = data.get("figures") or {}
    previous: Mapping[str, Mapping[str, Any]] = data.get("previous") or {}
    period = data.get("period")
    parts: list[str] = []
    mined = figures.get("mined_btc")
    if mined:
        prev = previous.get("mined_btc") or {}
        change = _pct(float(mined["value"]), prev.get("value"))
        parts.append(f"{_btc(float(mined['value']))} BTC mined" + _since(change, period, prev.get("period")))
    held = figures.get("held_btc")
    if held:
        prev = previous.get("held_btc") or {}
        change = _pct(float(held["value"]), prev.get("value"))
        text = f"{_btc(float(held['value']))} BTC held" + _since(
            change, period, prev.get("period"), word=False
        )
        if held.get("qualifier"):
            text += f" [{held['qualifier']}]"
        parts.append(text)
    rate = figures.get("hashrate_ehs")
    if rate:
        qualifier = f" {rate['qualifier']}" if rate.get("qualifier") else ""
        parts.append(f"{ehs(float(rate['value']))} EH/s{qualifier}")
    eff = figures.get("efficiency_jth")
    if eff:
        parts.append(f"{float(eff['value']):g} J/TH")
    power = figures.get("power_mw")
    if power:
        parts.append(f"{_num(float(power['value']))} MW")
    body = ", ".join(parts) if parts else "no production figures stated"
    return f"{data.get('ticker', '?')} · {period_label(period)}: {body}{_filed(data.get('filed_at'))}"


def hpc_line(ticker: str, hpc: Mapping[str, Any]) -> str:
    """The contract's own figures, labelled; unpaired figures said as found."""
    if not hpc.get("paired"):
        found_mw = ", ".join(_num(float(v)) for v in hpc.get("found_mw") or ()) or "none"
        found_usd = ", ".join(_usd(float(v)) for v in hpc.get("found_usd") or ()) or "none"
        text = f"{ticker} · HPC release names no single contract; found MW: {found_mw}; $: {found_usd}"
        if hpc.get("total_mw") or hpc.get("total_value_usd"):
            totals = []
            if hpc.get("total_mw"):
                totals.append(f"{_num(float(hpc['total_mw']))} MW")
            if hpc.get("total_value_usd"):
                totals.append(_usd(float(hpc["total_value_usd"])))
            text += f" · stated totals {' / '.join(totals)}"
        return text
    parts = [f"{ticker}"]
    kind = f" {hpc['mw_kind']}" if hpc.get("mw_kind") else ""
    parts.append(f"{_num(float(hpc['subject_mw']))} MW{kind} contract")
    if hpc.get("value_usd"):
        basis = hpc.get("value_basis") or "value"
        label = (
            "base-term value" if basis == "base term" else f"{basis} value" if basis != "value" else "value"
        )
        over = f" over {hpc['term_years']} years" if hpc.get("term_years") else ""
        parts.append(f"{label} {_usd(float(hpc['value_usd']))}{over}")
    elif hpc.get("term_years"):
        parts.append(f"term {hpc['term_years']} years")
    if hpc.get("value_with_extensions_usd"):
        parts.append(f"with renewals {_usd(float(hpc['value_with_extensions_usd']))}")
    if hpc.get("counterparty"):
        backstop = f" (backstop {hpc['guarantor']})" if hpc.get("guarantor") else ""
        parts.append(f"counterparty {hpc['counterparty']}{backstop}")
    totals = []
    if hpc.get("total_mw"):
        totals.append(f"{_num(float(hpc['total_mw']))} MW")
    if hpc.get("total_value_usd"):
        totals.append(_usd(float(hpc["total_value_usd"])))
    if totals:
        parts.append(f"stated totals {' / '.join(totals)}")
    return " · ".join(parts)


def treasury_line(data: Mapping[str, Any]) -> str:
    """ "MARA · BTC held 35,303 at 2026-03-31 (−33% since 2025-09-30)"."""
    at = data.get("as_of") or period_label(data.get("period"))
    text = f"{data.get('ticker', '?')} · BTC held {_btc(float(data['value']))} at {at}"
    before = data.get("before_value")
    change = _pct(float(data["value"]), float(before) if before is not None else None)
    if change:
        text += f" ({change} since {data.get('before_at') or '?'})"
    if data.get("qualifier"):
        text += f" [{data['qualifier']}]"
    return text


def quiet_line(data: Mapping[str, Any]) -> str:
    return (
        f"{data.get('ticker', '?')} has gone quiet: no production figures since {data.get('last_at', '?')} "
        f"({data.get('days_since', '?')} days; it used to report every ~{data.get('usual_days', '?')} days)"
    )


def production_message(data: Mapping[str, Any]) -> str:
    lines = [f"⛏ <b>{escape(production_line(data))}</b>"]
    if data.get("hpc"):
        lines.append("🖥 " + escape(hpc_line(str(data.get("ticker", "?")), data["hpc"])))
    if data.get("url"):
        lines.append(f'<a href="{escape(str(data["url"]), quote=True)}">filing index</a>')
    return truncate("\n".join(lines) + "\n<code>production</code>")


def treasury_message(data: Mapping[str, Any]) -> str:
    return truncate(f"🏦 <b>{escape(treasury_line(data))}</b>\n<code>treasury</code>")


def quiet_message(data: Mapping[str, Any]) -> str:
    return truncate(f"🤫 <b>{escape(quiet_line(data))}</b>\n<code>quiet</code>")


def operations_lines(ops: Operations) -> list[str]:
    """The CLI's plain-text view of extracted operating figures."""
    lines = [f"operations.period: {ops.period or '-'}"]
    for name, fig in ops.figures.items():
        extra = [x for x in (fig.period, f"as of {fig.as_of}" if fig.as_of else None, fig.qualifier) if x]
        lines.append(
            f"operations.{name}: {fig.value:g} {fig.unit}" + (f" ({'; '.join(extra)})" if extra else "")
        )
    if ops.hpc is not None:
        from dataclasses import asdict

        lines.append("operations.hpc: " + hpc_line("", asdict(ops.hpc)).lstrip(" ·"))
    return lines
