"""Bybit v5 market-data translation, on the example messages of Bybit's documentation."""
from __future__ import annotations

import json

import pytest

from hbconnect.exchanges import market_data_venue
from hbconnect.exchanges.bybit import BybitMarketData
from hbconnect.market.messages import BookDiff, BookSnapshot, Heartbeat, Ignored, ParseError, SyncRule, Trade

SPOT = market_data_venue("bybit")
LINEAR = market_data_venue("bybit_perpetual")

# Orderbook push examples (Bybit docs, orderbook.50.BTCUSDT snapshot / delta)
DOC_SNAPSHOT = """{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1671179923028,
"data":{"s":"BTCUSDT","b":[["17440.00","40.833"],["17439.50","0.513"],["17416.00","6.156"],
["17415.50","32.268"]],"a":[["17440.50","78.815"],["17441.00","8.858"],["17464.50","4.901"],
["17465.00","5.744"]],"u":13079592,"seq":22520573250},"cts":1671179923026}"""
DOC_DELTA = """{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1671179923046,
"data":{"s":"BTCUSDT","b":[],"a":[["17440.50","78.857"],["17442.00","1.510"]],
"u":13079593,"seq":22520573251},"cts":1671179923044}"""
# Trade push example
DOC_TRADE = """{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,
"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick",
"i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}"""


def test_registry_and_rules():
    assert SPOT.name == "bybit" and LINEAR.name == "bybit_perpetual"
    fresh = market_data_venue("bybit_linear")
    assert type(fresh) is type(LINEAR) and fresh.name == "bybit_perpetual" and fresh is not LINEAR
    assert SPOT.sync_rule is SyncRule.CONTIGUOUS
    assert SPOT.max_depth == 50 == SPOT.depth
    assert SPOT.snapshot_request("BTC-USDT") is None
    assert SPOT.ws_endpoint(None).url == "wss://stream.bybit.com/v5/public/spot"
    ep = LINEAR.ws_endpoint(None)
    assert ep.url == "wss://stream.bybit.com/v5/public/linear"
    assert json.loads(ep.ping_message) == {"op": "ping"} and ep.ping_interval == 20.0
    deep = BybitMarketData("bybit", "spot", depth=200)
    assert deep.max_depth == 200
    assert json.loads(deep.subscribe_messages(["BTC-USDT"])[0])["args"][0] == "orderbook.200.BTCUSDT"
    with pytest.raises(ValueError):
        BybitMarketData("bybit", "spot", depth=25)


def test_symbols():
    venue = BybitMarketData("bybit", "spot")
    assert venue.to_venue_symbol("btc-usdt") == "BTCUSDT"
    assert venue.from_venue_symbol("BTCUSDT") == "BTC-USDT"
    venue.to_venue_symbol("1000PEPE-USDC")
    assert venue.from_venue_symbol("1000PEPEUSDC") == "1000PEPE-USDC"
    # never guessed from a quote suffix: a symbol maps back once the venue lists it
    with pytest.raises(ParseError):
        venue.from_venue_symbol("ETHBTC")
    listing = {"retCode": 0, "retMsg": "OK", "result": {"category": "spot", "list": [
        {"symbol": "ETHBTC", "baseCoin": "ETH", "quoteCoin": "BTC", "status": "Trading"},
        {"symbol": 7, "baseCoin": "X", "quoteCoin": "Y"}]}}
    assert venue.load_symbols(json.dumps(listing)) == 1          # the malformed entry is skipped
    assert venue.from_venue_symbol("ETHBTC") == "ETH-BTC"
    with pytest.raises(ParseError):
        venue.load_symbols(json.dumps({"retCode": 10001, "retMsg": "params error"}))
    with pytest.raises(ParseError):
        venue.from_venue_symbol("XYZ")


def test_subscribe_messages_respect_the_spot_args_limit():
    pairs = [f"C{i}-USDT" for i in range(12)]
    msgs = [json.loads(m) for m in SPOT.subscribe_messages(pairs)]
    assert all(m["op"] == "subscribe" and len(m["args"]) <= 10 for m in msgs)
    topics = [t for m in msgs for t in m["args"]]
    assert topics[:2] == ["orderbook.50.C0USDT", "publicTrade.C0USDT"]
    assert len(topics) == 24 and len(set(topics)) == 24
    assert all(len(m) <= 21000 for m in SPOT.subscribe_messages(pairs))
    unsub = [json.loads(m) for m in LINEAR.unsubscribe_messages(["BTC-USDT"])]
    assert unsub == [{"op": "unsubscribe", "args": ["orderbook.50.BTCUSDT", "publicTrade.BTCUSDT"]}]


