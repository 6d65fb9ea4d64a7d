"""Gate.io spot (API v4) and USDT-settled perpetual: market data translation (``market_data``)."""
from __future__ import annotations

from hbconnect.exchanges.gate_io.market_data import MARKET_DATA, GatePerpetualMarketData, GateSpotMarketData

__all__ = ["MARKET_DATA", "GatePerpetualMarketData", "GateSpotMarketData"]
