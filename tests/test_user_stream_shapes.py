"""The engine's private stream in its login and signed-subscribe shapes, against a loopback
socket: what is sent and when, text pings, a refused login, and a session that expires."""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any, Optional

from aiohttp import web
from local_server import SocketPeer, until

from hbconnect.connector.contract import (
    STREAM_PROTOCOLS,
    BalanceDelta,
    StreamExpired,
    StreamShape,
)
from hbconnect.connector.user_stream import UserStream
from hbconnect.core.backoff import Backoff
from hbconnect.core.credentials import Credentials
from hbconnect.core.errors import AuthenticationError


class PrivateSocketServer(SocketPeer):
    """Records what the engine sends; acks logins unless told not to; pushes frames."""

    path = "/private"

    def __init__(self) -> None:
        super().__init__()
        self.accept_login = True

    async def on_message(self, ws: web.WebSocketResponse, text: str) -> bool:
        if text.startswith('{"op": "login"'):
            await ws.send_str(json.dumps({"event": "login", "ok": self.accept_login}))
        return True


class ShapeVenue:
    """A private stream of ``shape`` (LOGIN or SIGNED_SUBSCRIBE) with a text ping."""

    name = "shape"
    user_stream_ping: Optional[str] = "ping"
    user_stream_ping_interval = 0.05

    def __init__(self, port: int, shape: StreamShape) -> None:
        self.port = port
        self.user_stream_shape = shape
        self.credentials = Credentials("shape-key-0123", "shape-secret-0123")

    def user_stream_url(self, token: Optional[str]) -> str:
        return f"ws://127.0.0.1:{self.port}/private"

    def user_stream_login(self, timestamp_ms: int) -> str:
        return json.dumps({"op": "login", "ts": timestamp_ms,
                           "sign": self.credentials.hmac_sha256_hex(str(timestamp_ms))})

    def parse_login_reply(self, raw: Any) -> Optional[bool]:
        msg = json.loads(raw)
        if msg.get("event") != "login":
            return None
        if not msg["ok"]:
            raise AuthenticationError(None, "login refused", venue=self.name)
        return True

    def user_stream_subscriptions(self, timestamp_ms: int) -> list:
        sign = self.credentials.hmac_sha256_hex(f"orders{timestamp_ms}")
        return [json.dumps({"op": "subscribe", "channel": "orders", "ts": timestamp_ms, "sign": sign})]

    def parse_user_stream(self, raw: Any) -> list:
        msg = json.loads(raw)
        if msg.get("event") == "expired":
            return [StreamExpired("expired")]
        if msg.get("event") == "deposit":
            return [BalanceDelta(msg["asset"], Decimal(msg["amount"]))]
        return []


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        self.now += 1000
        return self.now


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20.0))


def _stream(server: PrivateSocketServer, shape: StreamShape, events: list, clock: Clock) -> UserStream:
    venue = ShapeVenue(server.port, shape)
    assert isinstance(venue, STREAM_PROTOCOLS[shape])

    async def no_rest(request: Any) -> Any:
        raise AssertionError("no REST request in this shape")
    return UserStream(venue, no_rest, events.extend, time_ms=clock, backoff=Backoff(0.05, 0.1))


def test_login_then_subscriptions_then_events_then_a_fresh_login_on_expiry() -> None:
    async def go() -> None:
        async with PrivateSocketServer() as server:
            events: list = []
            clock = Clock()
            stream = _stream(server, StreamShape.LOGIN, events, clock)
            stream.start()
            try:
                await until(lambda: stream.connected, "logged in")
                login, sub = (json.loads(m) for m in server.received[:2])
                assert login["op"] == "login" and sub["op"] == "subscribe"
                assert sub["ts"] > login["ts"] >= 1_700_000_001_000  # the injected clock, read in turn
                await until(lambda: "ping" in server.received, "a text ping")
                await server.push(json.dumps({"event": "deposit", "asset": "USDT", "amount": "5"}))
                await until(lambda: events, "the deposit event")
                assert isinstance(events[0], BalanceDelta) and events[0].asset == "USDT"
                await server.push(json.dumps({"event": "expired"}))
                await until(lambda: sum('"op": "login"' in m for m in server.received) == 2, "a second login")
                await until(lambda: stream.connected, "logged in again")
            finally:
                await stream.stop()
    _run(go())


def test_a_refused_login_sends_no_subscription_and_retries() -> None:
    async def go() -> None:
        async with PrivateSocketServer() as server:
            server.accept_login = False
            stream = _stream(server, StreamShape.LOGIN, [], Clock())
            stream.start()
            try:
                await until(lambda: sum('"op": "login"' in m for m in server.received) >= 2, "login retries")
                assert not stream.connected
                assert not any('"op": "subscribe"' in m for m in server.received)
            finally:
                await stream.stop()
    _run(go())


def test_signed_subscribe_sends_signed_subscriptions_at_once() -> None:
    async def go() -> None:
        async with PrivateSocketServer() as server:
            clock = Clock()
            stream = _stream(server, StreamShape.SIGNED_SUBSCRIBE, [], clock)
            stream.start()
            try:
                await until(lambda: stream.connected and server.received, "subscribed")
                sub = json.loads(server.received[0])
                assert sub["op"] == "subscribe" and sub["ts"] == clock.now
                creds = Credentials("shape-key-0123", "shape-secret-0123")
                assert sub["sign"] == creds.hmac_sha256_hex(f"orders{sub['ts']}")
                assert not any('"op": "login"' in m for m in server.received)
            finally:
                await stream.stop()
    _run(go())
