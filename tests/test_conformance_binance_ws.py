"""Binance spot and USDⓈ-M run the whole conformance suite again with creates and cancels over
the WebSocket API (``order.place`` / ``order.cancel``), the canned answers of the REST suite
wrapped in the WebSocket API's ``{id, status, result | error, rateLimits}`` envelope."""
from __future__ import annotations

import json
import time
from typing import Any, Optional, Tuple

from conformance import ConformanceTests, run
from test_conformance_binance import BinanceSpotCase
from test_conformance_binance_perpetual import BinancePerpetualCase

_WEIGHT = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000, "count": 1}]


class WsApiCase:
    """The WebSocket API on top of a Binance REST case (mixed in first)."""

    ws_order_entry = True

    def ws_order_request(self, message: str) -> Optional[Tuple[Tuple[str, str], dict, str]]:
        if not message.startswith("{"):
            return None
        msg = json.loads(message)
        route = {"order.place": self.place_route, "order.cancel": self.cancel_route}.get(msg.get("method"))
        if route is None:
            return None
        params = {k: v if isinstance(v, str) else str(v) for k, v in msg["params"].items()}
        return route, params, msg["id"]

    def ws_order_reply(self, request_id: str, status: int, body: Any) -> str:
        if status == 200:
            return json.dumps({"id": request_id, "status": 200, "result": body, "rateLimits": _WEIGHT})
        return json.dumps({"id": request_id, "status": status, "error": body, "rateLimits": _WEIGHT})

    def rate_limited(self, retry_after: float) -> Any:
        """Binance's 429; on the WebSocket API the back-off's end is in ``error.data``."""
        now = int(time.time() * 1000)
        return 429, {"code": -1003, "msg": "Too many requests.",
                     "data": {"serverTime": now, "retryAfter": now + int(retry_after * 1000)}}, \
            {"Retry-After": f"{retry_after:g}"}


class BinanceSpotWsCase(WsApiCase, BinanceSpotCase):
    pass


class BinanceSpotWsUserDataCase(BinanceSpotWsCase):
    """The user-data events on the order socket too (``userDataStream.subscribe.signature``: an
    HMAC key), each in the documented ``{"subscriptionId", "event"}`` envelope; the end of the
    subscription is ``eventStreamTerminated``."""

    ws_user_data = True

    def is_user_data_subscription(self, message: str) -> bool:
        return message.startswith("{") and json.loads(message).get("method") == "userDataStream.subscribe.signature"

    def ws_answer(self, message: str) -> list:
        if not self.is_user_data_subscription(message):
            return []
        msg = json.loads(message)
        assert sorted(msg["params"]) == ["apiKey", "signature", "timestamp"]
        return [json.dumps({"id": msg["id"], "status": 200, "result": {"subscriptionId": 0}, "rateLimits": _WEIGHT})]

    @staticmethod
    def _event(frame: str) -> str:
        return json.dumps({"subscriptionId": 0, "event": json.loads(frame)})

    def ws_order(self, *args: Any, **kwargs: Any) -> str:
        return self._event(super().ws_order(*args, **kwargs))

    def ws_balance(self, *args: Any) -> str:
        return self._event(super().ws_balance(*args))

    def ws_stream_expired(self) -> str:
        return json.dumps({"subscriptionId": 0, "event": {"e": "eventStreamTerminated", "E": 1728973001334}})


class BinancePerpetualWsCase(WsApiCase, BinancePerpetualCase):
    pass


class WsConformanceTests(ConformanceTests):
    def test_orders_go_over_the_ws_api(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                oid = await h.place_open()
                assert h.connector._orders.sent_ws == 1 and h.connector._orders.sent_rest == 0
                assert any(p.endswith("/ws-api/v3") or p.endswith("/ws-fapi/v1") for p in h.mock.ws_paths)
                placed = [json.loads(m) for m in h.mock.ws_received if m.startswith("{")]
                placed = [m for m in placed if not m["method"].startswith("userDataStream.")]
                assert [m["method"] for m in placed] == ["order.place"]
                assert placed[0]["params"]["newClientOrderId"] == oid
        run(go())


class TestBinanceSpotWsConformance(WsConformanceTests):
    case_class = BinanceSpotWsCase


class TestBinanceSpotWsUserDataConformance(WsConformanceTests):
    case_class = BinanceSpotWsUserDataCase


class TestBinancePerpetualWsConformance(WsConformanceTests):
    case_class = BinancePerpetualWsCase
