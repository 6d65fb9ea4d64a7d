"""One order's life at the venue: :class:`InFlightOrder` and the updates that drive it.

State machine (venue states; ``PENDING_*`` are local)::

    PENDING_CREATE -> OPEN -> PARTIALLY_FILLED -> FILLED
          |            |            |       \\-> PENDING_CANCEL -> CANCELED
          |            \\------------+--------------------------/      (FILLED)
          \\-> FAILED  (from any live state)

Rules enforced here:

* A fill is counted once: fills are keyed by ``trade_id``; a repeated trade id is ignored.
  A fill that would take the executed amount above the order amount is refused and logged.
* Terminal states (CANCELED, FILLED, FAILED) are never left: a late OPEN after FILLED does not
  reopen the order. Refused transitions are logged. Late *fills* on a cancelled/failed order
  still count (the venue traded), without changing its state.
* "Done" for a FILLED order waits for its fills: an order update saying FILLED before the fills
  leaves the order FILLED but :attr:`awaiting_fills`; it is done when the fills sum to the
  amount (or when the engine waives the missing fills after fetching them, see ``waive_fills``).
* Fills that arrive before the order is acknowledged move it straight to PARTIALLY_FILLED/FILLED.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional

from hbconnect.core.types import (
    OrderState,
    OrderType,
    PositionAction,
    RateFn,
    TradeFee,
    TradeType,
    split_trading_pair,
    to_decimal,
)

__all__ = ["OrderUpdate", "TradeUpdate", "InFlightOrder", "ALLOWED_TRANSITIONS"]

logger = logging.getLogger(__name__)

_ZERO = Decimal(0)
_S = OrderState

#: new states accepted from each state (a repeat of the current state is a no-op, not an error)
ALLOWED_TRANSITIONS: Dict[OrderState, frozenset] = {
    _S.PENDING_CREATE: frozenset({_S.OPEN, _S.PARTIALLY_FILLED, _S.PENDING_CANCEL, _S.CANCELED,
                                  _S.FILLED, _S.FAILED}),
    _S.OPEN: frozenset({_S.PARTIALLY_FILLED, _S.PENDING_CANCEL, _S.CANCELED, _S.FILLED, _S.FAILED}),
    _S.PARTIALLY_FILLED: frozenset({_S.PENDING_CANCEL, _S.CANCELED, _S.FILLED, _S.FAILED}),
    _S.PENDING_CANCEL: frozenset({_S.CANCELED, _S.FILLED, _S.FAILED}),
    _S.CANCELED: frozenset(),
    _S.FILLED: frozenset(),
    _S.FAILED: frozenset(),
}
_VENUE_STATES = frozenset({_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED})
# refusals that are ordinary races (a status poll older than the stream), logged at debug only
_BENIGN_REFUSALS = frozenset({
    (_S.PARTIALLY_FILLED, _S.OPEN), (_S.PENDING_CANCEL, _S.OPEN), (_S.PENDING_CANCEL, _S.PARTIALLY_FILLED),
    (_S.PENDING_CANCEL, _S.PENDING_CREATE), (_S.OPEN, _S.PENDING_CREATE),
    (_S.PARTIALLY_FILLED, _S.PENDING_CREATE),
})


@dataclass(slots=True, kw_only=True)
class OrderUpdate:
    """A venue statement about an order's state (REST response, status poll or user stream).

    ``executed_amount_base``: the venue's cumulative executed amount when the message carries
    it; it lets the engine see that fills are still missing. ``error_message`` for FAILED, with
    ``error_type`` (the exception class name) and ``error_code`` (the venue's code) when known.
    """

    trading_pair: str
    update_timestamp: float
    new_state: OrderState
    client_order_id: Optional[str] = None
    exchange_order_id: Optional[str] = None
    executed_amount_base: Optional[Decimal] = None
    error_message: Optional[str] = None
    error_type: Optional[str] = None
    error_code: Any = None
    misc_updates: Optional[Dict[str, Any]] = None

    def __post_init__(self) -> None:
        if self.exchange_order_id is not None and not isinstance(self.exchange_order_id, str):
            self.exchange_order_id = str(self.exchange_order_id)
        if self.executed_amount_base is not None:
            self.executed_amount_base = to_decimal(self.executed_amount_base, "executed_amount_base")


@dataclass(slots=True, kw_only=True)
class TradeUpdate:
    """One fill of one order. ``fill_quote_amount`` defaults to price x amount."""

    trade_id: str
    client_order_id: Optional[str] = None
    exchange_order_id: Optional[str] = None
    trading_pair: str
    fill_price: Decimal
    fill_base_amount: Decimal
    fill_quote_amount: Optional[Decimal] = None
    fee: TradeFee = field(default_factory=TradeFee)
    fill_timestamp: float = 0.0
    is_taker: Optional[bool] = None

    def __post_init__(self) -> None:
        if not isinstance(self.trade_id, str):
            self.trade_id = str(self.trade_id)
        if self.exchange_order_id is not None and not isinstance(self.exchange_order_id, str):
            self.exchange_order_id = str(self.exchange_order_id)
        # NaN / infinity are refused here, so a malformed venue message fails in its parser
        self.fill_price = to_decimal(self.fill_price, "fill_price")
        self.fill_base_amount = to_decimal(self.fill_base_amount, "fill_base_amount")
        if self.fill_quote_amount is None:
            self.fill_quote_amount = self.fill_price * self.fill_base_amount
        else:
            self.fill_quote_amount = to_decimal(self.fill_quote_amount, "fill_quote_amount")
        if self.fee is None:
            self.fee = TradeFee()

    def to_json(self) -> Dict[str, Any]:
        return {
            "trade_id": self.trade_id,
            "client_order_id": self.client_order_id,
            "exchange_order_id": self.exchange_order_id,
            "trading_pair": self.trading_pair,
            "fill_price": str(self.fill_price),
            "fill_base_amount": str(self.fill_base_amount),
            "fill_quote_amount": str(self.fill_quote_amount),
            "fee": self.fee.to_json(),
            "fill_timestamp": self.fill_timestamp,
            "is_taker": self.is_taker,
        }

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "TradeUpdate":
        return cls(
            trade_id=str(data["trade_id"]),
            client_order_id=data.get("client_order_id"),
            exchange_order_id=data.get("exchange_order_id"),
            trading_pair=data["trading_pair"],
            fill_price=to_decimal(data["fill_price"], "fill_price"),
            fill_base_amount=to_decimal(data["fill_base_amount"], "fill_base_amount"),
            fill_quote_amount=to_decimal(data["fill_quote_amount"], "fill_quote_amount"),
            fee=TradeFee.from_json(data["fee"]) if data.get("fee") else TradeFee(),
            fill_timestamp=float(data.get("fill_timestamp", 0.0)),
            is_taker=data.get("is_taker"),
        )


class InFlightOrder:
    """An order the engine created, from the moment ``buy``/``sell`` returns its client id."""

    __slots__ = (
        "client_order_id", "trading_pair", "order_type", "trade_type", "amount", "price",
        "creation_timestamp", "leverage", "position", "current_state", "last_update_timestamp",
        "order_fills", "executed_amount_base", "executed_amount_quote", "venue_executed_amount_base",
        "error_message", "error_type", "error_code", "fills_waived", "created_event_emitted", "_exchange_order_id", "_waiters",
        "__weakref__",
    )

    def __init__(self, client_order_id: str, trading_pair: str, order_type: OrderType,
                 trade_type: TradeType, amount: Any, creation_timestamp: float = 0.0,
                 price: Optional[Any] = None, exchange_order_id: Optional[str] = None,
                 initial_state: OrderState = OrderState.PENDING_CREATE, leverage: int = 1,
                 position: PositionAction = PositionAction.NIL) -> None:
        self.client_order_id = client_order_id
        self.trading_pair = trading_pair
        self.order_type = order_type
        self.trade_type = trade_type
        self.amount: Decimal = to_decimal(amount, "amount")
        if self.amount <= 0:
            raise ValueError(f"order amount must be positive, got {self.amount}")
        self.price: Optional[Decimal] = None if price is None else to_decimal(price, "price")
        self.creation_timestamp = creation_timestamp
        self.leverage = leverage
        self.position = position
        self.current_state = initial_state
        self.last_update_timestamp = creation_timestamp
        self.order_fills: Dict[str, TradeUpdate] = {}
        self.executed_amount_base: Decimal = _ZERO
        self.executed_amount_quote: Decimal = _ZERO
        self.venue_executed_amount_base: Optional[Decimal] = None
        self.error_message: Optional[str] = None
        self.error_type: Optional[str] = None
        self.error_code: Any = None
        self.fills_waived = False
        #: set by the OrderTracker once it has emitted the order-created event
        self.created_event_emitted = False
        self._exchange_order_id: Optional[str] = None if exchange_order_id is None else str(exchange_order_id)
        self._waiters: Optional[List[asyncio.Future]] = None

    # ---- identity ----
    @property
    def exchange_order_id(self) -> Optional[str]:
        return self._exchange_order_id

    def update_exchange_order_id(self, exchange_order_id: Any) -> bool:
        """Set the venue's order id once. A different id later is refused and logged."""
        eid = str(exchange_order_id)
        if self._exchange_order_id is None:
            self._exchange_order_id = eid
            self._notify()
            return True
        if self._exchange_order_id != eid:
            logger.warning("order %s: refusing exchange order id %s, already %s",
                           self.client_order_id, eid, self._exchange_order_id)
        return False

    @property
    def base_asset(self) -> str:
        return split_trading_pair(self.trading_pair)[0]

    @property
    def quote_asset(self) -> str:
        return split_trading_pair(self.trading_pair)[1]

    # ---- state queries ----
    @property
    def is_pending_create(self) -> bool:
        return self.current_state is OrderState.PENDING_CREATE

    @property
    def acknowledged(self) -> bool:
        """The venue has shown it knows the order (an id, a fill, or a venue-side state)."""
        return (self._exchange_order_id is not None or bool(self.order_fills)
                or self.current_state in _VENUE_STATES)

    @property
    def is_pending_cancel_confirmation(self) -> bool:
        return self.current_state is OrderState.PENDING_CANCEL

    @property
    def is_open(self) -> bool:
        """May still trade at the venue (includes PENDING_CREATE and PENDING_CANCEL)."""
        return self.current_state.is_open

    @property
    def is_fully_filled(self) -> bool:
        """The counted fills add up to the order amount."""
        return self.executed_amount_base >= self.amount

    @property
    def is_filled(self) -> bool:
        return self.is_fully_filled or (self.current_state is OrderState.FILLED and self.fills_waived)

    @property
    def awaiting_fills(self) -> bool:
        """The venue said FILLED but not all fills have been counted yet."""
        return (self.current_state is OrderState.FILLED and not self.fills_waived
                and self.executed_amount_base < self.amount)

    @property
    def fills_pending(self) -> bool:
        """The venue reported more executed amount than the fills counted so far."""
        if self.awaiting_fills:
            return True
        v = self.venue_executed_amount_base
        return v is not None and v > self.executed_amount_base

    @property
    def is_done(self) -> bool:
        """Terminal, and for FILLED also all fills counted (or waived)."""
        s = self.current_state
        if s is OrderState.FILLED:
            return self.fills_waived or self.executed_amount_base >= self.amount
        return s is OrderState.CANCELED or s is OrderState.FAILED

    @property
    def is_cancelled(self) -> bool:
        return self.current_state is OrderState.CANCELED

    @property
    def is_failure(self) -> bool:
        return self.current_state is OrderState.FAILED

    @property
    def remaining_amount(self) -> Decimal:
        return max(self.amount - self.executed_amount_base, _ZERO)

    @property
    def average_executed_price(self) -> Optional[Decimal]:
        if self.executed_amount_base == 0:
            return None
        return self.executed_amount_quote / self.executed_amount_base

    @property
    def cumulative_fees(self) -> Dict[str, Decimal]:
        """Fees of the counted fills, per token."""
        out: Dict[str, Decimal] = {}
        for tu in self.order_fills.values():
            for token, amount in tu.fee.fee_amounts_by_token(
                    self.trading_pair, tu.fill_price, tu.fill_base_amount).items():
                out[token] = out.get(token, _ZERO) + amount
        return out

    def cumulative_fee_paid(self, token: str, rate_fn: Optional[RateFn] = None) -> Decimal:
        """All fees of the counted fills expressed in ``token``."""
        total = _ZERO
        for tu in self.order_fills.values():
            total += tu.fee.fee_amount_in_token(self.trading_pair, tu.fill_price, tu.fill_base_amount,
                                                token, rate_fn)
        return total

    # ---- updates ----
    def update_with_order_update(self, update: OrderUpdate) -> bool:
        """Apply a venue state statement. Returns True if anything changed.

        Refused (logged, returns False): an update for another order, a different exchange
        order id, a transition the state machine forbids (e.g. OPEN after FILLED).
        """
        if update.client_order_id is not None and update.client_order_id != self.client_order_id:
            logger.warning("order %s: ignoring an update for order %s", self.client_order_id,
                           update.client_order_id)
            return False
        changed = False
        eid = update.exchange_order_id
        if eid is not None and eid != self._exchange_order_id:
            if self._exchange_order_id is not None:
                logger.warning("order %s: ignoring an update with exchange order id %s (ours: %s)",
                               self.client_order_id, eid, self._exchange_order_id)
                return False
            self._exchange_order_id = eid
            changed = True
        v = update.executed_amount_base
        if v is not None and (self.venue_executed_amount_base is None or v > self.venue_executed_amount_base):
            self.venue_executed_amount_base = v
        new = update.new_state
        cur = self.current_state
        if new is not cur:
            if new not in ALLOWED_TRANSITIONS[cur]:
                if (cur, new) in _BENIGN_REFUSALS:
                    logger.debug("order %s: keeping %s, ignoring late %s", self.client_order_id,
                                 cur.name, new.name)
                elif cur.is_done and new.is_done:  # the venue contradicts itself
                    logger.warning("order %s: refused transition %s -> %s", self.client_order_id,
                                   cur.name, new.name)
                else:  # a stale statement about a finished order
                    logger.info("order %s: refused transition %s -> %s", self.client_order_id,
                                cur.name, new.name)
                if changed:
                    self._notify()
                return changed
            self.current_state = new
            if new is OrderState.FAILED and update.error_message:
                self.error_message = update.error_message
                self.error_type = update.error_type
                self.error_code = update.error_code
            if (new is OrderState.CANCELED or new is OrderState.FAILED) and self.executed_amount_base >= self.amount:
                logger.warning("order %s: %s although its fills already cover the amount",
                               self.client_order_id, new.name)
            changed = True
        if changed:
            if update.update_timestamp > self.last_update_timestamp:
                self.last_update_timestamp = update.update_timestamp
            self._notify()
        return changed

    def update_with_trade_update(self, trade: TradeUpdate) -> bool:
        """Count a fill. Returns False (and counts nothing) for a repeated trade id, a fill of
        another order, a non-positive or non-finite amount/price, or one that would overfill."""
        tid = trade.trade_id
        if tid in self.order_fills:
            logger.debug("order %s: duplicate fill %s ignored", self.client_order_id, tid)
            return False
        if trade.client_order_id is not None and trade.client_order_id != self.client_order_id:
            logger.warning("order %s: ignoring fill %s of order %s", self.client_order_id, tid,
                           trade.client_order_id)
            return False
        eid = trade.exchange_order_id
        if eid is not None and self._exchange_order_id is not None and eid != self._exchange_order_id:
            logger.warning("order %s: ignoring fill %s with exchange order id %s (ours: %s)",
                           self.client_order_id, tid, eid, self._exchange_order_id)
            return False
        amount = trade.fill_base_amount
        price = trade.fill_price
        if not (amount.is_finite() and price.is_finite()) or amount <= 0 or price <= 0:
            logger.warning("order %s: ignoring fill %s with amount %s at price %s",
                           self.client_order_id, tid, amount, price)
            return False
        if not trade.fill_quote_amount.is_finite() or trade.fill_quote_amount < 0:  # type: ignore[union-attr]
            logger.warning("order %s: ignoring fill %s with quote amount %s", self.client_order_id, tid,
                           trade.fill_quote_amount)
            return False
        executed = self.executed_amount_base + amount
        if executed > self.amount:
            logger.warning("order %s: refusing fill %s of %s: executed would be %s > order amount %s",
                           self.client_order_id, tid, amount, executed, self.amount)
            return False
        if eid is not None and self._exchange_order_id is None:
            self._exchange_order_id = eid
        self.order_fills[tid] = trade
        self.executed_amount_base = executed
        self.executed_amount_quote += trade.fill_quote_amount  # type: ignore[operator]
        cur = self.current_state
        if cur is OrderState.FAILED:
            # the order was given up (e.g. "never accepted") yet it traded: count the fill, and
            # say so, since the failure event already went out
            logger.warning("order %s: fill %s of %s on an order marked FAILED", self.client_order_id,
                           tid, amount)
        if executed >= self.amount:
            if not (cur is OrderState.CANCELED or cur is OrderState.FAILED):
                self.current_state = OrderState.FILLED
        elif cur is OrderState.PENDING_CREATE or cur is OrderState.OPEN:
            self.current_state = OrderState.PARTIALLY_FILLED
        if trade.fill_timestamp > self.last_update_timestamp:
            self.last_update_timestamp = trade.fill_timestamp
        self._notify()
        return True

    def revert_pending_cancel(self) -> bool:
        """The cancel did not take (the venue refused it): back to OPEN / PARTIALLY_FILLED."""
        if self.current_state is not OrderState.PENDING_CANCEL:
            return False
        self.current_state = OrderState.PARTIALLY_FILLED if self.executed_amount_base > 0 else OrderState.OPEN
        self._notify()
        return True

    def waive_fills(self) -> bool:
        """Declare a FILLED order complete although its fills do not add up (the engine calls
        this only after fetching the order's fills from the venue). Returns True if it changed."""
        if not self.awaiting_fills:
            return False
        logger.warning("order %s: completed with fills %s of %s (missing fills waived)",
                       self.client_order_id, self.executed_amount_base, self.amount)
        self.fills_waived = True
        self._notify()
        return True

    # ---- waiting ----
    def _notify(self) -> None:
        waiters = self._waiters
        if waiters:
            self._waiters = None
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    async def _wait_for(self, predicate: Callable[[], bool], timeout: Optional[float]) -> None:
        if predicate():
            return

        async def loop_until() -> None:
            loop = asyncio.get_running_loop()
            while not predicate():
                fut = loop.create_future()
                if self._waiters is None:
                    self._waiters = []
                self._waiters.append(fut)
                try:
                    await fut
                finally:  # a timed-out wait must not leave its future behind
                    if self._waiters is not None and fut in self._waiters:
                        self._waiters.remove(fut)

        if timeout is None:
            await loop_until()
        else:
            await asyncio.wait_for(loop_until(), timeout)

    async def wait_until_exchange_order_id_set(self, timeout: Optional[float] = None) -> Optional[str]:
        """The exchange order id, once known; ``None`` if the order ended without one.
        Raises ``asyncio.TimeoutError`` after ``timeout`` seconds."""
        await self._wait_for(lambda: self._exchange_order_id is not None or self.is_done, timeout)
        return self._exchange_order_id

    get_exchange_order_id = wait_until_exchange_order_id_set  # Hummingbot's name

    async def wait_until_completely_filled(self, timeout: Optional[float] = None) -> bool:
        """True once all fills are counted; False if the order ended otherwise (cancel/fail)."""
        await self._wait_for(lambda: self.is_filled or self.is_done, timeout)
        return self.is_filled

    async def wait_until_done(self, timeout: Optional[float] = None) -> OrderState:
        await self._wait_for(lambda: self.is_done, timeout)
        return self.current_state

    # ---- persistence ----
    def to_json(self) -> Dict[str, Any]:
        return {
            "client_order_id": self.client_order_id,
            "exchange_order_id": self._exchange_order_id,
            "trading_pair": self.trading_pair,
            "order_type": self.order_type.name,
            "trade_type": self.trade_type.name,
            "price": None if self.price is None else str(self.price),
            "amount": str(self.amount),
            "executed_amount_base": str(self.executed_amount_base),
            "executed_amount_quote": str(self.executed_amount_quote),
            "venue_executed_amount_base": (None if self.venue_executed_amount_base is None
                                           else str(self.venue_executed_amount_base)),
            "last_state": self.current_state.name,
            "leverage": self.leverage,
            "position": self.position.value,
            "creation_timestamp": self.creation_timestamp,
            "last_update_timestamp": self.last_update_timestamp,
            "error_message": self.error_message,
            "error_type": self.error_type,
            "error_code": self.error_code,
            "fills_waived": self.fills_waived,
            "created_event_emitted": self.created_event_emitted,
            "order_fills": {tid: tu.to_json() for tid, tu in self.order_fills.items()},
        }

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "InFlightOrder":
        """Rebuild an order saved by :meth:`to_json`; executed amounts are recomputed from fills."""
        order = cls(
            client_order_id=data["client_order_id"],
            trading_pair=data["trading_pair"],
            order_type=OrderType[data["order_type"]],
            trade_type=TradeType[data["trade_type"]],
            amount=to_decimal(data["amount"], "amount"),
            creation_timestamp=float(data.get("creation_timestamp", 0.0)),
            price=None if data.get("price") in (None, "") else to_decimal(data["price"], "price"),
            exchange_order_id=data.get("exchange_order_id"),
            initial_state=_state_from_json(data.get("last_state", "PENDING_CREATE")),
            leverage=int(data.get("leverage", 1)),
            position=PositionAction(data.get("position", PositionAction.NIL.value)),
        )
        order.last_update_timestamp = float(data.get("last_update_timestamp", order.creation_timestamp))
        order.error_message = data.get("error_message")
        order.error_type = data.get("error_type")
        order.error_code = data.get("error_code")
        order.fills_waived = bool(data.get("fills_waived", False))
        v = data.get("venue_executed_amount_base")
        order.venue_executed_amount_base = None if v is None else to_decimal(v)
        for tid, tu_data in (data.get("order_fills") or {}).items():
            tu = TradeUpdate.from_json(tu_data)
            order.order_fills[str(tid)] = tu
            order.executed_amount_base += tu.fill_base_amount
            order.executed_amount_quote += tu.fill_quote_amount  # type: ignore[operator]
        if order.executed_amount_base > order.amount:
            raise ValueError(f"order {order.client_order_id}: saved fills exceed the amount")
        emitted = data.get("created_event_emitted")
        order.created_event_emitted = order.acknowledged if emitted is None else bool(emitted)
        return order

    def __repr__(self) -> str:
        price = "" if self.price is None else f" @ {self.price}"
        return (f"InFlightOrder({self.client_order_id}, {self.trading_pair}, {self.trade_type.name} "
                f"{self.order_type.name} {self.amount}{price}, {self.current_state.name}, "
                f"executed={self.executed_amount_base}, exchange_order_id={self._exchange_order_id})")


def _state_from_json(value: Any) -> OrderState:
    if isinstance(value, str) and value in OrderState.__members__:
        return OrderState[value]
    return OrderState(int(value))  # Hummingbot saves the enum value as a string
