"""The one-line rule language users type after ``/alert``, and its canonical spelling.

    METRIC OP VALUE[unit] [for DURATION] [every DURATION] [margin N%]
    METRIC rises|drops N% in DURATION [every DURATION]
    retarget | curtail | digest HH:MM | filings [TICKER...] [KIND...] [>= AMOUNT] | converts [TICKER...]
    4cp | ercot.grid | curtail tomorrow
    debt [TICKER...] | maturity [TICKER...] < DURATION

A leading ``!`` marks the rule severe (it passes quiet hours). :func:`parse_rule` raises only
:class:`RuleError`, whose text is a chat reply naming the problem, with a correct example and
"did you mean" suggestions. :func:`format_rule` writes the canonical text that storage keeps:
``parse_rule(format_rule(rule)) == rule``. Pure: no I/O.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Literal

from rules.catalogue import (
    CATALOGUE,
    POWER_NAME,
    POWER_POINTS,
    STOCK_NAME,
    STOCK_TICKERS,
    MetricInfo,
    lookup,
    suggest,
)
from rules.durations import DurationError, format_duration, parse_duration
from rules.events import ALL_KINDS, KIND_ALIASES, resolve_kind
from rules.model import ChangeRule, EventRule, Op, Rule, ThresholdRule

DEFAULT_EXAMPLE = "/alert difficulty.next_change > 3%"
MAX_DURATION_S = 400 * 86400  # "for"/"every"/"in" longer than this is surely a typo
# A repeat no more often than Alertmanager's default group interval: with 50 rules a chat could
# otherwise be sent a message per rule on every poll.
MIN_REPEAT_S = 300

EVENT_NAMES: tuple[str, ...] = (
    "retarget", "filings", "curtail", "digest", "converts", "4cp", "ercot.grid",
    "production", "treasury", "quiet", "debt", "maturity",
)  # fmt: skip
_EVENT_ALIASES = {
    "retarget": "retarget",
    "retargets": "retarget",
    "adjustment": "retarget",
    "filings": "filings",
    "filing": "filings",
    "sec": "filings",
    "curtail": "curtail",
    "curtailment": "curtail",
    "digest": "digest",
    "converts": "converts",
    "conversion": "converts",
    "conversions": "converts",
    "4cp": "4cp",
    "ercot.grid": "ercot.grid",
    "grid": "ercot.grid",
    "eea": "ercot.grid",
    "production": "production",
    "treasury": "treasury",
    "quiet": "quiet",
    "debt": "debt",
    "ledger": "debt",
    "maturity": "maturity",
    "maturities": "maturity",
}
# Short names people type for metrics.
METRIC_ALIASES = {
    "diff": "difficulty",
    "btc": "price",
    "btcusd": "price",
    "btc.price": "price",
    "hash": "hashrate",
    "fee": "fees",
    "hashprice.usd": "hashprice",
    "next_change": "difficulty.next_change",
    "blocks_left": "difficulty.blocks_left",
}
_OPS = {
    "<": Op.LT,
    "<=": Op.LE,
    "=<": Op.LE,
    ">": Op.GT,
    ">=": Op.GE,
    "=>": Op.GE,
    "above": Op.GT,
    "over": Op.GT,
    "below": Op.LT,
    "under": Op.LT,
}
_RISES = {"rises", "rise", "up", "increases", "jumps", "climbs", "gains"}
_DROPS = {"drops", "drop", "falls", "fall", "down", "decreases", "sinks", "loses"}
_CLAUSES = ("for", "every", "margin")
_MULTIPLIERS = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "bn": 1e9}
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+"
_VALUE = re.compile(
    rf"^(?P<sign>[-+]?)(?P<dollar>\$?)(?P<sign2>[-+]?)(?P<num>{_NUMBER})(?:[eE](?P<exp>[-+]?\d+))?(?P<suffix>.*)$",
    re.ASCII,  # only ASCII digits are numbers (rules/units.py)
)
_PERCENT = re.compile(rf"\+?(?P<num>{_NUMBER})(?:[eE](?P<exp>[-+]?\d+))?\s*%?", re.ASCII)
_OP_SPLIT = re.compile(r"(<=|>=|=<|=>|==|!=|<|>|=)")
_TICKER = re.compile(r"^\$?([A-Za-z][A-Za-z0-9]{0,5}(?:\.[A-Za-z])?)$")
_COMMAND = re.compile(r"^/alert(?:@\w+)?(?=\s|!|$)", re.I)
_HHMM = re.compile(r"^(\d{1,2})(?::(\d{2}))?$", re.ASCII)

# Per unit: an example condition for error messages (each of them parses).
_UNIT_EXAMPLES = {
    "%": "> 3%",
    "T": "> 150T",
    "EH/s": "< 800EH/s",
    "USD": "< $50k",
    "USD/PH/day": "< 45",
    "BTC/PH/day": "< 0.0005",
    "sats/TH/day": "< 40",
    "BTC": "> 0.1",
    "USD/MWh": "> 100",
    "blocks": "< 144",
    "MW": "> 80000",
}
_UNIT_WORDS = {
    "%": "percent (%)",
    "T": "T (difficulty / 1e12)",
    "EH/s": "EH/s",
    "USD": "US dollars ($)",
    "USD/PH/day": "USD/PH/day",
    "BTC/PH/day": "BTC/PH/day",
    "sats/TH/day": "sats/TH/day",
    "BTC": "BTC",
    "USD/MWh": "USD/MWh",
    "blocks": "blocks",
    "MW": "MW",
    "time": "a time",
}


class RuleError(ValueError):
    """A rule that cannot be parsed. ``str(err)`` is a complete chat reply."""

    def __init__(self, problem: str, example: str = DEFAULT_EXAMPLE, suggestions: Iterable[str] = ()) -> None:
        self.problem = problem
        self.example = example
        self.suggestions = list(suggestions)
        lines = [problem]
        if self.suggestions:
            lines.append("Did you mean: " + ", ".join(self.suggestions) + "?")
        if example:
            lines.append(f"Example: {example}")
        super().__init__("\n".join(lines))


def example_for(metric: str) -> str:
    """A correct ``/alert`` command on ``metric`` (falls back to :data:`DEFAULT_EXAMPLE`)."""
    info = lookup(metric)
    if info is None:
        return DEFAULT_EXAMPLE
    if info.unit == "time":
        return "/alert difficulty.blocks_left < 144"
    return f"/alert {info.name} {_UNIT_EXAMPLES.get(info.unit, '> 0')}"


# ---------------------------------------------------------------------------------------------
# formatting


def format_number(value: float) -> str:
    """The shortest text that parses back to exactly ``value``: ``3.0`` -> ``"3"``, ``0.1`` -> ``"0.1"``."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def _format_usd(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e16:
        whole = int(value)
        for suffix, size in (("B", 10**9), ("M", 10**6), ("k", 10**3)):
            if whole and whole % size == 0:
                return f"{whole // size}{suffix}"
    return format_number(value)


