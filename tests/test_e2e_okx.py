"""OKX end to end over loopback: the engine with the OKX translation (spot and linear swaps)
against the embedded exchange's OKX v5 front end (a protocol implementation written separately,
from OKX's docs). Real sockets throughout: signed REST, the login private stream, WebSocket order
entry, the sim's matching engine; a second account provides the counterparty orders.

Covers the conformance scenarios for OKX: lifecycle with fees in the fee currency, a rejection in
an HTTP 200 body failing the order within one round trip with OKX's code, post-only, cancel
against fill, never-resend under lost answers (REST and WebSocket), restart while PENDING_CREATE,
positions / leverage / position mode / funding on swaps, and the all-faults soak
(``HBCONNECT_SOAK_SIZE``, default short).
"""
from __future__ import annotations

import asyncio
import random
import time
from decimal import Decimal
from typing import Any, List

import pytest
from soak_driver import SoakProfile, all_faults, check_balances, soak, soak_size
from test_e2e_spot import Recorder, TwoAccountEnv, run, wait_for

from hbconnect.connector import Connector, PerpConnector
from hbconnect.core.events import MarketEvent
from hbconnect.core.types import MarginMode, OrderState, OrderType, PositionAction, PositionMode, PositionSide
from hbconnect.exchanges.okx import OkxPerpetualTrading, OkxSpotTrading
from hbconnect.exchanges.okx import constants as okx_constants
from hbconnect.sim import EmbeddedExchange

D = Decimal
PAIR, SYMBOL = "BTC-USDT", "BTCUSDT"
PRICE = D("60000")
SOAK_SIZE = soak_size(150)


def okx_connector(ex: EmbeddedExchange, key: str, secret: str, perpetual: bool = False,
                  order_window_ms: int = 5000, ws_order_entry: bool = True, **kwargs: Any) -> Any:
    front = ex.front("okx")
    cls = OkxPerpetualTrading if perpetual else OkxSpotTrading
    venue = cls(key, secret, passphrase_of(key), rest_url=front.rest_url,
                ws_url=front.ws_url + "/ws/v5/private", order_window_ms=order_window_ms)
    opts = dict(poll_interval=1.0, fast_poll_interval=0.2, rest_timeout=2.0, ws_order_entry=ws_order_entry)
    if perpetual:
        opts["funding_poll_interval"] = 1.0
    opts.update(kwargs)
    return (PerpConnector if perpetual else Connector)(venue, [PAIR], **opts)


def passphrase_of(key: str) -> str:
    return "pp" + key[:10]


class OkxEnv(TwoAccountEnv):
    """Our connector (``bot``) and a counterparty (``cp``) on the sim's OKX front end."""

    def __init__(self, perpetual: bool = False, agent: bool = False, faults: Any = None,
                 funding_interval: Any = None, **connector_kwargs: Any) -> None:
        self.perpetual = perpetual
        super().__init__(EmbeddedExchange(seed=11, pairs=(PAIR,), perp_pairs=(PAIR,), agent=agent,
                                          agent_interval=0.05, funding_interval=funding_interval,
                                          venues=("okx",), faults=faults), **connector_kwargs)
        self.market = "futures" if perpetual else "spot"

    def create_account(self, key: str, secret: str) -> None:
        if self.perpetual:
            self.ex.create_account(key, secret, passphrase=passphrase_of(key), futures_balances={"USDT": D("100000")})
        else:
            self.ex.create_account(key, secret, passphrase=passphrase_of(key),
                                   balances={"USDT": D("100000"), "BTC": D("2")})

    def connector(self, key: str, secret: str, **kwargs: Any) -> Any:
        return okx_connector(self.ex, key, secret, self.perpetual, **kwargs)

    def venue_order(self, key: str, oid: str) -> Any:
        return self.ex.order(key, SYMBOL, oid, market=self.market)

    async def rest_liquidity(self, side: str, amount: Decimal, price: Decimal = PRICE) -> str:
        for _ in range(20):  # under faults the counterparty's own order may fail: retry
            oid = (self.cp.sell if side == "sell" else self.cp.buy)(PAIR, amount, OrderType.LIMIT, price)
            await wait_for(lambda: self.venue_order(self.cp_key, oid) is not None
                           or self.cp_rec.of(MarketEvent.OrderFailure, oid), 15, "cp order")
            if self.venue_order(self.cp_key, oid) is not None:
                return oid
        raise AssertionError("counterparty order never placed")

    async def assert_balances_match(self) -> None:
        await check_balances(self.bot, self.ex, self.key, self.perpetual)


