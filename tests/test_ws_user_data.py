"""The user-data events on the WebSocket API order socket itself (Binance spot
``userDataStream.subscribe`` after ``session.logon``, ``userDataStream.subscribe.signature`` for
an HMAC key): the embedded exchange serves them as documented ("User Data Stream requests",
"Event format"), and the engine takes its fills and cancels there by default (one socket, no
listen key), subscribes again after the socket drops, and falls back to the listen-key stream
when the subscription is refused."""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import aiohttp

from test_binance_ws_api import _ed25519_pair, ed25519_connector_factory
from test_e2e_spot import PAIR, PRICE, SYMBOL, Recorder, new_keys, run, spot_connector, wait_for

from hbconnect.connector import Connector
from hbconnect.core.events import MarketEvent
from hbconnect.core.types import OrderType
from hbconnect.exchanges.binance import BinanceSpotTrading
from hbconnect.sim import EmbeddedExchange

D = Decimal


def _exchange() -> EmbeddedExchange:
    return EmbeddedExchange(seed=7, pairs=(PAIR,), perp_pairs=(), agent=False, funding_interval=None)


async def _recv(ws: aiohttp.ClientWebSocketResponse) -> dict:
    return json.loads((await asyncio.wait_for(ws.receive(), 5)).data)


def test_sim_serves_user_data_subscribe_after_logon_as_documented() -> None:
    async def go() -> None:
        ex = _exchange()
        await ex.start()
        try:
            _, pem, pub = _ed25519_pair()
            key = "ed" + new_keys()[0][:40]
            ex.create_account(key, "", balances={"USDT": D("100000")}, ed25519_public_key=pub)
            venue = BinanceSpotTrading(key, None, private_key_pem=pem, ws_url=ex.spot_ws_url)
            async with aiohttp.ClientSession() as s, s.ws_connect(venue.ws_order_url()) as ws:
                # not logged on: refused, nothing subscribed
                await ws.send_str(json.dumps({"id": "early", "method": "userDataStream.subscribe"}))
                early = await _recv(ws)
                assert early["status"] == 401 and early["error"]["code"] == -1002
                await ws.send_str(venue.ws_order_login(ex.spot.server_time()))
                assert venue.parse_login_reply((await ws.receive()).data) is True
                await ws.send_str(venue.ws_user_stream_message("sub", ex.spot.server_time()))
                sub = await _recv(ws)
                weight = sub.pop("rateLimits")
                assert sub == {"id": "sub", "status": 200, "result": {"subscriptionId": 0}}
                assert weight[0]["rateLimitType"] == "REQUEST_WEIGHT" and weight[0]["count"] >= 2
                await ws.send_str(json.dumps({"id": "st", "method": "session.status"}))
                assert (await _recv(ws))["result"]["userDataStream"] is True
                # an order of the account: its events come in the documented envelope
                await ws.send_str(json.dumps({"id": "o", "method": "order.place", "params": {
                    "symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
                    "price": "50000", "newClientOrderId": "sub-1", "timestamp": ex.spot.server_time()}}))
                frames = [await _recv(ws) for _ in range(3)]
                events = [f for f in frames if "event" in f]
                assert [f["id"] for f in frames if "id" in f] == ["o"]
                assert all(set(f) == {"subscriptionId", "event"} and f["subscriptionId"] == 0 for f in events)
                kinds = {f["event"]["e"] for f in events}
                assert kinds == {"executionReport", "outboundAccountPosition"}
                report = next(f["event"] for f in events if f["event"]["e"] == "executionReport")
                assert report["c"] == "sub-1" and report["x"] == "NEW" and report["s"] == SYMBOL
                # session.logout ends userDataStream.subscribe's subscription: the answer, then
                # eventStreamTerminated
                await ws.send_str(json.dumps({"id": "out", "method": "session.logout"}))
                out = await _recv(ws)
                assert out["id"] == "out" and out["result"]["userDataStream"] is False
                ended = await _recv(ws)
                assert ended["subscriptionId"] == 0 and ended["event"]["e"] == "eventStreamTerminated"
        finally:
            await ex.stop()
    run(go())


def _listen_keys_of(ex: EmbeddedExchange, bot: Connector) -> list:
    owner = ex.spot.exchange.account_by_key(bot.venue.credentials.api_key).account_id
    return [lk for lk in ex.spot.listen_keys.values() if lk.owner == owner]


async def _started_maker_and_taker(ex: EmbeddedExchange, connector_factory) -> tuple:
    """``bot`` (from ``connector_factory``), a REST taker and a recorder of ``bot``'s events, both
    connectors started and ready."""
    key, secret = new_keys()
    ex.create_account(key, secret, balances={"USDT": D("100000"), "BTC": D("2")})
    bot = connector_factory(ex, key, secret)
    tkey, tsecret = new_keys()
    ex.create_account(tkey, tsecret, balances={"USDT": D("100000"), "BTC": D("2")})
    taker = spot_connector(ex, tkey, tsecret, ws_order_entry=False)
    rec = Recorder(bot)
    await taker.start()
    await bot.start()
    await bot.wait_until_ready(10)
    await taker.wait_until_ready(10)
    return bot, taker, rec


