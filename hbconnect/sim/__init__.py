"""The embedded exchange: a matching engine behind Binance's own spot and USDⓈ-M futures protocols.

It runs on 127.0.0.1 (random free ports by default) and shares no code with
``hbconnect.exchanges`` or ``hbconnect.connector``: it implements the venue's side of the
protocol on its own (signature checks, message shapes), so a bug on one side cannot hide the
same bug on the other.

Usage::

    from decimal import Decimal
    from hbconnect.sim import EmbeddedExchange

    async with EmbeddedExchange(seed=0, pairs=("BTC-USDT", "ETH-USDT"), perp_pairs=("BTC-USDT",),
                                agent=True, funding_interval=60.0) as ex:
        acct = ex.create_account("mykey", "mysecret",
                                 balances={"USDT": Decimal("10000"), "BTC": Decimal("1")},
                                 futures_balances={"USDT": Decimal("10000")})
        ex.spot_rest_url      # http://127.0.0.1:P    -> /api/v3/...
        ex.spot_ws_url        # ws://127.0.0.1:P      -> /ws/<stream>, /stream?streams=..., /ws/<listenKey>
        ex.futures_rest_url   # http://127.0.0.1:Q    -> /fapi/...
        ex.futures_ws_url     # ws://127.0.0.1:Q      -> same paths (+ /public, /market, /private prefixes)

``await ex.start()`` / ``await ex.stop()`` work as well as ``async with``; a stop then start is an
exchange restart: state, ports and URLs are kept, every connection is dropped.

Endpoints.  Spot REST ``/api/v3``: ping, time, exchangeInfo, depth, trades, ticker/price,
ticker/bookTicker, ticker/24hr, order (POST/GET/DELETE), openOrders (GET/DELETE), account,
myTrades, userDataStream (POST/PUT/DELETE).  Futures REST ``/fapi``: v1 ping, time, exchangeInfo,
depth, trades, premiumIndex, fundingRate, ticker/price, ticker/bookTicker, ticker/24hr, order
(POST/GET/DELETE), openOrders, allOpenOrders, leverage, positionSide/dual (GET/POST), income,
userTrades, listenKey (POST/PUT/DELETE); v2 account, balance, positionRisk; v3 account,
positionRisk.  WebSocket (both): ``/ws``, ``/ws/<stream>[/<stream>...]``,
``/stream?streams=a/b`` (futures also under ``/public``, ``/market``, ``/private`` and
``?listenKey=``), streams ``<sym>@depth[@100ms|@1000ms]`` (futures ``@100ms|@250ms|@500ms``),
``<sym>@depth5|10|20``, ``@trade``, ``@aggTrade``, ``@bookTicker``, futures ``@markPrice[@1s]``,
a listenKey as a stream name; methods SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS /
SET_PROPERTY / GET_PROPERTY.  Spot ``/ws-api/v3`` (WebSocket API): ping, time,
``userDataStream.subscribe.signature`` / ``unsubscribe`` with events wrapped as
``{"subscriptionId": n, "event": {...}}``.  Limits as Binance: request weight per minute (spot
6000, futures 2400), orders per 10 s (100 / 300) and per day / minute, 429 + ``Retry-After`` then
418 bans, 5 (spot) / 10 (futures) incoming WS messages per second, WS pings every 20 s (spot) /
180 s (futures), connections closed after 24 h.  Pass ``spot_limits=RateLimits(...)`` to raise them
for soak tests.

Constructor knobs: ``seed`` (every RNG: agent, ids, faults), ``pairs`` / ``perp_pairs``
("BASE-QUOTE"; wire symbols are Binance's, e.g. ``BTCUSDT``), ``agent`` (a seeded market maker
quoting around a random-walk mid plus taker flow), ``agent_interval`` (s), ``seed_from_fixture``
(True or a path: shape the initial books after the recorded Binance depth snapshot in
``shared/fixtures/BINANCE.http.0.0``), ``start_prices``, ``funding_interval`` (s; None = off),
``funding_rate``, ``spot_port`` / ``futures_port``, ``faults`` (a :class:`FaultConfig`),
``spot_limits`` / ``futures_limits`` (:class:`RateLimits`), ``ping_interval`` (s, WS pings).

Accounts: ``ex.create_account(api_key, api_secret, balances=..., futures_balances=...,
ed25519_public_key=None, maker_fee=..., taker_fee=..., futures_maker_fee=..., futures_taker_fee=...,
dual_side=False, leverage={"BTC-USDT": 20})``.  Spot fees default to 0.1 % maker/taker, charged in
the asset received; futures 0.02 % / 0.05 % in USDT.  ``ex.deposit(api_key, asset, amount)``
pushes ``balanceUpdate``.

Truth for assertions (Python objects, Decimal money): ``ex.open_orders(api_key, symbol=None,
market="spot")``, ``ex.order(api_key, symbol, client_order_id, market="spot")``,
``ex.balances(api_key)`` -> {asset: (free, locked)}, ``ex.futures_balance(api_key)``,
``ex.positions(api_key)`` -> {(symbol, positionSide): {...}}, ``ex.trades(api_key,
market="spot")``, ``ex.income(api_key)``.  Perps: ``ex.set_mark_price(pair, price)``,
``ex.set_funding_rate(pair, rate)``, ``ex.run_funding()``.

Faults: ``ex.faults`` is a mutable :class:`FaultConfig` (drop / duplicate / delay / close WS
frames per kind ``market``/``user``; REST 429 + Retry-After, 5xx, slow answers; order timeouts and 5xx where
the order WAS accepted and where it was NOT); actions ``ex.close_sockets(kind=None)`` and
``ex.expire_listen_keys(api_key=None)`` (``listenKeyExpired`` then the stream closes; WebSocket-API
subscriptions get ``eventStreamTerminated``).  ``ex.injector.counts`` says what was injected.

Behaviour worth knowing: self-trade prevention defaults to Binance's ``EXPIRE_MAKER`` (the
resting order of the same account expires, status ``EXPIRED_IN_MATCH``); spot supports
LIMIT (GTC/IOC/FOK), LIMIT_MAKER (-2010 "Order would immediately match and take." if it would
cross) and MARKET (``quantity`` or ``quoteOrderQty``); futures LIMIT (GTC/IOC/FOK/GTX) and MARKET,
one-way and hedge mode (resting reduce-only and hedge close orders expire when their position
closes), leverage 1..125, ``-2019 Margin is insufficient.``; malformed numbers (sign, exponent,
NaN, more than 20 digits) get ``-1100`` as on Binance; depth streams carry
``U``/``u`` (and ``pu`` on futures) from the same counter as the REST snapshot's ``lastUpdateId``.
"""
from hbconnect.sim.accounts import Account
from hbconnect.sim.exchange import EmbeddedExchange
from hbconnect.sim.faults import FaultConfig
from hbconnect.sim.matching import MatchingEngine, Order, OrderRequest, SymbolSpec
from hbconnect.sim.server import RateLimits

__all__ = ["EmbeddedExchange", "FaultConfig", "RateLimits", "Account", "MatchingEngine", "Order",
           "OrderRequest", "SymbolSpec"]
