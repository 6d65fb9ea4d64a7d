"""Binance WebSocket API order entry: the signing example of Binance's docs, the messages the
translation builds, the embedded exchange's WebSocket API (envelopes, codes, session.logon with
Ed25519, rateLimits), and the engine trading over it end to end (spot and USDⓈ-M, HMAC and
Ed25519 keys), plus the order-rate accounting Binance documents."""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from types import SimpleNamespace

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from test_e2e_spot import PAIR, PRICE, SYMBOL, Recorder, new_keys, perp_connector, run, spot_connector, wait_for

from hbconnect.connector import Connector
from hbconnect.connector.contract import AccountSettings
from hbconnect.core.credentials import Credentials
from hbconnect.core.events import MarketEvent
from hbconnect.core.throttler import Throttler
from hbconnect.core.types import OrderType, TradeType
from hbconnect.exchanges.binance import BinancePerpetualTrading, BinanceSpotTrading
from hbconnect.exchanges.binance.constants import ORDERS_10S, ORDERS_1D, REQUEST_WEIGHT, perp_rate_limits, spot_rate_limits
from hbconnect.exchanges.binance.ws_api import ws_signature_payload
from hbconnect.sim import EmbeddedExchange

D = Decimal
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def _order(pair: str = PAIR, cid: str = "x-HBCONNtest1") -> SimpleNamespace:
    return SimpleNamespace(trading_pair=pair, trade_type=TradeType.SELL, amount=D("0.01"), price=D("52000"),
                           order_type=OrderType.LIMIT, client_order_id=cid, position=None)


# ---- signing: Binance's published example ("SIGNED request example (HMAC)", WebSocket API) ----

def test_hmac_signature_reproduces_binance_ws_api_example() -> None:
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
              "quantity": "0.01000000", "price": "52000.00", "newOrderRespType": "ACK",
              "recvWindow": 100, "timestamp": 1645423376532, "apiKey": DOC_KEY}
    payload = ws_signature_payload(params)
    assert payload == ("apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&newOrderRespType=ACK"
                       "&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT"
                       "&timeInForce=GTC&timestamp=1645423376532&type=LIMIT")
    assert Credentials(DOC_KEY, DOC_SECRET).hmac_sha256_hex(payload) == \
        "cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb454ddbd08a"


def test_place_and_cancel_messages_are_signed_sorted_and_typed() -> None:
    venue = BinanceSpotTrading(DOC_KEY, DOC_SECRET)
    venue.instruments.load([])
    venue.to_venue_symbol = lambda pair: pair.replace("-", "")  # type: ignore[method-assign]
    msg = json.loads(venue.ws_place_order_message(_order(), AccountSettings(), "7", 1645423376532))
    assert msg["id"] == "7" and msg["method"] == "order.place"
    p = msg["params"]
    assert p["timestamp"] == 1645423376532 and p["recvWindow"] == 5000  # JSON integers
    assert p["price"] == "52000" and p["quantity"] == "0.01" and p["symbol"] == "BTCUSDT"
    assert p["apiKey"] == DOC_KEY
    assert p["signature"] == Credentials(DOC_KEY, DOC_SECRET).hmac_sha256_hex(ws_signature_payload(p))
    cancel = json.loads(venue.ws_cancel_order_message(_order(), "8", 1645423376533))
    assert cancel["method"] == "order.cancel" and cancel["params"]["origClientOrderId"] == "x-HBCONNtest1"
    assert venue.ws_order_login(1) is None  # HMAC keys sign every request


def test_ed25519_key_logs_the_session_on_and_sends_unsigned_requests() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    venue = BinanceSpotTrading("edkey", None, private_key_pem=pem)
    venue.to_venue_symbol = lambda pair: pair.replace("-", "")  # type: ignore[method-assign]
    logon = json.loads(venue.ws_order_login(1649729878532))
    assert logon["method"] == "session.logon"
    p = logon["params"]
    assert set(p) == {"apiKey", "timestamp", "signature"}
    import base64
    key.public_key().verify(base64.b64decode(p["signature"]), ws_signature_payload(p).encode())
    place = json.loads(venue.ws_place_order_message(_order(), AccountSettings(), "1", 1649729878600))
    assert "signature" not in place["params"] and "apiKey" not in place["params"]
    assert place["params"]["timestamp"] == 1649729878600


