"""Issue 7, /chart: the pure renderer (real PNGs), window and metric parsing, the caption limit, and
end to end through the real PTB application and the fake Bot API: a photo upload for good
requests, a clear reply for each bad one."""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from matplotlib import dates as mdates

import bot.render.charts as charts
from bot.handlers.chart import CAPTION_MAX, caption, parse_window, resolve_metric
from bot.render.chart_data import ChartError
from bot.render.charts import ChartData, Threshold, build_figure, render_chart, thin_points, tick_labels
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
    ("text", "window"),
    [
        ("7d", timedelta(days=7)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(days=14)),
        ("90D", timedelta(days=90)),
        ("1y", timedelta(days=365)),
        ("3mo", timedelta(days=90)),
        ("45", timedelta(days=45)),
        ("6h", timedelta(hours=6)),
        ("36h", timedelta(hours=36)),
        ("1h", timedelta(hours=1)),
    ],
)
def test_parse_window(text, window):
    assert parse_window(text) == window


@pytest.mark.parametrize(
    ("text", "problem"),
    [("30m", "1h to 1y"), ("2y", "1h to 1y"), ("soon", "not a chart window")],
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
    text = caption(data, timedelta(days=30), "30d")
    assert len(text) <= CAPTION_MAX
    assert "America/Chicago" in text
    assert "more (/alerts)" in text
    assert "showing 90 min: history starts" in text  # ten points over 90 minutes do not fill 30 days


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

        too_short = (await command(tg, "/chart hashprice 30m"))["text"]
        assert "1h to 1y" in too_short

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


# ---- reading at a glance (issue 13 item 8) ------------------------------------------------------

TIME_LABEL = re.compile(r"\d{2}:\d{2}(\n\d{1,2} [A-Z][a-z]{2})?")  # "14:00", "00:00\n31 Mar"
DAY_LABEL = re.compile(r"\d{1,2} [A-Z][a-z]{2}( \d{4})?")  # "27 Nov", "1 Jan 2025"
MONTH_LABEL = re.compile(r"[A-Z][a-z]{2}( \d{4})?")  # "Dec 2025", "Jan"


def drawn_axes(metric, points, thresholds, tz, references=()):
    fig = build_figure(metric, points, thresholds, tz, "title", references)
    fig.draw_without_rendering()
    return fig, fig.axes[0]


def tick_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels() if t.get_text()]


def assert_never_past_the_data(ax, points) -> None:
    left, right = ax.get_xlim()
    assert right <= mdates.date2num(points[-1][0]) + 1e-9  # no stretch of empty future
    assert left >= mdates.date2num(points[0][0]) - 1e-9


def test_intraday_chart_ticks_are_times_with_the_date_at_day_changes():
    chicago = ZoneInfo("America/Chicago")
    # 12 hours of 5-minute ERCOT prices ending 07:00 CDT: the window crosses local midnight
    points = [(NOW - timedelta(minutes=5 * i), 30.0 + (i % 11)) for i in range(144, -1, -1)]
    fig, ax = drawn_axes("power.hb_west", points, [Threshold(100, "power.hb_west > 100", True)], chicago)
    labels = tick_texts(ax)
    assert len(labels) >= 4
    assert all(TIME_LABEL.fullmatch(label) for label in labels), labels
    assert "\n" in labels[0]  # the first tick names its day ...
    assert "00:00\n31 Mar" in labels  # ... and so does the first tick of the new day
    assert sum("\n" in label for label in labels) == 2  # the others are times only
    assert_never_past_the_data(ax, points)
    assert "USD/MWh" in ax.get_ylabel()
    assert ax.get_xlabel() == "time (America/Chicago, CDT)"
    texts = [t.get_text() for t in ax.texts]
    assert "power.hb_west > 100" in texts  # the line's own label ...
    assert "$100.00/MWh" in texts  # ... its value at the right edge ...
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "alert power.hb_west > 100: fires in the shaded band" in legend  # ... and the band named
    assert "HB_WEST real-time price (power.hb_west)" in legend
    assert "$" + format(points[-1][1], ".2f") + "/MWh" in texts  # the newest value, tagged


