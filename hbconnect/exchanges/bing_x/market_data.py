"""BingX spot market data (WebSocket, gzip-compressed frames): pure translation, no I/O.

Facts: BingX's spot WebSocket doc (BingX-API/BingX-spot-api-doc ``WebSocket API.md`` @b5a2de2,
2023-08) unless noted; coincise ``docs/bingx/change_log.md`` for the later changes.

* Endpoint ``wss://open-api-ws.bingx.com/market``; every server frame is gzip-compressed JSON.
* Subscribe ``{"id": ..., "dataType": "BTC-USDT@depth100"}`` (acknowledged ``{"id", "code": 0,
  "msg": ""}``), unsubscribe ``{"id", "reqType": "unsub", "dataType"}``; symbols with a dash.
  A connection may hold at most 200 dataTypes, an IP at most 60 connections (change log
  2024-08-08).
* The server pings every 5 seconds and the client "should return Pong": the ping
  ``{"ping": <id>, "time": <text>}`` is answered ``{"pong": <id>, "time": <text>}``.
* ``<SYMBOL>@depth<level>`` (``@depth``, ``@depth20``, ``@depth100``; 5/10/20/50/100 levels
  since 2023-11-22): every push is the whole top-N book ``{"dataType", "data": {"bids": [[price,
  qty]], "asks": [...]}}``; spot has no incremental depth (the "Incremental Depth Push" is for
  perpetuals, change log): SyncRule.SNAPSHOTS.
* ``<SYMBOL>@trade``: ``data`` ``{"e", "E", "s", "t" (trade id), "p", "q", "T" (ms), "m" (the
  buyer is the maker)}``.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence, Union

from hbconnect.core.codecs import gunzip
from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import InstrumentTable, concat_symbol
from hbconnect.market.messages import (BookSnapshot, DiffFrame, Ignored, MarketEvent, ParseError, Reply, SyncRule,
                                       Trade)

log = logging.getLogger(__name__)

WS_URL = "wss://open-api-ws.bingx.com/market"
DEPTHS = (5, 10, 20, 50, 100)
DATATYPES_PER_CONNECTION = 200


def spell(pair: str) -> str:
    return concat_symbol(pair, "-")  # the venue writes BTC-USDT


def _loads(raw: Union[str, bytes]) -> Any:
    return c.load_frame_exact(raw, "bingx", gunzip)


class BingXMarketData(c.TableSymbols, c.MarketDataBase):
    name = "bing_x"
    sync_rule = SyncRule.SNAPSHOTS
    max_pairs_per_connection = DATATYPES_PER_CONNECTION // 2

    def __init__(self, depth: int = 100, ws_url: str = WS_URL) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"bingx spot depth levels: {DEPTHS}, got {depth}")
        self.depth = depth
        self.max_depth = depth
        #: the whole-book pushes (no id: arrival order), for the tracker's compiled frame path
        self.diff_frame = DiffFrame(
            loads=_loads, parse_decoded=self.parse_decoded, symbols=None, envelope="data", event_key=None, event=None,
            symbol_key=None, symbol_path=("dataType",), symbol_suffix=f"@depth{depth}", first_key=None, last_key=None,
            bids_key="bids", asks_key="asks", absent=("ping",), check_levels=True, inflate=gunzip, snapshot=True)
        self.ws_url = ws_url
        self.instruments = InstrumentTable(self.name, spell)

    def parse_listing(self, body: Union[str, bytes]) -> list:
        """``GET /openApi/spot/v1/common/symbols`` ("Spot trading symbols", coincise @779636ff
        ``docs/bingx/spot/public_rest_api.md``): ``{"code": 0, "data": {"symbols": [{"symbol":
        "BTC-USDT", ...}]}}`` (symbols written BASE-QUOTE)."""
        msg = c.as_dict(c.load_json(body), "bingx symbols")
        if msg.get("code") != 0:
            raise ParseError(f"bingx symbols: not a successful listing (code {c.excerpt(msg.get('code'), 20)})")
        data = c.as_dict(msg.get("data"), "bingx symbols data")
        return c.listed_instruments(data.get("symbols"), "bingx symbols", "symbol", sep="-")

    def _req(self, kind: str, pairs: Sequence[str]) -> list[str]:
        out = []
        for pair in pairs:
            symbol = self.to_venue_symbol(pair)
            for data_type in (f"{symbol}@depth{self.depth}", f"{symbol}@trade"):
                req = {"id": f"{kind}:{data_type}", "dataType": data_type}
                if kind == "unsub":
                    req = {"id": req["id"], "reqType": kind, "dataType": data_type}
                out.append(c.dumps(req))
        return out

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._req("sub", pairs)

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._req("unsub", pairs)

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        return self.parse_decoded(raw, _loads(raw))

    def parse_decoded(self, raw: Union[str, bytes], msg: Any) -> list[MarketEvent]:
        """``parse_message`` of a frame already decoded to ``msg`` (``diff_frame``)."""
        msg = c.as_dict(msg, "bingx frame")
        if "ping" in msg:
            return [Reply(c.dumps({"pong": msg["ping"], "time": msg.get("time")}))]
        data_type = msg.get("dataType")
        data = msg.get("data")
        if not data_type or data is None:
            code = msg.get("code")
            if code not in (0, "0", None):
                log.warning("bingx error %s: %s", c.excerpt(code, 20), c.excerpt(msg.get("msg"), 160))
            return []  # acknowledgements
        symbol, at, kind = c.as_str(data_type, "bingx dataType").partition("@")
        if not at:
            raise ParseError(f"bingx: bad dataType {c.excerpt(data_type, 40)}")
        pair = self.from_venue_symbol(symbol)
        data = c.as_dict(data, "bingx data")
        if kind == f"depth{self.depth}":
            # the documented push carries no id or time: pushes are taken in arrival order
            return [BookSnapshot(pair, c.levels(data.get("bids"), "bingx bids"),
                                 c.levels(data.get("asks"), "bingx asks"), 0)]
        if kind == "trade":
            maker = data.get("m")
            if type(maker) is not bool:
                raise ParseError(f"bingx: trade without buyer-is-maker flag: {c.excerpt(data, 60)}")
            return [Trade(pair, c.as_str(data.get("t"), "bingx trade id"), c.as_str(data.get("p"), "bingx price"),
                          c.as_str(data.get("q"), "bingx qty"), "sell" if maker else "buy",
                          c.ms_to_seconds(data.get("T")))]
        return [Ignored(f"dataType {c.excerpt(data_type, 40)}")]


MARKET_DATA: dict = {"bing_x": BingXMarketData()}
