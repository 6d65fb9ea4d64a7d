"""``hbconnect sim``: run the embedded exchange alone on 127.0.0.1 for other bots to use."""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
from decimal import Decimal, InvalidOperation

from hbconnect.commands._sim_venues import SERVED
from hbconnect.commands._venue_args import count_arg, pair_arg, seconds_arg
from hbconnect.core.loop import run as run_loop

logger = logging.getLogger(__name__)

#: WebSocket paths and names of the venues served besides Binance (Binance prints its own)
WS_PATHS = {"okx": ("/ws/v5/public", "/ws/v5/private"),
            "bybit": ("/v5/public/spot", "/v5/public/linear", "/v5/private", "/v5/trade")}
VENUE_LABELS = {"okx": "OKX v5", "bybit": "Bybit v5"}

DEFAULT_BALANCES = {"USDT": Decimal("100000"), "BTC": Decimal("1"), "ETH": Decimal("10")}


def _balance(text: str) -> tuple[str, Decimal]:
    asset, sep, amount = text.partition("=")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        value = Decimal("NaN")
    if not sep or not asset or not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"expected ASSET=AMOUNT, got {text!r}")
    return asset.upper(), value


def _port(text: str) -> int:
    """0 (any free port) or a port that leaves PORT+1 for futures."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65534:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65534 (or 0: any free port), got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=_port, default=0,
                        help="spot port (futures listens on PORT+1); default: random free ports")
    parser.add_argument("--pairs", nargs="+", type=pair_arg, default=["BTC-USDT", "ETH-USDT"],
                        help="spot pairs (BASE-QUOTE)")
    parser.add_argument("--perp-pairs", nargs="*", type=pair_arg, default=["BTC-USDT"],
                        help="USDⓈ-M perpetual pairs")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (agent, ids, faults)")
    parser.add_argument("--api-key", help="API key of the demo account (default: generated)")
    parser.add_argument("--api-secret", help="API secret of the demo account (default: generated)")
    parser.add_argument("--ed25519-account", metavar="KEY=PEMFILE", action="append", default=[],
                        help="also open an account whose API key KEY signs with the Ed25519 key whose "
                             "public key (PEM) is in PEMFILE, with the demo account's balances "
                             "(Binance: WebSocket API session.logon; repeatable)")
    parser.add_argument("--balance", type=_balance, action="append", metavar="ASSET=AMOUNT",
                        help="demo account spot balance (repeatable; default USDT=100000 BTC=1 ETH=10)")
    parser.add_argument("--futures-balance", type=Decimal, default=Decimal("100000"),
                        help="demo account USDT futures wallet")
    parser.add_argument("--no-agent", action="store_true", help="no market-maker agent (empty books)")
    parser.add_argument("--orders-per-10s", type=count_arg, default=None, metavar="N",
                        help="spot unfilled-order limit per 10 s (default: Binance's 100); an account "
                             "with a raised limit, e.g. for benchmarks")
    parser.add_argument("--from-fixture", nargs="?", const=True, default=False, metavar="PATH",
                        help="shape the initial books after a recorded Binance depth snapshot: the one "
                             "shipped with hbconnect, or the first 'URL/depth?... -> TS: BODY' line of "
                             "the recording file PATH")
    parser.add_argument("--funding-interval", type=seconds_arg, default=60.0, help="seconds between funding events")
    parser.add_argument("--fault", action="append", metavar="KNOB=VALUE", default=[],
                        help="a fault knob, e.g. http_429=0.01, timeout_accepted=0.01, drop.market=0.05, "
                             "duplicate.user=0.1, delay_seconds=0.3 (repeatable)")
    parser.add_argument("--duration", type=seconds_arg, default=None, help="stop after this many seconds")
    parser.add_argument("--exchange", choices=sorted(SERVED), default="binance",
                        help="the venue protocol to serve (default binance; okx and bybit: one host for "
                             "spot and perpetuals, on --port)")


def apply_faults(config, items: list[str]) -> None:
    """Set ``KNOB=VALUE`` items on a FaultConfig; ``drop.market`` style for per-kind knobs."""
    per_kind = ("drop", "duplicate", "delay", "close")
    for item in items:
        name, sep, raw = item.partition("=")
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not sep or value != value:
            raise ValueError(f"bad fault {item!r}: expected KNOB=NUMBER")
        knob, _, kind = name.partition(".")
        if knob in per_kind:
            for k in ((kind,) if kind else ("market", "user")):
                if k not in ("market", "user"):
                    raise ValueError(f"bad fault {item!r}: kind must be market or user")
                getattr(config, knob)[k] = value
        elif knob in ("http_429", "http_5xx", "slow", "slow_seconds", "timeout_accepted", "timeout_rejected", "error_5xx_accepted",
                      "error_5xx_rejected", "delay_seconds", "hang_seconds"):
            setattr(config, knob, value)
        elif knob in ("retry_after_seconds", "clock_offset_ms"):
            setattr(config, knob, int(value))
        else:
            raise ValueError(f"unknown fault knob {knob!r}")


async def _serve(args: argparse.Namespace, out=sys.stdout) -> int:
    from hbconnect.sim import EmbeddedExchange
    from hbconnect.sim.agent import FixtureError
    from hbconnect.sim.binance import SPOT_LIMITS

    venue = SERVED[getattr(args, "exchange", "binance")]
    try:
        ex = EmbeddedExchange(seed=args.seed, pairs=args.pairs, perp_pairs=args.perp_pairs or (),
                              agent=not args.no_agent, funding_interval=args.funding_interval,
                              seed_from_fixture=args.from_fixture, spot_port=args.port,
                              futures_port=args.port + 1 if args.port else 0, venues=(venue,),
                              ports={venue: args.port} if venue != "binance" else None,
                              spot_limits=None if args.orders_per_10s is None else
                              dataclasses.replace(SPOT_LIMITS, orders_10s=args.orders_per_10s))
    except FixtureError as e:
        print(f"hbconnect sim: --from-fixture: {e}", file=sys.stderr)
        return 2
    try:
        apply_faults(ex.faults, args.fault)
    except ValueError as e:
        print(f"hbconnect sim: {e}", file=sys.stderr)
        return 2
    if bool(args.api_key) != bool(args.api_secret):
        print("hbconnect sim: give both --api-key and --api-secret, or neither", file=sys.stderr)
        return 2
    generated = not args.api_key
    key, secret = (args.api_key, args.api_secret) if not generated else ex.new_demo_credentials()
    balances = dict(args.balance) if args.balance else dict(DEFAULT_BALANCES)
    try:
        passphrase = secret[:16] if venue == "okx" else ""   # OKX keys come with a passphrase
        ex.create_account(key, secret, balances=balances, futures_balances={"USDT": args.futures_balance},
                          passphrase=passphrase)
        for spec in args.ed25519_account:
            ed_key, sep, pem_file = spec.partition("=")
            if not sep or not ed_key or not pem_file:
                raise ValueError(f"--ed25519-account wants KEY=PEMFILE, not {spec!r}")
            with open(pem_file, "rb") as f:
                public_pem = f.read()
            ex.create_account(ed_key, "", balances=dict(balances), futures_balances={"USDT": args.futures_balance},
                              ed25519_public_key=public_pem)
    except (ValueError, OSError) as e:
        print(f"hbconnect sim: {e}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):   # not on this platform / thread
            pass
    async with ex:
        w = out.write
        if venue == "binance":
            w("hbconnect embedded exchange (Binance protocol) on 127.0.0.1\n")
            w(f"  spot     REST {ex.spot_rest_url}    WS {ex.spot_ws_url}/ws/<stream>  {ex.spot_ws_url}/stream?streams=...\n")
            if ex.perp_pairs:
                w(f"  futures  REST {ex.futures_rest_url}    WS {ex.futures_ws_url}/ws/<stream>\n")
        else:
            front = ex.front(venue)
            w(f"hbconnect embedded exchange ({VENUE_LABELS[venue]} protocol) on 127.0.0.1\n")
            w(f"  REST {front.rest_url}    WS " + "  ".join(front.ws_url + p for p in WS_PATHS[venue]) + "\n")
        w(f"  spot pairs: {', '.join(ex.pairs) or '-'}    perpetuals: {', '.join(ex.perp_pairs) or '-'}\n")
        w(f"  demo account: API key {key}\n")
        if generated:
            w(f"  API secret {secret}\n")
            if passphrase:
                w(f"  passphrase {passphrase}\n")
            w("  (a generated credential for this local simulator only, shown once; it is worthless elsewhere)\n")
        else:
            w("  API secret: the one you passed with --api-secret (not shown)\n")
        w("  balances: " + ", ".join(f"{a} {v}" for a, v in balances.items())
          + f"; futures wallet USDT {args.futures_balance}\n")
        if args.fault:
            w("  faults: " + ", ".join(args.fault) + "\n")
        w("Ctrl-C to stop.\n" if args.duration is None else f"running for {args.duration:g} s\n")
        out.flush()
        try:
            await asyncio.wait_for(stop.wait(), args.duration)
        except asyncio.TimeoutError:
            pass
    out.write("embedded exchange stopped\n")
    out.flush()
    return 0


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    try:
        return run_loop(_serve(args))
    except OSError as e:     # e.g. port already in use
        print(f"hbconnect sim: cannot start: {e}", file=sys.stderr)
        return 1
