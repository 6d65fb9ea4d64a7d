"""Query results on hand-worked examples (Hummingbot semantics) and the top-of-book accessors."""
from __future__ import annotations

import math
import copy

import numpy as np
import pytest

from hbconnect import OrderBook, OrderBookQueryResult
from hbconnect._book import OrderBookRow

nan = math.nan


@pytest.fixture
def book() -> OrderBook:
    b = OrderBook()
    # asks 100 x 1, 101 x 2, 102 x 3; bids 99 x 1, 98 x 2, 97 x 3
    b.apply_snapshot([["99", "1"], ["98", "2"], ["97", "3"]], [["100", "1"], ["101", "2"], ["102", "3"]], 1)
    return b


def _eq(r: OrderBookQueryResult, want: tuple) -> bool:
    return all((math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12)
               for a, b in zip(tuple(r), want))


def test_top_of_book(book):
    assert book.best_bid == 99.0 and book.best_ask == 100.0
    assert book.get_price(True) == 100.0 and book.get_price(False) == 99.0
    assert book.mid_price == 99.5 and book.spread == 1.0
    assert book.bid_depth == 3 and book.ask_depth == 3 and len(book) == 6


@pytest.mark.parametrize("method,is_buy,x,want", [
    # cumulative size 1, 3 >= 2.5 at 101
    ("get_price_for_volume", True, 2.5, (nan, 2.5, 101.0, 2.5)),
    ("get_price_for_volume", False, 1.0, (nan, 1.0, 99.0, 1.0)),
    ("get_price_for_volume", True, 7.0, (nan, 7.0, nan, 6.0)),          # deeper than the book
    # 100*1 + 101*1.5 = 251.5 over 2.5
    ("get_vwap_for_volume", True, 2.5, (nan, 2.5, 100.6, 2.5)),
    # 99*1 + 98*2 + 97*1 = 392 over 4
    ("get_vwap_for_volume", False, 4.0, (nan, 4.0, 98.0, 4.0)),
    ("get_vwap_for_volume", True, 6.0, (nan, 6.0, (100 + 202 + 306) / 6, 6.0)),
    ("get_vwap_for_volume", True, 6.5, (nan, 6.5, nan, 6.0)),
    # quote volumes 100, 302, 608
    ("get_price_for_quote_volume", True, 250.0, (nan, 250.0, 101.0, 250.0)),
    ("get_price_for_quote_volume", True, 1000.0, (nan, 1000.0, nan, 608.0)),
    ("get_price_for_quote_volume", False, 99.0, (nan, 99.0, 99.0, 99.0)),
    ("get_quote_volume_for_base_amount", True, 2.5, (nan, 2.5, nan, 251.5)),
    ("get_quote_volume_for_base_amount", False, 2.5, (nan, 2.5, nan, 99 + 1.5 * 98)),
    ("get_quote_volume_for_base_amount", True, 10.0, (nan, 10.0, nan, 608.0)),
    ("get_volume_for_price", True, 101.0, (101.0, nan, 101.0, 3.0)),
    ("get_volume_for_price", True, 101.5, (101.5, nan, 101.0, 3.0)),
    ("get_volume_for_price", False, 98.0, (98.0, nan, 98.0, 3.0)),
    ("get_volume_for_price", True, 99.5, (99.5, nan, nan, 0.0)),
    ("get_quote_volume_for_price", True, 101.0, (101.0, nan, 101.0, 302.0)),
    ("get_quote_volume_for_price", False, 0.0, (0.0, nan, 97.0, 99 + 196 + 291)),
])
def test_hand_worked_queries(book, method, is_buy, x, want):
    r = getattr(book, method)(is_buy, x)
    assert isinstance(r, OrderBookQueryResult)
    assert _eq(r, want), (r, want)


def test_queries_on_empty_book():
    b = OrderBook()
    assert _eq(b.get_vwap_for_volume(True, 1.0), (nan, 1.0, nan, 0.0))
    assert _eq(b.get_volume_for_price(False, 1.0), (1.0, nan, nan, 0.0))
    with pytest.raises(EnvironmentError):
        b.get_price(False)


def test_query_result_object():
    r = OrderBookQueryResult(1.0, 2.0, 3.0, 4.0)
    assert (r.query_price, r.query_volume, r.result_price, r.result_volume) == (1.0, 2.0, 3.0, 4.0)
    assert tuple(r) == (1.0, 2.0, 3.0, 4.0) and "result_price=3.0" in repr(r)
    with pytest.raises(AttributeError):
        r.result_price = 5.0


