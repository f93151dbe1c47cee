"""Power prices: ERCOT real-time settlement point prices (NP6-905-CD), GitHub issue #4.

Data path (keyless, what gridstatus uses; data-sources.md §5.1)::

    GET {base_url}/misapp/servlets/IceDocListJsonWS?reportTypeId=12301      listing JSON
    GET {base_url}/misdownload/servlets/mirDownload?doclookupId=<DocID>     zip with one CSV

ERCOT publishes one document per 15-minute interval (plus ``_retry_`` re-publications and an XML
twin of each). Each poll reads the listing once and downloads only CSV documents it has not seen:
the 4 newest on the very first poll (so ``avg1h`` exists at once), afterwards only documents
published since the newest one already processed, at most 8 per poll (two hours of catch-up after
an outage; older gaps are not back-filled). ERCOT asks for at most three queries per publication
interval, hence the 5-minute default.

Publication times: ERCOT's UTC offset in ``PublishDate`` is wrong in summer (-06:00, gridstatus PR
#468), so the wall-clock time is read as America/Chicago, the repeated autumn hour's second pass told
by ERCOT's ``xhr`` file-name marker; around a clock change the cursor also looks 75 minutes back, so
a repeated-hour document without the marker is read too (the seen DocIDs prevent double reads).

Emitted metrics, all USD/MWh, all stamped with the END of the newest interval (the moment its
price is final), in UTC:

* ``power.<point>``          price of the newest interval
* ``power.<point>.avg1h``    mean of the last 4 intervals (needs at least 3 of them)
* ``power.<point>.avg24h``   mean of the last 96 intervals (needs at least 88: 22 of 24 hours)
* ``power.<point>.max24h``   highest of those intervals (same coverage rule)

A retry/correction file for an interval replaces that interval's prices; intervals are keyed by
their start, so nothing is counted twice. The rolling window (at most 96 intervals × configured
points) lives in ``ctx.state`` and so survives restarts.
"""

from __future__ import annotations

import copy
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rules.catalogue import MAX_CLOCK_SKEW_S
from rules.data import Observation
from rules.durations import Duration
from watchers.base import PollContext, PollResult, SourceError, fetch_bytes, fetch_json
from watchers.ercot_csv import ERCOT_TZ, IntervalPrices, SppCsvError, read_spp_zip, select_points

logger = logging.getLogger(__name__)

SOURCE = "ercot"
REPORT_TYPE_ID = "12301"  # NP6-905-CD, real-time settlement point prices, 15-minute intervals
LISTING_PATH = "/misapp/servlets/IceDocListJsonWS"
DOWNLOAD_PATH = "/misdownload/servlets/mirDownload"

# Largest answers read: the listing (a few days of documents, ~2 MB at most) and one zipped CSV
# (a real one is ~10 kB; ercot_csv refuses a CSV over 5 MB anyway).
MAX_LISTING_BYTES = 16 * 1024 * 1024
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
FIRST_POLL_DOCS = 4  # documents fetched when there is no state yet
MAX_DOCS_PER_POLL = 8  # catch-up cap after an outage; never hundreds of files
WINDOW = timedelta(hours=24)  # 96 intervals
HOUR = timedelta(hours=1)  # 4 intervals
MIN_INTERVALS_1H = 3
MIN_INTERVALS_24H = 88
STALE_AFTER = timedelta(hours=1)  # newest interval older than this: the source is stale
SEEN_KEEP = timedelta(hours=25)
# Around a clock change the cursor also looks this far back: the hour a publication time can be
# misread by (a repeated-hour document without ERCOT's xhr marker), plus one interval.
CLOCK_CHANGE_SLACK = timedelta(minutes=75)
MAX_SEEN = 400
STATE_VERSION = 1

DEFAULT_POINTS = (
    "HB_NORTH",
    "HB_WEST",
    "HB_SOUTH",
    "HB_HOUSTON",
    "HB_PAN",
    "LZ_WEST",
    "LZ_NORTH",
    "LZ_SOUTH",
    "LZ_HOUSTON",
)
# Upper-case settlement point names; lower-cased they must fit the metric grammar power.<point>.
_POINT_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_DOC_ID = re.compile(r"^\d{1,20}$")


class ErcotSourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://www.ercot.com"
    timeout_s: float = Field(default=30.0, gt=0, le=300)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError(f"{value!r} is not an http(s) URL like https://www.ercot.com")
        return url


class PowerWatcherConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Off by default: ERCOT prices matter to miners in Texas; they turn it on.
    enabled: bool = False
    # "5m": ERCOT allows at most three queries per publication interval (15 min). Shorter values
    # are accepted for tests and private mirrors.
    every: Duration = 300
    # ERCOT settlement point names: hubs (HB_*) and load zones (LZ_*); resource nodes work too.
    points: list[str] = Field(default_factory=lambda: list(DEFAULT_POINTS))

    @field_validator("points")
    @classmethod
    def _check_points(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for raw in value:
            name = raw.strip().upper()
            if not _POINT_NAME.match(name):
                raise ValueError(f"{raw!r} is not an ERCOT settlement point name like HB_WEST or LZ_HOUSTON")
            if name in out:
                raise ValueError(f"{name} is listed twice")
            out.append(name)
        if not out:
            raise ValueError('list at least one settlement point, e.g. ["HB_WEST"]')
        return out


@dataclass(frozen=True, slots=True)
class ListedDocument:
    """One entry of the IceDocListJsonWS listing."""

    doc_id: str
    friendly_name: str
    constructed_name: str
    published: datetime  # aware UTC
    retry: bool  # a ``_retry_`` re-publication: replaces the earlier file for its interval

    @property
    def is_xml(self) -> bool:
        # ERCOT lists an XML twin of every CSV document; only the CSV is read.
        return self.constructed_name.lower().endswith("xml.zip") or self.friendly_name.lower().endswith(
            "_xml"
        )

    @property
    def label(self) -> str:
        return f"document {self.doc_id} ({self.friendly_name or self.constructed_name or '?'})"


def _parse_publish_date(raw: Any, names: str) -> datetime:
    """A listing's PublishDate in UTC. ERCOT's UTC offset is not trusted: gridstatus's maintainers
    found it sends -06:00 even in summer (gridstatus PR #468; grid-risk-sources.md §5), so the wall-
    clock time is read as America/Chicago, as gridstatus's ``Ercot._get_documents`` does. In the
    repeated hour of the autumn change ERCOT marks the second pass with ``xhr`` in the file names;
    without the marker the first pass (CDT) is taken. A time in the spring gap cannot really occur
    and is read with the offset before the change (it lands an hour later)."""
    if not isinstance(raw, str):
        raise ValueError(f"PublishDate {raw!r} is not a string")
    try:
        wall = datetime.fromisoformat(raw.strip()).replace(tzinfo=None)
    except ValueError as err:
        raise ValueError(f"PublishDate {raw!r} is not an ISO time") from err
    second_pass = "xhr" in names.lower()
    return wall.replace(tzinfo=ERCOT_TZ, fold=1 if second_pass else 0).astimezone(UTC)


def parse_listing(payload: Any) -> list[ListedDocument]:
    """The documents of an IceDocListJsonWS answer, newest first. ``DocumentList`` may be a single
    object instead of a list when there is one document. Entries without a usable DocID or
    PublishDate are skipped (logged); a listing with none left is a SourceError."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("ListDocsByRptTypeRes"), Mapping):
        raise SourceError(SOURCE, "listing has no ListDocsByRptTypeRes object")
    entries = payload["ListDocsByRptTypeRes"].get("DocumentList")
    if isinstance(entries, Mapping):
        entries = [entries]
    if not isinstance(entries, list) or not entries:
        raise SourceError(SOURCE, "listing has no documents")
    docs: dict[str, ListedDocument] = {}
    for entry in entries:
        doc = entry.get("Document") if isinstance(entry, Mapping) else None
        if not isinstance(doc, Mapping):
            logger.warning("ercot: listing entry without a Document object skipped")
            continue
        doc_id = str(doc.get("DocID", "")).strip()
        friendly = str(doc.get("FriendlyName") or "")
        constructed = str(doc.get("ConstructedName") or "")
        try:
            if not _DOC_ID.match(doc_id):
                raise ValueError(f"DocID {doc.get('DocID')!r} is not a number")
            published = _parse_publish_date(doc.get("PublishDate"), f"{friendly} {constructed}")
        except ValueError as err:
            logger.warning("ercot: listing entry %s skipped: %s", friendly or constructed, err)
            continue
        retry = "_retry" in friendly.lower() or "_retry" in constructed.lower()
        docs[doc_id] = ListedDocument(doc_id, friendly, constructed, published, retry)
    if not docs:
        raise SourceError(SOURCE, "listing has no usable documents (no DocID/PublishDate)")
    return sorted(docs.values(), key=lambda d: (d.published, d.retry, d.doc_id), reverse=True)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _fresh_state() -> dict[str, Any]:
    return {"version": STATE_VERSION, "cursor": None, "seen": {}, "intervals": {}}


def _load_state(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A private, validated copy of the persisted state; anything unreadable starts afresh (the
    worst case is re-fetching the first few documents)."""
    if not raw:
        return _fresh_state()
    try:
        state = copy.deepcopy(dict(raw))
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"state version {state.get('version')!r}")
        if state["cursor"] is not None:
            datetime.fromisoformat(state["cursor"])
        if not isinstance(state["seen"], dict) or not isinstance(state["intervals"], dict):
            raise ValueError("seen/intervals are not objects")
        for start, entry in state["intervals"].items():
            datetime.fromisoformat(start)
            datetime.fromisoformat(entry["end"])
            datetime.fromisoformat(entry["published"])
            if not isinstance(entry["retry"], bool) or not isinstance(entry["prices"], dict):
                raise ValueError("interval entry malformed")
            for value in entry["prices"].values():
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise ValueError("price is not a finite number")
        return state
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        logger.warning("ercot: stored power state unreadable (%s); starting afresh", err)
        return _fresh_state()


