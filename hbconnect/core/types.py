"""Trading enums and value types shared by the engine, named as in Hummingbot.

All money is :class:`decimal.Decimal`. Trading pairs use Hummingbot's ``BASE-QUOTE`` form.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

__all__ = [
    "OrderType",
    "TradeType",
    "OrderState",
    "PositionSide",
    "PositionMode",
    "MarginMode",
    "PositionAction",
    "TokenAmount",
    "TradeFee",
    "TradeFeeBase",
    "AddedToCostTradeFee",
    "DeductedFromReturnsTradeFee",
    "Position",
    "FundingInfo",
    "to_decimal",
    "decimal_text",
    "split_trading_pair",
    "RateFn",
]

DECIMAL_ZERO = Decimal(0)
_MAX_EXPONENT = 1000  # far beyond any price or amount; keeps products and quotients in range


def to_decimal(value: Any, name: str = "value") -> Decimal:
    """Convert ``value`` (Decimal, int, str, bytes or float) to a finite Decimal.

    Floats go through ``repr`` so that ``0.1`` becomes ``Decimal("0.1")``. Raises ``ValueError``
    for NaN, infinities, booleans, unparsable input and magnitudes beyond 1e±1000.
    """
    if type(value) is Decimal:  # the usual case, checked first and cheaply
        if value.is_finite() and (not value or -_MAX_EXPONENT <= value.adjusted() <= _MAX_EXPONENT):
            return value
        d = value
    elif isinstance(value, Decimal):
        d = value
    elif isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be a number, got {_short(value)}")
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        d = Decimal(repr(value))
    else:
        if isinstance(value, (bytes, bytearray)):
            value = value.decode("ascii", "replace")
        try:
            d = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise ValueError(f"{name} is not a number: {_short(value)}") from None
    if not d.is_finite():
        raise ValueError(f"{name} must be finite, got {_short(value)}")
    if d and not -_MAX_EXPONENT <= d.adjusted() <= _MAX_EXPONENT:
        # "1e999999999" is finite, but a product of two such values raises decimal.Overflow
        raise ValueError(f"{name} is out of range: {_short(value)}")
    return d


def decimal_text(value: Decimal) -> str:
    """Plain text of a Decimal without exponent or needless trailing zeros (``1E+1`` -> ``"10"``,
    ``0.0100`` -> ``"0.01"``), as venues expect prices and amounts. ``ValueError`` for NaN,
    infinities and magnitudes beyond 1e±1000, checked before any text is made: formatting
    ``Decimal("1e-100000000")`` in full would take 100 MB."""
    if not value.is_finite():
        raise ValueError(f"not a finite number: {_short(value)}")
    if not value:
        return "0"
    if not -_MAX_EXPONENT <= value.adjusted() <= _MAX_EXPONENT:
        raise ValueError(f"out of range: {_short(value)}")
    text = str(value)
    if "E" in text:  # str() uses scientific notation for small/large exponents
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def split_trading_pair(trading_pair: str) -> Tuple[str, str]:
    """``"BTC-USDT"`` -> ``("BTC", "USDT")``. Raises ``ValueError`` if there is no ``-``."""
    base, sep, quote = trading_pair.partition("-")
    if not sep or not base or not quote:
        raise ValueError(f"trading pair must look like BASE-QUOTE, got {trading_pair!r}")
    return base, quote


class OrderType(enum.Enum):
    __hash__ = object.__hash__  # identity (members are singletons); Enum's own hashes the name in Python
    MARKET = 1
    LIMIT = 2
    LIMIT_MAKER = 3

    def is_limit_type(self) -> bool:
        return self is OrderType.LIMIT or self is OrderType.LIMIT_MAKER


class TradeType(enum.Enum):
    __hash__ = object.__hash__  # identity (members are singletons); Enum's own hashes the name in Python
    BUY = 1
    SELL = 2

    @property
    def opposite(self) -> "TradeType":
        return TradeType.SELL if self is TradeType.BUY else TradeType.BUY


class OrderState(enum.Enum):
    """Life cycle of an order. ``is_done``: terminal at the venue; ``is_open``: may still trade."""

    __hash__ = object.__hash__  # identity (members are singletons); Enum's own hashes the name in Python
    PENDING_CREATE = 0
    OPEN = 1
    PARTIALLY_FILLED = 2
    PENDING_CANCEL = 3
    CANCELED = 4
    FILLED = 5
    FAILED = 6

    @property
    def is_done(self) -> bool:
        return self in _DONE_STATES

    @property
    def is_open(self) -> bool:
        return self in _OPEN_STATES


_DONE_STATES = frozenset({OrderState.CANCELED, OrderState.FILLED, OrderState.FAILED})
_OPEN_STATES = frozenset({OrderState.PENDING_CREATE, OrderState.OPEN, OrderState.PARTIALLY_FILLED,
                          OrderState.PENDING_CANCEL})


class PositionSide(enum.Enum):
    __hash__ = object.__hash__  # identity (members are singletons); Enum's own hashes the name in Python
    LONG = "LONG"
    SHORT = "SHORT"
    BOTH = "BOTH"


class PositionMode(enum.Enum):
    __hash__ = object.__hash__  # identity (members are singletons); Enum's own hashes the name in Python
    HEDGE = True
    ONEWAY = False


class MarginMode(enum.Enum):
    """How a perpetual position's margin is held: shared by the account (cross) or per position
    (isolated). Venues name it ``tdMode`` (OKX), ``tradeMode`` (Bybit), ``marginType``."""

    __hash__ = object.__hash__  # identity (members are singletons); Enum's own hashes the name in Python
    CROSS = "CROSS"
    ISOLATED = "ISOLATED"


class PositionAction(enum.Enum):
    __hash__ = object.__hash__  # identity (members are singletons); Enum's own hashes the name in Python
    OPEN = "OPEN"
    CLOSE = "CLOSE"
    NIL = "NIL"


@dataclass(frozen=True, slots=True)
class TokenAmount:
    """An amount of one token (e.g. a flat fee)."""

    token: str
    amount: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            object.__setattr__(self, "amount", to_decimal(self.amount, "amount"))

    def __iter__(self):  # allows ``token, amount = token_amount``
        yield self.token
        yield self.amount

    def to_json(self) -> Dict[str, str]:
        return {"token": self.token, "amount": str(self.amount)}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "TokenAmount":
        return cls(str(data["token"]), to_decimal(data["amount"], "amount"))


#: ``rate_fn(from_token, to_token)`` -> how many ``to_token`` one ``from_token`` is worth, or
#: ``None`` when unknown.
RateFn = Callable[[str, str], Optional[Decimal]]


class TradeFee:
    """A trade's fee: a percentage of the trade value plus flat amounts.

    ``percent`` (0.001 = 0.1 %) is charged in ``percent_token``; when that is ``None`` it is
    charged in the quote token (spot convention). ``flat_fees`` are exact amounts per token
    (venues report each fill's commission as a flat fee in its asset).

    The subclass says where a percentage fee comes from, as in Hummingbot:
    :class:`AddedToCostTradeFee` is paid on top of the order's cost, while
    :class:`DeductedFromReturnsTradeFee` reduces what the trade returns. ``TradeFee`` itself
    behaves as added-to-cost.
    """

    __slots__ = ("percent", "percent_token", "flat_fees")
    deducted_from_returns: bool = False

    def __init__(self, percent: Any = DECIMAL_ZERO, percent_token: Optional[str] = None,
                 flat_fees: Optional[Iterable[Any]] = None) -> None:
        self.percent: Decimal = to_decimal(percent, "percent")
        self.percent_token: Optional[str] = percent_token
        fees: List[TokenAmount] = []
        for item in flat_fees or ():
            if not isinstance(item, TokenAmount):
                token, amount = item
                item = TokenAmount(token, to_decimal(amount, "flat fee"))
            fees.append(item)
        self.flat_fees: List[TokenAmount] = fees

    # ---- factories (Hummingbot: TradeFeeBase.new_spot_fee / new_perpetual_fee) ----
    @staticmethod
    def new_spot_fee(trade_type: TradeType, percent: Any = DECIMAL_ZERO,
                     percent_token: Optional[str] = None, flat_fees: Optional[Iterable[Any]] = None,
                     buy_percent_fee_deducted_from_returns: bool = False) -> "TradeFee":
        """Sells always pay from returns; buys add to cost unless the venue deducts from returns."""
        if trade_type is TradeType.SELL or buy_percent_fee_deducted_from_returns:
            return DeductedFromReturnsTradeFee(percent, percent_token, flat_fees)
        return AddedToCostTradeFee(percent, percent_token, flat_fees)

    @staticmethod
    def new_perpetual_fee(position_action: PositionAction, percent: Any = DECIMAL_ZERO,
                          percent_token: Optional[str] = None,
                          flat_fees: Optional[Iterable[Any]] = None) -> "TradeFee":
        """Opening a position adds the fee to its cost; closing deducts it from returns."""
        if position_action is PositionAction.CLOSE:
            return DeductedFromReturnsTradeFee(percent, percent_token, flat_fees)
        return AddedToCostTradeFee(percent, percent_token, flat_fees)

    # ---- amounts ----
    @property
    def is_zero(self) -> bool:
        return self.percent == 0 and all(f.amount == 0 for f in self.flat_fees)

    def fee_amounts_by_token(self, trading_pair: str, price: Any, order_amount: Any,
                             rate_fn: Optional[RateFn] = None) -> Dict[str, Decimal]:
        """The fee of a trade of ``order_amount`` base at ``price``, per token it is paid in.

        A percentage charged in a token other than base/quote needs ``rate_fn`` (``ValueError``
        otherwise)."""
        base, quote = split_trading_pair(trading_pair)
        out: Dict[str, Decimal] = {}
        if self.percent:
            token = self.percent_token or quote
            amount = to_decimal(order_amount, "amount")
            if token == base:  # charged on the base amount received
                value = amount * self.percent
            else:  # charged on the trade value (quote), converted later if needed
                value = to_decimal(price, "price") * amount * self.percent
                if token != quote:  # e.g. a BNB-denominated percentage on a BTC-USDT trade
                    value *= _rate(quote, token, base, quote, to_decimal(price, "price"), rate_fn)
            out[token] = out.get(token, DECIMAL_ZERO) + value
        for f in self.flat_fees:
            out[f.token] = out.get(f.token, DECIMAL_ZERO) + f.amount
        return out

    def fee_amount_in_token(self, trading_pair: str, price: Any, order_amount: Any, token: str,
                            rate_fn: Optional[RateFn] = None) -> Decimal:
        """Total fee expressed in ``token``.

        Base and quote convert through ``price``; any other token needs ``rate_fn``. Raises
        ``ValueError`` when a conversion rate is unknown.
        """
        base, quote = split_trading_pair(trading_pair)
        price = to_decimal(price, "price")
        total = DECIMAL_ZERO
        for fee_token, amount in self.fee_amounts_by_token(trading_pair, price, order_amount,
                                                                     rate_fn).items():
            total += amount * _rate(fee_token, token, base, quote, price, rate_fn)
        return total

    def fee_amount_in_quote(self, trading_pair: str, price: Any, order_amount: Any,
                            rate_fn: Optional[RateFn] = None) -> Decimal:
        """Total fee expressed in the pair's quote token (see :meth:`fee_amount_in_token`)."""
        return self.fee_amount_in_token(trading_pair, price, order_amount,
                                        split_trading_pair(trading_pair)[1], rate_fn)

    # ---- persistence ----
    def to_json(self) -> Dict[str, Any]:
        return {
            "fee_type": type(self).__name__,
            "percent": str(self.percent),
            "percent_token": self.percent_token,
            "flat_fees": [f.to_json() for f in self.flat_fees],
        }

    @staticmethod
    def from_json(data: Dict[str, Any]) -> "TradeFee":
        cls = _FEE_CLASSES.get(data.get("fee_type", "TradeFee"))
        if cls is None:
            raise ValueError(f"unknown fee type {data.get('fee_type')!r}")
        return cls(to_decimal(data.get("percent", "0"), "percent"), data.get("percent_token"),
                   [TokenAmount.from_json(f) for f in data.get("flat_fees", ())])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TradeFee):
            return NotImplemented
        return (type(self) is type(other) and self.percent == other.percent
                and self.percent_token == other.percent_token and self.flat_fees == other.flat_fees)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.percent, self.percent_token, tuple(self.flat_fees)))

    def __repr__(self) -> str:
        flat = ", ".join(f"{f.amount} {f.token}" for f in self.flat_fees)
        return (f"{type(self).__name__}(percent={self.percent}, percent_token={self.percent_token!r}, "
                f"flat_fees=[{flat}])")


