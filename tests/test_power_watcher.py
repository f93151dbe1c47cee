"""The power watcher (issue #4) against a local stand-in for ERCOT's MIS document service.

A small aiohttp app serves the IceDocListJsonWS listing and mirDownload zips; the CSVs are the
hand-built fixtures in tests/fixtures/ercot (see PROVENANCE.md there) or are generated here from
the same real price levels.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import statistics
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from pydantic import ValidationError

from rules.data import Observation
from watchers.base import PollContext, PollResult, SourceError
from watchers.ercot import (
    DEFAULT_POINTS,
    ErcotSourceConfig,
    PowerWatcher,
    PowerWatcherConfig,
)
from watchers.ercot_csv import HEADER

FIXTURES = Path(__file__).parent / "fixtures" / "ercot"
CT = ZoneInfo("America/Chicago")

# Real $/MWh levels from /work/shared/samples/ercot (RTM load zones 2023-05-22 21:30 CDT and DAM
# trading hubs 2023-05-22), cycled to give generated intervals realistic prices.
REAL_LEVELS = (26.25, 26.35, 19.90, 19.86, 20.00, 19.76, 19.65, 20.89, 21.02, 20.79, 20.74, 21.43)

NORMAL_CSV = (FIXTURES / "spp_rt.2023-05-22.he22.i3.csv").read_bytes()
NORMAL_END = datetime(2023, 5, 23, 2, 45, tzinfo=UTC)  # 21:45 CDT
NORMAL_PUBLISHED = datetime(2023, 5, 22, 21, 46, 11, tzinfo=CT)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def zipped(csv_bytes: bytes, name: str = "SPPHLZNP6905.csv") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, csv_bytes)
    return buf.getvalue()


def ercot_label(start_utc: datetime) -> tuple[date, int, int, bool]:
    """ERCOT's (DeliveryDate, DeliveryHour, DeliveryInterval, DSTFlag) for an interval start."""
    local = start_utc.astimezone(CT)
    repeated = local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()
    return local.date(), local.hour + 1, local.minute // 15 + 1, repeated and local.fold == 1


def spp_csv(start_utc: datetime, prices: dict[str, float]) -> bytes:
    """An NP6-905-CD CSV for one interval: hubs as HU rows, load zones as an LZ row plus an LZEW
    twin with a different price (the duplicate-row trap), and one resource node."""
    day, hour, interval, dst = ercot_label(start_utc)
    head = f"{day:%m/%d/%Y},{hour},{interval}"
    flag = "Y" if dst else "N"
    lines = [",".join(HEADER), f"{head},FIXTURE_RN_A,RN,25.98,{flag}"]
    for point, price in sorted(prices.items()):
        if point.startswith("LZ_"):
            lines.append(f"{head},{point},LZ,{price:.2f},{flag}")
            lines.append(f"{head},{point},LZEW,{price + 7.77:.2f},{flag}")
        else:
            lines.append(f"{head},{point},HU,{price:.2f},{flag}")
    return ("\r\n".join(lines) + "\r\n").encode()


def all_points(price: float) -> dict[str, float]:
    return {p: price for p in DEFAULT_POINTS}


@dataclass
class FakeDoc:
    doc_id: str
    friendly: str
    constructed: str
    published: datetime
    blob: bytes