def count_requests(connector: Any) -> List[str]:
    """Record the path of every REST request the connector sends (wraps its ``_send``)."""
    seen: List[str] = []
    send = connector._send

    async def counting(request: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(f"{request.method} {request.path}")
        return await send(request, *args, **kwargs)
    connector._send = counting
    connector._orders._send = counting
    session = connector._orders.session
    if session is not None:
        ws_request = session.request

        async def counting_ws(build: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append("WS " + build("0", 0).split('"op":"', 1)[1].split('"', 1)[0])
            return await ws_request(build, *args, **kwargs)
        session.request = counting_ws
    return seen


@pytest.mark.parametrize("perpetual", [False, True], ids=["spot", "swap"])
def test_fill_fee_cancel_and_balances(perpetual: bool) -> None:
    async def go() -> None:
        async with OkxEnv(perpetual) as env:
            await env.rest_liquidity("sell", D("0.01"))
            oid = env.bot.buy(PAIR, D("0.01"), OrderType.LIMIT, PRICE)
            await wait_for(lambda: env.rec.of(MarketEvent.BuyOrderCompleted, oid), what="completed")
            (fill,) = env.rec.of(MarketEvent.OrderFilled, oid)
            assert fill.amount == D("0.01") and fill.price == PRICE
            trades = [t for t in env.ex.trades(env.key, market=env.market) if str(t.trade_id) == fill.exchange_trade_id]
            assert len(trades) == 1
            (fee,) = fill.trade_fee.flat_fees
            assert (fee.token, fee.amount) == (trades[0].commission_asset, trades[0].commission)
            assert env.venue_order(env.key, oid).status == "FILLED"
            rest = env.bot.sell(PAIR, D("0.01"), OrderType.LIMIT, PRICE + 1000)
            await wait_for(lambda: env.rec.of(MarketEvent.SellOrderCreated, rest), what="created")
            env.bot.cancel(PAIR, rest)
            await wait_for(lambda: env.rec.of(MarketEvent.OrderCancelled, rest), what="cancelled")
            assert env.venue_order(env.key, rest).status == "CANCELED"
            assert env.bot._orders.sent_ws >= 3  # placed and cancelled over WebSocket order entry
            await env.assert_balances_match()
    run(go())


@pytest.mark.parametrize("ws_order_entry", [True, False], ids=["websocket", "rest"])
def test_rejection_in_200_body_fails_within_one_round_trip(ws_order_entry: bool) -> None:
    async def go() -> None:
        async with OkxEnv(ws_order_entry=ws_order_entry) as env:
            sent = count_requests(env.bot)
            started = time.monotonic()
            oid = env.bot.buy(PAIR, D("2"), OrderType.LIMIT, PRICE)  # 120,000 USDT > 100,000
            await wait_for(lambda: env.rec.of(MarketEvent.OrderFailure, oid), what="failure")
            elapsed = time.monotonic() - started
            (failure,) = env.rec.of(MarketEvent.OrderFailure, oid)
            assert failure.error_code == "51008" and "Insufficient" in failure.error_message
            assert elapsed < 2.0  # one round trip, no status polling
            await asyncio.sleep(0.5)
            via = ["WS order"] if ws_order_entry else [f"POST {okx_constants.PLACE_ORDER}"]
            assert [s for s in sent if s in ("WS order", f"POST {okx_constants.PLACE_ORDER}")] == via  # sent once
            assert f"GET {okx_constants.PLACE_ORDER}" not in sent  # never asked about it
            assert env.venue_order(env.key, oid) is None
            assert oid not in env.bot.in_flight_orders
    run(go())


def test_post_only_that_would_take_fails() -> None:
    async def go() -> None:
        async with OkxEnv() as env:
            await env.rest_liquidity("sell", D("0.01"))
            oid = env.bot.buy(PAIR, D("0.01"), OrderType.LIMIT_MAKER, PRICE)
            await wait_for(lambda: env.rec.of(MarketEvent.OrderFailure, oid), what="post-only failure")
            assert not env.rec.of(MarketEvent.OrderFilled, oid)
            assert env.venue_order(env.cp_key, env.ex.open_orders(env.cp_key)[0].client_order_id) is not None
            await env.assert_balances_match()
    run(go())


def test_cancel_against_fill_ends_filled() -> None:
    async def go() -> None:
        async with OkxEnv() as env:
            oid = env.bot.sell(PAIR, D("0.01"), OrderType.LIMIT, PRICE)
            await wait_for(lambda: env.rec.of(MarketEvent.SellOrderCreated, oid), what="created")
            env.cp.buy(PAIR, D("0.01"), OrderType.MARKET, PRICE)
            await wait_for(lambda: env.venue_order(env.key, oid).status == "FILLED", what="filled at the venue")
            env.bot.cancel(PAIR, oid)  # races the fill's push
            await wait_for(lambda: env.bot.order_tracker.fetch_order(oid).is_done, what="terminal")
            assert env.bot.order_tracker.fetch_order(oid).current_state is OrderState.FILLED
            assert not env.rec.of(MarketEvent.OrderCancelled, oid)
            assert len(env.rec.of(MarketEvent.OrderFilled, oid)) == 1
            await env.assert_balances_match()
    run(go())


@pytest.mark.parametrize("knob", ["timeout_accepted", "timeout_rejected", "error_5xx_accepted", "error_5xx_rejected"])
@pytest.mark.parametrize("ws_order_entry", [True, False], ids=["websocket", "rest"])
def test_lost_order_answers_are_resolved_never_resent(knob: str, ws_order_entry: bool) -> None:
    async def go() -> None:
        async with OkxEnv(ws_order_entry=ws_order_entry, order_window_ms=1000, rest_timeout=1.0) as env:
            setattr(env.ex.faults, knob, 1.0)
            env.ex.faults.hang_seconds = 3.0
            oid = env.bot.sell(PAIR, D("0.01"), OrderType.LIMIT, PRICE + 500)
            await asyncio.sleep(0.5)
            env.ex.faults.clear()
            accepted = knob.endswith("accepted")
            if accepted:
                await wait_for(lambda: env.bot.in_flight_orders.get(oid) is not None
                               and env.bot.in_flight_orders[oid].current_state is OrderState.OPEN, 20, "resolved open")
            else:
                await wait_for(lambda: env.rec.of(MarketEvent.OrderFailure, oid), 20, "never accepted")
            assert len([o for o in env.ex.open_orders(env.key) if o.client_order_id == oid]) == int(accepted)
            assert sum(1 for o in env.ex.open_orders(env.key)) == int(accepted)  # never sent twice
    run(go(), timeout=60)


def test_restart_while_pending_create(tmp_path) -> None:
    async def go() -> None:
        state = str(tmp_path / "okx_state.json")
        async with OkxEnv(order_window_ms=1000, rest_timeout=5.0, state_file=state, ws_order_entry=False) as env:
            env.ex.faults.timeout_accepted = 1.0  # the venue takes the order, the answer hangs
            env.ex.faults.hang_seconds = 10.0
            env.ex.faults.set_ws("user", drop=1.0)  # and its push is lost
            oid = env.bot.sell(PAIR, D("0.01"), OrderType.LIMIT, PRICE + 500)
            await wait_for(lambda: env.venue_order(env.key, oid) is not None, what="placed at the venue")
            assert env.bot.in_flight_orders[oid].is_pending_create
            await env.bot.stop()  # the answer never came
            env.ex.faults.clear()
            again = okx_connector(env.ex, env.key, env.secret, state_file=state, ws_order_entry=False)
            rec = Recorder(again)
            try:
                await again.start()
                await again.wait_until_ready(10)
                await wait_for(lambda: oid in again.in_flight_orders
                               and again.in_flight_orders[oid].current_state is OrderState.OPEN, 20, "restored open")
                again.cancel(PAIR, oid)
                await wait_for(lambda: rec.of(MarketEvent.OrderCancelled, oid), what="cancelled")
            finally:
                await again.stop()
    run(go(), timeout=60)


def test_swap_position_mode_leverage_positions_and_funding() -> None:
    async def go() -> None:
        async with OkxEnv(perpetual=True, funding_interval=2.0) as env:
            bot = env.bot
            assert await bot.set_margin_mode(PAIR, MarginMode.ISOLATED)
            assert bot.get_margin_mode(PAIR) is MarginMode.ISOLATED
            assert await bot.set_margin_mode(PAIR, MarginMode.CROSS)
            assert await bot.set_leverage(PAIR, 5) == 5
            assert await bot.set_position_mode(PositionMode.HEDGE)
            await env.rest_liquidity("sell", D("0.02"))
            oid = bot.buy(PAIR, D("0.02"), OrderType.LIMIT, PRICE, position_action=PositionAction.OPEN)
            await wait_for(lambda: env.rec.of(MarketEvent.BuyOrderCompleted, oid), what="opened long")
            await wait_for(lambda: bot.get_position(PAIR, PositionSide.LONG) is not None
                           and bot.get_position(PAIR, PositionSide.LONG).amount == D("0.02"), what="long position")
            truth = env.ex.positions(env.key)
            assert truth[(SYMBOL, "LONG")]["amount"] == D("0.02") and truth[(SYMBOL, "LONG")]["leverage"] == 5
            env.ex.set_funding_rate(PAIR, D("0.001"))
            # funding settles every 2 s here; the engine fetches the bills once the funding time it
            # read from the venue has passed
            await wait_for(lambda: env.rec.of(MarketEvent.FundingPaymentCompleted), 15, "funding payment")
            paid = {str(i.income) for i in env.ex.income(env.key) if i.income_type == "FUNDING"}
            for payment in env.rec.of(MarketEvent.FundingPaymentCompleted):
                assert payment.amount < 0 and str(payment.amount) in paid  # a long pays a positive rate
            await env.rest_liquidity("buy", D("0.02"))
            close = bot.sell(PAIR, D("0.02"), OrderType.LIMIT, PRICE, position_action=PositionAction.CLOSE)
            await wait_for(lambda: env.rec.of(MarketEvent.SellOrderCompleted, close), what="closed")
            await wait_for(lambda: not bot.account_positions, what="flat")
            await env.assert_balances_match()
    run(go(), timeout=60)


@pytest.mark.parametrize("perpetual,ws_order_entry", [(False, True), (True, True), (False, False)],
                         ids=["spot", "swap", "spot-rest-orders"])
def test_all_faults_soak(perpetual: bool, ws_order_entry: bool) -> None:
    """SOAK_SIZE orders with every fault knob on and the sim's market maker trading: 0 lost
    orders, 0 duplicate fills, every order equal to the exchange's, balances (and positions)
    equal to the exchange's (the driver: ``soak_driver.py``)."""
    profile = SoakProfile(f"okx {'swap' if perpetual else 'spot'}", PAIR, SYMBOL, SOAK_SIZE, perpetual=perpetual,
                          amounts=("0.01", "0.02", "0.03"), tick=D("0.1"), max_open=30, pause=0.02,
                          seconds_per_order=0.3)

    async def go() -> None:
        env = OkxEnv(perpetual, agent=True, faults=all_faults(5), order_window_ms=1000, ws_order_entry=ws_order_entry,
                     rest_timeout=1.0, poll_interval=2.0, fast_poll_interval=0.3)
        async with env:
            await soak(env.ex, env.bot, env.key, env.rec, profile, random.Random(42 + perpetual))
    run(go(), timeout=profile.timeout)
