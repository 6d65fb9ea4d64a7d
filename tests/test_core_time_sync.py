"""Unit tests: TimeSynchronizer (offset from several samples, round-trip midpoint, outliers)."""
from __future__ import annotations

import asyncio

import pytest

from hbconnect.core.errors import TimeSyncError
from hbconnect.core.time_sync import TimeSynchronizer


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def provider(clock: Clock, true_offset_ms: float, up: float, down: float, answer=None):
    """A fake venue: the request takes ``up`` seconds to arrive, the answer ``down`` to return."""

    async def get_server_time():
        clock.now += up
        server_ms = clock.now * 1000 + true_offset_ms if answer is None else answer
        clock.now += down
        return server_ms

    return get_server_time


def sample(ts: TimeSynchronizer, clock: Clock, offset_ms: float, up: float = 0.01, down: float = 0.01, **kw):
    return asyncio.run(ts.update_server_time_offset_with_time_provider(provider(clock, offset_ms, up, down, **kw)))


def test_symmetric_round_trip_gives_exact_offset():
    clock = Clock()
    ts = TimeSynchronizer(time_fn=clock)
    assert ts.time_offset_ms == 0 and not ts.has_samples
    assert sample(ts, clock, 1500.0, up=0.1, down=0.1) == pytest.approx(1500.0, abs=1e-3)
    assert ts.time() == pytest.approx(clock.now + 1.5)
    assert ts.time_ms() == int(clock.now * 1000 + 1500)


def test_midpoint_correction_bounds_the_error_by_half_the_asymmetry():
    clock = Clock()
    ts = TimeSynchronizer(time_fn=clock)
    # the server stamps its answer 0.3 s into a 0.4 s round trip: midpoint error is 0.1 s
    got = sample(ts, clock, -250.0, up=0.3, down=0.1)
    assert got == pytest.approx(-250.0 + 100.0, abs=1e-3)


def test_median_ignores_a_wrong_answer():
    clock = Clock()
    ts = TimeSynchronizer(max_samples=5, time_fn=clock)
    for off in (200.0, 210.0, 190.0, 205.0):
        sample(ts, clock, off)
    sample(ts, clock, 60_000.0)  # a venue node with a broken clock
    assert ts.sample_count == 5
    assert ts.time_offset_ms == pytest.approx(205.0, abs=1e-3)


def test_slow_round_trip_sample_is_discarded():
    clock = Clock()
    ts = TimeSynchronizer(max_samples=5, time_fn=clock)
    for _ in range(3):
        sample(ts, clock, 100.0, up=0.01, down=0.01)
    # a 3 s round trip: its midpoint may be off by 1.5 s; it must not enter
    sample(ts, clock, 100.0, up=2.9, down=0.1)
    assert ts.rejected_samples == 1 and ts.sample_count == 3
    assert ts.time_offset_ms == pytest.approx(100.0, abs=1e-3)


def test_a_lasting_latency_change_is_accepted_eventually():
    clock = Clock()
    ts = TimeSynchronizer(max_samples=3, time_fn=clock)
    for _ in range(3):
        sample(ts, clock, 100.0, up=0.01, down=0.01)
    for _ in range(3):  # rejected: maybe transient
        sample(ts, clock, 400.0, up=0.5, down=0.5)
    assert ts.time_offset_ms == pytest.approx(100.0, abs=1e-3)
    sample(ts, clock, 400.0, up=0.5, down=0.5)  # the slowness persists: start over from it
    assert ts.time_offset_ms == pytest.approx(400.0, abs=1e-3)
    assert ts.sample_count == 1


def test_only_the_last_samples_count():
    clock = Clock()
    ts = TimeSynchronizer(max_samples=3, time_fn=clock)
    for off in (10.0, 20.0, 30.0, 1000.0, 1001.0, 1002.0):
        sample(ts, clock, off)
    assert ts.time_offset_ms == pytest.approx(1001.0, abs=1e-3)


def test_seconds_and_awaitable_providers():
    clock = Clock()
    ts = TimeSynchronizer(time_fn=clock)

    async def seconds():
        return clock.now + 2.0  # some venues answer in seconds

    asyncio.run(ts.update_server_time_offset_with_time_provider(seconds))
    assert ts.time_offset_ms == pytest.approx(2000.0, abs=1e-3)

    async def main():
        ts2 = TimeSynchronizer(time_fn=clock)
        await ts2.update_server_time_offset_with_time_provider(seconds())  # a coroutine object
        await ts2.update_server_time_if_not_initialized(seconds())  # already initialised: no sample
        return ts2

    ts2 = asyncio.run(main())
    assert ts2.sample_count == 1 and ts2.time_offset_ms == pytest.approx(2000.0, abs=1e-3)


@pytest.mark.parametrize("scale", [1e6, 1e9])  # Bitstamp-style microseconds, nanoseconds
def test_micro_and_nanosecond_answers(scale):
    clock = Clock()
    ts = TimeSynchronizer(time_fn=clock)

    async def fine_grained():
        return int((clock.now + 0.25) * scale)

    asyncio.run(ts.update_server_time_offset_with_time_provider(fine_grained))
    assert ts.time_offset_ms == pytest.approx(250.0, abs=1e-2)


@pytest.mark.parametrize("answer", ["garbage", None, float("nan"), -5, True, {"serverTime": 1}])
def test_bad_answers_raise_time_sync_error(answer):
    clock = Clock()
    ts = TimeSynchronizer(time_fn=clock)

    async def bad():
        return answer

    with pytest.raises(TimeSyncError):
        asyncio.run(ts.update_server_time_offset_with_time_provider(bad))
    assert not ts.has_samples


def test_provider_errors_propagate():
    ts = TimeSynchronizer()

    async def down():
        raise ConnectionError("venue unreachable")

    with pytest.raises(ConnectionError):
        asyncio.run(ts.update_server_time_offset_with_time_provider(down))


def test_manual_samples_and_clear():
    ts = TimeSynchronizer(max_samples=4, time_fn=Clock(100.0))
    assert ts.add_time_offset_ms_sample(10.0)
    assert ts.add_time_offset_ms_sample(30.0)
    assert ts.time_offset_ms == 20.0  # median of an even count: mean of the middle two
    assert not ts.add_time_offset_ms_sample(float("nan"))
    assert not ts.add_time_offset_ms_sample(1.0, rtt=-1)
    assert ts.rejected_samples == 2
    ts.clear_time_offset_ms_samples()
    assert ts.time_offset_ms == 0.0 and not ts.has_samples
    assert ts.time() == 100.0
    with pytest.raises(ValueError):
        TimeSynchronizer(max_samples=0)
