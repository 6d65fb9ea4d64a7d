"""Unit tests of the OKX v5 trading translation, on OKX's documented signing inputs and
payloads shaped on the docs' field tables (Order Book Trading, Trading Account, Public Data)."""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from order_stub import order_factory

from hbconnect.connector.contract import (AccountSettings, BalanceUpdate, PositionUpdate, StreamShape,
                                          VenueRequest, WsOrderReply)
from hbconnect.core import errors
from hbconnect.core.in_flight_order import OrderUpdate, TradeUpdate
from hbconnect.core.throttler import Throttler, keyed_limit_id
from hbconnect.core.types import (MarginMode, OrderState, OrderType, PositionAction, PositionMode, PositionSide,
                                  TradeType)
from hbconnect.exchanges.okx import OkxPerpetualTrading, OkxSpotTrading
from hbconnect.exchanges.okx import constants as k
from hbconnect.exchanges.okx.trading import iso_timestamp

D = Decimal
# OKX's documented signing inputs ("Overview / REST Authentication / Signature"): the example
# SecretKey, timestamp, requestPath and body. OKX publishes no digest for them; the expected
# values below were computed outside this code base, with
#   printf '%s' "<prehash>" | openssl dgst -sha256 -hmac 22582BD0CFF14C41EDBF1AB98506286D -binary | base64
DOC_SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
DOC_TS_MS = 1607418537715  # 2020-12-08T09:08:57.715Z
DOC_GET_SIGN = "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="  # GET /api/v5/account/balance?ccy=BTC
DOC_POST_BODY = '{"instId":"BTC-USDT","lever":"5","mgnMode":"isolated"}'
DOC_POST_SIGN = "eCnnCgWLjlQ9XnpUkrcny3qNq3WW/81KNrDr/XR6Xv8="  # POST /api/v5/account/set-leverage + body
LOGIN_SIGN = "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="  # "1538054050GET/users/self/verify"
KEY, PASSPHRASE = "985d5b66-57ce-40fb-b714-afc0b9787083", "123456"

SPOT_INSTRUMENT = {
    "instType": "SPOT", "instId": "BTC-USDT", "uly": "", "instFamily": "", "baseCcy": "BTC", "quoteCcy": "USDT",
    "settleCcy": "", "ctVal": "", "ctMult": "", "ctValCcy": "", "listTime": "1606468572000", "lever": "10",
    "tickSz": "0.1", "lotSz": "0.00000001", "minSz": "0.00001", "ctType": "", "state": "live",
    "ruleType": "normal", "maxLmtSz": "9999999999", "maxMktSz": "1000000",
}
SWAP_INSTRUMENT = {
    "instType": "SWAP", "instId": "BTC-USDT-SWAP", "uly": "BTC-USDT", "instFamily": "BTC-USDT", "baseCcy": "",
    "quoteCcy": "", "settleCcy": "USDT", "ctVal": "0.01", "ctMult": "1", "ctValCcy": "BTC", "lever": "100",
    "tickSz": "0.1", "lotSz": "0.01", "minSz": "0.01", "ctType": "linear", "state": "live",
    "ruleType": "normal", "maxLmtSz": "100000", "maxMktSz": "12000",
}
INVERSE_SWAP = dict(SWAP_INSTRUMENT, instId="BTC-USD-SWAP", uly="BTC-USD", instFamily="BTC-USD", settleCcy="BTC",
                    ctVal="100", ctValCcy="USD", ctType="inverse")


def ok(data: list) -> dict:
    return {"code": "0", "msg": "", "data": data}


def spot() -> OkxSpotTrading:
    venue = OkxSpotTrading(KEY, DOC_SECRET, PASSPHRASE, rest_url="https://okx.test")
    venue.parse_trading_rules(ok([SPOT_INSTRUMENT, dict(SPOT_INSTRUMENT, instId="ETH-USDT", baseCcy="ETH")]))
    return venue


