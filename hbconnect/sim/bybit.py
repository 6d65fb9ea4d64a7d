"""The Bybit v5 venue of the embedded exchange: one front end (``bybit``) serving Bybit's REST
API, public WebSockets (``/v5/public/spot``, ``/v5/public/linear``), the private stream
(``/v5/private``) and WebSocket order entry (``/v5/trade``) over the spot and linear perpetual
engines, as Bybit serves them from one host per kind.

Written from Bybit's v5 documentation only (https://bybit-exchange.github.io/docs/v5/):

* Signing: ``X-BAPI-SIGN`` = hex HMAC-SHA256(secret, timestamp + api_key + recv_window +
  payload), the payload being the query string of a GET or the JSON body of a POST as sent;
  headers ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``, ``X-BAPI-RECV-WINDOW`` (default 5000 ms).
  The timestamp must satisfy ``server_time - recv_window <= timestamp < server_time + 1000``
  (retCode 10002); a bad signature is 10004, an unknown key 10003 (HTTP 401 without one).
* Every answer is ``{"retCode", "retMsg", "result", "retExtInfo", "time"}``, HTTP 200 also for
  errors (the HTTP codes are for the gateway: 401, 403 IP limit, 404, 429).
* Rate limits per UID and endpoint per second (``/v5/order/create``: 10/s linear, 20/s spot
  ...), answered with retCode 10006 "Too many visits!" and the ``X-Bapi-Limit``,
  ``X-Bapi-Limit-Status``, ``X-Bapi-Limit-Reset-Timestamp`` headers; 600 requests per 5 s per
  IP (HTTP 403 "access too frequent").
* A ``PostOnly`` order that would take is accepted and then cancelled (``orderStatus``
  Cancelled, ``rejectReason`` EC_PostOnlyWillTakeLiquidity), as Bybit documents.
* The unified account: one wallet per coin; here the coin's ``walletBalance`` is the spot
  balance plus, for the perpetuals' margin coin, the perpetual wallet.

The WebSocket side lives in :mod:`hbconnect.sim.bybit_streams`. Fault knobs: ``429`` is
Bybit's 10006 in an HTTP 200 body; ``5xx`` / ``order_rejected`` an HTTP 503 with 10016 "Server
error." (nothing done); ``order_unknown`` retCode 10000 "Server Timeout" (done, answer lost).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections import deque
from decimal import Decimal, InvalidOperation
from typing import Any, Optional
from urllib.parse import parse_qsl

from aiohttp import web

from hbconnect.sim.accounts import MAX_LEVERAGE, Account
from hbconnect.sim.bybit_streams import BybitError, BybitStreams, text
from hbconnect.sim.errors import Reject, SimReject
from hbconnect.sim.matching import BUY, SELL, ZERO, MatchingEngine, Order, OrderRequest, SymbolSpec, now_ms
from hbconnect.sim.server import FrontEnd, Route, WireError, dumps
from hbconnect.sim.vocabulary import (EndReason, IncomeKind, MarginMode, PositionSide, SelfTradePrevention as STP,
                                      Status, TimeInForce as TIF)

logger = logging.getLogger(__name__)

CATEGORIES = ("spot", "linear")
DEFAULT_RECV_WINDOW = 5000
MAX_ORDER_LINK_ID = 36
IP_LIMIT = (600, 5.0)  # requests per window, seconds
#: the core's time in force as ``timeInForce`` names it
TIF_WIRE = {TIF.GTC: "GTC", TIF.IOC: "IOC", TIF.FOK: "FOK", TIF.POST_ONLY: "PostOnly"}
TIF_FROM_WIRE = {wire: tif for tif, wire in TIF_WIRE.items()}
#: ``smpType``: "None" (the default: an account's orders may trade with each other), "CancelMaker",
#: "CancelTaker", "CancelBoth"; the incoming order's type decides (a resting order's is ignored)
SMP_WIRE = {STP.NONE: "None", STP.CANCEL_MAKER: "CancelMaker", STP.CANCEL_TAKER: "CancelTaker",
            STP.CANCEL_BOTH: "CancelBoth"}
SMP_FROM_WIRE = {wire: mode for mode, wire in SMP_WIRE.items()}
#: ``positionIdx``: 0 one-way, 1 hedge-mode Buy side, 2 hedge-mode Sell side
POSITION_IDX = {PositionSide.NET: 0, PositionSide.LONG: 1, PositionSide.SHORT: 2}
POSITION_IDX_FROM_WIRE = {**{idx: side for side, idx in POSITION_IDX.items()},
                          **{str(idx): side for side, idx in POSITION_IDX.items()}}
#: per-UID requests per second, by path (and category where the docs give two values)
UID_LIMITS: dict = {
    ("/v5/order/create", "spot"): 20, ("/v5/order/create", "linear"): 10,
    ("/v5/order/cancel", "spot"): 20, ("/v5/order/cancel", "linear"): 10,
    "/v5/order/realtime": 50, "/v5/order/history": 50, "/v5/execution/list": 50,
    "/v5/position/list": 50, "/v5/position/set-leverage": 10, "/v5/position/switch-mode": 10,
    "/v5/account/wallet-balance": 50, "/v5/account/transaction-log": 25, "/v5/account/info": 50,
    "/v5/account/set-margin-mode": 5,
}


#: neutral reason -> (spot code, spot message, linear code, linear message) from Bybit's
#: "Error Codes" page (spot codes 170xxx; UTA derivatives 110xxx; 10001 "Request parameter error")
REJECTS: dict = {
    Reject.UNKNOWN_SYMBOL: (170121, "Invalid symbol.", 10001, "params error: symbol invalid"),
    Reject.BAD_PARAMETER: (170130, "Data sent for paramter is not valid.", 10001, "Request parameter error"),
    Reject.INSUFFICIENT_BALANCE: (170131, "Insufficient balance.", 110007, "Available balance is insufficient"),
    Reject.MARGIN_INSUFFICIENT: (170131, "Insufficient balance.", 110007, "Available balance is insufficient"),
    Reject.UNKNOWN_ORDER: (170213, "Order does not exist.", 110001, "Order does not exist"),
    Reject.ORDER_NOT_FOUND: (170213, "Order does not exist.", 110001, "Order does not exist"),
    Reject.DUPLICATE_CLIENT_ID: (170141, "Duplicate clientOrderId", 110072, "OrderLinkedID is duplicate"),
    Reject.POST_ONLY_WOULD_TAKE: (170218, "The LIMIT-MAKER order is rejected due to invalid price.",
                                  10001, "Request parameter error"),
    Reject.PRICE_TICK: (170134, "Order price decimal too long.", 10001, "price invalid: tick size"),
    Reject.PRICE_RANGE: (170132, "Order price too high.", 110003, "Order price exceeds the allowable range."),
    Reject.QTY_STEP: (170137, "Order volume decimal too long", 10001, "Qty invalid: step size"),
    Reject.MIN_QTY: (170136, "Order quantity lower than the minimum.", 10001, "Qty invalid: below minimum"),
    Reject.MAX_QTY: (170124, "Order amount too large.", 10001, "Qty invalid: above maximum"),
    Reject.MIN_NOTIONAL: (170140, "Order value exceeded lower limit", 110094,
                          "Order notional value below the lower limit"),
    Reject.REDUCE_ONLY_REJECTED: (10001, "Request parameter error", 110017, "Reduce-only rule not satisfied"),
    Reject.REDUCE_ONLY_IN_HEDGE_MODE: (10001, "Request parameter error", 10001,
                                       "reduceOnly is not supported in hedge mode"),
    Reject.POSITION_MODE_MISMATCH: (10001, "Request parameter error", 10001,
                                    "position idx not match position mode"),
    Reject.POSITION_MODE_UNCHANGED: (110025, "Position mode has not been modified.", 110025,
                                     "Position mode has not been modified."),
    Reject.POSITION_MODE_OPEN_ORDERS: (110028, "You have existing open orders, so the position mode cannot be "
                                       "switched.", 110028, "You have existing open orders, so the position mode "
                                       "cannot be switched."),
    Reject.POSITION_MODE_OPEN_POSITIONS: (110024, "You have an existing position, so the position mode cannot be "
                                          "switched.", 110024, "You have an existing position, so the position "
                                          "mode cannot be switched."),
    Reject.LEVERAGE_INVALID: (10001, "Request parameter error", 10001, "leverage invalid"),
    Reject.LEVERAGE_EXCEEDS_POSITION: (110044, "Available margin is insufficient.", 110044,
                                       "Available margin is insufficient."),
    Reject.RATE_LIMITED: (10006, "Too many visits!", 10006, "Too many visits!"),
}


def reject_of(reason: Reject, category: str) -> BybitError:
    spot_code, spot_msg, lin_code, lin_msg = REJECTS.get(reason, (10001, reason.value, 10001, reason.value))
    return BybitError(spot_code, spot_msg) if category == "spot" else BybitError(lin_code, lin_msg)


_NUMBER_CHARS = frozenset("0123456789.")


def number(params: dict, name: str, required: bool = False) -> Optional[Decimal]:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise BybitError(10001, f"params error: {name} is required")
        return None
    value = str(raw)
    if len(value) > 30 or not value or not set(value) <= _NUMBER_CHARS or value.count(".") > 1:
        raise BybitError(10001, f"params error: {name} invalid")
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise BybitError(10001, f"params error: {name} invalid") from None
    return d


class Req:
    """A request's parameters and the exact payload text it was signed over."""

    __slots__ = ("params", "payload")

    def __init__(self, params: dict, payload: str) -> None:
        self.params = params
        self.payload = payload


