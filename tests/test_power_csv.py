"""Pure parsing for the power watcher (issue #4): ERCOT NP6-905-CD CSVs, interval times, listings."""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from watchers.base import SourceError
from watchers.ercot import parse_listing
from watchers.ercot_csv import (
    HEADER,
    SppCsvError,
    SppRow,
    expected_type,
    interval_bounds,
    parse_spp_csv,
    read_spp_zip,
    select_points,
)

HEADER_LINE = ",".join(HEADER)
FIXTURES = Path(__file__).parent / "fixtures" / "ercot"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def zipped(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


# --- interval_bounds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "hour", "interval", "dst", "start"),
    [
        # 2023-05-22 21:30 CDT (UTC-5): the interval of the real load-zone sample
        (date(2023, 5, 22), 22, 3, False, utc(2023, 5, 23, 2, 30)),
        (date(2023, 5, 22), 1, 1, False, utc(2023, 5, 22, 5, 0)),  # hour ending 01:00 starts at midnight
        (date(2023, 5, 22), 24, 4, False, utc(2023, 5, 23, 4, 45)),  # 23:45 CDT
        (date(2024, 1, 15), 1, 1, False, utc(2024, 1, 15, 6, 0)),  # CST, UTC-6
        # fall-back 2024-11-03: 01:00-02:00 local happens twice
        (date(2024, 11, 3), 1, 1, False, utc(2024, 11, 3, 5, 0)),  # 00:00 CDT
        (date(2024, 11, 3), 2, 1, False, utc(2024, 11, 3, 6, 0)),  # 01:00 CDT, first pass
        (date(2024, 11, 3), 2, 4, False, utc(2024, 11, 3, 6, 45)),  # 01:45 CDT
        (date(2024, 11, 3), 2, 1, True, utc(2024, 11, 3, 7, 0)),  # 01:00 CST, repeated hour
        (date(2024, 11, 3), 2, 4, True, utc(2024, 11, 3, 7, 45)),  # 01:45 CST
        (date(2024, 11, 3), 3, 1, False, utc(2024, 11, 3, 8, 0)),  # 02:00 CST
        # spring-forward 2024-03-10: 02:00-03:00 local does not exist
        (date(2024, 3, 10), 2, 4, False, utc(2024, 3, 10, 7, 45)),  # 01:45 CST
        (date(2024, 3, 10), 4, 1, False, utc(2024, 3, 10, 8, 0)),  # 03:00 CDT
    ],
)
def test_interval_bounds(day: date, hour: int, interval: int, dst: bool, start: datetime) -> None:
    got_start, got_end = interval_bounds(day, hour, interval, dst)
    assert got_start == start
    assert got_end - got_start == timedelta(minutes=15)
    assert got_start.utcoffset() == timedelta(0)


def test_fall_back_hour_two_gives_two_distinct_instants() -> None:
    first = interval_bounds(date(2024, 11, 3), 2, 4, False)
    repeat = interval_bounds(date(2024, 11, 3), 2, 1, True)
    assert first[1] == repeat[0] == utc(2024, 11, 3, 7, 0)  # the first pass ends where the repeat begins
    assert interval_bounds(date(2024, 11, 3), 2, 1, False)[0] != repeat[0]


