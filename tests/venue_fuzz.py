"""Hypothesis fuzzing of venue translation with mutated real frames (shared by tests/test_venue_*.py).

A frame (a recorded one, or a documented example) is decoded, 1-3 random spots in it are changed
(a value replaced by an odd value or by random JSON, a key or an element removed), the text is
possibly truncated or cut mid-character, and it is fed back as text or bytes (gzip-compressed
again for venues whose frames are). ``parse_message`` / ``parse_snapshot`` must then either
return well-formed events or raise ``ParseError``: anything else would be a crash path.
"""
from __future__ import annotations

import gzip
import json
from typing import Any, Callable, Sequence, Union

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbconnect.market.messages import BookDiff, BookSnapshot, ParseError, Trade

ODD_VALUES = (None, True, False, 0, -1, 1, 2 ** 64, -(2 ** 70), 10 ** 400, 1.5, -0.0, 1e308,
              "", "0", "-1", "abc", "NaN", "inf", "1e400", "\u00e9", "x" * 300, [], {}, [[]],
              [None], [["1"]], [["1", "2"]], [[1, 2]], [["1", "2", "3"]], {"a": 1}, "BTC_USDT",
              "btcusdt", "XBT/USD", "BTC-USDT", "1,buy,2", ",,")

_json_values = st.recursive(
    st.one_of(st.sampled_from(ODD_VALUES), st.integers(-(2 ** 70), 2 ** 70),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=5,
)


@st.composite
def _mutated(draw: Any, docs: Sequence[tuple[str, bool]]) -> Union[str, bytes]:
    text, compressed = draw(st.sampled_from(docs))
    doc = json.loads(text)
    for _ in range(draw(st.integers(1, 3))):
        parent, key = None, None
        node = doc
        # walk down at random, stopping at a leaf or when told to
        while isinstance(node, (list, dict)) and node and (parent is None or draw(st.booleans())):
            keys = list(node) if isinstance(node, dict) else range(len(node))
            k = draw(st.sampled_from(list(keys)[:64]))
            parent, key, node = node, k, node[k]
        if parent is None:
            continue
        if draw(st.integers(0, 4)) == 0:
            del parent[key]
        else:
            parent[key] = draw(_json_values)
    out = json.dumps(doc)
    cut = draw(st.integers(0, 7))
    if cut == 0:
        out = out[: draw(st.integers(0, len(out)))]
    data: Union[str, bytes] = out
    if compressed:
        data = gzip.compress(out.encode()) if draw(st.integers(0, 9)) else out.encode()
    elif draw(st.booleans()):
        data = out.encode()
        if cut == 1:  # invalid UTF-8 at the end
            data = data[:-1] + b"\xff"
    return data


def _check_events(events: Any) -> None:
    assert type(events) is list
    for ev in events:
        if type(ev) in (BookDiff, BookSnapshot):
            assert type(ev.pair) is str and ev.pair.count("-") == 1, ev
            for row in list(ev.bids) + list(ev.asks):
                assert len(row) == 2 and all(type(x) in (str, float, int) for x in row), ev
        elif type(ev) is Trade:
            assert ev.side in ("buy", "sell") and type(ev.price) is str and type(ev.amount) is str, ev


def fuzz(parse: Callable[[Union[str, bytes]], Any], frames: Sequence[Union[str, bytes]],
         examples: int = 300) -> tuple[int, int]:
    """Feed ``examples`` mutations of ``frames`` (text, or gzip bytes) to ``parse``; fail on any
    exception but ``ParseError`` or on a malformed event. Returns (translated, rejected)."""
    docs = []
    for f in frames:
        if isinstance(f, (bytes, bytearray)) and f[:2] == b"\x1f\x8b":
            docs.append((gzip.decompress(f).decode(), True))
        else:
            docs.append((f.decode() if isinstance(f, (bytes, bytearray)) else f, False))
    counts = [0, 0]

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_mutated(docs))
    def run(data: Union[str, bytes]) -> None:
        try:
            events = parse(data)
        except ParseError:
            counts[1] += 1
            return
        counts[0] += 1
        _check_events(events if type(events) is list else [events])

    run()
    return counts[0], counts[1]


def assert_fuzz_total(parse: Callable[[Union[str, bytes]], Any], frames: Sequence[Union[str, bytes]],
                      examples: int = 300) -> None:
    """``fuzz`` and check that both outcomes happened: the mutations are neither all harmless
    nor all rejected (so the check above really ran on both paths)."""
    ok, rejected = fuzz(parse, frames, examples)
    assert ok > 0 and rejected > 0, (ok, rejected)
