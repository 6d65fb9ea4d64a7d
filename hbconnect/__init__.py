"""hbconnect: a Cython-accelerated order book and exchange connector engine."""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["OrderBook", "OrderBookQueryResult", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so that pure-Python parts import even before the extension is built.
    if name in ("OrderBook", "OrderBookQueryResult"):
        from hbconnect import _book

        return getattr(_book, name)
    raise AttributeError(f"module 'hbconnect' has no attribute {name!r}")
