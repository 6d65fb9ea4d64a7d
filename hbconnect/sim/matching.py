"""The embedded exchange's matching engine: price-time priority, exact Decimal money.

One :class:`MatchingEngine` serves one market (spot or linear perpetuals) and owns one
:class:`MatchingBook` per symbol.  Money moves through a *ledger* (see ``accounts.py``): the
engine asks it to reserve funds before an order may rest or trade, to settle every fill, and
to release what an order no longer needs.  Everything that happens is reported to listeners as
:class:`OrderEvent` / :class:`AccountEvent` objects, in the order it happened, which the
protocol front ends turn into their venue's user-stream messages.

Self-trade prevention defaults to ``CANCEL_MAKER`` (cancel the resting order).  When an
incoming order would match a resting order of the same account, the resting order ends with
status ``PREVENTED`` (execution type ``PREVENTED``, end reason ``SELF_TRADE``; front ends name it
as their venue does) and matching continues.  ``NONE``, ``CANCEL_TAKER`` and ``CANCEL_BOTH`` may be
requested per order.  Every value the core uses is one of :mod:`hbconnect.sim.vocabulary`'s.
"""
from __future__ import annotations

import bisect
import itertools
import logging
import random
import string
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal, ROUND_DOWN
from typing import Any, Callable, Deque, Iterable, Optional, Protocol

