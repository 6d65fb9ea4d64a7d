"""Binance spot and USDⓈ-M constants: base URLs, client order id rules, rate limits, error codes."""
from __future__ import annotations

from hbconnect.core.errors import register_secret_field
from hbconnect.core.throttler import LinkedLimitWeightPair, RateLimit

#: the header carrying the API key, and the user-data stream's key (query, body, URL path)
register_secret_field("X-MBX-APIKEY", "listenKey", "listen_key")

SPOT_REST_URL = "https://api.binance.com"
SPOT_WS_URL = "wss://stream.binance.com:9443"
PERP_REST_URL = "https://fapi.binance.com"
# USDⓈ-M routes depth/trade/bookTicker streams under /public since 2026-04-23.
PERP_WS_URL = "wss://fstream.binance.com/public"
#: USDⓈ-M user-data streams stay at the root (``/ws/<listenKey>``)
PERP_USER_WS_URL = "wss://fstream.binance.com"
#: WebSocket API (order entry): spot "General API Information", USDⓈ-M "WebSocket API General Info"
SPOT_WS_API_URL = "wss://ws-api.binance.com:443/ws-api/v3"
SPOT_WS_API_PATH = "/ws-api/v3"
PERP_WS_API_URL = "wss://ws-fapi.binance.com/ws-fapi/v1"
PERP_WS_API_PATH = "/ws-fapi/v1"

#: Binance's cap on newClientOrderId (^[.A-Z:/a-z0-9_-]{1,36}$), spot and USDⓈ-M.
MAX_CLIENT_ORDER_ID_LENGTH = 36
#: Broker prefix carried by every client order id this library creates.
DEFAULT_BROKER_ID = "x-HBCONN"
DEFAULT_RECV_WINDOW_MS = 5000

# Rate-limit ids (one per budget; endpoints link to them with their weights).
REQUEST_WEIGHT = "REQUEST_WEIGHT"
ORDERS_10S = "ORDERS_10S"
ORDERS_1D = "ORDERS_1D"
ORDERS_1M = "ORDERS_1M"
RAW_REQUESTS = "RAW_REQUESTS"

# Spot endpoints: path -> request weight (docs "Weight", 2025-2026 values).
SPOT_WEIGHTS: dict = {
    "/api/v3/time": 1,
    "/api/v3/exchangeInfo": 20,
    "/api/v3/account": 20,
    "/api/v3/order": 1,  # POST/DELETE; GET is 4, see SPOT_GET_ORDER
    "/api/v3/myTrades": 5,  # with orderId (the engine always sends it); 20 without
    "/api/v3/openOrders": 6,  # with symbol
    "/api/v3/ticker/price": 2,  # single symbol; 4 for all: SPOT_ALL_PRICES
    "/api/v3/userDataStream": 2,
}
SPOT_GET_ORDER = "GET /api/v3/order"
SPOT_ALL_PRICES = "GET /api/v3/ticker/price (all)"
#: a cancel costs request weight only: Binance counts new orders in the ORDERS limits ("Spot
#: Unfilled Order Count Rules": every successful request to *place* an order adds one; the
#: WebSocket API's order.cancel answers carry only REQUEST_WEIGHT in rateLimits)
SPOT_CANCEL_ORDER = "DELETE /api/v3/order"
SPOT_ORDER_LIMITS = ("/api/v3/order",)
#: limits the first fill of an order takes one off (Spot Unfilled Order Count Rules: an order's
#: first fill, partial or full, decrements the unfilled order count by one in every ORDERS
#: interval; some orders by more, so one is the conservative count). Spot only: USDⓈ-M
#: documents no such rule
SPOT_FIRST_FILL_RELEASES = ("ORDERS_10S", "ORDERS_1D")

PERP_WEIGHTS: dict = {
    "/fapi/v1/time": 1,
    "/fapi/v1/exchangeInfo": 1,
    "/fapi/v2/balance": 5,
    "/fapi/v2/positionRisk": 5,
    # New Order: "1 on 10s order rate limit; 1 on 1min order rate limit; 0 on IP rate limit"
    "/fapi/v1/order": 0,
    "/fapi/v1/userTrades": 5,
    "/fapi/v1/ticker/price": 1,  # single symbol; 2 for all: PERP_ALL_PRICES
    "/fapi/v1/listenKey": 1,
    "/fapi/v1/leverage": 1,
    "/fapi/v1/positionSide/dual": 1,
    "/fapi/v1/marginType": 1,
    "/fapi/v1/premiumIndex": 1,
    "/fapi/v1/income": 30,
}
PERP_GET_POSITION_MODE = "GET /fapi/v1/positionSide/dual"
#: USDⓈ-M cancels: request weight only (the order.cancel answer's rateLimits has REQUEST_WEIGHT
#: only; the ORDERS limits count placements)
PERP_CANCEL_ORDER = "DELETE /fapi/v1/order"
PERP_GET_ORDER = "GET /fapi/v1/order"  # Query Order: weight 1
PERP_ALL_PRICES = "GET /fapi/v1/ticker/price (all)"


