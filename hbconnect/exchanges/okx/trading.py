"""OKX v5 spot trading translation: signing, requests, parse_*, the private stream (WebSocket
login) and WebSocket order entry. Pure: the connector engine (hbconnect.connector) does the I/O.

Facts (OKX API v5 docs, https://www.okx.com/docs-v5/en/):

* REST signing: ``OK-ACCESS-SIGN`` = Base64(HMAC-SHA256(secret, timestamp + METHOD +
  requestPath + body)); the timestamp is ISO 8601 UTC with milliseconds (also sent as
  ``OK-ACCESS-TIMESTAMP``); GET parameters belong to the requestPath (``?a=b``); bodies are JSON;
  ``OK-ACCESS-KEY`` and ``OK-ACCESS-PASSPHRASE`` carry the key and passphrase.
* Answers: ``{"code", "msg", "data": [...]}``, HTTP 200 unless the gateway refuses the request
  first (401 authentication, 429 rate limit, 5xx). ``code`` "0" is success; an order operation
  reports per order in ``data[i].sCode``/``sMsg`` ("1": the operation failed, the ``sCode`` says
  why). So an order rejected in a 200 body is an error of the venue's ``sCode``.
* ``expTime`` (request header, or field of a WebSocket order message): "the request will not be
  processed if the current system time of the server is after the expTime": the order window.
* Private WebSocket (``/ws/v5/private``): ``op: login`` with ``sign`` = Base64(HMAC-SHA256(
  timestamp + "GET" + "/users/self/verify")), timestamp in seconds, valid 30 s; then subscribe
  ``orders`` / ``account`` (/ ``positions``); keep-alive is the text "ping" (answer "pong"),
  the server closes a connection silent for 30 s. Order entry on the same socket: ``op: order``
  / ``cancel-order`` with a client ``id`` (alphanumeric, up to 32).
"""
from __future__ import annotations

import itertools
import logging
import time
from decimal import Decimal
from typing import Any, Optional, Sequence, Union

from hbconnect.connector.contract import (
    AccountSettings,
    BalanceEntry,
    BalanceUpdate,
    PreparedRequest,
    StreamExpired,
    StreamShape,
    VenueRequest,
    WsOrderReply,
)
from hbconnect.core import errors
from hbconnect.core.codecs import fast_loads
from hbconnect.core.credentials import Credentials
from hbconnect.core.in_flight_order import OrderUpdate, TradeUpdate
from hbconnect.core.throttler import keyed_limit_id
from hbconnect.core.types import OrderState, OrderType, TradeFee, TradeType
from hbconnect.exchanges._common import dumps
from hbconnect.exchanges._trading import ZERO, TradingTranslation, error_for, error_text, flat_fee, fmt_decimal
from hbconnect.exchanges._trading import parse_decimal, retry_after_header
from hbconnect.exchanges.okx import constants as k
from hbconnect.exchanges.okx.instruments import new_table, parse_instruments

logger = logging.getLogger(__name__)

_STATES: dict = {
    "live": OrderState.OPEN,
    "partially_filled": OrderState.PARTIALLY_FILLED,
    "filled": OrderState.FILLED,
    "canceled": OrderState.CANCELED,
    "mmp_canceled": OrderState.CANCELED,
}
_ORD_TYPES = {OrderType.LIMIT: "limit", OrderType.LIMIT_MAKER: "post_only", OrderType.MARKET: "market"}
_PONG = ("pong", b"pong")


def iso_timestamp(timestamp_ms: int) -> str:
    """``OK-ACCESS-TIMESTAMP``: UTC, ISO 8601 with milliseconds, e.g. 2020-12-08T09:08:57.715Z."""
    ms = int(timestamp_ms)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def ms_to_seconds(value: Any) -> float:
    """OKX's millisecond timestamps (text) in seconds; 0.0 when absent."""
    return int(value) / 1000.0 if value not in (None, "") else 0.0


