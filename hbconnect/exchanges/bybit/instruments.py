"""Bybit's instrument listing (``GET /v5/market/instruments-info``) as
:class:`~hbconnect.exchanges._instruments.Instrument` entries, for market data and trading alike.

Spot and linear instruments list ``symbol``, ``baseCoin`` and ``quoteCoin``; linear contracts
are quoted in the base coin (one contract = one unit of base), so the contract size is 1.
"""
from __future__ import annotations

from typing import Any, Optional, Union

from hbconnect.exchanges._instruments import Instrument, listed_instrument, listing_instruments


def instrument(entry: dict, rule: Optional[object] = None) -> Instrument:
    """One ``result.list`` entry (``KeyError``/``TypeError`` when malformed)."""
    return listed_instrument(entry, "symbol", "baseCoin", "quoteCoin", rule)


def _result_list(data: dict) -> Any:
    result = data.get("result")
    return result.get("list") if type(result) is dict else None


def parse_instruments_info(body: Union[str, bytes, dict]) -> list:
    """Every well-formed instrument of an instruments-info answer; ``ParseError`` when the body is
    not one (an error body)."""
    return listing_instruments(body, "bybit instruments-info", _result_list, "result.list", instrument)
