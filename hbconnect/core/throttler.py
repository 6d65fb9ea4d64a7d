"""Client-side rate limiting that waits instead of hitting the venue's limits.

Each :class:`RateLimit` is a sliding window: at most ``limit`` weight within any
``time_interval`` seconds. A request names one limit id (usually its endpoint); it is charged
that limit's ``weight`` and, through ``linked_limits``, weights on shared pools (e.g. every
endpoint's weight on one per-minute weight pool, orders also on an order-count pool).

``async with throttler.execute_task("GET /depth"): ...`` returns at once when every
involved window has room, otherwise waits — first come, first served per limit — until it has.
A sliding window never admits more than a venue's fixed (calendar) window would, so the venue's
limit is never exceeded. ``safety_margin`` keeps a fraction of each limit unused.

Cost per request is O(log n) in the window's length: each window keeps its entries' expiry
times with cumulative weights (a list used as a queue, expired from the left), so the time at
which enough weight frees up is a binary search, never a scan of the history.

Limits a venue counts per key (OKX: "User ID + Instrument ID") are declared ``per_key``: a
request for ``keyed_limit_id(limit_id, key)`` then has a window of its own, made on first use
(its per-key links are keyed alike); a keyed id of a limit that is not ``per_key`` is that limit.
Idle keyed windows beyond ``MAX_KEYS_PER_LIMIT`` are forgotten, so memory stays bounded.

``pause(seconds)`` / ``slow_down(retry_after)`` stop the whole venue: after a 429/418 every
request waits for what the venue asks (or for an exponential backoff when it says nothing).
"""
from __future__ import annotations

import asyncio
import bisect
import collections
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Deque, Dict, Iterable, List, Mapping, Optional, Tuple

__all__ = ["RateLimit", "LinkedLimitWeightPair", "Throttler", "ThrottlerMetrics", "keyed_limit_id"]

logger = logging.getLogger(__name__)

_EPS = 1e-9
_COMPACT_AT = 1024
KEY_SEP = "#"
#: keyed windows of one per-key limit kept before idle ones are forgotten
MAX_KEYS_PER_LIMIT = 4096


def keyed_limit_id(limit_id: str, key: str) -> str:
    """The limit id of ``limit_id`` for one key (e.g. an instrument) of a per-key limit."""
    return f"{limit_id}{KEY_SEP}{key}"


@dataclass(frozen=True, slots=True)
class LinkedLimitWeightPair:
    limit_id: str
    weight: int = 1


@dataclass(slots=True)
class RateLimit:
    """At most ``limit`` weight per ``time_interval`` seconds for ``limit_id``.

    A request for this limit id costs ``weight`` here and each linked limit's weight there.
    ``per_key``: the venue counts it per key; see the module docstring.
    """

    limit_id: str
    limit: int
    time_interval: float
    weight: int = 1
    linked_limits: List[LinkedLimitWeightPair] = field(default_factory=list)
    per_key: bool = False

    def __post_init__(self) -> None:
        if self.limit <= 0 or self.time_interval <= 0:
            raise ValueError(f"rate limit {self.limit_id!r}: limit and time_interval must be > 0")
        if self.weight < 0:
            raise ValueError(f"rate limit {self.limit_id!r}: weight must be >= 0")
        self.linked_limits = [p if isinstance(p, LinkedLimitWeightPair) else LinkedLimitWeightPair(*p)
                              for p in self.linked_limits]


@dataclass(slots=True)
class ThrottlerMetrics:
    requests: int = 0  # admitted requests
    waited: int = 0  # of which had to wait
    total_wait_time: float = 0.0  # seconds spent waiting, summed over requests
    max_wait_time: float = 0.0
    pauses: int = 0  # pause()/slow_down() calls
    total_pause_time: float = 0.0  # seconds of pause requested (overlaps merged)
    queued: int = 0  # requests waiting right now


class _Waiter:
    __slots__ = ("fut",)

    def __init__(self) -> None:
        self.fut: Optional[asyncio.Future] = None


