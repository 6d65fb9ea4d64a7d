"""Unit tests of the Binance trading translation on Binance's documented requests and payloads."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from hbconnect.connector.contract import AccountSettings, BalanceUpdate, FundingHint, PositionUpdate, StreamExpired, VenueRequest
from hbconnect.core import errors
from hbconnect.core.in_flight_order import OrderUpdate, TradeUpdate
from hbconnect.core.throttler import Throttler
from hbconnect.core.types import (
    MarginMode,
    OrderState,
    OrderType,
    PositionAction,
    PositionMode,
    PositionSide,
    TradeType,
)
from hbconnect.exchanges import trading_venue
from hbconnect.exchanges.binance import BinancePerpetualTrading, BinanceSpotTrading
from hbconnect.exchanges.binance.constants import MAX_CLIENT_ORDER_ID_LENGTH, perp_rate_limits, spot_rate_limits
from hbconnect.core.credentials import hmac_sha256_hex as hmac_signature
from hbconnect.exchanges._instruments import Instrument
from hbconnect.exchanges.binance.trading import binance_error

D = Decimal
ONEWAY = AccountSettings()


def listed(venue: object, *symbols: str) -> object:
    """``venue`` with these symbols in its instrument table, as exchangeInfo lists them at start."""
    for symbol in symbols:
        base, quote = (symbol[:-4], symbol[-4:]) if symbol.endswith("USDT") else (symbol[:-3], symbol[-3:])
        venue.instruments.add(Instrument(f"{base}-{quote}", symbol, base, quote))
    return venue
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PAYLOAD = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
               "&recvWindow=5000&timestamp=1499827319559")
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def order(pair: str = "BTC-USDT", trade_type: TradeType = TradeType.BUY, order_type: OrderType = OrderType.LIMIT,
          amount: str = "0.001", price: str = "60000", cid: str = "x-HBCONNBBTCUSDT1", eid: str = "28",
          position: PositionAction = PositionAction.NIL) -> SimpleNamespace:
    return SimpleNamespace(trading_pair=pair, trade_type=trade_type, order_type=order_type, amount=D(amount),
                           price=D(price), client_order_id=cid, exchange_order_id=eid, position=position)


# ---- signing ----

def test_hmac_signature_matches_binance_published_example() -> None:
    assert hmac_signature(DOC_SECRET, DOC_PAYLOAD) == DOC_SIGNATURE


def test_signed_post_body_is_the_documented_request() -> None:
    venue = BinanceSpotTrading(DOC_KEY, DOC_SECRET)
    req = VenueRequest("POST", "/api/v3/order", {"symbol": "LTCBTC", "side": "BUY", "type": "LIMIT",
                                                 "timeInForce": "GTC", "quantity": D("1"), "price": D("0.1")},
                       signed=True, idempotent=False)
    prepared = venue.prepare(req, 1499827319559)
    assert prepared.method == "POST" and prepared.url == "https://api.binance.com/api/v3/order"
    assert prepared.body == f"{DOC_PAYLOAD}&signature={DOC_SIGNATURE}"
    assert prepared.params is None
    assert prepared.headers["X-MBX-APIKEY"] == DOC_KEY
    assert not prepared.idempotent
    # the repr of anything carrying the request never shows key, signature or body
    for text in (repr(prepared), str(prepared), repr(venue), repr(venue.credentials)):
        assert DOC_KEY not in text and DOC_SIGNATURE not in text and DOC_SECRET not in text


def test_signed_get_puts_signature_last_in_the_query() -> None:
    venue = BinanceSpotTrading(DOC_KEY, DOC_SECRET, rest_url="http://127.0.0.1:9", recv_window_ms=3000)
    prepared = venue.prepare(venue.balances_request(), 1700000000000)
    params = prepared.params
    assert list(params)[-3:] == ["recvWindow", "timestamp", "signature"]
    assert params["recvWindow"] == "3000" and params["timestamp"] == "1700000000000"
    unsigned = urlencode({k: v for k, v in params.items() if k != "signature"})
    assert params["signature"] == hmac_signature(DOC_SECRET, unsigned)
    assert prepared.url == "http://127.0.0.1:9/api/v3/account" and prepared.body is None


@pytest.mark.parametrize("text", [
    f"X-MBX-APIKEY: {DOC_KEY}",
    f"headers={{'X-MBX-APIKEY': '{DOC_KEY}'}}",
    f"PUT /api/v3/userDataStream?listenKey={DOC_KEY}",
    f'{{"listenKey": "{DOC_KEY}"}}',
])
def test_binance_field_names_are_redacted(text: str) -> None:
    """The Binance module declares the fields its key and stream key travel under."""
    out = errors.sanitize(text)
    assert DOC_KEY not in out and "***" in out


def test_unsigned_and_api_key_only_requests() -> None:
    venue = BinanceSpotTrading(DOC_KEY, DOC_SECRET)
    time_req = venue.prepare(venue.server_time_request(), 1)
    assert time_req.params is None and "X-MBX-APIKEY" not in time_req.headers
    lk = venue.prepare(venue.stream_token_request(), 1)
    assert lk.headers["X-MBX-APIKEY"] == DOC_KEY and lk.body is None and lk.params is None
    keep = venue.prepare(venue.stream_token_keepalive_request("abc"), 1)
    assert keep.method == "PUT" and keep.body == "listenKey=abc" and "signature" not in keep.body


def test_ed25519_keys_sign_as_binance_documents() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    venue = BinanceSpotTrading("edkey", None, private_key_pem=pem)
    prepared = venue.prepare(venue.balances_request(), 1668481559918)
    params = dict(prepared.params)
    sig = base64.b64decode(params.pop("signature"))
    key.public_key().verify(sig, urlencode(params).encode("ascii"))  # raises if wrong
    assert "PRIVATE" not in repr(venue) and "PRIVATE" not in repr(venue.credentials)


# ---- orders ----

def test_spot_order_params_per_type() -> None:
    venue = BinanceSpotTrading("k", "s")
    limit = venue.place_order_request(order(), ONEWAY).params
    assert limit == {"symbol": "BTCUSDT", "side": "BUY", "quantity": D("0.001"), "newClientOrderId": "x-HBCONNBBTCUSDT1",
                     "newOrderRespType": "FULL", "type": "LIMIT", "timeInForce": "GTC", "price": D("60000")}
    maker = venue.place_order_request(order(order_type=OrderType.LIMIT_MAKER, trade_type=TradeType.SELL), ONEWAY).params
    assert maker["type"] == "LIMIT_MAKER" and "timeInForce" not in maker and maker["side"] == "SELL"
    market = venue.place_order_request(order(order_type=OrderType.MARKET), ONEWAY).params
    assert market["type"] == "MARKET" and "price" not in market and "timeInForce" not in market
    assert not venue.place_order_request(order(), ONEWAY).idempotent
    body = venue.prepare(venue.place_order_request(order(amount="10.000", price="0.00100000"), ONEWAY), 1).body
    assert "quantity=10&" in body and "price=0.001&" in body  # no exponent, no trailing zeros


def test_perp_order_params_post_only_reduce_only_and_hedge() -> None:
    venue = BinancePerpetualTrading("k", "s")
    po = venue.place_order_request(order(order_type=OrderType.LIMIT_MAKER), ONEWAY).params
    assert po["type"] == "LIMIT" and po["timeInForce"] == "GTX"
    close = venue.place_order_request(order(trade_type=TradeType.SELL, position=PositionAction.CLOSE), ONEWAY).params
    assert close["reduceOnly"] == "true" and "positionSide" not in close
    hedge = AccountSettings(position_mode=PositionMode.HEDGE)  # the engine's state, passed in
    open_short = venue.place_order_request(order(trade_type=TradeType.SELL, position=PositionAction.OPEN), hedge).params
    close_long = venue.place_order_request(order(trade_type=TradeType.SELL, position=PositionAction.CLOSE), hedge).params
    assert open_short["positionSide"] == "SHORT" and close_long["positionSide"] == "LONG"
    assert "reduceOnly" not in close_long
    assert venue.prepare(venue.place_order_request(order(), ONEWAY), 1).url == "https://fapi.binance.com/fapi/v1/order"


def test_client_order_ids_carry_broker_prefix_and_respect_the_cap() -> None:
    venue = BinanceSpotTrading("k", "s", broker_id="x-MYBROKER")
    ids = [venue.new_client_order_id(i % 2 == 0, "VERYLONGBASE-VERYLONGQUOTE") for i in range(5000)]
    assert len(set(ids)) == 5000
    assert all(len(i) <= MAX_CLIENT_ORDER_ID_LENGTH and i.startswith("x-MYBROKER") for i in ids)
    import re
    assert all(re.fullmatch(r"[.A-Z:/a-z0-9_-]{1,36}", i) for i in ids)


def test_parse_full_order_response_with_fills() -> None:
    doc = {"symbol": "BTCUSDT", "orderId": 28, "orderListId": -1, "clientOrderId": "6gCrw2kRUAF9CvJDGP16IP",
           "transactTime": 1507725176595, "price": "0.00000000", "origQty": "10.00000000",
           "executedQty": "10.00000000", "origQuoteOrderQty": "0.000000", "cummulativeQuoteQty": "10.00000000",
           "status": "FILLED", "timeInForce": "GTC", "type": "MARKET", "side": "SELL",
           "workingTime": 1507725176595, "selfTradePreventionMode": "NONE", "fills": [
               {"price": "4000.00000000", "qty": "1.00000000", "commission": "4.00000000", "commissionAsset": "USDT", "tradeId": 56},
               {"price": "3999.00000000", "qty": "5.00000000", "commission": "19.99500000", "commissionAsset": "USDT", "tradeId": 57},
               {"price": "3998.00000000", "qty": "2.00000000", "commission": "7.99600000", "commissionAsset": "USDT", "tradeId": 58},
               {"price": "3997.00000000", "qty": "1.00000000", "commission": "3.99700000", "commissionAsset": "USDT", "tradeId": 59},
               {"price": "3995.00000000", "qty": "1.00000000", "commission": "3.99500000", "commissionAsset": "USDT", "tradeId": 60}]}
    venue = BinanceSpotTrading("k", "s")
    o = order(trade_type=TradeType.SELL, order_type=OrderType.MARKET, amount="10", cid="6gCrw2kRUAF9CvJDGP16IP", eid=None)
    update, fills = venue.parse_place_order(doc, o, 0.0)
    assert isinstance(update, OrderUpdate) and update.new_state is OrderState.FILLED
    assert update.exchange_order_id == "28" and update.executed_amount_base == D("10")
    assert update.update_timestamp == 1507725176.595
    assert [f.trade_id for f in fills] == ["56", "57", "58", "59", "60"]
    assert sum(f.fill_base_amount for f in fills) == D("10")
    assert fills[1].fill_quote_amount == D("19995") and fills[1].fee.flat_fees[0].amount == D("19.995")
    assert fills[0].fee.deducted_from_returns  # a sell pays from returns


def test_order_status_mapping() -> None:
    venue = BinanceSpotTrading("k", "s")
    o = order()
    for status, state in (("NEW", OrderState.OPEN), ("PARTIALLY_FILLED", OrderState.PARTIALLY_FILLED),
                          ("FILLED", OrderState.FILLED), ("CANCELED", OrderState.CANCELED),
                          ("EXPIRED", OrderState.CANCELED), ("EXPIRED_IN_MATCH", OrderState.CANCELED),
                          ("REJECTED", OrderState.FAILED), ("PENDING_CANCEL", OrderState.PENDING_CANCEL)):
        assert venue.parse_order_status({"orderId": 1, "status": status, "executedQty": "0"}, o, 1.0).new_state is state
    with pytest.raises(ValueError):
        venue.parse_order_status({"orderId": 1, "status": "WEIRD"}, o, 1.0)


def test_execution_report_documented_payload() -> None:
    doc = {"e": "executionReport", "E": 1499405658658, "s": "ETHBTC", "c": "mUvoqJxFIILMdfAW5iGSOW", "S": "BUY",
           "o": "LIMIT", "f": "GTC", "q": "1.00000000", "p": "0.10264410", "P": "0.00000000", "F": "0.00000000",
           "g": -1, "C": "", "x": "NEW", "X": "NEW", "r": "NONE", "i": 4293153, "l": "0.00000000",
           "z": "0.00000000", "L": "0.00000000", "n": "0", "N": None, "T": 1499405658657, "t": -1, "v": 3,
           "I": 8641984, "w": True, "m": False, "M": False, "O": 1499405658657, "Z": "0.00000000",
           "Y": "0.00000000", "Q": "0.00000000", "W": 1499405658657, "V": "NONE"}
    venue = listed(BinanceSpotTrading("k", "s"), "ETHBTC")
    [upd] = venue.parse_user_stream(json.dumps(doc))
    assert upd.new_state is OrderState.OPEN and upd.client_order_id == "mUvoqJxFIILMdfAW5iGSOW"
    assert upd.trading_pair == "ETH-BTC" and upd.exchange_order_id == "4293153"
    trade = dict(doc, x="TRADE", X="PARTIALLY_FILLED", l="0.4", z="0.4", L="0.1026", n="0.0004", N="ETH", t=77, m=True)
    fill, upd = venue.parse_user_stream(json.dumps({"subscriptionId": 0, "event": trade}))
    assert isinstance(fill, TradeUpdate) and fill.trade_id == "77" and fill.fill_base_amount == D("0.4")
    assert fill.is_taker is False and fill.fee.flat_fees[0].token == "ETH"
    assert upd.new_state is OrderState.PARTIALLY_FILLED and upd.executed_amount_base == D("0.4")
    cancel = dict(doc, x="CANCELED", X="CANCELED", c="cancelRequestId", C="mUvoqJxFIILMdfAW5iGSOW")
    [upd] = venue.parse_user_stream(json.dumps(cancel))
    assert upd.client_order_id == "mUvoqJxFIILMdfAW5iGSOW" and upd.new_state is OrderState.CANCELED


def test_account_events_spot() -> None:
    venue = BinanceSpotTrading("k", "s")
    [bal] = venue.parse_user_stream(json.dumps({"e": "outboundAccountPosition", "E": 1564034571105, "u": 1564034571073,
                                                "B": [{"a": "ETH", "f": "10000.000000", "l": "0.000000"}]}))
    assert isinstance(bal, BalanceUpdate) and bal.entries[0].total == D("10000") and bal.timestamp == 1564034571.073
    [delta] = venue.parse_user_stream(json.dumps({"e": "balanceUpdate", "E": 1573200697110, "a": "BTC",
                                                  "d": "100.00000000", "T": 1573200697068}))
    assert delta.asset == "BTC" and delta.delta == D("100")
    assert isinstance(venue.parse_user_stream('{"e":"listenKeyExpired","E":1,"listenKey":"x"}')[0], StreamExpired)
    assert venue.parse_user_stream('{"e":"somethingNew"}') == []
    for bad in ("[1,2]", "not json", '{"e":"executionReport"}'):
        with pytest.raises((ValueError, KeyError)):
            venue.parse_user_stream(bad)


def test_futures_user_stream_documented_payloads() -> None:
    venue = listed(BinancePerpetualTrading("k", "s"), "BTCUSDT")
    otu = {"e": "ORDER_TRADE_UPDATE", "E": 1568879465651, "T": 1568879465650, "o": {
        "s": "BTCUSDT", "c": "TEST", "S": "SELL", "o": "TRAILING_STOP_MARKET", "f": "GTC", "q": "0.001", "p": "0",
        "ap": "0", "sp": "7103.04", "x": "NEW", "X": "NEW", "i": 8886774, "l": "0", "z": "0", "L": "0", "N": "USDT",
        "n": "0", "T": 1568879465650, "t": 0, "b": "0", "a": "9.91", "m": False, "R": False, "wt": "CONTRACT_PRICE",
        "ot": "TRAILING_STOP_MARKET", "ps": "LONG", "cp": False, "AP": "7476.89", "cr": "5.0", "pP": False,
        "si": 0, "ss": 0, "rp": "0"}}
    [upd] = venue.parse_user_stream(json.dumps(otu))
    assert upd.new_state is OrderState.OPEN and upd.client_order_id == "TEST" and upd.trading_pair == "BTC-USDT"
    gtx = json.loads(json.dumps(otu))
    gtx["o"].update({"f": "GTX", "x": "EXPIRED", "X": "EXPIRED"})
    [upd] = venue.parse_user_stream(json.dumps(gtx))
    assert upd.new_state is OrderState.FAILED and "post-only" in upd.error_message
    acc = {"e": "ACCOUNT_UPDATE", "E": 1564745798939, "T": 1564745798938, "a": {"m": "ORDER", "B": [
        {"a": "USDT", "wb": "122624.12345678", "cw": "100.12345678", "bc": "50.12345678"}], "P": [
        {"s": "BTCUSDT", "pa": "0", "ep": "0.00000", "bep": "0", "cr": "200", "up": "0", "mt": "isolated", "iw": "0.00000000", "ps": "BOTH"},
        {"s": "BTCUSDT", "pa": "20", "ep": "6563.66500", "bep": "0", "cr": "0", "up": "2850.21200", "mt": "isolated", "iw": "13200.70726908", "ps": "LONG"},
        {"s": "BTCUSDT", "pa": "-10", "ep": "6563.86000", "bep": "6563.6", "cr": "-45.04000000", "up": "-1423.15600", "mt": "isolated", "iw": "6570.42511771", "ps": "SHORT"}]}}
    bal, p0, long_, short = venue.parse_user_stream(json.dumps(acc))
    assert bal.entries[0].total == D("122624.12345678") and bal.entries[0].available is None
    assert isinstance(long_, PositionUpdate) and long_.side is PositionSide.LONG and long_.amount == D("20")
    assert short.side is PositionSide.SHORT and short.amount == D("-10") and short.unrealized_pnl == D("-1423.156")
    assert p0.amount == 0
    acc["a"]["m"] = "FUNDING_FEE"
    assert any(isinstance(e, FundingHint) for e in venue.parse_user_stream(json.dumps(acc)))


def test_perp_account_parsers() -> None:
    venue = listed(BinancePerpetualTrading("k", "s"), "BTCUSDT")
    snap = venue.parse_positions([{"entryPrice": "6563.66500", "leverage": "10", "positionAmt": "-0.010",
                                   "symbol": "BTCUSDT", "unRealizedProfit": "1.5", "positionSide": "BOTH",
                                   "markPrice": "6679.5", "updateTime": 1625474304765}])
    [p] = snap.positions
    assert p.side is PositionSide.SHORT and p.amount == D("-0.010") and p.leverage == 10
    info = venue.parse_funding_info({"symbol": "BTCUSDT", "markPrice": "11793.63104562", "indexPrice": "11781.80495970",
                                     "lastFundingRate": "0.00038246", "nextFundingTime": 1597392000000, "time": 1597370495002})
    assert info.rate == D("0.00038246") and info.next_funding_utc_timestamp == 1597392000.0
    pays = venue.parse_funding_payments([
        {"symbol": "BTCUSDT", "incomeType": "FUNDING_FEE", "income": "-0.37500000", "asset": "USDT",
         "info": "FUNDING_FEE", "time": 1570636800000, "tranId": 9689322392, "tradeId": ""},
        {"symbol": "BTCUSDT", "incomeType": "COMMISSION", "income": "-0.01", "asset": "USDT", "time": 1, "tranId": 2}])
    assert len(pays) == 1 and pays[0].amount == D("-0.375") and pays[0].payment_id == "9689322392"
    assert venue.parse_position_mode({"dualSidePosition": True}) is PositionMode.HEDGE
    assert venue.set_position_mode_request(PositionMode.ONEWAY).params == {"dualSidePosition": "false"}
    iso = venue.set_margin_mode_request("BTC-USDT", MarginMode.ISOLATED)
    assert (iso.method, iso.path, iso.signed) == ("POST", "/fapi/v1/marginType", True)
    assert iso.params == {"symbol": "BTCUSDT", "marginType": "ISOLATED"}
    assert venue.set_margin_mode_request("BTC-USDT", MarginMode.CROSS).params["marginType"] == "CROSSED"
    assert venue.is_no_change(errors.ExchangeError(-4046, "No need to change margin type."))
    assert venue.parse_set_leverage({"leverage": 21, "maxNotionalValue": "1000000", "symbol": "BTCUSDT"}) == 21


def test_trading_rules_from_exchange_info_and_malformed_entry(caplog: pytest.LogCaptureFixture) -> None:
    good = {"symbol": "ETHBTC", "status": "TRADING", "baseAsset": "ETH", "quoteAsset": "BTC",
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"], "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.00000100", "maxPrice": "100000.00000000", "tickSize": "0.00000100"},
                {"filterType": "LOT_SIZE", "minQty": "0.00100000", "maxQty": "100000.00000000", "stepSize": "0.00100000"},
                {"filterType": "MIN_NOTIONAL", "minNotional": "0.00100000", "applyToMarket": True, "avgPriceMins": 5}]}
    halted = dict(good, symbol="LTCBTC", baseAsset="LTC", status="BREAK")
    broken = dict(good, symbol="XRPBTC", baseAsset="XRP", filters=[{"filterType": "PRICE_FILTER", "tickSize": "0"}])
    venue = BinanceSpotTrading("k", "s")
    with caplog.at_level(logging.WARNING):
        rules = venue.parse_trading_rules({"symbols": [good, halted, broken]})
    assert [r.trading_pair for r in rules] == ["ETH-BTC"]
    r = rules[0]
    assert (r.min_order_size, r.min_price_increment, r.min_base_amount_increment, r.min_notional_size) == \
        (D("0.001"), D("0.000001"), D("0.001"), D("0.001"))
    assert r.sell_order_collateral_token == "ETH" and r.buy_order_collateral_token == "BTC"
    assert any("XRPBTC" in rec.getMessage() for rec in caplog.records)
    assert venue.from_venue_symbol("ETHBTC") == "ETH-BTC" and venue.to_venue_symbol("ETH-BTC") == "ETHBTC"


@pytest.mark.parametrize("status,body,cls", [
    (400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}, errors.TimeSyncError),
    (400, {"code": -1022, "msg": "Signature for this request is not valid."}, errors.AuthenticationError),
    (400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}, errors.InsufficientBalance),
    (400, {"code": -2010, "msg": "Order would immediately match and take."}, errors.OrderRejected),
    (400, {"code": -2011, "msg": "Unknown order sent."}, errors.OrderNotFound),
    (400, {"code": -2013, "msg": "Order does not exist."}, errors.OrderNotFound),
    (429, {"code": -1003, "msg": "Too many requests."}, errors.RateLimitError),
    (400, {"code": -1013, "msg": "Filter failure: NOTIONAL"}, errors.InvalidOrder),
    (400, {"code": -2019, "msg": "Margin is insufficient."}, errors.InsufficientBalance),
    (503, b"<html>down</html>", errors.ServiceUnavailable),
])
def test_error_codes_map_to_clear_exceptions(status: int, body: object, cls: type) -> None:
    err = binance_error(status, body, {"Retry-After": "7"})
    assert type(err) is cls
    if isinstance(body, dict):
        assert err.code == body["code"]
    if cls is errors.RateLimitError:
        assert err.retry_after == 7.0
    assert BinanceSpotTrading("k", "s").is_order_not_found(err) == (body in ({"code": -2011, "msg": "Unknown order sent."},
                                                                             {"code": -2013, "msg": "Order does not exist."}))


def test_rate_limits_link_orders_and_weights() -> None:
    spot = {r.limit_id: r for r in BinanceSpotTrading("k", "s").rate_limits}
    assert spot["REQUEST_WEIGHT"].limit == 6000 and spot["ORDERS_10S"].limit == 100 and spot["ORDERS_1D"].limit == 200000
    order_links = {l.limit_id: l.weight for l in spot["/api/v3/order"].linked_limits}
    assert order_links["ORDERS_10S"] == 1 and order_links["REQUEST_WEIGHT"] == 1
    assert {l.limit_id: l.weight for l in spot["GET /api/v3/order"].linked_limits}["REQUEST_WEIGHT"] == 4
    venue = BinanceSpotTrading("k", "s")
    assert venue.prepare(venue.order_status_request(order()), 1).limit_id == "GET /api/v3/order"
    perp = {r.limit_id: r for r in BinancePerpetualTrading("k", "s").rate_limits}
    assert perp["REQUEST_WEIGHT"].limit == 2400 and perp["ORDERS_1M"].limit == 1200 and perp["ORDERS_10S"].limit == 300


def test_rate_limits_charge_the_shared_budgets_per_request() -> None:
    """A spot order costs 1 weight, 1 raw request and 1 on each order count; a status query 4
    weight; a USDⓈ-M order 0 weight ("0 on IP rate limit") and 1 on each order count; the
    endpoints' own keys hold no budget of their own."""
    async def go() -> None:
        spot = Throttler(spot_rate_limits(), time_fn=lambda: 1000.0)
        await spot.acquire("/api/v3/order")
        await spot.acquire("GET /api/v3/order")
        assert [spot.usage(lid)[0] for lid in ("REQUEST_WEIGHT", "RAW_REQUESTS", "ORDERS_10S", "ORDERS_1D")] \
            == [5, 2, 1, 1]
        assert spot.usage("/api/v3/order")[0] == 0 and spot.usage("GET /api/v3/order")[0] == 0
        perp = Throttler(perp_rate_limits(), time_fn=lambda: 1000.0)
        await perp.acquire("/fapi/v1/order")
        await perp.acquire("GET /fapi/v1/positionSide/dual")
        assert [perp.usage(lid)[0] for lid in ("REQUEST_WEIGHT", "ORDERS_10S", "ORDERS_1M")] == [30, 1, 1]
    asyncio.run(go())


