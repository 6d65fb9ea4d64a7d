"""Pure helpers every venue's trading translation needs: decimal text in and out, form bodies,
fees in the fee asset, and error classes looked up by name (no I/O)."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Optional
from urllib.parse import quote_plus

from hbconnect.core import errors
from hbconnect.core.types import PositionAction, TokenAmount, TradeFee, TradeType, decimal_text

__all__ = ["fmt_decimal", "parse_decimal", "form_encode", "flat_fee", "error_class", "ZERO"]

ZERO = Decimal(0)

_SAFE = re.compile(r"[A-Za-z0-9_.\-~]*").fullmatch


def form_encode(params: dict) -> str:
    """``urlencode`` of string values for the common case: values that need no quoting are joined
    as they are (the same result as ``urllib.parse.urlencode``, several times faster)."""
    if _SAFE("".join(params.values())):  # one check for all the values (the usual case)
        return "&".join([f"{k}={v}" for k, v in params.items()])
    return "&".join(f"{k}={v}" if _SAFE(v) else f"{quote_plus(k)}={quote_plus(v)}" for k, v in params.items())


def fmt_decimal(value: Any) -> str:
    """Decimal text without exponent or needless trailing zeros (venues reject '1E+1');
    booleans as ``true``/``false``, strings as they are."""
    if type(value) is str:
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)  # range-checked before any text is made
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_decimal(value: Any, default: Optional[Decimal] = None) -> Decimal:
    """A venue's number (text or JSON number) as a finite Decimal; ``default`` when absent or
    empty, else ``ValueError`` (the engine treats it as an unreadable response)."""
    if value is None or value == "":
        if default is not None:
            return default
        raise ValueError("missing decimal")
    try:
        d = Decimal(value if type(value) is str else str(value))
    except InvalidOperation as exc:
        raise ValueError(f"bad decimal {value!r}") from exc
    if not d.is_finite():
        raise ValueError(f"non-finite decimal {value!r}")
    return d


def flat_fee(amount: Decimal, asset: Optional[str], trade_type: Any = None, is_perpetual: bool = False,
             position_action: Any = None) -> TradeFee:
    """A fill's fee as the venue charged it: ``amount`` of ``asset`` (positive = paid; a rebate is
    negative). Empty when the venue charged nothing."""
    flat = [TokenAmount(asset, amount)] if asset and amount else []
    if is_perpetual:
        return TradeFee.new_perpetual_fee(position_action or PositionAction.OPEN, flat_fees=flat)
    return TradeFee.new_spot_fee(trade_type or TradeType.BUY, flat_fees=flat)


def error_class(name: str) -> type:
    """The exception class named ``name`` in :mod:`hbconnect.core.errors` (a venue's error table
    names them), :class:`~hbconnect.core.errors.ExchangeError` for anything else."""
    cls = getattr(errors, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, errors.ExchangeError) else errors.ExchangeError
