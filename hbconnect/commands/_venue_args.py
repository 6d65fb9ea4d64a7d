"""Shared options of the live market-data commands (watch, record)."""
from __future__ import annotations

import argparse
from typing import Any


def add_venue_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exchange", "-e", required=True, help="venue registry id (e.g. binance)")
    parser.add_argument("--pairs", "-p", required=True, help="comma-separated pairs, e.g. BTC-USDT,ETH-USDT")
    parser.add_argument("--rest-url", help="override the venue's REST base URL (e.g. the embedded exchange)")
    parser.add_argument("--ws-url", help="override the venue's websocket base URL")
    parser.add_argument("--stale-timeout", type=float, default=60.0,
                        help="resubscribe a pair after this many seconds without a book message (default 60)")


def pairs_arg(text: str) -> list[str]:
    pairs = [p.strip().upper() for p in text.split(",") if p.strip()]
    if not pairs:
        raise ValueError("no pairs given")
    return pairs


def venue_from_args(args: argparse.Namespace) -> Any:
    """The venue object, with base URLs overridden when asked."""
    from hbconnect.exchanges import market_data_venue

    venue = market_data_venue(args.exchange)
    if args.rest_url or args.ws_url:
        try:
            venue = venue.with_urls(rest=args.rest_url, ws=args.ws_url)
        except NotImplementedError:
            raise ValueError(f"{args.exchange} does not support URL overrides") from None
    return venue