class _Window:
    """Requests per rolling window (Bybit: "rolling time window per second")."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.times: deque = deque()

    def take(self, now: float) -> tuple[bool, int, float]:
        while self.times and now - self.times[0] >= self.seconds:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False, 0, self.times[0] + self.seconds
        self.times.append(now)
        return True, self.limit - len(self.times), now


class BybitFrontEnd(BybitStreams, FrontEnd):
    """Bybit v5 over the spot and linear engines (one host, as api.bybit.com)."""

    venue = "bybit"
    market = "v5"
    ping_interval = 20.0
    ws_incoming_per_second = 50

    def __init__(self, exchange: Any, engines: list, faults: Any, seed: int = 0,
                 ping_interval: Optional[float] = None, uid_limits: Optional[dict] = None) -> None:
        self.categories: dict[str, MatchingEngine] = {"spot": engines[0], "linear": engines[1]}
        self.uid_limits = dict(UID_LIMITS if uid_limits is None else uid_limits)
        self.clock = time.monotonic  # of the rate-limit windows (tests inject their own)
        self._uid_windows: dict = {}
        self._ip_window = _Window(*IP_LIMIT)
        #: PostOnly orders accepted then cancelled (they never reach the book):
        #: (owner, category) -> {order id: Order}, and by orderLinkId
        self._phantoms: dict = {}
        self._phantom_ids = iter(range(9_000_000_000, 10_000_000_000))
        BybitStreams.__init__(self)
        FrontEnd.__init__(self, exchange, engines, faults, seed=seed, ping_interval=ping_interval)

    # ------------------------------------------------------------------ routes
    def add_routes(self) -> None:
        pub = dict(fault_exempt=True)
        self.route("GET", "/v5/market/time", self.market_time, **pub)
        self.route("GET", "/v5/market/instruments-info", self.instruments_info, **pub)
        self.route("GET", "/v5/market/tickers", self.tickers)
        self.route("GET", "/v5/market/orderbook", self.orderbook)
        self.route("GET", "/v5/market/recent-trade", self.recent_trade)
        self.route("GET", "/v5/market/funding/history", self.funding_history)
        self.route("POST", "/v5/order/create", self.order_create, order=True, private=True)
        self.route("POST", "/v5/order/cancel", self.order_cancel, order=True, private=True)
        self.route("GET", "/v5/order/realtime", self.order_realtime, private=True)
        self.route("GET", "/v5/order/history", self.order_history, private=True)
        self.route("GET", "/v5/execution/list", self.execution_list, private=True)
        self.route("GET", "/v5/account/wallet-balance", self.wallet_balance, private=True)
        self.route("GET", "/v5/account/info", self.account_info, private=True)
        self.route("GET", "/v5/account/transaction-log", self.transaction_log, private=True)
        self.route("POST", "/v5/account/set-margin-mode", self.set_margin_mode, private=True)
        self.route("GET", "/v5/position/list", self.position_list, private=True)
        self.route("POST", "/v5/position/set-leverage", self.set_leverage, private=True)
        self.route("POST", "/v5/position/switch-mode", self.switch_mode, private=True)
        self.add_ws_routes()

    # ------------------------------------------------------------------ pipeline hooks
    async def read_request(self, request: web.Request, route: Route) -> Req:
        if request.method == "GET":
            raw = request.query_string
            return Req(dict(parse_qsl(raw, keep_blank_values=True)), raw)
        body = await request.text()
        try:
            params = json.loads(body) if body else {}
        except ValueError:
            raise BybitError(10001, "params error: body is not valid JSON") from None
        if not isinstance(params, dict):
            raise BybitError(10001, "params error: body must be a JSON object")
        return Req(params, body)

    def admit(self, request: web.Request, req: Req, route: Route) -> None:
        ok, _, _ = self._ip_window.take(self.clock())
        if not ok:
            self.count("ip_limited")
            raise WireError(403, {"retCode": 403, "retMsg": "access too frequent"})

    def authenticate(self, request: web.Request, req: Req, route: Route) -> Optional[Account]:
        if not route.meta.get("private"):
            return None
        h = request.headers
        key, ts, sign = h.get("X-BAPI-API-KEY"), h.get("X-BAPI-TIMESTAMP"), h.get("X-BAPI-SIGN")
        if not key or not ts or not sign:
            raise BybitError(10003, "API key is invalid.", status=401)
        account = self.exchange.account_by_key(key)
        if account is None:
            raise BybitError(10003, "API key is invalid.")
        window = h.get("X-BAPI-RECV-WINDOW", str(DEFAULT_RECV_WINDOW))
        self.check_time(ts, window)
        expected = hmac.new(account.secret.encode(), (ts + key + window + req.payload).encode(),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sign.lower()) or sign != sign.lower():
            self.count("bad_signature")
            raise BybitError(10004, "Error sign, please check your signature generation algorithm.")
        self.charge_uid(account, route.path, str(req.params.get("category", "")))
        return account

    def check_time(self, ts: Any, window: Any) -> None:
        """``server_time - recv_window <= timestamp < server_time + 1000`` (retCode 10002)."""
        try:
            t, w = int(str(ts)), int(str(window))
        except ValueError:
            raise BybitError(10001, "params error: timestamp or recv_window invalid") from None
        now = self.server_time()
        if w <= 0 or not now - w <= t < now + 1000:
            raise BybitError(10002, "The request time exceeds the time window range.")

    def charge_uid(self, account: Account, path: str, category: str) -> dict:
        limit = self.uid_limits.get((path, category), self.uid_limits.get(path))
        if limit is None:
            return {}
        window = self._uid_windows.get((account.account_id, path, category))
        if window is None:
            window = self._uid_windows[(account.account_id, path, category)] = _Window(limit, 1.0)
        window.limit = limit  # the limits may be changed at runtime (soak tests raise them)
        now = self.clock()
        ok, left, reset = window.take(now)
        headers = {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(left),
                   "X-Bapi-Limit-Reset-Timestamp": str(self.server_time() + int(max(0.0, reset - now) * 1000))}
        if not ok:
            self.count("uid_limited")
            raise BybitError(10006, "Too many visits!", headers=headers)
        return headers

    def fault_error(self, kind: str) -> WireError:
        if kind == "429":
            reset = self.server_time() + 1000 * self.faults.config.retry_after_seconds
            return BybitError(10006, "Too many visits!", headers={
                "X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": str(reset),
                "Retry-After": str(self.faults.config.retry_after_seconds)})
        if kind == "order_unknown":
            return BybitError(10000, "Server Timeout")
        if kind == "hang":
            return BybitError(10000, "Server Timeout", status=504)
        return BybitError(10016, "Server error.", status=503)

    def reject_error(self, e: SimReject, route: Route) -> WireError:
        return reject_of(e.reason, "linear")  # handlers map their own category's codes first

    def internal_error(self, status: int) -> WireError:
        if status == 404:
            return BybitError(10017, "Route not found.", status=404)
        return BybitError(10016, "Server error.", status=status)

    def ok_response(self, result: Any, account: Any, route: Route) -> web.StreamResponse:
        return web.json_response(text=dumps({"retCode": 0, "retMsg": "OK", "result": result,
                                             "retExtInfo": {}, "time": self.server_time()}))

    # ------------------------------------------------------------------ helpers
    def category(self, params: dict, allowed: tuple = CATEGORIES) -> str:
        cat = params.get("category")
        if cat not in allowed:
            raise BybitError(10001, "params error: category is invalid")
        return cat

    def spec(self, category: str, symbol: Any) -> SymbolSpec:
        spec = self.categories[category].specs.get(symbol) if isinstance(symbol, str) else None
        if spec is None:
            raise reject_of(Reject.UNKNOWN_SYMBOL, category)
        return spec

    @staticmethod
    def cat_of(engine: MatchingEngine) -> str:
        return "spot" if engine.market == "spot" else "linear"

    # ------------------------------------------------------------------ public REST
    async def market_time(self, request: web.Request, req: Req, account: Any) -> dict:
        ms = self.server_time()
        return {"timeSecond": str(ms // 1000), "timeNano": str(ms * 1_000_000)}

    def instrument(self, category: str, spec: SymbolSpec) -> dict:
        if category == "spot":
            return {"symbol": spec.symbol, "baseCoin": spec.base, "quoteCoin": spec.quote, "innovation": "0",
                    "status": "Trading", "marginTrading": "none", "stTag": "0",
                    "lotSizeFilter": {"basePrecision": text(spec.step_size), "quotePrecision": text(spec.tick_size),
                                      "minOrderQty": text(spec.min_qty), "maxOrderQty": text(spec.max_qty),
                                      "minOrderAmt": text(spec.min_notional), "maxOrderAmt": "100000000",
                                      "maxLimitOrderQty": text(spec.max_qty),
                                      "maxMarketOrderQty": text(spec.market_max_qty)},
                    "priceFilter": {"tickSize": text(spec.tick_size)}, "symbolType": ""}
        return {"symbol": spec.symbol, "contractType": "LinearPerpetual", "status": "Trading",
                "baseCoin": spec.base, "quoteCoin": spec.quote, "launchTime": "1585526400000",
                "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": str(spec.price_decimals),
                "leverageFilter": {"minLeverage": "1", "maxLeverage": f"{MAX_LEVERAGE}.00", "leverageStep": "1"},
                "priceFilter": {"minPrice": text(spec.min_price), "maxPrice": text(spec.max_price),
                                "tickSize": text(spec.tick_size)},
                "lotSizeFilter": {"maxOrderQty": text(spec.max_qty), "minOrderQty": text(spec.min_qty),
                                  "qtyStep": text(spec.step_size), "postOnlyMaxOrderQty": text(spec.max_qty),
                                  "maxMktOrderQty": text(spec.market_max_qty),
                                  "minNotionalValue": text(spec.min_notional)},
                "unifiedMarginTrade": True, "fundingInterval": int((self.exchange.funding_interval or 28800) // 60),
                "settleCoin": spec.quote, "copyTrading": "none", "upperFundingRate": "0.00375",
                "lowerFundingRate": "-0.00375", "isPreListing": False, "preListingInfo": None, "symbolType": ""}

    async def instruments_info(self, request: web.Request, req: Req, account: Any) -> dict:
        cat = self.category(req.params)
        specs = self.categories[cat].specs
        symbol = req.params.get("symbol")
        chosen = [self.spec(cat, symbol)] if symbol else list(specs.values())
        return {"category": cat, "list": [self.instrument(cat, s) for s in chosen], "nextPageCursor": ""}

    async def tickers(self, request: web.Request, req: Req, account: Any) -> dict:
        cat = self.category(req.params)
        engine = self.categories[cat]
        symbol = req.params.get("symbol")
        chosen = [self.spec(cat, symbol)] if symbol else list(engine.specs.values())
        out = []
        for spec in chosen:
            book = engine.books[spec.symbol]
            bid, ask = book.depth(BUY, 1), book.depth(SELL, 1)
            row = {"symbol": spec.symbol, "lastPrice": text(self.exchange.last_price(engine, spec.symbol)),
                   "bid1Price": text(bid[0][0]) if bid else "", "bid1Size": text(bid[0][1]) if bid else "",
                   "ask1Price": text(ask[0][0]) if ask else "", "ask1Size": text(ask[0][1]) if ask else ""}
            if cat == "linear":
                mark = self.exchange.mark_price_of(spec.symbol)
                row.update({"markPrice": text(mark), "indexPrice": text(mark),
                            "fundingRate": text(self.exchange.funding_rate(spec.symbol)),
                            "nextFundingTime": str(self.exchange.next_funding_ms),
                            "fundingIntervalHour": str(max(1, int((self.exchange.funding_interval or 28800) // 3600)))})
            out.append(row)
        return {"category": cat, "list": out}

    async def orderbook(self, request: web.Request, req: Req, account: Any) -> dict:
        cat = self.category(req.params)
        spec = self.spec(cat, req.params.get("symbol"))
        # "limit": spot [1, 200] default 1, linear [1, 500] default 25 (a limit outside is an error)
        given = number(req.params, "limit")
        limit = (1 if cat == "spot" else 25) if given is None else given
        cap = 200 if cat == "spot" else 500
        if limit != int(limit) or not 1 <= limit <= cap:
            raise BybitError(10001, "params error: limit invalid")
        book = self.categories[cat].books[spec.symbol]
        ts = self.server_time()
        return {"s": spec.symbol, "b": [[text(p), text(q)] for p, q in book.depth(BUY, int(limit))],
                "a": [[text(p), text(q)] for p, q in book.depth(SELL, int(limit))], "ts": ts,
                "u": book.update_id, "seq": book.update_id, "cts": ts}

    async def recent_trade(self, request: web.Request, req: Req, account: Any) -> dict:
        cat = self.category(req.params)
        spec = self.spec(cat, req.params.get("symbol"))
        limit = int(number(req.params, "limit") or (60 if cat == "spot" else 500))
        fills = [f for f in self.categories[cat].fills if f.symbol == spec.symbol][-limit:]
        return {"category": cat, "list": [{"execId": str(f.trade_id), "symbol": f.symbol, "price": text(f.price),
                                           "size": text(f.qty), "side": "Buy" if f.taker.side == BUY else "Sell",
                                           "time": str(f.time), "isBlockTrade": False} for f in reversed(fills)]}

    async def funding_history(self, request: web.Request, req: Req, account: Any) -> dict:
        self.category(req.params, ("linear",))
        spec = self.spec("linear", req.params.get("symbol"))
        rows = [h for h in self.exchange.funding_history if h["symbol"] == spec.symbol][-200:]
        return {"category": "linear", "list": [{"symbol": h["symbol"], "fundingRate": text(h["fundingRate"]),
                                                "fundingRateTimestamp": str(h["fundingTime"])} for h in reversed(rows)]}

    # ------------------------------------------------------------------ orders
    async def order_create(self, request: web.Request, req: Req, account: Account) -> dict:
        return self.create_order(account, req.params)

    def create_order(self, account: Account, p: dict) -> dict:
        """Place an order (REST ``/v5/order/create`` and WebSocket ``order.create``)."""
        cat = self.category(p)
        try:
            return self._create(account, cat, p)
        except SimReject as e:
            raise reject_of(e.reason, cat) from None

    def _create(self, account: Account, cat: str, p: dict) -> dict:
        engine = self.categories[cat]
        spec = self.spec(cat, p.get("symbol"))
        side = {"Buy": BUY, "Sell": SELL}.get(p.get("side"))
        otype = p.get("orderType")
        if side is None or otype not in ("Limit", "Market"):
            raise BybitError(10001, "params error: side or orderType invalid")
        link = p.get("orderLinkId") or None
        if link is not None and (not isinstance(link, str) or len(link) > MAX_ORDER_LINK_ID):
            raise BybitError(10001, "params error: orderLinkId invalid")
        tif = p.get("timeInForce") or ("IOC" if otype == "Market" else "GTC")
        if tif not in TIF_FROM_WIRE:
            raise BybitError(10001, "params error: timeInForce invalid")
        smp = SMP_FROM_WIRE.get(p.get("smpType") or "None")
        if smp is None:
            raise BybitError(10001, "params error: smpType invalid")
        qty = number(p, "qty", required=True)
        price = number(p, "price", required=otype == "Limit")
        reduce_only = p.get("reduceOnly") in (True, "true")
        position_side: Optional[str] = PositionSide.NET
        if cat == "linear":
            position_side = POSITION_IDX_FROM_WIRE.get(p.get("positionIdx", 0))
            if position_side is None:
                raise BybitError(10001, "params error: positionIdx invalid")
        elif reduce_only:
            raise BybitError(10001, "params error: reduceOnly is not supported for spot")
        quote_qty: Optional[Decimal] = None
        if otype == "Market" and cat == "spot" and side == BUY and p.get("marketUnit", "quoteCoin") == "quoteCoin":
            quote_qty, qty = qty, None
        elif otype == "Market" and cat == "spot" and p.get("marketUnit") not in (None, "baseCoin", "quoteCoin"):
            raise BybitError(10001, "params error: marketUnit invalid")
        self.check_filters(spec, cat, otype, qty, price, quote_qty)
        req = OrderRequest(symbol=spec.symbol, side=side, type="MARKET" if otype == "Market" else "LIMIT",
                           time_in_force=TIF_FROM_WIRE[tif] if otype == "Limit" else TIF.GTC,
                           quantity=qty, quote_qty=quote_qty, price=price, client_order_id=link,
                           stp_mode=smp, reduce_only=reduce_only, position_side=position_side)
        try:
            order = engine.submit(account.account_id, req)
        except SimReject as e:
            if e.reason is not Reject.POST_ONLY_WOULD_TAKE:
                raise
            order = self.post_only_cancelled(account.account_id, cat, req)
        return {"orderId": str(order.order_id), "orderLinkId": order.client_order_id if link else ""}

    def check_filters(self, spec: SymbolSpec, cat: str, otype: str, qty: Optional[Decimal],
                      price: Optional[Decimal], quote_qty: Optional[Decimal]) -> None:
        if price is not None:
            if price <= 0 or price % spec.tick_size:
                raise reject_of(Reject.PRICE_TICK, cat)
            if not spec.min_price <= price <= spec.max_price:
                raise reject_of(Reject.PRICE_RANGE, cat)
        if quote_qty is not None:
            if quote_qty < spec.min_notional:
                raise reject_of(Reject.MIN_NOTIONAL, cat)
            return
        assert qty is not None
        if qty <= 0 or qty % spec.step_size:
            raise reject_of(Reject.QTY_STEP, cat)
        if qty < spec.min_qty:
            raise reject_of(Reject.MIN_QTY, cat)
        if qty > (spec.market_max_qty if otype == "Market" else spec.max_qty):
            raise reject_of(Reject.MAX_QTY, cat)
        ref = price if price is not None else self.reference_price(cat, spec)
        if ref and qty * ref < spec.min_notional:
            raise reject_of(Reject.MIN_NOTIONAL, cat)

    def reference_price(self, cat: str, spec: SymbolSpec) -> Decimal:
        if cat == "linear":
            return self.exchange.mark_price_of(spec.symbol)
        return self.exchange.last_price(self.categories[cat], spec.symbol)

    def post_only_cancelled(self, owner: str, cat: str, req: OrderRequest) -> Order:
        """A PostOnly order that would take: accepted, then Cancelled before resting (Bybit's
        behaviour). It is kept for queries and pushed on the order stream."""
        engine = self.categories[cat]
        ts = now_ms()
        cid = req.client_order_id or engine.new_client_order_id()
        order = Order(symbol=req.symbol, order_id=next(self._phantom_ids), client_order_id=cid, owner=owner,
                      side=req.side, type="LIMIT", time_in_force=TIF.POST_ONLY, price=req.price or ZERO,
                      orig_qty=req.quantity or ZERO, time=ts, status=Status.CANCELED, update_time=ts,
                      stp_mode=req.stp_mode, reduce_only=req.reduce_only, position_side=req.position_side,
                      end_reason=EndReason.POST_ONLY_WOULD_TAKE)
        book = self._phantoms.setdefault((owner, cat), {})
        book[order.order_id] = order
        if len(book) > 10_000:
            book.pop(next(iter(book)))
        self.push_phantom(owner, cat, order)
        return order

    def phantom(self, owner: str, cat: str, order_id: Optional[int], link: Optional[str]) -> Optional[Order]:
        book = self._phantoms.get((owner, cat), {})
        if order_id is not None:
            return book.get(order_id)
        if link:
            for o in reversed(list(book.values())):
                if o.client_order_id == link:
                    return o
        return None

    @staticmethod
    def order_ref(p: dict) -> tuple[Optional[int], Optional[str]]:
        oid, link = p.get("orderId") or None, p.get("orderLinkId") or None
        if oid is None and link is None:
            raise BybitError(10001, "params error: orderId or orderLinkId is required")
        if oid is not None:
            try:
                return int(str(oid)), link
            except ValueError:
                return -1, link
        return None, link

    async def order_cancel(self, request: web.Request, req: Req, account: Account) -> dict:
        return self.cancel_order(account, req.params)

    def cancel_order(self, account: Account, p: dict) -> dict:
        cat = self.category(p)
        spec = self.spec(cat, p.get("symbol"))
        oid, link = self.order_ref(p)
        try:
            o = self.categories[cat].cancel(account.account_id, spec.symbol, oid, link)
        except SimReject as e:
            raise reject_of(e.reason, cat) from None
        return {"orderId": str(o.order_id), "orderLinkId": o.client_order_id}

    def find_orders(self, account: Account, p: dict) -> tuple[str, list]:
        """One order by ``orderId``/``orderLinkId`` (open or closed), else the open orders."""
        cat = self.category(p)
        engine = self.categories[cat]
        owner = account.account_id
        symbol = p.get("symbol")
        if symbol:
            self.spec(cat, symbol)
        if p.get("orderId") or p.get("orderLinkId"):
            oid, link = self.order_ref(p)
            found = None
            if symbol:
                found = engine.find(owner, symbol, oid, link)
            else:
                for s in engine.specs:
                    found = engine.find(owner, s, oid, link)
                    if found:
                        break
            found = found or self.phantom(owner, cat, oid, link)
            return cat, [found] if found is not None else []
        orders = engine.open_orders(owner, symbol or None)
        return cat, orders

    async def order_realtime(self, request: web.Request, req: Req, account: Account) -> dict:
        """Open orders, or one order by ``orderId``/``orderLinkId`` (recently closed ones too)."""
        cat, orders = self.find_orders(account, req.params)
        return {"category": cat, "list": [self.order_row(cat, o) for o in orders], "nextPageCursor": ""}

    async def order_history(self, request: web.Request, req: Req, account: Account) -> dict:
        cat, orders = self.find_orders(account, req.params)
        return {"category": cat, "list": [self.order_row(cat, o) for o in orders if not o.is_open],
                "nextPageCursor": ""}

    def order_status(self, cat: str, o: Order, status: Optional[str] = None) -> str:
        status = status or o.status
        if status == Status.NEW:
            return "New"
        if status == Status.PARTIALLY_FILLED:
            return "PartiallyFilled"
        if status == Status.FILLED:
            return "Filled"
        if cat == "spot" and o.executed_qty > 0:
            return "PartiallyFilledCanceled"
        return "Cancelled"

    def order_row(self, cat: str, o: Order, snap: Optional[dict] = None) -> dict:
        executed = snap["executed_qty"] if snap else o.executed_qty
        cum_quote = snap["cum_quote"] if snap else o.cum_quote
        orig = snap["orig_qty"] if snap else o.orig_qty
        status = self.order_status(cat, o, snap["status"] if snap else None)
        fee, fee_coin = self.order_fee(cat, o)
        prevented = o.end_reason == EndReason.SELF_TRADE and o.prevention is not None
        return {
            "orderId": str(o.order_id), "orderLinkId": o.client_order_id, "blockTradeId": "", "symbol": o.symbol,
            "price": text(o.price) if o.type != "MARKET" else "0", "qty": text(orig),
            "side": "Buy" if o.side == BUY else "Sell", "isLeverage": "0" if cat == "spot" else "",
            "positionIdx": POSITION_IDX.get(o.position_side, 0), "orderStatus": status,
            "cancelType": "UNKNOWN" if status in ("New", "PartiallyFilled", "Filled") else
            "CancelBySmp" if prevented else "CancelByUser",
            "rejectReason": "EC_PostOnlyWillTakeLiquidity" if o.end_reason == EndReason.POST_ONLY_WOULD_TAKE
            else "EC_NoError",
            "avgPrice": text(cum_quote / executed) if executed else "0",
            "leavesQty": text(orig - executed) if status in ("New", "PartiallyFilled") else "0",
            "leavesValue": text((orig - executed) * o.price) if status in ("New", "PartiallyFilled") else "0",
            "cumExecQty": text(executed), "cumExecValue": text(cum_quote), "cumExecFee": text(fee),
            "feeCurrency": fee_coin, "timeInForce": TIF_WIRE[o.time_in_force],
            "orderType": "Market" if o.type == "MARKET" else "Limit", "stopOrderType": "",
            "triggerPrice": "0", "takeProfit": "0", "stopLoss": "0", "reduceOnly": o.reduce_only,
            "closeOnTrigger": False, "smpType": SMP_WIRE[o.stp_mode], "smpGroup": 0,
            "smpOrderId": str(o.prevention[1]) if prevented else "",
            "createdTime": str(o.time), "updatedTime": str(snap["update_time"] if snap else o.update_time)}

    def order_fee(self, cat: str, o: Order) -> tuple[Decimal, str]:
        """Cumulative fee of an order and its coin, from the account's trades."""
        owner = self.exchange.accounts.get(o.owner)
        if owner is None:
            return ZERO, ""
        trades = owner.spot.trades if cat == "spot" else owner.futures.trades
        fee, coin = ZERO, ""
        for t in reversed(trades[-5000:]):
            if t.order_id == o.order_id and t.symbol == o.symbol:
                fee += t.commission
                coin = t.commission_asset
        return fee, coin

    async def execution_list(self, request: web.Request, req: Req, account: Account) -> dict:
        p = req.params
        cat = self.category(p)
        owner = self.exchange.accounts[account.account_id]
        trades = owner.spot.trades if cat == "spot" else owner.futures.trades
        symbol, oid = p.get("symbol"), p.get("orderId")
        link = p.get("orderLinkId")
        start = int(number(p, "startTime") or 0)
        limit = int(number(p, "limit") or 50)
        if not 1 <= limit <= 100:
            raise BybitError(10001, "params error: limit invalid")
        rows = []
        for t in reversed(trades):
            if (symbol and t.symbol != symbol) or (oid and str(t.order_id) != str(oid)) \
                    or (link and t.client_order_id != link) or t.time < start:
                continue
            rows.append(self.execution_row(cat, t))
            if len(rows) >= limit:
                break
        return {"category": cat, "list": rows, "nextPageCursor": ""}

    def execution_row(self, cat: str, t: Any) -> dict:
        return {"symbol": t.symbol, "orderId": str(t.order_id), "orderLinkId": t.client_order_id,
                "side": "Buy" if t.side == BUY else "Sell", "orderType": "Limit", "stopOrderType": "",
                "execFee": text(t.commission), "feeCurrency": t.commission_asset, "execId": str(t.trade_id),
                "execPrice": text(t.price), "execQty": text(t.qty), "execType": "Trade",
                "execValue": text(t.quote_qty), "feeRate": "", "isMaker": t.is_maker,
                "execTime": str(t.time), "closedSize": "", "seq": t.trade_id}

    # ------------------------------------------------------------------ account
    def wallet_coins(self, account: Account) -> list:
        """The unified wallet: per coin, spot balance plus the perpetual wallet (margin coin)."""
        fut = account.futures
        ledger = self.categories["linear"].ledger
        coins: dict = {}
        for asset, (free, locked) in account.spot.balances.items():
            coins[asset] = [free + locked, locked, ZERO, ZERO, ZERO]
        for asset, amount in fut.wallet.items():
            c = coins.setdefault(asset, [ZERO, ZERO, ZERO, ZERO, ZERO])
            c[0] += amount
        margin = getattr(ledger, "MARGIN_ASSET", "USDT")
        if margin in coins:
            c = coins[margin]
            open_orders = self.categories["linear"].open_orders(account.account_id)
            c[2] = sum((o.reserved for o in open_orders), ZERO)
            c[3] = ledger.position_margin(fut)
            c[4] = ledger.unrealized(fut)
        out = []
        for asset, (wallet, locked, order_im, pos_im, upl) in sorted(coins.items()):
            if wallet == 0 and locked == 0:
                continue
            out.append({"coin": asset, "equity": text(wallet + upl), "walletBalance": text(wallet),
                        "locked": text(locked), "totalOrderIM": text(order_im), "totalPositionIM": text(pos_im),
                        "totalPositionMM": "0", "unrealisedPnl": text(upl), "cumRealisedPnl": "0",
                        "availableToWithdraw": text(wallet - locked - order_im - pos_im), "usdValue": "",
                        "borrowAmount": "0", "accruedInterest": "0", "bonus": "0", "collateralSwitch": True,
                        "marginCollateral": True, "spotHedgingQty": "0"})
        return out

    def wallet(self, account: Account) -> dict:
        coins = self.wallet_coins(account)
        return {"accountType": "UNIFIED", "totalEquity": "", "totalWalletBalance": "", "totalMarginBalance": "",
                "totalAvailableBalance": "", "totalPerpUPL": "", "totalInitialMargin": "",
                "totalMaintenanceMargin": "", "accountIMRate": "", "accountMMRate": "", "accountLTV": "",
                "coin": coins}

    async def wallet_balance(self, request: web.Request, req: Req, account: Account) -> dict:
        if req.params.get("accountType") != "UNIFIED":
            raise BybitError(10001, "params error: accountType only support UNIFIED")
        wallet = self.wallet(account)
        wanted = req.params.get("coin")
        if wanted:
            names = set(wanted.split(","))
            wallet["coin"] = [c for c in wallet["coin"] if c["coin"] in names]
        return {"list": [wallet]}

    def margin_mode(self, account: Account) -> str:
        """Account-wide on a Unified account: ISOLATED_MARGIN when every linear symbol is isolated."""
        fut = account.futures
        specs = self.categories["linear"].specs
        return "ISOLATED_MARGIN" if specs and all(fut.isolated(s) for s in specs) else "REGULAR_MARGIN"

    async def account_info(self, request: web.Request, req: Req, account: Account) -> dict:
        return {"marginMode": self.margin_mode(account), "updatedTime": str(self.server_time()), "unifiedMarginStatus": 5,
                "dcpStatus": "OFF", "timeWindow": 10, "smpGroup": 0, "isMasterTrader": False,
                "spotHedgingStatus": "OFF"}

    async def set_margin_mode(self, request: web.Request, req: Req, account: Account) -> dict:
        mode = req.params.get("setMarginMode")
        if mode not in ("ISOLATED_MARGIN", "REGULAR_MARGIN", "PORTFOLIO_MARGIN"):
            raise BybitError(10001, "params error: setMarginMode invalid")
        if mode == "PORTFOLIO_MARGIN":
            # the embedded venue offers regular (cross) and isolated margin
            raise _margin_mode_failed("only REGULAR_MARGIN and ISOLATED_MARGIN are available")
        # account wide: every linear symbol switches, none while one has a position or an order
        wanted = MarginMode.ISOLATED if mode == "ISOLATED_MARGIN" else MarginMode.CROSS
        ledger = self.categories["linear"].ledger
        fut = account.futures
        symbols = [s for s in self.categories["linear"].specs if fut.margin_mode.get(s, MarginMode.CROSS) != wanted]
        busy = {o.symbol for o in self.categories["linear"].open_orders(account.account_id)} | {
            s for (s, _), pos in fut.positions.items() if pos.amount}
        if busy & set(symbols):
            raise _margin_mode_failed("positions or active orders exist")
        for symbol in symbols:
            ledger.set_margin_mode(account.account_id, symbol, wanted)     # type: ignore[attr-defined]
        return {"reasons": []}

    async def transaction_log(self, request: web.Request, req: Req, account: Account) -> dict:
        """Funding settlements (type SETTLEMENT) and trade fees (TRADE) of the perpetual wallet."""
        p = req.params
        kind = p.get("type")
        start = int(number(p, "startTime") or 0)
        rows = []
        for inc in reversed(account.futures.income):
            if inc.time < start:
                continue
            if inc.income_type == IncomeKind.FUNDING:
                row_type = "SETTLEMENT"
            elif inc.income_type == IncomeKind.FEE:
                row_type = "TRADE"
            else:
                continue
            if kind and kind != row_type:
                continue
            rows.append({"id": str(inc.tran_id), "symbol": inc.symbol, "category": "linear", "side": "",
                         "transactionTime": str(inc.time), "type": row_type,
                         # "Positive fee value means receive funding; negative fee value means pay
                         # funding" (and change = cashFlow + funding - fee): the wallet's own sign
                         "funding": text(inc.income) if row_type == "SETTLEMENT" else "",
                         "fee": text(-inc.income) if row_type == "TRADE" else "0",
                         "change": text(inc.income), "cashFlow": "0", "currency": inc.asset,
                         "tradeId": inc.trade_id, "orderId": "", "orderLinkId": "", "cashBalance": ""})
            if len(rows) >= 50:
                break
        return {"list": rows, "nextPageCursor": ""}

    # ------------------------------------------------------------------ positions
    def position_rows(self, account: Account, symbol: Optional[str] = None) -> list:
        fut = account.futures
        engine = self.categories["linear"]
        out = []
        symbols = [symbol] if symbol else list(engine.specs)
        for s in symbols:
            sides = (PositionSide.LONG, PositionSide.SHORT) if fut.hedge_mode else (PositionSide.NET,)
            for ps in sides:
                pos = fut.positions.get((s, ps))
                out.append(self.position_row(account, s, ps, pos))
        return out

    def position_row(self, account: Account, symbol: str, ps: str, pos: Any) -> dict:
        fut = account.futures
        amount = pos.amount if pos else ZERO
        mark = self.exchange.mark_price_of(symbol)
        side = "" if amount == 0 else ("Buy" if amount > 0 else "Sell")
        lev = fut.lev(symbol)
        entry = pos.entry_price if pos else ZERO
        isolated = fut.isolated(symbol)
        liq = self.categories["linear"].ledger.liquidation_price(fut, symbol, pos) if pos else None  # type: ignore[attr-defined]
        # Unified account: "tradeMode" is always 0 (the margin mode is account wide, Get Account Info)
        return {"positionIdx": POSITION_IDX[ps], "riskId": 1, "riskLimitValue": "2000000",
                "symbol": symbol, "side": side, "size": text(abs(amount)), "avgPrice": text(entry),
                "entryPrice": text(entry),
                "positionValue": text(abs(amount) * entry), "tradeMode": 0, "positionStatus": "Normal",
                "autoAddMargin": 0, "adlRankIndicator": 0, "leverage": str(lev), "positionBalance": "0",
                "markPrice": text(mark), "liqPrice": text(self.categories["linear"].specs[symbol].floor_price(liq)) if liq else "", "bustPrice": "",
                "positionIM": text(pos.isolated_margin if isolated and pos else abs(amount) * mark / lev),
                "positionMM": "0",
                "takeProfit": "0", "stopLoss": "0", "trailingStop": "0",
                "unrealisedPnl": text(pos.unrealized(mark) if pos else ZERO), "curRealisedPnl": "0",
                "cumRealisedPnl": "0", "createdTime": str(pos.update_time if pos else 0),
                "updatedTime": str(pos.update_time if pos else 0), "seq": 0, "isReduceOnly": False,
                "tpslMode": "Full", "category": "linear"}

    async def position_list(self, request: web.Request, req: Req, account: Account) -> dict:
        p = req.params
        self.category(p, ("linear",))
        symbol = p.get("symbol")
        if symbol:
            self.spec("linear", symbol)
        elif not p.get("settleCoin"):
            raise BybitError(10001, "params error: symbol or settleCoin is required")
        rows = self.position_rows(account, symbol)
        if not symbol:
            rows = [r for r in rows if r["size"] != "0"]
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    async def set_leverage(self, request: web.Request, req: Req, account: Account) -> dict:
        p = req.params
        self.category(p, ("linear",))
        spec = self.spec("linear", p.get("symbol"))
        buy, sell = number(p, "buyLeverage", True), number(p, "sellLeverage", True)
        if buy != sell:
            raise BybitError(10001, "params error: buy leverage must equal sell leverage")
        if buy is None or buy != buy.to_integral_value():
            raise BybitError(10001, "params error: leverage invalid")
        lev = int(buy)
        if account.futures.lev(spec.symbol) == lev:
            raise BybitError(110043, "Set leverage has not been modified.")
        try:
            self.categories["linear"].ledger.set_leverage(account.account_id, spec.symbol, lev)
        except SimReject as e:
            raise reject_of(e.reason, "linear") from None
        return {}

    async def switch_mode(self, request: web.Request, req: Req, account: Account) -> dict:
        p = req.params
        self.category(p, ("linear",))
        if not p.get("symbol") and not p.get("coin"):
            raise BybitError(10001, "params error: symbol or coin is required")
        if p.get("symbol"):
            self.spec("linear", p.get("symbol"))
        mode = p.get("mode")
        if mode not in (0, 3, "0", "3"):
            raise BybitError(10001, "params error: mode invalid")
        try:
            self.categories["linear"].ledger.set_position_mode(account.account_id, str(mode) == "3")
        except SimReject as e:
            raise reject_of(e.reason, "linear") from None
        return {}


def _margin_mode_failed(reason: str) -> WireError:
    """"Set Margin Mode" refused: retCode 3400045 "Set margin mode failed" with its reasons."""
    return WireError(200, {"retCode": 3400045, "retMsg": "Set margin mode failed",
                           "result": {"reasons": [{"reasonCode": "3400000", "reasonMsg": reason}]},
                           "retExtInfo": {}, "time": now_ms()})


def front_ends(exchange: Any, *, ping_interval: Optional[float] = None, uid_limits: Optional[dict] = None) -> dict:
    """The Bybit v5 front end over the exchange's spot and perpetual engines."""
    return {"bybit": BybitFrontEnd(exchange, [exchange.spot_engine, exchange.futures_engine], exchange.injector,
                                   seed=exchange.seed + 3, ping_interval=ping_interval, uid_limits=uid_limits)}
