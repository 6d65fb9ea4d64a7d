"""Binance spot / USDⓈ-M market data: translation on documented messages, and the recorded spot
session replayed through the real tracker against an independent reference."""
from __future__ import annotations

import json

import pytest

from binance_truth import BinanceTruth
from conftest import fixture_files
from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import BookDiff, BookSnapshot, Ignored, ParseError, SyncRule, Trade
from hbconnect.market.replay import load_session, replay
from hbconnect.market.tracker import OrderBookTracker
from refbook import book_levels

SPOT_DOC_DIFF = {  # the "Diff. Depth Stream" example of the spot docs
    "e": "depthUpdate", "E": 1672515782136, "s": "BNBBTC", "U": 157, "u": 160,
    "b": [["0.0024", "10"]], "a": [["0.0026", "100"]],
}
PERP_DOC_DIFF = {  # the USDⓈ-M "Diff. Book Depth Streams" example
    "e": "depthUpdate", "E": 123456789, "T": 123456788, "s": "BTCUSDT", "U": 157, "u": 160, "pu": 149,
    "b": [["0.0024", "10"]], "a": [["0.0026", "100"]],
}


@pytest.fixture
def spot():
    return market_data_venue("binance").with_urls()


@pytest.fixture
def perp():
    return market_data_venue("binance_perpetual").with_urls()


def test_registry_and_rules(spot, perp):
    assert spot.sync_rule is SyncRule.SEQ_RANGE
    assert perp.sync_rule is SyncRule.SEQ_RANGE_PREV
    assert spot.max_depth is None and not spot.connection_sequence
    # 1024 streams per connection, two per pair
    assert spot.max_pairs_per_connection * 2 <= 1024


def test_subscribe_and_snapshot_request(spot, perp):
    (msg,) = spot.subscribe_messages(["BNB-BTC", "ETH-USDT"])
    sub = json.loads(msg)
    assert sub["method"] == "SUBSCRIBE"
    assert sub["params"] == ["bnbbtc@depth@100ms", "bnbbtc@trade", "ethusdt@depth@100ms", "ethusdt@trade"]
    assert isinstance(sub["id"], int)
    assert json.loads(spot.unsubscribe_messages(["BNB-BTC"])[0])["method"] == "UNSUBSCRIBE"
    req = spot.snapshot_request("BNB-BTC")
    assert req.url == "https://api.binance.com/api/v3/depth"
    assert req.params == {"symbol": "BNBBTC", "limit": 1000} and req.weight == 50
    preq = perp.snapshot_request("BTC-USDT")
    assert preq.url == "https://fapi.binance.com/fapi/v1/depth" and preq.weight == 20
    assert spot.ws_endpoint(None).url == "wss://stream.binance.com:9443/stream"
    assert spot.resync_messages("BNB-BTC") == []


def test_with_urls_overrides(spot):
    local = spot.with_urls(rest="http://127.0.0.1:5000", ws="ws://127.0.0.1:5001")
    assert local.snapshot_request("BTC-USDT").url == "http://127.0.0.1:5000/api/v3/depth"
    assert local.ws_endpoint(None).url == "ws://127.0.0.1:5001/stream"
    assert spot.with_urls(ws="ws://h/ws").ws_endpoint(None).url == "ws://h/ws"
    assert market_data_venue("binance").rest_url == "https://api.binance.com"  # registry untouched


def test_parse_documented_diffs(spot, perp):
    spot.to_venue_symbol("BNB-BTC")
    (d,) = spot.parse_message(json.dumps({"stream": "bnbbtc@depth@100ms", "data": SPOT_DOC_DIFF}))
    assert isinstance(d, BookDiff)
    assert (d.pair, d.first_id, d.last_id, d.prev_id) == ("BNB-BTC", 157, 160, None)
    assert d.bids == [["0.0024", "10"]] and d.asks == [["0.0026", "100"]]
    assert d.timestamp == pytest.approx(1672515782.136)
    perp.to_venue_symbol("BTC-USDT")
    (pd,) = perp.parse_message(json.dumps(PERP_DOC_DIFF))  # raw (/ws) shape also accepted
    assert (pd.pair, pd.first_id, pd.last_id, pd.prev_id) == ("BTC-USDT", 157, 160, 149)