def _unit_sugar(info: MetricInfo | None) -> str:
    if info is not None and info.unit in ("%", "T", "EH/s"):
        return info.unit
    return ""


def format_rule(rule: Rule) -> str:
    """The canonical text of ``rule`` (what follows ``/alert``); ``parse_rule`` reads it back equal."""
    bang = "!" if rule.severe else ""
    if isinstance(rule, ThresholdRule):
        info = lookup(rule.metric)
        number = _format_usd(rule.value) if info and info.unit == "USD" else format_number(rule.value)
        value = number + _unit_sugar(info)
        parts = [f"{rule.metric} {Op(rule.op).value} {value}"]
        if rule.for_s:
            parts.append(f"for {format_duration(rule.for_s)}")
        if rule.every_s is not None:
            parts.append(f"every {format_duration(rule.every_s)}")
        if rule.margin_pct is not None:
            parts.append(f"margin {format_number(rule.margin_pct)}%")
        return bang + " ".join(parts)
    if isinstance(rule, ChangeRule):
        window = format_duration(rule.window_s)
        text = f"{rule.metric} {rule.direction} {format_number(rule.pct)}% in {window}"
        if rule.every_s is not None:
            text += f" every {format_duration(rule.every_s)}"
        return bang + text
    parts = [rule.event]
    if rule.event == "digest":
        parts.append(rule.at or "08:00")
    parts.extend(f"${t}" if t.lower() in _FILING_WORDS else t for t in rule.tickers)
    parts.extend(rule.kinds)
    if rule.min_usd is not None:
        parts.append(f">= {_format_usd(rule.min_usd)}")
    if rule.within_s is not None:
        parts.append(f"< {format_duration(rule.within_s)}")
    return bang + " ".join(parts)


