"""The perpetual fault soak: HBCONNECT_SOAK_SIZE / 3 orders (default 333) through the Binance
USDⓈ-M connector with every fault knob on, opening and closing positions against the embedded
exchange's market maker, with funding events on the way (the driver: ``soak_driver.py``).

Asserts: 0 lost orders, 0 duplicate fills, every order terminal and equal to the exchange's,
final position and wallet balance equal to the exchange's, one funding event per payment.
"""
from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from soak_driver import SoakProfile, all_faults, run_soak, soak_size
from test_e2e_spot import PAIR, SYMBOL, VENUE_STATE, new_keys, perp_connector, run

from hbconnect.core.types import OrderState
from hbconnect.exchanges.binance import perp_rate_limits
from hbconnect.sim import EmbeddedExchange, RateLimits

D = Decimal


def expected_state(venue: Any) -> Any:
    if venue.status == "EXPIRED" and venue.time_in_force == "POST_ONLY" and venue.executed_qty == 0:
        return OrderState.FAILED  # a post-only order refused because it would take
    return VENUE_STATE.get(venue.status)


PROFILE = SoakProfile("binance perp", PAIR, SYMBOL, max(50, soak_size(1000) // 3), perpetual=True,
                      amounts=("0.002", "0.003", "0.005"), tick=D("0.1"), market_share=0.15, deepest=20, max_open=30,
                      cancel_share=0, closes=True, pause=0.003, funding_every=100, expected_state=expected_state,
                      entry_tolerance=D("1e-8"),  # the wire has 8 decimals
                      seconds_per_order=0.2)


def test_perp_fault_soak() -> None:
    async def go() -> None:
        big = RateLimits(weight_1m=10_000_000, orders_10s=1_000_000, orders_long=10_000_000, orders_long_seconds=60)
        ex = EmbeddedExchange(seed=21, pairs=(), perp_pairs=(PAIR,), agent=True, agent_interval=0.05,
                              funding_interval=None, faults=all_faults(21), futures_limits=big)
        await ex.start()
        key, secret = new_keys()
        ex.create_account(key, secret, futures_balances={"USDT": D("1000000")}, leverage={PAIR: 10})
        bot = perp_connector(ex, key, secret, rest_timeout=1.0, poll_interval=2.0, fast_poll_interval=0.3)
        bot.venue.rate_limits = perp_rate_limits(10_000_000, 1_000_000, 10_000_000)
        bot._throttler.update_rate_limits(bot.venue.rate_limits)
        await run_soak(ex, bot, key, PROFILE, random.Random(7))
    run(go(), timeout=PROFILE.timeout)
