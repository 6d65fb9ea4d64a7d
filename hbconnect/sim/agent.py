"""A seeded market-maker agent that gives the embedded exchange live, realistic flow.

Each step the agent moves a mid price by a geometric random walk, keeps ``levels`` quotes per
side around it (cancelling quotes the mid moved through and re-quoting missing levels, with
some random churn of sizes), and sends taker flow: market orders of random size that walk the
book (and fill the bots' resting orders when they are at the touch).  Quotes and takers use two
internal accounts so that self-trade prevention never hides a trade.

The initial book is either synthetic or shaped after a real depth snapshot from a recorded
session (by default the package data file ``exchange.DEFAULT_FIXTURE`` names: the top 100 levels
per side of the first snapshot of one of the repository's recordings, in the same line format):
the relative price offsets and level notionals of the recorded book are re-scaled to the
symbol's start price, tick and step.
"""
from __future__ import annotations

import json
import logging
import math
import random
from decimal import Decimal
from pathlib import Path
from typing import Optional

from hbconnect.sim.errors import SimReject
from hbconnect.sim.matching import BUY, SELL, MatchingEngine, OrderRequest, SymbolSpec
from hbconnect.sim.vocabulary import SelfTradePrevention as STP, TimeInForce as TIF

logger = logging.getLogger(__name__)


class FixtureError(ValueError):
    """A fixture file that cannot be read or holds no usable depth snapshot."""


def load_fixture_snapshot(path: str | Path, symbol: Optional[str] = None) -> dict:
    """The first REST depth snapshot (``URL -> TS: BODY`` line) of a recorded session.

    Raises :class:`FixtureError` when the file cannot be read or holds no depth snapshot with
    bids and asks: a fixture the caller asked for is never silently replaced by made-up books.
    """
    try:
        with open(path, "r", encoding="utf-8") as fh:
            for line in fh:
                if " -> " not in line or "/depth?" not in line:
                    continue
                url, _, rest = line.partition(" -> ")
                if symbol and f"symbol={symbol}&" not in url + "&":
                    continue
                _, _, body = rest.partition(": ")
                data = json.loads(body)
                if isinstance(data, dict) and data.get("bids") and data.get("asks"):
                    return data
    except (OSError, ValueError) as e:
        raise FixtureError(f"cannot read fixture {path}: {e}") from None
    raise FixtureError(f"fixture {path} holds no REST depth snapshot "
                       f"(a line 'URL/depth?... -> TS: {{\"bids\": ..., \"asks\": ...}}')")


def shape_from_snapshot(snapshot: dict, levels: int = 50) -> list[tuple[str, float, float]]:
    """(side, price / mid, level notional in quote) for the top levels of a real book."""
    bids = [(float(p), float(q)) for p, q in snapshot["bids"][:levels]]
    asks = [(float(p), float(q)) for p, q in snapshot["asks"][:levels]]
    mid = (bids[0][0] + asks[0][0]) / 2
    out = [(BUY, p / mid, p * q) for p, q in bids] + [(SELL, p / mid, p * q) for p, q in asks]
    return out


