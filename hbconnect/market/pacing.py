"""Pacing of what the tracker sends: the venues' limits on client messages and new connections.

``SendPacer`` is pure bookkeeping over a caller-supplied clock (no sleeping, no I/O), so the live
driver and the tests share it: ``reserve(now, subscription)`` returns the earliest time the next
message may go out and books that slot.
"""
from __future__ import annotations

import collections
from typing import Any, Optional

__all__ = ["SendPacer", "venue_pacer", "connect_pacer"]

HOUR = 3600.0


class SendPacer:
    """At most ``rate`` messages per second (evenly spaced, ``1 / rate`` apart) and at most
    ``per_hour`` subscription messages in any sliding ``window`` (default one hour)."""

    __slots__ = ("rate", "per_hour", "window", "_interval", "_next", "_subs")

    def __init__(self, rate: Optional[float] = None, per_hour: Optional[int] = None,
                 window: float = HOUR) -> None:
        if rate is not None and not rate > 0:
            raise ValueError("rate must be > 0")
        if per_hour is not None and per_hour < 1:
            raise ValueError("per_hour must be >= 1")
        self.rate = rate
        self.per_hour = per_hour
        self.window = window
        self._interval = 1.0 / rate if rate else 0.0
        self._next = float("-inf")
        self._subs: collections.deque = collections.deque()

    @property
    def limited(self) -> bool:
        return self.rate is not None or self.per_hour is not None

    def reserve(self, now: float, subscription: bool = True) -> float:
        """Book the next slot at or after ``now`` and return its time."""
        t = now if now > self._next else self._next
        if subscription and self.per_hour is not None:
            subs = self._subs
            while subs and subs[0] <= t - self.window:
                subs.popleft()
            if len(subs) >= self.per_hour:
                t = max(t, subs[0] + self.window)
                while subs and subs[0] <= t - self.window:
                    subs.popleft()
            subs.append(t)
        if self._interval:
            self._next = t + self._interval
        return t

    def sent(self, now: float) -> None:
        """The message actually left at ``now`` (later than its slot): the next one waits a full
        interval from then, so the venue never sees two closer than ``1 / rate``."""
        if self._interval and now + self._interval > self._next:
            self._next = now + self._interval

    def backlog(self, queued: int, now: float) -> float:
        """About how long from ``now`` until the last of ``queued`` waiting messages goes out at
        the message rate (0 without a rate; the hourly budget is not forecast)."""
        if not self._interval or queued <= 0:
            return 0.0
        return max(0.0, self._next - now) + (queued - 1) * self._interval

    def reset(self) -> None:
        """A new connection: the venue's per-connection budgets start afresh."""
        self._next = float("-inf")
        self._subs.clear()


def _positive(value: Any) -> Optional[float]:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v > 0 else None


def venue_pacer(venue: Any) -> SendPacer:
    """A per-connection pacer from the venue's optional ``ws_message_rate`` and
    ``ws_subscriptions_per_hour`` (see ``hbconnect.market.messages.MarketDataVenue``)."""
    per_hour = _positive(venue.ws_subscriptions_per_hour)
    return SendPacer(_positive(venue.ws_message_rate),
                     max(1, int(per_hour)) if per_hour is not None else None)


def connect_pacer(venue: Any) -> SendPacer:
    """A pacer for opening connections from the venue's optional ``ws_connect_rate``."""
    return SendPacer(_positive(venue.ws_connect_rate))
