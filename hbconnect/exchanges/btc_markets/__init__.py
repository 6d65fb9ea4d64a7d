"""BTC Markets spot: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.btc_markets.market_data import MARKET_DATA, BtcMarketsMarketData

__all__ = ["MARKET_DATA", "BtcMarketsMarketData"]
