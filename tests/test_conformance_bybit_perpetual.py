"""Bybit v5 linear perpetual runs the venue conformance suite (payloads as Bybit documents them:
instruments-info ``linear``, the Unified wallet, ``/v5/position/list``, tickers, transaction log)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from conformance import ConformanceTests
from test_conformance_bybit import BybitCommonCase, envelope

from hbconnect.connector import PerpConnector
from hbconnect.exchanges.bybit import BybitPerpetualTrading

D = Decimal


def linear_instrument(symbol: str, base: str, quote: str) -> dict:
    """One instruments-info linear entry (documented "Response Example")."""
    return {"symbol": symbol, "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": base,
            "quoteCoin": quote, "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "",
            "priceScale": "2", "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
            "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": "0.001", "qtyStep": "0.001",
                              "postOnlyMaxOrderQty": "1190.000", "maxMktOrderQty": "500.000",
                              "minNotionalValue": "100"},
            "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": quote, "copyTrading": "both",
            "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False,
            "preListingInfo": None, "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            "symbolType": ""}


class BybitPerpetualCase(BybitCommonCase):
    connector_class = PerpConnector
    category = "linear"
    rejection_code = 110007
    valid_order = (D("0.010"), D("20000.0"))
    below_min_notional = (D("0.001"), D("20000.0"))     # 20 USDT < minNotionalValue 100
    expected_balances = {"USDT": (D("1000.5"), D("800.25"))}

    def make_venue(self, rest_url: str, ws_url: str) -> Any:
        return BybitPerpetualTrading("XXXXXXXXXX", "bybit-conformance-secret", rest_url=rest_url,
                                     ws_url=ws_url + "/v5/private", trade_ws_url=ws_url + "/v5/trade")

    def place_rejected(self):
        return 200, envelope({}, 110007, "ab not enough for new order")

    def rules_body(self) -> Any:
        broken = linear_instrument(self.malformed_symbol + "USDT", self.malformed_symbol, "USDT")
        del broken["lotSizeFilter"]["qtyStep"]
        return envelope({"category": "linear", "nextPageCursor": "",
                         "list": [linear_instrument(self.symbol, self.base, self.quote), broken]})

    def balances_body(self) -> Any:
        return envelope({"list": [{"accountType": "UNIFIED", "totalEquity": "1000.5", "coin": [{
            "coin": "USDT", "equity": "1000.5", "walletBalance": "1000.5", "locked": "0", "totalOrderIM": "150.25",
            "totalPositionIM": "50", "totalPositionMM": "10", "unrealisedPnl": "0", "cumRealisedPnl": "0",
            "bonus": "0", "spotBorrow": "0", "borrowAmount": "0", "accruedInterest": "0", "usdValue": "1000.5",
            "collateralSwitch": True, "marginCollateral": True, "availableToWithdraw": "", "availableToBorrow": ""}]}]})

    def extra_routes(self) -> list:
        flat = {"positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": self.symbol, "side": "",
                "size": "0", "avgPrice": "0", "positionValue": "0", "tradeMode": 0, "positionStatus": "Normal",
                "autoAddMargin": 0, "adlRankIndicator": 0, "leverage": "10", "markPrice": "28184.5", "liqPrice": "",
                "positionIM": "0", "positionMM": "0", "unrealisedPnl": "0", "curRealisedPnl": "0",
                "cumRealisedPnl": "0", "seq": 8327597863, "isReduceOnly": False, "createdTime": "1694402496913",
                "updatedTime": "1697682317038"}
        return super().extra_routes() + [
            (("GET", "/v5/position/list"), (200, envelope({"list": [flat], "nextPageCursor": "", "category": "linear"}))),
            (("GET", "/v5/market/tickers"), (200, envelope({"category": "linear", "list": [{
                "symbol": self.symbol, "lastPrice": "16597.00", "indexPrice": "16598.54", "markPrice": "16596.00",
                "fundingRate": "-0.000212", "nextFundingTime": "4597920000000"}]}))),
            (("GET", "/v5/account/transaction-log"), (200, envelope({"list": [], "nextPageCursor": ""}))),
        ]


class TestBybitPerpetualConformance(ConformanceTests):
    case_class = BybitPerpetualCase
