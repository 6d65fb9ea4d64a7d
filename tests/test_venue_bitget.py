"""Bitget v2 market-data translation, on the example messages of Bitget's documentation."""
from __future__ import annotations

import json
import zlib

import pytest

from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import BookDiff, BookSnapshot, Heartbeat, Ignored, ParseError, SyncRule, Trade

SPOT = market_data_venue("bitget")
FUT = market_data_venue("bitget_perpetual")

# Depth Channel push example (Bitget v2 docs; shown for books5, same shape for books)
DOC_BOOK = """{"action":"snapshot","arg":{"instType":"SPOT","channel":"books","instId":"BTCUSDT"},
"data":[{"asks":[["26274.9","0.0009"],["26275.0","0.0500"]],
"bids":[["26274.8","0.0009"],["26274.7","0.0027"]],"checksum":0,"seq":123,
"ts":"1695710946294"}],"ts":1695710946294}"""
# Trades Channel push example
DOC_TRADE = """{"action":"snapshot","arg":{"instType":"SPOT","channel":"trade","instId":"BTCUSDT"},
"data":[{"ts":"1695709835822","price":"26293.4","size":"0.0013","side":"buy",
"tradeId":"1000000000"}],"ts":1695711090682}"""


def signed_crc32(text: str) -> int:
    v = zlib.crc32(text.encode())
    return v - (1 << 32) if v >= 1 << 31 else v


def test_registry_and_rules():
    assert SPOT.name == "bitget" and FUT.name == "bitget_perpetual"
    fresh = market_data_venue("bitget_futures")
    assert type(fresh) is type(FUT) and fresh.name == "bitget_perpetual" and fresh is not FUT
    assert SPOT.sync_rule is SyncRule.TIMESTAMP  # seq only increases; checksum on every push
    assert SPOT.max_pairs_per_connection * 2 < 50  # book + trade channels per pair
    assert SPOT.max_depth is None and SPOT.snapshot_request("BTC-USDT") is None
    ep = SPOT.ws_endpoint(None)
    assert ep.url == "wss://ws.bitget.com/v2/ws/public"
    assert ep.ping_message == "ping" and ep.ping_interval <= 30


#: the response example of Bitget's "Get Contract Config" (GET /api/v2/mix/market/contracts), cut
#: to the fields the listing parser reads, plus a second contract
DOC_CONTRACTS = """{"code":"00000","msg":"success","requestTime":1695793701269,"data":[
{"symbol":"BTCUSDT","baseCoin":"BTC","quoteCoin":"USDT","symbolType":"perpetual","symbolStatus":"normal"},
{"symbol":"OMGBUSDT","baseCoin":"OMGB","quoteCoin":"USDT","symbolType":"perpetual","symbolStatus":"normal"}]}"""


def test_symbols_come_from_the_listing_or_the_pairs_asked_for_never_a_suffix_guess():
    fut = market_data_venue("bitget_perpetual")
    with pytest.raises(ParseError):
        fut.from_venue_symbol("BTCUSDT")  # neither listed nor asked for yet
    assert fut.load_symbols(DOC_CONTRACTS) == 2
    assert fut.from_venue_symbol("BTCUSDT") == "BTC-USDT"
    assert fut.from_venue_symbol("OMGBUSDT") == "OMGB-USDT"
    with pytest.raises(ParseError):
        fut.from_venue_symbol("OMGBUSD")  # not OMGB-USD: unknown
    spot = market_data_venue("bitget")
    assert spot.to_venue_symbol("eth-usdt") == "ETHUSDT"
    assert spot.from_venue_symbol("ETHUSDT") == "ETH-USDT"  # the spelling of a pair asked for
    with pytest.raises(ParseError):
        spot.from_venue_symbol("ABC")
    for body in ('{"code":"40034","msg":"Parameter does not exist"}', '{"code":"00000","data":[]}',
                 '{"code":"00000","data":[{"symbol":"X"}]}', "[]", "nope"):
        with pytest.raises(ParseError):
            fut.load_symbols(body)
    assert fut.from_venue_symbol("BTCUSDT") == "BTC-USDT"  # refused bodies change nothing


