"""The book against hostile input (issue 7's probes): conversions that mutate or free what is being
parsed, non-native byte order, update ids out of range, bad trade prices, huge Decimal exponents.
Crash reproductions run in a subprocess, so a segfault fails the test instead of killing pytest."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import tracemalloc
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from hbconnect import OrderBook
from tests.book_reference import state

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def _book() -> OrderBook:
    b = OrderBook()
    b.apply_snapshot([["100.10", "1.50"], ["100.00", "2"]], [["100.20", "0.35"], ["100.30", "4"]], 10)
    return b


_PRELUDE = """
from hbconnect import OrderBook
from tests.book_reference import state
b = OrderBook()
b.apply_snapshot([["100.10", "1.50"], ["100.00", "2"]], [["100.20", "0.35"], ["100.30", "4"]], 10)
before = state(b)
"""


@pytest.mark.parametrize("effect,expect", [
    # grows the other side's list past the parse buffer sized before parsing
    ("asks.extend([['200', '1']] * 100000)", "ok"),
    # frees the pairs still to be read
    ("bids.clear(); asks.clear()", "ok"),
    # frees the parse buffer mid-parse: no longer reachable from Python
    ("b._release_tmp()", "ValueError"),
    # frees the pair whose second item is read next
    ("pair.clear()", "ok"),
])
def test_conversions_that_mutate_or_free_the_input_cannot_crash_the_parse(effect, expect):
    res = _run(_PRELUDE + f"""
class Evil:
    def __float__(self):
        {effect}
        return 99.0
pair = [Evil(), "1"]
bids = [["100.05", "1"], pair] + [["%d" % (90 - i), "1"] for i in range(50)]
asks = [["101", "1"]]
try:
    b.apply_diffs(bids, asks, 11)
except ValueError as exc:
    assert state(b) == before
    print("ValueError", exc)
else:
    assert b.best_bid == 100.1 and 99.0 in b.bids()[:, 0]
    print("ok")
