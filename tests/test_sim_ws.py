"""The embedded exchange's WebSocket streams over loopback: depth ids, trades, user streams."""
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

from hbconnect.sim import EmbeddedExchange

KEY, SECRET = "wskey", "wssecret"


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def signed(s, base, method, path, params, key=KEY, secret=SECRET):
    params = dict(params, timestamp=int(time.time() * 1000))
    qs = urlencode(params)
    sig = hmac.new(secret.encode(), qs.encode(), hashlib.sha256).hexdigest()
    r = await s.request(method, f"{base}{path}?{qs}&signature={sig}", headers={"X-MBX-APIKEY": key})
    return r.status, await r.json()


async def recv_json(ws, timeout=3.0):
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def collect(ws, seconds):
    out = []
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return out
        try:
            msg = await asyncio.wait_for(ws.receive(), left)
        except asyncio.TimeoutError:
            return out
        if msg.type != aiohttp.WSMsgType.TEXT:
            return out
        out.append(json.loads(msg.data))


def apply(book, levels):
    for p, q in levels:
        if D(q) == 0:
            book.pop(D(p), None)
        else:
            book[D(p)] = D(q)


async def sync_and_compare(ex, s, rest, ws_base, path, stream, futures, settle=0.6, flow=1.0):
    """Binance's local order book procedure; returns (#events applied, local == REST at rest).

    ``flow``: seconds of live flow collected after the snapshot (longer for slower streams)."""
    ws = await s.ws_connect(f"{ws_base}/stream?streams={stream}")
    buffered = await collect(ws, 0.35)
    r = await s.get(f"{rest}{path}", params={"symbol": "BTCUSDT", "limit": 1000})
    snap = await r.json()
    buffered += await collect(ws, flow)
    ex.agent_paused = True
    buffered += await collect(ws, settle)      # the last diffs of the flow
    await ws.close()
    last = snap["lastUpdateId"]
    bids, asks = {}, {}
    apply(bids, snap["bids"])
    apply(asks, snap["asks"])
    applied, prev_u = 0, None
    for frame in buffered:
        assert frame["stream"] == stream
        ev = frame["data"]
        assert ev["e"] == "depthUpdate" and ev["s"] == "BTCUSDT"
        if ev["u"] <= last:
            if futures and prev_u is not None:
                assert ev["pu"] == prev_u
            prev_u = ev["u"]
            continue
        if applied == 0:
            assert ev["U"] <= last + 1 <= ev["u"], (ev["U"], last, ev["u"])
        else:
            assert ev["U"] == prev_u + 1
            if futures:
                assert ev["pu"] == prev_u
        apply(bids, ev["b"])
        apply(asks, ev["a"])
        prev_u = ev["u"]
        applied += 1
    r = await s.get(f"{rest}{path}", params={"symbol": "BTCUSDT", "limit": 1000})
    final = await r.json()
    fb, fa = {}, {}
    apply(fb, final["bids"])
    apply(fa, final["asks"])
    ex.agent_paused = False
    return applied, prev_u, final["lastUpdateId"], bids == fb and asks == fa


@pytest.mark.parametrize("market,stream", [("spot", "btcusdt@depth@100ms"), ("spot", "btcusdt@depth"),
                                           ("futures", "btcusdt@depth@100ms"), ("futures", "btcusdt@depth")])
def test_depth_stream_ids_continue_the_rest_snapshot(market, stream):
    """Binance's local-book procedure works on every diff stream: spot ``U``/``u`` continue the REST
    snapshot's lastUpdateId, futures chain each event's ``pu`` to the previous ``u``."""
    futures = market == "futures"

    async def main():
        async with EmbeddedExchange(seed=12 if futures else 11, pairs=() if futures else ("BTC-USDT",),
                                    perp_pairs=("BTC-USDT",) if futures else (), agent_interval=0.03,
                                    funding_interval=None) as ex, aiohttp.ClientSession() as s:
            if futures:
                # the plain futures stream pushes every 250 ms: collect long enough for as many pushes
                return await sync_and_compare(ex, s, ex.futures_rest_url, ex.futures_ws_url, "/fapi/v1/depth",
                                              stream, futures=True, flow=2.5 if stream.endswith("@depth") else 1.0)
            # the plain spot stream is the 1000 ms one: wait longer for its last diff
            return await sync_and_compare(ex, s, ex.spot_rest_url, ex.spot_ws_url, "/api/v3/depth",
                                          stream, futures=False, settle=1.3 if stream.endswith("@depth") else 0.6)

    applied, last_u, final_id, same = run(main())
    assert applied >= (1 if stream.endswith("@depth") and not futures else 5)
    assert last_u == final_id
    assert same


