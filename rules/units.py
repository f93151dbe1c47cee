"""Numbers as users type them in commands: alert numbers, fleet efficiency, power prices. Pure.

One parser for every command argument that is a number, so ``/delete ²``, ``/snooze 2h ①`` and
``/channel @x delete ٣`` all get the same clear answer. Python's ``str.isdigit`` accepts
superscripts and circled digits that ``int`` then refuses, and ``int``/``float`` accept Arabic-Indic
and full-width digits, ``1_000``, ``nan`` and ``inf``; users mean none of these. Only ASCII digits
are numbers here.

Power prices: the fleet's price is stored in USD/kWh, but miners quote it three ways: ``0.045``
($/kWh), ``45/MWh`` ($/MWh, what ERCOT prints) and ``4.5c`` (cents/kWh). A bare number above
$1/kWh is almost certainly $/MWh (a Texas miner writing ``/fleet 18 45``), so it is not stored:
the user gets a question with the likely meaning. Efficiency is J/TH (= W per TH/s); ASICs from
the S9 (~100 J/TH) to 2025's best (~10 J/TH) sit well inside 5..150.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from rules.catalogue import POWER_POINTS

MAX_INDEX = 1_000_000  # no chat has a million alerts; longer digit strings are not an index
MAX_USD_PER_KWH = 1.0  # above this a bare price is asked about, never stored
EFFICIENCY_J_PER_TH = (5.0, 150.0)  # what ASICs do; outside is asked about

_INDEX = re.compile(r"[0-9]{1,7}")
_CHAT_ID = re.compile(r"-?[0-9]{1,16}")
_NUMBER = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,12})?|\.[0-9]{1,12}")
_PRICE = re.compile(
    r"(?P<dollar>\$)?(?P<num>[0-9]{1,12}(?:\.[0-9]{1,12})?|\.[0-9]{1,12})\s*(?P<unit>[a-z/$¢]*)"
)
# unit spellings -> USD per kWh for one of that unit
_PRICE_UNITS: dict[str, float] = {
    "": 1.0,
    "/kwh": 1.0,
    "$/kwh": 1.0,
    "usd/kwh": 1.0,
    "/mwh": 0.001,
    "$/mwh": 0.001,
    "usd/mwh": 0.001,
    "c": 0.01,
    "¢": 0.01,
    "c/kwh": 0.01,
    "¢/kwh": 0.01,
    "cents": 0.01,
    "cent": 0.01,
}


def parse_index(text: str) -> int | None:
    """A 1-based list position (``/delete 2``): ASCII digits only, 1..1,000,000; None otherwise."""
    text = text.strip()
    if not _INDEX.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_INDEX else None


def parse_chat_id(text: str) -> int | None:
    """A numeric Telegram chat id (``-1001234567890``, ``4242``): ASCII digits with an optional
    minus; None otherwise (an ``@name`` is not a number)."""
    text = text.strip()
    return int(text) if _CHAT_ID.fullmatch(text) else None


def parse_number(text: str) -> float | None:
    """A plain non-negative decimal (``18``, ``0.045``, ``.5``): ASCII digits only, no sign, no
    exponent, no ``nan``/``inf``/``1_000``; None otherwise."""
    text = text.strip()
    return float(text) if _NUMBER.fullmatch(text) else None


def parse_price(text: str) -> tuple[float, bool] | None:
    """A power price -> (USD/kWh, unit_written). ``0.045``, ``$0.045/kWh``, ``45/MWh``,
    ``$45/MWh``, ``45$/MWh``, ``4.5c``, ``4.5¢/kWh``; None when it is not a price."""
    m = _PRICE.fullmatch(text.strip().lower())
    if not m:
        return None
    unit = m.group("unit")
    if unit not in _PRICE_UNITS:
        return None
    if m.group("dollar") and unit.startswith("$"):
        return None  # "$45$/MWh"
    if m.group("dollar") and unit in ("c", "¢", "c/kwh", "¢/kwh", "cents", "cent"):
        return None  # "$4.5c": dollars or cents?
    return float(m.group("num")) * _PRICE_UNITS[unit], bool(unit)


def money_per_kwh(usd_per_kwh: float) -> str:
    """``$0.045/kWh``: up to six decimals, trailing zeros dropped."""
    text = f"{usd_per_kwh:,.6f}".rstrip("0").rstrip(".")
    return f"${text}/kWh"


def _g(value: float) -> str:
    return f"{value:.6g}"


class FleetInputError(ValueError):
    """The /fleet arguments are not understood: ``problem`` says why."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class FleetQuestion(FleetInputError):
    """Understood, but implausible: ``problem`` asks, ``suggestions`` are argument lists the user
    probably meant (shown as commands). Nothing is stored."""

    def __init__(self, problem: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(problem)
        self.suggestions = tuple(suggestions)


@dataclass(frozen=True)
class FleetInput:
    efficiency_j_per_th: float
    power_usd_per_kwh: float
    hosting_usd_per_kwh: float = 0.0
    hub: str | None = None  # upper case ERCOT settlement point, e.g. "HB_WEST"


def _price_question(what: str, raw: str, usd_per_kwh: float, unit_written: bool, rebuild: str) -> None:
    """Raise a FleetQuestion for a price above $1/kWh. ``rebuild`` is the command with ``{}`` where
    the price goes."""
    if unit_written:
        raise FleetQuestion(
            f"{raw} is {money_per_kwh(usd_per_kwh)} for {what}: more than mining can ever pay "
            f"(fleets pay about $0.02–0.10/kWh). Check the number and its unit."
        )
    number = float(raw.lstrip("$"))
    suggestions = [rebuild.format(f"{_g(number)}/MWh")]
    meaning = f"${_g(number)}/MWh ({money_per_kwh(number / 1000)})"
    if number <= 30:  # 30 cents/kWh is about the most anyone mines at; 45 is surely $/MWh
        suggestions.append(rebuild.format(f"{_g(number)}c"))
        meaning += f" or {_g(number)} cents/kWh ({money_per_kwh(number / 100)})"
    raise FleetQuestion(
        f"{raw} would be ${_g(number)}/kWh for {what}, far above any fleet's power price. Did you mean "
        f"{meaning}?",
        suggestions,
    )


def parse_fleet(args: Sequence[str], points: Collection[str] = POWER_POINTS) -> FleetInput:
    """``/fleet J/TH PRICE [hosting PRICE] [hub POINT]`` -> FleetInput. Raises FleetInputError for
    what is not understood and FleetQuestion (a subclass) for what is understood but implausible:
    a price above $1/kWh, an efficiency outside 5..150 J/TH, a hub not among ``points`` (lower
    case ERCOT settlement points)."""
    if len(args) < 2:
        raise FleetInputError("give efficiency (J/TH) and power price")
    efficiency = parse_number(args[0].lower().removesuffix("j/th"))
    if efficiency is None or efficiency == 0:
        raise FleetInputError(f"{args[0]!r} is not an efficiency in J/TH, like 18")
    power = parse_price(args[1])
    if power is None:
        raise FleetInputError(f"{args[1]!r} is not a power price, like 0.045, 45/MWh or 4.5c")
    hosting: tuple[float, bool] = (0.0, False)
    hosting_raw = ""
    hub: str | None = None
    rest = list(args[2:])
    while rest:
        word = rest.pop(0).lower()
        if word == "hosting" and rest:
            hosting_raw = rest.pop(0)
            parsed = parse_price(hosting_raw)
            if parsed is None:
                raise FleetInputError(f"{hosting_raw!r} is not a hosting fee, like 0.01, 10/MWh or 1c")
            hosting = parsed
        elif word == "hub" and rest:
            hub = rest.pop(0).upper()
        else:
            raise FleetInputError(f"unexpected {word!r}")

    def command(eff: str, price: str, host: str | None = None) -> str:
        parts = [eff, price]
        if hosting_raw or host:
            parts += ["hosting", host if host is not None else hosting_raw]
        if hub:
            parts += ["hub", hub]
        return " ".join(parts)

    lo, hi = EFFICIENCY_J_PER_TH
    if not lo <= efficiency <= hi:
        swapped = parse_number(args[1])
        back = parse_price(args[0])
        if swapped is not None and lo <= swapped <= hi and back is not None and back[0] <= MAX_USD_PER_KWH:
            raise FleetQuestion(
                f"{_g(efficiency)} J/TH is not what an ASIC does (about {lo:g}–{hi:g}). Did you swap "
                "efficiency and price?",
                [command(args[1], args[0])],
            )
        hint = (
            f" If that is J/GH, it is {_g(efficiency * 1000)} J/TH."
            if lo <= efficiency * 1000 <= hi
            else " If that is the machine's power draw in W, divide it by its hashrate in TH/s."
            if efficiency > hi
            else ""
        )
        suggestions = [command(_g(efficiency * 1000), args[1])] if lo <= efficiency * 1000 <= hi else []
        raise FleetQuestion(
            f"{_g(efficiency)} J/TH is outside what ASICs do (about {lo:g}–{hi:g} J/TH).{hint}", suggestions
        )
    if power[0] > MAX_USD_PER_KWH:
        _price_question("power", args[1], power[0], power[1], command(args[0], "{}"))
    if hosting[0] > MAX_USD_PER_KWH:
        _price_question("hosting", hosting_raw, hosting[0], hosting[1], command(args[0], args[1], "{}"))
    if hub is not None and hub.lower() not in points:
        raise FleetInputError(
            f"{hub} is not an ERCOT hub or load zone I know: use one of "
            + ", ".join(sorted(p.upper() for p in points))
        )
    return FleetInput(efficiency, power[0], hosting[0], hub)
