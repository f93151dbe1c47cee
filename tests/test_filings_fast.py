"""Faster filings (issue 18): the latest-filings feed read every 15 s is ONE request per read,
made conditional when EDGAR gives validators (ETag / Last-Modified): a 304 costs no parsing and
finds nothing, a changed feed is read as usual, and without validators nothing conditional is sent.
A watched miner's filing is in the poll that follows its appearance in the feed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.test_filings_edgar import NOW, UA, Env, FakeEdgar, mara_atm
from watchers.filings.config import EdgarSourceConfig, FilingsWatcherConfig
from watchers.filings.watcher import FEED_OVERLAP


class ConditionalEdgar(FakeEdgar):
    """FakeEdgar whose feed answers with an ETag (changing with its content) and honours
    If-None-Match with 304, or sends no validators at all (``validators = False``)."""

    def __init__(self) -> None:
        super().__init__()
        self.validators = True
        self.conditional: list[dict[str, str]] = []  # the conditional headers of each feed request
        self.not_modified = 0

    def etag(self) -> str:
        return '"' + "-".join(f.accession for f in self.feed) + '"'

    async def handler(self, request: web.Request) -> web.StreamResponse:
        if request.path != "/cgi-bin/browse-edgar":
            return await super().handler(request)
        sent = {k: v for k, v in request.headers.items() if k in ("If-None-Match", "If-Modified-Since")}
        self.conditional.append(sent)
        if self.validators and sent.get("If-None-Match") == self.etag():
            self.requests.append((request.path, dict(request.query), request.headers["User-Agent"], 0.0))
            self.not_modified += 1
            return web.Response(status=304, headers={"ETag": self.etag()})
        resp = await super().handler(request)
        if self.validators:
            resp.headers["ETag"] = self.etag()
            resp.headers["Last-Modified"] = "Fri, 28 Mar 2025 21:00:00 GMT"
        return resp


@pytest.fixture
async def cond(aiohttp_server):
    """tests/test_filings_edgar.py's env fixture, with the conditional EDGAR behind it."""
    edgar = ConditionalEdgar()
    app = web.Application()
    app.router.add_get("/{tail:.*}", edgar.handler)
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    source = EdgarSourceConfig(user_agent=UA, data_url=base, www_url=base, timeout_s=5)
    async with aiohttp.ClientSession() as session:
        yield Env(edgar, source, session)


def test_default_is_every_15_seconds():
    assert FilingsWatcherConfig().every == 15
    # one page of 100 entries covers a read when EDGAR disseminates under 100 per (15 s + overlap)
    assert timedelta(minutes=2) >= FEED_OVERLAP


async def test_feed_reads_are_one_request_and_conditional(cond: Env) -> None:
    edgar: ConditionalEdgar = cond.edgar  # type: ignore[assignment]
    watcher = cond.watcher()
    state: dict[str, Any] = {}
    await watcher.poll(cond.ctx(NOW - timedelta(seconds=30), state))  # first run: records, announces none
    state = json.loads(json.dumps(state))

    # Every 15 s: each read is one feed request. The first after the start learns the ETag ...
    edgar.requests.clear()
    edgar.conditional.clear()
    first = await watcher.poll(cond.ctx(NOW - timedelta(seconds=15), state))
    assert first.events == [] and len(edgar.paths("/cgi-bin/")) == 1
    assert edgar.conditional == [{}]  # nothing to be conditional on yet
    assert state["feed_validators"]["etag"] == edgar.etag()

    # ... and the next read sends it back: unchanged feed, 304, nothing parsed, nothing found.
    edgar.requests.clear()
    again = await watcher.poll(cond.ctx(NOW, state))
    assert again.events == [] and edgar.not_modified == 1
    assert edgar.conditional[-1] == {
        "If-None-Match": state["feed_validators"]["etag"],
        "If-Modified-Since": "Fri, 28 Mar 2025 21:00:00 GMT",
    }
    assert [p for p, *_ in edgar.requests] == ["/cgi-bin/browse-edgar"]  # one request, no catch-up

    # A filing appears in the feed: the next read (15 s later) gets 200 and announces it.
    atm = mara_atm(NOW + timedelta(seconds=5))
    edgar.add(atm)
    edgar.requests.clear()
    result = await watcher.poll(cond.ctx(NOW + timedelta(seconds=15), state))
    assert [e.key for e in result.events] == [f"filing:{atm.accession}"]
    assert edgar.not_modified == 1  # the changed feed was sent in full
    assert len(edgar.paths("/cgi-bin/")) == 1  # still one feed request; then the filing's documents
    assert edgar.paths("/Archives/") == [
        f"{atm.folder}/{atm.accession}-index.htm",
        f"{atm.folder}/form424b5.htm",
    ]
    assert state["feed_validators"]["etag"] == edgar.etag()


async def test_without_validators_nothing_conditional_is_sent(cond: Env) -> None:
    edgar: ConditionalEdgar = cond.edgar  # type: ignore[assignment]
    edgar.validators = False  # what we must assume of a dynamic CGI until EDGAR says otherwise
    watcher = cond.watcher()
    state: dict[str, Any] = {}
    await watcher.poll(cond.ctx(NOW - timedelta(seconds=30), state))
    for t in (-15, 0, 15):
        await watcher.poll(cond.ctx(NOW + timedelta(seconds=t), state))
    assert edgar.conditional and all(sent == {} for sent in edgar.conditional)
    assert "feed_validators" not in state and edgar.not_modified == 0
