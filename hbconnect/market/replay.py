"""Replay of recorded sessions through the real tracker and venue code.

Format (documented in docs/architecture.md and tests/data/recordings/README.md), one record per line:

* ``URL <-> TS`` a websocket connection to URL was opened;
* ``URL <- TS: TEXT`` the client sent TEXT on that connection;
* ``TS: PAYLOAD`` a frame received on the current connection (binary frames are Python bytes
  literals ``b'...'``);
* ``URL -> TS: BODY`` a REST GET of URL answered BODY;
* ``configuration: JSON`` what the recorder subscribed to.

The replay builds an ``OrderBookTracker`` for the venue, creates one tracker connection per
recorded websocket connection, feeds every recorded frame with its recorded timestamp as the
clock, and answers the tracker's own snapshot requests from the recorded REST bodies (matched by
path and query parameters, delivered at their recorded time). Fault injection for tests lives in
``hbconnect.market.faults``-style helpers at the end of this module (``inject``).
"""
from __future__ import annotations

import ast
import heapq
import itertools
import logging
import os
import random
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, TextIO, Union
from urllib.parse import parse_qsl, urlsplit

import ujson

from hbconnect.market.messages import BookDiff, BookSnapshot, RestRequest
from hbconnect.market.tracker import Connection, OrderBookTracker, TrackedBook, TrackerDriver

logger = logging.getLogger(__name__)

__all__ = [
    "Record",
    "Session",
    "load_session",
    "parse_lines",
    "ReplayResult",
    "Replayer",
    "replay",
    "format_report",
    "inject",
    "Fault",
    "book_frame_indices",
    "url_key",
]

OPEN, SEND, RECV, REST, CLOSE = "open", "send", "recv", "rest", "close"


@dataclass(slots=True)
class Record:
    kind: str  # open / send / recv / rest / close
    ts: float
    conn: str = ""  # recorded connection key ("file#n") for open/send/recv/close
    url: str = ""
    data: Union[str, bytes] = ""
    seq: int = 0  # order in the merged timeline (stable for equal timestamps)


@dataclass
class Session:
    records: list[Record]  # ws records (open/send/recv/close) in timeline order
    rest: list[Record]  # REST answers in recorded order
    configuration: dict = field(default_factory=dict)

    @property
    def frames(self) -> list[Record]:
        return [r for r in self.records if r.kind == RECV]

    def copy(self) -> "Session":
        return Session([Record(r.kind, r.ts, r.conn, r.url, r.data, r.seq) for r in self.records],
                       list(self.rest), dict(self.configuration))


# exactly one bytes literal as ``repr(bytes)`` writes it: nothing before or after it, so that
# literal_eval sees a single constant (a crafted ``b''[0][0]...`` nested 100k deep made it raise
# RecursionError and killed the replay)
_BYTES_LITERAL = re.compile(r"b'(?:[^'\\\n]|\\.)*'" + r'|b"(?:[^"\\\n]|\\.)*"', re.ASCII)


def _payload(text: str) -> Union[str, bytes]:
    """A received frame's text: a binary frame is recorded as its bytes literal. Anything else
    that starts like one is kept as text, which the venue module then refuses (a bad frame)."""
    if text.startswith(("b'", 'b"')) and _BYTES_LITERAL.fullmatch(text):
        try:
            value = ast.literal_eval(text)
            if isinstance(value, bytes):
                return value
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            pass
    return text


