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

The frame text itself is read by a strict scanner (``_scan``) that accepts only the plain form
venues send: no whitespace, no escapes, ASCII, the declared keys at most once, exact ints of at
most 18 digits, level arrays of ``["price","size"]`` pairs, the object closing at the end of the
frame. It builds only what the book needs (the level lists, as the JSON parser would) and reads
the ids without making objects. Anything it does not accept is decoded by the JSON parser and
handled as above, so the scanner can only ever be faster, never different.

Hot fields of a pair and of a connection live in the C structs of ``TrackedBookCore`` and
``ConnectionCore`` (bases of ``TrackedBook`` and ``Connection``), read here without attribute
lookups.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject
from libc.limits cimport LLONG_MAX
from libc.string cimport memcmp, memcpy

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

cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)

import sys
import time as _time


@cython.auto_pickle(False)  # live tracker state (a book, a state machine): never pickled
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
    cdef public long long checksums_ok


@cython.auto_pickle(False)  # a live connection's counters: never pickled
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


# ------------------------------------------------------------------ the strict frame scanner

ctypedef struct Cur:
    const unsigned char* p
    const unsigned char* e


cdef inline bint _lit(Cur* c, unsigned char ch) noexcept:
    if c.p < c.e and c.p[0] == ch:
        c.p += 1
        return True
    return False


cdef inline bint _str(Cur* c, const unsigned char** s, Py_ssize_t* n) noexcept:
    """A string of printable ASCII without escapes; ``*s``/``*n`` its text."""
    cdef const unsigned char* start
    cdef unsigned char ch
    if not _lit(c, c'"'):
        return False
    start = c.p
    while c.p < c.e:
        ch = c.p[0]
        if ch == c'"':
            s[0] = start
            n[0] = c.p - start
            c.p += 1
            return True
        if ch < 0x20 or ch >= 0x7f or ch == c'\\':
            return False
        c.p += 1
    return False


cdef inline bint _int(Cur* c, long long* out) noexcept:
    """A JSON integer (no fraction, no exponent) of at most 18 digits."""
    cdef bint neg = _lit(c, c'-')
    cdef const unsigned char* start = c.p
    cdef long long v = 0
    cdef Py_ssize_t n
    while c.p < c.e and c'0' <= c.p[0] <= c'9':
        v = v * 10 + (c.p[0] - c'0')
        c.p += 1
    n = c.p - start
    if n == 0 or n > 18 or (n > 1 and start[0] == c'0'):
        return False
    if c.p < c.e and (c.p[0] == c'.' or c.p[0] == c'e' or c.p[0] == c'E'):
        return False
    out[0] = -v if neg else v
    return True


cdef inline bint _key_is(const unsigned char* k, Py_ssize_t n, bytes key) noexcept:
    return key is not None and n == PyBytes_GET_SIZE(key) and memcmp(k, PyBytes_AS_STRING(key), n) == 0


cdef inline object _ascii(const unsigned char* s, Py_ssize_t n):
    cdef object o = PyUnicode_New(n, 127)
    memcpy(PyUnicode_DATA(o), s, n)
    return o


cdef inline bint _skip_value(Cur* c) noexcept:
    """A value the fast path does not use: only a plain string or an integer is accepted."""
    cdef const unsigned char* s
    cdef Py_ssize_t n
    cdef long long v
    if c.p < c.e and c.p[0] == c'"':
        return _str(c, &s, &n)
    return _int(c, &v)


cdef inline bint _cursor(object raw, Cur* c):
    """A cursor over the frame's text: an ASCII str or bytes (False for anything else)."""
    if type(raw) is str:
        if not PyUnicode_IS_COMPACT_ASCII(raw):
            return False
        c.p = <const unsigned char*>PyUnicode_DATA(raw)
        c.e = c.p + PyUnicode_GET_LENGTH(raw)
        return True
    if type(raw) is bytes:
        c.p = <const unsigned char*>PyBytes_AS_STRING(raw)
        c.e = c.p + PyBytes_GET_SIZE(raw)
        return True
    return False


cdef object _NOTHING = object()  # text the partial reader does not accept (the caller falls back)


cdef inline int _word(Cur* c) noexcept:
    """``false`` -> 0, ``true`` -> 1, ``null`` -> 2 (the cursor moved past it); else -1."""
    cdef Py_ssize_t left = c.e - c.p
    if left >= 4 and memcmp(c.p, b"true", 4) == 0:
        c.p += 4
        return 1
    if left >= 5 and memcmp(c.p, b"false", 5) == 0:
        c.p += 5
        return 0
    if left >= 4 and memcmp(c.p, b"null", 4) == 0:
        c.p += 4
        return 2
    return -1


cdef bint _skip(Cur* c, int depth) noexcept:
    """Step over one value of the strict subset (see ``_value``) without building it."""
    cdef const unsigned char* s
    cdef Py_ssize_t n
    cdef long long v
    cdef unsigned char ch
    if c.p >= c.e or depth > 16:
        return False
    ch = c.p[0]
    if ch == c'"':
        return _str(c, &s, &n)
    if ch == c'{':
        c.p += 1
        if _lit(c, c'}'):
            return True
        while True:
            if not _str(c, &s, &n) or not _lit(c, c':') or not _skip(c, depth + 1):
                return False
            if _lit(c, c'}'):
                return True
            if not _lit(c, c','):
                return False
    if ch == c'[':
        c.p += 1
        if _lit(c, c']'):
            return True
        while True:
            if not _skip(c, depth + 1):
                return False
            if _lit(c, c']'):
                return True
            if not _lit(c, c','):
                return False
    return _word(c) >= 0 or _int(c, &v)


cdef enum:  # what the partial reader builds of a value (``_Want.kind``)
    W_ALL = 0    # the whole value, as the JSON parser builds it
    W_OBJ = 1    # an object: only the named keys, each read with its own want
    W_ARR = 2    # an array: every element read with ``elem``
    W_ROWS = 3   # level rows ``[["p","q"],...]``, exactly two strings each (the JSON parser's lists)
    W_ROWS_CUT = 4  # level rows of at least two strings then anything, cut to ``[p, q]``
    W_ROWS_SEQ = 6  # changes ``[["p","q","seq"],...]``: ordered by seq, price "0" dropped, cut to ``[p, q]``
    W_ROWS_OBJ = 5  # level objects ``[{"p":"price","s":size},...]`` (``bkeys``: the two keys) -> ``[p, q]``
    W_ROWS_NUM = 7  # rows ``[[1.5,"2"],...]`` of numbers or strings, their exact text (``_num_rows_value``)


@cython.auto_pickle(False)
cdef class _Want:
    """A compiled node of the tree of what a frame's partial read builds (see ``_want_tree``):
    object keys are compared as bytes and stored with their interned str (no key objects made,
    no hashing of the frame's keys)."""
    cdef int kind
    cdef tuple bkeys   # W_OBJ: the keys as bytes
    cdef tuple skeys   # ... as str
    cdef tuple subs    # ... each key's _Want
    cdef _Want elem    # W_ARR: the elements' _Want


cdef _Want _W_ALL = _Want()


cdef _Want _compile_want(want):
    """The plain tree (``_merge_want``: None, dict, 1-tuple or a rows marker) as ``_Want`` nodes."""
    cdef _Want w
    if want is None:
        return _W_ALL
    w = _Want()
    if type(want) is dict:
        w.kind = W_OBJ
        w.skeys = tuple(sys.intern(k) for k in want)
        w.bkeys = tuple(k.encode("ascii") for k in w.skeys)
        w.subs = tuple(_compile_want(v) for v in want.values())
    elif type(want) is tuple:
        w.kind = W_ARR
        w.elem = _compile_want(want[0])
    elif want == ROWS:
        w.kind = W_ROWS
    elif want == ROWS_CUT:
        w.kind = W_ROWS_CUT
    elif want == ROWS_SEQ:
        w.kind = W_ROWS_SEQ
    elif want == ROWS_NUM:
        w.kind = W_ROWS_NUM
    elif type(want) is list:  # ROWS_OBJ: [price key, size key]
        w.kind = W_ROWS_OBJ
        w.bkeys = tuple(k.encode("ascii") for k in want)
    else:
        raise ValueError(f"not a want tree node: {want!r}")
    return w