def swap() -> OkxPerpetualTrading:
    venue = OkxPerpetualTrading(KEY, DOC_SECRET, PASSPHRASE, rest_url="https://okx.test")
    venue.parse_trading_rules(ok([SWAP_INSTRUMENT, INVERSE_SWAP]))
    return venue


order = order_factory(amount="0.5", price="60000.1", cid="hbcb1a2b", eid="312269865356374016")


# ---- signing ----

def test_iso_timestamp_is_the_documented_format() -> None:
    assert iso_timestamp(DOC_TS_MS) == "2020-12-08T09:08:57.715Z"
    assert iso_timestamp(1607418537005) == "2020-12-08T09:08:57.005Z"


def test_signed_get_reproduces_the_docs_example() -> None:
    venue = OkxSpotTrading(KEY, DOC_SECRET, PASSPHRASE)
    prepared = venue.prepare(VenueRequest("GET", "/api/v5/account/balance", {"ccy": "BTC"}, signed=True), DOC_TS_MS)
    assert prepared.url == "https://www.okx.com/api/v5/account/balance?ccy=BTC"
    assert prepared.params is None and prepared.body is None
    assert prepared.headers == {"OK-ACCESS-KEY": KEY, "OK-ACCESS-SIGN": DOC_GET_SIGN,
                                "OK-ACCESS-TIMESTAMP": "2020-12-08T09:08:57.715Z", "OK-ACCESS-PASSPHRASE": PASSPHRASE}


def test_signed_post_reproduces_the_docs_example_body() -> None:
    venue = OkxSpotTrading(KEY, DOC_SECRET, PASSPHRASE)
    req = VenueRequest("POST", "/api/v5/account/set-leverage",
                       {"instId": "BTC-USDT", "lever": "5", "mgnMode": "isolated"}, signed=True)
    prepared = venue.prepare(req, DOC_TS_MS)
    assert prepared.body == DOC_POST_BODY
    assert prepared.headers["OK-ACCESS-SIGN"] == DOC_POST_SIGN
    assert prepared.headers["Content-Type"] == "application/json"
    for text in (repr(prepared), repr(venue), repr(venue.credentials)):
        assert DOC_SECRET not in text and DOC_POST_SIGN not in text and PASSPHRASE not in text


def test_websocket_login_signs_timestamp_get_users_self_verify() -> None:
    venue = OkxSpotTrading(KEY, DOC_SECRET, PASSPHRASE)
    msg = json.loads(venue.user_stream_login(1538054050_123))
    assert msg == {"op": "login", "args": [{"apiKey": KEY, "passphrase": PASSPHRASE, "timestamp": "1538054050",
                                            "sign": LOGIN_SIGN}]}
    assert venue.user_stream_shape is StreamShape.LOGIN and venue.user_stream_ping == "ping"


def test_order_placement_carries_exp_time_of_the_order_window() -> None:
    venue = spot()
    prepared = venue.prepare(venue.place_order_request(order(), AccountSettings()), 1_700_000_000_000)
    assert prepared.headers["expTime"] == str(1_700_000_000_000 + 5000)
    # "User ID + Instrument ID": each instrument has its own order budget
    assert not prepared.idempotent and prepared.limit_id == keyed_limit_id(k.PLACE_ORDER, "BTC-USDT")
    assert venue.order_not_accepted_after == pytest.approx(7.0)
    status = venue.prepare(venue.order_status_request(order()), 1)
    assert status.limit_id == keyed_limit_id(k.GET_ORDER, "BTC-USDT") and "expTime" not in status.headers
    cancel = venue.prepare(venue.cancel_order_request(order()), 1)
    assert cancel.limit_id == keyed_limit_id(k.CANCEL_ORDER, "BTC-USDT")
    assert status.url.endswith("/api/v5/trade/order?instId=BTC-USDT&ordId=312269865356374016")