class FakeErcot:
    """ERCOT's two MIS endpoints, in memory, counting every request."""

    def __init__(self) -> None:
        self.docs: list[FakeDoc] = []
        self.listing_hits = 0
        self.downloads: list[str] = []
        self.listing_override: Callable[[], web.StreamResponse] | None = None
        self.download_status: dict[str, int] = {}
        self.raw_listing: bytes | None = None
        self.retry_after = ""
        self.base_url = ""
        self._next_id = 700_000_000

    def publish(self, blob: bytes, published: datetime, stamp: str, *, retry: bool = False) -> str:
        """Add a CSV document and its XML twin; return the CSV's DocID."""
        kind = "SPPHLZNP6905_retry" if retry else "SPPHLZNP6905"
        ids = []
        for ext in ("csv", "xml"):
            self._next_id += 1
            doc_id = str(self._next_id)
            constructed = f"cdr.00012301.0000000000000000.{published:%Y%m%d.%H%M%S}.{kind}_{stamp}.{ext}.zip"
            payload = blob if ext == "csv" else b"<xml-twin-must-not-be-downloaded/>"
            self.docs.append(FakeDoc(doc_id, f"{kind}_{stamp}_{ext}", constructed, published, payload))
            ids.append(doc_id)
        return ids[0]

    def publish_interval(
        self,
        start_utc: datetime,
        prices: dict[str, float],
        *,
        retry: bool = False,
        published: datetime | None = None,
    ) -> str:
        """Publish one generated interval, by default 1m11s after it ends (retries: pass when)."""
        end = start_utc + timedelta(minutes=15)
        stamp = f"{end.astimezone(CT):%Y%m%d_%H%M}"
        when = published or end + timedelta(minutes=1, seconds=11)
        return self.publish(zipped(spp_csv(start_utc, prices)), when, stamp, retry=retry)

    def listing(self) -> dict[str, Any]:
        entries = [
            {
                "Document": {
                    "DocID": d.doc_id,
                    "ReportTypeID": "12301",
                    "FriendlyName": d.friendly,
                    "ConstructedName": d.constructed,
                    "Extension": "zip",
                    "PublishDate": d.published.astimezone(CT).isoformat(),
                    "ContentSize": str(len(d.blob)),
                }
            }
            for d in sorted(self.docs, key=lambda d: d.published, reverse=True)
        ]
        return {"ListDocsByRptTypeRes": {"DocumentList": entries}}

    async def _listing(self, request: web.Request) -> web.StreamResponse:
        self.listing_hits += 1
        if request.query.get("reportTypeId") != "12301":
            return web.Response(status=400, text="unknown report type")
        if self.listing_override is not None:
            return self.listing_override()
        if self.raw_listing is not None:
            return web.Response(body=self.raw_listing, content_type="application/json")
        return web.json_response(self.listing())

    async def _download(self, request: web.Request) -> web.StreamResponse:
        doc_id = request.query.get("doclookupId", "")
        self.downloads.append(doc_id)
        if doc_id in self.download_status:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.Response(status=self.download_status[doc_id], text="refused", headers=headers)
        for d in self.docs:
            if d.doc_id == doc_id:
                return web.Response(body=d.blob, content_type="application/zip")
        return web.Response(status=404, text="no such document")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/misapp/servlets/IceDocListJsonWS", self._listing)
        app.router.add_get("/misdownload/servlets/mirDownload", self._download)
        return app


@pytest.fixture
async def ercot(aiohttp_server: Any) -> FakeErcot:
    fake = FakeErcot()
    server = await aiohttp_server(fake.app())
    fake.base_url = f"http://{server.host}:{server.port}"
    return fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def watcher_for(base_url: str, points: list[str] | None = None, timeout_s: float = 5.0) -> PowerWatcher:
    cfg = PowerWatcherConfig(enabled=True, **({"points": points} if points is not None else {}))
    return PowerWatcher(cfg, ErcotSourceConfig(base_url=base_url, timeout_s=timeout_s))


async def poll(
    w: PowerWatcher, session: aiohttp.ClientSession, now: datetime, state: dict[str, Any]
) -> PollResult:
    return await w.poll(PollContext(session=session, now=now, state=state))


def values(result: PollResult) -> dict[str, float]:
    return {o.metric: o.value for o in result.observations}


def persisted(state: dict[str, Any]) -> dict[str, Any]:
    """What the runner stores and reads back: the state must survive a JSON round trip."""
    return json.loads(json.dumps(state))


# --- one normal interval ----------------------------------------------------------------------


