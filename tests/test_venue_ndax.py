"""NDAX (AlphaPoint gateway) market data: the {m,i,n,o} framing with exact number text, the
documented rows, a generated session in the documented protocol (snapshot reply to
SubscribeLevel2, Level2UpdateEvent rows with rising MDUpdateId, numbers as JSON numbers with
trailing zeros) through the real tracker and ``hbconnect replay``, faults, fuzz."""
from __future__ import annotations

import json

import pytest

from hbconnect.exchanges import market_data_venue
from hbconnect.exchanges._alphapoint import decode
from hbconnect.market.messages import BookDiff, BookSnapshot, Heartbeat, ParseError, SyncRule

from _venue_e2e import FAULTS, Harness, Server, clean_session, parse_totality_tests, replay_generated_cli


def frame(m, i, n, o_text):
    return json.dumps({"m": m, "i": i, "n": n, "o": o_text})


# NDAX docs, "Orderbook - Level 2" row layout and "Executed Trades" row layout, as the gateway sends them
DOC_SNAPSHOT = frame(1, 2, "SubscribeLevel2", "[[26,1,1534862990343,0,6423.57,0,6423.57,1,0.96183964,0],"
                                              "[27,1,1534862990343,0,6423.57,0,6436.53,1,1.5,1]]")
DOC_UPDATE = frame(3, 2, "Level2UpdateEvent", "[[28,1,1534862990400,1,6423.57,0,6423.57,1,0.50,0],"
                                              "[29,1,1534862990401,2,6423.57,0,6436.53,1,0,1]]")
DOC_TRADES = frame(3, 4, "TradeDataUpdateEvent", "[[1713390,1,0.25643269,6419.77,203100209,203101083,"
                                                 "1534863262000,2,1,0,0]]")
DOC_PONG = frame(1, 1, "Ping", '{"msg":"PONG"}')
DOC_ERROR = frame(5, 6, "SubscribeLevel2", '{"result":false,"errormsg":"Invalid Request","errorcode":100}')


def test_framing_keeps_number_text():
    m, n, o = decode(frame(3, 9, "Level2UpdateEvent", "[[1,0,2,0,1.1502E-4,0,0.00011502,5,100.0,1]]"), "t")
    assert (m, n) == (3, "Level2UpdateEvent") and o == [["1", "0", "2", "0", "1.1502E-4", "0", "0.00011502",
                                                         "5", "100.0", "1"]]
    for bad in ("", "{", '{"m":"3","n":"x","o":"[]"}', frame(3, 1, "x", "[1,"), frame(3, 1, "x", "[NaN]")):
        with pytest.raises(ParseError):
            decode(bad, "t")


def test_registry_rules_and_messages():
    v = market_data_venue("ndax")
    assert v.sync_rule is SyncRule.TIMESTAMP and v.max_depth == 100
    assert v.to_venue_symbol("BTC-CAD") == "1" and v.from_venue_symbol("74") == "BTC-USD"
    with pytest.raises(ValueError):
        v.to_venue_symbol("SOL-CAD")  # no documented InstrumentId: never guessed
    sub = [json.loads(t) for t in v.subscribe_messages(["BTC-CAD", "ETH-CAD"])]
    assert [(s["m"], s["n"], json.loads(s["o"])) for s in sub] == [
        (0, "SubscribeLevel2", {"OMSId": 1, "InstrumentId": 1, "Depth": 100}),
        (0, "SubscribeTrades", {"OMSId": 1, "InstrumentId": 1, "IncludeLastCount": 1}),
        (0, "SubscribeLevel2", {"OMSId": 1, "InstrumentId": 3, "Depth": 100}),
        (0, "SubscribeTrades", {"OMSId": 1, "InstrumentId": 3, "IncludeLastCount": 1})]
    ids = [s["i"] for s in sub]
    assert ids == sorted(set(ids)) and 0 not in ids  # "non zero and increased with every message"
    assert [json.loads(t)["n"] for t in v.resync_messages("BTC-CAD")] == ["UnsubscribeLevel2", "SubscribeLevel2"]
    assert v.ws_endpoint(None).url == "wss://api.ndax.io/WSGateway/"
    assert v.with_urls(ws="ws://127.0.0.1:9/WSGateway/").ws_endpoint(None).url == "ws://127.0.0.1:9/WSGateway/"
    listing = json.dumps([{"OMSId": 1, "InstrumentId": 80, "Symbol": "SOLCAD", "Product1Symbol": "SOL",
                           "Product2Symbol": "CAD"}])
    assert v.load_symbols(listing) == 1 and v.to_venue_symbol("SOL-CAD") == "80"
    assert v.from_venue_symbol("1") == "BTC-CAD"  # the documented ids stay


def test_documented_frames():
    v = market_data_venue("ndax")
    v.subscribe_messages(["BTC-CAD"])
    (s,) = v.parse_message(DOC_SNAPSHOT)
    assert s == BookSnapshot("BTC-CAD", [["6423.57", "0.96183964"]], [["6436.53", "1.5"]], 27)
    (d,) = v.parse_message(DOC_UPDATE)
    assert d == BookDiff("BTC-CAD", [["6423.57", "0.50"]], [["6436.53", "0"]], 28, 29)  # ActionType 2 deletes
    (t,) = v.parse_message(DOC_TRADES)
    assert (t.pair, t.trade_id, t.price, t.amount, t.side) == ("BTC-CAD", "1713390", "6419.77", "0.25643269", "sell")
    assert v.parse_message(DOC_PONG) == [Heartbeat()] and v.parse_message(DOC_ERROR) == []
    (empty,) = v.parse_message(frame(1, 2, "SubscribeLevel2", "[]"))  # answered to request i=2: BTC-CAD
    assert empty == BookSnapshot("BTC-CAD", [], [], 0)


