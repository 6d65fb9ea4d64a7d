"""Bybit v5 spot trading translation (Unified Trading Account): pure, no I/O.

Facts from Bybit's v5 docs (``bybit-exchange/docs`` ``docs/v5``):

* Signing ("Integration Guidance"): the string ``timestamp + api_key + recv_window + payload``,
  ``payload`` being the query string as sent (GET) or the JSON body as sent (POST), signed with
  HMAC-SHA256 and written as lowercase hex in ``X-BAPI-SIGN``, next to ``X-BAPI-API-KEY``,
  ``X-BAPI-TIMESTAMP`` and ``X-BAPI-RECV-WINDOW``.
* Every answer is ``{"retCode", "retMsg", "result", "retExtInfo", "time"}``; a business error is an
  HTTP 200 with ``retCode != 0`` (:meth:`BybitSpotTrading.error_from_body`).
* Orders ("Place Order"): ``orderType`` ``Limit`` / ``Market``, ``timeInForce`` ``GTC`` or
  ``PostOnly`` (a post-only order that would take is cancelled with ``rejectReason``
  ``EC_PostOnlyWillTakeLiquidity``); spot market orders are sent with ``marketUnit=baseCoin`` so
  ``qty`` is the base amount (a spot market buy is otherwise in the quote coin). The place and
  cancel answers only acknowledge (``orderId`` / ``orderLinkId``): the state comes from the order
  stream or ``/v5/order/realtime``.
* Fees: ``execFee`` in ``feeCurrency``; when a payload leaves ``feeCurrency`` empty the spot rule
  of "Spot Fee Currency Instruction" applies (fee > 0: buy pays in base, sell in quote; a
  negative maker fee is a rebate in the other coin); linear fees are in the settle coin.
* Private stream ("Connect"): ``{"op": "auth", "args": [api_key, expires, signature]}`` where the
  signature is HMAC-SHA256 hex of ``"GET/realtime" + expires``; then ``subscribe`` to ``order``,
  ``execution``, ``wallet`` (and ``position`` for derivatives); ``{"op": "ping"}`` every 20 s.
* WebSocket order entry ("Websocket Trade Guideline"): the same ``auth``, then ``{"reqId",
  "header": {"X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW"}, "op": "order.create" | "order.cancel",
  "args": [<REST body>]}``; the answer carries ``reqId``, ``retCode``, ``retMsg`` and ``data``
  (the REST ``result``).
"""
from __future__ import annotations

import itertools
import json
import logging
import time
from collections import deque
from decimal import Decimal
from typing import Any, Optional, Sequence, Union
from urllib.parse import quote

from hbconnect.connector.contract import (
    AccountSettings,
    BalanceEntry,
    BalanceUpdate,
    FundingHint,
    PreparedRequest,
    StreamShape,
    VenueRequest,
    WsOrderReply,
)
from hbconnect.core import errors as _errors
from hbconnect.core.codecs import fast_loads
from hbconnect.core.credentials import Credentials
from hbconnect.core.in_flight_order import OrderUpdate, TradeUpdate
from hbconnect.core.trading_rule import TradingRule
from hbconnect.core.types import OrderState, OrderType, TradeType
from hbconnect.exchanges._instruments import InstrumentTable
from hbconnect.exchanges._trading import ZERO, error_class, flat_fee, fmt_decimal, parse_decimal
from hbconnect.exchanges.bybit import constants as K
from hbconnect.exchanges.bybit.instruments import instrument

logger = logging.getLogger(__name__)

