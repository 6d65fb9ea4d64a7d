"""The book hub: books kept once and shared over Redis Streams (see docs/hub.md).

Layer: above ``market`` and ``exchanges``, below ``commands`` (the CLI). ``BookHub`` publishes a
tracker's books; ``RemoteBookTracker`` follows them with the tracker's interface. Needs the
``redis`` client library (``pip install 'hbconnect[hub]'``) and a ``redis-server``.
"""
from __future__ import annotations

from typing import Any

__all__ = ["BookHub", "RemoteBookTracker", "RemotePairStats"]


def __getattr__(name: str) -> Any:
    if name == "BookHub":
        from hbconnect.hub.publisher import BookHub

        return BookHub
    if name in ("RemoteBookTracker", "RemotePairStats"):
        from hbconnect.hub import consumer

        return getattr(consumer, name)
    raise AttributeError(f"module 'hbconnect.hub' has no attribute {name!r}")
