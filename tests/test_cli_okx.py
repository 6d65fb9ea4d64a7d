"""``hbconnect demo --exchange okx [--perpetual]`` and ``hbconnect sim --exchange okx|bybit``."""
from __future__ import annotations

import asyncio
import io
import json
import re
import urllib.request

import pytest
from test_sim_cli import launch_sim

from hbconnect.commands.demo import Demo


@pytest.mark.parametrize("perpetual", [False, True], ids=["spot", "swap"])
def test_demo_on_okx_matches_the_exchange(perpetual: bool) -> None:
    out = io.StringIO()
    demo = Demo("BTC-USDT", duration=None, steps=3, seed=2, quiet=True, out=out, exchange="okx", perpetual=perpetual)
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
    proc, text = launch_sim("--exchange", exchange, "--duration", "4", "--pairs", "BTC-USDT", "--no-agent")
    try:
        rest = re.search(r"REST (http://127\.0\.0\.1:\d+)", text)
        assert rest, text
        with urllib.request.urlopen(rest.group(1) + probe, timeout=5) as r:
            assert ok(json.loads(r.read()))
        out = proc.stdout.read()  # until the process ends (--duration)
        assert proc.wait(timeout=20) == 0, proc.stderr.read()
        assert "stopped" in out
        assert ("passphrase" in text) is (exchange == "okx")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
