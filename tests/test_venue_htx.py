"""HTX market data: translation of the recorded gzip session and of the docs' examples; the recorded
``depth.step0`` session and an ``mbp`` incremental session derived from it replayed through the
real tracker, clean and with injected faults."""
from __future__ import annotations

import gzip
import json
from decimal import Decimal

import pytest
from conftest import fixture_files
from refbook import book_levels
from venue_fuzz import assert_fuzz_total

from hbconnect import OrderBook
from hbconnect.exchanges import market_data_venue
from hbconnect.exchanges.htx import HtxMarketData
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    LostFrame,
    ParseError,
    Reply,
    Resync,
    SyncRule,
    Trade,
)
from hbconnect.market.replay import (
    OPEN,
    RECV,
    Fault,
    Record,
    Replayer,
    Session,
    book_frame_indices,
    inject,
    load_recorded_symbols,
    load_session,
)

V = market_data_venue("htx")
MBP = HtxMarketData(mbp_levels=150)
for _venue in (V, MBP):  # the pairs the docs' examples below name, asked for as a user would
    _venue.subscribe_messages(["BTC-USDT", "TRIO-ETH", "FOO-USDT"])


def gz(obj_or_text) -> bytes:
    text = obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text)
    return gzip.compress(text.encode())


def exact(raw: bytes):
    """A frame decoded independently of the venue module, numbers kept as their text."""
    return json.loads(gzip.decompress(raw), parse_float=str, parse_int=str)


@pytest.fixture(scope="module")
def session():
    s = load_session(fixture_files("HUOBI"))
    load_recorded_symbols(V, s)  # the recording's /v1/common/symbols listing
    return s


# ---- translation ----------------------------------------------------------------------------------
def test_registry_rules_and_variants():
    assert isinstance(V, HtxMarketData) and type(market_data_venue("huobi")) is HtxMarketData
    assert V.sync_rule is SyncRule.SNAPSHOTS and V.max_depth is None
    assert V.ws_endpoint(None).url == "wss://api.huobi.pro/ws" and V.snapshot_request("BTC-USDT") is None
    assert MBP.sync_rule is SyncRule.PREV_CHAIN and MBP.max_depth == 150
    assert MBP.ws_endpoint(None).url == "wss://api.huobi.pro/feed"  # docs: MBP incremental only there
    # docs: one req per connection every 100 ms; depth.step0 sends no req
    assert MBP.ws_message_rate == 10.0 and getattr(V, "ws_message_rate", None) is None
    with pytest.raises(ValueError):
        HtxMarketData(mbp_levels=400)  # REQ refresh exists for 5/20/150 levels only


def test_symbols_and_subscriptions(session):
    assert V.to_venue_symbol("BTC-USDT") == "btcusdt" and V.from_venue_symbol("btcusdt") == "BTC-USDT"
    fresh = HtxMarketData()
    with pytest.raises(ParseError):
        fresh.from_venue_symbol("yfihusd")  # not listed yet, nor asked for: never split on a suffix
    (listing,) = [r for r in session.rest if r.url.endswith("/v1/common/symbols")]
    listed = json.loads(listing.data)["data"]
    assert fresh.load_symbols(listing.data) == len(listed)
    assert fresh.from_venue_symbol("yfihusd") == "YFI-HUSD" and fresh.from_venue_symbol("fil3susdt") == "FIL3S-USDT"
    assert all(fresh.from_venue_symbol(d["symbol"]) == f'{d["base-currency"]}-{d["quote-currency"]}'.upper()
               for d in listed)
    for symbol in ("foo", "omgbusd"):
        with pytest.raises(ParseError):
            fresh.from_venue_symbol(symbol)
    for body in ('{"status":"error","err-code":"x"}', '{"status":"ok","data":[]}', '{"status":"ok","data":[{}]}'):
        with pytest.raises(ParseError):
            fresh.load_symbols(body)
    sent = [m for m in (json.loads(r.data) for r in session.records if r.kind == "send") if "sub" in m]
    assert len(sent) == 20
    recorded = sorted(m["sub"] for m in sent)
    pairs = [V.from_venue_symbol(m["sub"].split(".")[1]) for m in sent if m["sub"].endswith("depth.step0")]
    mine = [json.loads(m) for m in V.subscribe_messages(pairs)]
    assert sorted(m["sub"] for m in mine) == recorded
    m = [json.loads(x) for x in MBP.subscribe_messages(["BTC-USDT"])]
    assert [x.get("sub") or x.get("req") for x in m] == [
        "market.btcusdt.mbp.150", "market.btcusdt.trade.detail", "market.btcusdt.mbp.150"]
    assert "req" in m[2]
    assert [json.loads(x) for x in MBP.resync_messages("BTC-USDT")] == [m[2]]
    assert V.resync_messages("BTC-USDT") == []
    assert {json.loads(x)["unsub"] for x in V.unsubscribe_messages(["BTC-USDT"])} == {
        "market.btcusdt.depth.step0", "market.btcusdt.trade.detail"}


