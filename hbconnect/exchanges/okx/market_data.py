"""OKX v5 spot and perpetual swap: pure translation of OKX's public market data (no I/O).

Source: OKX API v5 docs, "WS / Order book channel" and "WS / Trades channel"
(https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel).

* ``books``: a 400-level snapshot in band (``action: snapshot``, ``prevSeqId = -1``), then
  ``update`` pushes every 100 ms. "The prevSeqId in the new message matches with seqId of the
  previous message": :attr:`SyncRule.PREV_CHAIN`. The two documented exceptions fit that rule
  as they are: an idle keep-alive has empty sides and ``seqId == prevSeqId`` (== the last seqId),
  and after maintenance ``seqId`` may restart *lower* than ``prevSeqId`` while ``prevSeqId`` still
  names the last seqId; so no monotonicity is assumed, only the chain.
* ``checksum``: CRC32 (signed) of the top 25 levels interleaved ``bidPx:bidSz:askPx:askSz``.
  OKX fixed it to ``0`` in production on 2026-06-23 (seqId/prevSeqId replace it), so ``0`` means
  "not sent"; older recordings carry a real value and it is verified. Pushes from before
  seqId/prevSeqId existed get ids from their ``ts`` chained push to push (see ``_legacy_ids``):
  integrity then rests on the checksum alone.
* ``trades``: one push per taker order, price and source; ``side`` is the taker side.
* Keep-alive: the text ``"ping"``, answered ``"pong"``; the server closes an idle connection
  after 30 s.
* Resync: unsubscribe + subscribe ``books`` makes OKX send a fresh snapshot.
* Symbols: an ``instId`` maps back to a pair through the instrument table only (the listing
  ``GET /api/v5/public/instruments?instType=SPOT|SWAP``, ``load_symbols``, or the ``instId`` of a
  pair asked for); any other one is an ``UnknownSymbol`` (a ``ParseError``), never split on "-".
* Limits: fewer than 30 ``books``-type channels per connection is recommended; the channels of
  one subscribe request must stay under 64 KB; 480 (un)subscribe requests per connection and hour.

The request/ack/push/keep-alive protocol itself, which Bitget v2 follows as well, is
:class:`hbconnect.exchanges._okx_family.OpArgsMarketData`.
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Union

from hbconnect.core.codecs import json_loads
from hbconnect.exchanges import _common as c
from hbconnect.exchanges._okx_family import OpArgsMarketData
from hbconnect.exchanges.okx.instruments import new_table, parse_instruments
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    DiffFrame,
    MarketEvent,
    ParseError,
    Reconnect,
    SyncRule,
)

logger = logging.getLogger(__name__)

WS_URL = "wss://ws.okx.com:8443/ws/v5/public"
BOOK_CHANNEL = "books"
TRADE_CHANNEL = "trades"
BOOK_DEPTH = 400
MAX_REQUEST_BYTES = 64 * 1024


class OkxMarketData(c.TableSymbols, OpArgsMarketData):
    """``MarketDataVenue`` for one OKX instrument type (``SPOT`` or ``SWAP``)."""

    sync_rule = SyncRule.PREV_CHAIN
    #: "If you need to subscribe to many 50 or 400 depth level channels, it is recommended to
    #: subscribe through multiple websocket connections, with each of less than 30 channels."
    max_pairs_per_connection = 29
    ws_subscriptions_per_hour = 480  # (un)subscribe requests per hour per connection
    ws_connect_rate = 3.0  # new connections per second per IP
    max_depth: Optional[int] = BOOK_DEPTH
    sends_checksum = True  # older streams (recordings); 0 since 2026-06-23, then not verified
    ping_interval = 20.0  # the server closes a connection silent for 30 s
    book_channel = BOOK_CHANNEL
    trade_channel = TRADE_CHANNEL
    trade_fields = ("tradeId", "px", "sz")
    max_request_bytes = MAX_REQUEST_BYTES

    def __init__(self, name: str, inst_suffix: str, url: str = WS_URL) -> None:
        self.name = name
        self._suffix = inst_suffix  # "" for spot, "-SWAP" for perpetual swaps
        self.ws_url = url
        self._legacy_last: dict[str, int] = {}  # pair -> ts of its last push (legacy streams)
        self.inst_type = "SWAP" if inst_suffix else "SPOT"
        self.instruments = new_table(name, self.inst_type)
        #: ``books`` updates with seqId/prevSeqId, for the tracker's compiled frame path (legacy
        #: pushes without seqId take the general path: their ids are chained here, per pair)
        self.diff_frame = DiffFrame(
            loads=json_loads, parse_decoded=None, symbols=None, envelope=("data", 0), event_key=None,
            event=None, symbol_key=None, symbol_path=("arg", "instId"), first_key=None, last_key="seqId",
            prev_key="prevSeqId", bids_key="bids", asks_key="asks", time_key="ts",
            match=(("action", "update"), (("arg", "channel"), BOOK_CHANNEL)), absent=("event",),
            check_levels=True, level_width=4, int_text=True, checksum_key="checksum",
            checksum_zero_is_none=True, book_checksum=("checksum_okx", 25))

    # ---- symbols ----

    def parse_listing(self, body: Union[str, bytes]) -> list:
        """The live instruments of ``GET /api/v5/public/instruments`` for this object's
        ``instType`` (``{"code": "0", "data": [{"instId", "instType", "baseCcy", ...}]}``)."""
        msg = c.as_dict(c.load_json(body), f"{self.name} instruments")
        if msg.get("code") != "0":
            raise ParseError(f"{self.name} instruments: error body (code {c.excerpt(msg.get('code'), 20)})")
        listed = parse_instruments(c.as_list(msg.get("data"), f"{self.name} instruments"), self.inst_type)
        if not listed:
            raise ParseError(f"{self.name} instruments: no live {self.inst_type} instrument listed")
        return listed

    # ---- connection ----

    def _arg(self, channel: str, pair: str) -> dict:
        return {"channel": channel, "instId": self.to_venue_symbol(pair)}

    def _foreign(self, arg: dict) -> bool:
        # instIds: spot BTC-USDT, swap BTC-USD-SWAP, futures BTC-USD-220527, option
        # BTC-USD-220527-30000-C; a well-formed one of another type than ours is foreign
        inst = arg.get("instId")
        if type(inst) is not str:
            return False
        parts = inst.split("-")
        if len(parts) < 2 or not all(p.isalnum() for p in parts):
            return False  # not an instId at all: bad, not foreign
        if self._suffix:
            return not inst.endswith(self._suffix)
        return len(parts) > 2

    def checksum(self, book: Any) -> int:
        return book.checksum_okx(25)  # the book core's CRC32 over the venue's exact text

    # ---- frames ----

    def _other_event(self, msg: dict) -> list[MarketEvent]:
        event = msg["event"]
        if event == "channel-conn-count":
            return []
        if event == "notice":
            # e.g. 64008: "The connection will soon be closed for a service upgrade."
            reason = f"{c.excerpt(msg.get('code'), 40)}: {c.excerpt(msg.get('msg'), 200)}"
            return [Reconnect(reason=reason)]
        return super()._other_event(msg)

    def _book(self, msg: dict, arg: dict) -> list[MarketEvent]:
        pair = self.from_venue_symbol(c.as_str(arg.get("instId"), "instId"))
        action = msg.get("action")
        data = c.as_list(msg.get("data"), "data")
        if len(data) != 1:
            raise ParseError(f"{self.name}: books push must carry one entry, got {len(data)}")
        d = c.as_dict(data[0], "data[0]")
        bids = c.levels(d.get("bids"), "bids")
        asks = c.levels(d.get("asks"), "asks")
        ts = c.ms_to_seconds(d.get("ts"))
        cks = d.get("checksum")
        checksum = c.as_int(cks, "checksum") if cks is not None else 0
        checksum_or_none = checksum if checksum != 0 else None  # 0: deprecated, not sent
        seq = d.get("seqId")
        seq_id = c.as_int(seq, "seqId") if seq is not None else None
        if action == "snapshot":
            uid = seq_id if seq_id is not None else self._legacy_ids(pair, d.get("ts"), True)[1]
            return [BookSnapshot(pair, bids, asks, uid, ts, checksum_or_none)]
        if action == "update":
            if seq_id is None:  # legacy stream: see _legacy_ids
                prev, last = self._legacy_ids(pair, d.get("ts"))
                return [BookDiff(pair, bids, asks, last, last, prev, ts, checksum_or_none)]
            prev = c.as_int(d.get("prevSeqId"), "prevSeqId")
            return [BookDiff(pair, bids, asks, seq_id, seq_id, prev, ts, checksum_or_none)]
        raise ParseError(f"{self.name}: unknown books action {c.excerpt(action, 60)}")

    def _legacy_ids(self, pair: str, ts: Any, snapshot: bool = False) -> tuple[int, int]:
        """Ids for pushes without seqId (streams before 2026): the push's ``ts`` (ms), chained to
        the ``ts`` of the previous push of the pair on this stream. The stream itself then proves
        nothing (the checksum does), but diffs still in flight when a resync's snapshot arrives
        are older than it and dropped as stale instead of being replayed over it."""
        last = c.as_int(ts, "ts")
        prev = -1 if snapshot else self._legacy_last.get(pair, last)
        self._legacy_last[pair] = last
        return prev, last



MARKET_DATA: dict[str, OkxMarketData] = {
    "okx": OkxMarketData("okx", ""),
    "okx_perpetual": OkxMarketData("okx_perpetual", "-SWAP"),
}
