"""MEXC spot: market data translation (``market_data``), protobuf pushes decoded with the
modules generated from MEXC's published .proto files (``proto``)."""
from __future__ import annotations

from hbconnect.exchanges.mexc.market_data import MARKET_DATA, MexcMarketData

__all__ = ["MARKET_DATA", "MexcMarketData"]
