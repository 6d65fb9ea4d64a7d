"""Market data: the order book tracker, sync policies, replay and recording of sessions."""
from __future__ import annotations

from typing import Any

__all__ = ["OrderBookTracker", "BookState", "BookUpdate", "TrackedBook", "PairStats"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing hbconnect.market.messages stays light (venue modules import it).
    if name in ("OrderBookTracker", "BookState", "BookUpdate", "TrackedBook", "PairStats"):
        from hbconnect.market import tracker

        return getattr(tracker, name)
    raise AttributeError(f"module 'hbconnect.market' has no attribute {name!r}")
