"""Events, named and shaped as Hummingbot's, and the :class:`EventHub` that delivers them.

Two ways to listen, both fed by one ``trigger_event`` call:

* callbacks: ``hub.add_listener(MarketEvent.OrderFilled, fn)``; ``fn(event)`` runs synchronously
  inside ``trigger_event`` (a coroutine function's coroutine is scheduled as a task). A callback
  that raises is logged and counted; it never breaks the engine or the other listeners.
* async iterators: ``async for tag, event in hub.subscribe([MarketEvent.OrderFilled]): ...``.
  Each subscription has a bounded buffer; a slow consumer never blocks the engine: when the
  buffer is full the oldest (default) or the newest event is dropped and counted.
"""
from __future__ import annotations

import asyncio
import collections
import enum
import inspect
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Deque, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from hbconnect.core.types import OrderType, PositionAction, PositionMode, PositionSide, TradeFee, TradeType

__all__ = [
    "MarketEvent",
    "OrderCreatedEvent",
    "OrderCompletedEvent",
    "BuyOrderCreatedEvent",
    "SellOrderCreatedEvent",
    "OrderFilledEvent",
    "BuyOrderCompletedEvent",
    "SellOrderCompletedEvent",
    "OrderCancelledEvent",
    "MarketOrderFailureEvent",
    "FundingPaymentCompletedEvent",
    "BalanceUpdateEvent",
    "PositionUpdateEvent",
    "PositionModeChangeEvent",
    "OrderBookTradeEvent",
    "OrderBookUpdateEvent",
    "TaggedEvent",
    "EventHub",
    "Subscription",
]

logger = logging.getLogger(__name__)


class MarketEvent(enum.Enum):
    """Event tags. Values of the order events are Hummingbot's ``MarketEvent`` values."""

    __hash__ = object.__hash__  # identity (members are singletons); Enum's own hashes the name in Python
    BuyOrderCompleted = 102
    SellOrderCompleted = 103
    OrderCancelled = 106
    OrderFilled = 107
    OrderExpired = 108
    OrderFailure = 198
    BuyOrderCreated = 200
    SellOrderCreated = 201
    FundingPaymentCompleted = 202
    # Hummingbot's AccountEvent / OrderBookEvent values, gathered here
    PositionModeChangeSucceeded = 400
    PositionModeChangeFailed = 401
    BalanceUpdate = 402
    PositionUpdate = 403
    TradeUpdate = 901  # public trade on a subscribed pair (OrderBookTradeEvent)
    OrderBookUpdate = 904  # a subscribed book changed (OrderBookUpdateEvent)


@dataclass(slots=True)
class OrderCreatedEvent:
    """Fields of Hummingbot's Buy/SellOrderCreatedEvent (listeners get one of the two)."""

    timestamp: float
    type: OrderType
    trading_pair: str
    amount: Decimal
    price: Decimal  # NaN for a market order, as in Hummingbot
    order_id: str
    creation_timestamp: float
    exchange_order_id: Optional[str] = None
    leverage: Optional[int] = 1
    position: Optional[str] = PositionAction.NIL.value


@dataclass(slots=True)
class BuyOrderCreatedEvent(OrderCreatedEvent):
    """The venue acknowledged a buy order."""


@dataclass(slots=True)
class SellOrderCreatedEvent(OrderCreatedEvent):
    """The venue acknowledged a sell order."""


@dataclass(slots=True)
class OrderFilledEvent:
    timestamp: float
    order_id: str
    trading_pair: str
    trade_type: TradeType
    order_type: OrderType
    price: Decimal
    amount: Decimal
    trade_fee: TradeFee
    exchange_trade_id: str = ""
    exchange_order_id: str = ""
    leverage: Optional[int] = 1
    position: Optional[str] = PositionAction.NIL.value
    is_taker: Optional[bool] = None


@dataclass(slots=True)
class OrderCompletedEvent:
    """Fields of Hummingbot's Buy/SellOrderCompletedEvent: the executed totals of the order."""

    timestamp: float
    order_id: str
    base_asset: str
    quote_asset: str
    base_asset_amount: Decimal
    quote_asset_amount: Decimal
    order_type: OrderType
    exchange_order_id: Optional[str] = None


@dataclass(slots=True)
class BuyOrderCompletedEvent(OrderCompletedEvent):
    """A buy order is filled and all its fills are counted."""


@dataclass(slots=True)
class SellOrderCompletedEvent(OrderCompletedEvent):
    """A sell order is filled and all its fills are counted."""


@dataclass(slots=True)
class OrderCancelledEvent:
    timestamp: float
    order_id: str
    exchange_order_id: Optional[str] = None


