"""Binance's instrument listing (``GET /api/v3/exchangeInfo``, ``GET /fapi/v1/exchangeInfo``) as
:class:`~hbconnect.exchanges._instruments.Instrument` entries, for market data and trading alike."""
from __future__ import annotations

from typing import Any, Optional, Union

from hbconnect.core.codecs import fast_loads
from hbconnect.exchanges._instruments import Instrument
from hbconnect.market.messages import ParseError


def instrument(entry: dict, rule: Optional[object] = None) -> Instrument:
    """One exchangeInfo ``symbols`` entry (``KeyError``/``TypeError`` when malformed)."""
    base, quote = entry["baseAsset"], entry["quoteAsset"]
    if type(base) is not str or type(quote) is not str or type(entry["symbol"]) is not str:
        raise TypeError("symbol, baseAsset and quoteAsset must be strings")
    return Instrument(f"{base}-{quote}", entry["symbol"], base, quote, rule=rule)


def parse_exchange_info(body: Union[str, bytes, dict]) -> list:
    """Every well-formed instrument of an exchangeInfo body; ``ParseError`` when the body is not
    one (an error body, a snapshot)."""
    try:
        data: Any = body if isinstance(body, dict) else fast_loads(body)
    except (ValueError, TypeError):
        raise ParseError("binance exchangeInfo: not JSON") from None
    symbols = data.get("symbols") if type(data) is dict else None
    if type(symbols) is not list:
        raise ParseError("binance exchangeInfo: no symbols list")
    out = []
    for entry in symbols:
        try:
            out.append(instrument(entry))
        except (KeyError, TypeError):
            continue  # a malformed entry: the others still load
    return out
