"""Isolated margin in the embedded exchange's perpetual accounts: margin allocated per position,
released on reduce/close, excluded from the available balance, liquidation against it only."""
from __future__ import annotations

import asyncio
from decimal import Decimal as D

import aiohttp
import pytest

from binance_signed import SignedClient
from hbconnect.sim import EmbeddedExchange, OrderRequest
from hbconnect.sim.accounts import MAINTENANCE_RATE
from hbconnect.sim.errors import Reject, SimReject
from hbconnect.sim.matching import AccountEvent

ISO, CROSS, MK = "isokey", "crosskey", "mkkey"


def make_ex() -> EmbeddedExchange:
    ex = EmbeddedExchange(seed=5, pairs=(), perp_pairs=("BTC-USDT",), agent=False, funding_interval=None)
    for key in (ISO, CROSS):
        ex.create_account(key, key + "secret", futures_balances={"USDT": D("10000")}, futures_maker_fee=D(0),
                          futures_taker_fee=D(0), leverage={"BTC-USDT": 10})
    ex.create_account(MK, "mksecret", futures_balances={"USDT": D("100000000")}, futures_maker_fee=D(0),
                      futures_taker_fee=D(0))
    return ex


def aid(ex: EmbeddedExchange, key: str) -> str:
    return ex.account_by_key(key).account_id


def order(ex: EmbeddedExchange, key: str, side: str, qty: str, price: str | None = None):
    return ex.futures_engine.submit(aid(ex, key), OrderRequest(
        "BTCUSDT", side, "MARKET" if price is None else "LIMIT", "GTC", D(qty), None,
        None if price is None else D(price), None, "NONE"))


def test_isolated_margin_is_allocated_released_and_only_it_is_lost_on_liquidation() -> None:
    ex = make_ex()
    ledger = ex.futures_engine.ledger
    events: list = []
    ex.futures_engine.listeners.append(lambda ev: events.append(ev) if isinstance(ev, AccountEvent) else None)
    ledger.set_margin_mode(aid(ex, ISO), "BTCUSDT", "ISOLATED")
    with pytest.raises(SimReject) as e:
        ledger.set_margin_mode(aid(ex, ISO), "BTCUSDT", "ISOLATED")
    assert e.value.reason is Reject.MARGIN_MODE_UNCHANGED
    ex.set_mark_price("BTC-USDT", D("60000"))
    order(ex, MK, "SELL", "0.2", "60000")
    for key in (ISO, CROSS):
        assert order(ex, key, "BUY", "0.1").status == "FILLED"
    iso = ex.account_by_key(ISO).futures
    pos = iso.positions[("BTCUSDT", "NET")]
    # opening 0.1 at 60000 with leverage 10 allocates 600 of the wallet to the position
    assert pos.isolated_margin == D("600") and ledger.isolated_margin(iso) == D("600")
    assert ex.futures_balance(ISO) == D("10000")                 # the wallet still holds it
    assert ledger.available(aid(ex, ISO)) == D("9400")
    # the mark rises: the cross position's profit backs more orders, the isolated one's does not
    ex.set_mark_price("BTC-USDT", D("61000"))
    assert ledger.available(aid(ex, ISO)) == D("9400")
    assert ledger.available(aid(ex, CROSS)) == D("10000") + D("100") - D("0.1") * D("61000") / 10
    # the margin mode cannot change under a position (nor under open orders)
    with pytest.raises(SimReject) as e:
        ledger.set_margin_mode(aid(ex, ISO), "BTCUSDT", "CROSS")
    assert e.value.reason is Reject.MARGIN_MODE_OPEN_POSITIONS
    # reducing half releases half the margin; realized PnL is paid to the wallet
    order(ex, MK, "BUY", "0.05", "61000")
    order(ex, ISO, "SELL", "0.05")
    assert (pos.amount, pos.isolated_margin) == (D("0.05"), D("300"))
    assert ex.futures_balance(ISO) == D("10050")
    assert ledger.available(aid(ex, ISO)) == D("10050") - D("300")
    # liquidation where margin + unrealized = maintenance: between 54200 and 54300 here
    liq = ledger.liquidation_price(iso, "BTCUSDT", pos)
    assert liq == (D("0.05") * D("60000") - D("300")) / (D("0.05") * (1 - MAINTENANCE_RATE))
    assert D("54200") < liq < D("54300")
    events.clear()
    ex.set_mark_price("BTC-USDT", D("54300"))       # equity 15 > maintenance 10.86: kept
    assert pos.amount == D("0.05") and events == []
    ex.set_mark_price("BTC-USDT", D("54200"))       # equity 10 <= maintenance 10.84: liquidated
    assert (pos.amount, pos.isolated_margin) == (0, 0)
    assert ex.futures_balance(ISO) == D("10050") - D("300")       # exactly the isolated margin is lost
    assert ex.income(ISO)[-1].income_type == "REALIZED_PNL" and ex.income(ISO)[-1].income == D("-300")
    (ev,) = events
    assert ev.reason == "LIQUIDATION" and ev.owner == aid(ex, ISO)
    assert ev.positions[0]["amount"] == 0 and ev.balances[0][1] == D("9750")
    # the cross account's position is not liquidated by the sim
    assert ex.positions(CROSS)[("BTCUSDT", "NET")]["amount"] == D("0.1")
    assert ledger.available(aid(ex, ISO)) == D("9750")


