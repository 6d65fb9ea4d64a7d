"""OKX v5 WebSocket side of the embedded exchange's OKX front end (from OKX's docs).

* ``/ws/v5/public``: ``{"op": "subscribe", "args": [{"channel": "books" | "trades", "instId"}]}``
  answered ``{"event": "subscribe", "arg", "connId"}``; ``books`` sends a 400-level ``snapshot``
  (``prevSeqId`` -1) then ``update`` pushes every 100 ms whose ``prevSeqId`` is the previous
  push's ``seqId``; ``checksum`` is 0 (OKX stopped computing it on 2026-06-23); sizes of SWAP
  books and trades are in contracts.
* ``/ws/v5/private``: ``login`` with ``args: [{apiKey, passphrase, timestamp (s), sign}]``, the
  sign being base64 HMAC-SHA256 of ``timestamp + "GET" + "/users/self/verify"`` (30 s validity);
  then ``orders`` (``instType`` SPOT / SWAP / ANY), ``account`` and ``positions`` channels, and
  the ``order`` / ``cancel-order`` operations ``{"id", "op", "args": [{...}]}`` answered
  ``{"id", "op", "code", "msg", "data": [{..., "sCode", "sMsg"}], "inTime", "outTime"}``.
* Keep-alive: the text ``ping`` is answered ``pong`` (public and private).
"""
from __future__ import annotations

import hmac
import json
import time
from typing import Any, Callable, Iterable, Optional

from aiohttp import web

from hbconnect.sim.matching import BUY, AccountEvent, OrderEvent, now_ms
from hbconnect.sim.okx_wire import MAX_WS_ID, SPOT, SWAP, TIMESTAMP_TOLERANCE_MS, Instrument, text
from hbconnect.sim.server import WsConn, book_changes, dumps

