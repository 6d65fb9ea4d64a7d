"""Gate.io spot / USDT futures market data: translation (recorded frames, docs' examples) and the
recorded spot session replayed through the real tracker, clean and with injected faults."""
from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from conftest import fixture_files
from refbook import book_levels
from recorded_reference import RecordedReference, cut, set_levels
from venue_fuzz import assert_fuzz_total

from hbconnect.exchanges import market_data_venue
from hbconnect.exchanges.gate_io import GatePerpetualMarketData, GateSpotMarketData
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    Heartbeat,
    Ignored,
    ParseError,
    Resync,
    SyncRule,
    Trade,
)
from hbconnect.market.replay import Fault, Replayer, book_frame_indices, inject, load_recorded_symbols, load_session

#: pairs of the docs' examples below, asked for (subscribed) so that their symbols map back
DOC_PAIRS = {"gate_io": ["BTC-USDT", "GT-USDT"], "gate_io_perpetual": ["BTC-USD", "BTC-USDT"]}


def listed(vid: str) -> "GateSpotMarketData | GatePerpetualMarketData":
    """A venue that knows its recorded listing (currency_pairs / contracts), as ``replay`` teaches
    it, and has subscribed the docs' example pairs."""
    v = market_data_venue(vid)
    recorded = load_session(fixture_files("GATEIO" if vid == "gate_io" else "GATEIO_FUTURES"))
    assert load_recorded_symbols(v, recorded) == 1
    v.subscribe_messages(DOC_PAIRS[vid])
    return v


SPOT = listed("gate_io")
PERP = listed("gate_io_perpetual")


@pytest.fixture(scope="module")
def session():
    return load_session(fixture_files("GATEIO"))


# ---- translation ----------------------------------------------------------------------------------
def test_registry_rules_and_requests():
    assert isinstance(SPOT, GateSpotMarketData) and isinstance(PERP, GatePerpetualMarketData)
    assert type(market_data_venue("gateio")) is GateSpotMarketData
    assert type(market_data_venue("gateio_futures")) is GatePerpetualMarketData
    assert SPOT.sync_rule is SyncRule.SEQ_RANGE and PERP.sync_rule is SyncRule.SEQ_RANGE
    assert SPOT.max_depth == 100 and GateSpotMarketData("20ms").max_depth == 20
    assert PERP.max_depth == 100 and GatePerpetualMarketData("20ms", 20).max_depth == 20
    with pytest.raises(ValueError):
        GatePerpetualMarketData("20ms", 100)  # docs: 20ms only allows level 20
    assert SPOT.ws_endpoint(None).url == "wss://api.gateio.ws/ws/v4/"
    assert PERP.ws_endpoint(None).url == "wss://fx-ws.gateio.ws/v4/ws/usdt"
    req = PERP.snapshot_request("BTC-USDT")
    assert req.url == "https://api.gateio.ws/api/v4/futures/usdt/order_book"
    assert req.params == {"contract": "BTC_USDT", "limit": 100, "with_id": "true"}


def test_snapshot_request_is_the_recorded_one(session):
    recorded = {r.url for r in session.rest if "/order_book" in r.url}
    assert len(recorded) == 10
    for url in recorded:
        pair = SPOT.from_venue_symbol(url.split("currency_pair=")[1].split("&")[0])
        req = SPOT.snapshot_request(pair)
        query = "&".join(f"{k}={v}" for k, v in req.params.items())
        assert f"{req.url}?{query}" == url


