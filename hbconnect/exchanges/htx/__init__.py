"""HTX (Huobi) spot: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.htx.market_data import MARKET_DATA, HtxMarketData

__all__ = ["MARKET_DATA", "HtxMarketData"]
