"""The miner book's production figures in the engine (issue 19): a filing event that carries
operating figures (the filings watcher reads them from production updates, earnings releases and
HPC announcements) is stored per miner and metric, turned into the ``hashrate/held/mined/
efficiency/share.<t>`` observations rules judge, and into ``production`` / ``treasury`` events;
and a miner that stopped reporting at its cadence becomes a ``quiet`` event. No Telegram here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from rules import production as rules_production
from rules.catalogue import STOCK_TICKERS
from rules.data import Event, Observation
from storage import observations as obs_store
from storage import production as store
from storage.clock import iso, parse_iso

SOURCE = "edgar"


def from_filing(db: Database, event: Event, now: datetime) -> tuple[list[Observation], list[Event]]:
    """Store the operating figures a filing event carries; the observations and events they make.
    A filing seen before (same accession) makes nothing: figures are stored once."""
    data = event.data
    ops = data.get("operations") or {}
    ticker = str(data.get("ticker") or "").upper()
    if not ops or not ticker or ticker.lower() not in STOCK_TICKERS:
        return [], []
    accession = str(data.get("accession") or event.key)
    filed_at = parse_iso(data.get("filed_at")) or event.at
    return record(db, ticker, accession, filed_at, ops, now, url=data.get("url"))


def record(
    db: Database,
    ticker: str,
    accession: str,
    filed_at: datetime,
    ops: Mapping[str, Any],
    now: datetime,
    *,
    url: str | None = None,
) -> tuple[list[Observation], list[Event]]:
    """Store one release's operating figures (``Operations.to_json()``) for ``ticker``; the
    observations and events they make. Used by the live engine and by the CLI's history builder."""
    figures: Mapping[str, Mapping[str, Any]] = ops.get("figures") or {}
    hpc = ops.get("hpc")
    new = store.save_figures(db, ticker, accession, filed_at, figures, now, url=url)
    new_hpc = bool(hpc) and store.save_hpc(db, ticker, accession, filed_at, hpc, now, url=url)
    if not new and not new_hpc:
        return [], []
    fresh = {name: figures[name] for name in new}
    network = obs_store.value_at_or_before(db, "hashrate", filed_at)
    observations = rules_production.observations(ticker, fresh, filed_at, network)
    previous: dict[str, Any] = {}
    for name, fig in fresh.items():
        prev = store.previous_figure(
            db, ticker, name, filed_at, rules_production.period_kind(fig.get("period")), accession
        )
        if prev is not None:
            previous[name] = {
                "value": prev["value"],
                "period": prev["period"],
                "filed_at": iso(prev["filed_at"]),
            }
    events: list[Event] = []
    if fresh or new_hpc:
        payload = {
            "ticker": ticker,
            "accession": accession,
            "period": ops.get("period"),
            "figures": dict(fresh),
            "previous": previous,
            "hpc": hpc if new_hpc else None,
            "filed_at": iso(filed_at),
            "url": url,
        }
        events.append(Event("production", f"production:{ticker}:{accession}", filed_at, SOURCE, payload))
    held = fresh.get("held_btc")
    before = previous.get("held_btc")
    if held and before and float(held["value"]) < float(before["value"]):
        # a release showing fewer coins than the last one of its kind: the treasury moved
        events.append(
            Event(
                "treasury",
                f"treasury:{ticker}:{accession}",
                filed_at,
                SOURCE,
                {
                    "ticker": ticker,
                    "value": held["value"],
                    "period": held.get("period"),
                    "as_of": held.get("as_of"),
                    "qualifier": held.get("qualifier"),
                    "before_value": before["value"],
                    "before_at": before.get("period") or before.get("filed_at"),
                },
            )
        )
    return observations, events


def quiet_events(db: Database, now: datetime) -> list[Event]:
    """One ``quiet`` event per miner that has missed its usual reporting cadence (keyed on its last
    report, so it is announced once until it reports again)."""
    out: list[Event] = []
    for ticker in store.tickers(db):
        times = store.report_times(db, ticker)
        quiet = rules_production.gone_quiet(times, now)
        if quiet is None:
            continue
        data = {
            "ticker": ticker,
            "last_at": quiet.last_at.date().isoformat(),
            "days_since": round(quiet.days_since),
            "usual_days": round(quiet.usual_days),
        }
        out.append(Event("quiet", f"quiet:{ticker}:{iso(quiet.last_at)}", now, SOURCE, data))
    return out
