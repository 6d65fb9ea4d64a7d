"""``hbconnect record --exchange VENUE --pairs ... --out FILE [--duration S]``: record a live
market-data session in the replay format (replay it with ``hbconnect replay FILE*``)."""
from __future__ import annotations

import argparse
import sys

from hbconnect.commands._venue_args import ConnectionErrors, add_venue_arguments, log_to_stderr, seconds_arg
from hbconnect.commands._venue_args import venue_and_credentials
from hbconnect.core.loop import run as run_loop


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_venue_arguments(parser)
    parser.add_argument("--out", "-o", required=True, help="output file (extra connections go to FILE.ws.N)")
    parser.add_argument("--duration", "-d", type=seconds_arg, default=None,
                        help="seconds to record (default: until Ctrl-C)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log tracker warnings")


def run(args: argparse.Namespace) -> int:
    from hbconnect.market.record import record_session

    log_to_stderr(args.verbose)
    try:
        venue, credentials = venue_and_credentials(args)
    except ValueError as exc:
        print(f"hbconnect record: {exc}", file=sys.stderr)
        return 2
    pairs = args.pairs
    failures = ConnectionErrors("record")

    async def main() -> tuple:
        return await record_session(venue, pairs, args.out, duration=args.duration, on_tick=failures.check,
                                    tracker_kwargs={"stale_timeout": args.stale_timeout, "credentials": credentials})

    try:
        recorder, tracker = run_loop(main())
    except OSError as exc:
        print(f"hbconnect record: {exc}", file=sys.stderr)
        return 2
    failures.check(tracker)
    print(f"recorded {recorder.frames} frames and {recorder.rest_bodies} REST answers to "
          f"{', '.join(recorder.paths)}")
    for pair in pairs:
        st = tracker.stats(pair)
        print(f"  {pair}: {st.diffs_applied} diffs applied, gaps {st.gaps}, resyncs {st.resyncs}, "
              f"bad frames {st.bad_frames}")
    if not recorder.frames:
        why = "a connection failed (above)" if failures.any else "the venue sent nothing"
        print(f"hbconnect record: no frame recorded; {why}", file=sys.stderr)
        return 1
    return 0
