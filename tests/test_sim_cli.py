"""``hbconnect sim`` as a user runs it, and no secret in the simulator's logs or reprs."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal as D
from pathlib import Path

import aiohttp

from hbconnect.sim import EmbeddedExchange

ROOT = Path(__file__).resolve().parents[1]


def launch_sim(*args: str) -> tuple:
    """``hbconnect sim ARGS`` in a subprocess: (process, its header up to "running for")."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "hbconnect", "sim", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    lines = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("running for"):
            break
    return proc, "".join(lines)


def test_hbconnect_sim_command_serves_and_stops_by_itself():
    proc, text = launch_sim("--duration", "4", "--seed", "1", "--pairs", "BTC-USDT", "--perp-pairs", "BTC-USDT")
    try:
        spot = re.search(r"spot\s+REST (http://127\.0\.0\.1:\d+)", text).group(1)
        fut = re.search(r"futures\s+REST (http://127\.0\.0\.1:\d+)", text).group(1)
        key = re.search(r"API key (\w+)", text).group(1)
        secret = re.search(r"API secret (\w+)", text).group(1)
        with urllib.request.urlopen(spot + "/api/v3/depth?symbol=BTCUSDT&limit=5", timeout=5) as r:
            depth = json.loads(r.read())
        with urllib.request.urlopen(fut + "/fapi/v1/ping", timeout=5) as r:
            ping = json.loads(r.read())
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "local simulator only" in text and len(key) == 64 and len(secret) == 64
    assert len(depth["bids"]) == 5 and len(depth["asks"]) == 5
    assert ping == {}
    assert "stopped" in out


def test_no_secret_in_logs_or_reprs(caplog):
    secret = "S3cr3tS3cr3tS3cr3t"

    async def main():
        ex = EmbeddedExchange(seed=1, pairs=("BTC-USDT",), perp_pairs=(), agent=False)
        acct = ex.create_account("logkey", secret, balances={"USDT": D("100")})
        async with ex, aiohttp.ClientSession() as s:
            # a bad signature, a handler error path, a good request
            await s.get(f"{ex.spot_rest_url}/api/v3/account?timestamp={int(time.time() * 1000)}&signature=00",
                        headers={"X-MBX-APIKEY": "logkey"})
            await s.post(f"{ex.spot_rest_url}/api/v3/order?symbol=BTCUSDT", headers={"X-MBX-APIKEY": "logkey"})
        return repr(acct), repr(ex.accounts)

    with caplog.at_level(logging.DEBUG):
        r1, r2 = asyncio.run(main())
    assert secret not in caplog.text and secret not in r1 and secret not in r2


def test_cli_fault_knobs_parse_onto_the_config():
    import pytest
    from hbconnect.commands.sim import apply_faults
    from hbconnect.sim import FaultConfig

    cfg = FaultConfig()
    apply_faults(cfg, ["drop.market=0.25", "duplicate=0.5", "http_429=0.1", "retry_after_seconds=3",
                       "timeout_accepted=0.02"])
    assert cfg.drop == {"market": 0.25, "user": 0.0}
    assert cfg.duplicate == {"market": 0.5, "user": 0.5}
    assert (cfg.http_429, cfg.retry_after_seconds, cfg.timeout_accepted) == (0.1, 3, 0.02)
    for bad in ("nope=1", "drop.other=0.1", "http_429=x", "http_429"):
        with pytest.raises(ValueError):
            apply_faults(cfg, [bad])
