"""The fault soak: >= 1,000 orders (HBCONNECT_SOAK_SIZE) through the Binance spot connector
against the embedded exchange with every fault knob on at once and its market maker trading.

Asserts: 0 lost orders, 0 duplicate fills, every order terminal in the same state and with the
same executed amount as the exchange's, final balances equal to the exchange's.
"""
from __future__ import annotations

import asyncio
import os
import random
import time
from decimal import Decimal
from typing import Any, Callable, Iterable, List, Optional, Tuple

from test_e2e_spot import PAIR, SYMBOL, VENUE_STATE, Recorder, new_keys, run, spot_connector, wait_for

from hbconnect.core.events import MarketEvent
from hbconnect.core.types import OrderState, OrderType
from hbconnect.exchanges.binance import spot_rate_limits
from hbconnect.sim import EmbeddedExchange, FaultConfig, RateLimits

D = Decimal
SOAK_SIZE = int(os.environ.get("HBCONNECT_SOAK_SIZE", "1000"))
MAX_OPEN = 40


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


def random_order(rng: random.Random, book: Any, amounts: Tuple[str, ...], tick: Decimal,
                 market_share: float = 0.1) -> Tuple[bool, Decimal, Any, Optional[Decimal]]:
    """(is_buy, amount, type, price) around the sim book's mid: some market orders, some
    post-only, limits from 15 ticks through the book to 30 away (some cross, most rest)."""
    bid, ask = book.best("BUY"), book.best("SELL")
    mid = (bid + ask) / 2 if bid and ask else D("60000")
    is_buy = rng.random() < 0.5
    amount = D(rng.choice(amounts))
    r = rng.random()
    if r < market_share:
        return is_buy, amount, OrderType.MARKET, None
    otype = OrderType.LIMIT_MAKER if r < market_share + 0.2 else OrderType.LIMIT
    offset = D(rng.randint(-30, 60)) * D("0.5")
    return is_buy, amount, otype, (mid - offset if is_buy else mid + offset).quantize(tick)


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


def test_fault_soak() -> None:
    async def go() -> None:
        rng = random.Random(42)
        big = RateLimits(weight_1m=10_000_000, orders_10s=1_000_000, orders_long=10_000_000, orders_long_seconds=86400)
        ex = EmbeddedExchange(seed=3, pairs=(PAIR,), perp_pairs=(), agent=True, agent_interval=0.05,
                              funding_interval=None, faults=all_faults(3), spot_limits=big)
        await ex.start()
        key, secret = new_keys()
        ex.create_account(key, secret, balances={"USDT": D("10000000"), "BTC": D("100")})
        bot = spot_connector(ex, key, secret, rest_timeout=1.0, poll_interval=2.0, fast_poll_interval=0.3)
        bot.venue.rate_limits = spot_rate_limits(10_000_000, 1_000_000, 10_000_000, 10_000_000)
        bot._throttler.update_rate_limits(bot.venue.rate_limits)
        rec = Recorder(bot)
        started = time.monotonic()
        try:
            await bot.start()
            await bot.wait_until_ready(15)
            book = ex.spot_engine.books[SYMBOL]
            placed: List[str] = []
            while len(placed) < SOAK_SIZE:
                open_ids = await trim_open_orders(bot, rng, PAIR, MAX_OPEN)
                if open_ids is None:
                    continue
                is_buy, amount, otype, price = random_order(rng, book, ("0.001", "0.002", "0.003"), D("0.01"))
                oid = (bot.buy if is_buy else bot.sell)(PAIR, amount, otype, price)
                placed.append(oid)
                if rng.random() < 0.3 and open_ids:
                    bot.cancel(PAIR, rng.choice(open_ids))
                await asyncio.sleep(0.002 if len(placed) % 10 else 0.02)
            await wind_down(bot, ex)
            elapsed = time.monotonic() - started
            tracker = bot.order_tracker
            # ---- every order terminal and equal to the exchange's ----
            unknown, disagree = check_orders(bot, rec, placed, lambda oid: ex.order(key, SYMBOL, oid),
                                                   lambda venue: VENUE_STATE.get(venue.status))
            assert not disagree, f"{len(disagree)} orders disagree with the exchange: {disagree[:3]}"
            # ---- no fill counted twice, none missing ----
            fills = check_fills(rec, ex.trades(key))
            # ---- balances ----
            await bot.refresh_balances()
            for asset, (free, locked) in ex.balances(key).items():
                assert bot.get_balance(asset) == free + locked, asset
                assert bot.get_available_balance(asset) == free, asset
            injected = sum(ex.injector.counts.values())
            assert injected >= SOAK_SIZE // 10, ex.injector.counts
            print(f"soak: {len(placed)} orders ({unknown} failed unknown to the venue), {len(fills)} fills, "
                  f"{injected} faults injected {dict(ex.injector.counts)}, {elapsed:.1f}s, "
                  f"resolved by query {bot.stats['orders_resolved_by_query']}, "
                  f"duplicate fills absorbed {tracker.duplicate_fills}")
        finally:
            await bot.stop()
            await ex.stop()
    run(go(), timeout=240 + SOAK_SIZE * 0.1)
