"""Normalized market-data messages and the contract a venue module fulfils for the tracker.

A venue module (``hbconnect/exchanges/<venue>.py``) is pure translation: it turns the venue's
wire frames into the messages below and says which sync rule the venue documents. The
``OrderBookTracker`` (``hbconnect/market/tracker.py``) does all I/O, buffering, sequencing,
checksum verification and resync, once for every venue.

Level lists (``bids`` / ``asks``) are passed to ``OrderBook.apply_snapshot``/``apply_diffs``
unchanged, so keep them in the shape the JSON parser gave (lists of ``[price_str, size_str]``),
which hits the book's C fast path and preserves the venue's exact decimal text (checksums need it).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol, Sequence, Union

Levels = Sequence[Sequence[Any]]  # [[price, size], ...]; size "0" deletes a level in a diff


class SyncRule(enum.Enum):
    """How a venue's diffs are aligned with its snapshot and chained to each other."""

    #: REST snapshot id ``L``; drop diffs with ``last_id <= L``; the first applied diff must have
    #: ``first_id <= L + 1 <= last_id``; then ``first_id == previous last_id + 1`` (Gate.io,
    #: KuCoin spot sequenceStart/End, MEXC).
    SEQ_RANGE = "seq_range"
    #: REST snapshot id ``L`` and each diff's previous id: drop ``last_id < L``; the first
    #: applied diff has ``first_id <= L <= last_id``; then ``prev_id == previous last_id``.
    SEQ_RANGE_PREV = "seq_range_prev"
    #: In-band snapshot carrying ``last_id``; every diff's ``prev_id`` must equal the previous
    #: ``last_id`` (OKX seqId/prevSeqId, HTX mbp seqNum/prevSeqNum).
    PREV_CHAIN = "prev_chain"
    #: In-band snapshot; each diff's ``last_id`` must be previous ``last_id + 1`` (Bybit ``u``).
    #: A snapshot message always resets the book.
    CONTIGUOUS = "contiguous"
    #: Ids that only increase (a timestamp or a strictly increasing counter) against a REST or
    #: in-band snapshot: diffs with ``last_id <= L`` are stale and dropped, later ones applied; the
    #: ids cannot reveal a gap (Bitstamp microtimestamp; Bitget ``seq``, whose losses the checksum
    #: catches; Coinbase, whose gaps the per-connection ``conn_seq`` check catches).
    TIMESTAMP = "timestamp"
    #: In-band snapshot, no ids; integrity is proved by the venue checksum (Kraken).
    CHECKSUM = "checksum"
    #: Every book message is a full snapshot (HTX depth.step0, snapshot-only channels).
    SNAPSHOTS = "snapshots"


@dataclass(slots=True)
class BookSnapshot:
    """A full book for one pair: from REST or in-band on the stream."""

    pair: str
    bids: Levels
    asks: Levels
    update_id: int  # lastUpdateId / seqId / sequence / microtimestamp / 0 when the venue has none
    timestamp: float = 0.0  # venue time, seconds
    checksum: Optional[int] = None  # venue checksum to verify after applying, when sent
    conn_seq: Optional[int] = None  # per-connection sequence (Coinbase sequence_num)


@dataclass(slots=True)
class BookDiff:
    """An incremental update for one pair (absolute sizes; size 0 deletes the level)."""

    pair: str
    bids: Levels
    asks: Levels
    first_id: int  # U / sequenceStart; equals last_id for venues with a single id
    last_id: int  # u / seqId / sequenceEnd / microtimestamp
    prev_id: Optional[int] = None  # pu / prevSeqId / prevSeqNum
    timestamp: float = 0.0
    checksum: Optional[int] = None  # venue checksum over the book after this diff
    conn_seq: Optional[int] = None


@dataclass(slots=True)
class Trade:
    """A public trade. Prices and amounts keep the venue's exact decimal text."""

    pair: str
    trade_id: str
    price: str
    amount: str
    side: str  # taker side: "buy" or "sell"
    timestamp: float = 0.0
    conn_seq: Optional[int] = None


@dataclass(slots=True)
class Reply:
    """Text the tracker must send back on the same connection (e.g. HTX ``{"pong": n}``)."""

    text: str


@dataclass(slots=True)
class Reconnect:
    """The venue asks the client to reconnect (Bitstamp ``bts:request_reconnect``)."""

    reason: str = ""


