"""Kraken spot: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.kraken.market_data import MARKET_DATA, KrakenMarketData, KrakenV2MarketData

__all__ = ["MARKET_DATA", "KrakenMarketData", "KrakenV2MarketData"]