class PowerWatcher:
    """Implements :class:`watchers.base.Watcher` for ERCOT real-time prices."""

    id = "power"

    def __init__(self, cfg: PowerWatcherConfig, source: ErcotSourceConfig) -> None:
        self.cfg = cfg
        self.source = source

    async def poll(self, ctx: PollContext) -> PollResult:
        state = _load_state(ctx.state)
        payload = await fetch_json(
            ctx.session,
            self.source.base_url + LISTING_PATH,
            source=SOURCE,
            params={"reportTypeId": REPORT_TYPE_ID},
            timeout_s=self.source.timeout_s,
            max_bytes=MAX_LISTING_BYTES,
        )
        docs = [d for d in parse_listing(payload) if not d.is_xml]
        if not docs:
            raise SourceError(SOURCE, "listing has no CSV documents")

        errors: list[str] = []
        retry_after: float | None = None  # from a failed download, handed on if the poll fails
        for doc in self._to_download(docs, state):
            try:
                _, blob = await fetch_bytes(
                    ctx.session,
                    self.source.base_url + DOWNLOAD_PATH,
                    source=SOURCE,
                    params={"doclookupId": doc.doc_id},
                    timeout_s=self.source.timeout_s,
                    max_bytes=MAX_DOCUMENT_BYTES,
                )
            except SourceError as err:
                # Stop here: hammering a failing server is impolite. Not marked seen, so it is
                # tried again next poll unless a newer document has been read by then.
                errors.append(f"{doc.label}: download failed: {err.message}")
                retry_after = err.retry_after_s
                break
            try:
                intervals = select_points(read_spp_zip(blob), self.cfg.points)
            except SppCsvError as err:
                logger.warning("ercot: %s rejected: %s", doc.label, err)
                errors.append(f"{doc.label} rejected: {err}")
                continue
            future = [f for f in intervals if (f.end_utc - ctx.now).total_seconds() > MAX_CLOCK_SKEW_S]
            if future:
                # A price "for 2100" is a broken file, never the current price: rejected whole,
                # and not marked seen, like any other rejected document.
                errors.append(
                    f"{doc.label} rejected: interval ending {_iso(future[0].end_utc)} is in the future"
                )
                continue
            for found in intervals:
                if found.missing:
                    errors.append(f"{doc.label}: no price for {', '.join(found.missing)}")
                _merge(state, doc, found)
            _mark_seen(state, doc)

        _prune(state)
        if not state["intervals"]:
            message = "; ".join(errors) if errors else "no usable price document"
            raise SourceError(SOURCE, message, retry_after_s=retry_after)
        latest_start = max(state["intervals"], key=datetime.fromisoformat)
        latest_end = datetime.fromisoformat(state["intervals"][latest_start]["end"])
        if latest_end < ctx.now - STALE_AFTER:
            detail = f"; {'; '.join(errors)}" if errors else ""
            raise SourceError(
                SOURCE,
                f"newest real-time price is for the interval ending {_iso(latest_end)}{detail}",
                retry_after_s=retry_after,
            )

        observations = self._observations(state, latest_start, latest_end)
        ctx.state.clear()
        ctx.state.update(state)
        return PollResult(observations=observations, errors={SOURCE: "; ".join(errors)} if errors else {})

    def _to_download(self, docs: list[ListedDocument], state: dict[str, Any]) -> list[ListedDocument]:
        """Newest first: the first poll takes the 4 newest documents, later polls the unseen ones
        published since the newest document already read, capped at MAX_DOCS_PER_POLL."""
        if state["cursor"] is None:
            return docs[:FIRST_POLL_DOCS]
        floor = _cursor_floor(datetime.fromisoformat(state["cursor"]))
        fresh = [d for d in docs if d.published >= floor and d.doc_id not in state["seen"]]
        if len(fresh) > MAX_DOCS_PER_POLL:
            logger.info(
                "ercot: %d new documents, reading the newest %d (older ones are not back-filled)",
                len(fresh),
                MAX_DOCS_PER_POLL,
            )
        return fresh[:MAX_DOCS_PER_POLL]

    def _observations(self, state: dict[str, Any], latest_key: str, at: datetime) -> list[Observation]:
        latest = datetime.fromisoformat(latest_key)
        latest_prices = state["intervals"][latest_key]["prices"]
        window = [
            (datetime.fromisoformat(start), entry["prices"]) for start, entry in state["intervals"].items()
        ]
        out: list[Observation] = []
        for point in self.cfg.points:
            if point not in latest_prices:
                continue
            metric = f"power.{point.lower()}"
            out.append(Observation(metric, float(latest_prices[point]), at, SOURCE))
            last_hour = [float(p[point]) for s, p in window if s > latest - HOUR and point in p]
            if len(last_hour) >= MIN_INTERVALS_1H:
                out.append(Observation(f"{metric}.avg1h", sum(last_hour) / len(last_hour), at, SOURCE))
            last_day = [float(p[point]) for s, p in window if s > latest - WINDOW and point in p]
            if len(last_day) >= MIN_INTERVALS_24H:
                out.append(Observation(f"{metric}.avg24h", sum(last_day) / len(last_day), at, SOURCE))
                out.append(Observation(f"{metric}.max24h", max(last_day), at, SOURCE))
        return out