def test_recorded_gzip_frames_translate(session):
    kinds: dict = {}
    for rec in session.frames:
        assert isinstance(rec.data, bytes) and rec.data[:2] == b"\x1f\x8b"
        msg = exact(rec.data)
        evs = V.parse_message(rec.data)
        for ev in evs:
            kinds[type(ev)] = kinds.get(type(ev), 0) + 1
        if "ping" in msg:
            assert evs == [Reply(f'{{"pong":{msg["ping"]}}}')]
        elif msg.get("ch", "").endswith("depth.step0"):
            (s,) = evs
            tick = msg["tick"]  # numbers as the text HTX sent (exponent form included)
            assert s.bids == tick["bids"] and s.asks == tick["asks"]
            assert s.update_id == int(msg["tick"]["version"])
    assert kinds == {BookSnapshot: 292, Trade: 73, Reply: 6}


def test_book_levels_keep_the_exact_number_text():
    """Issue 9: 1.1502E-4 must come back as 1.1502E-4, not 0.00011502 (nor a double)."""
    (s,) = V.parse_message(gz('{"ch":"market.trioeth.depth.step0","ts":1,"tick":{"bids":[[1.1502E-4,100.0],'
                              '[1.15E-4,7]],"asks":[[1.2000E-4,0.50]],"version":5,"ts":1}}'))
    assert s.bids == [["1.1502E-4", "100.0"], ["1.15E-4", "7"]] and s.asks == [["1.2000E-4", "0.50"]]
    book = OrderBook()
    book.apply_snapshot(s.bids, s.asks, s.update_id)
    assert book.bids_text() == [("1.1502E-4", "100.0"), ("1.15E-4", "7")]


def test_trades_keep_plain_decimal_text():
    raw = gz('{"ch":"market.trioeth.trade.detail","ts":1618678027942,"tick":{"id":100182534526,'
             '"ts":1618678027940,"data":[{"id":100182534526255757567432481,"ts":1618678027940,'
             '"tradeId":100045088885,"amount":20995.88,"price":9.2E-7,"direction":"buy"}]}}')
    (t,) = V.parse_message(raw)
    assert t == Trade("TRIO-ETH", "100045088885", "0.00000092", "20995.88", "buy", 1618678027.94)


