"""``hbconnect replay FILE [FILE...] --exchange VENUE [--json]``: replay recorded sessions through
the real tracker and venue code and report per pair."""
from __future__ import annotations

import argparse
import json
import logging
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="recording files (merged into one timeline)")
    parser.add_argument("--exchange", "-e", required=True, help="venue registry id (e.g. binance, kraken, htx)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--pairs", help="comma-separated pairs (default: the configuration line or the frames)")
    parser.add_argument("--stale-timeout", type=float, default=None,
                        help="flag pairs with no book message for this many recorded seconds")
    parser.add_argument("--reuse-rest", action="store_true",
                        help="answer repeated snapshot requests with the last recorded body")
    parser.add_argument("--depth", type=int, default=5, help="levels per side to print (default 5)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    parser.add_argument("-v", "--verbose", action="store_true", help="log warnings (gaps, bad frames...)")


def run(args: argparse.Namespace) -> int:
    from hbconnect.exchanges import market_data_venue
    from hbconnect.market.replay import format_report, load_session, pair_report, progress_stream, replay

    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        venue = market_data_venue(args.exchange)
    except (KeyError, ImportError, AttributeError) as exc:
        print(f"hbconnect replay: {exc}", file=sys.stderr)
        return 2
    try:
        session = load_session(args.files)
    except OSError as exc:
        print(f"hbconnect replay: {exc}", file=sys.stderr)
        return 2
    pairs = [p.strip() for p in args.pairs.split(",") if p.strip()] if args.pairs else None
    progress = None
    if not args.no_progress and not args.json and len(session.records) > 20_000:
        progress = progress_stream()
    result = replay(args.files, venue, pairs=pairs, session=session, stale_timeout=args.stale_timeout,
                    reuse_rest=args.reuse_rest, progress=progress)
    if args.depth != 5:
        result.pairs = {p: pair_report(result.tracker.books[p], args.depth) for p in result.pairs}
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_report(result))
    return 0
