"""Issue 7, /chart: the pure renderer (real PNGs), window and metric parsing, the caption limit, and
end to end through the real PTB application and the fake Bot API: a photo upload for good
requests, a clear reply for each bad one."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import bot.render.charts as charts
from bot.handlers.chart import CAPTION_MAX, caption, parse_window, resolve_metric
from bot.render.chart_data import ChartError
from bot.render.charts import ChartData, Threshold, render_chart, thin_points
from rules.data import Observation
from storage import observations
from tests.fake_telegram import FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot

CHAT = 4242
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NOW = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk."""
    assert png[:8] == PNG_MAGIC
    assert png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def series(n: int, step_min: int = 10, base: float = 50.0) -> list[tuple[datetime, float]]:
    return [(NOW - timedelta(minutes=step_min * (n - i)), base + (i % 24) * 0.25) for i in range(n)]


# ---- drawing ------------------------------------------------------------------------------------


def test_render_chart_is_a_sane_png():
    png = render_chart(
        "hashprice",
        series(500),
        [Threshold(45, "hashprice < 45", False), Threshold(60, "hashprice > 60", True)],
        ZoneInfo("Europe/Berlin"),
        "Hashprice (hashprice), last 7d",
    )
    width, height = png_size(png)
    assert (width, height) == (1200, 648)
    assert 10_000 < len(png) < 1_000_000  # a real picture, far under Telegram's 10 MB photo limit


def test_render_chart_one_point_and_no_thresholds():
    png = render_chart("difficulty.next_change", [(NOW, 2.1)], [], UTC, "one point")
    assert png_size(png) == (1200, 648)


def test_render_chart_refuses_nothing():
    with pytest.raises(ValueError, match="no points"):
        render_chart("hashprice", [], [], UTC, "empty")


def test_render_chart_a_year_of_minutes_is_thinned_and_quick():
    points = [(NOW - timedelta(minutes=i), 30.0 + (i % 7)) for i in range(365 * 24 * 60, 0, -1)]
    png = render_chart("power.hb_west", points, [Threshold(150, "power.hb_west > 150", True)], UTC, "year")
    assert png.startswith(PNG_MAGIC)


def test_thin_points_keeps_the_spike_and_the_order():
    points = [(NOW + timedelta(minutes=i), 25.0) for i in range(20_000)]
    points[12_345] = (points[12_345][0], 4_999.0)
    points[777] = (points[777][0], -12.0)
    thin = thin_points(points, max_points=1000)
    assert len(thin) <= 1000
    values = [v for _, v in thin]
    assert max(values) == 4_999.0 and min(values) == -12.0
    assert [t for t, _ in thin] == sorted(t for t, _ in thin)
    assert thin_points(points[:10], max_points=1000) == points[:10]


# ---- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days"),
    [("7d", 7), ("30d", 30), ("2w", 14), ("90D", 90), ("1y", 365), ("3mo", 90), ("45", 45)],
)
def test_parse_window(text, days):
    assert parse_window(text) == days


@pytest.mark.parametrize(
    ("text", "problem"),
    [("2d", "7d to 1y"), ("2y", "7d to 1y"), ("soon", "not a chart window"), ("36h", "whole number of days")],
)
def test_parse_window_errors_show_an_example(text, problem):
    with pytest.raises(ChartError) as err:
        parse_window(text)
    assert problem in str(err.value)
    assert "/chart hashprice 30d" in str(err.value)


def test_resolve_metric():
    assert resolve_metric("hashprice") == "hashprice"
    assert resolve_metric("Power.HB_West") == "power.hb_west"
    assert resolve_metric("diff") == "difficulty"
    with pytest.raises(ChartError, match="Did you mean: <code>hashprice</code>"):
        resolve_metric("hashprise")
    with pytest.raises(ChartError, match="is an event"):
        resolve_metric("retarget")
    with pytest.raises(ChartError, match="point in time"):
        resolve_metric("difficulty.retarget_eta")


def test_caption_stays_under_telegram_limit_with_many_alerts():
    thresholds = [Threshold(40 + i, f"hashprice < {40 + i} for 10m every 1h", False) for i in range(200)]
    data = ChartData("hashprice", series(10), thresholds, ZoneInfo("America/Chicago"))
    text = caption(data, 30, "30d")
    assert len(text) <= CAPTION_MAX
    assert "America/Chicago" in text
    assert "more (/alerts)" in text
    assert "history starts" in text  # ten points over 100 minutes do not fill 30 days


# ---- end to end ---------------------------------------------------------------------------------


