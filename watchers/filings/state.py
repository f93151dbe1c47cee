"""What the filings watcher keeps between polls, and the decisions that depend only on it.

The runner persists ``PollContext.state`` as JSON after a successful poll; :class:`FilingsState`
reads it once at the start of a poll and writes it back at the end, in the same keys as before
(``seen``, ``pending``, ``last_ok``, ``last_reconcile``, ``tickers``), so a stored state keeps working.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from watchers.filings.parse import FilingRef, _iso, _parse_iso

RECONCILE_EVERY = timedelta(hours=6)  # submissions catch-up even when the feed looks complete
CATCHUP_GRACE = timedelta(days=1)  # after downtime, announce filings back to last_ok minus this
MAX_CATCHUP_AGE = timedelta(days=7)  # ... but never older than this
SEEN_KEEP = timedelta(days=30)
SEEN_MAX = 5000
MAX_DOC_TRIES = 3  # polls a filing's documents are retried before it is announced without terms


@dataclass
class FilingsState:
    seen: dict[str, str] = field(default_factory=dict)  # accession -> filed_at (ISO UTC)
    # filings whose documents could not be read yet: {accession: {"tries": n, "ref": {...}}}
    pending: dict[str, Any] = field(default_factory=dict)
    last_ok: datetime | None = None  # the last successful poll
    last_reconcile: datetime | None = None  # the last complete submissions catch-up
    tickers: dict[str, Any] | None = None  # {"fetched_at", "for", "map"}: the company_tickers cache
    first_run: bool = True  # nothing recorded yet: record what exists, announce nothing
    # The feed's ETag / Last-Modified from its last answer (sent back as a conditional request), and
    # whether that read reached back to the poll before it (a 304 then means still complete).
    feed_validators: dict[str, str] = field(default_factory=dict)
    feed_covered: bool = False

    @classmethod
    def load(cls, raw: Mapping[str, Any]) -> FilingsState:
        seen, pending, tickers = raw.get("seen"), raw.get("pending"), raw.get("tickers")
        validators = raw.get("feed_validators")
        return cls(
            seen=dict(seen) if isinstance(seen, dict) else {},
            pending=dict(pending) if isinstance(pending, dict) else {},
            last_ok=_parse_iso(raw.get("last_ok")),
            last_reconcile=_parse_iso(raw.get("last_reconcile")),
            tickers=tickers if isinstance(tickers, dict) else None,
            first_run=not isinstance(seen, dict),
            feed_validators={str(k): str(v) for k, v in validators.items() if k in ("etag", "last_modified")}
            if isinstance(validators, dict)
            else {},
            feed_covered=raw.get("feed_covered") is True,
        )

    def save(self, raw: dict[str, Any]) -> None:
        raw["seen"] = self.seen
        raw["pending"] = self.pending
        if self.last_ok is not None:
            raw["last_ok"] = _iso(self.last_ok)
        if self.last_reconcile is not None:
            raw["last_reconcile"] = _iso(self.last_reconcile)
        if self.tickers is not None:
            raw["tickers"] = self.tickers
        if self.feed_validators:
            raw["feed_validators"] = self.feed_validators
        else:
            raw.pop("feed_validators", None)
        if self.feed_covered:
            raw["feed_covered"] = True
        else:
            raw.pop("feed_covered", None)

    # -- decisions ----------------------------------------------------------------------------

    def feed_since(self) -> datetime | None:
        """How far back the feed must be read: to the last poll; on the first run only its first
        page (the submissions JSON records the rest)."""
        return None if self.first_run else self.last_ok

    def needs_submissions(self, now: datetime, *, feed_answered: bool, feed_covered: bool) -> bool:
        """Whether the per-company submissions JSON must be read this poll: on the first run, when
        the feed failed or did not reach back to the last poll, and every RECONCILE_EVERY."""
        reconcile_due = self.last_reconcile is None or now - self.last_reconcile >= RECONCILE_EVERY
        return self.first_run or not feed_answered or not feed_covered or reconcile_due

    def announce_after(self, now: datetime) -> datetime:
        """Unseen filings older than this are recorded silently: after downtime, back to the last
        successful poll minus a grace period, never more than MAX_CATCHUP_AGE back."""
        floor = now - MAX_CATCHUP_AGE
        return max(self.last_ok - CATCHUP_GRACE, floor) if self.last_ok else floor

    def retries(self) -> list[FilingRef]:
        """The filings whose documents are still to be read (dropping unreadable entries)."""
        out: list[FilingRef] = []
        for acc, entry in list(self.pending.items()):
            ref = FilingRef.from_state(entry.get("ref")) if isinstance(entry, dict) else None
            if ref is None:
                del self.pending[acc]
            else:
                out.append(ref)
        return out

    # -- changes ------------------------------------------------------------------------------

    def is_seen(self, accession: str) -> bool:
        return accession in self.seen

    def record(self, ref: FilingRef) -> None:
        """The filing is announced (or deliberately not): never again."""
        self.pending.pop(ref.accession, None)
        self.seen[ref.accession] = _iso(ref.filed_at)

    def record_existing(self, refs: Iterable[FilingRef], now: datetime) -> None:
        for ref in refs:
            if now - ref.filed_at <= SEEN_KEEP:
                self.seen[ref.accession] = _iso(ref.filed_at)

    def document_failed(self, ref: FilingRef) -> bool:
        """Count a failed document fetch; True while the filing should be retried next poll."""
        entry = self.pending.get(ref.accession)
        tries = (entry.get("tries", 0) if isinstance(entry, dict) else 0) + 1
        if tries < MAX_DOC_TRIES:
            self.pending[ref.accession] = {"tries": tries, "ref": ref.to_state()}
            return True
        return False

    def finish(self, now: datetime) -> None:
        """End of a successful poll: bound ``seen`` by age and count, forget pending filings that
        were recorded, remember the poll."""
        keep_after = now - SEEN_KEEP
        for acc, filed in list(self.seen.items()):
            dt = _parse_iso(filed)
            if dt is not None and dt < keep_after:
                del self.seen[acc]
        if len(self.seen) > SEEN_MAX:
            for acc, _ in sorted(self.seen.items(), key=lambda kv: kv[1])[: len(self.seen) - SEEN_MAX]:
                del self.seen[acc]
        for acc in [a for a in self.pending if a in self.seen]:
            self.pending.pop(acc, None)
        self.last_ok = now
