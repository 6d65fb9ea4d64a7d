"""``hbconnect demo --exchange bybit [--perpetual]``: the bot trades Bybit v5 spot / linear on the
embedded exchange's Bybit front end and everything it sees agrees with the exchange."""
from __future__ import annotations

import asyncio
import io

import pytest

from hbconnect.commands.demo import Demo


@pytest.mark.parametrize("perpetual", [False, True], ids=["spot", "linear"])
def test_demo_on_bybit_matches_the_exchange(perpetual: bool) -> None:
    out = io.StringIO()
    demo = Demo("BTC-USDT", duration=None, steps=3, seed=2, quiet=True, out=out, exchange="bybit", perpetual=perpetual)
    code = asyncio.run(asyncio.wait_for(demo.main(), 90))
    text = out.getvalue()
    assert code == 0, text
    assert ("Bybit linear" if perpetual else "Bybit spot") in text
    assert "books in sync: yes" in text and "orders, fills and balances match the exchange: yes" in text
    orders = next(line for line in text.splitlines() if line.strip().startswith("orders:"))
    fills = next(line for line in text.splitlines() if line.strip().startswith("fills:"))
    assert int(fills.split("fills:")[1].split("(")[0]) >= 1  # the crossing buy took liquidity
    assert int(orders.split("cancelled,")[1].split("failed")[0]) >= 1  # the crossing post-only is refused
