"""Bybit v5 trading facts: base URLs, identifiers, rate limits and error codes.

Every value is taken from Bybit's v5 documentation (https://bybit-exchange.github.io/docs/v5/...,
sources ``bybit-exchange/docs`` ``docs/v5``): "Integration Guidance" (authentication), "Connect"
(WebSocket URLs), "Websocket Trade Guideline", "Rate Limit Rules" and "Error Codes".
"""
from __future__ import annotations

import re

from hbconnect.core.throttler import LinkedLimitWeightPair, RateLimit

REST_URL = "https://api.bybit.com"
#: private stream (``auth`` then ``order`` / ``execution`` / ``wallet`` / ``position``)
PRIVATE_WS_URL = "wss://stream.bybit.com/v5/private"
#: WebSocket order entry (``order.create`` / ``order.cancel``)
TRADE_WS_URL = "wss://stream.bybit.com/v5/trade"

#: ``X-BAPI-RECV-WINDOW``: "default value is 5,000"
DEFAULT_RECV_WINDOW_MS = 5000
#: ``X-BAPI-SIGN-TYPE``: 2 = HMAC-SHA256 (the default when the header is absent)
SIGN_TYPE_HMAC = "2"
#: "A max of 36 characters. Combinations of numbers, letters (upper and lower cases), dashes,
#: and underscores are supported." (Place Order, ``orderLinkId``)
MAX_ORDER_LINK_ID_LENGTH = 36
ORDER_LINK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
#: WebSocket order entry ``reqId``: "The length cannot exceed 36 characters"
MAX_REQ_ID_LENGTH = 36
#: private stream / order entry heartbeat: "send the ping heartbeat packet every 20 seconds"
PING_INTERVAL = 20.0
#: WS auth ``expires`` is "greater than your current timestamp": sign this far ahead
WS_AUTH_EXPIRY_MS = 10_000
#: Bybit's default page size is 20 or 50; these are each endpoint's documented maximum
INSTRUMENTS_PAGE = 1000
EXECUTIONS_PAGE = 100
POSITIONS_PAGE = 200
TRANSACTION_LOG_PAGE = 50

# ---- rate limits ("Rate Limit Rules": per UID, per endpoint, rolling 1 s; IP: 600 per 5 s) ----

IP_LIMIT = "BYBIT_IP"  # 600 requests / 5 s per IP on api.bybit.com

#: path -> requests per second per UID, by category where the table splits them
UID_LIMITS: dict = {
    "spot": {
        "/v5/order/create": 20,
        "/v5/order/cancel": 20,
    },
    "linear": {
        "/v5/order/create": 10,
        "/v5/order/cancel": 10,
        "/v5/position/list": 50,
        "/v5/position/set-leverage": 10,
        "/v5/position/switch-mode": 10,
    },
    "any": {
        "/v5/order/realtime": 50,
        "/v5/order/history": 50,
        "/v5/execution/list": 50,
        "/v5/account/wallet-balance": 50,
        "/v5/account/transaction-log": 25,
        "/v5/account/info": 50,
        "/v5/account/set-margin-mode": 5,
    },
}
#: public market endpoints have no UID limit, only the IP budget
PUBLIC_PATHS = ("/v5/market/time", "/v5/market/instruments-info", "/v5/market/tickers")
#: WebSocket order entry shares the account's per-op budget with REST ("The account rate limit
#: is shared between websocket and http"): its ops are throttled on the same limit ids
WS_OPS = {"order.create": "/v5/order/create", "order.cancel": "/v5/order/cancel"}


def rate_limits(category: str, ip_per_5s: int = 600) -> list:
    """The throttler's limits for one category: the IP budget (600 / 5 s) and each endpoint's
    per-UID budget (rolling second), every endpoint linked to the IP budget."""
    limits = [RateLimit(IP_LIMIT, ip_per_5s, 5.0)]
    table = dict(UID_LIMITS["any"])
    table.update(UID_LIMITS.get(category, {}))
    link = [LinkedLimitWeightPair(IP_LIMIT, 1)]
    for path, per_second in table.items():
        limits.append(RateLimit(path, per_second, 1.0, linked_limits=list(link)))
    for path in PUBLIC_PATHS:
        limits.append(RateLimit(path, 1_000_000, 1.0, weight=0, linked_limits=list(link)))
    return limits