""")
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr[-2000:]}"
    assert res.stdout.startswith(expect), res.stdout
    if expect == "ValueError":
        assert "raised AttributeError" in res.stdout


def test_the_parse_buffer_is_not_reachable_from_python():
    assert not hasattr(OrderBook(), "_release_tmp")


def test_a_conversion_that_raises_is_a_value_error_and_the_book_is_unchanged():
    b = _book()
    before = state(b)

    class Boom:
        def __float__(self):
            raise RuntimeError("no")

    with pytest.raises(ValueError, match="bid level 1: price") as info:
        b.apply_diffs([["100.05", "1"], [Boom(), "1"]], [], 11)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert state(b) == before


@pytest.mark.parametrize("dtype", [">f8", ">f4", "<f4", ">i8", "<u4", "i2"])
def test_any_byte_order_and_numeric_width_is_read_as_its_values(dtype):
    b = OrderBook()
    b.apply_snapshot(np.array([[100, 1], [99, 2]], dtype=dtype), np.array([[101, 3]], dtype=dtype), 1)
    assert b.bids().tolist() == [[100.0, 1.0], [99.0, 2.0]]
    assert b.asks().tolist() == [[101.0, 3.0]]
    b.apply_diffs(np.array([[100, 5]], dtype=dtype), None, 2)
    assert b.bids().tolist() == [[100.0, 5.0], [99.0, 2.0]]


def test_non_contiguous_and_object_arrays_are_read_as_their_values():
    bids = np.asfortranarray(np.array([[100.0, 1.0, 7.0], [99.0, 2.0, 7.0]]))      # column-major
    asks = np.array([[101.0, 3.0], [150.0, 9.0], [102.0, 4.0]])[::2]               # strided rows
    b = OrderBook()
    b.apply_snapshot(bids, asks, 1)
    assert b.bids().tolist() == [[100.0, 1.0], [99.0, 2.0]]
    assert b.asks().tolist() == [[101.0, 3.0], [102.0, 4.0]]
    b.apply_diffs(np.array([["100", "0"]], dtype=object), np.array([["101", "0.5"]]), 2)
    assert b.bids().tolist() == [[99.0, 2.0]]
    assert b.asks_text()[0] == ("101", "0.5")


@pytest.mark.parametrize("arr", [
    np.array([[True, True]]), np.array([[1 + 1j, 1]]), np.array([[1, 2]], dtype="M8[s]"),
    np.array([100.0, 1.0]), np.array([[100.0]]), np.zeros((1, 2, 2)), np.array([[100.0, 1.0]], dtype=">f8")[:, :1],
])
def test_unusable_arrays_are_refused_with_value_error(arr):
    b = _book()
    before = state(b)
    with pytest.raises(ValueError):
        b.apply_diffs(arr, None, 11)
    assert state(b) == before


@pytest.mark.parametrize("uid", [2 ** 63, 2 ** 64 + 5, -1, 1.5, 2.0, True, "7", Decimal(7), None, np.uint64(2 ** 63)])
def test_bad_update_ids_are_value_errors(uid):
    b = _book()
    before = state(b)
    for apply in (b.apply_diffs, b.apply_snapshot):
        with pytest.raises(ValueError, match="update_id"):
            apply([["100.05", "1"]], [], uid)
        assert state(b) == before


@pytest.mark.parametrize("uid", [0, 2 ** 63 - 1, np.int64(12), np.uint32(13)])
def test_update_ids_in_range_are_kept_exactly(uid):
    b = _book()
    b.apply_diffs([["100.05", "1"]], [], uid)
    assert b.last_diff_uid == int(uid)
    b.apply_snapshot([["100.05", "1"]], [], uid)
    assert b.snapshot_uid == int(uid)


@pytest.mark.parametrize("price", [math.inf, -math.inf, math.nan, -1, -0.5, "-1", "abc", "", b"\xff",
                                   Decimal("NaN"), Decimal("Infinity"), Decimal("-3"), Decimal("1e+100000000"),
                                   Decimal("1e-100000000"), None, object(), [1]])
def test_apply_trade_refuses_bad_prices_with_value_error(price):
    b = _book()
    b.apply_trade("100.15")
    with pytest.raises(ValueError, match="trade price"):
        b.apply_trade(price)
    with pytest.raises(ValueError, match="trade price"):
        b.apply_trade(type("T", (), {"price": price})())
    assert b.last_trade_price == 100.15


def test_apply_trade_reads_the_forms_it_documents():
    b = OrderBook()
    for price in ("99.5", b"99.5", 99.5, Decimal("99.5"), type("T", (), {"price": "99.5"})()):
        b.last_trade_price = 0.0
        b.apply_trade(price)
        assert b.last_trade_price == 99.5


@pytest.mark.parametrize("value", [Decimal("1e-100000000"), Decimal("1e+100000000"), Decimal("-1e-100000000")])
def test_huge_decimal_exponents_are_refused_before_any_formatting(value):
    b = _book()
    before = state(b)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="out of range|negative"):
            b.apply_diffs([[value, "1"]], [], 11)
        with pytest.raises(ValueError, match="out of range|negative"):
            b.apply_diffs([["100.05", value]], [], 11)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000  # formatting it to plain text first took 100 MB
    assert state(b) == before


def test_a_zero_decimal_with_a_huge_exponent_is_zero():
    b = _book()
    b.apply_diffs([["100.10", Decimal("0E-100000000")]], [], 11)   # a delete
    assert b.best_bid == 100.0


def test_fuzz_adversarial_objects_in_a_subprocess():
    """``tests/book_fuzz.py`` at a short default size (HBCONNECT_FUZZ_EXAMPLES for more)."""
    examples = os.environ.get("HBCONNECT_FUZZ_EXAMPLES") or "150"
    res = subprocess.run([sys.executable, str(ROOT / "tests" / "book_fuzz.py"), examples], cwd=ROOT,
                         capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0 and "book fuzz ok" in res.stdout, \
        f"exit {res.returncode}: {(res.stdout + res.stderr)[-4000:]}"
