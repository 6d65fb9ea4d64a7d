"""Recording of live market-data sessions in the replay format (docs/architecture.md, "The recording format").

``SessionRecorder`` writes what the live tracker sees: connections opened (``URL <-> TS``), text
it sent (``URL <- TS: TEXT``), frames received (``TS: PAYLOAD``; binary as a Python bytes
literal), REST answers (``URL -> TS: BODY``) and a ``configuration:`` line. Connection *n > 0*
goes to ``FILE.ws.<n>`` (a file holds one connection's frames, as in the fixtures); a dropped
socket is marked ``URL <x> TS`` so that the replay reproduces the reconnect.

Line breaks cannot be stored: in JSON text (frames, REST bodies) a raw line break can only be
whitespace between tokens, so it is written as a space; other text frames containing one are
written as bytes literals.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any, Callable, Optional, Sequence, TextIO, Union
from urllib.parse import urlencode

logger = logging.getLogger(__name__)

__all__ = ["SessionRecorder", "record_session"]


def _one_line(text: str) -> str:
    if "\n" in text or "\r" in text:
        return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return text


class SessionRecorder:
    """Writes a session to ``path`` (and ``path.ws.<n>`` for extra connections)."""

    def __init__(self, path: Union[str, os.PathLike], *, clock: Callable[[], float] = time.time,
                 configuration: Optional[dict] = None) -> None:
        self.path = os.fspath(path)
        self.clock = clock
        self._files: dict[int, TextIO] = {}
        self._main = open(self.path, "w", encoding="utf-8")
        self._files[0] = self._main
        self.paths = [self.path]
        self.frames = 0
        self.rest_bodies = 0
        self._conn_index: dict[int, int] = {}
        if configuration is not None:
            self.configuration(configuration)

    def _file(self, conn_id: int) -> TextIO:
        idx = self._conn_index.get(conn_id)
        if idx is None:
            idx = self._conn_index[conn_id] = len(self._conn_index)
        f = self._files.get(idx)
        if f is None:
            path = f"{self.path}.ws.{idx}"
            f = self._files[idx] = open(path, "w", encoding="utf-8")
            self.paths.append(path)
        return f

    def configuration(self, cfg: dict) -> None:
        self._main.write(f"configuration: {json.dumps(cfg, separators=(',', ':'))}\n")

    def opened(self, conn_id: int, url: str) -> None:
        self._file(conn_id).write(f"{url} <-> {self.clock()!r}\n")

    def closed(self, conn_id: int, url: str) -> None:
        self._file(conn_id).write(f"{url} <x> {self.clock()!r}\n")

    def sent(self, conn_id: int, url: str, text: str) -> None:
        self._file(conn_id).write(f"{url} <- {self.clock()!r}: {_one_line(text)}\n")

    def received(self, conn_id: int, frame: Union[str, bytes]) -> None:
        self.frames += 1
        if isinstance(frame, (bytes, bytearray)):
            payload = repr(bytes(frame))
        elif "\n" in frame or "\r" in frame:
            stripped = frame.lstrip()
            payload = _one_line(frame) if stripped[:1] in ("{", "[") else repr(frame.encode("utf-8"))
        else:
            payload = frame
        self._file(conn_id).write(f"{self.clock()!r}: {payload}\n")

    def rest(self, url: str, params: Optional[dict], body: bytes) -> None:
        self.rest_bodies += 1
        full = url + ("?" + urlencode(params) if params else "")
        text = body.decode("utf-8", errors="replace")
        self._main.write(f"{full} -> {self.clock()!r}: {_one_line(text)}\n")

    def flush(self) -> None:
        for f in self._files.values():
            f.flush()

    def close(self) -> None:
        for f in self._files.values():
            if not f.closed:
                f.close()

    def __enter__(self) -> "SessionRecorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


async def record_session(
    venue: Any,
    pairs: Sequence[str],
    out: Union[str, os.PathLike],
    *,
    duration: Optional[float] = None,
    stop: Optional[asyncio.Event] = None,
    on_tick: Optional[Callable[[Any], Any]] = None,
    tracker_kwargs: Optional[dict] = None,
) -> tuple[SessionRecorder, Any]:
    """Run the live tracker on ``pairs`` for ``duration`` seconds (or until ``stop`` is set),
    recording everything to ``out``. Returns (recorder, tracker) after stopping."""
    from hbconnect.market.tracker import OrderBookTracker

    cfg = {"exchange": venue.name, "l2_book": list(pairs), "trades": list(pairs)}
    recorder = SessionRecorder(out, configuration=cfg)
    tracker = OrderBookTracker(venue, list(pairs), recorder=recorder, **(tracker_kwargs or {}))
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    try:
        await tracker.start()
        while True:
            if stop is not None and stop.is_set():
                break
            if deadline is not None and loop.time() >= deadline:
                break
            if on_tick is not None:
                on_tick(tracker)
            await asyncio.sleep(0.05 if deadline is None else max(0.0, min(0.25, deadline - loop.time())))
    finally:
        await tracker.stop()
        recorder.close()
    return recorder, tracker