class _Window:
    """Sliding-window state of one rate limit."""

    __slots__ = ("limit_id", "limit", "capacity", "interval", "expiry", "cum", "head",
                 "expired_cum", "total", "released", "waiters", "pending")

    def __init__(self, rate_limit: RateLimit, safety_margin: float) -> None:
        self.limit_id = rate_limit.limit_id
        self.expiry: List[float] = []  # time each admitted entry leaves the window
        self.cum: List[int] = []  # cumulative weight admitted up to and including the entry
        self.head = 0  # first unexpired entry
        self.expired_cum = 0  # cumulative weight of all expired entries
        self.total = 0  # cumulative weight ever admitted
        #: weight given back before it expired (the venue stopped counting it), taken off the
        #: oldest entries: it is used up as they expire
        self.released = 0
        self.waiters: Deque[_Waiter] = collections.deque()
        self.pending = 0  # weight the waiters want here
        self.configure(rate_limit, safety_margin)

    def configure(self, rate_limit: RateLimit, safety_margin: float) -> None:
        self.limit = rate_limit.limit
        self.interval = float(rate_limit.time_interval)
        self.capacity = max(1, math.floor(rate_limit.limit * (1.0 - safety_margin) + _EPS))

    def expire(self, now: float) -> None:
        expiry = self.expiry
        head = self.head
        n = len(expiry)
        if head < n and expiry[head] <= now + _EPS:
            head = bisect.bisect_right(expiry, now + _EPS, head)
            expired_cum = self.cum[head - 1]
            if self.released:
                self.released = max(0, self.released - (expired_cum - self.expired_cum))
            self.expired_cum = expired_cum
            if head >= _COMPACT_AT and head * 2 >= n:
                del expiry[:head]
                del self.cum[:head]
                head = 0
            self.head = head

    @property
    def used(self) -> int:
        return self.total - self.expired_cum - self.released

    def wait_time(self, weight: int, now: float) -> float:
        """Seconds until ``weight`` fits (0 if it fits now). Call ``expire(now)`` first."""
        used = self.total - self.expired_cum - self.released
        if used + weight <= self.capacity or (used == 0 and weight <= self.limit):
            return 0.0
        # weight that must leave the window; a request larger than the margin-reduced capacity
        # (but within the true limit) waits for an empty window
        need = used if weight > self.capacity else used + weight - self.capacity
        idx = bisect.bisect_left(self.cum, self.expired_cum + self.released + need, self.head)
        return max(self.expiry[idx] - now, 0.0)

    def record(self, weight: int, now: float) -> None:
        self.total += weight
        self.expiry.append(now + self.interval)
        self.cum.append(self.total)


_Plan = Tuple[Tuple[_Window, int], ...]


def _room_for_all(window: _Window, now: float) -> bool:
    window.expire(now)
    return window.used + window.pending <= window.capacity


class _TaskContext:
    __slots__ = ("_throttler", "_limit_id", "_weights")

    def __init__(self, throttler: "Throttler", limit_id: str, weights: Optional[Mapping[str, int]]) -> None:
        self._throttler = throttler
        self._limit_id = limit_id
        self._weights = weights

    async def __aenter__(self) -> None:
        await self._throttler.acquire(self._limit_id, self._weights)

    async def __aexit__(self, *exc: object) -> None:
        return None


