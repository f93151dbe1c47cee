"""mempool.space (or a self-hosted mempool instance): difficulty epoch, difficulty, hashrate,
tip height, recent fees and the BTC/USD price.

Every function here fetches one endpoint through the shared helpers of :mod:`watchers.base` and
validates what came back; anything unexpected is a :class:`SourceError` naming ``"mempool"``.
Endpoints, units and pitfalls: ``/work/shared/reference/data-sources.md`` §1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from rules.catalogue import MAX_CLOCK_SKEW_S
from rules.durations import Duration
from watchers.base import SourceError, fetch_json, fetch_text, require_number

SOURCE = "mempool"
# The largest mempool answer we read: the year of daily hashrates for the backfill is ~30 kB, every
# other endpoint well under 10 kB. A bigger body is garbage (or an attack), refused unread.
MAX_BYTES = 1024 * 1024
EPOCH_BLOCKS = 2016
MAX_HEIGHT_DIGITS = 9  # block 1e9 is ~19,000 years away
# The protocol clamps a retarget to x1/4..x4; mempool clamps its projection the same way (so does
# the node path), so a value outside is garbage. Mainnet never came near, testnet and signet do.
RETARGET_MIN_PCT, RETARGET_MAX_PCT = -75.0, 300.0
# estimatedRetargetDate is "now + remaining blocks x average interval": allow for the average
# interval being up to 4x the 10-minute target, plus a day of clock skew either side.
_MAX_ETA_AHEAD_S = EPOCH_BLOCKS * 2400 + 86400
_MAX_ETA_BEHIND_S = 86400
_LAST_DATETIME_S = 253402300800  # 10000-01-01: datetime cannot show a later time


class MempoolSourceConfig(BaseModel):
    """Where the mempool REST API lives. A self-hosted instance exposes the same paths."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://mempool.space"
    timeout_s: float = Field(default=20.0, gt=0)
    # /api/v1/prices keeps serving the last good prices when its feeds fail: older than this is stale.
    # mempool.space updates 12x/hour; a self-hosted instance defaults to once an hour.
    price_max_age: Duration = 7200
    # Follow new blocks over mempool's WebSocket (``/api/v1/ws``, watchers/mempool_ws.py) and poll
    # at once when one arrives. Unset (None) means on whenever the network watcher lists "mempool"
    # in its sources: every mempool instance, mempool.space or self-hosted, serves the socket on
    # the same host and path prefix as its REST API. false turns it off.
    websocket: bool | None = None


def _url(cfg: MempoolSourceConfig, path: str) -> str:
    return cfg.base_url.rstrip("/") + path


@dataclass(frozen=True, slots=True)
class EpochInfo:
    """The current difficulty epoch, in our units (percent, blocks, unix seconds)."""

    progress_pct: float  # share of the 2016-block epoch already mined, 0..100
    next_change_pct: float  # projected change at the next retarget
    blocks_left: int  # blocks to the next retarget (1..2016)
    retarget_eta_s: float  # unix seconds of the projected retarget
    last_change_pct: float  # change applied at the last retarget
    next_retarget_height: int


def _require_int(payload: Mapping[str, Any], key: str, *, source: str) -> int:
    value = require_number(payload, key, source=source)
    if value != int(value):
        raise SourceError(source, f"field {key!r} is {value!r}, not a whole number")
    return int(value)


def parse_difficulty_adjustment(payload: Any, *, now: datetime, source: str = SOURCE) -> EpochInfo:
    """Validate a ``/api/v1/difficulty-adjustment`` object.

    ``estimatedRetargetDate`` is in **milliseconds** (``previousTime`` in the same object is in
    seconds); it is converted to seconds and must lie between a day before ``now`` and one
    slow epoch after it, which also rejects the stale docs example that holds seconds there.
    """
    if not isinstance(payload, Mapping):
        raise SourceError(source, f"difficulty-adjustment is a {type(payload).__name__}, not an object")
    progress = require_number(payload, "progressPercent", source=source)
    change = require_number(payload, "difficultyChange", source=source)
    eta_ms = require_number(payload, "estimatedRetargetDate", source=source)
    remaining = _require_int(payload, "remainingBlocks", source=source)
    previous = require_number(payload, "previousRetarget", source=source)
    next_height = _require_int(payload, "nextRetargetHeight", source=source)

    if not 0.0 <= progress <= 100.0:
        raise SourceError(source, f"progressPercent {progress:g} is outside 0..100")
    if not 1 <= remaining <= EPOCH_BLOCKS:
        raise SourceError(source, f"remainingBlocks {remaining} is outside 1..{EPOCH_BLOCKS}")
    if next_height <= 0 or next_height % EPOCH_BLOCKS:
        raise SourceError(source, f"nextRetargetHeight {next_height} is not a retarget height")
    if not RETARGET_MIN_PCT <= change <= RETARGET_MAX_PCT:
        raise SourceError(source, f"difficultyChange {change:+.2f}% is outside the protocol's -75%..+300%")
    # testnet3's 20-minute rule really produced +255.6 % (difficulty-adjustment.testnet3-2024-12.json).
    if not RETARGET_MIN_PCT <= previous <= RETARGET_MAX_PCT:
        raise SourceError(source, f"previousRetarget {previous:+.2f}% is outside the protocol's -75%..+300%")
    eta_s = eta_ms / 1000.0
    now_s = now.timestamp()
    if not now_s - _MAX_ETA_BEHIND_S <= eta_s <= now_s + _MAX_ETA_AHEAD_S:
        raise SourceError(
            source,
            f"estimatedRetargetDate {eta_ms:.0f} is not a millisecond timestamp within the next epoch",
        )
    return EpochInfo(
        progress_pct=progress,
        next_change_pct=change,
        blocks_left=remaining,
        retarget_eta_s=eta_s,
        last_change_pct=previous,
        next_retarget_height=next_height,
    )