def test_resync_resubscribes_the_book_topic():
    msgs = [json.loads(m) for m in SPOT.resync_messages("BTC-USDT")]
    assert msgs == [{"op": "unsubscribe", "args": ["orderbook.50.BTCUSDT"]},
                    {"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}]


def test_doc_snapshot_and_delta():
    (snap,) = SPOT.parse_message(DOC_SNAPSHOT)
    assert isinstance(snap, BookSnapshot)
    assert snap.pair == "BTC-USDT" and snap.update_id == 13079592
    assert snap.bids[0] == ["17440.00", "40.833"] and snap.asks[-1] == ["17465.00", "5.744"]
    assert snap.timestamp == pytest.approx(1671179923.028) and snap.checksum is None
    (diff,) = LINEAR.parse_message(DOC_DELTA.encode())
    assert isinstance(diff, BookDiff)
    assert (diff.first_id, diff.last_id, diff.prev_id) == (13079593, 13079593, None)
    assert diff.bids == [] and diff.asks == [["17440.50", "78.857"], ["17442.00", "1.510"]]
    assert diff.last_id == snap.update_id + 1  # CONTIGUOUS: the next delta is u + 1


def test_delta_with_u_1_is_a_service_restart_snapshot():
    restart = DOC_DELTA.replace('"u":13079593', '"u":1')
    (ev,) = SPOT.parse_message(restart)
    assert isinstance(ev, BookSnapshot) and ev.update_id == 1
    assert ev.asks == [["17440.50", "78.857"], ["17442.00", "1.510"]]


def test_doc_trade():
    (t,) = SPOT.parse_message(DOC_TRADE)
    assert t == Trade("BTC-USDT", "20f43950-d8dd-5b31-9112-a178eb6023af", "16578.50", "0.001",
                      "buy", pytest.approx(1672304486.865))

PONG = ('{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a",'
        '"op":"ping"}')
SUB_FAILED = ('{"success":false,"ret_msg":"error:handler not found,topic:orderbook.50.X",'
              '"conn_id":"3cd84cb1","req_id":"","op":"subscribe"}')
DOC_FRAMES = [DOC_SNAPSHOT, DOC_DELTA, DOC_TRADE, PONG, SUB_FAILED]


def test_control_frames():
    other_pong = '{"args":["1672916271846"],"op":"pong"}'
    assert LINEAR.parse_message(PONG) == [Heartbeat()]
    assert SPOT.parse_message(other_pong) == [Heartbeat()]
    ack = ('{"success":true,"ret_msg":"","conn_id":"3cd84cb1","req_id":"",'
           '"op":"subscribe"}')
    assert SPOT.parse_message(ack) == []
    assert SPOT.parse_message(SUB_FAILED) == []


@pytest.mark.parametrize("frame", [
    "",
    "{",
    DOC_SNAPSHOT[:150],
    "[1,2]",
    '{"op":"auth"}',
    DOC_SNAPSHOT.replace('"type":"snapshot"', '"type":"partial"'),
    DOC_SNAPSHOT.replace('"u":13079592', '"u":"x"'),
    DOC_SNAPSHOT.replace('["17439.50","0.513"]', '["17439.50"]'),
    DOC_SNAPSHOT.replace('["17439.50","0.513"]', '[17439.5,0.513]'),
    DOC_SNAPSHOT.replace('"b":[', '"b":{"x":[').replace(']],"a"', ']]},"a"'),
    DOC_DELTA.replace('"data":{', '"data":[{').replace('},"cts"', '}],"cts"'),
    DOC_TRADE.replace('"S":"Buy"', '"S":"buy"'),
    DOC_TRADE.replace('"i":"20f43950-d8dd-5b31-9112-a178eb6023af",', ''),
    '{"topic":"tickers.BTCUSDT"}',
    '{"topic":5}',
])
def test_malformed_frames_raise_parse_error(frame):
    with pytest.raises(ParseError):
        SPOT.parse_message(frame)


def test_pushes_of_topics_not_subscribed_are_ignored_not_bad():
    (ev,) = SPOT.parse_message(DOC_SNAPSHOT.replace('"orderbook.50.', '"orderbook.200.'))  # another depth
    assert isinstance(ev, Ignored) and "orderbook.200." in ev.what
    (ev,) = SPOT.parse_message('{"topic":"tickers.BTCUSDT","data":{}}')
    assert isinstance(ev, Ignored) and "tickers.BTCUSDT" in ev.what


# ---- end to end: generated sessions through the tracker, with faults ----

from _venue_e2e import (  # noqa: E402
    FAULTS, Server, assert_clean, clean_session, fault_session, parse_totality_tests,
    replay_generated_session, resync_messages_were_sent,
)


class BybitServer(Server):
    """Bybit v5 ``orderbook.50``/``publicTrade`` as documented: ``u`` +1 per push of the topic,
    snapshot on (re)subscribe; ``restart_at``: a service restart (a delta with ``u = 1`` carrying
    the whole book) after that many deltas of each pair."""

    decimals = 2

    def __init__(self, pairs, seed=1, restart_at=None, **kw):
        super().__init__(pairs, seed, **kw)
        self.sym = {p.replace("-", ""): p for p in self.pairs}
        self.u = {p: 10_000 * (i + 1) for i, p in enumerate(self.pairs)}
        self.restart_at = restart_at
        self.ts = 1671179923028
        self.trade_id = 0

    def decode(self, text):
        msg = json.loads(text)
        out = []
        for topic in msg["args"]:
            if topic.startswith("orderbook.50."):
                out.append((msg["op"], "book", self.sym[topic[13:]]))
            elif topic.startswith("publicTrade."):
                out.append((msg["op"], "trades", self.sym[topic[12:]]))
        return out

    def _push(self, pair, kind, bids, asks):
        self.ts += 20
        s = pair.replace("-", "")
        return json.dumps({"topic": f"orderbook.50.{s}", "type": kind, "ts": self.ts,
                           "data": {"s": s, "b": [list(b) for b in bids], "a": [list(a) for a in asks],
                                    "u": self.u[pair], "seq": self.u[pair] * 7},
                           "cts": self.ts - 2})

    def snapshot(self, pair, m):
        return self._push(pair, "snapshot", *m.book.levels())

    def diff(self, pair, m, bids, asks):
        if self.restart_at is not None and self.counts[pair]["diff"] == self.restart_at:
            self.u[pair] = 1  # service restart: "u"=1 carries the whole book
            return self._push(pair, "delta", *m.book.levels())
        self.u[pair] += 1
        return self._push(pair, "delta", bids, asks)

    def skipped(self, pair, m, bids, asks):
        self.u[pair] += 1

    def heartbeat(self, pair):
        return '{"success":true,"ret_msg":"pong","conn_id":"0970e817","op":"ping"}'

    def trade(self, pair, price, size, side):
        self.trade_id += 1
        tid = f"20f43950-d8dd-5b31-9112-{self.trade_id:012d}"
        return json.dumps({"topic": f"publicTrade.{pair.replace('-', '')}", "type": "snapshot",
                           "ts": self.ts, "data": [{"T": self.ts, "s": pair.replace("-", ""),
                                                    "S": "Buy" if side == "buy" else "Sell",
                                                    "v": size, "p": price, "L": "PlusTick",
                                                    "i": tid, "BT": False}]}), tid

    def rows_of(self, data):
        return data["data"]["b"] or data["data"]["a"]


PAIRS = ["BTC-USDT", "ETH-USDT", "XRP-USDC"]


@pytest.mark.parametrize("venue", [SPOT, LINEAR], ids=["spot", "linear"])
def test_e2e_clean_session(venue):
    h = clean_session(venue, BybitServer(PAIRS, seed=5))
    assert_clean(h, checksummed=False)
    assert h.driver.sent == venue.subscribe_messages(PAIRS)


def test_e2e_service_restart_u_1_overwrites_the_book_without_a_gap():
    h = clean_session(SPOT, BybitServer(PAIRS, seed=6, restart_at=150), frames=1500)
    t = h.totals()
    assert t["gaps"] == 0 and t["resyncs"] == 0 and t["tracker_bad_frames"] == 0, t
    for p in PAIRS:
        s = h.tracker.stats(p)
        assert s.snapshots == 2  # the subscription's and the restart's
        assert s.last_update_id == h.server.u[p] < 1000  # counting again from 1
        assert h.book_matches(p)


@pytest.mark.parametrize("kind", FAULTS)
def test_e2e_fault_is_detected_and_repaired(kind):
    h, t = fault_session(SPOT, BybitServer(PAIRS, seed=7), kind)
    if kind == "duplicate":  # the repeat's u is not above the book's: dropped, harmless
        assert t["stale_dropped"] >= 1 and t["resyncs"] == 0 and t["gaps"] == 0
        return
    assert t["resyncs"] >= 1, t
    if kind in ("drop", "swap", "truncate", "garbage"):
        assert t["gaps"] >= 1, t  # u skipped a value
    if kind in ("corrupt", "truncate", "garbage"):
        assert t["tracker_bad_frames"] >= 1, t
    if kind != "close":
        assert any(resync_messages_were_sent(h, p) for p in PAIRS)


def test_e2e_generated_recording_replays_clean(tmp_path):
    server = BybitServer(PAIRS, seed=8)
    result = replay_generated_session(tmp_path, server, LINEAR, "bybit_perpetual")
    for p in PAIRS:
        assert result.pairs[p]["diffs_applied"] == server.counts[p]["diff"]


(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    DOC_FRAMES, lambda: (SPOT, LINEAR))
