"""Pure parsing of ERCOT's real-time settlement point price files (NP6-905-CD, issue #4).

One NP6-905-CD document is a zip holding one CSV with exactly these columns::

    DeliveryDate,DeliveryHour,DeliveryInterval,SettlementPointName,SettlementPointType,
    SettlementPointPrice,DSTFlag

``DeliveryDate`` is MM/DD/YYYY, ``DeliveryHour`` 1-24 is the hour *ending* in US/Central,
``DeliveryInterval`` 1-4 the quarter hour inside it, the price is in USD/MWh and ``DSTFlag`` is
"Y" only for the repeated hour on the autumn fall-back day (data-sources.md §5.1).

Time decisions, used everywhere in the power watcher:

* interval start = DeliveryDate 00:00 + (hour - 1) h + (interval - 1) × 15 min, wall clock in
  ``America/Chicago``; the end is start + 15 min of real (UTC) time;
* fall-back day: local 01:00-02:00 happens twice. Hour 2 with DSTFlag "N" is the first pass
  (CDT, UTC-5), hour 2 with DSTFlag "Y" the second (CST, UTC-6): the later UTC instant;
* spring-forward day: local 02:00-03:00 does not exist. ERCOT's files label the hour 01:00-02:00
  CST either as hour 2 (its start) or as hour 3 (the 03:00 CDT wall clock at its end, the label
  gridstatus's parse_doc falls back to); both are read as 01:xx CST, so either labelling tiles time;
* every instant leaves this module as an aware UTC ``datetime``.

No I/O here: the watcher in ``watchers/ercot.py`` downloads, this module only reads text/bytes.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from rules.catalogue import POWER_PRICE_BOUNDS

ERCOT_TZ = ZoneInfo("America/Chicago")
INTERVAL = timedelta(minutes=15)

HEADER = (
    "DeliveryDate",
    "DeliveryHour",
    "DeliveryInterval",
    "SettlementPointName",
    "SettlementPointType",
    "SettlementPointPrice",
    "DSTFlag",
)

# The power price bounds of the metric catalogue: ERCOT's system-wide offer cap is $5,000/MWh and
# real-time adders can add to it; prices far outside this band are a broken file, not a market event.
PRICE_MIN, PRICE_MAX = POWER_PRICE_BOUNDS

# A real NP6-905-CD CSV is ~60 kB (800-950 rows). Anything far larger is not one.
MAX_CSV_BYTES = 5_000_000

# Which SettlementPointType is "the" price of a hub or load zone. Load zones also appear with
# LZEW (energy weighted) under the same name, and DC-tie zones as LZ_DC/LZ_DCEW; hubs are HU
# except the two averages. Filtering on name alone would count LZ rows twice.
_HUB_AVERAGE_TYPES = {"HB_BUSAVG": "SH", "HB_HUBAVG": "AH"}


class SppCsvError(ValueError):
    """The document is not a usable NP6-905-CD file. The message says why in one line."""


@dataclass(frozen=True, slots=True)
class SppRow:
    point: str  # SettlementPointName, e.g. "HB_WEST"
    type: str  # SettlementPointType, e.g. "HU", "LZ", "LZEW", "RN"
    price: float  # USD/MWh
    interval_start_utc: datetime
    interval_end_utc: datetime
    dst_flag: bool  # True for the repeated (second) pass of the fall-back hour


def interval_bounds(
    delivery_date: date, hour: int, interval: int, dst_flag: bool
) -> tuple[datetime, datetime]:
    """The (start, end) of one 15-minute ERCOT interval as aware UTC datetimes.

    ``hour`` is ERCOT's hour ending (1-24), ``interval`` the quarter hour inside it (1-4) and
    ``dst_flag`` True for the repeated hour on the fall-back day. Raises ValueError for
    out-of-range numbers and for a DSTFlag "Y" on a time that is not repeated. Hour 3 of the
    spring-forward day (a start that does not exist) is read as gridstatus reads it (see above).
    """
    if isinstance(hour, bool) or not 1 <= hour <= 24:
        raise ValueError(f"DeliveryHour {hour!r} is outside 1-24")
    if isinstance(interval, bool) or not 1 <= interval <= 4:
        raise ValueError(f"DeliveryInterval {interval!r} is outside 1-4")
    wall = datetime(delivery_date.year, delivery_date.month, delivery_date.day) + timedelta(
        hours=hour - 1, minutes=15 * (interval - 1)
    )
    first = wall.replace(tzinfo=ERCOT_TZ, fold=0)
    second = wall.replace(tzinfo=ERCOT_TZ, fold=1)
    repeated = first.utcoffset() != second.utcoffset()
    # A wall time inside the spring-forward gap does not survive a round trip through UTC.
    in_gap = first.astimezone(UTC).astimezone(ERCOT_TZ).replace(tzinfo=None) != wall
    if dst_flag and (in_gap or not repeated):
        raise ValueError(f"DSTFlag is Y but {wall:%Y-%m-%d %H:%M} US/Central is not a repeated time")
    if in_gap:
        # ERCOT may label the hour 01:00-02:00 CST by the wall clock at its end (03:00 CDT): hour
        # ending 3, starting at a 02:xx that does not exist. gridstatus's parse_doc reads such a
        # label an hour later and shifts it back; so do we: 02:xx -> 03:xx CDT - 1 h = 01:xx CST.
        start = (wall + timedelta(hours=1)).replace(tzinfo=ERCOT_TZ).astimezone(UTC) - timedelta(hours=1)
    else:
        start = (second if dst_flag else first).astimezone(UTC)
    return start, start + INTERVAL


def _parse_date(raw: str) -> date:
    try:
        return datetime.strptime(raw.strip(), "%m/%d/%Y").date()
    except ValueError as err:
        raise ValueError(f"DeliveryDate {raw!r} is not MM/DD/YYYY") from err


def _parse_int(raw: str, column: str) -> int:
    text = raw.strip()
    if not text.isdigit():
        raise ValueError(f"{column} {raw!r} is not a whole number")
    return int(text)


def _parse_price(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError as err:
        raise ValueError(f"SettlementPointPrice {raw!r} is not a number") from err
    if not math.isfinite(value):
        raise ValueError(f"SettlementPointPrice {raw!r} is not finite")
    if not PRICE_MIN <= value <= PRICE_MAX:
        raise ValueError(f"SettlementPointPrice {value:g} is outside {PRICE_MIN:g}..{PRICE_MAX:g} USD/MWh")
    return value


def _parse_flag(raw: str) -> bool:
    flag = raw.strip().upper()
    if flag not in ("Y", "N"):
        raise ValueError(f"DSTFlag {raw!r} is neither Y nor N")
    return flag == "Y"


def parse_spp_csv(text: str) -> list[SppRow]:
    """Every row of one NP6-905-CD CSV, validated. The whole file is rejected with
    :class:`SppCsvError` (naming the line) if the header is not NP6-905-CD's or any row is
    malformed: a file with one bad price is not trusted for the others either."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise SppCsvError("the CSV is empty") from None
    names = [h.strip() for h in header]  # ERCOT once shipped "DSTFlag    " with trailing blanks
    missing = [col for col in HEADER if col not in names]
    if missing or len(set(names)) != len(names):
        shown = ",".join(names)[:120]
        raise SppCsvError(f"not an NP6-905-CD header (missing {', '.join(missing) or 'nothing'}): {shown!r}")
    idx = {col: names.index(col) for col in HEADER}
    rows: list[SppRow] = []
    for line_no, fields in enumerate(reader, start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(names):
            raise SppCsvError(f"line {line_no} has {len(fields)} fields, expected {len(names)}")
        try:
            dst = _parse_flag(fields[idx["DSTFlag"]])
            start, end = interval_bounds(
                _parse_date(fields[idx["DeliveryDate"]]),
                _parse_int(fields[idx["DeliveryHour"]], "DeliveryHour"),
                _parse_int(fields[idx["DeliveryInterval"]], "DeliveryInterval"),
                dst,
            )
            price = _parse_price(fields[idx["SettlementPointPrice"]])
        except ValueError as err:
            raise SppCsvError(f"line {line_no}: {err}") from err
        point = fields[idx["SettlementPointName"]].strip()
        kind = fields[idx["SettlementPointType"]].strip()
        if not point or not kind:
            raise SppCsvError(f"line {line_no}: empty SettlementPointName or SettlementPointType")
        rows.append(SppRow(point, kind, price, start, end, dst))
    if not rows:
        raise SppCsvError("the CSV has a header but no rows")
    return rows


def read_spp_zip(blob: bytes) -> list[SppRow]:
    """Unpack one NP6-905-CD download (a zip with exactly one CSV) and parse it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        kind = "an HTML page" if blob.lstrip()[:1] == b"<" else "not a zip file"
        raise SppCsvError(f"the download is {kind}") from err
    with archive:
        members = [i for i in archive.infolist() if i.filename.lower().endswith(".csv")]
        if len(members) != 1:
            raise SppCsvError(f"the zip holds {len(members)} CSV files, expected 1")
        member = members[0]
        if member.file_size > MAX_CSV_BYTES:
            raise SppCsvError(f"{member.filename} is {member.file_size} bytes, too large for NP6-905-CD")
        try:
            raw = archive.read(member)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as err:
            # bad CRC, truncated or encrypted member, unsupported compression
            raise SppCsvError(f"{member.filename} is corrupt: {err}") from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SppCsvError(f"{member.filename} is not UTF-8 text") from err
    return parse_spp_csv(text)


def expected_type(point: str) -> str | None:
    """The SettlementPointType that carries the price of ``point`` (None: any single row)."""
    if point in _HUB_AVERAGE_TYPES:
        return _HUB_AVERAGE_TYPES[point]
    if point.startswith("HB_"):
        return "HU"
    if point.startswith("LZ_"):
        return "LZ"
    return None


@dataclass(frozen=True, slots=True)
class IntervalPrices:
    """The configured points' prices for one interval of one file."""

    start_utc: datetime
    end_utc: datetime
    prices: dict[str, float]
    missing: list[str]  # configured points with no row in this interval


def select_points(rows: Iterable[SppRow], points: Sequence[str]) -> list[IntervalPrices]:
    """Pick the configured points out of a parsed file, one entry per interval in it (a real
    file holds one interval), oldest first. Filters on name AND type; two rows for the same
    point, type and interval are a broken file (SppCsvError)."""
    wanted = set(points)
    by_interval: dict[datetime, tuple[datetime, dict[str, SppRow]]] = {}
    for row in rows:
        if row.point not in wanted:
            continue
        kind = expected_type(row.point)
        if kind is not None and row.type != kind:
            continue  # LZEW / LZ_DC / LZ_DCEW twins of a load zone, and the like
        end, chosen = by_interval.setdefault(row.interval_start_utc, (row.interval_end_utc, {}))
        if row.point in chosen:
            at = row.interval_start_utc.isoformat()
            raise SppCsvError(f"{row.point} ({row.type}) appears twice for the interval starting {at}")
        chosen[row.point] = row
    if not by_interval:
        raise SppCsvError(f"none of the configured points ({', '.join(points)}) is in the file")
    out = []
    for start in sorted(by_interval):
        end, chosen = by_interval[start]
        prices = {p: chosen[p].price for p in points if p in chosen}
        out.append(IntervalPrices(start, end, prices, [p for p in points if p not in chosen]))
    return out