cdef inline bint _is_key(const unsigned char* s, Py_ssize_t n, bytes key) noexcept:
    return n == PyBytes_GET_SIZE(key) and memcmp(s, PyBytes_AS_STRING(key), n) == 0


cdef bint _digits(const unsigned char* s, Py_ssize_t n, long long* out) noexcept:
    """Plain decimal digits (1 to 18 of them) -> ``*out``: text ``int()`` reads as that number."""
    cdef Py_ssize_t i
    cdef long long v = 0
    if n < 1 or n > 18:
        return False
    for i in range(n):
        if s[i] < c'0' or s[i] > c'9':
            return False
        v = v * 10 + (s[i] - c'0')
    out[0] = v
    return True


cdef inline bint _str_digits(object o, long long* out):
    """A str of plain decimal digits (see ``_digits``) -> ``*out``."""
    return PyUnicode_IS_COMPACT_ASCII(o) and _digits(<const unsigned char*>PyUnicode_DATA(o),
                                                     PyUnicode_GET_LENGTH(o), out)


cdef object _in_sequence(list rows, list seqs):
    """Changes ``[price, size]`` with their sequence numbers -> ordered by sequence (a stable
    sort, as ``sorted(..., key=seq)``), those whose price is "0" (sequence-only) dropped."""
    cdef Py_ssize_t i, n = len(rows)
    cdef bint ordered = True
    cdef list order
    for i in range(1, n):
        if <long long>seqs[i] < <long long>seqs[i - 1]:
            ordered = False
            break
    order = list(range(n)) if ordered else sorted(range(n), key=seqs.__getitem__)
    return [rows[i] for i in order if rows[i][0] != "0"]


cdef object _rows_value(Cur* c, int kind):
    """Level rows (``W_ROWS``, ``W_ROWS_CUT``, ``W_ROWS_SEQ``: then exactly three strings, the
    third plain digits); ``_NOTHING`` for anything else."""
    cdef const unsigned char* s
    cdef Py_ssize_t n
    cdef long long seq
    cdef list out = [], seqs = []
    cdef object price
    if not _lit(c, c'['):
        return _NOTHING
    if _lit(c, c']'):
        return out
    while True:
        if not _lit(c, c'[') or not _str(c, &s, &n):
            return _NOTHING
        price = _ascii(s, n)
        if not _lit(c, c',') or not _str(c, &s, &n):
            return _NOTHING
        out.append([price, _ascii(s, n)])
        if kind == W_ROWS_CUT:
            while _lit(c, c','):
                if not _skip(c, 1):
                    return _NOTHING
        elif kind == W_ROWS_SEQ:
            if not _lit(c, c',') or not _str(c, &s, &n) or not _digits(s, n, &seq):
                return _NOTHING
            seqs.append(seq)
        if not _lit(c, c']'):
            return _NOTHING
        if _lit(c, c']'):
            return _in_sequence(out, seqs) if kind == W_ROWS_SEQ else out
        if not _lit(c, c','):
            return _NOTHING


cdef object _obj_rows_value(Cur* c, bytes pk, bytes sk):
    """Level objects (``W_ROWS_OBJ``): the price a string, the size a string or an exact int
    (written as its decimal text, as ``str(int)`` writes it), other keys skipped, either key
    twice refused; ``_NOTHING`` for anything else."""
    cdef const unsigned char* s
    cdef const unsigned char* v
    cdef Py_ssize_t n, vn
    cdef long long iv
    cdef list out = []
    cdef object price, size
    if not _lit(c, c'['):
        return _NOTHING
    if _lit(c, c']'):
        return out
    while True:
        if not _lit(c, c'{'):
            return _NOTHING
        price = size = None
        while True:
            if not _str(c, &s, &n) or not _lit(c, c':'):
                return _NOTHING
            if _is_key(s, n, pk):
                if price is not None or not _str(c, &v, &vn):
                    return _NOTHING
                price = _ascii(v, vn)
            elif _is_key(s, n, sk):
                if size is not None:
                    return _NOTHING
                if c.p < c.e and c.p[0] == c'"':
                    if not _str(c, &v, &vn):
                        return _NOTHING
                else:
                    v = c.p
                    if not _int(c, &iv) or (iv == 0 and v[0] == c'-'):
                        return _NOTHING  # "-0" is 0 to the JSON parser: let it say so
                    vn = c.p - v
                size = _ascii(v, vn)
            elif not _skip(c, 2):
                return _NOTHING
            if _lit(c, c'}'):
                break
            if not _lit(c, c','):
                return _NOTHING
        if price is None or size is None:
            return _NOTHING
        out.append([price, size])
        if _lit(c, c']'):
            return out
        if not _lit(c, c','):
            return _NOTHING


cdef object _value(Cur* c, _Want want, int depth):
    """One JSON value of the strict subset (no whitespace, no escapes, printable ASCII strings,
    ints of at most 18 digits, no fractions or exponents), built as the JSON parser builds it --
    except where ``want`` says to build less: an object of ``W_OBJ`` keeps only the keys the want
    names (each read with its own want; such a key twice: refused), an array of ``W_ARR`` reads
    its elements with ``elem``, level rows are read as ``_rows_value`` does. ``_NOTHING`` for
    anything else."""
    cdef const unsigned char* s
    cdef Py_ssize_t n, i, nk
    cdef long long v
    cdef dict d
    cdef list lst
    cdef object item, key
    cdef _Want sub
    cdef bytes bk
    cdef unsigned char ch
    cdef int w, kind = want.kind
    if c.p >= c.e or depth > 16:
        return _NOTHING
    ch = c.p[0]
    if kind == W_ROWS or kind == W_ROWS_CUT or kind == W_ROWS_SEQ:
        return _rows_value(c, kind)
    if kind == W_ROWS_OBJ:
        return _obj_rows_value(c, <bytes>want.bkeys[0], <bytes>want.bkeys[1])
    if kind == W_ROWS_NUM:
        return _num_rows_value(c)
    if ch == c'"':
        if kind != W_ALL or not _str(c, &s, &n):
            return _NOTHING
        return _ascii(s, n)
    if ch == c'{':
        if kind != W_ALL and kind != W_OBJ:
            return _NOTHING
        c.p += 1
        d = {}
        if _lit(c, c'}'):
            return d
        nk = len(want.bkeys) if kind == W_OBJ else 0
        while True:
            if not _str(c, &s, &n) or not _lit(c, c':'):
                return _NOTHING
            if kind == W_ALL:
                item = _value(c, want, depth + 1)
                if item is _NOTHING:
                    return _NOTHING
                d[_ascii(s, n)] = item
            else:
                for i in range(nk):
                    bk = <bytes>want.bkeys[i]
                    if n == PyBytes_GET_SIZE(bk) and memcmp(s, PyBytes_AS_STRING(bk), n) == 0:
                        break
                else:
                    i = -1
                if i < 0:
                    if not _skip(c, depth + 1):
                        return _NOTHING
                else:
                    key = want.skeys[i]
                    if key in d:
                        return _NOTHING
                    item = _value(c, <_Want>want.subs[i], depth + 1)
                    if item is _NOTHING:
                        return _NOTHING
                    d[key] = item
            if _lit(c, c'}'):
                return d
            if not _lit(c, c','):
                return _NOTHING
    if ch == c'[':
        if kind != W_ALL and kind != W_ARR:
            return _NOTHING
        c.p += 1
        lst = []
        sub = want if kind == W_ALL else want.elem
        if _lit(c, c']'):
            return lst
        while True:
            item = _value(c, sub, depth + 1)
            if item is _NOTHING:
                return _NOTHING
            lst.append(item)
            if _lit(c, c']'):
                return lst
            if not _lit(c, c','):
                return _NOTHING
    if kind != W_ALL:
        return _NOTHING  # a scalar where an object or array was declared: let the parser judge
    w = _word(c)
    if w >= 0:
        return (False, True, None)[w]
    if _int(c, &v):
        return v
    return _NOTHING