def test_rate_limits_are_the_documented_budgets() -> None:
    limits = {rl.limit_id: rl for rl in k.rate_limits()}
    assert (limits[k.PLACE_ORDER].limit, limits[k.PLACE_ORDER].time_interval) == (60, 2.0)
    assert (limits[k.BALANCE].limit, limits[k.BALANCE].time_interval) == (10, 2.0)
    assert (limits[k.SET_POSITION_MODE].limit, limits[k.BILLS].time_interval) == (5, 1.0)
    assert limits[k.SUB_ACCOUNT_ORDERS].limit == 1000
    # WebSocket order entry draws on the REST order budget (shared, per the docs)
    linked = {p.limit_id for p in limits[k.WS_ORDER].linked_limits}
    assert linked == {k.PLACE_ORDER, k.SUB_ACCOUNT_ORDERS}
    throttler = Throttler(k.rate_limits(), safety_margin=0)  # consistent: every link resolves
    assert throttler.usage(k.PLACE_ORDER) == (0, 60)
    assert {rl.limit_id for rl in k.rate_limits() if rl.per_key} == {
        k.PLACE_ORDER, k.GET_ORDER, k.CANCEL_ORDER, k.WS_ORDER, k.WS_CANCEL}


def test_order_budgets_are_per_instrument_and_shared_with_websocket_entry() -> None:
    """60 orders per 2 s per instrument (REST and WebSocket together), 1000 per sub-account."""
    waits: list = []

    class Waited(Exception):
        pass

    async def sleep(delay: float) -> None:      # the clock stands still: record the wait, stop
        waits.append(delay)
        raise Waited

    throttler = Throttler(k.rate_limits(), safety_margin=0, time_fn=lambda: 100.0, sleep_fn=sleep)

    async def go() -> None:
        for _ in range(30):
            await throttler.acquire(keyed_limit_id(k.PLACE_ORDER, "BTC-USDT"))
            await throttler.acquire(keyed_limit_id(k.WS_ORDER, "BTC-USDT"))
        for _ in range(60):
            await throttler.acquire(keyed_limit_id(k.PLACE_ORDER, "ETH-USDT"))
        assert waits == []                      # 120 orders, none waited
        assert throttler.usage(keyed_limit_id(k.PLACE_ORDER, "BTC-USDT")) == (60, 60)
        assert throttler.usage(k.SUB_ACCOUNT_ORDERS) == (120, 1000)
        with pytest.raises(Waited):            # the 61st BTC order waits for its window
            await throttler.acquire(keyed_limit_id(k.WS_ORDER, "BTC-USDT"))
        assert waits == [pytest.approx(2.0)]
        await throttler.acquire(keyed_limit_id(k.CANCEL_ORDER, "BTC-USDT"))   # its own budget

    asyncio.run(go())


# ---- rules, symbols, contracts ----

def test_spot_rules_from_instruments() -> None:
    venue = spot()
    rule = venue.parse_trading_rules(ok([SPOT_INSTRUMENT, dict(SPOT_INSTRUMENT, instId="X-USDT", state="suspend"),
                                         {"instId": "BAD", "instType": "SPOT", "state": "live"}]))
    assert [r.trading_pair for r in rule] == ["BTC-USDT"]
    r = rule[0]
    assert (r.min_price_increment, r.min_base_amount_increment, r.min_order_size) == (D("0.1"), D("0.00000001"),
                                                                                       D("0.00001"))
    assert r.sell_order_collateral_token == "BTC" and r.buy_order_collateral_token == "USDT"
    assert venue.to_venue_symbol("BTC-USDT") == "BTC-USDT" and venue.from_venue_symbol("BTC-USDT") == "BTC-USDT"
    with pytest.raises(ValueError):
        venue.from_venue_symbol("X-USDT")


