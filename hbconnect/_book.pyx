# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled limit order book of hbconnect.

Each side is one sorted C array of ``Level`` structs (40 bytes: price and size as doubles, the exact
decimal text of each as a packed mantissa/scale, and the update id), ordered so that the best price
sits at the *tail*: updates near the touch move few bytes.  Bids are stored ascending, asks
descending.  Levels are found by a galloping search from the tail then a binary search; capacity
grows geometrically (doubling while small, then by 1/8, so a large book holds at most 45 bytes per
level) and is given back when under a quarter is used; ``truncate`` drops the worst levels in O(1)
(an offset at the head).

Exact text: a value given as plain decimal text (``"0.35130000"``) keeps its digits as an integer
mantissa (< 2**56) and a decimal scale (<= 63), enough to give the text back byte for byte; the
double is mantissa / 10**scale, correctly rounded (Clinger's fast path, else Python's
correctly rounded conversion).  Texts that do not fit (about 17+ significant digits, exponents, a
leading ``+``...) are kept verbatim in a per-side dictionary consulted only for those flagged
levels.  Values given as floats or numpy arrays have no venue text: their text is the shortest repr
of the double, written positionally.

Checksums run CRC-32 (PCLMULQDQ folding where the CPU has it, slicing-by-8 tables otherwise) over
text formatted in C straight into the CRC's input buffer (8 digits at a time by multiply-shift).  The
best 32 levels of each side change a few at a time, so each checksum keeps their texts (8 KiB per
book, allocated on the first checksum) and the next one walks them in step with the book, reusing
the text of every price or size whose packed value is unchanged.
"""
from libc.stdint cimport int64_t, uint64_t, uint32_t, int32_t, uint16_t
from libc.stdlib cimport malloc, realloc, free, qsort
from libc.string cimport memmove, memcpy, memset
from libc.math cimport NAN, isfinite
from cpython.ref cimport PyObject
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
cimport numpy as cnp

import operator
from collections import namedtuple
from decimal import Decimal, InvalidOperation

import numpy as np

cnp.import_array()

cdef extern from *:
    """
    /* Messages handed to apply_diffs may be cold in cache (queued frames, pre-built workloads).
       Walking pair -> item array -> str objects is a chain of dependent loads per level; issue each
       stage's loads for all pairs first, so the misses overlap instead of queueing. */
    #if defined(__GNUC__) || defined(__clang__)
    #define HB_PREFETCH(p) __builtin_prefetch(p)
    #else
    #define HB_PREFETCH(p) ((void)0)
    #endif
    static void hb_prefetch_pairs(PyObject* seq, int is_list, Py_ssize_t n) {
        PyObject** items = is_list ? ((PyListObject*)seq)->ob_item : ((PyTupleObject*)seq)->ob_item;
        Py_ssize_t i;
        if (n > 64) n = 64;
        for (i = 0; i < n; i++) HB_PREFETCH(items[i]);
        for (i = 0; i < n; i++) {
            PyObject* p = items[i];
            if (PyList_CheckExact(p) && PyList_GET_SIZE(p) >= 2) HB_PREFETCH(((PyListObject*)p)->ob_item);
        }
        for (i = 0; i < n; i++) {
            PyObject* p = items[i];
            PyObject** it;
            if (PyList_CheckExact(p) && PyList_GET_SIZE(p) >= 2) it = ((PyListObject*)p)->ob_item;
            else if (PyTuple_CheckExact(p) && PyTuple_GET_SIZE(p) >= 2) it = ((PyTupleObject*)p)->ob_item;
            else continue;
            HB_PREFETCH(it[0]);
            HB_PREFETCH((char*)it[0] + 64);
            HB_PREFETCH(it[1]);
            HB_PREFETCH((char*)it[1] + 64);
        }
    }
    """
    void hb_prefetch_pairs(PyObject* seq, int is_list, Py_ssize_t n) nogil


cdef extern from "Python.h":
    int c_list_check "PyList_CheckExact"(PyObject* o) nogil
    int c_tuple_check "PyTuple_CheckExact"(PyObject* o) nogil
    int c_str_check "PyUnicode_CheckExact"(PyObject* o) nogil
    Py_ssize_t c_list_size "PyList_GET_SIZE"(PyObject* o) nogil
    long long c_long_as_ll "PyLong_AsLongLongAndOverflow"(object o, int* overflow) except? -1
    Py_ssize_t c_tuple_size "PyTuple_GET_SIZE"(PyObject* o) nogil
    PyObject* c_list_item "PyList_GET_ITEM"(PyObject* o, Py_ssize_t i) nogil
    PyObject* c_tuple_item "PyTuple_GET_ITEM"(PyObject* o, Py_ssize_t i) nogil
    const char* c_utf8 "PyUnicode_AsUTF8AndSize"(PyObject* o, Py_ssize_t* n)
    void c_err_clear "PyErr_Clear"()
    double c_str2d "PyOS_string_to_double"(const char* s, char** end, PyObject* exc) except? -1.0
    str c_unicode_new "PyUnicode_New"(Py_ssize_t size, Py_UCS4 maxchar)
    void* c_unicode_data "PyUnicode_DATA"(object o)


OrderBookRow = namedtuple("OrderBookRow", ["price", "amount", "update_id"])
OrderBookRow.__doc__ = "One price level: price, amount (size) and the update id that last set it."

DEF MANT_BITS = 56
DEF DEC_EXP_MAX = 308   # Decimal values beyond a double's range are refused before any formatting
DEF DEC_EXP_MIN = -324
DEF EMIT_BUF = 4096
DEF EMIT_FLUSH = 3800   # one plain level (2 x <= 65 chars, separators, 16-byte overshoot) fits after this

DEF MEMO_N = 32         # best levels per side whose checksum text is kept between checksums
DEF MEMO_TEXT = 36
DEF GROW_SMALL = 4096   # levels: below this a side doubles its capacity, above it grows by 1/8
DEF TMP_KEEP = 4096     # parse buffer kept between batches (levels)
cdef uint16_t MEMO_NONE = 0xFFFF
cdef uint64_t MANT_LIMIT = (<uint64_t>1) << MANT_BITS
cdef uint64_t MANT_MASK = MANT_LIMIT - 1
cdef uint64_t EXACT53 = (<uint64_t>1) << 53
cdef uint64_t FL_FALLBACK = (<uint64_t>1) << 62   # text kept verbatim in the side's dictionary
cdef uint64_t FL_FLOAT = (<uint64_t>1) << 63      # no venue text: repr of the double
cdef uint64_t FL_ANY = FL_FALLBACK | FL_FLOAT

cdef double[23] POW10
cdef int _i
POW10[0] = 1.0
for _i in range(1, 23):
    POW10[_i] = POW10[_i - 1] * 10.0

# CRC-32 (IEEE 802.3, zlib's polynomial): carry-less multiplication folding (PCLMULQDQ) on x86-64
# CPUs that have it, slicing-by-8 tables otherwise and for the tail.
cdef extern from *:
    """
    #include <stdint.h>
    #include <stddef.h>
    static uint32_t hb_crc_t[8][256];
    static int hb_crc_simd = 0;

    #if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    #include <immintrin.h>
    #define HB_HAVE_CLMUL_CODE 1
    /* Fold 16-byte blocks (len >= 64, multiple of 16); crc is the pre-inverted running state. */
    __attribute__((target("pclmul,sse4.1")))
    static uint32_t hb_crc_fold(uint32_t crc, const unsigned char *buf, size_t len) {
        const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596LL, 0x0154442bd4LL);
        const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009eLL, 0x01751997d0LL);
        const __m128i k5k0 = _mm_set_epi64x(0, 0x0163cd6124LL);
        const __m128i poly = _mm_set_epi64x(0x01f7011641LL, 0x01db710641LL);
        const __m128i mask32 = _mm_setr_epi32(~0, 0, ~0, 0);
        __m128i x0, x1, x2, x3, x4, x5, x6, x7, x8;
        x1 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
        x2 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
        x3 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
        x4 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
        x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
        x0 = k1k2;
        buf += 64; len -= 64;
        while (len >= 64) {
            x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
            x6 = _mm_clmulepi64_si128(x2, x0, 0x00);
            x7 = _mm_clmulepi64_si128(x3, x0, 0x00);
            x8 = _mm_clmulepi64_si128(x4, x0, 0x00);
            x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
            x2 = _mm_clmulepi64_si128(x2, x0, 0x11);
            x3 = _mm_clmulepi64_si128(x3, x0, 0x11);
            x4 = _mm_clmulepi64_si128(x4, x0, 0x11);
            x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), _mm_loadu_si128((const __m128i *)(buf + 0x00)));
            x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), _mm_loadu_si128((const __m128i *)(buf + 0x10)));
            x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), _mm_loadu_si128((const __m128i *)(buf + 0x20)));
            x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), _mm_loadu_si128((const __m128i *)(buf + 0x30)));
            buf += 64; len -= 64;
        }
        x0 = k3k4;
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x3), x5);
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x4), x5);
        while (len >= 16) {
            x2 = _mm_loadu_si128((const __m128i *)buf);
            x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
            x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
            x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
            buf += 16; len -= 16;
        }
        /* 128 -> 64 bits */
        x2 = _mm_clmulepi64_si128(x1, x0, 0x10);
        x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
        x0 = k5k0;
        x2 = _mm_srli_si128(x1, 4);
        x1 = _mm_and_si128(x1, mask32);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x1 = _mm_xor_si128(x1, x2);
        /* Barrett reduction to 32 bits */
        x0 = poly;
        x2 = _mm_and_si128(x1, mask32);
        x2 = _mm_clmulepi64_si128(x2, x0, 0x10);
        x2 = _mm_and_si128(x2, mask32);
        x2 = _mm_clmulepi64_si128(x2, x0, 0x00);
        x1 = _mm_xor_si128(x1, x2);
        return (uint32_t)_mm_extract_epi32(x1, 1);
    }
    #endif

    static void hb_crc_init(void) {
        uint32_t c; int i, j;
        for (i = 0; i < 256; i++) {
            c = (uint32_t)i;
            for (j = 0; j < 8; j++) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
            hb_crc_t[0][i] = c;
        }
        for (i = 0; i < 256; i++) {
            c = hb_crc_t[0][i];
            for (j = 1; j < 8; j++) { c = hb_crc_t[0][c & 0xFF] ^ (c >> 8); hb_crc_t[j][i] = c; }
        }
    #ifdef HB_HAVE_CLMUL_CODE
        __builtin_cpu_init();
        hb_crc_simd = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
    #endif
    }

    static uint32_t hb_crc32(uint32_t crc, const unsigned char *p, size_t n) {
        uint32_t one, two;
        crc = ~crc;
    #ifdef HB_HAVE_CLMUL_CODE
        if (hb_crc_simd && n >= 64) {
            size_t chunk = n & ~(size_t)15;
            crc = hb_crc_fold(crc, p, chunk);
            p += chunk; n -= chunk;
        }
    #endif
        while (n >= 8) {
            one = (p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24)) ^ crc;
            two = p[4] | ((uint32_t)p[5] << 8) | ((uint32_t)p[6] << 16) | ((uint32_t)p[7] << 24);
            crc = hb_crc_t[7][one & 0xFF] ^ hb_crc_t[6][(one >> 8) & 0xFF] ^ hb_crc_t[5][(one >> 16) & 0xFF]
                ^ hb_crc_t[4][one >> 24] ^ hb_crc_t[3][two & 0xFF] ^ hb_crc_t[2][(two >> 8) & 0xFF]
                ^ hb_crc_t[1][(two >> 16) & 0xFF] ^ hb_crc_t[0][two >> 24];
            p += 8; n -= 8;
        }
        while (n--) crc = hb_crc_t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }
    """
    void hb_crc_init() nogil
    uint32_t _crc_update "hb_crc32"(uint32_t crc, const unsigned char* p, size_t n) nogil
    int hb_crc_simd

hb_crc_init()


def _crc_uses_clmul() -> bool:
    """Whether CRC-32 runs on the carry-less multiply instructions on this machine."""
    return bool(hb_crc_simd)


def crc32(data, unsigned long long value=0) -> int:
    """CRC-32 of ``data`` (same result as :func:`zlib.crc32`), unsigned."""
    value &= 0xFFFFFFFF
    # The buffer protocol directly rather than a typed memoryview: one memoryview in the module
    # pulls in Cython's whole memoryview support code (about a fifth of the compiled module).
    cdef Py_buffer view
    cdef uint32_t out
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        if view.len == 0:
            return <uint32_t>value
        out = _crc_update(<uint32_t>value, <const unsigned char*>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)
    return out


# ---------------------------------------------------------------------------------------------
# Text parsing and formatting in C

cdef inline int _parse_plain(const char* s, Py_ssize_t n, uint64_t* tx, double* val) except -1:
    """Parse canonical plain decimal text ``0|[1-9][0-9]*`` then optional ``.[0-9]+``.

    Returns 1 and fills tx/val when the text is canonical and fits (mantissa < 2**56, scale <= 63),
    0 otherwise (the caller takes the slow path).  ``s`` must be NUL-terminated.
    """
    cdef Py_ssize_t i = 0
    cdef uint64_t m = 0
    cdef int scale = 0
    cdef unsigned int d
    if n <= 0:
        return 0
    d = <unsigned char>s[0]
    d -= 48
    if d > 9:
        return 0
    if d == 0:
        i = 1
        if n > 1:
            d = <unsigned char>s[1]
            d -= 48
            if d <= 9:
                return 0
    else:
        while i < n:
            d = <unsigned char>s[i]
            d -= 48
            if d > 9:
                break
            m = m * 10 + d
            if m >= MANT_LIMIT:
                return 0
            i += 1
    if i < n:
        if s[i] != 46:  # '.'
            return 0
        i += 1
        if i == n:
            return 0
        while i < n:
            d = <unsigned char>s[i]
            d -= 48
            if d > 9:
                return 0
            m = m * 10 + d
            if m >= MANT_LIMIT:
                return 0
            scale += 1
            i += 1
        if scale > 63:
            return 0
    tx[0] = m | (<uint64_t>scale << MANT_BITS)
    if m < EXACT53 and scale <= 22:
        val[0] = <double>m / POW10[scale]   # both exact: the quotient is correctly rounded
    else:
        val[0] = c_str2d(s, NULL, NULL)
    return 1


cdef extern from *:
    """
    static const char hb_d2[201] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    static const uint64_t hb_p10[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
        10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
        100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL};

    static inline int hb_ndigits(uint64_t m) {
    #if defined(__GNUC__) || defined(__clang__)
        int t;
        if (m == 0) return 1;
        t = ((64 - __builtin_clzll(m)) * 1233) >> 12;
        return t + (m >= hb_p10[t]);
    #else
        int n = 1;
        while (n < 20 && m >= hb_p10[n]) n++;
        return n;
    #endif
    }
    /* Exactly 8 digits of r (< 10^8) at p: two independent 4-digit halves, 32-bit arithmetic. */
    static inline void hb_put8(char* p, uint32_t r) {
        uint32_t a = r / 10000, b = r - a * 10000;
        uint32_t a1 = a / 100, a2 = a - a1 * 100, b1 = b / 100, b2 = b - b1 * 100;
        p[0] = hb_d2[2 * a1]; p[1] = hb_d2[2 * a1 + 1]; p[2] = hb_d2[2 * a2]; p[3] = hb_d2[2 * a2 + 1];
        p[4] = hb_d2[2 * b1]; p[5] = hb_d2[2 * b1 + 1]; p[6] = hb_d2[2 * b2]; p[7] = hb_d2[2 * b2 + 1];
    }
    /* Write exactly nd digits of *pm (zero padded) ending just before end; *pm loses them. */
    static inline char* hb_rev(char* end, uint64_t* pm, int nd) {
        uint64_t m = *pm, q;
        unsigned r;
        while (nd >= 8) {
            q = m / 100000000ULL;
            end -= 8;
            hb_put8(end, (uint32_t)(m - q * 100000000ULL));
            m = q; nd -= 8;
        }
        if (m < 4294967296ULL) {   /* the rest in 32-bit arithmetic */
            uint32_t m32 = (uint32_t)m, q32;
            while (nd >= 2) {
                q32 = m32 / 100; r = m32 - q32 * 100;
                end -= 2; end[0] = hb_d2[2 * r]; end[1] = hb_d2[2 * r + 1];
                m32 = q32; nd -= 2;
            }
            if (nd) { q32 = m32 / 10; *--end = (char)('0' + (m32 - q32 * 10)); m32 = q32; }
            *pm = m32;
            return end;
        }
        while (nd >= 2) {
            q = m / 100; r = (unsigned)(m - q * 100);
            end -= 2; end[0] = hb_d2[2 * r]; end[1] = hb_d2[2 * r + 1];
            m = q; nd -= 2;
        }
        if (nd) { q = m / 10; *--end = (char)('0' + (m - q * 10)); m = q; }
        *pm = m;
        return end;
    }
    /* Decimal text of mantissa m with `scale` decimals; strip: no '.', no leading zeros. */
    static inline Py_ssize_t hb_fmt(char* out, uint64_t m, int scale, int strip) {
        int nd = hb_ndigits(m), len;
        if (strip) {
            if (m == 0) return 0;
            hb_rev(out + nd, &m, nd);
            return nd;
        }
        if (scale == 0) { hb_rev(out + nd, &m, nd); return nd; }
        if (nd <= scale) {
            out[0] = '0'; out[1] = '.';
            hb_rev(out + 2 + scale, &m, scale);
            return scale + 2;
        }
        len = nd + 1;
        hb_rev(out + len, &m, scale);
        out[nd - scale] = '.';
        hb_rev(out + nd - scale, &m, nd - scale);
        return len;
    }

    /* Checksum text: one field written straight into the CRC input buffer.  The caller leaves at
       least 32 writable bytes after the longest field: the fast path stores 16-byte blocks and
       only advances past the bytes that belong to the text. */
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    #define HB_SWAR_DIGITS 1
    /* The 8 decimal digits of v (< 10^8) as ASCII, most significant digit in the lowest byte:
       two 4-digit lanes split into 2-digit then 1-digit lanes by multiply-shift (no division). */
    static inline uint64_t hb_digits8(uint32_t v) {
        uint64_t hi = v / 10000, lo = v - (uint32_t)hi * 10000;
        uint64_t x = hi | (lo << 32);
        uint64_t q = ((x * 10486ULL) >> 20) & 0x0000007F0000007FULL;     /* lanes / 100 */
        uint64_t y = ((x - 100ULL * q) << 16) + q;                        /* 16-bit lanes < 100 */
        uint64_t t = ((y * 103ULL) >> 10) & 0x000F000F000F000FULL;        /* lanes / 10 */
        t += (y - 10ULL * t) << 8;
        return t + 0x3030303030303030ULL;
    }
    #endif

    static inline char* hb_put_field(char* out, uint64_t m, int scale, int strip) {
    #if defined(HB_SWAR_DIGITS) && defined(__SIZEOF_INT128__)
        if (m < 10000000000000000ULL && scale <= 15) {
            /* The 16 zero-padded digits live in one 128-bit register (byte k = digit k); each
               piece of the text is shifted into place and stored as one 16-byte block.  Staying
               in registers matters: reloading digits from a scratch buffer with unaligned wide
               loads stalls on store forwarding. */
            uint64_t hi = m / 100000000ULL;
            unsigned __int128 d = ((unsigned __int128)hb_digits8((uint32_t)(m - hi * 100000000ULL)) << 64)
                                  | hb_digits8((uint32_t)hi);
            unsigned __int128 piece;
            int nd = hb_ndigits(m), ni;
            if (strip) {
                piece = d >> (8 * (16 - nd));
                memcpy(out, &piece, 16);
                return out + (m ? nd : 0);
            }
            ni = nd > scale ? nd - scale : 1;      /* integer digits; "0" when below 1 */
            piece = d >> (8 * (16 - scale - ni));
            memcpy(out, &piece, 16);
            out += ni;
            out[0] = '.';
            out += scale != 0;
            piece = scale ? d >> (8 * (16 - scale)) : 0;
            memcpy(out, &piece, 16);
            return out + scale;
        }
    #endif
        return out + hb_fmt(out, m, scale, strip);
    }
    #define HB_FL_ANY 0xC000000000000000ULL   /* FL_FALLBACK | FL_FLOAT as a compile-time constant */

    /* Copy n 64-byte blocks; runs are short (a few checksum memo entries), where an inline loop
       beats a call into the C library's memcpy. */
    #if defined(__GNUC__) && !defined(__clang__)
    __attribute__((optimize("no-tree-loop-distribute-patterns")))
    #endif
    static inline void hb_copy64(void* dst, const void* src, Py_ssize_t n) {
        char* d = (char*)dst;
        const char* s = (const char*)src;
        for (; n > 0; n--, d += 64, s += 64) memcpy(d, s, 64);
    }
    """
    uint64_t FL_ANY_C "HB_FL_ANY"
    void hb_copy64(void* dst, const void* src, Py_ssize_t n) nogil
    Py_ssize_t hb_fmt(char* out, uint64_t m, int scale, int strip) nogil
    char* hb_put_field(char* out, uint64_t m, int scale, int strip) nogil


cdef inline Py_ssize_t _fmt(char* out, uint64_t tx, bint strip) noexcept nogil:
    """Write the decimal text of a packed value; ``strip`` drops '.' and leading zeros."""
    return hb_fmt(out, tx & MANT_MASK, <int>((tx >> MANT_BITS) & 63), strip)


def _float_text(double v) -> str:
    """Positional text of the shortest repr of ``v`` (no exponent)."""
    r = repr(v)
    if "e" in r or "E" in r:
        r = format(Decimal(r), "f")
    return r


def _js_text(double v) -> str:
    """``v`` as JavaScript's Number#toString writes it (Bitfinex's checksum text for JSON numbers)."""
    if v == 0:
        return "0"
    sign, digits, exp = Decimal(repr(v)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0")
    exp += len(digits) - len(ds)
    k = len(ds)
    n = exp + k
    out = "-" if sign else ""
    if k <= n <= 21:
        return out + ds + "0" * (n - k)
    if 0 < n <= 21:
        return out + ds[:n] + "." + ds[n:]
    if -6 < n <= 0:
        return out + "0." + "0" * (-n) + ds
    e = n - 1
    es = ("+" if e >= 0 else "-") + str(abs(e))
    return out + (ds if k == 1 else ds[0] + "." + ds[1:]) + "e" + es


cdef inline str _plain_text(uint64_t tx):
    cdef char buf[80]
    cdef Py_ssize_t n = _fmt(buf, tx, False)
    cdef str out = c_unicode_new(n, 127)      # ASCII: no decoding pass
    memcpy(c_unicode_data(out), buf, n)
    return out


# ---------------------------------------------------------------------------------------------
# Side arrays (no Python objects, no Python calls)

cdef inline Py_ssize_t _search(Side* sd, double p) noexcept nogil:
    """Index of the first level not better-ordered than ``p`` (storage order), galloping from the tail."""
    cdef Level* a = sd.base + sd.off
    cdef Py_ssize_t n = sd.n, lo = 0, hi = n, idx, step = 1, mid
    cdef double sg = sd.sgn
    cdef double k = sg * p
    if n == 0:
        return 0
    while True:
        idx = n - step
        if idx <= 0:
            lo = 0
            break
        if sg * a[idx].price < k:
            lo = idx + 1
            break
        hi = idx
        step <<= 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if sg * a[mid].price < k:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef int _reserve(Side* sd, Py_ssize_t extra) noexcept nogil:
    """Make room for ``extra`` more levels at the end; 0 on success, -1 when out of memory."""
    cdef Py_ssize_t need = sd.n + extra, newcap
    cdef Level* nb
    if sd.off + need <= sd.cap:
        return 0
    if sd.off > 0:
        memmove(sd.base, sd.base + sd.off, sd.n * sizeof(Level))
        sd.off = 0
        if need + (sd.n >> 2) <= sd.cap:
            return 0
    # Geometric growth keeps appends amortized O(1); the factor sets the worst unused share of a
    # large side: doubling up to GROW_SMALL levels, then +1/8, so capacity stays <= 1.125 x levels
    # (45 bytes per level at most; realloc of large blocks moves pages, not bytes).
    if sd.cap < GROW_SMALL:
        newcap = sd.cap * 2
    else:
        newcap = sd.cap + (sd.cap >> 3)
    if newcap < need:
        newcap = need + (need >> 4)
    if newcap < 16:
        newcap = 16
    nb = <Level*>realloc(sd.base, newcap * sizeof(Level))
    if nb == NULL:
        return -1
    sd.base = nb
    sd.cap = newcap
    return 0


cdef void _shrink(Side* sd) noexcept nogil:
    """Give memory back when the side uses under a quarter of its capacity (keeping 1/8 of room)."""
    cdef Py_ssize_t newcap
    cdef Level* nb
    if sd.cap <= 64 or sd.n * 4 > sd.cap:
        return
    if sd.off > 0:
        memmove(sd.base, sd.base + sd.off, sd.n * sizeof(Level))
        sd.off = 0
    newcap = sd.n + (sd.n >> 3) + 16
    nb = <Level*>realloc(sd.base, newcap * sizeof(Level))
    if nb != NULL:
        sd.base = nb
        sd.cap = newcap


cdef inline void _apply_one(Side* sd, Level* u) noexcept nogil:
    cdef Py_ssize_t i = _search(sd, u.price)
    cdef Level* a = sd.base + sd.off
    if i < sd.n and a[i].price == u.price:
        if u.size > 0:
            a[i] = u[0]
        else:
            memmove(a + i, a + i + 1, (sd.n - i - 1) * sizeof(Level))
            sd.n -= 1
    elif u.size > 0:
        memmove(a + i + 1, a + i, (sd.n - i) * sizeof(Level))
        a[i] = u[0]
        sd.n += 1


cdef inline void _apply_many(Side* sd, Level* u, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(k):
        _apply_one(sd, u + j)


cdef inline void _uncross(Side* keep, Side* trim) noexcept nogil:
    """Drop levels of ``trim`` that cross the best level of ``keep`` (best levels are at the tails)."""
    cdef double best
    if keep.n == 0:
        return
    best = keep.base[keep.off + keep.n - 1].price
    # an ask crosses when ask <= best bid, a bid when bid >= best ask: trim.sgn * price >= trim.sgn * best
    while trim.n > 0 and trim.sgn * trim.base[trim.off + trim.n - 1].price >= trim.sgn * best:
        trim.n -= 1


ctypedef struct SortKey:
    double key
    Py_ssize_t idx


cdef int _cmp_key(const void* a, const void* b) noexcept nogil:
    cdef const SortKey* x = <const SortKey*>a
    cdef const SortKey* y = <const SortKey*>b
    if x.key < y.key:
        return -1
    if x.key > y.key:
        return 1
    return (x.idx > y.idx) - (x.idx < y.idx)


cdef int _build_side(Side* out, Level* src, Py_ssize_t n, double sgn) noexcept nogil:
    """Fill a fresh side from a snapshot batch: sorted, duplicates resolved (last wins), zero sizes dropped."""
    cdef Py_ssize_t i, k = 0, cap
    cdef Level* dst
    cdef SortKey* keys
    cdef bint desc = True, asc = True
    cap = n + (n >> 4) + 16
    dst = <Level*>malloc(cap * sizeof(Level))
    if dst == NULL:
        return -1
    out.base = dst
    out.off = 0
    out.cap = cap
    out.sgn = sgn
    for i in range(1, n):
        if sgn * src[i].price >= sgn * src[i - 1].price:
            desc = False
        if sgn * src[i].price <= sgn * src[i - 1].price:
            asc = False
    if desc:  # best first, the usual venue order
        for i in range(n - 1, -1, -1):
            if src[i].size > 0:
                dst[k] = src[i]
                k += 1
    elif asc:
        for i in range(n):
            if src[i].size > 0:
                dst[k] = src[i]
                k += 1
    else:
        keys = <SortKey*>malloc(n * sizeof(SortKey))
        if keys == NULL:
            free(dst)
            out.base = NULL
            return -1
        for i in range(n):
            keys[i].key = sgn * src[i].price
            keys[i].idx = i
        qsort(keys, n, sizeof(SortKey), _cmp_key)
        for i in range(n):
            if i + 1 < n and keys[i + 1].key == keys[i].key:
                continue  # a later entry for the same price wins
            if src[keys[i].idx].size > 0:
                dst[k] = src[keys[i].idx]
                k += 1
        free(keys)
    out.n = k
    return 0


# ---------------------------------------------------------------------------------------------
# Checksum text emitter: fields are formatted straight into a stack buffer that feeds the CRC in
# chunks.  Every level is written with a leading separator; the first ``skip`` bytes of the text
# (the very first separator) are left out of the CRC.


cdef inline void _em_flush(Emitter* em) noexcept nogil:
    if em.pos > 0:
        if em.pos > em.skip:
            em.crc = _crc_update(em.crc, <const unsigned char*>em.buf + em.skip, em.pos - em.skip)
            if em.dump != NULL:
                with gil:
                    _em_dump(em)
        em.skip = 0
        em.pos = 0


cdef void _em_dump(Emitter* em) noexcept:
    try:
        (<object>em.dump).extend(em.buf[em.skip:em.pos])
    except BaseException:  # a bytearray extend can only fail on memory; the text is then incomplete
        pass


cdef int _em_write(Emitter* em, const char* s, Py_ssize_t n) except -1:
    if em.pos + n > EMIT_FLUSH:
        _em_flush(em)
    if n > EMIT_FLUSH:
        em.crc = _crc_update(em.crc, <const unsigned char*>s, n)
        if em.dump != NULL:
            (<object>em.dump).extend(s[:n])
        return 0
    memcpy(em.buf + em.pos, s, n)
    em.pos += n
    return 0


cdef inline void _emit_plain(Emitter* em, Level* lv, bint neg) noexcept nogil:
    """Append "<sep>price<sep>[-]size" of a level whose texts are packed mantissa/scale.

    Branch-light: the separator is stored as a 16-byte block and the cursor advanced by its length;
    the digits come from a multiply-shift conversion (see ``hb_put_field``).
    """
    cdef char* out
    if em.pos > EMIT_FLUSH:
        _em_flush(em)
    out = em.buf + em.pos
    memcpy(out, em.sep16, 16)
    out += em.seplen
    out = hb_put_field(out, lv.ptx & MANT_MASK, <int>((lv.ptx >> MANT_BITS) & 63), em.strip)
    memcpy(out, em.sep16, 16)
    out += em.seplen
    out[0] = 45  # '-', kept only when negating
    out += neg
    out = hb_put_field(out, lv.stx & MANT_MASK, <int>((lv.stx >> MANT_BITS) & 63), em.strip)
    em.pos = out - em.buf


cdef inline bint _memo_hit(Emitter* em, MemoCursor* c, Py_ssize_t i, Level* lv) noexcept nogil:
    """The common case of ``_emit_memo``, small enough to inline: the level is unchanged since the
    previous checksum; its kept text is written and True returned."""
    cdef Py_ssize_t j = c.j
    cdef TextMemo* p
    cdef TextMemo* prev = c.prev
    cdef double px = lv.price
    if c.sgn > 0:       # skip kept levels better than this one (gone since): bids high to low
        while j < c.pn and prev[j].price > px:
            j += 1
    else:
        while j < c.pn and prev[j].price < px:
            j += 1
    c.j = j
    if j >= c.pn:
        return False
    p = prev + j
    if p.ptx != lv.ptx or p.stx != lv.stx or p.len == MEMO_NONE or em.pos > EMIT_FLUSH:
        return False
    memcpy(em.buf + em.pos, p.text, MEMO_TEXT)
    em.pos += p.len
    c.j = j + 1
    if c.run < 0 or j - i != c.d:     # unchanged levels are carried over in runs, by one memcpy
        _memo_carry(c, i)
        c.run = i
        c.d = j - i
    return True


cdef inline void _memo_carry(MemoCursor* c, Py_ssize_t i) noexcept nogil:
    """Copy the pending run of unchanged entries (ranks run..i-1) into this checksum's memo."""
    if c.run >= 0:
        if i > c.run:
            hb_copy64(c.next + c.run, c.prev + c.run + c.d, i - c.run)   # sizeof(TextMemo) == 64
        c.run = -1


