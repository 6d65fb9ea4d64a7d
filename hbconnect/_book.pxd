# Declarations of the compiled order book, so that other Cython modules can cimport it.
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint16_t
from cpython.ref cimport PyObject


ctypedef struct Level:
    double price
    double size
    uint64_t ptx      # price text: mantissa (56 bits) | scale (6 bits) | flags (2 bits)
    uint64_t stx      # size text, same packing
    int64_t uid       # update id of the batch that last set this level


ctypedef struct Side:
    Level* base       # allocation; levels live in base[off : off + n]
    Py_ssize_t off    # levels dropped from the worst end by truncate()
    Py_ssize_t n
    Py_ssize_t cap
    double sgn        # +1 for bids (ascending), -1 for asks (descending): best at the tail


ctypedef struct Emitter:
    char buf[4096]
    Py_ssize_t pos
    Py_ssize_t skip   # bytes at the start of the text left out of the CRC (the first separator)
    uint32_t crc
    char sep16[16]    # the separator, zero padded (copied as one 16-byte block)
    Py_ssize_t seplen
    bint strip
    bint js
    bint neg_ask
    PyObject* dump    # bytearray collecting the text, or NULL


ctypedef struct TextMemo:      # checksum text of one of the best levels, kept for the next checksum
    double price
    uint64_t ptx
    uint64_t stx
    uint16_t plen     # bytes of text up to the end of the price
    uint16_t len      # whole text ("<sep>price<sep>[-]size"); MEMO_NONE: not kept
    char text[36]


ctypedef struct MemoCursor:    # one side's memo while a checksum runs
    TextMemo* prev    # the previous checksum's texts, best first
    TextMemo* next    # this checksum's texts (becomes prev when it completes)
    Py_ssize_t pn
    Py_ssize_t j      # first entry of prev not better than the level being written
    Py_ssize_t run    # next[run:i] is still to be copied from prev[run + d:i + d] (run < 0: nothing)
    Py_ssize_t d
    double sgn


cdef class OrderBookQueryResult:
    cdef readonly double query_price
    cdef readonly double query_volume
    cdef readonly double result_price
    cdef readonly double result_volume


cdef class OrderBook:
    cdef Side _bids
    cdef Side _asks
    cdef Level* _tmp
    cdef Py_ssize_t _tmp_cap
    cdef int64_t _snapshot_uid
    cdef int64_t _last_diff_uid
    cdef double _last_trade_price
    cdef TextMemo* _memo        # 4 x MEMO_N entries (bids prev/next, asks prev/next), on first checksum
    cdef Py_ssize_t _memo_len[2]
    cdef int _memo_flip[2]
    cdef int _memo_tag          # transform * 2 + negate_ask of the kept texts, -1: none
    cdef bytes _memo_sep
    cdef dict _fb_bids          # price -> (price_text | None, size_text | None), only for flagged levels
    cdef dict _fb_asks
    cdef object __weakref__
    cdef bint _busy             # an update is in progress (guards re-entrant calls)
    cdef list _pending          # fallback texts of the batch being parsed
    cdef object _bb_obj         # best bid / best ask as float objects (see the member descriptors)
    cdef object _ba_obj
    cdef double _bb_val
    cdef double _ba_val

    cdef int _refresh_top(self) except -1
    cdef double c_best_bid(self) noexcept
    cdef double c_best_ask(self) noexcept
    cdef int _prepare_tmp(self, Py_ssize_t n) except -1
    cdef Py_ssize_t _parse_batch(self, object bids, object asks, int64_t uid, Py_ssize_t* na) except -1
    cdef list _parse_side(self, object data, Py_ssize_t start, int64_t uid, bint is_bid, list slow)
    cdef int _parse_slow(self, object pair, Level* out, Py_ssize_t idx, Py_ssize_t pos, bint is_bid) except -1
    cdef object _parse_value(self, object o, double* val, uint64_t* tx, str where)
    cdef object _convert(self, object o, double* val, uint64_t* tx, str where)
    cdef void _release_tmp(self) noexcept
    cdef int _store_pending(self, Py_ssize_t nb) except -1
    cdef str _text(self, Level* lv, bint price, bint is_bid)
    cdef list _texts(self, Side* sd, Py_ssize_t n, bint is_bid)
    cdef object _query(self, int kind, bint is_buy, double x)
    cdef int _emit_slow(self, Emitter* em, Level* lv, bint is_bid, bint neg) except -1
    cdef int _checksum(self, Py_ssize_t depth, int layout, bytes sep, int transform, bint neg_ask,
                       uint32_t* out, object dump) except -1
    cdef object _from_decimal(self, object dec, str text, double* val, uint64_t* tx, str where, object orig)
