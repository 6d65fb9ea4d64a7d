"""Input forms, exact decimal text, and bad input (atomic batches: the book is unchanged)."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbconnect import OrderBook
from tests.book_reference import RefBook, RefError, assert_same_book, state


def _book() -> OrderBook:
    b = OrderBook()
    b.apply_snapshot([["100.10", "1.50"], ["100.00", "2"]], [["100.20", "0.35130000"], ["100.30", "4"]], 10)
    b.apply_diffs([["99.90", "3.0"]], [["100.40", "5.000"]], 11)
    return b


@pytest.mark.parametrize("text", ["0.35130000", "0", "0.0", "0.000022900", "13355.87450757", "100",
                                  "1.000000000000000000000000000000000000000000000000000000000000001",
                                  "72057594037927935", "72057594037927936", "123456789012345678901234567890",
                                  "1e-5", "1.5E+3", "+7", ".5", "5.", "00.5", "0.00000000000000000000000001"])
def test_exact_text_round_trip(text):
    b = OrderBook()
    b.apply_diffs([["1", text]], [], 1)
    if Decimal(text) > 0:
        assert b.bids_text() == [("1", text)]
        assert b.bids()[0, 1] == float(Decimal(text))  # correctly rounded
    # as a price too
    p = OrderBook()
    p.apply_diffs([[text, "1"]], [], 1)
    if Decimal(text) > 0 or text in ("0", "0.0"):
        assert p.bids_text() == [(text, "1")]
        assert p.best_bid == float(Decimal(text))


@pytest.mark.parametrize("text", ["0.1", "0.3", "1.7976931348623157", "9007199254740993", "0.000000000000000000000123",
                                  "4.9406564584124654", "123456789.12345678", "3.14159265358979323846"])
def test_values_are_correctly_rounded(text):
    b = OrderBook()
    b.apply_diffs([[text, text]], [], 1)
    assert b.best_bid == float(Decimal(text))
    assert b.bids()[0, 1] == float(Decimal(text))
    assert b.bids_text() == [(text, text)]


def test_all_input_forms_give_the_same_book():
    forms = [
        [["101.5", "2"], ["101", "0.25"]],
        [[b"101.5", b"2"], [b"101", b"0.25"]],
        [(101.5, 2.0), (101.0, 0.25)],
        [[Decimal("101.5"), 2], [101, Decimal("0.25")]],
        (("101.5", "2", "1618678123.481570"), ("101", "0.25", "1618678123.481570", "r")),
        np.array([[101.5, 2.0], [101.0, 0.25]]),
        np.array([[101.5, 2.0, 7], [101.0, 0.25, 7]], dtype=np.float32),
        np.array([["101.5", "2"], ["101", "0.25"]]),
        [np.array([101.5, 2.0]), np.array([101.0, 0.25])],
        [[np.float64(101.5), np.int64(2)], [np.int32(101), Fraction(1, 4)]],
        iter([["101.5", "2"], ["101", "0.25"]]),
    ]
    for f in forms:
        b = OrderBook()
        b.apply_diffs(f, None, 3)
        assert b.bids().tolist() == [[101.5, 2.0], [101.0, 0.25]], f


def test_float_inputs_give_repr_text():
    b = OrderBook()
    b.apply_diffs([(0.1, 1e-7), (2.0, 3)], np.array([[5.5, 1e20]]), 1)
    assert b.bids_text() == [("2.0", "3"), ("0.1", "0.0000001")]
    assert b.asks_text() == [("5.5", "100000000000000000000")]


def test_numpy_fast_path_and_mixed_sides():
    b = OrderBook()
    arr = np.array([[100.0 - i * 0.5, 1.0 + i] for i in range(100)])
    b.apply_snapshot(arr, [["101", "1"]], 1)
    assert b.bid_depth == 100 and b.best_bid == 100.0 and b.bids(1).tolist() == [[100.0, 1.0]]
    b.apply_diffs(np.array([[100.0, 0.0]]), np.empty((0, 2)), 2)
    assert b.best_bid == 99.5


BAD = [
    ("nan text", ["1", "nan"]), ("NaN text", ["NaN", "1"]), ("inf text", ["inf", "1"]),
    ("Infinity", ["1", "Infinity"]), ("negative text", ["1", "-0.5"]), ("negative price", ["-1", "1"]),
    ("empty", ["", "1"]), ("blank", ["1", "   "]), ("garbage", ["1", "abc"]), ("underscore", ["1_000", "1"]),
    ("two dots", ["1.2.3", "1"]), ("hex", ["0x10", "1"]), ("non-ascii bytes", [b"\xff", b"1"]),
    ("unicode digits", ["١٢", "1"]), ("float nan", [1.0, float("nan")]), ("float inf", [float("inf"), 1.0]),
    ("float negative", [1.0, -0.5]), ("int negative", [-3, 1]), ("None item", [None, "1"]),
    ("bool", [True, "1"]), ("object", [object(), "1"]), ("decimal nan", [Decimal("NaN"), "1"]),
    ("decimal snan", ["1", Decimal("sNaN")]), ("decimal negative", ["1", Decimal("-2")]),
    ("decimal inf", [Decimal("Infinity"), "1"]), ("overflow text", ["1e400", "1"]),
    ("overflow int", [10 ** 400, 1]), ("one item", ["1"]), ("no items", []), ("string pair", "12"),
    ("dict pair", {"price": "1", "size": "1"}), ("number pair", 5), ("None pair", None),
]


@pytest.mark.parametrize("name,bad", BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("where", ["bids", "asks"])
@pytest.mark.parametrize("method", ["apply_diffs", "apply_snapshot"])
def test_bad_input_leaves_book_unchanged(name, bad, where, method):
    b = _book()
    before = state(b)
    nbytes_levels = (b.bid_depth, b.ask_depth)
    good_b = [["100.05", "7"], ["99.95", "0"]]   # valid updates before the bad one: must not land
    good_a = [["100.25", "7"], ["100.20", "0"]]
    side = (good_b if where == "bids" else good_a) + [bad]
    args = (side, good_a) if where == "bids" else (good_b, side)
    with pytest.raises(ValueError) as exc:
        getattr(b, method)(*args, 99)
    assert str(exc.value)  # a message saying what is wrong
    assert state(b) == before
    assert (b.bid_depth, b.ask_depth) == nbytes_levels
    # and the book still works afterwards
    b.apply_diffs([["100.05", "7"]], [], 100)
    assert b.best_bid == 100.1 and b.bids_text(2) == [("100.10", "1.50"), ("100.05", "7")]


@pytest.mark.parametrize("bad", [
    np.array([[1.0, np.nan]]), np.array([[np.inf, 1.0]]), np.array([[1.0, -1.0]]), np.array([1.0, 2.0]),
    np.array([[1.0]]), np.array([[1 + 1j, 1]]), "1,2", b"12", 5,
])
def test_bad_side_containers(bad):
    b = _book()
    before = state(b)
    with pytest.raises(ValueError):
        b.apply_diffs(bad, [], 5)
    with pytest.raises(ValueError):
        b.apply_snapshot([], bad, 5)
    assert state(b) == before


def test_error_message_names_side_level_and_field():
    b = OrderBook()
    with pytest.raises(ValueError, match=r"ask level 1: size .*'x'"):
        b.apply_diffs([], [["1", "1"], ["2", "x"]], 1)
    with pytest.raises(ValueError, match=r"bid level 0: price is NaN"):
        b.apply_diffs(np.array([[np.nan, 1.0]]), [], 1)


def test_crossed_snapshot_rejected_and_book_unchanged():
    b = _book()
    before = state(b)
    with pytest.raises(ValueError, match="crossed"):
        b.apply_snapshot([["101", "1"]], [["100", "1"]], 50)
    with pytest.raises(ValueError, match="crossed"):
        b.apply_snapshot([["100", "1"]], [["100", "1"]], 50)  # locked
    assert state(b) == before


def test_crossed_snapshot_in_every_form_keeps_book_texts_and_checksum():
    """A CEX snapshot is never crossed: one that is is rejected whole (the tracker resyncs)."""
    b = OrderBook()
    b.apply_snapshot([["99.50", "1e-3"], ["99", "2"]], [["100.25", "3.0"]], 7)   # "1e-3": verbatim text
    before, ck = state(b), b.checksum_okx()
    crossed = [
        ([["101", "1"], ["98", "1"]], [["100.5", "1"], ["102", "1"]]),           # str, unsorted
        (np.array([[101.0, 1.0]]), np.array([[100.0, 1.0]])),                    # numpy
        ([[Decimal("100.00"), Decimal("1")]], [[Decimal("100"), Decimal("2")]]),  # locked, Decimal
        ([["100.1", "1E-8"]], [["100.1", "5e2"]]),                                # fallback texts pending
    ]
    for bids, asks in crossed:
        with pytest.raises(ValueError, match="crossed snapshot"):
            b.apply_snapshot(bids, asks, 8)
        assert state(b) == before and b.checksum_okx() == ck
    # levels that would cross but have size 0 are not levels: that snapshot is valid
    b.apply_snapshot([["101", "0"], ["99", "1"]], [["100", "2"], ["98", "0"]], 9)
    assert b.bids_text() == [("99", "1")] and b.asks_text() == [("100", "2")] and b.snapshot_uid == 9


def test_snapshot_any_order_duplicates_and_zero_sizes():
    b = OrderBook()
    b.apply_snapshot([["99", "1"], ["100", "2"], ["98", "0"], ["99", "5"], ["97", "1"], ["100", "0"]],
                     [["103", "1"], ["101", "1"], ["102", "0"], ["101", "3"]], 4)
    assert b.bids_text() == [("99", "5"), ("97", "1")]
    assert b.asks_text() == [("101", "3"), ("103", "1")]
    b.apply_snapshot([["1", "1"], ["2", "1"], ["3", "1"]], [], 5)   # ascending input
    assert b.bids().tolist() == [[3, 1], [2, 1], [1, 1]] and b.ask_depth == 0
    assert b.snapshot_uid == 5


def test_crossing_diff_newer_level_wins():
    b = OrderBook()
    b.apply_snapshot([["99", "1"], ["98", "1"]], [["100", "1"], ["101", "1"], ["102", "1"]], 1)
    b.apply_diffs([["101", "2"]], [], 2)            # a bid through two asks: they go
    assert b.bids_text() == [("101", "2"), ("99", "1"), ("98", "1")]
    assert b.asks_text() == [("102", "1")]
    b.apply_diffs([], [["98.5", "4"]], 3)           # an ask through two bids: they go
    assert b.bids_text() == [("98", "1")] and b.asks_text() == [("98.5", "4"), ("102", "1")]
    b.apply_diffs([["99", "1"]], [["98.7", "1"]], 4)  # one batch crossing itself: its asks win
    assert b.bids_text() == [("98", "1")] and b.asks_text() == [("98.7", "1"), ("102", "1")]


def test_deleting_absent_levels_is_a_no_op():
    b = _book()
    before = state(b)[:4]
    b.apply_diffs([["1", "0"], ["55.5", "0.000"]], [["1000", "0"]], 12)
    assert state(b)[:4] == before and b.last_diff_uid == 12


def test_empty_book_and_empty_batches():
    b = OrderBook()
    b.apply_diffs([], [], 1)
    b.apply_snapshot([], [], 2)
    assert len(b) == 0 and b.bids().shape == (0, 2) and b.bids_text() == []
    assert b.best_bid != b.best_bid and b.mid_price != b.mid_price and b.spread != b.spread
    with pytest.raises(EnvironmentError):
        b.get_price(True)
    assert b.checksum_okx() == 0 and b.checksum_kraken() == 0


def test_very_large_and_very_small_values():
    b = OrderBook()
    big, small = "1" + "0" * 300, "0." + "0" * 300 + "1"
    b.apply_diffs([[small, big]], [["1e300", "1e-300"]], 1)
    assert b.bids_text() == [(small, big)] and b.asks_text() == [("1e300", "1e-300")]
    assert b.best_bid == 1e-301 and b.bids()[0, 1] == 1e300 and b.best_ask == 1e300
    b.apply_diffs([[small, "0"]], [], 2)
    assert b.bid_depth == 0


def test_fallback_text_replaced_and_forgotten():
    b = OrderBook()
    b.apply_diffs([["1.0e1", "2E0"]], [], 1)
    assert b.bids_text() == [("1.0e1", "2E0")]
    b.apply_diffs([["10", "3"]], [], 2)            # same price, plain text now
    assert b.bids_text() == [("10", "3")]
    for i in range(200):                           # stale verbatim entries do not pile up
        b.apply_diffs([[f"{i}e-3", "1e0"]], [], 3)
        b.apply_diffs([[f"{i}e-3", "0"]], [], 4)
    assert b.nbytes < 20_000


def test_reentrant_update_from_input_conversion_is_refused():
    b = _book()
    before = state(b)

    class Sneaky:
        def __float__(self):
            b.apply_diffs([["1", "1"]] * 5000, [], 1)   # would reallocate the parse buffer
            return 1.0

    with pytest.raises(RuntimeError, match="re-entrant"):
        b.apply_diffs([["100.05", "1"], [Sneaky(), "1"]], [], 7)
    assert state(b) == before
    b.apply_diffs([["100.05", "1"]], [], 8)            # and the book still works
    assert b.bid_depth == 4


_atoms = st.one_of(
    st.sampled_from(["1", "0", "0.5", "12.340", "1e-3", "-1", "", " ", "nan", "inf", "abc", "1_0", "+2",
                     "0x1", "1.2.3", "١", "9" * 40, "1e400", "-0", ".5"]),
    st.text(max_size=6),
    st.binary(max_size=4),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-10 ** 30, max_value=10 ** 30),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.none(), st.booleans(),
)
_pairs = st.one_of(st.lists(_atoms, max_size=4), st.lists(_atoms, max_size=4).map(tuple), _atoms)
_sides = st.one_of(st.none(), st.lists(_pairs, max_size=5), st.lists(_pairs, max_size=5).map(tuple))


@settings(max_examples=300, deadline=None)
@given(_sides, _sides, st.booleans())
def test_fuzzed_input_is_applied_exactly_or_refused_atomically(bids, asks, snapshot):
    """Arbitrary junk: either the reference model accepts it and both books agree, or ValueError
    and the book is untouched."""
    book, ref = _book(), RefBook()
    ref.apply_snapshot([["100.10", "1.50"], ["100.00", "2"]], [["100.20", "0.35130000"], ["100.30", "4"]], 10)
    ref.apply_diffs([["99.90", "3.0"]], [["100.40", "5.000"]], 11)
    before = state(book)
    apply_ref = ref.apply_snapshot if snapshot else ref.apply_diffs
    apply_book = book.apply_snapshot if snapshot else book.apply_diffs
    try:
        apply_ref(bids, asks, 12)
    except RefError:
        with pytest.raises(ValueError):
            apply_book(bids, asks, 12)
        assert state(book) == before
    else:
        apply_book(bids, asks, 12)
        assert_same_book(book, ref)
