"""Bitfinex spot: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.bitfinex.market_data import MARKET_DATA, BitfinexMarketData

__all__ = ["MARKET_DATA", "BitfinexMarketData"]
