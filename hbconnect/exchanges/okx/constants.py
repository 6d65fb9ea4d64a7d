"""OKX v5 trading facts: URLs, paths, rate limits and error codes, each as OKX documents it.

Sources (OKX API v5 docs, https://www.okx.com/docs-v5/en/): "Overview / REST Authentication",
"Overview / WebSocket", "Overview / Rate Limits", "Order Book Trading / Trade", "Trading Account",
"Public Data", "Error Code".
"""
from __future__ import annotations

from hbconnect.core.throttler import LinkedLimitWeightPair, RateLimit

REST_URL = "https://www.okx.com"
PRIVATE_WS_URL = "wss://ws.okx.com:8443/ws/v5/private"

# ---- REST paths ----
TIME = "/api/v5/public/time"
INSTRUMENTS = "/api/v5/public/instruments"
TICKERS = "/api/v5/market/tickers"
TICKER = "/api/v5/market/ticker"
BALANCE = "/api/v5/account/balance"
PLACE_ORDER = "/api/v5/trade/order"  # POST: place; GET: order details
CANCEL_ORDER = "/api/v5/trade/cancel-order"
FILLS = "/api/v5/trade/fills"  # last 3 days
POSITIONS = "/api/v5/account/positions"
ACCOUNT_CONFIG = "/api/v5/account/config"
SET_POSITION_MODE = "/api/v5/account/set-position-mode"
SET_LEVERAGE = "/api/v5/account/set-leverage"
LEVERAGE_INFO = "/api/v5/account/leverage-info"
FUNDING_RATE = "/api/v5/public/funding-rate"
MARK_PRICE = "/api/v5/public/mark-price"
BILLS = "/api/v5/account/bills"  # last 7 days

# throttler ids of the two requests that share the path /api/v5/trade/order
GET_ORDER = "GET /api/v5/trade/order"

# ---- WebSocket (private) ----
LOGIN_PATH = "/users/self/verify"  # the requestPath signed by a WebSocket login
WS_LOGIN_REQUESTS_PER_HOUR = 480  # login + (un)subscribe requests per connection and hour
WS_ORDER = "ws:order"  # throttler ids of the WebSocket order operations
WS_CANCEL = "ws:cancel-order"

#: clOrdId: "A combination of case-sensitive alphanumerics, all numbers, or all letters of up to
#: 32 characters." The same rule holds for a WebSocket request's ``id``.
MAX_CLIENT_ORDER_ID_LENGTH = 32

# ---- rate limits ----
#: "At the sub-account level, we allow a maximum of 1000 order requests per 2 seconds. Only new
#: order requests and amendment order requests will be counted" (error 50061 beyond it).
SUB_ACCOUNT_ORDERS = "SUB_ACCOUNT_ORDERS"

#: path (or throttler id) -> (requests, seconds) as the endpoint's section documents it.
ENDPOINT_LIMITS: dict = {
    TIME: (10, 2.0),
    INSTRUMENTS: (20, 2.0),
    TICKERS: (20, 2.0),
    TICKER: (20, 2.0),
    BALANCE: (10, 2.0),
    PLACE_ORDER: (60, 2.0),
    GET_ORDER: (60, 2.0),
    CANCEL_ORDER: (60, 2.0),
    FILLS: (60, 2.0),
    POSITIONS: (10, 2.0),
    ACCOUNT_CONFIG: (5, 2.0),
    SET_POSITION_MODE: (5, 2.0),
    SET_LEVERAGE: (20, 2.0),
    LEVERAGE_INFO: (20, 2.0),
    FUNDING_RATE: (10, 2.0),
    MARK_PRICE: (10, 2.0),
    BILLS: (5, 1.0),
}
#: "Rate limits are shared across the REST and WebSocket channels": WebSocket order entry draws
#: on the budget of the REST endpoint it mirrors.
WS_LIMIT_OF = {WS_ORDER: PLACE_ORDER, WS_CANCEL: CANCEL_ORDER}
#: "Rate limit rule (except Options): User ID + Instrument ID" (Place order, Cancel order, Order
#: details; WS order / cancel-order "shared with the ... REST API endpoints"): one budget per
#: instrument, keyed by the trading pair (throttler ``keyed_limit_id``)
PER_INSTRUMENT = frozenset({PLACE_ORDER, GET_ORDER, CANCEL_ORDER, WS_ORDER, WS_CANCEL})


def rate_limits(sub_account_orders_per_2s: int = 1000) -> list:
    """Every endpoint's own budget; order placement also counts on the sub-account budget."""
    limits = [RateLimit(SUB_ACCOUNT_ORDERS, sub_account_orders_per_2s, 2.0)]
    for limit_id, (count, seconds) in ENDPOINT_LIMITS.items():
        linked = [LinkedLimitWeightPair(SUB_ACCOUNT_ORDERS, 1)] if limit_id == PLACE_ORDER else []
        limits.append(RateLimit(limit_id, count, seconds, linked_limits=linked,
                                per_key=limit_id in PER_INSTRUMENT))
    for ws_id, rest_id in WS_LIMIT_OF.items():
        # the WebSocket operation is charged on the REST budget it shares (weight 0 of its own)
        linked = [LinkedLimitWeightPair(rest_id, 1)]
        if rest_id == PLACE_ORDER:
            linked.append(LinkedLimitWeightPair(SUB_ACCOUNT_ORDERS, 1))
        limits.append(RateLimit(ws_id, 1_000_000, 1.0, weight=0, linked_limits=linked,
                                per_key=ws_id in PER_INSTRUMENT))
    return limits


