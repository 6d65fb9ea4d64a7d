"""Bitrue spot: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.bitrue.market_data import MARKET_DATA, BitrueMarketData

__all__ = ["MARKET_DATA", "BitrueMarketData"]