async def test_normal_interval_exact_prices(ercot: FakeErcot, session: aiohttp.ClientSession) -> None:
    csv_id = ercot.publish(zipped(NORMAL_CSV), NORMAL_PUBLISHED, "20230522_2145")
    result = await poll(watcher_for(ercot.base_url), session, utc(2023, 5, 23, 2, 50), {})
    assert result.errors == {}
    assert values(result) == {
        "power.hb_north": 20.79,
        "power.hb_west": 21.43,
        "power.hb_south": 20.95,
        "power.hb_houston": 20.89,
        "power.hb_pan": 20.74,
        "power.lz_west": 26.35,  # the LZ row, not its LZEW twin (26.41)
        "power.lz_north": 26.25,
        "power.lz_south": 26.25,
        "power.lz_houston": 26.25,
    }  # one interval only: no avg1h (needs 3 of 4), no avg24h/max24h
    assert {(o.at, o.source) for o in result.observations} == {(NORMAL_END, "ercot")}
    assert all(type(o) is Observation for o in result.observations)
    assert ercot.downloads == [csv_id]  # the XML twin is never fetched
    assert ercot.listing_hits == 1


async def test_listing_with_a_single_document_object(
    ercot: FakeErcot, session: aiohttp.ClientSession
) -> None:
    ercot.raw_listing = (FIXTURES / "listing.single-document.json").read_bytes()
    ercot.docs.append(FakeDoc("900000001", "", "", NORMAL_PUBLISHED, zipped(NORMAL_CSV)))
    result = await poll(watcher_for(ercot.base_url, ["HB_WEST", "LZ_WEST"]), session, utc(2023, 5, 23, 3), {})
    assert values(result) == {"power.hb_west": 21.43, "power.lz_west": 26.35}
    assert ercot.downloads == ["900000001"]


async def test_listing_fixture_with_xml_twin(ercot: FakeErcot, session: aiohttp.ClientSession) -> None:
    ercot.raw_listing = (FIXTURES / "listing.csv-and-xml.json").read_bytes()
    ercot.docs.append(FakeDoc("900000001", "", "", NORMAL_PUBLISHED, zipped(NORMAL_CSV)))
    result = await poll(watcher_for(ercot.base_url, ["HB_PAN"]), session, utc(2023, 5, 23, 3), {})
    assert values(result) == {"power.hb_pan": 20.74}
    assert ercot.downloads == ["900000001"]


async def test_configured_point_missing_from_the_file(
    ercot: FakeErcot, session: aiohttp.ClientSession
) -> None:
    ercot.publish(zipped(NORMAL_CSV), NORMAL_PUBLISHED, "20230522_2145")
    w = watcher_for(ercot.base_url, ["HB_WEST", "HB_GALVESTON"])
    result = await poll(w, session, utc(2023, 5, 23, 3), {})
    assert values(result) == {"power.hb_west": 21.43}
    assert "HB_GALVESTON" in result.errors["ercot"]
    assert "SPPHLZNP6905_20230522_2145_csv" in result.errors["ercot"]


# --- DST fall-back ----------------------------------------------------------------------------


async def test_dst_fall_back_hour_two_twice(ercot: FakeErcot, session: aiohttp.ClientSession) -> None:
    w = watcher_for(ercot.base_url, ["HB_WEST", "LZ_WEST"])
    first = (FIXTURES / "spp_rt.2024-11-03.he2.i1.first-pass.csv").read_bytes()
    repeat = (FIXTURES / "spp_rt.2024-11-03.he2.i1.repeated-hour.csv").read_bytes()
    # 01:00-01:15 CDT, published 01:16 CDT; then 01:00-01:15 CST, published 01:16 CST
    ercot.publish(zipped(first), utc(2024, 11, 3, 6, 16), "20241103_0115")
    state: dict[str, Any] = {}
    r1 = await poll(w, session, utc(2024, 11, 3, 6, 20), state)
    assert values(r1) == {"power.hb_west": 19.90, "power.lz_west": 26.35}
    assert {o.at for o in r1.observations} == {utc(2024, 11, 3, 6, 15)}

    ercot.publish(zipped(repeat), utc(2024, 11, 3, 7, 16), "20241103_0115")  # same wall-clock stamp
    r2 = await poll(w, session, utc(2024, 11, 3, 7, 20), persisted(state))
    assert values(r2) == {"power.hb_west": 21.43, "power.lz_west": 26.35}
    assert {o.at for o in r2.observations} == {utc(2024, 11, 3, 7, 15)}
    assert len(ercot.downloads) == 2


