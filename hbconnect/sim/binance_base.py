"""The Binance front-end base shared by the spot and USDⓈ-M futures front ends.

A :class:`BinanceFrontEnd` is a :class:`~hbconnect.sim.server.FrontEnd` that speaks Binance:

* authenticates requests as Binance does: ``X-MBX-APIKEY`` header (-2014 missing/malformed,
  -2015 unknown), HMAC-SHA256 hex over the query string + body *as sent* without the
  ``signature`` parameter (Ed25519 base64 signatures for accounts registered with an Ed25519
  public key, when the ``cryptography`` package is installed), ``timestamp`` within
  ``recvWindow`` (default 5000 ms, at most 60000; -1021 otherwise, also when the timestamp is
  1000 ms or more ahead of the server);
* counts request weight and orders in fixed windows, answers ``X-MBX-USED-WEIGHT-1M`` and
  ``X-MBX-ORDER-COUNT-*`` headers, 429 + ``Retry-After`` (-1003 / -1015) beyond the limits and
  418 (IP ban) when a client keeps sending while it was told to back off;
* maps the core's neutral rejections (:class:`~hbconnect.sim.errors.Reject`) to Binance's codes
  and messages (``REJECTS``, per market), and the fault knobs to Binance's fault answers;
* serves WebSocket market streams (raw ``/ws/<stream>``, combined ``/stream?streams=``, live
  ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS``) and listenKey user streams; a
  number as a path part (ccxt.pro's ``/ws/0``) is a connection name, not a stream.

What both markets do alike is written here once: parameter parsing (Binance's legal ranges),
the shared order-parameter checks, ticker/trades/depth handlers parameterised by the market's
number formatting (``fp``/``fq``), trade filtering, and the market-data publisher (diff depth
with ``U``/``u`` continuing the REST snapshot, partial depth, book tickers).  Market-specific
message shapes live in ``binance_spot.py`` and ``binance_futures.py`` (the ``*_event`` hooks).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import string
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Optional
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from hbconnect.core.codecs import json_dumps as _fast_dumps
from hbconnect.sim.accounts import Account
from hbconnect.sim.errors import Reject, SimReject
from hbconnect.sim.faults import FaultInjector
from hbconnect.sim.marketdata import (agg_trades, candles, last_price, period_bounds, rolling_stats,
                                      symbol_fills)
from hbconnect.sim.matching import BUY, ZERO, Fill, MatchingEngine, SymbolSpec, now_ms
from hbconnect.sim.vocabulary import PositionSide, SelfTradePrevention as STP, Status
from hbconnect.sim.server import FrontEnd, Route, WireError, WsConn, book_changes

#: the core's self-trade prevention modes as Binance names them (``selfTradePreventionMode``)
STP_WIRE = {STP.NONE: "NONE", STP.CANCEL_TAKER: "EXPIRE_TAKER", STP.CANCEL_MAKER: "EXPIRE_MAKER",
            STP.CANCEL_BOTH: "EXPIRE_BOTH"}
STP_FROM_WIRE = {wire: mode for mode, wire in STP_WIRE.items()}
#: the core's position sides as Binance names them (``positionSide``)
POSITION_SIDE_WIRE = {PositionSide.NET: "BOTH", PositionSide.LONG: "LONG", PositionSide.SHORT: "SHORT"}
POSITION_SIDE_FROM_WIRE = {wire: side for side, wire in POSITION_SIDE_WIRE.items()}


def wire_status(status: str) -> str:
    """An order status as Binance names it: self-trade prevention ends in ``EXPIRED_IN_MATCH``."""
    return "EXPIRED_IN_MATCH" if status == Status.PREVENTED else status


#: what WebSocket API order calls pass where a REST route is expected (rejection mapping)
_WS_API_ROUTE = Route("WS", "ws-api", order=True)
#: a WebSocket API call whose answer an injected fault loses
_LOST = object()

logger = logging.getLogger(__name__)


class BinanceError(WireError):
    """An error Binance answers as ``{"code": code, "msg": msg}`` with HTTP ``status``."""

    def __init__(self, code: int, msg: str, status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, None, headers)
        self.args = (f"{code}: {msg}",)
        self.code = code
        self.msg = msg

    def __str__(self) -> str:
        return f"{self.code}: {self.msg}"

    def body(self) -> dict:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


INVALID_SYMBOL = (-1121, "Invalid symbol.")
BAD_SIGNATURE = (-1022, "Signature for this request is not valid.")
BAD_API_KEY_FORMAT = (-2014, "API-key format invalid.")
REJECTED_API_KEY = (-2015, "Invalid API-key, IP, or permissions for action.")
TS_OUTSIDE_WINDOW = (-1021, "Timestamp for this request is outside of the recvWindow.")
TS_AHEAD = (-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
UNKNOWN_STATUS = (-1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown.")
INVALID_LISTEN_KEY = (-1125, "This listenKey does not exist.")
UNKNOWN_ERROR = (-1000, "An unknown error occurred while processing the request.")


def err(pair: tuple[int, str], status: int = 400) -> BinanceError:
    return BinanceError(pair[0], pair[1], status)


#: kline intervals (case-sensitive) -> length in ms (None: calendar month)
KLINE_INTERVALS: dict[str, Optional[int]] = {
    "1s": 1000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000,
    "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000, "1M": None,
}

#: the core's neutral rejections as Binance answers them (both markets; per-market overrides in
#: ``BinanceFrontEnd.rejects``); ``{detail}`` is the rejection's detail
REJECTS: dict[Reject, tuple[int, str]] = {
    Reject.UNKNOWN_SYMBOL: INVALID_SYMBOL,
    Reject.INSUFFICIENT_BALANCE: (-2010, "Account has insufficient balance for requested action."),
    Reject.MARGIN_INSUFFICIENT: (-2019, "Margin is insufficient."),
    Reject.UNKNOWN_ORDER: (-2011, "Unknown order sent."),
    Reject.ORDER_NOT_FOUND: (-2013, "Order does not exist."),
    Reject.DUPLICATE_CLIENT_ID: (-2010, "Duplicate order sent."),
    Reject.POST_ONLY_WOULD_TAKE: (-2010, "Order would immediately match and take."),
    Reject.REDUCE_ONLY_REJECTED: (-2022, "ReduceOnly Order is rejected."),
    Reject.REDUCE_ONLY_IN_HEDGE_MODE: (-1106, "Parameter 'reduceonly' sent when not required."),
    Reject.POSITION_MODE_MISMATCH: (-4061, "Order's position side does not match user's setting."),
    Reject.POSITION_MODE_UNCHANGED: (-4059, "No need to change position side."),
    Reject.POSITION_MODE_OPEN_ORDERS: (-4067, "Position side cannot be changed if there exists open orders."),
    Reject.POSITION_MODE_OPEN_POSITIONS: (-4068, "Position side cannot be changed if there exists position."),
    Reject.LEVERAGE_INVALID: (-4028, "Leverage {detail} is not valid"),
    Reject.MARGIN_MODE_UNSUPPORTED: (-1130, "Data sent for parameter '{detail}' is not valid."),
    Reject.MARGIN_MODE_UNCHANGED: (-4046, "No need to change margin type."),
    Reject.MARGIN_MODE_OPEN_ORDERS: (-4047, "Margin type cannot be changed if there exists open orders."),
    Reject.MARGIN_MODE_OPEN_POSITIONS: (-4048, "Margin type cannot be changed if there exists position."),
    Reject.LEVERAGE_EXCEEDS_POSITION: (-2027, "Exceeded the maximum allowable position at current leverage."),
    Reject.PRICE_TICK: (-1013, "Filter failure: PRICE_FILTER"),
    Reject.PRICE_RANGE: (-1013, "Filter failure: PRICE_FILTER"),
    Reject.QTY_STEP: (-1013, "Filter failure: LOT_SIZE"),
    Reject.MIN_QTY: (-1013, "Filter failure: LOT_SIZE"),
    Reject.MAX_QTY: (-1013, "Filter failure: LOT_SIZE"),
    Reject.MIN_NOTIONAL: (-1013, "Filter failure: NOTIONAL"),
}


def fmt(d: Optional[Decimal], places: int = 8) -> str:
    """Fixed-point text (``None`` as zero), as Binance writes amounts."""
    if d is None or not d:
        return _ZERO_TEXT[places] if places in _ZERO_TEXT else format(ZERO, f".{places}f")
    return format(d, ".8f" if places == 8 else f".{places}f")


#: zero as ``fmt`` writes it, for the usual places (executionReport has several zero fields)
_ZERO_TEXT = {n: format(ZERO, f".{n}f") for n in range(9)}


_API_KEY_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
_LISTEN_KEY_CHARS = string.ascii_letters + string.digits
LISTEN_KEY_TTL_MS = 60 * 60 * 1000

try:  # optional: Ed25519 API keys
    from cryptography.exceptions import InvalidSignature
    HAVE_ED25519 = True
except Exception:  # pragma: no cover - cryptography not installed
    HAVE_ED25519 = False


def select_trades(trades: list, symbol: str, params: dict) -> list:
    """An account's trades filtered as myTrades / userTrades filter them (orderId, fromId,
    startTime/endTime, limit: the first ``limit`` from ``fromId``, else the latest ``limit``)."""
    limit = max(1, min(parse_int(params, "limit") or 500, 1000))
    oid = parse_int(params, "orderId")
    from_id = parse_int(params, "fromId")
    start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
    out = [t for t in trades
           if t.symbol == symbol and (oid is None or t.order_id == oid)
           and (from_id is None or t.trade_id >= from_id)
           and (start is None or t.time >= start) and (end is None or t.time <= end)]
    return out[:limit] if from_id is not None else out[-limit:]


CID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_DECIMAL_RE = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")
_INT_RE = re.compile(r"[0-9]{1,20}")
DECIMAL_RANGE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
INT_RANGE = "^[0-9]{1,20}$"


def illegal(name: str, legal: Optional[str] = None) -> BinanceError:
    """Binance's -1100 for a parameter that does not match its legal range."""
    tail = f"; legal range is '{legal}'." if legal else "."
    return BinanceError(-1100, f"Illegal characters found in parameter '{name}'{tail}")


