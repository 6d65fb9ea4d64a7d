"""Binance spot and USDⓈ-M perpetual: pure translation of Binance's wire formats (no I/O).

Market data (``MARKET_DATA``) follows Binance's "How to manage a local order book correctly"
(spot: ``U``/``u`` against the REST ``lastUpdateId``; USDⓈ-M: ``U``/``u``/``pu``).
The trading part (signing, orders, user stream) lives below the ``trading`` marker.
"""
from __future__ import annotations

# ---- market data ----
import itertools as _itertools
from typing import Any as _Any, Optional as _Optional, Sequence as _Sequence, Union as _Union

# orjson when installed (optional accelerator), else ujson; both raise ValueError subclasses
from hbconnect.core.codecs import fast_loads as _loads
from hbconnect.exchanges._common import SymbolMap as _SymbolMap
from hbconnect.exchanges._common import dumps as _dumps
from hbconnect.market.messages import (
    BookDiff as _BookDiff,
    Ignored as _Ignored,
    BookSnapshot as _BookSnapshot,
    DiffFrame as _DiffFrame,
    ParseError as _ParseError,
    RestRequest as _RestRequest,
    SyncRule as _SyncRule,
    Trade as _Trade,
    WsEndpoint as _WsEndpoint,
)

SPOT_REST_URL = "https://api.binance.com"
SPOT_WS_URL = "wss://stream.binance.com:9443"
PERP_REST_URL = "https://fapi.binance.com"
# USDⓈ-M routes depth/trade/bookTicker streams under /public since 2026-04-23.
PERP_WS_URL = "wss://fstream.binance.com/public"

_sub_ids = _itertools.count(1)


def _depth_weight_spot(limit: int) -> int:
    # GET /api/v3/depth weight by limit (Binance spot docs)
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def _depth_weight_perp(limit: int) -> int:
    # GET /fapi/v1/depth weight by limit (USDⓈ-M docs)
    if limit <= 50:
        return 2
    if limit <= 100:
        return 5
    if limit <= 500:
        return 10
    return 20


