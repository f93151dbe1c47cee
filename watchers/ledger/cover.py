"""Shares outstanding from a periodic report's cover page: ``dei:EntityCommonStockSharesOutstanding``.

The cover states the count at a date of its own (an instant context, usually a few weeks after the
period end: RIOT's 10-K for 2024 gives 350,207,536 shares as of 2025-02-20). A registrant with
several classes tags one fact per class (``dei:EntityCommonStockSharesOutstanding`` on the
``us-gaap:StatementClassOfStockAxis``); those of the newest date are added up, since every class
shares in the equity a market cap prices. A count that is not a positive whole number of shares, or
a cover with no such fact, gives None: nothing is estimated. Pure, no I/O.
"""

from __future__ import annotations

from rules.ledger import SharesOutstanding, Source
from watchers.ledger.ixbrl import IxDocument

CONCEPT = "EntityCommonStockSharesOutstanding"
MAX_SHARES = 1e12  # more shares than any listed company has: a mis-scaled fact


def shares_outstanding(doc: IxDocument, source: Source) -> tuple[SharesOutstanding | None, list[str]]:
    """The cover's share count with its date, or None; plus one note per fact the checks dropped."""
    notes: list[str] = []
    by_date: dict[str, dict[tuple[str, ...], float]] = {}
    for fact in doc.facts:
        if not fact.name.startswith("dei") or fact.local_name != CONCEPT:
            continue
        value, when = fact.value, fact.context.end
        if not isinstance(value, float) or not when or not fact.context.instant:
            continue  # nil, unreadable (already noted by the parser) or not an instant
        if fact.unit not in (None, "shares") or not 0 < value < MAX_SHARES or value != int(value):
            notes.append(f"dei:{CONCEPT} {fact.raw!r} is not a share count, dropped")
            continue
        members = tuple(sorted(fact.context.dims.values()))
        by_date.setdefault(when, {})[members] = value  # the same class shown twice counts once
    if not by_date:
        return None, notes
    when = max(by_date)
    counts = by_date[when]
    if () in counts and len(counts) > 1:
        counts = {(): counts[()]}  # a total beside per-class facts: the total is the figure stated
    return SharesOutstanding(shares=float(sum(counts.values())), as_of=when, source=source), notes