def test_subscribe_messages(session):
    sent = [json.loads(r.data) for r in session.records if r.kind == "send"]
    books = [m for m in sent if m["channel"] == "spot.order_book_update"]
    msgs = [json.loads(m) for m in SPOT.subscribe_messages([SPOT.from_venue_symbol(b["payload"][0])
                                                            for b in books])]
    assert [m["payload"] for m in msgs[:-1]] == [b["payload"] for b in books]
    assert all(m["event"] == "subscribe" and type(m["time"]) is int for m in msgs)
    assert msgs[-1]["channel"] == "spot.trades" and len(msgs[-1]["payload"]) == len(books)
    clock = GateSpotMarketData(clock=lambda: 1606294781.9)
    assert json.loads(clock.subscribe_messages(["BTC-USDT"])[0]) == {
        "time": 1606294781, "channel": "spot.order_book_update", "event": "subscribe",
        "payload": ["BTC_USDT", "100ms"]}
    f = [json.loads(m) for m in PERP.subscribe_messages(["BTC-USDT"])]
    assert f[0]["payload"] == ["BTC_USDT", "100ms", "100"] and f[1]["channel"] == "futures.trades"


def test_recorded_frames_and_bodies_translate(session):
    kinds: dict = {}
    for rec in session.frames:
        for ev in SPOT.parse_message(rec.data):
            kinds[type(ev)] = kinds.get(type(ev), 0) + 1
            if type(ev) is BookDiff:
                assert ev.first_id <= ev.last_id and ev.pair.count("-") == 1
    assert kinds == {BookDiff: 172, Trade: 9, Ignored: 36}  # 36 candlesticks/tickers pushes
    for rec in session.rest:
        if "/order_book" not in rec.url:
            continue
        snap = SPOT.parse_snapshot("X-Y", rec.data.encode())
        body = json.loads(rec.data)
        assert snap.update_id == body["id"] and snap.bids == body["bids"] and snap.asks == body["asks"]
    (t,) = SPOT.parse_message(
        '{"time":1619093543,"channel":"spot.trades","event":"update","result":{"id":816995772,'
        '"create_time":1619093543,"create_time_ms":"1619093543708.2642","side":"sell",'
        '"currency_pair":"DIS_USDT","amount":"0.2010000000","price":"121.5800000000"}}')
    assert (t.pair, t.trade_id, t.price, t.amount, t.side) == (
        "DIS-USDT", "816995772", "121.5800000000", "0.2010000000", "sell")
    assert t.timestamp == pytest.approx(1619093543.7082642)


def test_docs_full_snapshot_push_and_pong():
    # spot websocket v4 docs, "Changed order book levels": full=true replaces the local book
    doc = ('{"time":1606294781,"time_ms":1606294781236,"channel":"spot.order_book_update",'
           '"event":"update","result":{"t":1606294781123,"full":true,"l":"100","e":"depthUpdate",'
           '"E":1606294781,"s":"BTC_USDT","U":48776301,"u":48776306,'
           '"b":[["19137.74","0.0001"],["19088.37","0"]],"a":[["19137.75","0.6135"]]}}')
    (s,) = SPOT.parse_message(doc)
    assert s == BookSnapshot("BTC-USDT", [["19137.74", "0.0001"], ["19088.37", "0"]],
                             [["19137.75", "0.6135"]], 48776306, 1606294781.123)
    (d,) = SPOT.parse_message(doc.replace('"full":true,', ""))
    assert type(d) is BookDiff and (d.first_id, d.last_id) == (48776301, 48776306)
    assert SPOT.parse_message('{"time":1,"channel":"spot.pong","event":"","result":null}') == [Heartbeat()]
    err = ('{"time":1,"channel":"spot.order_book_update","event":"subscribe","payload":["FOO_BAR","100ms"],'
           '"error":{"code":2,"message":"unknown currency pair FOO_BAR"},"result":null}')
    assert SPOT.parse_message(err) == []  # FOO_BAR is no pair of ours: logged, nothing to resync
    asked = copy.deepcopy(SPOT)
    asked.subscribe_messages(["FOO-BAR"])
    assert asked.parse_message(err) == [Resync("FOO-BAR", "{'code': 2, 'message': 'unknown currency pair FOO_BAR'}")]


