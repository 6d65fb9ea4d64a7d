"""The true order books of a recorded REST-snapshot session, rebuilt from the raw recording by a
venue's documented rule, written independently of hbconnect's venue modules and tracker (shared
by tests/test_venue_{gate_io,kucoin,bitstamp}.py).

A subclass says where the recorded snapshots and updates are and how one update applies (its id
rule); the base keeps per-key books and advances them in recording time, so that a test can answer
the tracker's later REST snapshot requests with the venue's true book at that moment.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable, Optional

from refbook import RefBook


def set_levels(side: dict, rows: Iterable) -> None:
    """Absolute sizes by price text: size 0 deletes the level."""
    for row in rows:
        p, s = row[0], row[1]
        if Decimal(s) == 0:
            side.pop(Decimal(p), None)
        else:
            side[Decimal(p)] = (p, s)


def cut(book: RefBook, depth: int) -> None:
    """Keep the ``depth`` best levels of each side."""
    for side, best_first in ((book.bids, True), (book.asks, False)):
        for k in sorted(side, reverse=best_first)[depth:]:
            del side[k]


class RecordedReference:
    """Books keyed by venue symbol: recorded snapshots, then the recorded updates in order."""

    def __init__(self, session: Any) -> None:
        self.books: dict[str, RefBook] = {}
        self.updates: dict[str, list] = {}  # key -> [(recording time, update), ...]
        for rec in session.rest:
            found = self.snapshot_of(rec.url, rec.data)
            if found is not None:
                key, bids, asks, update_id = found
                self.books[key] = b = RefBook()
                b.snapshot(bids, asks, update_id)
        for rec in session.frames:
            found = self.update_of(rec.data)
            if found is not None:
                self.updates.setdefault(found[0], []).append((rec.ts, found[1]))
        self.pos = {k: 0 for k in self.updates}

    # -- what a venue's subclass says
    def snapshot_of(self, url: str, body: Any) -> Optional[tuple[str, list, list, int]]:
        """(key, bids, asks, id) of a recorded REST snapshot, None for other bodies."""
        raise NotImplementedError

    def update_of(self, frame: Any) -> Optional[tuple[str, Any]]:
        """(key, update) of a recorded book update frame, None for other frames."""
        raise NotImplementedError

    def apply(self, book: RefBook, update: Any) -> None:
        """Apply one update by the venue's rule (skip it when already in the book)."""
        raise NotImplementedError

    # -- shared
    def advance(self, key: str, until: float) -> RefBook:
        """The book of ``key`` with every update recorded up to ``until`` applied."""
        b = self.books[key]
        ups = self.updates.get(key, [])
        i = self.pos.get(key, 0)
        while i < len(ups) and ups[i][0] <= until:
            self.apply(b, ups[i][1])
            i += 1
        self.pos[key] = i
        return b

    def finish(self) -> None:
        """Apply everything that was recorded."""
        for key in self.books:
            self.advance(key, float("inf"))
