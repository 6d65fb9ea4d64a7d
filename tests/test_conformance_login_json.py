"""The conformance suite on the engine paths Binance does not take: a private stream opened by a
WebSocket login, JSON request bodies, and errors (refusals, 429-equivalents, "not found") inside
HTTP 200 bodies, the way OKX, Bybit, KuCoin and Bitget answer.

The venue here is a test translation: Binance's payloads (so the canned answers of
``test_conformance_binance`` serve), laid out and classified the other way. It proves the
engine side; the real OKX and Bybit profiles live beside their venue modules' tests.
"""
from __future__ import annotations

import json
from typing import Any, List, Optional, Union

from conformance import ConformanceTests
from test_conformance_binance import BinanceSpotCase

from hbconnect.connector.contract import PreparedRequest, StreamExpired, StreamShape, VenueRequest
from hbconnect.core.errors import AuthenticationError
from hbconnect.exchanges.binance import BinanceSpotTrading
from hbconnect.exchanges.binance.trading import binance_error


class LoginJsonVenue(BinanceSpotTrading):
    """Binance's payloads; JSON bodies, errors in 200 bodies, a login-shaped private stream."""

    name = "login_json"
    user_stream_shape = StreamShape.LOGIN
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


class LoginJsonCase(BinanceSpotCase):
    stream_shape = StreamShape.LOGIN
    token_route = ("", "")
    keepalive_route = ("", "")
    rejection_code = -2010

    def make_venue(self, rest_url: str, ws_url: str) -> Any:
        return LoginJsonVenue("login-json-key-0123", "login-json-secret-0123", rest_url=rest_url, ws_url=ws_url)

    def is_login(self, message: str) -> bool:
        return message.startswith("{") and json.loads(message).get("op") == "login"

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
