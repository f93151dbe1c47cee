"""Debt ledger readers (issue 14): inline XBRL, the debt footnote, issuance documents. Pure parsing."""

from watchers.ledger.document import MAX_BYTES, read_document

__all__ = ["MAX_BYTES", "read_document"]
