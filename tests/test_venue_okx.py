"""OKX market-data translation, on the example messages of OKX's v5 documentation."""
from __future__ import annotations

import json

import pytest

from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    Heartbeat,
    Ignored,
    ParseError,
    Reconnect,
    SyncRule,
    Trade,
)

SPOT = market_data_venue("okx")
SWAP = market_data_venue("okx_perpetual")
# the instruments of the docs' examples below, subscribed: their instIds map back
SPOT.subscribe_messages(["BTC-USDT"])
SWAP.subscribe_messages(["BTC-USDT", "ETH-USDT"])

# "WS / Order book channel", Push Data Example: Full Snapshot (OKX docs v5)
DOC_SNAPSHOT = """{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{
"asks":[["8476.98","415","0","13"],["8477","7","0","2"],["8477.34","85","0","1"],
["8477.56","1","0","1"],["8505.84","8","0","1"],["8506.37","85","0","1"],["8506.49","2","0","1"],
["8506.96","100","0","2"]],
"bids":[["8476.97","256","0","12"],["8475.55","101","0","1"],["8475.54","100","0","1"],
["8475.3","1","0","1"],["8447.32","6","0","1"],["8447.02","246","0","1"],["8446.83","24","0","1"],
["8446","95","0","3"]],
"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}"""

# Push Data Example: Incremental Data
DOC_UPDATE = DOC_SNAPSHOT.replace('"action":"snapshot"', '"action":"update"').replace(
    '"prevSeqId":-1,"seqId":123456', '"prevSeqId":123456,"seqId":123457'
)

# "WS / Trades channel", Push Data Example
DOC_TRADES = """{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",
"tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897",
"count":"3","source":"0","seqId":1234}]}"""


NOTICE = ('{"event":"notice","code":"64008","msg":"The connection will soon be closed for a '
          'service upgrade."}')
ERROR = '{"event":"error","code":"60012","msg":"Invalid request","connId":"a4d3ae55"}'
# a push from before seqId/prevSeqId existed: a real checksum only
LEGACY_UPDATE = ('{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{'
                 '"asks":[],"bids":[["1","2","0","1"]],"ts":"1100","checksum":123}]}')


def book_frame(action, prev, seq, bids=(), asks=(), inst="BTC-USDT", checksum=0):
    return json.dumps({
        "arg": {"channel": "books", "instId": inst},
        "action": action,
        "data": [{"asks": [list(a) + ["0", "1"] for a in asks],
                  "bids": [list(b) + ["0", "1"] for b in bids],
                  "ts": "1597026383085", "checksum": checksum,
                  "prevSeqId": prev, "seqId": seq}],
    })


def test_registry_and_rules():
    assert SPOT.name == "okx" and SWAP.name == "okx_perpetual"
    fresh = market_data_venue("okx_swap")
    assert type(fresh) is type(SWAP) and fresh.name == "okx_perpetual" and fresh is not SWAP
    assert SPOT.sync_rule is SyncRule.PREV_CHAIN and SWAP.sync_rule is SyncRule.PREV_CHAIN
    assert SPOT.max_pairs_per_connection < 30  # "each of less than 30 channels"
    assert SPOT.max_depth == 400
    assert SPOT.connection_sequence is False
    assert SPOT.snapshot_request("BTC-USDT") is None
    ep = SPOT.ws_endpoint(None)
    assert ep.url == "wss://ws.okx.com:8443/ws/v5/public"
    assert ep.ping_message == "ping" and 0 < ep.ping_interval < 30


def test_symbols():
    assert SPOT.to_venue_symbol("btc-usdt") == "BTC-USDT"
    assert SWAP.to_venue_symbol("BTC-USDT") == "BTC-USDT-SWAP"
    assert SWAP.from_venue_symbol("ETH-USDT-SWAP") == "ETH-USDT"
    assert SPOT.from_venue_symbol("BTC-USDT") == "BTC-USDT"
    for venue, inst_id in ((SPOT, "ETH-BTC"), (SWAP, "ETH-USD-SWAP")):
        with pytest.raises(ParseError):  # neither listed nor subscribed: unknown, never split
            venue.from_venue_symbol(inst_id)
    with pytest.raises(ParseError):
        SWAP.from_venue_symbol("BTC-USDT")  # a spot instId on the swap venue
    with pytest.raises(ParseError):
        SPOT.from_venue_symbol("BTCUSDT")
    with pytest.raises(ValueError):
        SPOT.to_venue_symbol("BTCUSDT")


