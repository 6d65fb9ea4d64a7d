"""Tracker recovery paths reported by the venue helpers: timed sync retries with backoff, in-band
snapshots of id-less rules, pair-attributed parse errors, internal errors, outgoing pacing, signed
REST snapshots, and replay's use of recorded symbol tables."""
from __future__ import annotations

import asyncio
import json
import logging

import pytest

from conftest import fixture_files
from fakevenue import FakeVenue, RecordingDriver, diff, snap_body
from hbconnect.core.rest import RestClient, RestResponse
from hbconnect.market.messages import ParseError, RestRequest, SyncRule
from hbconnect.market.pacing import SendPacer, connect_pacer, venue_pacer
from hbconnect.market.tracker import OrderBookTracker, _LiveDriver
from refbook import book_levels

B0 = [("100", "1"), ("99", "2")]
A0 = [("101", "1"), ("102", "2")]


def make(venue=None, pairs=("A-B",), **kw):
    venue = venue or FakeVenue()
    drv = RecordingDriver()
    t = OrderBookTracker(venue, list(pairs), driver=drv, **kw)
    t._rand = lambda: 0.0  # no jitter: exact waits
    clock = [1000.0]
    t.clock = lambda: clock[0]
    for c in t.connections:
        t.connection_up(c)
    return t, drv, clock


def at(t, clock, now):
    """The watchdog's tick at tracker-clock time ``now``."""
    clock[0] = now
    t.check_stale()


def snap_frame(pair, bids, asks, u=0, **kw):
    return json.dumps({"t": "s", "p": pair, "b": [list(x) for x in bids], "a": [list(x) for x in asks], "u": u, **kw})


# ----------------------------------------------------------------------------- 1. timed retries
def test_rest_sync_without_snapshot_is_retried_with_backoff_and_resubscribed():
    t, drv, clock = make(sync_timeout=5.0, sync_retry_max=12.0)
    tb = t.books["A-B"]
    assert len(drv.snapshots) == 1
    at(t, clock, 1000.0)  # arms the timer
    at(t, clock, 1004.9)
    assert len(drv.snapshots) == 1 and tb.sync_retries == 0
    drv.sent.clear()
    at(t, clock, 1005.0)  # no snapshot 5 s after the sync began
    assert len(drv.snapshots) == 2 and tb.sync_retries == 1
    # no book message came at all: the subscription is renewed too
    assert [json.loads(x)["op"] for _, x in drv.sent] == ["unsub", "sub"]
    at(t, clock, 1014.9)  # the wait doubled (10 s)
    assert len(drv.snapshots) == 2
    at(t, clock, 1015.0)
    assert len(drv.snapshots) == 3 and tb.sync_retries == 2
    at(t, clock, 1026.9)  # capped at sync_retry_max (12 s), never faster
    assert len(drv.snapshots) == 3
    at(t, clock, 1027.0)
    assert len(drv.snapshots) == 4 and tb.sync_retries == 3
    # the latest request's answer makes the pair live and disarms the timer
    t.on_snapshot("A-B", tb.gen, snap_body(B0, A0, 10))
    assert tb.state.value == "live" and tb.retry_at == 0.0
    # no frame came on the connection: the stale clock starts with the book, on the tracker's
    # clock (it once read the real clock, and this check passed or failed with machine uptime)
    assert tb.last_receive == 1027.0
    at(t, clock, 1087.0)  # well past the 12 s retry, inside the 60 s stale window: nothing
    assert len(drv.snapshots) == 4 and tb.sync_retries == 3
    at(t, clock, 1087.5)  # no book message for 60 s: resubscribed and resynced
    assert len(drv.snapshots) == 5 and tb.stale_streams == 1


def test_rest_retry_keeps_the_stream_when_diffs_flow():
    t, drv, clock = make(sync_timeout=5.0)
    tb = t.books["A-B"]
    at(t, clock, 1000.0)
    t.feed(t.connections[0], diff("A-B", 11, 12, [("100", "3")]), 1001.0)
    drv.sent.clear()
    at(t, clock, 1005.0)
    assert tb.sync_retries == 1 and len(drv.snapshots) == 2
    assert drv.sent == [] and len(tb.buffer) == 1  # diffs flow: only the snapshot is refetched
    t.on_snapshot("A-B", tb.gen, snap_body(B0, A0, 10))
    assert tb.state.value == "live" and tb.diffs_applied == 1