cdef enum:  # the fields of a diff frame the scanner has seen
    F_EVENT = 1
    F_SYMBOL = 2
    F_FIRST = 4
    F_LAST = 8
    F_PREV = 16
    F_TIME = 32
    F_BIDS = 64
    F_ASKS = 128


_UNSET = object()


#: rows markers of the plain want tree (``_want_tree``'s ``rows``)
ROWS = "rows"
ROWS_CUT = "rows-cut"
ROWS_SEQ = "rows-seq"


cdef object _merge_want(want, tuple path, leaf=None):
    """``want`` extended so that the value at ``path`` is read as ``leaf`` says (None: read whole;
    a rows marker; a dict: those keys; a 1-tuple: an array's elements). Two different reads of
    one value: read whole."""
    if want is None:
        return None
    if not path:
        return leaf if want is _UNSET or want == leaf else None
    key = path[0]
    if type(key) is str:
        if want is not _UNSET and type(want) is not dict:
            return None  # declared both as an array and as an object: read it whole
        d = dict(want) if want is not _UNSET else {}
        d[key] = _merge_want(d.get(key, _UNSET), path[1:], leaf)
        return d
    if want is not _UNSET and type(want) is not tuple:
        return None
    return (_merge_want(want[0] if want is not _UNSET else _UNSET, path[1:], leaf),)


cdef object _want_at(want, tuple path):
    """The node of a plain want tree at ``path`` (None: read whole there)."""
    for key in path:
        if type(want) is dict:
            want = want.get(key)
        elif type(want) is tuple:
            want = want[0]
        else:
            return None
    return want


cdef object _want_tree(tuple env, tuple paths, tuple data_keys, tuple sides=(), rows=None):
    """The parts of a frame of a declared shape the compiled path reads: ``paths`` from the top,
    ``data_keys`` (keys or key paths) under the envelope ``env``, and the level ``sides`` (key
    paths under ``env``) read as ``rows`` (a rows marker; None: whole)."""
    want = _UNSET
    for path in paths:
        want = _merge_want(want, path)
    for key in data_keys:
        want = _merge_want(want, env + (key if type(key) is tuple else (key,)))
    for key in sides:
        want = _merge_want(want, env + (key if type(key) is tuple else (key,)), rows)
    return None if want is _UNSET else want


