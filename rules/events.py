"""Which event rules an event (a retarget, a filing) concerns. Pure: no I/O.

Filing kinds are the classifications the filings watcher assigns. ``filings`` with no kind matches
every financing kind (:data:`FINANCING_KINDS`); earnings, production updates and other filings only
match when asked for by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.model import EventRule

FINANCING_KINDS: tuple[str, ...] = (
    "convertible_notes",
    "senior_notes",
    "secured_notes",
    "credit_facility",
    "equity_offering",
    "hpc_contract",
)
OTHER_KINDS: tuple[str, ...] = ("earnings", "production_update", "other")
ALL_KINDS: tuple[str, ...] = FINANCING_KINDS + OTHER_KINDS

_NOTES = ("convertible_notes", "senior_notes", "secured_notes")

# What users may write after "filings" -> the canonical kinds it stands for.
KIND_ALIASES: dict[str, tuple[str, ...]] = {
    **{kind: (kind,) for kind in ALL_KINDS},
    "convertible": ("convertible_notes",),
    "convertibles": ("convertible_notes",),
    "converts": ("convertible_notes",),
    "senior": ("senior_notes",),
    "secured": ("secured_notes",),
    "notes": _NOTES,
    "bonds": _NOTES,
    "debt": (*_NOTES, "credit_facility"),
    "credit": ("credit_facility",),
    "loan": ("credit_facility",),
    "loans": ("credit_facility",),
    "facility": ("credit_facility",),
    "equity": ("equity_offering",),
    "atm": ("equity_offering",),
    "dilution": ("equity_offering",),
    "offering": ("equity_offering",),
    "hpc": ("hpc_contract",),
    "ai": ("hpc_contract",),
    "hosting": ("hpc_contract",),
    "production": ("production_update",),
    "financing": FINANCING_KINDS,
    "all": ALL_KINDS,
}

# Event.kind values (watchers/base.py) that each event rule listens to.
EVENT_KINDS: dict[str, str] = {
    "retarget": "retarget",
    "filings": "filing",
    "curtail": "curtail",
    "digest": "digest",
    "converts": "converts",
    "4cp": "4cp",  # ERCOT 4CP warnings (rules/fourcp.py)
    "ercot.grid": "ercot.grid",  # ERCOT grid condition and PRC (rules/grid_condition.py)
    "curtail tomorrow": "dam",  # ERCOT's day-ahead prices for tomorrow arrived (rules/dam.py)
    "production": "production",
    "treasury": "treasury",
    "quiet": "quiet",
    "debt": "debt",
    "maturity": "maturity",
}
# Event rules that take only tickers (any watched miner when none is given).
TICKER_EVENTS: tuple[str, ...] = ("converts", "production", "treasury", "quiet")


def resolve_kind(word: str) -> tuple[str, ...] | None:
    """The canonical filing kinds ``word`` stands for ("atm" -> ("equity_offering",)), or None."""
    return KIND_ALIASES.get(word.strip().lower().replace("-", "_"))


def match_event(rule: EventRule, kind: str, data: Mapping[str, Any]) -> bool:
    """True when an event of ``kind`` with ``data`` concerns ``rule``.

    A ``converts`` event needs ``data["ticker"]`` when the rule names tickers.
    A ``debt`` event (one ledger change) needs ``data["ticker"]`` when the rule names tickers; a
    ``maturity`` event is for one threshold (``data["within_s"]``) and matches the rules of that one.
    A ``filing`` needs ``data["ticker"]`` and ``data["kind"]``, and ``data["amount_usd"]`` when the
    rule has a minimum: a filing of unknown amount does not match ``>= 500M``. ``curtail`` is a
    threshold in disguise (rules.evaluate.effective_threshold_rule) and ``digest`` is scheduled
    (rules.quiet.digest_due); they only match an event of their own name, should a caller emit one.
    """
    wanted = EVENT_KINDS.get(rule.event)
    if wanted is None or kind.lower() not in (wanted, rule.event):
        return False
    if rule.event in TICKER_EVENTS:  # converts, and the miner book's production/treasury/quiet
        return not rule.tickers or str(data.get("ticker") or "").upper() in rule.tickers
    if rule.event in ("debt", "maturity"):  # a ledger change; a maturity or put date coming up
        if rule.tickers and str(data.get("ticker") or "").upper() not in rule.tickers:
            return False
        return rule.event == "debt" or data.get("within_s") == rule.within_s
    if rule.event != "filings":
        return True
    filing_kind = str(data.get("kind") or "other").lower()
    if filing_kind not in (rule.kinds or FINANCING_KINDS):
        return False
    if rule.tickers:
        ticker = str(data.get("ticker") or "").upper()
        if ticker not in rule.tickers:
            return False
    if rule.min_usd is not None:
        amount = data.get("amount_usd")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < rule.min_usd:
            return False
    return True
