"""``hbconnect demo``: the embedded exchange + a bot trading on it, then a summary.

It starts the embedded exchange (by default Binance spot's protocol on 127.0.0.1, with its market
maker; ``--exchange okx|bybit`` and ``--perpetual`` choose another front end), connects the
venue's connector and an order book tracker to it, shows a live top-of-book ladder with the bot's
own orders, places, fills and cancels a few orders, and ends by itself with a summary: orders,
fills, fees, final balances, and whether the local book and the bot's view of its orders and
balances agree with the exchange. Exit code 0 only if everything agrees.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from decimal import ROUND_CEILING, Decimal
from typing import Any, Dict, List, Optional, TextIO

from hbconnect.core.loop import run as run_loop
from hbconnect.commands._venue_args import count_arg, pair_arg, seconds_arg
from hbconnect.connector import Connector
from hbconnect.core.events import MarketEvent
from hbconnect.core.types import OrderState, OrderType
from hbconnect.commands._sim_venues import SIM_VENUES, sim_venue
from hbconnect.market.tracker import OrderBookTracker
from hbconnect.sim import EmbeddedExchange

D = Decimal
_VENUE_STATE = {"NEW": OrderState.OPEN, "PARTIALLY_FILLED": OrderState.PARTIALLY_FILLED,
                "FILLED": OrderState.FILLED, "CANCELED": OrderState.CANCELED, "EXPIRED": OrderState.CANCELED,
                "PREVENTED": OrderState.CANCELED, "REJECTED": OrderState.FAILED}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pair", type=pair_arg, default="BTC-USDT", help="trading pair (default BTC-USDT)")
    parser.add_argument("--duration", type=seconds_arg, default=15.0, help="seconds of trading (default 15)")
    parser.add_argument("--forever", action="store_true", help="keep trading until Ctrl-C")
    parser.add_argument("--seed", type=int, default=1, help="seed of the embedded exchange")
    parser.add_argument("--levels", type=count_arg, default=5, help="ladder depth per side (default 5)")
    parser.add_argument("--quiet", action="store_true", help="only the summary")
    parser.add_argument("-v", "--verbose", action="store_true", help="log warnings of the engine")
    parser.add_argument("--exchange", choices=sorted({e for e, _ in SIM_VENUES}), default="binance",
                        help="the venue protocol the bot trades over (default binance)")
    parser.add_argument("--perpetual", action="store_true", help="trade the venue's perpetual market")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    demo = Demo(args.pair.upper(), duration=None if args.forever else args.duration, seed=args.seed,
                levels=args.levels, quiet=args.quiet, exchange=args.exchange, perpetual=args.perpetual)
    try:
        return run_loop(demo.main())  # uvloop when installed (hbconnect[fast])
    except KeyboardInterrupt:
        return 0 if demo.ok else 1


class Demo:
    def __init__(self, pair: str, duration: Optional[float], seed: int = 1, levels: int = 5,
                 quiet: bool = False, out: Optional[TextIO] = None, exchange: str = "binance",
                 perpetual: bool = False, steps: Optional[int] = None) -> None:
        self.venue = sim_venue(exchange, perpetual)
        self.pair = pair
        self.symbol = pair.replace("-", "")
        self.base, self.quote = pair.split("-")
        self.duration = duration
        #: stop the script after this many steps (each ~2 s) even before ``duration`` ends: a
        #: run whose content must not depend on how fast a loaded machine gets through it
        self.steps = steps
        self.seed = seed
        self.levels = levels
        self.quiet = quiet
        self.out = out if out is not None else sys.stdout  # the one current when run, not at import
        self.tty = self.out.isatty() and not quiet
        self.events: List[tuple] = []
        self.log_lines: List[str] = []
        self.placed: List[str] = []
        #: orders the script expects the venue to refuse (a post-only order that would cross)
        self.planned_rejections: set = set()
        self.header = ""  # the embedded exchange's URLs, kept on top of every redraw
        self.ok = False
        self.books_in_sync = False

    # ------------------------------------------------------------------ output
    def say(self, text: str) -> None:
        self.log_lines.append(text)
        if not self.quiet and not self.tty:
            print(text, file=self.out, flush=True)

    def on_event(self, tag: Any, ev: Any) -> None:
        self.events.append((tag, ev))
        oid = getattr(ev, "order_id", "")
        short = oid[-6:] if oid else ""
        if tag in (MarketEvent.BuyOrderCreated, MarketEvent.SellOrderCreated):
            side = "BUY " if tag is MarketEvent.BuyOrderCreated else "SELL"
            price = "market" if ev.price.is_nan() else _n(ev.price)
            self.say(f"created   {side} {_n(ev.amount)} {self.base} @ {price} [{ev.type.name}] ...{short}")
        elif tag is MarketEvent.OrderFilled:
            fee = ", ".join(f"{_n(f.amount)} {f.token}" for f in ev.trade_fee.flat_fees) or "0"
            self.say(f"filled    {ev.trade_type.name:<4} {_n(ev.amount)} @ {_n(ev.price)} fee {fee} ...{short}")
        elif tag in (MarketEvent.BuyOrderCompleted, MarketEvent.SellOrderCompleted):
            self.say(f"completed {_n(ev.base_asset_amount)} {ev.base_asset} for {_n(ev.quote_asset_amount)} "
                     f"{ev.quote_asset} ...{short}")
        elif tag is MarketEvent.OrderCancelled:
            self.say(f"cancelled ...{short}")
        elif tag is MarketEvent.OrderFailure:
            planned = " (planned: a post-only order that would cross is refused)" if self.planned(ev) else ""
            self.say(f"failed    ...{short}{planned}: {ev.error_message}")

    def ladder(self, connector: Connector, tracker: OrderBookTracker) -> str:
        """Top of book, best ``levels`` per side, with the bot's own orders marked on their level;
        an own order deeper in the book gets its own row (after a ``...`` gap) so it is always
        on the ladder, at its place in price order."""
        try:
            book = tracker.book(self.pair)
        except KeyError:
            return "(no book yet)"
        own: Dict[tuple, List[str]] = {}  # (price, is buy) -> the bot's orders there
        for o in connector.in_flight_orders.values():
            if o.price is not None and o.is_open:
                buy = o.trade_type.name == "BUY"
                own.setdefault((o.price, buy), []).append(f"{'BUY' if buy else 'SELL'} {_n(o.remaining_amount)}")
        lines = [f"{self.pair} on the embedded exchange   state {tracker.state(self.pair).value}   "
                 f"bid {book.best_bid}  ask {book.best_ask}   own open orders: {sum(map(len, own.values()))}"]
        lines.append(f"{'':>4} {'':>6} {'price':>16} {'size':>12}   own orders")

        def side_rows(top: List[tuple], everything: List[tuple], buys: bool) -> List[tuple]:
            """(price, price text, size text, gap-before) rows, best first."""
            rows = [(D(p), p, q, False) for p, q in top]
            shown = {r[0] for r in rows}
            worst = rows[-1][0] if rows else None
            sizes = None
            extra = []
            for price, buy in own:
                if buy is not buys or price in shown:
                    continue
                if sizes is None:
                    sizes = {D(p): q for p, q in everything}
                extra.append((price, f"{price:f}", sizes.get(price, "-"), True))
            rows += extra
            rows.sort(key=lambda r: r[0], reverse=buys)
            # a gap marker before the first row that is beyond the contiguous top levels
            out, gap_done = [], False
            for r in rows:
                beyond = worst is not None and ((r[0] < worst) if buys else (r[0] > worst))
                out.append((r[0], r[1], r[2], beyond and not gap_done))
                gap_done = gap_done or beyond
            return out

        def row(side: str, price: Decimal, price_text: str, size: str) -> str:
            mine = own.get((price, side == "bid"))
            mark = ("  <== " + ", ".join(mine)) if mine else ""
            return f"{'*' if mine else '':>4} {side:>6} {price_text:>16} {size:>12}{mark}"
        asks = side_rows(book.asks_text(self.levels), book.asks_text() if own else [], False)
        for price, text, size, gap in reversed(asks):
            lines.append(row("ask", price, text, size))
            if gap:
                lines.append(f"{'':>4} {'':>6} {'...':>16}")
        lines.append(f"{'':>4} {'':>6} {'-' * 16} {'-' * 12}")
        for price, text, size, gap in side_rows(book.bids_text(self.levels), book.bids_text() if own else [], True):
            if gap:
                lines.append(f"{'':>4} {'':>6} {'...':>16}")
            lines.append(row("bid", price, text, size))
        return "\n".join(lines)

    def redraw(self, connector: Connector, tracker: OrderBookTracker) -> None:
        if not self.tty:
            return
        text = self.ladder(connector, tracker)
        recent = "\n".join(self.log_lines[-8:])
        self.out.write("\x1b[H\x1b[2J" + self.header + text + "\n\n" + recent + "\n")
        self.out.flush()

    # ------------------------------------------------------------------ the bot
    async def main(self) -> int:
        spec = self.venue
        ex = EmbeddedExchange(seed=self.seed, pairs=(self.pair,), perp_pairs=(self.pair,) if spec.perpetual else (),
                              agent=True, agent_interval=0.1, funding_interval=None, venues=(spec.front.split(".")[0],))
        await ex.start()
        key, secret = ex.new_demo_credentials()
        passphrase = secret[:16] if spec.needs_passphrase else ""
        ex.create_account(key, secret, passphrase=passphrase,
                          balances={} if spec.perpetual else {self.quote: D("100000"), self.base: D("2")},
                          futures_balances={self.quote: D("100000")} if spec.perpetual else None)
        tracker = OrderBookTracker(spec.market_data(ex), [self.pair])
        venue = spec.trading(ex, key, secret, passphrase)
        connector = spec.connector_class(venue, [self.pair], order_book_tracker=tracker, poll_interval=2.0,
                                         fast_poll_interval=0.3, rest_timeout=3.0)
        for tag in MarketEvent:
            connector.event_hub.add_listener(tag, lambda ev, tag=tag: self.on_event(tag, ev))
        started = time.monotonic()
        problems: List[str] = []
        try:
            if not self.quiet:
                front = ex.front(spec.front)
                self.header = f"embedded exchange: {front.rest_url} (REST), {front.ws_url} (WebSocket)\n\n"
                self.out.write(self.header)
                self.out.flush()
            await connector.start()
            await connector.wait_until_ready(20)
            self.say(f"connected: rules, balances, user stream and the {self.pair} book are ready")
            try:
                await self.trade(connector, tracker)
            except (KeyboardInterrupt, asyncio.CancelledError):
                pass
            problems = await self.finish(ex, key, connector, tracker)
        finally:
            await connector.stop()
            await ex.stop()
        refused = self.order_problems()
        self.summary(connector, ex, key, problems, time.monotonic() - started, refused)
        self.ok = not problems and not refused
        return 0 if self.ok else 1

    async def trade(self, connector: Connector, tracker: OrderBookTracker) -> None:
        """A short script of orders, repeated (``--forever``) until the duration is over."""
        deadline = None if self.duration is None else time.monotonic() + self.duration
        step = 0
        rule = connector.trading_rules[self.pair]
        tick = rule.min_price_increment
        while (deadline is None or time.monotonic() < deadline) and (self.steps is None or step < self.steps):
            book = tracker.book(self.pair)
            bid, ask = D(str(book.best_bid)), D(str(book.best_ask))
            action = step % 6
            if action == 0:  # rest a bid and an ask away from the touch
                self.placed.append(connector.buy(self.pair, D("0.01"), OrderType.LIMIT, bid - 5 * tick))
                self.placed.append(connector.sell(self.pair, D("0.01"), OrderType.LIMIT_MAKER, ask + 5 * tick))
            elif action == 1:  # take liquidity: a crossing limit buy fills at once
                # priced through the ask by the larger of 5 ticks and 0.1%: the market maker
                # requotes while the order travels, and a buy at exactly the ask read can rest
                through = ask + max(5 * tick, (ask * D("0.001") / tick).to_integral_value(ROUND_CEILING) * tick)
                self.placed.append(connector.buy(self.pair, D("0.002"), OrderType.LIMIT, through))
            elif action == 2:  # a post-only order that would cross is refused by the venue
                # priced 0.5% through the ask: it crosses even when the step before took the
                # whole best level and this book has not heard of the next one yet
                oid = connector.buy(self.pair, D("0.002"), OrderType.LIMIT_MAKER, ask * D("1.005"))
                self.planned_rejections.add(oid)
                self.placed.append(oid)
            elif action == 3:  # a market sell
                self.placed.append(connector.sell(self.pair, D("0.002"), OrderType.MARKET))
            elif action == 4:  # join the touch; the market maker's flow may fill it
                self.placed.append(connector.buy(self.pair, D("0.003"), OrderType.LIMIT, bid))
            else:  # cancel what rests
                for oid, order in list(connector.in_flight_orders.items()):
                    if order.is_open:
                        connector.cancel(self.pair, oid)
            step += 1
            for _ in range(8):
                self.redraw(connector, tracker)
                await asyncio.sleep(0.25)
                if deadline is not None and time.monotonic() >= deadline:
                    break
            if not self.tty and not self.quiet:
                print(self.ladder(connector, tracker).splitlines()[0], file=self.out, flush=True)

    async def finish(self, ex: EmbeddedExchange, key: str, connector: Connector,
                     tracker: OrderBookTracker) -> List[str]:
        """Cancel the rest, stop the market maker, and check everything against the exchange."""
        problems: List[str] = []
        await connector.cancel_all(10.0)
        ex.agent_paused = True
        deadline = time.monotonic() + 10
        while connector.in_flight_orders and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if connector.in_flight_orders:
            problems.append(f"{len(connector.in_flight_orders)} order(s) not terminal")
        for oid in self.placed:
            order = connector.order_tracker.fetch_order(oid)
            venue = ex.order(key, self.symbol, oid, market=self.venue.market)
            if order is None:
                if venue is not None:
                    problems.append(f"order {oid} lost: the exchange has it, the bot does not")
                continue
            expected = OrderState.FAILED if venue is None else _VENUE_STATE.get(venue.status)
            if expected is not order.current_state or (venue is not None and venue.executed_qty != order.executed_amount_base):
                problems.append(f"order {oid}: bot {order.current_state.name}/{order.executed_amount_base}, "
                                f"exchange {venue.status if venue else 'unknown'}/{venue.executed_qty if venue else 0}")
        fills = [ev for t, ev in self.events if t is MarketEvent.OrderFilled]
        # one fill per (order, trade): where a venue lets an account trade with itself (Bybit's
        # default smpType None) one trade fills two of the bot's orders
        ids = [(f.exchange_order_id, f.exchange_trade_id) for f in fills]
        if len(ids) != len(set(ids)):
            problems.append("a fill was counted twice")
        if sorted(ids) != sorted((str(t.order_id), str(t.trade_id))
                                 for t in ex.trades(key, market=self.venue.market)):
            problems.append("the bot's fills differ from the exchange's trades")
        await connector.refresh_balances()
        for asset, total in self.venue.balances(ex, key).items():
            if connector.get_balance(asset) != total:
                problems.append(f"balance {asset}: bot {connector.get_balance(asset)}, exchange {total}")
        # books in sync: with the market maker stopped, the local book must equal the exchange's
        truth = self.venue.engine(ex).books[self.symbol]
        deadline = time.monotonic() + 5
        in_sync = False
        while time.monotonic() < deadline:
            book = tracker.book(self.pair)
            unit = self.venue.book_unit(connector, self.pair)  # OKX swap books count contracts
            local = ([(D(p), D(q) * unit) for p, q in book.bids_text()], [(D(p), D(q) * unit) for p, q in book.asks_text()])
            if local == (truth.depth("BUY", 10 ** 6), truth.depth("SELL", 10 ** 6)) and tracker.ready:
                in_sync = True
                break
            await asyncio.sleep(0.1)
        self.books_in_sync = in_sync
        if not in_sync:
            problems.append("the local order book differs from the exchange's")
        return problems

    def planned(self, failure: Any) -> bool:
        """A refusal the script asked for: its post-only order refused because it would cross
        (Binance: "Order would immediately match and take"; the venue table says each venue's words),
        not for another reason."""
        return failure.order_id in self.planned_rejections and self.venue.post_only_refusal in failure.error_message

    def order_problems(self) -> List[str]:
        """What the script's orders say about the run: none acknowledged (every order refused,
        e.g. below the venue's minimum notional), or refusals that were not planned."""
        problems: List[str] = []
        created = {t for t, _ in self.events} & {MarketEvent.BuyOrderCreated, MarketEvent.SellOrderCreated}
        failures = [ev for t, ev in self.events if t is MarketEvent.OrderFailure]
        unplanned = [ev for ev in failures if not self.planned(ev)]
        if self.placed and not created:
            why = f" (first refusal: {unplanned[0].error_message})" if unplanned else ""
            problems.append(f"no order was acknowledged by the exchange: {len(self.placed)} placed{why}")
        elif unplanned:
            problems.append(f"{len(unplanned)} order(s) refused unexpectedly, first: ...{unplanned[0].order_id[-6:]}: "
                            f"{unplanned[0].error_message}")
        return problems

    def summary(self, connector: Connector, ex: EmbeddedExchange, key: str, problems: List[str],
                elapsed: float, refused: List[str] = ()) -> None:
        """``problems``: where the bot and the exchange disagree; ``refused``: what the exchange's
        refusals say about the run (``order_problems``). Either fails the run."""
        tags = [t for t, _ in self.events]
        created = tags.count(MarketEvent.BuyOrderCreated) + tags.count(MarketEvent.SellOrderCreated)
        completed = tags.count(MarketEvent.BuyOrderCompleted) + tags.count(MarketEvent.SellOrderCompleted)
        fills = [ev for t, ev in self.events if t is MarketEvent.OrderFilled]
        fees: Dict[str, Decimal] = {}
        for f in fills:
            for fee in f.trade_fee.flat_fees:
                fees[fee.token] = fees.get(fee.token, D(0)) + fee.amount
        if self.tty:
            self.out.write("\x1b[H\x1b[2J")
        lines = [
            "",
            f"hbconnect demo summary ({elapsed:.1f} s, {self.pair}, {self.venue.label} protocol on the embedded exchange)",
            f"  orders:   {len(self.placed)} placed, {created} acknowledged, {completed} filled, "
            f"{tags.count(MarketEvent.OrderCancelled)} cancelled, {tags.count(MarketEvent.OrderFailure)} failed",
            f"  fills:    {len(fills)} (volume {_n(sum((f.amount for f in fills), D(0)))} {self.base})",
            "  fees:     " + (", ".join(f"{v.normalize():f} {k}" for k, v in sorted(fees.items())) or "none"),
            "  balances: " + ", ".join(f"{a} {connector.get_balance(a).normalize():f}"
                                      for a in sorted(connector.get_all_balances())),
            f"  books in sync: {'yes' if self.books_in_sync else 'NO'}",
            f"  orders, fills and balances match the exchange: {'yes' if not problems else 'NO'}",
        ]
        for p in [*refused, *problems]:
            lines.append(f"  problem: {p}")
        lines.append("result: OK" if not problems and not refused else "result: FAILED")
        print("\n".join(lines), file=self.out, flush=True)


def _n(value: Decimal) -> str:
    """Decimal without exponent or trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
