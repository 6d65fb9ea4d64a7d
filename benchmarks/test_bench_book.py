"""pytest-benchmark cases for the compiled order book.

Run: ``python3 -m pytest benchmarks/test_bench_book.py --benchmark-only``; the end of the output
lists ns per operation and the ratios (checksum vs applying a diff, top-of-book read vs a plain
attribute read).  Books hold 5,000 levels a side; updates sit near the touch, ~30% deletions.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import ujson

from hbconnect import OrderBook

MID = 5_000_000       # cents
LEVELS = 5000


def _px(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}000000"


def _qty(rng: random.Random) -> str:
    return "0.00000000" if rng.random() < 0.3 else f"{rng.randint(1, 10 ** 8) / 10 ** 6:.8f}"


def _snapshot(rng: random.Random) -> tuple[list, list]:
    bids = [[_px(MID - 1 - i), f"{rng.randint(1, 10 ** 8) / 10 ** 6:.8f}"] for i in range(LEVELS)]
    asks = [[_px(MID + 1 + i), f"{rng.randint(1, 10 ** 8) / 10 ** 6:.8f}"] for i in range(LEVELS)]
    return bids, asks


def _binance_messages(rng: random.Random, n: int) -> list[dict]:
    """Binance ``depthUpdate`` frames of 10 levels, parsed the way a connector parses them (ujson)."""
    out = []
    for u in range(n):
        b = [[_px(MID - 1 - int(abs(rng.gauss(0, 20)))), _qty(rng)] for _ in range(5)]
        a = [[_px(MID + 1 + int(abs(rng.gauss(0, 20)))), _qty(rng)] for _ in range(5)]
        frame = {"e": "depthUpdate", "E": 1700000000000 + u, "s": "BTCUSDT", "U": 1000 + 10 * u,
                 "u": 1009 + 10 * u, "b": b, "a": a}
        out.append(ujson.loads(ujson.dumps(frame)))
    return out


@pytest.fixture(scope="module")
def snapshot():
    return _snapshot(random.Random(7))


@pytest.fixture
def book(snapshot):
    b = OrderBook()
    b.apply_snapshot(snapshot[0], snapshot[1], 1)
    return b


def test_apply_str_diff_10(timed, book):
    """One Binance-shaped message of 10 string pairs (100 different messages per round)."""
    msgs = _binance_messages(random.Random(1), 100)
    apply = book.apply_diffs

    def run():
        for m in msgs:
            apply(m["b"], m["a"], m["u"])
    timed("apply_str_diff_10", run, len(msgs))


def test_apply_str_diff_10_same_message(timed, book):
    """The same message again and again (inputs hot in cache)."""
    m = _binance_messages(random.Random(2), 1)[0]
    b, a, u = m["b"], m["a"], m["u"]
    apply = book.apply_diffs

    def run():
        for _ in range(100):
            apply(b, a, u)
    timed("apply_str_diff_10_hot", run, 100)


def test_apply_and_read_top(timed, book):
    msgs = _binance_messages(random.Random(3), 100)
    apply = book.apply_diffs

    def run():
        for m in msgs:
            apply(m["b"], m["a"], m["u"])
            book.best_bid
            book.best_ask
    timed("apply_str_diff_10_and_top_read", run, len(msgs))


def test_apply_numpy_batch_10(timed, book):
    rng = np.random.default_rng(4)
    batches = []
    for _ in range(100):
        d = np.abs(rng.normal(0, 20, 10)).astype(int)
        px = (MID - 1 - d) / 100.0
        sz = np.where(rng.random(10) < 0.3, 0.0, rng.random(10))
        batches.append(np.column_stack([px, sz]))
    apply = book.apply_diffs

    def run():
        for arr in batches:
            apply(arr, None, 5)
    timed("apply_numpy_batch_10", run, len(batches))


def test_apply_numpy_batch_1000(timed, book):
    rng = np.random.default_rng(5)
    d = np.abs(rng.normal(0, 200, 1000)).astype(int)
    arr = np.column_stack([(MID - 1 - d) / 100.0, np.where(rng.random(1000) < 0.3, 0.0, rng.random(1000))])
    timed("apply_numpy_batch_1000_per_level", lambda: book.apply_diffs(arr, None, 6), 1000)


def test_snapshot_5000_levels(timed, snapshot):
    b = OrderBook()
    timed("snapshot_5000x2_str", lambda: b.apply_snapshot(snapshot[0], snapshot[1], 1))


def test_snapshot_5000_levels_numpy(timed, snapshot):
    bids = np.array([[float(p), float(q)] for p, q in snapshot[0]])
    asks = np.array([[float(p), float(q)] for p, q in snapshot[1]])
    b = OrderBook()
    timed("snapshot_5000x2_numpy", lambda: b.apply_snapshot(bids, asks, 1))


class _Plain:
    def __init__(self) -> None:
        self.best_bid = 49999.99
        self.best_ask = 50000.01


def test_read_best_bid(timed, book):
    def run(b=book, r=range(1000)):
        for _ in r:
            b.best_bid
    timed("read_best_bid", run, 1000)


def test_read_plain_attribute(timed):
    def run(b=_Plain(), r=range(1000)):
        for _ in r:
            b.best_bid
    timed("read_plain_attribute", run, 1000)


def test_read_best_bid_ask(timed, book):
    def run(b=book, r=range(1000)):
        for _ in r:
            b.best_bid
            b.best_ask
    timed("read_best_bid_ask", run, 1000)


def test_read_two_plain_attributes(timed):
    def run(b=_Plain(), r=range(1000)):
        for _ in r:
            b.best_bid
            b.best_ask
    timed("read_two_plain_attributes", run, 1000)


def _repeat(fn, *args, n: int = 100):
    """A round of ``n`` calls, so that the timer's own cost does not count per call."""
    r = range(n)

    def run():
        for _ in r:
            fn(*args)
    return run


