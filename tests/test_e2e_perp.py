"""End to end over loopback: the Binance USDⓈ-M perpetual connector against the embedded exchange:
leverage, open and close with positions, funding payments, hedge mode, post-only rejection."""
from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from test_e2e_spot import PAIR, PRICE, SYMBOL, TwoAccountEnv, perp_connector, run, wait_for

from hbconnect.core.events import MarketEvent
from hbconnect.core.types import OrderType, PositionAction, PositionMode, PositionSide
from hbconnect.sim import EmbeddedExchange

D = Decimal
AMOUNT = D("0.01")


class PerpEnv(TwoAccountEnv):
    def __init__(self) -> None:
        super().__init__(EmbeddedExchange(seed=11, pairs=(), perp_pairs=(PAIR,), agent=False, funding_interval=None))

    def create_account(self, key: str, secret: str) -> None:
        self.ex.create_account(key, secret, futures_balances={"USDT": D("100000")})

    def connector(self, key: str, secret: str, **kwargs: Any) -> Any:
        return perp_connector(self.ex, key, secret, **kwargs)

    async def cp_rest(self, side: str, price: Decimal = PRICE) -> None:
        oid = (self.cp.sell if side == "sell" else self.cp.buy)(PAIR, AMOUNT, OrderType.LIMIT, price)
        await wait_for(lambda: self.ex.order(self.cp_key, SYMBOL, oid, market="futures") is not None, what="cp order")


def test_perp_open_close_position_and_funding() -> None:
    async def go() -> None:
        async with PerpEnv() as env:
            bot, ex = env.bot, env.ex
            assert await bot.set_leverage(PAIR, 10) == 10
            assert bot.position_mode is PositionMode.ONEWAY
            await env.cp_rest("sell")
            oid = bot.buy(PAIR, AMOUNT, OrderType.LIMIT, PRICE, position_action=PositionAction.OPEN)
            await wait_for(lambda: env.rec.of(MarketEvent.BuyOrderCompleted, oid), what="open filled")
            await wait_for(lambda: bot.get_position(PAIR) is not None, what="position")
            pos = bot.get_position(PAIR)
            truth = ex.positions(env.key)[(SYMBOL, "NET")]
            assert pos.amount == truth["amount"] == AMOUNT and pos.side is PositionSide.LONG
            assert pos.entry_price == truth["entry_price"] == PRICE and pos.leverage == 10
            created = env.rec.of(MarketEvent.BuyOrderCreated, oid)[0]
            assert created.position == "OPEN" and created.leverage == 10
            # funding: a long pays a positive rate
            ex.set_mark_price(PAIR, PRICE)
            ex.set_funding_rate(PAIR, D("0.0001"))
            ex.run_funding()
            await wait_for(lambda: env.rec.of(MarketEvent.FundingPaymentCompleted), what="funding payment")
            pay = env.rec.of(MarketEvent.FundingPaymentCompleted)[0]
            assert pay.trading_pair == PAIR and pay.amount == -(AMOUNT * PRICE * D("0.0001"))
            assert pay.funding_rate == D("0.0001")
            info = bot.get_funding_info(PAIR)
            assert info.mark_price > 0
            # close
            await env.cp_rest("buy")
            cid = bot.sell(PAIR, AMOUNT, OrderType.LIMIT, PRICE, position_action=PositionAction.CLOSE)
            await wait_for(lambda: env.rec.of(MarketEvent.SellOrderCompleted, cid), what="close filled")
            assert ex.order(env.key, SYMBOL, cid, market="futures").reduce_only
            await wait_for(lambda: bot.get_position(PAIR) is None, what="position closed")
            assert ex.positions(env.key) == {}
            assert any(e.position_side is None for e in env.rec.of(MarketEvent.PositionUpdate))
            await bot.refresh_balances()
            assert bot.get_balance("USDT") == ex.futures_balance(env.key)
            await asyncio.sleep(0.5)
            assert len(env.rec.of(MarketEvent.FundingPaymentCompleted)) == 1  # never twice
    run(go())


def test_perp_hedge_mode_and_post_only_rejection() -> None:
    async def go() -> None:
        async with PerpEnv() as env:
            bot, ex = env.bot, env.ex
            assert await bot.set_position_mode(PositionMode.HEDGE)
            assert bot.position_mode is PositionMode.HEDGE
            assert env.rec.of(MarketEvent.PositionModeChangeSucceeded)
            await env.cp_rest("sell")
            oid = bot.buy(PAIR, AMOUNT, OrderType.LIMIT, PRICE, position_action=PositionAction.OPEN)
            await wait_for(lambda: env.rec.of(MarketEvent.BuyOrderCompleted, oid), what="hedge open")
            assert ex.order(env.key, SYMBOL, oid, market="futures").position_side == "LONG"
            await wait_for(lambda: bot.get_position(PAIR, PositionSide.LONG) is not None, what="long position")
            # post-only (GTX) that would cross is rejected, not filled
            await env.cp_rest("sell", PRICE + 100)
            po = bot.buy(PAIR, AMOUNT, OrderType.LIMIT_MAKER, PRICE + 100, position_action=PositionAction.OPEN)
            await wait_for(lambda: env.rec.of(MarketEvent.OrderFailure, po), what="post-only rejected")
            assert not env.rec.of(MarketEvent.OrderFilled, po)
            assert bot.get_position(PAIR, PositionSide.LONG).amount == AMOUNT
    run(go())
