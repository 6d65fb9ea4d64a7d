"""``CapturingBook``: an ``OrderBook`` that tells the hub every change it accepted, with the levels
exactly as they were applied (so the hub publishes what the tracker's book really did, whichever
path -- compiled or general -- applied it)."""
from __future__ import annotations

from typing import Any, Optional, Protocol

from hbconnect._book import OrderBook

__all__ = ["CapturingBook", "BookSink"]


class BookSink(Protocol):
    def book_changed(self, book: "CapturingBook", snapshot: bool, bids: Any, asks: Any, update_id: int) -> None: ...

    def book_truncated(self, book: "CapturingBook", depth: int) -> None: ...


def _replayable(levels: Any) -> Any:
    """Levels the book and the hub can both read (an iterator is read once: make it a list)."""
    if levels is None or type(levels) is list or type(levels) is tuple:
        return levels
    tolist = getattr(levels, "tolist", None)  # numpy arrays
    return tolist() if tolist is not None else list(levels)


class CapturingBook(OrderBook):
    """Reports each successful ``apply_snapshot``/``apply_diffs``/``truncate``/``clear`` to
    ``sink`` (a rejected batch leaves the book unchanged and reports nothing). ``pair`` is set by
    the hub when it binds the book to its tracker's pair."""

    __slots__ = ("sink", "pair")

    def __init__(self, sink: Optional[BookSink] = None, dex: bool = False) -> None:
        super().__init__(dex)
        self.sink = sink
        self.pair: Optional[str] = None

    def apply_snapshot(self, bids: Any, asks: Any, update_id: int) -> None:
        bids, asks = _replayable(bids), _replayable(asks)
        OrderBook.apply_snapshot(self, bids, asks, update_id)
        if self.sink is not None:
            self.sink.book_changed(self, True, bids, asks, update_id)

    def apply_diffs(self, bids: Any, asks: Any, update_id: int) -> None:
        bids, asks = _replayable(bids), _replayable(asks)
        OrderBook.apply_diffs(self, bids, asks, update_id)
        if self.sink is not None:
            self.sink.book_changed(self, False, bids, asks, update_id)

    def truncate(self, depth: int) -> None:
        OrderBook.truncate(self, depth)
        if self.sink is not None:
            self.sink.book_truncated(self, depth)

    def clear(self) -> None:
        OrderBook.clear(self)
        if self.sink is not None:
            self.sink.book_changed(self, True, [], [], self.snapshot_uid)

    def copy(self) -> "CapturingBook":
        """An independent copy that reports to nobody."""
        c = OrderBook.copy(self)
        c.sink = None
        c.pair = self.pair
        return c
