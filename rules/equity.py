"""A miner's stock against its debt (issue 15): market cap, distance to the conversion prices of its
convertibles, dilution if they all converted, leverage; and when the stock crosses a conversion price.

Inputs, each with its own date:

* the share price: the latest ``stock.<ticker>`` observation (the quote's time and source);
* shares outstanding: the newest periodic report's cover (:class:`rules.ledger.SharesOutstanding`);
* the debt ledger (:class:`rules.ledger.Ledger`): tranches in the latest report, as of its period end.

Formulas (USD and %):

* ``mcap = shares × price``;
* ``convert = (price ÷ P̄ − 1) × 100`` where P̄ is the outstanding-weighted conversion price
  Σ(principalᵢ × conversion priceᵢ) ÷ Σ principalᵢ over the convertibles outstanding that state a
  conversion price; positive = in the money;
* ``dilution = Σ (principalᵢ ÷ 1000 × conversion rateᵢ) ÷ shares × 100`` over every convertible
  outstanding (the rate per $1,000; where a filing states only the price, rate = 1000 ÷ price, the
  same term written the other way). One convertible with neither: no dilution figure;
* ``leverage = debt principal outstanding ÷ mcap × 100``.

A value whose input is missing is None (no observation), never estimated. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rules.data import Observation
from rules.ledger import CONVERTIBLE, Ledger, SharesOutstanding, Tranche

FAMILIES: tuple[str, ...] = ("mcap", "convert", "dilution", "leverage")
PRICE_FAMILY = "stock"
SEC_SOURCE = "edgar"  # what the shares and the ledger come from, in a derived value's source


@dataclass(frozen=True, slots=True)
class Price:
    value: float  # USD
    at: datetime  # the quote's time
    source: str  # yahoo | finnhub | nasdaq


@dataclass(frozen=True, slots=True)
class Derived:
    """One derived number with the dates of what it was computed from."""

    metric: str  # "mcap.mara"
    value: float
    price: Price
    shares: SharesOutstanding | None  # None for convert (it does not use the share count)
    debt_as_of: str | None  # the ledger's period end; None for mcap

    @property
    def source(self) -> str:
        """The inputs' sources: ``"yahoo+edgar"``."""
        return f"{self.price.source}+{SEC_SOURCE}"

    def observation(self, at: datetime | None = None) -> Observation:
        return Observation(self.metric, self.value, at or self.price.at, self.source)


def metric_name(family: str, ticker: str) -> str:
    return f"{family}.{ticker.lower()}"


def split_metric(metric: str) -> tuple[str, str] | None:
    """``"convert.mara"`` -> ("convert", "mara"); None for any other metric."""
    family, _, ticker = metric.partition(".")
    if family in (PRICE_FAMILY, *FAMILIES) and ticker and "." not in ticker:
        return family, ticker
    return None


# ----------------------------------------------------------------------------------- per tranche


def convertibles(ledger: Ledger | None) -> list[Tranche]:
    """The convertibles of the latest report with principal outstanding, in ledger order."""
    if ledger is None:
        return []
    return [t for t in ledger.current() if t.kind == CONVERTIBLE and (t.outstanding_principal_usd or 0) > 0]


def conversion_rate(t: Tranche) -> float | None:
    """Shares per $1,000 of principal: stated, or 1000 ÷ the stated conversion price."""
    if t.conversion_rate_per_1000 is not None and t.conversion_rate_per_1000 > 0:
        return t.conversion_rate_per_1000
    if t.conversion_price_usd is not None and t.conversion_price_usd > 0:
        return 1000.0 / t.conversion_price_usd
    return None


def shares_on_conversion(t: Tranche) -> float | None:
    """Shares issued if all of the tranche's outstanding principal converted."""
    rate = conversion_rate(t)
    if rate is None or t.outstanding_principal_usd is None:
        return None
    return t.outstanding_principal_usd / 1000.0 * rate


def conversion_price(t: Tranche) -> float | None:
    """The stated conversion price, else 1000 ÷ the stated rate (the same term)."""
    if t.conversion_price_usd is not None and t.conversion_price_usd > 0:
        return t.conversion_price_usd
    if t.conversion_rate_per_1000 is not None and t.conversion_rate_per_1000 > 0:
        return 1000.0 / t.conversion_rate_per_1000
    return None


def distance_pct(price: float, level: float) -> float:
    """(price ÷ level − 1) × 100: positive when the stock is above the level (in the money)."""
    return (price / level - 1.0) * 100.0


# ------------------------------------------------------------------------------------- figures


