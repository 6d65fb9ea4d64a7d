"""Live, over a real socket, a venue whose snapshots come in-band (OKX/HTX/Kraken style): the
server's pings answered (Reply), application-level pings sent, a sequence gap repaired with the
venue's resync messages (no REST), and the books equal the server's afterwards."""
from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType, web

from fakevenue import FakeVenue
from hbconnect.market.messages import SyncRule, WsEndpoint
from hbconnect.market.tracker import OrderBookTracker
from refbook import RefBook, book_levels
from local_server import LocalServer

PAIRS = ["A-B", "C-D"]


class InbandServer(LocalServer):
    def __init__(self):
        self.books = {p: RefBook() for p in PAIRS}
        for b in self.books.values():
            b.snapshot([("9", "1")], [("11", "1")], 1)
        self.received: list[str] = []
        self.resyncs: list[str] = []
        self.done = asyncio.Event()

    def _snap(self, pair):
        b = self.books[pair]
        return json.dumps({"t": "s", "p": pair, "u": b.update_id, "b": [list(x) for x in b.top_bids()],
                           "a": [list(x) for x in b.top_asks()]})

    def _diff(self, pair, k):
        b = self.books[pair]
        prev = b.update_id
        level = (f"{8 + (k % 5) / 10:.1f}", str(k + 1))
        b.diff([level], [], prev + 1)
        return json.dumps({"t": "d", "p": pair, "U": prev + 1, "u": prev + 1, "pu": prev, "b": [list(level)], "a": []})

    async def handler(self, request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)

        async def reader():
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                self.received.append(msg.data)
                try:
                    m = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(m, dict) and m.get("op") == "resync":
                    self.resyncs.append(m["pair"])
                    await ws.send_str(self._snap(m["pair"]))

        task = asyncio.create_task(reader())
        while not any(m.startswith('{"op": "sub"') for m in self.received):
            await asyncio.sleep(0.01)
        for p in PAIRS:
            await ws.send_str(self._snap(p))
        for k in range(40):
            for p in PAIRS:
                frame = self._diff(p, k)
                if p == "A-B" and k == 20:
                    continue  # lost on the way: the next update reveals the gap
                await ws.send_str(frame)
            if k % 10 == 0:
                await ws.send_str(json.dumps({"t": "reply", "text": f"pong {k}"}))  # e.g. HTX ping
            await asyncio.sleep(0.005)
        self.done.set()
        await task
        return ws

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/ws", self.handler)


class PingingVenue(FakeVenue):
    def ws_endpoint(self, connect_response=None):
        return WsEndpoint(self.url, ping_interval=0.05, ping_message="ping")


def test_inband_venue_live():
    async def main():
        async with InbandServer() as srv:
            venue = PingingVenue(SyncRule.PREV_CHAIN, rest=False, url=f"ws://127.0.0.1:{srv.port}/ws")
            tracker = OrderBookTracker(venue, PAIRS)
            await tracker.start()
            try:
                await asyncio.wait_for(srv.done.wait(), 10)
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 5
                while loop.time() < deadline and not (tracker.ready and all(
                        tracker.books[p].last_id == srv.books[p].update_id for p in PAIRS)):
                    await asyncio.sleep(0.02)
                for p in PAIRS:
                    assert tracker.state(p).value == "live"
                    ref = srv.books[p]
                    assert book_levels(tracker.book(p)) == (ref.top_bids(), ref.top_asks()), p
                a, c = tracker.stats("A-B"), tracker.stats("C-D")
                assert a.gaps == 1 and a.resyncs == 1 and srv.resyncs == ["A-B"]
                assert c.gaps == 0 and c.resyncs == 0
                assert [m for m in srv.received if m.startswith("pong")] == ["pong 0", "pong 10", "pong 20", "pong 30"]
                assert srv.received.count("ping") >= 2
            finally:
                await tracker.stop()
    asyncio.run(main())