BOOK_INTERVAL = 0.1       # books: "update" every 100 ms
SNAPSHOT_DEPTH = 400
_ID_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class OkxWebSocket:
    """Mixin of :class:`hbconnect.sim.okx.OkxFrontEnd` (public and private sessions)."""

    ws_incoming_per_second = 100   # OKX: 480 subscribe/login per hour, order ops by rate limit

    def init_ws(self) -> None:
        self._conn_ids = 0
        self._book_seq: dict[str, int] = {}        # instId -> last published book update id
        self._pending_meta: Optional[dict] = None

    def _conn_id(self) -> str:
        self._conn_ids += 1
        return f"okxsim{self._conn_ids:08d}"

    # ------------------------------------------------------------------ sessions
    async def ws_public(self, request: web.Request) -> web.StreamResponse:
        return await self.serve_ws(request, self._on_public, setup=self._setup)

    async def ws_private(self, request: web.Request) -> web.StreamResponse:
        return await self.serve_ws(request, self._on_private, setup=self._setup)

    def _setup(self, conn: WsConn) -> None:
        conn.state["connId"] = self._conn_id()

    def _error(self, conn: WsConn, code: str, msg: str, req_id: Any = None) -> None:
        out = {"event": "error", "code": code, "msg": msg, "connId": conn.state["connId"]}
        if isinstance(req_id, str):
            out["id"] = req_id
        conn.send_raw(out)

    def _parse(self, conn: WsConn, raw: str) -> Optional[dict]:
        if raw == "ping":
            conn.send_raw("pong")
            return None
        try:
            msg = json.loads(raw)
        except (ValueError, RecursionError):
            self._error(conn, "60012", f"Invalid request: {raw[:100]}")
            return None
        if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
            self._error(conn, "60012", f"Invalid request: {raw[:100]}")
            return None
        return msg

    def _on_public(self, conn: WsConn, raw: str) -> None:
        msg = self._parse(conn, raw)
        if msg is None:
            return
        op = msg["op"]
        if op not in ("subscribe", "unsubscribe"):
            self._error(conn, "60019", f"Invalid op: {op}", msg.get("id"))
            return
        args = msg.get("args")
        if not isinstance(args, list) or not args:
            self._error(conn, "60013", "Invalid args", msg.get("id"))
            return
        for arg in args:
            channel = arg.get("channel") if isinstance(arg, dict) else None
            inst_id = arg.get("instId") if isinstance(arg, dict) else None
            inst = self.instruments.get(inst_id) if isinstance(inst_id, str) else None
            if channel not in ("books", "trades") or inst is None:
                self._error(conn, "60018", f"Wrong URL or channel:{str(channel)[:40]},instId:{str(inst_id)[:40]} "
                                           "doesn't exist. Please use the correct URL, channel and parameters "
                                           "referring to API document.", msg.get("id"))
                continue
            stream = f"{channel}:{inst.inst_id}"
            ack = {"event": op, "arg": {"channel": channel, "instId": inst.inst_id}, "connId": conn.state["connId"]}
            if isinstance(msg.get("id"), str):
                ack["id"] = msg["id"]
            conn.send_raw(ack)
            if op == "unsubscribe":
                conn.streams.discard(stream)
                continue
            if channel == "books":
                self._flush_book(inst)         # existing subscribers first: the chain stays intact
                conn.streams.add(stream)
                self._send_snapshot(conn, inst)
            else:
                conn.streams.add(stream)

    def _login(self, conn: WsConn, msg: dict) -> None:
        args = msg.get("args")
        a = args[0] if isinstance(args, list) and len(args) == 1 and isinstance(args[0], dict) else None
        if a is None:
            self._error(conn, "60012", "Invalid request")
            return
        account = self.exchange.account_by_key(a.get("apiKey")) if isinstance(a.get("apiKey"), str) else None
        if account is None:
            self._error(conn, "60005", f"Invalid apiKey")
            return
        ts = a.get("timestamp")
        try:
            ts_s = float(ts)
        except (TypeError, ValueError):
            self._error(conn, "60004", "Invalid timestamp")
            return
        if abs(ts_s * 1000 - self.server_time()) > TIMESTAMP_TOLERANCE_MS:
            self._error(conn, "60004", "Invalid timestamp")
            return
        if not isinstance(a.get("passphrase"), str) or not hmac.compare_digest(a["passphrase"], account.passphrase or ""):
            self._error(conn, "60024", "Wrong passphrase")
            return
        from hbconnect.sim.okx import sign
        expected = sign(account.secret, f"{ts}GET/users/self/verify")
        if not isinstance(a.get("sign"), str) or not hmac.compare_digest(a["sign"], expected):
            self._error(conn, "60009", "Login failure")
            return
        conn.owner = account.account_id
        conn.state["account"] = account
        conn.send_raw({"event": "login", "code": "0", "msg": "", "connId": conn.state["connId"]})

    def _on_private(self, conn: WsConn, raw: str) -> None:
        msg = self._parse(conn, raw)
        if msg is None:
            return
        op = msg["op"]
        if op == "login":
            self._login(conn, msg)
            return
        if conn.owner is None:
            self._error(conn, "60011", "Please log in", msg.get("id"))
            return
        if op in ("subscribe", "unsubscribe"):
            self._private_subscribe(conn, msg)
        elif op in ("order", "cancel-order"):
            self._operation(conn, msg)
        else:
            self._error(conn, "60019", f"Invalid op: {op}", msg.get("id"))

    def _private_subscribe(self, conn: WsConn, msg: dict) -> None:
        args = msg.get("args")
        if not isinstance(args, list) or not args:
            self._error(conn, "60013", "Invalid args", msg.get("id"))
            return
        for arg in args:
            channel = arg.get("channel") if isinstance(arg, dict) else None
            inst_type = arg.get("instType", "ANY") if isinstance(arg, dict) else None
            if channel not in ("orders", "account", "positions") or \
                    (channel == "orders" and inst_type not in ("SPOT", "SWAP", "ANY", "MARGIN", "FUTURES", "OPTION")) or \
                    (channel == "positions" and inst_type not in ("SWAP", "ANY", "MARGIN", "FUTURES", "OPTION")):
                self._error(conn, "60018", f"Wrong URL or channel:{channel} doesn't exist. Please use the correct "
                                           "URL, channel and parameters referring to API document.", msg.get("id"))
                continue
            key = channel if channel == "account" else f"{channel}:{inst_type}"
            out_arg = {"channel": channel}
            if channel != "account":
                out_arg["instType"] = inst_type
            ack = {"event": msg["op"], "arg": out_arg, "connId": conn.state["connId"]}
            if isinstance(msg.get("id"), str):
                ack["id"] = msg["id"]
            conn.send_raw(ack)
            if msg["op"] == "unsubscribe":
                conn.user_subs.discard(key)
                continue
            conn.user_subs.add(key)
            account = conn.state["account"]
            if channel == "account":    # the first push is the full account
                conn.send_text(dumps({"arg": {"channel": "account", "uid": account.account_id},
                                      "data": [self.balance_snapshot(account)]}), "user")
            elif channel == "positions":
                conn.send_text(dumps({"arg": {"channel": "positions", "instType": inst_type,
                                              "uid": account.account_id},
                                      "data": self.position_rows(account)}), "user")

    def _operation(self, conn: WsConn, msg: dict) -> None:
        req_id = msg.get("id")
        op = msg["op"]
        us = str(time.time_ns() // 1000)
        if not isinstance(req_id, str) or not req_id or len(req_id) > MAX_WS_ID or not set(req_id) <= _ID_OK:
            conn.send_raw({"id": req_id if isinstance(req_id, str) else "", "op": op, "code": "60013",
                           "msg": "Invalid args", "data": [], "inTime": us, "outTime": us})
            return
        args = msg.get("args")
        if not isinstance(args, list) or len(args) != 1:
            conn.send_raw({"id": req_id, "op": op, "code": "60013", "msg": "Invalid args", "data": [],
                           "inTime": us, "outTime": us})
            return
        account = conn.state["account"]
        inst_id = args[0].get("instId") if isinstance(args[0], dict) else ""
        inst_id = inst_id if isinstance(inst_id, str) else ""
        limit = self.limits.get("/api/v5/trade/order" if op == "order" else "/api/v5/trade/cancel-order")
        if limit is not None and not self.hit((f"ws:{op}", account.api_key, str(inst_id)), limit[0], limit[1]):
            conn.send_raw({"id": req_id, "op": op, "code": "50011", "msg": "Rate limit reached. Please refer to "
                           "API documentation and throttle requests accordingly.", "data": [],
                           "inTime": us, "outTime": us})
            return
        fault = self.faults.order() if op == "order" else None
        if fault is not None and not fault[1]:
            return     # the request is lost before the venue acts: no answer
        row = self.place(account, args[0]) if op == "order" else self.cancel(account, args[0])
        if fault is not None:
            return     # acted, answer lost
        env = self.op_envelope(row)
        env["msg"] = "" if row["sCode"] == "0" else env["msg"]
        conn.send_raw({"id": req_id, "op": op, **env})

    # ------------------------------------------------------------------ private pushes
    def user_targets(self, owner: str) -> Iterable[tuple[WsConn, Callable[[Any], str]]]:
        for conn in list(self.conns):
            if conn.owner == owner and conn.user_subs:
                yield conn, dumps

    def _push(self, owner: str, key_of: Callable[[WsConn], Optional[dict]], data: list) -> None:
        if not data:
            return
        for conn in list(self.conns):
            if conn.owner != owner or not conn.user_subs:
                continue
            arg = key_of(conn)
            if arg is not None:
                conn.send_text(dumps({"arg": arg, "data": data}), "user")

    def push_order(self, owner: str, inst: Instrument, order: Any, meta: Optional[dict],
                   snap: Optional[dict] = None, fill: Optional[Any] = None) -> None:
        row = self.order_row(inst, order, meta, snap)
        if fill is not None:
            row.update(fillPx=inst.px(fill.fill.price), fillSz=inst.sz(fill.fill.qty), tradeId=str(fill.fill.trade_id),
                       fillTime=str(fill.fill.time), fillFee=text(-fill.commission, 8), fillFeeCcy=fill.commission_asset,
                       execType="M" if fill.is_maker else "T", fillPnl=text(fill.realized_pnl, 8),
                       fillNotionalUsd=text(fill.fill.price * fill.fill.qty, 8))
        else:
            row.update(fillPx="", fillSz="0", tradeId="", fillTime="", fillFee="0", fillFeeCcy="", execType="")
        row.update(amendResult="", reqId="", code="0", msg="", amendSource="", lastPx=row.get("fillPx", ""))

        def arg(conn: WsConn) -> Optional[dict]:
            for it in (inst.inst_type, "ANY"):
                if f"orders:{it}" in conn.user_subs:
                    return {"channel": "orders", "instType": it, "uid": owner}
            return None
        self._push(owner, arg, [row])

    def on_event(self, engine: Any, ev: Any) -> None:
        if isinstance(ev, OrderEvent):
            inst = self.by_symbol.get((engine.market, ev.order.symbol))
            if inst is None:
                return
            key = (engine.market, ev.order.order_id)
            meta = self.meta.get(key)
            if meta is None and ev.exec_type == "NEW" and self._pending_meta is not None:
                meta = self.meta[key] = self._pending_meta
                self._pending_meta = None
            if meta is not None and ev.fill is not None:
                f = ev.fill
                meta["fee"] = meta.get("fee", 0) + f.commission
                meta["feeCcy"] = f.commission_asset
                meta["fill"] = {"px": f.fill.price, "sz": f.fill.qty, "id": str(f.fill.trade_id),
                                "time": str(f.fill.time)}
            if meta is not None and not ev.order.is_open and ev.exec_type != "TRADE" and len(self.meta) > 200_000:
                self.meta.pop(key, None)
            if self.has_user_listeners(ev.owner):
                self.push_order(ev.owner, inst, ev.order, meta, ev.snapshot, ev.fill)
        elif isinstance(ev, AccountEvent):
            account = self.exchange.accounts.get(ev.owner)
            if account is None or not self.has_user_listeners(ev.owner):
                return
            self._push(ev.owner, lambda c: {"channel": "account", "uid": ev.owner} if "account" in c.user_subs else None,
                       [self.balance_snapshot(account)])
            if engine.market == "futures":
                keys = {(p["symbol"], p["position_side"]) for p in ev.positions}
                rows = self.position_rows(account, keys=keys, include_flat=True) if keys else []

                def pos_arg(conn: WsConn) -> Optional[dict]:
                    for it in ("SWAP", "ANY"):
                        if f"positions:{it}" in conn.user_subs:
                            return {"channel": "positions", "instType": it, "uid": ev.owner}
                    return None
                self._push(ev.owner, pos_arg, rows)

    # ------------------------------------------------------------------ market data
    def on_trade(self, engine: Any, fill: Any) -> None:
        inst = self.by_symbol.get((engine.market, fill.symbol))
        if inst is None:
            return
        stream = f"trades:{inst.inst_id}"
        if self.subscribed(stream):
            self.push_market(stream, {"arg": {"channel": "trades", "instId": inst.inst_id}, "data": [{
                "instId": inst.inst_id, "tradeId": str(fill.trade_id), "px": inst.px(fill.price),
                "sz": inst.sz(fill.qty), "side": "buy" if fill.taker.side == BUY else "sell",
                "ts": str(fill.time), "count": "1"}]})

    def _send_snapshot(self, conn: WsConn, inst: Instrument) -> None:
        book = self.engine_of(inst).books[inst.spec.symbol]
        asks, bids = self.book_levels(inst, SNAPSHOT_DEPTH)
        self._book_seq[inst.inst_id] = book.update_id
        conn.send_text(dumps({"arg": {"channel": "books", "instId": inst.inst_id}, "action": "snapshot",
                              "data": [{"asks": asks, "bids": bids, "ts": str(now_ms()), "checksum": 0,
                                        "prevSeqId": -1, "seqId": book.update_id}]}), "market")

    def _flush_book(self, inst: Instrument) -> None:
        """Publish the changes since the last push to the current subscribers (if any)."""
        stream = f"books:{inst.inst_id}"
        book = self.engine_of(inst).books[inst.spec.symbol]
        last = self._book_seq.get(inst.inst_id)
        if last is None or not self.subscribed(stream):
            self._book_seq[inst.inst_id] = book.update_id
            return
        if book.update_id == last:
            return
        bids, asks = book_changes(book, last)
        self.push_market(stream, {"arg": {"channel": "books", "instId": inst.inst_id}, "action": "update", "data": [{
            "asks": [[inst.px(p), inst.sz(q), "0", "1" if q else "0"] for p, q in asks],
            "bids": [[inst.px(p), inst.sz(q), "0", "1" if q else "0"] for p, q in bids],
            "ts": str(now_ms()), "checksum": 0, "prevSeqId": last, "seqId": book.update_id}]})
        self._book_seq[inst.inst_id] = book.update_id

    def tick(self, now: float) -> None:
        if not self.due("books", now, BOOK_INTERVAL):
            return
        for inst in self.instruments.values():
            if self.subscribed(f"books:{inst.inst_id}"):
                self._flush_book(inst)
