"""The order book peer comparison: hbconnect against order-book, nautilus_trader,
sortedcontainers and Hummingbot's Cython ``OrderBook``.

One seeded workload (``hbconnect.commands.bench.make_workload``) -- a snapshot of ``--levels``
levels per side, then ``--updates`` level updates concentrated near the touch (about 30% deletions)
in messages of 1-20 levels given as lists of string pairs, the shape a JSON parser returns -- runs
through hbconnect's ``OrderBook`` and every peer that is installed: bmoscon's ``order-book``,
nautilus_trader's ``OrderBook`` (Rust core), ``sortedcontainers.SortedDict`` and Hummingbot's Cython
``OrderBook`` (``apply_diffs`` with ``OrderBookRow``s, the path its connectors use). Each peer is
driven the fastest way its own API allows. Peers that are not importable are listed as "not
installed" and skipped (benchmarks/README.md: how to install each).

Timings are CPU time of the benchmarking thread (``time.thread_time``), and the workload is cut into
chunks that the peers take in turn, so that a busy machine slows every book alike and the ratios
stay meaningful. Bytes per level come from the RSS growth of a fresh process that builds a book of
``--memory-levels`` levels (tracemalloc cannot see C, C++ or Rust allocations).

    python3 benchmarks/peers.py                     # the full workload: 1,000,000 level updates
    python3 benchmarks/peers.py --updates 100000    # smaller
    python3 benchmarks/peers.py --json              # one JSON document

To add a peer: subclass ``Peer`` below (``load``, ``new_book``, ``native``, ``apply_str``,
``apply_native``, ``top_stmt``, ``vwap_fn``, ``top``, ``memory_build``) and list it in ``PEERS``.
"""
from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import random
import subprocess
import sys
import timeit
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

try:
    import hbconnect._book  # noqa: F401  (installed, or built in place)
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hbconnect.commands.bench import (  # noqa: E402  (the workload is hbconnect's own, written once)
    TICK,
    Workload,
    CLOCK,
    make_workload,
    reference_top,
    top_matches,
    vwap_volume,
)

# ------------------------------------------------------------------------------------ peers

class Peer:
    """One book implementation driven the fastest way its API allows."""
    name = ""
    install = ""

    def available(self) -> Optional[str]:
        """None when importable, else the reason."""
        try:
            self.load()
        except Exception as exc:  # ImportError or a broken build
            return f"not installed ({type(exc).__name__}: {exc})"
        return None

    def load(self) -> None:
        raise NotImplementedError

    def new_book(self, wl: Workload) -> Any:
        raise NotImplementedError

    def native(self, msgs: list) -> list:
        """Messages converted to the peer's own input, ahead of timing."""
        raise NotImplementedError

    # run_* apply a list of messages; *_top also reads best bid and best ask after each message.
    # A peer writes each loop once, in apply_str/apply_native; ``top`` is tested once per message.
    def apply_str(self, book: Any, msgs: list, top: bool) -> None:
        """Apply messages of decimal-text pairs; with ``top`` read best bid and ask after each."""
        raise NotImplementedError

    def apply_native(self, book: Any, msgs: list, top: bool) -> None:
        """As apply_str, for messages already converted by ``native``."""
        raise NotImplementedError

    def run_str(self, book: Any, msgs: list) -> None:
        self.apply_str(book, msgs, False)

    def run_native(self, book: Any, msgs: list) -> None:
        self.apply_native(book, msgs, False)

    def run_str_top(self, book: Any, msgs: list) -> None:
        self.apply_str(book, msgs, True)

    def run_native_top(self, book: Any, msgs: list) -> None:
        self.apply_native(book, msgs, True)

    top_stmt = ""          # one top-of-book (best bid) read of ``book``, for timeit

    def vwap_fn(self, book: Any, volume: float) -> Callable[[], float]:
        raise NotImplementedError

    def top(self, book: Any, depth: int) -> tuple[list, list]:
        raise NotImplementedError

    def memory_build(self, n_levels: int) -> tuple[Any, Optional[int]]:
        """Build a book of ``n_levels`` levels; returns (book, own accounting in bytes or None)."""
        raise NotImplementedError


def _mem_levels(n_levels: int, chunk: int = 10_000):
    """(side, [(price, size), ...]) chunks; each chunk is better than the previous on its side."""
    half = n_levels // 2
    for s in (0, 1):
        for start in range(0, half, chunk):
            stop = min(start + chunk, half)
            if s == 0:   # bids rising
                yield s, [((1_000_000 + i) * TICK, 1.0 + (i % 97) * 0.001) for i in range(start, stop)]
            else:        # asks falling
                yield s, [((4_000_000 - i) * TICK, 1.0 + (i % 89) * 0.001) for i in range(start, stop)]


