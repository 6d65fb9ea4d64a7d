"""Gate.io spot (API v4) and USDT-settled perpetual market data: pure translation.

Both follow Gate's "How to maintain local order book" (spot websocket v4 docs, "Order Book
Channel"; futures websocket docs, "Order Book API"; coincise ``docs/gateio/spot/websocket_api.md``,
``docs/gateio/futures/websocket_api.md``): cache ``*.order_book_update`` notifications (``U``/``u``
= first/last order book update id), fetch the REST order book ``with_id=true`` (its ``id`` is the
base id), drop notifications with ``u < id + 1``, start from the one with ``U <= id + 1 <= u``,
then any ``U > previous u + 1`` is a gap (rebuild from REST). Sync rule: SEQ_RANGE.
Symbols (``BTC_USDT``) map back to pairs through the instrument table only: the listing (spot
``GET /spot/currency_pairs``: ``[{"id", "base", "quote", ...}]``; futures ``GET
/futures/usdt/contracts``: ``[{"name": "BTC_USDT", ...}]``; ``load_symbols``) or the spelling of
a pair asked for; any other symbol is an ``UnknownSymbol`` (a ``ParseError``), never split.
Amounts are absolute; 0 deletes the level. A notification with ``full: true`` is a complete book
of the subscribed depth that replaces the local one (sent as an in-band ``BookSnapshot``).

The ``100ms`` spot stream maintains a 100-level book (``20ms``: 20 levels), the futures stream the
``level`` it was subscribed with; the book is truncated to that depth (``max_depth``).

Every request carries ``time`` (seconds), which must be within 60 s of the server's clock; the
messages are built with the injected ``clock`` right before the engine sends them. The
application ping (``{"channel": "spot.ping"}``) is a fixed text without ``time``: the engine's
``WsEndpoint.ping_message`` cannot carry a fresh time (Gate answers it with ``spot.pong``).
"""
from __future__ import annotations

import logging
import time
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Optional, Sequence, Union

from hbconnect.core.codecs import json_loads
from hbconnect.exchanges._common import (
    MarketDataBase,
    ParseError,
    TableSymbols,
    as_dict,
    as_int,
    as_list,
    as_str,
    dumps,
    levels,
    listed_instruments,
    load_json,
    ms_to_seconds,
    to_seconds,
)
from hbconnect.exchanges._instruments import InstrumentTable, concat_symbol
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    DiffFrame,
    Heartbeat,
    Ignored,
    MarketEvent,
    RestRequest,
    Resync,
    SyncRule,
    Trade,
)

log = logging.getLogger(__name__)

REST_URL = "https://api.gateio.ws/api/v4"
#: spot ``spot.order_book_update`` interval -> depth of the maintained book
SPOT_INTERVALS = {"100ms": 100, "20ms": 20}
#: futures ``futures.order_book_update`` (frequency, level) combinations the docs allow
FUTURES_LEVELS = {"100ms": (100, 50, 20), "20ms": (20,)}


def spell(pair: str) -> str:
    return concat_symbol(pair, "_")  # the venue writes BTC_USDT


