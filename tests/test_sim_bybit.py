"""The embedded exchange's Bybit v5 front end, driven over loopback by a client written here from
Bybit's docs (signing, envelopes, topics), independent of hbconnect's Bybit translation."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from decimal import Decimal as D

import aiohttp

from hbconnect.sim import EmbeddedExchange

KEY, SECRET = "bybitkey1", "bybitsecret1"


def sign(ts: str, payload: str, window: str = "5000", secret: str = SECRET, key: str = KEY) -> str:
    return hmac.new(secret.encode(), (ts + key + window + payload).encode(), hashlib.sha256).hexdigest()


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str, key: str = KEY, secret: str = SECRET) -> None:
        self.s, self.url, self.key, self.secret = session, url, key, secret

    def headers(self, payload: str, ts_ms: int | None = None) -> dict:
        ts = str(ts_ms if ts_ms is not None else int(time.time() * 1000))
        return {"X-BAPI-API-KEY": self.key, "X-BAPI-TIMESTAMP": ts, "X-BAPI-RECV-WINDOW": "5000",
                "X-BAPI-SIGN": sign(ts, payload, secret=self.secret, key=self.key)}

    async def get(self, path: str, query: str = "", signed: bool = True, **kw) -> tuple[int, dict]:
        headers = self.headers(query, **kw) if signed else {}
        async with self.s.get(f"{self.url}{path}" + (f"?{query}" if query else ""), headers=headers) as r:
            return r.status, await r.json()

    async def post(self, path: str, body: dict, **kw) -> tuple[int, dict]:
        text = json.dumps(body)
        headers = {**self.headers(text, **kw), "Content-Type": "application/json"}
        async with self.s.post(f"{self.url}{path}", data=text, headers=headers) as r:
            return r.status, await r.json()


def exchange(**kw) -> EmbeddedExchange:
    ex = EmbeddedExchange(seed=3, pairs=("BTC-USDT",), perp_pairs=("BTC-USDT",), agent=False,
                          funding_interval=None, venues=("bybit",), **kw)
    ex.create_account(KEY, SECRET, balances={"USDT": D("10000"), "BTC": D("1")},
                      futures_balances={"USDT": D("10000")})
    ex.create_account("taker1", "takersecret", balances={"USDT": D("100000"), "BTC": D("10")},
                      futures_balances={"USDT": D("100000")})
    return ex


async def recv_until(ws: aiohttp.ClientWebSocketResponse, pred, timeout: float = 5.0) -> dict:
    async def loop() -> dict:
        while True:
            msg = json.loads(await ws.receive_str())
            if pred(msg):
                return msg
    return await asyncio.wait_for(loop(), timeout)


def run(coro) -> None:
    asyncio.run(asyncio.wait_for(coro, 60))


def test_rest_signing_orders_and_errors_in_200_bodies() -> None:
    async def go() -> None:
        ex = exchange()
        async with ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.front("bybit").rest_url)
            status, body = await c.get("/v5/market/time", signed=False)
            assert status == 200 and body["retCode"] == 0 and int(body["result"]["timeSecond"]) > 0
            _, body = await c.get("/v5/market/instruments-info", "category=spot&symbol=BTCUSDT", signed=False)
            (row,) = body["result"]["list"]
            assert row["baseCoin"] == "BTC" and row["priceFilter"]["tickSize"] == "0.01"
            _, body = await c.get("/v5/market/instruments-info", "category=linear", signed=False)
            assert body["result"]["list"][0]["lotSizeFilter"]["qtyStep"] == "0.001"
            # signed wallet: spot and perpetual wallet are one unified account
            _, body = await c.get("/v5/account/wallet-balance", "accountType=UNIFIED")
            coins = {x["coin"]: x for x in body["result"]["list"][0]["coin"]}
            assert coins["USDT"]["walletBalance"] == "20000" and coins["BTC"]["walletBalance"] == "1"
            # a bad signature and a stale timestamp are errors in HTTP 200 bodies
            ts = str(int(time.time() * 1000))
            async with s.get(c.url + "/v5/account/wallet-balance?accountType=UNIFIED", headers={
                    "X-BAPI-API-KEY": KEY, "X-BAPI-TIMESTAMP": ts, "X-BAPI-SIGN": "0" * 64}) as r:
                assert (r.status, (await r.json())["retCode"]) == (200, 10004)
            status, body = await c.get("/v5/account/wallet-balance", "accountType=UNIFIED",
                                       ts_ms=int(time.time() * 1000) - 60_000)
            assert (status, body["retCode"]) == (200, 10002)
            async with s.get(c.url + "/v5/account/wallet-balance?accountType=UNIFIED") as r:
                assert (r.status, (await r.json())["retCode"]) == (401, 10003)
            # place, query, cancel
            order = {"category": "spot", "symbol": "BTCUSDT", "side": "Sell", "orderType": "Limit",
                     "qty": "0.1", "price": "70000", "orderLinkId": "s-1"}
            _, body = await c.post("/v5/order/create", order)
            assert body["retCode"] == 0 and body["result"]["orderLinkId"] == "s-1"
            oid = body["result"]["orderId"]
            _, body = await c.get("/v5/order/realtime", "category=spot&orderLinkId=s-1")
            (row,) = body["result"]["list"]
            assert (row["orderId"], row["orderStatus"], row["qty"]) == (oid, "New", "0.1")
            _, body = await c.post("/v5/order/create", order)
            assert body["retCode"] == 170141            # duplicate orderLinkId, spot code
            _, body = await c.post("/v5/order/create", dict(order, orderLinkId="s-2", qty="5"))
            assert body["retCode"] == 170131            # insufficient balance, HTTP 200
            _, body = await c.post("/v5/order/cancel", {"category": "spot", "symbol": "BTCUSDT", "orderId": oid})
            assert body["retCode"] == 0 and body["result"]["orderId"] == oid
            _, body = await c.post("/v5/order/cancel", {"category": "spot", "symbol": "BTCUSDT", "orderId": oid})
            assert body["retCode"] == 170213            # no longer open
            _, body = await c.get("/v5/order/realtime", f"category=spot&orderId={oid}")
            assert body["result"]["list"][0]["orderStatus"] == "Cancelled"
            _, body = await c.post("/v5/order/create", dict(order, orderLinkId="s-3", price="70000.001"))
            assert body["retCode"] == 170134            # price off the tick
    run(go())


def test_fills_fees_and_linear_positions() -> None:
    async def go() -> None:
        ex = exchange()
        async with ex, aiohttp.ClientSession() as s:
            url = ex.front("bybit").rest_url
            maker, taker = Client(s, url), Client(s, url, "taker1", "takersecret")
            _, body = await maker.post("/v5/order/create", {"category": "spot", "symbol": "BTCUSDT", "side": "Sell",
                                                            "orderType": "Limit", "qty": "0.1", "price": "60000",
                                                            "orderLinkId": "m-1"})
            assert body["retCode"] == 0
            _, body = await taker.post("/v5/order/create", {"category": "spot", "symbol": "BTCUSDT", "side": "Buy",
                                                            "orderType": "Market", "qty": "0.05",
                                                            "marketUnit": "baseCoin"})
            assert body["retCode"] == 0
            _, body = await maker.get("/v5/execution/list", "category=spot&symbol=BTCUSDT")
            (ex_row,) = body["result"]["list"]
            assert ex_row["execQty"] == "0.05" and ex_row["execPrice"] == "60000" and ex_row["isMaker"] is True
            assert ex_row["feeCurrency"] == "USDT" and D(ex_row["execFee"]) == D("3")    # 0.1 % of 3000
            _, body = await maker.get("/v5/order/realtime", "category=spot&orderLinkId=m-1")
            assert body["result"]["list"][0]["orderStatus"] == "PartiallyFilled"
            # linear: leverage, position mode, a position
            _, body = await maker.post("/v5/position/set-leverage", {"category": "linear", "symbol": "BTCUSDT",
                                                                     "buyLeverage": "10", "sellLeverage": "10"})
            assert body["retCode"] == 0
            _, body = await maker.post("/v5/position/set-leverage", {"category": "linear", "symbol": "BTCUSDT",
                                                                     "buyLeverage": "10", "sellLeverage": "10"})
            assert body["retCode"] == 110043
            _, body = await maker.post("/v5/position/switch-mode", {"category": "linear", "symbol": "BTCUSDT",
                                                                    "mode": 0})
            assert body["retCode"] == 110025            # already one-way
            _, body = await maker.post("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Sell",
                                                            "orderType": "Limit", "qty": "0.01", "price": "60000",
                                                            "positionIdx": 0})
            assert body["retCode"] == 0
            _, body = await taker.post("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                            "orderType": "Market", "qty": "0.01"})
            assert body["retCode"] == 0
            _, body = await maker.get("/v5/position/list", "category=linear&symbol=BTCUSDT")
            (pos,) = body["result"]["list"]
            assert (pos["side"], pos["size"], pos["leverage"], pos["positionIdx"]) == ("Sell", "0.01", "10", 0)
            # PostOnly that would take: accepted, then Cancelled (never in the book)
            _, body = await taker.post("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                            "orderType": "Limit", "qty": "0.01", "price": "58000"})
            assert body["retCode"] == 0
            _, body = await maker.post("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Sell",
                                                            "orderType": "Limit", "qty": "0.01", "price": "58000",
                                                            "timeInForce": "PostOnly", "orderLinkId": "po-1"})
            assert body["retCode"] == 0
            _, body = await maker.get("/v5/order/realtime", "category=linear&orderLinkId=po-1")
            row = body["result"]["list"][0]
            assert row["orderStatus"] == "Cancelled" and row["rejectReason"] == "EC_PostOnlyWillTakeLiquidity"
            _, body = await maker.post("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                            "orderType": "Limit", "qty": "0.02", "price": "50000",
                                                            "reduceOnly": True})
            assert body["retCode"] == 110017            # would not reduce a 0.01 short
    run(go())


def test_public_private_and_trade_websockets() -> None:
    async def go() -> None:
        ex = exchange()
        async with ex, aiohttp.ClientSession() as s:
            front = ex.front("bybit")
            pub = await s.ws_connect(front.ws_url + "/v5/public/linear")
            await pub.send_json({"op": "subscribe", "args": ["orderbook.50.BTCUSDT", "publicTrade.BTCUSDT"],
                                 "req_id": "r1"})
            ack = await recv_until(pub, lambda m: m.get("op") == "subscribe")
            assert ack["success"] is True and ack["req_id"] == "r1"
            snap = await recv_until(pub, lambda m: m.get("type") == "snapshot")
            assert snap["topic"] == "orderbook.50.BTCUSDT"
            u0 = snap["data"]["u"]
            await pub.send_json({"op": "ping", "req_id": "p"})
            assert (await recv_until(pub, lambda m: m.get("op") == "ping"))["ret_msg"] == "pong"
            await pub.send_json({"op": "subscribe", "args": ["orderbook.7.BTCUSDT"]})
            assert (await recv_until(pub, lambda m: m.get("op") == "subscribe"))["success"] is False

            priv = await s.ws_connect(front.ws_url + "/v5/private")
            expires = int(time.time() * 1000) + 10_000
            sig = hmac.new(SECRET.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
            await priv.send_json({"op": "subscribe", "args": ["order"]})
            assert (await recv_until(priv, lambda m: m.get("op") == "subscribe"))["success"] is False
            await priv.send_json({"op": "auth", "args": [KEY, expires, "0" * 64]})
            assert (await recv_until(priv, lambda m: m.get("op") == "auth"))["success"] is False
            await priv.send_json({"op": "auth", "args": [KEY, expires, sig]})
            assert (await recv_until(priv, lambda m: m.get("op") == "auth"))["success"] is True
            await priv.send_json({"op": "subscribe", "args": ["order", "execution", "wallet", "position"]})
            assert (await recv_until(priv, lambda m: m.get("op") == "subscribe"))["success"] is True

            trade = await s.ws_connect(front.ws_url + "/v5/trade")
            await trade.send_json({"reqId": "a1", "op": "auth", "args": [KEY, expires, sig]})
            assert (await recv_until(trade, lambda m: m.get("op") == "auth"))["retCode"] == 0
            create = {"reqId": "c1", "header": {"X-BAPI-TIMESTAMP": str(int(time.time() * 1000))},
                      "op": "order.create", "args": [{"category": "linear", "symbol": "BTCUSDT", "side": "Sell",
                                                      "orderType": "Limit", "qty": "0.01", "price": "59000",
                                                      "orderLinkId": "w-1"}]}
            await trade.send_json(create)
            reply = await recv_until(trade, lambda m: m.get("reqId") == "c1")
            assert reply["retCode"] == 0 and reply["op"] == "order.create" and reply["data"]["orderLinkId"] == "w-1"
            await trade.send_json(create)
            assert (await recv_until(trade, lambda m: m.get("reqId") == "c1"))["retCode"] == 20006
            pushed = await recv_until(priv, lambda m: m.get("topic") == "order")
            assert pushed["data"][0]["orderLinkId"] == "w-1" and pushed["data"][0]["orderStatus"] == "New"
            delta = await recv_until(pub, lambda m: m.get("type") == "delta")
            assert delta["data"]["u"] == u0 + 1 and ["59000", "0.01"] in delta["data"]["a"]
            # a taker fills it: execution (fee in USDT), order Filled, position, public trade
            taker = Client(s, front.rest_url, "taker1", "takersecret")
            _, body = await taker.post("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                            "orderType": "Market", "qty": "0.01"})
            assert body["retCode"] == 0
            execution = await recv_until(priv, lambda m: m.get("topic") == "execution")
            e = execution["data"][0]
            assert (e["execQty"], e["execPrice"], e["isMaker"], e["feeCurrency"]) == ("0.01", "59000", True, "USDT")
            assert D(e["execFee"]) == D("0.118")        # 0.02 % of 590
            position = await recv_until(priv, lambda m: m.get("topic") == "position")
            assert position["data"][0]["size"] == "0.01" and position["data"][0]["side"] == "Sell"
            tr = await recv_until(pub, lambda m: m.get("topic") == "publicTrade.BTCUSDT")
            assert tr["data"][0]["S"] == "Buy" and tr["data"][0]["v"] == "0.01"
            cancel = {"reqId": "c2", "header": {"X-BAPI-TIMESTAMP": str(int(time.time() * 1000))},
                      "op": "order.cancel", "args": [{"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "w-1"}]}
            await trade.send_json(cancel)
            assert (await recv_until(trade, lambda m: m.get("reqId") == "c2"))["retCode"] == 110001   # filled
            for ws in (pub, priv, trade):
                await ws.close()
    run(go())


def test_fault_knobs_answer_bybit_style() -> None:
    async def go() -> None:
        ex = exchange()
        async with ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.front("bybit").rest_url)
            order = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
                     "qty": "0.01", "price": "50000"}
            ex.faults.http_429 = 1.0
            status, body = await c.post("/v5/order/create", dict(order, orderLinkId="f-0"))
            assert (status, body["retCode"]) == (200, 10006)
            assert ex.order(KEY, "BTC-USDT", "f-0") is None
            ex.faults.clear()
            ex.faults.error_5xx_accepted = 1.0
            status, body = await c.post("/v5/order/create", dict(order, orderLinkId="f-1"))
            assert (status, body["retCode"]) == (200, 10000)       # answer lost, order done
            assert ex.order(KEY, "BTC-USDT", "f-1").status == "NEW"
            ex.faults.clear()
            ex.faults.error_5xx_rejected = 1.0
            status, body = await c.post("/v5/order/create", dict(order, orderLinkId="f-2"))
            assert (status, body["retCode"]) == (503, 10016)
            assert ex.order(KEY, "BTC-USDT", "f-2") is None
            ex.faults.clear()
            # per-UID limit per rolling second (spot create: 20/s; lowered to 3 here), then 10006
            front = ex.front("bybit")
            front.clock = lambda: 1000.0            # one rolling second for every request below
            front.uid_limits[("/v5/order/create", "spot")] = 3
            other = Client(s, front.rest_url, "taker1", "takersecret")
            codes = []
            for i in range(4):
                _, body = await other.post("/v5/order/create", dict(order, orderLinkId=f"l-{i}"))
                codes.append(body["retCode"])
            assert codes == [0, 0, 0, 10006]
            front.clock = lambda: 1001.0            # the next second: room again
            _, body = await other.post("/v5/order/create", dict(order, orderLinkId="l-9"))
            assert body["retCode"] == 0
    run(go())


def test_self_match_prevention_follows_smp_type() -> None:
    """``smpType`` (Bybit v5 "Self Match Prevention"): absent or "None" lets an account's orders
    trade with each other; CancelMaker / CancelTaker / CancelBoth cancel the resting, the incoming
    or both orders (the incoming order's type decides).  Order rows report the order's smpType,
    ``cancelType`` CancelBySmp and the counterparty's order id in ``smpOrderId``."""
    async def go() -> None:
        ex = exchange()
        async with ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.front("bybit").rest_url)

            async def place(side: str, link: str, **extra) -> dict:
                _, body = await c.post("/v5/order/create", {"category": "spot", "symbol": "BTCUSDT", "side": side,
                                                            "orderType": "Limit", "qty": "0.01", "price": "50000",
                                                            "orderLinkId": link, **extra})
                return body

            async def row(link: str) -> dict:
                _, body = await c.get("/v5/order/realtime", f"category=spot&orderLinkId={link}")
                return body["result"]["list"][0]

            # the default: no prevention, the account trades with itself
            assert (await place("Sell", "s-1"))["retCode"] == 0
            assert (await place("Buy", "b-1"))["retCode"] == 0
            r_maker, r_taker = await row("s-1"), await row("b-1")
            assert (r_maker["orderStatus"], r_taker["orderStatus"]) == ("Filled", "Filled")
            assert r_taker["smpType"] == "None" and r_taker["smpOrderId"] == ""
            # CancelMaker: the resting order is cancelled, the incoming one rests
            await place("Sell", "s-2")
            assert (await place("Buy", "b-2", smpType="CancelMaker"))["retCode"] == 0
            r_maker, r_taker = await row("s-2"), await row("b-2")
            assert (r_maker["orderStatus"], r_maker["cancelType"]) == ("Cancelled", "CancelBySmp")
            assert r_maker["smpOrderId"] == r_taker["orderId"]
            assert (r_taker["orderStatus"], r_taker["smpType"]) == ("New", "CancelMaker")
            await c.post("/v5/order/cancel", {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "b-2"})
            # CancelTaker: the incoming order is cancelled, the resting one stays
            await place("Sell", "s-3")
            assert (await place("Buy", "b-3", smpType="CancelTaker"))["retCode"] == 0
            r_maker, r_taker = await row("s-3"), await row("b-3")
            assert r_maker["orderStatus"] == "New" and r_maker["smpOrderId"] == ""
            assert (r_taker["orderStatus"], r_taker["cancelType"], r_taker["smpOrderId"]) == (
                "Cancelled", "CancelBySmp", r_maker["orderId"])
            # CancelBoth: both are cancelled
            assert (await place("Buy", "b-4", smpType="CancelBoth"))["retCode"] == 0
            r_maker, r_taker = await row("s-3"), await row("b-4")
            assert (r_maker["orderStatus"], r_taker["orderStatus"]) == ("Cancelled", "Cancelled")
            assert r_maker["cancelType"] == r_taker["cancelType"] == "CancelBySmp"
            assert ex.open_orders(KEY) == []
            # a value outside the enum is a parameter error, and nothing is placed
            body = await place("Buy", "b-5", smpType="ExpireMaker")
            assert body["retCode"] == 10001 and ex.open_orders(KEY) == []
            assert len(ex.trades(KEY)) == 2      # only the first pair traded (one fill, both sides)
    run(go())


