"""``hbconnect bench``: hbconnect's own speed benchmarks, runnable from an installed wheel.

One seeded workload -- a snapshot of ``--levels`` levels per side, then ``--updates`` level updates
concentrated near the touch (about 30% deletions) in messages of 1-20 levels given as lists of
string pairs, the shape a JSON parser returns -- goes through ``hbconnect.OrderBook``:

* level updates from string pairs and from pre-converted float arrays (ns per level);
* a message followed by a top-of-book read (us per message), a top-of-book read against a plain
  attribute read, a 100-level VWAP, an OKX 25+25 checksum;
* the frame path: the same messages as Binance combined-stream ``depthUpdate`` frames, through the
  Binance venue module and the tracker's ``feed`` with every sequence check (us per frame).

The book after the workload must equal a plain-dict reference (exit 1 otherwise). Timings are CPU
time of this thread, so a loaded machine slows them less than wall time would.

The comparison against other order books (order-book, nautilus_trader, sortedcontainers,
Hummingbot) and Hummingbot's/cryptofeed's message pipelines lives in the repository, not in the
package: ``python3 benchmarks/peers.py`` and ``python3 benchmarks/message_path.py``;
benchmarks/README.md says how to install the peers and how to add one.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import timeit
from dataclasses import dataclass
from typing import Any, Optional

TICK = 0.01
MID_TICK = 2_700_000          # 27000.00: prices are MID_TICK -/+ offset ticks
SPAN = 6_000                  # offsets 1..SPAN on each side
DELETE_SHARE = 0.30
TOUCH_SCALE = 30.0            # mean offset (ticks) of the updates: concentrated near the touch
ZERO = "0.00000000"
CLOCK = time.thread_time    # CPU time of this thread: robust on a shared, loaded machine


# ------------------------------------------------------------------------------------ workload

def price_text(tick: int) -> str:
    """Binance-style price text of a tick (8 decimals)."""
    return f"{tick // 100}.{tick % 100:02d}000000"


def size_text(units: int) -> str:
    """Binance-style size text of ``units`` of 1e-5."""
    return f"{units // 100_000}.{units % 100_000:05d}000"


@dataclass
class Workload:
    """A snapshot and a list of diff messages, all as lists of [price, size] string pairs."""
    snapshot_bids: list
    snapshot_asks: list
    messages: list                   # [(bids, asks), ...]
    seed: int
    n_updates: int
    n_deletes: int

    @property
    def n_messages(self) -> int:
        return len(self.messages)


def make_workload(n_updates: int = 1_000_000, levels: int = 5_000, seed: int = 7) -> Workload:
    """The seeded workload (pure Python ``random``: identical on every machine).

    Bids sit below a fixed mid and asks above it, so no update crosses the book and every peer
    (whatever its crossing rule) must end in the same state. Updates pick an offset from the mid
    with an exponential law (mean ``TOUCH_SCALE`` ticks); deletions remove an existing level at or
    next to that offset, so the touch moves as levels near it come and go.
    """
    rng = random.Random(seed)
    span = max(SPAN, levels + levels // 5)
    live = [set(rng.sample(range(1, span + 1), levels)) for _ in (0, 1)]   # offsets, bids / asks

    def side_levels(s: int) -> list:
        offs = sorted(live[s])
        out = []
        for k in offs:
            tick = MID_TICK - k if s == 0 else MID_TICK + k
            out.append([price_text(tick), size_text(rng.randint(1, 5_000_000))])
        return out

    snap_bids, snap_asks = side_levels(0), side_levels(1)
    messages = []
    done = deletes = 0
    expo = rng.expovariate
    while done < n_updates:
        n = min(rng.randint(1, 20), n_updates - done)
        used: tuple[set, set] = (set(), set())
        out: tuple[list, list] = ([], [])
        for _ in range(n):
            s = 0 if rng.random() < 0.5 else 1
            k = min(1 + int(expo(1.0 / TOUCH_SCALE)), span)
            if rng.random() < DELETE_SHARE and len(live[s]) > 1:
                k = _nearest_live(live[s], used[s], k, span)
                if k is None:
                    continue
                live[s].discard(k)
                size = ZERO
                deletes += 1
            else:
                while k in used[s]:
                    k = k + 1 if k < span else 1
                live[s].add(k)
                size = size_text(rng.randint(1, 5_000_000))
            used[s].add(k)
            tick = MID_TICK - k if s == 0 else MID_TICK + k
            out[s].append([price_text(tick), size])
            done += 1
        messages.append(out)
    return Workload(snap_bids, snap_asks, messages, seed, done, deletes)


def _nearest_live(live: set, used: set, k: int, span: int) -> Optional[int]:
    for d in range(span):
        for c in (k + d, k - d):
            if 1 <= c <= span and c in live and c not in used:
                return c
    return None


def reference_book(wl: Workload) -> tuple[dict, dict]:
    """The plain-dict reference: price -> size per side after the whole workload."""
    bids = {float(p): float(q) for p, q in wl.snapshot_bids}
    asks = {float(p): float(q) for p, q in wl.snapshot_asks}
    for mb, ma in wl.messages:
        for side, levels in ((bids, mb), (asks, ma)):
            for p, q in levels:
                fq = float(q)
                if fq == 0.0:
                    side.pop(float(p), None)
                else:
                    side[float(p)] = fq
    return bids, asks


def reference_top(wl: Workload, depth: int = 20) -> tuple[list, list]:
    bids, asks = reference_book(wl)
    return (sorted(bids.items(), reverse=True)[:depth], sorted(asks.items())[:depth])


def top_matches(got: tuple[list, list], want: tuple[list, list]) -> bool:
    for g_side, w_side in zip(got, want):
        if len(g_side) != len(w_side):
            return False
        for (gp, gq), (wp, wq) in zip(g_side, w_side):
            if not (math.isclose(gp, wp, rel_tol=1e-12) and math.isclose(gq, wq, rel_tol=1e-12)):
                return False
    return True


def vwap_volume(wl: Workload, depth: int = 100) -> tuple[float, float]:
    """A buy volume that walks ``depth`` ask levels (half of the last one) and its exact VWAP."""
    _, asks = reference_book(wl)
    levels = sorted(asks.items())[:depth]
    vol = sum(q for _, q in levels[:-1]) + levels[-1][1] / 2
    cost, left = 0.0, vol
    for p, q in levels:
        take = min(q, left)
        cost += p * take
        left -= take
    return vol, cost / vol




# ------------------------------------------------------------------------------------ own benchmarks

def _per_call(fn: Any, number: int, repeat: int = 5) -> float:
    """Best-of-``repeat`` seconds per call of ``fn`` (thread CPU time)."""
    return min(timeit.Timer(fn, timer=CLOCK).repeat(repeat=repeat, number=number)) / number


class _Plain:
    def __init__(self) -> None:
        self.best_bid = 26999.99


def _book_of(wl: Workload) -> Any:
    from hbconnect import OrderBook

    book = OrderBook()
    book.apply_snapshot(wl.snapshot_bids, wl.snapshot_asks, 1)
    return book


def _apply_all(book: Any, messages: list, top: bool = False) -> float:
    apply = book.apply_diffs
    t0 = CLOCK()
    for uid, (b, a) in enumerate(messages, 2):
        apply(b, a, uid)
        if top:
            book.best_bid
            book.best_ask
    return CLOCK() - t0


def _top(book: Any, depth: int = 20) -> tuple[list, list]:
    return ([tuple(r) for r in book.bids(depth).tolist()], [tuple(r) for r in book.asks(depth).tolist()])


def binance_frames(wl: Workload, symbol: str = "BTCUSDT") -> tuple[bytes, list[str]]:
    """The workload as Binance spot traffic: a REST depth body (``lastUpdateId`` 1) and one
    combined-stream ``depthUpdate`` frame per message (``U == u == message number + 1``)."""
    snap = json.dumps({"lastUpdateId": 1, "bids": wl.snapshot_bids, "asks": wl.snapshot_asks}).encode()
    stream = symbol.lower() + "@depth@100ms"
    frames = [json.dumps({"stream": stream, "data": {"e": "depthUpdate", "E": 1_700_000_000_000 + i,
                                                     "s": symbol, "U": i, "u": i, "b": b, "a": a}},
                         separators=(",", ":"))
              for i, (b, a) in enumerate(wl.messages, 2)]
    return snap, frames


def frame_path(wl: Workload) -> tuple[float, Any]:
    """Seconds to feed every frame of ``binance_frames(wl)`` to a live tracker, and its book."""
    from hbconnect.exchanges import market_data_venue
    from hbconnect.market import OrderBookTracker

    venue = market_data_venue("binance").with_urls()
    snap, frames = binance_frames(wl)
    tracker = OrderBookTracker(venue, ["BTC-USDT"], stale_timeout=None)
    conn = tracker.connections[0]
    tracker.connection_up(conn)
    tb = tracker.books["BTC-USDT"]
    tracker.on_snapshot("BTC-USDT", tb.gen, snap)
    feed = tracker.feed
    t0 = CLOCK()
    for f in frames:
        feed(conn, f, 0.0)
    spent = CLOCK() - t0
    if tb.diffs_applied != len(frames) or tb.gaps or tracker.bad_frames:
        raise RuntimeError(f"frame path lost frames: applied {tb.diffs_applied}/{len(frames)}, "
                           f"gaps {tb.gaps}, bad {tracker.bad_frames}")
    return spent, tracker.book("BTC-USDT")


@dataclass
class OwnResult:
    ns_per_level_str: float
    ns_per_level_native: float
    us_per_msg_top_str: float
    ns_per_top_read: float
    ns_per_plain_read: float
    us_per_vwap100: float
    us_per_checksum_okx: float
    us_per_frame: float
    top20_match: bool
    vwap_ok: bool


def run_own(wl: Workload, reads: int = 200_000, vwap_queries: int = 5_000) -> OwnResult:
    """Every own benchmark on ``wl``; each book is checked against the plain-dict reference."""
    import numpy as np

    want = reference_top(wl, 20)
    empty = np.empty((0, 2), dtype=np.float64)
    native = [(np.array(b, dtype=np.float64) if b else empty, np.array(a, dtype=np.float64) if a else empty)
              for b, a in wl.messages]
    books = [_book_of(wl) for _ in range(3)]
    t_str = _apply_all(books[0], wl.messages)
    t_native = _apply_all(books[1], native)
    t_top = _apply_all(books[2], wl.messages, top=True)
    t_frames, tracked = frame_path(wl)
    book = books[0]
    vol, want_vwap = vwap_volume(wl, 100)
    plain = _Plain()
    match = all(top_matches(_top(b), want) for b in (*books, tracked))
    return OwnResult(
        ns_per_level_str=t_str / wl.n_updates * 1e9,
        ns_per_level_native=t_native / wl.n_updates * 1e9,
        us_per_msg_top_str=t_top / wl.n_messages * 1e6,
        ns_per_top_read=_per_call(lambda: book.best_bid, reads) * 1e9,
        ns_per_plain_read=_per_call(lambda: plain.best_bid, reads) * 1e9,
        us_per_vwap100=_per_call(lambda: book.get_vwap_for_volume(True, vol), vwap_queries) * 1e6,
        us_per_checksum_okx=_per_call(book.checksum_okx, vwap_queries) * 1e6,
        us_per_frame=t_frames / wl.n_messages * 1e6,
        top20_match=match,
        vwap_ok=math.isclose(book.get_vwap_for_volume(True, vol).result_price, want_vwap, rel_tol=1e-9),
    )


ROWS = (
    ("ns_per_level_str", "level update, JSON string pairs", "ns/level", "{:.0f}"),
    ("ns_per_level_native", "level update, float64 arrays", "ns/level", "{:.0f}"),
    ("us_per_msg_top_str", "message (string pairs) + top read", "us/msg", "{:.2f}"),
    ("ns_per_top_read", "top-of-book read (best_bid)", "ns", "{:.1f}"),
    ("ns_per_plain_read", "plain Python attribute read", "ns", "{:.1f}"),
    ("us_per_vwap100", "VWAP walking 100 levels", "us", "{:.2f}"),
    ("us_per_checksum_okx", "OKX checksum, 25+25 levels", "us", "{:.2f}"),
    ("us_per_frame", "Binance frame -> venue -> tracker -> book", "us/frame", "{:.2f}"),
)


def format_report(wl: Workload, r: OwnResult) -> str:
    lines = [f"hbconnect {_version()} on Python {sys.version.split()[0]}: snapshot {len(wl.snapshot_bids)} "
             f"levels/side, {wl.n_updates:,} level updates ({wl.n_deletes:,} deletions) in "
             f"{wl.n_messages:,} messages, seed {wl.seed}; thread CPU time", ""]
    width = max(len(label) for _, label, _, _ in ROWS)
    for key, label, unit, fmt in ROWS:
        lines.append(f"  {label:<{width}}  {fmt.format(getattr(r, key)):>9} {unit}")
    lines += ["", f"  top-of-book read / plain attribute read: {r.ns_per_top_read / r.ns_per_plain_read:.2f}",
              f"  books equal the plain-dict reference (top 20): {r.top20_match}; VWAP exact: {r.vwap_ok}",
              "", "peers (other books, Hummingbot's and cryptofeed's pipelines): python3 benchmarks/peers.py "
              "and benchmarks/message_path.py in the repository; see benchmarks/README.md"]
    return "\n".join(lines)


def _version() -> str:
    import hbconnect
    return hbconnect.__version__


# ------------------------------------------------------------------------------------ command

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run hbconnect's own benchmarks (order book updates, reads, VWAP, checksum, and the "
        "Binance frame path through the tracker) on one seeded workload. To compare with other "
        "order books or pipelines, run benchmarks/peers.py or benchmarks/message_path.py from a "
        "clone of the repository; benchmarks/README.md says how to install the peers and how to "
        "add one (a Peer subclass in benchmarks/peers.py).")
    parser.add_argument("--updates", type=int, default=200_000, help="level updates (default 200,000)")
    parser.add_argument("--levels", type=int, default=5_000, help="snapshot levels per side (default 5,000)")
    parser.add_argument("--seed", type=int, default=7, help="workload seed (default 7)")
    parser.add_argument("--reads", type=int, default=200_000, help="top-of-book reads per timing (default 200,000)")
    parser.add_argument("--vwap-queries", type=int, default=5_000,
                        help="VWAP and checksum calls per timing (default 5,000)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    if args.updates < 1 or args.levels < 100 or args.reads < 1 or args.vwap_queries < 1:
        print("hbconnect bench: --updates, --reads and --vwap-queries must be >= 1, --levels >= 100",
              file=sys.stderr)
        return 2
    wl = make_workload(args.updates, args.levels, args.seed)
    r = run_own(wl, reads=args.reads, vwap_queries=args.vwap_queries)
    if args.json:
        print(json.dumps({"hbconnect": _version(), "python": sys.version.split()[0],
                          "workload": {"levels": args.levels, "updates": wl.n_updates, "deletes": wl.n_deletes,
                                       "messages": wl.n_messages, "seed": wl.seed},
                          "timer": "thread CPU time", **r.__dict__}, indent=2))
    else:
        print(format_report(wl, r))
    return 0 if r.top20_match and r.vwap_ok else 1
