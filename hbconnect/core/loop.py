"""The event loop: uvloop when it is installed (``pip install hbconnect[fast]``), asyncio's own
otherwise. Nothing in hbconnect needs uvloop for correctness; on the order path it takes the
loop's own work (ready queue, timers, epoll, socket reads and writes) out of Python
(``benchmarks/bench_order_path.py --uvloop``: figures in benchmarks/README.md).

``HBCONNECT_LOOP=asyncio`` in the environment keeps asyncio's loop even where uvloop is installed.
"""
from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, Callable, Coroutine, Optional, TypeVar

T = TypeVar("T")


def loop_factory(fast: bool = True) -> Optional[Callable[[], asyncio.AbstractEventLoop]]:
    """``uvloop.new_event_loop`` when ``fast``, uvloop is importable and ``HBCONNECT_LOOP`` is
    not ``asyncio``; None (asyncio's default loop) otherwise."""
    if not fast or os.environ.get("HBCONNECT_LOOP", "").lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name(loop: Optional[asyncio.AbstractEventLoop] = None) -> str:
    """``"uvloop"`` or ``"asyncio"``: the running loop's (or ``loop``'s) implementation."""
    loop = loop or asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T], *, fast: bool = True) -> T:
    """``asyncio.run(main)`` on the loop of :func:`loop_factory`."""
    factory = loop_factory(fast)
    if factory is None:
        return asyncio.run(main)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(main)
    loop = factory()  # Python 3.10: no Runner
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


__all__ = ["loop_factory", "loop_name", "run"]
