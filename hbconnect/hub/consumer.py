"""``RemoteBookTracker``: the books a ``BookHub`` publishes, kept in this process.

Same interface as ``OrderBookTracker`` (``book``, ``state``, ``stats``, ``last_trade``,
``ready``, ``wait_ready``, callbacks, ``subscribe()``), so a bot switches between a local and a
shared book by changing the line that builds its tracker.

Per pair it loads the snapshot hash, then reads the stream from the snapshot's stream id and
applies entries while they continue the sequence: same epoch, sequence + 1. Anything else is a
gap it never papers over:

* a sequence jump (the stream was trimmed past this consumer, an entry was lost) or an entry of
  another epoch (another hub took the pair, the hub restarted) -> resync from the snapshot hash;
  an epoch's first entry (sequence 1, a full snapshot) is adopted directly;
* a lost connection (Redis restarted, its ids may have reset) -> every pair resyncs;
* no entry for ``stale_timeout`` (the hub sends heartbeats): the pair is reported stale (state
  RESYNCING) and resynced from the snapshot hash.

Entries that are not the hub's format (foreign writers, corruption) are counted in
``bad_frames``, logged (rate-limited) and never change a book; one that takes the place of the
next sequence number makes the pair resync.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from hbconnect.hub import wire
from hbconnect.hub.redis_client import REDIS_ERRORS, connect, redacted
from hbconnect.hub.resp import DedicatedConnection, arg, command
from hbconnect.hub.waiting import wait_until
from hbconnect.market.messages import Trade
from hbconnect.market.notify import BookCallback, Notifier, TradeCallback
from hbconnect.market.tracker import LIVE, RESYNCING, SYNCING, BookState, PairStats

logger = logging.getLogger(__name__)

__all__ = ["RemoteBookTracker", "RemoteBook", "RemotePairStats"]

_STATES = {"live": LIVE, "syncing": SYNCING, "resyncing": RESYNCING}


@dataclass
class RemotePairStats(PairStats):
    """``PairStats`` of a remote book: ``frames`` counts stream entries read, ``bad_frames`` bad or
    foreign entries, ``stale_dropped`` duplicates; plus where the consumer stands in the stream."""

    epoch: str = ""
    seq: int = 0
    hub_state: str = ""
    stale: bool = False
    trades: int = 0
    epochs: int = 0  # epochs followed (a hub restart or a failover adds one)


class RemoteBook:
    """One pair: its book, where it stands in the hub's stream, counters. Read it, do not mutate it."""

    __slots__ = ("pair", "book", "state", "epoch", "seq", "sid", "last_id", "last_update_time",
                 "last_receive", "hub_state", "synced", "stale", "need_snapshot", "retry_at", "failed_snap", "broke_at",
                 "last_trade", "frames", "diffs_applied", "snapshots", "duplicates", "gaps", "resyncs",
                 "bad_frames", "stale_streams", "snapshot_retries", "trades", "epochs")

    def __init__(self, pair: str, book: Any) -> None:
        self.pair = pair
        self.book = book
        self.state = SYNCING
        self.epoch = ""
        self.seq = 0
        self.sid = "0-0"  # stream position (the id of the last entry read)
        self.last_id = 0
        self.last_update_time = 0.0
        self.last_receive = 0.0
        self.hub_state = ""
        self.synced = False  # the book follows (epoch, seq)
        self.stale = False
        self.need_snapshot = True
        self.retry_at = 0.0
        self.failed_snap: Optional[tuple] = None  # (epoch, seq) of a snapshot no entry continued yet
        self.broke_at: set = set()  # stream ids of entries that broke the sequence (bounded)
        self.last_trade: Optional[Trade] = None
        self.frames = 0
        self.diffs_applied = 0
        self.snapshots = 0
        self.duplicates = 0
        self.gaps = 0
        self.resyncs = 0
        self.bad_frames = 0
        self.stale_streams = 0
        self.snapshot_retries = 0
        self.trades = 0
        self.epochs = 0

    @property
    def live(self) -> bool:
        return self.state is LIVE

    def stats(self) -> RemotePairStats:
        return RemotePairStats(
            self.pair, self.state.value, self.frames, self.diffs_applied, self.snapshots, self.duplicates,
            0, 0, self.gaps, self.resyncs, self.bad_frames, self.stale_streams, self.snapshot_retries, 0,
            self.last_id, self.last_update_time, self.last_receive, 0,
            self.epoch, self.seq, self.hub_state, self.stale, self.trades, self.epochs,
        )

    def __repr__(self) -> str:
        return f"<RemoteBook {self.pair} {self.state.value} {self.epoch}#{self.seq}>"


