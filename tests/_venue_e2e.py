"""End-to-end harness for the in-band-snapshot venues (OKX, Bybit, Bitget, Coinbase).

A small simulated venue *server* evolves a true order book per pair at random and speaks the
venue's documented wire format: it answers the tracker's (re)subscriptions with an in-band
snapshot (after a few diffs still "in flight" on the old stream), numbers its frames the venue's
way and, for checksum venues, signs every book push with a CRC32 computed here from an
independent reference book (``zlib`` over the exact decimal text; nothing from hbconnect).
``run`` feeds its frames through ``OrderBookTracker.feed`` (the tracker's synchronous frame path)
with faults injected on the way, and ``settle`` waits until every pair is live again.
"""
from __future__ import annotations

import copy
import json
import os
import random
import zlib
from collections import deque
from decimal import Decimal
from typing import Any, Callable, Optional

from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    Heartbeat,
    Ignored,
    ParseError,
    Reconnect,
    Reply,
    Resync,
    Trade,
)
from hbconnect.market.tracker import OrderBookTracker, TrackerDriver

from venue_fuzz import assert_fuzz_total  # the hypothesis fuzzer shared by the venue tests

SOAK = int(os.environ.get("HBCONNECT_SOAK_SIZE", "0") or 0)
FAULTS = ("drop", "duplicate", "swap", "corrupt", "truncate", "garbage", "close")


def signed_crc32(text: str) -> int:
    v = zlib.crc32(text.encode())
    return v - (1 << 32) if v >= 1 << 31 else v


class RefBook:
    """Reference book: Decimal price -> (price text, size text) per side."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, tuple[str, str]] = {}
        self.asks: dict[Decimal, tuple[str, str]] = {}

    def snapshot(self, bids, asks) -> None:
        self.bids, self.asks = {}, {}
        self.apply(bids, asks)

    def apply(self, bids, asks) -> None:
        for side, rows in ((self.bids, bids), (self.asks, asks)):
            for p, s in rows:
                if Decimal(s) == 0:
                    side.pop(Decimal(p), None)
                else:
                    side[Decimal(p)] = (p, s)

    def levels(self) -> tuple[list, list]:
        bids = [self.bids[k] for k in sorted(self.bids, reverse=True)]
        asks = [self.asks[k] for k in sorted(self.asks)]
        return bids, asks

    def crc(self, depth: int = 25) -> int:
        bids, asks = self.levels()
        parts: list[str] = []
        for i in range(depth):
            if i < len(bids):
                parts += bids[i]
            if i < len(asks):
                parts += asks[i]
        return signed_crc32(":".join(parts))


class Market:
    """A pair's true book, moved by random level changes near the touch (never crossed)."""

    def __init__(self, rng: random.Random, mid: int, decimals: int, levels: int, max_levels: int):
        self.rng = rng
        self.decimals = decimals
        self.tick = Decimal(1).scaleb(-decimals)
        self.mid = Decimal(mid)
        self.max_levels = max_levels
        self.book = RefBook()
        self.book.snapshot(
            [(self.px(self.mid - self.tick * (i + 1)), self.size()) for i in range(levels)],
            [(self.px(self.mid + self.tick * (i + 1)), self.size()) for i in range(levels)],
        )

    def px(self, k: Decimal) -> str:
        return f"{k:.{self.decimals}f}"

    def size(self) -> str:
        return f"{self.rng.uniform(0.0001, 9):.4f}"  # keeps trailing zeros: exact text matters

    def step(self) -> tuple[list, list]:
        """1-4 level changes (at least one), applied to the true book and returned."""
        while True:
            bids, asks = self._changes()
            if bids or asks:
                return bids, asks

    def _changes(self) -> tuple[list, list]:
        bids: list = []
        asks: list = []
        for _ in range(self.rng.randint(1, 4)):
            is_bid = self.rng.random() < 0.5
            side = self.book.bids if is_bid else self.book.asks
            out = bids if is_bid else asks
            r = self.rng.random()
            if r < 0.25 and len(side) > 5:  # delete a level, mostly near the top
                keys = sorted(side, reverse=is_bid)
                k = keys[min(int(self.rng.expovariate(0.3)), len(keys) - 1)]
                change = (side[k][0], "0")
            elif r < 0.5 and len(side) < self.max_levels:  # a new level
                off = self.tick * self.rng.randint(1, self.max_levels)
                k = self.mid - off if is_bid else self.mid + off
                change = (self.px(k), self.size())
            elif side:  # a new size on an existing level
                keys = sorted(side, reverse=is_bid)
                k = keys[min(int(self.rng.expovariate(0.2)), len(keys) - 1)]
                change = (side[k][0], self.size())
            else:
                continue
            if any(c[0] == change[0] for c in out):
                continue  # one change per price per message
            out.append(change)
            self.book.apply([change] if is_bid else [], [] if is_bid else [change])
        return bids, asks

    def trade(self) -> tuple[str, str, str]:
        is_buy = self.rng.random() < 0.5
        side = self.book.asks if is_buy else self.book.bids
        price = side[min(side)][0] if is_buy else side[max(side)][0]
        return price, self.size(), "buy" if is_buy else "sell"