@dataclass(slots=True)
class Resync:
    """The venue says a pair's book must be rebuilt (e.g. an error for one subscription)."""

    pair: str
    reason: str = ""


@dataclass(slots=True)
class Heartbeat:
    """A frame proving the connection is alive that carries no book data; may carry conn_seq."""

    conn_seq: Optional[int] = None


@dataclass(slots=True)
class Ignored:
    """A well-formed frame of a channel or instrument this client did not subscribe to (a
    ticker, a candle, another instrument type sharing the socket...). Counted by the tracker as
    ignored, never as bad: a bad frame is one the venue module could not translate."""

    what: str = ""  # the channel / instrument, for logs


MarketEvent = Union[BookSnapshot, BookDiff, Trade, Reply, Reconnect, Resync, Heartbeat, Ignored]


@dataclass(slots=True)
class RestRequest:
    """A REST request the engine performs on the venue module's behalf."""

    url: str
    params: dict = field(default_factory=dict)
    method: str = "GET"
    body: Optional[str] = None
    headers: dict = field(default_factory=dict)
    weight: int = 1  # rate-limit weight of the request
    #: the venue answers it only when signed with an API key (KuCoin's full level2 book): the
    #: tracker passes it through its ``signer`` at send time and fails it, logged, without one
    auth: bool = False


@dataclass(slots=True)
class WsEndpoint:
    """Where and how to open one market-data connection."""

    url: str
    ping_interval: Optional[float] = None  # seconds between application-level pings, if any
    ping_message: Optional[str] = None  # text of the application-level ping
    max_message_size: int = 16 * 1024 * 1024


