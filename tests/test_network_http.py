"""The HTTP helpers every source shares (issue 12, items 9 and 12): a body over the source's limit is
a SourceError read in chunks (never whole), and a redirect off the configured host is never
followed, so neither a stranger's answer nor our declared User-Agent crosses hosts.

Servers are local aiohttp apps; the "other host" is a second server on 127.0.0.2 (loopback, so the
network guard allows it, but a different host for the URL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web

from watchers import base
from watchers.base import SourceError, fetch_bytes, fetch_json
from watchers.ercot import ErcotSourceConfig, PowerWatcher, PowerWatcherConfig
from watchers.mempool import MempoolSourceConfig
from watchers.network import NetworkWatcher, NetworkWatcherConfig
from watchers.price import PriceSourceConfig

BIG = 50 * 1024 * 1024  # the 50 MB body of the issue
PIECE = b"x" * (256 * 1024)
NOW = datetime(2024, 3, 31, 3, 18, tzinfo=UTC)

Start = Callable[[web.Application, str], Awaitable[str]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    runners: list[web.AppRunner] = []

    async def go(app: web.Application, host: str = "127.0.0.1") -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        runners.append(runner)
        return f"http://{host}:{runner.addresses[0][1]}"

    yield go
    for runner in runners:
        await runner.cleanup()


class Stream:
    """Serves ``size`` bytes on every path, in pieces, without ever holding them, and counts what it
    managed to write before the client hung up."""

    def __init__(self, size: int = BIG, *, declare_length: bool = False) -> None:
        self.size = size
        self.declare_length = declare_length
        self.written = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        if self.declare_length:
            resp.content_length = self.size
        await resp.prepare(request)
        try:
            while self.written < self.size:
                await resp.write(PIECE)
                self.written += len(PIECE)
        except (ConnectionResetError, RuntimeError, OSError):
            pass  # the client stopped reading: that is the point
        return resp

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


@pytest.fixture
def counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every chunk the client took from a response body, by size."""
    sizes: list[int] = []
    real_read = aiohttp.StreamReader.read

    async def read(self: aiohttp.StreamReader, n: int = -1) -> bytes:
        chunk = await real_read(self, n)
        sizes.append(len(chunk))
        return chunk

    monkeypatch.setattr(aiohttp.StreamReader, "read", read)
    return sizes


async def test_a_50_mb_body_is_refused_after_the_cap(start: Start, counted_reads: list[int]) -> None:
    url = await start(Stream().app())
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceError) as err:
            await fetch_bytes(session, url + "/big", source="mempool", max_bytes=1_000_000)
    assert err.value.source == "mempool"
    assert "over the 1,000,000-byte limit" in err.value.message
    assert sum(counted_reads) <= 1_000_000 + base.READ_CHUNK  # never the whole body
    assert max(counted_reads) <= base.READ_CHUNK


async def test_a_declared_length_over_the_cap_is_refused_before_reading(
    start: Start, counted_reads: list[int]
) -> None:
    url = await start(Stream(declare_length=True).app())
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceError, match="answer of 52,428,800 bytes is over the 1,000,000-byte limit"):
            await fetch_bytes(session, url + "/big", source="kraken", max_bytes=1_000_000)
    assert sum(counted_reads) == 0


async def test_a_body_at_the_cap_is_read_whole(start: Start) -> None:
    url = await start(Stream(size=3 * len(PIECE)).app())
    async with aiohttp.ClientSession() as session:
        _, body = await fetch_bytes(session, url + "/exact", source="x", max_bytes=3 * len(PIECE))
    assert body == PIECE * 3


async def test_every_source_has_its_own_cap_against_a_50_mb_body(
    start: Start, counted_reads: list[int]
) -> None:
    """mempool, Kraken, Coinbase and ERCOT all stop reading a 50 MB answer long before its end."""
    url = await start(Stream().app())
    w = NetworkWatcher(
        NetworkWatcherConfig(sources=["mempool"], price_sources=["mempool", "kraken", "coinbase"]),
        MempoolSourceConfig(base_url=url, timeout_s=10),
        price=PriceSourceConfig(kraken_url=url, coinbase_url=url, timeout_s=10),
    )
    power = PowerWatcher(
        PowerWatcherConfig(enabled=True, points=["HB_WEST"]), ErcotSourceConfig(base_url=url, timeout_s=10)
    )
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceError) as net:
            await w.poll(base.PollContext(session=session, now=NOW))
        with pytest.raises(SourceError) as ercot:
            await power.poll(base.PollContext(session=session, now=NOW))
    message = net.value.message
    for source in ("mempool", "kraken", "coinbase"):
        assert f"{source}:" in message
    assert message.count("-byte limit") >= 3
    assert "-byte limit" in ercot.value.message and ercot.value.source == "ercot"
    # six mempool endpoints are asked at most once each, plus two exchanges and ERCOT's listing:
    # each stopped within its cap, so all of them together read far less than one 50 MB body.
    assert sum(counted_reads) < 40 * 1024 * 1024


