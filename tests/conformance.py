"""The venue conformance suite: one set of scenario tests every venue connector must pass.

A venue takes part by writing a :class:`VenueCase`, its profile: routes, canned REST answers
(JSON or form bodies, errors and 429-equivalents as the venue sends them, in HTTP 200 bodies
where the venue does), its private-stream shape (a token over REST, or a login on the socket)
with the answers the socket gives to what the engine sends, and user-stream frames. Then::

    class TestMyVenueConformance(ConformanceTests):
        case_class = MyVenueCase

The scenarios run the real engine (``Connector``/``PerpConnector``) and the venue's real
translation module against :class:`MockVenue`, a tiny aiohttp server on 127.0.0.1 that answers
the canned payloads, records every request and pushes user-stream frames on demand. No mocking
library; nothing leaves the loopback.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web


def _read_json(path: str) -> Any:
    """The saved state file, closed after reading (no ResourceWarning)."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)

from hbconnect.connector import Connector, PerpConnector
from hbconnect.connector.contract import StreamShape
from hbconnect.core.events import MarketEvent
from hbconnect.core.types import OrderState, OrderType

Response = Tuple[int, Any]  # (HTTP status, JSON-able body)
Handler = Callable[[dict], Response]

D = Decimal


def run(coro: Any, timeout: float = 20.0) -> Any:
    """Run a coroutine in a fresh loop with a hard timeout."""
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


