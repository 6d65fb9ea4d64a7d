"""The perpetual fault soak: HBCONNECT_SOAK_SIZE / 3 orders (default 333) through the Binance
USDⓈ-M connector with every fault knob on, opening and closing positions against the embedded
exchange's market maker, with funding events on the way.

Asserts: 0 lost orders, 0 duplicate fills, every order terminal and equal to the exchange's,
final position and wallet balance equal to the exchange's, one funding event per payment.
"""
from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any, List

from test_e2e_soak import SOAK_SIZE, all_faults, check_fills, check_orders, wind_down
from test_e2e_spot import PAIR, SYMBOL, VENUE_STATE, Recorder, new_keys, perp_connector, run, wait_for

from hbconnect.core.events import MarketEvent
from hbconnect.core.types import OrderState, OrderType, PositionAction
from hbconnect.exchanges.binance import perp_rate_limits
from hbconnect.sim import EmbeddedExchange, RateLimits

D = Decimal
SIZE = max(50, SOAK_SIZE // 3)


def test_perp_fault_soak() -> None:
    async def go() -> None:
        rng = random.Random(7)
        big = RateLimits(weight_1m=10_000_000, orders_10s=1_000_000, orders_long=10_000_000, orders_long_seconds=60)
        ex = EmbeddedExchange(seed=21, pairs=(), perp_pairs=(PAIR,), agent=True, agent_interval=0.05,
                              funding_interval=None, faults=all_faults(21), futures_limits=big)
        await ex.start()
        key, secret = new_keys()
        ex.create_account(key, secret, futures_balances={"USDT": D("1000000")}, leverage={PAIR: 10})
        bot = perp_connector(ex, key, secret, rest_timeout=1.0, poll_interval=2.0, fast_poll_interval=0.3)
        bot.venue.rate_limits = perp_rate_limits(10_000_000, 1_000_000, 10_000_000)
        bot._throttler.update_rate_limits(bot.venue.rate_limits)
        rec = Recorder(bot)
        try:
            await bot.start()
            await bot.wait_until_ready(15)
            book = ex.futures_engine.books[SYMBOL]
            placed: List[str] = []
            fundings = 0
            while len(placed) < SIZE:
                open_ids = [cid for cid, o in bot.in_flight_orders.items() if o.is_open]
                if len(open_ids) >= 30:
                    for cid in rng.sample(open_ids, len(open_ids) // 2):
                        bot.cancel(PAIR, cid)
                    await asyncio.sleep(0.05)
                    continue
                bid, ask = book.best("BUY"), book.best("SELL")
                mid = (bid + ask) / 2 if bid and ask else D("60000")
                is_buy = rng.random() < 0.5
                pos = bot.get_position(PAIR)
                action = PositionAction.OPEN
                if pos is not None and (pos.amount > 0) != is_buy and rng.random() < 0.5:
                    action = PositionAction.CLOSE
                amount = D(rng.choice(["0.002", "0.003", "0.005"]))
                r = rng.random()
                if r < 0.15:
                    otype, price = OrderType.MARKET, None
                else:
                    otype = OrderType.LIMIT_MAKER if r < 0.35 else OrderType.LIMIT
                    offset = D(rng.randint(-20, 60)) * D("0.5")
                    price = (mid - offset if is_buy else mid + offset).quantize(D("0.1"))
                placed.append((bot.buy if is_buy else bot.sell)(PAIR, amount, otype, price, position_action=action))
                if len(placed) % 100 == 0:  # a funding event now and then
                    ex.set_mark_price(PAIR, mid.quantize(D("0.1")))
                    ex.run_funding()
                    ex.set_mark_price(PAIR, None)
                    fundings += 1
                await asyncio.sleep(0.003 if len(placed) % 10 else 0.02)
            await wind_down(bot, ex)

            def expected(venue: Any) -> Any:
                if venue.status == "EXPIRED" and venue.time_in_force == "POST_ONLY" and venue.executed_qty == 0:
                    return OrderState.FAILED  # a post-only order refused because it would take
                return VENUE_STATE.get(venue.status)
            _, disagree = check_orders(bot, rec, placed, lambda oid: ex.order(key, SYMBOL, oid, market="futures"),
                                       expected)
            assert not disagree, disagree[:3]
            fills = check_fills(rec, ex.trades(key, market="futures"))
            # positions and wallet equal the exchange's
            await bot.refresh_positions()
            truth = ex.positions(key).get((SYMBOL, "NET"))
            pos = bot.get_position(PAIR)
            if truth is None:
                assert pos is None
            else:
                assert pos is not None and pos.amount == truth["amount"]
                assert abs(pos.entry_price - truth["entry_price"]) < D("1e-8")  # the wire has 8 decimals
            await bot.refresh_balances()
            assert bot.get_balance("USDT") == ex.futures_balance(key)
            # funding: one event per funding income the exchange booked (faults may delay, never double)
            await wait_for(lambda: len(rec.of(MarketEvent.FundingPaymentCompleted))
                           >= len([i for i in ex.income(key) if i.income_type == "FUNDING"]), 15, "funding events")
            paid = {str(i.tran_id) for i in ex.income(key) if i.income_type == "FUNDING"}
            assert len(rec.of(MarketEvent.FundingPaymentCompleted)) == len(paid)
            print(f"perp soak: {len(placed)} orders, {len(fills)} fills, {fundings} funding rounds "
                  f"({len(paid)} payments), faults {dict(ex.injector.counts)}")
        finally:
            await bot.stop()
            await ex.stop()
    run(go(), timeout=240 + SIZE * 0.2)