def test_orderbook_depths_are_the_documented_ones() -> None:
    """REST ``/v5/market/orderbook`` ``limit``: spot [1, 200] default 1, linear [1, 500] default 25.
    WebSocket ``orderbook.{depth}``: levels 1, 50, 200 and 1000 in both categories (500 is gone)."""
    async def go() -> None:
        ex = exchange()
        spot_book = ex.spot_engine.books["BTCUSDT"]
        lin_book = ex.futures_engine.books["BTCUSDT"]
        maker = ex.account_by_key("taker1").account_id
        from hbconnect.sim import OrderRequest
        for i in range(1, 600):        # 599 ask levels in each market
            for engine in (ex.spot_engine, ex.futures_engine):
                engine.submit(maker, OrderRequest("BTCUSDT", "SELL", "LIMIT", "GTC", D("0.001"), None,
                                                  D("70000") + i, None, "NONE"))
        assert len(spot_book.depth("SELL", 1000)) == len(lin_book.depth("SELL", 1000)) == 599
        async with ex, aiohttp.ClientSession() as s:
            front = ex.front("bybit")
            c = Client(s, front.rest_url)

            async def book(query: str) -> dict:
                _, body = await c.get("/v5/market/orderbook", query, signed=False)
                return body

            assert len((await book("category=spot&symbol=BTCUSDT"))["result"]["a"]) == 1
            assert len((await book("category=spot&symbol=BTCUSDT&limit=200"))["result"]["a"]) == 200
            assert (await book("category=spot&symbol=BTCUSDT&limit=201"))["retCode"] == 10001
            assert len((await book("category=linear&symbol=BTCUSDT"))["result"]["a"]) == 25
            assert len((await book("category=linear&symbol=BTCUSDT&limit=500"))["result"]["a"]) == 500
            assert (await book("category=linear&symbol=BTCUSDT&limit=501"))["retCode"] == 10001
            assert (await book("category=linear&symbol=BTCUSDT&limit=0"))["retCode"] == 10001
            for cat in ("spot", "linear"):
                ws = await s.ws_connect(front.ws_url + f"/v5/public/{cat}")
                for depth in (1, 50, 200, 1000):
                    await ws.send_json({"op": "subscribe", "args": [f"orderbook.{depth}.BTCUSDT"]})
                    assert (await recv_until(ws, lambda m: m.get("op") == "subscribe"))["success"] is True
                    snap = await recv_until(ws, lambda m: m.get("topic") == f"orderbook.{depth}.BTCUSDT")
                    assert snap["type"] == "snapshot" and len(snap["data"]["a"]) == min(depth, 599)
                for depth in (25, 500):
                    await ws.send_json({"op": "subscribe", "args": [f"orderbook.{depth}.BTCUSDT"]})
                    assert (await recv_until(ws, lambda m: m.get("op") == "subscribe"))["success"] is False
                await ws.close()
    run(go())


