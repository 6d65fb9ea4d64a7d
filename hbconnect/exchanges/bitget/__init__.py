"""Bitget v2 spot and USDT-M futures: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.bitget.market_data import MARKET_DATA, BitgetMarketData

__all__ = ["MARKET_DATA", "BitgetMarketData"]
