"""Per-chat settings and read-outs: /status, /fleet, /snooze, /quiet, /mute, /unmute, /tz, /filings.

In groups only administrators may change settings or rules (checked with Telegram and cached
briefly); anyone may read /alerts, /status and /filings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.delivery.messages import SOURCE_NAMES, label
from bot.engine import freshness
from bot.handlers.commands import command_argument, reply
from bot.handlers.permissions import Handler, admin_only
from bot.ops import follow
from bot.services import Services, services
from rules.catalogue import POWER_POINTS, format_value
from rules.chat_settings import ChatSettings
from rules.durations import DurationError, format_duration, parse_duration
from rules.equity import PRICE_FAMILY, split_metric
from rules.fleet import Fleet, fleet_day, fleet_metrics, usd_per_mwh_to_cents_per_kwh
from rules.grammar import RuleError
from rules.hashprice import blocks_to_halving
from rules.isos import ISO_HUBS
from rules.isos import hub as hub_info
from rules.quiet import format_quiet, parse_quiet, zone
from rules.timefmt import age_text, local_clock, local_datetime, zone_suggestions
from rules.units import FleetInput, FleetInputError, FleetQuestion, money_per_kwh, parse_fleet, parse_index
from storage import chats, events, observations, watcher_state
from storage import rules as rule_store
from storage.clock import parse_iso

DEFAULT_STALE_AFTER_S = 30 * 60  # [alerts] stale_after's default: callers pass the configured one


def _ago(at: str | None, now: datetime) -> str:
    when = parse_iso(at)
    if when is None:
        return "never"
    return f"{age_text((now - when).total_seconds())} ago"


@dataclass
class _Segment:
    """One value (or a few from one derivation) on a status line, and the metrics it shows."""

    text: str
    metrics: tuple[str, ...]


class _Ages:
    """Each value's own age and staleness, rendered relative ("26 min old", for a reply) or absolute
    ("as of 08:12 CST", for a message edited in place, where a relative age would freeze)."""

    def __init__(
        self,
        snapshot: dict[str, dict[str, Any]],
        now: datetime,
        tz: ZoneInfo,
        stale_after_s: float,
        as_of: bool,
    ) -> None:
        self.at = {m: parse_iso(row["at"]) for m, row in snapshot.items()}
        self.now, self.tz, self.stale_after_s, self.as_of = now, tz, stale_after_s, as_of

    def _oldest(self, metrics: tuple[str, ...]) -> tuple[datetime | None, bool]:
        times = [(m, self.at.get(m)) for m in metrics]
        known = [(m, t) for m, t in times if t is not None]
        if not known:
            return None, False
        stale = any(freshness.is_stale(m, t, self.now, self.stale_after_s) for m, t in known)
        return min(t for _, t in known), stale

    def suffix(self, metrics: tuple[str, ...]) -> str:
        oldest, stale = self._oldest(metrics)
        if oldest is None:
            return ""
        if self.as_of:  # fixed text: only a stale value says when it is from
            return f" ⚠️ <i>stale, as of {escape(local_datetime(oldest, self.tz))}</i>" if stale else ""
        seconds = (self.now - oldest).total_seconds()
        age = age_text(seconds) if seconds >= 60 else "<1 min"
        return f" ⚠️ <i>stale, {escape(age)} old</i>" if stale else f", <i>{escape(age)} old</i>"

    def line(self, segments: list[_Segment]) -> str:
        """Segments joined with " · ", each run of equal ages followed once by that age."""
        out: list[str] = []
        for i, seg in enumerate(segments):
            mine = self.suffix(seg.metrics)
            following = self.suffix(segments[i + 1].metrics) if i + 1 < len(segments) else None
            out.append(seg.text + ("" if mine == following and "stale" not in mine else mine))
        return " · ".join(out)


def format_hashrate(ths: float) -> str:
    """``27 PH/s``, ``1.2 EH/s``, ``800 TH/s``."""
    for unit, scale in (("EH/s", 1e6), ("PH/s", 1e3)):
        if ths >= scale:
            return f"{ths / scale:,.2f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{ths:,.2f}".rstrip("0").rstrip(".") + " TH/s"


def breakeven_html(usd_per_mwh: float) -> str:
    """``<b>$45.00/MWh</b> (4.50¢/kWh)``: the ERCOT unit, and the one on a power bill."""
    cents = usd_per_mwh_to_cents_per_kwh(usd_per_mwh)
    return f"<b>{escape(format_value('breakeven', usd_per_mwh))}</b> ({cents:,.2f}¢/kWh)"


def fleet_lines(fleet: Fleet, v: dict[str, float]) -> list[str]:
    """Breakeven, margin and profit at the stored hashprice, and the fleet's day when sized."""
    econ = fleet_metrics(v["hashprice"], fleet)
    lines = [
        f"Your fleet ({escape(fleet_label(fleet))}): "
        f"breakeven {breakeven_html(econ['breakeven'])} · "
        f"margin {escape(format_value('margin', econ['margin']))} · "
        f"profit {escape(format_value('profit', econ['profit']))}"
    ]
    day = fleet_day(v["hashprice"], v.get("hashprice.btc"), fleet)
    if day is not None:
        btc = f" · {_btc(day.revenue_btc)} BTC/day" if day.revenue_btc is not None else ""
        lines.append(
            f"Fleet per day: revenue <b>{_usd(day.revenue_usd)}</b>{btc} · power "
            f"{_usd(day.cost_usd)} ({day.power_kwh / 1000:,.1f} MWh) · profit <b>{_usd(day.profit_usd)}</b>"
        )
    return lines


