"""The tracker's synchronous core: sync rules, bad frames, resync isolation, checksums, depth,
connection splitting and sequences, stale streams, notifications."""
from __future__ import annotations

import asyncio
import json

import pytest

from fakevenue import FakeVenue, RecordingDriver, diff, snap_body
from hbconnect.market.messages import BookDiff, SyncRule
from hbconnect.market.sync import APPLY, GAP, OK, STALE, TOO_OLD, policy_for
from hbconnect.market.tracker import BookUpdate, OrderBookTracker
from refbook import book_levels

B0 = [("100", "1"), ("99", "2")]
A0 = [("101", "1"), ("102", "2")]


def make(venue=None, pairs=("A-B",), **kw):
    venue = venue or FakeVenue()
    drv = RecordingDriver()
    t = OrderBookTracker(venue, list(pairs), driver=drv, **kw)
    for c in t.connections:
        t.connection_up(c)
    return t, drv


def live(t, pair="A-B", uid=10, bids=B0, asks=A0):
    tb = t.books[pair]
    t.on_snapshot(pair, tb.gen, snap_body(bids, asks, uid))
    assert tb.state.value == "live"
    return tb


# ----------------------------------------------------------------------------- policies
def D(U, u, pu=None):
    return BookDiff("X", [], [], U, u, pu)


@pytest.mark.parametrize("rule,last,d,first,expected", [
    (SyncRule.SEQ_RANGE, 10, D(5, 10), True, STALE),
    (SyncRule.SEQ_RANGE, 10, D(8, 12), True, APPLY),
    (SyncRule.SEQ_RANGE, 10, D(11, 12), False, APPLY),
    (SyncRule.SEQ_RANGE, 10, D(12, 13), False, GAP),
    (SyncRule.SEQ_RANGE_PREV, 10, D(5, 9, 4), True, STALE),
    (SyncRule.SEQ_RANGE_PREV, 10, D(8, 10, 7), True, APPLY),  # U <= L <= u
    (SyncRule.SEQ_RANGE_PREV, 10, D(11, 12, 9), True, GAP),
    (SyncRule.SEQ_RANGE_PREV, 10, D(11, 15, 10), False, APPLY),
    (SyncRule.SEQ_RANGE_PREV, 10, D(11, 15, 12), False, GAP),
    (SyncRule.SEQ_RANGE_PREV, 10, D(8, 10, 7), False, STALE),  # duplicate of the last
    (SyncRule.PREV_CHAIN, 10, D(11, 11, 10), False, APPLY),
    (SyncRule.PREV_CHAIN, 10, D(5, 5, 10), False, APPLY),  # OKX sequence reset: prev still chains
    (SyncRule.PREV_CHAIN, 10, D(9, 9, 8), False, STALE),
    (SyncRule.PREV_CHAIN, 10, D(13, 13, 12), False, GAP),
    (SyncRule.PREV_CHAIN, 10, D(12, 12, 9), True, APPLY),  # straddles the snapshot
    (SyncRule.CONTIGUOUS, 10, D(11, 11), False, APPLY),
    (SyncRule.CONTIGUOUS, 10, D(10, 10), False, STALE),
    (SyncRule.CONTIGUOUS, 10, D(12, 12), False, GAP),
    (SyncRule.TIMESTAMP, 10, D(10, 10), False, STALE),
    (SyncRule.TIMESTAMP, 10, D(500, 500), False, APPLY),
    (SyncRule.CHECKSUM, 0, D(0, 0), False, APPLY),
    (SyncRule.SNAPSHOTS, 0, D(0, 0), False, APPLY),
])
def test_policy_table(rule, last, d, first, expected):
    assert policy_for(rule).check(last, d, first) == expected


def test_snapshot_verdicts():
    p = policy_for(SyncRule.SEQ_RANGE)
    assert p.snapshot_verdict(99, D(100, 105), True) == TOO_OLD  # Binance: "strictly less than U"
    assert p.snapshot_verdict(99, D(100, 105)) == OK  # Gate.io/KuCoin: L + 1 == U joins
    assert p.snapshot_verdict(98, D(100, 105)) == TOO_OLD
    assert p.snapshot_verdict(100, D(100, 105), True) == OK
    assert p.snapshot_verdict(5, None) == OK
    assert policy_for(SyncRule.SEQ_RANGE_PREV).snapshot_verdict(99, D(100, 105, 99)) == TOO_OLD