# ---------------------------------------------------------------------------------------------
# parsing


def _tokens(text: str) -> list[str]:
    return _OP_SPLIT.sub(r" \1 ", text).split()


def _accepted_units(info: MetricInfo) -> set[str]:
    unit = info.unit.lower().replace(" ", "")
    accepted = {"", unit}
    if info.unit.startswith("USD"):
        rest = unit[3:]  # "", "/ph/day", "/mwh"
        accepted |= {"$", "usd", f"${rest}", rest, f"usd{rest}"}
        if rest == "/ph/day":
            accepted |= {"/ph/d", "$/ph/d", "/ph", "$/ph"}
    elif info.unit == "%":
        accepted |= {"percent", "pct"}
    elif info.unit == "blocks":
        accepted.add("block")
    elif info.unit == "EH/s":
        accepted.add("eh")
    elif info.unit == "BTC/PH/day":
        accepted |= {"btc", "btc/ph/d", "btc/ph"}
    elif info.unit == "sats/TH/day":
        accepted |= {"sats", "sat", "sats/th", "sat/th/day", "sats/th/d"}
    return accepted


@cache
def _all_unit_words() -> frozenset[str]:
    words: set[str] = set()
    for info in CATALOGUE.values():
        words |= _accepted_units(info)
    return frozenset(words)


def _is_unit_word(token: str) -> bool:
    """True for a unit written apart from its number, with or without a multiplier ("k", "M $")."""
    units = _all_unit_words()
    if token.lower() in units:
        return True
    return any(token.startswith(k) and token[len(k) :].lower() in units for k in ("bn", *_MULTIPLIERS))


def _unit_mismatch(info: MetricInfo, text: str) -> RuleError:
    return RuleError(
        f"{info.name} is measured in {_UNIT_WORDS.get(info.unit, info.unit)}, so {text!r} does not fit.",
        example_for(info.name),
    )


def parse_value(text: str, info: MetricInfo) -> float:
    """A threshold as written (``3%``, ``$100k``, ``120T``, ``-5``, ``800 EH/s``) in ``info``'s unit."""
    m = _VALUE.match(text.strip())
    if not m:
        raise RuleError(f"{text!r} is not a number.", example_for(info.name))
    if m.group("sign") and m.group("sign2"):
        raise RuleError(f"{text!r} has two signs.", example_for(info.name))
    if m.group("dollar") and not info.unit.startswith("USD"):
        raise _unit_mismatch(info, text)
    number = m.group("num").replace(",", "")
    if m.group("exp"):
        number += "e" + m.group("exp")
    value = float(number)
    suffix = m.group("suffix").strip()
    accepted = _accepted_units(info)
    if suffix.lower().replace(" ", "") not in accepted:
        mult_key = next((k for k in ("bn", *_MULTIPLIERS) if suffix.startswith(k)), None)
        if mult_key is None or suffix[len(mult_key) :].lower().replace(" ", "") not in accepted:
            raise _unit_mismatch(info, text)
        value *= _MULTIPLIERS[mult_key]
    if "-" in (m.group("sign") + m.group("sign2")):
        value = -value
    if not math.isfinite(value):
        raise RuleError(f"{text!r} is too large a number.", example_for(info.name))
    return value


def _duration(word: str, raw: str, example: str) -> int:
    try:
        seconds = parse_duration(raw)
    except (DurationError, OverflowError, ValueError) as err:
        raise RuleError(
            f"After {word!r} I need a duration like 30m, 2h or 1d, not {raw!r}.", example
        ) from err
    if seconds > MAX_DURATION_S:
        raise RuleError(f"{raw!r} is too long for {word!r} (at most {MAX_DURATION_S // 86400}d).", example)
    if word == "every" and seconds < MIN_REPEAT_S:
        raise RuleError(
            f"'every {raw}' would repeat too often: repeats are at least {MIN_REPEAT_S // 60}m apart.",
            example,
        )
    return seconds


