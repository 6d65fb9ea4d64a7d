"""BitMart spot market data (WebSocket, deflate-compressed frames): pure translation, no I/O.

Facts (BitMart spot API, developer-pro.bitmart.com/en/spot; scraped copies in coincise
``docs/bitmart/``):

* Public endpoint ``wss://ws-manager-compress.bitmart.com/api?protocol=1.1``
  (``change_log.md``, 2022-01-18). Market data comes in binary frames compressed with raw
  deflate (zlib, no header: ``-MAX_WBITS``) (``data_compression.md``); other frames are text.
* ``{"op": "subscribe" | "unsubscribe", "args": ["spot/depth50:BTC_USDT", ...]}``, acknowledged
  ``{"event": "subscribe", "topic": ...}``; errors ``{"errorCode", "errorMessage", "event"}``.
  Keep-alive: send the text ``ping`` when nothing arrived for N < 20 s; the server answers
  ``pong`` (``endpoints/public/GET_stay_connected_and_limit.md``).
* ``spot/depth50`` / ``spot/depth100``: full 50/100-level books on every push, ``{"table":
  "spot/depth50", "data": [{"asks": [[price, size]], "bids": [...], "symbol", "ms_t"}]}``
  (``change_log.md`` 2021-11-06; the catalog's Hummingbot connector uses ``spot/depth50``):
  SyncRule.SNAPSHOTS, ordered by ``ms_t``.
* ``spot/trade``: ``{"table": "spot/trade", "data": [{"symbol", "price", "side" (taker), "size",
  "s_t", "ms_t"}]}`` (``endpoints/private/GET_public_trade_channel.md``); no trade id is sent, so
  the trade's ``ms_t`` stands for it.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence, Union

from hbconnect.core.codecs import inflate_raw
from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import InstrumentTable, concat_symbol
from hbconnect.market.messages import BookSnapshot, Heartbeat, Ignored, MarketEvent, ParseError, SyncRule, Trade

log = logging.getLogger(__name__)

WS_URL = "wss://ws-manager-compress.bitmart.com/api?protocol=1.1"
DEPTHS = (50, 100)
ARGS_PER_MESSAGE = 20  # our own batching (the stored docs give no per-request limit)
SIDES = {"buy": "buy", "sell": "sell"}


def spell(pair: str) -> str:
    return concat_symbol(pair, "_")  # BTC-USDT -> BTC_USDT


class BitmartMarketData(c.TableSymbols, c.MarketDataBase):
    name = "bitmart"
    sync_rule = SyncRule.SNAPSHOTS
    max_pairs_per_connection = 50
    ping_interval = 15.0
    ping_message = "ping"

    def __init__(self, depth: int = 50, ws_url: str = WS_URL) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"bitmart spot depth channels: {DEPTHS}, got {depth}")
        self.depth = depth
        self.max_depth = depth
        self.ws_url = ws_url
        self._table = f"spot/depth{depth}"
        self.instruments = InstrumentTable(self.name, spell)

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

    def _op(self, op: str, pairs: Sequence[str]) -> list[str]:
        return [c.dumps({"op": op, "args": list(chunk)})
                for chunk in c.chunked(self._args(pairs), ARGS_PER_MESSAGE)]

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._op("subscribe", pairs)

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._op("unsubscribe", pairs)

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        if raw == "pong" or raw == b"pong":
            return [Heartbeat()]
        msg = c.as_dict(c.load_frame_exact(raw, "bitmart", inflate_raw), "bitmart frame")
        table = msg.get("table")
        if table is None:
            if "errorCode" in msg:
                log.warning("bitmart error %s: %s", c.excerpt(msg.get("errorCode"), 20),
                            c.excerpt(msg.get("errorMessage"), 160))
                return []
            if msg.get("event") in ("subscribe", "unsubscribe"):
                return []
            raise ParseError(f"bitmart: unknown frame {c.excerpt(msg, 80)}")
        data = c.as_list(msg.get("data"), "bitmart data")
        if table == self._table:
            out: list[MarketEvent] = []
            for d in data:
                d = c.as_dict(d, "bitmart depth")
                pair = self.from_venue_symbol(d.get("symbol"))
                out.append(BookSnapshot(pair, c.levels(d.get("bids"), "bitmart bids"),
                                        c.levels(d.get("asks"), "bitmart asks"),
                                        c.as_int(d.get("ms_t"), "bitmart ms_t"), c.ms_to_seconds(d.get("ms_t"))))
            return out
        if table == "spot/trade":
            return [self._trade(c.as_dict(d, "bitmart trade")) for d in data]
        return [Ignored(f"table {c.excerpt(table, 40)}")]

    def _trade(self, d: dict) -> Trade:
        pair = self.from_venue_symbol(d.get("symbol"))
        ms = c.as_int(d.get("ms_t"), "bitmart ms_t")
        return Trade(pair, str(ms), c.as_str(d.get("price"), "bitmart price"),
                     c.as_str(d.get("size"), "bitmart size"), c.trade_side(d.get("side"), SIDES, "bitmart"),
                     ms / 1000.0)


MARKET_DATA: dict = {"bitmart": BitmartMarketData()}
