"""The private user stream, once for every listen-key venue: create the key, connect, keep the key
alive, translate frames through the venue module, and start over on expiry or disconnection."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Optional

from hbconnect.connector.contract import StreamExpired, VenueRequest
from hbconnect.core.backoff import Backoff
from hbconnect.core.errors import ExchangeError, register_secret, sanitize
from hbconnect.core.ws import WsClosed, WsConnection

logger = logging.getLogger(__name__)

SendFn = Callable[[VenueRequest], Awaitable[Any]]


class UserStream:
    """Keeps one authenticated user-data connection up.

    ``on_events(events)`` receives the translated events of each frame; ``on_connected()`` is
    called after every (re)connection (the engine then reconciles what it may have missed) and
    ``on_disconnected()`` when the connection is lost.
    """

    def __init__(
        self,
        venue: Any,
        send: SendFn,
        on_events: Callable[[list], None],
        *,
        on_connected: Optional[Callable[[], None]] = None,
        on_disconnected: Optional[Callable[[], None]] = None,
        keepalive_interval: float = 30 * 60.0,
        protocol_ping: float = 20.0,
        backoff: Optional[Backoff] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._venue = venue
        self._send = send
        self._on_events = on_events
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.keepalive_interval = keepalive_interval
        self.protocol_ping = protocol_ping
        self.backoff = backoff or Backoff(0.2, 10.0)
        self.connected = False
        self.connects = 0
        self.frames = 0
        self.parse_errors = 0
        self.key_renewals = 0
        self.last_frame_time = 0.0  # ``clock`` time of the last frame
        self._clock = clock
        self._conn: Optional[WsConnection] = None
        self._task: Optional[asyncio.Task] = None
        self._stopping = False

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self._venue.name}-user-stream")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        conn = self._conn
        if conn is not None:
            await conn.close()
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self.connected = False

    def reconnect(self) -> None:
        """Drop the connection and start over with a fresh listen key."""
        conn = self._conn
        if conn is not None:
            asyncio.get_running_loop().create_task(conn.close())

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._session()
                self.backoff.reset()
            except asyncio.CancelledError:
                raise
            except (ExchangeError, WsClosed, ValueError, KeyError, TypeError) as exc:
                logger.warning("%s user stream: %s", self._venue.name, sanitize(exc))
            except Exception:  # never let the stream die silently
                logger.exception("%s user stream: unexpected error", self._venue.name)
            if self.connected:
                self.connected = False
                self._notify(self._on_disconnected)
            if self._stopping:
                break
            await asyncio.sleep(self.backoff.next_delay())

    async def _session(self) -> None:
        key = self._venue.parse_listen_key(await self._send(self._venue.listen_key_request()))
        # redacted while this session uses it, then among the registry's bounded recent values
        release = register_secret(key, owner=self)
        try:
            await self._run_session(key)
        finally:
            release()

    async def _run_session(self, key: str) -> None:
        self.key_renewals += 1
        conn = WsConnection(self._venue.user_stream_url(key), receive_timeout=None,
                            protocol_ping=self.protocol_ping, name=f"{self._venue.name} user stream")
        await conn.open()
        self._conn = conn
        keepalive = asyncio.get_running_loop().create_task(self._keepalive(key, conn))
        try:
            self.connected = True
            self.connects += 1
            self._notify(self._on_connected)
            while True:
                if self.handle_frame(await conn.receive()):
                    logger.info("%s user stream: listen key expired; renewing", self._venue.name)
                    return
        finally:
            keepalive.cancel()
            self._conn = None
            await conn.close()

    def handle_frame(self, frame: Any) -> bool:
        """Translate one frame and hand its events on. Returns True when the venue says the
        listen key expired (the caller then starts over with a new one). Never raises."""
        self.frames += 1
        self.last_frame_time = self._clock()
        try:
            events = self._venue.parse_user_stream(frame)
        except (ValueError, KeyError, TypeError) as exc:
            self.parse_errors += 1
            logger.warning("%s user stream: malformed frame skipped (%s)", self._venue.name, sanitize(exc))
            return False
        if not events:
            return False
        expired = False
        for e in events:
            if isinstance(e, StreamExpired):
                expired = True
                events = [e for e in events if not isinstance(e, StreamExpired)]
                break
        if events:
            try:
                self._on_events(events)
            except Exception:
                logger.exception("%s user stream: event handling failed", self._venue.name)
        return expired

    async def _keepalive(self, key: str, conn: WsConnection) -> None:
        while True:
            await asyncio.sleep(self.keepalive_interval)
            try:
                await self._send(self._venue.listen_key_keepalive_request(key))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("%s user stream: keepalive failed (%s); reconnecting", self._venue.name,
                               sanitize(exc))
                await conn.close()
                return

    @staticmethod
    def _notify(cb: Optional[Callable[[], None]]) -> None:
        if cb is not None:
            try:
                cb()
            except Exception:
                logger.exception("user stream callback failed")
