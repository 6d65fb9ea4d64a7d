"""Coinbase Advanced Trade: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.coinbase.market_data import MARKET_DATA, CoinbaseMarketData

__all__ = ["MARKET_DATA", "CoinbaseMarketData"]