class BinanceMarketData:
    """Binance market data for one market (spot or USDⓈ-M perpetual); pure translation.

    Streams: ``<symbol>@depth@100ms`` and ``<symbol>@trade`` on the combined endpoint
    (``/stream``: frames are ``{"stream": ..., "data": ...}``), subscribed with ``SUBSCRIBE``.
    Snapshot: REST depth ``limit=1000``. Sync: spot ``U``/``u`` (SEQ_RANGE), USDⓈ-M ``pu`` chain
    (SEQ_RANGE_PREV). Binance sends no book checksum. Base URLs are overridable (``with_urls``)
    for the embedded exchange on 127.0.0.1.
    """

    max_depth: _Optional[int] = None
    connection_sequence = False
    #: step 4 to the letter: a snapshot whose lastUpdateId is strictly less than the first
    #: buffered U is refetched (even when lastUpdateId == U - 1)
    strict_snapshot_start = True
    #: the shared weight pool (exchangeInfo ``rateLimitType``) a depth snapshot's weight counts on
    rate_limit_pool = "REQUEST_WEIGHT"
    #: 1024 streams per connection (Binance), two streams (depth + trade) per pair
    max_pairs_per_connection = 512
    #: subscribe params per SUBSCRIBE message (Binance counts 5 (spot) / 10 (USDⓈ-M) incoming
    #: messages per second, so few large messages are better than many small ones)
    params_per_message = 1024
    #: the tracker paces what it sends on a connection to this (Binance: 5 incoming messages per
    #: second on spot, 10 on USDⓈ-M; more and the connection is dropped)
    ws_message_rate: float = 5.0

    def __init__(self, name: str, *, perpetual: bool, rest_url: str, ws_url: str,
                 snapshot_limit: int = 1000, depth_speed: str = "100ms", trade_stream: str = "trade") -> None:
        self.name = name
        self.perpetual = perpetual
        self.sync_rule = _SyncRule.SEQ_RANGE_PREV if perpetual else _SyncRule.SEQ_RANGE
        self.ws_message_rate = 10.0 if perpetual else 5.0
        self.rest_url = rest_url.rstrip("/")
        self.ws_url = ws_url.rstrip("/")
        self.snapshot_limit = snapshot_limit
        self.depth_speed = depth_speed
        self.trade_stream = trade_stream
        self._symbols = _SymbolMap()
        self._pairs: dict[str, str] = {}  # venue symbol -> pair, filled as pairs are used
        self._depth_path = "/fapi/v1/depth" if perpetual else "/api/v3/depth"
        weight = _depth_weight_perp if perpetual else _depth_weight_spot
        self.snapshot_weight = weight(snapshot_limit)
        #: the combined-stream depthUpdate, for the tracker's compiled fast path: exactly the
        #: frames the hot path of ``parse_message`` turns into one BookDiff
        self.diff_frame = _DiffFrame(
            loads=_loads, parse_decoded=self.parse_decoded, symbols=self._pairs, envelope="data",
            event_key="e", event="depthUpdate", symbol_key="s", first_key="U", last_key="u",
            bids_key="b", asks_key="a", prev_key="pu" if perpetual else None, time_key="E",
            time_units=1000.0)

    def with_urls(self, rest: _Optional[str] = None, ws: _Optional[str] = None) -> "BinanceMarketData":
        """A copy talking to other base URLs (the embedded exchange, a testnet). ``ws`` is the
        websocket base (``/stream`` is appended) or a full ``.../stream`` URL."""
        return BinanceMarketData(self.name, perpetual=self.perpetual, rest_url=rest or self.rest_url,
                                 ws_url=ws or self.ws_url, snapshot_limit=self.snapshot_limit,
                                 depth_speed=self.depth_speed, trade_stream=self.trade_stream)

    def __repr__(self) -> str:
        return f"<BinanceMarketData {self.name} rest={self.rest_url} ws={self.ws_url}>"

    # symbols
    def to_venue_symbol(self, pair: str) -> str:
        symbol = self._symbols.to_venue(pair)
        self._pairs[symbol] = self._symbols.from_venue(symbol)
        return symbol

    def from_venue_symbol(self, symbol: str) -> str:
        pair = self._pairs.get(symbol)
        if pair is None:
            pair = self._symbols.from_venue(symbol.upper())
            self._pairs[symbol] = pair
        return pair

    # connection
    def connect_request(self) -> None:
        return None

    def ws_endpoint(self, connect_response: _Optional[bytes] = None) -> _WsEndpoint:
        url = self.ws_url
        if not url.endswith(("/stream", "/ws")):
            url += "/stream"
        # Binance pings every 20 s (spot) / 3 min (USDⓈ-M) and expects pongs: aiohttp autopings.
        return _WsEndpoint(url)

    def _streams(self, pairs: _Sequence[str]) -> list[str]:
        out = []
        for pair in pairs:
            sym = self.to_venue_symbol(pair).lower()
            out.append(f"{sym}@depth@{self.depth_speed}" if self.depth_speed else f"{sym}@depth")
            out.append(f"{sym}@{self.trade_stream}")
        return out

    def _method(self, method: str, pairs: _Sequence[str]) -> list[str]:
        streams = self._streams(pairs)
        n = self.params_per_message
        return [_dumps({"method": method, "params": streams[i:i + n], "id": next(_sub_ids)})
                for i in range(0, len(streams), n)]

    def subscribe_messages(self, pairs: _Sequence[str]) -> list[str]:
        return self._method("SUBSCRIBE", pairs)

    def unsubscribe_messages(self, pairs: _Sequence[str]) -> list[str]:
        return self._method("UNSUBSCRIBE", pairs)

    def resync_messages(self, pair: str) -> list[str]:
        return []  # the snapshot comes from REST

    # snapshot
    def snapshot_request(self, pair: str) -> _RestRequest:
        return _RestRequest(self.rest_url + self._depth_path,
                            {"symbol": self.to_venue_symbol(pair), "limit": self.snapshot_limit},
                            weight=self.snapshot_weight)

    def parse_snapshot(self, pair: str, body: bytes) -> _BookSnapshot:
        try:
            msg = _loads(body)
        except (ValueError, TypeError):
            raise _ParseError(f"{self.name} {pair}: depth snapshot is not JSON: {body[:80]!r}") from None
        if type(msg) is not dict:
            raise _ParseError(f"{self.name} {pair}: depth snapshot is not an object")
        if "code" in msg and "lastUpdateId" not in msg:
            raise _ParseError(f"{self.name} {pair}: depth error {msg.get('code')}: {str(msg.get('msg'))[:80]}")
        uid = msg.get("lastUpdateId")
        bids = msg.get("bids")
        asks = msg.get("asks")
        if type(uid) is not int or type(bids) is not list or type(asks) is not list:
            raise _ParseError(f"{self.name} {pair}: depth snapshot lacks lastUpdateId/bids/asks")
        ts = msg.get("T") or msg.get("E") or 0
        return _BookSnapshot(pair, bids, asks, uid, ts / 1000.0 if type(ts) is int else 0.0)

    # stream
    def parse_message(self, raw: _Union[str, bytes]) -> list:
        # Hot path: a well-formed depthUpdate of a known symbol, in one try block. Anything else
        # (trades, acks, unknown symbols, malformed frames) takes the careful path below.
        try:
            msg = _loads(raw)
        except (ValueError, TypeError):
            raise _ParseError(f"{self.name}: frame is not JSON: {raw[:80]!r}") from None
        try:
            data = msg["data"]
            if data["e"] == "depthUpdate":
                first = data["U"]
                last = data["u"]
                bids = data["b"]
                asks = data["a"]
                pair = self._pairs[data["s"]]
                ts = data["E"]
                prev = data["pu"] if self.perpetual else None
                if type(first) is int and type(last) is int and type(bids) is list and type(asks) is list \
                        and type(ts) is int and (prev is None or type(prev) is int):
                    return [_BookDiff(pair, bids, asks, first, last, prev, ts / 1000.0)]
        except (KeyError, TypeError, IndexError):
            pass
        return self._parse_careful(raw, msg)

    def parse_decoded(self, raw: _Union[str, bytes], msg: _Any) -> list:
        """``parse_message`` of a frame already decoded to ``msg`` (``diff_frame``)."""
        return self._parse_careful(raw, msg)

    def _parse_careful(self, raw: _Union[str, bytes], msg: _Any) -> list:
        try:
            data = msg["data"]
            e = data["e"]
        except (KeyError, TypeError, IndexError):
            return self._parse_other(raw, msg)
        if e == "depthUpdate":
            try:
                first = data["U"]
                last = data["u"]
                bids = data["b"]
                asks = data["a"]
                sym = data["s"]
                prev = data["pu"] if self.perpetual else None
            except KeyError as exc:
                raise _ParseError(f"{self.name}: depthUpdate without {exc}: {raw[:80]!r}") from None
            if type(first) is not int or type(last) is not int or type(bids) is not list \
                    or type(asks) is not list or (prev is not None and type(prev) is not int):
                raise _ParseError(f"{self.name}: malformed depthUpdate {raw[:80]!r}")
            if type(sym) is not str:
                raise _ParseError(f"{self.name}: depthUpdate without symbol")
            pair = self._pairs.get(sym) or self.from_venue_symbol(sym)
            ts = data.get("E")
            return [_BookDiff(pair, bids, asks, first, last, prev, ts / 1000.0 if type(ts) is int else 0.0)]
        if e == "trade" or e == "aggTrade":
            return self._trade(raw, data, e)
        return [_Ignored(f"event {str(e)[:40]}")]  # kline, ... : channels the tracker does not subscribe

    def _parse_other(self, raw: _Union[str, bytes], msg: _Any) -> list:
        if type(msg) is not dict:
            raise _ParseError(f"{self.name}: unexpected frame {raw[:80]!r}")
        data = msg.get("data")
        if data is None:
            if "e" in msg:  # raw-stream endpoint (/ws): the event itself
                return self.parse_message(_dumps({"data": msg}))
            if "result" in msg and "id" in msg:
                return []  # SUBSCRIBE / UNSUBSCRIBE acknowledgement
            if "error" in msg or "code" in msg:
                raise _ParseError(f"{self.name}: venue error {str(msg.get('error', msg))[:120]}")
            return []
        if type(data) is not dict:
            raise _ParseError(f"{self.name}: unexpected data in {raw[:80]!r}")
        if "e" not in data:
            return [_Ignored("bookTicker")]  # bookTicker has no event type
        raise _ParseError(f"{self.name}: unexpected frame {raw[:80]!r}")

    def _trade(self, raw: _Union[str, bytes], data: dict, e: str) -> list:
        sym = data.get("s")
        price = data.get("p")
        qty = data.get("q")
        tid = data.get("t") if e == "trade" else data.get("a")
        if type(sym) is not str or type(price) is not str or type(qty) is not str or tid is None:
            raise _ParseError(f"{self.name}: malformed {e} {raw[:80]!r}")
        pair = self._pairs.get(sym) or self.from_venue_symbol(sym)
        ts = data.get("T") or data.get("E") or 0
        # "m": the buyer is the maker, so the taker sold
        side = "sell" if data.get("m") else "buy"
        return [_Trade(pair, str(tid), price, qty, side, ts / 1000.0 if type(ts) is int else 0.0)]

    def checksum(self, book: _Any) -> int:
        raise NotImplementedError("Binance sends no order book checksum")


MARKET_DATA: dict = {
    "binance": BinanceMarketData("binance", perpetual=False, rest_url=SPOT_REST_URL, ws_url=SPOT_WS_URL),
    "binance_perpetual": BinanceMarketData("binance_perpetual", perpetual=True, rest_url=PERP_REST_URL,
                                           ws_url=PERP_WS_URL),
}

