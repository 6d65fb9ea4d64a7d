"""OrderBookTracker: keeps the books of many pairs of one venue exactly in sync.

Design
    The frame-processing core is synchronous: ``feed(conn, raw, now)`` handles one received frame
    (venue parse -> sequence/connection checks -> sync policy -> book apply -> checksum ->
    notifications). The live loop (``start()``: websockets, REST snapshots, reconnects, stale
    detection) and the replay of recorded sessions (``hbconnect.market.replay``) both drive that
    same core; they differ only in the *driver* that performs the I/O the core asks for
    (``request_snapshot``, ``send``, ``reconnect``).

For venues that declare the shape of their diff frames (``venue.diff_frame``), the
instance's ``feed`` is the compiled fast path of ``hbconnect.market._fastpath``: it scans the frame
text itself and applies LIVE, in-sequence diffs with the same bookkeeping, and hands every other
frame (decoded) to the general path here, which alone decides sequence breaks, bad frames and
resyncs. ``fast_path=False`` turns it off (tests prove both give the same books and counters).

Per pair (``TrackedBook``): the ``OrderBook``, its state (SYNCING -> LIVE -> RESYNCING -> LIVE),
counters, last trade. A fault never raises out of ``feed``: bad frames are counted and logged
(rate-limited), never change a book; a lost or inconsistent update leads to a resync of that
pair only (new REST snapshot, or the venue's resync messages for in-band snapshots).
"""
from __future__ import annotations

import asyncio
import collections
import enum
import logging
import random
import time
import types
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from hbconnect.core.codecs import excerpt
from hbconnect.market._fastpath import ConnectionCore, FastFeed, TrackedBookCore
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    Heartbeat,
    Ignored,
    LostFrame,
    MarketDataVenue,
    Reconnect,
    Reply,
    RestRequest,
    Resync,
    SyncRule,
    Trade,
)
from hbconnect.market.notify import BookCallback, BookUpdate, Notifier, Subscription, TradeCallback
from hbconnect.market.sync import APPLY, STALE, TOO_OLD, SyncPolicy, policy_for

logger = logging.getLogger(__name__)

__all__ = [
    "BookState",
    "TrackedBook",
    "PairStats",
    "Connection",
    "BookUpdate",
    "Subscription",
    "OrderBookTracker",
    "TrackerDriver",
]


#: the market-data socket clients ``OrderBookTracker(ws_transport=...)`` accepts
WS_TRANSPORTS = ("lean", "aiohttp")


def _is_native_monotonic(clock: Callable[[], float]) -> bool:
    """True for the interpreter's own ``time.monotonic`` (which the fast path reads in C)."""
    return clock is time.monotonic and type(clock) is types.BuiltinFunctionType


class BookState(enum.Enum):
    SYNCING = "syncing"  # first sync: waiting for the snapshot
    LIVE = "live"  # in sync: diffs are applied as they come
    RESYNCING = "resyncing"  # was live, lost sync (gap, bad checksum, reconnect...): rebuilding


SYNCING = BookState.SYNCING
LIVE = BookState.LIVE
RESYNCING = BookState.RESYNCING


@dataclass
class PairStats:
    """Counters of one pair (a copy; ``TrackedBook.stats()``)."""

    pair: str
    state: str
    frames: int
    diffs_applied: int
    snapshots: int
    stale_dropped: int
    checksums_ok: int
    checksums_failed: int
    gaps: int
    resyncs: int
    bad_frames: int
    stale_streams: int
    snapshot_retries: int
    buffered: int
    last_update_id: int
    last_update_time: float  # venue time (s) of the last applied book message, 0 if unknown
    last_receive: float  # monotonic time of the last book message
    sync_retries: int = 0  # timed retries of a sync that got no usable snapshot in time

    def to_dict(self) -> dict:
        return asdict(self)


class TrackedBook(TrackedBookCore):
    """One pair: its book, sync state and counters. Read it, do not mutate it.

    ``pair``, ``book``, ``state``, ``last_id``, ``first``, ``frames``, ``diffs_applied``,
    ``last_update_time``, ``last_receive`` and ``checksums_ok`` live in the compiled base (the
    fast frame path reads and writes them in C)."""

    __slots__ = (
        "conn", "buffer", "gen", "last_trade",
        "snapshots", "stale_dropped", "checksums_failed",
        "gaps", "resyncs", "bad_frames", "stale_streams", "snapshot_retries",
        "snapshot_pending", "sync_retries", "attempts", "fail_streak", "retry_at",
        "sync_since", "live_since", "live_diffs", "last_error", "__weakref__",
    )

    def __init__(self, pair: str, book: Any, conn: "Connection") -> None:
        self.pair = pair
        self.book = book
        self.state = SYNCING
        self.conn = conn
        self.last_id = 0
        self.first = True
        self.buffer: list = []
        self.gen = 0
        self.last_trade: Optional[Trade] = None
        self.frames = 0
        self.diffs_applied = 0
        self.snapshots = 0
        self.stale_dropped = 0
        self.checksums_ok = 0
        self.checksums_failed = 0
        self.gaps = 0
        self.resyncs = 0
        self.bad_frames = 0
        self.stale_streams = 0
        self.snapshot_retries = 0
        self.last_update_time = 0.0
        self.last_receive = 0.0
        self.snapshot_pending = False
        self.sync_retries = 0
        self.attempts = 0  # timed retries since the sync began
        self.fail_streak = 0  # resyncs in a row without a healthy live period (backoff)
        self.retry_at = 0.0  # clock time of the next timed retry while not LIVE; 0: not armed
        self.sync_since = 0.0  # clock time the current sync attempt began
        self.live_since = 0.0
        self.live_diffs = 0
        self.last_error = ""  # why the last snapshot request failed ("" until one does)

    @property
    def live(self) -> bool:
        return self.state is LIVE

    def stats(self) -> PairStats:
        return PairStats(
            self.pair, self.state.value, self.frames, self.diffs_applied, self.snapshots,
            self.stale_dropped, self.checksums_ok, self.checksums_failed, self.gaps, self.resyncs,
            self.bad_frames, self.stale_streams, self.snapshot_retries, len(self.buffer), self.last_id,
            self.last_update_time, self.last_receive, self.sync_retries,
        )

    def __repr__(self) -> str:
        return f"<TrackedBook {self.pair} {self.state.value} id={self.last_id}>"


class Connection(ConnectionCore):
    """One market-data socket carrying ``pairs`` (``frames`` and ``last_frame`` live in the
    compiled base)."""

    __slots__ = ("id", "pairs", "up", "conn_seq", "bad_frames", "reconnects", "gaps",
                 "runner", "url", "last_error", "errors", "__weakref__")

    def __init__(self, conn_id: int, pairs: Iterable[str]) -> None:
        self.id = conn_id
        self.pairs: list[str] = list(pairs)
        self.up = False
        self.conn_seq: Optional[int] = None
        self.frames = 0
        self.bad_frames = 0
        self.reconnects = 0
        self.gaps = 0
        self.last_frame = 0.0
        self.runner: Any = None
        self.url = ""
        #: why the socket last failed or dropped (connect refused, DNS, closed by the venue...),
        #: "" until it does; ``errors`` counts such failures, connection attempts included
        self.last_error = ""
        self.errors = 0

    def __repr__(self) -> str:
        return f"<Connection {self.id} pairs={len(self.pairs)} up={self.up}>"


