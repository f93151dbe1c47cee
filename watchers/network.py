"""The network watcher: difficulty epoch, difficulty, hashrate, fees, price and hashprice."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from rules.durations import Duration
from watchers.base import Observation, PollContext, PollResult
from watchers.bitcoind import BitcoindSourceConfig
from watchers.mempool import MempoolSourceConfig, fetch_difficulty_adjustment
from watchers.price import PriceSourceConfig


class NetworkWatcherConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    every: Duration = 60
    sources: list[Literal["mempool", "bitcoind"]] = ["mempool"]
    price_sources: list[Literal["mempool", "kraken", "coinbase"]] = ["mempool", "kraken", "coinbase"]


class NetworkWatcher:
    id = "network"

    def __init__(
        self,
        cfg: NetworkWatcherConfig,
        mempool: MempoolSourceConfig,
        bitcoind: BitcoindSourceConfig | None = None,
        price: PriceSourceConfig | None = None,
    ) -> None:
        self.cfg = cfg
        self.mempool = mempool
        self.bitcoind = bitcoind
        self.price = price or PriceSourceConfig()

    async def poll(self, ctx: PollContext) -> PollResult:
        epoch = await fetch_difficulty_adjustment(ctx.session, self.mempool, now=ctx.now)
        result = PollResult()
        for metric, value in (
            ("difficulty.next_change", epoch.next_change_pct),
            ("difficulty.progress", epoch.progress_pct),
            ("difficulty.blocks_left", float(epoch.blocks_left)),
            ("difficulty.retarget_eta", epoch.retarget_eta_s),
            ("difficulty.last_change", epoch.last_change_pct),
        ):
            result.observations.append(Observation(metric, value, ctx.now, "mempool"))
        return result
