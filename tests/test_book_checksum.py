"""Checksum helpers: the venues' documented examples, the real Kraken session, the general form."""
from __future__ import annotations

import json
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from hbconnect import OrderBook
from hbconnect._book import crc32
from tests.conftest import fixture_files


def _signed(c: int) -> int:
    return c - (1 << 32) if c >= 1 << 31 else c


def test_okx_documented_examples():
    # OKX docs, "Checksum": both sides >= 2 levels, and a short bid side.
    b = OrderBook()
    b.apply_snapshot([["3366.1", "7", "0", "3"], ["3366", "6", "3", "4"]],
                     [["3366.8", "9", "10", "3"], ["3368", "8", "3", "4"]], 1)
    assert b.checksum_text() == "3366.1:7:3366.8:9:3366:6:3368:8"
    assert b.checksum_okx() == -1881014294
    b.apply_snapshot([["3366.1", "7", "0", "3"]],
                     [["3366.8", "9", "10", "3"], ["3368", "8", "3", "4"], ["3372", "8", "3", "4"]], 2)
    assert b.checksum_text() == "3366.1:7:3366.8:9:3368:8:3372:8"
    assert b.checksum_okx() == 831078360
    assert b.checksum_bitget() == 831078360


def test_okx_uses_top_25_and_exact_text():
    b = OrderBook()
    b.apply_snapshot([[f"{1000 - i}.10", "1.000"] for i in range(30)],
                     [[f"{1001 + i}.00", "0.50"] for i in range(30)], 1)
    pre = b.checksum_text()
    assert pre.count(":") == 25 * 4 - 1 and "975.10" not in pre and pre.startswith("1000.10:1.000:1001.00:0.50:")
    assert b.checksum_okx() == _signed(zlib.crc32(pre.encode()))


def test_kraken_documented_format():
    # Kraken docs (book checksum v2): price "45285.2" -> "452852", qty "0.00100000" -> "100000".
    b = OrderBook()
    b.apply_snapshot([["45283.5", "0.10000000"]], [["45285.2", "0.00100000"]], 1)
    assert b.checksum_text(10, "asks_bids", "", "kraken") == "452852100000" + "452835" + "10000000"
    assert b.checksum_kraken() == zlib.crc32(b"45285210000045283510000000")


def test_kraken_real_session_every_checksum_matches():
    """KRAKEN.ws.50.0: book-1000 snapshots then updates with a "c" checksum; truncate to 1000 each time."""
    books: dict[int, OrderBook] = {}
    checked = 0
    for path in fixture_files("KRAKEN"):
        if ".ws." not in path.name:
            continue
        for line in path.read_text().splitlines():
            if " <-> " in line or " <- " in line:
                continue
            _, _, payload = line.partition(": ")
            if not payload.startswith("["):
                continue
            msg = json.loads(payload)
            if not isinstance(msg[1], dict) or not str(msg[-2]).startswith("book"):
                continue
            parts = msg[1:-2]
            if "as" in parts[0] or "bs" in parts[0]:
                books[msg[0]] = OrderBook()
                books[msg[0]].apply_snapshot(parts[0].get("bs", []), parts[0].get("as", []), 0)
                continue
            book = books[msg[0]]
            bids, asks, c = [], [], None
            for p in parts:
                bids += p.get("b", [])
                asks += p.get("a", [])
                c = p.get("c", c)
            book.apply_diffs(bids, asks, book.last_diff_uid + 1)
            book.truncate(1000)
            assert c is not None
            assert book.checksum_kraken() == int(c), (msg[-1], book.checksum_text(10, "asks_bids", "", "kraken"))
            checked += 1
    assert len(books) == 10 and checked > 4000


def test_bitfinex_form():
    # Bitfinex (docs "WebSocket Checksum", P0 books): top 25, bid price:amount then ask price:-amount.
    b = OrderBook()
    b.apply_snapshot([[7254.7, 3.3], [7254, 1]], [[7255.1, 0.5], [7256, 2], [7257, 0.00000012]], 1)
    assert b.checksum_text(negate_ask_size=True) == "7254.7:3.3:7255.1:-0.5:7254:1:7256:-2:7257:-0.00000012"
    want = "7254.7:3.3:7255.1:-0.5:7254:1:7256:-2:7257:-1.2e-7"   # floats written as JavaScript does
    assert b.checksum_text(negate_ask_size=True, transform="js") == want
    assert b.checksum_bitfinex() == _signed(zlib.crc32(want.encode()))


def test_general_form_and_fallback_text():
    b = OrderBook()
    b.apply_snapshot([["10.50", "1e-3"], ["10.00", "2"]], [["11", "0.010"]], 1)
    assert b.checksum_text(1, "bids_asks", "|") == "10.50|1e-3|11|0.010"
    assert b.checksum_text(5, "asks_bids", ", ") == "11, 0.010, 10.50, 1e-3, 10.00, 2"
    assert b.checksum_text(5, "asks_bids", "", "kraken") == "11" "10" "1050" "1e-3" "1000" "2"
    assert b.checksum(5, "bids_asks", "|") == zlib.crc32(b"10.50|1e-3|10.00|2|11|0.010")
    assert b.checksum(5, "bids_asks", "|", signed=True) == _signed(zlib.crc32(b"10.50|1e-3|10.00|2|11|0.010"))
    assert b.checksum(0) == 0


