"""The connector's book of its own orders: :class:`OrderTracker`.

It applies venue statements (:class:`OrderUpdate`, :class:`TradeUpdate`) to the tracked
:class:`InFlightOrder` objects and emits the Hummingbot-shaped events, each exactly once:

* ``BuyOrderCreated``/``SellOrderCreated`` when the venue first shows it knows the order
  (an exchange order id, a venue state, or a fill arriving before the acknowledgement) and it
  has not failed; a local PENDING_CANCEL alone does not count;
* ``OrderFilled`` for every newly counted fill (duplicates never produce a second event),
  including late fills of recently done orders (they are kept in a cache for a while);
* ``BuyOrderCompleted``/``SellOrderCompleted`` when a FILLED order has all its fills;
* ``OrderCancelled`` / ``OrderFailure`` when the order ends so.

Processing is idempotent: the same update twice changes nothing and emits nothing.

Lost orders: each :meth:`process_order_not_found` call (the venue said "unknown order" on a
status poll) counts; at ``lost_order_count_limit`` consecutive misses the order moves to
:attr:`lost_orders`. It is not failed: the connector keeps polling lost orders and cancels them;
any later statement from the venue (fill, state) brings it back or finishes it, and the
connector fails it (``OrderUpdate(new_state=FAILED)``) once the venue confirms it never existed.
"""
from __future__ import annotations

import collections
import logging
import time
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional

from hbconnect.core.events import (
    BuyOrderCompletedEvent,
    BuyOrderCreatedEvent,
    EventHub,
    MarketEvent,
    MarketOrderFailureEvent,
    OrderCancelledEvent,
    OrderFilledEvent,
    SellOrderCompletedEvent,
    SellOrderCreatedEvent,
)
from hbconnect.core.in_flight_order import InFlightOrder, OrderUpdate, TradeUpdate
from hbconnect.core.types import OrderState, TradeType

__all__ = ["OrderTracker"]

logger = logging.getLogger(__name__)
_NAN = Decimal("NaN")