def test_seeded_from_recorded_binance_book():
    ex = EmbeddedExchange(seed=1, pairs=("BTC-USDT",), perp_pairs=(), seed_from_fixture=True)
    ex._create_agent_accounts()
    from hbconnect.sim.agent import MarketMakerAgent, load_fixture_snapshot
    snap = load_fixture_snapshot(ex._fixture)
    assert snap is not None and snap["lastUpdateId"] == 499869752
    agent = MarketMakerAgent(ex.spot_engine, "agent-spot-maker", "agent-spot-taker", fixture=ex._fixture, levels=20)
    agent.seed_books()
    book = ex.spot_engine.books["BTCUSDT"]
    # the real book's relative gaps survive the re-scaling: compare the first 5 bid gaps in bps
    real = [float(p) for p, _ in snap["bids"][:6]]
    mid_real = (float(snap["bids"][0][0]) + float(snap["asks"][0][0])) / 2
    ours = [float(p) for p, _ in book.depth("BUY", 6)]
    mid_ours = 60000.0
    for a, b in zip(real, ours):
        assert abs((a / mid_real) - (b / mid_ours)) < 2e-6
    assert book.best("BUY") < book.best("SELL")


def test_market_streams_raw_and_live_subscribe():
    async def main():
        async with EmbeddedExchange(seed=2, pairs=("BTC-USDT", "ETH-USDT"), perp_pairs=(),
                                    agent_interval=0.03) as ex, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(ex.spot_ws_url + "/ws")
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@trade", "ethusdt@bookTicker"], "id": 7}))
            frames = await collect(ws, 1.5)
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}))
            await ws.send_str(json.dumps({"method": "UNSUBSCRIBE", "params": ["ethusdt@trade", "ethusdt@bookTicker"], "id": 9}))
            after = await collect(ws, 0.6)
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["nosuch@trade"], "id": 10}))
            await ws.send_str("not json")
            errors = await collect(ws, 0.3)
            raw = await s.ws_connect(ex.spot_ws_url + "/ws/btcusdt@depth@100ms")
            raw_frames = await collect(raw, 0.5)
            await ws.close()
            await raw.close()
            r = await s.get(ex.spot_ws_url.replace("ws://", "http://") + "/ws/bogus@nothing")
            return frames, after, errors, raw_frames, r.status

    frames, after, errors, raw_frames, bad_status = run(main())
    assert frames[0] == {"result": None, "id": 7}
    trades = [f for f in frames if f.get("e") == "trade"]
    tickers = [f for f in frames if "b" in f and "B" in f and "u" in f]
    assert trades and all(t["s"] == "ETHUSDT" and D(t["q"]) > 0 for t in trades)
    assert tickers and all(D(t["b"]) < D(t["a"]) for t in tickers)
    assert {"result": ["ethusdt@bookTicker", "ethusdt@trade"], "id": 8} in after
    assert {"result": None, "id": 9} in after
    tail = after[after.index({"result": None, "id": 9}) + 1:]
    assert not [f for f in tail if f.get("e") == "trade"]
    assert errors[0]["id"] == 10 and errors[0]["error"]["code"] == 2
    assert errors[1]["error"]["code"] == 3
    assert raw_frames and all(f["e"] == "depthUpdate" for f in raw_frames)    # raw: no stream wrapper
    assert bad_status == 400


