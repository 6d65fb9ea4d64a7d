"""Bitstamp (API v2) market data: pure translation of the websocket v2 public channels.

Per Bitstamp's WebSocket API v2 docs: subscribe with ``{"event": "bts:subscribe", "data":
{"channel": ...}}``; ``diff_order_book_<pair>`` pushes changed levels (absolute amounts, 0
deletes) stamped with ``microtimestamp``; ``live_trades_<pair>`` pushes trades (``type`` 0 = buy,
1 = sell); the server may send ``bts:request_reconnect`` (reconnect within a few seconds);
``{"event": "bts:heartbeat"}`` is answered with a ``bts:heartbeat`` event.

Sync rule: the diffs carry no sequence number. The book is the REST ``GET
/api/v2/order_book/<pair>/`` body (``microtimestamp``) plus every diff with a later
``microtimestamp``; older diffs are already in the snapshot (SyncRule.TIMESTAMP). Gaps cannot be
detected from the stream itself.
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence, Union

from hbconnect.core.codecs import json_loads
from hbconnect.exchanges._common import (
    MarketDataBase,
    ParseError,
    TableSymbols,
    as_dict,
    as_int,
    as_str,
    dumps,
    levels,
    listed_instruments,
    load_json,
    to_seconds,
)
from hbconnect.exchanges._instruments import InstrumentTable, concat_symbol
from hbconnect.market.messages import (
    BookDiff,
    DiffFrame,
    BookSnapshot,
    Heartbeat,
    Ignored,
    MarketEvent,
    Reconnect,
    RestRequest,
    Resync,
    SyncRule,
    Trade,
)

log = logging.getLogger(__name__)

REST_URL = "https://www.bitstamp.net/api/v2"
_BOOK = "diff_order_book_"
_TRADES = "live_trades_"


def spell(pair: str) -> str:
    return concat_symbol(pair, lower=True)  # BTC-USD -> btcusd (channel and URL symbol)


class BitstampMarketData(TableSymbols, MarketDataBase):
    name = "bitstamp"
    sync_rule = SyncRule.TIMESTAMP
    max_pairs_per_connection = 100
    ws_url = "wss://ws.bitstamp.net"
    rest_url = REST_URL
    ping_interval = 30.0
    ping_message = '{"event":"bts:heartbeat"}'

    def __init__(self) -> None:
        self.instruments = InstrumentTable(self.name, spell)
        #: ``diff_order_book_{symbol}`` data, for the tracker's compiled frame path
        self.diff_frame = DiffFrame(
            loads=json_loads, parse_decoded=None, symbols=None, envelope="data", event_key=None, event=None,
            symbol_key=None, symbol_path=("channel",), symbol_prefix=_BOOK, first_key=None,
            last_key="microtimestamp", bids_key="bids", asks_key="asks", time_key="microtimestamp",
            time_units=1e6, match=(("event", "data"),), check_levels=True, int_text=True,
            missing_side_empty=True)

    def parse_listing(self, body: Union[str, bytes]) -> list:
        """``GET /api/v2/trading-pairs-info/``: ``[{"url_symbol": "btcusd", "name": "BTC/USD",
        ...}]``."""
        return listed_instruments(load_json(body), "bitstamp trading-pairs-info", "url_symbol",
                                  sep="/", pair_key="name")

    def _msgs(self, event: str, pairs: Sequence[str]) -> list[str]:
        out = []
        for prefix in (_BOOK, _TRADES):
            for pair in pairs:
                channel = prefix + self.to_venue_symbol(pair)
                out.append(dumps({"event": event, "data": {"channel": channel}}))
        return out

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._msgs("bts:subscribe", pairs)

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._msgs("bts:unsubscribe", pairs)

    def snapshot_request(self, pair: str) -> Optional[RestRequest]:
        return RestRequest(f"{self.rest_url}/order_book/{self.to_venue_symbol(pair)}/")

    def parse_snapshot(self, pair: str, body: bytes) -> BookSnapshot:
        d = as_dict(load_json(body), "bitstamp order_book")
        if "microtimestamp" not in d:
            raise ParseError(f"bitstamp order_book without microtimestamp: {str(d)[:80]!r}")
        micro = as_int(d["microtimestamp"], "bitstamp microtimestamp")
        return BookSnapshot(pair, levels(d.get("bids"), "bitstamp bids"),
                            levels(d.get("asks"), "bitstamp asks"), micro, to_seconds(micro, 1e6))

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        msg = load_json(raw)
        if type(msg) is not dict:
            raise ParseError(f"bitstamp: unexpected frame {str(raw)[:80]!r}")
        event = msg.get("event")
        channel = msg.get("channel")
        if event == "data" and type(channel) is str and channel.startswith(_BOOK):
            pair = self.from_venue_symbol(channel[len(_BOOK):])
            d = as_dict(msg.get("data"), "bitstamp diff")
            micro = as_int(d.get("microtimestamp"), "bitstamp microtimestamp")
            return [BookDiff(pair, levels(d.get("bids", []), "bitstamp bids"),
                             levels(d.get("asks", []), "bitstamp asks"), micro, micro, None,
                             to_seconds(micro, 1e6))]
        if event == "trade" and type(channel) is str and channel.startswith(_TRADES):
            return [self._trade(channel[len(_TRADES):], as_dict(msg.get("data"), "bitstamp trade"))]
        if event == "bts:request_reconnect":
            return [Reconnect("bts:request_reconnect")]
        if event == "bts:heartbeat":
            return [Heartbeat()]
        if event == "bts:error":
            log.warning("bitstamp error on %s: %s", channel, msg.get("data"))
            if type(channel) is str and channel.startswith(_BOOK):
                return [Resync(self.from_venue_symbol(channel[len(_BOOK):]), str(msg.get("data")))]
            return []
        if type(event) is str and event.startswith("bts:"):
            return []  # bts:subscription_succeeded, bts:unsubscription_succeeded
        if type(event) is str:
            return [Ignored(f"{event} on {str(channel)[:40]}")]  # other channels
        raise ParseError(f"bitstamp: unknown frame {str(raw)[:80]!r}")

    def _trade(self, symbol: str, d: dict) -> Trade:
        kind = d.get("type")
        if type(kind) is not int or kind not in (0, 1):
            raise ParseError(f"bitstamp: bad trade type {kind!r:.20}")
        micro = d.get("microtimestamp")
        when = (to_seconds(as_int(micro, "bitstamp microtimestamp"), 1e6) if micro is not None
                else to_seconds(as_int(d.get("timestamp", 0), "bitstamp timestamp"), 1.0))
        return Trade(
            self.from_venue_symbol(symbol), str(d.get("id", "")),
            as_str(d.get("price_str"), "bitstamp price_str"),
            as_str(d.get("amount_str"), "bitstamp amount_str"),
            "buy" if kind == 0 else "sell", when,
        )


MARKET_DATA: dict = {"bitstamp": BitstampMarketData()}
