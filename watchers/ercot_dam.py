"""ERCOT day-ahead prices (NP4-190-CD, "DAM Settlement Point Prices"), issue 16.

Data path (keyless, the MIS listing the real-time watcher reads, report type 12331)::

    GET {base_url}/misapp/servlets/IceDocListJsonWS?reportTypeId=12331     listing JSON
    GET {base_url}/misdownload/servlets/mirDownload?doclookupId=<DocID>    zip with one CSV

One CSV per operating day: ``DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag``
with ``HourEnding`` "01:00".."24:00" in Central Prevailing Time and ``DSTFlag`` "Y" on the repeated
hour of the autumn change (grid-risk-sources.md §3; the header as third-party parsers document it).

Politeness: ERCOT publishes tomorrow's prices once a day, early in the afternoon. The watcher asks
nothing while it holds today's and tomorrow's prices; from ``publish_after`` (CPT) until tomorrow's
appear it reads the listing once per poll and downloads only a document it has not read. Back-off
on 429/503 as the grid watcher. Requests do not depend on the number of chats.

Emits ``dam.<point>`` (USD/MWh): the day-ahead price of the current hour, for each configured point,
and, once per operating day, a ``dam`` event with tomorrow's hourly prices (chats with ``curtail
tomorrow`` get their own plan from it: hours above their breakeven).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import zipfile
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rules.catalogue import POWER_PRICE_BOUNDS
from rules.data import Event, Observation
from rules.durations import Duration
from rules.fourcp import CPT
from watchers.base import PollContext, PollResult, SourceError, fetch_bytes, fetch_json
from watchers.ercot import DOWNLOAD_PATH, LISTING_PATH, ErcotSourceConfig, PowerWatcherConfig, parse_listing
from watchers.ercot_csv import interval_bounds

logger = logging.getLogger(__name__)

SOURCE = "ercot"
REPORT_TYPE_ID = "12331"  # NP4-190-CD
HEADER = ("DeliveryDate", "HourEnding", "SettlementPoint", "SettlementPointPrice", "DSTFlag")
MAX_LISTING_BYTES = 16 * 1024 * 1024
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_CSV_BYTES = 20_000_000  # a whole day of every settlement point is a few MB
MAX_DOWNLOADS = 2  # per poll: today's and tomorrow's
BACKOFF_S = 600.0
MAX_BACKOFF_S = 7200.0
DEFAULT_POINTS = ("HB_NORTH", "HB_WEST", "HB_SOUTH", "HB_HOUSTON", "HB_PAN")


class DamWatcherConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    every: Duration = 900  # while tomorrow's prices are awaited; nothing is asked otherwise
    points: list[str] = Field(default_factory=lambda: list(DEFAULT_POINTS))
    # ERCOT posts the DAM early in the afternoon (~13:30 CPT, unverified): the listing is not read before.
    publish_after: str = "12:00"

    @field_validator("points")
    @classmethod
    def _check_points(cls, value: list[str]) -> list[str]:
        # the same names as the real-time watcher's: upper case, usable in dam.<point>
        return PowerWatcherConfig(points=value).points

    @field_validator("publish_after")
    @classmethod
    def _check_time(cls, value: str) -> str:
        try:
            return time.fromisoformat(value.strip()).strftime("%H:%M")
        except ValueError as err:
            raise ValueError('write a Central time like "12:00"') from err


class DamCsvError(ValueError):
    """Not a usable NP4-190-CD file; the message says why in one line."""


def parse_dam_csv(text: str, points: Sequence[str]) -> tuple[date, dict[str, dict[str, float]]]:
    """(operating day, point -> {hour start UTC ISO -> USD/MWh}) for the wanted points. The whole
    file is rejected on a wrong header, a malformed row, two operating days or a duplicate hour."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        names = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DamCsvError("the CSV is empty") from None
    missing = [c for c in HEADER if c not in names]
    if missing:
        raise DamCsvError(f"not an NP4-190-CD header (missing {', '.join(missing)})")
    idx = {c: names.index(c) for c in HEADER}
    wanted = set(points)
    days: set[date] = set()
    out: dict[str, dict[str, float]] = {}
    for line_no, fields in enumerate(reader, start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(names):
            raise DamCsvError(f"line {line_no} has {len(fields)} fields, expected {len(names)}")
        try:
            day = datetime.strptime(fields[idx["DeliveryDate"]].strip(), "%m/%d/%Y").date()
            he_text = fields[idx["HourEnding"]].strip()
            hour, _, minute = he_text.partition(":")
            if not hour.isdigit() or minute not in ("00", ""):
                raise ValueError(f"HourEnding {he_text!r} is not HH:00")
            flag = fields[idx["DSTFlag"]].strip().upper()
            if flag not in ("Y", "N"):
                raise ValueError(f"DSTFlag {flag!r} is neither Y nor N")
            start, _ = interval_bounds(day, int(hour), 1, flag == "Y")
            price = float(fields[idx["SettlementPointPrice"]].strip())
        except ValueError as err:
            raise DamCsvError(f"line {line_no}: {err}") from err
        if not math.isfinite(price) or not POWER_PRICE_BOUNDS[0] <= price <= POWER_PRICE_BOUNDS[1]:
            raise DamCsvError(f"line {line_no}: price {price:g} is outside the plausible range")
        days.add(day)
        point = fields[idx["SettlementPoint"]].strip()
        if point not in wanted:
            continue
        hours = out.setdefault(point, {})
        key = start.isoformat()
        if key in hours:
            raise DamCsvError(f"line {line_no}: {point} has two prices for the hour starting {key}")
        hours[key] = price
    if len(days) != 1:
        raise DamCsvError(f"the file covers {len(days)} operating days, expected 1")
    if not out:
        raise DamCsvError(f"none of the configured points ({', '.join(points)}) is in the file")
    return days.pop(), out


def read_dam_zip(blob: bytes, points: Sequence[str]) -> tuple[date, dict[str, dict[str, float]]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        kind = "an HTML page" if blob.lstrip()[:1] == b"<" else "not a zip file"
        raise DamCsvError(f"the download is {kind}") from err
    with archive:
        members = [i for i in archive.infolist() if i.filename.lower().endswith(".csv")]
        if len(members) != 1:
            raise DamCsvError(f"the zip holds {len(members)} CSV files, expected 1")
        if members[0].file_size > MAX_CSV_BYTES:
            raise DamCsvError("the CSV is too large to be one operating day")
        try:
            text = archive.read(members[0]).decode("utf-8-sig")
        except (zipfile.BadZipFile, OSError, UnicodeDecodeError, RuntimeError) as err:
            raise DamCsvError(f"{members[0].filename} is unreadable: {err}") from err
    return parse_dam_csv(text, points)


class DamWatcher:
    """Implements :class:`watchers.base.Watcher` for ERCOT's day-ahead prices."""

    id = "dam"

    def __init__(self, cfg: DamWatcherConfig, source: ErcotSourceConfig) -> None:
        self.cfg = cfg
        self.source = source
        self.publish_after = time.fromisoformat(cfg.publish_after)
        self._backoff_until: datetime | None = None
        self._strikes = 0

    async def _get(self, ctx: PollContext, path: str, params: dict[str, str], json_: bool) -> Any:
        if self._backoff_until is not None and ctx.now < self._backoff_until:
            raise SourceError(
                SOURCE, f"standing back after HTTP 429/503 until {self._backoff_until:%H:%M} UTC"
            )
        try:
            if json_:
                result: Any = await fetch_json(
                    ctx.session, self.source.base_url + path, source=SOURCE, params=params,
                    timeout_s=self.source.timeout_s, max_bytes=MAX_LISTING_BYTES,
                )  # fmt: skip
            else:
                _, result = await fetch_bytes(
                    ctx.session, self.source.base_url + path, source=SOURCE, params=params,
                    timeout_s=self.source.timeout_s, max_bytes=MAX_DOCUMENT_BYTES,
                )  # fmt: skip
        except SourceError as err:
            if err.message.startswith(("HTTP 429", "HTTP 503")):
                self._strikes += 1
                wait = max(err.retry_after_s or 0.0, min(MAX_BACKOFF_S, BACKOFF_S * 2 ** (self._strikes - 1)))
                self._backoff_until = ctx.now + timedelta(seconds=wait)
            raise
        self._strikes, self._backoff_until = 0, None
        return result

    def _wanted(self, state: dict[str, Any], now: datetime) -> set[str]:
        local = now.astimezone(CPT)
        today, tomorrow = local.date(), local.date() + timedelta(days=1)
        days = state.get("days", {})
        want = set()
        if today.isoformat() not in days:
            want.add(today.isoformat())
        if local.time() >= self.publish_after and tomorrow.isoformat() not in days:
            want.add(tomorrow.isoformat())
        return want

    async def poll(self, ctx: PollContext) -> PollResult:
        state: dict[str, Any] = {
            "days": dict(ctx.state.get("days") or {}),
            "seen": list(ctx.state.get("seen") or []),
        }
        local = ctx.now.astimezone(CPT)
        today, tomorrow = local.date(), local.date() + timedelta(days=1)
        errors: dict[str, str] = {}
        events: list[Event] = []
        want = self._wanted(state, ctx.now)
        if want:
            listing = await self._get(ctx, LISTING_PATH, {"reportTypeId": REPORT_TYPE_ID}, True)
            docs = [d for d in parse_listing(listing) if not d.is_xml and d.doc_id not in state["seen"]]
            downloads = 0
            for doc in docs:
                if downloads >= MAX_DOWNLOADS or not want:
                    break
                downloads += 1
                blob = await self._get(ctx, DOWNLOAD_PATH, {"doclookupId": doc.doc_id}, False)
                try:
                    day, prices = read_dam_zip(blob, self.cfg.points)
                except DamCsvError as err:
                    errors[SOURCE] = f"{doc.label} rejected: {err}"
                    continue
                state["seen"] = [*state["seen"], doc.doc_id][-20:]
                if day.isoformat() not in want:
                    continue  # an older day, or one already held
                want.discard(day.isoformat())
                state["days"][day.isoformat()] = prices
                if day == tomorrow:
                    events.append(
                        Event(
                            "dam",
                            f"dam:{day.isoformat()}",
                            ctx.now,
                            SOURCE,
                            {"day": day.isoformat(), "prices": prices},
                        )
                    )
        # only today's and tomorrow's prices are kept
        state["days"] = {
            d: v for d, v in state["days"].items() if d in (today.isoformat(), tomorrow.isoformat())
        }
        observations = []
        hour = datetime.fromtimestamp(ctx.now.timestamp() // 3600 * 3600, UTC).isoformat()
        for point, hours in state["days"].get(today.isoformat(), {}).items():
            if hour in hours:
                observations.append(Observation(f"dam.{point.lower()}", hours[hour], ctx.now, SOURCE))
        if not observations and not events and today.isoformat() not in state["days"]:
            raise SourceError(
                SOURCE, "; ".join(errors.values()) or "no day-ahead prices for today in the listing"
            )
        ctx.state.clear()
        ctx.state.update(state)
        return PollResult(observations=observations, events=events, errors=errors)
