"""The embedded exchange's front-end interface: a venue written only against
``hbconnect.sim.server`` plugs in beside Binance, maps the core's neutral rejections, answers the
fault knobs its own way and runs WebSocket sessions through the shared plumbing."""
from __future__ import annotations

import asyncio
import re
from decimal import Decimal as D
from pathlib import Path

import aiohttp
import pytest

from hbconnect.sim import EmbeddedExchange, OrderRequest, Reject, SimReject, WireError
from hbconnect.sim import exchange as sim_exchange
from hbconnect.sim.binance_base import REJECTS, BinanceError
from hbconnect.sim.binance_futures import FuturesFrontEnd
from hbconnect.sim.server import FrontEnd, Route

SIM = Path(__file__).resolve().parents[1] / "hbconnect" / "sim"
CORE = ("matching.py", "accounts.py", "errors.py", "faults.py", "server.py")


class ToyFrontEnd(FrontEnd):
    """A made-up venue: JSON bodies, key in a header, every error in an HTTP 200 body."""

    venue = "toy"
    market = "spot"

    def add_routes(self) -> None:
        self.route("POST", "/order", self.place, order=True)
        self.route("GET", "/time", self.time_now, fault_exempt=True)
        self.app.router.add_get("/ws", self.ws)

    async def read_request(self, request, route: Route) -> dict:
        return await request.json() if request.can_read_body else {}

    def authenticate(self, request, req, route: Route):
        if route.path == "/time":
            return None
        account = self.exchange.account_by_key(request.headers.get("X-KEY", ""))
        if account is None:
            raise WireError(200, {"code": "401", "msg": "bad key"})
        return account

    def reject_error(self, e: SimReject, route: Route) -> WireError:
        return WireError(200, {"code": "R-" + e.reason.name, "msg": e.reason.value})

    def fault_error(self, kind: str) -> WireError:
        return WireError(503 if kind != "429" else 429, {"code": "F-" + kind})

    def internal_error(self, status: int) -> WireError:
        return WireError(status, {"code": "E"})

    async def time_now(self, request, req, account) -> dict:
        return {"t": self.server_time()}

    async def place(self, request, req, account) -> dict:
        o = self.engine.submit(account.account_id, OrderRequest(
            "BTCUSDT", req["side"], "LIMIT", "GTC", D(req["qty"]), None, D(req["price"]), req.get("cid")))
        return {"code": "0", "id": o.order_id, "status": o.status}

    async def ws(self, request):
        def on_text(conn, text):
            if text == "ping":
                conn.send_raw("pong")
            elif text == "sub":
                conn.streams.add("trades")
                conn.send_raw({"ok": True})
        return await self.serve_ws(request, on_text)

    def on_fill(self, fill) -> None:
        self.push_market("trades", {"px": str(fill.price), "qty": str(fill.qty)})


def front_ends(exchange, *, ping_interval=None, **options):
    return {"toy": ToyFrontEnd(exchange, exchange.spot_engine, exchange.injector, seed=exchange.seed,
                               ping_interval=ping_interval)}


@pytest.fixture
def toy_venue(monkeypatch):
    monkeypatch.setitem(sim_exchange.VENUE_MODULES, "toy", __name__)