def test_long_checksum_text_streams_through_buffer():
    b = OrderBook()
    b.apply_snapshot([[f"{i}.{'1' * 60}", "1"] for i in range(1, 300)], [], 1)
    pre = b.checksum_text(300, "bids_asks", "::")
    assert len(pre) > 20_000
    assert b.checksum(300, "bids_asks", "::") == zlib.crc32(pre.encode())


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=3000), st.integers(0, 2 ** 32 - 1))
def test_crc32_matches_zlib(data, start):
    assert crc32(data) == zlib.crc32(data)
    assert crc32(data, start) == zlib.crc32(data, start)


def _scheme_text(ref, scheme: str) -> str:
    """The text each scheme runs its CRC over, built from the reference model's exact texts."""
    bids, asks = ref.texts(True), ref.texts(False)
    if scheme == "okx":
        return ref.okx_string()
    if scheme == "kraken":
        return ref.kraken_string()
    if scheme == "neg":        # interleaved, "|" separator, ask sizes negated
        out = []
        for i in range(max(len(bids[:25]), len(asks[:25]))):
            if i < len(bids):
                out += list(bids[i])
            if i < len(asks):
                out += [asks[i][0], "-" + asks[i][1]]
        return "|".join(out)
    return ",".join(t for p in bids[:40] + asks[:40] for t in p)     # "deep": beyond the kept 32 levels


def _scheme_crc(book, scheme: str) -> int:
    if scheme == "okx":
        return book.checksum_okx() & 0xFFFFFFFF
    if scheme == "kraken":
        return book.checksum_kraken()
    if scheme == "neg":
        return book.checksum(25, "interleaved", "|", negate_ask_size=True)
    return book.checksum(40, "bids_asks", ",")


# Prices on a small grid so that updates keep hitting, moving and deleting the best levels; sizes
# and prices in several textual forms (the same value as "5" and "5.00", exponents that are kept
# verbatim, long texts that do not fit the kept-text slots, floats without venue text).
_price = st.integers(0, 40).map(lambda k: f"{100 + k}.{k % 10}" if k % 7 else f"{100 + k}.{k % 10}00")
_size = st.one_of(st.sampled_from(["0", "0", "1", "1.0", "2.50", "1e-3", "0.000000000000000000123456789",
                                   "12345678.123456789012"]),
                  st.integers(1, 10 ** 12).map(lambda v: f"{v / 10 ** 6:.6f}"),
                  st.floats(0.001, 1000.0).map(lambda v: v))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.tuples(_price, _size), max_size=8),
                          st.lists(st.tuples(_price, _size), max_size=8),
                          st.sampled_from(["okx", "okx", "okx", "kraken", "neg", "deep"])),
                min_size=1, max_size=30))
def test_checksum_after_every_message_matches_reference(steps):
    """Checksums keep the previous checksum's texts for the best levels: every change must show.

    Bids on a grid below 140.x and asks above it (shifted by 41) so the book stays uncrossed; each
    step applies a diff then takes one scheme's checksum, mostly the same scheme in a row.
    """
    from tests.book_reference import RefBook

    book, ref = OrderBook(), RefBook()
    snap_b = [[f"{100 + k}.{k % 10}", "1.5"] for k in range(41)]
    snap_a = [[f"{141 + k}.{k % 10}", "2.25"] for k in range(41)]
    book.apply_snapshot(snap_b, snap_a, 1)
    ref.apply_snapshot(snap_b, snap_a, 1)
    for uid, (bids, asks, scheme) in enumerate(steps, 2):
        b = [[p, s] for p, s in bids]
        a = [[f"{float(p) + 41:.{len(p.split('.')[1])}f}", s] for p, s in asks]
        book.apply_diffs(b, a, uid)
        ref.apply_diffs(b, a, uid)
        want = _scheme_text(ref, scheme)
        assert _scheme_crc(book, scheme) == zlib.crc32(want.encode()), (scheme, want)
        assert book.checksum_okx() & 0xFFFFFFFF == zlib.crc32(ref.okx_string().encode())


def test_checksum_sees_same_value_with_new_text():
    b = OrderBook()
    b.apply_snapshot([["100.5", "1"]], [["101", "2"]], 1)
    assert b.checksum_text() == "100.5:1:101:2"
    b.checksum_okx()
    b.apply_diffs([["100.50", "1.0"]], [], 2)          # same doubles, new venue text
    assert b.checksum_okx() == _signed(zlib.crc32(b"100.50:1.0:101:2"))
    b.apply_diffs([["100.50", "1.0"]], [["101", "2.0"]], 3)
    assert b.checksum_okx() == _signed(zlib.crc32(b"100.50:1.0:101:2.0"))