def _take_arg(rest: Sequence[str], i: int, word: str, example: str) -> tuple[str, int]:
    """The argument after ``rest[i - 1] == word``, joining ``"30" "m"`` written apart."""
    if i >= len(rest):
        raise RuleError(f"{word!r} needs a value after it.", example)
    arg = rest[i]
    if (
        i + 1 < len(rest)
        and re.fullmatch(r"[\d.]+", arg)
        and rest[i + 1].lower() not in _CLAUSES
        and rest[i + 1].lower() not in ("in", "within", "over")
    ):
        return arg + rest[i + 1], i + 2
    return arg, i + 1


def _unknown_metric(word: str, rest: Sequence[str], severe: bool) -> RuleError:
    m = POWER_NAME.match(word)
    if m and m.group(1) not in POWER_POINTS:
        close = difflib.get_close_matches(m.group(1), POWER_POINTS, n=3, cutoff=0.6)
        sugg = [word.replace(m.group(1), c, 1) for c in close]
        return RuleError(
            f"I don't know the ERCOT settlement point {m.group(1)!r}. Known: {', '.join(POWER_POINTS)}.",
            f"/alert power.{close[0] if close else 'hb_west'} > 100",
            sugg,
        )
    s = STOCK_NAME.match(word)
    if s and s.group(1) not in STOCK_TICKERS:
        family = word.split(".", 1)[0]
        close = difflib.get_close_matches(s.group(1), STOCK_TICKERS, n=3, cutoff=0.6)
        fixed = f"{family}.{close[0] if close else 'mara'}"
        return RuleError(
            f"I don't quote the stock {s.group(1).upper()!r}. Known: {', '.join(STOCK_TICKERS)}.",
            f"/alert {fixed} drops 10% in 1d" if family == "stock" else example_for(fixed),
            [f"{family}.{c}" for c in close],
        )
    suggestions = suggest(word) + difflib.get_close_matches(word, EVENT_NAMES, n=1, cutoff=0.7)
    example = DEFAULT_EXAMPLE
    if suggestions:
        try:
            fixed = _parse(" ".join([suggestions[0], *rest]), severe)
            example = "/alert " + format_rule(fixed)
        except RuleError:
            example = example_for(suggestions[0])
            if suggestions[0] in EVENT_NAMES:
                example = "/alert " + ("digest 08:00" if suggestions[0] == "digest" else suggestions[0])
    return RuleError(f"I don't know the metric {word!r}.", example, suggestions)


def parse_rule(text: str) -> Rule:
    """Parse what follows ``/alert``. Raises :class:`RuleError` (only) on anything it can't read."""
    if not isinstance(text, str):
        raise RuleError("A rule is a line of text.")
    text = (
        text.replace("≥", ">=").replace("≤", "<=").replace("−", "-").replace("–", "-").replace("\u00a0", " ")
    ).strip()
    prefix = _COMMAND.match(text)
    if prefix:
        text = text[prefix.end() :].strip()
    severe = text.startswith("!")
    if severe:
        text = text[1:].strip()
    return _parse(text, severe)


