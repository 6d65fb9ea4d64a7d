"""Small pure helpers shared by venue modules: JSON frames, field checks, symbols, timestamps.

Everything raises ``ParseError`` (the tracker counts and logs it) with a short excerpt of the
offending input; nothing here does I/O.
"""
from __future__ import annotations

import copy as _copy
import datetime as _dt
import json as _json
import logging
from typing import Any, Iterable, Iterator, Optional, Sequence, TypeVar

from hbconnect.core.codecs import DecodeError, excerpt, json_dumps, json_loads
from hbconnect.market.messages import ParseError, Resync, VenueCapabilities, WsEndpoint

__all__ = [
    "ParseError",
    "load_json",
    "load_json_exact",
    "dumps",
    "as_int",
    "as_str",
    "as_list",
    "as_dict",
    "levels",
    "ms_to_seconds",
    "to_seconds",
    "iso_to_seconds",
    "chunked",
    "pack_args",
    "split_pair",
    "MarketDataBase",
    "TableSymbols",
    "listed_instruments",
]

T = TypeVar("T")
dumps = json_dumps

def load_json(raw: Any) -> Any:
    """Parse a text/bytes frame or body; ``ParseError`` on empty, truncated or non-JSON input."""
    try:
        return json_loads(raw)
    except DecodeError as exc:
        raise ParseError(str(exc)) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json_exact(raw: Any, what: str, int_text: bool = False) -> Any:
    """Parse a frame or body whose numbers must keep their exact text: JSON fractions (and all
    numbers with ``int_text``) become ``str``. ``ParseError`` on empty, truncated, non-JSON,
    ``NaN``/``Infinity`` or absurdly nested input."""
    try:
        if isinstance(raw, (bytes, bytearray, memoryview)):
            raw = bytes(raw).decode("utf-8")
        return _json.loads(raw, parse_float=str, parse_int=str if int_text else None,
                           parse_constant=_no_constant)
    except (ValueError, TypeError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ParseError(f"{what}: invalid JSON ({str(exc)[:80]}): {excerpt(raw, 80)}") from None


def as_dict(value: Any, what: str) -> dict:
    if type(value) is not dict:
        raise ParseError(f"{what}: expected an object, got {excerpt(value, 60)}")
    return value


def as_list(value: Any, what: str) -> list:
    if type(value) is not list:
        raise ParseError(f"{what}: expected an array, got {excerpt(value, 60)}")
    return value


def as_str(value: Any, what: str) -> str:
    if type(value) is not str or not value:
        raise ParseError(f"{what}: expected a non-empty string, got {excerpt(value, 60)}")
    return value


def trade_side(value: Any, sides: dict, venue: str) -> str:
    """The taker side ("buy"/"sell") that ``sides`` maps the venue's ``value`` to; ParseError if none."""
    side = sides.get(value) if type(value) is str else None
    if side is None:
        raise ParseError(f"{venue}: bad trade side {excerpt(value, 40)}")
    return side


def buyer_maker_side(value: Any, what: str) -> str:
    """The taker side from a venue's "buyer is the maker" flag (true: the taker sold)."""
    if type(value) is not bool:
        raise ParseError(f"{what}: expected true/false, got {excerpt(value, 40)}")
    return "sell" if value else "buy"


def as_int(value: Any, what: str) -> int:
    """An integer id sent as a JSON integer or as decimal digits in a string."""
    if type(value) is int:
        return value
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            pass
    raise ParseError(f"{what}: expected an integer, got {excerpt(value, 60)}")


def levels(rows: Any, what: str) -> list:
    """Check a level list ``[[price, size, ...], ...]`` of decimal strings.

    Rows wider than 2 (OKX sends ``[px, sz, "0", numOrders]``, Kraken ``[px, sz, ts]``, and a
    venue may add a field any day) are cut to ``[price, size]``, so the book always gets the
    two-string shape of its fast path. Values themselves are validated by the book, atomically,
    when the batch is applied.
    """
    if type(rows) is not list:
        raise ParseError(f"{what}: expected an array of levels, got {excerpt(rows, 60)}")
    wide = False
    for row in rows:
        if (
            type(row) is not list
            or len(row) < 2
            or type(row[0]) is not str
            or type(row[1]) is not str
        ):
            raise ParseError(f"{what}: bad level {excerpt(row, 60)}")
        if len(row) != 2:
            wide = True
    if wide:
        return [[row[0], row[1]] for row in rows]
    return rows


def ms_to_seconds(value: Any, what: str = "ts") -> float:
    """Venue millisecond timestamp (int or digit string) -> seconds; 0.0 when absent."""
    if value is None:
        return 0.0
    return to_seconds(as_int(value, what), 1000.0, what)


def to_seconds(value: Any, per_second: float, what: str = "timestamp") -> float:
    """A venue time in any unit (``per_second`` units make a second: 1 for seconds, 1e3 for ms,
    1e9 for ns) sent as a JSON number or a decimal string ("1606292218213.4578") -> unix
    seconds; 0.0 when absent. ``ParseError`` on anything else, including NaN and infinities."""
    if value is None:
        return 0.0
    t = type(value)
    if t is int or t is float or t is str:
        try:
            seconds = float(value) / per_second
        except (ValueError, OverflowError):
            seconds = _NAN
        if seconds - seconds == 0.0:  # finite
            return seconds
    raise ParseError(f"{what}: expected a finite time, got {excerpt(value, 60)}")


_NAN = float("nan")


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def iso_to_seconds(text: Any, what: str = "timestamp") -> float:
    """RFC 3339 UTC time with up to nanosecond digits ("2023-02-09T20:32:50.714964855Z") ->
    unix seconds (float)."""
    if type(text) is not str or len(text) < 20 or text[-1] != "Z" or text[10] != "T":
        raise ParseError(f"{what}: expected an RFC 3339 UTC time, got {excerpt(text, 60)}")
    try:
        whole = _dt.datetime(
            int(text[0:4]), int(text[5:7]), int(text[8:10]),
            int(text[11:13]), int(text[14:16]), int(text[17:19]), tzinfo=_dt.timezone.utc,
        )
        frac = text[19:-1]
        seconds = (whole - _EPOCH).total_seconds()
        if frac:
            if frac[0] != "." or not frac[1:].isdigit():
                raise ValueError(frac)
            seconds += int(frac[1:]) / 10 ** (len(frac) - 1)
        return seconds
    except ValueError:
        raise ParseError(f"{what}: bad time {excerpt(text, 60)}") from None


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def pack_args(
    args: Iterable[Any], build: Any, max_bytes: int, max_args: Optional[int] = None
) -> list[str]:
    """JSON messages ``build(list_of_args)`` each at most ``max_bytes`` long (UTF-8) and with at
    most ``max_args`` args: venues cap the size and/or the arg count of one subscribe request.
    ``build`` must embed the list as is (compact JSON: the args plus one comma between each)."""
    empty = len(dumps(build([])).encode())
    batches: list[list[Any]] = []
    batch: list[Any] = []
    size = empty
    for arg in args:
        n = len(dumps(arg).encode())
        if batch and (
            size + 1 + n > max_bytes or (max_args is not None and len(batch) >= max_args)
        ):
            batches.append(batch)
            batch, size = [], empty
        size += n + (1 if batch else 0)
        batch.append(arg)
    if batch:
        batches.append(batch)
    return [dumps(build(b)) for b in batches]


def split_pair(pair: str) -> tuple[str, str]:
    """"BTC-USDT" -> ("BTC", "USDT"); ``ValueError`` if it is not BASE-QUOTE."""
    base, sep, quote = pair.strip().upper().partition("-")
    if not sep or not base or not quote or "-" in quote:
        raise ValueError(f"pair must look like BASE-QUOTE, got {pair!r}")
    return base, quote


class MarketDataBase(VenueCapabilities):
    """Defaults shared by market-data venue objects (``MarketDataVenue``); subclasses set the
    class attributes and override what their venue needs. Holds no connection state."""

    name: str = ""
    sync_rule: Any = None
    max_pairs_per_connection: int = 100
    ws_url: str = ""
    #: base URL of the venue's REST API (snapshots, tokens); "" for venues that need none
    rest_url: str = ""
    ping_interval: Optional[float] = None
    ping_message: Optional[str] = None

    def with_urls(self, rest: Optional[str] = None, ws: Optional[str] = None) -> Any:
        """A copy talking to other base URLs (record/watch ``--rest-url``/``--ws-url``, the
        embedded exchange); what the copy learnt so far (symbol tables) comes along."""
        out = _copy.deepcopy(self)
        if ws:
            out.ws_url = ws
        if rest:
            out.rest_url = rest.rstrip("/")
        return out

    def connect_request(self) -> Any:
        """No request before connecting (KuCoin overrides this for its bullet token)."""
        return None

    def ws_endpoint(self, connect_response: Optional[bytes] = None) -> WsEndpoint:
        """``ws_url`` with the class's application-level ping."""
        return WsEndpoint(self.ws_url, self.ping_interval, self.ping_message)

    def resync_messages(self, pair: str) -> list[str]:
        """No dedicated frames: the tracker resubscribes (in-band venues) or refetches REST."""
        return []

    def snapshot_request(self, pair: str) -> Any:
        """None: the snapshot comes in-band."""
        return None

    def parse_snapshot(self, pair: str, body: bytes) -> Any:
        raise ParseError(f"{self.name} sends its book snapshots in-band, not over REST")

    def checksum(self, book: Any) -> int:
        raise NotImplementedError(f"{self.name} sends no book checksum")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def load_frame_exact(raw: Any, what: str, inflate: Any = None) -> Any:
    """A venue frame whose numbers must keep their exact text (see :func:`load_json_exact`):
    binary frames are decompressed first with ``inflate`` (a ``hbconnect.core.codecs`` function:
    ``gunzip`` for BingX/Bitrue, ``inflate_raw`` for BitMart) unless they already look like JSON."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        data = bytes(raw)
        if inflate is not None and data[:1] not in (b"{", b"["):
            try:
                data = inflate(data)
            except DecodeError as exc:
                raise ParseError(f"{what}: {exc}") from None
        raw = data
    return load_json_exact(raw, what, int_text=True)


def listed_instruments(rows: Any, what: str, symbol_key: str, base_key: Optional[str] = None,
                       quote_key: Optional[str] = None, sep: Optional[str] = None,
                       pair_key: Optional[str] = None) -> list:
    """``Instrument`` s of an instruments endpoint's rows (objects): the venue's symbol under
    ``symbol_key``; base and quote under ``base_key``/``quote_key``, or (``sep``) the two parts
    around that separator of the symbol ("BTC-USDT") or of the ``pair_key`` field ("BTC/USD"). A listing with no such row, or a
    row of another shape, is a ``ParseError`` (a snapshot or error body is not a listing)."""
    from hbconnect.exchanges._instruments import Instrument

    out = []
    for row in as_list(rows, what):
        row = as_dict(row, what)
        symbol = as_str(row.get(symbol_key), f"{what} {symbol_key}")
        if sep is not None:
            text = symbol if pair_key is None else as_str(row.get(pair_key), f"{what} {pair_key}")
            base, found, quote = text.partition(sep)
            if not found or sep in quote:
                raise ParseError(f"{what}: {excerpt(text, 40)} is not BASE{sep}QUOTE")
        else:
            base = as_str(row.get(base_key), f"{what} {base_key}")
            quote = as_str(row.get(quote_key), f"{what} {quote_key}")
        base, quote = base.upper(), quote.upper()
        if not base or not quote or "-" in base or "-" in quote:
            raise ParseError(f"{what}: bad base/quote of {excerpt(symbol, 40)}")
        out.append(Instrument(f"{base}-{quote}", symbol, base, quote))
    if not out:
        raise ParseError(f"{what}: empty instrument listing")
    return out


class TableSymbols:
    """Pair <-> venue symbol through the venue object's ``instruments`` (an ``InstrumentTable``):
    listed symbols, or the venue's spelling of pairs asked for; never a suffix guess."""

    instruments: Any

    def to_venue_symbol(self, pair: str) -> str:
        return self.instruments.symbol(pair)

    def from_venue_symbol(self, symbol: str) -> str:
        return self.instruments.pair(symbol)

    def parse_listing(self, body: Any) -> list:
        """The ``Instrument`` list of the venue's instruments endpoint body; ``ParseError`` for
        any other body (the default: this venue has no listing parser)."""
        raise ParseError(f"{getattr(self, 'name', type(self).__name__)} has no instrument listing parser")

    def load_symbols(self, body: Any) -> int:
        """Learn the venue's listing (:meth:`parse_listing`) into ``instruments``, keeping what
        was known; returns how many instruments the body listed."""
        listed = self.parse_listing(body)
        self.instruments.load(listed, replace=False)
        return len(listed)

    def snapshot_for(self, pair: str, snap: Any, what: str) -> Any:
        """``snap`` when it is a ``BookSnapshot`` of ``pair`` (a REST body for another pair, or
        not a whole book, is a ``ParseError``)."""
        if type(snap).__name__ != "BookSnapshot" or snap.pair != pair:
            raise ParseError(f"{what}: not the book of {pair}: {excerpt(snap, 60)}")
        return snap

    def venue_error(self, msg: Any, symbol: Any) -> list:
        """An error frame of the venue, logged: a ``Resync`` of the pair it names (``symbol``),
        when it names one of ours; nothing otherwise (the venue closes the socket, or it concerned
        no book)."""
        logging.getLogger(type(self).__module__).warning("%s error: %s", getattr(self, "name", ""),
                                                         excerpt(msg, 200))
        if type(symbol) is str:
            try:
                return [Resync(self.from_venue_symbol(symbol), "venue error")]
            except ParseError:
                pass
        return []
