"""What every quote source returns, and how a source says it is down.

A source module (yahoo, finnhub, nasdaq) turns one HTTP answer into one :class:`Quote` or raises:

* :class:`watchers.base.SourceError` for an answer about this ticker only (unknown symbol, a zero
  or negative price, a payload for another symbol): the next source is asked for this ticker;
* :class:`SourceDown` for an answer that every other ticker would get too (HTTP 429, a rejected
  key, an HTML or plain-text page where JSON belongs, a timeout): the watcher stops asking that
  source for ``backoff_s`` and every ticker fails over at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from watchers.base import SourceError

TICKER = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")  # lower-cased it must fit the metric name stock.<ticker>


@dataclass(frozen=True, slots=True)
class Quote:
    """One regular-session price as a source reported it."""

    ticker: str  # upper case, as configured: "MARA"
    price: float  # USD per share
    at: datetime  # aware UTC: the quote's own time (last trade, or the close)
    source: str  # "yahoo", "finnhub", "nasdaq"
    realtime: bool | None = None  # what the source says about delay (Nasdaq isRealTime); None: silent


class SourceDown(SourceError):
    """The source is unusable for every ticker for a while (rate limit, refused key, block page)."""

    def __init__(self, source: str, message: str, *, backoff_s: float) -> None:
        super().__init__(source, message, retry_after_s=backoff_s)
        self.backoff_s = backoff_s


def positive_price(value: float, ticker: str, *, source: str) -> float:
    if value <= 0:
        raise SourceError(source, f"{ticker}: price {value:g} is not positive")
    return value


def same_symbol(got: object, ticker: str, *, source: str) -> None:
    """A payload for another symbol (a redirect, a mix-up upstream) is garbage for this ticker."""
    if not isinstance(got, str) or got.strip().upper() != ticker:
        raise SourceError(source, f"{ticker}: answer is for symbol {got!r}")
