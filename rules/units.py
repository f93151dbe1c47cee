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

from rules import asics
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
    model: str | None = None  # the ASIC named instead of an efficiency ("Antminer S21 XP")
    hashrate_ths: float | None = None  # fleet size, TH/s
    machines: int | None = None  # machines of ``model`` (then hashrate_ths = machines × its TH/s)


FLEET_FIELDS = ("hosting", "hub", "size", "machines", "power")
MAX_FLEET_THS = 1e9  # 1,000 EH/s: more than the whole network; a bigger size is a typo
MAX_MACHINES = 10_000_000
_SIZE = re.compile(r"(?P<num>[0-9]{1,12}(?:\.[0-9]{1,12})?|\.[0-9]{1,12})\s*(?P<unit>[tpe]h(?:/s)?)?")
_SIZE_UNITS = {"th": 1.0, "ph": 1e3, "eh": 1e6}


def parse_size(text: str) -> float | None:
    """A fleet size -> TH/s: ``500PH``, ``500 PH/s``, ``1.2EH``, ``800TH``; the unit is required
    (a bare ``500`` could be any of them); None otherwise."""
    m = _SIZE.fullmatch(text.strip().lower().replace(" ", ""))
    if not m or not m.group("unit"):
        return None
    value = float(m.group("num")) * _SIZE_UNITS[m.group("unit")[:2]]
    return value if value > 0 else None


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


def _efficiency_word(word: str) -> tuple[float, str | None] | None:
    """``18`` / ``18J/TH`` -> (18, None); an ASIC model -> (its J/TH, its name); None otherwise."""
    number = parse_number(word.lower().removesuffix("j/th"))
    if number is not None:
        return number, None
    asic = asics.lookup(word)
    return (asic.efficiency_j_per_th, asic.model) if asic else None


def _take_model(args: list[str]) -> tuple[float, str | None] | None:
    """The efficiency at the head of ``args`` (consumed): a number, a model, or a model written in
    two words (``S21 XP``)."""
    if len(args) >= 2 and parse_number(args[0]) is None:
        joined = asics.lookup(args[0] + args[1])
        if joined is not None:
            del args[:2]
            return joined.efficiency_j_per_th, joined.model
    got = _efficiency_word(args[0])
    if got is not None:
        del args[0]
    return got