class _GateBase(TableSymbols, MarketDataBase):
    """What spot and futures share: request framing, symbols, the frame dispatch, the book
    update and the REST snapshot. Subclasses say how levels, payloads and trades look."""

    sync_rule = SyncRule.SEQ_RANGE
    max_pairs_per_connection = 100
    rest_url = REST_URL
    prefix = ""  # "spot" / "futures"
    rest_path = ""  # "/spot/order_book" / "/futures/usdt/order_book"
    rest_symbol_param = ""  # "currency_pair" / "contract"
    #: units per second of the REST order book's ``update``/``current`` (spot ms, futures s)
    rest_time_unit = 1.0

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.instruments = InstrumentTable(self.name, spell)

    def _msg(self, channel: str, event: str, payload: list) -> str:
        return dumps({"time": int(self._clock()), "channel": channel, "event": event,
                      "payload": payload})

    # -- subscriptions ------------------------------------------------------------------------
    def _book_payload(self, symbol: str, subscribe: bool) -> list:
        raise NotImplementedError

    def _subscription(self, event: str, pairs: Sequence[str]) -> list[str]:
        if not pairs:
            return []
        syms = [self.to_venue_symbol(p) for p in pairs]
        book = self.prefix + ".order_book_update"
        out = [self._msg(book, event, self._book_payload(s, event == "subscribe")) for s in syms]
        out.append(self._msg(self.prefix + ".trades", event, syms))
        return out

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._subscription("subscribe", pairs)

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        return self._subscription("unsubscribe", pairs)

    def snapshot_request(self, pair: str) -> Optional[RestRequest]:
        return RestRequest(
            self.rest_url + self.rest_path,
            {self.rest_symbol_param: self.to_venue_symbol(pair), "limit": self.max_depth,
             "with_id": "true"},
        )

    def parse_snapshot(self, pair: str, body: bytes) -> BookSnapshot:
        d = as_dict(load_json(body), f"gate {self.prefix} order book")
        if "id" not in d:
            raise ParseError(f"gate order book without id (label={d.get('label')!r:.40})")
        when = d.get("update", d.get("current"))
        return BookSnapshot(
            pair, self._levels(d.get("bids"), "gate bids"), self._levels(d.get("asks"), "gate asks"),
            as_int(d["id"], "gate id"), to_seconds(when, self.rest_time_unit, "gate update"),
        )

    # -- frames -------------------------------------------------------------------------------
    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        msg = load_json(raw)
        if type(msg) is not dict:
            raise ParseError(f"gate: unexpected frame {str(raw)[:80]!r}")
        channel = msg.get("channel")
        event = msg.get("event")
        if type(channel) is not str:
            raise ParseError(f"gate: frame without channel {str(raw)[:80]!r}")
        if event == "update":
            if channel == self.prefix + ".order_book_update":
                return [self._book(as_dict(msg.get("result"), "gate order book update"))]
            if channel == self.prefix + ".trades":
                return self._trades(msg.get("result"))
            return [Ignored(f"channel {channel[:40]}")]  # tickers, candlesticks...: not subscribed here
        if channel == self.prefix + ".pong":
            return [Heartbeat()]
        error = msg.get("error")
        if error:
            log.warning("gate %s %s error: %s", channel, event, error)
            if channel == self.prefix + ".order_book_update" and event == "subscribe":
                payload = msg.get("payload")
                if type(payload) is list and payload and type(payload[0]) is str:
                    try:
                        return [Resync(self.from_venue_symbol(payload[0]), str(error))]
                    except ParseError:  # a symbol not ours: nothing to resync
                        return []
        return []  # subscribe / unsubscribe acknowledgements, other channels

    def _book(self, r: dict) -> MarketEvent:
        pair = self.from_venue_symbol(as_str(r.get("s"), "gate s"))
        bids = self._levels(r.get("b"), "gate b")
        asks = self._levels(r.get("a"), "gate a")
        last = as_int(r.get("u"), "gate u")
        ts = ms_to_seconds(r.get("t"), "gate t")
        if r.get("full") is True:
            return BookSnapshot(pair, bids, asks, last, ts)
        return BookDiff(pair, bids, asks, as_int(r.get("U"), "gate U"), last, None, ts)

    def _book_frame(self, **rows: Any) -> DiffFrame:
        """The shape of ``<prefix>.order_book_update`` pushes (``diff_frame``); ``rows``: how
        the levels look (``DiffFrame.check_levels`` / ``level_keys``), as ``_levels`` reads them."""
        return DiffFrame(
            loads=json_loads, parse_decoded=None, symbols=None, envelope="result", event_key=None,
            event=None, symbol_key="s", first_key="U", last_key="u", bids_key="b", asks_key="a",
            time_key="t", match=(("event", "update"), ("channel", self.prefix + ".order_book_update")),
            absent=(("result", "full"),), missing_side_empty=True, **rows)

    def _levels(self, rows: Any, what: str) -> list:
        raise NotImplementedError

    def _trades(self, result: Any) -> list[MarketEvent]:
        raise NotImplementedError


