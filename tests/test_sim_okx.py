"""The embedded exchange's OKX v5 front end over loopback, driven by a client written here from
OKX's docs (independent of hbconnect's OKX translation)."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone
from decimal import Decimal as D

import aiohttp
import pytest

from hbconnect.sim import EmbeddedExchange
from hbconnect.sim.faults import FaultConfig

KEY, SECRET, PASSPHRASE = "okxkey1", "okxsecret1", "Pass-phrase1"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def iso_now(offset_ms: int = 0) -> str:
    ms = int(time.time() * 1000) + offset_ms
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def okx_sign(secret: str, prehash: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.s, self.base = session, base

    async def call(self, method: str, path: str, body: dict | None = None, *, ts_offset_ms: int = 0,
                   secret: str = SECRET, passphrase: str = PASSPHRASE, signed: bool = True):
        raw = json.dumps(body) if body is not None else ""
        headers = {"Content-Type": "application/json"}
        if signed:
            ts = iso_now(ts_offset_ms)
            headers.update({"OK-ACCESS-KEY": KEY, "OK-ACCESS-TIMESTAMP": ts, "OK-ACCESS-PASSPHRASE": passphrase,
                            "OK-ACCESS-SIGN": okx_sign(secret, ts + method + path + raw)})
        r = await self.s.request(method, self.base + path, data=raw or None, headers=headers)
        return r.status, await r.json()


def make_ex(**kw) -> EmbeddedExchange:
    kw.setdefault("agent", False)
    ex = EmbeddedExchange(seed=3, pairs=("BTC-USDT",), perp_pairs=("BTC-USDT",), venues=("okx",), **kw)
    ex.create_account(KEY, SECRET, balances={"USDT": D("10000"), "BTC": D("1")},
                      futures_balances={"USDT": D("10000")}, passphrase=PASSPHRASE)
    ex.create_account("makerkey", "makersecret", balances={"USDT": D("1000000"), "BTC": D("100")},
                      futures_balances={"USDT": D("1000000")}, passphrase="mk")
    return ex


def test_signing_and_auth_errors() -> None:
    async def go():
        async with make_ex() as ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.front("okx").rest_url)
            status, body = await c.call("GET", "/api/v5/account/balance")
            assert status == 200 and body["code"] == "0"
            usdt = {d["ccy"]: d for d in body["data"][0]["details"]}["USDT"]
            assert D(usdt["cashBal"]) == D("20000")            # spot + swap wallet of the unified account
            assert (await c.call("GET", "/api/v5/account/balance", secret="wrong"))[1]["code"] == "50113"
            assert (await c.call("GET", "/api/v5/account/balance", passphrase="nope"))[1]["code"] == "50105"
            status, body = await c.call("GET", "/api/v5/account/balance", ts_offset_ms=-60_000)
            assert (status, body["code"]) == (401, "50102")
            status, body = await c.call("GET", "/api/v5/account/balance", signed=False)
            assert (status, body["code"]) == (401, "50103")
    run(go())


def test_instruments_spot_and_swap_contracts() -> None:
    async def go():
        async with make_ex() as ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.front("okx").rest_url)
            _, spot = await c.call("GET", "/api/v5/public/instruments?instType=SPOT", signed=False)
            _, swap = await c.call("GET", "/api/v5/public/instruments?instType=SWAP", signed=False)
            assert [i["instId"] for i in spot["data"]] == ["BTC-USDT"]
            [perp] = swap["data"]
            assert perp["instId"] == "BTC-USDT-SWAP" and perp["ctValCcy"] == "BTC" and perp["settleCcy"] == "USDT"
            assert D(perp["ctVal"]) == ex.futures_engine.specs["BTCUSDT"].step_size * 10
    run(go())


def test_orders_in_200_bodies() -> None:
    async def go():
        async with make_ex() as ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.front("okx").rest_url)
            order = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit", "px": "50000",
                     "sz": "0.01", "clOrdId": "abc123"}
            status, body = await c.call("POST", "/api/v5/trade/order", order)
            assert status == 200 and body["code"] == "0" and body["data"][0]["sCode"] == "0"
            ord_id = body["data"][0]["ordId"]
            _, got = await c.call("GET", "/api/v5/trade/order?instId=BTC-USDT&clOrdId=abc123")
            assert got["data"][0]["state"] == "live" and got["data"][0]["ordId"] == ord_id
            # duplicate clOrdId of a pending order
            status, dup = await c.call("POST", "/api/v5/trade/order", order)
            assert status == 200 and dup["code"] == "1" and dup["data"][0]["sCode"] == "51016"
            # insufficient balance: HTTP 200, code 1, sCode 51008
            big = dict(order, clOrdId="big1", sz="5")
            status, body = await c.call("POST", "/api/v5/trade/order", big)
            assert status == 200 and body["code"] == "1" and body["data"][0]["sCode"] == "51008"
            _, cancel = await c.call("POST", "/api/v5/trade/cancel-order", {"instId": "BTC-USDT", "clOrdId": "abc123"})
            assert cancel["code"] == "0" and cancel["data"][0]["sCode"] == "0"
            _, got = await c.call("GET", "/api/v5/trade/order?instId=BTC-USDT&ordId=" + ord_id)
            assert got["data"][0]["state"] == "canceled"
            _, again = await c.call("POST", "/api/v5/trade/cancel-order", {"instId": "BTC-USDT", "clOrdId": "abc123"})
            assert again["code"] == "1" and again["data"][0]["sCode"] == "51400"
            _, missing = await c.call("GET", "/api/v5/trade/order?instId=BTC-USDT&clOrdId=never")
            assert missing["code"] == "51603"
    run(go())


def test_post_only_that_would_take_is_cancelled_and_fills_carry_fees() -> None:
    async def go():
        async with make_ex() as ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.front("okx").rest_url)
            from hbconnect.sim.matching import OrderRequest
            maker = ex.account_by_key("makerkey").account_id
            ex.spot_engine.submit(maker, OrderRequest("BTCUSDT", "SELL", "LIMIT", quantity=D("1"), price=D("60000")))
            po = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "post_only", "px": "60000",
                  "sz": "0.01", "clOrdId": "po1"}
            _, body = await c.call("POST", "/api/v5/trade/order", po)
            assert body["code"] == "0"
            _, got = await c.call("GET", "/api/v5/trade/order?instId=BTC-USDT&clOrdId=po1")
            assert got["data"][0]["state"] == "canceled" and got["data"][0]["cancelSource"] == "31"
            assert got["data"][0]["accFillSz"] == "0.00000"
            taker = dict(po, ordType="limit", clOrdId="t1")
            _, body = await c.call("POST", "/api/v5/trade/order", taker)
            _, got = await c.call("GET", "/api/v5/trade/order?instId=BTC-USDT&clOrdId=t1")
            row = got["data"][0]
            assert row["state"] == "filled" and row["feeCcy"] == "BTC" and D(row["fee"]) < 0
            _, fills = await c.call("GET", "/api/v5/trade/fills?instType=SPOT&ordId=" + row["ordId"])
            [fill] = fills["data"]
            assert fill["execType"] == "T" and D(fill["fillSz"]) == D("0.01") and fill["feeCcy"] == "BTC"
    run(go())


def test_swap_contracts_positions_leverage_mode_and_funding() -> None:
    async def go():
        async with make_ex() as ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.front("okx").rest_url)
            from hbconnect.sim.matching import OrderRequest
            maker = ex.account_by_key("makerkey").account_id
            ex.futures_engine.submit(maker, OrderRequest("BTCUSDT", "SELL", "LIMIT", quantity=D("1"), price=D("60000")))
            _, lev = await c.call("POST", "/api/v5/account/set-leverage",
                                  {"instId": "BTC-USDT-SWAP", "lever": "5", "mgnMode": "isolated"})
            assert lev["code"] == "0" and lev["data"][0]["lever"] == "5"
            _, cfg = await c.call("GET", "/api/v5/account/config")
            assert cfg["data"][0]["posMode"] == "net_mode"
            order = {"instId": "BTC-USDT-SWAP", "tdMode": "isolated", "side": "buy", "ordType": "market", "sz": "2"}
            _, body = await c.call("POST", "/api/v5/trade/order", order)
            assert body["code"] == "0", body
            _, pos = await c.call("GET", "/api/v5/account/positions?instType=SWAP")
            [p] = pos["data"]
            ct_val = ex.futures_engine.specs["BTCUSDT"].step_size * 10
            assert D(p["pos"]) == D("2") and p["posSide"] == "net" and p["mgnMode"] == "isolated" and p["lever"] == "5"
            assert ex.accounts[ex.account_by_key(KEY).account_id].futures.positions[("BTCUSDT", "NET")].amount \
                == 2 * ct_val                                   # two contracts of ctVal base each
            # isolated: the position holds its own margin (amount * price / leverage), no cross imr
            facct = ex.account_by_key(KEY).futures
            assert facct.isolated("BTCUSDT")
            assert D(p["margin"]) == 2 * ct_val * D("60000") / 5 == facct.positions[("BTCUSDT", "NET")].isolated_margin
            assert p["imr"] == "" and D(p["liqPx"]) < D("60000")
            # a mode change with an open position is refused
            _, mode = await c.call("POST", "/api/v5/account/set-position-mode", {"posMode": "long_short_mode"})
            assert mode["code"] == "59000"
            ex.run_funding()
            _, bills = await c.call("GET", "/api/v5/account/bills?instType=SWAP&type=8")
            [bill] = bills["data"]
            assert bill["type"] == "8" and bill["instId"] == "BTC-USDT-SWAP" and D(bill["balChg"]) < 0
            _, fr = await c.call("GET", "/api/v5/public/funding-rate?instId=BTC-USDT-SWAP", signed=False)
            assert D(fr["data"][0]["fundingRate"]) == D("0.0001")
    run(go())


def test_public_books_chain_trades_and_ping() -> None:
    async def go():
        async with make_ex() as ex, aiohttp.ClientSession() as s:
            from hbconnect.sim.matching import OrderRequest
            maker = ex.account_by_key("makerkey").account_id
            ex.spot_engine.submit(maker, OrderRequest("BTCUSDT", "SELL", "LIMIT", quantity=D("1"), price=D("60000")))
            ws = await s.ws_connect(ex.front("okx").ws_url + "/ws/v5/public")
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"},
                                                                      {"channel": "trades", "instId": "BTC-USDT"}]}))
            msgs = []
            while len([m for m in msgs if m.get("arg", {}).get("channel") == "books" and "action" in m]) < 1:
                msgs.append(json.loads((await ws.receive()).data))
            snap = [m for m in msgs if m.get("action") == "snapshot"][0]["data"][0]
            assert snap["prevSeqId"] == -1 and snap["asks"][0][:2] == ["60000.00", "1.00000"]
            ex.spot_engine.submit(maker, OrderRequest("BTCUSDT", "SELL", "LIMIT", quantity=D("2"), price=D("60001")))
            taker = ex.account_by_key(KEY).account_id     # another account: no self-trade prevention
            ex.spot_engine.submit(taker, OrderRequest("BTCUSDT", "BUY", "LIMIT", quantity=D("0.05"), price=D("60000")))
            prev, got_trade = snap["seqId"], False
            updates = 0
            while updates < 1 or not got_trade:
                m = json.loads((await ws.receive()).data)
                if m.get("action") == "update":
                    d = m["data"][0]
                    assert d["prevSeqId"] == prev
                    prev = d["seqId"]
                    updates += 1
                elif m.get("arg", {}).get("channel") == "trades" and "data" in m:
                    assert m["data"][0]["px"] == "60000.00" and m["data"][0]["side"] == "buy"
                    got_trade = True
            await ws.send_str("ping")
            while True:
                m = await ws.receive()
                if m.data == "pong":
                    break
            await ws.close()
    run(go())


def test_private_login_channels_and_ws_order_entry() -> None:
    async def go():
        async with make_ex() as ex, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(ex.front("okx").ws_url + "/ws/v5/private")
            ts = str(int(time.time()))
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]}))
            assert json.loads((await ws.receive()).data)["code"] == "60011"
            bad = {"op": "login", "args": [{"apiKey": KEY, "passphrase": PASSPHRASE, "timestamp": ts,
                                            "sign": okx_sign("wrong", ts + "GET/users/self/verify")}]}
            await ws.send_str(json.dumps(bad))
            assert json.loads((await ws.receive()).data)["code"] == "60009"
            login = {"op": "login", "args": [{"apiKey": KEY, "passphrase": PASSPHRASE, "timestamp": ts,
                                              "sign": okx_sign(SECRET, ts + "GET/users/self/verify")}]}
            await ws.send_str(json.dumps(login))
            assert json.loads((await ws.receive()).data)["event"] == "login"
            await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "SPOT"},
                                                                      {"channel": "account"}]}))
            await ws.send_str(json.dumps({"id": "req1", "op": "order", "args": [{
                "instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit", "px": "50000",
                "sz": "0.01", "clOrdId": "ws1"}]}))
            ack = order_push = None
            while ack is None or order_push is None:
                m = json.loads((await ws.receive()).data)
                if m.get("id") == "req1":
                    ack = m
                elif m.get("arg", {}).get("channel") == "orders" and "data" in m:
                    order_push = m["data"][0]
            assert ack["code"] == "0" and ack["data"][0]["sCode"] == "0" and ack["data"][0]["clOrdId"] == "ws1"
            assert order_push["state"] == "live" and order_push["clOrdId"] == "ws1"
            await ws.send_str(json.dumps({"id": "req2", "op": "cancel-order",
                                          "args": [{"instId": "BTC-USDT", "clOrdId": "ws1"}]}))
            cancelled = ack2 = None
            while cancelled is None or ack2 is None:
                m = json.loads((await ws.receive()).data)
                if m.get("id") == "req2":
                    ack2 = m
                elif m.get("arg", {}).get("channel") == "orders" and "data" in m and m["data"][0]["state"] == "canceled":
                    cancelled = m["data"][0]
            assert ack2["data"][0]["sCode"] == "0" and cancelled["cancelSource"] == "1"
            await ws.send_str(json.dumps({"id": "req3", "op": "order", "args": [{
                "instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit", "px": "50000",
                "sz": "50", "clOrdId": "ws2"}]}))
            while True:
                m = json.loads((await ws.receive()).data)
                if m.get("id") == "req3":
                    assert m["code"] == "1" and m["data"][0]["sCode"] == "51008"
                    break
            await ws.close()
    run(go())


def test_fault_knob_rate_limit_answer() -> None:
    async def go():
        faults = FaultConfig(seed=1, http_429=1.0)
        async with make_ex(faults=faults) as ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.front("okx").rest_url)
            status, body = await c.call("GET", "/api/v5/account/balance")
            assert (status, body["code"]) == (429, "50011")
            status, body = await c.call("GET", "/api/v5/public/time", signed=False)   # exempt
            assert status == 200 and body["code"] == "0"
    run(go())


def test_bad_parameters_are_the_venues_errors_not_crashes(caplog) -> None:
    async def go():
        async with make_ex() as ex, aiohttp.ClientSession() as s:
            c = Client(s, ex.front("okx").rest_url)
            for path in ("/api/v5/trade/fills?limit=abc", "/api/v5/account/bills?begin=-5",
                         "/api/v5/trade/fills?limit=1000"):
                status, body = await c.call("GET", path)
                assert (status, body["code"]) == (400, "51000"), (path, body)
            status, body = await c.call("GET", "/api/v5/market/books?instId=BTC-USDT&sz=0", signed=False)
            assert body["code"] == "51000"
            status, body = await c.call("POST", "/api/v5/trade/order", {"instId": "BTC-USDT", "tdMode": "cash",
                                                                         "side": "buy", "ordType": "limit",
                                                                         "px": "NaN", "sz": "1"})
            assert status == 400 and body["code"] == "51000" or body["data"][0]["sCode"] == "51000"
            status, body = await c.call("POST", "/api/v5/trade/order", {"instId": ["x"], "tdMode": "cash"})
            assert body["data"][0]["sCode"] in ("51001", "51000")
    run(go())
    assert not [r for r in caplog.records if r.exc_info]   # no traceback: every refusal is the venue's answer


JUNK = ["", "{", "[]", "null", "42", '{"op": 5}', '{"op": "subscribe"}', '{"op": "subscribe", "args": "x"}',
        '{"op": "subscribe", "args": [{"channel": ["books"], "instId": {"a": 1}}]}', '{"op": "unknown"}',
        '{"op": "login", "args": [1, 2]}', '{"op": "login", "args": [{"apiKey": [], "timestamp": "x"}]}',
        '{"op": "order", "id": "1", "args": [{"instId": []}]}', "[" * 5000 + "]" * 5000]


@pytest.mark.parametrize("path", ["/ws/v5/public", "/ws/v5/private"])
def test_websocket_junk_is_answered_and_the_session_survives(path: str, caplog) -> None:
    async def go():
        async with make_ex() as ex, aiohttp.ClientSession() as s:
            ws = await s.ws_connect(ex.front("okx").ws_url + path)
            for frame in JUNK:
                await ws.send_str(frame)
            await ws.send_str("ping")
            answers = []
            while True:
                m = await asyncio.wait_for(ws.receive(), 5)
                if m.data == "pong":
                    break
                answers.append(json.loads(m.data))
            assert answers and all(a.get("event") == "error" or a.get("code") not in (None, "0") for a in answers)
            await ws.close()
    run(go())
    assert not [r for r in caplog.records if r.exc_info]
