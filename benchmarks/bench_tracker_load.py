"""Load benchmark: 1,000 pairs at 10 depth frames/s each, tracked in one process (``--venues``:
the pairs spread over several venues' trackers).

A local server (``--servers`` separate processes, so that their CPU is not counted and one
server is not the limit) speaks Binance's public protocol on 127.0.0.1: REST depth snapshots and
the combined stream with SUBSCRIBE. It paces depthUpdate frames (recorded Binance frames,
re-targeted to synthetic symbols, with contiguous ``U``/``u`` ids) at ``--rate`` frames/s per
pair, each frame its own WebSocket message and, by default, its own write to the socket. The
tracker (real venue module, real sockets, real sync) runs in this process; we measure this
process's CPU time over the steady-state window as a percentage of one core and per frame (and
the kernel's part of it), the servers' CPU, the frames per socket read, and check that no gap or
bad frame occurred.

With ``--venues binance,bybit,okx`` the pairs are split evenly between the venues. Binance runs as
above (one tracker per server process); for the other venues the server streams their own frames
(benchmarks/venue_frames.py: an in-band snapshot of every pair on connecting, then in-sequence
diffs of 1-4 levels, OKX with its checksum) on one socket per tracker connection
(``max_pairs_per_connection`` of the venue), and each frame goes to that venue's tracker
(``feed``: the compiled frame path) as it arrives, read by the market-data socket client the live
tracker uses. Those streams start on connecting (no subscribe handshake is simulated).

``--transports aiohttp,lean`` runs the same load once per client, one after another against the
same servers (``--rounds N`` alternates them N times): ``lean`` is ``core/ws_feed.py`` (the
tracker's default), ``aiohttp`` is ``core/ws.py`` (``OrderBookTracker(ws_transport="aiohttp")``).

    python3 benchmarks/bench_tracker_load.py [--pairs 1000] [--rate 10] [--duration 20]
    python3 benchmarks/bench_tracker_load.py --pairs 2000 --venues binance,bybit,okx --transports aiohttp,lean --rounds 4
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))  # the repo, if not installed

from message_path import recorded_depth_frames, recorded_snapshots  # noqa: E402

_IDS = re.compile(r'"U":(\d+),"u":(\d+)')


def symbols(n: int) -> list[str]:
    return [f"P{i:04d}USDT" for i in range(n)]


def _templates() -> tuple[list[str], dict]:
    """Depth frames of the recording's NKNUSDT stream, with placeholders for symbol and ids, and
    a 100-level snapshot book."""
    frames = [f for f in recorded_depth_frames() if '"s":"NKNUSDT"' in f]
    out = []
    for f in frames:
        m = _IDS.search(f)
        span = int(m.group(2)) - int(m.group(1))
        body = f.replace("nknusdt", "{lsym}").replace("NKNUSDT", "{sym}")
        body = _IDS.sub('"U":{U},"u":{u}', body, count=1)
        body = body.replace("{", "{{").replace("}", "}}")
        for k in ("lsym", "sym", "U", "u"):
            body = body.replace("{{" + k + "}}", "{" + k + "}")
        out.append((body, span))
    snap = json.loads(recorded_snapshots()["NKNUSDT"])
    book = {"bids": snap["bids"][:100], "asks": snap["asks"][:100]}
    return out, book


def ws_text_frame(text: str) -> bytes:
    """One final, unmasked (server) WebSocket text frame (RFC 6455 5.2)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class _FrameWriter:
    """The paced streams' sender. Each frame is its own WebSocket message; by default each is also
    its own write to the socket (one TCP segment per frame on loopback: the most a client can be
    asked to read). ``per_write`` > 1 (``--frames-per-write``) puts up to that many consecutive
    frames of one socket in one write, as a venue's send queue or the receiving NIC's coalescing
    does on a real link; the last ones of a 10 ms tick go out at its end, never held longer.
    A client that does not keep up is waited for (4 MiB of unsent data at most)."""

    def __init__(self, request, per_write: int = 1) -> None:
        self.transport = request.transport
        self.per_write = max(1, per_write)
        self._held: list = []

    @property
    def closed(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    async def send(self, text: str) -> None:
        if self.transport.is_closing():  # the client went away (the next run's clients connect afresh)
            raise ConnectionError("client gone")
        if self.per_write == 1:
            self.transport.write(ws_text_frame(text))
        else:
            self._held.append(ws_text_frame(text))
            if len(self._held) < self.per_write:
                return
            self.flush()
        while self.transport.get_write_buffer_size() > 1 << 22 and not self.transport.is_closing():
            await asyncio.sleep(0.005)

    def flush(self) -> None:
        if self._held:
            self.transport.write(b"".join(self._held))
            self._held.clear()


def serve(port_q: "mp.Queue", n_pairs: int, rate: float, stop_evt: "mp.Event", per_write: int = 1) -> None:
    """The server process: REST depth + paced combined stream."""
    from aiohttp import WSMsgType, web

    templates, book = _templates()
    syms = symbols(n_pairs)
    last_id = {s: 1_000_000 for s in syms}
    cursor = {s: i % len(templates) for i, s in enumerate(syms)}

    async def depth(request):
        sym = request.query.get("symbol", "")
        if sym not in last_id:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        return web.json_response({"lastUpdateId": last_id[sym], **book})

    async def stream(request):
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        msg = await ws.receive()
        if msg.type != WSMsgType.TEXT:
            return ws
        sub = json.loads(msg.data)
        mine = sorted({p.split("@")[0].upper() for p in sub["params"]})
        await ws.send_str(json.dumps({"result": None, "id": sub["id"]}))
        out = _FrameWriter(request, per_write)
        tick = 0.01
        per_tick = len(mine) * rate * tick
        owed = 0.0
        i = 0
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        try:
            while not out.closed:
                owed += per_tick
                while owed >= 1.0:
                    owed -= 1.0
                    sym = mine[i % len(mine)]
                    i += 1
                    tpl, span = templates[cursor[sym]]
                    cursor[sym] = (cursor[sym] + 1) % len(templates)
                    U = last_id[sym] + 1
                    u = U + span
                    last_id[sym] = u
                    await out.send(tpl.format(lsym=sym.lower(), sym=sym, U=U, u=u))
                out.flush()
                next_t += tick
                await asyncio.sleep(max(0.0, next_t - loop.time()))
        except (ConnectionError, RuntimeError):
            pass
        return ws

    async def venue_stream(request):
        """Another venue's frames for the pairs named in the query (``pairs=A-USDT,B-USDT``)."""
        import random

        import venue_frames

        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        mine = request.query["pairs"].split(",")
        gen = venue_frames.GENERATORS[request.match_info["venue"]](
            random.Random(len(mine)), pairs=mine, levels=(1, 4), lost=0.0, others=0.0, snapshot_every=0, jump=0.0)
        tick = 0.01
        per_tick = len(mine) * rate * tick
        owed = 0.0
        i = 0
        loop = asyncio.get_running_loop()
        out = _FrameWriter(request, per_write)
        try:
            for f in gen.snapshots():
                await out.send(f)
            next_t = loop.time()
            while not out.closed:
                owed += per_tick
                while owed >= 1.0:
                    owed -= 1.0
                    await out.send(gen.frame(mine[i % len(mine)], False))
                    i += 1
                out.flush()
                next_t += tick
                await asyncio.sleep(max(0.0, next_t - loop.time()))
        except (ConnectionError, RuntimeError):
            pass
        return ws

    async def main():
        app = web.Application()
        app.router.add_get("/api/v3/depth", depth)
        app.router.add_get("/stream", stream)
        app.router.add_get("/venue/{venue}", venue_stream)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_q.put(site._server.sockets[0].getsockname()[1])
        while not stop_evt.is_set():
            await asyncio.sleep(0.2)
        await runner.cleanup()

    asyncio.run(main())


async def _socket_feed(session, url: str, tracker, conn, transport: str) -> None:
    """One socket of a streamed venue, on the transport the live tracker would use for it
    (``OrderBookTracker(ws_transport=...)``: ``lean`` = ``FeedWsConnection``, ``aiohttp`` =
    ``WsConnection``; both ``pump`` every frame to the tracker as it arrives)."""
    from hbconnect.core.ws import WsClosed, WsConnection
    from hbconnect.core.ws_feed import FeedWsConnection

    if transport == "aiohttp":
        ws = await WsConnection(url, session=session, receive_timeout=None, name=url).open()
    else:
        ws = await FeedWsConnection(url, receive_timeout=None, name=url).open()
    _SOCKETS.append(ws)
    feed = tracker.feed
    try:
        await ws.pump(lambda raw: feed(conn, raw))
    except WsClosed:
        pass
    finally:
        await ws.close()


_SOCKETS: list = []  # this run's streamed-venue sockets


def _reads(trackers: dict) -> tuple:
    """(frames, socket reads) of every lean socket open now (None when there is none)."""
    socks = list(_SOCKETS) + [c.runner.connection for t in trackers.values() for c in t.connections
                              if getattr(c, "runner", None) is not None and c.runner.connection is not None]
    socks = [s for s in socks if hasattr(s, "reads")]
    if not socks:
        return None
    return sum(s.frames_received for s in socks), sum(s.reads for s in socks)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


async def track(ports: list, n_pairs: int, duration: float, warmup: float, venues: tuple = ("binance",),
                transport: str = "lean", server_pids: tuple = ()) -> dict:
    import aiohttp

    from hbconnect.exchanges import market_data_venue
    from hbconnect.market.tracker import OrderBookTracker

    all_pairs = [f"{s[:-4]}-USDT" for s in symbols(n_pairs)]
    share = {v: all_pairs[i::len(venues)] for i, v in enumerate(venues)}
    trackers = {}
    tasks = []
    session = aiohttp.ClientSession()
    for name, pairs in share.items():
        if name == "binance":
            # one tracker per server process, each with its share of the pairs
            for k, port in enumerate(ports):
                venue = market_data_venue("binance").with_urls(rest=f"http://127.0.0.1:{port}",
                                                               ws=f"ws://127.0.0.1:{port}")
                mine = pairs[k::len(ports)]
                if mine:
                    trackers[f"binance@{k}"] = t = OrderBookTracker(venue, mine, stale_timeout=30.0,
                                                                    snapshot_concurrency=32, ws_transport=transport)
                    await t.start()
            continue
        # the tracker's frame path over real sockets, driven here (no subscribe handshake)
        trackers[name] = t = OrderBookTracker(market_data_venue(name), pairs, stale_timeout=None,
                                              sync_timeout=None)
        for conn in t.connections:
            t.connection_up(conn)
            port = ports[conn.id % len(ports)]
            url = f"ws://127.0.0.1:{port}/venue/{name}?pairs={','.join(conn.pairs)}"
            tasks.append(asyncio.get_running_loop().create_task(_socket_feed(session, url, t, conn, transport)))
    try:
        t_ready0 = time.monotonic()
        for name, t in trackers.items():
            for task in tasks:  # a socket that could not even start is an error, not a slow sync
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()
            if not await t.wait_ready(120):
                raise SystemExit(f"{name}: not all pairs synced: "
                                 f"{sum(not v for v in t.status_dict().values())} left")
        ready_s = time.monotonic() - t_ready0
        await asyncio.sleep(warmup)
        s0, r0 = [_cpu_seconds(pid) for pid in server_pids], _reads(trackers)
        f0, w0, c0, o0 = sum(t.frames for t in trackers.values()), time.monotonic(), time.process_time(), os.times()
        await asyncio.sleep(duration)
        f1, w1, c1, o1 = sum(t.frames for t in trackers.values()), time.monotonic(), time.process_time(), os.times()
        s1, r1 = [_cpu_seconds(pid) for pid in server_pids], _reads(trackers)
        stats = [s for t in trackers.values() for s in t.stats().values()]
        frames = f1 - f0
        return {
            "transport": transport,
            "pairs": n_pairs,
            "venues": {name: len(p) for name, p in share.items()},
            "servers": len(ports),
            "connections": sum(len(t.connections) for t in trackers.values()),
            "sync_seconds": round(ready_s, 2),
            "window_seconds": round(w1 - w0, 2),
            "frames_per_second": round((f1 - f0) / (w1 - w0), 1),
            "cpu_percent_of_one_core": round((c1 - c0) / (w1 - w0) * 100, 2),
            "cpu_us_per_frame": round((c1 - c0) / max(1, frames) * 1e6, 2),
            "kernel_us_per_frame": round((o1.system - o0.system) / max(1, frames) * 1e6, 2),
            "frames_per_socket_read": (round((r1[0] - r0[0]) / max(1, r1[1] - r0[1]), 2)
                                       if r0 is not None and r1 is not None else None),
            "servers_cpu_percent": [round((b - a) / (w1 - w0) * 100, 1) for a, b in zip(s0, s1)],
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "gaps": sum(s.gaps for s in stats),
            "resyncs": sum(s.resyncs for s in stats),
            "bad_frames": sum(t.bad_frames for t in trackers.values()),
            "checksums_ok": sum(s.checksums_ok for s in stats),
            "compiled_path_diffs": sum(t._fastpath.fast_frames for t in trackers.values() if t._fastpath),
            "all_live": all(t.ready for t in trackers.values()),
        }
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        _SOCKETS.clear()
        for t in trackers.values():
            await t.stop()
        await session.close()


def _line(r: dict) -> str:
    return (f"[{r['transport']}] {r['pairs']} pairs ({', '.join(f'{v} {n}' for v, n in r['venues'].items())}) "
            f"on {r['connections']} connections, {r['servers']} server process(es) "
            f"writing up to {r['server_frames_per_write']} frame(s) per write, "
            f"{r['frames_per_second']:,.0f} frames/s (target {r['target_frames_per_second']:,.0f}): "
            f"tracker process CPU {r['cpu_percent_of_one_core']}% of one core = {r['cpu_us_per_frame']} us/frame "
            f"({r['kernel_us_per_frame']} in the kernel; frames per socket read {r['frames_per_socket_read']}) "
            f"over {r['window_seconds']} s (servers {r['servers_cpu_percent']}% each; load {r['load_average']}); "
            f"gaps {r['gaps']}, resyncs {r['resyncs']}, bad frames {r['bad_frames']}, checksums ok {r['checksums_ok']}, "
            f"diffs on the compiled path {r['compiled_path_diffs']}, all live {r['all_live']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=10.0, help="depth frames per second per pair")
    ap.add_argument("--duration", type=float, default=20.0, help="measured window, seconds")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--uvloop", action="store_true",
                    help="the tracker process runs on uvloop (optional: pip install uvloop)")
    ap.add_argument("--venues", default="binance",
                    help="comma-separated venues sharing the pairs: binance and those of benchmarks/venue_frames.py")
    ap.add_argument("--transports", default="lean",
                    help="comma-separated market-data socket clients, run one after another against the same "
                         "servers: lean (core/ws_feed.py, the default) and/or aiohttp (core/ws.py)")
    ap.add_argument("--rounds", type=int, default=1, help="how many times the --transports sequence runs")
    ap.add_argument("--servers", type=int, default=1,
                    help="server processes (the pairs' sockets spread over them), so that the server is not the limit")
    ap.add_argument("--frames-per-write", type=int, default=1,
                    help="the server writes up to this many consecutive frames of a socket in one write "
                         "(each still its own WebSocket message; default 1: one write, one TCP segment, per frame)")
    args = ap.parse_args()
    venues = tuple(v for v in args.venues.split(",") if v)
    transports = tuple(v for v in args.transports.split(",") if v)
    from venue_frames import GENERATORS

    from hbconnect.market.tracker import WS_TRANSPORTS

    unknown = [v for v in venues if v != "binance" and v not in GENERATORS]
    if unknown or not venues:
        ap.error(f"unknown venues {unknown}; choose from binance, {', '.join(sorted(GENERATORS))}")
    if not transports or any(t not in WS_TRANSPORTS for t in transports):
        ap.error(f"--transports: choose from {', '.join(WS_TRANSPORTS)}")
    ctx = mp.get_context("spawn")
    q, stop = ctx.Queue(), ctx.Event()
    servers = [ctx.Process(target=serve, args=(q, args.pairs, args.rate, stop, args.frames_per_write), daemon=True)
               for _ in range(max(1, args.servers))]
    for server in servers:
        server.start()
    results = []
    try:
        ports = [q.get(timeout=30) for _ in servers]
        if args.uvloop:
            import uvloop

            uvloop.install()
        pids = tuple(p.pid for p in servers)
        for _ in range(max(1, args.rounds)):
            for transport in transports:
                r = asyncio.run(track(ports, args.pairs, args.duration, args.warmup, venues, transport, pids))
                r["target_frames_per_second"] = args.pairs * args.rate
                r["server_frames_per_write"] = args.frames_per_write
                results.append(r)
                if not args.json:
                    print(_line(r), flush=True)
    finally:
        stop.set()
        for server in servers:
            server.join(10)
            if server.is_alive():
                server.terminate()
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
