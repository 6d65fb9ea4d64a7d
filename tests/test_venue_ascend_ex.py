"""AscendEx spot market data: translation, a real recorded session (cryptofeed's ASCENDEX sample,
tests/data/recordings/) replayed through ``hbconnect replay`` and checked against an independent
reference, faults on the recording and on a generated session, parse totality."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import BookDiff, BookSnapshot, Heartbeat, ParseError, Reply, SyncRule, Trade
from hbconnect.market.replay import Fault, Replayer, book_frame_indices, inject, load_session

from _venue_e2e import (
    FAULTS, Server, assert_sequenced_fault_repaired, assert_clean, clean_session, fault_session, parse_totality_tests,
    replay_generated_session,
)
from refbook import RefBook

REC = Path(__file__).parent / "data" / "recordings"
FILES = [REC / "ASCENDEX.0", REC / "ASCENDEX.ws.1.0"]
VENUE = market_data_venue("ascend_ex")


def fresh():
    v = market_data_venue("ascendex")
    v.load_symbols(load_session(FILES).rest[0].data)
    return v


@pytest.fixture(scope="module")
def session():
    return load_session(FILES)


def test_registry_rules_and_messages():
    v = market_data_venue("ascendex")
    assert v.name == "ascend_ex" and v.sync_rule is SyncRule.CONTIGUOUS
    assert v.snapshot_request("BTC-USDT") is None  # in-band depth-snapshot
    assert v.to_venue_symbol("BTC-USDT") == "BTC/USDT" and v.from_venue_symbol("BTC/USDT") == "BTC-USDT"
    with pytest.raises(ParseError):
        v.from_venue_symbol("ETH/USDT")  # neither listed nor asked for: never guessed
    msgs = [json.loads(m) for m in v.subscribe_messages(["BTC-USDT", "ETH-BTC"])]
    assert [(m["op"], m.get("ch")) for m in msgs[:2]] == [("sub", "depth:BTC/USDT,ETH/BTC"),
                                                           ("sub", "trades:BTC/USDT,ETH/BTC")]
    assert msgs[2:] == [{"op": "req", "action": "depth-snapshot", "args": {"symbol": s}}
                        for s in ("BTC/USDT", "ETH/BTC")]
    assert [json.loads(m)["op"] for m in v.unsubscribe_messages(["BTC-USDT"])] == ["unsub", "unsub"]
    assert [json.loads(m) for m in v.resync_messages("BTC-USDT")] == [msgs[2]]
    moved = v.with_urls(rest="http://127.0.0.1:1", ws="ws://127.0.0.1:2/ws")
    assert moved.ws_endpoint(None).url == "ws://127.0.0.1:2/ws"
    assert moved.rest_snapshot_request("BTC-USDT").url == "http://127.0.0.1:1/api/pro/v1/depth"
    assert v.ws_endpoint(None).url == "wss://ascendex.com/api/pro/v1/stream"


def test_recorded_frames_translate(session):
    v = fresh()
    kinds: dict = {}
    for rec in session.frames:
        for ev in v.parse_message(rec.data):
            kinds[type(ev)] = kinds.get(type(ev), 0) + 1
    assert kinds == {BookDiff: 277, BookSnapshot: 10, Trade: 4, Reply: 2, Heartbeat: 1}
    (t, _) = v.parse_message(next(r.data for r in session.frames if '"m":"trades","symbol":"CHZ' in r.data))
    assert (t.pair, t.price, t.amount, t.side, t.trade_id) == ("CHZ-USDT", "0.624801", "10", "sell", "27772246859")
    assert v.parse_message('{"m":"ping","hp":3}') == [Reply('{"op":"pong"}')]
    # the sent pongs of the recording are what the module answers
    assert [r.data for r in session.records if r.kind == "send" and "pong" in r.data] == ['{"op":"pong"}'] * 2


def test_rest_depth_body():
    # REST "Order Book (Depth)": the WS snapshot wrapped in {"code":0,"data":...}
    body = (b'{"code":0,"data":{"m":"depth-snapshot","symbol":"ASD/USDT","data":{"seqnum":5068757,'
            b'"ts":1573165838976,"asks":[["0.06848","4084.2"],["0.0696","15890.6"]],'
            b'"bids":[["0.06703","13500"],["0.06615","24036.9"]]}}}')
    s = VENUE.parse_snapshot("ASD-USDT", body)
    assert (s.update_id, s.asks[1], s.bids[0]) == (5068757, ["0.0696", "15890.6"], ["0.06703", "13500"])
    for bad in (b"", b'{"code":100005,"message":"x"}', body.replace(b"ASD/USDT", b"BTC/USDT")):
        with pytest.raises(ParseError):
            VENUE.parse_snapshot("ASD-USDT", bad)


def reference_books(session) -> dict:
    """The true books, from the raw frames by AscendEx's rule, written without hbconnect: a
    depth-snapshot replaces the book; a depth message with seqnum <= the book's is already in it;
    the next must be seqnum + 1."""
    books: dict = {}
    for rec in session.frames:
        msg = json.loads(rec.data)
        if msg.get("m") not in ("depth", "depth-snapshot"):
            continue
        pair = msg["symbol"].replace("/", "-")
        d = msg["data"]
        if msg["m"] == "depth-snapshot":
            books[pair] = b = RefBook()
            b.snapshot(d["bids"], d["asks"], d["seqnum"])
        elif pair in books and d["seqnum"] > books[pair].update_id:
            assert d["seqnum"] == books[pair].update_id + 1, "the recording itself has a gap"
            books[pair].diff(d["bids"], d["asks"], d["seqnum"])
    return books


def test_recorded_session_replays_clean_and_exact(session):
    ref = reference_books(session)
    out = subprocess.run([sys.executable, "-m", "hbconnect", "replay", *map(str, FILES),
                          "--exchange", "ascendex", "--json"], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["bad_frames_total"] == 0 and len(result["pairs"]) == 10
    applied = 0
    for pair, r in result["pairs"].items():
        assert r["state"] == "live" and r["gaps"] == 0 and r["resyncs"] == 0, (pair, r)
        b = ref[pair]
        assert r["last_update_id"] == b.update_id
        assert r["bids"] == [list(x) for x in b.top_bids(5)] and r["asks"] == [list(x) for x in b.top_asks(5)]
        applied += r["diffs_applied"]
    assert applied == 269  # 277 depth messages, 8 of them before (and inside) their pair's snapshot


def test_recorded_full_books_equal_the_reference(session):
    """Every level of every book, not only the top 5 the report shows."""
    ref = reference_books(session)
    rp = Replayer(fresh(), session)
    rp.run()
    for pair, b in ref.items():
        book = rp.tracker.book(pair)
        assert [tuple(x) for x in book.bids_text()] == b.top_bids()
        assert [tuple(x) for x in book.asks_text()] == b.top_asks()


@pytest.mark.parametrize("kind", ["drop", "swap", "truncate", "garbage", "duplicate", "close"])
def test_faults_on_the_recording_are_detected_or_harmless(session, kind):
    idx = book_frame_indices(session, fresh(), "NEO-USDT")
    at = idx[len(idx) // 2]
    nxt = idx[len(idx) // 2 + 1]
    fault = Fault(kind, at, other=nxt) if kind == "swap" else Fault(kind, at)
    rp = Replayer(fresh(), inject(session, [fault]))
    r = rp.run().pairs["NEO-USDT"]
    if kind == "duplicate":  # the repeat's seqnum is not above the book's: dropped, harmless
        assert r["gaps"] == 0 and r["stale_dropped"] >= 3 and r["state"] == "live"
    elif kind == "close":  # the reconnect resubscribes and asks again; the recording has no answer
        assert r["state"] != "live" and r["snapshots"] == 1
        asked = [t for _, t in rp.sent if '"depth-snapshot"' in t and "NEO/USDT" in t]
        assert len(asked) == 2  # once at the start, once after the reconnect
    else:
        assert r["gaps"] + r["bad_frames"] >= 1 and r["state"] != "live", (kind, r)


# ---- a generated session: the venue's documented protocol, faults repaired by resync ---------------
class AscendExServer(Server):
    """``depth:`` diffs numbered seqnum + 1 per pair (also while unsubscribed: the counter is the
    venue's), a ``depth-snapshot`` answer to each request carrying the current seqnum."""

    decimals = 4

    def __init__(self, pairs, seed=1, **kw):
        super().__init__(pairs, seed, **kw)
        self.seq = {p: 21034366000 + 1000 * i for i, p in enumerate(self.pairs)}
        self.ts = 1618677609000
        self.tid = 27772246859

    def decode(self, text):
        msg = json.loads(text)
        if msg.get("op") == "req" and msg.get("action") == "depth-snapshot":
            return [("subscribe", "book", msg["args"]["symbol"].replace("/", "-"))]
        out = []
        if msg.get("op") in ("sub", "unsub"):
            ch, _, syms = msg["ch"].partition(":")
            for s in syms.split(","):
                op = "subscribe" if msg["op"] == "sub" else "unsubscribe"
                if ch == "trades" or op == "unsubscribe":
                    out.append((op, "trades" if ch == "trades" else "book", s.replace("/", "-")))
        return out

    def _push(self, m, pair, bids, asks):
        self.ts += 7
        return json.dumps({"m": m, "symbol": pair.replace("-", "/"), "data": {
            "ts": self.ts, "seqnum": self.seq[pair], "asks": [list(a) for a in asks],
            "bids": [list(b) for b in bids]}})

    def snapshot(self, pair, m):
        return self._push("depth-snapshot", pair, *m.book.levels())

    def diff(self, pair, m, bids, asks):
        self.seq[pair] += 1
        return self._push("depth", pair, bids, asks)

    def skipped(self, pair, m, bids, asks):
        self.seq[pair] += 1

    def heartbeat(self, pair):
        return '{"m":"ping","hp":3}'

    def trade(self, pair, price, size, side):
        self.tid += 2
        return json.dumps({"m": "trades", "symbol": pair.replace("-", "/"), "data": [
            {"p": price, "q": size, "ts": self.ts, "bm": side == "sell", "seqnum": self.tid}]}), str(self.tid)

    def rows_of(self, data):
        return data["data"]["bids"] or data["data"]["asks"]


PAIRS = ["BTC-USDT", "ETH-USDT", "ASD-USDT"]


def test_e2e_clean_session():
    h = clean_session(market_data_venue("ascend_ex"), AscendExServer(PAIRS, seed=3))
    assert_clean(h, checksummed=False)


@pytest.mark.parametrize("kind", FAULTS)
def test_e2e_fault_is_detected_and_repaired(kind):
    h, t = fault_session(market_data_venue("ascend_ex"), AscendExServer(PAIRS, seed=4), kind)
    assert_sequenced_fault_repaired(h, t, kind)


def test_e2e_generated_recording_replays_clean(tmp_path):
    server = AscendExServer(PAIRS, seed=5)
    result = replay_generated_session(tmp_path, server, market_data_venue("ascend_ex"), "ascend_ex")
    for p in PAIRS:
        assert result.pairs[p]["diffs_applied"] == server.counts[p]["diff"]


DOC_FRAMES = [
    '{"m":"depth","symbol":"ASD/USDT","data":{"ts":1621558370010,"seqnum":5068757,'
    '"asks":[["0.06844","10760"]],"bids":[["0.06777","562.4"],["0.05","221760.6"]]}}',
    '{"m":"depth-snapshot","symbol":"ASD/USDT","data":{"seqnum":3167819629,"ts":1612940200000,'
    '"asks":[["0.06758","585"],["0.06773","8732"]],"bids":[["0.06733","667"],["0.06732","750"]]}}',
    '{"m":"trades","symbol":"ASD/USDT","data":[{"p":"0.068600","q":"100.000","ts":1573069903254,'
    '"bm":false,"seqnum":144115188077966308}]}',
    '{"m":"ping","hp":3}',
    '{"m":"sub","id":"abc123","ch":"depth:ASD/USDT","code":0}',
]

(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    DOC_FRAMES, lambda: (asking("ASD-USDT"),))


def asking(*pairs):
    v = market_data_venue("ascend_ex")
    v.subscribe_messages(list(pairs))
    return v
