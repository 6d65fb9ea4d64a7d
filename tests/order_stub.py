"""The order a venue's trading translation is handed in unit tests: the fields it reads, no engine.

Each venue's test module fixes its own defaults (amounts and ids in the venue's documented
examples) with :func:`order_factory`; a test overrides any field by keyword.
"""
from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Callable, Optional

from hbconnect.core.types import OrderType, PositionAction, TradeType


def order_factory(amount: str, price: str, cid: str, eid: Optional[str]) -> Callable[..., SimpleNamespace]:
    """An ``order(...)`` with these defaults (a BTC-USDT limit buy, no position action)."""
    def order(pair: str = "BTC-USDT", trade_type: TradeType = TradeType.BUY, order_type: OrderType = OrderType.LIMIT,
              amount: str = amount, price: str = price, cid: str = cid, eid: Any = eid,
              position: PositionAction = PositionAction.NIL) -> SimpleNamespace:
        return SimpleNamespace(trading_pair=pair, trade_type=trade_type, order_type=order_type,
                               amount=Decimal(amount), price=Decimal(price), client_order_id=cid,
                               exchange_order_id=eid, position=position)
    return order
