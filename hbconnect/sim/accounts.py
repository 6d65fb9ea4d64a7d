"""Accounts of the embedded exchange: spot balances and linear perpetual wallets and positions.

Two ledgers implement the engine's ``Ledger`` protocol:

* :class:`SpotLedger` — free/locked balances per asset.  An order locks what it may spend
  (quote for a BUY at its limit price, base for a SELL); each fill spends from the lock; the fee
  is charged in the asset received, without fee-token discounts (BUY pays in base,
  SELL in quote), rounded to 8 decimals.
* :class:`FuturesLedger` — one USDT wallet per account (cross margin), positions per
  (symbol, position side) in one-way (``NET``) or hedge (``LONG``/``SHORT``) mode, leverage per
  symbol, an initial-margin check on every order that opens exposure
  (``notional / leverage`` against the available balance: wallet + unrealized PnL - position
  margin - open-order margin; ``Reject.MARGIN_INSUFFICIENT`` otherwise), realized PnL on
  reduce/close, fees in USDT, and funding payments (``-positionAmt * markPrice * rate``).

Isolated margin (``MarginMode.ISOLATED``, per account and symbol, changed only while the symbol
has no position and no open order): each fill that opens exposure allocates
``qty * fill price / leverage`` of the wallet to the position (``Position.isolated_margin``); a
fill that reduces it releases the same share of that margin as of the position it closes (all
of it at zero).  The wallet still holds the allocated margin (wallet balance = cross wallet +
isolated margins), but the available balance excludes it, and neither the isolated position's
margin nor its unrealized PnL backs anything else.  The realized PnL of a reduction is paid from
and to the wallet as in cross.  Liquidation (``FuturesLedger.liquidate``, run by the exchange
whenever the mark price may have moved): an isolated position whose margin plus unrealized PnL
falls to its maintenance margin (``MAINTENANCE_RATE`` of its notional at the mark price) is
closed and its whole isolated margin is lost, nothing more (the venue's insurance fund takes the
rest); it is booked as realized PnL and reported as an account event with reason
``LIQUIDATION``.  The price at which that happens is :meth:`FuturesLedger.liquidation_price`.
Cross positions are never liquidated by the sim.
"""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from decimal import Decimal, ROUND_HALF_UP
from typing import Callable, Optional

from hbconnect.sim.errors import Reject, SimReject
from hbconnect.sim.matching import (BUY, ZERO, AccountEvent, Fill, FillSide, Order, Plan,
                                    SymbolSpec, now_ms)
from hbconnect.sim.vocabulary import IncomeKind, MarginMode, PositionSide

logger = logging.getLogger(__name__)

EIGHT = Decimal("1e-8")
DEFAULT_LEVERAGE = 20
MAX_LEVERAGE = 125
#: maintenance margin of an isolated position, as a share of its notional at the mark price
MAINTENANCE_RATE = Decimal("0.004")


def q8(d: Decimal) -> Decimal:
    return d.quantize(EIGHT, rounding=ROUND_HALF_UP)


@dataclass
class Trade:
    """One fill from one account's point of view (myTrades / userTrades)."""

    symbol: str
    trade_id: int
    order_id: int
    client_order_id: str
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_maker: bool
    realized_pnl: Decimal = ZERO
    position_side: str = PositionSide.NET

    @property
    def is_buyer(self) -> bool:
        return self.side == BUY


