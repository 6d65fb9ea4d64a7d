"""BitMart spot: the incremental ``spot/depth/increase100`` book (the default) and the whole-book
``spot/depth<N>`` pushes, on the example messages of BitMart's spot WebSocket page (coincise
@8a3c48b1 ``docs/bitmart/spot/websocket_subscription.md``), generated sessions through the real
tracker against an independent reference book with every fault injected, the committed session
through ``hbconnect replay``, and parse-totality fuzzing."""
from __future__ import annotations

import contextlib
import io
import json
import zlib
from pathlib import Path

import pytest

from _venue_e2e import (
    FAULTS, Server, assert_clean, assert_sequenced_fault_repaired, clean_session, fault_session,
    parse_totality_tests, record_clean, replay_generated_session,
)
from spot5_e2e import SnapshotServer, snapshot_fault_run, snapshot_session_clean, write_session
from hbconnect.exchanges import market_data_venue
from hbconnect.exchanges.bitmart import BitmartMarketData
from hbconnect.market.messages import BookDiff, BookSnapshot, Heartbeat, ParseError, SyncRule, Trade
from hbconnect.market.tracker import OrderBookTracker, TrackerDriver

RECORDINGS = Path(__file__).parent / "data" / "recordings"
PAIRS = ["BTC-USDT", "ETH-USDT", "DOGE-USDT"]


def deflate_raw(text: str) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(text.encode()) + c.flush()


def inflate_raw(data: bytes) -> str:
    return zlib.decompress(data, -zlib.MAX_WBITS).decode()


# ---- the page's examples, verbatim (whitespace squeezed) ---------------------------------------
# "【Public】Depth-Increase Channel", Response: full depth snapshot data / incremental depth data
DOC_SNAPSHOT = ('{"data":[{"asks":[["23200","0.69959"],["28000.00","0.20000"]],"bids":[["23105","1.80114"]],'
                '"ms_t":1698292343610,"symbol":"BTC_USDT","type":"snapshot","version":4}],'
                '"table":"spot/depth/increase100"}')
DOC_UPDATE = ('{"data":[{"asks":[["23200","0.59959"]],"bids":[],"ms_t":1698292358292,"symbol":"BTC_USDT",'
              '"type":"update","version":5}],"table":"spot/depth/increase100"}')
DOC_INCREASE_ACK = '{"topic":"spot/depth/increase100:BTC_USDT","event":"subscribe"}'
# "【Public】Depth-All Channel" push (spot/depth5) and "【Public】Trade Channel" push
DOC_DEPTH5 = ('{"table":"spot/depth5","data":[{"asks":[["161.96","7.37567"]],"bids":[["161.94","4.552355"]],'
              '"symbol":"ETH_USDT","ms_t":1542337219120}]}')
DOC_TRADE = ('{"table":"spot/trade","data":[{"symbol":"ETH_USDT","price":"162.12","side":"buy",'
             '"size":"11.085","s_t":1542337219,"ms_t":1542337219120}]}')
# "Format": the failed and the unsubscribe responses
DOC_ERROR = '{"event":"subscribe","errorCode":"90004","errorMessage":"Invalid channel param"}'
DOC_UNSUB_ACK = '{"event":"unsubscribe","topic":"spot/ticker:BTC_USDT"}'
DOC_FRAMES = [DOC_SNAPSHOT, DOC_UPDATE, DOC_INCREASE_ACK, DOC_DEPTH5, DOC_TRADE, DOC_ERROR, DOC_UNSUB_ACK]


def asking(depth=None):
    v = BitmartMarketData(depth)
    for p in ("BTC-USDT", "ETH-USDT"):
        v.to_venue_symbol(p)
    return v


def test_channels_rules_and_limits():
    v = market_data_venue("bitmart")
    assert v.depth is None and v.sync_rule is SyncRule.CONTIGUOUS and v.max_depth == 100
    assert v.snapshot_request("BTC-USDT") is None
    ep = v.ws_endpoint(None)
    assert ep.url == "wss://ws-manager-compress.bitmart.com/api?protocol=1.1"
    assert ep.ping_message == "ping" and ep.ping_interval < 20  # "N < 20"
    assert v.ws_message_rate * 10 <= 100 and v.ws_connect_rate * 60 <= 30
    assert v.max_pairs_per_connection * 2 <= 115  # a book and a trade channel per pair
    # the page's subscribe and snapshot-request messages
    assert json.loads(v.subscribe_messages(["BTC-USDT"])[0]) == {
        "op": "subscribe", "args": ["spot/depth/increase100:BTC_USDT", "spot/trade:BTC_USDT"]}
    assert [json.loads(m) for m in v.resync_messages("BTC-USDT")] == [
        {"op": "request", "args": ["spot/depth/increase100:BTC_USDT"]}]
    full = BitmartMarketData(depth=5)
    assert full.sync_rule is SyncRule.SNAPSHOTS and full.max_depth == 5 and full.resync_messages("BTC-USDT") == []
    assert json.loads(full.unsubscribe_messages(["BTC-USDT"])[0])["args"][0] == "spot/depth5:BTC_USDT"
    for bad in (100, 10, 0):  # depth100 is no longer listed; depth10 never was
        with pytest.raises(ValueError):
            BitmartMarketData(bad)


