"""The private user stream, written once for every venue: open it in the venue's shape, translate
frames through the venue module, and start over on expiry or disconnection.

The three shapes (``StreamShape``), one strategy each:

* ``TOKEN``: ask for a stream key or token over REST, connect to the URL carrying it, send the
  venue's subscriptions (often none), keep the key alive over REST.
* ``LOGIN``: connect, send the login message the venue builds from the credentials and the
  synchronized time, wait for its ack, then send the subscriptions.
* ``SIGNED_SUBSCRIBE``: connect and send the venue's signed subscriptions.

Text pings (OKX ``"ping"``, Bybit ``{"op":"ping"}``) are declared by the venue
(``user_stream_ping`` every ``user_stream_ping_interval`` seconds); protocol pings always run.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Optional

from hbconnect.connector.contract import StreamExpired, StreamShape, VenueRequest
from hbconnect.connector.private_socket import PrivateSocket, login
from hbconnect.core.backoff import Backoff
from hbconnect.core.errors import register_secret, sanitize
from hbconnect.core.ws import WsClosed, WsConnection
from hbconnect.core.ws_lean import LeanWsConnection

logger = logging.getLogger(__name__)

SendFn = Callable[[VenueRequest], Awaitable[Any]]


def _nothing() -> None:
    return None


class _Token:
    """``StreamShape.TOKEN``: a REST-issued key (or token) in the URL, kept alive over REST."""

    async def open(self, stream: "UserStream") -> tuple:
        venue = stream._venue
        key = venue.parse_stream_token(await stream._send(venue.stream_token_request()))
        # redacted while this session uses it, then among the registry's bounded recent values
        stream._release_token = register_secret(key, owner=stream)
        stream.key_renewals += 1
        conn = await stream._connect(venue.user_stream_url(key))
        return conn, stream._keepalive(key, conn)


class _Login:
    """``StreamShape.LOGIN``: connect, log in with the credentials and the synchronized time."""

    async def open(self, stream: "UserStream") -> tuple:
        venue = stream._venue
        conn = await stream._connect(venue.user_stream_url(None))
        try:
            await login(conn, venue.user_stream_login(stream._time_ms()), venue.parse_login_reply,
                        stream.login_timeout, stream.handle_frame)
        except BaseException:
            await conn.close()
            raise
        stream.key_renewals += 1
        return conn, None


class _SignedSubscribe:
    """``StreamShape.SIGNED_SUBSCRIBE``: connect; the subscriptions themselves are signed."""

    async def open(self, stream: "UserStream") -> tuple:
        conn = await stream._connect(stream._venue.user_stream_url(None))
        stream.key_renewals += 1
        return conn, None


#: the strategy opening each shape of private stream
STRATEGIES = {
    StreamShape.TOKEN: _Token(),
    StreamShape.LOGIN: _Login(),
    StreamShape.SIGNED_SUBSCRIBE: _SignedSubscribe(),
}


class UserStream(PrivateSocket):
    """Keeps one authenticated user-data connection up.

    ``on_events(events)`` receives the translated events of each frame; ``on_connected()`` is
    called after every (re)connection (the engine then reconciles what it may have missed) and
    ``on_disconnected()`` when the connection is lost. ``time_ms()`` is the synchronized venue
    time (milliseconds) that logins and signed subscriptions carry.
    """

    kind = "user stream"
    #: frames are read one by one (``receive``), without aiohttp's message objects
    connection_class = LeanWsConnection

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
        time_ms: Optional[Callable[[], int]] = None,
        login_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(venue, time_ms=time_ms, protocol_ping=protocol_ping, backoff=backoff,
                         login_timeout=login_timeout)
        self._strategy = STRATEGIES[venue.user_stream_shape]
        self._send = send
        self._on_events = on_events
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.keepalive_interval = keepalive_interval
        self.connected = False
        self.connects = 0
        self.frames = 0
        self.parse_errors = 0
        self.key_renewals = 0
        self.last_frame_time = 0.0  # ``clock`` time of the last frame
        self._clock = clock
        #: releases the redaction of the current session's token (see ``_Token``)
        self._release_token: Callable[[], None] = _nothing
        #: the order-entry session whose socket carries the events (see :meth:`ride`); None:
        #: this stream keeps its own socket
        self.carrier: Any = None

    # -- the events on the order-entry socket --

    def ride(self, session: Any) -> None:
        """Take the events from ``session`` (a ``WsOrderSession`` of a venue with
        ``ws_user_stream``): it subscribes once logged in and hands over each event frame's
        events; no socket, no stream key of its own. A refused subscription falls back to
        this stream's own socket (:meth:`fall_back`)."""
        self.carrier = session
        session.user_stream = self

    def start(self) -> None:
        self._stopping = False
        if self.carrier is None:
            super().start()

    def reconnect(self) -> None:
        if self.carrier is not None:
            self.carrier.reconnect()
        else:
            super().reconnect()

    def fall_back(self) -> None:
        """The carrier's subscription was refused: the events come on this stream's own socket
        (the venue's ``user_stream_shape``) from now on."""
        carrier, self.carrier = self.carrier, None
        if carrier is not None:
            carrier.user_stream = None
        if not self._stopping:
            super().start()

    def carried_up(self) -> None:
        """The carrier's subscription is active: the stream is connected."""
        self.connected = True
        self.connects += 1
        self.key_renewals += 1
        self._notify(self._on_connected)

    def carried_down(self) -> None:
        """The carrier's socket or subscription ended."""
        self._session_ended()

    def _session_ended(self) -> None:
        if self.connected:
            self.connected = False
            if not self._stopping:
                self._notify(self._on_disconnected)

    async def _session(self) -> None:
        conn, maintain = await self._strategy.open(self)
        keepalive = asyncio.get_running_loop().create_task(maintain) if maintain is not None else None
        try:
            for message in self._venue.user_stream_subscriptions(self._time_ms()):
                await conn.send(message)
            self.connected = True
            self.connects += 1
            self._notify(self._on_connected)
            deliver_to = getattr(conn, "deliver_to", None)
            if deliver_to is not None:
                # the lean socket hands each frame over from its protocol callback (no task
                # wake-up per frame); an expiry closes the connection and ends the session
                expired: list = []

                def on_frame(frame: Any) -> None:
                    if not expired and self.handle_frame(frame):
                        expired.append(asyncio.get_running_loop().create_task(conn.close()))
                deliver_to(on_frame)
                try:
                    await conn.wait_closed()
                except WsClosed:
                    if not expired:
                        raise
                logger.info("%s user stream: session expired; renewing", self._venue.name)
                return
            while True:
                if self.handle_frame(await conn.receive()):
                    logger.info("%s user stream: session expired; renewing", self._venue.name)
                    return
        finally:
            if keepalive is not None:
                keepalive.cancel()
            elif maintain is not None:
                maintain.close()
            self._release_token()
            self._release_token = _nothing
            self._conn = None
            await conn.close()

    def handle_frame(self, frame: Any) -> bool:
        """Translate one frame and hand its events on. Returns True when the venue says the
        session (token, login) expired: the caller then starts over. Never raises."""
        try:
            events = self._venue.parse_user_stream(frame)
        except (ValueError, KeyError, TypeError) as exc:
            self.frames += 1
            self.last_frame_time = self._clock()
            self.parse_errors += 1
            logger.warning("%s user stream: malformed frame skipped (%s)", self._venue.name, sanitize(exc))
            return False
        return self.handle_events(events)

    def handle_events(self, events: list) -> bool:
        """Hand on the translated events of one frame (see :meth:`handle_frame`)."""
        self.frames += 1
        self.last_frame_time = self._clock()
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
            request = self._venue.stream_token_keepalive_request(key)
            if request is None:  # the venue needs no keep-alive
                return
            try:
                await self._send(request)
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
