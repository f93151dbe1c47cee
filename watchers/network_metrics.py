"""The network metrics from what one poll fetched: pure, no I/O, no clock (time is passed in).

The network watcher (``watchers/network.py``) first fetches each input with failover; this module
turns those inputs into observations. Tests call :func:`derive_metrics` directly, without HTTP.

It stays in ``watchers/`` rather than ``rules/`` because its inputs are the watchers' source
records (:class:`EpochInfo`, :class:`FeeStats`) and it names the source of every value; the
arithmetic itself is ``rules/hashprice.py``.

Units: difficulty in T (raw / 1e12), hashrate in EH/s (H/s / 1e18), fees and subsidy in BTC per
block, price in USD per BTC, hashprice in USD (and BTC) per PH/s per day and in sats per TH/s
per day. A derived value names all
its inputs' sources joined by ``+`` (``"mempool+kraken"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from rules import hashprice as hp
from rules.data import Observation
from watchers.mempool import EpochInfo, FeeStats

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    """A fetched value and the source that served it."""

    value: T
    source: str


@dataclass(slots=True)
class NetworkInputs:
    """What one poll fetched; None where no source could serve it."""

    epoch: Sourced[EpochInfo] | None = None
    difficulty: Sourced[float] | None = None  # raw difficulty (not T)
    hashrate: Sourced[float] | None = None  # H/s
    tip: Sourced[int] | None = None  # tip height
    fees: Sourced[FeeStats] | None = None  # average fees per block, sat
    price: Sourced[float] | None = None  # USD per BTC


def joined(*sources: str) -> str:
    """``"mempool"``, ``"mempool+kraken"``: each source once, in order."""
    return "+".join(dict.fromkeys(s for src in sources for s in src.split("+")))


def derive_metrics(inputs: NetworkInputs, now: datetime) -> list[Observation]:
    """Every metric the inputs allow, stamped ``now``. A metric whose inputs are missing is left
    out (never estimated): hashprice needs difficulty, tip and fees; its USD form the price too;
    ``hashprice.next`` the epoch's projected change as well."""
    out: list[Observation] = []

    def emit(metric: str, value: float, source: str) -> None:
        out.append(Observation(metric, value, now, source))

    epoch, difficulty, tip, fees, price = (
        inputs.epoch,
        inputs.difficulty,
        inputs.tip,
        inputs.fees,
        inputs.price,
    )
    if epoch is not None:
        info, src = epoch.value, epoch.source
        emit("difficulty.next_change", info.next_change_pct, src)
        emit("difficulty.progress", info.progress_pct, src)
        emit("difficulty.blocks_left", float(info.blocks_left), src)
        emit("difficulty.retarget_eta", info.retarget_eta_s, src)
        emit("difficulty.last_change", info.last_change_pct, src)
    if difficulty is not None:
        emit("difficulty", difficulty.value / 1e12, difficulty.source)
    if inputs.hashrate is not None:
        emit("hashrate", inputs.hashrate.value / 1e18, inputs.hashrate.source)
    if price is not None:
        emit("price", price.value, price.source)
    if tip is None:
        return out
    emit("height", float(tip.value), tip.source)  # tip height, blocks (the /status halving countdown)
    subsidy = hp.subsidy_btc(tip.value + 1)  # what the next block pays
    emit("subsidy", subsidy, tip.source)
    if fees is None:
        return out
    avg_fees = fees.value.avg_fees_sat / hp.SATS_PER_BTC
    emit("fees", avg_fees, fees.source)
    if subsidy + avg_fees > 0:
        emit("fee_share", hp.fee_share_pct(subsidy, avg_fees), joined(tip.source, fees.source))
    if difficulty is None:
        return out
    src = joined(difficulty.source, tip.source, fees.source)
    btc_per_ph_day = hp.hashprice_btc(difficulty.value, subsidy, avg_fees)
    emit("hashprice.btc", btc_per_ph_day, src)
    emit("hashprice.sats", hp.sats_per_th_day(btc_per_ph_day), src)  # sats/TH/day, what many miners quote
    if price is None:
        return out
    src_usd = joined(src, price.source)
    emit("hashprice", hp.hashprice_usd(difficulty.value, subsidy, avg_fees, price.value), src_usd)
    if epoch is not None:
        projected = difficulty.value * (1 + epoch.value.next_change_pct / 100)
        emit(
            "hashprice.next",
            hp.hashprice_usd(projected, subsidy, avg_fees, price.value),
            joined(src_usd, epoch.source),
        )
    return out
