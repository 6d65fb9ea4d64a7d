"""The embedded exchange core's own words for orders, positions and income.

The matching engine and the accounts speak only these values; each venue front end maps its wire
values to and from them (and back again in every answer and stream message), so the core carries
no venue's spelling.  They are plain ``str`` constants (not ``enum.Enum``): orders and event
snapshots hold them as strings, compare them cheaply and never print a class name by accident.
"""
from __future__ import annotations


class TimeInForce:
    GTC = "GTC"                 # good till cancelled
    IOC = "IOC"                 # immediate or cancel: the unfilled remainder expires
    FOK = "FOK"                 # fill or kill: all at once or nothing
    POST_ONLY = "POST_ONLY"     # rests like GTC, refused if it would take on arrival
    RESTING = (GTC, POST_ONLY)  # those that may rest on the book


class SelfTradePrevention:
    """What happens when an order would trade against a resting order of the same account."""

    NONE = "NONE"                   # the accounts trade with themselves
    CANCEL_TAKER = "CANCEL_TAKER"   # the incoming order's remainder expires
    CANCEL_MAKER = "CANCEL_MAKER"   # the resting order expires, matching goes on
    CANCEL_BOTH = "CANCEL_BOTH"     # both expire
    ALL = (NONE, CANCEL_TAKER, CANCEL_MAKER, CANCEL_BOTH)
    EXPIRES_MAKER = (CANCEL_MAKER, CANCEL_BOTH)
    EXPIRES_TAKER = (CANCEL_TAKER, CANCEL_BOTH)


class Status:
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    PREVENTED = "PREVENTED"     # expired by self-trade prevention
    OPEN = (NEW, PARTIALLY_FILLED)


class EndReason:
    """Why an order expired (``Order.end_reason``; empty while it did not)."""

    NONE = ""
    SELF_TRADE = "SELF_TRADE"                   # self-trade prevention
    IOC_REMAINDER = "IOC_REMAINDER"             # what an IOC order could not fill
    MARKET_REMAINDER = "MARKET_REMAINDER"       # what a market order could not fill
    REDUCE_ONLY = "REDUCE_ONLY"                 # a reduce-only order left with nothing to reduce
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"   # a post-only order a venue accepts then cancels


class PositionSide:
    NET = "NET"         # one-way mode: one signed position per symbol
    LONG = "LONG"       # hedge mode
    SHORT = "SHORT"     # hedge mode
    ALL = (NET, LONG, SHORT)


class MarginMode:
    """How a perpetual position is margined (per account and symbol)."""

    CROSS = "CROSS"         # the whole wallet backs every cross position
    ISOLATED = "ISOLATED"   # the position has its own margin: at most that much can be lost


class IncomeKind:
    """Entries of a perpetual account's income history."""

    REALIZED_PNL = "REALIZED_PNL"
    FEE = "FEE"
    FUNDING = "FUNDING"
    TRANSFER = "TRANSFER"
