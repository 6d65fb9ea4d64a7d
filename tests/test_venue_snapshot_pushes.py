"""BingX (gzip) and Bitrue (gzip) spot: venues whose every book push is the whole book
(BitMart's whole-book channel is tested with its incremental one in test_venue_bitmart.py).
Their documented example messages, generated sessions through the real tracker with every fault
injected, the committed generated sessions through ``hbconnect replay``, and
parse-totality fuzzing."""
from __future__ import annotations

import gzip
import struct
import json
import zlib
from pathlib import Path

import pytest

from _venue_e2e import FAULTS, parse_totality_tests, record_clean, replay_generated_session
from spot5_e2e import SnapshotServer, snapshot_fault_run, snapshot_session_clean, write_session
from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import ParseError, Reply, SyncRule, Trade

RECORDINGS = Path(__file__).parent / "data" / "recordings"
PAIRS = ["BTC-USDT", "ETH-USDT", "DOGE-USDT"]


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
    the book unchanged); every trade push carries two trades, newest first, as documented."""

    def decode(self, text):
        msg = json.loads(text)
        if "pong" in msg:
            return []
        channel = msg["params"]["channel"][len("market_"):]
        kind = "trades" if channel.endswith("_trade_ticker") else "book"
        sym = channel[:-len("_trade_ticker")] if kind == "trades" else channel[:-len("_simple_depth_step0")]
        pair = {p.replace("-", "").lower(): p for p in self.pairs}[sym]
        return [("subscribe" if msg["event"] == "sub" else "unsubscribe", kind, pair)]

    def push(self, pair, m, ts):
        bids, asks = m.book.levels()
        num = lambda rows: "[" + ",".join(f"[{p},{s}]" for p, s in rows) + "]"  # noqa: E731
        channel = "market_" + pair.replace("-", "").lower() + "_simple_depth_step0"
        return gz(f'{{"channel":"{channel}","ts":{ts},"tick":{{"asks":{num(asks)},"buys":{num(bids)}}}}}')

    def trade(self, pair, price, size, side):
        self.ts += 1
        tid = 20482764 + 2 * (self.ts - 1700000000000)
        channel = "market_" + pair.replace("-", "").lower() + "_trade_ticker"
        row = '{{"id":{},"price":{},"amount":1.5,"side":"{}","vol":{},"ts":{},"ds":"2023-11-15 06:13:20"}}'
        rows = [row.format(tid, price, side.upper(), size, self.ts),  # newest first
                row.format(tid - 1, price, "SELL" if side == "buy" else "BUY", "0.0100", self.ts - 1)]
        return gz(f'{{"channel":"{channel}","tick":{{"data":[{",".join(rows)}]}},"ts":{self.ts}}}'), str(tid)

    def heartbeat(self, pair):
        return gz(json.dumps({"ping": self.ts}))

    def corrupt(self, frame):
        text = gzip.decompress(frame).decode()
        i = text.index('"buys":[[') + len('"buys":[[')
        return gz(text[:i] + "-" + text[i:])  # a negative price: refused by the book


VENUES = {
    "bing_x": (BingXServer, "BINGX"),
    "bitrue": (BitrueServer, "BITRUE"),
}


# ---- documented examples ----------------------------------------------------------------------------
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
# Bitrue's trade push example, verbatim (Spot-official-api-docs websocket-api.zh-CN.md @6dd61b7,
# "订阅成交信息"), and its subscription acknowledgement
BITRUE_TRADE = ('{"channel":"market_ltcbtc_trade_ticker","tick":{"data":[{"id":20482764,"price":0.006277,'
                '"amount":0.00520991,"side":"BUY","vol":0.83,"ts":1621426164263,"ds":"2021-05-19 20:09:24"},'
                '{"id":20482763,"price":0.006278,"amount":0.00018834,"side":"SELL","vol":0.03,'
                '"ts":1621426160884,"ds":"2021-05-19 20:09:20"}]},"ts":1621426164471}')
BITRUE_TRADE_ACK = ('{"channel":"market_adausdt_trade_ticker","cb_id":"adausdt","event_rep":"subed",'
                    '"status":"ok","ts":1621418172662}')


def venue(name):
    v = market_data_venue(name)
    v.to_venue_symbol("ETH-USDT")
    v.to_venue_symbol("BTC-USDT")
    v.to_venue_symbol("LTC-BTC")
    return v


def test_registry_rules_and_urls():
    for name, url in (("bing_x", "wss://open-api-ws.bingx.com/market"),
                      ("bitrue", "wss://ws.bitrue.com/market/ws")):
        v = market_data_venue(name)
        assert v.sync_rule is SyncRule.SNAPSHOTS and v.snapshot_request("BTC-USDT") is None
        assert v.ws_endpoint(None).url == url
        assert v.with_urls(ws="ws://127.0.0.1:9/ws").ws_endpoint(None).url == "ws://127.0.0.1:9/ws"
        assert v.ws_endpoint(None).url == url  # the copy, not the original, moved
    assert market_data_venue("bingx").name == "bing_x"


def test_symbols_come_from_the_instrument_table_never_a_guess():
    v = market_data_venue("bing_x")
    assert v.to_venue_symbol("btc-usdt") == "BTC-USDT" and v.from_venue_symbol("BTC-USDT") == "BTC-USDT"
    with pytest.raises(ParseError):
        v.from_venue_symbol("OMGB-USD")  # neither listed nor asked for
    b = market_data_venue("bitrue")
    with pytest.raises(ParseError):
        b.parse_message(gz(BITRUE_DEPTH))  # btcusdt was never asked for


def test_subscribe_messages():
    subs = [json.loads(m) for m in market_data_venue("bing_x").subscribe_messages(["BTC-USDT"])]
    assert [set(m) for m in subs] == [{"id", "dataType"}] * 2  # the doc's subscription request
    assert [m["dataType"] for m in subs] == ["BTC-USDT@depth100", "BTC-USDT@trade"]
    unsubs = [json.loads(m) for m in market_data_venue("bing_x").unsubscribe_messages(["BTC-USDT"])]
    assert [m["reqType"] for m in unsubs] == ["unsub", "unsub"]
    assert [json.loads(m) for m in market_data_venue("bitrue").unsubscribe_messages(["BTC-USDT"])] == [
        {"event": "unsub", "params": {"cb_id": "btcusdt", "channel": "market_btcusdt_simple_depth_step0"}},
        {"event": "unsub", "params": {"cb_id": "btcusdt", "channel": "market_btcusdt_trade_ticker"}}]
    # the doc's trade subscription request, and the book alone when trades are not wanted
    assert json.loads(market_data_venue("bitrue").subscribe_messages(["ADA-BTC"])[1]) == {
        "event": "sub", "params": {"cb_id": "adabtc", "channel": "market_adabtc_trade_ticker"}}
    from hbconnect.exchanges.bitrue import BitrueMarketData
    assert [json.loads(m)["params"]["channel"] for m in BitrueMarketData(trades=False).subscribe_messages(
        ["BTC-USDT"])] == ["market_btcusdt_simple_depth_step0"]


def test_doc_frames_translate_with_exact_text():
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
    assert br.parse_message(gz(BITRUE_ACK)) == [] and br.parse_message(gz(BITRUE_TRADE_ACK)) == []
    # the doc's trade push: sent newest first, handed on oldest first; number text kept; "vol" is
    # the quantity ("amount" is the quote amount)
    assert br.parse_message(gz(BITRUE_TRADE)) == [
        Trade("LTC-BTC", "20482763", "0.006278", "0.03", "sell", pytest.approx(1621426160.884)),
        Trade("LTC-BTC", "20482764", "0.006277", "0.83", "buy", pytest.approx(1621426164.263))]


@pytest.mark.parametrize("name,frame", [
    ("bing_x", gz(BINGX_DEPTH)[:20]),
    ("bing_x", BINGX_TRADE.replace('"m":true', '"m":"yes"')),
    ("bing_x", BINGX_DEPTH.replace('"dataType":"BTC-USDT@depth100"', '"dataType":"BTCUSDT"')),
    ("bitrue", BITRUE_DEPTH.replace('"ts":1663815268584,', "")),
    ("bitrue", BITRUE_NUMBERS.replace("[9546.50,0.0098]", "[9546.50]")),
    ("bitrue", "NaN"),
    ("bitrue", BITRUE_TRADE.replace('"side":"BUY"', '"side":"buy"')),
    ("bitrue", BITRUE_TRADE.replace('"id":20482764,', "")),
    ("bitrue", BITRUE_TRADE.replace('"vol":0.83', '"vol":null')),
    ("bitrue", BITRUE_TRADE.replace('{"data":[', '{"rows":[')),
])
def test_malformed_frames_raise_parse_error(name, frame):
    with pytest.raises(ParseError):
        venue(name).parse_message(frame)


# ---- generated sessions through the real tracker ------------------------------------------------------
@pytest.mark.parametrize("name", sorted(VENUES))
def test_clean_session_books_equal_the_true_books(name):
    h = snapshot_session_clean(market_data_venue(name), VENUES[name][0](PAIRS, seed=3))
    if name == "bing_x":  # the server's pings were answered on the same connection
        assert any(json.loads(x).get("pong") for x in h.driver.sent if x.startswith('{"pong"'))


@pytest.mark.parametrize("kind", FAULTS)
@pytest.mark.parametrize("name", sorted(VENUES))
def test_every_fault_is_harmless_or_counted_and_repaired(name, kind):
    """BingX pushes carry no id or time: a late one applies, and the next push repairs it."""
    snapshot_fault_run(market_data_venue(name), VENUES[name][0](PAIRS, seed=9), kind, ordered=name != "bing_x")


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
    from _venue_e2e import committed_session_report

    server = make_session(name, tmp_path / "again.gen")
    report = committed_session_report(RECORDINGS / f"{VENUES[name][1]}.gen", tmp_path / "again.gen", name)
    assert report["bad_frames_total"] == 0
    for p in server.pairs:
        r = report["pairs"][p]
        assert (r["state"], r["gaps"], r["resyncs"], r["bad_frames"]) == ("live", 0, 0, 0), (p, r)
        bids, asks = server.markets[p].book.levels()
        assert r["bids"] == [list(x) for x in bids[:5]] and r["asks"] == [list(x) for x in asks[:5]]


# ---- parse totality --------------------------------------------------------------------------------------
def _venues():
    return (venue("bing_x"), venue("bitrue"))


(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    [BINGX_DEPTH, BINGX_TRADE, BINGX_PING, BITRUE_DEPTH, BITRUE_NUMBERS, BITRUE_ACK,
     BITRUE_TRADE, BITRUE_TRADE_ACK], _venues)
