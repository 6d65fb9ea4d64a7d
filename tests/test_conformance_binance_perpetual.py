"""Binance USDⓈ-M perpetual runs the venue conformance suite (payloads as Binance documents them)."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, List, Optional

from conformance import ConformanceTests
from test_conformance_binance import BinanceCommonCase

from hbconnect.connector import PerpConnector
from hbconnect.core.types import OrderType
from hbconnect.exchanges.binance import BinancePerpetualTrading

D = Decimal

_STATUS = {"OPEN": "NEW", "PARTIALLY_FILLED": "PARTIALLY_FILLED", "FILLED": "FILLED", "CANCELED": "CANCELED"}


def perp_symbol(symbol: str, base: str, quote: str) -> dict:
    """A /fapi/v1/exchangeInfo symbol entry (documented shape)."""
    return {
        "symbol": symbol, "pair": symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000", "baseAsset": base, "quoteAsset": quote, "marginAsset": quote,
        "pricePrecision": 2, "quantityPrecision": 3, "baseAssetPrecision": 8, "quotePrecision": 8,
        "underlyingType": "COIN", "underlyingSubType": ["PoW"], "settlePlan": 0, "triggerProtect": "0.0500",
        "filters": [
            {"filterType": "PRICE_FILTER", "maxPrice": "4529764", "minPrice": "556.80", "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "maxQty": "1000", "minQty": "0.001", "stepSize": "0.001"},
            {"filterType": "MARKET_LOT_SIZE", "maxQty": "120", "minQty": "0.001", "stepSize": "0.001"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
             "multiplierDecimal": "4"},
        ],
        "OrderType": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"], "liquidationFee": "0.010000", "marketTakeBound": "0.30",
    }


class BinancePerpetualCase(BinanceCommonCase):
    connector_class = PerpConnector
    rejection_code = -2019
    time_route = ("GET", "/fapi/v1/time")
    rules_route = ("GET", "/fapi/v1/exchangeInfo")
    balances_route = ("GET", "/fapi/v2/balance")
    token_route = ("POST", "/fapi/v1/listenKey")
    keepalive_route = ("PUT", "/fapi/v1/listenKey")
    place_route = ("POST", "/fapi/v1/order")
    cancel_route = ("DELETE", "/fapi/v1/order")
    status_route = ("GET", "/fapi/v1/order")
    fills_route = ("GET", "/fapi/v1/userTrades")
    valid_order = (D("0.010"), D("20000.0"))
    below_min_notional = (D("0.001"), D("20000.0"))  # 20 USDT < 100 USDT
    expected_balances = {"USDT": (D("1000.5"), D("800.25"))}
    stream_carries_available = False  # ACCOUNT_UPDATE has wallet balances only
    expected_order_types = [OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.MARKET]

    def make_venue(self, rest_url: str, ws_url: str) -> Any:
        return BinancePerpetualTrading("dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83",
                                       "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9",
                                       rest_url=rest_url, ws_url=ws_url)

    def extra_routes(self) -> list:
        return [
            (("GET", "/fapi/v1/positionSide/dual"), (200, {"dualSidePosition": False})),
            (("GET", "/fapi/v2/positionRisk"), (200, [{
                "entryPrice": "0.00000", "breakEvenPrice": "0.0", "marginType": "cross", "isAutoAddMargin": "false",
                "isolatedMargin": "0.00000000", "leverage": "10", "liquidationPrice": "0", "markPrice": "6679.50671178",
                "maxNotionalValue": "20000000", "positionAmt": "0.000", "notional": "0", "isolatedWallet": "0",
                "symbol": "BTCUSDT", "unRealizedProfit": "0.00000000", "positionSide": "BOTH", "updateTime": 0}])),
            (("GET", "/fapi/v1/premiumIndex"), (200, {
                "symbol": "BTCUSDT", "markPrice": "11793.63104562", "indexPrice": "11781.80495970",
                "estimatedSettlePrice": "11781.16138815", "lastFundingRate": "0.00038246",
                "interestRate": "0.00010000", "nextFundingTime": 4597920000000, "time": 1597370495002})),
            (("GET", "/fapi/v1/income"), (200, [])),
        ]

    def rules_body(self) -> Any:
        broken = perp_symbol(self.malformed_symbol + "USDT", self.malformed_symbol, "USDT")
        broken["filters"] = [f for f in broken["filters"] if f["filterType"] != "LOT_SIZE"]
        return {"timezone": "UTC", "serverTime": 1565613908500, "futuresType": "U_MARGINED",
                "rateLimits": [{"interval": "MINUTE", "intervalNum": 1, "limit": 2400, "rateLimitType": "REQUEST_WEIGHT"}],
                "exchangeFilters": [], "assets": [],
                "symbols": [perp_symbol(self.symbol, self.base, self.quote), broken]}

    def balances_body(self) -> Any:
        return [{"accountAlias": "SgsR", "asset": "USDT", "balance": "1000.5", "crossWalletBalance": "1000.5",
                 "crossUnPnl": "0.00000000", "availableBalance": "800.25", "maxWithdrawAmount": "800.25",
                 "marginAvailable": True, "updateTime": 1617939110373}]

    def _order(self, params: dict, eid: int, status: str, executed: Decimal) -> dict:
        price = D(params.get("price", "0"))
        return {"clientOrderId": params["newClientOrderId"], "cumQty": str(executed), "cumQuote": str(executed * price),
                "executedQty": str(executed), "orderId": eid, "avgPrice": str(price if executed else 0),
                "origQty": params["quantity"], "price": params.get("price", "0"), "reduceOnly": False,
                "side": params["side"], "positionSide": "BOTH", "status": status, "stopPrice": "0",
                "closePosition": False, "symbol": params["symbol"], "timeInForce": params.get("timeInForce", "GTC"),
                "type": params["type"], "origType": params["type"], "updateTime": 1566818724722,
                "workingType": "CONTRACT_PRICE", "priceProtect": False, "priceMatch": "NONE",
                "selfTradePreventionMode": "NONE", "goodTillDate": 0}

    def place_ok(self, params: dict, exchange_order_id: int) -> Any:
        return self._order(params, exchange_order_id, "NEW", D(0))

    def place_rejected(self):
        return 400, {"code": -2019, "msg": "Margin is insufficient."}

    def cancel_ok(self, params: dict, exchange_order_id: int) -> Any:
        return self._order(params, exchange_order_id, "CANCELED", D(0))

    def cancel_error(self):
        return 400, {"code": -1000, "msg": "An unknown error occured while processing the request."}

    def status_body(self, params: dict, exchange_order_id: int, state: str, executed: Decimal) -> Any:
        d = self._order(params, exchange_order_id, _STATUS[state], executed)
        d["time"] = 1579276756075
        return d

    def fills_body(self, params: dict, exchange_order_id: int, fills: List[tuple]) -> Any:
        return [{"buyer": params["side"] == "BUY", "commission": str(fee), "commissionAsset": fee_asset,
                 "id": int(tid), "maker": False, "orderId": exchange_order_id, "price": str(price), "qty": str(qty),
                 "quoteQty": str(price * qty), "realizedPnl": "0", "side": params["side"], "positionSide": "BOTH",
                 "symbol": params["symbol"], "time": 1569514978020} for tid, price, qty, fee, fee_asset in fills]

    def ws_order(self, params: dict, exchange_order_id: int, state: str, executed: Decimal,
                 fill: Optional[tuple] = None) -> str:
        tid, price, qty, fee, fee_asset = fill or (0, D(0), D(0), D(0), "USDT")
        return json.dumps({"e": "ORDER_TRADE_UPDATE", "E": 1568879465651, "T": 1568879465650, "o": {
            "s": params["symbol"], "c": params["newClientOrderId"], "S": params["side"], "o": params["type"],
            "f": params.get("timeInForce", "GTC"), "q": params["quantity"], "p": params["price"], "ap": str(price),
            "sp": "0", "x": "TRADE" if fill else "NEW", "X": _STATUS[state], "i": exchange_order_id,
            "l": str(qty), "z": str(executed), "L": str(price), "N": fee_asset, "n": str(fee), "T": 1568879465650,
            "t": int(tid), "b": "0", "a": "0", "m": False, "R": False, "wt": "CONTRACT_PRICE", "ot": params["type"],
            "ps": "BOTH", "cp": False, "rp": "0", "pP": False, "si": 0, "ss": 0, "V": "NONE", "pm": "NONE",
            "gtd": 0}})

    def ws_balance(self, asset: str, total: Decimal, available: Decimal) -> str:
        return json.dumps({"e": "ACCOUNT_UPDATE", "E": 1717939110999, "T": 1717939110998, "a": {
            "m": "DEPOSIT", "B": [{"a": asset, "wb": str(total), "cw": str(total), "bc": "0"}], "P": []}})


class TestBinancePerpetualConformance(ConformanceTests):
    case_class = BinancePerpetualCase
