"""The spot connector engine, written once for every venue.

``Connector(venue, trading_pairs)`` drives a venue's trading translation object (see
``hbconnect.connector.contract``): it does the I/O, keeps the order book of its own orders
(``OrderTracker``), balances and trading rules, and emits Hummingbot-named events.

Order placement follows Hummingbot's v2.1 standard: ``buy``/``sell`` validate and track the
order, return its client order id at once, and submit it in a task. Rules that keep orders
right when the network misbehaves:

* An order request is never re-sent. If its outcome is unknown (timeout, dropped connection,
  5xx, unreadable body) the engine asks the venue for the order by client order id; once the
  venue's "order not accepted after" window has passed, "not found" means it never accepted it.
* Every answer is classified by the venue (``check_response``), HTTP 200 bodies included: an
  order the venue refused fails at once, with the venue's code in the failure event.
* Orders the venue stops knowing are counted, declared lost, then reconciled by polling and
  cancelled; the engine never cancels an order it did not create.
* The user stream is the fast path; REST polling of orders and balances is the safety net (and
  the main path while the stream is down). After every stream reconnection the engine
  reconciles orders and balances, since events may have been missed.
"""
from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from typing import Any, Awaitable, Callable, Dict, Iterable, List, NamedTuple, Optional

from hbconnect.connector.contract import (
    AccountSettings,
    BalanceDelta,
    BalanceUpdate,
    PreparedRequest,
    StreamExpired,
    VenueRequest,
)
from hbconnect.connector.order_transport import OrderTransport
from hbconnect.connector.persistence import load_orders, save_orders
from hbconnect.connector.user_stream import UserStream
from hbconnect.core.codecs import fast_loads as _fast_loads
from hbconnect.core.errors import (
    ExchangeError,
    OrderNotFound,
    RateLimitError,
    TimeSyncError,
    register_secret,
)
from hbconnect.core.events import BalanceUpdateEvent, EventHub, MarketEvent, MarketOrderFailureEvent
from hbconnect.core.in_flight_order import InFlightOrder, OrderUpdate, TradeUpdate
from hbconnect.core.order_tracker import OrderTracker
from hbconnect.core.rest import BodyDecodeError, HttpError, RestClient, RetryPolicy
from hbconnect.core.throttler import Throttler
from hbconnect.core.time_sync import TimeSynchronizer
from hbconnect.core.types import OrderState, OrderType, PositionAction, TradeType, to_decimal
from hbconnect.core.trading_rule import TradingRule

logger = logging.getLogger(__name__)

_ZERO = Decimal(0)


class CancellationResult(NamedTuple):
    """Outcome of one cancel in ``cancel_all`` (Hummingbot's shape)."""

    order_id: str
    success: bool