@dataclass(frozen=True, eq=False)
class DiffFrame:
    """The shape of a venue's common diff frame, declared by the venue module (``diff_frame``)
    so that the tracker's compiled frame path can take it without building a ``BookDiff``.

    A frame is *that* diff exactly when it decodes (``loads``) to a dict whose event (under
    ``envelope`` when set) has ``event_key == event``, exact ints at ``first_key``, ``last_key``
    (and ``prev_key``, ``time_key`` when set), lists at ``bids_key``/``asks_key`` and a symbol
    (``symbol_key``) found in ``symbols`` (the venue's table, venue symbol -> pair). Such a frame
    must mean the same as what ``parse_message`` returns for it: one ``BookDiff(pair, bids, asks,
    first, last, prev, time / time_units, checksum)`` (with ``snapshot``: one ``BookSnapshot(pair,
    bids, asks, last, time / time_units, checksum)``, a whole book). Every other frame goes to
    ``parse_decoded(raw, msg)``, which must return what ``parse_message(raw)`` returns (or raise
    what it raises) for a frame that decoded to ``msg`` (or, without it, to ``parse_message``).
    The fields below the first block describe the other venues' shapes; tests/test_fastpath_venues.py
    proves, per venue, that the compiled path and the general path give the same results.
    """

    loads: Callable[[Any], Any]
    #: None: frames the compiled path leaves are decoded again by ``parse_message``
    parse_decoded: Optional[Callable[[Any, Any], list]]
    #: venue symbol -> pair; None: the tracker builds it from its pairs (``to_venue_symbol``,
    #: kept only where ``from_venue_symbol`` maps back to the same pair)
    symbols: Optional[dict]
    envelope: Any  # a key, a path (tuple), or None: the diff is the frame itself
    event_key: Optional[str]
    event: Optional[str]
    symbol_key: Optional[str]
    first_key: Optional[str]  # None: a single id (first == last)
    last_key: Optional[str]  # None: a whole book without an id (``snapshot``; BingX): id 0
    bids_key: str
    asks_key: str
    prev_key: Optional[str] = None
    time_key: Optional[str] = None
    time_units: float = 1000.0  # time units per second (1000: milliseconds)
    # --- the shapes of other venues (the defaults keep the plain shape). A frame that differs from the
    # declared shape in any way takes the general path, so these only ever narrow what the
    # compiled path accepts. Paths are tuples of dict keys (str) and ``0`` for "a list of
    # exactly one element, that element" (OKX/Bitget ``data: [{...}]``).
    #: exact string values required at a key or path from the top of the frame
    #: (``("channel", "spot.order_book_update")``, OKX ``(("arg", "channel"), "books")``)
    match: tuple = ()
    #: string prefixes required likewise (Bybit ``("topic", "orderbook.50.")``)
    match_prefix: tuple = ()
    #: keys or paths from the top that must be absent (Gate.io ``("result", "full")``: a
    #: snapshot; OKX ``"event"``: a control frame)
    absent: tuple = ()
    #: where the symbol is when not in the diff itself: a path from the top (OKX ``("arg", "instId")``)
    symbol_path: Optional[tuple] = None
    #: the text before the symbol at ``symbol_path`` (Bitstamp ``channel`` "diff_order_book_btcusd")
    symbol_prefix: str = ""
    #: where the time is when not in the diff itself: a path from the top (Bybit ``("ts",)``)
    time_path: Optional[tuple] = None
    #: a sub-object of the diff holding ``bids_key``/``asks_key`` (KuCoin ``changes``)
    levels_key: Optional[str] = None
    #: the venue parser checks every row (``_common.levels``): rows must be lists of at least two
    #: strings, cut to ``[price, size]`` when ``level_width > 2``; False: rows go to the book as
    #: they are (the book checks them)
    check_levels: bool = False
    level_width: int = 2
    #: rows are objects: (price key, size key), the price a string, the size a string or an int
    #: (made its decimal text), other keys ignored (Gate.io futures ``{"p": "1.5", "s": 10}``)
    level_keys: Optional[tuple] = None
    #: rows are changes ``[price, size, sequence, ...]`` returned in sequence order (a stable
    #: sort), those whose price is "0" dropped, cut to ``[price, size]`` (KuCoin spot)
    level_sequence: bool = False
    #: ids, time and checksum may be sent as decimal digit text (``"1700000000000"``)
    int_text: bool = False
    #: the venue's checksum over the book after the diff (an int, or digit text with ``int_text``)
    checksum_key: Optional[str] = None
    #: a checksum of 0, or none at all, means "not sent" (OKX since 2026-06)
    checksum_zero_is_none: bool = False
    #: the book method giving ``venue.checksum(book)``, as ``(name, *args)`` (OKX
    #: ``("checksum_okx", 25)``): the compiled path calls it directly; None: ``venue.checksum``
    book_checksum: Optional[tuple] = None
    #: a diff with this last id means a snapshot to the venue parser (Bybit ``u == 1``)
    snapshot_last_id: Optional[int] = None
    #: a missing level side means an empty one (Gate.io, Bitstamp); otherwise, and for a side
    #: sent as null, the general path takes the frame
    missing_side_empty: bool = False
    # --- compressed frames, number rows and whole-book frames (HTX, BitMart, AscendEX...)
    #: binary frames that do not start with ``{`` or ``[`` are first decompressed by this (the
    #: venue's bounded inflater: HTX ``gunzip``, BitMart ``inflate_raw``); a frame it refuses, or
    #: whose text does not start so either, takes the general path
    inflate: Optional[Callable[[bytes], bytes]] = None
    #: rows are exactly ``[price, size]``, each a JSON number or string kept as its exact text
    #: (an integer as ``str(int)``), an empty price string refused (HTX ``_levels``)
    level_numbers: bool = False
    #: the text after the symbol at ``symbol_path`` (HTX ``ch`` "market.btcusdt.mbp.150")
    symbol_suffix: str = ""
    #: a frame without its time (``time_key`` / ``time_path``) takes the general path (HTX
    #: depth.step0, whose parser then takes the frame's other time)
    time_required: bool = False
    #: the declared frame is a whole book, not a diff (HTX depth.step0 and the other SNAPSHOTS
    #: venues): the compiled path reads it and hands ``BookSnapshot(pair, bids, asks, last,
    #: time / time_units, checksum)`` to the tracker's own dispatch, which decides all else
    snapshot: bool = False
    #: the symbol is upper-cased before it is looked up (Bitrue channels spell it in lower case)
    symbol_upper: bool = False
    #: the venue's reader of the ``time_key`` value into seconds (a float), for a time sent as
    #: text (BTC Markets RFC 3339 ``timestamp``); a value it refuses takes the general path
    time_parse: Optional[Callable[[Any], float]] = None
    #: the checksum is an unsigned CRC32: one outside [0, 2**32) takes the general path (BTC Markets)
    checksum_u32: bool = False
    # --- shapes added by fpodd3
    #: the frame is an array ``[channel id, part, ..., channel name, symbol]`` (Kraken v1): each
    #: part an object with ``asks_key``/``bids_key`` rows (sides concatenated in order, rows cut to
    #: ``[price, size]``) and perhaps ``checksum_key`` (a CRC32, int or digit text; the last one
    #: counts); ``event``: the channel name's prefix; a first part holding a key of ``absent``
    #: is a snapshot; no ids (sync rule CHECKSUM: every diff of a LIVE pair applies)
    array_frame: bool = False
    #: the venue module's table channel id -> pair (Kraken's ``_book_channels``), which its
    #: parser extends: a frame whose int channel id the table does not give its pair takes the
    #: general path
    channel_ids: Optional[dict] = None
    #: the diff's time is this element of the last row sent, decimal seconds text (Kraken v1: 2)
    row_time: int = 0
    #: the frame is one level ``[channel id, [price, count, amount], seq]`` (Bitfinex book P0):
    #: JSON numbers read as their text, the amount's sign the side, count 0 a removal; or the
    #: checksum alone ``[channel id, event, checksum, seq]`` (a signed CRC32); ``seq`` the
    #: connection's sequence (``connection_sequence``), ``channel_ids`` the venue's book channels.
    #: Read from the text only: any other text takes the general path
    single_level: bool = False


