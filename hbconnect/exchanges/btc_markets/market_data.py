"""BTC Markets spot, WebSocket v2: pure translation of BTC Markets' public market data (no I/O).

Sources: BTC Markets "WebSocket v2" (the venue's GitHub wiki, https://github.com/BTCMarkets/API/wiki/WebSocket-v2,
which points on to https://docs.btcmarkets.net: endpoint ``wss://socket.btcmarkets.net/v2``;
``{"marketIds", "channels", "messageType": "subscribe"}`` with ``addSubscription`` /
``removeSubscription`` to change a part; every frame carries ``messageType``; ``heartbeat``
every 5 s; errors ``{"messageType":"error","code","message"}``; "New connections to the
WebSocket feed are rate limited to 3 attempts per 10 seconds per IP"), the official SDK
``BTCMarkets/btcmarkets-node-sdk`` ``src/types/WebSocket.ts`` (``orderbookUpdate`` data:
``marketId, timestamp, snapshotId, bids, asks``; ``trade``: ``tradeId, price, volume, side``),
and the book checksum reference of ``ngin-io`` that the wiki lists as sample code.

* ``orderbookUpdate``: the first frame per market has ``"snapshot": true`` and the whole book;
  every later frame is one changed level ``[price, volume, count]`` (absolute volume, "0"
  deletes) with a ``checksum``: CRC32 (decimal text) of the best 10 bids high to low then the
  best 10 asks low to high, each price and volume with the '.' and leading zeros removed,
  concatenated. There is no sequence number: ``snapshotId`` (a microsecond clock) only
  increases, deltas stamped before the snapshot are already in it, and the checksum is the gap
  detector. Hence :attr:`SyncRule.TIMESTAMP` plus the checksum on every delta; the snapshot's
  id is taken as ``snapshotId - 1`` so that a delta stamped with the snapshot's own id still
  applies.
* ``addSubscription`` for a market already subscribed sends a fresh snapshot without doubling
  the deltas: that is the resync. A plain ``subscribe`` replaces every earlier subscription of
  the socket, so this module only ever adds and removes.
* ``trade``: ``side`` is the taker's order side (``Bid`` buy, ``Ask`` sell).
"""
from __future__ import annotations

from typing import Any, Sequence, Union

from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import InstrumentTable, concat_symbol
from hbconnect.market.messages import (
    BookDiff, BookSnapshot, DiffFrame, Heartbeat, MarketEvent, ParseError, RestRequest, SyncRule, Trade,
)

WS_URL = "wss://socket.btcmarkets.net/v2"
REST_URL = "https://api.btcmarkets.net"
_SIDES = {"Bid": "buy", "Ask": "sell"}


def _spell(pair: str) -> str:
    return concat_symbol(pair, "-")


def checksum(book: Any) -> int:
    """BTC Markets' CRC32: best 10 bids then best 10 asks, '.' and leading zeros removed."""
    return book.checksum(depth=10, layout="bids_asks", sep="", transform="kraken")


