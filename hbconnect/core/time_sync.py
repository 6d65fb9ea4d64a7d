"""Venue clock estimation for signed requests (timestamps inside the venue's receive window).

Each sample asks the venue for its time and measures the round trip locally; the server time is
taken to correspond to the midpoint of the round trip. The offset used is the median of the last
``max_samples`` samples, so a single slow or wrong answer cannot move it; samples whose round trip
is much slower than the recent best (their midpoint is uncertain by half the round trip) are
discarded.
"""
from __future__ import annotations

import collections
import inspect
import logging
import math
import statistics
import time
from typing import Any, Awaitable, Callable, Deque, Tuple, Union

from hbconnect.core.errors import TimeSyncError

__all__ = ["TimeSynchronizer"]

logger = logging.getLogger(__name__)

TimeProvider = Union[Callable[[], Awaitable[Any]], Awaitable[Any]]


class TimeSynchronizer:
    """Keeps ``server time - local time`` from several samples.

    :param max_samples: samples kept (the median of these is the offset).
    :param time_fn: local wall clock in seconds.
    :param max_rtt_factor: a sample whose round trip exceeds this many times the best recent
        round trip (and ``min_rtt_reject`` seconds) is discarded as an outlier.
    """

    def __init__(self, max_samples: int = 5, time_fn: Callable[[], float] = time.time,
                 max_rtt_factor: float = 4.0, min_rtt_reject: float = 0.05) -> None:
        if max_samples < 1:
            raise ValueError("max_samples must be >= 1")
        self.max_samples = max_samples
        self._time = time_fn
        self.max_rtt_factor = max_rtt_factor
        self.min_rtt_reject = min_rtt_reject
        self._samples: Deque[Tuple[float, float]] = collections.deque(maxlen=max_samples)  # (offset_ms, rtt_s)
        self._offset_ms = 0.0
        self.rejected_samples = 0
        self._slow_in_a_row = 0

    # ---- samples ----
    @property
    def time_offset_ms(self) -> float:
        """Median server-minus-local offset in milliseconds (0 before any sample)."""
        return self._offset_ms

    @property
    def has_samples(self) -> bool:
        return bool(self._samples)

    @property
    def sample_count(self) -> int:
        return len(self._samples)

    def add_time_offset_ms_sample(self, offset_ms: float, rtt: float = 0.0) -> bool:
        """Add one offset sample (ms), with the round trip (s) it was measured over.
        Returns False if it was discarded as an outlier."""
        if not math.isfinite(offset_ms) or not math.isfinite(rtt) or rtt < 0:
            self.rejected_samples += 1
            logger.warning("time sync: ignoring invalid sample offset=%r rtt=%r", offset_ms, rtt)
            return False
        if self._samples:
            best = min(s[1] for s in self._samples)
            if rtt > self.min_rtt_reject and rtt > best * self.max_rtt_factor:
                if self._slow_in_a_row < self.max_samples:
                    self._slow_in_a_row += 1
                    self.rejected_samples += 1
                    logger.debug("time sync: discarding a sample with round trip %.3f s (best %.3f s)",
                                 rtt, best)
                    return False
                # a run of slow samples means the network changed: start over from them
                logger.info("time sync: round trips rose to %.3f s; resetting samples", rtt)
                self._samples.clear()
        self._slow_in_a_row = 0
        self._samples.append((float(offset_ms), float(rtt)))
        self._offset_ms = statistics.median(s[0] for s in self._samples)
        return True

    def clear_time_offset_ms_samples(self) -> None:
        self._samples.clear()
        self._offset_ms = 0.0
        self._slow_in_a_row = 0

    # ---- clock ----
    def time(self) -> float:
        """Estimated venue time, seconds."""
        return self._time() + self._offset_ms * 1e-3

    def time_ms(self) -> int:
        """Estimated venue time, integer milliseconds (what signed requests send)."""
        return int(self._time() * 1e3 + self._offset_ms)

    # ---- measuring ----
    async def update_server_time_offset_with_time_provider(self, time_provider: TimeProvider) -> float:
        """Take one sample. ``time_provider`` is an async function (or an awaitable) returning the
        venue's time as a number of seconds, milliseconds, microseconds or nanoseconds since the
        epoch (told apart by magnitude). Returns the new offset (ms).

        Errors of the provider propagate; a non-numeric answer raises :class:`TimeSyncError`.
        """
        local_before = self._time()
        awaitable = time_provider() if callable(time_provider) else time_provider
        server = await awaitable if inspect.isawaitable(awaitable) else awaitable
        local_after = self._time()
        server_ms = _to_ms(server)
        rtt = max(local_after - local_before, 0.0)
        midpoint_ms = (local_before + local_after) * 500.0
        self.add_time_offset_ms_sample(server_ms - midpoint_ms, rtt)
        return self._offset_ms

    async def update_server_time_if_not_initialized(self, time_provider: TimeProvider) -> None:
        if not self._samples:
            await self.update_server_time_offset_with_time_provider(time_provider)
        elif inspect.iscoroutine(time_provider):
            time_provider.close()  # do not leave an un-awaited coroutine behind

    def __repr__(self) -> str:
        return f"TimeSynchronizer(offset_ms={self._offset_ms:.1f}, samples={len(self._samples)})"


def _to_ms(value: Any) -> float:
    if isinstance(value, bool):
        raise TimeSyncError(message=f"server time is not a number: {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TimeSyncError(message=f"server time is not a number: {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise TimeSyncError(message=f"server time is not valid: {value!r}")
    # unit by magnitude (any date after 1973): s < 1e11 <= ms < 1e14 <= us < 1e17 <= ns
    if v < 1e11:
        return v * 1e3
    if v < 1e14:
        return v
    if v < 1e17:
        return v / 1e3
    return v / 1e6
