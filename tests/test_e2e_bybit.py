"""End to end over loopback: the Bybit v5 spot and linear connectors against the embedded
exchange's Bybit front end (written by another hand from Bybit's docs; they share no code).

Real sockets all the way: signed REST (JSON bodies), the private stream (``auth`` then
``order``/``execution``/``wallet``/``position``) and the trade stream (``order.create`` /
``order.cancel``). A second account provides the counterparty orders (no market-maker agent).
"""
from __future__ import annotations

import asyncio
import secrets
from decimal import Decimal
from typing import Any, Optional, Tuple

from test_e2e_spot import Recorder, run, wait_for

from hbconnect.connector import Connector, PerpConnector
from hbconnect.core.events import MarketEvent
from hbconnect.core.types import OrderType, PositionAction
from hbconnect.exchanges.bybit import BybitPerpetualTrading, BybitSpotTrading
from hbconnect.sim import EmbeddedExchange
from hbconnect.sim.matching import OrderRequest

D = Decimal
PAIR, SYMBOL = "BTC-USDT", "BTCUSDT"


def make_exchange(funding_interval: Optional[float] = None) -> Tuple[EmbeddedExchange, str, str, str]:
    ex = EmbeddedExchange(seed=7, pairs=(PAIR,), perp_pairs=(PAIR,), agent=False, funding_interval=funding_interval,
                          venues=("bybit",))
    key, secret = secrets.token_hex(9), secrets.token_hex(18)
    ex.create_account(key, secret, balances={"USDT": D("10000"), "BTC": D("1")}, futures_balances={"USDT": D("10000")})
    maker = secrets.token_hex(9)
    ex.create_account(maker, secrets.token_hex(18), balances={"USDT": D("10000000"), "BTC": D("100")},
                      futures_balances={"USDT": D("10000000")})
    return ex, key, secret, ex.account_by_key(maker).account_id


def venue_kwargs(ex: EmbeddedExchange) -> dict:
    front = ex.front("bybit")
    return dict(rest_url=front.rest_url, ws_url=front.ws_url + "/v5/private", trade_ws_url=front.ws_url + "/v5/trade",
                recv_window_ms=2000)


def spot_connector(ex: EmbeddedExchange, key: str, secret: str, **kw: Any) -> Connector:
    opts = dict(poll_interval=1.0, fast_poll_interval=0.2, rest_timeout=2.0)
    opts.update(kw)
    return Connector(BybitSpotTrading(key, secret, **venue_kwargs(ex)), [PAIR], **opts)


def perp_connector(ex: EmbeddedExchange, key: str, secret: str, **kw: Any) -> PerpConnector:
    opts = dict(poll_interval=1.0, fast_poll_interval=0.2, rest_timeout=2.0, funding_poll_interval=0.5)
    opts.update(kw)
    return PerpConnector(BybitPerpetualTrading(key, secret, **venue_kwargs(ex)), [PAIR], **opts)


def test_spot_lifecycle_over_the_trade_stream_with_fees_and_balances() -> None:
    async def go() -> None:
        ex, key, secret, maker = make_exchange()
        async with ex:
            conn = spot_connector(ex, key, secret)
            rec = Recorder(conn)
            await conn.start()
            try:
                await conn.wait_until_ready(15)
                transport = conn._orders
                await wait_for(lambda: transport.session is not None and transport.session.ready, 10,
                               "the order-entry socket")
                resting = conn.buy(PAIR, D("0.01"), OrderType.LIMIT, D("50000"))
                await wait_for(lambda: rec.of(MarketEvent.BuyOrderCreated, resting), what="created")
                assert ex.order(key, SYMBOL, resting) is not None
                # the counterparty sells into it: a fill with the fee in BTC (a buy pays in base)
                ex.spot_engine.submit(maker, OrderRequest(SYMBOL, "SELL", "LIMIT", quantity=D("0.01"), price=D("50000")))
                await wait_for(lambda: rec.of(MarketEvent.BuyOrderCompleted, resting), what="filled")
                [fill] = rec.of(MarketEvent.OrderFilled, resting)
                [fee] = fill.trade_fee.flat_fees
                truth = [t for t in ex.trades(key) if t.client_order_id == resting][0]
                assert (fee.token, fee.amount) == (truth.commission_asset, truth.commission) and fee.token == "BTC"
                # a post-only order that would take is refused (Bybit cancels it): FAILED, not CANCELED
                ex.spot_engine.submit(maker, OrderRequest(SYMBOL, "SELL", "LIMIT", quantity=D("0.5"), price=D("51000")))
                po = conn.buy(PAIR, D("0.01"), OrderType.LIMIT_MAKER, D("51000"))
                await wait_for(lambda: rec.of(MarketEvent.OrderFailure, po), what="post-only refused")
                # cancel a resting order
                rest = conn.sell(PAIR, D("0.01"), OrderType.LIMIT, D("70000"))
                await wait_for(lambda: rec.of(MarketEvent.SellOrderCreated, rest), what="created")
                conn.cancel(PAIR, rest)
                await wait_for(lambda: rec.of(MarketEvent.OrderCancelled, rest), what="cancelled")
                assert ex.order(key, SYMBOL, rest).status == "CANCELED"
                # the creates and the cancel went over the trade stream (no REST order request)
                assert transport.sent_ws >= 4 and transport.sent_rest == 0
                await conn.refresh_balances()
                # a Unified Trading Account: one wallet per coin (the sim's spot part + its swap wallet)
                wallet = ex.accounts[ex.account_by_key(key).account_id].futures.wallet
                for asset, (free, locked) in ex.balances(key).items():
                    if asset in ("BTC", "USDT"):
                        assert conn.get_balance(asset) == free + locked + wallet.get(asset, D(0)), asset
            finally:
                await conn.stop()
    run(go())