def test_subscribe_messages_follow_the_doc_request():
    (msg,) = FUT.subscribe_messages(["BTC-USDT"])
    assert json.loads(msg) == {"op": "subscribe", "args": [
        {"instType": "USDT-FUTURES", "channel": "books", "instId": "BTCUSDT"},
        {"instType": "USDT-FUTURES", "channel": "trade", "instId": "BTCUSDT"},
    ]}
    many = SPOT.subscribe_messages([f"C{i}-USDT" for i in range(SPOT.max_pairs_per_connection)])
    assert all(len(m.encode()) <= 4096 for m in many)  # "cannot exceed 4096 bytes at a time"
    assert sum(len(json.loads(m)["args"]) for m in many) == 2 * SPOT.max_pairs_per_connection
    unsub = json.loads(SPOT.unsubscribe_messages(["BTC-USDT"])[0])
    assert unsub["op"] == "unsubscribe" and len(unsub["args"]) == 2


def test_resync_resubscribes_the_book_only():
    msgs = [json.loads(m) for m in SPOT.resync_messages("BTC-USDT")]
    arg = {"instType": "SPOT", "channel": "books", "instId": "BTCUSDT"}
    assert msgs == [{"op": "unsubscribe", "args": [arg]}, {"op": "subscribe", "args": [arg]}]


def test_doc_book_snapshot_and_update():
    (snap,) = SPOT.parse_message(DOC_BOOK)
    assert isinstance(snap, BookSnapshot)
    assert snap.pair == "BTC-USDT" and snap.update_id == 123
    assert snap.asks[1] == ["26275.0", "0.0500"]  # exact text kept (checksums need it)
    assert snap.checksum is None  # 0: not a checksum
    assert snap.timestamp == pytest.approx(1695710946.294)
    update = DOC_BOOK.replace('"snapshot"', '"update"').replace(
        '"checksum":0,"seq":123', '"checksum":-1504501796,"seq":124')
    (diff,) = SPOT.parse_message(update.encode())
    assert isinstance(diff, BookDiff)
    assert (diff.first_id, diff.last_id, diff.prev_id) == (124, 124, None)
    assert diff.checksum == -1504501796


def test_doc_trade():
    (t,) = SPOT.parse_message(DOC_TRADE)
    assert t == Trade("BTC-USDT", "1000000000", "26293.4", "0.0013", "buy",
                      pytest.approx(1695709835.822))
    two = DOC_TRADE.replace(
        '"tradeId":"1000000000"}]',
        '"tradeId":"1000000000"},{"ts":"1695709835000","price":"1","size":"2","side":"sell",'
        '"tradeId":"999"}]')
    trades = SPOT.parse_message(two)
    assert [t.trade_id for t in trades] == ["999", "1000000000"]  # oldest first


ERROR = '{"event":"error","code":"30001","msg":"instType:SPOT,channel:books,instId:X doesn\'t exist"}'
DOC_FRAMES = [DOC_BOOK, DOC_BOOK.replace('"snapshot"', '"update"'), DOC_TRADE, ERROR]


def test_control_frames():
    assert SPOT.parse_message("pong") == [Heartbeat()]
    ack = '{"event":"subscribe","arg":{"instType":"SPOT","channel":"books","instId":"BTCUSDT"}}'
    assert SPOT.parse_message(ack) == []
    assert SPOT.parse_message(ERROR) == []
    err_arg = ('{"event":"error","code":"30016","msg":"x","arg":{"instType":"SPOT",'
               '"channel":"books","instId":"BTCUSDT"}}')
    assert SPOT.parse_message(err_arg) == []  # logged; an immediate resubscribe could loop


