"""The venue's truth for the recorded Binance session, computed independently of hbconnect:
REST snapshot + the recorded depth events, with Binance's documented id rules. Used as the
reference book and as the REST server's answer in fault tests (a snapshot of the venue's book
at the time the tracker asks)."""
from __future__ import annotations

import bisect
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from refbook import RefBook


class BinanceTruth:
    def __init__(self, files: list[Path]) -> None:
        self.snapshots: dict[str, tuple[float, dict]] = {}  # symbol -> (ts, body)
        self.events: dict[str, list[tuple[float, dict]]] = {}  # symbol -> [(ts, depthUpdate)]
        for f in files:
            for line in f.read_text().splitlines():
                head, sep, payload = line.partition(": ")
                if " -> " in head and "/depth" in head:
                    url, _, ts = head.rpartition(" -> ")
                    sym = parse_qs(urlsplit(url).query)["symbol"][0]
                    self.snapshots[sym] = (float(ts), json.loads(payload))
                    continue
                try:
                    ts = float(head)
                except ValueError:
                    continue
                msg = json.loads(payload)
                data = msg.get("data", msg)
                if data.get("e") == "depthUpdate":
                    self.events.setdefault(data["s"], []).append((ts, data))
        # the recorded stream must itself be gap-free after each snapshot, else the reference is void
        for sym, evs in self.events.items():
            for (_, a), (_, b) in zip(evs, evs[1:]):
                assert b["U"] == a["u"] + 1, f"recording has a gap in {sym}"
        self._states: dict[str, tuple[list[float], list[RefBook]]] = {}
        for sym in self.snapshots:
            self._states[sym] = self._build(sym)

    def _build(self, sym: str) -> tuple[list[float], list[RefBook]]:
        _, body = self.snapshots[sym]
        book = RefBook()
        book.snapshot(body["bids"], body["asks"], body["lastUpdateId"])
        times = [float("-inf")]
        states = [book.copy()]
        for ts, ev in self.events.get(sym, []):
            if ev["u"] <= book.update_id:
                continue
            assert ev["U"] <= book.update_id + 1, f"{sym}: snapshot does not join the stream"
            book.diff(ev["b"], ev["a"], ev["u"])
            times.append(ts)
            states.append(book.copy())
        return times, states

    def final(self, sym: str) -> RefBook:
        return self._states[sym][1][-1]

    def at(self, sym: str, ts: float) -> RefBook:
        """The venue's book of ``sym`` after every event recorded at or before ``ts`` (never
        earlier than the recorded snapshot)."""
        times, states = self._states[sym]
        i = bisect.bisect_right(times, ts) - 1
        return states[max(i, 0)]

    def by_update_id(self, sym: str) -> dict[int, RefBook]:
        return {b.update_id: b for b in self._states[sym][1]}