def _raw_param(params: dict, name: str, required: bool) -> Optional[str]:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise mandatory(name)
        return None
    return raw


def parse_decimal(params: dict, name: str, required: bool = False) -> Optional[Decimal]:
    """A decimal parameter in Binance's legal range (no sign, exponent, NaN or Infinity)."""
    raw = _raw_param(params, name, required)
    if raw is None:
        return None
    if not _DECIMAL_RE.fullmatch(raw):
        raise illegal(name, DECIMAL_RANGE)
    return Decimal(raw)


def parse_int(params: dict, name: str, required: bool = False) -> Optional[int]:
    raw = _raw_param(params, name, required)
    if raw is None:
        return None
    if not _INT_RE.fullmatch(raw):
        raise illegal(name, INT_RANGE)
    return int(raw)


def _reject_python_only_numerals(raw: str, name: str, legal: str) -> None:
    """Binance reads numbers from ASCII digits only: a value that Python's int()/Decimal() would
    still read ("1_700_000_000_000", non-ASCII digits such as "１７") is -1100."""
    if not raw.isascii() or "_" in raw:
        raise illegal(name, legal)


def parse_bool(params: dict, name: str) -> Optional[bool]:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    low = raw.lower()
    if low not in ("true", "false"):
        raise illegal(name, "true, false")
    return low == "true"


@dataclass
class RateLimits:
    """Fixed-window limits, as Binance counts them (per IP for weight, per account for orders)."""

    weight_1m: int
    orders_10s: int
    orders_long: int                 # spot: per day; futures: per minute
    orders_long_seconds: int
    ban_after: int = 5               # requests sent while told to back off before a 418
    ban_seconds: int = 120


class Params(dict):
    """A request's parameters (query string wins over body), with the raw text both were
    signed as."""

    def __init__(self, params: dict, raw_query: str, body: str) -> None:
        super().__init__(params)
        self.raw_query = raw_query
        self.body = body


@dataclass
class ListenKey:
    key: str
    owner: str
    expires_ms: int