def _cursor_floor(cursor: datetime) -> datetime:
    """Documents published before this are not downloaded (no back-fill of old gaps). It is the
    cursor itself, except within CLOCK_CHANGE_SLACK of a clock change: a document of the repeated
    hour whose names lack ERCOT's ``xhr`` marker is read an hour early, and must still be read."""
    before = (cursor - CLOCK_CHANGE_SLACK).astimezone(ERCOT_TZ).utcoffset()
    after = (cursor + CLOCK_CHANGE_SLACK).astimezone(ERCOT_TZ).utcoffset()
    return cursor if before == after else cursor - CLOCK_CHANGE_SLACK


def _merge(state: dict[str, Any], doc: ListedDocument, found: IntervalPrices) -> None:
    """Store one interval's prices. A retry file beats an original, and among equals the later
    publication wins, whatever order they were downloaded in: a correction replaces, never adds."""
    key = _iso(found.start_utc)
    old = state["intervals"].get(key)
    if old is not None:
        rank_old = (old["retry"], datetime.fromisoformat(old["published"]))
        if (doc.retry, doc.published) < rank_old:
            logger.info("ercot: %s is older than the stored file for %s; ignored", doc.label, key)
            return
    state["intervals"][key] = {
        "end": _iso(found.end_utc),
        "doc": doc.doc_id,
        "retry": doc.retry,
        "published": _iso(doc.published),
        "prices": dict(found.prices),
    }


def _mark_seen(state: dict[str, Any], doc: ListedDocument) -> None:
    state["seen"][doc.doc_id] = _iso(doc.published)
    cursor = state["cursor"]
    if cursor is None or doc.published > datetime.fromisoformat(cursor):
        state["cursor"] = _iso(doc.published)


def _prune(state: dict[str, Any]) -> None:
    """Keep the 24 h window (≤ 96 intervals) behind the newest interval, and the seen DocIDs of
    the last 25 h of publications (≤ MAX_SEEN)."""
    intervals = state["intervals"]
    if intervals:
        latest = max(datetime.fromisoformat(k) for k in intervals)
        for key in [k for k in intervals if datetime.fromisoformat(k) <= latest - WINDOW]:
            del intervals[key]
    if state["cursor"] is not None:
        horizon = datetime.fromisoformat(state["cursor"]) - SEEN_KEEP
        seen = {k: v for k, v in state["seen"].items() if datetime.fromisoformat(v) >= horizon}
        newest = sorted(seen.items(), key=lambda kv: datetime.fromisoformat(kv[1]), reverse=True)[:MAX_SEEN]
        state["seen"] = dict(newest)
