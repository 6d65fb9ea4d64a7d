"""Binance spot trading translation (``/api/v3``): signing, requests, responses, user stream.

Everything here is pure: the connector engine (``hbconnect.connector``) performs the I/O.
The USDⓈ-M translation (``perpetual.py``) builds on this one.
"""
from __future__ import annotations

import itertools as _itertools
import logging as _logging
from decimal import Decimal as _D
from typing import Any as _Any, Optional as _Optional, Sequence as _Sequence, Union as _Union
from urllib.parse import quote_plus as _quote_plus

from hbconnect.connector.contract import (
    AccountSettings,
    BalanceDelta,
    BalanceEntry,
    BalanceUpdate,
    PreparedRequest,
    StreamExpired,
    StreamShape,
    VenueRequest,
)
from hbconnect.core import errors as _errors
from hbconnect.core.codecs import fast_loads as _loads
from hbconnect.core.credentials import Credentials
from hbconnect.core.in_flight_order import OrderUpdate, TradeUpdate
from hbconnect.core.trading_rule import TradingRule
from hbconnect.core.types import OrderState, OrderType, TradeType
from hbconnect.exchanges._instruments import InstrumentTable
from hbconnect.exchanges._trading import TradingTranslation, error_class, error_text, flat_fee, fmt_decimal
from hbconnect.exchanges._trading import form_encode, parse_decimal, retry_after_header
from hbconnect.exchanges.binance.instruments import instrument
from hbconnect.exchanges.binance.constants import (
    DEFAULT_BROKER_ID,
    DEFAULT_RECV_WINDOW_MS,
    ERROR_CODES,
    MAX_CLIENT_ORDER_ID_LENGTH,
    PERP_GET_POSITION_MODE,
    PERP_ALL_PRICES,
    PERP_CANCEL_ORDER,
    PERP_GET_ORDER,
    SPOT_ALL_PRICES,
    SPOT_BUDGET_IDS,
    SPOT_CANCEL_ORDER,
    SPOT_FIRST_FILL_RELEASES,
    SPOT_GET_ORDER,
    SPOT_REST_URL,
    SPOT_WS_API_PATH,
    SPOT_WS_API_URL,
    SPOT_WS_URL,
    spot_rate_limits,
)
from hbconnect.exchanges.binance.ws_api import BinanceWsOrderEntry

_tlog = _logging.getLogger(__name__)
_DZERO = _D(0)


def binance_error(status: int, data: _Any, headers: _Any = None, venue: str = "binance") -> Exception:
    """The exception for a non-2xx Binance response (``data``: parsed JSON body or raw text)."""
    code: _Optional[int] = None
    if isinstance(data, dict):
        try:
            code = int(data.get("code"))
        except (TypeError, ValueError):
            code = None
        msg = str(data.get("msg", ""))[:300]
    else:
        msg = error_text(data)
    lower = msg.lower()
    if status in (418, 429) or code in (-1003, -1015):
        return _errors.RateLimitError(code, msg, retry_after=retry_after_header(headers), http_status=status,
                                      venue=venue)
    if code == -2010 and ("insufficient" in lower or "balance" in lower):
        name = "InsufficientBalance"
    elif code in ERROR_CODES:
        name = ERROR_CODES[code][0]
    elif status >= 500:
        name = "ServiceUnavailable"
    else:
        name = "ExchangeError"
    return error_class(name)(code, msg, http_status=status, venue=venue)


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

