"""The bootstrap's plan from real submissions JSON (tests/fixtures/edgar, provenance there): relevant
forms of the last three years, oldest first, resumable from a cursor, paging files asked for."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watchers.base import SourceError
from watchers.ledger.bootstrap import cursor_after, plan, release

EDGAR = Path(__file__).parent / "fixtures" / "edgar"
ALZAMEND = json.loads(
    (EDGAR / "submissions-CIK0001677077-alzamend.2026-03-10.recent-trimmed-40.json").read_text()
)
CARBO = json.loads((EDGAR / "submissions-CIK0001009672.2026-02-08.recent-trimmed-30.json").read_text())
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_relevant_forms_of_the_window_oldest_first():
    p = plan(ALZAMEND, now=NOW)
    got = [(d.form, d.filed, d.items) for d in p.documents]
    # 10-K/10-Q always; 8-Ks only with a financing item (3.02, 8.01, 1.01), not 5.03/2.02/5.07; no proxies
    assert got == [
        ("10-K", "2025-07-22", ()),
        ("8-K", "2025-08-01", ("3.02", "9.01")),
        ("10-Q", "2025-09-10", ()),
        ("8-K", "2025-09-25", ("3.02", "9.01")),
        ("8-K", "2025-10-09", ("3.02", "9.01")),
        ("8-K", "2025-11-18", ("8.01", "9.01")),
        ("10-Q", "2025-12-09", ()),
        ("8-K", "2026-03-06", ("1.01", "9.01")),  # accepted 21:30:37 UTC
        ("424B5", "2026-03-06", ()),  # accepted 21:46:18 UTC: acceptance time orders one day's filings
    ]
    first = p.documents[0]
    assert first.url.startswith("https://www.sec.gov/Archives/edgar/data/1677077/")
    assert first.url.endswith(
        first.accession.replace("-", "")
        + "/"
        + ALZAMEND["filings"]["recent"]["primaryDocument"][
            ALZAMEND["filings"]["recent"]["accessionNumber"].index(first.accession)
        ]
    )
    assert p.pages_needed == []


def test_release_walk_keeps_the_filings_that_can_carry_a_release():
    # issue 19's production history: 8-Ks under 2.02 (results), 7.01 (Reg FD), 8.01; not 1.01/3.02/
    # 5.03/5.07 alone, no 10-K/10-Q/424B5
    got = [(d.form, d.filed, d.items) for d in plan(ALZAMEND, now=NOW, keep=release).documents]
    assert got == [
        ("8-K", "2025-05-08", ("5.03", "7.01", "9.01")),
        ("8-K", "2025-07-23", ("2.02", "9.01")),
        ("8-K", "2025-11-18", ("8.01", "9.01")),
    ]


def test_resumes_after_the_stored_cursor():
    full = plan(ALZAMEND, now=NOW).documents
    cursor = cursor_after(full[3])
    rest = plan(ALZAMEND, now=NOW, cursor=json.loads(json.dumps(cursor))).documents  # stored as JSON
    assert rest == full[4:]


def test_old_filer_window_and_paging():
    # CARBO's newest filing is from 2020: nothing in a 2026 three-year window, its old page not needed
    assert plan(CARBO, now=datetime(2026, 2, 8, tzinfo=UTC)).documents == []
    p = plan(CARBO, now=datetime(2021, 1, 1, tzinfo=UTC))
    assert [d.form for d in p.documents][-3:] == ["8-K", "10-K", "8-K"]
    assert p.pages_needed == []  # the page covers 1996-2003
    p = plan(CARBO, now=datetime(2005, 1, 1, tzinfo=UTC))
    assert p.pages_needed == ["CIK0001009672-submissions-001.json"]


def test_garbage_is_a_source_error():
    with pytest.raises(SourceError):
        plan({"cik": 1, "filings": {}}, now=NOW)
