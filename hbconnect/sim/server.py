"""Venue-neutral HTTP/WebSocket machinery of the embedded exchange's front ends.

A :class:`FrontEnd` is one aiohttp application bound to 127.0.0.1 (its own port, free by
default) that serves one venue protocol over one matching engine.  This module holds what
every venue does alike; a venue subclass only says what its wire looks like:

* lifecycle: ``start(port)`` / ``stop()`` (a stop drops every connection; a later start is a
  restart on the same port), ``rest_url`` / ``ws_url``, a periodic ``tick(now)`` every
  ``tick_seconds`` for market-data pushes and expiries, connections closed after
  ``max_connection_seconds``;
* REST: ``self.route(method, path, handler, order=..., fault_exempt=..., **meta)`` registers a
  handler behind one pipeline: ``read_request`` (venue parsing) -> ``admit`` (venue rate
  limits) -> the generic fault knobs of :mod:`hbconnect.sim.faults` (429 / 5xx / slow, and on
  order routes the lost-answer and not-done faults) -> ``authenticate`` (venue signing) ->
  ``handler(request, req, account)`` -> ``ok_response``.  A :class:`WireError` raised anywhere
  is answered as-is; a core :class:`~hbconnect.sim.errors.SimReject` goes through the venue's
  ``reject_error`` map; anything else is logged and answered ``internal_error(500)``;
* WebSocket: ``await self.serve_ws(request, on_text, setup=...)`` runs a session (protocol
  pings, incoming-message rate limit, a writer task per connection); a :class:`WsConn` carries
  the session's market ``streams``, private ``user_subs`` / ``sessions`` and a venue ``state``
  dict, and sends frames through the WebSocket fault knobs (drop / duplicate / delay / close per
  kind ``market`` / ``user``); ``push_market(stream, payload)`` and ``push_user(owner, payload)``
  fan out through the venue's ``market_frame`` / ``user_targets`` hooks.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Awaitable, Callable, Iterable, Optional, Sequence

import aiohttp
import aiohttp.http_exceptions
from aiohttp import WSMsgType, web

from hbconnect.sim.errors import SimReject
from hbconnect.sim.faults import FaultInjector
from hbconnect.sim.matching import BUY, Fill, MatchingBook, MatchingEngine, now_ms

logger = logging.getLogger(__name__)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


async def cancel_and_wait(tasks: list[asyncio.Task]) -> None:
    """Cancel tasks and wait for them to end (their errors are swallowed: we are stopping)."""
    for t in tasks:
        t.cancel()
    for t in tasks:
        try:
            await t
        except (asyncio.CancelledError, Exception):
            pass


class ClientGone(Exception):
    """The client aborted or stalled mid-request (body not received within ``read_timeout``)."""


class WireError(Exception):
    """An error answer exactly as the venue sends it: HTTP ``status``, JSON ``body``, headers.

    Venues subclass it with their own constructor (e.g. ``code, msg``); the machinery only
    reads ``status``, ``body()`` and ``headers``."""

    def __init__(self, status: int, body: Any, headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self._body = body
        self.headers = headers or {}

    def body(self) -> Any:
        return self._body


@dataclass
class Route:
    """What a REST route declared: order-entry (order faults, order limits), exempt from the
    generic faults (ping/time/instruments), and free venue metadata (weights, security...)."""

    method: str
    path: str
    order: bool = False
    fault_exempt: bool = False
    meta: dict = field(default_factory=dict)


Handler = Callable[[web.Request, Any, Any], Awaitable[Any]]


class WsConn:
    """One WebSocket session: its subscriptions and an outgoing queue with fault injection."""

    def __init__(self, front: "FrontEnd", ws: web.WebSocketResponse, combined: bool = False) -> None:
        self.front = front
        self.ws = ws
        self.combined = combined                # venue flag (e.g. a combined-stream envelope)
        self.streams: set[str] = set()          # market streams / topics
        self.user_subs: set[str] = set()        # private subscriptions (listen keys, topics)
        self.sessions: dict[Any, str] = {}      # session id (or topic) -> account id
        self.owner: Optional[str] = None        # account id of a logged-in session
        self.state: dict[str, Any] = {}         # anything else the venue keeps per session
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=50_000)
        self.closed = False
        self.opened = time.monotonic()
        self._next_sub = 0

    def next_id(self) -> int:
        n = self._next_sub
        self._next_sub += 1
        return n

    @property
    def is_user(self) -> bool:
        return bool(self.user_subs or self.sessions or self.owner)

    def send_text(self, text: str, kind: str) -> None:
        """A data frame of ``kind`` (``market`` / ``user``) through the fault knobs."""
        if self.closed:
            return
        decision = self.front.faults.frame(kind)
        if decision == "drop":
            return
        if decision == "close":
            self.close()
            return
        if decision == "delay":
            asyncio.get_running_loop().call_later(self.front.faults.config.delay_seconds,
                                                  self._put, text)
            return
        self._put(text)
        if decision == "duplicate":
            self._put(text)

    def send_raw(self, obj: Any) -> None:
        """A control answer (subscribe ack, pong, login result): never faulted."""
        self._put(obj if isinstance(obj, str) else dumps(obj))

    def end_after_queued(self) -> None:
        """Close the socket once what is queued now was written."""
        self._put(None)

    def _put(self, text: Optional[str]) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:    # a client too slow to read gets disconnected, as venues do
            logger.warning("sim ws client too slow; closing its connection")
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.queue.put_nowait(None)
            except asyncio.QueueFull:
                pass
            asyncio.ensure_future(self.ws.close())


def book_changes(book: MatchingBook, after_id: int) -> tuple[list, list]:
    """The levels changed after update id ``after_id``: (bids high->low, asks low->high) as
    (price, new total) with total 0 for a removed level; the base of every diff-depth stream."""
    changed: dict[tuple[str, Decimal], Decimal] = {}
    for _, side, price, total in book.changes_since(after_id):
        changed[(side, price)] = total
    bids = sorted(((p, q) for (sd, p), q in changed.items() if sd == BUY), reverse=True)
    asks = sorted((p, q) for (sd, p), q in changed.items() if sd != BUY)
    return bids, asks


class FrontEnd:
    """Base of every venue front end (see the module docstring for the hooks)."""

    venue = ""                      # the venue's name, as in ``exchange.VENUE_MODULES``
    market = ""                     # label of this front end for logs ("spot", "futures", ...)
    ping_interval = 20.0            # protocol-level WebSocket pings (s)
    ws_incoming_per_second = 10     # beyond it the session is dropped
    max_connection_seconds = 24 * 3600.0
    tick_seconds = 0.02
    client_max_size = 1 << 20
    #: seconds a client has to send a whole request (headers and body), and a kept-alive
    #: connection may stay idle, before the server closes it (half-open or abandoned sockets
    #: must not pile up); longer than aiohttp clients keep idle connections (15 s)
    read_timeout = 20.0

    def __init__(self, exchange: Any, engine: MatchingEngine | Sequence[MatchingEngine],
                 faults: FaultInjector, seed: int = 0, ping_interval: Optional[float] = None) -> None:
        self.exchange = exchange
        self.engines: list[MatchingEngine] = [engine] if isinstance(engine, MatchingEngine) else list(engine)
        self.engine = self.engines[0]
        self.faults = faults
        if ping_interval is not None:
            self.ping_interval = ping_interval
        self.app = web.Application(middlewares=[self._middleware], client_max_size=self.client_max_size)
        self.runner: Optional[web.AppRunner] = None
        self.port = 0
        self.conns: set[WsConn] = set()
        self.stats: dict[str, int] = {}
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._writer_tasks: set[asyncio.Task] = set()
        self._due_at: dict[Any, float] = {}
        for eng in self.engines:
            eng.listeners.append(functools.partial(self.on_event, eng))
            eng.trade_listeners.append(functools.partial(self.on_trade, eng))
        self.add_routes()

    # ------------------------------------------------------------------ lifecycle
    def add_routes(self) -> None:
        """Register REST routes (``self.route``) and WebSocket endpoints
        (``self.app.router.add_get(path, handler)`` with a handler calling ``serve_ws``)."""
        raise NotImplementedError

    async def start(self, port: int = 0) -> None:
        self._stopping = asyncio.Event()
        self._tasks = []
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]      # type: ignore[union-attr]
        self._tasks.append(asyncio.create_task(self._tick_loop()))
        self._tasks.append(asyncio.create_task(self._idle_watchdog()))

    async def _idle_watchdog(self) -> None:
        """Close connections that are not inside a request and have not moved for
        ``read_timeout``: a client that connected and sent nothing or half a request line or
        headers (aiohttp itself has no header timeout), or an idle kept-alive connection.
        Connections inside a request (a body being read has its own timeout, see
        ``read_body``; a websocket runs in its handler) are left alone."""
        seen: dict = {}  # handler -> (requests served, in a request, loop time it last moved)
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            await asyncio.sleep(min(1.0, self.read_timeout / 4))
            server = self.runner.server if self.runner is not None else None
            now = loop.time()
            live = set()
            for h in list(getattr(server, "connections", ()) or ()):
                live.add(h)
                state = (getattr(h, "_request_count", 0), getattr(h, "_current_request", None) is not None)
                prev = seen.get(h)
                if prev is None or prev[:2] != state:
                    seen[h] = (*state, now)
                elif not state[1] and now - prev[2] >= self.read_timeout:
                    transport = getattr(h, "transport", None)
                    if transport is not None:
                        self.count("idle_closed")
                        transport.close()
            for h in [h for h in seen if h not in live]:
                del seen[h]

    async def read_body(self, request: web.Request) -> bytes:
        """The request body, within ``read_timeout``; ``ClientGone`` if the client stalls or
        aborts mid-body (the request is then answered with a closed connection and one line)."""
        try:
            return await asyncio.wait_for(request.read(), self.read_timeout)
        except (asyncio.TimeoutError, ConnectionError, aiohttp.ClientPayloadError,
                aiohttp.http_exceptions.HttpProcessingError) as exc:
            raise ClientGone(type(exc).__name__) from None

    async def stop(self) -> None:
        self._stopping.set()
        for conn in list(self.conns):
            conn.close()
        await cancel_and_wait(self._tasks)
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        for t in list(self._writer_tasks):
            t.cancel()

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def server_time(self) -> int:
        """The venue clock in ms (shifted by the ``clock_offset_ms`` fault knob)."""
        return now_ms() + self.faults.config.clock_offset_ms

    def count(self, what: str) -> None:
        self.stats[what] = self.stats.get(what, 0) + 1

    # ------------------------------------------------------------------ venue hooks (REST)
    async def read_request(self, request: web.Request, route: Route) -> Any:
        """Parse the request into what handlers receive (raise a WireError if malformed)."""
        raise NotImplementedError

    def admit(self, request: web.Request, req: Any, route: Route) -> None:
        """Rate limits charged before any work (raise the venue's 429 WireError)."""

    def authenticate(self, request: web.Request, req: Any, route: Route) -> Any:
        """The account of a private route (or None for public routes); raise on bad auth."""
        return None

    def admit_order(self, account: Any, route: Route) -> None:
        """Order-count limits of an order-entry route (after authentication)."""

    def fault_error(self, kind: str) -> WireError:
        """The venue's answer for an injected fault: ``429`` (rate limit, with Retry-After),
        ``5xx`` (overloaded, nothing done), ``order_rejected`` (503, order NOT done),
        ``order_unknown`` (503 "execution status unknown", order done), ``hang`` (what a
        hung request finally gets, 504)."""
        raise NotImplementedError

    def reject_error(self, e: SimReject, route: Route) -> WireError:
        """The venue's error for a neutral core rejection."""
        raise NotImplementedError

    def internal_error(self, status: int) -> WireError:
        """The venue's unknown-error answer (404/405/413/500...)."""
        raise NotImplementedError

    def ok_response(self, result: Any, account: Any, route: Route) -> web.StreamResponse:
        return web.json_response(text=dumps(result))

    def error_headers(self, account: Any) -> dict[str, str]:
        return {}

    # ------------------------------------------------------------------ REST plumbing
    def route(self, method: str, path: str, handler: Handler, *, order: bool = False,
              fault_exempt: bool = False, **meta: Any) -> Route:
        info = Route(method, path, order, fault_exempt, meta)

        async def wrapped(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, handler, info)
        self.app.router.add_route(method, path, wrapped)
        return info

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        try:
            return await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as e:
            return self.error_response(self.internal_error(e.status))

    def error_response(self, e: WireError, headers: Optional[dict] = None) -> web.Response:
        h = dict(headers or {})
        h.update(e.headers)
        return web.Response(status=e.status, text=dumps(e.body()), content_type="application/json",
                            headers=h)

    async def _hang(self) -> web.Response:
        """Never answer (until the client gives up, or ``hang_seconds``, or shutdown)."""
        try:
            await asyncio.wait_for(self._stopping.wait(), self.faults.config.hang_seconds)
        except asyncio.TimeoutError:
            pass
        return self.error_response(self.fault_error("hang"))

    async def _serve(self, request: web.Request, handler: Handler, route: Route) -> web.StreamResponse:
        account: Any = None
        try:
            req = await self.read_request(request, route)
            self.admit(request, req, route)
            fault = None if route.fault_exempt else self.faults.rest(request.path)
            if fault is not None:
                raise self.fault_error(fault)
            delay = 0.0 if route.fault_exempt else self.faults.slow(request.path)
            if delay > 0:
                await asyncio.sleep(delay)
            account = self.authenticate(request, req, route)
            if route.order and account is not None:
                self.admit_order(account, route)
            order_fault = self.faults.order() if route.order else None
            if order_fault is not None and not order_fault[1]:
                if order_fault[0] == "timeout":
                    return await self._hang()
                raise self.fault_error("order_rejected")
            result = await handler(request, req, account)
            if order_fault is not None:       # the action happened; the answer is lost
                if order_fault[0] == "timeout":
                    return await self._hang()
                raise self.fault_error("order_unknown")
            return self.ok_response(result, account, route)
        except SimReject as e:
            return self.error_response(self.reject_error(e, route), self.error_headers(account))
        except WireError as e:
            return self.error_response(e, self.error_headers(account))
        except ClientGone as e:             # one quiet line: a client's failure, not the server's
            self.count("client_gone")
            logger.info("sim %s %s: client gone mid-request on %s (%s); connection closed", self.venue,
                        self.market, request.path, e)
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=408)
        except web.HTTPException as e:      # e.g. 413 from reading a body over client_max_size
            return self.error_response(self.internal_error(e.status))
        except Exception:
            logger.exception("sim %s %s handler failed on %s", self.venue, self.market, request.path)
            return self.error_response(self.internal_error(500))

    # ------------------------------------------------------------------ WebSocket plumbing
    def _attach(self, ws: web.WebSocketResponse, combined: bool) -> WsConn:
        """Register a prepared socket and start its writer."""
        conn = WsConn(self, ws, combined)
        self.conns.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        self._writer_tasks.add(writer)
        writer.add_done_callback(self._writer_tasks.discard)
        return conn

    def _detach(self, conn: WsConn) -> None:
        """The client's side ended: stop pushing, let the writer finish."""
        conn.closed = True
        self.conns.discard(conn)
        try:
            conn.queue.put_nowait(None)
        except asyncio.QueueFull:
            pass

    async def serve_ws(self, request: web.Request, on_text: Callable[[WsConn, str], Any], *,
                       combined: bool = False, setup: Optional[Callable[[WsConn], None]] = None,
                       incoming_per_second: Optional[int] = None) -> web.WebSocketResponse:
        """Upgrade and run one session: ``setup(conn)`` once, ``on_text(conn, text)`` per text
        frame (may be a coroutine function); more than ``incoming_per_second`` messages in a
        second (default ``ws_incoming_per_second``; 0: no limit) drops the session."""
        ws = web.WebSocketResponse(heartbeat=self.ping_interval, autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = self._attach(ws, combined)
        limit = self.ws_incoming_per_second if incoming_per_second is None else incoming_per_second
        if setup is not None:
            setup(conn)
        window, count = 0, 0
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    sec = int(time.monotonic())
                    window, count = (window, count + 1) if sec == window else (sec, 1)
                    if limit and count > limit:
                        self.count("ws_incoming_rate_disconnect")
                        logger.info("sim %s %s ws client sent more than %d messages/s; disconnecting",
                                    self.venue, self.market, limit)
                        break
                    out = on_text(conn, msg.data)
                    if asyncio.iscoroutine(out):
                        await out
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self._detach(conn)
        return ws

    async def _writer(self, conn: WsConn) -> None:
        try:
            while True:
                text = await conn.queue.get()
                if text is None:
                    break
                await conn.ws.send_str(text)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass
        except Exception:
            logger.exception("sim ws writer failed")
        finally:
            conn.closed = True
            self.conns.discard(conn)
            if not conn.ws.closed:
                try:
                    await conn.ws.close()
                except Exception:
                    pass

    # ------------------------------------------------------------------ fan-out
    def market_frame(self, conn: WsConn, stream: str, payload: Any) -> str:
        """The text of a market-stream frame for this session (venue envelope)."""
        return dumps(payload)

    def push_market(self, stream: str, payload: Any) -> None:
        for conn in list(self.conns):
            if stream in conn.streams:
                conn.send_text(self.market_frame(conn, stream, payload), "market")

    def subscribed(self, stream: str) -> bool:
        return any(stream in c.streams for c in self.conns)

    def wanted_streams(self) -> set[str]:
        out: set[str] = set()
        for conn in self.conns:
            out.update(conn.streams)
        return out

    def user_targets(self, owner: str) -> Iterable[tuple[WsConn, Callable[[Any], str]]]:
        """(session, frame builder) for every private subscription of ``owner`` (venue hook)."""
        return ()

    def has_user_listeners(self, owner: str) -> bool:
        return any(True for _ in self.user_targets(owner))

    def push_user(self, owner: str, payload: Any) -> None:
        for conn, frame in list(self.user_targets(owner)):
            conn.send_text(frame(payload), "user")

    def close_sockets(self, kind: Optional[str] = None) -> int:
        """Close connections now: ``market`` (with market streams), ``user`` or all."""
        n = 0
        for conn in list(self.conns):
            if kind is None or (kind == "user" and conn.is_user) or (kind == "market" and conn.streams):
                conn.close()
                n += 1
        return n

    # ------------------------------------------------------------------ engine events and ticks
    def on_event(self, engine: MatchingEngine, ev: Any) -> None:
        """An order or account event of one of the front end's engines (multi-engine front
        ends override this; single-engine ones implement ``on_engine_event``)."""
        self.on_engine_event(ev)

    def on_trade(self, engine: MatchingEngine, fill: Fill) -> None:
        self.on_fill(fill)

    def on_engine_event(self, ev: Any) -> None:
        """An order or account event of the matching engine (user stream pushes)."""

    def on_fill(self, fill: Fill) -> None:
        """A public trade (trade streams)."""

    def due(self, key: Any, now: float, period: float) -> bool:
        """True (and the next due time set) when a periodic push for ``key`` is due."""
        if now < self._due_at.get(key, 0.0):
            return False
        self._due_at[key] = now + period
        return True

    def tick(self, now: float) -> None:
        """Periodic work (market-data pushes, expiries); ``now`` is ``time.monotonic()``."""

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            try:
                now = time.monotonic()
                for conn in list(self.conns):
                    if now - conn.opened > self.max_connection_seconds:
                        conn.close()
                self.tick(now)
            except Exception:
                logger.exception("sim %s %s tick failed", self.venue, self.market)
