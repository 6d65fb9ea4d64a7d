"""Book hub benchmarks (issue 11), on a local redis-server started here (a separate process).

    python3 benchmarks/bench_hub.py publish  [--repeat 5]
        changes published per second of hub CPU (time.process_time; Redis's CPU not counted):
        the hub alone (the calls a tracker makes replaying the recorded sessions, recorded first,
        then fed to a hub: capture, encoding, pipelined fenced writes, its event loop), and the
        whole hub process replaying the sessions (tracker included)
    python3 benchmarks/bench_hub.py latency  [--rate 10000] [--seconds 10] [--in-flight 2]
        hub (its own process, a synthetic venue at --rate changes/s over 10 pairs) -> consumer
        (this process) latency, p50 / p99, from the diff entering the hub's tracker to the
        consumer's book callback (one machine clock)
    python3 benchmarks/bench_hub.py fleet    [--pairs 100 --hubs 4 --consumers 4] (HBCONNECT_BENCH_FULL=1
        or --full: 1,000 pairs, 4 hubs, 8 consumers)
        hubs share the pairs by lease; one hub is SIGKILLed mid-run; reports the failover time
        (kill -> every pair leased again), detected gaps, and checks every consumer book equals
        the surviving hubs' books at the end (an unequal book would be an undetected gap)

Recorded sessions: $HBCONNECT_FIXTURES or tests/data/recordings.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing as mp
import os
import signal
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(1, str(HERE.parent / "tests"))

from fakevenue import FakeVenue, RecordingDriver, diff, snap_body  # noqa: E402
from redis_server import RedisServer  # noqa: E402

from hbconnect.core.loop import loop_factory, run as loop_run  # noqa: E402
from hbconnect.hub import wire  # noqa: E402
from hbconnect.hub.consumer import RemoteBookTracker  # noqa: E402
from hbconnect.hub.publisher import BookHub  # noqa: E402
from hbconnect.market.messages import SyncRule  # noqa: E402
from hbconnect.market.tracker import OrderBookTracker  # noqa: E402

VENUES = [("BINANCE", "binance"), ("KRAKEN", "kraken"), ("GATEIO", "gate_io"), ("KUCOIN", "kucoin"),
          ("BITSTAMP", "bitstamp"), ("HUOBI", "htx")]


def fixtures_dir() -> Path:
    env = os.environ.get("HBCONNECT_FIXTURES")
    return Path(env) if env else HERE.parent / "tests" / "data" / "recordings"


# ---------------------------------------------------------------- publish rate
class _Recorder:
    """A ``CapturingBook`` sink and tracker callbacks that record, in order, every call a hub
    would get while a tracker replays a session (to replay them into a hub alone)."""

    def __init__(self) -> None:
        self.calls: list = []

    def book_changed(self, book, snapshot, bids, asks, update_id) -> None:
        self.calls.append((0, book, snapshot, bids, asks, update_id))

    def book_truncated(self, book, depth) -> None:
        self.calls.append((1, book, depth))

    def on_book(self, upd) -> None:
        self.calls.append((2, upd))

    def on_trade(self, tr) -> None:
        self.calls.append((3, tr))


def _recorded_sessions() -> list:
    from hbconnect.exchanges import market_data_venue
    from hbconnect.market.replay import load_session

    sessions = []
    for prefix, vid in VENUES:
        files = sorted(p for p in fixtures_dir().glob(f"{prefix}.*") if p.is_file())
        if files:
            sessions.append((vid, market_data_venue(vid), load_session(files)))
    return sessions


def bench_publish(url: str, repeat: int) -> None:
    """Two figures: (1) the hub's own CPU (capture calls, encoding, fenced pipelined writes, its
    event loop) per change, from the calls a tracker made replaying the sessions, recorded first
    and replayed into a hub; (2) the whole hub process replaying the sessions (``hub.replay``:
    tracker + hub), CPU per change."""
    from hbconnect.hub.capture import CapturingBook
    from hbconnect.market.replay import Replayer, venue_for_session

    sessions = _recorded_sessions()
    recorded = []
    for vid, venue, session in sessions:
        rec = _Recorder()
        rp = Replayer(venue_for_session(venue, session), session.copy(),
                      tracker_kwargs={"book_factory": lambda rec=rec: CapturingBook(rec)})
        for p, tb in rp.tracker.books.items():
            tb.book.pair = p
        rp.tracker.add_book_callback(rec.on_book)
        rp.tracker.add_trade_callback(rec.on_trade)
        rp.run()
        recorded.append((vid, rp.tracker, rec.calls))

    async def hub_alone(i: int, vid: str, tracker, calls: list) -> tuple[int, float]:
        hub = BookHub(url, vid, prefix=f"alone{i}", maxlen=100_000)
        hub.attach(tracker)  # (its books, in their final state, make the epochs' first snapshots)
        await hub.open()
        await hub.lease_round()
        await hub.drain()
        e0 = hub.entries
        changed, truncated, on_book, on_trade = hub.book_changed, hub.book_truncated, hub._on_book, hub._on_trade
        c0 = time.process_time()
        for j, c in enumerate(calls):  # as hub.replay interleaves the tracker and the flusher
            k = c[0]
            if k == 0:
                changed(c[1], c[2], c[3], c[4], c[5])
            elif k == 1:
                truncated(c[1], c[2])
            elif k == 2:
                on_book(c[1])
            else:
                on_trade(c[1])
            if hub._pending >= hub.batch_entries:
                await hub.drain()
            elif j % 64 == 0:
                await asyncio.sleep(0)
        await hub.drain()
        cpu = time.process_time() - c0
        n = hub.entries - e0
        await hub.stop()
        return n, cpu

    async def whole(i: int) -> tuple[int, float, float]:
        entries = 0
        cpu = wall = 0.0
        for vid, venue, session in sessions:
            hub = BookHub(url, vid, prefix=f"bench{i}", maxlen=100_000)
            rp = hub.replayer(session.copy(), venue)  # (the replay's setup is not publishing)
            await hub.open()
            await hub.lease_round()
            c0, w0 = time.process_time(), time.perf_counter()
            await hub.run_replay(rp)
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
            entries += hub.entries
            await hub.stop()
        return entries, cpu, wall

    def tracker_alone() -> float:
        cpu = 0.0
        for vid, venue, session in sessions:
            rp = Replayer(venue_for_session(venue, session), session.copy())
            c0 = time.process_time()
            rp.run()
            cpu += time.process_time() - c0
        return cpu

    async def main() -> None:
        alone = []
        for i in range(repeat):
            n = cpu = 0.0
            for vid, tracker, calls in recorded:
                a, b = await hub_alone(i, vid, tracker, calls)
                n += a
                cpu += b
            alone.append((n / cpu, n))
        full = [await whole(i) for i in range(repeat)]
        plain = sorted(tracker_alone() for _ in range(repeat))
        n = alone[0][1]
        rates = sorted(r for r, _ in alone)
        fr = sorted(e / c for e, c, _ in full)
        print(f"publish, hub alone: {int(n):,} changes from {len(sessions)} recorded venues, x {repeat}: median "
              f"{rates[len(rates) // 2]:,.0f} changes per hub CPU-second (best {rates[-1]:,.0f}, "
              f"worst {rates[0]:,.0f})")
        print(f"publish, whole hub process (tracker + hub) replaying the sessions: median {fr[len(fr) // 2]:,.0f} "
              f"changes per CPU-second ({sum(e for e, _, _ in full) / sum(w for _, _, w in full):,.0f}/s wall); the "
              f"tracker alone (no hub) replays them at {n / plain[len(plain) // 2]:,.0f} changes per CPU-second")

    asyncio.run(main())


# ---------------------------------------------------------------- a synthetic hub (own process)
def _levels(i: int, u: int) -> tuple[list, list]:
    return [[f"{100 - (u * 7 + i) % 40 / 100:.2f}", str(u % 4)]], [[f"{101 + (u * 5 + i) % 40 / 100:.2f}", str((u + 1) % 4)]]


def synthetic_tracker(hub: BookHub, pairs: list[str], rule: SyncRule) -> OrderBookTracker:
    t = OrderBookTracker(FakeVenue(rule, max_pairs=10_000), pairs, driver=RecordingDriver(),
                         book_factory=hub.book_factory, sync_timeout=None, stale_timeout=None)
    for c in t.connections:
        t.connection_up(c)
    hub.attach(t)
    for p in pairs:
        t.on_snapshot(p, t.books[p].gen, snap_body([("99.00", "1")], [("102.00", "1")], 1))
    return t


def book_digest(book) -> str:
    return hashlib.blake2b(repr((book.bids_text(), book.asks_text())).encode(), digest_size=8).hexdigest()


def _us() -> float:
    return time.monotonic_ns() / 1000


class StagedHub(BookHub):
    """A hub that times its stages for the latency decomposition (TIMESTAMP rule: an entry's
    update id is the monotonic clock in us when the change entered the tracker): ``queued``
    apply -> the write of its batch leaving; ``rtt`` that write -> the script's reply read."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.queued: list = []
        self.rtt: list = []

    def _calls(self) -> list:
        t0 = _us()
        self.queued.extend(t0 - e[2] for hp in self._pending_pairs.values() for e in hp.pending if e[1] is wire.DIFF)
        return super()._calls()

    async def flush(self) -> int:
        t0 = _us()
        n = await super().flush()
        self.rtt.append(_us() - t0)
        return n