def test_a_flip_through_zero_releases_the_old_margin_and_allocates_the_new() -> None:
    ex = make_ex()
    ledger = ex.futures_engine.ledger
    ledger.set_margin_mode(aid(ex, ISO), "BTCUSDT", "ISOLATED")
    ex.set_mark_price("BTC-USDT", D("60000"))
    order(ex, MK, "SELL", "0.1", "60000")
    order(ex, ISO, "BUY", "0.1")
    order(ex, MK, "BUY", "0.3", "59000")
    order(ex, ISO, "SELL", "0.3")                   # closes 0.1 (loss 100), opens 0.2 short at 59000
    pos = ex.account_by_key(ISO).futures.positions[("BTCUSDT", "NET")]
    assert (pos.amount, pos.entry_price) == (D("-0.2"), D("59000"))
    assert pos.isolated_margin == D("0.2") * D("59000") / 10
    assert ex.futures_balance(ISO) == D("9900")
    # a short is liquidated when the mark rises; its liquidation price is above the entry
    assert ledger.liquidation_price(ex.account_by_key(ISO).futures, "BTCUSDT", pos) > D("59000")


def test_binance_margin_type_switches_to_isolated_and_reports_it() -> None:
    async def main() -> None:
        ex = make_ex()
        async with ex, aiohttp.ClientSession() as s:
            f = SignedClient(s, ex.futures_rest_url, ISO, ISO + "secret")

            async def margin_type(mtype: str):
                return await f("POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": mtype})

            assert await margin_type("ISOLATED") == (200, {"code": 200, "msg": "success"})
            st, body = await margin_type("ISOLATED")
            assert (st, body["code"], body["msg"]) == (400, -4046, "No need to change margin type.")
            st, body = await margin_type("MIXED")
            assert (st, body["code"]) == (400, -1100)           # illegal value
            ex.set_mark_price("BTC-USDT", D("60000"))
            order(ex, MK, "SELL", "1", "60000")
            st, _ = await f("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                       "timeInForce": "GTC", "quantity": "0.1", "price": "50000"})
            assert st == 200
            st, body = await margin_type("CROSSED")
            assert (st, body["code"]) == (400, -4047)          # an open order
            await f("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"})
            st, _ = await f("POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                       "quantity": "0.1"})
            assert st == 200
            st, body = await margin_type("CROSSED")
            assert (st, body["code"]) == (400, -4048)          # a position
            st, rows = await f("GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"})
            (row,) = rows
            assert (row["marginType"], row["isolatedWallet"], row["isolatedMargin"]) == (
                "isolated", "600.00000000", "600.00000000")
            assert D("54000") < D(row["liquidationPrice"]) < D("54300")
            st, acct = await f("GET", "/fapi/v2/account", {})
            assert D(acct["totalWalletBalance"]) == D("10000") and D(acct["totalCrossWalletBalance"]) == D("9400")
            assert D(acct["availableBalance"]) == D("9400")
    asyncio.run(asyncio.wait_for(main(), 30))
