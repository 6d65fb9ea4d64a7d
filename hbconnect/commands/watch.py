"""``hbconnect watch --exchange VENUE --pairs ...``: live top of book of each pair, with its sync
state and counters (base URLs overridable, e.g. to watch the embedded exchange)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
from typing import Any, TextIO

from hbconnect.commands._venue_args import add_venue_arguments, pairs_arg, venue_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_venue_arguments(parser)
    parser.add_argument("--depth", type=int, default=1, help="levels per side to show (default 1)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between refreshes")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("-v", "--verbose", action="store_true", help="log tracker warnings")
    parser.add_argument("--redis", help="read the books a `hbconnect hub` publishes to this Redis URL "
                                        "instead of connecting to the venue")
    parser.add_argument("--redis-prefix", default="hb", help="with --redis: the hub's key prefix (default hb)")


def render(tracker: Any, pairs: list[str], depth: int) -> str:
    """One screen: per pair its state, best levels (exact venue text), spread and counters."""
    lines = [f"{tracker.name}: {len(pairs)} pairs, {tracker.frames} frames, bad frames {tracker.bad_frames}"]
    for pair in pairs:
        tb = tracker.books[pair]
        st = tb.stats()
        head = (f"{pair:<14} {st.state:<9} diffs {st.diffs_applied:<7} gaps {st.gaps:<3} resyncs {st.resyncs:<3}"
                f" checksums {st.checksums_ok}/{st.checksums_failed}")
        trade = tb.last_trade
        if trade is not None:
            head += f"  last {trade.side} {trade.amount} @ {trade.price}"
        lines.append(head)
        if st.state != "live":
            lines.append("    (syncing)")
            continue
        bids = tb.book.bids_text(depth)
        asks = tb.book.asks_text(depth)
        for i in range(max(len(bids), len(asks))):
            b = bids[i] if i < len(bids) else ("", "")
            a = asks[i] if i < len(asks) else ("", "")
            lines.append(f"    {b[1]:>18} {b[0]:>16} | {a[0]:<16} {a[1]:<18}")
        spread = tb.book.spread if hasattr(tb.book, "spread") else float("nan")
        if isinstance(spread, float) and not math.isnan(spread):
            lines.append(f"    spread {spread:.10g}")
    return "\n".join(lines)


async def watch(venue: Any, pairs: list[str], *, depth: int, interval: float, duration: float | None,
                stale_timeout: float, out: TextIO, redis: str | None = None, redis_prefix: str = "hb") -> int:
    tty = out.isatty()
    tracker: Any
    if redis:  # the books of a hub: same interface, nothing opened towards the venue
        from hbconnect.hub.consumer import RemoteBookTracker

        tracker = RemoteBookTracker(redis, venue.name, pairs, prefix=redis_prefix)
    else:
        from hbconnect.market.tracker import OrderBookTracker

        tracker = OrderBookTracker(venue, pairs, stale_timeout=stale_timeout)
    loop = asyncio.get_running_loop()
    end = None if duration is None else loop.time() + duration
    await tracker.start()
    try:
        while end is None or loop.time() < end:
            await asyncio.sleep(interval if end is None else max(0.0, min(interval, end - loop.time())))
            screen = render(tracker, pairs, depth)
            if tty:
                out.write("\x1b[H\x1b[2J" + screen + "\n")
            else:
                out.write(screen + "\n\n")
            out.flush()
    finally:
        await tracker.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        venue = venue_from_args(args)
        pairs = pairs_arg(args.pairs)
    except (KeyError, ValueError, ImportError) as exc:
        print(f"hbconnect watch: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(watch(venue, pairs, depth=max(1, args.depth), interval=args.interval,
                             duration=args.duration, stale_timeout=args.stale_timeout, out=sys.stdout,
                             redis=getattr(args, "redis", None), redis_prefix=getattr(args, "redis_prefix", "hb")))