# ----------------------------------------------------------------------------- basics
def test_buffer_then_snapshot_then_live():
    t, drv = make()
    c = t.connections[0]
    assert drv.sent and json.loads(drv.sent[0][1]) == {"op": "sub", "pairs": ["A-B"]}
    assert [s[0] for s in drv.snapshots] == ["A-B"]
    t.feed(c, diff("A-B", 5, 9, [("100", "5")]))  # older than the snapshot
    t.feed(c, diff("A-B", 10, 12, [("100", "7")]))
    tb = t.books["A-B"]
    assert tb.state.value == "syncing" and len(tb.buffer) == 2
    t.on_snapshot("A-B", tb.gen, snap_body(B0, A0, 10))
    assert tb.state.value == "live" and tb.stale_dropped == 1 and tb.diffs_applied == 1 and tb.last_id == 12
    assert book_levels(t.book("A-B"))[0][0] == ("100", "7")
    assert t.ready and t.status_dict() == {"A-B": True}


def test_outdated_snapshot_answer_is_ignored():
    t, drv = make()
    tb = t.books["A-B"]
    old = tb.gen
    t.resync("A-B")
    t.on_snapshot("A-B", old, snap_body(B0, A0, 10))
    assert tb.state.value == "syncing"


@pytest.mark.parametrize("frame", [
    "", "not json", "{\"t\":", b"\x00\xff", "[]", "{}", '{"t":"boom"}',
    diff("A-B", 11, 11, [("100", "-1")]), diff("A-B", 11, 11, [("nan", "1")]),
    diff("A-B", 11, 11, [("100", "inf")]), diff("A-B", 11, 11, [("abc", "1")]),
    diff("A-B", 11, 11, [["100"]]), '{"t":"d","p":"A-B","U":11,"u":11,"b":["100"],"a":[]}',
    '{"t":"d","p":"A-B","U":11,"u":11,"b":[["100","7"]],"a":5}', diff("A-B", 11, 11, a=[("101", None)]),
])
def test_bad_frame_never_raises_never_changes_the_book(frame):
    t, drv = make()
    tb = live(t)
    before = book_levels(t.book("A-B"))
    t.feed(t.connections[0], frame)  # must not raise
    assert book_levels(t.book("A-B")) == before
    assert t.bad_frames == 1
    assert tb.diffs_applied == 0


def test_bad_update_resyncs_only_its_pair():
    t, drv = make(pairs=("A-B", "C-D"))
    ta = live(t, "A-B")
    tc = live(t, "C-D")
    drv.snapshots.clear()
    c = t.connections[0]
    t.feed(c, diff("A-B", 11, 11, [("100", "-3")]))
    assert ta.bad_frames == 1 and ta.resyncs == 1 and ta.state.value == "resyncing"
    assert [s[0] for s in drv.snapshots] == ["A-B"]
    t.feed(c, diff("C-D", 11, 11, [("99", "9")]))
    assert tc.state.value == "live" and tc.resyncs == 0 and tc.diffs_applied == 1


def test_gap_resyncs_only_its_pair_and_recovers():
    t, drv = make(pairs=("A-B", "C-D"))
    ta = live(t, "A-B")
    tc = live(t, "C-D")
    c = t.connections[0]
    drv.snapshots.clear()
    t.feed(c, diff("A-B", 11, 11, [("98", "1")]))
    t.feed(c, diff("A-B", 13, 14, [("100", "3")]))  # 12 missing
    assert ta.gaps == 1 and ta.state.value == "resyncing"
    assert len(ta.buffer) == 1  # the revealing update waits for the new snapshot
    t.feed(c, diff("C-D", 11, 11, [("99", "9")]))
    t.feed(c, diff("A-B", 15, 15, [("99", "4")]))
    assert tc.diffs_applied == 1 and tc.gaps == 0
    t.on_snapshot("A-B", ta.gen, snap_body([("100", "2")], A0, 13))
    assert ta.state.value == "live" and ta.last_id == 15
    assert book_levels(t.book("A-B"))[0] == [("100", "3"), ("99", "4")]


def test_gap_right_after_snapshot_refetches_it():
    t, drv = make()
    ta = live(t)
    drv.snapshots.clear()
    t.feed(t.connections[0], diff("A-B", 13, 14, [("100", "3")]))  # the snapshot predates the stream
    assert ta.snapshot_retries == 1 and ta.gaps == 0 and ta.state.value == "resyncing"
    assert len(drv.snapshots) == 1 and len(ta.buffer) == 1