class OrderTracker:
    """Tracks in-flight orders and turns venue updates into events.

    :param event_hub: where events go (``None``: a private hub, see :attr:`event_hub`).
    :param lost_order_count_limit: consecutive "not found" answers before an order is lost.
    :param cached_order_ttl: seconds a done order stays findable (for late fills/updates).
    :param max_cached_orders: bound on the done-order cache.
    :param time_fn: clock for event timestamps and cache expiry (seconds).
    """

    def __init__(self, event_hub: Optional[EventHub] = None, lost_order_count_limit: int = 3,
                 cached_order_ttl: float = 300.0, max_cached_orders: int = 10_000,
                 time_fn: Callable[[], float] = time.time) -> None:
        if lost_order_count_limit < 1:
            raise ValueError("lost_order_count_limit must be >= 1")
        self.event_hub = event_hub if event_hub is not None else EventHub()
        self.lost_order_count_limit = lost_order_count_limit
        self.cached_order_ttl = cached_order_ttl
        self.max_cached_orders = max_cached_orders
        self._time = time_fn
        self._active: Dict[str, InFlightOrder] = {}
        self._lost: Dict[str, InFlightOrder] = {}
        # client id -> (order, time it was cached); insertion order == expiry order
        self._cached: "collections.OrderedDict[str, tuple]" = collections.OrderedDict()
        self._by_exchange_id: Dict[str, str] = {}
        self._not_found: Dict[str, int] = {}
        # metrics
        self.duplicate_fills = 0
        self.rejected_fills = 0
        self.unknown_order_updates = 0
        self.unknown_trade_updates = 0
        self.refused_updates = 0
        self.orders_lost = 0

    # ---- collections ----
    @property
    def active_orders(self) -> Dict[str, InFlightOrder]:
        """Orders not done yet (including FILLED ones awaiting fills), excluding lost ones."""
        return self._active

    @property
    def lost_orders(self) -> Dict[str, InFlightOrder]:
        return self._lost

    @property
    def cached_orders(self) -> Dict[str, InFlightOrder]:
        """Recently done orders (still accepting late fills)."""
        self._expire_cache()
        return {cid: entry[0] for cid, entry in self._cached.items()}

    @property
    def all_updatable_orders(self) -> Dict[str, InFlightOrder]:
        """Orders whose status the connector should poll: active and lost."""
        return {**self._active, **self._lost}

    @property
    def all_fillable_orders(self) -> Dict[str, InFlightOrder]:
        """Orders that may still receive fills: active, lost and recently done."""
        self._expire_cache()
        out = {cid: entry[0] for cid, entry in self._cached.items()}
        out.update(self._lost)
        out.update(self._active)
        return out

    @property
    def orders_awaiting_fills(self) -> Dict[str, InFlightOrder]:
        """Orders for which the venue reported more execution than the fills counted: the
        connector should fetch their fills."""
        self._expire_cache()
        out = {cid: o for cid, o in self._active.items() if o.fills_pending}
        out.update((cid, o) for cid, o in self._lost.items() if o.fills_pending)
        out.update((cid, e[0]) for cid, e in self._cached.items() if e[0].fills_pending)
        return out

    def fetch_tracked_order(self, client_order_id: str) -> Optional[InFlightOrder]:
        return self._active.get(client_order_id)

    def fetch_lost_order(self, client_order_id: str) -> Optional[InFlightOrder]:
        return self._lost.get(client_order_id)

    def fetch_cached_order(self, client_order_id: str) -> Optional[InFlightOrder]:
        entry = self._cached.get(client_order_id)
        return entry[0] if entry is not None else None

    def fetch_order(self, client_order_id: Optional[str] = None,
                    exchange_order_id: Optional[str] = None) -> Optional[InFlightOrder]:
        """Find an order (active, lost or cached) by client id, else by exchange id."""
        if client_order_id is not None:
            order = (self._active.get(client_order_id) or self._lost.get(client_order_id)
                     or self.fetch_cached_order(client_order_id))
            if order is not None or exchange_order_id is None:
                return order
        if exchange_order_id is not None:
            cid = self._by_exchange_id.get(exchange_order_id)
            if cid is not None:
                order = self.fetch_order(cid)
                if order is not None and order.exchange_order_id == exchange_order_id:
                    return order
            # an id set directly on a live order (update_exchange_order_id) is not indexed yet;
            # done orders were indexed when cached, so an unknown id (another bot's order on the
            # same account) costs a scan of the live orders only, not of the done-order cache
            for source in (self._active.values(), self._lost.values()):
                for order in source:
                    if order.exchange_order_id == exchange_order_id:
                        self._by_exchange_id[exchange_order_id] = order.client_order_id
                        return order
        return None

    def not_found_count(self, client_order_id: str) -> int:
        return self._not_found.get(client_order_id, 0)

    # ---- tracking ----
    def start_tracking_order(self, order: InFlightOrder) -> None:
        cid = order.client_order_id
        if cid in self._active or cid in self._lost:
            logger.warning("order %s is already tracked", cid)
            return
        self._cached.pop(cid, None)
        self._active[cid] = order
        self._index(order)

    def stop_tracking_order(self, client_order_id: str) -> Optional[InFlightOrder]:
        """Stop tracking (the order goes to the done-order cache). Returns it, if it was tracked."""
        order = self._active.pop(client_order_id, None) or self._lost.pop(client_order_id, None)
        self._not_found.pop(client_order_id, None)
        if order is not None:
            self._cache(order)
        return order

    def _index(self, order: InFlightOrder) -> None:
        eid = order.exchange_order_id
        if eid is not None:
            self._by_exchange_id[eid] = order.client_order_id

    def _cache(self, order: InFlightOrder) -> None:
        cid = order.client_order_id
        self._cached.pop(cid, None)
        self._cached[cid] = (order, self._time())
        self._index(order)
        self._expire_cache()

    def _expire_cache(self) -> None:
        cached = self._cached
        if not cached:
            return
        horizon = self._time() - self.cached_order_ttl
        while cached:
            cid, (order, t) = next(iter(cached.items()))
            if t > horizon and len(cached) <= self.max_cached_orders:
                break
            cached.popitem(last=False)
            eid = order.exchange_order_id
            if eid is not None and self._by_exchange_id.get(eid) == cid:
                del self._by_exchange_id[eid]

    # ---- processing ----
    def process_order_update(self, update: OrderUpdate) -> bool:
        """Apply a state statement; emits created/cancelled/failure/completed events as due.
        Returns True if the order changed."""
        order = self.fetch_order(update.client_order_id, update.exchange_order_id)
        if order is None:
            self.unknown_order_updates += 1
            logger.debug("order update for unknown order %s/%s ignored", update.client_order_id,
                         update.exchange_order_id)
            return False
        was_done = order.is_done
        changed = order.update_with_order_update(update)
        if not changed and update.new_state is not order.current_state:
            self.refused_updates += 1
        self._after_update(order, was_done)
        return changed

    def process_trade_update(self, trade: TradeUpdate) -> bool:
        """Count a fill; emits ``OrderFilled`` (and created/completed when due) once per trade id.
        Returns True if the fill was counted."""
        order = self.fetch_order(trade.client_order_id, trade.exchange_order_id)
        if order is None:
            self.unknown_trade_updates += 1
            logger.debug("fill %s for unknown order %s/%s ignored", trade.trade_id,
                         trade.client_order_id, trade.exchange_order_id)
            return False
        if trade.trade_id in order.order_fills:
            self.duplicate_fills += 1
            logger.debug("duplicate fill %s of order %s ignored", trade.trade_id, order.client_order_id)
            return False
        was_done = order.is_done
        if not order.update_with_trade_update(trade):
            self.rejected_fills += 1
            return False
        if not order.created_event_emitted:
            self._emit_created(order)
        self.event_hub.trigger_event(MarketEvent.OrderFilled, OrderFilledEvent(
            timestamp=self._time(),
            order_id=order.client_order_id,
            trading_pair=order.trading_pair,
            trade_type=order.trade_type,
            order_type=order.order_type,
            price=trade.fill_price,
            amount=trade.fill_base_amount,
            trade_fee=trade.fee,
            exchange_trade_id=trade.trade_id,
            exchange_order_id=order.exchange_order_id or "",
            leverage=order.leverage,
            position=order.position.value,
            is_taker=trade.is_taker,
        ))
        self._after_update(order, was_done)
        return True

    def _after_update(self, order: InFlightOrder, was_done: bool) -> None:
        cid = order.client_order_id
        eid = order.exchange_order_id
        if eid is not None and self._by_exchange_id.get(eid) != cid:
            self._by_exchange_id[eid] = cid
        # the venue spoke about this order: it is not "not found" any more
        if (self._not_found and self._not_found.pop(cid, None) is not None) or (self._lost and cid in self._lost):
            lost = self._lost.pop(cid, None)
            if lost is not None and not order.is_done:
                logger.info("lost order %s found again (%s)", cid, order.current_state.name)
                self._active[cid] = lost
        if (not order.created_event_emitted and order.acknowledged
                and order.current_state is not OrderState.FAILED):
            self._emit_created(order)
        if order.is_done and not was_done:
            self._emit_done(order)
            self._active.pop(cid, None)
            self._lost.pop(cid, None)
            self._cache(order)

    def _emit_created(self, order: InFlightOrder) -> None:
        order.created_event_emitted = True
        cls = BuyOrderCreatedEvent if order.trade_type is TradeType.BUY else SellOrderCreatedEvent
        tag = MarketEvent.BuyOrderCreated if order.trade_type is TradeType.BUY else MarketEvent.SellOrderCreated
        self.event_hub.trigger_event(tag, cls(
            timestamp=self._time(),
            type=order.order_type,
            trading_pair=order.trading_pair,
            amount=order.amount,
            price=order.price if order.price is not None else _NAN,  # market order: NaN as Hummingbot
            order_id=order.client_order_id,
            creation_timestamp=order.creation_timestamp,
            exchange_order_id=order.exchange_order_id,
            leverage=order.leverage,
            position=order.position.value,
        ))

    def _emit_done(self, order: InFlightOrder) -> None:
        now = self._time()
        state = order.current_state
        if state is OrderState.FILLED:
            base, quote = order.base_asset, order.quote_asset
            if order.trade_type is TradeType.BUY:
                tag, cls = MarketEvent.BuyOrderCompleted, BuyOrderCompletedEvent
            else:
                tag, cls = MarketEvent.SellOrderCompleted, SellOrderCompletedEvent
            self.event_hub.trigger_event(tag, cls(
                timestamp=now, order_id=order.client_order_id, base_asset=base, quote_asset=quote,
                base_asset_amount=order.executed_amount_base,
                quote_asset_amount=order.executed_amount_quote, order_type=order.order_type,
                exchange_order_id=order.exchange_order_id))
        elif state is OrderState.CANCELED:
            self.event_hub.trigger_event(MarketEvent.OrderCancelled, OrderCancelledEvent(
                timestamp=now, order_id=order.client_order_id, exchange_order_id=order.exchange_order_id))
        elif state is OrderState.FAILED:
            self.event_hub.trigger_event(MarketEvent.OrderFailure, MarketOrderFailureEvent(
                timestamp=now, order_id=order.client_order_id, order_type=order.order_type,
                error_message=order.error_message, error_type=order.error_type, error_code=order.error_code))

    def process_order_not_found(self, client_order_id: str) -> bool:
        """Count one "order not found" answer. Returns True when the order became lost now."""
        order = self._active.get(client_order_id)
        if order is None:
            if client_order_id in self._lost:
                self._not_found[client_order_id] = self._not_found.get(client_order_id, 0) + 1
            return False
        count = self._not_found.get(client_order_id, 0) + 1
        self._not_found[client_order_id] = count
        if count < self.lost_order_count_limit:
            return False
        del self._active[client_order_id]
        self._lost[client_order_id] = order
        self.orders_lost += 1
        logger.warning("order %s not found %d times: considered lost (%s, executed %s of %s)",
                       client_order_id, count, order.current_state.name, order.executed_amount_base,
                       order.amount)
        return True

    def revert_pending_cancel(self, client_order_id: str) -> bool:
        """The venue refused a cancel: the order goes back to OPEN / PARTIALLY_FILLED."""
        order = self._active.get(client_order_id) or self._lost.get(client_order_id)
        return order is not None and order.revert_pending_cancel()

    def waive_missing_fills(self, client_order_id: str) -> bool:
        """After a fills fetch, complete a FILLED order whose fills do not add up (emits the
        completed event with the amounts counted). Returns True if it completed now."""
        order = self._active.get(client_order_id) or self._lost.get(client_order_id)
        if order is None:
            return False
        was_done = order.is_done
        if not order.waive_fills():
            return False
        self._after_update(order, was_done)
        return True

    # ---- persistence ----
    @property
    def tracking_states(self) -> Dict[str, Dict[str, Any]]:
        """JSON-serializable state of every not-done order (active and lost)."""
        return {cid: order.to_json() for cid, order in {**self._active, **self._lost}.items()}

    def restore_tracking_states(self, tracking_states: Dict[str, Dict[str, Any]]) -> List[InFlightOrder]:
        """Track the orders saved by :attr:`tracking_states`. Malformed entries are logged and
        skipped; orders already tracked are kept as they are. Returns the restored orders."""
        restored = []
        for cid, data in tracking_states.items():
            try:
                order = InFlightOrder.from_json(data)
            except (KeyError, ValueError, TypeError) as e:
                logger.error("cannot restore saved order %s: %s", cid, e)
                continue
            if self.fetch_order(order.client_order_id) is not None:
                continue  # the live object (tracked or recently done) is newer than the save
            if order.is_done:
                self._cache(order)
                continue
            self.start_tracking_order(order)
            restored.append(order)
        return restored

    def __repr__(self) -> str:
        return (f"OrderTracker(active={len(self._active)}, lost={len(self._lost)}, "
                f"cached={len(self._cached)})")
