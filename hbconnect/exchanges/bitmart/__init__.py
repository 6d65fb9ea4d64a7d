"""Bitmart spot: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.bitmart.market_data import MARKET_DATA, BitmartMarketData

__all__ = ["MARKET_DATA", "BitmartMarketData"]