async def test_dst_fall_back_averages_do_not_mix_the_two_passes(
    ercot: FakeErcot, session: aiohttp.ClientSession
) -> None:
    """Eight intervals of hour 2 (four CDT, four CST) stay eight distinct intervals."""
    w = watcher_for(ercot.base_url, ["HB_WEST"])
    starts = [utc(2024, 11, 3, 6, 0) + timedelta(minutes=15 * k) for k in range(8)]
    assert [ercot_label(s)[1:] for s in starts] == [(2, i, False) for i in range(1, 5)] + [
        (2, i, True) for i in range(1, 5)
    ]
    prices = [19.76, 19.65, 19.86, 19.90, 21.43, 20.89, 21.02, 20.74]
    state: dict[str, Any] = {}
    for start, price in zip(starts, prices, strict=True):
        ercot.publish_interval(start, {"HB_WEST": price})
        result = await poll(w, session, start + timedelta(minutes=20), state)
        state = persisted(state)
    assert values(result) == {
        "power.hb_west": 20.74,
        "power.hb_west.avg1h": pytest.approx(statistics.fmean(prices[4:]), abs=1e-12),
    }
    assert {o.at for o in result.observations} == {utc(2024, 11, 3, 8, 0)}
    assert len(state["intervals"]) == 8


# --- retry / correction files -----------------------------------------------------------------


async def test_retry_file_replaces_the_interval(ercot: FakeErcot, session: aiohttp.ClientSession) -> None:
    w = watcher_for(ercot.base_url, ["HB_WEST"])
    base = utc(2023, 5, 22, 15, 0)
    state: dict[str, Any] = {}
    for k, price in enumerate((20.79, 20.74, 21.02)):
        ercot.publish_interval(base + timedelta(minutes=15 * k), {"HB_WEST": price})
        result = await poll(w, session, base + timedelta(minutes=15 * k + 20), state)
        state = persisted(state)
    assert values(result)["power.hb_west.avg1h"] == pytest.approx((20.79 + 20.74 + 21.02) / 3)

    # ERCOT re-publishes the newest interval with a corrected price
    ercot.publish_interval(
        base + timedelta(minutes=30), {"HB_WEST": 26.35}, retry=True, published=base + timedelta(minutes=52)
    )
    result = await poll(w, session, base + timedelta(minutes=55), state)
    assert values(result) == {
        "power.hb_west": 26.35,
        "power.hb_west.avg1h": pytest.approx((20.79 + 20.74 + 26.35) / 3),  # replaced, not added
    }
    assert len(state["intervals"]) == 3
    assert result.errors == {}


async def test_retry_wins_whatever_the_download_order(
    ercot: FakeErcot, session: aiohttp.ClientSession
) -> None:
    """First poll sees original and retry together; the retry (newer) is downloaded first and the
    older original must not overwrite it."""
    w = watcher_for(ercot.base_url, ["HB_WEST"])
    start = utc(2023, 5, 22, 15, 0)
    original = ercot.publish_interval(start, {"HB_WEST": 20.79})
    retry = ercot.publish_interval(
        start, {"HB_WEST": 21.43}, retry=True, published=start + timedelta(minutes=25)
    )
    state: dict[str, Any] = {}
    result = await poll(w, session, start + timedelta(minutes=30), state)
    assert ercot.downloads == [retry, original]
    assert values(result) == {"power.hb_west": 21.43}
    assert len(state["intervals"]) == 1


async def test_old_correction_updates_the_window_not_the_latest(
    ercot: FakeErcot, session: aiohttp.ClientSession
) -> None:
    w = watcher_for(ercot.base_url, ["LZ_WEST"])
    base = utc(2023, 5, 22, 15, 0)
    state: dict[str, Any] = {}
    for k, price in enumerate((26.25, 26.35, 19.90, 19.86)):
        ercot.publish_interval(base + timedelta(minutes=15 * k), {"LZ_WEST": price})
        await poll(w, session, base + timedelta(minutes=15 * k + 20), state)
        state = persisted(state)
    # a correction of the oldest of the four, published after all of them
    ercot.publish_interval(base, {"LZ_WEST": 20.00}, retry=True, published=base + timedelta(minutes=65))
    result = await poll(w, session, base + timedelta(minutes=70), state)
    assert values(result) == {
        "power.lz_west": 19.86,
        "power.lz_west.avg1h": pytest.approx((20.00 + 26.35 + 19.90 + 19.86) / 4),
    }
    assert {o.at for o in result.observations} == {base + timedelta(hours=1)}


