"""hbconnect replay FILE [FILE...] --exchange VENUE [--json]: replay recorded sessions through the
real tracker and venue code and report per pair.

Exit status 2 when a file cannot be read; 1, saying why on stderr, when the files hold no frame, when the recording does not look
like the chosen venue (with the venue it looks like), or when no book ever synced.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any, Optional
from urllib.parse import urlsplit

from hbconnect.commands._venue_args import count_arg, pairs_arg, seconds_arg, venue_arg, venue_ids

#: frames per venue parsed when guessing which venue a recording comes from
PROBE_FRAMES = 300


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="recording files (merged into one timeline)")
    parser.add_argument("--exchange", "-e", required=True, type=venue_arg, metavar="VENUE",
                        help=f"venue registry id, one of: {venue_ids()}")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--pairs", type=pairs_arg,
                        help="comma-separated pairs (default: the configuration line, else the frames)")
    parser.add_argument("--stale-timeout", type=seconds_arg, default=None,
                        help="flag pairs with no book message for this many recorded seconds")
    parser.add_argument("--reuse-rest", action="store_true",
                        help="answer repeated snapshot requests with the last recorded body")
    parser.add_argument("--depth", type=count_arg, default=5, help="levels per side to print (default 5)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    parser.add_argument("-v", "--verbose", action="store_true", help="log warnings (gaps, bad frames...)")


def _url_parts(url: str) -> Optional[tuple[str, str]]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return (parts.hostname, parts.path.rstrip("/")) if parts.hostname else None


def _venue_urls(venue: Any) -> tuple[set[tuple[str, str]], set[str]]:
    """(host, path) of the websocket URL ``venue`` connects to, and the hosts of all its URLs
    (websocket, snapshot and token requests)."""
    ws: set[tuple[str, str]] = set()
    hosts: set[str] = set()
    for kind, get in (("ws", lambda: venue.ws_endpoint(None).url),
                      ("rest", lambda: venue.snapshot_request("BTC-USDT").url),
                      ("rest", lambda: venue.connect_request().url)):
        try:
            parts = _url_parts(get())
        except Exception:  # a venue that needs a token body, has no REST snapshot...: no such URL
            continue
        if parts is not None:
            hosts.add(parts[0])
            if kind == "ws":
                ws.add(parts)
    return ws, hosts


def _book_frames(venue: Any, frames: list, session: Any) -> int:
    """How many of ``frames`` the venue module, told the recording's instruments, translates
    into book messages."""
    from hbconnect.market.messages import BookDiff, BookSnapshot
    from hbconnect.market.replay import prime_symbols

    prime_symbols(venue, session)
    n = 0
    for rec in frames:
        try:
            events = venue.parse_message(rec.data)
        except Exception:
            continue
        if any(isinstance(ev, (BookDiff, BookSnapshot)) for ev in events):
            n += 1
    return n


def recording_venues(session: Any) -> tuple[list[str], str]:
    """The registry ids a recording looks like, best first, and the evidence.

    The recorded URLs decide (the same websocket host and path, else a same host): every venue
    they leave whose module turns some of the first frames into book messages (one socket may
    carry spot and perpetual instruments). When no URL is a venue's (the embedded exchange, a
    file of frames only), the frames decide: the venues whose modules turn the most of them into
    book messages, down to half the best count."""
    from hbconnect.exchanges import VENUES, market_data_venue
    from hbconnect.market.replay import OPEN

    recorded_ws = {p for p in map(_url_parts, [r.url for r in session.records if r.kind == OPEN and r.url])
                   if p is not None}
    recorded_rest = {p for p in map(_url_parts, [r.url for r in session.rest]) if p is not None}
    hosts = {h for h, _ in recorded_ws | recorded_rest}
    levels: dict[str, int] = {}
    for vid in VENUES:
        ws, venue_hosts = _venue_urls(market_data_venue(vid))
        levels[vid] = 2 if ws & recorded_ws else 1 if venue_hosts & hosts else 0
    best = max(levels.values(), default=0)
    candidates = [v for v in VENUES if levels[v] == best]
    evidence = f"its URLs are those of {', '.join(candidates)}" if best else ""
    frames = session.frames[:PROBE_FRAMES]
    scores = {vid: _book_frames(market_data_venue(vid), frames, session) for vid in candidates}
    top = max(scores.values(), default=0)
    if best:
        kept = [v for v in candidates if scores[v] > 0] or candidates
    else:
        kept = [v for v in candidates if top and scores[v] * 2 >= top]
        evidence = f"its frames parse as book messages of {', '.join(kept)}"
    return sorted(kept, key=lambda v: -scores[v]), evidence


def run(args: argparse.Namespace) -> int:
    from hbconnect.exchanges import market_data_venue
    from hbconnect.market.replay import (
        configured_names,
        format_report,
        is_perpetual,
        load_session,
        map_configured_names,
        pair_report,
        progress_stream,
        replay,
    )

    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")

    def fail(text: str) -> int:
        print(f"hbconnect replay: {text}", file=sys.stderr)
        return 1

    venue = market_data_venue(args.exchange)
    try:
        session = load_session(args.files)
    except OSError as exc:  # a FILE argument that cannot be read: a usage error
        print(f"hbconnect replay: {exc}", file=sys.stderr)
        return 2
    if not session.frames:
        return fail(f"no recorded frame in {', '.join(args.files)}: not a recording in the replay format")
    looks_like, evidence = recording_venues(session)
    if looks_like and args.exchange not in looks_like:
        return fail(f"the recording does not look like {args.exchange}: {evidence}; "
                    f"did you mean --exchange {looks_like[0]}?")
    pairs = args.pairs
    unmapped: dict[str, str] = {}
    if pairs is None:
        names = configured_names(session.configuration)
        mapped, unmapped = map_configured_names(names, is_perpetual(venue))
        for name, why in unmapped.items():
            print(f"hbconnect replay: configuration name {name} not replayed: {why}", file=sys.stderr)
        pairs = mapped or None  # None: the pairs of the recorded book messages
    progress = None
    if not args.no_progress and not args.json and len(session.records) > 20_000:
        progress = progress_stream()
    result = replay(args.files, venue, pairs=pairs, session=session, stale_timeout=args.stale_timeout,
                    reuse_rest=args.reuse_rest, progress=progress)
    if args.depth != 5:
        result.pairs = {p: pair_report(result.tracker.books[p], args.depth) for p in result.pairs}
    if args.json:
        doc = result.to_dict()
        doc["configuration_names_not_replayed"] = unmapped  # name -> why
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_report(result))
    if not any(r["snapshots"] for r in result.pairs.values()):
        hint = ""
        if not looks_like:
            hint = " (the recording looks like no venue of the registry)"
        return fail(f"no book of {', '.join(result.pairs) or 'any pair'} ever synced: "
                    f"{result.frames} frames, {result.bad_frames} bad, {result.ignored_frames} ignored, "
                    f"{result.unanswered_snapshots} snapshot requests the recording does not answer{hint}")
    return 0