class BinanceFrontEnd(FrontEnd):
    """Base of the spot and futures front ends (see module docstring)."""

    venue = "binance"
    market = "spot"
    ping_interval = 20.0
    long_order_header = "X-MBX-ORDER-COUNT-1D"
    ws_incoming_per_second = 5      # Binance spot; beyond it the connection is dropped
    max_streams = 1024
    max_connection_seconds = 24 * 3600.0    # Binance closes every connection after 24 h
    stream_re: re.Pattern = re.compile(r"^$")
    depth_intervals: tuple[int, ...] = (100, 1000)  # diff-depth update speeds (ms) of the venue
    default_depth_ms = 1000                         # the speed of the plain ``<sym>@depth`` stream
    ticker_time = False                             # futures tickers carry a "time" field
    kline_intervals: tuple[str, ...] = tuple(KLINE_INTERVALS)
    max_kline_limit = 1000
    ticker_period = 1.0             # @ticker / @miniTicker push period (s)
    #: all-market streams of the venue (no symbol): ``!ticker@arr`` ... (market hook)
    all_market_streams: tuple[str, ...] = ("!ticker@arr", "!miniTicker@arr")
    kline_period = 2.0              # @kline_<interval> push period (s)
    #: per-market overrides of :data:`REJECTS`
    rejects: dict[Reject, tuple[int, str]] = {}
    #: the WebSocket API (order entry): its path and its methods' request weights
    ws_api_path = "/ws-api/v3"
    ws_api_weights: dict[str, int] = {"order.place": 1, "order.cancel": 1, "order.status": 4,
                                      "session.logon": 2, "session.status": 2, "session.logout": 2}

    def __init__(self, exchange: Any, engine: MatchingEngine, limits: RateLimits,
                 faults: FaultInjector, seed: int = 0, ping_interval: Optional[float] = None) -> None:
        self.limits = limits
        self.listen_keys: dict[str, ListenKey] = {}
        self._weight: dict[int, int] = {}          # window start -> weight (per IP, one IP here)
        self._orders: dict[tuple[str, int, int], int] = {}
        self._backoff_until = 0.0
        self._backoff_violations = 0
        self._ban_until = 0.0
        self._depth: dict[tuple[str, int], dict] = {}   # (symbol, interval ms) -> diff stream state
        self._tickers: dict[Any, Any] = {}              # last pushed top of book per stream
        super().__init__(exchange, engine, faults, seed=seed, ping_interval=ping_interval)
        self.app.router.add_get("/ws", self._ws_handler)
        self.app.router.add_get("/ws/{streams:.*}", self._ws_handler)
        self.app.router.add_get("/stream", self._ws_handler)
        self.app.router.add_get("/stream/{streams:.*}", self._ws_handler)
        for prefix in ("public", "market", "private"):     # Binance futures' 2026 URL split
            self.app.router.add_get(f"/{prefix}/ws", self._ws_handler)
            self.app.router.add_get(f"/{prefix}/ws/{{streams:.*}}", self._ws_handler)
            self.app.router.add_get(f"/{prefix}/stream", self._ws_handler)
        self.app.router.add_get(self.ws_api_path, self._ws_api_handler)

    # ------------------------------------------------------------------ neutral -> Binance
    def reject_error(self, e: SimReject, route: Route) -> BinanceError:
        pair = self.rejects.get(e.reason) or REJECTS.get(e.reason)
        if pair is None:
            logger.warning("sim binance: no Binance code for %s", e.reason.name)
            pair = UNKNOWN_ERROR
        code, msg = pair
        return BinanceError(code, msg.format(detail=e.detail) if "{detail}" in msg else msg)

    def fault_error(self, kind: str) -> BinanceError:
        if kind == "429":
            return BinanceError(-1003, "Too many requests; current limit of IP(127.0.0.1) is "
                                       f"{self.limits.weight_1m} requests per minute.", 429,
                                {"Retry-After": str(self.faults.config.retry_after_seconds)})
        if kind == "5xx":
            return BinanceError(-1008, "Server is currently overloaded with other requests. "
                                       "Please try again in a few minutes.", 503)
        if kind == "order_rejected":
            return BinanceError(-1008, "Service Unavailable.", 503)
        return err(UNKNOWN_STATUS, 503 if kind == "order_unknown" else 504)

    def internal_error(self, status: int) -> BinanceError:
        return err(UNKNOWN_ERROR, status)

    # ------------------------------------------------------------------ venue formatting hooks
    def fp(self, spec: SymbolSpec, d: Optional[Decimal]) -> str:
        """A price as the venue writes it."""
        return fmt(d)

    def fq(self, spec: SymbolSpec, d: Optional[Decimal]) -> str:
        """A quantity as the venue writes it."""
        return fmt(d)

    def levels(self, spec: SymbolSpec, pairs: Any) -> list[list[str]]:
        return [[self.fp(spec, p), self.fq(spec, q)] for p, q in pairs]

    # ------------------------------------------------------------------ shared REST handlers
    def spec(self, params: dict) -> SymbolSpec:
        symbol = params.get("symbol")
        if not symbol:
            raise mandatory("symbol")
        spec = self.engine.specs.get(symbol.upper())
        if spec is None:
            raise err(INVALID_SYMBOL)
        return spec

    def per_symbol(self, params: dict, row: Callable[[SymbolSpec], dict]) -> Any:
        """One row for ``symbol``, else a list of rows for every symbol (Binance's ticker shape)."""
        if params.get("symbol"):
            return row(self.spec(params))
        return [row(s) for s in self.engine.specs.values()]

    async def ping(self, request: web.Request, params: dict, account: Any) -> dict:
        return {}

    async def time(self, request: web.Request, params: dict, account: Any) -> dict:
        return {"serverTime": self.server_time()}

    async def recent_trades(self, request: web.Request, params: dict, account: Any) -> list:
        spec = self.spec(params)
        limit = max(1, min(parse_int(params, "limit") or 500, 1000))
        fills = [f for f in self.engine.fills if f.symbol == spec.symbol][-limit:]
        extra = {"isBestMatch": True} if self.market == "spot" else {}
        return [{"id": f.trade_id, "price": self.fp(spec, f.price), "qty": self.fq(spec, f.qty),
                 "quoteQty": fmt(f.quote_qty), "time": f.time, "isBuyerMaker": f.maker.side == BUY,
                 **extra} for f in fills]

    def _with_time(self, row: dict) -> dict:
        if self.ticker_time:
            row["time"] = now_ms()
        return row

    async def book_ticker(self, request: web.Request, params: dict, account: Any) -> Any:
        def row(spec: SymbolSpec) -> dict:
            book = self.engine.books[spec.symbol]
            b, a = book.depth(BUY, 1), book.depth("SELL", 1)
            return self._with_time({"symbol": spec.symbol, "bidPrice": self.fp(spec, b[0][0] if b else ZERO),
                                    "bidQty": self.fq(spec, b[0][1] if b else ZERO),
                                    "askPrice": self.fp(spec, a[0][0] if a else ZERO),
                                    "askQty": self.fq(spec, a[0][1] if a else ZERO)})
        return self.per_symbol(params, row)

    async def ticker_price(self, request: web.Request, params: dict, account: Any) -> Any:
        return self.per_symbol(params, lambda s: self._with_time(
            {"symbol": s.symbol, "price": self.fp(s, self.exchange.last_price(self.engine, s.symbol))}))

    async def ticker_24hr(self, request: web.Request, params: dict, account: Any) -> Any:
        return self.per_symbol(params, self.ticker_row)

    def ticker_row(self, spec: SymbolSpec) -> dict:
        """One row of GET ticker/24hr (spot adds prevClosePrice and the top of book)."""
        st = rolling_stats(self.engine, spec.symbol, now_ms())
        row = {"symbol": spec.symbol, "priceChange": self.fp(spec, st.change),
               "priceChangePercent": fmt(st.change_percent, 3), "weightedAvgPrice": self.fp(spec, st.vwap),
               "lastPrice": self.fp(spec, st.last), "lastQty": self.fq(spec, st.last_qty),
               "openPrice": self.fp(spec, st.open), "highPrice": self.fp(spec, st.high),
               "lowPrice": self.fp(spec, st.low), "volume": self.fq(spec, st.volume),
               "quoteVolume": fmt(st.quote_volume), "openTime": st.open_time, "closeTime": st.close_time,
               "firstId": st.first_id, "lastId": st.last_id, "count": st.count}
        if self.market == "spot":
            book = self.engine.books[spec.symbol]
            b, a = book.depth(BUY, 1), book.depth("SELL", 1)
            row = {"symbol": spec.symbol, "priceChange": row["priceChange"],
                   "priceChangePercent": row["priceChangePercent"], "weightedAvgPrice": row["weightedAvgPrice"],
                   "prevClosePrice": self.fp(spec, st.prev_price), **{k: row[k] for k in ("lastPrice", "lastQty")},
                   "bidPrice": self.fp(spec, b[0][0] if b else ZERO), "bidQty": self.fq(spec, b[0][1] if b else ZERO),
                   "askPrice": self.fp(spec, a[0][0] if a else ZERO), "askQty": self.fq(spec, a[0][1] if a else ZERO),
                   **{k: v for k, v in row.items() if k in ("openPrice", "highPrice", "lowPrice", "volume",
                                                             "quoteVolume", "openTime", "closeTime", "firstId",
                                                             "lastId", "count")}}
        return row

    async def klines(self, request: web.Request, params: dict, account: Any) -> list:
        spec = self.spec(params)
        interval = params.get("interval")
        if not interval:
            raise mandatory("interval")
        if interval not in self.kline_intervals:
            raise BinanceError(-1120, "Invalid interval.")
        limit = max(1, min(parse_int(params, "limit") or 500, self.max_kline_limit))
        start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
        rows = [c for c in candles(symbol_fills(self.engine, spec.symbol), KLINE_INTERVALS[interval])
                if (start is None or c.close_time >= start) and (end is None or c.open_time <= end)]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return [[c.open_time, self.fp(spec, c.open), self.fp(spec, c.high), self.fp(spec, c.low),
                 self.fp(spec, c.close), self.fq(spec, c.volume), c.close_time, fmt(c.quote_volume), c.count,
                 self.fq(spec, c.taker_buy_volume), fmt(c.taker_buy_quote_volume), "0"] for c in rows]

    async def agg_trades(self, request: web.Request, params: dict, account: Any) -> list:
        spec = self.spec(params)
        limit = max(1, min(parse_int(params, "limit") or 500, 1000))
        from_id = parse_int(params, "fromId")
        start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
        rows = [a for a in agg_trades(symbol_fills(self.engine, spec.symbol))
                if (from_id is None or a.agg_id >= from_id) and (start is None or a.time >= start)
                and (end is None or a.time <= end)]
        rows = rows[:limit] if (from_id is not None or start is not None) else rows[-limit:]
        extra = {"M": True} if self.market == "spot" else {}
        return [{"a": a.agg_id, "p": self.fp(spec, a.price), "q": self.fq(spec, a.qty), "f": a.first_id,
                 "l": a.last_id, "T": a.time, "m": a.buyer_maker, **extra} for a in rows]

    async def all_orders(self, request: web.Request, params: dict, account: Account) -> list:
        """Open and closed orders the engine remembers: from ``orderId`` on, else the latest."""
        spec = self.spec(params)
        limit = max(1, min(parse_int(params, "limit") or 500, 1000))
        oid = parse_int(params, "orderId")
        start, end = parse_int(params, "startTime"), parse_int(params, "endTime")
        rows = sorted((o for o in self.engine.orders.values()
                       if o.owner == account.account_id and o.symbol == spec.symbol
                       and (oid is None or o.order_id >= oid) and (start is None or o.time >= start)
                       and (end is None or o.time <= end)), key=lambda o: o.order_id)
        rows = rows[:limit] if oid is not None else rows[-limit:]
        return [self.query_json(o) for o in rows]

    def query_json(self, o: Any) -> dict:
        """An order as GET order answers it (market hook)."""
        raise NotImplementedError

    async def listen_key_new(self, request: web.Request, params: dict, account: Account) -> dict:
        return {"listenKey": self.new_listen_key(account)}

    # ------------------------------------------------------------------ shared order parsing
    def parse_side_type(self, params: dict, types: tuple[str, ...],
                        unsupported: dict[str, tuple[int, str]]) -> tuple[SymbolSpec, str, str]:
        """symbol, side and type; a known type the sim does not trade raises ``unsupported``."""
        spec = self.spec(params)
        side = params.get("side")
        if not side:
            raise mandatory("side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        otype = params.get("type")
        if not otype:
            raise mandatory("type")
        if otype not in types:
            raise err(unsupported.get(otype, (-1116, "Invalid orderType.")))
        return spec, side, otype

    @staticmethod
    def parse_cid(params: dict, name: str = "newClientOrderId") -> Optional[str]:
        cid = params.get(name)
        if cid is not None and not CID_RE.fullmatch(cid):     # fullmatch: no trailing newline
            raise illegal(name, "^[\\.A-Z\\:/a-z0-9_-]{1,36}$")
        return cid

    def parse_cid_stp(self, params: dict) -> tuple[Optional[str], str]:
        cid = self.parse_cid(params)
        stp = STP_FROM_WIRE.get(params.get("selfTradePreventionMode") or "EXPIRE_MAKER")
        if stp is None:
            raise illegal("selfTradePreventionMode")
        return cid, stp

    @staticmethod
    def parse_resp_type(params: dict, default: str, allowed: tuple[str, ...]) -> str:
        resp_type = params.get("newOrderRespType") or default
        if resp_type not in allowed:
            raise illegal("newOrderRespType")
        return resp_type

    @staticmethod
    def order_ids(params: dict) -> tuple[Optional[int], Optional[str]]:
        oid = parse_int(params, "orderId")
        cid = params.get("origClientOrderId") or None
        if oid is None and cid is None:
            raise BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        return oid, cid

    # ------------------------------------------------------------------ REST plumbing
    def route(self, method: str, path: str, handler: Any, weight: int | Callable[[dict], int] = 1,
              security: str = "NONE", order: bool = False, fault_exempt: bool = False) -> Route:
        """A Binance REST route: request ``weight`` (or a function of the parameters), security
        ``NONE`` / ``API_KEY`` / ``SIGNED``; ``order`` routes count orders (POST) and draw the
        order faults.  The handler gets ``(request, params, account)``."""
        return super().route(method, path, handler, order=order, fault_exempt=fault_exempt,
                             weight=weight, security=security)

    async def read_request(self, request: web.Request, route: Route) -> "Params":
        params, raw_query, body = await self._read_params(request)
        return Params(params, raw_query, body)

    def admit(self, request: web.Request, params: dict, route: Route) -> None:
        weight = route.meta["weight"]
        self._charge_weight(weight(params) if callable(weight) else weight)

    def authenticate(self, request: web.Request, params: "Params", route: Route) -> Optional[Account]:
        security = route.meta["security"]
        if security not in ("API_KEY", "SIGNED"):
            return None
        account = self._authenticate_key(request)
        if security == "SIGNED":
            self._check_signature(account, params, params.raw_query, params.body)
            self._check_timestamp(params)
        return account

    def admit_order(self, account: Account, route: Route) -> None:
        if route.method == "POST":
            self._charge_order(account.account_id)

    def ok_response(self, result: Any, account: Optional[Account], route: Route) -> web.StreamResponse:
        return web.Response(text=_fast_dumps(result), content_type="application/json",
                            headers=self.error_headers(account))

    def error_headers(self, account: Optional[Account]) -> dict[str, str]:
        return self._limit_headers(account.account_id if account else None)

    def _window(self, seconds: int) -> int:
        return int(time.time()) // seconds * seconds

    def _limit_headers(self, owner: Optional[str]) -> dict[str, str]:
        h = {"X-MBX-USED-WEIGHT-1M": str(self._weight.get(self._window(60), 0))}
        if owner is not None:
            h["X-MBX-ORDER-COUNT-10S"] = str(self._orders.get((owner, 10, self._window(10)), 0))
            ls = self.limits.orders_long_seconds
            h[self.long_order_header] = str(self._orders.get((owner, ls, self._window(ls)), 0))
        return h

    def _charge_weight(self, weight: int) -> None:
        now = time.time()
        if now < self._ban_until:
            raise BinanceError(-1003, f"Way too many requests; IP(127.0.0.1) banned until "
                                      f"{int(self._ban_until * 1000)}. Please use the websocket for "
                                      "live updates to avoid bans.", 418,
                               {"Retry-After": str(max(1, int(self._ban_until - now + 0.999)))})
        if now < self._backoff_until:
            self._backoff_violations += 1
            if self._backoff_violations >= self.limits.ban_after:
                self._ban_until = now + self.limits.ban_seconds
                self.count("ban_418")
                raise BinanceError(-1003, f"Way too many requests; IP(127.0.0.1) banned until "
                                          f"{int(self._ban_until * 1000)}. Please use the websocket "
                                          "for live updates to avoid bans.", 418,
                                   {"Retry-After": str(self.limits.ban_seconds)})
            raise BinanceError(-1003, "Too many requests; current limit of IP(127.0.0.1) is "
                                      f"{self.limits.weight_1m} requests per minute. Please use the "
                                      "websocket for live updates to avoid polling the API.", 429,
                               {"Retry-After": str(max(1, int(self._backoff_until - now + 0.999)))})
        w = self._window(60)
        for k in [k for k in self._weight if k < w]:
            del self._weight[k]
        used = self._weight.get(w, 0) + weight
        self._weight[w] = used
        if used > self.limits.weight_1m:
            self._backoff_until = w + 60
            self._backoff_violations = 0
            self.count("http_429_weight")
            raise BinanceError(-1003, "Too many requests; current limit of IP(127.0.0.1) is "
                                      f"{self.limits.weight_1m} requests per minute. Please use the "
                                      "websocket for live updates to avoid polling the API.", 429,
                               {"Retry-After": str(max(1, int(w + 60 - now + 0.999)))})

    def _charge_order(self, owner: str) -> None:
        now = time.time()
        for seconds, limit in ((10, self.limits.orders_10s),
                               (self.limits.orders_long_seconds, self.limits.orders_long)):
            key = (owner, seconds, self._window(seconds))
            n = self._orders.get(key, 0) + 1
            self._orders[key] = n
            if n > limit:
                self.count("http_429_orders")
                unit = "10 SECOND" if seconds == 10 else ("1 DAY" if seconds >= 86400 else "1 MINUTE")
                raise BinanceError(-1015, f"Too many new orders; current limit is {limit} orders per {unit}.",
                                   429, {"Retry-After": str(max(1, int(key[2] + seconds - now + 0.999)))})
        if len(self._orders) > 10_000:
            cutoff = self._window(10) - 86400
            for k in [k for k in self._orders if k[2] < cutoff]:
                del self._orders[k]

    def uncount_first_fill(self, owner: str) -> None:
        """Spot Unfilled Order Count Rules: an order's first fill (partial or full) takes one
        order off the unfilled order count, in every ORDERS interval."""
        for seconds in (10, self.limits.orders_long_seconds):
            key = (owner, seconds, self._window(seconds))
            if self._orders.get(key, 0) > 0:
                self._orders[key] -= 1

    def rate_limits_array(self, owner: Optional[str], orders: bool) -> list[dict]:
        """The WebSocket API's ``rateLimits``: request weight, and the ORDERS counts for
        methods that count orders."""
        out = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                "limit": self.limits.weight_1m, "count": self._weight.get(self._window(60), 0)}]
        if orders and owner is not None:
            ls = self.limits.orders_long_seconds
            interval, num = ("DAY", 1) if ls >= 86400 else ("MINUTE", ls // 60)
            out.append({"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                        "limit": self.limits.orders_10s,
                        "count": self._orders.get((owner, 10, self._window(10)), 0)})
            out.append({"rateLimitType": "ORDERS", "interval": interval, "intervalNum": num,
                        "limit": self.limits.orders_long,
                        "count": self._orders.get((owner, ls, self._window(ls)), 0)})
        return out

    async def _read_params(self, request: web.Request) -> tuple[dict, str, str]:
        raw_query = request.rel_url.raw_query_string
        body = ""
        if request.can_read_body:
            data = await self.read_body(request)
            try:
                body = data.decode("utf-8")
            except UnicodeDecodeError:
                raise BinanceError(-1100, "Illegal characters found in a parameter.")
            ctype = request.content_type
            if ctype not in ("", "application/x-www-form-urlencoded", "application/octet-stream",
                             "text/plain"):
                raise BinanceError(-1104, "Not all sent parameters were read; read '0' parameter(s) "
                                          "but was sent '1'.")
        params: dict[str, str] = {}
        for k, v in parse_qsl(body, keep_blank_values=True):
            params[k] = v
        for k, v in parse_qsl(raw_query, keep_blank_values=True):   # query string wins
            params[k] = v
        return params, raw_query, body

    def _authenticate_key(self, request: web.Request) -> Account:
        key = request.headers.get("X-MBX-APIKEY")
        if not key or not _API_KEY_RE.match(key):
            raise err(BAD_API_KEY_FORMAT, 401)
        account = self.exchange.account_by_key(key)
        if account is None:
            raise err(REJECTED_API_KEY, 401)
        return account

    def _check_signature(self, account: Account, params: dict, raw_query: str, body: str) -> None:
        sig = params.get("signature")
        if not sig:
            raise mandatory("signature")

        def strip(s: str) -> str:
            return "&".join(p for p in s.split("&") if p and not p.startswith("signature="))

        payload = strip(raw_query) + strip(body)
        if account.ed25519_public_key is not None:
            if not HAVE_ED25519:
                raise err(BAD_SIGNATURE)
            try:
                # a '+' sent unencoded arrives as a space after form decoding
                account.ed25519_public_key.verify(base64.b64decode(sig.replace(" ", "+")), payload.encode())
            except (InvalidSignature, ValueError, TypeError):
                self.count("bad_signature")
                raise err(BAD_SIGNATURE)
            return
        expected = hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, unquote(sig).lower()):
            self.count("bad_signature")
            raise err(BAD_SIGNATURE)

    def _check_timestamp(self, params: dict) -> None:
        ts_raw = params.get("timestamp")
        if not ts_raw:
            raise mandatory("timestamp")
        _reject_python_only_numerals(ts_raw, "timestamp", INT_RANGE)
        try:
            ts = int(ts_raw)
        except ValueError:
            raise mandatory("timestamp")
        if ts > 10 ** 14:               # microseconds
            ts //= 1000
        window = Decimal(5000)
        if params.get("recvWindow"):
            _reject_python_only_numerals(params["recvWindow"], "recvWindow", DECIMAL_RANGE)
            try:
                window = Decimal(params["recvWindow"])
            except InvalidOperation:
                raise mandatory("recvWindow")
            if not window.is_finite() or window <= 0 or window > 60000:
                raise BinanceError(-1131, "recvWindow must be less than 60000")
        server = self.server_time()
        if ts >= server + 1000:
            raise err(TS_AHEAD)
        if server - ts > window:
            raise err(TS_OUTSIDE_WINDOW)

    # ------------------------------------------------------------------ WebSocket API
    async def _ws_api_handler(self, request: web.Request) -> web.StreamResponse:
        """The WebSocket API (spot ``/ws-api/v3``, USDⓈ-M ``/ws-fapi/v1``): ``{id, method,
        params}`` requests, ``{id, status, result | error, rateLimits}`` answers."""
        # rateLimits are in every answer unless the connection (returnRateLimits=false in its
        # URL) or the request (a returnRateLimits parameter) says otherwise
        default = request.query.get("returnRateLimits", "true").lower() != "false"

        def setup(conn: WsConn) -> None:
            conn.state["rate_limits"] = default
        # the WebSocket API counts request weight, not the market streams' messages per second
        return await self.serve_ws(request, self._ws_api_text, setup=setup, incoming_per_second=0)

    async def _ws_api_text(self, conn: WsConn, text: str) -> None:
        answer = await self.ws_api_call(conn, text)
        if answer is None:
            return
        show = conn.state.pop("show_rate_limits", conn.state.get("rate_limits", True))
        if not show:
            answer.pop("rateLimits", None)
        conn.send_raw(_fast_dumps(answer))

    @staticmethod
    def _ws_param_text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            raise BinanceError(-1100, "Illegal characters found in a parameter.")
        return str(value)

    async def ws_api_call(self, conn: WsConn, text: str) -> Optional[dict]:
        """One request -> its answer (None: the answer is lost, an injected fault)."""
        try:
            req = json.loads(text)
            if not isinstance(req, dict):
                raise ValueError
        except (ValueError, RecursionError):
            return {"id": None, "status": 400, "error": {"code": -1000, "msg": "Malformed request."}}
        rid, method, raw = req.get("id"), req.get("method"), req.get("params") or {}
        if conn.state.pop("revoked", False) and conn.state.pop("logon", None) is not None:
            # the session's key went invalid (revoke_ws_sessions): "after the next request the
            # session will be revoked" with this answer, and that request is not acted on
            conn.state.pop("logon_since", None)
            return {"id": None, "status": 401,
                    "error": {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}}
        account: Optional[Account] = conn.state.get("logon")
        orders = method == "order.place"
        try:
            if not isinstance(raw, dict):
                raise BinanceError(-1000, "Malformed request: params must be an object.")
            if isinstance(method, str) and method.startswith("v") and "/" in method:
                method = method.split("/", 1)[1]        # "v3/order.place"
            params = {k if type(k) is str else str(k): v if type(v) is str else self._ws_param_text(v)
                      for k, v in raw.items()}
            if "returnRateLimits" in params:
                conn.state["show_rate_limits"] = params.pop("returnRateLimits") != "false"
            weight = self.ws_api_weights.get(method, 1) if isinstance(method, str) else 1
            self._charge_weight(weight)
            if method == "ping":
                result: Any = {}
            elif method == "time":
                result = {"serverTime": self.server_time()}
            elif method == "session.logon":
                account = self.ws_api_logon(conn, params)
                result = self._session_status(conn)
            elif method == "session.status":
                result = self._session_status(conn)
            elif method == "session.logout":
                conn.state.pop("logon", None)
                conn.state.pop("logon_since", None)
                if "logon_subscription" in conn.state:  # userDataStream.subscribe's ends with it
                    self.end_subscriptions(conn, [conn.state["logon_subscription"]])
                account = None
                result = self._session_status(conn)
            elif method in ("order.place", "order.cancel", "order.status"):
                account = self.ws_api_account(conn, params)
                result = await self._ws_api_order(method, params, account)
                if result is _LOST:
                    return None
            else:
                result = self.ws_api_extra(conn, method, raw) if isinstance(method, str) else NotImplemented
                if result is NotImplemented:
                    raise BinanceError(-1020, "Unsupported operation.")
        except SimReject as e:
            return self._ws_api_error(rid, self.reject_error(e, _WS_API_ROUTE), account, orders)
        except BinanceError as e:
            return self._ws_api_error(rid, e, account, orders)
        except (TypeError, ValueError, OverflowError):
            return self._ws_api_error(rid, BinanceError(-1100, "Illegal parameter."), account, orders)
        return {"id": rid, "status": 200, "result": result,
                "rateLimits": self.rate_limits_array(account.account_id if account else None, orders)}

    def revoke_ws_sessions(self, api_key: Optional[str] = None) -> int:
        """Revoke the logged-on WebSocket API sessions (all, or those of ``api_key``) as Binance
        does when a session's key becomes invalid: the next request on each is answered
        ``{"id": null, "status": 401, -2015}`` and not acted on, and the session is logged out.
        The key itself stays valid (a new ``session.logon`` succeeds). Returns the number."""
        n = 0
        for conn in list(self.conns):
            account = conn.state.get("logon")
            if account is not None and (api_key is None or account.api_key == api_key):
                conn.state["revoked"] = True
                n += 1
        return n

    def ws_api_server_shutdown(self) -> int:
        """Send every WebSocket API connection the ``serverShutdown`` event (the connections
        stay up and keep answering). Returns the number of connections told."""
        n = 0
        for conn in list(self.conns):
            if "rate_limits" in conn.state:  # a WebSocket API connection (set up by its handler)
                conn.send_raw({"event": {"e": "serverShutdown", "E": self.server_time()}})
                n += 1
        return n

    def _ws_api_error(self, rid: Any, e: BinanceError, account: Optional[Account], orders: bool) -> dict:
        out = {"id": rid, "status": e.status, "error": e.body()}
        retry = e.headers.get("Retry-After") if e.headers else None
        if retry is not None:      # the WebSocket API names the end of the back-off on its clock
            server = self.server_time()
            out["error"]["data"] = {"serverTime": server, "retryAfter": server + int(float(retry) * 1000)}
        out["rateLimits"] = self.rate_limits_array(account.account_id if account else None, orders)
        return out

    def _session_status(self, conn: WsConn) -> dict:
        account = conn.state.get("logon")
        return {"apiKey": account.api_key if account is not None else None,
                "authorizedSince": conn.state.get("logon_since"),
                "connectedSince": conn.state.setdefault("connected", self.server_time()),
                "returnRateLimits": True, "serverTime": self.server_time(),
                "userDataStream": bool(conn.sessions)}

    def ws_api_logon(self, conn: WsConn, params: dict) -> Account:
        """``session.logon``: Ed25519 keys only; the signature over ``apiKey`` + ``timestamp``
        (+ ``recvWindow``) sorted by name."""
        account = self.ws_api_account(conn, params, logon=True)
        conn.state["logon"] = account
        conn.state["logon_since"] = self.server_time()
        return account

    def ws_api_account(self, conn: WsConn, params: dict, logon: bool = False) -> Account:
        """The account of a signed WebSocket API request: the logged-on session's (no
        ``apiKey`` / ``signature`` needed, ``timestamp`` still checked), or the request's own
        signature over all its parameters but ``signature`` sorted by name (HMAC hex or Ed25519
        base64). ``logon``: a ``session.logon``, for Ed25519 keys only."""
        session: Optional[Account] = None if logon else conn.state.get("logon")
        if session is not None and "signature" not in params:
            self._check_timestamp(params)
            return session
        key = params.get("apiKey")
        if not key:
            raise mandatory("apiKey")
        account = self.exchange.account_by_key(key)
        if account is None:
            raise err((-2015, "Invalid API-key, IP, or permissions for action."), 401)
        if logon and account.ed25519_public_key is None:
            # "Only Ed25519 keys are supported for this feature"; the docs name no code for
            # another key type: -1002 UNAUTHORIZED, the documented generic refusal
            raise BinanceError(-1002, "You are not authorized to execute this request.", 401)
        sig = params.get("signature")
        if not sig:
            raise mandatory("signature")
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
        self._check_signature(account, {"signature": sig}, payload + "&signature=" + sig, "")
        self._check_timestamp(params)
        return account

    def ws_api_extra(self, conn: WsConn, method: str, params: dict) -> Any:
        """Market-specific WebSocket API methods (``NotImplemented``: none by that name)."""
        return NotImplemented

    def end_subscriptions(self, conn: WsConn, ids: list) -> None:
        """End WebSocket-API user-data subscriptions (markets that have them)."""

    async def _ws_api_order(self, method: str, params: dict, account: Account) -> Any:
        """order.place / order.cancel / order.status through the REST handlers, with the same
        order-count limit and fault knobs as the REST order routes (``_LOST``: the answer is
        lost, an injected fault)."""
        fault = self.faults.rest(self.ws_api_path)
        if fault is not None:
            raise self.fault_error(fault)
        delay = self.faults.slow(self.ws_api_path)
        if delay > 0:
            await asyncio.sleep(delay)
        if method == "order.place":
            self._charge_order(account.account_id)
        order_fault = self.faults.order() if method != "order.status" else None
        if order_fault is not None and not order_fault[1]:
            if order_fault[0] == "timeout":
                return _LOST
            raise self.fault_error("order_rejected")
        handler = {"order.place": self.new_order, "order.cancel": self.cancel_order,
                   "order.status": self.get_order}[method]
        for name in ("apiKey", "signature"):
            params.pop(name, None)
        result = await handler(None, Params(params, "", ""), account)
        if order_fault is not None:       # the action happened; the answer is lost
            if order_fault[0] == "timeout":
                return _LOST
            raise self.fault_error("order_unknown")
        return result

    # ------------------------------------------------------------------ listen keys
    def new_listen_key(self, account: Account) -> str:
        now = now_ms()
        for lk in self.listen_keys.values():
            if lk.owner == account.account_id and lk.expires_ms > now:
                lk.expires_ms = now + LISTEN_KEY_TTL_MS
                return lk.key
        # from the OS's CSPRNG: the key alone grants the account's order reports and balances
        key = "".join(secrets.choice(_LISTEN_KEY_CHARS) for _ in range(64))
        self.listen_keys[key] = ListenKey(key, account.account_id, now + LISTEN_KEY_TTL_MS)
        return key

    def keepalive_listen_key(self, account: Account, key: Optional[str]) -> str:
        if key is None:     # futures: the account's key
            for lk in self.listen_keys.values():
                if lk.owner == account.account_id:
                    key = lk.key
                    break
        lk = self.listen_keys.get(key or "")
        if lk is None or lk.owner != account.account_id or lk.expires_ms <= now_ms():
            raise err(INVALID_LISTEN_KEY)
        lk.expires_ms = now_ms() + LISTEN_KEY_TTL_MS
        return lk.key

    def close_listen_key(self, account: Account, key: Optional[str]) -> None:
        if key is None:
            keys = [k for k, lk in self.listen_keys.items() if lk.owner == account.account_id]
        else:
            lk = self.listen_keys.get(key)
            if lk is None or lk.owner != account.account_id:
                raise err(INVALID_LISTEN_KEY)
            keys = [key]
        for k in keys:
            self.listen_keys.pop(k, None)
            for conn in list(self.conns):
                if k in conn.user_subs:
                    conn.close()

    def expire_listen_keys(self, owner: Optional[str] = None) -> int:
        """Expire listen keys now (all, or one account's): listenKeyExpired, then close."""
        n = 0
        for key, lk in list(self.listen_keys.items()):
            if owner is None or lk.owner == owner:
                lk.expires_ms = 0
                n += 1
        self._expire_due()
        # WebSocket-API subscriptions end with eventStreamTerminated (the session stays open)
        for conn in list(self.conns):
            for sub_id, sub_owner in list(conn.sessions.items()):
                if owner is None or sub_owner == owner:
                    conn.send_text(self.api_event(sub_id, {"e": "eventStreamTerminated", "E": now_ms()}), "user")
                    del conn.sessions[sub_id]
                    n += 1
        return n

    def _expire_due(self) -> None:
        now = now_ms()
        for key, lk in list(self.listen_keys.items()):
            if lk.expires_ms <= now:
                del self.listen_keys[key]
                self.count("listen_key_expired")
                for conn in list(self.conns):
                    if key in conn.user_subs:
                        conn.send_text(self.market_frame(conn, key, self.listen_key_expired_event(key)), "user")
                        conn.end_after_queued()     # the writer closes the socket after this frame

    def listen_key_expired_event(self, key: str) -> dict:
        return {"e": "listenKeyExpired", "E": now_ms(), "listenKey": key}

    def api_event(self, subscription_id: int, payload: dict) -> str:
        """A WebSocket-API user-data event, wrapped as Binance does."""
        return _fast_dumps({"subscriptionId": subscription_id, "event": payload})

    def market_frame(self, conn: WsConn, stream: str, payload: Any) -> str:
        return _fast_dumps({"stream": stream, "data": payload} if conn.combined else payload)

    def user_targets(self, owner: str) -> Iterable[tuple[WsConn, Callable[[Any], str]]]:
        for conn in list(self.conns):
            for key in conn.user_subs:
                lk = self.listen_keys.get(key)
                if lk is not None and lk.owner == owner:
                    yield conn, (lambda p, c=conn, k=key: self.market_frame(c, k, p))
            for sub_id, sub_owner in list(conn.sessions.items()):
                if sub_owner == owner:
                    yield conn, (lambda p, i=sub_id: self.api_event(i, p))

    # ------------------------------------------------------------------ WebSocket
    def valid_stream(self, name: str) -> bool:
        if name in self.all_market_streams:
            return True
        m = self.stream_re.match(name)
        if not m or m.group(1).upper() not in self.engine.specs:
            return False
        kind = m.group(2)
        return not kind.startswith("kline_") or kind[6:] in self.kline_intervals

    def _resolve_streams(self, names: list[str]) -> tuple[list[str], list[str]]:
        market, user = [], []
        for name in names:
            if not name:
                continue
            if name in self.listen_keys:
                user.append(name)
            elif self.valid_stream(name):
                market.append(name)
            else:
                raise ValueError(name)
        return market, user

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        combined = "/stream" in path
        names: list[str] = []
        if "streams" in request.match_info:
            # ccxt.pro numbers its connections (/ws/0, /stream/1): a number is a path name
            names = [n for n in request.match_info["streams"].split("/") if not n.isdigit()]
        if request.query.get("streams"):
            names += request.query["streams"].split("/")
        if request.query.get("listenKey"):
            names.append(request.query["listenKey"])
        try:
            market, user = self._resolve_streams(names)
        except ValueError:
            return self.error_response(BinanceError(-1121, "Invalid stream name.", 400))

        def setup(conn: WsConn) -> None:
            conn.streams.update(market)
            conn.user_subs.update(user)
            for s in market:
                self.on_subscribe(s)
        return await self.serve_ws(request, self._on_ws_text, combined=combined, setup=setup)

    def _on_ws_text(self, conn: WsConn, text: str) -> None:
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError):     # RecursionError: absurdly deep nesting
            conn.send_raw({"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}})
            return
        if not isinstance(msg, dict):
            conn.send_raw({"error": {"code": 3, "msg": "Invalid JSON: expected an object"}})
            return
        method, rid, params = msg.get("method"), msg.get("id"), msg.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                conn.send_raw({"error": {"code": 2, "msg": "Invalid request: params must be a list of strings"}, "id": rid})
                return
            try:
                market, user = self._resolve_streams(params)
            except ValueError as e:
                conn.send_raw({"error": {"code": 2, "msg": f"Invalid request: invalid stream name {e}"}, "id": rid})
                return
            if method == "SUBSCRIBE":
                if len(conn.streams | set(market)) + len(conn.user_subs | set(user)) > self.max_streams:
                    conn.send_raw({"error": {"code": 2, "msg": f"Invalid request: at most {self.max_streams} "
                                                               "streams per connection"}, "id": rid})
                    return
                for s in market:
                    if s not in conn.streams:
                        conn.streams.add(s)
                        self.on_subscribe(s)
                conn.user_subs.update(user)
            else:
                conn.streams.difference_update(market)
                conn.user_subs.difference_update(user)
            conn.send_raw({"result": None, "id": rid})
        elif method == "LIST_SUBSCRIPTIONS":
            conn.send_raw({"result": sorted(conn.streams) + sorted(conn.user_subs), "id": rid})
        elif method == "SET_PROPERTY":
            if isinstance(params, list) and len(params) == 2 and params[0] == "combined":
                conn.combined = bool(params[1])
                conn.send_raw({"result": None, "id": rid})
            else:
                conn.send_raw({"error": {"code": 2, "msg": "Invalid request: unknown property"}, "id": rid})
        elif method == "GET_PROPERTY":
            conn.send_raw({"result": conn.combined, "id": rid})
        else:
            conn.send_raw({"error": {"code": 2, "msg": f"Invalid request: unknown variant `{method}`, "
                                                       "expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, "
                                                       "`LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"},
                           "id": rid})

    def on_subscribe(self, stream: str) -> None:
        """A diff-depth stream gained a subscriber: its ``U``/``u`` ids continue from the book's
        update id now, so they chain with a REST snapshot taken after subscribing."""
        if stream.startswith("!"):
            return
        sym, kind = stream.split("@", 1)
        if kind.startswith("depth") and not kind[5:6].isdigit():
            key = (sym.upper(), self.depth_interval(kind))
            if key not in self._depth:
                self._depth[key] = {"last_u": self.engine.books[sym.upper()].update_id, "next": 0.0}

    def depth_interval(self, kind: str) -> int:
        for ms in self.depth_intervals:
            if kind.endswith(f"@{ms}ms"):
                return ms
        return self.default_depth_ms

    def on_engine_event(self, ev: Any) -> None:
        """An order or account event of the matching engine (user stream pushes)."""

    def trade_event(self, kind: str, fill: Fill) -> dict:
        """The ``trade`` / ``aggTrade`` stream payload of a fill (venue shape)."""
        raise NotImplementedError

    def on_fill(self, fill: Fill) -> None:
        sym = fill.symbol.lower()
        for kind in ("trade", "aggTrade"):
            stream = f"{sym}@{kind}"
            if self.subscribed(stream):
                self.push_market(stream, self.trade_event(kind, fill))

    def tick(self, now: float) -> None:
        self._expire_due()
        self.publish(now)

    def publish(self, now: float) -> None:
        """Periodic market-data pushes: diff depth, partial depth, book tickers (+ venue extras)."""
        self._publish_diffs(now)
        for stream in self.wanted_streams():
            if stream.startswith("!"):
                self.publish_all_market(stream, now)
                continue
            sym, kind = stream.split("@", 1)
            book = self.engine.books.get(sym.upper())
            if book is None:
                continue
            if kind == "bookTicker":
                b, a = book.depth(BUY, 1), book.depth("SELL", 1)
                top = (b[0] if b else None, a[0] if a else None)
                if self._tickers.get(stream) != top:
                    self._tickers[stream] = top
                    self.push_market(stream, self.book_ticker_event(book, top))
            elif kind.startswith("depth") and kind[5:6].isdigit():
                if self.due(("partial", stream), now, self.depth_interval(kind) / 1000.0):
                    self.push_market(stream, self.partial_depth_event(book, int(kind[5:].split("@")[0])))
            elif kind in ("ticker", "miniTicker"):
                if self.due(("ticker", stream), now, self.ticker_period):
                    st = rolling_stats(self.engine, book.spec.symbol, now_ms())
                    self.push_market(stream, self.ticker_event(book, st) if kind == "ticker"
                                     else self.mini_ticker_event(book.spec, st))
            elif kind.startswith("kline_"):
                if self.due(("kline", stream), now, self.kline_period):
                    self.push_market(stream, self.kline_event(book, kind[6:]))
            else:
                self.publish_other(stream, kind, book, now)

    def publish_all_market(self, stream: str, now: float) -> None:
        """``!ticker@arr`` / ``!miniTicker@arr``: every second, the symbols whose statistics
        changed since the last push (as an array); ``!bookTicker``: each symbol's top of book
        when it changes; other all-market streams through ``publish_all_other``."""
        if stream in ("!ticker@arr", "!miniTicker@arr"):
            if not self.due(("all", stream), now, 1.0):
                return
            rows = []
            for spec in self.engine.specs.values():
                st = rolling_stats(self.engine, spec.symbol, now_ms())
                state = (st.last, st.count, st.volume)
                if self._tickers.get((stream, spec.symbol)) == state:
                    continue
                self._tickers[(stream, spec.symbol)] = state
                book = self.engine.books[spec.symbol]
                rows.append(self.ticker_event(book, st) if stream == "!ticker@arr" else self.mini_ticker_event(spec, st))
            if rows:
                self.push_market(stream, rows)
        elif stream == "!bookTicker":
            for symbol, book in self.engine.books.items():
                b, a = book.depth(BUY, 1), book.depth("SELL", 1)
                top = (b[0] if b else None, a[0] if a else None)
                if self._tickers.get((stream, symbol)) != top:
                    self._tickers[(stream, symbol)] = top
                    self.push_market(stream, self.book_ticker_event(book, top))
        else:
            self.publish_all_other(stream, now)

    def publish_all_other(self, stream: str, now: float) -> None:
        """Venue-only all-market streams (futures: ``!markPrice@arr``)."""

    def mini_ticker_event(self, spec: SymbolSpec, st: Any) -> dict:
        return {"e": "24hrMiniTicker", "E": now_ms(), "s": spec.symbol, "c": self.fp(spec, st.last),
                "o": self.fp(spec, st.open), "h": self.fp(spec, st.high), "l": self.fp(spec, st.low),
                "v": self.fq(spec, st.volume), "q": fmt(st.quote_volume)}

    def ticker_event(self, book: Any, st: Any) -> dict:
        """``24hrTicker`` (market shape)."""
        raise NotImplementedError

    def kline_event(self, book: Any, interval: str) -> dict:
        """The current candle of ``interval`` (an empty one at the last price when no trade yet)."""
        spec, ts = book.spec, now_ms()
        start, end = period_bounds(KLINE_INTERVALS[interval], ts)
        current = candles(symbol_fills(self.engine, spec.symbol, since_ms=start), KLINE_INTERVALS[interval])
        if current:
            c = current[-1]
            k = {"f": c.first_id, "L": c.last_id, "o": self.fp(spec, c.open), "c": self.fp(spec, c.close),
                 "h": self.fp(spec, c.high), "l": self.fp(spec, c.low), "v": self.fq(spec, c.volume),
                 "n": c.count, "q": fmt(c.quote_volume), "V": self.fq(spec, c.taker_buy_volume),
                 "Q": fmt(c.taker_buy_quote_volume)}
        else:
            last = self.fp(spec, last_price(self.engine, spec.symbol))
            k = {"f": -1, "L": -1, "o": last, "c": last, "h": last, "l": last, "v": self.fq(spec, ZERO),
                 "n": 0, "q": fmt(ZERO), "V": self.fq(spec, ZERO), "Q": fmt(ZERO)}
        return {"e": "kline", "E": ts, "s": spec.symbol,
                "k": {"t": start, "T": end - 1, "s": spec.symbol, "i": interval, "f": k["f"], "L": k["L"],
                      "o": k["o"], "c": k["c"], "h": k["h"], "l": k["l"], "v": k["v"], "n": k["n"],
                      "x": False, "q": k["q"], "V": k["V"], "Q": k["Q"], "B": "0"}}

    def _publish_diffs(self, now: float) -> None:
        for key, st in list(self._depth.items()):
            sym, interval = key
            low = sym.lower()
            names = [f"{low}@depth@{interval}ms"] + ([f"{low}@depth"] if interval == self.default_depth_ms else [])
            if not any(self.subscribed(s) for s in names):
                del self._depth[key]
                continue
            if now < st["next"]:
                continue
            st["next"] = now + interval / 1000.0
            book = self.engine.books[sym]
            if book.update_id <= st["last_u"]:
                continue
            bids, asks = (self.levels(book.spec, side) for side in book_changes(book, st["last_u"]))
            payload = self.depth_diff_event(book.spec, st["last_u"], book.update_id, bids, asks)
            st["last_u"] = book.update_id
            for s in names:
                self.push_market(s, payload)

    def depth_diff_event(self, spec: SymbolSpec, prev_u: int, last_u: int, bids: list, asks: list) -> dict:
        """``depthUpdate`` for the changes after ``prev_u`` up to ``last_u`` (venue shape)."""
        raise NotImplementedError

    def partial_depth_event(self, book: Any, n: int) -> dict:
        raise NotImplementedError

    def book_ticker_event(self, book: Any, top: tuple) -> dict:
        raise NotImplementedError

    def publish_other(self, stream: str, kind: str, book: Any, now: float) -> None:
        """Venue-only periodic streams (futures: markPrice)."""
