"""The book hub on a real redis-server (started per test on a free 127.0.0.1 port): consumers'
books equal a local tracker fed the same recorded sessions; a hub killed mid-stream is taken over;
a hub that lost its lease is fenced off; Redis restarts; a consumer behind the trim resyncs; bad
and foreign entries; nothing secret published; the CLI."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys

import pytest
import redis.asyncio as aioredis

from conftest import fixture_files
from fakevenue import FakeVenue, RecordingDriver, diff, snap_body
from hbconnect.exchanges import market_data_venue
from hbconnect.hub import wire
from hbconnect.hub import consumer as consumer_module
from hbconnect.hub.consumer import RemoteBookTracker
from hbconnect.hub.lease import LeasePlan, preferred_hub
from hbconnect.hub.publisher import BookHub
from hbconnect.hub.waiting import wait_until
from hbconnect.market.replay import load_session, replay
from hbconnect.market.tracker import LIVE, OrderBookTracker
from redis_server import INSTALL_HINT, RedisServer, redis_server_binary, redis_server_fixture

redis_server = pytest.fixture(redis_server_fixture)

B0 = [("100", "1"), ("99", "2")]
A0 = [("101", "1"), ("102", "2")]


def levels(book):
    return book.bids_text(), book.asks_text()


def assert_same_book(got, want, label=""):
    assert levels(got) == levels(want), label
    assert got.checksum() == want.checksum(), label


async def caught_up(cons: RemoteBookTracker, hub: BookHub, timeout: float = 10.0) -> bool:
    """The consumer read everything the hub published (same epoch, same sequence) for its pairs."""
    return await wait_until(lambda: all(cons.books[p].epoch == hub.published(p)[0]
                                        and cons.books[p].seq == hub.published(p)[1]
                                        for p in cons.books if hub.published(p)), timeout)


# ---------------------------------------------------------------- recorded sessions
@pytest.mark.parametrize("prefix,venue_id", [("BINANCE", "binance"), ("KRAKEN", "kraken"), ("GATEIO", "gate_io")])
def test_consumer_books_equal_local_tracker_on_recorded_sessions(redis_server, prefix, venue_id):
    files = fixture_files(prefix)
    reference = replay(files, market_data_venue(venue_id)).tracker  # a local tracker fed the same session
    pairs = list(reference.books)

    async def main():
        hub = BookHub(redis_server.url, venue_id)
        early = RemoteBookTracker(redis_server.url, venue_id, pairs)
        events = early.subscribe(maxsize=1_000_000, trades=False)
        await early.start()
        rp = await hub.replay(load_session(files), market_data_venue(venue_id))
        assert sorted(hub.owned) == sorted(pairs)
        late = RemoteBookTracker(redis_server.url, venue_id, pairs)  # starts from the snapshot hashes
        await late.start()
        for cons in (early, late):
            assert await caught_up(cons, hub)
        venue = market_data_venue(venue_id)
        for p in pairs:
            want = reference.books[p]
            assert_same_book(rp.tracker.books[p].book, want.book, p)
            for cons in (early, late):
                rb = cons.books[p]
                assert_same_book(rb.book, want.book, p)
                if want.checksums_ok:  # Kraken: the venue's own checksum over the shared book
                    assert venue.checksum(rb.book) == venue.checksum(want.book)
                assert rb.state is want.state, p
                assert (rb.gaps, rb.bad_frames) == (0, 0), p
                if want.last_trade is not None:  # (the late one: from the snapshot hash or the entries after it)
                    lt = rb.last_trade
                    assert (lt.trade_id, lt.price, lt.amount, lt.side) == (
                        want.last_trade.trade_id, want.last_trade.price, want.last_trade.amount,
                        want.last_trade.side), p
        # the early consumer saw every applied change: as many book updates as the hub published
        n_updates = len(events)
        assert n_updates >= sum(early.books[p].diffs_applied for p in pairs) > 0
        await early.stop()
        await late.stop()
        await hub.stop()

    asyncio.run(main())
    assert any(reference.books[p].checksums_ok for p in pairs) == (venue_id == "kraken")


# ---------------------------------------------------------------- a hub on a fake venue
def fake_tracker(hub: BookHub, pairs=("A-B",), **kw) -> OrderBookTracker:
    t = OrderBookTracker(FakeVenue(**kw), list(pairs), driver=RecordingDriver(), book_factory=hub.book_factory,
                         sync_timeout=None, stale_timeout=None)
    for c in t.connections:
        t.connection_up(c)
    hub.attach(t)
    for p in pairs:
        t.on_snapshot(p, t.books[p].gen, snap_body(B0, A0, 10))
    return t


def feed_diffs(t: OrderBookTracker, pair: str, first: int, n: int) -> int:
    """``n`` contiguous diffs from id ``first``; returns the next id."""
    conn = t.books[pair].conn
    for u in range(first, first + n):
        t.feed(conn, diff(pair, u, u, b=[(f"{99 - u % 7}.{u % 10}", str(u % 5))], a=[(f"{102 + u % 3}", "1")]), 0.0)
    return first + n


async def stream_entries(url: str, key: str) -> list:
    r = aioredis.from_url(url)
    try:
        return await r.xrange(key)
    finally:
        await r.aclose()


def test_hub_killed_mid_stream_is_taken_over_and_consumers_resync(redis_server, tmp_path):
    """Hub A (a subprocess, the CLI) publishes a paced replay; hub B replays the same session and
    stands by; A is SIGKILLed mid-stream; B takes the pairs once A's leases expire; the consumer
    resyncs by itself and ends equal to a local tracker."""
    files = fixture_files("BINANCE")
    reference = replay(files, market_data_venue("binance")).tracker
    pairs = list(reference.books)
    session = load_session(files)
    span = session.records[-1].ts - session.records[0].ts
    speed = span / 6.0  # each replay lasts about 6 s
    cmd = [sys.executable, "-m", "hbconnect", "hub", "-e", "binance", "--redis", redis_server.url, "--replay",
           *map(str, files), "--speed", repr(speed), "--lease-ttl", "1", "--hub-id", "hub-a", "--status-interval", "60", "--no-rebalance"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))

    async def main():
        cons = RemoteBookTracker(redis_server.url, "binance", pairs, stale_timeout=None)
        await cons.start()
        a = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        try:
            assert await wait_until(lambda: all(cons.books[p].epoch.startswith("hub-a.") for p in pairs), 15)
            hub_b = BookHub(redis_server.url, "binance", lease_ttl=1.0, hub_id="hub-b", rebalance=False)
            replay_b = asyncio.get_running_loop().create_task(hub_b.replay(session, market_data_venue("binance"),
                                                                           speed=speed))
            await asyncio.sleep(1.5)
            assert hub_b.owned == []  # A holds every lease while it lives
            a.send_signal(signal.SIGKILL)  # mid-stream: its replay has seconds to go
            a.wait()
            assert await wait_until(lambda: sorted(hub_b.owned) == sorted(pairs), 5.0)
            rp = await replay_b
            assert await caught_up(cons, hub_b)
            for p in pairs:
                rb = cons.books[p]
                assert rb.epoch.startswith("hub-b.") and rb.epochs == 2, p
                assert rb.state is LIVE and rb.bad_frames == 0, p
                assert_same_book(rb.book, reference.books[p].book, p)
                assert_same_book(rp.tracker.books[p].book, reference.books[p].book, p)
            await hub_b.stop()
        finally:
            if a.poll() is None:
                a.kill()
                a.wait()
            await cons.stop()

    asyncio.run(main())


def test_hub_whose_renewals_stopped_is_fenced_off(redis_server):
    async def main():
        a = BookHub(redis_server.url, "fake", ["A-B"], lease_ttl=0.4, hub_id="hub-a")
        ta = fake_tracker(a)
        await a.open()
        assert await a.wait_owned(1)
        nxt = feed_diffs(ta, "A-B", 11, 5)
        await a.drain()
        a._tasks[0].cancel()  # its lease renewals stop; its publishing does not
        b = BookHub(redis_server.url, "fake", ["A-B"], lease_ttl=0.4, hub_id="hub-b", rebalance=False)
        tb = fake_tracker(b)
        await b.open()
        assert await b.wait_owned(1, timeout=5.0)
        feed_diffs(tb, "A-B", 11, 8)
        await b.drain()
        assert a.owned == ["A-B"]  # A does not know yet...
        feed_diffs(ta, "A-B", nxt, 3)
        await a.drain()  # ...its write is refused by the lease check in the script
        assert a.owned == [] and a.leases_lost == 1
        entries = await stream_entries(redis_server.url, wire.stream_key("hb", "fake", "A-B"))
        epochs = [f[b"e"].decode() for _, f in entries]
        first_b = next(i for i, e in enumerate(epochs) if e.startswith("hub-b."))
        assert all(e.startswith("hub-b.") for e in epochs[first_b:])
        assert [int(f[b"s"]) for _, f in entries[first_b:]] == list(range(1, len(entries) - first_b + 1))
        cons = RemoteBookTracker(redis_server.url, "fake", ["A-B"])
        await cons.start()
        assert await caught_up(cons, b)
        assert_same_book(cons.book("A-B"), tb.books["A-B"].book)
        await cons.stop()
        await a.stop()
        await b.stop()

    asyncio.run(main())


def test_redis_restart_new_epochs_and_consumers_resync(redis_server):
    async def main():
        hub = BookHub(redis_server.url, "fake", ["A-B", "C-D"], lease_ttl=1.0)
        t = fake_tracker(hub, ("A-B", "C-D"))
        await hub.open()
        assert await hub.wait_owned(2)
        cons = RemoteBookTracker(redis_server.url, "fake", ["A-B", "C-D"], stale_timeout=None)
        await cons.start()
        feed_diffs(t, "A-B", 11, 20)
        await hub.drain()
        assert await caught_up(cons, hub)
        before = {p: cons.books[p].epoch for p in ("A-B", "C-D")}
        redis_server.restart()  # empty, same port: streams, snapshots, leases are gone
        feed_diffs(t, "A-B", 31, 5)  # written into the void: the write fails
        await hub.drain()
        assert hub.write_errors >= 1
        assert await hub.wait_owned(2, timeout=5.0)
        feed_diffs(t, "C-D", 11, 7)
        await hub.drain()
        assert await caught_up(cons, hub)
        for p in ("A-B", "C-D"):
            rb = cons.books[p]
            assert rb.epoch != before[p] and rb.state is LIVE
            assert_same_book(rb.book, t.books[p].book, p)
        assert cons.connection_errors >= 1 and cons.redis_restarts == 1
        await cons.stop()
        await hub.stop()

    asyncio.run(main())


def test_script_cache_flushed_hub_reloads_its_script_and_the_epoch_goes_on(redis_server):
    """The hub sends its publish script's text with every call (EVAL): a Redis that lost its
    script cache (SCRIPT FLUSH) compiles it again at the next write (it is cached again after it),
    so nothing is lost, duplicated or counted as a failed write."""
    async def main():
        hub = BookHub(redis_server.url, "fake", ["A-B"], lease_ttl=1.0)
        t = fake_tracker(hub)
        await hub.open()
        assert await hub.wait_owned(1)
        cons = RemoteBookTracker(redis_server.url, "fake", ["A-B"], stale_timeout=None)
        await cons.start()
        u = feed_diffs(t, "A-B", 11, 10)
        await hub.drain()
        assert await caught_up(cons, hub)
        epoch = hub.published("A-B")[0]
        r = aioredis.from_url(redis_server.url)
        await r.script_flush()
        assert await r.script_exists(hub._publish_sha) == [False]
        feed_diffs(t, "A-B", u, 15)
        await hub.drain()
        assert await r.script_exists(hub._publish_sha) == [True]
        await r.aclose()
        assert await caught_up(cons, hub)
        rb = cons.books["A-B"]
        assert hub.published("A-B")[0] == epoch and rb.epoch == epoch and rb.epochs == 1
        assert hub.write_errors == 0 and hub.dropped == 0
        assert (rb.gaps, rb.duplicates, rb.bad_frames) == (0, 0, 0)
        assert_same_book(rb.book, t.books["A-B"].book, "A-B")
        await cons.stop()
        await hub.stop()

    asyncio.run(main())


def test_a_late_consumer_has_the_last_trade_at_once_from_the_snapshot_hash(redis_server):
    """The snapshot hash carries the pair's last trade: a consumer that starts from it (the trade's
    entry trimmed away long ago, or simply before its start) has ``last_trade`` without waiting for
    the next trade; it is not a new trade (no callback, not counted). A corrupt one is counted and
    the book is still taken."""
    import json

    async def main():
        hub = BookHub(redis_server.url, "fake", ["A-B"], heartbeat_interval=600, snapshot_interval=0.0)
        t = fake_tracker(hub)
        await hub.open()
        assert await hub.wait_owned(1)
        await hub.drain()
        conn = t.books["A-B"].conn
        t.feed(conn, json.dumps({"t": "tr", "p": "A-B", "id": 7, "px": "100.50", "sz": "0.250", "side": "sell"}), 0.0)
        feed_diffs(t, "A-B", 11, 3)
        await hub.drain()
        r = aioredis.from_url(redis_server.url)
        key = wire.snapshot_key("hb", "fake", "A-B")
        assert await wait_until(lambda: hub.snapshots_written >= 2, 5)
        fields = await r.hgetall(key)
        assert b"t" in fields
        seen = []
        cons = RemoteBookTracker(redis_server.url, "fake", ["A-B"], stale_timeout=None, on_trade=seen.append)
        assert cons.load_snapshot("A-B", fields)  # the hash alone: no stream entry read
        lt = cons.last_trade("A-B")
        assert (lt.pair, lt.trade_id, lt.price, lt.amount, lt.side) == ("A-B", "7", "100.50", "0.250", "sell")
        assert seen == [] and cons.books["A-B"].trades == 0 and cons.books["A-B"].bad_frames == 0
        assert_same_book(cons.book("A-B"), t.books["A-B"].book)
        for bad in (b'["7", "100.50", "0.250", "sideways", 0]', b"not json", b'{"id": 7}'):
            other = RemoteBookTracker(redis_server.url, "fake", ["A-B"], stale_timeout=None)
            assert other.load_snapshot("A-B", {**fields, b"t": bad})
            assert other.last_trade("A-B") is None and other.books["A-B"].bad_frames == 1
            assert_same_book(other.book("A-B"), t.books["A-B"].book)
        await r.aclose()
        await hub.stop()

    asyncio.run(main())


def test_consumer_behind_the_trim_detects_the_gap_and_resyncs(redis_server):
    async def main():
        hub = BookHub(redis_server.url, "fake", ["A-B"], maxlen=100)
        t = fake_tracker(hub)
        await hub.open()
        assert await hub.wait_owned(1)
        await hub.drain()
        cons = RemoteBookTracker(redis_server.url, "fake", ["A-B"], stale_timeout=None)
        r = aioredis.from_url(redis_server.url)
        assert cons.load_snapshot("A-B", await r.hgetall(wire.snapshot_key("hb", "fake", "A-B")))
        seq0 = cons.books["A-B"].seq
        nxt = 11
        for _ in range(10):  # 1,000 entries while the consumer reads nothing
            nxt = feed_diffs(t, "A-B", nxt, 100)
            await hub.drain()
        assert await r.xlen(wire.stream_key("hb", "fake", "A-B")) < 400  # trimmed
        await r.aclose()
        await cons.start()  # reads on from where it stood: entries are gone
        assert await caught_up(cons, hub)
        rb = cons.books["A-B"]
        assert rb.gaps == 1 and rb.resyncs == 1 and rb.seq > seq0 + 900
        assert_same_book(rb.book, t.books["A-B"].book)
        await cons.stop()
        await hub.stop()

    asyncio.run(main())


def test_bad_and_foreign_entries_are_counted_and_never_change_a_book(redis_server, caplog):
    async def main():
        # no heartbeats or timed snapshots: the stream holds exactly what the test writes
        hub = BookHub(redis_server.url, "fake", ["A-B"], heartbeat_interval=600, snapshot_interval=600)
        t = fake_tracker(hub)
        await hub.open()
        assert await hub.wait_owned(1)
        cons = RemoteBookTracker(redis_server.url, "fake", ["A-B"], stale_timeout=None)
        try:
            await cons.start()
            nxt = feed_diffs(t, "A-B", 11, 5)
            await hub.drain()
            assert await caught_up(cons, hub)
            rb = cons.books["A-B"]
            epoch, seq = hub.published("A-B")
            good = levels(rb.book)
            key = wire.stream_key("hb", "fake", "A-B")
            r = aioredis.from_url(redis_server.url)
            foreign = [{"x": "y"}, {"e": epoch, "s": "nope", "k": "d", "d": "[]"}, {"e": epoch, "s": seq + 1, "k": "zz", "d": "1"},
                       {"e": "someone-else", "s": 7, "k": "d", "d": "[1, 0, [], [], null]"}]
            for f in foreign:
                await r.xadd(key, f)
            # three are not hub entries: counted and skipped; the entry of an unknown epoch looks like
            # a missed failover: one resync from the snapshot hash, after which, met again, it is
            # known not to be the hub's and skipped
            assert await wait_until(lambda: rb.resyncs == 1, 5)
            assert levels(rb.book) == good
            nxt = feed_diffs(t, "A-B", nxt, 1)
            await hub.drain()
            assert await wait_until(lambda: rb.state is LIVE and rb.seq == seq + 1, 5)
            assert rb.bad_frames >= 4 and rb.gaps == 1 and rb.resyncs == 1  # (re-read ones count again)
            assert levels(rb.book) == levels(t.books["A-B"].book)
            good, bad0, seq = levels(rb.book), rb.bad_frames, rb.seq
            # the next sequence number taken by garbage: the book is kept, the pair resyncs
            for d in ('[12, 0, [["1e999999999", "1"]], [], null]', '{"not": "a list"', '[12, 0, [["101.5", "1"]]]'):
                await r.xadd(key, {"e": epoch, "s": seq + 1, "k": "d", "d": d})
            assert await wait_until(lambda: rb.bad_frames >= bad0 + 3 and rb.resyncs >= 2, 5)
            assert levels(rb.book) == good
            await r.aclose()
            feed_diffs(t, "A-B", nxt, 5)
            await hub.drain()
            assert await wait_until(lambda: rb.state is LIVE and levels(rb.book) == levels(t.books["A-B"].book), 5)
            assert cons.bad_frames == rb.bad_frames and rb.epochs == 1 and rb.resyncs <= 4
        finally:
            await cons.stop()
            await hub.stop()

    with caplog.at_level(logging.WARNING, logger="hbconnect.hub.consumer"):
        asyncio.run(main())
    bad_lines = [r for r in caplog.records if "bad stream entry" in r.getMessage()]
    assert 1 <= len(bad_lines) <= 6  # logged, not flooded


def test_nothing_secret_is_published_or_logged(redis_server, caplog):
    secret = "pw-Sup3rSecret"
    files = fixture_files("BINANCE")

    async def main():
        r = aioredis.from_url(redis_server.url)
        await r.config_set("requirepass", secret)
        await r.aclose()
        url = redis_server.url.replace("redis://", f"redis://:{secret}@")
        hub = BookHub(url, "binance")
        await hub.replay(load_session(files), market_data_venue("binance"))
        r = aioredis.from_url(url)
        dump = []
        async for key in r.scan_iter():
            dump.append(key)
            kind = await r.type(key)
            if kind == b"stream":
                dump += [repr(e) for e in await r.xrange(key)]
            elif kind == b"hash":
                dump.append(repr(await r.hgetall(key)))
            elif kind == b"string":
                dump.append(await r.get(key))
            elif kind == b"zset":
                dump.append(repr(await r.zrange(key, 0, -1)))
        await r.aclose()
        await hub.stop()
        # a hub whose Redis is gone logs where it was writing: without the password
        hub2 = BookHub(url.replace(str(redis_server.port), "1"), "binance", ["X-Y"])
        await hub2.open()
        await asyncio.sleep(0.2)
        await hub2.stop()
        return b"\n".join(x if isinstance(x, bytes) else x.encode() for x in dump)

    with caplog.at_level(logging.DEBUG):
        dump = asyncio.run(main())
    assert b"stream" in dump and len(dump) > 10_000
    for needle in (secret, "apiKey", "signature", "listenKey"):
        assert needle.encode() not in dump
    assert secret not in caplog.text


def test_lease_plan_spreads_pairs_and_takes_orphans_after_patience():
    pairs = [f"P{i}-USDT" for i in range(400)]
    hubs = ["h1", "h2", "h3", "h4"]
    share = {h: sum(preferred_hub(hubs, p) == h for p in pairs) for h in hubs}
    assert all(60 <= n <= 140 for n in share.values()), share
    # without h4, its pairs spread over the survivors and the others keep theirs
    for p in pairs:
        if preferred_hub(hubs, p) != "h4":
            assert preferred_hub(hubs[:3], p) == preferred_hub(hubs, p)
    plan = LeasePlan("h1", pairs, patience=2)
    mine, others = plan.candidates([], hubs)
    assert len(mine) == share["h1"] and len(others) == 400 - share["h1"]
    orphan = others[0]
    plan.observed(orphan, True)
    assert orphan not in plan.candidates([], hubs)[0]
    plan.observed(orphan, True)
    assert orphan in plan.candidates([], hubs)[0]  # free for two rounds: anyone may take it
    plan.observed(orphan, False)
    assert orphan not in plan.candidates([], hubs)[0]


def test_a_hub_that_joins_later_gets_its_share(redis_server):
    pairs = [f"P{i}-USD" for i in range(40)]

    async def main():
        a = BookHub(redis_server.url, "fake", pairs, lease_ttl=0.6, hub_id="h1")
        fake_tracker(a, pairs)
        await a.open()
        assert await a.wait_owned(40)
        b = BookHub(redis_server.url, "fake", pairs, lease_ttl=0.6, hub_id="h2")
        fake_tracker(b, pairs)
        await b.open()
        want_b = sum(preferred_hub(["h1", "h2"], p) == "h2" for p in pairs)
        try:
            assert await wait_until(lambda: len(b.owned) == want_b and len(a.owned) == 40 - want_b, 10)
            assert not set(a.owned) & set(b.owned)
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(main())


def test_missing_redis_server_fails_with_how_to_install(monkeypatch):
    monkeypatch.setenv("HBCONNECT_REDIS_SERVER", "")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert redis_server_binary() is None
    with pytest.raises(FileNotFoundError, match="apt-get install -y redis-server"):
        RedisServer()
    assert "redis-server" in INSTALL_HINT


def test_watch_redis_shows_the_hubs_books(redis_server):
    files = fixture_files("BINANCE")
    reference = replay(files, market_data_venue("binance")).tracker
    pair = next(iter(reference.books))

    async def main():
        hub = BookHub(redis_server.url, "binance")
        await hub.replay(load_session(files), market_data_venue("binance"))
        out = await asyncio.to_thread(subprocess.run, [
            sys.executable, "-m", "hbconnect", "watch", "-e", "binance", "-p", pair, "--redis", redis_server.url,
            "--duration", "1.0", "--interval", "0.3", "--depth", "1"],
            capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        await hub.stop()
        return out

    out = asyncio.run(main())
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().split("\n\n")[-1]
    (bp, bs), (ap, as_) = reference.books[pair].book.bids_text(1)[0], reference.books[pair].book.asks_text(1)[0]
    assert f"{pair}" in last and " live " in last
    row = last.splitlines()[2].split()
    assert row == [bs, bp, "|", ap, as_]


def test_stop_ends_tasks_even_when_a_cancellation_is_swallowed():
    """redis-py can swallow a cancellation that lands inside a command: the hub's task then sleeps
    on to its next round, and a single cancel() would leave stop() waiting for ever."""
    from hbconnect.hub.publisher import _cancel_all

    swallowed = []

    async def stubborn():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            swallowed.append(1)  # as a client library that catches and does not re-raise
        await asyncio.sleep(30)

    async def main():
        t = asyncio.get_running_loop().create_task(stubborn())
        await asyncio.sleep(0)
        await asyncio.wait_for(_cancel_all([t]), timeout=5.0)
        return t

    t = asyncio.run(main())
    assert swallowed == [1] and t.cancelled()


def test_resp_commands_built_by_the_hub_match_redis_py_packing():
    """The hub frames its hot commands itself: the bytes must be what redis-py's own packer
    (hiredis, or its Python serializer) sends for the same arguments."""
    from redis.connection import PythonRespSerializer

    from hbconnect.hub.resp import arg, bulk, command

    args = (b"EVALSHA", b"ab" * 20, 2, "k:1", b"", b"\r\n$3", 12345678901234, "\u00e9")
    want = b"".join(PythonRespSerializer(6000, lambda x: x if isinstance(x, bytes) else str(x).encode()).pack(*args))
    assert command(args) == want
    # pieces framed beforehand (several arguments in one piece) give the same bytes
    assert command(args[:3], [arg(args[3]) + bulk(args[4]), arg(args[5]), arg(args[6]) + arg(args[7])], 5) == want


def test_publish_and_read_connections_have_nagle_off(redis_server, monkeypatch):
    """Small writes (one change) go out at once: TCP_NODELAY on the hub's publish connection and
    on the consumer's reader."""
    import socket

    def nodelay(dedicated):
        sock = dedicated.conn._writer.transport.get_extra_info("socket")
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

    async def main():
        hub = BookHub(redis_server.url, "fake", ["A-B"])
        t = fake_tracker(hub)
        await hub.open()
        assert await hub.wait_owned(1)
        feed_diffs(t, "A-B", 11, 2)
        await hub.drain()
        cons = RemoteBookTracker(redis_server.url, "fake", ["A-B"], stale_timeout=None)
        readers = []
        real = consumer_module.DedicatedConnection

        class Spy(real):
            def __init__(self, client):
                super().__init__(client)
                readers.append(self)

        monkeypatch.setattr(consumer_module, "DedicatedConnection", Spy)
        try:
            await cons.start()
            assert await caught_up(cons, hub)
            assert nodelay(hub._conn) != 0 and nodelay(readers[0]) != 0
        finally:
            await cons.stop()
            await hub.stop()

    asyncio.run(main())


