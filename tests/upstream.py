"""A local stand-in for any upstream: a loopback aiohttp server answering fixed routes
``path -> (status, body, content type)`` and 404 for every other path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

Route = tuple[int, bytes, str]


def route_file(folder: Path, name: str, status: int = 200) -> Route:
    """A recorded payload as a route; the content type follows the file's extension."""
    ctype = {".html": "text/html", ".txt": "text/plain"}.get(Path(name).suffix, "application/json")
    return status, (folder / name).read_bytes(), ctype


async def serve_routes(aiohttp_server: Callable[..., Awaitable[Any]], routes: dict[str, Route]) -> str:
    """Start the stand-in; return its base URL (no trailing slash)."""

    async def handler(request: web.Request) -> web.Response:
        if request.path not in routes:
            return web.Response(status=404)
        status, body, ctype = routes[request.path]
        return web.Response(status=status, body=body, content_type=ctype)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return str((await aiohttp_server(app)).make_url("")).rstrip("/")