cdef void _emit_memo(Emitter* em, MemoCursor* c, Py_ssize_t i, Level* lv, bint neg) noexcept nogil:
    """``_emit_plain`` for one of the best MEMO_N levels of a side (``i`` = rank, best = 0).

    The best levels change a few at a time between checksums and formatting is the expensive part,
    so the previous checksum's texts are walked in step with the book (both sorted best first): a
    level with the same packed price and size reuses its whole text, one with the same price its
    price text.
    """
    cdef TextMemo* e = c.next + i
    cdef TextMemo* p = NULL
    cdef double key = c.sgn * lv.price
    cdef Py_ssize_t j = c.j
    cdef char* out
    cdef char* start
    cdef Py_ssize_t plen, n
    _memo_carry(c, i)
    while j < c.pn and c.sgn * c.prev[j].price > key:
        j += 1
    c.j = j
    if em.pos > EMIT_FLUSH:
        _em_flush(em)
    start = out = em.buf + em.pos
    if j < c.pn and c.prev[j].ptx == lv.ptx and c.prev[j].len != MEMO_NONE:
        p = c.prev + j              # same price text (a kept level is plain: same ptx, same price)
        c.j = j + 1
        if p.stx == lv.stx and em.pos <= EMIT_FLUSH:
            memcpy(out, p.text, MEMO_TEXT)
            memcpy(e, p, sizeof(TextMemo))
            em.pos += p.len
            return
        memcpy(out, p.text, MEMO_TEXT)
        out += p.plen
    else:
        memcpy(out, em.sep16, 16)
        out += em.seplen
        out = hb_put_field(out, lv.ptx & MANT_MASK, <int>((lv.ptx >> MANT_BITS) & 63), em.strip)
    plen = out - start
    memcpy(out, em.sep16, 16)
    out += em.seplen
    out[0] = 45  # '-', kept only when negating
    out += neg
    out = hb_put_field(out, lv.stx & MANT_MASK, <int>((lv.stx >> MANT_BITS) & 63), em.strip)
    n = out - start
    e.price = lv.price
    e.ptx = lv.ptx
    e.stx = lv.stx
    if n <= MEMO_TEXT:
        memcpy(e.text, start, MEMO_TEXT)   # bytes past the text are harmless: only len are used
        e.len = <uint16_t>n
        e.plen = <uint16_t>plen
    else:
        e.len = MEMO_NONE
    em.pos = out - em.buf


