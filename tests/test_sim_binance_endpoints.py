"""The Binance front end's endpoints that third-party clients (ccxt, python-binance) call with
their default settings, checked field by field against Binance's documented shapes, and the
error codes Binance documents for precision and unlisted order types."""
from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal as D

import aiohttp
import pytest

from binance_signed import SignedClient
from hbconnect.sim import EmbeddedExchange, OrderRequest
from hbconnect.sim import matching as sim_matching
from hbconnect.sim.marketdata import agg_trades, candles, period_bounds

KEY, SECRET = "endpointkey", "endpointsecret"
MK, MS = "makerkey", "makersecret"
T0 = 1_700_000_040_000          # 2023-11-14 22:14:00 UTC, a minute boundary


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


class Signed(SignedClient):
    key, secret = KEY, SECRET


def make_ex() -> EmbeddedExchange:
    ex = EmbeddedExchange(seed=3, pairs=("BTC-USDT",), perp_pairs=("BTC-USDT",), agent=False, funding_interval=None)
    ex.create_account(KEY, SECRET, balances={"USDT": D("100000"), "BTC": D("2")},
                      futures_balances={"USDT": D("10000")}, maker_fee=D("0.0008"), taker_fee=D("0.001"),
                      futures_maker_fee=D("0.0002"), futures_taker_fee=D("0.0004"))
    ex.create_account(MK, MS, balances={"USDT": D("10000000"), "BTC": D("100")},
                      futures_balances={"USDT": D("100000000")})
    return ex


def serve(body) -> None:
    """``await body(ex, session)`` against a started ``make_ex()``."""
    async def main():
        ex = make_ex()
        async with ex, aiohttp.ClientSession() as s:
            await body(ex, s)
    run(main())


class FakeClock:
    """The matching engine's clock, injected: trade times are what the test says."""

    def __init__(self, monkeypatch, start: int) -> None:
        self.now = start
        monkeypatch.setattr(sim_matching, "now_ms", lambda: self.now)


def trade(ex, engine, price: str, qty: str, taker_side: str = "BUY", maker_cid=None) -> None:
    """A maker order of MK at ``price`` and a crossing IOC taker of KEY."""
    mk = ex.account_by_key(MK).account_id
    tk = ex.account_by_key(KEY).account_id
    maker_side = "SELL" if taker_side == "BUY" else "BUY"
    engine.submit(mk, OrderRequest("BTCUSDT", maker_side, "LIMIT", "GTC", D(qty), None, D(price), maker_cid))
    engine.submit(tk, OrderRequest("BTCUSDT", taker_side, "LIMIT", "IOC", D(qty), None, D(price)))


# ---------------------------------------------------------------------------------------- statistics

def test_candles_and_aggregates_from_fills(monkeypatch):
    clock = FakeClock(monkeypatch, T0 + 5_000)
    ex = make_ex()
    eng = ex.spot_engine
    mk = ex.account_by_key(MK).account_id
    tk = ex.account_by_key(KEY).account_id
    # one taker order eating two makers at one price: one aggregate of two trades
    for cid in ("a", "b"):
        eng.submit(mk, OrderRequest("BTCUSDT", "SELL", "LIMIT", "GTC", D("0.1"), None, D("60000"), cid))
    eng.submit(tk, OrderRequest("BTCUSDT", "BUY", "LIMIT", "IOC", D("0.2"), None, D("60000")))
    clock.now = T0 + 30_000
    trade(ex, eng, "60010", "0.05", "SELL")
    clock.now = T0 + 61_000                     # the next minute
    trade(ex, eng, "59990", "0.3", "BUY")
    fills = list(eng.fills)
    assert [f.time for f in fills] == [T0 + 5_000, T0 + 5_000, T0 + 30_000, T0 + 61_000]
    aggs = agg_trades(fills)
    assert [(a.price, a.qty, a.last_id - a.first_id) for a in aggs] == [
        (D("60000"), D("0.2"), 1), (D("60010"), D("0.05"), 0), (D("59990"), D("0.3"), 0)]
    assert [a.buyer_maker for a in aggs] == [False, True, False]
    c1, c2 = candles(fills, 60_000)
    assert (c1.open_time, c1.close_time) == (T0, T0 + 59_999)
    assert (c1.open, c1.high, c1.low, c1.close) == (D("60000"), D("60010"), D("60000"), D("60010"))
    assert (c1.volume, c1.count, c1.taker_buy_volume) == (D("0.25"), 3, D("0.2"))
    assert c1.quote_volume == D("12000") + D("3000.5")
    assert (c2.open_time, c2.volume, c2.count) == (T0 + 60_000, D("0.3"), 1)
    # weeks open on Monday 00:00 UTC, months on the 1st
    assert period_bounds(7 * 86_400_000, T0) == (1_699_833_600_000, 1_700_438_400_000)   # Mon 13 .. Mon 20 Nov
    assert period_bounds(None, T0) == (1_698_796_800_000, 1_701_388_800_000)             # 1 Nov .. 1 Dec 2023


