"""HTX (Huobi) spot market data: pure translation of the public market websocket.

Per HTX's "Websocket Market Data" docs (api.huobi.pro, mirrored in coincise
``docs/htx/spot/public_websocket_api.md``):

* every frame from the server is gzip-compressed JSON; ``{"ping": n}`` must be answered with
  ``{"pong": n}`` on the same connection (two unanswered pings and the server disconnects);
* ``market.<sym>.depth.step0`` (on ``wss://api.huobi.pro/ws``) pushes the whole book (150
  levels) once a second; ``tick.version`` orders the pushes (drop smaller ones). Sync rule: SNAPSHOTS.
  This is the registry's ``htx`` (what Hummingbot uses and what the recorded session has);
* ``market.<sym>.mbp.<5|20|150>`` (on ``wss://api.huobi.pro/feed``) pushes incremental updates
  with ``seqNum``/``prevSeqNum``; the full image comes from ``{"req": "market.<sym>.mbp.<N>"}``
  answered with ``{"rep": ..., "data": {"seqNum", "bids", "asks"}}``. The cached increments are
  aligned on the one whose ``prevSeqNum`` equals the refresh ``seqNum``, then every
  ``prevSeqNum`` must equal the previous ``seqNum`` (else refresh again). Sync rule: PREV_CHAIN.
  REQ refresh exists for 5, 20 and 150 levels only; the 150/400-level feed sends an empty
  object for an unchanged side. HTX serves one ``req`` per connection every 100 ms (faster ones
  are answered ``429 too many request``, which comes back here as a ``Resync``): this variant's
  ``ws_message_rate`` (10/s) makes the tracker space what it sends. Registry id ``htx_mbp``;
* trades: ``market.<sym>.trade.detail`` (``tradeId``, ``direction`` = taker side).

Prices and sizes are JSON numbers (sometimes in exponent form, ``9.121E-7``). Book levels keep
each number's exact text (``1.1502E-4`` stays ``1.1502E-4``), as every venue's book does;
trades give the value as plain decimal text.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Optional, Sequence, Union


from hbconnect.core.codecs import DecodeError, InflateLimitError, gunzip
from hbconnect.exchanges._common import (
    MarketDataBase,
    ParseError,
    TableSymbols,
    as_dict,
    as_list,
    dumps,
    listed_instruments,
    load_json,
    load_json_exact,
    ms_to_seconds,
)
from hbconnect.exchanges._instruments import InstrumentTable, concat_symbol
from hbconnect.market.messages import (
    BookDiff,
    BookSnapshot,
    DiffFrame,
    Ignored,
    LostFrame,
    MarketEvent,
    Reply,
    Resync,
    SyncRule,
    Trade,
)

log = logging.getLogger(__name__)

MBP_LEVELS = (5, 20, 150)  # incremental depths that support the REQ refresh


def _loads(raw: Union[str, bytes]) -> Any:
    if isinstance(raw, (bytes, bytearray, memoryview)):
        data = bytes(raw)
        if data[:2] == b"\x1f\x8b":
            try:
                data = gunzip(data)  # bounded: at most codecs.INFLATE_LIMIT bytes out
            except InflateLimitError as exc:
                raise LostFrame(f"htx: {exc}") from None
            except DecodeError as exc:
                raise ParseError(f"htx: invalid gzip frame ({exc})") from None
        raw = data
    # HTX sends prices and sizes as JSON numbers: fractions are kept as their exact text
    # ("1.1502E-4" stays "1.1502E-4", as every other venue's book keeps the venue's text)
    return load_json_exact(raw, "htx frame")


def _num_text(value: Any, what: str) -> str:
    """A JSON number's text: fractions arrive as text already, integers as int."""
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    raise ParseError(f"{what}: expected a number, got {value!r:.40}")


def _levels(rows: Any, what: str) -> list:
    """``[[price, size], ...]`` of JSON numbers as their exact text (the book validates the
    values). A missing side, or the "blank object" the 150/400-level MBP feed sends for an
    unchanged side, is no level."""
    if rows is None or rows == {}:
        return []
    if type(rows) is not list:
        raise ParseError(f"{what}: expected an array of levels, got {rows!r:.60}")
    out = []
    for row in rows:
        if type(row) is not list or len(row) != 2 or type(row[0]) is str and not row[0] \
                or type(row[0]) not in (str, int) or type(row[1]) not in (str, int):
            raise ParseError(f"{what}: bad level {row!r:.60}")
        out.append([_num_text(row[0], what), _num_text(row[1], what)])
    return out


def _int(value: Any, what: str) -> int:
    if type(value) is int:
        return value
    raise ParseError(f"{what}: expected an integer, got {value!r:.40}")


