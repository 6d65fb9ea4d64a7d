"""MEXC spot v3: protobuf pushes decoded with the modules generated from MEXC's .proto files,
fromVersion/toVersion aligned with the REST depth snapshot (SEQ_RANGE). Documented examples,
generated sessions through the real tracker with every fault, the committed generated session
through ``hbconnect replay``, parse-totality fuzzing of the protobuf and JSON frames."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _venue_e2e import FAULTS, Server
from spot5_e2e import RestHarness, books_equal, write_session
from hbconnect.exchanges import market_data_venue
from hbconnect.exchanges.mexc.proto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from hbconnect.market.messages import BookDiff, BookSnapshot, Heartbeat, ParseError, SyncRule, Trade

RECORDINGS = Path(__file__).parent / "data" / "recordings"
PAIRS = ["BTC-USDT", "ETH-USDT"]


def push(channel, symbol, send_time, depth=None, deals=None) -> bytes:
    w = PushDataV3ApiWrapper(channel=channel, symbol=symbol, sendTime=send_time)
    if depth is not None:
        d = w.publicAggreDepths
        for side, rows in (("asks", depth["asks"]), ("bids", depth["bids"])):
            for p, q in rows:
                item = getattr(d, side).add()
                item.price, item.quantity = p, q
        d.eventType = channel.rpartition("@")[0]
        d.fromVersion, d.toVersion = depth["from"], depth["to"]
    if deals is not None:
        for p, q, tt, t, tid in deals:
            item = w.publicAggreDeals.deals.add()
            item.price, item.quantity, item.tradeType, item.time, item.tradeId = p, q, tt, t, tid
        w.publicAggreDeals.eventType = channel.rpartition("@")[0]
    return w.SerializeToString()


# The doc's Diff.Depth and Trade Streams examples (docs/mexc/spot/public_websocket_api.md)
DOC_DEPTH = push("spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT", "BTCUSDT", 1736411507002,
                 depth={"asks": [], "bids": [("92877.58", "0.00000000")], "from": "10589632359", "to": "10589632359"})
DOC_DEALS = push("spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT", "BTCUSDT", 1736409765052,
                 deals=[("93220.00", "0.04438243", 2, 1736409765051, "")])
DOC_DEPTH_BODY = b'{"lastUpdateId": 1112416, "bids": [["15.00000", "49999.00000"]], "asks": [["14.0000", "1.0000"]]}'


def venue():
    v = market_data_venue("mexc")
    for p in PAIRS:
        v.to_venue_symbol(p)
    return v


def test_registry_rules_requests_and_limits():
    v = venue()
    assert v.sync_rule is SyncRule.SEQ_RANGE and v.max_pairs_per_connection == 15  # 30 subscriptions
    assert v.ws_message_rate == 100.0
    ep = v.ws_endpoint(None)
    assert ep.url == "wss://wbs-api.mexc.com/ws" and json.loads(ep.ping_message) == {"method": "PING"}
    req = v.snapshot_request("BTC-USDT")
    assert req.url == "https://api.mexc.com/api/v3/depth" and req.params == {"symbol": "BTCUSDT", "limit": 1000}
    other = v.with_urls(rest="http://127.0.0.1:9/", ws="ws://127.0.0.1:9/ws")
    assert other.snapshot_request("BTC-USDT").url == "http://127.0.0.1:9/api/v3/depth"
    assert v.snapshot_request("BTC-USDT").url.startswith("https://api.mexc.com")
    many = v.subscribe_messages([f"C{i}-USDT" for i in range(16)])
    assert [len(json.loads(m)["params"]) for m in many] == [30, 2]
    assert json.loads(v.unsubscribe_messages(["BTC-USDT"])[0]) == {"method": "UNSUBSCRIPTION", "params": [
        "spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT", "spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"]}


def test_doc_examples_translate():
    v = venue()
    (d,) = v.parse_message(DOC_DEPTH)
    assert d == BookDiff("BTC-USDT", [["92877.58", "0.00000000"]], [], 10589632359, 10589632359, None,
                         pytest.approx(1736411507.002))
    (t,) = v.parse_message(DOC_DEALS)
    assert t == Trade("BTC-USDT", "1736409765051", "93220.00", "0.04438243", "sell", pytest.approx(1736409765.051))
    snap = v.parse_snapshot("BTC-USDT", DOC_DEPTH_BODY)
    assert isinstance(snap, BookSnapshot) and snap.update_id == 1112416 and snap.bids == [["15.00000", "49999.00000"]]
    assert v.parse_message('{"id":0,"code":0,"msg":"PONG"}') == [Heartbeat()]
    assert v.parse_message('{"id":0,"code":0,"msg":"spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT"}') == []


@pytest.mark.parametrize("frame", [
    DOC_DEPTH[:-3],
    b"\x00\x01garbage",
    push("spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT", "BTCUSDT", 1,
         depth={"asks": [], "bids": [("1", "2")], "from": "9", "to": "8"}),
    push("spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT", "BTCUSDT", 1,
         depth={"asks": [], "bids": [("1", "2")], "from": "", "to": "8"}),
    push("spot@public.aggre.depth.v3.api.pb@100ms@XYZUSDT", "XYZUSDT", 1,
         depth={"asks": [], "bids": [("1", "2")], "from": "1", "to": "1"}),  # never asked for
    push("spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT", "BTCUSDT", 1, deals=[("1", "2", 3, 1, "x")]),
    PushDataV3ApiWrapper(channel="x").SerializeToString(),
    '{"nothing": 1}',
])
def test_malformed_frames_raise_parse_error(frame):
    with pytest.raises(ParseError):
        venue().parse_message(frame)


def test_malformed_snapshot_bodies_raise_parse_error():
    v = venue()
    for body in (b'{"code":-1121,"msg":"Invalid symbol."}', b"{", b'{"lastUpdateId":"x","bids":[],"asks":[]}',
                 b'{"lastUpdateId":1,"bids":[["1.5"]],"asks":[]}'):
        with pytest.raises(ParseError):
            v.parse_snapshot("BTC-USDT", body)


# ---- a generated venue through the real tracker ------------------------------------------------------
class MexcServer(Server):
    """Aggregated depth pushes with contiguous versions per pair (the version moves with the
    market whether or not anyone listens), deals, and REST snapshots of the true book."""

    in_flight = 1

    def __init__(self, pairs, seed=1, **kw):
        super().__init__(pairs, seed, **kw)
        self.version = {p: 10_000 * (i + 1) for i, p in enumerate(self.pairs)}
        self.ts = 1736411507002

    def decode(self, text):
        msg = json.loads(text)
        op = "subscribe" if msg["method"] == "SUBSCRIPTION" else "unsubscribe"
        out = []
        for ch in msg["params"]:
            sym = ch.rpartition("@")[2]
            pair = {p.replace("-", ""): p for p in self.pairs}[sym]
            out.append((op, "book" if ".depth." in ch else "trades", pair))
        return out

    def on_client(self, text):
        for op, kind, pair in self.decode(text):
            if kind == "book":
                if op == "subscribe":
                    self.book_live.add(pair)  # no in-band snapshot: the stream starts at once
                else:
                    self.book_live.discard(pair)
            else:
                (self.trades_on.add if op == "subscribe" else self.trades_on.discard)(pair)

    def diff(self, pair, m, bids, asks):
        first = self.version[pair] + 1
        self.version[pair] += self.rng.randint(1, 3)  # one push may aggregate several versions
        self.ts += 100
        sym = pair.replace("-", "")
        return push(f"spot@public.aggre.depth.v3.api.pb@100ms@{sym}", sym, self.ts,
                    depth={"asks": asks, "bids": bids, "from": str(first), "to": str(self.version[pair])})

    def skipped(self, pair, m, bids, asks):
        self.version[pair] += self.rng.randint(1, 3)

    def trade(self, pair, price, size, side):
        self.ts += 1
        tid = f"{self.ts}T"
        sym = pair.replace("-", "")
        return push(f"spot@public.aggre.deals.v3.api.pb@100ms@{sym}", sym, self.ts,
                    deals=[(price, size, 1 if side == "buy" else 2, self.ts, tid)]), tid

    def heartbeat(self, pair):
        return '{"id":0,"code":0,"msg":"PONG"}'

    def rest_body(self, pair, req=None):
        bids, asks = self.markets[pair].book.levels()
        return json.dumps({"lastUpdateId": self.version[pair], "bids": [list(b) for b in bids],
                           "asks": [list(a) for a in asks]}).encode()

    def corrupt(self, frame):
        w = PushDataV3ApiWrapper.FromString(frame)
        d = w.publicAggreDepths
        (d.bids or d.asks)[0].price = "1O0.5"
        return w.SerializeToString()


def run(kind=None, seed=9):
    h = RestHarness(venue(), MexcServer(PAIRS, seed=seed))
    h.run(400)
    assert all(books_equal(h.tracker, h.server, p) for p in PAIRS)
    before = h.totals()
    if kind is not None:
        assert h.run(600, {0: kind}) == [kind]
    else:
        h.run(600)
    h.settle()
    for p in PAIRS:
        assert h.tracker.state(p).value == "live" and books_equal(h.tracker, h.server, p), (kind, p)
    return h, before, h.totals()


def test_clean_session_zero_gaps_true_books_and_trades():
    h, _, t = run()
    assert t["gaps"] == 0 and t["resyncs"] == 0 and t["tracker_bad_frames"] == 0, t
    assert t["diffs_applied"] > 300
    for p in PAIRS:
        assert h.tracker.stats(p).snapshots == 1
        tid, price, size, side = h.server.last_trade[p]
        lt = h.tracker.last_trade(p)
        assert (lt.trade_id, lt.price, lt.amount, lt.side) == (tid, price, size, side)


@pytest.mark.parametrize("kind", FAULTS)
def test_every_fault_is_detected_or_harmless_and_repaired(kind):
    h, before, t = run(kind)
    new = {k: t[k] - before[k] for k in t}
    if kind == "duplicate":  # the repeat is not above the book's version: stale, dropped
        assert new["stale_dropped"] == 1 and new["resyncs"] == 0, new
        return
    assert new["resyncs"] >= 1, new  # a REST snapshot was fetched again
    if kind in ("drop", "swap", "truncate", "garbage"):
        assert new["gaps"] >= 1, new  # the versions no longer chain
    if kind in ("corrupt", "truncate", "garbage"):
        assert new["tracker_bad_frames"] == 1, new


# ---- the committed generated session --------------------------------------------------------------------
def make_session(path):
    server = MexcServer(PAIRS, seed=21, levels=6, max_levels=9)
    v = venue()
    sent = v.subscribe_messages(PAIRS)
    for text in sent:
        server.on_client(text)
    rest = [(f"https://api.mexc.com/api/v3/depth?symbol={p.replace('-', '')}&limit=1000",
             server.rest_body(p).decode()) for p in PAIRS]
    frames = [server.next_frame()[0] for _ in range(300)]
    write_session(path, v.ws_endpoint(None).url, sent, frames, PAIRS, rest)
    return server


def test_committed_session_is_the_generator_output_and_replays_to_the_true_books(tmp_path):
    import contextlib
    import io

    from hbconnect.cli import main

    committed = RECORDINGS / "MEXC.gen"
    server = make_session(tmp_path / "again.gen")
    assert committed.read_bytes() == (tmp_path / "again.gen").read_bytes()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["replay", str(committed), "--exchange", "mexc", "--json"]) in (0, None)
    report = json.loads(buf.getvalue())
    assert report["bad_frames_total"] == 0 and report["unanswered_snapshots"] == 0
    for p in PAIRS:
        r = report["pairs"][p]
        assert (r["state"], r["gaps"], r["resyncs"], r["bad_frames"]) == ("live", 0, 0, 0), (p, r)
        assert r["diffs_applied"] > 50
        bids, asks = server.markets[p].book.levels()
        assert r["bids"] == [list(x) for x in bids[:5]] and r["asks"] == [list(x) for x in asks[:5]]


# ---- parse totality -----------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(base=st.sampled_from([DOC_DEPTH, DOC_DEALS]), data=st.data())
def test_mutated_protobuf_frames_give_events_or_parse_error(base, data):
    """Random byte edits of valid pushes: translated into well-typed events or ParseError."""
    frame = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, max(len(frame) - 1, 0)))
        if op == "flip" and frame:
            frame[i] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del frame[i:]
        else:
            frame[i:i] = bytes(data.draw(st.lists(st.integers(0, 255), max_size=6)))
    from _venue_e2e import assert_parse_is_total

    assert_parse_is_total(venue(), bytes(frame))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64) | st.text(max_size=64))
def test_arbitrary_frames_give_events_or_parse_error(frame):
    from _venue_e2e import assert_parse_is_total

    assert_parse_is_total(venue(), frame)
