"""The ERCOT grid watcher (issue 16) against a local stand-in for ERCOT's supply-demand dashboard.

The payload is the synthetic fixture in tests/fixtures/ercot_grid (documented shape; no recording
exists, see PROVENANCE.md there), served by a small aiohttp app that counts requests."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from pydantic import ValidationError

from watchers.base import PollContext, SourceError
from watchers.ercot import ErcotSourceConfig
from watchers.ercot_grid import (
    DAILY_PRC_PATH,
    SUPPLY_DEMAND_PATH,
    GridWatcher,
    GridWatcherConfig,
    parse_daily_prc,
    parse_supply_demand,
)

FIXTURE = (
    Path(__file__).parent / "fixtures" / "ercot_grid" / "supply-demand.2026-07-14T1600-0500.synthetic.json"
)
PAYLOAD = json.loads(FIXTURE.read_text())
PRC = json.loads((FIXTURE.parent / "daily-prc.2026-07-14T1600-0500.synthetic.json").read_text())
CT = ZoneInfo("America/Chicago")
NOW = datetime(2026, 7, 14, 16, 2, tzinfo=CT).astimezone(UTC)


class Stand:
    def __init__(self) -> None:
        self.payload: Any = PAYLOAD
        self.status = 200
        self.headers: dict[str, str] = {}
        self.hits = 0
        self.body: bytes | None = None
        self.prc: Any = PRC
        self.prc_status = 200
        self.prc_hits = 0

    async def handle_prc(self, request: web.Request) -> web.Response:
        self.prc_hits += 1
        if self.prc_status != 200:
            return web.Response(status=self.prc_status, text="busy")
        return web.json_response(self.prc)

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.status != 200:
            return web.Response(status=self.status, text="<html>busy</html>", headers=self.headers)
        if self.body is not None:
            return web.Response(body=self.body, content_type="text/html")
        return web.json_response(self.payload)


@pytest.fixture
async def stand(aiohttp_server):
    s = Stand()
    app = web.Application()
    app.router.add_get(SUPPLY_DEMAND_PATH, s.handle)
    app.router.add_get(DAILY_PRC_PATH, s.handle_prc)
    server = await aiohttp_server(app)
    s.url = str(server.make_url("")).rstrip("/")
    return s


def watcher(stand: Stand, **cfg: Any) -> GridWatcher:
    return GridWatcher(GridWatcherConfig(enabled=True, **cfg), ErcotSourceConfig(base_url=stand.url))


async def poll(w: GridWatcher, now: datetime, state: dict | None = None):
    async with aiohttp.ClientSession() as session:
        ctx = PollContext(session=session, now=now, state=state if state is not None else {})
        return await w.poll(ctx), ctx.state


async def test_load_forecast_and_month_peak(stand):
    result, state = await poll(watcher(stand), NOW)
    obs = {o.metric: o for o in result.observations}
    actual = [r for r in PAYLOAD["data"] if r["forecast"] == 0]
    newest = max(actual, key=lambda r: r["epoch"])
    assert obs["ercot.load"].value == newest["demand"]
    assert obs["ercot.load"].at == datetime(2026, 7, 14, 21, 0, tzinfo=UTC)  # 16:00 CDT, the row's epoch
    ahead = [r for r in PAYLOAD["data"] if r["forecast"] == 1]
    assert obs["ercot.load.forecast"].value == max(r["demand"] for r in ahead)
    assert result.notes["ercot.load.forecast"] == "peak HE 17 CPT"  # the curve peaks at 17:00 CDT
    # The month peak: today is the first observed day; its highest complete quarter is the one
    # ending 16:00 (the load still rises), mean of the values ending 15:50, 15:55 and 16:00.
    last3 = sorted(actual, key=lambda r: r["epoch"])[-3:]
    assert obs["ercot.load.month_peak"].value == pytest.approx(sum(r["demand"] for r in last3) / 3)
    assert "Tue Jul 14" in result.notes["ercot.load.month_peak"]
    assert state["fourcp"]["month"] == "2026-07"
    assert result.events == []  # no earlier peak this month to be near
    assert stand.hits == 1


async def test_a_prior_peak_makes_a_4cp_forecast_warning_once(stand):
    prior = {
        "fourcp": {
            "version": 1,
            "month": "2026-07",
            "days": {"2026-07-07": [80_500.0, "2026-07-07T22:00:00+00:00"]},
            "stages": {},
            "forecast": None,
        }
    }
    result, state = await poll(watcher(stand), NOW, prior)
    stages = sorted(e.data["stage"] for e in result.events)
    # forecast 80,000 is 0.6% under 80,500: warn; the 15:45-16:00 interval (~79,700) is within 2% too
    assert stages == ["actual", "forecast"]
    assert {e.key for e in result.events} == {"4cp:2026-07-14:forecast", "4cp:2026-07-14:actual"}
    again, _ = await poll(watcher(stand), NOW + timedelta(minutes=5), state)
    assert again.events == []  # once per day per stage


async def test_requests_do_not_grow_and_429_stands_back(stand):
    w = watcher(stand)
    stand.status, stand.headers = 429, {"Retry-After": "1200"}
    with pytest.raises(SourceError, match="HTTP 429"):
        await poll(w, NOW)
    assert stand.hits == 1
    stand.status = 200
    with pytest.raises(SourceError, match="standing back"):
        await poll(w, NOW + timedelta(minutes=5))  # within Retry-After: not asked at all
    assert stand.hits == 1
    result, _ = await poll(w, NOW + timedelta(minutes=21))
    assert result.observations and stand.hits == 2
    # 503 without Retry-After: 10 minutes, doubling on repeats
    stand.status, stand.headers = 503, {}
    with pytest.raises(SourceError):
        await poll(w, NOW + timedelta(minutes=30))
    with pytest.raises(SourceError, match="standing back"):
        await poll(w, NOW + timedelta(minutes=39))
    with pytest.raises(SourceError, match="HTTP 503"):
        await poll(w, NOW + timedelta(minutes=41))
    with pytest.raises(SourceError, match="standing back"):
        await poll(w, NOW + timedelta(minutes=59))  # second strike: 20 minutes
    assert stand.hits == 4


def edited(**change: Any) -> dict:
    payload = copy.deepcopy(PAYLOAD)
    payload["data"][10].update(change)
    return payload


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (edited(demand="n/a"), "not a number"),
        (edited(demand=None), "not a number"),
        (edited(demand=9_999_999), "outside the plausible"),
        (edited(epoch="yesterday"), "epoch"),
        (edited(forecast=2), "forecast flag"),
        ({"data": "nothing"}, "no data list"),
        ({"data": [r for r in PAYLOAD["data"] if r["forecast"] == 1]}, "no actual load"),
        (edited(epoch=int((NOW + timedelta(hours=3)).timestamp() * 1000), forecast=0), "in the future"),
    ],
)
def test_garbage_is_rejected(payload, match):
    with pytest.raises(SourceError, match=match):
        parse_supply_demand(payload, NOW)


async def test_html_and_stale_answers_are_errors(stand):
    stand.body = b"<html>maintenance</html>"
    with pytest.raises(SourceError, match="HTML"):
        await poll(watcher(stand), NOW)
    stand.body = None
    with pytest.raises(SourceError, match="stale"):
        await poll(watcher(stand), NOW + timedelta(hours=2))


def test_config_is_validated():
    cfg = GridWatcherConfig(fourcp_window="9:00-21:30", fourcp_months=[8, 6, 7])
    assert cfg.fourcp_window == "09:00-21:30" and cfg.fourcp_months == [6, 7, 8]
    assert cfg.fourcp().window_end.hour == 21
    for bad in ({"fourcp_window": "20:00-13:00"}, {"fourcp_months": [13]}, {"fourcp_margin_pct": -1}):
        with pytest.raises(ValidationError):
            GridWatcherConfig(**bad)


def prc_payload(state: str, title: str, eea: int, prc: str) -> dict:
    payload = copy.deepcopy(PRC)
    payload["current_condition"].update(state=state, title=title, eea_level=eea, prc_value=prc)
    return payload


async def test_grid_condition_and_prc(stand):
    w = watcher(stand)
    result, state = await poll(w, NOW)
    obs = {o.metric: o for o in result.observations}
    assert obs["ercot.prc"].value == 13_820.0  # "13,820": the comma stripped
    assert obs["ercot.prc"].at == datetime(2026, 7, 14, 21, 0, tzinfo=UTC)
    assert result.notes["ercot.prc"] == "Normal Conditions"
    assert [e for e in result.events if e.kind == "ercot.grid"] == []  # normal at start: silent
    stand.prc = prc_payload("emergency", "EEA Level 1", 1, "2,310")
    result, state = await poll(w, NOW + timedelta(minutes=5), state)
    grid = [e.data for e in result.events if e.kind == "ercot.grid"]
    assert {(d["what"], d.get("condition")) for d in grid} == {
        ("condition", "eea1")
    }  # PRC waits a 2nd reading
    result, state = await poll(w, NOW + timedelta(minutes=10), state)
    grid = [e.data for e in result.events if e.kind == "ercot.grid"]
    assert [(d["what"], d["band"], d["threshold_mw"]) for d in grid] == [("prc", 2, 2500.0)]
    assert stand.hits == 3 and stand.prc_hits == 3  # two requests per poll, whatever the chats


async def test_a_failing_prc_endpoint_leaves_the_load_standing(stand):
    stand.prc_status = 500
    result, _ = await poll(watcher(stand), NOW)
    assert "ercot.load" in {o.metric for o in result.observations}
    assert "HTTP 500" in result.errors["ercot-prc"]


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        ({"prc_value": "lots"}, "not a number"),
        ({"prc_value": "9,999,999"}, "outside the plausible"),
        ({"eea_level": 7}, "eea_level"),
        ({"state": None}, "state"),
        ({"datetime": "now"}, "epoch seconds"),
    ],
)
def test_prc_garbage_is_rejected(edit, match):
    payload = copy.deepcopy(PRC)
    payload["current_condition"].update(edit)
    with pytest.raises(SourceError, match=match):
        parse_daily_prc(payload, NOW)
    with pytest.raises(SourceError, match="current_condition"):
        parse_daily_prc({"data": []}, NOW)
    with pytest.raises(SourceError, match="stale"):
        parse_daily_prc(PRC, NOW + timedelta(hours=1))
