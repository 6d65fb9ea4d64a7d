"""Bybit v5 spot and linear perpetual: market data, trading and perpetual translation."""
from __future__ import annotations

from hbconnect.exchanges.bybit.market_data import MARKET_DATA, BybitMarketData
from hbconnect.exchanges.bybit.perpetual import BybitPerpetualTrading
from hbconnect.exchanges.bybit.trading import BybitSpotTrading

TRADING: dict = {
    "bybit": BybitSpotTrading,
    "bybit_perpetual": BybitPerpetualTrading,
}

__all__ = ["MARKET_DATA", "TRADING", "BybitMarketData", "BybitSpotTrading", "BybitPerpetualTrading"]
