"""The contract between the connector engine and a venue's trading translation.

A venue package (``hbconnect/exchanges/<venue>/``) exposes, in ``TRADING``, a factory (usually
the class) that builds a :class:`TradingVenue` from credentials and optional base URLs. The
translation object never does I/O: it says which request to send (:class:`VenueRequest`), signs
it (:meth:`TradingVenue.prepare`), classifies every answer (:meth:`TradingVenue.check_response`:
errors in non-2xx answers *and* in HTTP 200 bodies), and translates what came back into
hbconnect's types (``OrderUpdate``, ``TradeUpdate``, ``TradingRule``) or the normalized account
messages below. The engine (``Connector``/``PerpConnector``) does the talking.

The contract is split into capabilities the engine composes:

* :class:`TradingVenue`: identity, credentials, symbols, REST requests and their translation,
  error classification, and the "order not accepted after" window.
* The private stream in one of three shapes (:class:`StreamShape`), each a Protocol:
  :class:`TokenStream` (a REST-issued key or token in the URL: KuCoin, Kraken, Bitstamp), :class:`LoginStream` (a login message on the socket: OKX, Bybit, Bitget, HTX,
  BingX) and :class:`SignedSubscribeStream` (signed subscribe messages: Gate.io, Coinbase).
* :class:`WsOrderEntry` (optional): orders over the venue's WebSocket order entry.
* :class:`PerpTradingVenue`: positions, leverage, position and margin mode, funding.

Engine state a request depends on (position mode, margin mode, leverage) is passed in, as an
:class:`AccountSettings`; the engine never writes attributes on the venue object.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, Optional, Protocol, Sequence, Union, runtime_checkable

from hbconnect.core.credentials import Credentials
from hbconnect.core.types import MarginMode, PositionMode


@dataclass(slots=True)
class VenueRequest:
    """A REST request described by the venue module, before signing."""

    method: str  # GET / POST / PUT / DELETE
    path: str  # path under the venue's REST base URL, e.g. "/api/v5/trade/order"
    params: dict = field(default_factory=dict)
    signed: bool = False  # needs timestamp + signature
    api_key: bool = False  # needs the API key header only (stream-key endpoints)
    limit_id: str = ""  # throttler limit id (the path by default)
    #: False for requests whose repetition changes the venue's state (order placement): the
    #: engine never re-sends them; an unknown outcome is resolved by asking the venue.
    idempotent: bool = True

    def __post_init__(self) -> None:
        if not self.limit_id:
            self.limit_id = self.path


class PreparedRequest:
    """A signed request ready for the wire: ``params`` go in the query string, ``body`` is the
    body text exactly as signed (form or JSON: the venue sets ``Content-Type`` in ``headers``).
    Its repr never shows params, body or headers (they carry signatures/keys)."""

    __slots__ = ("method", "url", "params", "body", "headers", "limit_id", "idempotent", "timestamp_ms")

    def __init__(self, method: str, url: str, params: Optional[dict], body: Optional[str],
                 headers: dict, limit_id: str, idempotent: bool, timestamp_ms: int = 0) -> None:
        self.method = method
        self.url = url
        self.params = params
        self.body = body
        self.headers = headers
        self.limit_id = limit_id
        self.idempotent = idempotent
        self.timestamp_ms = timestamp_ms

    def __repr__(self) -> str:
        return f"PreparedRequest({self.method} {self.url})"


# ---- normalized account messages (what parse_* return besides OrderUpdate/TradeUpdate) ----


@dataclass(slots=True)
class BalanceEntry:
    asset: str
    total: Decimal
    available: Optional[Decimal]  # None: this message does not say (the engine re-reads it)


@dataclass(slots=True)
class BalanceUpdate:
    """Balances of some assets (``complete``: the full account; absent assets are zero)."""

    entries: list
    timestamp: float = 0.0  # venue time of the account state, seconds (0 when unknown)
    complete: bool = False


@dataclass(slots=True)
class BalanceDelta:
    """A balance change not tied to an order (deposit, transfer). The engine re-reads balances."""

    asset: str
    delta: Decimal
    timestamp: float = 0.0


@dataclass(slots=True)
class PositionUpdate:
    """A perpetual position, absolute. ``amount`` is signed (negative = short)."""

    pair: str
    side: Any  # PositionSide
    amount: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal = Decimal(0)
    leverage: Optional[int] = None
    timestamp: float = 0.0


@dataclass(slots=True)
class PositionsSnapshot:
    """All positions of the account (from REST); pairs absent have no position."""

    positions: list


@dataclass(slots=True)
class FundingPayment:
    pair: str
    amount: Decimal  # signed: negative = paid
    asset: str
    timestamp: float
    payment_id: str
    rate: Optional[Decimal] = None


@dataclass(slots=True)
class FundingHint:
    """The user stream says a funding fee was booked; the engine fetches the payments."""

    timestamp: float = 0.0


@dataclass(slots=True)
class StreamExpired:
    """The private stream's key/token/session expired or was invalidated: the engine connects
    again (a fresh key, a fresh login)."""

    reason: str = ""


#: what ``parse_user_stream`` returns items of (besides OrderUpdate / TradeUpdate)
UserStreamEvent = Union[BalanceUpdate, BalanceDelta, PositionUpdate, FundingHint, StreamExpired]


class StreamShape(enum.Enum):
    """How a venue's private stream is opened (the engine has one strategy per shape)."""

    TOKEN = "token"  # REST-issued key/token in the URL, kept alive over REST
    LOGIN = "login"  # connect, send a login message, wait for its ack, then subscribe
    SIGNED_SUBSCRIBE = "signed_subscribe"  # connect, send signed subscribe messages