class ParseError(ValueError):
    """A frame or body the venue module could not translate. The tracker counts and logs it."""


class LostFrame(ParseError):
    """A frame whose content is unknown (e.g. compressed data over the inflate limit): whichever
    pair it was for lost an update, so the tracker counts it as bad and resyncs every pair of the
    connection it came on."""


class VenueCapabilities:
    """The optional capabilities of a market-data venue, declared with their defaults. Venue
    classes inherit this (``hbconnect.exchanges._common.MarketDataBase`` does) and override what
    their venue has; the tracker, the pacers and the commands read the attributes directly.
    """

    #: True when the sequence check of ``conn_seq`` spans the whole connection (Coinbase).
    connection_sequence: bool = False
    #: Book depth the subscription maintains; the tracker truncates the book to it after each
    #: message (Kraken, Bitget books15, ...). ``None``: keep everything.
    max_depth: Optional[int] = None
    #: SEQ_RANGE only: refetch a REST snapshot whose id is below the first buffered ``first_id``
    #: even by one (a venue procedure saying "strictly less than"); otherwise a snapshot joins the
    #: stream when ``id + 1 >= first_id`` (Gate.io, KuCoin).
    strict_snapshot_start: bool = False
    #: the throttler limit id of the venue's shared weight pool; the tracker charges
    #: ``RestRequest.weight`` there for snapshots (e.g. a per-minute request-weight pool).
    rate_limit_pool: Optional[str] = None
    #: Outgoing message limits (``None`` = no limit); the live tracker paces what it sends on each
    #: connection accordingly. Messages per second per connection the venue accepts from the
    #: client (Coinbase 8, Bitget 10; replies (pongs) count too but
    #: are never delayed) ...
    ws_message_rate: Optional[float] = None
    #: ... subscribe/unsubscribe/resync messages per connection in any sliding hour (Bitget 240,
    #: OKX 480) ...
    ws_subscriptions_per_hour: Optional[int] = None
    #: ... and new connections per second (OKX 3), shared by the tracker's sockets.
    ws_connect_rate: Optional[float] = None
    #: the venue sends a book checksum (``BookSnapshot/BookDiff.checksum``) that the tracker
    #: verifies; reports show checksum counters only for such venues.
    sends_checksum: bool = False
    #: the shape of the venue's common diff frame, for the tracker's compiled fast path;
    #: without it every frame takes the general path.
    diff_frame: Optional[DiffFrame] = None
    #: the ``Credentials`` fields the venue's signed market-data requests use (KuCoin:
    #: ``("api_key", "secret", "passphrase")``); empty for a venue that signs none
    credential_fields: tuple = ()
    #: the venue's requests are signed (KuCoin's full book): the tracker needs ``credentials``
    requires_credentials: bool = False
    #: registry id of the variant of this venue that uses credentials when the user gives some
    #: (``kucoin``: ``kucoin_full_book``, the whole book instead of the public 100 levels)
    signed_variant: Optional[str] = None

    def with_urls(self, rest: Optional[str] = None, ws: Optional[str] = None) -> Any:
        """A copy talking to other base URLs (record/watch ``--rest-url``/``--ws-url``, the
        embedded exchange). ``NotImplementedError`` for a venue whose URLs cannot change."""
        raise NotImplementedError(f"{getattr(self, 'name', type(self).__name__)} does not support URL overrides")

    def sign_request(self, req: "RestRequest", credentials: Any, now: float) -> "RestRequest":
        """``req`` (``auth=True``) signed with ``credentials`` (``hbconnect.core.Credentials``) at
        unix time ``now``: the venue's API-key headers added. ``NotImplementedError`` for a venue
        whose market data needs no signed request."""
        raise NotImplementedError(f"{getattr(self, 'name', type(self).__name__)} signs no market-data request")

    def load_symbols(self, body: Any) -> int:
        """Learn the venue's symbol table from its symbols/instruments REST body (KuCoin: symbol
        "BCHSV-USDT" is named "BSV-USDT"); replay feeds it the recorded ones. Returns how many
        were learnt; ``ParseError`` for a body that is not such a table (the default: this venue
        learns nothing from REST bodies)."""
        raise ParseError(f"{getattr(self, 'name', type(self).__name__)} learns no symbol table")


