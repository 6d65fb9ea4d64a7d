"""Shared test fixtures: where the recorded sessions live, and a clean event loop policy."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

#: HBCONNECT_SHIFT_MONOTONIC shifts ``time.monotonic`` for the whole session, before hbconnect is
#: imported: ``zero`` -- it reads ~0 when the session starts (a freshly booted machine); a number
#: -- that many seconds are added (``1e7``: a machine up for months). No test may depend on the
#: machine's uptime; ``tests/test_clock_shift.py`` runs the tracker and connector suites both ways.
SHIFT_ENV = "HBCONNECT_SHIFT_MONOTONIC"


def _shift_monotonic(spec: str) -> float:
    real = time.monotonic
    offset = -real() if spec == "zero" else float(spec)

    def monotonic() -> float:
        return real() + offset

    time.monotonic = monotonic
    return offset


MONOTONIC_SHIFT = _shift_monotonic(os.environ[SHIFT_ENV]) if os.environ.get(SHIFT_ENV) else 0.0


def pytest_report_header(config):
    if os.environ.get(SHIFT_ENV):
        return f"{SHIFT_ENV}={os.environ[SHIFT_ENV]}: time.monotonic shifted by {MONOTONIC_SHIFT:+.3f} s " \
               f"(reads {time.monotonic():.3f})"
    return None


#: The recorded sessions shipped with the repository (tests/data/recordings, format in its
#: README.md); HBCONNECT_FIXTURES overrides it with another folder of recordings.
REPO_FIXTURES = Path(__file__).resolve().parent / "data" / "recordings"
FIXTURES = Path(os.environ.get("HBCONNECT_FIXTURES") or REPO_FIXTURES)


def fixture_files(prefix: str) -> list[Path]:
    """All recording files of one venue (``BINANCE`` -> BINANCE.0, BINANCE.http.0.0, ...)."""
    files = sorted(p for p in FIXTURES.glob(f"{prefix}.*") if p.is_file())
    if not files:
        pytest.fail(f"no {prefix} recordings in {FIXTURES} (they ship in tests/data/recordings; "
                    f"HBCONNECT_FIXTURES, if set, must name a folder that holds them)")
    return files


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"fixtures directory {FIXTURES} not found (they ship in tests/data/recordings; "
                    f"HBCONNECT_FIXTURES, if set, must name an existing folder)")
    return FIXTURES


def pytest_collection_modifyitems(config, items):
    """A bigger soak (``HBCONNECT_SOAK_SIZE``) gets a per-test time limit that grows with it
    (half a second an order, at least the suite's 300 s): the limit is there to catch hangs, and
    a 15,000-order soak takes about two minutes on a quiet machine but more on a loaded one."""
    size = os.environ.get("HBCONNECT_SOAK_SIZE")
    if not size or not size.strip().isdigit():
        return
    limit = max(300.0, int(size) * 0.5)
    for item in items:
        if "soak" in item.nodeid:
            item.add_marker(pytest.mark.timeout(limit))