def test_parse_trades(spot):
    trade = {"e": "trade", "E": 1672515782136, "s": "BNBBTC", "t": 12345, "p": "0.001", "q": "100",
             "T": 1672515782136, "m": True, "M": True}
    spot.to_venue_symbol("BNB-BTC")
    (t,) = spot.parse_message(json.dumps({"stream": "bnbbtc@trade", "data": trade}))
    assert isinstance(t, Trade)
    assert (t.pair, t.trade_id, t.price, t.amount, t.side) == ("BNB-BTC", "12345", "0.001", "100", "sell")
    agg = {"e": "aggTrade", "E": 1, "s": "BNBBTC", "a": 26129, "p": "0.01633102", "q": "4.70443515",
           "f": 27781, "l": 27781, "T": 1498793709153, "m": False, "M": True}
    (a,) = spot.parse_message(json.dumps({"stream": "bnbbtc@aggTrade", "data": agg}))
    assert (a.trade_id, a.side, a.price) == ("26129", "buy", "0.01633102")


def test_parse_acks_and_errors(spot):
    assert spot.parse_message('{"result":null,"id":1}') == []
    assert spot.parse_message('{"stream":"bnbbtc@bookTicker","data":{"u":1,"s":"BNBBTC","b":"1","B":"1",'
                              '"a":"2","A":"1"}}') == [Ignored("bookTicker")]
    (ev,) = spot.parse_message('{"stream":"bnbbtc@kline_1m","data":{"e":"kline","s":"BNBBTC","k":{}}}')
    assert isinstance(ev, Ignored) and "kline" in ev.what
    for bad in ('{"stream":"x@depth","data":{"e":"depthUpdate","s":"BNBBTC","U":"1","u":2,"b":[],"a":[]}}',
                '{"stream":"x@depth","data":{"e":"depthUpdate","s":"BNBBTC","U":1,"u":2,"b":{},"a":[]}}',
                '{"error":{"code":2,"msg":"Invalid request"},"id":1}',
                '{"stream":"x@dep', "", "[1,2]", b"\x00\x01"):
        with pytest.raises(ParseError):
            spot.parse_message(bad)


def test_parse_snapshot(spot):
    body = b'{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}'
    s = spot.parse_snapshot("BNB-BTC", body)
    assert isinstance(s, BookSnapshot)
    assert (s.update_id, s.bids, s.asks) == (1027024, [["4.00000000", "431.00000000"]], [["4.00000200", "12.00000000"]])
    for bad in (b'{"code":-1121,"msg":"Invalid symbol."}', b'{"lastUpdateId":1,"bids":[', b"", b"null",
                b'{"lastUpdateId":"x","bids":[],"asks":[]}'):
        with pytest.raises(ParseError):
            spot.parse_snapshot("BNB-BTC", bad)


def _pair_symbol(pair: str) -> str:
    return pair.replace("-", "")


def test_fixture_replays_in_sync_with_reference():
    files = fixture_files("BINANCE")
    truth = BinanceTruth(files)
    result = replay(files, market_data_venue("binance"))
    assert result.bad_frames == 0 and result.unanswered_snapshots == 0
    assert set(result.pairs) == {"NKN-USDT", "BLZ-ETH", "LRC-BTC", "RUNE-EUR"}
    applied_total = 0
    for pair, rep in result.pairs.items():
        assert rep["state"] == "live", pair
        assert rep["gaps"] == 0 and rep["resyncs"] == 0 and rep["bad_frames"] == 0, (pair, rep)
        ref = truth.final(_pair_symbol(pair))
        book = result.tracker.book(pair)
        bids, asks = book_levels(book)
        assert bids == ref.top_bids(), pair
        assert asks == ref.top_asks(), pair
        assert rep["last_update_id"] == ref.update_id
        assert [tuple(x) for x in rep["bids"]] == ref.top_bids(5)
        applied_total += rep["diffs_applied"]
    assert applied_total >= 150