class MarketDataVenue(Protocol):
    """What a venue module exposes (one object per market variant, e.g. spot and perp); the
    optional capabilities are those of :class:`VenueCapabilities`, with its defaults."""

    name: str  # registry id, e.g. "okx", "bybit_perpetual"
    sync_rule: SyncRule
    max_pairs_per_connection: int
    max_depth: Optional[int]
    connection_sequence: bool
    strict_snapshot_start: bool
    rate_limit_pool: Optional[str]
    ws_message_rate: Optional[float]
    ws_subscriptions_per_hour: Optional[int]
    ws_connect_rate: Optional[float]
    sends_checksum: bool
    diff_frame: Optional[DiffFrame]
    credential_fields: tuple
    requires_credentials: bool
    signed_variant: Optional[str]

    def with_urls(self, rest: Optional[str] = None, ws: Optional[str] = None) -> Any:
        """See :meth:`VenueCapabilities.with_urls`."""

    def load_symbols(self, body: Any) -> int:
        """See :meth:`VenueCapabilities.load_symbols`."""

    def sign_request(self, req: "RestRequest", credentials: Any, now: float) -> "RestRequest":
        """See :meth:`VenueCapabilities.sign_request`."""

    def connect_request(self) -> Optional[RestRequest]:
        """A request to make before each connection (KuCoin bullet token), or None."""

    def ws_endpoint(self, connect_response: Optional[bytes]) -> WsEndpoint:
        """The endpoint to connect to, given the body answered to ``connect_request``."""

    def subscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        """Text frames that subscribe ``pairs`` (book and trades) on one connection."""

    def unsubscribe_messages(self, pairs: Sequence[str]) -> list[str]:
        """Text frames that unsubscribe ``pairs``."""

    def resync_messages(self, pair: str) -> list[str]:
        """Frames that make the venue send a fresh in-band snapshot (unsub+sub, HTX req).

        Empty for venues whose snapshot comes from REST."""

    def snapshot_request(self, pair: str) -> Optional[RestRequest]:
        """The REST request for a snapshot, or None when the snapshot comes in-band."""

    def parse_snapshot(self, pair: str, body: bytes) -> BookSnapshot:
        """Translate a REST snapshot body. Raises ParseError on anything malformed."""

    def parse_message(self, raw: Union[str, bytes]) -> list[MarketEvent]:
        """Translate one received frame (text, or bytes for binary/compressed venues).

        Returns [] for frames that carry nothing for the tracker (acks), ``[Ignored(...)]`` for
        well-formed frames of channels or instruments the module does not subscribe to. Raises
        ParseError on malformed frames or unknown shapes that look like book data."""

    def checksum(self, book: Any) -> int:
        """The venue checksum of ``book`` (an ``hbconnect.OrderBook``), for comparing with
        ``BookSnapshot.checksum``/``BookDiff.checksum``. Only called when those are not None."""

    def to_venue_symbol(self, pair: str) -> str:
        """"BTC-USDT" -> the venue's symbol."""

    def from_venue_symbol(self, symbol: str) -> str:
        """The venue's symbol -> "BTC-USDT"."""


ChecksumFn = Callable[[Any], int]