def test_a_quiet_hub_makes_the_pair_stale_until_entries_come_again(redis_server):
    """No entry (not even a heartbeat) for ``stale_timeout`` on the consumer's clock: the pair is
    reported stale (RESYNCING) and checked against the snapshot hash; the next entries make it live."""
    async def main():
        hub = BookHub(redis_server.url, "fake", ["A-B"], heartbeat_interval=600, snapshot_interval=600)
        t = fake_tracker(hub)
        await hub.open()
        assert await hub.wait_owned(1)
        await hub.drain()
        now = [1000.0]
        cons = RemoteBookTracker(redis_server.url, "fake", ["A-B"], stale_timeout=5.0, clock=lambda: now[0])
        r = aioredis.from_url(redis_server.url)
        key = wire.stream_key("hb", "fake", "A-B")
        assert cons.load_snapshot("A-B", await r.hgetall(wire.snapshot_key("hb", "fake", "A-B")))
        rb = cons.books["A-B"]
        feed_diffs(t, "A-B", 11, 2)
        await hub.drain()
        cons.process("A-B", await r.xrange(key, "(" + rb.sid))
        assert rb.state is LIVE and rb.seq == hub.published("A-B")[1]
        assert cons.check_stale(now[0] + 4.9) == [] and rb.state is LIVE
        now[0] += 5.1
        assert cons.check_stale() == ["A-B"]
        assert rb.state is not LIVE and cons.stats("A-B").stale and rb.stale_streams == 1 and rb.need_snapshot
        assert cons.check_stale(now[0] + 60) == []  # reported once
        feed_diffs(t, "A-B", 13, 1)
        await hub.drain()
        cons.process("A-B", await r.xrange(key, "(" + rb.sid))
        assert rb.state is LIVE and not rb.stale and rb.gaps == 0
        assert_same_book(rb.book, t.books["A-B"].book)
        await r.aclose()
        await hub.stop()

    asyncio.run(main())


