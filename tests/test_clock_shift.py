"""No test of the tracker or the connector depends on the machine's uptime: their suites pass with
``time.monotonic`` shifted to read ~0 at the start (a freshly booted machine) and ~10^7 s (one up
for months). Each run is a pytest subprocess with ``HBCONNECT_SHIFT_MONOTONIC`` set (see
``conftest.py``); the same command shifts the full suite:

    HBCONNECT_SHIFT_MONOTONIC=zero python -m pytest -q
    HBCONNECT_SHIFT_MONOTONIC=1e7 python -m pytest -q
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHIFT_ENV

TESTS = Path(__file__).resolve().parent

#: the suites shifted here: the tracker's recovery/timer paths and the connector end to end
SUITES = ["test_tracker_recovery.py", "test_tracker_core.py", "test_e2e_spot.py"]


def _run(shift: str, *files: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, **{SHIFT_ENV: shift})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *files],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("shift,low,high", [("zero", 0.0, 60.0), ("1e7", 1e7, 1e7 + 1e7)])
def test_tracker_and_connector_suites_pass_with_the_clock_shifted(shift, low, high):
    res = _run(shift, *(str(TESTS / f) for f in SUITES))
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    # the shift was in force: the session's header shows what time.monotonic read
    line = next(x for x in res.stdout.splitlines() if x.startswith(f"{SHIFT_ENV}={shift}:"))
    reads = float(line.rsplit("reads ", 1)[1].rstrip(")"))
    assert low <= reads < high, line
    assert " passed" in res.stdout and " failed" not in res.stdout and " error" not in res.stdout


def test_the_shift_reaches_the_tracker_clock():
    """conftest applies the shift before hbconnect is imported, so the tracker's default clock,
    and the frame times of the compiled fast path, read the shifted clock, not the machine's."""
    probe = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "import conftest  # applies the shift\n"
        "from hbconnect.exchanges import market_data_venue\n"
        "from hbconnect.market.tracker import OrderBookTracker\n"
        "t = OrderBookTracker(market_data_venue('binance'), ['BTC-USDT'])\n"
        "assert t._fastpath is not None\n"
        "c = t.connections[0]\n"
        "t.feed(c, b'{}')\n"
        "assert 1e7 <= c.last_frame <= time.monotonic() < 2e7, c.last_frame\n"
        "assert 1e7 <= t.clock() < 2e7\n"
        "print('probe ok')\n")
    env = dict(os.environ, **{SHIFT_ENV: "1e7"})
    res = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "probe ok" in res.stdout, res.stdout + res.stderr