def test_replies_are_classified_with_the_venues_counts() -> None:
    venue = BinanceSpotTrading(DOC_KEY, DOC_SECRET)
    ok = venue.parse_ws_order_reply(json.dumps({
        "id": "3", "status": 200, "result": {"orderId": 1},
        "rateLimits": [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50, "count": 12},
                       {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000, "count": 4043},
                       {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000, "count": 321}]}))
    assert ok.request_id == "3" and ok.data == {"orderId": 1} and ok.error is None
    assert ok.usage == {ORDERS_10S: 12, ORDERS_1D: 4043, REQUEST_WEIGHT: 321}
    bad = venue.parse_ws_order_reply(json.dumps({
        "id": "4", "status": 400, "error": {"code": -2010, "msg": "Account has insufficient balance for requested action."}}))
    assert type(bad.error).__name__ == "InsufficientBalance" and bad.error.code == -2010
    limited = venue.parse_ws_order_reply(json.dumps({
        "id": "5", "status": 429, "error": {"code": -1003, "msg": "Too much request weight used",
                                            "data": {"serverTime": 1000, "retryAfter": 3500}}}))
    assert type(limited.error).__name__ == "RateLimitError" and limited.error.retry_after == 2.5
    # a user-data event of a subscription on this socket (the docs' "Event format" example)
    data = venue.parse_ws_order_reply(json.dumps({"subscriptionId": 0, "event": {
        "e": "outboundAccountPosition", "E": 1728972148778, "u": 1728972148778,
        "B": [{"a": "BTC", "f": "11818.00000000", "l": "182.00000000"}]}}))
    assert type(data).__name__ == "WsUserData" and len(data.events) == 1
    [entry] = data.events[0].entries
    assert (entry.asset, entry.total, entry.available) == ("BTC", Decimal("12000"), Decimal("11818"))
    assert data.events[0].timestamp == 1728972148.778
    # id null, 401: the logged-on session was revoked (tests/test_ws_order_session_end.py)
    assert venue.parse_ws_order_reply(json.dumps({"id": None, "status": 401, "error": {"code": -2015}})).revoked
    assert venue.parse_ws_order_reply(json.dumps({"id": None, "status": 400, "error": {"code": -1000}})) is None


def test_ws_api_url_default_and_local() -> None:
    assert BinanceSpotTrading("k", "s").ws_order_url() == "wss://ws-api.binance.com:443/ws-api/v3"
    assert BinancePerpetualTrading("k", "s").ws_order_url() == "wss://ws-fapi.binance.com/ws-fapi/v1"
    assert BinanceSpotTrading("k", "s", ws_url="ws://127.0.0.1:9").ws_order_url() == "ws://127.0.0.1:9/ws-api/v3"
    assert BinancePerpetualTrading("k", "s", ws_url="ws://127.0.0.1:9").ws_order_url() == "ws://127.0.0.1:9/ws-fapi/v1"


# ---- order-rate accounting ----

def test_cancels_cost_request_weight_only_and_orders_count_new_orders() -> None:
    now = [0.0]
    venue = BinanceSpotTrading(DOC_KEY, DOC_SECRET, rate_limits=spot_rate_limits(orders_per_10s=10))
    venue.to_venue_symbol = lambda pair: pair.replace("-", "")  # type: ignore[method-assign]
    throttler = Throttler(venue.rate_limits, safety_margin=0.0, time_fn=lambda: now[0])

    async def go() -> None:
        place = venue.prepare(venue.place_order_request(_order(), AccountSettings()), 1)
        cancel = venue.prepare(venue.cancel_order_request(_order()), 1)
        assert cancel.limit_id == venue.ws_cancel_limit_id != place.limit_id == venue.ws_place_limit_id
        for _ in range(10):
            await throttler.acquire(place.limit_id)
        for _ in range(50):  # cancels never wait on the full order budget
            assert await throttler.acquire(cancel.limit_id) == 0.0
        assert throttler.usage(ORDERS_10S)[0] == 10
        assert throttler.usage(REQUEST_WEIGHT)[0] == 60
    asyncio.run(go())
    perp = BinancePerpetualTrading(DOC_KEY, DOC_SECRET)
    perp.to_venue_symbol = lambda pair: pair.replace("-", "")  # type: ignore[method-assign]
    t = Throttler(perp_rate_limits(), time_fn=lambda: now[0])
    asyncio.run(t.acquire(perp.prepare(perp.cancel_order_request(_order()), 1).limit_id))
    assert t.usage(ORDERS_10S)[0] == 0 and t.usage(REQUEST_WEIGHT)[0] == 1


