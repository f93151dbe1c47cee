"""What the filing classifier returns: the kinds, the term names and :class:`FilingInfo`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from rules.events import ALL_KINDS, FINANCING_KINDS

# The kinds are the rule grammar's vocabulary (rules/events.py): one list for both.
KINDS = ALL_KINDS
DEBT_KINDS = ("convertible_notes", "senior_notes", "secured_notes", "credit_facility")

# The term names of shared/filings/LABELS.json, in its order, then the extra ones we extract:
# ``greenshoe_included`` says whether ``principal_usd`` (or the offering amount) already counts the
# greenshoe option (True: "incl. $150M option"; False: "+$150M option"; None: no option stated).
LABEL_TERMS = (
    "principal_usd",
    "offering_amount_usd",
    "upsized_from_usd",
    "upsize_usd",
    "greenshoe_usd",
    "coupon_pct",
    "rate_description",
    "maturity",
    "conversion_rate_per_1000",
    "conversion_price_usd",
    "conversion_premium_pct",
    "capped_call",
    "cap_price_usd",
)
TERM_NAMES = (*LABEL_TERMS, "secured", "use_of_proceeds", "greenshoe_included")

EASTERN = ZoneInfo("America/New_York")

# 8-K items that can carry a financing. A filing whose known items include none of these is not one.
FINANCING_ITEMS = frozenset({"1.01", "2.03", "3.02", "7.01", "8.01"})


@dataclass(frozen=True)
class FilingInfo:
    kind: str
    terms: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(TERM_NAMES))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "terms": dict(self.terms)}

    @property
    def is_financing(self) -> bool:
        return self.kind in FINANCING_KINDS

    @property
    def amount_usd(self) -> float | None:
        """The headline size: debt principal, else the offering amount."""
        principal = self.terms.get("principal_usd")
        return principal if principal is not None else self.terms.get("offering_amount_usd")
