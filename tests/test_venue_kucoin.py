"""KuCoin spot / futures market data: translation (recorded frames, docs' examples) and the
recorded spot session replayed through the real tracker, clean and with injected faults."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from conftest import fixture_files
from refbook import RefBook, book_levels
from recorded_reference import RecordedReference, cut, set_levels
from venue_fuzz import assert_fuzz_total, fuzz

from hbconnect.exchanges import market_data_venue
from hbconnect.exchanges.kucoin import KucoinPerpetualMarketData, KucoinSpotMarketData
from hbconnect.market.messages import BookDiff, Heartbeat, Ignored, ParseError, SyncRule, Trade
from hbconnect.market.replay import Fault, Replayer, book_frame_indices, inject, load_session

SPOT = market_data_venue("kucoin")
PERP = market_data_venue("kucoin_perpetual")

BULLET = (b'{"code":"200000","data":{"token":"2neAiuYvAU61ZDXANAGAsiL4-iAExhsBXZxftpOeh_55i3Ysy2q2L'
          b'EsEWU64mdzUOPusi34M_wGoSf7iNyEWJ1UQy47YbpY4zVdzilNP-Bj3iXzrjjGlWtiYB9J6i9GjsxUuhPw3Blrz'
          b'azF6ghq4Lzf7scStOz3KkxjwpsOBCH4=.WNQmhZQeUKIkh97KYgU0Lg==","instanceServers":[{"endpoint":'
          b'"wss://ws-api-spot.kucoin.com/","encrypt":true,"protocol":"websocket","pingInterval":18000,'
          b'"pingTimeout":10000}]}}')


@pytest.fixture(scope="module")
def session():
    return load_session(fixture_files("KUCOIN"))


def named_venue(session, snapshot_depth=None) -> KucoinSpotMarketData:
    """A spot venue that knows KuCoin's display names (the recording's GET /api/v1/symbols);
    by default the full-book variant, which is what the recording used."""
    v = KucoinSpotMarketData(snapshot_depth)
    (symbols,) = [r for r in session.rest if r.url.endswith("/api/v1/symbols")]
    assert v.load_symbols(symbols.data) >= 10
    return v


# ---- translation ----------------------------------------------------------------------------------
def test_registry_rules_and_connect():
    assert isinstance(SPOT, KucoinSpotMarketData) and isinstance(PERP, KucoinPerpetualMarketData)
    fresh = market_data_venue("kucoin_futures")
    assert type(fresh) is type(PERP) and fresh.name == PERP.name and fresh is not PERP
    assert SPOT.sync_rule is SyncRule.SEQ_RANGE and PERP.sync_rule is SyncRule.SEQ_RANGE
    req = SPOT.connect_request()
    assert (req.method, req.url) == ("POST", "https://api.kucoin.com/api/v1/bullet-public")
    assert PERP.connect_request().url == "https://api-futures.kucoin.com/api/v1/bullet-public"
    ep = SPOT.ws_endpoint(BULLET)
    assert ep.url.startswith("wss://ws-api-spot.kucoin.com/?token=2neAiuYvAU61ZDXANAGAsiL4-") and "&connectId=" in ep.url
    assert ep.ping_interval == 18.0
    ping = json.loads(ep.ping_message)
    assert ping["type"] == "ping" and ep.url.endswith("connectId=" + ping["id"])
    for body in (None, b"{", b'{"code":"400100","msg":"x"}', b'{"code":"200000","data":{"token":"t","instanceServers":[]}}',
                 BULLET.replace(b'"pingInterval":18000', b'"pingInterval":1' + b"0" * 400),  # was OverflowError
                 BULLET.replace(b'"pingInterval":18000', b'"pingInterval":0')):
        with pytest.raises(ParseError):
            SPOT.ws_endpoint(body)


def test_snapshot_requests(session):
    recorded = {r.url for r in session.rest if "/orderbook/" in r.url}
    assert len(recorded) == 9
    v = named_venue(session)
    for url in recorded:
        req = v.snapshot_request(v.from_venue_symbol(url.split("symbol=")[1]))
        assert f"{req.url}?symbol={req.params['symbol']}" == url  # the full-book endpoint
    full = KucoinSpotMarketData(snapshot_depth=None).snapshot_request("BTC-USDT")
    assert full.auth and full.weight == 3 and KucoinSpotMarketData(snapshot_depth=None).max_depth is None
    # the default needs no API key: the public partial book, kept to 100 levels
    req = SPOT.snapshot_request("BTC-USDT")
    assert (req.url, req.params) == ("https://api.kucoin.com/api/v1/market/orderbook/level2_100",
                                     {"symbol": "BTC-USDT"})
    assert SPOT.max_depth == 100 and not req.auth and SPOT.snapshot_depth == 100
    twenty = KucoinSpotMarketData(snapshot_depth=20)
    assert twenty.snapshot_request("BTC-USDT").url.endswith("/level2_20") and twenty.max_depth == 20
    with pytest.raises(ValueError):
        KucoinSpotMarketData(snapshot_depth=50)
    assert not PERP.snapshot_request("BTC-USDT").auth  # the futures full snapshot is public
    from hbconnect.exchanges.kucoin import MARKET_DATA

    assert MARKET_DATA["kucoin_full_book"].snapshot_request("BTC-USDT").auth and type(MARKET_DATA["kucoin"]) is type(SPOT)
    assert SPOT.ws_message_rate == PERP.ws_message_rate == 10.0  # 100 messages per 10 s
    req = PERP.snapshot_request("BTC-USDT")
    assert (req.url, req.params) == ("https://api-futures.kucoin.com/api/v1/level2/snapshot", {"symbol": "XBTUSDTM"})


def test_symbols_and_subscriptions(session):
    v = named_venue(session)
    assert v.to_venue_symbol("BSV-USDT") == "BCHSV-USDT" and v.from_venue_symbol("BCHSV-USDT") == "BSV-USDT"
    assert v.to_venue_symbol("BTC-USDT") == "BTC-USDT"
    sent = [json.loads(r.data) for r in session.records if r.kind == "send"]
    (book_sub,) = [m for m in sent if m["topic"].startswith("/market/level2:")]
    pairs = [v.from_venue_symbol(s) for s in book_sub["topic"].split(":")[1].split(",")]
    book, match = (json.loads(m) for m in v.subscribe_messages(pairs))
    assert book["topic"] == book_sub["topic"] and match["topic"].startswith("/market/match:")
    assert book["type"] == "subscribe" and book["privateChannel"] is False and book["response"] is True
    many = [json.loads(m) for m in SPOT.subscribe_messages([f"C{i}-USDT" for i in range(150)])]
    assert [len(m["topic"].split(":")[1].split(",")) for m in many] == [100, 50, 100, 50]
    assert PERP.to_venue_symbol("BTC-USDT") == "XBTUSDTM" and PERP.from_venue_symbol("XBTUSDTM") == "BTC-USDT"
    fresh = market_data_venue("kucoin_perpetual")
    with pytest.raises(ParseError):
        fresh.from_venue_symbol("ETHUSDM")  # neither listed nor asked for: never split on a suffix
    # GET /api/v1/contracts/active (KuCoin futures "Get Symbols List"), cut to the fields read; the
    # delivery future (type FFICSX) is not a perpetual and is left out
    assert fresh.load_symbols(
        '{"code":"200000","data":[{"symbol":"ETHUSDM","rootSymbol":"ETH","type":"FFWCSX","baseCurrency":"ETH",'
        '"quoteCurrency":"USD"},{"symbol":"XBTUSDTM","rootSymbol":"USDT","type":"FFWCSX","baseCurrency":"XBT",'
        '"quoteCurrency":"USDT"},{"symbol":"XBTMZ25","rootSymbol":"XBT","type":"FFICSX","baseCurrency":"XBT",'
        '"quoteCurrency":"USD"}]}') == 2
    assert fresh.from_venue_symbol("ETHUSDM") == "ETH-USD" and fresh.from_venue_symbol("XBTUSDTM") == "BTC-USDT"
    assert fresh.to_venue_symbol("BTC-USDT") == "XBTUSDTM"
    for symbol in ("XBTMZ25", "OMGBUSDM"):
        with pytest.raises(ParseError):
            fresh.from_venue_symbol(symbol)
    for body in ('{"code":"400100","msg":"x"}', '{"code":"200000","data":[]}', '{"code":"200000","data":[{}]}'):
        with pytest.raises(ParseError):
            fresh.load_symbols(body)
    assert json.loads(PERP.subscribe_messages(["BTC-USDT"])[0])["topic"] == "/contractMarket/level2:XBTUSDTM"


def test_recorded_frames_translate(session):
    kinds: dict = {}
    zero_only = 0
    for rec in session.frames:
        for ev in SPOT.parse_message(rec.data):
            kinds[type(ev)] = kinds.get(type(ev), 0) + 1
            if type(ev) is BookDiff:
                assert ev.first_id == ev.last_id
                assert all(lv[0] != "0" and len(lv) == 2 for lv in ev.bids + ev.asks)
                zero_only += not (ev.bids or ev.asks)
    assert kinds == {BookDiff: 3853, Trade: 18, Ignored: 836}  # 836 ticker/candles pushes
    assert zero_only > 0  # sequence-only messages (price "0") still advance the sequence


def test_changes_are_ordered_by_sequence_and_price_zero_dropped():
    raw = ('{"type":"message","topic":"/market/level2:BTC-USDT","subject":"trade.l2update","data":{'
           '"changes":{"asks":[["18906","0.00331","14103845"],["18907.3","0.58751503","14103844"]],'
           '"bids":[["0","0","14103846"],["18891.9","0.15688","14103847"]]},'
           '"sequenceEnd":14103847,"sequenceStart":14103844,"symbol":"BTC-USDT","time":1663747970273}}')
    (d,) = SPOT.parse_message(raw)  # the docs' level2 example, with the asks out of order
    assert d.asks == [["18907.3", "0.58751503"], ["18906", "0.00331"]]
    assert d.bids == [["18891.9", "0.15688"]]
    assert (d.first_id, d.last_id, d.timestamp) == (14103844, 14103847, 1663747970.273)
    (t,) = SPOT.parse_message(
        '{"type":"message","topic":"/market/match:BTC-USDT","subject":"trade.l3match","data":{'
        '"makerOrderId":"6287c3015c27f000017d0c2f","price":"31078.8","sequence":"1645470808","side":"buy",'
        '"size":"0.005","symbol":"BTC-USDT","takerOrderId":"6287c30a09bd0f0001b0df83","time":"1652999690587456210",'
        '"tradeId":"6287c30a12f1a80001d2f36a","type":"match"}}')
    assert (t.pair, t.price, t.amount, t.side, t.trade_id) == ("BTC-USDT", "31078.8", "0.005", "buy",
                                                               "6287c30a12f1a80001d2f36a")
    assert t.timestamp == pytest.approx(1652999690.587456)
    for frame in ('{"id":"hQvf8jkno","type":"welcome"}', '{"id":"1","type":"ack"}'):
        assert SPOT.parse_message(frame) == []
    (ev,) = SPOT.parse_message('{"type":"message","topic":"/market/ticker:BTC-USDT","data":{}}')
    assert isinstance(ev, Ignored) and "/market/ticker" in ev.what
    assert SPOT.parse_message('{"id":"1545910590801","type":"pong"}') == [Heartbeat()]


def test_futures_docs_examples():
    PERP.subscribe_messages(["BTC-USD"])  # the docs' XBTUSDM: a pair asked for
    (d,) = PERP.parse_message('{"subject":"level2","topic":"/contractMarket/level2:XBTUSDM","type":"message",'
                              '"data":{"sequence":18,"change":"5000.0,sell,83","timestamp":1551770400000}}')
    assert d == BookDiff("BTC-USD", [], [["5000.0", "83"]], 18, 18, None, 1551770400.0)
    (d,) = PERP.parse_message('{"subject":"level2","topic":"/contractMarket/level2:XBTUSDTM","type":"message",'
                              '"data":{"sequence":19,"change":"4999.5,buy,0","timestamp":1551770400001}}')
    assert d.bids == [["4999.5", "0"]] and d.asks == [] and d.pair == "BTC-USDT"
    s = PERP.parse_snapshot("BTC-USDT", b'{"code":"200000","data":{"symbol":"XBTUSDTM","sequence":100,'
                                        b'"asks":[[5000.0,1000],[6000.0,1983]],"bids":[[3200.0,800],[3100.0,100]],'
                                        b'"ts":1604643655040584408}}')
    assert s.update_id == 100 and s.asks == [["5000.0", "1000"], ["6000.0", "1983"]]
    assert s.timestamp == pytest.approx(1604643655.040584)
    (t,) = PERP.parse_message('{"topic":"/contractMarket/execution:XBTUSDTM","subject":"match","type":"message",'
                              '"data":{"symbol":"XBTUSDTM","sequence":36,"side":"sell","size":1,"price":"3200.0",'
                              '"takerOrderId":"a","makerOrderId":"b","tradeId":"5ce24c16b210233c36ee321d",'
                              '"ts":1545913818099033203}}')
    assert (t.side, t.amount, t.price) == ("sell", "1", "3200.0")


@pytest.mark.parametrize("raw", [
    "", "{", "null", "[]", '{"type":"mystery"}', '{"type":"message","data":{}}',
    '{"type":"message","topic":"/market/level2:BTC-USDT","data":{"sequenceStart":1,"sequenceEnd":2,'
    '"symbol":"BTC-USDT","changes":{"asks":[["1","2"]],"bids":[]}}}',  # change without sequence
    '{"type":"message","topic":"/market/level2:BTC-USDT","data":{"sequenceStart":"x","sequenceEnd":2,'
    '"symbol":"BTC-USDT","changes":{"asks":[],"bids":[]}}}',
    '{"type":"message","topic":"/market/level2:BTC-USDT","data":{"sequenceStart":1,"sequenceEnd":2,'
    '"symbol":"BTC-USDT","changes":{"asks":[["1","2","q"],["2","1","3"]],"bids":[]}}}',
    '{"type":"message","topic":"/market/match:BTC-USDT","data":{"symbol":"BTC-USDT","side":"up","price":"1","size":"1"}}',
])
def test_malformed_frames_raise_parse_error(raw):
    with pytest.raises(ParseError):
        SPOT.parse_message(raw)


def test_malformed_snapshot_bodies_raise_parse_error():
    for body in (b"", b"{", b'{"code":"400003","msg":"KC-API-KEY not exists"}', b'{"code":"200000","data":[]}',
                 b'{"code":"200000","data":{"sequence":"x","bids":[],"asks":[]}}',
                 b'{"code":"200000","data":{"sequence":"1","bids":[["1"]],"asks":[]}}',
                 b"[" * 100000 + b"]" * 100000,  # was RecursionError
                 b'{"code":"200000","data":{"sequence":"1","time":Infinity,"bids":[],"asks":[]}}'):
        with pytest.raises(ParseError):
            SPOT.parse_snapshot("BTC-USDT", body)
    for frame in ('{"type":"message","topic":"/contractMarket/level2:XBTUSDTM","data":{"sequence":1,"change":"1,up,2"}}',
                  '{"type":"message","topic":"/contractMarket/level2:XBTUSDTM","data":{"sequence":1,"change":"1,buy"}}',
                  '{"type":"message","topic":"/contractMarket/level2:XBTUSDT","data":{"sequence":1,"change":"1,buy,1"}}',
                  '{"type":"message","topic":"/contractMarket/level2:XBTUSDTM","data":{"sequence":1,'
                  '"change":"1,buy,1","timestamp":Infinity}}'):  # was OverflowError
        with pytest.raises(ParseError):
            PERP.parse_message(frame)


# ---- replay through the real tracker ----------------------------------------------------------------
class Reference(RecordedReference):
    """The true book per symbol, built from the raw frames by KuCoin's documented calibration
    (REST ``sequence``; skip sequenceEnd <= sequence; changes by their sequence; price 0 only
    advances; size 0 deletes); answers REST snapshot requests for later times."""

    def snapshot_of(self, url, body):
        if "/orderbook/level2" not in url:
            return None
        d = json.loads(body)["data"]
        return url.split("symbol=")[1], d["bids"], d["asks"], int(d["sequence"])

    def update_of(self, frame):
        msg = json.loads(frame)
        return (msg["data"]["symbol"], msg["data"]) if msg.get("subject") == "trade.l2update" else None

    def apply(self, b, d):
        if d["sequenceEnd"] <= b.update_id:
            return
        assert d["sequenceStart"] <= b.update_id + 1, "the recording itself has a gap"
        for side, rows in ((b.bids, d["changes"]["bids"]), (b.asks, d["changes"]["asks"])):
            set_levels(side, [r for r in sorted(rows, key=lambda r: int(r[2]))
                              if int(r[2]) > b.update_id and r[0] != "0"])
        b.update_id = d["sequenceEnd"]

    def body(self, sym: str, now: float, depth=None) -> bytes:
        """The REST body of the book at ``now`` (``depth``: cut to that many levels a side)."""
        b = self.advance(sym, now)
        return json.dumps({"code": "200000", "data": {
            "time": int(now * 1000), "sequence": str(b.update_id),
            "bids": [list(x) for x in b.top_bids(depth)], "asks": [list(x) for x in b.top_asks(depth)]}}).encode()


def run(session, faults=()):
    s = inject(session, faults) if faults else session
    venue = named_venue(session)
    ref = Reference(session)
    pairs = [p for p in session.configuration["l2_book"] if venue.to_venue_symbol(p) in ref.books]
    assert len(pairs) == 9  # LTX-USDT: the recording has neither snapshot nor updates for it
    used: set = set()

    def source(pair, req, now):
        if pair not in used:
            used.add(pair)
            return None  # the recorded body
        return ref.body(venue.to_venue_symbol(pair), now)

    res = Replayer(venue, s, pairs, snapshot_source=source).run()
    ref.finish()
    return res, ref, venue


def assert_books_equal(res, ref, venue):
    t = res.tracker
    for pair in res.pairs:
        assert t.state(pair).value == "live", pair
        rb = ref.books[venue.to_venue_symbol(pair)]
        bids, asks = book_levels(t.book(pair))
        assert bids == rb.top_bids() and asks == rb.top_asks(), pair


@pytest.fixture(scope="module")
def clean(session):
    return run(session)


def test_clean_replay_zero_gaps_and_reference_books(clean):
    res, ref, venue = clean
    assert res.bad_frames == 0 and res.unanswered_snapshots == 0
    for pair, r in res.pairs.items():
        assert (r["gaps"], r["resyncs"], r["bad_frames"], r["snapshot_retries"]) == (0, 0, 0, 0), pair
        assert r["state"] == "live" and r["last_update_id"] == ref.books[venue.to_venue_symbol(pair)].update_id
    assert res.pairs["BSV-USDT"]["diffs_applied"] == 2342
    assert_books_equal(res, ref, venue)


def _mid(session, pair="SNX-BTC", kind=BookDiff):
    idx = [i for i in book_frame_indices(session, SPOT, pair)
           if json.loads(session.records[i].data)["data"]["changes"]["asks"]
           + json.loads(session.records[i].data)["data"]["changes"]["bids"]]
    return idx, idx[len(idx) // 2]


def test_dropped_frame_is_a_gap_repaired_by_resync(session):
    _, i = _mid(session)
    res, ref, venue = run(session, [Fault("drop", i)])
    r = res.pairs["SNX-BTC"]
    assert (r["gaps"], r["resyncs"], r["snapshots"]) == (1, 1, 2)
    assert_books_equal(res, ref, venue)


def test_duplicated_frame_is_dropped_as_stale(session, clean):
    _, i = _mid(session)
    res, ref, venue = run(session, [Fault("duplicate", i)])
    r = res.pairs["SNX-BTC"]
    assert r["stale_dropped"] == clean[0].pairs["SNX-BTC"]["stale_dropped"] + 1
    assert (r["gaps"], r["resyncs"]) == (0, 0)
    assert_books_equal(res, ref, venue)


def test_swapped_frames_are_detected_and_repaired(session):
    idx, i = _mid(session)
    res, ref, venue = run(session, [Fault("swap", i, other=idx[idx.index(i) + 1])])
    r = res.pairs["SNX-BTC"]
    assert r["gaps"] >= 1 and r["resyncs"] >= 1
    assert_books_equal(res, ref, venue)


@pytest.mark.parametrize("bad", ["-5", "NaN", "1e400", "x"])
def test_corrupted_value_is_rejected_and_repaired(session, bad):
    _, i = _mid(session)

    def mutate(text):
        msg = json.loads(text)
        ch = msg["data"]["changes"]
        (ch["asks"] or ch["bids"])[0][0] = bad  # the price
        return json.dumps(msg)

    res, ref, venue = run(session, [Fault("corrupt", i, mutate=mutate)])
    r = res.pairs["SNX-BTC"]
    assert r["bad_frames"] == 1 and r["resyncs"] == 1
    assert_books_equal(res, ref, venue)


@pytest.mark.parametrize("kind", ["truncate", "garbage"])
def test_truncated_or_non_json_frame_is_counted_then_the_gap_repaired(session, kind):
    _, i = _mid(session)
    res, ref, venue = run(session, [Fault(kind, i)])
    assert res.bad_frames == 1
    r = res.pairs["SNX-BTC"]
    assert (r["gaps"], r["resyncs"]) == (1, 1)
    assert_books_equal(res, ref, venue)


def test_socket_closed_mid_stream_resyncs_every_pair(session):
    _, i = _mid(session)
    res, ref, venue = run(session, [Fault("close", i)])
    assert all(r["resyncs"] == 1 for r in res.pairs.values())  # all 9 were live by then
    assert sum(r["gaps"] for r in res.pairs.values()) == 0
    assert_books_equal(res, ref, venue)


# ---- the default, keyless variant: the public level2_100 snapshot, 100 levels kept ---------------
def partial_book(snapshot: dict, updates: list, depth: int = 100) -> RefBook:
    """KuCoin's calibration on a partial snapshot, written independently of hbconnect: the
    snapshot's levels, then every later change in sequence order (price "0" only advances the
    sequence, size 0 deletes), each side cut to ``depth`` best levels after every message."""
    b = RefBook()
    b.snapshot(snapshot["bids"], snapshot["asks"], int(snapshot["sequence"]))
    for d in updates:
        if d["sequenceEnd"] <= b.update_id:
            continue
        assert d["sequenceStart"] <= b.update_id + 1
        for side, rows in ((b.bids, d["changes"]["bids"]), (b.asks, d["changes"]["asks"])):
            set_levels(side, [r for r in sorted(rows, key=lambda r: int(r[2]))
                              if int(r[2]) > b.update_id and r[0] != "0"])
        b.update_id = d["sequenceEnd"]
        cut(b, depth)
    return b


def test_default_partial_book_through_the_tracker(session):
    venue = named_venue(session, snapshot_depth=100)
    assert venue.max_depth == 100
    ref = Reference(session)
    pairs = [p for p in session.configuration["l2_book"] if venue.to_venue_symbol(p) in ref.books]
    taken: dict = {}

    def source(pair, req, now):
        assert req.url == "https://api.kucoin.com/api/v1/market/orderbook/level2_100" and not req.headers
        sym = venue.to_venue_symbol(pair)
        body = ref.body(sym, now, depth=100)  # what the venue answers: the true book's top 100
        taken[sym] = json.loads(body)["data"]
        return body

    res = Replayer(venue, session, pairs, snapshot_source=source).run()
    deep = 0
    for pair in pairs:
        r = res.pairs[pair]
        assert (r["state"], r["gaps"], r["resyncs"], r["bad_frames"], r["snapshots"]) == ("live", 0, 0, 0, 1)
        sym = venue.to_venue_symbol(pair)
        bids, asks = book_levels(res.tracker.book(pair))
        want = partial_book(taken[sym], [d for _, d in ref.updates.get(sym, [])])
        assert (bids, asks) == (want.top_bids(), want.top_asks()), pair
        assert len(bids) <= 100 and len(asks) <= 100
        full = ref.advance(sym, float("inf"))
        # every level held is a true level, and the top of the book is the true top
        assert set(bids) <= set(full.top_bids()) and set(asks) <= set(full.top_asks()), pair
        assert bids[:5] == full.top_bids(5) and asks[:5] == full.top_asks(5), pair
        deep += len(full.top_bids()) > 100 or len(full.top_asks()) > 100
    assert deep >= 3  # the recording has books deeper than 100 levels: the cut really happened


# ---- futures: a generated stream through the real tracker --------------------------------------------
def futures_stream(n: int = 400, seed: int = 7):
    """A random-walk XBTUSDTM book as KuCoin futures publishes it: one change per message with a
    contiguous ``sequence``; returns (frames (ts, text), states by sequence, first sequence)."""
    import random

    rnd = random.Random(seed)
    book = {"buy": {}, "sell": {}}
    for i in range(10):
        book["buy"][f"{30000 - i * 0.5:.1f}"] = rnd.randint(1, 500)
        book["sell"][f"{30001 + i * 0.5:.1f}"] = rnd.randint(1, 500)
    seq0 = 1000
    states = {seq0: {s: dict(b) for s, b in book.items()}}
    frames = []
    for k in range(1, n + 1):
        side = rnd.choice(("buy", "sell"))
        price = f"{(30000 - rnd.randint(0, 12) * 0.5) if side == 'buy' else (30001 + rnd.randint(0, 12) * 0.5):.1f}"
        size = 0 if price in book[side] and rnd.random() < 0.3 else rnd.randint(1, 900)
        if size:
            book[side][price] = size
        else:
            book[side].pop(price, None)
        seq = seq0 + k
        states[seq] = {s: dict(b) for s, b in book.items()}
        frames.append((1_700_000_000 + k * 0.01, '{"type":"message","topic":"/contractMarket/level2:XBTUSDTM",'
                       '"subject":"level2","data":{"sequence":%d,"change":"%s,%s,%d","timestamp":%d}}'
                       % (seq, price, side, size, 1_700_000_000_000 + k * 10)))
    return frames, states, seq0


def futures_body(states, seq) -> bytes:
    st = states[seq]
    return json.dumps({"code": "200000", "data": {
        "symbol": "XBTUSDTM", "sequence": seq, "ts": 1_700_000_000_000_000_000,
        "bids": [[float(p), s] for p, s in sorted(st["buy"].items(), key=lambda x: -float(x[0]))],
        "asks": [[float(p), s] for p, s in sorted(st["sell"].items(), key=lambda x: float(x[0]))]}}).encode()


def futures_run(drop=None):
    from hbconnect.market.replay import OPEN, RECV, Record, Session

    frames, states, seq0 = futures_stream()
    recs = [Record(OPEN, frames[0][0] - 1, "f#1", "wss://ws-api-futures.kucoin.com/")]
    recs += [Record(RECV, ts, "f#1", "", text) for n, (ts, text) in enumerate(frames) if n != drop]
    for n, r in enumerate(recs):
        r.seq = n
    calls = []

    def source(pair, req, now):
        calls.append((req.url, dict(req.params)))
        # the venue's book at `now`: 5 messages in for the first request (buffered ones go stale)
        seq = max(s for s in states if s == seq0 or frames[s - seq0 - 1][0] <= max(now, frames[4][0]))
        return futures_body(states, seq)

    res = Replayer(KucoinPerpetualMarketData(), Session(recs, [], {}), ["BTC-USDT"], snapshot_source=source).run()
    book = states[seq0 + len(frames)]
    want = ([(p, str(s)) for p, s in sorted(book["buy"].items(), key=lambda x: -float(x[0]))],
            [(p, str(s)) for p, s in sorted(book["sell"].items(), key=lambda x: float(x[0]))])
    return res, want, calls


def _values(levels):
    return [(Decimal(p), Decimal(s)) for p, s in levels]


def test_futures_stream_through_the_tracker():
    res, want, calls = futures_run()
    r = res.pairs["BTC-USDT"]
    assert calls == [("https://api-futures.kucoin.com/api/v1/level2/snapshot", {"symbol": "XBTUSDTM"})]
    assert (r["state"], r["gaps"], r["resyncs"], r["bad_frames"]) == ("live", 0, 0, 0)
    assert r["diffs_applied"] == 395 and r["stale_dropped"] == 5
    bids, asks = book_levels(res.tracker.book("BTC-USDT"))
    assert (_values(bids), _values(asks)) == (_values(want[0]), _values(want[1]))


def test_futures_missing_sequence_is_a_gap_repaired_by_resync():
    res, want, calls = futures_run(drop=200)
    r = res.pairs["BTC-USDT"]
    assert (r["gaps"], r["resyncs"], len(calls)) == (1, 1, 2)
    bids, asks = book_levels(res.tracker.book("BTC-USDT"))
    assert (_values(bids), _values(asks)) == (_values(want[0]), _values(want[1]))


def test_fuzzed_frames_and_bodies_never_crash(session):
    assert_fuzz_total(KucoinSpotMarketData().parse_message, [r.data for r in session.frames])
    bodies = [r.data for r in session.rest if "/orderbook/" in r.url]
    assert_fuzz_total(lambda b: KucoinSpotMarketData().parse_snapshot("BTC-USDT", b), bodies, 60, single=True)
    fuzz(lambda b: KucoinSpotMarketData().ws_endpoint(b.encode() if isinstance(b, str) else b),
         [BULLET.decode()], 60, single=True)  # nearly every change breaks a bullet body: only "never crashes"
    frames, states, seq0 = futures_stream(60)
    assert_fuzz_total(KucoinPerpetualMarketData().parse_message, [t for _, t in frames], 80)
    assert_fuzz_total(lambda b: KucoinPerpetualMarketData().parse_snapshot("BTC-USDT", b),
                      [futures_body(states, seq0).decode()], 60, single=True)


# ---- the full book signed with the account's Credentials (the trading engine's object) ----------
def test_full_book_request_is_signed_with_credentials_per_kucoin_docs():
    import base64
    import hashlib
    import hmac

    from hbconnect.core.credentials import Credentials

    creds = Credentials("key-1", "secret-1", "pass-1")
    v = market_data_venue("kucoin_full_book")
    req = v.snapshot_request("BTC-USDT")
    assert req.auth
    signed = v.sign_request(req, creds, 1700000000.123)

    def b64hmac(msg):  # KuCoin "Authentication": base64(HMAC-SHA256(secret, msg))
        return base64.b64encode(hmac.new(b"secret-1", msg.encode(), hashlib.sha256).digest()).decode()

    h = signed.headers
    assert h["KC-API-TIMESTAMP"] == "1700000000123" and h["KC-API-KEY"] == "key-1"
    assert h["KC-API-SIGN"] == b64hmac("1700000000123GET/api/v3/market/orderbook/level2?symbol=BTC-USDT")
    assert h["KC-API-PASSPHRASE"] == b64hmac("pass-1") and h["KC-API-KEY-VERSION"] == "2"
    assert signed.url == req.url and signed.params == req.params and "secret-1" not in repr(signed)


def test_tracker_signs_the_full_book_with_credentials():
    import asyncio

    from hbconnect.core.credentials import Credentials
    from hbconnect.core.rest import RestClient, RestResponse
    from hbconnect.market.tracker import OrderBookTracker, _LiveDriver

    seen = []

    async def fetch(method, url, params, headers, body):
        seen.append((url, dict(params), dict(headers)))
        return RestResponse(200, {}, b'{"code":"200000","data":{"time":1,"sequence":"5","bids":[["1","2"]],'
                                     b'"asks":[["3","4"]]}}', url, 0.0)

    async def main():
        v = market_data_venue("kucoin_full_book")
        t = OrderBookTracker(v, ["BTC-USDT"], rest=RestClient(fetch=fetch),
                             credentials=Credentials("key-1", "secret-1", "pass-1"))
        drv = _LiveDriver(t)
        t.driver = drv
        t.connections[0].up = True
        tb = t.books["BTC-USDT"]
        tb.gen += 1
        await drv._snapshot("BTC-USDT", v.snapshot_request("BTC-USDT"), tb.gen, 0.0)
        return tb

    tb = asyncio.run(main())
    (url, params, headers), = seen
    assert url.endswith("/api/v3/market/orderbook/level2") and params == {"symbol": "BTC-USDT"}
    assert headers["KC-API-KEY"] == "key-1" and len(headers["KC-API-SIGN"]) == 44
    assert tb.book.bids_text() == [("1", "2")]