def test_one_request_holds_at_most_20_args_and_4096_bytes():
    v = market_data_venue("bitmart")
    pairs = [f"C{i:03d}{'X' * 200}-USDT" for i in range(50)]  # 20 such args exceed 4096 bytes
    msgs = v.subscribe_messages(pairs)
    args = [a for m in msgs for a in json.loads(m)["args"]]
    assert len(args) == 100 and len(set(args)) == 100
    assert all(len(json.loads(m)["args"]) <= 20 and len(m.encode()) <= 4096 for m in msgs)
    assert any(len(m.encode()) > 3500 for m in msgs) and all(len(json.loads(m)["args"]) < 20 for m in msgs)


def test_doc_frames_translate_with_exact_text():
    v = asking()
    (s,) = v.parse_message(deflate_raw(DOC_SNAPSHOT))
    assert s == BookSnapshot("BTC-USDT", [["23105", "1.80114"]], [["23200", "0.69959"], ["28000.00", "0.20000"]],
                             4, pytest.approx(1698292343.61))
    (d,) = v.parse_message(DOC_UPDATE)
    assert d == BookDiff("BTC-USDT", [], [["23200", "0.59959"]], 5, 5, timestamp=pytest.approx(1698292358.292))
    assert v.parse_message(DOC_TRADE) == [Trade("ETH-USDT", "1542337219120", "162.12", "11.085", "buy",
                                                pytest.approx(1542337219.12))]
    for text in (DOC_INCREASE_ACK, DOC_ERROR, DOC_UNSUB_ACK):
        assert v.parse_message(text) == []
    assert v.parse_message("pong") == [Heartbeat()] and v.parse_message(b"pong") == [Heartbeat()]
    (ignored,) = v.parse_message(DOC_DEPTH5)  # a channel this object did not subscribe
    assert "spot/depth5" in ignored.what
    (full,) = asking(5).parse_message(deflate_raw(DOC_DEPTH5))
    assert full == BookSnapshot("ETH-USDT", [["161.94", "4.552355"]], [["161.96", "7.37567"]], 1542337219120,
                                pytest.approx(1542337219.12))
    (wide,) = v.parse_message(DOC_UPDATE.replace('["23200","0.59959"]', '["23200","0.59959","3"]'))
    assert wide.asks == [["23200", "0.59959"]]  # the book's [price, size] shape
    # the format section writes the table with its symbol: read the same
    (same,) = v.parse_message(DOC_UPDATE.replace('"spot/depth/increase100"', '"spot/depth/increase100:BTC_USDT"'))
    assert same == d


class _Sent(TrackerDriver):
    def __init__(self):
        self.sent = []

    def send(self, conn, texts):
        self.sent += list(texts)

    def reconnect(self, conn, reason):
        raise AssertionError(reason)

    def request_snapshot(self, tb, req, gen, delay):
        raise AssertionError(req)


