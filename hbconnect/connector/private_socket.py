"""A private WebSocket the engine keeps up (the user stream, the order entry): connect, run a
session, and start over with backoff after every failure until stopped. Also the WebSocket
login handshake both use."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Optional

from hbconnect.core.backoff import Backoff
from hbconnect.core.errors import AuthenticationError, ExchangeError, sanitize
from hbconnect.core.ws import WsClosed, WsConnection

logger = logging.getLogger(__name__)


async def login(conn: WsConnection, message: str, parse_reply: Callable[[Any], Optional[bool]],
                timeout: float, on_other: Optional[Callable[[Any], Any]] = None) -> None:
    """Send a WebSocket login ``message`` and wait for the frame ``parse_reply`` accepts (True).
    ``parse_reply`` raises (``AuthenticationError``) on a refusal and returns None for other
    frames, which go to ``on_other``. No ack within ``timeout`` seconds: ``AuthenticationError``."""
    await conn.send(message)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise AuthenticationError(None, f"{conn.name}: no login answer in {timeout:g} s")
        try:
            frame = await asyncio.wait_for(conn.receive(), left)
        except asyncio.TimeoutError:
            continue
        if parse_reply(frame):
            return
        if on_other is not None:
            on_other(frame)


class PrivateSocket:
    """Keeps one private connection up. Subclasses implement :meth:`_session` (connect with
    :meth:`_connect`, authenticate, read until the connection ends) and may override
    :meth:`_session_ended`. ``time_ms()`` is the synchronized venue time logins carry; the venue's
    text ping (``user_stream_ping`` every ``user_stream_ping_interval`` s) runs on every socket."""

    kind = "private socket"

    def __init__(self, venue: Any, *, time_ms: Optional[Callable[[], int]] = None, protocol_ping: float = 20.0,
                 backoff: Optional[Backoff] = None, login_timeout: float = 10.0) -> None:
        self._venue = venue
        self._time_ms = time_ms or (lambda: int(time.time() * 1000))
        self.protocol_ping = protocol_ping
        self.backoff = backoff or Backoff(0.2, 10.0)
        self.login_timeout = login_timeout
        self._conn: Optional[WsConnection] = None
        self._task: Optional[asyncio.Task] = None
        self._stopping = False

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = False
            name = f"{self._venue.name}-{self.kind.replace(' ', '-')}"
            self._task = asyncio.get_running_loop().create_task(self._run(), name=name)

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
        self._session_ended()

    def reconnect(self) -> None:
        """Drop the connection and start over (a fresh token, a fresh login)."""
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
                if not self._stopping:  # a stop closes the socket: nothing to warn about
                    logger.warning("%s %s: %s", self._venue.name, self.kind, sanitize(exc))
            except Exception:  # never let the socket die silently
                logger.exception("%s %s: unexpected error", self._venue.name, self.kind)
            self._session_ended()
            if self._stopping:
                break
            await asyncio.sleep(self.backoff.next_delay())

    #: the connection class (same constructor and surface as ``WsConnection``)
    connection_class: Any = WsConnection

    async def _connect(self, url: str) -> Any:
        venue = self._venue
        conn = self.connection_class(url, receive_timeout=None, protocol_ping=self.protocol_ping,
                                     ping_interval=getattr(venue, "user_stream_ping_interval", 0.0) or None,
                                     ping_message=getattr(venue, "user_stream_ping", None),
                                     name=f"{venue.name} {self.kind}")
        self._conn = conn
        await conn.open()
        return conn

    async def _session(self) -> None:
        raise NotImplementedError

    def _session_ended(self) -> None:
        """Called after every session (and on stop)."""
