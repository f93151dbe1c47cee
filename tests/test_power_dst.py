"""ERCOT's document times across the clock changes (issue 12 item 2).

gridstatus's maintainers found that ERCOT's listing sends ``PublishDate`` with a ``-06:00`` offset even
in summer (gridstatus PR #468; /work/shared/reference/grid-risk-sources.md §5). A watcher that trusts
the offset reads every summer publication an hour late; across the autumn change its download cursor
then jumps an hour ahead of the documents still to come, and three intervals are never read. The
watcher now reads the wall-clock time as America/Chicago, taking the second pass of the repeated hour
from ERCOT's ``xhr`` file-name marker (gridstatus's ``Ercot._get_documents``), and around a clock change
also looks an hour behind its cursor, so a repeated-hour document without the marker is read too.

The intervals are generated from the real price levels of the hand-built fixtures (see
tests/fixtures/ercot/PROVENANCE.md) and served from a local stand-in of ERCOT's MIS endpoints.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from tests.test_power_watcher import (
    CT,
    REAL_LEVELS,
    FakeErcot,
    ercot_label,
    persisted,
    poll,
    utc,
    values,
    watcher_for,
    zipped,
)
from watchers.ercot import parse_listing
from watchers.ercot_csv import HEADER

INTERVAL = timedelta(minutes=15)
PUBLISH_DELAY = timedelta(minutes=1, seconds=11)


class WrongOffsetErcot(FakeErcot):
    """Lists every PublishDate as the America/Chicago wall-clock time with a fixed -06:00, the way
    ERCOT did in PR #468, and (optionally) marks documents of the repeated hour's second pass with
    ``xhr`` in their names, the way ERCOT names them."""

    def __init__(self, *, xhr_marker: bool) -> None:
        super().__init__()
        self.xhr_marker = xhr_marker

    def listing(self) -> dict[str, Any]:
        out = super().listing()
        for entry in out["ListDocsByRptTypeRes"]["DocumentList"]:
            doc = entry["Document"]
            wall = datetime.fromisoformat(doc["PublishDate"]).replace(tzinfo=None)
            doc["PublishDate"] = wall.isoformat() + "-06:00"
        return out

    def publish_interval(self, start_utc: datetime, prices: dict[str, float], **kwargs: Any) -> str:
        doc_id = super().publish_interval(start_utc, prices, **kwargs)
        published = self.docs[-1].published.astimezone(CT)
        second_pass = published.fold == 1 and published.replace(fold=0).utcoffset() != published.utcoffset()
        if self.xhr_marker and second_pass:
            for d in self.docs[-2:]:  # the CSV and its XML twin
                d.friendly = d.friendly.replace("_csv", "xhr_csv").replace("_xml", "xhr_xml")
        return doc_id


def price_of(k: int) -> float:
    return round(REAL_LEVELS[k % 12] + (k % 5) * 0.37, 2)


@pytest.mark.parametrize("xhr_marker", [True, False], ids=["xhr-marked", "unmarked"])
async def test_autumn_day_with_the_wrong_offset(aiohttp_server: Any, xhr_marker: bool) -> None:
    """From 2024-11-02 00:00 CDT to 2024-11-03 06:00 CST (31 h, 124 intervals), one poll 3 min
    after each publication: every interval is read, the current price is always the newest one,
    and the 24-hour average covers 96 intervals."""
    ercot = WrongOffsetErcot(xhr_marker=xhr_marker)
    server = await aiohttp_server(ercot.app())
    ercot.base_url = f"http://{server.host}:{server.port}"
    first = utc(2024, 11, 2, 5, 0)  # 00:00 CDT
    starts = [first + k * INTERVAL for k in range(124)]
    assert {ercot_label(s)[3] for s in starts} == {False, True}  # the repeated hour is in there
    state: dict[str, Any] = {}
    current: list[tuple[float, datetime]] = []
    async with aiohttp.ClientSession() as session:
        for k, start in enumerate(starts):
            ercot.publish_interval(start, {"HB_WEST": price_of(k)})
            now = start + INTERVAL + PUBLISH_DELAY + timedelta(minutes=3)
            result = await poll(watcher_for(ercot.base_url, ["HB_WEST"]), session, now, state)
            state = persisted(state)
            current.append((values(result)["power.hb_west"], result.observations[0].at))
    # no older price shown as current, at any poll
    assert current == [(price_of(k), s + INTERVAL) for k, s in enumerate(starts)]
    # no skipped interval: every CSV document read exactly once, nothing more
    csv_ids = [d.doc_id for d in ercot.docs if d.friendly.endswith("_csv")]
    assert sorted(ercot.downloads) == sorted(csv_ids) and len(ercot.downloads) == 124
    got = values(result)
    last_day = [price_of(k) for k in range(124 - 96, 124)]
    assert len(state["intervals"]) == 96
    assert got["power.hb_west.avg24h"] == pytest.approx(statistics.fmean(last_day), abs=1e-12)
    assert got["power.hb_west.max24h"] == max(last_day)


def _listing(publish_date: str, friendly: str) -> dict[str, Any]:
    doc = {"DocID": "1", "FriendlyName": friendly, "ConstructedName": "", "PublishDate": publish_date}
    return {"ListDocsByRptTypeRes": {"DocumentList": [{"Document": doc}]}}


@pytest.mark.parametrize(
    ("publish_date", "friendly", "expected"),
    [
        # summer, the offset ERCOT really sends: the wall clock is CDT
        ("2024-07-01T14:16:11-06:00", "SPPHLZNP6905_20240701_1415_csv", utc(2024, 7, 1, 19, 16, 11)),
        ("2024-07-01T14:16:11-05:00", "SPPHLZNP6905_20240701_1415_csv", utc(2024, 7, 1, 19, 16, 11)),
        ("2024-07-01T14:16:11", "SPPHLZNP6905_20240701_1415_csv", utc(2024, 7, 1, 19, 16, 11)),
        # winter
        ("2024-12-01T14:16:11-06:00", "SPPHLZNP6905_20241201_1415_csv", utc(2024, 12, 1, 20, 16, 11)),
        # the repeated hour: first pass (CDT) unless the names carry ERCOT's xhr marker
        ("2024-11-03T01:16:11-06:00", "SPPHLZNP6905_20241103_0115_csv", utc(2024, 11, 3, 6, 16, 11)),
        ("2024-11-03T01:16:11-06:00", "SPPHLZNP6905_20241103_0115xhr_csv", utc(2024, 11, 3, 7, 16, 11)),
    ],
)
def test_publish_date_is_chicago_wall_clock(publish_date: str, friendly: str, expected: datetime) -> None:
    (doc,) = parse_listing(_listing(publish_date, friendly))
    assert doc.published == expected and doc.published.tzinfo == UTC


async def test_spring_forward_day_labelled_by_hour_ending_3(aiohttp_server: Any) -> None:
    """2024-03-10 labelled the way gridstatus's parse_doc fallback expects (hour ending 2 missing,
    the hour 01:00-02:00 CST labelled 3), listed with ERCOT's fixed -06:00: all 23 hours are read,
    each interval in its place, nothing is rejected."""
    ercot = WrongOffsetErcot(xhr_marker=True)
    server = await aiohttp_server(ercot.app())
    ercot.base_url = f"http://{server.host}:{server.port}"
    first = utc(2024, 3, 10, 6, 0)  # 00:00 CST
    starts = [first + k * INTERVAL for k in range(23 * 4)]
    state: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        for k, start in enumerate(starts):
            day, hour, interval, _ = ercot_label(start)
            if hour == 2:
                hour = 3  # ERCOT's label: the wall clock at the hour's end is 03:00 CDT
            csv = "\r\n".join(
                [",".join(HEADER), f"{day:%m/%d/%Y},{hour},{interval},HB_WEST,HU,{price_of(k):.2f},N"]
            )
            stamp = f"{start + INTERVAL:%Y%m%d_%H%M}"
            ercot.publish(zipped(csv.encode()), start + INTERVAL + PUBLISH_DELAY, stamp)
            now = start + INTERVAL + PUBLISH_DELAY + timedelta(minutes=3)
            result = await poll(watcher_for(ercot.base_url, ["HB_WEST"]), session, now, state)
            state = persisted(state)
            assert result.errors == {}
            assert (values(result)["power.hb_west"], result.observations[0].at) == (
                price_of(k),
                start + INTERVAL,
            )
    assert len(ercot.downloads) == len(starts) == 92  # a 23-hour day
    assert sorted(datetime.fromisoformat(s) for s in state["intervals"]) == starts[-92:]
