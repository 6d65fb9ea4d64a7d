"""The engine's order transport against a fake venue with WebSocket order entry (loopback only):
orders go over the logged-in socket, over REST while it is down, and a message that may have
reached the venue is never sent again on either path."""
from __future__ import annotations

import asyncio
import contextlib
import json
from types import SimpleNamespace
from typing import Any, AsyncIterator, List, Optional

import pytest
from aiohttp import web
from local_server import SocketPeer, until

from hbconnect.connector.contract import AccountSettings, VenueRequest, WsOrderEntry, WsOrderReply
from hbconnect.connector.order_transport import OrderTransport
from hbconnect.core.credentials import Credentials
from hbconnect.core.errors import AuthenticationError, OrderRejected, RequestTimeout


class FakeOrderEntry(SocketPeer):
    """Order entry speaking a small JSON protocol: ``{"op": "login", "key", "ts"}`` answered
    ``{"event": "login", "ok": bool}``; ``{"id", "op": "order"|"cancel", "cid"}`` answered as
    ``behaviour`` says: "ack", "reject" (error code 51008 in the reply), "silent" (no reply) or
    "close" (the socket closes after reading the message)."""

    path = "/ws/orders"

    def __init__(self) -> None:
        super().__init__()
        self.behaviour = "ack"
        self.accept_login = True

    async def on_message(self, ws: web.WebSocketResponse, text: str) -> bool:
        m = json.loads(text)
        if m["op"] == "login":
            await ws.send_str(json.dumps({"event": "login", "ok": self.accept_login}))
            if not self.accept_login:
                await ws.close()
            return True
        if self.behaviour == "close":
            await ws.close()
            return False
        if self.behaviour == "reject":
            await ws.send_str(json.dumps({"id": m["id"], "code": "51008", "msg": "insufficient balance"}))
        elif self.behaviour == "ack":
            await ws.send_str(json.dumps({"id": m["id"], "code": "0", "data": {"cid": m["cid"], "oid": "77"}}))
        return True

    def orders(self) -> List[dict]:
        return [m for m in map(json.loads, self.received) if m["op"] in ("order", "cancel")]


class FakeVenue:
    """The translation side of a venue with WebSocket order entry (WsOrderEntry)."""

    name = "fake"
    ws_order_entry = True
    ws_place_limit_id = "orders"
    ws_cancel_limit_id = "orders"
    user_stream_ping: Optional[str] = None
    user_stream_ping_interval = 0.0

    def __init__(self, port: int) -> None:
        self.port = port
        self.credentials = Credentials("fake-key-123456", "fake-secret-123456")

    def ws_order_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/orders"

    def ws_order_login(self, timestamp_ms: int) -> Optional[str]:
        return json.dumps({"op": "login", "key": self.credentials.api_key, "ts": timestamp_ms})

    def parse_login_reply(self, raw: Any) -> Optional[bool]:
        m = json.loads(raw)
        if m.get("event") != "login":
            return None
        if not m["ok"]:
            raise AuthenticationError(None, "login refused", venue=self.name)
        return True

    def ws_place_order_message(self, order: Any, account: AccountSettings, request_id: str, timestamp_ms: int) -> str:
        return json.dumps({"id": request_id, "op": "order", "cid": order.client_order_id})

    def ws_cancel_order_message(self, order: Any, request_id: str, timestamp_ms: int) -> str:
        return json.dumps({"id": request_id, "op": "cancel", "cid": order.client_order_id})

    def parse_ws_order_reply(self, raw: Any) -> Optional[WsOrderReply]:
        m = json.loads(raw)
        if "id" not in m:
            return None
        if m["code"] != "0":
            return WsOrderReply(m["id"], error=OrderRejected(m["code"], m["msg"], venue=self.name))
        return WsOrderReply(m["id"], data=m["data"])

    def place_order_request(self, order: Any, account: AccountSettings) -> VenueRequest:
        return VenueRequest("POST", "/order", {"cid": order.client_order_id}, signed=True, idempotent=False)

    def cancel_order_request(self, order: Any) -> VenueRequest:
        return VenueRequest("DELETE", "/order", {"cid": order.client_order_id}, signed=True)


