"""Types and mechanics shared by the whole engine.

Trading types (:mod:`.types`), trading rules and quantization (:mod:`.trading_rule`), order
state (:mod:`.in_flight_order`, :mod:`.order_tracker`), rate limiting (:mod:`.throttler`),
venue clock (:mod:`.time_sync`), events (:mod:`.events`), exceptions (:mod:`.errors`) and API
credentials with the signing primitives (:mod:`.credentials`).
The network transport lives in :mod:`.rest`, :mod:`.ws` and :mod:`.codecs` (import those
modules directly; they pull in aiohttp).
"""
from hbconnect.core.credentials import Credentials
from hbconnect.core.errors import (
    AuthenticationError,
    ExchangeError,
    HBConnectError,
    InsufficientBalance,
    InvalidOrder,
    NetworkError,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    RateLimitError,
    RequestTimeout,
    ServiceUnavailable,
    TimeSyncError,
    register_secret,
    sanitize,
)
from hbconnect.core.events import (
    BalanceUpdateEvent,
    BuyOrderCompletedEvent,
    BuyOrderCreatedEvent,
    OrderCompletedEvent,
    OrderCreatedEvent,
    EventHub,
    FundingPaymentCompletedEvent,
    MarketEvent,
    MarketOrderFailureEvent,
    OrderBookTradeEvent,
    OrderBookUpdateEvent,
    OrderCancelledEvent,
    OrderFilledEvent,
    PositionModeChangeEvent,
    PositionUpdateEvent,
    SellOrderCompletedEvent,
    SellOrderCreatedEvent,
    Subscription,
    TaggedEvent,
)
from hbconnect.core.in_flight_order import InFlightOrder, OrderUpdate, TradeUpdate
from hbconnect.core.order_tracker import OrderTracker
from hbconnect.core.throttler import LinkedLimitWeightPair, RateLimit, Throttler, ThrottlerMetrics
from hbconnect.core.time_sync import TimeSynchronizer
from hbconnect.core.trading_rule import TradingRule, quantize_to_step, round_significant
from hbconnect.core.types import (
    AddedToCostTradeFee,
    DeductedFromReturnsTradeFee,
    FundingInfo,
    OrderState,
    OrderType,
    Position,
    PositionAction,
    PositionMode,
    MarginMode,
    PositionSide,
    TokenAmount,
    TradeFee,
    TradeFeeBase,
    TradeType,
    split_trading_pair,
    to_decimal,
)

__all__ = [
    # errors
    "HBConnectError", "ExchangeError", "OrderRejected", "InsufficientBalance", "InvalidOrder",
    "OrderNotFound", "AuthenticationError", "TimeSyncError", "RateLimitError", "ServiceUnavailable",
    "NetworkError", "RequestTimeout", "OutcomeUnknown", "sanitize", "register_secret",
    # credentials
    "Credentials",
    # events
    "MarketEvent", "EventHub", "Subscription", "TaggedEvent", "BuyOrderCreatedEvent",
    "SellOrderCreatedEvent", "OrderCreatedEvent", "OrderCompletedEvent", "OrderFilledEvent", "BuyOrderCompletedEvent", "SellOrderCompletedEvent",
    "OrderCancelledEvent", "MarketOrderFailureEvent", "FundingPaymentCompletedEvent",
    "BalanceUpdateEvent", "PositionUpdateEvent", "PositionModeChangeEvent", "OrderBookTradeEvent",
    "OrderBookUpdateEvent",
    # orders
    "InFlightOrder", "OrderUpdate", "TradeUpdate", "OrderTracker",
    # throttling / time
    "RateLimit", "LinkedLimitWeightPair", "Throttler", "ThrottlerMetrics", "TimeSynchronizer",
    # rules
    "TradingRule", "quantize_to_step", "round_significant",
    # types
    "OrderType", "TradeType", "OrderState", "PositionSide", "PositionMode", "MarginMode", "PositionAction",
    "TokenAmount", "TradeFee", "TradeFeeBase", "AddedToCostTradeFee", "DeductedFromReturnsTradeFee",
    "Position", "FundingInfo", "to_decimal", "split_trading_pair",
]
