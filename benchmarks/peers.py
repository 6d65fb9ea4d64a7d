"""Order book peer comparison: hbconnect vs order-book, nautilus_trader, sortedcontainers, Hummingbot.

A thin wrapper of ``hbconnect bench`` (hbconnect/commands/bench.py), so that the workload is written
once and also runs from an installed wheel:

    python3 benchmarks/peers.py                     # the full workload: 1,000,000 level updates
    python3 benchmarks/peers.py --updates 100000    # smaller
    python3 benchmarks/peers.py --json              # one JSON document

Peers that are not installed are reported as "not installed" and skipped; see benchmarks/README.md
for how to install each of them.
"""
from __future__ import annotations

import argparse
import os
import sys

try:
    import hbconnect._book  # noqa: F401  (installed, or built in place)
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hbconnect.commands import bench  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="peers.py", description=__doc__.splitlines()[0])
    bench.add_arguments(parser)
    return bench.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
