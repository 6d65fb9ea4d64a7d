"""Decompression is bounded: a frame that inflates past the limit is refused without holding more
than the limit in memory (a 1 MB frame once inflated to 1 GB inside ``feed``)."""
from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from hbconnect.core import codecs
from hbconnect.core.codecs import DecodeError, InflateLimitError, decompress, gunzip, inflate, inflate_raw


def bomb(megabytes: int, wbits: int = 16 + zlib.MAX_WBITS) -> bytes:
    """A real decompression bomb: a JSON frame padded with ``megabytes`` MB of spaces."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    parts = [c.compress(b'{"ch":"market.btcusdt.depth.step0","tick":{"bids":[')]
    chunk = b" " * (1 << 20)
    parts += [c.compress(chunk) for _ in range(megabytes)]
    parts.append(c.compress(b'[1,1]],"asks":[]}}'))
    parts.append(c.flush())
    return b"".join(parts)


@pytest.mark.parametrize("fn,wbits", [(gunzip, 16 + zlib.MAX_WBITS), (inflate, zlib.MAX_WBITS),
                                      (inflate_raw, -zlib.MAX_WBITS), (decompress, 16 + zlib.MAX_WBITS),
                                      (decompress, -zlib.MAX_WBITS)])
def test_a_bomb_is_refused_with_bounded_memory(fn, wbits):
    data = bomb(64, wbits)  # 64 MB of output from ~64 KB
    assert len(data) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(InflateLimitError, match="inflates past"):
            fn(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * codecs.INFLATE_LIMIT + (1 << 20)  # never the 64 MB


def test_the_limit_is_configurable_and_exact():
    payload = b"x" * 5000
    data = gzip.compress(payload)
    assert gunzip(data, limit=5000) == payload
    with pytest.raises(InflateLimitError):
        gunzip(data, limit=4999)
    assert gunzip(data) == payload
    assert inflate(zlib.compress(payload), limit=5000) == payload
    with pytest.raises(InflateLimitError):
        inflate_raw(zlib.compress(payload)[2:-4], limit=100)


def test_the_module_default_is_the_limit(monkeypatch):
    monkeypatch.setattr(codecs, "INFLATE_LIMIT", 1000)
    with pytest.raises(InflateLimitError):
        gunzip(gzip.compress(b"y" * 1001))
    assert gunzip(gzip.compress(b"y" * 1000)) == b"y" * 1000


def test_truncated_and_invalid_streams_stay_decode_errors():
    data = gzip.compress(b"z" * 1000)
    with pytest.raises(DecodeError, match="truncated") as info:
        gunzip(data[:-6])
    assert not isinstance(info.value, InflateLimitError)
    with pytest.raises(DecodeError, match="invalid"):
        gunzip(b"\x1f\x8b" + b"\x00" * 20)