def test_rejection_in_a_200_body_fails_within_one_round_trip_with_bybits_code() -> None:
    async def go() -> None:
        ex, key, secret, _ = make_exchange()
        async with ex:
            conn = spot_connector(ex, key, secret, ws_order_entry=False)   # the REST path
            rec = Recorder(conn)
            await conn.start()
            try:
                await conn.wait_until_ready(15)
                front = ex.front("bybit")
                before = dict(front.stats)
                oid = conn.buy(PAIR, D("5"), OrderType.LIMIT, D("50000"))     # 250,000 USDT: far beyond 10,000
                await wait_for(lambda: rec.of(MarketEvent.OrderFailure, oid), timeout=3, what="failure")
                [failure] = rec.of(MarketEvent.OrderFailure, oid)
                assert failure.error_type == "InsufficientBalance"
                assert failure.error_code in (170131, 110007, 110004, 110012), failure.error_code
                assert str(failure.error_code) in failure.error_message
                await asyncio.sleep(0.5)
                # one round trip: no status request followed the refusal
                assert conn.stats.get("orders_resolved_by_query", 0) == 0
                assert not conn.in_flight_orders
                del before
            finally:
                await conn.stop()
    run(go())


def test_linear_position_leverage_and_funding() -> None:
    async def go() -> None:
        ex, key, secret, maker = make_exchange(funding_interval=2.0)   # a settlement every 2 s
        async with ex:
            conn = perp_connector(ex, key, secret)
            rec = Recorder(conn)
            await conn.start()
            try:
                await conn.wait_until_ready(15)
                assert await conn.set_leverage(PAIR, 5) == 5
                assert await conn.set_leverage(PAIR, 5) == 5      # unchanged (110043) is a success
                ex.futures_engine.submit(maker, OrderRequest(SYMBOL, "SELL", "LIMIT", quantity=D("1"), price=D("60000")))
                oid = conn.buy(PAIR, D("0.01"), OrderType.MARKET, position_action=PositionAction.OPEN)
                await wait_for(lambda: rec.of(MarketEvent.BuyOrderCompleted, oid), what="filled")
                await wait_for(lambda: any(p.amount == D("0.01") for p in conn.account_positions.values()),
                               what="the long position")
                truth = ex.positions(key)
                assert any(v["amount"] == D("0.01") for v in truth.values())
                # the next settlement time passes: the engine reads the transaction log (SETTLEMENT)
                await wait_for(lambda: rec.of(MarketEvent.FundingPaymentCompleted), timeout=15, what="funding")
                pay = rec.of(MarketEvent.FundingPaymentCompleted)[0]
                income = {i.time / 1000.0: i.income for i in ex.income(key) if i.income_type == "FUNDING"}
                # signed as the wallet moved: a long pays a positive rate ("negative ... means pay")
                assert pay.trading_pair == PAIR and pay.amount == income[pay.timestamp] and pay.amount < 0
            finally:
                await conn.stop()
    run(go())
