"""Tomorrow's prices (issue 16): the day-ahead CSV, the curtailment runs, the DAM watcher against a
local stand-in for ERCOT's MIS listing and download, and a chat's `curtail tomorrow` plan.

The CSV is the documented-shape fixture in tests/fixtures/ercot_dam (real HE 1 and HE 24 hub
levels of 2023-05-22, synthetic hours between: PROVENANCE.md there)."""

from __future__ import annotations

import io
import itertools
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from bot.engine.ingest import ingest
from rules.dam import curtail_runs, plan_line
from rules.data import Observation
from tests.harness import FakeClock, bot_settings, running_bot
from watchers.base import PollContext, PollResult, SourceError
from watchers.ercot import DOWNLOAD_PATH, LISTING_PATH, ErcotSourceConfig
from watchers.ercot_dam import DamCsvError, DamWatcher, DamWatcherConfig, parse_dam_csv

CT = ZoneInfo("America/Chicago")
CSV = (
    Path(__file__).parent / "fixtures" / "ercot_dam" / "np4-190-cd.2023-05-22.hubs.documented-shape.csv"
).read_text()
HUBS = ["HB_NORTH", "HB_WEST", "HB_SOUTH", "HB_HOUSTON", "HB_PAN"]


def for_day(day: date) -> str:
    return CSV.replace("05/22/2023", f"{day:%m/%d/%Y}")


def test_csv_hours_and_the_afternoon_spike():
    day, prices = parse_dam_csv(CSV, HUBS)
    assert day == date(2023, 5, 22) and set(prices) == set(HUBS)
    west = prices["HB_WEST"]
    assert len(west) == 24
    # HE 01 = 00:00-01:00 CDT = 05:00 UTC; HE 24 ends at midnight CDT
    assert west["2023-05-22T05:00:00+00:00"] == 19.90 and west["2023-05-23T04:00:00+00:00"] == 21.43


def test_runs_and_the_plan_line():
    _, prices = parse_dam_csv(CSV, HUBS)
    hours = sorted((datetime.fromisoformat(k), v) for k, v in prices["HB_WEST"].items())
    runs = curtail_runs(hours, 115.74)  # 18 J/TH at hashprice $50
    assert len(runs) == 1 and runs[0].hours == 5
    assert runs[0].avg == pytest.approx((132.50 + 188.00 + 246.75 + 251.20 + 243.55) / 5)
    assert plan_line(runs[0], CT) == "curtail 14:00–19:00 CDT (HE 15–19 CPT), 5 h, avg $212/MWh"
    berlin = plan_line(runs[0], ZoneInfo("Europe/Berlin"))
    assert berlin == "curtail 21:00–02:00 CEST (HE 15–19 CPT, 14:00–19:00), 5 h, avg $212/MWh"
    assert curtail_runs(hours, 300.0) == []
    split = curtail_runs(hours, 200.0)  # 246.75, 251.20, 243.55: HE 17-19
    assert [(r.hours, r.start.astimezone(CT).hour) for r in split] == [(3, 16)]


def dst_csv(day: date, hours: list[tuple[int, str]]) -> str:
    rows = ["DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag"]
    rows += [f"{day:%m/%d/%Y},{he:02d}:00,HB_WEST,{20 + he:.2f},{flag}" for he, flag in hours]
    return "\n".join(rows)


def test_dst_days():
    fall = [(1, "N"), (2, "N"), (2, "Y"), *[(h, "N") for h in range(3, 25)]]
    _, prices = parse_dam_csv(dst_csv(date(2024, 11, 3), fall), ["HB_WEST"])
    starts = sorted(datetime.fromisoformat(k) for k in prices["HB_WEST"])
    assert len(starts) == 25 and all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts))
    spring = [(1, "N"), (2, "N"), *[(h, "N") for h in range(4, 25)]]
    _, prices = parse_dam_csv(dst_csv(date(2024, 3, 10), spring), ["HB_WEST"])
    starts = sorted(datetime.fromisoformat(k) for k in prices["HB_WEST"])
    assert len(starts) == 23 and all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts))
    # a runs' real-time length holds across the repeated hour
    hours = [
        (s, 500.0)
        for s in sorted(
            datetime.fromisoformat(k)
            for k in parse_dam_csv(dst_csv(date(2024, 11, 3), fall), ["HB_WEST"])[1]["HB_WEST"]
        )
    ]
    assert curtail_runs(hours, 0)[0].hours == 25


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a,b\n1,2", "header"),
        (CSV.replace("19.90", "lots", 1), "line 6"),
        (CSV.replace("05/22/2023,24:00", "05/23/2023,24:00"), "operating days"),
        (CSV + "05/22/2023,01:00,HB_WEST,3.00,N\r\n", "two prices"),
        (CSV.replace("01:00,HB_HOUSTON", "01:30,HB_HOUSTON", 1), "HH:00"),
        (CSV.replace("19.90", "99999", 1), "plausible"),
    ],
)
def test_bad_files_are_rejected(text, match):
    with pytest.raises(DamCsvError, match=match):
        parse_dam_csv(text, HUBS)


