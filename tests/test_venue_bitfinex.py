"""Bitfinex ws/2: the real recorded session (cryptofeed's sample_data, 2021-04, sequence flag on)
rebuilt by an independent reference; the checksum (flag 131072) on the doc's rule; a generated
venue through the real tracker with every fault; the committed generated session with a checksum
after every update; parse-totality fuzzing."""
from __future__ import annotations

import json
import zlib
from decimal import Decimal
from pathlib import Path

import pytest

from _venue_e2e import FAULTS, Harness, Server, parse_totality_tests, record_clean
from refbook import RefBook
from spot5_e2e import books_equal, write_session
from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import BookDiff, BookSnapshot, Heartbeat, ParseError, Reconnect, SyncRule, Trade
from hbconnect.market.replay import Fault, inject, load_session, replay

RECORDINGS = Path(__file__).parent / "data" / "recordings"
REAL = [RECORDINGS / "BITFINEX.0", RECORDINGS / "BITFINEX.ws.11.0"]


def signed_crc32(text: str) -> int:
    v = zlib.crc32(text.encode())
    return v - (1 << 32) if v >= 1 << 31 else v


def doc_checksum(bids, asks) -> int:
    """docs.bitfinex.com ws-websocket-checksum: top 25, bid then ask per index, ``price:amount``
    with the ask amounts negative, CRC32 as a signed integer. ``bids``/``asks``: best first."""
    parts = []
    for i in range(25):
        if i < len(bids):
            parts += [bids[i][0], bids[i][1]]
        if i < len(asks):
            parts += [asks[i][0], "-" + asks[i][1]]
    return signed_crc32(":".join(parts))


def venue():
    v = market_data_venue("bitfinex")
    for p in ("BTC-USD", "TESTBTC-TESTUSD"):
        v.to_venue_symbol(p)
    return v


SUBSCRIBED = '{"event":"subscribed","channel":"book","chanId":17082,"symbol":"tBTCUSD","prec":"P0","freq":"F0","len":"25","pair":"BTCUSD"}'
SUB_TRADES = '{"event":"subscribed","channel":"trades","chanId":17083,"symbol":"tBTCUSD","pair":"BTCUSD"}'
# the ws-public-books and ws-public-trades examples (values from the doc pages)
DOC_SNAPSHOT = "[17082,[[7254.7,3,3.3],[7254.6,2,1.30000000],[7255.1,1,-1.9]],1]"
DOC_UPDATE = "[17082,[7254.5,0,1],2]"
DOC_CS = '[17082,"cs",-1256425599,3]'
DOC_TE = '[17083,"te",[401597395,1574694478808,0.005,7245.3],4]'
DOC_HB = '[17082,"hb",5]'


def test_registry_rules_and_subscriptions():
    v = venue()
    assert v.sync_rule is SyncRule.CHECKSUM and v.connection_sequence is True
    assert v.max_pairs_per_connection == 12  # 25 channels, two per pair
    assert v.ws_endpoint(None).url == "wss://api-pub.bitfinex.com/ws/2"
    assert v.with_urls(ws="ws://127.0.0.1:9/ws/2").ws_endpoint(None).url == "ws://127.0.0.1:9/ws/2"
    conf, book, trades = [json.loads(m) for m in v.subscribe_messages(["BTC-USD"])]
    assert conf == {"event": "conf", "flags": 65536 + 131072}
    assert book == {"event": "subscribe", "channel": "book", "symbol": "tBTCUSD", "prec": "P0", "freq": "F0",
                    "len": "100"}
    assert trades == {"event": "subscribe", "channel": "trades", "symbol": "tBTCUSD"}
    assert json.loads(v.subscribe_messages(["TESTBTC-TESTUSD"])[1])["symbol"] == "tTESTBTC:TESTUSD"
    assert v.resync_messages("BTC-USD") == [v.subscribe_messages(["BTC-USD"])[1]]  # no channel yet
    v.parse_message(SUBSCRIBED)
    assert [json.loads(m) for m in v.resync_messages("BTC-USD")][0] == {"event": "unsubscribe", "chanId": 17082}


