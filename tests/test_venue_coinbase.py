"""Coinbase Advanced Trade market-data translation, on the examples of Coinbase's documentation."""
from __future__ import annotations

import calendar
import json

import pytest

from hbconnect.exchanges import market_data_venue
from hbconnect.market.messages import BookDiff, BookSnapshot, Heartbeat, Ignored, ParseError, SyncRule, Trade

CB = market_data_venue("coinbase")
CB.subscribe_messages(["BTC-USD", "ETH-USD"])  # the products of the docs' examples below

# Level2 channel example (Coinbase "WebSocket Channels")
DOC_L2 = """{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z",
"sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[
{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"},
{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.3","new_quantity":"0.02"}]}]}"""
# Heartbeats channel example
DOC_HEARTBEAT = """{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z",
"sequence_num":0,"events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105",
"heartbeat_counter":"3049"}]}"""
# Market trades channel example
DOC_TRADES = """{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z",
"sequence_num":0,"events":[{"type":"snapshot","trades":[{"trade_id":"000000000",
"product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY",
"time":"2019-08-14T20:42:27.265Z"}]}]}"""
SUBSCRIPTIONS = """{"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:50.1Z",
"sequence_num":7,"events":[{"subscriptions":{"level2":["BTC-USD"],"heartbeats":["heartbeats"]}}]}"""


def with_seq(frame: str, seq: int) -> str:
    return frame.replace('"sequence_num":0', f'"sequence_num":{seq}')


def test_registry_and_rules():
    assert CB.name == "coinbase_advanced_trade"
    fresh = market_data_venue("coinbase_advanced_trade")
    assert type(fresh) is type(CB) and fresh.name == CB.name and fresh is not CB
    assert CB.sync_rule is SyncRule.TIMESTAMP and CB.connection_sequence is True
    assert CB.snapshot_request("BTC-USD") is None and CB.max_depth is None
    ep = CB.ws_endpoint(None)
    assert ep.url == "wss://advanced-trade-ws.coinbase.com" and ep.ping_message is None