from hbconnect.sim.errors import Reject, SimReject
from hbconnect.sim.vocabulary import EndReason, PositionSide, SelfTradePrevention as STP, Status, TimeInForce as TIF

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
BUY, SELL = "BUY", "SELL"
DEFAULT_STP = STP.CANCEL_MAKER
_CID_CHARS = string.ascii_letters + string.digits


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class SymbolSpec:
    """A tradable symbol and its filters (tick, step, min/max quantity, min notional)."""

    symbol: str                 # wire symbol, e.g. BTCUSDT
    base: str
    quote: str
    market: str                 # "spot" | "futures"
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("10000000")
    market_max_qty: Decimal = Decimal("1000")
    start_price: Decimal = Decimal("100")

    @property
    def pair(self) -> str:
        return f"{self.base}-{self.quote}"

    @property
    def price_decimals(self) -> int:
        return max(0, -self.tick_size.normalize().as_tuple().exponent)

    @property
    def qty_decimals(self) -> int:
        return max(0, -self.step_size.normalize().as_tuple().exponent)

    def floor_qty(self, qty: Decimal) -> Decimal:
        return (qty / self.step_size).to_integral_value(ROUND_DOWN) * self.step_size

    def floor_price(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(ROUND_DOWN) * self.tick_size


@dataclass(eq=False)
class Order:
    """An order as the venue knows it."""

    symbol: str
    order_id: int
    client_order_id: str
    owner: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    time: int
    orig_quote_qty: Decimal = ZERO
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = Status.NEW
    update_time: int = 0
    stp_mode: str = DEFAULT_STP
    reduce_only: bool = False
    position_side: str = PositionSide.NET
    close_position: bool = False
    # what the ledger holds for this order (spot: locked asset amount; futures: margin)
    reserved: Decimal = ZERO
    reserved_asset: str = ""
    sequence: int = 0           # time priority inside a price level
    cancel_client_order_id: str = ""   # the cancel request's own client id, if it had one
    end_reason: str = EndReason.NONE        # why it expired (an ``EndReason``)
    prevented_qty: Decimal = ZERO           # cumulative quantity expired by STP (spot "A")
    # the last STP event: (prevented match id, counter order id, last prevented qty, price, qty)
    prevention: Optional[tuple] = None

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status in Status.OPEN

    @property
    def post_only(self) -> bool:
        return self.time_in_force == TIF.POST_ONLY

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else ZERO


@dataclass
class Fill:
    """One trade between a taker and a maker order."""

    trade_id: int
    symbol: str
    price: Decimal
    qty: Decimal
    time: int
    taker: Order
    maker: Order

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.qty


@dataclass
class FillSide:
    """One account's view of a fill: fees and realized PnL as the ledger settled them."""

    fill: Fill
    order: Order
    is_maker: bool
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal = ZERO


@dataclass
class OrderEvent:
    """An order changed: exec type NEW / TRADE / CANCELED / EXPIRED / PREVENTED (self-trade)."""

    owner: str
    order: Order
    exec_type: str
    time: int
    fill: Optional[FillSide] = None
    snapshot: dict = field(default_factory=dict)   # order fields frozen at event time
    cancel_client_order_id: str = ""


@dataclass
class AccountEvent:
    """Balances (and for perpetuals, positions) of an account changed: reason ``BALANCES`` /
    ``DEPOSIT`` (spot), ``ORDER`` / ``FUNDING`` (perpetuals)."""

    owner: str
    reason: str
    time: int
    balances: list = field(default_factory=list)    # spot: [(asset, free, locked)]; futures: [(asset, wallet, cross_wallet, change)]
    positions: list = field(default_factory=list)   # futures: [Position snapshot dicts]
    delta: Optional[tuple] = None                   # spot DEPOSIT: (asset, delta)


Listener = Callable[[Any], None]


class Ledger(Protocol):
    """What the engine needs from the accounts of its market."""

    def reserve(self, order: Order, plan: "Plan") -> None: ...
    def settle(self, fill: Fill) -> tuple[FillSide, FillSide]: ...
    def release(self, order: Order) -> None: ...
    def check_reduce(self, order: Order, plan: "Plan") -> None: ...
    def flush(self, emit: Listener) -> None: ...


@dataclass
class Plan:
    """A dry run of matching: what an incoming order would fill against the book."""

    fills: list                 # [(maker Order, price, qty)]
    filled_qty: Decimal
    cost: Decimal               # quote value of the planned fills
    blocked_by_self: bool = False

    @property
    def empty(self) -> bool:
        return not self.fills


class MatchingBook:
    """One symbol's resting orders, price-time priority, with a depth change log.

    Every change of a price level's total size increments ``update_id`` and is logged as
    ``(update_id, side, price, total)``; depth streams publish ranges of that log, so the ids
    they carry are consistent with ``lastUpdateId`` of a REST snapshot by construction.
    """

    LOG_SIZE = 200_000

    def __init__(self, spec: SymbolSpec, first_update_id: int = 1) -> None:
        self.spec = spec
        self.levels: dict[str, dict[Decimal, Deque[Order]]] = {BUY: {}, SELL: {}}
        self.totals: dict[str, dict[Decimal, Decimal]] = {BUY: {}, SELL: {}}
        self.prices: dict[str, list[Decimal]] = {BUY: [], SELL: []}   # ascending
        self.update_id = first_update_id
        self.log: Deque[tuple[int, str, Decimal, Decimal]] = deque(maxlen=self.LOG_SIZE)
        self.last_trade_price: Optional[Decimal] = None

    # -- queries
    def best(self, side: str) -> Optional[Decimal]:
        p = self.prices[side]
        if not p:
            return None
        return p[-1] if side == BUY else p[0]

    def depth(self, side: str, limit: int) -> list[tuple[Decimal, Decimal]]:
        p = self.prices[side]
        seq = reversed(p) if side == BUY else iter(p)
        out = []
        for price in itertools.islice(seq, limit):
            out.append((price, self.totals[side][price]))
        return out

    def iter_makers(self, taker_side: str) -> Iterable[Order]:
        side = SELL if taker_side == BUY else BUY
        p = self.prices[side]
        seq = list(p) if side == SELL else list(reversed(p))     # snapshots: matching mutates
        for price in seq:
            for order in list(self.levels[side].get(price, ())):
                yield order

    def crosses(self, side: str, price: Decimal) -> bool:
        other = self.best(SELL if side == BUY else BUY)
        if other is None:
            return False
        return price >= other if side == BUY else price <= other

    # -- changes
    def _touch(self, side: str, price: Decimal) -> None:
        self.update_id += 1
        self.log.append((self.update_id, side, price, self.totals[side].get(price, ZERO)))

    def add(self, order: Order) -> None:
        side, price = order.side, order.price
        level = self.levels[side].get(price)
        if level is None:
            level = self.levels[side][price] = deque()
            self.totals[side][price] = ZERO
            bisect.insort(self.prices[side], price)
        level.append(order)
        self.totals[side][price] += order.remaining
        self._touch(side, price)

    def reduce(self, order: Order, qty: Decimal) -> None:
        """A resting order's remaining size fell by ``qty`` (a fill)."""
        side, price = order.side, order.price
        self.totals[side][price] -= qty
        if order.remaining <= 0:
            self._unlink(order)
        self._touch(side, price)

    def remove(self, order: Order) -> None:
        """A resting order left the book (cancel / expire) with ``order.remaining`` unfilled."""
        side, price = order.side, order.price
        if price not in self.levels[side]:
            return
        self.totals[side][price] -= order.remaining
        self._unlink(order)
        self._touch(side, price)

    def _unlink(self, order: Order) -> None:
        side, price = order.side, order.price
        level = self.levels[side].get(price)
        if level is None:
            return
        try:
            level.remove(order)
        except ValueError:
            return
        if not level:
            del self.levels[side][price]
            self.totals[side][price] = ZERO
            i = bisect.bisect_left(self.prices[side], price)
            if i < len(self.prices[side]) and self.prices[side][i] == price:
                self.prices[side].pop(i)
            del self.totals[side][price]

    def changes_since(self, after_id: int) -> list[tuple[int, str, Decimal, Decimal]]:
        """Log entries with update id > after_id (the log is bounded; old ids fall off)."""
        out = []
        for entry in reversed(self.log):
            if entry[0] <= after_id:
                break
            out.append(entry)
        out.reverse()
        return out


@dataclass
class OrderRequest:
    """A validated new order (front ends parse and check the filters first)."""

    symbol: str
    side: str
    type: str                               # LIMIT | MARKET
    time_in_force: str = TIF.GTC            # a ``TimeInForce`` (POST_ONLY: refused if it would take)
    quantity: Optional[Decimal] = None
    quote_qty: Optional[Decimal] = None
    price: Optional[Decimal] = None
    client_order_id: Optional[str] = None
    stp_mode: str = DEFAULT_STP             # a ``SelfTradePrevention``
    reduce_only: bool = False
    position_side: str = PositionSide.NET
    close_position: bool = False


class MatchingEngine:
    """Price-time priority matching for one market; every money movement through ``ledger``."""

    #: closed orders stay queryable (GET order, by id or client id) until this many newer ones closed
    MAX_CLOSED_ORDERS = 200_000
    #: recent fills kept for the public trades endpoint
    MAX_FILLS = 10_000

    def __init__(self, market: str, ledger: Ledger, seed: int = 0, first_order_id: int = 1000) -> None:
        self.market = market
        self.ledger = ledger
        self.books: dict[str, MatchingBook] = {}
        self.specs: dict[str, SymbolSpec] = {}
        self.listeners: list[Listener] = []
        self._order_ids = itertools.count(first_order_id)
        self._trade_ids = itertools.count(first_order_id * 10)
        self._seq = itertools.count(1)
        self._prevented_ids = itertools.count(1)
        self._rng = random.Random(seed)
        self.orders: dict[int, Order] = {}
        self.open_by_owner: dict[str, dict[int, Order]] = {}
        self.open_cids: dict[tuple[str, str], Order] = {}           # (owner, cid) -> open order
        self.cid_history: dict[tuple[str, str, str], Order] = {}    # (owner, symbol, cid) -> latest
        self.fills: Deque[Fill] = deque(maxlen=self.MAX_FILLS)
        self._closed: Deque[Order] = deque()
        self.trade_listeners: list[Callable[[Fill], None]] = []

    # -- setup
    def add_symbol(self, spec: SymbolSpec) -> MatchingBook:
        self.specs[spec.symbol] = spec
        book = self.books[spec.symbol] = MatchingBook(spec, first_update_id=1_000_000 + self._rng.randrange(1_000_000))
        return book

    def _emit(self, event: Any) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a broken front end must not corrupt the engine
                logger.exception("sim listener failed on %s", type(event).__name__)

    def _flush(self) -> None:
        self.ledger.flush(self._emit)

    def new_client_order_id(self) -> str:
        return "".join(self._rng.choice(_CID_CHARS) for _ in range(22))

    # -- planning
    def plan(self, owner: str, req: OrderRequest) -> Plan:
        """Dry-run matching of ``req`` (no state changes)."""
        book = self.books[req.symbol]
        limit = req.price if req.type != "MARKET" else None
        remaining = req.quantity
        budget = req.quote_qty
        fills, filled, cost = [], ZERO, ZERO
        blocked = False
        spec = book.spec
        for maker in book.iter_makers(req.side):
            if limit is not None and ((req.side == BUY and maker.price > limit)
                                      or (req.side == SELL and maker.price < limit)):
                break
            if maker.owner == owner and req.stp_mode != STP.NONE:
                if req.stp_mode == STP.CANCEL_MAKER:
                    continue
                blocked = True
                break
            avail = maker.remaining
            if budget is not None:
                qty = min(avail, spec.floor_qty((budget - cost) / maker.price))
            else:
                qty = min(avail, remaining - filled)
            if qty <= 0:
                break
            fills.append((maker, maker.price, qty))
            filled += qty
            cost += maker.price * qty
            if budget is None and filled >= remaining:
                break
        return Plan(fills, filled, cost, blocked)

    # -- orders
    def submit(self, owner: str, req: OrderRequest) -> Order:
        """Place an order; returns it in its state after matching (raises :class:`SimReject`)."""
        if req.symbol not in self.books:
            raise SimReject(Reject.UNKNOWN_SYMBOL, req.symbol)
        book = self.books[req.symbol]
        cid = req.client_order_id or self.new_client_order_id()
        if (owner, cid) in self.open_cids:
            raise SimReject(Reject.DUPLICATE_CLIENT_ID)
        if req.time_in_force == TIF.POST_ONLY and book.crosses(req.side, req.price):
            raise SimReject(Reject.POST_ONLY_WOULD_TAKE)
        ts = now_ms()
        order = Order(symbol=req.symbol, order_id=next(self._order_ids), client_order_id=cid,
                      owner=owner, side=req.side, type=req.type,
                      time_in_force=req.time_in_force,
                      price=req.price if req.price is not None else ZERO,
                      orig_qty=req.quantity if req.quantity is not None else ZERO,
                      orig_quote_qty=req.quote_qty or ZERO, time=ts, update_time=ts,
                      stp_mode=req.stp_mode, reduce_only=req.reduce_only,
                      position_side=req.position_side, close_position=req.close_position)
        plan = self.plan(owner, req)
        if req.quote_qty is not None:
            order.orig_qty = plan.filled_qty
        if order.type == "MARKET" and plan.empty and order.orig_qty <= 0:
            order.orig_qty = req.quantity or ZERO
        self.ledger.check_reduce(order, plan)
        fok_fails = req.time_in_force == TIF.FOK and (plan.filled_qty < order.orig_qty or plan.blocked_by_self)
        if fok_fails:
            # an unfillable FOK ends with status EXPIRED; it never touched the book.
            self.orders[order.order_id] = order
            self.cid_history[(owner, order.symbol, cid)] = order
            order.status = Status.EXPIRED
            self._emit(OrderEvent(owner, order, Status.NEW, ts, snapshot=_snap(order, Status.NEW)))
            self._emit(OrderEvent(owner, order, Status.EXPIRED, ts, snapshot=_snap(order)))
            self._remember_closed(order)
            return order
        self.ledger.reserve(order, plan)       # raises on insufficient balance / margin
        self.orders[order.order_id] = order
        self.cid_history[(owner, order.symbol, cid)] = order
        self.open_by_owner.setdefault(owner, {})[order.order_id] = order
        self.open_cids[(owner, cid)] = order
        self._emit(OrderEvent(owner, order, Status.NEW, ts, snapshot=_snap(order)))
        self._match(book, order)
        if order.is_open:
            if order.type == "LIMIT" and order.time_in_force in TIF.RESTING and order.remaining > 0:
                order.sequence = next(self._seq)
                book.add(order)
            else:
                order.end_reason = (EndReason.MARKET_REMAINDER if order.type == "MARKET" else
                                    EndReason.IOC_REMAINDER if order.time_in_force == TIF.IOC else EndReason.NONE)
                self._close(order, Status.EXPIRED, ts)
        self._flush()
        return order

    def _match(self, book: MatchingBook, taker: Order) -> None:
        spec = book.spec
        limit = taker.price if taker.type != "MARKET" else None
        budget = taker.orig_quote_qty if taker.orig_quote_qty > 0 else None
        for maker in book.iter_makers(taker.side):      # lazy: stops at the limit price
            if taker.remaining <= 0 and budget is None:
                break
            if not maker.is_open:
                continue
            if limit is not None and ((taker.side == BUY and maker.price > limit)
                                      or (taker.side == SELL and maker.price < limit)):
                break
            if maker.owner == taker.owner and taker.stp_mode != STP.NONE:
                ts = now_ms()
                # status and execution type PREVENTED, end reason SELF_TRADE; front ends name it
                # as their venue does
                stp_exec = "PREVENTED"
                match_id = next(self._prevented_ids)
                would_qty = min(maker.remaining, taker.remaining)
                for o, other in ((maker, taker), (taker, maker)):
                    o.prevention = (match_id, other.order_id, o.remaining, maker.price, would_qty)
                if taker.stp_mode in STP.EXPIRES_MAKER:
                    maker.prevented_qty += maker.remaining
                    book.remove(maker)
                    maker.end_reason = EndReason.SELF_TRADE
                    self._close(maker, Status.PREVENTED, ts, exec_type=stp_exec)
                if taker.stp_mode in STP.EXPIRES_TAKER:
                    taker.end_reason = EndReason.SELF_TRADE
                    taker.prevented_qty += taker.remaining
                    self._close(taker, Status.PREVENTED, ts, exec_type=stp_exec)
                    return
                continue
            if budget is not None:
                qty = min(maker.remaining, spec.floor_qty((budget - taker.cum_quote) / maker.price),
                          taker.remaining)
            else:
                qty = min(maker.remaining, taker.remaining)
            if qty <= 0:
                break
            self._fill(book, taker, maker, maker.price, qty)

    def _fill(self, book: MatchingBook, taker: Order, maker: Order, price: Decimal, qty: Decimal) -> None:
        ts = now_ms()
        fill = Fill(next(self._trade_ids), book.spec.symbol, price, qty, ts, taker, maker)
        for o in (taker, maker):
            o.executed_qty += qty
            o.cum_quote += price * qty
            o.update_time = ts
            o.status = Status.FILLED if o.remaining <= 0 else Status.PARTIALLY_FILLED
        book.reduce(maker, qty)
        book.last_trade_price = price
        taker_side, maker_side = self.ledger.settle(fill)
        self.fills.append(fill)
        for side in (maker_side, taker_side):
            o = side.order
            self._emit(OrderEvent(o.owner, o, "TRADE", ts, fill=side, snapshot=_snap(o)))
            if not o.is_open:
                self._retire(o)
        stale_reducers = getattr(self.ledger, "stale_reducers", None)
        if stale_reducers is not None:      # futures: reduce-only orders left without a position
            for owner in {taker.owner, maker.owner}:
                for o in stale_reducers(owner, self.open_orders(owner, book.spec.symbol)):
                    if o is not taker:
                        book.remove(o)
                        o.end_reason = EndReason.REDUCE_ONLY
                        self._close(o, Status.EXPIRED, ts)
        for listener in self.trade_listeners:
            try:
                listener(fill)
            except Exception:
                logger.exception("sim trade listener failed")

    def _retire(self, order: Order) -> None:
        self.open_by_owner.get(order.owner, {}).pop(order.order_id, None)
        if self.open_cids.get((order.owner, order.client_order_id)) is order:
            del self.open_cids[(order.owner, order.client_order_id)]
        self.ledger.release(order)
        self._remember_closed(order)

    def _remember_closed(self, order: Order) -> None:
        """Bound the memory of a long run: the oldest closed orders are forgotten."""
        self._closed.append(order)
        while len(self._closed) > self.MAX_CLOSED_ORDERS:
            old = self._closed.popleft()
            self.orders.pop(old.order_id, None)
            key = (old.owner, old.symbol, old.client_order_id)
            if self.cid_history.get(key) is old:
                del self.cid_history[key]

    def _close(self, order: Order, status: str, ts: int, exec_type: Optional[str] = None,
               cancel_cid: str = "") -> None:
        order.status = status
        order.update_time = ts
        if cancel_cid:
            order.cancel_client_order_id = cancel_cid
        self._retire(order)
        self._emit(OrderEvent(order.owner, order, exec_type or status, ts, snapshot=_snap(order),
                              cancel_client_order_id=cancel_cid))

    def find(self, owner: str, symbol: str, order_id: Optional[int] = None,
             client_order_id: Optional[str] = None) -> Optional[Order]:
        if order_id is not None:
            o = self.orders.get(order_id)
            if o is None or o.owner != owner or o.symbol != symbol:
                return None
            if client_order_id is not None and o.client_order_id != client_order_id:
                return None
            return o
        if client_order_id is not None:
            return self.cid_history.get((owner, symbol, client_order_id))
        return None

    def query(self, owner: str, symbol: str, order_id: Optional[int] = None,
              client_order_id: Optional[str] = None) -> Order:
        o = self.find(owner, symbol, order_id, client_order_id)
        if o is None:
            raise SimReject(Reject.ORDER_NOT_FOUND)
        return o

    def cancel(self, owner: str, symbol: str, order_id: Optional[int] = None,
               client_order_id: Optional[str] = None, new_client_order_id: str = "") -> Order:
        o = self.find(owner, symbol, order_id, client_order_id)
        if o is None or not o.is_open:
            raise SimReject(Reject.UNKNOWN_ORDER)
        self.books[symbol].remove(o)
        self._close(o, Status.CANCELED, now_ms(), cancel_cid=new_client_order_id or self.new_client_order_id())
        self._flush()
        return o

    def cancel_all(self, owner: str, symbol: str) -> list[Order]:
        orders = [o for o in self.open_orders(owner, symbol)]
        book = self.books[symbol]
        ts = now_ms()
        for o in orders:
            book.remove(o)
            self._close(o, Status.CANCELED, ts, cancel_cid=self.new_client_order_id())
        self._flush()
        return orders

    def open_orders(self, owner: str, symbol: Optional[str] = None) -> list[Order]:
        orders = self.open_by_owner.get(owner, {}).values()
        return sorted((o for o in orders if symbol is None or o.symbol == symbol),
                      key=lambda o: o.order_id)


def _snap(order: Order, status: Optional[str] = None) -> dict:
    """Freeze the fields that user-stream messages report, as they are at event time."""
    return {"status": status or order.status, "executed_qty": order.executed_qty,
            "cum_quote": order.cum_quote, "update_time": order.update_time,
            "orig_qty": order.orig_qty}