def test_the_pages_book_rules_through_the_tracker():
    """Steps 3-7 of "How to correctly maintain a copy of OrderBook locally", on the page's own
    messages: snapshot, version+1 applied, version <= book discarded (the empty keep-alive
    update among them), version > book + 1 a loss answered by the documented request."""
    driver = _Sent()
    t = OrderBookTracker(market_data_venue("bitmart"), ["BTC-USDT"], driver=driver, stale_timeout=None)
    conn = t.connections[0]
    t.connection_up(conn)
    assert [json.loads(m) for m in driver.sent] == [
        {"op": "subscribe", "args": ["spot/depth/increase100:BTC_USDT", "spot/trade:BTC_USDT"]}]
    t.feed(conn, deflate_raw(DOC_SNAPSHOT), 1.0)
    t.feed(conn, deflate_raw(DOC_UPDATE), 1.1)
    book = t.book("BTC-USDT")
    assert [list(x) for x in book.asks_text()] == [["23200", "0.59959"], ["28000.00", "0.20000"]]
    empty = DOC_UPDATE.replace('[["23200","0.59959"]]', "[]")
    t.feed(conn, deflate_raw(empty), 1.2)  # "Abnormal Situation" 1: same version, discarded
    t.feed(conn, deflate_raw(DOC_UPDATE.replace('"0.59959"', '"9"')), 1.3)  # version 5 again
    s = t.stats("BTC-USDT")
    assert (s.state, s.diffs_applied, s.stale_dropped, s.gaps) == ("live", 1, 2, 0)
    assert [list(x) for x in book.asks_text()][0] == ["23200", "0.59959"]
    t.feed(conn, deflate_raw(DOC_UPDATE.replace('"version":5', '"version":7')), 1.4)  # 6 was lost
    s = t.stats("BTC-USDT")
    assert (s.state, s.gaps, s.resyncs) == ("resyncing", 1, 1)
    assert json.loads(driver.sent[-1]) == {"op": "request", "args": ["spot/depth/increase100:BTC_USDT"]}
    t.feed(conn, deflate_raw(DOC_SNAPSHOT.replace('"version":4', '"version":9')), 1.5)  # step 7
    assert t.stats("BTC-USDT").state == "live" and t.stats("BTC-USDT").last_update_id == 9
    assert [list(x) for x in book.asks_text()][0] == ["23200", "0.69959"]


@pytest.mark.parametrize("frame", [
    b"\x00\x01not deflate",
    DOC_UPDATE.replace('"type":"update"', '"type":"delta"'),
    DOC_UPDATE.replace('"version":5', '"version":"v5"'),
    DOC_UPDATE.replace(',"version":5', ""),
    DOC_SNAPSHOT.replace('"bids":[["23105","1.80114"]]', '"bids":{"23105":"1.80114"}'),
    DOC_SNAPSHOT.replace('"symbol":"BTC_USDT"', '"symbol":"OMGB_USD"'),  # never asked for
    DOC_TRADE.replace('"buy"', '"B"'),
    DOC_TRADE.replace('"ms_t":1542337219120', '"ms_t":"x"'),
    '{"table":"spot/depth/increase100","data":{}}',
    '{"event":"login"}',
])
def test_malformed_frames_raise_parse_error(frame):
    with pytest.raises(ParseError):
        asking().parse_message(frame)


