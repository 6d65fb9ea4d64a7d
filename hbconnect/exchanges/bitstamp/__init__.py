"""Bitstamp (API v2): market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.bitstamp.market_data import MARKET_DATA, BitstampMarketData

__all__ = ["MARKET_DATA", "BitstampMarketData"]
