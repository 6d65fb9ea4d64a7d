"""pytest-benchmark helpers for benchmarks/test_bench_book.py: per-operation timings and ratios.

Each benchmark body runs a fixed number of operations (``ops``); the summary printed at the end of
the session divides pytest-benchmark's best (min) round by that number and prints the ratios the
issue's targets are stated in, all from the same run.
"""
from __future__ import annotations

import os
from typing import Any, Callable

# numpy's OpenBLAS threads spin on idle cores and disturb timings; the book never uses BLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest

_RESULTS: dict[str, float] = {}   # name -> ns per operation (min round)


class Timed:
    """Wraps the ``benchmark`` fixture: ``timed("name", fn, ops)`` runs and records ns per op."""

    def __init__(self, benchmark: Any) -> None:
        self.benchmark = benchmark

    def __call__(self, name: str, fn: Callable[[], Any], ops: int = 1) -> Any:
        self.benchmark.extra_info["ops_per_round"] = ops
        result = self.benchmark(fn)
        stats = getattr(self.benchmark, "stats", None)
        if stats is not None and getattr(stats, "stats", None) is not None:
            _RESULTS[name] = stats.stats.min * 1e9 / ops
        return result

    def pedantic(self, name: str, fn: Callable[..., Any], setup: Callable[[], Any], ops: int,
                 rounds: int) -> Any:
        """Like ``__call__`` with a per-round ``setup`` (untimed) that returns fn's (args, kwargs)."""
        self.benchmark.extra_info["ops_per_round"] = ops
        result = self.benchmark.pedantic(fn, setup=setup, rounds=rounds, iterations=1)
        stats = getattr(self.benchmark, "stats", None)
        if stats is not None and getattr(stats, "stats", None) is not None:
            _RESULTS[name] = stats.stats.min * 1e9 / ops
        return result


@pytest.fixture
def timed(benchmark: Any) -> Timed:
    return Timed(benchmark)


RATIOS = [
    ("checksum 25+25 / apply 10-level str diff", "checksum_okx_25x25", "apply_str_diff_10"),
    ("checksum 25+25 / apply the same 10-level diff (hot)", "checksum_okx_25x25", "apply_str_diff_10_hot"),
    ("checksum kraken 10+10 / apply 10-level str diff", "checksum_kraken_10x10", "apply_str_diff_10"),
    ("top-of-book read / plain attribute read", "read_best_bid", "read_plain_attribute"),
    ("best_bid+best_ask / two plain attributes", "read_best_bid_ask", "read_two_plain_attributes"),
]


# (label, minuend, subtrahend, divisor): (a - b) / c
DIFF_RATIOS = [
    ("checksum after each 10-level diff / the diff (same book, same diffs)",
     "apply_str_diff_10_then_checksum", "apply_str_diff_10_same_book", "apply_str_diff_10_same_book"),
]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RESULTS:
        return
    tr = terminalreporter
    tr.section("hbconnect order book: ns per operation (best round)")
    for name, ns in sorted(_RESULTS.items()):
        tr.write_line(f"  {name:<36} {ns:10.1f} ns")
    tr.section("hbconnect order book: ratios (same run)")
    for label, a, b in RATIOS:
        if a in _RESULTS and b in _RESULTS:
            tr.write_line(f"  {label:<52} {_RESULTS[a] / _RESULTS[b]:6.2f}")
    for label, a, b, c in DIFF_RATIOS:
        if a in _RESULTS and b in _RESULTS and c in _RESULTS:
            tr.write_line(f"  {label:<52} {(_RESULTS[a] - _RESULTS[b]) / _RESULTS[c]:6.2f}")
            tr.write_line(f"  {'(apply+checksum) / apply, same run':<52} {_RESULTS[a] / _RESULTS[b]:6.2f}")
