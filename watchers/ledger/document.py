"""One filing document -> a :class:`~rules.ledger.LedgerDocument`. The entry point the CLI and the bot share.

* An inline-XBRL 10-Q/10-K (20-F/40-F): form, period, company, CIK, ticker and shares outstanding
  (:mod:`watchers.ledger.cover`) from its cover-page (``dei:``) facts; tranches from its debt footnote
  (:mod:`watchers.ledger.footnote`).
* Anything else (8-K, 6-K, 424B, a press release): the issuance it announces, through the filings
  term extractor (:mod:`watchers.ledger.issuance`); form from the caller or the document's text.

A document that is not what it claims to be (not XML where iXBRL is expected, no form, larger than
:data:`MAX_BYTES`) raises :class:`~watchers.base.SourceError` with a one-line reason: the caller skips
it with that note and the ledger stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rules.ledger import PERIODIC_FORMS, LedgerDocument, Source
from watchers.base import SourceError
from watchers.ledger import cover, footnote, ixbrl
from watchers.ledger.issuance import read_issuance
from watchers.ledger.soft_call import with_soft_call

SOURCE = "ledger"
MAX_BYTES = 40_000_000  # the largest miner 10-K seen is ~4 MB; 10x that is no filing we can use
_IX_MARK = b"http://www.xbrl.org/2013/inlineXBRL"


def read_document(
    data: bytes,
    *,
    document: str,
    form: str | None = None,
    filed: str | None = None,
    accession: str | None = None,
    ticker: str | None = None,
    items: tuple[str, ...] = (),
    exhibits: Sequence[str] = (),
) -> LedgerDocument:
    """Read one document. ``document`` names it in citations (file name or URL); ``exhibits`` are
    the texts of an 8-K/6-K's EX-99 press releases, read with it as the filings watcher reads them
    (a pricing release often states the coupon and conversion terms the 8-K's body leaves out)."""
    try:
        return _read(
            data,
            document=document,
            form=form,
            filed=filed,
            accession=accession,
            ticker=ticker,
            items=items,
            exhibits=exhibits,
        )
    except SourceError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as err:
        # a shape this reader did not foresee: skip the document with the reason, never half-apply it
        raise SourceError(SOURCE, f"{document}: unreadable ({type(err).__name__}: {err})"[:300]) from err


def _read(
    data: bytes,
    *,
    document: str,
    form: str | None = None,
    filed: str | None = None,
    accession: str | None = None,
    ticker: str | None = None,
    items: tuple[str, ...] = (),
    exhibits: Sequence[str] = (),
) -> LedgerDocument:
    if len(data) > MAX_BYTES:
        raise SourceError(
            SOURCE, f"{document}: {len(data):,} bytes is over the {MAX_BYTES:,}-byte limit, skipped"
        )
    if not data.strip():
        raise SourceError(SOURCE, f"{document}: empty document, skipped")
    if _IX_MARK in data[:200_000]:
        return _ixbrl(
            data,
            document=document,
            form=form,
            filed=filed,
            accession=accession,
            ticker=ticker,
            items=items,
            exhibits=exhibits,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if "\x00" in text[:10_000]:
        raise SourceError(SOURCE, f"{document}: binary data, not a filing document, skipped")
    form_u = (form or _form_in_text(text) or "").upper()
    if not form_u:
        raise SourceError(SOURCE, f"{document}: neither inline XBRL nor a recognisable 8-K/6-K/424B, skipped")
    if form_u.removesuffix("/A") in PERIODIC_FORMS:
        raise SourceError(SOURCE, f"{document}: a {form_u} without inline XBRL is not read, skipped")
    tranches, notes = read_issuance(text, form=form_u, items=items, exhibits=exhibits)
    tranches, call_notes = with_soft_call(tranches, text)
    notes = [*notes, *call_notes]
    return LedgerDocument(
        source=Source(form=form_u, period=None, document=document, accession=accession, filed=filed),
        ticker=ticker.upper() if ticker else None,
        tranches=tuple(tranches),
        notes=tuple(notes),
    )


def _ixbrl(
    data: bytes,
    *,
    document: str,
    form: str | None,
    filed: str | None,
    accession: str | None,
    ticker: str | None,
    items: tuple[str, ...],
    exhibits: Sequence[str] = (),
) -> LedgerDocument:
    try:
        doc = ixbrl.parse(data)
    except ixbrl.IxbrlError as err:
        raise SourceError(SOURCE, f"{document}: {err}".splitlines()[0][:300]) from err
    form_u = (doc.dei("DocumentType") or form or "").upper()
    period = doc.dei("DocumentPeriodEndDate")
    period = ixbrl.transform_date(period, "ixt:date-monthname-day-year-en") if period else None
    if not form_u or not period:
        raise SourceError(SOURCE, f"{document}: no dei:DocumentType/DocumentPeriodEndDate, skipped")
    symbol = ticker or doc.dei("TradingSymbol")
    company, cik = doc.dei("EntityRegistrantName"), doc.dei("EntityCentralIndexKey")
    if form_u.removesuffix("/A") not in PERIODIC_FORMS:
        # an 8-K/6-K with a tagged cover page: the cover gives ticker and date, the text the terms
        text = data.decode("utf-8", "replace")
        tranches, notes = read_issuance(text, form=form_u, items=items, exhibits=exhibits)
        tranches, call_notes = with_soft_call(tranches, text)
        notes = [*notes, *call_notes]
        return LedgerDocument(
            source=Source(
                form=form_u, period=None, document=document, accession=accession, filed=filed or period
            ),
            ticker=symbol.upper() if symbol else None,
            company=company,
            cik=cik,
            tranches=tuple(tranches),
            notes=tuple(notes),
        )
    reading = footnote.read_note(doc, period)
    source = Source(form=form_u, period=period, document=document, accession=accession, filed=filed)
    shares, share_notes = cover.shares_outstanding(doc, source)
    return LedgerDocument(
        source=source,
        ticker=symbol.upper() if symbol else None,
        company=company,
        cik=cik,
        tranches=tuple(reading.tranches),
        notes=(*doc.notes[:50], *reading.notes, *share_notes),
        shares=shares,
    )


def _form_in_text(text: str) -> str | None:
    head = re.sub(r"<[^>]+>", " ", text[:20_000])
    m = re.search(r"\bFORM\s+(8-K(?:/A)?|6-K|10-Q|10-K|20-F|40-F)\b", head, re.I)
    if m:
        return m.group(1)
    m = re.search(r"\bRule\s+424\s*\(b\)\s*\((\d)\)", head, re.I)
    return f"424B{m.group(1)}" if m else None
