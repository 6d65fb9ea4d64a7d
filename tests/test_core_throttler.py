"""Unit tests: Throttler, driven by a virtual clock (deterministic and instant)."""
from __future__ import annotations

import asyncio
import heapq
import random
from typing import List, Tuple

import pytest

from hbconnect.core.throttler import LinkedLimitWeightPair, RateLimit, Throttler


class VirtualClock:
    """time()/sleep() in virtual seconds; ``run`` advances time only when every task is idle."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: List[Tuple[float, int, asyncio.Future]] = []
        self._seq = 0

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(delay, 0.0), self._seq, fut))
        self._seq += 1
        await fut

    async def run(self, tasks, max_steps: int = 200_000) -> None:
        for _ in range(max_steps):
            for _ in range(10):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
            if all(t.done() for t in tasks):
                return
            while self._timers and self._timers[0][2].cancelled():
                heapq.heappop(self._timers)
            if not self._timers:
                continue
            when, _, fut = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            fut.set_result(None)
        raise AssertionError("virtual run did not finish")


def make(limits, **kw):
    clock = VirtualClock()
    return Throttler(limits, time_fn=clock.time, sleep_fn=clock.sleep, **kw), clock


def run_requests(throttler, clock, requests):
    """requests: list of (arrival_time, limit_id, weights) -> list of admission times (same order)."""
    admitted = [None] * len(requests)

    async def one(i, at, limit_id, weights):
        if at > clock.now:
            await clock.sleep(at - clock.now)
        async with throttler.execute_task(limit_id, weights):
            admitted[i] = clock.now

    async def main():
        tasks = [asyncio.ensure_future(one(i, *r)) for i, r in enumerate(requests)]
        await clock.run(tasks)
        for t in tasks:
            t.result()

    asyncio.run(main())
    return admitted


def window_violations(times_weights, limit, interval):
    """Independent O(n^2) check: the weight admitted in any window (t - interval, t] never
    exceeds ``limit`` (an entry admitted exactly ``interval`` before t has left the window;
    1e-9 absorbs float rounding of the virtual times)."""
    bad = []
    for t, _ in times_weights:
        total = sum(w for s, w in times_weights if t - interval + 1e-9 < s <= t + 1e-9)
        if total > limit:
            bad.append((t, total))
    return bad


def test_fast_path_then_wait_for_the_window():
    th, clock = make([RateLimit("A", limit=5, time_interval=1.0)], safety_margin=0)
    times = run_requests(th, clock, [(0.0, "A", None)] * 7)
    assert times[:5] == [0.0] * 5
    assert times[5:] == [1.0, 1.0]
    assert th.metrics.requests == 7 and th.metrics.waited == 2
    assert th.metrics.total_wait_time == pytest.approx(2.0)
    assert th.metrics.max_wait_time == pytest.approx(1.0)


def test_safety_margin_reduces_capacity():
    th, clock = make([RateLimit("A", limit=10, time_interval=1.0)], safety_margin=0.2)
    times = run_requests(th, clock, [(0.0, "A", None)] * 9)
    assert times.count(0.0) == 8 and times[8] == 1.0
    assert th.usage("A") == (1, 8)


def test_weighted_endpoint_and_linked_pool():
    limits = [
        RateLimit("REQUEST_WEIGHT", limit=10, time_interval=60.0),
        RateLimit("depth", limit=1000, time_interval=60.0, weight=1,
                  linked_limits=[LinkedLimitWeightPair("REQUEST_WEIGHT", 5)]),
        RateLimit("ticker", limit=1000, time_interval=60.0,
                  linked_limits=[LinkedLimitWeightPair("REQUEST_WEIGHT", 1)]),
    ]
    th, clock = make(limits, safety_margin=0)
    times = run_requests(th, clock, [(0.0, "depth", None), (0.0, "depth", None), (0.1, "ticker", None)])
    # two depth requests use the whole pool; the ticker request waits for the pool too
    assert times == [0.0, 0.0, 60.0]
    assert clock.now == 60.0 and th.usage("REQUEST_WEIGHT") == (1, 10)  # depth weight expired


def test_weight_override_per_request():
    limits = [
        RateLimit("REQUEST_WEIGHT", limit=100, time_interval=10.0),
        RateLimit("depth", limit=1000, time_interval=10.0,
                  linked_limits=[LinkedLimitWeightPair("REQUEST_WEIGHT", 1)]),
    ]
    th, clock = make(limits, safety_margin=0)
    # Binance depth limit=5000 costs 50 (weights depend on a parameter)
    times = run_requests(th, clock, [(0.0, "depth", {"REQUEST_WEIGHT": 50})] * 3)
    assert times == [0.0, 0.0, 10.0]
    with pytest.raises(KeyError):
        asyncio.run(th.acquire("depth", {"NOPE": 1}))
    with pytest.raises(ValueError):
        asyncio.run(th.acquire("depth", {"REQUEST_WEIGHT": 101}))


def test_orders_linked_to_several_pools():
    limits = [
        RateLimit("ORDERS_10S", limit=3, time_interval=10.0),
        RateLimit("ORDERS_1D", limit=5, time_interval=86400.0),
        RateLimit("order", limit=1000, time_interval=60.0,
                  linked_limits=[LinkedLimitWeightPair("ORDERS_10S"), LinkedLimitWeightPair("ORDERS_1D")]),
    ]
    th, clock = make(limits, safety_margin=0)
    times = run_requests(th, clock, [(0.0, "order", None)] * 6)
    assert times[:3] == [0.0] * 3
    assert times[3:5] == [10.0, 10.0]
    assert times[5] == 86400.0  # the daily pool is exhausted after 5


def test_heavy_request_is_not_starved_by_light_ones():
    th, clock = make([RateLimit("POOL", limit=10, time_interval=1.0),
                      RateLimit("heavy", limit=100, time_interval=1.0, weight=0,
                                linked_limits=[LinkedLimitWeightPair("POOL", 10)]),
                      RateLimit("light", limit=100, time_interval=1.0, weight=0,
                                linked_limits=[LinkedLimitWeightPair("POOL", 1)])], safety_margin=0)
    # 5 light at t=0, the heavy one at 0.1, then a steady stream of light requests
    reqs = [(0.0, "light", None)] * 5 + [(0.1, "heavy", None)] + [(0.2 + 0.05 * i, "light", None) for i in range(40)]
    times = run_requests(th, clock, reqs)
    heavy = times[5]
    assert heavy == pytest.approx(1.0)  # as soon as the first 5 expire, not after the stream
    assert all(t >= heavy for t in times[6:])  # later arrivals queue behind it (FIFO)


def test_unrelated_limits_do_not_block_each_other():
    th, clock = make([RateLimit("A", limit=1, time_interval=10.0), RateLimit("B", limit=1, time_interval=10.0)],
                     safety_margin=0)
    times = run_requests(th, clock, [(0.0, "A", None), (0.0, "A", None), (0.5, "B", None)])
    assert times == [0.0, 10.0, 0.5]


def test_weight_above_margin_capacity_waits_for_empty_window():
    th, clock = make([RateLimit("A", limit=10, time_interval=1.0, weight=10)], safety_margin=0.5)
    times = run_requests(th, clock, [(0.0, "A", None), (0.0, "A", None)])
    assert times == [0.0, 1.0]


def test_pause_holds_everything_and_extends_only():
    th, clock = make([RateLimit("A", limit=100, time_interval=1.0)])
    th.pause(5.0)
    th.pause(2.0)  # shorter: does not shorten the pause
    assert th.is_paused and th.paused_until == 5.0
    times = run_requests(th, clock, [(0.0, "A", None), (1.0, "A", None)])
    assert times == [5.0, 5.0]
    assert not th.is_paused
    assert th.metrics.pauses == 2 and th.metrics.total_pause_time == pytest.approx(5.0)
    th.pause(0)
    th.pause(float("nan"))
    assert th.metrics.pauses == 2


def test_slow_down_uses_retry_after_or_backoff():
    th, clock = make([RateLimit("A", limit=100, time_interval=1.0)], backoff_base=1.0, backoff_max=8.0)
    assert th.slow_down(None) == 1.0
    assert th.slow_down(None) == 2.0
    assert th.slow_down(None) == 4.0
    assert th.slow_down(None) == 8.0
    assert th.slow_down(None) == 8.0  # capped
    assert th.slow_down(30.0) == 30.0  # the venue's Retry-After wins
    assert th.paused_until == pytest.approx(30.0)
    clock.now = 1000.0  # long after: backoff starts over
    assert th.slow_down(None) == 1.0
    times = run_requests(th, clock, [(1000.0, "A", None)])
    assert times == [1001.0]


def test_pause_during_wait_is_respected():
    th, clock = make([RateLimit("A", limit=1, time_interval=1.0)], safety_margin=0)

    async def main():
        admitted = []

        async def req():
            async with th.execute_task("A"):
                admitted.append(clock.now)

        async def pauser():
            await clock.sleep(0.5)
            th.slow_down(3.0)  # a 429 while the second request waits

        tasks = [asyncio.ensure_future(req()), asyncio.ensure_future(req()), asyncio.ensure_future(pauser())]
        await clock.run(tasks)
        return admitted

    assert asyncio.run(main()) == [0.0, 3.5]


def test_cancelled_waiter_does_not_block_the_queue():
    th, clock = make([RateLimit("A", limit=1, time_interval=1.0)], safety_margin=0)

    async def main():
        admitted = []

        async def req(name):
            async with th.execute_task("A"):
                admitted.append((name, clock.now))

        t1 = asyncio.ensure_future(req("first"))
        t2 = asyncio.ensure_future(req("cancelled"))
        t3 = asyncio.ensure_future(req("third"))
        for _ in range(5):
            await asyncio.sleep(0)
        t2.cancel()
        await clock.run([t1, t3])
        assert t2.cancelled()
        assert th.metrics.queued == 0
        return admitted

    assert asyncio.run(main()) == [("first", 0.0), ("third", 1.0)]


def test_unknown_and_invalid_limits():
    with pytest.raises(ValueError):
        Throttler([RateLimit("A", 1, 1.0, linked_limits=[LinkedLimitWeightPair("missing")])])
    with pytest.raises(ValueError):
        RateLimit("A", 0, 1.0)
    with pytest.raises(ValueError):
        Throttler([RateLimit("A", 5, 1.0, weight=6)])
    with pytest.raises(ValueError):
        Throttler([], safety_margin=1.0)
    th = Throttler([RateLimit("A", 5, 1.0)])
    with pytest.raises(KeyError):
        asyncio.run(th.acquire("B"))


def test_update_rate_limits_at_runtime_keeps_usage():
    th, clock = make([RateLimit("A", limit=2, time_interval=1.0)], safety_margin=0)
    run_requests(th, clock, [(0.0, "A", None), (0.0, "A", None)])
    th.update_rate_limits([RateLimit("A", limit=3, time_interval=1.0)])
    assert th.usage("A") == (2, 3)
    times = run_requests(th, clock, [(0.0, "A", None), (0.0, "A", None)])
    assert times == [0.0, 1.0]


def test_rejected_update_changes_nothing():
    th = Throttler([RateLimit("A", limit=5, time_interval=1.0)], safety_margin=0)
    bad = [RateLimit("A", limit=50, time_interval=1.0),
           RateLimit("B", limit=10, time_interval=1.0, linked_limits=[LinkedLimitWeightPair("C")])]
    with pytest.raises(ValueError):
        th.update_rate_limits(bad)
    assert [rl.limit_id for rl in th.rate_limits] == ["A"] and th.usage("A") == (0, 5)


def test_random_load_never_exceeds_any_limit():
    rng = random.Random(42)
    limits = [
        RateLimit("POOL", limit=40, time_interval=1.0),
        RateLimit("ORD", limit=7, time_interval=0.5),
        RateLimit("e1", limit=15, time_interval=2.0, weight=2, linked_limits=[LinkedLimitWeightPair("POOL", 3)]),
        RateLimit("e2", limit=1000, time_interval=1.0, weight=1,
                  linked_limits=[LinkedLimitWeightPair("POOL", 1), LinkedLimitWeightPair("ORD", 1)]),
        RateLimit("e3", limit=1000, time_interval=1.0, weight=1, linked_limits=[LinkedLimitWeightPair("POOL", 10)]),
    ]
    th, clock = make(limits, safety_margin=0.1)
    reqs = []
    t = 0.0
    for _ in range(600):
        t += rng.expovariate(80.0)
        reqs.append((round(t, 4), rng.choice(["e1", "e2", "e2", "e3"]), None))
    times = run_requests(th, clock, reqs)
    assert all(x is not None for x in times)
    charged = {"POOL": [], "ORD": [], "e1": [], "e2": [], "e3": []}
    cost = {"e1": {"e1": 2, "POOL": 3}, "e2": {"e2": 1, "POOL": 1, "ORD": 1}, "e3": {"e3": 1, "POOL": 10}}
    for (arrival, lid, _), admitted in zip(reqs, times):
        assert admitted >= arrival
        for target, w in cost[lid].items():
            charged[target].append((admitted, w))
    caps = {"POOL": (36, 1.0), "ORD": (6, 0.5), "e1": (13, 2.0), "e2": (900, 1.0), "e3": (900, 1.0)}
    for lid, (cap, interval) in caps.items():
        assert window_violations(charged[lid], cap, interval) == [], lid
    assert th.metrics.waited > 0  # the load was heavy enough to throttle


def test_long_run_memory_is_compacted():
    th, clock = make([RateLimit("A", limit=50, time_interval=1.0)], safety_margin=0)
    reqs = [(i * 0.025, "A", None) for i in range(3000)]  # 40/s for 75 s
    times = run_requests(th, clock, reqs)
    assert times == [r[0] for r in reqs]  # under the limit: nobody waits
    window = th._windows["A"]
    assert len(window.expiry) - window.head <= 50
    assert len(window.expiry) < 1200  # expired entries are dropped, not kept forever


def test_real_clock_smoke():
    async def main():
        th = Throttler([RateLimit("A", limit=2, time_interval=0.05)], safety_margin=0)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(4):
            async with th.execute_task("A"):
                pass
        return loop.time() - start

    elapsed = asyncio.run(main())
    assert elapsed >= 0.045  # the 3rd request had to wait for the window


# ---- limits counted per key (OKX: "User ID + Instrument ID") ----

def _per_instrument_limits(subaccount: int = 1000):
    return [RateLimit("subaccount", subaccount, 2.0),
            RateLimit("/order", 3, 2.0, linked_limits=[LinkedLimitWeightPair("subaccount", 1)], per_key=True),
            RateLimit("ws:order", 1_000_000, 1.0, weight=0, per_key=True,
                      linked_limits=[LinkedLimitWeightPair("/order", 1), LinkedLimitWeightPair("subaccount", 1)]),
            RateLimit("/fills", 3, 2.0)]


def test_per_key_limits_count_each_key_on_its_own_and_share_the_linked_pool() -> None:
    from hbconnect.core.throttler import keyed_limit_id as keyed
    throttler, clock = make(_per_instrument_limits(subaccount=5), safety_margin=0.0)
    btc, eth = keyed("/order", "BTC-USDT"), keyed("/order", "ETH-USDT")
    reqs = [(0.0, btc, None)] * 4 + [(0.0, eth, None)] * 3
    times = run_requests(throttler, clock, reqs)
    # 3 per 2 s per instrument: the 4th BTC order waits for BTC's window, not ETH's orders; they
    # go at once until the shared pool (5 per 2 s, one place kept for the waiting BTC order) is full
    assert times == [0.0, 0.0, 0.0, 2.0, 0.0, 2.0, 2.0]
    assert throttler.usage("subaccount")[0] == 3            # at t = 2 s: every order on the pool
    assert throttler.usage(btc) == (1, 3) and throttler.usage(eth) == (2, 3)
    # the WebSocket operation of one instrument draws on that instrument's REST budget
    reqs = [(2.0, keyed("/order", "BTC-USDT"), None)] * 2 + [(2.0, keyed("ws:order", "BTC-USDT"), None)]
    assert run_requests(throttler, clock, reqs) == [2.0, 2.0, 4.0]
    # a keyed id of a limit that is not per key is that limit
    assert run_requests(throttler, clock, [(4.0, keyed("/fills", "BTC-USDT"), None)]) == [4.0]
    assert throttler.usage("/fills")[0] == 1
    with pytest.raises(KeyError):
        throttler.usage(keyed("/nope", "BTC-USDT"))


def test_idle_keyed_windows_are_forgotten_and_come_back_fresh(monkeypatch) -> None:
    import hbconnect.core.throttler as mod
    monkeypatch.setattr(mod, "MAX_KEYS_PER_LIMIT", 8)
    throttler, clock = make(_per_instrument_limits(), safety_margin=0.0)
    reqs = [(float(i), mod.keyed_limit_id("ws:order", f"P{i}"), None) for i in range(40)]
    assert run_requests(throttler, clock, reqs) == [float(i) for i in range(40)]
    # bounded: at most 8 keyed windows per limit (plus the one just made), never a busy one
    assert len(throttler._keyed["/order"]) <= 9 and len(throttler._keyed["ws:order"]) <= 9
    assert len(throttler._windows) <= 4 + 2 * 9
    # a key seen again after its window was forgotten starts from an empty window; a busy one
    # (P39: used at t = 39, expires at 41) keeps its count
    assert throttler.usage(mod.keyed_limit_id("/order", "P39")) == (1, 3)
    assert throttler.usage(mod.keyed_limit_id("/order", "P0")) == (0, 3)
