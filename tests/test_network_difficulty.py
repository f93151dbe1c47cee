"""Network watcher, difficulty epoch from mempool's /api/v1/difficulty-adjustment (issue 3).

Every test serves real recorded payloads (tests/fixtures/mempool/PROVENANCE.md) from a local
aiohttp server; the watcher talks to it through a real aiohttp client session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from watchers.base import PollContext, SourceError
from watchers.mempool import MempoolSourceConfig
from watchers.network import NetworkWatcher, NetworkWatcherConfig

MEMPOOL = Path(__file__).parent / "fixtures" / "mempool"
# mainnet_mempoolInfo.json was captured 2024-03-31 ~03:18 UTC (prices `time` 1711854906).
NOW_2024_03_31 = datetime(2024, 3, 31, 3, 18, tzinfo=UTC)

DA = "/api/v1/difficulty-adjustment"
Serve = Callable[[dict[str, tuple[int, bytes, str]]], Awaitable[str]]


@pytest.fixture
async def serve(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Serve:
    """Start a local server answering ``path -> (status, body, content type)``; return its base URL."""

    async def start(routes: dict[str, tuple[int, bytes, str]]) -> str:
        async def handler(request: web.Request) -> web.Response:
            status, body, ctype = routes[request.path]
            return web.Response(status=status, body=body, content_type=ctype)

        app = web.Application()
        for path in routes:
            app.router.add_get(path, handler)
        server = await aiohttp_server(app)
        return str(server.make_url("")).rstrip("/")

    return start


def json_file(name: str, status: int = 200) -> tuple[int, bytes, str]:
    return status, (MEMPOOL / name).read_bytes(), "application/json"


async def poll_difficulty(base_url: str, now: datetime = NOW_2024_03_31) -> dict[str, float]:
    # Only the difficulty-adjustment route is served: every other endpoint answers 404 and is
    # reported in result.errors, which is what a partial mempool outage looks like.
    cfg = NetworkWatcherConfig(price_sources=["mempool"])
    watcher = NetworkWatcher(cfg, MempoolSourceConfig(base_url=base_url, timeout_s=5))
    async with aiohttp.ClientSession() as session:
        result = await watcher.poll(PollContext(session=session, now=now))
    assert set(result.errors) == {"mempool"}
    assert "HTTP 404" in result.errors["mempool"]
    assert {o.source for o in result.observations} == {"mempool"}
    assert {o.at for o in result.observations} == {now}
    return {o.metric: o.value for o in result.observations if o.metric.startswith("difficulty.")}


async def test_real_2024_03_31_payload_gives_exact_epoch_metrics(serve: Serve) -> None:
    url = await serve({DA: json_file("difficulty-adjustment.mainnet-2024-03-31.json")})
    got = await poll_difficulty(url)
    assert got["difficulty.next_change"] == pytest.approx(5.914788959658535, rel=1e-12)
    assert got["difficulty.progress"] == pytest.approx(20.33730158730159, rel=1e-12)
    assert got["difficulty.blocks_left"] == 1606
    # estimatedRetargetDate is 1712766704114 ms -> seconds (2024-04-10 16:31:44 UTC).
    assert got["difficulty.retarget_eta"] == pytest.approx(1712766704.114, rel=1e-12)
    assert got["difficulty.last_change"] == pytest.approx(-0.9778871328980188, rel=1e-12)


async def test_legacy_2022_shape_is_accepted_without_the_bogus_remaining_time(serve: Serve) -> None:
    # Old backend: fractional ms, no previousTime/adjustedTimeAvg, remainingTime holds an epoch-ms value.
    url = await serve({DA: json_file("difficulty-adjustment.mainnet-2022-03-legacy-shape.json")})
    got = await poll_difficulty(url, now=datetime(2022, 3, 14, 12, 0, tzinfo=UTC))
    assert got["difficulty.retarget_eta"] == pytest.approx(1649197503.6438958, rel=1e-12)
    assert got["difficulty.blocks_left"] == 443
    assert got["difficulty.next_change"] == pytest.approx(-1.3182475819161987, rel=1e-12)


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        pytest.param(
            {DA: json_file("difficulty-adjustment.liquid-nulls-2024-12.json")},
            "field 'difficultyChange' is null, not a number",
            id="liquid-nulls",
        ),
        pytest.param(
            {
                "/api/v1/difficulty-adjustment": (
                    429,
                    (MEMPOOL / "error-429.mempool-space.html").read_bytes(),
                    "text/html",
                )
            },
            "HTTP 429 (HTML error page)",
            id="429-html",
        ),
        pytest.param(
            {
                "/api/v1/difficulty-adjustment": (
                    200,
                    (MEMPOOL / "error-429.mempool-space.html").read_bytes(),
                    "text/html",
                )
            },
            "answered an HTML page instead of JSON",
            id="html-under-200",
        ),
        pytest.param(
            {
                "/api/v1/difficulty-adjustment": (
                    200,
                    (MEMPOOL / "difficulty-adjustment.mainnet-2024-03-31.json").read_bytes()[:150],
                    "application/json",
                )
            },
            "answered invalid JSON instead of JSON",
            id="truncated-json",
        ),
        pytest.param(
            {DA: (200, b'{"progressPercent": "20.3", "difficultyChange": "lots"}', "application/json")},
            "field 'difficultyChange' is 'lots', not a number",
            id="strings",
        ),
        pytest.param(
            {DA: (200, b"[]", "application/json")},
            "difficulty-adjustment is a list, not an object",
            id="list",
        ),
    ],
)
async def test_garbage_is_a_source_error(serve: Serve, routes: dict, message: str) -> None:
    url = await serve(routes)
    with pytest.raises(SourceError) as info:
        await poll_difficulty(url, now=datetime(2024, 12, 20, 14, 2, tzinfo=UTC))
    # Nothing could be fetched at all: the whole poll fails, naming mempool's own message.
    assert info.value.source == "network"
    assert info.value.message.startswith("every source failed (mempool: epoch")
    assert message in info.value.message


async def test_projection_outside_the_protocol_range_is_rejected(serve: Serve) -> None:
    body = (MEMPOOL / "difficulty-adjustment.mainnet-2024-03-31.json").read_text()
    body = body.replace('"difficultyChange": 5.914788959658535', '"difficultyChange": 340.5')
    url = await serve({DA: (200, body.encode(), "application/json")})
    with pytest.raises(
        SourceError, match=r"difficultyChange \+340.50% is outside the protocol's -75%..\+300%"
    ):
        await poll_difficulty(url)


async def test_a_testnet_projection_beyond_100_percent_is_kept(serve: Serve) -> None:
    # mempool clamps to the protocol's range itself; on testnet and signet +140 % is real.
    body = (MEMPOOL / "difficulty-adjustment.mainnet-2024-03-31.json").read_text()
    body = body.replace('"difficultyChange": 5.914788959658535', '"difficultyChange": 140.5')
    url = await serve({DA: (200, body.encode(), "application/json")})
    got = await poll_difficulty(url)
    assert got["difficulty.next_change"] == 140.5
    assert got["difficulty.blocks_left"] == 1606


async def test_stale_docs_example_with_seconds_instead_of_ms_is_rejected(serve: Serve) -> None:
    # The REST docs example has estimatedRetargetDate in SECONDS (1627762478 = 2021-07-31).
    url = await serve({DA: json_file("difficulty-adjustment.docs-example-2021.json")})
    with pytest.raises(SourceError, match="not a millisecond timestamp"):
        await poll_difficulty(url, now=datetime(2021, 7, 20, tzinfo=UTC))
