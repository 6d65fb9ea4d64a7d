"""Gate.io spot (API v4) and USDT-settled perpetual market data: pure translation.

Both follow Gate's "How to maintain local order book" (spot websocket v4 docs, "Order Book
Channel"; futures websocket docs, "Order Book API"; coincise ``docs/gateio/spot/websocket_api.md``,
``docs/gateio/futures/websocket_api.md``): cache ``*.order_book_update`` notifications (``U``/``u``
= first/last order book update id), fetch the REST order book ``with_id=true`` (its ``id`` is the
base id), drop notifications with ``u < id + 1``, start from the one with ``U <= id + 1 <= u``,
then any ``U > previous u + 1`` is a gap (rebuild from REST). Sync rule: SEQ_RANGE.
Amounts are absolute; 0 deletes the level. A notification with ``full: true`` is a complete book
of the subscribed depth that replaces the local one (sent as an in-band ``BookSnapshot``).

The ``100ms`` spot stream maintains a 100-level book (``20ms``: 20 levels), the futures stream the
``level`` it was subscribed with; the book is truncated to that depth (``max_depth``).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional, Sequence, Union

from hbconnect.exchanges._common import (
    MarketDataBase,
    ParseError,
    as_dict,
    as_int,
    as_list,
    as_str,
    dumps,
    levels,
    load_json,
    ms_to_seconds,
    split_pair,
)
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    Heartbeat,
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


class _GateBase(MarketDataBase):
    sync_rule = SyncRule.SEQ_RANGE
    max_pairs_per_connection = 100
    prefix = ""  # "spot" / "futures"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    # Gate's request time must be within 60 s of the server's; the engine builds these
    # messages right before sending them.
    def _msg(self, channel: str, event: str, payload: list) -> str:
        return dumps({"time": int(self._clock()), "channel": channel, "event": event,
                      "payload": payload})

    def to_venue_symbol(self, pair: str) -> str:
        base, quote = split_pair(pair)
        return f"{base}_{quote}"

    def from_venue_symbol(self, symbol: str) -> str:
        base, sep, quote = symbol.partition("_")
        if not sep or not base or not quote or "_" in quote:
            raise ParseError(f"gate: bad currency pair {symbol!r:.40}")
        return f"{base}-{quote}"

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
            return []
        if channel == self.prefix + ".pong":
            return [Heartbeat()]
        error = msg.get("error")
        if error:
            log.warning("gate %s %s error: %s", channel, event, error)
            if channel == self.prefix + ".order_book_update" and event == "subscribe":
                payload = msg.get("payload")
                if type(payload) is list and payload and type(payload[0]) is str:
                    return [Resync(self.from_venue_symbol(payload[0]), str(error))]
        return []  # subscribe / unsubscribe acknowledgements, other channels

    # -- provided by subclasses ---------------------------------------------------------------
    def _book(self, result: dict) -> MarketEvent:
        raise NotImplementedError

    def _trades(self, result: Any) -> list[MarketEvent]:
        raise NotImplementedError


class GateSpotMarketData(_GateBase):
    """Gate.io spot: ``spot.order_book_update`` + REST ``/spot/order_book?with_id=true``."""

    name = "gate_io"
    prefix = "spot"
    ws_url = "wss://api.gateio.ws/ws/v4/"
    ping_interval = 10.0
    ping_message = '{"channel":"spot.ping"}'

    def __init__(self, interval: str = "100ms", clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        if interval not in SPOT_INTERVALS:
            raise ValueError(f"Gate spot interval must be one of {list(SPOT_INTERVALS)}")
        self.interval = interval
        self.max_depth = SPOT_INTERVALS[interval]

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        if not pairs:
            return []
        syms = [self.to_venue_symbol(p) for p in pairs]
        out = [self._msg("spot.order_book_update", "subscribe", [s, self.interval]) for s in syms]
        out.append(self._msg("spot.trades", "subscribe", syms))
        return out

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        if not pairs:
            return []
        syms = [self.to_venue_symbol(p) for p in pairs]
        out = [self._msg("spot.order_book_update", "unsubscribe", [s, self.interval]) for s in syms]
        out.append(self._msg("spot.trades", "unsubscribe", syms))
        return out

    def snapshot_request(self, pair: str) -> Optional[RestRequest]:
        return RestRequest(
            f"{REST_URL}/spot/order_book",
            {"currency_pair": self.to_venue_symbol(pair), "limit": self.max_depth,
             "with_id": "true"},
        )

    def parse_snapshot(self, pair: str, body: bytes) -> BookSnapshot:
        d = as_dict(load_json(body), "gate order book")
        if "id" not in d:
            raise ParseError(f"gate order book without id (label={d.get('label')!r:.40})")
        return BookSnapshot(
            pair, levels(d.get("bids"), "gate bids"), levels(d.get("asks"), "gate asks"),
            as_int(d["id"], "gate id"), ms_to_seconds(d.get("update", d.get("current"))),
        )

    def _book(self, r: dict) -> MarketEvent:
        pair = self.from_venue_symbol(as_str(r.get("s"), "gate s"))
        bids = levels(r.get("b", []), "gate b")
        asks = levels(r.get("a", []), "gate a")
        last = as_int(r.get("u"), "gate u")
        ts = ms_to_seconds(r.get("t"))
        if r.get("full") is True:
            return BookSnapshot(pair, bids, asks, last, ts)
        return BookDiff(pair, bids, asks, as_int(r.get("U"), "gate U"), last, None, ts)

    def _trades(self, result: Any) -> list[MarketEvent]:
        rows = [result] if type(result) is dict else as_list(result, "gate spot.trades")
        out: list[MarketEvent] = []
        for t in rows:
            t = as_dict(t, "gate trade")
            side = t.get("side")
            if side not in ("buy", "sell"):
                raise ParseError(f"gate: bad trade side {side!r:.20}")
            ts = t.get("create_time_ms")
            out.append(Trade(
                self.from_venue_symbol(as_str(t.get("currency_pair"), "gate currency_pair")),
                str(t.get("id", "")), as_str(t.get("price"), "gate price"),
                as_str(t.get("amount"), "gate amount"), side,
                float(ts) / 1000.0 if type(ts) in (str, int, float) and ts else
                float(t.get("create_time") or 0),
            ))
        return out


class GatePerpetualMarketData(_GateBase):
    """Gate.io USDT-settled futures: ``futures.order_book_update`` + REST
    ``/futures/usdt/order_book?with_id=true``. Sizes are integer contract counts."""

    name = "gate_io_perpetual"
    prefix = "futures"
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

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        if not pairs:
            return []
        syms = [self.to_venue_symbol(p) for p in pairs]
        out = [self._msg("futures.order_book_update", "subscribe",
                         [s, self.frequency, str(self.level)]) for s in syms]
        out.append(self._msg("futures.trades", "subscribe", syms))
        return out

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        if not pairs:
            return []
        syms = [self.to_venue_symbol(p) for p in pairs]
        out = [self._msg("futures.order_book_update", "unsubscribe", [s, self.frequency])
               for s in syms]
        out.append(self._msg("futures.trades", "unsubscribe", syms))
        return out

    def snapshot_request(self, pair: str) -> Optional[RestRequest]:
        return RestRequest(
            f"{REST_URL}/futures/usdt/order_book",
            {"contract": self.to_venue_symbol(pair), "limit": self.level, "with_id": "true"},
        )

    def parse_snapshot(self, pair: str, body: bytes) -> BookSnapshot:
        d = as_dict(load_json(body), "gate futures order book")
        if "id" not in d:
            raise ParseError(f"gate futures order book without id (label={d.get('label')!r:.40})")
        ts = d.get("update", d.get("current"))
        return BookSnapshot(
            pair, _ps_levels(d.get("bids"), "gate bids"), _ps_levels(d.get("asks"), "gate asks"),
            as_int(d["id"], "gate id"), float(ts) if type(ts) in (int, float) else 0.0,
        )

    def _book(self, r: dict) -> MarketEvent:
        pair = self.from_venue_symbol(as_str(r.get("s"), "gate s"))
        bids = _ps_levels(r.get("b", []), "gate b")
        asks = _ps_levels(r.get("a", []), "gate a")
        last = as_int(r.get("u"), "gate u")
        ts = ms_to_seconds(r.get("t"))
        if r.get("full") is True:
            return BookSnapshot(pair, bids, asks, last, ts)
        return BookDiff(pair, bids, asks, as_int(r.get("U"), "gate U"), last, None, ts)

    def _trades(self, result: Any) -> list[MarketEvent]:
        out: list[MarketEvent] = []
        for t in as_list(result, "gate futures.trades"):
            t = as_dict(t, "gate trade")
            size = t.get("size")
            if type(size) is not int or size == 0:
                raise ParseError(f"gate: bad trade size {size!r:.20}")
            ts = t.get("create_time_ms")
            out.append(Trade(
                self.from_venue_symbol(as_str(t.get("contract"), "gate contract")),
                str(t.get("id", "")), as_str(t.get("price"), "gate price"), str(abs(size)),
                "buy" if size > 0 else "sell",  # positive size: the taker bought
                ms_to_seconds(ts) if ts is not None else float(t.get("create_time") or 0),
            ))
        return out


def _ps_levels(rows: Any, what: str) -> list:
    """Futures levels ``[{"p": "price", "s": size}, ...]`` -> ``[[price, size], ...]``."""
    out = []
    for row in as_list(rows if rows is not None else [], what):
        if type(row) is not dict:
            raise ParseError(f"{what}: bad level {row!r:.60}")
        p, s = row.get("p"), row.get("s")
        if type(p) is not str or type(s) not in (int, str):
            raise ParseError(f"{what}: bad level {row!r:.60}")
        out.append([p, s if type(s) is str else str(s)])
    return out


MARKET_DATA: dict = {
    "gate_io": GateSpotMarketData(),
    "gate_io_perpetual": GatePerpetualMarketData(),
}
