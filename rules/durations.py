"""Durations as users and config files write them: ``90s``, ``5m``, ``2h``, ``1d``, ``1w``, ``1y``.

Shared by the rule grammar (``for 30m``) and the config (``every = "60s"``) so both accept the
same spelling. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|w|y)\s*$", re.I | re.ASCII)
_ALIASES = {"sec": "s", "secs": "s", "min": "m", "mins": "m", "hr": "h", "hrs": "h"}


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> int:
    """``"90s"`` -> 90, ``"5m"`` -> 300, ``"1.5h"`` -> 5400. Raises DurationError on anything else."""
    m = _DURATION.match(str(text))
    if not m:
        raise DurationError(f"{text!r} is not a duration: write a number and a unit, like 90s, 5m, 2h or 1d")
    unit = m.group(2).lower()
    seconds = float(m.group(1)) * UNIT_SECONDS[_ALIASES.get(unit, unit)]
    if seconds < 1:
        raise DurationError(f"{text!r} is shorter than one second")
    return round(seconds)


def format_duration(seconds: int) -> str:
    """The shortest exact spelling: 5400 -> ``"90m"``, 7200 -> ``"2h"``, 86400 -> ``"1d"``."""
    for unit in ("y", "w", "d", "h", "m"):
        size = UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _coerce(value: object) -> int:
    if isinstance(value, bool):
        raise DurationError("a duration cannot be true or false")
    if isinstance(value, int | float):
        if value < 1:
            raise DurationError(f"{value} is shorter than one second")
        return int(value)
    if isinstance(value, str):
        return parse_duration(value)
    raise DurationError(f'{value!r} is not a duration: write a string like "90s" or "5m"')


# A pydantic field type: accepts "90s"/"5m"/seconds as int, stores whole seconds, dumps "5m".
Duration = Annotated[int, BeforeValidator(_coerce), PlainSerializer(format_duration, return_type=str)]