def test_in_band_venue_resyncs_with_its_messages():
    v = FakeVenue(SyncRule.PREV_CHAIN, rest=False)
    t, drv = make(v)
    c = t.connections[0]
    assert drv.snapshots == []
    t.feed(c, json.dumps({"t": "s", "p": "A-B", "b": B0, "a": A0, "u": 10}))
    tb = t.books["A-B"]
    assert tb.state.value == "live"
    t.feed(c, diff("A-B", 11, 11, [("100", "2")], pu=10))
    t.feed(c, diff("A-B", 13, 13, [("100", "3")], pu=12))
    assert tb.gaps == 1 and json.loads(drv.sent[-1][1]) == {"op": "resync", "pair": "A-B"}
    v2 = FakeVenue(SyncRule.CHECKSUM, rest=False, resync_msgs=False)
    t2, drv2 = make(v2)
    t2.resync("A-B")
    assert [json.loads(x[1])["op"] for x in drv2.sent[-2:]] == ["unsub", "sub"]


def test_checksum_verified_and_mismatch_resyncs():
    v = FakeVenue(SyncRule.CHECKSUM, rest=False, max_depth=2)
    t, drv = make(v)
    c = t.connections[0]
    bids = [("100", "1"), ("99", "2"), ("98", "3")]
    t.feed(c, json.dumps({"t": "s", "p": "A-B", "b": bids, "a": A0}))
    tb = t.books["A-B"]
    assert t.book("A-B").bid_depth == 2  # truncated to max_depth
    ok = v.checksum(t.book("A-B"))
    t.feed(c, diff("A-B", 0, 0, [("100", "5")], cs=None))
    from hbconnect import OrderBook

    ref = OrderBook()
    ref.apply_snapshot([("100", "5"), ("99", "2")], A0, 0)
    t.feed(c, diff("A-B", 0, 0, [("97", "1")], cs=v.checksum(ref)))  # 97 truncated away -> same book
    assert tb.checksums_ok == 1 and tb.checksums_failed == 0 and ok != v.checksum(ref)
    t.feed(c, diff("A-B", 0, 0, [("100", "6")], cs=12345))
    assert tb.checksums_failed == 1 and tb.resyncs == 1 and tb.state.value == "resyncing"


def test_snapshot_with_bad_checksum_is_rejected():
    v = FakeVenue(SyncRule.PREV_CHAIN, rest=False)
    t, drv = make(v)
    t.feed(t.connections[0], json.dumps({"t": "s", "p": "A-B", "b": B0, "a": A0, "u": 3, "cs": 1}))
    tb = t.books["A-B"]
    assert tb.checksums_failed == 1 and tb.state.value != "live"


def test_pairs_split_across_connections():
    v = FakeVenue(max_pairs=2)
    pairs = [f"P{i}-Q" for i in range(5)]
    t, drv = make(v, pairs)
    assert [c.pairs for c in t.connections] == [pairs[0:2], pairs[2:4], pairs[4:]]
    subs = {cid: json.loads(text)["pairs"] for cid, text in drv.sent}
    assert subs == {0: pairs[0:2], 1: pairs[2:4], 2: pairs[4:]}
    t.add_pairs(["X-Y"])
    assert t.connections[-1].pairs == ["P4-Q", "X-Y"]


def test_connection_drop_resyncs_every_pair_on_it_only():
    v = FakeVenue(max_pairs=1)
    t, drv = make(v, ("A-B", "C-D"))
    ta, tc = live(t, "A-B"), live(t, "C-D")
    c0 = t.connections[0]
    t.connection_down(c0, "test")
    assert ta.state.value == "resyncing" and tc.state.value == "live" and c0.reconnects == 1
    t.feed(c0, diff("A-B", 11, 11, [("100", "3")]))
    drv.snapshots.clear()
    t.connection_up(c0)
    assert [s[0] for s in drv.snapshots] == ["A-B"]
    t.on_snapshot("A-B", ta.gen, snap_body(B0, A0, 20))
    assert ta.state.value == "live" and ta.resyncs == 1


def test_connection_sequence_gap_and_duplicate():
    v = FakeVenue(SyncRule.CHECKSUM, rest=False, connection_sequence=True)
    t, drv = make(v, ("A-B", "C-D"))
    c = t.connections[0]
    t.feed(c, json.dumps({"t": "s", "p": "A-B", "b": B0, "a": A0, "cseq": 1}))
    t.feed(c, json.dumps({"t": "s", "p": "C-D", "b": B0, "a": A0, "cseq": 2}))
    t.feed(c, diff("A-B", 0, 0, [("100", "2")], cseq=3))
    ta, tc = t.books["A-B"], t.books["C-D"]
    assert ta.diffs_applied == 1
    t.feed(c, diff("A-B", 0, 0, [("100", "9")], cseq=3))  # duplicate frame: dropped
    assert ta.diffs_applied == 1 and ta.stale_dropped == 1
    assert book_levels(t.book("A-B"))[0][0] == ("100", "2")
    t.feed(c, json.dumps({"t": "hb", "cseq": 4}))
    t.feed(c, diff("C-D", 0, 0, [("99", "1")], cseq=6))  # 5 lost: every pair on the connection resyncs
    assert c.gaps == 1 and ta.gaps == 1 and tc.gaps == 1
    assert ta.state.value == "resyncing" and tc.state.value == "resyncing"


