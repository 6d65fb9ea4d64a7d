"""BitMart (deflate), BingX (gzip) and Bitrue (gzip) spot: venues whose every book push is the
whole book. Their documented example messages, generated sessions through the real tracker with
every fault injected, the committed generated sessions through ``hbconnect replay``, and
parse-totality fuzzing."""
from __future__ import annotations

import gzip
import struct
import json
import zlib
from pathlib import Path

import pytest

from _venue_e2e import FAULTS, Harness, parse_totality_tests, record_clean, replay_generated_session
from spot5_e2e import SnapshotServer, books_equal, write_session
from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import BookSnapshot, Heartbeat, ParseError, Reply, SyncRule, Trade

RECORDINGS = Path(__file__).parent / "data" / "recordings"
PAIRS = ["BTC-USDT", "ETH-USDT", "DOGE-USDT"]


def deflate_raw(text: str) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(text.encode()) + c.flush()


def inflate_raw(data: bytes) -> str:
    return zlib.decompress(data, -zlib.MAX_WBITS).decode()


#: the gzip header of level 9 and mtime 0 that zlib writes (XFL 2, OS 3 = Unix), as Python 3.11's
#: gzip.compress produced it: written here by hand because 3.13's gzip.compress writes OS 255,
#: and the committed sessions must be byte-for-byte what this generator makes on every Python
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03"


def gz(text: str) -> bytes:
    data = text.encode()
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0)
    body = c.compress(data) + c.flush()
    return _GZIP_HEADER + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def rows_json(rows) -> str:
    return json.dumps([list(r) for r in rows])


# ---- the venues' servers (frames as documented) ------------------------------------------------
class BitmartServer(SnapshotServer):
    def decode(self, text):
        msg = json.loads(text)
        op = msg["op"]
        out = []
        for arg in msg["args"]:
            channel, _, sym = arg.partition(":")
            out.append((op, "book" if channel.startswith("spot/depth") else "trades", sym.replace("_", "-")))
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


class BingXServer(SnapshotServer):
    def decode(self, text):
        msg = json.loads(text)
        if "pong" in msg:
            return []
        sym, _, kind = msg["dataType"].partition("@")
        return [("unsubscribe" if msg.get("reqType") == "unsub" else "subscribe",
                 "trades" if kind == "trade" else "book", sym)]

    def push(self, pair, m, ts):
        bids, asks = m.book.levels()
        # as documented: no id or time in a depth push, so pushes cannot be ordered
        return gz(json.dumps({"dataType": f"{pair}@depth100",
                              "data": {"bids": [list(b) for b in bids],
                                       "asks": [list(a) for a in reversed(asks)]}}))

    def trade(self, pair, price, size, side):
        self.ts += 1
        tid = str(self.ts * 10)
        return gz(json.dumps({"code": 0, "dataType": f"{pair}@trade", "data": {
            "e": "trade", "E": self.ts, "s": pair, "t": tid, "p": price, "q": size, "T": self.ts,
            "m": side == "sell"}})), tid

    def heartbeat(self, pair):
        return gz(json.dumps({"ping": f"p{self.ts}", "time": "2023-11-22T10:00:00.000+0800"}))

    def corrupt(self, frame):
        msg = json.loads(gzip.decompress(frame))
        msg["data"]["bids"][0][0] = "1O0.5"
        return gz(json.dumps(msg))


class BitrueServer(SnapshotServer):
    """Writes prices and sizes as JSON numbers (their text, trailing zeros included, must reach
    the book unchanged)."""

    def decode(self, text):
        msg = json.loads(text)
        if "pong" in msg:
            return []
        sym = msg["params"]["channel"][len("market_"):-len("_simple_depth_step0")]
        pair = {p.replace("-", "").lower(): p for p in self.pairs}[sym]
        return [("subscribe" if msg["event"] == "sub" else "unsubscribe", "book", pair)]

    def push(self, pair, m, ts):
        bids, asks = m.book.levels()
        num = lambda rows: "[" + ",".join(f"[{p},{s}]" for p, s in rows) + "]"  # noqa: E731
        channel = "market_" + pair.replace("-", "").lower() + "_simple_depth_step0"
        return gz(f'{{"channel":"{channel}","ts":{ts},"tick":{{"asks":{num(asks)},"buys":{num(bids)}}}}}')

    def heartbeat(self, pair):
        return gz(json.dumps({"ping": self.ts}))

    def corrupt(self, frame):
        text = gzip.decompress(frame).decode()
        i = text.index('"buys":[[') + len('"buys":[[')
        return gz(text[:i] + "-" + text[i:])  # a negative price: refused by the book


