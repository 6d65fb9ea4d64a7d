"""A small local server speaking Binance's public market-data protocol (REST depth + combined
stream with SUBSCRIBE), replaying the recorded session, with fault knobs. 127.0.0.1 only, random
free port; used by live end-to-end tests of the tracker and of ``hbconnect record``."""
from __future__ import annotations

import asyncio
import json
from typing import Optional

from aiohttp import WSMsgType, web

from binance_truth import BinanceTruth


def recorded_frames(files) -> list[tuple[float, str]]:
    out = []
    for f in files:
        if ".ws." not in f.name:
            continue
        for line in f.read_text().splitlines():
            head, sep, payload = line.partition(": ")
            try:
                ts = float(head)
            except ValueError:
                continue
            out.append((ts, payload))
    return out


class FakeBinance:
    def __init__(self, files, *, close_after: Optional[int] = None, drop: tuple[int, ...] = (),
                 pace: float = 0.0005, garbage_at: tuple[int, ...] = ()) -> None:
        self.truth = BinanceTruth(files)
        self.frames = recorded_frames(files)
        self.close_after = close_after
        self.drop = set(drop)
        self.garbage_at = set(garbage_at)
        self.pace = pace
        self.cursor = 0
        self.cursor_ts = float("-inf")
        self.connections = 0
        self.subscribes: list[list[str]] = []
        self.control: list[dict] = []
        self.depth_requests: list[dict] = []
        self.done = asyncio.Event()
        self._runner: Optional[web.AppRunner] = None
        self.port = 0
        self._closed_once = False
        self._sockets: list = []

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> "FakeBinance":
        app = web.Application()
        app.router.add_get("/api/v3/depth", self._depth)
        app.router.add_get("/stream", self._stream)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> "FakeBinance":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def _depth(self, request: web.Request) -> web.Response:
        sym = request.query.get("symbol", "")
        self.depth_requests.append(dict(request.query))
        if sym not in self.truth.snapshots:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        return web.Response(body=self.truth.at(sym, self.cursor_ts).body(), content_type="application/json")

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connections += 1
        first_connection = self.connections == 1
        try:
            msg = await ws.receive(timeout=10)
            if msg.type != WSMsgType.TEXT:
                return ws
            sub = json.loads(msg.data)
            self.subscribes.append(sub.get("params", []))
            await ws.send_str(json.dumps({"result": None, "id": sub.get("id")}))
            sent = 0
            while self.cursor < len(self.frames):
                i = self.cursor
                ts, payload = self.frames[i]
                if first_connection and self.close_after is not None and sent == self.close_after \
                        and not self._closed_once:
                    self._closed_once = True
                    await ws.close()  # the socket drops mid-stream
                    return ws
                self.cursor += 1
                self.cursor_ts = ts
                sent += 1
                if i in self.drop:
                    continue
                await ws.send_str("{garbage" if i in self.garbage_at else payload)
                await asyncio.sleep(self.pace)
            self.done.set()
            async for m in ws:  # idle until the client or the server closes; log control messages
                if m.type == WSMsgType.TEXT:
                    self.control.append(json.loads(m.data))
        finally:
            if ws in self._sockets:
                self._sockets.remove(ws)
        return ws