cdef inline int _emit(OrderBook book, Emitter* em, MemoCursor* c, Py_ssize_t i, Level* lv, bint is_bid) except -1:
    cdef bint neg = em.neg_ask and not is_bid
    if (lv.ptx | lv.stx) & FL_ANY:
        if i < MEMO_N:
            _memo_carry(c, i)
            c.next[i].price = lv.price
            c.next[i].len = MEMO_NONE
        return book._emit_slow(em, lv, is_bid, neg)
    if i < MEMO_N:
        _emit_memo(em, c, i, lv, neg)
    else:
        _emit_plain(em, lv, neg)
    return 0


# ---------------------------------------------------------------------------------------------

cdef class OrderBookQueryResult:
    """Result of an order book query (Hummingbot-compatible); NaN marks a field that does not apply."""

    def __init__(self, double query_price, double query_volume, double result_price, double result_volume):
        self.query_price = query_price
        self.query_volume = query_volume
        self.result_price = result_price
        self.result_volume = result_volume

    def __iter__(self):
        return iter((self.query_price, self.query_volume, self.result_price, self.result_volume))

    def __repr__(self):
        return (f"OrderBookQueryResult(query_price={self.query_price!r}, query_volume={self.query_volume!r}, "
                f"result_price={self.result_price!r}, result_volume={self.result_volume!r})")