def test_inband_sync_ignored_by_the_venue_is_retried_with_resync_messages():
    t, drv, clock = make(FakeVenue(SyncRule.CHECKSUM, rest=False), sync_timeout=2.0)
    tb = t.books["A-B"]
    drv.sent.clear()
    at(t, clock, 1000.0)
    at(t, clock, 1002.0)
    assert tb.sync_retries == 1 and [json.loads(x)["op"] for _, x in drv.sent] == ["resync"]
    at(t, clock, 1005.9)
    assert tb.sync_retries == 1
    at(t, clock, 1006.0)
    assert tb.sync_retries == 2 and len(drv.sent) == 2


def test_timed_retry_never_cuts_a_snapshot_backoff_short():
    t, drv, clock = make(sync_timeout=5.0, snapshot_backoff=(20.0, 60.0))
    tb = t.books["A-B"]
    t.on_snapshot("A-B", tb.gen, b"<html>503</html>")
    t.on_snapshot("A-B", tb.gen, b"<html>503</html>")  # now waiting 40 s before the next request
    assert drv.snapshots[-1][2] == 40.0
    n = len(drv.snapshots)
    at(t, clock, 1044.9)
    assert len(drv.snapshots) == n and tb.sync_retries == 0
    at(t, clock, 1045.0)  # 5 s after the backed-off request was due
    assert len(drv.snapshots) == n + 1 and tb.sync_retries == 1


def test_failing_rest_snapshots_back_off_exponentially():
    t, drv, clock = make(snapshot_backoff=(0.5, 4.0))
    tb = t.books["A-B"]
    delays = []
    for _ in range(6):
        t.on_snapshot("A-B", tb.gen, b"<html>503</html>")
        delays.append(drv.snapshots[-1][2])
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert tb.bad_frames == 6 and tb.snapshot_retries == 6 and tb.state.value == "syncing"


# ----------------------------------------------------------------------------- 2. in-band, no ids
def test_inband_snapshot_discards_diffs_buffered_before_it_when_ids_cannot_order_them():
    t, drv, clock = make(FakeVenue(SyncRule.CHECKSUM, rest=False))
    tb = t.books["A-B"]
    conn = t.connections[0]
    t.feed(conn, snap_frame("A-B", B0, A0))
    assert tb.state.value == "live"
    t.resync("A-B")
    # received after the resync request but before the new snapshot: already inside it
    t.feed(conn, diff("A-B", 0, 0, [("100", "7")]))
    t.feed(conn, diff("A-B", 0, 0, [("98", "1")]))
    assert len(tb.buffer) == 2
    new_bids = [("100", "7"), ("99", "2"), ("98", "1")]
    t.feed(conn, snap_frame("A-B", new_bids, A0, u=5))  # an id (a venue timestamp) that orders nothing
    assert tb.state.value == "live" and tb.stale_dropped == 2 and tb.diffs_applied == 0
    assert book_levels(tb.book) == (new_bids, A0)


def test_inband_snapshot_with_ids_still_replays_later_buffered_diffs():
    t, drv, clock = make(FakeVenue(SyncRule.PREV_CHAIN, rest=False))
    tb = t.books["A-B"]
    conn = t.connections[0]
    t.feed(conn, diff("A-B", 11, 11, [("100", "5")], pu=10))
    t.feed(conn, snap_frame("A-B", B0, A0, u=10))
    assert tb.state.value == "live" and tb.diffs_applied == 1 and tb.stale_dropped == 0


# ----------------------------------------------------------------------------- 3. ParseError.pair
class TruncVenue(FakeVenue):
    def parse_message(self, raw):
        m = json.loads(raw)
        if m.get("t") == "trunc":
            err = ParseError("truncated frame")
            err.pair = m["p"]
            raise err
        return super().parse_message(raw)


def test_parse_error_naming_its_pair_resyncs_that_pair_only():
    t, drv, clock = make(TruncVenue(), pairs=("A-B", "C-D"))
    conn = t.connections[0]
    for p in ("A-B", "C-D"):
        t.on_snapshot(p, t.books[p].gen, snap_body(B0, A0, 10))
    drv.snapshots.clear()
    t.feed(conn, json.dumps({"t": "trunc", "p": "A-B"}))
    a, c = t.books["A-B"], t.books["C-D"]
    assert a.bad_frames == 1 and a.resyncs == 1 and a.state.value == "resyncing"
    assert [s[0] for s in drv.snapshots] == ["A-B"]
    assert c.bad_frames == 0 and c.state.value == "live" and t.bad_frames == 1


# ----------------------------------------------------------------------------- 4. internal errors
def test_snapshot_id_beyond_int64_is_a_bad_frame_and_the_pair_recovers():
    t, drv, clock = make()
    tb = t.books["A-B"]
    drv.snapshots.clear()
    t.on_snapshot("A-B", tb.gen, snap_body(B0, A0, 2 ** 70))
    assert tb.bad_frames == 1 and tb.state.value == "syncing"
    assert len(drv.snapshots) == 1  # a new snapshot was asked for: not stuck
    t.on_snapshot("A-B", tb.gen, snap_body(B0, A0, 10))
    assert tb.state.value == "live"


