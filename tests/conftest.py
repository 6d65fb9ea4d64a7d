"""Shared test fixtures: where the recorded sessions live, and a clean event loop policy."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

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
