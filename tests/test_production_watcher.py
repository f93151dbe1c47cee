"""The filings watcher carries a miner release's operating figures in its event (issue 19): the
EDGAR stand-in of tests/test_filings_edgar.py serves an 8-K whose EX-99.1 is Riot's REAL November
2023 production update (tests/fixtures/production); the primary document is a stand-in cover (a
real 8-K with no figures), as in that file's exhibit test."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.test_filings_edgar import NOW, Env, env, riot_8k  # noqa: F401  (env is a fixture)


async def test_production_exhibit_figures_ride_on_the_filing_event(env: Env) -> None:  # noqa: F811
    state: dict[str, Any] = {}
    watcher = env.watcher()
    await watcher.poll(env.ctx(NOW - timedelta(minutes=1), state))
    filing = riot_8k(
        NOW - timedelta(seconds=30),
        "0001558370-23-019523",
        "nordstrom-8k-2023-03-01-item-5.02.html",  # a cover with no figures of its own
        ("7.01", "9.01"),
    )
    filing.documents["ex99-1.htm"] = (
        "EX-99.1",
        "../production/riot-ex99-1-2023-12-06-november-2023-production.txt",
    )
    env.edgar.add(filing)
    result = await watcher.poll(env.ctx(NOW, state))
    (event,) = result.events
    assert event.data["kind"] == "production_update"
    figures = event.data["operations"]["figures"]
    assert figures["mined_btc"]["value"] == 552
    assert figures["hashrate_ehs"] == {**figures["hashrate_ehs"], "value": 12.4, "qualifier": "deployed"}
    assert figures["held_btc"]["value"] == 7358


async def test_a_financing_filing_carries_no_operating_figures(env: Env) -> None:  # noqa: F811
    state: dict[str, Any] = {}
    watcher = env.watcher()
    await watcher.poll(env.ctx(NOW - timedelta(minutes=1), state))
    filing = riot_8k(NOW - timedelta(seconds=30), "0001104659-25-000002", "mstr-8k-2022-03-29-term-loan.html",
                     ("1.01", "2.03"))  # fmt: skip
    env.edgar.add(filing)
    result = await watcher.poll(env.ctx(NOW, state))
    (event,) = result.events
    assert "operations" not in event.data