# ---- trading ----
# Trading translation (spot /api/v3 and USDⓈ-M /fapi): signing, requests, parse_*, user stream.
# Everything below is pure: the connector engine (hbconnect.connector) performs the I/O.
import base64 as _base64
import hashlib as _hashlib
import hmac as _hmac
import logging as _logging
import time as _time
from decimal import Decimal as _D, InvalidOperation as _InvalidOperation
import re as _re
from urllib.parse import quote_plus as _quote_plus

from hbconnect.connector.contract import (
    BalanceDelta,
    BalanceEntry,
    BalanceUpdate,
    FundingHint,
    FundingPayment,
    PositionsSnapshot,
    PositionUpdate,
    PreparedRequest,
    StreamExpired,
    VenueRequest,
)
from hbconnect.core import errors as _errors
from hbconnect.core.in_flight_order import OrderUpdate, TradeUpdate
from hbconnect.core.throttler import LinkedLimitWeightPair, RateLimit
from hbconnect.core.trading_rule import TradingRule
from hbconnect.core.types import (
    FundingInfo,
    OrderState,
    OrderType,
    PositionAction,
    PositionMode,
    PositionSide,
    TokenAmount,
    TradeFee,
    TradeType,
)
from hbconnect.core.types import decimal_text as _decimal_text

_tlog = _logging.getLogger(__name__)
_DZERO = _D(0)

# user-data base URLs (the market-data section has its own stream URLs)
TRADING_SPOT_REST_URL = "https://api.binance.com"
TRADING_SPOT_WS_URL = "wss://stream.binance.com:9443"
TRADING_PERP_REST_URL = "https://fapi.binance.com"
TRADING_PERP_WS_URL = "wss://fstream.binance.com"

#: Binance's cap on newClientOrderId (^[.A-Z:/a-z0-9_-]{1,36}$), spot and USDⓈ-M.
MAX_CLIENT_ORDER_ID_LENGTH = 36
#: Broker prefix carried by every client order id this library creates.
DEFAULT_BROKER_ID = "x-HBCONN"
DEFAULT_RECV_WINDOW_MS = 5000

# Rate-limit ids (one per budget; endpoints link to them with their weights).
REQUEST_WEIGHT = "REQUEST_WEIGHT"
ORDERS_10S = "ORDERS_10S"
ORDERS_1D = "ORDERS_1D"
ORDERS_1M = "ORDERS_1M"
RAW_REQUESTS = "RAW_REQUESTS"

# Spot endpoints: path -> request weight (docs "Weight", 2025-2026 values).
SPOT_WEIGHTS: dict = {
    "/api/v3/time": 1,
    "/api/v3/exchangeInfo": 20,
    "/api/v3/account": 20,
    "/api/v3/order": 1,  # POST/DELETE; GET is 4, see SPOT_GET_ORDER
    "/api/v3/myTrades": 20,
    "/api/v3/openOrders": 6,  # with symbol
    "/api/v3/ticker/price": 2,  # single symbol; 4 for several
    "/api/v3/userDataStream": 2,
}
SPOT_GET_ORDER = "GET /api/v3/order"
SPOT_ORDER_LIMITS = ("/api/v3/order",)

PERP_WEIGHTS: dict = {
    "/fapi/v1/time": 1,
    "/fapi/v1/exchangeInfo": 1,
    "/fapi/v2/balance": 5,
    "/fapi/v2/positionRisk": 5,
    "/fapi/v1/order": 1,
    "/fapi/v1/userTrades": 5,
    "/fapi/v1/ticker/price": 1,
    "/fapi/v1/listenKey": 1,
    "/fapi/v1/leverage": 1,
    "/fapi/v1/positionSide/dual": 1,
    "/fapi/v1/premiumIndex": 1,
    "/fapi/v1/income": 30,
}
PERP_GET_POSITION_MODE = "GET /fapi/v1/positionSide/dual"


def spot_rate_limits(weight_per_minute: int = 6000, orders_per_10s: int = 100,
                     orders_per_day: int = 200_000, raw_per_5m: int = 61_000) -> list:
    """Binance spot limits (exchangeInfo ``rateLimits``): 6,000 weight/min, 100 orders/10 s,
    200,000 orders/day, 61,000 raw requests/5 min; each endpoint linked with its weight. Binance
    has no per-endpoint budget: an endpoint's own limit is only the key its links hang on, so
    it is charged nothing (weight 0: no window to keep for it).
    The arguments override the budgets (an account or a test venue with other limits)."""
    limits = [
        RateLimit(REQUEST_WEIGHT, weight_per_minute, 60.0),
        RateLimit(ORDERS_10S, orders_per_10s, 10.0),
        RateLimit(ORDERS_1D, orders_per_day, 86_400.0),
        RateLimit(RAW_REQUESTS, raw_per_5m, 300.0),
    ]
    for path, weight in SPOT_WEIGHTS.items():
        linked = [LinkedLimitWeightPair(REQUEST_WEIGHT, weight), LinkedLimitWeightPair(RAW_REQUESTS, 1)]
        if path in SPOT_ORDER_LIMITS:
            linked += [LinkedLimitWeightPair(ORDERS_10S, 1), LinkedLimitWeightPair(ORDERS_1D, 1)]
        limits.append(RateLimit(path, 1_000_000, 1.0, weight=0, linked_limits=linked))
    limits.append(RateLimit(SPOT_GET_ORDER, 1_000_000, 1.0, weight=0, linked_limits=[
        LinkedLimitWeightPair(REQUEST_WEIGHT, 4), LinkedLimitWeightPair(RAW_REQUESTS, 1)]))
    return limits


def perp_rate_limits(weight_per_minute: int = 2400, orders_per_10s: int = 300,
                     orders_per_minute: int = 1200) -> list:
    """Binance USDⓈ-M limits: 2,400 weight/min, 300 orders/10 s, 1,200 orders/min."""
    limits = [
        RateLimit(REQUEST_WEIGHT, weight_per_minute, 60.0),
        RateLimit(ORDERS_10S, orders_per_10s, 10.0),
        RateLimit(ORDERS_1M, orders_per_minute, 60.0),
    ]
    for path, weight in PERP_WEIGHTS.items():
        linked = [LinkedLimitWeightPair(REQUEST_WEIGHT, weight)]
        if path == "/fapi/v1/order":
            linked += [LinkedLimitWeightPair(ORDERS_10S, 1), LinkedLimitWeightPair(ORDERS_1M, 1)]
        limits.append(RateLimit(path, 1_000_000, 1.0, weight=0, linked_limits=linked))
    limits.append(RateLimit(PERP_GET_POSITION_MODE, 1_000_000, 1.0, weight=0,
                            linked_limits=[LinkedLimitWeightPair(REQUEST_WEIGHT, 30)]))
    return limits


# ---- errors ----