@cython.auto_pickle(False)  # holds its tracker and callables: not data
cdef class FastFeed:
    """``feed(conn, raw, now=None)`` for one tracker whose venue declares ``diff_frame``.

    ``rule``: 1 -- the next diff has ``first_id == last_id + 1`` (and ``last_id`` beyond it);
    2 -- its ``prev_id == last_id``; 3 -- likewise, but not for the first diff after a snapshot
    (whose rule is different: the general path decides it); 4 -- its ``last_id`` beyond the
    book's (timestamps); 5 -- whole-book frames (``DiffFrame.snapshot``), read here and handed
    to the tracker's dispatch; 6 -- no ids (sync rule CHECKSUM): every diff of a live pair
    applies and the venue's checksum proves it."""

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
    # the same keys as bytes, for the scanner
    cdef bytes b_envelope, b_event_key, b_event, b_symbol_key, b_first_key, b_last_key, b_prev_key
    cdef bytes b_bids_key, b_asks_key, b_time_key
    cdef int required
    # what the scanner found in the current frame
    cdef object s_bids, s_asks
    cdef const unsigned char* s_sym
    cdef Py_ssize_t s_sym_n
    cdef long long s_first, s_last, s_prev, s_time
    cdef int s_seen
    #: diffs applied by this path (a test/diagnostic counter; the pairs' counters are the truth)
    cdef public long long fast_frames
    #: of those, frames the scanner read without the JSON parser
    cdef public long long scanned_frames
    #: the time of a frame fed without ``now``: None -- CLOCK_MONOTONIC read in C (the tracker's
    #: clock is the real ``time.monotonic``); else the tracker's injected clock, called
    cdef public object clock
    # the other venues' shapes (``DiffFrame``'s second block): read from the decoded frame
    cdef bint shaped
    cdef tuple env_path, symbol_path, time_path, match, match_prefix, absent
    cdef object levels_key, checksum_key
    #: ``DiffFrame.book_checksum``: the book method (name, args) giving ``venue.checksum(book)``
    cdef object ck_name
    cdef tuple ck_args
    cdef str symbol_prefix
    #: what the partial reader builds of a frame of a declared shape (see ``_want_tree``)
    cdef _Want want
    cdef bint rows_ready  # the partial reader's level rows are the venue parser's
    cdef tuple level_keys
    cdef bint level_seq
    cdef bint check_levels, int_text, zero_none, missing_empty, has_snapshot_id
    cdef int level_width
    cdef long long snapshot_id
    #: truncate the book to this depth after each diff (0: never), as the general path does
    cdef public int max_depth
    # DiffFrame.inflate, level_numbers, symbol_suffix, time_required, snapshot (see the block at the end)
    cdef object inflate
    cdef bint level_numbers, time_required, snapshot, symbol_upper, checksum_u32
    cdef object time_parse
    cdef double s_secs  # the frame's time in seconds when not an int id (``time_parse``, Kraken's row time); 0: none
    cdef str symbol_suffix

    # --- fpodd3: array frames (``DiffFrame.array_frame``, see ``_array_msg`` at the end)
    cdef bint array_frame
    cdef object channel_ids
    cdef int row_time
    cdef bytes b_checksum_key
    cdef bint single_level
    # --- end fpodd3

    def __init__(self, tracker, spec, int rule, live, symbols=None):
        if rule not in (1, 2, 3, 4, 5, 6) or (rule == 5) != bool(spec.snapshot):
            raise ValueError(f"no fast path for sync rule code {rule}")
        if rule in (2, 3) and spec.prev_key is None:
            raise ValueError("a prev-id sync rule needs DiffFrame.prev_key")
        self.tracker = tracker
        self.books = tracker.books
        self.symbols = spec.symbols if symbols is None else symbols
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
        self.fallback = tracker._feed_decoded if spec.parse_decoded is not None else None
        self.general = tracker._feed_general
        self.fast_frames = 0
        self.scanned_frames = 0
        self.clock = None

        def b(k):  # the text scanner's keys (the plain shape only: a key, never a path)
            return k.encode("ascii") if type(k) is str else None

        self.b_envelope = b(self.envelope)
        self.b_event_key = b(self.event_key)
        self.b_event = b(self.event)
        self.b_symbol_key = b(self.symbol_key)
        self.b_first_key = b(self.first_key)
        self.b_last_key = b(self.last_key)
        self.b_prev_key = b(self.prev_key)
        self.b_bids_key = b(self.bids_key)
        self.b_asks_key = b(self.asks_key)
        self.b_time_key = b(self.time_key)
        self.max_depth = tracker.max_depth or 0
        env = spec.envelope
        self.env_path = () if env is None else (tuple(env) if type(env) is tuple else (env,))
        self.symbol_path = tuple(spec.symbol_path) if spec.symbol_path is not None else None
        self.time_path = tuple(spec.time_path) if spec.time_path is not None else None
        def path(k):
            return tuple(k) if type(k) is tuple else (k,)

        self.match = tuple((path(k), v) for k, v in spec.match)
        self.match_prefix = tuple((path(k), v) for k, v in spec.match_prefix)
        self.absent = tuple(path(k) for k in spec.absent)
        self.levels_key = spec.levels_key
        self.symbol_prefix = spec.symbol_prefix
        self.checksum_key = spec.checksum_key
        self.ck_name = spec.book_checksum[0] if spec.book_checksum else None
        self.ck_args = tuple(spec.book_checksum[1:]) if spec.book_checksum else ()
        self.check_levels = spec.check_levels
        self.level_keys = tuple(spec.level_keys) if spec.level_keys is not None else None
        self.level_seq = spec.level_sequence
        self.level_width = spec.level_width
        self.int_text = spec.int_text
        self.zero_none = spec.checksum_zero_is_none
        self.missing_empty = spec.missing_side_empty
        self.has_snapshot_id = spec.snapshot_last_id is not None
        self.snapshot_id = spec.snapshot_last_id if self.has_snapshot_id else 0
        self.inflate = spec.inflate
        self.level_numbers = spec.level_numbers
        self.symbol_suffix = spec.symbol_suffix
        self.time_required = spec.time_required
        self.snapshot = spec.snapshot
        self.symbol_upper = spec.symbol_upper
        self.time_parse = spec.time_parse
        self.checksum_u32 = spec.checksum_u32
        if self.last_key is None and not self.snapshot:
            raise ValueError("a diff needs DiffFrame.last_key")
        # the plain shape (one envelope key, an event, ints, rows for the book): the text scanner
        # and the decoded path below; any other shape: the general decoded reader (_shaped_msg)
        self.shaped = bool(len(self.env_path) > 1 or self.event_key is None or self.first_key is None
                           or self.symbol_key is None or self.symbol_path is not None or self.symbol_prefix
                           or self.time_path is not None or self.match or self.match_prefix
                           or self.absent or self.levels_key is not None or self.checksum_key is not None
                           or self.check_levels or self.int_text or self.has_snapshot_id
                           or self.missing_empty or self.max_depth or rule == 4
                           or self.inflate is not None or self.level_numbers or self.snapshot
                           or self.time_parse is not None
                           or (self.env_path and type(self.env_path[0]) is not str))
        if self.shaped:
            sides = (self.bids_key, self.asks_key)
            if self.levels_key is not None:
                sides = tuple((self.levels_key, k) for k in sides)
            # the level rows are built as the venue parser returns them (``_side``'s ``ready``)
            rows = ROWS_CUT if self.check_levels and self.level_width > 2 else ROWS
            if self.level_keys is not None:
                rows = list(self.level_keys)
            elif self.level_seq:
                rows = ROWS_SEQ
            elif self.level_numbers:
                rows = ROWS_NUM
            tree = _want_tree(
                self.env_path,
                tuple(k for k, _ in self.match + self.match_prefix) + self.absent
                + tuple(p for p in (self.symbol_path, self.time_path) if p is not None),
                tuple(k for k in (self.event_key, self.first_key, self.last_key, self.prev_key, self.time_key,
                                  self.checksum_key, self.symbol_key) if k is not None),
                sides, rows)
            self.want = _compile_want(tree)
            self.rows_ready = all(_want_at(tree, self.env_path + (k if type(k) is tuple else (k,))) == rows
                                  for k in sides)
        # --- fpodd3: an array frame is read whole by the partial reader (its elements differ)
        self.array_frame = spec.array_frame
        self.channel_ids = spec.channel_ids
        self.row_time = spec.row_time
        self.s_secs = 0.0
        self.b_checksum_key = b(self.checksum_key)
        self.single_level = spec.single_level
        if self.array_frame or self.single_level:
            self.shaped = True
            self.want = _W_ALL
            self.rows_ready = False
        # --- end fpodd3
        self.required = F_EVENT | F_SYMBOL | F_FIRST | F_LAST | F_BIDS | F_ASKS
        if self.prev_key is not None:
            self.required |= F_PREV
        if self.time_key is not None:
            self.required |= F_TIME

    cdef bint _scan_data(self, Cur* c) except -1:
        cdef const unsigned char* k
        cdef Py_ssize_t kn
        cdef const unsigned char* s
        cdef Py_ssize_t n
        cdef int seen = 0, f
        cdef object lv
        if not _lit(c, c'{'):
            return False
        if _lit(c, c'}'):
            return False
        while True:
            if not _str(c, &k, &kn) or not _lit(c, c':'):
                return False
            if _key_is(k, kn, self.b_event_key):
                f = F_EVENT
                if seen & f or not _str(c, &s, &n):
                    return False
                if n != PyBytes_GET_SIZE(self.b_event) or memcmp(s, PyBytes_AS_STRING(self.b_event), n) != 0:
                    return False  # another event: the general path
            elif _key_is(k, kn, self.b_first_key):
                f = F_FIRST
                if seen & f or not _int(c, &self.s_first):
                    return False
            elif _key_is(k, kn, self.b_last_key):
                f = F_LAST
                if seen & f or not _int(c, &self.s_last):
                    return False
            elif _key_is(k, kn, self.b_prev_key):
                f = F_PREV
                if seen & f or not _int(c, &self.s_prev):
                    return False
            elif _key_is(k, kn, self.b_time_key):
                f = F_TIME
                if seen & f or not _int(c, &self.s_time):
                    return False
            elif _key_is(k, kn, self.b_symbol_key):
                f = F_SYMBOL
                if seen & f or not _str(c, &self.s_sym, &self.s_sym_n):
                    return False
            elif _key_is(k, kn, self.b_bids_key):
                f = F_BIDS
                if seen & f:
                    return False
                lv = _rows_value(c, W_ROWS)
                if lv is _NOTHING:
                    return False
                self.s_bids = lv
            elif _key_is(k, kn, self.b_asks_key):
                f = F_ASKS
                if seen & f:
                    return False
                lv = _rows_value(c, W_ROWS)
                if lv is _NOTHING:
                    return False
                self.s_asks = lv
            else:
                f = 0
                if not _skip_value(c):
                    return False
            seen |= f
            if _lit(c, c'}'):
                return (seen & self.required) == self.required
            if not _lit(c, c','):
                return False

    cdef bint _scan(self, raw) except -1:
        """Read a frame of exactly the declared shape; False for anything else."""
        cdef Cur c
        cdef const unsigned char* k
        cdef Py_ssize_t kn
        cdef bint found = False
        if not _cursor(raw, &c):
            return False
        if self.b_envelope is None:
            return self._scan_data(&c) and c.p == c.e
        if not _lit(&c, c'{') or _lit(&c, c'}'):
            return False
        while True:
            if not _str(&c, &k, &kn) or not _lit(&c, c':'):
                return False
            if _key_is(k, kn, self.b_envelope):
                if found or not self._scan_data(&c):
                    return False
                found = True
            elif not _skip_value(&c):
                return False
            if _lit(&c, c'}'):
                return found and c.p == c.e
            if not _lit(&c, c','):
                return False

    def feed(self, conn, raw, now=None):
        """Process one received frame (``OrderBookTracker.feed``). Never raises."""
        cdef double t
        cdef PyObject* p
        cdef object msg, sym
        cdef bint done, scanned
        if now is None:
            if self.clock is not None:
                now = self.clock()
            else:
                t = hbc_monotonic()
                now = t if t >= 0.0 else _time.monotonic()
        if self.single_level or self.array_frame:  # fpodd3: read from the text
            try:
                done = _level_scan(self, conn, raw, now) if self.single_level else _array_scan(self, conn, raw, now)
            except Exception:  # MemoryError while building the levels: the general path tries
                done = False
            if done:
                self.scanned_frames += 1
                return
            return self.general(conn, raw, now) if self.single_level else self._decoded(conn, raw, now)
        text = raw
        if self.inflate is not None and type(raw) is bytes:  # a compressed frame: its text
            text = _inflated(self.inflate, <bytes>raw)
            if text is None:
                return self.general(conn, raw, now)
        if self.shaped:
            msg = self._partial(text)
            if msg is not None and self._shaped_msg(conn, raw, now, msg, self.rows_ready):
                self.scanned_frames += 1
                return
            return self._decoded(conn, raw, now, text)
        try:
            scanned = self._scan(raw)
        except Exception:  # MemoryError while building the levels: let the general path try
            scanned = False
        try:
            if scanned:
                sym = _ascii(self.s_sym, self.s_sym_n)
                p = PyDict_GetItem(self.symbols, sym)
                if p is not NULL:
                    done = self._try_apply(conn, raw, now, <object>p, self.s_bids, self.s_asks, self.s_first,
                                           self.s_last, None, self.s_prev, self.b_prev_key is not None,
                                           self.b_time_key is not None, self.s_time, False, 0)
                    if done:
                        self.scanned_frames += 1
                        return
        finally:
            self.s_bids = self.s_asks = None
        return self._decoded(conn, raw, now)

    cdef object _partial(self, raw):
        """The frame read by the strict partial reader (only the declared keys built); None when
        it is not plain enough for it (the JSON parser then decodes it)."""
        cdef Cur c
        cdef object msg
        if not _cursor(raw, &c):
            return None
        try:
            msg = _value(&c, self.want, 0)
        except Exception:  # MemoryError: the general path tries
            return None
        if msg is _NOTHING or c.p != c.e:
            return None
        return msg

    cdef _decoded(self, conn, raw, now, text=None):
        """The frame decoded (``text``: its inflated text): the declared diff is handled here,
        anything else by the general path."""
        cdef bint done
        try:
            msg = self.loads(raw if text is None else text)
        except Exception:
            # not decodable: the general path decodes it again, counts and logs the bad frame
            return self.general(conn, raw, now)
        done = self._shaped_msg(conn, raw, now, msg, False) if self.shaped else self._feed_msg(conn, raw, now, msg)
        if not done:
            if self.fallback is None:
                return self.general(conn, raw, now)
            return self.fallback(conn, raw, now, msg)

    cdef bint _feed_msg(self, conn, raw, now, msg) except -1:
        """A decoded frame: True when it was the declared diff and handled here."""
        cdef PyObject* p
        cdef object data, bids, asks, last_obj
        cdef long long first = 0, last = 0, prev = 0, ts = 0
        if type(msg) is not dict:
            return False
        if self.envelope is not None:
            p = PyDict_GetItem(msg, self.envelope)
            if p is NULL or type(<object>p) is not dict:
                return False
            data = <object>p
        else:
            data = msg
        p = PyDict_GetItem(data, self.event_key)
        if p is NULL or type(<object>p) is not str or <str>p != self.event:
            return False
        p = PyDict_GetItem(data, self.first_key)
        if p is NULL or not _as_i64(<object>p, &first):
            return False
        p = PyDict_GetItem(data, self.last_key)
        if p is NULL or not _as_i64(<object>p, &last):
            return False
        last_obj = <object>p
        p = PyDict_GetItem(data, self.bids_key)
        if p is NULL or type(<object>p) is not list:
            return False
        bids = <object>p
        p = PyDict_GetItem(data, self.asks_key)
        if p is NULL or type(<object>p) is not list:
            return False
        asks = <object>p
        if self.prev_key is not None:
            p = PyDict_GetItem(data, self.prev_key)
            if p is NULL or not _as_i64(<object>p, &prev):
                return False
        if self.time_key is not None:
            p = PyDict_GetItem(data, self.time_key)
            if p is NULL or not _as_i64(<object>p, &ts):
                return False
        p = PyDict_GetItem(data, self.symbol_key)
        if p is NULL or type(<object>p) is not str:
            return False
        p = PyDict_GetItem(self.symbols, <object>p)
        if p is NULL:
            return False
        return self._try_apply(conn, raw, now, <object>p, bids, asks, first, last, last_obj, prev,
                               self.prev_key is not None, self.time_key is not None, ts, False, 0)

    cdef bint _id(self, object o, long long* out) except -1:
        """An id as the venue parser reads it (``_common.as_int``): an exact int, or with
        ``int_text`` plain decimal digits (no sign, space, underscore or leading zero, which
        ``int()`` would also take: the general path decides those)."""
        if type(o) is int:
            return _as_i64(o, out)
        if not self.int_text or type(o) is not str or not PyUnicode_IS_COMPACT_ASCII(o):
            return False
        if PyUnicode_GET_LENGTH(o) > 1 and (<const unsigned char*>PyUnicode_DATA(o))[0] == c'0':
            return False
        return _str_digits(o, out)

    cdef object _rows(self, object rows):
        """A side as the venue parser returns it; None when the general path must decide."""
        cdef list out
        cdef object row
        if type(rows) is not list:
            return None
        if self.level_keys is not None:
            return self._obj_rows(<list>rows)
        if self.level_seq:
            return self._seq_rows(<list>rows)
        if self.level_numbers:
            return _num_rows(<list>rows)
        if not self.check_levels:
            return rows
        for row in <list>rows:
            if type(row) is not list or len(<list>row) < 2 or type((<list>row)[0]) is not str \
                    or type((<list>row)[1]) is not str:
                return None
        if self.level_width <= 2:
            return rows
        out = []
        for row in <list>rows:
            out.append([(<list>row)[0], (<list>row)[1]])
        return out

    cdef object _seq_rows(self, list rows):
        """Decoded changes as the venue parser returns them (``DiffFrame.level_sequence``): rows
        of at least three, two strings then a sequence (an exact int, or plain digit text)."""
        cdef list out = [], seqs = []
        cdef long long seq
        cdef object row, q
        for row in rows:
            if type(row) is not list or len(<list>row) < 3 or type((<list>row)[0]) is not str \
                    or type((<list>row)[1]) is not str:
                return None
            q = (<list>row)[2]
            if type(q) is str:
                if not _str_digits(q, &seq):
                    return None
            elif not _as_i64(q, &seq):
                return None
            out.append([(<list>row)[0], (<list>row)[1]])
            seqs.append(seq)
        return _in_sequence(out, seqs)

    cdef object _obj_rows(self, list rows):
        """Decoded level objects as the venue parser returns them (``DiffFrame.level_keys``)."""
        cdef list out = []
        cdef PyObject* p
        cdef object row, price, size
        for row in rows:
            if type(row) is not dict:
                return None
            p = PyDict_GetItem(row, self.level_keys[0])
            if p is NULL or type(<object>p) is not str:
                return None
            price = <object>p
            p = PyDict_GetItem(row, self.level_keys[1])
            if p is NULL:
                return None
            size = <object>p
            if type(size) is int:
                size = str(size)
            elif type(size) is not str:
                return None
            out.append([price, size])
        return out

    cdef object _side(self, dict side, object key, bint ready):
        """One side of the diff as the venue parser returns it; None: the general path decides.
        ``ready``: the frame was read by the partial reader, whose rows are already that."""
        cdef PyObject* p = PyDict_GetItem(side, key)
        if p is NULL:
            return [] if self.missing_empty else None
        if ready:
            return <object>p
        return self._rows(<object>p)

    cdef bint _shaped_msg(self, conn, raw, now, msg, bint ready) except -1:
        """A frame of any other declared shape (read whole, or in part: ``ready``): True when it was
        the diff and was handled here."""
        cdef PyObject* p
        cdef object data, side, bids, asks, sym, key, val, last_obj = None
        cdef long long first = 0, last = 0, prev = 0, ts = 0, cks = 0
        cdef bint has_ts = False, has_cks = False
        self.s_secs = 0.0
        if self.array_frame:  # fpodd3
            return _array_msg(self, conn, raw, now, msg)
        if type(msg) is not dict:
            return False
        for key, val in self.match:
            sym = self._walk(msg, key, False)
            if type(sym) is not str or <str>sym != val:
                return False
        for key, val in self.match_prefix:
            sym = self._walk(msg, key, False)
            if type(sym) is not str or not (<str>sym).startswith(val):
                return False
        for key in self.absent:
            if self._walk(msg, key, False) is not None or not self._absent(msg, key):
                return False
        data = self._walk(msg, self.env_path)
        if data is None:
            return False
        if self.event_key is not None:
            p = PyDict_GetItem(data, self.event_key)
            if p is NULL or type(<object>p) is not str or <str>p != self.event:
                return False
        p = PyDict_GetItem(data, self.last_key) if self.last_key is not None else <PyObject*>_ZERO
        if p is NULL or not self._id(<object>p, &last):
            return False
        if type(<object>p) is int:
            last_obj = <object>p
        if self.has_snapshot_id and last == self.snapshot_id:
            return False
        if self.first_key is None:
            first = last
        else:
            p = PyDict_GetItem(data, self.first_key)
            if p is NULL or not self._id(<object>p, &first):
                return False
        if self.prev_key is not None:
            p = PyDict_GetItem(data, self.prev_key)
            if p is NULL or not self._id(<object>p, &prev):
                return False
        side = data
        if self.levels_key is not None:
            p = PyDict_GetItem(data, self.levels_key)
            if p is NULL or type(<object>p) is not dict:
                return False
            side = <object>p
        bids = self._side(side, self.bids_key, ready)
        if bids is None:
            return False
        asks = self._side(side, self.asks_key, ready)
        if asks is None:
            return False
        if self.time_parse is not None:  # a time the venue's function reads (``DiffFrame.time_parse``)
            if not _parse_time(self, data):
                return False
        elif self.time_path is not None:
            val = self._walk(msg, self.time_path, False)
            if val is not None:
                if not self._id(val, &ts):
                    return False
                has_ts = True
            elif self.time_required or not self._absent(msg, self.time_path):
                return False
        elif self.time_key is not None:
            p = PyDict_GetItem(data, self.time_key)
            if p is not NULL:  # absent: no venue time (the parsers' ``ms_to_seconds(None)``)
                if not self._id(<object>p, &ts):
                    return False
                has_ts = True
            elif self.time_required:
                return False
        if self.checksum_key is not None:
            p = PyDict_GetItem(data, self.checksum_key)
            if p is NULL:
                if not self.zero_none:
                    return False
            elif type(<object>p) is int:
                if not _as_i64(<object>p, &cks):
                    return False
            elif not self._id(<object>p, &cks):
                return False
            has_cks = not (self.zero_none and cks == 0)
            if self.checksum_u32 and not 0 <= cks <= 0xFFFFFFFF:
                return False
        if self.symbol_path is not None:
            sym = self._walk(msg, self.symbol_path, False)
            if self.symbol_prefix:
                if type(sym) is not str or not (<str>sym).startswith(self.symbol_prefix):
                    return False
                sym = (<str>sym)[len(self.symbol_prefix):]
            if self.symbol_suffix:
                if type(sym) is not str or not (<str>sym).endswith(self.symbol_suffix):
                    return False
                sym = (<str>sym)[:len(<str>sym) - len(self.symbol_suffix)]
        else:
            p = PyDict_GetItem(data, self.symbol_key)
            sym = <object>p if p is not NULL else None
        if type(sym) is not str:
            return False
        if self.symbol_upper:
            sym = (<str>sym).upper()
        p = PyDict_GetItem(self.symbols, sym)
        if p is NULL:
            return False
        if self.snapshot:
            return _feed_snapshot(self, conn, raw, now, <object>p, bids, asks, last_obj if last_obj is not None else last,
                                  has_ts, ts, has_cks, cks)
        return self._try_apply(conn, raw, now, <object>p, bids, asks, first, last, last_obj, prev,
                               self.prev_key is not None, has_ts, ts, has_cks, cks)

    cdef bint _absent(self, object o, tuple path) except -1:
        """True when the last key of ``path`` is simply missing from an object that is there."""
        cdef Py_ssize_t n = len(path)
        cdef object key = path[n - 1]
        o = self._walk(o, path[:n - 1])
        return o is not None and type(key) is str and PyDict_GetItem(o, key) is NULL

    cdef object _walk(self, object o, tuple path, bint want_dict=True):
        """The value at ``path`` (keys, and 0 for the one element of a one-element list); None
        when absent or of another type."""
        cdef PyObject* p
        for key in path:
            if type(key) is str:
                if type(o) is not dict:
                    return None
                p = PyDict_GetItem(o, key)
                if p is NULL:
                    return None
                o = <object>p
            else:
                if type(o) is not list or len(<list>o) != 1:
                    return None
                o = (<list>o)[0]
        if want_dict and type(o) is not dict:
            return None
        return o

    cdef bint _try_apply(self, conn, raw, now, pair, bids, asks, long long first, long long last,
                         last_obj, long long prev, bint has_prev, bint has_ts, long long ts,
                         bint has_cks, long long cks) except -1:
        """The diff of a frame of the declared shape: applied when its pair is LIVE and it is the
        very next one by the sync rule (True); otherwise False (the policy decides)."""
        cdef PyObject* p
        cdef TrackedBookCore tb
        cdef ConnectionCore cc
        cdef long long cur = 0
        p = PyDict_GetItem(self.books, pair)
        if p is NULL:
            return False
        tb = <TrackedBookCore>p
        if tb.state is not self.live or not _as_i64(tb.last_id, &cur):
            return False
        if self.rule == 1:
            if cur == LLONG_MAX or first != cur + 1 or last <= cur:
                return False
        elif self.rule == 4:
            if last <= cur:
                return False
        elif self.rule == 6:
            pass  # fpodd3: no ids (Kraken): every diff of a LIVE pair applies, the checksum proves it
        elif not has_prev or prev != cur or (self.rule == 3 and tb.first):
            return False
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
            try:
                tb.book.apply_diffs(bids, asks, last)
            except Exception as exc:
                self._apply_failed(conn, raw, tb, pair, bids, asks, first, last, prev, has_prev, has_ts, ts,
                                   has_cks, cks, exc)
                return True
            tb.last_id = last_obj if last_obj is not None else last
            tb.first = False
            tb.diffs_applied += 1
            if has_ts and ts != 0:
                tb.last_update_time = <double>ts / self.time_units
            elif self.s_secs != 0.0:  # read by ``DiffFrame.time_parse``
                tb.last_update_time = self.s_secs
            self.fast_frames += 1
            if self.max_depth:
                tb.book.truncate(self.max_depth)
            if has_cks and not self._checksum_ok(tb, cks):
                return True
            if tracker._notify_books:
                tracker._emit_book(tb, False)
        except Exception as exc:  # a tracker bug or a failing subscription queue: contain it
            self.tracker._internal_error(conn, pair, raw, exc)
        return True

    cdef bint _checksum_ok(self, TrackedBookCore tb, long long cks) except -1:
        """The tracker's ``_verify``: the book's own checksum method called here when the venue
        names it (a match counted here; a mismatch or an error left to ``_verify``)."""
        if self.ck_name is not None:
            try:
                got = getattr(tb.book, self.ck_name)(*self.ck_args)
            except Exception:
                got = None
            if type(got) is int and got == cks:
                tb.checksums_ok += 1
                return True
        return self.tracker._verify(tb, cks)

    cdef _apply_failed(self, conn, raw, TrackedBookCore tb, pair, bids, asks, long long first,
                       long long last, long long prev, bint has_prev, bint has_ts, long long ts,
                       bint has_cks, long long cks, exc):
        # The book rejected the batch (unchanged): the general path's handling, with the diff
        # it would have had.
        from hbconnect.market.messages import BookDiff

        tracker = self.tracker
        try:
            d = BookDiff(pair, bids, asks, first, last, prev if has_prev else None,
                         (<double>ts / self.time_units) if has_ts else self.s_secs, cks if has_cks else None)
            tracker._apply_failed(tb, d, exc)
        except Exception as exc2:
            tracker._internal_error(conn, pair, raw, exc2)


