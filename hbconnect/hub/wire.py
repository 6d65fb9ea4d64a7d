"""What the book hub writes to Redis: key names and the encoding of stream entries.

Per venue and pair (``{prefix}:{venue}:{pair}:...``):

* ``...:stream`` -- a Redis stream (trimmed with ``MAXLEN ~``); every entry has the fields
  ``e`` (the publisher's epoch: one per lease a hub holds on the pair), ``s`` (the epoch's
  contiguous sequence, from 1), ``k`` (kind) and ``d`` (JSON data):

  ===  =========================================================================================
  k    d
  ===  =========================================================================================
  s    ``[update_id, timestamp, bids, asks, depth, state]``: the book is replaced (epoch start,
       or the hub's tracker applied a snapshot); ``depth`` (or null) truncates it afterwards
  d    ``[update_id, timestamp, bids, asks, depth]``: levels applied (size 0 deletes)
  t    ``[trade_id, price, amount, side, timestamp]``: a public trade
  st   ``"syncing"`` / ``"live"`` / ``"resyncing"``: the hub's tracker state of the pair
  h    ``null``: heartbeat (nothing happened for a while; the hub is alive)
  ===  =========================================================================================

  Levels are ``[price, size]`` exactly as the venue wrote them (text), so a consumer's book
  holds the same text and computes the same checksums.
  One entry per applied change (all the levels a venue frame changed), one sequence number per
  entry.
* ``...:snapshot`` -- a hash: ``e``, ``s``, ``sid`` (the stream id of entry ``s``, where a
  late consumer starts reading), ``d`` (as a kind ``s`` entry) and ``t`` (the pair's last trade,
  as a kind ``t`` entry's data; absent before the first). Written in the same atomic script as
  the entries it follows.
* ``...:lease`` -- the lease of the pair: the holding epoch, with an expiry.
* ``{prefix}:{venue}:hubs`` -- a sorted set of live hub ids (score: expiry, Redis server ms).
"""
from __future__ import annotations

from typing import Any, Optional

import ujson

__all__ = [
    "SNAPSHOT", "DIFF", "TRADE", "STATE", "HEARTBEAT", "KINDS", "STATES",
    "stream_key", "snapshot_key", "lease_key", "hubs_key", "dumps", "dumpb", "loads", "EntryError",
    "check_levels", "check_book_data", "check_trade_data",
]

SNAPSHOT = b"s"
DIFF = b"d"
TRADE = b"t"
STATE = b"st"
HEARTBEAT = b"h"
KINDS = frozenset({SNAPSHOT, DIFF, TRADE, STATE, HEARTBEAT})
STATES = frozenset({"syncing", "live", "resyncing"})

dumps = ujson.dumps
loads = ujson.loads


def dumpb(obj: Any) -> bytes:
    """``obj`` as the JSON bytes of a ``d`` field."""
    return ujson.dumps(obj).encode()


def _base(prefix: str, venue: str, pair: str) -> str:
    for part in (prefix, venue, pair):
        if not part or ":" in part or any(c.isspace() for c in part):
            raise ValueError(f"bad key part {part!r} (empty, ':' or whitespace)")
    return f"{prefix}:{venue}:{pair}"


def stream_key(prefix: str, venue: str, pair: str) -> str:
    return _base(prefix, venue, pair) + ":stream"


def snapshot_key(prefix: str, venue: str, pair: str) -> str:
    return _base(prefix, venue, pair) + ":snapshot"


def lease_key(prefix: str, venue: str, pair: str) -> str:
    return _base(prefix, venue, pair) + ":lease"


def hubs_key(prefix: str, venue: str) -> str:
    return _base(prefix, venue, "hubs")


class EntryError(ValueError):
    """A stream entry or snapshot that is not the hub's format (foreign or corrupt)."""


def _text_or_number(x: Any) -> bool:
    return (type(x) is str and 0 < len(x) <= 64) or (type(x) in (int, float) and x == x)


def check_levels(levels: Any) -> list:
    """``[[price, size, ...], ...]`` with text (or number) prices and sizes, else EntryError."""
    if type(levels) is not list:
        raise EntryError("levels are not a list")
    for lv in levels:
        if type(lv) is not list or len(lv) < 2:
            raise EntryError(f"bad level {str(lv)[:40]}")
        p, q = lv[0], lv[1]
        # (text, the hub's form, checked inline: this runs for every level a consumer applies)
        if not (type(p) is str and 0 < len(p) <= 64 or _text_or_number(p)) \
                or not (type(q) is str and 0 < len(q) <= 64 or _text_or_number(q)):
            raise EntryError(f"bad level {str(lv)[:40]}")
    return levels


def check_book_data(d: Any, snapshot: bool) -> tuple[int, float, list, list, Optional[int], Optional[str]]:
    """(update_id, timestamp, bids, asks, depth, state) of a kind ``s``/``d`` entry's data."""
    n = 6 if snapshot else 5
    if type(d) is not list or len(d) != n:
        raise EntryError("book data is not a list of the right length")
    uid, ts, bids, asks, depth = d[:5]
    if type(uid) is not int or type(ts) not in (int, float) or (depth is not None and (type(depth) is not int or depth < 0)):
        raise EntryError("bad update id, timestamp or depth")
    state = d[5] if snapshot else None
    if snapshot and state not in STATES:
        raise EntryError("bad state")
    return uid, float(ts), check_levels(bids), check_levels(asks), depth, state


def check_trade_data(d: Any) -> tuple[str, str, str, str, float]:
    if type(d) is not list or len(d) != 5 or not all(type(x) is str for x in d[:4]) \
            or type(d[4]) not in (int, float) or d[3] not in ("buy", "sell"):
        raise EntryError("bad trade data")
    return d[0], d[1], d[2], d[3], float(d[4])