@dataclass(slots=True)
class AccountSettings:
    """Account state the engine keeps and passes into the requests that depend on it."""

    position_mode: PositionMode = PositionMode.ONEWAY
    margin_mode: MarginMode = MarginMode.CROSS  # the default for pairs not in ``margin_modes``
    margin_modes: Dict[str, MarginMode] = field(default_factory=dict)
    leverage: Dict[str, int] = field(default_factory=dict)

    def margin_mode_of(self, pair: str) -> MarginMode:
        return self.margin_modes.get(pair, self.margin_mode)


@dataclass(slots=True)
class WsOrderReply:
    """A reply on the order-entry socket: the request it answers, and either the payload the
    venue's ``parse_place_order``/``parse_cancel_order`` read or the classified error."""

    request_id: str
    data: Any = None
    error: Optional[Exception] = None
    #: the venue's own counts of some rate limits in this reply ({throttler limit id: count})
    usage: Optional[dict] = None


@dataclass(frozen=True)
class WsSessionNotice:
    """A frame on the order-entry socket about the session itself, not a reply.

    ``revoked``: the venue ended the logged-in session (its key became invalid): requests
    awaiting a reply may never get one (their outcome is unknown), and the socket must log in
    again. Otherwise the venue asks the client to move to a new connection soon (a server about
    to shut down): replies still come on this one."""

    reason: str
    revoked: bool = False


@dataclass(slots=True)
class WsUserData:
    """User-data events that came on the order-entry socket (the venue's user-data
    subscription on that same connection), translated as ``parse_user_stream`` does."""

    events: list