def parse_fleet(
    args: Sequence[str], points: Collection[str] = POWER_POINTS, current: FleetInput | None = None
) -> FleetInput:
    """``/fleet J/TH|MODEL PRICE [hosting PRICE] [hub POINT] [size 500PH | machines N]`` -> FleetInput.

    With a ``current`` fleet, any field may be given alone (``hub HB_WEST``, ``hosting 0.01``,
    ``power 0.05``, ``S21XP``) and every field not named keeps its current value: changing one never
    silently resets the others. ``hub off`` / ``size off`` clear those. Raises FleetInputError for
    what is not understood and FleetQuestion (a subclass) for what is understood but implausible:
    a price above $1/kWh, an efficiency outside 5..150 J/TH, a hub not among ``points`` (lower
    case ERCOT settlement points)."""
    rest = list(args)
    if not rest:
        raise FleetInputError("give efficiency (J/TH) or an ASIC model, and power price")
    eff_raw = price_raw = ""
    efficiency: float | None = None
    model: str | None = None
    power: tuple[float, bool] | None = None
    if rest[0].lower() not in FLEET_FIELDS:
        eff_raw = rest[0]
        got = _take_model(rest)
        if got is None or got[0] == 0:
            known = ", ".join(_short(a.model) for a in asics.models()[:4])
            raise FleetInputError(
                f"{eff_raw!r} is not an efficiency in J/TH, like 18, nor an ASIC model I know (e.g. {known})"
            )
        efficiency, model = got
        if model is not None:
            eff_raw = _short(model)
        if rest and rest[0].lower() not in FLEET_FIELDS:
            price_raw = rest.pop(0)
            power = parse_price(price_raw)
            if power is None:
                raise FleetInputError(f"{price_raw!r} is not a power price, like 0.045, 45/MWh or 4.5c")
        elif current is None:
            raise FleetInputError("give efficiency (J/TH) and power price")
    elif current is None:
        raise FleetInputError(
            f"there is no fleet yet to change its {rest[0].lower()}: set efficiency and price first"
        )
    hosting: tuple[float, bool] | None = None
    hosting_raw = ""
    hub: str | None = None
    hub_off = False
    size: float | None = None
    size_off = False
    machines: int | None = None
    while rest:
        word = rest.pop(0).lower()
        if word == "hosting" and rest:
            hosting_raw = rest.pop(0)
            parsed = parse_price(hosting_raw)
            if parsed is None:
                raise FleetInputError(f"{hosting_raw!r} is not a hosting fee, like 0.01, 10/MWh or 1c")
            hosting = parsed
        elif word == "power" and rest:
            price_raw = rest.pop(0)
            power = parse_price(price_raw)
            if power is None:
                raise FleetInputError(f"{price_raw!r} is not a power price, like 0.045, 45/MWh or 4.5c")
        elif word == "hub" and rest:
            hub = rest.pop(0).upper()
            hub_off = hub == "OFF"
        elif word == "size" and rest:
            raw = rest.pop(0)
            if rest and parse_number(raw) is not None and rest[0].lower().rstrip("/s") in _SIZE_UNITS:
                raw += rest.pop(0)  # "500 PH"
            size_off = raw.lower() == "off"
            size = None if size_off else parse_size(raw)
            if not size_off and (size is None or size > MAX_FLEET_THS):
                raise FleetInputError(f"{raw!r} is not a fleet size, like 500PH, 800TH or 1.2EH")
        elif word == "machines" and rest:
            raw = rest.pop(0)
            count = parse_index(raw)
            if count is None or count > MAX_MACHINES:
                raise FleetInputError(f"{raw!r} is not a number of machines, like 2000")
            machines = count
        else:
            raise FleetInputError(f"unexpected {word!r}")
    efficiency_given = efficiency is not None
    if efficiency is None:  # a change of other fields: the current efficiency and model stay
        assert current is not None
        efficiency, model = current.efficiency_j_per_th, current.model
        eff_raw = _short(model) if model else f"{efficiency:g}"
    if power is None:
        assert current is not None
        power = (current.power_usd_per_kwh, True)
        price_raw = price_raw or _g(current.power_usd_per_kwh)

    def command(eff: str, price: str, host: str | None = None) -> str:
        parts = [eff, price]
        if hosting_raw or host:
            parts += ["hosting", host if host is not None else hosting_raw]
        if hub:
            parts += ["hub", hub]
        return " ".join(parts)

    lo, hi = EFFICIENCY_J_PER_TH
    if not lo <= efficiency <= hi:
        swapped = parse_number(price_raw)
        back = parse_price(eff_raw)
        if swapped is not None and lo <= swapped <= hi and back is not None and back[0] <= MAX_USD_PER_KWH:
            raise FleetQuestion(
                f"{_g(efficiency)} J/TH is not what an ASIC does (about {lo:g}–{hi:g}). Did you swap "
                "efficiency and price?",
                [command(price_raw, eff_raw)],
            )
        hint = (
            f" If that is J/GH, it is {_g(efficiency * 1000)} J/TH."
            if lo <= efficiency * 1000 <= hi
            else " If that is the machine's power draw in W, divide it by its hashrate in TH/s."
            if efficiency > hi
            else ""
        )
        suggestions = [command(_g(efficiency * 1000), price_raw)] if lo <= efficiency * 1000 <= hi else []
        raise FleetQuestion(
            f"{_g(efficiency)} J/TH is outside what ASICs do (about {lo:g}–{hi:g} J/TH).{hint}", suggestions
        )
    if power[0] > MAX_USD_PER_KWH:
        _price_question("power", price_raw, power[0], power[1], command(eff_raw, "{}"))
    if hosting is not None and hosting[0] > MAX_USD_PER_KWH:
        _price_question("hosting", hosting_raw, hosting[0], hosting[1], command(eff_raw, price_raw, "{}"))
    if hub is not None and not hub_off and hub.lower() not in points:
        raise FleetInputError(
            f"{hub} is not a hub or load zone I know: use an ERCOT point ("
            + ", ".join(sorted(p.upper() for p in points if "." not in p))
            + ") or another grid's hub as ISO.HUB, e.g. NYISO.WEST"
        )
    given = (efficiency, model, efficiency_given)
    return _merged(current, given, power[0], hosting, (hub, hub_off), (size, size_off), machines)


def _short(model: str) -> str:
    """``"Antminer S21 XP"`` -> ``"S21XP"``: the spelling a command takes."""
    return asics.normalise(model)


def _merged(
    current: FleetInput | None,
    efficiency: tuple[float, str | None, bool],
    power: float,
    hosting: tuple[float, bool] | None,
    hub: tuple[str | None, bool],
    size: tuple[float | None, bool],
    machines: int | None,
) -> FleetInput:
    """The new fleet: what was given, and for the rest what ``current`` had. ``efficiency`` is
    (J/TH, model, given in this command); ``hub`` and ``size`` are (value, "off" given)."""
    j_per_th, model, efficiency_given = efficiency
    hub_value, hub_off = hub
    size_value, size_off = size
    hashrate = current.hashrate_ths if current else None
    count = current.machines if current else None
    if efficiency_given and model is None:
        count = None  # a number replaced the model: the size stays, in TH/s
    if size_off:
        hashrate = count = None
    if size_value is not None:
        hashrate, count = size_value, None
    if machines is not None:
        count = machines
    if count is not None:  # machines of a model (a new model keeps the machine count)
        asic = asics.lookup(model) if model else None
        if asic is None:
            raise FleetInputError(
                "machines needs an ASIC model to know each machine's TH/s, e.g. /fleet S21XP 0.045 "
                f"machines {count}; or give the size, e.g. size 500PH"
            )
        hashrate = count * asic.hashrate_ths
    if hashrate is not None and hashrate > MAX_FLEET_THS:
        raise FleetInputError(f"{hashrate:,.0f} TH/s is more than the whole network")
    return FleetInput(
        j_per_th,
        power,
        hosting[0] if hosting is not None else (current.hosting_usd_per_kwh if current else 0.0),
        None if hub_off else (hub_value or (current.hub if current else None)),
        model,
        hashrate,
        count,
    )