@dataclass
class Position:
    symbol: str
    position_side: str
    amount: Decimal = ZERO          # signed: > 0 long, < 0 short
    entry_price: Decimal = ZERO
    update_time: int = 0
    isolated_margin: Decimal = ZERO     # the margin allocated to an isolated position

    def apply(self, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Add a signed fill; returns the realized PnL of the part that reduced the position."""
        p = self.amount
        realized = ZERO
        if p == 0 or (p > 0) == (signed_qty > 0):
            total = abs(p) + abs(signed_qty)
            self.entry_price = (abs(p) * self.entry_price + abs(signed_qty) * price) / total
            self.amount = p + signed_qty
        else:
            closed = min(abs(p), abs(signed_qty))
            # the average entry price is a quotient (28 significant digits); realized PnL is paid
            # in the margin asset's precision, 8 decimals, as the venue does
            realized = q8(closed * (price - self.entry_price) * (1 if p > 0 else -1))
            self.amount = p + signed_qty
            if self.amount == 0:
                self.entry_price = ZERO
            elif (self.amount > 0) != (p > 0):     # flipped through zero
                self.entry_price = price
        self.update_time = now_ms()
        return realized

    def unrealized(self, mark: Decimal) -> Decimal:
        return self.amount * (mark - self.entry_price) if self.amount else ZERO


@dataclass
class Income:
    symbol: str
    income_type: str        # an ``IncomeKind``
    income: Decimal
    asset: str
    time: int
    tran_id: int
    trade_id: str = ""


@dataclass
class SpotAccount:
    balances: dict[str, list[Decimal]] = field(default_factory=dict)   # asset -> [free, locked]
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    trades: list[Trade] = field(default_factory=list)
    update_time: int = 0
    record: bool = True         # internal agent accounts keep no trade history

    def bal(self, asset: str) -> list[Decimal]:
        return self.balances.setdefault(asset, [ZERO, ZERO])


@dataclass
class FuturesAccount:
    wallet: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    margin_mode: dict[str, str] = field(default_factory=dict)     # symbol -> MarginMode (CROSS if absent)
    hedge_mode: bool = False
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    trades: list[Trade] = field(default_factory=list)
    income: list[Income] = field(default_factory=list)
    update_time: int = 0
    record: bool = True

    def lev(self, symbol: str) -> int:
        return self.leverage.get(symbol, DEFAULT_LEVERAGE)

    def isolated(self, symbol: str) -> bool:
        return self.margin_mode.get(symbol) == MarginMode.ISOLATED

    def position(self, symbol: str, side: str) -> Position:
        key = (symbol, side)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = Position(symbol, side)
        return pos


@dataclass
class Account:
    """One venue account: credentials, a spot part and a futures part."""

    account_id: str
    api_key: str
    secret: str = field(repr=False)
    ed25519_public_key: Optional[object] = field(default=None, repr=False)
    passphrase: str = field(default="", repr=False)       # for venues that sign with one
    spot: SpotAccount = field(default_factory=SpotAccount)
    futures: FuturesAccount = field(default_factory=FuturesAccount)
    can_trade: bool = True

    def __repr__(self) -> str:   # never show credentials
        return f"Account({self.account_id})"


class SpotLedger:
    """Spot money: locks on placement, settlement per fill, fee in the received asset."""

    def __init__(self, accounts: dict[str, Account], specs: dict[str, SymbolSpec]) -> None:
        self.accounts = accounts      # account_id -> Account
        self.specs = specs
        self._dirty: dict[str, set[str]] = {}

    def _acct(self, owner: str) -> SpotAccount:
        return self.accounts[owner].spot

    def _touch(self, owner: str, asset: str) -> None:
        self._dirty.setdefault(owner, set()).add(asset)

    def check_reduce(self, order: Order, plan: Plan) -> None:
        return None

    def reserve(self, order: Order, plan: Plan) -> None:
        spec = self.specs[order.symbol]
        if order.side == BUY:
            asset = spec.quote
            if order.type == "MARKET":
                amount = order.orig_quote_qty if order.orig_quote_qty > 0 else plan.cost
            else:
                amount = order.price * order.orig_qty
        else:
            asset = spec.base
            amount = order.orig_qty
        bal = self._acct(order.owner).bal(asset)
        if amount > bal[0]:
            raise SimReject(Reject.INSUFFICIENT_BALANCE)
        bal[0] -= amount
        bal[1] += amount
        order.reserved, order.reserved_asset = amount, asset
        self._touch(order.owner, asset)

    def settle(self, fill: Fill) -> tuple[FillSide, FillSide]:
        return self._settle_one(fill, fill.taker, False), self._settle_one(fill, fill.maker, True)

    def _settle_one(self, fill: Fill, order: Order, is_maker: bool) -> FillSide:
        spec = self.specs[order.symbol]
        acct = self._acct(order.owner)
        rate = acct.maker_fee if is_maker else acct.taker_fee
        quote_amt = fill.price * fill.qty
        if order.side == BUY:
            spend = quote_amt
            # price improvement on a limit BUY is released at once, like the venue does
            if order.type != "MARKET" and order.price > fill.price:
                spend_lock = order.price * fill.qty
            else:
                spend_lock = spend
            spend_lock = min(spend_lock, order.reserved)
            qb = acct.bal(spec.quote)
            qb[1] -= spend_lock
            qb[0] += spend_lock - spend
            order.reserved -= spend_lock
            fee = q8(fill.qty * rate)
            fee_asset = spec.base
            acct.bal(spec.base)[0] += fill.qty - fee
        else:
            bb = acct.bal(spec.base)
            take = min(fill.qty, order.reserved)
            bb[1] -= take
            order.reserved -= take
            fee = q8(quote_amt * rate)
            fee_asset = spec.quote
            acct.bal(spec.quote)[0] += quote_amt - fee
        self._touch(order.owner, spec.base)
        self._touch(order.owner, spec.quote)
        acct.update_time = fill.time
        if acct.record:
            acct.trades.append(Trade(order.symbol, fill.trade_id, order.order_id, order.client_order_id,
                                     order.side, fill.price, fill.qty, quote_amt, fee, fee_asset,
                                     fill.time, is_maker))
        return FillSide(fill, order, is_maker, fee, fee_asset)

    def release(self, order: Order) -> None:
        if order.reserved and order.reserved_asset:
            bal = self._acct(order.owner).bal(order.reserved_asset)
            bal[0] += order.reserved
            bal[1] -= order.reserved
            self._touch(order.owner, order.reserved_asset)
        order.reserved = ZERO

    def flush(self, emit: Callable) -> None:
        dirty, self._dirty = self._dirty, {}
        ts = now_ms()
        for owner, assets in dirty.items():
            acct = self._acct(owner)
            acct.update_time = ts
            emit(AccountEvent(owner, "BALANCES", ts,
                              balances=[(a, acct.bal(a)[0], acct.bal(a)[1]) for a in sorted(assets)]))

    def adjust(self, owner: str, asset: str, delta: Decimal, emit: Callable) -> None:
        """Deposit (delta > 0) or withdraw: a ``DEPOSIT`` event, then the new balances."""
        bal = self._acct(owner).bal(asset)
        if bal[0] + delta < 0:
            raise SimReject(Reject.INSUFFICIENT_BALANCE)
        bal[0] += delta
        emit(AccountEvent(owner, "DEPOSIT", now_ms(), delta=(asset, delta)))
        self._touch(owner, asset)
        self.flush(emit)


class FuturesLedger:
    """Linear (USDT-margined) cross-margin accounting (see module docstring)."""

    MARGIN_ASSET = "USDT"

    def __init__(self, accounts: dict[str, Account], specs: dict[str, SymbolSpec],
                 mark_price: Callable[[str], Decimal]) -> None:
        self.accounts = accounts
        self.specs = specs
        self.mark_price = mark_price
        self._dirty: dict[str, dict] = {}       # owner -> {"positions": set, "reason": str}
        self._tran_ids = itertools.count(9_000_000)

    def _acct(self, owner: str) -> FuturesAccount:
        return self.accounts[owner].futures

    def _touch(self, owner: str, key: Optional[tuple[str, str]] = None, reason: str = "ORDER") -> None:
        d = self._dirty.setdefault(owner, {"positions": set(), "reason": reason})
        if key is not None:
            d["positions"].add(key)

    # -- margin arithmetic
    def position_margin(self, acct: FuturesAccount) -> Decimal:
        """Margin the positions hold: cross at the mark price, isolated what was allocated."""
        total = ZERO
        for (symbol, _), pos in acct.positions.items():
            if acct.isolated(symbol):
                total += pos.isolated_margin
            elif pos.amount:
                total += abs(pos.amount) * self.mark_price(symbol) / acct.lev(symbol)
        return total

    @staticmethod
    def isolated_margin(acct: FuturesAccount) -> Decimal:
        """The wallet's part allocated to isolated positions (cross wallet = wallet - this)."""
        return sum((p.isolated_margin for (s, _), p in acct.positions.items() if acct.isolated(s)), ZERO)

    def unrealized(self, acct: FuturesAccount) -> Decimal:
        """Unrealized PnL of the cross positions (an isolated one backs nothing else)."""
        return sum((p.unrealized(self.mark_price(s)) for (s, _), p in acct.positions.items()
                    if not acct.isolated(s)), ZERO)

    def order_margin(self, owner: str, engine_orders) -> Decimal:
        return sum((o.reserved for o in engine_orders), ZERO)

    def available(self, owner: str) -> Decimal:
        acct = self._acct(owner)
        wallet = acct.wallet.get(self.MARGIN_ASSET, ZERO)
        open_margin = sum((o.reserved for o in self.open_orders_of(owner)), ZERO)
        return wallet + self.unrealized(acct) - self.position_margin(acct) - open_margin

    open_orders_of: Callable = staticmethod(lambda owner: [])    # set by the exchange

    def set_leverage(self, owner: str, symbol: str, leverage: int) -> None:
        """Set a symbol's leverage (1..MAX_LEVERAGE); lowering it must leave the available
        balance non-negative."""
        if not isinstance(leverage, int) or not 1 <= leverage <= MAX_LEVERAGE:
            raise SimReject(Reject.LEVERAGE_INVALID, str(leverage))
        acct = self._acct(owner)
        old = acct.lev(symbol)
        acct.leverage[symbol] = leverage
        if leverage < old and self.available(owner) < 0:
            acct.leverage[symbol] = old
            raise SimReject(Reject.LEVERAGE_EXCEEDS_POSITION)

    def set_margin_mode(self, owner: str, symbol: str, mode: str) -> None:
        """Cross or isolated margin for one symbol; only while it has no position and no open
        order (``MARGIN_MODE_UNCHANGED`` if already so)."""
        if mode not in (MarginMode.CROSS, MarginMode.ISOLATED):     # front ends map their wire values
            raise ValueError(f"not a margin mode: {mode!r}")
        acct = self._acct(owner)
        if acct.margin_mode.get(symbol, MarginMode.CROSS) == mode:
            raise SimReject(Reject.MARGIN_MODE_UNCHANGED)
        if any(o.symbol == symbol for o in self.open_orders_of(owner)):
            raise SimReject(Reject.MARGIN_MODE_OPEN_ORDERS)
        if any(p.amount for (s, _), p in acct.positions.items() if s == symbol):
            raise SimReject(Reject.MARGIN_MODE_OPEN_POSITIONS)
        acct.margin_mode[symbol] = mode

    def liquidation_price(self, acct: FuturesAccount, symbol: str, pos: Position) -> Optional[Decimal]:
        """The mark price at which an isolated position is liquidated: where
        ``margin + amount * (P - entry) = MAINTENANCE_RATE * |amount| * P`` (None: cross, flat,
        or no such positive price)."""
        a = pos.amount
        if not a or not acct.isolated(symbol):
            return None
        denominator = a - MAINTENANCE_RATE * abs(a)
        price = (a * pos.entry_price - pos.isolated_margin) / denominator
        return price if price > 0 else None

    def liquidate(self, symbol: str, emit: Callable) -> list[tuple[str, Decimal]]:
        """Close the isolated positions of ``symbol`` whose margin plus unrealized PnL is at or
        below their maintenance margin; each loses its isolated margin. Returns (owner, loss)."""
        mark = self.mark_price(symbol)
        if mark <= 0:
            return []
        out = []
        ts = now_ms()
        for owner, account in self.accounts.items():
            acct = account.futures
            if not acct.isolated(symbol):
                continue
            keys = [k for k, p in acct.positions.items() if k[0] == symbol and p.amount
                    and p.isolated_margin + p.unrealized(mark) <= MAINTENANCE_RATE * abs(p.amount) * mark]
            if not keys:
                continue
            loss = ZERO
            for key in keys:
                pos = acct.positions[key]
                loss += pos.isolated_margin
                pos.amount = pos.entry_price = pos.isolated_margin = ZERO
                pos.update_time = ts
            asset = self.MARGIN_ASSET
            acct.wallet[asset] = acct.wallet.get(asset, ZERO) - loss
            if acct.record:
                acct.income.append(Income(symbol, IncomeKind.REALIZED_PNL, -loss, asset, ts, next(self._tran_ids)))
            emit(self.account_event(owner, "LIQUIDATION", keys, ts, change=-loss))
            out.append((owner, loss))
        return out

    def set_position_mode(self, owner: str, hedge: bool) -> None:
        """One-way (``hedge=False``) or hedge mode; only without open orders and positions."""
        acct = self._acct(owner)
        if hedge == acct.hedge_mode:
            raise SimReject(Reject.POSITION_MODE_UNCHANGED)
        if list(self.open_orders_of(owner)):
            raise SimReject(Reject.POSITION_MODE_OPEN_ORDERS)
        if any(p.amount for p in acct.positions.values()):
            raise SimReject(Reject.POSITION_MODE_OPEN_POSITIONS)
        acct.hedge_mode = hedge
        acct.positions.clear()

    def _position_key(self, acct: FuturesAccount, order: Order) -> tuple[str, str]:
        return (order.symbol, order.position_side if acct.hedge_mode else PositionSide.NET)

    def check_reduce(self, order: Order, plan: Plan) -> None:
        acct = self._acct(order.owner)
        if acct.hedge_mode and order.position_side == PositionSide.NET:
            raise SimReject(Reject.POSITION_MODE_MISMATCH)
        if not acct.hedge_mode and order.position_side != PositionSide.NET:
            raise SimReject(Reject.POSITION_MODE_MISMATCH)
        if acct.hedge_mode and order.reduce_only:
            raise SimReject(Reject.REDUCE_ONLY_IN_HEDGE_MODE)
        pos = acct.positions.get(self._position_key(acct, order))
        amount = pos.amount if pos else ZERO
        signed = order.orig_qty if order.side == BUY else -order.orig_qty
        if order.reduce_only or self._is_hedge_close(acct, order):
            if amount == 0 or (amount > 0) == (signed > 0) or abs(signed) > abs(amount):
                raise SimReject(Reject.REDUCE_ONLY_REJECTED)

    @staticmethod
    def _is_hedge_close(acct: FuturesAccount, order: Order) -> bool:
        return acct.hedge_mode and ((order.position_side == PositionSide.LONG and order.side != BUY)
                                   or (order.position_side == PositionSide.SHORT and order.side == BUY))

    def stale_reducers(self, owner: str, orders: list) -> list:
        """Resting reduce-only orders, and hedge-mode close orders (SELL on LONG, BUY on SHORT,
        implicitly reduce-only), that can no longer reduce: the venue expires them."""
        acct = self._acct(owner)
        out = []
        for o in orders:
            if not (o.reduce_only or self._is_hedge_close(acct, o)):
                continue
            pos = acct.positions.get(self._position_key(acct, o))
            amount = pos.amount if pos else ZERO
            signed = o.remaining if o.side == BUY else -o.remaining
            if amount == 0 or (amount > 0) == (signed > 0) or abs(signed) > abs(amount):
                out.append(o)
        return out

    def _opening_qty(self, acct: FuturesAccount, order: Order) -> Decimal:
        pos = acct.positions.get(self._position_key(acct, order))
        amount = pos.amount if pos else ZERO
        if acct.hedge_mode:
            opening = (order.position_side == PositionSide.LONG) == (order.side == BUY)
            return order.orig_qty if opening else ZERO
        if order.reduce_only:
            return ZERO
        signed = order.orig_qty if order.side == BUY else -order.orig_qty
        if amount == 0 or (amount > 0) == (signed > 0):
            return order.orig_qty
        return max(ZERO, abs(signed) - abs(amount))

    def reserve(self, order: Order, plan: Plan) -> None:
        acct = self._acct(order.owner)
        opening = self._opening_qty(acct, order)
        if order.type == "MARKET":
            price = plan.cost / plan.filled_qty if plan.filled_qty else self.mark_price(order.symbol)
        else:
            price = order.price
        margin = opening * price / acct.lev(order.symbol)
        if margin > 0 and margin > self.available(order.owner):
            raise SimReject(Reject.MARGIN_INSUFFICIENT)
        order.reserved, order.reserved_asset = margin, self.MARGIN_ASSET

    def settle(self, fill: Fill) -> tuple[FillSide, FillSide]:
        return self._settle_one(fill, fill.taker, False), self._settle_one(fill, fill.maker, True)

    def _settle_one(self, fill: Fill, order: Order, is_maker: bool) -> FillSide:
        acct = self._acct(order.owner)
        rate = acct.maker_fee if is_maker else acct.taker_fee
        notional = fill.price * fill.qty
        fee = q8(notional * rate)
        key = self._position_key(acct, order)
        pos = acct.position(*key)
        held = pos.amount
        signed = fill.qty if order.side == BUY else -fill.qty
        realized = pos.apply(signed, fill.price)
        if acct.isolated(order.symbol):
            # release the closed share of the isolated margin, allocate margin for what opened
            closed = min(abs(held), fill.qty) if held and (held > 0) != (signed > 0) else ZERO
            if closed:
                pos.isolated_margin -= pos.isolated_margin * closed / abs(held)
            if fill.qty > closed:
                pos.isolated_margin += (fill.qty - closed) * fill.price / acct.lev(order.symbol)
        asset = self.MARGIN_ASSET
        acct.wallet[asset] = acct.wallet.get(asset, ZERO) + realized - fee
        # the filled part of the order's margin now backs the position instead
        before = order.remaining + fill.qty
        if order.reserved and before > 0:
            order.reserved -= order.reserved * fill.qty / before
        if acct.record:
            if realized:
                acct.income.append(Income(order.symbol, IncomeKind.REALIZED_PNL, realized, asset, fill.time,
                                          next(self._tran_ids), str(fill.trade_id)))
            if fee:
                acct.income.append(Income(order.symbol, IncomeKind.FEE, -fee, asset, fill.time,
                                          next(self._tran_ids), str(fill.trade_id)))
            acct.trades.append(Trade(order.symbol, fill.trade_id, order.order_id, order.client_order_id,
                                     order.side, fill.price, fill.qty, notional, fee, asset, fill.time,
                                     is_maker, realized, key[1]))
        self._touch(order.owner, key)
        return FillSide(fill, order, is_maker, fee, asset, realized)

    def release(self, order: Order) -> None:
        order.reserved = ZERO

    def flush(self, emit: Callable) -> None:
        dirty, self._dirty = self._dirty, {}
        ts = now_ms()
        for owner, d in dirty.items():
            acct = self._acct(owner)
            acct.update_time = ts
            emit(self.account_event(owner, d["reason"], d["positions"], ts))

    def account_event(self, owner: str, reason: str, keys, ts: int,
                      change: Decimal = ZERO) -> AccountEvent:
        acct = self._acct(owner)
        wallet = acct.wallet.get(self.MARGIN_ASSET, ZERO)
        positions = []
        for key in sorted(keys):
            pos = acct.position(*key)
            positions.append({"symbol": key[0], "position_side": key[1], "amount": pos.amount,
                              "entry_price": pos.entry_price,
                              "unrealized": pos.unrealized(self.mark_price(key[0])),
                              "margin_mode": acct.margin_mode.get(key[0], MarginMode.CROSS),
                              "isolated_margin": pos.isolated_margin})
        cross_wallet = wallet - self.isolated_margin(acct)
        return AccountEvent(owner, reason, ts, balances=[(self.MARGIN_ASSET, wallet, cross_wallet, change)],
                            positions=positions)

    def funding(self, symbol: str, rate: Decimal, mark: Decimal, emit: Callable) -> list[tuple[str, Decimal]]:
        """Pay/charge funding on every open position of ``symbol``; returns (owner, amount)."""
        paid = []
        ts = now_ms()
        for owner, account in self.accounts.items():
            acct = account.futures
            keys = [k for k, p in acct.positions.items() if k[0] == symbol and p.amount]
            if not keys:
                continue
            total = ZERO
            for key in keys:
                total += q8(-acct.positions[key].amount * mark * rate)
            if total == 0:
                continue
            acct.wallet[self.MARGIN_ASSET] = acct.wallet.get(self.MARGIN_ASSET, ZERO) + total
            if acct.record:
                acct.income.append(Income(symbol, IncomeKind.FUNDING, total, self.MARGIN_ASSET, ts,
                                          next(self._tran_ids)))
            emit(self.account_event(owner, "FUNDING", [], ts, change=total))
            paid.append((owner, total))
        return paid
