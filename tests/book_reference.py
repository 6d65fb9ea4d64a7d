"""A small pure-Python order book with the semantics hbconnect._book.OrderBook promises.

Written for clarity, not speed: dictionaries keyed by the float price, sorted on every read.  The
property tests drive it and the compiled book with the same operations and compare everything.
"""
from __future__ import annotations

import math
import zlib
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

import numpy as np

NaN = float("nan")


class RefError(ValueError):
    pass


def float_text(v: float) -> str:
    r = repr(v)
    if "e" in r or "E" in r:
        r = format(Decimal(r), "f")
    return r


def parse_value(o: Any) -> tuple[float, str]:
    """(value, exact text) of one price or size, or RefError."""
    if isinstance(o, (bytes, bytearray)):
        try:
            o = bytes(o).decode("ascii")
        except UnicodeDecodeError:
            raise RefError("not ascii") from None
    if isinstance(o, str):
        t = o.strip()
        if not t or "_" in t or not t.isascii():
            raise RefError("empty or underscore")
        try:
            d = Decimal(t)
        except InvalidOperation:
            raise RefError("unparsable") from None
        return _from_decimal(d), t
    if isinstance(o, bool):
        raise RefError("bool")
    if isinstance(o, float):
        _check(o)
        return o + 0.0, float_text(o)
    if isinstance(o, int):
        if o < 0:
            raise RefError("negative")
        try:
            return float(o), str(o)
        except OverflowError:
            raise RefError("too large") from None
    if isinstance(o, Decimal):
        if not o.is_finite():
            raise RefError("not finite")
        t = format(o, "f")
        return _from_decimal(o), t
    if isinstance(o, (np.integer,)):
        return parse_value(int(o))
    if isinstance(o, (np.floating,)):
        return parse_value(float(o))
    raise RefError(f"unsupported {type(o).__name__}")


def _from_decimal(d: Decimal) -> float:
    if not d.is_finite():
        raise RefError("not finite")
    if d.is_signed() and d != 0:
        raise RefError("negative")
    v = float(d)
    if math.isinf(v):
        raise RefError("out of range")
    return v + 0.0


def _check(v: float) -> None:
    if math.isnan(v) or math.isinf(v) or v < 0:
        raise RefError("bad float")


def parse_side(data: Any) -> list[tuple[float, float, str, str]]:
    if data is None:
        return []
    if isinstance(data, np.ndarray):
        arr = np.asarray(data, dtype=np.float64)
        if arr.size == 0:
            return []
        if arr.ndim != 2 or arr.shape[1] < 2:
            raise RefError("shape")
        out = []
        for p, s in arr[:, :2].tolist():
            _check(p)
            _check(s)
            out.append((p + 0.0, s + 0.0, float_text(p), float_text(s)))
        return out
    out = []
    for pair in data:
        if isinstance(pair, (str, bytes, dict)) or not hasattr(pair, "__len__") or len(pair) < 2:
            raise RefError("arity")
        p, pt = parse_value(pair[0])
        s, st = parse_value(pair[1])
        out.append((p, s, pt, st))
    return out


