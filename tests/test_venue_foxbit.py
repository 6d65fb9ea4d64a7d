"""FoxBit spot (WebSocket v3) market data: translation of the documented frames, a generated session
in the documented protocol (snapshot on subscribe, update id ranges per market) replayed through the
real tracker and ``hbconnect replay``, faults, fuzz."""
from __future__ import annotations

import json

import pytest

from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import (
    BookDiff, BookSnapshot, Heartbeat, ParseError, Resync, SyncRule,
)

from _venue_e2e import (
    FAULTS, Server, assert_clean, assert_sequenced_fault_repaired, clean_session, fault_session,
    parse_totality_tests, replay_generated_cli,
)


def venue(*pairs):
    v = market_data_venue("foxbit")
    v.subscribe_messages(list(pairs))
    return v


# Foxbit WebSocket API 3.0 shapes (docs.foxbit.com.br/ws/v3): ack, snapshot, update, trade, pong, error
DOC_ACK = '{"type":"subscribe","event":"success","params":{"channel":"orderbook-100","market_symbol":"btcbrl"}}'
DOC_SNAPSHOT = ('{"type":"subscribe","event":"snapshot","params":{"channel":"orderbook-100","market_symbol":"solusdt"},'
                '"data":{"sequence_id":3556657,"asks":[["119.74","16.029"],["119.75","45.799"],["119.76","1.938"]],'
                '"bids":[["119.49","5.142"],["119.48","1.516"],["119.45","1.801"]]}}')
DOC_UPDATE = ('{"type":"subscribe","event":"update","params":{"channel":"orderbook-100","market_symbol":"btcbrl"},'
              '"data":{"ts":1790137953142,"first_sequence_id":12723019,"last_sequence_id":12723020,'
              '"bids":[["445755","0"],["446057","0.05327904"]],"asks":[]}}')
DOC_TRADE = ('{"type":"subscribe","event":"update","params":{"channel":"trades","market_symbol":"btcbrl"},'
             '"data":[{"id":46508798,"quantity":"0.00000401","price":"446198.0","taker_side":"BUY","ts":1790137973604}]}')
DOC_PONG = '{"type":"message","event":"success","params":{"channel":"ping"},"data":{"message":"pong"}}'
DOC_ERROR = ('{"type":"subscribe","event":"error","message":"Invalid market \'nopebrl\' for channel \'orderbook\'",'
             '"params":{"channel":"orderbook-100","market_symbol":"nopebrl","snapshot":true}}')


def test_registry_rules_and_messages():
    v = venue()
    assert v.sync_rule is SyncRule.SEQ_RANGE and v.max_pairs_per_connection == 25
    assert v.ws_message_rate == 5.0 and v.ws_connect_rate == 5.0
    assert v.to_venue_symbol("BTC-BRL") == "btcbrl" and v.from_venue_symbol("btcbrl") == "BTC-BRL"
    with pytest.raises(ParseError):
        v.from_venue_symbol("ethbrl")
    (sub,) = v.subscribe_messages(["BTC-BRL"])
    assert json.loads(sub) == {"type": "subscribe", "params": [
        {"channel": "orderbook-100", "market_symbol": "btcbrl", "snapshot": True},
        {"channel": "trades", "market_symbol": "btcbrl"}]}
    msgs = v.subscribe_messages([f"C{i}-BRL" for i in range(20)])
    assert [len(json.loads(m)["params"]) for m in msgs] == [25, 15]  # 25 subscriptions per message
    assert json.loads(v.resync_messages("BTC-BRL")[0])["params"] == [
        {"channel": "orderbook-100", "market_symbol": "btcbrl", "snapshot": True}]
    assert json.loads(v.unsubscribe_messages(["BTC-BRL"])[0])["type"] == "unsubscribe"
    ep = v.ws_endpoint(None)
    assert ep.url == "wss://api.foxbit.com.br/ws/v3/public" and ep.ping_interval == 20.0
    assert json.loads(ep.ping_message) == {"type": "message", "params": [{"channel": "ping"}]}
    moved = v.with_urls(rest="http://127.0.0.1:7", ws="ws://127.0.0.1:8/ws")
    assert moved.ws_endpoint(None).url == "ws://127.0.0.1:8/ws"
    assert moved.rest_snapshot_request("BTC-BRL").url == "http://127.0.0.1:7/rest/v3/markets/btcbrl/orderbook"
    with pytest.raises(ValueError):
        type(v)(interval=50)  # not a documented interval


