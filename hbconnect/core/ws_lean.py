"""A lean WebSocket client (RFC 6455) on a bare ``asyncio.Protocol``, for sockets where every
microsecond of client CPU counts: the order-entry socket.

What it saves against :class:`hbconnect.core.ws.WsConnection` (aiohttp) on a request/reply
socket: no ``ClientSession``, no message object and no reader queue per frame, no task wake-up
between the socket and the consumer: in callback mode (``on_frame`` set) each frame goes from
``data_received`` straight to the consumer; ``send_now`` writes a frame without awaiting.
Measured in ``benchmarks/bench_order_path.py`` (README there).

Scope: one client connection, no extensions (no permessage-deflate: ``compress=0`` on the aiohttp
path too), no subprotocols. Text frames arrive as ``str``, binary as ``bytes``; fragmented
messages are joined; pings are answered, closes echoed; a protocol violation closes with 1002,
invalid UTF-8 text with 1007, an oversized message with 1009.

The same surface as ``WsConnection`` where the engine uses it (``open``, ``send``, ``receive``,
``close``, ``closed``, ``name``, ``frames_received`` / ``frames_sent``), so
:func:`hbconnect.connector.private_socket.login` works on either.
"""
from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import logging
import os
import random
import socket as _socket
import ssl as _ssl
import struct
import time
from typing import Any, Callable, Deque, Mapping, Optional, Union
from urllib.parse import urlsplit

from hbconnect.core.ws import WsClosed

logger = logging.getLogger(__name__)

Frame = Union[str, bytes]
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_HANDSHAKE = 16 * 1024
_OP_CONT, _OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_pack_h = struct.Struct("!BB").pack
_pack_h16 = struct.Struct("!BBH").pack
_pack_h64 = struct.Struct("!BBQ").pack
_unpack16 = struct.Struct("!H").unpack_from
_unpack64 = struct.Struct("!Q").unpack_from
_getrandbits = random.getrandbits
_from_le = int.from_bytes
_monotonic = time.monotonic