def test_vwap_10_levels(timed, book):
    vol = float(book.asks(10)[:, 1].sum()) * 0.999
    timed("vwap_10_levels", _repeat(book.get_vwap_for_volume, True, vol), 100)


def test_vwap_100_levels(timed, book):
    vol = float(book.asks(100)[:, 1].sum()) * 0.999
    timed("vwap_100_levels", _repeat(book.get_vwap_for_volume, True, vol), 100)


def test_checksum_okx_25x25(timed, book):
    assert len(book.checksum_text()) > 900
    timed("checksum_okx_25x25", _repeat(book.checksum_okx), 100)


# "Apply a 10-level diff then checksum" against "apply the same diff": both rounds start from the
# same book (a fresh copy per round, made outside the timing, already checksummed once the way a
# tracker that verifies every message has it) and apply the same 100 messages, so the difference
# is exactly what the checksum after each diff costs.  Ratio printed at the end of the run.

def _same_diffs_round(timed, snapshot, name: str, with_checksum: bool) -> None:
    base = OrderBook()
    base.apply_snapshot(snapshot[0], snapshot[1], 1)
    base.checksum_okx()
    msgs = [(m["b"], m["a"], m["u"]) for m in _binance_messages(random.Random(6), 100)]

    def setup():
        b = base.copy()
        b.checksum_okx()
        return (b,), {}

    if with_checksum:
        def run(b):
            apply, ck = b.apply_diffs, b.checksum_okx
            for bids, asks, u in msgs:
                apply(bids, asks, u)
                ck()
    else:
        def run(b):
            apply = b.apply_diffs
            for bids, asks, u in msgs:
                apply(bids, asks, u)
    timed.pedantic(name, run, setup, len(msgs), rounds=200)


def test_apply_same_diffs(timed, snapshot):
    _same_diffs_round(timed, snapshot, "apply_str_diff_10_same_book", False)


def test_apply_same_diffs_then_checksum(timed, snapshot):
    """Checksum right after each message: the kept texts see every changed level."""
    _same_diffs_round(timed, snapshot, "apply_str_diff_10_then_checksum", True)


def test_checksum_kraken_10x10(timed, book):
    timed("checksum_kraken_10x10", _repeat(book.checksum_kraken), 100)


def test_bids_text_25(timed, book):
    timed("bids_text_25", _repeat(book.bids_text, 25), 100)