async def fetch_difficulty_adjustment(
    session: aiohttp.ClientSession, cfg: MempoolSourceConfig, *, now: datetime
) -> EpochInfo:
    payload = await fetch_json(
        session,
        _url(cfg, "/api/v1/difficulty-adjustment"),
        source=SOURCE,
        timeout_s=cfg.timeout_s,
        max_bytes=MAX_BYTES,
    )
    return parse_difficulty_adjustment(payload, now=now)


async def fetch_hashrate_3d(session: aiohttp.ClientSession, cfg: MempoolSourceConfig) -> Mapping[str, Any]:
    """``/api/v1/mining/hashrate/3d``, undecoded beyond JSON: its two fields are read one by one
    with :func:`hashrate_field`, so a garbage difficulty does not cost the hashrate too."""
    payload = await fetch_json(
        session,
        _url(cfg, "/api/v1/mining/hashrate/3d"),
        source=SOURCE,
        timeout_s=cfg.timeout_s,
        max_bytes=MAX_BYTES,
    )
    if not isinstance(payload, Mapping):
        raise SourceError(SOURCE, f"hashrate/3d is a {type(payload).__name__}, not an object")
    return payload


def hashrate_field(payload: Mapping[str, Any], key: str) -> float:
    """``currentDifficulty`` (raw) or ``currentHashrate`` (H/s) of a hashrate/3d answer.

    Both are 0, not missing, when mempool's own Bitcoin Core is unreachable; the caller treats
    0 as unknown. Large hashrates arrive as long integers or in exponent form: read as float."""
    value = require_number(payload, key, source=SOURCE)
    if value < 0:
        raise SourceError(SOURCE, f"{key} {value:g} is negative")
    return value


async def fetch_tip_height(session: aiohttp.ClientSession, cfg: MempoolSourceConfig) -> int:
    """``/api/blocks/tip/height``: a plain-text integer, no newline."""
    text = (
        await fetch_text(
            session,
            _url(cfg, "/api/blocks/tip/height"),
            source=SOURCE,
            timeout_s=cfg.timeout_s,
            max_bytes=MAX_BYTES,
        )
    ).strip()
    if not (text.isascii() and text.isdigit()):  # "²".isdigit() is True, int("²") raises
        shown = "an HTML page" if text.startswith("<") else repr(text[:40])
        raise SourceError(SOURCE, f"tip height is {shown}, not a whole number")
    if len(text) > MAX_HEIGHT_DIGITS:  # int() of 4,300+ digits raises outside any SourceError
        raise SourceError(SOURCE, f"tip height is a {len(text)}-digit number, not a block height")
    height = int(text)
    if height <= 0:
        raise SourceError(SOURCE, f"tip height {height} is not positive")
    return height


@dataclass(frozen=True, slots=True)
class FeeStats:
    avg_fees_sat: float  # average total fees per block over the window, in sat
    blocks: int  # blocks in the window
    end_height: int  # last block of the window


async def fetch_reward_stats(
    session: aiohttp.ClientSession, cfg: MempoolSourceConfig, block_count: int = 144
) -> FeeStats:
    """``/api/v1/mining/reward-stats/:n``: sat totals as STRINGS over ``startBlock..endBlock``.

    The average divides by the blocks actually covered (endBlock - startBlock + 1), not by the
    count asked for: an indexer that is catching up may cover fewer."""
    payload = await fetch_json(
        session,
        _url(cfg, f"/api/v1/mining/reward-stats/{block_count}"),
        source=SOURCE,
        timeout_s=cfg.timeout_s,
        max_bytes=MAX_BYTES,
    )
    start = _require_int(payload, "startBlock", source=SOURCE)
    end = _require_int(payload, "endBlock", source=SOURCE)
    total_fee = require_number(payload, "totalFee", source=SOURCE)
    blocks = end - start + 1
    if start < 0 or blocks < 1 or blocks > block_count:
        raise SourceError(SOURCE, f"reward-stats covers blocks {start}..{end}, not up to {block_count}")
    if total_fee < 0:
        raise SourceError(SOURCE, f"totalFee {total_fee:g} is negative")
    return FeeStats(avg_fees_sat=total_fee / blocks, blocks=blocks, end_height=end)


async def fetch_price_usd(
    session: aiohttp.ClientSession, cfg: MempoolSourceConfig, *, now: datetime
) -> float:
    """``/api/v1/prices``: the median of mempool's exchange feeds, USD per BTC.

    A currency without a feed is -1, and on a feed outage the last good prices keep being
    served, so ``time`` (unix s) older than ``price_max_age`` is a stale price."""
    payload = await fetch_json(
        session, _url(cfg, "/api/v1/prices"), source=SOURCE, timeout_s=cfg.timeout_s, max_bytes=MAX_BYTES
    )
    price = require_number(payload, "USD", source=SOURCE)
    at = require_number(payload, "time", source=SOURCE)
    if price <= 0:
        raise SourceError(SOURCE, f"USD price is {price:g} (no feed)")
    if at - now.timestamp() > MAX_CLOCK_SKEW_S:  # stamped in 2100: not the current price
        shown = datetime.fromtimestamp(at, UTC).isoformat() if at < _LAST_DATETIME_S else f"{at:g}"
        raise SourceError(SOURCE, f"price time {shown} is in the future")
    age = now.timestamp() - at
    if age > cfg.price_max_age:
        raise SourceError(SOURCE, f"USD price is stale: {age / 60:.0f} min old")
    return price