#: Binance error code -> (exception class name in hbconnect.core.errors, short meaning)
ERROR_CODES: dict = {
    -1003: ("RateLimitError", "too many requests"),
    -1015: ("RateLimitError", "too many new orders"),
    -1021: ("TimeSyncError", "timestamp outside recvWindow"),
    -1022: ("AuthenticationError", "invalid signature"),
    -2014: ("AuthenticationError", "API key format invalid"),
    -2015: ("AuthenticationError", "invalid API key, IP or permissions"),
    -2010: ("OrderRejected", "new order rejected"),
    -2011: ("OrderNotFound", "cancel rejected: unknown order"),
    -2013: ("OrderNotFound", "order does not exist"),
    -2019: ("InsufficientBalance", "margin is insufficient"),
    -5022: ("OrderRejected", "post-only order would take"),
    -4164: ("InvalidOrder", "notional below minimum"),
    -1111: ("InvalidOrder", "precision over maximum"),
    -1013: ("InvalidOrder", "filter failure"),
    -1106: ("InvalidOrder", "parameter sent when not required"),
    -1102: ("InvalidOrder", "mandatory parameter missing"),
    -1100: ("InvalidOrder", "illegal characters in parameter"),
    -1121: ("InvalidOrder", "invalid symbol"),
    -1125: ("AuthenticationError", "listenKey does not exist"),
    -4059: ("ExchangeError", "no need to change position side"),
    -4046: ("ExchangeError", "no need to change margin type"),
}


def _error_class(name: str) -> type:
    cls = getattr(_errors, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, _errors.ExchangeError) else _errors.ExchangeError


def binance_error(status: int, data: _Any, headers: _Any = None, venue: str = "binance") -> Exception:
    """The exception for a non-2xx Binance response (``data``: parsed JSON body or raw text)."""
    code: _Optional[int] = None
    msg = ""
    if isinstance(data, dict):
        try:
            code = int(data.get("code"))
        except (TypeError, ValueError):
            code = None
        msg = str(data.get("msg", ""))[:300]
    elif isinstance(data, (bytes, bytearray)):
        msg = data[:300].decode("utf-8", "replace")
    elif data is not None:
        msg = str(data)[:300]
    lower = msg.lower()
    if status in (418, 429) or code in (-1003, -1015):
        retry_after: _Optional[float] = None
        if headers is not None:
            try:
                value = headers.get("Retry-After")
                retry_after = float(value) if value is not None else None
            except (TypeError, ValueError, AttributeError):
                retry_after = None
        return _errors.RateLimitError(code, msg, retry_after=retry_after, http_status=status, venue=venue)
    if code == -2010 and ("insufficient" in lower or "balance" in lower):
        name = "InsufficientBalance"
    elif code in ERROR_CODES:
        name = ERROR_CODES[code][0]
    elif status >= 500:
        name = "ServiceUnavailable"
    else:
        name = "ExchangeError"
    return _error_class(name)(code, msg, http_status=status, venue=venue)


# ---- signing ----


class _Key:
    """Credentials. repr/str never reveal them."""

    __slots__ = ("api_key", "_secret", "_ed25519", "_hmac_base", "_hmac_key")

    def __init__(self, api_key: str, api_secret: _Union[str, bytes, None], private_key_pem: _Optional[bytes]) -> None:
        self.api_key = api_key
        self._secret = api_secret.encode() if isinstance(api_secret, str) else api_secret
        self._hmac_base = None
        self._hmac_key = None
        self._ed25519 = None
        if private_key_pem is not None:
            try:
                from cryptography.hazmat.primitives.serialization import load_pem_private_key
            except ImportError as exc:  # optional dependency
                raise _errors.AuthenticationError(
                    None, "Ed25519 keys need the 'cryptography' package (pip install cryptography)") from exc
            self._ed25519 = load_pem_private_key(private_key_pem, password=None)

    def sign(self, payload: str) -> str:
        if self._ed25519 is not None:
            return _base64.b64encode(self._ed25519.sign(payload.encode("ascii"))).decode()
        if not self._secret:
            raise _errors.AuthenticationError(None, "no API secret configured")
        base = self._hmac_base
        if base is None or self._hmac_key is not self._secret:
            base = self._hmac_base = _hmac.new(self._secret, digestmod=_hashlib.sha256)
            self._hmac_key = self._secret
        mac = base.copy()  # the key schedule is computed once per secret
        mac.update(payload.encode())
        return mac.hexdigest()

    def __repr__(self) -> str:
        return "<credentials hidden>"

    __str__ = __repr__


def hmac_signature(secret: str, payload: str) -> str:
    """HMAC-SHA256 hex of ``payload`` (Binance's SIGNED scheme)."""
    return _hmac.new(secret.encode(), payload.encode(), _hashlib.sha256).hexdigest()


_SAFE = _re.compile(r"[A-Za-z0-9_.\-~]*").fullmatch


def _form(params: dict) -> str:
    """``urlencode`` for the common case: values that need no quoting are joined as they are
    (same result as ``urllib.parse.urlencode``, several times faster)."""
    if _SAFE("".join(params.values())):  # one check for all the values (the usual case)
        return "&".join([f"{k}={v}" for k, v in params.items()])
    return "&".join(f"{k}={v}" if _SAFE(v) else f"{_quote_plus(k)}={_quote_plus(v)}" for k, v in params.items())


def _fmt(value: _Any) -> str:
    """Decimal text without exponent or needless trailing zeros (Binance rejects '1E+1')."""
    if type(value) is str:
        return value
    if isinstance(value, _D):
        return _decimal_text(value)  # range-checked before any text is made
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _dec(value: _Any, default: _Optional[_D] = None) -> _D:
    if value is None or value == "":
        if default is not None:
            return default
        raise ValueError("missing decimal")
    try:
        d = _D(str(value))
    except _InvalidOperation as exc:
        raise ValueError(f"bad decimal {value!r}") from exc
    if not d.is_finite():
        raise ValueError(f"non-finite decimal {value!r}")
    return d


_SPOT_STATES: dict = {
    "NEW": OrderState.OPEN,
    "PENDING_NEW": OrderState.PENDING_CREATE,
    "PARTIALLY_FILLED": OrderState.PARTIALLY_FILLED,
    "FILLED": OrderState.FILLED,
    "PENDING_CANCEL": OrderState.PENDING_CANCEL,
    "CANCELED": OrderState.CANCELED,
    "EXPIRED": OrderState.CANCELED,
    "EXPIRED_IN_MATCH": OrderState.CANCELED,
    "REJECTED": OrderState.FAILED,
}

_QUOTES = ("USDT", "USDC", "FDUSD", "TUSD", "BUSD", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL", "JPY",
           "DAI", "USD", "GBP", "AUD")


