"""Bitget v2 spot and USDT-M futures: pure translation of Bitget's public market data (no I/O).

Source: Bitget API v2 docs, "Depth Channel" (https://www.bitget.com/api-doc/spot/websocket/public/Depth-Channel,
the futures page has the same shape with ``instType: USDT-FUTURES``), "Trades Channel" and
"Websocket API" (https://www.bitget.com/api-doc/common/websocket-intro).

* ``books``: all levels; first push ``action: snapshot``, then ``update`` pushes (absolute sizes,
  ``"0"`` deletes). Every push carries ``checksum``: the signed CRC32 of the top 25 levels of the
  local book interleaved ``bid1:size:ask1:size:bid2:...`` in the exact decimal text sent
  ("if price is '0.5000', DO NOT calculate the checksum by '0.5'"), and ``seq``, which
  "increases when the order book is updated and can be used to determine whether there is
  out-of-order packets": it increases with every update, though not stated to step by one, and
  v2 has no previous-id field. So: :attr:`SyncRule.TIMESTAMP` on ``seq`` (the tracker's rule for
  ids that only increase: a push whose ``seq`` is not above the book's is out of order or
  repeated and dropped; no gap detection from ids), and the checksum of every push catches a
  lost or reordered update. CHECKSUM alone would ignore ``seq`` and re-apply old pushes still in
  flight when a resync's fresh snapshot arrives.
* ``trade``: a snapshot of recent trades on subscribe, then updates; ``side`` is the taker side.
* Keep-alive: the text ``"ping"`` every 30 s, answered ``"pong"``.
* Resync: unsubscribe + subscribe ``books`` makes Bitget send a fresh snapshot.
* Limits: "less than 50 channels in one connection" recommended (max 1000); a subscribe request
  at most 4096 bytes; 10 messages per second and 240 subscribe requests per hour per connection.
"""
from __future__ import annotations

from typing import Any, Optional

from hbconnect.core.codecs import json_loads
from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import InstrumentTable
from hbconnect.exchanges._okx_family import OpArgsMarketData  # Bitget v2 speaks OKX's v5 WS protocol
from hbconnect.market.messages import BookDiff, BookSnapshot, DiffFrame, MarketEvent, ParseError, SyncRule

WS_URL = "wss://ws.bitget.com/v2/ws/public"
BOOK_CHANNEL = "books"
TRADE_CHANNEL = "trade"
MAX_REQUEST_BYTES = 4096
#: the v2 product lines (``instType``); v1's "sp"/"mc" pushes are not v2 frames
INST_TYPES = ("SPOT", "USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES")


class BitgetMarketData(c.TableSymbols, OpArgsMarketData):
    """``MarketDataVenue`` for one Bitget v2 product line (``SPOT`` or ``USDT-FUTURES``)."""

    sync_rule = SyncRule.TIMESTAMP  # monotonic ``seq`` + CRC32 on every push
    max_pairs_per_connection = 24  # 48 channels: under the 50 per connection Bitget recommends
    ws_message_rate = 10.0  # messages per second per connection
    ws_subscriptions_per_hour = 240  # subscriptions per hour per connection
    max_depth: Optional[int] = None  # ``books`` is the full depth
    sends_checksum = True
    ping_interval = 25.0  # "set a 30 seconds timer to send string 'ping'"
    book_channel = BOOK_CHANNEL
    trade_channel = TRADE_CHANNEL
    trade_fields = ("tradeId", "price", "size")
    max_request_bytes = MAX_REQUEST_BYTES

    def __init__(self, name: str, inst_type: str, url: str = WS_URL) -> None:
        self.name = name
        self.inst_type = inst_type
        self.ws_url = url
        self.instruments = InstrumentTable(name)  # BTC-USDT <-> BTCUSDT
        #: ``books`` updates, for the tracker's compiled frame path
        self.diff_frame = DiffFrame(
            loads=json_loads, parse_decoded=None, symbols=None, envelope=("data", 0), event_key=None,
            event=None, symbol_key=None, symbol_path=("arg", "instId"), first_key=None, last_key="seq",
            bids_key="bids", asks_key="asks", time_key="ts",
            match=(("action", "update"), (("arg", "channel"), BOOK_CHANNEL), (("arg", "instType"), inst_type)),
            absent=("event",), check_levels=True, int_text=True, checksum_key="checksum",
            checksum_zero_is_none=True, book_checksum=("checksum_bitget", 25))

    # ---- symbols ----

    def parse_listing(self, body: Any) -> list:
        """``GET /api/v2/spot/public/symbols`` (spot) or ``/api/v2/mix/market/contracts``
        (futures): ``{"code": "00000", "data": [{"symbol": "BTCUSDT", "baseCoin": "BTC",
        "quoteCoin": "USDT", ...}]}`` (Bitget v2 docs, "Get Symbol Info" / "Get Contract Config")."""
        msg = c.as_dict(c.load_json(body), "bitget symbols")
        if msg.get("code") != "00000":
            raise ParseError("bitget symbols: not a successful listing")
        return c.listed_instruments(msg.get("data"), "bitget symbols", "symbol", "baseCoin", "quoteCoin")

    # ---- connection ----

    def _arg(self, channel: str, pair: str) -> dict:
        return {"instType": self.inst_type, "channel": channel, "instId": self.to_venue_symbol(pair)}

    def _foreign(self, arg: dict) -> bool:
        inst_type = arg.get("instType")  # a push of another v2 product line sharing the socket
        return inst_type in INST_TYPES and inst_type != self.inst_type

    def checksum(self, book: Any) -> int:
        return book.checksum_bitget(25)  # the book core's CRC32 over the venue's exact text

    # ---- frames ----

    def _book(self, msg: dict, arg: dict) -> list[MarketEvent]:
        pair = self.from_venue_symbol(c.as_str(arg.get("instId"), "instId"))
        data = c.as_list(msg.get("data"), "data")
        if len(data) != 1:
            raise ParseError(f"{self.name}: books push must carry one entry, got {len(data)}")
        d = c.as_dict(data[0], "data[0]")
        bids = c.levels(d.get("bids"), "bids")
        asks = c.levels(d.get("asks"), "asks")
        ts = c.ms_to_seconds(d.get("ts"))
        cks = d.get("checksum")
        checksum = c.as_int(cks, "checksum") if cks is not None else 0
        # 0 is taken as "not sent" (the doc's own example carries 0); a real CRC32 of 0: 2**-32
        checksum_or_none = checksum if checksum != 0 else None
        seq = c.as_int(d.get("seq"), "seq")  # required: without it every update would look stale
        action = msg.get("action")
        if action == "snapshot":
            return [BookSnapshot(pair, bids, asks, seq, ts, checksum_or_none)]
        if action == "update":
            return [BookDiff(pair, bids, asks, seq, seq, None, ts, checksum_or_none)]
        raise ParseError(f"{self.name}: unknown books action {c.excerpt(action, 60)}")



MARKET_DATA: dict[str, BitgetMarketData] = {
    "bitget": BitgetMarketData("bitget", "SPOT"),
    "bitget_perpetual": BitgetMarketData("bitget_perpetual", "USDT-FUTURES"),
}
