"""The Bybit fault soak: orders through the Bybit v5 spot and linear connectors against the
embedded exchange's Bybit front end with every fault knob on at once and its market maker trading
(the driver and its checks: ``soak_driver.py``). Creates and cancels go over the trade stream
while it is up, over REST while it is down.

Size: ``HBCONNECT_SOAK_SIZE`` spot orders (default 200; run with 1000 before a release), a third
of that on the perpetual. Asserts: 0 lost orders, 0 duplicate fills, every order terminal in the
same state and with the same executed amount as the exchange's, balances (and the position) equal
to the exchange's, one funding event per settlement the exchange booked.
"""
from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from soak_driver import SoakProfile, all_faults, run_soak, soak_size
from test_e2e_bybit import PAIR, SYMBOL, perp_connector, spot_connector
from test_e2e_spot import new_keys, run

from hbconnect.exchanges.bybit import constants as K
from hbconnect.sim import EmbeddedExchange

D = Decimal
SPOT = SoakProfile("bybit spot", PAIR, SYMBOL, soak_size(200), seconds_per_order=0.15)
PERP = SoakProfile("bybit perp", PAIR, SYMBOL, max(50, SPOT.size // 3), perpetual=True,
                   amounts=("0.002", "0.003", "0.005"), tick=D("0.1"), market_share=0.15, deepest=20, max_open=30,
                   cancel_share=0, closes=True, pause=0.003, seconds_per_order=0.3)
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
        ex = make_exchange(3, spot=True)
        await ex.start()
        key, secret = new_keys()
        key = key[:18]
        ex.create_account(key, secret, balances={"USDT": D("10000000"), "BTC": D("100")})
        bot = spot_connector(ex, key, secret, rest_timeout=1.0, poll_interval=2.0, fast_poll_interval=0.3)
        widen_client_limits(bot, "spot")
        await run_soak(ex, bot, key, SPOT, random.Random(42))
    run(go(), timeout=SPOT.timeout)


def test_bybit_perpetual_fault_soak() -> None:
    async def go() -> None:
        ex = make_exchange(21, spot=False, funding_interval=3.0)   # settlements on schedule, every 3 s
        await ex.start()
        key, secret = new_keys()
        key = key[:18]
        ex.create_account(key, secret, futures_balances={"USDT": D("1000000")}, leverage={PAIR: 10})
        bot = perp_connector(ex, key, secret, rest_timeout=1.0, poll_interval=2.0, fast_poll_interval=0.3)
        widen_client_limits(bot, "linear")
        await run_soak(ex, bot, key, PERP, random.Random(7))
    run(go(), timeout=PERP.timeout)
