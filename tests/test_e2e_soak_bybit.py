"""The Bybit fault soak: orders through the Bybit v5 spot and linear connectors against the
embedded exchange's Bybit front end with every fault knob on at once (REST 429 / 5xx / lost and
refused order answers / hung requests, private-stream frames dropped / duplicated / delayed /
connections closed) and its market maker trading. Creates and cancels go over the trade stream
while it is up, over REST while it is down.

Size: ``HBCONNECT_SOAK_SIZE`` spot orders (default 200; run with 1000 before a release), a third
of that on the perpetual. Asserts: 0 lost orders, 0 duplicate fills, every order terminal in the
same state and with the same executed amount as the exchange's, balances (and the position) equal
to the exchange's, one funding event per settlement the exchange booked.
"""
from __future__ import annotations

import asyncio
import os
import random
import time
from decimal import Decimal
from typing import Any, List

from test_e2e_bybit import PAIR, SYMBOL, perp_connector, spot_connector
from test_e2e_soak import all_faults, check_fills, check_orders, wind_down
from test_e2e_spot import VENUE_STATE, Recorder, new_keys, run, wait_for

from hbconnect.core.events import MarketEvent
from hbconnect.core.types import OrderType, PositionAction
from hbconnect.exchanges.bybit import constants as K
from hbconnect.sim import EmbeddedExchange

