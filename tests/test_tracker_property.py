"""Property: whatever the venue's stream looks like after drops, duplicates, swaps and corrupted
frames, once the stream has delivered a clean final update the tracker's book equals the venue's
(the venue answers snapshot requests with its book at that moment), and every fault that changed
the book was detected."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from fakevenue import FakeVenue, diff
from hbconnect.market.messages import SyncRule
from hbconnect.market.tracker import OrderBookTracker
from refbook import RefBook, book_levels

PRICES = [f"{100 + i * 0.5:.1f}" for i in range(-10, 11)]

level = st.tuples(st.sampled_from(PRICES), st.sampled_from(["0", "1", "2.5", "3", "10"]))
update = st.tuples(st.lists(level, min_size=1, max_size=4), st.lists(level, min_size=1, max_size=4))
fault = st.sampled_from(["none", "none", "drop", "dup", "swap", "corrupt", "garbage"])


class Venue:
    """The venue: its book, the frames it publishes, its REST snapshot."""

    def __init__(self, rule):
        self.rule = rule
        self.book = RefBook()
        self.book.snapshot([("99.0", "1")], [("101.0", "1")], 100)
        self.uid = 100

    def publish(self, bids, asks):
        # keep the venue's own book uncrossed: bids below 100, asks above (a real venue matches)
        bids = [(p, s) for p, s in bids if float(p) < 100]
        asks = [(p, s) for p, s in asks if float(p) > 100]
        first = self.uid + 1
        self.uid += 1 + len(bids) % 2  # some updates span two ids
        self.book.diff(bids, asks, self.uid)
        extra = {"pu": first - 1} if self.rule is SyncRule.SEQ_RANGE_PREV else {}
        return diff("A-B", first, self.uid, bids, asks, **extra)

    def snapshot_body(self):
        return json.dumps({"b": [list(x) for x in self.book.top_bids()], "a": [list(x) for x in self.book.top_asks()],
                           "id": self.uid}).encode()


class Driver:
    def __init__(self):
        self.pending = []

    def request_snapshot(self, tb, req, gen, delay):
        self.pending.append((tb.pair, gen))

    def send(self, conn, texts):
        pass

    def reconnect(self, conn, reason):
        pass


@settings(max_examples=80, deadline=None)
@given(rule=st.sampled_from([SyncRule.SEQ_RANGE, SyncRule.SEQ_RANGE_PREV]),
       steps=st.lists(st.tuples(update, fault), min_size=1, max_size=40))
def test_book_converges_to_the_venue(rule, steps):
    venue = Venue(rule)
    drv = Driver()
    tracker = OrderBookTracker(FakeVenue(rule), ["A-B"], driver=drv, stale_timeout=None)
    conn = tracker.connections[0]
    tracker.connection_up(conn)

    def answer():
        while drv.pending:
            pair, gen = drv.pending.pop(0)
            tracker.on_snapshot(pair, gen, venue.snapshot_body())

    answer()
    held = None  # a frame held back to be delivered after the next one (swap)
    harmful = 0
    for (bids, asks), f in steps:
        frame = venue.publish(bids, asks)
        if f == "drop":
            harmful += 1
            continue
        if f == "swap" and held is None:
            held = frame
            harmful += 1
            continue
        if f == "corrupt":
            msg = json.loads(frame)
            msg["b"] = [["100", "-1"]]
            frame = json.dumps(msg)
            harmful += 1
        if f == "garbage":
            frame = frame[: len(frame) // 2]
            harmful += 1
        tracker.feed(conn, frame)
        if f == "dup":
            tracker.feed(conn, frame)
        if held is not None and f != "swap":
            tracker.feed(conn, held)
            held = None
        answer()
    # a clean final update, then any snapshot the tracker still asks for
    tracker.feed(conn, venue.publish([("98.5", "7")], []))
    answer()
    tb = tracker.books["A-B"]
    if tb.state.value != "live":
        tracker.feed(conn, venue.publish([("98.0", "2")], []))
        answer()
    assert tb.state.value == "live"
    assert tb.last_id == venue.uid
    assert book_levels(tb.book) == (venue.book.top_bids(), venue.book.top_asks())
    detected = tb.gaps + tb.bad_frames + tracker.bad_frames + tb.snapshot_retries + tb.stale_dropped
    if harmful:
        assert detected >= 1
