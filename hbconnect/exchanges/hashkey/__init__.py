"""HashKey Global spot and perpetual: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.hashkey.market_data import MARKET_DATA, HashKeyMarketData

__all__ = ["MARKET_DATA", "HashKeyMarketData"]