D = Decimal
SOAK_SIZE = int(os.environ.get("HBCONNECT_SOAK_SIZE", "200"))
PERP_SIZE = max(50, SOAK_SIZE // 3)
#: the soak measures correctness under faults, not the venue's budgets: both sides get big ones
BIG = 1_000_000


def make_exchange(seed: int, spot: bool, funding_interval: Any = None) -> EmbeddedExchange:
    uid_limits = {path: BIG for table in K.UID_LIMITS.values() for path in table}
    return EmbeddedExchange(seed=seed, pairs=(PAIR,) if spot else (), perp_pairs=() if spot else (PAIR,), agent=True,
                            agent_interval=0.05, funding_interval=funding_interval, faults=all_faults(seed),
                            venues=("bybit",), venue_options={"bybit": {"uid_limits": uid_limits}})


def widen_client_limits(bot: Any, category: str) -> None:
    """Per-endpoint budgets out of the way; the IP budget kept (the sim enforces Bybit's 600
    requests per 5 s, and a breach is a 10-minute ban), with a margin for clock differences."""
    bot.venue.rate_limits = K.rate_limits(category, ip_per_5s=500)
    for limit in bot.venue.rate_limits:
        if limit.limit_id != K.IP_LIMIT and limit.weight:
            limit.limit = BIG
    bot._throttler.update_rate_limits(bot.venue.rate_limits)


def test_bybit_spot_fault_soak() -> None:
    async def go() -> None:
        rng = random.Random(42)
        ex = make_exchange(3, spot=True)
        await ex.start()
        key, secret = new_keys()
        key = key[:18]
        ex.create_account(key, secret, balances={"USDT": D("10000000"), "BTC": D("100")})
        bot = spot_connector(ex, key, secret, rest_timeout=1.0, poll_interval=2.0, fast_poll_interval=0.3)
        widen_client_limits(bot, "spot")
        rec = Recorder(bot)
        started = time.monotonic()
        try:
            await bot.start()
            await bot.wait_until_ready(15)
            book = ex.spot_engine.books[SYMBOL]
            placed: List[str] = []
            while len(placed) < SOAK_SIZE:
                open_ids = [cid for cid, o in bot.in_flight_orders.items() if o.is_open]
                if len(open_ids) >= 40:
                    for cid in rng.sample(open_ids, len(open_ids) // 2):
                        bot.cancel(PAIR, cid)
                    await asyncio.sleep(0.05)
                    continue
                bid, ask = book.best("BUY"), book.best("SELL")
                mid = (bid + ask) / 2 if bid and ask else D("60000")
                is_buy = rng.random() < 0.5
                amount = D(rng.choice(["0.001", "0.002", "0.003"]))
                r = rng.random()
                if r < 0.1:
                    otype, price = OrderType.MARKET, None
                else:
                    otype = OrderType.LIMIT_MAKER if r < 0.3 else OrderType.LIMIT
                    offset = D(rng.randint(-30, 60)) * D("0.5")
                    price = (mid - offset if is_buy else mid + offset).quantize(D("0.01"))
                placed.append((bot.buy if is_buy else bot.sell)(PAIR, amount, otype, price))
                if rng.random() < 0.3 and open_ids:
                    bot.cancel(PAIR, rng.choice(open_ids))
                await asyncio.sleep(0.002 if len(placed) % 10 else 0.02)
            await wind_down(bot, ex)
            elapsed = time.monotonic() - started
            local_rejects, disagree = check_orders(bot, rec, placed, lambda oid: ex.order(key, SYMBOL, oid),
                                                   lambda venue: VENUE_STATE.get(venue.status))
            assert not disagree, f"{len(disagree)} orders disagree with the exchange: {disagree[:3]}"
            fills = check_fills(rec, ex.trades(key))
            await bot.refresh_balances()
            for asset, (free, locked) in ex.balances(key).items():
                assert bot.get_balance(asset) == free + locked, asset
                assert bot.get_available_balance(asset) == free, asset
            injected = sum(ex.injector.counts.values())
            assert injected >= SOAK_SIZE // 10, ex.injector.counts
            transport = bot._orders
            print(f"bybit spot soak: {len(placed)} orders ({local_rejects} rejected locally), {len(fills)} fills, "
                  f"{injected} faults injected {dict(ex.injector.counts)}, {elapsed:.1f}s, "
                  f"resolved by query {bot.stats['orders_resolved_by_query']}, sent ws {transport.sent_ws} "
                  f"rest {transport.sent_rest}, duplicate fills absorbed {bot.order_tracker.duplicate_fills}")
        finally:
            await bot.stop()
            await ex.stop()
    run(go(), timeout=240 + SOAK_SIZE * 0.15)


def test_bybit_perpetual_fault_soak() -> None:
    async def go() -> None:
        rng = random.Random(7)
        ex = make_exchange(21, spot=False, funding_interval=3.0)   # settlements on schedule, every 3 s
        await ex.start()
        key, secret = new_keys()
        key = key[:18]
        ex.create_account(key, secret, futures_balances={"USDT": D("1000000")}, leverage={PAIR: 10})
        bot = perp_connector(ex, key, secret, rest_timeout=1.0, poll_interval=2.0, fast_poll_interval=0.3)
        widen_client_limits(bot, "linear")
        rec = Recorder(bot)
        try:
            await bot.start()
            await bot.wait_until_ready(15)
            book = ex.futures_engine.books[SYMBOL]
            placed: List[str] = []
            while len(placed) < PERP_SIZE:
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
                await asyncio.sleep(0.003 if len(placed) % 10 else 0.02)
            await wind_down(bot, ex)
            _, disagree = check_orders(bot, rec, placed, lambda oid: ex.order(key, SYMBOL, oid, market="futures"),
                                       lambda venue: VENUE_STATE.get(venue.status))
            assert not disagree, disagree[:3]
            fills = check_fills(rec, ex.trades(key, market="futures"))
            await bot.refresh_positions()
            truth = ex.positions(key).get((SYMBOL, "NET"))
            pos = bot.get_position(PAIR)
            if truth is None or truth["amount"] == 0:
                assert pos is None or pos.amount == 0
            else:
                assert pos is not None and pos.amount == truth["amount"]
            ex.funding_interval = 3600.0           # one more settlement at most, then none
            await asyncio.sleep(3.5)
            await bot.refresh_balances()
            assert bot.get_balance("USDT") == ex.futures_balance(key)
            booked = [i for i in ex.income(key) if i.income_type == "FUNDING"]
            await wait_for(lambda: len(rec.of(MarketEvent.FundingPaymentCompleted)) >= len(booked), 20,
                           "funding events")
            assert len(rec.of(MarketEvent.FundingPaymentCompleted)) == len(booked)
            assert sum(e.amount for e in rec.of(MarketEvent.FundingPaymentCompleted)) == sum(i.income for i in booked)
            print(f"bybit perp soak: {len(placed)} orders, {len(fills)} fills, {len(booked)} funding payments, "
                  f"faults {dict(ex.injector.counts)}")
        finally:
            await bot.stop()
            await ex.stop()
    run(go(), timeout=240 + PERP_SIZE * 0.3)
