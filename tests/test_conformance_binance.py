"""Binance spot runs the venue conformance suite with payloads shaped as Binance documents them."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, List, Optional

from conformance import ConformanceTests, VenueCase

from hbconnect.exchanges.binance import BinanceSpotTrading

D = Decimal

_STATUS = {"OPEN": "NEW", "PARTIALLY_FILLED": "PARTIALLY_FILLED", "FILLED": "FILLED", "CANCELED": "CANCELED"}


def spot_symbol(symbol: str, base: str, quote: str, tick: str = "0.01", step: str = "0.00001",
                min_notional: str = "5.00000000") -> dict:
    """An exchangeInfo symbol entry (GET /api/v3/exchangeInfo documented shape)."""
    return {
        "symbol": symbol, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
        "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": step},
            {"filterType": "NOTIONAL", "minNotional": min_notional, "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        ],
        "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


class BinanceCommonCase(VenueCase):
    """What Binance spot and USDⓈ-M share: ids, server time, listen keys, error bodies (HTTP 4xx
    with a JSON ``code``; 429 with Retry-After)."""

    symbol = "BTCUSDT"
    rejection_code = -2010

    def client_order_id(self, params: dict) -> str:
        return params.get("newClientOrderId") or params["origClientOrderId"]

    def time_body(self, now_ms: int) -> Any:
        return {"serverTime": now_ms}

    def token_body(self, token: str) -> Any:
        return {"listenKey": token}

    def keepalive_token(self, params: dict) -> Optional[str]:
        return params.get("listenKey")

    def rate_limited(self, retry_after: float) -> Any:
        return 429, {"code": -1003, "msg": "Too many requests."}, {"Retry-After": f"{retry_after:g}"}

    def time_sync_error(self):
        return 400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}

    def not_found(self):
        return 400, {"code": -2013, "msg": "Order does not exist."}

    def ws_stream_expired(self) -> str:
        return json.dumps({"e": "listenKeyExpired", "E": 1576653824250, "listenKey": "streamtoken0123456789"})


class BinanceSpotCase(BinanceCommonCase):
    time_route = ("GET", "/api/v3/time")
    rules_route = ("GET", "/api/v3/exchangeInfo")
    balances_route = ("GET", "/api/v3/account")
    token_route = ("POST", "/api/v3/userDataStream")
    keepalive_route = ("PUT", "/api/v3/userDataStream")
    place_route = ("POST", "/api/v3/order")
    cancel_route = ("DELETE", "/api/v3/order")
    status_route = ("GET", "/api/v3/order")
    fills_route = ("GET", "/api/v3/myTrades")
    expected_balances = {"BTC": (D("1.5"), D("1.0")), "USDT": (D("10000"), D("10000"))}

    def make_venue(self, rest_url: str, ws_url: str) -> Any:
        return BinanceSpotTrading("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
                                  "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
                                  rest_url=rest_url, ws_url=ws_url)

    def rules_body(self) -> Any:
        broken = spot_symbol(self.malformed_symbol + "USDT", self.malformed_symbol, "USDT")
        broken["filters"] = [{"filterType": "PRICE_FILTER", "minPrice": "0", "maxPrice": "0", "tickSize": "abc"}]
        return {"timezone": "UTC", "serverTime": 1565246363776,
                "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}],
                "exchangeFilters": [],
                "symbols": [spot_symbol(self.symbol, self.base, self.quote), broken]}

    def balances_body(self) -> Any:
        return {"makerCommission": 15, "takerCommission": 15, "buyerCommission": 0, "sellerCommission": 0,
                "canTrade": True, "canWithdraw": True, "canDeposit": True, "updateTime": 123456789,
                "accountType": "SPOT",
                "balances": [{"asset": "BTC", "free": "1.00000000", "locked": "0.50000000"},
                             {"asset": "USDT", "free": "10000.00000000", "locked": "0.00000000"}],
                "permissions": ["SPOT"], "uid": 354937868}

    def _order(self, params: dict, eid: int, status: str, executed: Decimal) -> dict:
        price = D(params.get("price", "0"))
        return {"symbol": params["symbol"], "orderId": eid, "orderListId": -1,
                "clientOrderId": params["newClientOrderId"], "price": params.get("price", "0.00000000"),
                "origQty": params["quantity"], "executedQty": str(executed),
                "cummulativeQuoteQty": str(executed * price), "status": status,
                "timeInForce": params.get("timeInForce", "GTC"), "type": params["type"], "side": params["side"],
                "workingTime": 1507725176595, "selfTradePreventionMode": "NONE"}

    def place_ok(self, params: dict, exchange_order_id: int) -> Any:
        d = self._order(params, exchange_order_id, "NEW", D(0))
        d["transactTime"] = 1507725176595
        d["fills"] = []
        return d

    def place_rejected(self):
        return 400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}

    def cancel_ok(self, params: dict, exchange_order_id: int) -> Any:
        d = self._order(params, exchange_order_id, "CANCELED", D(0))
        d["origClientOrderId"] = params["newClientOrderId"]
        d["transactTime"] = 1684804350068
        return d

    def cancel_error(self):
        return 400, {"code": -1000, "msg": "An unknown error occurred while processing the request."}

    def status_body(self, params: dict, exchange_order_id: int, state: str, executed: Decimal) -> Any:
        d = self._order(params, exchange_order_id, _STATUS[state], executed)
        d.update({"stopPrice": "0.0", "icebergQty": "0.0", "time": 1499827319559, "updateTime": 1499827319559,
                  "isWorking": True, "origQuoteOrderQty": "0.000000"})
        return d

    def fills_body(self, params: dict, exchange_order_id: int, fills: List[tuple]) -> Any:
        return [{"symbol": params["symbol"], "id": int(tid), "orderId": exchange_order_id, "orderListId": -1,
                 "price": str(price), "qty": str(qty), "quoteQty": str(price * qty), "commission": str(fee),
                 "commissionAsset": fee_asset, "time": 1499865549590, "isBuyer": params["side"] == "BUY",
                 "isMaker": False, "isBestMatch": True} for tid, price, qty, fee, fee_asset in fills]

    def ws_order(self, params: dict, exchange_order_id: int, state: str, executed: Decimal,
                 fill: Optional[tuple] = None) -> str:
        tid, price, qty, fee, fee_asset = fill or (-1, D(0), D(0), D(0), None)
        return json.dumps({
            "e": "executionReport", "E": 1499405658658, "s": params["symbol"], "c": params["newClientOrderId"],
            "S": params["side"], "o": params["type"], "f": "GTC", "q": params["quantity"], "p": params["price"],
            "P": "0.00000000", "F": "0.00000000", "g": -1, "C": "", "x": "TRADE" if fill else "NEW",
            "X": _STATUS[state], "r": "NONE", "i": exchange_order_id, "l": str(qty), "z": str(executed),
            "L": str(price), "n": str(fee), "N": fee_asset, "T": 1499405658657, "t": int(tid), "v": 3,
            "I": 8641984, "w": state != "FILLED", "m": False, "M": False, "O": 1499405658657,
            "Z": "0.00000000", "Y": "0.00000000", "Q": "0.00000000", "W": 1499405658657, "V": "NONE"})

    def ws_balance(self, asset: str, total: Decimal, available: Decimal) -> str:
        return json.dumps({"e": "outboundAccountPosition", "E": 1564034571105, "u": 1564034571073,
                           "B": [{"a": asset, "f": str(available), "l": str(total - available)}]})


class TestBinanceSpotConformance(ConformanceTests):
    case_class = BinanceSpotCase