def spot_rate_limits(weight_per_minute: int = 6000, orders_per_10s: int = 100,
                     orders_per_day: int = 200_000, raw_per_5m: int = 61_000) -> list:
    """Binance spot limits (exchangeInfo ``rateLimits``): 6,000 weight/min, 100 orders/10 s,
    200,000 orders/day, 61,000 raw requests/5 min; each endpoint linked with its weight. Binance
    has no per-endpoint budget: an endpoint's own limit is only the key its links hang on, so
    it is charged nothing (weight 0: no window to keep for it).
    The arguments override the budgets (an account or a test venue with other limits)."""
    limits = [
        RateLimit(REQUEST_WEIGHT, weight_per_minute, 60.0),
        RateLimit(ORDERS_10S, orders_per_10s, 10.0),
        RateLimit(ORDERS_1D, orders_per_day, 86_400.0),
        RateLimit(RAW_REQUESTS, raw_per_5m, 300.0),
    ]
    for path, weight in SPOT_WEIGHTS.items():
        linked = [LinkedLimitWeightPair(REQUEST_WEIGHT, weight), LinkedLimitWeightPair(RAW_REQUESTS, 1)]
        if path in SPOT_ORDER_LIMITS:
            linked += [LinkedLimitWeightPair(ORDERS_10S, 1), LinkedLimitWeightPair(ORDERS_1D, 1)]
        limits.append(RateLimit(path, 1_000_000, 1.0, weight=0, linked_limits=linked))
    limits.append(RateLimit(SPOT_GET_ORDER, 1_000_000, 1.0, weight=0, linked_limits=[
        LinkedLimitWeightPair(REQUEST_WEIGHT, 4), LinkedLimitWeightPair(RAW_REQUESTS, 1)]))
    for limit_id, weight in ((SPOT_CANCEL_ORDER, 1), (SPOT_ALL_PRICES, 4)):
        limits.append(RateLimit(limit_id, 1_000_000, 1.0, weight=0, linked_limits=[
            LinkedLimitWeightPair(REQUEST_WEIGHT, weight), LinkedLimitWeightPair(RAW_REQUESTS, 1)]))
    return limits


#: the venue's (rateLimitType, interval seconds) -> throttler limit id, for following the
#: venue's own counts (X-MBX-USED-WEIGHT-1M, X-MBX-ORDER-COUNT-10S/-1D/-1M, WS rateLimits)
SPOT_BUDGET_IDS = {("REQUEST_WEIGHT", 60): REQUEST_WEIGHT, ("ORDERS", 10): ORDERS_10S,
                   ("ORDERS", 86_400): ORDERS_1D}
PERP_BUDGET_IDS = {("REQUEST_WEIGHT", 60): REQUEST_WEIGHT, ("ORDERS", 10): ORDERS_10S,
                   ("ORDERS", 60): ORDERS_1M}


def perp_rate_limits(weight_per_minute: int = 2400, orders_per_10s: int = 300,
                     orders_per_minute: int = 1200) -> list:
    """Binance USDⓈ-M limits: 2,400 weight/min, 300 orders/10 s, 1,200 orders/min."""
    limits = [
        RateLimit(REQUEST_WEIGHT, weight_per_minute, 60.0),
        RateLimit(ORDERS_10S, orders_per_10s, 10.0),
        RateLimit(ORDERS_1M, orders_per_minute, 60.0),
    ]
    for path, weight in PERP_WEIGHTS.items():
        linked = [LinkedLimitWeightPair(REQUEST_WEIGHT, weight)]
        if path == "/fapi/v1/order":
            linked += [LinkedLimitWeightPair(ORDERS_10S, 1), LinkedLimitWeightPair(ORDERS_1M, 1)]
        limits.append(RateLimit(path, 1_000_000, 1.0, weight=0, linked_limits=linked))
    limits.append(RateLimit(PERP_GET_POSITION_MODE, 1_000_000, 1.0, weight=0,
                            linked_limits=[LinkedLimitWeightPair(REQUEST_WEIGHT, 30)]))
    for limit_id, weight in ((PERP_CANCEL_ORDER, 1), (PERP_GET_ORDER, 1), (PERP_ALL_PRICES, 2)):
        limits.append(RateLimit(limit_id, 1_000_000, 1.0, weight=0,
                                linked_limits=[LinkedLimitWeightPair(REQUEST_WEIGHT, weight)]))
    return limits


#: Binance error code -> (exception class name in hbconnect.core.errors, short meaning)
ERROR_CODES: dict = {
    -1003: ("RateLimitError", "too many requests"),
    -1015: ("RateLimitError", "too many new orders"),
    -1007: ("OutcomeUnknown", "backend timeout: execution status unknown"),
    -1021: ("TimeSyncError", "timestamp outside recvWindow"),
    -1022: ("AuthenticationError", "invalid signature"),
    -2014: ("AuthenticationError", "API key format invalid"),
    -2015: ("AuthenticationError", "invalid API key, IP or permissions"),
    -2010: ("OrderRejected", "new order rejected"),
    -2011: ("OrderNotFound", "cancel rejected: unknown order"),
    -2013: ("OrderNotFound", "order does not exist"),
    -2019: ("InsufficientBalance", "margin is insufficient"),
    -5022: ("OrderRejected", "post-only order would take"),
    -4164: ("InvalidOrder", "notional below minimum"),
    -1111: ("InvalidOrder", "precision over maximum"),
    -1013: ("InvalidOrder", "filter failure"),
    -1106: ("InvalidOrder", "parameter sent when not required"),
    -1102: ("InvalidOrder", "mandatory parameter missing"),
    -1100: ("InvalidOrder", "illegal characters in parameter"),
    -1121: ("InvalidOrder", "invalid symbol"),
    -1125: ("AuthenticationError", "listenKey does not exist"),
    -4059: ("ExchangeError", "no need to change position side"),
    -4046: ("ExchangeError", "no need to change margin type"),
}