@pytest.mark.parametrize("frame", [
    "",
    "ping?",
    DOC_BOOK[:100],
    '"pong"',
    DOC_BOOK.replace('"action":"snapshot"', '"action":"merge"'),
    DOC_BOOK.replace('"data":[{', '"data":[{},{'),
    DOC_BOOK.replace('["26275.0","0.0500"]', '["26275.0",0.05]'),
    DOC_BOOK.replace('"checksum":0', '"checksum":"x"'),
    DOC_BOOK.replace('"seq":123', '"seq":[1]'),
    DOC_BOOK.replace(',"seq":123', ''),
    DOC_TRADE.replace('"side":"buy"', '"side":"B"'),
    DOC_TRADE.replace('"size":"0.0013",', ''),
    '{"arg":{"instType":"SPOT","channel":"trade"},"data":[]}',
])
def test_malformed_frames_raise_parse_error(frame):
    with pytest.raises(ParseError):
        SPOT.parse_message(frame)


def test_pushes_of_other_channels_and_product_lines_are_ignored_not_bad():
    (ev,) = SPOT.parse_message(DOC_BOOK.replace('"channel":"books"', '"channel":"books5"'))
    assert isinstance(ev, Ignored) and "books5" in ev.what
    (ev,) = SPOT.parse_message(DOC_BOOK.replace('"instType":"SPOT"', '"instType":"USDT-FUTURES"'))
    assert isinstance(ev, Ignored)
    with pytest.raises(ParseError):  # v1's product line names are not v2 frames
        SPOT.parse_message(DOC_BOOK.replace('"instType":"SPOT"', '"instType":"sp"').replace('"seq":123', '"seq":"x"'))


# ---- checksum (the book core computes it; strings below are the doc's worked examples) ----

def _book(bids, asks):
    from hbconnect import OrderBook

    book = OrderBook()
    book.apply_snapshot(bids, asks, 1)
    return book


def test_checksum_doc_example_more_than_one_level_each():
    book = _book([["43231.1", "4"], ["43231", "6"]], [["43232.8", "9"], ["43232.9", "8"]])
    assert SPOT.checksum(book) == signed_crc32("43231.1:4:43232.8:9:43231:6:43232.9:8")


def test_checksum_doc_example_fewer_bids_than_asks():
    book = _book([["3366.1", "7"]], [["3366.8", "9"], ["3368", "8"], ["3372", "8"]])
    assert SPOT.checksum(book) == signed_crc32("3366.1:7:3366.8:9:3368:8:3372:8")


def test_checksum_uses_original_text_and_top_25_only():
    bids = [[f"{100 - i}.5000", f"{i + 1}.10"] for i in range(30)]
    asks = [[f"{101 + i}.0", "0.50"] for i in range(27)]
    parts = []
    for i in range(25):
        parts += bids[i] + asks[i]
    assert SPOT.checksum(_book(bids, asks)) == signed_crc32(":".join(parts))


# ---- end to end: generated sessions through the tracker, with faults ----

from _venue_e2e import (  # noqa: E402
    FAULTS, Server, assert_clean, clean_session, fault_session, parse_totality_tests,
    replay_generated_session, resync_messages_were_sent,
)