# --- shapes added by fpplain3: compressed frames, number rows, whole-book frames

#: rows marker of the plain want tree: ``DiffFrame.level_numbers``
ROWS_NUM = "rows-num"
cdef object _ZERO = 0  # the id of a whole book declared without one (``DiffFrame.last_key`` None)


cdef object _inflated(object inflate, bytes raw):
    """A binary frame's text: as it is when it starts with ``{`` or ``[``, else ``inflate(raw)``
    when that is such text; None (the general path decides) for anything else."""
    cdef bytes out
    if PyBytes_GET_SIZE(raw) and (PyBytes_AS_STRING(raw)[0] == b'{' or PyBytes_AS_STRING(raw)[0] == b'['):
        return raw
    try:
        out = inflate(raw)
    except Exception:
        return None
    if PyBytes_GET_SIZE(out) and (PyBytes_AS_STRING(out)[0] == b'{' or PyBytes_AS_STRING(out)[0] == b'['):
        return out
    return None


cdef bint _number(Cur* c, const unsigned char** s, Py_ssize_t* n) noexcept:
    """A JSON number token exactly as the JSON grammar has it (``-?(0|[1-9]\\d*)(\\.\\d+)?([eE][-+]?\\d+)?``);
    ``*s``/``*n`` its text. An integer must be the text ``str(int)`` makes of it (not ``-0``)."""
    cdef const unsigned char* start = c.p
    cdef bint frac = False
    _lit(c, c'-')
    if c.p >= c.e or not (c'0' <= c.p[0] <= c'9'):
        return False
    if c.p[0] == c'0':
        c.p += 1
    else:
        while c.p < c.e and c'0' <= c.p[0] <= c'9':
            c.p += 1
    if _lit(c, c'.'):
        frac = True
        if c.p >= c.e or not (c'0' <= c.p[0] <= c'9'):
            return False
        while c.p < c.e and c'0' <= c.p[0] <= c'9':
            c.p += 1
    if c.p < c.e and (c.p[0] == c'e' or c.p[0] == c'E'):
        frac = True
        c.p += 1
        if c.p < c.e and (c.p[0] == c'+' or c.p[0] == c'-'):
            c.p += 1
        if c.p >= c.e or not (c'0' <= c.p[0] <= c'9'):
            return False
        while c.p < c.e and c'0' <= c.p[0] <= c'9':
            c.p += 1
    if c.p < c.e and c'0' <= c.p[0] <= c'9':
        return False  # "01": not one token to the JSON parser
    s[0] = start
    n[0] = c.p - start
    if not frac and n[0] == 2 and start[0] == c'-' and start[1] == c'0':
        return False  # "-0" is the int 0 to the JSON parser, "0" to str(): let it decide
    return True