@pytest.mark.parametrize(
    ("day", "hour", "interval", "dst", "message"),
    [
        (date(2024, 5, 1), 2, 1, True, "not a repeated time"),  # DSTFlag Y outside the fall-back hour
        (date(2024, 11, 3), 3, 1, True, "not a repeated time"),
        (date(2024, 5, 1), 0, 1, False, "outside 1-24"),
        (date(2024, 5, 1), 25, 1, False, "outside 1-24"),
        (date(2024, 5, 1), 1, 0, False, "outside 1-4"),
        (date(2024, 5, 1), 1, 5, False, "outside 1-4"),
    ],
)
def test_interval_bounds_rejects(day: date, hour: int, interval: int, dst: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        interval_bounds(day, hour, interval, dst)


@pytest.mark.parametrize("interval", [1, 2, 3, 4])
def test_spring_forward_hour_ending_3_is_read_like_gridstatus(interval: int) -> None:
    """On the spring-forward day ERCOT may label the hour 01:00-02:00 CST by the wall clock at its
    end, 03:00 CDT: hour ending 3, whose start (02:00) does not exist. gridstatus's ``parse_doc``
    reads such a label by shifting it an hour forward, localising, and shifting back; so do we,
    and it is the same instant as hour ending 2 of the other labelling."""
    day = date(2024, 3, 10)
    start, end = interval_bounds(day, 3, interval, False)
    assert start == utc(2024, 3, 10, 7, 15 * (interval - 1))  # 01:xx CST
    assert end - start == timedelta(minutes=15)
    assert (start, end) == interval_bounds(day, 2, interval, False)


def test_a_whole_year_of_intervals_is_contiguous_in_utc() -> None:
    """Every (date, hour, interval, flag) ERCOT publishes in 2024, in publication order, tiles
    time without gap or overlap: 23 h on 2024-03-10, 25 h on 2024-11-03."""
    labels: list[tuple[date, int, int, bool]] = []
    day = date(2024, 1, 1)
    while day.year == 2024:
        for hour in range(1, 25):
            if day == date(2024, 3, 10) and hour == 3:
                continue
            for interval in range(1, 5):
                labels.append((day, hour, interval, False))
            if day == date(2024, 11, 3) and hour == 2:
                labels.extend((day, hour, interval, True) for interval in range(1, 5))
        day += timedelta(days=1)
    bounds = [interval_bounds(*label) for label in labels]
    assert len(bounds) == 366 * 96  # one hour lost in March, one gained in November
    for (_, end), (next_start, _) in itertools.pairwise(bounds):
        assert end == next_start
    assert bounds[0][0] == utc(2024, 1, 1, 6, 0)
    assert bounds[-1][1] == utc(2025, 1, 1, 6, 0)
    # The other labelling of the spring-forward day (hour ending 2 missing, 3 present) tiles the
    # same instants.
    other = [
        (day, 3 if (day, hour) == (date(2024, 3, 10), 2) else hour, interval, dst)
        for day, hour, interval, dst in labels
    ]
    assert [interval_bounds(*label) for label in other] == bounds


# --- parse_spp_csv -------------------------------------------------------------------------


def test_parse_fixture_interval() -> None:
    rows = parse_spp_csv((FIXTURES / "spp_rt.2023-05-22.he22.i3.csv").read_text())
    assert len(rows) == 25
    assert {r.interval_start_utc for r in rows} == {utc(2023, 5, 23, 2, 30)}
    assert {r.interval_end_utc for r in rows} == {utc(2023, 5, 23, 2, 45)}
    assert not any(r.dst_flag for r in rows)
    west = [r for r in rows if r.point == "LZ_WEST"]
    # both the LZ row and its energy-weighted twin are parsed; choosing is select_points' job
    assert sorted((r.type, r.price) for r in west) == [("LZ", 26.35), ("LZEW", 26.41)]
    assert SppRow("HB_WEST", "HU", 21.43, utc(2023, 5, 23, 2, 30), utc(2023, 5, 23, 2, 45), False) in rows


def test_parse_fixture_dst_files() -> None:
    first = parse_spp_csv((FIXTURES / "spp_rt.2024-11-03.he2.i1.first-pass.csv").read_text())
    repeat = parse_spp_csv((FIXTURES / "spp_rt.2024-11-03.he2.i1.repeated-hour.csv").read_text())
    assert {r.interval_start_utc for r in first} == {utc(2024, 11, 3, 6, 0)}
    assert {r.interval_start_utc for r in repeat} == {utc(2024, 11, 3, 7, 0)}
    assert all(r.dst_flag for r in repeat) and not any(r.dst_flag for r in first)


def test_select_points_filters_on_name_and_type() -> None:
    rows = parse_spp_csv((FIXTURES / "spp_rt.2023-05-22.he22.i3.csv").read_text())
    points = ["HB_NORTH", "HB_WEST", "HB_SOUTH", "HB_HOUSTON", "HB_PAN", "HB_BUSAVG", "HB_HUBAVG"]
    points += ["LZ_WEST", "LZ_NORTH", "LZ_SOUTH", "LZ_HOUSTON", "FIXTURE_RN_B", "HB_NOWHERE"]
    (found,) = select_points(rows, points)
    assert found.start_utc == utc(2023, 5, 23, 2, 30)
    assert found.prices == {
        "HB_NORTH": 20.79,
        "HB_WEST": 21.43,
        "HB_SOUTH": 20.95,
        "HB_HOUSTON": 20.89,
        "HB_PAN": 20.74,
        "HB_BUSAVG": 19.90,  # type SH
        "HB_HUBAVG": 21.02,  # type AH
        "LZ_WEST": 26.35,  # not the LZEW twin's 26.41
        "LZ_NORTH": 26.25,
        "LZ_SOUTH": 26.25,
        "LZ_HOUSTON": 26.25,
        "FIXTURE_RN_B": 26.11,  # a resource node: any type, one row
    }
    assert found.missing == ["HB_NOWHERE"]


def test_select_points_ignores_dc_tie_and_energy_weighted_types() -> None:
    lines = [
        HEADER_LINE,
        "05/22/2023,22,3,LZ_WEST,LZ_DC,99.00,N",
        "05/22/2023,22,3,LZ_WEST,LZ_DCEW,98.00,N",
        "05/22/2023,22,3,LZ_WEST,LZEW,97.00,N",
        "05/22/2023,22,3,LZ_WEST,LZ,26.35,N",
        "05/22/2023,22,3,HB_WEST,SH,96.00,N",
        "05/22/2023,22,3,HB_WEST,HU,21.43,N",
    ]
    (found,) = select_points(parse_spp_csv("\n".join(lines)), ["LZ_WEST", "HB_WEST"])
    assert found.prices == {"LZ_WEST": 26.35, "HB_WEST": 21.43}


def test_select_points_rejects_a_duplicated_row() -> None:
    rows = parse_spp_csv(
        "\n".join([HEADER_LINE, "05/22/2023,22,3,HB_WEST,HU,21.43,N", "05/22/2023,22,3,HB_WEST,HU,25.00,N"])
    )
    with pytest.raises(SppCsvError, match=r"HB_WEST .* twice"):
        select_points(rows, ["HB_WEST"])


def test_select_points_without_any_configured_point() -> None:
    rows = parse_spp_csv("\n".join([HEADER_LINE, "05/22/2023,22,3,HB_WEST,HU,21.43,N"]))
    with pytest.raises(SppCsvError, match="none of the configured points"):
        select_points(rows, ["HB_NORTH"])


def test_expected_types() -> None:
    assert [expected_type(p) for p in ("HB_WEST", "HB_BUSAVG", "HB_HUBAVG", "LZ_AEN", "SOME_NODE")] == [
        "HU",
        "SH",
        "AH",
        "LZ",
        None,
    ]


def test_header_with_bom_and_padded_column_names_is_accepted() -> None:
    text = (
        "\ufeff"
        + HEADER_LINE.replace("DSTFlag", "DSTFlag    ")
        + "\r\n05/22/2023,22,3,HB_WEST,HU,21.43,N\r\n"
    )
    (row,) = parse_spp_csv(text)
    assert row.price == 21.43


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (HEADER_LINE + "\n", "no rows"),
        # the DAM report's header (NP4-190-CD) is not NP6-905-CD's
        (
            "DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag\n05/22/2023,23:00,HB_WEST,21.43,N",
            "not an NP6-905-CD header",
        ),
        ("<html><body>Access denied</body></html>", "not an NP6-905-CD header"),
        (
            HEADER_LINE + "\n05/22/2023,22,3,HB_WEST,HU,n/a,N",
            "line 2: SettlementPointPrice 'n/a' is not a number",
        ),
        (HEADER_LINE + "\n05/22/2023,22,3,HB_WEST,HU,,N", "is not a number"),
        (HEADER_LINE + "\n05/22/2023,22,3,HB_WEST,HU,NaN,N", "not finite"),
        (HEADER_LINE + "\n05/22/2023,22,3,HB_WEST,HU,1e9,N", "outside"),
        (HEADER_LINE + "\n05/22/2023,22,3,HB_WEST,HU,21.43", "has 6 fields, expected 7"),
        (HEADER_LINE + "\n2023-05-22,22,3,HB_WEST,HU,21.43,N", "not MM/DD/YYYY"),
        (
            HEADER_LINE + "\n05/22/2023,22:00,3,HB_WEST,HU,21.43,N",
            "DeliveryHour '22:00' is not a whole number",
        ),
        (HEADER_LINE + "\n05/22/2023,25,1,HB_WEST,HU,21.43,N", "outside 1-24"),
        (HEADER_LINE + "\n05/22/2023,22,3,HB_WEST,HU,21.43,X", "neither Y nor N"),
        (HEADER_LINE + "\n05/22/2023,22,3,,HU,21.43,N", "empty SettlementPointName"),
        (HEADER_LINE + "\n03/10/2024,3,1,HB_WEST,HU,21.43,Y", "not a repeated time"),
    ],
)
def test_parse_rejects_the_whole_file(text: str, message: str) -> None:
    with pytest.raises(SppCsvError, match=message):
        parse_spp_csv(text)