def test_spot_user_stream_events_and_listen_key_lifecycle():
    async def main():
        ex = EmbeddedExchange(seed=3, pairs=("BTC-USDT",), perp_pairs=(), agent=False)
        ex.create_account(KEY, SECRET, balances={"USDT": D("10000")})
        ex.create_account("mk", "ms", balances={"BTC": D("10")})
        async with ex, aiohttp.ClientSession() as s:
            base = ex.spot_rest_url
            r = await s.post(base + "/api/v3/userDataStream", headers={"X-MBX-APIKEY": KEY})
            lk = (await r.json())["listenKey"]
            r = await s.post(base + "/api/v3/userDataStream", headers={"X-MBX-APIKEY": KEY})
            same = (await r.json())["listenKey"] == lk
            ws = await s.ws_connect(f"{ex.spot_ws_url}/ws/{lk}")
            await signed(s, base, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                            "timeInForce": "GTC", "quantity": "0.1", "price": "60000",
                                                            "newClientOrderId": "u-1"})
            await signed(s, base, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                                                            "timeInForce": "GTC", "quantity": "0.04", "price": "59000"},
                         key="mk", secret="ms")
            await signed(s, base, "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "u-1"})
            ex.deposit(KEY, "USDT", D("5"))
            events = await collect(ws, 0.5)
            r = await s.put(base + f"/api/v3/userDataStream?listenKey={lk}", headers={"X-MBX-APIKEY": KEY})
            keepalive = (r.status, await r.json())
            ex.expire_listen_keys(KEY)
            expired = await collect(ws, 0.5)
            closed = ws.closed
            r = await s.put(base + f"/api/v3/userDataStream?listenKey={lk}", headers={"X-MBX-APIKEY": KEY})
            after = (r.status, await r.json())
            return same, events, keepalive, expired, closed, after

    same, events, keepalive, expired, closed, after = run(main())
    assert same
    reports = [e for e in events if e["e"] == "executionReport"]
    assert [(e["x"], e["X"]) for e in reports] == [("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"),
                                                  ("CANCELED", "CANCELED")]
    new, trade, cancel = reports
    assert new["c"] == "u-1" and new["S"] == "BUY" and new["q"] == "0.10000000" and new["t"] == -1
    # the resting BUY at 60000 is the maker: price 60000, fee in BTC
    assert (trade["l"], trade["L"], trade["z"], trade["m"], trade["N"]) == \
        ("0.04000000", "60000.00000000", "0.04000000", True, "BTC")
    assert D(trade["n"]) == D("0.04") * D("0.001") and trade["t"] > 0
    assert cancel["C"] == "u-1" and cancel["c"] != "u-1"
    positions = [e for e in events if e["e"] == "outboundAccountPosition"]
    assert positions and {b["a"] for b in positions[-1]["B"]} == {"USDT"}
    final = positions[-1]["B"][0]
    assert D(final["l"]) == 0
    bal = [e for e in events if e["e"] == "balanceUpdate"]
    assert bal == [{"e": "balanceUpdate", "E": bal[0]["E"], "a": "USDT", "d": "5.00000000", "T": bal[0]["T"]}]
    assert keepalive == (200, {})
    assert expired[0]["e"] == "listenKeyExpired"
    assert closed
    assert after == (400, {"code": -1125, "msg": "This listenKey does not exist."})


def test_futures_user_stream_order_and_account_updates():
    async def main():
        ex = EmbeddedExchange(seed=4, pairs=(), perp_pairs=("BTC-USDT",), agent=False, funding_interval=None)
        ex.create_account(KEY, SECRET, futures_balances={"USDT": D("10000")})
        ex.create_account("mk", "ms", futures_balances={"USDT": D("1000000")})
        async with ex, aiohttp.ClientSession() as s:
            base = ex.futures_rest_url
            r = await s.post(base + "/fapi/v1/listenKey", headers={"X-MBX-APIKEY": KEY})
            lk = (await r.json())["listenKey"]
            ws = await s.ws_connect(f"{ex.futures_ws_url}/private/ws?listenKey={lk}")
            await signed(s, base, "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                                                             "timeInForce": "GTC", "quantity": "0.01", "price": "60000"},
                         key="mk", secret="ms")
            await signed(s, base, "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                             "quantity": "0.01", "newClientOrderId": "f-1"})
            ex.set_mark_price("BTC-USDT", D("61000"))
            ex.run_funding()
            await signed(s, base, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 7})
            events = await collect(ws, 0.5)
            r = await s.put(base + "/fapi/v1/listenKey", headers={"X-MBX-APIKEY": KEY})
            keep = await r.json()
            ex.expire_listen_keys(KEY)
            expired = await collect(ws, 0.5)
            return events, keep, lk, expired

    events, keep, lk, expired = run(main())
    orders = [e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE"]
    assert [(o["x"], o["X"]) for o in orders] == [("NEW", "NEW"), ("TRADE", "FILLED")]
    t = orders[1]
    assert (t["c"], t["l"], t["L"], t["N"], t["m"], t["ps"]) == ("f-1", "0.010", "60000.0", "USDT", False, "BOTH")
    assert D(t["n"]) == D("0.01") * 60000 * D("0.0005")
    acc = [e["a"] for e in events if e["e"] == "ACCOUNT_UPDATE"]
    assert acc[0]["m"] == "ORDER"
    assert acc[0]["P"] == [{"s": "BTCUSDT", "pa": "0.010", "ep": "60000.00000000", "bep": "60000.00000000",
                            "cr": "0", "up": "0.00000000", "mt": "cross", "iw": "0", "ps": "BOTH"}]
    assert D(acc[0]["B"][0]["wb"]) == D("10000") - D("0.3")
    funding = acc[-1]
    assert funding["m"] == "FUNDING_FEE" and funding["P"] == []
    config = [e for e in events if e["e"] == "ACCOUNT_CONFIG_UPDATE"]
    assert [c["ac"] for c in config] == [{"s": "BTCUSDT", "l": 7}]
    assert D(funding["B"][0]["bc"]) == -(D("0.01") * 61000 * D("0.0001"))
    assert keep == {"listenKey": lk}
    assert expired[0] == {"e": "listenKeyExpired", "E": expired[0]["E"], "listenKey": lk}


def test_protocol_pings_incoming_rate_limit_and_tickers():
    async def main():
        ex = EmbeddedExchange(seed=6, pairs=("BTC-USDT",), perp_pairs=("BTC-USDT",), agent_interval=0.03,
                              ping_interval=0.3, funding_interval=None)
        async with ex, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(ex.spot_ws_url + "/ws", autoping=False)
            msg = await asyncio.wait_for(ws.receive(), 3)
            got_ping = msg.type == aiohttp.WSMsgType.PING
            await ws.pong(msg.data)
            flood = await s.ws_connect(ex.spot_ws_url + "/ws")
            for i in range(8):             # Binance spot allows 5 incoming messages per second
                await flood.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
            frames = await collect(flood, 1.0)
            t24 = await (await s.get(ex.spot_rest_url + "/api/v3/ticker/24hr", params={"symbol": "BTCUSDT"})).json()
            tp = await (await s.get(ex.futures_rest_url + "/fapi/v1/ticker/price", params={"symbol": "BTCUSDT"})).json()
            await ws.close()
            return got_ping, frames, flood.closed, t24, tp

    got_ping, frames, closed, t24, tp = run(main())
    assert got_ping
    assert closed and len(frames) <= 5
    assert t24["symbol"] == "BTCUSDT" and D(t24["lastPrice"]) > 0 and t24["count"] >= 0
    assert tp["symbol"] == "BTCUSDT" and D(tp["price"]) > 0


def test_websocket_api_user_data_subscription():
    async def main():
        ex = EmbeddedExchange(seed=8, pairs=("BTC-USDT",), perp_pairs=(), agent=False)
        ex.create_account(KEY, SECRET, balances={"USDT": D("1000")})
        async with ex, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(ex.spot_ws_url + "/ws-api/v3")
            ts = int(time.time() * 1000)
            payload = f"apiKey={KEY}&timestamp={ts}"          # parameters sorted by name
            sig = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
            await ws.send_str(json.dumps({"id": "bad", "method": "userDataStream.subscribe.signature",
                                          "params": {"apiKey": KEY, "timestamp": ts, "signature": ("1" if sig[0] == "0" else "0") + sig[1:]}}))
            bad = await recv_json(ws)
            await ws.send_str(json.dumps({"id": "s1", "method": "userDataStream.subscribe.signature",
                                          "params": {"apiKey": KEY, "timestamp": ts, "signature": sig}}))
            ok = await recv_json(ws)
            await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
                "price": "50000", "newClientOrderId": "api-1"})
            events = await collect(ws, 0.4)
            await ws.send_str(json.dumps({"id": 3, "method": "userDataStream.unsubscribe", "params": {"subscriptionId": 0}}))
            unsub = await recv_json(ws)
            ended = await recv_json(ws)      # "eventStreamTerminated is sent ... after ... unsubscribe"
            await ws.send_str(json.dumps({"id": "s2", "method": "userDataStream.subscribe.signature",
                                          "params": {"apiKey": KEY, "timestamp": ts, "signature": sig}}))
            again = await recv_json(ws)
            ex.expire_listen_keys(KEY)
            terminated = await recv_json(ws)
            await ws.close()
            return bad, ok, events, unsub, ended, again, terminated

    bad, ok, events, unsub, ended, again, terminated = run(main())
    assert ended == {"subscriptionId": 0, "event": {"e": "eventStreamTerminated", "E": ended["event"]["E"]}}
    for answer in (bad, ok, unsub, again):  # the WebSocket API's rateLimits: request weight used
        weight = answer.pop("rateLimits")
        assert [(r["rateLimitType"], r["interval"], r["limit"]) for r in weight] == [("REQUEST_WEIGHT", "MINUTE", 6000)]
        assert weight[0]["count"] >= 1
    assert again["result"] == {"subscriptionId": 1}
    assert terminated["subscriptionId"] == 1 and terminated["event"]["e"] == "eventStreamTerminated"
    assert bad == {"id": "bad", "status": 400, "error": {"code": -1022, "msg": "Signature for this request is not valid."}}
    assert ok == {"id": "s1", "status": 200, "result": {"subscriptionId": 0}}
    assert events[0]["subscriptionId"] == 0 and events[0]["event"]["e"] == "executionReport"
    assert events[0]["event"]["c"] == "api-1"
    assert events[1]["event"]["e"] == "outboundAccountPosition"
    assert unsub == {"id": 3, "status": 200, "result": {}}


