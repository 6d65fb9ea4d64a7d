"""The venues ``hbconnect demo`` and ``hbconnect sim`` run on the embedded exchange: which
front end serves each, how the demo builds its market data and trading translation against it,
and what the exchange's own truth is for the end-of-run checks."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Dict, Tuple

from hbconnect.connector import Connector, PerpConnector


@dataclass(frozen=True)
class SimVenue:
    """One market of one venue on the embedded exchange."""

    exchange: str                # --exchange value
    perpetual: bool
    label: str                   # "OKX spot", "Binance USDⓈ-M" ...
    front: str                   # the front end's name on the EmbeddedExchange
    market: str                  # the sim engine: "spot" | "futures"
    #: (exchange, key, secret, passphrase) -> the trading translation on the front end
    trading: Callable[..., Any]
    #: (exchange) -> the market-data translation on the front end
    market_data: Callable[[Any], Any]
    #: the exchange's balances as the venue reports them: True for a unified account (spot and
    #: the perpetual wallet in one), False for separate spot / futures wallets
    unified: bool = False
    needs_passphrase: bool = False
    #: words of the failure message of a post-only order refused because it would take
    post_only_refusal: str = "immediately match"

    @property
    def connector_class(self) -> type:
        return PerpConnector if self.perpetual else Connector

    def engine(self, ex: Any) -> Any:
        return ex.futures_engine if self.perpetual else ex.spot_engine

    def book_unit(self, connector: Any, pair: str) -> Decimal:
        """Base units per size unit of the venue's book stream (contracts on OKX swaps)."""
        size = getattr(connector.venue, "contract_size", None)
        return size(pair) if size is not None else Decimal(1)

    def balances(self, ex: Any, key: str) -> Dict[str, Decimal]:
        """Total per asset, as the venue's balance endpoint states it."""
        account = ex.account_by_key(key)
        spot = {asset: free + locked for asset, (free, locked) in ex.balances(key).items()}
        futures = dict(account.futures.wallet)
        if self.unified:
            out = dict(spot)
            for asset, amount in futures.items():
                out[asset] = out.get(asset, Decimal(0)) + amount
            return out
        return futures if self.perpetual else spot


def _binance(perpetual: bool) -> SimVenue:
    def trading(ex: Any, key: str, secret: str, passphrase: str = "") -> Any:
        from hbconnect.exchanges.binance import BinancePerpetualTrading, BinanceSpotTrading
        if perpetual:
            return BinancePerpetualTrading(key, secret, rest_url=ex.futures_rest_url, ws_url=ex.futures_ws_url)
        return BinanceSpotTrading(key, secret, rest_url=ex.spot_rest_url, ws_url=ex.spot_ws_url)

    def market_data(ex: Any) -> Any:
        from hbconnect.exchanges.binance import BinanceMarketData
        if perpetual:
            return BinanceMarketData("binance_perpetual", perpetual=True, rest_url=ex.futures_rest_url,
                                     ws_url=ex.futures_ws_url)
        return BinanceMarketData("binance", perpetual=False, rest_url=ex.spot_rest_url, ws_url=ex.spot_ws_url)

    return SimVenue("binance", perpetual, "Binance USDⓈ-M" if perpetual else "Binance spot",
                    "binance.futures" if perpetual else "binance.spot", "futures" if perpetual else "spot",
                    trading, market_data,
                    # USDⓈ-M refuses a GTX order that would take (-5022), spot a LIMIT_MAKER one (-2010)
                    post_only_refusal="Post Only order will be rejected" if perpetual else "immediately match")


def _okx(perpetual: bool) -> SimVenue:
    def trading(ex: Any, key: str, secret: str, passphrase: str = "") -> Any:
        from hbconnect.exchanges.okx import OkxPerpetualTrading, OkxSpotTrading
        front = ex.front("okx")
        cls = OkxPerpetualTrading if perpetual else OkxSpotTrading
        return cls(key, secret, passphrase, rest_url=front.rest_url, ws_url=front.ws_url + "/ws/v5/private")

    def market_data(ex: Any) -> Any:
        from hbconnect.exchanges.okx import OkxMarketData
        url = ex.front("okx").ws_url + "/ws/v5/public"
        return OkxMarketData("okx_perpetual", "-SWAP", url) if perpetual else OkxMarketData("okx", "", url)

    return SimVenue("okx", perpetual, "OKX swap" if perpetual else "OKX spot", "okx",
                    "futures" if perpetual else "spot", trading, market_data, unified=True, needs_passphrase=True,
                    post_only_refusal="post-only order would have taken liquidity")


def _bybit(perpetual: bool) -> SimVenue:
    category = "linear" if perpetual else "spot"

    def trading(ex: Any, key: str, secret: str, passphrase: str = "") -> Any:
        from hbconnect.exchanges.bybit import BybitPerpetualTrading, BybitSpotTrading
        front = ex.front("bybit")
        cls = BybitPerpetualTrading if perpetual else BybitSpotTrading
        return cls(key, secret, rest_url=front.rest_url, ws_url=front.ws_url + "/v5/private",
                   trade_ws_url=front.ws_url + "/v5/trade")

    def market_data(ex: Any) -> Any:
        from hbconnect.exchanges.bybit import BybitMarketData
        url = f"{ex.front('bybit').ws_url}/v5/public/{category}"
        # 200 levels: deeper than the embedded market maker's ladder, so the whole book is seen
        return BybitMarketData("bybit_perpetual" if perpetual else "bybit", category, depth=200, url=url)

    # a PostOnly order that would take is accepted, then Cancelled with this rejectReason
    return SimVenue("bybit", perpetual, "Bybit linear" if perpetual else "Bybit spot", "bybit",
                    "futures" if perpetual else "spot", trading, market_data, unified=True,
                    post_only_refusal="EC_PostOnlyWillTakeLiquidity")


#: (--exchange, perpetual) -> the venue
SIM_VENUES: Dict[Tuple[str, bool], SimVenue] = {
    ("binance", False): _binance(False),
    ("binance", True): _binance(True),
    ("okx", False): _okx(False),
    ("okx", True): _okx(True),
    ("bybit", False): _bybit(False),
    ("bybit", True): _bybit(True),
}

#: --exchange of ``hbconnect sim`` -> the EmbeddedExchange venue it serves
SERVED: Dict[str, str] = {"binance": "binance", "okx": "okx", "bybit": "bybit"}


def sim_venue(exchange: str, perpetual: bool) -> SimVenue:
    try:
        return SIM_VENUES[(exchange, perpetual)]
    except KeyError:
        known = ", ".join(sorted({e for e, _ in SIM_VENUES}))
        raise ValueError(f"no demo for --exchange {exchange!r} (known: {known})") from None
