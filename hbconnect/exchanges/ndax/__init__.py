"""NDAX spot (AlphaPoint gateway): market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.ndax.market_data import MARKET_DATA, NdaxMarketData

__all__ = ["MARKET_DATA", "NdaxMarketData"]