class MarketMakerAgent:
    """Quotes and taker flow on one engine (spot or futures)."""

    def __init__(self, engine: MatchingEngine, maker_owner: str, taker_owner: str, seed: int = 0,
                 levels: int = 20, spacing: float = 2e-5, sigma: float = 3e-5,
                 taker_probability: float = 0.35,
                 level_notional: float = 2000.0, fixture: Optional[str | Path] = None) -> None:
        self.engine = engine
        self.maker = maker_owner
        self.taker = taker_owner
        self.rng = random.Random(seed)
        self.levels = levels
        self.spacing = spacing          # distance between quote levels, relative to the mid
        self.sigma = sigma
        self.taker_probability = taker_probability
        self.level_notional = level_notional
        self.mid: dict[str, float] = {s.symbol: float(s.start_price) for s in engine.specs.values()}
        self.shape: Optional[list] = None
        if fixture is not None:
            self.shape = shape_from_snapshot(load_fixture_snapshot(fixture), levels=max(levels, 20))
        self.steps = 0
        self.errors = 0

    # -- helpers
    def _qty(self, spec: SymbolSpec, notional: float, price: Decimal) -> Decimal:
        raw = Decimal(repr(max(notional, 1e-12))) / price
        qty = spec.floor_qty(raw)
        return max(qty, spec.min_qty)

    def _place(self, owner: str, req: OrderRequest) -> None:
        try:
            self.engine.submit(owner, req)
        except SimReject as e:
            self.errors += 1
            logger.debug("sim agent order rejected: %s", e)

    def seed_books(self) -> None:
        """Initial resting quotes on every symbol."""
        for spec in list(self.engine.specs.values()):
            mid = float(spec.start_price)
            if self.shape:
                for side, rel, notional in self.shape:
                    price = spec.floor_price(Decimal(repr(mid * rel)))
                    if price <= 0:
                        continue
                    if (side == BUY and price >= Decimal(repr(mid))) or (side == SELL and price <= Decimal(repr(mid))):
                        price = price - spec.tick_size if side == BUY else price + spec.tick_size
                    qty = self._qty(spec, notional, price)
                    if price * qty < spec.min_notional:
                        qty = self._qty(spec, float(spec.min_notional) * 1.5, price)
                    self._place(self.maker, OrderRequest(spec.symbol, side, "LIMIT", TIF.GTC, qty, None, price,
                                                         stp_mode=STP.NONE))
            else:
                self._requote(spec)

    def _gap(self, spec: SymbolSpec) -> Decimal:
        gap = spec.floor_price(Decimal(repr(self.mid[spec.symbol] * self.spacing)))
        return max(gap, spec.tick_size)

    def _band(self, spec: SymbolSpec) -> tuple[Decimal, Decimal]:
        mid = Decimal(repr(self.mid[spec.symbol]))
        half = self._gap(spec)
        return spec.floor_price(mid - half / 2), spec.floor_price(mid + half / 2) + spec.tick_size

    def _requote(self, spec: SymbolSpec) -> None:
        best_bid, best_ask = self._band(spec)
        gap = self._gap(spec)
        book = self.engine.books[spec.symbol]
        mine = [o for o in self.engine.open_orders(self.maker, spec.symbol)]
        # cancel quotes the mid moved through, and a little random churn
        for o in mine:
            stale = (o.side == BUY and o.price > best_bid) or (o.side == SELL and o.price < best_ask)
            far = (o.side == BUY and o.price < best_bid - gap * self.levels * 2) or \
                  (o.side == SELL and o.price > best_ask + gap * self.levels * 2)
            if stale or far or self.rng.random() < 0.03:
                try:
                    self.engine.cancel(self.maker, spec.symbol, o.order_id)
                except SimReject:
                    pass
        # keep the agent's book bounded: beyond 3x the quoted levels, the farthest quotes go
        for side in (BUY, SELL):
            quotes = sorted((o for o in self.engine.open_orders(self.maker, spec.symbol)
                             if o.side == side), key=lambda o: o.price, reverse=(side == BUY))
            for o in quotes[self.levels * 3:]:
                try:
                    self.engine.cancel(self.maker, spec.symbol, o.order_id)
                except SimReject:
                    pass
        have = {BUY: set(book.levels[BUY]), SELL: set(book.levels[SELL])}
        for i in range(self.levels):
            step = gap * i
            for side, price in ((BUY, best_bid - step), (SELL, best_ask + step)):
                if price <= 0 or price in have[side]:
                    continue
                if book.crosses(side, price):
                    continue
                notional = self.level_notional * self.rng.uniform(0.2, 1.8) * (1 + i / 5)
                qty = self._qty(spec, notional, price)
                self._place(self.maker, OrderRequest(spec.symbol, side, "LIMIT", TIF.GTC, qty, None, price,
                                                     stp_mode=STP.NONE))

    def step(self) -> None:
        """One tick: move the mids, requote, maybe send a taker order."""
        self.steps += 1
        for spec in list(self.engine.specs.values()):
            mid = self.mid[spec.symbol] * math.exp(self.rng.gauss(0.0, self.sigma))
            self.mid[spec.symbol] = max(mid, float(spec.tick_size) * 10)
            self._requote(spec)
            if self.rng.random() < self.taker_probability:
                side = BUY if self.rng.random() < 0.5 else SELL
                notional = self.level_notional * self.rng.expovariate(1.0)
                price = Decimal(repr(self.mid[spec.symbol]))
                qty = self._qty(spec, max(notional, float(spec.min_notional) * 1.2), price)
                self._place(self.taker, OrderRequest(spec.symbol, side, "MARKET", TIF.GTC, qty, stp_mode=STP.NONE))