@runtime_checkable
class TradingVenue(Protocol):
    """What every venue's trading translation object provides (one per account and market)."""

    name: str
    is_perpetual: bool
    rest_url: str
    ws_url: str
    rate_limits: list  # list[RateLimit]
    credentials: Credentials
    max_client_order_id_length: int
    #: seconds after which an order the venue does not know was never accepted (the request's
    #: validity window at the venue, plus margin): an unknown-outcome create is resolved by
    #: asking until then, and "not found" after it means the order will never appear
    order_not_accepted_after: float
    #: how the private stream is opened; the venue implements the matching Protocol
    user_stream_shape: StreamShape

    def supported_order_types(self) -> list: ...
    def new_client_order_id(self, is_buy: bool, pair: str) -> str: ...
    def prepare(self, request: VenueRequest, timestamp_ms: int) -> PreparedRequest: ...
    def to_venue_symbol(self, pair: str) -> str: ...
    def from_venue_symbol(self, symbol: str) -> str: ...

    def server_time_request(self) -> VenueRequest: ...
    def parse_server_time(self, data: Any) -> float: ...
    def trading_rules_request(self) -> VenueRequest: ...
    def parse_trading_rules(self, data: Any) -> list: ...
    def balances_request(self) -> VenueRequest: ...
    def parse_balances(self, data: Any) -> BalanceUpdate: ...
    def last_prices_request(self, pairs: Sequence[str]) -> VenueRequest: ...
    def parse_last_prices(self, data: Any, pairs: Sequence[str]) -> dict: ...

    # ``order`` is the engine's InFlightOrder; parse_* return OrderUpdate / [TradeUpdate]
    def place_order_request(self, order: Any, account: AccountSettings) -> VenueRequest: ...
    def parse_place_order(self, data: Any, order: Any, timestamp: float) -> tuple: ...
    def cancel_order_request(self, order: Any) -> VenueRequest: ...
    def parse_cancel_order(self, data: Any, order: Any, timestamp: float) -> Any: ...
    def order_status_request(self, order: Any) -> VenueRequest: ...
    def parse_order_status(self, data: Any, order: Any, timestamp: float) -> Any: ...
    def order_fills_request(self, order: Any) -> VenueRequest: ...
    def parse_order_fills(self, data: Any, order: Any) -> list: ...

    def parse_user_stream(self, raw: Union[str, bytes]) -> list: ...

    # -- errors: every answer is classified, 2xx included --
    def check_response(self, status: int, data: Any, headers: Any) -> Optional[Exception]:
        """None when the answer is a success; else the exception it means (``ExchangeError``
        subclasses: ``OrderRejected``/``InvalidOrder``/``InsufficientBalance`` fail an order at
        once, ``OrderNotFound``, ``RateLimitError``, ``TimeSyncError``, ``AuthenticationError``,
        ``OutcomeUnknown`` or an error with ``outcome_unknown`` set: the engine asks). Must
        return an exception for every non-2xx status. ``data`` is the decoded JSON body (None
        for a non-2xx answer whose body is not JSON)."""
        ...

    def is_order_not_found(self, error: Exception) -> bool: ...
    def is_no_change(self, error: Exception) -> bool: ...


@runtime_checkable
class TokenStream(Protocol):
    """:attr:`StreamShape.TOKEN`: ``stream_token_request`` -> key (or token) -> connect to
    ``user_stream_url(key)``, send ``user_stream_subscriptions`` (often none), keep the key alive
    with ``stream_token_keepalive_request`` (None: the venue needs no keep-alive)."""

    #: text ping sent every ``user_stream_ping_interval`` seconds (None: protocol pings only)
    user_stream_ping: Optional[str]
    user_stream_ping_interval: float

    def stream_token_request(self) -> VenueRequest: ...
    def parse_stream_token(self, data: Any) -> str: ...
    def stream_token_keepalive_request(self, token: str) -> Optional[VenueRequest]: ...
    def user_stream_url(self, token: Optional[str]) -> str: ...
    def user_stream_subscriptions(self, timestamp_ms: int) -> list: ...


@runtime_checkable
class LoginStream(Protocol):
    """:attr:`StreamShape.LOGIN`: connect to ``user_stream_url(None)``, send
    ``user_stream_login(timestamp_ms)`` (built with the credentials and the synchronized time the
    engine injects), wait for the frame ``parse_login_reply`` accepts (True) or refuses (raises
    ``AuthenticationError``; None: another frame), then send ``user_stream_subscriptions``."""

    user_stream_ping: Optional[str]
    user_stream_ping_interval: float

    def user_stream_url(self, token: Optional[str]) -> str: ...
    def user_stream_login(self, timestamp_ms: int) -> str: ...
    def parse_login_reply(self, raw: Union[str, bytes]) -> Optional[bool]: ...
    def user_stream_subscriptions(self, timestamp_ms: int) -> list: ...


