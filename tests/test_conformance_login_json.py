"""The conformance suite on the engine paths Binance does not take: a private stream opened by a
WebSocket login, JSON request bodies, errors (refusals, 429-equivalents, "not found") inside
HTTP 200 bodies, the way OKX, Bybit, KuCoin and Bitget answer, and orders over a WebSocket order
entry (the whole suite again, creates and cancels on the socket).

The venue here is a test translation: Binance's payloads (so the canned answers of
``test_conformance_binance`` serve), laid out and classified the other way. It proves the
engine side; the real OKX and Bybit profiles live beside their venue modules' tests.
"""
from __future__ import annotations

import json
from typing import Any, List, Optional, Tuple, Union

from conformance import ConformanceTests
from test_conformance_binance import BinanceSpotCase

from hbconnect.connector.contract import (
    AccountSettings,
    PreparedRequest,
    StreamExpired,
    StreamShape,
    VenueRequest,
    WsOrderReply,
)
from hbconnect.core.errors import AuthenticationError
from hbconnect.exchanges._trading import fmt_decimal
from hbconnect.exchanges.binance import BinanceSpotTrading
from hbconnect.exchanges.binance.trading import binance_error


class LoginJsonVenue(BinanceSpotTrading):
    """Binance's payloads; JSON bodies, errors in 200 bodies, a login-shaped private stream."""

    name = "login_json"
    user_stream_shape = StreamShape.LOGIN
    ws_order_entry = True
    ws_place_limit_id = "/api/v3/order"
    ws_cancel_limit_id = "/api/v3/order"
    user_stream_ping = "ping"
    user_stream_ping_interval = 20.0

    def prepare(self, request: VenueRequest, timestamp_ms: int) -> PreparedRequest:
        prepared = super().prepare(request, timestamp_ms)
        if prepared.body is not None:  # the same fields, as a JSON object
            fields = dict(p.split("=", 1) for p in prepared.body.split("&"))
            prepared.body = json.dumps(fields)
            prepared.headers["Content-Type"] = "application/json"
        return prepared

    def check_response(self, status: int, data: Any, headers: Any = None) -> Optional[Exception]:
        if isinstance(data, dict) and data.get("code") not in (None, 0):
            return binance_error(400 if status == 200 else status, data, headers, venue=self.name)
        return super().check_response(status, data, headers)

    def user_stream_url(self, token: Optional[str]) -> str:
        return f"{self.ws_url}/private"

    def user_stream_login(self, timestamp_ms: int) -> str:
        sign = self.credentials.hmac_sha256_base64(f"{timestamp_ms}GET/users/self/verify")
        return json.dumps({"op": "login", "args": [{"apiKey": self.credentials.api_key,
                                                    "timestamp": str(timestamp_ms), "sign": sign}]})

    def parse_login_reply(self, raw: Union[str, bytes]) -> Optional[bool]:
        if raw in ("pong", b"pong"):
            return None
        msg = json.loads(raw)
        if msg.get("event") == "login":
            if msg.get("code") != "0":
                raise AuthenticationError(msg.get("code"), "login refused", venue=self.name)
            return True
        return None

    def user_stream_subscriptions(self, timestamp_ms: int) -> list:
        return [json.dumps({"op": "subscribe", "args": [{"channel": "orders"}, {"channel": "account"}]})]

    def parse_user_stream(self, raw: Union[str, bytes]) -> list:
        if raw in ("pong", b"pong"):
            return []
        msg = json.loads(raw)
        if msg.get("event") in ("subscribe", "login"):
            return []
        if msg.get("event") == "notice":
            return [StreamExpired("session ended")]
        return super().parse_user_stream(raw)


    # -- WebSocket order entry: the REST requests' fields as {"id", "op", "args"} messages --

    def ws_order_url(self) -> str:
        return f"{self.ws_url}/trade"

    def ws_order_login(self, timestamp_ms: int) -> Optional[str]:
        return self.user_stream_login(timestamp_ms)

    def _ws_message(self, op: str, request: VenueRequest, request_id: str) -> str:
        args = {k: fmt_decimal(v) for k, v in request.params.items() if v is not None}
        return json.dumps({"id": request_id, "op": op, "args": args})

    def ws_place_order_message(self, order: Any, account: AccountSettings, request_id: str,
                               timestamp_ms: int) -> str:
        return self._ws_message("order", self.place_order_request(order, account), request_id)

    def ws_cancel_order_message(self, order: Any, request_id: str, timestamp_ms: int) -> str:
        return self._ws_message("cancel-order", self.cancel_order_request(order), request_id)

    def parse_ws_order_reply(self, raw: Union[str, bytes]) -> Optional[WsOrderReply]:
        if raw in ("pong", b"pong"):
            return None
        msg = json.loads(raw)
        if "id" not in msg:
            return None  # a stream push or an ack on this socket
        return WsOrderReply(str(msg["id"]), data=msg["data"], error=self.check_response(200, msg["data"]))


class LoginJsonCase(BinanceSpotCase):
    stream_shape = StreamShape.LOGIN
    token_route = ("", "")
    keepalive_route = ("", "")
    rejection_code = -2010

    def make_venue(self, rest_url: str, ws_url: str) -> Any:
        return LoginJsonVenue("login-json-key-0123", "login-json-secret-0123", rest_url=rest_url, ws_url=ws_url)

    def is_login(self, message: str) -> bool:
        return message.startswith("{") and json.loads(message).get("op") == "login"

    def ws_order_request(self, message: str) -> Optional[Tuple[Tuple[str, str], dict, str]]:
        if not message.startswith("{"):
            return None
        msg = json.loads(message)
        route = {"order": self.place_route, "cancel-order": self.cancel_route}.get(msg.get("op"))
        return (route, dict(msg["args"]), msg["id"]) if route else None

    def ws_order_reply(self, request_id: str, status: int, body: Any) -> str:
        return json.dumps({"id": request_id, "data": body})

    def ws_answer(self, message: str) -> List[str]:
        if message == "ping":
            return ["pong"]
        op = json.loads(message).get("op")
        if op == "login":
            return [json.dumps({"event": "login", "code": "0", "msg": ""})]
        if op == "subscribe":
            return [json.dumps({"event": "subscribe", "arg": a}) for a in json.loads(message)["args"]]
        return []

    def ws_stream_expired(self) -> str:
        return json.dumps({"event": "notice", "code": "64008", "msg": "the service is about to be upgraded"})

    # the venue's errors come inside HTTP 200 bodies
    def place_rejected(self):
        return 200, {"code": -2010, "msg": "Account has insufficient balance for requested action."}

    def rate_limited(self, retry_after: float) -> Any:
        return 200, {"code": -1003, "msg": "Too many requests."}, None

    def time_sync_error(self):
        return 200, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}

    def not_found(self):
        return 200, {"code": -2013, "msg": "Order does not exist."}

    def cancel_error(self):
        return 200, {"code": -1000, "msg": "An unknown error occurred while processing the request."}


class TestLoginJsonConformance(ConformanceTests):
    case_class = LoginJsonCase


class LoginJsonWsOrdersCase(LoginJsonCase):
    ws_order_entry = True


class TestLoginJsonWsOrderEntryConformance(ConformanceTests):
    """Every scenario with creates and cancels on the order-entry socket."""

    case_class = LoginJsonWsOrdersCase
