"""Every ```python block of README.md runs as pasted, in a fresh interpreter, in an empty folder.

Snippets that need an exchange start the embedded one on 127.0.0.1 themselves, so nothing here
touches the network beyond loopback.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hbconnect

README = Path(__file__).resolve().parents[1] / "README.md"
#: the folder holding the hbconnect package this suite imports (a subprocess sees the same one)
PACKAGE_HOME = Path(hbconnect.__file__).resolve().parents[1]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks() -> list[str]:
    return _BLOCK.findall(README.read_text(encoding="utf-8"))


def test_readme_has_the_snippets_this_file_checks():
    blocks = python_blocks()
    assert len(blocks) >= 3
    assert any("OrderBook()" in b for b in blocks)
    assert any("OrderBookTracker(" in b for b in blocks)
    assert any("Connector(" in b for b in blocks)


def _first_line(block: str) -> str:
    return next((ln for ln in block.splitlines() if ln.strip() and not ln.startswith(("import", "from"))), "")[:40]


@pytest.mark.parametrize("block", python_blocks(), ids=_first_line)
def test_readme_snippet_runs_as_pasted(block, tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(block, encoding="utf-8")
    # the package this suite imports (editable install, installed wheel or in-place build), nothing else
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_HOME) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", str(script)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"snippet failed:\n{block}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    if "OrderBookTracker(" in block:
        lines = proc.stdout.splitlines()
        assert len(lines) == 5 and all(ln.startswith("BookState.LIVE") for ln in lines), proc.stdout
    if "Connector(" in block:
        assert proc.stdout.split()[::2] == ["BuyOrderCreated", "OrderCancelled"], proc.stdout
