"""One instrument table per venue: symbols, trading rules and contract sizes, as the venue's
instruments endpoint lists them, shared by the venue's market data and trading translation.

Venue symbols are never guessed from a quote-currency suffix: a symbol maps back to a pair only
when the venue listed it (:meth:`InstrumentTable.load`) or when it is the venue's spelling of a
pair this process asked for (:meth:`InstrumentTable.symbol`, a deterministic function of the
pair). Anything else is unknown (``UnknownSymbol``). What the table remembers is bounded: the
listed instruments, plus at most :attr:`InstrumentTable.max_asked` pairs asked for.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Dict, Iterable, Optional

from hbconnect.core.codecs import excerpt
from hbconnect.market.messages import ParseError

__all__ = ["Instrument", "InstrumentTable", "UnknownSymbol", "concat_symbol"]

_ONE = Decimal(1)


class UnknownSymbol(ParseError, KeyError):
    """A venue symbol that is neither listed nor the spelling of a pair asked for."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown symbol"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable instrument: ``pair`` (``BASE-QUOTE``) and the venue's ``symbol`` for it.

    ``contract_size``: base units per contract for venues whose perpetual orders are in
    contracts (OKX, Gate.io, HTX, KuCoin futures); 1 where orders are in base units.
    """

    pair: str
    symbol: str
    base: str
    quote: str
    contract_size: Decimal = _ONE
    rule: object = None  # the TradingRule, when the venue's listing carries one


def concat_symbol(pair: str, sep: str = "", lower: bool = False) -> str:
    """``BTC-USDT`` -> ``BTCUSDT`` (``sep`` between base and quote, lowercase with ``lower``)."""
    base, dash, quote = pair.strip().upper().partition("-")
    if not dash or not base or not quote or "-" in quote:
        raise ValueError(f"pair must look like BASE-QUOTE, got {excerpt(pair, 40)}")
    symbol = f"{base}{sep}{quote}"
    return symbol.lower() if lower else symbol


class InstrumentTable:
    """Pair <-> venue symbol, rules and contract sizes for one venue and market.

    :param spell: the venue's spelling of a pair that is not listed (yet): a deterministic
        function (default: ``BASE`` + ``QUOTE``); its result maps back to that pair only.
    """

    __slots__ = ("_by_pair", "_by_symbol", "_asked", "_spell", "max_asked", "venue")

    def __init__(self, venue: str = "", spell: Callable[[str], str] = concat_symbol, max_asked: int = 4096) -> None:
        self.venue = venue
        self._spell = spell
        self._by_pair: Dict[str, Instrument] = {}
        self._by_symbol: Dict[str, Instrument] = {}
        self._asked: Dict[str, str] = {}  # symbol -> pair, for pairs asked for and not listed
        self.max_asked = max_asked

    def __len__(self) -> int:
        return len(self._by_pair)

    def __repr__(self) -> str:
        return f"<InstrumentTable {self.venue} {len(self._by_pair)} instruments>"

    # -- loading --

    def load(self, instruments: Iterable[Instrument], replace: bool = True) -> None:
        """Take the venue's listing (``replace``: instruments no longer listed are dropped)."""
        by_pair = {} if replace else dict(self._by_pair)
        for ins in instruments:
            by_pair[ins.pair] = ins
        self._by_pair = by_pair
        self._by_symbol = {ins.symbol: ins for ins in by_pair.values()}
        for symbol in [s for s in self._asked if s in self._by_symbol]:
            del self._asked[symbol]

    def add(self, instrument: Instrument) -> None:
        self.load([instrument], replace=False)

    # -- lookups --

    def get(self, pair: str) -> Optional[Instrument]:
        return self._by_pair.get(pair)

    def by_symbol(self, symbol: str) -> Optional[Instrument]:
        return self._by_symbol.get(symbol)

    def symbol(self, pair: str) -> str:
        """The venue's symbol for ``pair`` (listed, else the venue's spelling of it)."""
        ins = self._by_pair.get(pair)
        if ins is not None:
            return ins.symbol
        symbol = self._spell(pair)
        if symbol not in self._asked and symbol not in self._by_symbol and len(self._asked) < self.max_asked:
            self._asked[symbol] = pair.strip().upper()
        return symbol

    def pair(self, symbol: str) -> str:
        """The pair of a listed or asked-for ``symbol``; ``UnknownSymbol`` otherwise (never a
        guess: "OMGBUSD" is not split into OMGB-USD)."""
        if type(symbol) is not str:
            raise UnknownSymbol(f"{self.venue}: venue symbol must be a string, got {excerpt(symbol, 40)}")
        ins = self._by_symbol.get(symbol)
        if ins is not None:
            return ins.pair
        pair = self._asked.get(symbol)
        if pair is not None:
            return pair
        raise UnknownSymbol(f"{self.venue}: unknown venue symbol {excerpt(symbol, 40)}")

    def contract_size(self, pair: str) -> Decimal:
        ins = self._by_pair.get(pair)
        return ins.contract_size if ins is not None else _ONE

    def to_contracts(self, pair: str, base_amount: Decimal) -> Decimal:
        """An order amount in base units as the venue's contracts."""
        return base_amount / self.contract_size(pair)

    def to_base(self, pair: str, contracts: Decimal) -> Decimal:
        """A venue amount in contracts as base units."""
        return contracts * self.contract_size(pair)