class BinanceSpotTrading:
    """Binance spot trading translation (``/api/v3``). One object per account."""

    name = "binance"
    is_perpetual = False
    max_client_order_id_length = MAX_CLIENT_ORDER_ID_LENGTH
    _prefix = "/api/v3"
    # venue differences the shared translation below reads (the perpetual subclass overrides them)
    _order_path = "/api/v3/order"
    _fills_path = "/api/v3/myTrades"
    _listen_key_path = "/api/v3/userDataStream"
    _states: dict = _SPOT_STATES
    _new_order_resp_type = "FULL"               # FULL: the response carries the fills
    _post_only_params: dict = {"type": "LIMIT_MAKER"}
    _ack_time_key = "transactTime"              # time field of order POST/DELETE responses
    _fill_maker_key = "isMaker"                 # maker flag in the account-trades list

    def __init__(self, api_key: str = "", api_secret: _Union[str, bytes, None] = "", *,
                 rest_url: _Optional[str] = None, ws_url: _Optional[str] = None,
                 broker_id: str = DEFAULT_BROKER_ID, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
                 private_key_pem: _Optional[bytes] = None, rate_limits: _Optional[list] = None) -> None:
        self._key = _Key(api_key, api_secret, private_key_pem)
        self.rest_url = (rest_url or self._default_rest()).rstrip("/")
        self.ws_url = (ws_url or self._default_ws()).rstrip("/")
        self.broker_id = broker_id
        self.recv_window_ms = int(recv_window_ms)
        self.rate_limits = rate_limits if rate_limits is not None else self._default_limits()
        self._symbol_to_pair: dict = {}
        self._pair_to_symbol: dict = {}
        self._nonce = _itertools.count(1)
        self._id_heads: dict = {}

    def _default_rest(self) -> str:
        return TRADING_SPOT_REST_URL

    def _default_ws(self) -> str:
        return TRADING_SPOT_WS_URL

    def _default_limits(self) -> list:
        return spot_rate_limits()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rest_url={self.rest_url!r})"

    # -- identity, symbols --

    def supported_order_types(self) -> list:
        return [OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.MARKET]

    def new_client_order_id(self, is_buy: bool, pair: str) -> str:
        """``<broker><B|S><base[:4]><quote[:4]><time+counter hex>``, at most 36 characters."""
        nonce = f"{_time.time_ns() // 1000:x}{next(self._nonce) & 0xFFFF:04x}"
        head = self._id_heads.get((is_buy, pair))
        if head is None:
            base, _, quote = pair.partition("-")
            head = f"{self.broker_id}{'B' if is_buy else 'S'}{base[:4]}{quote[:4]}"
            head = "".join(ch for ch in head if ch.isalnum() or ch in "-_")
            self._id_heads[(is_buy, pair)] = head
        return head[:self.max_client_order_id_length - len(nonce)] + nonce

    def register_symbol(self, symbol: str, pair: str) -> None:
        self._symbol_to_pair[symbol] = pair
        self._pair_to_symbol[pair] = symbol

    def to_venue_symbol(self, pair: str) -> str:
        return self._pair_to_symbol.get(pair) or pair.replace("-", "").upper()

    def from_venue_symbol(self, symbol: str) -> str:
        pair = self._symbol_to_pair.get(symbol)
        if pair:
            return pair
        for quote in _QUOTES:
            if symbol.endswith(quote) and len(symbol) > len(quote):
                return f"{symbol[:-len(quote)]}-{quote}"
        return symbol

    # -- signing --

    def prepare(self, request: VenueRequest, timestamp_ms: int) -> PreparedRequest:
        """Sign and lay out ``request``: GET/DELETE parameters in the query string, POST/PUT in a
        form body. The signature is HMAC-SHA256 (hex) or Ed25519 (base64) of the url-encoded
        parameters including ``recvWindow`` and ``timestamp``; it is sent last."""
        params = {k: v if type(v) is str else _fmt(v) for k, v in request.params.items() if v is not None}
        headers: dict = {}
        payload: _Optional[str] = None
        if request.signed:
            params["recvWindow"] = str(self.recv_window_ms)
            params["timestamp"] = str(int(timestamp_ms))
            payload = _form(params)
            signature = self._key.sign(payload)
            params["signature"] = signature
            # an HMAC signature is hex (nothing to quote); an Ed25519 one is base64 (+, /, =)
            payload += "&signature=" + (signature if self._key._ed25519 is None else _quote_plus(signature))
            headers["X-MBX-APIKEY"] = self._key.api_key
        elif request.api_key:
            headers["X-MBX-APIKEY"] = self._key.api_key
        method = request.method.upper()
        query: _Optional[dict] = params or None
        body: _Optional[str] = None
        if method in ("POST", "PUT") and params:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            query, body = None, payload if payload is not None else _form(params)
        limit_id = request.limit_id
        if method == "GET" and request.path == "/api/v3/order":
            limit_id = SPOT_GET_ORDER
        elif method == "GET" and request.path == "/fapi/v1/positionSide/dual":
            limit_id = PERP_GET_POSITION_MODE
        return PreparedRequest(method, self.rest_url + request.path, query, body, headers, limit_id,
                               request.idempotent, int(timestamp_ms))

    # -- errors --

    def error_from_response(self, status: int, data: _Any, headers: _Any = None) -> Exception:
        return binance_error(status, data, headers, venue=self.name)

    def is_no_change(self, error: Exception) -> bool:
        """True when a settings request failed only because the setting was already so."""
        return getattr(error, "code", None) in (-4059, -4046)

    def is_order_not_found(self, error: Exception) -> bool:
        return getattr(error, "code", None) in (-2011, -2013)

    # -- server time, rules, balances, prices --

    def server_time_request(self) -> VenueRequest:
        return VenueRequest("GET", f"{self._prefix}/time")

    def parse_server_time(self, data: _Any) -> float:
        return int(data["serverTime"]) / 1000.0

    def trading_rules_request(self) -> VenueRequest:
        return VenueRequest("GET", f"{self._prefix}/exchangeInfo")

    def parse_trading_rules(self, data: _Any) -> list:
        """exchangeInfo -> TradingRule list. A malformed symbol entry is skipped and logged."""
        rules = []
        for entry in (data or {}).get("symbols", []) if isinstance(data, dict) else []:
            try:
                if not self._is_tradable(entry):
                    continue
                pair = f"{entry['baseAsset']}-{entry['quoteAsset']}"
                rule = self._rule_from_filters(pair, entry)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                _tlog.warning("binance: skipping malformed trading rule %r: %s",
                              entry.get("symbol") if isinstance(entry, dict) else entry, exc)
                continue
            self.register_symbol(entry["symbol"], pair)
            rules.append(rule)
        return rules

    def _is_tradable(self, entry: dict) -> bool:
        return entry.get("status") == "TRADING"

    def _rule_from_filters(self, pair: str, entry: dict) -> TradingRule:
        filters = {f["filterType"]: f for f in entry["filters"]}
        price = filters["PRICE_FILTER"]
        lot = filters["LOT_SIZE"]
        notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
        tick = _dec(price["tickSize"])
        step = _dec(lot["stepSize"])
        if tick <= 0 or step <= 0:
            raise ValueError("tickSize and stepSize must be positive")
        max_qty = _dec(lot.get("maxQty"), _DZERO)
        max_price = _dec(price.get("maxPrice"), _DZERO)
        max_notional = _dec(notional.get("maxNotional"), _DZERO)
        order_types = entry.get("orderTypes") or ["LIMIT", "MARKET"]
        base, quote = pair.split("-")
        return TradingRule(
            trading_pair=pair,
            min_order_size=_dec(lot["minQty"]),
            max_order_size=max_qty if max_qty > 0 else None,
            min_price_increment=tick,
            min_base_amount_increment=step,
            min_notional_size=_dec(notional.get("minNotional", notional.get("notional")), _DZERO),
            max_notional_size=max_notional if max_notional > 0 else None,
            min_price=_dec(price.get("minPrice"), _DZERO),
            max_price=max_price if max_price > 0 else None,
            supports_limit_orders="LIMIT" in order_types,
            supports_market_orders="MARKET" in order_types,
            buy_order_collateral_token=quote,
            sell_order_collateral_token=quote if self.is_perpetual else base,
        )

    def balances_request(self) -> VenueRequest:
        return VenueRequest("GET", "/api/v3/account", {"omitZeroBalances": "true"}, signed=True)

    def parse_balances(self, data: _Any) -> BalanceUpdate:
        entries = []
        for b in data["balances"]:
            free, locked = _dec(b["free"]), _dec(b["locked"])
            entries.append(BalanceEntry(b["asset"], free + locked, free))
        return BalanceUpdate(entries, int(data.get("updateTime") or 0) / 1000.0, complete=True)

    def last_prices_request(self, pairs: _Sequence[str]) -> VenueRequest:
        if len(pairs) == 1:
            return VenueRequest("GET", f"{self._prefix}/ticker/price", {"symbol": self.to_venue_symbol(pairs[0])})
        return VenueRequest("GET", f"{self._prefix}/ticker/price")

    def parse_last_prices(self, data: _Any, pairs: _Sequence[str]) -> dict:
        items = data if isinstance(data, list) else [data]
        wanted = set(pairs)
        out = {}
        for item in items:
            pair = self.from_venue_symbol(item["symbol"])
            if pair in wanted:
                out[pair] = _dec(item["price"])
        return out

    # -- orders --

    def _order_type_params(self, order: _Any) -> dict:
        if order.order_type == OrderType.MARKET:
            return {"type": "MARKET"}
        if order.order_type == OrderType.LIMIT_MAKER:
            return {**self._post_only_params, "price": order.price}
        return {"type": "LIMIT", "timeInForce": "GTC", "price": order.price}

    def _position_params(self, order: _Any) -> dict:
        """Extra order parameters for the position side (none on spot)."""
        return {}

    def place_order_request(self, order: _Any) -> VenueRequest:
        params = {
            "symbol": self.to_venue_symbol(order.trading_pair),
            "side": "BUY" if order.trade_type == TradeType.BUY else "SELL",
            "quantity": order.amount,
            "newClientOrderId": order.client_order_id,
            "newOrderRespType": self._new_order_resp_type,
        }
        params.update(self._order_type_params(order))
        params.update(self._position_params(order))
        return VenueRequest("POST", self._order_path, params, signed=True, idempotent=False)

    def parse_place_order(self, data: _Any, order: _Any, timestamp: float) -> tuple:
        """POST order response -> (OrderUpdate, [TradeUpdate]) (FULL responses carry fills)."""
        ts = int(data.get(self._ack_time_key) or 0) / 1000.0 or timestamp
        update = self._order_update(data, order, ts, creating=True)
        fills = []
        for f in data.get("fills") or []:
            fills.append(self._trade_update(order, str(data["orderId"]), str(f["tradeId"]), _dec(f["price"]),
                                            _dec(f["qty"]), _dec(f["commission"]), f.get("commissionAsset"),
                                            ts, is_taker=True))
        return update, fills

    def _by_client_id(self, order: _Any) -> dict:
        return {"symbol": self.to_venue_symbol(order.trading_pair), "origClientOrderId": order.client_order_id}

    def cancel_order_request(self, order: _Any) -> VenueRequest:
        return VenueRequest("DELETE", self._order_path, self._by_client_id(order), signed=True)

    def parse_cancel_order(self, data: _Any, order: _Any, timestamp: float) -> OrderUpdate:
        ts = int(data.get(self._ack_time_key) or 0) / 1000.0 or timestamp
        return self._order_update(data, order, ts)

    def order_status_request(self, order: _Any) -> VenueRequest:
        return VenueRequest("GET", self._order_path, self._by_client_id(order), signed=True)

    def parse_order_status(self, data: _Any, order: _Any, timestamp: float) -> OrderUpdate:
        ts = int(data.get("updateTime") or data.get("time") or 0) / 1000.0 or timestamp
        return self._order_update(data, order, ts)

    def order_fills_request(self, order: _Any) -> VenueRequest:
        return VenueRequest("GET", self._fills_path, {
            "symbol": self.to_venue_symbol(order.trading_pair),
            "orderId": order.exchange_order_id,
        }, signed=True)

    def parse_order_fills(self, data: _Any, order: _Any) -> list:
        out = []
        for t in data:
            if order.exchange_order_id is not None and str(t["orderId"]) != str(order.exchange_order_id):
                continue
            out.append(self._trade_update(order, str(t["orderId"]), str(t["id"]), _dec(t["price"]), _dec(t["qty"]),
                                          _dec(t["commission"]), t.get("commissionAsset"),
                                          int(t["time"]) / 1000.0, is_taker=not t.get(self._fill_maker_key, False)))
        return out

    def _order_update(self, data: dict, order: _Any, ts: float, creating: bool = False) -> OrderUpdate:
        status = data.get("status", "NEW")
        state = self._states.get(status)
        if state is None:
            raise ValueError(f"unknown order status {status!r}")
        return OrderUpdate(
            trading_pair=order.trading_pair,
            update_timestamp=ts,
            new_state=state,
            client_order_id=order.client_order_id,
            exchange_order_id=str(data["orderId"]) if data.get("orderId") is not None else None,
            executed_amount_base=_dec(data.get("executedQty"), _DZERO) if "executedQty" in data else None,
            error_message=f"venue status {status}" if state is OrderState.FAILED else None,
        )

    def _trade_update(self, order: _Any, exchange_order_id: str, trade_id: str, price: _D, qty: _D,
                      commission: _D, commission_asset: _Optional[str], ts: float, is_taker: bool) -> TradeUpdate:
        fee = _fee(commission, commission_asset, order.trade_type, self.is_perpetual,
                   getattr(order, "position", None))
        return TradeUpdate(
            trade_id=trade_id,
            client_order_id=order.client_order_id,
            exchange_order_id=exchange_order_id,
            trading_pair=order.trading_pair,
            fill_timestamp=ts,
            fill_price=price,
            fill_base_amount=qty,
            fill_quote_amount=price * qty,
            fee=fee,
            is_taker=is_taker,
        )

    # -- user stream --

    def listen_key_request(self) -> VenueRequest:
        return VenueRequest("POST", self._listen_key_path, api_key=True)

    def parse_listen_key(self, data: _Any) -> str:
        key = data["listenKey"]
        if not isinstance(key, str) or not key:
            raise ValueError("empty listenKey")
        return key

    def listen_key_keepalive_request(self, listen_key: str) -> VenueRequest:
        return VenueRequest("PUT", self._listen_key_path, {"listenKey": listen_key}, api_key=True)

    def user_stream_url(self, listen_key: str) -> str:
        return f"{self.ws_url}/ws/{listen_key}"

    def parse_user_stream(self, raw: _Union[str, bytes]) -> list:
        """One user-stream frame -> [OrderUpdate | TradeUpdate | BalanceUpdate | BalanceDelta |
        StreamExpired]. Order events carry the client order id; the engine matches them with
        its tracked orders (unknown ids are ignored there). Raises ValueError on malformed frames."""
        msg = _loads(raw)
        if not isinstance(msg, dict):
            raise ValueError("user-stream frame is not an object")
        if isinstance(msg.get("event"), dict):  # WebSocket-API subscription wrapper
            msg = msg["event"]
        elif isinstance(msg.get("data"), dict) and "stream" in msg:  # combined stream wrapper
            msg = msg["data"]
        kind = msg.get("e")
        if kind == "executionReport":
            return self._parse_execution_report(msg)
        if kind == "outboundAccountPosition":
            entries = []
            for b in msg["B"]:
                free, locked = _dec(b["f"]), _dec(b["l"])
                entries.append(BalanceEntry(b["a"], free + locked, free))
            return [BalanceUpdate(entries, int(msg.get("u") or msg.get("E") or 0) / 1000.0)]
        if kind == "balanceUpdate":
            return [BalanceDelta(msg["a"], _dec(msg["d"]), int(msg.get("E") or 0) / 1000.0)]
        if kind in ("listenKeyExpired", "eventStreamTerminated"):
            return [StreamExpired(kind)]
        return []

    def _parse_execution_report(self, m: dict) -> list:
        execution = m["x"]
        # on a cancel, "c" is the cancel request's id and "C" the original order's id
        client_id = m.get("C") if execution == "CANCELED" and m.get("C") else m["c"]
        state = _SPOT_STATES.get(m["X"])
        if state is None:
            raise ValueError(f"unknown order status {m['X']!r}")
        pair = self.from_venue_symbol(m["s"])
        ts = int(m.get("T") or m.get("E") or 0) / 1000.0
        exchange_id = str(m["i"])
        out: list = []
        if execution == "TRADE":
            qty = _dec(m["l"])
            price = _dec(m["L"])
            fee = _fee(_dec(m.get("n"), _DZERO), m.get("N"), TradeType.BUY if m["S"] == "BUY" else TradeType.SELL,
                       False, None)
            out.append(TradeUpdate(
                trade_id=str(m["t"]), client_order_id=client_id, exchange_order_id=exchange_id,
                trading_pair=pair, fill_timestamp=ts, fill_price=price, fill_base_amount=qty,
                fill_quote_amount=price * qty, fee=fee, is_taker=not m.get("m", False)))
        out.append(OrderUpdate(trading_pair=pair, update_timestamp=ts, new_state=state,
                               client_order_id=client_id, exchange_order_id=exchange_id,
                               executed_amount_base=_dec(m.get("z"), _DZERO),
                               error_message=(m.get("r") or "rejected") if state is OrderState.FAILED else None))
        return out