def test_one_bad_row_rejects_the_good_ones_too() -> None:
    text = "\n".join([HEADER_LINE, "05/22/2023,22,3,HB_WEST,HU,21.43,N", "05/22/2023,22,3,HB_PAN,HU,#N/A,N"])
    with pytest.raises(SppCsvError, match="line 3"):
        parse_spp_csv(text)


# --- read_spp_zip -------------------------------------------------------------------------


def test_read_zip() -> None:
    csv_bytes = (FIXTURES / "spp_rt.2023-05-22.he22.i3.csv").read_bytes()
    rows = read_spp_zip(zipped({"cdr.00012301.SPPHLZNP6905_20230522_2145.csv": csv_bytes}))
    assert len(rows) == 25


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"PK\x03\x04 truncated", "not a zip file"),
        (b"not a zip at all", "not a zip file"),
        (b"  <!DOCTYPE html><html><title>Request Rejected</title></html>", "an HTML page"),
        (zipped({"a.csv": b"x", "b.csv": b"y"}), "holds 2 CSV files"),
        (zipped({"report.xml": b"<x/>"}), "holds 0 CSV files"),
        (zipped({"a.csv": HEADER_LINE.encode() + b"\n05/22/2023,22,3,HB_W\xe9ST,HU,1,N"}), "not UTF-8"),
        (zipped({"a.csv": b"Foo,Bar\n1,2"}), "not an NP6-905-CD header"),
    ],
)
def test_read_zip_rejects(blob: bytes, message: str) -> None:
    with pytest.raises(SppCsvError, match=message):
        read_spp_zip(blob)


