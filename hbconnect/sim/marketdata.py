"""Venue-neutral market statistics over an engine's recent fills: rolling 24 h statistics,
candles and aggregate trades.  Front ends format them as their venue does.

The engine remembers its last ``MatchingEngine.MAX_FILLS`` fills; statistics cover what it
remembers.  Candles exist only for periods with at least one trade.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Iterable, Optional

from hbconnect.sim.matching import BUY, SELL, ZERO, Fill, MatchingEngine

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
_MONDAY_MS = 4 * DAY_MS        # 1970-01-05, the first Monday after the epoch


def last_price(engine: MatchingEngine, symbol: str) -> Decimal:
    """Last trade price, else the book's mid, else the symbol's start price."""
    book = engine.books[symbol]
    if book.last_trade_price is not None:
        return book.last_trade_price
    b, a = book.best(BUY), book.best(SELL)
    if b is not None and a is not None:
        return (b + a) / 2
    return book.spec.start_price


def symbol_fills(engine: MatchingEngine, symbol: str, since_ms: Optional[int] = None) -> list[Fill]:
    return [f for f in engine.fills if f.symbol == symbol and (since_ms is None or f.time >= since_ms)]


@dataclass
class Stats:
    """Rolling-window statistics of one symbol (prices in the symbol's quote asset)."""

    open: Decimal
    high: Decimal
    low: Decimal
    last: Decimal
    last_qty: Decimal
    volume: Decimal
    quote_volume: Decimal
    vwap: Decimal
    open_time: int
    close_time: int
    first_id: int          # -1 when no trade in the window
    last_id: int
    count: int
    prev_price: Decimal    # the last price before the window (the open when unknown)

    @property
    def change(self) -> Decimal:
        return self.last - self.open

    @property
    def change_percent(self) -> Decimal:
        return (self.last - self.open) / self.open * 100 if self.open else ZERO


def rolling_stats(engine: MatchingEngine, symbol: str, now_ms: int, window_ms: int = DAY_MS) -> Stats:
    start = now_ms - window_ms
    fills = symbol_fills(engine, symbol)
    before = [f for f in fills if f.time < start]
    inside = [f for f in fills if f.time >= start]
    last = last_price(engine, symbol)
    first = inside[0].price if inside else last
    vol = sum((f.qty for f in inside), ZERO)
    qvol = sum((f.price * f.qty for f in inside), ZERO)
    return Stats(open=first, high=max((f.price for f in inside), default=last),
                 low=min((f.price for f in inside), default=last), last=last,
                 last_qty=inside[-1].qty if inside else ZERO, volume=vol, quote_volume=qvol,
                 vwap=qvol / vol if vol else last, open_time=inside[0].time if inside else now_ms,
                 close_time=now_ms, first_id=inside[0].trade_id if inside else -1,
                 last_id=inside[-1].trade_id if inside else -1, count=len(inside),
                 prev_price=before[-1].price if before else first)


def period_bounds(interval_ms: Optional[int], t_ms: int) -> tuple[int, int]:
    """[open, next open) of the candle holding ``t_ms``: fixed lengths from the epoch (weeks
    from Monday 00:00 UTC), or calendar months when ``interval_ms`` is None."""
    if interval_ms is None:
        d = datetime.fromtimestamp(t_ms / 1000, tz=timezone.utc)
        start = calendar.timegm((d.year, d.month, 1, 0, 0, 0)) * 1000
        y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
        return start, calendar.timegm((y, m, 1, 0, 0, 0)) * 1000
    if interval_ms == WEEK_MS:
        start = (t_ms - _MONDAY_MS) // WEEK_MS * WEEK_MS + _MONDAY_MS
    else:
        start = t_ms - t_ms % interval_ms
    return start, start + interval_ms


@dataclass
class Candle:
    open_time: int
    close_time: int        # last millisecond of the period
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    count: int
    taker_buy_volume: Decimal
    taker_buy_quote_volume: Decimal
    first_id: int
    last_id: int


def candles(fills: Iterable[Fill], interval_ms: Optional[int]) -> list[Candle]:
    """Candles of ``fills`` (in time order), one per period with trades."""
    out: list[Candle] = []
    for f in fills:
        start, end = period_bounds(interval_ms, f.time)
        quote = f.price * f.qty
        taker_buy = f.taker.side == BUY
        if out and out[-1].open_time == start:
            c = out[-1]
            c.high, c.low, c.close = max(c.high, f.price), min(c.low, f.price), f.price
            c.volume += f.qty
            c.quote_volume += quote
            c.count += 1
            c.last_id = f.trade_id
            if taker_buy:
                c.taker_buy_volume += f.qty
                c.taker_buy_quote_volume += quote
        else:
            out.append(Candle(start, end - 1, f.price, f.price, f.price, f.price, f.qty, quote, 1,
                              f.qty if taker_buy else ZERO, quote if taker_buy else ZERO,
                              f.trade_id, f.trade_id))
    return out


@dataclass
class AggTrade:
    """Consecutive fills of one taker order at one price."""

    agg_id: int            # the first fill's trade id (increasing, unique)
    price: Decimal
    qty: Decimal
    first_id: int
    last_id: int
    time: int
    buyer_maker: bool


def agg_trades(fills: Iterable[Fill]) -> list[AggTrade]:
    out: list[AggTrade] = []
    last_taker: Optional[int] = None
    for f in fills:
        if out and last_taker == f.taker.order_id and out[-1].price == f.price:
            out[-1].qty += f.qty
            out[-1].last_id = f.trade_id
        else:
            out.append(AggTrade(f.trade_id, f.price, f.qty, f.trade_id, f.trade_id, f.time,
                                f.maker.side == BUY))
        last_taker = f.taker.order_id
    return out
