"""BTC Markets spot (WebSocket v2) market data: translation of the documented frames, the book
checksum against an independent implementation, a generated session in the documented protocol
(in-band snapshot, one-level deltas each signed with the checksum) replayed through the real
tracker and ``hbconnect replay``, faults, fuzz."""
from __future__ import annotations

import json
import zlib

import pytest

from hbconnect import OrderBook
from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import BookDiff, BookSnapshot, Heartbeat, ParseError, SyncRule

from _venue_e2e import (
    FAULTS, Server, clean_session, fault_session, parse_totality_tests, replay_generated_cli,
    resync_messages_were_sent,
)


def venue(*pairs):
    v = market_data_venue("btc_markets")
    v.subscribe_messages(list(pairs))
    return v


DOC_SNAPSHOT = ('{"marketId":"BAT-AUD","snapshot":true,"timestamp":"2026-09-23T04:41:37.492Z",'
                '"snapshotId":1790138497492000,"bids":[["0.122","106796",1],["0.1219","123051.68170631",1],'
                '["0.11","150",1]],"asks":[["0.1491","57263.35531493",1],["0.159","9",1],'
                '["0.1598","324.68382543",1]],"channel":"orderbookUpdate","messageType":"orderbookUpdate"}')
DOC_DELTA = ('{"marketId":"BAT-AUD","timestamp":"2026-09-23T04:41:37.570Z","snapshotId":1790138497570000,'
             '"bids":[["0.1218","0.05",1]],"asks":[],"messageType":"orderbookUpdate","checksum":"844822657"}')
DOC_TRADE = ('{"marketId":"BTC-AUD","timestamp":"2019-04-08T20:54:27.632Z","tradeId":3153171493,'
             '"price":"7370.11","volume":"0.10901605","side":"Ask","messageType":"trade"}')
DOC_HEARTBEAT = ('{"messageType":"heartbeat","channels":[{"name":"orderbookUpdate","marketIds":["BAT-AUD"]},'
                 '{"name":"heartbeat"}]}')
DOC_ERROR = '{"messageType":"error","code":3,"message":"invalid marketIds"}'


def ref_checksum(bids, asks):
    """Written from the rule, without hbconnect: best 10 bids high->low then best 10 asks
    low->high, price and volume with '.' and leading zeros removed, CRC32 in decimal."""
    def f(t):
        return t.replace(".", "").lstrip("0")
    text = "".join(f(p) + f(v) for p, v in list(bids)[:10] + list(asks)[:10])
    return zlib.crc32(text.encode())


def test_registry_rules_and_messages():
    v = venue()
    assert market_data_venue("btcmarkets").name == "btc_markets"
    assert v.sync_rule is SyncRule.TIMESTAMP and v.ws_connect_rate == 0.3
    assert v.to_venue_symbol("BTC-AUD") == "BTC-AUD" and v.from_venue_symbol("BTC-AUD") == "BTC-AUD"
    with pytest.raises(ParseError):
        v.from_venue_symbol("ETH-AUD")
    (sub,) = v.subscribe_messages(["BTC-AUD", "ETH-BTC"])
    assert json.loads(sub) == {"marketIds": ["BTC-AUD", "ETH-BTC"],
                               "channels": ["orderbookUpdate", "trade", "heartbeat"],
                               "messageType": "addSubscription"}  # never "subscribe": it replaces all
    assert json.loads(v.resync_messages("BTC-AUD")[0]) == {
        "marketIds": ["BTC-AUD"], "channels": ["orderbookUpdate"], "messageType": "addSubscription"}
    assert json.loads(v.unsubscribe_messages(["BTC-AUD"])[0])["messageType"] == "removeSubscription"
    assert v.ws_endpoint(None).url == "wss://socket.btcmarkets.net/v2" and v.ws_endpoint(None).ping_interval is None
    moved = v.with_urls(rest="http://127.0.0.1:3", ws="ws://127.0.0.1:4/v2")
    assert moved.ws_endpoint(None).url == "ws://127.0.0.1:4/v2"
    req = moved.rest_snapshot_request("BTC-AUD")
    assert (req.url, req.params) == ("http://127.0.0.1:3/v3/markets/BTC-AUD/orderbook", {"level": "2"})


def test_documented_frames():
    v = venue("BAT-AUD", "BTC-AUD")
    (s,) = v.parse_message(DOC_SNAPSHOT)
    assert type(s) is BookSnapshot and s.update_id == 1790138497492000 - 1
    assert s.bids[1] == ["0.1219", "123051.68170631"] and s.asks[0] == ["0.1491", "57263.35531493"]
    assert s.timestamp == pytest.approx(1790138497.492)
    (d,) = v.parse_message(DOC_DELTA)
    assert d == BookDiff("BAT-AUD", [["0.1218", "0.05"]], [], 1790138497570000, 1790138497570000, None,
                         pytest.approx(1790138497.57), checksum=844822657)
    (t,) = v.parse_message(DOC_TRADE)
    assert (t.pair, t.trade_id, t.price, t.amount, t.side) == ("BTC-AUD", "3153171493", "7370.11", "0.10901605", "sell")
    assert v.parse_message(DOC_HEARTBEAT) == [Heartbeat()] and v.parse_message(DOC_ERROR) == []
    r = v.parse_snapshot("BTC-AUD", b'{"marketId":"BTC-AUD","snapshotId":1567334110144000,'
                                    b'"asks":[["50005.12","403.0416",1]],"bids":[["50000","1",2]]}')
    assert r.asks == [["50005.12", "403.0416"]] and r.update_id == 1567334110143999
    with pytest.raises(ParseError):
        v.parse_snapshot("BAT-AUD", b'{"marketId":"BTC-AUD","snapshotId":1,"asks":[],"bids":[]}')


