"""A configurable fake venue module (the MarketDataVenue contract) for tracker tests.

Frames are JSON: {"t": "d"|"s"|"tr"|"hb"|"reply"|"resync"|"reconnect", "p": pair, "U", "u", "pu",
"b", "a", "cs" (checksum), "cseq" (connection sequence)}."""
from __future__ import annotations

import json
import zlib
from typing import Optional

from hbconnect.market.messages import (
    BookDiff, BookSnapshot, Heartbeat, ParseError, Reconnect, Reply, RestRequest, Resync, SyncRule, Trade,
    VenueCapabilities, WsEndpoint,
)


class FakeVenue(VenueCapabilities):
    def __init__(self, rule: SyncRule = SyncRule.SEQ_RANGE, *, rest: bool = True, max_pairs: int = 100,
                 max_depth: Optional[int] = None, connection_sequence: bool = False,
                 resync_msgs: bool = True, url: str = "ws://127.0.0.1:1/ws") -> None:
        self.name = "fake"
        self.sync_rule = rule
        self.rest = rest
        self.max_pairs_per_connection = max_pairs
        self.max_depth = max_depth
        self.connection_sequence = connection_sequence
        self.resync_msgs = resync_msgs
        self.url = url

    def connect_request(self):
        return None

    def ws_endpoint(self, connect_response=None):
        return WsEndpoint(self.url)

    def subscribe_messages(self, pairs):
        return [json.dumps({"op": "sub", "pairs": list(pairs)})]

    def unsubscribe_messages(self, pairs):
        return [json.dumps({"op": "unsub", "pairs": list(pairs)})]

    def resync_messages(self, pair):
        return [json.dumps({"op": "resync", "pair": pair})] if self.resync_msgs else []

    def snapshot_request(self, pair):
        if not self.rest:
            return None
        return RestRequest("http://127.0.0.1:1/depth", {"pair": pair})

    def parse_snapshot(self, pair, body):
        try:
            m = json.loads(body)
            return BookSnapshot(pair, m["b"], m["a"], m["id"], checksum=m.get("cs"))
        except (ValueError, KeyError, TypeError) as exc:
            raise ParseError(f"bad snapshot: {exc}") from None

    def parse_message(self, raw):
        try:
            m = json.loads(raw)
            t = m["t"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ParseError(f"bad frame: {exc}") from None
        cseq = m.get("cseq")
        if t == "d":
            return [BookDiff(m["p"], m.get("b", []), m.get("a", []), m.get("U", m["u"]), m["u"], m.get("pu"),
                             checksum=m.get("cs"), conn_seq=cseq)]
        if t == "s":
            return [BookSnapshot(m["p"], m["b"], m["a"], m.get("u", 0), checksum=m.get("cs"), conn_seq=cseq)]
        if t == "tr":
            return [Trade(m["p"], str(m["id"]), m["px"], m["sz"], m["side"], conn_seq=cseq)]
        if t == "hb":
            return [Heartbeat(cseq)]
        if t == "reply":
            return [Reply(m["text"])]
        if t == "resync":
            return [Resync(m["p"], "test")]
        if t == "reconnect":
            return [Reconnect("test")]
        if t == "boom":
            raise RuntimeError("a venue-module bug")
        return []

    def checksum(self, book):
        text = ":".join(f"{p}:{s}" for p, s in book.bids_text(10)) + "|" + ":".join(
            f"{p}:{s}" for p, s in book.asks_text(10))
        return zlib.crc32(text.encode())

    def to_venue_symbol(self, pair):
        return pair

    def from_venue_symbol(self, symbol):
        return symbol


def diff(pair, U, u, b=(), a=(), **kw):
    return json.dumps({"t": "d", "p": pair, "U": U, "u": u, "b": [list(x) for x in b], "a": [list(x) for x in a], **kw})


def snap_body(bids, asks, uid, **kw):
    return json.dumps({"b": [list(x) for x in bids], "a": [list(x) for x in asks], "id": uid, **kw}).encode()


class RecordingDriver:
    """TrackerDriver that records what the tracker asks for."""

    def __init__(self):
        self.snapshots = []  # (pair, gen, delay)
        self.sent = []  # (conn id, text)
        self.reconnects = []

    def request_snapshot(self, tb, req, gen, delay):
        self.snapshots.append((tb.pair, gen, delay))

    def send(self, conn, texts):
        self.sent.extend((conn.id, t) for t in texts)

    def reconnect(self, conn, reason):
        self.reconnects.append((conn.id, reason))