def test_symbols_from_the_listing_not_guessed():
    v = market_data_venue("bitfinex")
    with pytest.raises(ParseError):
        v.from_venue_symbol("tOMGBUSD")
    assert v.load_symbols(b'[["BTCUSD","AAVE:USD","TESTBTC:TESTUSD"]]') == 3
    assert v.from_venue_symbol("tAAVE:USD") == "AAVE-USD" and v.from_venue_symbol("tBTCUSD") == "BTC-USD"
    with pytest.raises(ParseError):
        v.load_symbols(b'[["AAA","AAVE","ADA"]]')  # the currency list is not a pair list


def test_doc_messages_translate_with_exact_number_text():
    v = venue()
    assert v.parse_message(SUBSCRIBED) == [] and v.parse_message(SUB_TRADES) == []
    (snap,) = v.parse_message(DOC_SNAPSHOT)
    assert isinstance(snap, BookSnapshot) and snap.conn_seq == 1
    assert snap.bids == [["7254.7", "3.3"], ["7254.6", "1.30000000"]] and snap.asks == [["7255.1", "1.9"]]
    (d,) = v.parse_message(DOC_UPDATE)
    assert d == BookDiff("BTC-USD", [["7254.5", "0"]], [], 0, 0, None, 0.0, None, 2)
    (cs,) = v.parse_message(DOC_CS)
    assert cs.checksum == -1256425599 and cs.bids == [] and cs.asks == [] and cs.conn_seq == 3
    (t,) = v.parse_message(DOC_TE)
    assert t == Trade("BTC-USD", "401597395", "7245.3", "0.005", "buy", pytest.approx(1574694478.808), 4)
    assert v.parse_message(DOC_HB) == [Heartbeat(5)]
    assert v.parse_message('[99,[1,2,3],6]') == [Heartbeat(6)]  # a channel not ours: only the sequence
    assert v.parse_message('{"event":"info","code":20051,"msg":"Stopping. Please try to reconnect"}')[0] == \
        Reconnect("bitfinex info 20051: 'Stopping. Please try to reconnect'")


def test_checksum_follows_the_documented_rule_on_the_venue_text():
    from hbconnect import OrderBook

    bids = [[f"{100 - i}.5", f"{i + 1}.25"] for i in range(30)]
    asks = [[f"{101 + i}", "0.10000000"] for i in range(27)]
    book = OrderBook()
    book.apply_snapshot(bids, asks, 1)
    assert venue().checksum(book) == doc_checksum(bids, asks)


@pytest.mark.parametrize("frame", [
    "[17082]", "[17082,[7254.5,1]]", '[17082,[7254.5,"x",1],2]', "[17082,[7254.5,1,0],2]",
    '[17082,"cs","abc",3]', '[17082,"cs",4294967295,3]', '[17083,"te",[1,2],4]', '[17082,"zz",1]',
    '{"event":"subscribed","channel":"book","chanId":"x","symbol":"tBTCUSD"}',
    '{"event":"subscribed","channel":"book","chanId":5,"symbol":"tOMGBUSD"}', '{"event":"weird"}',
    "[17082,[[7254.7,0,3.3]],1]", "", "[1,",
])
def test_malformed_frames_raise_parse_error(frame):
    v = venue()
    v.parse_message(SUBSCRIBED)
    v.parse_message(SUB_TRADES)
    with pytest.raises(ParseError):
        v.parse_message(frame)