class HbconnectPeer(Peer):
    name = "hbconnect"
    install = "pip install .   (from this repository)"

    def load(self) -> None:
        import numpy as np

        from hbconnect._book import OrderBook
        self._np, self._OB = np, OrderBook

    def new_book(self, wl: Workload) -> Any:
        b = self._OB()
        b.apply_snapshot(wl.snapshot_bids, wl.snapshot_asks, 1)
        return b

    def native(self, msgs: list) -> list:
        np = self._np
        empty = np.empty((0, 2), dtype=np.float64)

        def arr(levels):
            if not levels:
                return empty
            return np.array([(float(p), float(q)) for p, q in levels], dtype=np.float64)
        return [(arr(b), arr(a)) for b, a in msgs]

    def apply_str(self, book, msgs, top):
        apply = book.apply_diffs
        for uid, (b, a) in enumerate(msgs, 2):
            apply(b, a, uid)
            if top:
                book.best_bid
                book.best_ask

    apply_native = apply_str
    top_stmt = "book.best_bid"

    def vwap_fn(self, book, volume):
        q = book.get_vwap_for_volume
        return lambda: q(True, volume).result_price

    def top(self, book, depth):
        return ([tuple(r) for r in book.bids(depth).tolist()], [tuple(r) for r in book.asks(depth).tolist()])

    def memory_input(self, n_levels):
        """The input arrays, built before the RSS baseline so that only the book's growth counts
        (building them through Python tuples leaves freed pages in the allocator's arenas)."""
        np = self._np
        if os.environ.get("HBCONNECT_BENCH_MEMORY_SNAPSHOT"):   # one snapshot instead of diffs
            return [np.array([lv for s, chunk in _mem_levels(n_levels) if s == k for lv in chunk],
                             dtype=np.float64) for k in (0, 1)]
        return [(s, np.array(chunk, dtype=np.float64)) for s, chunk in _mem_levels(n_levels)]

    def memory_build(self, n_levels, inputs=None):
        np = self._np
        if inputs is None:
            inputs = self.memory_input(n_levels)
        b = self._OB()
        empty = np.empty((0, 2), dtype=np.float64)
        if os.environ.get("HBCONNECT_BENCH_MEMORY_SNAPSHOT"):
            b.apply_snapshot(inputs[0], inputs[1], 1)
            return b, int(b.nbytes)
        for s, arr in inputs:
            b.apply_diffs(arr, empty, 2) if s == 0 else b.apply_diffs(empty, arr, 2)
        return b, int(b.nbytes)


class OrderBookPkgPeer(Peer):
    name = "order-book"
    install = "pip install order-book"

    def load(self) -> None:
        from order_book import OrderBook
        self._OB = OrderBook

    def new_book(self, wl):
        b = self._OB()
        for side, levels in ((b.bids, wl.snapshot_bids), (b.asks, wl.snapshot_asks)):
            for p, q in levels:
                side[float(p)] = float(q)
        return b

    def native(self, msgs):
        return [([(float(p), float(q)) for p, q in b], [(float(p), float(q)) for p, q in a]) for b, a in msgs]

    def apply_str(self, book, msgs, top):
        B, A = book.bids, book.asks
        for b, a in msgs:
            for side, levels in ((B, b), (A, a)):
                for p, q in levels:
                    q = float(q)
                    if q == 0.0:
                        try:
                            del side[float(p)]
                        except KeyError:
                            pass
                    else:
                        side[float(p)] = q
            if top:
                B.index(0)
                A.index(0)

    def apply_native(self, book, msgs, top):
        B, A = book.bids, book.asks
        for b, a in msgs:
            for side, levels in ((B, b), (A, a)):
                for p, q in levels:
                    if q == 0.0:
                        try:
                            del side[p]
                        except KeyError:
                            pass
                    else:
                        side[p] = q
            if top:
                B.index(0)
                A.index(0)

    top_stmt = "book.bids.index(0)"

    def vwap_fn(self, book, volume):
        A = book.asks

        def vwap():
            left, cost, i = volume, 0.0, 0
            while left > 0:
                p, q = A.index(i)
                take = q if q < left else left
                cost += p * take
                left -= take
                i += 1
            return cost / volume
        return vwap

    def top(self, book, depth):
        return ([tuple(book.bids.index(i)) for i in range(depth)], [tuple(book.asks.index(i)) for i in range(depth)])

    def memory_build(self, n_levels):
        b = self._OB()
        for s, chunk in _mem_levels(n_levels):
            side = b.bids if s == 0 else b.asks
            for p, q in chunk:
                side[p] = q
        b.bids.index(0)   # let it sort
        b.asks.index(0)
        return b, None


