"""Load benchmark: 1,000 pairs at 10 depth frames/s each, tracked in one process.

A local server (a separate process, so that its CPU is not counted) speaks Binance's public
protocol on 127.0.0.1: REST depth snapshots and the combined stream with SUBSCRIBE. It paces
depthUpdate frames (recorded Binance frames, re-targeted to synthetic symbols, with contiguous
``U``/``u`` ids) at ``--rate`` frames/s per pair. The tracker (real venue module, real sockets,
real sync) runs in this process; we measure this process's CPU time over the steady-state window
as a percentage of one core, and check that no gap or bad frame occurred.

    python3 benchmarks/bench_tracker_load.py [--pairs 1000] [--rate 10] [--duration 20]
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


def serve(port_q: "mp.Queue", n_pairs: int, rate: float, stop_evt: "mp.Event") -> None:
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
        tick = 0.01
        per_tick = len(mine) * rate * tick
        owed = 0.0
        i = 0
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        try:
            while not ws.closed:
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
                    await ws.send_str(tpl.format(lsym=sym.lower(), sym=sym, U=U, u=u))
                next_t += tick
                await asyncio.sleep(max(0.0, next_t - loop.time()))
        except (ConnectionError, RuntimeError):
            pass
        return ws

    async def main():
        app = web.Application()
        app.router.add_get("/api/v3/depth", depth)
        app.router.add_get("/stream", stream)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_q.put(site._server.sockets[0].getsockname()[1])
        while not stop_evt.is_set():
            await asyncio.sleep(0.2)
        await runner.cleanup()

    asyncio.run(main())


async def track(port: int, n_pairs: int, duration: float, warmup: float) -> dict:
    from hbconnect.exchanges import market_data_venue
    from hbconnect.market.tracker import OrderBookTracker

    venue = market_data_venue("binance").with_urls(rest=f"http://127.0.0.1:{port}", ws=f"ws://127.0.0.1:{port}")
    pairs = [f"{s[:-4]}-USDT" for s in symbols(n_pairs)]
    tracker = OrderBookTracker(venue, pairs, stale_timeout=30.0, snapshot_concurrency=32)
    await tracker.start()
    try:
        t_ready0 = time.monotonic()
        if not await tracker.wait_ready(120):
            raise SystemExit(f"not all pairs synced: {sum(not v for v in tracker.status_dict().values())} left")
        ready_s = time.monotonic() - t_ready0
        await asyncio.sleep(warmup)
        f0, w0, c0 = tracker.frames, time.monotonic(), time.process_time()
        await asyncio.sleep(duration)
        f1, w1, c1 = tracker.frames, time.monotonic(), time.process_time()
        stats = tracker.stats()
        return {
            "pairs": n_pairs,
            "connections": len(tracker.connections),
            "sync_seconds": round(ready_s, 2),
            "window_seconds": round(w1 - w0, 2),
            "frames_per_second": round((f1 - f0) / (w1 - w0), 1),
            "cpu_percent_of_one_core": round((c1 - c0) / (w1 - w0) * 100, 2),
            "gaps": sum(s.gaps for s in stats.values()),
            "resyncs": sum(s.resyncs for s in stats.values()),
            "bad_frames": tracker.bad_frames,
            "all_live": tracker.ready,
        }
    finally:
        await tracker.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=10.0, help="depth frames per second per pair")
    ap.add_argument("--duration", type=float, default=20.0, help="measured window, seconds")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    q, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve, args=(q, args.pairs, args.rate, stop), daemon=True)
    server.start()
    try:
        port = q.get(timeout=30)
        result = asyncio.run(track(port, args.pairs, args.duration, args.warmup))
    finally:
        stop.set()
        server.join(10)
        if server.is_alive():
            server.terminate()
    result["target_frames_per_second"] = args.pairs * args.rate
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['pairs']} pairs on {result['connections']} connections, "
              f"{result['frames_per_second']:,.0f} frames/s (target {result['target_frames_per_second']:,.0f}): "
              f"tracker process CPU {result['cpu_percent_of_one_core']}% of one core over "
              f"{result['window_seconds']} s; gaps {result['gaps']}, resyncs {result['resyncs']}, "
              f"bad frames {result['bad_frames']}, all live {result['all_live']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
