"""Property tests: the compiled OrderBook against the pure-Python reference model."""
from __future__ import annotations

import random
import zlib
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbconnect._book import OrderBook
from tests.book_reference import RefBook, RefError, assert_same_book, same_float, state

QUERIES = ("get_price_for_volume", "get_vwap_for_volume", "get_price_for_quote_volume",
           "get_quote_volume_for_base_amount", "get_volume_for_price", "get_quote_volume_for_price")

# Price ticks from ordinary to extreme: tiny and huge values go through the verbatim-text fallback.
TICKS = [Decimal("0.01"), Decimal("0.00000100"), Decimal("1"), Decimal("1000"), Decimal("0.5"),
         Decimal("1E-250"), Decimal("1E+250"), Decimal("0.123456789012345678")]
FORMS = ("str", "str", "str", "bytes", "float", "int", "decimal", "tuple3", "kraken_r")


def _text(d: Decimal, extra_zeros: int) -> str:
    t = format(d, "f")
    if extra_zeros:
        t = t + ("" if "." in t else ".") + "0" * extra_zeros
    return t


@st.composite
def side(draw, tick: Decimal, max_levels: int = 10, allow_zero: bool = True):
    n = draw(st.integers(0, max_levels))
    whole_numpy = draw(st.integers(0, 9)) == 0
    rows = []
    for _ in range(n):
        k = draw(st.integers(1, 40))
        size_units = draw(st.integers(0 if allow_zero else 1, 6))
        size = Decimal(size_units) * draw(st.sampled_from([Decimal("0.25"), Decimal("1"), Decimal("0.00000001")]))
        ptext = _text(Decimal(k) * tick, draw(st.integers(0, 2)))
        stext = _text(size, draw(st.integers(0, 3)))
        form = draw(st.sampled_from(FORMS))
        if form == "bytes":
            rows.append([ptext.encode(), stext.encode()])
        elif form == "float":
            rows.append((float(Decimal(ptext)), float(Decimal(stext))))
        elif form == "int":
            dp, ds = Decimal(ptext), Decimal(stext)
            rows.append([int(dp) if dp == dp.to_integral_value() else ptext,
                         int(ds) if ds == ds.to_integral_value() else stext])
        elif form == "decimal":
            rows.append([Decimal(ptext), Decimal(stext)])
        elif form == "tuple3":
            rows.append((ptext, stext, "1618678123.481570"))
        elif form == "kraken_r":
            rows.append([ptext, stext, "1618678123.481570", "r"])
        else:
            rows.append([ptext, stext])
    if whole_numpy:
        return np.array([[float(Decimal(r[0] if not isinstance(r[0], bytes) else r[0].decode())),
                          float(Decimal(r[1] if not isinstance(r[1], bytes) else r[1].decode()))]
                         for r in rows], dtype=np.float64).reshape(-1, 2)
    return rows


@st.composite
def operations(draw):
    tick = draw(st.sampled_from(TICKS))
    ops = []
    for uid in range(1, draw(st.integers(1, 12)) + 1):
        kind = draw(st.sampled_from(["snapshot", "diff", "diff", "diff", "diff", "truncate", "query"]))
        if kind == "snapshot":
            bids = draw(side(tick, 12))
            asks = draw(side(tick, 12))
            ops.append(("snapshot", bids, asks, uid))
        elif kind == "diff":
            ops.append(("diff", draw(side(tick)), draw(side(tick)), uid))
        elif kind == "truncate":
            ops.append(("truncate", draw(st.integers(0, 8))))
        else:
            ops.append(("query", draw(st.sampled_from(QUERIES)), draw(st.booleans()),
                        draw(st.floats(0, 1e6, allow_nan=False)) if tick >= 1 else
                        float(Decimal(draw(st.integers(0, 60))) * tick)))
    return ops