# ---- the real recording --------------------------------------------------------------------------------
def reference_books(paths) -> dict:
    """The recording's books by Bitfinex's documented rule, from the raw frames: chanId from the
    ``subscribed`` events; the first message is the snapshot; COUNT 0 deletes (AMOUNT 1 bid / -1
    ask), else AMOUNT > 0 sets a bid, < 0 an ask; the text of every number kept."""
    chans, books = {}, {}
    reference_books.updates = 0
    for rec in load_session(paths).frames:
        msg = json.loads(rec.data, parse_float=str, parse_int=str)
        if isinstance(msg, dict):
            if msg.get("event") == "subscribed" and msg["channel"] == "book":
                chans[msg["chanId"]] = msg["symbol"]
            continue
        sym = chans.get(msg[0])
        if sym is None or isinstance(msg[1], str):
            continue
        rows = msg[1] if isinstance(msg[1][0], list) else [msg[1]]
        b = books.setdefault(sym, RefBook())
        if isinstance(msg[1][0], list):
            b.snapshot([], [], 0)
        else:
            reference_books.updates += 1
        for price, count, amount in rows:
            side = b.asks if amount.startswith("-") else b.bids
            if count == "0":
                side.pop(Decimal(price), None)
            else:
                side[Decimal(price)] = (price, amount.lstrip("-"))
    return books


@pytest.fixture(scope="module")
def real():
    return replay(REAL, market_data_venue("bitfinex"))


def test_real_recording_replays_with_zero_gaps_to_the_reference_books(real):
    assert real.frames == len(load_session(REAL).frames) and real.bad_frames == 0
    ref = reference_books(REAL)
    assert len(ref) == 7
    v = market_data_venue("bitfinex")
    for pair, r in real.pairs.items():
        assert (r["state"], r["gaps"], r["resyncs"], r["bad_frames"]) == ("live", 0, 0, 0), (pair, r)
        b = ref[v.to_venue_symbol(pair)]
        book = real.tracker.book(pair)
        assert [list(x) for x in book.bids_text()] == [list(x) for x in b.top_bids()], pair
        assert [list(x) for x in book.asks_text()] == [list(x) for x in b.top_asks()], pair
    assert sum(r["diffs_applied"] for r in real.pairs.values()) == reference_books.updates > 1000


@pytest.mark.parametrize("kind", ["drop", "swap"])
def test_real_recording_lost_or_reordered_message_is_a_connection_gap(kind):
    """The real session has no checksums: the connection sequence alone finds the fault, and
    every pair of the connection is resynced (unsubscribe + subscribe its book)."""
    session = load_session(REAL)
    idx = [i for i, r in enumerate(session.records) if r.kind == "recv" and str(r.data).startswith("[232955,[0.")]
    fault = Fault(kind, idx[200], other=idx[200] + 1) if kind == "swap" else Fault(kind, idx[200])
    res = replay(REAL, market_data_venue("bitfinex"), session=inject(session, [fault]))
    gaps = [r["gaps"] for r in res.pairs.values()]
    assert sum(gaps) >= 4 and all(r["resyncs"] == r["gaps"] <= 1 for r in res.pairs.values()), res.pairs


def test_real_recording_duplicate_is_dropped(real):
    session = load_session(REAL)
    i = next(i for i, r in enumerate(session.records) if r.kind == "recv" and str(r.data).startswith("[232955,[0."))
    res = replay(REAL, market_data_venue("bitfinex"), session=inject(session, [Fault("duplicate", i)]))
    assert sum(r["gaps"] for r in res.pairs.values()) == 0
    assert sum(r["stale_dropped"] for r in res.pairs.values()) == 1


# ---- a generated venue: flag 131072 on, a checksum after every update ---------------------------------------
def num(text: str) -> str:
    return text  # decimal text written as a JSON number, as the venue does


