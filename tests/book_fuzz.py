"""Fuzz target: adversarial Python objects fed to ``OrderBook``.

Values whose ``__float__``/``__index__``/``__str__``/``__len__``/``__getitem__`` run code that
grows, clears or shrinks the very lists being parsed, reaches for the book's internals, updates
the book re-entrantly, raises, or returns NaN/inf/negatives/huge numbers; numpy arrays of every
dtype, byte order, stride and shape; update ids of every kind. The book must never crash, must
raise only ``ValueError`` (``RuntimeError`` for a re-entrant update) and be unchanged when it
raises, and must hold a valid book (sorted, uncrossed, finite) when it accepts.

Run standalone (a crash is then a dead subprocess, not a dead test session)::

    python tests/book_fuzz.py [EXAMPLES]      # default: HBCONNECT_FUZZ_EXAMPLES or 150
"""
from __future__ import annotations

import math
import os
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hbconnect import OrderBook  # noqa: E402
from tests.book_reference import state  # noqa: E402

DEFAULT_EXAMPLES = int(os.environ.get("HBCONNECT_FUZZ_EXAMPLES") or 150)


class Ctx:
    """What a side effect can reach: the book and the batch's lists (set per example)."""

    book: OrderBook = None  # type: ignore[assignment]
    lists: list = []
    touched = False  # an effect changed the book itself (then "unchanged" is not the contract)


def _effect(kind: int) -> None:
    lists = Ctx.lists
    if kind == 0:
        for lst in lists:
            lst.extend([["1", "1"]] * 3000)     # grow past the parse buffer
    elif kind == 1:
        for lst in lists:
            lst.clear()                         # free the items being read
    elif kind == 2:
        for lst in lists:
            del lst[: len(lst) // 2]
    elif kind == 3:
        getattr(Ctx.book, "_release_tmp")()     # the parse buffer must not be freeable from here
    elif kind == 4:
        Ctx.book.apply_diffs([["1", "1"]] * 5000, [], 1)  # a re-entrant update: refused
        Ctx.touched = True  # (from apply_trade's conversion it is a legal update)
    elif kind == 5:
        raise RuntimeError("conversion failed")
    elif kind == 6:
        raise KeyError("odd")
    elif kind == 7:
        Ctx.touched = True
        Ctx.book.clear()                        # the book's own state changes under the parse


class Value:
    """A number-like whose conversions run ``effect`` first."""

    def __init__(self, effect: int, result):
        self.effect, self.result = effect, result

    def __float__(self):
        _effect(self.effect)
        return float(self.result) if not isinstance(self.result, float) else self.result

    def __repr__(self):
        return "Value()"


class Index(Value):
    def __index__(self):
        _effect(self.effect)
        return int(self.result) if not isinstance(self.result, float) else 1


class Text(str):
    """A str subclass whose ``__str__`` runs an effect."""

    effect = 0

    def __str__(self):
        _effect(self.effect)
        return str.__str__(self)


class Pair:
    """A sequence that lies: runs an effect in ``__len__``/``__getitem__``."""

    def __init__(self, effect: int, items, length: int):
        self.effect, self.items, self.length = effect, items, length

    def __len__(self):
        _effect(self.effect)
        return self.length

    def __getitem__(self, i):
        _effect(self.effect)
        return self.items[i]


_results = st.one_of(st.sampled_from([1.0, 0.0, -1.0, math.nan, math.inf, 1e308, 5e-324, 100.5]),
                     st.integers(-2 ** 70, 2 ** 200))
_effects = st.integers(0, 7)


def _text(s_eff):
    s, eff = s_eff
    t = Text(s)
    t.effect = eff
    return t


_atoms = st.one_of(
    st.sampled_from(["100", "99.5", "0", "1e-100000000", "abc", "nan", "-1", "١", "1_0"]),
    st.builds(Value, _effects, _results),
    st.builds(Index, _effects, _results),
    st.tuples(st.sampled_from(["101", "0.5", "x"]), _effects).map(_text),
    st.sampled_from([Decimal("1e-100000000"), Decimal("0E-100000000"), Decimal("1e+100000000"),
                     Decimal("NaN"), Decimal("-2"), Decimal("100.25")]),
    st.integers(-2 ** 70, 2 ** 80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(), st.booleans(),
)
_pairs = st.one_of(
    st.lists(_atoms, min_size=0, max_size=3),
    st.lists(_atoms, min_size=2, max_size=3).map(tuple),
    st.builds(Pair, _effects, st.lists(_atoms, max_size=3), st.integers(0, 3)),
    _atoms,
)
_dtypes = st.sampled_from([">f8", "<f8", "<f4", ">f4", ">i4", "<u8", "i2", "O", "?", "c16", "M8[s]", "U4"])


@st.composite
def _arrays(draw):
    n = draw(st.integers(0, 4))
    cols = draw(st.sampled_from([1, 2, 3]))
    shape = draw(st.sampled_from([(n, cols), (n,), (n, cols, 1)]))
    values = np.arange(1, 1 + int(np.prod(shape)), dtype=np.float64).reshape(shape)
    arr = values.astype(draw(_dtypes))
    if draw(st.booleans()) and arr.ndim == 2:
        arr = np.asfortranarray(arr)            # non-contiguous rows
    if draw(st.booleans()) and arr.ndim >= 1 and arr.shape[0] > 1:
        arr = arr[::2]                          # strided
    return arr


_sides = st.one_of(st.none(), st.lists(_pairs, max_size=6), st.lists(_pairs, max_size=6).map(tuple), _arrays())
_uids = st.one_of(st.integers(-2 ** 64, 2 ** 65), st.sampled_from([1.5, 2.0, True, "3", Decimal(4), np.int64(5),
                                                                     np.uint64(2 ** 63), None]))


def _seed_book() -> OrderBook:
    b = OrderBook()
    b.apply_snapshot([["100.10", "1.50"], ["100.00", "2"]], [["100.20", "0.35130000"], ["100.30", "4"]], 10)
    return b


def _valid(book: OrderBook) -> None:
    bids, asks = book.bids(), book.asks()
    assert np.isfinite(bids).all() and np.isfinite(asks).all()
    assert (bids[:, 1] > 0).all() and (asks[:, 1] > 0).all()
    assert (np.diff(bids[:, 0]) < 0).all() and (np.diff(asks[:, 0]) > 0).all()
    if len(bids) and len(asks):
        assert bids[0, 0] < asks[0, 0]


def check(bids, asks, uid, op: int, trade) -> None:
    book = _seed_book()
    Ctx.book = book
    Ctx.lists = [x for x in (bids, asks) if isinstance(x, list)]
    Ctx.touched = False
    before = state(book)
    last_trade = book.last_trade_price
    try:
        if op == 0:
            book.apply_diffs(bids, asks, uid)
        elif op == 1:
            book.apply_snapshot(bids, asks, uid)
        else:
            book.apply_trade(trade)
    except ValueError:
        assert Ctx.touched or state(book) == before
        assert book.last_trade_price == last_trade or (math.isnan(last_trade) and math.isnan(book.last_trade_price))
    except RuntimeError as exc:
        assert "re-entrant" in str(exc), exc
        assert Ctx.touched or state(book) == before
    else:
        if op == 2:
            assert math.isfinite(book.last_trade_price) and book.last_trade_price >= 0
    _valid(book)


def run(examples: int = DEFAULT_EXAMPLES) -> None:
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(_sides, _sides, _uids, st.integers(0, 2), _atoms)
    def fuzz(bids, asks, uid, op, trade):
        check(bids, asks, uid, op, trade)

    fuzz()


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_EXAMPLES)
    print("book fuzz ok")