def test_docs_futures_examples():
    # futures websocket docs, "Order book update notification" and "Trades notification"
    (d,) = PERP.parse_message(
        '{"time":1615366381,"time_ms":1615366381123,"channel":"futures.order_book_update",'
        '"event":"update","result":{"t":1615366381417,"s":"BTC_USD","U":2517661101,"u":2517661113,'
        '"b":[{"p":"54672.1","s":0},{"p":"54664.5","s":58794}],'
        '"a":[{"p":"54743.6","s":0},{"p":"54742","s":95}],"l":"100"}}')
    assert d == BookDiff("BTC-USD", [["54672.1", "0"], ["54664.5", "58794"]],
                         [["54743.6", "0"], ["54742", "95"]], 2517661101, 2517661113, None, 1615366381.417)
    (t,) = PERP.parse_message(
        '{"channel":"futures.trades","event":"update","time":1541503698,"time_ms":1541503698123,'
        '"result":[{"size":-108,"id":27753479,"create_time":1545136464,"create_time_ms":1545136464123,'
        '"price":"96.4","contract":"BTC_USD","is_internal":true}]}')
    assert (t.side, t.amount, t.price, t.trade_id) == ("sell", "108", "96.4", "27753479")
    s = PERP.parse_snapshot("BTC-USDT", b'{"id":123,"current":1623898993.123,"update":1623898993.121,'
                                        b'"asks":[{"p":"1.52","s":100},{"p":"1.53","s":40}],'
                                        b'"bids":[{"p":"1.17","s":150}]}')
    assert s.update_id == 123 and s.asks == [["1.52", "100"], ["1.53", "40"]] and s.bids == [["1.17", "150"]]
    assert PERP.parse_message('{"time":1,"channel":"futures.pong","event":"","result":null}') == [Heartbeat()]


@pytest.mark.parametrize("raw", [
    "", "{", "<html>502</html>", "[]",
    '{"channel":"spot.order_book_update","event":"update","result":{"s":"BTC_USDT","U":1,"u":2,"b":[["1"]],"a":[]}}',
    '{"channel":"spot.order_book_update","event":"update","result":{"s":"BTC_USDT","U":"x","u":2,"b":[],"a":[]}}',
    '{"channel":"spot.order_book_update","event":"update","result":{"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}}',
    '{"channel":"spot.order_book_update","event":"update","result":[]}',
    '{"channel":"spot.trades","event":"update","result":{"currency_pair":"A_B","side":"x","price":"1","amount":"1"}}',
    '{"event":"update"}',
])
def test_malformed_frames_raise_parse_error(raw):
    with pytest.raises(ParseError):
        SPOT.parse_message(raw)


def test_malformed_bodies_raise_parse_error():
    for body in (b"", b"{", b'{"label":"INVALID_CURRENCY_PAIR","message":"x"}', b"[]",
                 b'{"id":1,"bids":[["1"]],"asks":[]}'):
        with pytest.raises(ParseError):
            SPOT.parse_snapshot("BTC-USDT", body)
    with pytest.raises(ParseError):
        PERP.parse_snapshot("BTC-USDT", b'{"id":1,"bids":[{"p":1.5,"s":1}],"asks":[]}')


# ---- replay through the real tracker ----------------------------------------------------------------
class Reference(RecordedReference):
    """The true book per pair, built independently from the raw recorded frames by Gate's documented
    procedure (REST base id; skip u < id+1; absolute amounts, 0 deletes; 100-level book); answers
    REST snapshot requests for any later time."""

    def snapshot_of(self, url, body):
        if "/order_book" not in url:
            return None
        d = json.loads(body)
        return url.split("currency_pair=")[1].split("&")[0].replace("_", "-"), d["bids"], d["asks"], d["id"]

    def update_of(self, frame):
        msg = json.loads(frame)
        if msg.get("channel") == "spot.order_book_update" and msg.get("event") == "update":
            return msg["result"]["s"].replace("_", "-"), msg["result"]
        return None

    def apply(self, b, r):
        if r["u"] < b.update_id + 1:
            return
        assert r["U"] <= b.update_id + 1, "the recording itself has a gap"
        set_levels(b.bids, r["b"])
        set_levels(b.asks, r["a"])
        cut(b, 100)
        b.update_id = r["u"]

    def body(self, pair: str, now: float) -> bytes:
        b = self.advance(pair, now)
        return json.dumps({"id": b.update_id, "current": int(now * 1000), "update": int(now * 1000),
                           "asks": [list(x) for x in b.top_asks(100)],
                           "bids": [list(x) for x in b.top_bids(100)]}).encode()