def test_docs_mbp_examples():
    # HTX docs, market.$symbol.mbp.$levels: incremental update
    (d,) = MBP.parse_message(gz('{"ch":"market.btcusdt.mbp.5","ts":1573199608679,"tick":{"seqNum":100020146795,'
                                '"prevSeqNum":100020146794,"asks":[[645.14,26.75597395914065]]}}'))
    assert d == BookDiff("BTC-USDT", [], [["645.14", "26.75597395914065"]], 100020146795, 100020146795,
                         100020146794, 1573199608.679)
    # the REQ refresh answer (huobi SDK MbpReq: rep / data.seqNum / bids / asks)
    (s,) = MBP.parse_message(gz('{"id":"id2","rep":"market.btcusdt.mbp.150","status":"ok","ts":1573199608680,'
                                '"data":{"seqNum":100020142010,"bids":[[618.37,71.594]],"asks":[[650.59,14.9]]}}'))
    assert s == BookSnapshot("BTC-USDT", [["618.37", "71.594"]], [["650.59", "14.9"]], 100020142010, 1573199608.68)
    (s,) = MBP.parse_message(gz('{"ch":"market.btcusdt.mbp.refresh.20","ts":1573199608679,"tick":{'
                                '"seqNum":100020142010,"bids":[[618.37,71.594]],"asks":[[650.59,14.909733438479636]]}}'))
    assert type(s) is BookSnapshot and s.update_id == 100020142010
    assert MBP.parse_message(gz('{"id":"market.btcusdt.mbp.150","status":"ok","subbed":"market.btcusdt.mbp.150",'
                                '"ts":1489474081631}')) == []
    err = gz('{"status":"error","ts":1,"id":"market.foousdt.mbp.150","err-code":"bad-request",'
             '"err-msg":"invalid symbol"}')
    assert MBP.parse_message(err) == [Resync("FOO-USDT", "invalid symbol")]
    assert MBP.parse_message('{"ping": 1492420473027}') == [Reply('{"pong":1492420473027}')]  # text too
    # docs: the 150/400-level feed sends "a blank object" for an unchanged side (or both)
    (d,) = MBP.parse_message(gz('{"ch":"market.btcusdt.mbp.150","ts":1573199608679,"tick":{"seqNum":12,'
                                '"prevSeqNum":11,"bids":{},"asks":[[645.14,26.75]]}}'))
    assert (d.bids, d.asks, d.first_id, d.last_id, d.prev_id) == ([], [["645.14", "26.75"]], 12, 12, 11)
    (d,) = MBP.parse_message(gz('{"ch":"market.btcusdt.mbp.150","ts":1,"tick":{"seqNum":13,"prevSeqNum":12,'
                                '"bids":{},"asks":{}}}'))
    assert (d.bids, d.asks) == ([], [])


@pytest.mark.parametrize("raw", [
    b"", b"\x1f\x8b\x08\x00garbage", gz("")[:-6], gz("not json"), gz("[1,2]"), b"\x00\xffnot json",
    gz('{"ch":"market.btcusdt.depth.step0","ts":1,"tick":{"bids":[[1.0]],"asks":[],"version":1}}'),
    gz('{"ch":"market.btcusdt.depth.step0","ts":1,"tick":{"bids":[],"asks":[],"version":"x"}}'),
    gz('{"ch":"market.btcusdt.depth.step0","ts":1,"tick":[]}'),
    gz('{"ch":"market.btcusdt.trade.detail","ts":1,"tick":{"data":[{"price":1.0,"amount":1.0,"direction":"up"}]}}'),
    gz('{"ping":"abc"}'), gz('{"what":1}'),
    gz('{"ch":"market.btcusdt.mbp.150","ts":1,"tick":{"seqNum":2,"prevSeqNum":1,"bids":{"a":1}}}'),
    gz('{"ch":"market.btcusdt.trade.detail","ts":1,"tick":{"data":[{"price":Infinity,"amount":1.0,'
       '"direction":"buy"}]}}'),
])
def test_malformed_frames_raise_parse_error(raw):
    with pytest.raises(ParseError):
        V.parse_message(raw)


# ---- replay of the recorded depth.step0 session ------------------------------------------------------
def last_snapshots(session) -> dict:
    """Reference: the venue's book is its latest full push (HTX: the larger ``version`` wins)."""
    last: dict = {}
    for rec in session.frames:
        msg = exact(rec.data)
        ch = msg.get("ch", "")
        if ch.endswith("depth.step0"):
            pair = V.from_venue_symbol(ch.split(".")[1])
            v = int(msg["tick"]["version"])
            if pair not in last or v > last[pair][0]:
                last[pair] = (v, msg["tick"])
    return last