class Server:
    """The venue side of one connection. Subclasses encode the venue's frames."""

    in_flight = 2  # diffs of a pair still arriving after its unsubscribe
    decimals = 1

    def __init__(self, pairs, seed: int = 1, levels: int = 30, max_levels: int = 45) -> None:
        self.rng = random.Random(seed)
        self.pairs = list(pairs)
        self.markets = {
            p: Market(self.rng, 100 + 50 * i, self.decimals, levels, max_levels)
            for i, p in enumerate(self.pairs)
        }
        self.out: deque = deque()  # (frame, tag, pair)
        self.book_live: set = set()  # pairs whose book stream is on
        self.trades_on: set = set()
        self.closing: dict = {}  # pair -> diffs still in flight after an unsubscribe
        self.want_snapshot: set = set()
        self.last_trade: dict = {}
        self.counts = {p: {"diff": 0, "snapshot": 0, "checksummed": 0} for p in self.pairs}

    # -- the client's messages
    def on_client(self, text: str) -> None:
        for op, kind, pair in self.decode(text):
            if kind == "book":
                if op == "subscribe":
                    self.want_snapshot.add(pair)
                elif pair in self.book_live:
                    self.book_live.discard(pair)
                    self.closing[pair] = self.in_flight
            elif kind == "trades":
                (self.trades_on.add if op == "subscribe" else self.trades_on.discard)(pair)

    def disconnect(self) -> None:
        self.out.clear()
        self.book_live.clear()
        self.trades_on.clear()
        self.closing.clear()
        self.want_snapshot.clear()

    # -- frames
    def pending(self) -> bool:
        return bool(self.want_snapshot or self.closing)

    def next_frame(self) -> tuple[Any, str, Optional[str]]:
        while not self.out:
            self.tick()
        return self.out.popleft()

    def tick(self) -> None:
        rng = self.rng
        pair = rng.choice(self.pairs)
        m = self.markets[pair]
        if pair in self.want_snapshot and not self.closing.get(pair):
            self.want_snapshot.discard(pair)
            self.book_live.add(pair)
            self.counts[pair]["snapshot"] += 1
            self.out.append((self.snapshot(pair, m), "snapshot", pair))
            return
        r = rng.random()
        if r < 0.15 and pair in self.trades_on:
            price, size, side = m.trade()
            frame, trade_id = self.trade(pair, price, size, side)
            self.last_trade[pair] = (trade_id, price, size, side)
            self.out.append((frame, "trade", pair))
            return
        if r < 0.20:
            hb = self.heartbeat(pair)
            if hb is not None:
                self.out.append((hb, "heartbeat", None))
            return
        bids, asks = m.step()  # the market moves whether or not anyone listens
        if pair in self.book_live or self.closing.get(pair):
            if self.closing.get(pair):
                self.closing[pair] -= 1
                if not self.closing[pair]:
                    del self.closing[pair]
            self.counts[pair]["diff"] += 1
            self.out.append((self.diff(pair, m, bids, asks), "diff", pair))
        else:
            self.skipped(pair, m, bids, asks)

    # subclass API
    def decode(self, text: str) -> list[tuple[str, str, str]]:
        raise NotImplementedError

    def snapshot(self, pair: str, m: Market) -> Any:
        raise NotImplementedError

    def diff(self, pair: str, m: Market, bids: list, asks: list) -> Any:
        raise NotImplementedError

    def skipped(self, pair: str, m: Market, bids: list, asks: list) -> None:
        """The market moved while the pair's book stream was off (ids still advance)."""

    def trade(self, pair: str, price: str, size: str, side: str) -> tuple[Any, str]:
        raise NotImplementedError

    def heartbeat(self, pair: str) -> Any:
        return None

    #: "invalid": corrupt a price into text the book must reject; "value": change a size into
    #: another valid number (only a checksum can catch that)
    corrupt_mode = "invalid"

    def corrupt(self, frame: Any) -> Any:
        """A corrupted copy of a diff frame."""
        data = json.loads(frame)
        row = self.rows_of(data)[0]
        if self.corrupt_mode == "invalid":
            row[0] = row[0].replace("0", "O", 1) if "0" in row[0] else "x" + row[0]
        else:
            row[1] = "7.7777" if row[1] != "7.7777" else "8.8888"
        return json.dumps(data)

    def rows_of(self, data: dict) -> list:
        raise NotImplementedError


