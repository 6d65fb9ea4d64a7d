"""FoxBit spot (WebSocket API v3): market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.foxbit.market_data import MARKET_DATA, FoxbitMarketData

__all__ = ["MARKET_DATA", "FoxbitMarketData"]