class RefBook:
    def __init__(self) -> None:
        self.bids: dict[float, tuple[float, str, str, int]] = {}
        self.asks: dict[float, tuple[float, str, str, int]] = {}
        self.snapshot_uid = 0
        self.last_diff_uid = 0

    # --- updates
    def apply_snapshot(self, bids: Any, asks: Any, uid: int) -> None:
        pb = parse_side(bids)
        pa = parse_side(asks)
        nb: dict = {}
        na: dict = {}
        for side, parsed in ((nb, pb), (na, pa)):
            for p, s, pt, st in parsed:
                side[p] = (s, pt, st, uid)
            for p in [p for p, v in side.items() if v[0] == 0]:
                del side[p]
        if nb and na and max(nb) >= min(na):
            raise RefError("crossed snapshot")
        self.bids, self.asks = nb, na
        self.snapshot_uid = uid

    def apply_diffs(self, bids: Any, asks: Any, uid: int) -> None:
        pb = parse_side(bids)
        pa = parse_side(asks)
        for p, s, pt, st in pb:
            if s > 0:
                self.bids[p] = (s, pt, st, uid)
            else:
                self.bids.pop(p, None)
        if self.bids:
            bb = max(self.bids)
            for p in [p for p in self.asks if p <= bb]:
                del self.asks[p]
        for p, s, pt, st in pa:
            if s > 0:
                self.asks[p] = (s, pt, st, uid)
            else:
                self.asks.pop(p, None)
        if self.asks:
            ba = min(self.asks)
            for p in [p for p in self.bids if p >= ba]:
                del self.bids[p]
        self.last_diff_uid = uid

    def truncate(self, depth: int) -> None:
        self.bids = dict(self.sorted_bids()[:depth])
        self.asks = dict(self.sorted_asks()[:depth])

    # --- reads
    def sorted_bids(self) -> list:
        return sorted(self.bids.items(), key=lambda kv: -kv[0])

    def sorted_asks(self) -> list:
        return sorted(self.asks.items(), key=lambda kv: kv[0])

    def levels(self, is_bid: bool) -> list[tuple[float, float]]:
        items = self.sorted_bids() if is_bid else self.sorted_asks()
        return [(p, v[0]) for p, v in items]

    def texts(self, is_bid: bool) -> list[tuple[str, str]]:
        items = self.sorted_bids() if is_bid else self.sorted_asks()
        return [(v[1], v[2]) for _, v in items]

    def entries(self, is_bid: bool) -> list[tuple[float, float, int]]:
        items = self.sorted_bids() if is_bid else self.sorted_asks()
        return [(p, v[0], v[3]) for p, v in items]

    @property
    def best_bid(self) -> float:
        return max(self.bids) if self.bids else NaN

    @property
    def best_ask(self) -> float:
        return min(self.asks) if self.asks else NaN

    # --- Hummingbot queries, written the way Hummingbot's order_book.pyx states them
    def query(self, name: str, is_buy: bool, x: float) -> tuple[float, float, float, float]:
        rows = self.levels(not is_buy)
        if name == "get_price_for_volume":
            cum, res = 0.0, NaN
            for p, s in rows:
                cum += s
                if cum >= x:
                    res = p
                    break
            return NaN, x, res, min(cum, x)
        if name == "get_vwap_for_volume":
            cost, vol, res = 0.0, 0.0, NaN
            for p, s in rows:
                if vol + s >= x:
                    inc = x - vol
                    cost += inc * p
                    vol += inc
                    res = cost / vol if vol else NaN
                    break
                cost += s * p
                vol += s
            return NaN, x, res, min(vol, x)
        if name == "get_price_for_quote_volume":
            cum, res = 0.0, NaN
            for p, s in rows:
                cum += s * p
                if cum >= x:
                    res = p
                    break
            return NaN, x, res, min(cum, x)
        if name == "get_quote_volume_for_base_amount":
            base, quote = 0.0, 0.0
            for p, s in rows:
                amt = s
                if amt + base >= x:
                    amt = x - base
                base += amt
                quote += amt * p
                if base >= x:
                    break
            return NaN, x, NaN, quote
        if name in ("get_volume_for_price", "get_quote_volume_for_price"):
            cum, res = 0.0, NaN
            for p, s in rows:
                if (is_buy and p > x) or (not is_buy and p < x):
                    break
                cum += s * p if name == "get_quote_volume_for_price" else s
                res = p
            return x, NaN, res, cum
        raise KeyError(name)

    # --- checksum pre-images, straight from the venues' descriptions
    def okx_string(self, depth: int = 25) -> str:
        b = self.texts(True)[:depth]
        a = self.texts(False)[:depth]
        parts: list[str] = []
        for i in range(max(len(b), len(a))):
            if i < len(b):
                parts += list(b[i])
            if i < len(a):
                parts += list(a[i])
        return ":".join(parts)

    def kraken_string(self, depth: int = 10) -> str:
        def f(t: str) -> str:
            return t.replace(".", "").lstrip("0")
        return "".join(f(p) + f(s) for p, s in self.texts(False)[:depth] + self.texts(True)[:depth])

    def okx_checksum(self, depth: int = 25) -> int:
        c = zlib.crc32(self.okx_string(depth).encode())
        return c - (1 << 32) if c >= 1 << 31 else c

    def kraken_checksum(self, depth: int = 10) -> int:
        return zlib.crc32(self.kraken_string(depth).encode())


def same_float(a: float, b: float, rel: float = 1e-12) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=rel, abs_tol=1e-300)


def assert_same_book(book: Any, ref: RefBook) -> None:
    assert book.bids_text() == ref.texts(True)
    assert book.asks_text() == ref.texts(False)
    assert book.bids().tolist() == [list(x) for x in ref.levels(True)]
    assert book.asks().tolist() == [list(x) for x in ref.levels(False)]
    assert [tuple(r) for r in book.bid_entries()] == ref.entries(True)
    assert [tuple(r) for r in book.ask_entries()] == ref.entries(False)
    assert book.bid_depth == len(ref.bids) and book.ask_depth == len(ref.asks)
    assert same_float(book.best_bid, ref.best_bid) and same_float(book.best_ask, ref.best_ask)
    assert book.snapshot_uid == ref.snapshot_uid and book.last_diff_uid == ref.last_diff_uid


def state(book: Any) -> tuple:
    """Everything observable about a book, for before/after comparisons."""
    return (book.bids_text(), book.asks_text(), book.bids().tolist(), book.asks().tolist(),
            [tuple(r) for r in book.bid_entries()], [tuple(r) for r in book.ask_entries()],
            book.snapshot_uid, book.last_diff_uid, repr(book))


def iter_forms() -> Iterable[str]:
    return ("str", "bytes", "float", "int", "decimal", "numpy", "tuple3")