class TrackerDriver:
    """The I/O the synchronous core asks for. The live tracker and the replay implement it."""

    def request_snapshot(self, tb: TrackedBook, req: RestRequest, gen: int, delay: float) -> None:
        raise NotImplementedError

    def send(self, conn: Connection, texts: Sequence[str]) -> None:
        raise NotImplementedError

    def reconnect(self, conn: Connection, reason: str) -> None:
        raise NotImplementedError

    def reply(self, conn: Connection, texts: Sequence[str]) -> None:
        """Answers the venue asked for (pongs): never delayed by subscription pacing."""
        self.send(conn, texts)


class _NullDriver(TrackerDriver):
    def request_snapshot(self, tb: TrackedBook, req: RestRequest, gen: int, delay: float) -> None:
        pass

    def send(self, conn: Connection, texts: Sequence[str]) -> None:
        pass

    def reconnect(self, conn: Connection, reason: str) -> None:
        pass


class _LogLimiter:
    """At most ``burst`` log lines per ``interval`` seconds per key; counts what it suppressed."""

    __slots__ = ("clock", "interval", "burst", "_windows")

    def __init__(self, clock: Callable[[], float], interval: float = 10.0, burst: int = 5) -> None:
        self.clock = clock
        self.interval = interval
        self.burst = burst
        self._windows: dict[str, list] = {}

    def __call__(self, key: str, level: int, msg: str, *args: Any, exc_info: bool = False) -> None:
        now = self.clock()
        w = self._windows.get(key)
        if w is None or now - w[0] >= self.interval:
            if w is not None and w[2]:
                logger.log(level, "%s: %d similar messages suppressed", key, w[2])
            w = self._windows[key] = [now, 0, 0]
        if w[1] < self.burst:
            w[1] += 1
            logger.log(level, msg, *args, exc_info=exc_info)
        else:
            w[2] += 1



def _venue_signer(venue: Any, credentials: Any) -> Callable[[RestRequest], RestRequest]:
    """The tracker's signer from an account's credentials: the venue's ``sign_request`` at the
    wall-clock time of sending (a signature's timestamp must be fresh)."""

    def sign(req: RestRequest) -> RestRequest:
        return venue.sign_request(req, credentials, time.time())

    return sign