def test_first_fill_release_and_following_the_venues_count() -> None:
    now = [0.0]
    throttler = Throttler(spot_rate_limits(orders_per_10s=4), safety_margin=0.0, time_fn=lambda: now[0])

    async def go() -> None:
        for _ in range(4):
            await throttler.acquire("/api/v3/order")
        throttler.release(ORDERS_10S, 1)  # an order's first fill
        assert throttler.usage(ORDERS_10S)[0] == 3
        assert await throttler.acquire("/api/v3/order") == 0.0  # room again at once
        throttler.follow({ORDERS_10S: 2})  # lower than ours: in-flight orders are not in it yet
        assert throttler.usage(ORDERS_10S)[0] == 4
        throttler.follow({REQUEST_WEIGHT: 500})  # other clients on the account: taken on
        assert throttler.usage(REQUEST_WEIGHT)[0] == 500
        now[0] = 10.5  # the window passes: every entry and the release are gone
        assert throttler.usage(ORDERS_10S)[0] == 0
    asyncio.run(go())


def test_rest_headers_give_the_venues_counts() -> None:
    venue = BinanceSpotTrading(DOC_KEY, DOC_SECRET)
    assert venue.rate_limit_usage({"X-MBX-USED-WEIGHT-1M": "31", "X-MBX-ORDER-COUNT-10S": "3",
                                   "X-MBX-ORDER-COUNT-1D": "41", "Content-Type": "x"}) == \
        {REQUEST_WEIGHT: 31, ORDERS_10S: 3, ORDERS_1D: 41}
    perp = BinancePerpetualTrading(DOC_KEY, DOC_SECRET)
    assert perp.rate_limit_usage({"X-MBX-ORDER-COUNT-1M": "7", "X-MBX-ORDER-COUNT-1D": "x"}) == {"ORDERS_1M": 7}


# ---- the embedded exchange's WebSocket API ----

def _ed25519_pair():
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, pem, pub


def ed25519_connector_factory(**connector_kwargs):
    """A connector factory ``(ex, key, secret)`` trading BTC-USDT spot on a fresh Ed25519 account
    (the sim opens it with the key pair's public key; ``key`` names it, ``secret`` is unused)."""
    _, pem, pub = _ed25519_pair()

    def factory(ex, key, secret):
        ex.create_account("ed" + key[:30], "", balances={"USDT": D("100000"), "BTC": D("2")}, ed25519_public_key=pub)
        venue = BinanceSpotTrading("ed" + key[:30], None, private_key_pem=pem, rest_url=ex.spot_rest_url,
                                   ws_url=ex.spot_ws_url)
        return Connector(venue, [PAIR], rest_timeout=2.0, **connector_kwargs)
    return factory


