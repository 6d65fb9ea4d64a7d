"""Bitstamp market data: translation (recorded frames, docs' shapes) and the recorded session
replayed through the real tracker, clean and with injected faults."""
from __future__ import annotations

import json

import pytest
from conftest import fixture_files
from refbook import book_levels
from recorded_reference import RecordedReference, set_levels
from venue_fuzz import assert_fuzz_total

from hbconnect.exchanges import market_data_venue
from hbconnect.exchanges.bitstamp import BitstampMarketData
from hbconnect.market.messages import (
    BookDiff,
    Heartbeat,
    Ignored,
    ParseError,
    Reconnect,
    Resync,
    SyncRule,
    Trade,
)
from hbconnect.market.replay import Fault, Replayer, book_frame_indices, inject, load_recorded_symbols, load_session

V = market_data_venue("bitstamp")


@pytest.fixture(scope="module")
def session():
    s = load_session(fixture_files("BITSTAMP"))
    load_recorded_symbols(V, s)  # the recording's trading-pairs-info listing
    return s


def _sym(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


# ---- translation ----------------------------------------------------------------------------------
def test_registry_rule_and_endpoints():
    assert isinstance(V, BitstampMarketData) and V.sync_rule is SyncRule.TIMESTAMP
    assert V.ws_endpoint(None).url == "wss://ws.bitstamp.net"
    assert json.loads(V.ws_endpoint(None).ping_message) == {"event": "bts:heartbeat"}
    req = V.snapshot_request("BTC-USD")
    assert req.url == "https://www.bitstamp.net/api/v2/order_book/btcusd/" and req.method == "GET"
    assert V.max_depth is None and V.resync_messages("BTC-USD") == []


def test_symbols_and_subscriptions(session):
    assert V.to_venue_symbol("USDT-EUR") == "usdteur" and V.from_venue_symbol("usdteur") == "USDT-EUR"
    fresh = BitstampMarketData()
    with pytest.raises(ParseError):
        fresh.from_venue_symbol("batbtc")  # not listed yet, nor asked for: never split on a suffix
    (listing,) = [r for r in session.rest if r.url.endswith("/trading-pairs-info/")]
    listed = json.loads(listing.data)
    assert fresh.load_symbols(listing.data) == len(listed)
    assert fresh.from_venue_symbol("batbtc") == "BAT-BTC" and fresh.from_venue_symbol("xlmgbp") == "XLM-GBP"
    assert all(fresh.from_venue_symbol(d["url_symbol"]) == d["name"].replace("/", "-") for d in listed)
    for symbol in ("zzzqqq", "omgbusd"):
        with pytest.raises(ParseError):
            fresh.from_venue_symbol(symbol)
    for body in ('{"error": "x"}', "[]", '[{"url_symbol": "btcusd", "name": "BTCUSD"}]'):
        with pytest.raises(ParseError):
            fresh.load_symbols(body)
    sent = [r.data for r in session.records if r.kind == "send"]
    pairs = session.configuration["l2_book"]
    assert sorted(V.subscribe_messages(pairs)) == sorted(sent)  # the recorded subscriptions exactly
    assert json.loads(V.unsubscribe_messages(["BTC-USD"])[0]) == {
        "event": "bts:unsubscribe", "data": {"channel": "diff_order_book_btcusd"}}


def test_recorded_frames_and_bodies_translate(session):
    kinds: dict = {}
    for rec in session.frames:
        for ev in V.parse_message(rec.data):
            kinds[type(ev)] = kinds.get(type(ev), 0) + 1
            if type(ev) is BookDiff:
                assert ev.first_id == ev.last_id and ev.timestamp == ev.last_id / 1e6
    assert kinds == {BookDiff: 717, Trade: 10}
    for rec in session.rest:
        if "/order_book/" in rec.url:
            body = json.loads(rec.data)
            s = V.parse_snapshot(V.from_venue_symbol(_sym(rec.url)), rec.data.encode())
            assert s.update_id == int(body["microtimestamp"]) and s.bids == body["bids"]
    (t,) = V.parse_message(
        '{"data":{"id":216000477,"timestamp":"1641343699","amount":0.0792,"amount_str":"0.07920000",'
        '"price":3805.44,"price_str":"3805.44","type":0,"microtimestamp":"1641343699596000",'
        '"buy_order_id":1443875737346049,"sell_order_id":1443875731320832},"channel":"live_trades_ethusd","event":"trade"}')
    assert t == Trade("ETH-USD", "216000477", "3805.44", "0.07920000", "buy", 1641343699.596)


def test_control_events():
    assert V.parse_message('{"event":"bts:request_reconnect","channel":"","data":""}') == [
        Reconnect("bts:request_reconnect")]
    assert V.parse_message('{"event":"bts:heartbeat","channel":"","data":{"status":"success"}}') == [Heartbeat()]
    assert V.parse_message('{"event":"bts:subscription_succeeded","channel":"diff_order_book_btcusd","data":{}}') == []
    assert V.parse_message('{"event":"bts:error","channel":"diff_order_book_btcusd","data":{"code":null,'
                           '"message":"Bad subscription string."}}') == [
        Resync("BTC-USD", "{'code': None, 'message': 'Bad subscription string.'}")]
    (ev,) = V.parse_message('{"event":"data","channel":"order_book_btcusd","data":{}}')  # not subscribed
    assert isinstance(ev, Ignored) and "order_book_btcusd" in ev.what


@pytest.mark.parametrize("raw", [
    "", "{", "<html>", "[]", '{"channel":"x"}',
    '{"data":{"microtimestamp":"x","bids":[],"asks":[]},"channel":"diff_order_book_btcusd","event":"data"}',
    '{"data":{"microtimestamp":"1","bids":[["1"]],"asks":[]},"channel":"diff_order_book_btcusd","event":"data"}',
    '{"data":{"microtimestamp":"1","bids":[[1.0,"2"]],"asks":[]},"channel":"diff_order_book_btcusd","event":"data"}',
    '{"data":[],"channel":"diff_order_book_btcusd","event":"data"}',
    '{"data":{"id":1,"type":2,"price_str":"1","amount_str":"1"},"channel":"live_trades_btcusd","event":"trade"}',
    '{"data":{"id":1,"type":true,"price_str":"1","amount_str":"1"},"channel":"live_trades_btcusd","event":"trade"}',
    '{"data":{"microtimestamp":"1' + "0" * 400 + '","bids":[],"asks":[]},"channel":"diff_order_book_btcusd",'
    '"event":"data"}',  # was OverflowError
])
def test_malformed_frames_raise_parse_error(raw):
    with pytest.raises(ParseError):
        V.parse_message(raw)


def test_malformed_bodies_raise_parse_error():
    for body in (b"", b"{", b'{"status":"error","reason":"Invalid pair"}', b'{"microtimestamp":"1","bids":[["1"]]}'):
        with pytest.raises(ParseError):
            V.parse_snapshot("BTC-USD", body)


# ---- replay through the real tracker ----------------------------------------------------------------
class Reference(RecordedReference):
    """The true book per pair from the raw frames by Bitstamp's rule (REST ``microtimestamp``;
    apply later diffs in order; 0 deletes); answers REST snapshot requests for later times."""

    def snapshot_of(self, url, body):
        if "/order_book/" not in url:
            return None
        d = json.loads(body)
        return _sym(url), d["bids"], d["asks"], int(d["microtimestamp"])

    def update_of(self, frame):
        msg = json.loads(frame)
        if msg.get("event") == "data" and msg["channel"].startswith("diff_order_book_"):
            return msg["channel"][16:], msg["data"]
        return None

    def apply(self, b, d):
        if int(d["microtimestamp"]) <= b.update_id:
            return
        set_levels(b.bids, d["bids"])
        set_levels(b.asks, d["asks"])
        b.update_id = int(d["microtimestamp"])

    def body(self, sym: str, now: float) -> bytes:
        b = self.advance(sym, now)
        return json.dumps({"timestamp": str(int(now)), "microtimestamp": str(b.update_id),
                           "bids": [list(x) for x in b.top_bids()], "asks": [list(x) for x in b.top_asks()]}).encode()


def run(session, faults=()):
    s = inject(session, faults) if faults else session
    ref = Reference(session)
    used: set = set()
    venue = BitstampMarketData()

    def source(pair, req, now):
        if pair not in used:
            used.add(pair)
            return None  # the recorded body
        return ref.body(venue.to_venue_symbol(pair), now)

    r = Replayer(venue, s, snapshot_source=source)
    res = r.run()
    ref.finish()
    return res, ref, venue, r


def books_equal(res, ref, venue, pair) -> bool:
    t = res.tracker
    rb = ref.books[venue.to_venue_symbol(pair)]
    bids, asks = book_levels(t.book(pair))
    return t.state(pair).value == "live" and bids == rb.top_bids() and asks == rb.top_asks()


def assert_books_equal(res, ref, venue):
    for pair in res.pairs:
        assert books_equal(res, ref, venue, pair), pair


@pytest.fixture(scope="module")
def clean(session):
    return run(session)


def test_clean_replay_reference_books(clean):
    res, ref, venue, _ = clean
    assert res.frames == 747 and res.bad_frames == 0 and res.unanswered_snapshots == 0
    assert sum(r["diffs_applied"] for r in res.pairs.values()) == 615
    for pair, r in res.pairs.items():
        assert (r["gaps"], r["resyncs"], r["bad_frames"]) == (0, 0, 0), pair
        assert r["state"] == "live"
    assert_books_equal(res, ref, venue)


def _mid(session, pair="BAT-BTC"):
    idx = book_frame_indices(session, V, pair)
    return idx, idx[len(idx) // 2]


def test_duplicated_frame_is_dropped_as_stale(session, clean):
    _, i = _mid(session)
    res, ref, venue, _ = run(session, [Fault("duplicate", i)])
    assert res.pairs["BAT-BTC"]["stale_dropped"] == clean[0].pairs["BAT-BTC"]["stale_dropped"] + 1
    assert res.pairs["BAT-BTC"]["resyncs"] == 0
    assert_books_equal(res, ref, venue)


@pytest.mark.parametrize("bad", ["-1", "NaN", "abc"])
def test_corrupted_amount_is_rejected_and_repaired(session, bad):
    _, i = _mid(session)

    def mutate(text):
        msg = json.loads(text)
        d = msg["data"]
        (d["bids"] or d["asks"])[0][1] = bad
        return json.dumps(msg)

    res, ref, venue, _ = run(session, [Fault("corrupt", i, mutate=mutate)])
    r = res.pairs["BAT-BTC"]
    assert (r["bad_frames"], r["resyncs"]) == (1, 1)
    assert_books_equal(res, ref, venue)


def test_socket_closed_mid_stream_resyncs_every_pair(session):
    _, i = _mid(session)
    res, ref, venue, _ = run(session, [Fault("close", i)])
    assert all(r["resyncs"] == 1 for r in res.pairs.values())
    assert_books_equal(res, ref, venue)


def test_request_reconnect_reaches_the_driver(session):
    _, i = _mid(session)
    s = session.copy()
    s.records[i].data = '{"event":"bts:request_reconnect","channel":"","data":""}'
    res, ref, venue, r = run(s)
    # the tracker hands the venue's request to its driver (a live one reconnects, which resyncs
    # every pair; a replay only notes it: the recording says when connections really dropped)
    assert [reason for _, reason in r.reconnect_requests] == ["bts:request_reconnect"]
    assert res.bad_frames == 0


@pytest.mark.parametrize("kind", ["drop", "truncate", "garbage", "swap"])
def test_lost_update_is_undetectable_on_bitstamp_until_a_resync(session, kind):
    """Bitstamp's diff stream has neither sequence numbers nor checksums: a lost (or, swapped,
    stale-dropped) update cannot be detected from the stream. The bad frame is counted; the book
    is only repaired by a resync (reconnect, ``bts:request_reconnect``, or ``tracker.resync``)."""
    idx = book_frame_indices(session, V, "BAT-BTC")
    # an update whose levels no later update touches (else losing it would be harmless)
    later: set = set()
    for n in range(len(idx) - 1, 0, -1):
        d = json.loads(session.records[idx[n]].data)["data"]
        mine = {("b", p) for p, _ in d["bids"]} | {("a", p) for p, _ in d["asks"]}
        if n < len(idx) - 1 and mine and not mine & later:
            break
        later |= mine
    i = idx[n]
    faults = [Fault(kind, i, other=idx[n + 1])] if kind == "swap" else [Fault(kind, i)]
    res, ref, venue, replayer = run(session, faults)
    r = res.pairs["BAT-BTC"]
    assert res.bad_frames == (1 if kind in ("truncate", "garbage") else 0)
    assert r["gaps"] == 0 and r["resyncs"] == 0
    assert not books_equal(res, ref, venue, "BAT-BTC")  # the lost update is still missing
    res.tracker.resync("BAT-BTC", "operator")
    replayer._deliver_due(float("inf"))
    assert res.tracker.stats("BAT-BTC").resyncs == 1
    assert books_equal(res, ref, venue, "BAT-BTC")


def test_fuzzed_frames_and_bodies_never_crash(session):
    assert_fuzz_total(BitstampMarketData().parse_message, [r.data for r in session.frames] + [
        '{"event":"bts:error","channel":"diff_order_book_btcusd","data":{"code":null,"message":"x"}}'])
    bodies = [r.data for r in session.rest if "/order_book/" in r.url]
    assert_fuzz_total(lambda b: BitstampMarketData().parse_snapshot("BTC-USD", b), bodies, 60, single=True)
