"""Bitrue spot market data (WebSocket, gzip-compressed frames): pure translation, no I/O.

Facts, from Bitrue's official docs (github.com/Bitrue-exchange/Spot-official-api-docs; coincise
has no Bitrue copy):

* ``README.md`` @36e2d0a, "Market Data Streams WebSocket (after 2022-09-22)":

  * Endpoint ``wss://ws.bitrue.com/market/ws``; every server frame is gzip-compressed JSON; one
    connection carries several streams.
  * ``{"event": "sub" | "unsub", "params": {"cb_id": "btcusdt", "channel":
    "market_btcusdt_simple_depth_step0"}}``, acknowledged ``{"channel", "cb_id", "event_rep":
    "subed", "status": "ok", "ts"}``.
  * The server pings ``{"ping": "<ms>"}`` every 15 s; a pong (any content) is due within a minute.
  * ``market_<symbol>_simple_depth_step0``: every push is the whole book, ``{"channel", "ts",
    "tick": {"buys": [[price, qty]], "asks": [...]}}``: SyncRule.SNAPSHOTS, ordered by ``ts``.
    Numbers may come as JSON numbers: their text is kept.

* ``websocket-api.zh-CN.md`` @6dd61b7 (2021-05-21; the only official page describing the trade
  stream, removed from the repository in 3918c1e, 2021-11-15; it was written for the older
  ``wss://ws.bitrue.com/kline-api/ws`` endpoint, whose sub/unsub/ping protocol the 2022 page
  kept), "订阅成交信息":

  * ``{"event": "sub", "params": {"cb_id": "adabtc", "channel": "market_adabtc_trade_ticker"}}``
    (unsub the same with ``"event": "unsub"``);
  * push ``{"channel": "market_ltcbtc_trade_ticker", "tick": {"data": [{"id" (trade id),
    "price", "amount" (成交金额: the quote amount), "side": "BUY" | "SELL" (方向), "vol"
    (数量: the base quantity), "ts" (ms), "ds"}, ...]}, "ts"}``, newest first, numbers as JSON
    numbers (their text is kept). The trades are handed on oldest first.

  The 2022 page documents only the depth channel on ``/market/ws``: should the venue refuse the
  trade subscription there, its error reply is logged and the book is unaffected
  (``trades=False`` subscribes the book alone).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Sequence, Union

from hbconnect.core.codecs import gunzip
from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import InstrumentTable
from hbconnect.market.messages import (BookSnapshot, DiffFrame, Ignored, MarketEvent, ParseError, Reply, SyncRule,
                                       Trade)

log = logging.getLogger(__name__)

WS_URL = "wss://ws.bitrue.com/market/ws"
PREFIX, SUFFIX = "market_", "_simple_depth_step0"
TRADE_SUFFIX = "_trade_ticker"
SIDES = {"BUY": "buy", "SELL": "sell"}


def _loads(raw: Union[str, bytes]) -> object:
    return c.load_frame_exact(raw, "bitrue", gunzip)


class BitrueMarketData(c.TableSymbols, c.MarketDataBase):
    name = "bitrue"
    sync_rule = SyncRule.SNAPSHOTS
    max_pairs_per_connection = 50

    def __init__(self, ws_url: str = WS_URL, trades: bool = True) -> None:
        self.ws_url = ws_url
        self.trades = trades
        self.instruments = InstrumentTable(self.name)  # BTC-USDT <-> BTCUSDT
        #: the whole-book pushes (``ts`` orders them), for the tracker's compiled frame path
        self.diff_frame = DiffFrame(
            loads=_loads, parse_decoded=self.parse_decoded, symbols=None, envelope=None, event_key=None, event=None,
            symbol_key=None, symbol_path=("channel",), symbol_prefix=PREFIX, symbol_suffix=SUFFIX, symbol_upper=True,
            first_key=None, last_key="ts", bids_key="buys", asks_key="asks", levels_key="tick", time_key="ts",
            time_required=True, absent=("ping",), check_levels=True, int_text=True, missing_side_empty=True,
            inflate=gunzip, snapshot=True, level_numbers=True)  # numbers or strings: their text either way

    def parse_listing(self, body: Union[str, bytes]) -> list:
        """``GET /api/v1/exchangeInfo`` (README "Exchange information"): ``{"symbols": [{"symbol":
        "ETHBTC", "baseAsset": "ETH", "quoteAsset": "BTC", ...}], ...}``; symbols kept upper case
        (channels are written lower case and read back upper case)."""
        msg = c.as_dict(c.load_json(body), "bitrue exchangeInfo")
        listed = c.listed_instruments(msg.get("symbols"), "bitrue exchangeInfo", "symbol", "baseAsset", "quoteAsset")
        return [replace(ins, symbol=ins.symbol.upper()) for ins in listed]

    def _event(self, event: str, pairs: Sequence[str]) -> list[str]:
        suffixes = (SUFFIX, TRADE_SUFFIX) if self.trades else (SUFFIX,)
        out = []
        for pair in pairs:
            sym = self.to_venue_symbol(pair).lower()
            for suffix in suffixes:
                out.append(c.dumps({"event": event, "params": {"cb_id": sym, "channel": PREFIX + sym + suffix}}))
        return out

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._event("sub", pairs)

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._event("unsub", pairs)

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        return self.parse_decoded(raw, _loads(raw))

    def parse_decoded(self, raw: Union[str, bytes], msg: object) -> list[MarketEvent]:
        """``parse_message`` of a frame already decoded to ``msg`` (``diff_frame``)."""
        msg = c.as_dict(msg, "bitrue frame")
        if "ping" in msg:
            return [Reply(c.dumps({"pong": c.as_int(msg["ping"], "bitrue ping")}))]
        channel = msg.get("channel")
        tick = msg.get("tick")
        if channel is None or tick is None:
            if msg.get("status") not in ("ok", None):
                log.warning("bitrue: %s", c.excerpt(msg, 160))
            return []  # acknowledgements
        channel = c.as_str(channel, "bitrue channel")
        if not channel.startswith(PREFIX):
            return [Ignored(f"channel {c.excerpt(channel, 60)}")]
        tick = c.as_dict(tick, "bitrue tick")
        if channel.endswith(TRADE_SUFFIX):
            pair = self.from_venue_symbol(channel[len(PREFIX):-len(TRADE_SUFFIX)].upper())
            return self._trades(pair, tick)
        if not channel.endswith(SUFFIX):
            return [Ignored(f"channel {c.excerpt(channel, 60)}")]
        pair = self.from_venue_symbol(channel[len(PREFIX):-len(SUFFIX)].upper())
        ts = msg.get("ts")
        if ts is None:
            raise ParseError("bitrue: depth push without ts")
        return [BookSnapshot(pair, c.levels(tick.get("buys", []), "bitrue buys"),
                             c.levels(tick.get("asks", []), "bitrue asks"),
                             c.as_int(ts, "bitrue ts"), c.ms_to_seconds(ts))]

    @staticmethod
    def _trades(pair: str, tick: dict) -> list[MarketEvent]:
        out = []
        for d in c.as_list(tick.get("data"), "bitrue trades"):
            d = c.as_dict(d, "bitrue trade")
            tid = c.as_int(d.get("id"), "bitrue trade id")
            out.append((tid, Trade(pair, str(tid), c.as_str(d.get("price"), "bitrue trade price"),
                                   c.as_str(d.get("vol"), "bitrue trade vol"),
                                   c.trade_side(d.get("side"), SIDES, "bitrue"),
                                   c.ms_to_seconds(d.get("ts"), "bitrue trade ts"))))
        out.sort(key=lambda t: t[0])  # sent newest first: the newest must come last
        return [t for _, t in out]


MARKET_DATA: dict = {"bitrue": BitrueMarketData()}
