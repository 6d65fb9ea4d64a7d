"""Generated book sessions in each venue's own frame format: a random walk of a few books written
as the venue's snapshot and diff frames (and, optionally, trade frames and lost frames).

Used by benchmarks/message_path_venues.py (in-sequence diffs, the same frames for every client)
and by tests/test_fastpath_venues.py (with lost frames, other channels and fuzzing) for the venues
whose recordings hold no such frames. The ids follow each venue's documented sync rule.
"""
from __future__ import annotations

import datetime
import gzip
import json
import random
import zlib
from typing import Optional

from hbconnect import OrderBook

PAIRS = ("BTC-USDT", "ETH-USDT")


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


class VenueFrames:
    """``frames(n)``: the opening snapshots then ``n`` book frames of random pairs."""

    #: a snapshot frame every this many frames (0: none after the opening ones), unless given
    SNAPSHOT_EVERY = 60

    def __init__(self, rng: random.Random, pairs=PAIRS, levels: tuple[int, int] = (0, 4), lost: float = 0.02,
                 others: float = 0.1, snapshot_every: Optional[int] = None, jump: float = 0.02) -> None:
        self.rng = rng
        self.pairs = list(pairs)
        self.books = {p: OrderBook() for p in self.pairs}
        self.ids = {p: 1000 for p in self.pairs}
        self.ts = 1_700_000_000_000
        self.level_range = levels
        self.lost = lost
        self.others = others
        self.snapshot_every = self.SNAPSHOT_EVERY if snapshot_every is None else snapshot_every
        self.jump = jump
        #: levels in the diff frames written so far (for per-level figures)
        self.diff_levels = 0
        #: REST venues: the snapshot bodies of every pair as of each frame ``frames`` returned
        self.bodies: list[dict] = []

    def levels(self, base: float, sign: int) -> list:
        rng = self.rng
        return [["%.1f" % (base + sign * rng.randint(1, 30) / 10), rng.choice(["0", "1.5", "0.25", "3", "10.125"])]
                for _ in range(rng.randint(*self.level_range))]

    def step(self, pair: str, snapshot: bool) -> tuple:
        rng = self.rng
        self.ts += rng.randint(1, 50)
        prev = self.ids[pair]
        self.ids[pair] = new = prev + (1 if snapshot or rng.random() >= self.jump else rng.randint(2, 5))
        book = self.books[pair]
        if snapshot:
            bids = [["%.1f" % (99 - i / 10), "1"] for i in range(rng.randint(1, 6))]
            asks = [["%.1f" % (101 + i / 10), "2"] for i in range(rng.randint(1, 6))]
            book.apply_snapshot(bids, asks, new)
        else:
            bids, asks = self.levels(100, -1), self.levels(100, 1)
            book.apply_diffs(bids, asks, new)
            self.diff_levels += len(bids) + len(asks)
        return bids, asks, prev, new

    def snapshots(self) -> list[str]:
        return [self.frame(p, True) for p in self.pairs]

    rest = False  # the venue's snapshots come from REST (``snapshot_body``)

    def frames(self, n: int) -> list[str]:
        out = self.snapshots()
        self.bodies = [self._bodies()] * len(out) if self.rest else []
        every = self.snapshot_every
        for i in range(n):
            pair = self.rng.choice(self.pairs)
            snap = bool(every) and i % every == every - 1
            frame = self.frame(pair, snap)
            if snap or self.rng.random() >= self.lost:
                out.append(frame)
            if self.rng.random() < self.others:
                out.append(self.other(pair))
            if self.rest:
                self.bodies.extend([self._bodies()] * (len(out) - len(self.bodies)))
        return out

    def _bodies(self) -> dict:
        return {p: self.snapshot_body(p) for p in self.pairs}

    def frame(self, pair: str, snapshot: bool) -> str:
        raise NotImplementedError

    def other(self, pair: str) -> str:
        return "{}"

    def wire(self, text: str):
        """A frame as the venue sends it (its text, or the text compressed)."""
        return text

    def snapshot_body(self, pair: str) -> Optional[bytes]:
        """A REST snapshot of the pair's current book (venues whose snapshot is REST)."""
        return None


