"""A local aiohttp server for tests: 127.0.0.1, random free port, stopped on exit."""
from __future__ import annotations

from aiohttp import web


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
