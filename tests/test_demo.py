"""``hbconnect demo`` runs end to end (short) and its summary says everything matched."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_and_summarizes() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "hbconnect", "demo", "--duration", "7"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=90)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "hbconnect demo summary" in out and "result: OK" in out
    assert "books in sync: yes" in out
    assert "orders, fills and balances match the exchange: yes" in out
    summary = out[out.index("hbconnect demo summary"):]
    orders_line = next(line for line in summary.splitlines() if line.strip().startswith("orders:"))
    placed = int(orders_line.split("orders:")[1].split("placed")[0])
    filled = int(orders_line.split("acknowledged,")[1].split("filled")[0])
    failed = int(orders_line.split("cancelled,")[1].split("failed")[0])
    assert placed >= 5 and filled >= 2 and failed >= 1  # includes the refused post-only order
    fills_line = next(line for line in summary.splitlines() if line.strip().startswith("fills:"))
    assert int(fills_line.split("fills:")[1].split("(")[0]) >= 2
    assert "fees:" in summary and "USDT" in summary.split("fees:")[1].splitlines()[0]
    # not a TTY: plain line output, no terminal control codes
    assert "\x1b[" not in out
    assert "created" in out and "filled" in out