class BybitFrames(VenueFrames):
    """Bybit v5 ``orderbook.50.{symbol}`` snapshot/delta (``u`` contiguous)."""

    def frame(self, pair, snapshot):
        bids, asks, prev, new = self.step(pair, snapshot)
        sym = pair.replace("-", "")
        return _dumps({"topic": "orderbook.50." + sym, "type": "snapshot" if snapshot else "delta", "ts": self.ts,
                       "data": {"s": sym, "b": bids, "a": asks, "u": new, "seq": new * 3}, "cts": self.ts - 2})

    def other(self, pair):
        sym = pair.replace("-", "")
        return _dumps({"topic": "publicTrade." + sym, "type": "snapshot", "ts": self.ts,
                       "data": [{"T": self.ts, "s": sym, "S": "Buy", "v": "0.1", "p": "100.1", "i": str(self.ts)}]})


class OkxFrames(VenueFrames):
    """OKX v5 ``books`` snapshot/update (seqId/prevSeqId; checksum real or 0)."""

    checksums = 0.8  # share of frames carrying a real checksum (else 0: not sent)

    def frame(self, pair, snapshot):
        bids, asks, prev, new = self.step(pair, snapshot)
        cks = self.books[pair].checksum_okx(25) if self.rng.random() < self.checksums else 0
        rows = lambda side: [[p, s, "0", str(self.rng.randint(0, 9))] for p, s in side]  # noqa: E731
        d = {"asks": rows(asks), "bids": rows(bids), "ts": str(self.ts), "checksum": cks,
             "prevSeqId": -1 if snapshot else prev, "seqId": new}
        return _dumps({"arg": {"channel": "books", "instId": pair}, "action": "snapshot" if snapshot else "update",
                       "data": [d]})

    def other(self, pair):
        return _dumps({"arg": {"channel": "trades", "instId": pair},
                       "data": [{"instId": pair, "tradeId": str(self.ts), "px": "100.1", "sz": "0.1", "side": "buy",
                                 "ts": str(self.ts)}]})


class BitgetFrames(VenueFrames):
    """Bitget v2 ``books`` snapshot/update (``seq`` increasing; checksum real or 0)."""

    checksums = 0.8

    def frame(self, pair, snapshot):
        bids, asks, prev, new = self.step(pair, snapshot)
        cks = self.books[pair].checksum_bitget(25) if self.rng.random() < self.checksums else 0
        d = {"asks": asks, "bids": bids, "checksum": cks, "seq": new, "ts": str(self.ts)}
        return _dumps({"action": "snapshot" if snapshot else "update",
                       "arg": {"instType": "SPOT", "channel": "books", "instId": pair.replace("-", "")},
                       "data": [d], "ts": self.ts})

    def other(self, pair):
        return _dumps({"action": "update", "arg": {"instType": "SPOT", "channel": "trade",
                                                   "instId": pair.replace("-", "")},
                       "data": [{"ts": str(self.ts), "price": "100.1", "size": "0.1", "side": "buy",
                                 "tradeId": str(self.ts)}], "ts": self.ts})


class GateFrames(VenueFrames):
    """Gate.io v4 ``spot.order_book_update`` (U/u ranges) with REST ``order_book?with_id=true``
    snapshots; a "snapshot" frame here only moves the REST book (the stream has none)."""

    rest = True

    def frame(self, pair, snapshot):
        bids, asks, prev, new = self.step(pair, snapshot)
        if snapshot:
            return self.other(pair)
        sym = pair.replace("-", "_")
        return _dumps({"time": self.ts // 1000, "time_ms": self.ts, "channel": "spot.order_book_update",
                       "event": "update", "result": {"t": self.ts, "e": "depthUpdate", "E": self.ts // 1000, "s": sym,
                                                     "U": prev + 1, "u": new, "b": bids, "a": asks}})

    def other(self, pair):
        return _dumps({"time": self.ts // 1000, "channel": "spot.trades", "event": "update",
                       "result": {"id": self.ts, "create_time": self.ts // 1000, "create_time_ms": str(self.ts), "side": "buy",
                                  "currency_pair": pair.replace("-", "_"), "amount": "0.1", "price": "100.1"}})

    def snapshot_body(self, pair):
        book = self.books[pair]
        return json.dumps({"id": self.ids[pair], "current": self.ts, "update": self.ts,
                           "bids": book.bids_text(), "asks": book.asks_text()}).encode()