def test_fixture_book_equals_reference_after_every_update():
    files = fixture_files("BINANCE")
    truth = BinanceTruth(files)
    states = truth.by_update_id("NKNUSDT")
    venue = market_data_venue("binance").with_urls()
    checked = []

    def on_book(upd):
        if upd.pair != "NKN-USDT":
            return
        book = tracker.book("NKN-USDT")
        ref = states[upd.update_id]
        assert book_levels(book) == (ref.top_bids(), ref.top_asks())
        checked.append(upd.update_id)

    from hbconnect.market.replay import Replayer

    r = Replayer(venue, load_session(files), tracker_kwargs={"on_book": on_book})
    tracker = r.tracker
    r.run()
    assert tracker.notify_errors == 0
    assert len(checked) >= 100 and checked == sorted(checked)


def _perp_tracker():
    venue = market_data_venue("binance_perpetual").with_urls()
    # no wall clock anywhere: the watchdog and the resync backoff read the tracker's clock
    tracker = OrderBookTracker(venue, ["BTC-USDT"], stale_timeout=None, sync_timeout=None)
    tracker.clock = lambda: 1000.0
    conn = tracker.connections[0]
    tracker.connection_up(conn)
    return venue, tracker, conn


def _pdiff(U, u, pu, bids=(), asks=()):
    return json.dumps({"stream": "btcusdt@depth@100ms", "data": {
        "e": "depthUpdate", "E": 1, "T": 1, "s": "BTCUSDT", "U": U, "u": u, "pu": pu,
        "b": [list(x) for x in bids], "a": [list(x) for x in asks]}})


def test_perpetual_procedure_to_the_letter():
    venue, tracker, conn = _perp_tracker()
    tb = tracker.books["BTC-USDT"]
    # buffered before the snapshot: one too old (u < lastUpdateId), one straddling it
    tracker.feed(conn, _pdiff(90, 95, 89, [("100.0", "1")]))
    tracker.feed(conn, _pdiff(96, 102, 95, [("100.5", "2")]))
    tracker.feed(conn, _pdiff(103, 110, 102, asks=[("101.0", "3")]))
    snap = b'{"lastUpdateId":100,"E":1,"T":1,"bids":[["100.0","5"]],"asks":[["101.0","1"],["102.0","1"]]}'
    tracker.on_snapshot("BTC-USDT", tb.gen, snap)
    assert tb.state.value == "live"
    assert tb.stale_dropped == 1 and tb.diffs_applied == 2 and tb.last_id == 110
    assert book_levels(tracker.book("BTC-USDT")) == ([("100.5", "2"), ("100.0", "5")], [("101.0", "3"), ("102.0", "1")])
    # pu chain broken -> gap -> resync with a new snapshot request
    tracker.feed(conn, _pdiff(115, 120, 112, [("99", "1")]))
    assert tb.gaps == 1 and tb.resyncs == 1 and tb.state.value == "resyncing"
    # the bad update did not touch the book; its state says it is not to be trusted
    assert book_levels(tracker.book("BTC-USDT")) == ([("100.5", "2"), ("100.0", "5")], [("101.0", "3"), ("102.0", "1")])


def test_perpetual_snapshot_too_old_is_refetched():
    venue, tracker, conn = _perp_tracker()
    tb = tracker.books["BTC-USDT"]
    tracker.feed(conn, _pdiff(200, 205, 199))
    gen = tb.gen
    tracker.on_snapshot("BTC-USDT", gen, b'{"lastUpdateId":150,"bids":[["1","1"]],"asks":[["2","1"]]}')
    assert tb.state.value == "syncing" and tb.snapshot_retries == 1 and tb.gen != gen
    assert len(tb.buffer) == 1
