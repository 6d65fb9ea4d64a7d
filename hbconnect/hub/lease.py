"""Leases: which hub publishes which pair.

Each pair has a lease key in Redis holding the epoch of the hub that publishes it, with an expiry
(``SET NX PX``). The holder renews it (compare-and-renew script) every ``ttl / 3``; a hub that
dies stops renewing, the key expires, and another hub takes the pair. Every write to the pair's
stream checks the lease in the same script (see ``scripts.PUBLISH``): a hub that lost its lease
cannot write again.

Hubs register in a sorted set with the same TTL. A free pair goes first to its preferred hub
(rendezvous hashing over the live hubs, so pairs spread evenly and a dead hub's pairs spread
over the survivors); any hub takes a pair that stayed free for two of its rounds (the preferred
hub may be gone before the registry says so). A hub that joins later gets its share: once it has
been live for a few rounds, the others release the pairs it prefers (a handover is an epoch change
for consumers, as a failover is).
"""
from __future__ import annotations

import hashlib
import secrets
from typing import Iterable, Optional, Sequence

__all__ = ["preferred_hub", "new_hub_id", "LeasePlan"]


def new_hub_id() -> str:
    return "hub-" + secrets.token_hex(5)


def _weight(hub: str, pair: str) -> bytes:
    return hashlib.blake2b(f"{hub}\0{pair}".encode(), digest_size=8).digest()


def preferred_hub(hubs: Iterable[str], pair: str) -> Optional[str]:
    """The live hub that should own ``pair`` (highest rendezvous weight), None if no hub."""
    best = None
    best_w = b""
    for h in hubs:
        w = _weight(h, pair)
        if best is None or w > best_w:
            best, best_w = h, w
    return best


class LeasePlan:
    """The sans-IO part of a hub's lease round: which free pairs to try to acquire now."""

    def __init__(self, hub_id: str, pairs: Sequence[str], patience: int = 2) -> None:
        self.hub_id = hub_id
        self.pairs = list(dict.fromkeys(pairs))
        self.patience = patience
        self._free_rounds: dict[str, int] = {}
        self._seen: dict[str, int] = {}  # hub -> consecutive rounds it was live

    def add_pairs(self, pairs: Iterable[str]) -> None:
        for p in pairs:
            if p not in self.pairs:
                self.pairs.append(p)

    def candidates(self, owned: Iterable[str], hubs: Sequence[str]) -> tuple[list[str], list[str]]:
        """(pairs to try at once: free-or-not, preferred by this hub; pairs to check for being
        free: preferred by another hub)."""
        owned = set(owned)
        live = list(hubs) if self.hub_id in hubs else list(hubs) + [self.hub_id]
        mine, others = [], []
        for p in self.pairs:
            if p in owned:
                self._free_rounds.pop(p, None)
                continue
            if preferred_hub(live, p) == self.hub_id or self._free_rounds.get(p, 0) >= self.patience:
                mine.append(p)
            else:
                others.append(p)
        return mine, others

    def to_hand_over(self, owned: Sequence[str], hubs: Sequence[str], fraction: float = 0.25) -> list[str]:
        """Owned pairs preferred by another hub that has been live for ``patience`` + 1 rounds in
        a row (a hub that joined and stayed): at most ``fraction`` of the owned per round."""
        self._seen = {h: self._seen.get(h, 0) + 1 for h in hubs}
        settled = [h for h, n in self._seen.items() if n > self.patience or h == self.hub_id]
        if len(settled) < 2:
            return []
        out = [p for p in owned if preferred_hub(settled, p) != self.hub_id]
        return out[: max(1, int(len(owned) * fraction))]

    def observed(self, pair: str, free: bool) -> None:
        """The lease of ``pair`` (preferred by another hub) was found free / held this round."""
        if free:
            self._free_rounds[pair] = self._free_rounds.get(pair, 0) + 1
        else:
            self._free_rounds.pop(pair, None)