cdef inline bint _num_text(Cur* c, const unsigned char** s, Py_ssize_t* n) noexcept:
    """A plain string or a JSON number token (``_number``); ``*s``/``*n`` its text."""
    if c.p < c.e and c.p[0] == c'"':
        return _str(c, s, n)
    return _number(c, s, n)


cdef object _num_rows_value(Cur* c):
    """Rows of exactly ``[price, size]``, each a JSON number or a plain string, as their text
    (``DiffFrame.level_numbers``); an empty price string refused. ``_NOTHING`` otherwise."""
    cdef const unsigned char* s
    cdef Py_ssize_t n
    cdef list out = []
    cdef object price
    if not _lit(c, c'['):
        return _NOTHING
    if _lit(c, c']'):
        return out
    while True:
        if not _lit(c, c'[') or not _num_text(c, &s, &n) or n == 0:
            return _NOTHING
        price = _ascii(s, n)
        if not _lit(c, c',') or not _num_text(c, &s, &n) or not _lit(c, c']'):
            return _NOTHING
        out.append([price, _ascii(s, n)])
        if _lit(c, c']'):
            return out
        if not _lit(c, c','):
            return _NOTHING


cdef object _num_rows(list rows):
    """Decoded rows as ``DiffFrame.level_numbers`` reads them (the parser left fractions as their
    text, integers as int); None when the general path must decide."""
    cdef list out = []
    cdef object row, p, q
    for row in rows:
        if type(row) is not list or len(<list>row) != 2:
            return None
        p = (<list>row)[0]
        q = (<list>row)[1]
        if type(p) is int:
            p = str(p)
        elif type(p) is not str or not p:
            return None
        if type(q) is int:
            q = str(q)
        elif type(q) is not str:
            return None
        out.append([p, q])
    return out


