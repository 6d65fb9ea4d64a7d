"""BingX spot: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.bing_x.market_data import MARKET_DATA, BingXMarketData

__all__ = ["MARKET_DATA", "BingXMarketData"]