def test_sim_ws_api_envelopes_codes_logon_and_rate_limits() -> None:
    async def go() -> None:
        ex = EmbeddedExchange(seed=3, pairs=(PAIR,), perp_pairs=(), agent=False, funding_interval=None)
        await ex.start()
        try:
            key, secret = new_keys()
            ex.create_account(key, secret, balances={"USDT": D("100000"), "BTC": D("2")})
            venue = BinanceSpotTrading(key, secret, rest_url=ex.spot_rest_url, ws_url=ex.spot_ws_url)
            venue.to_venue_symbol = lambda pair: pair.replace("-", "")  # type: ignore[method-assign]
            async with aiohttp.ClientSession() as s, s.ws_connect(venue.ws_order_url()) as ws:
                ts = ex.spot.server_time()
                await ws.send_str(venue.ws_place_order_message(_order(cid="wsapi1"), AccountSettings(), "a", ts))
                placed = json.loads((await ws.receive()).data)
                assert placed["id"] == "a" and placed["status"] == 200
                assert placed["result"]["clientOrderId"] == "wsapi1" and placed["result"]["status"] == "NEW"
                kinds = {(r["rateLimitType"], r["interval"]): r["count"] for r in placed["rateLimits"]}
                assert kinds[("ORDERS", "SECOND")] == 1 and kinds[("ORDERS", "DAY")] == 1
                await ws.send_str(venue.ws_cancel_order_message(_order(cid="wsapi1"), "b", ts + 1))
                cancelled = json.loads((await ws.receive()).data)
                assert cancelled["status"] == 200 and cancelled["result"]["status"] == "CANCELED"
                assert [r["rateLimitType"] for r in cancelled["rateLimits"]] == ["REQUEST_WEIGHT"]
                # a wrong signature: -1022, and nothing placed
                bad = json.loads(venue.ws_place_order_message(_order(cid="wsapi2"), AccountSettings(), "c", ts + 2))
                bad["params"]["signature"] = "0" * 64
                await ws.send_str(json.dumps(bad))
                refused = json.loads((await ws.receive()).data)
                assert refused["status"] == 400 and refused["error"]["code"] == -1022
                assert ex.order(key, SYMBOL, "wsapi2") is None
                # session.logon: Ed25519 keys only
                await ws.send_str(json.dumps({"id": "l", "method": "session.logon",
                                              "params": {"apiKey": key, "timestamp": ts, "signature": "x"}}))
                logon = json.loads((await ws.receive()).data)
                assert logon["status"] == 401 and logon["error"]["code"] == -1002
                await ws.send_str(json.dumps({"id": "u", "method": "order.nothing"}))
                assert json.loads((await ws.receive()).data)["error"]["code"] == -1020
            # Ed25519: logon verifies the signature, then unsigned requests act for the account
            _, pem, pub = _ed25519_pair()
            ex.create_account("edkey" + key[:20], "", balances={"USDT": D("100000")}, ed25519_public_key=pub)
            ed = BinanceSpotTrading("edkey" + key[:20], None, private_key_pem=pem, ws_url=ex.spot_ws_url)
            ed.to_venue_symbol = lambda pair: pair.replace("-", "")  # type: ignore[method-assign]
            async with aiohttp.ClientSession() as s, s.ws_connect(ed.ws_order_url()) as ws:
                await ws.send_str(ed.ws_place_order_message(_order(cid="early"), AccountSettings(), "0", ts))
                assert json.loads((await ws.receive()).data)["error"]["code"] == -1102  # apiKey missing
                await ws.send_str(ed.ws_order_login(ex.spot.server_time()))
                frame = (await ws.receive()).data
                assert ed.parse_login_reply(frame) is True
                assert json.loads(frame)["result"]["apiKey"] == ed.credentials.api_key
                order = _order(cid="edorder")
                order.trade_type = TradeType.BUY
                order.price = D("50000")
                await ws.send_str(ed.ws_place_order_message(order, AccountSettings(), "1", ex.spot.server_time()))
                reply = ed.parse_ws_order_reply((await ws.receive()).data)
                assert reply.error is None and reply.data["clientOrderId"] == "edorder"
                assert ex.order(ed.credentials.api_key, SYMBOL, "edorder").status == "NEW"
        finally:
            await ex.stop()
    run(go())


def test_sim_first_fill_takes_the_order_off_the_unfilled_count() -> None:
    async def go() -> None:
        ex = EmbeddedExchange(seed=3, pairs=(PAIR,), perp_pairs=(), agent=False, funding_interval=None)
        await ex.start()
        try:
            accounts = []
            for _ in range(2):
                key, secret = new_keys()
                ex.create_account(key, secret, balances={"USDT": D("100000"), "BTC": D("2")})
                v = BinanceSpotTrading(key, secret, ws_url=ex.spot_ws_url)
                v.to_venue_symbol = lambda pair: pair.replace("-", "")  # type: ignore[method-assign]
                accounts.append(v)
            maker, taker = accounts
            async with aiohttp.ClientSession() as s, s.ws_connect(maker.ws_order_url()) as ws:
                async def call(v, order, rid):
                    await ws.send_str(v.ws_place_order_message(order, AccountSettings(), rid, ex.spot.server_time()))
                    return json.loads((await ws.receive()).data)
                sell = _order(cid="m1")
                sell.amount, sell.price = D("0.001"), PRICE
                counts = {r["interval"]: r["count"] for r in (await call(maker, sell, "1"))["rateLimits"]
                          if r["rateLimitType"] == "ORDERS"}
                assert counts == {"SECOND": 1, "DAY": 1}
                buy = _order(cid="t1")
                buy.trade_type, buy.amount, buy.price = TradeType.BUY, D("0.001"), PRICE
                await call(taker, buy, "2")  # fills both: each order's first fill
                again = _order(cid="m2")
                again.amount, again.price = D("0.001"), D("70000")
                counts = {r["interval"]: r["count"] for r in (await call(maker, again, "3"))["rateLimits"]
                          if r["rateLimitType"] == "ORDERS"}
                assert counts == {"SECOND": 1, "DAY": 1}  # 1 + 1 new - 1 filled
        finally:
            await ex.stop()
    run(go())


