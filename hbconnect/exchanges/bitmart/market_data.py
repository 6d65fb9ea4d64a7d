"""BitMart spot market data (WebSocket, deflate-compressed frames): pure translation, no I/O.

Facts: BitMart's spot API docs (developer-pro.bitmart.com/en/spot), as scraped in
rosssaunders/coincise @8a3c48b1 (2025-06-28) ``docs/bitmart/spot/websocket_subscription.md``
("WebSocket Subscription", cited as WS below) and ``docs/bitmart/spot/change_log.md``:

* Public endpoint ``wss://ws-manager-compress.bitmart.com/api?protocol=1.1`` (WS "Server URL";
  change log 2022-01-18). Market data comes in binary frames compressed with raw deflate
  (zlib, no header: ``-MAX_WBITS``); other frames are text (WS "Data Compression").
* ``{"op": "subscribe" | "unsubscribe", "args": ["<channel>:<symbol>", ...]}``, acknowledged
  ``{"event": "subscribe", "topic": ...}``; errors ``{"event", "errorCode", "errorMessage"}``
  (WS "Format"). At most 20 args in one request (WS "Connection Limit (Public Channel)" 3) and
  the channels of one request at most 4096 bytes long (WS "Subscribe"); up to 115 channels per
  connection; at most 100 messages (pings included) in 10 s per connection; at most 30 new
  connections a minute (WS "Connection Limit (Public Channel)" 1-2).
* Keep-alive: send the text ``ping`` when nothing arrived for N < 20 s; the server answers
  ``pong`` (WS "How Stay Connected").
* ``spot/depth/increase100`` (the default; WS "【Public】Depth-Increase Channel"): after
  subscribing, a ``type: "snapshot"`` push of 100 levels, then ``type: "update"`` pushes,
  ``{"table": "spot/depth/increase100", "data": [{"asks": [[price, size]], "bids": [...],
  "ms_t", "symbol", "type", "version"}]}``; sizes are absolute, "0" removes the level. The
  sync rule, "How to correctly maintain a copy of OrderBook locally": a snapshot replaces the
  book; an update whose version is <= the book's is discarded, == book + 1 is applied, > book
  + 1 means a loss: ``{"op": "request", "args": ["spot/depth/increase100:<symbol>"]}`` brings
  a fresh snapshot (``resync_messages``). That is SyncRule.CONTIGUOUS on ``version``. A quiet
  book gets an empty update carrying the book's version ("Abnormal Situation" 1): it is
  handed on as a diff, which the tracker drops as already applied (and which proves the
  stream alive). Levels that were outside the snapshot and never change are not sent
  ("Abnormal Situation" 2): the book is kept to 100 levels (``max_depth``).
* ``spot/depth5`` / ``spot/depth20`` / ``spot/depth50`` (``depth=5|20|50``; WS "【Public】
  Depth-All Channel"): each push is the whole top-N book, ``{"table": "spot/depth5", "data":
  [{"asks", "bids", "symbol", "ms_t"}]}``: SyncRule.SNAPSHOTS, ordered by ``ms_t``. (The 2021
  change log's ``spot/depth100`` is no longer listed.)
* ``spot/trade`` (WS "【Public】Trade Channel"): ``{"table": "spot/trade", "data": [{"symbol",
  "price", "side" (taker: "buy" | "sell"), "size", "s_t", "ms_t"}]}``; no trade id is sent, so
  the trade's ``ms_t`` stands for it.
* Symbols ``BTC_USDT`` from ``GET /spot/v1/symbols/details`` ``{"code": 1000, "data":
  {"symbols": [{"symbol", "base_currency", "quote_currency", ...}]}}``
  (``docs/bitmart/spot/public_market_data.md`` "Get Trading Pair Details (V1)").
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence, Union

from hbconnect.core.codecs import inflate_raw
from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import InstrumentTable, concat_symbol
from hbconnect.market.messages import (BookDiff, BookSnapshot, DiffFrame, Heartbeat, Ignored, MarketEvent,
                                       ParseError, SyncRule, Trade)

log = logging.getLogger(__name__)

WS_URL = "wss://ws-manager-compress.bitmart.com/api?protocol=1.1"
INCREMENTAL = "spot/depth/increase100"
INCREMENTAL_LEVELS = 100
FULL_DEPTHS = (5, 20, 50)
ARGS_PER_MESSAGE = 20
ARGS_BYTES = 4096
CHANNELS_PER_CONNECTION = 115
SIDES = {"buy": "buy", "sell": "sell"}
BOOK_TYPES = ("snapshot", "update")


def spell(pair: str) -> str:
    return concat_symbol(pair, "_")  # BTC-USDT -> BTC_USDT


def _loads(raw: Union[str, bytes]) -> object:
    return c.load_frame_exact(raw, "bitmart", inflate_raw)


class BitmartMarketData(c.TableSymbols, c.MarketDataBase):
    name = "bitmart"
    max_pairs_per_connection = 50  # a book and a trade channel each: 100 of the 115 allowed
    ping_interval = 15.0
    ping_message = "ping"
    ws_message_rate = 10.0  # 100 messages in 10 s
    ws_connect_rate = 0.5  # 30 connections a minute

    def __init__(self, depth: Optional[int] = None, ws_url: str = WS_URL) -> None:
        """``depth=None``: the incremental ``spot/depth/increase100``; 5, 20 or 50: the
        whole-book pushes of ``spot/depth<N>``."""
        if depth is None:
            self._table = INCREMENTAL
            self.sync_rule = SyncRule.CONTIGUOUS
            self.max_depth = INCREMENTAL_LEVELS
        elif depth in FULL_DEPTHS:
            self._table = f"spot/depth{depth}"
            self.sync_rule = SyncRule.SNAPSHOTS
            self.max_depth = depth
        else:
            raise ValueError(f"bitmart spot depth: None (incremental) or one of {FULL_DEPTHS}, got {depth}")
        self.depth = depth
        self.ws_url = ws_url
        self.instruments = InstrumentTable(self.name, spell)
        #: the book pushes, for the tracker's compiled frame path: ``type: "update"`` increments
        #: (``version``), or the whole books of ``spot/depth<N>`` (``ms_t``)
        full = depth is not None
        self.diff_frame = DiffFrame(
            loads=_loads, parse_decoded=self.parse_decoded, symbols=None, envelope=("data", 0),
            event_key=None if full else "type", event=None if full else "update", symbol_key="symbol",
            first_key=None, last_key="ms_t" if full else "version", bids_key="bids", asks_key="asks",
            time_key="ms_t", time_required=full, match=(("table", self._table),), check_levels=True,
            int_text=True, inflate=inflate_raw, snapshot=full)

    def parse_listing(self, body: Union[str, bytes]) -> list:
        """``GET /spot/v1/symbols/details``: ``{"code": 1000, "data": {"symbols": [{"symbol":
        "BTC_USDT", "base_currency": "BTC", "quote_currency": "USDT", ...}]}}``."""
        msg = c.as_dict(c.load_json(body), "bitmart symbols")
        if msg.get("code") != 1000:
            raise ParseError(f"bitmart symbols: not a successful listing (code {c.excerpt(msg.get('code'), 20)})")
        data = c.as_dict(msg.get("data"), "bitmart symbols data")
        return c.listed_instruments(data.get("symbols"), "bitmart symbols", "symbol", "base_currency", "quote_currency")

    def _args(self, pairs: Sequence[str]) -> list[str]:
        out = []
        for pair in pairs:
            symbol = self.to_venue_symbol(pair)
            out += [f"{self._table}:{symbol}", f"spot/trade:{symbol}"]
        return out

    def _op(self, op: str, args: list[str]) -> list[str]:
        return c.pack_args(args, lambda batch: {"op": op, "args": batch}, ARGS_BYTES, ARGS_PER_MESSAGE)

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._op("subscribe", self._args(pairs))

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._op("unsubscribe", self._args(pairs))

    def resync_messages(self, pair: str) -> list[str]:
        """Incremental book: the documented snapshot request; whole-book pushes: resubscribe."""
        if self.sync_rule is SyncRule.CONTIGUOUS:
            return self._op("request", [f"{INCREMENTAL}:{self.to_venue_symbol(pair)}"])
        return []

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        if raw == "pong" or raw == b"pong":
            return [Heartbeat()]
        return self.parse_decoded(raw, _loads(raw))

    def parse_decoded(self, raw: Union[str, bytes], msg: object) -> list[MarketEvent]:
        """``parse_message`` of a frame (not ``pong``) already decoded to ``msg`` (``diff_frame``)."""
        msg = c.as_dict(msg, "bitmart frame")
        table = msg.get("table")
        if table is None:
            if "errorCode" in msg:
                log.warning("bitmart error %s: %s", c.excerpt(msg.get("errorCode"), 20),
                            c.excerpt(msg.get("errorMessage"), 160))
                return []
            if msg.get("event") in ("subscribe", "unsubscribe", "request"):
                return []
            raise ParseError(f"bitmart: unknown frame {c.excerpt(msg, 80)}")
        # the channel examples send the bare channel ("spot/depth5"); the format section
        # writes it with the symbol ("spot/ticker:BTC_USDT"): both are read
        table = c.as_str(table, "bitmart table").partition(":")[0]
        data = c.as_list(msg.get("data"), "bitmart data")
        if table == self._table:
            book = self._increment if self.sync_rule is SyncRule.CONTIGUOUS else self._full
            return [book(c.as_dict(d, "bitmart depth")) for d in data]
        if table == "spot/trade":
            return [self._trade(c.as_dict(d, "bitmart trade")) for d in data]
        return [Ignored(f"table {c.excerpt(table, 40)}")]

    def _full(self, d: dict) -> BookSnapshot:
        ms = c.as_int(d.get("ms_t"), "bitmart ms_t")
        return BookSnapshot(self.from_venue_symbol(d.get("symbol")), c.levels(d.get("bids"), "bitmart bids"),
                            c.levels(d.get("asks"), "bitmart asks"), ms, c.ms_to_seconds(ms))

    def _increment(self, d: dict) -> Union[BookSnapshot, BookDiff]:
        pair = self.from_venue_symbol(d.get("symbol"))
        kind = d.get("type")
        if kind not in BOOK_TYPES:
            raise ParseError(f"bitmart: depth type {c.excerpt(kind, 20)}")
        version = c.as_int(d.get("version"), "bitmart version")
        bids = c.levels(d.get("bids"), "bitmart bids")
        asks = c.levels(d.get("asks"), "bitmart asks")
        ts = c.ms_to_seconds(d.get("ms_t"), "bitmart ms_t")
        if kind == "snapshot":
            return BookSnapshot(pair, bids, asks, version, ts)
        return BookDiff(pair, bids, asks, version, version, timestamp=ts)

    def _trade(self, d: dict) -> Trade:
        pair = self.from_venue_symbol(d.get("symbol"))
        ms = c.as_int(d.get("ms_t"), "bitmart ms_t")
        return Trade(pair, str(ms), c.as_str(d.get("price"), "bitmart price"),
                     c.as_str(d.get("size"), "bitmart size"), c.trade_side(d.get("side"), SIDES, "bitmart"),
                     c.ms_to_seconds(ms))


MARKET_DATA: dict = {"bitmart": BitmartMarketData()}
