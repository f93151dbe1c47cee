"""Which event rules a retarget or a filing concerns."""

from __future__ import annotations

import pytest

from rules.events import ALL_KINDS, FINANCING_KINDS, KIND_ALIASES, match_event, resolve_kind
from rules.grammar import parse_rule
from rules.model import EventRule


def filing(ticker="MARA", kind="convertible_notes", amount_usd=None):
    return {"ticker": ticker, "kind": kind, "amount_usd": amount_usd}


# (id, rule text, event kind, data, matches)
CASES = [
    ("retarget-matches-retarget", "retarget", "retarget", {"height": 927_360}, True),
    ("retarget-ignores-filing", "retarget", "filing", filing(), False),
    ("filings-ignores-retarget", "filings", "retarget", {}, False),
    ("filings-any-financing", "filings", "filing", filing(kind="equity_offering"), True),
    ("filings-hpc-is-financing", "filings", "filing", filing(kind="hpc_contract"), True),
    ("filings-not-earnings", "filings", "filing", filing(kind="earnings"), False),
    ("filings-not-production", "filings", "filing", filing(kind="production_update"), False),
    ("filings-not-other", "filings", "filing", filing(kind="other"), False),
    ("filings-no-kind-is-other", "filings", "filing", {"ticker": "MARA"}, False),
    ("earnings-when-asked", "filings earnings", "filing", filing(kind="earnings"), True),
    ("ticker-match", "filings MARA RIOT", "filing", filing(ticker="RIOT"), True),
    ("ticker-case-insensitive", "filings MARA", "filing", filing(ticker="mara"), True),
    ("ticker-mismatch", "filings MARA RIOT", "filing", filing(ticker="CLSK"), False),
    ("kind-alias-convertible", "filings convertible", "filing", filing(kind="convertible_notes"), True),
    ("kind-alias-narrows", "filings convertible", "filing", filing(kind="senior_notes"), False),
    ("notes-covers-secured", "filings notes", "filing", filing(kind="secured_notes"), True),
    ("atm-is-equity", "filings atm", "filing", filing(kind="equity_offering"), True),
    ("credit", "filings credit", "filing", filing(kind="credit_facility"), True),
    ("min-usd-met", "filings >= 500M", "filing", filing(amount_usd=500e6), True),
    ("min-usd-not-met", "filings >= 500M", "filing", filing(amount_usd=499e6), False),
    ("min-usd-unknown-amount", "filings >= 500M", "filing", filing(amount_usd=None), False),
    ("min-usd-bad-amount", "filings >= 500M", "filing", filing(amount_usd="lots"), False),
    (
        "combination-all-met",
        "filings MARA RIOT convertible >= 500M",
        "filing",
        filing("RIOT", "convertible_notes", 1e9),
        True,
    ),
    (
        "combination-wrong-kind",
        "filings MARA RIOT convertible >= 500M",
        "filing",
        filing("RIOT", "equity_offering", 1e9),
        False,
    ),
    ("plural-kind-name", "filings", "filings", filing(), True),
    ("curtail-not-an-event", "curtail", "filing", filing(), False),
    ("digest-matches-digest", "digest 08:00", "digest", {}, True),
]


@pytest.mark.parametrize(
    ("text", "kind", "data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_match_event(text, kind, data, expected):
    rule = parse_rule(text)
    assert isinstance(rule, EventRule)
    assert match_event(rule, kind, data) is expected


@pytest.mark.parametrize(
    ("word", "kinds"),
    [
        ("convertible", ("convertible_notes",)),
        ("Dilution", ("equity_offering",)),
        ("hpc", ("hpc_contract",)),
        ("senior-notes", ("senior_notes",)),
        ("debt", ("convertible_notes", "senior_notes", "secured_notes", "credit_facility")),
        ("financing", FINANCING_KINDS),
        ("banana", None),
    ],
    ids=["convertible", "dilution-any-case", "hpc", "dash", "debt", "financing", "unknown"],
)
def test_resolve_kind(word, kinds):
    assert resolve_kind(word) == kinds


def test_every_alias_names_known_kinds():
    for kinds in KIND_ALIASES.values():
        assert set(kinds) <= set(ALL_KINDS)
    assert set(ALL_KINDS) - set(FINANCING_KINDS) == {"earnings", "production_update", "other"}