class GateSpotMarketData(_GateBase):
    """Gate.io spot: ``spot.order_book_update`` + REST ``/spot/order_book?with_id=true``."""

    name = "gate_io"
    prefix = "spot"
    rest_path = "/spot/order_book"
    rest_symbol_param = "currency_pair"
    rest_time_unit = 1000.0
    ws_url = "wss://api.gateio.ws/ws/v4/"
    ping_interval = 10.0
    ping_message = '{"channel":"spot.ping"}'

    def __init__(self, interval: str = "100ms", clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        if interval not in SPOT_INTERVALS:
            raise ValueError(f"Gate spot interval must be one of {list(SPOT_INTERVALS)}")
        self.interval = interval
        self.max_depth = SPOT_INTERVALS[interval]
        #: ``spot.order_book_update`` pushes, for the tracker's compiled frame path
        self.diff_frame = self._book_frame(check_levels=True)

    def parse_listing(self, body: Union[str, bytes]) -> list:
        """``GET /spot/currency_pairs``: ``[{"id": "ETH_USDT", "base": "ETH", "quote": "USDT",
        ...}]``."""
        return listed_instruments(load_json(body), "gate currency_pairs", "id", "base", "quote")

    def _book_payload(self, symbol: str, subscribe: bool) -> list:
        return [symbol, self.interval]

    def _levels(self, rows: Any, what: str) -> list:
        return levels([] if rows is None else rows, what)

    def _trades(self, result: Any) -> list[MarketEvent]:
        rows = [result] if type(result) is dict else as_list(result, "gate spot.trades")
        out: list[MarketEvent] = []
        for t in rows:
            t = as_dict(t, "gate trade")
            side = t.get("side")
            if side not in ("buy", "sell"):
                raise ParseError(f"gate: bad trade side {side!r:.20}")
            out.append(Trade(
                self.from_venue_symbol(as_str(t.get("currency_pair"), "gate currency_pair")),
                str(t.get("id", "")), as_str(t.get("price"), "gate price"),
                as_str(t.get("amount"), "gate amount"), side, _trade_time(t),
            ))
        return out


class GatePerpetualMarketData(_GateBase):
    """Gate.io USDT-settled futures: ``futures.order_book_update`` + REST
    ``/futures/usdt/order_book?with_id=true``. Sizes are contract counts."""

    name = "gate_io_perpetual"
    prefix = "futures"
    rest_path = "/futures/usdt/order_book"
    rest_symbol_param = "contract"
    rest_time_unit = 1.0  # futures order book ``current``/``update``: seconds (float)
    ws_url = "wss://fx-ws.gateio.ws/v4/ws/usdt"
    ping_interval = 10.0
    ping_message = '{"channel":"futures.ping"}'

    def __init__(self, frequency: str = "100ms", level: int = 100,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        if level not in FUTURES_LEVELS.get(frequency, ()):
            raise ValueError(f"Gate futures (frequency, level) must be one of {FUTURES_LEVELS}")
        self.frequency = frequency
        self.level = level
        self.max_depth = level
        #: ``futures.order_book_update`` pushes (level objects), for the tracker's compiled frame path
        self.diff_frame = self._book_frame(level_keys=("p", "s"))

    def parse_listing(self, body: Union[str, bytes]) -> list:
        """``GET /futures/usdt/contracts``: ``[{"name": "BTC_USDT", ...}]`` (the contract's
        name is BASE_QUOTE)."""
        return listed_instruments(load_json(body), "gate contracts", "name", sep="_")

    def _book_payload(self, symbol: str, subscribe: bool) -> list:
        # docs: subscribe [contract, frequency, level]; unsubscribe [contract, frequency]
        return [symbol, self.frequency, str(self.level)] if subscribe else [symbol, self.frequency]

    def _levels(self, rows: Any, what: str) -> list:
        """Futures levels ``[{"p": "price", "s": size}, ...]`` -> ``[[price, size], ...]``."""
        out = []
        for row in as_list([] if rows is None else rows, what):
            if type(row) is not dict:
                raise ParseError(f"{what}: bad level {row!r:.60}")
            p, s = row.get("p"), row.get("s")
            if type(p) is not str or type(s) not in (int, str):
                raise ParseError(f"{what}: bad level {row!r:.60}")
            out.append([p, s if type(s) is str else str(s)])
        return out

    def _trades(self, result: Any) -> list[MarketEvent]:
        out: list[MarketEvent] = []
        for t in as_list(result, "gate futures.trades"):
            t = as_dict(t, "gate trade")
            size = _contracts(t.get("size"))
            out.append(Trade(
                self.from_venue_symbol(as_str(t.get("contract"), "gate contract")),
                str(t.get("id", "")), as_str(t.get("price"), "gate price"), str(abs(size)),
                "buy" if size > 0 else "sell",  # positive size: the taker bought
                _trade_time(t),
            ))
        return out


def _trade_time(t: dict) -> float:
    """``create_time_ms`` (ms, a number or a decimal string) or else ``create_time`` (s)."""
    ms = t.get("create_time_ms")
    if ms is not None:
        return to_seconds(ms, 1000.0, "gate create_time_ms")
    return to_seconds(t.get("create_time"), 1.0, "gate create_time")


def _contracts(size: Any) -> Decimal:
    """A futures trade size: signed contract count (integer, or decimal text), never zero."""
    if type(size) is int or type(size) is str:
        try:
            value = Decimal(size)
        except (InvalidOperation, ValueError):
            value = Decimal(0)
        if value.is_finite() and value != 0:
            return value
    raise ParseError(f"gate: bad trade size {size!r:.20}")


MARKET_DATA: dict = {
    "gate_io": GateSpotMarketData(),
    "gate_io_perpetual": GatePerpetualMarketData(),
}
