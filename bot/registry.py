"""Which watchers run, built from the settings. Adding a source family touches its own module,
its config model in bot/settings.py and one line here."""

from __future__ import annotations

from bot.services import ScheduledWatcher
from bot.settings import Settings
from watchers.bitcoind_zmq import zmq_module
from watchers.ercot import PowerWatcher
from watchers.ercot_dam import DamWatcher
from watchers.ercot_grid import GridWatcher
from watchers.filings.watcher import FilingsWatcher
from watchers.ledger.config import REPORT_FORMS
from watchers.network import NetworkWatcher
from watchers.other_grids import GridsWatcher
from watchers.quotes import QuotesWatcher


def build_watchers(settings: Settings) -> list[ScheduledWatcher]:
    """The enabled watchers with their poll intervals. Raises ValueError for unusable config
    (e.g. the filings watcher without an EDGAR user agent) with a message naming the key."""
    out: list[ScheduledWatcher] = []
    w, s = settings.watchers, settings.sources
    if w.network.enabled:
        if s.bitcoind.zmq:
            zmq_module()  # ZmqUnavailable (a ValueError naming the key) when pyzmq is not installed
        out.append(
            ScheduledWatcher(NetworkWatcher(w.network, s.mempool, s.bitcoind, s.price), w.network.every)
        )
    if w.power.enabled:
        out.append(ScheduledWatcher(PowerWatcher(w.power, s.ercot), w.power.every))
    if w.grid.enabled:
        out.append(ScheduledWatcher(GridWatcher(w.grid, s.ercot), w.grid.every))
    if w.dam.enabled:
        out.append(ScheduledWatcher(DamWatcher(w.dam, s.ercot), w.dam.every))
    if w.grids.enabled:  # needs the optional extra: pip install minerwatch[grids]
        out.append(ScheduledWatcher(GridsWatcher(w.grids), w.grids.every))
    if w.filings.enabled:
        reports = REPORT_FORMS if w.ledger.enabled else ()  # 10-Q/10-K for the debt ledger
        out.append(
            ScheduledWatcher(FilingsWatcher(w.filings, s.edgar, report_forms=reports), w.filings.every)
        )
    if w.quotes.enabled:  # tickers default to the filings watch list
        quotes = QuotesWatcher(w.quotes, w.quotes.tickers or w.filings.tickers, s.yahoo, s.finnhub, s.nasdaq)
        out.append(ScheduledWatcher(quotes, w.quotes.every))
    return out


def source_links(settings: Settings) -> dict[str, str]:
    """Where a reader can check a number, per source. Public addresses only: mempool's numbers link
    to the configured public explorer, never to [sources.mempool] base_url (often a LAN box)."""
    return {
        "mempool": settings.links.explorer_url + "/mining",
        "kraken": "https://www.kraken.com/prices/bitcoin",
        "coinbase": "https://www.coinbase.com/price/bitcoin",
        "ercot": "https://www.ercot.com/content/cdr/html/real_time_spp.html",
        "edgar": settings.sources.edgar.www_url.rstrip("/") + "/cgi-bin/browse-edgar?action=getcurrent",
        "sec-filings": settings.sources.edgar.www_url.rstrip("/") + "/edgar/search/",
        "yahoo": "https://finance.yahoo.com/",
        "finnhub": "https://finnhub.io/",
        "nasdaq": "https://www.nasdaq.com/market-activity/stocks",
    }
