"""End to end over loopback: the Binance spot connector against the embedded exchange.

Every lifecycle path runs through real sockets: signed REST, the listenKey user stream, the
sim's matching engine. A second connector on another account provides the counterparty orders,
so fills are deterministic (the sim's market-maker agent is off here).
"""
from __future__ import annotations

import asyncio
import io
import secrets
from decimal import Decimal
from typing import Any, Callable, List, Optional, Tuple

from hbconnect.connector import Connector, PerpConnector
from hbconnect.core.events import MarketEvent
from hbconnect.core.types import OrderState, OrderType
from hbconnect.exchanges.binance import BinancePerpetualTrading, BinanceSpotTrading
from hbconnect.sim import EmbeddedExchange

D = Decimal
PAIR = "BTC-USDT"
SYMBOL = "BTCUSDT"
PRICE = D("60000")

#: the exchange's order status -> the state the engine must end in (PREVENTED: self-trade
#: prevention expired it, which the venue reports as a cancel)
VENUE_STATE = {"NEW": OrderState.OPEN, "PARTIALLY_FILLED": OrderState.PARTIALLY_FILLED,
                "FILLED": OrderState.FILLED, "CANCELED": OrderState.CANCELED, "EXPIRED": OrderState.CANCELED,
                "PREVENTED": OrderState.CANCELED}


def _task_stacks(loop: asyncio.AbstractEventLoop) -> str:
    out = io.StringIO()
    for task in asyncio.all_tasks(loop):
        task.print_stack(limit=12, file=out)
    return out.getvalue()


