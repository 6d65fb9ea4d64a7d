"""The tracker against the embedded exchange (hbconnect.sim, Binance spot and USDⓈ-M protocols, with
its market-maker agent moving the books): books sync, stay gap-free, and equal the exchange's own
REST depth whenever both are at the same update id; with the exchange dropping and duplicating
depth frames and closing sockets, every fault is repaired."""
from __future__ import annotations

import asyncio

import aiohttp

from hbconnect.exchanges import market_data_venue
from hbconnect.market.tracker import OrderBookTracker
from hbconnect.sim import EmbeddedExchange, FaultConfig
from refbook import book_levels


async def _compare_with_rest(ex, tracker, rest_url, path, pairs, timeout=10.0):
    """Pause the exchange's agent, wait until the tracker has the exchange's lastUpdateId, then
    compare every level with the exchange's REST depth."""
    ex.agent_paused = True
    matched = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        async with aiohttp.ClientSession() as http:
            while loop.time() < deadline and len(matched) < len(pairs):
                for pair in pairs:
                    if pair in matched:
                        continue
                    sym = pair.replace("-", "")
                    async with http.get(f"{rest_url}{path}", params={"symbol": sym, "limit": 1000}) as r:
                        doc = await r.json()
                    tb = tracker.books[pair]
                    if tb.state.value == "live" and tb.last_id == doc["lastUpdateId"]:
                        bids, asks = book_levels(tb.book)
                        assert bids == [tuple(x) for x in doc["bids"]], pair
                        assert asks == [tuple(x) for x in doc["asks"]], pair
                        matched.add(pair)
                await asyncio.sleep(0.02)
    finally:
        ex.agent_paused = False
    assert len(matched) == len(pairs), f"tracker never reached the exchange's update id: {matched}"


def _venue(name, rest, ws):
    return market_data_venue(name).with_urls(rest=rest, ws=ws)


def test_spot_and_perp_books_follow_the_embedded_exchange():
    async def main():
        async with EmbeddedExchange(seed=3, pairs=("BTC-USDT", "ETH-USDT"), perp_pairs=("BTC-USDT",),
                                    agent=True, agent_interval=0.05, funding_interval=None) as ex:
            spot = OrderBookTracker(_venue("binance", ex.spot_rest_url, ex.spot_ws_url), ["BTC-USDT", "ETH-USDT"])
            perp = OrderBookTracker(_venue("binance_perpetual", ex.futures_rest_url, ex.futures_ws_url),
                                    ["BTC-USDT"])
            await spot.start()
            await perp.start()
            try:
                assert await spot.wait_ready(10) and await perp.wait_ready(10)
                await asyncio.sleep(1.0)  # let the agent move the books
                await _compare_with_rest(ex, spot, ex.spot_rest_url, "/api/v3/depth", ["BTC-USDT", "ETH-USDT"])
                await _compare_with_rest(ex, perp, ex.futures_rest_url, "/fapi/v1/depth", ["BTC-USDT"])
                for t in (spot, perp):
                    for st in t.stats().values():
                        assert st.gaps == 0 and st.bad_frames == 0 and st.resyncs == 0
                        assert st.diffs_applied > 5
                assert spot.last_trade("BTC-USDT") is not None or spot.last_trade("ETH-USDT") is not None
            finally:
                await spot.stop()
                await perp.stop()
    asyncio.run(main())


def test_faults_of_the_embedded_exchange_are_repaired():
    async def main():
        faults = FaultConfig(seed=5)
        async with EmbeddedExchange(seed=4, pairs=("BTC-USDT",), perp_pairs=("BTC-USDT",), agent=True,
                                    agent_interval=0.03, funding_interval=None, faults=faults) as ex:
            venue = _venue("binance_perpetual", ex.futures_rest_url, ex.futures_ws_url)
            tracker = OrderBookTracker(venue, ["BTC-USDT"], reconnect_backoff=(0.05, 0.2),
                                       snapshot_backoff=(0.05, 0.2))
            await tracker.start()
            try:
                assert await tracker.wait_ready(10)
                _set_market_faults(ex.faults, drop=0.15, duplicate=0.15)
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 10
                tb = tracker.books["BTC-USDT"]
                # wait for what the assertions below count, not for a guessed time: a drop seen
                # as a gap (one counted resync), and a duplicate dropped as stale
                while loop.time() < deadline and (tb.gaps + tb.snapshot_retries < 2 or tb.stale_dropped < 1
                                                  or tb.resyncs < 1):
                    await asyncio.sleep(0.05)
                _set_market_faults(ex.faults, drop=0.0, duplicate=0.0)
                assert ex.injector.counts.get("ws_market_drop", 0) >= 1
                # live again before the drop, so that the reconnect's resync is counted
                assert await tracker.wait_ready(10)
                ex.close_sockets()
                conn = tracker.connections[0]
                deadline = loop.time() + 10
                while loop.time() < deadline and conn.reconnects < 1:
                    await asyncio.sleep(0.02)
                assert await tracker.wait_ready(10)
                st = tracker.stats("BTC-USDT")
                # drops are detected as sequence breaks, duplicates dropped as already applied
                assert st.gaps + st.snapshot_retries >= 2 and st.stale_dropped >= 1
                assert st.resyncs >= 2 and tracker.connections[0].reconnects >= 1
                await _compare_with_rest(ex, tracker, ex.futures_rest_url, "/fapi/v1/depth", ["BTC-USDT"])
            finally:
                await tracker.stop()
    asyncio.run(main())


def _set_market_faults(cfg, drop, duplicate):
    cfg.set_ws("market", drop=drop, duplicate=duplicate)
