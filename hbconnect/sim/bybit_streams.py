"""Bybit v5 WebSockets of the embedded exchange (mixed into :class:`hbconnect.sim.bybit.BybitFrontEnd`).

From Bybit's v5 WebSocket docs:

* Public ``/v5/public/spot`` and ``/v5/public/linear``: ``{"op": "subscribe", "args": [topics],
  "req_id"}`` answered ``{"success", "ret_msg", "conn_id", "req_id", "op"}``.
  ``orderbook.{depth}.{symbol}`` (spot and linear alike: depths 1/50/200/1000, pushed every
  10/20/100/200 ms; level 500 went offline in September 2025): "once you have
  subscribed successfully, you will receive a snapshot immediately", then ``delta`` pushes
  (levels whose size changed; size 0 = the level left the top ``depth``), ``u`` the update id
  (consecutive per topic), ``seq`` the cross sequence, ``cts`` the matching-engine time; depth 1
  is snapshots only, re-sent every 3 s without a change. ``publicTrade.{symbol}``: ``T``, ``s``,
  ``S`` (taker side), ``v``, ``p``, ``i``, ``BT``. Ping ``{"op": "ping"}`` -> ``ret_msg`` "pong".
* Private ``/v5/private``: ``{"op": "auth", "args": [api_key, expires, signature]}`` with
  signature = hex HMAC-SHA256(secret, "GET/realtime" + expires) and ``expires`` (ms) in the
  future; then topics ``order``, ``execution``, ``wallet``, ``position`` (or ``order.spot``,
  ``order.linear``, ``execution.spot``, ``execution.linear``, ``position.linear``); pushes are
  ``{"id", "topic", "creationTime", "data": [...]}``; ping answered ``{"op": "pong", "args": [ms]}``.
* Trade ``/v5/trade``: the same auth (``reqId`` echoed; ``retCode`` 0 / 10004 / 10001 / 20001),
  then ``{"reqId", "header": {"X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW"}, "op": "order.create" |
  "order.cancel", "args": [one order]}`` answered ``{"reqId", "retCode", "retMsg", "op",
  "data", "retExtInfo", "header": {"X-Bapi-Limit", ...}, "connId"}``; a reused ``reqId`` is
  20006. The REST order faults apply here too (answer lost after the action / not done).
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
from decimal import Decimal
from typing import Any, Optional

from aiohttp import web

from hbconnect.sim.matching import BUY, SELL, AccountEvent, Fill, MatchingEngine, Order, OrderEvent, now_ms
from hbconnect.sim.server import WireError, WsConn, dumps

logger = logging.getLogger(__name__)

#: the depths of ``orderbook.{depth}.{symbol}`` per category (Bybit v5 "Orderbook": "Linear &
#: inverse" and "Spot" both list levels 1, 50, 200 and 1000)
BOOK_DEPTHS = {"spot": (1, 50, 200, 1000), "linear": (1, 50, 200, 1000)}
#: push period (s) of each depth (10 / 20 / 100 / 200 ms); the sim ticks every 20 ms
BOOK_PERIODS = {1: 0.01, 50: 0.02, 200: 0.1, 1000: 0.2}
SNAPSHOT_REPEAT_DEPTH1 = 3.0
PRIVATE_TOPICS = {"order", "execution", "wallet", "position", "order.spot", "order.linear",
                  "execution.spot", "execution.linear", "position.linear"}
MAX_REQ_IDS = 10_000


class BybitError(WireError):
    """A Bybit error answer: ``retCode``/``retMsg`` (HTTP 200 unless the gateway refuses)."""

    def __init__(self, code: int, msg: str, status: int = 200, headers: Optional[dict] = None) -> None:
        super().__init__(status, {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {},
                                  "time": now_ms()}, headers)
        self.code = code
        self.msg = msg


def text(d: Optional[Decimal]) -> str:
    """Decimal text as Bybit writes it: fixed point, no needless trailing zeros."""
    out = format(d if d is not None else Decimal(0), "f")
    if "." in out:
        out = out.rstrip("0").rstrip(".")
    return out or "0"


class _BookTopic:
    """What one ``orderbook.{depth}.{symbol}`` topic last published (shared by its sessions)."""

    __slots__ = ("u", "bids", "asks", "last_push")

    def __init__(self) -> None:
        self.u = 0
        self.bids: dict = {}
        self.asks: dict = {}
        self.last_push = 0.0


class BybitStreams:
    """WebSocket sessions and pushes of the Bybit front end."""

    def __init__(self) -> None:
        self._conn_ids = itertools.count(1)
        self._msg_ids = itertools.count(1)
        self._book_topics: dict = {}

    def add_ws_routes(self) -> None:
        app = self.app        # type: ignore[attr-defined]
        app.router.add_get("/v5/public/spot", self.public_spot_ws)
        app.router.add_get("/v5/public/linear", self.public_linear_ws)
        app.router.add_get("/v5/private", self.private_ws)
        app.router.add_get("/v5/trade", self.trade_ws)

    def _setup(self, conn: WsConn) -> None:
        conn.state["conn_id"] = f"sim-{next(self._conn_ids)}"

    @staticmethod
    def _load(text: str) -> Optional[dict]:
        try:
            msg = json.loads(text)
        except ValueError:
            return None
        return msg if isinstance(msg, dict) else None

    # ------------------------------------------------------------------ public
    async def public_spot_ws(self, request: web.Request) -> web.StreamResponse:
        return await self.public_ws(request, "spot")

    async def public_linear_ws(self, request: web.Request) -> web.StreamResponse:
        return await self.public_ws(request, "linear")

    async def public_ws(self, request: web.Request, category: str) -> web.StreamResponse:
        def on_text(conn: WsConn, text: str) -> None:
            msg = self._load(text)
            op = msg.get("op") if msg else None
            ack = {"success": True, "ret_msg": "", "conn_id": conn.state["conn_id"],
                   "req_id": str(msg.get("req_id", "")) if msg else "", "op": op}
            if op == "ping":
                ack["ret_msg"] = "pong"
                conn.send_raw(ack)
                return
            if op not in ("subscribe", "unsubscribe") or not isinstance(msg.get("args"), list):
                conn.send_raw({"success": False, "ret_msg": "Invalid request", "conn_id": conn.state["conn_id"],
                               "req_id": ack["req_id"], "op": op or ""})
                return
            topics = msg["args"]
            bad = [t for t in topics if not self._public_topic_ok(category, t)]
            if bad:
                ack.update(success=False, ret_msg=f"Invalid topic: {str(bad[0])[:60]}")
                conn.send_raw(ack)
                return
            if op == "subscribe":
                ack["ret_msg"] = "subscribe" if category == "spot" else ""
                conn.send_raw(ack)
                for t in topics:
                    conn.streams.add(f"{category}|{t}")
                    if t.startswith("orderbook."):
                        conn.send_text(dumps(self._book_snapshot(category, t)), "market")
            else:
                for t in topics:
                    conn.streams.discard(f"{category}|{t}")
                conn.send_raw(ack)
        return await self.serve_ws(request, on_text, setup=self._setup)     # type: ignore[attr-defined]

    def _public_topic_ok(self, category: str, topic: Any) -> bool:
        if not isinstance(topic, str):
            return False
        parts = topic.split(".")
        engine = self.categories[category]      # type: ignore[attr-defined]
        if len(parts) == 3 and parts[0] == "orderbook":
            return parts[1].isdigit() and int(parts[1]) in BOOK_DEPTHS[category] and parts[2] in engine.specs
        return len(parts) == 2 and parts[0] == "publicTrade" and parts[1] in engine.specs

    def _book_levels(self, category: str, symbol: str, depth: int) -> tuple[dict, dict]:
        book = self.categories[category].books[symbol]     # type: ignore[attr-defined]
        return dict(book.depth(BUY, depth)), dict(book.depth(SELL, depth))

    def _book_topic(self, category: str, topic: str) -> _BookTopic:
        state = self._book_topics.get((category, topic))
        if state is None:
            _, depth, symbol = topic.split(".")
            state = self._book_topics[(category, topic)] = _BookTopic()
            state.u = 1
            state.bids, state.asks = self._book_levels(category, symbol, int(depth))
        return state

    def _book_message(self, category: str, topic: str, kind: str, bids: list, asks: list, u: int) -> dict:
        symbol = topic.split(".")[2]
        book = self.categories[category].books[symbol]      # type: ignore[attr-defined]
        ts = now_ms()
        return {"topic": topic, "type": kind, "ts": ts,
                "data": {"s": symbol, "b": [[text(p), text(q)] for p, q in bids], "a": [[text(p), text(q)] for p, q in asks],
                         "u": u, "seq": book.update_id}, "cts": ts}

    def _book_snapshot(self, category: str, topic: str) -> dict:
        """The topic's current published state, as a snapshot (a new subscriber's first push)."""
        state = self._book_topic(category, topic)
        return self._book_message(category, topic, "snapshot", sorted(state.bids.items(), reverse=True),
                                  sorted(state.asks.items()), state.u)

    def _publish_books(self, now: float) -> None:
        wanted: set = set()
        for conn in self.conns:     # type: ignore[attr-defined]
            for s in conn.streams:
                category, _, topic = s.partition("|")
                if topic.startswith("orderbook."):
                    wanted.add((category, topic))
        for key in list(self._book_topics):
            if key not in wanted:
                del self._book_topics[key]      # nobody listens: a later subscriber starts afresh
        for category, topic in wanted:
            depth = int(topic.split(".")[1])
            if not self.due((category, topic), now, BOOK_PERIODS[depth]):     # type: ignore[attr-defined]
                continue
            state = self._book_topic(category, topic)
            bids, asks = self._book_levels(category, topic.split(".")[2], depth)
            changed = bids != state.bids or asks != state.asks
            stream = f"{category}|{topic}"
            if depth == 1:
                if changed or now - state.last_push >= SNAPSHOT_REPEAT_DEPTH1:
                    if changed:
                        state.u += 1
                    state.bids, state.asks, state.last_push = bids, asks, now
                    self.push_market(stream, self._book_message(        # type: ignore[attr-defined]
                        category, topic, "snapshot", list(bids.items()), list(asks.items()), state.u))
                continue
            if not changed:
                continue
            d_bids = _diff(state.bids, bids, reverse=True)
            d_asks = _diff(state.asks, asks, reverse=False)
            state.u += 1
            state.bids, state.asks, state.last_push = bids, asks, now
            self.push_market(stream, self._book_message(category, topic, "delta", d_bids, d_asks,  # type: ignore[attr-defined]
                                                        state.u))

    def tick(self, now: float) -> None:
        self._publish_books(now)

    def on_trade(self, engine: MatchingEngine, fill: Fill) -> None:
        category = self.cat_of(engine)      # type: ignore[attr-defined]
        stream = f"{category}|publicTrade.{fill.symbol}"
        if not self.subscribed(stream):       # type: ignore[attr-defined]
            return
        self.push_market(stream, {          # type: ignore[attr-defined]
            "topic": f"publicTrade.{fill.symbol}", "type": "snapshot", "ts": fill.time,
            "data": [{"T": fill.time, "s": fill.symbol, "S": "Buy" if fill.taker.side == BUY else "Sell",
                      "v": text(fill.qty), "p": text(fill.price), "L": "ZeroPlusTick", "i": str(fill.trade_id),
                      "BT": False}]})

    # ------------------------------------------------------------------ authentication
    def _ws_auth(self, args: Any) -> tuple[Optional[Any], int, str]:
        """(account, retCode, message) of an ``auth`` request."""
        if not isinstance(args, list) or len(args) != 3:
            return None, 10001, "Params Error"
        key, expires, sign = args
        account = self.exchange.account_by_key(key) if isinstance(key, str) else None     # type: ignore[attr-defined]
        if account is None:
            return None, 10003, "Invalid apikey"
        try:
            exp = int(expires)
        except (TypeError, ValueError):
            return None, 10001, "Params Error"
        if exp <= self.server_time():     # type: ignore[attr-defined]
            return None, 10002, "Request expired"
        expected = hmac.new(account.secret.encode(), f"GET/realtime{exp}".encode(), hashlib.sha256).hexdigest()
        if not isinstance(sign, str) or not hmac.compare_digest(expected, sign):
            return None, 10004, "Invalid sign"
        return account, 0, ""

    def _authenticate_session(self, conn: WsConn, args: Any, reply: Any) -> None:
        """An ``auth`` request on a private or trade socket; ``reply(code, message)`` is the
        answer in that socket's shape (20001: already authenticated)."""
        if conn.owner is not None:
            conn.send_raw(reply(20001, "Repeat auth"))
            return
        account, code, text_ = self._ws_auth(args)
        if account is None:
            self.count("ws_auth_failed")     # type: ignore[attr-defined]
            conn.send_raw(reply(code, text_))
            return
        conn.owner = account.account_id
        conn.state["account"] = account
        conn.send_raw(reply(0, ""))

    # ------------------------------------------------------------------ private stream
    async def private_ws(self, request: web.Request) -> web.StreamResponse:
        def on_text(conn: WsConn, text: str) -> None:
            msg = self._load(text)
            op = msg.get("op") if msg else None
            req_id = str(msg.get("req_id", "")) if msg else ""
            base = {"req_id": req_id, "conn_id": conn.state["conn_id"]}
            if op == "ping":
                conn.send_raw({**base, "op": "pong", "args": [str(self.server_time())]})    # type: ignore[attr-defined]
            elif op == "auth":
                self._authenticate_session(conn, msg.get("args"), lambda code, text_: {
                    **base, "success": code == 0, "ret_msg": text_, "op": "auth"})
            elif op in ("subscribe", "unsubscribe"):
                topics = msg.get("args")
                if conn.owner is None:
                    conn.send_raw({**base, "success": False, "ret_msg": "Request not authorized", "op": op})
                elif not isinstance(topics, list) or not topics or any(t not in PRIVATE_TOPICS for t in topics):
                    conn.send_raw({**base, "success": False, "ret_msg": "Invalid topic", "op": op})
                else:
                    for t in topics:
                        (conn.user_subs.add if op == "subscribe" else conn.user_subs.discard)(t)
                    conn.send_raw({**base, "success": True, "ret_msg": "", "op": op})
            else:
                conn.send_raw({**base, "success": False, "ret_msg": "Invalid request", "op": op or ""})
        return await self.serve_ws(request, on_text, setup=self._setup)     # type: ignore[attr-defined]

    def _private_conns(self, owner: str) -> list:
        return [c for c in self.conns if c.owner == owner and c.user_subs and not c.state.get("trade")]  # type: ignore[attr-defined]

    def has_user_listeners(self, owner: str) -> bool:
        return bool(self._private_conns(owner))

    def push_private(self, owner: str, kind: str, category: str, data: list) -> None:
        """``data`` on the ``kind`` topic (all-in-one or this category's) of ``owner``'s sessions."""
        for conn in self._private_conns(owner):
            for topic in (kind, f"{kind}.{category}"):
                if topic in conn.user_subs:
                    conn.send_text(dumps({"id": f"{next(self._msg_ids)}", "topic": topic, "creationTime": now_ms(),
                                          "data": data}), "user")

    def on_event(self, engine: MatchingEngine, ev: Any) -> None:
        owner = getattr(ev, "owner", None)
        if owner is None or not self.has_user_listeners(owner):
            return
        category = self.cat_of(engine)      # type: ignore[attr-defined]
        if isinstance(ev, OrderEvent):
            row = self.order_row(category, ev.order, ev.snapshot)      # type: ignore[attr-defined]
            row["category"] = category
            if ev.fill is not None:
                fs = ev.fill
                f = fs.fill
                self.push_private(owner, "execution", category, [{
                    "category": category, "symbol": f.symbol, "orderId": str(ev.order.order_id),
                    "orderLinkId": ev.order.client_order_id, "side": "Buy" if ev.order.side == BUY else "Sell",
                    "orderPrice": text(ev.order.price), "orderQty": text(ev.order.orig_qty),
                    "leavesQty": text(ev.snapshot["orig_qty"] - ev.snapshot["executed_qty"]),
                    "orderType": "Market" if ev.order.type == "MARKET" else "Limit", "stopOrderType": "",
                    "execFee": text(fs.commission), "feeCurrency": fs.commission_asset,
                    "execId": str(f.trade_id), "execPrice": text(f.price), "execQty": text(f.qty),
                    "execType": "Trade", "execValue": text(f.quote_qty), "execTime": str(f.time),
                    "isMaker": fs.is_maker, "feeRate": "", "execPnl": text(fs.realized_pnl),
                    "closedSize": "", "seq": f.trade_id}])
            self.push_private(owner, "order", category, [row])
        elif isinstance(ev, AccountEvent):
            account = self.exchange.accounts.get(owner)     # type: ignore[attr-defined]
            if account is None:
                return
            self.push_private(owner, "wallet", category, [self.wallet(account)])     # type: ignore[attr-defined]
            if category == "linear" and ev.positions:
                rows = []
                for p in ev.positions:
                    pos = account.futures.positions.get((p["symbol"], p["position_side"]))
                    row = self.position_row(account, p["symbol"], p["position_side"], pos)   # type: ignore[attr-defined]
                    rows.append(row)
                self.push_private(owner, "position", category, rows)

    def push_phantom(self, owner: str, category: str, order: Order) -> None:
        """The order-stream push of a PostOnly order cancelled at once (it never was in a book)."""
        if self.has_user_listeners(owner):
            row = self.order_row(category, order)      # type: ignore[attr-defined]
            row["category"] = category
            self.push_private(owner, "order", category, [row])

    # ------------------------------------------------------------------ order entry
    async def trade_ws(self, request: web.Request) -> web.StreamResponse:
        def setup(conn: WsConn) -> None:
            self._setup(conn)
            conn.state["trade"] = True
            conn.state["req_ids"] = set()

        async def on_text(conn: WsConn, text: str) -> None:
            msg = self._load(text)
            op = msg.get("op") if msg else None
            base: dict = {"connId": conn.state["conn_id"]}
            if msg is not None and "reqId" in msg:
                base["reqId"] = str(msg["reqId"])
            if op == "ping":
                conn.send_raw({**base, "retCode": 0, "retMsg": "OK", "op": "pong",
                               "data": [str(self.server_time())]})      # type: ignore[attr-defined]
                return
            if op == "auth":
                self._authenticate_session(conn, msg.get("args"), lambda code, text_: {
                    **base, "retCode": code, "retMsg": text_ or "OK", "op": "auth"})
                return
            if op not in ("order.create", "order.cancel"):
                conn.send_raw({**base, "retCode": 10404, "retMsg": "op type is not found", "op": op or ""})
                return
            await self._order_op(conn, msg, op, base)
        return await self.serve_ws(request, on_text, setup=setup)     # type: ignore[attr-defined]

    async def _order_op(self, conn: WsConn, msg: dict, op: str, base: dict) -> None:
        reply = {**base, "op": op, "data": {}, "retExtInfo": {}}
        account = conn.state.get("account")
        if account is None:
            conn.send_raw({**reply, "retCode": 10003, "retMsg": "Request not authorized"})
            return
        req_id = base.get("reqId")
        if req_id is not None:
            seen = conn.state["req_ids"]
            if req_id in seen:
                conn.send_raw({**reply, "retCode": 20006, "retMsg": "reqId is duplicated"})
                return
            if len(seen) > MAX_REQ_IDS:
                seen.clear()
            seen.add(req_id)
        header = msg.get("header")
        args = msg.get("args")
        path = "/v5/order/create" if op == "order.create" else "/v5/order/cancel"
        try:
            if not isinstance(header, dict) or "X-BAPI-TIMESTAMP" not in header:
                raise BybitError(10001, "params error: header X-BAPI-TIMESTAMP is required")
            self.check_time(header["X-BAPI-TIMESTAMP"], header.get("X-BAPI-RECV-WINDOW", "5000"))  # type: ignore[attr-defined]
            if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
                raise BybitError(10001, "params error: args must hold one order")
            limits = self.charge_uid(account, path, str(args[0].get("category", "")))    # type: ignore[attr-defined]
            fault = self.faults.order()      # type: ignore[attr-defined]
            if fault is not None and not fault[1]:       # not done: lost or refused
                if fault[0] == "timeout":
                    return
                raise BybitError(10016, "Server error.")
            if op == "order.create":
                data = self.create_order(account, args[0])      # type: ignore[attr-defined]
            else:
                data = self.cancel_order(account, args[0])      # type: ignore[attr-defined]
            if fault is not None:        # done, answer lost
                if fault[0] == "timeout":
                    return
                raise BybitError(10000, "Server Timeout")
        except BybitError as e:
            conn.send_raw({**reply, "retCode": e.code, "retMsg": e.msg,
                           "header": {"Timenow": str(self.server_time())}})       # type: ignore[attr-defined]
            return
        except Exception:
            logger.exception("sim bybit %s failed", op)
            conn.send_raw({**reply, "retCode": 10016, "retMsg": "Server error."})
            return
        header_out = {"Timenow": str(self.server_time()), "Traceid": f"sim{next(self._msg_ids)}"}   # type: ignore[attr-defined]
        header_out.update(limits)
        conn.send_raw({**reply, "retCode": 0, "retMsg": "OK", "data": data, "header": header_out})


def _diff(old: dict, new: dict, reverse: bool) -> list:
    """Levels of ``new`` that differ from ``old``, and those gone (size 0), sorted."""
    out = [(p, q) for p, q in new.items() if old.get(p) != q]
    out += [(p, Decimal(0)) for p in old if p not in new]
    out.sort(key=lambda x: x[0], reverse=reverse)
    return out
