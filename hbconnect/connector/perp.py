"""The perpetual connector: everything of :class:`Connector` plus positions, leverage, position
mode (one-way / hedge), funding info and funding payments."""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Dict, Optional, Tuple

from hbconnect.connector.connector import Connector, _loop_time
from hbconnect.connector.contract import FundingHint, FundingPayment, PositionUpdate
from hbconnect.core.errors import ExchangeError
from hbconnect.core.events import (
    FundingPaymentCompletedEvent,
    MarketEvent,
    PositionModeChangeEvent,
    PositionUpdateEvent,
)
from hbconnect.core.types import FundingInfo, MarginMode, Position, PositionAction, PositionMode, PositionSide

logger = logging.getLogger(__name__)

_ZERO = Decimal(0)


class PerpConnector(Connector):
    """Perpetual-futures connector.

    Orders take ``position_action=PositionAction.OPEN|CLOSE`` (``buy``/``sell`` keyword):
    in one-way mode CLOSE makes the order reduce-only; in hedge mode it selects the position side.
    """

    is_perpetual = True

    def __init__(self, venue: Any, trading_pairs: Any = (), *, funding_poll_interval: float = 60.0,
                 **kwargs: Any) -> None:
        super().__init__(venue, trading_pairs, **kwargs)
        self.funding_poll_interval = funding_poll_interval
        self._positions: Dict[Tuple[str, PositionSide], Position] = {}
        self._leverage: Dict[str, int] = self._account.leverage  # one dict: the venue sees it
        self._funding: Dict[str, FundingInfo] = {}
        self._funding_seen: set = set()
        self._funding_since_ms = 0
        self._funding_due = False
        self._last_funding_poll = float("-inf")  # never
        self._positions_ready = False
        self._positions_dirty = False
        self._last_positions_poll = float("-inf")  # never

    # ------------------------------------------------------------------ state
    @property
    def status_dict(self) -> Dict[str, bool]:
        d = super().status_dict
        if self.trading_required:
            d["positions_initialized"] = self._positions_ready
        d["funding_info"] = all(p in self._funding for p in self._trading_pairs)
        return d

    @property
    def position_mode(self) -> PositionMode:
        return self._account.position_mode

    def get_margin_mode(self, trading_pair: str) -> MarginMode:
        return self._account.margin_mode_of(trading_pair)

    @property
    def account_positions(self) -> Dict[str, Position]:
        """Open positions keyed by pair (one-way) or ``pair + side`` (hedge), as Hummingbot."""
        out = {}
        for (pair, side), pos in self._positions.items():
            if pos.amount == 0:
                continue
            out[pair if self._account.position_mode is PositionMode.ONEWAY else f"{pair}{side.name}"] = pos
        return out

    def get_position(self, trading_pair: str, side: Optional[PositionSide] = None) -> Optional[Position]:
        """The open position of ``trading_pair`` (``side`` in hedge mode), or None."""
        for (pair, s), pos in self._positions.items():
            if pair == trading_pair and pos.amount != 0 and (side is None or s is side):
                return pos
        return None

    def get_leverage(self, trading_pair: str) -> int:
        return self._leverage.get(trading_pair, 1)

    def get_funding_info(self, trading_pair: str) -> FundingInfo:
        if trading_pair not in self._funding:
            raise KeyError(f"no funding info for {trading_pair} yet")
        return self._funding[trading_pair]

    def _order_leverage(self, pair: str) -> int:
        return self.get_leverage(pair)

    def _order_position(self, position_action: PositionAction) -> PositionAction:
        return position_action if position_action is not PositionAction.NIL else PositionAction.OPEN

    # ------------------------------------------------------------------ settings
    async def set_leverage(self, trading_pair: str, leverage: int) -> int:
        """Set the pair's leverage at the venue; returns the leverage the venue applied."""
        applied = self._venue.parse_set_leverage(
            await self._send(self._venue.set_leverage_request(trading_pair, int(leverage), self._account)))
        self._leverage[trading_pair] = applied
        for (pair, _side), pos in self._positions.items():
            if pair == trading_pair:
                pos.leverage = applied
        return applied

    async def set_position_mode(self, mode: PositionMode) -> bool:
        """Switch between one-way and hedge mode. Emits PositionModeChangeSucceeded/Failed."""
        try:
            await self._send(self._venue.set_position_mode_request(mode))
        except ExchangeError as exc:
            if not self._venue.is_no_change(exc):
                for pair in self._trading_pairs:
                    self.event_hub.trigger_event(MarketEvent.PositionModeChangeFailed, PositionModeChangeEvent(
                        self._clock(), pair, mode, str(exc)))
                logger.warning("%s: position mode change to %s failed: %s", self.name, mode.name, exc)
                return False
        self._account.position_mode = mode
        for pair in self._trading_pairs:
            self.event_hub.trigger_event(MarketEvent.PositionModeChangeSucceeded, PositionModeChangeEvent(
                self._clock(), pair, mode))
        return True

    async def set_margin_mode(self, trading_pair: str, mode: MarginMode) -> bool:
        """Set the pair's margin mode (cross / isolated) at the venue; the orders placed after it
        carry it where the venue asks for it per order (OKX ``tdMode``). True on success (or when
        the venue says it already was so)."""
        try:
            await self._send(self._venue.set_margin_mode_request(trading_pair, mode))
        except ExchangeError as exc:
            if not self._venue.is_no_change(exc):
                logger.warning("%s: margin mode of %s -> %s failed: %s", self.name, trading_pair, mode.name, exc)
                return False
        self._account.margin_modes[trading_pair] = mode
        return True

    async def refresh_positions(self) -> Dict[str, Position]:
        await self._update_positions()
        return self.account_positions

    # ------------------------------------------------------------------ start / polling
    async def _on_start_trading(self) -> None:
        self._funding_since_ms = int(self._time_sync.time() * 1000)
        try:
            mode = self._venue.parse_position_mode(await self._send(self._venue.position_mode_request()))
            self._account.position_mode = mode
        except (ExchangeError, ValueError, KeyError) as exc:
            logger.warning("%s: position mode unavailable at start (%s)", self.name, exc)
        for step in (self._update_positions, self._update_funding_info):
            try:
                await step()
            except (ExchangeError, ValueError, KeyError) as exc:
                logger.warning("%s: %s failed at start (%s); will retry", self.name, step.__name__, exc)

    async def _poll_extra(self) -> None:
        now = _loop_time()
        interval = self.poll_interval if self._user_stream.connected else self.fast_poll_interval * 5
        if not self._positions_ready or self._positions_dirty or now - self._last_positions_poll >= interval:
            await self._update_positions()
        if now - self._last_funding_poll >= self.funding_poll_interval or not self.status_dict["funding_info"] \
                or self._funding_passed():
            await self._update_funding_info()
        if self._funding_due:
            self._funding_due = False
            await self._update_funding_payments()

    def _funding_passed(self) -> bool:
        now = self._time_sync.time()
        return any(0 < f.next_funding_utc_timestamp <= now for f in self._funding.values())

    async def _update_positions(self) -> None:
        self._positions_dirty = False
        self._last_positions_poll = _loop_time()
        snapshot = self._venue.parse_positions(await self._send(self._venue.positions_request()))
        seen = set()
        for p in snapshot.positions:
            if p.pair not in self._trading_pairs and p.amount == 0:
                continue
            seen.add(self._apply_position(p))
        for key in list(self._positions):
            if key not in seen and self._positions[key].amount != 0:
                self._apply_position(PositionUpdate(key[0], key[1], _ZERO, _ZERO))
        self._positions_ready = True

    async def _update_funding_info(self) -> None:
        self._last_funding_poll = _loop_time()
        passed = self._funding_passed()
        for pair in list(self._trading_pairs):
            info = self._venue.parse_funding_info(await self._send(self._venue.funding_info_request(pair)))
            self._funding[pair] = info
        if passed:
            self._funding_due = True

    async def _update_funding_payments(self) -> None:
        payments = self._venue.parse_funding_payments(
            await self._send(self._venue.funding_payments_request(self._funding_since_ms)))
        for pay in sorted(payments, key=lambda x: x.timestamp):
            self._emit_funding(pay)

    def _emit_funding(self, pay: FundingPayment) -> None:
        if pay.payment_id in self._funding_seen:
            return
        self._funding_seen.add(pay.payment_id)
        self._funding_since_ms = max(self._funding_since_ms, int(pay.timestamp * 1000))
        rate = pay.rate
        if rate is None:
            info = self._funding.get(pay.pair)
            rate = info.rate if info is not None else _ZERO
        self.event_hub.trigger_event(MarketEvent.FundingPaymentCompleted, FundingPaymentCompletedEvent(
            timestamp=pay.timestamp, market=self.name, trading_pair=pay.pair, amount=pay.amount,
            funding_rate=rate))

    # ------------------------------------------------------------------ stream events
    def _on_stream_connected(self) -> None:
        self._positions_dirty = True
        self._funding_due = True  # a funding event may have been missed while disconnected
        super()._on_stream_connected()

    def _on_other_event(self, event: Any) -> None:
        if isinstance(event, PositionUpdate):
            self._apply_position(event)
        elif isinstance(event, FundingHint):
            self._funding_due = True
            self._balances_dirty = True
            self._positions_dirty = True
            self.request_poll()

    def _apply_position(self, p: PositionUpdate) -> Tuple[str, PositionSide]:
        side = p.side
        if side is PositionSide.BOTH:
            # one-way: the side follows the sign; an empty position clears both
            side = PositionSide.LONG if p.amount > 0 else PositionSide.SHORT
            if p.amount == 0:
                for s in (PositionSide.LONG, PositionSide.SHORT):
                    self._set_position((p.pair, s), p)
                return (p.pair, PositionSide.LONG)
            other = PositionSide.SHORT if side is PositionSide.LONG else PositionSide.LONG
            if (p.pair, other) in self._positions:
                self._set_position((p.pair, other), PositionUpdate(p.pair, other, _ZERO, _ZERO))
        self._set_position((p.pair, side), p)
        return (p.pair, side)

    def _set_position(self, key: Tuple[str, PositionSide], p: PositionUpdate) -> None:
        lev = p.leverage or self._leverage.get(p.pair, 1)
        if p.leverage:
            self._leverage[p.pair] = p.leverage
        old = self._positions.get(key)
        if p.amount == 0:
            if old is None or old.amount == 0:
                self._positions.pop(key, None)
                return
            self._positions.pop(key, None)
            self.event_hub.trigger_event(MarketEvent.PositionUpdate, PositionUpdateEvent(
                self._clock(), p.pair, None, _ZERO, _ZERO, _ZERO, Decimal(lev)))
            return
        new = Position(p.pair, key[1], p.amount, p.entry_price, p.unrealized_pnl, lev)
        self._positions[key] = new
        if old is None or (old.amount, old.entry_price) != (new.amount, new.entry_price):
            self.event_hub.trigger_event(MarketEvent.PositionUpdate, PositionUpdateEvent(
                self._clock(), p.pair, key[1], p.unrealized_pnl, p.entry_price, p.amount, Decimal(lev)))


__all__ = ["PerpConnector"]
