"""``hbconnect demo`` runs end to end (short) and its summary says everything matched."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_and_summarizes() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "hbconnect", "demo", "--duration", "7"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=90)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "hbconnect demo summary" in out and "result: OK" in out
    assert "books in sync: yes" in out
    assert "orders, fills and balances match the exchange: yes" in out
    summary = out[out.index("hbconnect demo summary"):]
    orders_line = next(line for line in summary.splitlines() if line.strip().startswith("orders:"))
    placed = int(orders_line.split("orders:")[1].split("placed")[0])
    filled = int(orders_line.split("acknowledged,")[1].split("filled")[0])
    failed = int(orders_line.split("cancelled,")[1].split("failed")[0])
    assert placed >= 5 and filled >= 2 and failed >= 1  # includes the refused post-only order
    assert "(planned: a post-only order that would cross is refused)" in out  # labelled as planned
    fills_line = next(line for line in summary.splitlines() if line.strip().startswith("fills:"))
    assert int(fills_line.split("fills:")[1].split("(")[0]) >= 2
    assert "fees:" in summary and "USDT" in summary.split("fees:")[1].splitlines()[0]
    # not a TTY: plain line output, no terminal control codes
    assert "\x1b[" not in out
    assert "created" in out and "filled" in out


def test_ladder_marks_the_bots_own_orders_on_their_side_and_level() -> None:
    """Own orders at a shown level are marked there; deeper ones get their own row after a gap;
    a buy is never marked on an ask level of the same price (and vice versa)."""
    from decimal import Decimal as D
    from types import SimpleNamespace

    from hbconnect._book import OrderBook
    from hbconnect.commands.demo import Demo
    from hbconnect.core.in_flight_order import InFlightOrder
    from hbconnect.core.types import OrderState, OrderType, TradeType

    book = OrderBook()
    book.apply_snapshot([("100.0", "1"), ("99.5", "2"), ("99.0", "3"), ("97.0", "0.5")],
                        [("100.5", "1"), ("101.0", "2"), ("104.0", "0.25")], 1)

    def order(cid: str, side: TradeType, price: str, amount: str) -> InFlightOrder:
        o = InFlightOrder(cid, "BTC-USDT", OrderType.LIMIT, side, D(amount), price=D(price),
                          initial_state=OrderState.OPEN)
        return o
    orders = [order("a", TradeType.BUY, "99.5", "0.4"), order("b", TradeType.BUY, "97.0", "0.5"),
              order("c", TradeType.SELL, "104.0", "0.25"), order("d", TradeType.BUY, "100.5", "0.1")]
    connector = SimpleNamespace(in_flight_orders={o.client_order_id: o for o in orders})
    tracker = SimpleNamespace(book=lambda pair: book, state=lambda pair: SimpleNamespace(value="live"))
    lines = Demo("BTC-USDT", duration=1, levels=2).ladder(connector, tracker).splitlines()
    body = lines[2:]
    rows = []  # (side, price, own-order text or "", starred)
    for line in body:
        tokens = line.split()
        starred = tokens[:1] == ["*"]
        if starred:
            tokens = tokens[1:]
        if tokens and tokens[0] in ("ask", "bid"):
            mark = line.split("<== ")[1] if "<== " in line else ""
            rows.append((tokens[0], D(tokens[1]), mark, starred))

    def mark(side: str, price: str) -> str:
        found = [r for r in rows if r[0] == side and r[1] == D(price)]
        assert len(found) == 1, (side, price, body)
        assert found[0][3] is bool(found[0][2])  # starred exactly when it carries own orders
        return found[0][2]
    assert mark("bid", "99.5") == "BUY 0.4"
    assert mark("bid", "97.0") == "BUY 0.5"  # deeper than the 2 levels shown: its own row
    assert mark("ask", "104.0") == "SELL 0.25"
    assert mark("ask", "100.5") == ""  # the buy at 100.5 is not an ask of ours
    assert mark("bid", "100.5") == "BUY 0.1"
    assert not [r for r in rows if r[1] == D("99.0")]  # an ordinary level beyond the top 2 stays hidden
    assert sum(1 for line in body if line.strip() == "...") == 2  # one gap per side
    assert len([r for r in rows if r[2]]) == 4
    sep = next(i for i, line in enumerate(body) if "----" in line)
    asks = [r[1] for r in rows if r[0] == "ask"]
    bids = [r[1] for r in rows if r[0] == "bid"]
    assert asks == sorted(asks, reverse=True) and bids == sorted(bids, reverse=True)
    assert all("ask" in line for line in body[:sep] if line.strip() not in ("...",) and "price" not in line)


def test_redraw_keeps_the_embedded_exchange_line_on_top():
    """On a terminal every redraw clears the screen: the URLs line must come back on top of it."""
    import io
    from types import SimpleNamespace

    from hbconnect._book import OrderBook
    from hbconnect.commands.demo import Demo

    class TTY(io.StringIO):
        def isatty(self) -> bool:
            return True

    book = OrderBook()
    book.apply_snapshot([("100.0", "1")], [("100.5", "1")], 1)
    connector = SimpleNamespace(in_flight_orders={})
    tracker = SimpleNamespace(book=lambda pair: book, state=lambda pair: SimpleNamespace(value="live"))
    out = TTY()
    demo = Demo("BTC-USDT", duration=1, out=out)
    demo.header = "embedded exchange: http://127.0.0.1:1 (REST), ws://127.0.0.1:1 (WebSocket)\n\n"
    demo.redraw(connector, tracker)
    demo.redraw(connector, tracker)
    screen = out.getvalue().rsplit("\x1b[2J", 1)[1]  # what the terminal shows after the last clear
    assert screen.startswith("embedded exchange: http://127.0.0.1:1 (REST)")
    assert "BTC-USDT on the embedded exchange" in screen


def test_only_the_scripted_post_only_refusal_counts_as_planned():
    from types import SimpleNamespace

    from hbconnect.commands.demo import Demo
    from hbconnect.core.events import MarketEvent

    def failure(oid: str, text: str):
        return MarketEvent.OrderFailure, SimpleNamespace(order_id=oid, error_message=text)

    cross = "OrderRejected: [binance] HTTP 400 code -2010: Order would immediately match and take."
    demo = Demo("BTC-USDT", duration=1)
    demo.placed = ["a", "b", "c"]
    demo.planned_rejections = {"b", "c"}
    demo.events = [(MarketEvent.BuyOrderCreated, SimpleNamespace(order_id="a")), failure("b", cross)]
    assert demo.order_problems() == []  # the planned refusal, for the planned reason
    demo.events.append(failure("c", "BTC-USDT: order value 1 is below the minimum notional 5"))
    (problem,) = demo.order_problems()  # the planned order refused for another reason
    assert "1 order(s) refused unexpectedly" in problem and "minimum notional" in problem
    demo.events = [failure("a", "insufficient balance"), failure("b", cross)]
    (problem,) = demo.order_problems()
    assert problem.startswith("no order was acknowledged by the exchange: 3 placed")
    assert "insufficient balance" in problem