def run(session, faults=()):
    """Replay (with ``faults``); REST requests beyond the recorded ones are answered with the
    reference book at that moment, as Gate would."""
    s = inject(session, faults) if faults else session
    ref = Reference(session)
    used: set = set()

    def source(pair, req, now):
        if pair not in used:
            used.add(pair)
            return None  # the recorded body
        return ref.body(pair, now)

    r = Replayer(GateSpotMarketData(), s, snapshot_source=source)
    res = r.run()
    ref.finish()
    return res, ref


def assert_books_equal(res, ref, pairs=None):
    t = res.tracker
    for pair in pairs or ref.books:
        assert t.state(pair).value == "live", pair
        bids, asks = book_levels(t.book(pair))
        assert bids == ref.books[pair].top_bids() and asks == ref.books[pair].top_asks(), pair


@pytest.fixture(scope="module")
def clean(session):
    return run(session)


def test_clean_replay_zero_gaps_and_reference_books(clean):
    res, ref = clean
    assert res.frames == 239 and res.bad_frames == 0 and res.unanswered_snapshots == 0
    applied = 0
    for pair, r in res.pairs.items():
        assert (r["gaps"], r["resyncs"], r["bad_frames"], r["snapshot_retries"]) == (0, 0, 0, 0), pair
        assert r["state"] == "live"
        applied += r["diffs_applied"]
    assert applied == 159  # every update after each snapshot (DIS-USDT: the first one has U = id + 1)
    assert_books_equal(res, ref)


