"""The embedded exchange's Binance spot REST over loopback, signed independently in the test."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from decimal import Decimal as D
from urllib.parse import urlencode

import aiohttp
import pytest

from hbconnect.sim import EmbeddedExchange, RateLimits

KEY, SECRET = "testkey123", "testsecret456"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def hmac_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class Client:
    """A minimal signed client written for the test, independent of hbconnect's connector."""

    def __init__(self, session: aiohttp.ClientSession, base: str, key: str = KEY, secret: str = SECRET):
        self.s, self.base, self.key, self.secret = session, base, key, secret

    async def signed(self, method: str, path: str, params: dict, *, in_body: bool = False,
                     ts_offset_ms: int = 0, tamper: bool = False, key: str | None = None):
        params = dict(params)
        params.setdefault("timestamp", int(time.time() * 1000) + ts_offset_ms)
        qs = urlencode(params)
        sig = hmac_hex(self.secret, qs)
        if tamper:
            sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        headers = {"X-MBX-APIKEY": key if key is not None else self.key}
        if in_body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            r = await self.s.request(method, self.base + path, data=f"{qs}&signature={sig}", headers=headers)
        else:
            r = await self.s.request(method, f"{self.base}{path}?{qs}&signature={sig}", headers=headers)
        return r.status, await r.json(), r.headers

    async def get(self, path: str, **params):
        r = await self.s.get(self.base + path, params=params)
        return r.status, await r.json(), r.headers


def make_ex(**kw) -> EmbeddedExchange:
    kw.setdefault("agent", False)
    kw.setdefault("perp_pairs", ())
    ex = EmbeddedExchange(seed=5, pairs=("BTC-USDT", "ETH-USDT"), **kw)
    ex.create_account(KEY, SECRET, balances={"USDT": D("10000"), "BTC": D("1")})
    ex.create_account("makerkey", "makersecret", balances={"USDT": D("1000000"), "BTC": D("100")})
    return ex


def test_published_signature_example_is_accepted():
    """Binance's documented HMAC example: the documented key/secret/query give the documented signature."""
    doc_key = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    doc_secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    doc_sig = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    assert hmac_hex(doc_secret, query) == doc_sig

    async def main():
        ex = EmbeddedExchange(seed=1, pairs=("LTC-BTC",), perp_pairs=(), agent=False,
                              start_prices={"LTC-BTC": D("0.1")})
        ex.create_account(doc_key, doc_secret, balances={"BTC": D("1")})
        # the documented timestamp is from 2017: move the server clock there
        ex.faults.clock_offset_ms = 1499827319559 + 1000 - int(time.time() * 1000)
        async with ex, aiohttp.ClientSession() as s:
            h = {"X-MBX-APIKEY": doc_key}
            # example 1 (body), example 2 (query string)
            r1 = await s.post(ex.spot_rest_url + "/api/v3/order", data=f"{query}&signature={doc_sig}",
                              headers={**h, "Content-Type": "application/x-www-form-urlencoded"})
            body1 = await r1.json()
            r2 = await s.post(f"{ex.spot_rest_url}/api/v3/order?{query}&signature={doc_sig}", headers=h)
            body2 = await r2.json()
            # example 3: mixed query string and body, signature over their concatenation
            sig3 = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
            r3 = await s.post(f"{ex.spot_rest_url}/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
                              data=f"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature={sig3}",
                              headers={**h, "Content-Type": "application/x-www-form-urlencoded"})
            body3 = await r3.json()
            return r1.status, body1, r2.status, body2, r3.status, body3

    st1, b1, st2, b2, st3, b3 = run(main())
    # signature accepted; the documented order lacks funds (0.1 BTC each, 1 BTC balance): accepted
    assert (st1, b1["status"], b1["symbol"]) == (200, "NEW", "LTCBTC")
    assert (st2, b2["status"]) == (200, "NEW")
    assert (st3, b3["status"]) == (200, "NEW")