def replies(tg: FakeTelegram, chat_id: int = CHAT) -> list[dict]:
    return [
        c.params
        for c in tg.calls
        if c.method in ("sendMessage", "sendPhoto")
        and c.status == 200
        and int(c.params.get("chat_id", 0)) == chat_id
    ]


async def command(tg: FakeTelegram, text: str, chat_id: int = CHAT) -> dict:
    before = len(replies(tg, chat_id))
    tg.push_command(text, chat_id=chat_id, user_id=chat_id)
    await tg.wait_for(lambda: len(replies(tg, chat_id)) > before)
    return replies(tg, chat_id)[-1]


async def store(svc, metric: str, points: list[tuple[datetime, float]]) -> None:
    obs = [Observation(metric, v, at, "mempool") for at, v in points]
    await svc.db(observations.insert_observations, obs)


async def test_chart_sends_a_png_photo_with_thresholds_and_zone(tmp_path, tg, monkeypatch):
    drawn: list[bytes] = []
    real = charts.render_chart

    def spy(*args, **kwargs):
        png = real(*args, **kwargs)
        drawn.append(png)
        return png

    monkeypatch.setattr(charts, "render_chart", spy)
    clock = FakeClock(NOW)
    async with running_bot(bot_settings(tmp_path, tg), clock) as (_app, svc):
        await store(svc, "hashprice", series(300))
        assert "Alert set" in (await command(tg, "/alert hashprice < 45"))["text"]
        assert "Alert set" in (await command(tg, "/alert price > 100k"))["text"]  # another metric
        await command(tg, "/tz Europe/Berlin")

        sent = await command(tg, "/chart hashprice 30d")
        assert sent in tg.sent("sendPhoto", chat_id=CHAT)
        assert sent["photo"]["filename"] == "hashprice-30d.png"
        assert len(drawn) == 1 and drawn[0].startswith(PNG_MAGIC)
        assert sent["photo"]["size"] == len(drawn[0])  # the PNG drawn is the file uploaded
        assert sent["parse_mode"] == "HTML"
        cap = sent["caption"]
        assert len(cap) <= CAPTION_MAX
        assert "<b>Hashprice</b>" in cap and "Europe/Berlin" in cap
        assert "<code>hashprice &lt; 45</code>" in cap  # the chat's threshold on this metric ...
        assert "price &gt; 100k" not in cap  # ... and not its rule on another metric
        assert "now <b>$" in cap

        # The default window, and a power hub.
        await store(svc, "power.hb_west", series(50, step_min=15, base=30))
        sent = await command(tg, "/chart power.hb_west")
        assert sent["photo"]["filename"] == "power.hb_west-30d.png"


async def test_chart_error_replies(tmp_path, tg):
    clock = FakeClock(NOW)
    async with running_bot(bot_settings(tmp_path, tg), clock) as (_app, svc):
        usage = (await command(tg, "/chart"))["text"]
        assert "/chart METRIC [WINDOW]" in usage and "/chart hashprice 30d" in usage

        unknown = (await command(tg, "/chart hashprise 30d"))["text"]
        assert (
            "I don't know the metric hashprise" in unknown
            and "Did you mean: <code>hashprice</code>" in unknown
        )

        bad_window = (await command(tg, "/chart hashprice 45x"))["text"]
        assert "45x is not a chart window" in bad_window and "/chart hashprice 30d" in bad_window

        too_short = (await command(tg, "/chart hashprice 2d"))["text"]
        assert "7d to 1y" in too_short

        no_data = (await command(tg, "/chart power.hb_west 7d"))["text"]
        assert "No power.hb_west history in the last 7d yet" in no_data

        # Old data only: nothing inside the window is still "no data".
        await store(svc, "hashprice", [(NOW - timedelta(days=40), 50.0)])
        assert "No hashprice history in the last 30d" in (await command(tg, "/chart hashprice"))["text"]

        fleet = (await command(tg, "/chart breakeven 7d"))["text"]
        assert "/fleet 18 0.045" in fleet
        assert tg.sent("sendPhoto") == []


async def test_chart_of_fleet_breakeven_derives_from_hashprice(tmp_path, tg):
    clock = FakeClock(NOW)
    async with running_bot(bot_settings(tmp_path, tg), clock) as (_app, svc):
        await store(svc, "hashprice", series(100))
        await command(tg, "/fleet 18 0.045")
        sent = await command(tg, "/chart breakeven 7d")
        assert sent["photo"]["filename"] == "breakeven-7d.png"
        assert "/MWh" in sent["caption"]