_BookSnapshot = None


cdef bint _feed_snapshot(FastFeed self, conn, raw, now, pair, bids, asks, update_id, bint has_ts, long long ts,
                         bint has_cks, long long cks) except -1:
    """A whole-book frame of the declared shape (``DiffFrame.snapshot``): the ``BookSnapshot``
    its venue parser returns, handed to the tracker's own dispatch (as ``feed`` would)."""
    global _BookSnapshot
    if _BookSnapshot is None:
        from hbconnect.market.messages import BookSnapshot as _BookSnapshot
    tracker = self.tracker
    snap = _BookSnapshot(pair, bids, asks, update_id, (<double>ts / self.time_units) if has_ts else self.s_secs,
                         cks if has_cks else None)
    tracker.frames += 1
    conn.frames += 1
    conn.last_frame = now
    self.fast_frames += 1
    tracker._dispatch(conn, raw, now, [snap])
    return True


cdef bint _parse_time(FastFeed self, dict data) except -1:
    """``DiffFrame.time_parse`` of the diff's ``time_key`` value into ``self.s_secs`` (absent: no
    time); False when it fails or gives no float (the general path decides)."""
    cdef PyObject* p = PyDict_GetItem(data, self.time_key)
    if p is NULL:
        return not self.time_required
    try:
        secs = self.time_parse(<object>p)
    except Exception:
        return False
    if type(secs) is not float:
        return False
    self.s_secs = secs
    return True


# --- shapes added by fpodd3

cdef object _cut_rows(object rows):
    """A side as ``_common.levels`` returns it: rows of at least two strings, cut to ``[price,
    size]``; None for anything else (the general path decides)."""
    cdef list out = []
    cdef object row
    if type(rows) is not list:
        return None
    for row in <list>rows:
        if type(row) is not list or len(<list>row) < 2 or type((<list>row)[0]) is not str \
                or type((<list>row)[1]) is not str:
            return None
        out.append(row if len(<list>row) == 2 else [(<list>row)[0], (<list>row)[1]])
    return out


cdef bint _crc32_field(object o, long long* out) except -1:
    """A CRC32 as a venue sends it: an int, or at most 10 plain digits, in 0..2**32-1."""
    cdef long long v = 0
    if type(o) is int:
        if not _as_i64(o, &v):
            return False
    elif type(o) is not str or PyUnicode_GET_LENGTH(o) > 10 or not _str_digits(o, &v):
        return False
    if v < 0 or v > 0xFFFFFFFF:
        return False
    out[0] = v
    return True


cdef bint _array_msg(FastFeed ff, conn, raw, now, msg) except -1:
    """A decoded frame of the array shape (``DiffFrame.array_frame``, Kraken v1 ``[channelID,
    {"a": rows}, {"b": rows, "c": "crc32"}, "book-10", "XBT/USD"]``): True when it was the diff
    and was handled here. The parts are read in order, asks then bids in each, the rows cut to
    ``[price, size]``; the last checksum counts; the time is ``row_time`` of the last row sent
    (asks before bids in a part, as the venue parser reads them); a first part holding a key of
    ``absent`` is a snapshot; a part that is no object, or no row at all: the general path."""
    cdef Py_ssize_t n, i
    cdef int j
    cdef PyObject* p
    cdef object part, rows, last_row = None, v, tv = None
    cdef list bids = [], asks = []
    cdef long long cks = 0
    cdef bint has_cks = False
    if type(msg) is not list:
        return False
    n = len(<list>msg)
    if n < 4:
        return False
    for i in range(1, n - 2):
        part = (<list>msg)[i]
        if type(part) is not dict:
            return False
        if i == 1:
            for v in ff.absent:
                if PyDict_GetItem(part, v[0]) is not NULL:
                    return False
        for j in range(2):  # asks, then bids, as the venue parser reads them
            p = PyDict_GetItem(part, ff.bids_key if j else ff.asks_key)
            if p is not NULL:
                rows = _cut_rows(<object>p)
                if rows is None:
                    return False
                (bids if j else asks).extend(<list>rows)
                if <list>p:
                    last_row = (<list>p)[len(<list>p) - 1]
        if ff.checksum_key is not None:
            p = PyDict_GetItem(part, ff.checksum_key)
            if p is not NULL:
                if not _crc32_field(<object>p, &cks):
                    return False
                has_cks = True
    if last_row is None:
        return False
    if ff.row_time and len(<list>last_row) > ff.row_time:
        tv = (<list>last_row)[ff.row_time]
        if type(tv) is not str:
            return False
    return _array_apply(ff, conn, raw, now, (<list>msg)[0], (<list>msg)[n - 2], (<list>msg)[n - 1], bids, asks,
                        tv, has_cks, cks)


