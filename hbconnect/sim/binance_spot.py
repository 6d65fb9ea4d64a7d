"""Binance spot REST + WebSocket front end of the embedded exchange.

Shapes follow https://developers.binance.com/docs/binance-spot-api-docs (REST ``/api/v3``,
market streams, listenKey user data stream).  Amounts are written with 8 decimals as Binance
spot does.
"""
from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal
from typing import Any, Optional

from aiohttp import WSMsgType, web

from hbconnect.sim.accounts import Account, SpotAccount
from hbconnect.sim.errors import BinanceError, INVALID_SYMBOL, err, mandatory, not_required
from hbconnect.sim.matching import (BUY, STP_MODES, ZERO, AccountEvent, Fill, Order, OrderEvent,
                                    OrderRequest, SymbolSpec, now_ms)
from hbconnect.sim.server import (BinanceFrontEnd, WsConn, parse_bool, parse_decimal, parse_int)

CID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_STREAM_RE = re.compile(r"^([a-z0-9]+)@(depth(?:5|10|20)?(?:@100ms|@1000ms)?|trade|aggTrade|bookTicker)$")


def f8(d: Optional[Decimal], places: int = 8) -> str:
    return format(d if d is not None else ZERO, f".{places}f")


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.engine.listeners.append(self.on_engine_event)
        self.engine.trade_listeners.append(self.on_fill)
        self._depth: dict[tuple[str, int], dict] = {}
        self._tickers: dict[str, tuple] = {}

    # ------------------------------------------------------------------ routes
    def add_routes(self) -> None:
        r = self.route
        r("GET", "/api/v3/ping", self.ping, 1)
        r("GET", "/api/v3/time", self.time, 1)
        r("GET", "/api/v3/exchangeInfo", self.exchange_info, 20)
        r("GET", "/api/v3/depth", self.depth, depth_weight)
        r("GET", "/api/v3/trades", self.recent_trades, 25)
        r("GET", "/api/v3/ticker/bookTicker", self.book_ticker, 2)
        r("GET", "/api/v3/ticker/price", self.ticker_price, 2)
        r("GET", "/api/v3/ticker/24hr", self.ticker_24hr, lambda p: 2 if p.get("symbol") else 80)
        r("POST", "/api/v3/order", self.new_order, 1, "SIGNED", order=True)
        r("DELETE", "/api/v3/order", self.cancel_order, 1, "SIGNED", order=True)
        r("GET", "/api/v3/order", self.get_order, 4, "SIGNED")
        r("GET", "/api/v3/openOrders", self.open_orders, lambda p: 6 if p.get("symbol") else 80, "SIGNED")
        r("DELETE", "/api/v3/openOrders", self.cancel_open_orders, 1, "SIGNED")
        r("GET", "/api/v3/account", self.account, 20, "SIGNED")
        r("GET", "/api/v3/myTrades", self.my_trades, lambda p: 5 if p.get("orderId") else 20, "SIGNED")
        r("POST", "/api/v3/userDataStream", self.listen_key_new, 2, "API_KEY")
        r("PUT", "/api/v3/userDataStream", self.listen_key_keepalive, 2, "API_KEY")
        r("DELETE", "/api/v3/userDataStream", self.listen_key_close, 2, "API_KEY")
        self.app.router.add_get("/ws-api/v3", self._ws_api_handler)

    def spec(self, params: dict) -> SymbolSpec:
        symbol = params.get("symbol")
        if not symbol:
            raise mandatory("symbol")
        spec = self.engine.specs.get(symbol.upper())
        if spec is None:
            raise err(INVALID_SYMBOL)
        return spec

    # ------------------------------------------------------------------ public
    async def ping(self, request: web.Request, params: dict, account: Any) -> dict:
        return {}

    async def time(self, request: web.Request, params: dict, account: Any) -> dict:
        return {"serverTime": self.server_time()}

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
                import json
                names = json.loads(params["symbols"])
            except ValueError:
                raise BinanceError(-1100, "Illegal characters found in parameter 'symbols'.")
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

    async def depth(self, request: web.Request, params: dict, account: Any) -> dict:
        spec = self.spec(params)
        limit = parse_int(params, "limit") or 100
        limit = max(1, min(limit, 5000))
        book = self.engine.books[spec.symbol]
        return {"lastUpdateId": book.update_id,
                "bids": [[f8(p), f8(q)] for p, q in book.depth(BUY, limit)],
                "asks": [[f8(p), f8(q)] for p, q in book.depth("SELL", limit)]}

    async def recent_trades(self, request: web.Request, params: dict, account: Any) -> list:
        spec = self.spec(params)
        limit = max(1, min(parse_int(params, "limit") or 500, 1000))
        fills = [f for f in self.engine.fills if f.symbol == spec.symbol][-limit:]
        return [{"id": f.trade_id, "price": f8(f.price), "qty": f8(f.qty), "quoteQty": f8(f.quote_qty),
                 "time": f.time, "isBuyerMaker": f.maker.side == BUY, "isBestMatch": True} for f in fills]

    async def book_ticker(self, request: web.Request, params: dict, account: Any) -> Any:
        specs = [self.spec(params)] if params.get("symbol") else list(self.engine.specs.values())
        out = []
        for spec in specs:
            book = self.engine.books[spec.symbol]
            b = book.depth(BUY, 1)
            a = book.depth("SELL", 1)
            out.append({"symbol": spec.symbol, "bidPrice": f8(b[0][0] if b else ZERO),
                        "bidQty": f8(b[0][1] if b else ZERO), "askPrice": f8(a[0][0] if a else ZERO),
                        "askQty": f8(a[0][1] if a else ZERO)})
        return out[0] if params.get("symbol") else out

    async def ticker_price(self, request: web.Request, params: dict, account: Any) -> Any:
        specs = [self.spec(params)] if params.get("symbol") else list(self.engine.specs.values())
        out = [{"symbol": s.symbol, "price": f8(self.exchange.last_price(self.engine, s.symbol))}
               for s in specs]
        return out[0] if params.get("symbol") else out

    async def ticker_24hr(self, request: web.Request, params: dict, account: Any) -> Any:
        specs = [self.spec(params)] if params.get("symbol") else list(self.engine.specs.values())
        out = [self.exchange.ticker_24hr(self.engine, s.symbol, f8) for s in specs]
        return out[0] if params.get("symbol") else out

    # ------------------------------------------------------------------ orders
    def parse_order(self, params: dict) -> tuple[OrderRequest, str]:
        spec = self.spec(params)
        side = params.get("side")
        if not side:
            raise mandatory("side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        otype = params.get("type")
        if not otype:
            raise mandatory("type")
        if otype not in ("LIMIT", "LIMIT_MAKER", "MARKET"):
            if otype in ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"):
                raise BinanceError(-1013, "Filter failure: order type not supported for this symbol.")
            raise BinanceError(-1116, "Invalid orderType.")
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
            tif = "GTC"
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
        cid = params.get("newClientOrderId")
        if cid is not None and not CID_RE.match(cid):
            raise BinanceError(-1100, "Illegal characters found in parameter 'newClientOrderId'; "
                                      "legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.")
        stp = params.get("selfTradePreventionMode") or "EXPIRE_MAKER"
        if stp not in STP_MODES:
            raise BinanceError(-1100, "Illegal characters found in parameter 'selfTradePreventionMode'.")
        # Binance: MARKET and LIMIT default to FULL, every other type to ACK
        resp_type = params.get("newOrderRespType") or ("FULL" if otype in ("LIMIT", "MARKET") else "ACK")
        if resp_type not in ("ACK", "RESULT", "FULL"):
            raise BinanceError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
        # -- filters
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
        return OrderRequest(spec.symbol, side, otype, tif, qty, quote_qty, price, cid, stp), resp_type

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
                  "status": o.status, "timeInForce": o.time_in_force, "type": o.type, "side": o.side})
        if kind == "query":
            d.update({"stopPrice": f8(ZERO), "icebergQty": f8(ZERO), "time": o.time,
                      "updateTime": o.update_time, "isWorking": o.type != "MARKET"})
        d["workingTime"] = o.time
        d["selfTradePreventionMode"] = o.stp_mode
        return d

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

    def _order_ids(self, params: dict) -> tuple[Optional[int], Optional[str]]:
        oid = parse_int(params, "orderId")
        cid = params.get("origClientOrderId") or None
        if oid is None and cid is None:
            raise BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        return oid, cid

    async def cancel_order(self, request: web.Request, params: dict, account: Account) -> dict:
        spec = self.spec(params)
        oid, cid = self._order_ids(params)
        o = self.engine.cancel(account.account_id, spec.symbol, oid, cid,
                               params.get("newClientOrderId") or "")
        return self.cancel_json(o)

    def cancel_json(self, o: Order) -> dict:
        d = self.order_json(o, "cancel")
        d["origClientOrderId"] = o.client_order_id
        d["clientOrderId"] = o.cancel_client_order_id or o.client_order_id
        d["transactTime"] = o.update_time
        return d

    async def get_order(self, request: web.Request, params: dict, account: Account) -> dict:
        spec = self.spec(params)
        oid, cid = self._order_ids(params)
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

    async def my_trades(self, request: web.Request, params: dict, account: Account) -> list:
        spec = self.spec(params)
        limit = max(1, min(parse_int(params, "limit") or 500, 1000))
        oid = parse_int(params, "orderId")
        from_id = parse_int(params, "fromId")
        start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
        out = []
        for t in account.spot.trades:
            if t.symbol != spec.symbol or (oid is not None and t.order_id != oid):
                continue
            if from_id is not None and t.trade_id < from_id:
                continue
            if (start is not None and t.time < start) or (end is not None and t.time > end):
                continue
            out.append({"symbol": t.symbol, "id": t.trade_id, "orderId": t.order_id, "orderListId": -1,
                        "price": f8(t.price), "qty": f8(t.qty), "quoteQty": f8(t.quote_qty),
                        "commission": f8(t.commission), "commissionAsset": t.commission_asset,
                        "time": t.time, "isBuyer": t.is_buyer, "isMaker": t.is_maker, "isBestMatch": True})
        return out[:limit] if from_id is not None else out[-limit:]

    async def listen_key_new(self, request: web.Request, params: dict, account: Account) -> dict:
        return {"listenKey": self.new_listen_key(account)}

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
    async def _ws_api_handler(self, request: web.Request) -> web.StreamResponse:
        """``/ws-api/v3``: ping, time, userDataStream.subscribe.signature / unsubscribe."""
        ws = web.WebSocketResponse(heartbeat=self.ping_interval, autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = WsConn(self, ws, combined=False)
        self.conns.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        self._writer_tasks.add(writer)
        writer.add_done_callback(self._writer_tasks.discard)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    conn.send_raw(self._ws_api_call(conn, msg.data))
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            conn.closed = True
            self.conns.discard(conn)
            try:
                conn.queue.put_nowait(None)
            except asyncio.QueueFull:
                pass
        return ws

    def _ws_api_call(self, conn: WsConn, text: str) -> dict:
        try:
            req = json.loads(text)
            if not isinstance(req, dict):
                raise ValueError
        except ValueError:
            return {"id": None, "status": 400, "error": {"code": -1000, "msg": "Malformed request."}}
        rid, method, params = req.get("id"), req.get("method"), req.get("params") or {}
        try:
            if not isinstance(params, dict):
                raise BinanceError(-1000, "Malformed request: params must be an object.")
            if method == "ping":
                result: Any = {}
            elif method == "time":
                result = {"serverTime": self.server_time()}
            elif method == "userDataStream.subscribe.signature":
                account = self._ws_api_auth({str(k): str(v) for k, v in params.items()})
                sub_id = conn._next_sub
                conn._next_sub += 1
                conn.api_subs[sub_id] = account.account_id
                result = {"subscriptionId": sub_id}
            elif method == "userDataStream.unsubscribe":
                sid = params.get("subscriptionId")
                if sid is None:
                    conn.api_subs.clear()
                elif conn.api_subs.pop(int(sid), None) is None:
                    raise BinanceError(-2035, "User Data Stream subscription not active.")
                result = {}
            elif method == "session.subscriptions":
                result = [{"subscriptionId": i} for i in sorted(conn.api_subs)]
            else:
                raise BinanceError(-1020, "Unsupported operation.")
        except BinanceError as e:
            return {"id": rid, "status": e.status, "error": e.body()}
        except (TypeError, ValueError):
            return {"id": rid, "status": 400, "error": {"code": -1100, "msg": "Illegal parameter."}}
        return {"id": rid, "status": 200, "result": result}

    def _ws_api_auth(self, params: dict) -> Account:
        key = params.get("apiKey")
        if not key:
            raise mandatory("apiKey")
        account = self.exchange.account_by_key(key)
        if account is None:
            raise err((-2015, "Invalid API-key, IP, or permissions for action."), 401)
        sig = params.get("signature")
        if not sig:
            raise mandatory("signature")
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
        # the WebSocket API signs the parameters sorted by name (HMAC hex or Ed25519 base64)
        self._check_signature(account, {"signature": sig}, payload + "&signature=" + sig, "")
        self._check_timestamp(params)
        return account

    # ------------------------------------------------------------------ user stream
    def on_engine_event(self, ev: Any) -> None:
        if isinstance(ev, OrderEvent):
            if self.has_user_listeners(ev.owner):
                self.push_user(ev.owner, self.execution_report(ev))
        elif isinstance(ev, AccountEvent):
            if not self.has_user_listeners(ev.owner):
                return
            if ev.reason == "balanceUpdate" and ev.delta is not None:
                self.push_user(ev.owner, {"e": "balanceUpdate", "E": ev.time, "a": ev.delta[0],
                                          "d": f8(ev.delta[1]), "T": ev.time})
            elif ev.balances:
                self.push_user(ev.owner, {"e": "outboundAccountPosition", "E": ev.time, "u": ev.time,
                                          "B": [{"a": a, "f": f8(f), "l": f8(l)} for a, f, l in ev.balances]})

    def execution_report(self, ev: OrderEvent) -> dict:
        o, s, fs = ev.order, ev.snapshot, ev.fill
        canceled = ev.exec_type == "CANCELED"
        return {
            "e": "executionReport", "E": ev.time, "s": o.symbol,
            "c": ev.cancel_client_order_id if canceled else o.client_order_id,
            "S": o.side, "o": o.type, "f": o.time_in_force, "q": f8(s["orig_qty"]), "p": f8(o.price),
            "P": f8(ZERO), "F": f8(ZERO), "g": -1, "C": o.client_order_id if canceled else "",
            "x": ev.exec_type, "X": s["status"], "r": "NONE", "i": o.order_id,
            "l": f8(fs.fill.qty if fs else ZERO), "z": f8(s["executed_qty"]),
            "L": f8(fs.fill.price if fs else ZERO), "n": f8(fs.commission if fs else ZERO),
            "N": fs.commission_asset if fs else None, "T": ev.time,
            "t": fs.fill.trade_id if fs else -1, "I": o.order_id * 2 + 1,
            "w": s["status"] in ("NEW", "PARTIALLY_FILLED") and o.type != "MARKET",
            "m": fs.is_maker if fs else False, "M": False, "O": o.time,
            "Z": f8(s["cum_quote"]), "Y": f8(fs.fill.quote_qty if fs else ZERO),
            "Q": f8(o.orig_quote_qty), "W": o.time, "V": o.stp_mode,
        }

    # ------------------------------------------------------------------ market streams
    def valid_stream(self, name: str) -> bool:
        m = _STREAM_RE.match(name)
        return bool(m) and m.group(1).upper() in self.engine.specs

    def on_subscribe(self, stream: str) -> None:
        sym, kind = stream.split("@", 1)
        if kind.startswith("depth") and not kind[5:6].isdigit():
            interval = 100 if kind.endswith("@100ms") else 1000
            key = (sym.upper(), interval)
            if key not in self._depth:
                self._depth[key] = {"last_u": self.engine.books[sym.upper()].update_id,
                                    "next": 0.0, "stream": stream}

    def on_fill(self, fill: Fill) -> None:
        sym = fill.symbol.lower()
        buyer_maker = fill.maker.side == BUY
        for kind in ("trade", "aggTrade"):
            stream = f"{sym}@{kind}"
            if not self.subscribed(stream):
                continue
            if kind == "trade":
                payload = {"e": "trade", "E": fill.time, "s": fill.symbol, "t": fill.trade_id,
                           "p": f8(fill.price), "q": f8(fill.qty), "T": fill.time,
                           "m": buyer_maker, "M": True}
            else:
                payload = {"e": "aggTrade", "E": fill.time, "s": fill.symbol, "a": fill.trade_id,
                           "p": f8(fill.price), "q": f8(fill.qty), "f": fill.trade_id,
                           "l": fill.trade_id, "T": fill.time, "m": buyer_maker, "M": True}
            self.push_market(stream, payload)

    def publish(self, now: float) -> None:
        for key, st in list(self._depth.items()):
            sym, interval = key
            suffix = "@100ms" if interval == 100 else ""
            streams = [f"{sym.lower()}@depth{suffix}"] + ([f"{sym.lower()}@depth@1000ms"] if interval == 1000 else [])
            if not any(self.subscribed(s) for s in streams):
                del self._depth[key]
                continue
            if now < st["next"]:
                continue
            st["next"] = now + interval / 1000.0
            book = self.engine.books[sym]
            if book.update_id <= st["last_u"]:
                continue
            changes = book.changes_since(st["last_u"])
            levels: dict[tuple[str, Decimal], Decimal] = {}
            for _, side, price, total in changes:
                levels[(side, price)] = total
            bids = [[f8(p), f8(q)] for (sd, p), q in sorted(levels.items(), key=lambda kv: -kv[0][1]) if sd == BUY]
            asks = [[f8(p), f8(q)] for (sd, p), q in sorted(levels.items(), key=lambda kv: kv[0][1]) if sd != BUY]
            payload = {"e": "depthUpdate", "E": now_ms(), "s": sym, "U": st["last_u"] + 1,
                       "u": book.update_id, "b": bids, "a": asks}
            st["last_u"] = book.update_id
            for s in streams:
                self.push_market(s, payload)
        self._publish_partial_and_tickers(now)

    def _publish_partial_and_tickers(self, now: float) -> None:
        wanted: set[str] = set()
        for conn in self.conns:
            wanted.update(conn.streams)
        for stream in wanted:
            sym, kind = stream.split("@", 1)
            book = self.engine.books.get(sym.upper())
            if book is None:
                continue
            if kind == "bookTicker":
                b, a = book.depth(BUY, 1), book.depth("SELL", 1)
                top = (b[0] if b else None, a[0] if a else None)
                if self._tickers.get(stream) == top:
                    continue
                self._tickers[stream] = top
                self.push_market(stream, {"u": book.update_id, "s": book.spec.symbol,
                                          "b": f8(top[0][0] if top[0] else ZERO),
                                          "B": f8(top[0][1] if top[0] else ZERO),
                                          "a": f8(top[1][0] if top[1] else ZERO),
                                          "A": f8(top[1][1] if top[1] else ZERO)})
            elif kind[5:6].isdigit() and kind.startswith("depth"):
                n = int(kind[5:].split("@")[0])
                interval = 0.1 if kind.endswith("@100ms") else 1.0
                key = ("partial", stream)
                nxt = self._tickers.get(key)
                if nxt is not None and now < nxt[0]:       # type: ignore[index]
                    continue
                self._tickers[key] = (now + interval,)      # type: ignore[assignment]
                self.push_market(stream, {"lastUpdateId": book.update_id,
                                          "bids": [[f8(p), f8(q)] for p, q in book.depth(BUY, n)],
                                          "asks": [[f8(p), f8(q)] for p, q in book.depth("SELL", n)]})
