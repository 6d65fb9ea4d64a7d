"""``hbconnect hub --exchange VENUE --pairs ... --redis redis://...``: keep the books once and publish
them to Redis Streams for any number of ``RemoteBookTracker``s (``hbconnect watch --redis``).

Live, the hub tracks the pairs whose leases it holds (run several hubs with the same pairs: they
share them and take over each other's). ``--replay FILE...`` publishes a recorded session
instead (offline: tests, benchmarks, demos); ``--speed`` paces it in recorded time."""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any, Optional, TextIO


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exchange", "-e", required=True, help="venue registry id (e.g. binance)")
    parser.add_argument("--pairs", "-p", help="comma-separated pairs (with --replay: default all recorded)")
    parser.add_argument("--redis", required=True, help="Redis URL, e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("--replay", nargs="+", metavar="FILE", help="publish these recorded session files")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="with --replay: 1 = recorded time, 2 = twice as fast, 0 = as fast as possible")
    parser.add_argument("--prefix", default="hb", help="Redis key prefix (default hb)")
    parser.add_argument("--maxlen", type=int, default=10_000, help="entries kept per pair stream (MAXLEN ~)")
    parser.add_argument("--lease-ttl", type=float, default=3.0, help="seconds a dead hub keeps its pairs")
    parser.add_argument("--snapshot-interval", type=float, default=1.0, help="seconds between stored snapshots")
    parser.add_argument("--hub-id", help="this hub's id (default: random)")
    parser.add_argument("--no-rebalance", action="store_true",
                        help="keep the pairs this hub holds when other hubs join (no handovers)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--rest-url", help="override the venue's REST base URL (e.g. the embedded exchange)")
    parser.add_argument("--ws-url", help="override the venue's websocket base URL")
    parser.add_argument("--stale-timeout", type=float, default=60.0,
                        help="live: resubscribe a pair after this many seconds without a book message")
    parser.add_argument("--status-interval", type=float, default=5.0, help="seconds between status lines")
    parser.add_argument("-v", "--verbose", action="store_true", help="log hub and tracker warnings")


def status_line(hub: Any) -> str:
    return (f"hub {hub.hub_id}: {len(hub.owned)} pairs owned of {len(hub.plan.pairs)}, hubs {len(hub.hubs)}, "
            f"entries {hub.entries}, batches {hub.batches}, snapshots {hub.snapshots_written}, "
            f"leases +{hub.leases_acquired}/-{hub.leases_lost}, write errors {hub.write_errors}")


async def run_hub(args: argparse.Namespace, venue: Any, pairs: Optional[list[str]], out: TextIO) -> int:
    from hbconnect.hub.publisher import BookHub

    hub = BookHub(args.redis, venue.name, pairs or (), prefix=args.prefix, maxlen=args.maxlen,
                  lease_ttl=args.lease_ttl, snapshot_interval=args.snapshot_interval, hub_id=args.hub_id,
                  rebalance=not args.no_rebalance)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    if args.duration is not None:
        loop.call_later(args.duration, stop.set)

    async def report() -> None:
        while True:
            await asyncio.sleep(args.status_interval)
            out.write(status_line(hub) + "\n")
            out.flush()

    reporter = loop.create_task(report())
    try:
        if args.replay:
            from hbconnect.market.replay import load_session

            session = load_session(args.replay)
            work = loop.create_task(hub.replay(session, venue, pairs, speed=max(0.0, args.speed)))
            done, _ = await asyncio.wait([work, loop.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
            if work in done:
                work.result()
                out.write(f"replay published; serving until stopped. {status_line(hub)}\n")
                out.flush()
                await stop.wait()
            else:
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
        else:
            await hub.start(venue, stale_timeout=args.stale_timeout)
            await stop.wait()
    finally:
        reporter.cancel()
        await hub.stop()
        out.write(status_line(hub) + "\n")
        out.flush()
    return 0


def run(args: argparse.Namespace) -> int:
    from hbconnect.commands._venue_args import log_to_stderr, pairs_arg, venue_from_args

    log_to_stderr(args.verbose)

    try:
        venue = venue_from_args(args)
        pairs = pairs_arg(args.pairs) if args.pairs else None
        if pairs is None and not args.replay:
            raise ValueError("--pairs is required without --replay")
        import hbconnect.hub.redis_client as rc

        rc.client_module()  # the optional dependency, checked before anything starts
    except (KeyError, ValueError, ImportError) as exc:
        print(f"hbconnect hub: {exc}", file=sys.stderr)
        return 2
    from hbconnect.core.loop import run as run_loop

    return run_loop(run_hub(args, venue, pairs, sys.stdout))
