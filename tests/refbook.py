"""An independent reference order book for tests: plain dicts keyed by Decimal price, keeping the
venue's text. Written separately from hbconnect's book and tracker on purpose."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Iterable


class RefBook:
    def __init__(self) -> None:
        self.bids: dict[Decimal, tuple[str, str]] = {}
        self.asks: dict[Decimal, tuple[str, str]] = {}
        self.update_id = 0

    def snapshot(self, bids: Iterable, asks: Iterable, update_id: int) -> None:
        self.bids = {}
        self.asks = {}
        for p, s in bids:
            if Decimal(s) != 0:
                self.bids[Decimal(p)] = (p, s)
        for p, s in asks:
            if Decimal(s) != 0:
                self.asks[Decimal(p)] = (p, s)
        self.update_id = update_id

    def diff(self, bids: Iterable, asks: Iterable, update_id: int) -> None:
        for side, other, rows, is_bid in ((self.bids, self.asks, bids, True), (self.asks, self.bids, asks, False)):
            for p, s in rows:
                price = Decimal(p)
                if Decimal(s) == 0:
                    side.pop(price, None)
                else:
                    side[price] = (p, s)
                    # a newer level crossing the other side removes the crossed levels
                    for q in [q for q in other if (q <= price if is_bid else q >= price)]:
                        del other[q]
        self.update_id = update_id

    def top_bids(self, n: int | None = None) -> list[tuple[str, str]]:
        keys = sorted(self.bids, reverse=True)[:n]
        return [self.bids[k] for k in keys]

    def top_asks(self, n: int | None = None) -> list[tuple[str, str]]:
        keys = sorted(self.asks)[:n]
        return [self.asks[k] for k in keys]

    def copy(self) -> "RefBook":
        c = RefBook()
        c.bids = dict(self.bids)
        c.asks = dict(self.asks)
        c.update_id = self.update_id
        return c

    def body(self) -> bytes:
        """A Binance-shaped REST depth body of this book."""
        return json.dumps({"lastUpdateId": self.update_id, "bids": [list(v) for v in self.top_bids()],
                           "asks": [list(v) for v in self.top_asks()]}).encode()


def book_levels(book, n: int | None = None) -> tuple[list, list]:
    """(bids, asks) of an hbconnect OrderBook as lists of (price_text, size_text) tuples."""
    return [tuple(x) for x in book.bids_text(n)], [tuple(x) for x in book.asks_text(n)]