def _parse(text: str, severe: bool) -> Rule:
    tokens = _tokens(text)
    if tokens and tokens[0].lower() in ("if", "when"):
        tokens = tokens[1:]
    if not tokens:
        raise RuleError("Tell me what to watch: a metric and a condition, or an event.")
    first = tokens[0].lower()
    rest = tokens[1:]
    if first in _EVENT_ALIASES:
        return _parse_event(_EVENT_ALIASES[first], rest, severe)
    if first in _OPS or _VALUE.match(first):
        raise RuleError("Start with the metric to watch, then the condition.", DEFAULT_EXAMPLE)
    info = lookup(METRIC_ALIASES.get(first, first))
    if info is None:
        raise _unknown_metric(first, rest, severe)
    example = example_for(info.name)
    if not rest:
        raise RuleError(f"Say when to alert on {info.name}: an operator (<, >, ...) and a number.", example)
    word = rest[0].lower()
    if word in _RISES or word in _DROPS:
        return _parse_change(info, "rises" if word in _RISES else "drops", rest[1:], severe)
    if word not in _OPS:
        if word in ("=", "==", "!="):
            problem = f"{word!r} is not an operator I use (values are never exactly equal): use <, <=, >, >=."
        else:
            problem = f"{rest[0]!r} is not an operator: use <, <=, >, >=, above or below (or rises/drops)."
        raise RuleError(problem, example)
    op = _OPS[word]
    if info.unit == "time":
        raise RuleError(
            f"{info.name} is a time, not something to compare. For the retarget itself use /alert retarget.",
            example,
        )
    values = rest[1:]
    if not values or values[0].lower() in _CLAUSES:
        raise RuleError(f"{rest[0]!r} needs a number after it.", example)
    value_text, i = values[0], 1
    if i < len(values) and _is_unit_word(values[i]):  # "800 EH/s", "3 %", "100 k"
        value_text += values[i]
        i += 1
    value = parse_value(value_text, info)
    for_s = 0
    every_s: int | None = None
    margin_pct: float | None = None
    seen: set[str] = set()
    while i < len(values):
        clause = values[i].lower()
        if clause not in _CLAUSES:
            raise RuleError(
                f"I don't understand {values[i]!r}: after the number: 'for 30m', 'every 4h', 'margin 2%'.",
                example,
            )
        if clause in seen:
            raise RuleError(f"{clause!r} appears twice.", example)
        seen.add(clause)
        arg, i = _take_arg(values, i + 1, clause, example)
        if clause == "for":
            for_s = _duration(clause, arg, f"{example} for 30m")
        elif clause == "every":
            every_s = _duration(clause, arg, f"{example} every 4h")
        else:
            margin_pct = _parse_margin(arg, info)
    return ThresholdRule(info.name, op, value, for_s, every_s, margin_pct, severe)


def _percentage(text: str) -> float | None:
    """``"2%"``, ``"2"``, ``"+2.5 %"``, ``"1e-05%"`` -> the number; None if it is not one."""
    m = _PERCENT.fullmatch(text)
    if not m:
        return None
    value = float(m.group("num").replace(",", "") + (f"e{m.group('exp')}" if m.group("exp") else ""))
    return value if math.isfinite(value) else None


def _parse_margin(arg: str, info: MetricInfo) -> float:
    example = f"/alert {info.name} {_UNIT_EXAMPLES.get(info.unit, '> 0')} margin 2%"
    pct = _percentage(arg)
    if pct is None:
        raise RuleError(f"The margin is a percentage of the threshold, like 2%, not {arg!r}.", example)
    if pct >= 100:
        raise RuleError("The margin must be under 100% of the threshold.", example)
    return pct


def _parse_change(info: MetricInfo, direction: str, rest: Sequence[str], severe: bool) -> ChangeRule:
    example = f"/alert {info.name} {direction} 10% in 24h"
    if info.unit == "time":
        raise RuleError(f"{info.name} is a time; it cannot rise or drop by a percentage.", "/alert retarget")
    i = 0
    if i < len(rest) and rest[i].lower() == "by":
        i += 1
    if i >= len(rest):
        raise RuleError(f"Say by how much {info.name} {direction}, and over what time.", example)
    pct_text = rest[i]
    i += 1
    if i < len(rest) and rest[i].lower() in ("%", "percent", "pct"):
        pct_text += "%"
        i += 1
    pct = _percentage(pct_text)
    if pct is None:
        raise RuleError(f"{pct_text!r} is not a percentage.", example)
    if pct <= 0:
        raise RuleError("The change must be more than 0%.", example)
    if direction == "drops" and pct >= 100:  # a drop of 100% is to zero; more can never happen
        raise RuleError(
            f"{info.name} cannot drop by {format_number(pct)}%: a drop is less than 100%.", example
        )
    if i < len(rest) and rest[i].lower() in ("in", "within", "over"):
        i += 1
    if i >= len(rest) or rest[i].lower() == "every":
        raise RuleError("Say over what time: for example 'in 24h'.", example)
    window_raw, i = _take_arg(rest, i, "in", example)
    window_s = _duration("in", window_raw, example)
    every_s: int | None = None
    if i < len(rest):
        if rest[i].lower() != "every":
            raise RuleError(
                f"I don't understand {rest[i]!r}: after the window only 'every 4h' may come.", example
            )
        every_raw, i = _take_arg(rest, i + 1, "every", example)
        every_s = _duration("every", every_raw, example + " every 4h")
        if i < len(rest):
            raise RuleError(f"I don't understand {rest[i]!r} at the end.", example + " every 4h")
    return ChangeRule(info.name, "rises" if direction == "rises" else "drops", pct, window_s, every_s, severe)


