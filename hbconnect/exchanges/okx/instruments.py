"""OKX's instrument listing (``GET /api/v5/public/instruments``, one ``instType``) as
:class:`~hbconnect.exchanges._instruments.Instrument` entries with their trading rules and
contract sizes, for the venue's :class:`~hbconnect.exchanges._instruments.InstrumentTable`.

Facts (OKX API v5 docs, "Public Data / Get instruments"): ``instId`` (``BTC-USDT``,
``BTC-USDT-SWAP``), ``baseCcy``/``quoteCcy`` (SPOT), ``instFamily``/``settleCcy``/``ctVal``/
``ctMult``/``ctValCcy``/``ctType`` (SWAP), ``tickSz``, ``lotSz`` and ``minSz`` ("If it is a
derivatives contract, the value is the number of contracts"), ``maxLmtSz``, ``state`` (``live``,
``suspend``, ``preopen``, ``test``). One contract of a linear swap is ``ctVal x ctMult`` of the
base currency; inverse swaps (worth USD, margined in the coin) are not listed here.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Callable, Optional

from hbconnect.core.trading_rule import TradingRule
from hbconnect.exchanges._instruments import Instrument, InstrumentTable, concat_symbol
from hbconnect.exchanges._trading import ZERO, parse_decimal

logger = logging.getLogger(__name__)
_ONE = Decimal(1)
INST_TYPES = ("SPOT", "SWAP")


def spelling(inst_type: str) -> Callable[[str], str]:
    """OKX's instId for a pair: ``BTC-USDT`` (SPOT), ``BTC-USDT-SWAP`` (SWAP)."""
    suffix = "-SWAP" if inst_type == "SWAP" else ""
    return lambda pair: concat_symbol(pair, sep="-") + suffix


def new_table(venue: str, inst_type: str) -> InstrumentTable:
    if inst_type not in INST_TYPES:
        raise ValueError(f"okx instrument table: instType must be one of {INST_TYPES}")
    return InstrumentTable(venue, spell=spelling(inst_type))


def parse_instruments(entries: Any, inst_type: str) -> list:
    """The live instruments of ``entries`` (the answer's ``data``) with rules in base units.
    A malformed entry is skipped and logged; one not ``live`` or an inverse swap is left out."""
    out = []
    for entry in entries if isinstance(entries, list) else ():
        try:
            ins = instrument(entry, inst_type)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            ident = entry.get("instId") if isinstance(entry, dict) else entry
            logger.warning("okx: skipping malformed instrument %.60s: %s", str(ident), exc)
            continue
        if ins is not None:
            out.append(ins)
    return out


def instrument(e: dict, inst_type: str) -> Optional[Instrument]:
    if e.get("state") != "live" or e.get("instType") != inst_type:
        return None
    inst_id = e["instId"]
    if type(inst_id) is not str or not inst_id:
        raise ValueError("instId missing")
    tick, lot, min_sz = parse_decimal(e["tickSz"]), parse_decimal(e["lotSz"]), parse_decimal(e["minSz"])
    max_sz = parse_decimal(e.get("maxLmtSz"), ZERO)
    if tick <= 0 or lot <= 0 or min_sz < 0:
        raise ValueError("tickSz and lotSz must be positive")
    if inst_type == "SPOT":
        base, quote, size = e["baseCcy"], e["quoteCcy"], _ONE
        if type(base) is not str or type(quote) is not str or not base or not quote:
            raise ValueError("baseCcy/quoteCcy missing")
        sell_collateral = base
    else:
        if e.get("ctType") != "linear":
            return None
        base, sep, quote = str(e.get("instFamily") or e.get("uly") or "").partition("-")
        if not sep or not base or e.get("settleCcy") != quote or e.get("ctValCcy") != base:
            raise ValueError("linear swap whose family, settle and contract currencies disagree")
        size = parse_decimal(e["ctVal"]) * parse_decimal(e.get("ctMult"), _ONE)
        if size <= 0:
            raise ValueError("ctVal x ctMult must be positive")
        sell_collateral = quote
    pair = f"{base}-{quote}"
    rule = TradingRule(
        trading_pair=pair,
        min_order_size=min_sz * size,
        max_order_size=max_sz * size if max_sz > 0 else None,
        min_price_increment=tick,
        min_base_amount_increment=lot * size,
        buy_order_collateral_token=quote,
        sell_order_collateral_token=sell_collateral,
    )
    return Instrument(pair, inst_id, base, quote, contract_size=size, rule=rule)
