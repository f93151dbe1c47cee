"""Common ASIC models and their stated hashrate and efficiency, so ``/fleet S21XP 0.045`` works.

The figures live in ``rules/data/asics.toml``, one row per model with the page each figure was read
from (see that file's header for how they were checked). This module only reads that static file
once, shipped with the package, like :mod:`rules.quiet` reads the tz database: no clock, no network.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

_BRANDS = re.compile(r"^(antminer|whatsminer|avalon|bitmain|microbt|canaan)", re.I)
_NOISE = re.compile(r"[\s\-_]+")


@dataclass(frozen=True)
class Asic:
    model: str  # "Antminer S21 XP"
    hashrate_ths: float  # stated TH/s of one machine
    efficiency_j_per_th: float  # stated J/TH, or stated W / stated TH/s
    source: str  # the page the figure was read from
    kind: str  # what that page is and what it says


def normalise(name: str) -> str:
    """``"Antminer S21 XP"``, ``"s21-xp"`` and ``"S21XP"`` -> ``"S21XP"``."""
    text = _NOISE.sub("", name.strip())
    text = _BRANDS.sub("", text)
    return text.upper()


@cache
def table() -> dict[str, Asic]:
    """Every model and alias, normalised -> its row."""
    raw = tomllib.loads(resources.files("rules").joinpath("data/asics.toml").read_text(encoding="utf-8"))
    out: dict[str, Asic] = {}
    for row in raw["asic"]:
        hashrate = float(row["hashrate_ths"])
        # stated J/TH, else stated wall power / stated hashrate
        efficiency = float(row["j_per_th"]) if "j_per_th" in row else float(row["power_w"]) / hashrate
        asic = Asic(row["model"], hashrate, round(efficiency, 2), row["source"], row["kind"])
        for name in (row["model"], *row.get("aliases", ())):
            out[normalise(name)] = asic
    return out


def lookup(name: str) -> Asic | None:
    """The ASIC a user named (``S21XP``, ``s21 xp``, ``Antminer S21 XP``), or None."""
    key = normalise(name)
    return table().get(key) if key else None


def models() -> list[Asic]:
    """Each model once, in the data file's order."""
    seen: dict[str, Asic] = {}
    for asic in table().values():
        seen.setdefault(asic.model, asic)
    return list(seen.values())
