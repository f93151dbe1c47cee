"""Hashprice and block-subsidy arithmetic. Pure: no I/O, no clock.

Hashprice is the expected revenue of 1 PH/s of hashrate for one day (Luxor's definition), derived
here from first principles:

* A block is found when a hash falls below the target. At difficulty ``D`` the expected number of
  hashes per block is ``D × 2^32`` (difficulty 1 is the target ``0xffff × 2^208``, i.e. about 2^32
  hashes per block; the 0xffff/0x10000 factor is ignored, as everyone does).
* So one hash earns on average ``R / (D × 2^32)`` BTC, where ``R`` = block subsidy + average fees
  per block, in BTC per block.
* 1 PH/s for a day is ``1e15 H/s × 86 400 s = 8.64e19`` hashes, hence

      blocks/PH/day = 1e15 × 86 400 / (D × 2^32)                    [blocks per PH/s per day]
      BTC/PH/day    = blocks/PH/day × (subsidy_BTC + avg_fees_BTC)   [BTC per PH/s per day]
      USD/PH/day    = BTC/PH/day × price_USD_per_BTC                 [USD per PH/s per day]
      sats/TH/day   = BTC/PH/day × 1e8 / 1000

Use the **current epoch** difficulty (the one blocks are mined at now), not the projected one;
fees are a trailing average per block (Luxor uses a 144-block SMA). Subsidy is the one of the
**next** block, so a fee window straddling a halving does not mix two subsidies.

Check: difficulty 1e14, 3.125 BTC, no fees, $100 000 -> 0.0002012 blocks/PH/day -> $62.86/PH/day
(https://elektronics.dev/docs/hashprice rounds it to $62.81).
"""

from __future__ import annotations

SATS_PER_BTC = 100_000_000
HALVING_INTERVAL = 210_000  # blocks (mainnet, testnet, signet; regtest uses 150)
INITIAL_SUBSIDY_SAT = 50 * SATS_PER_BTC
HASHES_PER_DIFFICULTY = 2**32  # expected hashes per block at difficulty 1
HASHES_PER_PH_DAY = 1e15 * 86_400  # 1 PH/s for one day


def subsidy_sat(height: int) -> int:
    """Block subsidy of the block at ``height``, in sat: 50 BTC halved (right shift, as Bitcoin
    Core's ``GetBlockSubsidy``) every 210 000 blocks; 0 after 64 halvings."""
    if height < 0:
        raise ValueError(f"height {height} is negative")
    halvings = height // HALVING_INTERVAL
    return 0 if halvings >= 64 else INITIAL_SUBSIDY_SAT >> halvings


def subsidy_btc(height: int) -> float:
    """Block subsidy at ``height`` in BTC: 6.25 for 630 000..839 999, 3.125 from 840 000."""
    return subsidy_sat(height) / SATS_PER_BTC


def next_halving_height(height: int) -> int:
    """Height of the first block with the next lower subsidy after ``height`` (840 000 for any
    tip in 630 000..839 999; 1 050 000 once 840 000 is mined)."""
    if height < 0:
        raise ValueError(f"height {height} is negative")
    return (height // HALVING_INTERVAL + 1) * HALVING_INTERVAL


def blocks_to_halving(height: int) -> int:
    """Blocks still to be mined, after the block at ``height``, until the halving block is mined
    (1 at tip 839 999: the next block is the halving)."""
    return next_halving_height(height) - height


def expected_blocks_per_ph_day(difficulty: float) -> float:
    """Blocks that 1 PH/s finds per day on average at raw ``difficulty`` (not in T)."""
    if difficulty <= 0:
        raise ValueError(f"difficulty {difficulty!r} is not positive")
    return HASHES_PER_PH_DAY / (difficulty * HASHES_PER_DIFFICULTY)


def hashprice_btc(difficulty: float, subsidy_btc_per_block: float, avg_fees_btc_per_block: float) -> float:
    """BTC per PH/s per day at raw ``difficulty``, subsidy and average fees per block (BTC)."""
    if subsidy_btc_per_block < 0 or avg_fees_btc_per_block < 0:
        raise ValueError("subsidy and fees cannot be negative")
    return expected_blocks_per_ph_day(difficulty) * (subsidy_btc_per_block + avg_fees_btc_per_block)


def hashprice_usd(
    difficulty: float, subsidy_btc_per_block: float, avg_fees_btc_per_block: float, price_usd: float
) -> float:
    """USD per PH/s per day: :func:`hashprice_btc` × BTC price (USD per BTC)."""
    if price_usd <= 0:
        raise ValueError(f"price {price_usd!r} is not positive")
    return hashprice_btc(difficulty, subsidy_btc_per_block, avg_fees_btc_per_block) * price_usd


def sats_per_th_day(hashprice_btc_per_ph_day: float) -> float:
    """The same hashprice in sats per TH/s per day (Hashrate Index's other unit)."""
    return hashprice_btc_per_ph_day * SATS_PER_BTC / 1000


def fee_share_pct(subsidy_btc_per_block: float, avg_fees_btc_per_block: float) -> float:
    """Share of miner revenue per block that comes from fees: fees / (subsidy + fees) × 100."""
    total = subsidy_btc_per_block + avg_fees_btc_per_block
    if total <= 0 or avg_fees_btc_per_block < 0:
        raise ValueError("block revenue must be positive and fees non-negative")
    return avg_fees_btc_per_block / total * 100