# --- garbage documents ------------------------------------------------------------------------


def _two_csv_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.csv", NORMAL_CSV)
        zf.writestr("b.csv", NORMAL_CSV)
    return buf.getvalue()


BAD_BLOBS = {
    "not-a-zip": (b"this is not a zip", "not a zip file"),
    "html-page": (b"<html><head><title>Request Rejected</title></head></html>", "HTML page"),
    "bad-header": (zipped(b"Foo,Bar,Baz\n1,2,3\n"), "not an NP6-905-CD header"),
    "non-numeric-price": (
        zipped(NORMAL_CSV.replace(b"HB_WEST,HU,21.43", b"HB_WEST,HU,N/A")),
        "'N/A' is not a number",
    ),
    "two-csvs": (_two_csv_zip(), "holds 2 CSV files"),
}


@pytest.mark.parametrize("kind", list(BAD_BLOBS))
async def test_bad_document_on_first_poll_is_a_source_error(
    ercot: FakeErcot, session: aiohttp.ClientSession, kind: str
) -> None:
    blob, reason = BAD_BLOBS[kind]
    doc_id = ercot.publish(blob, NORMAL_PUBLISHED, "20230522_2145")
    state: dict[str, Any] = {}
    with pytest.raises(SourceError) as err:
        await poll(watcher_for(ercot.base_url), session, utc(2023, 5, 23, 3), state)
    assert err.value.source == "ercot"
    assert doc_id in err.value.message and reason in err.value.message
    assert state == {}


@pytest.mark.parametrize("kind", list(BAD_BLOBS))
async def test_bad_document_after_good_ones_never_yields_a_value(
    ercot: FakeErcot, session: aiohttp.ClientSession, kind: str
) -> None:
    w = watcher_for(ercot.base_url, ["HB_WEST", "LZ_WEST"])
    ercot.publish(zipped(NORMAL_CSV), NORMAL_PUBLISHED, "20230522_2145")
    state: dict[str, Any] = {}
    await poll(w, session, utc(2023, 5, 23, 2, 50), state)
    state = persisted(state)

    blob, reason = BAD_BLOBS[kind]
    bad_id = ercot.publish(blob, NORMAL_PUBLISHED + timedelta(minutes=15), "20230522_2200")
    result = await poll(w, session, utc(2023, 5, 23, 3, 5), state)
    # the previous good interval is still reported, with its own time; nothing from the bad file
    assert values(result) == {"power.hb_west": 21.43, "power.lz_west": 26.35}
    assert {o.at for o in result.observations} == {NORMAL_END}
    assert bad_id in result.errors["ercot"] and reason in result.errors["ercot"]
    assert len(state["intervals"]) == 1

    # not marked seen: tried again while it is the newest document...
    state = persisted(state)
    await poll(w, session, utc(2023, 5, 23, 3, 10), state)
    assert ercot.downloads.count(bad_id) == 2
    # ...and dropped once a newer good document has been read
    ercot.publish_interval(utc(2023, 5, 23, 3, 0), {"HB_WEST": 20.74, "LZ_WEST": 26.25})
    state = persisted(state)
    r3 = await poll(w, session, utc(2023, 5, 23, 3, 20), state)
    assert values(r3)["power.hb_west"] == 20.74
    state = persisted(state)
    await poll(w, session, utc(2023, 5, 23, 3, 25), state)
    assert ercot.downloads.count(bad_id) == 3  # the poll with the new document tried it once more, then never