async def _fill_and_cancel(bot: Connector, taker: Connector, rec: Recorder) -> None:
    """A resting sell of ``bot`` filled by the taker; a second one cancelled."""
    sold = bot.sell(PAIR, D("0.001"), OrderType.LIMIT, PRICE)
    await wait_for(lambda: rec.of(MarketEvent.SellOrderCreated, sold), what="created")
    taker.buy(PAIR, D("0.001"), OrderType.LIMIT, PRICE)
    await wait_for(lambda: rec.of(MarketEvent.SellOrderCompleted, sold), what="filled")
    assert sum(f.amount for f in rec.of(MarketEvent.OrderFilled, sold)) == D("0.001")
    rest = bot.sell(PAIR, D("0.001"), OrderType.LIMIT, D("90000"))
    await wait_for(lambda: rec.of(MarketEvent.SellOrderCreated, rest), what="created")
    bot.cancel(PAIR, rest)
    await wait_for(lambda: rec.of(MarketEvent.OrderCancelled, rest), what="cancelled")


def _round(connector_factory, drop: bool = False) -> None:
    async def go() -> None:
        ex = _exchange()
        await ex.start()
        try:
            bot, taker, rec = await _started_maker_and_taker(ex, connector_factory)
            session, stream = bot._orders.session, bot._user_stream
            assert stream.carrier is session and stream._task is None  # no socket of its own
            await wait_for(lambda: session.ready and stream.connected, what="subscribed on the order socket")
            frames_before = stream.frames
            await _fill_and_cancel(bot, taker, rec)
            assert stream.frames > frames_before  # the events came over the order socket
            assert bot._orders.sent_ws >= 3 and bot._orders.sent_rest == 0
            assert not _listen_keys_of(ex, bot)  # no listen key was ever asked for
            if drop:
                ex.spot.close_sockets("user")  # the order socket (it carries the user data)
                await wait_for(lambda: session.connects >= 2 and stream.connects >= 2 and stream.connected,
                               what="logged in and subscribed again")
                await _fill_and_cancel(bot, taker, rec)
                assert not _listen_keys_of(ex, bot)
            await bot.stop()
            await taker.stop()
            assert not stream.connected
        finally:
            await ex.stop()
    run(go())


def _ed25519_factory():
    return ed25519_connector_factory(poll_interval=30.0, fast_poll_interval=30.0)


def test_engine_takes_fills_and_cancels_on_the_logged_on_order_socket() -> None:
    _round(_ed25519_factory())


def test_engine_takes_fills_and_cancels_on_an_hmac_order_socket() -> None:
    _round(lambda ex, k, s: spot_connector(ex, k, s, poll_interval=30.0, fast_poll_interval=30.0))


def test_engine_subscribes_again_after_the_order_socket_drops() -> None:
    _round(_ed25519_factory(), drop=True)


def test_engine_takes_the_events_on_an_aiohttp_order_socket() -> None:
    """The queue-mode socket (aiohttp's client, frames read in the session's loop) subscribes
    in a task of its own and hands the events over the same way."""
    from hbconnect.core.ws import WsConnection

    def factory(ex, key, secret):
        bot = spot_connector(ex, key, secret, poll_interval=30.0, fast_poll_interval=30.0)
        session = bot._orders.session
        session.lean, session.connection_class = False, WsConnection
        return bot
    _round(factory, drop=True)


class _NoSubscription(BinanceSpotTrading):
    """A venue whose WebSocket API refuses the user-data subscription (an unknown method)."""

    def ws_user_stream_message(self, request_id: str, timestamp_ms: int) -> str:
        return json.dumps({"id": request_id, "method": "userDataStream.unknown"})


def test_a_refused_subscription_falls_back_to_the_listen_key_stream() -> None:
    async def go() -> None:
        ex = _exchange()
        await ex.start()
        try:
            def factory(ex, key, secret):
                venue = _NoSubscription(key, secret, rest_url=ex.spot_rest_url, ws_url=ex.spot_ws_url)
                return Connector(venue, [PAIR], poll_interval=30.0, fast_poll_interval=30.0, rest_timeout=2.0)
            bot, taker, rec = await _started_maker_and_taker(ex, factory)
            stream = bot._user_stream
            assert stream.carrier is None and bot._orders.session.user_stream is None
            assert _listen_keys_of(ex, bot)  # the listen-key stream carries the events
            await _fill_and_cancel(bot, taker, rec)
            assert bot._orders.sent_ws >= 3
            await bot.stop()
            await taker.stop()
        finally:
            await ex.stop()
    run(go())


def test_ws_user_stream_false_keeps_the_listen_key_stream() -> None:
    async def go() -> None:
        ex = _exchange()
        await ex.start()
        try:
            key, secret = new_keys()
            ex.create_account(key, secret, balances={"USDT": D("100000")})
            bot = spot_connector(ex, key, secret, ws_user_stream=False)
            await bot.start()
            await bot.wait_until_ready(10)
            assert bot._user_stream.carrier is None and bot._orders.session.user_stream is None
            assert _listen_keys_of(ex, bot)
            await bot.stop()
        finally:
            await ex.stop()
    run(go())