def parse_lines(lines: Iterable[str], source: str = "") -> tuple[list[Record], list[Record], dict]:
    """Parse one recording. Returns (ws records, REST records, configuration)."""
    ws: list[Record] = []
    rest: list[Record] = []
    config: dict = {}
    current = ""
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line:
            continue
        if line.startswith("configuration: "):
            try:
                config.update(ujson.loads(line[len("configuration: "):]))
            except ValueError:
                logger.warning("%s:%d: bad configuration line", source, lineno)
            continue
        head, sep, rest_text = line.partition(": ")
        try:
            ts = float(head)
        except ValueError:
            ts = None
        if ts is None:
            if " <-> " in line and (not sep or " <-> " in head):
                # A file holds one connection at a time: a later open in the same file is that
                # connection reconnecting (its pairs resync), not an extra one.
                url, _, when = line.rpartition(" <-> ")
                current = f"{source}#1"
                ws.append(Record(OPEN, _ts(when), current, url))
            elif " <x> " in line and (not sep or " <x> " in head):  # record's socket-closed marker
                url, _, when = line.rpartition(" <x> ")
                ws.append(Record(CLOSE, _ts(when), current, url))
            elif sep and " -> " in head:
                url, _, when = head.rpartition(" -> ")
                rest.append(Record(REST, _ts(when), "", url, rest_text))
            elif sep and " <- " in head:
                url, _, when = head.rpartition(" <- ")
                ws.append(Record(SEND, _ts(when), current, url, rest_text))
            else:
                logger.warning("%s:%d: unrecognised line %r", source, lineno, line[:80])
            continue
        if not current:
            current = f"{source}#1"
            ws.append(Record(OPEN, ts, current, ""))
        ws.append(Record(RECV, ts, current, "", _payload(rest_text)))
    return ws, rest, config


def _ts(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        return 0.0


def load_session(paths: Sequence[Union[str, os.PathLike]]) -> Session:
    """Load and merge recording files into one timeline (stable for equal timestamps)."""
    ws: list[Record] = []
    rest: list[Record] = []
    config: dict = {}
    for path in paths:
        with open(path, "r", encoding="utf-8", errors="surrogateescape") as fh:
            w, r, c = parse_lines(fh, os.fspath(path))
        ws.extend(w)
        rest.extend(r)
        for k, v in c.items():
            config.setdefault(k, v)
    for i, rec in enumerate(ws):
        rec.seq = i
    ws.sort(key=lambda r: (r.ts, r.seq))
    for i, rec in enumerate(ws):
        rec.seq = i
    rest.sort(key=lambda r: r.ts)
    return Session(ws, rest, config)


def url_key(url: str, params: Optional[dict] = None) -> tuple[str, frozenset]:
    """(path, query items) of a URL, host-independent, for matching REST requests to records."""
    parts = urlsplit(url)
    items = dict(parse_qsl(parts.query, keep_blank_values=True))
    if params:
        items.update({str(k): str(v) for k, v in params.items()})
    return parts.path.rstrip("/"), frozenset(items.items())


_LIMIT_KEYS = frozenset({"limit", "depth", "size", "level"})


def _loose(key: tuple[str, frozenset]) -> tuple[str, frozenset]:
    return key[0], frozenset(kv for kv in key[1] if kv[0] not in _LIMIT_KEYS)


SnapshotSource = Callable[[str, RestRequest, float], Optional[bytes]]
SendHook = Callable[[Connection, str, float], Optional[Sequence[Union[str, bytes]]]]


@dataclass
class ReplayResult:
    venue: str
    files: list[str]
    frames: int
    elapsed: float  # wall seconds spent replaying
    pairs: dict[str, dict]
    bad_frames: int  # all bad frames, including those not attributable to a pair
    unanswered_snapshots: int
    tracker: Any = field(repr=False, default=None)
    #: well-formed frames of channels/instruments not tracked (tickers, candles, other pairs)
    ignored_frames: int = 0
    #: the venue sends book checksums (``sends_checksum``): the report shows their counters
    checksums: bool = False

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "venue": self.venue,
            "files": self.files,
            "frames": self.frames,
            "elapsed_seconds": round(self.elapsed, 6),
            "frames_per_second": round(self.frames_per_second, 1),
            "bad_frames_total": self.bad_frames,
            "ignored_frames_total": self.ignored_frames,
            "unanswered_snapshots": self.unanswered_snapshots,
            "pairs": self.pairs,
        }


