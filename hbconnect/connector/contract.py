"""The contract between the connector engine and a venue's trading translation.

A venue module (``hbconnect/exchanges/<venue>.py``) exposes, in ``TRADING``, a factory
(usually the class) that builds a :class:`TradingVenue` from credentials and optional base URLs.
The translation object never does I/O: it says which request to send (:class:`VenueRequest`),
signs it when asked (:meth:`TradingVenue.prepare`), and translates what came back into
hbconnect's types (``OrderUpdate``, ``TradeUpdate``, ``TradingRule``) or the normalized
account messages below. The engine (``Connector``/``PerpConnector``) does the talking.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional, Protocol, Sequence, Union


@dataclass(slots=True)
class VenueRequest:
    """A REST request described by the venue module, before signing."""

    method: str  # GET / POST / PUT / DELETE
    path: str  # path under the venue's REST base URL, e.g. "/api/v3/order"
    params: dict = field(default_factory=dict)
    signed: bool = False  # needs timestamp + signature
    api_key: bool = False  # needs the API key header only (listen-key endpoints)
    limit_id: str = ""  # throttler limit id (the path by default)
    #: False for requests whose repetition changes the venue's state (order placement): the
    #: engine never re-sends them; an unknown outcome is resolved by asking the venue.
    idempotent: bool = True

    def __post_init__(self) -> None:
        if not self.limit_id:
            self.limit_id = self.path


class PreparedRequest:
    """A signed request ready for the wire: ``params`` go in the query string, ``body`` is a
    form body. Its repr never shows params, body or headers (they carry signatures/keys)."""

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
    """The user stream's listen key expired/was invalidated: the engine re-creates it."""

    reason: str = ""


#: what ``parse_user_stream`` returns items of (besides OrderUpdate / TradeUpdate)
UserStreamEvent = Union[BalanceUpdate, BalanceDelta, PositionUpdate, FundingHint, StreamExpired]


class TradingVenue(Protocol):
    """What a venue's trading translation object provides (one per account and market)."""

    name: str
    is_perpetual: bool
    rest_url: str
    ws_url: str
    rate_limits: list  # list[RateLimit]
    recv_window_ms: int
    max_client_order_id_length: int

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
    def place_order_request(self, order: Any) -> VenueRequest: ...
    def parse_place_order(self, data: Any, order: Any, timestamp: float) -> tuple: ...
    def cancel_order_request(self, order: Any) -> VenueRequest: ...
    def parse_cancel_order(self, data: Any, order: Any, timestamp: float) -> Any: ...
    def order_status_request(self, order: Any) -> VenueRequest: ...
    def parse_order_status(self, data: Any, order: Any, timestamp: float) -> Any: ...
    def order_fills_request(self, order: Any) -> VenueRequest: ...
    def parse_order_fills(self, data: Any, order: Any) -> list: ...

    def listen_key_request(self) -> VenueRequest: ...
    def parse_listen_key(self, data: Any) -> str: ...
    def listen_key_keepalive_request(self, listen_key: str) -> VenueRequest: ...
    def user_stream_url(self, listen_key: str) -> str: ...
    def parse_user_stream(self, raw: Union[str, bytes]) -> list: ...

    def error_from_response(self, status: int, data: Any, headers: Any) -> Exception: ...
    def is_order_not_found(self, error: Exception) -> bool: ...
    def is_no_change(self, error: Exception) -> bool: ...


class PerpTradingVenue(TradingVenue, Protocol):
    """Extra translation for perpetual markets."""

    def positions_request(self) -> VenueRequest: ...
    def parse_positions(self, data: Any) -> PositionsSnapshot: ...
    def set_leverage_request(self, pair: str, leverage: int) -> VenueRequest: ...
    def parse_set_leverage(self, data: Any) -> int: ...
    def position_mode_request(self) -> VenueRequest: ...
    def parse_position_mode(self, data: Any) -> Any: ...
    def set_position_mode_request(self, mode: Any) -> VenueRequest: ...
    def funding_info_request(self, pair: str) -> VenueRequest: ...
    def parse_funding_info(self, data: Any) -> Any: ...
    def funding_payments_request(self, since_ms: int) -> VenueRequest: ...
    def parse_funding_payments(self, data: Any) -> list: ...
