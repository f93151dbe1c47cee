"""Issue 13 items 5, 6, 15 and the /tz part of 9, as a user meets them through the fake Bot API:
times in the chat's zone (quiet hours, snooze ends, the snooze cap), commands alone show their
setting, one /fleet field changes alone, /status gives each value's own age and marks stale ones,
the pinned status says "as of", /tz CST suggests a zone, and ASIC models and fleet sizes give
$/day and BTC/day that first-principles arithmetic confirms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from bot.delivery.pinned_status import refresh_pinned_status
from bot.engine.ingest import ingest
from rules import asics
from rules.data import Observation
from rules.fleet import Fleet, fleet_day
from rules.hashprice import hashprice_btc, hashprice_usd
from rules.timefmt import local_clock, local_datetime, zone_suggestions
from rules.units import FleetInput, FleetInputError, parse_fleet, parse_size
from storage import chats
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot
from watchers.base import PollResult

CHAT = 8181
GROUP = -8282
ADMIN, MEMBER = 91, 92
NOW = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # Monday; 08:00 CST in Chicago
CHANNEL = -1008383


@pytest.fixture
async def bot(tmp_path, tg):
    tg.admins[GROUP] = {ADMIN}
    clock = FakeClock(NOW)
    async with running_bot(bot_settings(tmp_path, tg), clock) as (app, svc):
        yield tg, svc, clock, app


async def say(tg: FakeTelegram, text: str, chat_id: int = CHAT, user_id: int | None = None) -> str:
    before = len(tg.sent(chat_id=chat_id))
    chat_type = "private" if chat_id > 0 else "supergroup"
    tg.push_command(text, chat_id=chat_id, user_id=user_id or chat_id, chat_type=chat_type)
    await tg.wait_for(lambda: len(tg.sent(chat_id=chat_id)) > before)
    return tg.sent(chat_id=chat_id)[-1]["text"]


async def observe(svc, at: datetime, source: str = "mempool", **values: float) -> None:  # type: ignore[no-untyped-def]
    obs = [Observation(m.replace("__", "."), v, at, source) for m, v in values.items()]
    await svc.db(ingest, "network", PollResult(observations=obs), {}, at, svc.pipeline.opts)


# ---- pure helpers ---------------------------------------------------------------------------------


def test_local_datetime_names_the_zone_in_force_at_that_moment() -> None:
    chicago = ZoneInfo("America/Chicago")
    assert local_datetime(datetime(2021, 12, 7, 15, 52, tzinfo=UTC), chicago) == "Tue 7 Dec 09:52 CST"
    assert local_datetime(datetime(2026, 7, 7, 14, 52, tzinfo=UTC), chicago) == "Tue 7 Jul 09:52 CDT"
    assert local_clock(datetime(2026, 12, 7, 16, 5, tzinfo=UTC), chicago) == "10:05 CST"
    with pytest.raises(ValueError):
        local_datetime(datetime(2026, 12, 7, 16, 5), chicago)  # a naive time is a bug, not UTC


def test_abbreviations_suggest_the_zones_people_mean() -> None:
    assert zone_suggestions("CST") == ("America/Chicago",)
    assert zone_suggestions("est") == ("America/New_York",)
    assert zone_suggestions("PST") == ("America/Los_Angeles",)
    assert "Europe/Berlin" in zone_suggestions("CET")
    assert len(zone_suggestions("IST")) == 3  # India, Ireland, Israel: all offered
    assert zone_suggestions("Europe/Berlin") == () and zone_suggestions("UTC") == ()
    for names in map(zone_suggestions, ("CST", "EST", "CET", "IST", "AEST", "MSK")):
        for name in names:
            assert ZoneInfo(name).key == name  # every suggestion is a real IANA zone


# ---- /tz -------------------------------------------------------------------------------------------


async def test_tz_alone_shows_the_zone_and_an_abbreviation_gets_a_tappable_suggestion(bot) -> None:
    tg, svc, _clock, _app = bot
    assert "shown in UTC (now Mon 7 Dec 14:00 UTC)" in await say(tg, "/tz")
    reply = await say(tg, "/tz CST")
    assert "<code>/tz America/Chicago</code>" in reply and "Nothing was changed" in reply
    assert (await svc.db(chats.get_chat, CHAT))["tz"] == "UTC"
    assert "now Mon 7 Dec 08:00 CST" in await say(tg, "/tz America/Chicago")
    assert "shown in America/Chicago (now Mon 7 Dec 08:00 CST)" in await say(tg, "/tz")
    ist = await say(tg, "/tz IST")
    assert all(f"<code>/tz {z}</code>" in ist for z in ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"))


async def test_in_groups_members_may_ask_but_not_change(bot) -> None:
    tg, svc, _clock, _app = bot
    for ask in ("/tz", "/snooze", "/fleet"):
        assert "administrators" not in await say(tg, ask, GROUP, MEMBER)
    assert "Only this group's administrators" in await say(tg, "/tz America/Chicago", GROUP, MEMBER)
    assert "Only this group's administrators" in await say(tg, "/snooze 1h", GROUP, MEMBER)
    settings = await svc.db(chats.get_settings, GROUP)
    assert settings.tz == "UTC" and settings.snooze_until is None


# ---- /quiet in the chat's zone --------------------------------------------------------------------


async def test_quiet_without_a_zone_uses_the_chats_tz(bot) -> None:
    tg, svc, _clock, _app = bot
    await say(tg, "/tz America/Chicago")
    reply = await say(tg, "/quiet 22:00-06:00")
    assert "22:00-06:00 America/Chicago (this chat's time zone" in reply
    quiet = (await svc.db(chats.get_settings, CHAT)).quiet
    assert quiet is not None and quiet.tz == "America/Chicago"
    assert "Europe/Berlin" in await say(tg, "/quiet 23:00-07:00 Europe/Berlin")  # a named zone wins
    asked = await say(tg, "/quiet 22:00-06:00 CST")
    assert "<code>/quiet 22:00-06:00 America/Chicago</code>" in asked
    assert (await svc.db(chats.get_settings, CHAT)).quiet.tz == "Europe/Berlin"  # unchanged


# ---- /snooze: zone, cap, and alone --------------------------------------------------------------


async def test_snooze_ends_in_the_chats_zone_and_is_capped(bot) -> None:
    tg, svc, _clock, _app = bot
    await say(tg, "/tz America/Chicago")
    assert "No alerts are snoozed" in await say(tg, "/snooze")
    assert "(until Mon 7 Dec 10:00 CST)" in await say(tg, "/snooze 2h")
    assert "All alerts snoozed until Mon 7 Dec 10:00 CST" in await say(tg, "/snooze")
    await say(tg, "/alert hashprice < 45")
    reply = await say(tg, "/snooze 1d 1")
    assert "snoozed for 1d" in reply or "snoozed for 1 day" in reply
    assert "(until Tue 8 Dec 08:00 CST)" in reply
    assert "1. <code>hashprice &lt; 45</code> snoozed until Tue 8 Dec 08:00 CST" in await say(tg, "/snooze")
    refused = await say(tg, "/snooze 31d")
    assert "longer than a snooze may last (30 days)" in refused and "<code>/mute</code>" in refused
    assert (await svc.db(chats.get_settings, CHAT)).snooze_until == NOW + timedelta(hours=2)
    assert "(until Wed 6 Jan 08:00 CST)" in await say(tg, "/snooze 30d")


# ---- /fleet: alone, one field at a time, models, size ----------------------------------------------


async def test_fleet_alone_shows_hub_hosting_and_breakeven(bot) -> None:
    tg, svc, _clock, _app = bot
    assert "No fleet set" in await say(tg, "/fleet")
    await observe(svc, NOW, hashprice=50.0)
    await say(tg, "/fleet 18 0.045 hosting 0.01 hub HB_WEST")
    shown = await say(tg, "/fleet")
    assert "Fleet: 18 J/TH, $0.045/kWh power + $0.01/kWh hosting" in shown
    assert "Power hub: HB_WEST" in shown
    # 50 $/PH/day ÷ (24 h × 18 kWh per PH/s·h) = $115.74/MWh revenue, minus $10/MWh hosting
    assert "breakeven <b>$105.74/MWh</b> (10.57¢/kWh)" in shown


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ("/fleet hub HB_NORTH", FleetInput(18.0, 0.045, 0.01, "HB_NORTH")),
        ("/fleet hosting 0.02", FleetInput(18.0, 0.045, 0.02, "HB_WEST")),
        ("/fleet power 5c", FleetInput(18.0, 0.05, 0.01, "HB_WEST")),
        ("/fleet 17 0.04", FleetInput(17.0, 0.04, 0.01, "HB_WEST")),
        ("/fleet S21XP", FleetInput(13.5, 0.045, 0.01, "HB_WEST", "Antminer S21 XP")),
        ("/fleet hub off", FleetInput(18.0, 0.045, 0.01, None)),
    ],
)
async def test_changing_one_fleet_field_keeps_the_others(bot, change: str, expect: FleetInput) -> None:
    tg, svc, _clock, _app = bot
    await say(tg, "/fleet 18 0.045 hosting 0.01 hub HB_WEST")
    reply = await say(tg, change)
    assert "✅ Fleet set" in reply and "unchanged" in reply
    settings = await svc.db(chats.get_settings, CHAT)
    fleet = settings.fleet
    assert fleet is not None
    got = FleetInput(
        fleet.efficiency_j_per_th,
        fleet.power_usd_per_kwh,
        fleet.hosting_usd_per_kwh,
        settings.hub,
        fleet.model,
    )
    assert got == FleetInput(
        expect.efficiency_j_per_th,
        pytest.approx(expect.power_usd_per_kwh),  # type: ignore[arg-type]
        pytest.approx(expect.hosting_usd_per_kwh),  # type: ignore[arg-type]
        expect.hub,
        expect.model,
    )


async def test_a_field_without_a_fleet_says_to_set_one(bot) -> None:
    tg, svc, _clock, _app = bot
    assert "no fleet yet" in await say(tg, "/fleet hub HB_WEST")
    assert (await svc.db(chats.get_settings, CHAT)).fleet is None


def test_asic_table_rows_are_sourced_and_plausible() -> None:
    models = asics.models()
    assert len(models) >= 10
    for asic in models:
        assert asic.source.startswith(("https://", "http://")), asic
        assert asic.kind, asic
        assert 5 <= asic.efficiency_j_per_th <= 150 and asic.hashrate_ths > 0, asic
    # stated W / stated TH/s where the page gives watts: S19 XP 3010 W / 140 TH/s
    assert asics.lookup("S19XP").efficiency_j_per_th == pytest.approx(21.5)
    for spelling in ("S21XP", "s21 xp", "Antminer S21 XP", "s21-xp", "ANTMINER_S21_XP"):
        assert asics.lookup(spelling).model == "Antminer S21 XP"
    assert asics.lookup("S99") is None and asics.lookup("") is None


def test_fleet_takes_a_model_a_size_or_machines() -> None:
    assert parse_fleet(["S21XP", "0.045"]) == FleetInput(13.5, 0.045, model="Antminer S21 XP")
    assert parse_fleet(["S21", "XP", "4.5c"]).model == "Antminer S21 XP"  # two words
    assert parse_fleet(["S21", "0.045"]).efficiency_j_per_th == 17.5
    assert parse_fleet(["18", "0.045", "size", "500PH"]).hashrate_ths == 500_000
    assert parse_fleet(["18", "0.045", "size", "1.2", "EH"]).hashrate_ths == pytest.approx(1_200_000)
    sized = parse_fleet(["S21XP", "0.045", "machines", "2000"])
    assert (sized.machines, sized.hashrate_ths) == (2000, 540_000)  # 2000 × 270 TH/s
    assert parse_size("800TH") == 800 and parse_size("500") is None and parse_size("5 GH") is None
    with pytest.raises(FleetInputError, match="needs an ASIC model"):
        parse_fleet(["18", "0.045", "machines", "10"])
    with pytest.raises(FleetInputError, match="nor an ASIC model"):
        parse_fleet(["S99", "0.045"])


def test_fleet_day_from_first_principles() -> None:
    """27 PH/s of S21 XP at difficulty 1e14, 3.125 BTC + 0.1 BTC fees, $100,000: each figure redone
    by hand from the definition of difficulty (D × 2^32 hashes per block)."""
    d, subsidy, fees, price = 1e14, 3.125, 0.1, 100_000.0
    h_usd = hashprice_usd(d, subsidy, fees, price)
    h_btc = hashprice_btc(d, subsidy, fees)
    fleet = Fleet(13.5, 0.045, 0.005, hashrate_ths=27_000)
    day = fleet_day(h_usd, h_btc, fleet)
    assert day is not None
    blocks = 27e15 * 86_400 / (d * 2**32)  # the fleet's expected blocks per day
    assert day.revenue_btc == pytest.approx(blocks * (subsidy + fees))
    assert day.revenue_usd == pytest.approx(blocks * (subsidy + fees) * price)
    kwh = 27_000 * 13.5 / 1000 * 24  # 27,000 TH/s × 13.5 W per TH/s = 364.5 kW, for 24 h
    assert day.power_kwh == pytest.approx(kwh) == pytest.approx(8748.0)
    assert day.cost_usd == pytest.approx(kwh * 0.05)
    assert day.profit_usd == pytest.approx(day.revenue_usd - kwh * 0.05)
    assert fleet_day(h_usd, h_btc, Fleet(13.5, 0.045)) is None  # no size, no per-day figures


async def test_status_shows_the_fleets_day_and_breakeven_in_cents(bot) -> None:
    tg, svc, _clock, _app = bot
    await observe(svc, NOW, hashprice=50.0, hashprice__btc=0.0005)
    await say(tg, "/fleet S21XP 0.045 machines 100")
    text = await say(tg, "/status")
    assert "Antminer S21 XP (13.5 J/TH), $0.045/kWh power, 100 machines = 27 PH/s" in text
    # 50 $/PH/day × 1000 / (24 × 13.5) = $154.32/MWh = 15.43¢/kWh
    assert "breakeven <b>$154.32/MWh</b> (15.43¢/kWh)" in text
    # 27 PH/s × $50 = $1,350; × 0.0005 BTC = 0.0135 BTC; 27,000 × 13.5 W × 24 h = 8,748 kWh × $0.045
    assert "revenue <b>$1,350.00</b> · 0.0135 BTC/day · power $393.66 (8.7 MWh)" in text
    assert "profit <b>$956.34</b>" in text


# ---- /status ages, stale values, stocks; the pinned status -----------------------------------------


async def test_status_gives_each_value_its_own_age_and_marks_stale_ones(bot) -> None:
    tg, svc, clock, _app = bot
    await say(tg, "/tz America/Chicago")
    await say(tg, "/fleet 18 0.045 hub HB_WEST")
    await observe(svc, NOW - timedelta(minutes=26), "ercot", power__hb_west=200.0)
    await observe(svc, NOW - timedelta(minutes=45), hashrate=600.0)
    await observe(svc, NOW - timedelta(minutes=2), hashprice=50.0, price=90_000.0)
    friday_close = datetime(2026, 12, 4, 21, 5, tzinfo=UTC)  # 16:05 New York, after the close
    await observe(svc, friday_close, "yahoo", stock__mara=18.2)
    text = await say(tg, "/status")
    assert "Power HB_WEST $200.00/MWh, <i>26 min old</i>" in text
    assert "Hashprice <b>$50.00/PH/day</b>, <i>2 min old</i>" in text
    assert "⚠️ <i>stale, 45 min old</i>" in text  # past [alerts] stale_after (30 min)
    assert "BTC price $90,000, <i>2 min old</i>" in text or "$90,000, <i>2 min old</i>" in text
    # a Friday close read before Monday's open is 0 s of trading time old: not stale
    assert "Stocks: MARA $18.20, <i>2 d old</i>" in text
    clock.advance(30 * 60)
    later = await say(tg, "/status")
    assert "Hashprice <b>$50.00/PH/day</b> ⚠️ <i>stale, 32 min old</i>" in later


async def test_pinned_status_says_as_of_never_a_frozen_age(tmp_path, tg) -> None:
    extra = {"telegram": {"admins": [ADMIN]}}
    settings = bot_settings(tmp_path, tg, extra)
    clock = FakeClock(NOW)
    async with running_bot(settings, clock) as (app, svc):
        await svc.db(chats.ensure_chat, CHANNEL, "channel", "Miners", NOW)
        await svc.db(chats.set_tz, CHANNEL, "America/Chicago")
        await svc.db(chats.update_settings, CHANNEL, NOW, pinned_status=True)
        ctx = SimpleNamespace(bot_data=app.bot_data, bot=app.bot)
        await observe(svc, NOW - timedelta(minutes=5), hashprice=50.0)
        await observe(svc, NOW - timedelta(hours=2), hashrate=600.0)
        assert await refresh_pinned_status(ctx) == 1
        text = tg.sent(chat_id=CHANNEL)[-1]["text"]
        assert "as of 07:55 CST" in text  # the newest value's time in the channel's zone
        assert " old" not in text and " ago" not in text
        assert "stale, as of Mon 7 Dec 06:00 CST" in text  # the 2-hour-old hashrate
        clock.advance(600)
        assert await refresh_pinned_status(ctx) == 0  # time passing alone changes nothing in it


def test_chat_settings_keep_the_new_fields_and_read_old_rows() -> None:
    from rules.chat_settings import ChatSettings

    fleet = Fleet(13.5, 0.045, 0.005, model="Antminer S21 XP", hashrate_ths=27_000, machines=100)
    settings = ChatSettings(fleet=fleet, send_resolved=False)
    again = ChatSettings.from_json(settings.to_json())
    assert again.fleet == fleet and again.send_resolved is False
    assert again.resolved_notices(True) is False and ChatSettings().resolved_notices(True) is True
    assert ChatSettings(send_resolved=True).resolved_notices(False) is True
    # a row written before these fields existed reads as before; defaults are not written
    old = '{"fleet": {"efficiency_j_per_th": 18, "power_usd_per_kwh": 0.045}}'
    assert ChatSettings.from_json(old).fleet == Fleet(18, 0.045)
    assert ChatSettings.from_json(old).send_resolved is None
    assert ChatSettings(fleet=Fleet(18, 0.045)).to_json() == (
        '{"fleet": {"efficiency_j_per_th": 18, "hosting_usd_per_kwh": 0.0, "power_usd_per_kwh": 0.045}}'
    )
    assert ChatSettings.from_json('{"send_resolved": "no"}').send_resolved is None  # garbage: default


async def test_a_bad_zone_or_time_answers_with_its_own_commands_example(bot) -> None:
    """/tz's refusal shows a /tz example (the zone parser's own example is /quiet's), and both show
    it as tappable <code>."""
    tg, _svc, _clock, _app = bot
    bad_zone = await say(tg, "/tz Mars/Base")
    assert "I don't know the time zone 'Mars/Base'" in bad_zone
    assert "<code>/tz America/Chicago</code>" in bad_zone and "/quiet" not in bad_zone
    bad_time = await say(tg, "/quiet 25:00-07:00")
    assert "25:00 is not a time of day" in bad_time and "<code>/quiet 23:00-07:00" in bad_time
