"""A mempool WebSocket stand-in: a local aiohttp server on ``/api/v1/ws`` speaking mempool's
protocol (tests/fixtures/mempool-ws/PROVENANCE.md): it records what the client sends, answers a
``want`` with the subscription snapshot and a ping with ``{"pong": true}`` (unless told to go
silent), and lets the test push messages or drop the connection."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

CAPTURE = Path(__file__).parent / "fixtures" / "mempool-ws" / "init.mainnet-2024-03-31.trimmed.json"
STATS_KEYS = ("mempoolInfo", "vBytesPerSecond", "fees", "da")


def capture() -> dict[str, Any]:
    return json.loads(CAPTURE.read_text(encoding="utf-8"))


def subscription(blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The answer to want [blocks, stats]: the latest blocks and the stats, in one message."""
    cap = capture()
    return {"blocks": cap["blocks"][:2] if blocks is None else blocks, **{k: cap[k] for k in STATS_KEYS}}


def block_message(block: dict[str, Any] | None = None, da: dict[str, Any] | None = None) -> dict[str, Any]:
    """handleNewBlock's message: the block plus the stats (da included) in one object."""
    cap = capture()
    msg = {"block": cap["blocks"][2] if block is None else block, **{k: cap[k] for k in STATS_KEYS}}
    if da is not None:
        msg["da"] = da
    return msg


def built_block(height: int) -> dict[str, Any]:
    """BUILT: the capture's newest block object at another height, with a made-up id."""
    block = copy.deepcopy(capture()["blocks"][2])
    block["height"] = height
    block["id"] = f"{height:064x}"
    return block


class MempoolSocketStandIn:
    def __init__(self) -> None:
        self.received: list[Any] = []  # every client message, decoded
        self.connections = 0
        self.silent = False  # True: read but never answer (not even pings)
        self.snapshot: dict[str, Any] | None = subscription()
        self.sockets: list[web.WebSocketResponse] = []
        self.connected = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/ws", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        self.sockets.append(ws)
        self.connected.set()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                payload = json.loads(msg.data)
            except ValueError:
                await ws.close()  # mempool closes on a message it cannot parse
                break
            self.received.append(payload)
            if self.silent:
                continue
            if payload.get("action") == "want" and self.snapshot is not None:
                await ws.send_str(json.dumps(self.snapshot))
            elif payload.get("action") == "ping":
                await ws.send_str(json.dumps({"pong": True}))
        if ws in self.sockets:
            self.sockets.remove(ws)
        return ws

    async def push(self, message: Any) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        for ws in list(self.sockets):
            await ws.send_str(text)

    async def drop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
