"""Frame and body codecs: JSON (ujson), gzip / zlib / raw deflate, and a slot for protobuf.

Venue modules and the transport use these so that every decoding error surfaces as one clear
exception type, ``DecodeError``, with a short excerpt of the offending input (never a secret:
these are public market-data frames and REST bodies).
"""
from __future__ import annotations

import zlib
from typing import Any, Callable, Optional, Union

import ujson

Raw = Union[str, bytes, bytearray, memoryview]

__all__ = [
    "DecodeError",
    "InflateLimitError",
    "INFLATE_LIMIT",
    "json_loads",
    "json_dumps",
    "gunzip",
    "inflate",
    "inflate_raw",
    "decompress",
    "decode_json_frame",
    "register_protobuf",
    "decode_protobuf",
    "excerpt",
    "fast_loads",
    "FAST_JSON",
]


class DecodeError(ValueError):
    """A frame or body could not be decoded (truncated, not JSON, bad compression...)."""


class InflateLimitError(DecodeError):
    """Compressed data that inflates past the output limit (a decompression bomb, or a frame far
    beyond anything a venue sends). Inflation stops at the limit: memory stays bounded."""


#: Default output limit of ``gunzip``/``inflate``/``inflate_raw``/``decompress`` in bytes. The
#: largest frames venues send (full 400-level books) inflate to well under 1 MB; the websocket
#: transport accepts 16 MB compressed, which could otherwise inflate to gigabytes.
INFLATE_LIMIT = 8 * 1024 * 1024


def excerpt(data: Any, limit: int = 120) -> str:
    """A short printable excerpt of ``data`` for error messages and logs."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        text = repr(bytes(data[:limit]))
    else:
        text = repr(str(data)[:limit])
    total = len(data) if hasattr(data, "__len__") else 0
    return text + (f"... ({total} bytes)" if total > limit else "")


_loads = ujson.loads

# The hot market-data path may use orjson when it is installed (optional accelerator, about twice
# as fast as ujson on exchange frames; same result types, ValueError subclasses on bad input).
# ujson remains the dependency and the fallback.
try:
    import orjson as _orjson

    fast_loads = _orjson.loads
    FAST_JSON = "orjson"
except ImportError:  # pragma: no cover - depends on the environment
    fast_loads = ujson.loads
    FAST_JSON = "ujson"


def json_loads(data: Raw) -> Any:
    """Parse JSON text or bytes; ``DecodeError`` on empty, truncated or non-JSON input."""
    try:
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        return _loads(data)
    except (ValueError, TypeError) as exc:
        raise DecodeError(f"invalid JSON ({exc}): {excerpt(data)}") from None


def json_dumps(obj: Any) -> str:
    """Compact JSON text (no spaces), as venues expect in subscribe messages."""
    return ujson.dumps(obj, ensure_ascii=False, escape_forward_slashes=False)


def _inflate(data: bytes, wbits: int, what: str, limit: Optional[int]) -> bytes:
    """One complete compressed stream, inflated to at most ``limit`` bytes (None: INFLATE_LIMIT)
    without ever holding more: ``InflateLimitError`` past it, ``DecodeError`` when truncated or
    invalid."""
    cap = INFLATE_LIMIT if limit is None else limit
    try:
        d = zlib.decompressobj(wbits)
        out = d.decompress(data, cap + 1)
        if len(out) > cap or (len(out) == cap and not d.eof):
            raise InflateLimitError(f"{what} data inflates past {cap} bytes ({len(data)} bytes compressed)")
        if not d.eof:
            raise DecodeError(f"truncated {what} stream: {excerpt(data)}")
        return out
    except zlib.error as exc:
        raise DecodeError(f"invalid {what} data ({exc}): {excerpt(data)}") from None


def gunzip(data: bytes, limit: Optional[int] = None) -> bytes:
    """Decompress a gzip member (HTX frames), at most ``limit`` bytes out (see ``_inflate``)."""
    return _inflate(data, 16 + zlib.MAX_WBITS, "gzip", limit)


def inflate(data: bytes, limit: Optional[int] = None) -> bytes:
    """Decompress zlib-wrapped deflate data, at most ``limit`` bytes out."""
    return _inflate(data, zlib.MAX_WBITS, "zlib", limit)


def inflate_raw(data: bytes, limit: Optional[int] = None) -> bytes:
    """Decompress raw deflate data (no header), as OKX/Bitget-style compressed frames use."""
    return _inflate(data, -zlib.MAX_WBITS, "deflate", limit)


def decompress(data: bytes, limit: Optional[int] = None) -> bytes:
    """Detect gzip / zlib / raw deflate by header and decompress (at most ``limit`` bytes out)."""
    if data[:2] == b"\x1f\x8b":
        return gunzip(data, limit)
    if len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0:
        try:
            return inflate(data, limit)
        except InflateLimitError:
            raise
        except DecodeError:
            pass
    return inflate_raw(data, limit)


def decode_json_frame(raw: Raw) -> Any:
    """JSON of a websocket frame: text is parsed as is, binary is decompressed first
    unless it already looks like JSON."""
    if isinstance(raw, str):
        return json_loads(raw)
    b = bytes(raw)
    if b[:1] in (b"{", b"["):
        return json_loads(b)
    return json_loads(decompress(b))


# Protobuf venues (e.g. MEXC v3 push) register a decoder per message type; the core stays
# free of a protobuf dependency.
_PROTOBUF: dict[str, Callable[[bytes], Any]] = {}


def register_protobuf(name: str, decoder: Callable[[bytes], Any]) -> None:
    """Register ``decoder(bytes) -> object`` under ``name``."""
    _PROTOBUF[name] = decoder


def decode_protobuf(name: str, data: bytes) -> Any:
    decoder: Optional[Callable[[bytes], Any]] = _PROTOBUF.get(name)
    if decoder is None:
        raise DecodeError(f"no protobuf decoder registered for {name!r}")
    try:
        return decoder(data)
    except DecodeError:
        raise
    except Exception as exc:  # a generated decoder may raise anything on bad input
        raise DecodeError(f"invalid protobuf {name} ({exc}): {excerpt(data)}") from None
