"""Malformed input never crashes the embedded exchange: Binance's error codes instead.

A hypothesis fuzz over the order endpoints' parameters (spot and USDⓈ-M), malformed
WebSocket frames, and hand-picked nasty values (NaN, Infinity, exponents, huge numbers,
missing signature).  After each batch the exchange must still answer normally and the
accounts must be consistent (no negative balance, locked funds equal to open orders).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from decimal import Decimal as D
from urllib.parse import urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from hbconnect.sim import EmbeddedExchange, RateLimits

KEY, SECRET = "fuzzkey1", "fuzzsecret1"
# every code the order endpoints may answer for a bad request (never -1000, the "unknown error")
SPOT_CODES = {-1013, -1100, -1102, -1106, -1111, -1115, -1116, -1117, -1121, -2010}
FUT_CODES = {-1100, -1102, -1106, -1111, -1115, -1116, -1117, -1121, -2019, -2022, -4001, -4003,
             -4004, -4005, -4006, -4013, -4014, -4016, -4061, -4116, -4120, -4164, -5022}

NASTY = ["", "0", "-1", "1e5", "1E-8", "NaN", "nan", "Infinity", "-Infinity", "sNaN", "0x10", " 1",
         "1 ", "1\n", "1.", ".5", "1..2", "99999999999999999999.99999999999999999999",
         "9" * 30, "9" * 5000, "0.00000000000000000001", "١٢٣", "１", "\x00", "%", "'; DROP", "true"]
values = st.one_of(st.sampled_from(NASTY), st.text(max_size=40),
                   st.decimals(allow_nan=True, allow_infinity=True).map(str),
                   st.integers(min_value=-10 ** 30, max_value=10 ** 30).map(str))


def order_params(symbols, sides, types, tifs, extra_keys):
    """A valid order, then up to three fields replaced or added with garbage: some orders are
    accepted (and must be handled right), most are rejected (and must get Binance's errors)."""
    def consistent(d: dict) -> dict:
        if d["type"] == "MARKET":
            d.pop("price"), d.pop("timeInForce")
        elif d["type"] == "LIMIT_MAKER":
            d.pop("timeInForce")
        return d

    valid = st.fixed_dictionaries({
        "symbol": st.sampled_from(symbols), "side": st.sampled_from(sides), "type": st.sampled_from(types),
        "timeInForce": st.sampled_from(tifs), "quantity": st.sampled_from(["0.01", "0.002", "0.5"]),
        "price": st.sampled_from(["50000", "40000.5", "1000"])}).map(consistent)
    keys = ["symbol", "side", "type", "timeInForce", "quantity", "price", "newClientOrderId",
            "quoteOrderQty", "newOrderRespType", "selfTradePreventionMode", "recvWindow"] + extra_keys
    garbage = st.dictionaries(st.sampled_from(keys), values, max_size=3)
    return st.tuples(valid, garbage).map(lambda t: {**t[0], **t[1]})


class Harness:
    """One exchange for many examples: each example is a request on the same event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # rate limits out of the way: hundreds of orders in a few seconds are the point here
        self.ex = EmbeddedExchange(seed=3, pairs=("BTC-USDT",), perp_pairs=("BTC-USDT",), agent=False,
                                   funding_interval=None,
                                   spot_limits=RateLimits(10 ** 6, 10 ** 6, 10 ** 7, 86400),
                                   futures_limits=RateLimits(10 ** 6, 10 ** 6, 10 ** 7, 60))
        self.ex.create_account(KEY, SECRET, balances={"USDT": D("100000"), "BTC": D("10")},
                               futures_balances={"USDT": D("100000")})
        self.loop.run_until_complete(self.ex.start())
        self.session = self.loop.run_until_complete(self._session())

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    def close(self) -> None:
        self.loop.run_until_complete(self.session.close())
        self.loop.run_until_complete(self.ex.stop())
        self.loop.close()

    def request(self, method: str, url: str, params: dict, *, sign: bool = True,
                body: bool = False) -> tuple[int, dict]:
        async def go():
            p = dict(params)
            p.setdefault("timestamp", str(int(time.time() * 1000)))
            qs = urlencode(p)
            if sign:
                qs += "&signature=" + hmac.new(SECRET.encode(), qs.encode(), hashlib.sha256).hexdigest()
            headers = {"X-MBX-APIKEY": KEY}
            if body or len(qs) > 6000:     # beyond aiohttp's 8 KiB request line: send as the body
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                r = await self.session.request(method, url, data=qs, headers=headers)
            else:
                # encoded=True: send the bytes that were signed (yarl would re-quote e.g. %2C)
                r = await self.session.request(method, URL(f"{url}?{qs}", encoded=True), headers=headers)
            return r.status, await r.json(content_type=None)
        return self.loop.run_until_complete(asyncio.wait_for(go(), 15))

    def check_consistent(self) -> None:
        """Every accepted order was cancelled at once and nothing could trade: funds are back."""
        acct = self.ex.account_by_key(KEY)
        assert {a: tuple(v) for a, v in acct.spot.balances.items() if any(v)} == \
            {"USDT": (D("100000"), D(0)), "BTC": (D("10"), D(0))}
        assert acct.futures.wallet["USDT"] == D("100000")
        assert not self.ex.spot_engine.open_orders(acct.account_id)
        assert not self.ex.futures_engine.open_orders(acct.account_id)
        st_, body = self.request("GET", self.ex.spot_rest_url + "/api/v3/account", {})
        assert st_ == 200 and body["accountType"] == "SPOT"
        st_, body = self.request("GET", self.ex.futures_rest_url + "/fapi/v2/account", {})
        assert st_ == 200 and body["availableBalance"] == "100000.00000000"


@pytest.fixture(scope="module")
def harness():
    h = Harness()
    yield h
    h.close()


def _check_answer(status: int, body, codes: set[int]) -> None:
    assert status in (200, 400), (status, body)
    if status == 400:
        assert isinstance(body, dict) and body.get("code") in codes, body
        assert isinstance(body.get("msg"), str) and body["msg"]
    else:
        assert isinstance(body, dict) and isinstance(body.get("orderId"), int), body


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


VENUES = {
    "spot": ("/api/v3/order", ["LIMIT", "MARKET", "LIMIT_MAKER"], ["GTC", "IOC", "FOK"], [], SPOT_CODES),
    "futures": ("/fapi/v1/order", ["LIMIT", "MARKET"], ["GTC", "IOC", "FOK", "GTX"],
                ["positionSide", "reduceOnly"], FUT_CODES),
}


@pytest.mark.parametrize("market", ["spot", "futures"])
def test_order_endpoint_fuzz(harness, market):
    """POST (then GET and DELETE) /order with fuzzed parameters: 200 or a Binance error, never a
    500; accepted orders are cancelled at once, so the account must end as it began."""
    path, types, tifs, extra, codes = VENUES[market]
    url = (harness.ex.spot_rest_url if market == "spot" else harness.ex.futures_rest_url) + path
    codes = codes | {-1021, -1131}

    accepted = []

    @FUZZ
    @given(order_params(["BTCUSDT"], ["BUY", "SELL"], types, tifs, extra), st.booleans())
    def fuzz(params, in_body):
        status, body = harness.request("POST", url, params, body=in_body)
        _check_answer(status, body, codes)
        if status == 200:       # keep the book from filling up: cancel what rested
            accepted.append(body["orderId"])
            harness.request("DELETE", url, {"symbol": "BTCUSDT", "orderId": str(body["orderId"])})
        # the same garbage (plus id fields) on query and cancel: errors, never a crash
        ids = {**params, "orderId": params.get("price", ""), "origClientOrderId": params.get("side", "")}
        for method, code in (("GET", -2013), ("DELETE", -2011)):
            status, body = harness.request(method, url, ids, body=in_body)
            _check_answer(status, body, codes | {code})

    fuzz()
    assert accepted, "the fuzz never produced a valid order: it would test only the rejections"
    harness.check_consistent()


@pytest.mark.parametrize("market", ["spot", "futures"])
def test_nasty_values_in_every_numeric_field(harness, market):
    if market == "spot":
        url = harness.ex.spot_rest_url + "/api/v3/order"
        base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.01", "price": "1000"}
        codes = SPOT_CODES
    else:
        url = harness.ex.futures_rest_url + "/fapi/v1/order"
        base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.01", "price": "1000"}
        codes = FUT_CODES
    for field in ("quantity", "price"):
        for bad in ("NaN", "Infinity", "-1", "1e3", "1E-8", "9" * 5000, "0x10", "１"):
            status, body = harness.request("POST", url, {**base, field: bad})
            assert status == 400 and body["code"] == -1100, (field, bad, body)
            assert field in body["msg"]
    for bad in ("NaN", "-5", "1e3", "9" * 5000):
        status, body = harness.request("GET", url, {"symbol": "BTCUSDT", "orderId": bad})
        assert status == 400 and body["code"] == -1100 and "orderId" in body["msg"], (bad, body)
    # recvWindow / timestamp garbage: Binance's -1131 / -1102 / -1021, never a 500
    for rw in ("NaN", "Infinity", "-1", "60001"):
        status, body = harness.request("POST", url, {**base, "recvWindow": rw})
        assert status == 400 and body["code"] == -1131, (rw, body)
    status, body = harness.request("POST", url, {**base, "timestamp": "abc"})
    assert status == 400 and body["code"] == -1102
    # numerals Python's int() reads but Binance does not: -1100 (they were accepted)
    now = int(time.time() * 1000)
    fullwidth = str(now).translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    arabic = str(now).translate({ord(d): 0x0660 + int(d) for d in "0123456789"})
    for bad in (f"{now:_}", fullwidth, arabic):
        status, body = harness.request("POST", url, {**base, "timestamp": bad})
        assert status == 400 and body["code"] == -1100 and "timestamp" in body["msg"], (bad, body)
    status, body = harness.request("POST", url, {**base, "recvWindow": "5_000"})
    assert status == 400 and body["code"] == -1100 and "recvWindow" in body["msg"], body
    status, body = harness.request("POST", url, {**base, "timestamp": "9" * 5000})
    assert status == 400 and body["code"] in (-1102, -1021)
    # no signature at all
    status, body = harness.request("POST", url, base, sign=False)
    assert status == 400 and body["code"] == -1102 and "signature" in body["msg"]
    assert body["code"] in codes


def test_malformed_websocket_frames_keep_the_connection(harness):
    """Bad JSON, deep nesting, wrong types: an error answer, and the socket keeps working."""
    ex = harness.ex

    async def go():
        out = []
        for base in (ex.spot_ws_url, ex.futures_ws_url):
            ws = await harness.session.ws_connect(base + "/ws")
            frames = ["{not json", "[" * 100_000 + "]" * 100_000, "[]", "3", json.dumps({"method": 5}),
                      json.dumps({"method": "SUBSCRIBE", "params": "btcusdt@trade", "id": 1}),
                      json.dumps({"method": "SUBSCRIBE", "params": [1, 2], "id": 2}),
                      json.dumps({"method": "SUBSCRIBE", "params": ["nope@nothing"], "id": 3}),
                      json.dumps({"method": "SET_PROPERTY", "params": None, "id": 4})]
            for i, frame in enumerate(frames):
                await ws.send_str(frame)
                msg = await asyncio.wait_for(ws.receive_json(), 5)
                out.append(msg)
                if i % 4 == 3:
                    await asyncio.sleep(1.05)      # stay under the incoming-message rate limit
            await asyncio.sleep(1.05)
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 9}))
            out.append(await asyncio.wait_for(ws.receive_json(), 5))
            await ws.close()
        return out

    out = harness.loop.run_until_complete(asyncio.wait_for(go(), 40))
    per_venue = len(out) // 2
    for msgs in (out[:per_venue], out[per_venue:]):
        assert all("error" in m for m in msgs[:-1]), msgs
        assert msgs[-1] == {"result": [], "id": 9}


def test_ws_api_malformed_calls(harness):
    ex = harness.ex

    async def go():
        ws = await harness.session.ws_connect(ex.spot_ws_url + "/ws-api/v3")
        out = []
        for frame in ("nope", "[" * 100_000, json.dumps([1]),
                      json.dumps({"id": 1, "method": "userDataStream.unsubscribe",
                                  "params": {"subscriptionId": 1e400}}),
                      json.dumps({"id": 2, "method": "userDataStream.unsubscribe",
                                  "params": {"subscriptionId": "x"}}),
                      json.dumps({"id": 3, "method": "userDataStream.subscribe.signature",
                                  "params": {"apiKey": KEY, "timestamp": 1}}),
                      json.dumps({"id": 4, "method": "ping"})):
            await ws.send_str(frame)
            out.append(await asyncio.wait_for(ws.receive_json(), 5))
        await ws.close()
        return out

    out = harness.loop.run_until_complete(asyncio.wait_for(go(), 20))
    assert [m["status"] for m in out] == [400, 400, 400, 400, 400, 400, 200]
    assert out[5]["error"]["code"] == -1102 and "signature" in out[5]["error"]["msg"]
    assert out[-1]["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
    assert {k: v for k, v in out[-1].items() if k != "rateLimits"} == {"id": 4, "status": 200, "result": {}}


def test_oversized_body_is_an_error_answer_not_a_crash(harness):
    """A body over the 1 MiB limit: a JSON error with 413, and the next request is served."""
    async def go():
        r = await harness.session.post(harness.ex.spot_rest_url + "/api/v3/order", data=b"a=" + b"1" * (2 << 20),
                                       headers={"X-MBX-APIKEY": KEY,
                                                "Content-Type": "application/x-www-form-urlencoded"})
        return r.status, await r.json(content_type=None)

    status, body = harness.loop.run_until_complete(asyncio.wait_for(go(), 15))
    assert status == 413 and body["code"] == -1000
    harness.check_consistent()