class SortedContainersPeer(Peer):
    name = "sortedcontainers"
    install = "pip install sortedcontainers"

    def load(self):
        from sortedcontainers import SortedDict
        self._SD = SortedDict

    def new_book(self, wl):
        return (self._SD({float(p): float(q) for p, q in wl.snapshot_bids}),
                self._SD({float(p): float(q) for p, q in wl.snapshot_asks}))

    native = OrderBookPkgPeer.native

    def apply_str(self, book, msgs, top):
        B, A = book
        for b, a in msgs:
            for side, levels in ((B, b), (A, a)):
                for p, q in levels:
                    q = float(q)
                    if q == 0.0:
                        side.pop(float(p), None)
                    else:
                        side[float(p)] = q
            if top:
                B.peekitem(-1)
                A.peekitem(0)

    def apply_native(self, book, msgs, top):
        B, A = book
        for b, a in msgs:
            for side, levels in ((B, b), (A, a)):
                for p, q in levels:
                    if q == 0.0:
                        side.pop(p, None)
                    else:
                        side[p] = q
            if top:
                B.peekitem(-1)
                A.peekitem(0)

    top_stmt = "book[0].peekitem(-1)"

    def vwap_fn(self, book, volume):
        A = book[1]

        def vwap():
            left, cost = volume, 0.0
            for p, q in A.items():
                take = q if q < left else left
                cost += p * take
                left -= take
                if left <= 0:
                    break
            return cost / volume
        return vwap

    def top(self, book, depth):
        B, A = book
        return ([B.peekitem(-1 - i) for i in range(depth)], [A.peekitem(i) for i in range(depth)])

    def memory_build(self, n_levels):
        B, A = self._SD(), self._SD()
        for s, chunk in _mem_levels(n_levels):
            side = B if s == 0 else A
            for p, q in chunk:
                side[p] = q
        return (B, A), None


class NautilusPeer(Peer):
    """nautilus_trader's ``OrderBook`` (L2_MBP): the Cython wrapper of its Rust book. ``update``
    with a zero size deletes the level. Prices and sizes are ``Price``/``Quantity`` at the
    instrument's precision (8 here); ``Price(float(text), 8)`` is its fastest constructor from
    text (``Price.from_str`` costs several times more)."""
    name = "nautilus_trader"
    install = "pip install nautilus_trader"
    PREC = 8

    def load(self):
        from nautilus_trader.model.book import OrderBook
        from nautilus_trader.model.data import BookOrder
        from nautilus_trader.model.enums import BookType, OrderSide
        from nautilus_trader.model.identifiers import InstrumentId
        from nautilus_trader.model.objects import Price, Quantity
        self._OB, self._BO, self._BT, self._OS = OrderBook, BookOrder, BookType, OrderSide
        self._P, self._Q = Price, Quantity
        self._iid = InstrumentId.from_str("BTCUSDT.BINANCE")

    def new_book(self, wl):
        book = self._OB(self._iid, self._BT.L2_MBP)
        for side, levels in ((self._OS.BUY, wl.snapshot_bids), (self._OS.SELL, wl.snapshot_asks)):
            for p, q in levels:
                book.add(self._BO(side, self._P(float(p), 8), self._Q(float(q), 8), 0), 0)
        return book

    def native(self, msgs):
        BO, P, Q, BUY, SELL = self._BO, self._P, self._Q, self._OS.BUY, self._OS.SELL
        return [([BO(BUY, P(float(p), 8), Q(float(q), 8), 0) for p, q in b]
                 + [BO(SELL, P(float(p), 8), Q(float(q), 8), 0) for p, q in a]) for b, a in msgs]

    def apply_str(self, book, msgs, top):
        BO, P, Q, BUY, SELL = self._BO, self._P, self._Q, self._OS.BUY, self._OS.SELL
        upd = book.update
        for b, a in msgs:
            for p, q in b:
                upd(BO(BUY, P(float(p), 8), Q(float(q), 8), 0), 0)
            for p, q in a:
                upd(BO(SELL, P(float(p), 8), Q(float(q), 8), 0), 0)
            if top:
                book.best_bid_price()
                book.best_ask_price()

    def apply_native(self, book, msgs, top):
        upd = book.update
        for orders in msgs:
            for o in orders:
                upd(o, 0)
            if top:
                book.best_bid_price()
                book.best_ask_price()

    top_stmt = "book.best_bid_price()"

    def vwap_fn(self, book, volume):
        q = self._Q(volume, 8)
        f, side = book.get_avg_px_for_quantity, self._OS.BUY
        return lambda: f(q, side)

    def top(self, book, depth):
        def conv(levels):
            return [(lv.price.as_double(), lv.size()) for lv in levels[:depth]]
        return conv(book.bids()), conv(book.asks())

    def memory_build(self, n_levels):
        book = self._OB(self._iid, self._BT.L2_MBP)
        BO, P, Q = self._BO, self._P, self._Q
        for s, chunk in _mem_levels(n_levels):
            side = self._OS.BUY if s == 0 else self._OS.SELL
            for p, q in chunk:
                book.update(BO(side, P(p, 2), Q(q, 3), 0), 0)
        return book, None


