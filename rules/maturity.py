"""Maturities and holder puts coming up, for ``/alert maturity < 180d`` (issue 14). Pure: no I/O, no
clock (``today`` is passed in)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from rules.data import Event
from rules.ledger import Ledger, Tranche, latest_date


@dataclass(frozen=True, slots=True)
class Upcoming:
    ticker: str
    tranche: Tranche
    what: str  # "maturity" | "put"
    text: str  # the date as the filing gives it: "2026-09-01", "2026-12", "2026"
    when: date  # the last day that text allows (a year alone counts at 31 December)


def upcoming(ledger: Ledger, today: date, within_days: int) -> list[Upcoming]:
    """Every maturity or holder put of a live tranche (counted in the total, principal > 0) from
    ``today`` to ``today + within_days``, soonest first."""
    horizon = today + timedelta(days=within_days)
    out: list[Upcoming] = []
    for t in ledger.current():
        if not (t.outstanding_principal_usd or 0) > 0:
            continue
        for what, text in (("maturity", t.maturity), ("put", t.put_date)):
            when = latest_date(text)
            if when is not None and text and today <= when <= horizon:
                out.append(Upcoming(ledger.ticker, t, what, text, when))
    out.sort(key=lambda u: (u.when, u.ticker, u.tranche.instrument))
    return out


def maturity_events(ledgers: Iterable[Ledger], now: datetime, thresholds: Iterable[int]) -> list[Event]:
    """One ``maturity`` event per tranche, date and threshold (seconds) that has come within reach.
    Its key names all three, so each is announced once, ever, per threshold."""
    events: list[Event] = []
    today = now.date()
    for ledger in ledgers:
        for within_s in sorted(set(thresholds)):
            days = within_s // 86400
            for u in upcoming(ledger, today, days):
                key = f"maturity:{u.ticker}:{u.tranche.key}:{u.what}:{u.text}:{days}d"
                cited = u.tranche.cited.get("maturity" if u.what == "maturity" else "put_date")
                events.append(
                    Event(
                        kind="maturity",
                        key=key,
                        at=now,
                        source="sec-filings",
                        data={
                            "ticker": u.ticker,
                            "instrument": u.tranche.instrument,
                            "what": u.what,
                            "date": u.text,
                            "days_left": (u.when - today).days,
                            "within_s": within_s,
                            "outstanding_usd": u.tranche.outstanding_principal_usd,
                            "document": cited.document if cited else None,
                            "form": cited.form if cited else None,
                        },
                    )
                )
    return events