class BitfinexServer(Server):
    in_flight = 2
    decimals = 1
    corrupt_mode = "value"

    def __init__(self, pairs, seed=1, **kw):
        super().__init__(pairs, seed, **kw)
        self.sym = {"t" + p.replace("-", ""): p for p in self.pairs}
        self.next_chan = 1000
        self.book_chan: dict = {}
        self.trade_chan: dict = {}
        self.seq = 0
        self.trade_id = 500
        self.mts = 1574694478808

    def _seq(self) -> int:
        self.seq += 1
        return self.seq

    def decode(self, text):
        msg = json.loads(text)
        ev = msg["event"]
        if ev == "conf":
            return []
        if ev == "unsubscribe":
            for pair, chan in list(self.book_chan.items()):
                if chan == msg["chanId"]:
                    self.out.append((json.dumps({"event": "unsubscribed", "status": "OK", "chanId": chan}), "event", None))
                    return [("unsubscribe", "book", pair)]
            return []
        pair = self.sym[msg["symbol"]]
        if msg["channel"] == "trades":
            self.next_chan += 1
            self.trade_chan[pair] = self.next_chan
            self.out.append((json.dumps({"event": "subscribed", "channel": "trades", "chanId": self.next_chan,
                                         "symbol": msg["symbol"]}), "event", None))
            return [("subscribe", "trades", pair)]
        return [("subscribe", "book", pair)]

    def disconnect(self):
        super().disconnect()
        self.seq = 0

    def tick(self):
        n = len(self.out)
        super().tick()
        if len(self.out) > n and isinstance(self.out[-1][0], list):  # several messages
            frames, tag, pair = self.out.pop()
            for f, t in frames:
                self.out.append((f, t, pair))

    def next_frame(self):
        frame, tag, pair = super().next_frame()
        if tag == "cs":
            self.counts[pair]["checksummed"] += 1  # checksums sent (not merely generated)
        return frame, tag, pair

    def _cs(self, pair, m):
        bids, asks = m.book.levels()
        return f'[{self.book_chan[pair]},"cs",{doc_checksum(bids, asks)},{self._seq()}]', "cs"

    def snapshot(self, pair, m):
        self.next_chan += 1
        self.book_chan[pair] = chan = self.next_chan
        sub = json.dumps({"event": "subscribed", "channel": "book", "chanId": chan, "symbol": "t" + pair.replace("-", ""),
                          "prec": "P0", "freq": "F0", "len": "100"})
        bids, asks = m.book.levels()
        rows = [f"[{num(p)},1,{num(s)}]" for p, s in bids] + [f"[{num(p)},2,-{num(s)}]" for p, s in asks]
        snap = f"[{chan},[{','.join(rows)}],{self._seq()}]"
        return [(sub, "event"), (snap, "snapshot"), self._cs(pair, m)]

    def diff(self, pair, m, bids, asks):
        chan = self.book_chan[pair]
        out = []
        for rows, sign, one in ((bids, "", "1"), (asks, "-", "-1")):
            for p, s in rows:
                if s == "0":
                    out.append((f"[{chan},[{num(p)},0,{one}],{self._seq()}]", "diff"))
                else:
                    out.append((f"[{chan},[{num(p)},3,{sign}{num(s)}],{self._seq()}]", "diff"))
        out.append(self._cs(pair, m))
        return out

    def trade(self, pair, price, size, side):
        self.trade_id += 1
        self.mts += 5
        amount = size if side == "buy" else "-" + size
        return (f'[{self.trade_chan[pair]},"te",[{self.trade_id},{self.mts},{amount},{price}],{self._seq()}]',
                str(self.trade_id))

    def heartbeat(self, pair):
        if pair not in self.book_chan:
            return None
        return f'[{self.book_chan[pair]},"hb",{self._seq()}]'

    def corrupt(self, frame):
        """A plausible wrong amount on a level (only the checksum can tell); the sequence is intact."""
        head, _, rest = frame.rpartition(",")  # "...,AMOUNT]" + ",SEQ]"
        chan_price_count, _, amount = head.rpartition(",")
        wrong = "7.7777" if amount.strip("-]") != "7.7777" else "8.8888"
        return f"{chan_price_count},{'-' if amount.startswith('-') else ''}{wrong}],{rest}"


PAIRS = ["BTC-USD", "ETH-USD", "XRP-USD"]