cdef inline OrderBookQueryResult _result(double qp, double qv, double rp, double rv):
    cdef OrderBookQueryResult r = OrderBookQueryResult.__new__(OrderBookQueryResult)
    r.query_price = qp
    r.query_volume = qv
    r.result_price = rp
    r.result_volume = rv
    return r


cdef object _SIDE_NAMES = ("ask", "bid")

DEF Q_PRICE_FOR_VOLUME = 0
DEF Q_VWAP_FOR_VOLUME = 1
DEF Q_PRICE_FOR_QUOTE_VOLUME = 2
DEF Q_QUOTE_VOLUME_FOR_BASE = 3
DEF Q_VOLUME_FOR_PRICE = 4
DEF Q_QUOTE_VOLUME_FOR_PRICE = 5

DEF T_NONE = 0
DEF T_KRAKEN = 1
DEF T_JS = 2
_TRANSFORMS = {"none": T_NONE, "kraken": T_KRAKEN, "js": T_JS}

DEF L_INTERLEAVED = 0
DEF L_ASKS_BIDS = 1
DEF L_BIDS_ASKS = 2

_LAYOUTS = {"interleaved": L_INTERLEAVED, "asks_bids": L_ASKS_BIDS, "bids_asks": L_BIDS_ASKS}


cdef object _prepare(object data, bint is_bid):
    """Normalise one side's input to a list/tuple of pairs or a float64 (n, k>=2) array."""
    if data is None:
        return ()
    if type(data) is list or type(data) is tuple:
        return data
    if isinstance(data, cnp.ndarray):
        arr = <cnp.ndarray>data
        if (cnp.PyArray_TYPE(arr) == cnp.NPY_DOUBLE and cnp.PyArray_NDIM(arr) == 2
                and cnp.PyArray_IS_C_CONTIGUOUS(arr) and cnp.PyArray_ISNOTSWAPPED(arr)
                and cnp.PyArray_DIMS(arr)[1] >= 2):
            return data
    side = "bids" if is_bid else "asks"
    if isinstance(data, np.ndarray):
        kind = data.dtype.kind
        if kind in "iuf":  # any width and byte order: converted to native float64
            arr = np.ascontiguousarray(data, dtype=np.float64)
            if arr.size == 0:
                return ()
            if arr.ndim != 2 or arr.shape[1] < 2:
                raise ValueError(f"{side}: expected an (n, 2) array, got shape {arr.shape}")
            return arr
        if kind in "USO":
            return data.tolist()
        raise ValueError(f"{side}: unsupported array dtype {data.dtype}")
    if isinstance(data, (str, bytes, bytearray)):
        raise ValueError(f"{side}: expected a sequence of (price, size) pairs, got {type(data).__name__}")
    try:
        return list(data)
    except (MemoryError, _Reentrant):
        raise
    except Exception as exc:
        raise ValueError(f"{side}: expected a sequence of (price, size) pairs, got {type(data).__name__} "
                         f"({type(exc).__name__})") from exc


class _Reentrant(RuntimeError):
    """An update called from inside the conversion of its own input (refused, never wrapped)."""


cdef int64_t _update_id(object o) except? -1:
    """An update id: an ``int`` (or an integer type with ``__index__``) in ``[0, 2**63)``;
    anything else (negative, too big, a float such as 1.5, a bool) is a ``ValueError``."""
    cdef long long v
    cdef int overflow = 0
    if type(o) is int:
        v = c_long_as_ll(o, &overflow)
        if overflow == 0 and v >= 0:
            return v
        raise ValueError(f"update_id must be in [0, 2**63), got {o!r:.60}")
    if isinstance(o, (bool, float, Decimal, str, bytes)):
        raise ValueError(f"update_id must be an int, got {type(o).__name__} {o!r:.60}")
    try:
        o = operator.index(o)
    except TypeError:
        raise ValueError(f"update_id must be an int, got {type(o).__name__}") from None
    return _update_id(int(o))


cdef int _check_double(double v, str where) except -1:
    if v != v:
        raise ValueError(f"{where} is NaN")
    if not isfinite(v):
        raise ValueError(f"{where} is infinite")
    if v < 0:
        raise ValueError(f"{where} is negative ({v!r})")
    return 0


cdef inline Py_ssize_t _count(object data) except -1:
    if type(data) is list:
        return c_list_size(<PyObject*>data)
    if type(data) is tuple:
        return c_tuple_size(<PyObject*>data)
    return (<cnp.ndarray>data).shape[0]


