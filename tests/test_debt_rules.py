"""Issue 14's rules and messages, pure: ``debt``/``maturity`` in the grammar, which events they match,
the maturity events of a ledger read from the real RIOT 10-Q, the ``debt.<ticker>`` metric, and the
alert text of a real MARA closing 8-K applied through the bot's own commit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.delivery.messages import event_message
from bot.engine.ledger import debt_event
from bot.ledger_cli import commit, prepare
from rules.catalogue import held_until_next_filing, lookup
from rules.events import match_event
from rules.grammar import RuleError, format_rule, parse_rule
from rules.ledger import ledger_changes
from rules.maturity import maturity_events
from rules.model import EventRule
from storage.db import open_db
from tests.ledger_support import shared_dir

NOW = datetime(2025, 8, 1, 12, 0, tzinfo=UTC)
MARA_8K = Path(__file__).parent / "fixtures" / "filings" / "mara-8k-2024-11-21-convertible-closing.html"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("debt", "debt"),
        ("debt mara $riot", "debt MARA RIOT"),
        ("ledger MARA", "debt MARA"),
        ("maturity < 180d", "maturity < 180d"),
        ("!maturities MARA within 90", "!maturity MARA < 90d"),
        ("maturity < 26w", "maturity < 26w"),
        ("debt.mara > 3B", "debt.mara > 3B"),
        ("debt.riot rises 20% in 90d", "debt.riot rises 20% in 90d"),
    ],
)
def test_rules_parse_to_canonical_text(text: str, canonical: str) -> None:
    rule = parse_rule(text)
    assert format_rule(rule) == canonical
    assert parse_rule(canonical) == rule


@pytest.mark.parametrize(
    ("text", "problem", "example"),
    [
        ("debt XYZ", "'XYZ' is not a watched miner", "/alert debt MARA RIOT"),
        ("maturity", "Say how close", "/alert maturity < 180d"),
        ("maturity < 2h", "how many days", "/alert maturity < 180d"),
        ("debt > 5", "takes tickers only", "/alert debt MARA RIOT"),
    ],
)
def test_bad_rules_say_what_is_wrong_with_an_example(text: str, problem: str, example: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_rule(text)
    assert problem in str(err.value) and f"Example: {example}" in str(err.value)


def test_debt_and_maturity_events_match_their_rules() -> None:
    anyone, mara = EventRule("debt"), EventRule("debt", ("MARA",))
    assert match_event(anyone, "debt", {"ticker": "RIOT"}) and not match_event(
        mara, "debt", {"ticker": "RIOT"}
    )
    assert match_event(mara, "debt", {"ticker": "mara"})
    assert not match_event(anyone, "filing", {"ticker": "MARA", "kind": "convertible_notes"})
    soon = EventRule("maturity", within_s=180 * 86400)
    assert match_event(soon, "maturity", {"ticker": "RIOT", "within_s": 180 * 86400})
    assert not match_event(
        soon, "maturity", {"ticker": "RIOT", "within_s": 90 * 86400}
    )  # another threshold's


def test_debt_metric_is_catalogued_and_held() -> None:
    info = lookup("debt.mara")
    assert info is not None and info.unit == "USD" and "principal outstanding" in info.description
    assert held_until_next_filing("debt.mara") and not held_until_next_filing("stock.mara")
    assert lookup("debt.xyz") is None


@pytest.mark.skipif(shared_dir() is None, reason="shared/ledger not beside the checkout")
def test_maturity_events_of_the_real_riot_10q() -> None:
    shared = shared_dir()
    assert shared is not None
    data = (shared / "ledger" / "riot-10q-2025-06-30.html").read_bytes()
    result = commit(open_db(None), prepare(data, document="riot-10q.htm"), now=NOW)
    assert result.after is not None
    year = maturity_events([result.after], NOW, [365 * 86400])
    assert [(e.data["instrument"], e.data["date"], e.data["days_left"]) for e in year] == [
        ("$50 Million Credit Facility", "2026-07-15", 348)
    ]
    assert year[0].key == "maturity:RIOT:credit_facility:50-credit-facility:maturity:2026-07-15:365d"
    assert maturity_events([result.after], NOW, [180 * 86400]) == []
    text = event_message("maturity", year[0].data, {})
    assert "RIOT $50 Million Credit Facility: matures 2026-07-15, in 348 days" in text
    assert "$34.3M outstanding" in text and "maturity &lt; 365d" in text


def test_debt_message_of_a_real_closing_8k() -> None:
    prepared = prepare(
        MARA_8K.read_bytes(), document="https://www.sec.gov/x/form8-k.htm", accession="0001-24-1"
    )
    result = commit(open_db(None), prepared, now=NOW)
    assert result.before is not None and result.after is not None
    event = debt_event(result, prepared, ledger_changes(result.before, result.after))
    assert event is not None and event.key == "debt:MARA:0001-24-1"
    text = event_message("debt", event.data, {})
    assert text.startswith("🏦 <b>MARA adds $1B 0% converts due 2030: debt $1B</b>")
    assert '<a href="https://www.sec.gov/x/form8-k.htm">8-K 2024-11-20</a>' in text


def test_debt_page_says_how_far_the_bootstrap_is() -> None:
    from bot.handlers.debt import building_line

    done = ["MARA", "RIOT", "CLSK", "CORZ", "IREN", "BITF"]
    assert building_line({"total": 14, "done": done, "current": "WULF"}) == (
        "⏳ building: 6 of 14 miners (reading WULF)"
    )
    assert building_line({}) is None  # not started
    assert building_line({"total": 14, "done": done, "finished_at": "2025-08-01T00:00:00Z"}) is None
    assert (
        building_line({"total": 2, "done": ["MARA", "RIOT"], "current": "MARA"}) is None
    )  # a daily catch-up


def test_debt_rules_that_cannot_fire_say_why(tmp_path) -> None:
    from bot.handlers.reachable import never_fires, not_polled, watcher_off
    from bot.settings import load_settings
    from tests.harness import write_config

    off = load_settings(write_config(tmp_path / "off.toml", {}))  # the shipped default: filings off
    assert "[watchers.filings] is off" in (watcher_off(parse_rule("debt"), off) or "")
    assert not_polled(parse_rule("maturity < 90d"), off) is None  # it fires once filings are on
    riot = load_settings(
        write_config(tmp_path / "on.toml", {"watchers.filings": {"enabled": True, "tickers": ["RIOT"]}})
    )
    assert never_fires(parse_rule("debt RIOT"), riot) is None
    assert never_fires(parse_rule("debt.riot > 1B"), riot) is None
    assert "MARA is not on this bot's filings watch list" in (
        not_polled(parse_rule("debt.mara > 1B"), riot) or ""
    )
    assert "not on this bot's filings watch list" in (
        not_polled(parse_rule("maturity MARA < 30d"), riot) or ""
    )
    ledger_off = load_settings(
        write_config(
            tmp_path / "l.toml",
            {"watchers.filings": {"enabled": True}, "watchers.ledger": {"enabled": False}},
        )
    )
    assert "[watchers.ledger] is off" in (watcher_off(parse_rule("debt"), ledger_off) or "")