class GateFuturesFrames(GateFrames):
    """Gate.io USDT futures ``futures.order_book_update`` (U/u ranges, levels ``{"p": price, "s":
    contracts}`` with integer sizes) with REST ``/futures/usdt/order_book?with_id=true`` snapshots."""

    def levels(self, base: float, sign: int) -> list:
        rng = self.rng
        return [["%.1f" % (base + sign * rng.randint(1, 30) / 10), rng.choice(["0", "1", "25", "3", "1040"])]
                for _ in range(rng.randint(*self.level_range))]

    @staticmethod
    def _objects(rows) -> list:
        return [{"p": p, "s": int(s)} for p, s in rows]

    def frame(self, pair, snapshot):
        bids, asks, prev, new = self.step(pair, snapshot)
        if snapshot:
            return self.other(pair)
        return _dumps({"time": self.ts // 1000, "time_ms": self.ts, "channel": "futures.order_book_update",
                       "event": "update", "result": {"t": self.ts, "s": pair.replace("-", "_"), "U": prev + 1,
                                                     "u": new, "b": self._objects(bids), "a": self._objects(asks)}})

    def other(self, pair):
        return _dumps({"time": self.ts // 1000, "channel": "futures.trades", "event": "update",
                       "result": [{"id": self.ts, "create_time": self.ts // 1000, "create_time_ms": self.ts,
                                   "contract": pair.replace("-", "_"), "size": 3, "price": "100.1"}]})

    def snapshot_body(self, pair):
        book = self.books[pair]
        return json.dumps({"id": self.ids[pair], "current": self.ts / 1000, "update": self.ts / 1000,
                           "bids": self._objects(book.bids_text()), "asks": self._objects(book.asks_text())}).encode()


class KucoinFrames(VenueFrames):
    """KuCoin spot ``/market/level2`` changes (``[price, size, sequence]``, written out of
    sequence order, with sequence-only "0" entries; ``sequenceStart``/``sequenceEnd`` ranges)
    with REST ``level2_100`` snapshots; a "snapshot" frame here only moves the REST book."""

    rest = True

    def frame(self, pair, snapshot):
        bids, asks, prev, new = self.step(pair, snapshot)
        if snapshot:
            return self.other(pair)
        rng = self.rng
        seq = prev + (new - prev - 1)  # a jump of the ids stays a gap
        start = seq + 1
        sides = []
        for rows in (bids, asks):
            out = []
            for p, q in rows:
                if rng.random() < 0.15:  # a sequence-only entry
                    seq += 1
                    out.append(["0", "0", str(seq)])
                seq += 1
                out.append([p, q, str(seq)])
            rng.shuffle(out)
            sides.append(out)
        if seq < start:
            seq += 1
            sides[1].append(["0", "0", str(seq)])
        self.ids[pair] = seq
        sym = pair
        return _dumps({"data": {"sequenceStart": start, "symbol": sym, "changes": {"asks": sides[1], "bids": sides[0]},
                                "sequenceEnd": seq, "time": self.ts},
                       "subject": "trade.l2update", "topic": "/market/level2:" + sym, "type": "message"})

    def other(self, pair):
        return _dumps({"type": "message", "topic": "/market/match:" + pair, "subject": "trade.l3match",
                       "data": {"symbol": pair, "side": "buy", "price": "100.1", "size": "0.1",
                                "tradeId": str(self.ts), "time": str(self.ts * 1_000_000)}})

    def snapshot_body(self, pair):
        book = self.books[pair]
        return json.dumps({"code": "200000", "data": {"sequence": str(self.ids[pair]), "time": self.ts,
                                                      "bids": book.bids_text(), "asks": book.asks_text()}}).encode()


def _num_rows(rows) -> str:
    """Level rows as JSON numbers with the rows' exact text (HTX)."""
    return "[" + ",".join(f"[{p},{q}]" for p, q in rows) + "]"


