"""A third-party client nobody here wrote drives the embedded Binance: ccxt with its default
options, only its URLs pointed at the sim on 127.0.0.1.  Spot and USDⓈ-M: load the markets,
fetch balances, place / fetch / cancel a limit order, fetch positions; ccxt.pro public streams
(order book, ticker, all tickers, trades).  Each answer is compared with the sim's own truth."""
from __future__ import annotations

import asyncio
from decimal import Decimal as D

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from hbconnect.sim import EmbeddedExchange

KEY, SECRET = "ccxtkey", "ccxtsecret"
HOSTS = {"https://api.binance.com": "spot", "https://fapi.binance.com": "futures",
         "https://dapi.binance.com": "futures"}


def point_at(client, ex: EmbeddedExchange) -> None:
    """ccxt's ``urls['api']`` rewritten to the sim: api / sapi on the spot port, fapi / dapi on
    the futures port, market streams on the WebSocket ports.  ccxt.pro tells spot from
    derivatives sessions by ``/stream`` anywhere in the URL (Binance's spot host is
    stream.binance.com); a loopback URL has no host name to carry it, so the spot URL carries it
    in a query parameter the sim ignores (ccxt appends ``/<n>`` to it: ``/ws?via=/stream/0``)."""
    rest = {"spot": ex.spot_rest_url, "futures": ex.futures_rest_url}
    api = client.urls["api"]
    for name, url in list(api.items()):
        if isinstance(url, str):
            for host, market in HOSTS.items():
                if url.startswith(host):
                    api[name] = rest[market] + url[len(host):]
    if "ws" in api:
        api["ws"]["spot"] = ex.spot_ws_url + "/ws?via=/stream"
        api["ws"]["linear"] = ex.futures_ws_url + "/ws"


def make_ex() -> EmbeddedExchange:
    ex = EmbeddedExchange(seed=11, pairs=("BTC-USDT",), perp_pairs=("BTC-USDT",), agent=True,
                          agent_interval=0.05, funding_interval=None)
    ex.create_account(KEY, SECRET, balances={"USDT": D("10000"), "BTC": D("0.5")},
                      futures_balances={"USDT": D("20000")})
    return ex


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def with_client(default_type: str, body) -> None:
    """``await body(ex, client)``: a started sim and a ccxt client pointed at it."""
    ex = make_ex()
    async with ex:
        client = ccxt_async.binance({"apiKey": KEY, "secret": SECRET, "options": {"defaultType": default_type}})
        point_at(client, ex)
        try:
            await body(ex, client)
        finally:
            await client.close()


def test_ccxt_spot_markets_balance_orders():
    async def main(ex, client):
        markets = await client.load_markets()
        m = markets["BTC/USDT"]
        spec = ex.spot_engine.specs["BTCUSDT"]
        assert (m["id"], m["spot"], m["active"]) == ("BTCUSDT", True, True)
        assert D(str(m["precision"]["price"])) == spec.tick_size
        assert D(str(m["precision"]["amount"])) == spec.step_size
        assert D(str(m["limits"]["cost"]["min"])) == spec.min_notional
        assert "BTC/USDT:USDT" in markets           # the USDⓈ-M market loads alongside
        bal = await client.fetch_balance()
        assert (D(str(bal["USDT"]["free"])), D(str(bal["BTC"]["total"]))) == (D("10000"), D("0.5"))
        order = await client.create_order("BTC/USDT", "limit", "buy", 0.01, 30000)
        assert order["status"] == "open"
        truth = ex.open_orders(KEY, "BTC-USDT")
        assert [(o.order_id, o.client_order_id, o.price, o.orig_qty) for o in truth] == [
            (int(order["id"]), order["clientOrderId"], D("30000"), D("0.01"))]
        assert ex.balances(KEY)["USDT"] == (D("9700"), D("300"))
        fetched = await client.fetch_order(order["id"], "BTC/USDT")
        assert (fetched["status"], fetched["price"], fetched["amount"], fetched["filled"]) == (
            "open", 30000.0, 0.01, 0.0)
        bal = await client.fetch_balance()
        assert D(str(bal["USDT"]["used"])) == D("300")
        canceled = await client.cancel_order(order["id"], "BTC/USDT")
        assert canceled["status"] == "canceled"
        assert ex.open_orders(KEY) == [] and ex.balances(KEY)["USDT"] == (D("10000"), D("0"))
        assert (await client.fetch_order(order["id"], "BTC/USDT"))["status"] == "canceled"
        history = await client.fetch_orders("BTC/USDT")
        assert [o["id"] for o in history] == [order["id"]]
    run(with_client("spot", main))


