"""The message path: raw Binance depth frame text -> book updated, per frame, in one run for
- hbconnect: the Binance venue module and the tracker's synchronous frame path
  (``OrderBookTracker.feed``);
- Hummingbot: its Binance order book data source feeding its ``OrderBookTracker`` tasks, only the
  network replaced by the recorded frames and REST bodies (``run_hummingbot``);
- cryptofeed: its Binance ``message_handler`` (``run_cryptofeed``).

Frames are the ``depth@100ms`` frames of the recorded Binance session (tests/data/recordings),
repeated to a large count with their ``U``/``u`` ids shifted so that every repetition is a valid,
contiguous continuation (a repeated frame with old ids would be dropped as stale and measure
nothing). Peers that are not installed are reported and skipped (benchmarks/README.md: install).

    python3 benchmarks/message_path.py [--frames 100000] [--rounds 3] [--json]
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Optional

_IDS = re.compile(r'"U":(\d+),"u":(\d+)')


def fixtures_dir() -> Path:
    """The repository's recorded sessions (tests/data/recordings); HBCONNECT_FIXTURES overrides."""
    env = os.environ.get("HBCONNECT_FIXTURES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "tests" / "data" / "recordings"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def recorded_depth_frames(fixtures: Optional[Path] = None) -> list[str]:
    """The combined-stream depthUpdate frames of the recording, in order."""
    fixtures = fixtures or fixtures_dir()
    out = []
    for line in _lines(fixtures / "BINANCE.ws.1.0"):
        head, sep, payload = line.partition(": ")
        if sep and '"depthUpdate"' in payload and head.replace(".", "", 1).isdigit():
            out.append(payload)
    return out


def recorded_exchange_info(fixtures: Optional[Path] = None) -> bytes:
    """The recording's exchangeInfo body (the instrument listing the venue module loads)."""
    fixtures = fixtures or fixtures_dir()
    for line in _lines(fixtures / "BINANCE.0"):
        head, sep, body = line.partition(": ")
        if sep and "/exchangeInfo -> " in head:
            return body.encode()
    raise FileNotFoundError("no exchangeInfo in the Binance recording")


def recorded_snapshots(fixtures: Optional[Path] = None) -> dict[str, bytes]:
    """symbol -> REST depth body of the recording."""
    fixtures = fixtures or fixtures_dir()
    out = {}
    for line in _lines(fixtures / "BINANCE.http.0.0"):
        head, sep, body = line.partition(": ")
        if " -> " in head and "symbol=" in head:
            sym = head.split("symbol=")[1].split("&")[0]
            out[sym] = body.encode()
    return out


def repeated_frames(count: int, fixtures: Optional[Path] = None) -> list[str]:
    """``count`` depth frames: the recorded ones repeated, ids shifted per symbol so that each
    frame continues the previous one of its symbol (``U == previous u + 1``)."""
    base = recorded_depth_frames(fixtures)
    sym_re = re.compile(r'"s":"([A-Z0-9]+)"')
    last: dict[str, int] = {}
    parsed = []
    for f in base:
        m = _IDS.search(f)
        sym = sym_re.search(f).group(1)
        parsed.append((f, sym, int(m.group(1)), int(m.group(2))))
    # the first recorded id of each symbol: the repetitions continue from the last applied id
    for f, sym, U, u in parsed:
        last.setdefault(sym, U - 1)
    out: list[str] = []
    while len(out) < count:
        for f, sym, U, u in parsed:
            if len(out) >= count:
                break
            start = last[sym] + 1
            end = start + (u - U)
            last[sym] = end
            out.append(_IDS.sub(f'"U":{start},"u":{end}', f, count=1))
    return out


def make_tracker(fixtures: Optional[Path] = None, **tracker_kw):
    """A tracker for the recorded pairs, LIVE from the recorded snapshots (ids lowered so that
    the repeated frames join them); ``tracker_kw`` go to ``OrderBookTracker``. Returns
    (tracker, connection)."""
    import ujson

    from hbconnect.exchanges import market_data_venue
    from hbconnect.market.tracker import OrderBookTracker

    venue = market_data_venue("binance").with_urls()
    venue.load_symbols(recorded_exchange_info(fixtures))
    snaps = recorded_snapshots(fixtures)
    frames = recorded_depth_frames(fixtures)
    first_u = {}
    for f in frames:
        m = _IDS.search(f)
        sym = re.search(r'"s":"([A-Z0-9]+)"', f).group(1)
        first_u.setdefault(sym, int(m.group(1)) - 1)
    pairs = [venue.from_venue_symbol(s) for s in snaps]
    tracker_kw.setdefault("stale_timeout", None)
    tracker = OrderBookTracker(venue, pairs, **tracker_kw)
    conn = tracker.connections[0]
    tracker.connection_up(conn)
    for sym, body in snaps.items():
        pair = venue.from_venue_symbol(sym)
        doc = ujson.loads(body)
        doc["lastUpdateId"] = first_u[sym]
        tb = tracker.books[pair]
        tracker.on_snapshot(pair, tb.gen, ujson.dumps(doc).encode())
        assert tb.state.value == "live", pair
    return tracker, conn


def run_hbconnect(frames: list[str], tracker=None, conn=None, clock=time.perf_counter) -> float:
    """Seconds to push ``frames`` through ``tracker.feed``; checks every frame was applied."""
    if tracker is None:
        tracker, conn = make_tracker()
    before = sum(tb.diffs_applied for tb in tracker.books.values())
    feed = tracker.feed
    t0 = clock()
    for f in frames:
        feed(conn, f, 0.0)
    dt = clock() - t0
    applied = sum(tb.diffs_applied for tb in tracker.books.values()) - before
    gaps = sum(tb.gaps for tb in tracker.books.values())
    if applied != len(frames) or gaps or tracker.bad_frames:
        raise AssertionError(f"message path lost frames: applied {applied}/{len(frames)}, gaps {gaps}")
    return dt


# ------------------------------------------------------------------------------------ peers
# The same frames through Hummingbot's pipeline and cryptofeed's handler, where they install.
# Only the network is replaced: recorded frames instead of the socket, the recorded REST bodies
# instead of HTTP. Everything between the socket and the book is the peer's own code.

def _ids_by_symbol(frames: list[str]) -> tuple[dict, dict]:
    """symbol -> (first U - 1, last u) over ``frames``."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for f in frames:
        m = _IDS.search(f)
        sym = re.search(r'"s":"([A-Z0-9]+)"', f).group(1)
        first.setdefault(sym, int(m.group(1)) - 1)
        last[sym] = int(m.group(2))
    return first, last


def _joined_snapshots(frames: list[str], fixtures: Optional[Path] = None) -> dict[str, str]:
    """The recorded REST bodies with ``lastUpdateId`` set so that ``frames`` continue them
    (the same adjustment ``make_tracker`` makes for hbconnect)."""
    import json

    first, _ = _ids_by_symbol(frames)
    out = {}
    for sym, body in recorded_snapshots(fixtures).items():
        doc = json.loads(body)
        doc["lastUpdateId"] = first[sym]
        out[sym] = json.dumps(doc)
    return out


def _symbol_assets(fixtures: Optional[Path] = None) -> dict[str, tuple[str, str]]:
    """symbol -> (base, quote) from the recorded exchangeInfo."""
    import json

    fixtures = fixtures or fixtures_dir()
    for line in _lines(fixtures / "BINANCE.0"):
        head, sep, body = line.partition(": ")
        if sep and "exchangeInfo" in head:
            info = json.loads(body)
            return {s["symbol"]: (s["baseAsset"], s["quoteAsset"]) for s in info["symbols"]}
    raise ValueError("no exchangeInfo in BINANCE.0")


def _exchange_info(fixtures: Optional[Path] = None) -> dict:
    import json

    fixtures = fixtures or fixtures_dir()
    for line in _lines(fixtures / "BINANCE.0"):
        head, sep, body = line.partition(": ")
        if sep and "exchangeInfo" in head:
            return json.loads(body)
    raise ValueError("no exchangeInfo in BINANCE.0")


def hummingbot_available() -> Optional[str]:
    try:
        import hummingbot.connector.exchange.binance.binance_api_order_book_data_source  # noqa: F401
        import hummingbot.core.data_type.order_book_tracker  # noqa: F401
    except Exception as exc:
        return f"not installed ({type(exc).__name__}: {exc})"
    return None


def cryptofeed_available() -> Optional[str]:
    try:
        import cryptofeed.exchanges  # noqa: F401
    except Exception as exc:
        return f"not installed ({type(exc).__name__}: {exc})"
    return None


def run_hummingbot(frames: list[str], fixtures: Optional[Path] = None, clock=time.thread_time,
                   batch: int = 50, timeout: float = 600.0) -> tuple[float, dict]:
    """Hummingbot's pipeline as it runs in a bot: ``BinanceAPIOrderBookDataSource`` (built with
    ``binance_web_utils.build_api_factory``, time synchronizer included) feeding its
    ``OrderBookTracker`` tasks. The aiohttp session is replaced by one whose websocket returns the
    recorded frames (the raw-stream payloads Hummingbot subscribes to) and whose REST answers the
    recorded snapshot and server time; the connector object is replaced by the two symbol-mapping
    coroutines and the last-price call the data source uses. Frames are delivered once every book
    is initialised; the socket yields to the event loop every ``batch`` frames (a network read
    carrying several frames). Returns (seconds from the first frame to the last frame applied,
    {pair: (best_bid, best_ask)})."""
    import asyncio

    import aiohttp
    from hummingbot.connector.exchange.binance import binance_web_utils as web_utils
    from hummingbot.connector.exchange.binance.binance_api_order_book_data_source import (
        BinanceAPIOrderBookDataSource,
    )
    from hummingbot.connector.time_synchronizer import TimeSynchronizer
    from hummingbot.core.data_type.order_book_tracker import OrderBookTracker
    from hummingbot.core.web_assistant.connections.connections_factory import ConnectionsFactory

    # Hummingbot subscribes to raw streams: the payload is the combined frame's "data" object
    inner = [f[f.index(',"data":') + 8:-1] for f in frames]
    snaps = _joined_snapshots(frames, fixtures)
    _, last_u = _ids_by_symbol(frames)
    assets = _symbol_assets(fixtures)
    s2p = {s: f"{assets[s][0]}-{assets[s][1]}" for s in snaps}
    p2s = {p: s for s, p in s2p.items()}
    final = {s2p[s]: u for s, u in last_u.items()}
    state: dict = {}

    class _Resp:
        def __init__(self, method, url, body):
            self.method, self.url, self.status, self._body = method, url, 200, body
            self.headers = {"Content-Type": "application/json"}
            self.content_type = "application/json"

        async def json(self):
            import json
            return json.loads(self._body)

        async def read(self):
            return self._body.encode()

        async def text(self):
            return self._body

    class _WS:
        closed = False
        close_code = None

        def __init__(self):
            self.i = 0
            self.never = asyncio.get_running_loop().create_future()

        async def receive(self, timeout=None):
            if self.i == 0:
                await state["go"].wait()
                state["t0"] = clock()
            if self.i >= len(inner):
                await self.never
            f = inner[self.i]
            self.i += 1
            if self.i % batch == 0:
                await asyncio.sleep(0)
            return aiohttp.WSMessage(aiohttp.WSMsgType.TEXT, f, None)

        async def send_json(self, payload, **kw):
            pass

        async def send_str(self, payload, **kw):
            pass

        async def ping(self, *a):
            pass

        async def pong(self, *a):
            pass

        async def close(self, **kw):
            self.closed = True
            if not self.never.done():
                self.never.cancel()

    class _Session:
        closed = False

        async def ws_connect(self, url, **kw):
            return _WS()

        async def request(self, method, url, params=None, data=None, headers=None, **kw):
            if "/depth" in url:
                return _Resp(method, url, snaps[params["symbol"]])
            if "/time" in url:
                return _Resp(method, url, '{"serverTime": %d}' % int(time.time() * 1000))
            raise ValueError(f"unexpected REST call {url}")

        async def close(self):
            pass

    class _Connector:
        async def exchange_symbol_associated_to_pair(self, trading_pair):
            return p2s[trading_pair]

        async def trading_pair_associated_to_exchange_symbol(self, symbol):
            return s2p[symbol]

        async def get_last_traded_prices(self, trading_pairs):
            return {p: 1.0 for p in trading_pairs}

    async def main():
        state["go"] = asyncio.Event()
        factory = ConnectionsFactory()
        factory._shared_client = _Session()
        factory._ws_independent_session = None
        api_factory = web_utils.build_api_factory(throttler=web_utils.create_throttler(),
                                                  time_synchronizer=TimeSynchronizer(), domain="com")
        pairs = list(p2s)
        source = BinanceAPIOrderBookDataSource(trading_pairs=pairs, connector=_Connector(),
                                               api_factory=api_factory, domain="com")
        tracker = OrderBookTracker(data_source=source, trading_pairs=pairs, domain="com")
        tracker.start()
        try:
            await asyncio.wait_for(tracker.wait_ready(), timeout)
            state["go"].set()
            books = tracker.order_books
            deadline = time.monotonic() + timeout
            while not all(books[p].last_diff_uid == u for p, u in final.items()):
                if time.monotonic() > deadline:
                    raise TimeoutError("hummingbot pipeline did not apply every frame")
                await asyncio.sleep(0.002)
            dt = clock() - state["t0"]
            tops = {p2s[p]: (books[p].get_price(False), books[p].get_price(True)) for p in pairs}
            return dt, tops
        finally:
            tracker.stop()
            ConnectionsFactory()._shared_client = None

    return asyncio.run(main())


def run_cryptofeed(frames: list[str], fixtures: Optional[Path] = None, clock=time.thread_time) -> tuple[float, dict]:
    """cryptofeed's ``Binance.message_handler`` (the coroutine its connection handler awaits for
    every frame) with an L2_BOOK callback, its HTTP connection answering the recorded snapshot.
    Returns (seconds, {symbol: (best_bid, best_ask)})."""
    import asyncio

    from cryptofeed.defines import L2_BOOK
    from cryptofeed.exchanges import Binance
    from cryptofeed.symbols import Symbols

    snaps = _joined_snapshots(frames, fixtures)
    if not Symbols.populated(Binance.id):
        syms, info = Binance._parse_symbol_data(_exchange_info(fixtures))
        Symbols.set(Binance.id, syms, info)
    assets = _symbol_assets(fixtures)
    std = {s: f"{assets[s][0]}-{assets[s][1]}" for s in snaps}
    seen = [0]

    async def on_book(book, receipt_timestamp):
        seen[0] += 1

    class _HTTP:
        async def read(self, url, **kw):
            sym = url.split("symbol=")[1].split("&")[0]
            return snaps[sym]

        async def close(self):
            pass

    async def main():
        feed = Binance(symbols=list(std.values()), channels=[L2_BOOK], callbacks={L2_BOOK: on_book})
        feed.http_conn = _HTTP()
        handler = feed.message_handler
        now = time.time
        t0 = clock()
        for f in frames:
            await handler(f, None, now())
        dt = clock() - t0
        _, last_u = _ids_by_symbol(frames)
        for sym, u in last_u.items():
            got = feed.last_update_id.get(std[sym])
            if got != u:
                raise AssertionError(f"cryptofeed stopped at {got} for {sym}, expected {u}")
        tops = {}
        for sym, pair in std.items():
            bk = feed._l2_book[pair].book
            tops[sym] = (float(bk.bids.index(0)[0]), float(bk.asks.index(0)[0]))
        return dt, tops

    return asyncio.run(main())


def hbconnect_tops(tracker) -> dict:
    out = {}
    for pair, tb in tracker.books.items():
        sym = tracker.venue.to_venue_symbol(pair) if hasattr(tracker, "venue") else pair
        out[sym] = (tb.book.best_bid, tb.book.best_ask)
    return out


# ------------------------------------------------------------------------------------ script

def compare(n_frames: int = 100_000, rounds: int = 3, fixtures: Optional[Path] = None,
            log=lambda s: None) -> dict:
    """hbconnect, cryptofeed and Hummingbot on the same frames in one run; best of ``rounds``
    per pipeline (rounds interleave the pipelines). Times are CPU time of the (single) thread."""
    frames = repeated_frames(n_frames, fixtures)
    clock = time.thread_time
    names = ["hbconnect", "cryptofeed", "hummingbot"]
    status = {"hbconnect": None, "cryptofeed": cryptofeed_available(), "hummingbot": hummingbot_available()}
    best = {n: float("inf") for n in names}

    def one(name: str, frs: list) -> tuple[float, dict]:
        if name == "hbconnect":
            tracker, conn = make_tracker(fixtures)
            dt = run_hbconnect(frs, tracker, conn, clock=clock)
            return dt, hbconnect_tops(tracker)
        if name == "cryptofeed":
            return run_cryptofeed(frs, fixtures, clock)
        return run_hummingbot(frs, fixtures, clock)

    # correctness: the recording itself (not repeated: repetition can cross a book, which
    # hbconnect and Hummingbot resolve and cryptofeed does not) must end in the same top of book
    recording = repeated_frames(len(recorded_depth_frames(fixtures)), fixtures)
    tops: dict = {}
    for name in names:
        if not status[name]:
            log(f"recording once: {name}")
            tops[name] = one(name, recording)[1]
    for r in range(rounds):
        for name in names:
            if status[name]:
                continue
            log(f"round {r + 1}/{rounds}: {name}")
            best[name] = min(best[name], one(name, frames)[0])
    out = {"frames": len(frames), "rounds": rounds, "timer": "thread CPU time", "pipelines": {}}
    hb = best["hbconnect"]
    for name in names:
        if status[name]:
            out["pipelines"][name] = {"status": status[name]}
            continue
        us = best[name] / len(frames) * 1e6
        entry = {"status": "ok", "us_per_frame": us, "frames_per_s": len(frames) / best[name],
                 "ratio_vs_hbconnect": best[name] / hb}
        if name != "hbconnect" and "hbconnect" in tops:
            entry["same_top_of_book_on_recording"] = all(
                tuple(map(float, tops[name][s])) == tuple(map(float, tops["hbconnect"][s])) for s in tops["hbconnect"])
        out["pipelines"][name] = entry
    return out


def format_compare(doc: dict) -> str:
    lines = [f"{doc['frames']:,} Binance depth frames (recorded session, repeated), best of {doc['rounds']} "
             f"rounds, {doc['timer']}", "",
             f"{'pipeline':<12} {'us/frame':>9} {'frames/s':>11} {'vs hbconnect':>13}  same top of book as hbconnect"]
    for name, e in doc["pipelines"].items():
        if e["status"] != "ok":
            lines.append(f"{name:<12} {e['status']}")
            continue
        same = e.get("same_top_of_book_on_recording")
        lines.append(f"{name:<12} {e['us_per_frame']:9.2f} {e['frames_per_s']:11,.0f} "
                     f"{e['ratio_vs_hbconnect']:12.1f}x  {'' if same is None else same}")
    tg = []
    p = doc["pipelines"]
    if p.get("hummingbot", {}).get("status") == "ok":
        r = p["hummingbot"]["ratio_vs_hbconnect"]
        tg.append(f"  [{'PASS' if r >= 10 else 'FAIL'}] >= 10x Hummingbot's pipeline: {r:.1f}x")
    if p.get("cryptofeed", {}).get("status") == "ok":
        r = p["cryptofeed"]["ratio_vs_hbconnect"]
        tg.append(f"  [{'PASS' if r >= 3 else 'FAIL'}] >= 3x cryptofeed's handler: {r:.1f}x")
    if p.get("hbconnect", {}).get("status") == "ok":
        u = p["hbconnect"]["us_per_frame"]
        tg.append(f"  [{'PASS' if u <= 2.0 else 'FAIL'}] about 2 us per frame: {u:.2f} us")
    if tg:
        lines += ["", "targets (issue 3):"] + tg
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse
    import json
    import sys

    repo = str(Path(__file__).resolve().parents[1])
    if repo not in sys.path:
        sys.path.insert(1, repo)   # the repository, when hbconnect is not installed
    ap = argparse.ArgumentParser(description="raw Binance depth frame -> book: hbconnect vs Hummingbot vs cryptofeed")
    ap.add_argument("--frames", type=int, default=100_000, help="frames per pipeline (default 100,000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds, best taken (default 3)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    import logging
    logging.basicConfig(level=logging.ERROR)
    log = (lambda s: None) if args.quiet else (lambda s: print(f"[message_path] {s}", file=sys.stderr, flush=True))
    doc = compare(args.frames, args.rounds, log=log)
    print(json.dumps(doc, indent=2) if args.json else format_compare(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