def test_inband_snapshot_id_beyond_int64_resyncs():
    t, drv, clock = make(FakeVenue(SyncRule.PREV_CHAIN, rest=False))
    tb = t.books["A-B"]
    drv.sent.clear()
    t.feed(t.connections[0], snap_frame("A-B", B0, A0, u=2 ** 70))
    assert tb.bad_frames == 1 and tb.state.value == "syncing"
    assert [json.loads(x)["op"] for _, x in drv.sent] == ["resync"]


def test_unexpected_exception_while_processing_is_attributed_and_resyncs(caplog):
    t, drv, clock = make()
    tb = t.books["A-B"]
    t.on_snapshot("A-B", tb.gen, snap_body(B0, A0, 10))

    class Exploding:
        """A book whose apply path raises something unexpected outside the book's contract."""

        def __getattr__(self, name):
            raise OverflowError("id out of range")

    tb.book = Exploding()
    drv.snapshots.clear()
    with caplog.at_level(logging.WARNING):
        t.feed(t.connections[0], diff("A-B", 11, 12, [("100", "3")]))
    assert tb.bad_frames == 1 and tb.resyncs == 1 and tb.state.value == "resyncing"
    assert [s[0] for s in drv.snapshots] == ["A-B"]
    assert "A-B" in caplog.text


def test_internal_error_after_parse_resyncs_the_pair(monkeypatch):
    t, drv, clock = make()
    tb = t.books["A-B"]
    t.on_snapshot("A-B", tb.gen, snap_body(B0, A0, 10))
    drv.snapshots.clear()

    def broken_check(last_id, d, first):
        raise OverflowError("Python int too large to convert to C long")

    t._check = broken_check
    t.feed(t.connections[0], diff("A-B", 9, 12, [("100", "3")]))  # not the next in line: the policy decides
    assert tb.bad_frames == 1 and tb.resyncs == 1 and tb.state.value == "resyncing"
    assert t.bad_frames == 1 and [s[0] for s in drv.snapshots] == ["A-B"]


# ----------------------------------------------------------------------------- 5. pacing
def test_send_pacer_message_rate_and_hourly_budget():
    p = SendPacer(rate=10, per_hour=3)
    assert [p.reserve(0.0) for _ in range(3)] == [0.0, 0.1, pytest.approx(0.2)]
    assert p.reserve(0.0) == pytest.approx(3600.0)  # the hour's 3 subscriptions are spent
    assert p.reserve(0.0, subscription=False) == pytest.approx(3600.1)  # rate still applies
    q = SendPacer(rate=None, per_hour=2, window=10.0)
    assert (q.reserve(0.0), q.reserve(1.0), q.reserve(2.0), q.reserve(3.0)) == (0.0, 1.0, 10.0, 11.0)
    q.reset()
    assert q.reserve(4.0) == 4.0
    r = SendPacer(rate=10)
    assert r.backlog(1, 0.0) == 0.0  # an idle connection sends at once
    r.reserve(0.0)
    assert r.backlog(3, 0.0) == pytest.approx(0.1 + 0.2)
    r.sent(0.5)  # the message left late: the next waits a full interval from then
    assert r.reserve(0.5) == pytest.approx(0.6)


def test_pacers_read_the_optional_venue_attributes():
    v = FakeVenue()
    assert not venue_pacer(v).limited and not connect_pacer(v).limited
    v.ws_message_rate, v.ws_subscriptions_per_hour, v.ws_connect_rate = 10, 240, 3
    vp, cp = venue_pacer(v), connect_pacer(v)
    assert (vp.rate, vp.per_hour, cp.rate) == (10.0, 240, 3.0)


class _FakeWs:
    def __init__(self, loop):
        self.loop = loop
        self.times = []
        self.url = "ws://127.0.0.1:1/ws"

    async def send(self, text):
        self.times.append((self.loop.time(), text))


class _FakeRunner:
    def __init__(self, ws):
        self.connection = ws


