"""The embedded exchange: a neutral matching core behind venue protocol front ends.

It runs on 127.0.0.1 (random free ports by default) and shares no code with
``hbconnect.exchanges`` or ``hbconnect.connector``: it implements each venue's side of the
protocol on its own (signature checks, message shapes), so a bug on one side cannot hide the
same bug on the other.

The layout, the core's neutral vocabulary and how to write a venue front end: ``docs/sim.md``
in the repository.
"""
from hbconnect.sim.accounts import Account
from hbconnect.sim.binance_base import RateLimits
from hbconnect.sim.errors import Reject, SimReject
from hbconnect.sim.exchange import EmbeddedExchange
from hbconnect.sim.faults import FaultConfig
from hbconnect.sim.matching import MatchingEngine, Order, OrderRequest, SymbolSpec
from hbconnect.sim.server import FrontEnd, WireError

__all__ = ["EmbeddedExchange", "FaultConfig", "RateLimits", "Account", "MatchingEngine", "Order",
           "OrderRequest", "SymbolSpec", "Reject", "SimReject", "FrontEnd", "WireError"]
