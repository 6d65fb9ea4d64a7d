"""The embedded exchange's matching engine and spot ledger, driven directly (no sockets)."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from hbconnect.sim import EmbeddedExchange, OrderRequest
from hbconnect.sim.errors import Reject, SimReject
from hbconnect.sim.matching import AccountEvent, OrderEvent


@pytest.fixture()
def ex():
    ex = EmbeddedExchange(seed=3, pairs=("BTC-USDT",), perp_pairs=(), agent=False)
    ex.create_account("alice", "sa", balances={"USDT": D("100000"), "BTC": D("10")})
    ex.create_account("bob", "sb", balances={"USDT": D("100000"), "BTC": D("10")},
                      maker_fee=D("0.001"), taker_fee=D("0.002"))
    ex.create_account("carol", "sc", balances={"USDT": D("100000"), "BTC": D("10")})
    return ex


def aid(ex, key):
    return ex.account_by_key(key).account_id


def place(ex, key, side, qty, price=None, type_="LIMIT", tif="GTC", cid=None, quote=None, stp="CANCEL_MAKER"):
    return ex.spot_engine.submit(aid(ex, key), OrderRequest(
        "BTCUSDT", side, type_, tif, D(qty) if qty is not None else None,
        D(quote) if quote is not None else None, D(price) if price is not None else None, cid, stp))


def test_price_time_priority_and_partial_fills(ex):
    a1 = place(ex, "alice", "SELL", "0.5", "60000", cid="a1")
    c1 = place(ex, "carol", "SELL", "0.5", "60000", cid="c1")       # same price, later
    a2 = place(ex, "alice", "SELL", "1", "59990", cid="a2")          # better price
    taker = place(ex, "bob", "BUY", "1.2", "60000", cid="b1")
    # best price first (59990), then time priority at 60000: alice before carol
    assert taker.status == "FILLED"
    assert a2.status == "FILLED"
    assert a1.status == "PARTIALLY_FILLED" and a1.executed_qty == D("0.2")
    assert c1.status == "NEW" and c1.executed_qty == 0
    assert [(t.price, t.qty) for t in ex.trades("bob")] == [(D("59990"), D("1")), (D("60000"), D("0.2"))]
    # the next taker finishes alice's order first, then starts on carol's
    t2 = place(ex, "bob", "BUY", "0.4", "60000")
    assert t2.status == "FILLED"
    assert a1.status == "FILLED" and a1.executed_qty == D("0.5")
    assert c1.status == "PARTIALLY_FILLED" and c1.executed_qty == D("0.1")
    book = ex.spot_engine.books["BTCUSDT"]
    assert book.depth("SELL", 5) == [(D("60000"), D("0.4"))]


def test_partial_fill_rests_remainder_and_fees_in_received_asset(ex):
    place(ex, "alice", "SELL", "0.3", "60000")
    o = place(ex, "bob", "BUY", "1", "60010")
    assert o.status == "PARTIALLY_FILLED" and o.executed_qty == D("0.3")
    # bob: taker fee 0.2 % in BTC (received), paid 0.3 * 60000 USDT; 0.7 * 60010 stays locked
    free, locked = ex.balances("bob")["USDT"]
    assert locked == D("0.7") * D("60010")
    assert free == D("100000") - D("0.3") * D("60000") - locked
    assert ex.balances("bob")["BTC"] == (D("10") + D("0.3") - D("0.0006"), D(0))
    # alice: maker fee 0.1 % in USDT (received)
    assert ex.balances("alice")["USDT"] == (D("100000") + D("18000") - D("18"), D(0))
    assert ex.balances("alice")["BTC"] == (D("9.7"), D(0))
    fee = [t for t in ex.trades("bob")][0]
    assert (fee.commission, fee.commission_asset, fee.is_maker) == (D("0.0006"), "BTC", False)


def test_locking_and_unlocking_on_cancel(ex):
    o = place(ex, "alice", "BUY", "0.5", "50000", cid="x")
    assert ex.balances("alice")["USDT"] == (D("75000"), D("25000"))
    s = place(ex, "alice", "SELL", "2", "70000", cid="y")
    assert ex.balances("alice")["BTC"] == (D("8"), D("2"))
    ex.spot_engine.cancel(aid(ex, "alice"), "BTCUSDT", client_order_id="x")
    assert o.status == "CANCELED"
    assert ex.balances("alice")["USDT"] == (D("100000"), D("0"))
    cancelled = ex.spot_engine.cancel_all(aid(ex, "alice"), "BTCUSDT")
    assert cancelled == [s] and s.status == "CANCELED"
    assert ex.balances("alice")["BTC"] == (D("10"), D("0"))
    with pytest.raises(SimReject) as e:
        ex.spot_engine.cancel(aid(ex, "alice"), "BTCUSDT", client_order_id="x")
    assert e.value.reason is Reject.UNKNOWN_ORDER


def test_insufficient_balance_rejected_without_state_change(ex):
    with pytest.raises(SimReject) as e:
        place(ex, "alice", "BUY", "2", "60000")
    assert e.value.reason is Reject.INSUFFICIENT_BALANCE
    assert ex.balances("alice")["USDT"] == (D("100000"), D("0"))
    assert ex.open_orders("alice") == []


def test_post_only_rejected_if_it_would_cross(ex):
    place(ex, "alice", "SELL", "1", "60000")
    with pytest.raises(SimReject) as e:
        place(ex, "bob", "BUY", "0.1", "60000", tif="POST_ONLY")
    assert e.value.reason is Reject.POST_ONLY_WOULD_TAKE
    assert ex.balances("bob")["USDT"][1] == 0
    o = place(ex, "bob", "BUY", "0.1", "59999.99", tif="POST_ONLY")
    assert (o.status, o.type, o.time_in_force, o.post_only) == ("NEW", "LIMIT", "POST_ONLY", True)
    assert ex.spot_engine.books["BTCUSDT"].best("BUY") == D("59999.99")


def test_market_by_quantity_and_by_quote(ex):
    place(ex, "alice", "SELL", "0.1", "60000")
    place(ex, "alice", "SELL", "0.1", "60100")
    m = place(ex, "bob", "BUY", "0.15", type_="MARKET")
    assert m.status == "FILLED" and m.cum_quote == D("0.1") * 60000 + D("0.05") * 60100
    # quoteOrderQty: spend up to 3000 USDT at 60100 -> floor(3000/60100 to the step) BTC
    q = place(ex, "bob", "BUY", None, type_="MARKET", quote="3000")
    assert q.executed_qty == D("0.04991")
    assert q.cum_quote == D("0.04991") * D("60100") <= D("3000")
    assert ex.balances("bob")["USDT"][1] == 0        # nothing stays locked after a market order
    # market SELL with no bids: nothing fills, the order expires
    e = place(ex, "bob", "SELL", "0.01", type_="MARKET")
    assert e.status == "EXPIRED" and e.executed_qty == 0
    assert ex.balances("bob")["BTC"][1] == 0


def test_ioc_and_fok(ex):
    place(ex, "alice", "SELL", "0.2", "60000")
    ioc = place(ex, "bob", "BUY", "0.5", "60000", tif="IOC")
    assert ioc.status == "EXPIRED" and ioc.executed_qty == D("0.2")
    assert ex.open_orders("bob") == [] and ex.balances("bob")["USDT"][1] == 0
    place(ex, "alice", "SELL", "0.2", "60000")
    fok = place(ex, "bob", "BUY", "0.5", "60000", tif="FOK")
    assert fok.status == "EXPIRED" and fok.executed_qty == 0
    assert ex.spot_engine.books["BTCUSDT"].depth("SELL", 1) == [(D("60000"), D("0.2"))]
    fok2 = place(ex, "bob", "BUY", "0.2", "60000", tif="FOK")
    assert fok2.status == "FILLED"


def test_self_trade_prevention_default_cancel_maker(ex):
    mine = place(ex, "alice", "SELL", "0.1", "60000", cid="mine")
    other = place(ex, "carol", "SELL", "0.1", "60000")
    t = place(ex, "alice", "BUY", "0.1", "60000")
    assert (mine.status, mine.end_reason) == ("PREVENTED", "SELF_TRADE")
    assert t.status == "FILLED" and other.status == "FILLED"
    # CANCEL_TAKER keeps the resting order and expires the incoming one
    keep = place(ex, "alice", "SELL", "0.1", "60000")
    t2 = place(ex, "alice", "BUY", "0.1", "60000", stp="CANCEL_TAKER")
    assert keep.status == "NEW" and (t2.status, t2.end_reason) == ("PREVENTED", "SELF_TRADE")
    # NONE lets the account trade with itself
    t3 = place(ex, "alice", "BUY", "0.1", "60000", stp="NONE")
    assert t3.status == "FILLED" and keep.status == "FILLED"


def test_client_order_ids_unique_among_open_orders(ex):
    place(ex, "alice", "BUY", "0.1", "50000", cid="dup")
    with pytest.raises(SimReject) as e:
        place(ex, "alice", "BUY", "0.1", "50000", cid="dup")
    assert e.value.reason is Reject.DUPLICATE_CLIENT_ID
    place(ex, "bob", "BUY", "0.1", "50000", cid="dup")       # another account may use it
    ex.spot_engine.cancel(aid(ex, "alice"), "BTCUSDT", client_order_id="dup")
    again = place(ex, "alice", "BUY", "0.1", "50000", cid="dup")   # reusable once not open
    assert ex.order("alice", "BTC-USDT", "dup") is again


def test_events_and_ids(ex):
    events = []
    ex.spot_engine.listeners.append(events.append)
    place(ex, "alice", "SELL", "0.1", "60000")
    t = place(ex, "bob", "BUY", "0.1", "60000")
    kinds = [(type(e).__name__, getattr(e, "exec_type", getattr(e, "reason", None)), e.owner) for e in events]
    a, b = aid(ex, "alice"), aid(ex, "bob")
    assert kinds[:3] == [("OrderEvent", "NEW", a), ("AccountEvent", "BALANCES", a),
                         ("OrderEvent", "NEW", b)]
    trade_events = [e for e in events if isinstance(e, OrderEvent) and e.exec_type == "TRADE"]
    assert {e.owner for e in trade_events} == {a, b}
    assert len({e.fill.fill.trade_id for e in trade_events}) == 1
    assert isinstance(events[-1], AccountEvent)
    ids = [o.order_id for o in ex.spot_engine.orders.values()]
    assert len(ids) == len(set(ids)) and t.order_id == max(ids)


def test_depth_log_ids_are_consistent(ex):
    book = ex.spot_engine.books["BTCUSDT"]
    start = book.update_id
    place(ex, "alice", "SELL", "0.1", "60000")
    place(ex, "alice", "SELL", "0.2", "60000")
    place(ex, "bob", "BUY", "0.05", "60000")
    changes = book.changes_since(start)
    assert [c[0] for c in changes] == list(range(start + 1, book.update_id + 1))
    assert changes[-1][1:] == ("SELL", D("60000"), D("0.25"))


def _random_ops(ex, engine, keys, rng, n, market):
    spec = engine.specs["BTCUSDT"]
    for _ in range(n):
        key = rng.choice(keys)
        owner = aid(ex, key)
        r = rng.random()
        try:
            if r < 0.15:
                opens = engine.open_orders(owner)
                if opens:
                    engine.cancel(owner, "BTCUSDT", rng.choice(opens).order_id)
            elif r < 0.18:
                engine.cancel_all(owner, "BTCUSDT")
            else:
                side = rng.choice(["BUY", "SELL"])
                qty = spec.step_size * rng.randint(1, 3000)
                typ = rng.choice(["LIMIT", "LIMIT", "LIMIT", "LIMIT", "MARKET"])
                tif = rng.choice(["GTC", "GTC", "IOC", "FOK", "POST_ONLY"]) if typ == "LIMIT" else "GTC"
                price = None if typ == "MARKET" else D(60000) + spec.tick_size * rng.randint(-300, 300)
                quote = None
                if typ == "MARKET" and market == "spot" and rng.random() < 0.3:
                    qty, quote = None, D(rng.randint(10, 3000))
                stp = rng.choice(["CANCEL_MAKER", "CANCEL_TAKER", "CANCEL_BOTH", "NONE"])
                engine.submit(owner, OrderRequest("BTCUSDT", side, typ, tif, qty, quote, price, None, stp))
        except SimReject:
            pass


def _check_book(engine):
    book = engine.books["BTCUSDT"]
    for side in ("BUY", "SELL"):
        for price, level in book.levels[side].items():
            assert level and book.totals[side][price] == sum(o.remaining for o in level)
            assert all(o.is_open and o.price == price and o.side == side for o in level)
        assert sorted(book.levels[side]) == book.prices[side]
    bb, ba = book.best("BUY"), book.best("SELL")
    assert bb is None or ba is None or bb < ba
    resting = {o.order_id for side in ("BUY", "SELL") for lvl in book.levels[side].values() for o in lvl}
    opened = {o.order_id for d in engine.open_by_owner.values() for o in d.values()}
    assert resting == opened


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spot_random_flow_conserves_assets_and_locks(seed):
    import random
    ex = EmbeddedExchange(seed=seed, pairs=("BTC-USDT",), perp_pairs=(), agent=False)
    keys = [f"k{i}" for i in range(4)]
    for i, k in enumerate(keys):
        ex.create_account(k, "s", balances={"USDT": D("200000"), "BTC": D("3")},
                          maker_fee=D("0.001") * i, taker_fee=D("0.002"))
    _random_ops(ex, ex.spot_engine, keys, random.Random(seed), 600, "spot")
    fees = {"USDT": D(0), "BTC": D(0)}
    for k in keys:
        for t in ex.trades(k):
            fees[t.commission_asset] += t.commission
    for asset, initial in (("USDT", D("800000")), ("BTC", D("12"))):
        total = sum(sum(ex.balances(k).get(asset, (D(0), D(0)))) for k in keys)
        assert total + fees[asset] == initial, asset
    for k in keys:
        owner = aid(ex, k)
        reserved = {"USDT": D(0), "BTC": D(0)}
        for o in ex.spot_engine.open_orders(owner):
            reserved[o.reserved_asset] += o.reserved
            assert o.reserved == (o.price * o.remaining if o.side == "BUY" else o.remaining)
        for asset in ("USDT", "BTC"):
            free, locked = ex.balances(k)[asset]
            assert locked == reserved[asset] and free >= 0
    _check_book(ex.spot_engine)
    assert len(ex.spot_engine.fills) > 50


@pytest.mark.parametrize("seed", [4, 5])
def test_futures_random_flow_is_zero_sum(seed):
    import random
    ex = EmbeddedExchange(seed=seed, pairs=(), perp_pairs=("BTC-USDT",), agent=False, funding_interval=None)
    keys = [f"f{i}" for i in range(4)]
    for k in keys:
        ex.create_account(k, "s", futures_balances={"USDT": D("100000")}, leverage={"BTC-USDT": 10})
    _random_ops(ex, ex.futures_engine, keys, random.Random(seed), 600, "futures")
    ex.set_mark_price("BTC-USDT", D("60123.4"))
    ex.run_funding()
    fees = sum(t.commission for k in keys for t in ex.trades(k, "futures"))
    wallets = sum(ex.futures_balance(k) for k in keys)
    unrealized = sum(p["unrealized_pnl"] for k in keys for p in ex.positions(k).values())
    funding = sum(i.income for k in keys for i in ex.income(k) if i.income_type == "FUNDING")
    # every trade has a buyer and a seller: PnL (realized + unrealized) and funding net to zero,
    # up to the 8-decimal rounding of each realized PnL (the average entry price is a quotient)
    closes = sum(1 for k in keys for t in ex.trades(k, "futures") if t.realized_pnl)
    assert abs(wallets + fees + unrealized - funding - D("400000")) <= closes * D("0.000000005")
    assert all(ex.futures_balance(k) == ex.futures_balance(k).quantize(D("1e-8")) for k in keys)
    assert sum(p["amount"] for k in keys for p in ex.positions(k).values()) == 0
    assert abs(funding) < D("0.0001") * 4
    _check_book(ex.futures_engine)
    assert len(ex.futures_engine.fills) > 50