class WholeBookFrames(VenueFrames):
    """A venue whose every book push is the whole book (SyncRule.SNAPSHOTS): the book moved by a
    random diff, then written whole (``book_text``); a "jump" re-sends one of the last pushes
    (late: dropped as stale where the pushes carry an id). ``diff_levels`` counts the pushes' levels."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.sent: dict = {p: [] for p in self.pairs}

    def frame(self, pair, snapshot):
        sent = self.sent[pair]
        if sent and self.rng.random() < self.jump:
            return self.rng.choice(sent)  # an older push arriving late
        counted = self.diff_levels
        self.step(pair, snapshot)
        book = self.books[pair]
        bids, asks = book.bids_text(), book.asks_text()
        self.diff_levels = counted + len(bids) + len(asks)
        text = self.book_text(pair, bids, asks)
        sent.append(text)
        del sent[:-5]
        return text

    def book_text(self, pair: str, bids: list, asks: list) -> str:
        raise NotImplementedError


class HtxFrames(WholeBookFrames):
    """HTX ``market.<sym>.depth.step0``: every push is the whole book (numbers, ``tick.version``
    orders them), gzip-compressed; trades and pings between. ``exponents``: some sizes written
    in exponent form (``2.5E-3``), as HTX writes tiny numbers (the book reads those on a slower
    path: the benchmark leaves them out, as HTX's BTC and ETH books have none)."""

    def __init__(self, *args, exponents: bool = True, **kw) -> None:
        super().__init__(*args, **kw)
        self.sizes = ("0", "1.5", "0.25", "3", "10.125", "7") + (("2.5E-3",) if exponents else ())

    def levels(self, base: float, sign: int) -> list:
        rng = self.rng
        return [["%.1f" % (base + sign * rng.randint(1, 30) / 10), rng.choice(self.sizes)]
                for _ in range(rng.randint(*self.level_range))]

    def book_text(self, pair, bids, asks):
        sym = pair.replace("-", "").lower()
        return (f'{{"ch":"market.{sym}.depth.step0","ts":{self.ts},"tick":{{"bids":{_num_rows(bids)},'
                f'"asks":{_num_rows(asks)},"version":{self.ids[pair]},"ts":{self.ts - 3}}}}}')

    def other(self, pair):
        if self.rng.random() < 0.3:
            return _dumps({"ping": self.ts})
        sym = pair.replace("-", "").lower()
        return (f'{{"ch":"market.{sym}.trade.detail","ts":{self.ts},"tick":{{"id":{self.ts},"ts":{self.ts},'
                f'"data":[{{"id":{self.ts}1,"ts":{self.ts},"tradeId":{self.ts},"amount":0.1,"price":100.1,'
                f'"direction":"buy"}}]}}}}')

    def wire(self, text):
        return _gzip(text)


class HtxMbpFrames(HtxFrames):
    """HTX ``market.<sym>.mbp.150`` increments (``seqNum``/``prevSeqNum``, a side without changes
    left out), the refresh image answering ``req`` as the snapshot; gzip-compressed."""

    def frame(self, pair, snapshot):
        bids, asks, prev, new = self.step(pair, snapshot)
        sym = pair.replace("-", "").lower()
        topic = f"market.{sym}.mbp.150"
        sides = "".join(f',"{k}":{_num_rows(rows)}' for k, rows in (("bids", bids), ("asks", asks))
                        if rows or snapshot)
        if snapshot:
            return (f'{{"id":"req:{topic}","rep":"{topic}","status":"ok","ts":{self.ts},'
                    f'"data":{{"seqNum":{new}{sides}}}}}')
        return f'{{"ch":"{topic}","ts":{self.ts},"tick":{{"seqNum":{new},"prevSeqNum":{prev}{sides}}}}}'


def _gzip(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)


class BingXFrames(WholeBookFrames):
    """BingX spot ``<SYMBOL>@depth100``: the whole book in every push, no id, gzip-compressed."""

    def book_text(self, pair, bids, asks):
        return _dumps({"dataType": pair + "@depth100", "data": {"bids": bids, "asks": asks}})

    def other(self, pair):
        if self.rng.random() < 0.3:
            return _dumps({"ping": "9a5c1b2e", "time": "2026-12-08T02:00:00.000+0800"})
        return _dumps({"dataType": pair + "@trade", "data": {"e": "trade", "E": self.ts, "s": pair, "t": str(self.ts),
                                                             "p": "100.1", "q": "0.1", "T": self.ts, "m": True}})

    def wire(self, text):
        return _gzip(text)


class BitrueFrames(WholeBookFrames):
    """Bitrue ``market_<sym>_simple_depth_step0``: the whole book in every push (``ts`` orders
    them; levels as strings, or as JSON numbers), gzip-compressed."""

    def book_text(self, pair, bids, asks):
        sym = pair.replace("-", "").lower()
        rows = _num_rows if self.rng.random() < 0.3 else _dumps
        return (f'{{"channel":"market_{sym}_simple_depth_step0","ts":{self.ts},'
                f'"tick":{{"buys":{rows(bids)},"asks":{rows(asks)}}}}}')

    def other(self, pair):
        if self.rng.random() < 0.3:
            return _dumps({"ping": str(self.ts)})
        sym = pair.replace("-", "").lower()
        return (f'{{"channel":"market_{sym}_trade_ticker","ts":{self.ts},"tick":{{"data":[{{"id":{self.ts},'
                f'"price":100.1,"amount":10.01,"side":"BUY","vol":0.1,"ts":{self.ts},"ds":"2026-12-08 02:00:00"}}]}}}}')

    def wire(self, text):
        return _gzip(text)


class HashKeyFrames(WholeBookFrames):
    """HashKey Global ``depth``: the whole top of the book in every push (``t`` orders them)."""

    def book_text(self, pair, bids, asks):
        sym = pair.replace("-", "")
        return _dumps({"symbol": sym, "symbolName": sym, "topic": "depth", "params": {"realtimeInterval": "24h"},
                       "data": [{"s": sym, "t": self.ts, "v": "5870891_18", "b": bids, "a": asks}],
                       "f": self.rng.random() < 0.5, "sendTime": self.ts + 1})

    def other(self, pair):
        if self.rng.random() < 0.3:
            return _dumps({"pong": self.ts})
        sym = pair.replace("-", "")
        return _dumps({"symbol": sym, "symbolName": sym, "topic": "trade", "params": {"realtimeInterval": "24h"},
                       "data": [{"v": str(self.ts), "t": self.ts, "p": "100.1", "q": "0.1", "m": True}],
                       "f": False, "sendTime": self.ts})


class BitmartFrames(VenueFrames):
    """BitMart ``spot/depth/increase100`` snapshot/update (``version`` contiguous), raw deflate;
    the snapshot the resync requests: here every 30 frames by default."""

    SNAPSHOT_EVERY = 30

    def frame(self, pair, snapshot):
        bids, asks, prev, new = self.step(pair, snapshot)
        return _dumps({"data": [{"asks": asks, "bids": bids, "ms_t": self.ts, "symbol": pair.replace("-", "_"),
                                 "type": "snapshot" if snapshot else "update", "version": new}],
                       "table": "spot/depth/increase100"})

    def other(self, pair):
        return _dumps({"data": [{"symbol": pair.replace("-", "_"), "price": "100.1", "side": "buy", "size": "0.1",
                                 "s_t": self.ts // 1000, "ms_t": self.ts}], "table": "spot/trade"})

    def wire(self, text):
        z = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return z.compress(text.encode()) + z.flush()


class AscendExFrames(VenueFrames):
    """AscendEX ``depth`` diffs (``seqnum`` contiguous) and the ``depth-snapshot`` answer (the
    resync asks for it: here every 30 frames by default)."""

    SNAPSHOT_EVERY = 30

    def frame(self, pair, snapshot):
        bids, asks, prev, new = self.step(pair, snapshot)
        return _dumps({"m": "depth-snapshot" if snapshot else "depth", "symbol": pair.replace("-", "/"),
                       "data": {"ts": self.ts, "seqnum": new, "asks": asks, "bids": bids}})

    def other(self, pair):
        return _dumps({"m": "trades", "symbol": pair.replace("-", "/"),
                       "data": [{"p": "100.1", "q": "0.1", "ts": self.ts, "bm": True, "seqnum": self.ts}]})


class FoxbitFrames(VenueFrames):
    """FoxBit v3 ``orderbook-100``: the in-band snapshot (``sequence_id``), then updates
    (``first_sequence_id``..``last_sequence_id``, one update covering one id or several)."""

    def frame(self, pair, snapshot):
        bids, asks, prev, new = self.step(pair, snapshot)
        sym = pair.replace("-", "").lower()
        params = {"channel": "orderbook-100", "market_symbol": sym}
        if snapshot:
            return _dumps({"type": "subscribe", "event": "snapshot", "params": params,
                           "data": {"sequence_id": new, "bids": bids, "asks": asks}})
        first = prev + 1 if self.rng.random() >= self.jump else max(prev - 1, 1)  # an overlapping range too
        return _dumps({"type": "subscribe", "event": "update", "params": params,
                       "data": {"ts": self.ts, "first_sequence_id": first, "last_sequence_id": new,
                                "bids": bids, "asks": asks}})

    def other(self, pair):
        sym = pair.replace("-", "").lower()
        if self.rng.random() < 0.3:
            return _dumps({"type": "message", "event": "success", "params": {"channel": "ping"}})
        return _dumps({"type": "subscribe", "event": "update", "params": {"channel": "trades", "market_symbol": sym},
                       "data": [{"id": self.ts, "price": "100.1", "quantity": "0.1", "taker_side": "BUY",
                                 "ts": self.ts}]})


def _iso(ms: int) -> str:
    """Unix milliseconds as RFC 3339 UTC text with milliseconds (BTC Markets' ``timestamp``)."""
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


class BtcMarketsFrames(VenueFrames):
    """BTC Markets v2 ``orderbookUpdate``: the first frame of a market is the whole book
    (``"snapshot": true``), later ones the changed levels ``[price, volume, count]`` with the
    CRC32 of the best 10 bids and asks after them (``snapshotId`` only increases)."""

    def frame(self, pair, snapshot):
        bids, asks, prev, new = self.step(pair, snapshot)
        rows = lambda side: [[p, q, 0 if q == "0" else self.rng.randint(1, 4)] for p, q in side]  # noqa: E731
        msg = {"marketId": pair, "timestamp": _iso(self.ts), "snapshotId": new * 1000,
               "bids": rows(bids), "asks": rows(asks), "messageType": "orderbookUpdate"}
        if snapshot:
            msg = {"marketId": msg["marketId"], "snapshot": True, **msg, "channel": "orderbookUpdate"}
        else:
            msg["checksum"] = str(self.books[pair].checksum(10, "bids_asks", "", "kraken"))
        return _dumps(msg)

    def other(self, pair):
        if self.rng.random() < 0.3:
            return _dumps({"messageType": "heartbeat", "channels": [{"name": "orderbookUpdate",
                                                                     "marketIds": [pair]}, {"name": "heartbeat"}]})
        return _dumps({"marketId": pair, "timestamp": _iso(self.ts), "tradeId": self.ts, "price": "100.1",
                       "volume": "0.1", "side": "Bid", "messageType": "trade"})


class KrakenFrames(VenueFrames):
    """Kraken spot websocket v1 ``book`` (docs.kraken.com "Spot Websockets (v1) Book Checksum"):
    ``[channelID, {"as": rows, "bs": rows}, "book-100", "XBT/USDT"]`` snapshots, updates of one
    or two maps (``{"a": rows}``, ``{"b": rows, "c": "crc32"}``, the checksum in the last), rows
    ``[price, volume, "seconds.micro"]`` (a republish with a 4th element ``"r"``); no ids."""

    def __init__(self, rng, pairs=PAIRS, levels=(1, 4), **kw):
        super().__init__(rng, pairs, (max(1, levels[0]), levels[1]), **kw)  # Kraken sends no empty update

    @staticmethod
    def symbol(pair):
        """The v1 websocket name of a pair (AssetPairs ``wsname``: XBT for BTC)."""
        base, quote = pair.split("-")
        return {"BTC": "XBT"}.get(base, base) + "/" + quote

    def _chan(self, pair):
        return 336 + self.pairs.index(pair)

    def frame(self, pair, snapshot):
        bids, asks, prev, new = self.step(pair, snapshot)
        rng = self.rng
        t = "%.6f" % (self.ts / 1000)
        rows = lambda side: [[p, s, t] + (["r"] if rng.random() < 0.05 else []) for p, s in side]  # noqa: E731
        if snapshot:
            parts = [{"as": rows(asks), "bs": rows(bids)}]
        else:
            cks = str(self.books[pair].checksum_kraken())
            if asks and bids and rng.random() < 0.5:
                parts = [{"a": rows(asks)}, {"b": rows(bids), "c": cks}]
            else:
                parts = [{"a": rows(asks), "b": rows(bids), "c": cks}]
                if not asks:
                    del parts[0]["a"]
                if not bids and asks:
                    del parts[0]["b"]
        return _dumps([self._chan(pair)] + parts + ["book-100", self.symbol(pair)])

    def other(self, pair):
        t = "%.6f" % (self.ts / 1000)
        return _dumps([900 + self.pairs.index(pair), [["100.1", "0.1", t, "b", "l", ""]], "trade", self.symbol(pair)])


class BitfinexFrames(VenueFrames):
    """Bitfinex websocket v2 ``book`` P0 with flags 65536 + 131072 (docs.bitfinex.com
    ws-public-books, ws-websocket-checksum): after the ``subscribed`` events, the snapshot
    ``[CHAN_ID, [[PRICE, COUNT, AMOUNT], ...], SEQ]``, then one level per update ``[CHAN_ID,
    [PRICE, COUNT, AMOUNT], SEQ]`` (AMOUNT > 0 a bid, < 0 an ask; COUNT 0 removes it, AMOUNT then
    1 or -1) each followed by ``[CHAN_ID, "cs", CHECKSUM, SEQ]``; JSON numbers; SEQ counts every
    message of the connection. ``opening``: the frames before the first diff."""

    def __init__(self, rng, pairs=PAIRS, levels=(1, 1), **kw):
        kw.setdefault("snapshot_every", 15)  # a lost message makes every pair resync: snapshots come sooner
        super().__init__(rng, pairs, (1, 1), **kw)  # one level per update
        self.seq = 0
        self.opening = 3 * len(self.pairs)

    def _chan(self, pair, trades=False):
        return 17082 + 2 * self.pairs.index(pair) + trades

    @staticmethod
    def symbol(pair):
        """``tBTCUSD``; a currency not of 3 letters: ``tBTC:USDT``."""
        base, quote = pair.split("-")
        return "t" + base + (":" if len(base) != 3 or len(quote) != 3 else "") + quote

    def snapshots(self):
        out = []
        for p in self.pairs:
            sym = self.symbol(p)
            out.append(_dumps({"event": "subscribed", "channel": "book", "chanId": self._chan(p), "symbol": sym,
                               "prec": "P0", "freq": "F0", "len": "100", "pair": sym[1:]}))
            out.append(_dumps({"event": "subscribed", "channel": "trades", "chanId": self._chan(p, True),
                               "symbol": sym, "pair": sym[1:]}))
        return out + [self.frame(p, True) for p in self.pairs]

    def levels(self, base, sign):
        return super().levels(base, sign) if sign == self._side else []

    def _next(self):
        self.seq += 1
        return self.seq

    def frame(self, pair, snapshot):
        self._side = self.rng.choice((-1, 1))
        bids, asks, prev, new = self.step(pair, snapshot)
        rng = self.rng
        # JSON numbers written as the book's text (the checksum is over the text sent)
        rows = ["[%s,%s,%s]" % (p, 0 if s == "0" else rng.randint(1, 5), ("-" if side is asks else "") + ("1" if s == "0" else s))
                for side in (bids, asks) for p, s in side]
        if snapshot:
            return "[%d,[%s],%d]" % (self._chan(pair), ",".join(rows), self._next())
        up = "[%d,%s,%d]" % (self._chan(pair), rows[0], self._next())
        return up + "\n" + _dumps([self._chan(pair), "cs", self.books[pair].checksum_bitfinex(25), self._next()])

    def frames(self, n):
        return [f for frame in super().frames(n) for f in frame.split("\n")]

    def other(self, pair):
        return _dumps([self._chan(pair, True), "te", [self.ts, self.ts, 0.1, 100.1], self._next()])


GENERATORS = {"bybit": BybitFrames, "okx": OkxFrames, "gate_io": GateFrames, "bitget": BitgetFrames,
              "gate_io_perpetual": GateFuturesFrames, "kucoin": KucoinFrames, "htx": HtxFrames,
              "htx_mbp": HtxMbpFrames, "bitmart": BitmartFrames, "ascend_ex": AscendExFrames,
              "bing_x": BingXFrames, "bitrue": BitrueFrames, "hashkey": HashKeyFrames, "foxbit": FoxbitFrames,
              "btc_markets": BtcMarketsFrames,
              "kraken": KrakenFrames, "bitfinex": BitfinexFrames}