@dataclass(slots=True)
class MarketOrderFailureEvent:
    timestamp: float
    order_id: str
    order_type: OrderType
    error_message: Optional[str] = None
    error_type: Optional[str] = None
    #: the venue's error code when the venue refused the order (e.g. OKX "51008")
    error_code: Any = None


@dataclass(slots=True)
class FundingPaymentCompletedEvent:
    timestamp: float
    market: str
    trading_pair: str
    amount: Decimal
    funding_rate: Decimal


@dataclass(slots=True)
class BalanceUpdateEvent:
    timestamp: float
    asset_name: str
    total_balance: Optional[Decimal] = None
    available_balance: Optional[Decimal] = None


@dataclass(slots=True)
class PositionUpdateEvent:
    timestamp: float
    trading_pair: str
    position_side: Optional[PositionSide]  # None: the position was closed
    unrealized_pnl: Decimal
    entry_price: Decimal
    amount: Decimal
    leverage: Decimal


@dataclass(slots=True)
class PositionModeChangeEvent:
    timestamp: float
    trading_pair: str
    position_mode: PositionMode
    message: Optional[str] = None


@dataclass(slots=True)
class OrderBookTradeEvent:
    trading_pair: str
    timestamp: float
    type: TradeType
    price: Decimal
    amount: Decimal
    trade_id: Optional[str] = None
    is_taker: bool = True


@dataclass(slots=True)
class OrderBookUpdateEvent:
    timestamp: float
    trading_pair: str
    update_id: int = 0
    is_snapshot: bool = False


class TaggedEvent(NamedTuple):
    tag: Any
    event: Any


_DROP_OLDEST = "drop_oldest"
_DROP_NEWEST = "drop_newest"


class Subscription:
    """A bounded, async-iterable stream of :class:`TaggedEvent` from an :class:`EventHub`.

    ``dropped`` counts events lost to overflow. Iteration ends after :meth:`close` once the
    buffered events are consumed. Use as ``async with hub.subscribe(...) as sub:`` to close
    automatically.
    """

    __slots__ = ("_hub", "tags", "maxsize", "overflow", "_buf", "_waiters", "_closed", "dropped",
                 "delivered")

    def __init__(self, hub: "EventHub", tags: Optional[frozenset], maxsize: int, overflow: str) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        if overflow not in (_DROP_OLDEST, _DROP_NEWEST):
            raise ValueError(f"overflow must be {_DROP_OLDEST!r} or {_DROP_NEWEST!r}")
        self._hub = hub
        self.tags = tags  # None: every tag
        self.maxsize = maxsize
        self.overflow = overflow
        self._buf: Deque[TaggedEvent] = collections.deque()
        self._waiters: List[asyncio.Future] = []  # consumers blocked in get / async for
        self._closed = False
        self.dropped = 0
        self.delivered = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def qsize(self) -> int:
        return len(self._buf)

    def _put(self, item: TaggedEvent) -> None:
        if self._closed:
            return
        buf = self._buf
        if len(buf) >= self.maxsize:
            self.dropped += 1
            self._hub.dropped_events += 1
            if self.overflow == _DROP_NEWEST:
                return
            buf.popleft()
        buf.append(item)
        self._wake()

    def _wake(self) -> None:
        # every blocked consumer re-checks the buffer; one that was cancelled meanwhile cannot
        # swallow the wake-up of the others
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def get_nowait(self) -> TaggedEvent:
        """The next buffered event; ``LookupError`` if none is buffered."""
        if not self._buf:
            raise LookupError("no event buffered")
        self.delivered += 1
        return self._buf.popleft()

    async def get(self, timeout: Optional[float] = None) -> TaggedEvent:
        """Wait for the next event. Raises ``StopAsyncIteration`` when closed and drained,
        ``asyncio.TimeoutError`` after ``timeout`` seconds."""
        if timeout is None:
            return await self._get()
        return await asyncio.wait_for(self._get(), timeout)

    async def _get(self) -> TaggedEvent:
        while not self._buf:
            if self._closed:
                raise StopAsyncIteration
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:  # cancelled (e.g. a get timeout): forget it
                    self._waiters.remove(waiter)
        self.delivered += 1
        return self._buf.popleft()

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> TaggedEvent:
        return await self._get()

    def close(self) -> None:
        """Stop receiving; a consumer waiting in ``get``/``async for`` wakes up and ends."""
        if self._closed:
            return
        self._closed = True
        self._hub._unsubscribe(self)
        self._wake()

    async def __aenter__(self) -> "Subscription":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        tags = "all" if self.tags is None else sorted(getattr(t, "name", str(t)) for t in self.tags)
        return (f"Subscription(tags={tags}, buffered={len(self._buf)}, dropped={self.dropped}, "
                f"closed={self._closed})")


