"""The OKX v5 family of WebSocket protocols, which Bitget v2 follows too.

Shared by ``hbconnect.exchanges.okx`` and ``hbconnect.exchanges.bitget`` (pure translation, no I/O).
"""
from __future__ import annotations

import logging
from typing import Sequence, Union

from hbconnect.exchanges import _common as c
from hbconnect.market.messages import Heartbeat, Ignored, MarketEvent, ParseError, Trade

logger = logging.getLogger(__name__)

_TRADE_SIDES = ("buy", "sell")  # a tuple: ``in`` compares, so an unhashable value cannot raise


class OpArgsMarketData(c.MarketDataBase):
    """The public WebSocket protocol of OKX v5, which Bitget v2 follows too: requests
    ``{"op": "subscribe", "args": [{"channel": ..., "instId": ..., ...}]}`` (at most
    :attr:`max_request_bytes` each), acks and errors as ``{"event": ...}`` frames, pushes as
    ``{"arg": {"channel", "instId"}, "data": [...]}``, keep-alive by the texts "ping"/"pong".

    Subclasses set the channel and field names and implement :meth:`_arg` and :meth:`_book`.
    """

    book_channel: str
    trade_channel: str
    trade_fields: tuple[str, str, str]  # names of a trade's id, price and size fields
    max_request_bytes: int
    ping_message = "ping"

    def _arg(self, channel: str, pair: str) -> dict:
        raise NotImplementedError

    def _ops(self, op: str, channels: Sequence[str], pairs: Sequence[str]) -> list[str]:
        args = [self._arg(ch, p) for p in pairs for ch in channels]
        return c.pack_args(args, lambda a: {"op": op, "args": a}, self.max_request_bytes)

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._ops("subscribe", (self.book_channel, self.trade_channel), pairs)

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._ops("unsubscribe", (self.book_channel, self.trade_channel), pairs)

    def resync_messages(self, pair: str) -> list[str]:
        """Unsubscribe + subscribe the book channel: the venue answers with a fresh snapshot."""
        book = (self.book_channel,)
        return self._ops("unsubscribe", book, [pair]) + self._ops("subscribe", book, [pair])

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        if raw == "pong" or raw == b"pong":
            return [Heartbeat()]
        msg = c.as_dict(c.load_json(raw), f"{self.name} frame")
        if "event" in msg:
            return self._event(msg)
        arg = c.as_dict(msg.get("arg"), f"{self.name} arg")
        channel = arg.get("channel")
        if self._foreign(arg):
            return [Ignored(f"instrument {c.excerpt(arg.get('instId'), 60)} ({c.excerpt(arg.get('instType'), 20)})")]
        if channel == self.book_channel:
            return self._book(msg, arg)
        if channel == self.trade_channel:
            return self._trades(msg, arg)
        if type(channel) is str and "data" in msg:  # tickers, candles, books5...: not subscribed here
            return [Ignored(f"channel {c.excerpt(channel, 60)}")]
        raise ParseError(f"{self.name}: unexpected channel {c.excerpt(channel, 60)}")

    def _foreign(self, arg: dict) -> bool:
        """Whether a push is for an instrument of another type than this object tracks (one
        socket may carry several); such pushes are ignored, not bad."""
        return False

    def _event(self, msg: dict) -> list[MarketEvent]:
        event = msg["event"]
        if event in ("subscribe", "unsubscribe"):
            return []
        if event == "error":
            # e.g. a refused (re)subscription. Not turned into a Resync: resubscribing at once
            # would loop against the venue's request limits; a pair left without a snapshot is
            # the tracker's to retry later.
            logger.warning("%s error event: code=%s msg=%s", self.name,
                           c.excerpt(msg.get("code"), 40), c.excerpt(msg.get("msg"), 200))
            return []
        return self._other_event(msg)

    def _other_event(self, msg: dict) -> list[MarketEvent]:
        logger.info("%s: ignoring event %s", self.name, c.excerpt(msg["event"], 60))
        return []

    def _book(self, msg: dict, arg: dict) -> list[MarketEvent]:
        raise NotImplementedError

    def _trades(self, msg: dict, arg: dict) -> list[MarketEvent]:
        """Trades of one push (``side`` is the taker's), oldest first."""
        pair = self.from_venue_symbol(c.as_str(arg.get("instId"), "instId"))
        id_key, price_key, size_key = self.trade_fields
        out: list[MarketEvent] = []
        for item in c.as_list(msg.get("data"), "data"):
            t = c.as_dict(item, "trade")
            side = t.get("side")
            if side not in _TRADE_SIDES:
                raise ParseError(f"{self.name}: bad trade side {c.excerpt(side, 40)}")
            out.append(Trade(
                pair=pair,
                trade_id=c.as_str(t.get(id_key), id_key),
                price=c.as_str(t.get(price_key), price_key),
                amount=c.as_str(t.get(size_key), size_key),
                side=side,
                timestamp=c.ms_to_seconds(t.get("ts")),
            ))
        if len(out) > 1:
            out.sort(key=lambda t: t.timestamp)  # so that the last one is the latest
        return out