def _usd(value: float) -> str:
    return f"{'-' if value < 0 else ''}${abs(value):,.2f}"


def _btc(value: float) -> str:
    return f"{value:,.8f}".rstrip("0").rstrip(".")


def status_text(
    snapshot: dict[str, dict[str, Any]],
    settings: ChatSettings,
    now: datetime,
    tz: ZoneInfo,
    *,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    as_of: bool = False,
) -> str:
    """The current numbers in a few short lines, each value with its own age (or, ``as_of``, the
    time of the newest value for a message that is edited in place) and stale ones marked."""
    if not snapshot:
        return "No data yet: the watchers have not reported. Try again in a minute."
    v = {k: row["value"] for k, row in snapshot.items()}
    ages = _Ages(snapshot, now, tz, stale_after_s, as_of)

    def fmt(metric: str) -> str:
        return escape(format_value(metric, v[metric], tz))

    lines = ["<b>MinerWatch status</b>"]
    if "hashprice" in v:
        line = f"Hashprice <b>{fmt('hashprice')}</b>"
        shown = [m for m in ("hashprice.btc", "hashprice.sats") if m in v]
        if shown:
            line += f" ({' · '.join(fmt(m) for m in shown)})"
        if "hashprice.next" in v:
            line += f" · next epoch {fmt('hashprice.next')}"
        lines.append(ages.line([_Segment(line, ("hashprice", *shown))]))
    if "difficulty" in v or "difficulty.next_change" in v:
        segments = []
        if "difficulty" in v:
            segments.append(_Segment(f"Difficulty {fmt('difficulty')}", ("difficulty",)))
        if "difficulty.next_change" in v:
            proj = f"projection <b>{fmt('difficulty.next_change')}</b>"
            if "difficulty.blocks_left" in v:
                proj += f" in {fmt('difficulty.blocks_left')}"
            if "difficulty.retarget_eta" in v:
                proj += f" (≈ {fmt('difficulty.retarget_eta')})"
            segments.append(_Segment(proj, ("difficulty.next_change",)))
        lines.append(ages.line(segments))
    market = [
        _Segment(f"{label(m)} {fmt(m)}", (m,)) for m in ("hashrate", "price", "fees", "fee_share") if m in v
    ]
    if market:
        lines.append(ages.line(market))
    if "height" in v:
        left = blocks_to_halving(int(v["height"]))
        lines.append(f"Halving in {left:,} block{'' if left == 1 else 's'}")
    fleet = settings.fleet
    if fleet and "hashprice" in v:
        fleet_text = fleet_lines(fleet, v)
        lines.append(ages.line([_Segment(fleet_text[0], ("hashprice",))]))
        lines += fleet_text[1:]
    hub = settings.hub
    power_metric = f"power.{hub.lower()}" if hub else None
    if hub and power_metric and power_metric in v:
        lines.append(ages.line([_Segment(f"Power {escape(hub)} {fmt(power_metric)}", (power_metric,))]))
    stocks = sorted(m for m in v if m.startswith(f"{PRICE_FAMILY}.") and split_metric(m) is not None)
    if stocks:  # the watched miners' shares, when quotes exist
        segments = [_Segment(f"{m.split('.', 1)[1].upper()} {fmt(m)}", (m,)) for m in stocks]
        lines.append("Stocks: " + ages.line(segments))
    newest = max((row["at"] for row in snapshot.values()), default=None)
    # a derived value names each input's source ("yahoo+edgar"): list each once
    sources = sorted({SOURCE_NAMES.get(p, p) for row in snapshot.values() for p in row["source"].split("+")})
    newest_at = parse_iso(newest)
    when = (
        f"as of {local_clock(newest_at, tz)}"
        if as_of and newest_at is not None
        else f"updated {_ago(newest, now)}"
    )
    lines.append(f"<i>{escape(', '.join(sources))} · {escape(when)}</i>")
    return "\n".join(lines)


