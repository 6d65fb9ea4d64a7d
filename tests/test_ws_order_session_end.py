"""The order-entry session ending under the engine (Binance WebSocket API): a revoked
``session.logon`` (Binance: ``{"id": null, "status": 401, -2015}`` after the next request) and
the ``serverShutdown`` notice, against the embedded exchange. The request the revocation
answered is never re-sent; the session logs in again; orders go over REST meanwhile."""
from __future__ import annotations

import json
from decimal import Decimal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from test_e2e_spot import PAIR, SYMBOL, Recorder, new_keys, run, wait_for

from hbconnect.connector import Connector
from hbconnect.connector.contract import WsOrderReply, WsSessionNotice
from hbconnect.core.events import MarketEvent
from hbconnect.core.types import OrderType
from hbconnect.exchanges.binance import BinanceSpotTrading
from hbconnect.sim import EmbeddedExchange

D = Decimal


def test_revocation_and_shutdown_frames_are_session_notices() -> None:
    v = BinanceSpotTrading("k", "s")
    revoked = v.parse_ws_order_reply(json.dumps({"id": None, "status": 401, "error": {
        "code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}}))
    assert isinstance(revoked, WsSessionNotice) and revoked.revoked and "-2015" in revoked.reason
    shutdown = v.parse_ws_order_reply(json.dumps({"event": {"e": "serverShutdown", "E": 1770123456789}}))
    assert isinstance(shutdown, WsSessionNotice) and not shutdown.revoked
    # an id-less answer that is not a revocation (a malformed request) ends nothing
    assert v.parse_ws_order_reply(json.dumps({"id": None, "status": 400, "error": {"code": -1000}})) is None
    reply = v.parse_ws_order_reply(json.dumps({"id": "7", "status": 200, "result": {"orderId": 1}}))
    assert isinstance(reply, WsOrderReply) and reply.request_id == "7"


async def _ed25519_bot(ex: EmbeddedExchange):
    key_obj = ed25519.Ed25519PrivateKey.generate()
    pem = key_obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pub = key_obj.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key = "ed" + new_keys()[0][:30]
    ex.create_account(key, "", balances={"USDT": D("100000"), "BTC": D("2")}, ed25519_public_key=pub)
    venue = BinanceSpotTrading(key, None, private_key_pem=pem, rest_url=ex.spot_rest_url, ws_url=ex.spot_ws_url)
    bot = Connector(venue, [PAIR], poll_interval=1.0, fast_poll_interval=0.2, rest_timeout=2.0)
    rec = Recorder(bot)
    await bot.start()
    await bot.wait_until_ready(10)
    session = bot._orders.session
    assert session is not None
    session.backoff.base = 0.01  # the re-login comes quickly in the test
    await wait_for(lambda: session.ready, 10, "order entry logged in")
    return bot, rec, key, session


def test_revoked_session_logs_in_again_and_never_resends_the_unanswered_cancel() -> None:
    async def go() -> None:
        ex = EmbeddedExchange(seed=5, pairs=(PAIR,), perp_pairs=(), agent=False, funding_interval=None)
        await ex.start()
        try:
            bot, rec, key, session = await _ed25519_bot(ex)
            oid = bot.buy(PAIR, D("0.003"), OrderType.LIMIT, D("50000"))
            await wait_for(lambda: rec.of(MarketEvent.BuyOrderCreated, oid), what="created")
            assert ex.spot.revoke_ws_sessions(key) == 1
            ws_before, rest_before = bot._orders.sent_ws, bot._orders.sent_rest
            # the cancel is the "next request": answered only by the revocation, not acted on
            done = await bot._cancel_task(PAIR, oid)
            assert done is False
            assert session.revocations == 1
            assert ex.order(key, SYMBOL, oid).status == "NEW"  # not cancelled, not re-sent on REST
            assert bot._orders.sent_rest == rest_before and bot._orders.sent_ws == ws_before
            assert not rec.of(MarketEvent.OrderCancelled, oid)
            # a fresh session.logon on a new connection; the order is cancelled over it
            await wait_for(lambda: session.ready and session.connects == 2, 10, "logged in again")
            assert await bot._cancel_task(PAIR, oid) is True
            assert ex.order(key, SYMBOL, oid).status == "CANCELED"
            assert bot._orders.sent_ws == ws_before + 1 and bot._orders.sent_rest == rest_before
            await bot.stop()
        finally:
            await ex.stop()
    run(go())


def test_server_shutdown_moves_the_order_socket_to_a_new_connection() -> None:
    async def go() -> None:
        ex = EmbeddedExchange(seed=5, pairs=(PAIR,), perp_pairs=(), agent=False, funding_interval=None)
        await ex.start()
        try:
            bot, rec, key, session = await _ed25519_bot(ex)
            assert ex.spot.ws_api_server_shutdown() == 1
            await wait_for(lambda: session.shutdown_notices == 1, 10, "shutdown notice")
            await wait_for(lambda: session.ready and session.connects == 2, 10, "new connection")
            assert session.revocations == 0
            oid = bot.buy(PAIR, D("0.003"), OrderType.LIMIT, D("50000"))
            await wait_for(lambda: rec.of(MarketEvent.BuyOrderCreated, oid), what="created")
            assert ex.order(key, SYMBOL, oid).status == "NEW"
            assert bot._orders.sent_rest == 0
            await bot.stop()
        finally:
            await ex.stop()
    run(go())