cdef class OrderBook:
    """A limit order book with C arrays per side; Hummingbot-compatible API.

    Inputs for ``apply_snapshot``/``apply_diffs``: each side is a numpy (n, 2) numeric array or a
    sequence of pairs whose items are ``str``, ``bytes``, ``float``, ``int`` or ``Decimal``; only the
    first two items of each pair are used (Kraken sends ``[price, size, timestamp, "r"]``).  ``None``
    means no levels.  A batch is atomic: everything is parsed and validated first; NaN, infinities,
    negative values, unparsable or empty text and pairs with fewer than two items raise
    ``ValueError`` and leave the book exactly as it was.

    ``apply_diffs`` applies the bid updates in order, then the ask updates (size 0 deletes; deleting
    an absent level is a no-op; a price given twice: the later entry wins).  Crossing is resolved so
    the book is never crossed, the newer level winning: after the bid updates, asks at or below the
    best bid are removed; after the ask updates, bids at or above the best ask are removed.  So when
    one batch crosses itself, its asks win.  ``apply_snapshot`` replaces the book; a crossed snapshot
    (best bid >= best ask) is rejected with ``ValueError``.

    Arrays of any integer or float dtype, width and byte order (``">f8"``, ``float32``, ``int64``...)
    and any strides are read as their values (converted to native float64 when needed); object and
    string arrays are read item by item; bool, complex, datetime and other dtypes, and shapes other
    than ``(n, k>=2)``, raise ``ValueError``.  ``update_id`` is an ``int`` (or an integer type with
    ``__index__``) in ``[0, 2**63)``; negative, larger, float (even ``1.0``), bool or text ids raise
    ``ValueError``.  Values whose conversion runs Python code (``__float__``, ``__index__``...) are
    converted after the batch is read, from references the parse holds: such code cannot resize
    or free what is being parsed; an exception it raises becomes a ``ValueError`` (its cause), and
    an update of the same book from inside it raises ``RuntimeError``.
    """

    def __cinit__(self):
        self._bids.base = NULL
        self._bids.off = 0
        self._bids.n = 0
        self._bids.cap = 0
        self._bids.sgn = 1.0
        self._asks.base = NULL
        self._asks.off = 0
        self._asks.n = 0
        self._asks.cap = 0
        self._asks.sgn = -1.0
        self._tmp = NULL
        self._tmp_cap = 0
        self._memo = NULL
        self._memo_len[0] = self._memo_len[1] = 0
        self._memo_flip[0] = self._memo_flip[1] = 0
        self._memo_tag = -1
        self._memo_sep = None
        self._busy = False
        self._snapshot_uid = 0
        self._last_diff_uid = 0
        self._last_trade_price = NAN
        self._fb_bids = {}
        self._fb_asks = {}
        self._pending = None
        self._bb_val = NAN
        self._ba_val = NAN
        self._bb_obj = NAN
        self._ba_obj = NAN

    def __init__(self, dex: bool = False):
        # ``dex`` is accepted for Hummingbot compatibility; crossing is always resolved as on a CEX.
        pass

    def __dealloc__(self):
        free(self._bids.base)
        free(self._asks.base)
        free(self._tmp)
        free(self._memo)

    # ----------------------------------------------------------------- parsing (all before any change)

    cdef int _prepare_tmp(self, Py_ssize_t n) except -1:
        cdef Level* t
        cdef Py_ssize_t cap
        if n <= self._tmp_cap:
            return 0
        cap = n if n > 2 * self._tmp_cap else 2 * self._tmp_cap
        if cap < 64:
            cap = 64
        t = <Level*>realloc(self._tmp, cap * sizeof(Level))
        if t == NULL:
            raise MemoryError()
        self._tmp = t
        self._tmp_cap = cap
        return 0

    cdef Py_ssize_t _parse_batch(self, object bids, object asks, int64_t uid, Py_ssize_t* na) except -1:
        """Parse and validate a whole batch into the scratch array (bids first, then asks).

        Returns the bid count and sets ``na``; the book itself is not touched, so a bad value
        raises before anything changes (batches are atomic)."""
        cdef Py_ssize_t nb, i, idx
        cdef list slow = None
        if type(bids) is not list:
            bids = _prepare(bids, True)
        if type(asks) is not list:
            asks = _prepare(asks, False)
        # Phase 1 reads both sides and parses every (str, str) pair without running any Python
        # code: the sizes counted here stay true while the scratch array is filled. Every other
        # item is only collected (a reference owned by ``slow``) for phase 2, whose conversions
        # (__float__, __index__, __len__, ...) may run the caller's code: that code can grow,
        # clear or free the input lists, but no longer what is read, nor the scratch array (only
        # an update reallocates it, and ``_busy`` refuses re-entrant updates).
        nb = _count(bids)
        na[0] = _count(asks)
        self._pending = None
        self._prepare_tmp(nb + na[0])
        slow = self._parse_side(bids, 0, uid, True, slow)
        slow = self._parse_side(asks, nb, uid, False, slow)
        if slow is not None:
            for i in range(0, len(slow), 2):
                idx = slow[i]
                if idx < nb:
                    self._parse_slow(slow[i + 1], self._tmp + idx, idx, idx, True)
                else:
                    self._parse_slow(slow[i + 1], self._tmp + idx, idx, idx - nb, False)
        return nb

    cdef list _parse_side(self, object data, Py_ssize_t start, int64_t uid, bint is_bid, list slow):
        """Phase 1 of one side (see ``_parse_batch``): returns ``slow`` with the items it left,
        as (index, item) pairs flattened."""
        cdef Py_ssize_t i, n, k0, k1, n0, n1, stride
        cdef PyObject* seq
        cdef PyObject* pair
        cdef PyObject* p0
        cdef PyObject* p1
        cdef const char* s0
        cdef const char* s1
        cdef Level* out = self._tmp + start
        cdef bint is_list
        cdef double* d
        cdef double p, s
        if type(data) is not list and type(data) is not tuple:
            n = (<cnp.ndarray>data).shape[0]
            stride = (<cnp.ndarray>data).shape[1]
            d = <double*>cnp.PyArray_DATA(<cnp.ndarray>data)
            for i in range(n):
                p = d[i * stride]
                s = d[i * stride + 1]
                if not (isfinite(p) and isfinite(s) and p >= 0 and s >= 0):
                    _check_double(p, f"{_SIDE_NAMES[is_bid]} level {i}: price")
                    _check_double(s, f"{_SIDE_NAMES[is_bid]} level {i}: size")
                out[i].price = p + 0.0
                out[i].size = s + 0.0
                out[i].ptx = FL_FLOAT
                out[i].stx = FL_FLOAT
                out[i].uid = uid
            return slow
        seq = <PyObject*>data
        is_list = c_list_check(seq)
        n = c_list_size(seq) if is_list else c_tuple_size(seq)
        if n > 1:
            hb_prefetch_pairs(seq, is_list, n)
        for i in range(n):
            pair = c_list_item(seq, i) if is_list else c_tuple_item(seq, i)
            k0 = -1
            if c_list_check(pair):
                if c_list_size(pair) >= 2:
                    p0 = c_list_item(pair, 0)
                    p1 = c_list_item(pair, 1)
                    k0 = 2
            elif c_tuple_check(pair):
                if c_tuple_size(pair) >= 2:
                    p0 = c_tuple_item(pair, 0)
                    p1 = c_tuple_item(pair, 1)
                    k0 = 2
            if k0 == 2 and c_str_check(p0) and c_str_check(p1):
                s0 = c_utf8(p0, &n0)
                s1 = c_utf8(p1, &n1)
                if s0 != NULL and s1 != NULL:
                    if _parse_plain(s0, n0, &out[i].ptx, &out[i].price) and \
                            _parse_plain(s1, n1, &out[i].stx, &out[i].size):
                        out[i].uid = uid
                        continue
                else:
                    c_err_clear()
            if slow is None:
                slow = []
            slow.append(start + i)
            slow.append(<object>pair)
            out[i].uid = uid
        return slow

    cdef int _parse_slow(self, object pair, Level* out, Py_ssize_t idx, Py_ssize_t pos, bint is_bid) except -1:
        side = _SIDE_NAMES[is_bid]
        if isinstance(pair, (str, bytes, bytearray, dict)):
            raise ValueError(f"{side} level {pos}: expected a (price, size) pair, got {type(pair).__name__}")
        try:
            k = len(pair)
            if k >= 2:
                p0 = pair[0]
                p1 = pair[1]
        except (MemoryError, _Reentrant):
            raise
        except Exception as exc:
            raise ValueError(f"{side} level {pos}: expected a (price, size) pair, got {type(pair).__name__} "
                             f"({type(exc).__name__})") from exc
        if k < 2:
            raise ValueError(f"{side} level {pos}: expected a (price, size) pair, got {k} item(s)")
        ptext = self._parse_value(p0, &out.price, &out.ptx, f"{side} level {pos}: price")
        stext = self._parse_value(p1, &out.size, &out.stx, f"{side} level {pos}: size")
        if ptext is not None or stext is not None:
            if self._pending is None:
                self._pending = []
            self._pending.append((idx, ptext, stext))
        return 0

    cdef object _parse_value(self, object o, double* val, uint64_t* tx, str where):
        """Parse one price or size; returns the verbatim text to keep (fallback) or None.

        Any failure is a ``ValueError`` naming ``where``, including an exception raised by the
        caller's own conversion code (``__float__``, ``__index__``, ...), chained as its cause."""
        try:
            return self._convert(o, val, tx, where)
        except (ValueError, MemoryError, _Reentrant):
            raise
        except Exception as exc:
            raise ValueError(f"{where}: {type(o).__name__} value raised {type(exc).__name__}") from exc

    cdef object _convert(self, object o, double* val, uint64_t* tx, str where):
        cdef double v
        cdef long long iv
        cdef Py_ssize_t n
        cdef const char* s
        if isinstance(o, (bytes, bytearray)):
            try:
                o = bytes(o).decode("ascii")
            except UnicodeDecodeError:
                raise ValueError(f"{where} {o!r:.60} is not ASCII text") from None
        if isinstance(o, str):
            t = str(o).strip()
            if not t:
                raise ValueError(f"{where} is an empty string")
            s = c_utf8(<PyObject*>t, &n)
            if s != NULL and _parse_plain(s, n, tx, val):
                return None
            c_err_clear()
            if "_" in t or not t.isascii():
                raise ValueError(f"{where} {t!r:.60} is not a decimal number")
            try:
                dec = Decimal(t)
            except (InvalidOperation, ValueError):
                raise ValueError(f"{where} {t!r:.60} is not a decimal number") from None
            return self._from_decimal(dec, t, val, tx, where, t)
        if isinstance(o, bool):
            raise ValueError(f"{where} is a bool ({o!r})")
        if isinstance(o, float):
            v = o
            _check_double(v, where)
            val[0] = v + 0.0
            tx[0] = FL_FLOAT
            return None
        if isinstance(o, int):
            o = int(o)
            if o < 0:
                raise ValueError(f"{where} is negative ({o!r:.60})")
            if o < MANT_LIMIT:
                iv = o
                val[0] = <double>iv
                tx[0] = <uint64_t>iv
                return None
            try:
                v = float(o)
            except OverflowError:
                raise ValueError(f"{where} {o.bit_length()}-bit integer is out of range") from None
            val[0] = v
            tx[0] = FL_FALLBACK
            return str(o)
        if isinstance(o, Decimal):
            if not o.is_finite():
                raise ValueError(f"{where} is not finite ({o!r})")
            # the range first: formatting 1e-100000000 as plain text would take 100 MB
            if not DEC_EXP_MIN <= o.adjusted() <= DEC_EXP_MAX:
                if not o.is_zero():
                    raise ValueError(f"{where} {o!r:.60} is out of range")
                o = Decimal(0)
            t = format(o, "f")
            s = c_utf8(<PyObject*>t, &n)
            if _parse_plain(s, n, tx, val):
                return None
            return self._from_decimal(o, t, val, tx, where, o)
        try:
            iobj = operator.index(o)
        except TypeError:
            pass
        else:
            return self._convert(int(iobj), val, tx, where)
        try:
            v = float(o)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: a {type(o).__name__} is not a number") from None
        _check_double(v, where)
        val[0] = v + 0.0
        tx[0] = FL_FLOAT
        return None

    cdef object _from_decimal(self, object dec, str text, double* val, uint64_t* tx, str where, object orig):
        cdef double v
        if not dec.is_finite():
            raise ValueError(f"{where} is not finite ({orig!r:.60})")
        if dec.is_signed() and dec != 0:
            raise ValueError(f"{where} is negative ({orig!r:.60})")
        v = float(dec)
        if not isfinite(v):
            raise ValueError(f"{where} {orig!r:.60} is out of range")
        val[0] = v + 0.0
        tx[0] = FL_FALLBACK
        return text

    cdef int _store_pending(self, Py_ssize_t nb) except -1:
        """Record the verbatim texts of this batch's fallback levels (batch order: last wins)."""
        cdef Py_ssize_t idx
        for idx, ptext, stext in self._pending:
            fb = self._fb_bids if idx < nb else self._fb_asks
            fb[self._tmp[idx].price] = (ptext, stext)
        self._pending = None
        self._gc_fallback()
        return 0

    def _gc_fallback(self):
        # Entries of levels that were deleted or overwritten are harmless but must not pile up.
        cdef Side* sd
        cdef Level* a
        cdef Py_ssize_t i
        for is_bid in (True, False):
            fb = self._fb_bids if is_bid else self._fb_asks
            sd = &self._bids if is_bid else &self._asks
            if len(fb) <= 2 * sd.n + 32:
                continue
            a = sd.base + sd.off
            keep = {}
            for i in range(sd.n):
                if (a[i].ptx | a[i].stx) & FL_FALLBACK:
                    keep[a[i].price] = fb[a[i].price]
            if is_bid:
                self._fb_bids = keep
            else:
                self._fb_asks = keep

    # ----------------------------------------------------------------- updates

    def apply_snapshot(self, bids, asks, update_id) -> None:
        """Replace the whole book with ``bids`` and ``asks`` (any order; duplicates: last wins; size 0 skipped).

        Raises ``ValueError`` for bad values, and for a crossed or locked snapshot (best bid >= best
        ask): an exchange never sends one, so it is not repaired (as a crossing diff is) but rejected
        whole and the book left unchanged; the caller should resync.
        """
        cdef Py_ssize_t nb, na
        cdef Side nbs, nas
        cdef int64_t uid = _update_id(update_id)
        if self._busy:
            raise _Reentrant("OrderBook updated re-entrantly (from inside its own input conversion)")
        self._busy = True
        try:
            nb = self._parse_batch(bids, asks, uid, &na)
            if _build_side(&nbs, self._tmp, nb, 1.0) < 0:
                raise MemoryError()
            if _build_side(&nas, self._tmp + nb, na, -1.0) < 0:
                free(nbs.base)
                raise MemoryError()
            if nbs.n > 0 and nas.n > 0 and nbs.base[nbs.n - 1].price >= nas.base[nas.n - 1].price:
                bb = nbs.base[nbs.n - 1].price
                ba = nas.base[nas.n - 1].price
                free(nbs.base)
                free(nas.base)
                self._pending = None
                raise ValueError(f"crossed snapshot: best bid {bb!r} >= best ask {ba!r}")
            free(self._bids.base)
            free(self._asks.base)
            self._bids = nbs
            self._asks = nas
            self._fb_bids = {}
            self._fb_asks = {}
            self._snapshot_uid = uid
            self._refresh_top()
            if self._pending is not None:
                self._store_pending(nb)
            if self._tmp_cap > TMP_KEEP:
                self._release_tmp()
        finally:
            self._busy = False

    def apply_diffs(self, bids, asks, update_id) -> None:
        """Apply level updates (size 0 deletes); see the class docstring for ordering and crossing."""
        cdef Py_ssize_t nb, na
        cdef int64_t uid = _update_id(update_id)
        if self._busy:
            raise _Reentrant("OrderBook updated re-entrantly (from inside its own input conversion)")
        self._busy = True
        try:
            nb = self._parse_batch(bids, asks, uid, &na)
            if _reserve(&self._bids, nb) < 0 or _reserve(&self._asks, na) < 0:
                self._pending = None
                raise MemoryError()
            # From here on nothing can fail.
            _apply_many(&self._bids, self._tmp, nb)
            _uncross(&self._bids, &self._asks)
            _apply_many(&self._asks, self._tmp + nb, na)
            _uncross(&self._asks, &self._bids)
            if self._bids.n * 4 <= self._bids.cap and self._bids.cap > 64:
                _shrink(&self._bids)       # mass deletions: give the memory back
            if self._asks.n * 4 <= self._asks.cap and self._asks.cap > 64:
                _shrink(&self._asks)
            self._last_diff_uid = uid
            self._refresh_top()
            if self._pending is not None:
                self._store_pending(nb)
            if self._tmp_cap > TMP_KEEP:
                self._release_tmp()
        finally:
            self._busy = False

    cdef void _release_tmp(self) noexcept:
        # A huge batch must not pin its parse buffer for the life of the book. (cdef: no Python
        # code, such as a value's __float__ during a parse, can free the buffer being filled.)
        free(self._tmp)
        self._tmp = NULL
        self._tmp_cap = 0

    def apply_trade(self, trade) -> None:
        """Record a trade: a price (number, str, Decimal) or an object with a ``price`` attribute.

        A price that is NaN, infinite, negative or not a number raises ``ValueError`` (the last
        trade price is left as it was)."""
        cdef double v
        cdef uint64_t tx
        try:
            price = getattr(trade, "price", trade)
        except MemoryError:
            raise
        except Exception as exc:
            raise ValueError(f"trade price: reading {type(trade).__name__}.price raised {type(exc).__name__}") from exc
        self._parse_value(price, &v, &tx, "trade price")
        self._last_trade_price = v

    def truncate(self, Py_ssize_t depth) -> None:
        """Keep only the best ``depth`` levels of each side."""
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        if self._bids.n > depth:
            self._bids.off += self._bids.n - depth
            self._bids.n = depth
            _shrink(&self._bids)
        if self._asks.n > depth:
            self._asks.off += self._asks.n - depth
            self._asks.n = depth
            _shrink(&self._asks)
        self._refresh_top()

    def clear(self) -> None:
        """Remove every level (update ids and the last trade price are kept)."""
        self._bids.n = 0
        self._bids.off = 0
        self._asks.n = 0
        self._asks.off = 0
        _shrink(&self._bids)
        _shrink(&self._asks)
        self._fb_bids = {}
        self._fb_asks = {}
        self._refresh_top()

    def copy(self):
        """An independent copy of this book."""
        cdef OrderBook o = type(self).__new__(type(self))
        cdef Side* src
        cdef Side* dst
        for is_bid in (True, False):
            src = &self._bids if is_bid else &self._asks
            dst = &o._bids if is_bid else &o._asks
            if src.n > 0:
                dst.base = <Level*>malloc(src.n * sizeof(Level))
                if dst.base == NULL:
                    raise MemoryError()
                memcpy(dst.base, src.base + src.off, src.n * sizeof(Level))
                dst.cap = src.n
                dst.n = src.n
        o._snapshot_uid = self._snapshot_uid
        o._last_diff_uid = self._last_diff_uid
        o._last_trade_price = self._last_trade_price
        o._fb_bids = dict(self._fb_bids)
        o._fb_asks = dict(self._fb_asks)
        o._refresh_top()
        return o

    def __copy__(self):
        return self.copy()

    def __reduce__(self):
        # Pickles carry the raw level arrays (same-architecture use: multiprocessing, snapshots).
        cdef Level* b = self._bids.base + self._bids.off
        cdef Level* a = self._asks.base + self._asks.off
        return (_restore_book, (type(self), (<char*>b)[:self._bids.n * sizeof(Level)] if self._bids.n else b"",
                                (<char*>a)[:self._asks.n * sizeof(Level)] if self._asks.n else b"",
                                dict(self._fb_bids), dict(self._fb_asks), self._snapshot_uid,
                                self._last_diff_uid, self._last_trade_price, sizeof(Level)))

    def __deepcopy__(self, memo):
        return self.copy()

    # ----------------------------------------------------------------- top of book

    cdef int _refresh_top(self) except -1:
        """Keep the best_bid/best_ask float objects current (read through member descriptors)."""
        cdef double bb = self.c_best_bid(), ba = self.c_best_ask()
        if not (bb == self._bb_val or (bb != bb and self._bb_val != self._bb_val)):
            self._bb_obj = bb
            self._bb_val = bb
        if not (ba == self._ba_val or (ba != ba and self._ba_val != self._ba_val)):
            self._ba_obj = ba
            self._ba_val = ba
        return 0

    cdef double c_best_bid(self) noexcept:
        if self._bids.n == 0:
            return NAN
        return self._bids.base[self._bids.off + self._bids.n - 1].price

    cdef double c_best_ask(self) noexcept:
        if self._asks.n == 0:
            return NAN
        return self._asks.base[self._asks.off + self._asks.n - 1].price

    @property
    def mid_price(self) -> float:
        """(best bid + best ask) / 2, NaN when a side is empty."""
        return (self.c_best_bid() + self.c_best_ask()) * 0.5

    @property
    def spread(self) -> float:
        """best ask - best bid, NaN when a side is empty."""
        return self.c_best_ask() - self.c_best_bid()

    @property
    def bid_depth(self) -> int:
        """Number of bid levels."""
        return self._bids.n

    @property
    def ask_depth(self) -> int:
        """Number of ask levels."""
        return self._asks.n

    def get_price(self, bint is_buy) -> float:
        """Best ask for a buy, best bid for a sell; raises ``EnvironmentError`` on an empty side (as Hummingbot)."""
        cdef Side* sd = &self._asks if is_buy else &self._bids
        if sd.n == 0:
            raise EnvironmentError("Order book is empty - no price quote is possible.")
        return sd.base[sd.off + sd.n - 1].price

    @property
    def snapshot_uid(self) -> int:
        return self._snapshot_uid

    @property
    def last_diff_uid(self) -> int:
        return self._last_diff_uid

    @property
    def last_trade_price(self) -> float:
        return self._last_trade_price

    @last_trade_price.setter
    def last_trade_price(self, double value):
        self._last_trade_price = value

    # ----------------------------------------------------------------- reading levels

    def bid_entries(self):
        """Iterate bid levels best first as ``OrderBookRow(price, amount, update_id)``."""
        cdef Py_ssize_t i = 0
        cdef Level* lv
        while i < self._bids.n:
            lv = self._bids.base + self._bids.off + self._bids.n - 1 - i
            yield OrderBookRow(lv.price, lv.size, lv.uid)
            i += 1

    def ask_entries(self):
        """Iterate ask levels best first as ``OrderBookRow(price, amount, update_id)``."""
        cdef Py_ssize_t i = 0
        cdef Level* lv
        while i < self._asks.n:
            lv = self._asks.base + self._asks.off + self._asks.n - 1 - i
            yield OrderBookRow(lv.price, lv.size, lv.uid)
            i += 1

    def bids(self, n=None) -> np.ndarray:
        """Best ``n`` (default all) bid levels as a float64 (k, 2) array [price, size], best first."""
        return _levels_array(&self._bids, n)

    def asks(self, n=None) -> np.ndarray:
        """Best ``n`` (default all) ask levels as a float64 (k, 2) array [price, size], best first."""
        return _levels_array(&self._asks, n)

    cdef str _text(self, Level* lv, bint price, bint is_bid):
        cdef uint64_t tx = lv.ptx if price else lv.stx
        if not (tx & FL_ANY):
            return _plain_text(tx)
        if tx & FL_FALLBACK:
            fb = self._fb_bids if is_bid else self._fb_asks
            return fb[lv.price][0 if price else 1]
        return _float_text(lv.price if price else lv.size)

    cdef list _texts(self, Side* sd, Py_ssize_t n, bint is_bid):
        cdef Py_ssize_t i, k = sd.n if n < 0 or n > sd.n else n
        cdef Level* top = sd.base + sd.off + sd.n - 1
        out = []
        for i in range(k):
            out.append((self._text(top - i, True, is_bid), self._text(top - i, False, is_bid)))
        return out

    def bids_text(self, n=None) -> list:
        """Best ``n`` (default all) bids as (price_text, size_text), the venue's exact decimal text."""
        if n is not None and n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return self._texts(&self._bids, -1 if n is None else n, True)

    def asks_text(self, n=None) -> list:
        """Best ``n`` (default all) asks as (price_text, size_text), the venue's exact decimal text."""
        if n is not None and n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return self._texts(&self._asks, -1 if n is None else n, False)

    # ----------------------------------------------------------------- queries (Hummingbot semantics)

    cdef object _query(self, int kind, bint is_buy, double x):
        cdef Side* sd = &self._asks if is_buy else &self._bids
        cdef Level* top = sd.base + sd.off + sd.n - 1
        cdef Py_ssize_t i, n = sd.n
        cdef double cum = 0, cost = 0, p, s, res = NAN, rem
        if kind == Q_PRICE_FOR_VOLUME:
            for i in range(n):
                cum += (top - i).size
                if cum >= x:
                    res = (top - i).price
                    break
            return _result(NAN, x, res, cum if cum < x else x)
        if kind == Q_VWAP_FOR_VOLUME:
            for i in range(n):
                p = (top - i).price
                s = (top - i).size
                if cum + s >= x:
                    rem = x - cum
                    cost += rem * p
                    cum += rem
                    res = cost / cum
                    break
                cost += s * p
                cum += s
            return _result(NAN, x, res, cum if cum < x else x)
        if kind == Q_PRICE_FOR_QUOTE_VOLUME:
            for i in range(n):
                cum += (top - i).size * (top - i).price
                if cum >= x:
                    res = (top - i).price
                    break
            return _result(NAN, x, res, cum if cum < x else x)
        if kind == Q_QUOTE_VOLUME_FOR_BASE:
            for i in range(n):
                s = (top - i).size
                if s + cum >= x:
                    s = x - cum
                cum += s
                cost += s * (top - i).price
                if cum >= x:
                    break
            return _result(NAN, x, NAN, cost)
        # Q_VOLUME_FOR_PRICE / Q_QUOTE_VOLUME_FOR_PRICE: all levels at or better than x
        for i in range(n):
            p = (top - i).price
            if (is_buy and p > x) or (not is_buy and p < x) or p != p:
                break
            cum += (top - i).size * (p if kind == Q_QUOTE_VOLUME_FOR_PRICE else 1.0)
            res = p
        return _result(x, NAN, res, cum)

    def get_price_for_volume(self, bint is_buy, double volume) -> OrderBookQueryResult:
        """Price of the level where the cumulative size reaches ``volume`` (NaN if the book is too thin)."""
        return self._query(Q_PRICE_FOR_VOLUME, is_buy, volume)

    def get_vwap_for_volume(self, bint is_buy, double volume) -> OrderBookQueryResult:
        """Volume-weighted average price to fill ``volume`` (NaN if the book is too thin)."""
        return self._query(Q_VWAP_FOR_VOLUME, is_buy, volume)

    def get_price_for_quote_volume(self, bint is_buy, double quote_volume) -> OrderBookQueryResult:
        """Price of the level where the cumulative quote volume reaches ``quote_volume``."""
        return self._query(Q_PRICE_FOR_QUOTE_VOLUME, is_buy, quote_volume)

    def get_quote_volume_for_base_amount(self, bint is_buy, double base_amount) -> OrderBookQueryResult:
        """Quote volume needed to fill ``base_amount`` (result_volume; partial if the book is too thin)."""
        return self._query(Q_QUOTE_VOLUME_FOR_BASE, is_buy, base_amount)

    def get_volume_for_price(self, bint is_buy, double price) -> OrderBookQueryResult:
        """Total size available at ``price`` or better; result_price is the worst level included."""
        return self._query(Q_VOLUME_FOR_PRICE, is_buy, price)

    def get_quote_volume_for_price(self, bint is_buy, double price) -> OrderBookQueryResult:
        """Total quote volume available at ``price`` or better; result_price is the worst level included."""
        return self._query(Q_QUOTE_VOLUME_FOR_PRICE, is_buy, price)

    # ----------------------------------------------------------------- checksums

    cdef int _emit_slow(self, Emitter* em, Level* lv, bint is_bid, bint neg) except -1:
        cdef bytes b
        for is_price in (True, False):
            if em.js and ((lv.ptx if is_price else lv.stx) & FL_FLOAT):
                t = _js_text(lv.price if is_price else lv.size)
            else:
                t = self._text(lv, is_price, is_bid)
            if em.strip:
                t = t.replace(".", "").lstrip("0")
            if neg and not is_price:
                t = "-" + t
            _em_write(em, em.sep16, em.seplen)
            b = t.encode("ascii")
            _em_write(em, b, len(b))
        return 0

    cdef int _checksum(self, Py_ssize_t depth, int layout, bytes sep, int transform, bint neg_ask,
                       uint32_t* out, object dump) except -1:
        cdef Emitter em
        cdef Py_ssize_t i, nb, na, m
        cdef Level* tb = self._bids.base + self._bids.off + self._bids.n - 1
        cdef Level* ta = self._asks.base + self._asks.off + self._asks.n - 1
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        em.seplen = len(sep)
        if em.seplen > 16:
            raise ValueError("separator longer than 16 bytes")
        memset(em.sep16, 0, 16)
        memcpy(em.sep16, <const char*>sep, em.seplen)
        em.pos = 0
        em.skip = em.seplen
        em.crc = 0
        em.strip = transform == T_KRAKEN
        em.js = transform == T_JS
        em.neg_ask = neg_ask
        em.dump = NULL if dump is None else <PyObject*>dump
        nb = depth if depth < self._bids.n else self._bids.n
        na = depth if depth < self._asks.n else self._asks.n
        cdef MemoCursor cb, ca
        cdef int tag = transform * 2 + neg_ask
        cdef Level* lv
        if self._memo == NULL:
            if sizeof(TextMemo) != 64:     # hb_copy64 copies whole entries as 64-byte blocks
                raise SystemError("unexpected TextMemo layout")
            self._memo = <TextMemo*>malloc(4 * MEMO_N * sizeof(TextMemo))
            if self._memo == NULL:
                raise MemoryError()
            self._memo_len[0] = self._memo_len[1] = 0
        if self._memo_tag != tag or (self._memo_sep is not sep and self._memo_sep != sep):
            self._memo_len[0] = self._memo_len[1] = 0      # texts of another scheme: start over
            self._memo_tag = tag
            self._memo_sep = sep
        cb.prev = self._memo + self._memo_flip[0] * MEMO_N
        cb.next = self._memo + (1 - self._memo_flip[0]) * MEMO_N
        cb.pn = self._memo_len[0]
        cb.j = 0
        cb.run = -1
        cb.sgn = 1.0
        ca.prev = self._memo + (2 + self._memo_flip[1]) * MEMO_N
        ca.next = self._memo + (3 - self._memo_flip[1]) * MEMO_N
        ca.pn = self._memo_len[1]
        ca.j = 0
        ca.run = -1
        ca.sgn = -1.0
        if layout == L_INTERLEAVED:
            m = nb if nb > na else na
            for i in range(m):
                if i < nb:
                    lv = tb - i
                    if i < MEMO_N and not ((lv.ptx | lv.stx) & FL_ANY_C):
                        if not _memo_hit(&em, &cb, i, lv):
                            _emit_memo(&em, &cb, i, lv, False)
                    else:
                        _emit(self, &em, &cb, i, lv, True)
                if i < na:
                    lv = ta - i
                    if i < MEMO_N and not ((lv.ptx | lv.stx) & FL_ANY_C):
                        if not _memo_hit(&em, &ca, i, lv):
                            _emit_memo(&em, &ca, i, lv, em.neg_ask)
                    else:
                        _emit(self, &em, &ca, i, lv, False)
        elif layout == L_ASKS_BIDS:
            for i in range(na):
                _emit(self, &em, &ca, i, ta - i, False)
            for i in range(nb):
                _emit(self, &em, &cb, i, tb - i, True)
        else:
            for i in range(nb):
                _emit(self, &em, &cb, i, tb - i, True)
            for i in range(na):
                _emit(self, &em, &ca, i, ta - i, False)
        # Complete: this checksum's texts become the memo (a failure above keeps the old one).
        self._memo_len[0] = nb if nb < MEMO_N else MEMO_N
        self._memo_len[1] = na if na < MEMO_N else MEMO_N
        _memo_carry(&cb, self._memo_len[0])
        _memo_carry(&ca, self._memo_len[1])
        self._memo_flip[0] = 1 - self._memo_flip[0]
        self._memo_flip[1] = 1 - self._memo_flip[1]
        _em_flush(&em)
        out[0] = em.crc
        return 0

    def checksum(self, int depth=25, str layout="interleaved", sep=":", str transform="none",
                 bint signed=False, bint negate_ask_size=False) -> int:
        """CRC-32 over the exact text of the top ``depth`` levels of each side.

        ``layout``: ``"interleaved"`` (bid 1, ask 1, bid 2, ...; when one side is shorter the other
        continues), ``"asks_bids"`` or ``"bids_asks"`` (each side best first).  Every price and size
        is one field; fields are joined by ``sep``.  ``transform``: ``"none"`` or ``"kraken"``
        (drop '.', strip leading zeros) or ``"js"`` (values that came as floats, i.e. without venue
        text, are written as JavaScript's Number#toString writes them).  ``negate_ask_size`` writes ask sizes with a leading '-'.
        ``signed`` returns the CRC as a signed 32-bit int.
        """
        cdef uint32_t crc
        lay, tr = self._layout(layout, transform)
        self._checksum(depth, lay, sep.encode("ascii") if isinstance(sep, str) else bytes(sep),
                       tr, negate_ask_size, &crc, None)
        return <int32_t>crc if signed else crc

    def checksum_text(self, int depth=25, str layout="interleaved", sep=":", str transform="none",
                      bint negate_ask_size=False) -> str:
        """The exact string :meth:`checksum` runs the CRC over (for debugging and logs)."""
        cdef uint32_t crc
        lay, tr = self._layout(layout, transform)
        dump = bytearray()
        self._checksum(depth, lay, sep.encode("ascii") if isinstance(sep, str) else bytes(sep),
                       tr, negate_ask_size, &crc, dump)
        return dump.decode("ascii")

    def _layout(self, str layout, str transform):
        if transform not in _TRANSFORMS:
            raise ValueError(f"unknown transform {transform!r} (expected one of {sorted(_TRANSFORMS)})")
        try:
            return _LAYOUTS[layout], _TRANSFORMS[transform]
        except KeyError:
            raise ValueError(f"unknown layout {layout!r} (expected one of {sorted(_LAYOUTS)})") from None

    def checksum_okx(self, int depth=25) -> int:
        """OKX (and Bitget) checksum: top 25 interleaved ``bidPx:bidSz:askPx:askSz``, signed CRC-32."""
        cdef uint32_t crc
        self._checksum(depth, L_INTERLEAVED, b":", T_NONE, False, &crc, None)
        return <int32_t>crc

    def checksum_bitget(self, int depth=25) -> int:
        """Bitget checksum: the same scheme as OKX."""
        return self.checksum_okx(depth)

    def checksum_kraken(self, int depth=10) -> int:
        """Kraken checksum: top 10 asks (low to high) then top 10 bids (high to low), each as price
        then size with '.' removed and leading zeros stripped, concatenated; unsigned CRC-32."""
        cdef uint32_t crc
        self._checksum(depth, L_ASKS_BIDS, b"", T_KRAKEN, False, &crc, None)
        return crc

    def checksum_bitfinex(self, int depth=25) -> int:
        """Bitfinex (P0-P4 books) checksum: top 25 interleaved ``bidPrice:bidAmount:askPrice:-askAmount``,
        signed CRC-32; values given as floats (JSON numbers) are written the JavaScript way."""
        cdef uint32_t crc
        self._checksum(depth, L_INTERLEAVED, b":", T_JS, True, &crc, None)
        return <int32_t>crc

    # ----------------------------------------------------------------- memory, dunder

    @property
    def bytes_per_level(self) -> int:
        """Bytes one level takes in the side arrays (the whole per-level cost for venue-text levels)."""
        return sizeof(Level)

    @property
    def nbytes(self) -> int:
        """Memory held by this book: allocated side arrays, parse buffer, fallback texts."""
        import sys
        cdef Py_ssize_t total = sys.getsizeof(self)
        total += (self._bids.cap + self._asks.cap + self._tmp_cap) * sizeof(Level)
        if self._memo != NULL:
            total += 4 * MEMO_N * sizeof(TextMemo)
        for fb in (self._fb_bids, self._fb_asks):
            if fb:
                total += sys.getsizeof(fb)
                for k, v in fb.items():
                    total += sys.getsizeof(k) + sys.getsizeof(v) + sum(sys.getsizeof(t) for t in v if t is not None)
        return total

    def __len__(self):
        return self._bids.n + self._asks.n

    def __repr__(self):
        return (f"OrderBook(bids={self._bids.n}, asks={self._asks.n}, best_bid={self.c_best_bid()!r}, "
                f"best_ask={self.c_best_ask()!r}, snapshot_uid={self._snapshot_uid}, "
                f"last_diff_uid={self._last_diff_uid})")