def _parse_event(event: str, rest: Sequence[str], severe: bool) -> EventRule:
    if event == "curtail" and [r.lower() for r in rest] == ["tomorrow"]:
        return EventRule("curtail tomorrow", severe=severe)  # the day-ahead plan (rules/dam.py)
    if event in ("retarget", "curtail", "4cp", "ercot.grid"):
        if rest:
            raise RuleError(f"{event!r} takes nothing after it, not {rest[0]!r}.", f"/alert {event}")
        simple: dict[str, Literal["retarget", "curtail", "4cp", "ercot.grid"]] = {
            "retarget": "retarget",
            "curtail": "curtail",
            "4cp": "4cp",
            "ercot.grid": "ercot.grid",
        }
        return EventRule(simple[event], severe=severe)
    if event == "digest":
        return EventRule("digest", at=_parse_digest_time(rest), severe=severe)
    if event in ("converts", "production", "treasury", "quiet"):
        return _parse_converts(rest, severe, event)
    if event in ("debt", "maturity"):
        return _parse_ledger_rule(event, rest, severe)
    return _parse_filings(rest, severe)


def _parse_converts(rest: Sequence[str], severe: bool, event: str = "converts") -> EventRule:
    """``converts [TICKER...]``: the stock crossing a conversion price of its notes (any watched
    miner when no ticker is given)."""
    tickers: list[str] = []
    for tok in rest:
        m = _TICKER.match(tok)
        ticker = m.group(1).lower() if m else ""
        if ticker not in STOCK_TICKERS:
            close = difflib.get_close_matches(ticker or tok.lower(), STOCK_TICKERS, n=3, cutoff=0.6)
            raise RuleError(
                f"I don't watch the miner {tok!r}: {event} takes tickers of watched miners "
                f"({', '.join(t.upper() for t in STOCK_TICKERS)}).",
                f"/alert {event} {close[0].upper() if close else 'MARA'}",
                [f"{event} {c.upper()}" for c in close],
            )
        if ticker.upper() not in tickers:
            tickers.append(ticker.upper())
    return EventRule(event, tuple(tickers), severe=severe)  # type: ignore[arg-type]


MAX_MATURITY_S = 5 * 365 * 86400


def _ledger_ticker(event: str, tok: str, example: str) -> str:
    m = _TICKER.match(tok)
    ticker = m.group(1).lower() if m else ""
    if ticker not in STOCK_TICKERS:
        close = difflib.get_close_matches(ticker or tok.lower(), STOCK_TICKERS, n=3, cutoff=0.6)
        raise RuleError(
            f"{tok!r} is not a watched miner: {event} takes tickers of "
            f"{', '.join(t.upper() for t in STOCK_TICKERS)}.",
            example,
            [f"{event} {c.upper()}" for c in close],
        )
    return ticker.upper()


def _parse_ledger_rule(event: str, rest: Sequence[str], severe: bool) -> EventRule:
    """``debt [TICKER...]``: every change to a watched miner's debt ledger; ``maturity [TICKER...]
    < 180d``: a tranche's maturity or holder put date comes within that many days."""
    example = "/alert debt MARA RIOT" if event == "debt" else "/alert maturity < 180d"
    tickers: list[str] = []
    within_s: int | None = None
    i = 0
    while i < len(rest):
        tok = rest[i]
        i += 1
        if event == "maturity" and tok.lower() in ("<", "<=", "within", "in", "under", "below"):
            if within_s is not None:
                raise RuleError("Give the number of days once.", example)
            raw, i = _take_arg(rest, i, tok, example)
            if raw.isdigit():
                raw += "d"
            within_s = _duration("within", raw, example)
            if within_s % 86400 or within_s > MAX_MATURITY_S:
                raise RuleError(f"Say how many days, from 1d to {MAX_MATURITY_S // 86400}d.", example)
            continue
        if tok.lower() in ("<", "<=", ">", ">=", "=", "above", "over"):
            raise RuleError(f"{event} takes tickers only, not {tok!r}.", example)
        ticker = _ledger_ticker(event, tok, example)
        if ticker not in tickers:
            tickers.append(ticker)
    if event == "maturity" and within_s is None:
        raise RuleError("Say how close a maturity or put date must come, like '< 180d'.", example)
    return EventRule(event, tuple(tickers), severe=severe, within_s=within_s)  # type: ignore[arg-type]