def _fee(commission: _D, asset: _Optional[str], trade_type: _Any, is_perp: bool, position_action: _Any) -> TradeFee:
    """A fill's commission as a flat fee in its asset (Binance reports the exact amount)."""
    flat = [TokenAmount(asset, commission)] if asset and commission else []
    if is_perp:
        return TradeFee.new_perpetual_fee(position_action or PositionAction.OPEN, flat_fees=flat)
    return TradeFee.new_spot_fee(trade_type or TradeType.BUY, flat_fees=flat)


_PERP_STATES = dict(_SPOT_STATES)
_PERP_STATES["NEW_INSURANCE"] = OrderState.OPEN
_PERP_STATES["NEW_ADL"] = OrderState.OPEN


class BinancePerpetualTrading(BinanceSpotTrading):
    """Binance USDⓈ-M perpetual trading translation (``/fapi``)."""

    name = "binance_perpetual"
    is_perpetual = True
    _prefix = "/fapi/v1"
    _order_path = "/fapi/v1/order"
    _fills_path = "/fapi/v1/userTrades"
    _listen_key_path = "/fapi/v1/listenKey"
    _states = _PERP_STATES
    _new_order_resp_type = "RESULT"
    _post_only_params = {"type": "LIMIT", "timeInForce": "GTX"}   # post-only: GTX
    _ack_time_key = "updateTime"
    _fill_maker_key = "maker"

    def __init__(self, *args: _Any, **kwargs: _Any) -> None:
        super().__init__(*args, **kwargs)
        #: the engine keeps this in step with the account (set_position_mode / position_mode)
        self.position_mode = PositionMode.ONEWAY

    def _default_rest(self) -> str:
        return TRADING_PERP_REST_URL

    def _default_ws(self) -> str:
        return TRADING_PERP_WS_URL

    def _default_limits(self) -> list:
        return perp_rate_limits()

    def _is_tradable(self, entry: dict) -> bool:
        return entry.get("status") == "TRADING" and entry.get("contractType", "PERPETUAL") == "PERPETUAL"

    def balances_request(self) -> VenueRequest:
        return VenueRequest("GET", "/fapi/v2/balance", signed=True)

    def parse_balances(self, data: _Any) -> BalanceUpdate:
        entries = []
        ts = 0
        for b in data:
            entries.append(BalanceEntry(b["asset"], _dec(b["balance"]), _dec(b["availableBalance"])))
            ts = max(ts, int(b.get("updateTime") or 0))
        return BalanceUpdate(entries, ts / 1000.0, complete=True)

    def _position_params(self, order: _Any) -> dict:
        action = getattr(order, "position", None)
        if self.position_mode == PositionMode.HEDGE:
            is_buy = order.trade_type == TradeType.BUY
            opening = action != PositionAction.CLOSE
            return {"positionSide": "LONG" if is_buy == opening else "SHORT"}
        if action == PositionAction.CLOSE:
            return {"reduceOnly": "true"}
        return {}

    def parse_place_order(self, data: _Any, order: _Any, timestamp: float) -> tuple:
        ts = int(data.get(self._ack_time_key) or 0) / 1000.0 or timestamp
        update = self._order_update(data, order, ts, creating=True)
        # a post-only (GTX) order that would take is expired at once: a rejection, not a cancel
        if (data.get("status") == "EXPIRED" and data.get("timeInForce") == "GTX"
                and _dec(data.get("executedQty"), _DZERO) == 0):
            update = OrderUpdate(trading_pair=update.trading_pair, update_timestamp=update.update_timestamp,
                                 new_state=OrderState.FAILED, client_order_id=update.client_order_id,
                                 exchange_order_id=update.exchange_order_id, executed_amount_base=_DZERO,
                                 error_message="post-only order would have taken liquidity (expired)")
        return update, []

    # -- user stream --

    def parse_user_stream(self, raw: _Union[str, bytes]) -> list:
        msg = _loads(raw)
        if not isinstance(msg, dict):
            raise ValueError("user-stream frame is not an object")
        if isinstance(msg.get("data"), dict) and "stream" in msg:
            msg = msg["data"]
        kind = msg.get("e")
        if kind == "ORDER_TRADE_UPDATE":
            return self._parse_order_trade_update(msg)
        if kind == "ACCOUNT_UPDATE":
            return self._parse_account_update(msg)
        if kind == "listenKeyExpired":
            return [StreamExpired(kind)]
        return []

    def _parse_order_trade_update(self, msg: dict) -> list:
        o = msg["o"]
        state = _PERP_STATES.get(o["X"])
        if state is None:
            raise ValueError(f"unknown order status {o['X']!r}")
        pair = self.from_venue_symbol(o["s"])
        ts = int(o.get("T") or msg.get("T") or msg.get("E") or 0) / 1000.0
        client_id = o["c"]
        exchange_id = str(o["i"])
        out: list = []
        if o["x"] == "TRADE":
            qty, price = _dec(o["l"]), _dec(o["L"])
            fee = _fee(_dec(o.get("n"), _DZERO), o.get("N"), None, True, None)
            out.append(TradeUpdate(
                trade_id=str(o["t"]), client_order_id=client_id, exchange_order_id=exchange_id,
                trading_pair=pair, fill_timestamp=ts, fill_price=price, fill_base_amount=qty,
                fill_quote_amount=price * qty, fee=fee, is_taker=not o.get("m", False)))
        error = None
        if o["X"] == "EXPIRED" and o.get("f") == "GTX" and _dec(o.get("z"), _DZERO) == 0:
            state = OrderState.FAILED
            error = "post-only order would have taken liquidity (expired)"
        out.append(OrderUpdate(trading_pair=pair, update_timestamp=ts, new_state=state,
                               client_order_id=client_id, exchange_order_id=exchange_id,
                               executed_amount_base=_dec(o.get("z"), _DZERO), error_message=error))
        return out

    def _parse_account_update(self, msg: dict) -> list:
        a = msg["a"]
        ts = int(msg.get("T") or msg.get("E") or 0) / 1000.0
        out: list = []
        # wallet balance only: "cw" (cross wallet) is not the available balance, so the
        # available amount is left unknown and the engine re-reads it over REST
        entries = [BalanceEntry(b["a"], _dec(b["wb"]), None) for b in a.get("B", [])]
        if entries:
            out.append(BalanceUpdate(entries, ts))
        for p in a.get("P", []):
            out.append(self._position(p, ts, amount_key="pa", entry_key="ep", pnl_key="up"))
        if a.get("m") == "FUNDING_FEE":
            out.append(FundingHint(ts))
        return out

    def _position(self, p: dict, ts: float, amount_key: str, entry_key: str, pnl_key: str) -> PositionUpdate:
        amount = _dec(p[amount_key])
        side_text = p.get("ps", p.get("positionSide", "BOTH"))
        if side_text == "LONG":
            side = PositionSide.LONG
        elif side_text == "SHORT":
            side = PositionSide.SHORT
        else:
            side = PositionSide.LONG if amount >= 0 else PositionSide.SHORT
            side = getattr(PositionSide, "BOTH", side) if amount == 0 else side
        lev = p.get("leverage")
        return PositionUpdate(pair=self.from_venue_symbol(p.get("s", p.get("symbol"))), side=side, amount=amount,
                              entry_price=_dec(p.get(entry_key), _DZERO),
                              unrealized_pnl=_dec(p.get(pnl_key), _DZERO),
                              leverage=int(lev) if lev not in (None, "") else None, timestamp=ts)

    # -- perp account --

    def positions_request(self) -> VenueRequest:
        return VenueRequest("GET", "/fapi/v2/positionRisk", signed=True)

    def parse_positions(self, data: _Any) -> PositionsSnapshot:
        out = []
        for p in data:
            out.append(self._position(p, int(p.get("updateTime") or 0) / 1000.0, amount_key="positionAmt",
                                      entry_key="entryPrice", pnl_key="unRealizedProfit"))
        return PositionsSnapshot(out)

    def set_leverage_request(self, pair: str, leverage: int) -> VenueRequest:
        return VenueRequest("POST", "/fapi/v1/leverage",
                            {"symbol": self.to_venue_symbol(pair), "leverage": int(leverage)}, signed=True)

    def parse_set_leverage(self, data: _Any) -> int:
        return int(data["leverage"])

    def position_mode_request(self) -> VenueRequest:
        return VenueRequest("GET", "/fapi/v1/positionSide/dual", signed=True)

    def parse_position_mode(self, data: _Any) -> _Any:
        dual = data["dualSidePosition"]
        dual = dual if isinstance(dual, bool) else str(dual).lower() == "true"
        return PositionMode.HEDGE if dual else PositionMode.ONEWAY

    def set_position_mode_request(self, mode: _Any) -> VenueRequest:
        return VenueRequest("POST", "/fapi/v1/positionSide/dual",
                            {"dualSidePosition": "true" if mode == PositionMode.HEDGE else "false"}, signed=True)

    def funding_info_request(self, pair: str) -> VenueRequest:
        return VenueRequest("GET", "/fapi/v1/premiumIndex", {"symbol": self.to_venue_symbol(pair)})

    def parse_funding_info(self, data: _Any) -> _Any:
        return _make_funding_info(
            trading_pair=self.from_venue_symbol(data["symbol"]),
            index_price=_dec(data.get("indexPrice"), _DZERO),
            mark_price=_dec(data["markPrice"]),
            next_funding_utc_timestamp=int(data.get("nextFundingTime") or 0) / 1000.0,
            rate=_dec(data.get("lastFundingRate"), _DZERO),
        )

    def funding_payments_request(self, since_ms: int) -> VenueRequest:
        return VenueRequest("GET", "/fapi/v1/income",
                            {"incomeType": "FUNDING_FEE", "startTime": int(since_ms), "limit": 1000}, signed=True)

    def parse_funding_payments(self, data: _Any) -> list:
        out = []
        for item in data:
            if item.get("incomeType") != "FUNDING_FEE":
                continue
            out.append(FundingPayment(pair=self.from_venue_symbol(item["symbol"]), amount=_dec(item["income"]),
                                      asset=item.get("asset", ""), timestamp=int(item["time"]) / 1000.0,
                                      payment_id=str(item.get("tranId") or f"{item['symbol']}-{item['time']}")))
        return out


def _make_funding_info(**kwargs: _Any) -> _Any:
    return FundingInfo(**kwargs)


TRADING: dict = {
    "binance": BinanceSpotTrading,
    "binance_perpetual": BinancePerpetualTrading,
}