def test_multi_day_chart_ticks_are_dates_never_bare_numbers():
    berlin = ZoneInfo("Europe/Berlin")
    points = series(30 * 24, step_min=60)  # 30 days, hourly
    _fig, ax = drawn_axes("hashprice", points, [Threshold(45, "hashprice < 45", False)], berlin)
    labels = tick_texts(ax)
    assert len(labels) >= 4
    assert all(DAY_LABEL.fullmatch(label) for label in labels), labels
    assert not any(re.fullmatch(r"\d+", label) for label in labels)
    assert_never_past_the_data(ax, points)
    assert ax.get_ylabel() == "USD/PH/day"
    assert "Europe/Berlin" in ax.get_xlabel()
    assert "hashprice < 45" in [t.get_text() for t in ax.texts]


def test_year_chart_ticks_are_months_with_the_year():
    points = [(NOW - timedelta(days=i), 80 + i * 0.01) for i in range(365, -1, -1)]
    _fig, ax = drawn_axes("difficulty", points, [], UTC)
    labels = tick_texts(ax)
    assert all(MONTH_LABEL.fullmatch(label) for label in labels), labels
    assert re.fullmatch(r"[A-Z][a-z]{2} 20\d\d", labels[0])  # the first names its year
    assert_never_past_the_data(ax, points)
    assert ax.get_ylabel().startswith("T (difficulty")


def test_billions_are_scaled_and_said():
    points = [(NOW - timedelta(days=300), 2.3e9), (NOW - timedelta(days=100), 3.3e9), (NOW, 3.3e9)]
    _fig, ax = drawn_axes("debt.mara", points, [], UTC)
    assert ax.get_ylabel() == "USD, billions"
    ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert "3.0" in ticks and not any("e+" in t or len(t) > 6 for t in ticks)


def test_tick_labels_by_kind():
    tz = ZoneInfo("UTC")
    hours = [datetime(2025, 11, 27, h, tzinfo=tz) for h in (18, 21)] + [
        datetime(2025, 11, 28, h, tzinfo=tz) for h in (0, 3)
    ]
    assert tick_labels(hours) == ["18:00\n27 Nov", "21:00", "00:00\n28 Nov", "03:00"]
    days = [datetime(2025, 12, d, tzinfo=tz) for d in (27, 29, 31)] + [datetime(2026, 1, 2, tzinfo=tz)]
    assert tick_labels(days) == ["27 Dec 2025", "29 Dec", "31 Dec", "2 Jan 2026"]
    months = [datetime(2025, m, 1, tzinfo=tz) for m in (11, 12)] + [datetime(2026, 1, 1, tzinfo=tz)]
    assert tick_labels(months) == ["Nov 2025", "Dec", "Jan 2026"]


async def test_chart_states_the_span_it_really_shows(tmp_path, tg):
    """30 days asked, 3 days stored: the caption and the title say so, in the chat's zone."""
    clock = FakeClock(NOW)
    titles: list[str] = []
    async with running_bot(bot_settings(tmp_path, tg), clock) as (_app, svc):
        await store(svc, "hashprice", series(3 * 24 * 6, step_min=10))  # 3 days, from 28 Mar 12:00 UTC
        await command(tg, "/tz America/Chicago")
        sent = await command(tg, "/chart hashprice 30d")
        assert sent in tg.sent("sendPhoto", chat_id=CHAT)
        assert "showing 3 days: history starts 28 Mar 07:00 CDT" in sent["caption"]

        # Enough history: no such line; a short window works too.
        sent = await command(tg, "/chart hashprice 6h")
        assert sent["photo"]["filename"] == "hashprice-6h.png"
        assert "showing" not in sent["caption"] and "last 6h (America/Chicago)" in sent["caption"]

        # The function a "chart" button calls: the same chart, or ChartError with the reply.
        from bot.handlers.chart import chart_for, chart_title
        from bot.render.chart_data import gather

        png, text = await chart_for(svc, CHAT, "hashprice", "30d")
        assert png.startswith(PNG_MAGIC) and "showing 3 days" in text
        data = await svc.db(gather, CHAT, "hashprice", NOW - timedelta(days=30))
        titles.append(chart_title(data, timedelta(days=30), "30d"))
        with pytest.raises(ChartError, match=r"No power\.hb_west history in the last 6h"):
            await chart_for(svc, CHAT, "power.hb_west", "6h")
    assert titles == ["Hashprice (hashprice), 3 days shown (30d asked)"]
