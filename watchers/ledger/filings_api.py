"""The filings watcher's pieces the ledger reuses, imported in this one place.

One term extractor (issue 5's ``analyse_filing``) and one submissions parser serve both the filings
watcher (``watchers/filings/``) and the ledger.
"""

from __future__ import annotations

from watchers.filings.analyse import analyse_filing
from watchers.filings.model import DEBT_KINDS
from watchers.filings.parse import FilingRef, parse_submissions
from watchers.filings.summary import format_usd_short

__all__ = ["DEBT_KINDS", "FilingRef", "analyse_filing", "format_usd_short", "parse_submissions"]
