"""Bitrue spot market data (WebSocket, gzip-compressed frames): pure translation, no I/O.

Facts: Bitrue's spot API doc (Bitrue-exchange/Spot-official-api-docs ``README.md`` @36e2d0a,
"Market Data Streams WebSocket (after 2022-09-22)"; coincise has no Bitrue copy):

* Endpoint ``wss://ws.bitrue.com/market/ws``; every server frame is gzip-compressed JSON; one
  connection carries several streams.
* ``{"event": "sub" | "unsub", "params": {"cb_id": "btcusdt", "channel":
  "market_btcusdt_simple_depth_step0"}}``, acknowledged ``{"channel", "cb_id", "event_rep":
  "subed", "status": "ok", "ts"}``.
* The server pings ``{"ping": "<ms>"}`` every 15 s; a pong (any content) is due within a minute.
* ``market_<symbol>_simple_depth_step0``: every push is the whole book, ``{"channel", "ts",
  "tick": {"buys": [[price, qty]], "asks": [...]}}``: SyncRule.SNAPSHOTS, ordered by ``ts``.
  Numbers may come as JSON numbers: their text is kept.
* Public trades are not taken from this feed (Hummingbot's connector subscribes none either).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Sequence, Union

from hbconnect.core.codecs import gunzip
from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import InstrumentTable
from hbconnect.market.messages import BookSnapshot, Ignored, MarketEvent, ParseError, Reply, SyncRule

log = logging.getLogger(__name__)

WS_URL = "wss://ws.bitrue.com/market/ws"
PREFIX, SUFFIX = "market_", "_simple_depth_step0"


class BitrueMarketData(c.TableSymbols, c.MarketDataBase):
    name = "bitrue"
    sync_rule = SyncRule.SNAPSHOTS
    max_pairs_per_connection = 50

    def __init__(self, ws_url: str = WS_URL) -> None:
        self.ws_url = ws_url
        self.instruments = InstrumentTable(self.name)  # BTC-USDT <-> BTCUSDT

    def parse_listing(self, body: Union[str, bytes]) -> list:
        """``GET /api/v1/exchangeInfo``: ``{"symbols": [{"symbol": "BTCUSDT", "baseAsset": "btc",
        "quoteAsset": "usdt", ...}], ...}``; symbols kept upper case, as channels are read."""
        msg = c.as_dict(c.load_json(body), "bitrue exchangeInfo")
        listed = c.listed_instruments(msg.get("symbols"), "bitrue exchangeInfo", "symbol", "baseAsset", "quoteAsset")
        return [replace(ins, symbol=ins.symbol.upper()) for ins in listed]

    def _event(self, event: str, pairs: Sequence[str]) -> list[str]:
        out = []
        for pair in pairs:
            sym = self.to_venue_symbol(pair).lower()
            out.append(c.dumps({"event": event, "params": {"cb_id": sym, "channel": PREFIX + sym + SUFFIX}}))
        return out

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._event("sub", pairs)

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._event("unsub", pairs)

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        msg = c.as_dict(c.load_frame_exact(raw, "bitrue", gunzip), "bitrue frame")
        if "ping" in msg:
            return [Reply(c.dumps({"pong": c.as_int(msg["ping"], "bitrue ping")}))]
        channel = msg.get("channel")
        tick = msg.get("tick")
        if channel is None or tick is None:
            if msg.get("status") not in ("ok", None):
                log.warning("bitrue: %s", c.excerpt(msg, 160))
            return []  # acknowledgements
        channel = c.as_str(channel, "bitrue channel")
        if not (channel.startswith(PREFIX) and channel.endswith(SUFFIX)):
            return [Ignored(f"channel {c.excerpt(channel, 60)}")]
        pair = self.from_venue_symbol(channel[len(PREFIX):-len(SUFFIX)].upper())
        tick = c.as_dict(tick, "bitrue tick")
        ts = msg.get("ts")
        if ts is None:
            raise ParseError("bitrue: depth push without ts")
        return [BookSnapshot(pair, c.levels(tick.get("buys", []), "bitrue buys"),
                             c.levels(tick.get("asks", []), "bitrue asks"),
                             c.as_int(ts, "bitrue ts"), c.ms_to_seconds(ts))]


MARKET_DATA: dict = {"bitrue": BitrueMarketData()}
