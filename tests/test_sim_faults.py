"""Each fault knob of the embedded exchange, observed from an independent client over loopback."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from decimal import Decimal as D
from urllib.parse import urlencode

import aiohttp

from hbconnect.sim import EmbeddedExchange, FaultConfig
from hbconnect.sim.faults import FaultInjector

KEY, SECRET = "faultkey", "faultsecret"


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def signed(s, base, method, path, params, timeout=None):
    params = dict(params, timestamp=int(time.time() * 1000))
    qs = urlencode(params)
    sig = hmac.new(SECRET.encode(), qs.encode(), hashlib.sha256).hexdigest()
    kw = {"timeout": aiohttp.ClientTimeout(total=timeout)} if timeout else {}
    r = await s.request(method, f"{base}{path}?{qs}&signature={sig}", headers={"X-MBX-APIKEY": KEY}, **kw)
    return r.status, await r.json(), r.headers


def order(cid, price="50000"):
    return {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.001", "price": price, "newClientOrderId": cid}


def make_ex(**kw):
    kw.setdefault("agent", False)
    ex = EmbeddedExchange(seed=21, pairs=("BTC-USDT",), perp_pairs=(), **kw)
    ex.create_account(KEY, SECRET, balances={"USDT": D("100000"), "BTC": D("10")})
    return ex


async def new_listen_key(s, ex):
    r = await s.post(ex.spot_rest_url + "/api/v3/userDataStream", headers={"X-MBX-APIKEY": KEY})
    return (await r.json())["listenKey"]


async def user_ws(s, ex):
    """A new listenKey and a raw user-stream socket on it."""
    lk = await new_listen_key(s, ex)
    return lk, await s.ws_connect(f"{ex.spot_ws_url}/ws/{lk}")


async def collect(ws, seconds):
    out, end = [], time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            msg = await asyncio.wait_for(ws.receive(), left)
        except asyncio.TimeoutError:
            break
        if msg.type != aiohttp.WSMsgType.TEXT:
            out.append(("closed", msg.type))
            break
        out.append(json.loads(msg.data))
    return out


def test_injector_is_seeded_and_reproducible():
    cfg = FaultConfig(seed=5)
    cfg.set_ws("all", drop=0.3, duplicate=0.2, delay=0.1)
    a = [FaultInjector(cfg).frame("market") for _ in range(1)]
    i1, i2 = FaultInjector(cfg), FaultInjector(cfg)
    seq1 = [i1.frame("market") for _ in range(200)]
    seq2 = [i2.frame("market") for _ in range(200)]
    assert seq1 == seq2 and a[0] == seq1[0]
    assert {"send", "drop", "duplicate", "delay"} <= set(seq1)
    assert 30 <= seq1.count("drop") <= 90
    cfg.clear()
    assert FaultInjector(cfg).frame("market") == "send" and cfg.drop == {"market": 0.0, "user": 0.0}


def test_dropped_market_frames_but_user_frames_still_flow():
    async def main():
        ex = make_ex(agent=True, agent_interval=0.03)
        async with ex, aiohttp.ClientSession() as s:
            lk = await new_listen_key(s, ex)
            ws = await s.ws_connect(f"{ex.spot_ws_url}/stream?streams=btcusdt@depth@100ms/{lk}")
            normal = await collect(ws, 0.4)
            ex.faults.set_ws("market", drop=1.0)
            await collect(ws, 0.15)                 # frames already queued
            await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("d-1"))
            dropped = await collect(ws, 0.5)
            return normal, dropped, dict(ex.injector.counts)

    normal, dropped, counts = run(main())
    assert any(f["stream"].endswith("@depth@100ms") for f in normal)
    assert not [f for f in dropped if f["stream"].endswith("@depth@100ms")]
    assert [f["data"]["x"] for f in dropped if f["data"].get("e") == "executionReport"] == ["NEW"]
    assert counts["ws_market_drop"] >= 2


def test_duplicated_and_delayed_user_frames():
    async def main():
        ex = make_ex()
        async with ex, aiohttp.ClientSession() as s:
            lk, ws = await user_ws(s, ex)
            ex.faults.set_ws("user", duplicate=1.0)
            await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("dup-1"))
            dups = await collect(ws, 0.4)
            ex.faults.set_ws("user", duplicate=0.0, delay=1.0)
            ex.faults.delay_seconds = 0.4
            t0 = time.monotonic()
            await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("dly-1"))
            arrivals = []
            while time.monotonic() - t0 < 3 and not arrivals:
                msg = await asyncio.wait_for(ws.receive(), 3)
                arrivals.append((time.monotonic() - t0, json.loads(msg.data)))
            return dups, arrivals

    dups, arrivals = run(main())
    reports = [f for f in dups if f["e"] == "executionReport"]
    assert len(reports) == 2 and reports[0] == reports[1]
    # the first frame after the order is its executionReport, held back by the delay
    elapsed, frame = arrivals[0]
    assert frame["e"] == "executionReport" and frame["c"] == "dly-1"
    assert elapsed >= 0.39


def test_socket_close_now_and_with_probability():
    async def main():
        ex = make_ex(agent=True, agent_interval=0.03)
        async with ex, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(f"{ex.spot_ws_url}/ws/btcusdt@depth@100ms")
            await collect(ws, 0.3)
            n = ex.close_sockets("market")
            closed_now = await collect(ws, 1.0)
            ws2 = await s.ws_connect(f"{ex.spot_ws_url}/ws/btcusdt@depth@100ms")
            ex.faults.set_ws("market", close=1.0)
            closed_prob = await collect(ws2, 2.0)
            return n, closed_now, closed_prob, ws.closed, ws2.closed

    n, closed_now, closed_prob, c1, c2 = run(main())
    assert n == 1 and c1 and c2
    assert closed_now[-1][0] == "closed"
    assert closed_prob and closed_prob[-1][0] == "closed"
    assert not [f for f in closed_prob if isinstance(f, dict)]


def test_http_429_with_retry_after_and_5xx_do_nothing():
    async def main():
        ex = make_ex()
        async with ex, aiohttp.ClientSession() as s:
            ex.faults.http_429 = 1.0
            ex.faults.retry_after_seconds = 7
            r429 = await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("r-1"))
            ping = await s.get(ex.spot_rest_url + "/api/v3/ping")       # exempt
            ex.faults.http_429 = 0.0
            ex.faults.http_5xx = 1.0
            r5 = await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("r-2"))
            ex.faults.http_5xx = 0.0
            ok = await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("r-3"))
            return r429, ping.status, r5, ok, ex.order(KEY, "BTC-USDT", "r-1"), ex.order(KEY, "BTC-USDT", "r-2")

    r429, ping, r5, ok, o1, o2 = run(main())
    assert r429[0] == 429 and r429[1]["code"] == -1003 and r429[2]["Retry-After"] == "7"
    assert ping == 200
    assert r5[0] == 503
    assert ok[0] == 200
    assert o1 is None and o2 is None


def test_order_timeout_where_accepted_and_where_not():
    async def main():
        ex = make_ex()
        ex.faults.hang_seconds = 3.0
        async with ex, aiohttp.ClientSession() as s:
            out = {}
            ex.faults.timeout_accepted = 1.0
            t0 = time.monotonic()
            try:
                await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("t-acc"), timeout=0.5)
                out["acc"] = "answered"
            except asyncio.TimeoutError:
                out["acc"] = "timeout"
            out["acc_time"] = time.monotonic() - t0
            ex.faults.timeout_accepted = 0.0
            ex.faults.timeout_rejected = 1.0
            try:
                await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("t-rej"), timeout=0.5)
                out["rej"] = "answered"
            except asyncio.TimeoutError:
                out["rej"] = "timeout"
            ex.faults.timeout_rejected = 0.0
            # resolving by client order id, as a connector must
            out["q_acc"] = await signed(s, ex.spot_rest_url, "GET", "/api/v3/order",
                                        {"symbol": "BTCUSDT", "origClientOrderId": "t-acc"})
            out["q_rej"] = await signed(s, ex.spot_rest_url, "GET", "/api/v3/order",
                                        {"symbol": "BTCUSDT", "origClientOrderId": "t-rej"})
            # a cancel whose answer is lost still cancels
            ex.faults.timeout_accepted = 1.0
            try:
                await signed(s, ex.spot_rest_url, "DELETE", "/api/v3/order",
                             {"symbol": "BTCUSDT", "origClientOrderId": "t-acc"}, timeout=0.5)
            except asyncio.TimeoutError:
                pass
            ex.faults.timeout_accepted = 0.0
            out["after_cancel"] = ex.order(KEY, "BTC-USDT", "t-acc").status
            return out

    o = run(main())
    assert o["acc"] == "timeout" and o["rej"] == "timeout"
    assert o["acc_time"] < 2.0
    assert o["q_acc"][0] == 200 and o["q_acc"][1]["status"] == "NEW"
    assert o["q_rej"][1] == {"code": -2013, "msg": "Order does not exist."}
    assert o["after_cancel"] == "CANCELED"


def test_order_5xx_where_accepted_and_where_not():
    async def main():
        ex = make_ex()
        async with ex, aiohttp.ClientSession() as s:
            ex.faults.error_5xx_accepted = 1.0
            acc = await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("x-acc"))
            ex.faults.error_5xx_accepted = 0.0
            ex.faults.error_5xx_rejected = 1.0
            rej = await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("x-rej"))
            ex.faults.error_5xx_rejected = 0.0
            return acc, rej, ex.order(KEY, "BTC-USDT", "x-acc"), ex.order(KEY, "BTC-USDT", "x-rej"), ex.balances(KEY)

    acc, rej, o_acc, o_rej, bal = run(main())
    assert acc[0] == 503 and acc[1]["code"] == -1007
    assert rej[0] == 503 and rej[1]["code"] == -1008
    assert o_acc is not None and o_acc.status == "NEW"
    assert o_rej is None
    assert bal["USDT"][1] == D("50")           # only the accepted order locks funds


def test_listen_key_expiry_on_its_own_clock():
    async def main():
        ex = make_ex()
        async with ex, aiohttp.ClientSession() as s:
            lk, ws = await user_ws(s, ex)
            # make the key due (as if 60 minutes had passed without keepalive)
            ex.spot.listen_keys[lk].expires_ms = int(time.time() * 1000) + 100
            frames = await collect(ws, 1.0)
            new_key = await new_listen_key(s, ex)
            return lk, frames, new_key

    lk, frames, new_key = run(main())
    assert frames[0]["e"] == "listenKeyExpired" and frames[0]["listenKey"] == lk
    assert frames[-1][0] == "closed"
    assert new_key != lk


def test_slow_responses():
    async def main():
        ex = make_ex()
        async with ex, aiohttp.ClientSession() as s:
            ex.faults.slow = 1.0
            ex.faults.slow_seconds = 0.3
            t0 = time.monotonic()
            slow = await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("slow-1"))
            slow_t = time.monotonic() - t0
            ex.faults.slow = 0.0
            t0 = time.monotonic()
            fast = await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("fast-1"))
            return slow, slow_t, fast, time.monotonic() - t0, ex.injector.counts.get("http_slow")

    slow, slow_t, fast, fast_t, n = run(main())
    assert slow[0] == 200 and fast[0] == 200
    assert slow_t >= 0.3 and n == 1         # the second request was not slowed (count stays 1)


def test_listen_key_keepalive_extends_the_deadline():
    async def main():
        ex = make_ex()
        async with ex, aiohttp.ClientSession() as s:
            h = {"X-MBX-APIKEY": KEY}
            lk, ws = await user_ws(s, ex)
            ex.spot.listen_keys[lk].expires_ms = int(time.time() * 1000) + 300
            r = await s.put(ex.spot_rest_url + f"/api/v3/userDataStream?listenKey={lk}", headers=h)
            frames = await collect(ws, 0.6)          # past the old deadline
            left_ms = ex.spot.listen_keys[lk].expires_ms - int(time.time() * 1000)
            await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", order("alive-1"))
            alive = await collect(ws, 0.3)
            return r.status, frames, left_ms, alive

    status, frames, left_ms, alive = run(main())
    assert status == 200 and frames == []
    assert 59 * 60_000 < left_ms <= 60 * 60_000
    assert alive and alive[0]["e"] == "executionReport" and alive[0]["c"] == "alive-1"
