"""Exponential backoff with jitter, shared by the REST retry policy and websocket reconnects."""
from __future__ import annotations

import random
from typing import Callable, Optional


class Backoff:
    """Delays ``base * factor**n`` capped at ``maximum``, with "equal jitter": each delay is drawn
    uniformly in ``[d * (1 - jitter), d]`` so that many clients reconnecting after one outage
    spread out instead of hitting the venue together."""

    __slots__ = ("base", "factor", "maximum", "jitter", "attempts", "_rand")

    def __init__(
        self,
        base: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.5,
        rand: Optional[Callable[[], float]] = None,
    ) -> None:
        if base < 0 or maximum < 0 or factor < 1 or not 0 <= jitter <= 1:
            raise ValueError("invalid backoff parameters")
        self.base = base
        self.factor = factor
        self.maximum = maximum
        self.jitter = jitter
        self.attempts = 0
        self._rand = rand or random.random

    def peek(self) -> float:
        """The un-jittered delay of the next attempt."""
        return min(self.maximum, self.base * self.factor ** min(self.attempts, 64))

    def next_delay(self) -> float:
        d = self.peek()
        self.attempts += 1
        return d * (1.0 - self.jitter * self._rand())

    def reset(self) -> None:
        self.attempts = 0
