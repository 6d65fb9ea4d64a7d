"""``BookHub``: publishes the books an ``OrderBookTracker`` keeps to Redis Streams.

The hub gives its tracker ``CapturingBook``s (``hub.book_factory``), so every change a book
accepts -- snapshot or diff, whichever path applied it -- reaches the hub with its levels as the
venue wrote them. Per pair the hub owns (a lease in Redis, see ``lease``), it appends entries to
the pair's stream with a contiguous sequence inside an epoch (one epoch per lease it acquired):

* the first entry of an epoch is a full snapshot of the book (seq 1), so that a consumer that
  sees it needs nothing before it;
* then every applied change, trade, tracker state change, and a heartbeat when the pair was quiet;
* periodically (``snapshot_interval`` seconds, or every ``snapshot_every`` entries, or after the
  tracker took a venue snapshot) the full book is stored in the pair's snapshot hash with its
  sequence and stream id, in the same atomic script as the entries before it.

Writes are batched: changes are queued synchronously as the tracker applies them, and one
flusher (woken by the first change queued, no timer) sends everything queued in one write: an
EVALSHA of the publish script (per ``batch_entries``) that checks each pair's lease and XADDs,
framed as RESP by the hub and written on its own connection (see ``resp``); changes queued while
a write is in flight go in the next one. A write that fails (Redis gone) loses the epoch: the hub
re-keys its leases and starts new epochs, which consumers see and resync from.

Run it live (``start(venue=...)``: the hub tracks exactly the pairs it owns, adding and removing
them from its tracker as leases come and go) or from a recording (``replay(...)``).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any, Callable, Optional, Sequence

from hbconnect.hub import scripts, wire
from hbconnect.hub.capture import CapturingBook
from hbconnect.hub.lease import LeasePlan, new_hub_id
from hbconnect.hub.redis_client import REDIS_ERRORS, connect, redacted
from hbconnect.hub.resp import DedicatedConnection, arg, bulk, command
from hbconnect.hub.waiting import wait_until

logger = logging.getLogger(__name__)

__all__ = ["BookHub", "HubPair"]


class HubPair:
    """Publishing state of one pair the hub owns (for one epoch)."""

    __slots__ = ("pair", "epoch", "epoch_arg", "keys", "seq", "pending", "last_sid", "last_pub", "last_snap",
                 "since_snap", "state", "start", "snap_due")

    def __init__(self, pair: str, epoch: str, now: float, keys: tuple = ()) -> None:
        self.pair = pair
        self.epoch = epoch
        self.epoch_arg = arg(epoch)
        self.keys = b"".join(arg(k) for k in keys)  # (lease, stream, snapshot) key names, framed once
        self.seq = 0
        self.pending: list = []  # [seq, kind, data...] not yet written
        self.last_sid = ""
        self.last_pub = now
        self.last_snap = now
        self.since_snap = 0
        self.state = ""  # the tracker state last published
        self.start = True  # the epoch's first entry (a full snapshot) is still to be written
        self.snap_due = False

    def __repr__(self) -> str:
        return f"<HubPair {self.pair} {self.epoch} seq={self.seq}>"


# a queued book change: [seq, kind, update_id, timestamp, bids, asks, depth]
_SEQ, _KIND, _UID, _TS, _BIDS, _ASKS, _DEPTH = range(7)

_KIND_ARG = {k: arg(k) for k in wire.KINDS}
_ONE, _ZERO = arg(1), arg(0)


def _trade_data(tr: Any) -> list:
    """A trade as a kind ``t`` entry's data."""
    return [str(tr.trade_id), str(tr.price), str(tr.amount), str(tr.side), float(tr.timestamp or 0.0)]


