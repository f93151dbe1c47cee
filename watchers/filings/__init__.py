"""SEC EDGAR filings of listed miners: find new ones, classify them, read their financing terms.

Code map, in the order a filing flows through it:

* ``config``: ``[sources.edgar]`` / ``[watchers.filings]`` models and the required User-Agent.
* ``client``: the EDGAR client: one process-wide 10 req/s limiter, back-off, document fetches.
* ``parse``: pure parsers of the feed, submissions JSON, company_tickers.json and index pages.
* ``watcher``: :class:`FilingsWatcher`, which polls and emits one ``filing`` Event per new filing;
  ``state``: what it keeps between polls (:class:`FilingsState`).
* ``analyse``: :func:`analyse_filing`, the entry point of the pure classifier and extractor:
  ``text`` (normalisation), ``classify`` (the kind), ``terms`` (the terms), ``instruments`` (which
  passages are about the new instrument), ``model`` (the result).
* ``summary``: the one-line description of a filing for a human.
"""
