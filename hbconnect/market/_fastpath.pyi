from typing import Any, Optional

class TrackedBookCore:
    pair: Any
    book: Any
    state: Any
    last_id: Any
    first: bool
    frames: int
    diffs_applied: int
    last_update_time: float
    last_receive: float

class ConnectionCore:
    frames: int
    last_frame: float

class FastFeed:
    fast_frames: int
    scanned_frames: int
    clock: Optional[Any]
    def __init__(self, tracker: Any, spec: Any, rule: int, live: Any) -> None: ...
    def feed(self, conn: Any, raw: Any, now: Optional[float] = None) -> None: ...
