"""Hubs of the other North American grids where listed miners run (issue 16). Pure data.

Each hub is a metric ``power.<iso>.<hub>`` (real-time LMP, 5-minute where the ISO publishes it),
read by the optional ``grids`` watcher through gridstatus. ``location`` is the name the ISO (and
gridstatus's ``Location`` column) uses; ``key_env`` names the environment variable gridstatus
reads a (free) API key from where the ISO requires one; ``currency`` is the price's currency
(AESO's pool price is Canadian dollars: never compared with a USD breakeven).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IsoHub:
    iso: str  # lower case: "nyiso"
    slug: str  # lower case, metric part: "nyc"
    location: str  # the ISO's own name: "N.Y.C."
    label: str  # "NYISO Zone J (New York City)"
    key_env: str | None = None
    currency: str = "USD"

    @property
    def metric(self) -> str:
        return f"power.{self.iso}.{self.slug}"

    @property
    def unit(self) -> str:
        return f"{self.currency}/MWh"


# gridstatus class name per ISO, and whether the whole ISO needs a key.
ISO_CLASSES: dict[str, str] = {
    "nyiso": "NYISO",
    "pjm": "PJM",
    "miso": "MISO",
    "spp": "SPP",
    "caiso": "CAISO",
    "isone": "ISONE",
    "aeso": "AESO",
}
KEY_ENV: dict[str, str] = {"pjm": "PJM_API_KEY", "aeso": "AESO_API_KEY"}

_HUBS: tuple[tuple[str, str, str, str], ...] = (
    # NYISO zones (realtime_zone_lbmp.csv names): Lake Mariner and the upstate sites are in WEST/GENESE
    ("nyiso", "west", "WEST", "NYISO Zone A (West)"),
    ("nyiso", "genese", "GENESE", "NYISO Zone B (Genesee)"),
    ("nyiso", "centrl", "CENTRL", "NYISO Zone C (Central)"),
    ("nyiso", "north", "NORTH", "NYISO Zone D (North)"),
    ("nyiso", "capitl", "CAPITL", "NYISO Zone F (Capital)"),
    ("nyiso", "nyc", "N.Y.C.", "NYISO Zone J (New York City)"),
    # PJM hubs (Data Miner pnode names)
    ("pjm", "western_hub", "WESTERN HUB", "PJM Western Hub"),
    ("pjm", "aep_dayton_hub", "AEP-DAYTON HUB", "PJM AEP-Dayton Hub"),
    ("pjm", "n_illinois_hub", "N ILLINOIS HUB", "PJM Northern Illinois Hub"),
    ("pjm", "dominion_hub", "DOMINION HUB", "PJM Dominion Hub"),
    # MISO's eight trading hubs
    ("miso", "indiana_hub", "INDIANA.HUB", "MISO Indiana Hub"),
    ("miso", "illinois_hub", "ILLINOIS.HUB", "MISO Illinois Hub"),
    ("miso", "michigan_hub", "MICHIGAN.HUB", "MISO Michigan Hub"),
    ("miso", "minn_hub", "MINN.HUB", "MISO Minnesota Hub"),
    ("miso", "arkansas_hub", "ARKANSAS.HUB", "MISO Arkansas Hub"),
    ("miso", "louisiana_hub", "LOUISIANA.HUB", "MISO Louisiana Hub"),
    ("miso", "texas_hub", "TEXAS.HUB", "MISO Texas Hub"),
    ("miso", "ms_hub", "MS.HUB", "MISO Mississippi Hub"),
    # SPP
    ("spp", "north_hub", "SPPNORTH_HUB", "SPP North Hub"),
    ("spp", "south_hub", "SPPSOUTH_HUB", "SPP South Hub"),
    # CAISO trading hubs
    ("caiso", "np15", "TH_NP15_GEN-APND", "CAISO NP15 trading hub"),
    ("caiso", "sp15", "TH_SP15_GEN-APND", "CAISO SP15 trading hub"),
    ("caiso", "zp26", "TH_ZP26_GEN-APND", "CAISO ZP26 trading hub"),
    # ISO New England
    ("isone", "internal_hub", ".H.INTERNAL_HUB", "ISO-NE Internal Hub"),
    # Alberta: one pool price for the province
    ("aeso", "pool", "POOL", "AESO pool price (Alberta)"),
)

ISO_HUBS: dict[str, IsoHub] = {
    f"power.{iso}.{slug}": IsoHub(iso, slug, loc, label, KEY_ENV.get(iso), "CAD" if iso == "aeso" else "USD")
    for iso, slug, loc, label in _HUBS
}
DEFAULT_HUBS: tuple[str, ...] = ("nyiso.west", "nyiso.nyc", "miso.indiana_hub", "spp.north_hub")


def hub(name: str) -> IsoHub | None:
    """``"nyiso.west"``, ``"NYISO.WEST"`` or ``"power.nyiso.west"`` -> its hub, or None."""
    key = name.strip().lower()
    return ISO_HUBS.get(key if key.startswith("power.") else f"power.{key}")