class MockVenue:
    """Canned REST answers per (METHOD, path), a request log, and user-stream websockets."""

    def __init__(self) -> None:
        self.routes: Dict[Tuple[str, str], Any] = {}
        self.requests: List[Tuple[str, str, dict]] = []
        self.sockets: List[web.WebSocketResponse] = []
        self.ws_paths: List[str] = []
        #: text messages the engine sent on the sockets (logins, subscriptions, pings)
        self.ws_received: List[str] = []
        #: the socket's answers to one of them (login acks, subscription acks, pongs, order
        #: replies); may be a coroutine function. Each message is answered in its own task.
        self.ws_answer: Callable[[str], Any] = lambda message: []
        self._answering: set = set()
        self.ws_connected = asyncio.Event()
        self._runner: Optional[web.AppRunner] = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def set(self, method: str, path: str, answer: Any) -> None:
        """``answer``: (status, body), a list of them (served in turn, the last repeats), or a
        callable ``params -> (status, body)`` (may be async)."""
        self.routes[(method.upper(), path)] = answer

    def calls(self, method: str, path: str) -> List[dict]:
        return [p for m, pa, p in self.requests if m == method.upper() and pa == path]

    async def start(self) -> "MockVenue":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for task in list(self._answering):
            task.cancel()
        for ws in list(self.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def push(self, frame: Any) -> None:
        """Send ``frame`` (or each of a list of frames: venues that report an order and its fill
        on two topics) on every open user-stream socket (waits for one to be open)."""
        await asyncio.wait_for(self.ws_connected.wait(), 5.0)
        for text in frame if isinstance(frame, list) else [frame]:
            for ws in list(self.sockets):
                if not ws.closed:
                    await ws.send_str(text)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            ws = web.WebSocketResponse(heartbeat=None)
            await ws.prepare(request)
            self.sockets.append(ws)
            self.ws_paths.append(request.path)
            self.ws_connected.set()
            async for msg in ws:
                if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
                if msg.type is WSMsgType.TEXT:
                    self.ws_received.append(msg.data)
                    task = asyncio.ensure_future(self._ws_reply(ws, msg.data))
                    self._answering.add(task)
                    task.add_done_callback(self._answering.discard)
            self.sockets.remove(ws)
            if not self.sockets:
                self.ws_connected.clear()
            return ws
        params = dict(request.query)
        body = await request.text()
        status, data, headers = await self.answer(request.method, request.path, params, body,
                                                  dict(request.headers))
        return web.Response(status=status, text=json.dumps(data), content_type="application/json",
                            headers=headers)

    async def _ws_reply(self, ws: web.WebSocketResponse, text: str) -> None:
        answers = self.ws_answer(text)
        if asyncio.iscoroutine(answers):
            answers = await answers
        for answer in answers:
            if not ws.closed:
                await ws.send_str(answer)

    async def answer(self, method: str, path: str, params: dict, body: str = "",
                     headers: Optional[dict] = None) -> Tuple[int, Any, Optional[dict]]:
        """Record a request (REST, or an order message on a socket) and evaluate its route's
        canned answer: (status, body, headers)."""
        if body.lstrip().startswith(("{", "[")):  # a JSON body: its top-level fields
            decoded = json.loads(body)
            params.update(decoded if isinstance(decoded, dict) else {"__body__": decoded})
        elif body:
            params.update(dict(parse_qsl(body, keep_blank_values=True)))
        params["__headers__"] = headers or {}
        key = (method, path)
        self.requests.append((method, path, params))
        answer = self.routes.get(key)
        if answer is None:
            return 404, {"code": -1, "msg": f"no canned answer for {key}"}, None
        if isinstance(answer, list):
            current = answer[0] if len(answer) == 1 else answer.pop(0)
        else:
            current = answer
        if callable(current):
            current = current(params)
            if asyncio.iscoroutine(current):
                current = await current
        # (status, body) or (status, body, headers)
        return current[0], current[1], (current[2] if len(current) > 2 else None)


class VenueCase:
    """Payloads and expectations of one venue. Override everything marked ``NotImplemented``."""

    pair = "BTC-USDT"
    base = "BTC"
    quote = "USDT"
    connector_class: type = Connector
    expected_order_types: List[OrderType] = [OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.MARKET]
    #: amount/price of an ordinary valid limit order, and of one below the minimum notional
    valid_order = (D("0.01"), D("20000"))
    below_min_notional = (D("0.0001"), D("20000"))
    malformed_symbol = "BROKEN"

    #: how the private stream opens: TOKEN (token_route, keepalive_route) or LOGIN (ws_answer
    #: acknowledges the login; is_login recognises it)
    stream_shape = StreamShape.TOKEN
    #: the venue's code in the failure event of an order refused by ``place_rejected``
    rejection_code: Any = None
    #: orders over the venue's WebSocket order entry (``ws_order_request``/``ws_order_reply``)
    #: instead of REST; the canned answers of ``place_route``/``cancel_route`` serve both
    ws_order_entry = False
    #: the user-data events come on the order-entry socket (``is_user_data_subscription``
    #: recognises the subscription, ``ws_answer`` acknowledges it); no stream key
    ws_user_data = False

    # routes: (METHOD, path)
    time_route: Tuple[str, str]
    rules_route: Tuple[str, str]
    balances_route: Tuple[str, str]
    token_route: Tuple[str, str] = ("", "")
    keepalive_route: Tuple[str, str] = ("", "")
    place_route: Tuple[str, str]
    cancel_route: Tuple[str, str]
    status_route: Tuple[str, str]
    fills_route: Tuple[str, str]

    def make_venue(self, rest_url: str, ws_url: str) -> Any:
        raise NotImplementedError

    def client_order_id(self, params: dict) -> str:
        """The client order id a place/cancel/status request carries."""
        raise NotImplementedError

    def time_body(self, now_ms: int) -> Any:
        raise NotImplementedError

    def rules_body(self) -> Any:
        """Rules with one valid entry for ``pair`` and one malformed entry ``malformed_symbol``."""
        raise NotImplementedError

    def balances_body(self) -> Any:
        raise NotImplementedError

    expected_balances: Dict[str, Tuple[Decimal, Decimal]] = {}
    #: False when the stream's balance message has no available amount (the engine re-reads it)
    stream_carries_available = True

    def token_body(self, token: str) -> Any:
        """TOKEN shape: the answer to ``token_route``."""
        raise NotImplementedError

    def keepalive_token(self, params: dict) -> Optional[str]:
        """TOKEN shape: the token a keep-alive request carries."""
        raise NotImplementedError

    def ws_answer(self, message: str) -> List[str]:
        """What the venue's socket answers to a message the engine sent (login ack, subscription
        acks, pong); nothing by default."""
        return []

    def is_login(self, message: str) -> bool:
        """LOGIN shape: ``message`` is the login."""
        raise NotImplementedError

    def ws_order_request(self, message: str) -> Optional[Tuple[Tuple[str, str], dict, str]]:
        """WebSocket order entry: (the REST route whose canned answer serves it, its params, the
        request id) for an order message; None for other messages."""
        return None

    def ws_order_reply(self, request_id: str, status: int, body: Any) -> str:
        """WebSocket order entry: the reply frame carrying a canned (status, body) answer."""
        raise NotImplementedError

    def place_ok(self, params: dict, exchange_order_id: int) -> Any:
        raise NotImplementedError

    def place_rejected(self) -> Response:
        """The venue refusing an order (insufficient balance), as it answers it: a non-2xx status
        or an error inside an HTTP 200 body. Its code is :attr:`rejection_code`."""
        raise NotImplementedError

    def time_sync_error(self) -> Response:
        raise NotImplementedError

    def cancel_ok(self, params: dict, exchange_order_id: int) -> Any:
        raise NotImplementedError

    def cancel_error(self) -> Response:
        raise NotImplementedError

    def rate_limited(self, retry_after: float) -> Any:
        """The venue's "too many requests" answer asking to wait ``retry_after`` seconds:
        (status, body, headers), an HTTP 429 or a 429-equivalent code in a 200 body."""
        raise NotImplementedError

    def not_found(self) -> Response:
        raise NotImplementedError

    def status_answer(self, params: dict, exchange_order_id: int, state: str, executed: Decimal) -> Response:
        """The status answer a test sets for an order in ``state``. A venue whose cancel answer only
        acknowledges the request answers CANCELED for an order whose cancel it acknowledged."""
        return 200, self.status_body(params, exchange_order_id, state, executed)

    def status_default(self, params: dict) -> Response:
        """The status answer when a test set none: the venue does not know the order. Venues whose
        cancel answer only acknowledges the request (the state follows on the stream or a status
        poll: Bybit, OKX) answer the orders they acknowledged cancelling as cancelled."""
        return self.not_found()

    def status_body(self, params: dict, exchange_order_id: int, state: str, executed: Decimal) -> Any:
        """``state``: OPEN | PARTIALLY_FILLED | FILLED | CANCELED. ``params``: the place request's."""
        raise NotImplementedError

    def fills_body(self, params: dict, exchange_order_id: int, fills: List[tuple]) -> Any:
        """``fills``: (trade_id, price, qty, fee, fee_asset)."""
        raise NotImplementedError

    def ws_order(self, params: dict, exchange_order_id: int, state: str, executed: Decimal,
                 fill: Optional[tuple] = None) -> str:
        """A user-stream order frame; ``fill`` (trade_id, price, qty, fee, fee_asset) for a trade."""
        raise NotImplementedError

    def ws_balance(self, asset: str, total: Decimal, available: Decimal) -> str:
        raise NotImplementedError

    def ws_stream_expired(self) -> str:
        """A frame saying the stream's token/session expired."""
        raise NotImplementedError

    def extra_routes(self) -> List[Tuple[Tuple[str, str], Any]]:
        """More default answers the venue's connector needs at start (e.g. perpetual positions)."""
        return []


class Harness:
    """One MockVenue + one connector wired to it, with event collection helpers."""

    def __init__(self, case: VenueCase, **connector_kwargs: Any) -> None:
        self.case = case
        self.mock = MockVenue()
        self.kwargs = connector_kwargs
        self.connector: Any = None
        self.events: List[Tuple[Any, Any]] = []
        self.next_exchange_id = 1000
        self.placed: Dict[str, Tuple[dict, int]] = {}  # client id -> (params, exchange id)

    async def __aenter__(self) -> "Harness":
        await self.mock.start()
        c, m = self.case, self.mock
        defaults = [
            (c.time_route, lambda p: (200, c.time_body(_now_ms()))),
            (c.rules_route, (200, c.rules_body())),
            (c.balances_route, (200, c.balances_body())),
            (c.place_route, self.accept_order),
            (c.status_route, lambda p: self.case.status_default(p)),
        ] + list(c.extra_routes())
        if c.stream_shape is StreamShape.TOKEN:
            defaults += [(c.token_route, (200, c.token_body(STREAM_TOKEN))), (c.keepalive_route, (200, {}))]
        m.ws_answer = self._ws_answer
        for route, answer in defaults:
            if tuple(route) not in m.routes:
                m.set(*route, answer)
        venue = c.make_venue(m.url, m.ws_url)
        # the REST order path; WebSocket order entry has its own tests (and the e2e runs)
        kwargs = dict(poll_interval=0.3, fast_poll_interval=0.1, rest_timeout=2.0, ws_order_entry=c.ws_order_entry)
        if c.ws_order_entry:
            kwargs["ws_user_stream"] = c.ws_user_data
        kwargs.update(self.kwargs)
        self.connector = c.connector_class(venue, [c.pair], **kwargs)
        hub = self.connector.event_hub
        for tag in MarketEvent:
            hub.add_listener(tag, lambda ev, tag=tag: self.events.append((tag, ev)))
        await self.connector.start()
        await self.connector.wait_until_ready(10.0)
        if c.ws_order_entry:  # orders go over the socket from the first one
            session = self.connector._orders.session
            await self.wait_for(lambda: session is not None and session.ready, 5.0, "order entry logged in")
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.connector is not None:
            await self.connector.stop()
        await self.mock.stop()

    async def _ws_answer(self, message: str) -> List[str]:
        out = list(self.case.ws_answer(message))
        order = self.case.ws_order_request(message)
        if order is not None:
            route, params, request_id = order
            status, body, _headers = await self.mock.answer(*route, params)
            out.append(self.case.ws_order_reply(request_id, status, body))
        return out

    def accept_order(self, params: dict) -> Response:
        self.next_exchange_id += 1
        cid = self.case.client_order_id(params)
        self.placed[cid] = (params, self.next_exchange_id)
        return 200, self.case.place_ok(params, self.next_exchange_id)

    def of(self, tag: Any, order_id: Optional[str] = None) -> List[Any]:
        return [ev for t, ev in self.events if t is tag and (order_id is None or getattr(ev, "order_id", None) == order_id)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what or predicate}")
            await asyncio.sleep(0.01)

    async def wait_event(self, tag: Any, order_id: Optional[str] = None, count: int = 1, timeout: float = 5.0) -> List[Any]:
        await self.wait_for(lambda: len(self.of(tag, order_id)) >= count, timeout, f"{tag.name} x{count}")
        return self.of(tag, order_id)

    async def place_open(self, is_buy: bool = True) -> str:
        amount, price = self.case.valid_order
        c = self.connector
        oid = c.buy(self.case.pair, amount, OrderType.LIMIT, price) if is_buy else \
            c.sell(self.case.pair, amount, OrderType.LIMIT, price)
        await self.wait_for(lambda: oid in self.placed, what="order request")
        tag = MarketEvent.BuyOrderCreated if is_buy else MarketEvent.SellOrderCreated
        await self.wait_event(tag, oid)
        return oid


STREAM_TOKEN = "streamtoken0123456789"


def _now_ms() -> int:
    import time
    return int(time.time() * 1000)


class ConformanceTests:
    """The scenarios. Subclasses (named ``Test...``) set ``case_class``."""

    case_class: type = VenueCase

    def harness(self, **kwargs: Any) -> Harness:
        return Harness(self.case_class(), **kwargs)

    # ---- identity ----
    def test_supported_order_types(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                assert set(h.connector.supported_order_types()) == set(h.case.expected_order_types)
        run(go())

    def test_client_order_ids_are_unique_prefixed_and_capped(self) -> None:
        case = self.case_class()
        venue = case.make_venue("http://127.0.0.1:1", "ws://127.0.0.1:1")
        ids = {venue.new_client_order_id(i % 2 == 0, case.pair) for i in range(2000)}
        assert len(ids) == 2000
        cap = venue.max_client_order_id_length
        assert all(len(i) <= cap for i in ids)
        prefix = getattr(venue, "broker_id", "")
        assert prefix and all(i.startswith(prefix) for i in ids)

    # ---- trading rules ----
    def test_trading_rules_malformed_rule_skipped_and_logged(self, caplog: Any) -> None:
        async def go() -> None:
            with caplog.at_level(logging.WARNING):
                async with self.harness() as h:
                    rules = h.connector.trading_rules
                    assert h.case.pair in rules
                    assert all(h.case.malformed_symbol not in p.replace("-", "") for p in rules)
                    rule = rules[h.case.pair]
                    assert rule.min_price_increment > 0 and rule.min_base_amount_increment > 0
            assert any(h.case.malformed_symbol in r.getMessage() for r in caplog.records
                       if r.levelno >= logging.WARNING)
        run(go())

    # ---- create ----
    def test_create_order_success_emits_created_event(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                oid = await h.place_open()
                order = h.connector.in_flight_orders[oid]
                assert order.current_state is OrderState.OPEN
                assert order.exchange_order_id == str(h.placed[oid][1])
                ev = h.of(MarketEvent.BuyOrderCreated, oid)[0]
                assert ev.amount == h.case.valid_order[0] and ev.price == h.case.valid_order[1]
                assert len(h.mock.calls(*h.case.place_route)) == 1
        run(go())

    def test_create_order_rejected_fails_at_once_with_the_venue_code(self, caplog: Any) -> None:
        """A refusal (non-2xx or inside a 200 body) fails the order on its answer: the venue's code
        in the failure event, no status request, no traceback."""
        async def go() -> None:
            async with self.harness() as h:
                h.mock.set(*h.case.place_route, h.case.place_rejected())
                statuses = len(h.mock.calls(*h.case.status_route))
                amount, price = h.case.valid_order
                oid = h.connector.buy(h.case.pair, amount, OrderType.LIMIT, price)
                ev = (await h.wait_event(MarketEvent.OrderFailure, oid))[0]
                assert ev.error_message and ev.error_type
                assert str(ev.error_code) == str(h.case.rejection_code)
                assert oid not in h.connector.in_flight_orders
                assert not h.of(MarketEvent.BuyOrderCreated, oid)
                assert len(h.mock.calls(*h.case.status_route)) == statuses  # nobody asked
                assert h.connector.stats["orders_resolved_by_query"] == 0
        with caplog.at_level(logging.WARNING):
            run(go())
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]

    def test_orders_take_the_venue_transport_and_rest_while_its_socket_is_down(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                orders = h.connector._orders
                await h.place_open()
                if not h.case.ws_order_entry:
                    assert (orders.sent_rest, orders.sent_ws) == (1, 0)
                    return
                assert (orders.sent_rest, orders.sent_ws) == (0, 1)
                await orders.session.stop()  # the order-entry socket is down: REST carries orders
                await h.place_open()
                assert (orders.sent_rest, orders.sent_ws) == (1, 1)
                assert len(h.mock.calls(*h.case.place_route)) == 2
        run(go())

    def test_order_below_min_notional_fails_before_any_request(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                amount, price = h.case.below_min_notional
                oid = h.connector.buy(h.case.pair, amount, OrderType.LIMIT, price)
                ev = (await h.wait_event(MarketEvent.OrderFailure, oid))[0]
                assert "notional" in ev.error_message or "minimum" in ev.error_message
                await asyncio.sleep(0.1)
                assert h.mock.calls(*h.case.place_route) == []
        run(go())

    def test_order_timeout_is_resolved_by_query_never_resent(self) -> None:
        async def go() -> None:
            async with self.harness(rest_timeout=0.5) as h:
                async def hang(params: dict) -> Response:
                    h.accept_order(params)  # the venue accepts it, the answer is lost
                    await asyncio.sleep(1.5)  # well past the 0.5 s request timeout
                    return 200, {}
                h.mock.set(*h.case.place_route, hang)
                h.mock.set(*h.case.status_route, lambda p: (200, h.case.status_body(
                    *h.placed[h.case.client_order_id(p)], "OPEN", D(0))))
                amount, price = h.case.valid_order
                oid = h.connector.buy(h.case.pair, amount, OrderType.LIMIT, price)
                await h.wait_event(MarketEvent.BuyOrderCreated, oid, timeout=8)
                assert h.connector.in_flight_orders[oid].current_state is OrderState.OPEN
                assert len(h.mock.calls(*h.case.place_route)) == 1
                assert h.mock.calls(*h.case.status_route)
        run(go())

    def test_fill_on_the_stream_before_the_create_response(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                amount, price = h.case.valid_order

                async def slow_accept(params: dict) -> Any:
                    answer = h.accept_order(params)
                    cid = h.case.client_order_id(params)
                    _, eid = h.placed[cid]
                    # the venue fills the order and says so on the stream before it answers
                    await h.mock.push(h.case.ws_order(params, eid, "FILLED", amount,
                                                      fill=("4242", price, amount, D("0"), h.case.quote)))
                    await h.wait_event(MarketEvent.BuyOrderCompleted, cid)
                    return answer
                h.mock.set(*h.case.place_route, slow_accept)
                oid = h.connector.buy(h.case.pair, amount, OrderType.LIMIT, price)
                await h.wait_for(lambda: not h.connector._creating, what="create response processed")
                await asyncio.sleep(0.2)
                assert len(h.of(MarketEvent.BuyOrderCreated, oid)) == 1
                assert len(h.of(MarketEvent.OrderFilled, oid)) == 1
                assert len(h.of(MarketEvent.BuyOrderCompleted, oid)) == 1
                order = h.connector.order_tracker.fetch_order(oid)
                assert order.current_state is OrderState.FILLED and order.executed_amount_base == amount
                assert len(h.mock.calls(*h.case.place_route)) == 1
        run(go())

    def test_rate_limit_answer_fails_the_order_and_slows_the_whole_venue(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                h.mock.set(*h.case.place_route, [h.case.rate_limited(1.0), h.accept_order])
                amount, price = h.case.valid_order
                first = h.connector.buy(h.case.pair, amount, OrderType.LIMIT, price)
                await h.wait_event(MarketEvent.OrderFailure, first)
                limited_at = asyncio.get_running_loop().time()
                # every request now waits for the venue's Retry-After, not only orders
                second = h.connector.buy(h.case.pair, amount, OrderType.LIMIT, price)
                balances_before = len(h.mock.calls(*h.case.balances_route))
                refresh = asyncio.ensure_future(h.connector.refresh_balances())
                await asyncio.sleep(0.5)
                assert len(h.mock.calls(*h.case.place_route)) == 1  # the second order waits
                assert len(h.mock.calls(*h.case.balances_route)) == balances_before
                await h.wait_event(MarketEvent.BuyOrderCreated, second, timeout=5)
                await refresh
                assert asyncio.get_running_loop().time() - limited_at >= 0.9
                assert len(h.mock.calls(*h.case.place_route)) == 2  # the refused order is not re-sent
                assert h.connector.order_tracker.fetch_order(first).is_failure
        run(go())

    def test_time_sync_error_resyncs_and_retries(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                times_before = len(h.mock.calls(*h.case.time_route))
                h.mock.set(*h.case.place_route, [h.case.time_sync_error(), h.accept_order])
                amount, price = h.case.valid_order
                oid = h.connector.buy(h.case.pair, amount, OrderType.LIMIT, price)
                await h.wait_event(MarketEvent.BuyOrderCreated, oid)
                assert len(h.mock.calls(*h.case.time_route)) > times_before
                assert len(h.mock.calls(*h.case.place_route)) == 2
                assert not h.of(MarketEvent.OrderFailure, oid)
        run(go())

    # ---- cancel ----
    def test_cancel_success_emits_cancelled_event(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                oid = await h.place_open()
                h.mock.set(*h.case.cancel_route, lambda p: (200, h.case.cancel_ok(*h.placed[h.case.client_order_id(p)])))
                h.connector.cancel(h.case.pair, oid)
                await h.wait_event(MarketEvent.OrderCancelled, oid)
                assert oid not in h.connector.in_flight_orders
        run(go())

    def test_cancel_failure_keeps_order_open(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                oid = await h.place_open()
                h.mock.set(*h.case.cancel_route, h.case.cancel_error())
                h.mock.set(*h.case.status_route, lambda p: (200, h.case.status_body(
                    *h.placed[h.case.client_order_id(p)], "OPEN", D(0))))
                h.connector.cancel(h.case.pair, oid)
                await h.wait_for(lambda: h.mock.calls(*h.case.cancel_route), what="cancel request")
                await asyncio.sleep(0.3)
                assert not h.of(MarketEvent.OrderCancelled, oid)
                assert h.connector.in_flight_orders[oid].is_open
        run(go())

    def test_cancel_all_with_one_failure(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                a = await h.place_open()
                b = await h.place_open(is_buy=False)

                def cancel(p: dict) -> Response:
                    cid = h.case.client_order_id(p)
                    return h.case.cancel_error() if cid == b else (200, h.case.cancel_ok(*h.placed[cid]))
                h.mock.set(*h.case.cancel_route, cancel)
                h.mock.set(*h.case.status_route, lambda p: h.case.status_answer(
                    *h.placed[h.case.client_order_id(p)], "OPEN", D(0)))
                results = await h.connector.cancel_all(3.0)
                assert sorted(results) == sorted([(a, True), (b, False)])
                assert h.of(MarketEvent.OrderCancelled, a) and not h.of(MarketEvent.OrderCancelled, b)
        run(go())

    def test_cancel_racing_a_fill_ends_filled_not_cancelled(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                oid = await h.place_open()
                params, eid = h.placed[oid]
                amount, price = h.case.valid_order
                # the order filled just before the cancel arrived: the venue no longer knows it open
                h.mock.set(*h.case.cancel_route, h.case.not_found())
                h.mock.set(*h.case.status_route, lambda p: (200, h.case.status_body(params, eid, "FILLED", amount)))
                h.mock.set(*h.case.fills_route, lambda p: (200, h.case.fills_body(
                    params, eid, [("6001", price, amount, D("0"), h.case.quote)])))
                results = await h.connector.cancel_all(3.0)
                assert results == [(oid, False)]
                await h.wait_event(MarketEvent.BuyOrderCompleted, oid)
                assert not h.of(MarketEvent.OrderCancelled, oid)
                assert len(h.of(MarketEvent.OrderFilled, oid)) == 1
        run(go())

    def test_cancel_of_order_not_created_here_sends_nothing(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                h.connector.cancel(h.case.pair, "someone-elses-order")
                assert await h.connector.cancel_all(1.0) == []
                await asyncio.sleep(0.2)
                assert h.mock.calls(*h.case.cancel_route) == []
        run(go())

    # ---- balances ----
    def test_balances_from_rest_and_user_stream(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                for asset, (total, available) in h.case.expected_balances.items():
                    assert h.connector.get_balance(asset) == total
                    assert h.connector.get_available_balance(asset) == available
                reads = len(h.mock.calls(*h.case.balances_route))
                await h.mock.push(h.case.ws_balance(h.case.quote, D("1234.5"), D("1000.5")))
                await h.wait_for(lambda: h.connector.get_balance(h.case.quote) == D("1234.5"), what="balance")
                if h.case.stream_carries_available:
                    assert h.connector.get_available_balance(h.case.quote) == D("1000.5")
                else:  # the engine must re-read the available balance over REST
                    await h.wait_for(lambda: len(h.mock.calls(*h.case.balances_route)) > reads, what="REST re-read")
                assert h.of(MarketEvent.BalanceUpdate)
        run(go())

    # ---- status polling ----
    def _poll_case(self, state: str, executed: Decimal, fills: List[tuple]) -> Any:
        async def go() -> Harness:
            h = self.harness()
            async with h:
                oid = await h.place_open()
                params, eid = h.placed[oid]
                h.mock.set(*h.case.status_route, lambda p: (200, h.case.status_body(params, eid, state, executed)))
                h.mock.set(*h.case.fills_route, lambda p: (200, h.case.fills_body(params, eid, fills)))
                h.connector.request_poll()
                if state == "FILLED":
                    await h.wait_event(MarketEvent.BuyOrderCompleted, oid)
                elif state == "CANCELED":
                    await h.wait_event(MarketEvent.OrderCancelled, oid)
                else:
                    await h.wait_event(MarketEvent.OrderFilled, oid, count=len(fills))
                await asyncio.sleep(0.5)  # more polls must not repeat anything
                h.oid = oid  # type: ignore[attr-defined]
            return h
        return run(go())

    def test_status_polling_filled(self) -> None:
        amount, price = self.case_class.valid_order
        h = self._poll_case("FILLED", amount, [("9001", price, amount, D("0.00001"), self.case_class.base)])
        fills = h.of(MarketEvent.OrderFilled, h.oid)
        assert len(fills) == 1 and fills[0].amount == amount and fills[0].price == price
        assert fills[0].trade_fee.flat_fees[0].amount == D("0.00001")
        assert len(h.of(MarketEvent.BuyOrderCompleted, h.oid)) == 1

    def test_status_polling_partially_filled(self) -> None:
        amount, price = self.case_class.valid_order
        half = amount / 2
        h = self._poll_case("PARTIALLY_FILLED", half, [("9002", price, half, D("0.001"), self.case_class.quote)])
        assert len(h.of(MarketEvent.OrderFilled, h.oid)) == 1
        order = h.connector.order_tracker.fetch_order(h.oid)
        assert order.current_state is OrderState.PARTIALLY_FILLED and order.executed_amount_base == half
        assert not h.of(MarketEvent.BuyOrderCompleted, h.oid)

    def test_status_polling_cancelled(self) -> None:
        h = self._poll_case("CANCELED", D(0), [])
        assert len(h.of(MarketEvent.OrderCancelled, h.oid)) == 1
        assert not h.of(MarketEvent.OrderFilled, h.oid)

    def test_status_polling_not_found_marks_lost_then_fails(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                oid = await h.place_open()
                h.mock.set(*h.case.status_route, h.case.not_found())
                h.mock.set(*h.case.cancel_route, h.case.not_found())
                await h.wait_for(lambda: oid in h.connector.order_tracker.lost_orders, what="lost order")
                assert not h.of(MarketEvent.OrderFailure, oid)  # lost is not failed yet
                await h.wait_event(MarketEvent.OrderFailure, oid, timeout=8)
                assert oid not in h.connector.in_flight_orders
        run(go())

    def test_lost_order_known_again_is_cancelled(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                oid = await h.place_open()
                params, eid = h.placed[oid]
                h.mock.set(*h.case.status_route, h.case.not_found())
                await h.wait_for(lambda: oid in h.connector.order_tracker.lost_orders, what="lost order")
                # the venue shows the order again, still open: the connector cancels it
                h.mock.set(*h.case.status_route, lambda p: h.case.status_answer(params, eid, "OPEN", D(0)))
                h.mock.set(*h.case.cancel_route, lambda p: (200, h.case.cancel_ok(params, eid)))
                await h.wait_event(MarketEvent.OrderCancelled, oid)
                assert [h.case.client_order_id(p) for p in h.mock.calls(*h.case.cancel_route)][:1] == [oid]
                assert oid not in h.connector.in_flight_orders
                assert not h.of(MarketEvent.OrderFailure, oid)
        run(go())

    # ---- user stream ----
    def test_user_stream_order_and_fill_events(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                amount, price = h.case.valid_order
                oid = await h.place_open()
                params, eid = h.placed[oid]
                await h.mock.push(h.case.ws_order(params, eid, "OPEN", D(0)))
                await h.mock.push(h.case.ws_order(params, eid, "FILLED", amount,
                                                  fill=("77", price, amount, D("0.02"), h.case.quote)))
                ev = (await h.wait_event(MarketEvent.OrderFilled, oid))[0]
                assert ev.amount == amount and ev.price == price and ev.exchange_trade_id == "77"
                assert ev.trade_fee.flat_fees[0].token == h.case.quote
                done = (await h.wait_event(MarketEvent.BuyOrderCompleted, oid))[0]
                assert done.base_asset_amount == amount and done.quote_asset_amount == amount * price
        run(go())

    def test_duplicated_fill_gives_one_event(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                oid = await h.place_open()
                params, eid = h.placed[oid]
                amount, price = h.case.valid_order
                half = amount / 2
                frame = h.case.ws_order(params, eid, "PARTIALLY_FILLED", half, fill=("88", price, half, D("0.01"), h.case.quote))
                await h.mock.push(frame)
                await h.mock.push(frame)
                await h.wait_event(MarketEvent.OrderFilled, oid)
                await asyncio.sleep(0.3)
                assert len(h.of(MarketEvent.OrderFilled, oid)) == 1
                assert h.connector.order_tracker.fetch_order(oid).executed_amount_base == half
        run(go())

    def _sessions(self, h: Harness) -> int:
        """How many stream sessions were opened: tokens asked for, or logins sent."""
        if h.case.ws_user_data:
            return sum(1 for m in h.mock.ws_received if h.case.is_user_data_subscription(m))
        if h.case.stream_shape is StreamShape.TOKEN:
            return len(h.mock.calls(*h.case.token_route))
        return sum(1 for m in h.mock.ws_received if h.case.is_login(m))

    def test_stream_expiry_renews_the_session(self) -> None:
        async def go() -> None:
            async with self.harness() as h:
                before = self._sessions(h)
                assert before >= 1
                await h.mock.push(h.case.ws_stream_expired())
                await h.wait_for(lambda: self._sessions(h) > before, what="a new stream session")
                await h.wait_for(lambda: h.connector.ready, what="ready again")
        run(go())

    def test_ready_status_dict_and_stream_session(self) -> None:
        async def go() -> None:
            async with self.harness(keepalive_interval=0.2) as h:
                status = h.connector.status_dict
                assert status and all(status.values()) and h.connector.ready
                assert {"trading_rule_initialized", "account_balance", "user_stream_initialized"} <= set(status)
                if h.case.ws_user_data:  # subscribed on the order socket, no stream key asked for
                    assert self._sessions(h) == 1 and not h.mock.calls(*h.case.token_route)
                elif h.case.stream_shape is StreamShape.TOKEN:
                    await h.wait_for(lambda: len(h.mock.calls(*h.case.keepalive_route)) >= 2, what="keepalives")
                    assert all(h.case.keepalive_token(p) == STREAM_TOKEN
                               for p in h.mock.calls(*h.case.keepalive_route))
                else:  # the login goes first on the socket, the subscriptions after its ack
                    assert h.mock.ws_received and h.case.is_login(h.mock.ws_received[0])
                    assert len(h.mock.ws_received) > 1
            assert not h.connector.ready  # stopped
        run(go())

    # ---- restore ----
    def test_restart_while_pending_create_reconciles_by_status(self) -> None:
        async def go() -> None:
            path = os.path.join(tempfile.mkdtemp(), "orders.json")
            amount, price = self.case_class.valid_order
            seen: Dict[str, Tuple[dict, int]] = {}
            stopped = asyncio.Event()
            async with self.harness(state_file=path) as h:
                async def accept_and_hang(params: dict) -> Any:
                    h.accept_order(params)  # accepted, but the process stops before the answer
                    seen.update(h.placed)
                    await asyncio.wait_for(stopped.wait(), 10)
                    return 200, {}
                h.mock.set(*h.case.place_route, accept_and_hang)
                oid = h.connector.buy(h.case.pair, amount, OrderType.LIMIT, price)
                await h.wait_for(lambda: oid in seen, what="order request")
                assert h.connector.in_flight_orders[oid].current_state is OrderState.PENDING_CREATE
                await h.connector.stop()  # while the request is unanswered
                stopped.set()
            saved = _read_json(path)["orders"]
            assert saved[oid]["last_state"] == "PENDING_CREATE"
            params, eid = seen[oid]
            h2 = self.harness(state_file=path)
            h2.mock.set(*h2.case.status_route, lambda p: (200, h2.case.status_body(params, eid, "OPEN", D(0))))
            async with h2:
                await h2.wait_event(MarketEvent.BuyOrderCreated, oid)
                order = h2.connector.in_flight_orders[oid]
                assert order.current_state is OrderState.OPEN and order.exchange_order_id == str(eid)
                assert h2.mock.calls(*h2.case.place_route) == []  # never re-sent
        run(go())

    def test_restore_tracked_orders_and_reconcile(self) -> None:
        async def go() -> None:
            path = os.path.join(tempfile.mkdtemp(), "orders.json")
            async with self.harness(state_file=path) as h:
                oid = await h.place_open()
                params, eid = h.placed[oid]
            saved = _read_json(path)
            assert oid in saved["orders"]
            amount, price = self.case_class.valid_order
            h2 = self.harness(state_file=path)
            h2.placed[oid] = (params, eid)
            case = h2.case
            h2.mock.set(*case.status_route, lambda p: (200, case.status_body(params, eid, "FILLED", amount)))
            h2.mock.set(*case.fills_route, lambda p: (200, case.fills_body(params, eid, [("5", price, amount, D("0"), case.quote)])))
            async with h2:
                await h2.wait_event(MarketEvent.BuyOrderCompleted, oid)
                assert oid not in h2.connector.in_flight_orders
            assert _read_json(path)["orders"] == {}
        run(go())