def test_entries_arrays_and_texts(book):
    assert list(book.bid_entries()) == [OrderBookRow(99.0, 1.0, 1), OrderBookRow(98.0, 2.0, 1),
                                        OrderBookRow(97.0, 3.0, 1)]
    book.apply_diffs([], [["100", "4"]], 2)
    first = next(iter(book.ask_entries()))
    assert (first.price, first.amount, first.update_id) == (100.0, 4.0, 2)
    assert book.asks(2).tolist() == [[100.0, 4.0], [101.0, 2.0]] and book.asks(2).dtype == np.float64
    assert book.bids(0).shape == (0, 2) and book.bids(100).shape == (3, 2)
    assert book.asks_text(1) == [("100", "4")]
    with pytest.raises(ValueError):
        book.bids(-1)
    with pytest.raises(ValueError):
        book.asks_text(-1)


def test_iterating_while_the_book_shrinks_is_safe(book):
    it = book.bid_entries()
    next(it)
    book.clear()
    assert list(it) == []


def test_uids_trade_price_truncate_copy_clear(book):
    assert book.snapshot_uid == 1 and book.last_diff_uid == 0
    book.apply_diffs([["98.5", "1"]], [], 77)
    assert book.last_diff_uid == 77
    assert math.isnan(book.last_trade_price)
    book.last_trade_price = 99.25
    assert book.last_trade_price == 99.25
    book.apply_trade(type("T", (), {"price": 99.5})())
    assert book.last_trade_price == 99.5
    book.apply_trade("99.75")
    assert book.last_trade_price == 99.75

    c = book.copy()
    c2 = copy.deepcopy(book)
    book.truncate(2)
    assert book.bids_text() == [("99", "1"), ("98.5", "1")] and book.ask_depth == 2
    assert c.bid_depth == 4 and c2.bid_depth == 4 and c.last_diff_uid == 77 and c.last_trade_price == 99.75
    c.apply_diffs([["99", "0"]], [], 78)
    assert book.best_bid == 99.0 and c.best_bid == 98.5
    book.truncate(0)
    assert len(book) == 0
    c.clear()
    assert len(c) == 0 and c.last_diff_uid == 78
    with pytest.raises(ValueError):
        c.truncate(-1)


def test_truncate_then_grow_reuses_room():
    b = OrderBook()
    b.apply_snapshot([[str(1000 - i), "1"] for i in range(1000)], [], 1)
    for i in range(3000):  # the Kraken pattern: insert near the top, truncate to depth
        b.apply_diffs([[f"{1000 + i + 1}", "2"]], [], i + 2)
        b.truncate(1000)
        assert b.bid_depth == 1000
    assert b.best_bid == 4000.0 and b.bids(1000)[-1, 0] == 3001.0
    assert b.nbytes < 200_000


def test_memory_accounting():
    b = OrderBook()
    assert b.bytes_per_level <= 48
    base = b.nbytes
    b.apply_snapshot([[f"{i}.5", "1.25"] for i in range(1, 100_001)], [], 1)
    per_level = (b.nbytes - base) / 100_000
    assert per_level <= 48, per_level


def test_repr_is_concise(book):
    r = repr(book)
    assert r.startswith("OrderBook(") and "bids=3" in r and "best_ask=100.0" in r and len(r) < 200


def test_package_exports():
    import hbconnect
    assert hbconnect.OrderBook is OrderBook
    assert hbconnect.OrderBookQueryResult is OrderBookQueryResult


def test_pickle_and_weakref(book):
    import pickle
    import weakref
    book.apply_diffs([["98.5", "1e-2"], ["96", "7.000"]], [], 9)
    book.last_trade_price = 99.1
    clone = pickle.loads(pickle.dumps(book))
    assert clone.bids_text() == book.bids_text() and clone.asks_text() == book.asks_text()
    assert list(clone.bid_entries()) == list(book.bid_entries())
    assert (clone.snapshot_uid, clone.last_diff_uid, clone.last_trade_price) == (1, 9, 99.1)
    assert clone.best_bid == book.best_bid and clone.checksum_okx() == book.checksum_okx()
    clone.apply_diffs([["99", "0"]], [], 10)
    assert book.best_bid == 99.0 and clone.best_bid == 98.5
    assert weakref.ref(book)() is book