def test_swap_rules_are_in_base_units_and_inverse_swaps_are_left_out() -> None:
    venue = swap()
    rules = venue.parse_trading_rules(ok([SWAP_INSTRUMENT, INVERSE_SWAP]))
    assert [r.trading_pair for r in rules] == ["BTC-USDT"]
    r = rules[0]
    assert r.min_order_size == D("0.0001") and r.min_base_amount_increment == D("0.0001")
    assert r.max_order_size == D("1000") and r.sell_order_collateral_token == "USDT"
    assert venue.to_venue_symbol("BTC-USDT") == "BTC-USDT-SWAP"
    assert venue.to_size("BTC-USDT", D("0.5")) == D("50")
    assert venue.to_base("BTC-USDT", "3") == D("0.03")


# ---- orders ----

def test_spot_order_bodies() -> None:
    venue = spot()
    body = venue.place_order_request(order(), AccountSettings()).params
    assert body == {"instId": "BTC-USDT", "tdMode": "cash", "clOrdId": "hbcb1a2b", "side": "buy",
                    "ordType": "limit", "sz": "0.5", "px": "60000.1"}
    maker = venue.place_order_request(order(order_type=OrderType.LIMIT_MAKER, trade_type=TradeType.SELL),
                                      AccountSettings()).params
    assert maker["ordType"] == "post_only" and maker["side"] == "sell"
    market = venue.place_order_request(order(order_type=OrderType.MARKET), AccountSettings()).params
    assert market["ordType"] == "market" and market["tgtCcy"] == "base_ccy" and "px" not in market


def test_swap_order_bodies_in_contracts_with_margin_and_position_mode() -> None:
    venue = swap()
    net = venue.place_order_request(order(amount="0.25"), AccountSettings()).params
    assert net["sz"] == "25" and net["tdMode"] == "cross" and net["instId"] == "BTC-USDT-SWAP"
    assert "posSide" not in net and "reduceOnly" not in net and "tgtCcy" not in net
    close = venue.place_order_request(order(trade_type=TradeType.SELL, position=PositionAction.CLOSE),
                                      AccountSettings(margin_mode=MarginMode.ISOLATED)).params
    assert close["reduceOnly"] is True and close["tdMode"] == "isolated"
    hedge = AccountSettings(position_mode=PositionMode.HEDGE)
    cases = [(TradeType.BUY, PositionAction.OPEN, "long"), (TradeType.SELL, PositionAction.CLOSE, "long"),
             (TradeType.SELL, PositionAction.OPEN, "short"), (TradeType.BUY, PositionAction.CLOSE, "short")]
    for side, action, pos_side in cases:
        args = venue.place_order_request(order(trade_type=side, position=action), hedge).params
        assert args["posSide"] == pos_side and "reduceOnly" not in args
    prepared = venue.prepare(venue.place_order_request(order(position=PositionAction.CLOSE), AccountSettings()), 1)
    assert '"reduceOnly":true' in prepared.body


def test_client_order_ids_follow_okx_rules() -> None:
    venue = OkxSpotTrading()
    ids = {venue.new_client_order_id(i % 2 == 0, "BTC-USDT") for i in range(500)}
    assert len(ids) == 500
    assert all(1 <= len(i) <= 32 and i.isascii() and i.isalnum() for i in ids)
    with pytest.raises(ValueError):
        OkxSpotTrading(client_id_prefix="x-HB")


def test_place_and_cancel_answers() -> None:
    venue = spot()
    body = {"code": "0", "msg": "", "data": [{"clOrdId": "hbcb1a2b", "ordId": "312269865356374016", "tag": "",
                                              "ts": "1695190491421", "sCode": "0", "sMsg": ""}],
            "inTime": "1695190491421339", "outTime": "1695190491423240"}
    assert venue.check_response(200, body, {}) is None
    update, fills = venue.parse_place_order(body, order(eid=None), 5.0)
    assert update.new_state is OrderState.OPEN and update.exchange_order_id == "312269865356374016"
    assert update.update_timestamp == pytest.approx(1695190491.421) and fills == []
    cancel = venue.parse_cancel_order(body, order(), 5.0)
    assert cancel.new_state is OrderState.PENDING_CANCEL
    ref = venue.cancel_order_request(order(eid=None)).params
    assert ref == {"instId": "BTC-USDT", "clOrdId": "hbcb1a2b"}