def test_one_channel_per_subscribe_message_with_heartbeats():
    msgs = [json.loads(m) for m in CB.subscribe_messages(["BTC-USD", "eth-usd"])]
    assert msgs == [
        {"type": "subscribe", "channel": "heartbeats"},
        {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": "level2"},
        {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": "market_trades"},
    ]
    unsub = [json.loads(m) for m in CB.unsubscribe_messages(["BTC-USD"])]
    assert [m["channel"] for m in unsub] == ["level2", "market_trades"]
    assert all(m["type"] == "unsubscribe" for m in unsub)


def test_usdc_pairs_use_the_usd_product_data():
    venue = type(CB)()
    (msg,) = [json.loads(m) for m in venue.resync_messages("BTC-USDC")][1:]
    assert msg["product_ids"] == ["BTC-USD"]
    (ev,) = venue.parse_message(with_seq(DOC_L2, 1))  # frames say BTC-USD
    assert ev.pair == "BTC-USDC"
    assert venue.to_venue_symbol("USDT-USDC") == "USDT-USDC"  # has data of its own
    with pytest.raises(ParseError):  # not subscribed, not listed: unknown, never split
        venue.from_venue_symbol("ETH-USD")
    assert venue.to_venue_symbol("ETH-USD") == "ETH-USD" and venue.from_venue_symbol("ETH-USD") == "ETH-USD"
    assert CB.from_venue_symbol("BTC-USD") == "BTC-USD"  # the shared object is untouched


def test_resync_resubscribes_level2():
    msgs = [json.loads(m) for m in CB.resync_messages("BTC-USD")]
    assert msgs == [{"type": "unsubscribe", "product_ids": ["BTC-USD"], "channel": "level2"},
                    {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "level2"}]


def test_doc_level2_snapshot():
    (ev,) = CB.parse_message(with_seq(DOC_L2, 5))
    assert isinstance(ev, BookSnapshot)
    assert ev.pair == "BTC-USD" and ev.conn_seq == 5 and ev.update_id == 5 * 1024
    assert ev.bids == [["21921.73", "0.06317902"], ["21921.3", "0.02"]] and ev.asks == []
    expected = calendar.timegm((2023, 2, 9, 20, 32, 50)) + 0.714964855
    assert ev.timestamp == pytest.approx(expected, abs=1e-6)


def test_level2_update_splits_sides_and_keeps_conn_seq_on_every_event():
    frame = json.dumps({
        "channel": "l2_data", "client_id": "", "timestamp": "2023-02-09T20:32:51Z",
        "sequence_num": 9,
        "events": [
            {"type": "update", "product_id": "BTC-USD", "updates": [
                {"side": "offer", "event_time": "2023-02-09T20:32:51Z", "price_level": "21922",
                 "new_quantity": "1.5"},
                {"side": "bid", "event_time": "2023-02-09T20:32:51Z", "price_level": "21921.73",
                 "new_quantity": "0"}]},
            {"type": "update", "product_id": "ETH-USD", "updates": [
                {"side": "bid", "event_time": "2023-02-09T20:32:51Z", "price_level": "1500",
                 "new_quantity": "3"}]},
        ],
    })
    btc, eth = CB.parse_message(frame)
    assert isinstance(btc, BookDiff) and isinstance(eth, BookDiff)
    assert btc.asks == [["21922", "1.5"]] and btc.bids == [["21921.73", "0"]]
    assert eth.pair == "ETH-USD" and eth.bids == [["1500", "3"]]
    assert btc.conn_seq == eth.conn_seq == 9
    assert 9 * 1024 <= btc.last_id < eth.last_id < 10 * 1024  # ordering ids along the connection
    assert btc.checksum is None and btc.prev_id is None


def test_frames_without_book_data_are_numbered_heartbeats():
    assert CB.parse_message(with_seq(DOC_HEARTBEAT, 3)) == [Heartbeat(conn_seq=3)]
    assert CB.parse_message(SUBSCRIPTIONS) == [Heartbeat(conn_seq=7)]
    ticker = '{"channel":"ticker","timestamp":"2023-02-09T20:30:37.1Z","sequence_num":8,"events":[]}'
    hb, ignored = CB.parse_message(ticker)  # numbered, and not subscribed here
    assert hb == Heartbeat(conn_seq=8) and isinstance(ignored, Ignored) and "ticker" in ignored.what
    empty_l2 = '{"channel":"l2_data","timestamp":"2023-02-09T20:30:37.1Z","sequence_num":4,"events":[]}'
    assert CB.parse_message(empty_l2) == [Heartbeat(conn_seq=4)]


def test_doc_market_trades_side_is_the_maker_side():
    (t,) = CB.parse_message(with_seq(DOC_TRADES, 11))
    # "Each market trade belongs to a side, which refers to the makers side"
    assert t == Trade("ETH-USD", "000000000", "1260.01", "0.3", "sell",
                      pytest.approx(calendar.timegm((2019, 8, 14, 20, 42, 27)) + 0.265), 11)


def test_consecutive_frames_number_every_sequence_value():
    frames = [with_seq(DOC_L2, 0), with_seq(DOC_HEARTBEAT, 1), with_seq(DOC_TRADES, 2),
              SUBSCRIPTIONS.replace('"sequence_num":7', '"sequence_num":3')]
    seqs = [e.conn_seq for f in frames for e in CB.parse_message(f)]
    assert seqs == [0, 1, 2, 3]


ERROR = '{"type":"error","message":"failure to subscribe"}'
DOC_UPDATE = DOC_L2.replace('"type":"snapshot"', '"type":"update"')
DOC_FRAMES = [DOC_L2, DOC_UPDATE, DOC_HEARTBEAT, DOC_TRADES, SUBSCRIPTIONS, ERROR]


def test_error_frame_is_logged_not_raised(caplog):
    assert CB.parse_message('{"type":"error","message":"failure to subscribe"}') == []
    assert "failure to subscribe" in caplog.text


@pytest.mark.parametrize("frame", [
    "",
    "{not json",
    DOC_L2[:120],
    "[]",
    '{"type":"snapshot"}',
    DOC_L2.replace('"sequence_num":0', '"sequence_num":"a"'),
    DOC_L2.replace(',\n"sequence_num":0', ''),
    DOC_L2.replace('"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.3"',
                   '"side":"ask","event_time":"1970-01-01T00:00:00Z","price_level":"21921.3"'),
    DOC_L2.replace('"new_quantity":"0.02"', '"new_quantity":0.02'),
    DOC_L2.replace('"type":"snapshot"', '"type":"l2update"'),
    DOC_L2.replace('"product_id":"BTC-USD"', '"product_id":"BTCUSD"'),
    DOC_L2.replace('"2023-02-09T20:32:50.714964855Z"', '"yesterday"'),
    DOC_L2.replace('"updates":[', '"updates":[5,'),
    DOC_TRADES.replace('"side":"BUY"', '"side":"BID"'),
    DOC_TRADES.replace('"time":"2019-08-14T20:42:27.265Z"', '"time":"2019-08-14T20:42:27.2x5Z"'),
])
def test_malformed_frames_raise_parse_error(frame):
    with pytest.raises(ParseError):
        CB.parse_message(frame)


# ---- end to end: generated sessions through the tracker, with faults ----

import datetime  # noqa: E402

from _venue_e2e import (  # noqa: E402
    FAULTS, Server, assert_clean, clean_session, fault_session, parse_totality_tests,
    replay_generated_session, resync_messages_were_sent,
)


class CoinbaseServer(Server):
    """Coinbase Advanced Trade as documented: one ``sequence_num`` per connection across
    ``l2_data``, ``market_trades``, ``heartbeats`` and ``subscriptions`` frames; restarts at 0 on
    a new connection."""

    decimals = 2

    def __init__(self, pairs, seed=1, **kw):
        super().__init__(pairs, seed, **kw)
        self.cseq = 0
        self.heartbeats_on = False
        self.ns = 1675974770_000000000
        self.trade_id = 0

    def _frame(self, channel, events):
        self.ns += 1_713_527
        t = datetime.datetime.fromtimestamp(self.ns // 10**9, datetime.timezone.utc)
        frame = json.dumps({"channel": channel, "client_id": "",
                            "timestamp": f"{t:%Y-%m-%dT%H:%M:%S}.{self.ns % 10**9:09d}Z",
                            "sequence_num": self.cseq, "events": events})
        self.cseq += 1
        return frame

    def on_client(self, text):
        super().on_client(text)
        msg = json.loads(text)
        if msg["channel"] == "heartbeats":
            self.heartbeats_on = msg["type"] == "subscribe"
        subs = {"level2": sorted(self.book_live | self.want_snapshot), "market_trades": sorted(self.trades_on)}
        self.out.append((self._frame("subscriptions", [{"subscriptions": subs}]), "ack", None))

    def decode(self, text):
        msg = json.loads(text)
        kind = {"level2": "book", "market_trades": "trades"}.get(msg["channel"])
        if kind is None:
            return []
        return [(msg["type"], kind, p) for p in msg["product_ids"]]

    def disconnect(self):
        super().disconnect()
        self.cseq = 0
        self.heartbeats_on = False

    def _l2(self, pair, kind, bids, asks):
        t = "2023-02-09T20:32:50.714964855Z"
        ups = [{"side": "bid", "event_time": t, "price_level": p, "new_quantity": s} for p, s in bids]
        ups += [{"side": "offer", "event_time": t, "price_level": p, "new_quantity": s} for p, s in asks]
        return self._frame("l2_data", [{"type": kind, "product_id": pair, "updates": ups}])

    def snapshot(self, pair, m):
        return self._l2(pair, "snapshot", *m.book.levels())

    def diff(self, pair, m, bids, asks):
        return self._l2(pair, "update", bids, asks)

    def heartbeat(self, pair):
        if not self.heartbeats_on:
            return None
        return self._frame("heartbeats", [{"current_time": "2023-06-23 20:31:56.121961769 +0000 UTC",
                                           "heartbeat_counter": str(self.cseq)}])

    def trade(self, pair, price, size, side):
        self.trade_id += 1
        maker = "SELL" if side == "buy" else "BUY"  # Coinbase reports the maker's side
        return self._frame("market_trades", [{"type": "update", "trades": [{
            "trade_id": str(self.trade_id), "product_id": pair, "price": price, "size": size,
            "side": maker, "time": "2019-08-14T20:42:27.265Z"}]}]), str(self.trade_id)

    def corrupt(self, frame):
        data = json.loads(frame)
        up = data["events"][0]["updates"][0]
        up["price_level"] = "x" + up["price_level"]
        return json.dumps(data)


PAIRS = ["BTC-USD", "ETH-USD", "SOL-USD"]


def test_e2e_clean_session():
    h = clean_session(CB, CoinbaseServer(PAIRS, seed=2))
    assert_clean(h, checksummed=False)
    assert h.driver.sent == CB.subscribe_messages(PAIRS)
    assert h.conn.conn_seq == h.server.cseq - 1  # every sequence number was seen, in order


@pytest.mark.parametrize("kind", FAULTS)
def test_e2e_fault_is_detected_and_repaired(kind):
    h, t = fault_session(CB, CoinbaseServer(PAIRS, seed=4), kind)
    if kind == "duplicate":  # the repeated frame's sequence_num is old: dropped, harmless
        assert t["stale_dropped"] >= 1 and t["resyncs"] == 0 and t["gaps"] == 0
        return
    assert t["resyncs"] >= 1, t
    if kind in ("drop", "swap", "truncate", "garbage"):
        # a missing sequence_num: any pair may have lost an update, all of them resync
        assert h.conn.gaps >= 1 and t["gaps"] == len(PAIRS), t
        assert all(resync_messages_were_sent(h, p) for p in PAIRS)
    if kind == "corrupt":
        assert t["tracker_bad_frames"] >= 1 and t["resyncs"] == 1 and h.conn.gaps == 0, t
    if kind in ("truncate", "garbage"):
        assert t["tracker_bad_frames"] >= 1, t


def test_e2e_generated_recording_replays_clean(tmp_path):
    server = CoinbaseServer(PAIRS, seed=6)
    result = replay_generated_session(tmp_path, server, CB, "coinbase")
    for p in PAIRS:
        assert result.pairs[p]["diffs_applied"] == server.counts[p]["diff"]


(test_every_single_mutation_of_the_doc_frames_gives_events_or_parse_error,
 test_fuzzed_doc_frames_give_events_or_parse_error) = parse_totality_tests(
    DOC_FRAMES, lambda: (CB,))


def test_outgoing_message_limit_is_declared_for_the_tracker_pacer():
    assert CB.ws_message_rate == 8.0  # 8 unauthenticated messages per second
