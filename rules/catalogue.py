"""The metric catalogue: the names users write in rules, their units and how values are shown.

Every observation a watcher emits, and every rule a chat sets, names a metric from here. Values
are stored in the unit listed (difficulty in T = difficulty / 1e12, times as unix seconds, power
prices in USD/MWh). Pure: no I/O.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from rules.isos import ISO_HUBS


@dataclass(frozen=True)
class MetricInfo:
    name: str  # "difficulty.next_change"
    unit: str  # "%", "T", "EH/s", "USD", "USD/PH/day", "BTC/PH/day", "sats/TH/day", "blocks", "time"...
    label: str  # short human label: "Projected difficulty change"
    description: str  # one line incl. formula/meaning
    scope: str  # "network" | "power" | "stock" | "miner" | "chat" (per-chat derived, needs /fleet)
    decimals: int
    signed: bool = False  # show a "+" on positive values (changes, margins)
    # Absolute plausibility bounds (inclusive, in ``unit``) of a value a source states: outside is
    # garbage, whatever was stored before (the jump guard needs a stored value; these do not). None
    # for values derived from bounded inputs (hashprice) and for per-chat values.
    bounds: tuple[float, float] | None = None


# Sources may stamp a value this far in the future (clock skew); later is garbage.
MAX_CLOCK_SKEW_S = 300
GENESIS_TIME = 1231006505.0  # block 0, 2009-01-03
YEAR_2100 = 4102444800.0
# ERCOT's system-wide offer cap is $5,000/MWh and real-time adders add to it; prices far outside
# this band are a broken file, not a market event.
POWER_PRICE_BOUNDS = (-10_000.0, 50_000.0)
# ERCOT system load, MW: the record is ~86 GW (2023-24); a value outside this band is a broken file.
GRID_LOAD_BOUNDS = (1_000.0, 200_000.0)


# ERCOT settlement points we know (data-sources.md): trading hubs and load zones, lower case.
POWER_HUBS: tuple[str, ...] = (
    "hb_north",
    "hb_west",
    "hb_south",
    "hb_houston",
    "hb_pan",
    "hb_busavg",
    "hb_hubavg",
)
POWER_LOAD_ZONES: tuple[str, ...] = (
    "lz_west",
    "lz_north",
    "lz_south",
    "lz_houston",
    "lz_aen",
    "lz_cps",
    "lz_lcra",
    "lz_raybn",
)
POWER_POINTS: tuple[str, ...] = POWER_HUBS + POWER_LOAD_ZONES

# Suffix of a power metric -> (label part, description part).
POWER_SERIES: dict[str, tuple[str, str]] = {
    "": ("real-time price", "ERCOT real-time settlement point price (15-minute interval)"),
    "avg1h": ("1h average price", "average of the real-time settlement point price over the last hour"),
    "avg24h": ("24h average price", "average of the real-time settlement point price over the last 24 hours"),
    "max24h": ("24h maximum price", "highest real-time settlement point price over the last 24 hours"),
}

# Listed miners whose share price is a metric (stock.<ticker>, lower case): the filings watch list.
STOCK_TICKERS: tuple[str, ...] = (
    "mara", "riot", "clsk", "corz", "iren", "bitf", "wulf",
    "hut", "cifr", "btdr", "hive", "btbt", "glxy", "apld",
)  # fmt: skip

_BASE: tuple[MetricInfo, ...] = (
    MetricInfo(
        "difficulty",
        "T",
        "Difficulty",
        "Current network difficulty, in T (difficulty / 1e12)",
        "network",
        2,
        bounds=(1e-24, 1e7),  # any positive difficulty (regtest's is 4.7e-22 T) up to ~100,000x 2024's
    ),
    MetricInfo(
        "difficulty.next_change",
        "%",
        "Projected difficulty change",
        "Estimated change at the next retarget from the block times of the current epoch",
        "network",
        2,
        signed=True,
        bounds=(-75.0, 300.0),  # the protocol's retarget clamp
    ),
    MetricInfo(
        "difficulty.progress",
        "%",
        "Epoch progress",
        "Share of the current 2016-block difficulty epoch already mined",
        "network",
        1,
        bounds=(0.0, 100.0),
    ),
    MetricInfo(
        "difficulty.blocks_left",
        "blocks",
        "Blocks to retarget",
        "Blocks left until the next difficulty adjustment",
        "network",
        0,
        bounds=(1.0, 2016.0),
    ),
    MetricInfo(
        "difficulty.retarget_eta",
        "time",
        "Estimated retarget time",
        "Estimated time of the next difficulty adjustment (now + blocks left × recent block time)",
        "network",
        0,
        bounds=(GENESIS_TIME, YEAR_2100),
    ),
    MetricInfo(
        "difficulty.last_change",
        "%",
        "Last difficulty change",
        "Change applied at the most recent retarget",
        "network",
        2,
        signed=True,
        bounds=(-75.0, 300.0),
    ),
    MetricInfo(
        "hashrate",
        "EH/s",
        "Network hashrate",
        "Estimated network hashrate (recent blocks)",
        "network",
        1,
        bounds=(0.0, 1e6),  # ~1,000x 2025's
    ),
    MetricInfo(
        "price",
        "USD",
        "Bitcoin price",
        "Spot BTC price in US dollars",
        "network",
        0,
        bounds=(100.0, 1e8),  # below $100 last in 2013; 1e8 is ~1,000x 2025's
    ),
    MetricInfo(
        "fees",
        "BTC",
        "Fees per block",
        "Average transaction fees per block over the last 144 blocks",
        "network",
        4,
        bounds=(0.0, 100.0),  # a 144-block average; the highest day ever was a few BTC
    ),
    MetricInfo(
        "fee_share",
        "%",
        "Fee share of reward",
        "fees / (fees + subsidy) × 100 over the last 144 blocks",
        "network",
        2,
        bounds=(0.0, 100.0),
    ),
    MetricInfo(
        "height",
        "blocks",
        "Block height",
        "Height of the chain tip",
        "network",
        0,
        bounds=(0.0, 1e8),  # testnet3 passed 4 million; 1e8 blocks is ~1,900 years of mainnet
    ),
    MetricInfo(
        "subsidy",
        "BTC",
        "Block subsidy",
        "Current block subsidy (halves every 210,000 blocks)",
        "network",
        8,
        bounds=(0.0, 50.0),
    ),
    MetricInfo(
        "hashprice",
        "USD/PH/day",
        "Hashprice",
        "Mining revenue per PH/s per day: (subsidy + fees) × price × 1e15 × 86,400 / (difficulty × 2^32)",
        "network",
        2,
    ),
    MetricInfo(
        "hashprice.btc",
        "BTC/PH/day",
        "Hashprice in BTC",
        "Mining revenue per PH/s per day in BTC: (subsidy + fees) × 1e15 × 86,400 / (difficulty × 2^32)",
        "network",
        8,
    ),
    MetricInfo(
        "hashprice.sats",
        "sats/TH/day",
        "Hashprice in sats",
        "Mining revenue per TH/s per day in sats: hashprice in BTC/PH/day × 1e8 / 1000",
        "network",
        1,
    ),
    MetricInfo(
        "hashprice.next",
        "USD/PH/day",
        "Hashprice after retarget",
        "Hashprice once the projected difficulty change applies: hashprice / (1 + next_change / 100)",
        "network",
        2,
    ),
    MetricInfo(
        "breakeven",
        "USD/MWh",
        "Breakeven power price",
        "Power price at which revenue pays power and hosting: hashprice / (J/TH × 0.024) − hosting × 1000",
        "chat",
        2,
    ),
    MetricInfo(
        "margin",
        "%",
        "Mining margin",
        "(hashprice − cost) / hashprice × 100, cost = (/fleet power price + hosting) × J/TH × 24 per PH/day",
        "chat",
        1,
        signed=True,
    ),
    MetricInfo(
        "profit",
        "USD/PH/day",
        "Profit per PH",
        "hashprice − (/fleet power price + hosting, USD/kWh) × J/TH × 24 kWh per PH/day",
        "chat",
        2,
        signed=True,
    ),
    MetricInfo(
        "curtail.margin",
        "USD/MWh",
        "Curtailment margin",
        "Real-time power price at the chat's hub minus its breakeven; above 0 mining loses money",
        "chat",
        2,
        signed=True,
    ),
    MetricInfo(
        "ercot.load",
        "MW",
        "ERCOT system load",
        "ERCOT actual system demand, newest 5-minute value (supply-demand dashboard)",
        "power",
        0,
        bounds=GRID_LOAD_BOUNDS,
    ),
    MetricInfo(
        "ercot.load.forecast",
        "MW",
        "ERCOT forecast peak today",
        "Highest ERCOT load forecast for the rest of today (its hour ending, CPT, is shown with it)",
        "power",
        0,
        bounds=GRID_LOAD_BOUNDS,
    ),
    MetricInfo(
        "ercot.prc",
        "MW",
        "ERCOT physical responsive capability",
        "ERCOT PRC: online reserves able to respond within minutes; EEA levels follow it down",
        "power",
        0,
        bounds=(0.0, 200_000.0),
    ),
    MetricInfo(
        "ercot.load.month_peak",
        "MW",
        "ERCOT month's peak so far",
        "Highest 15-minute ERCOT load interval of the month so far (4CP: June-September)",
        "power",
        0,
        bounds=GRID_LOAD_BOUNDS,
    ),
)


def _power_info(point: str, series: str) -> MetricInfo:
    label_part, desc_part = POWER_SERIES[series]
    name = f"power.{point}" + (f".{series}" if series else "")
    return MetricInfo(
        name=name,
        unit="USD/MWh",
        label=f"{point.upper()} {label_part}",
        description=f"{desc_part} at ERCOT {point.upper()}",
        scope="power",
        decimals=2,
        bounds=POWER_PRICE_BOUNDS,
    )


def _dam_info(point: str) -> MetricInfo:
    return MetricInfo(
        name=f"dam.{point}",
        unit="USD/MWh",
        label=f"{point.upper()} day-ahead price",
        description=f"ERCOT day-ahead market price of the current hour at {point.upper()} (NP4-190-CD)",
        scope="power",
        decimals=2,
        bounds=POWER_PRICE_BOUNDS,
    )


def _stock_info(ticker: str) -> MetricInfo:
    return MetricInfo(
        name=f"stock.{ticker}",
        unit="USD",
        label=f"{ticker.upper()} share price",
        description=(
            f"{ticker.upper()} last regular-session trade in US dollars (Yahoo, Finnhub or Nasdaq, "
            "the source named on each value); outside the session, the last close"
        ),
        scope="stock",
        decimals=2,
    )


# Derived from the stock price, the cover's share count and the debt ledger (rules/equity.py).
EQUITY_FAMILIES: dict[str, tuple[str, str, int, bool, str]] = {
    # family: (unit, label, decimals, signed, description with formula)
    "mcap": (
        "USD",
        "market cap",
        0,
        False,
        "market capitalisation: shares outstanding (latest 10-Q/10-K cover) × share price",
    ),
    "convert": (
        "%",
        "distance to conversion price",
        1,
        True,
        "share price ÷ outstanding-weighted conversion price of its convertible notes − 1, × 100 "
        "(positive = in the money; only notes with a stated conversion price)",
    ),
    "dilution": (
        "%",
        "dilution if converted",
        2,
        False,
        "% more shares if every outstanding convertible converted: "
        "Σ principal ÷ 1000 × conversion rate ÷ shares outstanding × 100",
    ),
    "leverage": (
        "%",
        "leverage",
        1,
        False,
        "debt principal outstanding (latest filings) ÷ market cap × 100",
    ),
}


def _equity_info(family: str, ticker: str) -> MetricInfo:
    unit, label, decimals, signed, description = EQUITY_FAMILIES[family]
    return MetricInfo(
        name=f"{family}.{ticker}",
        unit=unit,
        label=f"{ticker.upper()} {label}",
        description=f"{ticker.upper()} {description}",
        scope="stock",
        decimals=decimals,
        signed=signed,
    )


# The miner book's production metrics (issue 19, rules/production.py): read from each watched
# miner's production updates and earnings releases; one value per release, at its filing time.
PRODUCTION_FAMILIES: dict[str, tuple[str, str, int, str, tuple[float, float]]] = {
    # family: (unit, label, decimals, description with formula, bounds)
    "hashrate": (
        "EH/s",
        "hash rate",
        2,
        "hash rate as its latest release states it (operational, energized, deployed ...: the "
        "release's qualifier is kept with each figure)",
        (0.0, 5_000.0),
    ),
    "held": (
        "BTC",
        "BTC held",
        0,
        "bitcoin held as the release states it (incl. pledged/loaned when it says so)",
        (0.0, 1_000_000.0),
    ),
    "mined": (
        "BTC",
        "BTC mined",
        0,
        "bitcoin mined in the release's period (a month or a quarter)",
        (0.0, 100_000.0),
    ),
    "efficiency": ("J/TH", "fleet efficiency", 2, "fleet efficiency in joules per terahash", (0.0, 200.0)),
    "share": (
        "%",
        "network hash rate share",
        2,
        "share of network hash rate: its EH/s ÷ the network's hashrate (EH/s) at the filing's time × 100",
        (0.0, 100.0),
    ),
}  # fmt: skip


def _production_info(family: str, ticker: str) -> MetricInfo:
    unit, label, decimals, description, bounds = PRODUCTION_FAMILIES[family]
    return MetricInfo(
        name=f"{family}.{ticker}",
        unit=unit,
        label=f"{ticker.upper()} {label}",
        description=f"{ticker.upper()} {description}",
        scope="miner",
        decimals=decimals,
        bounds=bounds,
    )


def _debt_info(ticker: str) -> MetricInfo:
    return MetricInfo(
        name=f"debt.{ticker}",
        unit="USD",
        label=f"{ticker.upper()} debt",
        description=(
            f"{ticker.upper()} total debt principal outstanding (not carrying amount), from its filings: "
            "the latest 10-Q/10-K debt footnote plus the issuances filed since (/debt shows each tranche)"
        ),
        scope="debt",
        decimals=0,
        bounds=(0.0, 1e12),
    )


CATALOGUE: dict[str, MetricInfo] = {m.name: m for m in _BASE}
CATALOGUE.update(
    {info.name: info for info in (_power_info(p, s) for p in POWER_POINTS for s in POWER_SERIES)}
)
CATALOGUE.update({info.name: info for info in map(_dam_info, POWER_POINTS)})
CATALOGUE.update(
    {
        h.metric: MetricInfo(
            name=h.metric,
            unit=h.unit,
            label=f"{h.label} real-time price",
            description=f"{h.label}: real-time LMP ({h.location}) via gridstatus, {h.currency}/MWh",
            scope="power",
            decimals=2,
            bounds=POWER_PRICE_BOUNDS,
        )
        for h in ISO_HUBS.values()
    }
)
CATALOGUE.update({info.name: info for info in map(_stock_info, STOCK_TICKERS)})
CATALOGUE.update(
    {info.name: info for info in (_equity_info(f, t) for f in EQUITY_FAMILIES for t in STOCK_TICKERS)}
)
CATALOGUE.update(
    {info.name: info for info in (_production_info(f, t) for f in PRODUCTION_FAMILIES for t in STOCK_TICKERS)}
)
CATALOGUE.update({info.name: info for info in map(_debt_info, STOCK_TICKERS)})


def implausible(metric: str, value: float) -> str | None:
    """Why ``value`` cannot be a real ``metric`` (one line), or None when it is within the metric's
    bounds or the metric has none. Any ``power.<point>`` series, catalogued or not, has the power
    price bounds."""
    if not math.isfinite(value):
        return f"{metric} {value:g} is not a finite number"
    info = lookup(metric)
    bounds = info.bounds if info is not None else POWER_PRICE_BOUNDS if POWER_NAME.match(metric) else None
    if bounds is None or bounds[0] <= value <= bounds[1]:
        return None
    unit = info.unit if info is not None else "USD/MWh"
    shown = f"{value:.0f}" if value.is_integer() and abs(value) < 1e15 else f"{value:g}"
    return f"{metric} {shown} is outside the plausible {bounds[0]:g}..{bounds[1]:g} {unit}"


POWER_NAME = re.compile(r"^power\.([a-z][a-z0-9_]*)(?:\.(avg1h|avg24h|max24h))?$")
STOCK_NAME = re.compile(r"^(?:stock|mcap|convert|dilution|leverage)\.([a-z][a-z0-9]*)$")
DEBT_NAME = re.compile(r"^debt\.([a-z][a-z0-9]*)$")


def held_until_next_filing(metric: str) -> bool:
    """A value that holds until the next filing changes it (``debt.<ticker>``): never "stale"."""
    return DEBT_NAME.match(metric) is not None


def lookup(name: str) -> MetricInfo | None:
    """The catalogue entry for ``name`` (case-insensitive), or None.

    ``power.<point>`` and ``power.<point>.avg1h|.avg24h|.max24h`` exist for every ERCOT hub and load
    zone in :data:`POWER_POINTS`; ``stock.<ticker>`` and the derived ``mcap``, ``convert``,
    ``dilution`` and ``leverage.<ticker>`` (:data:`EQUITY_FAMILIES`) for every miner in
    :data:`STOCK_TICKERS` (they are all in :data:`CATALOGUE`)."""
    return CATALOGUE.get(name.strip().lower())


def suggest(name: str, limit: int = 3) -> list[str]:
    """Close catalogue names for a misspelt ``name`` ("did you mean ..."), best first."""
    key = name.strip().lower()
    if not key or limit <= 0:
        return []
    names = list(CATALOGUE)
    close = difflib.get_close_matches(key, names, n=limit, cutoff=0.6)
    if len(close) < limit:
        # "next_change" -> "difficulty.next_change"; "west" -> "power.hb_west", "power.lz_west"
        for candidate in names:
            if candidate in close:
                continue
            parts = re.split(r"[._]", candidate)
            if key in candidate.split(".") or (len(key) >= 3 and key in parts):
                close.append(candidate)
            if len(close) >= limit:
                break
    return close[:limit]


_USD_SUFFIX = {"USD": "", "USD/PH/day": "/PH/day", "USD/MWh": "/MWh"}
_CAD_SUFFIX = {"CAD/MWh": "/MWh"}


def _strip_zeros(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(metric: str, value: float, tz: tzinfo = UTC) -> str:
    """``value`` of ``metric`` with its unit, for chat messages: ``"+3.12%"``, ``"$54.21/PH/day"``,
    ``"$97,120"``, ``"2026-11-30 14:05 UTC"``, ``"1,234 blocks"``, ``"123.45 T"``, ``"$42.10/MWh"``.

    An unknown metric is shown as a plain number rather than raising."""
    info = lookup(metric)
    if info is None:
        return _strip_zeros(f"{value:,.4f}")
    d = info.decimals
    unit = info.unit
    if unit == "time":
        return datetime.fromtimestamp(value, tz).strftime("%Y-%m-%d %H:%M %Z")
    if round(value, d) == 0:
        value = 0.0  # no "-0.00%" or "+$0.00"
    if unit == "%":
        plus = "+" if info.signed and value > 0 else ""
        return f"{plus}{value:,.{d}f}%"
    if unit in _USD_SUFFIX:
        text = f"{abs(value):,.{d}f}"
        sign = "-" if value < 0 else ("+" if info.signed and value > 0 else "")
        return f"{sign}${text}{_USD_SUFFIX[unit]}"
    if unit in _CAD_SUFFIX:
        sign = "-" if value < 0 else ""
        return f"{sign}C${abs(value):,.{d}f}{_CAD_SUFFIX[unit]}"
    if unit.startswith("BTC"):
        return f"{_strip_zeros(f'{value:,.{d}f}')} {unit}"
    if unit == "blocks":
        text = f"{value:,.0f}"
        return f"{text} block" if text == "1" else f"{text} blocks"
    return f"{value:,.{d}f} {unit}"
