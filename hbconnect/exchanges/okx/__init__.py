"""OKX v5 spot and perpetual swap: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.okx.market_data import MARKET_DATA, OkxMarketData

__all__ = ["MARKET_DATA", "OkxMarketData"]