def drain(h):
    """Feed the messages the server already generated (one market step is several messages;
    the true book includes them all)."""
    while h.server.out:
        h.feed(h.server.next_frame()[0])


def test_clean_generated_session_verifies_every_checksum():
    h = Harness(venue_for(PAIRS), BitfinexServer(PAIRS, seed=3))
    h.run(3000)
    h.settle()
    drain(h)
    t = h.totals()
    assert t["gaps"] == 0 and t["resyncs"] == 0 and t["checksums_failed"] == 0 and t["tracker_bad_frames"] == 0, t
    for p in PAIRS:
        s = h.tracker.stats(p)
        assert s.checksums_ok == h.server.counts[p]["checksummed"] > 100, (p, s)
        assert books_equal(h.tracker, h.server, p)
        tid, price, size, side = h.server.last_trade[p]
        lt = h.tracker.last_trade(p)
        assert (lt.trade_id, lt.price, lt.amount, lt.side) == (tid, price, size, side)


def venue_for(pairs):
    v = market_data_venue("bitfinex")
    for p in pairs:
        v.to_venue_symbol(p)
    return v


@pytest.mark.parametrize("kind", FAULTS)
def test_every_fault_is_detected_and_repaired(kind):
    h = Harness(venue_for(PAIRS), BitfinexServer(PAIRS, seed=9))
    h.run(400)
    drain(h)
    assert all(books_equal(h.tracker, h.server, p) for p in PAIRS)
    before = h.totals()
    assert h.run(600, {0: kind}) == [kind]
    h.settle()
    drain(h)
    t = h.totals()
    new = {k: t[k] - before[k] for k in t}
    for p in PAIRS:
        assert h.tracker.state(p).value == "live" and books_equal(h.tracker, h.server, p), (kind, p, new)
    if kind == "duplicate":  # the repeat's connection sequence is old: dropped
        assert new["stale_dropped"] == 1 and new["resyncs"] == 0, new
        return
    assert new["resyncs"] >= 1, new
    if kind in ("drop", "swap", "truncate", "garbage"):
        assert new["gaps"] >= 1, new  # the connection sequence skips
    if kind == "corrupt":
        assert new["checksums_failed"] == 1 and new["gaps"] == 0, new  # only the checksum can tell
    if kind != "close":
        assert any(json.loads(m).get("event") == "unsubscribe" for m in h.driver.sent)


def make_session(path):
    server = BitfinexServer(PAIRS[:2], seed=21, levels=6, max_levels=9)
    v = venue_for(server.pairs)
    sent, frames = record_clean(server, v, 400)
    write_session(path, v.ws_endpoint(None).url, sent, frames, server.pairs)
    return server


def test_committed_checksummed_session_replays_with_every_checksum_verified(tmp_path):
    import contextlib
    import io

    from hbconnect.cli import main

    committed = RECORDINGS / "BITFINEX.checksum.gen"
    server = make_session(tmp_path / "again.gen")
    assert committed.read_bytes() == (tmp_path / "again.gen").read_bytes()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["replay", str(committed), "--exchange", "bitfinex", "--json"]) in (0, None)
    report = json.loads(buf.getvalue())
    assert report["bad_frames_total"] == 0
    for p in server.pairs:
        r = report["pairs"][p]
        assert (r["state"], r["gaps"], r["resyncs"], r["checksums_failed"]) == ("live", 0, 0, 0), (p, r)
        assert r["checksums_ok"] == server.counts[p]["checksummed"] > 20
        bids, asks = server.markets[p].book.levels()
        assert r["bids"] == [list(x) for x in bids[:5]] and r["asks"] == [list(x) for x in asks[:5]]


def _venues():
    v = venue()
    v.parse_message(SUBSCRIBED)
    v.parse_message(SUB_TRADES)
    return (v,)


(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    [DOC_SNAPSHOT, DOC_UPDATE, DOC_CS, DOC_TE, DOC_HB, SUBSCRIBED], _venues)
