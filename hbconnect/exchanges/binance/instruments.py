"""Binance's instrument listing (``GET /api/v3/exchangeInfo``, ``GET /fapi/v1/exchangeInfo``) as
:class:`~hbconnect.exchanges._instruments.Instrument` entries, for market data and trading alike."""
from __future__ import annotations

from typing import Optional, Union

from hbconnect.exchanges._instruments import Instrument, listed_instrument, listing_instruments


def instrument(entry: dict, rule: Optional[object] = None) -> Instrument:
    """One exchangeInfo ``symbols`` entry (``KeyError``/``TypeError`` when malformed)."""
    return listed_instrument(entry, "symbol", "baseAsset", "quoteAsset", rule)


def parse_exchange_info(body: Union[str, bytes, dict]) -> list:
    """Every well-formed instrument of an exchangeInfo body; ``ParseError`` when the body is not
    one (an error body, a snapshot)."""
    return listing_instruments(body, "binance exchangeInfo", lambda data: data.get("symbols"), "symbols list", instrument)
