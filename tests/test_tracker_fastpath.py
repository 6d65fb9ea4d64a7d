"""The tracker's compiled fast path (``hbconnect.market._fastpath``) against the general path.

The same recorded Binance session, with injected faults, runs through two trackers, one with
``fast_path=False``: the books (every level, exact text), every per-pair counter, the tracker and
connection counters and the sequence of notifications must be identical, and the fast path must
really have carried the in-sequence diffs."""
from __future__ import annotations

import json
import random

import pytest

from benchmark_modules import load_benchmark
from binance_truth import BinanceTruth
from conftest import fixture_files
from hbconnect.exchanges import market_data_venue
from hbconnect.market.replay import Fault, Replayer, book_frame_indices, inject, load_session
from refbook import book_levels

PAIR = "NKN-USDT"


@pytest.fixture(scope="module")
def files():
    return fixture_files("BINANCE")


@pytest.fixture(scope="module")
def truth(files):
    return BinanceTruth(files)


@pytest.fixture(scope="module")
def session(files):
    return load_session(files)


def _run(session, truth, faults, fast, perpetual=False):
    venue = market_data_venue("binance").with_urls()
    notes = []

    def source(pair, req, now):
        return truth.at(pair.replace("-", ""), now).body()

    kw = {"fast_path": fast, "on_book": lambda u: notes.append(("book", u.pair, u.update_id, u.timestamp,
                                                                  u.snapshot)),
          "on_trade": lambda t: notes.append(("trade", t.pair, t.trade_id, t.price, t.amount))}
    r = Replayer(venue, inject(session, faults), snapshot_source=source, tracker_kwargs=kw)
    sub = r.tracker.subscribe()
    res = r.run()
    t = res.tracker
    assert (t._fastpath is not None) == fast
    stats = {p: t.stats(p).to_dict() for p in t.books}
    books = {p: book_levels(t.book(p)) for p in t.books}
    conns = [(c.id, c.frames, c.bad_frames, c.reconnects, c.gaps, c.last_frame) for c in t.connections]
    queued = []
    while len(sub):
        queued.append(sub.get_nowait())
    return {"stats": stats, "books": books, "notes": notes, "queued": queued, "conns": conns,
            "tracker": (t.frames, t.bad_frames, t.unknown_pair_messages, t.notify_errors),
            "last_ids": {p: (tb.last_id, tb.first, tb.book.last_diff_uid) for p, tb in t.books.items()},
            "fast_frames": t._fastpath.fast_frames if fast else 0}


def _same(session, truth, faults):
    fast = _run(session, truth, faults, True)
    slow = _run(session, truth, faults, False)
    assert fast["fast_frames"] > 100  # the fast path carried the bulk of the diffs
    for key in ("stats", "books", "notes", "queued", "conns", "tracker", "last_ids"):
        assert fast[key] == slow[key], key
    return fast


def _size(value):
    def mutate(raw):
        msg = json.loads(raw)
        side = "b" if msg["data"]["b"] else "a"
        msg["data"][side][0][1] = value
        return json.dumps(msg)
    return mutate


def _field(key, value):
    def mutate(raw):
        msg = json.loads(raw)
        msg["data"][key] = value
        return json.dumps(msg)
    return mutate


def test_no_fault_same_as_general_path(session, truth):
    res = _same(session, truth, [])
    assert all(s["gaps"] == 0 and s["bad_frames"] == 0 for s in res["stats"].values())
    assert sum(s["diffs_applied"] for s in res["stats"].values()) >= res["fast_frames"] > 0


def test_injected_faults_same_as_general_path(session, truth):
    venue = market_data_venue("binance").with_urls()
    idx = book_frame_indices(session, venue, PAIR)
    other = book_frame_indices(session, venue, "LRC-BTC")
    faults = [Fault("drop", idx[20]), Fault("duplicate", idx[40]), Fault("swap", idx[55], other=idx[56]),
              Fault("corrupt", idx[75], mutate=_size("-1")), Fault("truncate", idx[95]),
              Fault("garbage", idx[110]), Fault("close", idx[125]), Fault("drop", other[8]),
              Fault("corrupt", idx[130], mutate=_size("NaN")),
              Fault("corrupt", idx[135], mutate=_field("U", "x")),
              Fault("corrupt", idx[140], mutate=_field("E", 1.5)),
              Fault("corrupt", idx[145], mutate=_field("s", "XYZUSDT")),
              Fault("corrupt", other[10], mutate=_field("b", {"0.1": "1"}))]
    res = _same(session, truth, faults)
    rep = res["stats"][PAIR]
    assert rep["gaps"] >= 4 and rep["bad_frames"] >= 2 and rep["resyncs"] >= 6


