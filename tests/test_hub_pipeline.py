"""The hub's pipelined writes (several sent before the earlier replies are read) and the
consumer's read-ahead (the next XREAD sent before a reply is applied), on a real redis-server."""
from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from hbconnect.hub import wire
from hbconnect.hub.consumer import RemoteBookTracker
from hbconnect.hub.publisher import BookHub
from hbconnect.hub.redis_client import connect
from hbconnect.hub.resp import DedicatedConnection, command
from redis_server import redis_server_fixture
from test_hub import assert_same_book, caught_up, fake_tracker, feed_diffs

redis_server = pytest.fixture(redis_server_fixture)


def test_writes_overlap_keep_their_order_and_the_consumer_follows_through_a_foreign_entry(redis_server):
    """Changes fed one per loop turn: a second write goes out while the first waits for its reply
    (never more than ``writes_in_flight``); the stream holds the epoch's sequence contiguous and in
    order; the reading-ahead consumer counts a foreign entry slipped in mid-flow, skips it, and
    ends with the hub's book, without a gap."""
    async def main():
        hub = BookHub(redis_server.url, "fake", ["A-B"], writes_in_flight=2)
        t = fake_tracker(hub)
        await hub.open()
        assert await hub.wait_owned(1)
        cons = RemoteBookTracker(redis_server.url, "fake", ["A-B"], stale_timeout=None)
        await cons.start()
        r = aioredis.from_url(redis_server.url)
        key = wire.stream_key("hb", "fake", "A-B")
        peak = 0
        u = 11
        for i in range(300):
            u = feed_diffs(t, "A-B", u, 1)
            if i == 150:
                await r.xadd(key, {"x": "foreign"})
            await asyncio.sleep(0)
            peak = max(peak, hub._in_flight)
        await hub.drain()
        assert await caught_up(cons, hub)
        assert peak == 2
        assert hub.batches > 1 and hub.write_errors == 0 and hub.dropped == 0
        epoch, last = hub.published("A-B")
        seqs = [int(f[b"s"]) for _, f in await r.xrange(key) if f.get(b"e") == epoch.encode()]
        assert seqs == list(range(1, last + 1))
        rb = cons.books["A-B"]
        assert (rb.gaps, rb.bad_frames, rb.duplicates) == (0, 1, 0)
        assert rb.epochs == 1 and rb.seq == last
        assert_same_book(rb.book, t.books["A-B"].book)
        await r.aclose()
        await cons.stop()
        await hub.stop()

    asyncio.run(main())


def test_a_snapshot_written_without_entries_points_at_the_streams_last_entry(redis_server):
    """A snapshot-only call (nothing queued, the snapshot due) takes the stream id of the pair's
    last entry in the script itself: the hub's own idea of it may lag while a write is in flight."""
    async def main():
        hub = BookHub(redis_server.url, "fake", ["A-B"], heartbeat_interval=600, snapshot_interval=1.0)
        t = fake_tracker(hub)
        await hub.open()
        assert await hub.wait_owned(1)
        feed_diffs(t, "A-B", 11, 5)
        await hub.drain()
        hp = hub._owned["A-B"]
        hp.last_sid = ""  # as if the reply of the write with its last entry were not read yet
        hub.tick_once(hub.clock() + 10.0)  # the snapshot is due; no heartbeat, nothing queued
        assert not hp.pending
        await hub.drain()
        r = aioredis.from_url(redis_server.url)
        snap = await r.hgetall(wire.snapshot_key("hb", "fake", "A-B"))
        last_id, last = (await r.xrevrange(wire.stream_key("hb", "fake", "A-B"), count=1))[0]
        await r.aclose()
        assert int(snap[b"s"]) == hub.published("A-B")[1] == int(last[b"s"])
        assert snap[b"sid"] == last_id
        cons = RemoteBookTracker(redis_server.url, "fake", ["A-B"], stale_timeout=None)
        assert cons.load_snapshot("A-B", snap)
        assert_same_book(cons.book("A-B"), t.books["A-B"].book)
        await hub.stop()

    asyncio.run(main())


def test_replies_are_read_only_from_the_connection_the_commands_went_on(redis_server):
    """Two commands sent, the connection lost before their replies are read: reading them raises
    (they are gone) instead of reading the replies of a later command sent on a fresh connection;
    that later command's replies come back whole."""
    async def main():
        client = connect(redis_server.url)
        dc = DedicatedConnection(client)
        first = await dc.send(command((b"PING", b"one")) + command((b"PING", b"two")))
        await dc.drop()
        second = await dc.send(command((b"PING", b"three")))
        assert second is not first
        with pytest.raises(ConnectionError):
            await dc.replies(2, first)
        assert await dc.replies(1, second) == [b"three"]  # the fresh connection stayed in step
        assert await dc.call(command((b"PING", b"four")) + command((b"PING", b"five")), 2) == [b"four", b"five"]
        await dc.release()
        await client.aclose()

    asyncio.run(main())
