"""Every fault knob of the embedded exchange, one at a time, against the Binance spot connector.

Each test runs the same small scenario (fills, resting orders, cancels) with one fault on, then
checks that the connector and the exchange agree: every order terminal (or open) in the same
state on both sides, one fill event per venue trade, balances equal.
"""
from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, Dict, List

import pytest
from test_e2e_spot import PAIR, PRICE, SYMBOL, VENUE_STATE, SpotEnv, run, wait_for

from hbconnect.core.events import MarketEvent
from hbconnect.core.types import OrderState, OrderType

D = Decimal



async def scenario(env: SpotEnv, rounds: int = 3, setup: Any = None) -> List[str]:
    """The counterparty rests liquidity, then (fault on) the bot takes it, rests orders and
    cancels them. Returns the bot's order ids."""
    for _ in range(rounds):
        await env.rest_liquidity("sell", D("0.001"))
    if setup is not None:
        setup(env.ex)
    ids: List[str] = []
    for _ in range(rounds):
        ids.append(env.bot.buy(PAIR, D("0.001"), OrderType.LIMIT, PRICE))
        ids.append(env.bot.buy(PAIR, D("0.001"), OrderType.LIMIT, PRICE - 500))
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    for oid in ids[1::2]:
        env.bot.cancel(PAIR, oid)
    return ids


async def settle_and_check(env: SpotEnv, ids: List[str], timeout: float = 25.0) -> None:
    """Faults off; wait until the connector agrees with the exchange on every order."""
    env.ex.faults.clear()
    tracker = env.bot.order_tracker

    def agreed() -> bool:
        for oid in ids:
            order = tracker.fetch_order(oid)
            venue = env.ex.order(env.key, SYMBOL, oid)
            if order is None:
                return False
            if venue is None:
                if order.current_state is not OrderState.FAILED:
                    return False
                continue
            if VENUE_STATE[venue.status] is not order.current_state or order.executed_amount_base != venue.executed_qty:
                return False
            if order.is_open is order.is_done:
                return False
        return True

    # resting orders whose cancel was lost may still be open: cancel what remains
    await wait_for(lambda: not any(o.is_pending_create for o in env.bot.in_flight_orders.values()), timeout,
                   "creations resolved")
    await env.bot.cancel_all(10.0)
    await wait_for(agreed, timeout, "connector and exchange agree")
    trades = [t for t in env.ex.trades(env.key)]
    fills = env.rec.of(MarketEvent.OrderFilled)
    assert len(fills) == len({f.exchange_trade_id for f in fills}), "a fill was counted twice"
    assert sorted(str(t.trade_id) for t in trades) == sorted(f.exchange_trade_id for f in fills)
    for oid in ids:
        order = tracker.fetch_order(oid)
        if order.current_state is OrderState.FILLED:
            assert len(env.rec.of(MarketEvent.BuyOrderCompleted, oid)) == 1
        elif order.current_state is OrderState.CANCELED:
            assert len(env.rec.of(MarketEvent.OrderCancelled, oid)) == 1
    await env.assert_balances_match()


def _run_fault(setup: Any, rounds: int = 3, **env_kwargs: Any) -> Dict[str, int]:
    async def go() -> Dict[str, int]:
        async with SpotEnv(**env_kwargs) as env:
            ids = await scenario(env, rounds, setup)
            await settle_and_check(env, ids)
            return dict(env.ex.injector.counts)
    return run(go(), timeout=90)


@pytest.mark.parametrize("knob", ["drop", "duplicate", "delay", "close"])
def test_user_stream_frame_faults(knob: str) -> None:
    counts = _run_fault(lambda ex: ex.faults.set_ws("user", **{knob: 0.5 if knob != "close" else 0.2}))
    assert counts.get(f"ws_user_{knob}", 0) > 0


def test_http_429_with_retry_after() -> None:
    def setup(ex: Any) -> None:
        ex.faults.http_429 = 0.3
        ex.faults.retry_after_seconds = 1
    counts = _run_fault(setup, rounds=2)
    assert counts.get("http_429", 0) > 0


def test_http_5xx() -> None:
    counts = _run_fault(lambda ex: setattr(ex.faults, "http_5xx", 0.3), recv_window_ms=1000)
    assert counts.get("http_5xx", 0) > 0


@pytest.mark.parametrize("knob", ["timeout_accepted", "timeout_rejected", "error_5xx_accepted", "error_5xx_rejected"])
def test_order_request_faults(knob: str) -> None:
    def setup(ex: Any) -> None:
        setattr(ex.faults, knob, 0.5)
        ex.faults.hang_seconds = 3.0
    counts = _run_fault(setup, recv_window_ms=1000, rest_timeout=1.0)
    kind, accepted = knob.rsplit("_", 1)
    kind = "timeout" if kind == "timeout" else "5xx"
    assert counts.get(f"order_{kind}_{accepted}", 0) > 0


def test_listen_key_expiry_and_socket_close() -> None:
    async def go() -> None:
        async with SpotEnv() as env:
            before = env.bot._user_stream.key_renewals
            env.ex.expire_listen_keys(env.key)
            await wait_for(lambda: env.bot._user_stream.key_renewals > before and env.bot.ready, 10, "renewed")
            env.ex.close_sockets("user")
            ids = await scenario(env, rounds=2)
            await settle_and_check(env, ids)
            assert env.bot._user_stream.connects >= 3
    run(go(), timeout=90)


def test_clock_offset_is_corrected_by_time_sync() -> None:
    async def go() -> None:
        async with SpotEnv() as env:
            env.ex.faults.clock_offset_ms = 8000  # the venue's clock jumps ahead of ours
            ids = await scenario(env, rounds=1)
            await settle_and_check(env, ids)
            assert not env.rec.of(MarketEvent.OrderFailure)
    run(go(), timeout=60)