class NdaxServer(Server):
    """The AlphaPoint gateway: the reply to SubscribeLevel2 (same ``i``) is the book, then
    Level2UpdateEvent rows numbered by a rising MDUpdateId; numbers are JSON numbers written
    with the market's exact text (trailing zeros included)."""

    decimals = 2
    IDS = {"BTC-CAD": 1, "ETH-CAD": 3, "BTC-USD": 74}

    def __init__(self, pairs, seed=1, **kw):
        super().__init__(pairs, seed, **kw)
        self.md = 1000
        self.tid = 1713390
        self.req_i = {}

    def decode(self, text):
        msg = json.loads(text)
        o = json.loads(msg["o"])
        pair = next(p for p, i in self.IDS.items() if i == o["InstrumentId"])
        if msg["n"] == "SubscribeLevel2":
            self.req_i[pair] = msg["i"]
        op = "subscribe" if msg["n"].startswith("Subscribe") else "unsubscribe"
        return [(op, "book" if "Level2" in msg["n"] else "trades", pair)]

    def _rows(self, pair, bids, asks, action):
        rows = []
        for side, levels in ((0, bids), (1, asks)):
            for p, q in levels:
                self.md += 1
                act = 2 if q == "0" else action
                rows.append(f"[{self.md},0,1534862990343,{act},{p},0,{p},{self.IDS[pair]},{q},{side}]")
        return "[" + ",".join(rows) + "]"

    def snapshot(self, pair, m):
        return frame(1, self.req_i[pair], "SubscribeLevel2", self._rows(pair, *m.book.levels(), 0))

    def diff(self, pair, m, bids, asks):
        return frame(3, 0, "Level2UpdateEvent", self._rows(pair, bids, asks, 1))

    def heartbeat(self, pair):
        return DOC_PONG

    def trade(self, pair, price, size, side):
        self.tid += 1
        o = f"[[{self.tid},{self.IDS[pair]},{size},{price},1,2,1534863262000,0,{0 if side == 'buy' else 1},0,0]]"
        return frame(3, 0, "TradeDataUpdateEvent", o), str(self.tid)

    def corrupt(self, frame_text):
        msg = json.loads(frame_text)
        msg["o"] = msg["o"].replace(",", ",x", 1)  # not a number any more: the payload is refused
        return json.dumps(msg)


PAIRS = ["BTC-CAD", "ETH-CAD", "BTC-USD"]


def test_e2e_clean_session_keeps_exact_text():
    h = clean_session(market_data_venue("ndax"), NdaxServer(PAIRS, seed=3), 2500)
    t = h.totals()
    assert t["gaps"] == 0 and t["resyncs"] == 0 and t["tracker_bad_frames"] == 0, t
    for p in PAIRS:
        s = h.tracker.stats(p)
        assert s.snapshots == 1 and s.diffs_applied == h.server.counts[p]["diff"] > 100
        assert h.book_matches(p)  # sizes like "1.2300" kept as sent, not as floats
        tid, price, size, side = h.server.last_trade[p]
        lt = h.tracker.last_trade(p)
        assert (lt.trade_id, lt.price, lt.amount, lt.side) == (tid, price, size, side)


@pytest.mark.parametrize("kind", FAULTS)
def test_e2e_faults_counted_and_repaired_by_resync(kind):
    """MDUpdateId orders updates (a repeat or a late one is stale) but is not promised to step by
    one, so a lost update cannot be seen from the ids; unreadable frames are counted. Every fault
    is repaired by a resync (a reconnect does one; ``tracker.resync`` is the operator's/timer's)."""
    h = Harness(market_data_venue("ndax"), NdaxServer(PAIRS, seed=4))
    h.run(400)
    assert all(h.book_matches(p) for p in PAIRS)
    assert h.run(600, {0: kind}) == [kind]
    t = h.totals()
    assert t["gaps"] == 0, t
    if kind == "duplicate":
        assert t["stale_dropped"] >= 1 and all(h.book_matches(p) for p in PAIRS), t
    if kind == "swap":
        assert t["stale_dropped"] >= 1, t  # the older update arrived second: dropped
    if kind in ("corrupt", "truncate", "garbage"):
        assert t["tracker_bad_frames"] == 1, t
    if kind == "close":  # the reconnect resubscribed: fresh snapshots
        assert all(h.tracker.stats(p).snapshots == 2 for p in PAIRS)
    for p in PAIRS:
        h.tracker.resync(p, "periodic")
    h.settle()
    assert all(h.book_matches(p) for p in PAIRS)


def test_generated_recording_replays_clean_through_the_cli(tmp_path):
    server = NdaxServer(PAIRS, seed=5)
    result = replay_generated_cli(tmp_path, server, market_data_venue("ndax"), "ndax", 2000)
    for p in PAIRS:
        assert result["pairs"][p]["diffs_applied"] == server.counts[p]["diff"] > 100


def _asking():
    v = market_data_venue("ndax")
    v.subscribe_messages(["BTC-CAD"])
    return v


(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    [DOC_SNAPSHOT, DOC_UPDATE, DOC_TRADES, DOC_PONG, DOC_ERROR], lambda: (_asking(),))