def sorted_levels(rows, bids: bool):
    """The venue's levels (exact text) best first, as decimal values."""
    return sorted(((Decimal(p), Decimal(s)) for p, s in rows if Decimal(s) != 0), reverse=bids)


def values(levels):
    return [(Decimal(p), Decimal(s)) for p, s in levels]


def run(session, faults=()):
    s = inject(session, faults) if faults else session
    r = Replayer(HtxMarketData(), s)
    return r.run(), r


def assert_books_equal(res, ref):
    for pair, (v, tick) in ref.items():
        assert res.tracker.state(pair).value == "live", pair
        bids, asks = book_levels(res.tracker.book(pair))
        # HTX's numbers are doubles in the book: their shortest text has the venue's exact value
        assert values(bids) == sorted_levels(tick["bids"], True), pair
        assert values(asks) == sorted_levels(tick["asks"], False), pair
        assert res.pairs[pair]["last_update_id"] == v


@pytest.fixture(scope="module")
def reference(session):
    return last_snapshots(session)


@pytest.fixture(scope="module")
def clean(session):
    return run(session)


def test_clean_replay_books_and_pongs(session, clean, reference):
    res, replayer = clean
    assert res.frames == 362 and res.bad_frames == 0
    assert sum(r["snapshots"] for r in res.pairs.values()) == 292
    for pair, r in res.pairs.items():
        assert (r["gaps"], r["resyncs"], r["bad_frames"], r["stale_dropped"]) == (0, 0, 0, 0), pair
    assert_books_equal(res, reference)
    pings = [exact(rec.data)["ping"] for rec in session.frames if "ping" in exact(rec.data)]
    pongs = [json.loads(t)["pong"] for _, t in replayer.sent if "pong" in t]
    assert len(pings) == 6 and pongs == [int(p) for p in pings]