def test_checksum_matches_an_independent_implementation():
    v = venue("BAT-AUD")
    (s,) = v.parse_message(DOC_SNAPSHOT)
    book = OrderBook()
    book.apply_snapshot(s.bids, s.asks, s.update_id)
    assert v.checksum(book) == ref_checksum(s.bids, s.asks)
    book.apply_diffs([["0.00000013", "0.0500"]], [["0.159", "0"]], s.update_id + 1)
    bids = [["0.122", "106796"], ["0.1219", "123051.68170631"], ["0.11", "150"], ["0.00000013", "0.0500"]]
    asks = [["0.1491", "57263.35531493"], ["0.1598", "324.68382543"]]
    assert v.checksum(book) == ref_checksum(bids, asks)


class BtcMarketsServer(Server):
    """``orderbookUpdate``: a snapshot per (add)subscription, then deltas stamped with a rising
    microsecond ``snapshotId`` and signed with the checksum of the true book (``ref_checksum``)."""

    decimals = 2

    def __init__(self, pairs, seed=1, **kw):
        super().__init__(pairs, seed, **kw)
        self.sid = 1790138497492000
        self.tid = 3153171493

    def decode(self, text):
        msg = json.loads(text)
        op = "subscribe" if msg["messageType"] == "addSubscription" else "unsubscribe"
        return [(op, "book" if ch == "orderbookUpdate" else "trades", p)
                for p in msg["marketIds"] for ch in msg["channels"] if ch != "heartbeat"]

    def _stamp(self):
        self.sid += 1000
        ms = self.sid // 1000
        return self.sid, "2026-09-23T04:%02d:%02d.%03dZ" % (ms // 60000 % 60, ms // 1000 % 60, ms % 1000)

    def snapshot(self, pair, m):
        sid, ts = self._stamp()
        bids, asks = m.book.levels()
        return json.dumps({"marketId": pair, "snapshot": True, "timestamp": ts, "snapshotId": sid,
                           "bids": [[p, s, 1] for p, s in bids], "asks": [[p, s, 1] for p, s in asks],
                           "channel": "orderbookUpdate", "messageType": "orderbookUpdate"})

    def diff(self, pair, m, bids, asks):
        sid, ts = self._stamp()
        self.counts[pair]["checksummed"] += 1
        tb, ta = m.book.levels()
        return json.dumps({"marketId": pair, "timestamp": ts, "snapshotId": sid,
                           "bids": [[p, s, 0 if s == "0" else 1] for p, s in bids],
                           "asks": [[p, s, 0 if s == "0" else 1] for p, s in asks],
                           "messageType": "orderbookUpdate", "checksum": str(ref_checksum(tb, ta))})

    def heartbeat(self, pair):
        return DOC_HEARTBEAT

    def trade(self, pair, price, size, side):
        self.tid += 1
        _, ts = self._stamp()
        return json.dumps({"marketId": pair, "timestamp": ts, "tradeId": self.tid, "price": price,
                           "volume": size, "side": "Bid" if side == "buy" else "Ask",
                           "messageType": "trade"}), str(self.tid)

    corrupt_mode = "value"  # a wrong size: only the checksum can tell

    def rows_of(self, data):
        return data["bids"] or data["asks"]


PAIRS = ["BTC-AUD", "ETH-AUD", "ETH-BTC"]


def test_e2e_clean_session_every_delta_checksummed():
    h = clean_session(venue(), BtcMarketsServer(PAIRS, seed=3))
    t = h.totals()
    assert t["gaps"] == 0 and t["resyncs"] == 0 and t["checksums_failed"] == 0, t
    for p in PAIRS:
        s = h.tracker.stats(p)
        assert s.snapshots == 1 and s.diffs_applied == h.server.counts[p]["diff"] > 100
        assert s.checksums_ok == h.server.counts[p]["checksummed"] == s.diffs_applied
        assert h.book_matches(p)


@pytest.mark.parametrize("kind", FAULTS)
def test_e2e_fault_is_detected_and_repaired(kind):
    h, t = fault_session(venue(), BtcMarketsServer(PAIRS, seed=4), kind)
    if kind == "duplicate":  # the repeat's snapshotId is not above the book's: dropped, harmless
        assert t["stale_dropped"] >= 1 and t["resyncs"] == 0 and t["checksums_failed"] == 0, t
        return
    assert t["resyncs"] >= 1, t
    if kind in ("drop", "swap", "corrupt"):  # no ids to reveal them: the next checksum does
        assert t["checksums_failed"] >= 1, t
    if kind in ("truncate", "garbage"):
        assert t["tracker_bad_frames"] >= 1, t
    if kind != "close":
        assert any(resync_messages_were_sent(h, p) for p in PAIRS)


def test_generated_recording_replays_clean_through_the_cli(tmp_path):
    server = BtcMarketsServer(PAIRS, seed=5)
    result = replay_generated_cli(tmp_path, server, venue(), "btc_markets", 2000)
    for p in PAIRS:
        r = result["pairs"][p]
        assert r["checksums_ok"] == r["diffs_applied"] == server.counts[p]["diff"] > 100


(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    [DOC_SNAPSHOT, DOC_DELTA, DOC_TRADE, DOC_HEARTBEAT, DOC_ERROR], lambda: (venue("BAT-AUD", "BTC-AUD"),))
