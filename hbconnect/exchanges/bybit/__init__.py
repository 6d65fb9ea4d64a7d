"""Bybit v5 spot and linear perpetual: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.bybit.market_data import MARKET_DATA, BybitMarketData

__all__ = ["MARKET_DATA", "BybitMarketData"]
