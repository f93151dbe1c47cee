"""The filings watcher's pieces the ledger reuses, imported in this one place.

One term extractor (issue 5's ``analyse_filing``) and one submissions parser serve both the filings
watcher and the ledger. The filings code is moving from ``watchers/filing_terms.py`` and
``watchers/edgar.py`` into the package ``watchers/filings/``; whichever layout this tree has is used,
so the ledger works before and after that move. (Once the move is on main, the fallback branch can go.)
"""

from __future__ import annotations

try:  # the watchers/filings/ package
    from watchers.filings.analyse import analyse_filing
    from watchers.filings.model import DEBT_KINDS
    from watchers.filings.parse import FilingRef, parse_submissions
    from watchers.filings.summary import format_usd_short
except ImportError:  # the flat modules on main before the move
    from watchers.edgar import FilingRef, parse_submissions
    from watchers.filing_terms import DEBT_KINDS, analyse_filing, format_usd_short

__all__ = ["DEBT_KINDS", "FilingRef", "analyse_filing", "format_usd_short", "parse_submissions"]
