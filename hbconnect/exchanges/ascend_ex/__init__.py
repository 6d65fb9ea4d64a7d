"""AscendEx spot: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.ascend_ex.market_data import MARKET_DATA, AscendExMarketData

__all__ = ["MARKET_DATA", "AscendExMarketData"]