def test_subscribe_messages_follow_the_doc_request():
    (msg,) = SWAP.subscribe_messages(["BTC-USDT", "ETH-USDT"])
    assert json.loads(msg) == {"op": "subscribe", "args": [
        {"channel": "books", "instId": "BTC-USDT-SWAP"},
        {"channel": "trades", "instId": "BTC-USDT-SWAP"},
        {"channel": "books", "instId": "ETH-USDT-SWAP"},
        {"channel": "trades", "instId": "ETH-USDT-SWAP"},
    ]}
    (unsub,) = SPOT.unsubscribe_messages(["BTC-USDT"])
    assert json.loads(unsub)["op"] == "unsubscribe"


def test_subscribe_requests_stay_under_64kb():
    pairs = [f"C{i}-USDT" for i in range(3000)]
    msgs = SPOT.subscribe_messages(pairs)
    assert len(msgs) > 1
    assert all(len(m.encode()) <= 64 * 1024 for m in msgs)
    args = [a for m in msgs for a in json.loads(m)["args"]]
    assert len(args) == 6000 and args[-1] == {"channel": "trades", "instId": "C2999-USDT"}


def test_resync_is_unsubscribe_then_subscribe_of_the_book_only():
    unsub, sub = (json.loads(m) for m in SPOT.resync_messages("BTC-USDT"))
    assert unsub == {"op": "unsubscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]}
    assert sub == {"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]}


def test_doc_snapshot():
    (ev,) = SPOT.parse_message(DOC_SNAPSHOT)
    assert isinstance(ev, BookSnapshot)
    assert ev.pair == "BTC-USDT"
    assert ev.update_id == 123456
    assert ev.bids[0] == ["8476.97", "256"] and ev.bids[-1] == ["8446", "95"]
    assert ev.asks[1] == ["8477", "7"] and len(ev.asks) == 8
    assert ev.timestamp == pytest.approx(1597026383.085)
    assert ev.checksum == -855196043  # a legacy (non-zero) checksum is passed on for checking


def test_doc_update():
    (ev,) = SPOT.parse_message(DOC_UPDATE.encode())
    assert isinstance(ev, BookDiff)
    assert (ev.first_id, ev.last_id, ev.prev_id) == (123457, 123457, 123456)
    assert ev.asks[-1] == ["8506.96", "100"]


def test_checksum_zero_means_not_sent():
    (snap,) = SPOT.parse_message(book_frame("snapshot", -1, 10, [("1", "2")], [("3", "4")]))
    (diff,) = SPOT.parse_message(book_frame("update", 10, 11, [("1", "0")]))
    assert snap.checksum is None and diff.checksum is None


def test_doc_sequence_example_chains():
    """The doc's example: snapshot, normal update, keep-alive, maintenance reset, update."""
    frames = [
        book_frame("snapshot", -1, 10, [("100", "1")], [("101", "1")]),
        book_frame("update", 10, 15, [("100", "2")]),
        book_frame("update", 15, 15),  # no update for a while: empty, seqId == prevSeqId
        book_frame("update", 15, 3, [], [("101", "0.5")]),  # sequence reset: seqId < prevSeqId
        book_frame("update", 3, 5, [("99", "1")]),
    ]
    events = [e for f in frames for e in SPOT.parse_message(f)]
    assert isinstance(events[0], BookSnapshot) and events[0].update_id == 10
    last = events[0].update_id
    for ev in events[1:]:
        assert isinstance(ev, BookDiff)
        assert ev.prev_id == last  # the PREV_CHAIN rule holds across keep-alive and reset
        last = ev.last_id
    assert events[2].bids == [] and events[2].asks == []
    assert [e.last_id for e in events[1:]] == [15, 15, 3, 5]


def test_legacy_update_without_sequence_ids():
    frame = json.dumps({"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": "update",
                        "data": [{"asks": [], "bids": [["1", "2", "0", "1"]], "ts": "1",
                                  "checksum": 123}]})
    venue = type(SPOT)("okx", "")
    venue.subscribe_messages(["BTC-USDT"])
    snap = frame.replace('"update"', '"snapshot"').replace('"ts": "1"', '"ts": "1000"')
    (s,) = venue.parse_message(snap)
    assert s.update_id == 1000
    (ev,) = venue.parse_message(frame.replace('"ts": "1"', '"ts": "1100"'))
    assert (ev.prev_id, ev.last_id) == (1000, 1100) and ev.checksum == 123  # chained by ts
    (ev,) = venue.parse_message(frame.replace('"ts": "1"', '"ts": "1100"'))
    assert (ev.prev_id, ev.last_id) == (1100, 1100)


def test_doc_trades():
    (t,) = SPOT.parse_message(DOC_TRADES)
    assert t == Trade("BTC-USDT", "130639474", "42219.9", "0.12060306", "buy",
                      pytest.approx(1630048897.897))
    swap = DOC_TRADES.replace("BTC-USDT", "BTC-USDT-SWAP").replace('"buy"', '"sell"')
    (t,) = SWAP.parse_message(swap)
    assert t.pair == "BTC-USDT" and t.side == "sell"


def test_control_frames():
    assert SPOT.parse_message("pong") == [Heartbeat()]
    assert SPOT.parse_message(b"pong") == [Heartbeat()]
    ack = '{"id":"1512","event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}'
    assert SPOT.parse_message(ack) == []
    assert SPOT.parse_message(ERROR) == []
    count = '{"event":"channel-conn-count","channel":"books","connCount":"2","connId":"abcd1234"}'
    assert SPOT.parse_message(count) == []
    err_arg = ('{"event":"error","code":"60018","msg":"x",'
               '"arg":{"channel":"books","instId":"BTC-USDT-SWAP"}}')
    assert SWAP.parse_message(err_arg) == []  # logged; an immediate resubscribe could loop
    (rc,) = SPOT.parse_message(NOTICE)
    assert isinstance(rc, Reconnect) and "64008" in rc.reason


@pytest.mark.parametrize("frame", [
    "",
    "not json",
    DOC_SNAPSHOT[:200],  # truncated
    "[]",
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot"}',
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[]}',
    DOC_SNAPSHOT.replace('"action":"snapshot"', '"action":"partial"'),
    DOC_SNAPSHOT.replace('["8477","7","0","2"]', '[8477,7,0,2]'),  # numbers, not text
    DOC_SNAPSHOT.replace('["8477","7","0","2"]', '["8477"]'),
    DOC_SNAPSHOT.replace('"seqId":123456', '"seqId":"abc"'),
    DOC_UPDATE.replace('"prevSeqId":123456,', ''),
    DOC_SNAPSHOT.replace('"instId":"BTC-USDT"', '"instId":"BTC USDT"'),  # not an instId
    DOC_TRADES.replace('"side":"buy"', '"side":"up"'),
    DOC_TRADES.replace('"px":"42219.9",', ''),
    '{"arg":"books","data":[]}',
])
def test_malformed_frames_raise_parse_error(frame):
    with pytest.raises(ParseError):
        SPOT.parse_message(frame)


def test_pushes_of_other_instrument_types_and_channels_are_ignored_not_bad():
    """One socket may carry spot, swap and futures pushes and other channels: well-formed pushes
    for nobody here are Ignored (counted apart from bad frames), for either instrument type."""
    (ev,) = SWAP.parse_message(DOC_SNAPSHOT)  # a spot instId on the swap object
    assert isinstance(ev, Ignored) and "BTC-USDT" in ev.what
    for inst in ("BTC-USD-SWAP", "BTC-USD-220527", "BTC-USD-220527-30000-C"):
        (ev,) = SPOT.parse_message(DOC_SNAPSHOT.replace('"instId":"BTC-USDT"', f'"instId":"{inst}"'))
        assert isinstance(ev, Ignored) and inst in ev.what
    (ev,) = SPOT.parse_message(DOC_SNAPSHOT.replace('"channel":"books"', '"channel":"books-elp"'))
    assert isinstance(ev, Ignored) and "books-elp" in ev.what
    (ev,) = SPOT.parse_message('{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"last":"1"}]}')
    assert isinstance(ev, Ignored) and "tickers" in ev.what
    with pytest.raises(ParseError):  # a channel without data is no push
        SPOT.parse_message('{"arg":{"channel":"tickers","instId":"BTC-USDT"}}')


# ---- end to end: generated sessions through the tracker, with faults ----

from _venue_e2e import (  # noqa: E402
    FAULTS, Server, assert_clean, clean_session, fault_session, parse_totality_tests,
    replay_generated_session, resync_messages_were_sent, signed_crc32,
)


class OkxServer(Server):
    """OKX ``books``/``trades`` as documented: seqId/prevSeqId chain (random steps), keep-alive
    pushes, one maintenance reset; ``legacy``: no ids, a real checksum on every push."""

    decimals = 2

    def __init__(self, pairs, seed=1, suffix="", legacy=False, reset_at=None, **kw):
        super().__init__(pairs, seed, **kw)
        self.suffix = suffix
        self.legacy = legacy
        self.corrupt_mode = "value" if legacy else "invalid"
        self.reset_at = reset_at
        self.seq = {p: 1000 * (i + 1) for i, p in enumerate(self.pairs)}
        self.trade_id = 5000
        self.ts = 1597026383085

    def decode(self, text):
        msg = json.loads(text)
        kinds = {"books": "book", "trades": "trades"}
        return [(msg["op"], kinds[a["channel"]], a["instId"][: len(a["instId"]) - len(self.suffix)])
                for a in msg["args"]]

    def _push(self, pair, action, bids, asks, prev, seq, checksum):
        self.ts += 7
        d = {"asks": [[p, s, "0", "1"] for p, s in asks], "bids": [[p, s, "0", "1"] for p, s in bids],
             "ts": str(self.ts), "checksum": checksum}
        if not self.legacy:
            d["prevSeqId"], d["seqId"] = prev, seq
        return json.dumps({"arg": {"channel": "books", "instId": pair + self.suffix},
                           "action": action, "data": [d]})

    def _checksum(self, pair, m):
        if not self.legacy:
            return 0  # production since 2026-06-23
        self.counts[pair]["checksummed"] += 1
        return m.book.crc()

    def _advance(self, pair):
        prev = self.seq[pair]
        if self.reset_at is not None and self.counts[pair]["diff"] == self.reset_at:
            self.seq[pair] = self.rng.randint(0, 3)  # maintenance: seqId restarts lower
        else:
            self.seq[pair] += self.rng.randint(1, 20)
        return prev, self.seq[pair]

    def snapshot(self, pair, m):
        bids, asks = m.book.levels()
        return self._push(pair, "snapshot", bids, asks, -1, self.seq[pair], self._checksum(pair, m))

    def diff(self, pair, m, bids, asks):
        prev, seq = self._advance(pair)
        return self._push(pair, "update", bids, asks, prev, seq, self._checksum(pair, m))

    def skipped(self, pair, m, bids, asks):
        self._advance(pair)

    def heartbeat(self, pair):
        if pair not in self.book_live or self.closing.get(pair):
            return None
        self.counts[pair]["diff"] += 1  # applied by the tracker as an (empty) update
        seq = self.seq[pair]
        return self._push(pair, "update", [], [], seq, seq, self._checksum(pair, self.markets[pair]))

    def trade(self, pair, price, size, side):
        self.trade_id += 1
        inst = pair + self.suffix
        frame = json.dumps({"arg": {"channel": "trades", "instId": inst}, "data": [{
            "instId": inst, "tradeId": str(self.trade_id), "px": price, "sz": size, "side": side,
            "ts": str(self.ts), "count": "1", "source": "0", "seqId": self.trade_id}]})
        return frame, str(self.trade_id)

    def rows_of(self, data):
        d = data["data"][0]
        return d["bids"] or d["asks"]


PAIRS = ["BTC-USDT", "ETH-USDT", "SOL-USDT"]


def test_e2e_clean_session_spot_with_keepalives_and_a_maintenance_reset():
    h = clean_session(SPOT, OkxServer(PAIRS, seed=11, reset_at=200))
    assert_clean(h, checksummed=False)
    assert h.driver.sent == SPOT.subscribe_messages(PAIRS)


def test_e2e_clean_session_swap():
    h = clean_session(SWAP, OkxServer(PAIRS, seed=12, suffix="-SWAP"))
    assert_clean(h, checksummed=False)


def test_e2e_clean_legacy_session_verifies_every_checksum():
    h = clean_session(SPOT, OkxServer(PAIRS, seed=13, legacy=True))
    assert_clean(h, checksummed=True)


def test_e2e_checksum_matches_the_independent_reference():
    h = clean_session(SPOT, OkxServer(PAIRS, seed=14), frames=300)
    for p in PAIRS:
        bids, asks = h.server.markets[p].book.levels()
        parts = []
        for i in range(25):
            parts += list(bids[i]) if i < len(bids) else []
            parts += list(asks[i]) if i < len(asks) else []
        assert SPOT.checksum(h.tracker.book(p)) == signed_crc32(":".join(parts))


@pytest.mark.parametrize("kind", FAULTS)
def test_e2e_fault_is_detected_and_repaired(kind):
    h, t = fault_session(SPOT, OkxServer(PAIRS, seed=21), kind)
    if kind == "duplicate":  # the repeat has an old seqId: dropped, nothing else happens
        assert t["stale_dropped"] >= 1 and t["resyncs"] == 0 and t["gaps"] == 0
        return
    assert t["resyncs"] >= 1, t
    if kind in ("drop", "swap"):
        assert t["gaps"] >= 1, t
    if kind in ("corrupt", "truncate", "garbage"):
        assert t["tracker_bad_frames"] >= 1, t
    if kind in ("truncate", "garbage"):  # the lost update then shows as a break of the chain
        assert t["gaps"] >= 1, t
    if kind != "close":
        assert any(resync_messages_were_sent(h, p) for p in PAIRS)


@pytest.mark.parametrize("kind", ["drop", "corrupt", "swap"])
def test_e2e_legacy_fault_is_caught_by_the_checksum(kind):
    h, t = fault_session(SPOT, OkxServer(PAIRS, seed=31, legacy=True), kind)
    assert t["checksums_failed"] >= 1 and t["resyncs"] >= 1, t
    assert t["gaps"] == 0  # no ids in legacy streams: only the checksum could tell


def test_e2e_generated_recording_replays_clean(tmp_path):
    server = OkxServer(PAIRS, seed=41)
    result = replay_generated_session(tmp_path, server, SPOT, "okx")
    for p in PAIRS:
        assert result.pairs[p]["diffs_applied"] == server.counts[p]["diff"]


DOC_FRAMES = [DOC_SNAPSHOT, DOC_UPDATE, DOC_TRADES, LEGACY_UPDATE, NOTICE, ERROR]


# fresh venue objects: the legacy ts chaining keeps per-pair state
(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    DOC_FRAMES, lambda: (type(SPOT)("okx", ""), type(SWAP)("okx_perpetual", "-SWAP")))



def test_doc_checksum_example_verifies_through_the_tracker():
    """OKX docs, "Checksum" worked example: the string "3366.1:7:3366.8:9:3366:6:3368:8"."""
    from hbconnect.market.tracker import OrderBookTracker

    expected = signed_crc32("3366.1:7:3366.8:9:3366:6:3368:8")
    frame = json.dumps({"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": "snapshot",
                        "data": [{"bids": [["3366.1", "7", "0", "3"], ["3366", "6", "3", "4"]],
                                  "asks": [["3366.8", "9", "10", "3"], ["3368", "8", "3", "4"]],
                                  "ts": "1597026383085", "checksum": expected,
                                  "prevSeqId": -1, "seqId": 1}]})
    tracker = OrderBookTracker(SPOT, ["BTC-USDT"], stale_timeout=None)
    conn = tracker.connections[0]
    tracker.connection_up(conn)
    tracker.feed(conn, frame)
    assert tracker.stats("BTC-USDT").checksums_ok == 1
    tracker.feed(conn, frame.replace(f'"checksum": {expected}', '"checksum": 12345'))
    assert tracker.stats("BTC-USDT").checksums_failed == 1


def test_outgoing_message_limits_are_declared_for_the_tracker_pacer():
    # OKX: 480 (un)subscribe requests per hour per connection, 3 new connections per second.
    assert SPOT.ws_subscriptions_per_hour == 480 and SWAP.ws_connect_rate == 3.0
