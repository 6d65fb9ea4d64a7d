"""WebSocket transport: one connection (heartbeats, receive timeout, clean close) and a
reconnecting runner (exponential backoff with jitter).

* Protocol-level: aiohttp answers the venue's ping frames (autoping) and, when
  ``protocol_ping`` is set, sends its own pings and drops the connection if no pong comes.
* Application-level: when the endpoint has ``ping_interval``/``ping_message`` (OKX ``"ping"``,
  Bybit ``{"op":"ping"}``, KuCoin ``{"type":"ping"}``), that text is sent on that period.
* ``receive_timeout``: no frame at all for that long means the connection is dead; it is closed
  and ``WsClosed`` is raised, so the runner reconnects.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Mapping, Optional, Union

import aiohttp

from hbconnect.core.backoff import Backoff
from hbconnect.core.errors import ExchangeError, NetworkError

logger = logging.getLogger(__name__)

Frame = Union[str, bytes]
_TEXT = aiohttp.WSMsgType.TEXT
_BINARY = aiohttp.WSMsgType.BINARY
_PING = aiohttp.WSMsgType.PING
_PONG = aiohttp.WSMsgType.PONG
_monotonic = time.monotonic


class WsClosed(NetworkError):
    """The websocket is closed (by the venue, by a network error or by a receive timeout)."""

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        self.close_code = code
        super().__init__(None, message)


class WsConnection:
    """One websocket connection. ``receive()`` yields text (str) or binary (bytes) frames."""

    def __init__(
        self,
        url: str,
        *,
        ping_interval: Optional[float] = None,
        ping_message: Optional[str] = None,
        max_message_size: int = 16 * 1024 * 1024,
        receive_timeout: Optional[float] = 30.0,
        protocol_ping: Optional[float] = 20.0,
        connect_timeout: float = 10.0,
        headers: Optional[Mapping[str, str]] = None,
        session: Optional[aiohttp.ClientSession] = None,
        name: str = "",
    ) -> None:
        self.url = url
        self.ping_interval = ping_interval
        self.ping_message = ping_message
        self.max_message_size = max_message_size
        self.receive_timeout = receive_timeout
        self.protocol_ping = protocol_ping
        self.connect_timeout = connect_timeout
        self.headers = dict(headers or {})
        self.name = name or url
        self._session = session
        self._own_session = session is None
        self._ws: Optional[aiohttp.ClientWebSocketResponse] = None
        self._ping_task: Optional[asyncio.Task] = None
        self._watchdog: Optional[asyncio.Task] = None
        self._timed_out = False
        self.frames_received = 0
        self.frames_sent = 0
        self.opened_at = 0.0
        self.last_receive = 0.0

    @classmethod
    def from_endpoint(cls, endpoint: Any, **kw: Any) -> "WsConnection":
        """Build from a ``hbconnect.market.messages.WsEndpoint``."""
        return cls(endpoint.url, ping_interval=endpoint.ping_interval, ping_message=endpoint.ping_message,
                   max_message_size=endpoint.max_message_size, **kw)

    @property
    def closed(self) -> bool:
        return self._ws is None or self._ws.closed

    async def open(self) -> "WsConnection":
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        try:
            self._ws = await asyncio.wait_for(self._session.ws_connect(
                self.url,
                heartbeat=self.protocol_ping,
                autoping=True,
                max_msg_size=self.max_message_size,
                headers=self.headers or None,
                compress=0,
            ), self.connect_timeout)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            await self._close_session()
            raise WsClosed(f"{self.name}: cannot connect to {self.url} ({exc.__class__.__name__}: {exc})") from None
        self.opened_at = self.last_receive = time.monotonic()
        loop = asyncio.get_running_loop()
        if self.ping_interval and self.ping_message:
            self._ping_task = loop.create_task(self._app_pings())
        if self.receive_timeout:
            # One watchdog per connection instead of a timer per received frame (a per-frame
            # timeout costs more than processing the frame at high message rates).
            self._watchdog = loop.create_task(self._watch_receive())
        return self

    async def _watch_receive(self) -> None:
        assert self.receive_timeout
        period = max(0.01, self.receive_timeout / 4)
        while not self.closed:
            await asyncio.sleep(period)
            if time.monotonic() - self.last_receive >= self.receive_timeout and not self.closed:
                self._timed_out = True
                ws = self._ws
                if ws is not None:
                    await ws.close(code=1001)
                return

    async def __aenter__(self) -> "WsConnection":
        return await self.open()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _app_pings(self) -> None:
        assert self.ping_interval and self.ping_message
        try:
            while not self.closed:
                await asyncio.sleep(self.ping_interval)
                if self.closed:
                    break
                await self.send(self.ping_message)
        except (WsClosed, ConnectionError, RuntimeError):
            pass
        except asyncio.CancelledError:
            raise

    async def send(self, text: str) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            raise WsClosed(f"{self.name}: send on a closed connection")
        try:
            await ws.send_str(text)
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as exc:
            raise WsClosed(f"{self.name}: send failed ({exc.__class__.__name__})") from None
        self.frames_sent += 1

    async def receive(self) -> Frame:
        """The next data frame. Raises ``WsClosed`` when the connection ends or times out."""
        ws = self._ws
        if ws is None:
            raise WsClosed(f"{self.name}: not open")
        while True:
            msg = await ws.receive()
            t = msg.type
            if t is _TEXT or t is _BINARY:
                self.frames_received += 1
                self.last_receive = _monotonic()
                return msg.data
            await self._not_data(ws, t)

    async def pump(self, on_frame: Callable[[Frame], Any]) -> None:
        """``on_frame(frame)`` for every data frame until the connection ends, which raises
        ``WsClosed`` as ``receive`` does: the same as calling ``receive`` in a loop, with one
        coroutine less per frame (frames already read from the socket are handed over without
        suspending)."""
        ws = self._ws
        if ws is None:
            raise WsClosed(f"{self.name}: not open")
        receive = ws.receive
        while True:
            msg = await receive()
            t = msg.type
            if t is _TEXT or t is _BINARY:
                self.frames_received += 1
                self.last_receive = _monotonic()
                on_frame(msg.data)
            else:
                await self._not_data(ws, t)

    async def _not_data(self, ws: Any, t: Any) -> None:
        """A message that is not a data frame: a ping or pong returns; anything else closes the
        connection and raises ``WsClosed``."""
        if t is _PING or t is _PONG:
            self.last_receive = _monotonic()
            return
        code = ws.close_code
        if self._timed_out:
            reason = f"no frame for {self.receive_timeout:g}s"
        elif t is aiohttp.WSMsgType.ERROR:
            reason = f"error {ws.exception()!r}"
        else:
            reason = f"closed by peer (code {code})"
        await self.close()
        raise WsClosed(f"{self.name}: {reason}", code)

    def __aiter__(self) -> "WsConnection":
        return self

    async def __anext__(self) -> Frame:
        try:
            return await self.receive()
        except WsClosed:
            raise StopAsyncIteration from None

    async def close(self) -> None:
        """Close cleanly (close frame, then the session if we own it). Idempotent."""
        current = asyncio.current_task()
        for task in (self._ping_task, self._watchdog):
            if task is not None and task is not current:
                task.cancel()
        self._ping_task = self._watchdog = None
        ws = self._ws
        if ws is not None and not ws.closed:
            try:
                await asyncio.wait_for(ws.close(), 5.0)
            except (asyncio.TimeoutError, ConnectionError, RuntimeError, aiohttp.ClientError):
                pass
        await self._close_session()

    async def _close_session(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()
        if self._own_session:
            self._session = None


def _named(name: str, error: Optional[BaseException]) -> str:
    """``error``'s text prefixed with the runner's ``name`` unless the error already names it
    (a ``WsConnection`` of the same name does)."""
    text = str(error)
    return text if text.startswith(f"{name}:") else f"{name}: {text}"


OnOpen = Callable[[WsConnection], Awaitable[None]]
OnFrame = Callable[[Frame], Any]
OnClose = Callable[[Optional[BaseException]], Any]


class ReconnectingWs:
    """Keeps a connection up: open -> ``on_open`` (subscribe) -> frames to ``on_frame`` -> on drop
    ``on_close`` and reconnect after an exponential backoff with jitter. The backoff resets once
    a connection has stayed up for ``stable_after`` seconds. ``stop()`` ends it cleanly."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[WsConnection]],
        on_frame: OnFrame,
        *,
        on_open: Optional[OnOpen] = None,
        on_close: Optional[OnClose] = None,
        backoff: Optional[Backoff] = None,
        stable_after: float = 30.0,
        name: str = "ws",
    ) -> None:
        self._connect = connect
        self._on_frame = on_frame
        self._on_open = on_open
        self._on_close = on_close
        self.backoff = backoff or Backoff(0.5, 30.0)
        self.stable_after = stable_after
        self.name = name
        self.connection: Optional[WsConnection] = None
        self.connects = 0
        self.disconnects = 0
        self._stopping = False
        self._wake = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping:
            error: Optional[BaseException] = None
            conn: Optional[WsConnection] = None
            try:
                conn = await self._connect()
                self.connection = conn
                self.connects += 1
                if self._on_open is not None:
                    await self._on_open(conn)
                await conn.pump(self._on_frame)  # returns only by raising WsClosed
            except ExchangeError as exc:  # WsClosed, or a REST call of ``connect`` (KuCoin's token)
                error = exc
            except asyncio.CancelledError:
                if conn is not None:
                    await conn.close()
                raise
            except Exception as exc:  # a bug in a callback must not kill the connection loop
                logger.exception("%s: unexpected error in connection loop", self.name)
                error = exc
            if conn is not None:
                up = time.monotonic() - conn.opened_at
                await conn.close()
                if up >= self.stable_after:
                    self.backoff.reset()
            self.connection = None
            self.disconnects += 1
            if self._on_close is not None:
                try:
                    self._on_close(error)
                except Exception:
                    logger.exception("%s: on_close failed", self.name)
            if self._stopping:
                break
            delay = self.backoff.next_delay()
            logger.warning("%s; reconnecting in %.2fs", _named(self.name, error), delay)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except asyncio.TimeoutError:
                pass

    def reconnect_now(self) -> None:
        """Drop the current connection (if any) so that the loop reconnects."""
        conn = self.connection
        if conn is not None:
            asyncio.get_running_loop().create_task(conn.close())

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        conn = self.connection
        if conn is not None:
            await conn.close()