VENUES = {
    "bitmart": (BitmartServer, "BITMART"),
    "bing_x": (BingXServer, "BINGX"),
    "bitrue": (BitrueServer, "BITRUE"),
}


# ---- documented examples ----------------------------------------------------------------------------
# BitMart spot/trade push (docs/bitmart/endpoints/private/GET_public_trade_channel.md)
BITMART_TRADE = ('{"table":"spot/trade","data":[{"symbol":"ETH_USDT","price":"162.12","side":"buy",'
                 '"size":"11.085","s_t":1542337219,"ms_t":1542337219120}]}')
# BitMart spot/depth50 push, in the shape of the doc's depth example
BITMART_DEPTH = ('{"table":"spot/depth50","data":[{"asks":[["161.96","7.37567"]],"bids":[["161.94",'
                 '"4.552355"]],"symbol":"ETH_USDT","ms_t":1542337219120}]}')
# BingX's doc examples (BingX-spot-api-doc "WebSocket API.md"; the depth one as its @depth100 form)
BINGX_DEPTH = ('{"dataType":"BTC-USDT@depth100","data":{"bids":[["43302.00","0.000021"]],'
               '"asks":[["43499.00","0.000021"]]}}')
BINGX_TRADE = ('{"data":{"E":1649832413551,"T":1649832413512,"e":"trade","p":"40125.48","q":"0.007146",'
               '"s":"BTC-USDT","t":"33685717","m":true},"dataType":"BTC-USDT@trade"}')
BINGX_PING = '{"ping":"2177c68e4d0e45679965f482929b59c2","time":"2022-06-07T16:27:36.323+0800"}'
# Bitrue's doc example (Spot-official-api-docs README, "Response of DEPTH message pushing")
BITRUE_DEPTH = ('{"ts":1663815268584,"channel":"market_btcusdt_simple_depth_step0","tick":{"buys":'
                '[["18619.40","0.0013"],["1000.00","0.0020"]],"asks":[["18620.32","0.0220"],'
                '["606500.00","0.0001"]]}}')
BITRUE_NUMBERS = ('{"channel":"market_btcusdt_simple_depth_step0","ts":1597026383085,"tick":'
                  '{"asks":[[9546.50,0.0098]],"buys":[["9545.6","0.0047"]]}}')
BITRUE_ACK = ('{"channel":"market_btcusdt_simple_depth_step0","cb_id":"btcusdt","event_rep":"subed",'
              '"status":"ok","ts":1663815268584}')


def venue(name):
    v = market_data_venue(name)
    v.to_venue_symbol("ETH-USDT")
    v.to_venue_symbol("BTC-USDT")
    return v


def test_registry_rules_and_urls():
    for name, url in (("bitmart", "wss://ws-manager-compress.bitmart.com/api?protocol=1.1"),
                      ("bing_x", "wss://open-api-ws.bingx.com/market"),
                      ("bitrue", "wss://ws.bitrue.com/market/ws")):
        v = market_data_venue(name)
        assert v.sync_rule is SyncRule.SNAPSHOTS and v.snapshot_request("BTC-USDT") is None
        assert v.ws_endpoint(None).url == url
        assert v.with_urls(ws="ws://127.0.0.1:9/ws").ws_endpoint(None).url == "ws://127.0.0.1:9/ws"
        assert v.ws_endpoint(None).url == url  # the copy, not the original, moved
    assert market_data_venue("bingx").name == "bing_x"
    assert market_data_venue("bitmart").ws_endpoint(None).ping_message == "ping"


def test_symbols_come_from_the_instrument_table_never_a_guess():
    v = market_data_venue("bitmart")
    assert v.to_venue_symbol("btc-usdt") == "BTC_USDT" and v.from_venue_symbol("BTC_USDT") == "BTC-USDT"
    with pytest.raises(ParseError):
        v.from_venue_symbol("OMGB_USD")  # neither listed nor asked for
    b = market_data_venue("bitrue")
    with pytest.raises(ParseError):
        b.parse_message(gz(BITRUE_DEPTH))  # btcusdt was never asked for