class BitgetServer(Server):
    """Bitget v2 ``books``/``trade`` as documented: increasing ``seq`` (random steps) and the
    CRC32 checksum of the top 25 on every push, computed from the reference book."""

    decimals = 1
    corrupt_mode = "value"  # a plausible wrong size: only the checksum can tell

    def __init__(self, pairs, inst_type="SPOT", seed=1, **kw):
        super().__init__(pairs, seed, **kw)
        self.inst_type = inst_type
        self.sym = {p.replace("-", ""): p for p in self.pairs}
        self.seq = {p: 100 * (i + 1) for i, p in enumerate(self.pairs)}
        self.ts = 1695710946294
        self.trade_id = 1000000000

    def decode(self, text):
        msg = json.loads(text)
        kinds = {"books": "book", "trade": "trades"}
        return [(msg["op"], kinds[a["channel"]], self.sym[a["instId"]]) for a in msg["args"]]

    def _push(self, pair, action, m, bids, asks):
        self.ts += 200
        self.counts[pair]["checksummed"] += 1
        return json.dumps({
            "action": action,
            "arg": {"instType": self.inst_type, "channel": "books", "instId": pair.replace("-", "")},
            "data": [{"asks": [list(a) for a in asks], "bids": [list(b) for b in bids],
                      "checksum": m.book.crc(), "seq": self.seq[pair], "ts": str(self.ts)}],
            "ts": self.ts})

    def snapshot(self, pair, m):
        return self._push(pair, "snapshot", m, *m.book.levels())

    def diff(self, pair, m, bids, asks):
        self.seq[pair] += self.rng.randint(1, 3)
        return self._push(pair, "update", m, bids, asks)

    def skipped(self, pair, m, bids, asks):
        self.seq[pair] += self.rng.randint(1, 3)

    def heartbeat(self, pair):
        return "pong"

    def trade(self, pair, price, size, side):
        self.trade_id += 1
        return json.dumps({
            "action": "update",
            "arg": {"instType": self.inst_type, "channel": "trade", "instId": pair.replace("-", "")},
            "data": [{"ts": str(self.ts), "price": price, "size": size, "side": side,
                      "tradeId": str(self.trade_id)}],
            "ts": self.ts}), str(self.trade_id)

    def rows_of(self, data):
        d = data["data"][0]
        return d["bids"] or d["asks"]


PAIRS = ["BTC-USDT", "ETH-USDT", "DOGE-USDT"]


@pytest.mark.parametrize("venue,inst", [(SPOT, "SPOT"), (FUT, "USDT-FUTURES")], ids=["spot", "futures"])
def test_e2e_clean_session_verifies_every_checksum(venue, inst):
    h = clean_session(venue, BitgetServer(PAIRS, inst, seed=3))
    assert_clean(h, checksummed=True)
    assert h.driver.sent == venue.subscribe_messages(PAIRS)


@pytest.mark.parametrize("kind", FAULTS)
def test_e2e_fault_is_detected_and_repaired(kind):
    h, t = fault_session(SPOT, BitgetServer(PAIRS, seed=9), kind)
    if kind == "duplicate":  # the repeat's seq is not above the book's: dropped, harmless
        assert t["stale_dropped"] >= 1 and t["resyncs"] == 0 and t["checksums_failed"] == 0
        return
    assert t["resyncs"] >= 1, t
    assert t["gaps"] == 0  # seq steps are not contiguous: gaps show up as checksum failures
    if kind in ("drop", "swap", "corrupt", "truncate", "garbage"):
        assert t["checksums_failed"] >= 1, t
    if kind in ("truncate", "garbage"):
        assert t["tracker_bad_frames"] >= 1, t
    if kind != "close":
        assert any(resync_messages_were_sent(h, p) for p in PAIRS)


def test_e2e_in_flight_updates_after_a_resync_are_not_replayed():
    """After a checksum failure the tracker resubscribes; updates of the old subscription that
    were already on the wire arrive before the new snapshot and must not be applied over it."""
    server = BitgetServer(PAIRS, seed=10)
    server.in_flight = 4
    h, t = fault_session(SPOT, server, "corrupt")
    assert t["stale_dropped"] >= 4 and t["checksums_failed"] == 1 and t["resyncs"] == 1, t


def test_e2e_generated_recording_replays_clean(tmp_path):
    server = BitgetServer(PAIRS, "USDT-FUTURES", seed=12)
    result = replay_generated_session(tmp_path, server, FUT, "bitget_perpetual")
    for p in PAIRS:
        assert result.pairs[p]["checksums_ok"] == server.counts[p]["checksummed"] > 0


(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    DOC_FRAMES, lambda: (SPOT, FUT))


def test_outgoing_message_limits_are_declared_for_the_tracker_pacer():
    # Bitget: 10 messages per second and 240 subscriptions per hour per connection.
    for venue in (SPOT, FUT):
        assert venue.ws_message_rate == 10.0 and venue.ws_subscriptions_per_hour == 240
