"""Fault knobs of the embedded exchange, settable at runtime, driven by a seeded RNG.

``FaultConfig`` is a plain mutable dataclass: tests flip its fields while the exchange runs.
Probabilities are in [0, 1] and are drawn per frame / per request from one ``random.Random``
seeded with ``seed``, so a test run is reproducible.

WebSocket faults apply per stream kind, ``market`` (depth, trades, tickers) or ``user``
(private streams): a frame is dropped, duplicated, delayed by ``delay_seconds`` (which also
reorders it behind later frames), or the socket is closed instead of sending it.

REST faults: ``http_429`` (answer 429 + ``Retry-After`` without doing anything), ``http_5xx``
(503 without doing anything), ``slow`` (handle the request ``slow_seconds`` late).  Order endpoints (new order, cancel order) also have faults
where the action WAS done and only the answer is lost (``*_accepted``) and where it was NOT
(``*_rejected``): a 503 with the venue's "execution status unknown" body, or a hang until the
client gives up (``hang_seconds`` at most).  The answers are the venue's own (each front end's
``fault_error``); the knobs and the draws are the same for every venue.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Optional

KINDS = ("market", "user")


@dataclass
class FaultConfig:
    seed: int = 0
    # WebSocket frames, per kind
    drop: dict = field(default_factory=lambda: {"market": 0.0, "user": 0.0})
    duplicate: dict = field(default_factory=lambda: {"market": 0.0, "user": 0.0})
    delay: dict = field(default_factory=lambda: {"market": 0.0, "user": 0.0})
    close: dict = field(default_factory=lambda: {"market": 0.0, "user": 0.0})
    delay_seconds: float = 0.2
    # REST, any endpoint, nothing done
    http_429: float = 0.0
    retry_after_seconds: int = 1
    http_5xx: float = 0.0
    # REST, any endpoint: answer late (the action happens after the wait)
    slow: float = 0.0
    slow_seconds: float = 0.5
    # order endpoints (POST/DELETE order): answer lost after the action / action not done
    timeout_accepted: float = 0.0
    timeout_rejected: float = 0.0
    error_5xx_accepted: float = 0.0
    error_5xx_rejected: float = 0.0
    hang_seconds: float = 30.0
    # paths the generic REST faults apply to (None = every route not declared exempt)
    rest_paths: Optional[set] = None
    # server clock offset in ms (time-sync tests)
    clock_offset_ms: int = 0

    def set_ws(self, kind: str, *, drop: float | None = None, duplicate: float | None = None,
               delay: float | None = None, close: float | None = None) -> None:
        """Set the WebSocket knobs of one kind (``market`` / ``user`` / ``all``)."""
        for k in (KINDS if kind == "all" else (kind,)):
            if drop is not None:
                self.drop[k] = drop
            if duplicate is not None:
                self.duplicate[k] = duplicate
            if delay is not None:
                self.delay[k] = delay
            if close is not None:
                self.close[k] = close

    def clear(self) -> None:
        """Every knob back to off (the seed and clock offset stay)."""
        fresh = FaultConfig(seed=self.seed, clock_offset_ms=self.clock_offset_ms)
        self.__dict__.update(fresh.__dict__)


class FaultInjector:
    """Draws fault decisions from the config with one seeded RNG; counts what it did."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.counts: dict[str, int] = {}

    def _hit(self, p: float) -> bool:
        return p > 0 and self.rng.random() < p

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def frame(self, kind: str) -> str:
        """Decision for one outgoing frame: send | drop | duplicate | delay | close."""
        c = self.config
        if self._hit(c.close.get(kind, 0.0)):
            decision = "close"
        elif self._hit(c.drop.get(kind, 0.0)):
            decision = "drop"
        elif self._hit(c.duplicate.get(kind, 0.0)):
            decision = "duplicate"
        elif self._hit(c.delay.get(kind, 0.0)):
            decision = "delay"
        else:
            return "send"
        self.count(f"ws_{kind}_{decision}")
        return decision

    def rest(self, path: str) -> Optional[str]:
        """Generic REST fault before any work: '429' | '5xx' | None (front ends do not ask for
        the routes they declare exempt: ping, time, instruments)."""
        c = self.config
        if c.rest_paths is not None and path not in c.rest_paths:
            return None
        if self._hit(c.http_429):
            self.count("http_429")
            return "429"
        if self._hit(c.http_5xx):
            self.count("http_5xx")
            return "5xx"
        return None

    def slow(self, path: str) -> float:
        """Seconds to wait before handling this request (0 = none)."""
        c = self.config
        if c.rest_paths is not None and path not in c.rest_paths:
            return 0.0
        if self._hit(c.slow):
            self.count("http_slow")
            return c.slow_seconds
        return 0.0

    def order(self) -> Optional[tuple[str, bool]]:
        """Fault for an order action: (``timeout`` | ``5xx``, accepted) or None."""
        c = self.config
        for kind, accepted, p in (("timeout", True, c.timeout_accepted),
                                  ("timeout", False, c.timeout_rejected),
                                  ("5xx", True, c.error_5xx_accepted),
                                  ("5xx", False, c.error_5xx_rejected)):
            if self._hit(p):
                self.count(f"order_{kind}_{'accepted' if accepted else 'rejected'}")
                return kind, accepted
        return None