class HummingbotPeer(Peer):
    """Hummingbot's Cython ``OrderBook`` (a C++ ``std::set`` per side): ``apply_diffs`` with lists
    of ``OrderBookRow(float(price), float(amount), update_id)``, exactly what its
    ``OrderBookMessage.bids``/``.asks`` build for the tracker."""
    name = "hummingbot"
    install = "see benchmarks/README.md (its order book built from the sdist, on PYTHONPATH)"

    def load(self):
        from hummingbot.core.data_type.order_book import OrderBook
        from hummingbot.core.data_type.order_book_row import OrderBookRow
        self._OB, self._R = OrderBook, OrderBookRow

    def new_book(self, wl):
        R = self._R
        b = self._OB()
        b.apply_snapshot([R(float(p), float(q), 1) for p, q in wl.snapshot_bids],
                         [R(float(p), float(q), 1) for p, q in wl.snapshot_asks], 1)
        return b

    def native(self, msgs):
        R = self._R
        return [([R(float(p), float(q), uid) for p, q in b], [R(float(p), float(q), uid) for p, q in a], uid)
                for uid, (b, a) in enumerate(msgs, 2)]

    def apply_str(self, book, msgs, top):
        R = self._R
        apply, price = book.apply_diffs, book.get_price
        for uid, (b, a) in enumerate(msgs, 2):
            apply([R(float(p), float(q), uid) for p, q in b], [R(float(p), float(q), uid) for p, q in a], uid)
            if top:
                price(False)
                price(True)

    def apply_native(self, book, msgs, top):
        apply, price = book.apply_diffs, book.get_price
        for b, a, uid in msgs:
            apply(b, a, uid)
            if top:
                price(False)
                price(True)

    top_stmt = "book.get_price(False)"

    def vwap_fn(self, book, volume):
        q = book.get_vwap_for_volume
        return lambda: q(True, volume).result_price

    def top(self, book, depth):
        return ([(r.price, r.amount) for r in itertools.islice(book.bid_entries(), depth)],
                [(r.price, r.amount) for r in itertools.islice(book.ask_entries(), depth)])

    def memory_build(self, n_levels):
        R = self._R
        b = self._OB()
        for s, chunk in _mem_levels(n_levels):
            rows = [R(p, q, 2) for p, q in chunk]
            b.apply_diffs(rows, [], 2) if s == 0 else b.apply_diffs([], rows, 2)
        return b, None


PEERS: dict[str, type] = {p.name: p for p in
                          (HbconnectPeer, OrderBookPkgPeer, NautilusPeer, SortedContainersPeer, HummingbotPeer)}


# ------------------------------------------------------------------------------------ measuring

class _Plain:
    def __init__(self) -> None:
        self.best_bid = 26999.99


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: peak RSS is the best we have
        import resource
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def memory_probe(name: str, n_levels: int) -> dict:
    """In this process: RSS growth while building a book of ``n_levels`` levels."""
    peer = PEERS[name]()
    peer.load()
    # A peer that can build its input separately does so before the baseline: the input stays
    # alive through the measurement, so the growth is the built book's (plus what its update
    # calls leave behind), not the transient input's.
    make_input = getattr(peer, "memory_input", None)
    inputs = make_input(n_levels) if make_input is not None else None
    gc.collect()
    before = _rss_bytes()
    book, own = peer.memory_build(n_levels, inputs) if inputs is not None else peer.memory_build(n_levels)
    gc.collect()
    grown = _rss_bytes() - before
    del book, inputs
    return {"rss_bytes_per_level": grown / n_levels,
            "own_bytes_per_level": (own / n_levels) if own is not None else None}


