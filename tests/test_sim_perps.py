"""USDⓈ-M perpetuals of the embedded exchange: positions, leverage, margin, PnL, funding (REST)."""
from __future__ import annotations

import asyncio
import time
from decimal import Decimal as D

import aiohttp

from binance_signed import SignedClient
from hbconnect.sim import EmbeddedExchange

KEY, SECRET = "perpkey", "perpsecret"
MK, MS = "mkkey", "mksecret"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


class F(SignedClient):
    key, secret = KEY, SECRET

    async def quote(self, side, qty, price):
        return await self("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": side, "type": "LIMIT",
                                                     "timeInForce": "GTC", "quantity": qty, "price": price},
                          key=MK, secret=MS)

    async def limit(self, side, qty, price, **extra):
        return await self("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": side, "type": "LIMIT",
                                                     "timeInForce": "GTC", "quantity": qty, "price": price, **extra})

    async def market(self, side, qty, **extra):
        return await self("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": side, "type": "MARKET",
                                                     "quantity": qty, **extra})


def run_perp(body, **kw):
    """Run ``body(ex, f)`` against a started exchange (``make_ex(**kw)``) and a signed client."""
    async def main():
        ex = make_ex(**kw)
        async with ex, aiohttp.ClientSession() as s:
            return await body(ex, F(s, ex.futures_rest_url))
    return run(main())


def make_ex(**kw):
    ex = EmbeddedExchange(seed=9, pairs=(), perp_pairs=("BTC-USDT",), agent=False, funding_interval=None, **kw)
    ex.create_account(KEY, SECRET, futures_balances={"USDT": D("10000")})
    ex.create_account(MK, MS, futures_balances={"USDT": D("100000000")}, futures_maker_fee=D(0))
    return ex


def test_one_way_open_reduce_close_with_realized_pnl_and_fees():
    async def main(ex, f):
        out = {}
        await f.quote("SELL", "0.1", "60000")
        out["open"] = await f.market("BUY", "0.1")
        out["pos1"] = dict(ex.positions(KEY))
        await f.quote("BUY", "0.1", "61000")
        out["reduce"] = await f.market("SELL", "0.04")
        out["pos2"] = dict(ex.positions(KEY))
        out["close"] = await f.market("SELL", "0.06", reduceOnly="true")
        out["pos3"] = dict(ex.positions(KEY))
        out["ro_reject"] = await f.market("SELL", "0.01", reduceOnly="true")
        out["income"] = await f("GET", "/fapi/v1/income", {"symbol": "BTCUSDT"})
        out["trades"] = await f("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
        out["wallet"] = ex.futures_balance(KEY)
        out["risk"] = await f("GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"})
        return out

    o = run_perp(main)
    assert o["open"][0] == 200 and o["open"][1]["status"] == "FILLED" and o["open"][1]["avgPrice"] == "60000.00000"
    assert o["pos1"] == {("BTCUSDT", "NET"): {"amount": D("0.1"), "entry_price": D("60000"),
                                               "unrealized_pnl": D("0"), "leverage": 20}}
    assert o["pos2"][("BTCUSDT", "NET")]["amount"] == D("0.06")
    assert o["pos2"][("BTCUSDT", "NET")]["entry_price"] == D("60000")
    assert o["pos3"] == {}
    assert o["ro_reject"][1] == {"code": -2022, "msg": "ReduceOnly Order is rejected."}
    pnl = D("0.1") * (D("61000") - D("60000"))
    fees = (D("0.1") * 60000 + D("0.1") * 61000) * D("0.0005")
    assert o["wallet"] == D("10000") + pnl - fees
    income = o["income"][1]
    realized = [D(i["income"]) for i in income if i["incomeType"] == "REALIZED_PNL"]
    commissions = [D(i["income"]) for i in income if i["incomeType"] == "COMMISSION"]
    assert sum(realized) == pnl and realized == [D("40"), D("60")]
    assert sum(commissions) == -fees
    tr = o["trades"][1]
    assert [t["realizedPnl"] for t in tr] == ["0.00000000", "40.00000000", "60.00000000"]
    assert [t["side"] for t in tr] == ["BUY", "SELL", "SELL"]
    assert o["risk"][1][0]["positionAmt"] == "0.000" and o["risk"][1][0]["positionSide"] == "BOTH"