def test_random_faults_same_as_general_path(session, truth):
    venue = market_data_venue("binance").with_urls()
    rng = random.Random(7)
    idx = book_frame_indices(session, venue, PAIR) + book_frame_indices(session, venue, "LRC-BTC")
    idx.sort()
    kinds = ["drop", "duplicate", "truncate", "garbage", "corrupt"]
    faults = []
    for i in rng.sample(idx[10:-2], 12):
        k = rng.choice(kinds)
        if k == "corrupt":
            faults.append(Fault(k, i, mutate=_size(rng.choice(["0", "-2", "inf", "1.5", ""]))))
        else:
            faults.append(Fault(k, i))
    _same(session, truth, faults)


def _message_path():
    return load_benchmark("message_path")


def test_fast_path_callback_errors_and_subscriptions_like_general_path():
    """A raising book callback is counted exactly as on the general path; subscribers see the
    same updates; the receive time is the one passed in."""
    mp = _message_path()
    frames = mp.repeated_frames(400)
    out = []
    for fast in (True, False):
        t, conn = mp.make_tracker(fast_path=fast)
        assert (t._fastpath is not None) == fast

        def boom(upd):
            raise RuntimeError("strategy bug")

        t.add_book_callback(boom)
        sub = t.subscribe(maxsize=100)
        for f in frames:
            t.feed(conn, f, 7.0)
        assert t.notify_errors == len(frames)
        events = []
        while len(sub):
            events.append(sub.get_nowait())
        out.append((t.notify_errors, sub.dropped, events, {p: t.stats(p).to_dict() for p in t.books},
                    {p: book_levels(t.book(p)) for p in t.books}, conn.frames, conn.last_frame, t.frames))
        assert all(tb.last_receive == 7.0 for tb in t.books.values())
    assert out[0] == out[1]


def test_fast_path_default_clock_is_monotonic():
    import time

    mp = _message_path()
    frames = mp.repeated_frames(20)
    t, conn = mp.make_tracker()
    before = time.monotonic()
    for f in frames:
        t.feed(conn, f)
    after = time.monotonic()
    assert t._fastpath.fast_frames == len(frames)
    assert before <= conn.last_frame <= after
    assert all(before <= tb.last_receive <= after for tb in t.books.values() if tb.frames)


_NOISE = ' \t{}[],:"\\0123456789.eE-+aZ\u00e9\x00'


def _mutations(frame: str, rng: random.Random) -> str:
    """A frame the scanner must either read exactly as the JSON parser does or leave to it."""
    k = rng.randrange(14)
    if k == 0:  # whitespace somewhere
        i = rng.randrange(len(frame) + 1)
        return frame[:i] + rng.choice(" \n\t") + frame[i:]
    if k == 1:  # a character lost
        i = rng.randrange(len(frame))
        return frame[:i] + frame[i + 1:]
    if k == 2:  # a character replaced
        i = rng.randrange(len(frame))
        return frame[:i] + rng.choice(_NOISE) + frame[i + 1:]
    if k == 3:  # truncated
        return frame[:rng.randrange(len(frame))]
    if k == 4:  # trailing text
        return frame + rng.choice(["x", " ", "}", ",", "\n"])
    msg = json.loads(frame)
    d = msg["data"]
    if k == 5:  # keys in another order (still the same diff: must be applied)
        items = list(d.items())
        rng.shuffle(items)
        msg["data"] = dict(items)
        return json.dumps(msg, separators=(",", ":"))
    if k == 6:  # a duplicated key, last one differing
        key = rng.choice(["U", "u", "s", "e", "E", "b"])
        tail = json.dumps({key: rng.choice([1, "X", [], 0])}, separators=(",", ":"))[1:-1]
        return frame[:-2] + "," + tail + "}}"
    if k == 7:  # numbers the scanner must not take as plain ints
        key = rng.choice(["U", "u", "E"])
        text = rng.choice(["%d.0", "%de0", "0%d", "-%d", "%d00000000000000000000", "1E%d"]) % d[key]
        return frame.replace('"%s":%d' % (key, d[key]), '"%s":%s' % (key, text), 1)
    if k == 8:  # an escaped or non-ASCII string
        side = "b" if d["b"] else "a"
        if not d[side]:
            return frame + " "
        d[side][0][0] = rng.choice(["\u00e90.1", "0.1\n", "0.1\"", "0.1\\"])
        return json.dumps(msg, separators=(",", ":"), ensure_ascii=rng.random() < 0.5)
    if k == 9:  # a level of another shape
        d[rng.choice(["b", "a"])] = rng.choice([[["1"]], [["1", "2", "3"]], [[1, "2"]], [["1", 2]], [[]],
                                                 {"1": "2"}, "x", [["1", "2"], 3]])
        return json.dumps(msg, separators=(",", ":"))
    if k == 10:  # an extra field of another type
        d["x"] = rng.choice([1.5, None, True, [1], {"a": 1}, "s", -3])
        return json.dumps(msg, separators=(",", ":"))
    if k == 11:  # the envelope changed
        return rng.choice([json.dumps(d, separators=(",", ":")), json.dumps({"data": d, "x": [1]}),
                           json.dumps({"stream": 1, "data": d}, separators=(",", ":")),
                           json.dumps({"data": d, "data2": d}, separators=(",", ":"))])
    if k == 12:  # bytes frame
        return frame.encode()
    del d[rng.choice(["U", "u", "s", "e", "E", "b", "a"])]  # a field missing
    return json.dumps(msg, separators=(",", ":"))


