"""Hypothesis fuzzing of venue translation with mutated real frames (shared by tests/test_venue_*.py).

Hypothesis picks a frame (a recorded one, or a documented example) and a seed; the seed decides
1-3 random changes in the decoded frame (a value replaced by an odd value, a key or an element
removed), a possible truncation or an invalid UTF-8 byte, and whether it is fed back as text or
bytes (gzip-compressed again for venues whose frames are). Drawing only (frame, seed) keeps an
example cheap (a couple of hundred run in about a second) and every failure reproducible (the
mutated frame is printed). ``parse_message`` / ``parse_snapshot`` must then either return
well-formed events or raise ``ParseError``: anything else would be a crash path.
"""
from __future__ import annotations

import copy
import gzip
import json
import random
from typing import Any, Callable, Sequence, Union

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from hbconnect.market.messages import BookDiff, BookSnapshot, ParseError, Trade

ODD_VALUES = (None, True, False, 0, -1, 1, 2 ** 64, -(2 ** 70), 10 ** 400, 1.5, -0.0, 1e308,
              float("nan"), float("inf"), float("-inf"),
              "", "0", "-1", "abc", "NaN", "inf", "1e400", "\u00e9", "x" * 300, [], {}, [[]],
              [None], [["1"]], [["1", "2"]], [[1, 2]], [["1", "2", "3"]], {"a": 1}, "BTC_USDT",
              "btcusdt", "XBT/USD", "BTC-USDT", "1,buy,2", ",,",
              # digits str.isdigit() accepts and int() refuses or reads (Kraken v1's channel id)
              "\u00b2", "1\u00b2", "\u0661\u0662", "\uff11")


_EXTREMES = (float("nan"), float("inf"), float("-inf"), 10 ** 400, -(2 ** 70), 1e308, -1, 1.5, True)


def _odd_value(rng: random.Random) -> Any:
    """A fresh odd value (copied: later changes may go inside it, the constants must not move)."""
    r = rng.random()
    if r < 0.35:
        return rng.choice(_EXTREMES)  # numbers no venue sends, where numbers are expected
    if r < 0.75:
        return copy.deepcopy(rng.choice(ODD_VALUES))
    if r < 0.85:
        return rng.randint(-(2 ** 70), 2 ** 70)
    if r < 0.93:
        return [copy.deepcopy(rng.choice(ODD_VALUES)) for _ in range(rng.randint(0, 3))]
    return {rng.choice(("a", "b", "s", "u", "data", "")): copy.deepcopy(rng.choice(ODD_VALUES))}


def _spots(node: Any, limit: int = 400) -> list[tuple[Any, Any]]:
    """(container, key) of the first ``limit`` values of ``node``, depth first."""
    out: list[tuple[Any, Any]] = []
    stack = [node]
    while stack and len(out) < limit:
        cur = stack.pop()
        items = cur.items() if isinstance(cur, dict) else enumerate(cur)
        for k, v in items:
            out.append((cur, k))
            if isinstance(v, (list, dict)) and v:
                stack.append(v)
    return out


def mutate(text: str, compressed: bool, seed: int) -> Union[str, bytes]:
    """The frame ``text`` with 1-3 random changes (seeded), maybe truncated, as text or bytes."""
    rng = random.Random(seed)
    doc = json.loads(text)
    for _ in range(rng.choice((1, 1, 2, 3))):
        if not isinstance(doc, (list, dict)) or not doc:
            break
        parent, key = rng.choice(_spots(doc))  # any value, at any depth, equally likely
        if rng.random() < 0.2:
            del parent[key]
        else:
            parent[key] = _odd_value(rng)
    out = json.dumps(doc)
    cut = rng.randrange(8)
    if cut == 0:
        out = out[: rng.randrange(len(out) + 1)]
    if compressed:
        return gzip.compress(out.encode()) if rng.random() < 0.9 else out.encode()
    if rng.random() < 0.5:
        return out
    data = out.encode()
    return data[:-1] + b"\xff" if cut == 1 and data else data  # invalid UTF-8 at the end


def _check_events(events: Any) -> None:
    assert type(events) is list
    for ev in events:
        if type(ev) in (BookDiff, BookSnapshot):
            assert type(ev.pair) is str and ev.pair.count("-") == 1, ev
            for row in list(ev.bids) + list(ev.asks):
                # [price, size] (the book ignores what a venue may add after them)
                assert len(row) >= 2 and all(type(x) in (str, float, int) for x in row[:2]), ev
        elif type(ev) is Trade:
            assert ev.side in ("buy", "sell") and type(ev.price) is str and type(ev.amount) is str, ev


#: mutated variants of the drawn frame parsed per hypothesis example
PER_EXAMPLE = 4


def fuzz(parse: Callable[[Union[str, bytes]], Any], frames: Sequence[Union[str, bytes]],
         examples: int = 150, single: bool = False) -> tuple[int, int]:
    """Feed ``examples`` x ``PER_EXAMPLE`` mutations of ``frames`` (text, or gzip bytes) to
    ``parse``; fail on any exception but ``ParseError`` or on a malformed result: a list of
    events, or with ``single`` one result (``parse_snapshot``, ``ws_endpoint``). Returns
    (translated, rejected)."""
    docs = []
    for f in frames:
        if isinstance(f, (bytes, bytearray)) and f[:2] == b"\x1f\x8b":
            docs.append((gzip.decompress(f).decode(), True))
        else:
            docs.append((f.decode() if isinstance(f, (bytes, bytearray)) else f, False))
    counts = [0, 0]

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.integers(0, len(docs) - 1), st.integers(0, 2 ** 32))
    def run(index: int, seed: int) -> None:
        for k in range(PER_EXAMPLE):  # a few variants per example: hypothesis costs more than they
            data = mutate(*docs[index], seed * PER_EXAMPLE + k)
            try:
                events = parse(data)
            except ParseError:
                counts[1] += 1
                continue
            except BaseException:
                note(f"mutated frame: {data!r:.2000}")
                raise
            counts[0] += 1
            note(f"mutated frame: {data!r:.2000}")
            _check_events([events] if single else events)

    run()
    return counts[0], counts[1]


def assert_fuzz_total(parse: Callable[[Union[str, bytes]], Any], frames: Sequence[Union[str, bytes]],
                      examples: int = 150, single: bool = False) -> None:
    """``fuzz`` and check that both outcomes happened: the mutations are neither all harmless
    nor all rejected (so the check above really ran on both paths)."""
    ok, rejected = fuzz(parse, frames, examples, single)
    assert ok > 0 and rejected > 0, (ok, rejected)