class RestStub:
    """The engine's REST path, recorded (no network)."""

    def __init__(self) -> None:
        self.sent: List[VenueRequest] = []

    async def __call__(self, request: VenueRequest, timeout: Optional[float] = None) -> Any:
        self.sent.append(request)
        return {"via": "rest", "cid": request.params["cid"]}


ORDER = SimpleNamespace(client_order_id="cid-1", trading_pair="BTC-USDT")


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20.0))


def test_fake_venue_implements_the_ws_order_entry_protocol() -> None:
    assert isinstance(FakeVenue(1), WsOrderEntry)


@contextlib.asynccontextmanager
async def running(logged_in: bool = True, accept_login: bool = True) -> AsyncIterator[tuple]:
    """(server, transport, REST stub): the transport started against a fresh fake venue."""
    async with FakeOrderEntry() as server:
        server.accept_login = accept_login
        rest = RestStub()
        t = OrderTransport(FakeVenue(server.port), rest, lambda: 1_700_000_000_123)
        t.start()
        try:
            if logged_in:
                await until(lambda: t.session.ready, "the order-entry socket logged in")
            yield server, t, rest
        finally:
            await t.stop()


def test_orders_go_over_the_logged_in_socket_with_the_injected_time() -> None:
    async def go() -> None:
        async with running() as (server, t, rest):
            assert await t.place(ORDER, AccountSettings(), 2.0) == {"cid": "cid-1", "oid": "77"}
            assert await t.cancel(ORDER, 2.0) == {"cid": "cid-1", "oid": "77"}
        assert rest.sent == [] and t.sent_ws == 2
        assert json.loads(server.received[0]) == {"op": "login", "key": "fake-key-123456", "ts": 1_700_000_000_123}
        assert [m["op"] for m in server.orders()] == ["order", "cancel"]
    _run(go())


def test_rest_while_the_socket_is_down_and_when_login_is_refused() -> None:
    async def go() -> None:
        async with running(logged_in=False, accept_login=False) as (server, t, rest):
            await asyncio.sleep(0.2)  # it tries, is refused, retries with backoff
            assert not t.session.ready
            assert (await t.place(ORDER, AccountSettings(), 2.0))["via"] == "rest"
            assert (await t.cancel(ORDER, 2.0))["via"] == "rest"
        assert [r.method for r in rest.sent] == ["POST", "DELETE"] and server.orders() == []
        assert any(json.loads(m)["op"] == "login" for m in server.received)
    _run(go())


@pytest.mark.parametrize("behaviour", ["silent", "close"])
def test_a_create_that_may_have_arrived_is_never_sent_again(behaviour: str) -> None:
    """No reply (or the socket closes after the message was read): outcome unknown, raised for
    the engine to resolve by asking; the order is sent neither again on the socket nor on REST."""
    async def go() -> None:
        async with running() as (server, t, rest):
            server.behaviour = behaviour
            with pytest.raises(RequestTimeout) as info:
                await t.place(ORDER, AccountSettings(), 0.5)
            assert info.value.outcome_unknown
            await asyncio.sleep(0.3)  # let a reconnection happen, if any
        assert rest.sent == [] and len([m for m in server.orders() if m["op"] == "order"]) == 1
    _run(go())


def test_a_rejection_in_the_reply_raises_the_venue_error_at_once() -> None:
    async def go() -> None:
        async with running() as (server, t, rest):
            server.behaviour = "reject"
            # a wait for the reply's timeout would raise RequestTimeout instead
            with pytest.raises(OrderRejected) as info:
                await t.place(ORDER, AccountSettings(), 5.0)
            assert info.value.code == "51008" and not info.value.outcome_unknown
        assert rest.sent == []
    _run(go())


def test_rest_only_when_the_venue_has_no_ws_entry_or_it_is_switched_off() -> None:
    async def go() -> None:
        rest = RestStub()
        venue = FakeVenue(1)
        t = OrderTransport(venue, rest, lambda: 1, use_ws=False)
        assert not t.uses_ws
        t.start()
        assert (await t.place(ORDER, AccountSettings(), 1.0))["via"] == "rest"
        await t.stop()
    _run(go())