def test_subscribe_messages():
    assert json.loads(market_data_venue("bitmart").subscribe_messages(["BTC-USDT"])[0]) == {
        "op": "subscribe", "args": ["spot/depth50:BTC_USDT", "spot/trade:BTC_USDT"]}
    subs = [json.loads(m) for m in market_data_venue("bing_x").subscribe_messages(["BTC-USDT"])]
    assert [set(m) for m in subs] == [{"id", "dataType"}] * 2  # the doc's subscription request
    assert [m["dataType"] for m in subs] == ["BTC-USDT@depth100", "BTC-USDT@trade"]
    unsubs = [json.loads(m) for m in market_data_venue("bing_x").unsubscribe_messages(["BTC-USDT"])]
    assert [m["reqType"] for m in unsubs] == ["unsub", "unsub"]
    assert json.loads(market_data_venue("bitrue").unsubscribe_messages(["BTC-USDT"])[0]) == {
        "event": "unsub", "params": {"cb_id": "btcusdt", "channel": "market_btcusdt_simple_depth_step0"}}


def test_doc_frames_translate_with_exact_text():
    bm = venue("bitmart")
    (snap,) = bm.parse_message(deflate_raw(BITMART_DEPTH))
    assert isinstance(snap, BookSnapshot) and snap.pair == "ETH-USDT" and snap.update_id == 1542337219120
    assert snap.bids == [["161.94", "4.552355"]] and snap.asks == [["161.96", "7.37567"]]
    assert bm.parse_message(BITMART_TRADE) == [Trade("ETH-USDT", "1542337219120", "162.12", "11.085", "buy",
                                                     pytest.approx(1542337219.12))]
    assert bm.parse_message("pong") == [Heartbeat()]
    bx = venue("bing_x")
    (snap,) = bx.parse_message(gz(BINGX_DEPTH))
    assert snap.bids == [["43302.00", "0.000021"]] and snap.asks == [["43499.00", "0.000021"]]
    (t,) = bx.parse_message(gz(BINGX_TRADE))
    assert t == Trade("BTC-USDT", "33685717", "40125.48", "0.007146", "sell", pytest.approx(1649832413.512))
    assert bx.parse_message(gz('{"id":"id1","code":0,"msg":""}')) == []
    (reply,) = bx.parse_message(gz(BINGX_PING))
    assert isinstance(reply, Reply) and json.loads(reply.text) == {
        "pong": "2177c68e4d0e45679965f482929b59c2", "time": "2022-06-07T16:27:36.323+0800"}
    br = venue("bitrue")
    (snap,) = br.parse_message(gz(BITRUE_DEPTH))
    assert snap.bids == [["18619.40", "0.0013"], ["1000.00", "0.0020"]] and snap.update_id == 1663815268584
    assert snap.asks == [["18620.32", "0.0220"], ["606500.00", "0.0001"]]
    (snap,) = br.parse_message(gz(BITRUE_NUMBERS))
    assert snap.asks == [["9546.50", "0.0098"]] and snap.bids == [["9545.6", "0.0047"]]  # number text kept
    assert br.parse_message(gz('{"ping":"1663815268584"}')) == [Reply('{"pong":1663815268584}')]
    assert br.parse_message(gz(BITRUE_ACK)) == []


@pytest.mark.parametrize("name,frame", [
    ("bitmart", b"\x00\x01not deflate"),
    ("bitmart", BITMART_DEPTH.replace('"ms_t":1542337219120', '"ms_t":"x"')),
    ("bitmart", BITMART_TRADE.replace('"buy"', '"B"')),
    ("bing_x", gz(BINGX_DEPTH)[:20]),
    ("bing_x", BINGX_TRADE.replace('"m":true', '"m":"yes"')),
    ("bing_x", BINGX_DEPTH.replace('"dataType":"BTC-USDT@depth100"', '"dataType":"BTCUSDT"')),
    ("bitrue", BITRUE_DEPTH.replace('"ts":1663815268584,', "")),
    ("bitrue", BITRUE_NUMBERS.replace("[9546.50,0.0098]", "[9546.50]")),
    ("bitrue", "NaN"),
])
def test_malformed_frames_raise_parse_error(name, frame):
    with pytest.raises(ParseError):
        venue(name).parse_message(frame)


# ---- generated sessions through the real tracker ------------------------------------------------------
def harness(name, seed=3):
    server_cls = VENUES[name][0]
    return Harness(market_data_venue(name), server_cls(PAIRS, seed=seed))


