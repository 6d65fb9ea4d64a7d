"""A local aiohttp server for tests: 127.0.0.1, random free port, stopped on exit."""
from __future__ import annotations

import asyncio
from typing import Any, Callable, List

from aiohttp import WSMsgType, web


class LocalServer:
    """Async context manager serving ``routes(app)`` on 127.0.0.1 at a free port (``self.port``)."""

    port: int = 0

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def __aenter__(self):
        app = web.Application()
        self.routes(app)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        await self.runner.cleanup()


class SocketPeer(LocalServer):
    """A WebSocket server at ``path`` that records the text messages it receives
    (``received``) and answers them through :meth:`on_message`; :meth:`push` sends to every
    open socket."""

    path = "/ws"

    def __init__(self) -> None:
        self.received: List[str] = []
        self.sockets: List[web.WebSocketResponse] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_get(self.path, self._ws)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.sockets.append(ws)
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            self.received.append(msg.data)
            if not await self.on_message(ws, msg.data):
                break
        return ws

    async def on_message(self, ws: web.WebSocketResponse, text: str) -> bool:
        """Answer one message; False ends the connection's read loop."""
        return True

    async def push(self, frame: str) -> None:
        for ws in self.sockets:
            if not ws.closed:
                await ws.send_str(frame)


async def until(predicate: Callable[[], Any], what: str, timeout: float = 5.0) -> None:
    """Wait (on the loop's clock) until ``predicate()`` holds; AssertionError after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
