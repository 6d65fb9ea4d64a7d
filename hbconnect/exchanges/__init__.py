"""Venue modules: pure translation between each venue's wire format and hbconnect's types.

Each venue is a package ``hbconnect/exchanges/<venue>/`` (``market_data.py``, and for venues
that trade ``trading.py``, ``perpetual.py``, ``constants.py``) whose ``__init__`` exposes

* ``MARKET_DATA: dict[str, MarketDataVenue]`` keyed by registry id (see
  ``hbconnect.market.messages.MarketDataVenue``), and, for venues that trade,
* ``TRADING: dict[str, object]`` keyed by registry id (the connector's venue contract).

Modules are imported lazily so that using one venue never imports the others.
"""
from __future__ import annotations

import copy
import importlib
from typing import Any

#: registry id -> venue package under hbconnect.exchanges (ids follow Hummingbot's connector names)
VENUES: dict[str, str] = {
    "binance": "binance",
    "binance_perpetual": "binance",
    "okx": "okx",
    "okx_perpetual": "okx",
    "bybit": "bybit",
    "bybit_perpetual": "bybit",
    "kucoin": "kucoin",
    "kucoin_perpetual": "kucoin",
    "kucoin_full_book": "kucoin",
    "gate_io": "gate_io",
    "gate_io_perpetual": "gate_io",
    "coinbase_advanced_trade": "coinbase",
    "kraken": "kraken",
    "kraken_v2": "kraken",
    "bitstamp": "bitstamp",
    "htx": "htx",
    "htx_mbp": "htx",
    "bitget": "bitget",
    "bitget_perpetual": "bitget",
    "ascend_ex": "ascend_ex",
    "btc_markets": "btc_markets",
    "ndax": "ndax",
    "foxbit": "foxbit",
    "hashkey": "hashkey",
    "hashkey_perpetual": "hashkey",
    "mexc": "mexc",
    "bitmart": "bitmart",
    "bing_x": "bing_x",
    "bitrue": "bitrue",
    "bitfinex": "bitfinex",
}

#: names the fixtures and users may use for the same venues
ALIASES: dict[str, str] = {
    "huobi": "htx",
    "gateio": "gate_io",
    "coinbase": "coinbase_advanced_trade",
    "binance_futures": "binance_perpetual",
    "okx_swap": "okx_perpetual",
    "bybit_linear": "bybit_perpetual",
    "kucoin_futures": "kucoin_perpetual",
    "gateio_futures": "gate_io_perpetual",
    "bitget_futures": "bitget_perpetual",
    "ascendex": "ascend_ex",
    "btcmarkets": "btc_markets",
    "hashkey_global": "hashkey",
    "bingx": "bing_x",
}


def canonical_name(name: str) -> str:
    """Registry id for ``name`` (case-insensitive, aliases allowed); KeyError if unknown."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in VENUES:
        raise KeyError(f"unknown venue {name!r}; known: {', '.join(sorted(VENUES))}")
    return key


def _module(name: str) -> Any:
    return importlib.import_module(f"hbconnect.exchanges.{VENUES[canonical_name(name)]}")


def market_data_venue(name: str) -> Any:
    """A fresh MarketDataVenue for ``name``.

    A copy of the registered object, because some venues keep connection-level state on it
    (Kraken v1 channel ids, symbol maps learnt from the venue): two trackers must not share it.
    """
    key = canonical_name(name)
    return copy.deepcopy(_module(key).MARKET_DATA[key])


def trading_venue(name: str) -> Any:
    """The trading translation object registered under ``name``."""
    key = canonical_name(name)
    return _module(key).TRADING[key]
