"""Bybit v5 spot runs the venue conformance suite with payloads shaped as Bybit documents them
(``bybit-exchange/docs`` ``docs/v5``): JSON bodies, ``retCode`` errors inside HTTP 200 bodies
(10006 for the rate limit, with ``X-Bapi-Limit-Reset-Timestamp``), a private stream opened by
``auth`` on the socket, and acknowledgement-only create/cancel answers."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, List, Optional

from conformance import ConformanceTests, VenueCase

from hbconnect.connector.contract import StreamShape
from hbconnect.exchanges.bybit import BybitSpotTrading

D = Decimal

_STATUS = {"OPEN": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled", "CANCELED": "Cancelled"}
NOW_MS = 1700000000000


def envelope(result: Any, code: int = 0, msg: str = "OK") -> dict:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": NOW_MS}


def spot_instrument(symbol: str, base: str, quote: str) -> dict:
    """One instruments-info spot entry (documented "Response Example")."""
    return {"symbol": symbol, "baseCoin": base, "quoteCoin": quote, "innovation": "0", "status": "Trading",
            "marginTrading": "utaOnly", "stTag": "0",
            "lotSizeFilter": {"basePrecision": "0.000001", "quotePrecision": "0.0000001", "minOrderQty": "0.000011",
                              "maxOrderQty": "83", "minOrderAmt": "5", "maxOrderAmt": "8000000",
                              "maxLimitOrderQty": "83", "maxMarketOrderQty": "41.5",
                              "postOnlyMaxLimitOrderSize": "60000"},
            "priceFilter": {"tickSize": "0.1"},
            "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"}, "symbolType": ""}


class BybitCommonCase(VenueCase):
    """What Bybit spot and linear share: ids, time, the auth handshake, retCode error bodies."""

    symbol = "BTCUSDT"
    category = "spot"
    stream_shape = StreamShape.LOGIN
    time_route = ("GET", "/v5/market/time")
    rules_route = ("GET", "/v5/market/instruments-info")
    balances_route = ("GET", "/v5/account/wallet-balance")
    place_route = ("POST", "/v5/order/create")
    cancel_route = ("POST", "/v5/order/cancel")
    status_route = ("GET", "/v5/order/realtime")
    fills_route = ("GET", "/v5/execution/list")
    rejection_code = 170131
    #: the wallet stream carries walletBalance and locked: the available amount is derived
    stream_carries_available = True

    def client_order_id(self, params: dict) -> str:
        return params["orderLinkId"]

    def time_body(self, now_ms: int) -> Any:
        return envelope({"timeSecond": str(now_ms // 1000), "timeNano": str(now_ms * 1_000_000)})

    # -- the private stream: auth, subscribe, ping --
    def is_login(self, message: str) -> bool:
        return message.startswith("{") and json.loads(message).get("op") == "auth"

    def ws_answer(self, message: str) -> List[str]:
        msg = json.loads(message)
        op = msg.get("op")
        if op == "auth":
            return [json.dumps({"success": True, "ret_msg": "", "op": "auth", "conn_id": "cejreaspqfh3sjdnldmg-p"})]
        if op == "subscribe":
            return [json.dumps({"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "cejreassvfrsfvb9v1a0-2m"})]
        if op == "ping":
            return [json.dumps({"req_id": "", "op": "pong", "args": [str(NOW_MS)], "conn_id": "cfcb4ocsvfriu23r3er0-1b"})]
        return []

    def ws_stream_expired(self) -> str:
        # a refused subscription on a session the venue no longer knows: the engine logs in again
        return json.dumps({"success": False, "ret_msg": "Request not authorized", "op": "subscribe",
                           "conn_id": "cejreassvfrsfvb9v1a0-2m"})

    # -- errors inside HTTP 200 bodies --
    def place_rejected(self):
        return 200, envelope({}, 170131, "Insufficient balance.")

    def rate_limited(self, retry_after: float) -> Any:
        return 200, envelope({}, 10006, "Too many visits!"), {
            "X-Bapi-Limit": "20", "X-Bapi-Limit-Status": "0",
            "X-Bapi-Limit-Reset-Timestamp": str(NOW_MS + int(retry_after * 1000)), "Timenow": str(NOW_MS)}

    def time_sync_error(self):
        return 200, envelope({}, 10002, "invalid request, please check your server timestamp or recv_window param")

    def not_found(self):
        return 200, envelope({}, 110001, "order not exists or too late to cancel")

    def cancel_error(self):
        return 200, envelope({}, 10016, "Internal server error.")

    # -- orders --
    def place_ok(self, params: dict, exchange_order_id: int) -> Any:
        return envelope({"orderId": str(exchange_order_id), "orderLinkId": params["orderLinkId"]})

    def __init__(self) -> None:
        #: orders whose cancel was acknowledged (the venue cancels them: status says Cancelled)
        self.cancelled: dict = {}

    def cancel_ok(self, params: dict, exchange_order_id: int) -> Any:
        """The acknowledgement ("the request was successfully accepted ... use the websocket to
        confirm the order status"): ids only."""
        self.cancelled[params["orderLinkId"]] = (params, exchange_order_id)
        return envelope({"orderId": str(exchange_order_id), "orderLinkId": params["orderLinkId"]})

    def status_answer(self, params: dict, exchange_order_id: int, state: str, executed: Decimal) -> Any:
        """An order whose cancel was acknowledged is Cancelled at the venue."""
        if params["orderLinkId"] in self.cancelled and state in ("OPEN", "PARTIALLY_FILLED"):
            state = "CANCELED"
        return 200, self.status_body(params, exchange_order_id, state, executed)

    def status_default(self, params: dict) -> Any:
        """Cancelled for an order whose cancel was acknowledged, else an empty list (the venue
        does not know the order)."""
        done = self.cancelled.get(params.get("orderLinkId"))
        if done is not None:
            return self.status_answer(done[0], done[1], "CANCELED", D(0))
        return 200, envelope({"list": [], "nextPageCursor": "", "category": self.category})

    def _order(self, params: dict, eid: int, state: str, executed: Decimal) -> dict:
        price = D(params.get("price") or "0")
        qty = D(params["qty"])
        return {"orderId": str(eid), "orderLinkId": params["orderLinkId"], "blockTradeId": "",
                "symbol": params["symbol"], "price": params.get("price", "0"), "qty": params["qty"],
                "side": params["side"], "isLeverage": "", "positionIdx": params.get("positionIdx", 0),
                "orderStatus": _STATUS[state], "cancelType": "CancelByUser" if state == "CANCELED" else "UNKNOWN",
                "rejectReason": "EC_PerCancelRequest" if state == "CANCELED" else "EC_NoError",
                "avgPrice": str(price) if executed else "", "leavesQty": str(qty - executed),
                "leavesValue": str((qty - executed) * price), "cumExecQty": str(executed),
                "cumExecValue": str(executed * price), "cumExecFee": "0", "timeInForce": params.get("timeInForce", "GTC"),
                "orderType": params["orderType"], "stopOrderType": "", "orderIv": "", "triggerPrice": "0",
                "takeProfit": "0", "stopLoss": "0", "tpTriggerBy": "", "slTriggerBy": "", "triggerDirection": 0,
                "triggerBy": "", "lastPriceOnCreated": "", "reduceOnly": bool(params.get("reduceOnly", False)),
                "closeOnTrigger": False, "smpType": "None", "smpGroup": 0, "smpOrderId": "", "tpslMode": "",
                "tpLimitPrice": "", "slLimitPrice": "", "placeType": "", "createdTime": str(NOW_MS),
                "updatedTime": str(NOW_MS + 5), "cumFeeDetail": {}}

    def status_body(self, params: dict, exchange_order_id: int, state: str, executed: Decimal) -> Any:
        return envelope({"list": [self._order(params, exchange_order_id, state, executed)], "nextPageCursor": "",
                         "category": self.category})

    def _execution(self, params: dict, eid: int, fill: tuple) -> dict:
        tid, price, qty, fee, fee_asset = fill
        return {"category": self.category, "symbol": params["symbol"], "isLeverage": "0", "orderId": str(eid),
                "orderLinkId": params["orderLinkId"], "side": params["side"], "orderPrice": params.get("price", "0"),
                "orderQty": params["qty"], "leavesQty": "0", "orderType": params["orderType"],
                "stopOrderType": "UNKNOWN", "execFee": str(fee), "execId": str(tid), "execPrice": str(price),
                "execQty": str(qty), "execType": "Trade", "execValue": str(price * qty), "execTime": str(NOW_MS + 3),
                "isMaker": False, "feeRate": "0.001", "tradeIv": "", "markIv": "", "markPrice": "", "indexPrice": "",
                "underlyingPrice": "", "blockTradeId": "", "closedSize": "", "seq": 4688002127,
                "feeCurrency": fee_asset or ""}

    def fills_body(self, params: dict, exchange_order_id: int, fills: List[tuple]) -> Any:
        return envelope({"nextPageCursor": "", "category": self.category,
                         "list": [self._execution(params, exchange_order_id, f) for f in fills]})

    def ws_order(self, params: dict, exchange_order_id: int, state: str, executed: Decimal,
                 fill: Optional[tuple] = None) -> Any:
        """The ``order`` frame; with a fill, the ``execution`` frame first (two topics, two frames)."""
        order = dict(self._order(params, exchange_order_id, state, executed), category=self.category)
        frame = {"id": "5923240c6880ab-c59f-420b-9adb-3639adc9dd90", "topic": "order", "creationTime": NOW_MS,
                 "data": [order]}
        if fill is None:
            return json.dumps(frame)
        execution = {"topic": "execution", "id": "386825804_BTCUSDT_140612148849382", "creationTime": NOW_MS,
                     "data": [self._execution(params, exchange_order_id, fill)]}
        return [json.dumps(execution), json.dumps(frame)]

    def ws_balance(self, asset: str, total: Decimal, available: Decimal) -> str:
        return json.dumps({"id": "592324d2bce751-ad38-48eb-8f42-4671d1fb4d4e", "topic": "wallet",
                           "creationTime": NOW_MS, "data": [{
                               "accountType": "UNIFIED", "totalEquity": "0", "coin": [{
                                   "coin": asset, "equity": str(total), "walletBalance": str(total),
                                   "locked": str(total - available), "totalOrderIM": "", "totalPositionIM": "",
                                   "unrealisedPnl": "0", "cumRealisedPnl": "0", "bonus": "0", "spotBorrow": "0",
                                   "borrowAmount": "0", "accruedInterest": "0", "usdValue": "0",
                                   "collateralSwitch": True, "marginCollateral": True,
                                   "availableToWithdraw": "", "availableToBorrow": ""}]}]})


class BybitSpotCase(BybitCommonCase):
    valid_order = (D("0.01"), D("20000"))
    below_min_notional = (D("0.0001"), D("20000"))      # 2 USDT < minOrderAmt 5
    expected_balances = {"BTC": (D("1.5"), D("1.0")), "USDT": (D("10000"), D("10000"))}

    def make_venue(self, rest_url: str, ws_url: str) -> Any:
        return BybitSpotTrading("XXXXXXXXXX", "bybit-conformance-secret", rest_url=rest_url, ws_url=ws_url + "/v5/private",
                                trade_ws_url=ws_url + "/v5/trade")

    def rules_body(self) -> Any:
        broken = spot_instrument(self.malformed_symbol + "USDT", self.malformed_symbol, "USDT")
        broken["priceFilter"] = {"tickSize": "abc"}
        return envelope({"category": "spot", "list": [spot_instrument(self.symbol, self.base, self.quote), broken]})

    def balances_body(self) -> Any:
        coin = {"availableToBorrow": "", "bonus": "0", "accruedInterest": "0", "availableToWithdraw": "",
                "totalOrderIM": "0", "totalPositionMM": "0", "usdValue": "0", "unrealisedPnl": "0",
                "collateralSwitch": True, "borrowAmount": "0", "totalPositionIM": "0", "cumRealisedPnl": "0",
                "marginCollateral": True, "spotBorrow": "0"}
        return envelope({"list": [{"accountType": "UNIFIED", "totalEquity": "0", "coin": [
            dict(coin, coin="BTC", equity="1.5", walletBalance="1.5", locked="0.5"),
            dict(coin, coin="USDT", equity="10000", walletBalance="10000", locked="0")]}]})


class BybitSpotWsCase(BybitSpotCase):
    """Creates and cancels over the trade stream (``order.create`` / ``order.cancel``): the same
    canned answers, carried in ``{"reqId", "retCode", "retMsg", "op", "data"}`` frames."""

    ws_order_entry = True

    def __init__(self) -> None:
        super().__init__()
        self._ops: dict = {}  # reqId -> op of the request it answers

    def ws_order_request(self, message: str) -> Optional[tuple]:
        msg = json.loads(message)
        route = {"order.create": self.place_route, "order.cancel": self.cancel_route}.get(msg.get("op"))
        if route is None:
            return None
        self._ops[msg["reqId"]] = msg["op"]
        return route, dict(msg["args"][0]), msg["reqId"]

    def ws_order_reply(self, request_id: str, status: int, body: Any) -> str:
        op = self._ops.pop(request_id, "order.create")
        reply = {"reqId": request_id, "retCode": body.get("retCode", 10016), "retMsg": body.get("retMsg", ""),
                 "op": op, "data": body.get("result", {}), "retExtInfo": {},
                 "header": {"X-Bapi-Limit": "20", "X-Bapi-Limit-Status": "19",
                            "X-Bapi-Limit-Reset-Timestamp": str(NOW_MS), "Traceid": "t", "Timenow": str(NOW_MS)},
                 "connId": "cnt5leec0hvan15eukcg-2v"}
        return json.dumps(reply)


class TestBybitSpotConformance(ConformanceTests):
    case_class = BybitSpotCase


class TestBybitSpotWsOrderEntryConformance(ConformanceTests):
    case_class = BybitSpotWsCase
