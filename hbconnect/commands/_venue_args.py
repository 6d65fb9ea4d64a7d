"""Argument types and options shared by the subcommands, their logging set-up (``-v``), and the
report of connection errors of the live market-data commands (watch, record).

Bad values are argparse usage errors (exit status 2, one line, no traceback).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from typing import Any, Mapping, Optional, TextIO

from hbconnect.exchanges import VENUES, canonical_name


def log_to_stderr(verbose: bool) -> None:
    """The market-data commands' logging: errors only on stderr, INFO too with ``-v``."""
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


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
    parser.add_argument("--credentials", metavar="FILE",
                        help="API key for venues whose market data signs requests (KuCoin: the full "
                             "book instead of the public 100 levels): a JSON file {\"api_key\": ..., "
                             "\"secret\": ..., \"passphrase\": ...}; by default read from the "
                             "environment, HBCONNECT_<VENUE>_API_KEY, _SECRET and _PASSPHRASE "
                             "(e.g. HBCONNECT_KUCOIN_API_KEY)")


def venue_from_args(args: argparse.Namespace, exchange: Optional[str] = None) -> Any:
    """The venue object (``exchange``, default ``args.exchange``), with base URLs overridden when
    asked (ValueError when the venue cannot)."""
    from hbconnect.exchanges import market_data_venue

    exchange = exchange or args.exchange
    venue = market_data_venue(exchange)
    if args.rest_url or args.ws_url:
        try:
            venue = venue.with_urls(rest=args.rest_url, ws=args.ws_url)
        except NotImplementedError:
            raise ValueError(f"{exchange} does not support --rest-url/--ws-url") from None
    return venue


#: ``Credentials`` field -> suffix of its environment variable and key in a credentials file
_FIELDS = {"api_key": "API_KEY", "secret": "SECRET", "passphrase": "PASSPHRASE"}


def env_names(exchange: str) -> dict[str, str]:
    """``Credentials`` field -> the environment variable it is read from for ``exchange``
    (``HBCONNECT_KUCOIN_API_KEY``...: one set per venue package, its variants share it)."""
    prefix = f"HBCONNECT_{VENUES[exchange].upper()}_"
    return {field: prefix + suffix for field, suffix in _FIELDS.items()}


def _credentials_file(path: str) -> dict[str, str]:
    """The fields of a credentials file; ValueError saying what is wrong, never what it holds."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise ValueError(f"--credentials: cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"--credentials: {path} is not a JSON object of api_key, secret, passphrase") from None
    if type(data) is not dict:
        raise ValueError(f"--credentials: {path} is not a JSON object of api_key, secret, passphrase")
    unknown = sorted(str(k) for k in data if k not in _FIELDS)
    if unknown:
        raise ValueError(f"--credentials: {path}: unknown field(s) {', '.join(unknown)[:80]} "
                         f"(expected {', '.join(_FIELDS)})")
    bad = sorted(k for k, v in data.items() if type(v) is not str)
    if bad:
        raise ValueError(f"--credentials: {path}: {', '.join(bad)} must be text")
    return {k: v for k, v in data.items() if v}


def venue_and_credentials(args: argparse.Namespace,
                          environ: Optional[Mapping[str, str]] = None) -> tuple[Any, Any]:
    """The venue (as :func:`venue_from_args`) and the ``Credentials`` its market data signs with,
    or None. Credentials come from ``--credentials FILE``, else from the venue's environment
    variables (:func:`env_names`); given credentials switch a venue to its signed variant
    (``kucoin`` -> ``kucoin_full_book``). ValueError (a usage error) when they are incomplete,
    when a venue needs them and has none, or when ``--credentials`` is given for a venue whose
    market data signs nothing. Messages name files, fields and variables, never values; the
    values are registered for redaction (``hbconnect.core.errors.register_secret``)."""
    from hbconnect.core.credentials import Credentials
    from hbconnect.core.errors import register_secret
    from hbconnect.exchanges import market_data_venue

    environ = os.environ if environ is None else environ
    exchange = args.exchange
    plain = market_data_venue(exchange)
    signing = market_data_venue(plain.signed_variant) if plain.signed_variant else plain
    path = getattr(args, "credentials", None)
    names = env_names(exchange)
    if path:
        given, where = _credentials_file(path), f"--credentials {path}"
        if not signing.credential_fields:
            raise ValueError(f"{exchange} market data signs no request: --credentials is not used "
                             f"(venues that take one: {', '.join(_signing_venues())})")
    elif signing.credential_fields:
        given = {f: environ[names[f]] for f in signing.credential_fields if environ.get(names[f])}
        where = "the environment"
    else:
        given, where = {}, ""
    if given:
        missing = [f for f in signing.credential_fields if f not in given]
        if missing:
            need = " and ".join(names[f] if not path else f'"{f}"' for f in missing)
            raise ValueError(f"incomplete {exchange} credentials in {where}: {need} missing "
                             f"(it signs with {', '.join(signing.credential_fields)})")
        exchange = plain.signed_variant or exchange
        credentials = Credentials(given.get("api_key", ""), given.get("secret", ""), given.get("passphrase"))
        for value in credentials.secret_values():
            register_secret(value)  # the command runs until the process ends
    else:
        credentials = None
        if plain.requires_credentials:
            raise ValueError(f"{exchange} needs an API key: set {', '.join(names[f] for f in plain.credential_fields)} "
                             f"or pass --credentials FILE")
    return venue_from_args(args, exchange), credentials


def _signing_venues() -> list[str]:
    from hbconnect.exchanges import market_data_venue

    return [v for v in VENUES if market_data_venue(v).credential_fields and not market_data_venue(v).requires_credentials]


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
