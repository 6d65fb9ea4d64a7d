"""The embedded exchange's recorded-book option: package data by default, a clear error on a bad path."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import hbconnect
from conftest import fixture_files
from hbconnect.sim import EmbeddedExchange
from hbconnect.sim.agent import FixtureError, load_fixture_snapshot
from hbconnect.sim.exchange import DEFAULT_FIXTURE

#: the folder holding the hbconnect package this suite imports (a subprocess sees the same one)
PACKAGE_HOME = Path(hbconnect.__file__).resolve().parents[1]


def test_default_fixture_is_package_data_and_matches_the_recording():
    package = Path(hbconnect.__file__).resolve().parent
    assert DEFAULT_FIXTURE.is_file() and package in DEFAULT_FIXTURE.resolve().parents
    shipped = load_fixture_snapshot(DEFAULT_FIXTURE)
    recorded = load_fixture_snapshot(next(p for p in fixture_files("BINANCE") if p.name == "BINANCE.http.0.0"))
    # the shipped file is the recording's first snapshot, cut to its top 100 levels per side
    assert shipped["lastUpdateId"] == recorded["lastUpdateId"]
    assert shipped["bids"] == recorded["bids"][:100] and shipped["asks"] == recorded["asks"][:100]


def test_a_recording_path_is_accepted():
    path = next(p for p in fixture_files("BINANCE") if p.name == "BINANCE.http.0.0")
    ex = EmbeddedExchange(seed=1, pairs=("BTC-USDT",), perp_pairs=(), seed_from_fixture=path)
    assert ex._fixture == path


@pytest.mark.parametrize("content", [None, "", "not a recording\n", "https://x/api/v3/depth?symbol=A -> 1.0: {bad json\n"])
def test_bad_fixture_raises_fixture_error(tmp_path, content):
    path = tmp_path / "rec.txt"
    if content is not None:
        path.write_text(content)
    with pytest.raises(FixtureError, match=str(path)):
        EmbeddedExchange(seed=1, pairs=("BTC-USDT",), perp_pairs=(), seed_from_fixture=path)
    assert issubclass(FixtureError, ValueError)


def test_sim_command_with_a_bad_fixture_path_fails_with_a_message(tmp_path):
    missing = tmp_path / "no-such-recording"
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_HOME) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "hbconnect", "sim", "--from-fixture", str(missing),
                           "--duration", "1"], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=60)
    assert proc.returncode == 2
    assert "--from-fixture" in proc.stderr and str(missing) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "embedded exchange" not in proc.stdout       # it never started with made-up books