class _SparseLog:
    """Logs the first ``first`` messages of each key, then one in ``every`` with the running count:
    a flood of bad entries costs a few log lines, and the counters hold the truth."""

    __slots__ = ("first", "every", "counts")

    def __init__(self, first: int = 3, every: int = 1000) -> None:
        self.first = first
        self.every = every
        self.counts: dict[str, int] = {}

    def __call__(self, key: str, level: int, msg: str, *args: Any) -> None:
        n = self.counts[key] = self.counts.get(key, 0) + 1
        if n <= self.first or n % self.every == 0:
            logger.log(level, msg + (f" [{n} so far]" if n > self.first else ""), *args)


def _text(b: Any) -> str:
    return b.decode() if isinstance(b, bytes) else str(b)


class RemoteBookTracker(Notifier):
    """Follows the books of ``pairs`` of ``venue`` (the hub's venue name) published to Redis.

    ``process(pair, entries)`` and ``load_snapshot(pair, fields)`` are the synchronous core (tests
    feed them directly); ``start()`` runs the reader that drives them from Redis."""

    def __init__(
        self,
        redis_url: str,
        venue: str,
        pairs: Sequence[str] = (),
        *,
        prefix: str = "hb",
        stale_timeout: Optional[float] = 5.0,
        retry_interval: float = 0.5,
        block_ms: int = 100,
        count: int = 2_000,
        book_factory: Optional[Callable[[], Any]] = None,
        on_book: Optional[BookCallback] = None,
        on_trade: Optional[TradeCallback] = None,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
        redis: Any = None,
    ) -> None:
        if book_factory is None:
            from hbconnect import OrderBook

            book_factory = OrderBook
        wire.hubs_key(prefix, venue)  # validates the names
        self.redis_url = redis_url
        self.venue = venue
        self.prefix = prefix
        self.name = name or f"{venue}@redis"
        self.stale_timeout = stale_timeout
        self.retry_interval = retry_interval
        self.block_ms = block_ms
        self.count = count
        self.clock = clock
        self._book_factory = book_factory
        self.books: dict[str, RemoteBook] = {}
        self._by_key: dict[bytes, RemoteBook] = {}
        self._keys_arg: Optional[bytes] = None  # the stream keys of XREAD, framed (None: to build)
        self._snapshots_wanted = False  # some pair may need its snapshot hash (else no scan per read)
        self._book_callbacks: list = [on_book] if on_book else []
        self._trade_callbacks: list = [on_trade] if on_trade else []
        self._subs: list = []
        self._notify_books = bool(self._book_callbacks)
        self._notify_trades = bool(self._trade_callbacks)
        self._log = _SparseLog()
        self._r = redis
        self._own_redis = redis is None
        self._task: Optional[asyncio.Task] = None
        self._stopping = False
        self._run_id: Optional[bytes] = None
        # tracker-wide counters
        self.frames = 0
        self.bad_frames = 0
        self.ignored_frames = 0  # (the tracker's counter of untracked channels: a stream has none)
        self.notify_errors = 0
        self.connection_errors = 0
        self.redis_restarts = 0
        self.add_pairs(pairs)

    # ------------------------------------------------------------------ pairs and queries
    def add_pairs(self, pairs: Iterable[str]) -> None:
        for p in pairs:
            if p not in self.books:
                rb = self.books[p] = RemoteBook(p, self._book_factory())
                self._snapshots_wanted = True
                self._by_key[wire.stream_key(self.prefix, self.venue, p).encode()] = rb
                self._keys_arg = None

    def add_pair(self, pair: str) -> None:
        self.add_pairs([pair])

    def remove_pair(self, pair: str) -> None:
        rb = self.books.pop(pair, None)
        if rb is not None:
            self._by_key.pop(wire.stream_key(self.prefix, self.venue, pair).encode(), None)
            self._keys_arg = None

    def book(self, pair: str) -> Any:
        """The ``OrderBook`` of ``pair`` (check ``state(pair)`` before trusting it)."""
        return self.books[pair].book

    def state(self, pair: str) -> BookState:
        return self.books[pair].state

    def stats(self, pair: Optional[str] = None) -> Union[RemotePairStats, dict[str, RemotePairStats]]:
        if pair is not None:
            return self.books[pair].stats()
        return {p: rb.stats() for p, rb in self.books.items()}

    def last_trade(self, pair: str) -> Optional[Trade]:
        return self.books[pair].last_trade

    @property
    def ready(self) -> bool:
        return bool(self.books) and all(rb.state is LIVE for rb in self.books.values())

    def status_dict(self) -> dict[str, bool]:
        return {p: rb.state is LIVE for p, rb in self.books.items()}

    # ------------------------------------------------------------------ the synchronous core
    def _set_state(self, rb: RemoteBook) -> None:
        if rb.synced and not rb.stale and rb.hub_state == "live":
            rb.state = LIVE
        elif rb.state is LIVE or rb.snapshots:
            rb.state = RESYNCING
        else:
            rb.state = SYNCING

    def _bad(self, rb: RemoteBook, what: str, fields: Any) -> None:
        rb.bad_frames += 1
        self.bad_frames += 1
        self._log("bad-entry", logging.WARNING, "%s %s: bad stream entry (%s): %s", self.name, rb.pair, what,
                  str(fields)[:120])

    def _resync(self, rb: RemoteBook, reason: str, gap: bool = True) -> None:
        if rb.synced:
            if gap:
                rb.gaps += 1
            rb.resyncs += 1
            self._log("gap", logging.WARNING, "%s %s: %s; resync from the hub's snapshot", self.name,
                      rb.pair, reason)
        rb.synced = False
        rb.need_snapshot = True
        self._snapshots_wanted = True
        rb.retry_at = 0.0
        self._set_state(rb)

    def _reset(self, rb: RemoteBook, epoch: str, seq: int, data: Any) -> bool:
        """Replace the book with snapshot ``data`` at (epoch, seq); False (book unchanged) if bad."""
        try:
            uid, ts, bids, asks, depth, state = wire.check_book_data(data, True)
            rb.book.apply_snapshot(bids, asks, uid)
        except (wire.EntryError, ValueError, TypeError, OverflowError) as exc:
            self._bad(rb, f"bad snapshot: {exc}", data)
            return False
        if depth is not None:
            rb.book.truncate(depth)
        if epoch != rb.epoch:
            rb.epochs += 1
        rb.epoch = epoch
        rb.seq = seq
        rb.last_id = uid
        if ts:
            rb.last_update_time = ts
        rb.hub_state = state  # type: ignore[assignment]
        rb.snapshots += 1
        rb.synced = True
        rb.need_snapshot = False
        rb.failed_snap = None
        self._set_state(rb)
        if self._notify_books:
            self._emit_book(rb, True)
        return True

    def load_snapshot(self, pair: str, fields: Optional[dict]) -> bool:
        """Apply the hub's snapshot hash of ``pair`` (HGETALL result). True when the pair is synced
        from it (or already ahead of it in the same epoch)."""
        rb = self.books[pair]
        now = self.clock()
        rb.retry_at = now + self.retry_interval
        if not fields:
            rb.snapshot_retries += 1
            self._set_state(rb)
            return False
        try:
            epoch = _text(fields[b"e"])
            seq = int(fields[b"s"])
            sid = _text(fields[b"sid"])
            data = wire.loads(fields[b"d"])
        except (KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
            rb.snapshot_retries += 1
            self._bad(rb, f"bad snapshot hash: {exc!r}", fields)
            return False
        if rb.synced and epoch == rb.epoch and seq <= rb.seq:
            rb.need_snapshot = False  # we are at or past it in the same epoch: keep reading
            return True
        if rb.failed_snap == (epoch, seq):
            rb.snapshot_retries += 1
            return False  # the entries after it are gone (trimmed): wait for a newer one
        if not self._reset(rb, epoch, seq, data):
            rb.snapshot_retries += 1
            return False
        rb.sid = sid or "0-0"
        rb.last_receive = now  # staleness counts from the snapshot
        trade = fields.get(b"t")
        if trade:  # the pair's last trade when the hash was written: a late consumer has it at once
            try:
                rb.last_trade = Trade(rb.pair, *wire.check_trade_data(wire.loads(trade)))
            except ValueError as exc:  # (EntryError too) the book is good; the trade is not taken
                self._bad(rb, f"bad last trade in the snapshot hash: {exc}", trade)
        rb.failed_snap = (epoch, seq)  # until an entry continues it
        return True

    def process(self, pair: str, entries: Sequence[Sequence]) -> None:
        """Apply stream entries of ``pair`` read from Redis: ``[(id, fields), ...]``, ``fields`` a
        ``{field: value}`` dict or the raw reply's ``[field, value, ...]`` list."""
        rb = self.books.get(pair)
        if rb is None:
            return
        now = self.clock()
        for sid, fields in entries:
            rb.sid = _text(sid)
            rb.frames += 1
            self.frames += 1
            try:
                self._entry(rb, fields)
            except Exception as exc:  # a bug here must not stop the reader or leave a half state
                self._bad(rb, f"internal error {exc!r}", fields)
                self._resync(rb, "internal error")
            rb.last_receive = now
        if rb.stale:
            rb.stale = False
            self._set_state(rb)

    def _break(self, rb: RemoteBook, reason: str, fields: Any, gap: bool = True) -> None:
        """An entry that does not continue the sequence. The first time: resync. Met again after
        a resync from a snapshot that the stream did continue, it cannot be a lost range: it is
        not the hub's (a foreign or corrupt entry), so it is counted and skipped."""
        if rb.sid in rb.broke_at and rb.failed_snap is None:
            if gap:  # (a bad entry was counted when it failed to apply)
                self._bad(rb, f"{reason}, again after a resync: not the hub's", fields)
            return
        if len(rb.broke_at) >= 256:
            rb.broke_at.clear()
        rb.broke_at.add(rb.sid)
        self._resync(rb, reason, gap=gap)

    def _entry(self, rb: RemoteBook, fields: Any) -> None:
        try:
            if type(fields) is list:  # the reader's raw reply: [field, value, ...]
                if len(fields) == 8 and fields[0] == b"e" and fields[2] == b"s" and fields[4] == b"k" \
                        and fields[6] == b"d":  # (in the order the hub writes them)
                    e, seq, kind, d = fields[1], int(fields[3]), fields[5], fields[7]
                else:
                    fields = dict(zip(fields[::2], fields[1::2]))
            if type(fields) is not list:
                e = fields[b"e"]
                seq = int(fields[b"s"])
                kind = fields[b"k"]
                d = fields[b"d"]
        except (KeyError, TypeError, ValueError):
            self._bad(rb, "not a hub entry", fields)
            return
        if kind not in wire.KINDS:
            self._bad(rb, "unknown kind", fields)
            return
        epoch = _text(e)
        if epoch == rb.epoch and rb.synced:
            if seq <= rb.seq:
                rb.duplicates += 1
                return
            if seq != rb.seq + 1:
                self._break(rb, f"sequence gap {rb.seq} -> {seq}", fields)
                return
        elif seq == 1 and kind == wire.SNAPSHOT:
            try:
                data = wire.loads(d)
            except ValueError:
                self._bad(rb, "undecodable data", fields)
                return
            was = rb.synced
            if self._reset(rb, epoch, 1, data):
                if was:
                    rb.resyncs += 1
                    self._log("epoch", logging.INFO, "%s %s: new epoch %s (hub restart or failover)",
                              self.name, rb.pair, epoch)
            return
        else:
            if rb.synced:
                self._break(rb, f"entry of another epoch ({epoch} #{seq})", fields)
            return  # waiting for a snapshot: entries that cannot be placed are skipped
        # the next entry of our epoch
        try:
            ok = self._apply(rb, kind, wire.loads(d))
        except ValueError as exc:
            self._bad(rb, f"undecodable data: {exc}", fields)
            ok = False
        if ok:
            rb.seq = seq
            rb.failed_snap = None
        else:
            self._break(rb, f"bad entry #{seq}", fields, gap=False)

    def _apply(self, rb: RemoteBook, kind: bytes, d: Any) -> bool:
        if kind == wire.DIFF:
            try:
                uid, ts, bids, asks, depth, _ = wire.check_book_data(d, False)
                rb.book.apply_diffs(bids, asks, uid)
            except (wire.EntryError, ValueError, TypeError, OverflowError) as exc:
                self._bad(rb, str(exc), d)
                return False
            if depth is not None:
                rb.book.truncate(depth)
            rb.last_id = uid
            if ts:
                rb.last_update_time = ts
            rb.diffs_applied += 1
            if self._notify_books:
                self._emit_book(rb, False)
        elif kind == wire.SNAPSHOT:
            return self._reset(rb, rb.epoch, rb.seq, d)
        elif kind == wire.TRADE:
            try:
                tid, price, amount, side, ts = wire.check_trade_data(d)
            except wire.EntryError as exc:
                self._bad(rb, str(exc), d)
                return False
            tr = Trade(rb.pair, tid, price, amount, side, ts)
            rb.last_trade = tr
            rb.trades += 1
            if self._notify_trades:
                self._emit_trade(tr)
        elif kind == wire.STATE:
            if d not in wire.STATES:
                self._bad(rb, "bad state", d)
                return False
            rb.hub_state = d
            self._set_state(rb)
        return True  # heartbeat: nothing to apply

    def check_stale(self, now: Optional[float] = None) -> list[str]:
        """Pairs that got no entry (the hub heartbeats quiet pairs) for ``stale_timeout``: reported
        stale (state RESYNCING) and checked against the snapshot hash. Returns them."""
        if self.stale_timeout is None:
            return []
        if now is None:
            now = self.clock()
        limit = now - self.stale_timeout
        out = []
        for rb in self.books.values():
            if rb.synced and not rb.stale and rb.last_receive < limit:
                rb.stale = True
                rb.stale_streams += 1
                rb.need_snapshot = True
                self._snapshots_wanted = True
                rb.retry_at = 0.0
                self._set_state(rb)
                self._log("stale", logging.WARNING, "%s %s: no entry from the hub for %.1fs", self.name, rb.pair,
                          now - rb.last_receive)
                out.append(rb.pair)
        return out

    def connection_lost(self) -> None:
        """Redis went away: whatever it holds when it is back may be another history."""
        for rb in self.books.values():
            self._resync(rb, "connection to Redis lost", gap=False)

    # ------------------------------------------------------------------ the reader
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            # The reader leaves between two reads (each blocks block_ms at most): cancelling a
            # blocked XREAD in the middle can leave redis-py's connection hanging
            self._stopping = True
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=self.block_ms / 1000 + 2.0)
            except (asyncio.TimeoutError, Exception):
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            self._stopping = False
        if self._own_redis and self._r is not None:
            await self._r.aclose()
            self._r = None
        for sub in list(self._subs):
            sub.close()

    async def wait_ready(self, timeout: Optional[float] = None) -> bool:
        """Wait until every pair is LIVE; False on timeout."""
        return await wait_until(lambda: self.ready, timeout, poll=0.02)

    async def __aenter__(self) -> "RemoteBookTracker":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def _connected(self) -> Any:
        if self._r is None:
            self._r = connect(self.redis_url)
        run_id = None
        try:
            info = await self._r.info("server")
            run_id = info.get("run_id")
        except REDIS_ERRORS:
            raise
        except Exception:
            run_id = None
        if run_id is not None:
            if self._run_id is not None and run_id != self._run_id:
                self.redis_restarts += 1
                logger.warning("%s: Redis restarted (new run id)", self.name)
            self._run_id = run_id
        return self._r

    def _xread(self) -> bytes:
        """XREAD COUNT BLOCK STREAMS of every pair, from where each stands."""
        if self._keys_arg is None:
            self._keys_arg = b"".join(arg(k) for k in self._by_key)
        ids = b"".join(arg(rb.sid) for rb in self._by_key.values())
        return command((b"XREAD", b"COUNT", self.count, b"BLOCK", self.block_ms, b"STREAMS"),
                       (self._keys_arg, ids), 2 * len(self._by_key))

    async def _load_snapshots(self, r: Any) -> None:
        if not self._snapshots_wanted:
            return
        now = self.clock()
        due = [rb for rb in self.books.values() if rb.need_snapshot and now >= rb.retry_at]
        if not due:
            self._snapshots_wanted = any(rb.need_snapshot for rb in self.books.values())
            return
        pipe = r.pipeline(transaction=False)
        for rb in due:
            pipe.hgetall(wire.snapshot_key(self.prefix, self.venue, rb.pair))
        for rb, fields in zip(due, await pipe.execute()):
            if rb.pair in self.books:
                self.load_snapshot(rb.pair, fields)

    async def _run(self) -> None:
        backoff = 0.05
        first = True
        next_stale_check = 0.0
        while not self._stopping:
            try:
                r = await self._connected()
                if not first:
                    self.connection_lost()
                first = False
                reader = DedicatedConnection(r)
                in_flight = None  # the connection of an XREAD whose reply is not read yet
                try:
                    while not self._stopping:
                        if not in_flight:
                            await self._load_snapshots(r)
                            if not self._by_key:
                                await asyncio.sleep(self.block_ms / 1000)
                                continue
                            # XREAD BLOCK, framed here
                            in_flight = await reader.send(self._xread())
                        resp = (await reader.replies(1, in_flight))[0]
                        in_flight = None
                        if isinstance(resp, Exception):
                            raise resp
                        # (RESP3, redis-py's default from version 8: a map of stream -> entries)
                        got = [(rb, entries) for key, entries in (resp.items() if type(resp) is dict else resp or ())
                               if (rb := self._by_key.get(key)) is not None]
                        if not self._snapshots_wanted and not self._stopping:
                            # read ahead: the next XREAD goes out (from the last id of this reply)
                            # before this reply is applied, so entries written meanwhile are on
                            # their way while it is; a pair this reply breaks skips them (it waits
                            # for its snapshot) and restarts from the snapshot's id
                            for rb, entries in got:
                                if entries:
                                    rb.sid = _text(entries[-1][0])
                            in_flight = await reader.send(self._xread())
                        for rb, entries in got:  # (hiredis-parsed when installed; applied as they are)
                            self.process(rb.pair, entries)
                        now = self.clock()
                        if now >= next_stale_check:  # (a scan of every pair: not after every read)
                            next_stale_check = now + 0.05
                            self.check_stale(now)
                        backoff = 0.05
                finally:
                    if in_flight is not None:  # its reply would be out of step for the pool's next user
                        await reader.drop()
                    else:
                        await reader.release()
            except asyncio.CancelledError:
                raise
            except REDIS_ERRORS as exc:
                self.connection_errors += 1
                self._log("redis", logging.WARNING, "%s: Redis %s: %s; reconnecting", self.name,
                          redacted(self.redis_url), exc)
                self.connection_lost()
                if self._own_redis and self._r is not None:
                    try:
                        await self._r.aclose()
                    except Exception:
                        pass
                    self._r = None
                await asyncio.sleep(backoff)
                backoff = min(2.0, backoff * 2)
            except Exception:
                logger.exception("%s: reader failed; restarting it", self.name)
                await asyncio.sleep(self.retry_interval)
