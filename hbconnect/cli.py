"""The hbconnect command: demo, sim, watch, replay, record, bench, hub.

Each subcommand lives in hbconnect/commands/<name>.py and exposes add_arguments(parser) and
run(args) -> int. Exit status: 0 success, 1 the run failed (said why on stderr), 2 usage error.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Optional, Sequence

COMMANDS: dict[str, str] = {
    "demo": "run the embedded exchange and a bot against it (Binance spot by default), then summarize",
    "sim": "run the embedded exchange alone on 127.0.0.1 and print its URLs",
    "watch": "track live order books of a venue and show the top of book",
    "replay": "replay recorded sessions through the real tracker and venue code",
    "record": "record a live market-data session in the replay format",
    "bench": "run hbconnect's own benchmarks (peers: benchmarks/peers.py in the repository)",
    "hub": "keep books once and publish them to Redis Streams for many bots (watch --redis reads them)",
}


def build_parser() -> argparse.ArgumentParser:
    from hbconnect import __version__
    from hbconnect.commands._venue_args import venue_ids

    epilog = f"venue ids: {venue_ids()}"
    parser = argparse.ArgumentParser(prog="hbconnect", description=__doc__.splitlines()[0], epilog=epilog)
    parser.add_argument("--version", action="version", version=f"hbconnect {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        try:
            module = importlib.import_module(f"hbconnect.commands.{name}")
        except ImportError:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly
        sys.stdout = open(os.devnull, "w")  # so that the interpreter's final flush does not fail
        return 141


if __name__ == "__main__":
    sys.exit(main())
