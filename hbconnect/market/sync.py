"""Sync policies: one small class per ``SyncRule`` deciding, for each diff, whether it is applied,
dropped as stale, or reveals a gap; and whether a snapshot can be used with the diffs buffered
while it was being fetched.

The tracker keeps ``last_id`` per pair (the id of the last snapshot or applied diff) and calls

* ``snapshot_verdict(snapshot_id, first_buffered, strict)`` when a snapshot arrives: ``OK`` or ``TOO_OLD``
  (fetch another one; ``strict``: also when the snapshot's id is exactly one below the first
  buffered event's first id, for venues whose procedure says so);
* ``check(last_id, diff, first)`` for every diff once a snapshot is in (``first`` is True for the
  first diff evaluated after a snapshot, whose rule some venues state separately).

Return codes are small ints so that the hot path compares ints.
"""
from __future__ import annotations

from typing import Optional

from hbconnect.market.messages import BookDiff, SyncRule

APPLY = 0
STALE = 1
GAP = 2

OK = 0
TOO_OLD = 1

__all__ = ["APPLY", "STALE", "GAP", "OK", "TOO_OLD", "SyncPolicy", "policy_for", "POLICIES"]


class SyncPolicy:
    """Base: apply everything (no ids to check)."""

    rule: SyncRule
    #: diffs can be chained, so a gap can be detected
    detects_gaps: bool = False
    #: the ids order diffs against a snapshot (those it already contains are dropped as stale);
    #: False: diffs buffered before an in-band snapshot cannot be told apart and are discarded
    orders_buffer: bool = True

    def snapshot_verdict(self, snapshot_id: int, first_buffered: Optional[BookDiff], strict: bool = False) -> int:
        return OK

    def check(self, last_id: int, d: BookDiff, first: bool) -> int:
        return APPLY


class SeqRange(SyncPolicy):
    """Ids ``[U; u]`` per diff against the REST snapshot's id ``L`` (Gate.io, KuCoin spot, ...).

    Step by step: the snapshot is too old if ``L + 1 < U`` of the first buffered event (``L < U``
    when ``strict``); discard events with ``u <= L``; the first applied event has ``L`` (+1)
    within ``[U; u]``; afterwards an event with ``u`` below the book's id is ignored and one with
    ``U > id + 1`` means events were missed. An event with ``u == id`` carries nothing new
    (absolute sizes already applied) and is dropped as stale too.
    """

    rule = SyncRule.SEQ_RANGE
    detects_gaps = True

    def snapshot_verdict(self, snapshot_id: int, first_buffered: Optional[BookDiff], strict: bool = False) -> int:
        # The snapshot joins the stream when L + 1 >= U of the first buffered event (Gate.io,
        # KuCoin). Some venues' procedure is stricter (a snapshot id strictly less than U is
        # refetched); those set ``strict_snapshot_start``.
        if first_buffered is not None:
            if snapshot_id + (0 if strict else 1) < first_buffered.first_id:
                return TOO_OLD
        return OK

    def check(self, last_id: int, d: BookDiff, first: bool) -> int:
        if d.last_id <= last_id:
            return STALE
        if d.first_id > last_id + 1:
            return GAP
        return APPLY


class SeqRangePrev(SyncPolicy):
    """Ids ``[U; u]`` plus ``pu`` (the previous event's ``u``) against the REST snapshot's id
    ``L``: drop ``u < L``; the first processed event has ``U <= L <= u``; then each event's
    ``pu`` equals the previous event's ``u``."""

    rule = SyncRule.SEQ_RANGE_PREV
    detects_gaps = True

    def snapshot_verdict(self, snapshot_id: int, first_buffered: Optional[BookDiff], strict: bool = False) -> int:
        if first_buffered is not None and snapshot_id < first_buffered.first_id:
            return TOO_OLD
        return OK

    def check(self, last_id: int, d: BookDiff, first: bool) -> int:
        if first:
            if d.last_id < last_id:
                return STALE
            if d.first_id <= last_id:
                return APPLY
            return GAP
        if d.prev_id == last_id:
            return APPLY
        if d.last_id <= last_id:
            return STALE  # a duplicate or an old event
        return GAP


class PrevChain(SyncPolicy):
    """OKX seqId/prevSeqId, HTX mbp seqNum/prevSeqNum, Bitget seq/pseq: each diff's ``prev_id`` must
    equal the previous ``last_id``. ``prev_id == last_id`` is checked first so that a venue
    sequence reset (OKX: new seqId smaller than prevSeqId) still chains. The first diff after a
    snapshot may also straddle it (``prev_id <= snapshot id < last_id``: HTX buffered updates)."""

    rule = SyncRule.PREV_CHAIN
    detects_gaps = True

    def check(self, last_id: int, d: BookDiff, first: bool) -> int:
        prev = d.prev_id
        if prev == last_id:
            return APPLY
        if d.last_id <= last_id:
            return STALE
        if first and prev is not None and prev <= last_id:
            return APPLY
        return GAP


class Contiguous(SyncPolicy):
    """Bybit ``u``, KuCoin futures ``sequence``: each diff's ``last_id`` is the previous + 1."""

    rule = SyncRule.CONTIGUOUS
    detects_gaps = True

    def snapshot_verdict(self, snapshot_id: int, first_buffered: Optional[BookDiff], strict: bool = False) -> int:
        if first_buffered is not None and snapshot_id + 1 < first_buffered.first_id:
            return TOO_OLD
        return OK

    def check(self, last_id: int, d: BookDiff, first: bool) -> int:
        if d.last_id <= last_id:
            return STALE
        if d.first_id == last_id + 1 or (d.first_id <= last_id + 1 <= d.last_id):
            return APPLY
        return GAP


class Timestamp(SyncPolicy):
    """Bitstamp: diffs not newer than the snapshot's microtimestamp are stale; no gap detection."""

    rule = SyncRule.TIMESTAMP

    def check(self, last_id: int, d: BookDiff, first: bool) -> int:
        if d.last_id <= last_id:
            return STALE
        return APPLY


class ChecksumOnly(SyncPolicy):
    """Kraken: no ids; every diff applies and the venue checksum proves integrity."""

    rule = SyncRule.CHECKSUM
    orders_buffer = False


class Snapshots(SyncPolicy):
    """Every book message is a full snapshot; a diff (if a venue sends one) simply applies."""

    rule = SyncRule.SNAPSHOTS
    orders_buffer = False


POLICIES: dict[SyncRule, SyncPolicy] = {
    p.rule: p
    for p in (SeqRange(), SeqRangePrev(), PrevChain(), Contiguous(), Timestamp(), ChecksumOnly(), Snapshots())
}


def policy_for(rule: SyncRule) -> SyncPolicy:
    """The (stateless, shared) policy object of ``rule``."""
    return POLICIES[rule]