async def cmd_status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    snapshot = await svc.db(observations.latest_all)
    settings = await svc.db(chats.get_settings, chat.id)
    row = await svc.db(chats.get_chat, chat.id)
    tz = ZoneInfo((row or {}).get("tz") or "UTC")
    text = status_text(snapshot, settings, svc.clock(), tz, stale_after_s=svc.settings.alerts.stale_after)
    health = {sw.watcher.id: await svc.db(watcher_state.health, sw.watcher.id) for sw in svc.watchers}
    sources = follow.status_line(follow.following(svc, follow.running(context.bot_data), health), svc.clock())
    if sources and snapshot:
        text += f"\n<i>{escape(sources)}</i>"  # how each source is followed (push, poll, fallback)
    await reply(update, text)


FLEET_EXAMPLE = (
    "<code>/fleet 18 0.045</code> (J/TH, USD/kWh; <code>45/MWh</code> and <code>4.5c</code> work too) or "
    "an ASIC model, <code>/fleet S21XP 0.045</code>; optionally <code>hosting 0.01</code>, "
    "<code>hub HB_WEST</code> and the fleet's size, <code>size 500PH</code> or <code>machines 2000</code>"
)
FLEET_CHANGE = (
    "Change one field, the others stay: <code>/fleet hub HB_WEST</code>, <code>/fleet hosting 0.01</code>, "
    "<code>/fleet power 4.5c</code>, <code>/fleet S21XP</code>, <code>/fleet size 500PH</code>; "
    "<code>/fleet off</code> removes it."
)
SNOOZE_EXAMPLE = "<code>/snooze 2h</code> (all alerts) or <code>/snooze 30m 2</code> (alert number 2)"
MAX_SNOOZE_S = 30 * 86400  # longer than a month is not a snooze: /mute says what it means


def fleet_label(fleet: Fleet) -> str:
    """``Antminer S21 XP (13.5 J/TH), $0.045/kWh power + $0.01/kWh hosting, 100 machines = 27 PH/s``:
    every input of breakeven and margin, so a user can redo the arithmetic."""
    efficiency = f"{fleet.efficiency_j_per_th:g} J/TH"
    text = f"{fleet.model} ({efficiency})" if fleet.model else efficiency
    text += f", {money_per_kwh(fleet.power_usd_per_kwh)} power"
    if fleet.hosting_usd_per_kwh:
        text += f" + {money_per_kwh(fleet.hosting_usd_per_kwh)} hosting"
    if fleet.hashrate_ths is not None:
        size = format_hashrate(fleet.hashrate_ths)
        text += f", {fleet.machines:,} machines = {size}" if fleet.machines else f", {size}"
    return text


