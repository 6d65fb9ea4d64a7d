"""Binance spot and USDⓈ-M perpetual market data: pure translation of Binance's wire formats (no I/O).

Follows Binance's "How to manage a local order book correctly" (spot: ``U``/``u`` against the
REST ``lastUpdateId``; USDⓈ-M: ``U``/``u``/``pu``).
"""
from __future__ import annotations

import itertools as _itertools
from typing import Any as _Any, Optional as _Optional, Sequence as _Sequence, Union as _Union

# orjson when installed (optional accelerator), else ujson; both raise ValueError subclasses
from hbconnect.core.codecs import fast_loads as _loads
from hbconnect.exchanges._common import dumps as _dumps
from hbconnect.exchanges._instruments import InstrumentTable as _InstrumentTable
from hbconnect.exchanges.binance.instruments import parse_exchange_info as _parse_exchange_info
from hbconnect.exchanges.binance.constants import PERP_REST_URL, PERP_WS_URL, SPOT_REST_URL, SPOT_WS_URL
from hbconnect.market.messages import (
    BookDiff as _BookDiff,
    Ignored as _Ignored,
    BookSnapshot as _BookSnapshot,
    DiffFrame as _DiffFrame,
    ParseError as _ParseError,
    RestRequest as _RestRequest,
    SyncRule as _SyncRule,
    Trade as _Trade,
    VenueCapabilities as _VenueCapabilities,
    WsEndpoint as _WsEndpoint,
)


_sub_ids = _itertools.count(1)


def _depth_weight_spot(limit: int) -> int:
    # GET /api/v3/depth weight by limit (Binance spot docs)
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def _depth_weight_perp(limit: int) -> int:
    # GET /fapi/v1/depth weight by limit (USDⓈ-M docs)
    if limit <= 50:
        return 2
    if limit <= 100:
        return 5
    if limit <= 500:
        return 10
    return 20