def _run(ops) -> None:
    book, ref = OrderBook(), RefBook()
    for op in ops:
        if op[0] in ("snapshot", "diff"):
            _, bids, asks, uid = op
            apply_ref = ref.apply_snapshot if op[0] == "snapshot" else ref.apply_diffs
            apply_book = book.apply_snapshot if op[0] == "snapshot" else book.apply_diffs
            try:
                apply_ref(bids, asks, uid)
            except RefError:
                before = state(book)
                with pytest.raises(ValueError):
                    apply_book(bids, asks, uid)
                assert state(book) == before
            else:
                apply_book(bids, asks, uid)
        elif op[0] == "truncate":
            ref.truncate(op[1])
            book.truncate(op[1])
        else:
            _, name, is_buy, x = op
            got = tuple(getattr(book, name)(is_buy, x))
            want = ref.query(name, is_buy, x)
            assert all(same_float(g, w) for g, w in zip(got, want)), (name, is_buy, x, got, want)
        assert_same_book(book, ref)
        # the book is never crossed
        assert not (book.bid_depth and book.ask_depth and book.best_bid >= book.best_ask)
        # checksums after every step (the texts kept between checksums must follow every change)
        assert book.checksum_okx() == ref.okx_checksum()
        assert book.checksum_kraken() == ref.kraken_checksum()
    assert book.checksum_text() == ref.okx_string()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(operations())
def test_matches_reference(ops):
    _run(ops)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.integers(0, 3)), max_size=40),
       st.lists(st.tuples(st.integers(1, 30), st.integers(0, 3)), max_size=40))
def test_duplicates_and_crossing_in_one_batch(bids, asks):
    """Same price many times in one batch, crossing prices across sides: last wins, asks win."""
    b = [[f"{p}.0", f"{s}"] for p, s in bids]
    a = [[f"{p}.0", f"{s}"] for p, s in asks]
    book, ref = OrderBook(), RefBook()
    book.apply_diffs(b, a, 7)
    ref.apply_diffs(b, a, 7)
    assert_same_book(book, ref)
    # and as a second batch on top of an existing book
    book.apply_diffs(a[::-1], b[::-1], 8)
    ref.apply_diffs(a[::-1], b[::-1], 8)
    assert_same_book(book, ref)


@pytest.mark.parametrize("seed", [1, 2])
def test_thousands_of_levels(seed):
    """5,000 levels a side and 400 near-touch messages of 1-20 updates, ~30% deletions."""
    rng = random.Random(seed)
    mid = 50_000
    bids = [[f"{(mid - 1 - i) / 100:.2f}", f"{rng.randint(1, 10**6) / 10**4:.4f}"] for i in range(5000)]
    asks = [[f"{(mid + 1 + i) / 100:.2f}", f"{rng.randint(1, 10**6) / 10**4:.4f}"] for i in range(5000)]
    book, ref = OrderBook(), RefBook()
    book.apply_snapshot(bids, asks, 1)
    ref.apply_snapshot(bids, asks, 1)
    assert_same_book(book, ref)
    for uid in range(2, 402):
        msg_b, msg_a = [], []
        for _ in range(rng.randint(1, 20)):
            dist = int(abs(rng.gauss(0, 30)))
            size = "0" if rng.random() < 0.3 else f"{rng.randint(1, 10**6) / 10**4:.4f}"
            if rng.random() < 0.5:
                msg_b.append([f"{(mid - 1 - dist) / 100:.2f}", size])
            else:
                msg_a.append([f"{(mid + 1 + dist) / 100:.2f}", size])
        book.apply_diffs(msg_b, msg_a, uid)
        ref.apply_diffs(msg_b, msg_a, uid)
        if uid % 10 == 0:
            # 2 x 200 levels in view: most are beyond the 32 per side whose texts are kept
            assert book.checksum_okx() == ref.okx_checksum()
            assert book.checksum(200, "bids_asks", "|") == zlib.crc32(
                "|".join(t for p in ref.texts(True)[:200] + ref.texts(False)[:200] for t in p).encode())
        if uid % 100 == 0:
            assert_same_book(book, ref)
            for name in QUERIES:
                for is_buy in (True, False):
                    x = rng.uniform(0, 5000) if "price" not in name.split("_for_")[-1] else \
                        (book.best_ask + 1 if is_buy else book.best_bid - 1)
                    got = tuple(getattr(book, name)(is_buy, x))
                    assert all(same_float(g, w, 1e-9) for g, w in zip(got, ref.query(name, is_buy, x)))
    assert_same_book(book, ref)
    assert book.checksum_okx() == ref.okx_checksum()