# ---- errors, 200 bodies included ----

def test_rejection_in_a_200_body_is_the_error_of_its_scode() -> None:
    venue = spot()
    body = {"code": "1", "msg": "Operation failed.", "data": [
        {"clOrdId": "hbcb1a2b", "ordId": "", "tag": "", "ts": "1695190491421", "sCode": "51008",
         "sMsg": "Order failed. Insufficient USDT balance in account"}]}
    err = venue.check_response(200, body, {})
    assert isinstance(err, errors.InsufficientBalance) and err.code == "51008" and "Insufficient" in err.message
    assert isinstance(venue.check_response(200, dict(body, data=[dict(body["data"][0], sCode="51121")]), {}),
                      errors.InvalidOrder)
    dup = venue.check_response(200, dict(body, data=[dict(body["data"][0], sCode="51016")]), {})
    assert type(dup) is errors.OrderRejected
    gone = venue.check_response(200, dict(body, data=[dict(body["data"][0], sCode="51400")]), {})
    assert isinstance(gone, errors.OrderNotFound) and venue.is_order_not_found(gone)
    assert isinstance(venue.check_response(200, {"code": "51603", "msg": "Order does not exist", "data": []}, {}),
                      errors.OrderNotFound)


def test_gateway_errors() -> None:
    venue = spot()
    limited = venue.check_response(429, {"code": "50011", "msg": "Too Many Requests"}, {"Retry-After": "2"})
    assert isinstance(limited, errors.RateLimitError) and limited.retry_after == 2.0
    assert isinstance(venue.check_response(200, {"code": "50011", "msg": "Rate limit reached.", "data": []}, {}),
                      errors.RateLimitError)
    assert isinstance(venue.check_response(401, {"code": "50113", "msg": "Invalid Sign"}, {}),
                      errors.AuthenticationError)
    assert isinstance(venue.check_response(401, {"code": "50102", "msg": "Timestamp request expired"}, {}),
                      errors.TimeSyncError)
    unknown = venue.check_response(200, {"code": "50004", "msg": "API endpoint request timeout", "data": []}, {})
    assert unknown.outcome_unknown
    assert isinstance(venue.check_response(503, b"<html>maintenance</html>", {}), errors.ServiceUnavailable)
    assert isinstance(venue.check_response(200, b"not json", {}), errors.ExchangeError)
    assert isinstance(venue.check_response(200, {"code": "0", "data": []}, {}), type(None))


# ---- status, fills ----

ORDER_DETAIL = {
    "instType": "SPOT", "instId": "BTC-USDT", "tgtCcy": "", "ccy": "", "ordId": "312269865356374016",
    "clOrdId": "hbcb1a2b", "tag": "", "px": "60000.1", "sz": "0.5", "pnl": "0", "ordType": "limit",
    "side": "buy", "posSide": "net", "tdMode": "cash", "accFillSz": "0.2", "fillPx": "60000.1",
    "tradeId": "12345", "fillSz": "0.2", "fillTime": "1597026383085", "avgPx": "60000.1",
    "state": "partially_filled", "lever": "", "feeCcy": "BTC", "fee": "-0.0002", "rebateCcy": "USDT",
    "rebate": "0", "source": "", "category": "normal", "reduceOnly": "false", "cancelSource": "",
    "uTime": "1597026383085", "cTime": "1597026383085",
}


