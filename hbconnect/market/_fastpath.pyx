# cython: language_level=3
"""The tracker's compiled frame path for the common case: one in-sequence diff of a LIVE pair.

``OrderBookTracker.feed`` is the general path (any venue, any message). For a venue that
declares the shape of its diff frames (``venue.diff_frame``, a ``DiffFrame``), ``FastFeed.feed``
takes over the frames that are exactly that: it decodes the frame once, reads the fields with C
dict lookups, checks them the way the venue's parser does, and when the pair is LIVE and the diff
is the very next one by the venue's sync rule, applies it to the book and does the tracker's
bookkeeping (counters, receive time, venue update time, notifications) without building a
``BookDiff``. Everything else -- another message type, a field that is missing or of another
type, an unknown symbol, a pair that is not LIVE, a diff that is stale or reveals a gap, a book
that rejects the batch -- goes to the general path with the frame already decoded, so the
decisions (sequence rules, bad-frame counting, resync) are made by one piece of code only.

Hot fields of a pair and of a connection live in the C structs of ``TrackedBookCore`` and
``ConnectionCore`` (bases of ``TrackedBook`` and ``Connection``), read here without attribute
lookups.
"""
from cpython.dict cimport PyDict_GetItem
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject
from libc.limits cimport LLONG_MAX

cdef extern from *:
    """
    #include <time.h>
    /* time.monotonic() on Linux is clock_gettime(CLOCK_MONOTONIC): the same clock, without the
       Python call. Elsewhere the caller falls back to time.monotonic (returns -1 here). */
    static double hbc_monotonic(void) {
    #if defined(__linux__)
        struct timespec ts;
        if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
            return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    #endif
        return -1.0;
    }
    """
    double hbc_monotonic() nogil

import time as _time

_py_monotonic = _time.monotonic


cdef class TrackedBookCore:
    """The per-pair fields the frame path touches on every diff (see ``TrackedBook``)."""

    cdef public object pair
    cdef public object book
    cdef public object state
    cdef public object last_id
    cdef public bint first
    cdef public long long frames
    cdef public long long diffs_applied
    cdef public double last_update_time
    cdef public double last_receive


cdef class ConnectionCore:
    """The per-connection fields the frame path touches on every frame (see ``Connection``)."""

    cdef public long long frames
    cdef public double last_frame


cdef inline bint _as_i64(object o, long long* out):
    """An exact int that fits in int64 -> True and ``*out``; anything else -> False."""
    cdef int overflow = 0
    if type(o) is not int:
        return False
    out[0] = PyLong_AsLongLongAndOverflow(o, &overflow)
    return overflow == 0


