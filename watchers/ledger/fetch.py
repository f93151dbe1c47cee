"""Fetching what the ledger reads from EDGAR, through the filings client and its one process-wide
10 req/s limiter (watchers/filings/client.py). Fetch only: reading is watchers.ledger.read_document,
storing is the engine's.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from watchers.base import SourceError
from watchers.filings.client import edgar_get
from watchers.filings.config import SOURCE, EdgarSourceConfig
from watchers.filings.parse import parse_index


def archive_folder(source: EdgarSourceConfig, cik: int, accession: str) -> str:
    return f"{source.www_url.rstrip('/')}/Archives/edgar/data/{int(cik)}/{accession.replace('-', '')}"


def index_url(source: EdgarSourceConfig, cik: int, accession: str) -> str:
    return f"{archive_folder(source, cik, accession)}/{accession}-index.htm"


async def primary_url(
    session: aiohttp.ClientSession,
    source: EdgarSourceConfig,
    *,
    cik: int,
    accession: str,
    primary_document: str | None = None,
) -> str:
    """The primary document's URL: from the submissions' ``primaryDocument`` when known (no request),
    else from the filing's index page."""
    folder = archive_folder(source, cik, accession)
    if primary_document:
        return f"{folder}/{primary_document.rsplit('/', 1)[-1]}"
    body = await edgar_get(session, source, index_url(source, cik, accession))
    url, _ = parse_index(body.decode("utf-8", "replace"), folder)
    if url is None:
        raise SourceError(SOURCE, f"filing index of {accession} lists no documents")
    return url


async def issuance_documents(
    session: aiohttp.ClientSession,
    source: EdgarSourceConfig,
    *,
    cik: int,
    accession: str,
    primary_document: str | None = None,
) -> tuple[str, bytes, list[str]]:
    """An 8-K/6-K as the filings watcher reads it: (primary URL, primary bytes, the texts of its
    EX-99.1/99.2 releases), from the filing's index page. Without an index page (an error other
    than SEC's "slow down") the primary document named by the submissions is read alone."""
    folder = archive_folder(source, cik, accession)
    url: str | None = None
    exhibit_urls: list[str] = []
    try:
        body = await edgar_get(session, source, index_url(source, cik, accession))
        url, exhibit_urls = parse_index(body.decode("utf-8", "replace"), folder)
    except SourceError as err:
        if err.retry_after_s is not None or not primary_document:
            raise
    if url is None:
        if not primary_document:
            raise SourceError(SOURCE, f"filing index of {accession} lists no documents")
        url = f"{folder}/{primary_document.rsplit('/', 1)[-1]}"
    data = await document_bytes(session, source, url)
    exhibits = [
        (await edgar_get(session, source, u)).decode("utf-8", "replace") for u in exhibit_urls if u != url
    ]
    return url, data, exhibits


async def document_bytes(session: aiohttp.ClientSession, source: EdgarSourceConfig, url: str) -> bytes:
    """One document's bytes (capped by the client's size limit: a larger one is a SourceError)."""
    return await edgar_get(session, source, url)


async def submissions(session: aiohttp.ClientSession, source: EdgarSourceConfig, cik: int) -> dict[str, Any]:
    """A company's submissions JSON (``filings.recent`` and the list of older pages)."""
    return _json(
        await edgar_get(session, source, f"{source.data_url.rstrip('/')}/submissions/CIK{cik:010d}.json")
    )


async def submissions_page(
    session: aiohttp.ClientSession, source: EdgarSourceConfig, name: str
) -> dict[str, Any]:
    """One older page of a submissions JSON (``filings.files[].name``): flat columns."""
    return _json(await edgar_get(session, source, f"{source.data_url.rstrip('/')}/submissions/{name}"))


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SourceError(SOURCE, "submissions answer is not JSON") from err
    if not isinstance(data, dict):
        raise SourceError(SOURCE, "submissions answer is not a JSON object")
    return data
