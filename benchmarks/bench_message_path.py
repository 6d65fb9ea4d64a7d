"""Message-path benchmark (hbconnect side): raw Binance depth frame -> applied book, per frame.

pytest-benchmark:  python3 -m pytest benchmarks/bench_message_path.py --benchmark-only
script:            python3 benchmarks/bench_message_path.py [--frames 200000] [--rounds 5]

The script also prints the split (JSON parse alone; the venue's parse_message; the tracker's
general path, fast path off; the full path as it runs: the tracker's compiled fast path) so that
the cost of each stage is visible; all in one process and one run.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo, if not installed

from message_path import make_tracker, repeated_frames, run_hbconnect  # noqa: E402

N_BENCH = int(os.environ.get("HBCONNECT_BENCH_FRAMES", "50000"))


def test_message_path_hbconnect(benchmark):
    frames = repeated_frames(N_BENCH)
    state = {}

    def setup():
        state["tracker"], state["conn"] = make_tracker()
        return (frames, state["tracker"], state["conn"]), {}

    benchmark.pedantic(run_hbconnect, setup=setup, rounds=5, iterations=1)
    benchmark.extra_info["frames"] = len(frames)
    benchmark.extra_info["us_per_frame"] = benchmark.stats.stats.min / len(frames) * 1e6


def _stage_times(frames: list[str]) -> dict[str, float]:
    from hbconnect.core.codecs import fast_loads

    loads = fast_loads
    clock = time.thread_time  # CPU time of this thread: robust on a shared, loaded machine
    t0 = clock()
    for f in frames:
        loads(f)
    t_json = clock() - t0
    # the venue of a tracker, so that its pairs are subscribed (known symbols: the parser's hot
    # path, as in the tracker)
    tracker, conn = make_tracker()
    parse = tracker.venue.parse_message
    t0 = clock()
    for f in frames:
        parse(f)
    t_parse = clock() - t0
    t_full = run_hbconnect(frames, tracker, conn, clock=clock)
    tracker, conn = make_tracker(fast_path=False)
    t_general = run_hbconnect(frames, tracker, conn, clock=clock)
    n = len(frames)
    return {"JSON parse": t_json / n * 1e6, "venue parse": t_parse / n * 1e6,
            "general path": t_general / n * 1e6, "full path": t_full / n * 1e6}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    frames = repeated_frames(args.frames)
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for k, v in _stage_times(frames).items():
            best[k] = min(best.get(k, float("inf")), v)
    from hbconnect.core.codecs import FAST_JSON

    print(f"{len(frames)} Binance depth frames, best of {args.rounds} rounds (us of thread CPU time per frame; "
          f"frame JSON parser: {FAST_JSON}):")
    for k, v in best.items():
        print(f"  {k:<12} {v:6.2f} us")
    full = best["full path"]
    print(f"hbconnect message path: {full:.2f} us/frame = {1e6 / full:,.0f} frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
