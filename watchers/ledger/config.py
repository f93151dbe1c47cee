"""``[watchers.ledger]``: the debt ledger built from the filings of the watched miners (issue 14).

The ledger has no poll of its own: the filings watcher reports each new filing of a watched miner
(8-K/6-K/424B as ``filing`` events, 10-Q/10-K/20-F/40-F as ``report`` events) and the engine
(bot/engine/ledger.py) fetches the document and applies it. The bootstrap reads each miner's
filing history from EDGAR's submissions JSON once.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Periodic reports the filings watcher follows for the ledger (besides its own forms).
REPORT_FORMS = ("10-Q", "10-Q/A", "10-K", "10-K/A", "20-F", "20-F/A", "40-F", "40-F/A", "10-KT", "10-QT")
# Every form whose document can change a ledger: the reports, issuance 8-Ks/6-Ks and prospectuses.
LEDGER_FORMS = (*REPORT_FORMS, "8-K", "8-K/A", "6-K", "424B*")


class LedgerConfig(BaseModel):
    """``[watchers.ledger]``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True  # acts only when the filings watcher is enabled (it finds the filings)
    bootstrap: bool = True  # on first start, each miner's last ``years`` of filings
    years: int = Field(default=3, ge=1, le=10)