def _rate(from_token: str, to_token: str, base: str, quote: str, price: Decimal,
          rate_fn: Optional[RateFn]) -> Decimal:
    if from_token == to_token:
        return Decimal(1)
    if from_token == base and to_token == quote:
        return price
    if from_token == quote and to_token == base:
        if price == 0:
            raise ValueError("cannot convert quote to base at price 0")
        return Decimal(1) / price
    rate = rate_fn(from_token, to_token) if rate_fn is not None else None
    if rate is None:
        raise ValueError(f"no conversion rate from {from_token} to {to_token}")
    return to_decimal(rate, "rate")


class AddedToCostTradeFee(TradeFee):
    """The percentage fee is paid on top of the order's cost."""

    __slots__ = ()
    deducted_from_returns = False


class DeductedFromReturnsTradeFee(TradeFee):
    """The percentage fee is taken out of what the trade returns."""

    __slots__ = ()
    deducted_from_returns = True


TradeFeeBase = TradeFee  # Hummingbot's name for the base class
_FEE_CLASSES = {c.__name__: c for c in (TradeFee, AddedToCostTradeFee, DeductedFromReturnsTradeFee)}


@dataclass(slots=True)
class Position:
    """A perpetual position. ``amount`` is signed like Hummingbot's: negative for a short."""

    trading_pair: str
    side: PositionSide
    amount: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal = DECIMAL_ZERO
    leverage: int = 1

    def __post_init__(self) -> None:
        _decimal_fields(self, ("amount", "entry_price", "unrealized_pnl"))

    @property
    def position_side(self) -> PositionSide:  # Hummingbot's attribute name
        return self.side

    @property
    def is_empty(self) -> bool:
        return self.amount == 0

    def to_json(self) -> Dict[str, Any]:
        return {"trading_pair": self.trading_pair, "side": self.side.name, "amount": str(self.amount),
                "entry_price": str(self.entry_price), "unrealized_pnl": str(self.unrealized_pnl),
                "leverage": self.leverage}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Position":
        return cls(data["trading_pair"], PositionSide[data["side"]], to_decimal(data["amount"]),
                   to_decimal(data["entry_price"]), to_decimal(data.get("unrealized_pnl", "0")),
                   int(data.get("leverage", 1)))


@dataclass(slots=True)
class FundingInfo:
    """Funding state of a perpetual pair (Hummingbot's fields)."""

    trading_pair: str
    index_price: Decimal
    mark_price: Decimal
    next_funding_utc_timestamp: float
    rate: Decimal
    extra: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _decimal_fields(self, ("index_price", "mark_price", "rate"))

    def update(self, index_price: Optional[Decimal] = None, mark_price: Optional[Decimal] = None,
               next_funding_utc_timestamp: Optional[float] = None, rate: Optional[Decimal] = None) -> None:
        """Replace the fields given (numbers become Decimal)."""
        if index_price is not None:
            self.index_price = index_price
        if mark_price is not None:
            self.mark_price = mark_price
        if next_funding_utc_timestamp is not None:
            self.next_funding_utc_timestamp = next_funding_utc_timestamp
        if rate is not None:
            self.rate = rate
        _decimal_fields(self, ("index_price", "mark_price", "rate"))


def _decimal_fields(obj: Any, names: Tuple[str, ...]) -> None:
    """Money fields given as int/str/float become Decimal (a float never reaches the engine)."""
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, Decimal):
            setattr(obj, name, to_decimal(value, name))
