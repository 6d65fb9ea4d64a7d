"""AscendEx spot (Pro API v1): pure translation of AscendEx's public market data (no I/O).

Sources: the AscendEx Pro API documentation (https://ascendex.github.io/ascendex-pro-api; its
source ``bitmax-exchange/bitmax-pro-api`` ``source/includes/_ws_req_level2.md``, "WS: Orderbook
Snapshot": the ``depth-snapshot`` request and answer; "subscribe to the depth update stream",
"send a depth-snapshot request", then "field seqnum should strictly increase by 1 for each new
depth update (each symbol maintain its own seqnum)", a larger gap means "repeat above steps");
"WebSocket" -> "Channel: Level 2 Order Book Updates", "Channel: Market Trades", "Request: Depth
Snapshot", REST "Order Book (Depth)", "Products") and AscendEx's own demo
``ascendex/ascendex-pro-api-demo`` ``python/websocket_orderbook_snapshot.py`` (subscribe
``depth:<SYM>`` first, then request ``depth-snapshot``; answer ``ping`` with ``{"op":"pong"}``).

* Book: ``{"op":"sub","ch":"depth:<SYM>,<SYM>..."}`` pushes diffs
  ``{"m":"depth","symbol":..,"data":{"ts","seqnum","asks","bids"}}`` with absolute sizes (size
  "0" removes the level). ``seqnum`` is per symbol and goes up by exactly one per depth message;
  the snapshot (``{"op":"req","action":"depth-snapshot","args":{"symbol":..}}`` ->
  ``{"m":"depth-snapshot",...}``, or REST ``GET /api/pro/v1/depth?symbol=``) carries the
  ``seqnum`` it is current to: diffs at or below it are already in it, the next one is
  ``seqnum + 1``. Hence :attr:`SyncRule.CONTIGUOUS` with the snapshot requested in-band (the
  subscription itself sends none). Verified on cryptofeed's recorded ASCENDEX session (a diff
  ``...119`` received before the snapshot ``...120``, then ``...121``, ``...122``, ...).
* Trades: ``trades:<SYM>`` -> ``{"m":"trades","symbol":..,"data":[{"p","q","ts","bm","seqnum"}]}``;
  ``bm`` true means the buyer is the maker, so the taker sold.
* Keep-alive: the server sends ``{"m":"ping","hp":..}`` and closes idle sessions; the client
  answers ``{"op":"pong"}`` (a :class:`Reply`) and may ping itself with ``{"op":"ping"}``.
* Symbols are ``BASE/QUOTE`` (``BTC/USDT``); the products listing (``GET /api/pro/v1/products``)
  fills the instrument table (``load_symbols``).
"""
from __future__ import annotations

import itertools
import logging
from typing import Any, Optional, Sequence, Union

from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import Instrument, InstrumentTable, concat_symbol
from hbconnect.market.messages import (
    BookDiff, BookSnapshot, DiffFrame, Heartbeat, MarketEvent, ParseError, Reply, RestRequest, SyncRule,
    Trade,
)

logger = logging.getLogger(__name__)

WS_URL = "wss://ascendex.com/api/pro/v1/stream"
REST_URL = "https://ascendex.com"
DEPTH_PATH = "/api/pro/v1/depth"
PRODUCTS_PATH = "/api/pro/v1/products"
PONG = '{"op":"pong"}'
_ids = itertools.count(1)


def _spell(pair: str) -> str:
    return concat_symbol(pair, "/")