class OrderBookTracker(Notifier):
    """Tracks the order books of ``pairs`` on one venue.

    Live use::

        tracker = OrderBookTracker(market_data_venue("okx"), ["BTC-USDT", "ETH-USDT"])
        await tracker.start()
        await tracker.wait_ready()
        book = tracker.book("BTC-USDT")            # hbconnect.OrderBook
        async for ev in tracker.subscribe():      # BookUpdate / Trade
            ...
        await tracker.stop()

    ``feed(conn, raw, now)`` is the synchronous frame path, also used by replay and benchmarks.
    """

    def __init__(
        self,
        venue: MarketDataVenue,
        pairs: Sequence[str] = (),
        *,
        stale_timeout: Optional[float] = 60.0,
        max_buffer: int = 20_000,
        rest: Any = None,
        driver: Optional[TrackerDriver] = None,
        book_factory: Optional[Callable[[], Any]] = None,
        on_book: Optional[BookCallback] = None,
        on_trade: Optional[TradeCallback] = None,
        receive_timeout: float = 30.0,
        snapshot_concurrency: int = 8,
        snapshot_limit_id: Optional[str] = None,
        reconnect_backoff: tuple[float, float] = (0.5, 30.0),
        snapshot_backoff: tuple[float, float] = (0.5, 30.0),
        recorder: Any = None,
        throttler: Any = None,
        sync_timeout: Optional[float] = 10.0,
        sync_retry_max: float = 300.0,
        signer: Optional[Callable[[RestRequest], RestRequest]] = None,
        credentials: Any = None,
        name: str = "",
        fast_path: bool = True,
        ws_transport: str = "lean",
    ) -> None:
        if ws_transport not in WS_TRANSPORTS:
            raise ValueError(f"ws_transport must be one of {', '.join(WS_TRANSPORTS)}, not {ws_transport!r}")
        #: live mode: the market-data sockets' client: ``"lean"`` (``core/ws_feed.py``: frames from
        #: the socket's read callback straight to ``feed``) or ``"aiohttp"`` (``core/ws.py``)
        self.ws_transport = ws_transport
        if book_factory is None:
            from hbconnect import OrderBook

            book_factory = OrderBook
        self.venue = venue
        self.name = name or venue.name
        self.policy: SyncPolicy = policy_for(venue.sync_rule)
        self.stale_timeout = stale_timeout
        self.max_buffer = max_buffer
        self.max_depth: Optional[int] = venue.max_depth
        self.connection_sequence = bool(venue.connection_sequence)
        self._strict_start = bool(venue.strict_snapshot_start)
        self._snapshots_only = venue.sync_rule is SyncRule.SNAPSHOTS
        self._book_factory = book_factory
        self._parse = venue.parse_message
        self._check = self.policy.check
        #: hot-path shortcut: 1 ``first_id == last + 1`` continues the book (SEQ_RANGE,
        #: CONTIGUOUS); 2 ``prev_id == last`` does (PREV_CHAIN); 3 it does after the first diff
        #: (SEQ_RANGE_PREV); 0 always ask the policy
        self._fast = {SyncRule.SEQ_RANGE: 1, SyncRule.CONTIGUOUS: 1, SyncRule.PREV_CHAIN: 2,
                      SyncRule.SEQ_RANGE_PREV: 3}.get(venue.sync_rule, 0)
        self._checksum = venue.checksum
        self.books: dict[str, TrackedBook] = {}
        self.connections: list[Connection] = []
        self._next_conn_id = 0
        self.driver: TrackerDriver = driver or _NullDriver()
        self._book_callbacks: list[BookCallback] = [on_book] if on_book else []
        self._trade_callbacks: list[TradeCallback] = [on_trade] if on_trade else []
        self._subs: list[Subscription] = []
        self._notify_books = bool(self._book_callbacks)
        self._notify_trades = bool(self._trade_callbacks)
        self._log = _LogLimiter(lambda: self._clock())
        # tracker-wide counters
        self.frames = 0
        self.bad_frames = 0  # including those that cannot be attributed to a pair
        self.unknown_pair_messages = 0
        #: well-formed frames for nobody here: channels or instruments not subscribed (the venue
        #: module says ``Ignored``) or every message of the frame for an untracked pair
        self.ignored_frames = 0
        self.notify_errors = 0
        # live-mode settings
        self._rest = rest
        self.receive_timeout = receive_timeout
        self.snapshot_concurrency = snapshot_concurrency
        self.snapshot_limit_id = snapshot_limit_id
        self.reconnect_backoff = reconnect_backoff
        self.snapshot_backoff = snapshot_backoff
        #: live mode: a ``hbconnect.market.record.SessionRecorder`` that sees every frame/send/REST
        self.recorder = recorder
        #: live mode: REST snapshots go through this ``hbconnect.core.throttler.Throttler`` (limit id
        #: ``snapshot_limit_id``, default ``"GET <path>"``, when the throttler knows it)
        self.throttler = throttler
        #: a pair that is not LIVE this long after its sync began (no usable snapshot: REST keeps
        #: failing, the venue ignored the (re)subscription) is retried; the wait doubles per retry
        #: up to ``sync_retry_max`` (with jitter). None: never (replay: the recording decides).
        self.sync_timeout = sync_timeout
        self.sync_retry_max = sync_retry_max
        #: ``signer(RestRequest) -> RestRequest`` adds the venue's API-key auth to requests with
        #: ``auth=True`` (KuCoin's full book); called at send time so timestamps are fresh
        #: ``credentials`` (an ``hbconnect.core.Credentials``): the venue signs with them
        #: (``venue.sign_request``), the same object the trading engine signs orders with
        if signer is None and credentials is not None:
            signer = _venue_signer(venue, credentials)
        self.signer = signer
        self._fastpath: Optional[FastFeed] = None
        #: the clock of frames fed without ``now``, ``check_stale``, retries and log limits
        #: (replay sets the recorded time); the tracker never reads another
        self.clock = time.monotonic
        self._rand: Callable[[], float] = random.random
        self._live: Optional[_LiveDriver] = None
        # The compiled fast path (``hbconnect.market._fastpath``) for venues that declare the shape
        # of their diff frames: it applies LIVE in-sequence diffs and hands everything else to
        # the general path below, decoded. ``fast_path=False``: the general path only.
        spec = venue.diff_frame
        self._parse_decoded = spec.parse_decoded if spec is not None else None
        #: venue symbol -> pair of the tracked pairs, for a fast path whose venue has no table
        self._fast_symbols: Optional[dict] = None
        fast_rule = self._fast or {SyncRule.TIMESTAMP: 4, SyncRule.CHECKSUM: 6}.get(venue.sync_rule, 0)
        if self._snapshots_only and spec is not None and spec.snapshot:
            fast_rule = 5  # whole-book frames: read by the compiled path, dispatched here
        if fast_path and spec is not None and fast_rule and (not self.connection_sequence or spec.single_level):
            if spec.symbols is None:
                self._fast_symbols = {}
            self._fastpath = FastFeed(self, spec, fast_rule, LIVE, self._fast_symbols)
            self.feed = self._fastpath.feed  # type: ignore[method-assign]
            self.clock = self._clock  # tell the fast path which clock it is
        if pairs:
            self.add_pairs(pairs)

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        if self._fastpath is not None:
            self._fastpath.clock = None if _is_native_monotonic(clock) else clock

    # ------------------------------------------------------------------ pairs and connections
    def add_pairs(self, pairs: Iterable[str]) -> list[Connection]:
        """Add pairs, filling connections up to ``venue.max_pairs_per_connection``. In live mode
        the new pairs are subscribed (on a connection that is up) or get a new connection."""
        new = [p for p in dict.fromkeys(pairs) if p not in self.books]
        limit = max(1, int(self.venue.max_pairs_per_connection or 1))
        touched: list[Connection] = []
        for pair in new:
            conn = None
            if self.connections and len(self.connections[-1].pairs) < limit:
                conn = self.connections[-1]
            if conn is None:
                conn = self._new_connection([])
            conn.pairs.append(pair)
            self.books[pair] = TrackedBook(pair, self._book_factory(), conn)
            self._learn_symbol(pair)
            if conn not in touched:
                touched.append(conn)
        if self._live is not None:
            for conn in touched:
                self._live.pairs_added(conn, [p for p in new if self.books[p].conn is conn])
        return touched

    def add_pair(self, pair: str) -> None:
        self.add_pairs([pair])

    def remove_pair(self, pair: str) -> None:
        """Stop tracking ``pair`` (unsubscribes it in live mode)."""
        tb = self.books.pop(pair, None)
        if tb is None:
            return
        tb.gen += 1
        if self._fast_symbols is not None:
            for sym in [s for s, p in self._fast_symbols.items() if p == pair]:
                del self._fast_symbols[sym]
        conn = tb.conn
        if pair in conn.pairs:
            conn.pairs.remove(pair)
        if conn.up:
            self.driver.send(conn, self.venue.unsubscribe_messages([pair]))

    def _learn_symbol(self, pair: str) -> None:
        """The compiled path's symbol table: the pair's venue symbol, when the venue maps it
        back to the same pair (so both paths find the same book)."""
        if self._fast_symbols is None:
            return
        try:
            sym = self.venue.to_venue_symbol(pair)
            if self.venue.from_venue_symbol(sym) == pair:
                self._fast_symbols[sym] = pair
        except Exception:  # a pair the venue cannot name: its frames take the general path
            pass

    def _new_connection(self, pairs: Iterable[str]) -> Connection:
        conn = Connection(self._next_conn_id, pairs)
        self._next_conn_id += 1
        self.connections.append(conn)
        return conn

    def connection_for(self, pairs: Iterable[str]) -> Connection:
        """Manual mode (replay): a connection carrying ``pairs`` (moved from wherever they were)."""
        pairs = list(pairs)
        conn = self._new_connection([])
        for p in pairs:
            tb = self.books.get(p)
            if tb is None:
                self.books[p] = tb = TrackedBook(p, self._book_factory(), conn)
                self._learn_symbol(p)
            else:
                if p in tb.conn.pairs:
                    tb.conn.pairs.remove(p)
                tb.conn = conn
            conn.pairs.append(p)
        self.connections = [c for c in self.connections if c.pairs or c is conn]
        return conn

    # ------------------------------------------------------------------ queries
    def book(self, pair: str) -> Any:
        """The ``OrderBook`` of ``pair`` (check ``state(pair)`` before trusting it)."""
        return self.books[pair].book

    def state(self, pair: str) -> BookState:
        return self.books[pair].state

    def stats(self, pair: Optional[str] = None) -> Union[PairStats, dict[str, PairStats]]:
        if pair is not None:
            return self.books[pair].stats()
        return {p: tb.stats() for p, tb in self.books.items()}

    def last_trade(self, pair: str) -> Optional[Trade]:
        return self.books[pair].last_trade

    @property
    def ready(self) -> bool:
        """Every tracked pair is LIVE."""
        return bool(self.books) and all(tb.state is LIVE for tb in self.books.values())

    def status_dict(self) -> dict[str, bool]:
        return {p: tb.state is LIVE for p, tb in self.books.items()}

    # ------------------------------------------------------------------ the frame path
    def feed(self, conn: Connection, raw: Union[str, bytes], now: Optional[float] = None) -> None:
        """Process one received frame. Never raises; faults are counted, logged and repaired.

        (With a venue that declares ``diff_frame`` the instance's ``feed`` is the compiled fast
        path, which comes back here for everything but LIVE in-sequence diffs.)"""
        if now is None:
            now = self._clock()
        self.frames += 1
        conn.frames += 1
        conn.last_frame = now
        try:
            events = self._parse(raw)
        except Exception as exc:  # ParseError, DecodeError, or a venue-module bug: never raise out
            self._parse_failed(conn, raw, exc)
            return
        self._dispatch(conn, raw, now, events)

    _feed_general = feed

    def _feed_decoded(self, conn: Connection, raw: Union[str, bytes], now: float, msg: Any) -> None:
        """``feed`` of a frame the fast path already decoded to ``msg`` (the venue's
        ``diff_frame.parse_decoded`` translates it)."""
        self.frames += 1
        conn.frames += 1
        conn.last_frame = now
        try:
            events = self._parse_decoded(raw, msg)
        except Exception as exc:  # as in feed
            self._parse_failed(conn, raw, exc)
            return
        self._dispatch(conn, raw, now, events)

    def _dispatch(self, conn: Connection, raw: Union[str, bytes], now: float, events: list) -> None:
        ev = None
        unknown = self.unknown_pair_messages
        try:
            if self.connection_sequence and events and not self._conn_seq_ok(conn, events):
                return
            books = self.books
            fast = self._fast
            for ev in events:
                if type(ev) is BookDiff:
                    # The hot path, inlined: sequence check and book apply.
                    tb = books.get(ev.pair)
                    if tb is None:
                        self.unknown_pair_messages += 1
                        continue
                    tb.frames += 1
                    tb.last_receive = now
                    if tb.state is not LIVE:
                        self._buffer(tb, ev)
                        continue
                    last = tb.last_id
                    # The next update in sequence, decided without calling the policy (the
                    # policy returns APPLY for exactly these; everything else goes to it).
                    if fast == 1 and ev.first_id == last + 1 and ev.last_id > last:
                        v = APPLY
                    elif fast >= 2 and ev.prev_id == last and (fast == 2 or not tb.first):
                        v = APPLY
                    else:
                        v = self._check(last, ev, tb.first)
                    if v == APPLY:
                        self._apply_diff(tb, ev)
                    elif v == STALE:
                        tb.stale_dropped += 1
                    else:
                        self._sequence_break(tb, ev)
                else:
                    self._other_event(conn, ev, now)
        except Exception as exc:  # a tracker or venue bug: contain it to this frame
            self._internal_error(conn, getattr(ev, "pair", None), raw, exc)
            return
        if events and self.unknown_pair_messages - unknown == len(events):
            self.ignored_frames += 1

    def _parse_failed(self, conn: Connection, raw: Any, exc: BaseException) -> None:
        # A venue module may know whose frame it could not parse (Kraken: the channel id of a
        # truncated frame): that pair lost an update and must resync.
        pair = getattr(exc, "pair", None)
        tb = self.books.get(pair) if type(pair) is str else None
        self._bad_frame(conn, tb, raw, exc)
        if tb is not None:
            self._safe_resync(tb, "unparsable frame")
        elif isinstance(exc, LostFrame):  # any pair of the connection may have lost an update
            for p in conn.pairs:
                lost = self.books.get(p)
                if lost is not None:
                    self._safe_resync(lost, "unreadable frame")

    def _internal_error(self, conn: Connection, pair: Any, raw: Any, exc: BaseException) -> None:
        """An unexpected exception while processing a frame (a tracker/venue bug, an id the book
        cannot hold...): counted, logged, and the affected pair is rebuilt."""
        tb = self.books.get(pair) if type(pair) is str else None
        self._bad_frame(conn, tb, raw, exc, internal=True)
        if tb is not None:
            self._safe_resync(tb, f"internal error: {exc!r}")

    def _safe_resync(self, tb: TrackedBook, reason: str) -> None:
        try:
            self._resync(tb, reason)
        except Exception as exc:  # e.g. a venue bug in its subscribe messages: the timer retries
            if tb.state is LIVE:
                tb.state = RESYNCING
            tb.retry_at = 0.0
            self._log("internal", logging.ERROR, "%s %s: resync failed: %r", self.name, tb.pair, exc)

    def _other_event(self, conn: Connection, ev: Any, now: float) -> None:
        books = self.books
        t = type(ev)
        if t is Trade:
            tb = books.get(ev.pair)
            if tb is None:
                self.unknown_pair_messages += 1
                return
            tb.frames += 1
            tb.last_trade = ev
            if self._notify_trades:
                self._emit_trade(ev)
        elif t is BookSnapshot:
            tb = books.get(ev.pair)
            if tb is None:
                self.unknown_pair_messages += 1
                return
            tb.frames += 1
            tb.last_receive = now
            self._inband_snapshot(tb, ev)
        elif t is Reply:
            reply = getattr(self.driver, "reply", None) or self.driver.send
            reply(conn, [ev.text])
        elif t is Heartbeat:
            pass
        elif t is Ignored:
            self.ignored_frames += 1
        elif t is Resync:
            tb = books.get(ev.pair)
            if tb is not None:
                self._log("resync-req", logging.WARNING, "%s %s: venue asks for a resync: %s",
                          self.name, ev.pair, ev.reason)
                self.resync(ev.pair, ev.reason or "venue request")
        elif t is Reconnect:
            self._log("reconnect-req", logging.WARNING, "%s: venue asks to reconnect: %s",
                      self.name, ev.reason)
            self.driver.reconnect(conn, ev.reason or "venue request")

    def _apply_failed(self, tb: TrackedBook, d: Any, exc: BaseException) -> None:
        # The book rejected the batch atomically (unchanged) but the update is lost: resync.
        self._bad_frame(tb.conn, tb, d, exc)
        self._resync(tb, f"bad update: {exc}")

    def _apply_diff(self, tb: TrackedBook, d: BookDiff) -> None:
        """Apply one diff the sync policy accepted."""
        try:
            tb.book.apply_diffs(d.bids, d.asks, d.last_id)
        except Exception as exc:
            self._apply_failed(tb, d, exc)
            return
        tb.last_id = d.last_id
        tb.first = False
        tb.diffs_applied += 1
        if d.timestamp:
            tb.last_update_time = d.timestamp
        if self.max_depth is not None:
            tb.book.truncate(self.max_depth)
        if d.checksum is not None and not self._verify(tb, d.checksum):
            return
        if self._notify_books:
            self._emit_book(tb, False)

    def _verify(self, tb: TrackedBook, expected: int) -> bool:
        try:
            got = self._checksum(tb.book)
        except Exception as exc:
            self._log("checksum-err", logging.ERROR, "%s %s: checksum computation failed: %r",
                      self.name, tb.pair, exc)
            got = None
        if got == expected:
            tb.checksums_ok += 1
            return True
        tb.checksums_failed += 1
        self._log("checksum", logging.WARNING, "%s %s: checksum mismatch (venue %s, book %s)", self.name,
                  tb.pair, expected, got)
        self._resync(tb, "checksum mismatch")
        return False

    def _buffer(self, tb: TrackedBook, d: BookDiff) -> None:
        buf = tb.buffer
        if len(buf) >= self.max_buffer:
            self._log("buffer", logging.WARNING, "%s %s: %d diffs buffered without a snapshot; restarting",
                      self.name, tb.pair, len(buf))
            buf.clear()
            self._resync(tb, "buffer overflow")
        buf.append(d)

    def _sequence_break(self, tb: TrackedBook, d: BookDiff) -> None:
        if tb.first and self.venue.snapshot_request(tb.pair) is not None:
            # Right after a REST snapshot: the snapshot predates the stream (its id below the first buffered diff's).
            tb.snapshot_retries += 1
            self._log("too-old", logging.INFO, "%s %s: snapshot %d older than stream (%d..%d); refetching",
                      self.name, tb.pair, tb.last_id, d.first_id, d.last_id)
            self._restart(tb, d, count=False)
        else:
            tb.gaps += 1
            self._log("gap", logging.WARNING, "%s %s: sequence gap (book %d, update %s..%d prev %s); resync",
                      self.name, tb.pair, tb.last_id, d.first_id, d.last_id, d.prev_id)
            self._restart(tb, d, count=True)

    def _restart(self, tb: TrackedBook, d: Optional[BookDiff], count: bool) -> None:
        self._resync(tb, "sequence break", count=count)
        if d is not None and self.venue.snapshot_request(tb.pair) is not None:
            tb.buffer.append(d)  # the update that revealed the gap belongs after the next snapshot

    def _inband_snapshot(self, tb: TrackedBook, s: BookSnapshot) -> None:
        if self._snapshots_only and tb.state is LIVE and s.update_id and s.update_id < tb.last_id:
            tb.stale_dropped += 1  # an older full snapshot overtaken by a newer one
            return
        tb.gen += 1  # supersedes any outstanding snapshot request
        tb.snapshot_pending = False
        buf = tb.buffer
        if buf and (not self.policy.orders_buffer or not s.update_id):
            # On one connection everything received before an in-band snapshot is already in it;
            # without ids to order them, re-applying those diffs would corrupt the new book.
            tb.stale_dropped += len(buf)
            buf.clear()
        self._apply_snapshot(tb, s)

    def _apply_snapshot(self, tb: TrackedBook, s: BookSnapshot) -> None:
        buf = tb.buffer
        if buf and self.policy.snapshot_verdict(s.update_id, buf[0], self._strict_start) == TOO_OLD:
            tb.snapshot_retries += 1
            self._log("too-old", logging.INFO, "%s %s: snapshot %d older than first buffered update %d; "
                      "refetching", self.name, tb.pair, s.update_id, buf[0].first_id)
            self._request_snapshot(tb, delay=self.snapshot_backoff[0])
            return
        try:
            tb.book.apply_snapshot(s.bids, s.asks, s.update_id)
        except Exception as exc:  # ValueError/TypeError, OverflowError (an id beyond int64)...
            self._bad_frame(tb.conn, tb, s, exc)
            buf.clear()
            self._resync(tb, f"bad snapshot: {exc!r}", count=False)
            return
        tb.snapshots += 1
        tb.last_id = s.update_id
        tb.first = True
        if not tb.last_receive:
            tb.last_receive = tb.conn.last_frame or self._clock()  # the stale clock starts with the book
        if s.timestamp:
            tb.last_update_time = s.timestamp
        tb.state = LIVE
        tb.retry_at = 0.0
        tb.attempts = 0
        tb.live_since = self.clock()
        tb.live_diffs = tb.diffs_applied
        if self.max_depth is not None:
            tb.book.truncate(self.max_depth)
        if s.checksum is not None and not self._verify(tb, s.checksum):
            return
        if buf:
            tb.buffer = []
            check = self._check
            for d in buf:
                if tb.state is not LIVE:
                    tb.buffer.append(d)  # a break happened: the rest waits for the next snapshot
                    continue
                v = check(tb.last_id, d, tb.first)
                if v == APPLY:
                    self._apply_diff(tb, d)
                elif v == STALE:
                    tb.stale_dropped += 1
                else:
                    self._sequence_break(tb, d)
        if tb.state is LIVE and self._notify_books:
            self._emit_book(tb, True)

    def _conn_seq_ok(self, conn: Connection, events: list) -> bool:
        """Per-connection sequence (Coinbase): False when the whole frame is a duplicate."""
        seq = None
        for ev in events:
            seq = getattr(ev, "conn_seq", None)
            if seq is not None:
                break
        if seq is None:
            return True
        last = conn.conn_seq
        if last is not None:
            if seq <= last:
                for ev in events:
                    tb = self.books.get(getattr(ev, "pair", ""))
                    if tb is not None:
                        tb.stale_dropped += 1
                return False
            if seq != last + 1:
                conn.gaps += 1
                self._log("conn-gap", logging.WARNING, "%s conn %d: connection sequence gap %d -> %d; "
                          "resync of its %d pairs", self.name, conn.id, last, seq, len(conn.pairs))
                conn.conn_seq = seq
                for p in list(conn.pairs):
                    tb = self.books.get(p)
                    if tb is not None and tb.state is LIVE:
                        tb.gaps += 1
                        self._resync(tb, "connection sequence gap")
                return True
        conn.conn_seq = seq
        return True

    def _bad_frame(self, conn: Connection, tb: Optional[TrackedBook], raw: Any, exc: BaseException,
                   internal: bool = False) -> None:
        self.bad_frames += 1
        conn.bad_frames += 1
        if tb is not None:
            tb.bad_frames += 1
        what = tb.pair if tb is not None else f"conn {conn.id}"
        if internal:
            self._log("internal", logging.ERROR, "%s %s: error processing frame %s: %r", self.name, what,
                      excerpt(raw), exc)
        else:
            self._log("bad-frame", logging.WARNING, "%s %s: bad frame (%s) %s", self.name, what, exc,
                      excerpt(raw) if isinstance(raw, (str, bytes)) else "")

    # ------------------------------------------------------------------ resync
    def resync(self, pair: str, reason: str = "requested") -> None:
        """Rebuild the book of ``pair`` (the other pairs are not disturbed)."""
        tb = self.books.get(pair)
        if tb is not None:
            self._resync(tb, reason)

    def _resync(self, tb: TrackedBook, reason: str, count: bool = True) -> None:
        now = self.clock()
        if tb.state is LIVE:
            tb.state = RESYNCING
            if tb.diffs_applied - tb.live_diffs >= 10 or now - tb.live_since >= self._healthy_after:
                tb.fail_streak = 0  # it was healthy for a while: this is a fresh incident
        tb.fail_streak += 1
        if count:
            tb.resyncs += 1
        tb.gen += 1
        tb.buffer.clear()
        tb.retry_at = 0.0
        # The book keeps its last good levels (a bad frame never changes it); the state says it
        # is not to be trusted until the next snapshot replaces it wholesale.
        if not tb.conn.up:
            return  # the reconnect resyncs every pair on the connection
        # Resyncs in a row without a healthy live period back off (a snapshot the book rejects,
        # a checksum that fails at once...): never hammer the venue.
        self._start_sync(tb, resubscribe=False, delay=self._fail_delay(tb))

    @property
    def _healthy_after(self) -> float:
        return self.sync_timeout if self.sync_timeout is not None else 10.0

    def _jittered(self, base: float, n: int, cap: float, up: bool = False) -> float:
        """``base * 2**n`` capped at ``cap``, jittered: down to half (retry delays) or up to half
        more (timeouts, which must never be shorter than asked)."""
        d = min(cap, base * 2.0 ** min(n, 40))
        r = self._rand()
        return d * (1.0 + 0.5 * r) if up else d * (1.0 - 0.5 * r)

    def _fail_delay(self, tb: TrackedBook) -> float:
        if tb.fail_streak <= 1:
            return 0.0
        base, cap = self.snapshot_backoff
        return self._jittered(base, tb.fail_streak - 2, cap)

    def _start_sync(self, tb: TrackedBook, resubscribe: bool, delay: float = 0.0) -> None:
        venue = self.venue
        if resubscribe:
            paced = self.driver.send(tb.conn, list(venue.unsubscribe_messages([tb.pair]))
                                     + list(venue.subscribe_messages([tb.pair])))
            if type(paced) is float and paced > delay:
                delay = paced  # the snapshot must not predate the renewed subscription
        req = venue.snapshot_request(tb.pair)
        if req is not None:
            self._request_snapshot(tb, delay, req)
        elif not resubscribe:
            if delay > 0 and self.sync_timeout is not None:
                tb.retry_at = self.clock() + delay  # the timer sends the resync messages then
                tb.sync_since = self.clock()
                return
            msgs = venue.resync_messages(tb.pair)
            if not msgs:  # no dedicated way: resubscribing brings a fresh in-band snapshot
                msgs = list(venue.unsubscribe_messages([tb.pair])) + list(venue.subscribe_messages([tb.pair]))
            self.driver.send(tb.conn, msgs)

    def _request_snapshot(self, tb: TrackedBook, delay: float = 0.0, req: Optional[RestRequest] = None) -> None:
        if req is None:
            req = self.venue.snapshot_request(tb.pair)
            if req is None:
                return
        tb.gen += 1
        tb.snapshot_pending = True
        if self.sync_timeout is not None:
            # the timed retry counts from when this request is due, never cutting a backoff short
            now = self.clock()
            tb.retry_at = now + delay + self._jittered(self.sync_timeout, tb.attempts, self.sync_retry_max, up=True)
            tb.sync_since = now
        self.driver.request_snapshot(tb, req, tb.gen, delay)

    def on_snapshot(self, pair: str, gen: int, body: bytes) -> None:
        """A REST snapshot body arrived for request generation ``gen`` (outdated ones are ignored)."""
        tb = self.books.get(pair)
        if tb is None or gen != tb.gen:
            return
        tb.snapshot_pending = False
        try:
            snap = self.venue.parse_snapshot(pair, body)
        except Exception as exc:
            self._bad_frame(tb.conn, tb, body, exc)
            self.on_snapshot_failed(pair, gen, exc)
            return
        try:
            self._apply_snapshot(tb, snap)
        except Exception as exc:  # contain bugs like feed() does; the pair must not stay stuck
            self._internal_error(tb.conn, pair, body, exc)

    def on_snapshot_failed(self, pair: str, gen: int, exc: BaseException, retry_delay: Optional[float] = None) -> None:
        """The snapshot request failed: try again after a delay (the driver's backoff)."""
        tb = self.books.get(pair)
        if tb is None or gen != tb.gen:
            return
        tb.snapshot_pending = False
        tb.snapshot_retries += 1
        tb.fail_streak += 1
        tb.last_error = f"snapshot request failed: {exc}"
        self._log("snapshot-fail", logging.WARNING, "%s %s: snapshot failed: %s", self.name, pair, exc)
        if tb.conn.up:
            if retry_delay is None:
                retry_delay = self._jittered(self.snapshot_backoff[0], tb.fail_streak - 1, self.snapshot_backoff[1])
            self._request_snapshot(tb, retry_delay)

    # ------------------------------------------------------------------ connection events
    def connection_up(self, conn: Connection) -> None:
        """The socket of ``conn`` is open: subscribe its pairs and (re)sync all of them."""
        if conn.up:
            self.connection_down(conn, "reopened")
        conn.up = True
        conn.conn_seq = None
        paced = self.driver.send(conn, self.venue.subscribe_messages(conn.pairs)) if conn.pairs else None
        # snapshots wait for the (paced) subscriptions to be out, so they never predate the stream
        delay = paced if type(paced) is float else 0.0
        for p in conn.pairs:
            tb = self.books.get(p)
            if tb is None:
                continue
            tb.gen += 1
            tb.buffer.clear()
            tb.first = True
            tb.retry_at = 0.0
            if tb.state is not SYNCING:
                tb.state = RESYNCING
            req = self.venue.snapshot_request(p)
            if req is not None:
                self._request_snapshot(tb, delay, req)

    def connection_down(self, conn: Connection, reason: str = "", count: bool = True) -> None:
        """The socket of ``conn`` dropped: every pair on it must resync after the reconnect.
        ``count=False`` when we close it ourselves (stop)."""
        if not conn.up:
            return
        conn.up = False
        if count:
            conn.reconnects += 1
        for p in conn.pairs:
            tb = self.books.get(p)
            if tb is None:
                continue
            if tb.state is LIVE:
                tb.state = RESYNCING
                if count:
                    tb.resyncs += 1
            tb.gen += 1
            tb.buffer.clear()
            tb.snapshot_pending = False
            tb.retry_at = 0.0

    def check_stale(self, now: Optional[float] = None) -> list[str]:
        """The watchdog (live mode calls it a few times per ``stale_timeout``):

        * resync LIVE pairs whose stream sent no book message for ``stale_timeout`` while their
          connection is up (resubscribe + new snapshot);
        * retry pairs that are still waiting for a usable snapshot ``sync_timeout`` after their
          sync began (REST refetch, plus a resubscription when no book message came; in-band
          venues: their resync messages), backing off exponentially with jitter.

        Returns the stale pairs it restarted."""
        if now is None:
            now = self.clock()
        stale: list[str] = []
        if self.sync_timeout is not None:
            for tb in self.books.values():
                if tb.state is not LIVE and tb.conn.up:
                    if not tb.retry_at:
                        tb.retry_at = now + self._jittered(self.sync_timeout, tb.attempts, self.sync_retry_max, up=True)
                        tb.sync_since = now
                    elif now >= tb.retry_at:
                        self._sync_retry(tb, now)
        if self.stale_timeout is None:
            return stale
        limit = now - self.stale_timeout
        for tb in self.books.values():
            if tb.state is LIVE and tb.conn.up and tb.last_receive and tb.last_receive < limit:
                stale.append(tb.pair)
                tb.stale_streams += 1
                tb.last_receive = now
                self._log("stale", logging.WARNING, "%s %s: no book message for %.0fs; resubscribing", self.name,
                          tb.pair, self.stale_timeout)
                tb.state = RESYNCING
                tb.resyncs += 1
                tb.gen += 1
                tb.buffer.clear()
                tb.retry_at = 0.0
                self._start_sync(tb, resubscribe=True)
        return stale

    def _sync_retry(self, tb: TrackedBook, now: float) -> None:
        """The sync of ``tb`` got no usable snapshot in time: ask again (bounded by the backoff)."""
        tb.sync_retries += 1
        tb.attempts += 1
        rest = self.venue.snapshot_request(tb.pair) is not None
        # No book message since the sync began: the venue refused or ignored the subscription.
        silent = tb.last_receive < tb.sync_since
        self._log("sync-retry", logging.WARNING, "%s %s: still %s %.1fs after the sync began (%s); retry %d",
                  self.name, tb.pair, tb.state.value, now - tb.sync_since,
                  "snapshot pending" if tb.snapshot_pending else ("no book message" if silent else "no snapshot"),
                  tb.attempts)
        tb.gen += 1
        tb.snapshot_pending = False
        if silent or not rest:
            tb.buffer.clear()
        tb.retry_at = now + self._jittered(self.sync_timeout or 10.0, tb.attempts, self.sync_retry_max, up=True)
        tb.sync_since = now
        try:
            self._start_sync(tb, resubscribe=rest and silent)
        except Exception as exc:
            self._log("internal", logging.ERROR, "%s %s: sync retry failed: %r", self.name, tb.pair, exc)

    # ------------------------------------------------------------------ live mode
    async def start(self) -> None:
        """Open the connections and start syncing (returns at once; see ``wait_ready``)."""
        if self._live is not None:
            return
        self._live = _LiveDriver(self)
        self.driver = self._live
        await self._live.start()

    async def stop(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            await live.stop()
        for sub in list(self._subs):
            sub.close()

    async def wait_ready(self, timeout: Optional[float] = None) -> bool:
        """Wait until every pair is LIVE; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self.ready:
            if deadline is not None and loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def __aenter__(self) -> "OrderBookTracker":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


class _Outbox:
    """The paced send queue of one connection (``venue.ws_message_rate`` and
    ``ws_subscriptions_per_hour``); one sender task drains it in order."""

    __slots__ = ("pacer", "queue", "task", "sent")

    def __init__(self, pacer: Any) -> None:
        self.pacer = pacer
        self.queue: collections.deque = collections.deque()
        self.task: Optional[asyncio.Task] = None
        self.sent = 0


class _AuthMissing(RuntimeError):
    """A signed request could not be signed (no signer, or the signer failed)."""


class _LiveDriver(TrackerDriver):
    """Websockets (one ``ReconnectingWs`` per connection), REST snapshots with retry/backoff and a
    concurrency cap, paced outgoing messages, and the stale-stream / sync-retry watchdog."""

    def __init__(self, tracker: OrderBookTracker) -> None:
        from hbconnect.core.backoff import Backoff
        from hbconnect.market.pacing import connect_pacer

        self.t = tracker
        self._outboxes: dict[int, _Outbox] = {}
        self._connect_pacer = connect_pacer(tracker.venue)
        self._Backoff = Backoff
        self._tasks: set[asyncio.Task] = set()
        self._runners: dict[int, Any] = {}
        self._sem = asyncio.Semaphore(max(1, tracker.snapshot_concurrency))
        self._snap_backoff: dict[str, Any] = {}
        self._own_rest = False
        self._session: Any = None
        self._stopping = False

    async def start(self) -> None:
        import aiohttp

        from hbconnect.core.rest import RestClient

        t = self.t
        if t._rest is None:
            t._rest = RestClient(name=t.name, throttler=t.throttler)
            self._own_rest = True
        self._session = aiohttp.ClientSession()
        if t.signer is None:
            for p in list(t.books)[:1]:
                req = t.venue.snapshot_request(p)
                if req is not None and req.auth:
                    logger.error("%s: snapshots need API-key signed requests (RestRequest.auth) but the tracker "
                                 "has no signer: pass OrderBookTracker(signer=...)", t.name)
        for conn in list(t.connections):
            self._start_conn(conn)
        if t.stale_timeout is not None or t.sync_timeout is not None:
            self._spawn(self._watchdog())

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _start_conn(self, conn: Connection) -> None:
        from hbconnect.core.ws import ReconnectingWs, WsConnection
        from hbconnect.core.ws_feed import FeedWsConnection

        t = self.t
        ws_class = WsConnection if t.ws_transport == "aiohttp" else FeedWsConnection

        rec = t.recorder

        async def connect() -> WsConnection:
            pacer = self._connect_pacer
            if pacer.limited:  # the venue's new-connections-per-second limit (OKX 3/s)
                loop = asyncio.get_running_loop()
                wait = pacer.reserve(loop.time(), False) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            req = t.venue.connect_request()
            body = await t._rest.execute(req) if req is not None else None
            if rec is not None and body is not None:
                rec.rest(req.url, req.params, body)
            ep = t.venue.ws_endpoint(body)
            conn.url = ep.url
            ws = await ws_class.from_endpoint(ep, receive_timeout=t.receive_timeout,
                                              session=self._session, name=f"{t.name}#{conn.id}").open()
            if rec is not None:
                rec.opened(conn.id, ep.url)
            return ws

        async def on_open(ws: WsConnection) -> None:
            box = self._outboxes.get(conn.id)
            if box is not None:  # a new socket: the venue's per-connection budgets start afresh
                box.queue.clear()
                box.pacer.reset()
            t.connection_up(conn)

        if rec is None:
            def on_frame(raw: Any) -> None:
                t.feed(conn, raw)
        else:
            def on_frame(raw: Any) -> None:
                rec.received(conn.id, raw)
                t.feed(conn, raw)

        def on_close(err: Optional[BaseException]) -> None:
            if err is not None and not self._stopping:
                conn.errors += 1
                conn.last_error = str(err)
            if rec is not None and not self._stopping:
                rec.closed(conn.id, conn.url)
            t.connection_down(conn, str(err or ""), count=not self._stopping)

        runner = ReconnectingWs(connect, on_frame, on_open=on_open, on_close=on_close,
                                backoff=self._Backoff(*t.reconnect_backoff), name=f"{t.name}#{conn.id}")
        conn.runner = runner
        self._runners[conn.id] = runner
        self._spawn(runner.run())

    def pairs_added(self, conn: Connection, pairs: list[str]) -> None:
        if conn.id not in self._runners:
            self._start_conn(conn)
            return
        if conn.up and pairs:
            delay = self.send(conn, self.t.venue.subscribe_messages(pairs))
            for p in pairs:
                tb = self.t.books[p]
                req = self.t.venue.snapshot_request(p)
                if req is not None:
                    self.t._request_snapshot(tb, delay, req)

    # driver API
    def send(self, conn: Connection, texts: Sequence[str]) -> float:
        """Subscribe / unsubscribe / resync messages: queued in order, paced per the venue.
        Returns about how long until the last of them goes out."""
        if not texts:
            return 0.0
        box = self._outboxes.get(conn.id)
        if box is None:
            from hbconnect.market.pacing import venue_pacer

            box = self._outboxes[conn.id] = _Outbox(venue_pacer(self.t.venue))
        box.queue.extend(texts)
        if box.task is None or box.task.done():
            box.task = self._spawn(self._drain(conn, box))
        return box.pacer.backlog(len(box.queue), asyncio.get_running_loop().time())

    def reply(self, conn: Connection, texts: Sequence[str]) -> None:
        """Pongs go out at once (a late pong costs the connection); they use up message slots."""
        box = self._outboxes.get(conn.id)
        if box is not None and box.pacer.limited:
            now = asyncio.get_running_loop().time()
            for _ in texts:
                box.pacer.reserve(now, False)
        ws = conn.runner.connection if conn.runner is not None else None
        if ws is not None and texts:
            self._spawn(self._send_now(conn, ws, list(texts)))

    async def _send_now(self, conn: Connection, ws: Any, texts: list[str]) -> None:
        from hbconnect.core.ws import WsClosed

        rec = self.t.recorder
        try:
            for text in texts:
                await ws.send(text)
                if rec is not None:
                    rec.sent(conn.id, ws.url, text)
        except WsClosed as exc:
            logger.info("%s: send failed: %s", self.t.name, exc)

    async def _drain(self, conn: Connection, box: _Outbox) -> None:
        from hbconnect.core.ws import WsClosed

        loop = asyncio.get_running_loop()
        rec = self.t.recorder
        pacer = box.pacer
        while box.queue:
            if pacer.limited:
                slot = pacer.reserve(loop.time())
                while loop.time() < slot:
                    await asyncio.sleep(slot - loop.time())
                if not box.queue:  # cleared by a reconnect meanwhile
                    break
            text = box.queue.popleft()
            ws = conn.runner.connection if conn.runner is not None else None
            if ws is None or not conn.up:
                box.queue.clear()  # the socket is gone: the reconnect subscribes afresh
                break
            try:
                await ws.send(text)
            except WsClosed as exc:
                logger.info("%s: send failed: %s", self.t.name, exc)
                box.queue.clear()
                break
            box.sent += 1
            if pacer.limited:
                pacer.sent(loop.time())
            if rec is not None:
                rec.sent(conn.id, ws.url, text)

    def reconnect(self, conn: Connection, reason: str) -> None:
        if conn.runner is not None:
            conn.runner.reconnect_now()

    def request_snapshot(self, tb: TrackedBook, req: RestRequest, gen: int, delay: float) -> None:
        self._spawn(self._snapshot(tb.pair, req, gen, delay))

    async def _snapshot(self, pair: str, req: RestRequest, gen: int, delay: float) -> None:
        t = self.t
        if delay > 0:
            await asyncio.sleep(delay)
        tb = t.books.get(pair)
        if tb is None or tb.gen != gen:
            return
        async with self._sem:
            tb = t.books.get(pair)
            if tb is None or tb.gen != gen:
                return
            limit_id, weights = self._limit(req)
            try:
                if req.auth:
                    body = await self._signed(req, limit_id, weights)
                else:
                    body = await t._rest.execute(req, limit_id=limit_id, weights=weights)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                b = self._snap_backoff.setdefault(pair, self._Backoff(*t.snapshot_backoff))
                t.on_snapshot_failed(pair, gen, exc, retry_delay=b.next_delay())
                return
        self._snap_backoff.pop(pair, None)
        if t.recorder is not None:
            t.recorder.rest(req.url, req.params, body)
        t.on_snapshot(pair, gen, body)

    async def _signed(self, req: RestRequest, limit_id: Optional[str], weights: Optional[dict]) -> bytes:
        """A request the venue answers only when signed: through the tracker's signer at send
        time. Without a signer it fails (logged by ``on_snapshot_failed``), never silently."""
        import dataclasses

        signer = self.t.signer
        if signer is None:
            raise _AuthMissing(f"{req.method} {req.url.split('?')[0]} needs an API-key signed request "
                               "(RestRequest.auth) and the tracker has no signer")

        def sign(params: dict, headers: dict) -> tuple[dict, dict]:
            try:
                signed = signer(dataclasses.replace(req, params=params, headers=headers))
            except Exception as exc:  # the message could carry key material: name the type only
                raise _AuthMissing(f"signer failed ({type(exc).__name__})") from None
            return dict(signed.params), dict(signed.headers)

        return await self.t._rest.execute(req, limit_id=limit_id, weights=weights, sign=sign)

    def _limit(self, req: RestRequest) -> tuple[Optional[str], Optional[dict]]:
        """How the throttler charges a snapshot request: the endpoint's own limit id when the
        throttler rates it (``snapshot_limit_id``, ``"GET /path"`` or ``"/path"``), else the
        request's ``weight`` on the venue's shared pool (``venue.rate_limit_pool``, e.g. a
        per-minute request weight pool), else nothing."""
        t = self.t
        throttler = getattr(t._rest, "throttler", None)
        if throttler is None:
            return None, None
        from urllib.parse import urlsplit

        known = {rl.limit_id for rl in getattr(throttler, "rate_limits", [])}
        path = urlsplit(req.url).path
        for lid in (t.snapshot_limit_id, f"{req.method} {path}", path):
            if lid and (not known or lid in known):
                return lid, None
        pool = t.venue.rate_limit_pool
        if pool and pool in known:
            return pool, {pool: max(1, int(req.weight))}
        return None, None

    async def _watchdog(self) -> None:
        t = self.t
        timeouts = [x for x in (t.stale_timeout, t.sync_timeout) if x is not None]
        period = max(0.05, min(1.0, min(timeouts, default=1.0) / 4))
        while True:
            await asyncio.sleep(period)
            t.check_stale()

    async def stop(self) -> None:
        self._stopping = True
        for runner in self._runners.values():
            await runner.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in self.t.connections:
            self.t.connection_down(conn, "stopped", count=False)
        if self._session is not None:
            await self._session.close()
        if self._own_rest and self.t._rest is not None:
            await self.t._rest.close()
            self.t._rest = None
