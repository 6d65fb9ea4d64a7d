"""The ``hbconnect`` console script as a user runs it: exit codes, messages on stderr, and never a
traceback or an "Unclosed client session" warning for a user error or a failed connection.

Every test starts the real console script (the one installed next to this interpreter) in a
subprocess, with short timeouts; the only network is a closed port on 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import hbconnect
from conftest import fixture_files
from hbconnect.cli import COMMANDS
from hbconnect.exchanges import VENUES

#: the recordings this module uses that ship in the repository whatever HBCONNECT_FIXTURES says
RECORDINGS = Path(__file__).resolve().parent / "data" / "recordings"
#: the configuration line of OKX.0 (cryptofeed's names), which OKX.ws.1.0's frames go with
OKX_CONFIGURATION = ('configuration: {"l2_book":["BTC-USD-22K27","UNI-USD-PERP","BTC-USDT"],'
                     '"ticker":["BTC-USD-22K27","UNI-USD-PERP","BTC-USDT"],'
                     '"trades":["BTC-USD-22K27","UNI-USD-PERP","BTC-USDT"]}\n')
#: the folder holding the hbconnect package this suite imports (the subprocess sees the same one)
PACKAGE_HOME = Path(hbconnect.__file__).resolve().parents[1]


def console_script() -> str:
    """The ``hbconnect`` script of this interpreter's environment (else the one on PATH)."""
    name = "hbconnect.exe" if os.name == "nt" else "hbconnect"
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which("hbconnect")
    if not found:
        pytest.fail("the hbconnect console script is not installed: pip install -e '.[test]' installs it")
    return found