class Replayer(TrackerDriver):
    """Drives an ``OrderBookTracker`` with a recorded ``Session`` (the tracker's I/O driver)."""

    def __init__(
        self,
        venue: Any,
        session: Session,
        pairs: Optional[Sequence[str]] = None,
        *,
        snapshot_source: Optional[SnapshotSource] = None,
        on_send: Optional[SendHook] = None,
        stale_timeout: Optional[float] = None,
        reuse_rest: bool = False,
        progress: Optional[TextIO] = None,
        tracker_kwargs: Optional[dict] = None,
    ) -> None:
        self.venue = venue
        self.session = session
        self.snapshot_source = snapshot_source
        self.on_send = on_send
        self.reuse_rest = reuse_rest
        self.progress = progress
        self.sent: list[tuple[int, str]] = []  # (tracker connection id, text) the tracker sent
        self.reconnect_requests: list[tuple[int, str]] = []
        self.unanswered = 0
        self.now = 0.0
        self._pending: list = []  # heap of (due_ts, n, pair, gen, body)
        self._inject: list = []  # frames produced by on_send, fed next
        self._n = itertools.count()
        self._rest_by_key: dict = {}
        self._rest_by_loose: dict = {}
        for rec in session.rest:
            key = url_key(rec.url)
            self._rest_by_key.setdefault(key, []).append(rec)
            self._rest_by_loose.setdefault(_loose(key), []).append(rec)
        self._used: set[int] = set()
        if pairs is None:
            pairs = pairs_of(venue, session)
        self.pairs = list(pairs)
        kw = dict(tracker_kwargs or {})
        kw.setdefault("stale_timeout", stale_timeout)
        # The recording decides when snapshots come; timed sync retries only when asked for.
        kw.setdefault("sync_timeout", None)
        self.tracker = OrderBookTracker(venue, (), driver=self, **kw)
        self.tracker.clock = lambda: self.now  # recorded time, so that replays are reproducible
        self.tracker._rand = random.Random(0).random
        self._conns: dict[str, Connection] = {}
        self._assign_connections()

    # -- set-up
    def _assign_connections(self) -> None:
        """One tracker connection per recorded connection; each pair goes to the recorded
        connection whose frames first mention it (else the first connection)."""
        first_conn: dict[str, str] = {}
        order: list[str] = []
        for rec in self.session.records:
            if rec.kind == OPEN and rec.conn not in order:
                order.append(rec.conn)
        if not order:
            order.append("none#1")
        wanted = set(self.pairs)
        for _, rec, events in parsed_frames(self.venue, self.session):
            if len(first_conn) == len(wanted):
                break
            for ev in events:
                p = getattr(ev, "pair", None)
                if p in wanted and p not in first_conn and isinstance(ev, (BookDiff, BookSnapshot)):
                    first_conn[p] = rec.conn
        for key in order:
            self._conns[key] = self.tracker.connection_for([])
        for p in self.pairs:
            key = first_conn.get(p, order[0])
            conn = self._conns[key]
            self.tracker.books[p] = TrackedBook(p, self.tracker._book_factory(), conn)
            self.tracker._learn_symbol(p)  # the compiled frame path's symbol table
            conn.pairs.append(p)

    # -- TrackerDriver
    def request_snapshot(self, tb: TrackedBook, req: RestRequest, gen: int, delay: float) -> None:
        now = self.now + delay
        body: Optional[bytes] = None
        due = now
        if self.snapshot_source is not None:
            body = self.snapshot_source(tb.pair, req, now)
        if body is None:
            rec = self._find_rest(req)
            if rec is not None:
                body = rec.data.encode() if isinstance(rec.data, str) else rec.data
                due = max(now, rec.ts)
        if body is None:
            self.unanswered += 1
            return
        heapq.heappush(self._pending, (due, next(self._n), tb.pair, gen, body))

    def _find_rest(self, req: RestRequest) -> Optional[Record]:
        key = url_key(req.url, req.params)
        cands = self._rest_by_key.get(key) or self._rest_by_loose.get(_loose(key)) or []
        for rec in cands:
            if id(rec) not in self._used:
                self._used.add(id(rec))
                return rec
        if self.reuse_rest and cands:
            return cands[-1]
        return None

    def send(self, conn: Connection, texts: Sequence[str]) -> None:
        for text in texts:
            self.sent.append((conn.id, text))
            if self.on_send is not None:
                frames = self.on_send(conn, text, self.now)
                if frames:
                    for f in frames:
                        self._inject.append((conn, f))

    def reconnect(self, conn: Connection, reason: str) -> None:
        # The recording decides when connections drop and open again (its ``<->`` lines): the
        # reconnect the live client made is replayed from there, not invented here.
        self.reconnect_requests.append((conn.id, reason))

    # -- the loop
    def _deliver_due(self, until: float) -> None:
        pending = self._pending
        while pending and pending[0][0] <= until:
            due, _, pair, gen, body = heapq.heappop(pending)
            if due > self.now:
                self.now = due
            self.tracker.on_snapshot(pair, gen, body)
            self._drain_injected()

    def _drain_injected(self) -> None:
        while self._inject:
            conn, frame = self._inject.pop(0)
            self.tracker.feed(conn, frame, self.now)

    def step(self, rec: Record) -> bool:
        """Replay one record (and the snapshots due before it); True when it was a received frame.
        ``run`` steps through the whole session; a caller that interleaves its own work (the
        Redis hub's paced replay) steps itself and calls ``finish`` at the end."""
        if self._pending and self._pending[0][0] <= rec.ts:
            self._deliver_due(rec.ts)
        if rec.ts > self.now:
            self.now = rec.ts
        t = self.tracker
        kind = rec.kind
        if kind == RECV:
            t.feed(self._conns[rec.conn], rec.data, self.now)
            if self._inject:
                self._drain_injected()
            if self._check_stale:
                t.check_stale(self.now)
            return True
        if kind == OPEN:
            conn = self._conns.get(rec.conn)
            if conn is not None:
                conn.url = rec.url
                t.connection_up(conn)  # a reopen first marks it down (reconnect)
                self._drain_injected()
        elif kind == CLOSE:
            conn = self._conns.get(rec.conn)
            if conn is not None:
                t.connection_down(conn, "closed (recorded)")
        return False

    def finish(self) -> None:
        """Snapshots recorded after the last frame still complete the sync."""
        self._deliver_due(float("inf"))

    @property
    def _check_stale(self) -> bool:
        t = self.tracker
        return t.stale_timeout is not None or t.sync_timeout is not None

    def run(self) -> ReplayResult:
        t = self.tracker
        records = self.session.records
        total = len(records)
        step = self.step
        t0 = time.perf_counter()
        frames = 0
        next_progress = 0
        for i, rec in enumerate(records):
            frames += step(rec)
            if self.progress is not None and i >= next_progress:
                _progress(self.progress, i, total)
                next_progress = i + max(1, total // 100)
        self.finish()
        elapsed = time.perf_counter() - t0
        if self.progress is not None:
            _progress(self.progress, total, total)
            self.progress.write("\n")
            self.progress.flush()
        return ReplayResult(
            venue=self.venue.name,
            files=[],
            frames=frames,
            elapsed=elapsed,
            pairs={p: pair_report(t.books[p]) for p in self.pairs if p in t.books},
            bad_frames=t.bad_frames,
            unanswered_snapshots=self.unanswered,
            tracker=t,
            ignored_frames=t.ignored_frames,
            checksums=bool(self.venue.sends_checksum),
        )


def _progress(out: TextIO, done: int, total: int) -> None:
    width = 40
    frac = done / total if total else 1.0
    filled = int(width * frac)
    out.write(f"\rreplay [{'#' * filled}{'.' * (width - filled)}] {frac * 100:5.1f}% ({done}/{total})")
    out.flush()


def pair_report(tb: TrackedBook, depth: int = 5) -> dict:
    """The per-pair figures the replay prints (counters + top ``depth`` as exact text)."""
    s = tb.stats()
    live = tb.state.value == "live"
    return {
        "state": s.state,
        "frames": s.frames,
        "diffs_applied": s.diffs_applied,
        "snapshots": s.snapshots,
        "stale_dropped": s.stale_dropped,
        "checksums_ok": s.checksums_ok,
        "checksums_failed": s.checksums_failed,
        "gaps": s.gaps,
        "resyncs": s.resyncs,
        "bad_frames": s.bad_frames,
        "snapshot_retries": s.snapshot_retries,
        "stale_streams": s.stale_streams,
        "last_update_id": s.last_update_id,
        "bids": [list(x) for x in tb.book.bids_text(depth)] if live else [],
        "asks": [list(x) for x in tb.book.asks_text(depth)] if live else [],
    }


def _fresh(venue: Any) -> Any:
    """A venue object for probing frames without touching the real one's symbol caches."""
    try:
        import copy

        return copy.deepcopy(venue)
    except Exception:
        return venue


def parsed_frames(venue: Any, session: Session) -> Iterator[tuple[int, Record, list]]:
    """(index, record, events) of every received frame the venue module parses, through a copy
    of the venue (its symbol caches stay untouched) that knows the recording's instruments
    (:func:`prime_symbols`); unparsable frames are skipped."""
    probe = _fresh(venue)
    prime_symbols(probe, session)
    for i, rec in enumerate(session.records):
        if rec.kind != RECV:
            continue
        try:
            events = probe.parse_message(rec.data)
        except Exception:
            continue
        yield i, rec, events


def configured_names(configuration: dict) -> list[str]:
    """The instrument names of the ``configuration:`` line's book subscription."""
    for key in ("l2_book", "book", "books", "l3_book"):
        value = configuration.get(key)
        if isinstance(value, (list, dict)) and value:
            return [str(p) for p in value]
    return []


_MONTH_CODES = "FGHJKMNQUVXZ"  # futures month letters, January to December


def _is_expiry(text: str) -> bool:
    """``22K27``: year 22, month K (May), day 27, how recorders name a dated contract."""
    return (len(text) == 5 and text[:2].isdigit() and text[2] in _MONTH_CODES and text[3:].isdigit()) \
        or (len(text) == 6 and text.isdigit())


def map_configured_names(names: Sequence[str], perpetual: bool) -> tuple[list[str], dict[str, str]]:
    """Registry pairs for a recording's configuration names, and why the others cannot be mapped.

    ``BASE-QUOTE-PERP`` (a recorder's name of a perpetual swap) is ``BASE-QUOTE`` on a perpetual
    venue; dated futures (``BTC-USD-22K27``), options and other shapes have no registry venue.
    ``BASE-QUOTE`` is a pair as it is (hbconnect's recorder writes the registry pairs of any
    venue), except next to such suffixed names, where it is the recorder's name of a spot pair:
    then a perpetual venue does not take it."""
    pairs: list[str] = []
    unmapped: dict[str, str] = {}
    suffixed = any(name.count("-") >= 2 for name in names)
    for name in names:
        parts = name.strip().upper().split("-")
        ok = len(parts) >= 2 and all(p.isalnum() for p in parts)
        if ok and len(parts) == 2:
            if perpetual and suffixed:
                unmapped[name] = "a spot pair (the perpetuals are named ...-PERP): replay it with the spot venue id"
                continue
            pair = f"{parts[0]}-{parts[1]}"
        elif ok and len(parts) == 3 and parts[2] in ("PERP", "SWAP"):
            if not perpetual:
                unmapped[name] = "a perpetual swap: replay it with the venue's _perpetual id"
                continue
            pair = f"{parts[0]}-{parts[1]}"
        elif ok and len(parts) == 3 and _is_expiry(parts[2]):
            unmapped[name] = "a dated futures contract: no registry venue tracks those"
            continue
        elif ok and len(parts) == 5 and _is_expiry(parts[2]) and parts[4] in ("C", "P"):
            unmapped[name] = "an option: no registry venue tracks those"
            continue
        else:
            unmapped[name] = "not a BASE-QUOTE pair"
            continue
        if pair not in pairs:
            pairs.append(pair)
    return pairs, unmapped


def prime_symbols(venue: Any, session: Session) -> None:
    """Tell ``venue`` the recording's instruments: its recorded symbol tables, and the symbols of
    the pairs its ``configuration:`` line subscribed (venue modules never guess a symbol's pair)."""
    load_recorded_symbols(venue, session)
    for pair in map_configured_names(configured_names(session.configuration), is_perpetual(venue))[0]:
        try:
            venue.to_venue_symbol(pair)
        except (ValueError, KeyError, TypeError):
            continue


def is_perpetual(venue: Any) -> bool:
    """Whether ``venue`` trades perpetual swaps (registry ids of those end in ``_perpetual``)."""
    return str(getattr(venue, "name", "")).endswith("_perpetual")


def pairs_of(venue: Any, session: Session) -> list[str]:
    """Pairs to track: the ``configuration:`` line's book list mapped to registry pairs
    (``map_configured_names``; names that do not map are logged and left out), else the pairs of
    the recorded book messages (found by parsing the frames with the venue module)."""
    pairs, unmapped = map_configured_names(configured_names(session.configuration), is_perpetual(venue))
    for name, why in unmapped.items():
        logger.warning("configuration name %s left out: %s", name, why)
    if pairs:
        return pairs
    seen: dict[str, None] = {}
    for _, _, events in parsed_frames(venue, session):
        for ev in events:
            if isinstance(ev, (BookDiff, BookSnapshot)):
                seen.setdefault(ev.pair, None)
    return list(seen)


def load_recorded_symbols(venue: Any, session: Session) -> int:
    """Feed the recorded symbols/instruments REST bodies to a venue that has ``load_symbols``
    (KuCoin: the configuration names "BSV-USDT", the feed says "BCHSV-USDT"). Bodies that are not
    a symbol table (snapshots...) are refused by the module and skipped. Returns how many loaded."""
    load = venue.load_symbols
    loaded = 0
    for rec in session.rest:
        try:
            load(rec.data)
        except Exception as exc:  # a snapshot body, an error body: not a symbol table
            logger.debug("%s: not a symbol table (%s)", rec.url[:80], exc)
            continue
        loaded += 1
    return loaded


def _answerable(venue: Any, session: Session, pairs: Sequence[str]) -> int:
    keys = {url_key(r.url) for r in session.rest}
    loose = {_loose(k) for k in keys}
    n = 0
    for p in pairs:
        try:
            req = venue.snapshot_request(p)
        except Exception:
            continue
        if req is None:
            n += 1
            continue
        k = url_key(req.url, req.params)
        if k in keys or _loose(k) in loose:
            n += 1
    return n


def venue_for_session(venue: Any, session: Session, pairs: Optional[Sequence[str]] = None) -> Any:
    """A copy of ``venue`` fitted to the recording: its recorded symbol tables loaded, and, for a
    venue whose snapshot depth is an option (``snapshot_depth``: KuCoin's public 20/100-level
    book or the full book), the variant whose snapshot requests the recording answers."""
    candidates = [_fresh(venue)]
    depth = getattr(venue, "snapshot_depth", "absent")
    if depth != "absent":
        for d in (None, 100, 20, 50, 200, 400, 1000):
            if d == depth:
                continue
            try:
                candidates.append(type(venue)(snapshot_depth=d))
            except Exception:
                continue
    for c in candidates:
        load_recorded_symbols(c, session)
    if len(candidates) == 1 or not session.rest:
        return candidates[0]
    wanted = list(pairs) if pairs is not None else pairs_of(candidates[0], session)
    best = max(candidates, key=lambda c: _answerable(c, session, wanted))  # first wins ties
    return best


def replay(
    paths: Sequence[Union[str, os.PathLike]],
    venue: Any,
    *,
    pairs: Optional[Sequence[str]] = None,
    session: Optional[Session] = None,
    **kw: Any,
) -> ReplayResult:
    """Replay recording files (or a prepared ``session``) through ``venue`` (a MarketDataVenue
    object: ``hbconnect.exchanges.market_data_venue(name)`` gives one by registry id) and return
    the result; ``kw`` go to ``Replayer``."""
    if isinstance(venue, str):
        raise TypeError("replay() takes a venue object: hbconnect.exchanges.market_data_venue(name)")
    if session is None:
        session = load_session(paths)
    venue = venue_for_session(venue, session, pairs)
    r = Replayer(venue, session, pairs, **kw)
    result = r.run()
    result.files = [os.fspath(p) for p in paths]
    return result


def format_report(result: ReplayResult) -> str:
    """Human-readable report of a replay."""
    lines = [
        f"venue {result.venue}: {result.frames} frames in {result.elapsed:.3f}s "
        f"({result.frames_per_second:,.0f} frames/s); bad frames {result.bad_frames}; "
        f"ignored frames {result.ignored_frames}"
        + (f"; unanswered snapshot requests {result.unanswered_snapshots}" if result.unanswered_snapshots else ""),
    ]
    for pair, r in result.pairs.items():
        lines.append("")
        checksums = f"checksums ok {r['checksums_ok']} failed {r['checksums_failed']}  " if result.checksums else ""
        lines.append(
            f"{pair} [{r['state']}] frames {r['frames']}  diffs applied {r['diffs_applied']}  "
            f"stale dropped {r['stale_dropped']}  {checksums}"
            f"gaps {r['gaps']}  resyncs {r['resyncs']}  bad frames {r['bad_frames']}"
        )
        bids, asks = r["bids"], r["asks"]
        if not bids and not asks:
            lines.append("  (no book)")
            continue
        lines.append(f"  {'bid size':>18} {'bid':>16} | {'ask':<16} {'ask size':<18}")
        for i in range(max(len(bids), len(asks))):
            b = bids[i] if i < len(bids) else ["", ""]
            a = asks[i] if i < len(asks) else ["", ""]
            lines.append(f"  {b[1]:>18} {b[0]:>16} | {a[0]:<16} {a[1]:<18}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- fault injection
@dataclass(frozen=True)
class Fault:
    """One fault to inject into a session's received frames.

    kind: ``drop`` | ``duplicate`` | ``swap`` (with the next book frame ``other``) | ``corrupt``
    (``mutate(frame) -> frame``) | ``truncate`` (keep ``keep`` characters) | ``garbage``
    (replace by non-JSON) | ``close`` (the socket drops just before the frame and reopens).
    ``index``: position in ``session.records`` of a RECV record.
    """

    kind: str
    index: int
    other: Optional[int] = None
    mutate: Optional[Callable[[Union[str, bytes]], Union[str, bytes]]] = None
    keep: Optional[int] = None


def inject(session: Session, faults: Sequence[Fault]) -> Session:
    """A copy of ``session`` with ``faults`` applied (indices refer to the original records)."""
    out = session.copy()
    recs = out.records
    extra: dict[int, list[Record]] = {}
    drop: set[int] = set()
    for f in faults:
        rec = recs[f.index]
        if rec.kind != RECV:
            raise ValueError(f"record {f.index} is not a received frame")
        if f.kind == "drop":
            drop.add(f.index)
        elif f.kind == "duplicate":
            extra.setdefault(f.index, []).append(Record(RECV, rec.ts, rec.conn, rec.url, rec.data))
        elif f.kind == "swap":
            j = f.other if f.other is not None else f.index + 1
            recs[f.index].data, recs[j].data = recs[j].data, recs[f.index].data
        elif f.kind == "corrupt":
            if f.mutate is None:
                raise ValueError("corrupt needs mutate")
            rec.data = f.mutate(rec.data)
        elif f.kind == "truncate":
            keep = f.keep if f.keep is not None else len(rec.data) // 2
            rec.data = rec.data[:keep]
        elif f.kind == "garbage":
            rec.data = b"\x00\xffnot json" if isinstance(rec.data, bytes) else "<html>502 Bad Gateway</html>"
        elif f.kind == "close":
            url = next((r.url for r in recs[: f.index][::-1] if r.kind == OPEN and r.conn == rec.conn), "")
            extra.setdefault(-f.index - 1, []).extend(
                [Record(CLOSE, rec.ts, rec.conn, url), Record(OPEN, rec.ts, rec.conn, url)])
        else:
            raise ValueError(f"unknown fault kind {f.kind!r}")
    result: list[Record] = []
    for i, rec in enumerate(recs):
        result.extend(extra.get(-i - 1, ()))
        if i not in drop:
            result.append(rec)
        result.extend(extra.get(i, ()))
    for i, rec in enumerate(result):
        rec.seq = i
    out.records = result
    return out


def book_frame_indices(session: Session, venue: Any, pair: Optional[str] = None,
                       kind: type = BookDiff) -> list[int]:
    """Indices in ``session.records`` of received frames carrying a ``kind`` message (for
    ``pair`` if given): where to aim faults."""
    out = []
    for i, _, events in parsed_frames(venue, session):
        if any(isinstance(ev, kind) and (pair is None or ev.pair == pair) for ev in events):
            out.append(i)
    return out


def progress_stream() -> Optional[TextIO]:
    """stderr when it is a terminal (progress bar), else None."""
    return sys.stderr if sys.stderr.isatty() else None
