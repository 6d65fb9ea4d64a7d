"""The OKX v5 venue of the embedded exchange: one front end (``okx``) serving SPOT and SWAP.

OKX serves every instrument type on one host, so this front end sits on both matching engines
(spot: ``tdMode=cash``; linear perpetual swaps: ``tdMode`` ``cross`` / ``isolated``, sizes in
contracts of ``ctVal``).  Written from OKX's API v5 docs only (see :mod:`hbconnect.sim.okx_wire`):

* REST ``/api/v5/...``: ``OK-ACCESS-KEY`` / ``-SIGN`` / ``-TIMESTAMP`` / ``-PASSPHRASE`` headers,
  the signature is base64 HMAC-SHA256 of ``timestamp + METHOD + requestPath(+?query) + body``
  with the ISO millisecond timestamp, which must be within 30 s of the server clock.
* Rate limits per endpoint as documented (e.g. place / cancel / get order: 60 requests per 2 s
  per user and instrument), answered ``429`` ``{"code": "50011"}``.
* WebSocket (:mod:`hbconnect.sim.okx_ws`): ``/ws/v5/public`` (``books``, ``trades``) and
  ``/ws/v5/private`` (``login``, ``orders`` / ``account`` / ``positions``, ``order`` /
  ``cancel-order`` operations); text ``ping`` / ``pong``.

The generic fault knobs of :mod:`hbconnect.sim.faults` apply (REST 429 / 5xx / slow, lost
order answers, hung requests, WebSocket drop / duplicate / delay / close, clock offset).
Margin modes: ``tdMode`` / ``mgnMode`` ``isolated`` make the instrument isolated in the core's
ledger (own margin per position, liquidation at ``liqPx``; see ``accounts.py``) when it has no
position and no open order.  Limitation: one margin mode per instrument, where OKX can hold a
cross and an isolated position of one instrument side by side; an order in the other mode while
the instrument has a position or orders is margined in the instrument's current mode.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from collections import deque
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Optional
from urllib.parse import parse_qsl

from aiohttp import web

from hbconnect.sim.accounts import Account
from hbconnect.sim.errors import Reject, SimReject
from hbconnect.sim.matching import BUY, SELL, ZERO, MatchingEngine, Order, OrderRequest, now_ms
from hbconnect.sim.okx_wire import (
    BODY_EMPTY, CANCEL_SOURCE_POST_ONLY, CANCEL_SOURCE_USER, INSTRUMENT_MISSING, JSON_ERROR, KEY_EMPTY,
    KEY_INVALID, MAX_CLORDID, NOT_FOUND, ORDER_MISSING, PASSPHRASE_EMPTY, PASSPHRASE_WRONG, RATE_LIMITED,
    REQUEST_TIMEOUT, SERVICE_UNAVAILABLE, SIGN_EMPTY, SIGN_INVALID, SPOT, SWAP, SYSTEM_ERROR, TS_EMPTY,
    TS_EXPIRED, TS_INVALID, TIMESTAMP_TOLERANCE_MS, Instrument, OkxError, int_param, num, param_error, reject_pair,
    text,
)
from hbconnect.sim.okx_ws import OkxWebSocket
from hbconnect.sim.server import FrontEnd, Route, WireError, dumps
from hbconnect.sim.vocabulary import (IncomeKind, MarginMode, PositionSide, SelfTradePrevention as STP, Status,
                                      TimeInForce as TIF)

_ORD_TYPES = ("market", "limit", "post_only", "fok", "ioc")
_STATES = {Status.NEW: "live", Status.PARTIALLY_FILLED: "partially_filled", Status.FILLED: "filled",
           Status.CANCELED: "canceled", Status.EXPIRED: "canceled", Status.PREVENTED: "canceled"}
#: the core's self-trade prevention modes as ``stpMode`` names them (cancel_maker by default)
_STP_WIRE = {STP.CANCEL_MAKER: "cancel_maker", STP.CANCEL_TAKER: "cancel_taker", STP.CANCEL_BOTH: "cancel_both"}
_STP_FROM_WIRE = {wire: mode for mode, wire in _STP_WIRE.items()}
#: the core's position sides as ``posSide`` names them
_POS_SIDE_WIRE = {PositionSide.NET: "net", PositionSide.LONG: "long", PositionSide.SHORT: "short"}
_POS_SIDE_FROM_WIRE = {wire: side for side, wire in _POS_SIDE_WIRE.items()}
_CLORDID_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
#: per-endpoint limits: (requests, seconds, key) with key "uid+inst" / "uid" / "ip"
LIMITS: dict = {
    "/api/v5/trade/order": (60, 2.0, "uid+inst"),
    "/api/v5/trade/cancel-order": (60, 2.0, "uid+inst"),
    "/api/v5/trade/fills": (60, 2.0, "uid"),
    "/api/v5/trade/orders-pending": (60, 2.0, "uid"),
    "/api/v5/account/balance": (10, 2.0, "uid"),
    "/api/v5/account/positions": (10, 2.0, "uid"),
    "/api/v5/account/config": (5, 2.0, "uid"),
    "/api/v5/account/set-position-mode": (5, 2.0, "uid"),
    "/api/v5/account/set-leverage": (20, 2.0, "uid"),
    "/api/v5/account/leverage-info": (20, 2.0, "uid"),
    "/api/v5/account/bills": (5, 1.0, "uid"),
    "/api/v5/public/instruments": (20, 2.0, "ip"),
    "/api/v5/public/time": (10, 2.0, "ip"),
    "/api/v5/public/funding-rate": (10, 2.0, "ip"),
    "/api/v5/public/mark-price": (10, 2.0, "ip"),
    "/api/v5/market/ticker": (20, 2.0, "ip"),
    "/api/v5/market/tickers": (20, 2.0, "ip"),
    "/api/v5/market/books": (40, 2.0, "ip"),
}


class OkxRequest:
    """A parsed request: query / JSON body parameters and the exact text that was signed."""

    __slots__ = ("params", "body", "raw_body", "path_qs")

    def __init__(self, params: dict, body: Any, raw_body: str, path_qs: str) -> None:
        self.params = params
        self.body = body
        self.raw_body = raw_body
        self.path_qs = path_qs


def iso_ms(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000.0, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{ts_ms % 1000:03d}Z"


def parse_iso_ms(value: str) -> int:
    """``2020-12-08T09:08:57.715Z`` -> ms; ValueError otherwise."""
    if not isinstance(value, str) or not value.endswith("Z") or len(value) != 24:
        raise ValueError(value)
    dt = datetime.strptime(value[:-1], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000 + 0.5)


def sign(secret: str, prehash: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()


class OkxFrontEnd(OkxWebSocket, FrontEnd):
    """OKX v5 REST + WebSocket over the spot and futures engines (see the module docstring)."""

    venue = "okx"
    market = "okx"

    def __init__(self, exchange: Any, faults: Any, seed: int = 0, ping_interval: Optional[float] = None,
                 limits: Optional[dict] = None) -> None:
        self.limits = dict(LIMITS, **(limits or {}))
        self._hits: dict = {}
        self.instruments: dict[str, Instrument] = {}
        self.by_symbol: dict[tuple[str, str], Instrument] = {}       # (engine market, symbol) -> inst
        for spec in exchange.spot_engine.specs.values():
            self._add(Instrument.spot(spec), "spot")
        for spec in exchange.futures_engine.specs.values():
            self._add(Instrument.swap(spec), "futures")
        #: OKX facts the engines do not keep: (market, order id) -> {ordType, tdMode, fees, last fill}
        self.meta: dict[tuple[str, int], dict] = {}
        #: post-only orders cancelled on placement (never reached the engine): (owner, instId, cid)
        self.refused: dict[tuple[str, str, str], Order] = {}
        self._refused_ids = itertools.count(9_000_000_000)
        self._refused_order: deque = deque()
        self._pos_ids: dict[tuple, str] = {}
        super().__init__(exchange, [exchange.spot_engine, exchange.futures_engine], faults, seed=seed,
                         ping_interval=ping_interval)
        self.init_ws()

    def _add(self, inst: Instrument, market: str) -> None:
        self.instruments[inst.inst_id] = inst
        self.by_symbol[(market, inst.spec.symbol)] = inst

    # ------------------------------------------------------------------ pipeline hooks
    def add_routes(self) -> None:
        r = self.route
        r("GET", "/api/v5/public/time", self.h_time, fault_exempt=True)
        r("GET", "/api/v5/public/instruments", self.h_instruments, fault_exempt=True)
        r("GET", "/api/v5/public/funding-rate", self.h_funding_rate)
        r("GET", "/api/v5/public/mark-price", self.h_mark_price)
        r("GET", "/api/v5/market/ticker", self.h_ticker)
        r("GET", "/api/v5/market/tickers", self.h_tickers)
        r("GET", "/api/v5/market/books", self.h_books)
        r("GET", "/api/v5/account/balance", self.h_balance, private=True)
        r("GET", "/api/v5/account/positions", self.h_positions, private=True)
        r("GET", "/api/v5/account/config", self.h_config, private=True)
        r("POST", "/api/v5/account/set-position-mode", self.h_set_position_mode, private=True)
        r("POST", "/api/v5/account/set-leverage", self.h_set_leverage, private=True)
        r("GET", "/api/v5/account/leverage-info", self.h_leverage_info, private=True)
        r("GET", "/api/v5/account/bills", self.h_bills, private=True)
        r("POST", "/api/v5/trade/order", self.h_place, private=True, order=True)
        r("POST", "/api/v5/trade/cancel-order", self.h_cancel, private=True)
        r("GET", "/api/v5/trade/order", self.h_order, private=True)
        r("GET", "/api/v5/trade/orders-pending", self.h_pending, private=True)
        r("GET", "/api/v5/trade/fills", self.h_fills, private=True)
        self.app.router.add_get("/ws/v5/public", self.ws_public)
        self.app.router.add_get("/ws/v5/private", self.ws_private)

    async def read_request(self, request: web.Request, route: Route) -> OkxRequest:
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        raw = await request.text() if request.method == "POST" else ""
        body: Any = {}
        if request.method == "POST":
            if not raw:
                raise OkxError.of(BODY_EMPTY)
            try:
                body = json.loads(raw)
            except (ValueError, RecursionError):
                raise OkxError.of(JSON_ERROR) from None
            if not isinstance(body, dict):
                raise OkxError.of(JSON_ERROR)
        path_qs = request.path + (f"?{request.query_string}" if request.query_string else "")
        return OkxRequest(params, body, raw, path_qs)

    def admit(self, request: web.Request, req: OkxRequest, route: Route) -> None:
        limit = self.limits.get(route.path)
        if limit is None:
            return
        count, seconds, key = limit
        who = request.headers.get("OK-ACCESS-KEY", "") if key.startswith("uid") else "ip"
        inst = (req.body.get("instId") if isinstance(req.body, dict) else None) or req.params.get("instId", "")
        inst = inst if isinstance(inst, str) else ""
        if not self.hit((route.path, who, inst if key == "uid+inst" else ""), count, seconds):
            raise OkxError.of(RATE_LIMITED)

    def hit(self, key: tuple, count: int, seconds: float) -> bool:
        """Count one request in a rolling window; False when it is over the limit."""
        now = time.monotonic()
        q = self._hits.setdefault(key, deque())
        while q and now - q[0] >= seconds:
            q.popleft()
        if len(q) >= count:
            return False
        q.append(now)
        return True

    def authenticate(self, request: web.Request, req: OkxRequest, route: Route) -> Optional[Account]:
        if not route.meta.get("private"):
            return None
        h = request.headers
        key, signature, ts, passphrase = (h.get("OK-ACCESS-KEY"), h.get("OK-ACCESS-SIGN"),
                                          h.get("OK-ACCESS-TIMESTAMP"), h.get("OK-ACCESS-PASSPHRASE"))
        if not key:
            raise OkxError.of(KEY_EMPTY)
        if not passphrase:
            raise OkxError.of(PASSPHRASE_EMPTY)
        if not signature:
            raise OkxError.of(SIGN_EMPTY)
        if not ts:
            raise OkxError.of(TS_EMPTY)
        account = self.exchange.account_by_key(key)
        if account is None:
            raise OkxError.of(KEY_INVALID)
        try:
            ts_ms = parse_iso_ms(ts)
        except ValueError:
            raise OkxError.of(TS_INVALID) from None
        if abs(ts_ms - self.server_time()) > TIMESTAMP_TOLERANCE_MS:
            raise OkxError.of(TS_EXPIRED)
        if not hmac.compare_digest(passphrase, account.passphrase or ""):
            raise OkxError.of(PASSPHRASE_WRONG)
        expected = sign(account.secret, ts + request.method.upper() + req.path_qs + req.raw_body)
        if not hmac.compare_digest(signature, expected):
            raise OkxError.of(SIGN_INVALID)
        return account

    def fault_error(self, kind: str) -> WireError:
        if kind == "429":
            return OkxError.of(RATE_LIMITED)
        if kind in ("5xx", "order_rejected"):
            return OkxError.of(SERVICE_UNAVAILABLE)
        if kind in ("order_unknown", "hang"):
            return OkxError.of(REQUEST_TIMEOUT)
        return OkxError.of(SYSTEM_ERROR)

    def reject_error(self, e: SimReject, route: Route) -> WireError:
        code, msg = reject_pair(e.reason)
        return OkxError(code, msg)

    def internal_error(self, status: int) -> WireError:
        if status in (404, 405):
            return OkxError.of(NOT_FOUND)
        if status == 413:
            return OkxError("50000", "Request body too large", 413)
        return OkxError.of(SYSTEM_ERROR)

    def ok_response(self, result: Any, account: Any, route: Route) -> web.StreamResponse:
        if isinstance(result, dict) and "code" in result:     # an order operation's envelope
            return web.json_response(text=dumps(result))
        return web.json_response(text=dumps({"code": "0", "msg": "", "data": result}))

    # ------------------------------------------------------------------ helpers
    def inst(self, inst_id: Any, inst_type: Optional[str] = None) -> Instrument:
        if not inst_id:
            raise OkxError("50014", "Parameter instId can not be empty.", 400)
        inst = self.instruments.get(inst_id) if isinstance(inst_id, str) else None
        if inst is None or (inst_type and inst.inst_type != inst_type):
            raise OkxError(*INSTRUMENT_MISSING)
        return inst

    def engine_of(self, inst: Instrument) -> MatchingEngine:
        return self.exchange.spot_engine if inst.inst_type == SPOT else self.exchange.futures_engine

    def inst_of(self, engine: MatchingEngine, symbol: str) -> Instrument:
        return self.by_symbol[(engine.market, symbol)]

    def mark(self, inst: Instrument) -> Decimal:
        return self.exchange.mark_price_of(inst.spec.symbol)

    # ------------------------------------------------------------------ public REST
    async def h_time(self, request: web.Request, req: OkxRequest, account: Any) -> list:
        return [{"ts": str(self.server_time())}]

    async def h_instruments(self, request: web.Request, req: OkxRequest, account: Any) -> list:
        inst_type = req.params.get("instType")
        if inst_type not in (SPOT, SWAP, "MARGIN", "FUTURES", "OPTION"):
            raise param_error("instType")
        wanted = req.params.get("instId")
        out = []
        for inst in self.instruments.values():
            if inst.inst_type == inst_type and (not wanted or inst.inst_id == wanted):
                out.append(inst.describe(lever=125 if inst_type == SWAP else 10))
        return out

    async def h_funding_rate(self, request: web.Request, req: OkxRequest, account: Any) -> list:
        inst = self.inst(req.params.get("instId"), SWAP)
        rate = self.exchange.funding_rate(inst.spec.symbol)
        nxt = self.exchange.next_funding_ms or now_ms()
        interval = int((self.exchange.funding_interval or 28800) * 1000)
        return [{"instType": SWAP, "instId": inst.inst_id, "method": "current_period", "formulaType": "withRate",
                 "fundingRate": text(rate, 8), "nextFundingRate": "", "fundingTime": str(nxt),
                 "nextFundingTime": str(nxt + interval), "minFundingRate": "-0.0075", "maxFundingRate": "0.0075",
                 "interestRate": "0.0001", "impactValue": "", "settState": "settled",
                 "settFundingRate": text(rate, 8), "premium": "0", "ts": str(self.server_time())}]

    async def h_mark_price(self, request: web.Request, req: OkxRequest, account: Any) -> list:
        insts = [self.inst(req.params["instId"], SWAP)] if req.params.get("instId") else \
            [i for i in self.instruments.values() if i.inst_type == SWAP]
        return [{"instType": SWAP, "instId": i.inst_id, "markPx": i.px(self.mark(i)), "ts": str(self.server_time())}
                for i in insts]

    def _ticker(self, inst: Instrument) -> dict:
        engine = self.engine_of(inst)
        book = engine.books[inst.spec.symbol]
        bid, ask = book.depth(BUY, 1), book.depth(SELL, 1)
        last = self.exchange.last_price(engine, inst.spec.symbol)
        return {"instType": inst.inst_type, "instId": inst.inst_id, "last": inst.px(last), "lastSz": "",
                "askPx": inst.px(ask[0][0]) if ask else "", "askSz": inst.sz(ask[0][1]) if ask else "",
                "bidPx": inst.px(bid[0][0]) if bid else "", "bidSz": inst.sz(bid[0][1]) if bid else "",
                "open24h": inst.px(last), "high24h": inst.px(last), "low24h": inst.px(last),
                "volCcy24h": "0", "vol24h": "0", "sodUtc0": inst.px(last), "sodUtc8": inst.px(last),
                "ts": str(self.server_time())}

    async def h_ticker(self, request: web.Request, req: OkxRequest, account: Any) -> list:
        return [self._ticker(self.inst(req.params.get("instId")))]

    async def h_tickers(self, request: web.Request, req: OkxRequest, account: Any) -> list:
        inst_type = req.params.get("instType")
        if inst_type not in (SPOT, SWAP, "FUTURES", "OPTION"):
            raise param_error("instType")
        return [self._ticker(i) for i in self.instruments.values() if i.inst_type == inst_type]

    def book_levels(self, inst: Instrument, depth: int) -> tuple[list, list]:
        book = self.engine_of(inst).books[inst.spec.symbol]
        rows = [[[inst.px(p), inst.sz(q), "0", "1"] for p, q in book.depth(side, depth)] for side in (SELL, BUY)]
        return rows[0], rows[1]

    async def h_books(self, request: web.Request, req: OkxRequest, account: Any) -> list:
        inst = self.inst(req.params.get("instId"))
        depth = int_param(req.params, "sz", 1, 1, 400)
        asks, bids = self.book_levels(inst, depth)
        return [{"asks": asks, "bids": bids, "ts": str(self.server_time())}]

    # ------------------------------------------------------------------ account REST
    def balance_snapshot(self, account: Account, ccys: Optional[set] = None) -> dict:
        """The unified account's view: spot balances and the swap wallet summed per currency
        (``cashBal``), ``availBal`` what is free, ``frozenBal`` what orders and positions hold."""
        owner = account.account_id
        fledger = self.exchange.futures_engine.ledger
        facct = account.futures
        per: dict[str, list] = {}
        for ccy, (free, locked) in account.spot.balances.items():
            row = per.setdefault(ccy, [ZERO, ZERO, ZERO, ZERO])
            row[0] += free + locked
            row[1] += free
            row[2] += locked
        upl = fledger.unrealized(facct)
        for ccy, wallet in facct.wallet.items():
            row = per.setdefault(ccy, [ZERO, ZERO, ZERO, ZERO])
            avail = max(ZERO, fledger.available(owner)) if ccy == fledger.MARGIN_ASSET else wallet
            row[0] += wallet
            row[1] += avail
            row[2] += max(ZERO, wallet + (upl if ccy == fledger.MARGIN_ASSET else ZERO) - avail)
            if ccy == fledger.MARGIN_ASSET:
                row[3] += upl
        ts = str(max(account.spot.update_time, facct.update_time) or self.server_time())
        details = []
        for ccy in sorted(per):
            if ccys and ccy not in ccys:
                continue
            cash, avail, frozen, u = per[ccy]
            if not (cash or u) and not ccys:
                continue
            details.append({"ccy": ccy, "eq": text(cash + u, 8), "cashBal": text(cash, 8), "uTime": ts,
                            "isoEq": "0", "availEq": text(avail, 8), "disEq": text(cash + u, 8),
                            "fixedBal": "0", "availBal": text(avail, 8), "frozenBal": text(frozen, 8),
                            "ordFrozen": text(frozen, 8), "liab": "0", "upl": text(u, 8), "uplLiab": "0",
                            "crossLiab": "0", "isoLiab": "0", "mgnRatio": "", "interest": "0", "twap": "0",
                            "maxLoan": "", "eqUsd": text(cash + u, 8), "borrowFroz": "0", "notionalLever": "0",
                            "stgyEq": "0", "isoUpl": "0", "spotInUseAmt": "", "spotBal": "", "openAvgPx": "",
                            "accAvgPx": "", "spotUpl": "", "spotUplRatio": "", "totalPnl": "",
                            "totalPnlRatio": ""})
        return {"uTime": ts, "totalEq": "0", "isoEq": "0", "adjEq": "0", "ordFroz": "0", "imr": "0", "mmr": "0",
                "borrowFroz": "0", "mgnRatio": "", "notionalUsd": "0", "upl": "0", "details": details}

    async def h_balance(self, request: web.Request, req: OkxRequest, account: Account) -> list:
        ccy = req.params.get("ccy")
        return [self.balance_snapshot(account, set(ccy.split(",")) if ccy else None)]

    def position_rows(self, account: Account, inst_id: Optional[str] = None, keys: Optional[set] = None,
                      include_flat: bool = False) -> list:
        facct = account.futures
        out = []
        for (symbol, side), pos in sorted(facct.positions.items()):
            if keys is not None and (symbol, side) not in keys:
                continue
            if not pos.amount and not include_flat:
                continue
            inst = self.by_symbol.get(("futures", symbol))
            if inst is None or (inst_id and inst.inst_id != inst_id):
                continue
            mark = self.mark(inst)
            lever = facct.lev(symbol)
            pos_side = _POS_SIDE_WIRE[side]
            contracts = pos.amount / inst.ct_val if side == PositionSide.NET else abs(pos.amount) / inst.ct_val
            pos_id = self._pos_ids.setdefault((account.account_id, symbol, side), str(700_000 + len(self._pos_ids)))
            isolated = facct.isolated(symbol)
            liq = self.exchange.futures_engine.ledger.liquidation_price(facct, symbol, pos)
            out.append({"instType": SWAP, "instId": inst.inst_id, "mgnMode": "isolated" if isolated else "cross",
                "posId": pos_id, "posSide": pos_side,
                "pos": text(contracts, inst.sz_places), "baseBal": "", "quoteBal": "", "baseBorrowed": "",
                "baseInterest": "", "quoteBorrowed": "", "quoteInterest": "", "posCcy": "",
                "availPos": text(abs(contracts), inst.sz_places), "avgPx": inst.px(pos.entry_price) or "0",
                "upl": text(pos.unrealized(mark), 8), "uplRatio": "0", "uplLastPx": text(pos.unrealized(mark), 8),
                "lever": str(lever), "liqPx": inst.px(liq) if liq else "", "markPx": inst.px(mark),
                # "imr": initial margin requirement, cross only; "margin": isolated only
                "imr": "" if isolated else text(abs(pos.amount) * mark / lever, 8),
                "margin": text(pos.isolated_margin, 8) if isolated else "", "mgnRatio": "", "mmr": "0", "liab": "", "liabCcy": "", "interest": "0", "tradeId": "",
                "optVal": "", "pendingCloseOrdLiabVal": "", "notionalUsd": text(abs(pos.amount) * mark, 8),
                "adl": "1", "ccy": inst.spec.quote, "last": inst.px(mark), "idxPx": inst.px(mark),
                "usdPx": "", "bePx": inst.px(pos.entry_price) or "0", "deltaBS": "", "deltaPA": "",
                "gammaBS": "", "gammaPA": "", "thetaBS": "", "thetaPA": "", "vegaBS": "", "vegaPA": "",
                "spotInUseAmt": "", "spotInUseCcy": "", "clSpotInUseAmt": "", "maxSpotInUseAmt": "",
                "realizedPnl": "0", "pnl": "0", "fee": "0", "fundingFee": "0", "liqPenalty": "0",
                "closeOrderAlgo": [], "cTime": str(pos.update_time), "uTime": str(pos.update_time),
                "bizRefId": "", "bizRefType": ""})
        return out

    async def h_positions(self, request: web.Request, req: OkxRequest, account: Account) -> list:
        inst_type = req.params.get("instType")
        if inst_type not in (None, "", SWAP, "MARGIN", "FUTURES", "OPTION"):
            raise param_error("instType")
        inst_id = req.params.get("instId")
        if inst_id:
            self.inst(inst_id, SWAP)
        return [] if inst_type not in (None, "", SWAP) else self.position_rows(account, inst_id)

    def pos_mode(self, account: Account) -> str:
        return "long_short_mode" if account.futures.hedge_mode else "net_mode"

    async def h_config(self, request: web.Request, req: OkxRequest, account: Account) -> list:
        return [{"uid": account.account_id, "mainUid": account.account_id, "acctLv": "2",
                 "acctStpMode": "cancel_maker", "posMode": self.pos_mode(account), "autoLoan": False,
                 "greeksType": "PA", "level": "Lv1", "levelTmp": "", "ctIsoMode": "automatic",
                 "mgnIsoMode": "automatic", "spotOffsetType": "", "roleType": "0", "traderInsts": [],
                 "spotRoleType": "0", "spotTraderInsts": [], "opAuth": "0", "kycLv": "1", "label": "hbconnect-sim",
                 "ip": "", "perm": "read_only,trade", "liquidationGear": "-1", "enableSpotBorrow": False,
                 "spotBorrowAutoRepay": False, "type": "0", "settleCcy": "USDT", "settleCcyList": ["USDT"]}]

    async def h_set_position_mode(self, request: web.Request, req: OkxRequest, account: Account) -> list:
        mode = req.body.get("posMode")
        if mode not in ("long_short_mode", "net_mode"):
            raise param_error("posMode")
        try:
            self.exchange.futures_engine.ledger.set_position_mode(account.account_id, mode == "long_short_mode")
        except SimReject as e:
            if e.reason is not Reject.POSITION_MODE_UNCHANGED:
                raise
        return [{"posMode": mode}]

    async def h_set_leverage(self, request: web.Request, req: OkxRequest, account: Account) -> list:
        b = req.body
        mgn = b.get("mgnMode")
        if mgn not in ("cross", "isolated"):
            raise param_error("mgnMode")
        inst = self.inst(b.get("instId"), SWAP)
        lever = num(b.get("lever"), "lever")
        if lever != lever.to_integral_value() or lever < 1:
            raise param_error("lever")
        self.exchange.futures_engine.ledger.set_leverage(account.account_id, inst.spec.symbol, int(lever))
        self._adopt_margin_mode(account, inst.spec.symbol, mgn)
        return [{"lever": str(int(lever)), "mgnMode": mgn, "instId": inst.inst_id, "posSide": b.get("posSide") or ""}]

    async def h_leverage_info(self, request: web.Request, req: OkxRequest, account: Account) -> list:
        mgn = req.params.get("mgnMode")
        if mgn not in ("cross", "isolated"):
            raise param_error("mgnMode")
        out = []
        for inst_id in (req.params.get("instId") or "").split(","):
            inst = self.inst(inst_id, SWAP)
            out.append({"instId": inst.inst_id, "mgnMode": mgn, "posSide": "net",
                        "lever": str(account.futures.lev(inst.spec.symbol))})
        return out

    async def h_bills(self, request: web.Request, req: OkxRequest, account: Account) -> list:
        p = req.params
        begin, end = int_param(p, "begin", 0), int_param(p, "end", 0) or None
        limit = int_param(p, "limit", 100, 1, 100)
        out = []
        if p.get("instType") in (None, "", SWAP) and p.get("type") in (None, "", "8"):
            for inc in reversed(account.futures.income):
                if inc.income_type != IncomeKind.FUNDING or inc.time < begin or (end and inc.time > end):
                    continue
                inst = self.by_symbol.get(("futures", inc.symbol))
                if inst is None or (p.get("instId") and p["instId"] != inst.inst_id):
                    continue
                out.append({"instType": SWAP, "billId": str(inc.tran_id), "type": "8",
                            "subType": "174" if inc.income > 0 else "173", "ts": str(inc.time),
                            "balChg": text(inc.income, 8), "posBalChg": "0", "bal": "", "posBal": "0", "sz": "",
                            "px": "", "ccy": inc.asset, "pnl": "0", "fee": "0", "earnAmt": "", "earnApr": "",
                            "mgnMode": "isolated" if account.futures.isolated(inc.symbol) else "cross",
                            "instId": inst.inst_id, "ordId": "", "execType": "", "from": "", "to": "",
                            "notes": "", "interest": "0", "tag": "", "fillTime": "", "tradeId": "", "clOrdId": "",
                            "fillIdxPx": "", "fillMarkPx": "", "fillPxVol": "", "fillPxUsd": "",
                            "fillMarkVol": "", "fillFwdPx": ""})
                if len(out) >= limit:
                    break
        return out

    # ------------------------------------------------------------------ orders
    def order_ack(self, cid: str, ord_id: str, code: str = "0", msg: str = "") -> dict:
        return {"clOrdId": cid, "ordId": ord_id, "tag": "", "ts": str(now_ms()), "sCode": code,
                "sMsg": msg or ("Order placed" if code == "0" else "")}

    def op_envelope(self, row: dict) -> dict:
        ok = row["sCode"] == "0"
        us = str(time.time_ns() // 1000)
        return {"code": "0" if ok else "1", "msg": "" if ok else "All operations failed", "data": [row],
                "inTime": us, "outTime": us}

    def place(self, account: Account, args: Any) -> dict:
        """One ``order`` operation (REST or WebSocket): the ack row with ``sCode`` / ``sMsg``."""
        cid = args.get("clOrdId") if isinstance(args, dict) else None
        cid = cid if isinstance(cid, str) else ""
        try:
            return self._place(account, args, cid)
        except OkxError as e:
            return self.order_ack(cid, "", e.code, e.msg)
        except SimReject as e:
            inst_id = args.get("instId") if isinstance(args, dict) else None
            inst = self.instruments.get(inst_id) if isinstance(inst_id, str) else None
            code, msg = reject_pair(e.reason, self._spend_ccy(inst, args) if inst else "")
            return self.order_ack(cid, "", code, msg)

    @staticmethod
    def _spend_ccy(inst: Instrument, args: dict) -> str:
        if inst.inst_type == SWAP:
            return inst.spec.quote
        return inst.spec.quote if args.get("side") == "buy" else inst.spec.base

    def _place(self, account: Account, a: Any, cid: str) -> dict:
        if not isinstance(a, dict):
            raise OkxError("51000", "Parameter args error")
        inst = self.inst(a.get("instId"))
        side = a.get("side")
        if side not in ("buy", "sell"):
            raise OkxError("51000", "Parameter side error")
        ord_type = a.get("ordType")
        if ord_type not in _ORD_TYPES:
            raise OkxError("51000", "Parameter ordType error")
        td = a.get("tdMode")
        if td not in (("cash",) if inst.inst_type == SPOT else ("cross", "isolated")):
            raise OkxError("51000", "Parameter tdMode error")
        if cid and (len(cid) > MAX_CLORDID or not set(cid) <= _CLORDID_OK):
            raise OkxError("51000", "Parameter clOrdId error")
        sz = num(a.get("sz"), "sz")
        if sz <= 0:
            raise OkxError("51000", "Parameter sz error")
        px = None
        if ord_type != "market":
            px = num(a.get("px"), "px")
            if px <= 0 or px % inst.spec.tick_size:
                raise OkxError("51000", "Parameter px error")
            if not inst.spec.min_price <= px <= inst.spec.max_price:
                raise OkxError("51006", "Order price is not within the price limit")
        quantity, quote_qty = None, None
        tgt = a.get("tgtCcy") or ("quote_ccy" if inst.inst_type == SPOT and ord_type == "market" and side == "buy"
                                  else "base_ccy")
        if inst.inst_type == SPOT and ord_type == "market" and tgt == "quote_ccy":
            quote_qty = sz
        else:
            if sz % inst.lot:
                raise OkxError("51121", "Order quantity must be a multiple of the lot size.")
            if sz < inst.min_sz:
                raise OkxError("51020", "Your order should meet or exceed the minimum order amount.")
            quantity = inst.base_qty(sz)
            if quantity > (inst.spec.market_max_qty if ord_type == "market" else inst.spec.max_qty):
                raise OkxError("51005", "Your order amount exceeds the max order amount.")
        pos_side, reduce_only = PositionSide.NET, False
        if inst.inst_type == SWAP:
            ps = a.get("posSide") or "net"
            hedge = account.futures.hedge_mode
            if (hedge and ps not in ("long", "short")) or (not hedge and ps != "net"):
                raise OkxError("51000", "Parameter posSide error")
            pos_side = _POS_SIDE_FROM_WIRE[ps]
            ro = a.get("reduceOnly", False)
            if ro not in (True, False, "true", "false"):
                raise OkxError("51000", "Parameter reduceOnly error")
            reduce_only = ro in (True, "true") and not hedge   # long/short closes are reduce-only anyway
        engine = self.engine_of(inst)
        req = OrderRequest(symbol=inst.spec.symbol, side=BUY if side == "buy" else SELL,
                           type="MARKET" if ord_type == "market" else "LIMIT",
                           time_in_force={"ioc": TIF.IOC, "fok": TIF.FOK, "post_only": TIF.POST_ONLY}.get(
                               ord_type, TIF.GTC),
                           quantity=quantity, quote_qty=quote_qty, price=px, client_order_id=cid or None,
                           stp_mode=_STP_FROM_WIRE.get(a.get("stpMode"), STP.CANCEL_MAKER),
                           reduce_only=reduce_only, position_side=pos_side)
        meta = {"ordType": ord_type, "tdMode": td, "tgtCcy": a.get("tgtCcy") or "", "fee": ZERO, "feeCcy": "",
                "rebate": ZERO, "fill": None, "cancelSource": "", "reduceOnly": reduce_only}
        if inst.inst_type == SWAP:
            self._adopt_margin_mode(account, inst.spec.symbol, td)
        self._pending_meta = meta
        try:
            order = engine.submit(account.account_id, req)
        except SimReject as e:
            if e.reason is Reject.POST_ONLY_WOULD_TAKE:
                order = self._refuse_post_only(account, inst, req, meta)
                return self.order_ack(order.client_order_id, str(order.order_id))
            raise
        finally:
            self._pending_meta = None
        return self.order_ack(order.client_order_id, str(order.order_id))

    def _adopt_margin_mode(self, account: Account, symbol: str, mgn: str) -> None:
        """``tdMode`` / ``mgnMode`` cross or isolated: the instrument takes that margin mode when it
        has no position and no open order; otherwise it keeps its mode (the core margins one mode
        per instrument, where OKX could hold a cross and an isolated position side by side)."""
        try:
            self.exchange.futures_engine.ledger.set_margin_mode(
                account.account_id, symbol, MarginMode.ISOLATED if mgn == "isolated" else MarginMode.CROSS)
        except SimReject as e:
            if e.reason not in (Reject.MARGIN_MODE_UNCHANGED, Reject.MARGIN_MODE_OPEN_ORDERS,
                                Reject.MARGIN_MODE_OPEN_POSITIONS):
                raise

    def _refuse_post_only(self, account: Account, inst: Instrument, req: OrderRequest, meta: dict) -> Order:
        """"If the order would have executed on placement, it will be canceled instead": the order
        exists (an ``ordId``, queryable) in state ``canceled``, ``cancelSource`` 31."""
        ts = now_ms()
        order = Order(symbol=req.symbol, order_id=next(self._refused_ids),
                      client_order_id=req.client_order_id or f"okxsim{ts}", owner=account.account_id,
                      side=req.side, type=req.type, time_in_force=TIF.POST_ONLY, price=req.price or ZERO,
                      orig_qty=req.quantity or ZERO, time=ts, status="CANCELED", update_time=ts,
                      position_side=req.position_side)
        meta["cancelSource"] = CANCEL_SOURCE_POST_ONLY
        market = self.engine_of(inst).market
        self.meta[(market, order.order_id)] = meta
        self.refused[(account.account_id, inst.inst_id, order.client_order_id)] = order
        self._refused_order.append((account.account_id, inst.inst_id, order.client_order_id, market,
                                    order.order_id))
        while len(self._refused_order) > 10_000:
            o_acct, o_inst, o_cid, o_market, o_id = self._refused_order.popleft()
            self.refused.pop((o_acct, o_inst, o_cid), None)
            self.meta.pop((o_market, o_id), None)
        self.push_order(account.account_id, inst, order, self.meta[(market, order.order_id)])
        return order

    def find_order(self, account: Account, inst: Instrument, ord_id: Any, cid: Any) -> Optional[Order]:
        engine = self.engine_of(inst)
        oid = None
        if ord_id not in (None, ""):
            try:
                oid = int(ord_id)
            except (TypeError, ValueError):
                return None
        if oid is not None:
            o = engine.find(account.account_id, inst.spec.symbol, order_id=oid)
            if o is None:
                o = next((r for r in self.refused.values() if r.order_id == oid and r.owner == account.account_id
                          and r.symbol == inst.spec.symbol), None)
            return o
        if isinstance(cid, str) and cid:
            o = engine.find(account.account_id, inst.spec.symbol, client_order_id=cid)
            refused = self.refused.get((account.account_id, inst.inst_id, cid))
            if o is None or (refused is not None and refused.time >= o.time):
                return refused
            return o
        return None

    def cancel(self, account: Account, a: Any) -> dict:
        """One ``cancel-order`` operation (REST or WebSocket): the ack row."""
        cid = a.get("clOrdId") if isinstance(a, dict) and isinstance(a.get("clOrdId"), str) else ""
        try:
            if not isinstance(a, dict):
                raise OkxError("51000", "Parameter args error")
            inst = self.inst(a.get("instId"))
            if a.get("ordId") in (None, "") and not cid:
                raise OkxError("51000", "Parameter ordId error")
            order = self.find_order(account, inst, a.get("ordId"), cid)
            if order is None or not order.is_open or order.order_id >= 9_000_000_000:
                return self.order_ack(cid, str(a.get("ordId") or ""), *CANCEL_FAILED_PAIR)
            engine = self.engine_of(inst)
            meta = self.meta.get((engine.market, order.order_id))
            if meta is not None:
                meta["cancelSource"] = CANCEL_SOURCE_USER
            engine.cancel(account.account_id, inst.spec.symbol, order_id=order.order_id)
            return self.order_ack(order.client_order_id, str(order.order_id), "0", "Cancellation succeeded.")
        except OkxError as e:
            return self.order_ack(cid, "", e.code, e.msg)
        except SimReject as e:
            return self.order_ack(cid, str(a.get("ordId") or "") if isinstance(a, dict) else "",
                                  *reject_pair(e.reason))

    async def h_place(self, request: web.Request, req: OkxRequest, account: Account) -> dict:
        return self.op_envelope(self.place(account, req.body))

    async def h_cancel(self, request: web.Request, req: OkxRequest, account: Account) -> dict:
        return self.op_envelope(self.cancel(account, req.body))

    def order_row(self, inst: Instrument, o: Order, meta: Optional[dict], snap: Optional[dict] = None) -> dict:
        """An order in OKX's shape (``GET /trade/order``, orders channel)."""
        meta = meta or {}
        status = (snap or {}).get("status", o.status)
        executed = (snap or {}).get("executed_qty", o.executed_qty)
        cum_quote = (snap or {}).get("cum_quote", o.cum_quote)
        utime = (snap or {}).get("update_time", o.update_time)
        orig = (snap or {}).get("orig_qty", o.orig_qty)
        fill = meta.get("fill") or {}
        ord_type = meta.get("ordType") or ("market" if o.type == "MARKET" else "post_only" if o.post_only else "limit")
        quote_sz = ord_type == "market" and inst.inst_type == SPOT and o.orig_quote_qty > 0
        return {"instType": inst.inst_type, "instId": inst.inst_id, "tgtCcy": meta.get("tgtCcy", ""),
                "ccy": "", "ordId": str(o.order_id), "clOrdId": o.client_order_id, "tag": "",
                "px": inst.px(o.price) if o.type != "MARKET" else "", "pxUsd": "", "pxVol": "", "pxType": "",
                "sz": text(o.orig_quote_qty, 8) if quote_sz else inst.sz(orig),
                "pnl": "0", "ordType": ord_type, "side": "buy" if o.side == BUY else "sell",
                "posSide": _POS_SIDE_WIRE[o.position_side]
                if inst.inst_type == SWAP else "",
                "tdMode": meta.get("tdMode") or ("cash" if inst.inst_type == SPOT else "cross"),
                "accFillSz": inst.sz(executed), "fillPx": inst.px(fill.get("px")), "tradeId": fill.get("id", ""),
                "fillSz": inst.sz(fill.get("sz")) if fill else "0", "fillTime": fill.get("time", ""),
                "avgPx": inst.px(cum_quote / executed) if executed else "",
                "state": _STATES.get(status, "canceled"), "stpId": "", "stpMode": _STP_WIRE.get(o.stp_mode, ""),
                "lever": str(self.exchange.accounts[o.owner].futures.lev(o.symbol))
                if inst.inst_type == SWAP and o.owner in self.exchange.accounts else "",
                "attachAlgoClOrdId": "", "tpTriggerPx": "", "tpTriggerPxType": "", "tpOrdPx": "",
                "slTriggerPx": "", "slTriggerPxType": "", "slOrdPx": "", "attachAlgoOrds": [], "linkedAlgoOrd": {"algoId": ""},
                "feeCcy": meta.get("feeCcy", ""), "fee": text(-meta.get("fee", ZERO), 8), "rebateCcy": meta.get("feeCcy", ""),
                "rebate": "0", "source": "", "category": "normal", "reduceOnly": "true" if o.reduce_only else "false",
                "isTpLimit": "false", "cancelSource": meta.get("cancelSource", "") if _STATES.get(status) == "canceled" else "",
                "cancelSourceReason": "", "quickMgnType": "", "algoClOrdId": "", "algoId": "",
                "uTime": str(utime), "cTime": str(o.time), "tradeQuoteCcy": inst.spec.quote if inst.inst_type == SPOT else ""}

    async def h_order(self, request: web.Request, req: OkxRequest, account: Account) -> list:
        p = req.params
        inst = self.inst(p.get("instId"))
        if not p.get("ordId") and not p.get("clOrdId"):
            raise OkxError("51000", "Parameter ordId error")
        order = self.find_order(account, inst, p.get("ordId"), p.get("clOrdId"))
        if order is None:
            raise OkxError(*ORDER_MISSING)
        return [self.order_row(inst, order, self.meta.get((self.engine_of(inst).market, order.order_id)))]

    async def h_pending(self, request: web.Request, req: OkxRequest, account: Account) -> list:
        p = req.params
        out = []
        for inst in self.instruments.values():
            if (p.get("instType") and inst.inst_type != p["instType"]) or (p.get("instId") and inst.inst_id != p["instId"]):
                continue
            engine = self.engine_of(inst)
            for o in engine.open_orders(account.account_id, inst.spec.symbol):
                out.append(self.order_row(inst, o, self.meta.get((engine.market, o.order_id))))
        return out[:100]

    async def h_fills(self, request: web.Request, req: OkxRequest, account: Account) -> list:
        p = req.params
        limit = int_param(p, "limit", 100, 1, 100)
        begin, end = int_param(p, "begin", 0), int_param(p, "end", 0) or None
        out = []
        for inst_type, trades, market in ((SPOT, account.spot.trades, "spot"), (SWAP, account.futures.trades, "futures")):
            if p.get("instType") and p["instType"] != inst_type:
                continue
            for t in reversed(trades):
                inst = self.by_symbol.get((market, t.symbol))
                if inst is None or (p.get("instId") and inst.inst_id != p["instId"]) or \
                        (p.get("ordId") and str(t.order_id) != p["ordId"]) or t.time < begin or (end and t.time > end):
                    continue
                out.append(self.fill_row(inst, t))
        out.sort(key=lambda r: int(r["ts"]), reverse=True)
        return out[:limit]

    def fill_row(self, inst: Instrument, t: Any) -> dict:
        return {"instType": inst.inst_type, "instId": inst.inst_id, "tradeId": str(t.trade_id), "ordId": str(t.order_id),
                "clOrdId": t.client_order_id, "billId": str(t.trade_id), "subType": "1" if t.side == BUY else "2",
                "tag": "", "fillPx": inst.px(t.price), "fillSz": inst.sz(t.qty), "fillIdxPx": "", "fillPnl": text(t.realized_pnl, 8),
                "fillPxVol": "", "fillPxUsd": "", "fillMarkVol": "", "fillFwdPx": "",
                "fillMarkPx": inst.px(self.mark(inst)) if inst.inst_type == SWAP else "",
                "side": "buy" if t.side == BUY else "sell",
                "posSide": _POS_SIDE_WIRE.get(t.position_side, "net")
                if inst.inst_type == SWAP else "",
                "execType": "M" if t.is_maker else "T", "feeCcy": t.commission_asset, "fee": text(-t.commission, 8),
                "ts": str(t.time), "fillTime": str(t.time), "feeRate": "", "tradeQuoteCcy": ""}


CANCEL_FAILED_PAIR = ("51400", "Order cancellation failed as the order has been filled, canceled or does not exist.")


def front_ends(exchange: Any, *, ping_interval: Optional[float] = None,
               limits: Optional[dict] = None) -> dict[str, FrontEnd]:
    """The OKX venue: one front end for SPOT and SWAP (OKX serves both on one host)."""
    return {"okx": OkxFrontEnd(exchange, exchange.injector, seed=exchange.seed + 11,
                               ping_interval=ping_interval, limits=limits)}