def _parse_digest_time(rest: Sequence[str]) -> str:
    example = "/alert digest 08:00"
    args = [a for a in rest if a.lower() != "at"]
    if not args:
        raise RuleError("Say when to send the daily digest, as HH:MM in your time zone.", example)
    if len(args) > 1:
        raise RuleError(f"I don't understand {args[1]!r}: the digest takes one time, like 08:00.", example)
    m = _HHMM.match(args[0])
    if not m or int(m.group(1)) > 23 or int(m.group(2) or 0) > 59:
        raise RuleError(f"{args[0]!r} is not a time of day: write HH:MM, like 08:00 or 18:30.", example)
    return f"{int(m.group(1)):02d}:{int(m.group(2) or 0):02d}"


_AMOUNT_OPS = (">=", ">", "above", "over", "min", "minimum", "=>")
_AMOUNT_UNITS = ("usd", "$", "dollars")
# Words with a meaning after "filings": a ticker spelt like one is written "$AI" (a cashtag).
_FILING_WORDS = frozenset(KIND_ALIASES) | set(_AMOUNT_OPS) | set(_AMOUNT_UNITS) | {"below", "under"}


def _parse_filings(rest: Sequence[str], severe: bool) -> EventRule:
    example = "/alert filings MARA RIOT convertible >= 500M"
    usd = lookup("price")
    assert usd is not None
    tickers: list[str] = []
    kinds: list[str] = []
    min_usd: float | None = None
    i = 0
    while i < len(rest):
        tok = rest[i]
        low = tok.lower()
        i += 1
        if low in _AMOUNT_OPS:
            if i >= len(rest):
                raise RuleError(f"{tok!r} needs an amount after it, like 500M.", example)
            amount_text, i = rest[i], i + 1
            if i < len(rest) and rest[i].lower() in _AMOUNT_UNITS:
                i += 1
            amount = _parse_amount(amount_text, usd, example)
            if min_usd is not None:
                raise RuleError("Give the minimum amount once.", example)
            min_usd = amount
            continue
        if low in ("<", "<=", "below", "under", "=", "==", "!=", "=<"):
            raise RuleError("Filings take a minimum amount only: '>= 500M'.", example)
        canonical = resolve_kind(low)
        if canonical is not None:
            kinds.extend(k for k in canonical if k not in kinds)
            continue
        if _VALUE.match(tok):
            if min_usd is not None:
                raise RuleError("Give the minimum amount once.", example)
            min_usd = _parse_amount(tok, usd, example)
            continue
        m = _TICKER.match(tok)
        # a lower-case word close to a kind ("convertable") is a typo, not a ticker
        if m and (not tok.islower() or not difflib.get_close_matches(low, KIND_ALIASES, n=1, cutoff=0.75)):
            ticker = m.group(1).upper()
            if ticker not in tickers:
                tickers.append(ticker)
            continue
        close = difflib.get_close_matches(low, KIND_ALIASES, n=3, cutoff=0.6)
        raise RuleError(
            f"I don't understand {tok!r}: write tickers (MARA), kinds ({', '.join(ALL_KINDS[:6])}, ...) "
            "and a minimum like '>= 500M'.",
            example,
            close,
        )
    return EventRule("filings", tuple(tickers), tuple(kinds), min_usd, severe=severe)


def _parse_amount(text: str, usd: MetricInfo, example: str) -> float:
    if text[-1:] in ("m", "b") and text[-2:-1].isdigit():  # "500m" is 500 million here
        text = text[:-1] + text[-1].upper()
    try:
        amount = parse_value(text, usd)
    except RuleError as err:
        raise RuleError(f"{text!r} is not an amount in dollars, like 500M or $1.5B.", example) from err
    if amount < 0:
        raise RuleError("The minimum amount cannot be negative.", example)
    return amount