class Connector:
    """Spot connector. Use ``await connector.start()`` / ``await connector.stop()`` or
    ``async with connector:``.

    :param venue: the venue's trading translation object (``hbconnect.exchanges.trading_venue(name)(...)``)
    :param trading_pairs: pairs to trade, ``BASE-QUOTE``
    :param order_book_tracker: an ``OrderBookTracker`` to start/stop with the connector (optional)
    :param state_file: JSON file where in-flight orders are saved; restored and reconciled on start
    :param poll_interval: seconds between order-status/balance polls while the user stream is up
    :param fast_poll_interval: the same while the stream is down or orders need resolving
    :param rest_fetch: injectable REST fetch hook (tests, replay), see ``RestClient``
    :param event_hub: where events go (a new one by default, see :attr:`event_hub`)
    :param ws_order_entry: place and cancel over the venue's WebSocket order entry when it has
        one (REST while that socket is down); False keeps orders on REST
    :param ws_user_stream: with WebSocket order entry, take the user-data events on the order
        socket itself when the venue offers it (one socket, no stream key); the venue's own
        private stream is the fallback (and the stream when False)
    """

    is_perpetual = False

    def __init__(
        self,
        venue: Any,
        trading_pairs: Iterable[str] = (),
        *,
        order_book_tracker: Any = None,
        state_file: Optional[str] = None,
        trading_required: bool = True,
        poll_interval: float = 10.0,
        fast_poll_interval: float = 1.0,
        trading_rules_interval: float = 30 * 60.0,
        keepalive_interval: float = 30 * 60.0,
        rest_timeout: float = 10.0,
        order_timeout: Optional[float] = None,
        lost_order_count_limit: int = 3,
        rest_fetch: Optional[Callable[..., Awaitable[Any]]] = None,
        event_hub: Optional[EventHub] = None,
        clock: Callable[[], float] = time.time,
        ws_order_entry: bool = True,
        ws_user_stream: bool = True,
    ) -> None:
        self._venue = venue
        self._trading_pairs: List[str] = list(dict.fromkeys(trading_pairs))
        self._order_book_tracker = order_book_tracker
        self.state_file = state_file
        self.trading_required = trading_required
        self.poll_interval = poll_interval
        self.fast_poll_interval = fast_poll_interval
        self.trading_rules_interval = trading_rules_interval
        self.order_timeout = order_timeout if order_timeout is not None else rest_timeout
        self.max_concurrent_polls = 8
        self._order_types = frozenset(venue.supported_order_types())
        self._clock = clock
        self.event_hub = event_hub if event_hub is not None else EventHub()
        self._tracker = OrderTracker(self.event_hub, lost_order_count_limit=lost_order_count_limit,
                                     time_fn=clock)
        self._throttler = Throttler(venue.rate_limits)
        self._rest = RestClient(venue.rest_url, timeout=rest_timeout, throttler=self._throttler,
                                fetch=rest_fetch, retry=RetryPolicy(max_retries=2), name=venue.name)
        self._time_sync = TimeSynchronizer()
        self._user_stream = UserStream(venue, self._send, self._on_user_events,
                                       on_connected=self._on_stream_connected,
                                       on_disconnected=self._on_stream_disconnected,
                                       keepalive_interval=keepalive_interval, time_ms=self._server_time_ms,
                                       clock=clock)
        #: creates and cancels: the venue's WebSocket order entry when it offers one (and
        #: ``ws_order_entry``), REST while that socket is down or otherwise
        self._orders = OrderTransport(venue, self._send, self._server_time_ms, use_ws=ws_order_entry,
                                      throttler=self._throttler, resync=self._resync_time)
        if ws_user_stream and self._orders.session is not None and getattr(venue, "ws_user_stream", False):
            self._user_stream.ride(self._orders.session)
        #: the venue's own rate-limit counts in response headers (optional venue capability)
        self._usage_of: Optional[Callable[[Any], dict]] = getattr(venue, "rate_limit_usage", None)
        #: limit ids an order's first fill gives one back to (a venue's unfilled-order count)
        self._first_fill_releases: tuple = tuple(getattr(venue, "first_fill_releases", ()))
        for secret in venue.credentials.secret_values():
            register_secret(secret, owner=self)  # kept while this connector lives
        #: account state requests depend on (position/margin mode, leverage), passed to the venue
        self._account = AccountSettings()
        self._rules: Dict[str, TradingRule] = {}
        self._balances: Dict[str, Decimal] = {}
        self._available: Dict[str, Decimal] = {}
        self._balance_ts: Dict[str, float] = {}
        self._balances_ready = False
        self._last_prices: Dict[str, Decimal] = {}
        self._creating: Dict[str, asyncio.Task] = {}  # orders whose create request is unresolved
        self._resolving: set = set()  # orders whose creation outcome is being asked for
        self._cancelling: Dict[str, asyncio.Task] = {}  # cancels in flight
        self._tasks: set = set()
        self._loops: List[asyncio.Task] = []
        self._poll_now = asyncio.Event() if _has_loop() else None
        self._balances_dirty = False
        self._running = False
        self._dirty = False
        self._save_handle: Optional[asyncio.TimerHandle] = None
        self.stats: Dict[str, int] = {"orders_submitted": 0, "orders_resolved_by_query": 0,
                                      "requests_failed": 0, "stream_reconnects": 0, "polls": 0}
        if state_file is not None:  # every order event marks the saved state dirty
            for tag in (MarketEvent.OrderFilled, MarketEvent.OrderCancelled, MarketEvent.OrderFailure,
                        MarketEvent.BuyOrderCompleted, MarketEvent.SellOrderCompleted,
                        MarketEvent.BuyOrderCreated, MarketEvent.SellOrderCreated):
                self.event_hub.add_listener(tag, self._on_order_event)

    # ------------------------------------------------------------------ identity / state
    @property
    def name(self) -> str:
        return self._venue.name

    @property
    def venue(self) -> Any:
        return self._venue

    @property
    def trading_pairs(self) -> List[str]:
        return list(self._trading_pairs)

    @property
    def order_tracker(self) -> OrderTracker:
        return self._tracker

    @property
    def in_flight_orders(self) -> Dict[str, InFlightOrder]:
        """Orders not done yet (active and lost)."""
        return self._tracker.all_updatable_orders

    @property
    def trading_rules(self) -> Dict[str, TradingRule]:
        return dict(self._rules)

    @property
    def order_book_tracker(self) -> Any:
        return self._order_book_tracker

    @property
    def order_books(self) -> Dict[str, Any]:
        """Pair -> ``OrderBook`` from the order book tracker (empty without one)."""
        t = self._order_book_tracker
        if t is None:
            return {}
        return {pair: tb.book for pair, tb in t.books.items()}

    def get_order_book(self, trading_pair: str) -> Any:
        books = self.order_books
        if trading_pair not in books:
            raise ValueError(f"no order book for {trading_pair}")
        return books[trading_pair]

    def supported_order_types(self) -> List[OrderType]:
        return list(self._venue.supported_order_types())

    @property
    def status_dict(self) -> Dict[str, bool]:
        """What is ready; ``ready`` is all of it."""
        d = {
            "trading_rule_initialized": all(p in self._rules for p in self._trading_pairs) and bool(self._rules),
            "account_balance": not self.trading_required or self._balances_ready,
            "user_stream_initialized": not self.trading_required or self._user_stream.connected,
        }
        if self._order_book_tracker is not None:
            d["order_books_initialized"] = _tracker_ready(self._order_book_tracker, self._trading_pairs)
        return d

    @property
    def ready(self) -> bool:
        return self._running and all(self.status_dict.values())

    async def wait_until_ready(self, timeout: float = 30.0) -> None:
        """Wait until :attr:`ready`; ``asyncio.TimeoutError`` (with what is missing logged) if not."""
        deadline = _loop_time() + timeout
        while not self.ready:
            if _loop_time() > deadline:
                missing = [k for k, v in self.status_dict.items() if not v]
                raise asyncio.TimeoutError(f"{self.name} not ready after {timeout:g}s: missing {missing}")
            await asyncio.sleep(0.02)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name}, pairs={self._trading_pairs}, "
                f"orders={len(self.in_flight_orders)}, ready={self._running and all(self.status_dict.values())})")

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> "Connector":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def start(self) -> None:
        """Sync time, load rules and balances, restore saved orders, start the user stream,
        the polling loops and the order book tracker. Does not wait for ``ready``."""
        if self._running:
            return
        self._running = True
        self._poll_now = asyncio.Event()
        if self._order_book_tracker is not None:
            await _maybe_await(self._order_book_tracker.start())
        try:
            await self._sync_time()
        except (ExchangeError, ValueError, KeyError) as exc:
            logger.warning("%s: time sync failed at start (%s); will retry", self.name, exc)
        try:
            await self._update_trading_rules()
        except (ExchangeError, ValueError, KeyError) as exc:
            logger.warning("%s: trading rules unavailable at start (%s); will retry", self.name, exc)
        if self.trading_required:
            try:
                await self._update_balances()
            except (ExchangeError, ValueError, KeyError) as exc:
                logger.warning("%s: balances unavailable at start (%s); will retry", self.name, exc)
            await self._on_start_trading()
            self._restore_orders()
            self._user_stream.start()
            self._orders.start()
            self._loops.append(self._spawn_loop(self._status_loop(), "status"))
        self._loops.append(self._spawn_loop(self._rules_loop(), "rules"))

    async def _on_start_trading(self) -> None:
        """Hook for subclasses (perpetual: positions, position mode)."""

    async def stop(self) -> None:
        """Stop loops and streams, save in-flight orders. Open orders stay open at the venue."""
        if not self._running:
            return
        self._running = False
        await self._user_stream.stop()
        await self._orders.stop()
        tasks = self._loops + list(self._tasks) + list(self._creating.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._loops.clear()
        self._tasks.clear()
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        self._save_now()
        if self._order_book_tracker is not None:
            await _maybe_await(self._order_book_tracker.stop())
        await self._rest.close()

    def _spawn_loop(self, coro: Awaitable[Any], name: str) -> asyncio.Task:
        return asyncio.get_running_loop().create_task(coro, name=f"{self.name}-{name}")

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            logger.error("%s: background task failed: %r", self.name, exc,
                         exc_info=(type(exc), exc, exc.__traceback__))

    # ------------------------------------------------------------------ trading pairs
    async def add_trading_pair(self, trading_pair: str) -> None:
        """Start trading (and tracking the book of) ``trading_pair`` at runtime."""
        if trading_pair in self._trading_pairs:
            return
        self._trading_pairs.append(trading_pair)
        if trading_pair not in self._rules and self._running:
            await self._update_trading_rules()
        t = self._order_book_tracker
        if t is not None and trading_pair not in t.books:
            await _maybe_await(t.add_pair(trading_pair))

    async def remove_trading_pair(self, trading_pair: str) -> None:
        """Stop trading ``trading_pair`` (its open orders are left as they are)."""
        if trading_pair not in self._trading_pairs:
            return
        self._trading_pairs.remove(trading_pair)
        t = self._order_book_tracker
        if t is not None and trading_pair in t.books:
            await _maybe_await(t.remove_pair(trading_pair))

    # ------------------------------------------------------------------ REST plumbing
    def _server_time_ms(self) -> int:
        return int(self._time_sync.time() * 1000)

    async def _sync_time(self) -> None:
        async def fetch() -> float:
            return self._venue.parse_server_time(await self._send(self._venue.server_time_request()))
        await self._time_sync.update_server_time_offset_with_time_provider(fetch())

    async def _resync_time(self) -> None:
        try:
            await self._sync_time()
        except ExchangeError as exc:
            logger.warning("%s: time re-sync failed: %s", self.name, exc)

    async def _send(self, request: VenueRequest, *, timeout: Optional[float] = None) -> Any:
        """Perform ``request`` and return its parsed JSON body, raising typed errors.

        A timestamp rejection (clock drift) re-syncs the time and retries once: the venue
        refused the request before acting on it, so this is safe even for an order."""
        for attempt in (1, 2):
            prepared: PreparedRequest = self._venue.prepare(request, self._server_time_ms())
            # wait for the rate limits first, then stamp: a throttled request keeps a fresh timestamp
            if await self._throttler.acquire(prepared.limit_id) > 0.001 and request.signed:
                prepared = self._venue.prepare(request, self._server_time_ms())
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s: sending %r", self.name, prepared)
            try:
                resp = await self._rest.request(
                    prepared.method, prepared.url, params=prepared.params, body=prepared.body,
                    headers=prepared.headers, idempotent=prepared.idempotent, limit_id=None,
                    timeout=timeout)
            except HttpError as exc:
                if exc.outcome_unknown:
                    raise
                if self._usage_of is not None:
                    self._follow_usage(exc.headers)
                err = self._venue.check_response(exc.status, exc.json(), exc.headers) \
                    or ExchangeError(None, f"HTTP {exc.status}", http_status=exc.status, venue=self.name)
                # the transport already slowed the throttler down for a 429/418 status
                slowed = isinstance(exc, RateLimitError)
                if isinstance(err, RateLimitError) and err.retry_after is None:
                    err.retry_after = getattr(exc, "retry_after", None)
            else:
                try:
                    data = _fast_loads(resp.body)  # orjson when installed
                except ValueError:
                    data = resp.json()  # the clear BodyDecodeError (or what ujson accepts)
                if self._usage_of is not None:
                    self._follow_usage(resp.headers)
                err = self._venue.check_response(resp.status, data, resp.headers)
                if err is None:
                    return data
                slowed = False
            if isinstance(err, TimeSyncError) and attempt == 1 and request.signed:
                logger.warning("%s: %s; re-syncing time and retrying", self.name, err)
                await self._resync_time()
                continue
            if isinstance(err, RateLimitError) and not slowed:
                # a 429-equivalent in a body: every request waits, as for an HTTP 429
                self._throttler.slow_down(err.retry_after)
            self.stats["requests_failed"] += 1
            raise err from None
        raise AssertionError("unreachable")

    def _follow_usage(self, headers: Any) -> None:
        """Take on the venue's own rate-limit counts from response headers."""
        try:
            counts = self._usage_of(headers) if headers else None  # type: ignore[misc]
        except (TypeError, ValueError, AttributeError) as exc:
            logger.debug("%s: unreadable rate-limit headers (%s)", self.name, exc)
            return
        if counts:
            self._throttler.follow(counts)

    # ------------------------------------------------------------------ rules, balances, prices
    async def _update_trading_rules(self) -> None:
        rules = self._venue.parse_trading_rules(await self._send(self._venue.trading_rules_request()))
        self._rules = {r.trading_pair: r for r in rules}
        missing = [p for p in self._trading_pairs if p not in self._rules]
        if missing:
            logger.warning("%s: no trading rule for %s", self.name, ", ".join(missing))

    async def _rules_loop(self) -> None:
        while True:
            delay = self.trading_rules_interval if self.status_dict["trading_rule_initialized"] else 2.0
            await asyncio.sleep(delay)
            try:
                await self._update_trading_rules()
                await self._sync_time()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("%s: trading rules refresh failed: %s", self.name, exc)

    async def _update_balances(self) -> None:
        update = self._venue.parse_balances(await self._send(self._venue.balances_request()))
        self._apply_balances(update)
        self._balances_ready = True

    def _apply_balances(self, update: BalanceUpdate) -> None:
        ts = update.timestamp
        seen = set()
        for e in update.entries:
            seen.add(e.asset)
            if ts and self._balance_ts.get(e.asset, 0.0) > ts:
                continue  # older than what the stream already told us
            available = e.available
            if available is None:  # the message does not say: keep ours, re-read it soon
                self._balances_dirty = True
                available = self._available.get(e.asset, e.total)
            changed = self._balances.get(e.asset) != e.total or self._available.get(e.asset) != available
            self._balances[e.asset] = e.total
            self._available[e.asset] = available
            if ts:
                self._balance_ts[e.asset] = ts
            if changed:
                self.event_hub.trigger_event(MarketEvent.BalanceUpdate, BalanceUpdateEvent(
                    self._clock(), e.asset, e.total, available))
        if update.complete:
            for asset in list(self._balances):
                if asset not in seen and not (ts and self._balance_ts.get(asset, 0.0) > ts):
                    del self._balances[asset]
                    self._available.pop(asset, None)
                    self.event_hub.trigger_event(MarketEvent.BalanceUpdate, BalanceUpdateEvent(
                        self._clock(), asset, _ZERO, _ZERO))

    def get_balance(self, asset: str) -> Decimal:
        """Total balance of ``asset`` (free + locked)."""
        return self._balances.get(asset, _ZERO)

    def get_available_balance(self, asset: str) -> Decimal:
        return self._available.get(asset, _ZERO)

    def get_all_balances(self) -> Dict[str, Decimal]:
        return dict(self._balances)

    def get_all_available_balances(self) -> Dict[str, Decimal]:
        return dict(self._available)

    async def refresh_balances(self) -> Dict[str, Decimal]:
        """Re-read balances over REST now."""
        await self._update_balances()
        return self.get_all_balances()

    async def get_last_traded_prices(self, trading_pairs: Optional[List[str]] = None) -> Dict[str, Decimal]:
        """Last traded price per pair, from the venue's ticker."""
        pairs = list(trading_pairs or self._trading_pairs)
        prices = self._venue.parse_last_prices(
            await self._send(self._venue.last_prices_request(pairs)), pairs)
        self._last_prices.update(prices)
        return prices

    def get_price(self, trading_pair: str, is_buy: bool) -> Decimal:
        """Best ask (buy) / best bid (sell) from the tracked order book."""
        book = self.get_order_book(trading_pair)
        return Decimal(str(book.get_price(is_buy)))

    def get_mid_price(self, trading_pair: str) -> Decimal:
        return (self.get_price(trading_pair, True) + self.get_price(trading_pair, False)) / 2

    def last_traded_price(self, trading_pair: str) -> Optional[Decimal]:
        """Latest known trade price: the book's last public trade, else our fills, else the ticker."""
        t = self._order_book_tracker
        tb = t.books.get(trading_pair) if t is not None else None
        trade = tb.last_trade if tb is not None else None
        value = trade.price if trade is not None else None
        if value is not None:
            try:
                d = Decimal(str(value))
                if d.is_finite() and d > 0:
                    return d
            except ArithmeticError:
                pass
        return self._last_prices.get(trading_pair)

    # ------------------------------------------------------------------ quantization
    def quantize_order_price(self, trading_pair: str, price: Any) -> Decimal:
        return self._rules[trading_pair].quantize_price(price)

    def quantize_order_amount(self, trading_pair: str, amount: Any, price: Any = None) -> Decimal:
        return self._rules[trading_pair].quantize_amount(amount)

    # ------------------------------------------------------------------ orders
    def buy(self, trading_pair: str, amount: Any, order_type: OrderType = OrderType.LIMIT,
            price: Any = None, **kwargs: Any) -> str:
        """Place a buy; returns the client order id at once (the order is submitted in a task)."""
        return self._place(TradeType.BUY, trading_pair, amount, order_type, price, **kwargs)

    def sell(self, trading_pair: str, amount: Any, order_type: OrderType = OrderType.LIMIT,
             price: Any = None, **kwargs: Any) -> str:
        """Place a sell; returns the client order id at once (the order is submitted in a task)."""
        return self._place(TradeType.SELL, trading_pair, amount, order_type, price, **kwargs)

    def _place(self, trade_type: TradeType, pair: str, amount: Any, order_type: OrderType, price: Any,
               position_action: PositionAction = PositionAction.NIL, **kwargs: Any) -> str:
        order_id = self._venue.new_client_order_id(trade_type is TradeType.BUY, pair)
        now = self._clock()
        error = self._prepare_order(order_id, trade_type, pair, amount, order_type, price, position_action, now)
        if error is not None:
            # no request: the strategy hears about it through the failure event
            logger.info("%s: order %s rejected locally: %s", self.name, order_id, error)
            asyncio.get_running_loop().call_soon(self._emit_local_failure, order_id, order_type, error)
            return order_id
        # a plain task (no done-callback): _submit never raises and removes itself from _creating
        self._creating[order_id] = asyncio.get_running_loop().create_task(self._submit(order_id))
        return order_id

    def _prepare_order(self, order_id: str, trade_type: TradeType, pair: str, amount: Any,
                       order_type: OrderType, price: Any, position_action: PositionAction,
                       now: float) -> Optional[str]:
        """Quantize, validate and start tracking. Returns the reason when the order cannot go."""
        if not self._running:
            return "connector is not running"
        if order_type not in self._order_types:
            return f"order type {order_type.name} is not supported by {self.name}"
        if pair not in self._trading_pairs:
            return f"{pair} is not a trading pair of this connector (add_trading_pair first)"
        rule = self._rules.get(pair)
        if rule is None:
            return f"no trading rule for {pair}"
        try:
            raw_amount = to_decimal(amount, "amount")
            q_amount = rule.quantize_amount(raw_amount)
            q_price = None
            if order_type is not OrderType.MARKET or price is not None:
                if price is None:
                    return f"a {order_type.name} order needs a price"
                raw_price = to_decimal(price, "price")
                if raw_price.is_nan() or raw_price <= 0:
                    if order_type is not OrderType.MARKET:
                        return f"invalid price {price}"
                else:
                    q_price = rule.quantize_price(raw_price)
        except ValueError as exc:
            return str(exc)
        ref = q_price if order_type is OrderType.MARKET else None
        if order_type is OrderType.MARKET and ref is None:
            ref = self._reference_price(pair, trade_type)
        if q_amount <= 0:
            return (f"{pair}: amount {raw_amount} is below the minimum order size "
                    f"{rule.min_order_size} (step {rule.min_base_amount_increment})")
        reason = rule.validate(q_amount, q_price if order_type is not OrderType.MARKET else None,
                               order_type, trade_type, reference_price=ref)
        if reason is not None:
            return reason
        order = InFlightOrder(
            client_order_id=order_id, trading_pair=pair, order_type=order_type, trade_type=trade_type,
            amount=q_amount, creation_timestamp=now,
            price=q_price if order_type is not OrderType.MARKET else None,
            leverage=self._order_leverage(pair), position=self._order_position(position_action))
        self._tracker.start_tracking_order(order)
        self._mark_dirty()
        return None

    def _order_leverage(self, pair: str) -> int:
        return 1

    def _order_position(self, position_action: PositionAction) -> PositionAction:
        return PositionAction.NIL

    def _reference_price(self, pair: str, trade_type: TradeType) -> Optional[Decimal]:
        try:
            return self.get_price(pair, trade_type is TradeType.BUY)
        except (ValueError, KeyError, ArithmeticError, AttributeError, TypeError):
            return self._last_prices.get(pair)

    def _emit_local_failure(self, order_id: str, order_type: OrderType, error: str) -> None:
        self.event_hub.trigger_event(MarketEvent.OrderFailure, MarketOrderFailureEvent(
            self._clock(), order_id, order_type, error_message=error, error_type="InvalidOrder"))

    async def _submit(self, order_id: str) -> None:
        order = self._tracker.fetch_tracked_order(order_id)
        try:
            if order is None:
                return
            self.stats["orders_submitted"] += 1
            try:
                data = await self._orders.place(order, self._account, self.order_timeout)
            except ExchangeError as exc:
                if exc.outcome_unknown or isinstance(exc, BodyDecodeError):
                    logger.warning("%s: order %s outcome unknown (%s); asking the venue", self.name, order_id, exc)
                    await self._resolve_creation(order, _loop_time())
                    return
                self._fail_order(order, exc)
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug or an unexpected transport error: ask, never re-send
                logger.exception("%s: order %s submission raised; asking the venue", self.name, order_id)
                await self._resolve_creation(order, _loop_time())
                return
            try:
                update, fills = self._venue.parse_place_order(data, order, self._clock())
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("%s: unreadable order response for %s (%s); asking the venue", self.name,
                               order_id, exc)
                await self._resolve_creation(order, _loop_time())
                return
            self._process_order_update(update)
            for fill in fills:
                self._process_trade_update(fill)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug: log it (the status poll still reconciles the order)
            logger.exception("%s: order %s submission failed", self.name, order_id)
        finally:
            self._creating.pop(order_id, None)

    def _fail_order(self, order: InFlightOrder, exc: Exception) -> None:
        logger.info("%s: order %s failed: %s", self.name, order.client_order_id, exc)
        self._process_order_update(OrderUpdate(
            trading_pair=order.trading_pair, update_timestamp=self._clock(), new_state=OrderState.FAILED,
            client_order_id=order.client_order_id, error_message=f"{type(exc).__name__}: {exc}",
            error_type=type(exc).__name__, error_code=getattr(exc, "code", None)))

    async def _resolve_creation(self, order: InFlightOrder, started: float) -> None:
        """The create request's outcome is unknown: ask the venue by client order id (never
        re-send). Not found after the request's receive window has passed -> never accepted."""
        self.stats["orders_resolved_by_query"] += 1
        cid = order.client_order_id
        self._resolving.add(cid)
        try:
            window = self._venue.order_not_accepted_after
            delay = 0.2
            deadline = _loop_time() + max(60.0, window * 4)
            while self._running and _loop_time() < deadline:
                if order.is_done or order.current_state is not OrderState.PENDING_CREATE:
                    return  # the user stream (or a poll) already told us
                try:
                    update = await self._query_status(order)
                except OrderNotFound:
                    if _loop_time() - started > window:
                        self._fail_order(order, OrderNotFound(None, "the venue never accepted the order"))
                        return
                except ExchangeError as exc:
                    if self._venue.is_order_not_found(exc):
                        if _loop_time() - started > window:
                            self._fail_order(order, exc)
                            return
                    else:
                        logger.info("%s: status of %s unavailable (%s); retrying", self.name, cid, exc)
                except (ValueError, KeyError, TypeError) as exc:
                    logger.warning("%s: unreadable status for %s (%s); retrying", self.name, cid, exc)
                else:
                    await self._apply_status(order, update)
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 2.0)
            logger.warning("%s: could not resolve order %s; the status poll will", self.name, cid)
        finally:
            self._resolving.discard(cid)

    async def _query_status(self, order: InFlightOrder) -> OrderUpdate:
        """Ask the venue for the order's state. ``OrderNotFound`` when the venue does not know
        it: an error answer, or a success whose list does not hold the order (Bybit), which the
        venue's ``parse_order_status`` raises."""
        data = await self._send(self._venue.order_status_request(order))
        return self._venue.parse_order_status(data, order, self._clock())

    async def _apply_status(self, order: InFlightOrder, update: OrderUpdate) -> None:
        """Apply a status answer; fetch fills first when the venue executed more than counted."""
        if update.exchange_order_id and order.exchange_order_id is None:
            order.update_exchange_order_id(update.exchange_order_id)
        venue_exec = update.executed_amount_base
        if venue_exec is not None and venue_exec > order.executed_amount_base:
            await self._fetch_fills(order)
        self._process_order_update(update)
        if order.awaiting_fills and await self._fetch_fills(order) and order.awaiting_fills:
            # the venue's own trade list does not add up to its FILLED: complete with what it says
            self._tracker.waive_missing_fills(order.client_order_id)

    async def _fetch_fills(self, order: InFlightOrder) -> bool:
        """Fetch and count the order's fills; False when they could not be read."""
        if order.exchange_order_id is None:
            return False
        try:
            fills = self._venue.parse_order_fills(
                await self._send(self._venue.order_fills_request(order)), order)
        except (ExchangeError, ValueError, KeyError, TypeError) as exc:
            logger.info("%s: fills of %s unavailable: %s", self.name, order.client_order_id, exc)
            return False
        for fill in fills:
            self._process_trade_update(fill)
        return True

    # ------------------------------------------------------------------ cancel
    def cancel(self, trading_pair: str, client_order_id: str) -> str:
        """Cancel one of this connector's orders; returns the id at once (Hummingbot style).
        A cancel already in flight for the order is not repeated."""
        self._cancel_task(trading_pair, client_order_id)
        return client_order_id

    def _cancel_task(self, trading_pair: str, client_order_id: str) -> asyncio.Task:
        task = self._cancelling.get(client_order_id)
        if task is None or task.done():
            task = self._spawn(self._execute_cancel(trading_pair, client_order_id))
            self._cancelling[client_order_id] = task
            task.add_done_callback(lambda t, cid=client_order_id: self._cancelling.pop(cid, None)
                                   if self._cancelling.get(cid) is t else None)
        return task

    async def _execute_cancel(self, trading_pair: str, client_order_id: str) -> bool:
        """True when the venue confirmed the cancel (or the order is already cancelled)."""
        order = self._tracker.fetch_tracked_order(client_order_id) or self._tracker.fetch_lost_order(client_order_id)
        if order is None:
            done = self._tracker.fetch_cached_order(client_order_id)
            if done is not None:
                return done.is_cancelled
            logger.warning("%s: cancel of %s refused: not an order of this connector", self.name, client_order_id)
            return False
        if order.is_done:
            return order.is_cancelled
        creating = self._creating.get(client_order_id)
        if creating is not None and not creating.done():
            # let the create request resolve first, so the cancel cannot overtake it
            try:
                await asyncio.wait_for(asyncio.shield(creating), self.order_timeout + 1.0)
            except (asyncio.TimeoutError, Exception):
                pass
            if order.is_done:
                return order.is_cancelled
        try:
            data = await self._orders.cancel(order, self.order_timeout)
        except ExchangeError as exc:
            if isinstance(exc, OrderNotFound) or self._venue.is_order_not_found(exc):
                await self._reconcile_not_found(order)
                return order.is_cancelled
            logger.warning("%s: cancel of %s failed: %s", self.name, client_order_id, exc)
            return False
        try:
            update = self._venue.parse_cancel_order(data, order, self._clock())
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("%s: unreadable cancel response for %s (%s)", self.name, client_order_id, exc)
            await self._poll_order(order)
            return order.is_cancelled
        if order.executed_amount_base < (update.executed_amount_base or _ZERO):
            await self._fetch_fills(order)
        self._process_order_update(update)
        if update.new_state is OrderState.PENDING_CANCEL and not order.is_done:
            await self._confirm_cancel(order)
        return order.is_cancelled or update.new_state is OrderState.CANCELED

    async def _confirm_cancel(self, order: InFlightOrder) -> None:
        """The venue only acknowledged the cancel request (Bybit, OKX): the order's state follows
        on the user stream. Wait for it up to ``order_timeout``, then ask the venue once."""
        deadline = _loop_time() + self.order_timeout
        while not order.is_done and _loop_time() < deadline:
            await asyncio.sleep(0.02)
        if not order.is_done:
            await self._poll_order(order)

    async def _reconcile_not_found(self, order: InFlightOrder) -> None:
        """A cancel said "unknown order": ask for its status (it may have filled)."""
        await self._poll_order(order)

    async def cancel_all(self, timeout_seconds: float) -> List[CancellationResult]:
        """Cancel every open order of this connector (never others'). Returns one result per
        order: success when the order ended cancelled within ``timeout_seconds``."""
        orders = [o for o in self._tracker.all_updatable_orders.values() if not o.is_done]
        if not orders:
            return []
        tasks = {o.client_order_id: self._cancel_task(o.trading_pair, o.client_order_id) for o in orders}
        done, _pending = await asyncio.wait(list(tasks.values()), timeout=timeout_seconds)
        results = []
        for o in orders:
            task = tasks[o.client_order_id]
            ok = False
            if task in done and not task.cancelled() and task.exception() is None:
                ok = bool(task.result())
            results.append(CancellationResult(o.client_order_id, ok and not o.is_failure))
        return results

    # ------------------------------------------------------------------ status polling
    async def _status_loop(self) -> None:
        """Urgent orders (lost, fills missing) every ``fast_poll_interval``; every order and the
        balances every ``poll_interval`` (every ``fast_poll_interval * 5`` while the stream is down)."""
        last_full = last_balance = _loop_time()
        while True:
            try:
                await asyncio.wait_for(self._poll_now.wait(), self.fast_poll_interval)
            except asyncio.TimeoutError:
                pass
            forced = self._poll_now.is_set()
            self._poll_now.clear()
            now = _loop_time()
            full_interval = self.poll_interval if self._user_stream.connected else self.fast_poll_interval * 5
            full = forced or now - last_full >= full_interval
            try:
                if full:
                    last_full = now
                    self.stats["polls"] += 1
                await self._update_order_status(full)
                if full and (forced or self._balances_dirty or not self._balances_ready
                             or now - last_balance >= full_interval):
                    self._balances_dirty = False
                    last_balance = now
                    await self._update_balances()
                if full:
                    await self._poll_extra()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("%s: status poll failed: %s", self.name, exc)

    async def _poll_extra(self) -> None:
        """Hook for subclasses (perpetual: positions, funding)."""

    def request_poll(self) -> None:
        """Poll order status and balances now (e.g. after a stream reconnection)."""
        if self._poll_now is not None:
            self._poll_now.set()

    async def _update_order_status(self, full: bool = True) -> None:
        skip = self._creating.keys() | self._resolving
        urgent = {**self._tracker.lost_orders, **self._tracker.orders_awaiting_fills}
        orders = self._tracker.all_updatable_orders if full else urgent
        if full:
            orders = {**orders, **self._tracker.orders_awaiting_fills}
        todo = [o for cid, o in orders.items() if cid not in skip]
        if not todo:
            return
        sem = asyncio.Semaphore(self.max_concurrent_polls)

        async def one(order: InFlightOrder) -> None:
            async with sem:
                await self._poll_order(order)
        await asyncio.gather(*(one(o) for o in todo))

    async def _poll_order(self, order: InFlightOrder) -> None:
        cid = order.client_order_id
        try:
            update = await self._query_status(order)
        except ExchangeError as exc:
            if isinstance(exc, OrderNotFound) or self._venue.is_order_not_found(exc):
                await self._order_not_found(order)
            else:
                logger.info("%s: status of %s unavailable: %s", self.name, cid, exc)
            return
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("%s: unreadable status for %s: %s", self.name, cid, exc)
            return
        was_lost = cid in self._tracker.lost_orders  # (applying the status un-loses it)
        try:
            await self._apply_status(order, update)
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("%s: unreadable status for %s: %s", self.name, cid, exc)
            return
        if was_lost and order.is_open and not order.is_done:
            # a lost order the venue knows again and that is still open: cancel it
            logger.info("%s: lost order %s is known again (%s); cancelling it", self.name, cid,
                        order.current_state.name)
            self._cancel_task(order.trading_pair, cid)

    async def _order_not_found(self, order: InFlightOrder) -> None:
        cid = order.client_order_id
        if cid in self._tracker.lost_orders:
            self._tracker.process_order_not_found(cid)
            if self._tracker.not_found_count(cid) >= 2 * self._tracker.lost_order_count_limit \
                    and order.executed_amount_base == 0:
                # still unknown long after it was lost: the venue never had it
                self._fail_order(order, OrderNotFound(None, "order unknown to the venue"))
            return
        if self._tracker.process_order_not_found(cid):
            self._mark_dirty()

    # ------------------------------------------------------------------ user stream
    def _on_stream_connected(self) -> None:
        self.stats["stream_reconnects"] += 1
        self._balances_dirty = True
        self.request_poll()

    def _on_stream_disconnected(self) -> None:
        logger.info("%s: user stream disconnected; polling faster", self.name)
        self.request_poll()

    def _on_user_events(self, events: List[Any]) -> None:
        for event in events:
            if isinstance(event, TradeUpdate):
                self._process_trade_update(event)
            elif isinstance(event, OrderUpdate):
                # orders that are not ours are ignored by the tracker; missing fills are fetched
                # by the fast poll
                self._process_order_update(event)
            elif isinstance(event, BalanceUpdate):
                self._apply_balances(event)
            elif isinstance(event, BalanceDelta):
                self._balances_dirty = True
                self.request_poll()
            elif isinstance(event, StreamExpired):
                self._user_stream.reconnect()
            else:
                self._on_other_event(event)

    def _on_other_event(self, event: Any) -> None:
        """Hook for subclasses (positions, funding)."""

    # ------------------------------------------------------------------ tracking helpers
    def _process_order_update(self, update: OrderUpdate) -> None:
        if self._tracker.process_order_update(update):
            self._mark_dirty()

    def _process_trade_update(self, trade: TradeUpdate) -> None:
        if self._tracker.process_trade_update(trade):
            self._last_prices[trade.trading_pair] = trade.fill_price
            if self._first_fill_releases:
                order = self._tracker.fetch_order(trade.client_order_id, trade.exchange_order_id)
                if order is not None and len(order.order_fills) == 1:  # its first fill
                    for limit_id in self._first_fill_releases:
                        self._throttler.release(limit_id, 1)
            self._mark_dirty()

    def _on_order_event(self, event: Any) -> None:
        self._mark_dirty()

    # ------------------------------------------------------------------ persistence
    def _mark_dirty(self) -> None:
        if self.state_file is None:
            return
        self._dirty = True
        if self._save_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._save_handle = loop.call_later(0.25, self._save_now)

    def _save_now(self) -> None:
        self._save_handle = None
        if self.state_file is None or not self._dirty:
            return
        self._dirty = False
        try:
            save_orders(self.state_file, self.name, self._tracker.tracking_states)
        except OSError as exc:
            logger.error("%s: cannot save orders to %s: %s", self.name, self.state_file, exc)

    @property
    def tracking_states(self) -> Dict[str, Any]:
        return self._tracker.tracking_states

    def restore_tracking_states(self, saved_states: Dict[str, Any]) -> List[InFlightOrder]:
        """Track saved orders (Hummingbot's name); they are reconciled by the next status poll."""
        restored = self._tracker.restore_tracking_states(saved_states)
        if restored:
            logger.info("%s: restored %d saved order(s); reconciling with the venue", self.name, len(restored))
            self.request_poll()
        return restored

    def _restore_orders(self) -> None:
        if self.state_file is None:
            return
        saved = load_orders(self.state_file, self.name)
        if saved:
            self.restore_tracking_states(saved)


def _tracker_ready(tracker: Any, pairs: List[str]) -> bool:
    status = tracker.status_dict()
    return all(status.get(p, False) for p in pairs)


def _loop_time() -> float:
    """The running event loop's clock: the deadlines and poll intervals of the async engine are
    measured on the clock its sleeps and timeouts use (the engine reads no other)."""
    return asyncio.get_running_loop().time()


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


async def _maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


__all__ = ["Connector", "CancellationResult"]
