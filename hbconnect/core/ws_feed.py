"""The market-data socket: a lean WebSocket client (:mod:`hbconnect.core.ws_lean`) whose frames go
from the protocol's ``data_received`` straight to the consumer (``OrderBookTracker.feed``), with
no message object, no reader queue, no future and no task switch per frame.

Against aiohttp's reader (:class:`hbconnect.core.ws.WsConnection`, still available as the
fallback: ``OrderBookTracker(ws_transport="aiohttp")``) a frame costs here one header check, one
UTF-8 decode and the consumer's call; what is measured is in ``benchmarks/README.md``
(``bench_tracker_load.py --transports aiohttp,lean``).

The common case (a whole, final, unmasked text or binary frame of at most
``max_message_size`` bytes) is read by the loop of :meth:`FeedWsConnection.data_received`;
everything else (the handshake, control frames, fragmented messages, reserved bits, masked or
oversized frames, a partial frame's tail) goes to :class:`~hbconnect.core.ws_lean.LeanWsConnection`'s
own parser from that point on, so pings are answered, closes echoed, fragments joined and
violations closed with the RFC 6455 code exactly as there. No extension is negotiated
(permessage-deflate off, as ``compress=0`` on the aiohttp path); venues that compress their own
payloads (HTX's gzip) are inflated by their venue module, with its caps.

The surface is ``WsConnection``'s where ``ReconnectingWs`` and the tracker's driver use it:
``from_endpoint``, ``open``, ``pump(on_frame)``, ``send``, ``close``, ``closed``, ``url``,
``opened_at``, ``frames_received``.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from hbconnect.core.ws import WsClosed
from hbconnect.core.ws_lean import Frame, LeanWsConnection, _Violation, _monotonic, _unpack16, _unpack64

logger = logging.getLogger(__name__)

_FIN_TEXT, _FIN_BINARY = 0x81, 0x82


class FeedWsConnection(LeanWsConnection):
    """One market-data socket. ``pump(on_frame)`` hands every data frame to ``on_frame`` from the
    socket's read callback until the connection ends, then raises ``WsClosed`` (as
    ``WsConnection.pump`` does). An exception raised by ``on_frame`` is logged, counted in
    ``consumer_errors`` and closes the connection with 1011 (the runner reconnects), as an
    exception out of ``WsConnection.pump`` does."""

    consumer_errors = 0
    #: socket reads (``data_received`` calls): ``frames_received / reads`` frames per read
    reads = 0

    @classmethod
    def from_endpoint(cls, endpoint: Any, **kw: Any) -> "FeedWsConnection":
        """Build from a ``hbconnect.market.messages.WsEndpoint`` (``session`` is accepted and
        ignored: this client needs no aiohttp session)."""
        kw.pop("session", None)
        return cls(endpoint.url, ping_interval=endpoint.ping_interval, ping_message=endpoint.ping_message,
                   max_message_size=endpoint.max_message_size, **kw)

    async def pump(self, on_frame: Callable[[Frame], Any]) -> None:
        """Frames already queued (between ``open`` and this call) first, then every frame as it
        is read; returns only by raising ``WsClosed`` when the connection ends."""
        if self._loop is None:
            raise WsClosed(f"{self.name}: not open")
        queued = self._frames  # those read before the close are handed over even when it came already
        while queued:
            try:
                on_frame(queued.popleft())
            except Exception as exc:
                queued.clear()
                violation = self._consumer_failed(exc)
                self._fail(violation.code, str(violation))
        self.on_frame = on_frame
        await self.wait_closed()

    def data_received(self, data: bytes) -> None:
        self.reads += 1
        on_frame = self.on_frame
        if on_frame is None or not self._open or self._fragment_op:
            LeanWsConnection.data_received(self, data)  # handshake, queue mode, inside a fragmented message
            return
        buf = self._buf
        if buf:
            buf += data
            data = bytes(buf)
            buf.clear()
        self.last_receive = _monotonic()
        self._pinged = False
        limit = self.max_message_size
        pos, end = 0, len(data)
        try:
            while end - pos >= 2:
                b0 = data[pos]
                n = data[pos + 1]
                if (b0 != _FIN_TEXT and b0 != _FIN_BINARY) or n > 127:
                    break  # control, fragment, reserved bits or masked: the general parser
                if n < 126:
                    start = pos + 2
                elif n == 126:
                    if end - pos < 4:
                        break
                    n = _unpack16(data, pos + 2)[0]
                    start = pos + 4
                else:
                    if end - pos < 10:
                        break
                    n = _unpack64(data, pos + 2)[0]
                    start = pos + 10
                if n > limit:
                    break  # the general parser closes with 1009
                stop = start + n
                if stop > end:
                    break  # a partial frame: kept below
                if b0 == _FIN_TEXT:
                    try:
                        frame: Frame = data[start:stop].decode()
                    except UnicodeDecodeError:
                        break  # the general parser closes with 1007
                else:
                    frame = data[start:stop]
                pos = stop
                self.frames_received += 1
                try:
                    on_frame(frame)
                except Exception as exc:
                    raise self._consumer_failed(exc) from None
            if pos < end:
                self._parse(data[pos:] if pos else data)
        except _Violation as exc:
            self._fail(exc.code, str(exc))

    def _deliver(self, op: int, payload: bytes) -> None:
        """A frame from the general parser (a joined fragmented message, one after a control
        frame): as there, with the consumer's exception contained."""
        try:
            LeanWsConnection._deliver(self, op, payload)
        except _Violation:
            raise
        except Exception as exc:
            raise self._consumer_failed(exc) from None

    def _consumer_failed(self, exc: BaseException) -> _Violation:
        """Count and log ``exc``; the violation that closes the connection (1011), raised by the
        caller so that no later frame of the chunk is handed over."""
        self.consumer_errors += 1
        logger.error("%s: the frame consumer failed (%s: %s); closing", self.name, type(exc).__name__, exc,
                     exc_info=exc)
        return _Violation(1011, f"frame consumer failed ({type(exc).__name__})")


__all__ = ["FeedWsConnection"]