class BinanceSpotTrading(BinanceWsOrderEntry, TradingTranslation):
    """Binance spot trading translation (``/api/v3``). One object per account.

    Credentials: a :class:`Credentials` (``credentials=``), or ``api_key``/``api_secret`` and an
    optional Ed25519 ``private_key_pem`` (then requests are signed with the key, not HMAC).

    Orders go over the WebSocket API (``ws_api_url``; :mod:`.ws_api`) when the engine uses
    WebSocket order entry, REST otherwise. ``ws_api_url`` defaults to Binance's; a venue given a
    non-default ``ws_url`` (a local or test server) serves it on that host.
    """

    name = "binance"
    is_perpetual = False
    max_client_order_id_length = MAX_CLIENT_ORDER_ID_LENGTH
    user_stream_shape = StreamShape.TOKEN
    user_stream_ping: _Optional[str] = None  # Binance pings; the socket answers with pongs
    user_stream_ping_interval = 0.0
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
    _cancel_limit_id = SPOT_CANCEL_ORDER        # cancels: request weight, no order count
    _budget_ids: dict = SPOT_BUDGET_IDS
    #: limit ids an order's first fill gives one back to (the venue's unfilled-order count)
    first_fill_releases: tuple = SPOT_FIRST_FILL_RELEASES
    _ws_api_path = SPOT_WS_API_PATH
    #: the user-data events ride the order socket (``userDataStream.subscribe``); the listen-key
    #: stream is the fallback
    ws_user_stream = True

    def __init__(self, api_key: str = "", api_secret: _Union[str, bytes, None] = "", *,
                 rest_url: _Optional[str] = None, ws_url: _Optional[str] = None,
                 broker_id: str = DEFAULT_BROKER_ID, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
                 private_key_pem: _Optional[bytes] = None, rate_limits: _Optional[list] = None,
                 credentials: _Optional[Credentials] = None, ws_api_url: _Optional[str] = None) -> None:
        self.credentials = credentials if credentials is not None else Credentials(
            api_key, api_secret, private_key_pem=private_key_pem)
        self.rest_url = (rest_url or self._default_rest()).rstrip("/")
        self.ws_url = (ws_url or self._default_ws()).rstrip("/")
        if ws_api_url is None and ws_url is not None and self.ws_url != self._default_ws():
            ws_api_url = self.ws_url + self._ws_api_path
        self.ws_api_url = (ws_api_url or self._default_ws_api()).rstrip("/")
        #: throttler limit ids of WebSocket creates and cancels (shared with REST: same budgets)
        self.ws_place_limit_id = self._order_path
        self.ws_cancel_limit_id = self._cancel_limit_id
        self.broker_id = broker_id
        self.recv_window_ms = int(recv_window_ms)
        #: a signed request is refused after recvWindow; one more second covers clock offset
        self.order_not_accepted_after = self.recv_window_ms / 1000.0 + 1.0
        self.rate_limits = rate_limits if rate_limits is not None else self._default_limits()
        self.instruments = InstrumentTable(self.name)
        self._nonce = _itertools.count(1)
        self._id_heads: dict = {}

    def _default_rest(self) -> str:
        return SPOT_REST_URL

    def _default_ws(self) -> str:
        return SPOT_WS_URL

    def _default_ws_api(self) -> str:
        return SPOT_WS_API_URL

    def _default_limits(self) -> list:
        return spot_rate_limits()

    # -- identity, symbols --

    def new_client_order_id(self, is_buy: bool, pair: str) -> str:
        """``<broker><B|S><base[:4]><quote[:4]><time+counter hex>``, at most 36 characters."""
        nonce = self._id_nonce()
        head = self._id_heads.get((is_buy, pair))
        if head is None:
            base, _, quote = pair.partition("-")
            head = f"{self.broker_id}{'B' if is_buy else 'S'}{base[:4]}{quote[:4]}"
            head = "".join(ch for ch in head if ch.isalnum() or ch in "-_")
            self._id_heads[(is_buy, pair)] = head
        return head[:self.max_client_order_id_length - len(nonce)] + nonce

    # -- signing --

    def prepare(self, request: VenueRequest, timestamp_ms: int) -> PreparedRequest:
        """Sign and lay out ``request``: GET/DELETE parameters in the query string, POST/PUT in a
        form body. The signature is HMAC-SHA256 (hex) or Ed25519 (base64) of the url-encoded
        parameters including ``recvWindow`` and ``timestamp``; it is sent last."""
        params = {k: v if type(v) is str else fmt_decimal(v) for k, v in request.params.items() if v is not None}
        headers: dict = {}
        payload: _Optional[str] = None
        if request.signed:
            params["recvWindow"] = str(self.recv_window_ms)
            params["timestamp"] = str(int(timestamp_ms))
            payload = form_encode(params)
            creds = self.credentials
            if creds.has_private_key:  # Ed25519: base64 (+, /, =), quoted in the payload
                signature = creds.private_key_sign_base64(payload)
                payload += "&signature=" + _quote_plus(signature)
            else:  # HMAC-SHA256: hex, nothing to quote
                signature = creds.hmac_sha256_hex(payload)
                payload += "&signature=" + signature
            params["signature"] = signature
            headers["X-MBX-APIKEY"] = creds.api_key
        elif request.api_key:
            headers["X-MBX-APIKEY"] = self.credentials.api_key
        method = request.method.upper()
        query: _Optional[dict] = params or None
        body: _Optional[str] = None
        if method in ("POST", "PUT") and params:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            query, body = None, payload if payload is not None else form_encode(params)
        limit_id = request.limit_id
        if method == "GET" and request.path == "/api/v3/order":
            limit_id = SPOT_GET_ORDER
        elif method == "DELETE" and request.path == "/api/v3/order":
            limit_id = SPOT_CANCEL_ORDER
        elif method == "DELETE" and request.path == "/fapi/v1/order":
            limit_id = PERP_CANCEL_ORDER
        elif method == "GET" and request.path == "/fapi/v1/order":
            limit_id = PERP_GET_ORDER
        elif request.path.endswith("/ticker/price") and "symbol" not in params:
            limit_id = PERP_ALL_PRICES if self.is_perpetual else SPOT_ALL_PRICES
        elif method == "GET" and request.path == "/fapi/v1/positionSide/dual":
            limit_id = PERP_GET_POSITION_MODE
        return PreparedRequest(method, self.rest_url + request.path, query, body, headers, limit_id,
                               request.idempotent, int(timestamp_ms))

    # -- errors --

    def check_response(self, status: int, data: _Any, headers: _Any = None) -> _Optional[Exception]:
        """Binance answers every error with a non-2xx status; a 2xx answer is a success."""
        if 200 <= status < 300:
            return None
        return binance_error(status, data, headers, venue=self.name)

    def _error_of(self, status: int, data: _Any, headers: _Any = None) -> Exception:
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
        """exchangeInfo -> TradingRule list; the listed symbols become the instrument table. A
        malformed symbol entry is skipped and logged."""
        rules = []
        listed = []
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
            listed.append(instrument(entry, rule))
            rules.append(rule)
        self.instruments.load(listed)
        return rules

    def _is_tradable(self, entry: dict) -> bool:
        return entry.get("status") == "TRADING"

    def _rule_from_filters(self, pair: str, entry: dict) -> TradingRule:
        filters = {f["filterType"]: f for f in entry["filters"]}
        price = filters["PRICE_FILTER"]
        lot = filters["LOT_SIZE"]
        notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
        tick = parse_decimal(price["tickSize"])
        step = parse_decimal(lot["stepSize"])
        if tick <= 0 or step <= 0:
            raise ValueError("tickSize and stepSize must be positive")
        max_qty = parse_decimal(lot.get("maxQty"), _DZERO)
        max_price = parse_decimal(price.get("maxPrice"), _DZERO)
        max_notional = parse_decimal(notional.get("maxNotional"), _DZERO)
        order_types = entry.get("orderTypes") or ["LIMIT", "MARKET"]
        base, quote = pair.split("-")
        return TradingRule(
            trading_pair=pair,
            min_order_size=parse_decimal(lot["minQty"]),
            max_order_size=max_qty if max_qty > 0 else None,
            min_price_increment=tick,
            min_base_amount_increment=step,
            min_notional_size=parse_decimal(notional.get("minNotional", notional.get("notional")), _DZERO),
            max_notional_size=max_notional if max_notional > 0 else None,
            min_price=parse_decimal(price.get("minPrice"), _DZERO),
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
            free, locked = parse_decimal(b["free"]), parse_decimal(b["locked"])
            entries.append(BalanceEntry(b["asset"], free + locked, free))
        return BalanceUpdate(entries, int(data.get("updateTime") or 0) / 1000.0, complete=True)

    def last_prices_request(self, pairs: _Sequence[str]) -> VenueRequest:
        if len(pairs) == 1:
            return VenueRequest("GET", f"{self._prefix}/ticker/price", {"symbol": self.to_venue_symbol(pairs[0])})
        return VenueRequest("GET", f"{self._prefix}/ticker/price")

    def parse_last_prices(self, data: _Any, pairs: _Sequence[str]) -> dict:
        items = data if isinstance(data, list) else [data]
        wanted = {self.to_venue_symbol(p): p for p in pairs}
        out = {}
        for item in items:
            pair = wanted.get(item["symbol"])
            if pair is not None:
                out[pair] = parse_decimal(item["price"])
        return out

    # -- orders --

    def _order_type_params(self, order: _Any) -> dict:
        if order.order_type == OrderType.MARKET:
            return {"type": "MARKET"}
        if order.order_type == OrderType.LIMIT_MAKER:
            return {**self._post_only_params, "price": order.price}
        return {"type": "LIMIT", "timeInForce": "GTC", "price": order.price}

    def _position_params(self, order: _Any, account: AccountSettings) -> dict:
        """Extra order parameters for the position side (none on spot)."""
        return {}

    def place_order_request(self, order: _Any, account: AccountSettings) -> VenueRequest:
        params = {
            "symbol": self.to_venue_symbol(order.trading_pair),
            "side": "BUY" if order.trade_type == TradeType.BUY else "SELL",
            "quantity": order.amount,
            "newClientOrderId": order.client_order_id,
            "newOrderRespType": self._new_order_resp_type,
        }
        params.update(self._order_type_params(order))
        params.update(self._position_params(order, account))
        return VenueRequest("POST", self._order_path, params, signed=True, idempotent=False)

    def parse_place_order(self, data: _Any, order: _Any, timestamp: float) -> tuple:
        """POST order response -> (OrderUpdate, [TradeUpdate]) (FULL responses carry fills)."""
        ts = int(data.get(self._ack_time_key) or 0) / 1000.0 or timestamp
        update = self._order_update(data, order, ts, creating=True)
        fills = []
        for f in data.get("fills") or []:
            fills.append(self._trade_update(order, str(data["orderId"]), str(f["tradeId"]), parse_decimal(f["price"]),
                                            parse_decimal(f["qty"]), parse_decimal(f["commission"]), f.get("commissionAsset"),
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
            out.append(self._trade_update(order, str(t["orderId"]), str(t["id"]), parse_decimal(t["price"]), parse_decimal(t["qty"]),
                                          parse_decimal(t["commission"]), t.get("commissionAsset"),
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
            executed_amount_base=parse_decimal(data.get("executedQty"), _DZERO) if "executedQty" in data else None,
            error_message=f"venue status {status}" if state is OrderState.FAILED else None,
        )

    def _trade_update(self, order: _Any, exchange_order_id: str, trade_id: str, price: _D, qty: _D,
                      commission: _D, commission_asset: _Optional[str], ts: float, is_taker: bool) -> TradeUpdate:
        fee = flat_fee(commission, commission_asset, order.trade_type, self.is_perpetual,
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

    def stream_token_request(self) -> VenueRequest:
        return VenueRequest("POST", self._listen_key_path, api_key=True)

    def parse_stream_token(self, data: _Any) -> str:
        key = data["listenKey"]
        if not isinstance(key, str) or not key:
            raise ValueError("empty listenKey")
        return key

    def stream_token_keepalive_request(self, listen_key: str) -> VenueRequest:
        return VenueRequest("PUT", self._listen_key_path, {"listenKey": listen_key}, api_key=True)

    def user_stream_url(self, token: _Optional[str]) -> str:
        return f"{self.ws_url}/ws/{token}"

    def user_stream_subscriptions(self, timestamp_ms: int) -> list:
        return []  # the listen key in the URL is the subscription

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
        return self.user_stream_events(msg)

    def user_stream_events(self, msg: dict) -> list:
        """One user-data event (the object with ``"e"``) -> its translated events."""
        kind = msg.get("e")
        if kind == "executionReport":
            return self._parse_execution_report(msg)
        if kind == "outboundAccountPosition":
            entries = []
            for b in msg["B"]:
                free, locked = parse_decimal(b["f"]), parse_decimal(b["l"])
                entries.append(BalanceEntry(b["a"], free + locked, free))
            return [BalanceUpdate(entries, int(msg.get("u") or msg.get("E") or 0) / 1000.0)]
        if kind == "balanceUpdate":
            return [BalanceDelta(msg["a"], parse_decimal(msg["d"]), int(msg.get("E") or 0) / 1000.0)]
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
            qty = parse_decimal(m["l"])
            price = parse_decimal(m["L"])
            fee = flat_fee(parse_decimal(m.get("n"), _DZERO), m.get("N"), TradeType.BUY if m["S"] == "BUY" else TradeType.SELL,
                       False, None)
            out.append(TradeUpdate(
                trade_id=str(m["t"]), client_order_id=client_id, exchange_order_id=exchange_id,
                trading_pair=pair, fill_timestamp=ts, fill_price=price, fill_base_amount=qty,
                fill_quote_amount=price * qty, fee=fee, is_taker=not m.get("m", False)))
        out.append(OrderUpdate(trading_pair=pair, update_timestamp=ts, new_state=state,
                               client_order_id=client_id, exchange_order_id=exchange_id,
                               executed_amount_base=parse_decimal(m.get("z"), _DZERO),
                               error_message=(m.get("r") or "rejected") if state is OrderState.FAILED else None))
        return out
