"""hbconnect.core.loop: uvloop when installed and not opted out, asyncio's loop otherwise."""
from __future__ import annotations

import asyncio
import importlib.util

import pytest

from hbconnect.core.loop import loop_factory, loop_name, run


async def _which() -> str:
    await asyncio.sleep(0)
    return loop_name()


def test_opting_out_or_fast_false_runs_on_asyncio(monkeypatch):
    monkeypatch.setenv("HBCONNECT_LOOP", "asyncio")
    assert loop_factory() is None
    assert run(_which()) == "asyncio"
    monkeypatch.delenv("HBCONNECT_LOOP")
    assert loop_factory(fast=False) is None
    assert run(_which(), fast=False) == "asyncio"


def test_without_uvloop_the_default_loop_is_used(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_uvloop(name, *args, **kw):
        if name == "uvloop":
            raise ImportError("uvloop is not installed")
        return real_import(name, *args, **kw)
    monkeypatch.delenv("HBCONNECT_LOOP", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert loop_factory() is None
    assert run(_which()) == "asyncio"


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed: pip install -e '.[test]' installs it (not on Windows, where uvloop does not exist)")
def test_uvloop_is_used_when_installed(monkeypatch):
    monkeypatch.delenv("HBCONNECT_LOOP", raising=False)
    assert loop_factory() is not None
    assert run(_which()) == "uvloop"
