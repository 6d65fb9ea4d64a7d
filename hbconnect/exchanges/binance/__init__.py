"""Binance spot and USDⓈ-M perpetual: market data, trading and perpetual translation."""
from __future__ import annotations

from hbconnect.exchanges.binance.constants import perp_rate_limits, spot_rate_limits
from hbconnect.exchanges.binance.market_data import MARKET_DATA, BinanceMarketData
from hbconnect.exchanges.binance.perpetual import BinancePerpetualTrading
from hbconnect.exchanges.binance.trading import BinanceSpotTrading

TRADING: dict = {
    "binance": BinanceSpotTrading,
    "binance_perpetual": BinancePerpetualTrading,
}

__all__ = ["MARKET_DATA", "TRADING", "BinanceMarketData", "BinanceSpotTrading", "BinancePerpetualTrading",
           "spot_rate_limits", "perp_rate_limits"]
