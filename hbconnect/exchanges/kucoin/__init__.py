"""KuCoin spot and futures: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.kucoin.market_data import (
    MARKET_DATA,
    KucoinPerpetualMarketData,
    KucoinSpotMarketData,
)

__all__ = ["MARKET_DATA", "KucoinPerpetualMarketData", "KucoinSpotMarketData"]
