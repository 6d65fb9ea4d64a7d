"""HashKey Global spot/perpetual market data: translation, a generated snapshot-only session (the
documented frame shapes) replayed through the real tracker and ``hbconnect replay``, faults, fuzz."""
from __future__ import annotations

import json

import pytest

from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import BookSnapshot, Heartbeat, ParseError, SyncRule

from _venue_e2e import (
    FAULTS, Server, clean_session, fault_session, parse_totality_tests, replay_generated_cli,
    resync_messages_were_sent,
)


def venue(name="hashkey", *pairs):
    v = market_data_venue(name)
    v.subscribe_messages(list(pairs))
    return v


DOC_DEPTH = ('{"symbol":"BTCUSDT","symbolName":"BTCUSDT","topic":"depth","params":{"realtimeInterval":"24h",'
             '"binary":"false"},"data":[{"e":301,"s":"BTCUSDT","t":1565600357643,"v":"112801745_18",'
             '"b":[["11371.49","0.0014"],["11371.12","0.2"],["11369.97","0.3523"]],'
             '"a":[["11375.41","0.0053"],["11375.42","0.0043"]]}],"f":true,"sendTime":1565600357643}')
DOC_TRADE = ('{"symbol":"BTCUSDT","symbolName":"BTCUSDT","topic":"trade","params":{"realtimeInterval":"24h",'
             '"binary":"false"},"data":[{"v":"1447335405363150849","t":1565600357643,"p":"11369.95",'
             '"q":"0.0011","m":true}],"f":false,"sendTime":1565600357643}')
DOC_SUB_OK = '{"topic":"depth","event":"sub","params":{"binary":false},"symbol":"BTCUSDT","code":"0","msg":"Success"}'


def test_registry_rules_symbols_and_messages():
    spot, perp = venue(), venue("hashkey_perpetual")
    assert spot.sync_rule is SyncRule.SNAPSHOTS and perp.sync_rule is SyncRule.SNAPSHOTS
    assert market_data_venue("hashkey_global").name == "hashkey"
    assert spot.to_venue_symbol("BTC-USDT") == "BTCUSDT"
    assert perp.to_venue_symbol("BTC-USDT") == "BTCUSDT-PERPETUAL"
    assert perp.from_venue_symbol("BTCUSDT-PERPETUAL") == "BTC-USDT"
    with pytest.raises(ParseError):
        spot.from_venue_symbol("OMGBUSD")  # not asked for, not listed: never split on a suffix
    subs = [json.loads(m) for m in spot.subscribe_messages(["BTC-USDT"])]
    assert subs == [{"symbol": "BTCUSDT", "topic": t, "event": "sub", "params": {"binary": False}}
                    for t in ("depth", "trade")]
    assert [json.loads(m)["event"] for m in spot.resync_messages("BTC-USDT")] == ["cancel", "sub"]
    ep = spot.ws_endpoint(None)
    assert ep.url == "wss://stream-glb.hashkey.com/quote/ws/v1" and ep.ping_interval == 10.0
    moved = spot.with_urls(rest="http://127.0.0.1:5", ws="ws://127.0.0.1:6/q")
    assert moved.ws_endpoint(None).url == "ws://127.0.0.1:6/q"
    assert moved.rest_snapshot_request("BTC-USDT").url == "http://127.0.0.1:5/quote/v1/depth"


def test_documented_frames():
    v = venue("hashkey", "BTC-USDT")
    (s,) = v.parse_message(DOC_DEPTH)
    assert s == BookSnapshot("BTC-USDT", [["11371.49", "0.0014"], ["11371.12", "0.2"], ["11369.97", "0.3523"]],
                             [["11375.41", "0.0053"], ["11375.42", "0.0043"]], 1565600357643, 1565600357.643)
    (t,) = v.parse_message(DOC_TRADE)
    assert (t.trade_id, t.price, t.amount, t.side) == ("1447335405363150849", "11369.95", "0.0011", "sell")
    assert v.parse_message(DOC_SUB_OK) == [] and v.parse_message('{"pong":1691473283965}') == [Heartbeat()]
    snap = v.parse_snapshot("BTC-USDT", b'{"t":1700000000000,"b":[["1.5","2"]],"a":[["1.6","3"]]}')
    assert snap.update_id == 1700000000000 and snap.asks == [["1.6", "3"]]
    for bad in (b"", b'{"code":-100011,"msg":"x"}', b'{"t":1,"b":[[1.5,2]],"a":[]}'):
        with pytest.raises(ParseError):
            v.parse_snapshot("BTC-USDT", bad)


