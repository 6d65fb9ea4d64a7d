"""Live end-to-end: the tracker over real sockets (aiohttp WS + REST on 127.0.0.1) against a
server replaying the recorded Binance session, with a dropped frame, a non-JSON frame and a socket
closed mid-stream."""
from __future__ import annotations

import asyncio

from binance_server import FakeBinance
from conftest import fixture_files
from hbconnect.exchanges import market_data_venue
from hbconnect.market.tracker import OrderBookTracker
from refbook import book_levels

PAIRS = ["NKN-USDT", "BLZ-ETH", "LRC-BTC", "RUNE-EUR"]


async def _run(server: FakeBinance, timeout: float = 20.0, **kw):
    venue = market_data_venue("binance").with_urls(rest=server.rest_url, ws=server.ws_url)
    tracker = OrderBookTracker(venue, PAIRS, reconnect_backoff=(0.05, 0.2), snapshot_backoff=(0.05, 0.2), **kw)
    finals = {p: server.truth.final(p.replace("-", "")) for p in PAIRS}
    trades = []
    tracker.add_trade_callback(trades.append)
    await tracker.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if server.done.is_set() and all(
                    tracker.books[p].state.value == "live" and tracker.books[p].last_id == finals[p].update_id
                    for p in PAIRS):
                break
            await asyncio.sleep(0.02)
        for p in PAIRS:
            assert tracker.state(p).value == "live", (p, tracker.stats(p))
            assert book_levels(tracker.book(p)) == (finals[p].top_bids(), finals[p].top_asks()), p
        return tracker, trades
    finally:
        await tracker.stop()


def test_live_end_to_end():
    async def main():
        async with FakeBinance(fixture_files("BINANCE")) as server:
            tracker, trades = await _run(server)
            assert server.connections == 1
            assert sorted(server.subscribes[0]) == sorted(
                s for p in PAIRS for s in (p.replace("-", "").lower() + "@depth@100ms",
                                           p.replace("-", "").lower() + "@trade"))
            assert {r["limit"] for r in server.depth_requests} == {"1000"}
            for p in PAIRS:
                st = tracker.stats(p)
                assert st.gaps == 0 and st.bad_frames == 0 and st.resyncs == 0
            assert tracker.bad_frames == 0
            assert trades and all(t.pair in PAIRS for t in trades)
    asyncio.run(main())


def test_live_dropped_and_garbage_frames_repaired():
    files = fixture_files("BINANCE")

    async def main():
        probe = FakeBinance(files)
        nkn = [i for i, (_, f) in enumerate(probe.frames) if "nknusdt@depth" in f]
        async with FakeBinance(files, drop=(nkn[50],), garbage_at=(nkn[100],)) as server:
            tracker, _ = await _run(server)
            st = tracker.stats("NKN-USDT")
            assert st.gaps == 2 and st.resyncs == 2
            assert tracker.bad_frames == 1
            assert tracker.stats("BLZ-ETH").resyncs == 0
    asyncio.run(main())


def test_live_socket_closed_mid_stream():
    async def main():
        async with FakeBinance(fixture_files("BINANCE"), close_after=120) as server:
            tracker, _ = await _run(server)
            assert server.connections == 2
            conn = tracker.connections[0]
            assert conn.reconnects == 1
            assert len(server.subscribes) == 2  # resubscribed after the reconnect
            assert tracker.stats("NKN-USDT").resyncs == 1
    asyncio.run(main())


def test_stale_stream_detected_live():
    async def main():
        async with FakeBinance(fixture_files("BINANCE"), pace=0.0) as server:
            venue = market_data_venue("binance").with_urls(rest=server.rest_url, ws=server.ws_url)
            tracker = OrderBookTracker(venue, ["NKN-USDT"], stale_timeout=0.4)
            await tracker.start()
            try:
                await asyncio.wait_for(server.done.wait(), 10)
                assert await tracker.wait_ready(5)
                # the recording is over and the stream goes quiet while the socket stays up
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 5
                while loop.time() < deadline and tracker.stats("NKN-USDT").stale_streams == 0:
                    await asyncio.sleep(0.05)
                st = tracker.stats("NKN-USDT")
                assert st.stale_streams >= 1
                assert await tracker.wait_ready(5)  # rebuilt from a fresh snapshot
                methods = [m["method"] for m in server.control]
                assert methods[:2] == ["UNSUBSCRIBE", "SUBSCRIBE"]
                assert server.control[1]["params"] == ["nknusdt@depth@100ms", "nknusdt@trade"]
                assert len(server.depth_requests) >= 2
                ref = server.truth.final("NKNUSDT")
                assert book_levels(tracker.book("NKN-USDT")) == (ref.top_bids(), ref.top_asks())
            finally:
                await tracker.stop()
    asyncio.run(main())