cdef class FastFeed:
    """``feed(conn, raw, now=None)`` for one tracker whose venue declares ``diff_frame``.

    ``rule``: 1 -- the next diff has ``first_id == last_id + 1`` (and ``last_id`` beyond it);
    2 -- its ``prev_id == last_id``; 3 -- likewise, but not for the first diff after a snapshot
    (whose rule is different: the general path decides it)."""

    cdef object tracker
    cdef dict books
    cdef dict symbols
    cdef object loads
    cdef object live
    cdef object envelope
    cdef object event_key
    cdef str event
    cdef object symbol_key
    cdef object first_key
    cdef object last_key
    cdef object prev_key
    cdef object bids_key
    cdef object asks_key
    cdef object time_key
    cdef double time_units
    cdef int rule
    cdef object fallback
    cdef object general
    #: diffs applied by this path (a test/diagnostic counter; the pairs' counters are the truth)
    cdef public long long fast_frames

    def __init__(self, tracker, spec, int rule, live):
        if rule not in (1, 2, 3):
            raise ValueError(f"no fast path for sync rule code {rule}")
        if rule >= 2 and spec.prev_key is None:
            raise ValueError("a prev-id sync rule needs DiffFrame.prev_key")
        self.tracker = tracker
        self.books = tracker.books
        self.symbols = spec.symbols
        self.loads = spec.loads
        self.live = live
        self.envelope = spec.envelope
        self.event_key = spec.event_key
        self.event = spec.event
        self.symbol_key = spec.symbol_key
        self.first_key = spec.first_key
        self.last_key = spec.last_key
        self.prev_key = spec.prev_key
        self.bids_key = spec.bids_key
        self.asks_key = spec.asks_key
        self.time_key = spec.time_key
        self.time_units = spec.time_units
        self.rule = rule
        self.fallback = tracker._feed_decoded
        self.general = tracker._feed_general
        self.fast_frames = 0

    def feed(self, conn, raw, now=None):
        """Process one received frame (``OrderBookTracker.feed``). Never raises."""
        cdef double t
        cdef PyObject* p
        cdef object msg, data, pair, bids, asks, ts, book, last_obj
        cdef TrackedBookCore tb
        cdef ConnectionCore cc
        cdef long long first = 0, last = 0, prev = 0, cur = 0
        cdef bint has_prev = False
        if now is None:
            t = hbc_monotonic()
            now = t if t >= 0.0 else _py_monotonic()
        try:
            msg = self.loads(raw)
        except Exception:
            # not decodable: the general path decodes it again, counts and logs the bad frame
            return self.general(conn, raw, now)
        # --- is it exactly the declared diff frame? (the venue parser's checks, in C)
        if type(msg) is not dict:
            return self.fallback(conn, raw, now, msg)
        if self.envelope is not None:
            p = PyDict_GetItem(msg, self.envelope)
            if p is NULL or type(<object>p) is not dict:
                return self.fallback(conn, raw, now, msg)
            data = <object>p
        else:
            data = msg
        p = PyDict_GetItem(data, self.event_key)
        if p is NULL or type(<object>p) is not str or <str>p != self.event:
            return self.fallback(conn, raw, now, msg)
        p = PyDict_GetItem(data, self.first_key)
        if p is NULL or not _as_i64(<object>p, &first):
            return self.fallback(conn, raw, now, msg)
        p = PyDict_GetItem(data, self.last_key)
        if p is NULL or not _as_i64(<object>p, &last):
            return self.fallback(conn, raw, now, msg)
        last_obj = <object>p
        p = PyDict_GetItem(data, self.bids_key)
        if p is NULL or type(<object>p) is not list:
            return self.fallback(conn, raw, now, msg)
        bids = <object>p
        p = PyDict_GetItem(data, self.asks_key)
        if p is NULL or type(<object>p) is not list:
            return self.fallback(conn, raw, now, msg)
        asks = <object>p
        if self.prev_key is not None:
            p = PyDict_GetItem(data, self.prev_key)
            if p is NULL or not _as_i64(<object>p, &prev):
                return self.fallback(conn, raw, now, msg)
            has_prev = True
        ts = None
        if self.time_key is not None:
            p = PyDict_GetItem(data, self.time_key)
            if p is NULL or type(<object>p) is not int:
                return self.fallback(conn, raw, now, msg)
            ts = <object>p
        p = PyDict_GetItem(data, self.symbol_key)
        if p is NULL or type(<object>p) is not str:
            return self.fallback(conn, raw, now, msg)
        p = PyDict_GetItem(self.symbols, <object>p)
        if p is NULL:
            return self.fallback(conn, raw, now, msg)
        pair = <object>p
        p = PyDict_GetItem(self.books, pair)
        if p is NULL:
            return self.fallback(conn, raw, now, msg)
        tb = <TrackedBookCore>p
        # --- LIVE and the very next diff by the sync rule? (else the policy decides)
        if tb.state is not self.live or not _as_i64(tb.last_id, &cur):
            return self.fallback(conn, raw, now, msg)
        if self.rule == 1:
            if cur == LLONG_MAX or first != cur + 1 or last <= cur:
                return self.fallback(conn, raw, now, msg)
        elif prev != cur or (self.rule == 3 and tb.first):
            return self.fallback(conn, raw, now, msg)
        # --- the general path's bookkeeping for an applied diff, in the same order
        try:
            tracker = self.tracker
            tracker.frames += 1
            if isinstance(conn, ConnectionCore):
                cc = <ConnectionCore>conn
                cc.frames += 1
                cc.last_frame = now
            else:
                conn.frames += 1
                conn.last_frame = now
            tb.frames += 1
            tb.last_receive = now
            book = tb.book
            try:
                book.apply_diffs(bids, asks, last)
            except Exception as exc:
                self._apply_failed(conn, raw, tb, pair, bids, asks, first, last, prev, has_prev, ts, exc)
                return
            tb.last_id = last_obj
            tb.first = False
            tb.diffs_applied += 1
            if ts is not None and ts:
                tb.last_update_time = <double>ts / self.time_units
            self.fast_frames += 1
            if tracker._notify_books:
                tracker._emit_book(tb, False)
        except Exception as exc:  # a tracker bug or a failing subscription queue: contain it
            self.tracker._internal_error(conn, pair, raw, exc)

    cdef _apply_failed(self, conn, raw, TrackedBookCore tb, pair, bids, asks, long long first,
                       long long last, long long prev, bint has_prev, ts, exc):
        # The book rejected the batch (unchanged): the general path's handling, with the diff
        # it would have had.
        from hbconnect.market.messages import BookDiff

        tracker = self.tracker
        try:
            d = BookDiff(pair, bids, asks, first, last, prev if has_prev else None,
                         (<double>ts / self.time_units) if ts is not None else 0.0)
            tracker._apply_failed(tb, d, exc)
        except Exception as exc2:
            tracker._internal_error(conn, pair, raw, exc2)