def zipped(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("DAMSPNP4190.csv", text)
    return buf.getvalue()


class FakeMis:
    def __init__(self) -> None:
        self.docs: list[tuple[str, datetime, bytes]] = []
        self.listing_hits = 0
        self.downloads: list[str] = []
        self.status = 200

    def publish(self, doc_id: str, published: datetime, text: str) -> None:
        self.docs.append((doc_id, published, zipped(text)))

    async def listing(self, request: web.Request) -> web.Response:
        self.listing_hits += 1
        assert request.query["reportTypeId"] == "12331"
        if self.status != 200:
            return web.Response(status=self.status, headers={"Retry-After": "3600"})
        entries = [
            {
                "Document": {
                    "DocID": doc_id,
                    "FriendlyName": f"DAMSPNP4190_{published:%Y%m%d}_csv",
                    "ConstructedName": (
                        f"cdr.00012331.0000000000000000.{published:%Y%m%d.%H%M%S}.DAMSPNP4190.csv.zip"
                    ),
                    "PublishDate": published.strftime("%Y-%m-%dT%H:%M:%S-06:00"),  # ERCOT's summer offset bug
                }
            }
            for doc_id, published, _ in self.docs
        ]
        return web.json_response({"ListDocsByRptTypeRes": {"DocumentList": entries}})

    async def download(self, request: web.Request) -> web.Response:
        doc_id = request.query["doclookupId"]
        self.downloads.append(doc_id)
        blob = next(b for d, _, b in self.docs if d == doc_id)
        return web.Response(body=blob, content_type="application/zip")


@pytest.fixture
async def mis(aiohttp_server):
    m = FakeMis()
    app = web.Application()
    app.router.add_get(LISTING_PATH, m.listing)
    app.router.add_get(DOWNLOAD_PATH, m.download)
    server = await aiohttp_server(app)
    m.url = str(server.make_url("")).rstrip("/")
    return m


async def poll(w: DamWatcher, now: datetime, state: dict) -> PollResult:
    async with aiohttp.ClientSession() as session:
        return await w.poll(PollContext(session=session, now=now, state=state))


async def test_watcher_fetches_once_a_day_and_emits_the_current_hour(mis):
    mis.publish("501", datetime(2023, 5, 20, 13, 31), for_day(date(2023, 5, 21)))
    w = DamWatcher(DamWatcherConfig(enabled=True), ErcotSourceConfig(base_url=mis.url))
    state: dict = {}
    morning = datetime(2023, 5, 21, 10, 5, tzinfo=CT).astimezone(UTC)
    result = await poll(w, morning, state)
    obs = {o.metric: o.value for o in result.observations}
    # 10:05 CDT is in hour ending 11; the synthetic ramp: 22 + 2.5 × 11/24 = 23.15
    assert obs["dam.hb_west"] == 23.15 and result.events == []
    assert mis.listing_hits == 1 and mis.downloads == ["501"]
    result = await poll(w, morning + timedelta(minutes=15), state)
    assert mis.listing_hits == 1  # today's held, before publish_after: nothing asked
    assert result.observations

    noon = datetime(2023, 5, 21, 12, 15, tzinfo=CT).astimezone(UTC)
    await poll(w, noon, state)
    assert mis.listing_hits == 2 and mis.downloads == ["501"]  # not posted yet: listing only
    mis.publish("502", datetime(2023, 5, 21, 13, 31), CSV)
    result = await poll(w, noon + timedelta(hours=1, minutes=30), state)
    assert [e.key for e in result.events] == ["dam:2023-05-22"]
    assert set(result.events[0].data["prices"]) == set(HUBS)
    assert mis.downloads == ["501", "502"]
    for minutes in (15, 30, 45, 600):  # held: no more requests until tomorrow afternoon
        await poll(w, noon + timedelta(hours=1, minutes=30 + minutes), state)
    assert mis.listing_hits == 3 and set(state["days"]) == {"2023-05-21", "2023-05-22"}


async def test_429_stands_back_and_nothing_is_an_error(mis):
    w = DamWatcher(DamWatcherConfig(enabled=True), ErcotSourceConfig(base_url=mis.url))
    now = datetime(2023, 5, 21, 14, 0, tzinfo=CT).astimezone(UTC)
    mis.status = 429
    with pytest.raises(SourceError, match="HTTP 429"):
        await poll(w, now, {})
    with pytest.raises(SourceError, match="standing back"):
        await poll(w, now + timedelta(minutes=30), {})
    assert mis.listing_hits == 1
    mis.status = 200
    with pytest.raises(SourceError, match="listing has no documents"):
        await poll(w, now + timedelta(hours=2), {})  # an empty listing is not "fine"
    mis.publish("700", datetime(2023, 5, 19, 13, 31), for_day(date(2023, 5, 20)))  # only an old day
    with pytest.raises(SourceError, match="no day-ahead prices for today"):
        await poll(w, now + timedelta(hours=3), {})


async def test_curtail_tomorrow_plan_reaches_the_chat_once(tmp_path, tg, mis):
    chat = 99
    mis.publish("501", datetime(2023, 5, 21, 8, 0), for_day(date(2023, 5, 21)))
    mis.publish("502", datetime(2023, 5, 21, 13, 31), CSV)
    clock = FakeClock(datetime(2023, 5, 21, 13, 45, tzinfo=CT).astimezone(UTC))
    settings = bot_settings(
        tmp_path,
        tg,
        {
            "watchers.network": {"enabled": False},
            "watchers.dam": {"enabled": True},
            "sources.ercot": {"base_url": mis.url},
        },
    )
    async with running_bot(settings, clock) as (_app, svc):
        assert "set it first" in await tg.command("/alert curtail tomorrow", chat_id=chat)  # no fleet
        await tg.command("/fleet 18 0.045", chat_id=chat)
        assert "name the hub" in await tg.command("/alert curtail tomorrow", chat_id=chat)
        await tg.command("/fleet 18 0.045 hub HB_WEST", chat_id=chat)
        assert "Alert set" in await tg.command("/alert curtail tomorrow", chat_id=chat)
        await svc.db(
            ingest, "network", PollResult([Observation("hashprice", 50.0, clock(), "mempool")]), {}, clock(),
            svc.pipeline.opts,
        )  # fmt: skip
        dam = next(w.watcher for w in svc.watchers if isinstance(w.watcher, DamWatcher))
        async with aiohttp.ClientSession() as session:
            assert (await svc.pipeline.run_watcher(dam, session)).ok
            assert await svc.notifier.drain() == 1
            text = tg.sent(chat_id=chat)[-1]["text"]
            assert "Tomorrow, Mon May 22, HB_WEST: curtail 5 h" in text
            assert "curtail 14:00–19:00 UTC" not in text  # the chat has no /tz: UTC, labelled in CPT
            assert "curtail 19:00–00:00 UTC (HE 15–19 CPT, 14:00–19:00), 5 h, avg $212/MWh" in text
            assert "breakeven $115.74/MWh (11.57¢/kWh)" in text
            clock.advance(900)
            assert (await svc.pipeline.run_watcher(dam, session)).ok
            assert await svc.notifier.drain() == 0  # once a day
        reply = await tg.command("/dam", chat_id=chat)
        assert "ERCOT day-ahead, HB_WEST, tomorrow Mon May 22" in reply
        assert "curtail 19:00–00:00 UTC" in reply
        await tg.command("/tz America/Chicago", chat_id=chat)
        reply = await tg.command("/dam HB_NORTH", chat_id=chat)
        assert "mine all day" in reply and "HB_NORTH" in reply
        assert "No day-ahead prices for LZ_NOPE" in await tg.command("/dam LZ_NOPE", chat_id=chat)
