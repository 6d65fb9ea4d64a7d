"""``hbconnect watch --exchange VENUE --pairs ...``: live top of book of each pair, with its sync
state and counters (base URLs overridable, e.g. to watch the embedded exchange)."""
from __future__ import annotations

import argparse
import asyncio
import math
import sys
from typing import Any, TextIO

from hbconnect.commands._venue_args import (
    ConnectionErrors,
    add_venue_arguments,
    count_arg,
    log_to_stderr,
    seconds_arg,
    venue_and_credentials,
)
from hbconnect.core.loop import run as run_loop


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_venue_arguments(parser)
    parser.add_argument("--depth", type=count_arg, default=1, help="levels per side to show (default 1)")
    parser.add_argument("--interval", type=seconds_arg, default=0.5, help="seconds between refreshes")
    parser.add_argument("--duration", type=seconds_arg, default=None, help="stop after this many seconds")
    parser.add_argument("--timeout", type=seconds_arg, default=30.0,
                        help="exit with status 1 when no book has synced after this many seconds (default 30)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log tracker warnings")
    parser.add_argument("--redis", help="read the books a `hbconnect hub` publishes to this Redis URL "
                                        "instead of connecting to the venue")
    parser.add_argument("--redis-prefix", default="hb", help="with --redis: the hub's key prefix (default hb)")


def render(tracker: Any, pairs: list[str], depth: int, checksums: bool) -> str:
    """One screen: per pair its state, best levels (exact venue text), spread and counters
    (checksum counters when the venue sends checksums)."""
    lines = [f"{tracker.name}: {len(pairs)} pairs, {tracker.frames} frames, bad frames {tracker.bad_frames}, "
             f"ignored frames {tracker.ignored_frames}"]
    for pair in pairs:
        tb = tracker.books[pair]
        st = tb.stats()
        head = f"{pair:<14} {st.state:<9} diffs {st.diffs_applied:<7} gaps {st.gaps:<3} resyncs {st.resyncs:<3}"
        if checksums:
            head += f" checksums {st.checksums_ok}/{st.checksums_failed}"
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
                stale_timeout: float, out: TextIO, timeout: float | None = 30.0,
                errors: TextIO | None = None, redis: str | None = None, redis_prefix: str = "hb",
                credentials: Any = None) -> int:
    """Show the books until ``duration`` is over (or Ctrl-C). Returns 1, saying why on ``errors``,
    when no book has synced within ``timeout`` seconds (or within a shorter ``duration``);
    connection failures are reported there as they happen. ``redis``: the books a hub publishes
    there (same interface, nothing opened towards the venue). ``credentials``: what the venue
    signs its market-data requests with (KuCoin's full book)."""
    errors = errors if errors is not None else sys.stderr
    tty = out.isatty()
    tracker: Any
    if redis:
        from hbconnect.hub.consumer import RemoteBookTracker

        tracker = RemoteBookTracker(redis, venue.name, pairs, prefix=redis_prefix)
    else:
        from hbconnect.market.tracker import OrderBookTracker

        tracker = OrderBookTracker(venue, pairs, stale_timeout=stale_timeout, credentials=credentials)
    failures = ConnectionErrors("watch", errors)
    loop = asyncio.get_running_loop()
    end = None if duration is None else loop.time() + duration
    give_up = None if timeout is None else loop.time() + timeout
    synced = False
    await tracker.start()
    try:
        while end is None or loop.time() < end:
            wake = min(x for x in (end, give_up if not synced else None, loop.time() + interval) if x is not None)
            await asyncio.sleep(max(0.0, wake - loop.time()))
            failures.check(tracker)
            synced = synced or any(tb.snapshots for tb in tracker.books.values())
            over = end is not None and loop.time() >= end
            if not synced and ((give_up is not None and loop.time() >= give_up) or over):
                waited = timeout if give_up is not None and loop.time() >= give_up else duration
                if failures.any:
                    why = "a connection failed (above)"
                elif not tracker.frames and not any(c.up for c in getattr(tracker, "connections", ())):
                    why = "no connection was established yet"
                else:
                    why = f"{tracker.frames} frames received, {tracker.bad_frames} of them bad"
                errors.write(f"hbconnect watch: no book of {', '.join(pairs)} synced within {waited:g} s; "
                             f"{why}\n")
                errors.flush()
                return 1
            screen = render(tracker, pairs, depth, venue.sends_checksum)
            if tty:
                out.write("\x1b[H\x1b[2J" + screen + "\n")
            else:
                out.write(screen + "\n\n")
            out.flush()
    finally:
        await tracker.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    log_to_stderr(args.verbose)
    try:
        venue, credentials = venue_and_credentials(args)
    except ValueError as exc:
        print(f"hbconnect watch: {exc}", file=sys.stderr)
        return 2
    return run_loop(watch(venue, args.pairs, depth=args.depth, interval=args.interval,
                             duration=args.duration, stale_timeout=args.stale_timeout, out=sys.stdout,
                             timeout=args.timeout, redis=args.redis, redis_prefix=args.redis_prefix,
                             credentials=credentials))