# ---- the engine over the WebSocket API, end to end ----

def _trade_round(connector_factory, market: str) -> None:
    async def go() -> None:
        perp = market == "perp"
        ex = EmbeddedExchange(seed=5, pairs=() if perp else (PAIR,), perp_pairs=(PAIR,) if perp else (),
                              agent=False, funding_interval=None)
        await ex.start()
        try:
            key, secret = new_keys()
            if perp:
                ex.create_account(key, secret, futures_balances={"USDT": D("100000")})
            else:
                ex.create_account(key, secret, balances={"USDT": D("100000"), "BTC": D("2")})
            bot = connector_factory(ex, key, secret)
            rec = Recorder(bot)
            await bot.start()
            await bot.wait_until_ready(10)
            await wait_for(lambda: bot._orders.session is not None and bot._orders.session.ready, 10, "order entry")
            rest_before = bot._rest.requests
            oid = bot.buy(PAIR, D("0.003"), OrderType.LIMIT, D("50000"))
            await wait_for(lambda: rec.of(MarketEvent.BuyOrderCreated, oid), what="created")
            bot.cancel(PAIR, oid)
            await wait_for(lambda: rec.of(MarketEvent.OrderCancelled, oid), what="cancelled")
            assert bot._orders.sent_ws == 2 and bot._orders.sent_rest == 0
            assert bot._rest.requests - rest_before <= 3  # background polls only, no order over REST
            await bot.stop()
        finally:
            await ex.stop()
    run(go())


def test_engine_trades_binance_spot_over_the_ws_api() -> None:
    _trade_round(spot_connector, "spot")


def test_engine_trades_binance_usdm_over_the_ws_api() -> None:
    _trade_round(perp_connector, "perp")


def test_engine_trades_over_an_ed25519_logged_on_session() -> None:
    _trade_round(ed25519_connector_factory(poll_interval=1.0, fast_poll_interval=0.2), "spot")


def test_sim_ws_api_rate_limits_can_be_hidden_per_connection_or_request() -> None:
    async def go() -> None:
        ex = EmbeddedExchange(seed=3, pairs=(PAIR,), perp_pairs=(), agent=False, funding_interval=None)
        await ex.start()
        try:
            async with aiohttp.ClientSession() as s, \
                    s.ws_connect(ex.spot_ws_url + "/ws-api/v3?returnRateLimits=false") as ws:
                await ws.send_str(json.dumps({"id": 1, "method": "ping"}))
                assert json.loads((await ws.receive()).data) == {"id": 1, "status": 200, "result": {}}
                await ws.send_str(json.dumps({"id": 2, "method": "ping", "params": {"returnRateLimits": True}}))
                assert json.loads((await ws.receive()).data)["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
        finally:
            await ex.stop()
    run(go())


def test_rate_limit_counts_skip_malformed_entries_and_repeat_alike() -> None:
    venue = BinanceSpotTrading(DOC_KEY, DOC_SECRET)
    good = {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50, "count": 3}
    bad = [None, "x", [], {}, {"rateLimitType": "ORDERS"}, {**good, "intervalNum": [1]}, {**good, "count": "many"},
           {**good, "interval": "FORTNIGHT"}, {**good, "rateLimitType": "RAW_REQUESTS"}]
    for _ in range(2):  # the second pass reads the learned kinds
        assert venue.parse_rate_limit_counts(bad + [good]) == {ORDERS_10S: 3}
        assert venue.parse_rate_limit_counts([{**good, "count": "7"}]) == {ORDERS_10S: 7}
    assert venue.parse_rate_limit_counts({"not": "a list"}) == {}
