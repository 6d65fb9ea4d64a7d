"""Neutral rejections of the embedded exchange's core (matching engine, accounts, exchange).

The core never speaks a venue's protocol: it raises :class:`SimReject` with a :class:`Reject`
reason (and a human detail for logs), and each venue front end maps the reason to that venue's
own code, message and HTTP status (each front end's ``reject_error``).  A front
end may also reject a request before it reaches the core (parsing, filters); it raises its own
venue error for that, or a :class:`SimReject` when a neutral reason fits.
"""
from __future__ import annotations

import enum


class Reject(enum.Enum):
    """Why the core refused an action (venue-neutral)."""

    UNKNOWN_SYMBOL = "unknown symbol"
    BAD_PARAMETER = "bad parameter"
    INSUFFICIENT_BALANCE = "insufficient balance"
    MARGIN_INSUFFICIENT = "insufficient margin"
    UNKNOWN_ORDER = "no open order with this id"            # cancel of a missing / closed order
    ORDER_NOT_FOUND = "no order with this id"               # query of an order never seen
    DUPLICATE_CLIENT_ID = "client order id already used by an open order"
    POST_ONLY_WOULD_TAKE = "post-only order would take liquidity"
    PRICE_TICK = "price not a multiple of the tick size"
    PRICE_RANGE = "price outside the allowed range"
    QTY_STEP = "quantity not a multiple of the step size"
    MIN_QTY = "quantity below the minimum"
    MAX_QTY = "quantity above the maximum"
    MIN_NOTIONAL = "notional below the minimum"
    REDUCE_ONLY_REJECTED = "reduce-only order would not reduce the position"
    REDUCE_ONLY_IN_HEDGE_MODE = "reduce-only flag sent in hedge (long/short) position mode"
    POSITION_MODE_MISMATCH = "position side does not match the account's position mode"
    POSITION_MODE_UNCHANGED = "position mode already set"
    POSITION_MODE_OPEN_ORDERS = "position mode cannot change while orders are open"
    POSITION_MODE_OPEN_POSITIONS = "position mode cannot change while positions are open"
    LEVERAGE_INVALID = "leverage outside the allowed range"
    LEVERAGE_EXCEEDS_POSITION = "position too large for this leverage"
    MARGIN_MODE_UNSUPPORTED = "margin mode not offered"
    MARGIN_MODE_UNCHANGED = "margin mode already set"
    MARGIN_MODE_OPEN_ORDERS = "margin mode cannot change while the symbol has open orders"
    MARGIN_MODE_OPEN_POSITIONS = "margin mode cannot change while the symbol has a position"
    RATE_LIMITED = "rate limit exceeded"


class SimReject(Exception):
    """The core refused an action: ``reason`` (a :class:`Reject`) and a free-text ``detail``.

    ``detail`` is for logs and never carries credentials; front ends do not send it to clients
    (they answer the venue's documented message for the reason)."""

    def __init__(self, reason: Reject, detail: str = "") -> None:
        super().__init__(f"{reason.name}: {detail or reason.value}")
        self.reason = reason
        self.detail = detail or reason.value
