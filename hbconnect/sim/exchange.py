"""``EmbeddedExchange``: engines, accounts, front ends, agent and funding wired together."""
from __future__ import annotations

import asyncio
import importlib
import logging
import re
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from hbconnect.sim.accounts import Account, FuturesLedger, SpotLedger
from hbconnect.sim.agent import MarketMakerAgent, load_fixture_snapshot
from hbconnect.sim.faults import FaultConfig, FaultInjector
from hbconnect.sim.marketdata import last_price
from hbconnect.sim.matching import BUY, SELL, ZERO, MatchingEngine, Order, SymbolSpec, now_ms
from hbconnect.sim.server import FrontEnd, cancel_and_wait

logger = logging.getLogger(__name__)

D = Decimal

#: venue name -> module defining ``front_ends(exchange, **options) -> {name: FrontEnd}``
VENUE_MODULES: dict[str, str] = {
    "binance": "hbconnect.sim.binance",
    "bybit": "hbconnect.sim.bybit",
    "okx": "hbconnect.sim.okx",
}
#: API keys, secrets and passphrases: printable ASCII without spaces (each front end checks
#: its venue's own format on requests)
_CREDENTIAL_RE = re.compile(r"^[\x21-\x7e]{1,128}$")
#: the recorded Binance depth snapshot the agent's books are shaped after (package data)
DEFAULT_FIXTURE = Path(__file__).resolve().parent / "data" / "binance_depth_snapshot.txt"

# (start price, tick, step, min qty, min notional) — close to Binance's real filters
SPOT_DEFAULTS: dict[str, tuple] = {
    "BTC-USDT": (D("60000"), D("0.01"), D("0.00001"), D("0.00001"), D("5")),
    "ETH-USDT": (D("3000"), D("0.01"), D("0.0001"), D("0.0001"), D("5")),
    "BNB-USDT": (D("600"), D("0.01"), D("0.001"), D("0.001"), D("5")),
    "SOL-USDT": (D("150"), D("0.01"), D("0.001"), D("0.001"), D("5")),
}
PERP_DEFAULTS: dict[str, tuple] = {
    "BTC-USDT": (D("60000"), D("0.10"), D("0.001"), D("0.001"), D("100")),
    "ETH-USDT": (D("3000"), D("0.01"), D("0.001"), D("0.001"), D("20")),
    "BNB-USDT": (D("600"), D("0.010"), D("0.01"), D("0.01"), D("5")),
    "SOL-USDT": (D("150"), D("0.0100"), D("1"), D("1"), D("5")),
}


def split_pair(pair: str) -> tuple[str, str]:
    if "-" not in pair:
        raise ValueError(f"trading pair must look like BASE-QUOTE, got {pair!r}")
    base, quote = pair.upper().split("-", 1)
    return base, quote


def make_spec(pair: str, market: str, start_price: Optional[Decimal] = None) -> SymbolSpec:
    base, quote = split_pair(pair)
    table = SPOT_DEFAULTS if market == "spot" else PERP_DEFAULTS
    if pair.upper() in table:
        price, tick, step, min_qty, min_notional = table[pair.upper()]
    else:
        price = start_price or D("100")
        digits = max(0, len(str(int(price))))
        tick = max(D(10) ** (digits - 6), D("1e-8"))
        tick_dec = max(0, -tick.as_tuple().exponent)
        step = D(10) ** -max(0, min(5, 7 - tick_dec))
        stable = quote in ("USDT", "USDC", "FDUSD", "BUSD", "USD", "EUR", "TUSD", "DAI")
        min_qty, min_notional = step, D("5") if stable else D("0.0001")
    price = start_price or price
    return SymbolSpec(symbol=f"{base}{quote}", base=base, quote=quote, market=market,
                      tick_size=tick, step_size=step, min_qty=min_qty, max_qty=D("9000000"),
                      min_notional=min_notional, min_price=tick, max_price=D("10000000"),
                      market_max_qty=D("100000"), start_price=price)


