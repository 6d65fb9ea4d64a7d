"""Bybit v5 spot and linear perpetual: pure translation of Bybit's public market data (no I/O).

Source: Bybit v5 docs, "Orderbook" (https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook),
"Trade" (.../public/trade) and "Connect" (https://bybit-exchange.github.io/docs/v5/ws/connect).

* ``orderbook.{depth}.{symbol}``: after subscribing, a ``snapshot``, then ``delta`` pushes; "if you
  receive a new snapshot message, you will have to reset your local orderbook". ``u`` is the
  update id of the topic; "occasionally you'll receive "u"=1, which is a snapshot data due to the
  restart of the service. So please overwrite your local orderbook" — a ``delta`` with ``u == 1``
  is therefore returned as a :class:`BookSnapshot`. The v5 page does not spell out the step of
  ``u`` ("Update ID. Is a sequence" in earlier v5 revisions); Bybit's v3 page for the same
  stream said it is "generally contiguous", and that is what the stream does, so the rule is
  :attr:`SyncRule.CONTIGUOUS` (each delta ``u`` = previous + 1, any snapshot resets). ``seq`` is
  a cross sequence for comparing depths, not a per-topic counter; it is not used. Depth 1 only
  ever pushes snapshots (repeated every 3 s, same ``u``, when nothing changes): each resets.
* ``publicTrade.{symbol}``: ``S`` is the taker side.
* Keep-alive: ``{"op": "ping"}`` every 20 s (recommended by Bybit); the pong is a heartbeat.
* Resync: unsubscribe + subscribe the orderbook topic makes Bybit send a fresh snapshot.
* Limits: the "args" of one public connection must stay under 21,000 characters in all; spot
  accepts at most 10 args per subscribe request (futures have no count limit).
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence, Union

from hbconnect.core.codecs import json_loads
from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import InstrumentTable
from hbconnect.exchanges.bybit.instruments import parse_instruments_info
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    DiffFrame,
    Heartbeat,
    Ignored,
    MarketEvent,
    ParseError,
    SyncRule,
    Trade,
)

logger = logging.getLogger(__name__)

WS_URL = "wss://stream.bybit.com/v5/public/{category}"
DEPTHS = (1, 50, 200, 1000)
MAX_ARGS_PER_REQUEST = 10  # spot's documented limit; used for linear as well
MAX_REQUEST_CHARS = 21_000  # the limit is per connection: max_pairs_per_connection stays far below
_TRADE_SIDES = {"Buy": "buy", "Sell": "sell"}


class BybitMarketData(c.MarketDataBase):
    """``MarketDataVenue`` for one Bybit v5 category (``spot`` or ``linear``)."""

    sync_rule = SyncRule.CONTIGUOUS
    max_pairs_per_connection = 25  # 50 topics; spread further to bound one socket's load
    ping_interval = 20.0  # "we recommend that you send the ping heartbeat packet every 20 seconds"
    ping_message = '{"op":"ping"}'

    def __init__(self, name: str, category: str, depth: int = 50, url: Optional[str] = None):
        if depth not in DEPTHS:
            raise ValueError(f"bybit orderbook depth must be one of {DEPTHS}, got {depth}")
        self.name = name
        self.category = category
        self.depth = depth
        #: the topic maintains the top ``depth`` levels of each side
        self.max_depth: Optional[int] = depth
        self.ws_url = url or WS_URL.format(category=category)
        #: the venue's instrument table (shared shape with the trading translation): symbols of
        #: listed instruments or of pairs asked for map back, nothing is guessed from a suffix
        self.instruments = InstrumentTable(name)
        self._book_prefix = f"orderbook.{depth}."
        #: ``delta`` pushes, for the tracker's compiled frame path (``u == 1`` is a snapshot)
        self.diff_frame = DiffFrame(
            loads=json_loads, parse_decoded=None, symbols=None, envelope="data", event_key=None, event=None,
            symbol_key="s", first_key=None, last_key="u", bids_key="b", asks_key="a", time_path=("ts",),
            match=(("type", "delta"),), match_prefix=(("topic", self._book_prefix),), check_levels=True,
            snapshot_last_id=1)

    # ---- symbols ----

    def to_venue_symbol(self, pair: str) -> str:
        return self.instruments.symbol(pair)

    def from_venue_symbol(self, symbol: str) -> str:
        """The pair of a subscribed (or listed) symbol; ``UnknownSymbol`` (a ``ParseError``)
        for anything else."""
        return self.instruments.pair(symbol)

    def load_symbols(self, body: Union[str, bytes]) -> int:
        """Take the listing of an instruments-info body; returns how many instruments.
        ``ParseError`` for other bodies."""
        listed = parse_instruments_info(body)
        self.instruments.load(listed)
        return len(listed)

    # ---- connection ----

    def _topics(self, pairs: Sequence[str], trades: bool = True) -> list[str]:
        topics = []
        for pair in pairs:
            symbol = self.to_venue_symbol(pair)
            topics.append(self._book_prefix + symbol)
            if trades:
                topics.append("publicTrade." + symbol)
        return topics

    def _ops(self, op: str, topics: list[str]) -> list[str]:
        return c.pack_args(topics, lambda a: {"op": op, "args": a}, MAX_REQUEST_CHARS,
                           MAX_ARGS_PER_REQUEST)

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._ops("subscribe", self._topics(pairs))

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._ops("unsubscribe", self._topics(pairs))

    def resync_messages(self, pair: str) -> list[str]:
        topics = self._topics([pair], trades=False)
        return self._ops("unsubscribe", topics) + self._ops("subscribe", topics)

    # ---- frames ----

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        msg = c.as_dict(c.load_json(raw), f"{self.name} frame")
        topic = msg.get("topic")
        if topic is None:
            return self._control(msg)
        if type(topic) is not str:
            raise ParseError(f"{self.name}: bad topic {c.excerpt(topic, 60)}")
        if topic.startswith("orderbook."):
            return self._book(msg, topic)
        if topic.startswith("publicTrade."):
            return self._trades(msg)
        if "data" in msg:  # tickers, kline, liquidation...: a push of a topic not subscribed here
            return [Ignored(f"topic {c.excerpt(topic, 60)}")]
        raise ParseError(f"{self.name}: unexpected topic {c.excerpt(topic, 60)}")

    def _control(self, msg: dict) -> list[MarketEvent]:
        op = msg.get("op")
        if op in ("ping", "pong"):
            return [Heartbeat()]
        if op in ("subscribe", "unsubscribe"):
            if msg.get("success") is False:
                logger.warning("%s %s failed: %s", self.name, op,
                               c.excerpt(msg.get("ret_msg"), 200))
            return []
        raise ParseError(f"{self.name}: unknown control frame {c.excerpt(msg, 80)}")

    def _book(self, msg: dict, topic: str) -> list[MarketEvent]:
        if not topic.startswith(self._book_prefix):  # another depth: not subscribed here
            return [Ignored(f"topic {c.excerpt(topic, 60)}")]
        d = c.as_dict(msg.get("data"), "data")
        pair = self.from_venue_symbol(c.as_str(d.get("s"), "s"))
        bids = c.levels(d.get("b"), "b")
        asks = c.levels(d.get("a"), "a")
        u = c.as_int(d.get("u"), "u")
        ts = c.ms_to_seconds(msg.get("ts"))
        kind = msg.get("type")
        if kind == "snapshot" or (kind == "delta" and u == 1):
            return [BookSnapshot(pair, bids, asks, u, ts)]
        if kind == "delta":
            return [BookDiff(pair, bids, asks, u, u, None, ts)]
        raise ParseError(f"{self.name}: unknown orderbook type {c.excerpt(kind, 60)}")

    def _trades(self, msg: dict) -> list[MarketEvent]:
        out: list[MarketEvent] = []
        for item in c.as_list(msg.get("data"), "data"):
            t = c.as_dict(item, "trade")
            side = c.trade_side(t.get("S"), _TRADE_SIDES, self.name)
            out.append(Trade(
                pair=self.from_venue_symbol(c.as_str(t.get("s"), "s")),
                trade_id=c.as_str(t.get("i"), "i"),
                price=c.as_str(t.get("p"), "p"),
                amount=c.as_str(t.get("v"), "v"),
                side=side,
                timestamp=c.ms_to_seconds(t.get("T"), "T"),
            ))
        return out


MARKET_DATA: dict[str, BybitMarketData] = {
    "bybit": BybitMarketData("bybit", "spot"),
    "bybit_perpetual": BybitMarketData("bybit_perpetual", "linear"),
}