class Throttler:
    """Waits so that requests stay within every configured :class:`RateLimit`.

    :param rate_limits: the venue's limits (endpoint limits and the pools they link to).
    :param safety_margin: fraction of each limit left unused (0.05 = use at most 95 %).
    :param time_fn: monotonic clock in seconds (inject a fake one in tests).
    :param sleep_fn: ``async sleep(seconds)`` matching ``time_fn``.
    :param backoff_base / backoff_max: pause after a 429 without Retry-After, doubled on
        consecutive occurrences.
    """

    def __init__(self, rate_limits: Iterable[RateLimit], safety_margin: float = 0.05,
                 time_fn: Callable[[], float] = time.monotonic,
                 sleep_fn: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 backoff_base: float = 1.0, backoff_max: float = 60.0) -> None:
        if not 0.0 <= safety_margin < 1.0:
            raise ValueError("safety_margin must be in [0, 1)")
        self.safety_margin = safety_margin
        self._time = time_fn
        self._sleep = sleep_fn
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._limits: Dict[str, RateLimit] = {}
        self._windows: Dict[str, _Window] = {}
        self._plans: Dict[str, _Plan] = {}
        #: per-key limit id -> its keyed limit ids, oldest first
        self._keyed: Dict[str, Dict[str, None]] = {}
        self._paused_until = -math.inf
        self._slowdowns = 0
        self.metrics = ThrottlerMetrics()
        self.update_rate_limits(rate_limits)

    # ---- configuration ----
    @property
    def rate_limits(self) -> List[RateLimit]:
        return list(self._limits.values())

    def update_rate_limits(self, rate_limits: Iterable[RateLimit]) -> None:
        """Add or replace limits (e.g. from the venue's exchange info). Usage so far is kept.
        An inconsistent set raises ``ValueError`` and changes nothing."""
        new = list(rate_limits)
        limits = {**self._limits, **{rl.limit_id: rl for rl in new}}
        keyed = {kid for keys in self._keyed.values() for kid in keys}
        for rl in limits.values():
            if rl.limit_id in keyed:        # made from a checked per-key limit; links may be idle
                continue
            for pair in rl.linked_limits:
                if pair.limit_id not in limits:
                    raise ValueError(f"rate limit {rl.limit_id!r} links to unknown limit {pair.limit_id!r}")
                if pair.weight > limits[pair.limit_id].limit:
                    raise ValueError(f"rate limit {rl.limit_id!r}: weight {pair.weight} on "
                                     f"{pair.limit_id!r} exceeds its limit")
            if rl.weight > rl.limit:
                raise ValueError(f"rate limit {rl.limit_id!r}: weight exceeds its limit")
        self._limits = limits
        for rl in new:
            window = self._windows.get(rl.limit_id)
            if window is None:
                self._windows[rl.limit_id] = _Window(rl, self.safety_margin)
            else:
                window.configure(rl, self.safety_margin)
            for kid in self._keyed.get(rl.limit_id, ()):   # keyed windows follow their limit
                self._limits[kid].limit, self._limits[kid].time_interval = rl.limit, rl.time_interval
                self._windows[kid].configure(rl, self.safety_margin)
        self._plans.clear()

    def _resolve(self, limit_id: str) -> Optional[RateLimit]:
        """The limit of ``limit_id``, making the window of a keyed id of a per-key limit."""
        rl = self._limits.get(limit_id)
        if rl is not None or KEY_SEP not in limit_id:
            return rl
        base_id, key = limit_id.split(KEY_SEP, 1)
        base = self._limits.get(base_id)
        if base is None or not base.per_key:
            return base
        links = []
        for pair in base.linked_limits:
            target = self._limits.get(pair.limit_id)
            if target is not None and target.per_key:
                linked_id = keyed_limit_id(pair.limit_id, key)
                self._resolve(linked_id)
                links.append(LinkedLimitWeightPair(linked_id, pair.weight))
            else:
                links.append(pair)
        rl = RateLimit(limit_id, base.limit, base.time_interval, base.weight, links)
        self._limits[limit_id] = rl
        self._windows[limit_id] = _Window(rl, self.safety_margin)
        keys = self._keyed.setdefault(base_id, {})
        keys[limit_id] = None
        if len(keys) > MAX_KEYS_PER_LIMIT:
            self._forget_idle(keys, keep=limit_id)
        return rl

    def _forget_idle(self, keys: Dict[str, None], keep: str) -> None:
        """Drop the oldest keyed windows that hold no weight and no waiter (a fresh window is
        the same), and every cached plan that used them."""
        now = self._time()
        dropped = []
        for kid in list(keys):
            if len(keys) - len(dropped) <= MAX_KEYS_PER_LIMIT // 2:
                break
            window = self._windows[kid]
            window.expire(now)
            if kid != keep and not window.waiters and window.used == 0:
                dropped.append(window)
                del keys[kid], self._windows[kid], self._limits[kid]
        if dropped:
            self._plans = {lid: plan for lid, plan in self._plans.items()
                           if not any(w is d for w, _ in plan for d in dropped)}

    def _plan(self, limit_id: str, weights: Optional[Mapping[str, int]]) -> _Plan:
        if weights is None:
            plan = self._plans.get(limit_id)
            if plan is not None:
                return plan
        rl = self._resolve(limit_id)
        if rl is None:
            raise KeyError(f"no rate limit configured for {limit_id!r}")
        if rl.limit_id != limit_id:      # a keyed id of a limit counted as a whole
            return self._plan(rl.limit_id, weights)
        merged: Dict[str, int] = {rl.limit_id: rl.weight}
        for pair in rl.linked_limits:
            self._resolve(pair.limit_id)        # a keyed link forgotten while idle comes back
            merged[pair.limit_id] = merged.get(pair.limit_id, 0) + pair.weight
        if weights:
            for lid, w in weights.items():
                if lid not in self._windows:
                    raise KeyError(f"no rate limit configured for {lid!r}")
                if w < 0 or w > self._limits[lid].limit:
                    raise ValueError(f"weight {w} on {lid!r} is outside [0, {self._limits[lid].limit}]")
                merged[lid] = w
        plan = tuple((self._windows[lid], w) for lid, w in merged.items() if w > 0)
        if weights is None:
            self._plans[limit_id] = plan
        return plan

    # ---- requests ----
    def execute_task(self, limit_id: str, weights: Optional[Mapping[str, int]] = None) -> _TaskContext:
        """``async with`` this before sending a request for ``limit_id``.

        ``weights`` overrides the weight charged on any involved limit id (endpoints whose weight
        depends on a parameter, e.g. a depth snapshot weighed by its ``limit``), and may add limits to charge.
        """
        return _TaskContext(self, limit_id, weights)

    async def acquire(self, limit_id: str, weights: Optional[Mapping[str, int]] = None) -> float:
        """Wait until the request fits, then charge it. Returns the seconds waited."""
        plan = self._plans.get(limit_id) if weights is None else None
        if plan is None:
            plan = self._plan(limit_id, weights)
        now = self._time()
        if now >= self._paused_until:
            # fast path (the usual case: room everywhere, nobody queued), inlined for speed:
            # the same steps as expire() / wait_time() / record()
            for window, w in plan:
                head = window.head
                if head < len(window.expiry) and window.expiry[head] <= now + _EPS:
                    window.expire(now)
                if window.waiters:
                    # requests wait here for another limit (e.g. their own instrument's): pass
                    # them only where there is room for them all as well
                    if window.used + window.pending + w > window.capacity:
                        break
                elif window.total - window.expired_cum + w > window.capacity and window.wait_time(w, now) > _EPS:
                    break
            else:
                for window, w in plan:
                    total = window.total = window.total + w
                    window.expiry.append(now + window.interval)
                    window.cum.append(total)
                self.metrics.requests += 1
                return 0.0
        return await self._acquire_slow(plan, now)

    async def _acquire_slow(self, plan: _Plan, started: float) -> float:
        waiter = _Waiter()
        for window, w in plan:
            window.waiters.append(waiter)
            window.pending += w
        metrics = self.metrics
        metrics.queued += 1
        admitted = False
        try:
            while True:
                now = self._time()
                delay: Optional[float]
                if now < self._paused_until - _EPS:
                    delay = self._paused_until - now
                elif all(window.waiters[0] is waiter or _room_for_all(window, now) for window, _ in plan):
                    # first in line everywhere, or where not, the window has room for every
                    # waiter (this one waits for another limit only)
                    delay = 0.0
                    for window, w in plan:
                        window.expire(now)
                        delay = max(delay, window.wait_time(w, now))
                    if delay <= _EPS:
                        for window, w in plan:
                            window.record(w, now)
                        admitted = True
                        break
                else:
                    delay = None  # wait for the requests ahead of us
                if delay is None:
                    waiter.fut = asyncio.get_running_loop().create_future()
                    await waiter.fut
                    waiter.fut = None
                else:
                    await self._sleep(delay)
        finally:
            metrics.queued -= 1
            for window, w in plan:
                window.pending -= w
                if window.waiters and window.waiters[0] is waiter:
                    window.waiters.popleft()
                else:
                    try:
                        window.waiters.remove(waiter)
                    except ValueError:
                        pass
                if window.waiters:
                    head = window.waiters[0]
                    if head.fut is not None and not head.fut.done():
                        head.fut.set_result(None)
        waited = max(self._time() - started, 0.0)
        if admitted:
            metrics.requests += 1
            metrics.waited += 1
            metrics.total_wait_time += waited
            if waited > metrics.max_wait_time:
                metrics.max_wait_time = waited
        return waited

    # ---- venue push-back ----
    @property
    def paused_until(self) -> float:
        return self._paused_until

    @property
    def is_paused(self) -> bool:
        return self._time() < self._paused_until

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` from now (extends, never shortens, a pause)."""
        if not seconds or seconds <= 0 or not math.isfinite(seconds):
            return
        now = self._time()
        until = now + seconds
        self.metrics.pauses += 1
        if until > self._paused_until:
            self.metrics.total_pause_time += until - max(now, self._paused_until)
            self._paused_until = until

    def slow_down(self, retry_after: Optional[float] = None) -> float:
        """React to a 429/418: pause for ``retry_after`` seconds, or an exponential backoff when
        the venue gave none. Returns the pause applied."""
        now = self._time()
        # consecutive push-backs (within a backoff period after the last pause) double the wait
        if now <= self._paused_until + self.backoff_max:
            self._slowdowns += 1
        else:
            self._slowdowns = 0
        if retry_after is not None and retry_after > 0 and math.isfinite(retry_after):
            delay = float(retry_after)
        else:
            delay = min(self.backoff_base * (2 ** min(self._slowdowns, 30)), self.backoff_max)
        logger.warning("venue asked to slow down: pausing all requests for %.3f s", delay)
        self.pause(delay)
        return delay

    # ---- the venue's own count ----
    def release(self, limit_id: str, weight: int = 1) -> None:
        """Give ``weight`` back to ``limit_id``'s window before it expires: the venue stopped
        counting it (a venue that takes an order off its unfilled-order count at the first fill).
        Unknown limit ids are ignored."""
        window = self._windows.get(limit_id)
        if window is None or weight <= 0:
            return
        window.expire(self._time())
        window.released += min(weight, window.used)

    def follow(self, counts: Mapping[str, int]) -> None:
        """The venue's own counts of some limits (response headers, ``rateLimits``): a count
        above the local one (other clients on the account, requests the venue charged more)
        is taken on. A lower one is not: requests still in flight are not in it yet, and a
        budget given back early would let them exceed the venue's limit."""
        now = self._time()
        for limit_id, count in counts.items():
            window = self._windows.get(limit_id)
            if window is None:
                continue
            window.expire(now)
            extra = int(count) - window.used
            if extra > 0:
                window.record(extra, now)

    # ---- introspection ----
    def usage(self, limit_id: str) -> Tuple[int, int]:
        """(weight used in the current window, usable capacity after the safety margin)."""
        rl = self._resolve(limit_id)
        window = self._windows[rl.limit_id if rl is not None else limit_id]
        window.expire(self._time())
        return window.used, window.capacity

    def __repr__(self) -> str:
        return f"Throttler({len(self._limits)} limits, queued={self.metrics.queued})"
