"""Live: pairs split across several sockets at the venue's per-connection limit, each socket
subscribing only its pairs; snapshots throttled; one socket dropping resyncs only its pairs."""
from __future__ import annotations

import asyncio
import json

from aiohttp import web

from hbconnect.core.throttler import RateLimit, Throttler
from hbconnect.exchanges import market_data_venue
from hbconnect.market.tracker import OrderBookTracker
from local_server import LocalServer

PAIRS = [f"C{i}-USDT" for i in range(5)]
N_DIFFS = 30


class SplitServer(LocalServer):
    """Per connection: sends N_DIFFS contiguous diffs for each subscribed symbol only."""

    def __init__(self, drop_connection: int = -1):
        self.ids = {p.replace("-", ""): 1000 for p in PAIRS}
        self.subs: list[list[str]] = []
        self.depth_calls = 0
        self.drop_connection = drop_connection
        self.dropped = False
        self.finished = 0

    async def depth(self, request):
        self.depth_calls += 1
        sym = request.query["symbol"]
        return web.json_response({"lastUpdateId": self.ids[sym], "bids": [["10", "1"]], "asks": [["11", "1"]]})

    async def stream(self, request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        msg = await ws.receive()
        sub = json.loads(msg.data)
        idx = len(self.subs)
        self.subs.append(sub["params"])
        syms = sorted({p.split("@")[0].upper() for p in sub["params"]})
        await ws.send_str(json.dumps({"result": None, "id": sub["id"]}))
        for k in range(N_DIFFS):
            if idx == self.drop_connection and k == N_DIFFS // 2 and not self.dropped:
                self.dropped = True
                await ws.close()
                return ws
            for sym in syms:
                self.ids[sym] += 1
                u = self.ids[sym]
                await ws.send_str(json.dumps({"stream": f"{sym.lower()}@depth@100ms", "data": {
                    "e": "depthUpdate", "E": 1, "s": sym, "U": u, "u": u,
                    "b": [[f"{9 + (k % 5) / 10:.1f}", str(k + 1)]], "a": []}}))
            await asyncio.sleep(0.002)
        self.finished += 1
        async for _ in ws:
            pass
        return ws

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v3/depth", self.depth)
        app.router.add_get("/stream", self.stream)


async def _track(srv, throttler=None):
    venue = market_data_venue("binance").with_urls(rest=f"http://127.0.0.1:{srv.port}", ws=f"ws://127.0.0.1:{srv.port}")
    venue.max_pairs_per_connection = 2  # instance override: 5 pairs -> 3 sockets
    tracker = OrderBookTracker(venue, PAIRS, throttler=throttler, reconnect_backoff=(0.05, 0.1))
    await tracker.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while loop.time() < deadline:
        if srv.finished == 3 and tracker.ready and all(tracker.books[p].last_id == srv.ids[p.replace("-", "")] for p in PAIRS) \
                and all(tracker.books[p].diffs_applied > 0 for p in PAIRS):
            break
        await asyncio.sleep(0.02)
    return tracker


def test_pairs_split_across_sockets_with_throttled_snapshots():
    async def main():
        async with SplitServer() as srv:
            throttler = Throttler([RateLimit("GET /api/v3/depth", limit=100, time_interval=60)])
            tracker = await _track(srv, throttler)
            try:
                assert [c.pairs for c in tracker.connections] == [PAIRS[0:2], PAIRS[2:4], PAIRS[4:]]
                assert sorted(len(s) for s in srv.subs) == [2, 4, 4]  # depth + trade per pair
                for p in PAIRS:
                    st = tracker.stats(p)
                    assert st.state == "live" and st.gaps == 0 and st.last_update_id == srv.ids[p.replace("-", "")]
                assert throttler.metrics.requests == srv.depth_calls == 5
            finally:
                await tracker.stop()
    asyncio.run(main())


def test_snapshot_weight_charged_on_the_venue_pool():
    async def main():
        async with SplitServer() as srv:
            throttler = Throttler([RateLimit("REQUEST_WEIGHT", limit=6000, time_interval=60)])
            tracker = await _track(srv, throttler)
            try:
                assert tracker.ready
                # 5 snapshots of weight 50 (limit=1000) on the shared pool
                assert throttler.usage("REQUEST_WEIGHT")[0] == 250
            finally:
                await tracker.stop()
    asyncio.run(main())


def test_one_socket_drop_resyncs_only_its_pairs():
    async def main():
        async with SplitServer(drop_connection=1) as srv:
            tracker = await _track(srv)
            try:
                assert srv.dropped
                dropped = [c for c in tracker.connections if c.reconnects]
                assert len(dropped) == 1
                for p in PAIRS:
                    st = tracker.stats(p)
                    assert st.state == "live" and st.gaps == 0
                    assert st.resyncs == (1 if p in dropped[0].pairs else 0), p
            finally:
                await tracker.stop()
    asyncio.run(main())