#: orderStatus (enum "orderStatus") -> engine state
ORDER_STATES: dict = {
    "New": OrderState.OPEN,
    "PartiallyFilled": OrderState.PARTIALLY_FILLED,
    "Untriggered": OrderState.OPEN,
    "Triggered": OrderState.OPEN,
    "Filled": OrderState.FILLED,
    "Cancelled": OrderState.CANCELED,
    "PartiallyFilledCanceled": OrderState.CANCELED,
    "Deactivated": OrderState.CANCELED,
    "Rejected": OrderState.FAILED,
}
#: rejectReason of a post-only order that would have taken liquidity
POST_ONLY_REJECT = "EC_PostOnlyWillTakeLiquidity"
#: execType values that are fills of the account's orders (Funding is not a fill)
FILL_EXEC_TYPES = frozenset({"Trade", "AdlTrade", "BustTrade", "BlockTrade", "MovePosition", "Delivery",
                             "Settle"})


def ms(value: Any) -> float:
    """Bybit's millisecond timestamp (string or int) in seconds; 0.0 when absent."""
    if value in (None, ""):
        return 0.0
    return int(value) / 1000.0


def sign_payload(timestamp_ms: int, api_key: str, recv_window_ms: int, payload: str) -> str:
    """The string Bybit signs: ``timestamp + api_key + recv_window + payload``."""
    return f"{int(timestamp_ms)}{api_key}{int(recv_window_ms)}{payload}"


def query_string(params: dict) -> str:
    """``k=v&...`` in insertion order (the exact text that is sent and signed)."""
    return "&".join(f"{quote(str(k), safe='')}={quote(v, safe='-_.~')}" for k, v in params.items())


def result_of(data: Any) -> Any:
    """The ``result`` of a Bybit envelope (the WebSocket trade stream names it ``data``)."""
    if not isinstance(data, dict):
        raise ValueError("Bybit answer is not an object")
    if "result" in data:
        return data["result"]
    return data.get("data")


def result_list(data: Any) -> list:
    res = result_of(data)
    items = res.get("list") if isinstance(res, dict) else None
    if not isinstance(items, list):
        raise ValueError("Bybit answer has no result.list")
    return items


def ret_code(data: Any) -> Optional[int]:
    """``retCode`` of an envelope (``ret_code`` on the private stream's control frames)."""
    if not isinstance(data, dict):
        return None
    raw = data.get("retCode", data.get("ret_code"))
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def bybit_error(status: int, data: Any, headers: Any = None, venue: str = "bybit") -> Exception:
    """The exception for a Bybit answer: a ``retCode != 0`` body (HTTP 200 included) or a non-2xx
    status (403: IP limit, 429: system protection, 401: authentication, 5xx: unavailable)."""
    code = ret_code(data)
    msg = ""
    if isinstance(data, dict):
        msg = str(data.get("retMsg", data.get("ret_msg", "")))[:300]
    elif isinstance(data, (bytes, bytearray)):
        msg = bytes(data[:300]).decode("utf-8", "replace")
    elif data is not None:
        msg = str(data)[:300]
    if code in K.RATE_LIMIT_CODES or status in (403, 429):
        retry_after = None
        if headers is not None:
            try:
                reset = headers.get("X-Bapi-Limit-Reset-Timestamp")
                now = headers.get("Timenow") or headers.get("X-Bapi-Timenow")
                if reset is not None and now is not None:
                    retry_after = max(0.0, (int(reset) - int(now)) / 1000.0)
            except (TypeError, ValueError, AttributeError):
                retry_after = None
        if status == 403 and retry_after is None:
            retry_after = 600.0  # "wait for at least 10 minutes" after an IP-limit 403
        return _errors.RateLimitError(code, msg, retry_after=retry_after, http_status=status, venue=venue)
    if code is not None and code in K.ERROR_CODES:
        cls = error_class(K.ERROR_CODES[code][0])
    elif status == 401:
        cls = _errors.AuthenticationError
    elif status >= 500:  # a gateway error: the request may have been acted on
        cls = _errors.OutcomeUnknown
    else:
        cls = _errors.ExchangeError
    return cls(code, msg, http_status=status, venue=venue)