def test_live_driver_paces_subscriptions_but_not_pongs():
    async def main():
        venue = FakeVenue()
        venue.ws_message_rate = 20.0
        t = OrderBookTracker(venue, ["A-B"], sync_timeout=None, stale_timeout=None)
        drv = _LiveDriver(t)
        t.driver = drv
        conn = t.connections[0]
        ws = _FakeWs(asyncio.get_running_loop())
        conn.runner = _FakeRunner(ws)
        conn.up = True
        drv.send(conn, [f"sub{i}" for i in range(5)])
        drv.reply(conn, ["pong"])
        for _ in range(200):
            if len(ws.times) == 6:
                break
            await asyncio.sleep(0.01)
        texts = [x for _, x in ws.times]
        assert texts[0] == "pong" or texts.index("pong") < 2  # never queued behind subscriptions
        subs = [ts for ts, x in ws.times if x.startswith("sub")]
        assert [x for x in texts if x != "pong"] == [f"sub{i}" for i in range(5)]  # in order
        gaps = [b - a for a, b in zip(subs, subs[1:])]
        assert all(g >= 0.05 - 1e-3 for g in gaps), gaps  # at most 20 messages per second
        await drv.stop()
    asyncio.run(main())


# ----------------------------------------------------------------------------- 6. signed REST
class AuthVenue(FakeVenue):
    def snapshot_request(self, pair):
        return RestRequest("http://127.0.0.1:1/depth", {"pair": pair}, auth=True)


def _fetch_recorder(seen):
    async def fetch(method, url, params, headers, body):
        seen.append((url, dict(params), dict(headers)))
        return RestResponse(200, {}, snap_body(B0, A0, 10), url, 0.0)
    return fetch


def test_signed_snapshot_goes_through_the_signer_at_send_time():
    seen, calls = [], []

    def signer(req):
        calls.append(req.url)
        return RestRequest(req.url, req.params, req.method, req.body,
                           {**req.headers, "KC-API-KEY": "key", "KC-API-SIGN": f"sig{len(calls)}"}, req.weight, req.auth)

    async def main():
        rest = RestClient(fetch=_fetch_recorder(seen))
        t = OrderBookTracker(AuthVenue(), ["A-B"], rest=rest, signer=signer)
        drv = _LiveDriver(t)
        t.driver = drv
        conn = t.connections[0]
        conn.up = True
        tb = t.books["A-B"]
        tb.gen += 1
        await drv._snapshot("A-B", AuthVenue().snapshot_request("A-B"), tb.gen, 0.0)
        assert tb.state.value == "live"
    asyncio.run(main())
    assert calls == ["http://127.0.0.1:1/depth"]
    assert seen[0][2]["KC-API-SIGN"] == "sig1" and seen[0][1] == {"pair": "A-B"}


def test_signed_snapshot_without_signer_fails_loudly_and_secret_free(caplog):
    seen = []

    async def main():
        rest = RestClient(fetch=_fetch_recorder(seen))
        t = OrderBookTracker(AuthVenue(), ["A-B"], rest=rest, snapshot_backoff=(30.0, 30.0))
        drv = _LiveDriver(t)
        t.driver = drv
        t.connections[0].up = True
        tb = t.books["A-B"]
        tb.gen += 1
        with caplog.at_level(logging.WARNING):
            await drv._snapshot("A-B", AuthVenue().snapshot_request("A-B"), tb.gen, 0.0)
        assert tb.snapshot_retries == 1 and tb.state.value == "syncing"
        await drv.stop()
    asyncio.run(main())
    assert seen == []  # nothing unsigned was sent
    assert "signer" in caplog.text and "A-B" in caplog.text


def test_signer_failure_never_leaks_its_message(caplog):
    def signer(req):
        raise ValueError("secret=hunter2")

    async def main():
        rest = RestClient(fetch=_fetch_recorder([]))
        t = OrderBookTracker(AuthVenue(), ["A-B"], rest=rest, signer=signer, snapshot_backoff=(30.0, 30.0))
        drv = _LiveDriver(t)
        t.driver = drv
        t.connections[0].up = True
        tb = t.books["A-B"]
        tb.gen += 1
        with caplog.at_level(logging.DEBUG):
            await drv._snapshot("A-B", AuthVenue().snapshot_request("A-B"), tb.gen, 0.0)
        assert tb.snapshot_retries == 1
        await drv.stop()
    asyncio.run(main())
    assert "hunter2" not in caplog.text and "signer failed (ValueError)" in caplog.text


# ----------------------------------------------------------------------------- 7. replay symbols
def test_replay_cli_loads_recorded_symbols_and_syncs_every_kucoin_pair(capsys):
    from hbconnect.cli import main

    files = [str(p) for p in fixture_files("KUCOIN")]
    assert main(["replay", *files, "--exchange", "kucoin", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    pairs = doc["pairs"]
    with_data = [p for p, r in pairs.items() if r["frames"] > 0]
    assert "BSV-USDT" in with_data and len(with_data) == 9
    for p in with_data:
        r = pairs[p]
        assert r["state"] == "live" and r["gaps"] == 0 and r["bad_frames"] == 0, p
        assert r["diffs_applied"] > 0 and r["bids"] and r["asks"], p