def test_raw_reply_entries_in_any_field_order_apply_and_bad_ones_are_counted():
    """The reader hands ``process`` the raw reply's ``[field, value, ...]`` lists: the hub's order
    takes the direct path, another order (a foreign writer of the same format) the general one;
    anything else is counted and changes nothing."""
    cons = RemoteBookTracker("redis://127.0.0.1:1/0", "fake", ["A-B"], stale_timeout=None)
    snap = b'[10, 0, [["100", "1"]], [["101", "1"]], null, "live"]'
    assert cons.load_snapshot("A-B", {b"e": b"ep.1", b"s": b"1", b"sid": b"1-0", b"d": snap})
    rb = cons.books["A-B"]
    cons.process("A-B", [
        [b"2-0", [b"e", b"ep.1", b"s", b"2", b"k", b"d", b"d", b'[11, 0, [["99", "2"]], [], null]']],
        [b"3-0", [b"k", b"d", b"d", b'[12, 0, [], [["102", "3"]], null]', b"s", b"3", b"e", b"ep.1"]],
    ])
    assert rb.seq == 3 and rb.diffs_applied == 2 and rb.bad_frames == 0
    assert levels(rb.book) == ([("100", "1"), ("99", "2")], [("101", "1"), ("102", "3")])
    good = levels(rb.book)
    cons.process("A-B", [[b"4-0", [b"e", b"ep.1"]], [b"5-0", None], [b"6-0", [b"x", b"y", b"z"]],
                         [b"7-0", [b"e", b"ep.1", b"s", b"x", b"k", b"d", b"d", b"[]"]]])
    assert rb.bad_frames == 4 and rb.seq == 3 and levels(rb.book) == good and rb.state is LIVE
