"""Per-chat settings and read-outs: /status, /fleet, /snooze, /quiet, /mute, /unmute, /tz, /filings.

In groups only administrators may change settings or rules (checked with Telegram and cached
briefly); anyone may read /alerts, /status and /filings."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.delivery.messages import SOURCE_NAMES, label
from bot.handlers.commands import command_argument, reply
from bot.handlers.permissions import admin_only
from bot.ops import follow
from bot.services import services
from rules.catalogue import POWER_POINTS, format_value
from rules.chat_settings import ChatSettings
from rules.durations import DurationError, format_duration, parse_duration
from rules.fleet import Fleet, fleet_metrics
from rules.grammar import RuleError
from rules.hashprice import blocks_to_halving
from rules.quiet import format_quiet, parse_quiet, zone
from rules.units import FleetInputError, FleetQuestion, money_per_kwh, parse_fleet, parse_index
from storage import chats, events, observations, watcher_state
from storage import rules as rule_store
from storage.clock import parse_iso


def _ago(at: str | None, now: datetime) -> str:
    when = parse_iso(at)
    if when is None:
        return "never"
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 90:
        return f"{seconds}s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def status_text(
    snapshot: dict[str, dict[str, Any]], settings: ChatSettings, now: datetime, tz: ZoneInfo
) -> str:
    """The current numbers in a few short lines."""
    if not snapshot:
        return "No data yet: the watchers have not reported. Try again in a minute."
    v = {k: row["value"] for k, row in snapshot.items()}

    def fmt(metric: str) -> str:
        return escape(format_value(metric, v[metric], tz))

    lines = ["<b>MinerWatch status</b>"]
    if "hashprice" in v:
        line = f"Hashprice <b>{fmt('hashprice')}</b>"
        shown_in = [fmt(m) for m in ("hashprice.btc", "hashprice.sats") if m in v]
        if shown_in:
            line += f" ({' · '.join(shown_in)})"
        if "hashprice.next" in v:
            line += f" · next epoch {fmt('hashprice.next')}"
        lines.append(line)
    if "difficulty" in v or "difficulty.next_change" in v:
        parts = []
        if "difficulty" in v:
            parts.append(f"Difficulty {fmt('difficulty')}")
        if "difficulty.next_change" in v:
            proj = f"projection <b>{fmt('difficulty.next_change')}</b>"
            if "difficulty.blocks_left" in v:
                proj += f" in {fmt('difficulty.blocks_left')}"
            if "difficulty.retarget_eta" in v:
                proj += f" (≈ {fmt('difficulty.retarget_eta')})"
            parts.append(proj)
        lines.append(" · ".join(parts))
    market = [f"{label(m)} {fmt(m)}" for m in ("hashrate", "price", "fees", "fee_share") if m in v]
    if market:
        lines.append(" · ".join(market))
    if "height" in v:
        left = blocks_to_halving(int(v["height"]))
        lines.append(f"Halving in {left:,} block{'' if left == 1 else 's'}")
    fleet = settings.fleet
    if fleet and "hashprice" in v:
        econ = fleet_metrics(v["hashprice"], fleet)
        lines.append(
            f"Your fleet ({escape(fleet_label(fleet))}): "
            f"breakeven <b>{escape(format_value('breakeven', econ['breakeven']))}</b> · "
            f"margin {escape(format_value('margin', econ['margin']))} · "
            f"profit {escape(format_value('profit', econ['profit']))}"
        )
    hub = settings.hub
    power_metric = f"power.{hub.lower()}" if hub else None
    if power_metric and power_metric in v:
        lines.append(f"Power {escape(hub)} {fmt(power_metric)}")
    newest = max((row["at"] for row in snapshot.values()), default=None)
    # a derived value names each input's source ("yahoo+edgar"): list each once
    sources = sorted({SOURCE_NAMES.get(p, p) for row in snapshot.values() for p in row["source"].split("+")})
    lines.append(f"<i>{escape(', '.join(sources))} · updated {_ago(newest, now)}</i>")
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
    text = status_text(snapshot, settings, svc.clock(), tz)
    health = {sw.watcher.id: await svc.db(watcher_state.health, sw.watcher.id) for sw in svc.watchers}
    sources = follow.status_line(follow.following(svc, follow.running(context.bot_data), health), svc.clock())
    if sources and snapshot:
        text += f"\n<i>{escape(sources)}</i>"  # how each source is followed (push, poll, fallback)
    await reply(update, text)


FLEET_EXAMPLE = (
    "<code>/fleet 18 0.045</code> (J/TH, USD/kWh; <code>45/MWh</code> and <code>4.5c</code> work too), "
    "optionally <code>hosting 0.01</code> and <code>hub HB_WEST</code>"
)


def fleet_label(fleet: Fleet) -> str:
    """``18 J/TH, $0.045/kWh power + $0.01/kWh hosting``: every input of breakeven and margin, so a
    user can redo the arithmetic."""
    text = f"{fleet.efficiency_j_per_th:g} J/TH, {money_per_kwh(fleet.power_usd_per_kwh)} power"
    if fleet.hosting_usd_per_kwh:
        text += f" + {money_per_kwh(fleet.hosting_usd_per_kwh)} hosting"
    return text


@admin_only
async def cmd_fleet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    args = command_argument(update).split()
    now = svc.clock()
    if not args:
        current = (await svc.db(chats.get_settings, chat.id)).fleet
        if current is None:
            await reply(update, f"No fleet set. Set one: {FLEET_EXAMPLE}")
        else:
            await reply(update, f"Fleet: {escape(fleet_label(current))}")
        return
    if args == ["off"]:
        await svc.db(chats.update_settings, chat.id, now, fleet=None, hub=None)
        await reply(update, "Fleet removed.")
        return
    points = set(POWER_POINTS) | {p.lower() for p in svc.settings.watchers.power.points}
    try:
        parsed = parse_fleet(args, points)
    except FleetQuestion as err:
        tries = "".join(f"\n<code>/fleet {escape(s)}</code>" for s in err.suggestions)
        await reply(update, f"❓ {escape(err.problem, quote=False)}{tries}\nNothing was changed.")
        return
    except FleetInputError as err:
        await reply(update, f"❌ {escape(err.problem, quote=False)}. Example: {FLEET_EXAMPLE}")
        return
    fleet = Fleet(parsed.efficiency_j_per_th, parsed.power_usd_per_kwh, parsed.hosting_usd_per_kwh)
    hub = parsed.hub
    await svc.db(chats.update_settings, chat.id, now, fleet=fleet, **({"hub": hub} if hub else {}))
    text = f"✅ Fleet set: {escape(fleet_label(fleet))}"
    if hub:
        text += f", power hub {escape(hub)}"
        power = svc.settings.watchers.power
        if not power.enabled:
            text += (
                "\n⚠️ ERCOT prices are not watched on this bot ([watchers.power] is off): "
                "<code>curtail</code> alerts cannot fire until the operator turns it on."
            )
        elif hub not in power.points:
            text += (
                f"\n⚠️ {escape(hub)} is not among the points this bot polls "
                f"({escape(', '.join(power.points))}): <code>curtail</code> cannot fire for it."
            )
    last = await svc.db(observations.latest, "hashprice")
    if last is not None:
        econ = fleet_metrics(last[0], fleet)
        text += (
            f"\nAt hashprice {escape(format_value('hashprice', last[0]))}: breakeven "
            f"<b>{escape(format_value('breakeven', econ['breakeven']))}</b>, margin "
            f"{escape(format_value('margin', econ['margin']))}"
        )
    await reply(update, text)


@admin_only
async def cmd_snooze(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    args = command_argument(update).split()
    now = svc.clock()
    example = "<code>/snooze 2h</code> (all alerts) or <code>/snooze 30m 2</code> (alert number 2)"
    if args == ["off"]:
        await svc.db(chats.update_settings, chat.id, now, snooze_until=None, snooze_rules=None)
        await reply(update, "Snooze lifted.")
        return
    if not args or len(args) > 2:
        await reply(update, f"❌ Say for how long. Example: {example}")
        return
    try:
        seconds = parse_duration(args[0])
    except DurationError as err:
        await reply(update, f"❌ {escape(str(err), quote=False)}. Example: {example}")
        return
    until = now + timedelta(seconds=seconds)
    if len(args) == 1:
        await svc.db(chats.update_settings, chat.id, now, snooze_until=until)
        await reply(
            update, f"😴 All alerts snoozed for {format_duration(seconds)} (until {until:%H:%M} UTC)."
        )
        return
    rules = await svc.db(rule_store.list_rules, chat.id)
    number = parse_index(args[1])
    if number is None or number > len(rules):
        await reply(
            update, f"❌ There is no alert number {escape(args[1])}: /alerts lists them. Example: {example}"
        )
        return
    rule = rules[number - 1]
    snoozed = dict((await svc.db(chats.get_settings, chat.id)).snooze_rules)
    snoozed[rule["id"]] = until
    await svc.db(chats.update_settings, chat.id, now, snooze_rules=snoozed)
    await reply(update, f"😴 <code>{escape(rule['text'])}</code> snoozed for {format_duration(seconds)}.")


@admin_only
async def cmd_quiet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    arg = command_argument(update)
    now = svc.clock()
    if arg == "off":
        await svc.db(chats.update_settings, chat.id, now, quiet=None)
        await reply(update, "Quiet hours off.")
        return
    if not arg:  # asking is not changing: show what is set and how to set it
        quiet = (await svc.db(chats.get_settings, chat.id)).quiet
        current = f"Quiet hours: {escape(format_quiet(quiet))}. " if quiet else "No quiet hours set. "
        await reply(
            update,
            current
            + "Quiet hours hold alerts overnight, e.g. <code>/quiet 23:00-07:00 Europe/Berlin</code>; "
            "<code>/quiet off</code> ends them.",
        )
        return
    try:
        q = parse_quiet(arg)
    except RuleError as err:
        await reply(update, f"❌ {escape(str(err), quote=False)}")
        return
    await svc.db(
        chats.update_settings,
        chat.id,
        now,
        quiet=q,
    )
    await reply(
        update,
        f"🌙 Quiet hours {escape(format_quiet(q))}: alerts wait and arrive as one summary when they end. "
        "Rules written with a leading ! (severe) still come through.",
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


@admin_only
async def cmd_tz(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    chat = update.effective_chat
    if chat is None:
        return
    arg = command_argument(update)
    try:
        tz = zone(arg) if arg else None
    except RuleError as err:
        await reply(update, f"❌ {escape(str(err), quote=False)}")
        return
    if tz is None:
        await reply(update, "Give an IANA time zone, for example <code>/tz America/Chicago</code>.")
        return
    await svc.db(chats.set_tz, chat.id, str(tz.key))
    await reply(
        update,
        f"🕑 Times in this chat are now shown in {escape(tz.key)} (now {svc.clock().astimezone(tz):%H:%M}).",
    )


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