# ---- errors ----
#: OKX code -> (class name in hbconnect.core.errors, meaning). Codes from "Error Code"
#: (REST "Public" 50000-series, "Trade" 51000-series, "Account" 59000-series, WebSocket 60000s).
ERROR_CODES: dict = {
    "50001": ("ServiceUnavailable", "service temporarily unavailable"),
    "50004": ("OutcomeUnknown", "API endpoint request timeout (outcome unknown)"),
    "50011": ("RateLimitError", "rate limit reached"),
    "50013": ("ServiceUnavailable", "systems are busy"),
    "50026": ("ServiceUnavailable", "system error"),
    "50040": ("RateLimitError", "too frequent operations"),
    "50061": ("RateLimitError", "sub-account order rate limit reached"),
    "50014": ("InvalidOrder", "parameter can not be empty"),
    "50101": ("AuthenticationError", "APIKey does not match current environment"),
    "50102": ("TimeSyncError", "timestamp request expired"),
    "50103": ("AuthenticationError", "OK-ACCESS-KEY cannot be empty"),
    "50104": ("AuthenticationError", "OK-ACCESS-PASSPHRASE cannot be empty"),
    "50105": ("AuthenticationError", "OK-ACCESS-PASSPHRASE incorrect"),
    "50107": ("AuthenticationError", "OK-ACCESS-TIMESTAMP cannot be empty"),
    "50110": ("AuthenticationError", "IP not in the API key's whitelist"),
    "50111": ("AuthenticationError", "invalid OK-ACCESS-KEY"),
    "50112": ("TimeSyncError", "invalid OK-ACCESS-TIMESTAMP"),
    "50113": ("AuthenticationError", "invalid signature"),
    "50114": ("AuthenticationError", "invalid authorization"),
    "51000": ("InvalidOrder", "parameter error"),
    "51001": ("InvalidOrder", "instrument ID doesn't exist"),
    "51006": ("InvalidOrder", "order price not within the price limit"),
    "51008": ("InsufficientBalance", "insufficient balance or margin"),
    "51010": ("OrderRejected", "request unsupported under current account mode"),
    "51016": ("OrderRejected", "client order ID already exists"),
    "51020": ("InvalidOrder", "order below the minimum order amount"),
    "51024": ("OrderRejected", "trading account is blocked"),
    "51120": ("InvalidOrder", "order amount below the minimum"),
    "51121": ("InvalidOrder", "order quantity must be a multiple of the lot size"),
    "51127": ("InsufficientBalance", "available balance is 0"),
    "51131": ("InsufficientBalance", "insufficient balance"),
    "51137": ("InvalidOrder", "above the highest price limit for buy orders"),
    "51138": ("InvalidOrder", "below the lowest price limit for sell orders"),
    "51150": ("InvalidOrder", "precision of quantity or price exceeds the limit"),
    "51169": ("OrderRejected", "no position in this direction to reduce or close"),
    "51201": ("InvalidOrder", "market order value exceeds the maximum"),
    "51202": ("InvalidOrder", "market order amount exceeds the maximum"),
    "51203": ("InvalidOrder", "order amount exceeds the limit"),
    "51204": ("InvalidOrder", "limit order price cannot be empty"),
    "51400": ("OrderNotFound", "cancellation failed: order filled, canceled or does not exist"),
    "51401": ("OrderNotFound", "cancellation failed: order already canceled"),
    "51402": ("OrderNotFound", "cancellation failed: order already completed"),
    "51410": ("OrderRejected", "order already in canceling status"),
    "51503": ("OrderNotFound", "order already filled or canceled"),
    "51603": ("OrderNotFound", "order does not exist"),
    "59000": ("ExchangeError", "close positions and orders before changing settings"),
    "59102": ("InvalidOrder", "leverage exceeds the maximum"),
    "60004": ("TimeSyncError", "invalid timestamp"),
    "60005": ("AuthenticationError", "invalid apiKey"),
    "60006": ("TimeSyncError", "timestamp request expired"),
    "60007": ("AuthenticationError", "invalid sign"),
    "60009": ("AuthenticationError", "login failure"),
    "60011": ("AuthenticationError", "please log in"),
    "60014": ("RateLimitError", "requests too frequent"),
    "60024": ("AuthenticationError", "wrong passphrase"),
    "60032": ("AuthenticationError", "API key doesn't exist"),
}
#: codes meaning "the order is not (or no longer) live at the venue"
ORDER_NOT_FOUND_CODES = frozenset({"51400", "51401", "51402", "51503", "51603"})
#: "The post-only order will take liquidity in taker orders" (orders channel ``cancelSource``)
CANCEL_SOURCE_POST_ONLY = "31"