@runtime_checkable
class SignedSubscribeStream(Protocol):
    """:attr:`StreamShape.SIGNED_SUBSCRIBE`: connect to ``user_stream_url(None)`` and send the
    signed ``user_stream_subscriptions(timestamp_ms)``; no login round trip."""

    user_stream_ping: Optional[str]
    user_stream_ping_interval: float

    def user_stream_url(self, token: Optional[str]) -> str: ...
    def user_stream_subscriptions(self, timestamp_ms: int) -> list: ...


#: the Protocol a venue implements for each private-stream shape
STREAM_PROTOCOLS = {
    StreamShape.TOKEN: TokenStream,
    StreamShape.LOGIN: LoginStream,
    StreamShape.SIGNED_SUBSCRIBE: SignedSubscribeStream,
}


@runtime_checkable
class WsOrderEntry(Protocol):
    """Optional: orders over the venue's WebSocket order entry. A venue offering it sets
    ``ws_order_entry = True``; the engine then sends creates and cancels on that socket while it
    is logged in, and over REST while it is down. A message that may have reached the venue is
    never re-sent on either path: its outcome is resolved by asking (``order_status_request``).

    ``ws_order_login`` returns the login message (None: every order message is signed itself);
    its ack is recognised by ``parse_login_reply``. ``parse_ws_order_reply`` returns None for
    frames that answer no order message (pongs, pushes), and a ``WsSessionNotice`` for a frame
    about the session (revoked, server shutting down)."""

    ws_order_entry: bool
    #: throttler limit ids a WebSocket create / cancel counts on (the venue's rate_limits); the
    #: engine keys them by the order's trading pair, which counts only where a limit is per_key
    ws_place_limit_id: str
    ws_cancel_limit_id: str

    def ws_order_url(self) -> str: ...
    def ws_order_login(self, timestamp_ms: int) -> Optional[str]: ...
    def parse_login_reply(self, raw: Union[str, bytes]) -> Optional[bool]: ...
    def ws_place_order_message(self, order: Any, account: AccountSettings, request_id: str,
                               timestamp_ms: int) -> str: ...
    def ws_cancel_order_message(self, order: Any, request_id: str, timestamp_ms: int) -> str: ...
    def parse_ws_order_reply(self, raw: Union[str, bytes]) -> Union[WsOrderReply, WsSessionNotice, WsUserData, None]: ...


@runtime_checkable
class WsOrderUserData(Protocol):
    """Optional, with :class:`WsOrderEntry`: the user-data events on the order-entry socket
    itself (one socket, no stream key). A venue offering it sets ``ws_user_stream = True``;
    ``ws_user_stream_message(request_id, timestamp_ms)`` is the subscription request sent once
    the session is logged in (its answer is an ordinary reply), and ``parse_ws_order_reply``
    returns the events of each user-data frame as a :class:`WsUserData`. A refused
    subscription leaves the user stream on the venue's own private stream (``user_stream_shape``)."""

    ws_user_stream: bool

    def ws_user_stream_message(self, request_id: str, timestamp_ms: int) -> str: ...


@runtime_checkable
class PerpTradingVenue(TradingVenue, Protocol):
    """Extra translation for perpetual markets. Amounts the engine sees are in base units; a
    venue trading in contracts converts with its instrument table (contract size)."""

    def positions_request(self) -> VenueRequest: ...
    def parse_positions(self, data: Any) -> PositionsSnapshot: ...
    def set_leverage_request(self, pair: str, leverage: int, account: AccountSettings) -> VenueRequest: ...
    def parse_set_leverage(self, data: Any) -> int: ...
    def position_mode_request(self) -> VenueRequest: ...
    def parse_position_mode(self, data: Any) -> Any: ...
    def set_position_mode_request(self, mode: PositionMode) -> VenueRequest: ...
    def set_margin_mode_request(self, pair: str, mode: MarginMode) -> VenueRequest: ...
    def funding_info_request(self, pair: str) -> VenueRequest: ...
    def parse_funding_info(self, data: Any) -> Any: ...
    def funding_payments_request(self, since_ms: int) -> VenueRequest: ...
    def parse_funding_payments(self, data: Any) -> list: ...