def test_a_second_venue_serves_the_same_books_and_maps_neutral_rejections(toy_venue):
    async def go():
        ex = EmbeddedExchange(seed=1, pairs=("BTC-USDT",), perp_pairs=(), agent=False, venues=("binance", "toy"))
        ex.create_account("k-1", "s", balances={"USDT": D("1000"), "BTC": D("1")})
        ex.create_account("k-2", "s", balances={"USDT": D("100000")})
        async with ex, aiohttp.ClientSession() as s:
            toy = ex.front("toy")
            assert set(ex.front_ends) == {"binance.spot", "binance.futures", "toy"}
            assert toy.port not in (ex.spot.port, ex.futures.port)
            url = toy.rest_url
            ws = await s.ws_connect(toy.ws_url + "/ws")
            await ws.send_str("ping")
            assert await ws.receive_str() == "pong"
            await ws.send_str("sub")
            assert await ws.receive_json() == {"ok": True}
            r = await s.post(url + "/order", json={"side": "SELL", "qty": "0.1", "price": "60000", "cid": "a"},
                             headers={"X-KEY": "k-1"})
            assert r.status == 200 and (await r.json())["status"] == "NEW"
            # the order is in the one book every venue serves
            b = await s.get(ex.spot_rest_url + "/api/v3/depth", params={"symbol": "BTCUSDT"})
            assert (await b.json())["asks"][0] == ["60000.00000000", "0.10000000"]
            # neutral reasons, the toy venue's codes, in an HTTP 200 body
            r = await s.post(url + "/order", json={"side": "SELL", "qty": "0.1", "price": "60000", "cid": "a"},
                             headers={"X-KEY": "k-1"})
            assert (r.status, await r.json()) == (200, {"code": "R-DUPLICATE_CLIENT_ID",
                                                        "msg": Reject.DUPLICATE_CLIENT_ID.value})
            r = await s.post(url + "/order", json={"side": "BUY", "qty": "1", "price": "59000"},
                             headers={"X-KEY": "k-1"})
            assert (await r.json())["code"] == "R-INSUFFICIENT_BALANCE"
            assert ex.balances("k-1")["USDT"] == (D("1000"), D("0"))
            r = await s.post(url + "/order", json={}, headers={"X-KEY": "nope"})
            assert (r.status, await r.json()) == (200, {"code": "401", "msg": "bad key"})
            # a fill made through the toy venue reaches its trade stream
            r = await s.post(url + "/order", json={"side": "BUY", "qty": "0.1", "price": "60000"},
                             headers={"X-KEY": "k-2"})
            assert (await r.json())["status"] == "FILLED"
            assert await asyncio.wait_for(ws.receive_json(), 5) == {"px": "60000", "qty": "0.1"}
            # fault knobs, answered the toy venue's way; exempt routes are never faulted
            ex.faults.http_5xx = 1.0
            r = await s.post(url + "/order", json={"side": "BUY", "qty": "0.1", "price": "1"},
                             headers={"X-KEY": "k-1"})
            assert (r.status, await r.json()) == (503, {"code": "F-5xx"})
            assert (await s.get(url + "/time")).status == 200
            ex.faults.clear()
            ex.faults.error_5xx_accepted = 1.0
            r = await s.post(url + "/order", json={"side": "BUY", "qty": "0.01", "price": "50000", "cid": "lost"},
                             headers={"X-KEY": "k-2"})
            assert (r.status, await r.json()) == (503, {"code": "F-order_unknown"})
            assert ex.order("k-2", "BTC-USDT", "lost").status == "NEW"       # done, answer lost
            ex.faults.clear()
            assert ex.close_sockets() >= 1
            await ws.close()
    asyncio.run(asyncio.wait_for(go(), 30))


def test_unknown_venue_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown venue 'nope'"):
        EmbeddedExchange(agent=False, venues=("nope",))


def test_binance_maps_every_reason_the_core_raises():
    """Each neutral reason raised in the core has a Binance code (not the -1000 fallback), and
    the futures overrides are Binance's futures texts."""
    raised = set()
    for name in ("matching.py", "accounts.py"):
        raised |= set(re.findall(r"Reject\.([A-Z_]+)", (SIM / name).read_text()))
    assert {"DUPLICATE_CLIENT_ID", "INSUFFICIENT_BALANCE", "UNKNOWN_ORDER"} <= raised
    for name in sorted(raised):
        assert Reject[name] in REJECTS, name
    ex = EmbeddedExchange(agent=False)
    route = Route("POST", "/fapi/v1/order")
    fut: FuturesFrontEnd = ex.futures      # type: ignore[assignment]
    e = fut.reject_error(SimReject(Reject.DUPLICATE_CLIENT_ID), route)
    assert isinstance(e, BinanceError) and (e.status, e.body()) == (400, {"code": -4116, "msg": "ClientOrderId is duplicated."})
    e = ex.spot.reject_error(SimReject(Reject.DUPLICATE_CLIENT_ID), route)     # type: ignore[attr-defined]
    assert e.body() == {"code": -2010, "msg": "Duplicate order sent."}
    assert fut.reject_error(SimReject(Reject.POST_ONLY_WOULD_TAKE), route).body()["code"] == -5022
    assert fut.reject_error(SimReject(Reject.MARGIN_INSUFFICIENT), route).body() == {
        "code": -2019, "msg": "Margin is insufficient."}


def test_the_core_speaks_no_venue():
    """No venue name, error code or wire message in the sim's core modules."""
    for name in CORE:
        text = (SIM / name).read_text()
        for word in ("binance", "okx", "bybit", "usdⓈ", "executionReport", "ORDER_TRADE_UPDATE",
                     "listenKey", "-2010", "-2011", "-1013"):
            assert word.lower() not in text.lower(), (name, word)