class EventHub:
    """Delivers events to callbacks and to async-iterator subscriptions.

    ``trigger_event`` never blocks and never raises because of a listener. Counters:
    ``callback_errors`` (listeners that raised), ``dropped_events`` (subscription overflow),
    ``events_triggered``.
    """

    def __init__(self, default_queue_size: int = 10_000) -> None:
        self.default_queue_size = default_queue_size
        self._listeners: Dict[Any, Tuple[Callable[[Any], Any], ...]] = {}
        self._subs_by_tag: Dict[Any, Tuple[Subscription, ...]] = {}
        self._subs_all: Tuple[Subscription, ...] = ()
        self._tasks: Set[asyncio.Task] = set()
        self.callback_errors = 0
        self.dropped_events = 0
        self.events_triggered = 0

    # ---- callbacks ----
    def add_listener(self, event_tag: Any, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(event)`` for every event with this tag (added once even if repeated)."""
        current = self._listeners.get(event_tag, ())
        if callback not in current:
            self._listeners[event_tag] = current + (callback,)

    def remove_listener(self, event_tag: Any, callback: Callable[[Any], Any]) -> bool:
        """Stop calling ``callback`` for ``event_tag``; False if it was not listening."""
        current = self._listeners.get(event_tag, ())
        if callback not in current:
            return False
        rest = tuple(c for c in current if c != callback)
        if rest:
            self._listeners[event_tag] = rest
        else:
            del self._listeners[event_tag]
        return True

    def get_listeners(self, event_tag: Any) -> Tuple[Callable[[Any], Any], ...]:
        """The callbacks registered for ``event_tag``, in call order."""
        return self._listeners.get(event_tag, ())

    # ---- async iterators ----
    def subscribe(self, tags: Optional[Iterable[Any]] = None, maxsize: Optional[int] = None,
                  overflow: str = _DROP_OLDEST) -> Subscription:
        """A new :class:`Subscription` to ``tags`` (all tags when ``None``)."""
        tagset = None if tags is None else frozenset(tags)
        sub = Subscription(self, tagset, self.default_queue_size if maxsize is None else maxsize, overflow)
        if tagset is None:
            self._subs_all = self._subs_all + (sub,)
        else:
            for tag in tagset:
                self._subs_by_tag[tag] = self._subs_by_tag.get(tag, ()) + (sub,)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub.tags is None:
            self._subs_all = tuple(s for s in self._subs_all if s is not sub)
            return
        for tag in sub.tags:
            rest = tuple(s for s in self._subs_by_tag.get(tag, ()) if s is not sub)
            if rest:
                self._subs_by_tag[tag] = rest
            else:
                self._subs_by_tag.pop(tag, None)

    @property
    def subscriptions(self) -> List[Subscription]:
        seen: Dict[int, Subscription] = {id(s): s for s in self._subs_all}
        for subs in self._subs_by_tag.values():
            seen.update((id(s), s) for s in subs)
        return list(seen.values())

    # ---- delivery ----
    def trigger_event(self, event_tag: Any, event: Any) -> None:
        """Deliver ``event`` to the callbacks of ``event_tag``, then to the subscriptions."""
        self.events_triggered += 1
        for cb in self._listeners.get(event_tag, ()):
            try:
                result = cb(event)
            except Exception:
                self.callback_errors += 1
                logger.exception("event listener %r failed on %s", cb, _tag_name(event_tag))
                continue
            if result is not None and inspect.isawaitable(result):
                self._schedule(result, cb, event_tag)
        subs = self._subs_by_tag.get(event_tag)
        if subs or self._subs_all:
            item = TaggedEvent(event_tag, event)
            if subs:
                for sub in subs:
                    sub._put(item)
            for sub in self._subs_all:
                sub._put(item)

    def _schedule(self, awaitable: Any, cb: Any, event_tag: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.callback_errors += 1
            logger.error("async event listener %r called outside an event loop on %s; dropped",
                         cb, _tag_name(event_tag))
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            return
        task = asyncio.ensure_future(awaitable, loop=loop)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, cb, event_tag))

    def _task_done(self, task: asyncio.Task, cb: Any, event_tag: Any) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.callback_errors += 1
            logger.error("async event listener %r failed on %s", cb, _tag_name(event_tag),
                         exc_info=(type(exc), exc, exc.__traceback__))

    def close(self) -> None:
        """Close every subscription and cancel pending async-listener tasks."""
        for sub in self.subscriptions:
            sub.close()
        for task in list(self._tasks):
            task.cancel()


def _tag_name(tag: Any) -> str:
    return getattr(tag, "name", None) or str(tag)
