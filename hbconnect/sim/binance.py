"""The Binance venue of the embedded exchange: spot (``binance.spot``) and USDⓈ-M futures
(``binance.futures``) front ends, each on its own port, as Binance serves them on two hosts."""
from __future__ import annotations

from typing import Any, Optional

from hbconnect.sim.binance_base import RateLimits
from hbconnect.sim.binance_futures import FuturesFrontEnd
from hbconnect.sim.binance_spot import SpotFrontEnd
from hbconnect.sim.server import FrontEnd

SPOT_LIMITS = RateLimits(6000, 100, 200_000, 86400)
FUTURES_LIMITS = RateLimits(2400, 300, 1200, 60)


def front_ends(exchange: Any, *, spot_limits: Optional[RateLimits] = None,
               futures_limits: Optional[RateLimits] = None,
               ping_interval: Optional[float] = None) -> dict[str, FrontEnd]:
    """The venue's front ends over the exchange's engines (see :mod:`hbconnect.sim`)."""
    return {
        "binance.spot": SpotFrontEnd(exchange, exchange.spot_engine, spot_limits or SPOT_LIMITS,
                                     exchange.injector, seed=exchange.seed, ping_interval=ping_interval),
        "binance.futures": FuturesFrontEnd(exchange, exchange.futures_engine, futures_limits or FUTURES_LIMITS,
                                           exchange.injector, seed=exchange.seed + 1,
                                           ping_interval=ping_interval),
    }