def test_order_status_states() -> None:
    venue = spot()
    upd = venue.parse_order_status(ok([ORDER_DETAIL]), order(), 1.0)
    assert upd.new_state is OrderState.PARTIALLY_FILLED and upd.executed_amount_base == D("0.2")
    assert upd.client_order_id == "hbcb1a2b" and upd.update_timestamp == pytest.approx(1597026383.085)
    for state, expected in (("live", OrderState.OPEN), ("filled", OrderState.FILLED),
                            ("canceled", OrderState.CANCELED), ("mmp_canceled", OrderState.CANCELED)):
        assert venue.parse_order_status(ok([dict(ORDER_DETAIL, state=state)]), order(), 1.0).new_state is expected
    post_only = dict(ORDER_DETAIL, state="canceled", accFillSz="0", ordType="post_only", cancelSource="31")
    failed = venue.parse_order_status(ok([post_only]), order(), 1.0)
    assert failed.new_state is OrderState.FAILED and "post-only" in failed.error_message
    with pytest.raises(ValueError):
        venue.parse_order_status(ok([dict(ORDER_DETAIL, state="weird")]), order(), 1.0)


FILL = {"instType": "SPOT", "instId": "BTC-USDT", "tradeId": "123", "ordId": "312269865356374016",
        "clOrdId": "hbcb1a2b", "billId": "9", "subType": "1", "tag": "", "fillPx": "60000.1", "fillSz": "0.2",
        "side": "buy", "posSide": "", "execType": "M", "feeCcy": "BTC", "fee": "-0.0002", "ts": "1597026383085",
        "fillTime": "1597026383085"}


def test_fills_with_fee_in_the_fee_currency_rebates_negative() -> None:
    venue = spot()
    other = dict(FILL, ordId="1", tradeId="124")
    rebate = dict(FILL, tradeId="125", fee="0.01", feeCcy="USDT", execType="T")
    trades = venue.parse_order_fills(ok([FILL, other, rebate]), order())
    assert [t.trade_id for t in trades] == ["123", "125"]
    t = trades[0]
    assert isinstance(t, TradeUpdate) and t.fill_base_amount == D("0.2") and t.fill_price == D("60000.1")
    assert t.fee.flat_fees[0].token == "BTC" and t.fee.flat_fees[0].amount == D("0.0002")
    assert t.is_taker is False and trades[1].is_taker is True
    assert trades[1].fee.flat_fees[0].amount == D("-0.01")


def test_swap_fills_and_state_are_converted_from_contracts() -> None:
    venue = swap()
    detail = dict(ORDER_DETAIL, instType="SWAP", instId="BTC-USDT-SWAP", accFillSz="30", state="filled")
    assert venue.parse_order_status(ok([detail]), order(), 1.0).executed_amount_base == D("0.3")
    fill = dict(FILL, instType="SWAP", instId="BTC-USDT-SWAP", fillSz="30", feeCcy="USDT", fee="-0.9",
                posSide="short", side="buy")
    t = venue.parse_order_fills(ok([fill]), order())[0]
    assert t.fill_base_amount == D("0.3") and t.fee.flat_fees[0].amount == D("0.9")
    assert t.fee.deducted_from_returns  # buy + short: closing


# ---- private stream ----

def orders_push(**fields) -> str:
    o = dict(ORDER_DETAIL, fillSz="0.2", fillPx="60000.1", tradeId="123", fillFee="-0.0002", fillFeeCcy="BTC",
             execType="T", fillTime="1597026383085")
    o.update(fields)
    return json.dumps({"arg": {"channel": "orders", "instType": "SPOT", "uid": "77"}, "data": [o]})


def test_orders_push_gives_fill_then_state() -> None:
    venue = spot()
    events = venue.parse_user_stream(orders_push())
    assert isinstance(events[0], TradeUpdate) and isinstance(events[1], OrderUpdate)
    assert events[0].trade_id == "123" and events[0].is_taker and events[0].fee.flat_fees[0].amount == D("0.0002")
    assert events[1].new_state is OrderState.PARTIALLY_FILLED
    no_fill = venue.parse_user_stream(orders_push(tradeId="", fillSz="0", state="live", accFillSz="0"))
    assert len(no_fill) == 1 and no_fill[0].new_state is OrderState.OPEN