async def test_download_http_500_keeps_last_values_and_stops(
    ercot: FakeErcot, session: aiohttp.ClientSession
) -> None:
    w = watcher_for(ercot.base_url, ["HB_WEST"])
    ercot.publish(zipped(NORMAL_CSV), NORMAL_PUBLISHED, "20230522_2145")
    state: dict[str, Any] = {}
    await poll(w, session, utc(2023, 5, 23, 2, 50), state)
    a = ercot.publish_interval(utc(2023, 5, 23, 2, 45), {"HB_WEST": 20.00})
    b = ercot.publish_interval(utc(2023, 5, 23, 3, 0), {"HB_WEST": 19.65})
    ercot.download_status[b] = 500
    result = await poll(w, session, utc(2023, 5, 23, 3, 20), persisted(state))
    assert ercot.downloads[-1] == b and a not in ercot.downloads  # newest first; stops at the failure
    assert values(result) == {"power.hb_west": 21.43}
    assert "HTTP 500" in result.errors["ercot"]


# --- ERCOT unreachable or answering garbage ------------------------------------------------


def _html_page() -> web.StreamResponse:
    return web.Response(text="<html><body>Incapsula incident</body></html>", content_type="text/html")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (lambda: web.Response(status=500, text="Internal Server Error"), "HTTP 500"),
        (lambda: web.Response(status=503, text="<html>down</html>", content_type="text/html"), "HTTP 503"),
        (_html_page, "HTML page"),
        (
            lambda: web.Response(text='{"ListDocsByRptTypeRes": {"Docu', content_type="application/json"),
            "JSON",
        ),
        (lambda: web.json_response({"ListDocsByRptTypeRes": {}}), "no documents"),
        (lambda: web.json_response({"error": "maintenance"}), "no ListDocsByRptTypeRes"),
    ],
)
async def test_listing_failures_are_source_errors(
    ercot: FakeErcot, session: aiohttp.ClientSession, override: Callable[[], web.StreamResponse], message: str
) -> None:
    w = watcher_for(ercot.base_url)
    ercot.publish(zipped(NORMAL_CSV), NORMAL_PUBLISHED, "20230522_2145")
    state: dict[str, Any] = {}
    await poll(w, session, utc(2023, 5, 23, 2, 50), state)
    before = persisted(state)

    ercot.listing_override = override
    with pytest.raises(SourceError) as err:
        await poll(w, session, utc(2023, 5, 23, 2, 55), state)
    assert err.value.source == "ercot" and message in err.value.message
    assert state == before  # a failed poll leaves the state alone


async def test_first_poll_download_429_hands_on_retry_after(
    ercot: FakeErcot, session: aiohttp.ClientSession
) -> None:
    doc_id = ercot.publish(zipped(NORMAL_CSV), NORMAL_PUBLISHED, "20230522_2145")
    ercot.download_status[doc_id] = 429
    ercot.retry_after = "120"
    with pytest.raises(SourceError) as err:
        await poll(watcher_for(ercot.base_url), session, utc(2023, 5, 23, 3), {})
    assert "HTTP 429" in err.value.message and doc_id in err.value.message
    assert err.value.retry_after_s == 120.0


async def test_ercot_unreachable(session: aiohttp.ClientSession) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceError) as err:
        await poll(watcher_for(f"http://127.0.0.1:{port}"), session, utc(2023, 5, 23, 3), {})
    assert err.value.source == "ercot" and "connection failed" in err.value.message