def mask_payload(payload: bytes, key: bytes) -> bytes:
    """``payload`` XOR the 4-byte masking ``key`` repeated (RFC 6455 5.3), as one big-integer XOR:
    a few hundred nanoseconds for an order message, no per-byte Python loop."""
    n = len(payload)
    if not n:
        return b""
    rep = key * ((n >> 2) + 1)
    return (_from_le(payload, "little") ^ _from_le(rep[:n], "little")).to_bytes(n, "little")


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame (RFC 6455 5.2)."""
    n = len(payload)
    key_int = _getrandbits(32)
    key = key_int.to_bytes(4, "little")
    b0 = 0x80 | opcode
    if n < 126:
        head = _pack_h(b0, 0x80 | n)
    elif n < 65536:
        head = _pack_h16(b0, 0xFE, n)
    else:
        head = _pack_h64(b0, 0xFF, n)
    return head + key + mask_payload(payload, key)


def accept_key(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``Sec-WebSocket-Key`` ``key``."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


class _Violation(Exception):
    def __init__(self, code: int, why: str) -> None:
        super().__init__(why)
        self.code = code


class LeanWsConnection(asyncio.Protocol):
    """One client WebSocket. ``on_frame``: when set, every data frame is handed to it from the
    protocol callback (``receive()`` is then not used); otherwise frames queue for ``receive()``.

    ``protocol_ping``: after that many seconds with no frame, a ping goes out; no frame within
    half that again drops the connection. ``ping_interval`` / ``ping_message``: the venue's text
    ping on that period. ``receive_timeout``: no frame for that long drops the connection."""

    def __init__(self, url: str, *, ping_interval: Optional[float] = None, ping_message: Optional[str] = None,
                 max_message_size: int = 16 * 1024 * 1024, receive_timeout: Optional[float] = None,
                 protocol_ping: Optional[float] = 20.0, connect_timeout: float = 10.0,
                 headers: Optional[Mapping[str, str]] = None, name: str = "",
                 on_frame: Optional[Callable[[Frame], Any]] = None,
                 ssl_context: Optional[_ssl.SSLContext] = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
        self.url = url
        self._secure = parts.scheme == "wss"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._secure else 80)
        self._resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.ping_interval = ping_interval
        self.ping_message = ping_message
        self.max_message_size = max_message_size
        self.receive_timeout = receive_timeout
        self.protocol_ping = protocol_ping
        self.connect_timeout = connect_timeout
        self.headers = dict(headers or {})
        self.name = name or url
        self.on_frame = on_frame
        #: wss:// only: the TLS context (default: the system's trust store, hostname checked)
        self.ssl_context = ssl_context
        self.frames_received = 0
        self.frames_sent = 0
        self.opened_at = 0.0
        self.last_receive = 0.0
        self.close_code: Optional[int] = None
        self._transport: Optional[asyncio.Transport] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._buf = bytearray()
        self._handshake: Optional[asyncio.Future] = None
        self._key = b""
        self._open = False
        self._close_sent = False
        self._reason = "not open"
        self._frames: Deque[Frame] = collections.deque()
        self._waiter: Optional[asyncio.Future] = None
        self._closed_fut: Optional[asyncio.Future] = None
        self._fragments: list = []
        self._fragment_op = 0
        self._fragment_size = 0
        self._paused = False
        self._drain: Optional[asyncio.Future] = None
        self._timers: list = []
        self._pinged = False

    # ------------------------------------------------------------------ state
    @property
    def closed(self) -> bool:
        return not self._open

    async def open(self) -> "LeanWsConnection":
        loop = self._loop = asyncio.get_running_loop()
        self._handshake = loop.create_future()
        self._closed_fut = loop.create_future()
        context = (self.ssl_context or _ssl.create_default_context()) if self._secure else None
        try:
            await asyncio.wait_for(loop.create_connection(
                lambda: self, self._host, self._port, ssl=context,
                server_hostname=self._host if context is not None else None), self.connect_timeout)
            await asyncio.wait_for(asyncio.shield(self._handshake), self.connect_timeout)
        except (OSError, asyncio.TimeoutError, _Violation) as exc:
            self._abort(f"cannot connect to {self.url} ({exc.__class__.__name__}: {exc})")
            raise WsClosed(f"{self.name}: cannot connect to {self.url} ({exc.__class__.__name__}: {exc})") from None
        self.last_receive = _monotonic()
        if self.protocol_ping or self.receive_timeout:
            period = min(x for x in (self.protocol_ping, self.receive_timeout) if x)
            self._repeat(max(0.01, period / 4), self._check_alive)
        if self.ping_interval and self.ping_message:
            self._repeat(self.ping_interval, self._app_ping)
        return self

    def _repeat(self, period: float, fn: Callable[[], None]) -> None:
        assert self._loop is not None
        slot = len(self._timers)
        self._timers.append(None)

        def tick() -> None:
            if not self._open:
                return
            fn()
            if self._open:
                self._timers[slot] = self._loop.call_later(period, tick)  # type: ignore[union-attr]
        self._timers[slot] = self._loop.call_later(period, tick)

    def _check_alive(self) -> None:
        idle = _monotonic() - self.last_receive
        if self.receive_timeout and idle >= self.receive_timeout:
            self._fail(1001, f"no frame for {self.receive_timeout:g}s")
        elif self.protocol_ping:
            if idle >= self.protocol_ping * 1.5:
                self._fail(1001, f"no pong in {self.protocol_ping * 0.5:g}s")
            elif idle >= self.protocol_ping and not self._pinged:
                self._pinged = True
                self._write_frame(_OP_PING, b"")

    def _app_ping(self) -> None:
        assert self.ping_message is not None
        self._write_frame(_OP_TEXT, self.ping_message.encode())

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: Any) -> None:
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (_socket.AF_INET, _socket.AF_INET6):
            try:  # each request in its own segment at once (asyncio and uvloop set it too)
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self._key = base64.b64encode(os.urandom(16))
        host = self._host if self._port == (443 if self._secure else 80) else f"{self._host}:{self._port}"
        lines = [f"GET {self._resource} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {self._key.decode()}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def data_received(self, data: bytes) -> None:
        hs = self._handshake
        if hs is not None and not hs.done():
            self._buf += data
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > _MAX_HANDSHAKE:
                    self._handshake_failed("handshake answer too long")
                return
            head = bytes(self._buf[:end])
            del self._buf[:end + 4]
            why = self._check_handshake(head)
            if why is not None:
                self._handshake_failed(why)
                return
            self._open = True  # before the frames that came with the answer are read
            self.opened_at = _monotonic()
            hs.set_result(None)
            if not self._buf:
                return
            data = bytes(self._buf)
            self._buf.clear()
        elif self._buf:
            self._buf += data
            data = bytes(self._buf)
            self._buf.clear()
        self.last_receive = _monotonic()
        self._pinged = False
        try:
            self._parse(data)
        except _Violation as exc:
            self._fail(exc.code, str(exc))

    def _check_handshake(self, head: bytes) -> Optional[str]:
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            return f"handshake refused: {lines[0][:100]!r}"
        fields = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip().lower()] = value.strip()
        if fields.get("upgrade", "").lower() != "websocket" or "upgrade" not in fields.get("connection", "").lower():
            return "handshake answer is not a WebSocket upgrade"
        if fields.get("sec-websocket-accept", "").encode() != accept_key(self._key):
            return "handshake answer has a wrong Sec-WebSocket-Accept"
        if fields.get("sec-websocket-extensions"):
            return "server chose an extension that was not offered"
        return None

    def _handshake_failed(self, why: str) -> None:
        hs = self._handshake
        if hs is not None and not hs.done():
            hs.set_exception(_Violation(1002, why))
        self._abort(why)

    def _parse(self, data: bytes) -> None:
        """Every whole frame in ``data``; the tail of a partial one is kept for the next chunk."""
        pos, end = 0, len(data)
        while end - pos >= 2:
            b0, b1 = data[pos], data[pos + 1]
            n = b1 & 0x7F
            head = 2
            if n == 126:
                if end - pos < 4:
                    break
                n = _unpack16(data, pos + 2)[0]
                head = 4
            elif n == 127:
                if end - pos < 10:
                    break
                n = _unpack64(data, pos + 2)[0]
                head = 10
            if b1 & 0x80:
                raise _Violation(1002, "masked frame from the server")
            if b0 & 0x70:
                raise _Violation(1002, "reserved bits set (no extension negotiated)")
            if n > self.max_message_size:
                raise _Violation(1009, f"frame of {n} bytes over the {self.max_message_size}-byte limit")
            stop = pos + head + n
            if stop > end:
                break
            payload = data[pos + head:stop]
            pos = stop
            op = b0 & 0x0F
            if op == _OP_TEXT or op == _OP_BINARY:
                if self._fragment_op:
                    raise _Violation(1002, "new message inside a fragmented one")
                if b0 & 0x80:
                    self._deliver(op, payload)
                else:
                    self._fragment_op, self._fragments, self._fragment_size = op, [payload], n
            elif op == _OP_CONT:
                if not self._fragment_op:
                    raise _Violation(1002, "continuation without a message")
                self._fragment_size += n
                if self._fragment_size > self.max_message_size:
                    raise _Violation(1009, "fragmented message over the size limit")
                self._fragments.append(payload)
                if b0 & 0x80:
                    op, whole = self._fragment_op, b"".join(self._fragments)
                    self._fragment_op, self._fragments, self._fragment_size = 0, [], 0
                    self._deliver(op, whole)
            elif op >= 0x8:
                if not b0 & 0x80 or n > 125:
                    raise _Violation(1002, "fragmented or oversized control frame")
                self._control(op, payload)
                if self._transport is None:
                    return
            else:
                raise _Violation(1002, f"unknown opcode {op}")
        if pos < end:
            self._buf += data[pos:]

    def _deliver(self, op: int, payload: bytes) -> None:
        if op == _OP_TEXT:
            try:
                frame: Frame = payload.decode()
            except UnicodeDecodeError:
                raise _Violation(1007, "text frame is not UTF-8") from None
        else:
            frame = payload
        self.frames_received += 1
        on_frame = self.on_frame
        if on_frame is not None:
            on_frame(frame)
            return
        self._frames.append(frame)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _control(self, op: int, payload: bytes) -> None:
        if op == _OP_PING:
            self._write_frame(_OP_PONG, payload)
        elif op == _OP_CLOSE:
            code = _unpack16(payload, 0)[0] if len(payload) >= 2 else 1005
            self.close_code = code
            text = payload[2:].decode("utf-8", "replace")[:100]
            if not self._close_sent:
                self._write_frame(_OP_CLOSE, payload[:2])
                self._close_sent = True
            self._abort(f"closed by peer (code {code}{': ' + text if text else ''})")
        elif op != _OP_PONG:
            raise _Violation(1002, f"unknown control opcode {op}")

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        why = self._reason if not self._open else (
            f"connection lost ({exc.__class__.__name__}: {exc})" if exc else "connection closed by peer")
        self._mark_closed(why)
        self._transport = None
        hs = self._handshake
        if hs is not None and not hs.done():
            hs.set_exception(ConnectionError(why))
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)
        if self._closed_fut is not None and not self._closed_fut.done():
            self._closed_fut.set_result(None)

    # ------------------------------------------------------------------ closing
    def _mark_closed(self, why: str) -> None:
        if self._open:
            self._open = False
            self._reason = why
        for handle in self._timers:
            if handle is not None:
                handle.cancel()
        self._timers = []
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _abort(self, why: str) -> None:
        self._mark_closed(why)
        transport = self._transport
        if transport is not None:
            transport.close()

    def _fail(self, code: int, why: str) -> None:
        """Close with ``code`` after a violation or a dead peer, without waiting for an answer."""
        logger.warning("%s: %s; closing (%d)", self.name, why, code)
        if not self._close_sent and self._transport is not None:
            self._write_frame(_OP_CLOSE, struct.pack("!H", code))
            self._close_sent = True
        self.close_code = code
        self._abort(why)

    async def close(self, code: int = 1000) -> None:
        """Close cleanly (close frame, wait up to 5 s for the peer's answer). Idempotent."""
        transport = self._transport
        self._mark_closed("closed by this side")
        if transport is None:
            return
        if not self._close_sent:
            self._close_sent = True
            try:
                transport.write(encode_frame(_OP_CLOSE, struct.pack("!H", code)))
            except (RuntimeError, OSError):
                pass
        closed = self._closed_fut
        if closed is not None and not closed.done():
            try:
                await asyncio.wait_for(asyncio.shield(closed), 5.0)
            except asyncio.TimeoutError:
                pass
        if self._transport is not None:
            self._transport.close()

    def deliver_to(self, on_frame: Callable[[Frame], Any]) -> None:
        """Switch to callback mode: frames already queued go to ``on_frame`` first, in order."""
        while self._frames:
            on_frame(self._frames.popleft())
        self.on_frame = on_frame

    async def wait_closed(self) -> None:
        """Until the connection is gone; then ``WsClosed`` with the reason."""
        closed = self._closed_fut
        if closed is not None and self._open:
            await asyncio.shield(closed)
        raise WsClosed(f"{self.name}: {self._reason}", self.close_code)

    # ------------------------------------------------------------------ sending / receiving
    def _write_frame(self, opcode: int, payload: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(encode_frame(opcode, payload))

    def send_now(self, text: str) -> None:
        """Write one text frame now (no await). ``WsClosed`` when the connection is not open."""
        transport = self._transport
        if not self._open or transport is None or transport.is_closing():
            raise WsClosed(f"{self.name}: send on a closed connection")
        transport.write(encode_frame(_OP_TEXT, text.encode()))
        self.frames_sent += 1

    async def send(self, text: str) -> None:
        self.send_now(text)
        if self._paused:
            if self._drain is None:
                assert self._loop is not None
                self._drain = self._loop.create_future()
            await self._drain

    async def receive(self) -> Frame:
        """The next data frame (queue mode). ``WsClosed`` when the connection ends."""
        while True:
            if self._frames:
                return self._frames.popleft()
            if not self._open:
                raise WsClosed(f"{self.name}: {self._reason}", self.close_code)
            assert self._loop is not None
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None


__all__ = ["LeanWsConnection", "accept_key", "encode_frame", "mask_payload"]