# --- redirects ----------------------------------------------------------------------------------


class Recorder:
    def __init__(self, answer: Callable[[web.Request], web.StreamResponse]) -> None:
        self.answer = answer
        self.requests: list[tuple[str, str | None]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path_qs, request.headers.get("User-Agent")))
        return self.answer(request)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


async def test_a_redirect_to_another_host_is_not_followed(start: Start) -> None:
    stranger = Recorder(lambda r: web.json_response({"USD": 1.0, "time": NOW.timestamp()}))
    other = await start(stranger.app(), "127.0.0.2")
    origin = Recorder(lambda r: web.Response(status=302, headers={"Location": other + "/api/v1/prices"}))
    url = await start(origin.app())
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceError) as err:
            await fetch_json(
                session,
                url + "/api/v1/prices",
                source="edgar",
                headers={"User-Agent": "MinerWatch ops@example.com"},
            )
    assert err.value.source == "edgar"
    assert "HTTP 302 redirect to 127.0.0.2 refused (only 127.0.0.1 is configured)" in err.value.message
    assert stranger.requests == []  # never contacted: the contact User-Agent did not go along
    assert origin.requests == [("/api/v1/prices", "MinerWatch ops@example.com")]


async def test_mempool_redirecting_its_price_elsewhere_fails_over_to_kraken(start: Start) -> None:
    stranger = Recorder(lambda r: web.json_response({"USD": 1_000_000.0, "time": NOW.timestamp()}))
    other = await start(stranger.app(), "127.0.0.2")

    def mempool(request: web.Request) -> web.StreamResponse:
        if request.path == "/api/v1/prices":
            raise web.HTTPFound(other + "/api/v1/prices")
        if request.path == "/0/public/Ticker":
            return web.json_response({"error": [], "result": {"XXBTZUSD": {"c": ["70000.5", "1"]}}})
        return web.Response(status=404)

    url = await start(Recorder(mempool).app())
    w = NetworkWatcher(
        NetworkWatcherConfig(price_sources=["mempool", "kraken"]),
        MempoolSourceConfig(base_url=url, timeout_s=5),
        price=PriceSourceConfig(kraken_url=url, timeout_s=5),
    )
    async with aiohttp.ClientSession() as session:
        result = await w.poll(base.PollContext(session=session, now=NOW))
    price = [o for o in result.observations if o.metric == "price"]
    assert [(o.value, o.source) for o in price] == [(70000.5, "kraken")]
    assert "price: HTTP 302 redirect to 127.0.0.2 refused" in result.errors["mempool"]
    assert stranger.requests == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_on_the_same_host_is_followed(start: Start, status: int) -> None:
    def answer(request: web.Request) -> web.StreamResponse:
        if request.path == "/old":
            return web.Response(status=status, headers={"Location": "/new?x=1"})
        return web.json_response({"path": request.path_qs})

    origin = Recorder(answer)
    url = await start(origin.app())
    async with aiohttp.ClientSession() as session:
        got = await fetch_json(session, url + "/old", source="mempool")
    assert got == {"path": "/new?x=1"}
    assert [path for path, _ in origin.requests] == ["/old", "/new?x=1"]


async def test_a_redirect_loop_on_the_same_host_stops(start: Start) -> None:
    origin = Recorder(lambda r: web.Response(status=302, headers={"Location": "/again"}))
    url = await start(origin.app())
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceError, match="more than 3 redirects"):
            await fetch_bytes(session, url + "/again", source="mempool")
    assert len(origin.requests) == 4


def test_same_host_rule() -> None:
    same = base._same_host
    origin = base.URL("http://mempool.local:8999/api")
    assert same(origin, base.URL("http://mempool.local:8999/other"))
    assert same(origin, base.URL("http://MEMPOOL.local:8999/other"))
    assert not same(origin, base.URL("http://mempool.local:9000/other"))  # another service
    assert not same(origin, base.URL("http://evil.example:8999/api"))
    assert same(base.URL("http://mempool.space/api"), base.URL("https://mempool.space/api"))  # upgrade
    assert not same(base.URL("https://mempool.space/api"), base.URL("http://mempool.space/api"))
