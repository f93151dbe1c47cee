"""Other grids' real-time prices through gridstatus (issue 16), WITHOUT gridstatus: the optional
extra is not installed in the test environment (it pulls in pandas). The pure core and the
watcher run on gridstatus-shaped records (the columns gridstatus documents: ``Interval Start``,
``Interval End``, ``Location``, ``LMP``; gridstatus's own test stub STUB_LMP_DF in
test_get_lmp_deprecation.py has this shape) served by a stand-in client; the values are
synthetic. The DataFrame path itself is tested only where pandas is installed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from rules.isos import ISO_HUBS, hub
from watchers.base import PollContext, SourceError
from watchers.other_grids import GridsWatcher, GridsWatcherConfig, latest_prices

NOW = datetime(2026, 7, 14, 21, 7, tzinfo=UTC)


class Records:
    """A stand-in for a DataFrame: just ``to_dict("records")``."""

    def __init__(self, rows):
        self.rows = rows

    def to_dict(self, orient):
        assert orient == "records"
        return list(self.rows)


def row(location, price, end=NOW - timedelta(minutes=2)):
    return {
        "Interval Start": end - timedelta(minutes=5),
        "Interval End": end,
        "Location": location,
        "LMP": price,
    }


class HttpError(Exception):
    def __init__(self, status):
        super().__init__(f"{status} Client Error")
        self.response = type("R", (), {"status_code": status})()


class FakeClients:
    def __init__(self):
        self.calls: list[tuple[str, list[str]]] = []
        self.threads: set[str] = set()
        self.fail: dict[str, Exception] = {}
        self.rows: dict[str, list] = {
            "nyiso": [row("WEST", 31.2, NOW - timedelta(minutes=7)), row("WEST", 33.5), row("N.Y.C.", 45.1)],
            "miso": [row("INDIANA.HUB", 28.4), row("TEXAS.HUB", 99.0)],
            "pjm": [row("WESTERN HUB", 40.0)],
        }

    def factory(self, iso):
        return iso

    def fetch(self, client, iso, locations):
        self.calls.append((iso, locations))
        self.threads.add(threading.current_thread().name)
        if iso in self.fail:
            raise self.fail[iso]
        return Records(self.rows[iso])


def watcher(fake, hubs, env=None):
    return GridsWatcher(GridsWatcherConfig(enabled=True, hubs=hubs), fake.factory, fake.fetch, env or {})


async def poll(w, now=NOW):
    async with aiohttp.ClientSession() as session:
        return await w.poll(PollContext(session=session, now=now, state={}))


async def test_one_call_per_iso_off_the_event_loop():
    fake = FakeClients()
    w = watcher(fake, ["nyiso.west", "nyiso.nyc", "miso.indiana_hub"])
    result = await poll(w)
    obs = {o.metric: (o.value, o.source) for o in result.observations}
    assert obs == {
        "power.nyiso.west": (33.5, "nyiso"),  # the newest of its two intervals
        "power.nyiso.nyc": (45.1, "nyiso"),
        "power.miso.indiana_hub": (28.4, "miso"),
    }
    assert sorted(fake.calls) == [("miso", ["INDIANA.HUB"]), ("nyiso", ["WEST", "N.Y.C."])]
    assert threading.main_thread().name not in fake.threads  # gridstatus is synchronous: a worker thread


async def test_keyed_isos_are_skipped_without_a_key_and_read_with_one():
    fake = FakeClients()
    result = await poll(watcher(fake, ["nyiso.west", "pjm.western_hub"]))
    assert "PJM_API_KEY" in result.errors["pjm"] and all(c[0] != "pjm" for c in fake.calls)
    result = await poll(watcher(fake, ["pjm.western_hub"], env={"PJM_API_KEY": "k"}))
    assert [o.metric for o in result.observations] == ["power.pjm.western_hub"]


async def test_429_backs_one_iso_off_and_the_others_go_on():
    fake = FakeClients()
    fake.fail["miso"] = HttpError(429)
    w = watcher(fake, ["nyiso.west", "miso.indiana_hub"])
    result = await poll(w)
    assert "HttpError" in result.errors["miso"] and [o.metric for o in result.observations] == [
        "power.nyiso.west"
    ]
    del fake.fail["miso"]
    result = await poll(w, NOW + timedelta(minutes=5))
    assert "standing back" in result.errors["miso"]
    assert [c[0] for c in fake.calls].count("miso") == 1
    result = await poll(w, NOW + timedelta(minutes=11))
    assert "power.miso.indiana_hub" in {o.metric for o in result.observations}


async def test_garbage_is_skipped_and_nothing_at_all_is_an_error():
    fake = FakeClients()
    fake.rows["nyiso"] = [
        row("WEST", "n/a"),
        {**row("N.Y.C.", 40.0), "Interval End": datetime(2026, 7, 14, 21, 5)},  # naive
        row("WEST", 99_999.0),
        row("N.Y.C.", 41.0, NOW + timedelta(hours=1)),
    ]
    with pytest.raises(SourceError) as err:
        await poll(watcher(fake, ["nyiso.west", "nyiso.nyc"]))
    assert all(
        w in err.value.message for w in ("plausible", "time zone", "in the future", "no price for WEST")
    )
    fake.rows["nyiso"] = [row("WEST", 30.0, NOW - timedelta(hours=3))]
    with pytest.raises(SourceError, match="stale"):
        await poll(watcher(fake, ["nyiso.west"]))


def test_hub_table_and_config():
    assert hub("NYISO.NYC").location == "N.Y.C." and hub("power.aeso.pool").currency == "CAD"
    assert {h.iso for h in ISO_HUBS.values()} == {"nyiso", "pjm", "miso", "spp", "caiso", "isone", "aeso"}
    assert {h.iso for h in ISO_HUBS.values() if h.key_env} == {"pjm", "aeso"}
    assert GridsWatcherConfig(hubs=["NYISO.WEST", "nyiso.west"]).hubs == ["nyiso.west"]
    with pytest.raises(ValueError, match="not a known hub"):
        GridsWatcherConfig(hubs=["nyiso.atlantis"])


def test_latest_prices_on_a_real_dataframe():
    pd = pytest.importorskip(
        "pandas", reason="pandas is not installed (it comes with the optional grids extra)"
    )
    frame = pd.DataFrame([row("WEST", 33.5)])
    frame["Interval End"] = pd.to_datetime(frame["Interval End"], utc=True).dt.tz_convert("US/Eastern")
    found, problems = latest_prices(frame.to_dict("records"), [hub("nyiso.west")], NOW)
    assert found["power.nyiso.west"][1] == 33.5 and problems == []


async def test_fleet_hub_on_another_grid_drives_curtail(tmp_path, tg):
    from bot.engine.ingest import ingest
    from rules.data import Observation
    from tests.harness import FakeClock, bot_settings, running_bot
    from watchers.base import PollResult

    chat = 31
    clock = FakeClock(NOW)
    settings = bot_settings(tmp_path, tg, {"watchers.network": {"enabled": False}})
    async with running_bot(settings, clock) as (_app, svc):

        async def feed(**values):
            obs = [Observation(m.replace("__", "."), v, clock(), "nyiso") for m, v in values.items()]
            await svc.db(ingest, "t", PollResult(observations=obs), {}, clock(), svc.pipeline.opts)
            return await svc.notifier.drain()

        await tg.command("/fleet 18 0.045 hub NYISO.WEST", chat_id=chat)
        assert "Alert set" in await tg.command("/alert curtail", chat_id=chat)
        assert await feed(hashprice=50.0, power__nyiso__west=30.0) == 0
        clock.advance(300)
        assert await feed(power__nyiso__west=180.0) == 1  # above the $115.74 breakeven
        text = tg.sent(chat_id=chat)[-1]["text"]
        assert (
            "Curtail: NYISO.WEST $180.00/MWh" in text
            and "$115.74" in text
            and "NYISO (via gridstatus)" in text
        )
        # a CAD price is never compared with a USD breakeven
        await tg.command("/fleet 18 0.045 hub AESO.POOL", chat_id=chat)
        clock.advance(300)
        assert await feed(power__aeso__pool=900.0) == 0