def test_read_zip_rejects_a_corrupt_member() -> None:
    good = zipped({"a.csv": (FIXTURES / "spp_rt.2023-05-22.he22.i3.csv").read_bytes()})
    pos = good.index(b"a.csv") + len(b"a.csv") + 10  # inside the first member's compressed data
    broken = good[:pos] + bytes([good[pos] ^ 0xFF]) + good[pos + 1 :]
    with pytest.raises(SppCsvError):
        read_spp_zip(broken)


# --- parse_listing -------------------------------------------------------------------------


def doc(doc_id: str, friendly: str, published: str, constructed: str = "") -> dict:
    return {
        "Document": {
            "DocID": doc_id,
            "FriendlyName": friendly,
            "ConstructedName": constructed,
            "PublishDate": published,
        }
    }


def test_listing_single_object_fixture() -> None:
    (only,) = parse_listing(json.loads((FIXTURES / "listing.single-document.json").read_text()))
    assert only.doc_id == "900000001"
    assert only.published == utc(2023, 5, 23, 2, 46, 11)
    assert not only.retry and not only.is_xml


def test_listing_list_fixture_marks_the_xml_twin() -> None:
    docs = parse_listing(json.loads((FIXTURES / "listing.csv-and-xml.json").read_text()))
    assert {d.doc_id: d.is_xml for d in docs} == {"900000001": False, "900000002": True}


def test_listing_order_retry_and_skips() -> None:
    payload = {
        "ListDocsByRptTypeRes": {
            "DocumentList": [
                doc("11", "SPPHLZNP6905_20230608_1530_csv", "2023-06-08T15:31:00-05:00"),
                doc("13", "SPPHLZNP6905_retry_20230608_1545_csv", "2023-06-08T15:58:00-05:00"),
                doc("12", "SPPHLZNP6905_20230608_1545_csv", "2023-06-08T15:46:00-05:00"),
                doc("abc", "broken id", "2023-06-08T15:46:00-05:00"),
                doc("14", "no publish date", ""),
                {"NotADocument": {}},
                "garbage",
            ]
        }
    }
    docs = parse_listing(payload)
    assert [d.doc_id for d in docs] == ["13", "12", "11"]  # newest first, bad entries skipped
    assert [d.retry for d in docs] == [True, False, False]


def test_listing_without_offset_is_read_as_central_time() -> None:
    (only,) = parse_listing(
        {"ListDocsByRptTypeRes": {"DocumentList": [doc("1", "x_csv", "2023-06-08T15:31:00")]}}
    )
    assert only.published == utc(2023, 6, 8, 20, 31)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        [],
        {"ListDocsByRptTypeRes": None},
        {"ListDocsByRptTypeRes": {}},
        {"ListDocsByRptTypeRes": {"DocumentList": []}},
        {"ListDocsByRptTypeRes": {"DocumentList": [doc("x", "y", "z")]}},
    ],
)
def test_listing_garbage_is_a_source_error(payload: object) -> None:
    with pytest.raises(SourceError) as err:
        parse_listing(payload)
    assert err.value.source == "ercot"