def test_self_trade_prevention_reported_on_the_user_stream():
    async def main():
        ex = EmbeddedExchange(seed=13, pairs=("BTC-USDT",), perp_pairs=(), agent=False)
        ex.create_account(KEY, SECRET, balances={"USDT": D("10000"), "BTC": D("1")})
        async with ex, aiohttp.ClientSession() as s:
            r = await s.post(ex.spot_rest_url + "/api/v3/userDataStream", headers={"X-MBX-APIKEY": KEY})
            ws = await s.ws_connect(f"{ex.spot_ws_url}/ws/{(await r.json())['listenKey']}")
            await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.01", "price": "60000", "newClientOrderId": "mine-ask"})
            st, taker = await signed(s, ex.spot_rest_url, "POST", "/api/v3/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "IOC",
                "quantity": "0.01", "price": "60000", "newClientOrderId": "mine-bid"})
            events = [e for e in await collect(ws, 0.4) if e["e"] == "executionReport"]
            _, ask = await signed(s, ex.spot_rest_url, "GET", "/api/v3/order", {"symbol": "BTCUSDT",
                                                                                 "origClientOrderId": "mine-ask"})
            return taker, events, ask

    taker, events, ask = run(main())
    assert taker["status"] == "EXPIRED" and taker["executedQty"] == "0.00000000"   # nothing left to take
    by = {(e["c"], e["x"]): e["X"] for e in events}
    assert by[("mine-ask", "TRADE_PREVENTION")] == "EXPIRED_IN_MATCH"
    assert by[("mine-bid", "EXPIRED")] == "EXPIRED"
    # the conditional STP fields, only on the prevented order's TRADE_PREVENTION report
    tp = next(e for e in events if e["x"] == "TRADE_PREVENTION")
    assert (tp["A"], tp["B"], tp["U"], tp["Cs"]) == ("0.01000000", "0.01000000", taker["orderId"], "BTCUSDT")
    assert (tp["pl"], tp["pL"], tp["pY"]) == ("0.01000000", "60000.00000000", "600.00000000")
    assert isinstance(tp["v"], int)
    assert not any("v" in e for e in events if e["x"] != "TRADE_PREVENTION")
    assert (ask["status"], ask["preventedMatchId"], ask["preventedQuantity"]) == \
        ("EXPIRED_IN_MATCH", tp["v"], "0.01000000")
    assert "preventedQuantity" not in taker


