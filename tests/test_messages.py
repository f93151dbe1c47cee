"""Message texts: short HTML, numbers with units, user and source text escaped, within limits."""

from __future__ import annotations

from bot.delivery.messages import TELEGRAM_MAX_CHARS, alert_message, event_message, truncate
from rules.grammar import parse_rule
from rules.model import Reason

LINKS = {"mempool": "https://mempool.space/mining"}


def test_retarget_event_with_and_without_a_projection():
    text = event_message(
        "retarget",
        {"height": 870912, "realised_change_pct": 3.134, "projected_change_pct": 2.9, "difficulty": 102.29},
        LINKS,
    )
    assert "block 870,912: +3.13%" in text and "last projection +2.90%" in text and "102.29 T" in text
    # epochs missed while the bot was down: no projection; a missing change is left out, not an error
    text = event_message(
        "retarget", {"height": 870912, "realised_change_pct": None, "projected_change_pct": None}, LINKS
    )
    assert "block 870,912</b>" in text and "new epoch began" in text


def test_filing_event_is_escaped():
    text = event_message(
        "filing",
        {
            "summary": "Evil <b>Corp</b> & Co · 8-K",
            "kind": "senior_notes",
            "url": "https://www.sec.gov/x?a=1&b=2",
        },
        LINKS,
    )
    assert "Evil &lt;b&gt;Corp&lt;/b&gt; &amp; Co" in text
    assert 'href="https://www.sec.gov/x?a=1&amp;b=2"' in text and "senior notes" in text


def test_alert_message_states_number_threshold_and_source():
    rule = parse_rule("hashprice < 45")
    text = alert_message(
        rule=rule,
        reason=Reason.FIRING,
        value=43.217,
        snapshot={"price": 97120.0},
        source="mempool",
        links=LINKS,
        rule_text="hashprice < 45",
    )
    first, second, third = text.split("\n")
    assert first.startswith("🔔 <b>") and "$43.22/PH/day" in first
    assert "below your threshold $45" in second and "$97,120" in second
    assert 'href="https://mempool.space/mining"' in third and "hashprice &lt; 45" in third


def test_truncate_marks_the_cut():
    long = "x" * 5000
    assert len(truncate(long)) == TELEGRAM_MAX_CHARS and truncate(long).endswith("(truncated)")
    assert truncate("short") == "short"


def test_durations_read_as_people_say_them():
    from bot.delivery.messages import duration_text

    assert duration_text(47 * 60 + 59) == "47 min"
    assert duration_text(2 * 3600 + 14 * 60) == "2 h 14 m"
    assert duration_text(3 * 3600) == "3 h"
    assert duration_text(3 * 86400 + 4 * 3600 + 59) == "3 d 4 h"
    assert duration_text(-5) == "0 min"


def test_resolve_says_how_long_it_fired_and_no_data_since_when():
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    rule = parse_rule("hashprice < 45")
    common = {
        "rule": rule,
        "snapshot": {},
        "source": "mempool",
        "links": LINKS,
        "rule_text": "hashprice < 45",
    }
    text = alert_message(reason=Reason.RESOLVED, value=46.0, fired_for_s=2 * 3600 + 14 * 60 + 30, **common)
    assert "back from below $45.00/PH/day · resolved after 2 h 14 m" in text
    now = datetime(2026, 1, 5, 15, 40, tzinfo=UTC)
    since = now - timedelta(minutes=34)
    text = alert_message(
        reason=Reason.NO_DATA,
        value=None,
        stale_minutes=34,
        stale_since=since,
        now=now,
        tz=ZoneInfo("America/Chicago"),
        **common,
    )
    assert "No data for hashprice from mempool for 34 min" in text and "last value 09:06 CST" in text


def test_retarget_hashprice_is_shown_only_when_computed():
    data = {"height": 870912, "realised_change_pct": 3.1, "difficulty": 102.29}
    text = event_message("retarget", {**data, "hashprice": 54.321, "price": 97000.0, "fees": 0.03}, LINKS)
    assert "new hashprice <b>$54.32/PH/day</b> (at price $97,000, fees 0.03 BTC/block)" in text
    assert "hashprice" not in event_message("retarget", {**data, "price": 97000.0}, LINKS)


def test_curtail_and_breakeven_alerts_give_breakeven_in_cents_per_kwh_too():
    """Breakeven in ERCOT's $/MWh and in the ¢/kWh of a power bill ($115.74/MWh = 11.57¢/kWh)."""
    from bot.delivery.messages import curtail_message
    from rules.fleet import breakeven_text
    from rules.model import Reason

    assert breakeven_text(115.74) == "$115.74/MWh (11.57¢/kWh)"
    snapshot = {"hub": "HB_WEST", "power.hb_west": 200.0, "breakeven": 115.74}
    text = curtail_message(Reason.FIRING, snapshot, links={})
    assert "breakeven $115.74/MWh (11.57¢/kWh)" in text