async def _cancel_all(tasks: list) -> None:
    """Cancel ``tasks`` and wait for their end. A cancellation that lands inside the Redis client
    can be swallowed there (the task then sleeps on to its next round): cancel again until done."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)


class BookHub:
    """Publishes a tracker's books to Redis Streams (see the module docstring).

    ``pairs``: the pairs this hub may publish (it takes those whose leases it gets). ``clock``
    drives snapshots, heartbeats and state scans (leases expire on the Redis server's clock)."""

    def __init__(
        self,
        redis_url: str,
        venue: str,
        pairs: Sequence[str] = (),
        *,
        prefix: str = "hb",
        maxlen: int = 10_000,
        lease_ttl: float = 3.0,
        snapshot_interval: float = 1.0,
        snapshot_every: Optional[int] = None,
        heartbeat_interval: float = 1.0,
        tick: float = 0.05,
        batch_entries: int = 2_000,
        max_pending: int = 200_000,
        writes_in_flight: int = 2,
        hub_id: Optional[str] = None,
        rebalance: bool = True,
        clock: Callable[[], float] = time.monotonic,
        redis: Any = None,
    ) -> None:
        if maxlen < 100:
            raise ValueError("maxlen must be >= 100")
        wire.hubs_key(prefix, venue)  # validates the names
        self.redis_url = redis_url
        self.venue = venue
        self.prefix = prefix
        self.maxlen = maxlen
        self._maxlen_arg = arg(maxlen)
        self.lease_ttl_ms = max(100, int(lease_ttl * 1000))
        self.renew_interval = lease_ttl / 3.0
        self.snapshot_interval = snapshot_interval
        # the snapshot hash never falls behind the trim: a consumer starting from it finds the
        # entries after it in the stream
        self.snapshot_every = snapshot_every or max(1, maxlen // 4)
        self.heartbeat_interval = heartbeat_interval
        self.tick = tick
        self.batch_entries = batch_entries
        self.max_pending = max_pending
        #: publish writes sent before the replies of the earlier ones are read (one connection:
        #: Redis runs them in the order sent)
        self.writes_in_flight = max(1, writes_in_flight)
        self.hub_id = hub_id or new_hub_id()
        self.clock = clock
        self.plan = LeasePlan(self.hub_id, pairs)
        #: hand pairs over to their preferred hub once it has been live for a few rounds (hubs that
        #: start later get their share); each handover is an epoch change for the consumers
        self.rebalance = rebalance
        self.tracker: Any = None
        self._r = redis
        self._own_redis = redis is None
        self._owned: dict[str, HubPair] = {}
        self._rekey: dict[str, str] = {}  # pair -> epoch whose writes failed (Redis lost)
        self._epochs = 0
        self._pending_pairs: dict[str, HubPair] = {}  # pairs with queued entries, in order
        self._pending = 0
        self._wake: Optional[asyncio.Event] = None
        self._drained: Optional[asyncio.Event] = None
        self._tasks: list[asyncio.Task] = []
        self._live = False
        self._publish_sha = hashlib.sha1(scripts.PUBLISH.encode()).hexdigest().encode()
        self._publish_body = arg(scripts.PUBLISH)  # sent with every call (EVAL: never NOSCRIPT)
        self._conn: Any = None  # the connection the publish script's calls go on
        self._send_lock: Optional[asyncio.Lock] = None
        self._last_write: Optional[asyncio.Future] = None  # done once the latest write's replies are read
        self._in_flight = 0
        self._slots: Optional[asyncio.Semaphore] = None
        self._flushes: set = set()
        self._failures = 0  # writes that failed (a write sent before the latest failure ends only its pairs)
        self._renew: Any = None
        self._release: Any = None
        self._register: Any = None
        self.hubs: list[str] = []
        self.lease_rounds = 0
        # counters
        self.entries = 0  # entries written
        self.batches = 0  # round trips
        self.snapshots_written = 0
        self.leases_acquired = 0
        self.leases_lost = 0
        self.write_errors = 0
        self.dropped = 0  # entries discarded (lease lost, write failed, queue full)

    # ------------------------------------------------------------------ tracker binding
    def book_factory(self) -> CapturingBook:
        """Books for the tracker the hub publishes (``OrderBookTracker(book_factory=hub.book_factory)``)."""
        return CapturingBook(self)

    def attach(self, tracker: Any) -> None:
        """Publish ``tracker``'s books (it must have been built with ``book_factory=hub.book_factory``)."""
        for tb in tracker.books.values():
            if not isinstance(tb.book, CapturingBook):
                raise ValueError("the tracker's books must come from hub.book_factory")
        self.tracker = tracker
        tracker.add_book_callback(self._on_book)
        tracker.add_trade_callback(self._on_trade)
        self.plan.add_pairs(tracker.books)

    def _pair_of(self, book: CapturingBook) -> Optional[str]:
        if book.pair is None and self.tracker is not None:
            for p, tb in self.tracker.books.items():
                if tb.book is book:
                    book.pair = p
                    break
        return book.pair

    # ------------------------------------------------------------------ capture (synchronous)
    def _queue(self, hp: HubPair, entry: list) -> None:
        if self._pending >= self.max_pending:
            # Redis cannot keep up (or is gone): the epoch cannot stay contiguous; start anew
            self._restart_epoch(hp, "queue full")
            return
        hp.seq += 1
        entry[_SEQ] = hp.seq
        hp.pending.append(entry)
        self._pending += 1
        if hp.pair not in self._pending_pairs:
            self._pending_pairs[hp.pair] = hp
        if self._wake is not None:
            self._wake.set()

    def book_changed(self, book: CapturingBook, snapshot: bool, bids: Any, asks: Any, update_id: int) -> None:
        pair = book.pair or self._pair_of(book)
        hp = self._owned.get(pair)  # type: ignore[arg-type]
        if hp is None or hp.start:
            return  # not ours, or the epoch's first snapshot (taken when written) will hold it
        self._queue(hp, [0, wire.SNAPSHOT if snapshot else wire.DIFF, update_id, 0.0, bids, asks, None])
        if snapshot:
            hp.snap_due = True

    def book_truncated(self, book: CapturingBook, depth: int) -> None:
        hp = self._owned.get(book.pair or self._pair_of(book))  # type: ignore[arg-type]
        if hp is None or hp.start:
            return
        last = hp.pending[-1] if hp.pending else None
        if last is not None and last[_KIND] in (wire.SNAPSHOT, wire.DIFF) and last[_DEPTH] is None:
            last[_DEPTH] = depth
        else:
            self._queue(hp, [0, wire.DIFF, book.last_diff_uid, 0.0, [], [], depth])

    def _on_book(self, upd: Any) -> None:
        hp = self._owned.get(upd.pair)
        if hp is not None and hp.pending and upd.timestamp:
            last = hp.pending[-1]
            if last[_KIND] in (wire.SNAPSHOT, wire.DIFF):
                last[_TS] = upd.timestamp

    def _on_trade(self, tr: Any) -> None:
        hp = self._owned.get(tr.pair)
        if hp is None or hp.start:
            return
        self._queue(hp, [0, wire.TRADE, _trade_data(tr)])

    def _scan_state(self, hp: HubPair) -> None:
        tb = self.tracker.books.get(hp.pair) if self.tracker is not None else None
        if tb is None:
            return
        state = tb.state.value
        if state != hp.state:
            hp.state = state
            self._queue(hp, [0, wire.STATE, state])

    # ------------------------------------------------------------------ encoding
    def _book_data(self, hp: HubPair) -> list:
        tb = self.tracker.books.get(hp.pair) if self.tracker is not None else None
        if tb is None:
            return [0, 0.0, [], [], None, "syncing"]
        book = tb.book
        try:
            uid = int(tb.last_id)
        except (TypeError, ValueError):
            uid = 0
        return [uid, float(tb.last_update_time or 0.0), book.bids_text(), book.asks_text(), None, tb.state.value]

    def _last_trade(self, hp: HubPair) -> bytes:
        """The pair's last trade as a kind ``t`` entry's data (b'' when none yet), for the snapshot
        hash: a consumer that starts from it has the last trade at once."""
        tb = self.tracker.books.get(hp.pair) if self.tracker is not None else None
        tr = getattr(tb, "last_trade", None)
        return b"" if tr is None else wire.dumpb(_trade_data(tr))

    def _group(self, hp: HubPair, keys: list, argv: list) -> tuple[int, int]:
        """Append ``hp``'s queued entries (and its snapshot when due) to a publish call, as RESP
        bulk strings (``keys``: 3 per group; ``argv``: see ``scripts.PUBLISH``, a piece may frame
        several arguments); returns (entries, arguments added to ``argv``)."""
        now = self.clock()
        dumpb = wire.dumpb
        if hp.start:
            hp.start = False
            data = self._book_data(hp)
            hp.state = data[5]
            hp.seq = 1
            start = dumpb(data)
            hp.snap_due = True
        else:
            start = None
        entries = hp.pending
        hp.pending = []
        tb = self.tracker.books.get(hp.pair) if self.tracker is not None else None
        state_before = hp.state
        if tb is not None and tb.state.value != hp.state:  # the tracker's state after these entries
            hp.state = tb.state.value
            hp.seq += 1
            entries.append([hp.seq, wire.STATE, hp.state])
        n = len(entries) + (1 if start else 0)
        if hp.since_snap + n >= self.snapshot_every:
            hp.snap_due = True
        snap = hp.snap_due
        keys.append(hp.keys)
        first = (1 if start else entries[0][_SEQ]) if n else hp.seq + 1
        argv.append(hp.epoch_arg + arg(first) + arg(n) + (_ONE if snap else _ZERO))
        if start:
            argv.append(_KIND_ARG[wire.SNAPSHOT] + bulk(start))
        kind_arg = _KIND_ARG
        for e in entries:
            kind = e[_KIND]
            if kind is wire.DIFF:
                d = dumpb([e[_UID], e[_TS], e[_BIDS], e[_ASKS], e[_DEPTH]])
            elif kind is wire.SNAPSHOT:
                d = dumpb([e[_UID], e[_TS], e[_BIDS], e[_ASKS], e[_DEPTH], state_before or "syncing"])
            else:
                d = dumpb(e[2])
            argv.append(b"%b$%d\r\n%b\r\n" % (kind_arg[kind], len(d), d))
        if snap:
            data = start if start and not entries else dumpb(self._book_data(hp))
            argv.append(arg(hp.seq) + bulk(data) + arg(hp.last_sid) + bulk(self._last_trade(hp)))
            hp.snap_due = False
            hp.since_snap = 0
            hp.last_snap = now
            self.snapshots_written += 1
        else:
            hp.since_snap += n
        hp.last_pub = now
        return n, 4 + 2 * n + (4 if snap else 0)

    # ------------------------------------------------------------------ flushing
    async def flush(self) -> int:
        """Write everything queued: one write of pipelined calls, sent at once, even while earlier
        writes wait for their replies (one connection: Redis runs the calls in the order sent, and
        their replies are read in that order). Returns the entries written; once it returns, every
        write sent before it has its replies read too."""
        if self._send_lock is None:
            self._send_lock = asyncio.Lock()
        calls = self._calls()
        if not calls:
            return 0
        prev = self._last_write
        done = self._last_write = asyncio.get_running_loop().create_future()
        failures = self._failures
        self._in_flight += 1
        try:
            try:
                async with self._send_lock:  # (FIFO: the writes go out in the order they were encoded)
                    sent_on = await self._conn.send(b"".join(self._eval(k, a, na) for k, a, na, _ in calls))
                if prev is not None:
                    await asyncio.shield(prev)
                results = await self._conn.replies(len(calls), sent_on)
                for res in results:
                    if isinstance(res, Exception):
                        raise res
            except REDIS_ERRORS as exc:
                self._write_failed(exc, calls if failures != self._failures else None)
                return 0
        finally:
            self._in_flight -= 1
            done.set_result(None)
        written = 0
        for (_, _, _, m), res in zip(calls, results):
            for (hp, n), sid in zip(m, res):
                if sid == 0:
                    if self._owned.get(hp.pair) is hp:
                        self._lost(hp.pair, "lease not held at write")
                    continue
                written += n
                if sid:
                    hp.last_sid = sid.decode() if isinstance(sid, bytes) else str(sid)
        self.batches += 1
        self.entries += written
        return written

    def _calls(self) -> list:
        """Everything queued as publish calls (encoded now, in the order queued)."""
        owned = self._owned
        groups = [hp for hp in self._pending_pairs.values() if owned.get(hp.pair) is hp]
        groups += [hp for hp in self._owned.values() if hp.start and hp.pair not in self._pending_pairs]
        self._pending_pairs = {}
        self._pending = 0
        if not groups or self._r is None:
            return []
        # one script call per ``batch_entries`` (a script call holds Redis for its whole run)
        calls: list[tuple[list, list, int, list[tuple[HubPair, int]]]] = []
        keys: list = []
        argv: list = [self._maxlen_arg]
        members: list[tuple[HubPair, int]] = []
        size = 0
        n_argv = 1
        for hp in groups:
            n, na = self._group(hp, keys, argv)
            size += n
            n_argv += na
            members.append((hp, n))
            if size >= self.batch_entries:
                calls.append((keys, argv, n_argv, members))
                keys, argv, members, size, n_argv = [], [self._maxlen_arg], [], 0, 1
        if members:
            calls.append((keys, argv, n_argv, members))
        return calls

    def _eval(self, keys: list, argv: list, n_argv: int) -> bytes:
        """One EVAL of the publish script, as RESP (``keys``: 3 framed keys per piece; ``argv``:
        pieces framing ``n_argv`` arguments in all). The script's text goes with every call: Redis
        finds it compiled in its cache by its digest, and a Redis that lost its cache (restart,
        SCRIPT FLUSH) compiles it again. (EVALSHA would answer NOSCRIPT there, and resending such
        calls could put them after a later write already in flight: entries out of order.)"""
        return command((b"EVAL",), [self._publish_body, arg(len(keys) * 3)] + keys + argv,
                       2 + len(keys) * 3 + n_argv)

    def _write_failed(self, exc: BaseException, calls: Optional[list] = None) -> None:
        """A write failed: what reached Redis is unknown, so epochs end (the lease round re-keys
        them). ``calls``: a write sent before an earlier failure (it failed with it): only its
        pairs' epochs end, if still owned (others may have new epochs already)."""
        if calls is not None:
            for _, _, _, members in calls:
                for hp, _ in members:
                    if self._owned.get(hp.pair) is hp:
                        self._restart_epoch(hp, "write failed")
            return
        self._failures += 1
        self.write_errors += 1
        logger.warning("hub %s: write to %s failed (%s); %d pairs start new epochs", self.hub_id,
                       redacted(self.redis_url), exc, len(self._owned))
        # What reached Redis is unknown: every epoch of this hub ends; the lease round re-keys
        for pair, hp in list(self._owned.items()):
            self._rekey[pair] = hp.epoch
            self.dropped += len(hp.pending)
        self._owned.clear()
        self._pending_pairs.clear()
        self._pending = 0

    def _restart_epoch(self, hp: HubPair, reason: str) -> None:
        logger.warning("hub %s %s: %s; new epoch", self.hub_id, hp.pair, reason)
        self.dropped += len(hp.pending)
        self._rekey[hp.pair] = hp.epoch
        self._owned.pop(hp.pair, None)
        self._pending_pairs.pop(hp.pair, None)
        self._pending -= len(hp.pending)

    async def _flusher(self) -> None:
        """Woken by the first change queued (no timer): a write goes out at the loop's next turn.
        Up to ``writes_in_flight`` writes wait for their replies; changes queued meanwhile go in
        the next write (batches grow with the load)."""
        assert self._wake is not None and self._slots is not None
        while True:
            await self._wake.wait()
            await self._slots.acquire()
            self._wake.clear()
            t = asyncio.get_running_loop().create_task(self._flush_once())
            self._flushes.add(t)
            t.add_done_callback(self._flushes.discard)

    async def _flush_once(self) -> None:
        assert self._slots is not None and self._drained is not None
        try:
            await self.flush()
        except asyncio.CancelledError:
            raise
        except Exception:  # a hub bug: logged; the next flush tries again
            logger.exception("hub %s: flush failed", self.hub_id)
        finally:
            self._slots.release()
            if not self._pending and not self._in_flight:
                self._drained.set()

    async def _ticker(self) -> None:
        """State scans, heartbeats and periodic snapshots of the owned pairs."""
        while True:
            await asyncio.sleep(self.tick)
            self.tick_once()

    def tick_once(self, now: Optional[float] = None) -> None:
        """One ticker round (tests call it with their clock's time)."""
        if now is None:
            now = self.clock()
        for hp in list(self._owned.values()):
            if hp.start:
                continue
            self._scan_state(hp)
            if now - hp.last_snap >= self.snapshot_interval and (hp.since_snap or hp.pending):
                hp.snap_due = True
                if hp.pair not in self._pending_pairs:
                    self._pending_pairs[hp.pair] = hp
            if not hp.pending and now - hp.last_pub >= self.heartbeat_interval:
                self._queue(hp, [0, wire.HEARTBEAT, None])
        if self._pending_pairs and self._wake is not None:
            self._wake.set()

    # ------------------------------------------------------------------ leases
    def _new_epoch(self) -> str:
        self._epochs += 1
        return f"{self.hub_id}.{self._epochs}"

    def _acquired(self, pair: str, epoch: str) -> None:
        self.leases_acquired += 1
        p, v = self.prefix, self.venue
        self._owned[pair] = HubPair(pair, epoch, self.clock(), (wire.lease_key(p, v, pair), wire.stream_key(p, v, pair),
                                                                 wire.snapshot_key(p, v, pair)))
        logger.info("hub %s: publishing %s (epoch %s)", self.hub_id, pair, epoch)
        if self._live and self.tracker is not None and pair not in self.tracker.books:
            self.tracker.add_pairs([pair])
            for tb in self.tracker.books.values():
                self._pair_of(tb.book)
        if self._wake is not None:
            self._wake.set()

    def _lost(self, pair: str, reason: str, level: int = logging.WARNING) -> None:
        hp = self._owned.pop(pair, None)
        if hp is None:
            return
        self.leases_lost += 1
        self.dropped += len(hp.pending)
        self._pending_pairs.pop(pair, None)
        logger.log(level, "hub %s: lost %s (%s): no longer publishing it", self.hub_id, pair, reason)
        if self._live and self.tracker is not None:
            self.tracker.remove_pair(pair)

    async def lease_round(self) -> None:
        """Register, renew the owned leases, re-key epochs whose writes failed, acquire free pairs."""
        r = self._r
        p, v = self.prefix, self.venue
        ttl = self.lease_ttl_ms
        self.hubs = [h.decode() for h in await self._register(keys=[wire.hubs_key(p, v)], args=[self.hub_id, ttl])]
        owned = list(self._owned.items())
        if owned:
            res = await self._renew(keys=[wire.lease_key(p, v, pair) for pair, _ in owned],
                                    args=[ttl] + [hp.epoch for _, hp in owned])
            for (pair, hp), ok in zip(owned, res):
                if not ok and self._owned.get(pair) is hp:
                    self._lost(pair, "lease expired or taken")
        if self.rebalance and owned:
            await self._hand_over(self.plan.to_hand_over(list(self._owned), self.hubs))
        mine, others = self.plan.candidates(list(self._owned) + list(self._rekey), self.hubs)
        if self._rekey:
            # the old epoch still holds the lease (or nobody does): swap in a new epoch
            rekey = list(self._rekey.items())
            self._rekey.clear()
            pipe = r.pipeline(transaction=False)
            new = []
            for pair, old in rekey:
                epoch = self._new_epoch()
                new.append((pair, epoch))
                await self._rekey_script(keys=[wire.lease_key(p, v, pair)], args=[old, epoch, ttl], client=pipe)
            for (pair, epoch), ok in zip(new, await pipe.execute()):
                if ok:
                    self._acquired(pair, epoch)
        if others:
            pipe = r.pipeline(transaction=False)
            for pair in others:
                pipe.exists(wire.lease_key(p, v, pair))
            for pair, n in zip(others, await pipe.execute()):
                self.plan.observed(pair, not n)
        if mine:
            pipe = r.pipeline(transaction=False)
            tries = []
            for pair in mine:
                epoch = self._new_epoch()
                tries.append((pair, epoch))
                pipe.set(wire.lease_key(p, v, pair), epoch, nx=True, px=ttl)
            for (pair, epoch), ok in zip(tries, await pipe.execute()):
                if ok:
                    self._acquired(pair, epoch)
        self.lease_rounds += 1

    async def _hand_over(self, pairs: list[str]) -> None:
        """Release ``pairs`` (their preferred hub is live and settled): it takes them next round."""
        if not pairs:
            return
        p, v = self.prefix, self.venue
        hps = [self._owned[x] for x in pairs if x in self._owned]
        await self.flush()  # what is queued still goes out under the lease
        await self._release(keys=[wire.lease_key(p, v, hp.pair) for hp in hps], args=[hp.epoch for hp in hps])
        for hp in hps:
            self._lost(hp.pair, "handed over to its preferred hub", logging.INFO)

    async def _leaser(self) -> None:
        while True:
            try:
                await self.lease_round()
            except asyncio.CancelledError:
                raise
            except REDIS_ERRORS as exc:
                if self._owned:
                    self._write_failed(exc)
                else:
                    logger.warning("hub %s: lease round failed: %s", self.hub_id, exc)
            except Exception:
                logger.exception("hub %s: lease round failed", self.hub_id)
            await asyncio.sleep(self.renew_interval)

    # ------------------------------------------------------------------ life cycle
    @property
    def owned(self) -> list[str]:
        return list(self._owned)

    def published(self, pair: str) -> Optional[tuple[str, int]]:
        """(epoch, last sequence queued) of an owned pair, None when not owned."""
        hp = self._owned.get(pair)
        return None if hp is None else (hp.epoch, hp.seq)

    async def open(self) -> None:
        """Connect to Redis and start the lease, flush and tick tasks (no tracker I/O)."""
        if self._tasks:
            return
        if self._r is None:
            self._r = connect(self.redis_url)
        r = self._r
        self._conn = DedicatedConnection(r)
        self._renew = r.register_script(scripts.RENEW)
        self._release = r.register_script(scripts.RELEASE)
        self._register = r.register_script(scripts.REGISTER)
        self._rekey_script = r.register_script(scripts.REKEY)
        self._slots = asyncio.Semaphore(self.writes_in_flight)
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._leaser()), loop.create_task(self._flusher()),
                       loop.create_task(self._ticker())]

    async def start(self, venue: Any, **tracker_kw: Any) -> Any:
        """Live: a tracker on ``venue`` that follows exactly the pairs this hub owns."""
        from hbconnect.market.tracker import OrderBookTracker

        self._live = True
        tracker = OrderBookTracker(venue, (), book_factory=self.book_factory, **tracker_kw)
        self.attach(tracker)
        await self.open()
        await tracker.start()
        return tracker

    async def wait_owned(self, n: int = 1, timeout: float = 10.0) -> bool:
        """Wait until this hub owns at least ``n`` pairs (False on timeout)."""
        return await wait_until(lambda: len(self._owned) >= n, timeout)

    async def wait_round(self, rounds: int = 1, timeout: float = 10.0) -> bool:
        """Wait until ``rounds`` more lease rounds completed (False on timeout)."""
        target = self.lease_rounds + rounds
        return await wait_until(lambda: self.lease_rounds >= target, timeout, poll=0.005)

    async def drain(self) -> None:
        """Wait until everything queued is written."""
        while self._pending or self._in_flight or any(hp.start for hp in self._owned.values()):
            assert self._wake is not None and self._drained is not None
            self._drained.clear()
            self._wake.set()
            await self._drained.wait()

    async def replay(self, session: Any, venue: Any, pairs: Optional[Sequence[str]] = None, *,
                     speed: float = 0.0, yield_every: int = 64, **replayer_kw: Any) -> Any:
        """Publish a recorded session: ``speed`` 1.0 replays in recorded time (2.0 twice as fast),
        0 as fast as Redis takes it. Returns the ``Replayer`` (its tracker holds the books)."""
        rp = self.replayer(session, venue, pairs, **replayer_kw)
        await self.open()
        await self.lease_round()  # take the recording's pairs now, not at the next periodic round
        return await self.run_replay(rp, speed=speed, yield_every=yield_every)

    def replayer(self, session: Any, venue: Any, pairs: Optional[Sequence[str]] = None, **replayer_kw: Any) -> Any:
        """A ``Replayer`` of ``session`` whose tracker this hub publishes (``run_replay`` runs it)."""
        from hbconnect.market.replay import Replayer, venue_for_session

        venue = venue_for_session(venue, session, pairs)
        kw = dict(replayer_kw)
        tk = dict(kw.pop("tracker_kwargs", None) or {})
        tk["book_factory"] = self.book_factory
        rp = Replayer(venue, session, pairs, tracker_kwargs=tk, **kw)
        self.attach(rp.tracker)
        return rp

    async def run_replay(self, rp: Any, *, speed: float = 0.0, yield_every: int = 64) -> Any:
        """Feed ``rp`` (from ``replayer``; the hub is open) record by record, letting the flusher
        write while the tracker works; then write everything queued. Returns ``rp``."""
        loop = asyncio.get_running_loop()
        records = rp.session.records
        t0 = loop.time()
        ts0 = records[0].ts if records else 0.0
        for i, rec in enumerate(records):
            rp.step(rec)
            if speed > 0:
                due = t0 + (rec.ts - ts0) / speed
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
            if self._pending >= self.batch_entries:
                await self.drain()
            elif i % yield_every == 0:
                await asyncio.sleep(0)
        rp.finish()
        await self.drain()
        return rp

    async def stop(self, release: bool = True) -> None:
        """Write what is queued, stop, and (``release``) hand the leases back at once."""
        if self.tracker is not None and self._live:
            await self.tracker.stop()
        try:
            if self._r is not None and self._tasks:
                await asyncio.wait_for(self.drain(), timeout=5.0)
        except (asyncio.TimeoutError, *REDIS_ERRORS):
            pass
        await _cancel_all(self._tasks + list(self._flushes))
        self._tasks = []
        if release and self._r is not None and self._owned:
            p, v = self.prefix, self.venue
            owned = list(self._owned.items())
            try:
                await self._release(keys=[wire.lease_key(p, v, pair) for pair, _ in owned],
                                    args=[hp.epoch for _, hp in owned])
                await self._r.zrem(wire.hubs_key(p, v), self.hub_id)
            except REDIS_ERRORS:
                pass
        self._owned.clear()
        if self._conn is not None:
            await self._conn.release()
        if self._own_redis and self._r is not None:
            await self._r.aclose()
            self._r = None

    def kill(self) -> None:
        """Stop every task at once, as if the process died (tests: leases then expire)."""
        for t in self._tasks + list(self._flushes):
            t.cancel()

    async def __aenter__(self) -> "BookHub":
        await self.open()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
