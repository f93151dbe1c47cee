"""The network watcher (issue 3): difficulty epoch, difficulty, hashrate, fees, price and hashprice,
combined from several sources with failover.

Each group of values (epoch, difficulty, hashrate, tip height, fees, price) is asked of the
configured sources in priority order; the first that answers sane data serves it, and every
failure before it is reported in ``PollResult.errors[source]``. ``Observation.source`` names the
source of each value; a derived value (hashprice, ...) names all its inputs' sources joined by
``+`` (``"mempool+kraken"``).

A source that times out, cannot be reached or answers 429 is not asked again within the same
poll (a dead mempool would otherwise cost one timeout per endpoint, and a rate-limited one
would only get angrier). Garbage in one endpoint does not stop the others being asked.

Sanity bounds: difficulty or price <= 0, a projection outside -75..+300 %, or difficulty/price moving
more than 50 % since the last accepted value are rejected (the next source is tried). A jump
that three consecutive polls agree on (within 5 %) is accepted as real, so one bad value can
never lock the watcher out for good.

The metrics are derived from the fetched inputs by the pure ``derive_metrics`` in
``watchers/network_metrics.py``; units: the README section "Network metrics".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import aiohttp
from pydantic import BaseModel, ConfigDict

from rules.catalogue import MAX_CLOCK_SKEW_S, implausible
from rules.data import Event, Observation
from rules.durations import Duration
from rules.hashprice import SATS_PER_BTC
from watchers.base import PollContext, PollResult, SourceError, fetch_json, plausible, require_number
from watchers.bitcoind import (
    BitcoindRpc,
    BitcoindSourceConfig,
    NodeInfo,
    fetch_avg_fees,
    fetch_epoch,
    fetch_node_info,
)
from watchers.mempool import (
    EPOCH_BLOCKS,
    EpochInfo,
    FeeStats,
    MempoolSourceConfig,
    fetch_difficulty_adjustment,
    fetch_hashrate_3d,
    fetch_price_usd,
    fetch_reward_stats,
    fetch_tip_height,
    hashrate_field,
    parse_difficulty_adjustment,
)
from watchers.mempool import (
    MAX_BYTES as MEMPOOL_MAX_BYTES,
)
from watchers.mempool_ws import BlockNotice
from watchers.network_metrics import NetworkInputs, Sourced, derive_metrics
from watchers.price import PriceSourceConfig, fetch_coinbase, fetch_kraken

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_JUMP_PCT = 50.0  # difficulty or price moving more than this in one poll is rejected
JUMP_CONFIRM_POLLS = 3  # ... unless this many consecutive polls agree on the new level
JUMP_CONFIRM_TOLERANCE = 0.05  # "agree": within 5 % of the first rejected value
MEMPOOL_FEE_BLOCKS = 144


class NetworkWatcherConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    every: Duration = 60
    sources: list[Literal["mempool", "bitcoind"]] = ["mempool"]
    price_sources: list[Literal["mempool", "kraken", "coinbase"]] = ["mempool", "kraken", "coinbase"]


def _is_outage(err: SourceError) -> bool:
    """A failure that every other endpoint of the same source would repeat this poll."""
    return err.message.startswith(("HTTP 429", "timed out", "connection failed", "HTTP 401", "HTTP 403"))


# What a parser can raise on an answer of a shape nobody foresaw. It costs the field being read
# (reported like a SourceError, the next source is tried), never the whole poll.
_DATA_ERRORS = (ValueError, TypeError, ArithmeticError, LookupError, AttributeError, RecursionError)


def _unreadable(source: str, what: str, err: BaseException) -> SourceError:
    logger.warning("%s: %s: unexpected answer", source, what, exc_info=err)
    detail = str(err)[:80]
    return SourceError(source, f"unreadable answer ({type(err).__name__}{': ' + detail if detail else ''})")


class _Source:
    """One upstream within one poll: memoises each fetch (value or error) and stops asking
    after an outage."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._memo: dict[str, Any] = {}
        self._outage: SourceError | None = None

    async def once(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        if key not in self._memo:
            if self._outage is not None:
                raise self._outage
            try:
                self._memo[key] = await fetch()
            except SourceError as err:
                if _is_outage(err):
                    self._outage = err
                self._memo[key] = err
            except _DATA_ERRORS as err:
                self._memo[key] = _unreadable(self.name, key, err)
        value = self._memo[key]
        if isinstance(value, SourceError):
            raise value
        return value


class _MempoolChain(_Source):
    def __init__(
        self,
        session: aiohttp.ClientSession,
        cfg: MempoolSourceConfig,
        now: datetime,
        pushed: BlockNotice | None = None,
    ) -> None:
        super().__init__("mempool")
        self.session, self.cfg, self.now = session, cfg, now
        self.pushed = pushed if pushed is not None and pushed.source == "mempool" else None

    async def epoch(self) -> EpochInfo:
        da = self.pushed.da if self.pushed is not None else None
        if da is not None:
            # mempool pushed its difficulty adjustment with the block (the same object as the REST
            # endpoint's): read it exactly as the REST answer is read; garbage falls back to REST.
            try:
                return parse_difficulty_adjustment(da, now=self.now)
            except (SourceError, *_DATA_ERRORS) as err:
                logger.info("pushed difficulty adjustment refused (%s): asking REST", err)
        return await self.once(
            "epoch", lambda: fetch_difficulty_adjustment(self.session, self.cfg, now=self.now)
        )

    async def _hashrate_3d(self) -> Mapping[str, Any]:
        return await self.once("hashrate/3d", lambda: fetch_hashrate_3d(self.session, self.cfg))

    async def difficulty(self) -> float:
        value = hashrate_field(await self._hashrate_3d(), "currentDifficulty")
        if value <= 0:
            raise SourceError(self.name, "currentDifficulty is 0 (mempool's node is unreachable)")
        return value

    async def hashrate(self) -> float:
        value = hashrate_field(await self._hashrate_3d(), "currentHashrate")
        if value <= 0:
            raise SourceError(self.name, "currentHashrate is 0 (unknown)")
        return value

    async def tip_height(self) -> int:
        if self.pushed is not None and self.pushed.height is not None:
            return self.pushed.height  # bounded by the caller like any answer
        return await self.once("tip", lambda: fetch_tip_height(self.session, self.cfg))

    async def fees(self) -> FeeStats:
        return await self.once("fees", lambda: fetch_reward_stats(self.session, self.cfg, MEMPOOL_FEE_BLOCKS))

    async def price(self) -> float:
        return await self.once("price", lambda: fetch_price_usd(self.session, self.cfg, now=self.now))


class _BitcoindChain(_Source):
    def __init__(
        self, session: aiohttp.ClientSession, cfg: BitcoindSourceConfig, now: datetime, state: dict[str, Any]
    ) -> None:
        super().__init__("bitcoind")
        self.rpc = BitcoindRpc(session, cfg)
        self.cfg, self.now, self.state = cfg, now, state

    async def _node(self) -> NodeInfo:
        return await self.once("node", lambda: fetch_node_info(self.rpc))

    async def epoch(self) -> EpochInfo:
        height = await self.tip_height()
        return await self.once("epoch", lambda: fetch_epoch(self.rpc, height, now=self.now))

    async def difficulty(self) -> float:
        value = (await self._node()).difficulty
        if value <= 0:
            raise SourceError(self.name, f"difficulty {value:g} is not positive")
        return value

    async def hashrate(self) -> float:
        value = (await self._node()).hashrate_hs
        if value <= 0:
            raise SourceError(self.name, "getnetworkhashps is 0 (unknown)")
        return value

    async def tip_height(self) -> int:
        return (await self._node()).height

    async def fees(self) -> FeeStats:
        height = await self.tip_height()
        cache = self.state.setdefault("bitcoind_fees", {})
        return await self.once("fees", lambda: fetch_avg_fees(self.rpc, height, self.cfg.fee_blocks, cache))


class _PriceOnly(_Source):
    def __init__(self, name: str, fetch: Callable[[], Awaitable[float]]) -> None:
        super().__init__(name)
        self._fetch = fetch

    async def price(self) -> float:
        return await self.once("price", self._fetch)


class _Errors:
    """Failures of one poll, grouped per source and identical message: ``"mempool": "epoch,
    difficulty: HTTP 429 (HTML error page)"``."""

    def __init__(self) -> None:
        self.by_source: dict[str, dict[str, list[str]]] = {}
        self.retry_after_s: float | None = None

    def add(self, what: str, err: SourceError) -> None:
        whats = self.by_source.setdefault(err.source, {}).setdefault(err.message, [])
        if what not in whats:
            whats.append(what)
        if err.retry_after_s is not None:
            self.retry_after_s = max(self.retry_after_s or 0.0, err.retry_after_s)

    def as_dict(self) -> dict[str, str]:
        return {
            source: "; ".join(f"{', '.join(whats)}: {message}" for message, whats in messages.items())
            for source, messages in self.by_source.items()
        }


class NetworkWatcher:
    """Implements :class:`watchers.base.Watcher`. State kept in ``ctx.state``:

    * ``last``: metric -> [value, unix s] of the last accepted difficulty (raw) and price;
    * ``pending``: metric -> [value, polls] of a jump waiting to be confirmed;
    * ``epoch``: ``next_retarget_height`` and ``projected_change_pct`` of the last poll;
    * ``bitcoind_fees``: the getblockstats cache (height -> [hash, totalfee sat]).
    """

    id = "network"

    def __init__(
        self,
        cfg: NetworkWatcherConfig,
        mempool: MempoolSourceConfig,
        bitcoind: BitcoindSourceConfig | None = None,
        price: PriceSourceConfig | None = None,
    ) -> None:
        if "bitcoind" in cfg.sources and bitcoind is None:
            raise ValueError("the network watcher lists source 'bitcoind' but no bitcoind config was given")
        self.cfg = cfg
        self.mempool = mempool
        self.bitcoind = bitcoind
        self.price = price or PriceSourceConfig()
        self._pushed: BlockNotice | None = None

    def offer_push(self, notice: BlockNotice) -> None:
        """A block a push source just announced: the next poll uses what it carried (mempool's
        height and difficulty adjustment) instead of asking REST for them. Taken by one poll only,
        so a later interval poll reads fresh REST values again."""
        if notice.source == "mempool":
            self._pushed = notice

    def tip_seen(self, result: PollResult) -> int | None:
        """The tip height a poll's result holds (what the socket watchdog compares with)."""
        heights = [o.value for o in result.observations if o.metric == "height"]
        return int(heights[-1]) if heights else None

    async def poll(self, ctx: PollContext) -> PollResult:
        state = ctx.state
        errors = _Errors()
        pushed, self._pushed = self._pushed, None
        mempool = _MempoolChain(ctx.session, self.mempool, ctx.now, pushed)
        chain: list[_MempoolChain | _BitcoindChain] = []
        for name in self.cfg.sources:
            if name == "mempool":
                chain.append(mempool)
            elif self.bitcoind is not None:
                chain.append(_BitcoindChain(ctx.session, self.bitcoind, ctx.now, state))
        prices: list[_MempoolChain | _PriceOnly] = []
        for name in self.cfg.price_sources:
            if name == "mempool":
                prices.append(mempool)
            elif name == "kraken":
                prices.append(_PriceOnly("kraken", lambda: fetch_kraken(ctx.session, self.price)))
            else:
                prices.append(_PriceOnly("coinbase", lambda: fetch_coinbase(ctx.session, self.price)))

        inputs = await _fetch_inputs(chain, prices, state, ctx.now.timestamp(), errors)
        result = PollResult()
        for obs in derive_metrics(inputs, ctx.now):
            # Inputs were bounded as they were fetched; this keeps any value derived from them
            # within its metric's bounds too, whatever a future metric computes.
            reason = implausible(obs.metric, obs.value)
            if reason is None:
                result.observations.append(obs)
            else:
                errors.add(obs.metric, SourceError(obs.source, reason))
        result.errors = errors.as_dict()
        if not result.observations:
            summary = "; ".join(f"{s}: {m}" for s, m in result.errors.items()) or "no source configured"
            raise SourceError(
                "network", f"every source failed ({summary})", retry_after_s=errors.retry_after_s
            )

        if inputs.epoch is not None:
            difficulty = inputs.difficulty.value if inputs.difficulty else None
            event = _retarget_event(state, inputs.epoch.value, inputs.epoch.source, difficulty, ctx.now)
            if event is not None:
                result.events.append(event)
        return result


async def _fetch_inputs(
    chain: Sequence[_MempoolChain | _BitcoindChain],
    prices: Sequence[_MempoolChain | _PriceOnly],
    state: dict[str, Any],
    now_s: float,
    errors: _Errors,
) -> NetworkInputs:
    """Each input from the first source, in priority order, that serves it sanely."""
    return NetworkInputs(
        epoch=await _first(chain, "epoch", lambda s: _plausible_epoch(s.name, s.epoch()), errors),
        difficulty=await _first(
            chain,
            "difficulty",
            lambda s: _checked(
                s.name, "difficulty", _bounded(s.name, "difficulty", s.difficulty(), 1e-12), state, now_s
            ),
            errors,
        ),
        hashrate=await _first(
            chain, "hashrate", lambda s: _bounded(s.name, "hashrate", s.hashrate(), 1e-18), errors
        ),
        tip=await _first(chain, "tip height", lambda s: _bounded(s.name, "height", s.tip_height()), errors),
        fees=await _first(chain, "fees", lambda s: _plausible_fees(s.name, s.fees()), errors),
        price=await _first(
            prices,
            "price",
            lambda s: _checked(s.name, "price", _bounded(s.name, "price", s.price()), state, now_s),
            errors,
        ),
    )


N = TypeVar("N", int, float)


async def _bounded(source: str, metric: str, pending: Awaitable[N], scale: float = 1.0) -> N:
    """The value if ``value × scale`` (in the metric's catalogue unit) is within the metric's
    absolute bounds; else a SourceError, so the next source is tried."""
    value = await pending
    plausible(metric, value * scale, source=source)
    return value


async def _plausible_epoch(source: str, pending: Awaitable[EpochInfo]) -> EpochInfo:
    info = await pending
    plausible("difficulty.next_change", info.next_change_pct, source=source)
    plausible("difficulty.progress", info.progress_pct, source=source)
    plausible("difficulty.blocks_left", info.blocks_left, source=source)
    plausible("difficulty.retarget_eta", info.retarget_eta_s, source=source)
    plausible("difficulty.last_change", info.last_change_pct, source=source)
    return info


async def _plausible_fees(source: str, pending: Awaitable[FeeStats]) -> FeeStats:
    stats = await pending
    plausible("fees", stats.avg_fees_sat / SATS_PER_BTC, source=source)
    return stats


async def _first(
    sources: Sequence[Any], what: str, get: Callable[[Any], Awaitable[T]], errors: _Errors
) -> Sourced[T] | None:
    """The first source, in priority order, that answers ``get`` without a SourceError. A data
    error outside the fetch itself (in a check) costs this field of this source only, too."""
    for source in sources:
        try:
            return Sourced(await get(source), source.name)
        except SourceError as err:
            errors.add(what, err)
        except _DATA_ERRORS as err:
            errors.add(what, _unreadable(source.name, what, err))
    return None


async def _checked(
    source: str, metric: str, pending: Awaitable[float], state: dict[str, Any], now_s: float
) -> float:
    """Reject a non-positive value or a jump over MAX_JUMP_PCT from the last accepted value,
    unless JUMP_CONFIRM_POLLS polls in a row agree on the new level; record what is accepted."""
    value = await pending
    if value <= 0:
        raise SourceError(source, f"{metric} {value:g} is not positive")
    last = state.setdefault("last", {}).get(metric)
    waiting = state.setdefault("pending", {})
    if last is not None and last[0] > 0:
        change = (value / last[0] - 1) * 100
        if abs(change) > MAX_JUMP_PCT:
            seen = waiting.get(metric)
            if seen is None or abs(value / seen[0] - 1) > JUMP_CONFIRM_TOLERANCE:
                seen = waiting[metric] = [value, 0, None]
            if seen[2] != now_s:  # count each poll once, however many sources agree in it
                seen[1] += 1
                seen[2] = now_s
            if seen[1] < JUMP_CONFIRM_POLLS:
                raise SourceError(
                    source,
                    f"{metric} {value:.6g} moved {change:+.0f}% from {last[0]:.6g} in one poll: rejected",
                )
            logger.warning("%s jump to %.6g confirmed by %d polls: accepted", metric, value, seen[1])
    waiting.pop(metric, None)
    state["last"][metric] = [value, now_s]
    return value


def _retarget_event(
    state: dict[str, Any], epoch: EpochInfo, source: str, difficulty: float | None, now: datetime
) -> Event | None:
    """A ``retarget`` event when the epoch changed since the last poll. The first poll ever only
    records the epoch; an epoch going backwards (a lagging source) is ignored."""
    last = state.get("epoch")
    event = None
    if last is not None and epoch.next_retarget_height > last["next_retarget_height"]:
        height = epoch.next_retarget_height - EPOCH_BLOCKS
        skipped = height != last["next_retarget_height"]  # epochs passed while we were not polling
        event = Event(
            kind="retarget",
            key=f"retarget:{height}",
            at=now,
            source=source,
            data={
                "height": height,
                "realised_change_pct": epoch.last_change_pct,
                "projected_change_pct": None if skipped else last["projected_change_pct"],
                "difficulty": None if difficulty is None else difficulty / 1e12,
            },
        )
    if last is None or epoch.next_retarget_height >= last["next_retarget_height"]:
        state["epoch"] = {
            "next_retarget_height": epoch.next_retarget_height,
            "projected_change_pct": epoch.next_change_pct,
        }
    return event


async def backfill(
    session: aiohttp.ClientSession, mempool_cfg: MempoolSourceConfig, now: datetime
) -> list[Observation]:
    """A year of history so charts have data from day one: one ``difficulty`` (T) observation per
    retarget from ``/api/v1/mining/difficulty-adjustments/1y`` (rows ``[timestamp s, height,
    difficulty, ratio]``) and one ``hashrate`` (EH/s) per day from ``/api/v1/mining/hashrate/1y``
    (``hashrates[].avgHashrate`` in H/s, daily averages), each at its historical time, oldest
    first. Rows in the future or with non-positive values are garbage: SourceError."""
    base = mempool_cfg.base_url.rstrip("/")
    source = "mempool"
    limit = now.timestamp() + MAX_CLOCK_SKEW_S  # history from the future is garbage
    rows = await fetch_json(
        session,
        base + "/api/v1/mining/difficulty-adjustments/1y",
        source=source,
        timeout_s=mempool_cfg.timeout_s,
        max_bytes=MEMPOOL_MAX_BYTES,
    )
    if not isinstance(rows, list):
        raise SourceError(source, "difficulty-adjustments is not a list")
    out: list[Observation] = []
    for row in rows:
        if not isinstance(row, list) or len(row) < 3:
            raise SourceError(
                source, f"difficulty-adjustments row {row!r} is not [time, height, difficulty, ...]"
            )
        fields = {"timestamp": row[0], "difficulty": row[2]}
        ts = require_number(fields, "timestamp", source=source)
        difficulty = require_number(fields, "difficulty", source=source)
        if difficulty <= 0 or not 0 < ts <= limit:
            raise SourceError(source, f"difficulty-adjustments row {row!r} is out of range")
        out.append(Observation("difficulty", difficulty / 1e12, datetime.fromtimestamp(ts, UTC), source))
    history = await fetch_json(
        session,
        base + "/api/v1/mining/hashrate/1y",
        source=source,
        timeout_s=mempool_cfg.timeout_s,
        max_bytes=MEMPOOL_MAX_BYTES,
    )
    daily = history.get("hashrates") if isinstance(history, dict) else None
    if not isinstance(daily, list):
        raise SourceError(source, "hashrate history has no 'hashrates' list")
    for point in daily:
        ts = require_number(point, "timestamp", source=source)
        hashrate = require_number(point, "avgHashrate", source=source)
        if not 0 < ts <= limit or hashrate < 0:
            raise SourceError(source, f"hashrate point {point!r} is out of range")
        if hashrate > 0:  # 0 = no data for that day
            out.append(Observation("hashrate", hashrate / 1e18, datetime.fromtimestamp(ts, UTC), source))
    out.sort(key=lambda o: (o.at, o.metric))
    return out