def test_ccxt_usdm_markets_balance_orders_positions():
    async def main(ex, client):
        markets = await client.load_markets()
        m = markets["BTC/USDT:USDT"]
        spec = ex.futures_engine.specs["BTCUSDT"]
        assert (m["id"], m["swap"], m["linear"], m["settle"], m["contractSize"]) == (
            "BTCUSDT", True, True, "USDT", 1.0)
        assert D(str(m["precision"]["price"])) == spec.tick_size
        bal = await client.fetch_balance()
        assert D(str(bal["USDT"]["total"])) == D("20000")
        order = await client.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 30000)
        assert order["status"] == "open"
        truth = ex.open_orders(KEY, "BTC-USDT", market="futures")
        assert [(o.order_id, o.client_order_id) for o in truth] == [(int(order["id"]), order["clientOrderId"])]
        fetched = await client.fetch_order(order["id"], "BTC/USDT:USDT")
        assert (fetched["status"], fetched["price"], fetched["amount"]) == ("open", 30000.0, 0.01)
        canceled = await client.cancel_order(order["id"], "BTC/USDT:USDT")
        assert canceled["status"] == "canceled"
        assert ex.open_orders(KEY, market="futures") == []
        assert [p for p in await client.fetch_positions(["BTC/USDT:USDT"]) if p["contracts"]] == []
        # open a position against the agent's quotes, then read it back
        filled = await client.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
        assert filled["id"]
        truth = ex.positions(KEY)[("BTCUSDT", "NET")]
        positions = [p for p in await client.fetch_positions(["BTC/USDT:USDT"]) if p["contracts"]]
        assert len(positions) == 1
        p = positions[0]
        assert (p["symbol"], p["side"], D(str(p["contracts"]))) == ("BTC/USDT:USDT", "long", truth["amount"])
        assert D(str(p["entryPrice"])) == truth["entry_price"].quantize(D("1e-8"))   # 8 decimals on the wire
        assert (p["marginMode"], p["hedged"]) == ("cross", False)
        # positionRisk v3 carries no leverage field; ccxt derives the margin share from it
        assert D(str(p["initialMarginPercentage"])) == 1 / D(truth["leverage"])
    run(with_client("future", main))


@pytest.mark.parametrize("default_type,symbol", [("spot", "BTC/USDT"), ("future", "BTC/USDT:USDT")])
def test_ccxt_pro_public_streams(default_type, symbol):
    async def main():
        ex = make_ex()
        async with ex:
            client = ccxt_pro.binance({"options": {"defaultType": default_type}})
            point_at(client, ex)
            try:
                book = await asyncio.wait_for(client.watch_order_book(symbol), 20)
                bids, asks = book["bids"], book["asks"]
                assert book["symbol"] == symbol and bids and asks
                assert bids[0][0] < asks[0][0]
                assert [b[0] for b in bids] == sorted((b[0] for b in bids), reverse=True)
                engine = ex.spot_engine if default_type == "spot" else ex.futures_engine
                tick = engine.specs["BTCUSDT"].tick_size
                assert all(D(str(b[0])) % tick == 0 for b in bids[:20])
                ticker = await asyncio.wait_for(client.watch_ticker(symbol), 20)
                assert ticker["symbol"] == symbol and ticker["last"] > 0
                assert ticker["high"] >= ticker["low"] > 0
                every = await asyncio.wait_for(client.watch_tickers(), 20)     # the all-market stream
                assert symbol in every and every[symbol]["last"] > 0
                trades = await asyncio.wait_for(client.watch_trades(symbol), 20)
                assert trades and all(t["symbol"] == symbol and t["amount"] > 0 for t in trades)
            finally:
                await client.close()
    run(main())