def _stats(tb):
    d = tb.stats().to_dict()
    if not tb.frames:  # set by make_tracker's snapshots from the real clock: differs per tracker
        d["last_receive"] = None
    return d


def _state(t, conn):
    return ({p: _stats(tb) for p, tb in t.books.items()}, {p: book_levels(t.book(p), 20) for p in t.books},
            {p: (tb.last_id, type(tb.last_id), tb.first) for p, tb in t.books.items()},
            (t.frames, t.bad_frames, t.unknown_pair_messages, conn.frames, conn.bad_frames, conn.last_frame))


def test_scanner_differential_fuzz():
    """Mutated frames (whitespace, truncation, escapes, duplicate keys, floats, reordered keys,
    other shapes...) give exactly the general path's books, counters and notifications."""
    mp = _message_path()
    frames = mp.repeated_frames(40)
    rng = random.Random(20261123)
    scanned = fast = 0
    for episode in range(120):
        (tf, cf), (tg, cg) = mp.make_tracker(), mp.make_tracker(fast_path=False)
        notes_f, notes_g = [], []
        tf.add_book_callback(lambda u: notes_f.append((u.pair, u.update_id, u.timestamp, u.snapshot)))
        tg.add_book_callback(lambda u: notes_g.append((u.pair, u.update_id, u.timestamp, u.snapshot)))
        for i, f in enumerate(frames):
            if rng.random() < 0.15:
                f = _mutations(f, rng)
            tf.feed(cf, f, float(i))
            tg.feed(cg, f, float(i))
            assert _state(tf, cf) == _state(tg, cg), (episode, i, f)
        assert notes_f == notes_g
        scanned += tf._fastpath.scanned_frames
        fast += tf._fastpath.fast_frames
    assert scanned > 1000 and fast > scanned  # both the scanner and the decoded fast path ran


def test_perpetual_pu_chain_same_as_general_path():
    """USDⓈ-M (``pu`` chain, SEQ_RANGE_PREV: the first diff after a snapshot straddles it and is
    left to the policy; later ones chain by ``pu``): the fast path gives the general path's
    results, gaps, duplicates and stale frames included."""
    from hbconnect.market.tracker import OrderBookTracker

    def frame(U, u, pu, bids, asks, sym="BTCUSDT", extra=""):
        data = {"e": "depthUpdate", "E": 1700000000000 + u, "T": 1700000000000 + u, "s": sym, "U": U, "u": u,
                "pu": pu, "b": bids, "a": asks}
        return json.dumps({"stream": sym.lower() + "@depth@100ms", "data": data}, separators=(",", ":")) + extra

    snap = json.dumps({"lastUpdateId": 100, "E": 1, "T": 1, "bids": [["99.0", "1"], ["98.0", "2"]],
                       "asks": [["101.0", "1"], ["102.0", "3"]]}).encode()
    rng = random.Random(3)
    seq = [frame(95, 105, 94, [["99.0", "2"]], [])]  # straddles the snapshot: the policy's case
    last = 105
    for i in range(300):
        u = last + rng.randint(1, 4)
        pu = last
        if i in (50, 51):
            pu = last - 7  # a broken chain: gap
        seq.append(frame(last + 1, u, pu, [[f"{95 + rng.randint(0, 4)}.0", str(rng.randint(0, 3))]],
                         [[f"{101 + rng.randint(0, 4)}.0", str(rng.randint(0, 3))]]))
        last = u
        if i % 37 == 0:
            seq.append(seq[-1])  # duplicate
        if i % 53 == 0:
            seq.append(seq[-3])  # an old one
    out = []
    for fast in (True, False):
        venue = market_data_venue("binance_perpetual").with_urls()
        t = OrderBookTracker(venue, ["BTC-USDT"], stale_timeout=None, fast_path=fast)
        notes = []
        t.add_book_callback(lambda u: notes.append((u.update_id, u.timestamp, u.snapshot)))
        conn = t.connections[0]
        t.connection_up(conn)
        tb = t.books["BTC-USDT"]
        t.on_snapshot("BTC-USDT", tb.gen, snap)
        states = []
        for i, f in enumerate(seq):
            t.feed(conn, f, float(i))
            if tb.state.value != "live":  # resync: the venue's snapshot at that point
                t.on_snapshot("BTC-USDT", tb.gen, json.dumps(
                    {"lastUpdateId": json.loads(f)["data"]["u"], "bids": tb.book.bids_text(),
                     "asks": tb.book.asks_text()}).encode())
            states.append((tb.stats().to_dict(), book_levels(tb.book), tb.last_id, tb.first))
        out.append((states, notes, t.frames, t.bad_frames))
        if fast:
            assert t._fastpath.scanned_frames > 200
    assert out[0] == out[1]
    assert out[0][0][-1][0]["gaps"] >= 1 and out[0][0][-1][0]["stale_dropped"] >= 5