def test_isolated_margin_mode_is_account_wide_and_margins_positions_on_their_own() -> None:
    """"Set Margin Mode" ISOLATED_MARGIN / REGULAR_MARGIN (Unified account: account wide; read
    back from Get Account Info); refused (3400045) under a position; positions report their
    isolated margin as positionIM and a liquidation price."""
    async def go() -> None:
        ex = exchange()
        async with ex, aiohttp.ClientSession() as s:
            url = ex.front("bybit").rest_url
            c, taker = Client(s, url), Client(s, url, "taker1", "takersecret")
            _, body = await c.post("/v5/account/set-margin-mode", {"setMarginMode": "ISOLATED_MARGIN"})
            assert body["retCode"] == 0 and body["result"] == {"reasons": []}
            _, body = await c.get("/v5/account/info")
            assert body["result"]["marginMode"] == "ISOLATED_MARGIN"
            assert (await c.post("/v5/position/set-leverage", {"category": "linear", "symbol": "BTCUSDT",
                                                                 "buyLeverage": "10", "sellLeverage": "10"}))[1][
                "retCode"] == 0
            ex.set_mark_price("BTC-USDT", D("60000"))
            await taker.post("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Sell",
                                                  "orderType": "Limit", "qty": "0.1", "price": "60000"})
            _, body = await c.post("/v5/order/create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                        "orderType": "Market", "qty": "0.1"})
            assert body["retCode"] == 0
            _, body = await c.get("/v5/position/list", "category=linear&symbol=BTCUSDT")
            (row,) = body["result"]["list"]
            assert D(row["size"]) == D("0.1") and D(row["positionIM"]) == D("600")   # 0.1 * 60000 / 10
            assert D("54000") < D(row["liqPrice"]) < D("60000")
            _, body = await c.post("/v5/account/set-margin-mode", {"setMarginMode": "REGULAR_MARGIN"})
            assert body["retCode"] == 3400045 and body["result"]["reasons"]
            _, body = await c.post("/v5/account/set-margin-mode", {"setMarginMode": "PORTFOLIO_MARGIN"})
            assert body["retCode"] == 3400045
            _, body = await c.get("/v5/account/info")
            assert body["result"]["marginMode"] == "ISOLATED_MARGIN"
    run(go())