# ---- errors ("Error Codes": UTA 2.0 / v5) ----

#: retCode -> (exception class name in hbconnect.core.errors, short meaning)
ERROR_CODES: dict = {
    10001: ("InvalidOrder", "request parameter error"),
    10002: ("TimeSyncError", "request time outside the recv window"),
    10003: ("AuthenticationError", "API key is invalid"),
    10004: ("AuthenticationError", "error sign"),
    10005: ("AuthenticationError", "permission denied"),
    10006: ("RateLimitError", "too many visits"),
    10007: ("AuthenticationError", "user authentication failed"),
    10009: ("AuthenticationError", "IP has been banned"),
    10010: ("AuthenticationError", "unmatched IP"),
    # a timeout or an internal error says nothing of whether an order was placed: ask, never re-send
    10000: ("OutcomeUnknown", "server timeout"),
    10016: ("OutcomeUnknown", "internal server error or service restarting"),
    10017: ("InvalidOrder", "route not found"),
    10027: ("OrderRejected", "transactions are banned"),
    10028: ("AuthenticationError", "unified account users only"),
    10029: ("InvalidOrder", "symbol is not in the whitelist"),
    10429: ("RateLimitError", "system level frequency protection"),
    10403: ("RateLimitError", "exceeded the IP rate limit (trade stream)"),
    10019: ("ServiceUnavailable", "trade stream service is restarting"),
    20003: ("RateLimitError", "too frequent requests in the same session"),
    110001: ("OrderNotFound", "order does not exist"),
    110003: ("InvalidOrder", "order price exceeds the allowable range"),
    110004: ("InsufficientBalance", "wallet balance is insufficient"),
    110007: ("InsufficientBalance", "available balance is insufficient"),
    110008: ("OrderNotFound", "order has been completed or cancelled"),
    110010: ("OrderNotFound", "order has been cancelled"),
    110012: ("InsufficientBalance", "insufficient available balance"),
    110017: ("InvalidOrder", "reduce-only rule not satisfied"),
    110020: ("OrderRejected", "more than 500 active orders"),
    110025: ("ExchangeError", "position mode has not been modified"),
    110026: ("ExchangeError", "cross/isolated margin mode has not been modified"),
    110043: ("ExchangeError", "leverage has not been modified"),
    110072: ("InvalidOrder", "orderLinkId is duplicate"),
    110079: ("ServiceUnavailable", "order is processing, try again later"),
    110094: ("InvalidOrder", "order notional below the lower limit"),
    170121: ("InvalidOrder", "invalid symbol"),
    170124: ("InvalidOrder", "order amount too large"),
    170130: ("InvalidOrder", "data sent for a parameter is not valid"),
    170131: ("InsufficientBalance", "balance insufficient"),
    170132: ("InvalidOrder", "order price too high"),
    170133: ("InvalidOrder", "order price lower than the minimum"),
    170134: ("InvalidOrder", "order price decimal too long"),
    170136: ("InvalidOrder", "order quantity lower than the minimum"),
    170137: ("InvalidOrder", "order volume decimal too long"),
    170140: ("InvalidOrder", "order value below the lower limit"),
    170141: ("InvalidOrder", "duplicate clientOrderId"),
    170148: ("InvalidOrder", "market order amount decimal too long"),
    170210: ("OrderRejected", "new order rejected"),
    170213: ("OrderNotFound", "order does not exist"),
    170217: ("InvalidOrder", "only LIMIT-MAKER orders are supported for the pair"),
    170218: ("OrderRejected", "LIMIT-MAKER order rejected due to invalid price"),
    170115: ("InvalidOrder", "invalid timeInForce"),
    170116: ("InvalidOrder", "invalid orderType"),
    170117: ("InvalidOrder", "invalid side"),
    181001: ("InvalidOrder", "category only supports linear, option or spot"),
}
#: "has not been modified": the setting already had the asked value
NO_CHANGE_CODES = frozenset({110025, 110026, 110043})
#: the order is unknown to the venue (or already closed, so a cancel cannot find it open)
ORDER_NOT_FOUND_CODES = frozenset({110001, 110008, 110010, 170213})
RATE_LIMIT_CODES = frozenset({10006, 10403, 10429, 20003})