def market_cap(price: float, shares: float) -> float:
    return shares * price


def weighted_conversion_price(ledger: Ledger | None) -> float | None:
    """Σ(principal × conversion price) ÷ Σ principal over the convertibles stating a price."""
    pairs = [
        (t.outstanding_principal_usd or 0.0, p) for t in convertibles(ledger) if (p := conversion_price(t))
    ]
    weight = sum(w for w, _ in pairs)
    if not pairs or weight <= 0:
        return None
    return sum(w * p for w, p in pairs) / weight


def dilution_pct(ledger: Ledger | None, shares: float) -> float | None:
    """% more shares if every outstanding convertible converted; 0 when the latest report lists
    none; None when one of them states neither rate nor price, or there is no report yet."""
    if ledger is None or ledger.latest_period is None or shares <= 0:
        return None
    new_shares = 0.0
    for t in convertibles(ledger):
        issued = shares_on_conversion(t)
        if issued is None:
            return None
        new_shares += issued
    return new_shares / shares * 100.0


def leverage_pct(ledger: Ledger | None, mcap: float) -> float | None:
    """Debt principal ÷ market cap × 100; None before a periodic report lists all of the debt (an
    issuance alone is not the whole of it)."""
    if ledger is None or ledger.latest_period is None or mcap <= 0:
        return None
    debt = ledger.total_debt_principal_usd
    return None if debt is None else debt / mcap * 100.0


def derive(
    ticker: str, price: Price | None, shares: SharesOutstanding | None, ledger: Ledger | None
) -> list[Derived]:
    """Every derived metric of ``ticker`` its inputs allow (none without a price)."""
    if price is None or price.value <= 0:
        return []
    out: list[Derived] = []
    debt_as_of = ledger.latest_period if ledger is not None else None
    wcp = weighted_conversion_price(ledger)
    if wcp is not None:
        out.append(
            Derived(metric_name("convert", ticker), distance_pct(price.value, wcp), price, None, debt_as_of)
        )
    if shares is None or shares.shares <= 0:
        return out
    mcap = market_cap(price.value, shares.shares)
    out.append(Derived(metric_name("mcap", ticker), mcap, price, shares, None))
    dilution = dilution_pct(ledger, shares.shares)
    if dilution is not None:
        # dilution does not move with the price, but it is stamped with it so it charts beside it
        out.append(Derived(metric_name("dilution", ticker), dilution, price, shares, debt_as_of))
    leverage = leverage_pct(ledger, mcap)
    if leverage is not None:
        out.append(Derived(metric_name("leverage", ticker), leverage, price, shares, debt_as_of))
    return out


# ------------------------------------------------------------------------------------ crossings


@dataclass(frozen=True, slots=True)
class Level:
    """A price the ``converts`` rule watches: a tranche's conversion price, or its soft-call trigger
    where the ledger holds one the filing states (never 130% of the conversion price by assumption)."""

    key: str  # tranche key + ":conversion"
    instrument: str
    kind: str  # "conversion" | "soft_call"
    price_usd: float
    tranche: Tranche


def soft_call_price(t: Tranche) -> float | None:
    """The soft-call trigger in USD: the stated percentage of the conversion price, or None when
    the filing states no percentage (never 130 % by assumption)."""
    price = conversion_price(t)
    if price is None or t.soft_call_pct is None or t.soft_call_pct <= 0:
        return None
    return price * t.soft_call_pct / 100.0


def levels(ledger: Ledger | None) -> list[Level]:
    """Each outstanding convertible's conversion price, and its soft-call trigger where stated."""
    out: list[Level] = []
    for t in convertibles(ledger):
        price = conversion_price(t)
        if price is not None:
            out.append(Level(f"{t.key}:conversion", t.instrument, "conversion", price, t))
        trigger = soft_call_price(t)
        if trigger is not None:
            out.append(Level(f"{t.key}:soft_call", t.instrument, "soft_call", trigger, t))
    return out


ABOVE, BELOW = "above", "below"


def side_after(side: str | None, price: float, level: float, band_pct: float) -> str:
    """Which side of ``level`` the stock is on after ``price``, with hysteresis as for a threshold
    rule: it goes above when the price is over the level, and back below only once it is under the
    level by ``band_pct`` % of it (so a price wobbling around a conversion price is one crossing).
    Without a previous side, where the price is now."""
    if side is None:
        return ABOVE if price > level else BELOW
    if side == BELOW and price > level:
        return ABOVE
    if side == ABOVE and price < level * (1.0 - band_pct / 100.0):
        return BELOW
    return side
