"""End-to-end machinery for the snapshot-push venues (BitMart, BingX, Bitrue) and the REST-snapshot
venue MEXC, on top of ``_venue_e2e`` (shared by tests/test_venue_{mexc,bitmart,bing_x,bitrue}.py).

* ``SnapshotServer``: a venue whose every book push is the whole book (the server's true book,
  from ``_venue_e2e.Market``, written independently of hbconnect); subclasses encode frames.
* ``RestHarness``: the ``_venue_e2e.Harness`` for a venue whose snapshot comes from REST: the
  driver queues the tracker's snapshot requests and the harness answers each, a few frames later,
  with the server's true book at that moment (``Server.rest_body``).
* ``write_session``: a generated session in the recording format, with REST answers, for
  ``hbconnect replay``.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from _venue_e2e import Harness, RecordingDriver, Server


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


def write_session(path, url: str, sent: list, frames: list, pairs: list,
                  rest: Optional[list] = None) -> None:
    """A generated session in the recording format (``hbconnect.market.replay``): configuration,
    the connection and what the client sent, REST answers (url, body) just after, then frames
    (binary ones as Python bytes literals)."""
    ts = 1700000000.0
    with open(path, "w") as f:
        f.write("configuration: " + json.dumps({"books": pairs}) + "\n")
        f.write(f"{url} <-> {ts:.6f}\n")
        for text in sent:
            f.write(f"{url} <- {ts:.6f}: {text}\n")
        for rurl, body in rest or ():
            f.write(f"{rurl} -> {ts + 0.0005:.6f}: {body}\n")
        for frame in frames:
            ts += 0.001
            f.write(f"{ts:.6f}: {frame!r}\n" if isinstance(frame, bytes) else f"{ts:.6f}: {frame}\n")


def books_equal(tracker: Any, server: Server, pair: str) -> bool:
    book = tracker.book(pair)
    bids, asks = server.markets[pair].book.levels()
    return ([list(x) for x in book.bids_text()] == [list(x) for x in bids]
            and [list(x) for x in book.asks_text()] == [list(x) for x in asks])