def _mid(session, pair="FIL3S-USDT"):
    idx = book_frame_indices(session, V, pair, kind=BookSnapshot)
    return idx, idx[len(idx) // 2]


@pytest.mark.parametrize("kind", ["drop", "duplicate", "truncate", "garbage"])
def test_lost_duplicated_or_bad_push_is_harmless(session, reference, kind):
    _, i = _mid(session)
    res, _ = run(session, [Fault(kind, i)])
    assert res.bad_frames == (1 if kind in ("truncate", "garbage") else 0)
    assert res.pairs["FIL3S-USDT"]["resyncs"] == 0
    assert_books_equal(res, reference)  # every push is the whole book: the next one repairs it


def test_swapped_pushes_drop_the_older_one(session, reference, clean):
    idx, i = _mid(session)
    res, _ = run(session, [Fault("swap", i, other=idx[idx.index(i) + 1])])
    assert res.pairs["FIL3S-USDT"]["stale_dropped"] == 1
    assert_books_equal(res, reference)


def test_corrupted_push_is_rejected_counted_and_repaired(session, reference):
    _, i = _mid(session)

    def mutate(raw):
        msg = json.loads(gzip.decompress(raw))
        msg["tick"]["bids"][0][1] = -3.0  # a well-formed but impossible size
        return gz(msg)

    res, replayer = run(session, [Fault("corrupt", i, mutate=mutate)])
    assert res.pairs["FIL3S-USDT"]["bad_frames"] == 1
    # the tracker resubscribes the pair (a bad snapshot is a restart, not counted as a resync)
    assert any("market.fil3susdt.depth.step0" in t and "unsub" in t for _, t in replayer.sent)
    assert_books_equal(res, reference)


def test_decompression_bomb_is_a_bad_frame_and_the_connection_pairs_resync(session, reference):
    """A gzip frame that inflates past codecs.INFLATE_LIMIT is refused (bounded memory), counted
    as bad, and every pair of its connection resyncs: its content, whoever it was for, is lost."""
    from test_codec_limits import bomb

    with pytest.raises(LostFrame, match="inflates past"):
        V.parse_message(bomb(64))
    _, i = _mid(session)
    clean_resyncs = run(session)[0].pairs
    res, replayer = run(session, [Fault("corrupt", i, mutate=lambda raw: bomb(64))])
    assert res.bad_frames == 1
    conn = next(c for c in res.tracker.connections if "FIL3S-USDT" in c.pairs)
    for pair in conn.pairs:
        assert res.pairs[pair]["resyncs"] == clean_resyncs[pair]["resyncs"] + 1, pair
    assert any("market.fil3susdt.depth.step0" in t and "unsub" in t for _, t in replayer.sent)
    assert_books_equal(res, reference)


def test_crafted_recording_line_is_a_bad_frame_not_a_dead_replay(tmp_path, reference):
    """A recording line shaped like a bytes literal but nested 100k deep (``b''[0][0]...``) made
    literal_eval raise RecursionError and killed the replay; it is one bad frame now."""
    files = []
    for f in fixture_files("HUOBI"):
        copy = tmp_path / f.name
        text = f.read_text()
        if ".ws." in f.name:
            last_ts = text.rstrip("\n").rsplit("\n", 1)[1].split(":", 1)[0]
            text = text.rstrip("\n") + "\n" + f"{last_ts}: b''" + "[0]" * 100_000 + "\n"
        copy.write_text(text)
        files.append(copy)
    session = load_session(files)
    res, _ = run(session)
    assert res.bad_frames == 1
    assert_books_equal(res, reference)


def test_socket_closed_mid_stream(session, reference):
    _, i = _mid(session)
    res, _ = run(session, [Fault("close", i)])
    assert all(r["resyncs"] == 1 for r in res.pairs.values())
    assert_books_equal(res, reference)


# ---- the incremental mbp variant, on a session derived from the recorded pushes ------------------------
def raw(levels) -> str:
    """Levels as a JSON array of bare numbers with the venue's digits (as HTX writes them)."""
    return "[" + ",".join(f"[{p},{s}]" for p, s in levels) + "]"


def mbp_session(session):
    """An ``mbp.150`` stream with the recording's content: each push becomes the increment from the
    previous one (seqNum = version, prevSeqNum = previous version), as HTX's 100 ms MBP feed is
    described; also returns the state after each increment for answering REQ refreshes."""
    recs = [Record(OPEN, session.records[0].ts, "mbp#1", "wss://api.huobi.pro/feed")]
    states: dict = {}
    prev: dict = {}
    for rec in session.frames:
        msg = exact(rec.data)
        if "ping" in msg:
            recs.append(Record(RECV, rec.ts, "mbp#1", "", rec.data))
            continue
        ch = msg.get("ch", "")
        if not ch.endswith("depth.step0"):
            continue
        sym, tick = ch.split(".")[1], msg["tick"]
        v = int(tick["version"])
        book = {"bids": {p: s for p, s in tick["bids"]}, "asks": {p: s for p, s in tick["asks"]}}
        states.setdefault(sym, []).append((rec.ts, v, tick))
        if sym in prev:
            pv, pbook = prev[sym]
            if v <= pv:
                continue
            diff = {side: [[p, s] for p, s in book[side].items() if pbook[side].get(p) != s]
                    + [[p, "0"] for p in pbook[side] if p not in book[side]] for side in ("bids", "asks")}
            text = ('{"ch":"market.%s.mbp.150","ts":%s,"tick":{"seqNum":%d,"prevSeqNum":%d,'
                    '"bids":%s,"asks":%s}}' % (sym, msg["ts"], v, pv, raw(diff["bids"]), raw(diff["asks"])))
            recs.append(Record(RECV, rec.ts, "mbp#1", "", gz(text)))
        prev[sym] = (v, book)
    for n, r in enumerate(recs):
        r.seq = n
    listing = [r for r in session.rest if r.url.endswith("/v1/common/symbols")]  # the venue's instruments
    return Session(recs, listing, {}), states


def mbp_run(derived, faults=()):
    base, states = derived
    s = inject(base, faults) if faults else base

    def on_send(conn, text, now):
        msg = json.loads(text)
        if "req" not in msg:
            return None
        sym = msg["req"].split(".")[1]
        # the venue's book now: the latest state at or before `now` (the first one before the stream)
        ts, v, tick = next(((t, v, k) for t, v, k in reversed(states[sym]) if t <= now), states[sym][0])
        return [gz('{"id":"%s","rep":"%s","status":"ok","ts":%d,"data":{"seqNum":%d,"bids":%s,"asks":%s}}'
                   % (msg["id"], msg["req"], int(ts * 1000), v, raw(tick["bids"]), raw(tick["asks"])))]

    r = Replayer(HtxMarketData(mbp_levels=150), s, on_send=on_send)
    return r.run(), r


@pytest.fixture(scope="module")
def derived(session):
    return mbp_session(session)


def test_mbp_clean_replay_equals_the_recorded_books(derived, reference):
    res, _ = mbp_run(derived)
    assert res.bad_frames == 0
    for pair, r in res.pairs.items():
        assert (r["gaps"], r["resyncs"]) == (0, 0), pair
        assert r["snapshots"] == 1 and r["diffs_applied"] > 0
    assert_books_equal(res, reference)


def _mbp_mid(derived, pair="FIL3S-USDT"):
    base, _ = derived
    idx = book_frame_indices(base, MBP, pair)
    return idx, idx[len(idx) // 2]


@pytest.mark.parametrize("kind", ["drop", "truncate", "garbage"])
def test_mbp_lost_increment_is_a_gap_repaired_by_refresh(derived, reference, kind):
    _, i = _mbp_mid(derived)
    res, replayer = mbp_run(derived, [Fault(kind, i)])
    r = res.pairs["FIL3S-USDT"]
    assert (r["gaps"], r["resyncs"], r["snapshots"]) == (1, 1, 2)
    assert sum(1 for _, t in replayer.sent if '"req":"market.fil3susdt.mbp.150"' in t) == 2
    assert res.bad_frames == (0 if kind == "drop" else 1)
    assert_books_equal(res, reference)


def test_mbp_duplicate_is_stale_and_swap_is_repaired(derived, reference):
    idx, i = _mbp_mid(derived)
    res, _ = mbp_run(derived, [Fault("duplicate", i)])
    r = res.pairs["FIL3S-USDT"]
    assert (r["stale_dropped"], r["gaps"], r["resyncs"]) == (1, 0, 0)
    assert_books_equal(res, reference)
    res, _ = mbp_run(derived, [Fault("swap", i, other=idx[idx.index(i) + 1])])
    r = res.pairs["FIL3S-USDT"]
    assert r["gaps"] >= 1 and r["resyncs"] >= 1
    assert_books_equal(res, reference)


def test_mbp_corrupted_increment_is_rejected_and_repaired(derived, reference):
    _, i = _mbp_mid(derived)

    def mutate(raw):
        msg = json.loads(gzip.decompress(raw))
        side = "bids" if msg["tick"]["bids"] else "asks"
        msg["tick"][side][0][0] = -1.0
        return gz(msg)

    res, _ = mbp_run(derived, [Fault("corrupt", i, mutate=mutate)])
    r = res.pairs["FIL3S-USDT"]
    assert (r["bad_frames"], r["resyncs"]) == (1, 1)
    assert_books_equal(res, reference)


def test_fuzzed_frames_never_crash(session, derived):
    assert_fuzz_total(HtxMarketData().parse_message, [r.data for r in session.frames])
    assert_fuzz_total(HtxMarketData(mbp_levels=150).parse_message, [r.data for r in derived[0].frames][:300] + [
        gz({"id": "req:market.btcusdt.mbp.150", "rep": "market.btcusdt.mbp.150", "status": "ok",
            "data": {"seqNum": 100020142010, "bids": [[618.37, 71.594]], "asks": [[650.59, 14.9]]}}),
        gz({"status": "error", "err-code": "bad-request", "err-msg": "invalid topic",
            "id": "req:market.btcusdt.mbp.150"}), gz({"ping": 1492420473027})], 80)