def _memory_in_subprocess(name: str, n_levels: int, timeout: float, snapshot: bool = False) -> dict:
    env = dict(os.environ)
    env.pop("HBCONNECT_BENCH_MEMORY_SNAPSHOT", None)
    if snapshot:
        env["HBCONNECT_BENCH_MEMORY_SNAPSHOT"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parent)] + [p for p in sys.path if p])
    code = ("import json,sys; from peers import memory_probe; "
            f"print(json.dumps(memory_probe({name!r}, {int(n_levels)})))")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                             timeout=timeout, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        return {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}


@dataclass
class PeerResult:
    name: str
    status: str = "ok"
    ns_per_level_str: float = float("nan")
    ns_per_level_native: float = float("nan")
    us_per_msg_top_str: float = float("nan")
    us_per_msg_top_native: float = float("nan")
    ns_per_top_read: float = float("nan")
    us_per_vwap100: float = float("nan")
    vwap_ok: Optional[bool] = None
    ms_snapshot_str: float = float("nan")
    rss_bytes_per_level: Optional[float] = None
    own_bytes_per_level: Optional[float] = None
    rss_bytes_per_level_snapshot: Optional[float] = None     # hbconnect: the book loaded by one snapshot
    own_bytes_per_level_snapshot: Optional[float] = None
    top20_match: Optional[bool] = None
    notes: list = field(default_factory=list)


def _best_timeit(stmt: str, glb: dict, number: int, repeat: int) -> float:
    t = timeit.Timer(stmt, globals=glb, timer=CLOCK)
    return min(t.repeat(repeat=repeat, number=number)) / number


MODES = ("str", "native", "str_top", "native_top")


