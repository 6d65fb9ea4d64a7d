"""The all-faults soak, written once for every venue: orders through a connector against the
embedded exchange with every fault knob on at once (REST 429 / 5xx / lost and refused order
answers / hung requests, private-stream frames dropped / duplicated / delayed / connections
closed) and its market maker trading; then every check.

A venue's soak test builds the exchange and the connector its way and hands them to
:func:`run_soak` (or :func:`soak` when its own fixture starts and stops them) with a
:class:`SoakProfile`: the order mix and the venue-specific parts of the checks. The checks: 0 lost
orders, 0 duplicate fills, every order terminal in the same state and with the same executed
amount as the exchange's, balances (and the position) equal to the exchange's, one funding event
per payment the exchange booked, and the faults really injected.

Size: ``HBCONNECT_SOAK_SIZE`` orders (:func:`soak_size`; each venue keeps its own default; run
with 1000 before a release).
"""
from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable, List, Optional, Tuple

from test_e2e_spot import VENUE_STATE, Recorder, wait_for

from hbconnect.core.events import MarketEvent
from hbconnect.core.types import OrderState, OrderType, PositionAction
from hbconnect.sim import EmbeddedExchange, FaultConfig

D = Decimal


def soak_size(default: int) -> int:
    """The number of orders: ``HBCONNECT_SOAK_SIZE`` when set, else the venue's default."""
    return int(os.environ.get("HBCONNECT_SOAK_SIZE") or default)


def all_faults(seed: int) -> FaultConfig:
    f = FaultConfig(seed=seed)
    f.set_ws("user", drop=0.03, duplicate=0.05, delay=0.05, close=0.002)
    f.set_ws("market", drop=0.01, duplicate=0.01, delay=0.01)
    f.delay_seconds = 0.1
    f.http_429 = 0.001
    f.retry_after_seconds = 1
    f.http_5xx = 0.005
    f.timeout_accepted = 0.005
    f.timeout_rejected = 0.005
    f.error_5xx_accepted = 0.005
    f.error_5xx_rejected = 0.005
    f.hang_seconds = 1.5
    return f


def venue_state(venue: Any) -> Any:
    """The state the engine must end an order in, from the exchange's status."""
    return VENUE_STATE.get(venue.status)


@dataclass(frozen=True)
class SoakProfile:
    """One venue market's soak: the orders it sends and the venue-specific parts of its checks."""
    #: names the market in the summary line
    label: str
    pair: str
    #: the exchange's symbol for ``pair`` (the sim's books and accounts are keyed by it)
    symbol: str
    #: how many orders
    size: int
    perpetual: bool = False
    #: order amounts, picked at random
    amounts: Tuple[str, ...] = ("0.001", "0.002", "0.003")
    #: the price tick limits are quantized to
    tick: Decimal = D("0.01")
    #: the share of market orders (the next 0.2 are post-only, the rest limits)
    market_share: float = 0.1
    #: limits go from this many half-units through the book to 30 away from the mid
    deepest: int = 30
    #: at this many open orders, half of them are cancelled before the next order
    max_open: int = 40
    #: after each order, the chance that one of the open orders is cancelled
    cancel_share: float = 0.3
    #: perpetual: an order against the position closes it half of the time
    closes: bool = False
    #: seconds between orders (0.02 after every tenth)
    pause: float = 0.002
    #: a funding round run by hand every this many orders (0: none)
    funding_every: int = 0
    #: the state an order must end in, from the exchange's order
    expected_state: Callable[[Any], Any] = venue_state
    #: perpetual: how far the position's entry price may be from the exchange's (None: not checked)
    entry_tolerance: Optional[Decimal] = None
    #: the run's time limit is 240 s plus this much per order
    seconds_per_order: float = 0.1

    @property
    def market(self) -> str:
        return "futures" if self.perpetual else "spot"

    @property
    def timeout(self) -> float:
        return 240 + self.size * self.seconds_per_order


async def wind_down(bot: Any, ex: EmbeddedExchange) -> None:
    """Resolve creations, cancel what rests, then faults off and the market maker paused, and
    wait until every order is terminal with all its fills."""
    await wait_for(lambda: not any(o.is_pending_create for o in bot.in_flight_orders.values()), 40,
                   "creations resolved")
    await bot.cancel_all(20.0)
    ex.faults.clear()
    ex.agent_paused = True
    await bot.cancel_all(10.0)
    tracker = bot.order_tracker
    await wait_for(lambda: not bot.in_flight_orders and not tracker.orders_awaiting_fills, 40,
                   "every order terminal")


