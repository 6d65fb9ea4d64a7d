"""End-to-end machinery for the snapshot-push venues (BitMart, BingX, Bitrue) and the REST-snapshot
venue MEXC, on top of ``_venue_e2e`` (shared by tests/test_venue_{mexc,bitmart,bing_x,bitrue}.py).

* ``SnapshotServer``: a venue whose every book push is the whole book (the server's true book,
  from ``_venue_e2e.Market``, written independently of hbconnect); subclasses encode frames.
* ``RestHarness``: the ``_venue_e2e.Harness`` for a venue whose snapshot comes from REST: the
  driver queues the tracker's snapshot requests and the harness answers each, a few frames later,
  with the server's true book at that moment (``Server.rest_body``).

* ``write_session``: a generated session in the recording format, with REST answers, for
  ``hbconnect replay`` (``_venue_e2e.write_recording``).
"""
from __future__ import annotations

from typing import Any

from _venue_e2e import Harness, RecordingDriver, Server, write_recording


class SnapshotServer(Server):
    """Every book push (tag "diff" so that faults aim at it) is the whole true book after the
    market moved; ``ts`` increases with every push."""

    in_flight = 1  # pushes still arriving after an unsubscribe

    def __init__(self, pairs, seed: int = 1, levels: int = 8, max_levels: int = 12) -> None:
        super().__init__(pairs, seed, levels, max_levels)
        self.ts = 1700000000000

    def snapshot(self, pair, m):
        self.ts += 7
        return self.push(pair, m, self.ts)

    def diff(self, pair, m, bids, asks):
        self.ts += 7
        return self.push(pair, m, self.ts)

    def push(self, pair: str, m: Any, ts: int) -> Any:
        raise NotImplementedError


class RestDriver(RecordingDriver):
    def __init__(self, server: Server) -> None:
        super().__init__(server)
        self.requests: list = []

    def request_snapshot(self, tb, req, gen, delay) -> None:
        self.requests.append((tb.pair, gen, req))


class RestHarness(Harness):
    """Harness whose tracker fetches snapshots over REST: answered ``lag`` frames later."""

    lag = 3

    def __init__(self, venue: Any, server: Server) -> None:
        self.venue = venue
        self.server = server
        self.driver = RestDriver(server)
        from hbconnect.market.tracker import OrderBookTracker

        self.tracker = OrderBookTracker(venue, server.pairs, driver=self.driver, stale_timeout=None)
        self.conn = self.tracker.connections[0]
        self.now = 0.0
        self.fed = 0
        self.waiting: list = []  # [frames to wait, pair, gen]
        self.tracker.connection_up(self.conn)

    def feed(self, frame: Any) -> None:
        for pair, gen, req in self.driver.requests:
            self.waiting.append([self.lag, pair, gen, req])
        self.driver.requests.clear()
        due = [w for w in self.waiting if w[0] <= 0]
        self.waiting = [w for w in self.waiting if w[0] > 0]
        for w in self.waiting:
            w[0] -= 1
        for _, pair, gen, req in due:
            self.tracker.on_snapshot(pair, gen, self.server.rest_body(pair, req))
        super().feed(frame)

    def settle(self, limit: int = 5000) -> None:
        for _ in range(limit):
            if not self.waiting and not self.driver.requests and all(
                    self.tracker.state(p).value == "live" for p in self.server.pairs):
                return
            frame, _, _ = self.server.next_frame()
            self.feed(frame)
        raise AssertionError("the tracker did not settle")


#: a generated session, with REST answers, in the recording format
write_session = write_recording


def books_equal(tracker: Any, server: Server, pair: str) -> bool:
    book = tracker.book(pair)
    bids, asks = server.markets[pair].book.levels()
    return ([list(x) for x in book.bids_text()] == [list(x) for x in bids]
            and [list(x) for x in book.asks_text()] == [list(x) for x in asks])


def snapshot_session_clean(venue: Any, server: Server, frames: int = 1500) -> Harness:
    """A clean session of a whole-book-push venue through the tracker: no gap, resync or bad
    frame; every push a snapshot; books equal to the server's true books; last trades as sent."""
    h = Harness(venue, server)
    h.run(frames)
    h.settle()
    t = h.totals()
    assert t["gaps"] == 0 and t["resyncs"] == 0 and t["tracker_bad_frames"] == 0, t
    for p in server.pairs:
        s = h.tracker.stats(p)
        assert s.state == "live" and s.snapshots == server.counts[p]["diff"] + 1 > 100, (p, s)
        assert books_equal(h.tracker, server, p), p
        tid, price, size, side = server.last_trade[p]
        lt = h.tracker.last_trade(p)
        assert (lt.trade_id, lt.price, lt.amount, lt.side) == (tid, price, size, side)
    return h


def snapshot_fault_run(venue: Any, server: Server, kind: str, ordered: bool = True) -> Harness:
    """A whole-book-push venue with fault ``kind`` injected: each push is the whole book, so a
    lost or repeated push is repaired by the next one; a late (swapped) push is older than the
    book and dropped when pushes are ``ordered`` (carry a time); unreadable frames are counted; a
    closed socket is resubscribed. Every book ends equal to the true one."""
    h = Harness(venue, server)
    h.run(400)
    assert all(books_equal(h.tracker, server, p) for p in server.pairs)
    before = h.totals()
    assert h.run(600, {0: kind}) == [kind]
    h.settle()
    t = h.totals()
    for p in server.pairs:
        assert h.tracker.state(p).value == "live" and books_equal(h.tracker, server, p), (kind, p)
    if kind == "swap" and ordered:
        assert t["stale_dropped"] == before["stale_dropped"] + 1, t
    if kind in ("corrupt", "truncate", "garbage"):
        assert t["tracker_bad_frames"] == before["tracker_bad_frames"] + 1, t
    if kind == "close":
        assert h.driver.sent.count(venue.subscribe_messages(server.pairs)[0]) == 2  # resubscribed
    return h