def test_documented_frames():
    v = venue("BTC-BRL", "SOL-USDT")
    assert v.parse_message(DOC_ACK) == [] and v.parse_message(DOC_PONG) == [Heartbeat()]
    (s,) = v.parse_message(DOC_SNAPSHOT)
    assert s == BookSnapshot("SOL-USDT", [["119.49", "5.142"], ["119.48", "1.516"], ["119.45", "1.801"]],
                             [["119.74", "16.029"], ["119.75", "45.799"], ["119.76", "1.938"]], 3556657)
    (d,) = v.parse_message(DOC_UPDATE)
    assert d == BookDiff("BTC-BRL", [["445755", "0"], ["446057", "0.05327904"]], [], 12723019, 12723020,
                         None, 1790137953.142)
    (t,) = v.parse_message(DOC_TRADE)
    assert (t.trade_id, t.price, t.amount, t.side) == ("46508798", "446198.0", "0.00000401", "buy")
    assert v.parse_message(DOC_ERROR) == []  # an unknown market: logged; the venue closes the socket
    err = DOC_ERROR.replace("nopebrl", "btcbrl")
    assert v.parse_message(err) == [Resync("BTC-BRL", "venue error")]
    with pytest.raises(ParseError):
        v.parse_message(DOC_UPDATE.replace('"first_sequence_id":12723019', '"first_sequence_id":12723021'))
    r = v.parse_snapshot("BTC-BRL", b'{"sequence_id":12723359,"timestamp":"x","bids":[["1","2"]],"asks":[]}')
    assert r.update_id == 12723359 and r.bids == [["1", "2"]]


class FoxbitServer(Server):
    """FoxBit v3: a snapshot (``sequence_id``) for each subscribe with ``snapshot: true``; updates
    covering 1-3 sequence ids per market; the ids advance whether or not anyone listens."""

    decimals = 2

    def __init__(self, pairs, seed=1, **kw):
        super().__init__(pairs, seed, **kw)
        self.seq = {p: 12723000 + 100_000 * i for i, p in enumerate(self.pairs)}
        self.ts = 1790137953142
        self.tid = 46508798

    def decode(self, text):
        msg = json.loads(text)
        out = []
        for e in msg["params"]:
            pair = next(p for p in self.pairs if p.replace("-", "").lower() == e["market_symbol"])
            kind = "trades" if e["channel"] == "trades" else "book"
            out.append((msg["type"], kind, pair))
        return out

    def _frame(self, event, pair, data, channel="orderbook-100"):
        return json.dumps({"type": "subscribe", "event": event, "params": {
            "channel": channel, "market_symbol": pair.replace("-", "").lower()}, "data": data})

    def snapshot(self, pair, m):
        bids, asks = m.book.levels()
        return self._frame("snapshot", pair, {"sequence_id": self.seq[pair], "asks": [list(a) for a in asks],
                                              "bids": [list(b) for b in bids]})

    def diff(self, pair, m, bids, asks):
        first = self.seq[pair] + 1
        self.seq[pair] += self.rng.randint(1, 3)
        self.ts += 100
        return self._frame("update", pair, {"ts": self.ts, "first_sequence_id": first,
                                            "last_sequence_id": self.seq[pair],
                                            "bids": [list(b) for b in bids], "asks": [list(a) for a in asks]})

    def skipped(self, pair, m, bids, asks):
        self.seq[pair] += 1

    def heartbeat(self, pair):
        return DOC_PONG

    def trade(self, pair, price, size, side):
        self.tid += 1
        return self._frame("update", pair, [{"id": self.tid, "quantity": size, "price": price,
                                             "taker_side": side.upper(), "ts": self.ts}], "trades"), str(self.tid)

    def rows_of(self, data):
        return data["data"]["bids"] or data["data"]["asks"]


PAIRS = ["BTC-BRL", "ETH-BRL", "SOL-USDT"]


def test_e2e_clean_session():
    h = clean_session(venue(), FoxbitServer(PAIRS, seed=3))
    assert_clean(h, checksummed=False)


@pytest.mark.parametrize("kind", FAULTS)
def test_e2e_fault_is_detected_and_repaired(kind):
    h, t = fault_session(venue(), FoxbitServer(PAIRS, seed=4), kind)
    assert_sequenced_fault_repaired(h, t, kind)


def test_generated_recording_replays_clean_through_the_cli(tmp_path):
    server = FoxbitServer(PAIRS, seed=5)
    result = replay_generated_cli(tmp_path, server, venue(), "foxbit", 2000)
    for p in PAIRS:
        assert result["pairs"][p]["diffs_applied"] == server.counts[p]["diff"] > 100


(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    [DOC_SNAPSHOT, DOC_UPDATE, DOC_TRADE, DOC_PONG, DOC_ERROR], lambda: (venue("BTC-BRL", "SOL-USDT"),))
