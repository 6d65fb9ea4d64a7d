"""The fault soak: >= 1,000 orders (HBCONNECT_SOAK_SIZE) through the Binance spot connector
against the embedded exchange with every fault knob on at once and its market maker trading
(the driver and its checks: ``soak_driver.py``).

Asserts: 0 lost orders, 0 duplicate fills, every order terminal in the same state and with the
same executed amount as the exchange's, final balances equal to the exchange's.
"""
from __future__ import annotations

import random
from decimal import Decimal

from soak_driver import SoakProfile, all_faults, run_soak, soak_size
from test_e2e_spot import PAIR, SYMBOL, new_keys, run, spot_connector

from hbconnect.exchanges.binance import spot_rate_limits
from hbconnect.sim import EmbeddedExchange, RateLimits

D = Decimal
PROFILE = SoakProfile("binance spot", PAIR, SYMBOL, soak_size(1000))


def test_fault_soak() -> None:
    async def go() -> None:
        big = RateLimits(weight_1m=10_000_000, orders_10s=1_000_000, orders_long=10_000_000, orders_long_seconds=86400)
        ex = EmbeddedExchange(seed=3, pairs=(PAIR,), perp_pairs=(), agent=True, agent_interval=0.05,
                              funding_interval=None, faults=all_faults(3), spot_limits=big)
        await ex.start()
        key, secret = new_keys()
        ex.create_account(key, secret, balances={"USDT": D("10000000"), "BTC": D("100")})
        bot = spot_connector(ex, key, secret, rest_timeout=1.0, poll_interval=2.0, fast_poll_interval=0.3)
        bot.venue.rate_limits = spot_rate_limits(10_000_000, 1_000_000, 10_000_000, 10_000_000)
        bot._throttler.update_rate_limits(bot.venue.rate_limits)
        await run_soak(ex, bot, key, PROFILE, random.Random(42))
    run(go(), timeout=PROFILE.timeout)