class BtcMarketsMarketData(c.TableSymbols, c.MarketDataBase):
    """``MarketDataVenue`` for BTC Markets spot (``orderbookUpdate`` + checksum)."""

    sync_rule = SyncRule.TIMESTAMP
    sends_checksum = True
    max_pairs_per_connection = 50
    #: "3 attempts per 10 seconds per IP"
    ws_connect_rate = 0.3
    #: the server's heartbeat channel proves liveness; no application ping exists
    ping_interval = None

    def __init__(self, name: str = "btc_markets", ws_url: str = WS_URL, rest_url: str = REST_URL) -> None:
        self.name = name
        self.ws_url = ws_url
        self.rest_url = rest_url.rstrip("/")
        self.instruments = InstrumentTable(name, spell=_spell)
        #: ``orderbookUpdate`` deltas (``snapshotId``, RFC 3339 ``timestamp``, the CRC32 of the
        #: book after them), for the tracker's compiled frame path
        self.diff_frame = DiffFrame(
            loads=c.load_json, parse_decoded=self.parse_decoded, symbols=None, envelope=None, event_key=None,
            event=None, symbol_key="marketId", first_key=None, last_key="snapshotId", bids_key="bids",
            asks_key="asks", time_key="timestamp", time_parse=c.iso_to_seconds,
            match=(("messageType", "orderbookUpdate"),), absent=("snapshot",), check_levels=True, level_width=3,
            int_text=True, checksum_key="checksum", checksum_u32=True,
            book_checksum=("checksum", 10, "bids_asks", "", "kraken"))

    def checksum(self, book: Any) -> int:
        return checksum(book)

    # ---- connection ----

    def _msg(self, kind: str, pairs: Sequence[str], channels: list[str]) -> list[str]:
        if not pairs:
            return []
        return [c.dumps({"marketIds": [self.to_venue_symbol(p) for p in pairs], "channels": channels,
                         "messageType": kind})]

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._msg("addSubscription", pairs, ["orderbookUpdate", "trade", "heartbeat"])

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._msg("removeSubscription", pairs, ["orderbookUpdate", "trade"])

    def resync_messages(self, pair: str) -> list[str]:
        return self._msg("addSubscription", [pair], ["orderbookUpdate"])

    def rest_snapshot_request(self, pair: str) -> RestRequest:
        return RestRequest(f"{self.rest_url}/v3/markets/{self.to_venue_symbol(pair)}/orderbook", {"level": "2"})

    def parse_snapshot(self, pair: str, body: bytes) -> BookSnapshot:
        """A REST ``/v3/markets/{id}/orderbook?level=2`` body (``snapshotId, bids, asks``)."""
        self.to_venue_symbol(pair)  # the symbol of the pair asked for maps back to it
        snap = self._book(c.as_dict(c.load_json(body), "btc_markets orderbook"))
        return self.snapshot_for(pair, snap, "btc_markets orderbook")

    # ---- frames ----

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        return self.parse_decoded(raw, c.load_json(raw))

    def parse_decoded(self, raw: Union[str, bytes], msg: Any) -> list[MarketEvent]:
        """``parse_message`` of a frame already decoded to ``msg`` (``diff_frame``)."""
        msg = c.as_dict(msg, "btc_markets frame")
        kind = msg.get("messageType")
        if kind == "orderbookUpdate":
            return [self._book(msg)]
        if kind == "trade":
            return [self._trade(msg)]
        if kind == "heartbeat":
            return [Heartbeat()]
        if kind == "error":
            return self.venue_error(msg, None)
        if kind in ("tick", "orderbook"):
            return []  # not subscribed by this module
        raise ParseError(f"btc_markets: unknown frame {c.excerpt(msg, 80)}")

    def _book(self, msg: dict) -> Union[BookSnapshot, BookDiff]:
        pair = self.from_venue_symbol(c.as_str(msg.get("marketId"), "marketId"))
        sid = c.as_int(msg.get("snapshotId"), "snapshotId")
        bids = c.levels(msg.get("bids"), "bids")
        asks = c.levels(msg.get("asks"), "asks")
        ts = c.iso_to_seconds(msg.get("timestamp")) if "timestamp" in msg else 0.0
        if msg.get("snapshot") is True or "checksum" not in msg:
            return BookSnapshot(pair, bids, asks, sid - 1, ts)
        cs = c.as_int(msg.get("checksum"), "checksum")
        if not 0 <= cs < 1 << 32:
            raise ParseError(f"btc_markets: checksum out of range {c.excerpt(cs, 30)}")
        return BookDiff(pair, bids, asks, sid, sid, None, ts, checksum=cs)

    def _trade(self, msg: dict) -> Trade:
        return Trade(self.from_venue_symbol(c.as_str(msg.get("marketId"), "marketId")),
                     str(c.as_int(msg.get("tradeId"), "tradeId")), c.as_str(msg.get("price"), "price"),
                     c.as_str(msg.get("volume"), "volume"), c.trade_side(msg.get("side"), _SIDES, "btc_markets"),
                     c.iso_to_seconds(msg.get("timestamp")))


MARKET_DATA: dict[str, Any] = {"btc_markets": BtcMarketsMarketData()}
