"""The market-data socket clients alone: CPU per frame read, with a consumer that only counts.

The server process of ``bench_tracker_load.py`` streams Bybit frames (``--pairs`` pairs at
``--rate`` frames/s each, ``--pairs-per-socket`` per socket, each frame its own WebSocket message
and its own write); this process reads them with each client in turn, ``--rounds`` times, and
reports its CPU time per frame over ``--duration`` seconds:

* ``aiohttp``: ``hbconnect.core.ws.WsConnection.pump`` (aiohttp's reader)
* ``lean``: ``hbconnect.core.ws_feed.FeedWsConnection.pump`` (the tracker's default)
* ``picows``: picows' Cython client (``pip install picows``; skipped when not installed), each
  text frame decoded to ``str`` as the others hand it over

    python3 benchmarks/bench_ws_read.py [--pairs 2000] [--rounds 3] [--uvloop]
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))

from bench_tracker_load import serve  # noqa: E402


async def _aiohttp(url: str, count) -> tuple:
    from hbconnect.core.ws import WsConnection

    ws = await WsConnection(url, receive_timeout=None).open()
    return ws, ws.pump(count), ws.close


async def _lean(url: str, count) -> tuple:
    from hbconnect.core.ws_feed import FeedWsConnection

    ws = await FeedWsConnection(url, receive_timeout=None).open()
    return ws, ws.pump(count), ws.close


async def _picows(url: str, count) -> tuple:
    from picows import WSListener, WSMsgType, ws_connect

    class Listener(WSListener):
        def on_ws_frame(self, transport, frame) -> None:
            if frame.msg_type == WSMsgType.TEXT:
                count(frame.get_payload_as_utf8_text())
            elif frame.msg_type == WSMsgType.CLOSE:
                transport.disconnect()

    transport, _ = await ws_connect(Listener, url)

    async def close() -> None:
        transport.disconnect()

    return transport, transport.wait_disconnected(), close


CLIENTS = {"aiohttp": _aiohttp, "lean": _lean, "picows": _picows}


async def run(client: str, port: int, pairs: int, per_socket: int, duration: float, warmup: float) -> float:
    names = [f"P{i:04d}-USDT" for i in range(pairs)]
    n = [0]

    def count(frame) -> None:
        n[0] += 1

    opened, tasks = [], []
    for i in range(0, pairs, per_socket):
        url = f"ws://127.0.0.1:{port}/venue/bybit?pairs={','.join(names[i:i + per_socket])}"
        ws, reading, close = await CLIENTS[client](url, count)
        opened.append(close)
        tasks.append(asyncio.ensure_future(reading))
    try:
        await asyncio.sleep(warmup)
        f0, c0, w0 = n[0], time.process_time(), time.monotonic()
        await asyncio.sleep(duration)
        f1, c1, w1 = n[0], time.process_time(), time.monotonic()
    finally:
        for close in opened:
            await close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    frames = f1 - f0
    print(f"  {client:8s} {frames / (w1 - w0):9,.0f} frames/s  {(c1 - c0) / max(1, frames) * 1e6:6.2f} us/frame "
          f"(load {', '.join(f'{x:.2f}' for x in os.getloadavg())})", flush=True)
    return (c1 - c0) / max(1, frames) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--pairs-per-socket", type=int, default=50)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", default="aiohttp,lean,picows")
    ap.add_argument("--uvloop", action="store_true")
    args = ap.parse_args()
    clients = [c for c in args.clients.split(",") if c]
    if "picows" in clients:
        try:
            import picows  # noqa: F401
        except ImportError:
            print("picows: not installed (pip install picows)")
            clients.remove("picows")
    ctx = mp.get_context("spawn")
    q, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve, args=(q, args.pairs, args.rate, stop), daemon=True)
    server.start()
    results: dict = {c: [] for c in clients}
    try:
        port = q.get(timeout=30)
        if args.uvloop:
            import uvloop

            uvloop.install()
        print(f"{args.pairs} pairs x {args.rate:g} frames/s, {args.pairs_per_socket} pairs per socket, "
              f"{'uvloop' if args.uvloop else 'asyncio'}; CPU of this process per frame read")
        for _ in range(args.rounds):
            for c in clients:
                results[c].append(asyncio.run(run(c, port, args.pairs, args.pairs_per_socket,
                                                  args.duration, args.warmup)))
    finally:
        stop.set()
        server.join(10)
        if server.is_alive():
            server.terminate()
    for c, v in results.items():
        print(f"{c:8s} median {statistics.median(v):6.2f} us/frame over {len(v)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