def _busiest(session):
    idx = book_frame_indices(session, SPOT, "OMG-USDT")
    return idx[len(idx) // 2]


def test_dropped_frame_is_a_gap_repaired_by_resync(session):
    res, ref = run(session, [Fault("drop", _busiest(session))])
    r = res.pairs["OMG-USDT"]
    assert r["gaps"] == 1 and r["resyncs"] == 1 and r["snapshots"] == 2
    assert_books_equal(res, ref)


def test_duplicated_frame_is_dropped_as_stale(session, clean):
    res, ref = run(session, [Fault("duplicate", _busiest(session))])
    r, c = res.pairs["OMG-USDT"], clean[0].pairs["OMG-USDT"]
    assert r["stale_dropped"] == c["stale_dropped"] + 1 and r["gaps"] == 0 and r["resyncs"] == 0
    assert_books_equal(res, ref)


def test_swapped_frames_are_detected_and_repaired(session):
    idx = book_frame_indices(session, SPOT, "OMG-USDT")
    i = idx[len(idx) // 2]
    res, ref = run(session, [Fault("swap", i, other=idx[idx.index(i) + 1])])
    r = res.pairs["OMG-USDT"]
    assert r["gaps"] >= 1 and r["resyncs"] >= 1
    assert_books_equal(res, ref)


@pytest.mark.parametrize("bad", ["-1", "NaN", "abc"])
def test_corrupted_size_is_rejected_and_repaired(session, bad):
    i = _busiest(session)

    def mutate(text):
        msg = json.loads(text)
        side = "b" if msg["result"]["b"] else "a"
        msg["result"][side][0][1] = bad
        return json.dumps(msg)

    res, ref = run(session, [Fault("corrupt", i, mutate=mutate)])
    r = res.pairs["OMG-USDT"]
    assert r["bad_frames"] == 1 and r["resyncs"] == 1
    assert_books_equal(res, ref)


@pytest.mark.parametrize("kind", ["truncate", "garbage"])
def test_truncated_or_non_json_frame_is_counted_then_the_gap_repaired(session, kind):
    res, ref = run(session, [Fault(kind, _busiest(session))])
    assert res.bad_frames == 1
    r = res.pairs["OMG-USDT"]
    assert r["gaps"] == 1 and r["resyncs"] == 1  # the lost update shows as a gap next frame
    assert_books_equal(res, ref)


def test_socket_closed_mid_stream_resyncs_every_pair(session):
    i = _busiest(session)
    res, ref = run(session, [Fault("close", i)])
    synced = {rec.url.split("currency_pair=")[1].split("&")[0].replace("_", "-")
              for rec in session.rest if "/order_book" in rec.url and rec.ts < session.records[i].ts}
    assert len(synced) >= 5
    assert {p for p, r in res.pairs.items() if r["resyncs"] == 1} == synced
    assert sum(r["gaps"] for r in res.pairs.values()) == 0
    assert_books_equal(res, ref)


# ---- USDT futures: a generated stream through the real tracker ------------------------------------------
def futures_stream(n: int = 300, seed: int = 3):
    """A random-walk BTC_USDT futures book published as Gate does: each notification covers the
    update ids ``U..u`` (1 to 3 ids), ``{"p": price, "s": size}`` levels; states by id."""
    import random

    rnd = random.Random(seed)
    book = {"b": {}, "a": {}}
    for i in range(8):
        book["b"][f"{60000 - i}.5"] = rnd.randint(1, 900)
        book["a"][f"{60001 + i}.5"] = rnd.randint(1, 900)
    uid = 5000
    states = {uid: {s: dict(x) for s, x in book.items()}}
    frames = []
    for k in range(1, n + 1):
        first = uid + 1
        changes = {"b": [], "a": []}
        for _ in range(rnd.randint(1, 3)):
            side = rnd.choice("ba")
            price = f"{60000 - rnd.randint(0, 10)}.5" if side == "b" else f"{60001 + rnd.randint(0, 10)}.5"
            size = 0 if price in book[side] and rnd.random() < 0.3 else rnd.randint(1, 900)
            if size:
                book[side][price] = size
            else:
                book[side].pop(price, None)
            changes[side].append({"p": price, "s": size})
            uid += 1
            states[uid] = {s: dict(x) for s, x in book.items()}
        frames.append((1_700_000_000 + k * 0.01, json.dumps({
            "time": 1_700_000_000 + k, "time_ms": 1_700_000_000_000 + k * 10, "channel": "futures.order_book_update",
            "event": "update", "result": {"t": 1_700_000_000_000 + k * 10, "s": "BTC_USDT", "U": first, "u": uid,
                                          "b": changes["b"], "a": changes["a"], "l": "100"}})))
    return frames, states


def test_futures_stream_through_the_tracker_and_a_gap():
    from hbconnect.market.replay import OPEN, RECV, Record, Session

    frames, states = futures_stream()
    last_ids = [json.loads(t)["result"]["u"] for _, t in frames]

    def body(uid):
        st = states[uid]
        return json.dumps({"id": uid, "current": 1.7e9, "update": 1.7e9,
                           "bids": [{"p": p, "s": s} for p, s in st["b"].items()],
                           "asks": [{"p": p, "s": s} for p, s in st["a"].items()]}).encode()

    want = states[last_ids[-1]]
    for drop in (None, 150):
        recs = [Record(OPEN, frames[0][0] - 1, "f#1", "wss://fx-ws.gateio.ws/v4/ws/usdt")]
        recs += [Record(RECV, ts, "f#1", "", t) for n, (ts, t) in enumerate(frames) if n != drop]
        for n, r in enumerate(recs):
            r.seq = n
        calls = []

        def source(pair, req, now):
            calls.append((req.url, dict(req.params)))
            # the first answer is 3 notifications old, later ones are current
            n = max(n for n, (ts, _) in enumerate(frames) if ts <= max(now, frames[3][0]))
            return body(last_ids[n])

        res = Replayer(GatePerpetualMarketData(), Session(recs, [], {}), ["BTC-USDT"], snapshot_source=source).run()
        r = res.pairs["BTC-USDT"]
        assert calls[0] == ("https://api.gateio.ws/api/v4/futures/usdt/order_book",
                            {"contract": "BTC_USDT", "limit": 100, "with_id": "true"})
        assert (r["gaps"], r["resyncs"], len(calls)) == ((0, 0, 1) if drop is None else (1, 1, 2))
        # 4 notifications predate the first snapshot; after a gap the one that revealed it is
        # buffered again and is older than the new snapshot
        assert r["stale_dropped"] == (4 if drop is None else 5) and r["bad_frames"] == 0
        bids, asks = book_levels(res.tracker.book("BTC-USDT"))
        assert bids == [(p, str(s)) for p, s in sorted(want["b"].items(), key=lambda x: -Decimal(x[0]))]
        assert asks == [(p, str(s)) for p, s in sorted(want["a"].items(), key=lambda x: Decimal(x[0]))]


SPOT_TRADE = ('{"time":1606292218,"time_ms":1606292218231,"channel":"spot.trades","event":"update",'
              '"result":{"id":309143071,"create_time":1606292218,"create_time_ms":"1606292218213.4578",'
              '"side":"sell","currency_pair":"GT_USDT","amount":"16.4700000000","price":"0.4705000000",'
              '"range":"2390902-2390902"}}')
FUTURES_TRADE = ('{"channel":"futures.trades","event":"update","time":1541503698,"time_ms":1541503698123,'
                 '"result":[{"size":-108,"id":27753479,"create_time":1545136464,"create_time_ms":1545136464123,'
                 '"price":"96.4","contract":"BTC_USD"}]}')


def test_trade_times_and_sizes_are_checked():
    (t,) = SPOT.parse_message(SPOT_TRADE)
    assert t.timestamp == pytest.approx(1606292218.2134578) and t.side == "sell"
    (t,) = PERP.parse_message(FUTURES_TRADE)
    assert (t.amount, t.side, t.timestamp) == ("108", "sell", 1545136464.123)
    assert PERP.parse_message(FUTURES_TRADE.replace('"size":-108', '"size":"2.5"'))[0].amount == "2.5"
    no_ms = json.loads(SPOT_TRADE)
    del no_ms["result"]["create_time_ms"]
    assert SPOT.parse_message(json.dumps(no_ms))[0].timestamp == 1606292218.0
    for bad in (SPOT_TRADE.replace('"1606292218213.4578"', '"soon"'),  # was ValueError
                SPOT_TRADE.replace('"1606292218213.4578"', "Infinity"),
                FUTURES_TRADE.replace('"size":-108', '"size":0'),
                FUTURES_TRADE.replace('"size":-108', '"size":"many"'),
                FUTURES_TRADE.replace('"create_time_ms":1545136464123', '"create_time_ms":"x"')):
        with pytest.raises(ParseError):
            (SPOT if "spot." in bad else PERP).parse_message(bad)
    for body in (b'{"id":1,"current":"soon","bids":[],"asks":[]}', b'{"id":1,"update":Infinity,"bids":[],"asks":[]}'):
        with pytest.raises(ParseError):
            SPOT.parse_snapshot("BTC-USDT", body)


def test_fuzzed_frames_and_bodies_never_crash(session):
    assert_fuzz_total(listed("gate_io").parse_message, [r.data for r in session.frames] + [SPOT_TRADE])
    bodies = [r.data for r in session.rest if "/order_book" in r.url]
    assert_fuzz_total(lambda b: GateSpotMarketData().parse_snapshot("BTC-USDT", b), bodies, 60, single=True)
    assert_fuzz_total(listed("gate_io_perpetual").parse_message, [t for _, t in futures_stream(60)[0]] + [FUTURES_TRADE],
                      80)