cdef bint _array_apply(FastFeed ff, conn, raw, now, cid, chan, sym, list bids, list asks, tv, bint has_cks,
                       long long cks) except -1:
    """An array frame's diff read (from the text or decoded): its channel name, symbol, channel
    id (a table ``channel_ids`` that gives the id another pair, or none, sends the frame to the
    venue parser, which learns it) and time text checked, then applied (``_try_apply``)."""
    cdef PyObject* p
    cdef object pair
    cdef double t = 0.0
    if type(chan) is not str or type(sym) is not str or not (<str>chan).startswith(ff.event):
        return False
    p = PyDict_GetItem(ff.symbols, sym)
    if p is NULL:
        return False
    pair = <object>p
    if ff.channel_ids is not None and type(cid) is int:
        p = PyDict_GetItem(ff.channel_ids, cid)
        if p is NULL or <object>p != pair:
            return False
    if tv is not None:
        try:
            t = float(tv)  # as the venue parser's ``to_seconds``
        except ValueError:
            return False
        if t - t != 0.0:
            return False
    ff.s_secs = t  # (only array frames use it, each setting it first)
    return ff._try_apply(conn, raw, now, pair, bids, asks, 0, 0, None, 0, False, False, 0, has_cks, cks)


cdef object _timed_rows(Cur* c, int ti, const unsigned char** ts, Py_ssize_t* tn):
    """Rows ``[["price","size",...],...]`` cut to ``[price, size]``; ``*ts``/``*tn``: the string at
    index ``ti`` of the last row (``*tn`` -1: that row is shorter; untouched: no row). Other
    elements are skipped; ``_NOTHING`` for anything else (then element ``ti`` not a string)."""
    cdef const unsigned char* s
    cdef Py_ssize_t n, k
    cdef object price
    cdef list out = []
    if not _lit(c, c'['):
        return _NOTHING
    if _lit(c, c']'):
        return out
    while True:
        if not _lit(c, c'[') or not _str(c, &s, &n):
            return _NOTHING
        price = _ascii(s, n)
        if not _lit(c, c',') or not _str(c, &s, &n):
            return _NOTHING
        out.append([price, _ascii(s, n)])
        tn[0] = -1
        k = 2
        while _lit(c, c','):
            if k == ti:
                if not _str(c, ts, tn):
                    return _NOTHING
            elif not _skip(c, 3):
                return _NOTHING
            k += 1
        if not _lit(c, c']'):
            return _NOTHING
        if _lit(c, c']'):
            return out
        if not _lit(c, c','):
            return _NOTHING


cdef bint _array_scan(FastFeed ff, conn, raw, now) except -1:
    """An array frame read from its text by the strict scanner (plain ints and strings, the
    parts holding only the side and checksum keys, each at most once, the checksum as digit
    text): True when it was the diff and was applied; False: the decoded path decides."""
    cdef Cur c
    cdef const unsigned char* k
    cdef const unsigned char* s
    cdef const unsigned char* ts = NULL
    cdef const unsigned char* pt[2]
    cdef Py_ssize_t kn, n, tn = -2
    cdef Py_ssize_t ptn[2]
    cdef long long cid = 0, cks = 0
    cdef bint has_cks = False
    cdef int seen, j
    cdef object rows, chan, sym
    cdef list bids = [], asks = []
    if not _cursor(raw, &c) or not _lit(&c, c'[') or not _int(&c, &cid):
        return False
    while True:
        if not _lit(&c, c','):
            return False
        if not _lit(&c, c'{'):
            break
        seen = 0
        ptn[0] = ptn[1] = -2
        if not _lit(&c, c'}'):
            while True:
                if not _str(&c, &k, &kn) or not _lit(&c, c':'):
                    return False
                if _key_is(k, kn, ff.b_asks_key):
                    j = 0
                elif _key_is(k, kn, ff.b_bids_key):
                    j = 1
                elif _key_is(k, kn, ff.b_checksum_key):
                    if seen & 4 or not _str(&c, &s, &n) or n > 10 or not _digits(s, n, &cks) or cks > 0xFFFFFFFF:
                        return False
                    has_cks = True
                    seen |= 4
                    j = -1
                else:
                    return False  # a snapshot, or a key the scanner does not know
                if j >= 0:
                    if seen & (1 << j):
                        return False
                    seen |= 1 << j
                    rows = _timed_rows(&c, ff.row_time, &pt[j], &ptn[j])
                    if rows is _NOTHING:
                        return False
                    (asks if j == 0 else bids).extend(<list>rows)
                if _lit(&c, c'}'):
                    break
                if not _lit(&c, c','):
                    return False
        for j in range(2):  # the venue parser's last row: the part's bids' if any, else its asks'
            if ptn[j] != -2:
                ts, tn = pt[j], ptn[j]
    if tn == -2 or not _str(&c, &s, &n):
        return False
    chan = _ascii(s, n)
    if not _lit(&c, c',') or not _str(&c, &s, &n):
        return False
    sym = _ascii(s, n)
    if not _lit(&c, c']') or c.p != c.e:
        return False
    return _array_apply(ff, conn, raw, now, cid, chan, sym, bids, asks, _ascii(ts, tn) if tn >= 0 else None,
                        has_cks, cks)


cdef bint _num(Cur* c, const unsigned char** s, Py_ssize_t* n) noexcept:
    """A JSON number without exponent (``-?int(.digits)?``); ``*s``/``*n`` its text, which the
    venue parser keeps (``load_json_exact``)."""
    cdef const unsigned char* start = c.p
    cdef const unsigned char* d
    _lit(c, c'-')
    d = c.p
    while c.p < c.e and c'0' <= c.p[0] <= c'9':
        c.p += 1
    if c.p == d or (c.p - d > 1 and d[0] == c'0'):
        return False
    if _lit(c, c'.'):
        d = c.p
        while c.p < c.e and c'0' <= c.p[0] <= c'9':
            c.p += 1
        if c.p == d:
            return False
    if c.p < c.e and (c.p[0] == c'e' or c.p[0] == c'E'):
        return False
    s[0] = start
    n[0] = c.p - start
    return True


cdef bint _level_scan(FastFeed ff, conn, raw, now) except -1:
    """A one-level frame (``DiffFrame.single_level``, Bitfinex ``[17082,[7254.7,3,-3.3],5]``, or
    its checksum ``[17082,"cs",-1234,6]``) read from its text: True when it was applied, its
    connection sequence the next one (set here as the general path sets it, put back when the
    frame was not applied); False: the general path decides."""
    cdef Cur c
    cdef const unsigned char* s
    cdef const unsigned char* q
    cdef const unsigned char* a
    cdef Py_ssize_t n, qn, an, i
    cdef long long cid = 0, cks = 0, seq = 0, cur = 0
    cdef bint has_cks = False, ok
    cdef PyObject* p
    cdef object size, old
    cdef list bids = [], asks = []
    if not _cursor(raw, &c) or not _lit(&c, c'[') or not _int(&c, &cid) or not _lit(&c, c','):
        return False
    if _lit(&c, c'['):  # [price, count, amount]
        if not _num(&c, &s, &n) or not _lit(&c, c',') or not _num(&c, &q, &qn) or not _lit(&c, c',') \
                or not _num(&c, &a, &an) or not _lit(&c, c']'):
            return False
        if q[0] == c'-' or (an == 1 and a[0] == c'0') or (an == 2 and a[0] == c'-' and a[1] == c'0'):
            return False  # the parser refuses a negative count and an amount of 0
        for i in range(qn):
            if q[i] < c'0' or q[i] > c'9':
                return False
        if qn == 1 and q[0] == c'0':
            size = "0"
        elif a[0] == c'-':
            size = _ascii(a + 1, an - 1)
        else:
            size = _ascii(a, an)
        (asks if a[0] == c'-' else bids).append([_ascii(s, n), size])
    else:
        if not _str(&c, &s, &n) or not _key_is(s, n, ff.b_event) or not _lit(&c, c',') \
                or not _int(&c, &cks) or cks < -(1 << 31) or cks >= (1 << 31):
            return False
        has_cks = True
    if not _lit(&c, c',') or not _int(&c, &seq) or not _lit(&c, c']') or c.p != c.e:
        return False
    p = PyDict_GetItem(ff.channel_ids, cid)
    if p is NULL:
        return False
    old = conn.conn_seq
    if not _as_i64(old, &cur) or cur == LLONG_MAX or seq != cur + 1:
        return False
    conn.conn_seq = seq
    ok = ff._try_apply(conn, raw, now, <object>p, bids, asks, 0, 0, None, 0, False, False, 0, has_cks, cks)
    if not ok:
        conn.conn_seq = old
    return ok
