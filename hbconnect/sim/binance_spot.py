"""Binance spot REST + WebSocket front end of the embedded exchange.

Shapes follow https://developers.binance.com/docs/binance-spot-api-docs (REST ``/api/v3``,
market streams, listenKey user data stream).  Amounts are written with 8 decimals as Binance
spot does.
"""
from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from aiohttp import web

from hbconnect.sim.accounts import Account, SpotAccount
from hbconnect.sim.binance_base import (INVALID_SYMBOL, STP_WIRE, BinanceError, BinanceFrontEnd, err, illegal,
                                        mandatory, not_required, parse_bool, parse_decimal, parse_int,
                                        select_trades, wire_status)
from hbconnect.sim.binance_base import fmt as f8
from hbconnect.sim.marketdata import rolling_stats
from hbconnect.sim.matching import (BUY, ZERO, AccountEvent, Fill, Order, OrderEvent, OrderRequest,
                                    SymbolSpec, now_ms)
from hbconnect.sim.server import WsConn
from hbconnect.sim.vocabulary import Status, TimeInForce as TIF

#: amounts are written (and accepted) with at most this many decimals: baseAssetPrecision /
#: quotePrecision of every symbol; more is -1111
ASSET_PRECISION = 8
_PRECISION = (-1111, "Precision is over the maximum defined for this asset.")


def depth_weight(params: dict) -> int:
    try:
        limit = int(params.get("limit", 100))
    except ValueError:
        return 5
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


