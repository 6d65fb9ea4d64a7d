"""Argument types and options shared by the subcommands, and the report of connection errors of
the live market-data commands (watch, record).

Bad values are argparse usage errors (exit status 2, one line, no traceback).
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Optional, TextIO

from hbconnect.exchanges import VENUES, canonical_name


def venue_ids() -> str:
    """The registry ids, for help texts."""
    return ", ".join(VENUES)


def venue_arg(text: str) -> str:
    """A registry id (aliases and any case allowed) -> the registry id."""
    try:
        return canonical_name(text)
    except KeyError:
        raise argparse.ArgumentTypeError(f"unknown venue {text!r}; known: {venue_ids()}") from None


def pair_arg(text: str) -> str:
    """One trading pair, BASE-QUOTE (any case) -> "BASE-QUOTE" in upper case."""
    base, sep, quote = text.strip().upper().partition("-")
    if not sep or not base or not quote or "-" in quote or not (base + quote).isalnum():
        raise argparse.ArgumentTypeError(f"pair must look like BASE-QUOTE (e.g. BTC-USDT), got {text!r}")
    return f"{base}-{quote}"


def pairs_arg(text: str) -> list[str]:
    """Comma-separated pairs -> their list (duplicates removed, order kept)."""
    pairs = [pair_arg(p) for p in text.split(",") if p.strip()]
    if not pairs:
        raise argparse.ArgumentTypeError("no pairs given (e.g. BTC-USDT,ETH-USDT)")
    return list(dict.fromkeys(pairs))


def seconds_arg(text: str) -> float:
    """A duration in seconds, finite and above zero."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def count_arg(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def add_venue_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exchange", "-e", required=True, type=venue_arg, metavar="VENUE",
                        help=f"venue registry id, one of: {venue_ids()}")
    parser.add_argument("--pairs", "-p", required=True, type=pairs_arg,
                        help="comma-separated pairs, e.g. BTC-USDT,ETH-USDT")
    parser.add_argument("--rest-url", help="override the venue's REST base URL (e.g. the embedded exchange)")
    parser.add_argument("--ws-url", help="override the venue's websocket base URL")
    parser.add_argument("--stale-timeout", type=seconds_arg, default=60.0,
                        help="resubscribe a pair after this many seconds without a book message (default 60)")


def venue_from_args(args: argparse.Namespace) -> Any:
    """The venue object, with base URLs overridden when asked (ValueError when the venue cannot)."""
    from hbconnect.exchanges import market_data_venue

    venue = market_data_venue(args.exchange)
    if args.rest_url or args.ws_url:
        try:
            venue = venue.with_urls(rest=args.rest_url, ws=args.ws_url)
        except NotImplementedError:
            raise ValueError(f"{args.exchange} does not support --rest-url/--ws-url") from None
    return venue


class ConnectionErrors:
    """Prints each distinct connection failure of a live tracker (its sockets, its pairs' snapshot
    requests) once, on ``out`` (stderr), with the venue and the URL it tried; ``check(tracker)``
    is called on every refresh."""

    def __init__(self, command: str, out: Optional[TextIO] = None) -> None:
        self.command = command
        self.out = out if out is not None else sys.stderr
        self.shown: set[str] = set()
        self.limit = 100  # distinct messages shown at most (a flapping venue cannot flood stderr)

    def check(self, tracker: Any) -> None:
        for conn in getattr(tracker, "connections", ()):  # a tracker without sockets has none
            text = getattr(conn, "last_error", "")
            own = f"{tracker.name}#{conn.id}: "  # the socket's name, said once below
            text = text[len(own):] if text.startswith(own) else text
            where = f" ({conn.url})" if conn.url and conn.url not in text else ""
            self._show(text, f"{tracker.name}: connection failed{where}: {text}")
        for tb in getattr(tracker, "books", {}).values():  # REST snapshots of the pairs
            text = getattr(tb, "last_error", "")
            self._show(text, f"{tracker.name} {tb.pair}: {text}")

    def _show(self, key: str, line: str) -> None:
        if key and key not in self.shown and len(self.shown) < self.limit:
            self.shown.add(key)
            self.out.write(f"hbconnect {self.command}: {line}; retrying\n")
            self.out.flush()

    @property
    def any(self) -> bool:
        return bool(self.shown)
