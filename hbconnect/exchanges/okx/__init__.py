"""OKX v5 spot and perpetual swap: market data (``market_data``), the instrument table
(``instruments``), trading (``trading``, ``perpetual``) and the venue's facts (``constants``)."""
from __future__ import annotations

from hbconnect.exchanges.okx.market_data import MARKET_DATA, OkxMarketData
from hbconnect.exchanges.okx.perpetual import OkxPerpetualTrading
from hbconnect.exchanges.okx.trading import OkxSpotTrading

TRADING: dict = {
    "okx": OkxSpotTrading,
    "okx_perpetual": OkxPerpetualTrading,
}

__all__ = ["MARKET_DATA", "TRADING", "OkxMarketData", "OkxSpotTrading", "OkxPerpetualTrading"]