def test_flip_through_zero_and_unrealized_via_mark():
    async def main(ex, f):
        await f.quote("BUY", "0.05", "60000")
        await f.market("SELL", "0.05")                       # short 0.05 @ 60000
        await f.quote("SELL", "0.08", "59000")
        await f.market("BUY", "0.08")                        # close 0.05 (+50), long 0.03 @ 59000
        ex.set_mark_price("BTC-USDT", D("59500"))
        acct = await f("GET", "/fapi/v2/account")
        acct3 = await f("GET", "/fapi/v3/account")
        return ex.positions(KEY), acct, acct3

    pos, acct, acct3 = run_perp(main)
    p = pos[("BTCUSDT", "NET")]
    assert p["amount"] == D("0.03") and p["entry_price"] == D("59000")
    assert p["unrealized_pnl"] == D("0.03") * 500
    a = acct[1]
    assert D(a["totalUnrealizedProfit"]) == D("15")
    assert D(a["totalPositionInitialMargin"]) == D("0.03") * D("59500") / 20
    assert D(a["availableBalance"]) == D(a["totalWalletBalance"]) + 15 - D("0.03") * D("59500") / 20
    assert [x["symbol"] for x in acct3[1]["positions"]] == ["BTCUSDT"]       # v3: open positions only


def test_leverage_and_margin_check():
    async def main(ex, f):
        out = {}
        out["bad_lev"] = await f("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 200})
        out["lev2"] = await f("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 2})
        # 2x: 10000 USDT backs 20000 notional; 0.5 BTC @ 50000 = 25000 -> rejected
        out["too_big"] = await f.limit("BUY", "0.5", "50000")
        out["fits"] = await f.limit("BUY", "0.3", "50000")
        # the open order holds 7500 of margin: another 0.2 (5000 margin) no longer fits
        out["second"] = await f.limit("BUY", "0.2", "50000")
        out["acct"] = await f("GET", "/fapi/v2/account")
        out["cancel_all"] = await f("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"})
        out["lev20"] = await f("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 20})
        out["now_fits"] = await f.limit("BUY", "0.5", "50000")
        out["min_notional"] = await f.limit("BUY", "0.001", "50000")
        out["tick"] = await f.limit("BUY", "0.01", "50000.05")
        return out

    o = run_perp(main)
    assert o["bad_lev"][1]["code"] == -4028
    assert o["lev2"][1] == {"leverage": 2, "maxNotionalValue": "20000000", "symbol": "BTCUSDT"}
    assert o["too_big"][1] == {"code": -2019, "msg": "Margin is insufficient."}
    assert o["fits"][1]["status"] == "NEW"
    assert o["second"][1] == {"code": -2019, "msg": "Margin is insufficient."}
    assert D(o["acct"][1]["totalOpenOrderInitialMargin"]) == D("7500")
    assert o["cancel_all"][1] == {"code": 200, "msg": "The operation of cancel all open order is done."}
    assert o["lev20"][1]["leverage"] == 20
    assert o["now_fits"][1]["status"] == "NEW"
    assert o["min_notional"][1]["code"] == -4164
    assert o["tick"][1] == {"code": -4014, "msg": "Price not increased by tick size."}


def test_hedge_mode_long_and_short_positions():
    async def main(ex, f):
        out = {}
        out["get0"] = await f("GET", "/fapi/v1/positionSide/dual")
        out["set"] = await f("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
        out["again"] = await f("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
        out["get1"] = await f("GET", "/fapi/v1/positionSide/dual")
        out["both"] = await f.market("BUY", "0.01")
        await f.quote("SELL", "1", "60000")
        await f.quote("BUY", "1", "59900")
        out["long"] = await f.market("BUY", "0.02", positionSide="LONG")
        out["short"] = await f.market("SELL", "0.01", positionSide="SHORT")
        out["pos"] = dict(ex.positions(KEY))
        out["close_too_much"] = await f.market("SELL", "0.05", positionSide="LONG")
        out["reduce_only"] = await f.market("SELL", "0.01", positionSide="LONG", reduceOnly="true")
        out["close_long"] = await f.market("SELL", "0.02", positionSide="LONG")
        out["risk"] = await f("GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"})
        out["switch_back"] = await f("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "false"})
        return out

    o = run_perp(main)
    assert o["get0"][1] == {"dualSidePosition": False}
    assert o["set"][1] == {"code": 200, "msg": "success"}
    assert o["again"][1] == {"code": -4059, "msg": "No need to change position side."}
    assert o["get1"][1] == {"dualSidePosition": True}
    assert o["both"][1]["code"] == -4061
    assert o["long"][1]["positionSide"] == "LONG" and o["short"][1]["positionSide"] == "SHORT"
    assert o["pos"][("BTCUSDT", "LONG")]["amount"] == D("0.02")
    assert o["pos"][("BTCUSDT", "SHORT")]["amount"] == D("-0.01")
    assert o["close_too_much"][1] == {"code": -2022, "msg": "ReduceOnly Order is rejected."}
    assert o["reduce_only"][1]["code"] == -1106
    assert o["close_long"][1]["status"] == "FILLED"
    sides = {r["positionSide"]: r["positionAmt"] for r in o["risk"][1]}
    assert sides == {"LONG": "0.000", "SHORT": "-0.010"}
    assert o["switch_back"][1] == {"code": -4068, "msg": "Position side cannot be changed if there exists position."}


def test_funding_payments_income_and_rest_views():
    async def main():
        ex = make_ex()
        ex.funding_interval = 0.3          # a funding event every 0.3 s
        async with ex, aiohttp.ClientSession() as s:
            f = F(s, ex.futures_rest_url)
            await f.quote("SELL", "0.1", "60000")
            await f.market("BUY", "0.1")
            ex.set_mark_price("BTC-USDT", D("62000"))
            ex.set_funding_rate("BTC-USDT", D("0.0002"))
            before = ex.futures_balance(KEY)
            paid = ex.run_funding()
            after = ex.futures_balance(KEY)
            income = await f("GET", "/fapi/v1/income", {"incomeType": "FUNDING_FEE"})
            hist = await f("GET", "/fapi/v1/fundingRate", {"symbol": "BTCUSDT"})
            prem = await f("GET", "/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"})
            # the periodic loop pays again by itself
            ex.next_funding_ms = int(time.time() * 1000) + 200
            t0 = time.monotonic()
            while len([i for i in ex.income(KEY) if i.income_type == "FUNDING"]) < 2 and time.monotonic() - t0 < 5:
                await asyncio.sleep(0.05)
            n = len([i for i in ex.income(KEY) if i.income_type == "FUNDING"])
            return before, paid, after, income, hist, prem, n, ex.income(MK)

    before, paid, after, income, hist, prem, n, mk_income = run(main())
    payment = -(D("0.1") * D("62000") * D("0.0002"))
    assert after - before == payment
    assert [(p[1]) for p in paid if p[1] == payment] == [payment]
    rows = income[1]
    assert len(rows) == 1 and D(rows[0]["income"]) == payment and rows[0]["asset"] == "USDT"
    assert D(hist[1][-1]["fundingRate"]) == D("0.0002") and D(hist[1][-1]["markPrice"]) == D("62000")
    assert D(prem[1]["markPrice"]) == D("62000") and prem[1]["nextFundingTime"] > 0
    assert n >= 2
    # the short side (the maker) received what the long paid
    assert sum(i.income for i in mk_income if i.income_type == "FUNDING") >= -payment


def test_post_only_gtx_rejected_when_crossing_and_order_queries():
    async def main():
        ex = make_ex()
        async with ex, aiohttp.ClientSession() as s:
            f = F(s, ex.futures_rest_url)
            await f.quote("SELL", "0.1", "60000")
            cross = await f("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                       "timeInForce": "GTX", "quantity": "0.01", "price": "60000"})
            rest = await f("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                      "timeInForce": "GTX", "quantity": "0.01", "price": "59000",
                                                      "newClientOrderId": "gtx-1"})
            dup = await f("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                     "timeInForce": "GTC", "quantity": "0.01", "price": "58000",
                                                     "newClientOrderId": "gtx-1"})
            q = await f("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "gtx-1"})
            oo = await f("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"})
            cx = await f("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "gtx-1"})
            again = await f("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "gtx-1"})
            stop = await f("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "STOP_MARKET",
                                                      "quantity": "0.01", "stopPrice": "61000"})
            info = await (await s.get(ex.futures_rest_url + "/fapi/v1/exchangeInfo")).json()
            return cross, rest, q, oo, cx, again, stop, info, dup

    cross, rest, q, oo, cx, again, stop, info, dup = run(main())
    assert dup[1] == {"code": -4116, "msg": "ClientOrderId is duplicated."}
    assert cross[1] == {"code": -5022, "msg": "Due to the order could not be executed as maker, the Post Only "
                                              "order will be rejected."}
    assert rest[1]["status"] == "NEW" and rest[1]["timeInForce"] == "GTX"
    assert q[1]["clientOrderId"] == "gtx-1" and "time" in q[1]
    assert [o["clientOrderId"] for o in oo[1]] == ["gtx-1"]
    assert cx[1]["status"] == "CANCELED"
    assert again[1] == {"code": -2011, "msg": "Unknown order sent."}
    assert stop[0] == 400
    sym = info["symbols"][0]
    filters = {x["filterType"]: x for x in sym["filters"]}
    assert (sym["symbol"], sym["contractType"], sym["pricePrecision"], sym["quantityPrecision"]) == \
        ("BTCUSDT", "PERPETUAL", 1, 3)
    assert filters["PRICE_FILTER"]["tickSize"] == "0.10" and filters["MIN_NOTIONAL"]["notional"] == "100"


def test_resting_reduce_only_order_expires_when_the_position_closes():
    async def main(ex, f):
        await f.quote("SELL", "0.1", "60000")
        await f.market("BUY", "0.05")                                  # long 0.05
        ro = await f("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                                                "timeInForce": "GTC", "quantity": "0.05", "price": "65000",
                                                "reduceOnly": "true", "newClientOrderId": "ro-1"})
        await f.quote("BUY", "0.1", "59000")
        await f.market("SELL", "0.05")                                 # closes the long
        q = await f("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "ro-1"})
        return ro, q, ex.open_orders(KEY, market="futures"), ex.positions(KEY)

    ro, q, open_orders, positions = run_perp(main)
    assert ro[1]["status"] == "NEW" and ro[1]["reduceOnly"] is True
    assert q[1]["status"] == "EXPIRED"
    assert open_orders == [] and positions == {}


def test_hedge_mode_close_order_expires_when_its_position_closes():
    """In hedge mode a SELL on LONG (BUY on SHORT) is a close order, implicitly reduce-only: when
    the position is closed by another order the resting close order expires; opening orders stay."""
    async def main(ex, f):
        await f("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
        await f.quote("SELL", "0.1", "60000")
        await f.market("BUY", "0.05", positionSide="LONG")                  # long 0.05
        close = await f.limit("SELL", "0.05", "65000", positionSide="LONG", newClientOrderId="close-1")
        opening = await f.limit("BUY", "0.01", "50000", positionSide="LONG", newClientOrderId="open-1")
        await f.quote("BUY", "0.1", "59000")
        await f.market("SELL", "0.05", positionSide="LONG")                 # closes the long
        q_close = await f("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "close-1"})
        q_open = await f("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "open-1"})
        return close, opening, q_close, q_open, ex.open_orders(KEY, market="futures")

    close, opening, q_close, q_open, open_orders = run_perp(main)
    assert close[1]["status"] == "NEW" and opening[1]["status"] == "NEW"
    assert q_close[1]["status"] == "EXPIRED"
    assert q_open[1]["status"] == "NEW"
    assert [o.client_order_id for o in open_orders] == ["open-1"]


def test_position_risk_v2_and_v3_shapes():
    """v2 lists every symbol/side with leverage and margin type; v3 only open positions, with
    margins and no leverage (the documented field sets)."""
    async def main(ex, f):
        empty_v3 = await f("GET", "/fapi/v3/positionRisk")
        await f.quote("SELL", "0.1", "60000")
        await f.market("BUY", "0.1")
        return empty_v3, await f("GET", "/fapi/v2/positionRisk"), await f("GET", "/fapi/v3/positionRisk")

    empty_v3, v2, v3 = run_perp(main)
    assert empty_v3 == (200, [])
    (r2,), (r3,) = v2[1], v3[1]
    assert {"leverage", "maxNotionalValue", "marginType", "isAutoAddMargin"} <= set(r2)
    assert not {"initialMargin", "marginAsset", "adl"} & set(r2)
    assert {"marginAsset", "initialMargin", "maintMargin", "positionInitialMargin", "openOrderInitialMargin",
            "adl", "bidNotional", "askNotional"} <= set(r3)
    assert not {"leverage", "marginType", "maxNotionalValue"} & set(r3)
    for r in (r2, r3):
        assert (r["symbol"], r["positionSide"], r["positionAmt"]) == ("BTCUSDT", "BOTH", "0.100")
        assert D(r["entryPrice"]) == D("60000") and D(r["notional"]) == D("0.1") * D(r["markPrice"])
    assert r3["marginAsset"] == "USDT" and D(r3["initialMargin"]) == D(r3["notional"]) / int(r2["leverage"])