async def trim_open_orders(bot: Any, rng: random.Random, pair: str, max_open: int) -> Optional[List[str]]:
    """The bot's open orders; at ``max_open`` or more, half of them are cancelled and None is
    returned (the caller waits for room)."""
    open_ids = [cid for cid, o in bot.in_flight_orders.items() if o.is_open]
    if len(open_ids) < max_open:
        return open_ids
    for cid in rng.sample(open_ids, len(open_ids) // 2):
        bot.cancel(pair, cid)
    await asyncio.sleep(0.05)
    return None


def mid_price(book: Any) -> Decimal:
    bid, ask = book.best("BUY"), book.best("SELL")
    return (bid + ask) / 2 if bid and ask else D("60000")


def random_order(rng: random.Random, book: Any, profile: SoakProfile,
                 choose_action: Callable[[bool], Any] = lambda is_buy: None
                 ) -> Tuple[bool, Decimal, Any, Optional[Decimal], Any]:
    """(is_buy, amount, type, price, position action) around the sim book's mid: some market
    orders, some post-only, limits from ``deepest`` half-units through the book to 30 away (some
    cross, most rest). ``choose_action`` decides the position action once the side is known."""
    mid = mid_price(book)
    is_buy = rng.random() < 0.5
    action = choose_action(is_buy)
    amount = D(rng.choice(profile.amounts))
    r = rng.random()
    if r < profile.market_share:
        return is_buy, amount, OrderType.MARKET, None, action
    otype = OrderType.LIMIT_MAKER if r < profile.market_share + 0.2 else OrderType.LIMIT
    offset = D(rng.randint(-profile.deepest, 60)) * D("0.5")
    return is_buy, amount, otype, (mid - offset if is_buy else mid + offset).quantize(profile.tick), action


def run_funding_round(ex: EmbeddedExchange, pair: str, book: Any) -> None:
    """One funding payment now, at a mark price of the book's mid."""
    ex.set_mark_price(pair, mid_price(book).quantize(D("0.1")))
    ex.run_funding()
    ex.set_mark_price(pair, None)


async def place_orders(bot: Any, ex: EmbeddedExchange, rng: random.Random, profile: SoakProfile) -> List[str]:
    """Send ``profile.size`` random orders, keeping at most ``max_open`` resting; returns their ids."""
    engine = ex.futures_engine if profile.perpetual else ex.spot_engine
    book = engine.books[profile.symbol]
    pair = profile.pair

    def choose_action(is_buy: bool) -> Any:
        pos = bot.get_position(pair)
        if pos is not None and (pos.amount > 0) != is_buy and rng.random() < 0.5:
            return PositionAction.CLOSE
        return PositionAction.OPEN

    placed: List[str] = []
    while len(placed) < profile.size:
        open_ids = await trim_open_orders(bot, rng, pair, profile.max_open)
        if open_ids is None:
            continue
        is_buy, amount, otype, price, action = random_order(rng, book, profile,
                                                            choose_action if profile.closes else lambda b: None)
        place = bot.buy if is_buy else bot.sell
        placed.append(place(pair, amount, otype, price) if action is None else
                      place(pair, amount, otype, price, position_action=action))
        if profile.cancel_share and rng.random() < profile.cancel_share and open_ids:
            bot.cancel(pair, rng.choice(open_ids))
        if profile.funding_every and len(placed) % profile.funding_every == 0:
            run_funding_round(ex, pair, book)
        await asyncio.sleep(profile.pause if len(placed) % 10 else 0.02)
    return placed


#: the event that ends an order, and the state it ends in
TERMINAL_EVENTS = {MarketEvent.BuyOrderCompleted: OrderState.FILLED, MarketEvent.SellOrderCompleted: OrderState.FILLED,
                   MarketEvent.OrderCancelled: OrderState.CANCELED, MarketEvent.OrderFailure: OrderState.FAILED}


def outcomes(rec: Recorder) -> Tuple[dict, dict]:
    """From the events alone: each order's terminal state (its last terminal event) and its
    executed amount (the sum of its fill events)."""
    ended: dict = {}
    executed: dict = {}
    for tag, ev in rec.events:
        if tag in TERMINAL_EVENTS:
            ended[ev.order_id] = TERMINAL_EVENTS[tag]
        elif tag is MarketEvent.OrderFilled:
            executed[ev.order_id] = executed.get(ev.order_id, D(0)) + ev.amount
    return ended, executed


def check_orders(bot: Any, rec: Recorder, placed: List[str], venue_order: Callable[[str], Any],
                 expected_state: Callable[[Any], Any]) -> Tuple[int, list]:
    """Every placed order ended (a terminal event) in the state and with the executed amount the
    exchange has. The events are the record: the connector's done-order cache keeps only the
    latest ``max_cached_orders`` (10,000), so a larger soak outlives it; an order still cached
    must agree with its events. Returns (failed orders unknown to the venue, disagreements)."""
    ended, executed = outcomes(rec)
    unknown, disagree = 0, []
    for oid in placed:
        state = ended.get(oid)
        assert state is not None, f"{oid} never ended (no completed/cancelled/failure event)"
        done = executed.get(oid, D(0))
        order = bot.order_tracker.fetch_order(oid)
        if order is not None:
            assert order.is_done, f"{oid} not terminal: {order}"
            assert (order.current_state, order.executed_amount_base) == (state, done), (order, state, done)
        venue = venue_order(oid)
        if venue is None:  # refused before any request, or never accepted
            assert state is OrderState.FAILED, f"{oid}: {state} but unknown to the venue"
            unknown += 1
            continue
        if expected_state(venue) is not state or done != venue.executed_qty:
            disagree.append((oid, state, done, venue.status, venue.executed_qty))
    return unknown, disagree


def check_fills(rec: Recorder, trades: Iterable[Any]) -> list:
    """One fill event per order and exchange trade: none twice, none missing. Returns the fill
    events.  Keyed by (exchange order id, trade id): where a venue lets an account trade with
    itself (Bybit's default ``smpType`` None), one trade fills two of its orders."""
    fills = rec.of(MarketEvent.OrderFilled)
    ids = [(f.exchange_order_id, f.exchange_trade_id) for f in fills]
    assert len(ids) == len(set(ids)), "duplicate fill events"
    assert sorted((str(t.order_id), str(t.trade_id)) for t in trades) == sorted(ids)
    return fills


async def check_balances(bot: Any, ex: EmbeddedExchange, key: str, perpetual: bool) -> None:
    """The connector's balances equal the exchange's: the futures wallet, or every spot asset's
    total and available amounts."""
    await bot.refresh_balances()
    if perpetual:
        assert bot.get_balance("USDT") == ex.futures_balance(key)
        return
    for asset, (free, locked) in ex.balances(key).items():
        assert bot.get_balance(asset) == free + locked, asset
        assert bot.get_available_balance(asset) == free, asset


async def check_positions(bot: Any, ex: EmbeddedExchange, key: str, profile: SoakProfile) -> None:
    """The connector holds exactly the exchange's open positions (none where the exchange is flat)."""
    await bot.refresh_positions()
    truth = {profile.pair: v for (symbol, _), v in ex.positions(key).items() if symbol == profile.symbol and v["amount"]}
    mine = {p.trading_pair: p for p in bot.account_positions.values()}
    assert {pair: p.amount for pair, p in mine.items()} == {pair: v["amount"] for pair, v in truth.items()}
    if profile.entry_tolerance is not None:
        for pair, p in mine.items():
            assert abs(p.entry_price - truth[pair]["entry_price"]) < profile.entry_tolerance


async def check_funding(rec: Recorder, ex: EmbeddedExchange, key: str) -> int:
    """One funding event per funding payment the exchange booked (faults may delay, never
    double), for the same total. Returns the number of payments."""
    booked = [i for i in ex.income(key) if i.income_type == "FUNDING"]
    await wait_for(lambda: len(rec.of(MarketEvent.FundingPaymentCompleted)) >= len(booked), 20, "funding events")
    events = rec.of(MarketEvent.FundingPaymentCompleted)
    assert len(events) == len(booked) == len({str(i.tran_id) for i in booked})
    assert sum(e.amount for e in events) == sum(i.income for i in booked)
    return len(booked)


async def soak(ex: EmbeddedExchange, bot: Any, key: str, rec: Recorder, profile: SoakProfile,
               rng: random.Random) -> None:
    """The soak on a started, ready connector: place the orders, wind down, check everything."""
    started = time.monotonic()
    placed = await place_orders(bot, ex, rng, profile)
    await wind_down(bot, ex)
    elapsed = time.monotonic() - started
    # ---- every order terminal and equal to the exchange's ----
    unknown, disagree = check_orders(bot, rec, placed, lambda oid: ex.order(key, profile.symbol, oid, profile.market),
                                     profile.expected_state)
    assert not disagree, f"{len(disagree)} orders disagree with the exchange: {disagree[:3]}"
    # ---- no fill counted twice, none missing ----
    fills = check_fills(rec, ex.trades(key, market=profile.market))
    assert fills, "no order filled"
    # ---- position, balances, funding ----
    payments = 0
    if profile.perpetual:
        await check_positions(bot, ex, key, profile)
        if ex.funding_interval:  # settlements on a schedule: one more at most, then none
            ex.funding_interval = 3600.0
            await asyncio.sleep(3.5)
    await check_balances(bot, ex, key, profile.perpetual)
    if profile.perpetual:
        payments = await check_funding(rec, ex, key)
    # ---- the faults really happened ----
    injected = sum(ex.injector.counts.values())
    assert injected >= max(1, profile.size // 10), ex.injector.counts
    transport = bot._orders
    print(f"{profile.label} soak: {len(placed)} orders ({unknown} failed unknown to the venue), {len(fills)} fills, "
          f"{payments} funding payments, {injected} faults injected {dict(ex.injector.counts)}, {elapsed:.1f}s, "
          f"resolved by query {bot.stats['orders_resolved_by_query']}, ws/rest orders {transport.sent_ws}/"
          f"{transport.sent_rest}, duplicate fills absorbed {bot.order_tracker.duplicate_fills}")


async def run_soak(ex: EmbeddedExchange, bot: Any, key: str, profile: SoakProfile, rng: random.Random) -> None:
    """Start the connector on the started exchange, soak, then stop both."""
    rec = Recorder(bot)
    try:
        await bot.start()
        await bot.wait_until_ready(15)
        await soak(ex, bot, key, rec, profile, rng)
    finally:
        await bot.stop()
        await ex.stop()