def test_account_push_and_acks() -> None:
    venue = spot()
    push = {"arg": {"channel": "account", "uid": "77"}, "eventType": "event_update", "data": [
        {"uTime": "1597026383085", "totalEq": "41624.32", "details": [
            {"ccy": "USDT", "eq": "100", "cashBal": "100", "availBal": "90", "frozenBal": "10", "uTime": "1"}]}]}
    (bal,) = venue.parse_user_stream(json.dumps(push))
    assert isinstance(bal, BalanceUpdate) and not bal.complete
    assert (bal.entries[0].asset, bal.entries[0].total, bal.entries[0].available) == ("USDT", D("100"), D("90"))
    assert venue.parse_user_stream("pong") == []
    assert venue.parse_user_stream('{"event":"subscribe","arg":{"channel":"orders","instType":"SPOT"},'
                                   '"connId":"a4d3ae55"}') == []
    with pytest.raises(ValueError):
        venue.parse_user_stream('{"arg":{"channel":"orders"},"data":{}}')


def test_login_reply() -> None:
    venue = spot()
    assert venue.parse_login_reply('{"event":"login","code":"0","msg":"","connId":"a4d3ae55"}') is True
    assert venue.parse_login_reply("pong") is None
    assert venue.parse_login_reply('{"event":"subscribe","arg":{"channel":"account"}}') is None
    with pytest.raises(errors.AuthenticationError):
        venue.parse_login_reply('{"event":"error","code":"60009","msg":"Login failed.","connId":"a4d3ae55"}')
    with pytest.raises(errors.TimeSyncError):
        venue.parse_login_reply('{"event":"error","code":"60006","msg":"Timestamp request expired"}')


def test_subscriptions() -> None:
    (sub,) = spot().user_stream_subscriptions(0)
    assert json.loads(sub) == {"op": "subscribe", "args": [{"channel": "orders", "instType": "SPOT"},
                                                            {"channel": "account"}]}
    (sub,) = swap().user_stream_subscriptions(0)
    assert json.loads(sub)["args"][2] == {"channel": "positions", "instType": "SWAP"}


# ---- WebSocket order entry ----

def test_ws_order_messages_and_replies() -> None:
    venue = spot()
    msg = json.loads(venue.ws_place_order_message(order(), AccountSettings(), "1512", 1_700_000_000_000))
    assert msg["id"] == "1512" and msg["op"] == "order" and msg["expTime"] == "1700000005000"
    assert msg["args"][0]["clOrdId"] == "hbcb1a2b" and msg["args"][0]["ordType"] == "limit"
    cancel = json.loads(venue.ws_cancel_order_message(order(), "1513", 0))
    assert cancel == {"id": "1513", "op": "cancel-order",
                      "args": [{"instId": "BTC-USDT", "ordId": "312269865356374016"}]}
    good = {"id": "1512", "op": "order", "code": "0", "msg": "", "data": [
        {"clOrdId": "hbcb1a2b", "ordId": "12345689", "tag": "", "ts": "1695190491421", "sCode": "0", "sMsg": ""}],
        "inTime": "1695190491421339", "outTime": "1695190491423240"}
    reply = venue.parse_ws_order_reply(json.dumps(good))
    assert isinstance(reply, WsOrderReply) and reply.request_id == "1512" and reply.error is None
    assert venue.parse_place_order(reply.data, order(eid=None), 0.0)[0].exchange_order_id == "12345689"
    bad = dict(good, code="1", msg="", data=[dict(good["data"][0], ordId="", sCode="51008", sMsg="Insufficient")])
    reply = venue.parse_ws_order_reply(json.dumps(bad))
    assert isinstance(reply.error, errors.InsufficientBalance) and reply.error.code == "51008"
    assert venue.parse_ws_order_reply("pong") is None
    assert venue.parse_ws_order_reply(orders_push()) is None


# ---- perpetual account ----