class AscendExMarketData(c.TableSymbols, c.MarketDataBase):
    """``MarketDataVenue`` for AscendEx spot (``depth:`` diffs + in-band ``depth-snapshot``)."""

    sync_rule = SyncRule.CONTIGUOUS
    max_pairs_per_connection = 50
    ping_interval = 15.0
    ping_message = '{"op":"ping"}'

    def __init__(self, name: str = "ascend_ex", ws_url: str = WS_URL, rest_url: str = REST_URL) -> None:
        self.name = name
        self.ws_url = ws_url
        self.rest_url = rest_url.rstrip("/")
        self.instruments = InstrumentTable(name, spell=_spell)
        #: ``depth`` diffs, for the tracker's compiled frame path
        self.diff_frame = DiffFrame(
            loads=c.load_json, parse_decoded=self.parse_decoded, symbols=None, envelope="data", event_key=None,
            event=None, symbol_key=None, symbol_path=("symbol",), first_key=None, last_key="seqnum",
            bids_key="bids", asks_key="asks", time_key="ts", match=(("m", "depth"),), check_levels=True,
            int_text=True)


    # ---- symbols ----


    def load_symbols(self, body: Union[str, bytes]) -> int:
        """Learn the instruments of a ``GET /api/pro/v1/products`` body; returns how many."""
        d = c.as_dict(c.load_json(body), "ascend_ex products")
        if d.get("code") != 0:
            raise ParseError(f"ascend_ex products: error body {c.excerpt(d, 80)}")
        out = []
        for item in c.as_list(d.get("data"), "ascend_ex products data"):
            if type(item) is not dict:
                continue
            sym, base, quote = item.get("symbol"), item.get("baseAsset"), item.get("quoteAsset")
            if type(sym) is str and type(base) is str and type(quote) is str and base and quote:
                out.append(Instrument(f"{base}-{quote}", sym, base, quote))
        if not out:
            raise ParseError("ascend_ex products: no instruments")
        self.instruments.load(out)
        return len(out)

    # ---- connection ----

    def _channel_ops(self, op: str, pairs: Sequence[str], trades: bool) -> list[str]:
        syms = ",".join(self.to_venue_symbol(p) for p in pairs)
        out = [c.dumps({"op": op, "id": str(next(_ids)), "ch": "depth:" + syms})]
        if trades:
            out.append(c.dumps({"op": op, "id": str(next(_ids)), "ch": "trades:" + syms}))
        return out

    def _snapshot_reqs(self, pairs: Sequence[str]) -> list[str]:
        return [c.dumps({"op": "req", "action": "depth-snapshot",
                         "args": {"symbol": self.to_venue_symbol(p)}}) for p in pairs]

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        if not pairs:
            return []
        # depth first, then the snapshot: diffs received before it are in it (seqnum), later
        # ones chain on to it
        return self._channel_ops("sub", pairs, True) + self._snapshot_reqs(pairs)

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._channel_ops("unsub", pairs, True) if pairs else []

    def resync_messages(self, pair: str) -> list[str]:
        return self._snapshot_reqs([pair])  # the depth subscription stays; a fresh snapshot joins it

    def snapshot_request(self, pair: str) -> Optional[RestRequest]:
        return None  # in-band (``depth-snapshot``); ``rest_snapshot_request`` for tools

    def rest_snapshot_request(self, pair: str) -> RestRequest:
        return RestRequest(self.rest_url + DEPTH_PATH, {"symbol": self.to_venue_symbol(pair)})

    def parse_snapshot(self, pair: str, body: bytes) -> BookSnapshot:
        """A REST ``/api/pro/v1/depth`` body: ``{"code":0,"data":{"m":"depth-snapshot",...}}``."""
        self.to_venue_symbol(pair)  # the symbol of the pair asked for maps back to it
        d = c.as_dict(c.load_json(body), "ascend_ex depth")
        if d.get("code") != 0:
            raise ParseError(f"ascend_ex depth: error body {c.excerpt(d, 80)}")
        return self.snapshot_for(pair, self._book(c.as_dict(d.get("data"), "data"), snapshot=True),
                                 "ascend_ex depth")

    # ---- frames ----

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        return self.parse_decoded(raw, c.load_json(raw))

    def parse_decoded(self, raw: Union[str, bytes], msg: Any) -> list[MarketEvent]:
        """``parse_message`` of a frame already decoded to ``msg`` (``diff_frame``)."""
        msg = c.as_dict(msg, "ascend_ex frame")
        m = msg.get("m")
        if m == "depth":
            return [self._book(msg, snapshot=False)]
        if m == "depth-snapshot":
            return [self._book(msg, snapshot=True)]
        if m == "trades":
            return self._trades(msg)
        if m == "ping":
            return [Reply(PONG)]
        if m in ("pong", "connected"):
            return [Heartbeat()]
        if m in ("sub", "unsub"):
            if msg.get("code") != 0:
                logger.warning("ascend_ex %s failed: %s", m, c.excerpt(msg, 200))
            return []
        if m == "error":
            return self.venue_error(msg, msg.get("symbol"))
        raise ParseError(f"ascend_ex: unknown frame {c.excerpt(msg, 80)}")


    def _book(self, msg: dict, snapshot: bool) -> Union[BookSnapshot, BookDiff]:
        pair = self.from_venue_symbol(c.as_str(msg.get("symbol"), "symbol"))
        d = c.as_dict(msg.get("data"), "data")
        seq = c.as_int(d.get("seqnum"), "seqnum")
        bids = c.levels(d.get("bids"), "bids")
        asks = c.levels(d.get("asks"), "asks")
        ts = c.ms_to_seconds(d.get("ts"))
        if snapshot:
            return BookSnapshot(pair, bids, asks, seq, ts)
        return BookDiff(pair, bids, asks, seq, seq, None, ts)

    def _trades(self, msg: dict) -> list[MarketEvent]:
        pair = self.from_venue_symbol(c.as_str(msg.get("symbol"), "symbol"))
        out: list[MarketEvent] = []
        for item in c.as_list(msg.get("data"), "data"):
            t = c.as_dict(item, "trade")
            out.append(Trade(pair, str(c.as_int(t.get("seqnum"), "seqnum")), c.as_str(t.get("p"), "p"),
                             c.as_str(t.get("q"), "q"), c.buyer_maker_side(t.get("bm"), "ascend_ex bm"),
                             c.ms_to_seconds(t.get("ts"))))
        return out


MARKET_DATA: dict[str, Any] = {"ascend_ex": AscendExMarketData()}