def _restore_book(cls, bytes bids, bytes asks, dict fb_bids, dict fb_asks, int64_t snapshot_uid,
                  int64_t last_diff_uid, double last_trade_price, Py_ssize_t level_size):
    """Rebuild a pickled OrderBook (see OrderBook.__reduce__)."""
    cdef OrderBook o = cls.__new__(cls)
    cdef Side* sd
    cdef bytes raw
    cdef Py_ssize_t n, i
    cdef Level* lv
    if level_size != sizeof(Level):
        raise ValueError("pickled OrderBook comes from an incompatible build")
    for is_bid, raw in ((True, bids), (False, asks)):
        if len(raw) % sizeof(Level):
            raise ValueError("corrupt pickled OrderBook")
        n = len(raw) // sizeof(Level)
        sd = &o._bids if is_bid else &o._asks
        if n:
            sd.base = <Level*>malloc(n * sizeof(Level))
            if sd.base == NULL:
                raise MemoryError()
            memcpy(sd.base, <const char*>raw, n * sizeof(Level))
            sd.cap = n
            sd.n = n
            for i in range(1, n):  # sorted, best at the tail
                lv = sd.base + i
                if not (sd.sgn * lv.price > sd.sgn * (lv - 1).price):
                    raise ValueError("corrupt pickled OrderBook")
    if o._bids.n and o._asks.n and o.c_best_bid() >= o.c_best_ask():
        raise ValueError("corrupt pickled OrderBook")
    o._fb_bids = fb_bids
    o._fb_asks = fb_asks
    o._snapshot_uid = snapshot_uid
    o._last_diff_uid = last_diff_uid
    o._last_trade_price = last_trade_price
    o._refresh_top()
    return o


