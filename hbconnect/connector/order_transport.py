"""How orders reach the venue: REST, or the venue's WebSocket order entry, chosen per venue.

:class:`OrderTransport` sends creates and cancels over the venue's order-entry socket
(:class:`WsOrderSession`) while it is logged in, and over REST while it is down. Both paths keep
the never-resend rule: a message that may have reached the venue (sent, then the socket closed
or no reply came in time) is never sent again, on either path; it raises an error with
``outcome_unknown`` set and the engine resolves it by asking the venue for the order. A message
that could not be sent at all (the socket was down) goes over REST instead.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any, Awaitable, Callable, Dict, Optional

from hbconnect.connector.contract import AccountSettings, VenueRequest, WsOrderReply, WsSessionNotice, WsUserData
from hbconnect.connector.private_socket import PrivateSocket, login
from hbconnect.core.errors import ExchangeError, RateLimitError, RequestTimeout, TimeSyncError, sanitize
from hbconnect.core.throttler import keyed_limit_id
from hbconnect.core.ws import WsClosed, WsConnection
from hbconnect.core.ws_lean import LeanWsConnection

logger = logging.getLogger(__name__)

SendFn = Callable[..., Awaitable[Any]]


class _NotSent(Exception):
    """The order-entry socket is not logged in: nothing was sent."""


class WsOrderSession(PrivateSocket):
    """One logged-in connection to the venue's order entry; replies matched to requests by id.

    ``time_ms()`` gives the synchronized venue time that logins and signed messages carry;
    ``on_rate_limited(retry_after)`` hears about rate-limit replies (the engine slows down);
    ``on_usage(counts)`` gets the venue's own rate-limit counts a reply carries.
    ``lean``: the socket is :class:`LeanWsConnection` (frames handed to the reply matcher from
    the protocol callback, requests written without awaiting), else aiohttp's ``WsConnection``.
    """

    kind = "order entry"

    def __init__(self, venue: Any, time_ms: Callable[[], int], *,
                 on_rate_limited: Optional[Callable[[Optional[float]], Any]] = None,
                 on_usage: Optional[Callable[[dict], Any]] = None, lean: bool = True, **kw: Any) -> None:
        super().__init__(venue, time_ms=time_ms, **kw)
        self.lean = lean
        self.connection_class = LeanWsConnection if lean else WsConnection
        self._on_rate_limited = on_rate_limited
        self._on_usage = on_usage
        self._pending: Dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self.ready = False  # connected and logged in
        self.connects = 0
        self.unmatched_replies = 0
        self.parse_errors = 0
        self.revocations = 0  # sessions the venue revoked (logged in again after)
        self.shutdown_notices = 0  # "move to a new connection" notices
        #: seconds a connection the venue is retiring keeps serving the replies awaited on it
        self.drain_timeout = 10.0
        self._retiring: Optional[asyncio.Task] = None
        #: the engine's user stream when its events ride this socket (``UserStream.ride``)
        self.user_stream: Any = None
        self._subscribing: Optional[asyncio.Task] = None

    def _session_ended(self) -> None:
        self.ready = False
        self._fail_pending("order-entry socket closed before the reply")
        stream = self.user_stream
        if stream is not None:
            stream.carried_down()

    def _subscribe_user_data(self) -> None:
        """Start the user-data subscription on this socket (a reply like any other)."""
        task = self._subscribing
        if task is None or task.done():
            self._subscribing = asyncio.get_running_loop().create_task(self._user_data_subscription())

    async def _user_data_subscription(self) -> None:
        stream = self.user_stream
        if stream is None:
            return
        conn = self._conn
        try:
            await self.request(self._venue.ws_user_stream_message, self.login_timeout)
        except _NotSent:
            return  # the socket went down: the next session subscribes
        except RequestTimeout as exc:
            if conn is None or conn.closed or self._conn is not conn:
                return  # the socket went down meanwhile: the next session subscribes
            logger.warning("%s order entry: no answer to the user-data subscription (%s); user stream "
                           "on its own socket", self._venue.name, sanitize(exc))
            stream.fall_back()
            return
        except ExchangeError as exc:
            logger.warning("%s order entry: user-data subscription refused (%s); user stream on its own "
                           "socket", self._venue.name, sanitize(exc))
            stream.fall_back()
            return
        if self.user_stream is stream and self._conn is conn and not conn.closed:
            stream.carried_up()

    async def _session(self) -> None:
        venue = self._venue
        conn = await self._connect(venue.ws_order_url())
        try:
            message = venue.ws_order_login(self._time_ms())
            if message is not None:
                await login(conn, message, venue.parse_login_reply, self.login_timeout, self._on_frame)
            self.connects += 1
            self.ready = True
            if self.user_stream is not None:
                self._subscribe_user_data()
            if self.lean:
                conn.deliver_to(self._on_frame)
                await conn.wait_closed()
            while True:
                self._on_frame(await conn.receive())
        finally:
            self.ready = False
            self._conn = None
            task, self._subscribing = self._subscribing, None
            if task is not None and not task.done():
                task.cancel()
            await conn.close()

    def _on_frame(self, frame: Any) -> None:
        try:
            reply = self._venue.parse_ws_order_reply(frame)
        except (ValueError, KeyError, TypeError) as exc:
            self.parse_errors += 1
            logger.warning("%s order entry: unreadable frame skipped (%s)", self._venue.name, sanitize(exc))
            return
        if reply is None:
            return
        if type(reply) is WsUserData:
            stream = self.user_stream
            if stream is not None and stream.handle_events(reply.events):
                # the subscription ended (eventStreamTerminated): the socket is still up
                stream.carried_down()
                if self.ready:
                    self._subscribe_user_data()
            return
        if type(reply) is WsSessionNotice:
            self._on_session_notice(reply)
            return
        if reply.usage and self._on_usage is not None:
            self._on_usage(reply.usage)
        fut = self._pending.pop(reply.request_id, None)
        if fut is None or fut.done():
            self.unmatched_replies += 1
            return
        if reply.error is not None:
            if isinstance(reply.error, RateLimitError) and self._on_rate_limited is not None:
                self._on_rate_limited(reply.error.retry_after)
            fut.set_exception(reply.error)
        else:
            fut.set_result(reply.data)

    def _on_session_notice(self, notice: WsSessionNotice) -> None:
        """The venue revoked the session, or is retiring the connection. Either way no new
        request goes on this socket (they go over REST until a new session is logged in).
        Revoked: the requests awaiting a reply may never get one: they end now with their
        outcome unknown (the engine asks the venue; nothing is re-sent), and the connection
        starts over with a fresh login. Retiring: the awaited replies still come on this
        connection; it closes once they are in (or after ``drain_timeout``), then starts over."""
        conn = self._conn
        self.ready = False
        if notice.revoked:
            self.revocations += 1
            logger.warning("%s order entry: %s; logging in again, orders over REST meanwhile",
                           self._venue.name, sanitize(notice.reason))
            self._fail_pending(f"order-entry {notice.reason} before the reply")
            self.reconnect()
            return
        self.shutdown_notices += 1
        logger.info("%s order entry: %s; moving to a new connection", self._venue.name, sanitize(notice.reason))
        if conn is not None:
            self._retiring = asyncio.get_running_loop().create_task(self._retire(conn))

    async def _retire(self, conn: Any) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout
        while self._pending and not conn.closed and loop.time() < deadline:
            await asyncio.sleep(0.005)
        await conn.close()

    def _fail_pending(self, why: str) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                # sent, no reply: the venue may have acted on it
                fut.set_exception(RequestTimeout(None, why, venue=self._venue.name))

    async def request(self, build: Callable[[str, int], str], timeout: float) -> Any:
        """Send the message ``build(request_id, timestamp_ms)`` and return the reply's data.

        ``_NotSent`` when the socket is not logged in (nothing was sent: REST may carry it);
        ``RequestTimeout`` (``outcome_unknown``) when it was sent and no reply came; the
        venue's classified error when the reply is one."""
        conn = self._conn
        if not self.ready or conn is None or conn.closed:
            raise _NotSent()
        request_id = str(next(self._ids))
        message = build(request_id, self._time_ms())
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._pending[request_id] = fut
        try:
            if self.lean:
                conn.send_now(message)
            else:
                await conn.send(message)
        except WsClosed as exc:
            # the frame may have been partly written before the socket failed: never re-send
            self._pending.pop(request_id, None)
            raise RequestTimeout(None, f"order-entry socket failed while sending ({exc})",
                                 venue=self._venue.name) from None
        # one timer per request, no wait_for / shield task: the reply resolves ``fut`` directly
        timer = loop.call_later(timeout, self._expire, request_id, timeout)
        try:
            return await fut
        finally:
            timer.cancel()

    def _expire(self, request_id: str, timeout: float) -> None:
        fut = self._pending.pop(request_id, None)
        if fut is not None and not fut.done():
            fut.set_exception(RequestTimeout(None, f"no order-entry reply in {timeout:g}s", venue=self._venue.name))


