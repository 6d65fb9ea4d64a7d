"""Smoke tests of the benchmarks at a tiny size: hbconnect's own (``hbconnect bench``), the peer
comparison harness (benchmarks/peers.py) and the message-path inputs (benchmarks/message_path.py).

Needs only hbconnect: the peers are not required (they are reported as not installed and not asked
for here). The top 20 levels of hbconnect after the workload must equal the plain-dict reference.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from benchmark_modules import BENCHMARKS, load_benchmark
from hbconnect.commands import bench


_load = load_benchmark


peers = _load("peers")


@pytest.fixture(scope="module")
def workload():
    return bench.make_workload(n_updates=3_000, levels=300, seed=11)


def test_workload_shape(workload):
    wl = workload
    assert wl.n_updates == 3_000
    assert sum(len(b) + len(a) for b, a in wl.messages) == 3_000
    assert len(wl.snapshot_bids) == len(wl.snapshot_asks) == 300
    sizes = [len(b) + len(a) for b, a in wl.messages]
    assert min(sizes) >= 1 and max(sizes) <= 20
    share = wl.n_deletes / wl.n_updates
    assert 0.25 < share < 0.35, share
    # string pairs, the way a JSON parser returns them
    p, q = wl.messages[0][0][0] if wl.messages[0][0] else wl.messages[0][1][0]
    assert isinstance(p, str) and isinstance(q, str)
    # never crossed: every bid below every ask
    bids, asks = bench.reference_book(wl)
    assert max(bids) < min(asks)
    # the same seed gives the same workload, another seed another one
    again = bench.make_workload(n_updates=3_000, levels=300, seed=11)
    assert again.messages == wl.messages
    assert bench.make_workload(n_updates=3_000, levels=300, seed=12).messages != wl.messages


def test_reference_is_independent_of_generator(workload):
    """The dict reference, rebuilt here by replaying the messages in order, agrees on the top."""
    bids = {p: q for p, q in workload.snapshot_bids}
    asks = {p: q for p, q in workload.snapshot_asks}
    for mb, ma in workload.messages:
        for side, levels in ((bids, mb), (asks, ma)):
            for p, q in levels:
                if float(q) == 0:
                    assert p in side, "the workload deletes only levels that exist"
                    del side[p]
                else:
                    side[p] = q
    top_b = sorted(((float(p), float(q)) for p, q in bids.items()), reverse=True)[:20]
    top_a = sorted((float(p), float(q)) for p, q in asks.items())[:20]
    assert bench.reference_top(workload, 20) == (top_b, top_a)


def test_hbconnect_top20_matches_reference(workload):
    peer = peers.HbconnectPeer()
    assert peer.available() is None
    want = bench.reference_top(workload, 20)
    book = peer.new_book(workload)
    peer.run_str(book, workload.messages)
    assert peers.top_matches(peer.top(book, 20), want)
    # pre-converted float arrays reach the same book
    book2 = peer.new_book(workload)
    peer.run_native_top(book2, peer.native(workload.messages))
    assert peers.top_matches(peer.top(book2, 20), want)
    # and a wrong book is noticed
    bad = peer.new_book(workload)
    peer.run_str(bad, workload.messages[:-5])
    assert not peers.top_matches(peer.top(bad, 20), want)


def test_vwap_reference(workload):
    peer = peers.HbconnectPeer()
    peer.load()
    book = peer.new_book(workload)
    peer.run_str(book, workload.messages)
    vol, want = bench.vwap_volume(workload, 100)
    assert peer.vwap_fn(book, vol)() == pytest.approx(want, rel=1e-9)


def test_peers_json_small(capsys):
    parser = argparse.ArgumentParser()
    peers.add_arguments(parser)
    args = parser.parse_args(["--updates", "2000", "--levels", "200", "--peers", "hbconnect", "--json", "-q",
                              "--reads", "2000", "--vwap-queries", "50", "--memory-levels", "0", "--chunks", "4"])
    assert peers.run(args) == 0
    doc = json.loads(capsys.readouterr().out)
    hb = doc["peers"]["hbconnect"]
    assert hb["status"] == "ok" and hb["top20_match"] is True and hb["vwap_ok"] is True
    assert hb["ns_per_level_str"] > 0 and hb["us_per_vwap100"] > 0
    assert doc["workload"]["updates"] == 2000


def test_unknown_peer_is_refused(capsys):
    parser = argparse.ArgumentParser()
    peers.add_arguments(parser)
    args = parser.parse_args(["--peers", "hbconnect,nope", "--updates", "10"])
    assert peers.run(args) == 2
    assert "unknown peer" in capsys.readouterr().err


def test_missing_peer_reported_not_installed():
    class Missing(peers.Peer):
        name = "missing"

        def load(self):
            import hbconnect_no_such_module  # noqa: F401

    assert Missing().available().startswith("not installed")


def test_memory_probe_small():
    m = peers.memory_probe("hbconnect", 20_000)
    assert m["own_bytes_per_level"] is not None and 8 <= m["own_bytes_per_level"] <= 200


def test_memory_probe_subprocess_finds_the_harness():
    m = peers._memory_in_subprocess("hbconnect", 20_000, timeout=120)
    assert "error" not in m, m
    assert 8 <= m["own_bytes_per_level"] <= 200


def test_peers_script_runs_standalone():
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "peers.py"), "--updates", "500", "--levels", "100",
                           "--peers", "hbconnect", "-q", "--reads", "100", "--vwap-queries", "10",
                           "--memory-levels", "0", "--chunks", "2", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["peers"]["hbconnect"]["top20_match"] is True


# ------------------------------------------------------------------ hbconnect bench (own benchmarks)

def test_own_bench_books_and_frame_path_match_the_reference(workload):
    r = bench.run_own(workload, reads=100, vwap_queries=10)
    assert r.top20_match is True and r.vwap_ok is True
    assert r.ns_per_level_str > 0 and r.us_per_frame > 0 and r.us_per_checksum_okx > 0


def test_binance_frames_are_contiguous(workload):
    snap, frames = bench.binance_frames(workload)
    assert json.loads(snap)["lastUpdateId"] == 1
    ids = [json.loads(f)["data"]["U"] for f in frames]
    assert ids == list(range(2, 2 + workload.n_messages))


def test_frame_path_notices_a_lost_frame(workload, monkeypatch):
    real = bench.binance_frames

    def drop_one(wl, symbol="BTCUSDT"):
        snap, frames = real(wl, symbol)
        return snap, frames[:10] + frames[11:]
    monkeypatch.setattr(bench, "binance_frames", drop_one)
    with pytest.raises(RuntimeError, match="lost frames"):
        bench.frame_path(workload)


def test_hbconnect_bench_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hbconnect", "bench", "--updates", "2000", "--levels", "200",
                           "--reads", "100", "--vwap-queries", "10", "--json"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["top20_match"] is True and doc["workload"]["updates"] == 2000
    helptext = subprocess.run([sys.executable, "-m", "hbconnect", "bench", "--help"], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path).stdout
    assert "benchmarks/peers.py" in " ".join(helptext.split()) and "benchmarks/README.md" in helptext
    bad = subprocess.run([sys.executable, "-m", "hbconnect", "bench", "--updates", "0"], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert bad.returncode == 2 and "--updates" in bad.stderr


# ------------------------------------------------------------------ message-path benchmark inputs

def _message_path():
    mod = _load("message_path")
    assert (mod.fixtures_dir() / "BINANCE.ws.1.0").is_file(), "the recordings ship in tests/data/recordings"
    return mod


def test_message_path_frames_are_contiguous_continuations():
    import re

    mp = _message_path()
    recorded = mp.recorded_depth_frames()
    assert len(recorded) > 100
    frames = mp.repeated_frames(3 * len(recorded) + 7)
    assert len(frames) == 3 * len(recorded) + 7
    last = {}
    for f in frames:
        sym = re.search(r'"s":"([A-Z0-9]+)"', f).group(1)
        U, u = map(int, re.search(r'"U":(\d+),"u":(\d+)', f).groups())
        assert u >= U
        if sym in last:
            assert U == last[sym] + 1, (sym, U, last[sym])
        last[sym] = u
    # the snapshots given to the peers are joined to the first frame of each symbol
    first, final = mp._ids_by_symbol(frames)
    snaps = mp._joined_snapshots(frames)
    assert set(snaps) == set(first)
    for sym, body in snaps.items():
        assert json.loads(body)["lastUpdateId"] == first[sym]
        assert final[sym] == last[sym]
