"""A mempool.space stand-in: a local aiohttp app serving the real recorded payloads from
tests/fixtures/mempool (see PROVENANCE.md there). Tests swap what an endpoint answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

MEMPOOL = Path(__file__).parent / "fixtures" / "mempool"


def load(name: str) -> Any:
    return json.loads((MEMPOOL / name).read_text(encoding="utf-8"))


@dataclass
class MempoolStandIn:
    # path -> (status, body, content type); bodies are served verbatim
    routes: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # every path asked, in arrival order

    def serve_json(self, path: str, payload: Any, status: int = 200) -> None:
        self.routes[path] = (status, json.dumps(payload), "application/json")

    def serve_file(self, path: str, fixture: str, status: int = 200, content_type: str | None = None) -> None:
        body = (MEMPOOL / fixture).read_text(encoding="utf-8")
        ctype = content_type or ("application/json" if fixture.endswith(".json") else "text/html")
        self.routes[path] = (status, body, ctype)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        self.log.append(path)
        if path not in self.routes:
            return web.json_response({"error": "not served in this test"}, status=404)
        status, body, ctype = self.routes[path]
        return web.Response(status=status, text=body, content_type=ctype)
