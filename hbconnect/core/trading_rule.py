"""Trading rules of one pair (Hummingbot's ``TradingRule`` fields) and Decimal quantization.

A zero increment means "no step"; ``max_order_size`` / ``max_price_significant_digits`` of
``None`` mean "no limit". Quantization rounds toward zero by default, as Hummingbot does: an
amount never grows, and a price never rises (a buy never pays more; for a sell pass
``rounding=ROUND_UP`` to never ask less). An amount that falls below the minimum size becomes 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Context, Decimal, DecimalException, InvalidOperation, localcontext
from typing import Any, Dict, Optional, Tuple

from hbconnect.core.types import OrderType, TradeType, to_decimal

__all__ = ["TradingRule", "quantize_to_step", "round_significant"]

_ZERO = Decimal(0)
# Exact arithmetic for amount/step ratios: the default 28 digits would round a long quotient
# (possibly up: more size than asked) or raise DivisionImpossible on a huge amount.
_EXACT = Context(prec=120)


def quantize_to_step(value: Decimal, step: Decimal, rounding: str = ROUND_DOWN) -> Decimal:
    """Round ``value`` to a multiple of ``step`` (``ROUND_DOWN``: toward zero). ``step <= 0``
    returns ``value`` unchanged. The result carries the step's exponent (``"0.010"`` -> 3 places).
    ``ValueError`` if ``value`` is not finite or beyond 1e±1000 (checked first), or if
    ``value / step`` is beyond 120 digits."""
    value = to_decimal(value, "value")
    entry = _STEP_PLANS.get(id(step))
    plan = entry[1] if entry is not None and entry[0] is step else _step_plan(step)
    if plan is _NO_STEP:
        return value
    try:
        if plan is not _GENERAL:  # a power of ten (the usual tick/step): one exact quantize
            unit, final = plan
            result = value.quantize(unit, rounding, _EXACT)
            return result if final is None else result.quantize(final, context=_EXACT)
        units = _EXACT.divide(value, step).to_integral_value(rounding=rounding, context=_EXACT)
        result = _EXACT.multiply(units, step)
        exp = step.as_tuple().exponent
        if isinstance(exp, int) and exp < 0:
            result = result.quantize(Decimal(1).scaleb(exp), context=_EXACT)
    except DecimalException:  # InvalidOperation, Overflow...
        raise ValueError(f"{value} is out of range for a step of {step}") from None
    return result


# id(step) -> (step, how to quantize to it), computed once per step object (the rules' own
# Decimals, a handful per venue). Keyed by identity, not value: 0.01 and 0.010 are equal but
# give results of different exponents. The entry holds the step, so its id is not reused.
_NO_STEP = object()
_GENERAL = object()
_STEP_PLANS: Dict[int, Tuple[Decimal, Any]] = {}


def _step_plan(step: Decimal) -> Any:
    if not step.is_finite():
        plan: Any = _GENERAL  # refused below, as any impossible division
    elif step <= 0:
        plan = _NO_STEP
    else:
        norm = step.normalize(_EXACT)
        exp = step.as_tuple().exponent
        norm_exp = norm.as_tuple().exponent
        if norm.as_tuple().digits == (1,) and isinstance(norm_exp, int) and norm_exp < 0:
            unit = Decimal((0, (1,), norm_exp))
            plan = (unit, Decimal((0, (1,), exp)) if exp < norm_exp else None)
        else:
            plan = _GENERAL
    if len(_STEP_PLANS) >= 4096:  # rules refreshed over days: start over rather than grow
        _STEP_PLANS.clear()
    _STEP_PLANS[id(step)] = (step, plan)
    return plan


def _is_multiple(value: Decimal, step: Decimal) -> bool:
    try:
        return not _EXACT.remainder(value, step)
    except InvalidOperation:
        return False


def round_significant(value: Decimal, digits: int, rounding: str = ROUND_DOWN) -> Decimal:
    """Round ``value`` to ``digits`` significant digits (toward zero by default). ``ValueError``
    if ``value`` is not finite or beyond 1e±1000 (checked before any arithmetic)."""
    value = to_decimal(value, "value")
    if value == 0 or digits <= 0:
        return value
    exp = value.adjusted() - digits + 1
    with localcontext(_EXACT):
        if exp <= 0:
            return value.quantize(Decimal(1).scaleb(exp), rounding=rounding)
        return value.scaleb(-exp).to_integral_value(rounding=rounding).scaleb(exp)


@dataclass(slots=True)
class TradingRule:
    trading_pair: str
    min_order_size: Decimal = _ZERO
    max_order_size: Optional[Decimal] = None
    min_price_increment: Decimal = _ZERO  # tick size
    min_base_amount_increment: Decimal = _ZERO  # step size
    min_quote_amount_increment: Decimal = _ZERO
    min_notional_size: Decimal = _ZERO
    max_notional_size: Optional[Decimal] = None
    max_price_significant_digits: Optional[int] = None
    min_price: Decimal = _ZERO
    max_price: Optional[Decimal] = None
    supports_limit_orders: bool = True
    supports_market_orders: bool = True
    buy_order_collateral_token: Optional[str] = None
    sell_order_collateral_token: Optional[str] = None

    def __post_init__(self) -> None:
        for name in ("min_order_size", "min_price_increment", "min_base_amount_increment",
                     "min_quote_amount_increment", "min_notional_size", "min_price"):
            v = to_decimal(getattr(self, name), name)
            if v < 0:
                raise ValueError(f"{self.trading_pair}: {name} must be >= 0, got {v}")
            setattr(self, name, v)
        for name in ("max_order_size", "max_notional_size", "max_price"):
            v = getattr(self, name)
            if v is not None:
                v = to_decimal(v, name)
                if v <= 0:
                    raise ValueError(f"{self.trading_pair}: {name} must be > 0, got {v}")
                setattr(self, name, v)
        if self.max_price_significant_digits is not None and int(self.max_price_significant_digits) < 1:
            raise ValueError(f"{self.trading_pair}: max_price_significant_digits must be >= 1")
        if self.buy_order_collateral_token is None or self.sell_order_collateral_token is None:
            base, sep, quote = self.trading_pair.partition("-")
            if sep:
                if self.buy_order_collateral_token is None:
                    self.buy_order_collateral_token = quote
                if self.sell_order_collateral_token is None:
                    self.sell_order_collateral_token = quote

    # ---- quantization ----
    def quantize_price(self, price: Any, rounding: str = ROUND_DOWN) -> Decimal:
        """Price rounded down to the tick (and to the allowed significant digits)."""
        p = to_decimal(price, "price")
        if self.max_price_significant_digits is not None:
            p = round_significant(p, int(self.max_price_significant_digits), rounding)
        return quantize_to_step(p, self.min_price_increment, rounding)

    def quantize_amount(self, amount: Any, price: Optional[Any] = None) -> Decimal:
        """Amount rounded down to the step; 0 if that is below the minimum order size, or below
        the minimum notional when ``price`` is given."""
        a = quantize_to_step(to_decimal(amount, "amount"), self.min_base_amount_increment)
        if a <= 0 or a < self.min_order_size:
            return _ZERO
        if price is not None and self.min_notional_size > 0:
            if a * to_decimal(price, "price") < self.min_notional_size:
                return _ZERO
        return a

    def quantize_quote_amount(self, quote_amount: Any) -> Decimal:
        """Quote amount (e.g. a market buy by value) rounded down to its increment."""
        return quantize_to_step(to_decimal(quote_amount, "quote amount"), self.min_quote_amount_increment)

    # ---- validation ----
    def validate(self, amount: Any, price: Optional[Any] = None,
                 order_type: OrderType = OrderType.LIMIT, trade_type: Optional[TradeType] = None,
                 reference_price: Optional[Any] = None) -> Optional[str]:
        """``None`` if an order of ``amount`` at ``price`` passes these rules, else the reason.

        Values are checked as given (quantize first). For a MARKET order the notional is checked
        against ``reference_price`` (e.g. the mid) when one is given.
        """
        pair = self.trading_pair
        try:
            a = to_decimal(amount, "amount")
        except ValueError as e:
            return f"{pair}: invalid amount: {e}"
        if order_type.is_limit_type():
            if not self.supports_limit_orders:
                return f"{pair}: limit orders are not supported"
        elif not self.supports_market_orders:
            return f"{pair}: market orders are not supported"
        if a <= 0:
            side = f"{trade_type.name.lower()} " if trade_type is not None else ""
            return f"{pair}: {side}amount must be positive, got {a}"
        p: Optional[Decimal] = None
        if order_type is OrderType.MARKET:
            # a market order's price, if any, is only a reference for the notional check
            if price is not None and reference_price is None:
                reference_price = price
        else:
            if price is None:
                return f"{pair}: a {order_type.name} order needs a price"
            try:
                p = to_decimal(price, "price")
            except ValueError as e:
                return f"{pair}: invalid price: {e}"
            if p <= 0:
                return f"{pair}: price must be positive, got {p}"
        if a < self.min_order_size:
            return f"{pair}: amount {a} is below the minimum order size {self.min_order_size}"
        if self.max_order_size is not None and a > self.max_order_size:
            return f"{pair}: amount {a} is above the maximum order size {self.max_order_size}"
        if self.min_base_amount_increment > 0 and not _is_multiple(a, self.min_base_amount_increment):
            return f"{pair}: amount {a} is not a multiple of the step size {self.min_base_amount_increment}"
        if p is not None:
            if self.min_price_increment > 0 and not _is_multiple(p, self.min_price_increment):
                return f"{pair}: price {p} is not a multiple of the tick size {self.min_price_increment}"
            if p < self.min_price:
                return f"{pair}: price {p} is below the minimum price {self.min_price}"
            if self.max_price is not None and p > self.max_price:
                return f"{pair}: price {p} is above the maximum price {self.max_price}"
            if (self.max_price_significant_digits is not None
                    and _significant_digits(p) > int(self.max_price_significant_digits)):
                return (f"{pair}: price {p} has more than {self.max_price_significant_digits} "
                        f"significant digits")
        ref = p
        if ref is None and reference_price is not None:
            try:
                ref = to_decimal(reference_price, "reference price")
            except ValueError:
                ref = None
        if ref is not None and ref > 0:
            notional = a * ref
            if notional < self.min_notional_size:
                return (f"{pair}: order value {notional} is below the minimum notional "
                        f"{self.min_notional_size}")
            if self.max_notional_size is not None and notional > self.max_notional_size:
                return (f"{pair}: order value {notional} is above the maximum notional "
                        f"{self.max_notional_size}")
        return None

    # ---- persistence ----
    def to_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for name in self.__slots__:  # type: ignore[attr-defined]
            v = getattr(self, name)
            out[name] = str(v) if isinstance(v, Decimal) else v
        return out

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "TradingRule":
        return cls(**{k: v for k, v in data.items() if k in cls.__slots__})  # type: ignore[attr-defined]


def _significant_digits(value: Decimal) -> int:
    digits = value.normalize().as_tuple().digits
    return len(digits)
