"""OKX spot and swaps run the venue conformance suite with payloads shaped as OKX v5 documents
them: ``{"code", "msg", "data"}`` bodies, order results in ``data[i].sCode``/``sMsg`` (an order
refused in an HTTP 200 body), the private stream opened by a WebSocket ``login``, and (a second
profile) orders over OKX's WebSocket order entry (``op: order``/``cancel-order``)."""
from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any, List, Optional, Tuple

from conformance import ConformanceTests, VenueCase

from hbconnect.connector import PerpConnector
from hbconnect.connector.contract import StreamShape
from hbconnect.exchanges.okx import OkxPerpetualTrading, OkxSpotTrading

D = Decimal
_STATE = {"OPEN": "live", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled", "CANCELED": "canceled"}
KEY, SECRET, PASSPHRASE = "985d5b66-57ce-40fb-b714-afc0b9787083", "22582BD0CFF14C41EDBF1AB98506286D", "Pass-1234"


def ok(data: list) -> dict:
    return {"code": "0", "msg": "", "data": data}


def spot_instrument(inst_id: str, base: str, quote: str) -> dict:
    return {"instType": "SPOT", "instId": inst_id, "uly": "", "instFamily": "", "baseCcy": base, "quoteCcy": quote,
            "settleCcy": "", "ctVal": "", "ctMult": "", "ctValCcy": "", "listTime": "1606468572000", "lever": "10",
            "tickSz": "0.1", "lotSz": "0.00000001", "minSz": "0.00001", "ctType": "", "state": "live",
            "ruleType": "normal", "maxLmtSz": "9999999999", "maxMktSz": "1000000"}


class OkxSpotCase(VenueCase):
    inst_type = "SPOT"
    inst_id = "BTC-USDT"
    stream_shape = StreamShape.LOGIN
    rejection_code = "51008"
    valid_order = (D("0.01"), D("20000"))
    below_min_notional = (D("0.000001"), D("20000"))  # under minSz (OKX has no notional floor)
    time_route = ("GET", "/api/v5/public/time")
    rules_route = ("GET", "/api/v5/public/instruments")
    balances_route = ("GET", "/api/v5/account/balance")
    place_route = ("POST", "/api/v5/trade/order")
    cancel_route = ("POST", "/api/v5/trade/cancel-order")
    status_route = ("GET", "/api/v5/trade/order")
    fills_route = ("GET", "/api/v5/trade/fills")
    expected_balances = {"BTC": (D("1.5"), D("1.0")), "USDT": (D("10000"), D("10000"))}
    contract = D(1)  # base units per size unit on the wire

    def __init__(self) -> None:
        self._cid_of_eid: dict = {}
        self._placed: dict = {}  # client id -> (place params, exchange id)
        self._cancelled: set = set()

    def make_venue(self, rest_url: str, ws_url: str) -> Any:
        return OkxSpotTrading(KEY, SECRET, PASSPHRASE, rest_url=rest_url, ws_url=ws_url + "/ws/v5/private")

    def client_order_id(self, params: dict) -> str:
        return params.get("clOrdId") or self._cid_of_eid[str(params["ordId"])]

    def time_body(self, now_ms: int) -> Any:
        return ok([{"ts": str(now_ms)}])

    def instrument(self, inst_id: str, base: str, quote: str) -> dict:
        return spot_instrument(inst_id, base, quote)

    def rules_body(self) -> Any:
        broken = self.instrument(f"{self.malformed_symbol}-USDT", self.malformed_symbol, "USDT")
        broken["tickSz"] = "abc"
        return ok([self.instrument(self.inst_id, self.base, self.quote), broken])

    def balances_body(self) -> Any:
        return ok([{"uTime": "1705474164160", "totalEq": "41624.32", "details": [
            {"ccy": "BTC", "eq": "1.5", "cashBal": "1.5", "availBal": "1", "frozenBal": "0.5", "uTime": "1"},
            {"ccy": "USDT", "eq": "10000", "cashBal": "10000", "availBal": "10000", "frozenBal": "0", "uTime": "1"}]}])

    # -- the private socket: login ack, subscription acks, pongs --

    def is_login(self, message: str) -> bool:
        return message.startswith("{") and json.loads(message).get("op") == "login"

    def ws_answer(self, message: str) -> List[str]:
        if message == "ping":
            return ["pong"]
        msg = json.loads(message)
        if msg.get("op") == "login":
            return [json.dumps({"event": "login", "code": "0", "msg": "", "connId": "a4d3ae55"})]
        if msg.get("op") == "subscribe":
            return [json.dumps({"event": "subscribe", "arg": a, "connId": "a4d3ae55"}) for a in msg["args"]]
        return []

    # -- order answers --

    def _ack(self, params: dict, eid: int, code: str = "0", msg: str = "") -> dict:
        return {"code": "0" if code == "0" else "1", "msg": "" if code == "0" else "Operation failed.",
                "data": [{"clOrdId": params.get("clOrdId", ""), "ordId": str(eid) if eid else "", "tag": "",
                          "ts": "1695190491421", "sCode": code, "sMsg": msg}],
                "inTime": "1695190491421339", "outTime": "1695190491423240"}

    def place_ok(self, params: dict, exchange_order_id: int) -> Any:
        self._cid_of_eid[str(exchange_order_id)] = params["clOrdId"]
        self._placed[params["clOrdId"]] = (params, exchange_order_id)
        return self._ack(params, exchange_order_id, msg="Order placed")

    def place_rejected(self) -> Tuple[int, Any]:
        return 200, self._ack({}, 0, "51008", "Order failed. Insufficient USDT balance in account")

    def time_sync_error(self) -> Tuple[int, Any]:
        return 401, {"msg": "Timestamp request expired", "code": "50102"}

    def cancel_ok(self, params: dict, exchange_order_id: int) -> Any:
        # sCode 0 "only means that your cancellation request has been accepted": the order's
        # state (canceled) is what the status route tells from now on
        self._cancelled.add(params["clOrdId"])
        return self._ack(params, exchange_order_id)

    def status_answer(self, params: dict, exchange_order_id: int, state: str, executed: Decimal) -> Tuple[int, Any]:
        if params["clOrdId"] in self._cancelled:  # the cancel was acknowledged: the order is cancelled
            state = "CANCELED"
        return 200, self.status_body(params, exchange_order_id, state, executed)

    def status_default(self, params: dict) -> Tuple[int, Any]:
        """Cancelled for an order whose cancel was acknowledged, else "does not exist" (51603)."""
        cid = self.client_order_id(params)
        if cid in self._cancelled and cid in self._placed:
            return self.status_answer(*self._placed[cid], "CANCELED", D(0))
        return self.not_found()

    def cancel_error(self) -> Tuple[int, Any]:
        return 200, {"code": "1", "msg": "Operation failed.", "data": [
            {"clOrdId": "", "ordId": "", "ts": "1695190491421", "sCode": "51410",
             "sMsg": "Cancellation failed as the order is already in canceling status"}]}

    def rate_limited(self, retry_after: float) -> Any:
        return 429, {"msg": "Too Many Requests", "code": "50011"}, {"Retry-After": f"{retry_after:g}"}

    def not_found(self) -> Tuple[int, Any]:
        return 200, {"code": "51603", "msg": "Order does not exist", "data": []}

    def _order(self, params: dict, eid: int, state: str, executed: Decimal, **fill: Any) -> dict:
        o = {"instType": self.inst_type, "instId": params["instId"], "tgtCcy": params.get("tgtCcy", ""), "ccy": "",
             "ordId": str(eid), "clOrdId": params["clOrdId"], "tag": "", "px": params.get("px", ""),
             "sz": params["sz"], "pnl": "0", "ordType": params["ordType"], "side": params["side"],
             "posSide": params.get("posSide", "net"), "tdMode": params["tdMode"],
             "accFillSz": str(executed / self.contract), "fillPx": "", "tradeId": "", "fillSz": "0",
             "fillTime": "", "avgPx": "", "state": _STATE[state], "lever": "", "feeCcy": "", "fee": "0",
             "rebateCcy": "", "rebate": "0", "source": "", "category": "normal", "reduceOnly": "false",
             "cancelSource": "", "uTime": "1597026383085", "cTime": "1597026383085"}
        o.update(fill)
        return o

    def status_body(self, params: dict, exchange_order_id: int, state: str, executed: Decimal) -> Any:
        return ok([self._order(params, exchange_order_id, state, executed)])

    def fills_body(self, params: dict, exchange_order_id: int, fills: List[tuple]) -> Any:
        return ok([{"instType": self.inst_type, "instId": params["instId"], "tradeId": str(tid),
                    "ordId": str(exchange_order_id), "clOrdId": params["clOrdId"], "billId": str(tid) + "0",
                    "subType": "1", "tag": "", "fillPx": str(price), "fillSz": str(qty / self.contract),
                    "side": params["side"], "posSide": params.get("posSide", "net"), "execType": "T",
                    "feeCcy": fee_asset, "fee": str(-fee), "ts": "1597026383085", "fillTime": "1597026383085"}
                   for tid, price, qty, fee, fee_asset in fills])

    def ws_order(self, params: dict, exchange_order_id: int, state: str, executed: Decimal,
                 fill: Optional[tuple] = None) -> str:
        extra = {}
        if fill:
            tid, price, qty, fee, fee_asset = fill
            extra = {"tradeId": str(tid), "fillPx": str(price), "fillSz": str(qty / self.contract),
                     "fillFee": str(-fee), "fillFeeCcy": fee_asset, "execType": "T", "fillTime": "1597026383085"}
        return json.dumps({"arg": {"channel": "orders", "instType": self.inst_type, "uid": "77"},
                           "data": [self._order(params, exchange_order_id, state, executed, **extra)]})

    def ws_balance(self, asset: str, total: Decimal, available: Decimal) -> str:
        now = str(int(time.time() * 1000))  # newer than the REST answer's uTime
        return json.dumps({"arg": {"channel": "account", "uid": "77"}, "eventType": "event_update", "data": [
            {"uTime": now, "details": [{"ccy": asset, "eq": str(total), "cashBal": str(total),
                                        "availBal": str(available), "uTime": now}]}]})

    def ws_stream_expired(self) -> str:
        return json.dumps({"event": "notice", "code": "64008",
                           "msg": "The connection will soon be closed for a service upgrade. Please reconnect.",
                           "connId": "a4d3ae55"})


class OkxSpotWsCase(OkxSpotCase):
    """The same venue with orders over its WebSocket order entry (the private socket)."""

    ws_order_entry = True

    def ws_order_request(self, message: str) -> Optional[Tuple[Tuple[str, str], dict, str]]:
        if not message.startswith("{"):
            return None
        msg = json.loads(message)
        route = {"order": self.place_route, "cancel-order": self.cancel_route}.get(msg.get("op"))
        return (route, dict(msg["args"][0]), msg["id"]) if route else None

    def ws_order_reply(self, request_id: str, status: int, body: Any) -> str:
        if status != 200:  # what the gateway refuses over REST arrives as an error code here
            return json.dumps({"id": request_id, "op": "order", "code": str(body.get("code", "1")),
                               "msg": body.get("msg", ""), "data": []})
        return json.dumps({"id": request_id, "op": "order", **body})


class OkxSwapCase(OkxSpotCase):
    inst_type = "SWAP"
    inst_id = "BTC-USDT-SWAP"
    connector_class = PerpConnector
    contract = D("0.01")
    valid_order = (D("0.01"), D("20000"))
    below_min_notional = (D("0.00001"), D("20000"))  # under one contract (minSz 1 x ctVal 0.01)
    expected_balances = {"BTC": (D("1.5"), D("1.0")), "USDT": (D("10000"), D("10000"))}

    def make_venue(self, rest_url: str, ws_url: str) -> Any:
        return OkxPerpetualTrading(KEY, SECRET, PASSPHRASE, rest_url=rest_url, ws_url=ws_url + "/ws/v5/private")

    def instrument(self, inst_id: str, base: str, quote: str) -> dict:
        return {"instType": "SWAP", "instId": inst_id.replace("-SWAP", "") + "-SWAP",
                "uly": f"{base}-{quote}", "instFamily": f"{base}-{quote}", "baseCcy": "", "quoteCcy": "",
                "settleCcy": quote, "ctVal": "0.01", "ctMult": "1", "ctValCcy": base, "lever": "100",
                "tickSz": "0.1", "lotSz": "1", "minSz": "1", "ctType": "linear", "state": "live",
                "ruleType": "normal", "maxLmtSz": "100000", "maxMktSz": "12000"}

    def extra_routes(self) -> list:
        return [
            (("GET", "/api/v5/account/config"), (200, ok([{"uid": "77", "acctLv": "2", "posMode": "net_mode"}]))),
            (("GET", "/api/v5/account/positions"), (200, ok([]))),
            (("GET", "/api/v5/public/funding-rate"), (200, ok([
                {"instType": "SWAP", "instId": self.inst_id, "fundingRate": "0.0001",
                 "fundingTime": "4597920000000", "nextFundingTime": "4597948800000"}]))),
            (("GET", "/api/v5/account/bills"), (200, ok([]))),
        ]


class TestOkxSpotConformance(ConformanceTests):
    case_class = OkxSpotCase


class TestOkxSpotWebSocketOrderEntryConformance(ConformanceTests):
    case_class = OkxSpotWsCase


class TestOkxSwapConformance(ConformanceTests):
    case_class = OkxSwapCase