def test_futures_self_trade_prevention_and_expiry_reasons_on_the_user_stream():
    """USDⓈ-M STP: the prevented maker ends EXPIRED_IN_MATCH with execution type EXPIRED and
    expiry reason "1"; the IOC taker's unfilled remainder expires with reason "2"."""
    async def main():
        ex = EmbeddedExchange(seed=14, pairs=(), perp_pairs=("BTC-USDT",), agent=False, funding_interval=None)
        ex.create_account(KEY, SECRET, futures_balances={"USDT": D("10000")})
        async with ex, aiohttp.ClientSession() as s:
            base = ex.futures_rest_url
            r = await s.post(base + "/fapi/v1/listenKey", headers={"X-MBX-APIKEY": KEY})
            ws = await s.ws_connect(f"{ex.futures_ws_url}/ws/{(await r.json())['listenKey']}")
            await signed(s, base, "POST", "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.01", "price": "60000", "newClientOrderId": "mine-ask"})
            await signed(s, base, "POST", "/fapi/v1/order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "IOC",
                "quantity": "0.01", "price": "60000", "newClientOrderId": "mine-bid",
                "newOrderRespType": "RESULT"})
            events = [e["o"] for e in await collect(ws, 0.4) if e["e"] == "ORDER_TRADE_UPDATE"]
            _, q = await signed(s, base, "GET", "/fapi/v1/order", {"symbol": "BTCUSDT",
                                                                    "origClientOrderId": "mine-ask"})
            return events, q

    events, q = run(main())
    by = {(o["c"], o["x"]): (o["X"], o["er"]) for o in events}
    assert by[("mine-ask", "NEW")] == ("NEW", "0")
    assert by[("mine-ask", "EXPIRED")] == ("EXPIRED_IN_MATCH", "1")
    assert by[("mine-bid", "EXPIRED")] == ("EXPIRED", "2")
    assert not any(o["x"] == "TRADE_PREVENTION" for o in events)     # a spot-only execution type
    assert q["status"] == "EXPIRED_IN_MATCH"
