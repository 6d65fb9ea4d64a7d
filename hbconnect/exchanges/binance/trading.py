"""Binance spot trading translation (``/api/v3``): signing, requests, responses, user stream.

Everything here is pure: the connector engine (``hbconnect.connector``) performs the I/O.
The USDⓈ-M translation (``perpetual.py``) builds on this one.
"""
from __future__ import annotations

import base64 as _base64
import hashlib as _hashlib
import hmac as _hmac
import itertools as _itertools
import logging as _logging
import re as _re
import time as _time
from decimal import Decimal as _D, InvalidOperation as _InvalidOperation
from typing import Any as _Any, Optional as _Optional, Sequence as _Sequence, Union as _Union
from urllib.parse import quote_plus as _quote_plus

from hbconnect.connector.contract import (
    BalanceDelta,
    BalanceEntry,
    BalanceUpdate,
    PreparedRequest,
    StreamExpired,
    VenueRequest,
)
from hbconnect.core import errors as _errors
from hbconnect.core.codecs import fast_loads as _loads
from hbconnect.core.in_flight_order import OrderUpdate, TradeUpdate
from hbconnect.core.trading_rule import TradingRule
from hbconnect.core.types import OrderState, OrderType, PositionAction, TokenAmount, TradeFee, TradeType
from hbconnect.exchanges.binance.constants import (
    DEFAULT_BROKER_ID,
    DEFAULT_RECV_WINDOW_MS,
    ERROR_CODES,
    MAX_CLIENT_ORDER_ID_LENGTH,
    PERP_GET_POSITION_MODE,
    SPOT_GET_ORDER,
    SPOT_REST_URL,
    SPOT_WS_URL,
    spot_rate_limits,
)

_tlog = _logging.getLogger(__name__)
_DZERO = _D(0)


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
        text = str(value)
        if "E" in text:  # str() uses scientific notation for small/large exponents
            text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text or "0"
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
        return SPOT_REST_URL

    def _default_ws(self) -> str:
        return SPOT_WS_URL

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