def _pct(xs: list, q: float) -> float:
    xs = sorted(xs[len(xs) // 10:])  # (the first 10%: warming up)
    return xs[min(len(xs) - 1, int(len(xs) * q))] if xs else float("nan")


def hub_process(url: str, hub_id: str, pairs: list[str], rate: float, seconds: float, rule_name: str,
                lease_ttl: float, out: "mp.Queue", start_at: float, writes_in_flight: int = 2) -> None:
    """Feeds ``rate`` changes/s (round robin over ``pairs``) for ``seconds``, publishing what it owns."""
    rule = SyncRule[rule_name]

    async def main() -> None:
        hub = StagedHub(url, "synth", pairs, hub_id=hub_id, lease_ttl=lease_ttl, maxlen=20_000,
                        writes_in_flight=writes_in_flight)
        t = synthetic_tracker(hub, pairs, rule)
        await hub.open()
        await hub.wait_round()
        while time.time() < start_at:
            await asyncio.sleep(0.005)
        conn = t.connections[0]
        n = len(pairs)
        sent = lag = 0  # lag: most changes the generator was ever behind its schedule
        u = [1] * n
        t0 = time.perf_counter()
        c0 = time.process_time()
        total = int(seconds * rate)  # the same changes in every hub (they must agree at the end)
        while sent < total:
            due = min(total, int((time.perf_counter() - t0) * rate))
            if sent >= due:
                # ahead of the schedule: 1 ms (uvloop's timers have 1 ms steps: a shorter sleep
                # spins the loop and takes a core from Redis and the consumer)
                await asyncio.sleep(0.001)
                continue
            lag = max(lag, due - sent)
            i = sent % n
            u[i] += 1
            # TIMESTAMP rule: the update id is the system-wide monotonic clock in us, read by the
            # consumer process on the same clock when the change reaches its book
            uid = time.monotonic_ns() // 1000 if rule is SyncRule.TIMESTAMP else u[i]
            b, a = _levels(i, u[i])
            t.feed(conn, diff(pairs[i], uid, uid, b=b, a=a), 0.0)
            sent += 1
            # one change at a time, as a venue socket delivers them: the flusher sends what is
            # queued while the previous write is in flight (the batch grows only under load)
            await asyncio.sleep(0)
        await hub.drain()
        out.put((hub_id, {p: book_digest(t.books[p].book) for p in pairs}, sent, hub.entries, lag,
                 time.perf_counter() - t0, time.process_time() - c0, hub.batches,
                 (_pct(hub.queued, .5), _pct(hub.queued, .99), _pct(hub.rtt, .5), _pct(hub.rtt, .99))))
        await asyncio.sleep(1.0 + lease_ttl)  # keep heartbeating while consumers catch up
        await hub.stop()

    loop_run(main())


# ---------------------------------------------------------------- latency
def bench_latency(url: str, rate: float, seconds: float, writes_in_flight: int = 2) -> None:
    pairs = [f"L{i}-USD" for i in range(10)]
    lat: list[float] = []
    read: list[float] = []  # the change entered the hub -> the consumer's read returned it
    gen: list = []  # what the hub's generator did: changes sent, entries, most behind, seconds

    def on_book(upd) -> None:
        if not upd.snapshot:
            lat.append(_us() - upd.update_id)

    class StagedConsumer(RemoteBookTracker):
        def process(self, pair, entries) -> None:
            t = _us()
            for _, f in entries:
                if type(f) is list and len(f) == 8 and f[5] == wire.DIFF:
                    read.append(t - wire.loads(f[7])[0])
            super().process(pair, entries)

    async def main() -> None:
        cons = StagedConsumer(url, "synth", pairs, on_book=on_book, block_ms=1000)
        await cons.start()
        c0 = time.process_time()
        q: mp.Queue = mp.Queue()
        p = mp.Process(target=hub_process, args=(url, "lat-hub", pairs, rate, seconds, "TIMESTAMP", 3.0, q,
                                                 time.time() + 1.0, writes_in_flight))
        p.start()
        gen.extend((await asyncio.to_thread(q.get))[2:])
        gen.append(time.process_time() - c0)
        await asyncio.sleep(0.5)
        await cons.stop()
        p.join()

    loop_run(main())
    lat.sort()
    loop_name = "uvloop" if loop_factory() else "asyncio's loop"
    warm = lat[len(lat) // 10:]  # the first 10%: connections warming up
    if not warm:
        print("latency: no samples")
        return
    p50 = warm[len(warm) // 2]
    p99 = warm[int(len(warm) * 0.99)]
    print(f"latency at {rate:,.0f} changes/s: {len(warm)} samples, p50 {p50:,.0f} us, p99 {p99:,.0f} us, "
          f"max {warm[-1]:,.0f} us (the generator sent {gen[0]:,} changes in {gen[3]:.2f} s = "
          f"{gen[0] / gen[3]:,.0f}/s, at most {gen[2]} behind its schedule; hub process CPU {gen[4] / gen[3]:.0%} of a "
          f"core, {gen[0] / max(1, gen[5]):.1f} changes per write; consumer process CPU {gen[7] / gen[3]:.0%}; {loop_name}, {writes_in_flight} writes in flight)")
    q50, q99, w50, w99 = gen[6]
    print(f"  stages p50 / p99 (us, from the change entering the hub's tracker): batch write leaves the hub "
          f"{q50:,.0f} / {q99:,.0f}; the write's round trip (script reply back at the hub) {w50:,.0f} / {w99:,.0f}; "
          f"the consumer's read returns {_pct(read, .5):,.0f} / {_pct(read, .99):,.0f}; applied "
          f"(book callback) {p50:,.0f} / {p99:,.0f}")


# ---------------------------------------------------------------- fleet
def consumer_process(url: str, pairs: list[str], stop: "mp.Event", out: "mp.Queue") -> None:
    async def main() -> None:
        cons = RemoteBookTracker(url, "synth", pairs, stale_timeout=None)
        await cons.start()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        st = cons.stats()
        out.put(({p: book_digest(cons.book(p)) for p in pairs},
                 {p: (s.state, s.gaps, s.resyncs, s.epochs) for p, s in st.items()}))
        await cons.stop()

    loop_run(main())


def bench_fleet(url: str, n_pairs: int, n_hubs: int, n_consumers: int, rate: float, seconds: float) -> None:
    import redis

    pairs = [f"P{i}-USD" for i in range(n_pairs)]
    ttl = 2.0
    start_at = time.time() + 2.0 + 0.2 * n_hubs
    hq: mp.Queue = mp.Queue()
    cq: mp.Queue = mp.Queue()
    stop = mp.Event()
    hubs = [mp.Process(target=hub_process, args=(url, f"hub{i}", pairs, rate, seconds, "SEQ_RANGE", ttl, hq,
                                                 start_at)) for i in range(n_hubs)]
    cons = [mp.Process(target=consumer_process, args=(url, pairs, stop, cq)) for _ in range(n_consumers)]
    for p in hubs + cons:
        p.start()
    r = redis.Redis.from_url(url)
    keys = [wire.lease_key("hb", "synth", p) for p in pairs]
    time.sleep(max(0.0, start_at - time.time()) + seconds / 3)
    owners = r.mget(keys)
    share = {f"hub{i}": sum(1 for o in owners if o and o.decode().startswith(f"hub{i}.")) for i in range(n_hubs)}
    victim = hubs[0]
    os.kill(victim.pid, signal.SIGKILL)
    killed = time.perf_counter()
    failover = None
    while time.perf_counter() - killed < 30:
        owners = r.mget(keys)
        if all(o and not o.decode().startswith("hub0.") for o in owners):
            failover = time.perf_counter() - killed
            break
        time.sleep(0.02)
    results = [hq.get() for _ in range(n_hubs - 1)]
    time.sleep(1.0)
    stop.set()
    consumed = [cq.get() for _ in range(n_consumers)]
    for p in hubs + cons:
        p.join(30)
    reference = results[0][1]
    assert all(res[1] == reference for res in results), "surviving hubs disagree (the synthetic feed is not deterministic?)"
    unequal = sum(1 for digests, _ in consumed for p in pairs if digests[p] != reference[p])
    not_live = sum(1 for _, st in consumed for p in pairs if st[p][0] != "live")
    gaps = sum(st[p][1] for _, st in consumed for p in pairs)
    resyncs = sum(st[p][2] for _, st in consumed for p in pairs)
    moved = sum(1 for _, st in consumed for p in pairs if st[p][3] >= 2)
    fo = "not within 30 s" if failover is None else f"{failover:.2f} s"
    print(f"fleet: {n_pairs} pairs, {n_hubs} hubs (leases before the kill: {share}), {n_consumers} consumers, "
          f"{rate:,.0f} changes/s per hub for {seconds:.0f} s")
    print(f"  hub0 SIGKILLed: its pairs leased again after {fo}; consumer pair-books that followed a failover: "
          f"{moved}; gaps detected {gaps}, resyncs {resyncs}")
    print(f"  at the end: {n_consumers * n_pairs - unequal}/{n_consumers * n_pairs} consumer books equal to the "
          f"hubs' (undetected gaps: {unequal}), not live: {not_live}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["publish", "latency", "fleet", "all"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rate", type=float, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--pairs", type=int, default=None)
    ap.add_argument("--hubs", type=int, default=4)
    ap.add_argument("--consumers", type=int, default=None)
    ap.add_argument("--in-flight", type=int, default=2, help="latency: the hub's writes_in_flight")
    ap.add_argument("--full", action="store_true", default=bool(os.environ.get("HBCONNECT_BENCH_FULL")))
    args = ap.parse_args()
    with RedisServer() as srv:
        if args.what in ("publish", "all"):
            bench_publish(srv.url, args.repeat)
        if args.what in ("latency", "all"):
            bench_latency(srv.url, args.rate or 10_000, args.seconds or 10, args.in_flight)
        if args.what in ("fleet", "all"):
            bench_fleet(srv.url, args.pairs or (1000 if args.full else 100), args.hubs,
                        args.consumers or (8 if args.full else 4), args.rate or 2_000, args.seconds or 12)


if __name__ == "__main__":
    main()
