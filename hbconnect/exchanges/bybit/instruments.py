"""Bybit's instrument listing (``GET /v5/market/instruments-info``) as
:class:`~hbconnect.exchanges._instruments.Instrument` entries, for market data and trading alike.

Spot and linear instruments list ``symbol``, ``baseCoin`` and ``quoteCoin``; linear contracts
are quoted in the base coin (one contract = one unit of base), so the contract size is 1.
"""
from __future__ import annotations

from typing import Any, Optional, Union

from hbconnect.core.codecs import fast_loads
from hbconnect.exchanges._instruments import Instrument
from hbconnect.market.messages import ParseError


def instrument(entry: dict, rule: Optional[object] = None) -> Instrument:
    """One ``result.list`` entry (``KeyError``/``TypeError`` when malformed)."""
    symbol, base, quote = entry["symbol"], entry["baseCoin"], entry["quoteCoin"]
    if type(symbol) is not str or type(base) is not str or type(quote) is not str:
        raise TypeError("symbol, baseCoin and quoteCoin must be strings")
    return Instrument(f"{base}-{quote}", symbol, base, quote, rule=rule)


def parse_instruments_info(body: Union[str, bytes, dict]) -> list:
    """Every well-formed instrument of an instruments-info answer; ``ParseError`` when the body is
    not one (an error body)."""
    try:
        data: Any = body if isinstance(body, dict) else fast_loads(body)
    except (ValueError, TypeError):
        raise ParseError("bybit instruments-info: not JSON") from None
    result = data.get("result") if type(data) is dict else None
    items = result.get("list") if type(result) is dict else None
    if type(items) is not list:
        raise ParseError("bybit instruments-info: no result.list")
    out = []
    for entry in items:
        try:
            out.append(instrument(entry))
        except (KeyError, TypeError):
            continue  # a malformed entry: the others still load
    return out