cdef object _levels_array(Side* sd, object n):
    cdef Py_ssize_t i, k = sd.n
    cdef Level* top = sd.base + sd.off + sd.n - 1
    cdef cnp.ndarray out
    cdef double* d
    if n is not None:
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n < k:
            k = n
    out = np.empty((k, 2), dtype=np.float64)
    d = <double*>cnp.PyArray_DATA(out)
    for i in range(k):
        d[2 * i] = (top - i).price
        d[2 * i + 1] = (top - i).size
    return out


# ---------------------------------------------------------------------------------------------
# best_bid / best_ask are read thousands of times a second: expose them as member descriptors over
# float objects that the book keeps current, which the interpreter reads as fast as a plain
# attribute (a property would call a getter and allocate a float on every read).

cdef extern from *:
    """
    #include <structmember.h>
    static PyMemberDef hb_top_members[3];
    static int hb_install_top(PyObject* tobj, Py_ssize_t off_bid, Py_ssize_t off_ask) {
        PyTypeObject* t = (PyTypeObject*)tobj;
        PyObject *d1, *d2;
        hb_top_members[0].name = "best_bid";
        hb_top_members[0].type = T_OBJECT_EX;
        hb_top_members[0].offset = off_bid;
        hb_top_members[0].flags = READONLY;
        hb_top_members[0].doc = "Highest bid price (NaN when there are no bids).";
        hb_top_members[1].name = "best_ask";
        hb_top_members[1].type = T_OBJECT_EX;
        hb_top_members[1].offset = off_ask;
        hb_top_members[1].flags = READONLY;
        hb_top_members[1].doc = "Lowest ask price (NaN when there are no asks).";
        d1 = PyDescr_NewMember(t, &hb_top_members[0]);
        if (!d1) return -1;
        d2 = PyDescr_NewMember(t, &hb_top_members[1]);
        if (!d2) { Py_DECREF(d1); return -1; }
        if (PyDict_SetItemString(t->tp_dict, "best_bid", d1) < 0 ||
            PyDict_SetItemString(t->tp_dict, "best_ask", d2) < 0) {
            Py_DECREF(d1); Py_DECREF(d2); return -1;
        }
        Py_DECREF(d1); Py_DECREF(d2);
        PyType_Modified(t);
        return 0;
    }
    """
    int hb_install_top(PyObject* t, Py_ssize_t off_bid, Py_ssize_t off_ask) except -1


cdef Py_ssize_t _slot_offset(object o, object sentinel) except -1:
    """Byte offset of the object slot of ``o`` that holds ``sentinel``."""
    cdef char* base = <char*><PyObject*>o
    cdef Py_ssize_t i, size = type(o).__basicsize__
    for i in range(0, size - <Py_ssize_t>sizeof(void*) + 1, sizeof(void*)):
        if (<PyObject**>(base + i))[0] == <PyObject*>sentinel:
            return i
    raise RuntimeError("hbconnect._book: cannot locate the best_bid/best_ask slots")


cdef int _install_top() except -1:
    cdef OrderBook probe = OrderBook.__new__(OrderBook)
    s1 = object()
    s2 = object()
    probe._bb_obj = s1
    probe._ba_obj = s2
    return hb_install_top(<PyObject*>OrderBook, _slot_offset(probe, s1), _slot_offset(probe, s2))


_install_top()