def run_workload(wl: Workload, names: list, chunks: int = 20, reads: int = 200_000,
                 vwap_queries: int = 5_000, log: Callable[[str], None] = lambda s: None) -> tuple[dict, float]:
    """Time every available peer on ``wl``; returns ({name: PeerResult}, plain attribute read ns)."""
    results: dict[str, PeerResult] = {}
    peers: dict[str, Peer] = {}
    for name in names:
        peer = PEERS[name]()
        why = peer.available()
        if why:
            results[name] = PeerResult(name, status=why)
            log(f"{name}: {why}")
        else:
            peers[name] = peer
            results[name] = PeerResult(name)
    want = reference_top(wl, 20)
    vol, want_vwap = vwap_volume(wl, 100)
    msgs = wl.messages
    bounds = [len(msgs) * i // chunks for i in range(chunks + 1)]
    str_chunks = [msgs[bounds[i]:bounds[i + 1]] for i in range(chunks)]
    books: dict[tuple, Any] = {}
    native_chunks: dict[str, list] = {}
    for name, peer in peers.items():
        log(f"{name}: preparing")
        t0 = CLOCK()
        books[(name, "str")] = peer.new_book(wl)
        results[name].ms_snapshot_str = (CLOCK() - t0) * 1e3
        for mode in MODES[1:]:
            books[(name, mode)] = peer.new_book(wl)
        nat = peer.native(msgs)
        native_chunks[name] = [nat[bounds[i]:bounds[i + 1]] for i in range(chunks)]
        del nat
    spent = {(n, m): 0.0 for n in peers for m in MODES}
    order = list(peers)
    rnd = random.Random(wl.seed)
    for c in range(chunks):
        rnd.shuffle(order)
        for mode in MODES:
            for name in order:
                peer = peers[name]
                run = getattr(peer, "run_" + mode)
                data = native_chunks[name][c] if mode.startswith("native") else str_chunks[c]
                book = books[(name, mode)]
                t0 = CLOCK()
                run(book, data)
                spent[(name, mode)] += CLOCK() - t0
        log(f"chunk {c + 1}/{chunks}")
    native_chunks.clear()
    n_levels, n_msgs = wl.n_updates, wl.n_messages
    for name, peer in peers.items():
        r = results[name]
        r.ns_per_level_str = spent[(name, "str")] / n_levels * 1e9
        r.ns_per_level_native = spent[(name, "native")] / n_levels * 1e9
        r.us_per_msg_top_str = spent[(name, "str_top")] / n_msgs * 1e6
        r.us_per_msg_top_native = spent[(name, "native_top")] / n_msgs * 1e6
        r.top20_match = all(top_matches(peer.top(books[(name, m)], 20), want) for m in MODES)
    # top-of-book reads and VWAP, peers in turn, best of 5
    plain = _Plain()
    reads_ns: dict[str, float] = {n: float("inf") for n in peers}
    vwap_us: dict[str, float] = {n: float("inf") for n in peers}
    plain_ns = float("inf")
    vwaps = {n: peers[n].vwap_fn(books[(n, "str")], vol) for n in peers}
    for _ in range(5):
        plain_ns = min(plain_ns, _best_timeit("book.best_bid", {"book": plain}, reads, 1) * 1e9)
        for name, peer in peers.items():
            glb = {"book": books[(name, "str")]}
            reads_ns[name] = min(reads_ns[name], _best_timeit(peer.top_stmt, glb, reads, 1) * 1e9)
            vwap_us[name] = min(vwap_us[name], _best_timeit("f()", {"f": vwaps[name]}, vwap_queries, 1) * 1e6)
    for name in peers:
        r = results[name]
        r.ns_per_top_read = reads_ns[name]
        r.us_per_vwap100 = vwap_us[name]
        got = vwaps[name]()
        r.vwap_ok = math.isclose(got, want_vwap, rel_tol=1e-9)
    return results, plain_ns


# ------------------------------------------------------------------------------------ report

COLUMNS = (
    ("ns_per_level_str", "ns/level (str)", "{:.0f}"),
    ("ns_per_level_native", "ns/level (pre-conv)", "{:.0f}"),
    ("us_per_msg_top_str", "us/msg+top (str)", "{:.2f}"),
    ("us_per_msg_top_native", "us/msg+top (pre-conv)", "{:.2f}"),
    ("ns_per_top_read", "ns/top read", "{:.1f}"),
    ("us_per_vwap100", "us/VWAP100", "{:.2f}"),
    ("rss_bytes_per_level", "B/level (RSS)", "{:.1f}"),
    ("top20_match", "top20 ok", "{}"),
)
RATIO_KEYS = ("ns_per_level_str", "ns_per_level_native", "us_per_msg_top_str", "us_per_msg_top_native",
              "ns_per_top_read", "us_per_vwap100", "rss_bytes_per_level")


def _fmt(v: Any, f: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f.format(v)


def ratios(results: dict) -> dict:
    """peer value / hbconnect value for each timing and memory column (> 1: hbconnect better)."""
    hb = results.get("hbconnect")
    out: dict = {}
    if not hb or hb.status != "ok":
        return out
    for name, r in results.items():
        if name == "hbconnect" or r.status != "ok":
            continue
        out[name] = {}
        for k in RATIO_KEYS:
            a, b = getattr(r, k), getattr(hb, k)
            out[name][k] = (a / b) if (a is not None and b and not math.isnan(a) and not math.isnan(b)) else None
    return out


def targets(results: dict, plain_ns: float) -> list:
    """The issue's targets as (description, measured, passed)."""
    hb = results.get("hbconnect")
    peers = [r for n, r in results.items() if n != "hbconnect" and r.status == "ok"]
    out = []
    if not hb or hb.status != "ok":
        return out

    def fastest(key):
        vals = [getattr(r, key) for r in peers if not math.isnan(getattr(r, key))]
        return min(vals) if vals else None

    f = fastest("ns_per_level_native")
    if f:
        out.append(("level updates from float arrays >= 2x the fastest peer", f / hb.ns_per_level_native,
                    f / hb.ns_per_level_native >= 2))
    f = fastest("ns_per_level_str")
    if f:
        out.append(("level updates from JSON string pairs >= 3x every peer", f / hb.ns_per_level_str,
                    f / hb.ns_per_level_str >= 3))
    for key, label in (("us_per_msg_top_native", "pre-converted"), ("us_per_msg_top_str", "string pairs")):
        f = fastest(key)
        if f:
            out.append((f"message + top read ({label}) >= 3x the fastest peer", f / getattr(hb, key),
                        f / getattr(hb, key) >= 3))
    out.append(("top-of-book read <= 1.5x a plain attribute read", hb.ns_per_top_read / plain_ns,
                hb.ns_per_top_read / plain_ns <= 1.5))
    nt = results.get("nautilus_trader")
    if nt and nt.status == "ok":
        out.append(("VWAP 100 deep >= 3x nautilus_trader", nt.us_per_vwap100 / hb.us_per_vwap100,
                    nt.us_per_vwap100 / hb.us_per_vwap100 >= 3))
    for how, own, rss in (("grown by diffs", hb.own_bytes_per_level, hb.rss_bytes_per_level),
                          ("one snapshot", hb.own_bytes_per_level_snapshot, hb.rss_bytes_per_level_snapshot)):
        if own is not None:
            out.append((f"<= 48 bytes per level, {how} (own accounting)", own, own <= 48))
        if rss is not None:
            out.append((f"<= 48 bytes per level, {how} (RSS growth)", rss, rss <= 48))
    return out


def format_report(doc: dict, results: dict, plain_ns: float) -> str:
    cfg = doc["workload"]
    lines = [
        f"workload: snapshot {cfg['levels']} levels/side, {cfg['updates']:,} level updates "
        f"({cfg['deletes']:,} deletions, {cfg['delete_share']:.1%}) in {cfg['messages']:,} messages "
        f"of 1-20 levels (mean {cfg['levels_per_message']:.1f}), seed {cfg['seed']}",
        f"timer: CPU time of the benchmark thread; peers interleaved over {doc['chunks']} chunks",
        "",
    ]
    head = ["peer"] + [c[1] for c in COLUMNS]
    rows = []
    for name, r in results.items():
        if r.status != "ok":
            rows.append([name, r.status.split(" (")[0]] + [""] * (len(COLUMNS) - 1))
            continue
        rows.append([name] + [_fmt(getattr(r, k), f) for k, _, f in COLUMNS])
    rows.append(["(plain attribute)", "", "", "", "", _fmt(plain_ns, "{:.1f}"), "", "", ""])
    lines += _table(head, rows)
    rt = ratios(results)
    if rt:
        lines += ["", "ratio peer / hbconnect (higher = hbconnect faster or smaller):"]
        head2 = ["peer"] + [c[1] for c in COLUMNS if c[0] in RATIO_KEYS]
        rows2 = [[n] + [_fmt(v.get(k), "{:.1f}x") for k in RATIO_KEYS] for n, v in rt.items()]
        lines += _table(head2, rows2)
    hb = results.get("hbconnect")
    if hb and hb.own_bytes_per_level is not None:
        lines.append(f"\nhbconnect bytes per level, {doc['memory_levels']:,} levels grown by diff messages: "
                     f"own accounting (nbytes) {hb.own_bytes_per_level:.1f}, RSS growth {hb.rss_bytes_per_level:.1f}")
    if hb and hb.own_bytes_per_level_snapshot is not None:
        lines.append(f"hbconnect bytes per level, {doc['memory_levels']:,} levels loaded by one snapshot: "
                     f"own accounting (nbytes) {hb.own_bytes_per_level_snapshot:.1f}, "
                     f"RSS growth {hb.rss_bytes_per_level_snapshot:.1f}")
    lines.append("(peers: RSS growth of a fresh process building the same levels, via their own update calls)")
    tg = targets(results, plain_ns)
    if tg:
        installed = [n for n, r in results.items() if n != "hbconnect" and r.status == "ok"]
        lines += ["", f"targets (issue 2), against the peers measured here ({', '.join(installed) or 'none'}):"]
        for desc, val, ok in tg:
            lines.append(f"  [{'PASS' if ok else 'FAIL'}] {desc}: {val:.2f}")
    for name, r in results.items():
        if r.status != "ok":
            lines.append(f"{name}: {r.status}; install: {PEERS[name].install}")
        for note in r.notes:
            lines.append(f"note: {name}: {note}")
        if r.status == "ok" and r.vwap_ok is False:
            lines.append(f"note: {name} VWAP differs from the reference")
    return "\n".join(lines)


def _table(head: list, rows: list) -> list:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    out = ["  ".join(str(h).ljust(w) if i == 0 else str(h).rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    out.append("  ".join("-" * w for w in widths))
    for row in rows:
        out.append("  ".join(str(x).ljust(w) if i == 0 else str(x).rjust(w)
                             for i, (x, w) in enumerate(zip(row, widths))))
    return out


# ------------------------------------------------------------------------------------ command

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--updates", type=int, default=1_000_000, help="level updates (default 1,000,000)")
    parser.add_argument("--levels", type=int, default=5_000, help="snapshot levels per side (default 5,000)")
    parser.add_argument("--seed", type=int, default=7, help="workload seed (default 7)")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help=f"comma-separated subset of: {', '.join(PEERS)} (default all)")
    parser.add_argument("--chunks", type=int, default=20, help="interleaving chunks (default 20)")
    parser.add_argument("--reads", type=int, default=200_000, help="top-of-book reads per timing (default 200,000)")
    parser.add_argument("--vwap-queries", type=int, default=5_000, help="VWAP queries per timing (default 5,000)")
    parser.add_argument("--memory-levels", type=int, default=1_000_000,
                        help="levels of the RSS-growth book, 0 to skip (default 1,000,000)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--save", metavar="FILE", help="also write the JSON document to FILE")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.peers.split(",") if n.strip()]
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        print(f"peers.py: unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}",
              file=sys.stderr)
        return 2
    if args.updates < 1 or args.levels < 100:
        print("peers.py: --updates must be >= 1 and --levels >= 100", file=sys.stderr)
        return 2

    def log(msg: str) -> None:
        if not args.quiet:
            print(f"[bench] {msg}", file=sys.stderr, flush=True)

    log(f"building workload: {args.updates:,} updates, {args.levels} levels/side, seed {args.seed}")
    wl = make_workload(args.updates, args.levels, args.seed)
    results, plain_ns = run_workload(wl, names, chunks=max(1, min(args.chunks, wl.n_messages)),
                                     reads=args.reads, vwap_queries=args.vwap_queries, log=log)
    if args.memory_levels > 0:
        for name, r in results.items():
            if r.status != "ok":
                continue
            log(f"{name}: RSS growth for {args.memory_levels:,} levels")
            m = _memory_in_subprocess(name, args.memory_levels, timeout=600)
            if "error" in m:
                r.notes.append("memory probe failed: " + m["error"])
            else:
                r.rss_bytes_per_level = m["rss_bytes_per_level"]
                r.own_bytes_per_level = m["own_bytes_per_level"]
            if name == "hbconnect":
                m = _memory_in_subprocess(name, args.memory_levels, timeout=600, snapshot=True)
                if "error" not in m:
                    r.rss_bytes_per_level_snapshot = m["rss_bytes_per_level"]
                    r.own_bytes_per_level_snapshot = m["own_bytes_per_level"]
    versions = _versions(results)
    doc = {
        "workload": {"levels": args.levels, "updates": wl.n_updates, "deletes": wl.n_deletes,
                     "delete_share": wl.n_deletes / wl.n_updates, "messages": wl.n_messages,
                     "levels_per_message": wl.n_updates / wl.n_messages, "seed": wl.seed},
        "chunks": max(1, min(args.chunks, wl.n_messages)),
        "memory_levels": args.memory_levels,
        "timer": "thread CPU time",
        "python": sys.version.split()[0],
        "plain_attribute_read_ns": plain_ns,
        "peers": {n: {**r.__dict__, "version": versions.get(n)} for n, r in results.items()},
        "ratios_vs_hbconnect": ratios(results),
        "targets": [{"target": d, "value": v, "pass": ok} for d, v, ok in targets(results, plain_ns)],
    }
    if args.save:
        with open(args.save, "w") as f:
            json.dump(_clean(doc), f, indent=2, allow_nan=False)
    if args.json:
        print(json.dumps(_clean(doc), indent=2, allow_nan=False))
    else:
        print(format_report(doc, results, plain_ns))
    hb = results.get("hbconnect")
    return 1 if hb is not None and hb.status == "ok" and not hb.top20_match else 0


def _clean(v: Any) -> Any:
    """NaN/inf -> None, so that the output is strict JSON."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _versions(results: dict) -> dict:
    from importlib import metadata
    dist = {"hbconnect": "hbconnect", "order-book": "order-book", "nautilus_trader": "nautilus_trader",
            "sortedcontainers": "sortedcontainers", "hummingbot": "hummingbot"}
    out = {}
    for name, r in results.items():
        if r.status != "ok":
            continue
        try:
            out[name] = metadata.version(dist[name])
        except Exception:  # not a distribution (built in place / from an sdist tree)
            if name == "hbconnect":
                import hbconnect
                out[name] = hbconnect.__version__
            elif name == "hummingbot":
                out[name] = _hummingbot_version()
    return out


def _hummingbot_version() -> Optional[str]:
    try:
        import hummingbot
        path = os.path.join(os.path.dirname(hummingbot.__file__), "VERSION")
        with open(path) as f:
            return f.read().strip() + " (built from sdist)"
    except (ImportError, OSError):
        return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="peers.py", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