def _plain(value: Any, what: str) -> str:
    """A trade's JSON number as plain decimal text (9.2E-7 -> "0.00000092"), from its exact text."""
    text = _num_text(value, what)
    try:
        d = Decimal(text)
    except ArithmeticError:
        raise ParseError(f"{what}: expected a number, got {text!r:.40}") from None
    if not d.is_finite():
        raise ParseError(f"{what}: expected a finite number, got {text!r:.40}")
    return format(d, "f") if "e" in text.lower() else text


def spell(pair: str) -> str:
    return concat_symbol(pair, lower=True)  # BTC-USDT -> btcusdt


class HtxMarketData(TableSymbols, MarketDataBase):
    """HTX spot. ``mbp_levels=None``: full-depth ``depth.step0`` pushes (SNAPSHOTS);
    ``mbp_levels`` in (5, 20, 150): incremental MBP with REQ refresh (PREV_CHAIN)."""

    max_pairs_per_connection = 50  # HTX advises few topics per connection; 2 topics per pair

    def __init__(self, mbp_levels: Optional[int] = None) -> None:
        if mbp_levels is None:
            self.name = "htx"
            self.sync_rule = SyncRule.SNAPSHOTS
            self.ws_url = "wss://api.huobi.pro/ws"
            self.max_depth = None
            self._book_suffix = "depth.step0"
        else:
            if mbp_levels not in MBP_LEVELS:
                raise ValueError(f"HTX mbp levels with REQ refresh: {MBP_LEVELS}, got {mbp_levels}")
            self.name = "htx_mbp"
            self.sync_rule = SyncRule.PREV_CHAIN
            self.ws_url = "wss://api.huobi.pro/feed"
            self.max_depth = mbp_levels
            self._book_suffix = f"mbp.{mbp_levels}"
            # one req per connection every 100 ms: the tracker paces what it sends to match
            self.ws_message_rate = 10.0
        self.mbp_levels = mbp_levels
        self.instruments = InstrumentTable(self.name, spell)
        #: the book pushes, for the tracker's compiled frame path: depth.step0 whole books
        #: (``tick.version``, ``tick.ts``) or mbp increments (``seqNum``/``prevSeqNum``, top ``ts``)
        step0 = mbp_levels is None
        self.diff_frame = DiffFrame(
            loads=_loads, parse_decoded=self.parse_decoded, symbols=None, envelope="tick", event_key=None,
            event=None, symbol_key=None, symbol_path=("ch",), symbol_prefix="market.",
            symbol_suffix="." + self._book_suffix, first_key=None, last_key="version" if step0 else "seqNum",
            prev_key=None if step0 else "prevSeqNum", bids_key="bids", asks_key="asks",
            time_key="ts" if step0 else None, time_path=None if step0 else ("ts",), time_required=step0,
            missing_side_empty=True, level_numbers=True, inflate=gunzip, snapshot=step0)

    # -- symbols ------------------------------------------------------------------------------
    def parse_listing(self, body: Union[str, bytes]) -> list:
        """``GET /v1/common/symbols``: ``{"status": "ok", "data": [{"symbol": "btcusdt",
        "base-currency": "btc", "quote-currency": "usdt", ...}]}``."""
        msg = as_dict(load_json(body), "htx symbols")
        if msg.get("status") != "ok":
            raise ParseError("htx symbols: not an ok listing")
        return listed_instruments(msg.get("data"), "htx symbols", "symbol", "base-currency", "quote-currency")

    def _topic(self, pair: str, suffix: str) -> str:
        return f"market.{self.to_venue_symbol(pair)}.{suffix}"

    # -- subscriptions ------------------------------------------------------------------------
    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        out = []
        for pair in pairs:
            book = self._topic(pair, self._book_suffix)
            out.append(dumps({"sub": book, "id": book}))
            trades = self._topic(pair, "trade.detail")
            out.append(dumps({"sub": trades, "id": trades}))
            if self.mbp_levels is not None:
                # the increments are cached by the tracker until this refresh image arrives
                out.append(dumps({"req": book, "id": "req:" + book}))
        return out

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        out = []
        for pair in pairs:
            for suffix in (self._book_suffix, "trade.detail"):
                topic = self._topic(pair, suffix)
                out.append(dumps({"unsub": topic, "id": topic}))
        return out

    def resync_messages(self, pair: str) -> list[str]:
        book = self._topic(pair, self._book_suffix)
        if self.mbp_levels is not None:
            return [dumps({"req": book, "id": "req:" + book})]
        return []  # depth.step0: the next push is a full book anyway

    # -- frames -------------------------------------------------------------------------------
    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        return self.parse_decoded(raw, _loads(raw))

    def parse_decoded(self, raw: Union[str, bytes], msg: Any) -> list[MarketEvent]:
        """``parse_message`` of a frame already decoded to ``msg`` (``diff_frame``)."""
        if type(msg) is not dict:
            raise ParseError(f"htx: unexpected frame {msg!r:.80}")
        ch = msg.get("ch")
        if ch is not None:
            if type(ch) is not str:
                raise ParseError(f"htx: bad channel {ch!r:.40}")
            parts = ch.split(".", 2)
            if len(parts) != 3 or parts[0] != "market":
                return [Ignored(f"channel {ch[:60]}")]
            kind = parts[2]
            if not kind.startswith(("depth.", "mbp.")) and kind != "trade.detail":
                return [Ignored(f"channel {ch[:60]}")]  # kline, detail, bbo...: not subscribed here
            pair = self.from_venue_symbol(parts[1])
            tick = as_dict(msg.get("tick"), f"htx {ch} tick")
            if kind.startswith("depth."):
                return [BookSnapshot(
                    pair, _levels(tick.get("bids"), "htx bids"), _levels(tick.get("asks"), "htx asks"),
                    _int(tick.get("version", msg.get("ts")), "htx version"),
                    ms_to_seconds(tick.get("ts", msg.get("ts"))),
                )]
            if kind.startswith("mbp."):
                if kind.startswith("mbp.refresh."):
                    return [BookSnapshot(
                        pair, _levels(tick.get("bids"), "htx bids"), _levels(tick.get("asks"), "htx asks"),
                        _int(tick.get("seqNum"), "htx seqNum"), ms_to_seconds(msg.get("ts")),
                    )]
                seq = _int(tick.get("seqNum"), "htx seqNum")
                return [BookDiff(
                    pair, _levels(tick.get("bids"), "htx bids"), _levels(tick.get("asks"), "htx asks"),
                    seq, seq, _int(tick.get("prevSeqNum"), "htx prevSeqNum"),
                    ms_to_seconds(msg.get("ts")),
                )]
            if kind == "trade.detail":
                return self._trades(pair, tick)
        if "ping" in msg:
            return [Reply(dumps({"pong": _int(msg["ping"], "htx ping")}))]
        rep = msg.get("rep")
        if rep is not None:
            return self._rep(msg, rep)
        status = msg.get("status")
        if status == "ok":
            return []  # sub / unsub acknowledgements
        if status == "error":
            return self._error(msg)
        if "pong" in msg:
            return []
        raise ParseError(f"htx: unknown frame {msg!r:.80}")

    def _rep(self, msg: dict, rep: Any) -> list[MarketEvent]:
        parts = str(rep).split(".", 2)
        if len(parts) != 3 or parts[0] != "market" or not parts[2].startswith("mbp."):
            return []
        pair = self.from_venue_symbol(parts[1])
        if msg.get("status") not in ("ok", None):
            log.warning("htx refresh failed for %s: %s", pair, msg.get("err-msg"))
            return [Resync(pair, str(msg.get("err-msg")))]
        data = as_dict(msg.get("data"), "htx refresh data")
        return [BookSnapshot(
            pair, _levels(data.get("bids"), "htx bids"), _levels(data.get("asks"), "htx asks"),
            _int(data.get("seqNum"), "htx seqNum"), ms_to_seconds(msg.get("ts")),
        )]

    def _error(self, msg: dict) -> list[MarketEvent]:
        ident = str(msg.get("id", ""))
        log.warning("htx error %s: %s (%s)", msg.get("err-code"), msg.get("err-msg"), ident)
        topic = ident[4:] if ident.startswith("req:") else ident
        parts = topic.split(".", 2)
        if len(parts) == 3 and parts[0] == "market" and parts[2] == self._book_suffix:
            return [Resync(self.from_venue_symbol(parts[1]), str(msg.get("err-msg")))]
        return []

    def _trades(self, pair: str, tick: dict) -> list[MarketEvent]:
        out: list[MarketEvent] = []
        for d in as_list(tick.get("data"), "htx trades"):
            d = as_dict(d, "htx trade")
            side = d.get("direction")
            if side not in ("buy", "sell"):
                raise ParseError(f"htx: bad trade direction {side!r:.20}")
            out.append(Trade(
                pair, str(d.get("tradeId", d.get("id", ""))), _plain(d.get("price"), "htx price"),
                _plain(d.get("amount"), "htx amount"), side,
                ms_to_seconds(d.get("ts")),
            ))
        return out


MARKET_DATA: dict = {
    "htx": HtxMarketData(),
    "htx_mbp": HtxMarketData(mbp_levels=150),
}