def read_or_admin(handler: Handler) -> Handler:
    """Asking (the command alone) is for everyone; changing is for the chat's administrators."""
    guarded = admin_only(handler)

    async def route(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await (handler if not command_argument(update) else guarded)(update, context)

    route.__name__ = handler.__name__
    route.__doc__ = handler.__doc__
    return route


def _fleet_input(settings: ChatSettings) -> FleetInput | None:
    fleet = settings.fleet
    if fleet is None:
        return None
    return FleetInput(
        fleet.efficiency_j_per_th,
        fleet.power_usd_per_kwh,
        fleet.hosting_usd_per_kwh,
        settings.hub,
        fleet.model,
        fleet.hashrate_ths,
        fleet.machines,
    )


async def _fleet_now(svc: Services, fleet: Fleet) -> str:
    """Breakeven (in $/MWh and ¢/kWh), margin and the fleet's day at the stored hashprice."""
    last = await svc.db(observations.latest, "hashprice")
    if last is None:
        return ""
    btc = await svc.db(observations.latest, "hashprice.btc")
    v = {"hashprice": last[0], **({"hashprice.btc": btc[0]} if btc else {})}
    econ = fleet_metrics(last[0], fleet)
    text = (
        f"\nAt hashprice {escape(format_value('hashprice', last[0]))}: breakeven "
        f"{breakeven_html(econ['breakeven'])}, margin "
        f"{escape(format_value('margin', econ['margin']))}"
    )
    per_day = fleet_lines(fleet, v)[1:]
    return text + "".join(f"\n{line}" for line in per_day)


def _hub_warning(svc: Services, hub: str) -> str:
    power = svc.settings.watchers.power
    other_grid = hub_info(hub)
    grids = svc.settings.watchers.grids
    if other_grid is not None:
        if not grids.enabled or f"{other_grid.iso}.{other_grid.slug}" not in grids.hubs:
            return (
                f"\n⚠️ {escape(hub)} is not among the hubs this bot reads ([watchers.grids]): "
                "<code>curtail</code> cannot fire for it until the operator adds it."
            )
        if other_grid.currency != "USD":
            return (
                f"\n⚠️ {escape(hub)} is priced in {other_grid.currency}: "
                "it is never compared with a USD breakeven."
            )
        return ""
    if not power.enabled:
        return (
            "\n⚠️ ERCOT prices are not watched on this bot ([watchers.power] is off): "
            "<code>curtail</code> alerts cannot fire until the operator turns it on."
        )
    if hub not in power.points:
        return (
            f"\n⚠️ {escape(hub)} is not among the points this bot polls "
            f"({escape(', '.join(power.points))}): <code>curtail</code> cannot fire for it."
        )
    return ""


async def fleet_view(svc: Services, settings: ChatSettings) -> str:
    """What /fleet alone answers: the fleet with hub, hosting, size and today's breakeven."""
    fleet = settings.fleet
    if fleet is None:
        return f"No fleet set. Set one: {FLEET_EXAMPLE}"
    hub = f"\nPower hub: {escape(settings.hub)}" if settings.hub else "\nPower hub: none (curtail needs one)"
    return f"Fleet: {escape(fleet_label(fleet))}{hub}{await _fleet_now(svc, fleet)}\n{FLEET_CHANGE}"


@read_or_admin
async def cmd_fleet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    args = command_argument(update).split()
    now = svc.clock()
    settings = await svc.db(chats.get_settings, chat.id)
    if not args:
        await reply(update, await fleet_view(svc, settings))
        return
    if args == ["off"]:
        await svc.db(chats.update_settings, chat.id, now, fleet=None, hub=None)
        await reply(update, "Fleet removed.")
        return
    # ERCOT points, and the other grids' hubs (power.<iso>.<hub>, read through gridstatus)
    points = (
        set(POWER_POINTS)
        | {p.lower() for p in svc.settings.watchers.power.points}
        | {name.removeprefix("power.") for name in ISO_HUBS}
    )
    current = _fleet_input(settings)
    try:
        parsed = parse_fleet(args, points, current)
    except FleetQuestion as err:
        tries = "".join(f"\n<code>/fleet {escape(s)}</code>" for s in err.suggestions)
        await reply(update, f"❓ {escape(err.problem, quote=False)}{tries}\nNothing was changed.")
        return
    except FleetInputError as err:
        await reply(update, f"❌ {escape(err.problem, quote=False)}. Example: {FLEET_EXAMPLE}")
        return
    fleet = Fleet(
        parsed.efficiency_j_per_th,
        parsed.power_usd_per_kwh,
        parsed.hosting_usd_per_kwh,
        parsed.model,
        parsed.hashrate_ths,
        parsed.machines,
    )
    hub = parsed.hub
    await svc.db(chats.update_settings, chat.id, now, fleet=fleet, hub=hub)
    text = f"✅ Fleet set: {escape(fleet_label(fleet))}"
    text += f", power hub {escape(hub)}" if hub else ""
    if current is not None:  # say what a partial change kept, so nothing changes silently
        text += " (fields you did not name are unchanged)"
    if hub and (current is None or current.hub != hub):
        text += _hub_warning(svc, hub)
    text += await _fleet_now(svc, fleet)
    await reply(update, text)


def _snooze_view(settings: ChatSettings, rules: list[dict[str, Any]], now: datetime, tz: ZoneInfo) -> str:
    lines = []
    if settings.snooze_until and settings.snooze_until > now:
        lines.append(f"😴 All alerts snoozed until {escape(local_datetime(settings.snooze_until, tz))}.")
    texts = {r["id"]: (i, r["text"]) for i, r in enumerate(rules, start=1)}
    for rule_id, until in sorted(settings.snooze_rules.items()):
        if until > now and rule_id in texts:
            number, text = texts[rule_id]
            lines.append(
                f"😴 {number}. <code>{escape(text)}</code> snoozed until {escape(local_datetime(until, tz))}."
            )
    if not lines:
        lines.append("No alerts are snoozed.")
    if settings.muted:
        lines.append("🔇 The chat is muted: /unmute.")
    lines.append(f"Snooze for up to 30 days: {SNOOZE_EXAMPLE}; <code>/snooze off</code> lifts it.")
    return "\n".join(lines)


@read_or_admin
async def cmd_snooze(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    args = command_argument(update).split()
    now = svc.clock()
    settings = await svc.db(chats.get_settings, chat.id)
    tz = settings.zone()
    if not args:
        rules = await svc.db(rule_store.list_rules, chat.id)
        await reply(update, _snooze_view(settings, rules, now, tz))
        return
    if args == ["off"]:
        await svc.db(chats.update_settings, chat.id, now, snooze_until=None, snooze_rules=None)
        await reply(update, "Snooze lifted.")
        return
    if len(args) > 2:
        await reply(update, f"❌ Say for how long. Example: {SNOOZE_EXAMPLE}")
        return
    try:
        seconds = parse_duration(args[0])
    except DurationError as err:
        await reply(update, f"❌ {escape(str(err), quote=False)}. Example: {SNOOZE_EXAMPLE}")
        return
    if seconds > MAX_SNOOZE_S:
        await reply(
            update,
            f"❌ {escape(args[0])} is longer than a snooze may last (30 days). To stop alerts until you "
            "turn them back on, use <code>/mute</code> (and <code>/unmute</code> to resume).",
        )
        return
    until = now + timedelta(seconds=seconds)
    when = escape(local_datetime(until, tz))
    if len(args) == 1:
        await svc.db(chats.update_settings, chat.id, now, snooze_until=until)
        await reply(update, f"😴 All alerts snoozed for {format_duration(seconds)} (until {when}).")
        return
    rules = await svc.db(rule_store.list_rules, chat.id)
    number = parse_index(args[1])
    if number is None or number > len(rules):
        await reply(
            update,
            f"❌ There is no alert number {escape(args[1])}: /alerts lists them. Example: {SNOOZE_EXAMPLE}",
        )
        return
    rule = rules[number - 1]
    snoozed = dict(settings.snooze_rules)
    snoozed[rule["id"]] = until
    await svc.db(chats.update_settings, chat.id, now, snooze_rules=snoozed)
    await reply(
        update,
        f"😴 <code>{escape(rule['text'])}</code> snoozed for {format_duration(seconds)} (until {when}).",
    )


def abbreviation_reply(command: str, word: str, rebuild: str = "{}") -> str | None:
    """``/tz CST`` -> a question with tappable ``/tz America/Chicago``; None for other words.
    ``rebuild`` is the command's argument with ``{}`` where the zone goes."""
    suggestions = zone_suggestions(word)
    if not suggestions:
        return None
    tries = "".join(f"\n<code>/{command} {escape(rebuild.format(z))}</code>" for z in suggestions)
    return (
        f"❓ {escape(word)} is an abbreviation, not a time zone (it ignores daylight saving, and may mean "
        f"several places). Did you mean:{tries}\nNothing was changed."
    )


@admin_only
async def cmd_quiet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    arg = command_argument(update)
    now = svc.clock()
    settings = await svc.db(chats.get_settings, chat.id)
    if arg == "off":
        await svc.db(chats.update_settings, chat.id, now, quiet=None)
        await reply(update, "Quiet hours off.")
        return
    if not arg:  # asking is not changing: show what is set and how to set it
        quiet = settings.quiet
        current = f"Quiet hours: {escape(format_quiet(quiet))}. " if quiet else "No quiet hours set. "
        await reply(
            update,
            current
            + "Quiet hours hold alerts overnight, e.g. <code>/quiet 23:00-07:00</code> (in this chat's "
            f"time zone, {escape(settings.tz)}) or <code>/quiet 23:00-07:00 Europe/Berlin</code>; "
            "<code>/quiet off</code> ends them.",
        )
        return
    words = arg.split()
    if len(words) == 2:
        asked = abbreviation_reply("quiet", words[1], f"{words[0]} {{}}")
        if asked is not None:
            await reply(update, asked)
            return
    try:
        q = parse_quiet(arg, default_tz=settings.tz or "UTC")
    except RuleError as err:
        example = err.example or "/quiet 23:00-07:00"
        await reply(update, f"❌ {escape(err.problem, quote=False)}\nExample: <code>{escape(example)}</code>")
        return
    await svc.db(chats.update_settings, chat.id, now, quiet=q)
    whose = " (this chat's time zone: /tz changes it)" if len(words) == 1 else ""
    await reply(
        update,
        f"🌙 Quiet hours {escape(format_quiet(q))}{whose}: alerts wait and arrive as one summary when they "
        "end. Rules written with a leading ! (severe) still come through.",
    )


async def _set_muted(update: Update, context: ContextTypes.DEFAULT_TYPE, muted: bool) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    await svc.db(chats.update_settings, chat.id, svc.clock(), muted=muted)
    await reply(
        update,
        "🔇 Muted: no alerts in this chat until /unmute." if muted else "🔔 Unmuted: alerts are back on.",
    )


@admin_only
async def cmd_mute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _set_muted(update, context, True)


@admin_only
async def cmd_unmute(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _set_muted(update, context, False)


@read_or_admin
async def cmd_tz(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    arg = command_argument(update)
    settings = await svc.db(chats.get_settings, chat.id)
    now = svc.clock()
    if not arg:
        current = settings.zone()
        await reply(
            update,
            f"🕑 Times in this chat are shown in {escape(current.key)} (now "
            f"{escape(local_datetime(now, current))}). Change it with an IANA name, e.g. "
            "<code>/tz America/Chicago</code>.",
        )
        return
    asked = abbreviation_reply("tz", arg)
    if asked is not None:
        await reply(update, asked)
        return
    try:
        tz = zone(arg)
    except RuleError as err:  # its example is /quiet's: this is /tz
        await reply(
            update, f"❌ {escape(err.problem, quote=False)}\nExample: <code>/tz America/Chicago</code>"
        )
        return
    await svc.db(chats.set_tz, chat.id, str(tz.key))
    text = f"🕑 Times in this chat are now shown in {escape(tz.key)} (now {escape(local_datetime(now, tz))})."
    if settings.quiet is not None and settings.quiet.tz != tz.key:
        quiet = escape(format_quiet(settings.quiet))
        text += f"\nQuiet hours keep their own zone: {quiet} (/quiet changes them)."
    await reply(update, text)


async def cmd_filings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    rows = await svc.db(events.recent_events, "filing", 10)
    if not rows:
        await reply(update, "No filings recorded yet. Alert on new ones: <code>/alert filings</code>")
        return
    lines = ["<b>Latest filings</b>"]
    for r in rows:
        data = r["data"]
        assert isinstance(data, dict)
        url = data.get("url")
        summary = escape(str(data.get("summary", r["key"])))
        lines.append(f'• <a href="{escape(str(url), quote=True)}">{summary}</a>' if url else f"• {summary}")
    await reply(update, "\n".join(lines))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("status", cmd_status))
    app.add_handler(CommandHandler("fleet", cmd_fleet))
    app.add_handler(CommandHandler("snooze", cmd_snooze))
    app.add_handler(CommandHandler("quiet", cmd_quiet))
    app.add_handler(CommandHandler("mute", cmd_mute))
    app.add_handler(CommandHandler("unmute", cmd_unmute))
    app.add_handler(CommandHandler("tz", cmd_tz))
    app.add_handler(CommandHandler("filings", cmd_filings))