async def test_ercot_timeout(ercot: FakeErcot, session: aiohttp.ClientSession) -> None:
    release = asyncio.Event()  # the handler hangs until the test is done, no real-clock sleep

    async def slow(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/misapp/servlets/IceDocListJsonWS", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        with pytest.raises(SourceError, match="timed out"):
            await poll(
                watcher_for(f"http://127.0.0.1:{port}", timeout_s=0.2), session, utc(2023, 5, 23, 3), {}
            )
    finally:
        release.set()
        await runner.cleanup()


async def test_stale_listing_is_a_source_error(ercot: FakeErcot, session: aiohttp.ClientSession) -> None:
    ercot.publish(zipped(NORMAL_CSV), NORMAL_PUBLISHED, "20230522_2145")
    with pytest.raises(
        SourceError, match="newest real-time price is for the interval ending 2023-05-23T02:45"
    ):
        await poll(watcher_for(ercot.base_url), session, NORMAL_END + timedelta(hours=1, minutes=1), {})


async def test_listing_with_only_xml_documents(ercot: FakeErcot, session: aiohttp.ClientSession) -> None:
    ercot.publish(zipped(NORMAL_CSV), NORMAL_PUBLISHED, "20230522_2145")
    ercot.docs = [d for d in ercot.docs if d.friendly.endswith("_xml")]
    with pytest.raises(SourceError, match="no CSV documents"):
        await poll(watcher_for(ercot.base_url), session, utc(2023, 5, 23, 3), {})
    assert ercot.downloads == []


# --- politeness: what gets downloaded ---------------------------------------------------------


async def test_seen_documents_are_not_downloaded_again(
    ercot: FakeErcot, session: aiohttp.ClientSession
) -> None:
    w = watcher_for(ercot.base_url, ["HB_WEST"])
    ercot.publish(zipped(NORMAL_CSV), NORMAL_PUBLISHED, "20230522_2145")
    state: dict[str, Any] = {}
    r1 = await poll(w, session, utc(2023, 5, 23, 2, 50), state)
    for minute in (55, 59):
        state = persisted(state)
        r = await poll(watcher_for(ercot.base_url, ["HB_WEST"]), session, utc(2023, 5, 23, 2, minute), state)
        assert r.observations == r1.observations
    assert ercot.listing_hits == 3 and len(ercot.downloads) == 1

    new = ercot.publish_interval(utc(2023, 5, 23, 2, 45), {"HB_WEST": 19.76})
    r = await poll(w, session, utc(2023, 5, 23, 3, 5), persisted(state))
    assert ercot.downloads[1:] == [new]
    assert values(r) == {"power.hb_west": 19.76}


async def test_first_poll_reads_only_the_newest_four(
    ercot: FakeErcot, session: aiohttp.ClientSession
) -> None:
    base = utc(2023, 5, 22, 5, 0)
    ids = [
        ercot.publish_interval(base + timedelta(minutes=15 * k), all_points(REAL_LEVELS[k % 12]))
        for k in range(40)
    ]
    state: dict[str, Any] = {}
    result = await poll(watcher_for(ercot.base_url), session, base + timedelta(minutes=15 * 40 + 5), state)
    assert ercot.downloads == ids[:-5:-1]
    expected = statistics.fmean(REAL_LEVELS[k % 12] for k in range(36, 40))
    assert values(result)["power.hb_north.avg1h"] == pytest.approx(expected)
    assert len(result.observations) == 2 * len(DEFAULT_POINTS)  # spot + avg1h; 24h needs more data


async def test_catch_up_after_an_outage_is_capped(ercot: FakeErcot, session: aiohttp.ClientSession) -> None:
    w = watcher_for(ercot.base_url, ["HB_WEST"])
    base = utc(2023, 5, 22, 5, 0)
    ercot.publish_interval(base, {"HB_WEST": 20.00})
    state: dict[str, Any] = {}
    await poll(w, session, base + timedelta(minutes=20), state)
    ids = [ercot.publish_interval(base + timedelta(minutes=15 * k), {"HB_WEST": 20.00}) for k in range(1, 21)]
    state = persisted(state)
    await poll(w, session, base + timedelta(minutes=15 * 21 + 5), state)
    assert ercot.downloads[1:] == ids[:-9:-1]  # the 8 newest, newest first; no back-fill later
    state = persisted(state)
    await poll(w, session, base + timedelta(minutes=15 * 21 + 10), state)
    assert len(ercot.downloads) == 9


# --- rolling window over many polls, across restarts ------------------------------------------


async def test_averages_over_a_day_of_polls_survive_restarts(
    ercot: FakeErcot, session: aiohttp.ClientSession
) -> None:
    base = utc(2023, 5, 22, 5, 0)  # 2023-05-22 00:00 CDT
    hub: list[float] = []
    zone: list[float] = []
    state: dict[str, Any] = {}
    for k in range(100):
        hub.append(REAL_LEVELS[k % 12] + (k % 7) * 1.5)  # real levels, varied so windows differ
        zone.append(REAL_LEVELS[(5 * k) % 12])
        start = base + timedelta(minutes=15 * k)
        ercot.publish_interval(start, {"HB_WEST": hub[-1], "LZ_WEST": zone[-1]})
        w = watcher_for(ercot.base_url, ["HB_WEST", "LZ_WEST"])  # a fresh watcher: as after a restart
        result = await poll(w, session, start + timedelta(minutes=20), state)
        state = persisted(state)
        got = values(result)
        assert got["power.hb_west"] == hub[-1]
        if k >= 2:
            assert got["power.hb_west.avg1h"] == pytest.approx(statistics.fmean(hub[-4:]))
            assert got["power.lz_west.avg1h"] == pytest.approx(statistics.fmean(zone[-4:]))
        else:
            assert "power.hb_west.avg1h" not in got
        if k >= 87:  # 88 intervals = 22 of 24 hours
            assert got["power.hb_west.avg24h"] == pytest.approx(statistics.fmean(hub[-96:]))
            assert got["power.hb_west.max24h"] == max(hub[-96:])
            assert got["power.lz_west.avg24h"] == pytest.approx(statistics.fmean(zone[-96:]))
        else:
            assert "power.hb_west.avg24h" not in got and "power.hb_west.max24h" not in got
        assert {o.at for o in result.observations} == {start + timedelta(minutes=15)}
        assert len(state["intervals"]) <= 96
    assert len(state["intervals"]) == 96
    assert len(ercot.downloads) == 100  # every document exactly once
    assert len(state["seen"]) <= 101
    assert len(json.dumps(state)) < 60_000


async def test_unreadable_state_starts_afresh(ercot: FakeErcot, session: aiohttp.ClientSession) -> None:
    ercot.publish(zipped(NORMAL_CSV), NORMAL_PUBLISHED, "20230522_2145")
    state: dict[str, Any] = {"version": 1, "cursor": "yesterday", "seen": [], "intervals": 3}
    result = await poll(watcher_for(ercot.base_url, ["HB_WEST"]), session, utc(2023, 5, 23, 3), state)
    assert values(result) == {"power.hb_west": 21.43}
    assert state["version"] == 1 and len(state["intervals"]) == 1


# --- config ---------------------------------------------------------------------------------


def test_config_defaults() -> None:
    cfg = PowerWatcherConfig()
    assert cfg.enabled is False
    assert cfg.every == 300
    assert (
        cfg.points
        == list(DEFAULT_POINTS)
        == [
            "HB_NORTH",
            "HB_WEST",
            "HB_SOUTH",
            "HB_HOUSTON",
            "HB_PAN",
            "LZ_WEST",
            "LZ_NORTH",
            "LZ_SOUTH",
            "LZ_HOUSTON",
        ]
    )
    assert cfg.model_dump()["every"] == "5m"
    src = ErcotSourceConfig()
    assert (src.base_url, src.timeout_s) == ("https://www.ercot.com", 30.0)
    assert PowerWatcher.id == "power"


def test_config_accepts_and_normalises() -> None:
    cfg = PowerWatcherConfig.model_validate(
        {"enabled": True, "every": "90s", "points": [" hb_west ", "LZ_AEN"]}
    )
    assert (cfg.every, cfg.points) == (90, ["HB_WEST", "LZ_AEN"])
    assert ErcotSourceConfig(base_url="http://127.0.0.1:8080/").base_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        (PowerWatcherConfig, {"interval": "5m"}, "Extra inputs are not permitted"),
        (PowerWatcherConfig, {"every": "soon"}, "is not a duration"),
        (PowerWatcherConfig, {"points": []}, "at least one settlement point"),
        (PowerWatcherConfig, {"points": ["HB_WEST", "hb_west"]}, "HB_WEST is listed twice"),
        (PowerWatcherConfig, {"points": ["HB WEST"]}, "is not an ERCOT settlement point name"),
        (ErcotSourceConfig, {"api_key": "x"}, "Extra inputs are not permitted"),
        (ErcotSourceConfig, {"base_url": "ftp://ercot"}, "is not an http(s) URL"),
        (ErcotSourceConfig, {"timeout_s": 0}, "greater than 0"),
    ],
)
def test_config_rejects(model: type, data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        model.model_validate(data)
    assert message in str(err.value)