def test_signature_key_and_timestamp_errors():
    async def main():
        ex = make_ex()
        async with ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.spot_rest_url)
            out = {}
            out["ok"] = await c.signed("GET", "/api/v3/account", {})
            out["body"] = await c.signed("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, in_body=False)
            out["bad_sig"] = await c.signed("GET", "/api/v3/account", {}, tamper=True)
            out["unknown_key"] = await c.signed("GET", "/api/v3/account", {}, key="nosuchkey")
            r = await s.get(ex.spot_rest_url + "/api/v3/account?timestamp=1&signature=ab")
            out["no_key"] = (r.status, await r.json())
            out["old"] = await c.signed("GET", "/api/v3/account", {}, ts_offset_ms=-6000)
            out["old_wide"] = await c.signed("GET", "/api/v3/account", {"recvWindow": 10000}, ts_offset_ms=-6000)
            out["ahead"] = await c.signed("GET", "/api/v3/account", {}, ts_offset_ms=1500)
            out["window_max"] = await c.signed("GET", "/api/v3/account", {"recvWindow": 70000})
            r = await s.get(ex.spot_rest_url + f"/api/v3/account?recvWindow=5000",
                            headers={"X-MBX-APIKEY": KEY})
            out["no_sig"] = (r.status, await r.json())
            return out

    out = run(main())
    status, body, headers = out["ok"]
    assert status == 200 and body["accountType"] == "SPOT"
    assert {b["asset"]: b["free"] for b in body["balances"]} == {"BTC": "1.00000000", "USDT": "10000.00000000"}
    assert int(headers["X-MBX-USED-WEIGHT-1M"]) >= 20
    assert out["body"][0] == 200 and out["body"][1] == []
    assert out["bad_sig"][:2] == (400, {"code": -1022, "msg": "Signature for this request is not valid."})
    assert out["unknown_key"][:2] == (401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
    assert out["no_key"] == (401, {"code": -2014, "msg": "API-key format invalid."})
    assert out["old"][:2] == (400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."})
    assert out["old_wide"][0] == 200
    assert out["ahead"][1]["code"] == -1021 and "ahead" in out["ahead"][1]["msg"]
    assert out["window_max"][1]["code"] == -1131
    assert out["no_sig"][1]["code"] == -1102


def test_public_endpoints_and_exchange_info_filters():
    async def main():
        ex = make_ex(agent=True)
        async with ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.spot_rest_url)
            return (await c.get("/api/v3/ping"), await c.get("/api/v3/time"),
                    await c.get("/api/v3/exchangeInfo"), await c.get("/api/v3/depth", symbol="BTCUSDT", limit=10),
                    await c.get("/api/v3/depth", symbol="NOPE"))

    ping, tm, info, depth, bad = run(main())
    assert ping[:2] == (200, {})
    assert abs(tm[1]["serverTime"] - time.time() * 1000) < 5000
    sym = {s["symbol"]: s for s in info[1]["symbols"]}
    assert set(sym) == {"BTCUSDT", "ETHUSDT"}
    filters = {f["filterType"]: f for f in sym["BTCUSDT"]["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert "MARKET_LOT_SIZE" in filters
    assert {r["rateLimitType"] for r in info[1]["rateLimits"]} >= {"REQUEST_WEIGHT", "ORDERS"}
    d = depth[1]
    assert depth[0] == 200 and isinstance(d["lastUpdateId"], int)
    assert len(d["bids"]) == 10 and len(d["asks"]) == 10
    bids = [D(p) for p, _ in d["bids"]]
    asks = [D(p) for p, _ in d["asks"]]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    assert bad[:2] == (400, {"code": -1121, "msg": "Invalid symbol."})


def test_order_lifecycle_over_rest():
    async def main():
        ex = make_ex()
        async with ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.spot_rest_url)
            m = Client(s, ex.spot_rest_url, "makerkey", "makersecret")
            out = {}
            out["rest"] = await m.signed("POST", "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.05", "price": "60000", "newClientOrderId": "mk-1"})
            out["new"] = await c.signed("POST", "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.1", "price": "60000", "newClientOrderId": "hb-1"}, in_body=True)
            out["query"] = await c.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "hb-1"})
            out["open"] = await c.signed("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
            out["trades"] = await c.signed("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})
            out["cancel"] = await c.signed("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "hb-1",
                                                                      "newClientOrderId": "cx-1"})
            out["cancel_again"] = await c.signed("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "hb-1"})
            out["query_unknown"] = await c.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "nope"})
            out["lm"] = await c.signed("POST", "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.01", "price": "60000"})
            out["tiny"] = await c.signed("POST", "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.00001", "price": "50000"})
            out["tick"] = await c.signed("POST", "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.001", "price": "50000.001"})
            out["step"] = await c.signed("POST", "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.0010001", "price": "50000"})
            out["no_tif"] = await c.signed("POST", "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "50000"})
            out["poor"] = await c.signed("POST", "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "1", "price": "50000"})
            for i in range(3):
                await c.signed("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                         "timeInForce": "GTC", "quantity": "0.001",
                                                         "price": str(50000 + i)})
            out["cancel_all"] = await c.signed("DELETE", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
            out["cancel_all_none"] = await c.signed("DELETE", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
            out["balances"] = ex.balances(KEY)
            return out

    o = run(main())
    st, new, _ = o["new"]
    assert st == 200 and new["clientOrderId"] == "hb-1" and new["status"] == "PARTIALLY_FILLED"
    assert new["executedQty"] == "0.05000000" and new["cummulativeQuoteQty"] == "3000.00000000"
    assert new["fills"] == [{"price": "60000.00000000", "qty": "0.05000000", "commission": "0.00005000",
                             "commissionAsset": "BTC", "tradeId": new["fills"][0]["tradeId"]}]
    q = o["query"][1]
    assert (q["orderId"], q["status"], q["executedQty"], q["isWorking"]) == (new["orderId"], "PARTIALLY_FILLED", "0.05000000", True)
    assert [x["clientOrderId"] for x in o["open"][1]] == ["hb-1"]
    t = o["trades"][1]
    assert len(t) == 1 and t[0]["isBuyer"] is True and t[0]["isMaker"] is False and t[0]["orderId"] == new["orderId"]
    cx = o["cancel"][1]
    assert (cx["status"], cx["origClientOrderId"], cx["clientOrderId"]) == ("CANCELED", "hb-1", "cx-1")
    # the documented cancel response (DELETE /api/v3/order): no workingTime, no query-only fields
    assert set(cx) == {"symbol", "origClientOrderId", "orderId", "orderListId", "clientOrderId", "transactTime",
                       "price", "origQty", "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status",
                       "timeInForce", "type", "side", "selfTradePreventionMode"}
    assert o["cancel_again"][1] == {"code": -2011, "msg": "Unknown order sent."}
    assert o["query_unknown"][1] == {"code": -2013, "msg": "Order does not exist."}
    # no asks left: the LIMIT_MAKER rests; its default response type is ACK
    assert o["lm"][0] == 200 and set(o["lm"][1]) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert o["tiny"][1] == {"code": -1013, "msg": "Filter failure: NOTIONAL"}
    assert o["tick"][1] == {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}
    assert o["step"][1] == {"code": -1013, "msg": "Filter failure: LOT_SIZE"}
    assert o["no_tif"][1]["code"] == -1102
    assert o["poor"][1] == {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    assert len(o["cancel_all"][1]) == 4
    assert all(x["status"] == "CANCELED" for x in o["cancel_all"][1])
    assert o["cancel_all_none"][1] == {"code": -2011, "msg": "Unknown order sent."}
    usdt_free, usdt_locked = o["balances"]["USDT"]
    assert usdt_locked == 0 and usdt_free == D("10000") - D("3000")
    assert o["balances"]["BTC"] == (D("1") + D("0.05") - D("0.00005"), D(0))


def order_against_maker_ask(ask_qty: str, params: dict):
    """The maker rests SELL ``ask_qty`` @ 60000, then the test account sends ``params``."""
    async def main():
        ex = make_ex()
        async with ex, aiohttp.ClientSession() as s:
            m = Client(s, ex.spot_rest_url, "makerkey", "makersecret")
            await m.signed("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                                                     "timeInForce": "GTC", "quantity": ask_qty, "price": "60000"})
            return await Client(s, ex.spot_rest_url).signed("POST", "/api/v3/order", {"symbol": "BTCUSDT", **params})
    return run(main())


def test_limit_maker_rejected_over_rest_when_crossing():
    st, body, _ = order_against_maker_ask("0.05", {"side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.01",
                                                   "price": "60000"})
    assert (st, body) == (400, {"code": -2010, "msg": "Order would immediately match and take."})


def test_market_order_with_quote_qty_over_rest():
    st, body, _ = order_against_maker_ask("1", {"side": "BUY", "type": "MARKET", "quoteOrderQty": "100",
                                                "newOrderRespType": "RESULT"})
    assert st == 200 and body["status"] == "FILLED" and body["type"] == "MARKET"
    assert body["executedQty"] == "0.00166000" and body["cummulativeQuoteQty"] == "99.60000000"
    assert "fills" not in body


def test_rate_limit_429_retry_after_then_418_ban():
    async def main():
        ex = make_ex(spot_limits=RateLimits(weight_1m=30, orders_10s=100, orders_long=1000,
                                            orders_long_seconds=86400, ban_after=3, ban_seconds=60))
        async with ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.spot_rest_url)
            statuses = []
            headers = []
            for _ in range(40):
                st, body, h = await c.get("/api/v3/depth", symbol="BTCUSDT", limit=5)
                statuses.append(st)
                headers.append((h.get("X-MBX-USED-WEIGHT-1M"), h.get("Retry-After"), body))
            return statuses, headers

    statuses, headers = run(main())
    # weight 5 per call, 30 per minute: the 7th call is over the limit (unless a minute boundary hit)
    first_429 = statuses.index(429)
    assert first_429 >= 6 and all(s == 200 for s in statuses[:first_429])
    used, retry_after, body = headers[first_429]
    assert body["code"] == -1003 and int(retry_after) >= 1
    assert 418 in statuses[first_429:]             # kept hammering while told to back off
    ban = headers[statuses.index(418)]
    assert int(ban[1]) >= 1 and "banned" in ban[2]["msg"]


def test_order_count_limit():
    async def main():
        ex = make_ex(spot_limits=RateLimits(weight_1m=6000, orders_10s=3, orders_long=1000, orders_long_seconds=86400))
        async with ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.spot_rest_url)
            out = []
            for i in range(7):
                out.append(await c.signed("POST", "/api/v3/order", {
                    "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                    "quantity": "0.001", "price": "50000"}))
            return out

    out = run(main())
    # (a 10 s window boundary may fall inside the run: then counting restarts, never exceeds 3)
    assert all(o[0] in (200, 429) for o in out)
    assert all(1 <= int(o[2]["X-MBX-ORDER-COUNT-10S"]) <= 3 for o in out if o[0] == 200)
    rejected = [o for o in out if o[0] == 429]
    assert rejected and all(o[1]["code"] == -1015 and int(o[2]["Retry-After"]) >= 1 for o in rejected)
    assert out[0][0] == 200 and out[0][2]["X-MBX-ORDER-COUNT-10S"] in ("1",)


def test_ed25519_keys_if_available():
    crypto = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    import base64
    priv = crypto.Ed25519PrivateKey.generate()

    async def main():
        ex = EmbeddedExchange(seed=1, pairs=("BTC-USDT",), perp_pairs=(), agent=False)
        ex.create_account("edkey", "", balances={"USDT": D("100")}, ed25519_public_key=priv.public_key())
        async with ex, aiohttp.ClientSession() as s:
            qs = f"timestamp={int(time.time() * 1000)}"
            sig = base64.b64encode(priv.sign(qs.encode())).decode()
            r = await s.get(f"{ex.spot_rest_url}/api/v3/account?{qs}&signature={aiohttp.helpers.quote(sig, safe='')}",
                            headers={"X-MBX-APIKEY": "edkey"})
            ok = (r.status, await r.json())
            bad = base64.b64encode(priv.sign(b"other")).decode()
            r = await s.get(f"{ex.spot_rest_url}/api/v3/account?{qs}&signature={aiohttp.helpers.quote(bad, safe='')}",
                            headers={"X-MBX-APIKEY": "edkey"})
            return ok, (r.status, await r.json())

    ok, bad = run(main())
    assert ok[0] == 200 and ok[1]["balances"][0]["asset"] == "USDT"
    assert bad == (400, {"code": -1022, "msg": "Signature for this request is not valid."})


def test_restart_keeps_state_and_urls():
    async def main():
        ex = make_ex()
        await ex.start()
        try:
            url = ex.spot_rest_url
            async with aiohttp.ClientSession() as s:
                c = Client(s, url)
                placed = await c.signed("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                                 "timeInForce": "GTC", "quantity": "0.001",
                                                                 "price": "50000", "newClientOrderId": "keep-1"})
            await ex.stop()
            down = None
            async with aiohttp.ClientSession() as s:
                try:
                    await s.get(url + "/api/v3/ping")
                except aiohttp.ClientError as e:
                    down = type(e).__name__
            await ex.start()
            async with aiohttp.ClientSession() as s:
                c = Client(s, ex.spot_rest_url)
                q = await c.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "keep-1"})
            return placed, down, url == ex.spot_rest_url, q
        finally:
            await ex.stop()

    placed, down, same_url, q = run(main())
    assert placed[0] == 200 and down is not None and same_url
    assert q[0] == 200 and q[1]["status"] == "NEW"
