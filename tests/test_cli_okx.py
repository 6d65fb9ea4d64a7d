"""``hbconnect demo --exchange okx [--perpetual]`` and ``hbconnect sim --exchange okx|bybit``."""
from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hbconnect.commands.demo import Demo

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("perpetual", [False, True], ids=["spot", "swap"])
def test_demo_on_okx_matches_the_exchange(perpetual: bool) -> None:
    out = io.StringIO()
    demo = Demo("BTC-USDT", duration=6.0, seed=2, quiet=True, out=out, exchange="okx", perpetual=perpetual)
    code = asyncio.run(asyncio.wait_for(demo.main(), 90))
    text = out.getvalue()
    assert code == 0, text
    assert ("OKX swap" if perpetual else "OKX spot") in text
    assert "books in sync: yes" in text and "orders, fills and balances match the exchange: yes" in text
    orders = next(line for line in text.splitlines() if line.strip().startswith("orders:"))
    fills = next(line for line in text.splitlines() if line.strip().startswith("fills:"))
    failed = int(orders.split("cancelled,")[1].split("failed")[0])
    assert int(fills.split("fills:")[1].split("(")[0]) >= 1  # the crossing buy took liquidity
    assert failed >= 1  # the post-only order that would cross is refused


@pytest.mark.parametrize("exchange,probe,ok", [
    ("okx", "/api/v5/public/time", lambda body: body["code"] == "0" and int(body["data"][0]["ts"]) > 0),
    ("bybit", "/v5/market/time", lambda body: body["retCode"] == 0 and int(body["result"]["timeSecond"]) > 0),
])
def test_sim_serves_the_chosen_venue(exchange: str, probe: str, ok) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "hbconnect", "sim", "--exchange", exchange, "--duration", "4",
                             "--pairs", "BTC-USDT", "--no-agent"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        lines = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "REST http://127.0.0.1:" in line:
                break
        rest = re.search(r"REST (http://127\.0\.0\.1:\d+)", "".join(lines))
        assert rest, "".join(lines)
        with urllib.request.urlopen(rest.group(1) + probe, timeout=5) as r:
            assert ok(json.loads(r.read()))
        rest_of_output = proc.stdout.read()  # until the process ends (--duration)
        assert proc.wait(timeout=20) == 0, proc.stderr.read()
        if exchange == "okx":
            assert "passphrase" in "".join(lines) + rest_of_output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