def rows(body: Any) -> list:
    """The ``data`` list of an OKX answer (``ValueError`` when there is none)."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ValueError("okx: answer without a data list")
    return body["data"]


def first_row(body: Any) -> dict:
    data = rows(body)
    if not data or not isinstance(data[0], dict):
        raise ValueError("okx: answer with an empty data list")
    return data[0]


def error_codes(data: Any) -> tuple:
    """``(code, message)`` of an OKX error body: the first failed item's ``sCode``/``sMsg`` when
    the operation reports per item, else the top-level ``code``/``msg``."""
    if isinstance(data, dict):
        code = data.get("code")
        code = str(code) if code not in (None, "") else None
        msg = str(data.get("msg") or "")[:300]
        items = data.get("data")
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict) and str(item.get("sCode", "0")) != "0":
                    return str(item.get("sCode"))[:20], str(item.get("sMsg") or "")[:300] or msg
        return code, msg
    return None, error_text(data)


def _control_frame(raw: Union[str, bytes]) -> Optional[dict]:
    """A private-socket frame as an object, None for a pong or anything not a JSON object."""
    if raw in _PONG:
        return None
    try:
        msg = fast_loads(raw)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) else None


def okx_error(status: int, code: Optional[str], msg: str, headers: Any, venue: str) -> Exception:
    """The exception an OKX error means (its class from ``constants.ERROR_CODES``)."""
    name = k.ERROR_CODES[code][0] if code in k.ERROR_CODES else ""
    if status == 429 or name == "RateLimitError":
        return errors.RateLimitError(code, msg, retry_after=retry_after_header(headers), http_status=status,
                                     venue=venue)
    return error_for(status, code, msg, venue, name)


class OkxSpotTrading(TradingTranslation):
    """OKX spot trading translation (``instType`` SPOT, ``tdMode`` cash). One per account."""

    name = "okx"
    is_perpetual = False
    inst_type = "SPOT"
    max_client_order_id_length = k.MAX_CLIENT_ORDER_ID_LENGTH
    user_stream_shape = StreamShape.LOGIN
    user_stream_ping: Optional[str] = "ping"
    user_stream_ping_interval = 20.0  # the server closes a connection silent for 30 s
    ws_order_entry = True
    #: "Rate limits are shared across the REST and WebSocket channels": these ids draw on the
    #: REST order budgets (constants.rate_limits)
    ws_place_limit_id = k.WS_ORDER
    ws_cancel_limit_id = k.WS_CANCEL
    _channels: tuple = ("orders", "account")

    def __init__(self, api_key: str = "", api_secret: str = "", passphrase: str = "", *,
                 credentials: Optional[Credentials] = None, rest_url: Optional[str] = None,
                 ws_url: Optional[str] = None, order_window_ms: int = 5000,
                 rate_limits: Optional[list] = None, client_id_prefix: str = "hbc") -> None:
        self.credentials = credentials if credentials is not None else Credentials(api_key, api_secret, passphrase)
        self.rest_url = (rest_url or k.REST_URL).rstrip("/")
        self.ws_url = (ws_url or k.PRIVATE_WS_URL).rstrip("/")
        if not 0 < int(order_window_ms) <= 60_000:
            raise ValueError("order_window_ms must be in (0, 60000]")
        self.order_window_ms = int(order_window_ms)
        #: OKX drops an order request arriving after its ``expTime``; 2 s more covers the time
        #: the answer (or the order's first push) takes to come back
        self.order_not_accepted_after = self.order_window_ms / 1000.0 + 2.0
        self.rate_limits = rate_limits if rate_limits is not None else k.rate_limits()
        if not (client_id_prefix.isascii() and client_id_prefix.isalnum()) or len(client_id_prefix) > 8:
            raise ValueError("client_id_prefix must be 1-8 ASCII letters or digits")
        #: the prefix of every client order id this library creates here
        self.broker_id = client_id_prefix
        self._nonce = itertools.count(1)
        self.instruments = new_table(self.name, self.inst_type)

    # -- identity, symbols --

    def new_client_order_id(self, is_buy: bool, pair: str) -> str:
        """``<prefix><b|s><microseconds hex><counter hex>``: ASCII letters and digits only,
        at most 32 characters (OKX's clOrdId rule)."""
        return f"{self.broker_id}{'b' if is_buy else 's'}{self._id_nonce()}"[: self.max_client_order_id_length]

    def knows(self, symbol: Any) -> bool:
        return isinstance(symbol, str) and self.instruments.by_symbol(symbol) is not None

    def to_size(self, pair: str, base_amount: Decimal) -> Decimal:
        """``sz`` on the wire for an amount in base currency (spot: the same)."""
        return base_amount

    def to_base(self, pair: str, size: Any) -> Decimal:
        """An amount in base currency for a size on the wire (spot: the same)."""
        return parse_decimal(size, ZERO)

    # -- signing --

    def prepare(self, request: VenueRequest, timestamp_ms: int) -> PreparedRequest:
        """Lay out and sign ``request``: GET parameters in the query string (part of the signed
        requestPath), others as a JSON body signed as sent. An order placement carries
        ``expTime`` = timestamp + order window, so OKX itself refuses it when it arrives late."""
        method = request.method.upper()
        params = {key: value if type(value) is str or type(value) is bool else fmt_decimal(value)
                  for key, value in request.params.items() if value is not None}
        path = request.path
        body = ""
        headers: dict = {}
        if method == "GET":
            if params:
                path += "?" + "&".join(f"{key}={value}" for key, value in params.items())
        else:
            body = dumps(params)
            headers["Content-Type"] = "application/json"
        if request.signed:
            ts = iso_timestamp(timestamp_ms)
            creds = self.credentials
            headers["OK-ACCESS-KEY"] = creds.api_key
            headers["OK-ACCESS-SIGN"] = creds.hmac_sha256_base64(ts + method + path + body)
            headers["OK-ACCESS-TIMESTAMP"] = ts
            headers["OK-ACCESS-PASSPHRASE"] = creds.passphrase
            if not request.idempotent and request.path == k.PLACE_ORDER:
                headers["expTime"] = str(int(timestamp_ms) + self.order_window_ms)
        limit_id = request.limit_id
        if method == "GET" and request.path == k.PLACE_ORDER:
            limit_id = k.GET_ORDER
        inst_id = params.get("instId")
        if limit_id in k.PER_INSTRUMENT and isinstance(inst_id, str) and self.knows(inst_id):
            limit_id = keyed_limit_id(limit_id, self.from_venue_symbol(inst_id))
        return PreparedRequest(method, self.rest_url + path, None, body or None, headers, limit_id,
                               request.idempotent, int(timestamp_ms))

    # -- errors --

    def check_response(self, status: int, data: Any, headers: Any = None) -> Optional[Exception]:
        """None for a success (2xx and ``code`` "0"); else the error: a rejected order in a
        200 body is the class of its ``sCode`` (``InsufficientBalance`` for 51008, ...)."""
        if 200 <= status < 300 and isinstance(data, dict) and str(data.get("code")) == "0":
            return None
        code, msg = error_codes(data)
        return okx_error(status, code, msg, headers, self.name)

    def is_order_not_found(self, error: Exception) -> bool:
        return str(getattr(error, "code", "")) in k.ORDER_NOT_FOUND_CODES

    def is_no_change(self, error: Exception) -> bool:
        return False  # OKX answers success when a setting is set to the value it has

    # -- server time, rules, balances, prices --

    def server_time_request(self) -> VenueRequest:
        return VenueRequest("GET", k.TIME)

    def parse_server_time(self, data: Any) -> float:
        return ms_to_seconds(first_row(data)["ts"])

    def trading_rules_request(self) -> VenueRequest:
        return VenueRequest("GET", k.INSTRUMENTS, {"instType": self.inst_type})

    def parse_trading_rules(self, data: Any) -> list:
        """The instruments answer loads the instrument table; its live instruments' rules (in
        base currency) are returned."""
        listed = parse_instruments(rows(data), self.inst_type)
        self.instruments.load(listed)
        return [ins.rule for ins in listed]

    def balances_request(self) -> VenueRequest:
        return VenueRequest("GET", k.BALANCE, signed=True)

    def parse_balances(self, data: Any) -> BalanceUpdate:
        """Trading-account balances: ``cashBal`` total, ``availBal`` available. OKX lists only
        currencies with a balance: the update is complete (absent = zero)."""
        account = first_row(data)
        return BalanceUpdate(self._balance_entries(account), ms_to_seconds(account.get("uTime")), complete=True)

    @staticmethod
    def _balance_entries(account: dict) -> list:
        out = []
        for d in account.get("details") or ():
            total = parse_decimal(d["cashBal"])
            out.append(BalanceEntry(d["ccy"], total, parse_decimal(d.get("availBal"), total)))
        return out

    def last_prices_request(self, pairs: Sequence[str]) -> VenueRequest:
        if len(pairs) == 1:
            return VenueRequest("GET", k.TICKER, {"instId": self.to_venue_symbol(pairs[0])})
        return VenueRequest("GET", k.TICKERS, {"instType": self.inst_type})

    def parse_last_prices(self, data: Any, pairs: Sequence[str]) -> dict:
        wanted = set(pairs)
        out = {}
        for item in rows(data):
            if not isinstance(item, dict) or not self.knows(item.get("instId")):
                continue
            pair = self.from_venue_symbol(item["instId"])
            if pair in wanted and item.get("last") not in (None, ""):
                out[pair] = parse_decimal(item["last"])
        return out

    # -- orders --

    def _order_args(self, order: Any, account: Optional[AccountSettings]) -> dict:
        """The fields of a place-order request (REST body or WebSocket ``args[0]``)."""
        args = {
            "instId": self.to_venue_symbol(order.trading_pair),
            "tdMode": self._td_mode(order.trading_pair, account),
            "clOrdId": order.client_order_id,
            "side": "buy" if order.trade_type is TradeType.BUY else "sell",
            "ordType": _ORD_TYPES[order.order_type],
            "sz": fmt_decimal(self.to_size(order.trading_pair, order.amount)),
        }
        if order.order_type is not OrderType.MARKET:
            args["px"] = fmt_decimal(order.price)
        args.update(self._position_args(order, account))
        return args

    def _td_mode(self, pair: str, account: Optional[AccountSettings]) -> str:
        return "cash"

    def _position_args(self, order: Any, account: Optional[AccountSettings]) -> dict:
        # a spot market order's sz is in quote currency for buys by default: say it is base
        return {"tgtCcy": "base_ccy"} if order.order_type is OrderType.MARKET else {}

    def place_order_request(self, order: Any, account: Optional[AccountSettings] = None) -> VenueRequest:
        return VenueRequest("POST", k.PLACE_ORDER, self._order_args(order, account), signed=True,
                            idempotent=False)

    def parse_place_order(self, data: Any, order: Any, timestamp: float) -> tuple:
        """Accepted (``sCode`` 0): OPEN until the stream or a status poll says more."""
        row = first_row(data)
        return OrderUpdate(trading_pair=order.trading_pair, update_timestamp=ms_to_seconds(row.get("ts")) or timestamp,
                           new_state=OrderState.OPEN, client_order_id=order.client_order_id,
                           exchange_order_id=row.get("ordId") or None), []

    def _order_ref(self, order: Any) -> dict:
        ref = {"instId": self.to_venue_symbol(order.trading_pair)}
        if order.exchange_order_id:
            ref["ordId"] = order.exchange_order_id
        else:
            ref["clOrdId"] = order.client_order_id
        return ref

    def cancel_order_request(self, order: Any) -> VenueRequest:
        return VenueRequest("POST", k.CANCEL_ORDER, self._order_ref(order), signed=True)

    def parse_cancel_order(self, data: Any, order: Any, timestamp: float) -> OrderUpdate:
        """``sCode`` 0 "only means that your cancellation request has been accepted": PENDING_CANCEL
        until the orders channel or a status poll says CANCELED (or FILLED)."""
        row = first_row(data)
        return OrderUpdate(trading_pair=order.trading_pair,
                           update_timestamp=ms_to_seconds(row.get("ts")) or timestamp,
                           new_state=OrderState.PENDING_CANCEL, client_order_id=order.client_order_id,
                           exchange_order_id=row.get("ordId") or order.exchange_order_id)

    def order_status_request(self, order: Any) -> VenueRequest:
        return VenueRequest("GET", k.PLACE_ORDER, self._order_ref(order), signed=True)

    def parse_order_status(self, data: Any, order: Any, timestamp: float) -> OrderUpdate:
        return self._order_update(first_row(data), timestamp)

    def order_fills_request(self, order: Any) -> VenueRequest:
        params = {"instType": self.inst_type, "instId": self.to_venue_symbol(order.trading_pair)}
        if order.exchange_order_id:
            params["ordId"] = order.exchange_order_id
        return VenueRequest("GET", k.FILLS, params, signed=True)

    def parse_order_fills(self, data: Any, order: Any) -> list:
        """The order's fills (``GET /api/v5/trade/fills``, last 3 days), fee in its currency."""
        out = []
        for f in rows(data):
            if order.exchange_order_id:
                if f.get("ordId") != order.exchange_order_id:
                    continue
            elif f.get("clOrdId") != order.client_order_id:
                continue
            out.append(self._trade_update(f, f["fillPx"], f["fillSz"], f.get("fee"), f.get("feeCcy"), f.get("ts")))
        return out

    def _order_update(self, o: dict, timestamp: float) -> OrderUpdate:
        status = o.get("state")
        state = _STATES.get(status)
        if state is None:
            raise ValueError(f"okx: unknown order state {str(status)[:40]!r}")
        pair = self.from_venue_symbol(o["instId"])
        executed = self.to_base(pair, o.get("accFillSz"))
        error = None
        if (state is OrderState.CANCELED and str(o.get("cancelSource")) == k.CANCEL_SOURCE_POST_ONLY
                and executed == 0):
            state = OrderState.FAILED  # a post-only order that would have taken: a rejection
            error = "post-only order would have taken liquidity (okx cancelSource 31)"
        return OrderUpdate(trading_pair=pair, update_timestamp=ms_to_seconds(o.get("uTime")) or timestamp,
                           new_state=state, client_order_id=o.get("clOrdId") or None,
                           exchange_order_id=o.get("ordId") or None, executed_amount_base=executed,
                           error_message=error)

    def _trade_update(self, f: dict, price: Any, size: Any, fee: Any, fee_ccy: Any, ts: Any) -> TradeUpdate:
        pair = self.from_venue_symbol(f["instId"])
        px = parse_decimal(price)
        amount = self.to_base(pair, size)
        if amount <= 0 or px <= 0:
            raise ValueError("okx: fill with a non-positive price or size")
        return TradeUpdate(
            trade_id=str(f["tradeId"]), client_order_id=f.get("clOrdId") or None,
            exchange_order_id=f.get("ordId") or None, trading_pair=pair,
            fill_timestamp=ms_to_seconds(ts), fill_price=px, fill_base_amount=amount,
            fill_quote_amount=px * amount, fee=self._fee(f, parse_decimal(fee, ZERO), fee_ccy),
            is_taker=f.get("execType") == "T")

    def _fee(self, f: dict, fee: Decimal, fee_ccy: Any) -> TradeFee:
        """OKX signs fees from the account's side (negative = charged, positive = rebate); the
        fee of the fill is the opposite: what the trade cost, a rebate being negative."""
        side = TradeType.BUY if f.get("side") == "buy" else TradeType.SELL
        return flat_fee(-fee, fee_ccy or None, side)

    # -- private stream: login, channels, pushes --

    def user_stream_url(self, listen_key: Optional[str] = None) -> str:
        return self.ws_url

    def user_stream_login(self, timestamp_ms: int) -> str:
        """``op: login``; ``sign`` = Base64(HMAC-SHA256(timestamp + "GET" + "/users/self/verify"))
        with the timestamp in seconds (the login expires 30 s after it)."""
        ts = str(int(timestamp_ms) // 1000)
        creds = self.credentials
        return dumps({"op": "login", "args": [{
            "apiKey": creds.api_key, "passphrase": creds.passphrase, "timestamp": ts,
            "sign": creds.hmac_sha256_base64(ts + "GET" + k.LOGIN_PATH)}]})

    def parse_login_reply(self, raw: Union[str, bytes]) -> Optional[bool]:
        """True: logged in; raises the login's error (``AuthenticationError``, ``TimeSyncError``)
        when refused; None for any other frame."""
        msg = _control_frame(raw)
        if msg is None or msg.get("event") not in ("login", "error"):
            return None
        if msg["event"] == "login" and str(msg.get("code", "0")) == "0":
            return True
        code = msg.get("code")
        raise okx_error(200, str(code) if code is not None else None, str(msg.get("msg") or "")[:200],
                        None, self.name)

    def user_stream_subscriptions(self, timestamp_ms: int) -> list:
        """The private channels: ``orders`` and ``account`` (and ``positions`` for swaps)."""
        args = []
        for channel in self._channels:
            arg = {"channel": channel}
            if channel != "account":
                arg["instType"] = self.inst_type
            args.append(arg)
        return [dumps({"op": "subscribe", "args": args})]

    def parse_user_stream(self, raw: Union[str, bytes]) -> list:
        """One private-stream frame -> [OrderUpdate | TradeUpdate | BalanceUpdate |
        PositionUpdate]. Acks, pongs, order-entry answers and other channels give []; a
        malformed push raises ValueError (the engine counts and logs it)."""
        if raw in _PONG:
            return []
        msg = fast_loads(raw)
        if not isinstance(msg, dict):
            raise ValueError("okx: private frame is not an object")
        if "event" in msg:
            if msg["event"] == "notice":  # e.g. 64008: "The connection will soon be closed ..."
                return [StreamExpired(f"okx notice {str(msg.get('code'))[:20]}")]
            if msg["event"] == "error":
                logger.warning("%s private stream error: code=%.20s msg=%.200s", self.name,
                               str(msg.get("code")), str(msg.get("msg")))
            return []
        if "op" in msg:
            return []  # an order-entry answer: parse_ws_order_reply reads it
        arg = msg.get("arg")
        channel = arg.get("channel") if isinstance(arg, dict) else None
        data = msg.get("data")
        if not isinstance(data, list):
            raise ValueError("okx: push without a data list")
        out: list = []
        if channel == "orders":
            for o in data:
                out.extend(self._order_push(o))
        elif channel == "account":
            for a in data:
                out.append(BalanceUpdate(self._balance_entries(a), ms_to_seconds(a.get("uTime"))))
        else:
            out.extend(self._other_push(channel, data))
        return out

    def _other_push(self, channel: Any, data: list) -> list:
        return []

    def _order_push(self, o: dict) -> list:
        """An ``orders`` push: a fill when ``tradeId`` is set (this update's ``fillSz``/``fillPx``/
        ``fillFee``), then the order's state. (OKX may repeat a push: the engine drops a repeated
        trade id and a repeated terminal state.)"""
        if not isinstance(o, dict):
            raise ValueError("okx: order push is not an object")
        out: list = []
        if o.get("tradeId") and parse_decimal(o.get("fillSz"), ZERO) > 0:
            out.append(self._trade_update(o, o["fillPx"], o["fillSz"], o.get("fillFee"), o.get("fillFeeCcy"),
                                          o.get("fillTime") or o.get("uTime")))
        out.append(self._order_update(o, 0.0))
        return out

    # -- WebSocket order entry (the private connection, logged in) --

    def ws_order_url(self) -> str:
        return self.ws_url

    def ws_order_login(self, timestamp_ms: int) -> Optional[str]:
        return self.user_stream_login(timestamp_ms)

    def ws_place_order_message(self, order: Any, account: Optional[AccountSettings], request_id: str,
                               timestamp_ms: int) -> str:
        """``op: order`` with ``expTime`` = timestamp + order window (the REST rule)."""
        return dumps({"id": request_id, "op": "order", "args": [self._order_args(order, account)],
                      "expTime": str(int(timestamp_ms) + self.order_window_ms)})

    def ws_cancel_order_message(self, order: Any, request_id: str, timestamp_ms: int) -> str:
        return dumps({"id": request_id, "op": "cancel-order", "args": [self._order_ref(order)]})

    def parse_ws_order_reply(self, raw: Union[str, bytes]) -> Optional[WsOrderReply]:
        """An ``op: order``/``cancel-order`` answer -> its request id and either the body (read by
        parse_place_order / parse_cancel_order, which it matches) or the error it carries (same
        classification as REST: ``code`` and the item's ``sCode``). None for other frames."""
        msg = _control_frame(raw)
        if msg is None or msg.get("op") not in ("order", "cancel-order") or "id" not in msg:
            return None
        error = self.check_response(200, msg)
        return WsOrderReply(str(msg["id"]), None if error is not None else msg, error)