def test_klines_and_agg_trades_rest_shapes(monkeypatch):
    clock = FakeClock(monkeypatch, T0 + 1_000)
    async def main(ex, s):
        for eng, base, prefix in ((ex.spot_engine, ex.spot_rest_url, "/api/v3"),
                                  (ex.futures_engine, ex.futures_rest_url, "/fapi/v1")):
            clock.now = T0 + 1_000
            trade(ex, eng, "60000", "0.1")
            clock.now = T0 + 2_000
            trade(ex, eng, "60001", "0.2", "SELL")
            c = Signed(s, base)
            st, rows = await c.get(prefix + "/klines", symbol="BTCUSDT", interval="1m")
            assert st == 200 and len(rows) == 1
            row = rows[0]
            assert len(row) == 12 and row[0] == T0 and row[6] == T0 + 59_999 and row[8] == 2
            assert [D(v) for v in row[1:6]] == [D("60000"), D("60001"), D("60000"), D("60001"), D("0.3")]
            assert D(row[7]) == D("6000") + D("12000.2") and D(row[9]) == D("0.1") and D(row[10]) == D("6000")
            st, body = await c.get(prefix + "/klines", symbol="BTCUSDT", interval="7m")
            assert (st, body) == (400, {"code": -1120, "msg": "Invalid interval."})
            st, body = await c.get(prefix + "/klines", symbol="BTCUSDT")
            assert st == 400 and body["code"] == -1102
            st, rows = await c.get(prefix + "/klines", symbol="BTCUSDT", interval="1m", startTime=T0 + 60_000)
            assert rows == []
            st, aggs = await c.get(prefix + "/aggTrades", symbol="BTCUSDT")
            keys = {"a", "p", "q", "f", "l", "T", "m"} | ({"M"} if prefix == "/api/v3" else set())
            assert st == 200 and [set(a) for a in aggs] == [keys, keys]
            assert [(D(a["p"]), D(a["q"]), a["m"], a["T"]) for a in aggs] == [
                (D("60000"), D("0.1"), False, T0 + 1_000), (D("60001"), D("0.2"), True, T0 + 2_000)]
            st, later = await c.get(prefix + "/aggTrades", symbol="BTCUSDT", fromId=aggs[1]["a"])
            assert [a["a"] for a in later] == [aggs[1]["a"]]
        # 1s candles are spot only
        st, _ = await Signed(s, ex.futures_rest_url).get("/fapi/v1/klines", symbol="BTCUSDT", interval="1s")
        assert st == 400
        st, rows = await Signed(s, ex.spot_rest_url).get("/api/v3/klines", symbol="BTCUSDT", interval="1s")
        assert [r[0] for r in rows] == [T0 + 1_000, T0 + 2_000]
    serve(main)


# ---------------------------------------------------------------------------------------- spot