class OrderTransport:
    """Creates and cancels over the venue's WebSocket order entry when it offers one and it is
    up, else over REST (``send(VenueRequest, timeout=...)``, the engine's REST path).

    :param use_ws: False keeps every order on REST even when the venue offers WebSocket entry.
    :param resync: re-synchronizes the venue time (after a timestamp refusal on the socket).
    """

    def __init__(self, venue: Any, send: SendFn, time_ms: Callable[[], int], *, use_ws: bool = True,
                 throttler: Any = None, resync: Optional[Callable[[], Awaitable[Any]]] = None,
                 **session_kw: Any) -> None:
        self._venue = venue
        self._send = send
        self._resync = resync
        self._throttler = throttler
        self.session: Optional[WsOrderSession] = None
        if use_ws and getattr(venue, "ws_order_entry", False):
            slow = throttler.slow_down if throttler is not None else None
            follow = throttler.follow if throttler is not None else None
            self.session = WsOrderSession(venue, time_ms, on_rate_limited=slow, on_usage=follow, **session_kw)
        self.sent_ws = 0
        self.sent_rest = 0

    @property
    def uses_ws(self) -> bool:
        return self.session is not None

    def start(self) -> None:
        if self.session is not None:
            self.session.start()

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.stop()

    async def _ws(self, limit_id: str, build: Callable[[str, int], str], timeout: float) -> Any:
        """The reply's data, or ``_NotSent`` when the socket is down. A timestamp refusal (the
        venue acted on nothing) re-syncs the time and is sent once more, as on REST."""
        assert self.session is not None
        for attempt in (1, 2):
            if not self.session.ready:
                raise _NotSent()
            if self._throttler is not None and limit_id:
                await self._throttler.acquire(limit_id)
            try:
                result = await self.session.request(build, timeout)
            except TimeSyncError:
                if attempt == 2 or self._resync is None:
                    raise
                logger.warning("%s order entry: timestamp refused; re-syncing time and retrying", self._venue.name)
                await self._resync()
                continue
            self.sent_ws += 1
            return result
        raise AssertionError("unreachable")

    async def place(self, order: Any, account: AccountSettings, timeout: float) -> Any:
        """The venue's answer to the create (for ``parse_place_order``); typed errors."""
        venue = self._venue
        if self.session is not None:
            try:
                return await self._ws(
                    keyed_limit_id(venue.ws_place_limit_id, order.trading_pair),
                    lambda rid, ts: venue.ws_place_order_message(order, account, rid, ts), timeout)
            except _NotSent:
                pass
        self.sent_rest += 1
        return await self._send(venue.place_order_request(order, account), timeout=timeout)

    async def cancel(self, order: Any, timeout: Optional[float] = None) -> Any:
        """The venue's answer to the cancel (for ``parse_cancel_order``); typed errors."""
        venue = self._venue
        if self.session is not None:
            try:
                return await self._ws(keyed_limit_id(venue.ws_cancel_limit_id, order.trading_pair),
                                      lambda rid, ts: venue.ws_cancel_order_message(order, rid, ts),
                                      timeout if timeout is not None else 10.0)
            except _NotSent:
                pass
        self.sent_rest += 1
        request: VenueRequest = venue.cancel_order_request(order)
        return await self._send(request, timeout=timeout)


__all__ = ["OrderTransport", "WsOrderSession"]