def test_every_order_and_price_request_is_charged_as_binance_documents() -> None:
    """Per request as prepared: (weight, ORDERS_10S) from the docs' Weight lines."""
    spot, perp = BinanceSpotTrading("k", "s"), BinancePerpetualTrading("k", "s")
    for v in (spot, perp):
        v.to_venue_symbol = lambda pair: pair.replace("-", "")  # type: ignore[method-assign]
    o = order()
    o.exchange_order_id = "5"
    cases = [
        (spot, spot.place_order_request(o, ONEWAY), 1, 1),
        (spot, spot.cancel_order_request(o), 1, 0),
        (spot, spot.order_status_request(o), 4, 0),
        (spot, spot.order_fills_request(o), 5, 0),     # myTrades with orderId
        (spot, spot.last_prices_request(["BTC-USDT"]), 2, 0),
        (spot, spot.last_prices_request(["BTC-USDT", "ETH-USDT"]), 4, 0),
        (perp, perp.place_order_request(o, ONEWAY), 0, 1),
        (perp, perp.cancel_order_request(o), 1, 0),
        (perp, perp.order_status_request(o), 1, 0),
        (perp, perp.last_prices_request(["BTC-USDT", "ETH-USDT"]), 2, 0),
    ]
    for venue, request, weight, orders in cases:
        t = Throttler(venue.rate_limits, time_fn=lambda: 1000.0)
        asyncio.run(t.acquire(venue.prepare(request, 1).limit_id))
        assert (t.usage("REQUEST_WEIGHT")[0], t.usage("ORDERS_10S")[0]) == (weight, orders), request


def test_registry_exposes_both_markets() -> None:
    assert trading_venue("binance") is BinanceSpotTrading
    assert trading_venue("binance_futures") is BinancePerpetualTrading


def test_form_encoding_equals_urlencode() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hbconnect.exchanges._trading import form_encode as _form

    @settings(max_examples=300, deadline=None)
    @given(st.dictionaries(st.text(alphabet="abcXYZ_", min_size=1, max_size=8), st.text(max_size=20), max_size=6))
    def check(params: dict) -> None:
        assert _form(params) == urlencode(params)
    check()
