"""A stock's derived metrics and conversion-price crossings, read from storage on the database thread
(issue 15). The arithmetic is rules/equity.py; this gathers its inputs (the latest ``stock.<ticker>``
observation, the newest cover share count, the debt ledger) and keeps the side of each conversion
price the stock is on. Ingest (bot/engine/ingest.py) stores and evaluates what it returns, in the
same transaction as the quote."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from rules import equity
from rules.data import Event, Observation
from rules.evaluate import DEFAULTS
from storage import equity as equity_store
from storage import ledger as ledger_store
from storage import observations


@dataclass(frozen=True, slots=True)
class Inputs:
    ticker: str  # upper case
    price: equity.Price | None
    shares: equity.SharesOutstanding | None
    ledger: equity.Ledger | None


def gather(db: Database, ticker: str) -> Inputs:
    """Everything the derived metrics of ``ticker`` are computed from, as stored now."""
    t = ticker.upper()
    last = observations.latest(db, equity.metric_name(equity.PRICE_FAMILY, t))
    price = equity.Price(last[0], last[1], last[2]) if last is not None else None
    return Inputs(t, price, equity_store.latest_shares(db, t), ledger_store.load_ledger(db, t))


def derived(db: Database, ticker: str) -> list[equity.Derived]:
    inputs = gather(db, ticker)
    return equity.derive(inputs.ticker, inputs.price, inputs.shares, inputs.ledger)


def derive_with_price(db: Database, quote: Observation) -> list[tuple[equity.Derived, str]]:
    """The derived metrics of a fresh ``stock.<ticker>`` quote not yet stored (``once``), with the
    stored share count and ledger; each with a line naming its inputs' dates."""
    parts = equity.split_metric(quote.metric)
    if parts is None or parts[0] != equity.PRICE_FAMILY:
        return []
    t = parts[1].upper()
    price = equity.Price(quote.value, quote.at, quote.source)
    shares, ledger = equity_store.latest_shares(db, t), ledger_store.load_ledger(db, t)
    return [(d, inputs_line(d)) for d in equity.derive(t, price, shares, ledger)]


def inputs_line(d: equity.Derived) -> str:
    """ "price 2025-07-30 20:00 UTC (yahoo) · shares 2025-07-29 (10-Q) · debt as of 2025-06-30"."""
    parts = [f"price {d.price.at:%Y-%m-%d %H:%M} UTC ({d.price.source})"]
    if d.shares is not None:
        parts.append(f"shares {d.shares.as_of} ({d.shares.source.form or 'cover'})")
    if d.debt_as_of is not None:
        parts.append(f"debt as of {d.debt_as_of}")
    return "inputs: " + " · ".join(parts)


def crossings(db: Database, ticker: str) -> list[Event]:
    """Conversion prices the latest quote crossed since the last one (with hysteresis), as
    ``converts`` events keyed per tranche, direction and quote time: announced once each. The first
    quote seen against a level only records its side (a rule set later hears of the next crossing).
    A level whose price changed (an adjusted conversion rate) starts over the same way."""
    inputs = gather(db, ticker)
    price = inputs.price
    if price is None:
        return []
    sides = equity_store.level_sides(db, inputs.ticker)
    out: list[Event] = []
    for level in equity.levels(inputs.ledger):
        before = sides.get(level.key)
        prev = before["side"] if before and abs(before["level_usd"] - level.price_usd) < 1e-9 else None
        after = equity.side_after(prev, price.value, level.price_usd, DEFAULTS.margin_pct)
        if prev is not None and after == prev:
            continue
        equity_store.put_level_side(
            db, inputs.ticker, level.key, after, level.price_usd, price.value, price.at
        )
        if prev is None:
            continue
        issued = equity.shares_on_conversion(level.tranche)
        out.append(
            Event(
                kind="converts",
                key=f"converts:{inputs.ticker}:{level.key}:{after}:{price.at.isoformat()}",
                at=price.at,
                source=price.source,
                data={
                    "ticker": inputs.ticker,
                    "instrument": level.instrument,
                    "level": level.kind,
                    "level_usd": level.price_usd,
                    "direction": after,
                    "price": price.value,
                    "price_at": price.at.isoformat(),
                    "distance_pct": equity.distance_pct(price.value, level.price_usd),
                    "shares_on_conversion": issued,
                    "debt_as_of": inputs.ledger.latest_period if inputs.ledger else None,
                },
            )
        )
    return out


def tickers_in(metrics: list[str] | set[str] | dict[str, object]) -> list[str]:
    """The tickers whose ``stock.<ticker>`` is among ``metrics``, upper case, sorted."""
    out = set()
    for metric in metrics:
        parts = equity.split_metric(metric)
        if parts is not None and parts[0] == equity.PRICE_FAMILY:
            out.add(parts[1].upper())
    return sorted(out)


def is_market_metric(metric: str) -> bool:
    """A metric that only moves while the US market is open: its age counts in trading time."""
    return equity.split_metric(metric) is not None
