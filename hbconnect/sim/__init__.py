"""The embedded exchange: a neutral matching core behind venue protocol front ends.

It runs on 127.0.0.1 (random free ports by default) and shares no code with
``hbconnect.exchanges`` or ``hbconnect.connector``: it implements each venue's side of the
protocol on its own (signature checks, message shapes), so a bug on one side cannot hide the
same bug on the other.

Layout.  The *core* is venue-neutral: ``matching.py`` (price-time matching per market, one
:class:`MatchingEngine` for spot and one for perpetuals), ``accounts.py`` (spot balances,
perpetual wallets, positions, leverage, position mode, funding), ``agent.py`` (seeded market
flow), ``faults.py`` (the fault knobs) and ``errors.py``: the core refuses actions by raising
``SimReject(reason, detail)`` with a neutral :class:`~hbconnect.sim.errors.Reject` reason
(``INSUFFICIENT_BALANCE``, ``UNKNOWN_ORDER``, ``DUPLICATE_CLIENT_ID``, ``POST_ONLY_WOULD_TAKE``,
``REDUCE_ONLY_REJECTED``, ``POSITION_MODE_MISMATCH``, ``LEVERAGE_INVALID`` ...), never a venue
code.  ``server.py`` is the venue-neutral web machinery; each venue is a module that builds
front ends on it (``binance.py``: ``binance_spot.py`` + ``binance_futures.py`` over the shared
``binance_base.py``).

Writing a front end (the interface OKX, Bybit and the next venues plug into):

* subclass :class:`hbconnect.sim.server.FrontEnd` (one aiohttp app, one port); set ``venue``,
  ``market`` (a label), ``ping_interval``, ``ws_incoming_per_second``; the constructor gets
  ``(exchange, engine_or_engines, exchange.injector, seed=..., ping_interval=...)``: a front end
  serving spot and perpetuals on one host takes ``[exchange.spot_engine,
  exchange.futures_engine]`` and overrides ``on_event(engine, ev)`` / ``on_trade(engine, fill)``
  (single-engine ones implement ``on_engine_event(ev)`` / ``on_fill(fill)``);
* ``add_routes()``: REST with ``self.route(method, path, handler, order=..., fault_exempt=...,
  **meta)`` (the handler gets ``(request, req, account)``, returns the JSON result); WebSocket
  endpoints with ``self.app.router.add_get(path, h)`` where ``h`` returns
  ``await self.serve_ws(request, on_text, setup=...)``;
* the REST pipeline calls the venue's hooks in order: ``read_request`` (parse; JSON or form),
  ``admit`` (rate limits), the generic faults, ``authenticate`` (signing, passphrase, clock
  window; returns the :class:`Account` from ``exchange.account_by_key``), ``admit_order``,
  the handler, ``ok_response``.  Errors: raise a :class:`~hbconnect.sim.server.WireError`
  subclass (status, JSON body, headers: an HTTP 200 body carrying an error code is just a
  ``WireError(200, {...})``); a core ``SimReject`` goes to ``reject_error(e, route)``, which
  maps the reason to the venue's code and message (Binance: ``binance_base.REJECTS`` plus
  per-market ``rejects`` overrides); ``internal_error(status)`` answers 404/405/413/500;
* fault knobs (:mod:`hbconnect.sim.faults`): the pipeline draws them; the venue only says what
  each looks like in ``fault_error(kind)`` for ``429``, ``5xx``, ``order_rejected`` (not done),
  ``order_unknown`` (done, answer lost) and ``hang``; WebSocket frames go through
  ``conn.send_text(text, "market" | "user")`` (drop / duplicate / delay / close), control
  answers through ``conn.send_raw``; ``exchange.close_sockets`` uses ``conn.streams`` /
  ``conn.is_user`` (``user_subs``, ``sessions``, ``owner``: set them on login / subscribe);
* pushes: ``push_market(topic, payload)`` to sessions with the topic in ``conn.streams``
  (envelope by ``market_frame``), ``push_user(owner, payload)`` via ``user_targets(owner)``;
  ``tick(now)`` runs every ``tick_seconds`` for periodic pushes (``self.due(key, now, period)``)
  and ``book_changes(book, since_id)`` gives the level changes of a diff-depth stream;
* orders enter the core as ``engine.submit(account_id, OrderRequest(symbol, side "BUY"/"SELL",
  type "LIMIT"/"MARKET", time_in_force GTC/IOC/FOK/POST_ONLY, quantity or quote_qty, price,
  client_order_id, stp_mode NONE/CANCEL_TAKER/CANCEL_MAKER/CANCEL_BOTH, reduce_only,
  position_side NET/LONG/SHORT))`` — the core's own words (``vocabulary.py``), which the front
  end maps to and from its venue's wire values; ``engine.cancel`` / ``query`` / ``cancel_all`` / ``open_orders``; perps
  settings through ``engine.ledger.set_leverage`` / ``set_position_mode``; events arrive as
  ``OrderEvent`` (exec type NEW / TRADE / CANCELED / EXPIRED / PREVENTED, with the fill and its
  fee) and ``AccountEvent``;
* register the venue: a module with ``front_ends(exchange, *, ping_interval=None, **options)
  -> {"<venue>[.<market>]": FrontEnd}`` and one line in ``exchange.VENUE_MODULES``.
  ``EmbeddedExchange(venues=("binance", "okx"), ports={"okx": 0}, venue_options={"okx":
  {...}})`` builds them over the same engines and accounts (one book per market, several
  protocols); ``ex.front("okx").rest_url`` / ``.ws_url``.  Engine symbols are ``BASE+QUOTE``
  (``BTCUSDT``); ``SymbolSpec.base`` / ``quote`` / ``pair`` give a venue its own names.

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
        ex.front("binance.spot") is ex.spot   # front ends by name (venues=("binance", ...))

``await ex.start()`` / ``await ex.stop()`` work as well as ``async with``; a stop then start is an
exchange restart: state, ports and URLs are kept, every connection is dropped.

Binance endpoints.  Spot REST ``/api/v3``: ping, time, exchangeInfo, depth, trades, aggTrades,
klines, ticker/price, ticker/bookTicker, ticker/24hr, order (POST/GET/DELETE), openOrders
(GET/DELETE), allOrders, account, myTrades, userDataStream (POST/PUT/DELETE); ``/sapi/v1``:
capital/config/getall (no chains: empty ``networkList``), asset/tradeFee, margin/allPairs and
margin/isolated/allPairs (empty: no margin trading).  Futures REST ``/fapi``: v1 ping, time,
exchangeInfo, depth, trades, aggTrades, klines, premiumIndex, fundingRate, ticker/price,
ticker/bookTicker, ticker/24hr, order (POST/GET/DELETE), openOrders, allOrders, allOpenOrders,
leverage, leverageBracket, marginType (CROSSED / ISOLATED per symbol; -4046 no change, -4047 open orders, -4048 a position),
commissionRate, positionSide/dual (GET/POST), income, userTrades, listenKey (POST/PUT/DELETE);
v2 account, balance, positionRisk; v3 account, positionRisk; ``/dapi/v1/exchangeInfo`` (no
COIN-M contract listed).  WebSocket (both): ``/ws``, ``/ws/<stream>[/<stream>...]``,
``/stream?streams=a/b``, ``/ws/<n>`` / ``/stream/<n>`` with a number ``n`` (ccxt.pro's
connection names) (futures also under ``/public``, ``/market``, ``/private``
and ``?listenKey=``), streams ``<sym>@depth[@100ms|@1000ms]`` (futures ``@100ms|@250ms|@500ms``),
``<sym>@depth5|10|20``, ``@trade``, ``@aggTrade``, ``@bookTicker``, ``@ticker``, ``@miniTicker``,
``@kline_<interval>``, ``!ticker@arr``, ``!miniTicker@arr``, futures ``@markPrice[@1s]``,
``!markPrice@arr[@1s]``, ``!bookTicker``, ``@forceOrder`` / ``!forceOrder@arr`` (silent: no
liquidations), a listenKey as a stream name; methods
SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY.  WebSocket API
(order entry), spot ``/ws-api/v3`` and futures ``/ws-fapi/v1``: ``{id, method, params}`` ->
``{id, status, result | error, rateLimits}`` (``returnRateLimits=false`` in the URL or a request
hides them); ping, time, ``order.place`` / ``order.cancel`` / ``order.status`` (the REST
handlers, order-count limit and order fault knobs; signed over all params sorted by name, HMAC
or Ed25519), ``session.logon`` (Ed25519 keys only; later requests need only ``timestamp``) /
``session.status`` / ``session.logout``; spot also ``userDataStream.subscribe.signature`` /
``unsubscribe`` with events wrapped as ``{"subscriptionId": n, "event": {...}}``.  Limits as
Binance: request weight per minute (spot 6000, futures 2400), orders per 10 s (100 / 300) and
per day / minute (new orders only; spot takes an order off at its first fill, the "unfilled
order count"), 429 + ``Retry-After`` then
418 bans, 5 (spot) / 10 (futures) incoming WS messages per second, WS pings every 20 s (spot) /
180 s (futures), connections closed after 24 h.  Pass ``spot_limits=RateLimits(...)`` to raise them
for soak tests.

Constructor knobs: ``seed`` (every RNG: agent, ids, faults), ``pairs`` / ``perp_pairs``
("BASE-QUOTE"; each front end writes them in its venue's form, e.g. ``BTCUSDT``, ``BTC-USDT-SWAP``), ``agent`` (a seeded market maker
quoting around a random-walk mid plus taker flow), ``agent_interval`` (s), ``seed_from_fixture``
(True: shape the initial books after the recorded Binance depth snapshot shipped as package
data, ``hbconnect/sim/data/binance_depth_snapshot.txt``; or the path of a recording file with a
REST depth line; an unreadable path or one without a snapshot raises ``FixtureError``, a
``ValueError``), ``start_prices``, ``funding_interval`` (s; None = off),
``funding_rate``, ``spot_port`` / ``futures_port``, ``faults`` (a :class:`FaultConfig`),
``spot_limits`` / ``futures_limits`` (:class:`RateLimits`), ``ping_interval`` (s, WS pings),
``venues`` (default ``("binance",)``), ``ports`` (front-end name -> port) and ``venue_options``
(venue -> keyword options of its ``front_ends``).

Accounts (one per API key, shared by every venue served): ``ex.create_account(api_key, api_secret,
balances=..., futures_balances=..., ed25519_public_key=None, passphrase="", maker_fee=..., taker_fee=..., futures_maker_fee=..., futures_taker_fee=...,
hedge_mode=False, leverage={"BTC-USDT": 20})``.  Spot fees default to 0.1 % maker/taker, charged in
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

Behaviour worth knowing (Binance): self-trade prevention defaults to ``EXPIRE_MAKER`` (the
resting order of the same account expires, status ``EXPIRED_IN_MATCH``); spot supports
LIMIT (GTC/IOC/FOK), LIMIT_MAKER (-2010 "Order would immediately match and take." if it would
cross) and MARKET (``quantity`` or ``quoteOrderQty``), amounts with at most 8 decimals (more:
``-1111``), any other ``type`` ``-1116 Invalid orderType.``; futures LIMIT (GTC/IOC/FOK/GTX) and MARKET,
one-way and hedge mode (resting reduce-only and hedge close orders expire when their position
closes), leverage 1..125, ``-2019 Margin is insufficient.``; malformed numbers (sign, exponent,
NaN, more than 20 digits) get ``-1100`` as on Binance; depth streams carry
``U``/``u`` (and ``pu`` on futures) from the same counter as the REST snapshot's ``lastUpdateId``.
"""
from hbconnect.sim.accounts import Account
from hbconnect.sim.binance_base import RateLimits
from hbconnect.sim.errors import Reject, SimReject
from hbconnect.sim.exchange import EmbeddedExchange
from hbconnect.sim.faults import FaultConfig
from hbconnect.sim.matching import MatchingEngine, Order, OrderRequest, SymbolSpec
from hbconnect.sim.server import FrontEnd, WireError

__all__ = ["EmbeddedExchange", "FaultConfig", "RateLimits", "Account", "MatchingEngine", "Order",
           "OrderRequest", "SymbolSpec", "Reject", "SimReject", "FrontEnd", "WireError"]