class BybitSpotTrading:
    """Bybit v5 spot trading translation (``category=spot``). One object per account.

    Credentials: a :class:`Credentials` (``credentials=``), or ``api_key``/``api_secret`` and an
    optional RSA ``private_key_pem`` (Bybit's self-generated keys: requests are then signed with
    RSA-SHA256, base64, instead of HMAC-SHA256 hex).
    """

    name = "bybit"
    category = "spot"
    is_perpetual = False
    max_client_order_id_length = K.MAX_ORDER_LINK_ID_LENGTH
    user_stream_shape = StreamShape.LOGIN
    user_stream_ping: Optional[str] = '{"op":"ping"}'
    user_stream_ping_interval = K.PING_INTERVAL
    ws_order_entry = True
    #: "The account rate limit is shared between websocket and http": a WebSocket create/cancel
    #: counts on the REST endpoint's budget
    ws_place_limit_id = K.WS_OPS["order.create"]
    ws_cancel_limit_id = K.WS_OPS["order.cancel"]

    def __init__(self, api_key: str = "", api_secret: Union[str, bytes, None] = "", *,
                 rest_url: Optional[str] = None, ws_url: Optional[str] = None,
                 trade_ws_url: Optional[str] = None, recv_window_ms: int = K.DEFAULT_RECV_WINDOW_MS,
                 broker_id: str = "HBC", rate_limits: Optional[list] = None,
                 private_key_pem: Optional[bytes] = None, credentials: Optional[Credentials] = None) -> None:
        self.credentials = credentials if credentials is not None else Credentials(
            api_key, api_secret, private_key_pem=private_key_pem)
        self.rest_url = (rest_url or K.REST_URL).rstrip("/")
        self.ws_url = (ws_url or K.PRIVATE_WS_URL).rstrip("/")
        self.trade_ws_url = (trade_ws_url or K.TRADE_WS_URL).rstrip("/")
        self.recv_window_ms = int(recv_window_ms)
        #: "server_time - recv_window <= timestamp < server_time + 1000": a request is refused
        #: once its recv window passed; one more second covers the clock offset
        self.order_not_accepted_after = self.recv_window_ms / 1000.0 + 1.0
        self.broker_id = "".join(ch for ch in broker_id if ch.isalnum())[:8]
        self.rate_limits = rate_limits if rate_limits is not None else K.rate_limits(self.category)
        self.instruments = InstrumentTable(self.name)
        self._settle: dict = {}  # symbol -> settle coin (derivatives)
        self._nonce = itertools.count(1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rest_url={self.rest_url!r})"

    # ---- identity, symbols ----

    def supported_order_types(self) -> list:
        return [OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.MARKET]

    def new_client_order_id(self, is_buy: bool, pair: str) -> str:
        """``<broker><B|S><base[:4]><quote[:4]><time+counter hex>``: at most 36 characters of
        ``[A-Za-z0-9_-]`` (the ``orderLinkId`` rule)."""
        nonce = f"{time.time_ns() // 1000:x}{next(self._nonce) & 0xFFFF:04x}"
        base, _, quote_ = pair.partition("-")
        head = "".join(ch for ch in f"{self.broker_id}{'B' if is_buy else 'S'}{base[:4]}{quote_[:4]}"
                       if ch.isalnum())
        return head[:self.max_client_order_id_length - len(nonce)] + nonce

    def to_venue_symbol(self, pair: str) -> str:
        return self.instruments.symbol(pair)

    def from_venue_symbol(self, symbol: str) -> str:
        """The pair of a listed (or asked-for) symbol; ``UnknownSymbol`` (a ``ValueError``) else."""
        return self.instruments.pair(symbol)

    # ---- signing ----

    def _sign(self, payload: str) -> str:
        creds = self.credentials
        if creds.has_private_key:  # RSA keys: base64 RSA-SHA256
            return creds.private_key_sign_base64(payload)
        return creds.hmac_sha256_hex(payload)

    def prepare(self, request: VenueRequest, timestamp_ms: int) -> PreparedRequest:
        """Lay out and sign ``request``: GET parameters in the query string, POST as a JSON body;
        the signature covers the exact text sent."""
        method = request.method.upper()
        params = {k: v for k, v in request.params.items() if v is not None}
        headers: dict = {}
        body: Optional[str] = None
        url = self.rest_url + request.path
        if method == "GET":
            payload = query_string({k: fmt_decimal(v) for k, v in params.items()})
            if payload:
                url += "?" + payload
        else:
            body = payload = json.dumps({k: fmt_decimal(v) if isinstance(v, Decimal) else v
                                         for k, v in params.items()}, separators=(",", ":"))
            headers["Content-Type"] = "application/json"
        if request.signed:
            creds = self.credentials
            headers["X-BAPI-API-KEY"] = creds.api_key
            headers["X-BAPI-TIMESTAMP"] = str(int(timestamp_ms))
            headers["X-BAPI-RECV-WINDOW"] = str(self.recv_window_ms)
            headers["X-BAPI-SIGN-TYPE"] = K.SIGN_TYPE_HMAC
            headers["X-BAPI-SIGN"] = self._sign(sign_payload(timestamp_ms, creds.api_key, self.recv_window_ms,
                                                             payload))
        return PreparedRequest(method, url, None, body, headers, request.limit_id, request.idempotent,
                               int(timestamp_ms))

    # ---- errors ----

    def check_response(self, status: int, data: Any, headers: Any = None) -> Optional[Exception]:
        """Bybit answers business errors with HTTP 200 and ``retCode != 0``: those fail at once
        with the code. "Not modified" codes (leverage, position or margin mode already as asked)
        are successes."""
        code = ret_code(data)
        if 200 <= status < 300:
            if code == 0 or code in K.NO_CHANGE_CODES:
                return None
            if code is None:
                return bybit_error(status, {"retMsg": "answer is not a Bybit envelope"}, headers, venue=self.name)
        return bybit_error(status, data, headers, venue=self.name)

    def is_no_change(self, error: Exception) -> bool:
        return getattr(error, "code", None) in K.NO_CHANGE_CODES

    def is_order_not_found(self, error: Exception) -> bool:
        return getattr(error, "code", None) in K.ORDER_NOT_FOUND_CODES

    # ---- server time, rules, balances, prices ----

    def server_time_request(self) -> VenueRequest:
        return VenueRequest("GET", "/v5/market/time")

    def parse_server_time(self, data: Any) -> float:
        res = result_of(data)
        if isinstance(res, dict) and res.get("timeNano"):
            return int(res["timeNano"]) / 1e9
        if isinstance(res, dict) and res.get("timeSecond"):
            return float(int(res["timeSecond"]))
        return ms(data["time"])

    def trading_rules_request(self) -> VenueRequest:
        params: dict = {"category": self.category}
        if self.category != "spot":  # "Spot does not support pagination"
            params["limit"] = K.INSTRUMENTS_PAGE
        return VenueRequest("GET", "/v5/market/instruments-info", params)

    def parse_trading_rules(self, data: Any) -> list:
        """instruments-info -> TradingRule list; the listed symbols become the instrument table.
        A malformed entry is logged and skipped."""
        rules, listed = [], []
        for entry in result_list(data):
            try:
                if not isinstance(entry, dict) or entry.get("status") != "Trading" or not self._is_tradable(entry):
                    continue
                pair = f"{entry['baseCoin']}-{entry['quoteCoin']}"
                rule = self._rule(pair, entry)
                listed.append(instrument(entry, rule))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                logger.warning("%s: skipping malformed instrument %r: %s", self.name,
                               entry.get("symbol") if isinstance(entry, dict) else entry, exc)
                continue
            if entry.get("settleCoin"):
                self._settle[entry["symbol"]] = entry["settleCoin"]
            rules.append(rule)
        self.instruments.load(listed)
        return rules

    def _is_tradable(self, entry: dict) -> bool:
        return True

    def _rule(self, pair: str, entry: dict) -> TradingRule:
        lot = entry["lotSizeFilter"]
        tick = parse_decimal(entry["priceFilter"]["tickSize"])
        step = parse_decimal(lot["basePrecision"])
        if tick <= 0 or step <= 0:
            raise ValueError("tickSize and basePrecision must be positive")
        max_qty = parse_decimal(lot.get("maxLimitOrderQty") or lot.get("maxOrderQty"), ZERO)
        base, quote_ = pair.split("-")
        return TradingRule(
            trading_pair=pair,
            # minOrderQty is "deprecated, no longer check minOrderQty, check minOrderAmt instead"
            min_order_size=step,
            max_order_size=max_qty if max_qty > 0 else None,
            min_price_increment=tick,
            min_base_amount_increment=step,
            min_notional_size=parse_decimal(lot.get("minOrderAmt"), ZERO),
            supports_limit_orders=True,
            supports_market_orders=True,
            buy_order_collateral_token=quote_,
            sell_order_collateral_token=base,
        )

    def balances_request(self) -> VenueRequest:
        return VenueRequest("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"}, signed=True)

    def parse_balances(self, data: Any) -> BalanceUpdate:
        entries = []
        for account in result_list(data):
            entries.extend(self._coin_entries(account))
        return BalanceUpdate(entries, ms(data.get("time")), complete=True)

    @staticmethod
    def _coin_entries(account: dict) -> list:
        """A UTA wallet's coins: total = walletBalance; available = walletBalance - locked (spot
        orders) - totalOrderIM - totalPositionIM ("Get Wallet Balance", isolated-margin formula;
        "" is zero)."""
        out = []
        for c in account.get("coin") or []:
            total = parse_decimal(c.get("walletBalance"), ZERO)
            held = (parse_decimal(c.get("locked"), ZERO) + parse_decimal(c.get("totalOrderIM"), ZERO)
                    + parse_decimal(c.get("totalPositionIM"), ZERO))
            out.append(BalanceEntry(c["coin"], total, max(ZERO, total - held)))
        return out

    def last_prices_request(self, pairs: Sequence[str]) -> VenueRequest:
        params: dict = {"category": self.category}
        if len(pairs) == 1:
            params["symbol"] = self.to_venue_symbol(pairs[0])
        return VenueRequest("GET", "/v5/market/tickers", params)

    def parse_last_prices(self, data: Any, pairs: Sequence[str]) -> dict:
        wanted = set(pairs)
        out = {}
        for item in result_list(data):
            ins = self.instruments.by_symbol(item.get("symbol"))
            if ins is not None and ins.pair in wanted and item.get("lastPrice"):
                out[ins.pair] = parse_decimal(item["lastPrice"])
        return out

    # ---- orders ----

    def order_params(self, order: Any, account: Optional[AccountSettings] = None) -> dict:
        """The ``/v5/order/create`` body (also the ``order.create`` argument)."""
        params: dict = {
            "category": self.category,
            "symbol": self.to_venue_symbol(order.trading_pair),
            "side": "Buy" if order.trade_type == TradeType.BUY else "Sell",
            "qty": fmt_decimal(order.amount),
            "orderLinkId": order.client_order_id,
        }
        if order.order_type == OrderType.MARKET:
            params["orderType"] = "Market"
            params.update(self._market_params())
        else:
            params["orderType"] = "Limit"
            params["price"] = fmt_decimal(order.price)
            params["timeInForce"] = "PostOnly" if order.order_type == OrderType.LIMIT_MAKER else "GTC"
        params.update(self._position_params(order, account or AccountSettings()))
        return params

    def _market_params(self) -> dict:
        return {"marketUnit": "baseCoin"}  # qty in the base coin for buys too

    def _position_params(self, order: Any, account: AccountSettings) -> dict:
        return {}

    def place_order_request(self, order: Any, account: Optional[AccountSettings] = None) -> VenueRequest:
        return VenueRequest("POST", "/v5/order/create", self.order_params(order, account), signed=True,
                            idempotent=False)

    def parse_place_order(self, data: Any, order: Any, timestamp: float) -> tuple:
        """The create acknowledgement: the order is accepted (OPEN); fills and later states come
        from the streams or status requests."""
        res = result_of(data)
        if not isinstance(res, dict) or not res.get("orderId"):
            raise ValueError("create acknowledgement without orderId")
        link = res.get("orderLinkId")
        if link and link != order.client_order_id:
            raise ValueError(f"acknowledgement for another order ({link!r})")
        ts = ms(data.get("time")) or timestamp
        return OrderUpdate(trading_pair=order.trading_pair, update_timestamp=ts, new_state=OrderState.OPEN,
                           client_order_id=order.client_order_id, exchange_order_id=str(res["orderId"])), []

    def cancel_params(self, order: Any) -> dict:
        return {"category": self.category, "symbol": self.to_venue_symbol(order.trading_pair),
                "orderLinkId": order.client_order_id}

    def cancel_order_request(self, order: Any) -> VenueRequest:
        return VenueRequest("POST", "/v5/order/cancel", self.cancel_params(order), signed=True)

    def parse_cancel_order(self, data: Any, order: Any, timestamp: float) -> OrderUpdate:
        """The cancel acknowledgement: the venue accepted the cancel request (PENDING_CANCEL);
        the order's final state (CANCELED, or FILLED when a fill won the race) follows."""
        res = result_of(data)
        if not isinstance(res, dict) or not (res.get("orderId") or res.get("orderLinkId")):
            raise ValueError("cancel acknowledgement without order id")
        return OrderUpdate(trading_pair=order.trading_pair, update_timestamp=ms(data.get("time")) or timestamp,
                           new_state=OrderState.PENDING_CANCEL, client_order_id=order.client_order_id,
                           exchange_order_id=str(res["orderId"]) if res.get("orderId") else None)

    def order_status_request(self, order: Any) -> VenueRequest:
        # realtime answers open orders and the most recent 500 closed ones by orderLinkId
        return VenueRequest("GET", "/v5/order/realtime", {
            "category": self.category, "symbol": self.to_venue_symbol(order.trading_pair),
            "orderLinkId": order.client_order_id}, signed=True)

    def parse_order_status(self, data: Any, order: Any, timestamp: float) -> OrderUpdate:
        """The order in a realtime/history list; an empty list means the venue does not know it
        (raised as :class:`OrderNotFound`, code None)."""
        for item in result_list(data):
            if item.get("orderLinkId") == order.client_order_id or (
                    order.exchange_order_id and item.get("orderId") == order.exchange_order_id):
                return self._order_update(item, order.trading_pair, timestamp)
        raise _errors.OrderNotFound(None, "order not found", venue=self.name)

    def order_fills_request(self, order: Any) -> VenueRequest:
        params = {"category": self.category, "symbol": self.to_venue_symbol(order.trading_pair),
                  "limit": K.EXECUTIONS_PAGE}
        if order.exchange_order_id:
            params["orderId"] = order.exchange_order_id
        else:
            params["orderLinkId"] = order.client_order_id
        return VenueRequest("GET", "/v5/execution/list", params, signed=True)

    def parse_order_fills(self, data: Any, order: Any) -> list:
        out = []
        for e in result_list(data):
            if e.get("execType", "Trade") not in FILL_EXEC_TYPES:
                continue
            if order.exchange_order_id and e.get("orderId") != order.exchange_order_id:
                continue
            out.append(self._trade_update(e, order.client_order_id, order.trading_pair))
        return out

    def _order_update(self, o: dict, pair: str, timestamp: float) -> OrderUpdate:
        status = o.get("orderStatus")
        state = ORDER_STATES.get(status)
        if state is None:
            raise ValueError(f"unknown orderStatus {status!r}")
        reason = o.get("rejectReason") or ""
        executed = parse_decimal(o.get("cumExecQty"), ZERO)
        error = None
        if state is OrderState.CANCELED and reason == POST_ONLY_REJECT and executed == 0:
            state = OrderState.FAILED  # a post-only order refused for taking: a rejection
            error = f"{POST_ONLY_REJECT}: post-only order would have taken liquidity"
        elif state is OrderState.FAILED:
            error = f"{status}: {reason or 'rejected'}"
        return OrderUpdate(trading_pair=pair, update_timestamp=ms(o.get("updatedTime")) or timestamp,
                           new_state=state, client_order_id=o.get("orderLinkId") or None,
                           exchange_order_id=str(o["orderId"]) if o.get("orderId") else None,
                           executed_amount_base=executed, error_message=error)

    def fee_asset(self, e: dict, pair: str) -> str:
        """The coin an execution's fee is paid in (``feeCurrency``, else the documented rule)."""
        if e.get("feeCurrency"):
            return e["feeCurrency"]
        base, _, quote_ = pair.partition("-")
        fee = parse_decimal(e.get("execFee"), ZERO)
        is_buy = e.get("side") == "Buy"
        if fee < 0 and e.get("isMaker"):
            return quote_ if is_buy else base
        return base if is_buy else quote_

    def _fee(self, e: dict, pair: str) -> Any:
        return flat_fee(parse_decimal(e.get("execFee"), ZERO), self.fee_asset(e, pair),
                        TradeType.BUY if e.get("side") == "Buy" else TradeType.SELL)

    def _trade_update(self, e: dict, client_order_id: Optional[str], pair: str) -> TradeUpdate:
        price, qty = parse_decimal(e["execPrice"]), parse_decimal(e["execQty"])
        value = parse_decimal(e.get("execValue"), price * qty)
        return TradeUpdate(trade_id=str(e["execId"]), client_order_id=client_order_id,
                           exchange_order_id=str(e["orderId"]), trading_pair=pair,
                           fill_timestamp=ms(e.get("execTime")), fill_price=price, fill_base_amount=qty,
                           fill_quote_amount=value, fee=self._fee(e, pair), is_taker=not e.get("isMaker", False))

    # ---- private stream (StreamShape.LOGIN) ----

    def user_stream_url(self, listen_key: Optional[str] = None) -> str:
        return self.ws_url

    def user_stream_login(self, timestamp_ms: int) -> str:
        """``auth``: the signature of ``"GET/realtime" + expires`` (expires in the future)."""
        expires = int(timestamp_ms) + K.WS_AUTH_EXPIRY_MS
        return json.dumps({"req_id": "auth", "op": "auth",
                           "args": [self.credentials.api_key, expires, self._sign(f"GET/realtime{expires}")]},
                          separators=(",", ":"))

    def parse_login_reply(self, raw: Union[str, bytes]) -> Optional[bool]:
        """True for an accepted ``auth`` (private stream: ``success``; trade stream: ``retCode``
        0); ``AuthenticationError`` when refused; None for another frame."""
        try:
            msg = fast_loads(raw)
        except (ValueError, TypeError):
            return None
        if not isinstance(msg, dict) or msg.get("op") != "auth":
            return None
        ok = msg.get("retCode") == 0 if "retCode" in msg else msg.get("success") is True
        if not ok:
            code = ret_code(msg)
            raise _errors.AuthenticationError(code, f"auth refused: {str(msg.get('retMsg', msg.get('ret_msg')))[:200]}",
                                              venue=self.name)
        return True

    def user_stream_topics(self) -> list:
        return ["order", "execution", "wallet"]

    def user_stream_subscriptions(self, timestamp_ms: int) -> list:
        return [json.dumps({"req_id": "subscribe", "op": "subscribe", "args": self.user_stream_topics()},
                           separators=(",", ":"))]

    def parse_user_stream(self, raw: Union[str, bytes]) -> list:
        """One private-stream frame -> [OrderUpdate | TradeUpdate | BalanceUpdate | ...]. Only this
        object's category is kept (the all-in-one topics carry every category)."""
        msg = fast_loads(raw)
        if not isinstance(msg, dict):
            raise ValueError("private-stream frame is not an object")
        topic = msg.get("topic")
        if topic is None:
            op = msg.get("op")
            if op in ("auth", "subscribe") and msg.get("success") is False:
                raise _errors.AuthenticationError(None, f"{op} refused: {str(msg.get('ret_msg'))[:200]}",
                                                  venue=self.name)
            return []  # pong, auth/subscribe acknowledgements
        data = msg.get("data")
        if not isinstance(data, list):
            raise ValueError(f"private-stream {str(topic)[:40]!r} frame without a data list")
        base = str(topic).split(".", 1)[0]
        if base == "order":
            return [self._order_update(o, self.from_venue_symbol(o["symbol"]), ms(msg.get("creationTime")))
                    for o in data if o.get("category") == self.category]
        if base == "execution":
            return self._executions(data, msg)
        if base == "wallet":
            entries = []
            for account in data:
                entries.extend(self._coin_entries(account))
            return [BalanceUpdate(entries, ms(msg.get("creationTime")))] if entries else []
        if base == "position":
            return self._positions_event(data, msg)
        return []

    def _executions(self, data: list, msg: dict) -> list:
        out: list = []
        for e in data:
            if e.get("category") != self.category:
                continue
            if e.get("execType") == "Funding":
                out.append(FundingHint(ms(e.get("execTime")) or ms(msg.get("creationTime"))))
            elif e.get("execType", "Trade") in FILL_EXEC_TYPES:
                out.append(self._trade_update(e, e.get("orderLinkId") or None, self.from_venue_symbol(e["symbol"])))
        return out

    def _positions_event(self, data: list, msg: dict) -> list:
        return []

    # ---- WebSocket order entry (trade stream) ----

    def ws_order_url(self) -> str:
        return self.trade_ws_url

    def ws_order_login(self, timestamp_ms: int) -> Optional[str]:
        return self.user_stream_login(timestamp_ms)

    def _ws_order_message(self, op: str, args: dict, request_id: str, timestamp_ms: int) -> str:
        if len(request_id) > K.MAX_REQ_ID_LENGTH:
            raise ValueError("reqId longer than 36 characters")
        return json.dumps({"reqId": request_id, "header": {"X-BAPI-TIMESTAMP": str(int(timestamp_ms)),
                                                           "X-BAPI-RECV-WINDOW": str(self.recv_window_ms)},
                           "op": op, "args": [args]}, separators=(",", ":"))

    def ws_place_order_message(self, order: Any, account: AccountSettings, request_id: str,
                               timestamp_ms: int) -> str:
        return self._ws_order_message("order.create", self.order_params(order, account), request_id, timestamp_ms)

    def ws_cancel_order_message(self, order: Any, request_id: str, timestamp_ms: int) -> str:
        return self._ws_order_message("order.cancel", self.cancel_params(order), request_id, timestamp_ms)

    def parse_ws_order_reply(self, raw: Union[str, bytes]) -> Optional[WsOrderReply]:
        """The answer to an ``order.create`` / ``order.cancel`` (``reqId``, ``retCode``, ``data``:
        the REST ``result``), or None for pongs and auth answers."""
        msg = fast_loads(raw)
        if not isinstance(msg, dict) or msg.get("op") not in K.WS_OPS:
            return None
        req_id = msg.get("reqId")
        if not isinstance(req_id, str):
            return None
        error = self.check_response(200, msg, msg.get("header"))
        return WsOrderReply(req_id, None if error is not None else msg, error)
