"""Per-chat fleet economics: what a chat's machines earn and what power costs them. Pure.

Units and derivation. A fleet has an efficiency ``E`` in J/TH (joules per terahash, e.g. 21.5 for
an S19 XP). Running 1 TH/s means 1e12 H/s × E J/1e12 H = ``E`` J/s = ``E`` W, so

* 1 TH/s draws E W, i.e. ``24 × E`` Wh per day;
* 1 PH/s (1000 TH/s) draws ``24 × E`` kWh per day (= 24 000 E Wh).

Hashprice ``H`` is USD per PH/s per day, so 1 TH/s earns ``H / 1000`` USD per day, and per MWh
consumed it earns ``(H / 1000) / (24 × E / 1e6) = H × 1000 / (24 × E)`` USD/MWh.

Hosting fee: a hosting fee billed per kWh (``hosting_usd_per_kwh``) is paid on every kWh on top
of the power price, so the **power price** at which the fleet breaks even is revenue per MWh
minus the hosting fee per MWh. That is the number to compare with a market power price
(ERCOT LMP, ...) when deciding to curtail; it is negative when hosting alone eats the revenue.
"""

from __future__ import annotations

from dataclasses import dataclass

HOURS_PER_DAY = 24


@dataclass(frozen=True)
class Fleet:
    efficiency_j_per_th: float  # J/TH (= W per TH/s)
    power_usd_per_kwh: float  # what the chat pays for power, USD/kWh
    hosting_usd_per_kwh: float = 0.0  # hosting fee billed per kWh on top of power, USD/kWh
    model: str | None = None  # the ASIC the efficiency was taken from (rules/asics.py), if named
    hashrate_ths: float | None = None  # the fleet's size in TH/s, if given: enables $/day, BTC/day
    machines: int | None = None  # how many machines of ``model`` make up ``hashrate_ths``, if so given

    def __post_init__(self) -> None:
        if not self.efficiency_j_per_th > 0:
            raise ValueError(f"efficiency {self.efficiency_j_per_th!r} J/TH must be positive")
        if self.power_usd_per_kwh < 0 or self.hosting_usd_per_kwh < 0:
            raise ValueError("power price and hosting fee must not be negative")
        if self.hashrate_ths is not None and not self.hashrate_ths > 0:
            raise ValueError(f"fleet size {self.hashrate_ths!r} TH/s must be positive")


def kwh_per_ph_day(fleet: Fleet) -> float:
    """Energy 1 PH/s of this fleet uses in a day: 24 × E kWh."""
    return HOURS_PER_DAY * fleet.efficiency_j_per_th


def revenue_usd_per_mwh(hashprice_usd_per_ph_day: float, fleet: Fleet) -> float:
    """Revenue per MWh consumed: hashprice per TH/s per day × 1e6 / (24 × E Wh) = H × 1000 / (24 × E)."""
    per_th_day = hashprice_usd_per_ph_day / 1000
    return per_th_day * 1e6 / (HOURS_PER_DAY * fleet.efficiency_j_per_th)


def breakeven_usd_per_mwh(hashprice_usd_per_ph_day: float, fleet: Fleet) -> float:
    """Power price (USD/MWh) at which revenue pays exactly power + hosting: revenue per MWh
    minus the hosting fee per MWh. Above it the fleet loses money on every MWh."""
    return revenue_usd_per_mwh(hashprice_usd_per_ph_day, fleet) - fleet.hosting_usd_per_kwh * 1000


def cost_usd_per_ph_day(fleet: Fleet) -> float:
    """Power + hosting for 1 PH/s for a day: 24 × E kWh × (power + hosting) USD/kWh."""
    return kwh_per_ph_day(fleet) * (fleet.power_usd_per_kwh + fleet.hosting_usd_per_kwh)


def profit_usd_per_ph_day(hashprice_usd_per_ph_day: float, fleet: Fleet) -> float:
    """Hashprice minus power and hosting cost, USD per PH/s per day (negative = losing money)."""
    return hashprice_usd_per_ph_day - cost_usd_per_ph_day(fleet)


def margin_pct(hashprice_usd_per_ph_day: float, fleet: Fleet) -> float:
    """Share of revenue left after power and hosting, in % (100 = free power, < 0 = loss)."""
    if hashprice_usd_per_ph_day <= 0:
        raise ValueError(f"hashprice {hashprice_usd_per_ph_day!r} must be positive for a margin")
    return profit_usd_per_ph_day(hashprice_usd_per_ph_day, fleet) / hashprice_usd_per_ph_day * 100


def curtail_margin_usd_per_mwh(power_usd_per_mwh: float, breakeven: float) -> float:
    """How far a power price is above breakeven, USD/MWh: positive means every MWh mined now
    loses that much (curtail), negative means mining still earns that much per MWh."""
    return power_usd_per_mwh - breakeven


def fleet_metrics(hashprice_usd_per_ph_day: float, fleet: Fleet) -> dict[str, float]:
    """The per-chat metrics of rules/catalogue.py at one hashprice (USD/PH/day):
    ``breakeven`` (USD/MWh), ``margin`` (%) and ``profit`` (USD/PH/day)."""
    return {
        "breakeven": breakeven_usd_per_mwh(hashprice_usd_per_ph_day, fleet),
        "margin": margin_pct(hashprice_usd_per_ph_day, fleet),
        "profit": profit_usd_per_ph_day(hashprice_usd_per_ph_day, fleet),
    }


def usd_per_mwh_to_cents_per_kwh(usd_per_mwh: float) -> float:
    """$/MWh -> ¢/kWh: 1 MWh = 1000 kWh and $1 = 100¢, so divide by 10 ($45/MWh = 4.5¢/kWh)."""
    return usd_per_mwh / 10


def breakeven_text(usd_per_mwh: float) -> str:
    """``$45.00/MWh (4.50¢/kWh)``: ERCOT's unit, and the one on a power bill."""
    return f"${usd_per_mwh:,.2f}/MWh ({usd_per_mwh_to_cents_per_kwh(usd_per_mwh):,.2f}¢/kWh)"


@dataclass(frozen=True)
class FleetDay:
    """One day of a fleet of ``hashrate_ths`` TH/s at today's hashprice."""

    revenue_usd: float  # H_usd × TH / 1000
    revenue_btc: float | None  # H_btc × TH / 1000 (None when the BTC hashprice is unknown)
    power_kwh: float  # 24 × TH × E / 1000
    cost_usd: float  # power_kwh × (power + hosting)
    profit_usd: float  # revenue_usd - cost_usd


def fleet_day(
    hashprice_usd_per_ph_day: float, hashprice_btc_per_ph_day: float | None, fleet: Fleet
) -> FleetDay | None:
    """What the fleet earns and spends in a day: hashprice is per PH/s (1000 TH/s) per day, so a
    fleet of S TH/s earns ``H × S / 1000`` (USD and BTC alike); it draws ``S × E`` W, i.e.
    ``24 × S × E / 1000`` kWh a day, paid at power + hosting. None without a fleet size."""
    size = fleet.hashrate_ths
    if size is None:
        return None
    ph = size / 1000
    kwh = HOURS_PER_DAY * size * fleet.efficiency_j_per_th / 1000
    cost = kwh * (fleet.power_usd_per_kwh + fleet.hosting_usd_per_kwh)
    revenue = hashprice_usd_per_ph_day * ph
    btc = hashprice_btc_per_ph_day * ph if hashprice_btc_per_ph_day is not None else None
    return FleetDay(revenue, btc, kwh, cost, revenue - cost)
