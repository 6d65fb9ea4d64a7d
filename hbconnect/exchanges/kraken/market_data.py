"""Kraken spot market data: pure translation of the websocket ``book`` and ``trade`` channels.

Sync rule (docs.kraken.com, "Spot Websockets (v1) Book Checksum" and "(v2) Book Checksum"):
the snapshot comes in-band after subscribing; updates carry absolute sizes (0 deletes) and no
sequence ids; after each message the book is truncated to the subscribed depth (Kraken sends no
delete for levels that fall out of scope) and the CRC32 of the top 10 asks + top 10 bids, over the
exact decimal text with '.' removed and leading zeros stripped, must equal the checksum the
message carries (v1: updates only, field ``c``; v2: snapshots and updates, ``checksum``).
A resync is an unsubscribe + subscribe of the pair's book, which makes Kraken send a new snapshot.

v1 (``wss://ws.kraken.com``, what Hummingbot uses and the fixture recorded) is the registry
default; v2 (``wss://ws.kraken.com/v2``) is ``KrakenV2MarketData``.

Symbols map back to pairs through the instrument table only (never split on the "/"): v1 names
pairs by the AssetPairs listing's ``wsname`` (``GET /0/public/AssetPairs``: ``{"error": [],
"result": {"XXBTZUSD": {"wsname": "XBT/USD", ...}}}``, legacy codes XBT and XDG for BTC and
DOGE), v2 by the ``instrument`` channel's ``pairs[].symbol`` (``BTC/USD``, with ``base`` and
``quote``); ``load_symbols`` takes those bodies. A symbol neither listed nor the spelling of a pair
asked for is an ``UnknownSymbol`` (a ``ParseError``).

A v1 book frame too broken to translate raises ``ParseError`` with ``.pair`` set when the pair can
be told (from the frame, or from the channel id of a truncated one): the checksum covers only the
top 10 levels, so a lost update deeper down is caught only by resyncing that pair.
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Sequence, Union

from hbconnect.exchanges._common import (
    MarketDataBase,
    ParseError,
    TableSymbols,
    as_dict,
    as_list,
    as_str,
    dumps,
    iso_to_seconds,
    levels,
    listed_instruments,
    load_json,
    load_json_exact,
    split_pair,
    to_seconds,
)
from hbconnect.exchanges._instruments import Instrument, InstrumentTable
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    DiffFrame,
    Heartbeat,
    Ignored,
    MarketEvent,
    Resync,
    SyncRule,
    Trade,
)

log = logging.getLogger(__name__)

#: Book depths Kraken accepts in a ``book`` subscription (v1 and v2).
DEPTHS = (10, 25, 100, 500, 1000)

# v1 websocket names use Kraken's legacy asset codes for these two (AssetPairs ``wsname``).
_V1_CODES = {"BTC": "XBT", "DOGE": "XDG"}
_V1_BACK = {v: k for k, v in _V1_CODES.items()}


def kraken_checksum(book: Any) -> int:
    """Kraken's CRC32 over the book's top 10 levels (exact text), via the book core."""
    return book.checksum_kraken()


def spell_v1(pair: str) -> str:
    """The v1 websocket name of a pair: ``BTC-USD`` -> ``XBT/USD``."""
    base, quote = split_pair(pair)
    return f"{_V1_CODES.get(base, base)}/{_V1_CODES.get(quote, quote)}"


def spell_v2(pair: str) -> str:
    """The v2 symbol of a pair: ``BTC-USD`` -> ``BTC/USD``."""
    base, quote = split_pair(pair)
    return f"{base}/{quote}"


class _KrakenBase(TableSymbols, MarketDataBase):
    sync_rule = SyncRule.CHECKSUM
    max_pairs_per_connection = 100
    sends_checksum = True
    spell = staticmethod(spell_v1)

    def __init__(self, depth: int = 1000) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"Kraken book depth must be one of {DEPTHS}, got {depth}")
        self.depth = depth
        self.max_depth = depth
        self.instruments = InstrumentTable(self.name, type(self).spell)

    def checksum(self, book: Any) -> int:
        return kraken_checksum(book)

    def _known(self, symbol: str) -> Optional[str]:
        """The pair of ``symbol`` in an acknowledgement or error, None when it is not ours."""
        try:
            return self.from_venue_symbol(symbol)
        except ParseError:
            return None


class KrakenMarketData(_KrakenBase):
    """Kraken websocket v1: ``[channelID, {...}, channelName, pair]`` arrays."""

    name = "kraken"
    ws_url = "wss://ws.kraken.com"
    ping_interval = 30.0
    ping_message = '{"event":"ping"}'

    def __init__(self, depth: int = 1000) -> None:
        super().__init__(depth)
        # channelID of a book subscription -> pair: only used to name the pair of a frame too
        # broken to parse (see ``parse_message``); bounded, as ids are not reused reliably.
        self._book_channels: dict[int, str] = {}
        #: book updates, for the tracker's compiled frame path (``DiffFrame.array_frame``)
        self.diff_frame = DiffFrame(
            loads=load_json, parse_decoded=None, symbols=None, envelope=None, event_key=None, event="book",
            symbol_key=None, first_key=None, last_key="", bids_key="b", asks_key="a", checksum_key="c",
            book_checksum=("checksum_kraken",), absent=("as", "bs"), array_frame=True,
            channel_ids=self._book_channels, row_time=2)

    # -- symbols ------------------------------------------------------------------------------
    def parse_listing(self, body: Union[str, bytes]) -> list:
        """The pairs of ``GET /0/public/AssetPairs`` that have a websocket name (``wsname``
        "XBT/USD"; darkpool pairs have none), as registry pairs (XBT, XDG: BTC, DOGE)."""
        msg = as_dict(load_json(body), "kraken AssetPairs")
        if msg.get("error"):
            raise ParseError(f"kraken AssetPairs: error {str(msg.get('error'))[:80]!r}")
        result = as_dict(msg.get("result"), "kraken AssetPairs result")
        rows = [r for r in result.values() if type(r) is not dict or "wsname" in r]
        return [_instrument(ins.symbol, _V1_BACK.get(ins.base, ins.base), _V1_BACK.get(ins.quote, ins.quote))
                for ins in listed_instruments(rows, "kraken AssetPairs", "wsname", sep="/")]

    # -- subscriptions ------------------------------------------------------------------------
    def _sub(self, event: str, pairs: Sequence[str], subscription: dict) -> str:
        syms = [self.to_venue_symbol(p) for p in pairs]
        return dumps({"event": event, "pair": syms, "subscription": subscription})

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        if not pairs:
            return []
        return [
            self._sub("subscribe", pairs, {"name": "book", "depth": self.depth}),
            self._sub("subscribe", pairs, {"name": "trade"}),
        ]

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        if not pairs:
            return []
        return [
            self._sub("unsubscribe", pairs, {"name": "book", "depth": self.depth}),
            self._sub("unsubscribe", pairs, {"name": "trade"}),
        ]

    def resync_messages(self, pair: str) -> list[str]:
        sub = {"name": "book", "depth": self.depth}
        return [self._sub("unsubscribe", [pair], sub), self._sub("subscribe", [pair], sub)]

    # -- frames -------------------------------------------------------------------------------
    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        try:
            msg = load_json(raw)
        except ParseError as exc:
            # A truncated book frame still starts with its channel id: name the pair so that the
            # tracker can resync it (the checksum alone misses a lost update below the top 10).
            exc.pair = self._pair_of_channel(raw)  # type: ignore[attr-defined]
            raise
        if type(msg) is list:
            if len(msg) < 4 or type(msg[-2]) is not str or type(msg[-1]) is not str:
                err = ParseError(f"kraken: unknown array frame {str(raw)[:80]!r}")
                err.pair = self._pair_of_channel(raw)  # type: ignore[attr-defined]
                raise err
            channel = msg[-2]
            pair = self.from_venue_symbol(msg[-1])
            if channel.startswith("book"):
                if type(msg[0]) is int:
                    self._remember_channel(msg[0], pair)
                try:
                    return [self._book(pair, msg[1:-2])]
                except ParseError as exc:
                    exc.pair = pair  # type: ignore[attr-defined]
                    raise
            if channel == "trade":
                return self._trades(pair, msg[1])
            return [Ignored(f"channel {channel[:40]}")]  # ticker, spread, ohlc: not subscribed here
        if type(msg) is dict:
            return self._event(msg)
        raise ParseError(f"kraken: unexpected frame {str(raw)[:80]!r}")

    def _remember_channel(self, channel_id: int, pair: str) -> None:
        if channel_id in self._book_channels or len(self._book_channels) < 10_000:
            self._book_channels[channel_id] = pair

    def _pair_of_channel(self, raw: Union[str, bytes]) -> Optional[str]:
        head = raw[:24] if isinstance(raw, str) else bytes(raw[:24]).decode("ascii", "replace")
        if not head.startswith("["):
            return None
        digits = head[1:].partition(",")[0].strip()
        # ASCII digits only: str.isdigit() also accepts '²', which int() refuses with ValueError
        return self._book_channels.get(int(digits)) if digits.isascii() and digits.isdigit() else None

    def _book(self, pair: str, parts: list) -> MarketEvent:
        if not parts:
            raise ParseError("kraken: book frame without data")
        first = as_dict(parts[0], "kraken book")
        if "as" in first or "bs" in first:
            return BookSnapshot(
                pair,
                levels(first.get("bs", []), "kraken bs"),
                levels(first.get("as", []), "kraken as"),
                0,
            )
        # Updates: up to two maps ({"a": ...} and {"b": ..., "c": ...}); the checksum sits in
        # the last one and covers the book after all of them.
        asks: list = []
        bids: list = []
        checksum = None
        last: list = []
        for part in parts:
            part = as_dict(part, "kraken book update")
            if "a" in part:
                asks.extend(levels(part["a"], "kraken a"))
                last = part["a"][-1] if part["a"] else last
            if "b" in part:
                bids.extend(levels(part["b"], "kraken b"))
                last = part["b"][-1] if part["b"] else last
            if "c" in part:
                checksum = _checksum_field(part["c"])
        if not last:
            raise ParseError(f"kraken: book update without levels for {pair}")
        ts = to_seconds(last[2], 1.0, "kraken level time") if len(last) > 2 else 0.0
        return BookDiff(pair, bids, asks, 0, 0, None, ts, checksum)

    def _trades(self, pair: str, rows: Any) -> list[MarketEvent]:
        out: list[MarketEvent] = []
        for row in as_list(rows, "kraken trade"):
            if type(row) is not list or len(row) < 4:
                raise ParseError(f"kraken: bad trade {row!r:.80}")
            price, amount, ts, side = row[0], row[1], row[2], row[3]
            if side not in ("b", "s"):
                raise ParseError(f"kraken: bad trade side {side!r}")
            out.append(
                Trade(pair, as_str(ts, "kraken trade time"), as_str(price, "kraken trade price"),
                      as_str(amount, "kraken trade volume"), "buy" if side == "b" else "sell",
                      to_seconds(ts, 1.0, "kraken trade time"))
            )
        return out

    def _event(self, msg: dict) -> list[MarketEvent]:
        event = msg.get("event")
        if event == "heartbeat":
            return [Heartbeat()]
        if event == "subscriptionStatus" and msg.get("status") == "subscribed":
            name = msg.get("channelName")
            if type(name) is str and name.startswith("book") and type(msg.get("channelID")) is int \
                    and type(msg.get("pair")) is str:
                pair = self._known(msg["pair"])
                if pair is not None:
                    self._remember_channel(msg["channelID"], pair)
            return []
        if event == "subscriptionStatus" and msg.get("status") == "error":
            sub = msg.get("subscription")
            error = str(msg.get("errorMessage"))
            log.warning("kraken subscription error: %s", error)
            # "Subscription Not Found" answers the unsubscribe half of a resync of a book that
            # was not subscribed: the subscribe half that follows brings the snapshot.
            if type(sub) is dict and sub.get("name") == "book" and type(msg.get("pair")) is str \
                    and "not found" not in error.lower():
                pair = self._known(msg["pair"])
                return [Resync(pair, error)] if pair is not None else []
            return []
        if event in ("systemStatus", "subscriptionStatus", "pong"):
            return []
        if event == "error":
            log.warning("kraken error: %s", msg.get("errorMessage"))
            return []
        if event is None:
            raise ParseError(f"kraken: unknown object frame {str(msg)[:80]!r}")
        return []


class KrakenV2MarketData(_KrakenBase):
    """Kraken websocket v2: ``{"channel": "book", "type": "snapshot"|"update", "data": [...]}``.

    Prices and quantities are JSON numbers carrying the full precision; they are parsed as their
    exact text (the checksum is computed over it).
    """

    name = "kraken_v2"
    spell = staticmethod(spell_v2)
    ws_url = "wss://ws.kraken.com/v2"
    ping_interval = 30.0
    ping_message = '{"method":"ping"}'

    def parse_listing(self, body: Union[str, bytes]) -> list:
        """The pairs of an ``instrument`` channel snapshot: ``{"channel": "instrument", "type":
        "snapshot", "data": {"assets": [...], "pairs": [{"symbol": "BTC/USD", "base": "BTC",
        "quote": "USD", ...}]}}``."""
        msg = as_dict(load_json(body), "kraken v2 instrument")
        if msg.get("channel") != "instrument" or msg.get("type") != "snapshot":
            raise ParseError("kraken v2: not an instrument snapshot")
        data = as_dict(msg.get("data"), "kraken v2 instrument data")
        return listed_instruments(data.get("pairs"), "kraken v2 instrument pairs", "symbol", "base", "quote")

    def _req(self, method: str, channel: str, pairs: Sequence[str], **extra: Any) -> str:
        params = {"channel": channel, "symbol": [self.to_venue_symbol(p) for p in pairs]}
        params.update(extra)
        return dumps({"method": method, "params": params})

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        if not pairs:
            return []
        return [
            self._req("subscribe", "book", pairs, depth=self.depth, snapshot=True),
            self._req("subscribe", "trade", pairs, snapshot=False),
        ]

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        if not pairs:
            return []
        return [
            self._req("unsubscribe", "book", pairs, depth=self.depth),
            self._req("unsubscribe", "trade", pairs),
        ]

    def resync_messages(self, pair: str) -> list[str]:
        return [
            self._req("unsubscribe", "book", [pair], depth=self.depth),
            self._req("subscribe", "book", [pair], depth=self.depth, snapshot=True),
        ]

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        msg = load_json_exact(raw, "kraken v2", int_text=True)
        if type(msg) is not dict:
            raise ParseError(f"kraken v2: unexpected frame {str(raw)[:80]!r}")
        channel = msg.get("channel")
        if channel == "book":
            kind = msg.get("type")
            if kind not in ("snapshot", "update"):
                raise ParseError(f"kraken v2: bad book type {kind!r}")
            return [self._book(kind, as_dict(d, "kraken v2 book")) for d in
                    as_list(msg.get("data"), "kraken v2 book data")]
        if channel == "trade":
            return [self._trade(as_dict(d, "kraken v2 trade")) for d in
                    as_list(msg.get("data"), "kraken v2 trade data")]
        if channel == "heartbeat":
            return [Heartbeat()]
        if "method" in msg:
            if msg.get("success") is False:
                # {"error": "...", "method": "subscribe", "success": false, "symbol": "BTC/USD",
                #  "time_in": ..., "time_out": ...}: the failure names the symbol, not the channel.
                # A failed unsubscribe (the first half of a resync) needs no action.
                log.warning("kraken v2 %s failed: %s", msg.get("method"), msg.get("error"))
                result = msg.get("result")
                sym = result.get("symbol") if type(result) is dict else msg.get("symbol")
                chan = result.get("channel") if type(result) is dict else None
                pair = self._known(sym) if type(sym) is str else None
                if msg.get("method") == "subscribe" and pair is not None and chan in ("book", None):
                    return [Resync(pair, str(msg.get("error")))]
            return []  # acks of subscribe / unsubscribe, pong
        if channel is None:
            raise ParseError(f"kraken v2: unknown frame {str(raw)[:80]!r}")
        if channel == "status":
            return []
        return [Ignored(f"channel {str(channel)[:40]}")]  # ticker, ohlc, ...: not subscribed here

    def _book(self, kind: str, d: dict) -> MarketEvent:
        pair = self.from_venue_symbol(as_str(d.get("symbol"), "kraken v2 symbol"))
        bids = _v2_levels(d.get("bids", []), "kraken v2 bids")
        asks = _v2_levels(d.get("asks", []), "kraken v2 asks")
        checksum = _checksum_field(d["checksum"]) if "checksum" in d else None
        ts = d.get("timestamp")
        when = iso_to_seconds(ts) if ts is not None else 0.0
        if kind == "snapshot":
            return BookSnapshot(pair, bids, asks, 0, when, checksum)
        return BookDiff(pair, bids, asks, 0, 0, None, when, checksum)

    def _trade(self, d: dict) -> Trade:
        pair = self.from_venue_symbol(as_str(d.get("symbol"), "kraken v2 symbol"))
        side = d.get("side")
        if side not in ("buy", "sell"):
            raise ParseError(f"kraken v2: bad trade side {side!r}")
        ts = d.get("timestamp")
        return Trade(
            pair,
            str(d.get("trade_id", "")),
            as_str(d.get("price"), "kraken v2 trade price"),
            as_str(d.get("qty"), "kraken v2 trade qty"),
            side,
            iso_to_seconds(ts) if ts is not None else 0.0,
        )


def _instrument(symbol: str, base: str, quote: str) -> Instrument:
    return Instrument(f"{base}-{quote}", symbol, base, quote)


def _checksum_field(value: Any) -> int:
    """The checksum as sent: decimal digits (v1 ``c``, v2 numbers read as text) or an integer."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 10:
        c = int(value)
    elif type(value) is int:
        c = value
    else:
        raise ParseError(f"kraken: bad checksum {value!r:.40}")
    if not 0 <= c <= 0xFFFFFFFF:
        raise ParseError(f"kraken: checksum out of range {c}")
    return c


def _v2_levels(rows: Any, what: str) -> list:
    out = []
    for row in as_list(rows, what):
        if type(row) is not dict:
            raise ParseError(f"{what}: bad level {row!r:.60}")
        out.append([as_str(row.get("price"), what), as_str(row.get("qty"), what)])
    return out


MARKET_DATA: dict = {
    "kraken": KrakenMarketData(),
    "kraken_v2": KrakenV2MarketData(),
}
