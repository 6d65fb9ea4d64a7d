"""``wait_until``: poll a condition on the event loop's clock (hub and consumer waits)."""
from __future__ import annotations

import asyncio
from typing import Callable, Optional


async def wait_until(condition: Callable[[], bool], timeout: Optional[float], poll: float = 0.01) -> bool:
    """True once ``condition()`` holds; False when ``timeout`` seconds passed first (None: never)."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while not condition():
        if deadline is not None and loop.time() >= deadline:
            return False
        await asyncio.sleep(poll)
    return True