# ---- the incremental channel: generated sessions through the tracker ----------------------------------
class BitmartIncreaseServer(Server):
    """``spot/depth/increase100`` and ``spot/trade`` as the page documents them: a snapshot on
    subscribe and on ``request``, then updates whose ``version`` steps by one (also while nobody
    listens); a quiet pair now and then gets the empty update carrying the current version. Market
    data goes out deflated, in binary frames; ``pong`` is text."""

    decimals = 2

    def __init__(self, pairs, seed=1, **kw):
        super().__init__(pairs, seed, **kw)
        self.version = {p: 1000 * (i + 1) for i, p in enumerate(self.pairs)}
        self.ts = 1698292343610
        self.requests = 0

    def decode(self, text):
        msg = json.loads(text)
        out = []
        for arg in msg["args"]:
            channel, _, sym = arg.partition(":")
            pair = sym.replace("_", "-")
            if msg["op"] == "request":
                assert channel == "spot/depth/increase100" and pair in self.book_live, arg
                self.requests += 1
                out.append(("subscribe", "book", pair))
            else:
                out.append((msg["op"], "book" if channel == "spot/depth/increase100" else "trades", pair))
        return out

    def _push(self, pair, kind, bids, asks):
        self.ts += 13
        return deflate_raw(json.dumps({"data": [{
            "asks": [list(a) for a in asks], "bids": [list(b) for b in bids], "ms_t": self.ts,
            "symbol": pair.replace("-", "_"), "type": kind, "version": self.version[pair]}],
            "table": "spot/depth/increase100"}))

    def snapshot(self, pair, m):
        return self._push(pair, "snapshot", *m.book.levels())

    def diff(self, pair, m, bids, asks):
        self.version[pair] += 1
        return self._push(pair, "update", bids, asks)

    def skipped(self, pair, m, bids, asks):
        self.version[pair] += 1

    def heartbeat(self, pair):
        if pair in self.book_live and self.rng.random() < 0.5:
            return self._push(pair, "update", [], [])  # "Abnormal Situation" 1
        return "pong"

    def trade(self, pair, price, size, side):
        self.ts += 1
        return deflate_raw(json.dumps({"table": "spot/trade", "data": [{
            "symbol": pair.replace("-", "_"), "price": price, "side": side, "size": size,
            "s_t": self.ts // 1000, "ms_t": self.ts}]})), str(self.ts)

    def corrupt(self, frame):
        msg = json.loads(inflate_raw(frame))
        d = msg["data"][0]
        row = (d["bids"] or d["asks"])[0]
        row[0] = row[0].replace("0", "O", 1) if "0" in row[0] else "x" + row[0]
        return deflate_raw(json.dumps(msg))


def test_clean_incremental_session_equals_the_reference_book():
    h = clean_session(market_data_venue("bitmart"), BitmartIncreaseServer(PAIRS, seed=5), 2500)
    assert_clean(h, checksummed=False)
    assert h.server.requests == 0
    assert sum(h.tracker.stats(p).stale_dropped for p in PAIRS) > 10  # the empty updates, dropped


@pytest.mark.parametrize("kind", FAULTS)
def test_incremental_faults_are_detected_and_repaired_by_the_documented_request(kind):
    h, t = fault_session(market_data_venue("bitmart"), BitmartIncreaseServer(PAIRS, seed=7), kind)
    assert_sequenced_fault_repaired(h, t, kind)
    if kind in ("drop", "swap", "corrupt", "truncate", "garbage"):
        assert h.server.requests >= 1  # the snapshot came from "request", not a resubscription


def test_incremental_generated_session_replays_clean(tmp_path):
    server = BitmartIncreaseServer(PAIRS, seed=8)
    result = replay_generated_session(tmp_path, server, market_data_venue("bitmart"), "bitmart", 2000)
    for p in PAIRS:
        assert result.pairs[p]["diffs_applied"] == server.counts[p]["diff"] > 100


def make_session(path):
    """The committed ``BITMART.gen``: 300 frames of the incremental channel, seed 21, two pairs."""
    server = BitmartIncreaseServer(PAIRS[:2], seed=21, levels=6, max_levels=9)
    v = market_data_venue("bitmart")
    sent, frames = record_clean(server, v, 300)
    write_session(path, v.ws_endpoint(None).url, sent, frames, server.pairs)
    return server


def test_committed_session_is_the_generator_output_and_replays_to_the_reference(tmp_path):
    from hbconnect.cli import main

    committed = RECORDINGS / "BITMART.gen"
    server = make_session(tmp_path / "again.gen")
    assert committed.read_bytes() == (tmp_path / "again.gen").read_bytes()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["replay", str(committed), "--exchange", "bitmart", "--json"]) in (0, None)
    report = json.loads(buf.getvalue())
    assert report["bad_frames_total"] == 0
    for p in server.pairs:
        r = report["pairs"][p]
        assert (r["state"], r["gaps"], r["resyncs"], r["bad_frames"], r["snapshots"]) == ("live", 0, 0, 0, 1), r
        assert r["diffs_applied"] == server.counts[p]["diff"] > 20
        bids, asks = server.markets[p].book.levels()
        assert r["bids"] == [list(x) for x in bids[:5]] and r["asks"] == [list(x) for x in asks[:5]]


# ---- the whole-book channel (depth=50) --------------------------------------------------------------------
class BitmartFullServer(SnapshotServer):
    def decode(self, text):
        msg = json.loads(text)
        out = []
        for arg in msg["args"]:
            channel, _, sym = arg.partition(":")
            out.append((msg["op"], "book" if channel.startswith("spot/depth") else "trades", sym.replace("_", "-")))
        return out

    def push(self, pair, m, ts):
        bids, asks = m.book.levels()
        return deflate_raw(json.dumps({"table": "spot/depth50", "data": [{
            "asks": [list(a) for a in asks], "bids": [list(b) for b in bids],
            "symbol": pair.replace("-", "_"), "ms_t": ts}]}))

    def trade(self, pair, price, size, side):
        self.ts += 1
        return deflate_raw(json.dumps({"table": "spot/trade", "data": [{
            "symbol": pair.replace("-", "_"), "price": price, "side": side, "size": size,
            "s_t": self.ts // 1000, "ms_t": self.ts}]})), str(self.ts)

    def heartbeat(self, pair):
        return "pong"

    def corrupt(self, frame):
        msg = json.loads(inflate_raw(frame))
        msg["data"][0]["bids"][0][0] = "1O0.5"
        return deflate_raw(json.dumps(msg))


def test_clean_full_book_session_equals_the_reference_book():
    snapshot_session_clean(BitmartMarketData(depth=50), BitmartFullServer(PAIRS, seed=3))


@pytest.mark.parametrize("kind", FAULTS)
def test_full_book_faults_are_harmless_or_counted_and_repaired(kind):
    snapshot_fault_run(BitmartMarketData(depth=50), BitmartFullServer(PAIRS, seed=9), kind)


(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    DOC_FRAMES, lambda: (asking(), asking(5)))
