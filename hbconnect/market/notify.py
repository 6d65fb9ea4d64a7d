"""Book and trade notifications shared by the trackers (``OrderBookTracker`` and the Redis hub's
``RemoteBookTracker``): callbacks, and ``subscribe()`` iterators with bounded queues."""
from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Union

from hbconnect.market.messages import Trade

__all__ = ["BookUpdate", "Subscription", "Notifier", "BookCallback", "TradeCallback"]


@dataclass(slots=True)
class BookUpdate:
    """Notification: the book of ``pair`` changed (``snapshot`` True for a full reset)."""

    pair: str
    update_id: int
    timestamp: float
    snapshot: bool = False


Event = Union[BookUpdate, Trade]


class Subscription:
    """An async iterator of ``BookUpdate`` and ``Trade`` events with a bounded queue: when the
    consumer is slower than the feed, the oldest events are dropped (``dropped`` counts them) so
    that the tracker is never blocked."""

    def __init__(self, tracker: "Notifier", maxsize: int = 10_000, books: bool = True,
                 trades: bool = True, pairs: Optional[Iterable[str]] = None) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self._tracker = tracker
        self.maxsize = maxsize
        self.books = books
        self.trades = trades
        self.pairs = frozenset(pairs) if pairs is not None else None
        self.dropped = 0
        self._q: collections.deque = collections.deque()
        self._event: Optional[asyncio.Event] = None
        self._closed = False

    def _push(self, item: Event) -> None:
        q = self._q
        if len(q) >= self.maxsize:
            q.popleft()
            self.dropped += 1
        q.append(item)
        ev = self._event
        if ev is not None:
            ev.set()

    def __len__(self) -> int:
        return len(self._q)

    def get_nowait(self) -> Optional[Event]:
        return self._q.popleft() if self._q else None

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Event:
        while not self._q:
            if self._closed:
                raise StopAsyncIteration
            if self._event is None:
                self._event = asyncio.Event()
            self._event.clear()
            await self._event.wait()
        return self._q.popleft()

    def close(self) -> None:
        self._closed = True
        self._tracker._unsubscribe(self)
        if self._event is not None:
            self._event.set()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


BookCallback = Callable[[BookUpdate], Any]
TradeCallback = Callable[[Trade], Any]


class Notifier:
    """Callbacks and subscriptions of a tracker. The tracker sets ``_book_callbacks``,
    ``_trade_callbacks``, ``_subs``, ``_notify_books``/``_notify_trades`` (whether anyone listens),
    ``notify_errors``, ``name`` and ``_log`` (a rate-limited logger) in its ``__init__``;
    ``_emit_book`` takes any per-pair object with ``pair``, ``last_id`` and ``last_update_time``."""

    _book_callbacks: list
    _trade_callbacks: list
    _subs: list
    _notify_books: bool
    _notify_trades: bool
    notify_errors: int
    name: str
    _log: Any

    def add_book_callback(self, cb: BookCallback) -> None:
        self._book_callbacks.append(cb)
        self._notify_books = True

    def add_trade_callback(self, cb: TradeCallback) -> None:
        self._trade_callbacks.append(cb)
        self._notify_trades = True

    def subscribe(self, maxsize: int = 10_000, *, books: bool = True, trades: bool = True,
                  pairs: Optional[Iterable[str]] = None) -> Subscription:
        """An async iterator of book updates and trades (bounded; never blocks the tracker)."""
        sub = Subscription(self, maxsize, books, trades, pairs)
        self._subs.append(sub)
        self._refresh_notify()
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
        self._refresh_notify()

    def _refresh_notify(self) -> None:
        self._notify_books = bool(self._book_callbacks) or any(s.books for s in self._subs)
        self._notify_trades = bool(self._trade_callbacks) or any(s.trades for s in self._subs)

    def _emit_book(self, tb: Any, snapshot: bool) -> None:
        upd = BookUpdate(tb.pair, tb.last_id, tb.last_update_time, snapshot)
        for cb in self._book_callbacks:
            try:
                cb(upd)
            except Exception:
                self.notify_errors += 1
                self._log("callback", logging.ERROR, "%s: book callback raised", self.name, exc_info=True)
        for sub in self._subs:
            if sub.books and (sub.pairs is None or tb.pair in sub.pairs):
                sub._push(upd)

    def _emit_trade(self, tr: Trade) -> None:
        for cb in self._trade_callbacks:
            try:
                cb(tr)
            except Exception:
                self.notify_errors += 1
                self._log("callback", logging.ERROR, "%s: trade callback raised", self.name, exc_info=True)
        for sub in self._subs:
            if sub.trades and (sub.pairs is None or tr.pair in sub.pairs):
                sub._push(tr)
