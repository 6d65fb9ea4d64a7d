"""FoxBit spot, WebSocket API v3: pure translation of FoxBit's public market data (no I/O).

FoxBit's current API is v3 ("replaces the WebSocket v2", the AlphaPoint-framed gateway); this
module follows it. Sources: "Foxbit WebSocket API (3.0)" (https://docs.foxbit.com.br/ws/v3/: public
URL, channels ``orderbook-<100|250|500|1000>``, ``trades``, ``ping``, the subscribe shape, the
rate limits: 10 messages per 2 s, 10 connections per 2 s, 25 subscriptions per message, 50 per
connection), FoxBit's own example ``foxbit-group/foxbit-api-samples``
``websocket-v3/javascript/manage-local-orderbook/index.mjs`` (subscribe with ``"snapshot": true``;
a snapshot sets ``sequence_id``; an update applies when ``first_sequence_id == sequence_id + 1``
and moves it to ``last_sequence_id``; otherwise subscribe again for a new snapshot; ping every
20 s), and "Foxbit REST API 3.0" (size "0" deletes a level; ``GET /rest/v3/markets/{sym}/orderbook``).

* Book frames: ``{"type":"subscribe","event":"snapshot"|"update","params":{"channel",
  "market_symbol"},"data":{...}}``; snapshot ``data`` = ``{sequence_id, bids, asks}``, update
  ``data`` = ``{ts, first_sequence_id, last_sequence_id, bids, asks}`` (levels ``[price, size]``
  strings, in no particular order). The ids are per market and one update may cover several:
  :attr:`SyncRule.SEQ_RANGE` against the in-band snapshot.
* Trades: ``data`` rows ``{id (a JSON number), price, quantity, taker_side "BUY"/"SELL", ts}``.
* Symbols are lower case (``btcbrl``); an unknown one makes the venue close the socket.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence, Union

from hbconnect.exchanges import _common as c
from hbconnect.exchanges._instruments import InstrumentTable, concat_symbol
from hbconnect.market.messages import (
    BookDiff, BookSnapshot, DiffFrame, Heartbeat, MarketEvent, ParseError, RestRequest, SyncRule, Trade,
)

logger = logging.getLogger(__name__)

WS_URL = "wss://api.foxbit.com.br/ws/v3/public"
REST_URL = "https://api.foxbit.com.br"
INTERVALS = (100, 250, 500, 1000)
SUBSCRIPTIONS_PER_MESSAGE = 25
SUBSCRIPTIONS_PER_CONNECTION = 50
_SIDES = {"BUY": "buy", "SELL": "sell"}


def _spell(pair: str) -> str:
    return concat_symbol(pair, lower=True)


class FoxbitMarketData(c.TableSymbols, c.MarketDataBase):
    """``MarketDataVenue`` for FoxBit spot (``orderbook-<ms>`` with an in-band snapshot)."""

    sync_rule = SyncRule.SEQ_RANGE
    #: two subscriptions (book, trades) per pair, 50 per connection
    max_pairs_per_connection = SUBSCRIPTIONS_PER_CONNECTION // 2
    #: "10 messages per 2 seconds" and "10 connection per 2 seconds"
    ws_message_rate = 5.0
    ws_connect_rate = 5.0
    ping_interval = 20.0
    ping_message = '{"type":"message","params":[{"channel":"ping"}]}'

    def __init__(self, name: str = "foxbit", interval: int = 100, ws_url: str = WS_URL,
                 rest_url: str = REST_URL) -> None:
        if interval not in INTERVALS:
            raise ValueError(f"foxbit orderbook interval must be one of {INTERVALS}, got {interval}")
        self.name = name
        self.channel = f"orderbook-{interval}"
        self.ws_url = ws_url
        self.rest_url = rest_url.rstrip("/")
        self.instruments = InstrumentTable(name, spell=_spell)
        #: ``orderbook-<ms>`` updates, for the tracker's compiled frame path
        self.diff_frame = DiffFrame(
            loads=c.load_json, parse_decoded=self.parse_decoded, symbols=None, envelope="data", event_key=None,
            event=None, symbol_key=None, symbol_path=("params", "market_symbol"), first_key="first_sequence_id",
            last_key="last_sequence_id", bids_key="bids", asks_key="asks", time_key="ts",
            match=(("event", "update"), (("params", "channel"), self.channel)), check_levels=True, int_text=True)

    # ---- connection ----

    def _entries(self, pairs: Sequence[str], trades: bool, snapshot: bool) -> list[dict]:
        out: list[dict] = []
        for p in pairs:
            sym = self.to_venue_symbol(p)
            book = {"channel": self.channel, "market_symbol": sym}
            if snapshot:
                book["snapshot"] = True
            out.append(book)
            if trades:
                out.append({"channel": "trades", "market_symbol": sym})
        return out

    def _frames(self, kind: str, entries: list[dict]) -> list[str]:
        return [c.dumps({"type": kind, "params": list(chunk)})
                for chunk in c.chunked(entries, SUBSCRIPTIONS_PER_MESSAGE)]

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._frames("subscribe", self._entries(pairs, True, True))

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._frames("unsubscribe", self._entries(pairs, True, False))

    def resync_messages(self, pair: str) -> list[str]:
        # FoxBit's example asks for a new snapshot by subscribing the book again; the stream is
        # not doubled by it
        return self._frames("subscribe", self._entries([pair], False, True))

    def rest_snapshot_request(self, pair: str) -> RestRequest:
        return RestRequest(f"{self.rest_url}/rest/v3/markets/{self.to_venue_symbol(pair)}/orderbook")

    def parse_snapshot(self, pair: str, body: bytes) -> BookSnapshot:
        """A REST ``/rest/v3/markets/{sym}/orderbook`` body ``{sequence_id, bids, asks, ...}``."""
        return _snapshot(pair, c.as_dict(c.load_json(body), "foxbit orderbook"))

    # ---- frames ----

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        return self.parse_decoded(raw, c.load_json(raw))

    def parse_decoded(self, raw: Union[str, bytes], msg: Any) -> list[MarketEvent]:
        """``parse_message`` of a frame already decoded to ``msg`` (``diff_frame``)."""
        msg = c.as_dict(msg, "foxbit frame")
        event = msg.get("event")
        params = msg.get("params")
        channel = params.get("channel") if type(params) is dict else None
        if event == "snapshot" or event == "update":
            if channel == self.channel:
                return [self._book(msg, params, event == "snapshot")]
            if channel == "trades":
                return self._trades(msg, params)
            raise ParseError(f"foxbit: unexpected channel {c.excerpt(channel, 40)}")
        if event == "success":
            return [Heartbeat()] if channel == "ping" else []
        if event in ("error", "invalid-input"):
            return self.venue_error(msg, params.get("market_symbol") if type(params) is dict else None)
        raise ParseError(f"foxbit: unknown frame {c.excerpt(msg, 80)}")


    def _book(self, msg: dict, params: dict, snapshot: bool) -> Union[BookSnapshot, BookDiff]:
        pair = self.from_venue_symbol(c.as_str(params.get("market_symbol"), "market_symbol"))
        d = c.as_dict(msg.get("data"), "data")
        if snapshot:
            return _snapshot(pair, d)
        first = c.as_int(d.get("first_sequence_id"), "first_sequence_id")
        last = c.as_int(d.get("last_sequence_id"), "last_sequence_id")
        if first > last:
            raise ParseError(f"foxbit: first_sequence_id {first} > last_sequence_id {last}")
        return BookDiff(pair, c.levels(d.get("bids"), "bids"), c.levels(d.get("asks"), "asks"),
                        first, last, None, c.ms_to_seconds(d.get("ts")))

    def _trades(self, msg: dict, params: dict) -> list[MarketEvent]:
        pair = self.from_venue_symbol(c.as_str(params.get("market_symbol"), "market_symbol"))
        out: list[MarketEvent] = []
        for item in c.as_list(msg.get("data"), "data"):
            t = c.as_dict(item, "trade")
            out.append(Trade(pair, str(c.as_int(t.get("id"), "id")), c.as_str(t.get("price"), "price"),
                             c.as_str(t.get("quantity"), "quantity"),
                             c.trade_side(t.get("taker_side"), _SIDES, "foxbit"), c.ms_to_seconds(t.get("ts"))))
        return out


def _snapshot(pair: str, d: dict) -> BookSnapshot:
    """A whole book ``{sequence_id, bids, asks}`` (the in-band snapshot's data or the REST body)."""
    return BookSnapshot(pair, c.levels(d.get("bids"), "bids"), c.levels(d.get("asks"), "asks"),
                        c.as_int(d.get("sequence_id"), "sequence_id"))


MARKET_DATA: dict[str, Any] = {"foxbit": FoxbitMarketData()}