class SpotFrontEnd(BinanceFrontEnd):
    market = "spot"
    ping_interval = 20.0
    long_order_header = "X-MBX-ORDER-COUNT-1D"
    stream_re = re.compile(r"^([a-z0-9]+)@(depth(?:5|10|20)?(?:@100ms|@1000ms)?|trade|aggTrade|bookTicker|"
                           r"ticker|miniTicker|kline_[0-9]+[smhdwM])$")
    depth_intervals = (100, 1000)
    default_depth_ms = 1000
    ticker_time = False
    #: "User Data Stream requests": weight 2 each
    ws_api_weights = {**BinanceFrontEnd.ws_api_weights, "userDataStream.subscribe": 2,
                      "userDataStream.subscribe.signature": 2, "userDataStream.unsubscribe": 2,
                      "session.subscriptions": 2}

    # ------------------------------------------------------------------ routes
    def add_routes(self) -> None:
        r = self.route
        r("GET", "/api/v3/ping", self.ping, 1, fault_exempt=True)
        r("GET", "/api/v3/time", self.time, 1, fault_exempt=True)
        r("GET", "/api/v3/exchangeInfo", self.exchange_info, 20, fault_exempt=True)
        r("GET", "/api/v3/depth", self.depth, depth_weight)
        r("GET", "/api/v3/trades", self.recent_trades, 25)
        r("GET", "/api/v3/aggTrades", self.agg_trades, 4)
        r("GET", "/api/v3/klines", self.klines, 2)
        r("GET", "/api/v3/avgPrice", self.avg_price, 2)
        r("GET", "/api/v3/ticker/bookTicker", self.book_ticker, 2)
        r("GET", "/api/v3/ticker/price", self.ticker_price, 2)
        r("GET", "/api/v3/ticker/24hr", self.ticker_24hr, lambda p: 2 if p.get("symbol") else 80)
        r("POST", "/api/v3/order", self.new_order, 1, "SIGNED", order=True)
        r("DELETE", "/api/v3/order", self.cancel_order, 1, "SIGNED", order=True)
        r("GET", "/api/v3/order", self.get_order, 4, "SIGNED")
        r("GET", "/api/v3/openOrders", self.open_orders, lambda p: 6 if p.get("symbol") else 80, "SIGNED")
        r("GET", "/api/v3/allOrders", self.all_orders, 20, "SIGNED")
        r("DELETE", "/api/v3/openOrders", self.cancel_open_orders, 1, "SIGNED")
        r("GET", "/api/v3/account", self.account, 20, "SIGNED")
        r("GET", "/api/v3/myTrades", self.my_trades, lambda p: 5 if p.get("orderId") else 20, "SIGNED")
        r("POST", "/api/v3/userDataStream", self.listen_key_new, 2, "API_KEY")
        r("PUT", "/api/v3/userDataStream", self.listen_key_keepalive, 2, "API_KEY")
        r("DELETE", "/api/v3/userDataStream", self.listen_key_close, 2, "API_KEY")
        # wallet and margin (sapi) endpoints ccxt's default load_markets / fetch_trading_fees use
        r("GET", "/sapi/v1/capital/config/getall", self.all_coins, 10, "SIGNED")
        r("GET", "/sapi/v1/asset/tradeFee", self.trade_fee, 1, "SIGNED")
        r("GET", "/sapi/v1/margin/allPairs", self.no_margin_pairs, 1, "API_KEY")
        r("GET", "/sapi/v1/margin/isolated/allPairs", self.no_margin_pairs, 10, "SIGNED")

    def symbol_info(self, spec: SymbolSpec) -> dict:
        return {
            "symbol": spec.symbol, "status": "TRADING",
            "baseAsset": spec.base, "baseAssetPrecision": 8,
            "quoteAsset": spec.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
            "icebergAllowed": False, "ocoAllowed": False, "otoAllowed": False,
            "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
            "cancelReplaceAllowed": False, "amendAllowed": False,
            "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": f8(spec.min_price),
                 "maxPrice": f8(spec.max_price), "tickSize": f8(spec.tick_size)},
                {"filterType": "LOT_SIZE", "minQty": f8(spec.min_qty), "maxQty": f8(spec.max_qty),
                 "stepSize": f8(spec.step_size)},
                {"filterType": "NOTIONAL", "minNotional": f8(spec.min_notional),
                 "applyMinToMarket": True, "maxNotional": "9000000.00000000",
                 "applyMaxToMarket": False, "avgPriceMins": 5},
                {"filterType": "MARKET_LOT_SIZE", "minQty": f8(ZERO),
                 "maxQty": f8(spec.market_max_qty), "stepSize": f8(ZERO)},
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            ],
            "permissions": [], "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }

    async def exchange_info(self, request: web.Request, params: dict, account: Any) -> dict:
        specs = list(self.engine.specs.values())
        wanted = params.get("symbol")
        if params.get("symbols"):
            try:
                names = json.loads(params["symbols"])
                if not isinstance(names, list):
                    raise ValueError
            except (ValueError, RecursionError):
                raise illegal("symbols")
            wanted_set = {str(n).upper() for n in names}
            specs = [s for s in specs if s.symbol in wanted_set]
            if len(specs) != len(wanted_set):
                raise err(INVALID_SYMBOL)
        elif wanted:
            specs = [self.spec(params)]
        lim = self.limits
        return {
            "timezone": "UTC", "serverTime": self.server_time(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": lim.weight_1m},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": lim.orders_10s},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": lim.orders_long},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
            ],
            "exchangeFilters": [],
            "symbols": [self.symbol_info(s) for s in specs],
        }

    async def avg_price(self, request: web.Request, params: dict, account: Any) -> dict:
        """The volume-weighted price of the last 5 minutes' trades (the last price without
        trades); closeTime is the last trade's time."""
        spec = self.spec(params)
        st = rolling_stats(self.engine, spec.symbol, now_ms(), window_ms=5 * 60_000)
        last = [f for f in self.engine.fills if f.symbol == spec.symbol][-1:]
        return {"mins": 5, "price": f8(st.vwap), "closeTime": last[0].time if last else st.close_time}

    async def depth(self, request: web.Request, params: dict, account: Any) -> dict:
        spec = self.spec(params)
        limit = parse_int(params, "limit") or 100
        limit = max(1, min(limit, 5000))
        book = self.engine.books[spec.symbol]
        return {"lastUpdateId": book.update_id, "bids": self.levels(spec, book.depth(BUY, limit)),
                "asks": self.levels(spec, book.depth("SELL", limit))}

    # ------------------------------------------------------------------ orders
    def parse_order(self, params: dict) -> tuple[OrderRequest, str]:
        # a type not in the symbol's orderTypes is -1116 "Invalid orderType." like an unknown one
        spec, side, otype = self.parse_side_type(params, ("LIMIT", "LIMIT_MAKER", "MARKET"), {})
        qty = parse_decimal(params, "quantity")
        quote_qty = parse_decimal(params, "quoteOrderQty")
        price = parse_decimal(params, "price")
        tif = params.get("timeInForce")
        if otype == "LIMIT":
            if not tif:
                raise mandatory("timeInForce")
            if tif not in ("GTC", "IOC", "FOK"):
                raise BinanceError(-1115, "Invalid timeInForce.")
            if price is None:
                raise mandatory("price")
            if qty is None:
                raise mandatory("quantity")
        elif otype == "LIMIT_MAKER":
            if tif:
                raise not_required("timeInForce")
            if price is None:
                raise mandatory("price")
            if qty is None:
                raise mandatory("quantity")
            tif = TIF.POST_ONLY
        else:
            if price is not None:
                raise not_required("price")
            if tif:
                raise not_required("timeInForce")
            if qty is None and quote_qty is None:
                raise BinanceError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
            if qty is not None and quote_qty is not None:
                raise not_required("quoteOrderQty")
            tif = "GTC"
        if otype != "MARKET" and quote_qty is not None:
            raise not_required("quoteOrderQty")
        cid, stp = self.parse_cid_stp(params)
        # Binance: MARKET and LIMIT default to FULL, every other type to ACK
        resp_type = self.parse_resp_type(params, "FULL" if otype in ("LIMIT", "MARKET") else "ACK",
                                         ("ACK", "RESULT", "FULL"))
        # -- precision, then filters
        for value in (qty, quote_qty, price):
            if value is not None and -value.as_tuple().exponent > ASSET_PRECISION:     # type: ignore[operator]
                raise err(_PRECISION)
        if price is not None:
            if price < spec.min_price or price > spec.max_price or (price - spec.min_price) % spec.tick_size:
                raise BinanceError(-1013, "Filter failure: PRICE_FILTER")
        if qty is not None:
            if otype == "MARKET":
                if qty <= 0 or qty > spec.market_max_qty or qty % spec.step_size:
                    raise BinanceError(-1013, "Filter failure: MARKET_LOT_SIZE")
            if qty < spec.min_qty or qty > spec.max_qty or (qty - spec.min_qty) % spec.step_size:
                raise BinanceError(-1013, "Filter failure: LOT_SIZE")
        book = self.engine.books[spec.symbol]
        if otype == "MARKET":
            ref = book.best("SELL" if side == BUY else BUY) or self.exchange.last_price(self.engine, spec.symbol)
            notional = quote_qty if quote_qty is not None else (qty or ZERO) * ref
        else:
            notional = price * qty       # type: ignore[operator]
        if notional < spec.min_notional:
            raise BinanceError(-1013, "Filter failure: NOTIONAL")
        return OrderRequest(spec.symbol, side, "LIMIT" if otype == "LIMIT_MAKER" else otype, tif, qty, quote_qty,
                            price, cid, stp), resp_type

    def order_json(self, o: Order, kind: str = "query") -> dict:
        d = {"symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
             "clientOrderId": o.client_order_id}
        if kind == "ack":
            d["transactTime"] = o.time
            return d
        if kind == "new":
            d["transactTime"] = o.time
        d.update({"price": f8(o.price), "origQty": f8(o.orig_qty), "executedQty": f8(o.executed_qty),
                  "origQuoteOrderQty": f8(o.orig_quote_qty), "cummulativeQuoteQty": f8(o.cum_quote),
                  "status": wire_status(o.status), "timeInForce": _tif(o), "type": _type(o), "side": o.side})
        if kind == "query":
            d.update({"stopPrice": f8(ZERO), "icebergQty": f8(ZERO), "time": o.time,
                      "updateTime": o.update_time, "isWorking": o.type != "MARKET"})
        if kind != "cancel":        # cancel responses carry no workingTime
            d["workingTime"] = o.time
        d["selfTradePreventionMode"] = STP_WIRE[o.stp_mode]
        if o.status == Status.PREVENTED and o.prevention is not None:
            d["preventedMatchId"] = o.prevention[0]
            d["preventedQuantity"] = f8(o.prevented_qty)
        return d

    def query_json(self, o: Order) -> dict:
        return self.order_json(o)

    async def new_order(self, request: web.Request, params: dict, account: Account) -> dict:
        req, resp_type = self.parse_order(params)
        start = len(account.spot.trades)
        order = self.engine.submit(account.account_id, req)
        if resp_type == "ACK":
            return self.order_json(order, "ack")
        d = self.order_json(order, "new")
        if resp_type == "FULL":
            d["fills"] = [{"price": f8(t.price), "qty": f8(t.qty), "commission": f8(t.commission),
                           "commissionAsset": t.commission_asset, "tradeId": t.trade_id}
                          for t in account.spot.trades[start:] if t.order_id == order.order_id]
        return d

    async def cancel_order(self, request: web.Request, params: dict, account: Account) -> dict:
        spec = self.spec(params)
        oid, cid = self.order_ids(params)
        o = self.engine.cancel(account.account_id, spec.symbol, oid, cid, self.parse_cid(params) or "")
        return self.cancel_json(o)

    def cancel_json(self, o: Order) -> dict:
        d = self.order_json(o, "cancel")
        d["origClientOrderId"] = o.client_order_id
        d["clientOrderId"] = o.cancel_client_order_id or o.client_order_id
        d["transactTime"] = o.update_time
        return d

    async def get_order(self, request: web.Request, params: dict, account: Account) -> dict:
        spec = self.spec(params)
        oid, cid = self.order_ids(params)
        return self.order_json(self.engine.query(account.account_id, spec.symbol, oid, cid))

    async def open_orders(self, request: web.Request, params: dict, account: Account) -> list:
        symbol = self.spec(params).symbol if params.get("symbol") else None
        return [self.order_json(o) for o in self.engine.open_orders(account.account_id, symbol)]

    async def cancel_open_orders(self, request: web.Request, params: dict, account: Account) -> list:
        spec = self.spec(params)
        orders = self.engine.cancel_all(account.account_id, spec.symbol)
        if not orders:
            raise BinanceError(-2011, "Unknown order sent.")
        return [self.cancel_json(o) for o in orders]

    async def account(self, request: web.Request, params: dict, account: Account) -> dict:
        sa: SpotAccount = account.spot
        omit_zero = parse_bool(params, "omitZeroBalances")
        balances = [{"asset": a, "free": f8(v[0]), "locked": f8(v[1])}
                    for a, v in sorted(sa.balances.items()) if not (omit_zero and v[0] == 0 and v[1] == 0)]
        mk, tk = sa.maker_fee, sa.taker_fee
        return {"makerCommission": int(mk * 10000), "takerCommission": int(tk * 10000),
                "buyerCommission": 0, "sellerCommission": 0,
                "commissionRates": {"maker": f8(mk), "taker": f8(tk), "buyer": f8(ZERO), "seller": f8(ZERO)},
                "canTrade": account.can_trade, "canWithdraw": True, "canDeposit": True,
                "brokered": False, "requireSelfTradePrevention": False, "preventSor": False,
                "updateTime": sa.update_time, "accountType": "SPOT", "balances": balances,
                "permissions": ["SPOT"], "uid": abs(hash(account.account_id)) % 10 ** 9}

    def _coins(self, account: Account) -> list[str]:
        listed = {a for s in self.engine.specs.values() for a in (s.base, s.quote)}
        return sorted(listed | set(account.spot.balances))

    async def all_coins(self, request: web.Request, params: dict, account: Account) -> list:
        """GET /sapi/v1/capital/config/getall: the account's coins.  The embedded exchange has no
        chains: ``networkList`` is empty and deposit/withdrawal are reported disabled (balances
        move with ``EmbeddedExchange.deposit``)."""
        rows = []
        for coin in self._coins(account):
            free, locked = account.spot.balances.get(coin, (ZERO, ZERO))
            rows.append({"coin": coin, "depositAllEnable": False, "withdrawAllEnable": False, "name": coin,
                         "free": f8(free), "locked": f8(locked), "freeze": f8(ZERO), "withdrawing": f8(ZERO),
                         "ipoing": f8(ZERO), "ipoable": f8(ZERO), "storage": f8(ZERO),
                         "isLegalMoney": False, "trading": True, "networkList": []})
        return rows

    async def trade_fee(self, request: web.Request, params: dict, account: Account) -> list:
        specs = [self.spec(params)] if params.get("symbol") else list(self.engine.specs.values())
        sa = account.spot
        return [{"symbol": s.symbol, "makerCommission": str(sa.maker_fee.normalize()),
                 "takerCommission": str(sa.taker_fee.normalize())} for s in specs]

    async def no_margin_pairs(self, request: web.Request, params: dict, account: Account) -> list:
        """Cross / isolated margin pairs: none (symbols say ``isMarginTradingAllowed: false``)."""
        if params.get("symbol"):
            self.spec(params)
        return []

    async def my_trades(self, request: web.Request, params: dict, account: Account) -> list:
        spec = self.spec(params)
        return [{"symbol": t.symbol, "id": t.trade_id, "orderId": t.order_id, "orderListId": -1,
                 "price": f8(t.price), "qty": f8(t.qty), "quoteQty": f8(t.quote_qty),
                 "commission": f8(t.commission), "commissionAsset": t.commission_asset,
                 "time": t.time, "isBuyer": t.is_buyer, "isMaker": t.is_maker, "isBestMatch": True}
                for t in select_trades(account.spot.trades, spec.symbol, params)]

    async def listen_key_keepalive(self, request: web.Request, params: dict, account: Account) -> dict:
        key = params.get("listenKey")
        if not key:
            raise mandatory("listenKey")
        self.keepalive_listen_key(account, key)
        return {}

    async def listen_key_close(self, request: web.Request, params: dict, account: Account) -> dict:
        key = params.get("listenKey")
        if not key:
            raise mandatory("listenKey")
        self.close_listen_key(account, key)
        return {}

    # ------------------------------------------------------------------ WebSocket API (user data)
    def ws_api_extra(self, conn: WsConn, method: str, params: dict) -> Any:
        """Spot's User Data Stream methods on the WebSocket API (``NotImplemented``: not one).
        ``userDataStream.subscribe`` takes the ``session.logon`` account ("requires an
        authenticated WebSocket connection using Ed25519 keys"; without one: -1002, the
        documented generic refusal); ``session.logout`` ends that subscription only. Every
        subscription that ends sends ``eventStreamTerminated``."""
        if method == "userDataStream.subscribe":
            account = conn.state.get("logon")
            if account is None:
                raise BinanceError(-1002, "You are not authorized to execute this request.", 401)
            sub_id = conn.next_id()
            conn.sessions[sub_id] = account.account_id
            conn.state["logon_subscription"] = sub_id
            return {"subscriptionId": sub_id}
        if method == "userDataStream.subscribe.signature":
            account = self.ws_api_account(conn, {str(k): str(v) for k, v in params.items()})
            sub_id = conn.next_id()
            conn.sessions[sub_id] = account.account_id
            return {"subscriptionId": sub_id}
        if method == "userDataStream.unsubscribe":
            sid = params.get("subscriptionId")
            if sid is None:
                ended = list(conn.sessions)
            elif int(sid) in conn.sessions:
                ended = [int(sid)]
            else:
                raise BinanceError(-2035, "User Data Stream subscription not active.")
            self.end_subscriptions(conn, ended)
            return {}
        if method == "session.subscriptions":
            return [{"subscriptionId": i} for i in sorted(conn.sessions)]
        return NotImplemented

    def end_subscriptions(self, conn: WsConn, ids: list) -> None:
        """End these WebSocket-API subscriptions of ``conn`` (no event of theirs is sent from now
        on), each with ``eventStreamTerminated`` after the answer to the request ending them."""
        ended = [sub_id for sub_id in ids if conn.sessions.pop(sub_id, None) is not None]
        if conn.state.get("logon_subscription") in ids:
            conn.state.pop("logon_subscription", None)

        def terminated() -> None:
            for sub_id in ended:
                conn.send_text(self.api_event(sub_id, {"e": "eventStreamTerminated", "E": now_ms()}), "user")
        if ended:
            asyncio.get_running_loop().call_soon(terminated)

    # ------------------------------------------------------------------ user stream
    def on_engine_event(self, ev: Any) -> None:
        if isinstance(ev, OrderEvent):
            fs = ev.fill
            if fs is not None and fs.fill.qty == ev.snapshot["executed_qty"]:   # its first fill
                self.uncount_first_fill(ev.owner)
            targets = list(self.user_targets(ev.owner))   # looked up once per event
            if targets:
                self.push_to(targets, self.execution_report(ev))
        elif isinstance(ev, AccountEvent):
            targets = list(self.user_targets(ev.owner))
            if not targets:
                return
            if ev.reason == "DEPOSIT" and ev.delta is not None:
                self.push_to(targets, {"e": "balanceUpdate", "E": ev.time, "a": ev.delta[0],
                                       "d": f8(ev.delta[1]), "T": ev.time})
            elif ev.balances:
                self.push_to(targets, {"e": "outboundAccountPosition", "E": ev.time, "u": ev.time,
                                       "B": [{"a": a, "f": f8(f), "l": f8(l)} for a, f, l in ev.balances]})

    @staticmethod
    def push_to(targets: list, payload: Any) -> None:
        """``payload`` to each (session, frame builder) of ``user_targets``."""
        for conn, frame in targets:
            conn.send_text(frame(payload), "user")

    def execution_report(self, ev: OrderEvent) -> dict:
        o, s, fs = ev.order, ev.snapshot, ev.fill
        canceled = ev.exec_type == "CANCELED"
        return {
            "e": "executionReport", "E": ev.time, "s": o.symbol,
            "c": ev.cancel_client_order_id if canceled else o.client_order_id,
            "S": o.side, "o": _type(o), "f": _tif(o), "q": f8(s["orig_qty"]), "p": f8(o.price),
            "P": f8(ZERO), "F": f8(ZERO), "g": -1, "C": o.client_order_id if canceled else "",
            "x": "TRADE_PREVENTION" if ev.exec_type == "PREVENTED" else ev.exec_type,
            "X": wire_status(s["status"]), "r": "NONE", "i": o.order_id,
            "l": f8(fs.fill.qty if fs else ZERO), "z": f8(s["executed_qty"]),
            "L": f8(fs.fill.price if fs else ZERO), "n": f8(fs.commission if fs else ZERO),
            "N": fs.commission_asset if fs else None, "T": ev.time,
            "t": fs.fill.trade_id if fs else -1, "I": o.order_id * 2 + 1,
            "w": s["status"] in ("NEW", "PARTIALLY_FILLED") and o.type != "MARKET",
            "m": fs.is_maker if fs else False, "M": False, "O": o.time,
            "Z": f8(s["cum_quote"]), "Y": f8(fs.fill.quote_qty if fs else ZERO),
            "Q": f8(o.orig_quote_qty), "W": o.time, "V": STP_WIRE[o.stp_mode],
            **(self._prevention_fields(o) if ev.exec_type == "PREVENTED" else {}),
        }

    @staticmethod
    def _prevention_fields(o: Order) -> dict:
        """The conditional executionReport fields of an order expired by self-trade prevention."""
        if o.prevention is None:
            return {}
        match_id, counter_id, last_qty, price, qty = o.prevention
        return {"v": match_id, "A": f8(o.prevented_qty), "B": f8(last_qty), "U": counter_id,
                "Cs": o.symbol, "pl": f8(qty), "pL": f8(price), "pY": f8(qty * price)}

    # ------------------------------------------------------------------ market streams
    def trade_event(self, kind: str, fill: Fill) -> dict:
        buyer_maker = fill.maker.side == BUY
        if kind == "trade":
            return {"e": "trade", "E": fill.time, "s": fill.symbol, "t": fill.trade_id,
                    "p": f8(fill.price), "q": f8(fill.qty), "T": fill.time, "m": buyer_maker, "M": True}
        return {"e": "aggTrade", "E": fill.time, "s": fill.symbol, "a": fill.trade_id,
                "p": f8(fill.price), "q": f8(fill.qty), "f": fill.trade_id,
                "l": fill.trade_id, "T": fill.time, "m": buyer_maker, "M": True}

    def depth_diff_event(self, spec: SymbolSpec, prev_u: int, last_u: int, bids: list, asks: list) -> dict:
        return {"e": "depthUpdate", "E": now_ms(), "s": spec.symbol, "U": prev_u + 1, "u": last_u,
                "b": bids, "a": asks}

    def partial_depth_event(self, book: Any, n: int) -> dict:
        return {"lastUpdateId": book.update_id, "bids": self.levels(book.spec, book.depth(BUY, n)),
                "asks": self.levels(book.spec, book.depth("SELL", n))}

    def ticker_event(self, book: Any, st: Any) -> dict:
        spec = book.spec
        b, a = book.depth(BUY, 1), book.depth("SELL", 1)
        return {"e": "24hrTicker", "E": now_ms(), "s": spec.symbol, "p": f8(st.change),
                "P": f8(st.change_percent, 3), "w": f8(st.vwap), "x": f8(st.prev_price), "c": f8(st.last),
                "Q": f8(st.last_qty), "b": f8(b[0][0] if b else ZERO), "B": f8(b[0][1] if b else ZERO),
                "a": f8(a[0][0] if a else ZERO), "A": f8(a[0][1] if a else ZERO), "o": f8(st.open),
                "h": f8(st.high), "l": f8(st.low), "v": f8(st.volume), "q": f8(st.quote_volume),
                "O": st.open_time, "C": st.close_time, "F": st.first_id, "L": st.last_id, "n": st.count}

    def book_ticker_event(self, book: Any, top: tuple) -> dict:
        bid, ask = top
        return {"u": book.update_id, "s": book.spec.symbol,
                "b": f8(bid[0] if bid else ZERO), "B": f8(bid[1] if bid else ZERO),
                "a": f8(ask[0] if ask else ZERO), "A": f8(ask[1] if ask else ZERO)}


def _type(o: Order) -> str:
    """Spot's post-only orders are type ``LIMIT_MAKER``."""
    return "LIMIT_MAKER" if o.post_only else o.type


def _tif(o: Order) -> str:
    """A ``LIMIT_MAKER`` order reports time in force ``GTC``."""
    return "GTC" if o.post_only else o.time_in_force