class HashKeyServer(Server):
    """Snapshot-only ``depth``: every change of the book is pushed as the whole book, ``t`` rising."""

    decimals = 2

    def __init__(self, pairs, perpetual=False, seed=1, **kw):
        super().__init__(pairs, seed, **kw)
        self.suffix = "-PERPETUAL" if perpetual else ""
        self.t = 1565600357643
        self.tid = 1447335405363150849

    def sym(self, pair):
        return pair.replace("-", "") + self.suffix

    def decode(self, text):
        msg = json.loads(text)
        pair = next(p for p in self.pairs if self.sym(p) == msg["symbol"])
        op = "subscribe" if msg["event"] == "sub" else "unsubscribe"
        return [(op, "book" if msg["topic"] == "depth" else "trades", pair)]

    def _push(self, pair, m):
        self.t += 11
        bids, asks = m.book.levels()
        return json.dumps({"symbol": self.sym(pair), "topic": "depth", "data": [
            {"e": 301, "s": self.sym(pair), "t": self.t, "v": f"{self.t}_18",
             "b": [list(b) for b in bids], "a": [list(a) for a in asks]}], "f": False})

    def snapshot(self, pair, m):
        return self._push(pair, m)

    def diff(self, pair, m, bids, asks):
        return self._push(pair, m)

    def heartbeat(self, pair):
        return '{"pong":1691473283965}'

    def trade(self, pair, price, size, side):
        self.tid += 1
        return json.dumps({"symbol": self.sym(pair), "topic": "trade", "data": [
            {"v": str(self.tid), "t": self.t, "p": price, "q": size, "m": side == "sell"}], "f": False}), str(self.tid)

    def rows_of(self, data):
        return data["data"][0]["b"]


PAIRS = ["BTC-USDT", "ETH-USDT", "SOL-USDC"]


@pytest.mark.parametrize("name,perp", [("hashkey", False), ("hashkey_perpetual", True)])
def test_e2e_clean_session(name, perp):
    h = clean_session(venue(name), HashKeyServer(PAIRS, perpetual=perp, seed=3), 2500)
    t = h.totals()
    assert t["gaps"] == 0 and t["resyncs"] == 0 and t["tracker_bad_frames"] == 0, t
    for p in PAIRS:
        s = h.tracker.stats(p)
        c = h.server.counts[p]
        assert s.snapshots == c["snapshot"] + c["diff"] > 100  # every push is a whole book
        assert h.book_matches(p)
        tid, price, size, side = h.server.last_trade[p]
        lt = h.tracker.last_trade(p)
        assert (lt.trade_id, lt.price, lt.amount, lt.side) == (tid, price, size, side)


@pytest.mark.parametrize("kind", FAULTS)
def test_e2e_fault_is_harmless_or_repaired(kind):
    h, t = fault_session(venue("hashkey"), HashKeyServer(PAIRS, seed=4), kind)
    assert t["gaps"] == 0, t  # no ids to break: a lost or repeated push is replaced by the next
    if kind == "swap":  # the older push arriving second is dropped
        assert t["stale_dropped"] >= 1, t
    if kind in ("corrupt", "truncate", "garbage"):
        assert t["tracker_bad_frames"] >= 1, t
    if kind == "corrupt":  # a bad book is rejected (counted as a bad frame) and resubscribed
        assert resync_messages_were_sent(h, "BTC-USDT") or any(
            resync_messages_were_sent(h, p) for p in PAIRS), h.driver.sent[-4:]


def test_generated_recording_replays_clean_through_the_cli(tmp_path):
    server = HashKeyServer(PAIRS, perpetual=True, seed=5)
    result = replay_generated_cli(tmp_path, server, venue("hashkey_perpetual"), "hashkey_perpetual", 2000)
    for p in PAIRS:
        assert result["pairs"][p]["snapshots"] == server.counts[p]["snapshot"] + server.counts[p]["diff"]


(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    [DOC_DEPTH, DOC_TRADE, DOC_SUB_OK], lambda: (venue("hashkey", "BTC-USDT"),))