@pytest.mark.parametrize("name", sorted(VENUES))
def test_clean_session_books_equal_the_true_books(name):
    h = harness(name)
    h.run(1500)
    h.settle()
    t = h.totals()
    assert t["gaps"] == 0 and t["resyncs"] == 0 and t["tracker_bad_frames"] == 0, t
    for p in PAIRS:
        s = h.tracker.stats(p)
        assert s.state == "live" and s.snapshots == h.server.counts[p]["diff"] + 1 > 100, (p, s)
        assert books_equal(h.tracker, h.server, p), p
        if name != "bitrue":  # Bitrue: no public trades taken
            tid, price, size, side = h.server.last_trade[p]
            lt = h.tracker.last_trade(p)
            assert (lt.trade_id, lt.price, lt.amount, lt.side) == (tid, price, size, side)
    if name == "bing_x":  # the server's pings were answered on the same connection
        assert any(json.loads(x).get("pong") for x in h.driver.sent if x.startswith('{"pong"'))


def fault_run(name, kind):
    h = harness(name, seed=9)
    h.run(400)
    assert all(books_equal(h.tracker, h.server, p) for p in PAIRS)
    before = h.totals()
    assert h.run(600, {0: kind}) == [kind]
    h.settle()
    for p in PAIRS:
        assert h.tracker.state(p).value == "live" and books_equal(h.tracker, h.server, p), (kind, p)
    return h, before, h.totals()


@pytest.mark.parametrize("kind", FAULTS)
@pytest.mark.parametrize("name", sorted(VENUES))
def test_every_fault_is_harmless_or_counted_and_repaired(name, kind):
    """Each push is the whole book, so a lost, repeated or late push is repaired by the next one;
    a late (swapped) push is older than the book and dropped; bad frames are counted."""
    h, before, t = fault_run(name, kind)
    if kind == "swap" and name != "bing_x":  # BingX pushes carry no id: the late one applies,
        assert t["stale_dropped"] == before["stale_dropped"] + 1, t  # and the next push repairs it
    if kind in ("corrupt", "truncate", "garbage"):
        assert t["tracker_bad_frames"] == before["tracker_bad_frames"] + 1, t
    if kind == "close":
        assert h.driver.sent.count(h.venue.subscribe_messages(PAIRS)[0]) == 2  # resubscribed


@pytest.mark.parametrize("name", sorted(VENUES))
def test_generated_session_replays_clean(tmp_path, name):
    server_cls = VENUES[name][0]
    result = replay_generated_session(tmp_path, server_cls(PAIRS, seed=12), market_data_venue(name), name, 600)
    assert all(r["snapshots"] > 50 for r in result.pairs.values())


# ---- the committed generated sessions ---------------------------------------------------------------------
def make_session(name, path):
    """The committed session of ``name``: 200 frames from seed 21, two pairs."""
    server_cls, _ = VENUES[name]
    server = server_cls(PAIRS[:2], seed=21, levels=6, max_levels=9)
    v = market_data_venue(name)
    sent, frames = record_clean(server, v, 200)
    write_session(path, v.ws_endpoint(None).url, sent, frames, server.pairs)
    return server


@pytest.mark.parametrize("name", sorted(VENUES))
def test_committed_session_is_the_generator_output_and_replays_to_the_true_books(tmp_path, name):
    from hbconnect.cli import main

    committed = RECORDINGS / f"{VENUES[name][1]}.gen"
    server = make_session(name, tmp_path / "again.gen")
    assert committed.read_bytes() == (tmp_path / "again.gen").read_bytes()
    out = tmp_path / "replay.json"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["replay", str(committed), "--exchange", name, "--json"]) in (0, None)
    report = json.loads(buf.getvalue())
    assert report["bad_frames_total"] == 0
    for p in server.pairs:
        r = report["pairs"][p]
        assert (r["state"], r["gaps"], r["resyncs"], r["bad_frames"]) == ("live", 0, 0, 0), (p, r)
        bids, asks = server.markets[p].book.levels()
        assert r["bids"] == [list(x) for x in bids[:5]] and r["asks"] == [list(x) for x in asks[:5]]


# ---- parse totality --------------------------------------------------------------------------------------
def _venues():
    return (venue("bitmart"), venue("bing_x"), venue("bitrue"))


(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    [BITMART_DEPTH, BITMART_TRADE, BINGX_DEPTH, BINGX_TRADE, BINGX_PING, BITRUE_DEPTH, BITRUE_NUMBERS, BITRUE_ACK], _venues)