class BinanceMarketData(_VenueCapabilities):
    """Binance market data for one market (spot or USDⓈ-M perpetual); pure translation.

    Streams: ``<symbol>@depth@100ms`` and ``<symbol>@trade`` on the combined endpoint
    (``/stream``: frames are ``{"stream": ..., "data": ...}``), subscribed with ``SUBSCRIBE``.
    Snapshot: REST depth ``limit=1000``. Sync: spot ``U``/``u`` (SEQ_RANGE), USDⓈ-M ``pu`` chain
    (SEQ_RANGE_PREV). Binance sends no book checksum. Base URLs are overridable (``with_urls``)
    for the embedded exchange on 127.0.0.1.
    """

    max_depth: _Optional[int] = None
    connection_sequence = False
    #: step 4 to the letter: a snapshot whose lastUpdateId is strictly less than the first
    #: buffered U is refetched (even when lastUpdateId == U - 1)
    strict_snapshot_start = True
    #: the shared weight pool (exchangeInfo ``rateLimitType``) a depth snapshot's weight counts on
    rate_limit_pool = "REQUEST_WEIGHT"
    #: 1024 streams per connection (Binance), two streams (depth + trade) per pair
    max_pairs_per_connection = 512
    #: subscribe params per SUBSCRIBE message (Binance counts 5 (spot) / 10 (USDⓈ-M) incoming
    #: messages per second, so few large messages are better than many small ones)
    params_per_message = 1024
    #: the tracker paces what it sends on a connection to this (Binance: 5 incoming messages per
    #: second on spot, 10 on USDⓈ-M; more and the connection is dropped)
    ws_message_rate: float = 5.0

    def __init__(self, name: str, *, perpetual: bool, rest_url: str, ws_url: str,
                 snapshot_limit: int = 1000, depth_speed: str = "100ms", trade_stream: str = "trade") -> None:
        self.name = name
        self.perpetual = perpetual
        self.sync_rule = _SyncRule.SEQ_RANGE_PREV if perpetual else _SyncRule.SEQ_RANGE
        self.ws_message_rate = 10.0 if perpetual else 5.0
        self.rest_url = rest_url.rstrip("/")
        self.ws_url = ws_url.rstrip("/")
        self.snapshot_limit = snapshot_limit
        self.depth_speed = depth_speed
        self.trade_stream = trade_stream
        self.instruments = _InstrumentTable(name)
        #: venue symbol -> pair of the pairs asked for (the compiled path's lookup): bounded by
        #: the pairs this object was asked about, never grown by what frames carry
        self._pairs: dict[str, str] = {}
        self._depth_path = "/fapi/v1/depth" if perpetual else "/api/v3/depth"
        weight = _depth_weight_perp if perpetual else _depth_weight_spot
        self.snapshot_weight = weight(snapshot_limit)
        #: the combined-stream depthUpdate, for the tracker's compiled fast path: exactly the
        #: frames the hot path of ``parse_message`` turns into one BookDiff
        self.diff_frame = _DiffFrame(
            loads=_loads, parse_decoded=self.parse_decoded, symbols=self._pairs, envelope="data",
            event_key="e", event="depthUpdate", symbol_key="s", first_key="U", last_key="u",
            bids_key="b", asks_key="a", prev_key="pu" if perpetual else None, time_key="E",
            time_units=1000.0)

    def with_urls(self, rest: _Optional[str] = None, ws: _Optional[str] = None) -> "BinanceMarketData":
        """A copy talking to other base URLs (the embedded exchange, a testnet). ``ws`` is the
        websocket base (``/stream`` is appended) or a full ``.../stream`` URL."""
        return BinanceMarketData(self.name, perpetual=self.perpetual, rest_url=rest or self.rest_url,
                                 ws_url=ws or self.ws_url, snapshot_limit=self.snapshot_limit,
                                 depth_speed=self.depth_speed, trade_stream=self.trade_stream)

    def __repr__(self) -> str:
        return f"<BinanceMarketData {self.name} rest={self.rest_url} ws={self.ws_url}>"

    # symbols
    def to_venue_symbol(self, pair: str) -> str:
        symbol = self.instruments.symbol(pair)
        if symbol not in self._pairs:
            self._pairs[symbol] = self.instruments.pair(symbol)
        return symbol

    def from_venue_symbol(self, symbol: str) -> str:
        """The pair of a subscribed (or listed) symbol; ``UnknownSymbol`` (a ``ParseError``)
        for anything else: no guessing from a quote suffix, nothing remembered."""
        pair = self._pairs.get(symbol)
        if pair is None:
            pair = self.instruments.pair(symbol.upper() if type(symbol) is str else symbol)
        return pair

    def load_symbols(self, body: _Union[str, bytes]) -> int:
        """Take the instrument listing of an exchangeInfo body (a recorded session's, or fetched
        by the caller); returns how many instruments. ``ParseError`` for other bodies."""
        listed = _parse_exchange_info(body)
        self.instruments.load(listed)
        return len(listed)

    # connection
    def connect_request(self) -> None:
        return None

    def ws_endpoint(self, connect_response: _Optional[bytes] = None) -> _WsEndpoint:
        url = self.ws_url
        if not url.endswith(("/stream", "/ws")):
            url += "/stream"
        # Binance pings every 20 s (spot) / 3 min (USDⓈ-M) and expects pongs: aiohttp autopings.
        return _WsEndpoint(url)

    def _streams(self, pairs: _Sequence[str]) -> list[str]:
        out = []
        for pair in pairs:
            sym = self.to_venue_symbol(pair).lower()
            out.append(f"{sym}@depth@{self.depth_speed}" if self.depth_speed else f"{sym}@depth")
            out.append(f"{sym}@{self.trade_stream}")
        return out

    def _method(self, method: str, pairs: _Sequence[str]) -> list[str]:
        streams = self._streams(pairs)
        n = self.params_per_message
        return [_dumps({"method": method, "params": streams[i:i + n], "id": next(_sub_ids)})
                for i in range(0, len(streams), n)]

    def subscribe_messages(self, pairs: _Sequence[str]) -> list[str]:
        return self._method("SUBSCRIBE", pairs)

    def unsubscribe_messages(self, pairs: _Sequence[str]) -> list[str]:
        return self._method("UNSUBSCRIBE", pairs)

    def resync_messages(self, pair: str) -> list[str]:
        return []  # the snapshot comes from REST

    # snapshot
    def snapshot_request(self, pair: str) -> _RestRequest:
        return _RestRequest(self.rest_url + self._depth_path,
                            {"symbol": self.to_venue_symbol(pair), "limit": self.snapshot_limit},
                            weight=self.snapshot_weight)

    def parse_snapshot(self, pair: str, body: bytes) -> _BookSnapshot:
        try:
            msg = _loads(body)
        except (ValueError, TypeError):
            raise _ParseError(f"{self.name} {pair}: depth snapshot is not JSON: {body[:80]!r}") from None
        if type(msg) is not dict:
            raise _ParseError(f"{self.name} {pair}: depth snapshot is not an object")
        if "code" in msg and "lastUpdateId" not in msg:
            raise _ParseError(f"{self.name} {pair}: depth error {msg.get('code')}: {str(msg.get('msg'))[:80]}")
        uid = msg.get("lastUpdateId")
        bids = msg.get("bids")
        asks = msg.get("asks")
        if type(uid) is not int or type(bids) is not list or type(asks) is not list:
            raise _ParseError(f"{self.name} {pair}: depth snapshot lacks lastUpdateId/bids/asks")
        ts = msg.get("T") or msg.get("E") or 0
        return _BookSnapshot(pair, bids, asks, uid, ts / 1000.0 if type(ts) is int else 0.0)

    # stream
    def parse_message(self, raw: _Union[str, bytes]) -> list:
        # Hot path: a well-formed depthUpdate of a known symbol, in one try block. Anything else
        # (trades, acks, unknown symbols, malformed frames) takes the careful path below.
        try:
            msg = _loads(raw)
        except (ValueError, TypeError):
            raise _ParseError(f"{self.name}: frame is not JSON: {raw[:80]!r}") from None
        try:
            data = msg["data"]
            if data["e"] == "depthUpdate":
                first = data["U"]
                last = data["u"]
                bids = data["b"]
                asks = data["a"]
                pair = self._pairs[data["s"]]
                ts = data["E"]
                prev = data["pu"] if self.perpetual else None
                if type(first) is int and type(last) is int and type(bids) is list and type(asks) is list \
                        and type(ts) is int and (prev is None or type(prev) is int):
                    return [_BookDiff(pair, bids, asks, first, last, prev, ts / 1000.0)]
        except (KeyError, TypeError, IndexError):
            pass
        return self._parse_careful(raw, msg)

    def parse_decoded(self, raw: _Union[str, bytes], msg: _Any) -> list:
        """``parse_message`` of a frame already decoded to ``msg`` (``diff_frame``)."""
        return self._parse_careful(raw, msg)

    def _parse_careful(self, raw: _Union[str, bytes], msg: _Any) -> list:
        try:
            data = msg["data"]
            e = data["e"]
        except (KeyError, TypeError, IndexError):
            return self._parse_other(raw, msg)
        if e == "depthUpdate":
            try:
                first = data["U"]
                last = data["u"]
                bids = data["b"]
                asks = data["a"]
                sym = data["s"]
                prev = data["pu"] if self.perpetual else None
            except KeyError as exc:
                raise _ParseError(f"{self.name}: depthUpdate without {exc}: {raw[:80]!r}") from None
            if type(first) is not int or type(last) is not int or type(bids) is not list \
                    or type(asks) is not list or (prev is not None and type(prev) is not int):
                raise _ParseError(f"{self.name}: malformed depthUpdate {raw[:80]!r}")
            if type(sym) is not str:
                raise _ParseError(f"{self.name}: depthUpdate without symbol")
            pair = self._pairs.get(sym) or self.from_venue_symbol(sym)
            ts = data.get("E")
            return [_BookDiff(pair, bids, asks, first, last, prev, ts / 1000.0 if type(ts) is int else 0.0)]
        if e == "trade" or e == "aggTrade":
            return self._trade(raw, data, e)
        return [_Ignored(f"event {str(e)[:40]}")]  # kline, ... : channels the tracker does not subscribe

    def _parse_other(self, raw: _Union[str, bytes], msg: _Any) -> list:
        if type(msg) is not dict:
            raise _ParseError(f"{self.name}: unexpected frame {raw[:80]!r}")
        data = msg.get("data")
        if data is None:
            if "e" in msg:  # raw-stream endpoint (/ws): the event itself
                return self.parse_message(_dumps({"data": msg}))
            if "result" in msg and "id" in msg:
                return []  # SUBSCRIBE / UNSUBSCRIBE acknowledgement
            if "error" in msg or "code" in msg:
                raise _ParseError(f"{self.name}: venue error {str(msg.get('error', msg))[:120]}")
            return []
        if type(data) is not dict:
            raise _ParseError(f"{self.name}: unexpected data in {raw[:80]!r}")
        if "e" not in data:
            return [_Ignored("bookTicker")]  # bookTicker has no event type
        raise _ParseError(f"{self.name}: unexpected frame {raw[:80]!r}")

    def _trade(self, raw: _Union[str, bytes], data: dict, e: str) -> list:
        sym = data.get("s")
        price = data.get("p")
        qty = data.get("q")
        tid = data.get("t") if e == "trade" else data.get("a")
        if type(sym) is not str or type(price) is not str or type(qty) is not str or tid is None:
            raise _ParseError(f"{self.name}: malformed {e} {raw[:80]!r}")
        pair = self._pairs.get(sym) or self.from_venue_symbol(sym)
        ts = data.get("T") or data.get("E") or 0
        # "m": the buyer is the maker, so the taker sold
        side = "sell" if data.get("m") else "buy"
        return [_Trade(pair, str(tid), price, qty, side, ts / 1000.0 if type(ts) is int else 0.0)]

    def checksum(self, book: _Any) -> int:
        raise NotImplementedError("Binance sends no order book checksum")


MARKET_DATA: dict = {
    "binance": BinanceMarketData("binance", perpetual=False, rest_url=SPOT_REST_URL, ws_url=SPOT_WS_URL),
    "binance_perpetual": BinanceMarketData("binance_perpetual", perpetual=True, rest_url=PERP_REST_URL,
                                           ws_url=PERP_WS_URL),
}