class EmbeddedExchange:
    """One matching engine per market (spot, perpetual) served by venue front ends on
    127.0.0.1; see the package docs."""

    AGENT_BALANCE = D("1000000000000")

    def __init__(self, seed: int = 0, pairs: Iterable[str] = ("BTC-USDT", "ETH-USDT"),
                 perp_pairs: Iterable[str] = ("BTC-USDT",), agent: bool = True,
                 funding_interval: Optional[float] = 60.0, funding_rate: Decimal = D("0.0001"),
                 agent_interval: float = 0.25, start_prices: Optional[Mapping[str, Decimal]] = None,
                 seed_from_fixture: bool | str | Path = False, spot_port: int = 0, futures_port: int = 0,
                 faults: Optional[FaultConfig] = None, spot_limits: Any = None,
                 futures_limits: Any = None, ping_interval: Optional[float] = None,
                 venues: Iterable[str] = ("binance",), ports: Optional[Mapping[str, int]] = None,
                 venue_options: Optional[Mapping[str, Mapping[str, Any]]] = None) -> None:
        self.seed = seed
        self.venues = tuple(venues)
        self.pairs = tuple(p.upper() for p in pairs)
        self.perp_pairs = tuple(p.upper() for p in perp_pairs)
        self.faults = faults or FaultConfig(seed=seed)
        self.injector = FaultInjector(self.faults)
        self.funding_interval = funding_interval
        self.funding_rates: dict[str, Decimal] = {}
        self.default_funding_rate = D(funding_rate)
        self.mark_overrides: dict[str, Decimal] = {}
        self.funding_history: list[dict] = []
        self.next_funding_ms = 0
        self.accounts: dict[str, Account] = {}
        self._by_key: dict[str, Account] = {}
        prices = {k.upper(): D(v) for k, v in (start_prices or {}).items()}
        # engines and ledgers
        self.spot_engine = MatchingEngine("spot", None, seed=seed, first_order_id=1000)   # type: ignore[arg-type]
        self.spot_engine.ledger = SpotLedger(self.accounts, self.spot_engine.specs)
        for pair in self.pairs:
            self.spot_engine.add_symbol(make_spec(pair, "spot", prices.get(pair)))
        self.futures_engine = MatchingEngine("futures", None, seed=seed + 1, first_order_id=5000)  # type: ignore[arg-type]
        fledger = FuturesLedger(self.accounts, self.futures_engine.specs, self.mark_price_of)
        fledger.open_orders_of = lambda owner: self.futures_engine.open_orders(owner)   # type: ignore[assignment]
        self.futures_engine.ledger = fledger
        for pair in self.perp_pairs:
            self.futures_engine.add_symbol(make_spec(pair, "futures", prices.get(pair)))
        options = {name: dict(opts) for name, opts in (venue_options or {}).items()}
        binance = options.setdefault("binance", {})
        if spot_limits is not None:
            binance.setdefault("spot_limits", spot_limits)
        if futures_limits is not None:
            binance.setdefault("futures_limits", futures_limits)
        self.front_ends: dict[str, FrontEnd] = {}
        for venue in self.venues:
            module = VENUE_MODULES.get(venue)
            if module is None:
                raise ValueError(f"unknown venue {venue!r} (known: {', '.join(sorted(VENUE_MODULES))})")
            fronts = importlib.import_module(module).front_ends(
                self, ping_interval=ping_interval, **options.get(venue, {}))
            self.front_ends.update(fronts)
        self._ports: dict[str, int] = {name: 0 for name in self.front_ends}
        self._ports.update({"binance.spot": spot_port, "binance.futures": futures_port})
        self._ports.update(ports or {})
        self.agent_enabled = agent
        self.agent_interval = agent_interval
        fixture: Optional[Path] = None
        if seed_from_fixture:
            fixture = DEFAULT_FIXTURE if seed_from_fixture is True else Path(seed_from_fixture)
            load_fixture_snapshot(fixture)      # FixtureError (a ValueError) now, not at start()
        self._fixture = fixture
        self.agents: list[MarketMakerAgent] = []
        self.agent_paused = False           # tests pause the flow to compare books at rest
        self._tasks: list[asyncio.Task] = []
        self.started = False

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> "EmbeddedExchange":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start serving (again: a restart keeps the state, the ports and the URLs)."""
        if self.started:
            return
        if self.agent_enabled and not self.agents:
            self._create_agent_accounts()
            for i, engine in enumerate((self.spot_engine, self.futures_engine)):
                if not engine.specs:
                    continue
                prefix = "agent-spot" if engine.market == "spot" else "agent-perp"
                a = MarketMakerAgent(engine, f"{prefix}-maker", f"{prefix}-taker", seed=self.seed * 31 + i,
                                     fixture=self._fixture)
                a.seed_books()
                self.agents.append(a)
        for name, front in self.front_ends.items():
            await front.start(self._ports.get(name, 0))
            self._ports[name] = front.port
        if not self.next_funding_ms:
            self.next_funding_ms = now_ms() + int((self.funding_interval or 28800) * 1000)
        if self.agents:
            self._tasks.append(asyncio.create_task(self._agent_loop()))
        if self.funding_interval and self.perp_pairs:
            self._tasks.append(asyncio.create_task(self._funding_loop()))
        self.started = True
        logger.info("embedded exchange up: %s", ", ".join(f"{n} {f.rest_url}" for n, f in self.front_ends.items()))

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        for front in self.front_ends.values():
            await front.stop()

    async def _agent_loop(self) -> None:
        while True:
            await asyncio.sleep(self.agent_interval)
            if self.agent_paused:
                continue
            for a in self.agents:
                try:
                    a.step()
                except Exception:
                    logger.exception("sim agent step failed")
            self.check_liquidations()       # the agent moves the books, so the mark prices

    async def _funding_loop(self) -> None:
        while True:
            delay = max(0.0, (self.next_funding_ms - now_ms()) / 1000.0)
            await asyncio.sleep(delay)
            try:
                self.run_funding()
            except Exception:
                logger.exception("sim funding failed")

    # ------------------------------------------------------------------ front ends and URLs
    def front(self, name: str) -> FrontEnd:
        """A front end by name (``binance.spot``, ``binance.futures``, ...)."""
        try:
            return self.front_ends[name]
        except KeyError:
            raise KeyError(f"no front end {name!r} (serving: {', '.join(self.front_ends)})") from None

    @property
    def spot(self) -> FrontEnd:
        """Binance spot (the default venue)."""
        return self.front("binance.spot")

    @property
    def futures(self) -> FrontEnd:
        """Binance USDⓈ-M futures."""
        return self.front("binance.futures")

    @property
    def spot_rest_url(self) -> str:
        return self.spot.rest_url

    @property
    def spot_ws_url(self) -> str:
        return self.spot.ws_url

    @property
    def futures_rest_url(self) -> str:
        return self.futures.rest_url

    @property
    def futures_ws_url(self) -> str:
        return self.futures.ws_url

    # ------------------------------------------------------------------ accounts
    def _create_agent_accounts(self) -> None:
        big = self.AGENT_BALANCE
        for prefix in ("agent-spot", "agent-perp"):
            for role in ("maker", "taker"):
                aid = f"{prefix}-{role}"
                if aid in self.accounts:
                    continue
                acct = Account(aid, "", secrets.token_hex(16))
                assets = {a for p in self.pairs for a in p.split("-")}
                for asset in assets:
                    acct.spot.bal(asset)[0] = big
                acct.spot.maker_fee = acct.spot.taker_fee = ZERO
                acct.spot.record = acct.futures.record = False
                acct.futures.wallet["USDT"] = big
                acct.futures.maker_fee = acct.futures.taker_fee = ZERO
                for pair in self.perp_pairs:
                    acct.futures.leverage[pair.replace("-", "")] = 125
                self.accounts[aid] = acct

    def create_account(self, api_key: str, api_secret: str = "",
                       balances: Optional[Mapping[str, Decimal]] = None,
                       futures_balances: Optional[Mapping[str, Decimal]] = None, *,
                       ed25519_public_key: Any = None, maker_fee: Optional[Decimal] = None,
                       taker_fee: Optional[Decimal] = None, futures_maker_fee: Optional[Decimal] = None,
                       futures_taker_fee: Optional[Decimal] = None, hedge_mode: bool = False,
                       leverage: Optional[Mapping[str, int]] = None, passphrase: str = "") -> Account:
        """Register an API key (HMAC secret, or an Ed25519 public key object/PEM) with funds."""
        if not isinstance(api_key, str) or not _CREDENTIAL_RE.match(api_key):
            raise ValueError("an API key is 1 to 128 printable ASCII characters without spaces")
        if passphrase and not _CREDENTIAL_RE.match(passphrase):
            raise ValueError("a passphrase is 1 to 128 printable ASCII characters without spaces")
        if api_key in self._by_key:
            raise ValueError("an account with this API key already exists")
        if ed25519_public_key is not None and isinstance(ed25519_public_key, (bytes, str)):
            from cryptography.hazmat.primitives.serialization import load_pem_public_key
            data = ed25519_public_key.encode() if isinstance(ed25519_public_key, str) else ed25519_public_key
            ed25519_public_key = load_pem_public_key(data)
        acct = Account(f"acct-{len(self._by_key) + 1}", api_key, api_secret,
                       ed25519_public_key=ed25519_public_key, passphrase=passphrase)
        for asset, amount in (balances or {}).items():
            acct.spot.bal(asset.upper())[0] = D(amount)
        for asset, amount in (futures_balances or {}).items():
            acct.futures.wallet[asset.upper()] = D(amount)
        # funded now: balances report when they last changed (clients skip a wallet whose
        # update time is 0)
        acct.spot.update_time = acct.futures.update_time = now_ms()
        if maker_fee is not None:
            acct.spot.maker_fee = D(maker_fee)
        if taker_fee is not None:
            acct.spot.taker_fee = D(taker_fee)
        if futures_maker_fee is not None:
            acct.futures.maker_fee = D(futures_maker_fee)
        if futures_taker_fee is not None:
            acct.futures.taker_fee = D(futures_taker_fee)
        acct.futures.hedge_mode = hedge_mode
        for pair, lev in (leverage or {}).items():
            acct.futures.leverage[self._symbol(pair)] = int(lev)
        self.accounts[acct.account_id] = acct
        self._by_key[api_key] = acct
        return acct

    def account_by_key(self, api_key: str) -> Optional[Account]:
        return self._by_key.get(api_key)

    def _acct(self, api_key: str) -> Account:
        acct = self._by_key.get(api_key)
        if acct is None:
            raise KeyError("unknown API key")
        return acct

    @staticmethod
    def _symbol(pair_or_symbol: str) -> str:
        return pair_or_symbol.upper().replace("-", "")

    def deposit(self, api_key: str, asset: str, amount: Decimal) -> None:
        """Spot deposit (or withdrawal if negative): the front ends push it (Binance:
        balanceUpdate + outboundAccountPosition)."""
        acct = self._acct(api_key)
        self.spot_engine.ledger.adjust(acct.account_id, asset.upper(), D(amount),   # type: ignore[attr-defined]
                                       self.spot_engine._emit)

    # ------------------------------------------------------------------ truth for assertions
    def _engine(self, market: str) -> MatchingEngine:
        if market not in ("spot", "futures", "perp"):
            raise ValueError("market must be 'spot' or 'futures'")
        return self.spot_engine if market == "spot" else self.futures_engine

    def open_orders(self, api_key: str, symbol: Optional[str] = None, market: str = "spot") -> list[Order]:
        acct = self._acct(api_key)
        return self._engine(market).open_orders(acct.account_id, self._symbol(symbol) if symbol else None)

    def order(self, api_key: str, symbol: str, client_order_id: str, market: str = "spot") -> Optional[Order]:
        acct = self._acct(api_key)
        return self._engine(market).find(acct.account_id, self._symbol(symbol), None, client_order_id)

    def balances(self, api_key: str) -> dict[str, tuple[Decimal, Decimal]]:
        """Spot balances: asset -> (free, locked)."""
        acct = self._acct(api_key)
        return {a: (v[0], v[1]) for a, v in acct.spot.balances.items()}

    def futures_balance(self, api_key: str, asset: str = "USDT") -> Decimal:
        return self._acct(api_key).futures.wallet.get(asset.upper(), ZERO)

    def positions(self, api_key: str) -> dict[tuple[str, str], dict]:
        """Open futures positions: (symbol, positionSide) -> amount, entry price, unrealized PnL."""
        acct = self._acct(api_key)
        out = {}
        for key, pos in acct.futures.positions.items():
            if pos.amount:
                out[key] = {"amount": pos.amount, "entry_price": pos.entry_price,
                            "unrealized_pnl": pos.unrealized(self.mark_price_of(key[0])),
                            "leverage": acct.futures.lev(key[0])}
        return out

    def trades(self, api_key: str, market: str = "spot") -> list:
        acct = self._acct(api_key)
        return list(acct.spot.trades if market == "spot" else acct.futures.trades)

    def income(self, api_key: str) -> list:
        return list(self._acct(api_key).futures.income)

    # ------------------------------------------------------------------ perps: marks and funding
    def last_price(self, engine: MatchingEngine, symbol: str) -> Decimal:
        return last_price(engine, symbol)

    def mark_price_of(self, symbol: str) -> Decimal:
        symbol = self._symbol(symbol)
        if symbol in self.mark_overrides:
            return self.mark_overrides[symbol]
        if symbol not in self.futures_engine.books:
            return ZERO
        book = self.futures_engine.books[symbol]
        b, a = book.best(BUY), book.best(SELL)
        if b is not None and a is not None:
            return book.spec.floor_price((b + a) / 2)
        return self.last_price(self.futures_engine, symbol)

    def set_mark_price(self, pair: str, price: Optional[Decimal]) -> None:
        """Pin a perp's mark price (None goes back to the book's mid)."""
        symbol = self._symbol(pair)
        if price is None:
            self.mark_overrides.pop(symbol, None)
        else:
            self.mark_overrides[symbol] = D(price)
        self.check_liquidations()

    def check_liquidations(self) -> list[tuple[str, Decimal]]:
        """Liquidate the isolated positions the mark price has exhausted (see ``accounts.py``);
        run whenever the mark price may have moved. Returns (account id, margin lost)."""
        out: list[tuple[str, Decimal]] = []
        engine = self.futures_engine
        for symbol in engine.specs:
            try:
                out += engine.ledger.liquidate(symbol, engine._emit)     # type: ignore[attr-defined]
            except Exception:
                logger.exception("sim liquidation check failed")
        return out

    def set_funding_rate(self, pair: str, rate: Decimal) -> None:
        self.funding_rates[self._symbol(pair)] = D(rate)

    def funding_rate(self, symbol: str) -> Decimal:
        return self.funding_rates.get(self._symbol(symbol), self.default_funding_rate)

    def run_funding(self) -> list[tuple[str, Decimal]]:
        """A funding event now on every perp: payments, funding income and account events."""
        paid: list[tuple[str, Decimal]] = []
        ts = now_ms()
        for symbol in self.futures_engine.specs:
            rate, mark = self.funding_rate(symbol), self.mark_price_of(symbol)
            paid += self.futures_engine.ledger.funding(symbol, rate, mark,     # type: ignore[attr-defined]
                                                       self.futures_engine._emit)
            self.funding_history.append({"symbol": symbol, "fundingRate": rate, "fundingTime": ts,
                                         "markPrice": mark})
        self.next_funding_ms = ts + int((self.funding_interval or 28800) * 1000)
        self.check_liquidations()
        return paid

    # ------------------------------------------------------------------ faults (actions)
    def close_sockets(self, kind: Optional[str] = None, market: Optional[str] = None) -> int:
        """Close WebSocket connections now (kind ``market`` / ``user`` / None = all)."""
        return sum(f.close_sockets(kind) for f in self._fronts(market))

    def expire_listen_keys(self, api_key: Optional[str] = None, market: Optional[str] = None) -> int:
        """Expire listen keys now: ``listenKeyExpired`` is pushed, then the stream closes."""
        owner = self._acct(api_key).account_id if api_key else None
        return sum(f.expire_listen_keys(owner) for f in self._fronts(market)     # type: ignore[attr-defined]
                   if hasattr(f, "expire_listen_keys"))

    def _fronts(self, market: Optional[str]) -> list[FrontEnd]:
        """Front ends of one market label (``spot`` / ``futures`` / a front-end name) or all."""
        fronts = list(self.front_ends.values())
        if market is None:
            return fronts
        if market in self.front_ends:
            return [self.front_ends[market]]
        return [f for f in fronts if f.market == market]

    def new_demo_credentials(self) -> tuple[str, str]:
        """A random API key / secret pair (local test credentials)."""
        return secrets.token_hex(32), secrets.token_hex(32)