def test_spot_wallet_margin_and_fee_endpoints():
    async def main(ex, s):
        c = Signed(s, ex.spot_rest_url)
        st, coins = await c("GET", "/sapi/v1/capital/config/getall")
        assert st == 200 and [r["coin"] for r in coins] == ["BTC", "USDT"]
        doc_keys = {"coin", "depositAllEnable", "withdrawAllEnable", "name", "free", "locked", "freeze",
                    "withdrawing", "ipoing", "ipoable", "storage", "isLegalMoney", "trading", "networkList"}
        assert all(set(r) == doc_keys for r in coins)
        usdt = coins[1]
        assert (D(usdt["free"]), D(usdt["locked"]), usdt["networkList"]) == (D("100000"), 0, [])
        st, _ = await c("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                  "timeInForce": "GTC", "quantity": "0.1", "price": "50000"})
        _, coins = await c("GET", "/sapi/v1/capital/config/getall")
        assert (D(coins[1]["free"]), D(coins[1]["locked"])) == (D("95000"), D("5000"))
        r = await s.get(ex.spot_rest_url + "/sapi/v1/margin/allPairs", headers={"X-MBX-APIKEY": KEY})
        assert (r.status, await r.json()) == (200, [])
        r = await s.get(ex.spot_rest_url + "/sapi/v1/margin/allPairs")
        assert r.status == 401 and (await r.json())["code"] == -2014
        assert await c("GET", "/sapi/v1/margin/isolated/allPairs") == (200, [])
        assert await c("GET", "/sapi/v1/asset/tradeFee", {"symbol": "BTCUSDT"}) == (
            200, [{"symbol": "BTCUSDT", "makerCommission": "0.0008", "takerCommission": "0.001"}])
        st, body = await c("GET", "/sapi/v1/asset/tradeFee", {"symbol": "NOPE"})
        assert (st, body["code"]) == (400, -1121)
    serve(main)


def test_spot_precision_and_unlisted_order_types_get_binance_codes():
    async def main(ex, s):
        c = Signed(s, ex.spot_rest_url)
        base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
        precision = (400, {"code": -1111, "msg": "Precision is over the maximum defined for this asset."})
        assert await c("POST", "/api/v3/order", {**base, "quantity": "0.000000001", "price": "50000"}) == precision
        assert await c("POST", "/api/v3/order", {**base, "quantity": "0.1", "price": "50000.000000001"}) == precision
        assert await c("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                 "quoteOrderQty": "10.000000001"}) == precision
        # within 8 decimals but off the step: the filter, as before
        assert await c("POST", "/api/v3/order", {**base, "quantity": "0.000015", "price": "50000"}) == (
            400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"})
        for otype in ("STOP_LOSS", "TAKE_PROFIT_LIMIT", "OCO", "nonsense"):
            assert await c("POST", "/api/v3/order", {**base, "type": otype, "quantity": "0.1",
                                                     "price": "50000"}) == (
                400, {"code": -1116, "msg": "Invalid orderType."}), otype
        assert ex.open_orders(KEY) == []
    serve(main)


def test_all_orders_spot_and_futures():
    async def main(ex, s):
        for base, prefix, extra in ((ex.spot_rest_url, "/api/v3", {}), (ex.futures_rest_url, "/fapi/v1", {})):
            c = Signed(s, base)
            ids = []
            for price in ("50000", "50001", "50002"):
                st, o = await c("POST", prefix + "/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                            "timeInForce": "GTC", "quantity": "0.01",
                                                            "price": price, **extra})
                assert st == 200, o
                ids.append(o["orderId"])
            await c("DELETE", prefix + "/order", {"symbol": "BTCUSDT", "orderId": ids[0]})
            st, rows = await c("GET", prefix + "/allOrders", {"symbol": "BTCUSDT"})
            assert st == 200 and [(r["orderId"], r["status"]) for r in rows] == [
                (ids[0], "CANCELED"), (ids[1], "NEW"), (ids[2], "NEW")]
            _, one = await c("GET", prefix + "/order", {"symbol": "BTCUSDT", "orderId": ids[1]})
            assert rows[1] == one               # the same shape as a query of one order
            _, rows = await c("GET", prefix + "/allOrders", {"symbol": "BTCUSDT", "orderId": ids[1], "limit": 1})
            assert [r["orderId"] for r in rows] == [ids[1]]
            _, rows = await c("GET", prefix + "/allOrders", {"symbol": "BTCUSDT", "limit": 2})
            assert [r["orderId"] for r in rows] == ids[1:]
            _, rows = await c("GET", prefix + "/allOrders", {"symbol": "BTCUSDT"}, key=MK, secret=MS)
            assert rows == []                   # another account's orders are not listed
    serve(main)


# ---------------------------------------------------------------------------------------- futures

def test_futures_brackets_margin_type_commission_and_coinm_info():
    async def main(ex, s):
        c = Signed(s, ex.futures_rest_url)
        st, one = await c("GET", "/fapi/v1/leverageBracket", {"symbol": "BTCUSDT"})
        assert st == 200 and set(one) == {"symbol", "brackets"} and one["symbol"] == "BTCUSDT"
        assert [set(b) for b in one["brackets"]] == [{"bracket", "initialLeverage", "notionalCap",
                                                      "notionalFloor", "maintMarginRatio", "cum"}]
        assert one["brackets"][0]["initialLeverage"] == 125
        st, every = await c("GET", "/fapi/v1/leverageBracket")
        assert st == 200 and every == [one]
        assert await c("POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "CROSSED"}) == (
            400, {"code": -4046, "msg": "No need to change margin type."})
        assert await c("POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "ISOLATED"}) == (
            200, {"code": 200, "msg": "success"})
        assert await c("POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "CROSSED"}) == (
            200, {"code": 200, "msg": "success"})
        st, body = await c("POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT"})
        assert (st, body["code"]) == (400, -1102)
        assert await c("GET", "/fapi/v1/commissionRate", {"symbol": "BTCUSDT"}) == (
            200, {"symbol": "BTCUSDT", "makerCommissionRate": "0.0002", "takerCommissionRate": "0.0004"})
        st, info = await c.get("/dapi/v1/exchangeInfo")
        assert st == 200 and info["symbols"] == [] and info["timezone"] == "UTC"
        assert set(info) == {"exchangeFilters", "rateLimits", "serverTime", "symbols", "timezone"}
    serve(main)


def test_funded_futures_wallet_reports_when_it_was_funded():
    before = int(time.time() * 1000)
    async def main(ex, s):
        c = Signed(s, ex.futures_rest_url)
        _, bal = await c("GET", "/fapi/v2/balance")
        usdt = next(r for r in bal if r["asset"] == "USDT")
        assert D(usdt["balance"]) == D("10000") and usdt["updateTime"] >= before
        for path in ("/fapi/v2/account", "/fapi/v3/account"):
            _, acct = await c("GET", path)
            asset = next(r for r in acct["assets"] if r["asset"] == "USDT")
            assert asset["updateTime"] >= before, path
    serve(main)


def test_24hr_ticker_rows_per_market():
    async def main(ex, s):
        common = {"symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "lastPrice", "lastQty",
                  "openPrice", "highPrice", "lowPrice", "volume", "quoteVolume", "openTime", "closeTime",
                  "firstId", "lastId", "count"}
        _, spot = await Signed(s, ex.spot_rest_url).get("/api/v3/ticker/24hr", symbol="BTCUSDT")
        assert set(spot) == common | {"prevClosePrice", "bidPrice", "bidQty", "askPrice", "askQty"}
        _, fut = await Signed(s, ex.futures_rest_url).get("/fapi/v1/ticker/24hr", symbol="BTCUSDT")
        assert set(fut) == common
        assert (spot["count"], spot["firstId"]) == (0, -1)
    serve(main)


# ---------------------------------------------------------------------------------------- streams

async def _first(ws, event: str, timeout: float = 5.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        msg = json.loads(await asyncio.wait_for(ws.receive_str(), deadline - asyncio.get_running_loop().time()))
        data = msg.get("data", msg)
        if isinstance(data, dict) and data.get("e") == event:
            return data


@pytest.mark.parametrize("market", ["spot", "futures"])
def test_ticker_mini_ticker_and_kline_streams_on_any_ws_path(market):
    async def main(ex, s):
        eng = ex.spot_engine if market == "spot" else ex.futures_engine
        trade(ex, eng, "60000", "0.1")
        base = ex.spot_ws_url if market == "spot" else ex.futures_ws_url
        # ccxt.pro numbers its connections: /ws/0, /ws/1 ... (path names, not streams)
        ws = await s.ws_connect(base + "/ws/0")
        await ws.send_json({"method": "SUBSCRIBE", "id": 1,
                            "params": ["btcusdt@ticker", "btcusdt@miniTicker", "btcusdt@kline_1m"]})
        assert json.loads(await ws.receive_str()) == {"result": None, "id": 1}
        tick = await _first(ws, "24hrTicker")
        keys = {"e", "E", "s", "p", "P", "w", "c", "Q", "o", "h", "l", "v", "q", "O", "C", "F", "L", "n"}
        if market == "spot":
            keys |= {"x", "b", "B", "a", "A"}
        assert set(tick) == keys and tick["s"] == "BTCUSDT" and D(tick["c"]) == D("60000") and tick["n"] == 1
        mini = await _first(ws, "24hrMiniTicker")
        assert set(mini) == {"e", "E", "s", "c", "o", "h", "l", "v", "q"} and D(mini["v"]) == D("0.1")
        kline = await _first(ws, "kline")
        k = kline["k"]
        assert set(k) == {"t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"}
        assert k["i"] == "1m" and k["T"] == k["t"] + 59_999 and k["t"] % 60_000 == 0
        await ws.send_json({"method": "SUBSCRIBE", "id": 2, "params": ["btcusdt@kline_7m"]})
        reply = json.loads(await ws.receive_str())
        while "id" not in reply:
            reply = json.loads(await ws.receive_str())
        assert reply["id"] == 2 and reply["error"]["code"] == 2
        await ws.close()
        # a /stream/<n> path is a combined-stream session
        ws = await s.ws_connect(base + "/stream/0")
        await ws.send_json({"method": "SUBSCRIBE", "id": 3, "params": ["btcusdt@miniTicker"]})
        assert json.loads(await ws.receive_str()) == {"result": None, "id": 3}
        msg = json.loads(await asyncio.wait_for(ws.receive_str(), 5))
        assert msg["stream"] == "btcusdt@miniTicker" and msg["data"]["e"] == "24hrMiniTicker"
        await ws.close()
    serve(main)


def test_all_market_and_mark_price_streams():
    async def main(ex, s):
        trade(ex, ex.spot_engine, "60000", "0.1")
        trade(ex, ex.futures_engine, "60000", "0.1")
        ws = await s.ws_connect(ex.spot_ws_url + "/stream?streams=!ticker@arr/!miniTicker@arr")
        got = {}
        while len(got) < 2:
            msg = json.loads(await asyncio.wait_for(ws.receive_str(), 5))
            got[msg["stream"]] = msg["data"]
        assert [t["e"] for t in got["!ticker@arr"]] == ["24hrTicker"] and got["!ticker@arr"][0]["s"] == "BTCUSDT"
        assert [t["e"] for t in got["!miniTicker@arr"]] == ["24hrMiniTicker"]
        await ws.close()
        # spot has no all-market book ticker stream
        r = await s.get(ex.spot_ws_url.replace("ws:", "http:") + "/ws/!bookTicker",
                        headers={"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert r.status == 400 and (await r.json())["code"] == -1121
        ws = await s.ws_connect(ex.futures_ws_url + "/stream?streams=!bookTicker/!markPrice@arr@1s/"
                                                    "btcusdt@markPrice@1s/btcusdt@forceOrder/!forceOrder@arr")
        got = {}
        while len(got) < 3:
            msg = json.loads(await asyncio.wait_for(ws.receive_str(), 5))
            got.setdefault(msg["stream"], msg["data"])
        assert got["!bookTicker"]["e"] == "bookTicker" and got["!bookTicker"]["s"] == "BTCUSDT"
        mark_keys = {"e", "E", "s", "p", "i", "P", "r", "T"}
        assert [set(m) for m in got["!markPrice@arr@1s"]] == [mark_keys]
        one = got["btcusdt@markPrice@1s"]
        assert set(one) == mark_keys and D(one["p"]) == ex.mark_price_of("BTCUSDT")
        assert "btcusdt@forceOrder" not in got        # the sim never liquidates
        await ws.close()
    serve(main)


def test_avg_price_and_v3_balance():
    async def main(ex, s):
        spot = Signed(s, ex.spot_rest_url)
        st, avg = await spot.get("/api/v3/avgPrice", symbol="BTCUSDT")
        assert st == 200 and set(avg) == {"mins", "price", "closeTime"} and avg["mins"] == 5
        trade(ex, ex.spot_engine, "60000", "0.1")
        trade(ex, ex.spot_engine, "60001", "0.2", "SELL")
        _, avg = await spot.get("/api/v3/avgPrice", symbol="BTCUSDT")
        assert D(avg["price"]) == ((D("6000") + D("12000.2")) / D("0.3")).quantize(D("1e-8"))
        assert avg["closeTime"] == ex.spot_engine.fills[-1].time
        fut = Signed(s, ex.futures_rest_url)
        st2, v2 = await fut("GET", "/fapi/v2/balance")
        st3, v3 = await fut("GET", "/fapi/v3/balance")
        assert (st2, st3) == (200, 200) and v2 == v3
        assert set(v3[0]) == {"accountAlias", "asset", "balance", "crossWalletBalance", "crossUnPnl",
                              "availableBalance", "maxWithdrawAmount", "marginAvailable", "updateTime"}
    serve(main)
