"""Shared test fixtures: where the recorded sessions live, and a clean event loop policy."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

#: ../shared/fixtures beside the repository (CI clones the repo with shared/ next to it);
#: HBCONNECT_FIXTURES overrides it.
FIXTURES = Path(os.environ.get("HBCONNECT_FIXTURES") or Path(__file__).resolve().parents[2] / "shared" / "fixtures")


def fixture_files(prefix: str) -> list[Path]:
    """All recording files of one venue (``BINANCE`` -> BINANCE.0, BINANCE.http.0.0, ...)."""
    files = sorted(p for p in FIXTURES.glob(f"{prefix}.*") if p.is_file())
    if not files:
        pytest.fail(f"no {prefix} recordings in {FIXTURES} (set HBCONNECT_FIXTURES)")
    return files


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"fixtures directory {FIXTURES} not found (set HBCONNECT_FIXTURES)")
    return FIXTURES