def hbconnect_cli(*args: str, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_HOME) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([console_script(), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=cwd)


def assert_clean(proc: subprocess.CompletedProcess) -> None:
    """What a user must never see."""
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text
    assert "Unclosed client session" not in text and "Unclosed connector" not in text, text


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ usage
def test_version():
    proc = hbconnect_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"hbconnect {hbconnect.__version__}"


@pytest.mark.parametrize("command", [[]] + [[name] for name in COMMANDS], ids=lambda c: c[0] if c else "top")
def test_help_lists_every_venue_id_and_has_no_rest_markup(command):
    proc = hbconnect_cli(*command, "--help")
    assert proc.returncode == 0, proc.stderr
    help_text = " ".join(proc.stdout.split())  # argparse wraps lines
    missing = [v for v in VENUES if v not in help_text]
    assert not missing, (missing, proc.stdout)
    for markup in ("``", ":class:", ":attr:", ":func:", ":meth:"):
        assert markup not in proc.stdout, (markup, proc.stdout)


@pytest.mark.parametrize("args", [
    ["demo", "--pair", "BTCUSDT"],
    ["sim", "--pairs", "BTCUSDT"],
    ["watch", "-e", "binance", "-p", "BTCUSDT"],
    ["watch", "-e", "binance", "-p", "BTC-USDT,ETHUSDT"],
    ["record", "-e", "binance", "-p", "BTCUSDT", "--out", "x.rec"],
    ["replay", "x.rec", "-e", "binance", "--pairs", "BTCUSDT"],
], ids=lambda a: a[0] + "-" + a[-1] if a[0] != "record" else "record")
def test_a_pair_not_like_base_quote_is_a_usage_error(args, tmp_path):
    proc = hbconnect_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "pair must look like BASE-QUOTE" in proc.stderr and "usage: hbconnect" in proc.stderr
    assert_clean(proc)
    assert not list(tmp_path.iterdir())  # nothing started, nothing written


@pytest.mark.parametrize("args", [
    ["demo", "--duration", "-5"],
    ["demo", "--duration", "0"],
    ["demo", "--duration", "nan"],
    ["sim", "--duration", "-1"],
    ["watch", "-e", "binance", "-p", "BTC-USDT", "--timeout", "0"],
    ["watch", "-e", "binance", "-p", "BTC-USDT", "--duration", "-2"],
    ["record", "-e", "binance", "-p", "BTC-USDT", "--out", "x.rec", "--duration", "-1"],
    ["replay", "x.rec", "-e", "binance", "--stale-timeout", "-3"],
], ids=lambda a: a[0] + a[-2] + a[-1])
def test_a_duration_that_means_nothing_is_a_usage_error(args, tmp_path):
    proc = hbconnect_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "expected a number of seconds above 0" in proc.stderr
    assert_clean(proc)


@pytest.mark.parametrize("port", ["70000", "-5", "http"])
def test_sim_with_a_port_out_of_range_is_a_usage_error(port):
    proc = hbconnect_cli("sim", "--port", port, "--duration", "1")
    assert proc.returncode == 2 and "expected a port from 1 to 65534" in proc.stderr
    assert_clean(proc)


def test_an_unknown_venue_is_a_usage_error_listing_the_known_ones():
    proc = hbconnect_cli("watch", "-e", "binanse", "-p", "BTC-USDT")
    assert proc.returncode == 2 and "unknown venue 'binanse'" in proc.stderr and "kraken_v2" in proc.stderr
    assert_clean(proc)


# ------------------------------------------------------------------ live commands, no venue
@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_watch_against_a_closed_port_says_why_and_exits_1_after_its_timeout(verbose):
    port = closed_port()
    args = ["watch", "-e", "binance", "-p", "BTC-USDT", "--ws-url", f"ws://127.0.0.1:{port}",
            "--rest-url", f"http://127.0.0.1:{port}", "--timeout", "1.5", "--interval", "0.3"]
    proc = hbconnect_cli(*args, *(["-v"] if verbose else []), timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr
    assert "no book of BTC-USDT synced within 1.5 s" in err
    # the connection error, shown without -v, once, with the venue and the URL it tried
    failures = [line for line in err.splitlines() if line.startswith("hbconnect watch: binance: connection failed")]
    assert len(failures) == 1, err
    assert f"ws://127.0.0.1:{port}" in failures[0] and "cannot connect" in failures[0]
    assert "binance#0: binance#0" not in err  # the socket's name said once, in logs too
    if verbose:  # the transport's own log line is there, named once
        assert f"binance#0: cannot connect to ws://127.0.0.1:{port}" in err and "reconnecting in" in err
    assert_clean(proc)


def test_watch_with_the_stream_up_but_snapshots_refused_says_so_without_v():
    """The websocket works (a local Binance-protocol server) but the REST snapshot URL is a
    closed port: each pair's failed snapshot request is shown, with its URL, and watch exits 1."""
    import asyncio

    from binance_server import FakeBinance

    port = closed_port()

    async def main() -> tuple[int, str]:
        async with FakeBinance(fixture_files("BINANCE"), pace=0.01) as server:
            env = dict(os.environ, PYTHONPATH=str(PACKAGE_HOME) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            proc = await asyncio.create_subprocess_exec(
                console_script(), "watch", "-e", "binance", "-p", "NKN-USDT", "--ws-url", server.ws_url,
                "--rest-url", f"http://127.0.0.1:{port}", "--timeout", "2", "--interval", "0.5",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
            _, err = await asyncio.wait_for(proc.communicate(), 60)
            return proc.returncode, err.decode()

    code, err = asyncio.run(main())
    assert code == 1, err
    lines = [line for line in err.splitlines() if "NKN-USDT: snapshot request failed" in line]
    assert len(lines) == 1 and f"http://127.0.0.1:{port}/api/v3/depth" in lines[0], err
    assert "no book of NKN-USDT synced within 2 s; a connection failed (above)" in err
    assert "Traceback" not in err and "Unclosed client session" not in err


def test_watch_whose_duration_ends_before_any_book_synced_exits_1():
    port = closed_port()
    proc = hbconnect_cli("watch", "-e", "binance", "-p", "BTC-USDT", "--ws-url", f"ws://127.0.0.1:{port}",
                         "--rest-url", f"http://127.0.0.1:{port}", "--duration", "1", "--interval", "0.4",
                         timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no book of BTC-USDT synced within 1 s" in proc.stderr
    assert_clean(proc)


def test_record_against_a_closed_port_exits_1_with_no_frame(tmp_path):
    port = closed_port()
    out = tmp_path / "session.rec"
    proc = hbconnect_cli("record", "-e", "binance", "-p", "BTC-USDT", "--ws-url", f"ws://127.0.0.1:{port}",
                         "--rest-url", f"http://127.0.0.1:{port}", "--out", str(out), "--duration", "1",
                         timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "recorded 0 frames" in proc.stdout
    assert "no frame recorded; a connection failed" in proc.stderr
    assert f"127.0.0.1:{port}" in proc.stderr
    assert_clean(proc)


# ------------------------------------------------------------------ replay
def test_replay_of_a_file_without_frames_exits_1(tmp_path):
    text = tmp_path / "notes.md"
    text.write_text("# hbconnect\n\nNot a recording: just some prose.\n")
    proc = hbconnect_cli("replay", str(text), "-e", "binance")
    assert proc.returncode == 1 and "no recorded frame in" in proc.stderr
    assert_clean(proc)


def test_replay_of_a_file_that_cannot_be_read_is_a_usage_error(tmp_path):
    proc = hbconnect_cli("replay", str(tmp_path / "missing.rec"), "-e", "binance")
    assert proc.returncode == 2 and "missing.rec" in proc.stderr
    assert_clean(proc)


@pytest.mark.parametrize("chosen", ["binance", "kraken_v2", "okx"])
def test_replay_with_the_wrong_venue_exits_1_and_names_the_right_one(chosen):
    files = [str(p) for p in fixture_files("KRAKEN")]
    proc = hbconnect_cli("replay", *files, "-e", chosen)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"does not look like {chosen}" in proc.stderr and "did you mean --exchange kraken?" in proc.stderr
    assert_clean(proc)


def test_replay_of_frames_without_urls_names_the_venue_whose_module_parses_them(tmp_path):
    """No recorded URL to go by: the venue modules that turn the frames into book messages do."""
    frames = tmp_path / "frames.rec"
    source = [p for p in fixture_files("KRAKEN") if p.name.startswith("KRAKEN.ws.")]
    frames.write_text("".join(line for p in source for line in p.read_text().splitlines(keepends=True)
                              if line[:1].isdigit()))  # "TS: PAYLOAD" lines only
    proc = hbconnect_cli("replay", str(frames), "-e", "binance")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "its frames parse as book messages of kraken" in proc.stderr
    assert "did you mean --exchange kraken?" in proc.stderr
    assert_clean(proc)


def test_replay_when_no_book_syncs_exits_1():
    # the right venue's frames, but the pair asked for is not in the recording
    files = [str(p) for p in fixture_files("KRAKEN")]
    proc = hbconnect_cli("replay", *files, "-e", "kraken", "--pairs", "DOGE-EUR")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no book of DOGE-EUR ever synced" in proc.stderr
    assert_clean(proc)


def _okx_files(tmp_path: Path) -> list[str]:
    config = tmp_path / "OKX.0"
    config.write_text(OKX_CONFIGURATION)
    return [str(config), str(RECORDINGS / "OKX.ws.1.0")]


@pytest.mark.parametrize("venue,pair,ignored,skipped", [
    ("okx", "BTC-USDT", 225, ["BTC-USD-22K27", "UNI-USD-PERP"]),
    ("okx_perpetual", "UNI-USD", 298, ["BTC-USD-22K27", "BTC-USDT"]),
])
def test_replay_maps_configuration_names_and_counts_other_instruments_as_ignored(tmp_path, venue, pair, ignored,
                                                                                 skipped):
    """OKX.ws.1.0 carries spot, swap and futures instruments on one socket: without --pairs the
    replay maps the recorder's names to registry pairs, says which it cannot map, and counts the
    other instruments' frames as ignored, not bad."""
    proc = hbconnect_cli("replay", *_okx_files(tmp_path), "-e", venue, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert list(doc["pairs"]) == [pair]
    assert doc["frames"] == 410 and doc["bad_frames_total"] == 0 and doc["ignored_frames_total"] == ignored
    r = doc["pairs"][pair]
    assert r["state"] == "live" and r["checksums_ok"] > 50 and r["checksums_failed"] == 0 and r["gaps"] == 0
    for name in skipped:
        assert f"configuration name {name} not replayed" in proc.stderr
    assert sorted(doc["configuration_names_not_replayed"]) == sorted(skipped)
    assert_clean(proc)


def test_replay_maps_perpetual_names_of_a_real_futures_recording():
    files = sorted(str(p) for p in RECORDINGS.glob("GATEIO_FUTURES.*"))
    assert len(files) == 3
    proc = hbconnect_cli("replay", *files, "-e", "gate_io_perpetual", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc["pairs"]) == {"DIA-USDT", "RDNT-USDT", "LIT-USDT", "ZRX-USDT", "WOO-USDT", "QUICK-USDT",
                                 "OMG-USDT", "FRONT-USDT", "PHB-USDT", "SFP-USDT"}
    assert doc["bad_frames_total"] == 0 and doc["ignored_frames_total"] > 0  # book_ticker, candlesticks
    assert sum(r["diffs_applied"] for r in doc["pairs"].values()) > 300
    proc = hbconnect_cli("replay", *files, "-e", "gate_io")  # the spot venue: the URLs are the futures'
    assert proc.returncode == 1 and "did you mean --exchange gate_io_perpetual?" in proc.stderr
    assert_clean(proc)


def test_replay_shows_checksum_columns_only_for_venues_that_send_one(tmp_path):
    binance = hbconnect_cli("replay", *[str(p) for p in fixture_files("BINANCE")], "-e", "binance")
    assert binance.returncode == 0 and "NKN-USDT [live]" in binance.stdout
    assert "checksum" not in binance.stdout
    okx = hbconnect_cli("replay", *_okx_files(tmp_path), "-e", "okx")
    assert okx.returncode == 0 and "checksums ok" in okx.stdout
    assert_clean(binance)
    assert_clean(okx)


# ------------------------------------------------------------------ demo
def test_demo_with_no_order_acknowledged_fails_and_says_why():
    """DOGE-EUR on the embedded exchange: every order of the script is below the minimum notional."""
    proc = hbconnect_cli("demo", "--pair", "DOGE-EUR", "--duration", "1.5", timeout=90)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "problem: no order was acknowledged by the exchange" in proc.stdout
    assert "minimum notional" in proc.stdout and "result: FAILED" in proc.stdout
    assert "result: OK" not in proc.stdout
    assert_clean(proc)
