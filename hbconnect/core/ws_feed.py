"""The market-data socket: a lean WebSocket client (:mod:`hbconnect.core.ws_lean`) whose frames go
from the protocol's read callback straight to the consumer (``OrderBookTracker.feed``), with no
message object, no reader queue, no future and no task switch per frame.

Against aiohttp's reader (:class:`hbconnect.core.ws.WsConnection`, still available as the
fallback: ``OrderBookTracker(ws_transport="aiohttp")``) a frame costs here one header check, one
UTF-8 decode and the consumer's call; what is measured is in ``benchmarks/README.md``
(``bench_tracker_load.py --transports aiohttp,lean``).

The connection is an ``asyncio.BufferedProtocol``: asyncio's loop reads into its own 64 KiB
buffer (grown while a larger frame arrives, shrunk after), not into a new bytes object of the
loop's read size per read; uvloop, which hands over bytes, has them copied there. The common case (a whole, final, unmasked text or binary frame of at most
``max_message_size`` bytes) is read by the loop of :meth:`FeedWsConnection.buffer_updated`;
everything else (the handshake, control frames, fragmented messages, reserved bits, masked or
oversized frames) goes to :class:`~hbconnect.core.ws_lean.LeanWsConnection`'s own parser from that
point of the read on, so pings are answered, closes echoed, fragments joined and violations
closed with the RFC 6455 code exactly as there. No extension is negotiated (permessage-deflate
off, as ``compress=0`` on the aiohttp path); venues that compress their own payloads (HTX's gzip)
are inflated by their venue module, with its caps.

The surface is ``WsConnection``'s where ``ReconnectingWs`` and the tracker's driver use it:
``from_endpoint``, ``open``, ``pump(on_frame)``, ``send``, ``close``, ``closed``, ``url``,
``opened_at``, ``frames_received``.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from hbconnect.core.ws import WsClosed
from hbconnect.core.ws_lean import Frame, LeanWsConnection, _Violation, _monotonic, _unpack16, _unpack64

logger = logging.getLogger(__name__)

_FIN_TEXT, _FIN_BINARY = 0x81, 0x82
_READ_SIZE = 64 * 1024  # the read buffer of a connection (grown while a larger frame arrives)
_MIN_FREE = 16 * 1024  # a read gets at least this much room


class FeedWsConnection(LeanWsConnection, asyncio.BufferedProtocol):
    """One market-data socket. ``pump(on_frame)`` hands every data frame to ``on_frame`` from the
    socket's read callback until the connection ends, then raises ``WsClosed`` (as
    ``WsConnection.pump`` does). An exception raised by ``on_frame`` is logged, counted in
    ``consumer_errors`` and closes the connection with 1011 (the runner reconnects), as an
    exception out of ``WsConnection.pump`` does."""

    consumer_errors = 0
    #: socket reads: ``frames_received / reads`` frames per read
    reads = 0
    _rlen = 0  # bytes of a partial frame at the start of the read buffer

    def __init__(self, url: str, **kw: Any) -> None:
        super().__init__(url, **kw)
        self._rbuf = bytearray(_READ_SIZE)
        self._rview = memoryview(self._rbuf)

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

    # ------------------------------------------------------------------ asyncio.BufferedProtocol
    # The transport reads into this connection's own buffer (``recv_into``): no bytes object of
    # the loop's read size (256 KiB on asyncio's loop) is allocated per read.
    def get_buffer(self, sizehint: int) -> memoryview:
        if len(self._rbuf) - self._rlen < _MIN_FREE:
            self._resize(self._rlen + _READ_SIZE)
        return self._rview[self._rlen:]

    def data_received(self, data: bytes) -> None:
        """For loops that hand over bytes instead (uvloop: its read buffer is its own): copied
        into the read buffer, then read as ``buffer_updated`` reads."""
        n = len(data)
        rlen = self._rlen
        if len(self._rbuf) - rlen < n:
            self._resize(rlen + n + _READ_SIZE)
        self._rview[rlen:rlen + n] = data
        self.buffer_updated(n)

    def _resize(self, size: int, keep: int = -1) -> None:
        """A new read buffer of ``size`` bytes holding the first ``keep`` bytes of the old one
        (default: the ``_rlen`` kept); a new object, as the old one may still be exported to a
        memoryview."""
        keep = self._rlen if keep < 0 else keep
        rbuf = bytearray(size)
        rbuf[:keep] = self._rview[:keep]
        self._rbuf, self._rview = rbuf, memoryview(rbuf)

    def buffer_updated(self, nbytes: int) -> None:
        self.reads += 1
        total = self._rlen + nbytes
        on_frame = self.on_frame
        if on_frame is None or not self._open or self._fragment_op:
            # the handshake, queue mode, inside a fragmented message: ws_lean's parser
            data = bytes(self._rview[:total])
            self._rlen = 0
            LeanWsConnection.data_received(self, data)
            return
        held = self._buf  # the tail of a frame ws_lean's parser kept: in front of the new bytes
        if held:
            k = len(held)
            if k + total > len(self._rbuf):
                self._resize(k + total + _READ_SIZE, total)
            rbuf = self._rbuf
            rbuf[k:k + total] = rbuf[:total]
            rbuf[:k] = held
            held.clear()
            total += k
        self.last_receive = _monotonic()
        self._pinged = False
        rbuf, view, limit = self._rbuf, self._rview, self.max_message_size
        pos = 0
        general = False  # the rest goes to ws_lean's parser
        try:
            while total - pos >= 2:
                b0 = rbuf[pos]
                n = rbuf[pos + 1]
                if (b0 != _FIN_TEXT and b0 != _FIN_BINARY) or n > 127:
                    general = True  # control, fragment, reserved bits or masked
                    break
                if n < 126:
                    start = pos + 2
                elif n == 126:
                    if total - pos < 4:
                        break
                    n = _unpack16(rbuf, pos + 2)[0]
                    start = pos + 4
                else:
                    if total - pos < 10:
                        break
                    n = _unpack64(rbuf, pos + 2)[0]
                    start = pos + 10
                if n > limit:
                    general = True  # ws_lean closes with 1009
                    break
                stop = start + n
                if stop > total:
                    break  # a partial frame: kept for the next read
                if b0 == _FIN_TEXT:
                    try:
                        frame: Frame = str(view[start:stop], "utf-8")
                    except UnicodeDecodeError:
                        general = True  # ws_lean closes with 1007
                        break
                else:
                    frame = bytes(view[start:stop])
                pos = stop
                self.frames_received += 1
                try:
                    on_frame(frame)
                except Exception as exc:
                    raise self._consumer_failed(exc) from None
            if general:
                data = bytes(view[pos:total])
                self._rlen = 0
                self._parse(data)  # keeps a partial frame in its own buffer (taken back above)
                pos = total
        except _Violation as exc:
            self._rlen = 0
            self._fail(exc.code, str(exc))
            return
        rest = total - pos
        if rest and pos:
            rbuf[:rest] = view[pos:total]
        self._rlen = rest
        if not rest and len(rbuf) > _READ_SIZE:
            self._resize(_READ_SIZE)  # after a large frame: back to the usual size

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
