"""Issue 12 items 3, 4, 5, 7 and 15 as a user meets them: fleet numbers one can redo by hand,
/fleet's units, hashprice in sats, numbers that are not numbers, and rules that can never fire.
Real application, fake Bot API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bot.engine.ingest import ingest
from rules.catalogue import CATALOGUE, format_value
from rules.data import Observation
from rules.fleet import Fleet, fleet_metrics
from rules.hashprice import sats_per_th_day
from storage import chats
from storage import rules as rule_store
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from watchers.base import PollResult
from watchers.mempool import FeeStats
from watchers.network_metrics import NetworkInputs, Sourced, derive_metrics

CHAT = 7171
ADMIN = 31337
CHANNEL = -1009990001


async def say(tg: FakeTelegram, text: str, chat_id: int = CHAT, user_id: int | None = None) -> str:
    before = len(tg.sent(chat_id=chat_id))
    tg.push_command(text, chat_id=chat_id, user_id=chat_id if user_id is None else user_id)
    await tg.wait_for(lambda: len(tg.sent(chat_id=chat_id)) > before)
    return tg.sent(chat_id=chat_id)[-1]["text"]


def settings_for(tmp_path, tg: FakeTelegram, **on: Any):  # type: ignore[no-untyped-def]
    extra: dict[str, dict[str, Any]] = {"telegram": {"admins": [ADMIN]}}
    if on.get("power"):
        extra["watchers.power"] = {"enabled": True, "points": ["HB_WEST", "HB_NORTH"]}
    if on.get("filings"):
        extra["watchers.filings"] = {"enabled": True, "tickers": ["MARA", "RIOT"]}
        extra["sources.edgar"] = {"user_agent": "MinerWatch tests ops@example.com"}
    return bot_settings(tmp_path, tg, extra)


@pytest.fixture
async def shipped(tmp_path, tg):
    """The shipped watchers: network on, power and filings off."""
    async with running_bot(settings_for(tmp_path, tg), FakeClock()) as (_app, svc):
        yield tg, svc


@pytest.fixture
async def all_on(tmp_path, tg):
    tg.known_chats["@minerchan"] = {"id": CHANNEL, "type": "channel", "title": "Miners"}
    async with running_bot(settings_for(tmp_path, tg, power=True, filings=True), FakeClock()) as (_app, svc):
        yield tg, svc


async def feed(svc, **values: float) -> None:  # type: ignore[no-untyped-def]
    now = svc.clock()
    obs = [Observation(m.replace("__", "."), v, now, "mempool") for m, v in values.items()]
    await svc.db(ingest, "network", PollResult(observations=obs), {}, now, svc.pipeline.opts)


async def rules_of(svc, chat_id: int = CHAT) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["text"] for r in await svc.db(rule_store.list_rules, chat_id)]


# ---- item 3: numbers a user can reproduce ---------------------------------------------------------


async def test_status_names_the_hosting_fee_that_breakeven_and_margin_include(shipped) -> None:
    tg, svc = shipped
    await feed(svc, hashprice=50.0)
    assert "✅ Fleet set" in await say(tg, "/fleet 18 0.045 hosting 0.01")
    text = await say(tg, "/status")
    assert "Your fleet (18 J/TH, $0.045/kWh power + $0.01/kWh hosting)" in text
    econ = fleet_metrics(50.0, Fleet(18, 0.045, 0.01))
    # what the line shows is what the three inputs give: $115.74/MWh revenue - $10/MWh hosting
    assert f"breakeven <b>{format_value('breakeven', econ['breakeven'])}</b>" in text
    assert format_value("breakeven", econ["breakeven"]) == "$105.74/MWh"
    assert f"margin {format_value('margin', econ['margin'])}" in text


def test_catalogue_says_the_fleet_price_and_hosting_not_a_hub_price() -> None:
    for name in ("margin", "profit", "breakeven"):
        description = CATALOGUE[name].description
        assert "hub" not in description, description
        assert "hosting" in description, description
    assert "/fleet power price" in CATALOGUE["margin"].description
    assert "/fleet power price" in CATALOGUE["profit"].description


# ---- item 4: /fleet's units -----------------------------------------------------------------------


async def test_fleet_18_45_is_asked_about_and_not_stored(shipped) -> None:
    tg, svc = shipped
    await feed(svc, hashprice=50.0)
    reply = await say(tg, "/fleet 18 45")
    assert reply.startswith("❓") and "✅" not in reply
    assert "$45/MWh ($0.045/kWh)" in reply and "<code>/fleet 18 45/MWh</code>" in reply
    assert (await svc.db(chats.get_settings, CHAT)).fleet is None
    for spelling in ("45/MWh", "$45/MWh", "4.5c"):
        reply = await say(tg, f"/fleet 18 {spelling}")
        assert "✅ Fleet set: 18 J/TH, $0.045/kWh power" in reply, reply
        fleet = (await svc.db(chats.get_settings, CHAT)).fleet
        assert fleet is not None and fleet.power_usd_per_kwh == pytest.approx(0.045)
    assert "margin +61.1%" in reply  # not -18,979%


@pytest.mark.parametrize(
    ("command", "says"),
    [("/fleet 0.045 18", "swap"), ("/fleet 3250 0.045", "power draw"), ("/fleet 18 2000/MWh", "$2/kWh")],
)
async def test_implausible_fleets_get_a_question(shipped, command: str, says: str) -> None:
    tg, svc = shipped
    reply = await say(tg, command)
    assert reply.startswith("❓") and says in reply and "Nothing was changed" in reply
    assert (await svc.db(chats.get_settings, CHAT)).fleet is None


async def test_fleet_hub_must_be_an_ercot_point_and_is_warned_about_when_not_polled(shipped) -> None:
    tg, svc = shipped
    reply = await say(tg, "/fleet 18 0.045 hub HB_MARS")
    assert reply.startswith("❌") and "HB_MARS is not a hub or load zone I know" in reply
    assert (await svc.db(chats.get_settings, CHAT)).fleet is None
    reply = await say(tg, "/fleet 18 0.045 hub HB_WEST")
    assert "✅ Fleet set" in reply and "⚠️ ERCOT prices are not watched on this bot" in reply


async def test_fleet_hub_not_among_the_polled_points_is_warned_about(all_on) -> None:
    tg, _svc = all_on
    reply = await say(tg, "/fleet 18 0.045 hub LZ_AEN")
    assert "✅ Fleet set" in reply and "LZ_AEN is not among the points this bot polls" in reply
    assert "⚠️" not in await say(tg, "/fleet 18 0.045 hub HB_NORTH")


# ---- item 5: plurals and sats/TH/day --------------------------------------------------------------


async def test_halving_in_1_block(shipped) -> None:
    tg, svc = shipped
    await feed(svc, height=839_999.0)
    assert "Halving in 1 block\n" in await say(tg, "/status") + "\n"
    await feed(svc, height=839_998.0)
    assert "Halving in 2 blocks" in await say(tg, "/status")


def test_hashprice_sats_is_derived_with_the_readme_formula() -> None:
    d_2024 = 83126997340024.61
    fees = FeeStats(avg_fees_sat=108814114 / 8, blocks=8, end_height=837050)
    inputs = NetworkInputs(
        difficulty=Sourced(d_2024, "mempool"), tip=Sourced(837050, "mempool"), fees=Sourced(fees, "bitcoind")
    )
    got = {o.metric: o for o in derive_metrics(inputs, datetime(2024, 3, 31))}
    btc = got["hashprice.btc"].value
    assert got["hashprice.sats"].value == pytest.approx(btc * 1e8 / 1000, rel=1e-15)
    assert got["hashprice.sats"].value == pytest.approx(sats_per_th_day(0.0015454035365832942), rel=1e-9)
    assert got["hashprice.sats"].source == got["hashprice.btc"].source == "mempool+bitcoind"
    assert CATALOGUE["hashprice.sats"].unit == "sats/TH/day"
    assert format_value("hashprice.sats", 154.54035) == "154.5 sats/TH/day"


async def test_status_shows_sats_and_the_metric_takes_rules(shipped) -> None:
    tg, svc = shipped
    await feed(svc, hashprice=50.0, hashprice__btc=0.00052, hashprice__sats=52.0)
    text = await say(tg, "/status")
    assert "Hashprice <b>$50.00/PH/day</b> (0.00052 BTC/PH/day · 52.0 sats/TH/day)" in text
    assert "✅ Alert set: <code>hashprice.sats &lt; 40</code>" in await say(tg, "/alert hashprice.sats < 40")
    assert "✅" in await say(tg, "/alert hashprice.sats < 35 sats")


# ---- item 7: numbers that are not numbers ---------------------------------------------------------


@pytest.mark.parametrize("arg", ["²", "①", "٣", "-1", "0", "1e2"])
async def test_delete_and_snooze_refuse_what_is_not_an_alert_number(shipped, arg: str) -> None:
    tg, svc = shipped
    assert "✅" in await say(tg, "/alert price > 100k")
    assert (await say(tg, f"/delete {arg}")).startswith("❌")
    assert (await say(tg, f"/snooze 2h {arg}")).startswith("❌")
    assert await rules_of(svc) == ["price > 100k"]
    assert (await svc.db(chats.get_settings, CHAT)).snooze_rules == {}


async def test_channel_delete_refuses_a_superscript(all_on) -> None:
    tg, svc = all_on
    assert "✅" in await say(tg, "/channel @minerchan alert retarget", chat_id=ADMIN)
    refused = await say(tg, "/channel @minerchan delete ²", chat_id=ADMIN)
    assert "² is not an alert number" in refused and "<code>/channel @minerchan delete 1</code>" in refused
    assert "cannot reach" in await say(tg, "/channel -² alerts", chat_id=ADMIN)
    assert await rules_of(svc, CHANNEL) == ["retarget"]


# ---- item 15: rules that can never fire -----------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("power.hb_west > 150", "ERCOT power prices are not watched on this bot ([watchers.power] is off)"),
        ("filings", "SEC filings are not watched on this bot ([watchers.filings] is off)"),
        ("curtail", "ERCOT power prices are not watched"),
    ],
)
async def test_rules_on_a_disabled_watcher_are_kept_with_a_warning_not_a_tick(shipped, rule, why) -> None:
    tg, _svc = shipped
    if rule == "curtail":
        await say(tg, "/fleet 18 0.045 hub HB_WEST")
    reply = await say(tg, f"/alert {rule}")
    assert "✅" not in reply and reply.startswith("⚠️ Alert set, but it cannot fire yet")
    assert why in reply


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("power.lz_aen > 150", "LZ_AEN is not among the ERCOT points this bot polls (HB_WEST, HB_NORTH)"),
        ("filings TSLA", "TSLA is not on this bot's filings watch list (MARA, RIOT)"),
        ("filings MARA TSLA GME", "TSLA, GME are not on this bot's filings watch list"),
        ("hashprice drops 123% in 24h", "cannot drop by 123%"),
    ],
)
async def test_rules_that_can_never_fire_are_refused_with_the_reason(all_on, rule, why) -> None:
    tg, svc = all_on
    reply = await say(tg, f"/alert {rule}")
    assert reply.startswith("❌") and why in reply
    assert await rules_of(svc) == []
    channel_reply = await say(tg, f"/channel @minerchan alert {rule}", chat_id=ADMIN)
    assert channel_reply.startswith("❌") and why in channel_reply
    assert await rules_of(svc, CHANNEL) == []


async def test_rules_on_watched_things_are_set(all_on) -> None:
    tg, svc = all_on
    for rule in (
        "power.hb_north > 150",
        "filings MARA",
        "hashprice drops 99% in 24h",
        "hashprice rises 150% in 1d",
    ):
        assert "✅ Alert set" in await say(tg, f"/alert {rule}"), rule
    assert len(await rules_of(svc)) == 4


def test_share_price_rules_need_the_quotes_watcher_and_a_polled_ticker(tmp_path) -> None:
    from bot.handlers.reachable import not_polled, watcher_off
    from bot.settings import load_settings
    from rules.grammar import parse_rule
    from tests.harness import write_config

    off = load_settings(write_config(tmp_path / "off.toml", {"storage": {"path": "x.db"}}))
    rule = parse_rule("stock.riot > 20")
    assert watcher_off(rule, off) == "Share prices are not watched on this bot ([watchers.quotes] is off)"
    on = load_settings(
        write_config(tmp_path / "on.toml", {"watchers.quotes": {"enabled": True, "tickers": ["MARA"]}})
    )
    assert watcher_off(rule, on) is None
    assert "RIOT's share price is not polled on this bot (MARA)" in (not_polled(rule, on) or "")
    assert not_polled(parse_rule("stock.mara > 20"), on) is None
    assert "RIOT's share price is not polled" in (not_polled(parse_rule("mcap.riot > 1B"), on) or "")
    assert watcher_off(parse_rule("converts MARA"), off) is not None
    assert "RIOT is not polled" in (not_polled(parse_rule("converts MARA RIOT"), on) or "")
    assert not_polled(parse_rule("converts MARA"), on) is None
