"""Share prices of listed miners (issue 15): Yahoo chart JSON, Finnhub, Nasdaq, with failover.

``QuotesWatcher`` emits ``stock.<ticker>`` (USD). Sources live in one module each; the calendar
that decides when to poll is ``rules/market_calendar.py``.
"""

from watchers.quotes.finnhub import FinnhubSourceConfig
from watchers.quotes.nasdaq import NasdaqSourceConfig
from watchers.quotes.watcher import QuotesWatcher, QuotesWatcherConfig
from watchers.quotes.yahoo import YahooSourceConfig

__all__ = [
    "FinnhubSourceConfig",
    "NasdaqSourceConfig",
    "QuotesWatcher",
    "QuotesWatcherConfig",
    "YahooSourceConfig",
]
