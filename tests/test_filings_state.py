"""The filings watcher's state between polls (watchers/filings/state.py), without HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from watchers.filings.parse import FilingRef
from watchers.filings.state import MAX_DOC_TRIES, SEEN_KEEP, FilingsState

NOW = datetime(2025, 12, 12, 15, 0, tzinfo=UTC)


def _ref(acc: str, filed: datetime) -> FilingRef:
    return FilingRef(acc, 1507605, "MARA Holdings, Inc.", "8-K", filed, ("8.01",), "doc.htm")


def test_a_stored_state_round_trips_in_the_same_keys() -> None:
    ref = _ref("0001493152-25-000001", NOW - timedelta(hours=1))
    raw = {
        "seen": {"0001493152-25-000002": "2025-12-11T10:00:00Z"},
        "pending": {ref.accession: {"tries": 1, "ref": ref.to_state()}},
        "last_ok": "2025-12-12T14:59:00Z",
        "last_reconcile": "2025-12-12T10:00:00Z",
        "tickers": {
            "fetched_at": "2025-12-12T00:00:00Z",
            "for": ["MARA"],
            "map": {"MARA": [1507605, "MARA"]},
        },
    }
    state = FilingsState.load(json.loads(json.dumps(raw)))
    assert not state.first_run and state.retries() == [ref]
    out: dict = {}
    state.save(out)
    assert out == raw


def test_first_run_and_catch_up_decisions() -> None:
    fresh = FilingsState.load({})
    assert fresh.first_run and fresh.feed_since() is None
    assert fresh.needs_submissions(NOW, feed_answered=True, feed_covered=True)  # record what exists
    state = FilingsState.load(
        {"seen": {}, "last_ok": "2025-12-12T14:59:00Z", "last_reconcile": "2025-12-12T14:00:00Z"}
    )
    assert state.feed_since() == NOW - timedelta(minutes=1)
    assert not state.needs_submissions(NOW, feed_answered=True, feed_covered=True)
    assert state.needs_submissions(NOW, feed_answered=False, feed_covered=False)  # the feed failed
    assert state.needs_submissions(NOW, feed_answered=True, feed_covered=False)  # a gap
    assert state.needs_submissions(NOW + timedelta(hours=5), feed_answered=True, feed_covered=True)  # 6 h
    assert state.announce_after(NOW) == NOW - timedelta(days=1, minutes=1)
    assert state.announce_after(NOW + timedelta(days=30)) == NOW + timedelta(days=23)  # at most 7 days back


def test_documents_are_retried_then_given_up_and_seen_is_bounded() -> None:
    state = FilingsState.load({"seen": {}})
    ref = _ref("0001493152-25-000003", NOW)
    assert [state.document_failed(ref) for _ in range(MAX_DOC_TRIES)] == [True] * (MAX_DOC_TRIES - 1) + [
        False
    ]
    state.record(ref)
    assert ref.accession in state.seen and state.pending == {}
    old = _ref("0001493152-25-000004", NOW - SEEN_KEEP - timedelta(days=1))
    state.record(old)
    state.finish(NOW)
    assert old.accession not in state.seen and state.last_ok == NOW