def run(coro: Any, timeout: float = 60.0, cancel_grace: float = 10.0) -> Any:
    """``asyncio.run(coro)`` with a limit: past ``timeout`` seconds the test is cancelled and
    fails with ``TimeoutError``. A test whose cancellation does not finish within
    ``cancel_grace`` seconds (a task swallowing it, a close waiting forever) fails with every
    task's stack, and its loop is abandoned: a hang never holds the suite up to the
    per-test limit, which ends the whole run."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    task = loop.create_task(coro)
    try:
        done, _ = loop.run_until_complete(asyncio.wait({task}, timeout=timeout))
        if task in done:
            return task.result()
        task.cancel()
        done, _ = loop.run_until_complete(asyncio.wait({task}, timeout=cancel_grace))
        if task not in done:
            raise AssertionError(f"the test ran over {timeout} s and its cancellation did not finish "
                                 f"within {cancel_grace} s; the tasks:\n{_task_stacks(loop)}")
        if not task.cancelled() and task.exception() is not None:
            raise TimeoutError(f"the test ran over {timeout} s") from task.exception()
        raise TimeoutError(f"the test ran over {timeout} s")
    finally:
        rest = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in rest:
            t.cancel()
        if rest:
            loop.run_until_complete(asyncio.wait(rest, timeout=cancel_grace))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(asyncio.wait({loop.create_task(loop.shutdown_default_executor())},
                                             timeout=cancel_grace))
        asyncio.set_event_loop(None)
        loop.close()


class Recorder:
    """Collects every event of a connector."""

    def __init__(self, connector: Any) -> None:
        self.events: List[Tuple[Any, Any]] = []
        for tag in MarketEvent:
            connector.event_hub.add_listener(tag, lambda ev, tag=tag: self.events.append((tag, ev)))

    def of(self, tag: Any, order_id: Optional[str] = None) -> List[Any]:
        return [e for t, e in self.events if t is tag and (order_id is None or getattr(e, "order_id", None) == order_id)]


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.01)


def new_keys() -> Tuple[str, str]:
    return secrets.token_hex(32), secrets.token_hex(32)


def spot_connector(ex: EmbeddedExchange, key: str, secret: str, recv_window_ms: int = 5000,
                   **kwargs: Any) -> Connector:
    """``recv_window_ms``: a short window lets tests of never-accepted orders conclude sooner
    (the engine waits the window out before it calls an unknown order "never accepted")."""
    venue = BinanceSpotTrading(key, secret, rest_url=ex.spot_rest_url, ws_url=ex.spot_ws_url,
                               recv_window_ms=recv_window_ms)
    opts = dict(poll_interval=1.0, fast_poll_interval=0.2, rest_timeout=2.0)
    opts.update(kwargs)
    return Connector(venue, [PAIR], **opts)


def perp_connector(ex: EmbeddedExchange, key: str, secret: str, recv_window_ms: int = 5000,
                   **kwargs: Any) -> PerpConnector:
    venue = BinancePerpetualTrading(key, secret, rest_url=ex.futures_rest_url, ws_url=ex.futures_ws_url,
                                    recv_window_ms=recv_window_ms)
    opts = dict(poll_interval=1.0, fast_poll_interval=0.2, rest_timeout=2.0, funding_poll_interval=1.0)
    opts.update(kwargs)
    return PerpConnector(venue, [PAIR], **opts)


class TwoAccountEnv:
    """The exchange, our connector (``bot``) and a counterparty connector (``cp``) on two
    accounts; subclasses say which market (accounts, connectors)."""

    def __init__(self, ex: EmbeddedExchange, **connector_kwargs: Any) -> None:
        self.ex = ex
        self.kwargs = connector_kwargs
        self.key, self.secret = new_keys()
        self.cp_key, self.cp_secret = new_keys()

    def create_account(self, key: str, secret: str) -> None:
        raise NotImplementedError

    def connector(self, key: str, secret: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def __aenter__(self) -> Any:
        await self.ex.start()
        self.create_account(self.key, self.secret)
        self.create_account(self.cp_key, self.cp_secret)
        self.bot = self.connector(self.key, self.secret, **self.kwargs)
        self.cp = self.connector(self.cp_key, self.cp_secret)
        self.rec = Recorder(self.bot)
        self.cp_rec = Recorder(self.cp)
        await self.bot.start()
        await self.cp.start()
        await self.bot.wait_until_ready(10)
        await self.cp.wait_until_ready(10)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.bot.stop()
        await self.cp.stop()
        await self.ex.stop()


class SpotEnv(TwoAccountEnv):
    def __init__(self, agent: bool = False, **connector_kwargs: Any) -> None:
        super().__init__(EmbeddedExchange(seed=7, pairs=(PAIR,), perp_pairs=(), agent=agent, funding_interval=None),
                         **connector_kwargs)

    def create_account(self, key: str, secret: str) -> None:
        self.ex.create_account(key, secret, balances={"USDT": D("100000"), "BTC": D("2")})

    def connector(self, key: str, secret: str, **kwargs: Any) -> Connector:
        return spot_connector(self.ex, key, secret, **kwargs)

    async def rest_liquidity(self, side: str, amount: Decimal, price: Decimal = PRICE) -> str:
        """The counterparty rests a limit order and waits until it is open."""
        for _ in range(20):  # under REST faults the counterparty's own order may fail: retry
            oid = (self.cp.sell if side == "sell" else self.cp.buy)(PAIR, amount, OrderType.LIMIT, price)
            await wait_for(lambda: self.ex.order(self.cp_key, SYMBOL, oid) is not None
                           or self.cp_rec.of(MarketEvent.OrderFailure, oid), 15, "cp order")
            if self.ex.order(self.cp_key, SYMBOL, oid) is not None:
                return oid
        raise AssertionError("counterparty order never placed")

    async def assert_balances_match(self) -> None:
        await self.bot.refresh_balances()
        truth = self.ex.balances(self.key)
        for asset, (free, locked) in truth.items():
            assert self.bot.get_balance(asset) == free + locked, asset
            assert self.bot.get_available_balance(asset) == free, asset


def test_limit_order_fill_with_fees_and_balances() -> None:
    async def go() -> None:
        async with SpotEnv() as env:
            await env.rest_liquidity("sell", D("0.001"))
            oid = env.bot.buy(PAIR, D("0.001"), OrderType.LIMIT, PRICE)
            await wait_for(lambda: env.rec.of(MarketEvent.BuyOrderCompleted, oid), what="completed")
            fills = env.rec.of(MarketEvent.OrderFilled, oid)
            assert len(fills) == 1 and fills[0].amount == D("0.001") and fills[0].price == PRICE
            venue_trade = [t for t in env.ex.trades(env.key) if str(t.trade_id) == fills[0].exchange_trade_id]
            assert len(venue_trade) == 1
            assert fills[0].trade_fee.flat_fees[0].amount == venue_trade[0].commission
            assert env.ex.order(env.key, SYMBOL, oid).status == "FILLED"
            # the stream's balance update arrives after the fill: wait for it, then compare
            truth = env.ex.balances(env.key)
            await wait_for(lambda: env.bot.get_balance("BTC") == sum(truth["BTC"]), what="stream balances")
            await env.assert_balances_match()
    run(go())


def test_partial_fill_then_cancel() -> None:
    async def go() -> None:
        async with SpotEnv() as env:
            await env.rest_liquidity("sell", D("0.001"))
            oid = env.bot.buy(PAIR, D("0.003"), OrderType.LIMIT, PRICE)
            await wait_for(lambda: env.rec.of(MarketEvent.OrderFilled, oid), what="partial fill")
            order = env.bot.in_flight_orders[oid]
            assert order.current_state is OrderState.PARTIALLY_FILLED
            env.bot.cancel(PAIR, oid)
            await wait_for(lambda: env.rec.of(MarketEvent.OrderCancelled, oid), what="cancelled")
            assert order.executed_amount_base == D("0.001")
            assert env.ex.order(env.key, SYMBOL, oid).status == "CANCELED"
            assert not env.rec.of(MarketEvent.BuyOrderCompleted, oid)
            await env.assert_balances_match()
    run(go())


def test_below_min_notional_rejected_before_any_request() -> None:
    async def go() -> None:
        async with SpotEnv() as env:
            requests_before = env.bot._rest.requests
            oid = env.bot.buy(PAIR, D("0.00005"), OrderType.LIMIT, PRICE)  # 3 USDT < 5 USDT
            await wait_for(lambda: env.rec.of(MarketEvent.OrderFailure, oid), what="failure")
            assert "notional" in env.rec.of(MarketEvent.OrderFailure, oid)[0].error_message
            await asyncio.sleep(0.2)
            assert env.ex.order(env.key, SYMBOL, oid) is None
            assert env.bot.stats["orders_submitted"] == 0
            assert oid not in env.bot.in_flight_orders
            assert env.bot._rest.requests - requests_before <= 2  # only background polls, no order
    run(go())


def test_cancel_of_unknown_orders() -> None:
    async def go() -> None:
        async with SpotEnv() as env:
            # an id this connector never created: nothing is sent, nothing is cancelled
            other = await env.rest_liquidity("buy", D("0.001"), D("50000"))
            env.bot.cancel(PAIR, other)
            await asyncio.sleep(0.3)
            assert env.ex.order(env.cp_key, SYMBOL, other).status == "NEW"
            # an order the venue no longer has open (filled while the stream missed it)
            env.ex.faults.set_ws("user", drop=1.0)
            await env.rest_liquidity("sell", D("0.001"))
            oid = env.bot.buy(PAIR, D("0.001"), OrderType.LIMIT, PRICE)
            await wait_for(lambda: env.ex.order(env.key, SYMBOL, oid) is not None
                           and env.ex.order(env.key, SYMBOL, oid).status == "FILLED", what="venue fill")
            env.bot.cancel(PAIR, oid)
            await wait_for(lambda: env.rec.of(MarketEvent.BuyOrderCompleted, oid), what="resolved as filled")
            assert not env.rec.of(MarketEvent.OrderCancelled, oid)
            assert len(env.rec.of(MarketEvent.OrderFilled, oid)) == 1
    run(go())


def test_market_order() -> None:
    async def go() -> None:
        async with SpotEnv() as env:
            await env.rest_liquidity("sell", D("0.001"), PRICE)
            await env.rest_liquidity("sell", D("0.001"), PRICE + 10)
            oid = env.bot.buy(PAIR, D("0.002"), OrderType.MARKET)
            await wait_for(lambda: env.rec.of(MarketEvent.BuyOrderCompleted, oid), what="market fill")
            done = env.rec.of(MarketEvent.BuyOrderCompleted, oid)[0]
            assert done.base_asset_amount == D("0.002")
            assert done.quote_asset_amount == D("0.001") * PRICE + D("0.001") * (PRICE + 10)
            assert len(env.rec.of(MarketEvent.OrderFilled, oid)) == 2
    run(go())


def test_limit_maker_that_would_cross_is_rejected() -> None:
    async def go() -> None:
        async with SpotEnv() as env:
            await env.rest_liquidity("sell", D("0.001"))
            oid = env.bot.buy(PAIR, D("0.001"), OrderType.LIMIT_MAKER, PRICE)
            await wait_for(lambda: env.rec.of(MarketEvent.OrderFailure, oid), what="failure")
            assert "-2010" in env.rec.of(MarketEvent.OrderFailure, oid)[0].error_message
            assert not env.rec.of(MarketEvent.OrderFilled, oid)
            # a LIMIT_MAKER that rests is accepted
            ok = env.bot.buy(PAIR, D("0.001"), OrderType.LIMIT_MAKER, PRICE - 100)
            await wait_for(lambda: env.rec.of(MarketEvent.BuyOrderCreated, ok), what="created")
            venue = env.ex.order(env.key, SYMBOL, ok)
            assert (venue.type, venue.time_in_force) == ("LIMIT", "POST_ONLY")
    run(go())


def test_restart_restores_and_reconciles_orders(tmp_path: Any) -> None:
    async def go() -> None:
        path = str(tmp_path / "orders.json")
        async with SpotEnv(state_file=path) as env:
            oid = env.bot.buy(PAIR, D("0.001"), OrderType.LIMIT, PRICE - 1000)
            await wait_for(lambda: env.rec.of(MarketEvent.BuyOrderCreated, oid), what="created")
            await env.bot.stop()
            # while the bot is down its order fills
            await env.rest_liquidity("sell", D("0.001"), PRICE - 1000)
            await wait_for(lambda: env.ex.order(env.key, SYMBOL, oid).status == "FILLED", what="venue fill")
            env.bot = spot_connector(env.ex, env.key, env.secret, state_file=path)
            env.rec = Recorder(env.bot)
            await env.bot.start()
            await wait_for(lambda: env.rec.of(MarketEvent.BuyOrderCompleted, oid), what="completed after restart")
            assert len(env.rec.of(MarketEvent.OrderFilled, oid)) == 1
    run(go())


def test_order_books_pairs_at_runtime_and_last_prices() -> None:
    from hbconnect.exchanges.binance import BinanceMarketData
    from hbconnect.market.tracker import OrderBookTracker

    async def go() -> None:
        ex = EmbeddedExchange(seed=5, pairs=(PAIR, "ETH-USDT"), perp_pairs=(), agent=True, agent_interval=0.05,
                              funding_interval=None)
        await ex.start()
        key, secret = new_keys()
        ex.create_account(key, secret, balances={"USDT": D("100000"), "BTC": D("1"), "ETH": D("10")})
        md = BinanceMarketData("binance", perpetual=False, rest_url=ex.spot_rest_url, ws_url=ex.spot_ws_url)
        tracker = OrderBookTracker(md, [PAIR])
        bot = spot_connector(ex, key, secret, order_book_tracker=tracker)
        rec = Recorder(bot)
        try:
            await bot.start()
            await bot.wait_until_ready(15)
            assert set(bot.status_dict) >= {"trading_rule_initialized", "account_balance",
                                            "user_stream_initialized", "order_books_initialized"}
            assert set(bot.order_books) == {PAIR}
            ask = bot.get_price(PAIR, True)
            assert ask == D(str(ex.spot_engine.books[SYMBOL].best("SELL"))) or ask > 0
            # a market buy on the tracked book, then the last traded prices
            oid = bot.buy(PAIR, D("0.001"), OrderType.MARKET)
            await wait_for(lambda: rec.of(MarketEvent.BuyOrderCompleted, oid), what="market fill")
            fill = rec.of(MarketEvent.OrderFilled, oid)[-1]
            prices = await bot.get_last_traded_prices([PAIR])
            assert prices[PAIR] > 0 and bot.last_traded_price(PAIR) is not None
            assert fill.price > 0
            # add a pair at runtime: rules, book and trading on it
            await bot.add_trading_pair("ETH-USDT")
            assert "ETH-USDT" in bot.trading_pairs and "ETH-USDT" in bot.trading_rules
            await wait_for(lambda: bot.ready, 15, "ready with the new pair")
            assert "ETH-USDT" in bot.order_books
            eth = bot.buy("ETH-USDT", D("0.01"), OrderType.LIMIT, D("1000"))
            await wait_for(lambda: rec.of(MarketEvent.BuyOrderCreated, eth), what="ETH order")
            bot.cancel("ETH-USDT", eth)
            await wait_for(lambda: rec.of(MarketEvent.OrderCancelled, eth), what="ETH cancel")
            await bot.remove_trading_pair("ETH-USDT")
            assert "ETH-USDT" not in bot.trading_pairs and "ETH-USDT" not in bot.order_books
            refused = bot.buy("ETH-USDT", D("0.01"), OrderType.LIMIT, D("1000"))
            await wait_for(lambda: rec.of(MarketEvent.OrderFailure, refused), what="refused on a removed pair")
            assert ex.order(key, "ETHUSDT", refused) is None and bot.ready
        finally:
            await bot.stop()
            await ex.stop()
    run(go())


def test_ed25519_key_end_to_end() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    async def go() -> None:
        async with EmbeddedExchange(seed=9, pairs=(PAIR,), perp_pairs=(), agent=False, funding_interval=None) as ex:
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            api_key = secrets.token_hex(32)
            ex.create_account(api_key, balances={"USDT": D("1000")}, ed25519_public_key=key.public_key())
            venue = BinanceSpotTrading(api_key, None, rest_url=ex.spot_rest_url, ws_url=ex.spot_ws_url,
                                       private_key_pem=pem)
            bot = Connector(venue, [PAIR], poll_interval=1.0, fast_poll_interval=0.2)
            rec = Recorder(bot)
            async with bot:
                await bot.wait_until_ready(10)
                assert bot.get_balance("USDT") == D("1000")
                oid = bot.buy(PAIR, D("0.001"), OrderType.LIMIT, D("50000"))
                await wait_for(lambda: rec.of(MarketEvent.BuyOrderCreated, oid), what="created")
                assert ex.order(api_key, SYMBOL, oid).status == "NEW"
    run(go())