def test_stale_stream_detected_and_resubscribed():
    t, drv = make(pairs=("A-B", "C-D"), stale_timeout=5.0)
    c = t.connections[0]
    ta, tc = live(t, "A-B"), live(t, "C-D")
    t.feed(c, diff("A-B", 11, 11, [("100", "2")]), now=100.0)
    t.feed(c, diff("C-D", 11, 11, [("100", "2")]), now=100.0)
    assert t.check_stale(104.0) == []
    t.feed(c, diff("C-D", 12, 12, [("100", "3")]), now=104.0)
    drv.sent.clear()
    drv.snapshots.clear()
    assert t.check_stale(106.0) == ["A-B"]
    assert ta.stale_streams == 1 and ta.state.value == "resyncing" and tc.state.value == "live"
    assert [json.loads(x[1])["op"] for x in drv.sent] == ["unsub", "sub"]
    assert json.loads(drv.sent[1][1])["pairs"] == ["A-B"]
    assert [s[0] for s in drv.snapshots] == ["A-B"]
    # a pair whose connection is down is not "stale"
    t.connection_down(c)
    assert t.check_stale(1000.0) == []


def test_buffer_overflow_restarts_sync():
    t, drv = make(max_buffer=3)
    c = t.connections[0]
    for i in range(5):
        t.feed(c, diff("A-B", 10 + i, 10 + i))
    tb = t.books["A-B"]
    assert len(tb.buffer) <= 3 and len(drv.snapshots) == 2


def test_reply_resync_reconnect_events():
    t, drv = make()
    tb = live(t)
    c = t.connections[0]
    t.feed(c, json.dumps({"t": "reply", "text": "pong"}))
    assert drv.sent[-1] == (c.id, "pong")
    t.feed(c, json.dumps({"t": "resync", "p": "A-B"}))
    assert tb.state.value == "resyncing" and tb.resyncs == 1
    t.feed(c, json.dumps({"t": "reconnect"}))
    assert drv.reconnects == [(c.id, "test")]


def test_trades_callbacks_and_subscription():
    got_books, got_trades = [], []

    def bad_cb(upd):
        raise RuntimeError("strategy bug")

    t, drv = make(on_book=got_books.append, on_trade=got_trades.append)
    t.add_book_callback(bad_cb)
    sub = t.subscribe(maxsize=3)
    tb = live(t)
    c = t.connections[0]
    for i in range(5):
        t.feed(c, diff("A-B", 11 + i, 11 + i, [("100", str(i + 2))]))
    t.feed(c, json.dumps({"t": "tr", "p": "A-B", "id": 7, "px": "100.5", "sz": "0.1", "side": "buy"}))
    assert [u.update_id for u in got_books] == [10, 11, 12, 13, 14, 15]
    assert got_books[0].snapshot and not got_books[1].snapshot
    assert got_trades[0].price == "100.5" and t.last_trade("A-B").trade_id == "7"
    assert t.notify_errors == 6
    # bounded queue: oldest dropped, the tracker never blocked
    assert len(sub) == 3 and sub.dropped == 4

    async def drain():
        items = [await sub.__anext__() for _ in range(3)]
        sub.close()
        rest = [x async for x in sub]
        return items, rest

    items, rest = asyncio.run(drain())
    assert isinstance(items[0], BookUpdate) and items[0].update_id == 14 and items[-1].trade_id == "7"
    assert rest == []


def test_unknown_pairs_are_counted_not_fatal():
    t, drv = make()
    live(t)
    t.feed(t.connections[0], diff("Z-Z", 1, 1))
    assert t.unknown_pair_messages == 1 and t.bad_frames == 0


def test_remove_pair_unsubscribes():
    t, drv = make(pairs=("A-B", "C-D"))
    t.remove_pair("A-B")
    assert "A-B" not in t.books and json.loads(drv.sent[-1][1]) == {"op": "unsub", "pairs": ["A-B"]}
    t.feed(t.connections[0], diff("A-B", 1, 1))
    assert t.unknown_pair_messages == 1