class RecordingDriver(TrackerDriver):
    def __init__(self, server: Server) -> None:
        self.server = server
        self.sent: list[str] = []
        self.reconnects: list[str] = []

    def send(self, conn, texts) -> None:
        for t in texts:
            self.sent.append(t)
            self.server.on_client(t)

    def reconnect(self, conn, reason: str) -> None:
        self.reconnects.append(reason)

    def request_snapshot(self, tb, req, gen, delay) -> None:
        raise AssertionError(f"in-band venue asked for a REST snapshot: {req}")


class Harness:
    def __init__(self, venue: Any, server: Server) -> None:
        self.venue = venue
        self.server = server
        self.driver = RecordingDriver(server)
        self.tracker = OrderBookTracker(venue, server.pairs, driver=self.driver, stale_timeout=None)
        assert len(self.tracker.connections) == 1
        self.conn = self.tracker.connections[0]
        self.now = 0.0
        self.fed = 0
        self.tracker.connection_up(self.conn)

    def feed(self, frame: Any) -> None:
        self.now += 0.001
        self.fed += 1
        self.tracker.feed(self.conn, frame, self.now)

    def run(self, n: int, faults: Optional[dict[int, str]] = None) -> list[str]:
        """Feed ``n`` server frames; ``faults[i]`` hits the first book diff at or after frame i
        of a pair that is live. Returns the faults applied."""
        todo = dict(faults or {})
        applied: list[str] = []
        i = 0
        while i < n:
            frame, tag, pair = self.server.next_frame()
            due = [k for k in todo if k <= i]
            if due and tag == "diff" and self.tracker.state(pair).value == "live":
                kind = todo.pop(due[0])
                applied.append(kind)
                self.inject(kind, frame, pair)
            else:
                self.feed(frame)
            i += 1
        return applied

    def inject(self, kind: str, frame: Any, pair: str) -> None:
        if kind == "drop":
            return
        if kind == "duplicate":
            self.feed(frame)
            self.feed(frame)
        elif kind == "swap":  # with the next diff of the same pair
            while True:
                nxt, tag, p = self.server.next_frame()
                if tag == "diff" and p == pair:
                    break
                self.feed(nxt)
            self.feed(nxt)
            self.feed(frame)
        elif kind == "corrupt":
            self.feed(self.server.corrupt(frame))
        elif kind == "truncate":
            self.feed(frame[: len(frame) // 2])
        elif kind == "garbage":
            self.feed("<html>502 Bad Gateway</html>")
        elif kind == "close":
            self.tracker.connection_down(self.conn, "socket closed (test)")
            self.server.disconnect()
            self.tracker.connection_up(self.conn)
        else:
            raise ValueError(kind)

    def settle(self, limit: int = 5000) -> None:
        """Run until every pair is live and no resubscription is under way."""
        for _ in range(limit):
            if not self.server.pending() and all(
                self.tracker.state(p).value == "live" for p in self.server.pairs
            ):
                return
            frame, _, _ = self.server.next_frame()
            self.feed(frame)
        raise AssertionError("the tracker did not settle")

    # -- checks
    def book_matches(self, pair: str) -> bool:
        book = self.tracker.book(pair)
        bids, asks = self.server.markets[pair].book.levels()
        return ([list(x) for x in book.bids_text()] == [list(x) for x in bids]
                and [list(x) for x in book.asks_text()] == [list(x) for x in asks])

    def totals(self) -> dict:
        out = {"gaps": 0, "checksums_failed": 0, "checksums_ok": 0, "resyncs": 0,
               "stale_dropped": 0, "bad_frames": 0, "diffs_applied": 0}
        for p in self.server.pairs:
            s = self.tracker.stats(p)
            for k in out:
                out[k] += getattr(s, k)
        out["tracker_bad_frames"] = self.tracker.bad_frames
        return out


def clean_session(venue: Any, server: Server, frames: int = 3000) -> Harness:
    h = Harness(venue, server)
    h.run(SOAK or frames)
    h.settle()
    return h


def assert_clean(h: Harness, checksummed: bool) -> None:
    t = h.totals()
    assert t["gaps"] == 0 and t["resyncs"] == 0, t
    assert t["checksums_failed"] == 0 and t["tracker_bad_frames"] == 0, t
    for p in h.server.pairs:
        s = h.tracker.stats(p)
        c = h.server.counts[p]
        assert s.state == "live"
        assert s.snapshots == c["snapshot"] == 1
        assert s.diffs_applied == c["diff"] > 100
        if checksummed:
            assert s.checksums_ok == c["checksummed"] == c["diff"] + c["snapshot"]
        else:
            assert s.checksums_ok == 0
        assert h.book_matches(p), p
        tid, price, size, side = h.server.last_trade[p]
        lt = h.tracker.last_trade(p)
        assert (lt.trade_id, lt.price, lt.amount, lt.side) == (tid, price, size, side)


def fault_session(venue: Any, server: Server, kind: str, at: int = 400,
                  after: int = 600) -> tuple[Harness, dict]:
    h = Harness(venue, server)
    h.run(at)
    assert all(h.book_matches(p) for p in server.pairs), "wrong before the fault"
    applied = h.run(after, {0: kind})
    assert applied == [kind]
    h.settle()
    totals = h.totals()
    for p in server.pairs:
        assert h.tracker.state(p).value == "live"
        assert h.book_matches(p), (kind, p, totals)
    return h, totals


def assert_sequenced_fault_repaired(h: Harness, t: dict, kind: str) -> None:
    """What a fault must do on a venue whose diffs carry consecutive ids: a repeat is stale and
    harmless; everything else is a counted resync, a lost/reordered/unreadable diff a gap, an
    unreadable frame a bad frame, and the venue's resync messages went out (but for a closed
    socket, whose reconnect resubscribes)."""
    if kind == "duplicate":
        assert t["stale_dropped"] >= 1 and t["resyncs"] == 0 and t["gaps"] == 0, t
        return
    assert t["resyncs"] >= 1, t
    if kind in ("drop", "swap", "truncate", "garbage"):
        assert t["gaps"] >= 1, t
    if kind in ("corrupt", "truncate", "garbage"):
        assert t["tracker_bad_frames"] >= 1, t
    if kind != "close":
        assert any(resync_messages_were_sent(h, p) for p in h.server.pairs)


def resync_messages_were_sent(h: Harness, pair: str) -> bool:
    msgs = h.venue.resync_messages(pair)
    sent = h.driver.sent
    return any(sent[i : i + len(msgs)] == msgs for i in range(len(sent)))


def write_recording(path, url: str, h_sent: list[str], frames: list, books: list[str]) -> None:
    """A generated session in the recording format (tests/data/recordings/README.md)."""
    ts = 1700000000.0
    with open(path, "w") as f:
        f.write("configuration: " + json.dumps({"books": books}) + "\n")
        f.write(f"{url} <-> {ts:.6f}\n")
        for text in h_sent:
            f.write(f"{url} <- {ts:.6f}: {text}\n")
        for frame in frames:
            ts += 0.001
            f.write(f"{ts:.6f}: {frame}\n")


def record_clean(server: Server, venue: Any, n: int) -> tuple[list[str], list]:
    """Subscribe all pairs and collect ``n`` frames from the server (no tracker involved)."""
    sent = venue.subscribe_messages(server.pairs)
    for t in sent:
        server.on_client(t)
    frames = [server.next_frame()[0] for _ in range(n)]
    while server.pending():
        frames.append(server.next_frame()[0])
    return sent, frames


def replay_generated_session(tmp_path, server: Server, venue: Any, registry_name: str,
                             frames: int = 2000) -> Any:
    """Record a clean generated session to a file, replay it through ``hbconnect replay``'s
    engine and check what every venue must give: no bad frame, gap, resync or checksum failure,
    and final top 5 levels equal to the server's true book. Returns the replay result."""
    from hbconnect.exchanges import market_data_venue
    from hbconnect.market.replay import replay

    sent, recorded = record_clean(server, venue, frames)
    path = tmp_path / f"{registry_name}.gen"
    write_recording(path, venue.ws_endpoint(None).url, sent, recorded, server.pairs)
    result = replay([path], market_data_venue(registry_name))
    assert result.frames == len(recorded) and result.bad_frames == 0
    for p in server.pairs:
        r = result.pairs[p]
        assert r["state"] == "live" and r["gaps"] == 0 and r["resyncs"] == 0, (p, r)
        assert r["checksums_failed"] == 0, (p, r)
        bids, asks = server.markets[p].book.levels()
        assert r["bids"] == [list(x) for x in bids[:5]] and r["asks"] == [list(x) for x in asks[:5]]
    return result


def replay_generated_cli(tmp_path, server: Server, venue: Any, registry_name: str, frames: int = 2000) -> dict:
    """Record a clean generated session to a file and replay it through the command line
    (``python -m hbconnect replay FILE --exchange NAME --json``): every frame read, no bad frame,
    and each pair live, without gap, resync or checksum failure, its top 5 levels equal to the
    server's true book. Returns the JSON report."""
    import subprocess
    import sys

    sent, recorded = record_clean(server, venue, frames)
    path = tmp_path / f"{registry_name}.gen"
    write_recording(path, venue.ws_endpoint(None).url, sent, recorded, server.pairs)
    out = subprocess.run([sys.executable, "-m", "hbconnect", "replay", str(path), "--exchange", registry_name,
                          "--json"], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["frames"] == len(recorded) and result["bad_frames_total"] == 0
    for p in server.pairs:
        r = result["pairs"][p]
        assert r["state"] == "live" and r["gaps"] == 0 and r["resyncs"] == 0 and r["checksums_failed"] == 0, r
        bids, asks = server.markets[p].book.levels()
        assert r["bids"] == [list(x) for x in bids[:5]] and r["asks"] == [list(x) for x in asks[:5]]
    return result


# ---- parse_message on frames mutated from the documented examples ----

_ODD_VALUES = (None, True, False, 0, -1, 1, 2 ** 64, -(2 ** 70), 1.5, "", "0", "-1", "abc", "NaN",
               "1e400", [], {}, [[]], [["1"]], [["1", "2"]], {"a": 1}, "x" * 300)


def _paths(node: Any, prefix: tuple = (), max_items: Optional[int] = None) -> list:
    """Every path into ``node``; ``max_items``: only the first items of each list (the rest of a
    level list is the same shape again)."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,), max_items)
    elif isinstance(node, list):
        for i, v in enumerate(node[:max_items]):
            out += _paths(v, prefix + (i,), max_items)
    return out


def single_mutations(examples: list):
    """Every example with exactly one element replaced by each odd value or removed, and every
    prefix-truncation at a few cut points: a deterministic sweep to go with the random fuzz."""
    for text in examples:
        doc = json.loads(text)
        for path in _paths(doc, max_items=2)[1:]:
            for replacement in (*_ODD_VALUES, _REMOVE):
                mutated = copy.deepcopy(doc)
                parent = mutated
                for key in path[:-1]:
                    parent = parent[key]
                if replacement is _REMOVE:
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = copy.deepcopy(replacement)
                yield json.dumps(mutated)
        compact = json.dumps(doc)
        for cut in range(0, len(compact), max(1, len(compact) // 16)):
            yield compact[:cut]


_REMOVE = object()


_EVENT_TYPES = (BookSnapshot, BookDiff, Trade, Reply, Reconnect, Resync, Heartbeat, Ignored)


def assert_parse_is_total(venue: Any, frame: Any) -> None:
    """``parse_message`` either translates the frame into a list of well-typed events or raises
    ParseError: nothing else may escape to the tracker, and no malformed value may reach it."""
    try:
        events = venue.parse_message(frame)
    except ParseError:
        return
    check_events(events)


def check_events(events: Any) -> None:
    """Events as the tracker needs them: known types, int ids, ``[price, size]`` text rows."""
    assert isinstance(events, list)
    for ev in events:
        assert isinstance(ev, _EVENT_TYPES), ev
        if isinstance(ev, Ignored):
            assert type(ev.what) is str, ev
        if isinstance(ev, (BookSnapshot, BookDiff)):
            assert type(ev.pair) is str and ev.pair.count("-") == 1, ev
            ids = (ev.update_id,) if isinstance(ev, BookSnapshot) else (ev.first_id, ev.last_id)
            assert all(type(i) is int for i in ids), ev
            for side in (ev.bids, ev.asks):  # the book's fast-path shape
                assert all(type(r) is list and len(r) == 2 and type(r[0]) is str
                           and type(r[1]) is str for r in side), ev
        elif isinstance(ev, Trade):
            assert all(type(v) is str and v for v in (ev.pair, ev.trade_id, ev.price, ev.amount)), ev
            assert ev.side in ("buy", "sell"), ev


def parse_totality_tests(examples: list, venues: Callable[[], tuple]) -> tuple:
    """The two robustness tests of a venue module's ``parse_message`` on its documented example
    frames: every single mutation (a deterministic sweep) and random multi-mutations (the shared
    hypothesis fuzzer of ``venue_fuzz``) give well-typed events or ParseError, nothing else.
    ``venues()`` returns the venue objects to feed (new ones when parsing keeps state). Bind the
    results to ``test_*`` names in the test module."""

    def test_single_mutations() -> None:
        targets = venues()
        for frame in single_mutations(examples):
            for venue in targets:
                assert_parse_is_total(venue, frame)

    def test_fuzzed_frames() -> None:
        for index in range(len(venues())):
            def parse(frame: Any, index: int = index) -> list:
                events = venues()[index].parse_message(frame)
                check_events(events)
                return events

            assert_fuzz_total(parse, examples, 150)

    return test_single_mutations, test_fuzzed_frames


__all__ = [
    "SOAK", "FAULTS", "signed_crc32", "RefBook", "Market", "Server", "Harness", "clean_session",
    "assert_clean", "fault_session", "resync_messages_were_sent", "assert_sequenced_fault_repaired", "write_recording",
    "record_clean", "replay_generated_session", "replay_generated_cli", "single_mutations", "assert_parse_is_total",
    "check_events", "parse_totality_tests",
]
