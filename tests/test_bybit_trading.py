"""Unit tests of the Bybit v5 trading translation on Bybit's documented requests and payloads.

Payloads are the "Response Example" / "Stream Example" blocks of Bybit's v5 docs
(``bybit-exchange/docs`` ``docs/v5``), trimmed of fields the translation does not read.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest

from hbconnect.connector.contract import (AccountSettings, BalanceUpdate, FundingHint, PositionUpdate, StreamShape,
                                          VenueRequest, WsOrderReply)
from hbconnect.core import errors
from hbconnect.core.in_flight_order import OrderUpdate, TradeUpdate
from hbconnect.core.types import (MarginMode, OrderState, OrderType, PositionAction, PositionMode, PositionSide,
                                  TradeType)
from hbconnect.exchanges.bybit import constants as K
from hbconnect.exchanges.bybit.perpetual import BybitPerpetualTrading
from hbconnect.exchanges.bybit.trading import BybitSpotTrading, bybit_error, sign_payload


def hmac_hex(secret: bytes, payload: str) -> str:
    """HMAC-SHA256 lowercase hex, computed here with the standard library (not the code under test)."""
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()

D = Decimal

# "Integration Guidance" > "An example for how to generate plain text to encrypt"
DOC_GET = dict(timestamp=1658384314791, api_key="XXXXXXXXXX", recv_window=5000,
               query="category=option&symbol=BTC-29JUL22-25000-C",
               plain="1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C")
DOC_POST = dict(timestamp=1658385579423, api_key="XXXXXXXXXX", recv_window=5000, body='{"category": "option"}',
                plain='1658385579423XXXXXXXXXX5000{"category": "option"}')

SPOT_INSTRUMENTS = {
    "retCode": 0, "retMsg": "OK",
    "result": {"category": "spot", "list": [{
        "symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "innovation": "0", "status": "Trading",
        "marginTrading": "utaOnly", "stTag": "0",
        "lotSizeFilter": {"basePrecision": "0.000001", "quotePrecision": "0.0000001", "minOrderQty": "0.000011",
                          "maxOrderQty": "83", "minOrderAmt": "5", "maxOrderAmt": "8000000",
                          "maxLimitOrderQty": "83", "maxMarketOrderQty": "41.5",
                          "postOnlyMaxLimitOrderSize": "60000"},
        "priceFilter": {"tickSize": "0.1"},
        "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"}, "symbolType": ""}]},
    "retExtInfo": {}, "time": 1760027412300}

LINEAR_INSTRUMENTS = {
    "retCode": 0, "retMsg": "OK",
    "result": {"category": "linear", "list": [{
        "symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": "BTC",
        "quoteCoin": "USDT", "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "",
        "priceScale": "2", "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
        "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": "0.001", "qtyStep": "0.001",
                          "postOnlyMaxOrderQty": "1190.000", "maxMktOrderQty": "500.000",
                          "minNotionalValue": "5"},
        "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": "USDT", "copyTrading": "both",
        "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False,
        "preListingInfo": None, "symbolType": ""}], "nextPageCursor": ""},
    "retExtInfo": {}, "time": 1735809771618}

WALLET = {
    "retCode": 0, "retMsg": "OK",
    "result": {"list": [{
        "totalEquity": "3.31216591", "accountType": "UNIFIED", "totalAvailableBalance": "3.00326056",
        "coin": [{"availableToBorrow": "3", "bonus": "0", "accruedInterest": "0", "availableToWithdraw": "0",
                  "totalOrderIM": "0", "equity": "0", "totalPositionMM": "0", "usdValue": "0",
                  "spotHedgingQty": "0.01592413", "unrealisedPnl": "0", "collateralSwitch": True,
                  "borrowAmount": "0.0", "totalPositionIM": "0", "walletBalance": "0", "cumRealisedPnl": "0",
                  "locked": "0", "marginCollateral": True, "coin": "BTC", "spotBorrow": "0"}]}]},
    "retExtInfo": {}, "time": 1690872862481}

ORDER_REALTIME = {
    "retCode": 0, "retMsg": "OK",
    "result": {"list": [{
        "orderId": "fd4300ae-7847-404e-b947-b46980a4d140", "orderLinkId": "test-000005", "blockTradeId": "",
        "symbol": "ETHUSDT", "price": "1600.00", "qty": "0.10", "side": "Buy", "isLeverage": "",
        "positionIdx": 1, "orderStatus": "New", "cancelType": "UNKNOWN", "rejectReason": "EC_NoError",
        "avgPrice": "0", "leavesQty": "0.10", "leavesValue": "160", "cumExecQty": "0.00", "cumExecValue": "0",
        "cumExecFee": "0", "timeInForce": "GTC", "orderType": "Limit", "createdTime": "1684738540559",
        "updatedTime": "1684738540561", "cumFeeDetail": {"MNT": "0.00242968"}}],
        "nextPageCursor": "page_args%3Dfd4300ae-7847-404e-b947-b46980a4d140%26symbol%3D6%26",
        "category": "linear"},
    "retExtInfo": {}, "time": 1684765770483}

EXECUTION_LIST = {
    "retCode": 0, "retMsg": "OK",
    "result": {"nextPageCursor": "132766%3A2%2C132766%3A2", "category": "linear", "list": [{
        "symbol": "ETHPERP", "orderType": "Market", "underlyingPrice": "", "orderLinkId": "", "side": "Buy",
        "indexPrice": "", "orderId": "8c065341-7b52-4ca9-ac2c-37e31ac55c94", "stopOrderType": "UNKNOWN",
        "leavesQty": "0", "execTime": "1672282722429", "feeCurrency": "", "isMaker": False,
        "execFee": "0.071409", "feeRate": "0.0006", "execId": "e0cbe81d-0f18-5866-9415-cf319b5dab3b",
        "tradeIv": "", "blockTradeId": "", "markPrice": "1183.54", "execPrice": "1190.15", "markIv": "",
        "orderQty": "0.1", "orderPrice": "1236.9", "execValue": "119.015", "execType": "Trade",
        "execQty": "0.1", "closedSize": "", "extraFees": "", "seq": 4688002127}]},
    "retExtInfo": {}, "time": 1672283754510}

EXECUTION_STREAM = {
    "topic": "execution", "id": "386825804_BTCUSDT_140612148849382", "creationTime": 1746270400355,
    "data": [{"category": "linear", "symbol": "BTCUSDT", "closedSize": "0.5", "execFee": "26.3725275",
              "execId": "0ab1bdf7-4219-438b-b30a-32ec863018f7", "execPrice": "95900.1", "execQty": "0.5",
              "execType": "Trade", "execValue": "47950.05", "feeRate": "0.00055", "leavesQty": "0",
              "orderId": "9aac161b-8ed6-450d-9cab-c5cc67c21784", "orderLinkId": "", "orderPrice": "94942.5",
              "orderQty": "0.5", "orderType": "Market", "stopOrderType": "UNKNOWN", "side": "Sell",
              "execTime": "1746270400353", "isLeverage": "0", "isMaker": False, "seq": 140612148849382,
              "marketUnit": "", "execPnl": "0.05", "createType": "CreateByUser", "feeCurrency": "USDT"}]}

WALLET_STREAM = {
    "id": "592324d2bce751-ad38-48eb-8f42-4671d1fb4d4e", "topic": "wallet", "creationTime": 1700034722104,
    "data": [{"totalEquity": "10262.91335023", "totalWalletBalance": "9684.46297164",
              "coin": [{"coin": "BTC", "equity": "0.00102964", "usdValue": "36.70759517",
                        "walletBalance": "0.00102964", "availableToWithdraw": "0.00102964",
                        "availableToBorrow": "", "borrowAmount": "0", "accruedInterest": "0",
                        "totalOrderIM": "", "totalPositionIM": "", "totalPositionMM": "",
                        "unrealisedPnl": "0", "cumRealisedPnl": "-0.00000973", "bonus": "0",
                        "collateralSwitch": True, "marginCollateral": True, "locked": "0",
                        "spotHedgingQty": "0.01592413", "spotBorrow": "0"}],
              "accountLTV": "0", "accountType": "UNIFIED"}]}

POSITION_STREAM = {
    "id": "1003076014fb7eedb-c7e6-45d6-a8c1-270f0169171a", "topic": "position", "creationTime": 1697682317044,
    "data": [{"positionIdx": 2, "tradeMode": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": "BTCUSDT",
              "side": "", "size": "0", "entryPrice": "0", "leverage": "10", "positionValue": "0",
              "markPrice": "28184.5", "unrealisedPnl": "0", "curRealisedPnl": "1.26",
              "cumRealisedPnl": "-25.06579337", "createdTime": "1694402496913", "updatedTime": "1697682317038",
              "category": "linear", "positionStatus": "Normal", "seq": 8327597863, "isReduceOnly": False}]}

POSITION_LIST = {
    "retCode": 0, "retMsg": "OK",
    "result": {"list": [{"positionIdx": 0, "riskId": 1, "riskLimitValue": "150", "symbol": "BTCUSDT",
                         "side": "Sell", "size": "300", "avgPrice": "27464.50441675", "positionValue": "0.01092319",
                         "tradeMode": 0, "positionStatus": "Normal", "autoAddMargin": 1, "leverage": "10",
                         "markPrice": "28224.50", "liqPrice": "", "unrealisedPnl": "-0.00029413",
                         "curRealisedPnl": "0.00013123", "cumRealisedPnl": "-0.00096902",
                         "seq": 5723621632, "createdTime": "1676538056258", "updatedTime": "1697673600012"}],
               "nextPageCursor": "", "category": "linear"},
    "retExtInfo": {}, "time": 1697684980172}

TRANSACTION_LOG = {
    "retCode": 0, "retMsg": "OK",
    "result": {"nextPageCursor": "21963%3A1%2C14954%3A1", "list": [
        {"transSubType": "", "id": "592324_XRPUSDT_161440249321", "symbol": "XRPUSDT", "side": "Buy",
         "funding": "-0.003676", "orderLinkId": "", "orderId": "1672128000-8-592324-1-2", "fee": "0.00000000",
         "change": "-0.003676", "cashFlow": "0", "transactionTime": "1672128000000", "type": "SETTLEMENT",
         "feeRate": "0.0001", "bonusChange": "", "size": "100", "qty": "100", "cashBalance": "5086.55825002",
         "currency": "USDT", "category": "linear", "tradePrice": "0.3676",
         "tradeId": "534c0003-4bf7-486f-aa02-78cee36825e4", "extraFees": ""},
        {"transSubType": "", "id": "592324_XRPUSDT_161440249321", "symbol": "XRPUSDT", "side": "Buy",
         "funding": "", "orderLinkId": "linear-order", "orderId": "592b7e41-78fd-42e2-9aa3-91e1835ef3e1",
         "fee": "0.01908720", "change": "-0.0190872", "cashFlow": "0", "transactionTime": "1672121182224",
         "type": "TRADE", "feeRate": "0.0006", "bonusChange": "-0.1430544", "size": "100", "qty": "88",
         "cashBalance": "5086.56192602", "currency": "USDT", "category": "linear", "tradePrice": "0.3615",
         "tradeId": "5184f079-88ec-54c7-8774-5173cafd2b4e", "extraFees": ""}]},
    "retExtInfo": {}, "time": 1672132481405}


def order(pair: str = "BTC-USDT", trade_type: TradeType = TradeType.BUY, order_type: OrderType = OrderType.LIMIT,
          amount: str = "0.001", price: str = "60000", cid: str = "HBCBBTCUSDT1", eid: str | None = None,
          position: PositionAction = PositionAction.NIL) -> SimpleNamespace:
    return SimpleNamespace(trading_pair=pair, trade_type=trade_type, order_type=order_type, amount=D(amount),
                           price=D(price), client_order_id=cid, exchange_order_id=eid, position=position)


def spot() -> BybitSpotTrading:
    venue = BybitSpotTrading("XXXXXXXXXX", "secret")
    venue.parse_trading_rules(SPOT_INSTRUMENTS)
    return venue


def perp() -> BybitPerpetualTrading:
    venue = BybitPerpetualTrading("XXXXXXXXXX", "secret")
    instruments = json.loads(json.dumps(LINEAR_INSTRUMENTS))
    usdc = dict(instruments["result"]["list"][0], symbol="ETHPERP", baseCoin="ETH", quoteCoin="USDC",
                settleCoin="USDC")
    instruments["result"]["list"].append(usdc)
    venue.parse_trading_rules(instruments)
    for symbol, base in (("ETHUSDT", "ETH"), ("XRPUSDT", "XRP")):
        instruments["result"]["list"].append(dict(instruments["result"]["list"][0], symbol=symbol, baseCoin=base))
    venue.parse_trading_rules(instruments)
    return venue


# ---- signing ----

def test_get_sign_string_is_the_published_example() -> None:
    venue = BybitSpotTrading(DOC_GET["api_key"], "secret")
    venue.recv_window_ms = DOC_GET["recv_window"]
    req = VenueRequest("GET", "/v5/order/realtime", {"category": "option", "symbol": "BTC-29JUL22-25000-C"},
                       signed=True)
    prepared = venue.prepare(req, DOC_GET["timestamp"])
    assert urlsplit(prepared.url).query == DOC_GET["query"]
    assert sign_payload(DOC_GET["timestamp"], DOC_GET["api_key"], DOC_GET["recv_window"], DOC_GET["query"]) \
        == DOC_GET["plain"]
    # the signature header is HMAC-SHA256 hex of exactly that published text
    assert prepared.headers["X-BAPI-SIGN"] == hmac_hex(b"secret", DOC_GET["plain"])
    assert prepared.headers["X-BAPI-API-KEY"] == "XXXXXXXXXX"
    assert prepared.headers["X-BAPI-TIMESTAMP"] == "1658384314791"
    assert prepared.headers["X-BAPI-RECV-WINDOW"] == "5000"


def test_post_sign_string_is_the_published_example() -> None:
    assert sign_payload(DOC_POST["timestamp"], DOC_POST["api_key"], DOC_POST["recv_window"], DOC_POST["body"]) \
        == DOC_POST["plain"]


def test_post_signature_covers_the_body_as_sent() -> None:
    venue = BybitSpotTrading("XXXXXXXXXX", "secret")
    prepared = venue.prepare(VenueRequest("POST", "/v5/order/create", {"category": "spot", "qty": D("0.10")},
                                          signed=True), 1658385579423)
    assert prepared.body == '{"category":"spot","qty":"0.1"}'
    assert prepared.headers["Content-Type"] == "application/json"
    assert prepared.headers["X-BAPI-SIGN"] == hmac_hex(b"secret", "1658385579423XXXXXXXXXX5000" + prepared.body)


def test_signature_is_hmac_sha256_hex_rfc4231_case_2() -> None:
    # RFC 4231 test case 2 (key "Jefe"): the HMAC-SHA256 lowercase hex the venue's signature is
    venue = BybitSpotTrading("k", "Jefe")
    assert venue._sign("what do ya want for nothing?") == \
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_ws_auth_signs_get_realtime_expires() -> None:
    venue = BybitSpotTrading("key1", "secret")
    assert venue.user_stream_shape is StreamShape.LOGIN and venue.user_stream_ping == '{"op":"ping"}'
    msg = json.loads(venue.user_stream_login(1_000_000))
    assert msg["op"] == "auth"
    key, expires, signature = msg["args"]
    assert key == "key1" and expires > 1_000_000
    assert signature == hmac_hex(b"secret", f"GET/realtime{expires}")


def test_credentials_never_in_repr() -> None:
    venue = BybitSpotTrading("my-api-key-123", "my-secret-456")
    text = repr(venue) + repr(venue.credentials) + str(venue.credentials)
    assert "my-api-key-123" not in text and "my-secret-456" not in text
    assert set(venue.credentials.secret_values()) == {"my-api-key-123", "my-secret-456"}


# ---- rules, balances ----

def test_spot_rules_from_instruments_info() -> None:
    venue = BybitSpotTrading("k", "s")
    [rule] = venue.parse_trading_rules(SPOT_INSTRUMENTS)
    assert rule.trading_pair == "BTC-USDT"
    assert rule.min_price_increment == D("0.1")
    assert rule.min_base_amount_increment == D("0.000001")
    assert rule.min_notional_size == D("5")
    assert rule.max_order_size == D("83")
    assert venue.to_venue_symbol("BTC-USDT") == "BTCUSDT" and venue.from_venue_symbol("BTCUSDT") == "BTC-USDT"
    with pytest.raises(ValueError):
        venue.from_venue_symbol("OMGBUSD")  # never guessed from a quote suffix


def test_linear_rules_from_instruments_info() -> None:
    venue = BybitPerpetualTrading("k", "s")
    [rule] = venue.parse_trading_rules(LINEAR_INSTRUMENTS)
    assert (rule.min_price_increment, rule.min_base_amount_increment, rule.min_order_size) == \
        (D("0.10"), D("0.001"), D("0.001"))
    assert rule.min_notional_size == D("5") and rule.max_order_size == D("1190.000")
    assert rule.buy_order_collateral_token == rule.sell_order_collateral_token == "USDT"


def test_malformed_instrument_is_skipped() -> None:
    bad = json.loads(json.dumps(SPOT_INSTRUMENTS))
    bad["result"]["list"].append({"symbol": "ETHUSDT", "status": "Trading", "baseCoin": "ETH",
                                  "quoteCoin": "USDT", "lotSizeFilter": {}, "priceFilter": {"tickSize": "x"}})
    rules = BybitSpotTrading("k", "s").parse_trading_rules(bad)
    assert [r.trading_pair for r in rules] == ["BTC-USDT"]


def test_wallet_balance() -> None:
    update = spot().parse_balances(WALLET)
    assert isinstance(update, BalanceUpdate) and update.complete
    [entry] = update.entries
    assert (entry.asset, entry.total, entry.available) == ("BTC", D("0"), D("0"))


def test_wallet_available_subtracts_locked_and_margin() -> None:
    payload = json.loads(json.dumps(WALLET))
    payload["result"]["list"][0]["coin"][0].update(walletBalance="10", locked="2", totalOrderIM="1.5",
                                                   totalPositionIM="0.5")
    [entry] = spot().parse_balances(payload).entries
    assert (entry.total, entry.available) == (D("10"), D("6"))


# ---- orders ----

def test_limit_order_body() -> None:
    req = spot().place_order_request(order())
    assert (req.method, req.path, req.signed, req.idempotent) == ("POST", "/v5/order/create", True, False)
    assert req.params == {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "qty": "0.001",
                          "orderLinkId": "HBCBBTCUSDT1", "orderType": "Limit", "price": "60000",
                          "timeInForce": "GTC"}


def test_post_only_and_market_bodies() -> None:
    venue = spot()
    assert venue.place_order_request(order(order_type=OrderType.LIMIT_MAKER)).params["timeInForce"] == "PostOnly"
    market = venue.place_order_request(order(order_type=OrderType.MARKET, trade_type=TradeType.SELL)).params
    assert market["orderType"] == "Market" and market["marketUnit"] == "baseCoin" and "price" not in market
    assert market["side"] == "Sell"


def test_client_order_ids_follow_order_link_id_rules() -> None:
    venue = spot()
    ids = {venue.new_client_order_id(i % 2 == 0, "BTC-USDT") for i in range(200)}
    assert len(ids) == 200
    assert all(K.ORDER_LINK_ID_RE.match(i) for i in ids)
    long_pair = venue.new_client_order_id(True, "VERYLONGBASE-VERYLONGQUOTE")
    assert len(long_pair) <= 36 and K.ORDER_LINK_ID_RE.match(long_pair)


def test_create_ack_opens_the_order() -> None:
    ack = {"retCode": 0, "retMsg": "OK", "result": {"orderId": "1321003749386327552",
                                                     "orderLinkId": "spot-test-postonly"},
           "retExtInfo": {}, "time": 1672211918471}
    update, fills = spot().parse_place_order(ack, order(cid="spot-test-postonly"), 5.0)
    assert update.new_state is OrderState.OPEN and fills == []
    assert update.exchange_order_id == "1321003749386327552" and update.update_timestamp == 1672211918.471
    with pytest.raises(ValueError):
        spot().parse_place_order(ack, order(cid="another-id"), 5.0)


def test_cancel_ack_is_pending_cancel() -> None:
    ack = {"retCode": 0, "retMsg": "OK", "result": {"orderId": "c6f055d9-7f21-4079-913d-e6523a9cfffa",
                                                     "orderLinkId": ""}, "retExtInfo": {}, "time": 1672217377164}
    venue = spot()
    req = venue.cancel_order_request(order())
    assert req.params == {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "HBCBBTCUSDT1"}
    update = venue.parse_cancel_order(ack, order(), 1.0)
    assert update.new_state is OrderState.PENDING_CANCEL
    assert update.exchange_order_id == "c6f055d9-7f21-4079-913d-e6523a9cfffa"


def test_order_status_from_realtime() -> None:
    venue = perp()
    update = venue.parse_order_status(ORDER_REALTIME, order(pair="ETH-USDT", cid="test-000005"), 0.0)
    assert isinstance(update, OrderUpdate)
    assert update.new_state is OrderState.OPEN and update.executed_amount_base == D("0")
    assert update.exchange_order_id == "fd4300ae-7847-404e-b947-b46980a4d140"
    assert update.update_timestamp == 1684738540.561
    empty = {"retCode": 0, "retMsg": "OK", "result": {"list": [], "category": "linear"}, "time": 1}
    with pytest.raises(errors.OrderNotFound):
        venue.parse_order_status(empty, order(pair="ETH-USDT", cid="test-000005"), 0.0)


@pytest.mark.parametrize("status,reason,cum,state", [
    ("PartiallyFilled", "EC_NoError", "0.05", OrderState.PARTIALLY_FILLED),
    ("Filled", "EC_NoError", "0.10", OrderState.FILLED),
    ("Cancelled", "EC_PerCancelRequest", "0", OrderState.CANCELED),
    ("PartiallyFilledCanceled", "EC_PerCancelRequest", "0.05", OrderState.CANCELED),
    ("Cancelled", "EC_PostOnlyWillTakeLiquidity", "0", OrderState.FAILED),
    ("Rejected", "EC_NoEnoughQtyToFill", "0", OrderState.FAILED),
])
def test_order_states(status: str, reason: str, cum: str, state: OrderState) -> None:
    payload = json.loads(json.dumps(ORDER_REALTIME))
    payload["result"]["list"][0].update(orderStatus=status, rejectReason=reason, cumExecQty=cum)
    update = perp().parse_order_status(payload, order(pair="ETH-USDT", cid="test-000005"), 0.0)
    assert update.new_state is state and update.executed_amount_base == D(cum)
    assert (update.error_message is not None) == (state is OrderState.FAILED)


def test_unknown_order_status_is_an_error() -> None:
    payload = json.loads(json.dumps(ORDER_REALTIME))
    payload["result"]["list"][0]["orderStatus"] = "Exploded"
    with pytest.raises(ValueError):
        perp().parse_order_status(payload, order(pair="ETH-USDT", cid="test-000005"), 0.0)


def test_fills_from_execution_list_with_fee_rule() -> None:
    venue = perp()
    o = order(pair="ETH-USDC", eid="8c065341-7b52-4ca9-ac2c-37e31ac55c94", cid="x")
    req = venue.order_fills_request(o)
    assert req.path == "/v5/execution/list" and req.params["orderId"] == o.exchange_order_id
    [fill] = venue.parse_order_fills(EXECUTION_LIST, o)
    assert isinstance(fill, TradeUpdate)
    assert (fill.fill_price, fill.fill_base_amount, fill.fill_quote_amount) == (D("1190.15"), D("0.1"), D("119.015"))
    assert fill.is_taker is True and fill.trade_id == "e0cbe81d-0f18-5866-9415-cf319b5dab3b"
    [fee] = fill.fee.flat_fees
    assert (fee.token, fee.amount) == ("USDC", D("0.071409"))  # feeCurrency "": the settle coin


@pytest.mark.parametrize("side,fee,maker,asset", [
    ("Buy", "0.001", False, "BTC"), ("Sell", "0.5", False, "USDT"),
    ("Buy", "-0.2", True, "USDT"), ("Sell", "-0.0001", True, "BTC"),
])
def test_spot_fee_currency_instruction(side: str, fee: str, maker: bool, asset: str) -> None:
    assert spot().fee_asset({"side": side, "execFee": fee, "isMaker": maker, "feeCurrency": ""}, "BTC-USDT") == asset


# ---- private stream ----

def test_execution_stream_fill_and_category_filter() -> None:
    raw = json.dumps(EXECUTION_STREAM)
    [fill] = perp().parse_user_stream(raw)
    assert fill.trading_pair == "BTC-USDT" and fill.fill_base_amount == D("0.5")
    [fee] = fill.fee.flat_fees
    assert (fee.token, fee.amount) == ("USDT", D("26.3725275"))
    assert spot().parse_user_stream(raw) == []  # a linear execution is not the spot connector's


def test_funding_execution_is_a_hint() -> None:
    msg = json.loads(json.dumps(EXECUTION_STREAM))
    msg["data"][0]["execType"] = "Funding"
    [hint] = perp().parse_user_stream(json.dumps(msg))
    assert isinstance(hint, FundingHint) and hint.timestamp == 1746270400.353


def test_order_stream() -> None:
    msg = {"id": "1", "topic": "order", "creationTime": 1672364262474, "data": [dict(
        ORDER_REALTIME["result"]["list"][0], category="linear", symbol="BTCUSDT", orderStatus="Filled",
        cumExecQty="0.10")]}
    [update] = perp().parse_user_stream(json.dumps(msg))
    assert update.new_state is OrderState.FILLED and update.client_order_id == "test-000005"


def test_wallet_stream() -> None:
    [update] = spot().parse_user_stream(json.dumps(WALLET_STREAM))
    [entry] = update.entries
    assert (entry.asset, entry.total, entry.available) == ("BTC", D("0.00102964"), D("0.00102964"))


def test_position_stream_and_list() -> None:
    venue = perp()
    [pos] = venue.parse_user_stream(json.dumps(POSITION_STREAM))
    assert isinstance(pos, PositionUpdate) and pos.side is PositionSide.SHORT and pos.amount == 0
    assert pos.leverage == 10
    [short] = venue.parse_positions(POSITION_LIST).positions
    assert (short.pair, short.amount, short.entry_price) == ("BTC-USDT", D("-300"), D("27464.50441675"))
    assert venue.parse_position_mode(POSITION_LIST) is PositionMode.ONEWAY
    assert venue.parse_position_mode(
        {"retCode": 0, "result": {"list": [dict(POSITION_LIST["result"]["list"][0], positionIdx=1)]}}) \
        is PositionMode.HEDGE


def test_control_frames_and_failed_auth() -> None:
    venue = spot()
    assert venue.parse_user_stream('{"req_id":"t","op":"pong","args":["1675418560633"],"conn_id":"c"}') == []
    assert venue.parse_login_reply('{"success":true,"ret_msg":"","op":"auth","conn_id":"c"}') is True
    assert venue.parse_login_reply('{"retCode":0,"retMsg":"OK","op":"auth","connId":"c"}') is True
    assert venue.parse_login_reply('{"success":true,"ret_msg":"","op":"subscribe"}') is None
    with pytest.raises(errors.AuthenticationError):
        venue.parse_login_reply('{"retCode":10004,"retMsg":"invalid sign","op":"auth"}')
    with pytest.raises(errors.AuthenticationError):
        venue.parse_user_stream('{"success":false,"ret_msg":"error sign","op":"auth","conn_id":"c"}')
    with pytest.raises(ValueError):
        venue.parse_user_stream('{"topic":"order","data":{}}')


# ---- perpetual: position mode, leverage, margin, funding ----

def test_position_idx_by_mode() -> None:
    venue = perp()
    oneway = AccountSettings()
    assert venue.place_order_request(order(), oneway).params["positionIdx"] == 0
    close = venue.place_order_request(order(trade_type=TradeType.SELL, position=PositionAction.CLOSE), oneway).params
    assert close["positionIdx"] == 0 and close["reduceOnly"] is True
    hedge = AccountSettings(position_mode=PositionMode.HEDGE)
    cases = [(TradeType.BUY, PositionAction.OPEN, 1), (TradeType.SELL, PositionAction.OPEN, 2),
             (TradeType.SELL, PositionAction.CLOSE, 1), (TradeType.BUY, PositionAction.CLOSE, 2)]
    for side, action, idx in cases:
        params = venue.place_order_request(order(trade_type=side, position=action), hedge).params
        assert params["positionIdx"] == idx and "reduceOnly" not in params


def test_leverage_mode_requests() -> None:
    venue = perp()
    lev = venue.set_leverage_request("BTC-USDT", 6, AccountSettings())
    assert lev.params == {"category": "linear", "symbol": "BTCUSDT", "buyLeverage": "6", "sellLeverage": "6"}
    venue.set_leverage_request("ETH-USDT", 3, AccountSettings())
    assert venue.parse_set_leverage({"retCode": 0, "result": {}}) == 6   # answers come in request order
    assert venue.parse_set_leverage({"retCode": 0, "result": {}}) == 3
    mode = venue.set_position_mode_request(PositionMode.HEDGE)
    assert (mode.path, mode.params) == ("/v5/position/switch-mode", {"category": "linear", "coin": "USDT", "mode": 3})
    assert venue.position_mode_request().params["symbol"] == "BTCUSDT"
    margin = venue.set_margin_mode_request("BTC-USDT", MarginMode.ISOLATED)
    assert (margin.path, margin.params) == ("/v5/account/set-margin-mode", {"setMarginMode": "ISOLATED_MARGIN"})
    info = {"retCode": 0, "retMsg": "OK", "result": {"marginMode": "REGULAR_MARGIN", "updatedTime": "1697078946000",
                                                     "unifiedMarginStatus": 4}}
    assert venue.parse_margin_mode(info) is MarginMode.CROSS
    # "not modified" is a success: the setting already is what was asked
    assert venue.check_response(200, {"retCode": 110043, "retMsg": "Set leverage not modified"}, {}) is None
    assert venue.is_no_change(bybit_error(200, {"retCode": 110025, "retMsg": "Position mode is not modified"}))


def test_funding_info_and_payments() -> None:
    venue = perp()
    tickers = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [{
        "symbol": "BTCUSDT", "lastPrice": "16597.00", "indexPrice": "16598.54", "markPrice": "16596.00",
        "fundingRate": "-0.000212", "nextFundingTime": "1673280000000"}]}, "time": 1672376496682}
    info = venue.parse_funding_info(tickers)
    assert (info.trading_pair, info.rate, info.mark_price, info.next_funding_utc_timestamp) == \
        ("BTC-USDT", D("-0.000212"), D("16596.00"), 1673280000.0)
    req = venue.funding_payments_request(1672128000000)
    assert req.params["type"] == "SETTLEMENT" and req.params["accountType"] == "UNIFIED"
    [payment] = venue.parse_funding_payments(TRANSACTION_LOG)
    assert (payment.pair, payment.amount, payment.asset, payment.timestamp) == \
        ("XRP-USDT", D("-0.003676"), "USDT", 1672128000.0)


# ---- errors ----

def test_rejection_in_a_200_body_is_an_error_with_the_code() -> None:
    venue = spot()
    exc = venue.check_response(200, {"retCode": 170131, "retMsg": "Insufficient balance.", "result": {}}, {})
    assert isinstance(exc, errors.InsufficientBalance) and exc.code == 170131
    assert venue.check_response(200, {"retCode": 0, "retMsg": "OK", "result": {}}, {}) is None
    assert isinstance(venue.check_response(200, {"retCode": 10001, "retMsg": "params error"}, {}), errors.InvalidOrder)
    assert isinstance(venue.check_response(200, {"retCode": 110007, "retMsg": "ab not enough"}, {}),
                      errors.InsufficientBalance)
    assert isinstance(venue.check_response(200, b"<html>", {}), errors.ExchangeError)   # not an envelope
    assert venue.check_response(502, b"bad gateway", {}).outcome_unknown


@pytest.mark.parametrize("code,cls", [
    (10002, errors.TimeSyncError), (10003, errors.AuthenticationError), (10004, errors.AuthenticationError),
    (10006, errors.RateLimitError), (10016, errors.OutcomeUnknown), (10000, errors.OutcomeUnknown),
    (10019, errors.ServiceUnavailable), (110001, errors.OrderNotFound),
    (170213, errors.OrderNotFound), (110072, errors.InvalidOrder), (123456789, errors.ExchangeError),
])
def test_error_codes(code: int, cls: type) -> None:
    exc = bybit_error(200, {"retCode": code, "retMsg": "m"})
    assert type(exc) is cls and exc.code == code


def test_http_status_errors_and_rate_limit_reset() -> None:
    exc = bybit_error(200, {"retCode": 10006, "retMsg": "Too many visits!"},
                      {"X-Bapi-Limit-Reset-Timestamp": "1672738135824", "Timenow": "1672738134824"})
    assert isinstance(exc, errors.RateLimitError) and exc.retry_after == 1.0
    assert isinstance(bybit_error(403, b"access too frequent"), errors.RateLimitError)
    assert isinstance(bybit_error(401, b""), errors.AuthenticationError)
    assert isinstance(bybit_error(502, b"bad gateway"), errors.OutcomeUnknown)   # may have been acted on
    assert spot().is_order_not_found(bybit_error(200, {"retCode": 110001, "retMsg": "order not exists"}))


def test_rate_limits_follow_the_table() -> None:
    spot_limits = {r.limit_id: r for r in K.rate_limits("spot")}
    linear_limits = {r.limit_id: r for r in K.rate_limits("linear")}
    assert spot_limits["/v5/order/create"].limit == 20 and linear_limits["/v5/order/create"].limit == 10
    assert spot_limits[K.IP_LIMIT].limit == 600 and spot_limits[K.IP_LIMIT].time_interval == 5.0
    assert linear_limits["/v5/position/set-leverage"].limit == 10
    assert all(any(link.limit_id == K.IP_LIMIT for link in r.linked_limits)
               for r in spot_limits.values() if r.limit_id != K.IP_LIMIT)


# ---- WebSocket order entry ----

def test_ws_order_entry_frames() -> None:
    venue = spot()
    assert venue.ws_order_entry and venue.ws_order_url() == "wss://stream.bybit.com/v5/trade"
    assert json.loads(venue.ws_order_login(1_000))["op"] == "auth"
    frame = venue.ws_place_order_message(order(order_type=OrderType.LIMIT_MAKER), AccountSettings(), "c-1",
                                         1711001595207)
    msg = json.loads(frame)
    assert msg["op"] == "order.create" and msg["reqId"] == "c-1"
    assert msg["header"] == {"X-BAPI-TIMESTAMP": "1711001595207", "X-BAPI-RECV-WINDOW": "5000"}
    assert msg["args"] == [venue.order_params(order(order_type=OrderType.LIMIT_MAKER))]
    assert json.loads(venue.ws_cancel_order_message(order(), "x-2", 1711001595208))["op"] == "order.cancel"
    with pytest.raises(ValueError):
        venue.ws_cancel_order_message(order(), "r" * 37, 1)
    answer = {"reqId": "c-1", "retCode": 0, "retMsg": "OK", "op": "order.create",
              "data": {"orderId": "a4c1718e-fe53-4659-a118-1f6ecce04ad9", "orderLinkId": "HBCBBTCUSDT1"},
              "retExtInfo": {}, "header": {"X-Bapi-Limit": "10"}, "connId": "c"}
    reply = venue.parse_ws_order_reply(json.dumps(answer))
    assert isinstance(reply, WsOrderReply) and reply.request_id == "c-1" and reply.error is None
    update, _ = venue.parse_place_order(reply.data, order(), 3.0)
    assert update.exchange_order_id == "a4c1718e-fe53-4659-a118-1f6ecce04ad9"
    rejected = dict(answer, retCode=110007, retMsg="ab not enough for new order", data={})
    bad = venue.parse_ws_order_reply(json.dumps(rejected))
    assert isinstance(bad.error, errors.InsufficientBalance) and bad.error.code == 110007 and bad.data is None
    assert venue.parse_ws_order_reply('{"retCode":0,"retMsg":"OK","op":"pong","data":["1"]}') is None


def test_rsa_keys_sign_base64_rsa_sha256() -> None:
    """Self-generated (RSA) API keys: the same plain text, signed RSA-SHA256 and base64-encoded
    ("convert it ... to base64 for RSA_SHA256")."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    venue = BybitSpotTrading("XXXXXXXXXX", "", private_key_pem=pem)
    req = VenueRequest("GET", "/v5/order/realtime", {"category": "option", "symbol": "BTC-29JUL22-25000-C"},
                       signed=True)
    prepared = venue.prepare(req, DOC_GET["timestamp"])
    signature = base64.b64decode(prepared.headers["X-BAPI-SIGN"])
    key.public_key().verify(signature, DOC_GET["plain"].encode(), padding.PKCS1v15(), hashes.SHA256())
    auth = json.loads(venue.user_stream_login(1_000))
    key.public_key().verify(base64.b64decode(auth["args"][2]), f"GET/realtime{auth['args'][1]}".encode(),
                            padding.PKCS1v15(), hashes.SHA256())
    assert pem.decode() in venue.credentials.secret_values() and "BEGIN" not in repr(venue.credentials)