POSITION = {"instType": "SWAP", "mgnMode": "cross", "posId": "1", "posSide": "net", "pos": "-25", "ccy": "USDT",
            "posCcy": "", "avgPx": "60000", "upl": "-1.5", "lever": "10", "instId": "BTC-USDT-SWAP",
            "uTime": "1597026383085", "cTime": "1597026383085", "markPx": "60010"}


def test_positions_in_base_units() -> None:
    venue = swap()
    snap = venue.parse_positions(ok([POSITION, dict(POSITION, instId="ETH-USDT-SWAP")]))
    (p,) = snap.positions
    assert p.side is PositionSide.SHORT and p.amount == D("-0.25") and p.entry_price == D("60000")
    assert p.leverage == 10 and p.unrealized_pnl == D("-1.5")
    long = venue.parse_positions(ok([dict(POSITION, posSide="long", pos="10")])).positions[0]
    assert long.side is PositionSide.LONG and long.amount == D("0.1")
    short = venue.parse_positions(ok([dict(POSITION, posSide="short", pos="10")])).positions[0]
    assert short.side is PositionSide.SHORT and short.amount == D("-0.1")
    push = json.dumps({"arg": {"channel": "positions", "instType": "SWAP"}, "data": [POSITION]})
    (pu,) = venue.parse_user_stream(push)
    assert isinstance(pu, PositionUpdate) and pu.amount == D("-0.25")


def test_leverage_position_mode_funding() -> None:
    venue = swap()
    lev = venue.set_leverage_request("BTC-USDT", 7, AccountSettings(margin_mode=MarginMode.ISOLATED))
    assert lev.params == {"instId": "BTC-USDT-SWAP", "lever": "7", "mgnMode": "isolated"} and lev.signed
    with pytest.raises(ValueError):
        venue.set_leverage_request("BTC-USDT", 7, AccountSettings(position_mode=PositionMode.HEDGE,
                                                                  margin_mode=MarginMode.ISOLATED))
    assert venue.parse_set_leverage(ok([{"lever": "7", "mgnMode": "isolated", "instId": "BTC-USDT-SWAP",
                                          "posSide": ""}])) == 7
    assert venue.parse_position_mode(ok([{"uid": "1", "posMode": "long_short_mode"}])) is PositionMode.HEDGE
    assert venue.parse_position_mode(ok([{"uid": "1", "posMode": "net_mode"}])) is PositionMode.ONEWAY
    assert venue.set_position_mode_request(PositionMode.HEDGE).params == {"posMode": "long_short_mode"}
    margin = venue.set_margin_mode_request("BTC-USDT", MarginMode.ISOLATED)
    assert (margin.method, margin.path, margin.params) == ("GET", k.LEVERAGE_INFO,
                                                           {"instId": "BTC-USDT-SWAP", "mgnMode": "isolated"})
    info = venue.parse_funding_info(ok([{"instType": "SWAP", "instId": "BTC-USDT-SWAP", "fundingRate": "0.0001",
                                         "fundingTime": "1703088000000", "nextFundingTime": "1703116800000"}]))
    assert info.rate == D("0.0001") and info.next_funding_utc_timestamp == 1703088000.0
    bills = ok([{"bal": "8", "balChg": "-0.05", "billId": "623950854533513219", "ccy": "USDT", "fee": "0",
                 "instId": "BTC-USDT-SWAP", "instType": "SWAP", "subType": "173", "ts": "1703088000000", "type": "8"},
                {"balChg": "1", "billId": "2", "ccy": "USDT", "instId": "BTC-USDT-SWAP", "type": "2", "ts": "1"}])
    (pay,) = venue.parse_funding_payments(bills)
    assert pay.amount == D("-0.05") and pay.asset == "USDT" and pay.payment_id == "623950854533513219"
    req = venue.funding_payments_request(1703000000000)
    assert req.params == {"instType": "SWAP", "type": "8", "begin": "1703000000000"}
