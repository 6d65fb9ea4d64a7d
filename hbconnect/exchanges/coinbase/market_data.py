"""Coinbase Advanced Trade: pure translation of its public market-data WebSocket (no I/O).

Source: Coinbase Developer Platform, Advanced Trade "WebSocket Overview", "WebSocket Channels",
"Rate Limits" and "Best Practices" (https://docs.cdp.coinbase.com/advanced-trade/docs/ws-channels).

* ``level2`` (frames ``channel: "l2_data"``): an in-band ``snapshot`` event, then ``update``
  events of ``{side: bid|offer, price_level, new_quantity}``; ``new_quantity`` is the new size,
  ``"0"`` removes the level. The channel "guarantees delivery of all updates".
* ``sequence_num``: on every frame of the connection, whatever the channel, each one greater by
  exactly one; a jump means frames were dropped, and since the number is not per product any pair
  on the connection may be affected. ``connection_sequence = True``: every event returned carries
  its frame's ``sequence_num`` as ``conn_seq`` (the tracker checks it per frame), and frames
  without book data (heartbeats, subscription acks, other channels) are returned as
  :class:`Heartbeat` with their ``conn_seq`` so that no number is missing.
* Sync rule: diffs carry no per-product id, so the book events get an ordering id built from the
  connection sequence (``sequence_num * 1024 + event index``): it only increases along the
  connection. With :attr:`SyncRule.TIMESTAMP` (ids only increase; an id not above the book's is
  stale; no gap detection from ids — gaps are the ``conn_seq`` check's job), the diffs still in
  flight when a resync's fresh snapshot arrives are dropped as older than it instead of being
  replayed over it. (CHECKSUM would replay them: Coinbase sends no checksum to catch that.)
* ``heartbeats``: "most channels close within 60-90 seconds if no updates are sent", so it is
  subscribed on every connection; one subscribe message per channel.
* ``market_trades``: ``side`` "refers to the makers side", so the taker side is the opposite.
* Resync: unsubscribe + subscribe ``level2`` for the product makes Coinbase send a new snapshot.
* Limits: unauthenticated messages 8/s per IP; Coinbase recommends spreading products over
  several connections, which also bounds the pairs a sequence gap puts out of sync.
* "Subscribing to "-USDC" based products are only available on the user channel. Other channels
  will return the same data as the corresponding "-USD" based products" (except USDT-USDC and
  EURC-USDC): a "-USDC" pair is subscribed as its "-USD" product and the frames of that product
  are mapped back to the pair (track one of BTC-USD / BTC-USDC per tracker, not both).
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence, Union

from hbconnect.exchanges import _common as c
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    Heartbeat,
    Ignored,
    MarketEvent,
    ParseError,
    SyncRule,
    Trade,
)

logger = logging.getLogger(__name__)

WS_URL = "wss://advanced-trade-ws.coinbase.com"
BOOK_CHANNEL = "level2"
TRADE_CHANNEL = "market_trades"
HEARTBEAT_CHANNEL = "heartbeats"
#: USDC products that have market data of their own ("available on all channels")
_USDC_ON_ALL_CHANNELS = frozenset({"USDT-USDC", "EURC-USDC"})
#: book event ordering id = sequence_num * _EVENTS_PER_SEQ + index of the event in its frame
_EVENTS_PER_SEQ = 1024
#: taker side from the maker side Coinbase reports
_TAKER_SIDE = {"BUY": "sell", "SELL": "buy"}


class CoinbaseMarketData(c.MarketDataBase):
    """``MarketDataVenue`` for Coinbase Advanced Trade spot products."""

    sync_rule = SyncRule.TIMESTAMP  # with connection_sequence: see the module docstring
    connection_sequence = True
    max_pairs_per_connection = 10
    ws_message_rate = 8.0  # unauthenticated messages per second per IP
    max_depth: Optional[int] = None

    def __init__(self, name: str = "coinbase_advanced_trade", url: str = WS_URL) -> None:
        self.name = name
        self.ws_url = url  # no application ping: liveness comes from the heartbeats channel
        self._usdc: dict[str, str] = {}  # "BTC-USD" -> "BTC-USDC" for pairs subscribed as USD

    # ---- symbols ----

    def to_venue_symbol(self, pair: str) -> str:
        base, quote = c.split_pair(pair)
        product = f"{base}-{quote}"
        if quote == "USDC" and product not in _USDC_ON_ALL_CHANNELS:
            self._usdc[f"{base}-USD"] = product
            return f"{base}-USD"
        return product

    def from_venue_symbol(self, symbol: str) -> str:
        try:
            base, quote = c.split_pair(symbol)
        except ValueError:
            raise ParseError(f"{self.name}: bad product_id {c.excerpt(symbol, 60)}") from None
        product = f"{base}-{quote}"
        return self._usdc.get(product, product)

    # ---- connection ----

    def _op(self, op: str, channel: str, pairs: Sequence[str]) -> str:
        products = [self.to_venue_symbol(p) for p in pairs]
        return c.dumps({"type": op, "product_ids": products, "channel": channel})

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return [
            c.dumps({"type": "subscribe", "channel": HEARTBEAT_CHANNEL}),
            self._op("subscribe", BOOK_CHANNEL, pairs),
            self._op("subscribe", TRADE_CHANNEL, pairs),
        ]

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return [
            self._op("unsubscribe", BOOK_CHANNEL, pairs),
            self._op("unsubscribe", TRADE_CHANNEL, pairs),
        ]

    def resync_messages(self, pair: str) -> list[str]:
        return [
            self._op("unsubscribe", BOOK_CHANNEL, [pair]),
            self._op("subscribe", BOOK_CHANNEL, [pair]),
        ]

    # ---- frames ----

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        msg = c.as_dict(c.load_json(raw), f"{self.name} frame")
        channel = msg.get("channel")
        if channel is None:
            if msg.get("type") == "error":
                logger.warning("%s error: %s", self.name, c.excerpt(msg.get("message"), 200))
                return []
            raise ParseError(f"{self.name}: frame without channel {c.excerpt(msg, 80)}")
        seq = c.as_int(msg.get("sequence_num"), "sequence_num")
        if channel == "l2_data":
            return self._book(msg, seq)
        if channel == TRADE_CHANNEL:
            return self._trades(msg, seq)
        if channel in ("heartbeats", "subscriptions"):
            return [Heartbeat(conn_seq=seq)]
        # ticker, candles, ...: not subscribed here, but numbered on the connection all the same
        return [Heartbeat(conn_seq=seq), Ignored(f"channel {c.excerpt(channel, 40)}")]

    def _book(self, msg: dict, seq: int) -> list[MarketEvent]:
        ts = c.iso_to_seconds(msg.get("timestamp"))
        out: list[MarketEvent] = []
        events = c.as_list(msg.get("events"), "events")
        if len(events) >= _EVENTS_PER_SEQ:
            raise ParseError(f"{self.name}: {len(events)} events in one frame")
        base = seq * _EVENTS_PER_SEQ
        for index, item in enumerate(events):
            e = c.as_dict(item, "l2 event")
            pair = self.from_venue_symbol(c.as_str(e.get("product_id"), "product_id"))
            bids: list = []
            asks: list = []
            for u in c.as_list(e.get("updates"), "updates"):
                if type(u) is not dict:
                    raise ParseError(f"{self.name}: bad l2 update {c.excerpt(u, 60)}")
                price, qty, side = u.get("price_level"), u.get("new_quantity"), u.get("side")
                if type(price) is not str or type(qty) is not str:
                    raise ParseError(f"{self.name}: bad l2 update {c.excerpt(u, 60)}")
                if side == "bid":
                    bids.append([price, qty])
                elif side == "offer":
                    asks.append([price, qty])
                else:
                    raise ParseError(f"{self.name}: bad l2 side {c.excerpt(side, 60)}")
            kind = e.get("type")
            uid = base + index
            if kind == "snapshot":
                out.append(BookSnapshot(pair, bids, asks, uid, ts, None, seq))
            elif kind == "update":
                out.append(BookDiff(pair, bids, asks, uid, uid, None, ts, None, seq))
            else:
                raise ParseError(f"{self.name}: unknown l2 event type {c.excerpt(kind, 60)}")
        if not out:
            return [Heartbeat(conn_seq=seq)]
        return out

    def _trades(self, msg: dict, seq: int) -> list[MarketEvent]:
        out: list[MarketEvent] = []
        for item in c.as_list(msg.get("events"), "events"):
            e = c.as_dict(item, "market_trades event")
            for t in c.as_list(e.get("trades"), "trades"):
                t = c.as_dict(t, "trade")
                side = c.trade_side(t.get("side"), _TAKER_SIDE, self.name)  # the maker's side, inverted
                out.append(Trade(
                    pair=self.from_venue_symbol(c.as_str(t.get("product_id"), "product_id")),
                    trade_id=c.as_str(t.get("trade_id"), "trade_id"),
                    price=c.as_str(t.get("price"), "price"),
                    amount=c.as_str(t.get("size"), "size"),
                    side=side,
                    timestamp=c.iso_to_seconds(t.get("time"), "time"),
                    conn_seq=seq,
                ))
        if not out:
            return [Heartbeat(conn_seq=seq)]
        if len(out) > 1:
            out.sort(key=lambda t: t.timestamp)  # oldest first, so the last one is the latest
        return out


MARKET_DATA: dict[str, CoinbaseMarketData] = {
    "coinbase_advanced_trade": CoinbaseMarketData(),
}
